"""Wall-time figures of the message path (BENCHMARKS.md, "Message path"):
`python benches/measure_msgpath.py router c2c mem rr` (RR=10,1000,10000 picks the actor counts
of the round robin, REP the repeats)."""
import asyncio, sys, time, struct, tracemalloc
from airssys_wasm.benchmarks import host as hb
from airssys_wasm.benchmarks import guests
from airssys_wasm.host import Host, HostConfig
from airssys_wasm.runtime import Engine

FRAME = hb.FRAME

async def rr(engine, actors, msgs):
    """ns per message: ``await host.send`` round robin over ``actors`` minimal guests, until all handled."""
    async with Host(HostConfig(health=None), engine=engine) as host:
        minimal = guests.path("minimal")
        host.load(minimal)
        names = [f"c{i}" for i in range(actors)]
        refs = [await host.spawn(n, minimal) for n in names]
        send = host.send
        for n in names:
            await send(n, FRAME)
        while sum(r.stats.messages_out for r in refs) < actors:
            await asyncio.sleep(0.01)
        order = [names[i % actors] for i in range(msgs)]
        start = time.perf_counter()
        for n in order:
            await send(n, FRAME)
        while sum(r.stats.messages_out for r in refs) < msgs + actors:
            await asyncio.sleep(0)
        return (time.perf_counter() - start) / msgs * 1e9

def main():
    what = sys.argv[1:] or ["router", "c2c", "rr"]
    engine = Engine()
    if "router" in what:
        print("router ns/op", min(hb.bench_router(rounds=2000) for _ in range(5)))
    if "c2c" in what:
        n = 5000
        print("c2c ns/msg", min(asyncio.run(hb.bench_c2c(engine, n)) for _ in range(3)) / n * 1e9)
    if "rr" in what:
        for a in [int(x) for x in __import__("os").environ.get("RR","10,100,1000,10000").split(",")]:
            print(f"rr {a} actors ns/msg", min(asyncio.run(rr(engine, a, 20000)) for _ in range(int(__import__("os").environ.get("REP", "2")))))
    if "mem" in what:
        from airssys_wasm.actor import Mailbox
        tracemalloc.start()
        boxes = [Mailbox(1024) for _ in range(1000)]
        print("1000 empty Mailbox(1024) bytes each", tracemalloc.get_traced_memory()[0] / 1000)
    engine.close()
main()
