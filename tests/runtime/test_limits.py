"""Limits: defaults, sizes, limits from a Component.toml, and enforcement per call."""

from __future__ import annotations

import pytest

from airssys_wasm.errors import ConfigError, TrapError, TrapKind
from airssys_wasm.runtime import ComponentId, Engine, EngineConfig, Limits, parse_size

from .conftest import example

MiB = 1024 * 1024


def test_safe_defaults() -> None:
    limits = Limits()
    assert limits.memory_bytes == 64 * MiB
    assert limits.timeout_ms == 1000
    assert limits.fuel is None


@pytest.mark.parametrize("text,expected", [
    (65536, 65536), ("64MiB", 64 * MiB), ("512 KiB", 512 * 1024), ("1GiB", 1024 * MiB),
    ("1MB", 1_000_000), ("100", 100), ("2m", 2 * MiB),
])
def test_parse_size(text, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("bad", ["lots", "12 parsecs", "-5MiB", ""])
def test_parse_size_rejects(bad) -> None:
    with pytest.raises(ValueError, match="is not a size"):
        parse_size(bad)


@pytest.mark.parametrize("bad", [True, 1.5, None])
def test_parse_size_rejects_non_sizes_by_type(bad) -> None:
    with pytest.raises(TypeError, match="a size must be an integer or a string"):
        parse_size(bad)


def test_one_size_parser_for_manifests_and_limits() -> None:
    from airssys_wasm.security import manifest

    assert manifest.parse_size is parse_size


def test_invalid_limits_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="Limits.fuel=0"):
        Limits(fuel=0)
    with pytest.raises(ConfigError, match="Limits.instances"):
        Limits(instances=0)
    with pytest.raises(ConfigError):
        Limits().replace(table_elements=-3)


def _min_fuel(echo) -> int:
    """Smallest fuel budget with which one `execute` call succeeds (found by bisection)."""
    low, high = 1, 1_000_000
    while low < high:
        mid = (low + high) // 2
        inst = echo.instantiate(Limits(fuel=mid))
        try:
            inst.execute(b"x" * 64)
            high = mid
        except TrapError as trap:
            assert trap.kind is TrapKind.OUT_OF_FUEL
            low = mid + 1
    return low


def test_fuel_is_refilled_for_every_call(echo) -> None:
    per_call = _min_fuel(echo)
    inst = echo.instantiate(Limits(fuel=per_call))
    for _ in range(50):  # 50 calls need 50x the budget in total: only a refill makes this pass
        assert inst.execute(b"x" * 64) == b"x" * 64
    starved = echo.instantiate(Limits(fuel=per_call - 1))
    with pytest.raises(TrapError) as info:
        starved.execute(b"x" * 64)
    assert info.value.kind is TrapKind.OUT_OF_FUEL


def test_timeout_applies_per_call_not_per_instance(chaos) -> None:
    inst = chaos.instantiate(Limits(timeout_ms=40))
    # Many fast calls whose total far exceeds 40 ms of wall-clock life: each call is fresh.
    for _ in range(200):
        inst.handle_message(ComponentId("t"), b"fine")
    with pytest.raises(TrapError) as info:
        inst.handle_message(ComponentId("t"), b"l")
    assert info.value.kind is TrapKind.TIMEOUT


def test_instance_limit_too_small_is_config_error(echo) -> None:
    with pytest.raises(ConfigError, match="instance count"):
        echo.instantiate(Limits(instances=1))


def test_fuel_limit_needs_fuel_engine() -> None:
    plain = Engine(EngineConfig(consume_fuel=False))
    artifact = plain.load(example("minimal.wat"))
    with pytest.raises(ConfigError, match="consume_fuel=True"):
        artifact.instantiate(Limits(fuel=1000))
    plain.close()


def test_timeout_needs_epoch_engine() -> None:
    no_epochs = Engine(EngineConfig(epoch_interruption=False))
    artifact = no_epochs.load(example("minimal.wat"))
    with pytest.raises(ConfigError, match="epoch_interruption"):
        artifact.instantiate()
    inst = artifact.instantiate(Limits(timeout_ms=None))
    inst.handle_message(ComponentId("t"), b"ok")


def test_stack_request_above_engine_stack_is_refused() -> None:
    eng = Engine(EngineConfig(max_wasm_stack=256 * 1024))
    artifact = eng.load(example("minimal.wat"))
    with pytest.raises(ConfigError, match="engine-wide"):
        artifact.instantiate(Limits(stack_bytes=1024 * 1024))
    artifact.instantiate(Limits(stack_bytes=128 * 1024)).handle_message(ComponentId("t"), b"ok")
    eng.close()


def test_stack_request_above_the_default_engine_stack_is_refused_too(engine) -> None:
    # No max_wasm_stack: every call still gets wasmtime's 512 KiB, so 8 MiB cannot be honoured.
    artifact = engine.load(example("minimal.wat"))
    with pytest.raises(ConfigError, match="engine's wasm stack is 524288 bytes"):
        artifact.instantiate(Limits(stack_bytes=8 * 1024 * 1024))
    artifact.instantiate(Limits(stack_bytes=512 * 1024)).handle_message(ComponentId("t"), b"ok")


@pytest.mark.parametrize("field, value", [
    ("fuel", 2 ** 64), ("timeout_ms", 2 ** 63), ("slice_us", 2 ** 63),
    ("max_message_bytes", 2 ** 63), ("table_elements", 2 ** 63), ("instances", 2 ** 63),
])
def test_limits_beyond_the_stores_c_integers_are_config_errors(field, value) -> None:
    # These reached the Store as OverflowError from the C conversion, outside AirssysError.
    with pytest.raises(ConfigError, match=f"Limits.{field}={value} must be an integer from 1 to"):
        Limits(**{field: value})
    Limits(**{field: value - 1})  # the largest each C integer holds is accepted



def test_limits_from_component_toml_text(chaos) -> None:
    from airssys_wasm.security import load_manifest

    manifest = load_manifest("""
[component]
name = "chaos"
version = "1.0.0"

[limits]
memory = "2MiB"
timeout_ms = 25
""")
    limits = Limits().replace(**manifest.limits.as_runtime_kwargs())
    assert limits.memory_bytes == 2 * MiB and limits.timeout_ms == 25
    inst = chaos.instantiate(limits)
    with pytest.raises(TrapError) as grow:  # the 2 MiB from the manifest is what stops growth
        inst.handle_message(ComponentId("t"), b"O")
    assert grow.value.kind is TrapKind.MEMORY_LIMIT
    with pytest.raises(TrapError) as spin:  # and the 25 ms deadline is what stops the loop
        inst.fresh().handle_message(ComponentId("t"), b"l")
    assert spin.value.kind is TrapKind.TIMEOUT


def test_a_table_declared_above_the_limit_is_refused_naming_the_limit(engine) -> None:
    # Not a missing import: the guest's own table is larger than Limits.table_elements allows.
    wat = """(module (memory (export "memory") 1) (table 20000 funcref)
      (func (export "alloc") (param i32) (result i32) (i32.const 1024))
      (func (export "handle") (param i32 i32 i32 i32) (result i32) (i32.const 0)))"""
    artifact = engine.load(wat, name="big-table")
    with pytest.raises(ConfigError, match=r"^big-table: cannot instantiate within its limits: "
                                          r".*raise Limits.table_elements \(now 10,000\)"):
        artifact.instantiate()
    artifact.instantiate(Limits(table_elements=20_000)).handle_message(ComponentId("t"), b"ok")
