"""How long the event loop goes without a turn while a host compiles a new guest.

`python benches/compile_gap.py [FUNCTIONS ...]` (default 800 3000): for each size, the minimal
guest padded with that many functions (``benchmarks.guests.padded``) is compiled once on a
scratch engine (the compile time), then spawned into a host that runs pingpong while a 1 ms
ticker records the gaps between its turns. A compile on the loop makes one gap as long as the
compile; ``Host.prepare`` runs it in a worker thread (BENCHMARKS.md, "Compiles off the loop").
The baseline in the same process: the synchronous ``Host.load`` of a guest one function bigger
(not cached), which is what ``spawn`` did before, on the loop.
"""
import asyncio
import sys
import time
from typing import Any

import airssys_wasm as aw
from airssys_wasm.benchmarks import guests
from airssys_wasm.runtime import EngineConfig


async def one(functions: int) -> None:
    big = guests.padded(guests.path("minimal"), functions)
    with aw.Engine(EngineConfig(epoch_interruption=True)) as scratch:
        started = time.perf_counter()
        scratch.load(big)
        compile_s = time.perf_counter() - started
    async with aw.Host(aw.HostConfig(health=None)) as host:
        await host.spawn("pp", guests.path("pingpong"))
        loop = asyncio.get_running_loop()
        gaps: list[float] = []

        async def tick() -> None:
            last = loop.time()
            while True:
                await asyncio.sleep(0.001)
                now = loop.time()
                gaps.append(now - last)
                last = now

        async def longest_gap(work: Any) -> tuple[float, int]:
            gaps.clear()
            ticker = asyncio.create_task(tick())
            await asyncio.sleep(0.005)  # the ticker runs
            await work()
            await asyncio.sleep(0.005)  # the ticker records the gap the work left
            ticker.cancel()
            return max(gaps), len(gaps)

        async def on_loop() -> None:
            host.load(baseline)

        baseline = guests.padded(guests.path("minimal"), functions + 1)
        ours, turns = await longest_gap(lambda: host.spawn("big", big))
        theirs, _ = await longest_gap(on_loop)
    print(f"{functions} functions ({compile_s * 1e3:.0f} ms of compile): longest loop gap "
          f"{ours * 1e3:.1f} ms during spawn ({turns} turns), {theirs * 1e3:.0f} ms with the "
          f"compile on the loop: {theirs / ours:.0f}x")


for n in [int(a) for a in sys.argv[1:]] or [800, 3000]:
    asyncio.run(one(n))
