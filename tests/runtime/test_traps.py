"""Every trap kind from a real guest, Store poisoning, fresh instances, and trap storms."""

from __future__ import annotations

import gc
import threading

import pytest
import wasmtime

from airssys_wasm.errors import ActorStateError, GuestError, TrapError, TrapKind
from airssys_wasm.runtime import ComponentId, Engine, Limits, classify

SENDER = ComponentId("tester")
MiB = 1024 * 1024

# message byte -> expected kind, for both lanes (see examples/wat/src/chaos.core.wat)
KINDS = [
    (b"u", TrapKind.UNREACHABLE),
    (b"o", TrapKind.OUT_OF_BOUNDS),
    (b"s", TrapKind.STACK_OVERFLOW),
    (b"d", TrapKind.OTHER),  # integer division by zero
]


@pytest.mark.parametrize("artifact_name", ["chaos", "core_actor"])
@pytest.mark.parametrize("message,kind", KINDS, ids=[k.value for _, k in KINDS])
def test_trap_kind(request, artifact_name: str, message: bytes, kind: TrapKind) -> None:
    artifact = request.getfixturevalue(artifact_name)
    inst = artifact.instantiate()
    with pytest.raises(TrapError) as info:
        inst.handle_message(SENDER, message)
    trap = info.value
    assert trap.kind is kind
    assert trap.component == artifact.name
    assert f"[{kind.value}]" in str(trap)
    assert trap.backtrace  # wasmtime's frames, e.g. "0: 0x221 - main!<wasm function 6>"
    assert "wasm" in trap.backtrace or "!" in trap.backtrace


@pytest.mark.parametrize("artifact_name", ["chaos", "core_actor"])
def test_infinite_loop_out_of_fuel(request, artifact_name: str) -> None:
    inst = request.getfixturevalue(artifact_name).instantiate(Limits(fuel=2_000_000, timeout_ms=60_000))
    with pytest.raises(TrapError) as info:
        inst.handle_message(SENDER, b"l")
    assert info.value.kind is TrapKind.OUT_OF_FUEL


@pytest.mark.parametrize("artifact_name", ["chaos", "core_actor"])
def test_infinite_loop_epoch_timeout(request, artifact_name: str) -> None:
    # Fuel metering is on in this engine too, with a budget far beyond what the deadline allows:
    # the epoch deadline must be what stops the loop.
    inst = request.getfixturevalue(artifact_name).instantiate(Limits(fuel=10**15, timeout_ms=30))
    with pytest.raises(TrapError) as info:
        inst.handle_message(SENDER, b"l")
    assert info.value.kind is TrapKind.TIMEOUT


def test_memory_grow_past_limit_returns_minus_one_in_component(chaos) -> None:
    inst = chaos.instantiate(Limits(memory_bytes=2 * MiB))
    with pytest.raises(GuestError) as info:
        inst.handle_message(SENDER, b"g")
    assert info.value.case == "resource-exhausted"
    assert info.value.detail == "memory.grow returned -1"
    # Not a trap: the instance is still usable.
    inst.handle_message(SENDER, b"fine")


def test_memory_grow_past_limit_returns_minus_one_in_core_module(core_actor) -> None:
    inst = core_actor.instantiate(Limits(memory_bytes=2 * MiB))
    with pytest.raises(GuestError) as info:
        inst.handle_message(SENDER, b"g")
    assert info.value.detail == "2"  # the module's "grow refused" code
    inst.handle_message(SENDER, b"fine")


def test_trap_after_refused_grow_is_memory_limit(core_actor) -> None:
    inst = core_actor.instantiate(Limits(memory_bytes=2 * MiB))
    with pytest.raises(TrapError) as info:
        inst.handle_message(SENDER, b"G")
    assert info.value.kind is TrapKind.MEMORY_LIMIT
    assert "unreachable" in str(info.value)  # the instruction is still reported


def test_memory_fault_at_the_limit_is_memory_limit_in_component(chaos) -> None:
    inst = chaos.instantiate(Limits(memory_bytes=2 * MiB))
    with pytest.raises(TrapError) as info:
        inst.handle_message(SENDER, b"O")  # grows until refused, then writes past the end
    assert info.value.kind is TrapKind.MEMORY_LIMIT
    assert "out of bounds" in str(info.value)


def test_memory_fault_with_memory_to_spare_stays_out_of_bounds(chaos) -> None:
    inst = chaos.instantiate(Limits(memory_bytes=64 * MiB))
    with pytest.raises(TrapError) as info:
        inst.handle_message(SENDER, b"o")
    assert info.value.kind is TrapKind.OUT_OF_BOUNDS


def test_unreachable_with_memory_to_spare_stays_unreachable(core_actor) -> None:
    inst = core_actor.instantiate(Limits(memory_bytes=64 * MiB))
    with pytest.raises(TrapError) as info:
        inst.handle_message(SENDER, b"u")
    assert info.value.kind is TrapKind.UNREACHABLE


@pytest.mark.parametrize("artifact_name", ["echo", "core_actor"])
def test_memory_limit_below_initial_memory(request, artifact_name: str) -> None:
    with pytest.raises(TrapError) as info:
        request.getfixturevalue(artifact_name).instantiate(Limits(memory_bytes=1000))
    assert info.value.kind is TrapKind.MEMORY_LIMIT


@pytest.mark.parametrize("artifact_name", ["chaos", "core_actor"])
def test_trap_poisons_instance_and_fresh_one_works(request, artifact_name: str) -> None:
    artifact = request.getfixturevalue(artifact_name)
    inst = artifact.instantiate()
    with pytest.raises(TrapError):
        inst.handle_message(SENDER, b"u")
    assert inst.poisoned and inst.closed
    with pytest.raises(ActorStateError, match=r"discarded after a trap \(unreachable\)"):
        inst.handle_message(SENDER, b"fine")
    with pytest.raises(ActorStateError):
        inst.health()
    fresh = inst.fresh()
    assert not fresh.poisoned
    fresh.handle_message(SENDER, b"fine")
    assert fresh.limits == inst.limits


def test_thousand_traps_leave_the_process_healthy(engine: Engine, chaos, echo) -> None:
    threads_before = threading.active_count()
    kinds = [b"u", b"o", b"d", b"l"]
    seen = set()
    limits = Limits(fuel=200_000)
    for i in range(1000):
        inst = chaos.instantiate(limits)
        with pytest.raises(TrapError) as info:
            inst.handle_message(SENDER, kinds[i % len(kinds)])
        seen.add(info.value.kind)
    gc.collect()
    assert seen == {TrapKind.UNREACHABLE, TrapKind.OUT_OF_BOUNDS, TrapKind.OTHER, TrapKind.OUT_OF_FUEL}
    assert threading.active_count() == threads_before  # no leaked ticker/worker threads
    healthy = echo.instantiate()
    healthy.handle_message(SENDER, b"still alive")
    assert healthy.execute(b"last") == b"still alive"


class _Fake(wasmtime.WasmtimeError):
    def __init__(self, text: str) -> None:  # a WasmtimeError carrying only text, like component calls
        self._text = text

    def __str__(self) -> str:
        return self._text


@pytest.mark.parametrize("cause,kind", [
    ("wasm trap: wasm `unreachable` instruction executed", TrapKind.UNREACHABLE),
    ("0: memory fault at wasm address 0x1 in linear memory of size 0x10000\n1: wasm trap: out of bounds memory access",
     TrapKind.OUT_OF_BOUNDS),
    ("wasm trap: call stack exhausted", TrapKind.STACK_OVERFLOW),
    ("wasm trap: all fuel consumed by WebAssembly", TrapKind.OUT_OF_FUEL),
    ("wasm trap: interrupt", TrapKind.TIMEOUT),
    ("memory minimum size of 4 pages exceeds memory limits", TrapKind.MEMORY_LIMIT),
    ("wasm trap: cannot enter component instance", TrapKind.OTHER),
])
def test_classify_component_messages(cause: str, kind: TrapKind) -> None:
    text = f"error while executing at wasm backtrace:\n    0:  0x10 - main!f\n\nCaused by:\n    {cause}\n"
    assert classify(_Fake(text)) is kind
