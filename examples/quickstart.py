"""The Host API in one page: spawn components, message them, watch supervision work.

Run: python examples/quickstart.py      (needs only `pip install .`)

It starts a counter and a crasher, sends messages from Python, asks the counter for its count
(a request answered by the component's `execute`), makes the crasher trap and shows that its
supervisor restarted it and that the message that killed it became a dead letter.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from pathlib import Path

import airssys_wasm as aw
from airssys_wasm import multicodec as mc
from airssys_wasm.actor import Backoff, RestartEvent
from airssys_wasm import demo

HERE = Path(__file__).resolve().parent / "wat"


async def main() -> dict[str, object]:
    async with aw.Host(aw.HostConfig(name="quickstart")) as host:
        restarts: list[RestartEvent] = []
        host.add_listener(lambda e: restarts.append(e) if isinstance(e, RestartEvent) else None)

        # A component is a .wasm/.wat file; its Component.toml gives version, limits, grants.
        counter = await host.spawn("counter", demo.path("counter"), manifest=HERE / "counter.toml")
        sup = await host.supervisor("workers", strategy="one_for_one", max_restarts=5, within=10)
        await host.spawn("crasher", demo.path("crasher"), manifest=HERE / "crasher.toml",
                         supervisor=sup, backoff=Backoff(initial=0.05))

        # Messages are multicodec frames: a varint codec prefix, then the payload.
        for i in range(10):
            await host.send("counter", mc.encode_value(mc.Codec.JSON, {"n": i}))
        count, size = struct.unpack("<II", await counter.request(b"cnt?"))
        print(f"counter: {count} messages, {size} bytes; health: {(await counter.health()).value}")

        await host.send("crasher", mc.encode(mc.Codec.RAW, b"poison"))  # traps: unreachable
        await host.send("crasher", mc.encode(mc.Codec.RAW, b"fine"))    # handled after restart
        while host.ref("crasher").stats.messages_out < 1:
            await asyncio.sleep(0.01)
        letter = host.dead_letters[0]
        # A dead letter's error is whatever failed the message; here it must be the trap.
        if not isinstance(letter.error, aw.TrapError):
            raise RuntimeError(f"expected the poison message to trap, got {letter.error!r}")
        trap = letter.error.kind.value
        print(f"crasher: restarted {host.ref('crasher').stats.restarts}x; dead letter "
              f"{bytes(mc.decode(letter.message[1])[1])!r} ({trap})")
        return {"count": count, "restarts": len(restarts), "trap": trap}


if __name__ == "__main__":
    logging.basicConfig(format="  (log) %(name)s: %(message)s")
    asyncio.run(main())
