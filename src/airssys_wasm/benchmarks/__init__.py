"""Side-by-side benchmark suites: our fast paths against the libraries people would use instead.

Each suite runs ours and the baseline in the same process, one after the other, so machine noise
hits both; results are reported as ratios. Every suite module has a ``TITLE`` (its section in
BENCHMARKS.md) and ``run(*, repeat, min_seconds) -> list[Comparison]``; a suite that measures
scaling curves also has ``curves(*, quick) -> list[Curve]`` (``airssys-wasm bench --plot DIR``
draws them). `airssys-wasm bench` and `benches/compare_*.py` drive them.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from airssys_wasm.benchmarks.timing import (
    Comparison,
    Curve,
    Distribution,
    distribution,
    render_markdown,
    render_table,
    time_stmt,
)

__all__ = ["SUITE_NAMES", "Comparison", "Curve", "Distribution", "distribution", "suite", "time_stmt",
           "render_table", "render_markdown"]

#: Suite names, in BENCHMARKS.md order (bottom layer first).
SUITE_NAMES = ("multicodec", "actor", "fast", "runtime", "restart", "host", "security", "suspend",
               "metrics", "hostfn", "coldstart", "startup", "payload", "spawn", "scaling",
               "lattice")


def suite(name: str) -> ModuleType:
    """Import a suite module on demand (the host suite pulls in pykka, for example)."""
    if name not in SUITE_NAMES:
        raise ValueError(f"no benchmark suite {name!r}; choose one of {', '.join(SUITE_NAMES)}")
    return importlib.import_module(f"airssys_wasm.benchmarks.{name}")
