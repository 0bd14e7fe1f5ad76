"""A guest call an actor finishes through ``ActorContext.finish`` (a custom ``handle_batch``,
as the component actor's own paths do) is cancelled when the actor stops, like one the batch
loop parked on: stopping never waits for a suspended guest."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from airssys_wasm import CallCancelled
from airssys_wasm._fast.fastcall import GuestCall
from airssys_wasm.actor import Actor, ActorSystem, BatchFailure
from airssys_wasm.runtime import ComponentId, HostServices

from .conftest import example

FS = "airssys:ext-filesystem/filesystem@1.0.0"


async def test_stopping_cancels_a_call_finished_through_the_context(engine) -> None:
    probe = engine.load(example("fs-probe.wat"))  # execute(path) -> read-file(path)
    started = asyncio.Event()

    async def read_file(services: HostServices, path: str) -> Any:
        started.set()
        await asyncio.sleep(30)  # never returns in time: only a cancellation ends the call
        return ("ok", b"late")

    probe.define_imports(FS, {"read-file": read_file})
    inst = probe.instantiate(services=HostServices(ComponentId("probe", "tests", "1.0.0")))
    inst.suspendable = True
    outcome: list[BaseException] = []

    class Custom(Actor):
        async def handle_batch(self, batch: list[Any]) -> None:
            for index, path in enumerate(batch):
                call = inst.execute(path)
                assert type(call) is GuestCall
                try:
                    await self.context.finish(call)
                except (Exception, asyncio.CancelledError) as exc:
                    outcome.append(exc)
                    raise BatchFailure(index, exc) from exc

    async with ActorSystem() as system:
        ref = await system.spawn(Custom, "custom", restart="temporary")
        ref.try_send(b"/slow")
        await asyncio.wait_for(started.wait(), 5)
        began = time.monotonic()
        await ref.stop(drain=False)
        assert time.monotonic() - began < 5  # not the 30 s the host function would take
    assert len(outcome) == 1 and isinstance(outcome[0], CallCancelled), outcome
    assert inst.pending is None
