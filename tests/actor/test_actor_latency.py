"""ActorRef.latency: every drained batch is timed once; its count is the handled count, also
when a batch fails part-way, for plain and async handlers and custom handle_batch."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from airssys_wasm.actor import Actor, ActorSystem, BatchFailure
from actor_helpers import eventually


class Plain(Actor):
    def handle(self, message: Any) -> None:
        if message == "boom":
            raise ValueError("boom")


class Async(Actor):
    async def handle(self, message: Any) -> None:  # type: ignore[override]
        await asyncio.sleep(0)
        if message == "boom":
            raise ValueError("boom")


class Batched(Actor):
    async def handle_batch(self, batch: list[Any]) -> None:
        for index, message in enumerate(batch):
            if message == "boom":
                raise BatchFailure(index, ValueError("boom"))


@pytest.mark.parametrize("kind", [Plain, Async, Batched])
async def test_the_latency_count_is_the_handled_count(kind: type[Actor]) -> None:
    async with ActorSystem(max_restarts=10) as system:
        ref = await system.spawn(kind, "a", restart="permanent", batch_size=64)
        for message in ["x", "y", "boom", "z"]:  # one batch: two handled, one fails, one requeued
            ref.try_send(message)
        await eventually(lambda: ref.stats.messages_out == 3 and ref.stats.restarts == 1)
        latency = ref.latency
        assert latency.count == ref.stats.messages_out == 3
        assert latency.buckets()[-1] == 3
        assert latency.sum >= 0
        for _ in range(5):  # one message per batch: each timed on its own
            ref.try_send("w")
            await eventually(lambda: ref.stats.queued == 0)
        await eventually(lambda: ref.stats.messages_out == 8)
        assert ref.latency.count == 8
        assert ref.latency is latency  # the same histogram across restarts
