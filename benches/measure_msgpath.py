"""Wall-time figures of the message path (BENCHMARKS.md, "Message path"):
`python benches/measure_msgpath.py router c2c mem rr` (RR=10,1000,10000 picks the actor counts
of the round robin, REP the repeats)."""

from __future__ import annotations

import asyncio
import os
import sys
import tracemalloc

from airssys_wasm.benchmarks import host as hb
from airssys_wasm.runtime import Engine


def main() -> None:
    what = sys.argv[1:] or ["router", "c2c", "rr"]
    engine = Engine()
    if "router" in what:
        print("router ns/op", min(hb.bench_router(rounds=2000) for _ in range(5)))
    if "c2c" in what:
        n = 5000
        print("c2c ns/msg", min(asyncio.run(hb.bench_c2c(engine, n)) for _ in range(3)) / n * 1e9)
    if "rr" in what:
        for a in [int(x) for x in os.environ.get("RR", "10,100,1000,10000").split(",")]:
            runs = int(os.environ.get("REP", "2"))
            print(f"rr {a} actors ns/msg",
                  min(asyncio.run(hb.bench_round_robin(engine, a, 20000)) for _ in range(runs)))
    if "mem" in what:
        from airssys_wasm.actor import Mailbox
        tracemalloc.start()
        boxes = [Mailbox(1024) for _ in range(1000)]
        print(f"{len(boxes)} empty Mailbox(1024): bytes each",
              tracemalloc.get_traced_memory()[0] / len(boxes))
    engine.close()


if __name__ == "__main__":
    main()
