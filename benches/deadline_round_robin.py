"""Issue 17 repro: traps (by kind) and restarts during Host.send round robin over many echo
actors, and the scheduler's slice/expiry counters: `python benches/deadline_round_robin.py 10000`.
Before the fix, trivial calls that yielded at a slice end and queued behind the other actors'
messages for over their 1000 ms trapped with kind timeout."""
import asyncio, sys, time
from airssys_wasm.benchmarks import guests
from airssys_wasm.host import Host, HostConfig
from airssys_wasm.runtime import Engine

FRAME = b"\x55" + b"x" * 15


async def run(engine, actors, rounds):
    async with Host(HostConfig(health=None), engine=engine) as host:
        echo = guests.path("echo")
        host.load(echo)
        refs = [await host.spawn(f"a{i}", echo) for i in range(actors)]
        names = [r.name for r in refs]
        t = time.perf_counter()
        for _ in range(rounds):
            for n in names:
                await host.send(n, FRAME)
        end = time.monotonic() + 60
        while (sum(r.stats.messages_out + r.stats.failures for r in refs) < actors * rounds
               and time.monotonic() < end):
            await asyncio.sleep(0.01)
        el = time.perf_counter() - t
        restarts = sum(r.stats.restarts for r in refs)
        failures = sum(r.stats.failures for r in refs)
        sched = host.system.scheduler.stats if hasattr(host.system, "scheduler") else None
        print(f"{actors} actors x {rounds}: {el / (actors * rounds) * 1e9:.0f} ns/msg, "
              f"failures {failures}, restarts {restarts}, scheduler {sched}")


with Engine() as engine:
    for a in map(int, sys.argv[1:]):
        asyncio.run(run(engine, a, 5))
