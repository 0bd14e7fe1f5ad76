"""The lattice benchmark suite (issue 14) in its quick mode: every row is measured against a
real nats-server (figures positive, references beside them), and without nats-py or a
nats-server the suite says what to install instead of failing. Speed is not asserted here."""

from __future__ import annotations

import math
import sys
import traceback

import pytest
from click.testing import CliRunner

from airssys_wasm.benchmarks import SUITE_NAMES, suite
from airssys_wasm.cli.main import main

#: The rows the suite reports, by the start of their name, and whether each is a target row.
ROWS = [
    ("cross-node frames, 2,000 x 16 B n1 -> component on n2, packed", False),
    ("  n2 in a process of its own: published + acked", False),
    ("  n2 in a process of its own: delivered + handled", False),
    ("  delivered + handled, both nodes in one process: issue 14 target 200k frames/s", True),
    ("  delivered + handled, n2 in its own process: issue 14 target 200k frames/s", True),
    ("cross-node request n1 -> echo on n2: p50", False),
    ("cross-node request n1 -> echo on n2: p99", False),
    ("  request p50: issue 14 target", True),
    ("failover: node SIGKILLed -> survivor answers for its component (mean of 1)", False),
    ("failover: slowest of 1", False),
    ("  failover mean: issue 14 target", True),
    ("local hop: Host.send to a component on the same node, lattice attached", False),
    ("  local hop with a lattice: issue 14 target", True),
]


def test_lattice_is_the_last_suite() -> None:
    assert SUITE_NAMES[-1] == "lattice"


def test_quick_run_measures_every_row_beside_its_reference() -> None:
    rows = suite("lattice").run(repeat=1, min_seconds=0.001)
    assert len(rows) == 14
    for prefix, target in ROWS:
        found = [row for row in rows if row.name.startswith(prefix)]
        assert found, (prefix, [row.name for row in rows])
        for row in found:
            assert row.target is target, row
            assert math.isfinite(row.ours_ns) and row.ours_ns > 0, row
            assert row.baseline_ns is not None and math.isfinite(row.baseline_ns) \
                and row.baseline_ns > 0, row
            if target:
                assert row.verdict in ("met", "missed"), row
            else:
                assert row.ratio is not None and row.ratio > 0, row
    # Both frame rows: published + acked and delivered + handled, each with its rate.
    frames = [row for row in rows if row.name.startswith(ROWS[0][0])]
    assert [("published + acked" in r.name, "delivered + handled" in r.name) for r in frames] \
        == [(True, False), (False, True)]
    apart = [row for row in rows if row.name.startswith("  n2 in a process of its own")]
    assert all(r.name.endswith(" frames/s)") for r in frames + apart)
    # One clock: "handled on n2" is read after n1's flush() returned, so it is never earlier.
    assert frames[1].ours_ns >= frames[0].ours_ns


def test_markdown_section_from_the_cli() -> None:
    result = CliRunner().invoke(main, ["bench", "--compare", "--markdown", "--quick",
                                       "--suite", "lattice"])
    assert result.exit_code == 0, result.output + "".join(
        traceback.format_exception(*result.exc_info) if result.exc_info else ())
    assert result.output.startswith(f"## {suite('lattice').TITLE}\n")
    assert "| cross-node request n1 -> echo on n2: p50 (50 requests) |" in result.output
    assert result.output.count("| met |") + result.output.count("| missed |") == 5
    assert "| n/a |" not in result.output


def test_without_nats_py_the_suite_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "nats", None)  # as if nats-py were not installed
    [row] = suite("lattice").run(repeat=1, min_seconds=0.001)
    assert row.name == "lattice suite skipped" and row.verdict == "n/a"
    assert row.baseline == "nats-py is not installed: pip install 'airssys-wasm[lattice]'"


def test_without_a_nats_server_the_suite_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRSSYS_NATS_SERVER", "/nonexistent/nats-server")
    [row] = suite("lattice").run(repeat=1, min_seconds=0.001)
    assert row.name == "lattice suite skipped" and row.verdict == "n/a"
    assert "nats-server '/nonexistent/nats-server'" in row.baseline
    assert "pip install 'airssys-wasm[lattice]'" in row.baseline
