"""The GIL is released while wasm runs: a Python epoch ticker can interrupt an infinite loop
called through the fast path, and fuel limits surface as out_of_fuel."""

from __future__ import annotations

import threading

import wasmtime
import wasmtime.component as wc

from airssys_wasm import TrapError, TrapKind
from airssys_wasm._fast import fastcall

from .components import CORE_ACTOR, FAULTS

# A safety net: if the GIL were held, the ticker could never run and the loop would only stop
# when this much fuel is burnt — the test then fails on the kind instead of hanging.
SAFETY_FUEL = 3_000_000_000


def _engine(*, epoch: bool, fuel: bool) -> wasmtime.Engine:
    config = wasmtime.Config()
    config.epoch_interruption = epoch
    config.consume_fuel = fuel
    return wasmtime.Engine(config)


class Ticker:
    """Increments the engine epoch from a Python thread, counting its own ticks."""

    def __init__(self, engine: wasmtime.Engine) -> None:
        self.engine = engine
        self.ticks = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        while not self.stop.wait(0.005):
            self.ticks += 1
            self.engine.increment_epoch()

    def __enter__(self) -> "Ticker":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


def test_epoch_ticker_interrupts_component_loop() -> None:
    engine = _engine(epoch=True, fuel=True)
    store = wasmtime.Store(engine)
    store.set_fuel(SAFETY_FUEL)
    store.set_epoch_deadline(3)
    instance = wc.Linker(engine).instantiate(store, wc.Component(engine, FAULTS))
    spin = fastcall.ComponentFunc.from_export(store, instance, "spin")
    with Ticker(engine) as ticker:
        try:
            spin()
        except TrapError as exc:
            error = exc
    assert error.kind is TrapKind.TIMEOUT
    assert ticker.ticks >= 3


def test_epoch_ticker_interrupts_core_loop() -> None:
    engine = _engine(epoch=True, fuel=True)
    store = wasmtime.Store(engine)
    store.set_fuel(SAFETY_FUEL)
    store.set_epoch_deadline(2)
    instance = wasmtime.Instance(store, wasmtime.Module(engine, CORE_ACTOR), [])
    spin = fastcall.CoreFunc(store, instance.exports(store)["spin"], "spin")
    with Ticker(engine) as ticker:
        try:
            spin()
        except TrapError as exc:
            error = exc
    assert error.kind is TrapKind.TIMEOUT
    assert ticker.ticks >= 2


def test_other_python_threads_progress_during_a_call() -> None:
    engine = _engine(epoch=False, fuel=True)
    store = wasmtime.Store(engine)
    store.set_fuel(400_000_000)  # long enough for the counter thread to get scheduled
    instance = wc.Linker(engine).instantiate(store, wc.Component(engine, FAULTS))
    spin = fastcall.ComponentFunc.from_export(store, instance, "spin")
    progress = []
    inside = threading.Event()
    done = threading.Event()

    def count() -> None:
        inside.wait()
        while not done.is_set():
            progress.append(1)

    worker = threading.Thread(target=count)
    worker.start()
    inside.set()
    try:
        spin()
    except TrapError as exc:
        kind = exc.kind
    done.set()
    worker.join()
    assert kind is TrapKind.OUT_OF_FUEL
    assert len(progress) > 0


def test_fuel_exhaustion_is_out_of_fuel_for_both_lanes() -> None:
    engine = _engine(epoch=False, fuel=True)
    store = wasmtime.Store(engine)
    store.set_fuel(100_000)
    instance = wc.Linker(engine).instantiate(store, wc.Component(engine, FAULTS))
    try:
        fastcall.ComponentFunc.from_export(store, instance, "spin")()
    except TrapError as exc:
        assert exc.kind is TrapKind.OUT_OF_FUEL
        assert "fuel" in str(exc)
    else:
        raise AssertionError("spin returned")
    core_store = wasmtime.Store(engine)
    core_store.set_fuel(100_000)
    core = wasmtime.Instance(core_store, wasmtime.Module(engine, CORE_ACTOR), [])
    try:
        fastcall.CoreFunc(core_store, core.exports(core_store)["spin"], "spin")()
    except TrapError as exc:
        assert exc.kind is TrapKind.OUT_OF_FUEL
    else:
        raise AssertionError("spin returned")
    # A core store can be refuelled and reused.
    core_store.set_fuel(100_000)
    assert fastcall.CoreFunc(core_store, core.exports(core_store)["add"], "add")(1, 2) == 3
