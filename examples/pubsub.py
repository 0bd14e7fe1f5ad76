"""Publish/subscribe: one frame published on a topic reaches every subscribed component.

Run: python examples/pubsub.py

Three counters are spawned; two subscribe to "readings". Each publish is delivered to the
subscribers' ``handle-message`` (the host validates the frame once, then fans it out), and the
counters' ``execute("cnt?")`` answers prove who received what.
"""

from __future__ import annotations

import asyncio
import struct
from pathlib import Path

import airssys_wasm as aw
from airssys_wasm import multicodec as mc
from airssys_wasm import demo

WAT = Path(__file__).resolve().parent / "wat"


async def count(host: aw.Host, name: str) -> int:
    messages, _bytes = struct.unpack("<II", await host.request(name, b"cnt?"))
    return int(messages)


async def main() -> dict[str, int]:
    async with aw.Host(aw.HostConfig(name="pubsub")) as host:
        for name in ("north", "south", "archive"):
            await host.spawn(name, demo.path("counter"), manifest=WAT / "counter.toml")
        host.subscribe("readings", "north")
        host.subscribe("readings", "south")

        for celsius in (20.5, 21.0, 21.5):
            frame = mc.encode_value(mc.Codec.JSON, {"sensor": "s1", "celsius": celsius})
            delivered = await host.publish("readings", frame)
            print(f"published {celsius} to {delivered} subscribers")
            assert delivered == 2

        assert host.unsubscribe("readings", "south")          # True: it was subscribed
        assert await host.publish("readings", mc.encode(mc.Codec.RAW, b"late")) == 1
        assert await host.publish("nobody-listens", mc.encode(mc.Codec.RAW, b"x")) == 0

        counts = {name: await count(host, name) for name in ("north", "south", "archive")}
        print(f"messages received: {counts}")
        assert counts == {"north": 4, "south": 3, "archive": 0}
        return counts


if __name__ == "__main__":
    asyncio.run(main())
