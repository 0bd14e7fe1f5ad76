"""Round robin with garbage-collection time per generation (BENCHMARKS.md, "Message path").

`python benches/gc_round_robin.py 10 10000` runs the host suite's ``bench_round_robin`` over
each actor count and prints ns per message and the share of the run spent collecting: at 10k
actors full collections over every actor's objects are a large part of the cost.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import time
from typing import Any

from airssys_wasm.benchmarks.host import bench_round_robin
from airssys_wasm.runtime import Engine

MESSAGES = 20_000


def main(counts: list[int]) -> None:
    engine = Engine()
    spent = {0: 0.0, 1: 0.0, 2: 0.0}
    started = [0.0]

    def on_gc(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            spent[info["generation"]] += time.perf_counter() - started[0]

    for actors in counts:
        spent.update({0: 0.0, 1: 0.0, 2: 0.0})
        gc.callbacks.append(on_gc)
        wall = time.perf_counter()
        try:
            ns = asyncio.run(bench_round_robin(engine, actors, MESSAGES))
        finally:
            gc.callbacks.remove(on_gc)
        wall = time.perf_counter() - wall  # includes spawning: the share is an upper bound
        shares = ", ".join(f"gen{g} {s / wall:.1%}" for g, s in spent.items())
        print(f"{actors} actors: {ns:.0f} ns/message; GC share of the run: {shares}")
    engine.close()


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [10, 10_000])
