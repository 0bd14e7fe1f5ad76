"""Side by side: the airssys runtime vs bare wasmtime-py doing the same work, in one process.

The runtime adds policy around every wasmtime-py call (limits armed per call, trap
classification, typed values, the active-call context for host services). This shows what that
costs, and records RSS per live instance for 1,000 instances.

Run: python benches/compare_runtime.py [--instances 1000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import wasmtime
from wasmtime import component as wc

from airssys_wasm.runtime import ComponentId, Engine, EngineConfig, PoolingConfig

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "wat"
ECHO = bytes(wasmtime.wat2wasm((EXAMPLES / "echo.wat").read_text()))
CORE = bytes(wasmtime.wat2wasm((EXAMPLES / "core_actor.wat").read_text()))
SENDER = ComponentId("bench")
PAGE = os.sysconf("SC_PAGE_SIZE")


def per_call_us(fn: Callable[[], object], n: int, repeat: int) -> float:
    """Median over ``repeat`` runs of the mean time of ``n`` calls, in microseconds."""
    fn()
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        runs.append((time.perf_counter() - start) / n * 1e6)
    return statistics.median(runs)


def rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * PAGE


def bare_config(**kw: object) -> wasmtime.Config:
    cfg = wasmtime.Config()
    cfg.epoch_interruption = True
    for k, v in kw.items():
        setattr(cfg, k, v)
    return cfg


def row(label: str, ours: float, base: float, unit: str = "µs") -> None:
    print(f"| {label} | {ours:,.1f} {unit} | {base:,.1f} {unit} | {ours / base:.2f}x |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--instances", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    r = args.repeat

    engine = Engine()
    bare = wasmtime.Engine(bare_config())
    echo = engine.load(ECHO)
    core = engine.load(CORE)
    bare_echo = wc.Component(bare, ECHO)
    bare_core = wasmtime.Module(bare, CORE)

    print("| operation | airssys runtime | bare wasmtime-py | ratio |")
    print("|---|---|---|---|")

    # compile and cache load
    row("compile echo component", per_call_us(lambda: engine.load(ECHO), 20, r) / 1000,
        per_call_us(lambda: wc.Component(bare, ECHO), 20, r) / 1000, "ms")
    with tempfile.TemporaryDirectory() as tmp:
        cached = Engine(EngineConfig(cache_dir=tmp, epoch_interruption=False))
        cached.load(ECHO)
        blob = wc.Component(cached.wasm_engine, ECHO).serialize()
        path = Path(tmp) / "bare.cwasm"
        path.write_bytes(blob)
        row("load from cache (ours: verify, deserialize, validate, link)",
            per_call_us(lambda: cached.load(ECHO), 50, r) / 1000,
            per_call_us(lambda: wc.Component.deserialize_file(cached.wasm_engine, str(path)), 50, r) / 1000,
            "ms")

    # Store + instantiate
    def bare_instantiate() -> None:
        store = wasmtime.Store(bare)
        store.set_limits(memory_size=64 << 20)
        store.set_epoch_deadline(1 << 40)
        linker = bare_linker
        inst = linker.instantiate(store, bare_echo)
        idx = inst.get_export_index(store, "airssys:core/component-lifecycle@1.0.0")
        inst.get_func(store, inst.get_export_index(store, "handle-message", idx))
        store.close()

    bare_linker = wc.Linker(bare)
    bare_linker.define_unknown_imports_as_traps(bare_echo)
    row("Store + instantiate, component", per_call_us(lambda: echo.instantiate().close(), 500, r),
        per_call_us(bare_instantiate, 500, r))

    def bare_core_instantiate() -> None:
        store = wasmtime.Store(bare)
        store.set_epoch_deadline(1 << 40)
        wasmtime.Instance(store, bare_core, []).exports(store)
        store.close()

    row("Store + instantiate, core module", per_call_us(lambda: core.instantiate().close(), 500, r),
        per_call_us(bare_core_instantiate, 500, r))

    # one message
    ours = echo.instantiate()
    store = wasmtime.Store(bare)
    store.set_epoch_deadline(1 << 40)
    inst = bare_linker.instantiate(store, bare_echo)
    idx = inst.get_export_index(store, "airssys:core/component-lifecycle@1.0.0")
    hm = inst.get_func(store, inst.get_export_index(store, "handle-message", idx))
    rec = wc.Record()
    rec.namespace, rec.name, rec.version = "", "bench", ""
    msg = b"x" * 16
    row("handle-message 16 B, component", per_call_us(lambda: ours.handle_message(SENDER, msg), 2000, r),
        per_call_us(lambda: hm(store, rec, msg), 2000, r))

    ours_core = core.instantiate()
    cstore = wasmtime.Store(bare)
    cstore.set_epoch_deadline(1 << 40)
    cexp = wasmtime.Instance(cstore, bare_core, []).exports(cstore)
    alloc, handle, mem = cexp["alloc"], cexp["handle"], cexp["memory"]

    def bare_core_call(payload: bytes) -> None:
        data = b"bench" + payload
        ptr = alloc(cstore, len(data))
        mem.write(cstore, data, ptr)
        handle(cstore, ptr, 5, ptr + 5, len(payload))

    for size in (16, 65536):
        payload = b"x" * size
        row(f"handle-message {size} B, core lane",
            per_call_us(lambda: ours_core.handle_message(SENDER, payload), 2000, r),
            per_call_us(lambda: bare_core_call(payload), 2000, r))

    print()
    print(f"RSS per live instance, {args.instances} instances (runtime):")
    for label, eng in (("on-demand", engine),
                       ("pooling", Engine(EngineConfig(pooling=PoolingConfig(
                           total_component_instances=args.instances + 10,
                           total_core_instances=8 * (args.instances + 10),
                           total_memories=2 * (args.instances + 10),
                           total_tables=4 * (args.instances + 10)))))):
        for kind, source in (("component", ECHO), ("core", CORE)):
            artifact = eng.load(source)
            gc.collect()
            base = rss()
            live = [artifact.instantiate() for _ in range(args.instances)]
            created = rss()
            for inst in live:
                inst.handle_message(SENDER, b"x" * 16)
            called = rss()
            print(f"- {label:9} {kind:9}: {(created - base) / args.instances / 1024:6.1f} KiB after "
                  f"instantiate, {(called - base) / args.instances / 1024:6.1f} KiB after one message")
            for inst in live:
                inst.close()
            del live
    engine.close()


if __name__ == "__main__":
    main()
