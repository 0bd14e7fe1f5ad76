"""The instance API the actor/host layers use, on both lanes, plus the shared engine."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from airssys_wasm.errors import ActorStateError, ConfigError, GuestError
from airssys_wasm.runtime import (
    ComponentConfig,
    ComponentId,
    ComponentMetadata,
    Engine,
    EngineConfig,
    ExecutionContext,
    HealthStatus,
    Limits,
    PoolingConfig,
)

from .conftest import example

SENDER = ComponentId("sender", namespace="ns", version="0.1.0")


def test_full_lifecycle_on_a_component(echo) -> None:
    inst = echo.instantiate()
    inst.init(ComponentConfig(env_vars=(("MODE", "test"),), config_data=b"\x01\x02"))
    assert inst.health() is HealthStatus.HEALTHY
    assert inst.metadata() == ComponentMetadata("echo", "1.0.0", "echo component", ("echo",))
    inst.handle_message(SENDER, b"\x55first")
    inst.handle_message(SENDER, b"\x55second")
    assert inst.execute(b"last") == b"\x55second"
    ctx = ExecutionContext(request_id="r-1", timeout_ms=500)
    assert inst.execute(b"\x00\x01binary\xff", ctx) == b"\x00\x01binary\xff"
    assert inst.execute(b"") == b""
    inst.handle_callback("r-1", reply=b"answer")
    inst.handle_callback("r-1", error="peer failed")
    assert inst.execute(b"sick") == b"ok"
    assert inst.health() is HealthStatus.UNHEALTHY
    inst.shutdown()
    inst.close()
    assert inst.closed and not inst.poisoned
    with pytest.raises(ActorStateError, match="closed"):
        inst.execute(b"x")


def test_handle_callback_needs_exactly_one_outcome(echo) -> None:
    inst = echo.instantiate()
    with pytest.raises(ValueError, match="exactly one"):
        inst.handle_callback("r", reply=b"a", error="b")
    with pytest.raises(ValueError, match="exactly one"):
        inst.handle_callback("r")


def test_optional_exports_absent(minimal) -> None:
    inst = minimal.instantiate()
    assert inst.exports == {"handle-message"}
    inst.init()  # no-op
    assert inst.health() is HealthStatus.HEALTHY  # healthy while it answers
    assert inst.metadata() is None
    with pytest.raises(GuestError) as info:
        inst.execute(b"x")
    assert info.value.case == "unsupported"
    assert "does not export `execute`" in str(info.value)
    with pytest.raises(GuestError, match="handle-callback"):
        inst.handle_callback("r", reply=b"")
    inst.handle_message(SENDER, b"ok")
    inst.shutdown()  # no-op


def test_core_lane(core_actor) -> None:
    inst = core_actor.instantiate()
    inst.init()
    assert inst.health() is HealthStatus.HEALTHY
    payload = bytes(range(256)) * 4
    inst.handle_message(SENDER, payload)
    assert inst.execute(b"last") == payload
    assert inst.execute(b"echo this back") == b"echo this back"
    big = b"\xab" * (200 * 1024)  # larger than the module's first page: alloc grows memory
    assert inst.execute(big) == big
    inst.shutdown()


def test_core_lane_sees_the_sender_as_text(engine: Engine) -> None:
    # A module that copies the sender (not the message) into its "last" buffer.
    wat = example("core_actor.wat").read_text().replace(
        "(memory.copy (i32.const 2048) (local.get $msg) (local.get $n))",
        "(memory.copy (i32.const 2048) (local.get $s) (local.get $sn)) (local.set $n (local.get $sn))")
    inst = engine.load(wat).instantiate()
    inst.handle_message(SENDER, b"x")
    assert inst.execute(b"last") == b"ns/sender@0.1.0"


def test_instances_are_isolated(echo) -> None:
    a, b = echo.instantiate(), echo.instantiate()
    a.handle_message(SENDER, b"for a")
    b.handle_message(SENDER, b"for b")
    assert (a.execute(b"last"), b.execute(b"last")) == (b"for a", b"for b")
    a.execute(b"sick")
    assert b.health() is HealthStatus.HEALTHY


def _epoch_threads() -> set[str]:
    """Thread ids of the OS threads named like the C epoch ticker (not a Python thread)."""
    found = set()
    for comm in Path("/proc/self/task").glob("*/comm"):
        try:
            if comm.read_text().strip() == "airssys-epoch":
                found.add(comm.parent.name)
        except OSError:  # the thread ended meanwhile
            pass
    return found


def _new_epoch_threads(before: set[str]) -> set[str]:
    """The ticker names itself as it starts: give it a moment."""
    for _ in range(200):
        new = _epoch_threads() - before
        if new:
            return new
        time.sleep(0.005)
    return set()


def test_one_epoch_ticker_for_all_instances() -> None:
    before = _epoch_threads()
    eng = Engine(EngineConfig(time_slice_us=5000))
    artifact = eng.load(example("minimal.wat"))
    assert not eng.ticker_running  # started lazily
    instances = [artifact.instantiate(Limits(timeout_ms=100)) for _ in range(50)]
    assert len(_new_epoch_threads(before)) == 1 and eng.ticker_running
    for inst in instances:
        inst.handle_message(SENDER, b"x")
    eng.close()
    assert not eng.ticker_running
    with pytest.raises(ConfigError, match="closed"):
        artifact.instantiate(Limits(timeout_ms=100))


def test_engine_config_validation() -> None:
    with pytest.raises(ConfigError, match="opt_level"):
        EngineConfig(opt_level="fastest")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="time_slice_us"):
        EngineConfig(time_slice_us=0)
    with pytest.raises(ConfigError, match="async_stack_bytes"):
        EngineConfig(async_stack_bytes=600 * 1024)
    with pytest.raises(ConfigError, match="max_wasm_stack"):
        EngineConfig(max_wasm_stack=1024)
    # Sizes libwasmtime takes as size_t: 2**64 wrapped to 0 and aborted the process at Engine().
    for field, value in (("async_stack_bytes", 2 ** 64), ("async_stack_bytes", 2 ** 40),
                         ("max_wasm_stack", "1MiB"), ("max_source_bytes", 2 ** 70),
                         ("async_stack_bytes", True)):
        with pytest.raises(ConfigError, match=f"{field}=.* must be an integer of at most"):
            EngineConfig(**{field: value})
    assert EngineConfig(max_wasm_stack=(1 << 30) - (256 << 10), async_stack_bytes=1 << 30)


def test_pooling_allocator_engine() -> None:
    pool = PoolingConfig(total_component_instances=20, total_core_instances=200, total_memories=40,
                         total_tables=100, max_memory_size=4 * 1024 * 1024)
    with Engine(EngineConfig(pooling=pool)) as eng:
        echo = eng.load(example("echo.wat"))
        live = [echo.instantiate(Limits(memory_bytes=4 * 1024 * 1024)) for _ in range(20)]
        for i, inst in enumerate(live):
            inst.handle_message(SENDER, str(i).encode())
        assert [inst.execute(b"last") for inst in live] == [str(i).encode() for i in range(20)]
        # The pool is full: a 21st instance is refused with a typed error, not a crash.
        with pytest.raises(ConfigError, match="maximum concurrent limit of 20 for component instances"):
            echo.instantiate(Limits(memory_bytes=4 * 1024 * 1024))
        for inst in live:
            inst.close()
        echo.instantiate(Limits(memory_bytes=4 * 1024 * 1024)).handle_message(SENDER, b"slot freed")


def test_component_id_text_roundtrip() -> None:
    for cid in (ComponentId("a"), ComponentId("a", "ns"), ComponentId("a", "ns", "1.2.3"),
                ComponentId("a", version="2")):
        assert ComponentId.parse(str(cid)) == cid
    with pytest.raises(ValueError):
        ComponentId.parse("ns/")


def test_dropped_engine_stops_its_ticker() -> None:
    import gc

    before = _epoch_threads()
    eng = Engine(EngineConfig(time_slice_us=1000))
    inst = eng.load(example("minimal.wat")).instantiate(Limits(timeout_ms=10))
    inst.handle_message(SENDER, b"x")
    [ticker] = _new_epoch_threads(before)
    del inst, eng
    gc.collect()
    assert ticker not in _epoch_threads()  # the ticker is joined when its Engine goes


def test_exiting_without_closing_the_engine_is_clean(tmp_path) -> None:
    """The C ticker is stopped before its engine can be freed, whatever the order in which the
    interpreter tears objects down (it used to tick a freed engine at exit: a segfault)."""
    script = tmp_path / "leave_it_running.py"
    script.write_text(
        "from airssys_wasm.runtime import Engine, Limits\n"
        f"artifact = Engine().load({str(example('minimal.wat'))!r})\n"
        "instance = artifact.instantiate(Limits(timeout_ms=100))\n"
        "instance.handle_message(__import__('airssys_wasm').runtime.ComponentId('x'), b'U')\n"
        "cycle = [artifact, instance]; cycle.append(cycle)\n"
        "print('ran')\n")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout.strip()) == (0, "ran"), done.stderr
