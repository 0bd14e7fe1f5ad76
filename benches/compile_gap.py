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

import airssys_wasm as aw
from airssys_wasm.benchmarks import guests
from airssys_wasm.benchmarks.timing import loop_gaps
from airssys_wasm.runtime import EngineConfig


async def one(functions: int) -> None:
    big = guests.padded(guests.path("minimal"), functions)
    with aw.Engine(EngineConfig(epoch_interruption=True)) as scratch:
        started = time.perf_counter()
        scratch.load(big)
        compile_s = time.perf_counter() - started
    async with aw.Host(aw.HostConfig(health=None)) as host:
        await host.spawn("pp", guests.path("pingpong"))
        baseline = guests.padded(guests.path("minimal"), functions + 1)  # not compiled yet
        async with loop_gaps() as ours:
            await host.spawn("big", big)
        async with loop_gaps() as theirs:
            host.load(baseline)
    print(f"{functions} functions ({compile_s * 1e3:.0f} ms of compile): longest loop gap "
          f"{max(ours) * 1e3:.1f} ms during spawn ({len(ours)} turns), {max(theirs) * 1e3:.0f} ms "
          f"with the compile on the loop: {max(theirs) / max(ours):.0f}x")


for n in [int(a) for a in sys.argv[1:]] or [800, 3000]:
    asyncio.run(one(n))
