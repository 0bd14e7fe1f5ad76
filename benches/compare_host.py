"""Side by side, in one process: messages/s into a WebAssembly component

* through ``Host.send`` (validate in C, route, mailbox, batch drain, ``handle-message``),
* (a) calling wasmtime-py's ``handle-message`` directly per message (plain
  ``wasmtime.component`` API, no airssys at all),
* (b) a Pykka ``ThreadingActor`` wrapping the same wasmtime-py call (``tell`` per message),

plus component -> component messages through the host (guest ``send-message`` -> host function ->
policy -> Cython router -> target mailbox -> target's ``handle-message``), the router's own
validate + lookup + enqueue cost, and N component actors spawned in one host (time, RSS).

The guest is ``examples/wat/minimal.wat`` (handle-message only) for the three-way comparison
and ``pingpong.wat`` for component -> component. Best of ``--repeat`` runs.

Run: python benches/compare_host.py [--messages 2000] [--c2c 2000] [--spawn 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import resource
import struct
import sys
import time
from importlib.metadata import version
from pathlib import Path

import pykka
import wasmtime
from wasmtime import component as wc

from airssys_wasm import Host, HostConfig
from airssys_wasm._fast._router import Router
from airssys_wasm.actor import Mailbox
from airssys_wasm.runtime import Engine, EngineConfig

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "wat"
MINIMAL = EXAMPLES / "minimal.wat"
PINGPONG = EXAMPLES / "pingpong.wat"
LIFECYCLE = "airssys:core/component-lifecycle@1.0.0"
FRAME = b"\x55" + b"x" * 15  # a 16-byte raw frame
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * PAGE


# -- (a) bare wasmtime-py ---------------------------------------------------------------------------
def bare_handle_message() -> tuple[wasmtime.Store, wc.Func, wc.Record]:
    engine = wasmtime.Engine(wasmtime.Config())
    component = wc.Component(engine, wasmtime.wat2wasm(MINIMAL.read_text()))
    store = wasmtime.Store(engine)
    instance = wc.Linker(engine).instantiate(store, component)
    root = component.get_export_index(LIFECYCLE)
    func = instance.get_func(store, component.get_export_index("handle-message", root))
    sender = wc.Record()
    for key, value in (("namespace", "airssys"), ("name", "host"), ("version", "")):
        setattr(sender, key, value)
    return store, func, sender


def bench_bare(n: int) -> float:
    store, func, sender = bare_handle_message()
    start = time.perf_counter()
    for _ in range(n):
        func(store, sender, FRAME)
    return n / (time.perf_counter() - start)


# -- (b) Pykka actor wrapping wasmtime-py ------------------------------------------------------------
class WasmActor(pykka.ThreadingActor):
    def __init__(self) -> None:
        super().__init__()
        self.store, self.func, self.sender = bare_handle_message()

    def on_receive(self, message: object) -> object:
        if message == "sync":
            return "done"
        self.func(self.store, self.sender, message)
        return None


def bench_pykka(n: int) -> float:
    ref = WasmActor.start()
    try:
        start = time.perf_counter()
        for _ in range(n):
            ref.tell(FRAME)
        ref.ask("sync")
        return n / (time.perf_counter() - start)
    finally:
        ref.stop()


def bench_instance(engine: Engine, n: int) -> float:
    """The runtime layer alone (Instance.handle_message in a loop): Host.send minus this is
    what the host layer (mailbox, batch drain, routing) adds per message."""
    instance = engine.load(MINIMAL).instantiate()
    sender = HostConfig().host_id
    start = time.perf_counter()
    for _ in range(n):
        instance.handle_message(sender, FRAME)
    return n / (time.perf_counter() - start)


# -- ours ------------------------------------------------------------------------------------------
async def bench_host_send(engine: Engine, n: int) -> float:
    async with Host(HostConfig(health=None), engine=engine) as host:
        ref = await host.spawn("m", MINIMAL)
        send = host.send
        start = time.perf_counter()
        for _ in range(n):
            await send("m", FRAME)
        while ref.stats.messages_out < n:
            await asyncio.sleep(0)
        return n / (time.perf_counter() - start)


async def bench_c2c(engine: Engine, n: int) -> float:
    async with Host(HostConfig(health=None, capacity=max(1024, n)), engine=engine) as host:
        await host.spawn("a", PINGPONG)
        b = await host.spawn("b", PINGPONG)
        op = b"brst" + struct.pack("<I", n) + b"b"
        start = time.perf_counter()
        sent = struct.unpack("<I", await host.request("a", op, timeout=600))[0]
        while b.stats.messages_out < n:
            await asyncio.sleep(0)
        assert sent == n
        return n / (time.perf_counter() - start)


def bench_router(n: int = 512, rounds: int = 2000) -> float:
    """ns per validate + lookup + enqueue, 1,000 routes, drained every 512 messages."""
    router = Router()
    box = Mailbox(1024)
    for i in range(1000):
        router.add(f"c{i}", box if i == 500 else Mailbox(4), None)
    send, drain = router.send, box.drain
    start = time.perf_counter_ns()
    for _ in range(rounds):
        for _ in range(n):
            send("c500", None, FRAME)
        drain(n)
    total = time.perf_counter_ns() - start
    start = time.perf_counter_ns()
    for _ in range(rounds):
        for _ in range(n):
            pass
        drain(n)
    return (total - (time.perf_counter_ns() - start)) / (n * rounds)


async def bench_spawn(engine: Engine, count: int) -> tuple[float, float, float]:
    """(seconds to spawn ``count`` minimal components, RSS MiB added, RSS KiB per component)."""
    gc.collect()
    async with Host(HostConfig(health=None), engine=engine) as host:
        host.load(MINIMAL)  # compile outside the timed part
        before = rss()
        start = time.perf_counter()
        for i in range(count):
            await host.spawn(f"c{i}", MINIMAL)
        elapsed = time.perf_counter() - start
        added = rss() - before
        for i in range(count):  # and every one of them answers
            host.try_send(f"c{i}", FRAME)
        while any(host.ref(f"c{i}").stats.messages_out < 1 for i in range(0, count, 97)):
            await asyncio.sleep(0.001)
    return elapsed, added / 2**20, added / count / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--c2c", type=int, default=2000)
    parser.add_argument("--spawn", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    n, r = args.messages, args.repeat
    engine = Engine(EngineConfig())
    host_send = max(asyncio.run(bench_host_send(engine, n)) for _ in range(r))
    runtime_only = max(bench_instance(engine, n) for _ in range(r))
    bare = max(bench_bare(n) for _ in range(r))
    pyk = max(bench_pykka(n) for _ in range(r))
    c2c = max(asyncio.run(bench_c2c(engine, args.c2c)) for _ in range(r))
    router_ns = min(bench_router() for _ in range(r))
    print(f"python {sys.version.split()[0]}, wasmtime {version('wasmtime')}, "
          f"pykka {version('pykka')}, {os.cpu_count()} cpus")
    print(f"\n16-byte frame into minimal.wat handle-message, {n} messages, best of {r}:\n")
    print("| path | messages/s | µs/message | Host.send vs it |")
    print("|---|---:|---:|---:|")
    for label, rate in (("Host.send (airssys)", host_send),
                        ("airssys runtime Instance.handle_message loop (no host)", runtime_only),
                        ("(a) wasmtime-py direct call", bare),
                        ("(b) Pykka actor + wasmtime-py", pyk)):
        print(f"| {label} | {rate:,.0f} | {1e6 / rate:.1f} | {host_send / rate:.2f}x |")
    print(f"\nhost layer overhead per message (Host.send - runtime loop): "
          f"{1e6 / host_send - 1e6 / runtime_only:.1f} µs")
    print(f"\ncomponent -> component through the host (pingpong brst, {args.c2c} messages): "
          f"{c2c:,.0f} messages/s ({1e6 / c2c:.1f} µs/message)")
    print(f"router validate + lookup + enqueue (Cython, called from Python): {router_ns:.0f} ns")
    if args.spawn:
        elapsed, added_mib, per_kib = asyncio.run(bench_spawn(engine, args.spawn))
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"\nspawn {args.spawn} minimal components: {elapsed:.2f} s "
              f"({elapsed / args.spawn * 1e6:.0f} µs each), RSS +{added_mib:.0f} MiB "
              f"({per_kib:.1f} KiB each), peak RSS {peak:.0f} MiB")
    engine.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
