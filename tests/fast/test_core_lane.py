"""The core-ABI lane and numeric core calls, against a real core-module actor."""

from __future__ import annotations

import pytest
import wasmtime
from hypothesis import given, settings
from hypothesis import strategies as st

from airssys_wasm import TrapError, TrapKind
from airssys_wasm._fast import fastcall

from .components import CORE_ACTOR, checksum


class Actor:
    def __init__(self, engine: wasmtime.Engine) -> None:
        self.store = wasmtime.Store(engine)
        module = wasmtime.Module(engine, CORE_ACTOR)
        self.instance = wasmtime.Instance(self.store, module, [])
        self.lane = fastcall.CoreLane(self.store, self.instance)
        self.exports = self.instance.exports(self.store)

    def core(self, name: str) -> fastcall.CoreFunc:
        return fastcall.CoreFunc(self.store, self.exports[name], name)

    def read(self, offset: int, size: int) -> bytes:
        memory = self.exports["memory"]
        return bytes(memory.read(self.store, offset, offset + size))


@pytest.fixture()
def actor(engine: wasmtime.Engine) -> Actor:
    return Actor(engine)


@settings(max_examples=60, deadline=None)
@given(sender=st.text(max_size=40), message=st.binary(max_size=3000))
def test_lane_copies_payload_exactly(engine: wasmtime.Engine, sender: str, message: bytes) -> None:
    actor = Actor(engine)
    assert actor.lane.handle(sender, message) == checksum(sender.encode(), message)
    # the bytes landed at the pointer alloc returned (1024): sender, then message
    encoded = sender.encode()
    assert actor.read(1024, len(encoded) + len(message)) == encoded + message


def test_lane_accepts_bytes_like_and_grows_guest_memory(actor: Actor) -> None:
    big = bytes(range(256)) * 1024  # 256 KiB: the guest must grow its 64 KiB memory
    assert actor.lane.handle(b"svc", memoryview(big)) == checksum(b"svc", big)
    assert actor.lane.handle(bytearray(b"a"), bytearray(b"bc")) == checksum(b"a", b"bc")
    assert actor.lane.handle("", b"") == 0


def test_lane_rejects_non_bytes(actor: Actor) -> None:
    with pytest.raises(TypeError, match="message must be a contiguous bytes-like object"):
        actor.lane.handle("s", "text")
    with pytest.raises(TypeError, match="sender must be a contiguous bytes-like object"):
        actor.lane.handle(5, b"")
    assert actor.lane.handle("s", b"ok") == checksum(b"s", b"ok")


@pytest.mark.parametrize("mode", [1, 2])
def test_guest_pointer_out_of_bounds_is_typed_error(actor: Actor, mode: int) -> None:
    actor.core("set-mode")(mode)  # alloc now returns a pointer past (or straddling) the end
    with pytest.raises(TrapError) as info:
        actor.lane.handle("sender", b"x" * 100)
    assert info.value.kind is TrapKind.OUT_OF_BOUNDS
    assert "outside the guest's" in str(info.value)
    # Core stores are not poisoned by this host-side refusal: fix the guest and go on.
    actor.core("set-mode")(0)
    assert actor.lane.handle("s", b"ok") == checksum(b"s", b"ok")


def test_alloc_trap_is_typed(actor: Actor) -> None:
    actor.core("set-mode")(3)
    with pytest.raises(TrapError) as info:
        actor.lane.handle("s", b"m")
    assert info.value.kind is TrapKind.UNREACHABLE
    assert "core-ABI 'alloc'" in str(info.value)


def test_lane_requires_the_abi_exports(engine: wasmtime.Engine) -> None:
    store = wasmtime.Store(engine)
    module = wasmtime.Module(engine, '(module (memory (export "memory") 1) '
                                     '(func (export "alloc") (param i64) (result i32) i32.const 0))')
    instance = wasmtime.Instance(store, module, [])
    with pytest.raises(TypeError, match="missing: handle"):
        fastcall.CoreLane(store, instance)
    module = wasmtime.Module(engine, '(module (memory (export "memory") 1) '
                                     '(func (export "alloc") (param i64) (result i32) i32.const 0) '
                                     '(func (export "handle") (param i32 i32 i32 i32) (result i32) i32.const 0))')
    instance = wasmtime.Instance(store, module, [])
    with pytest.raises(TypeError, match=r"'alloc' of a core-ABI actor must be \(i32\) -> i32, found \(i64\) -> i32"):
        fastcall.CoreLane(store, instance)


def test_core_func_numeric_calls(actor: Actor) -> None:
    add = actor.core("add")
    assert add(2, 40) == 42
    assert add(2**31 - 1, 1) == -(2**31)  # i32 wraps like wasm
    assert add(0xFFFFFFFF, 1) == 0         # unsigned spelling of -1 is accepted
    assert actor.core("mix")(2**40, 0.5, -1.25) == float(2**40) + 0.5 - 1.25
    with pytest.raises(ValueError, match="does not fit in i32"):
        add(2**32, 0)
    with pytest.raises(TypeError, match="parameter 0 of add\\(\\) must be int, got str"):
        add("1", 2)
    with pytest.raises(TypeError, match="takes 2 argument"):
        add(1)


def test_core_trap_has_trap_code_kind(actor: Actor) -> None:
    with pytest.raises(TrapError) as info:
        actor.core("trap")()
    assert info.value.kind is TrapKind.UNREACHABLE
    assert "core function 'trap'" in str(info.value)
