"""Per-Store call configuration (``configure_store``): limits armed in C on every call, the data
host functions defined ``with_data=True`` receive, and the lane's raw memory helpers."""

from __future__ import annotations

import threading
import time

import pytest
import wasmtime
import wasmtime.component as wc

from airssys_wasm import TrapError, TrapKind
from airssys_wasm._fast import fastcall

from . import wat_gen
from .components import CORE_ACTOR, FAULTS


def _faults(*, fuel: bool = False, epoch: bool = False) -> tuple[wasmtime.Store, wc.Instance]:
    config = wasmtime.Config()
    config.consume_fuel = fuel
    config.epoch_interruption = epoch
    engine = wasmtime.Engine(config)
    store = wasmtime.Store(engine)
    return store, wc.Linker(engine).instantiate(store, wc.Component(engine, FAULTS))


def test_fuel_is_refilled_at_every_call() -> None:
    store, instance = _faults(fuel=True)
    fastcall.configure_store(store, fuel=10_000)
    add = fastcall.ComponentFunc.from_export(store, instance, "add")
    for i in range(200):  # without a refill, 10,000 units would run out long before this
        assert add(i, 1) == i + 1
    spin = fastcall.ComponentFunc.from_export(store, instance, "spin")
    with pytest.raises(TrapError) as info:
        spin()
    assert info.value.kind is TrapKind.OUT_OF_FUEL


def test_epoch_deadline_is_armed_at_every_call() -> None:
    store, instance = _faults(epoch=True)
    fastcall.configure_store(store, epoch_ticks=2)
    add = fastcall.ComponentFunc.from_export(store, instance, "add")
    store.engine.increment_epoch()
    store.engine.increment_epoch()
    store.engine.increment_epoch()  # past a deadline set once; re-armed per call, so no trap
    assert add(2, 3) == 5
    spin = fastcall.ComponentFunc.from_export(store, instance, "spin")
    ticker_stop = time.monotonic() + 5.0

    def tick() -> None:
        while time.monotonic() < ticker_stop and not done.is_set():
            store.engine.increment_epoch()
            time.sleep(0.002)

    done = threading.Event()
    thread = threading.Thread(target=tick)
    thread.start()
    try:
        with pytest.raises(TrapError) as info:
            spin()
    finally:
        done.set()
        thread.join()
    assert info.value.kind is TrapKind.TIMEOUT


def test_configure_store_refuses_bad_values() -> None:
    store, _ = _faults()
    with pytest.raises(ValueError, match="fuel"):
        fastcall.configure_store(store, fuel=-1)
    with pytest.raises(ValueError, match="timeout"):
        fastcall.configure_store(store, timeout=0)
    with pytest.raises(ValueError, match="consume_fuel"):  # this engine does not meter fuel
        fastcall.configure_store(store, fuel=100)
    with pytest.raises(TypeError, match="wasmtime.Store"):
        fastcall.configure_store("not a store")
    assert fastcall.current_deadline() is None  # no call in progress


def test_host_functions_receive_the_calling_stores_data() -> None:
    engine = wasmtime.Engine()
    wat = wat_gen.echo("string")
    component = wc.Component(engine, wat)
    linker = wc.Linker(engine)
    seen: list[tuple[object, str, float | None]] = []

    def echo(data: object, text: str) -> str:
        seen.append((data, text, fastcall.current_deadline()))
        return text.upper()

    fastcall.define_host_funcs(linker, component, engine, "host", {"echo": echo}, with_data=True)
    stores = []
    for owner in ("first", "second"):
        store = wasmtime.Store(engine)
        fastcall.configure_store(store, data=owner, timeout=5.0 if owner == "second" else None)
        instance = linker.instantiate(store, component)
        stores.append((store, fastcall.ComponentFunc.from_export(store, instance, "echo")))
    assert stores[0][1]("a") == "A"
    before = time.monotonic()
    assert stores[1][1]("b") == "B"
    assert [(d, t) for d, t, _ in seen] == [("first", "a"), ("second", "b")]
    assert seen[0][2] is None
    assert seen[1][2] is not None and before + 4.0 < seen[1][2] <= time.monotonic() + 5.0

    # Entered through wasmtime-py instead of the fast path: the trampoline cannot tell whose
    # call it is, so it refuses (the guest traps) rather than hand over another Store's data.
    store = stores[0][0]
    instance = linker.instantiate(store, component)
    slow_run = instance.get_func(store, "echo")
    with pytest.raises(wasmtime.WasmtimeError, match="needs the calling instance's data"):
        slow_run(store, "c")
    assert len(seen) == 2


def test_core_lane_write_and_read_are_bounds_checked() -> None:
    engine = wasmtime.Engine()
    store = wasmtime.Store(engine)
    instance = wasmtime.Instance(store, wasmtime.Module(engine, CORE_ACTOR), [])
    lane = fastcall.CoreLane(store, instance)
    ptr = lane.write(b"payload")
    assert ptr != 0 and lane.read(ptr, 7) == b"payload"
    assert lane.write(b"") == 0
    size = instance.exports(store)["memory"].data_len(store)
    with pytest.raises(TrapError) as info:
        lane.read(size - 2, 4)
    assert info.value.kind is TrapKind.OUT_OF_BOUNDS
    with pytest.raises(TrapError):
        lane.read(2**40, 1)
    with pytest.raises(ValueError):
        lane.read(-1, 1)
