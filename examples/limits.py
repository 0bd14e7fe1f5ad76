"""Limits: memory, fuel, stack and wall-clock bounds, each ending a runaway guest with a typed
trap kind while the host keeps running.

Run: python examples/limits.py

Under a host, ``crasher``'s manifest says ``timeout_ms = 50``: an endless loop is cut off, the
message becomes a dead letter of kind ``timeout`` and the component is restarted. Without a
host, ``chaos`` (whose first message byte picks a misbehaviour) shows the other kinds on
instances created with explicit ``Limits``.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import airssys_wasm as aw
from airssys_wasm import multicodec as mc
from airssys_wasm import demo

WAT = Path(__file__).resolve().parent / "wat"
MiB = 1 << 20


async def under_a_host() -> aw.TrapKind:
    async with aw.Host(aw.HostConfig(name="limits", backoff=aw.Backoff(initial=0.01))) as host:
        crasher = await host.spawn("crasher", demo.path("crasher"), manifest=WAT / "crasher.toml")
        await host.send("crasher", mc.encode(mc.Codec.RAW, b"loop"))   # never returns
        await host.send("crasher", mc.encode(mc.Codec.RAW, b"fine"))   # handled after it
        for _ in range(500):
            if crasher.stats.messages_out >= 1:
                break
            await asyncio.sleep(0.01)
        [letter] = host.dead_letters
        assert isinstance(letter.error, aw.TrapError)
        print(f"host: 'loop' cut off after timeout_ms=50 -> {letter.error.kind.value}; "
              f"restarts: {crasher.stats.restarts}, the next message was handled")
        return letter.error.kind


def without_a_host() -> dict[str, aw.TrapKind]:
    cases = {  # message byte, limits, the trap kind it must end with
        "infinite loop, 2M fuel": (b"l", aw.Limits(fuel=2_000_000, timeout_ms=60_000),
                                   aw.TrapKind.OUT_OF_FUEL),
        "memory growth, 2 MiB": (b"O", aw.Limits(memory_bytes=2 * MiB), aw.TrapKind.MEMORY_LIMIT),
        "unbounded recursion": (b"s", aw.Limits(), aw.TrapKind.STACK_OVERFLOW),
    }
    seen: dict[str, aw.TrapKind] = {}
    with aw.Engine(aw.EngineConfig(consume_fuel=True)) as engine:   # fuel needs metering on
        chaos = engine.load(WAT / "chaos.wat")
        for what, (message, limits, expected) in cases.items():
            with chaos.instantiate(limits) as instance:
                try:
                    instance.handle_message(aw.ComponentId("python"), message)
                    raise AssertionError(f"{what}: the guest was not stopped")
                except aw.TrapError as trap:
                    assert trap.kind is expected, (what, trap.kind)
                    seen[what] = trap.kind
                    print(f"runtime: {what} -> {trap.kind.value}")
    return seen


async def main() -> dict[str, object]:
    kind = await under_a_host()
    assert kind is aw.TrapKind.TIMEOUT
    return {"host": kind.value, **{k: v.value for k, v in without_a_host().items()}}


if __name__ == "__main__":
    logging.basicConfig(format="  (log) %(name)s: %(message).90s")
    asyncio.run(main())
