"""The suspendable call path: what it costs when nothing suspends, and what it buys when
something does.

* Cost: the same component function on the same plain Store, called through the async C API
  (the only call path) and through the synchronous C API (``ComponentFunc._sync_reference``,
  kept for this comparison); ``handle-message`` through the runtime; a guest -> host call.
* Isolation in time, through the public Host API with real guests: a sibling's request
  latency (p50/p99/max) while one or four neighbours spin until their timeout; 100 components
  sleeping 50 ms at once; a neighbour's request cost while a guest waits on a silent TCP peer,
  a slow child process or a locked storage database (against the same requests on an idle
  host). The baseline column of these rows is the issue's target (or the idle figure); the
  synchronous path had none to offer: its neighbours waited for the whole stall.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
import struct
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import wasmtime
from wasmtime import component as wc

from airssys_wasm._fast.fastcall import ComponentFunc
from airssys_wasm.benchmarks import guests
from airssys_wasm.benchmarks.fast import ACCEPT, LOGGER, LOGS, REALLOC_WAT, SENDER, TYPES_WAT, \
    _LIFECYCLE
from airssys_wasm.benchmarks.timing import Comparison, distribution, time_stmt
from airssys_wasm.host import Host, HostConfig
from airssys_wasm.runtime import ComponentId, Engine, EngineConfig, HostServices, Limits
from airssys_wasm.runtime.artifact import ComponentArtifact
from airssys_wasm.runtime.world import HOST_SERVICES
from airssys_wasm.security import MemoryAuditSink

TITLE = "Suspendable guests: cost when nothing suspends, isolation when something does"

#: handle-message calls host-services sleep-millis(50), then accepts.
SLEEPER = r"""(component
  (import "%s" (instance $h (export "sleep-millis" (func (param "ms" u64)))))
  (alias export $h "sleep-millis" (func $sleep))
  %s
  (core module $mem
    (memory (export "memory") 1)
    %s)
  (core instance $mi (instantiate $mem))
  (core func $sleep_low (canon lower (func $sleep)))
  (core module $main
    (import "h" "sleep" (func $sleep (param i64)))
    (import "h" "memory" (memory 1))
    (func (export "handle-message") (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)
      (call $sleep (i64.const 50))
      (i32.store8 (i32.const 16) (i32.const 0))
      (i32.const 16)))
  (core instance $i (instantiate $main (with "h" (instance (export "sleep" (func $sleep_low))
                                                           (export "memory" (memory $mi "memory"))))))
  (func $hm (param "sender" $cid) (param "message" (list u8)) (result (result (error $cerr)))
    (canon lift (core func $i "handle-message") (memory (core memory $mi "memory"))
                (realloc (core func $mi "realloc")) (post-return (core func $mi "post"))))
  %s
)""" % (HOST_SERVICES, TYPES_WAT, REALLOC_WAT, _LIFECYCLE)

M16 = b"\x55" + b"x" * 15
_PROBE = b"cnt?"


def _cost_rows(repeat: int, min_seconds: float) -> list[Comparison]:
    engine = Engine(EngineConfig())
    try:
        accept = engine.load(ACCEPT, name="accept")
        assert isinstance(accept, ComponentArtifact)
        # A plain Store (no time slices) accepts both the async and the synchronous C API.
        store = wasmtime.Store(engine.wasm_engine)
        store.set_epoch_deadline(2**62)
        instance = wc.Linker(engine.wasm_engine).instantiate(store, accept.component)
        lifecycle = accept.component.get_export_index("airssys:core/component-lifecycle@1.0.0")
        index = accept.component.get_export_index("handle-message", lifecycle)
        assert index is not None
        func = instance.get_func(store, index)
        assert func is not None
        hm = ComponentFunc(store, func, "handle-message")
        add = ComponentFunc.from_export(store, instance, "add")
        runtime = accept.instantiate()
        actor_like = accept.instantiate()
        actor_like.suspendable = True
        logger = engine.load(LOGGER, name="logger")
        logging_ours = logger.instantiate(services=HostServices(ComponentId("logger")))
        rec = {"namespace": SENDER.namespace, "name": SENDER.name, "version": SENDER.version}
        ns: dict[str, Any] = {"hm": hm, "add": add, "rec": rec, "m16": M16, "S": SENDER,
                              "rt": runtime, "actor": actor_like, "log": logging_ours}

        def t(stmt: str) -> float:
            return time_stmt(stmt, ns, repeat=repeat, min_seconds=min_seconds)

        sync_hm = t("hm._sync_reference(rec, m16)")
        rows = [
            Comparison("add(u32,u32): async C API", t("add(1, 2)"), "sync C API, same Store",
                       t("add._sync_reference(1, 2)")),
            Comparison("handle-message 16 B: async C API", t("hm(rec, m16)"),
                       "sync C API, same Store", sync_hm),
            Comparison("runtime Instance.handle_message 16 B", t("rt.handle_message(S, m16)"),
                       "sync C API call alone", sync_hm),
            # A call that an epoch tick catches mid-way returns its GuestCall (the next slice
            # is owed): driven to its end here, as the actor's batch loop would, or the next
            # call finds the Store busy. The check costs one comparison per call.
            Comparison("... suspendable instance (what actors use)",
                       t("call = actor.handle_message(S, m16)\nif call is not None: call.wait()"),
                       "sync C API call alone", sync_hm),
            Comparison(f"guest -> host log (per call, {LOGS} per message)",
                       t("log.handle_message(S, m16)") / LOGS, "target 0.8 µs", 800.0, target=True),
        ]
        for inst in (runtime, actor_like, logging_ours):
            inst.close()
        return rows
    finally:
        engine.close()


async def sibling_latency(engine: Engine, spinners: int, window: float) -> list[float]:
    """Latency (s) of requests to an idle sibling, one every ~2 ms for ``window`` seconds, while
    ``spinners`` neighbours (0 or more) spin in ``execute`` until their (longer) timeout. The
    scaling suite draws it against the number of spinners."""
    async with Host(HostConfig(health=None), engine=engine) as host:
        pingpong = guests.path("pingpong")
        for i in range(spinners):
            await host.spawn(f"spin{i}", pingpong, limits=Limits(timeout_ms=int(window * 1000) + 1500))
        await host.spawn("b", pingpong)
        spinning = [asyncio.create_task(host.request(f"spin{i}", b"loop", timeout=60))
                    for i in range(spinners)]
        await asyncio.sleep(0.05)
        samples: list[float] = []
        ends = time.perf_counter() + window
        while time.perf_counter() < ends:
            started = time.perf_counter()
            await host.request("b", _PROBE, timeout=5)
            samples.append(time.perf_counter() - started)
            await asyncio.sleep(0.002)
        for task in spinning:
            task.cancel()
        await asyncio.gather(*spinning, return_exceptions=True)
        return samples


async def _sleepers(engine: Engine, count: int) -> float:
    async with Host(HostConfig(health=None, capacity=16), engine=engine) as host:
        refs = [await host.spawn(f"s{i}", SLEEPER) for i in range(count)]
        started = time.perf_counter()
        await asyncio.gather(*(host.send(f"s{i}", M16) for i in range(count)))
        while any(r.stats.messages_out < 1 for r in refs):
            await asyncio.sleep(0.0005)
        return time.perf_counter() - started


async def _neighbour_cost(host: Host, n: int = 300) -> list[float]:
    """Seconds of each of ``n`` back-to-back requests to the neighbour ``b``."""
    samples = []
    clock = time.perf_counter
    for _ in range(n):
        started = clock()
        await host.request("b", _PROBE, timeout=5)
        samples.append(clock() - started)
    return samples


class _SilentPeer:
    """A loopback listener that accepts and never answers (stops by itself)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        self.sock.settimeout(0.05)
        held = []
        ends = time.monotonic() + 30
        while not self._stop.is_set() and time.monotonic() < ends:
            try:
                held.append(self.sock.accept()[0])
            except OSError:
                continue
        for conn in held:
            conn.close()
        self.sock.close()

    def close(self) -> None:
        self._stop.set()


async def _blocked_neighbour_rows(engine: Engine) -> list[Comparison]:
    """A neighbour's request cost while a guest is blocked on the host, against idle: the mean,
    then the p99 (a blocked guest that stole a slice now and then would show there first)."""
    rows: list[Comparison] = []
    with tempfile.TemporaryDirectory() as tmp:
        config = HostConfig(health=None, audit=MemoryAuditSink(), storage_dir=Path(tmp) / "kv")
        async with Host(config, engine=engine) as host:
            await host.spawn("b", guests.path("pingpong"))
            await _neighbour_cost(host, 50)  # warm: the idle figure is the baseline of the rows
            idle = await _neighbour_cost(host)
            peer = _SilentPeer()
            try:
                granted = f"127.0.0.1:{peer.port}"
                await host.spawn("net", guests.path("ext-net"), manifest=_manifest(
                    "net", f'[capabilities.network]\nconnect = ["{granted}"]'))
                op = b"x" + bytes([len(granted)]) + granted.encode() + b"hi"
                rows += await _while(host, "net", op, "a silent TCP peer", idle)
            finally:
                peer.close()
            sleep = "/bin/sleep" if os.path.exists("/bin/sleep") else "/usr/bin/sleep"
            await host.spawn("proc", guests.path("ext-proc"), manifest=_manifest(
                "proc", f'[capabilities.process]\nspawn = ["{sleep}"]'))
            argv = bytes([len(sleep)]) + sleep.encode() + b"\x01\x0230"
            rows += await _while(host, "proc", b"x" + argv, "a slow child process", idle)
            await host.spawn("kv", guests.path("ext-store"), manifest=_manifest(
                "kv", '[capabilities.storage]\nread = ["app"]\nwrite = ["app"]'))
            locker = sqlite3.connect(Path(tmp) / "kv" / "storage.sqlite3", isolation_level=None)
            locker.execute("BEGIN EXCLUSIVE")
            try:
                op = b"s\x03app" + struct.pack("<H", 1) + b"k" + b"value"
                rows += await _while(host, "kv", op, "a locked storage db", idle)
            finally:
                locker.execute("ROLLBACK")
                locker.close()
    return rows


def _manifest(name: str, caps: str) -> str:
    return f'[component]\nname = "{name}"\nversion = "1.0.0"\n\n[limits]\ntimeout_ms = 2000\n\n{caps}\n'


async def _while(host: Host, blocked: str, op: bytes, what: str, idle: list[float]
                 ) -> list[Comparison]:
    waiting = asyncio.create_task(host.request(blocked, op, timeout=10))
    await asyncio.sleep(0.05)
    cost = await _neighbour_cost(host)
    still_blocked = not waiting.done()
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    if not still_blocked:
        raise RuntimeError(f"the guest waiting on {what} finished before the measurement ended")
    label = f"neighbour request while a guest waits on {what}"
    ours, base = distribution([c * 1e9 for c in cost]), distribution([c * 1e9 for c in idle])
    return [Comparison(label, ours.mean, "same request, idle host", base.mean),
            Comparison(f"  p99 of the {ours.n} requests", ours.p99, "same, idle host", base.p99)]


def run(*, repeat: int = 5, min_seconds: float = 0.1) -> list[Comparison]:
    quick = min_seconds < 0.1
    rows = _cost_rows(repeat, min_seconds)
    engine = Engine()
    try:
        window = 0.3 if quick else 1.0
        for spinners, target in ((1, 2e6), (4, 3e6)):
            d = distribution([s * 1e9 for s in asyncio.run(sibling_latency(engine, spinners, window))])
            label = f"sibling request beside {spinners} spinning guest{'s' if spinners > 1 else ''}"
            rows.append(Comparison(f"{label}: p50", d.p50, "-", None))
            rows.append(Comparison(f"{label}: p99 ({d.n} requests)", d.p99,
                                   f"target {target / 1e6:.0f} ms", target, target=True))
            rows.append(Comparison(f"{label}: max", d.max, "-", None))
        wall = min(asyncio.run(_sleepers(engine, 100)) for _ in range(1 if quick else 3))
        rows.append(Comparison("100 components x sleep-millis(50), wall", wall * 1e9,
                               "target 70 ms", 70e6, target=True))
        rows.extend(asyncio.run(_blocked_neighbour_rows(engine)))
        return rows
    finally:
        engine.close()
