"""Host.send and component -> component messaging through host-services and the router."""

from __future__ import annotations

import asyncio

import pytest
from host_helpers import (
    ECHO,
    PINGPONG,
    PLAIN,
    REFUSE,
    burst_op,
    eventually,
    ping,
    send_op,
    u32,
)

import airssys_wasm as aw
from airssys_wasm import multicodec as mc
from airssys_wasm import Host, HostConfig
from airssys_wasm.actor import DeadLetterReason
from airssys_wasm.host import SecurityProvider
from airssys_wasm.security import AuditLog, Decision, HostSecurity, PermissionPolicy
from airssys_wasm.benchmarks import guests


class Spy:
    """A SecurityProvider that delegates to the default one, but lets a test see (and
    override) every check."""

    def __init__(self, decide) -> None:
        self.inner = HostSecurity(audit=[])
        self.decide = decide

    def admit(self, name, manifest, *, trust, base_limits, wasi=False):
        return self.inner.admit(name, manifest, trust=trust, base_limits=base_limits, wasi=wasi)

    def release(self, name) -> None:
        self.inner.release(name)

    def check(self, component, kind, target, *, amount=None):
        return self.decide(component, kind, target) or self.inner.check(component, kind, target,
                                                                         amount=amount)

    def check_resolved(self, component, kind, target, addresses, *, failure=None):
        return self.inner.check_resolved(component, kind, target, addresses, failure=failure)

    def performed(self, component, kind, target, what) -> None:
        self.inner.performed(component, kind, target, what)


async def count(host: Host, name: str) -> int:
    return u32(await host.request(name, b"cnt?"))


async def test_send_delivers_the_frame_verbatim(host) -> None:
    await host.spawn("echo", ECHO)
    frame = mc.encode(mc.Codec.JSON, b'{"n": [1, 2, 3]}')
    await host.send("echo", frame)
    assert await host.request("echo", b"last") == frame


async def test_send_copies_mutable_buffers_at_send_time(host) -> None:
    await host.spawn("echo", ECHO)
    buf = bytearray(b"\x55hello")
    await host.send("echo", buf)
    buf[1:] = b"XXXXX"
    assert await host.request("echo", b"last") == b"\x55hello"


async def test_bad_frames_are_codec_errors_and_deliver_nothing(host) -> None:
    await host.spawn("pp", PINGPONG)
    for bad in (b"", b"\x80", b"\x75x", b"\x80\x00x"):
        with pytest.raises(aw.CodecError):
            await host.send("pp", bad)
    with pytest.raises(TypeError):
        await host.send("pp", "\x55text")  # type: ignore[arg-type]
    assert await count(host, "pp") == 0


async def test_unknown_component_is_component_not_found(host) -> None:
    with pytest.raises(aw.ComponentNotFound, match="ghost"):
        await host.send("ghost", PLAIN)
    with pytest.raises(aw.ComponentNotFound):
        await host.request("ghost", b"cnt?")


async def test_python_messages_carry_the_host_id_as_sender(engine) -> None:
    # pingpong answers a ping to its sender: with host_id naming a component, the answer lands there.
    config = HostConfig(health=None, host_id=aw.ComponentId("observer"))
    async with Host(config, engine=engine) as host:
        await host.spawn("pp", PINGPONG)
        await host.spawn("observer", PINGPONG)
        await host.send("pp", ping(1))
        await eventually(lambda: host.ref("observer").stats.messages_out == 1, "reply to the host id")
        assert await count(host, "observer") == 1


async def test_two_components_play_ping_pong_through_host_functions(host) -> None:
    await host.spawn("a", PINGPONG)
    await host.spawn("b", PINGPONG)
    assert await host.request("a", send_op("b", 6)) == b"sent"
    # b receives ttl 6, 4, 2, 0; a receives 5, 3, 1
    await eventually(lambda: host.ref("b").stats.messages_out >= 4
                     and host.ref("a").stats.messages_out >= 4, "the rally to end")
    assert await count(host, "b") == 4
    assert await count(host, "a") == 3


async def test_guest_send_enqueues_without_a_task_switch(engine) -> None:
    """All 50 sends of one guest call happen inside the sender's task, and the target's mailbox
    grows by one per send: the target never ran in between (no await per message). The
    sender gets a time slice long enough for the burst (a shorter one would let the target
    run when the slice ends, which is the point of slices)."""
    seen: list[tuple[object, int]] = []

    def watch(component: str, kind: str, target: str) -> None:
        queued = len(host.ref(target).actor.mailbox)
        seen.append((asyncio.current_task(), queued))

    async with Host(HostConfig(health=None, security=Spy(watch)), engine=engine) as host:
        await host.spawn("a", PINGPONG, limits=aw.Limits(slice_us=200_000))
        await host.spawn("b", PINGPONG)
        assert u32(await host.request("a", burst_op("b", 50))) == 50
        assert len({task for task, _ in seen}) == 1
        assert [queued for _, queued in seen] == list(range(50))
        await eventually(lambda: host.ref("b").stats.messages_out == 50, "b to drain")
        assert await count(host, "b") == 50


async def test_guest_send_to_unknown_target_is_reported_to_the_guest(host) -> None:
    await host.spawn("a", PINGPONG)
    reply = await host.request("a", send_op("nobody", 1))
    assert b"nobody" in reply and b"spawn it first" in reply


async def test_policy_sees_every_guest_send_and_can_deny(engine) -> None:
    calls: list[tuple[str, str, str]] = []

    def deny_b(component: str, kind: str, target: str) -> Decision | None:
        calls.append((component, kind, target))
        return Decision(False, "b is off limits for tests", "permission-denied") \
            if target == "b" else None

    async with Host(HostConfig(health=None, security=Spy(deny_b)), engine=engine) as host:
        await host.spawn("a", PINGPONG)
        await host.spawn("b", PINGPONG)
        await host.spawn("c", PINGPONG)
        denied = await host.request("a", send_op("b", 0))
        assert b"b is off limits for tests" in denied
        assert await host.request("a", send_op("c", 0)) == b"sent"
        await eventually(lambda: host.ref("c").stats.messages_out == 1, "c to receive")
        assert await count(host, "b") == 0
        assert calls == [("a", "messaging.send", "b"), ("a", "messaging.send", "c")]


def test_the_default_security_enforces_manifests() -> None:
    """Host() is secure by default: the security layer's PermissionPolicy, not allow-all."""
    assert HostConfig().security is None  # None = the installed default
    security = Host().security
    assert isinstance(security, HostSecurity) and isinstance(security, SecurityProvider)
    assert isinstance(security.policy, PermissionPolicy)
    assert isinstance(security.audit, AuditLog)
    with pytest.raises(aw.ConfigError):
        HostConfig(security=object())  # type: ignore[arg-type]
    with pytest.raises(aw.ConfigError):
        HostConfig(default_trust="root")


async def test_guest_error_value_is_a_dead_letter_without_restart(host) -> None:
    ref = await host.spawn("pp", PINGPONG)
    await host.send("pp", REFUSE)
    await host.send("pp", PLAIN)
    assert await count(host, "pp") == 1
    [letter] = host.dead_letters
    assert letter.message == (host.config.host_id, REFUSE)
    assert letter.reason is DeadLetterReason.FAILED
    assert isinstance(letter.error, aw.GuestError) and letter.error.case == "internal-error"
    assert ref.stats.restarts == 0 and host.stats("pp").guest_errors == 1


async def test_full_mailbox_applies_backpressure_and_try_send_raises(host) -> None:
    await host.spawn("pp", PINGPONG, capacity=2)
    host.try_send("pp", PLAIN)
    host.try_send("pp", PLAIN)
    with pytest.raises(aw.MailboxFull):
        host.try_send("pp", PLAIN)
    await host.send("pp", PLAIN)  # waits for the actor to drain
    assert await count(host, "pp") == 3


async def test_namespace_and_version_are_part_of_the_component_id(engine) -> None:
    async with Host(HostConfig(health=None, namespace="tenant"), engine=engine) as host:
        a = await host.spawn("a", PINGPONG, manifest={
            "component": {"name": "a", "version": "1.2.0"},
            "capabilities": {"messaging": {"send": ["b"]}}})
        await host.spawn("b", PINGPONG)
        assert a.component_id == aw.ComponentId("a", namespace="tenant", version="1.2.0")
        assert sorted(map(str, host.registry.list_components())) == ["tenant/a@1.2.0", "tenant/b"]
        # b answers a's ping to the full sender id {tenant, a, 1.2.0}
        await host.request("a", send_op("b", 1))
        await eventually(lambda: host.ref("a").stats.messages_out >= 2, "b's answer")
        assert await count(host, "a") == 1


async def test_core_abi_modules_are_components_too(host) -> None:
    await host.spawn("core", guests.path("core_actor"))
    frame = mc.encode(mc.Codec.RAW, b"bulk payload " * 100)
    await host.send("core", frame)
    assert await host.request("core", b"last") == frame[:1024]  # it keeps the first KiB
    assert await host.health("core") is aw.HealthStatus.HEALTHY
