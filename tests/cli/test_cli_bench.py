"""`airssys-wasm bench`: every suite runs from the installed package and BENCHMARKS.md has its
section."""

from __future__ import annotations

import re

import pytest

from airssys_wasm.benchmarks import SUITE_NAMES, suite
from cli_helpers import ROOT, invoke


def test_bench_markdown_section_for_a_suite() -> None:
    result = invoke("bench", "--compare", "--markdown", "--quick", "--suite", "runtime")
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.startswith(f"## {suite('runtime').TITLE}\n")
    assert "`airssys-wasm bench --compare --markdown --suite runtime` — " in out
    rows = [line for line in out.splitlines() if line.startswith("| handle-message 16 B")]
    assert len(rows) == 2 and all(re.search(r"\| \d+\.\dx \|$", row) for row in rows)


@pytest.mark.parametrize("name", ["runtime", "host", "security"])
def test_ported_suites_measure_ours_and_the_baseline(name: str) -> None:
    rows = suite(name).run(repeat=1, min_seconds=0.001)
    assert rows and all(row.ours_ns > 0 for row in rows)
    compared = [row for row in rows if row.baseline_ns is not None]
    assert compared and all(row.ratio is not None and row.ratio > 0 for row in compared)


def test_benchmarks_md_has_a_section_per_suite() -> None:
    text = (ROOT / "BENCHMARKS.md").read_text()
    for name in SUITE_NAMES:
        assert f"## {suite(name).TITLE}\n" in text, name
        assert f"`airssys-wasm bench --compare --markdown --suite {name}`" in text, name
    for merged in ("actor", "runtime", "host", "security"):  # their notes live in BENCHMARKS.md
        assert not (ROOT / "benches" / f"results-{merged}.md").exists()


def test_unknown_suite_name_in_python() -> None:
    with pytest.raises(ValueError, match="choose one of"):
        suite("nope")
