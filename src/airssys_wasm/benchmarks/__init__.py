"""Side-by-side benchmark suites: our fast paths against the libraries people would use instead.

Each suite runs ours and the baseline in the same process, one after the other, so machine noise
hits both; results are reported as ratios. `airssys-wasm bench` and `benches/compare_*.py` drive it.
"""

from airssys_wasm.benchmarks.timing import Comparison, render_markdown, render_table, time_stmt

__all__ = ["Comparison", "time_stmt", "render_table", "render_markdown"]
