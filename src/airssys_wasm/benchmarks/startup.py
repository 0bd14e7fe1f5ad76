"""Startup: what ``import airssys_wasm`` and ``airssys-wasm --help`` cost in a fresh process.

Every figure comes from a new interpreter (the module cache of the measuring process would
hide everything). The imports are timed inside that interpreter, around the ``import``
statement alone, so interpreter start-up noise stays out; ``--help`` is the wall-clock time of
the whole command, as a user at a shell pays it, next to a bare ``python -c pass`` (the floor
no command can beat). The reference is ``import wasmtime`` timed the same way: the engine
binding every component-running program must load anyway.

Rows give the median of ``N`` fresh processes and, below each, the minimum (the least
disturbed run on a shared box). One warm-up run per statement first, so bytecode caches are
written before anything is timed.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

from airssys_wasm.benchmarks.timing import Comparison

__all__ = ["IMPORT_BUDGET_NS", "TITLE", "import_ns", "run", "wall_ns"]

TITLE = "Startup: package import and `airssys-wasm --help` (vs import wasmtime)"

#: The issue's goal for ``import airssys_wasm``.
IMPORT_BUDGET_NS = 80e6

_TIMED_IMPORT = ("import time; t = time.perf_counter_ns(); {stmt}; "
                 "print(time.perf_counter_ns() - t)")


def import_ns(stmt: str, runs: int) -> list[float]:
    """Nanoseconds of ``stmt`` (an import) in each of ``runs`` fresh interpreters."""
    code = _TIMED_IMPORT.format(stmt=stmt)
    samples = []
    for _ in range(runs + 1):  # the first run writes the bytecode caches; it is not counted
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=120, check=True)
        samples.append(float(done.stdout.strip().splitlines()[-1]))
    return samples[1:]


def wall_ns(argv: list[str], runs: int) -> list[float]:
    """Wall-clock nanoseconds of running ``argv`` to its end, ``runs`` times (after a warm-up)."""
    samples = []
    for _ in range(runs + 1):
        start = time.perf_counter_ns()
        subprocess.run(argv, capture_output=True, timeout=120, check=True)
        samples.append(float(time.perf_counter_ns() - start))
    return samples[1:]


def _pair(name: str, ours: list[float], baseline: str, base: list[float] | None,
          runs: int) -> list[Comparison]:
    return [
        Comparison(f"{name} (median of {runs})", statistics.median(ours), baseline,
                   None if base is None else statistics.median(base)),
        Comparison("  min", min(ours), baseline, None if base is None else min(base)),
    ]


def run(*, repeat: int = 5, min_seconds: float = 0.1) -> list[Comparison]:
    """``min_seconds`` below 0.1 selects fewer fresh processes (quick mode)."""
    runs = 5 if min_seconds < 0.1 else max(15, 3 * repeat)
    wasmtime = import_ns("import wasmtime", runs)
    package = import_ns("import airssys_wasm", runs)
    host = import_ns("from airssys_wasm import Host", runs)
    python = [sys.executable]
    help_wall = wall_ns(python + ["-m", "airssys_wasm.cli", "--help"], runs)
    wasmtime_wall = wall_ns(python + ["-c", "import wasmtime"], runs)
    floor = wall_ns(python + ["-c", "pass"], runs)
    return [
        *_pair("import airssys_wasm, fresh process", package, "import wasmtime", wasmtime, runs),
        Comparison("  same, vs the goal", statistics.median(package), "budget 80 ms",
                   IMPORT_BUDGET_NS, target=True),
        *_pair("from airssys_wasm import Host (what a host program loads)", host,
               "import wasmtime", wasmtime, runs),
        *_pair("airssys-wasm --help, whole process", help_wall,
               "python -c 'import wasmtime', whole process", wasmtime_wall, runs),
        *_pair("python -c pass (the interpreter's floor)", floor, "-", None, runs),
    ]
