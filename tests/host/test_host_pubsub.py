"""Publish/subscribe through the broker: frames reach every subscriber's handle-message."""

from __future__ import annotations

import pytest
from host_helpers import PINGPONG, PLAIN, u32

import airssys_wasm as aw


async def test_publish_reaches_every_subscriber(host) -> None:
    for name in ("a", "b", "c"):
        await host.spawn(name, PINGPONG)
    host.subscribe("news", "a")
    host.subscribe("news", "b")
    host.subscribe("news", "b")  # subscribing twice delivers once
    assert await host.publish("news", PLAIN) == 2
    assert await host.publish("weather", PLAIN) == 0
    counts = [u32(await host.request(n, b"cnt?")) for n in ("a", "b", "c")]
    assert counts == [1, 1, 0]


async def test_publish_validates_the_frame(host) -> None:
    await host.spawn("a", PINGPONG)
    host.subscribe("news", "a")
    with pytest.raises(aw.CodecError):
        await host.publish("news", b"\x75bad")
    assert u32(await host.request("a", b"cnt?")) == 0


async def test_unsubscribe_and_stop_end_the_subscription(host) -> None:
    await host.spawn("a", PINGPONG)
    await host.spawn("b", PINGPONG)
    host.subscribe("news", "a")
    host.subscribe("news", "b")
    assert host.unsubscribe("news", "a")
    await host.stop("b")
    assert await host.publish("news", PLAIN) == 0
    with pytest.raises(aw.ComponentNotFound):
        host.subscribe("news", "b")
