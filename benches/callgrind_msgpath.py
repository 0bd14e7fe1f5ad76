"""Callgrind workloads of the message path (BENCHMARKS.md, "Message path"):
`python benches/callgrind_msgpath.py router N` runs N router sends (bench_router's loop),
`... c2c N` one component -> component burst of N messages (bench_c2c without a deadline),
`... wake N` N Host.send round robin over 20 echo actors in batches of 20 (every message wakes
its own actor; 20, because each instance reserves ~4 GiB of address space and valgrind's is
smaller than the kernel's), `... spawn N` N `Host.spawn` of `echo` after three warm-up spawns,
GC off, on an engine with 1 MiB memory reservations (so that hundreds fit in valgrind's address
space; read the main thread's count: `--separate-threads=yes`, file `-01`).
Per-message instructions = (I(N1) - I(N0)) / (N1 - N0) over two `valgrind --tool=callgrind` runs
(PYTHONHASHSEED=0, `--smc-check=all-non-file` for the c2c run)."""
import asyncio, sys
from airssys_wasm.benchmarks import host as hb
from airssys_wasm.actor import Mailbox
from airssys_wasm._fast._router import Router
what, n = sys.argv[1], int(sys.argv[2])
def router_loop(n):
    router = Router()
    box = Mailbox(1024)
    for i in range(1000):
        router.add(f"c{i}", box if i == 500 else Mailbox(4), None)
    send, drain, frame = router.send, box.drain, hb.FRAME
    for _ in range(n // 512):
        for _ in range(512):
            send("c500", None, frame)
        drain(512)
if what == "router":
    router_loop(n)
elif what == "spawn":
    import gc
    from dataclasses import dataclass
    from airssys_wasm.benchmarks import guests
    from airssys_wasm.host import Host, HostConfig
    from airssys_wasm.runtime import Engine, EngineConfig

    @dataclass(frozen=True)
    class SmallReservations(EngineConfig):
        def to_wasmtime(self):
            cfg = super().to_wasmtime()
            cfg.memory_reservation = 1 << 20
            cfg.memory_guard_size = 64 << 10
            return cfg

    async def spawns():
        engine = Engine(SmallReservations(async_stack_bytes=768 * 1024))
        async with Host(HostConfig(health=None), engine=engine) as host:
            echo = guests.path("echo")
            for i in range(3):
                await host.spawn(f"warm{i}", echo)
            gc.collect()
            gc.disable()
            for i in range(n):
                await host.spawn(f"c{i}", echo)
            await asyncio.sleep(0)
        engine.close()
    asyncio.run(spawns())
elif what == "wake":
    from airssys_wasm.benchmarks import guests, scaling
    from airssys_wasm.host import Host, HostConfig
    from airssys_wasm.runtime import Engine, Limits

    async def wake():
        config = HostConfig(health=None, limits=Limits(timeout_ms=None))
        async with Host(config, engine=Engine()) as host:
            echo = guests.path("echo")
            fanout = scaling._Fanout(host, [await host.spawn(f"a{i}", echo) for i in range(20)])
            for _ in range(n // 20):
                await fanout.batch(20)
    asyncio.run(wake())
else:
    from airssys_wasm.runtime import Engine
    engine = Engine()
    import struct
    from airssys_wasm.benchmarks import guests
    from airssys_wasm.host import Host, HostConfig
    from airssys_wasm.runtime import Limits

    async def c2c():  # bench_c2c with no deadline (valgrind runs ~50x slower)
        config = HostConfig(health=None, capacity=max(1024, n), limits=Limits(timeout_ms=None))
        async with Host(config, engine=engine) as host:
            pingpong = guests.path("pingpong")
            await host.spawn("a", pingpong)
            b = await host.spawn("b", pingpong)
            op = b"brst" + struct.pack("<I", n) + b"b"
            sent = struct.unpack("<I", await host.request("a", op, timeout=6000))[0]
            while b.stats.messages_out < n:
                await asyncio.sleep(0)
            assert sent == n
    asyncio.run(c2c())
    engine.close()
