"""The per-message send gate (``SendGate``): a guest's allowed ``send-message`` in C.

The gate replays one decision of the sender's policy; whatever it passes must be exactly what
the policy would have allowed without writing an audit line, and whatever it declines must
leave no trace, so the policy's own path can decide it. Checked against a model on generated
inputs, and end to end with real components and the default provider.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import airssys_wasm as aw
from airssys_wasm import Host, HostConfig
from airssys_wasm._fast._router import GatedSend, SendGate
from airssys_wasm._fast.fastcall import Oversized
from airssys_wasm.actor import Mailbox
from airssys_wasm.host import Router
from airssys_wasm.security import Decision, DenyCode, HostSecurity, PermissionPolicy

from host_helpers import PINGPONG, burst_op, eventually, u32

SENDER = aw.ComponentId("a")
SEND = "messaging.send"


class Audit:
    """An audit log's probe as the gate reads it: ``keeps_lines`` (None: cannot say)."""

    def __init__(self, keeps: bool | None) -> None:
        self.asked = 0
        self.keeps_lines: Callable[[], bool] | None = None if keeps is None else self._ask
        self._keeps = keeps

    def _ask(self) -> bool:
        self.asked += 1
        return bool(self._keeps)


class PlainBox:
    """A duck-typed mailbox with no C ring: the gate never writes into it."""

    def __init__(self) -> None:
        self.items: list[Any] = []

    def try_put(self, item: Any) -> None:
        self.items.append(item)


NAMES = ["b", "big", "plain", "full", "shut", "ghost"]


def _router() -> tuple[Router, dict[str, Any]]:
    router = Router()
    boxes: dict[str, Any] = {"b": Mailbox(64), "big": Mailbox(64), "plain": PlainBox(),
                             "full": Mailbox(1), "shut": Mailbox(4)}
    for name, box in boxes.items():
        router.add(name, box, aw.ComponentId(name), 4 if name == "big" else -1)
    boxes["full"].try_put("occupant")
    boxes["shut"].close()
    return router, boxes


def _expected(gate_state: dict[str, Any], target: Any, message: Any) -> bool:
    """When the gate must pass a send: every condition of SendGate's docstring, spelled out."""
    if not gate_state["bound"] or gate_state["closed"] or gate_state["metered"]:
        return False
    if type(message) is not bytes or not message or message[0] != 0x55:  # raw frames only here
        return False
    if target.namespace or target.version:
        return False
    allowed = gate_state["allowed"]
    if allowed is not None and allowed.get(target.name) is not True:
        return False
    keeps = gate_state["keeps"]
    if keeps == "no-log":
        pass
    elif keeps is None or keeps:
        return False
    if target.name not in ("b", "big"):  # plain: no ring; full, shut; ghost: not routed
        return False
    return not (target.name == "big" and len(message) > 4)


@settings(max_examples=400, deadline=None)
@given(
    allowed=st.none() | st.dictionaries(st.sampled_from(NAMES), st.sampled_from([True, False, 1])),
    metered=st.booleans(),
    keeps=st.sampled_from(["no-log", None, True, False]),
    bound=st.booleans(),
    closed=st.booleans(),
    name=st.sampled_from(NAMES),
    namespace=st.sampled_from(["", "ns"]),
    version=st.sampled_from(["", "1.0.0"]),
    message=st.sampled_from([b"\x55", b"\x55abc", b"\x55abcdef", b"\x00bad", b"",
                             bytearray(b"\x55x"), "text", Oversized(10, 4)]),
)
def test_the_gate_passes_exactly_what_the_model_allows_and_nothing_else(
        allowed: dict[str, Any] | None, metered: bool, keeps: Any, bound: bool, closed: bool,
        name: str, namespace: str, version: str, message: Any) -> None:
    router, boxes = _router()
    audit = None if keeps == "no-log" else Audit(keeps)
    gate = SendGate(allowed, metered=metered, audit=audit)
    if bound:
        gate.bind(router, SENDER)
    if closed:
        gate.close()
    target = aw.ComponentId(name, namespace=namespace, version=version)
    before = {n: len(b.items) if isinstance(b, PlainBox) else len(b) for n, b in boxes.items()}
    routed = router.routed
    passed = gate.try_send(target, message)
    state = {"bound": bound, "closed": closed, "metered": metered, "allowed": allowed,
             "keeps": keeps}
    assert passed is _expected(state, target, message)
    after = {n: len(b.items) if isinstance(b, PlainBox) else len(b) for n, b in boxes.items()}
    if passed:
        assert gate.sent == 1 and router.routed == routed + 1
        assert boxes[name].drain(64) == [(SENDER, message)]
        assert {n: after[n] - before[n] for n in after} == {n: int(n == name) for n in after}
    else:  # declined: nothing counted, nothing enqueued
        assert gate.sent == 0 and router.routed == routed and after == before


def test_the_same_target_object_is_read_once_and_a_new_one_again() -> None:
    router, boxes = _router()
    gate = SendGate({"b": True, "big": True})
    gate.bind(router, SENDER)
    b = aw.ComponentId("b")
    assert gate.try_send(b, b"\x55x") and gate.try_send(b, b"\x55y")
    assert not gate.try_send(aw.ComponentId("big", version="2"), b"\x55z")  # addressed: policy
    assert gate.try_send(aw.ComponentId("big"), b"\x55z")
    assert gate.try_send(b, b"\x55w")
    assert boxes["b"].drain(8) == [(SENDER, b"\x55x"), (SENDER, b"\x55y"), (SENDER, b"\x55w")]
    assert gate.sent == 4


def test_an_audit_log_that_cannot_say_is_always_asked_by_the_policy() -> None:
    router, boxes = _router()
    gate = SendGate({"b": True}, audit=object())  # no keeps_lines at all
    gate.bind(router, SENDER)
    assert not gate.try_send(aw.ComponentId("b"), b"\x55x")
    assert gate.sent == 0 and len(boxes["b"]) == 0


async def test_with_senders_waiting_the_gate_does_what_try_put_does() -> None:
    router = Router()
    box = Mailbox(1)
    router.add("b", box, aw.ComponentId("b"))
    gate = SendGate({"b": True})
    gate.bind(router, SENDER)
    b = aw.ComponentId("b")
    box.try_put("first")
    waiting = asyncio.ensure_future(box.put("second"))
    await asyncio.sleep(0)
    assert box.waiting_senders == 1
    assert not gate.try_send(b, b"\x55x")  # full, a sender queued: declined, as try_put refuses
    with pytest.raises(aw.MailboxFull):
        box.try_put("third")
    assert box.drain(1) == ["first"]  # wakes the sender; until it runs, the slot is free
    assert gate.try_send(b, b"\x55y")  # taken as try_put would; the woken sender waits again
    assert box.drain(4) == [(SENDER, b"\x55y")]
    await waiting
    assert box.drain(4) == ["second"] and gate.sent == 1


def test_gated_send_falls_back_with_the_same_arguments() -> None:
    calls: list[tuple[Any, ...]] = []

    def fallback(data: Any, target: Any, message: Any) -> Any:
        calls.append((data, target, message))
        return ("err", ("unavailable", "fallback"))

    class Data:
        send_gate: Any = None

    router, boxes = _router()
    ok = ("ok", None)
    send = GatedSend(fallback, ok)
    data = Data()
    b = aw.ComponentId("b")
    assert send(data, b, b"\x55x") == ("err", ("unavailable", "fallback"))  # no gate
    data.send_gate = gate = SendGate({"b": True})
    assert send(data, b, b"\x55x") == ("err", ("unavailable", "fallback"))  # not bound
    gate.bind(router, SENDER)
    assert send(data, b, b"\x55y") is ok
    assert send(data, aw.ComponentId("ghost"), b"\x55z")[0] == "err"
    data.send_gate = object()  # not a gate: never trusted
    assert send(data, b, b"\x55w")[0] == "err"
    assert [c[1].name for c in calls] == ["b", "b", "ghost", "b"]
    assert boxes["b"].drain(8) == [(SENDER, b"\x55y")]
    with pytest.raises(TypeError, match="callable"):
        GatedSend(None, ok)


# --- end to end: a real host, the default provider, real components ------------------------------

@contextmanager
def policy_checks() -> Iterator[list[str]]:
    """The targets ``PermissionPolicy.check`` was called for while the block ran (this thread,
    which is where guests' host calls run)."""
    code = PermissionPolicy.check.__code__
    seen: list[str] = []

    def profile(frame: Any, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code is code:
            seen.append(frame.f_locals["target"])

    sys.setprofile(profile)
    try:
        yield seen
    finally:
        sys.setprofile(None)


def gate_of(host: Host, name: str) -> SendGate:
    gate = host.registry.get(name).services.send_gate
    assert isinstance(gate, SendGate)
    return gate


async def burst(host: Host, sender: str, target: str, n: int) -> int:
    return u32(await host.request(sender, burst_op(target, n)))


async def handled(host: Host, name: str, n: int) -> None:
    ref = host.ref(name)
    for _ in range(2000):
        if ref.stats.messages_out >= n:
            return
        await asyncio.sleep(0.001)
    raise AssertionError(f"{name} handled {ref.stats.messages_out} of {n}")


async def test_unobserved_allowed_sends_pass_the_gate_and_count_as_decisions(engine) -> None:
    async with Host(HostConfig(health=None), engine=engine) as host:
        await host.spawn("a", PINGPONG)
        await host.spawn("b", PINGPONG)
        gate = gate_of(host, "a")
        with policy_checks() as checks:
            assert await burst(host, "a", "b", 200) == 200
        await handled(host, "b", 200)
        assert checks == ["b"]  # the first send to "b" asked the policy; the gate did the rest
        assert gate.sent == 199  # the policy counts its own decision with the others
        assert host.security.decisions()[("a", SEND, True)] == 200


async def test_an_observed_audit_trail_makes_every_send_a_logged_decision(
        engine, caplog: pytest.LogCaptureFixture) -> None:
    async with Host(HostConfig(health=None), engine=engine) as host:
        await host.spawn("a", PINGPONG)
        await host.spawn("b", PINGPONG)
        assert await burst(host, "a", "b", 5) == 5
        with caplog.at_level(logging.INFO, logger="airssys_wasm.audit"):  # now someone keeps it
            with policy_checks() as checks:
                assert await burst(host, "a", "b", 20) == 20
        logged = [r for r in caplog.records if r.name == "airssys_wasm.audit"
                  and "messaging.send" in r.getMessage()]
        assert len(checks) == 20 and len(logged) == 20
        with policy_checks() as checks:  # unobserved again: straight through
            assert await burst(host, "a", "b", 20) == 20
        assert checks == []
        await handled(host, "b", 45)
        assert host.security.decisions()[("a", SEND, True)] == 45


def sender_manifest(send: str, extra: str = "") -> str:
    """Component.toml of sender ``a``, allowed to message ``send`` (a pattern)."""
    return ('[component]\nname = "a"\nversion = "1.0.0"\n[capabilities.messaging]\n'
            f'send = ["{send}"]\n{extra}')


async def test_a_message_rate_quota_sees_every_send(engine) -> None:
    manifest = sender_manifest("b", "[quota]\nmessages_per_second = 0.001\nmessage_burst = 3\n")
    async with Host(HostConfig(health=None), engine=engine) as host:
        await host.spawn("a", PINGPONG, manifest=manifest)
        await host.spawn("b", PINGPONG)
        assert gate_of(host, "a").metered
        with policy_checks() as checks:
            assert await burst(host, "a", "b", 10) == 3
        assert len(checks) == 10
        assert host.security.decisions()[("a", SEND, False)] == 7


async def test_a_target_the_grant_does_not_name_is_denied_every_time(engine) -> None:
    manifest = sender_manifest("worker-*")
    async with Host(HostConfig(health=None), engine=engine) as host:
        await host.spawn("a", PINGPONG, manifest=manifest)
        await host.spawn("b", PINGPONG)
        await host.spawn("worker-1", PINGPONG)
        with policy_checks() as checks:
            assert await burst(host, "a", "b", 10) == 0
            assert await burst(host, "a", "worker-1", 10) == 10
        assert checks == ["b"] * 10 + ["worker-1"]
        assert gate_of(host, "a").allowed == {"b": False, "worker-1": True}


async def test_a_stopped_component_s_gate_is_closed_and_a_respawn_gets_its_own(engine) -> None:
    async with Host(HostConfig(health=None), engine=engine) as host:
        await host.spawn("a", PINGPONG)
        await host.spawn("b", PINGPONG)
        assert await burst(host, "a", "b", 3) == 3
        old = gate_of(host, "a")
        await host.stop("a")
        assert old.closed and not old.try_send(aw.ComponentId("b"), b"\x55x")
        await host.spawn("a", PINGPONG)
        new = gate_of(host, "a")
        assert new is not old and not new.closed and new.allowed == {}
        with policy_checks() as checks:
            assert await burst(host, "a", "b", 3) == 3
        assert checks == ["b"]
        await handled(host, "b", 6)
        assert host.security.decisions()[("a", SEND, True)] == 6


class NoMessagesToB(PermissionPolicy):
    """A policy that decides more itself: its gate must never replay the parent's verdicts."""

    def check(self, component: str, kind: str, target: object, *,
              amount: int | None = None) -> Decision:
        if kind == SEND and target == "b" and self.closed_for_b:
            return Decision(False, "b is closed for maintenance", DenyCode.PERMISSION_DENIED)
        return super().check(component, kind, target, amount=amount)

    closed_for_b = False


async def test_a_policy_that_overrides_check_is_asked_for_every_message(engine) -> None:
    policy = NoMessagesToB()
    async with Host(HostConfig(health=None, security=HostSecurity(policy)), engine=engine) as host:
        await host.spawn("a", PINGPONG)
        await host.spawn("b", PINGPONG)
        assert host.registry.get("a").services.send_gate is None
        assert await burst(host, "a", "b", 5) == 5
        policy.closed_for_b = True
        assert await burst(host, "a", "b", 5) == 0


async def test_a_provider_whose_check_was_replaced_gets_no_gate(engine) -> None:
    security = HostSecurity()
    asked: list[object] = []
    inner = security.check

    def check(component: str, kind: str, target: object, **kw: Any) -> Any:
        asked.append(target)
        return inner(component, kind, target, **kw)

    security.check = check  # type: ignore[method-assign]
    async with Host(HostConfig(health=None, security=security), engine=engine) as host:
        await host.spawn("a", PINGPONG)
        await host.spawn("b", PINGPONG)
        assert host.registry.get("a").services.send_gate is None
        assert await burst(host, "a", "b", 7) == 7
        assert asked == ["b"] * 7


async def test_a_full_mailbox_is_refused_by_the_policy_s_path(engine) -> None:
    async with Host(HostConfig(health=None), engine=engine) as host:
        await host.spawn("a", PINGPONG)
        await host.spawn("b", PINGPONG, capacity=4)
        cap = host.router.get("b").mailbox.capacity
        # b sleeps inside a guest call (its actor parks on it and drains nothing): cap fit,
        # the rest are refused as mailbox-full through the policy's path (each decided, then
        # refused by the router)
        napping = asyncio.ensure_future(host.request("b", b"nap!", timeout=5))
        box = host.router.get("b").mailbox
        await eventually(lambda: box.accepted == 1 and len(box) == 0, "b napping")
        with policy_checks() as checks:
            assert await burst(host, "a", "b", cap + 6) == cap
        assert len(checks) == 1 + 6
        assert await host.request("a", b"why?") == bytes([1, 2])  # err, mailbox-full
        assert await napping == b"awake"
        await handled(host, "b", cap)

