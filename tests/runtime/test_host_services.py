"""host-services as a guest sees them, through the echo component's command language."""

from __future__ import annotations

import logging
import struct
import time
from collections.abc import Sequence

import pytest

from airssys_wasm.errors import (
    ComponentNotFound,
    MailboxFull,
    PermissionDenied,
    QuotaExceeded,
    RequestTimeout,
    TrapError,
)
from airssys_wasm.runtime import (
    DETACHED_MESSAGING,
    EMPTY_DIRECTORY,
    ComponentDirectory,
    ComponentId,
    ComponentMetadata,
    ExecutionContext,
    HostServices,
    Limits,
    Messaging,
)
from airssys_wasm.runtime import host_services as hs

ME = ComponentId("echo", namespace="tests", version="1.0.0")


class Directory:
    def __init__(self, components: dict[ComponentId, ComponentMetadata]) -> None:
        self.components = components

    def list_components(self) -> Sequence[ComponentId]:
        return list(self.components)

    def component_metadata(self, component: ComponentId) -> ComponentMetadata | None:
        return self.components.get(component)


class Recorder:
    """A messaging backend that records calls and can be told to refuse."""

    def __init__(self, refuse: Exception | None = None) -> None:
        self.refuse = refuse
        self.calls: list[tuple] = []

    def send_message(self, sender, target, message) -> None:
        self.calls.append(("send", sender, target, message))
        if self.refuse:
            raise self.refuse

    def send_request(self, sender, target, request, timeout_ms) -> str:
        self.calls.append(("request", sender, target, request, timeout_ms))
        if self.refuse:
            raise self.refuse
        return "req-42"

    def cancel_request(self, sender, request_id) -> None:
        self.calls.append(("cancel", sender, request_id))
        if self.refuse:
            raise self.refuse


def test_defaults_satisfy_the_protocols() -> None:
    assert isinstance(EMPTY_DIRECTORY, ComponentDirectory)
    assert isinstance(DETACHED_MESSAGING, Messaging)
    assert isinstance(Recorder(), Messaging)
    assert isinstance(Directory({}), ComponentDirectory)


def test_log_goes_to_stdlib_logging_with_component_and_level(echo, caplog) -> None:
    inst = echo.instantiate(services=HostServices(ME))
    with caplog.at_level(logging.DEBUG, logger="airssys_wasm.component"):
        assert inst.execute(b"log:disk is 93% full") == b"ok"
    [record] = [r for r in caplog.records if r.name == "airssys_wasm.component"]
    assert record.levelno == logging.INFO
    assert record.getMessage() == "[tests/echo@1.0.0] disk is 93% full"
    assert record.component == "tests/echo@1.0.0"
    assert record.wasm_context == {}


def test_log_uses_the_instance_logger_and_truncates(echo, caplog) -> None:
    logger = logging.getLogger("custom.sink")
    inst = echo.instantiate(services=HostServices(ME, logger=logger, max_log_chars=5))
    with caplog.at_level(logging.INFO, logger="custom.sink"):
        inst.execute(b"log:0123456789")
    [record] = [r for r in caplog.records if r.name == "custom.sink"]
    assert record.getMessage().endswith("01234...[truncated]")


def test_current_time_millis(echo) -> None:
    before = time.time_ns() // 1_000_000
    (now,) = struct.unpack("<Q", echo.instantiate().execute(b"time"))
    after = time.time_ns() // 1_000_000
    assert before <= now <= after


def test_sleep_is_bounded_by_the_call_deadline(echo, monkeypatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr(hs.time, "sleep", slept.append)
    inst = echo.instantiate(Limits(timeout_ms=50))
    try:
        inst.execute(b"sleep")  # the guest asks for 10 000 ms
    except TrapError:
        pass  # the epoch deadline may also fire once the guest resumes; either is fine
    assert len(slept) == 1
    assert 0 <= slept[0] <= 0.05


def test_sleep_without_deadline_sleeps_as_asked(echo, monkeypatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr(hs.time, "sleep", slept.append)
    assert echo.instantiate(Limits(timeout_ms=None)).execute(b"sleep") == b"slept"
    assert slept == [10.0]


def test_list_components_and_metadata_from_the_directory(echo) -> None:
    bob = ComponentId("bob")
    directory = Directory({bob: ComponentMetadata("bob-meta", "2.0.0", "a peer", ("ping",)),
                           ComponentId("carol"): ComponentMetadata("carol-meta")})
    inst = echo.instantiate(services=HostServices(ME, directory=directory))
    assert struct.unpack("<I", inst.execute(b"list")) == (2,)
    assert inst.execute(b"meta:bob") == b"bob-meta"
    assert inst.execute(b"meta:nobody") == b"none"


def test_detached_defaults(echo) -> None:
    inst = echo.instantiate(services=HostServices(ME))
    assert struct.unpack("<I", inst.execute(b"list")) == (0,)
    reply = inst.execute(b"send:bob")
    assert reply.startswith(b"cannot reach bob: no host is attached")
    assert b"airssys_wasm.Host" in reply  # says what to do
    assert inst.execute(b"request:bob").startswith(b"cannot reach bob")
    assert inst.execute(b"cancel:r1").startswith(b"cannot reach request 'r1'")


def test_detached_messaging_raises_component_not_found() -> None:
    with pytest.raises(ComponentNotFound, match="no host is attached"):
        DETACHED_MESSAGING.send_message(ME, ComponentId("x"), b"")


def test_messaging_reaches_the_backend(echo) -> None:
    backend = Recorder()
    inst = echo.instantiate(services=HostServices(ME, messaging=backend))
    assert inst.execute(b"send:bob") == b"sent"
    assert inst.execute(b"request:carol") == b"req-42"
    assert inst.execute(b"cancel:req-42") == b"ok"
    assert backend.calls == [
        ("send", ME, ComponentId("bob"), b"hello"),
        ("request", ME, ComponentId("carol"), b"ping", 1000),
        ("cancel", ME, "req-42"),
    ]


@pytest.mark.parametrize("refusal", [
    PermissionDenied("echo may not send to bob: add it to [capabilities] messaging.send"),
    ComponentNotFound("bob is not running"),
    MailboxFull("bob's mailbox is full; retry later"),
    RequestTimeout("gave up"),
])
def test_refusals_reach_the_guest_as_errors(echo, refusal: Exception) -> None:
    inst = echo.instantiate(services=HostServices(ME, messaging=Recorder(refuse=refusal)))
    assert inst.execute(b"send:bob") == str(refusal).encode()
    assert inst.execute(b"request:bob") == str(refusal).encode()
    assert not inst.poisoned  # a refusal is an answer, not a failure


@pytest.mark.parametrize("refusal,tag", [
    (PermissionDenied("p"), "permission-denied"), (ComponentNotFound("n"), "target-not-found"),
    (MailboxFull("f"), "mailbox-full"), (RequestTimeout("t"), "unavailable"),
    (QuotaExceeded("q"), "resource-exhausted"),
])
def test_refusal_cases(refusal: Exception, tag: str) -> None:
    assert hs._refusal(refusal) == ("err", (tag, str(refusal)))


def test_host_bug_traps_and_discards_the_instance(echo) -> None:
    inst = echo.instantiate(services=HostServices(ME, messaging=Recorder(refuse=KeyError("bug"))))
    with pytest.raises(TrapError, match="host function failed during execute"):
        inst.execute(b"send:bob")
    assert inst.poisoned
    assert inst.fresh().execute(b"plain") == b"plain"


def test_bad_argument_does_not_poison(echo) -> None:
    inst = echo.instantiate()
    with pytest.raises(TypeError, match="sender must be a ComponentId"):
        inst.handle_message("not-a-component-id", b"x")  # type: ignore[arg-type]
    with pytest.raises((TypeError, ValueError, OverflowError)):
        # rejected by the value conversion, before the guest is entered
        inst.execute(b"x", ExecutionContext(request_id=12345))  # type: ignore[arg-type]
    assert not inst.poisoned
    inst.handle_message(ME, b"still fine")
    assert inst.execute(b"last") == b"still fine"


def test_extension_interface_defined_by_the_host(engine, tmp_path) -> None:
    from airssys_wasm.errors import ConfigError, LoadError

    from .conftest import example

    probe = engine.load(example("fs-probe.wat"))
    assert "airssys:ext-filesystem/filesystem@1.0.0" in probe.imports
    # Not granted (nothing defined): instantiation fails with a LoadError naming the import.
    with pytest.raises(LoadError, match="ext-filesystem"):
        probe.instantiate()

    allowed = tmp_path / "data.txt"
    allowed.write_bytes(b"file contents")
    seen: list[ComponentId] = []

    def read_file(services: HostServices, path: str):
        seen.append(services.component)
        if path != str(allowed):
            return ("err", ("permission-denied", f"{services.component} may not read {path}"))
        return ("ok", allowed.read_bytes())

    probe.define_imports("airssys:ext-filesystem/filesystem@1.0.0", {"read-file": read_file})
    inst = probe.instantiate(services=HostServices(ME))
    assert inst.execute(str(allowed).encode()) == b"file contents"
    assert inst.execute(b"/etc/shadow") == b"tests/echo@1.0.0 may not read /etc/shadow"
    assert seen == [ME, ME]
    with pytest.raises(ConfigError, match="does not import"):
        probe.define_imports("airssys:ext-network/network@1.0.0", {})
    with pytest.raises(ConfigError, match="no function"):  # misspelt names are refused
        probe.define_imports("airssys:ext-filesystem/filesystem@1.0.0", {"read_file": read_file})
    with pytest.raises(ConfigError, match="provided by the runtime"):
        engine.load(example("echo.wat")).define_imports("airssys:core/host-services@1.0.0", {})


def test_extension_function_failures_trap_without_crashing(engine) -> None:
    from .conftest import example

    probe = engine.load(example("fs-probe.wat"))
    outcomes: list[object] = []

    def read_file(services: HostServices, path: str):
        outcome = outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    probe.define_imports("airssys:ext-filesystem/filesystem@1.0.0", {"read-file": read_file})
    outcomes[:] = [OSError("disk on fire"), "not a result tuple", ("ok", b"fine")]
    inst = probe.instantiate(services=HostServices(ME))
    with pytest.raises(TrapError, match="host function failed during execute") as raised:
        inst.execute(b"/any")
    assert isinstance(raised.value.__cause__, OSError)
    assert inst.poisoned
    inst = inst.fresh()
    with pytest.raises(TrapError) as wrong:  # a value of the wrong shape is refused, not misread
        inst.execute(b"/any")
    assert isinstance(wrong.value.__cause__, TypeError)
    assert inst.fresh().execute(b"/any") == b"fine"
