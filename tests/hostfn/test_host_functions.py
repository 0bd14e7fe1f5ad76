"""Host.provide end to end: real guests calling the embedder's Python functions.

Guests (see hostfn_guests.py) call ``source-i`` and pass what it returned to ``sink-i`` on
every message and every request, so a test provides both and looks at what the sink got.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

import airssys_wasm as aw
from airssys_wasm import HostConfig, HostInterface
from airssys_wasm.errors import (
    ConfigError,
    LoadError,
    PermissionDenied,
    QuotaExceeded,
    TrapError,
    TrapKind,
    WitError,
)
from airssys_wasm.runtime import Engine
from airssys_wasm.security import MemoryAuditSink

from hostfn_guests import roundtrip_component

IFACE = "test:echo/echo@1.0.0"


def manifest(name: str, *, grants: str = '["test:echo/*"]', quota: str = "") -> bytes:
    text = f'[component]\nname = "{name}"\nversion = "1.0.0"\n'
    if grants:
        text += f"[capabilities]\ninterfaces = {grants}\n"
    if quota:
        text += f"[quota]\n{quota}\n"
    return text.encode()


class Probe:
    """source-i returns ``values[i]``; sink-i records what came back (and who called)."""

    def __init__(self, *values: Any) -> None:
        self.values = list(values)
        self.got: dict[int, Any] = {}
        self.callers: list[aw.Caller] = []

    def impl(self, *, asynchronous: frozenset[int] = frozenset()) -> dict[str, Callable[..., Any]]:
        out: dict[str, Callable[..., Any]] = {}
        for i in range(len(self.values)):
            out[f"source-{i}"] = self._async_source(i) if i in asynchronous else self._source(i)
            out[f"sink-{i}"] = self._sink(i)
        return out

    def _source(self, i: int) -> Callable[[], Any]:
        def source() -> Any:
            self.callers.append(aw.caller())
            return self.values[i]
        return source

    def _async_source(self, i: int) -> Callable[[], Any]:
        async def source() -> Any:
            await asyncio.sleep(0.001)  # really suspends: the guest waits, the loop runs
            self.callers.append(aw.caller())
            return self.values[i]
        return source

    def _sink(self, i: int) -> Callable[[Any, Any], None]:
        def sink(v: Any, pad: Any) -> None:
            self.got[i] = v
        return sink


@pytest.fixture
async def audit() -> MemoryAuditSink:
    return MemoryAuditSink()


@pytest.fixture
async def host(engine: Engine, audit: MemoryAuditSink) -> AsyncIterator[aw.Host]:
    async with aw.Host(HostConfig(health=None, audit=audit), engine=engine) as h:
        yield h


async def test_sync_and_async_functions_round_trip(host: aw.Host, pair: tuple[str, str]) -> None:
    wit, wat = pair
    probe = Probe((7, 1), ("héllo", 2))
    host.provide(wit, probe.impl(asynchronous=frozenset({1})))
    await host.spawn("rt", wat, manifest=manifest("rt"))
    await host.request("rt", b"go")
    assert probe.got == {0: (7, 1), 1: ("héllo", 2)}


async def test_caller_names_component_and_request(host: aw.Host, pair: tuple[str, str]) -> None:
    wit, wat = pair
    probe = Probe((1, 0), ("x", 0))
    host.provide(wit, probe.impl(asynchronous=frozenset({1})))
    ref = await host.spawn("tenant-a", wat, manifest=manifest("tenant-a"))
    await host.request("tenant-a", b"go")
    sync_caller, async_caller = probe.callers
    for c in (sync_caller, async_caller):
        assert c.component_id == ref.component_id and c.name == "tenant-a"
        assert c.request is not None and c.request.request_id
    assert sync_caller.request == async_caller.request  # the same request, seen from both
    probe.callers.clear()
    await host.send("tenant-a", b"\x55m")  # handle-message: no request
    for _ in range(200):
        if len(probe.callers) == 2:
            break
        await asyncio.sleep(0.01)
    assert [c.request for c in probe.callers] == [None, None]
    with pytest.raises(LookupError, match="outside a host function"):
        aw.caller()


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_exception_traps_with_host_error_and_is_logged(
        host: aw.Host, pair: tuple[str, str], caplog: pytest.LogCaptureFixture,
        asynchronous: bool) -> None:
    wit, wat = pair
    state = {"fail": True}

    def source_0() -> Any:
        if state["fail"]:
            raise RuntimeError("ledger offline")
        return (5, 0)

    async def source_0_async() -> Any:
        await asyncio.sleep(0)
        return source_0()

    impl = {"source-0": source_0_async if asynchronous else source_0, "sink-0": lambda v, p: None,
            "source-1": lambda: ("ok", 0), "sink-1": lambda v, p: None}
    host.provide(wit, impl)
    await host.spawn("boom", wat, manifest=manifest("boom"))
    with caplog.at_level(logging.ERROR, logger="airssys_wasm.host_functions"):
        with pytest.raises(TrapError) as info:
            await host.request("boom", b"go")
    assert info.value.kind is TrapKind.HOST_ERROR
    assert isinstance(info.value.__cause__, RuntimeError)
    logged = [r for r in caplog.records if r.name == "airssys_wasm.host_functions"]
    assert logged and logged[0].exc_info is not None
    assert logged[0].exc_info[0] is RuntimeError and "boom" in logged[0].getMessage()
    state["fail"] = False  # the host kept running; the restarted component works again
    for _ in range(200):
        try:
            await host.request("boom", b"go")
            break
        except (TrapError, aw.ComponentNotFound):
            await asyncio.sleep(0.01)
    else:
        pytest.fail("the component did not come back after the host function failure")


async def test_value_that_does_not_fit_names_function_and_field(host: aw.Host) -> None:
    wit, wat = roundtrip_component(["rec"], "    record rec { name: string, qty: u32 }")
    host.provide(wit, {"source-0": lambda: ({"name": "n", "qty": "many"}, 0),
                       "sink-0": lambda v, p: None})
    await host.spawn("bad-value", wat, manifest=manifest("bad-value"))
    with pytest.raises(TrapError) as info:
        await host.request("bad-value", b"go")
    assert info.value.kind is TrapKind.HOST_ERROR
    cause = info.value.__cause__
    assert isinstance(cause, TypeError)
    assert "source-0" in str(cause) and "[0]: .qty: expected int for u32" in str(cause)


class Insufficient(Exception):
    def __init__(self, need: int) -> None:
        super().__init__(f"need {need} more")
        self.need = need


class Unknown(LookupError):
    pass


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_declared_exception_becomes_the_wit_error(
        host: aw.Host, problems: tuple[str, str], asynchronous: bool) -> None:
    wit, wat = problems
    got: list[Any] = []
    raised: list[BaseException] = [Insufficient(5), Unknown("acct-9")]

    def source_0() -> Any:
        raise raised.pop(0)

    async def source_0_async() -> Any:
        raise raised.pop(0)

    host.provide(wit, {"source-0": source_0_async if asynchronous else source_0,
                       "sink-0": lambda v, p: got.append(v)},
                 errors={Insufficient: lambda e: ("insufficient", e.need),
                         LookupError: lambda e: ("unknown", str(e))})
    await host.spawn("mapped", wat, manifest=manifest("mapped"))
    await host.request("mapped", b"go")
    await host.request("mapped", b"go")
    assert got == [("err", ("insufficient", 5)), ("err", ("unknown", "acct-9"))]


async def test_spawn_refuses_what_is_not_provided_or_granted(
        host: aw.Host, pair: tuple[str, str], audit: MemoryAuditSink) -> None:
    wit, wat = pair
    with pytest.raises(LoadError, match=f"imports {IFACE}, which this host does not provide"):
        await host.spawn("early", wat, manifest=manifest("early"))
    host.provide(wit, Probe((0, 0), ("", 0)).impl())
    with pytest.raises(PermissionDenied, match="capabilities.interfaces") as info:
        await host.spawn("no-grant", wat, manifest=manifest("no-grant", grants=""))
    assert IFACE in str(info.value)
    with pytest.raises(PermissionDenied, match="capabilities.interfaces"):
        await host.spawn("other-grant", wat, manifest=manifest("other-grant",
                                                               grants='["acme:*"]'))
    with pytest.raises(PermissionDenied, match="capabilities.interfaces"):
        await host.spawn("no-manifest", wat)
    await host.spawn("granted", wat, manifest=manifest("granted", grants=f'["{IFACE}"]'))
    decisions = [(r.component, r.decision) for r in audit.records if r.kind == "interfaces"]
    assert decisions == [("no-grant", "deny"), ("other-grant", "deny"), ("no-manifest", "deny"),
                         ("granted", "allow")]
    assert all(r.target == IFACE for r in audit.records if r.kind == "interfaces")
    assert host.names() == ["granted"]


async def test_spawn_refuses_a_guest_whose_types_disagree(host: aw.Host,
                                                         pair: tuple[str, str]) -> None:
    wit, wat = pair
    host.provide(wit.replace("source-0: func() -> tuple<u32, u8>",
                             "source-0: func() -> tuple<u64, u8>"), Probe((0, 0), ("", 0)).impl())
    with pytest.raises(LoadError) as info:
        await host.spawn("typed", wat, manifest=manifest("typed"))
    text = str(info.value)
    assert "`source-0`" in text and "result.0: declared u64, the guest has u32" in text


async def test_spawn_refuses_a_function_the_wit_does_not_declare(
        host: aw.Host, pair: tuple[str, str]) -> None:
    wit, wat = pair
    host.provide(wit.replace("    sink-1: func(v: tuple<string, u8>, p: pad);\n", ""),
                 {k: v for k, v in Probe((0, 0), ("", 0)).impl().items() if k != "sink-1"})
    with pytest.raises(LoadError, match="imports `sink-1` from test:echo/echo@1.0.0, which the "
                                        "provided WIT does not declare"):
        await host.spawn("undeclared", wat, manifest=manifest("undeclared"))


async def test_quota_limits_calls_and_every_call_is_audited(
        host: aw.Host, pair: tuple[str, str], audit: MemoryAuditSink) -> None:
    wit, wat = pair
    probe = Probe((1, 0), ("s", 0))
    host.provide(wit, probe.impl())
    await host.spawn("metered", wat, manifest=manifest(
        "metered", quota="interface_calls_per_second = 0.001"))  # a burst of 1, no refill
    with pytest.raises(TrapError) as info:
        await host.request("metered", b"go")
    assert info.value.kind is TrapKind.HOST_ERROR
    assert isinstance(info.value.__cause__, QuotaExceeded)
    calls = [(r.target, r.decision) for r in audit.records
             if r.kind == "interfaces" and "#" in r.target]
    assert calls == [(f"{IFACE}#source-0", "allow"), (f"{IFACE}#sink-0", "deny")]
    assert probe.got == {}  # the refused call never reached the implementation


async def test_generous_quota_audits_each_call(host: aw.Host, pair: tuple[str, str],
                                               audit: MemoryAuditSink) -> None:
    wit, wat = pair
    probe = Probe((1, 0), ("s", 0))
    host.provide(wit, probe.impl())
    await host.spawn("many", wat, manifest=manifest(
        "many", quota="interface_calls_per_second = 1000"))
    await host.request("many", b"go")
    await host.request("many", b"go")
    calls = [r for r in audit.records if r.kind == "interfaces" and "#" in r.target]
    assert len(calls) == 8 and all(r.decision == "allow" for r in calls)
    assert probe.got == {0: (1, 0), 1: ("s", 0)}


async def test_unmetered_components_share_the_artifact_with_metered_ones(
        host: aw.Host, pair: tuple[str, str], audit: MemoryAuditSink) -> None:
    wit, wat = pair
    host.provide(wit, Probe((1, 0), ("s", 0)).impl())
    await host.spawn("free", wat, manifest=manifest("free"))
    await host.spawn("paid", wat, manifest=manifest("paid", quota="interface_calls_per_second = 1000"))
    await host.request("free", b"go")
    await host.request("paid", b"go")
    per_call = {r.component for r in audit.records if r.kind == "interfaces" and "#" in r.target}
    assert per_call == {"paid"}


def test_host_config_interfaces_and_bad_registrations(pair: tuple[str, str]) -> None:
    wit, _ = pair
    impl = Probe((0, 0), ("", 0)).impl()
    item = HostInterface(wit, impl)
    assert item.name == IFACE and set(item.functions) == set(impl)
    with pytest.raises(ConfigError, match=f"interface {IFACE} is already provided"):
        aw.Host(HostConfig(interfaces=[item, HostInterface(wit, impl)]))
    host = aw.Host(HostConfig(interfaces=[item]))
    with pytest.raises(ConfigError, match="already provided"):
        host.provide(wit, impl)
    with pytest.raises(ConfigError, match="HostInterface"):
        HostConfig(interfaces=[wit])  # type: ignore[list-item]
    host.engine.close()


class Ledger:
    def charge(self, account: str, cents: int) -> int:
        return cents

    def balance(self, account: str) -> int:
        return 0


LEDGER = """package acme:billing@1.0.0;
interface types { record money { cents: u64 } }
interface ledger {
    charge: func(account: string, cents: u64) -> u64;
    balance: func(account: string) -> u64;
}
interface audit { note: func(text: string); }
"""


@pytest.mark.parametrize("kwargs,error,needle", [
    ({"wit": "package acme:x@1.0.0;\ninterface i { f: func(a: nope); }", "implementation": {}},
     WitError, "2:26: unknown type 'nope'"),
    ({"wit": LEDGER, "implementation": Ledger()}, ConfigError,
     'several interfaces (audit, ledger, types); pick one with interface="acme:billing/ledger@1.0.0"'),
    ({"wit": LEDGER, "implementation": Ledger(), "interface": "bank"}, ConfigError,
     "has no interface 'bank'"),
    ({"wit": LEDGER, "implementation": object(), "interface": "ledger"}, ConfigError,
     "lacks charge (for charge: func(account: string, cents: u64) -> u64); balance"),
    ({"wit": LEDGER, "implementation": {"charge": lambda a: 0, "balance": lambda a: 0},
      "interface": "acme:billing/ledger@1.0.0"}, ConfigError,
     "`charge` takes (a) but the WIT declares 2 parameter(s) (account, cents)"),
    ({"wit": LEDGER, "implementation": {"charge": 3, "balance": lambda a: 0},
      "interface": "ledger"}, ConfigError, "`charge` of the implementation is a int"),
    ({"wit": LEDGER, "implementation": {"charge": lambda a, c: 0, "balance": lambda a: 0,
                                        "refund": lambda: 0}, "interface": "ledger"},
     ConfigError, "has refund, which the WIT does not declare"),
    ({"wit": LEDGER, "implementation": Ledger(), "interface": "ledger",
      "errors": {"boom": str}}, ConfigError, "errors keys must be exception classes"),
    ({"wit": LEDGER, "implementation": Ledger(), "interface": "ledger",
      "errors": {KeyError: str}}, ConfigError, "no function of the interface returns a result"),
    ({"wit": LEDGER.replace("acme:billing", "airssys:billing"), "implementation": Ledger(),
      "interface": "ledger"}, ConfigError, "namespace is reserved"),
    ({"wit": "/nonexistent/billing.wit", "implementation": Ledger()}, WitError,
     "no WIT file or folder"),
])
def test_bad_registrations_are_typed_errors(kwargs: dict[str, Any], error: type[Exception],
                                            needle: str) -> None:
    with pytest.raises(error) as info:
        HostInterface(**kwargs)
    assert needle in str(info.value)


def test_wit_from_a_file_and_snake_case_methods(tmp_path: Any) -> None:
    path = tmp_path / "billing.wit"
    path.write_text(LEDGER.replace("balance:", "get-balance:"))

    class Impl(Ledger):
        def get_balance(self, account: str) -> int:
            return 1

    item = HostInterface(path, Impl(), interface="ledger")
    assert item.name == "acme:billing/ledger@1.0.0"
    assert item.functions["get-balance"]("a") == 1


async def test_upgrade_decides_custom_imports_under_the_new_manifest(
        host: aw.Host, pair: tuple[str, str], audit: MemoryAuditSink) -> None:
    wit, wat = pair
    probe = Probe((1, 0), ("s", 0))
    host.provide(wit, probe.impl())
    await host.spawn("up", wat, manifest=manifest("up"))
    with pytest.raises(PermissionDenied, match="capabilities.interfaces"):
        await host.upgrade("up", wat, manifest("up", grants=""))
    await host.request("up", b"go")  # the refused upgrade changed nothing
    assert not [r for r in audit.records if "#" in r.target]
    await host.upgrade("up", wat, manifest("up", quota="interface_calls_per_second = 1000"))
    await host.request("up", b"go")
    per_call = [r.target for r in audit.records if r.kind == "interfaces" and "#" in r.target]
    assert per_call == [f"{IFACE}#{f}" for f in ("source-0", "sink-0", "source-1", "sink-1")]


async def test_builtin_ext_imports_are_type_checked_at_spawn_too(host: aw.Host) -> None:
    """The ext interfaces go through the same check as custom ones, against the shipped WIT."""
    from hostfn_guests import build_component, roundtrip_core

    wit = ("package airssys:ext-storage@1.0.0;\ninterface storage {\n"
           "    get: func(namespace: string) -> u32;\n}\n")
    core = roundtrip_core(0, "").replace(
        "(module\n", '(module\n  (import "cm32p2|airssys:ext-storage/storage@1" "get" '
                     "(func (param i32 i32) (result i32)))\n", 1)
    wat = build_component(wit, "airssys:ext-storage/storage@1.0.0", core)
    with pytest.raises(LoadError) as info:
        await host.spawn("old-storage", wat, manifest=(
            b'[component]\nname = "old-storage"\nversion = "1.0.0"\n'
            b'[capabilities]\nstorage.read = ["*"]\n'))
    text = str(info.value)
    assert "imports `get` from airssys:ext-storage/storage@1.0.0 with another type" in text
    assert "parameters: declared (namespace, key), the guest has (namespace)" in text


async def test_the_foreign_import_example_is_refused_at_spawn(host: aw.Host) -> None:
    from pathlib import Path

    wat = Path(__file__).resolve().parents[2] / "examples" / "wat" / "foreign-import.wat"
    with pytest.raises(LoadError, match="imports evil:pkg/backdoor@1.0.0, which this host does "
                                        r"not provide \(it provides: none\)"):
        await host.spawn("foreign", wat)
    assert host.names() == []
