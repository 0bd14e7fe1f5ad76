"""The actor layer's wake-up cost with no guest: `python benches/ready_pass.py [N ...]`.

For each actor count N (default 10, 1,000, 10,000, 50,000) one `ActorSystem` of plain-handler
actors gets batches of 1,000 `try_send`s round robin (so with N ≥ 1,000 every message wakes
its own actor), then one loop pass (`asyncio.sleep(0)`) runs the system's ready pass. Prints
the best ns per message of the sends and of the pass over 25 batches (after 5 warm-up ones)."""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

from airssys_wasm.actor import Actor, ActorSystem


class Nop(Actor):
    def handle(self, message: Any) -> None:
        return None


async def measure(n: int) -> tuple[float, float]:
    async with ActorSystem() as system:
        refs = [await system.spawn(Nop, f"a{i}") for i in range(n)]
        cursor = 0
        samples = []
        for _ in range(30):
            batch = [refs[(cursor + k) % n].try_send for k in range(1000)]
            cursor += 1000
            start = time.perf_counter_ns()
            for send in batch:
                send((None, b"x"))
            sent = time.perf_counter_ns()
            await asyncio.sleep(0)
            samples.append(((sent - start) / 1000, (time.perf_counter_ns() - sent) / 1000))
        samples = samples[5:]
        for ref in refs:
            assert ref.stats.messages_out == ref.stats.messages_in, "a message was not handled"
        return min(a for a, _ in samples), min(b for _, b in samples)


def main() -> None:
    for n in [int(a) for a in sys.argv[1:]] or [10, 1000, 10_000, 50_000]:
        send, ready = asyncio.run(measure(n))
        print(f"{n:>6} actors: send {send:.0f} ns/msg, ready pass {ready:.0f} ns/msg")


if __name__ == "__main__":
    main()
