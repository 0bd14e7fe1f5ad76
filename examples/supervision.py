"""Supervision: restarts with backoff, dead letters, and a component that is given up on
without taking the host down.

Run: python examples/supervision.py

``crasher`` traps on "poison". The host's root supervisor allows 2 restarts within 10 s per
top-level component (``HostConfig(max_restarts=2, within=10)``): the first two poison pills
are restarts (the messages queued behind them are still handled), the third makes the root
give up on ``crasher`` alone. Its ``counter`` neighbour keeps running, and the name can be
spawned again.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import airssys_wasm as aw
from airssys_wasm import multicodec as mc
from airssys_wasm.actor import ActorState, DeadLetterReason, EscalationEvent, Event, RestartEvent
from airssys_wasm import demo

WAT = Path(__file__).resolve().parent / "wat"
POISON, FINE = mc.encode(mc.Codec.RAW, b"poison"), mc.encode(mc.Codec.RAW, b"fine")


async def wait_for(predicate: object, what: str) -> None:
    assert callable(predicate)
    for _ in range(500):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


async def main() -> dict[str, object]:
    events: list[Event] = []
    config = aw.HostConfig(name="supervision", max_restarts=2, within=10.0,
                           backoff=aw.Backoff(initial=0.02, multiplier=2.0, max=0.5))
    async with aw.Host(config) as host:
        host.add_listener(events.append)
        await host.spawn("counter", demo.path("counter"), manifest=WAT / "counter.toml")
        crasher = await host.spawn("crasher", demo.path("crasher"), manifest=WAT / "crasher.toml")

        for _ in range(2):
            await host.send("crasher", POISON)
            await host.send("crasher", FINE)            # queued behind the pill: not lost
        await wait_for(lambda: crasher.stats.messages_out >= 2, "two good messages handled")
        restarts = [e for e in events if isinstance(e, RestartEvent)]
        print(f"restarts: {[f'{e.actor} #{e.attempt} after {e.delay:.2f}s' for e in restarts]}")
        assert len(restarts) == 2 and crasher.state is ActorState.RUNNING

        await host.send("crasher", POISON)              # the third: over the intensity
        await host.send("crasher", FINE)
        await wait_for(lambda: crasher.state is ActorState.FAILED, "the root to give up")
        escalation = next(e for e in events if isinstance(e, EscalationEvent))
        print(f"escalation: {escalation.supervisor} gave up on {escalation.child}; "
              f"error: {type(crasher.error).__name__}")
        reasons = [(bytes(mc.decode(d.message[1])[1]), d.reason) for d in host.dead_letters]
        print(f"dead letters: {reasons}")
        assert reasons.count((b"poison", DeadLetterReason.FAILED)) == 3
        assert (b"fine", DeadLetterReason.GAVE_UP) in reasons

        await host.send("counter", FINE)                # the neighbour never noticed
        assert host.ref("counter").state is ActorState.RUNNING
        await host.spawn("crasher", demo.path("crasher"), manifest=WAT / "crasher.toml")
        assert host.ref("crasher").state is ActorState.RUNNING
        print("counter still running; crasher spawned again")
        return {"restarts": len(restarts), "dead_letters": len(reasons)}


if __name__ == "__main__":
    logging.basicConfig(format="  (log) %(name)s: %(message).90s")
    asyncio.run(main())
