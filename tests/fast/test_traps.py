"""Guest faults surface as TrapError with the right kind; nothing crashes the interpreter."""

from __future__ import annotations

from typing import Any

import pytest
import wasmtime
import wasmtime.component as wc

from airssys_wasm import TrapError, TrapKind
from airssys_wasm._fast import fastcall

from .components import FAULTS


@pytest.fixture(scope="module")
def faults(engine: wasmtime.Engine) -> wc.Component:
    return wc.Component(engine, FAULTS)


def _fresh(engine: wasmtime.Engine, component: wc.Component, name: str) -> fastcall.ComponentFunc:
    store = wasmtime.Store(engine)
    instance = wc.Linker(engine).instantiate(store, component)
    return fastcall.ComponentFunc.from_export(store, instance, name)


@pytest.mark.parametrize(
    ("name", "args", "kind", "text"),
    [
        ("boom", (), TrapKind.UNREACHABLE, "unreachable"),
        ("deep", (0,), TrapKind.STACK_OVERFLOW, "call stack exhausted"),
        ("oob-load", (), TrapKind.OUT_OF_BOUNDS, "out of bounds memory access"),
        ("div", (1, 0), TrapKind.OTHER, "integer divide by zero"),
    ],
)
def test_trap_mid_call_is_typed(engine: wasmtime.Engine, faults: wc.Component, name: str,
                                args: tuple[Any, ...], kind: TrapKind, text: str) -> None:
    func = _fresh(engine, faults, name)
    with pytest.raises(TrapError) as info:
        func(*args)
    assert info.value.kind is kind
    assert text in str(info.value)
    assert text in info.value.backtrace


def test_trapped_store_stays_poisoned_and_says_so(engine: wasmtime.Engine, faults: wc.Component) -> None:
    func = _fresh(engine, faults, "boom")
    with pytest.raises(TrapError):
        func()
    with pytest.raises(TrapError, match="cannot enter component instance"):
        func()
    # A fresh Store works again: the fault is isolated to the poisoned one.
    assert _fresh(engine, faults, "add")(2, 3) == 5


def test_invalid_utf8_from_guest_is_an_error(engine: wasmtime.Engine, faults: wc.Component) -> None:
    with pytest.raises(TrapError, match="invalid utf-8"):
        _fresh(engine, faults, "bad-utf8")()


def test_out_of_bounds_string_from_guest_is_an_error(engine: wasmtime.Engine, faults: wc.Component) -> None:
    with pytest.raises(TrapError) as info:
        _fresh(engine, faults, "oob-string")()
    assert info.value.kind is TrapKind.OUT_OF_BOUNDS
    assert "out of bounds" in str(info.value)


def test_many_traps_in_a_row_leave_the_host_healthy(engine: wasmtime.Engine, faults: wc.Component) -> None:
    for _ in range(200):
        with pytest.raises(TrapError):
            _fresh(engine, faults, "boom")()
    assert _fresh(engine, faults, "add")(40, 2) == 42


def test_trap_kind_from_message_covers_wasmtime_texts() -> None:
    assert fastcall.trap_kind_from_message("wasm trap: all fuel consumed by WebAssembly") is TrapKind.OUT_OF_FUEL
    assert fastcall.trap_kind_from_message("wasm trap: interrupt") is TrapKind.TIMEOUT
    assert fastcall.trap_kind_from_message("something else") is TrapKind.OTHER
