"""Smoke run of the ``spawn`` suite in quick mode (300 spawns): its rows are there, measured, and
consistent (p50 <= p99 <= max, the floor measured beside each, budgets as targets).

The figures themselves are in BENCHMARKS.md: `airssys-wasm bench --compare --markdown --suite spawn`.
"""

from __future__ import annotations

from airssys_wasm.benchmarks import suite


def test_spawn_suite_quick_rows() -> None:
    measured = suite("spawn").run(repeat=1, min_seconds=0.001)
    rows = {row.name: row for row in measured if not row.target}
    label = "Host.spawn of echo (300 into one host)"
    mean, p50, p99, top = (rows[f"{label}: {k}"] for k in ("mean", "p50", "p99", "max"))
    assert 0 < p50.ours_ns <= p99.ours_ns <= top.ours_ns
    assert 0 < mean.ours_ns <= top.ours_ns
    # The floor is measured (not compared: on a noisy box 300 quick samples can put a stray
    # outlier in either mean).
    assert all(row.baseline_ns is not None and row.baseline_ns > 0 for row in (mean, p50, p99, top))
    probed = rows[f"{label}, default HostConfig (health probing on): mean"]
    assert probed.ours_ns > 0 and probed.baseline_ns == mean.ours_ns
    targets = {row.name: row for row in measured if row.target}
    assert len(targets) == 3 and all(row.verdict in ("met", "missed") for row in targets.values())
    total = targets["300 spawns into one host, until every actor runs"]
    assert total.ours_ns >= 300 * p50.ours_ns * 0.5 and total.baseline_ns == 0.045e9
