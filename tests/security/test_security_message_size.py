"""`[limits] max_message`: the largest message a component accepts or sends, enforced before
any copy on every entry point (Host.send / try_send / request / publish, a guest's
send-message / send-request), at limit-1, limit and limit+1; refusals are typed, audited, and
nothing accepted is lost."""

from __future__ import annotations

import struct

import pytest

import airssys_wasm as aw
from airssys_wasm._fast.fastcall import Oversized
from airssys_wasm.types import ComponentConfig

from security_helpers import denials, manifest
from airssys_wasm import demo
from airssys_wasm.benchmarks import guests

PINGPONG = guests.path("pingpong")
STAGE = demo.path("stage")
LIMIT = 64
MSG_EXHAUSTED = 4  # messaging-error resource-exhausted


def frame(size: int) -> bytes:
    return b"\x55" + b"x" * (size - 1)  # a raw multicodec frame of exactly `size` bytes


def limited(name: str, limit: int = LIMIT, caps: str = "") -> str:
    return manifest(name, caps, limits=f"max_message = {limit}")


async def counted(host: aw.Host, name: str) -> int:
    return struct.unpack("<I", await host.request(name, b"cnt?"))[0]


async def test_python_entry_points_refuse_over_the_targets_limit(host, audit) -> None:
    await host.spawn("small", PINGPONG, manifest=limited("small"))
    assert host.registry.get("small").limits.max_message_bytes == LIMIT
    await host.send("small", frame(LIMIT - 1))
    await host.send("small", frame(LIMIT))
    host.try_send("small", bytearray(frame(LIMIT)))
    with pytest.raises(aw.MessageTooLarge, match=r"65-byte message is over the 64-byte") as info:
        await host.send("small", frame(LIMIT + 1))
    assert (info.value.size, info.value.limit) == (LIMIT + 1, LIMIT)
    assert "core-ABI lane" in str(info.value) and isinstance(info.value, ValueError)
    with pytest.raises(aw.MessageTooLarge):
        host.try_send("small", memoryview(frame(LIMIT + 1)))
    assert await host.request("small", b"e" * LIMIT) == b"e" * LIMIT  # echoed: at the limit
    with pytest.raises(aw.MessageTooLarge):
        await host.request("small", b"e" * (LIMIT + 1))
    host.subscribe("t", "small")
    assert await host.publish("t", frame(LIMIT)) == 1
    with pytest.raises(aw.MessageTooLarge):
        await host.publish("t", frame(LIMIT + 1))
    assert await counted(host, "small") == 4  # the four at or under the limit, nothing else
    refused = [r for r in denials(audit, "messaging.send") if "max_message" in r.reason]
    assert len(refused) == 4 and all(r.target == "small" for r in refused)
    assert refused[0].reason == "message of 65 bytes over max_message 64"


async def test_a_guest_send_over_the_targets_limit_gets_its_error(host, audit) -> None:
    """A stage forwards each frame to `sink` with send-message: the sink's limit applies."""
    await host.spawn("sink", PINGPONG, manifest=limited("sink"))
    await host.spawn("stage", STAGE, manifest=manifest("stage", '[capabilities]\nmessaging.send = ["sink"]'),
                     config=ComponentConfig(config_data=b"f-sink"))
    for size in (LIMIT - 1, LIMIT, LIMIT + 1):
        await host.send("stage", frame(size))
    stats = struct.unpack("<III", await host.request("stage", b"stat"))
    assert stats == (3, 2, 1)  # handled, forwarded, forward failures
    assert await counted(host, "sink") == 2
    [line] = [r for r in denials(audit, "messaging.send") if "max_message" in r.reason]
    assert (line.component, line.target) == ("stage", "sink")


async def test_a_guest_send_over_its_own_limit_is_refused_and_audited(host, audit) -> None:
    """What the host's messaging gets from send-message / send-request when the message is
    over the sender's own max_message: an Oversized (size only, the bytes never left the
    guest; tests/fast/test_suspend.py checks the trampoline side). It is refused with
    MessageTooLarge (the guest's resource-exhausted) and audited."""
    await host.spawn("b", PINGPONG)
    await host.spawn("a", PINGPONG, manifest=limited("a", caps='[capabilities]\nmessaging.send = ["b"]'))
    a, b = host.registry.get("a").component_id, host.registry.get("b").component_id
    oversized = Oversized(LIMIT + 1, LIMIT)  # what the trampoline hands over
    for send in (lambda m: host.messaging.send_message(a, b, m),
                 lambda m: host.messaging.send_request(a, b, m, 1000)):
        with pytest.raises(aw.MessageTooLarge, match="65-byte message, over its own 64-byte"):
            send(oversized)
    assert await counted(host, "b") == 0
    lines = [r for r in denials(audit, "messaging.send") if "max_message" in r.reason]
    assert [(r.component, r.target) for r in lines] == [("a", "b"), ("a", "b")]


async def test_max_message_in_the_manifest_is_bounded_by_trust(host) -> None:
    with pytest.raises(aw.ManifestError, match="max_message = 2097152 exceeds the unknown ceiling"):
        await host.spawn("big", PINGPONG, manifest=limited("big", 2 << 20))
    with pytest.raises(aw.ManifestError, match="limits.max_message"):
        await host.spawn("tiny", PINGPONG, manifest=limited("tiny", 8))
    await host.spawn("bulk", PINGPONG, trust="trusted", manifest=limited("bulk", 4 << 20))
    await host.send("bulk", frame(2 << 20))  # trusted may raise it
    assert await counted(host, "bulk") == 1
    await host.spawn("default", PINGPONG)
    assert host.registry.get("default").limits.max_message_bytes == 1 << 20
    with pytest.raises(aw.MessageTooLarge):
        await host.send("default", frame((1 << 20) + 1))
