"""The airssys runtime vs bare wasmtime-py doing the same work, in one process.

The runtime adds policy around every wasmtime-py call (limits armed per call, trap
classification, typed values, the active-call context for host services); this shows what that
costs. Ratios here are baseline/ours like every suite, so below 1.0x means the runtime is slower
than the bare call: the price of the policy. Guests: the bundled ``echo`` component and the
hand-written ``core_actor`` core-ABI module.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import wasmtime
from wasmtime import component as wc

from airssys_wasm.benchmarks import guests
from airssys_wasm.benchmarks.timing import Comparison
from airssys_wasm.runtime import ComponentId, Engine, EngineConfig

TITLE = "Runtime: compile, instantiate, one call (vs bare wasmtime-py)"

SENDER = ComponentId("bench")
LIFECYCLE = "airssys:core/component-lifecycle@1.0.0"
BARE = "bare wasmtime-py"


def _wasm(name: str) -> bytes:
    return bytes(wasmtime.wat2wasm(guests.text(name)))


def per_call_ns(fn: Callable[[], object], n: int, repeat: int) -> float:
    """Median over ``repeat`` runs of the mean time of ``n`` calls (after one warm-up call)."""
    fn()
    runs = []
    for _ in range(repeat):
        start = time.perf_counter_ns()
        for _ in range(n):
            fn()
        runs.append((time.perf_counter_ns() - start) / n)
    return statistics.median(runs)


def _bare_engine() -> wasmtime.Engine:
    cfg = wasmtime.Config()
    cfg.epoch_interruption = True
    return wasmtime.Engine(cfg)


def bare_component_restart(engine: wasmtime.Engine, wasm: bytes) -> Callable[[], None]:
    """The baseline restart of a component through bare wasmtime-py: a new Store with a
    memory limit and an epoch deadline, instantiate, look handle-message up, close."""
    component = wc.Component(engine, wasm)
    linker = wc.Linker(engine)
    linker.define_unknown_imports_as_traps(component)

    def restart() -> None:
        store = wasmtime.Store(engine)
        store.set_limits(memory_size=64 << 20)
        store.set_epoch_deadline(1 << 40)
        inst = linker.instantiate(store, component)
        index = inst.get_export_index(store, "handle-message",
                                      inst.get_export_index(store, LIFECYCLE))
        assert index is not None and inst.get_func(store, index) is not None
        store.close()
    return restart


def bare_core_restart(engine: wasmtime.Engine, wasm: bytes) -> Callable[[], None]:
    """The same for a core module (instantiate, read its exports, close)."""
    module = wasmtime.Module(engine, wasm)

    def restart() -> None:
        store = wasmtime.Store(engine)
        store.set_limits(memory_size=64 << 20)
        store.set_epoch_deadline(1 << 40)
        exports = wasmtime.Instance(store, module, []).exports(store)
        assert "handle" in exports
        store.close()
    return restart


def _handle_message(inst: wc.Instance, store: wasmtime.Store) -> wc.Func:
    """wasmtime-py's handle-message of an instance (the baseline's own lookup, done once)."""
    index = inst.get_export_index(store, "handle-message", inst.get_export_index(store, LIFECYCLE))
    assert index is not None, "the guest exports handle-message"
    func = inst.get_func(store, index)
    assert func is not None
    return func


def run(*, repeat: int = 5, min_seconds: float = 0.1) -> list[Comparison]:
    """``min_seconds`` below 0.1 selects small loop counts (quick mode)."""
    scale = 0.1 if min_seconds < 0.1 else 1.0
    n_compile, n_load, n_inst, n_call = (max(2, int(k * scale)) for k in (20, 50, 500, 2000))
    echo, core = _wasm("echo"), _wasm("core_actor")
    rows: list[Comparison] = []

    def add(name: str, ours: Callable[[], object], bare: Callable[[], object], n: int) -> None:
        rows.append(Comparison(name, per_call_ns(ours, n, repeat), BARE, per_call_ns(bare, n, repeat)))

    engine = Engine()
    bare = _bare_engine()
    try:
        add("compile echo component", lambda: engine.load(echo), lambda: wc.Component(bare, echo),
            n_compile)
        with tempfile.TemporaryDirectory() as tmp:
            cached = Engine(EngineConfig(cache_dir=tmp, epoch_interruption=False))
            cached.load(echo)
            path = Path(tmp) / "bare.cwasm"
            path.write_bytes(wc.Component(cached.wasm_engine, echo).serialize())
            add("load from disk cache (ours: + verify, validate)",
                lambda: cached.load(echo),
                lambda: wc.Component.deserialize_file(cached.wasm_engine, str(path)), n_load)
            cached.close()

        artifact, bare_echo = engine.load(echo), wc.Component(bare, echo)
        linker = wc.Linker(bare)
        linker.define_unknown_imports_as_traps(bare_echo)

        add("Store + instantiate, component", lambda: artifact.instantiate().close(),
            bare_component_restart(bare, echo), n_inst)

        core_artifact, bare_core = engine.load(core), wasmtime.Module(bare, core)
        add("Store + instantiate, core module", lambda: core_artifact.instantiate().close(),
            bare_core_restart(bare, core), n_inst)

        ours = artifact.instantiate()
        store = wasmtime.Store(bare)
        store.set_epoch_deadline(1 << 40)
        inst = linker.instantiate(store, bare_echo)
        handle = _handle_message(inst, store)
        sender = wc.Record()
        for field, value in (("namespace", ""), ("name", "bench"), ("version", "")):
            setattr(sender, field, value)
        msg = b"x" * 16
        add("handle-message 16 B, component", lambda: ours.handle_message(SENDER, msg),
            lambda: handle(store, sender, msg), n_call)

        ours_core = core_artifact.instantiate()
        cstore = wasmtime.Store(bare)
        cstore.set_epoch_deadline(1 << 40)
        exports = wasmtime.Instance(cstore, bare_core, []).exports(cstore)
        alloc, call, memory = exports["alloc"], exports["handle"], exports["memory"]
        assert isinstance(alloc, wasmtime.Func) and isinstance(call, wasmtime.Func)
        assert isinstance(memory, wasmtime.Memory)

        def bare_core_call(payload: bytes) -> None:
            data = b"bench" + payload
            ptr = alloc(cstore, len(data))
            memory.write(cstore, data, ptr)
            call(cstore, ptr, 5, ptr + 5, len(payload))

        for size in (16, 65536):
            payload = b"x" * size
            add(f"handle-message {size} B, core lane",
                lambda: ours_core.handle_message(SENDER, payload),
                lambda: bare_core_call(payload), n_call)
        ours.close()
        ours_core.close()
    finally:
        engine.close()
    return rows
