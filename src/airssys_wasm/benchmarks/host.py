"""Messages into a WebAssembly component, side by side in one process:

* ``Host.send`` (validate in C, route, mailbox, batch drain, ``handle-message``) against
  (a) wasmtime-py's ``handle-message`` called directly per message (no airssys at all),
  (b) a Pykka ``ThreadingActor`` wrapping the same wasmtime-py call (``tell`` per message), and
  (c) the airssys runtime's ``Instance.handle_message`` in a loop (no host layer);
* component -> component through the host (guest ``send-message`` -> host function -> policy ->
  Cython router -> target mailbox -> target's ``handle-message``);
* the router's own validate + lookup + enqueue (against a dict + ``asyncio.Queue.put_nowait``
  and a dict + ``deque.append``, the same per-message work in plain Python), and spawning guests;
* ``Host.send`` round robin over 10 and 10,000 actors: the per-message cost should not grow with
  the number of actors (mailboxes that grow with what they hold, wake-ups once per batch).

Guests: the bundled ``minimal`` (handle-message only) and ``pingpong`` guests. Figures are
ns per message (per spawn for the last row), best of ``repeat`` runs.
"""

from __future__ import annotations

import asyncio
import importlib.util
import struct
import time
from collections.abc import Callable

import wasmtime
from wasmtime import component as wc

from airssys_wasm._fast._router import Router
from airssys_wasm.actor import Mailbox
from airssys_wasm.benchmarks import guests
from airssys_wasm.benchmarks.timing import Comparison, not_installed
from airssys_wasm.host import Host, HostConfig
from airssys_wasm.runtime import Engine

TITLE = "Host: messages into components, component -> component, spawn"

LIFECYCLE = "airssys:core/component-lifecycle@1.0.0"
FRAME = b"\x55" + b"x" * 15  # a 16-byte raw frame


def bare_handle_message() -> tuple[wasmtime.Store, wc.Func, wc.Record]:
    engine = wasmtime.Engine(wasmtime.Config())
    component = wc.Component(engine, wasmtime.wat2wasm(guests.text("minimal")))
    store = wasmtime.Store(engine)
    instance = wc.Linker(engine).instantiate(store, component)
    index = component.get_export_index("handle-message", component.get_export_index(LIFECYCLE))
    assert index is not None, "the minimal guest exports handle-message"
    func = instance.get_func(store, index)
    assert func is not None
    sender = wc.Record()
    for key, value in (("namespace", "airssys"), ("name", "host"), ("version", "")):
        setattr(sender, key, value)
    return store, func, sender


def bench_bare(n: int) -> float:
    """Seconds for ``n`` direct wasmtime-py calls."""
    store, func, sender = bare_handle_message()
    start = time.perf_counter()
    for _ in range(n):
        func(store, sender, FRAME)
    return time.perf_counter() - start


def bench_pykka(n: int) -> float:
    import pykka

    class WasmActor(pykka.ThreadingActor):
        def __init__(self) -> None:
            super().__init__()
            self.store, self.func, self.sender = bare_handle_message()

        def on_receive(self, message: object) -> object:
            if message == "sync":
                return "done"
            self.func(self.store, self.sender, message)
            return None

    ref = WasmActor.start()
    try:
        start = time.perf_counter()
        for _ in range(n):
            ref.tell(FRAME)
        ref.ask("sync")
        return time.perf_counter() - start
    finally:
        ref.stop()


def bench_instance(engine: Engine, n: int) -> float:
    instance = engine.load(guests.path("minimal")).instantiate()
    sender = HostConfig().host_id
    start = time.perf_counter()
    for _ in range(n):
        instance.handle_message(sender, FRAME)
    elapsed = time.perf_counter() - start
    instance.close()
    return elapsed


async def bench_host_send(engine: Engine, n: int) -> float:
    async with Host(HostConfig(health=None), engine=engine) as host:
        ref = await host.spawn("m", guests.path("minimal"))
        send = host.send
        start = time.perf_counter()
        for _ in range(n):
            await send("m", FRAME)
        while ref.stats.messages_out < n:
            await asyncio.sleep(0)
        return time.perf_counter() - start


async def bench_c2c(engine: Engine, n: int) -> float:
    async with Host(HostConfig(health=None, capacity=max(1024, n)), engine=engine) as host:
        pingpong = guests.path("pingpong")
        await host.spawn("a", pingpong)
        b = await host.spawn("b", pingpong)
        op = b"brst" + struct.pack("<I", n) + b"b"
        start = time.perf_counter()
        sent = struct.unpack("<I", await host.request("a", op, timeout=600))[0]
        while b.stats.messages_out < n:
            await asyncio.sleep(0)
        if sent != n:
            raise RuntimeError(f"pingpong accepted {sent} of {n} messages")
        return time.perf_counter() - start


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


def bench_router_baseline(kind: str, n: int = 512, rounds: int = 2000) -> float:
    """The router's work in plain Python: ns per dict lookup + ``asyncio.Queue.put_nowait``
    (``kind="asyncio"``) or + ``deque.append`` (``kind="deque"``) of a (sender, frame) tuple,
    1,000 targets, drained every 512 messages like ``bench_router``."""
    from collections import deque

    make: Callable[[], object] = asyncio.Queue if kind == "asyncio" else deque
    table = {f"c{i}": make() for i in range(1000)}
    target = table["c500"]
    if kind == "asyncio":
        assert isinstance(target, asyncio.Queue)

        def drain() -> None:
            for _ in range(target.qsize()):
                target.get_nowait()

        def send(name: str, sender: object, frame: bytes) -> None:
            table[name].put_nowait((sender, frame))  # type: ignore[attr-defined]
    else:
        assert isinstance(target, deque)
        drain = target.clear

        def send(name: str, sender: object, frame: bytes) -> None:
            table[name].append((sender, frame))  # type: ignore[attr-defined]
    start = time.perf_counter_ns()
    for _ in range(rounds):
        for _ in range(n):
            send("c500", None, FRAME)
        drain()
    total = time.perf_counter_ns() - start
    start = time.perf_counter_ns()
    for _ in range(rounds):
        for _ in range(n):
            pass
        drain()
    return (total - (time.perf_counter_ns() - start)) / (n * rounds)


async def bench_round_robin(engine: Engine, actors: int, messages: int) -> float:
    """ns per message: ``await Host.send`` round robin over ``actors`` minimal guests, until
    every message was handled. Spawning and one warm-up message per actor are outside the
    timing: an instance's first call pays page faults (its fiber stack, its linear memory) that
    belong to starting it, not to the steady state this measures."""
    async with Host(HostConfig(health=None), engine=engine) as host:
        minimal = guests.path("minimal")
        host.load(minimal)
        names = [f"c{i}" for i in range(actors)]
        refs = [await host.spawn(name, minimal) for name in names]
        order = [names[i % actors] for i in range(messages)]
        send = host.send
        for name in names:
            await send(name, FRAME)
        while any(ref.stats.messages_out < 1 for ref in refs):
            await asyncio.sleep(0)
        total = messages + actors  # the counters include the warm-up
        start = time.perf_counter()
        for name in order:
            await send(name, FRAME)
        handled = 0
        while handled < total:
            await asyncio.sleep(0)
            handled = sum(ref.stats.messages_out for ref in refs)
        return per(time.perf_counter() - start, messages)


async def bench_spawn(engine: Engine, count: int) -> float:
    """Seconds to spawn ``count`` minimal components (compiled once, outside the timing)."""
    async with Host(HostConfig(health=None), engine=engine) as host:
        minimal = guests.path("minimal")
        host.load(minimal)
        start = time.perf_counter()
        for i in range(count):
            await host.spawn(f"c{i}", minimal)
        return time.perf_counter() - start


def _best(repeat: int, fn: Callable[[], float]) -> float:
    return min(fn() for _ in range(repeat))


def per(seconds: float, count: int) -> float:
    return seconds / count * 1e9


def run(*, repeat: int = 5, min_seconds: float = 0.1) -> list[Comparison]:
    """``min_seconds`` below 0.1 selects small message counts (quick mode)."""
    quick = min_seconds < 0.1
    n = 500 if quick else 5000
    spawn = 100 if quick else 1000
    repeat = max(1, min(repeat, 3))  # whole workloads: three runs are plenty
    engine = Engine()
    try:
        host_send = per(_best(repeat, lambda: asyncio.run(bench_host_send(engine, n))), n)
        label = "Host.send -> handle-message, 16 B"
        rows = [
            Comparison(label, host_send, "wasmtime-py direct call",
                       per(_best(repeat, lambda: bench_bare(n)), n)),
            Comparison(label, host_send, "airssys runtime, no host",
                       per(_best(repeat, lambda: bench_instance(engine, n)), n)),
        ]
        if importlib.util.find_spec("pykka") is not None:
            rows.append(Comparison(label, host_send, "Pykka actor + wasmtime-py",
                                   per(_best(repeat, lambda: bench_pykka(n)), n)))
        else:
            rows.append(Comparison(label, host_send, not_installed(["Pykka"]), None))
        c2c = per(_best(repeat, lambda: asyncio.run(bench_c2c(engine, n))), n)
        rows.append(Comparison("component -> component via send-message", c2c,
                               "budget 2.5 µs (400k msg/s)", 2500.0, target=True))
        rounds = 200 if quick else 2000
        router = min(bench_router(rounds=rounds) for _ in range(repeat))
        label = "router validate + lookup + enqueue"
        asyncio_ref = min(bench_router_baseline("asyncio", rounds=rounds) for _ in range(repeat))
        rows += [
            Comparison(label, router, "dict + asyncio.Queue.put_nowait", asyncio_ref),
            Comparison(label, router, "dict + deque.append",
                       min(bench_router_baseline("deque", rounds=rounds) for _ in range(repeat))),
            Comparison(label, router, "budget 60 ns", 60.0, target=True),
            Comparison(label, router, "budget asyncio / 5", asyncio_ref / 5, target=True),
        ]
        many = 1000 if quick else 10_000
        rr_msgs = 2 * many
        label = "Host.send round robin"
        rr_few = min(asyncio.run(bench_round_robin(engine, 10, rr_msgs))
                                     for _ in range(repeat))
        rr_many = asyncio.run(bench_round_robin(engine, many, rr_msgs))
        rows += [
            Comparison(f"{label} over {many:,} actors", rr_many, "over 10 actors", rr_few),
            Comparison(f"{label} over {many:,} actors", rr_many, "budget 1.5x over 10 actors",
                       1.5 * rr_few, target=True),
        ]
        rows.append(Comparison(f"spawn a component ({spawn} in one host)",
                               per(_best(1, lambda: asyncio.run(bench_spawn(engine, spawn))), spawn),
                               "-", None))
        return rows
    finally:
        engine.close()
