"""Smoke run of the scaling suite in quick mode (up to 1,000 actors, three payload sizes, short
neighbour windows): every row and every curve point is a measurement, the curves have the
shape BENCHMARKS.md draws. The figures are in BENCHMARKS.md ("Scaling"), never asserted here.

Run: python -m pytest benches/test_bench_scaling.py -q
"""

from __future__ import annotations

from airssys_wasm.benchmarks import scaling
from airssys_wasm.cli.monitor import quiet_library_logs


def test_scaling_rows_in_quick_mode() -> None:
    with quiet_library_logs():  # the spinning neighbours are cancelled on purpose
        rows = scaling.run(repeat=1, min_seconds=0.001)
    # The host's added cost is a difference of two p50s: noise could take it to 0 or below.
    assert rows and all(row.ours_ns > 0 for row in rows if "added cost" not in row.name)
    target = rows[0]
    assert target.target and target.verdict in ("met", "missed")
    assert "1,000 actors vs 10" in target.name
    counts = [row for row in rows if "round-robin over" in row.name]
    assert len(counts) == 3  # 10, 100, 1,000 in quick mode
    floors = [row for row in rows if row.name.strip().startswith("engine floor")]
    assert len(floors) == 3 and all(row.ours_ns > 0 for row in floors)
    assert rows[1].name.startswith("host's added cost") and not rows[1].target
    busy = [row for row in rows if row.name.startswith("sibling request beside")]
    assert [row.name.split()[3] for row in busy] == [str(k) for k in scaling.BUSY]


def test_scaling_curves_in_quick_mode() -> None:
    with quiet_library_logs():
        curves = {curve.name: curve for curve in scaling.curves(quick=True)}
    assert sorted(curves) == ["scaling-actors", "scaling-neighbours", "scaling-payload"]
    actors = curves["scaling-actors"].series
    for series in ("p50", "p99", "engine floor p50 (Instance.handle_message)"):
        assert [x for x, _ in actors[series]] == [10.0, 100.0, 1000.0]
    payload = curves["scaling-payload"]
    assert payload.log_x and payload.log_y and len(payload.series) == 4
    for points in payload.series.values():
        assert [x for x, _ in points] == [float(n) for n in scaling.QUICK_SIZES]
    # The component lane carries list<u8> element by element: 64 KiB costs far more than 16 B.
    lane = dict(payload.series["component lane in: handle_message(list<u8>)"])
    assert lane[65536.0] > 10 * lane[16.0]
    neighbours = curves["scaling-neighbours"]
    assert [x for x, _ in neighbours.series["p99"]] == [float(k) for k in scaling.BUSY]
    for curve in curves.values():
        for points in curve.series.values():
            assert all(y > 0 for _, y in points)
