"""Round robin with garbage-collection timing per generation: `python benches/gc_round_robin.py 10 10000`."""
import asyncio, gc, sys, time
exec(open("benches/measure_msgpath.py").read().split("def main")[0])
from airssys_wasm.runtime import Engine
engine = Engine()
stats = {0: [0, 0.0], 1: [0, 0.0], 2: [0, 0.0]}
t0 = [0.0]
def cb(phase, info):
    if phase == "start":
        t0[0] = time.perf_counter()
    else:
        s = stats[info["generation"]]; s[0] += 1; s[1] += time.perf_counter() - t0[0]
async def run(actors, msgs):
    async with Host(HostConfig(health=None), engine=engine) as host:
        minimal = guests.path("minimal")
        host.load(minimal)
        names = [f"c{i}" for i in range(actors)]
        refs = [await host.spawn(n, minimal) for n in names]
        await asyncio.sleep(0.1)
        print("objects tracked", len(gc.get_objects()))
        order = [names[i % actors] for i in range(msgs)]
        gc.callbacks.append(cb)
        t = time.perf_counter()
        for n in order:
            await host.send(n, FRAME)
        while sum(r.stats.messages_out for r in refs) < msgs:
            await asyncio.sleep(0)
        el = time.perf_counter() - t
        gc.callbacks.remove(cb)
        print(actors, "ns/msg", el / msgs * 1e9, "gc", stats, "gc share", sum(s[1] for s in stats.values()) / el)
for a in map(int, sys.argv[1:]):
    for s in stats.values(): s[:] = [0, 0.0]
    asyncio.run(run(a, 20000))
