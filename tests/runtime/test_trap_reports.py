"""Trap reports: the same cause gives the same TrapKind on both lanes, messages carry no control
bytes, guest stdout/stderr reach the component's logger (rate-limited) and the last stderr lines
reach the TrapError."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from airssys_wasm.errors import TrapError, TrapKind, printable
from airssys_wasm.runtime import Artifact, ComponentId, Engine, Limits
from airssys_wasm.runtime.host_services import HostServices
from airssys_wasm.runtime.wasi import GuestOutput, OutputLimits, WasiSettings

SENDER = ComponentId("tester")
STDIO_GUEST = Path(__file__).with_name("stdio-guest.wat")  # writes to stdout/stderr, see its header
MiB = 1024 * 1024
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
CONTROL_BUT_NEWLINE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")

# cause -> (message byte, limits, expected kind); the same on the component lane (`chaos`) and
# the core-ABI lane (`core_actor`), which implement the same misbehaviours.
CAUSES = {
    "unreachable": (b"u", Limits(memory_bytes=64 * MiB), TrapKind.UNREACHABLE),
    "out_of_bounds": (b"o", Limits(memory_bytes=64 * MiB), TrapKind.OUT_OF_BOUNDS),
    "stack_overflow": (b"s", Limits(), TrapKind.STACK_OVERFLOW),
    "out_of_fuel": (b"l", Limits(fuel=2_000_000, timeout_ms=60_000), TrapKind.OUT_OF_FUEL),
    "timeout": (b"l", Limits(fuel=10**15, timeout_ms=30), TrapKind.TIMEOUT),
    # grows until memory.grow returns -1, then stores past the end
    "memory_limit": (b"O", Limits(memory_bytes=2 * MiB), TrapKind.MEMORY_LIMIT),
}


def assert_printable(trap: TrapError) -> None:
    """Every trap report: a one-line message, a backtrace whose only controls are newlines."""
    assert not CONTROL.search(str(trap)), repr(str(trap))
    assert "\\x00" not in str(trap) + trap.backtrace  # the C string terminator is not text
    assert not CONTROL_BUT_NEWLINE.search(trap.backtrace), repr(trap.backtrace)
    for line in trap.stderr:
        assert not CONTROL.search(line), repr(line)


@pytest.fixture(scope="module")
def stdio(engine: Engine) -> Artifact:
    return engine.load(STDIO_GUEST, name="stdio")


@pytest.mark.parametrize("lane", ["chaos", "core_actor"])
@pytest.mark.parametrize("cause", list(CAUSES))
def test_same_cause_same_kind_on_both_lanes(request, lane: str, cause: str) -> None:
    message, limits, kind = CAUSES[cause]
    inst = request.getfixturevalue(lane).instantiate(limits)
    with pytest.raises(TrapError) as info:
        inst.handle_message(SENDER, message)
    assert info.value.kind is kind
    assert f"[{kind.value}]" in str(info.value)
    assert_printable(info.value)


def test_core_lane_messages_had_a_nul_and_no_longer_do(core_actor) -> None:
    inst = core_actor.instantiate()
    with pytest.raises(TrapError) as info:
        inst.handle_message(SENDER, b"u")
    assert "instruction executed [unreachable]" in str(info.value)  # was "executed \x00 [..."
    assert_printable(info.value)


def test_refused_grow_then_unreachable_core_lane_is_memory_limit(core_actor) -> None:
    inst = core_actor.instantiate(Limits(memory_bytes=2 * MiB))
    with pytest.raises(TrapError) as info:
        inst.handle_message(SENDER, b"G")
    assert info.value.kind is TrapKind.MEMORY_LIMIT
    assert "unreachable" in str(info.value)  # the wasm detail is kept
    assert_printable(info.value)


def test_refused_grow_then_unreachable_component_lane_is_documented_unreachable(chaos) -> None:
    """The one documented difference (errors.TrapKind): wasmtime 50's component C API exposes
    no core memory and its Store limiter reports no refused grow. The kind stays
    ``unreachable``, every time, and the message points at the memory limit."""
    for _ in range(3):
        inst = chaos.instantiate(Limits(memory_bytes=2 * MiB))
        with pytest.raises(TrapError) as info:
            inst.handle_message(SENDER, b"G")
        assert info.value.kind is TrapKind.UNREACHABLE
        assert "raise [limits] memory" in str(info.value)
        assert_printable(info.value)
    documented = " ".join((TrapKind.__doc__ or "").split())
    assert "is ``UNREACHABLE`` on the component lane and ``MEMORY_LIMIT`` on the core lane" \
        in documented


def test_core_lane_unreachable_has_no_component_lane_hint(core_actor) -> None:
    inst = core_actor.instantiate(Limits(memory_bytes=64 * MiB))
    with pytest.raises(TrapError) as info:
        inst.handle_message(SENDER, b"u")
    assert "not observable" not in str(info.value)


def test_trap_error_makes_any_text_printable() -> None:
    trap = TrapError("a\x00b\x1b[2Jc\nd\re", backtrace="f1\n\x00f2\t", stderr=("x\x07y",))
    assert str(trap) == "a\\x00b\\x1b[2Jc d e"
    assert trap.backtrace == "f1\n\\x00f2 "
    assert trap.stderr == ("x\\x07y",)
    assert printable("\x9b\x7f") == "\\x9b\\x7f"


# -- guest stdout/stderr --------------------------------------------------------------------


def test_stderr_then_trap_is_in_the_trap_error(stdio, caplog) -> None:
    inst = stdio.instantiate()
    caplog.set_level(logging.INFO, logger="airssys_wasm.guest")
    inst.handle_message(SENDER, b"ostarting\n")
    with pytest.raises(TrapError) as info:
        inst.handle_message(SENDER, b"Ethread 'main' panicked at src/lib.rs:7:5:\nboom \x1b[31m")
    trap = info.value
    assert trap.kind is TrapKind.UNREACHABLE
    assert trap.stderr == ("thread 'main' panicked at src/lib.rs:7:5:", "boom \\x1b[31m")
    assert "guest stderr ends with: 'boom \\\\x1b[31m'" in str(trap)
    assert trap.backtrace.endswith(
        "guest stderr (last 2 lines):\nthread 'main' panicked at src/lib.rs:7:5:\nboom \\x1b[31m")
    assert "main!" in trap.backtrace  # wasm frames still first
    assert_printable(trap)
    records = [(r.name, r.levelno, r.getMessage(), getattr(r, "stream", None))
               for r in caplog.records if r.name.startswith("airssys_wasm.guest")]
    assert records == [
        ("airssys_wasm.guest.stdio", logging.INFO, "starting", "stdout"),
        ("airssys_wasm.guest.stdio", logging.WARNING, "thread 'main' panicked at src/lib.rs:7:5:",
         "stderr"),
        # the partial last line is logged when the trapped instance's Store closes
        ("airssys_wasm.guest.stdio", logging.WARNING, "boom \\x1b[31m", "stderr"),
    ]


def test_logger_is_named_after_the_component_not_the_artifact(stdio, caplog) -> None:
    caplog.set_level(logging.INFO, logger="airssys_wasm.guest")
    inst = stdio.instantiate(services=HostServices(ComponentId("tenant-a")))
    inst.handle_message(SENDER, b"ohi\n")
    assert [r.name for r in caplog.records] == ["airssys_wasm.guest.tenant-a"]


def test_stderr_tail_keeps_only_the_last_lines(stdio) -> None:
    inst = stdio.instantiate(wasi=WasiSettings(output=OutputLimits(stderr_tail=3)))
    inst.handle_message(SENDER, b"n\x05line\n")
    with pytest.raises(TrapError) as info:
        inst.handle_message(SENDER, b"Elast\n")
    assert info.value.stderr == ("line", "line", "last")


def test_chatty_guest_is_rate_limited_with_a_counted_note(stdio, caplog) -> None:
    caplog.set_level(logging.INFO, logger="airssys_wasm.guest")
    inst = stdio.instantiate(wasi=WasiSettings(output=OutputLimits(lines_per_second=1e-9, burst=10)))
    inst.handle_message(SENDER, b"n\xffspam\n")  # 255 lines in one call
    assert inst.output is not None
    assert (inst.output.logged, inst.output.dropped) == (10, 245)
    inst.close()  # the pending note is logged when the instance goes away
    messages = [r.getMessage() for r in caplog.records]
    assert messages[:10] == ["spam"] * 10
    assert len(messages) == 11 and messages[10].startswith("... 245 lines dropped")


def test_rate_limit_refills_and_reports_drops_before_the_next_line(caplog) -> None:
    now = [0.0]
    out = GuestOutput("chatty", OutputLimits(lines_per_second=2.0, burst=2), clock=lambda: now[0])
    caplog.set_level(logging.INFO, logger="airssys_wasm.guest.chatty")
    assert out.stdout(b"a\nb\nc\nd\n") == 8  # the whole write is always accepted
    now[0] = 1.0  # two more lines' worth
    out.stdout(b"e\nf\ng\n")
    assert [r.getMessage() for r in caplog.records] == [
        "a", "b", caplog.records[2].getMessage(), "e", "f"]
    assert caplog.records[2].getMessage().startswith("... 2 lines dropped")
    assert (out.logged, out.dropped) == (4, 3)


def test_a_line_without_newline_is_cut_at_max_line(caplog) -> None:
    out = GuestOutput("long", OutputLimits(max_line=8))
    caplog.set_level(logging.INFO, logger="airssys_wasm.guest.long")
    out.stderr(b"x" * 20)
    assert [r.getMessage() for r in caplog.records] == ["x" * 8, "x" * 8]
    assert out.stderr_tail == ("x" * 8, "x" * 8, "x" * 4)  # the partial rest is in the tail


def test_a_failing_log_handler_does_not_fail_the_guest_write(caplog) -> None:
    class Broken(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            raise RuntimeError("handler down")

        def handleError(self, record: logging.LogRecord) -> None:
            raise RuntimeError("handler down")

    out = GuestOutput("broken")
    handler = Broken()
    out.logger.addHandler(handler)
    try:
        assert out.stdout(b"hello\n") == 6
    finally:
        out.logger.removeHandler(handler)


def test_output_limits_are_checked() -> None:
    from airssys_wasm.errors import ConfigError
    with pytest.raises(ConfigError, match="lines_per_second"):
        OutputLimits(lines_per_second=0)
    with pytest.raises(ConfigError, match="OutputLimits"):
        WasiSettings(output="loud")  # type: ignore[arg-type]
