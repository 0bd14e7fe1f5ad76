"""The message paths metrics touch, timed whole: run on two checkouts to compare them.

Run: `python benches/metrics_ab.py [--rounds N]` — prints ns per message for an actor ping-pong
hop (one message per batch: one batch timer per message, the worst case), batched
enqueue+dispatch (one timer per batch of up to 64) and component -> component through the host
(one permission decision per message), best of 5 (3 for the host). BENCHMARKS.md ("Metrics")
has the figures of main's message-path files (actor/cell.py, security/policy.py, swapped in)
against the branch that added metrics.
"""

from __future__ import annotations

import argparse
import asyncio

from airssys_wasm.benchmarks.actor import best_of, ours_enqueue_dispatch, ours_ping_pong
from airssys_wasm.benchmarks.host import bench_c2c
from airssys_wasm.runtime import Engine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=20_000)
    args = parser.parse_args()
    rounds = args.rounds
    hop = best_of(5, lambda: asyncio.run(ours_ping_pong(rounds))) / rounds * 1e9
    batched = best_of(5, lambda: asyncio.run(ours_enqueue_dispatch(rounds * 10))) / (rounds * 10) * 1e9
    with Engine() as engine:
        c2c = best_of(3, lambda: asyncio.run(bench_c2c(engine, 5000))) / 5000 * 1e9
    print(f"ping-pong hop {hop:.0f} ns | enqueue+dispatch {batched:.0f} ns | "
          f"component -> component {c2c:.0f} ns")


if __name__ == "__main__":
    main()
