"""Hot code upgrade: swap a running component's code between two messages, keep its mailbox,
and roll back when the new code does not start.

Run: python examples/upgrade.py

``stage`` forwards every frame to ``sink`` (an ``echo`` that remembers the last message). It is
upgraded from forward mode to upper-case mode (a new ``init`` config), then two bad upgrades
are tried: wasm that does not load (refused before anything changes) and a module whose
``init`` fails (rolled back: the old code runs again in a fresh instance).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import airssys_wasm as aw
from airssys_wasm import multicodec as mc
from airssys_wasm.actor import UpgradeEvent
from airssys_wasm.types import ComponentConfig
from airssys_wasm import demo
from airssys_wasm.benchmarks import guests

WAT = Path(__file__).resolve().parent / "wat"
# A core-ABI module whose init() answers 1 (an error): it loads, but cannot start.
FAILING_INIT = """(module (memory (export "memory") 1)
  (func (export "alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "handle") (param i32 i32 i32 i32) (result i32) (i32.const 0))
  (func (export "init") (result i32) (i32.const 1)))"""


async def through(host: aw.Host, text: bytes) -> bytes:
    """Send ``text`` through the stage and read what reached the sink."""
    await host.send("stage", mc.encode(mc.Codec.RAW, text))
    for _ in range(500):
        last = await host.request("sink", b"last")
        if last[1:].lower() == text.lower():
            return bytes(last[1:])
        await asyncio.sleep(0.01)
    raise AssertionError(f"{text!r} never reached the sink")


async def main() -> dict[str, object]:
    async with aw.Host(aw.HostConfig(name="upgrade")) as host:
        events: list[UpgradeEvent] = []
        host.add_listener(lambda e: events.append(e) if isinstance(e, UpgradeEvent) else None)
        await host.spawn("sink", guests.path("echo"), manifest=WAT / "echo.toml")
        stage = await host.spawn("stage", demo.path("stage"), manifest=WAT / "stage.toml",
                                 config=ComponentConfig(config_data=b"f-sink"))
        assert await through(host, b"hello") == b"hello"

        await host.upgrade("stage", demo.path("stage"), config=ComponentConfig(config_data=b"u-sink"))
        assert await through(host, b"again") == b"AGAIN"
        print(f"upgraded: {events[-1].old} -> {events[-1].new}, now upper-casing")

        try:
            await host.upgrade("stage", b"\x00asm\x01\x00\x00\x00garbage")
            raise AssertionError("garbage wasm was accepted")
        except aw.LoadError:
            print("garbage wasm: LoadError, nothing changed")
        try:
            await host.upgrade("stage", FAILING_INIT, manifest=WAT / "stage.toml")
            raise AssertionError("a failing init was accepted")
        except aw.UpgradeFailed as failed:
            assert failed.rolled_back
            print(f"failing init: rolled back ({events[-1].outcome})")
        assert await through(host, b"still here") == b"STILL HERE"
        assert stage.state.value == "running" and not host.dead_letters
        outcomes = [e.outcome for e in events]
        print(f"upgrade events: {outcomes}; the ComponentRef stayed valid throughout")
        assert outcomes == ["upgraded", "rolled-back"]
        return {"outcomes": outcomes}


if __name__ == "__main__":
    logging.basicConfig(format="  (log) %(name)s: %(message).90s")
    asyncio.run(main())
