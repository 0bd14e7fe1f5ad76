"""The C guests of examples/c_guest, compiled here with ziglang's clang and wasm-tools (both from
PyPI, in the [test] extra) and run through a Host: the core-ABI lane guest (messages in, execute,
a trap and the restart) and the component of the smallest world (a send to another component,
an error answer, a trap)."""

from __future__ import annotations

import importlib.util
import struct
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

import airssys_wasm as aw
from airssys_wasm import multicodec as mc
from airssys_wasm.cli.inspect import inspect_file

from host_helpers import ECHO, eventually

C_GUEST = Path(__file__).resolve().parents[2] / "examples" / "c_guest"


def _build_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("c_guest_build", C_GUEST / "build_c_guests.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """Both guests, built once for this module (a second or so)."""
    yield _build_module().build(tmp_path_factory.mktemp("c_guest"))


def frame(payload: bytes) -> bytes:
    return mc.encode(mc.Codec.RAW, payload)


def test_both_guests_satisfy_their_lane(built: tuple[Path, Path]) -> None:
    core, component = built
    core_report, component_report = inspect_file(core), inspect_file(component)
    assert core_report.kind == "core module" and not core_report.problems
    assert [name for name, _ in core_report.imports] == []
    assert component_report.kind == "component" and not component_report.problems
    assert [name for name, _ in component_report.imports] == [
        "airssys:core/types@1.0.0", "airssys:core/host-services@1.0.0"]


async def test_core_lane_guest_counts_answers_and_restarts_after_a_trap(
        host: aw.Host, built: tuple[Path, Path]) -> None:
    core, _ = built
    ref = await host.spawn("counter", core)
    for i in range(5):
        await host.send("counter", frame(b"message %d" % i))
    assert struct.unpack("<I", await host.request("counter", b"count")) == (5,)
    assert await host.request("counter", b"last") == frame(b"message 4")
    assert await host.health("counter") is aw.HealthStatus.HEALTHY
    with pytest.raises(aw.GuestError):
        await host.request("counter", b"what")  # execute answers -1: an error code
    await host.send("counter", frame(b"trap"))
    await eventually(lambda: ref.stats.restarts == 1, "the restart after the trap")
    # A fresh instance: the count starts again, messages are handled as before.
    await host.send("counter", frame(b"after"))
    assert struct.unpack("<I", await host.request("counter", b"count")) == (1,)
    assert ref.stats.failures == 1


async def test_component_guest_sends_to_another_component(
        host: aw.Host, built: tuple[Path, Path]) -> None:
    _, relay = built
    sink = await host.spawn("sink", ECHO)
    ref = await host.spawn("relay", relay, manifest={
        "component": {"name": "relay", "version": "1.0.0"},
        "capabilities": {"messaging": {"send": ["sink"]}}})
    for payload in (b"one", b"second", b"via C" * 100):
        await host.send("relay", frame(payload))
    await eventually(lambda: sink.stats.messages_out == 3, "three relayed messages")
    assert await host.request("sink", b"last") == frame(b"via C" * 100)
    assert ref.stats.messages_out == 3 and ref.stats.failures == 0


async def test_component_guest_errors_refusals_and_traps(
        host: aw.Host, built: tuple[Path, Path], caplog: pytest.LogCaptureFixture) -> None:
    _, relay = built
    # Nobody called "sink" here: the host refuses the send, the guest logs why and answers err.
    await host.spawn("relay", relay)
    caplog.set_level("INFO")
    await host.send("relay", frame(b"hello"))

    def guest_logged_the_refusal() -> bool:
        return any(r.name == "airssys_wasm.component" and r.levelname == "WARNING"
                   and r.getMessage().startswith("[relay] no component named 'sink'")
                   for r in caplog.records)

    await eventually(guest_logged_the_refusal, "the guest's log line")
    instance = host.engine.load(relay).instantiate()
    with pytest.raises(aw.GuestError, match="refused by the relay") as refused:
        instance.handle_message(aw.ComponentId("t"), frame(b"e"))
    assert refused.value.case == "internal-error"
    with pytest.raises(aw.GuestError, match="no host|not found|Host"):
        instance.handle_message(aw.ComponentId("t"), frame(b"x"))  # detached: nobody to send to
    with pytest.raises(aw.TrapError) as trapped:
        instance.handle_message(aw.ComponentId("t"), frame(b"t"))
    assert trapped.value.kind is aw.TrapKind.UNREACHABLE
    assert instance.poisoned
