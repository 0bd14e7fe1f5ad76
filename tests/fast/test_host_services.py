"""host-services through C trampolines: guests call log / send-message / send-request /
current-time-millis, the Python callables see converted values, results flow back."""

from __future__ import annotations

import time
from typing import Any

import pytest
import wasmtime
import wasmtime.component as wc

from airssys_wasm import PermissionDenied, TrapError
from airssys_wasm._fast import fastcall

from . import wat_gen
from .components import FAULTS, HOST_SERVICES, HOST_SERVICES_INSTANCE
from .conftest import Built

TARGET = {"namespace": "acme", "name": "sink", "version": "1.0.0"}


class Services:
    """A host-services implementation that records calls (policy would live here)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def log(self, level: str, message: str, context: list[tuple[str, str]] | None) -> None:
        self.calls.append(("log", (level, message, context)))

    def send_message(self, target: dict[str, str], message: bytes) -> tuple[str, Any]:
        self.calls.append(("send-message", (target, message)))
        if target["name"] == "missing":
            return ("err", ("target-not-found", target["name"]))
        if target["name"] == "full":
            return ("err", ("mailbox-full", "64 messages queued"))
        if target["name"] == "forbidden":
            raise PermissionDenied(f"messaging.send does not allow {target['name']}")
        return ("ok", None)

    def send_request(self, target: dict[str, str], request: bytes, timeout_ms: int) -> tuple[str, Any]:
        self.calls.append(("send-request", (target, request, timeout_ms)))
        return ("ok", f"req-{len(self.calls)}")

    def current_time_millis(self) -> int:
        return int(time.time() * 1000)

    def callbacks(self) -> dict[str, Any]:
        return {"log": self.log, "send-message": self.send_message,
                "send-request": self.send_request, "current-time-millis": self.current_time_millis}


def _instantiate(engine: wasmtime.Engine, services: Services, *, lazy: bool = False) -> Built:
    """Link host-services as trampolines: typed from the component, or (lazy) from the first call."""
    component = wc.Component(engine, wat_gen.passthrough(HOST_SERVICES, HOST_SERVICES_INSTANCE))
    linker = wc.Linker(engine)
    if lazy:
        with linker.root() as root:
            with root.add_instance(HOST_SERVICES_INSTANCE) as li:
                for name, callback in services.callbacks().items():
                    fastcall.define_host_func(li, name, callback)
    else:
        fastcall.define_host_funcs(linker, component, engine, HOST_SERVICES_INSTANCE, services.callbacks())
    return Built(engine, component, linker)


@pytest.mark.parametrize("lazy", [False, True], ids=["typed-at-definition", "typed-at-first-call"])
def test_guest_calls_reach_python_with_converted_values(engine: wasmtime.Engine, lazy: bool) -> None:
    services = Services()
    built = _instantiate(engine, services, lazy=lazy)
    built.fast("log")("info", "hello from the guest", None)
    built.fast("log")("error", "ünïcode", [("request", "r-1"), ("user", "ø")])
    assert built.fast("send-message")(TARGET, b"\x00payload\xff") == ("ok", None)
    assert built.fast("send-request")(TARGET, b"req", 2500) == ("ok", "req-4")
    before = int(time.time() * 1000)
    now = built.fast("current-time-millis")()
    assert before - 5 <= now <= int(time.time() * 1000) + 5
    assert services.calls == [
        ("log", ("info", "hello from the guest", None)),
        ("log", ("error", "ünïcode", [("request", "r-1"), ("user", "ø")])),
        ("send-message", (TARGET, b"\x00payload\xff")),
        ("send-request", (TARGET, b"req", 2500)),
    ]


@pytest.mark.parametrize("lazy", [False, True], ids=["typed-at-definition", "typed-at-first-call"])
def test_error_results_are_allocated_by_wasmtime_and_reach_the_guest(engine: wasmtime.Engine, lazy: bool) -> None:
    services = Services()
    built = _instantiate(engine, services, lazy=lazy)
    send = built.fast("send-message")
    missing = dict(TARGET, name="missing")
    full = dict(TARGET, name="full")
    for _ in range(500):  # repeated: a wrong allocator or double free would crash or corrupt here
        assert send(missing, b"x" * 64) == ("err", ("target-not-found", "missing"))
        assert send(full, b"") == ("err", ("mailbox-full", "64 messages queued"))


def test_wasmtime_py_caller_sees_same_results_from_fast_host(engine: wasmtime.Engine) -> None:
    services = Services()
    built = _instantiate(engine, services)
    target = wc.Record()
    for key, value in TARGET.items():
        setattr(target, key, value)
    out = built.slow("send-request")(built.store, target, b"abc", 7)
    assert out == "req-1"
    assert services.calls == [("send-request", (TARGET, b"abc", 7))]


def test_host_exception_becomes_typed_trap_with_cause(engine: wasmtime.Engine) -> None:
    services = Services()
    built = _instantiate(engine, services)
    with pytest.raises(TrapError) as info:
        built.fast("send-message")(dict(TARGET, name="forbidden"), b"x")
    assert isinstance(info.value.__cause__, PermissionDenied)
    assert "PermissionDenied" in str(info.value)
    assert "does not allow forbidden" in str(info.value)


def test_host_returning_wrong_type_is_reported_not_crashing(engine: wasmtime.Engine) -> None:
    services = Services()
    services.send_request = lambda target, request, timeout: ("ok", 12)  # type: ignore[method-assign]
    built = _instantiate(engine, services)
    with pytest.raises(TrapError) as info:
        built.fast("send-request")(TARGET, b"", 1)
    assert isinstance(info.value.__cause__, TypeError)
    assert "result of host send-request" in str(info.value.__cause__)
    assert "expected str for string, got int" in str(info.value.__cause__)


def test_void_host_function_must_return_none(engine: wasmtime.Engine) -> None:
    services = Services()
    services.log = lambda level, message, context: "oops"  # type: ignore[method-assign,assignment]
    built = _instantiate(engine, services)
    with pytest.raises(TrapError) as info:
        built.fast("log")("info", "x", None)
    assert "returns nothing" in str(info.value.__cause__)


def test_define_host_funcs_rejects_unknown_names(engine: wasmtime.Engine) -> None:
    component = wc.Component(engine, wat_gen.passthrough(HOST_SERVICES, HOST_SERVICES_INSTANCE))
    with pytest.raises(LookupError, match="no function\\(s\\) 'lgo'"):
        fastcall.define_host_funcs(wc.Linker(engine), component, engine, HOST_SERVICES_INSTANCE,
                                   {"lgo": print})
    with pytest.raises(LookupError, match="does not import an instance named 'nope'"):
        fastcall.define_host_funcs(wc.Linker(engine), component, engine, "nope", {})
    with pytest.raises(TypeError, match="must be callable"):
        fastcall.define_host_funcs(wc.Linker(engine), component, engine, HOST_SERVICES_INSTANCE,
                                   {"log": 5})


def test_host_func_types_are_read_from_the_component(engine: wasmtime.Engine) -> None:
    component = wc.Component(engine, wat_gen.passthrough(HOST_SERVICES, HOST_SERVICES_INSTANCE))
    types = fastcall.import_func_types(component, engine)
    assert sorted(types[HOST_SERVICES_INSTANCE]) == ["current-time-millis", "log", "send-message", "send-request"]
    plan = fastcall.FuncPlan.from_functype("log", types[HOST_SERVICES_INSTANCE]["log"])
    assert plan.signature == ("log(level: enum{trace, debug, info, warn, error}, message: string, "
                              "context: option<list<tuple<string, string>>>)")


def test_exception_from_a_wasmtime_py_call_is_not_attached_to_a_later_trap(engine: wasmtime.Engine) -> None:
    built = _instantiate(engine, Services())
    target = wc.Record()
    for key, value in dict(TARGET, name="forbidden").items():
        setattr(target, key, value)
    with pytest.raises(Exception, match="host function 'send-message' raised PermissionDenied"):
        built.slow("send-message")(built.store, target, b"x")  # parks the exception; nobody collects it
    store = wasmtime.Store(engine)
    instance = wc.Linker(engine).instantiate(store, wc.Component(engine, FAULTS))
    with pytest.raises(TrapError) as info:
        fastcall.ComponentFunc.from_export(store, instance, "boom")()  # an unrelated guest trap
    assert info.value.__cause__ is None
    assert "unreachable" in str(info.value)


def test_lazily_typed_host_func_refuses_a_differently_typed_importer(engine: wasmtime.Engine) -> None:
    """One linker, two components importing `echo` with different types: the plan comes from
    the first caller; the second one's values are refused (its guest traps), not misread."""
    linker = wc.Linker(engine)
    with linker.root() as root:
        with root.add_instance("host") as li:
            host = fastcall.define_host_func(li, "echo", lambda x: x)
    assert host.plan is None
    first = Built(engine, wc.Component(engine, wat_gen.echo(("list", "string"))), linker)
    assert first.fast("echo")(["a", "b"]) == ["a", "b"]
    assert host.plan is not None and host.plan.signature == "echo(x: list<string>) -> list<string>"
    second = Built(engine, wc.Component(engine, wat_gen.echo("u32")), linker)
    with pytest.raises(TrapError) as info:
        second.fast("echo")(7)
    assert isinstance(info.value.__cause__, TypeError)
    assert "does not match the declared list<string>" in str(info.value.__cause__)
