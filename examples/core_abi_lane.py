"""The core-ABI lane: a plain core module (no component model) that receives each message
with one memcpy into its linear memory — the lane for bulk payloads.

Run: python examples/core_abi_lane.py

``core_actor.wat`` exports ``memory``, ``alloc(len) -> ptr`` and ``handle(sender_ptr,
sender_len, msg_ptr, msg_len) -> i32``; its optional ``execute("last")`` answers the first KiB
of the last message. The same module runs under a Host (an actor like any component) and
directly through the runtime layer (an ``Instance`` in its own Store, no actor).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import airssys_wasm as aw
from airssys_wasm import multicodec as mc
from airssys_wasm.runtime import CoreModuleArtifact
from airssys_wasm.benchmarks import guests

WAT = Path(__file__).resolve().parent / "wat"
BULK = mc.encode(mc.Codec.RAW, bytes(range(256)) * 2048)      # a 512 KiB frame


async def under_a_host() -> bytes:
    async with aw.Host(aw.HostConfig(name="bulk")) as host:
        await host.spawn("bulk", guests.path("core_actor"))
        await host.send("bulk", BULK)
        reply = await host.request("bulk", b"last")
        assert reply == BULK[:1024] and await host.health("bulk") is aw.HealthStatus.HEALTHY
        print(f"host: sent {len(BULK)} bytes, the actor kept the first {len(reply)}")
        return reply


def without_a_host() -> bytes:
    with aw.Engine() as engine:
        artifact = engine.load(guests.path("core_actor"))
        assert isinstance(artifact, CoreModuleArtifact) and artifact.has("execute")
        with artifact.instantiate(aw.Limits(memory_bytes=4 << 20)) as instance:
            instance.handle_message(aw.ComponentId("python"), BULK)
            reply = instance.execute(b"last")
            assert isinstance(reply, bytes) and reply == BULK[:1024]
            print(f"runtime: a {type(instance).__name__} without an actor kept the same {len(reply)}")
            return reply


async def main() -> dict[str, int]:
    hosted = await under_a_host()
    direct = without_a_host()
    assert hosted == direct
    return {"kept": len(hosted)}


if __name__ == "__main__":
    asyncio.run(main())
