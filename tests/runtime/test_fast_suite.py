"""The packaged fast-path benchmark suite runs end to end (its guests load, link and answer)."""

from __future__ import annotations

from airssys_wasm.benchmarks import fast


def test_fast_suite_measures_every_row_against_wasmtime_py() -> None:
    rows = fast.run(repeat=1, min_seconds=0.001)
    assert [row.name for row in rows] == [
        "component add(u32,u32)", "runtime handle_message 16 B", "runtime handle_message 4 KiB",
        f"guest->host log (per call, {fast.LOGS} per message)", "runtime core-ABI lane 16 B",
        "runtime core-ABI lane 4 KiB"]
    assert all(row.ours_ns > 0 and row.baseline_ns and row.baseline_ns > 0 for row in rows)
    assert {row.baseline for row in rows} == {
        "wasmtime-py Func", "wasmtime-py add_func", "wasmtime-py alloc+write+handle"}
