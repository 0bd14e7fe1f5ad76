"""Side by side in one process: the fast call path vs wasmtime-py, same guests, same Store kinds.

Run: ``python benches/compare_fast.py`` (add ``--quick`` for a smoke run). Prints µs per call
(median (best) of 7 repeats, ratio of medians) and the speed-up ratio for each case, and checks the issue's targets.
"""

from __future__ import annotations

import os
import platform
from functools import partial as p
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fast_setup import SENDER, Guests, per_call_us  # noqa: E402

LOG_BATCH = 1000  # host calls per guest call in the guest->host case


def main(quick: bool = False) -> int:
    g = Guests()
    scale = 10 if quick else 1
    small, big = b"x" * 16, bytes(range(256)) * 16
    cases = [
        ("component add(u32,u32)", p(g.fast_add, 1, 2), g.slow_add, 20000, 2000, 1),
        ("handle-message 16 B", p(g.fast_hm, SENDER, small), p(g.slow_hm, small), 20000, 1000, 1),
        ("handle-message 4 KiB", p(g.fast_hm, SENDER, big), p(g.slow_hm, big), 2000, 20, 1),
        ("guest->host log (per host call)", p(g.fast_log_loop, LOG_BATCH),
         p(g.slow_log_loop, LOG_BATCH), 20, 2, LOG_BATCH),
        ("core-ABI lane 16 B", p(g.lane.handle, b"producer", small),
         p(g.slow_lane, b"producer", small), 50000, 5000, 1),
        ("core-ABI lane 4 KiB", p(g.lane.handle, b"producer", big),
         p(g.slow_lane, b"producer", big), 50000, 2000, 1),
    ]
    print(f"# fast path vs wasmtime-py — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"# {platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} cores, "
          f"{platform.machine()}; median (best) of 7 repeats, ratio of medians")
    print(f"{'case':32} {'fast µs (best)':>16} {'wasmtime-py µs (best)':>23} {'ratio':>7}")
    results = {}
    for name, fast, slow, n_fast, n_slow, per in cases:
        fast_med, fast_best = (x / per for x in per_call_us(fast, max(1, n_fast // scale)))
        slow_med, slow_best = (x / per for x in per_call_us(slow, max(1, n_slow // scale)))
        results[name] = (fast_med, slow_med)
        print(f"{name:32} {fast_med:8.3f} ({fast_best:5.3f}) {slow_med:13.2f} ({slow_best:7.2f}) "
              f"{slow_med / fast_med:6.1f}x")
    hm_fast, hm_slow = results["handle-message 16 B"]
    log_fast, log_slow = results["guest->host log (per host call)"]
    checks = [
        ("handle-message 16 B <= 1.5 µs", hm_fast <= 1.5),
        ("handle-message 16 B >= 20x wasmtime-py", hm_slow / hm_fast >= 20),
        ("guest->host <= 2 µs", log_fast <= 2.0),
        ("guest->host >= 10x wasmtime-py", log_slow / log_fast >= 10),
    ]
    for label, ok in checks:
        print(f"target {label}: {'met' if ok else 'MISSED'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(quick="--quick" in sys.argv))
