"""MessageBroker: fan-out, subscription management, slow-subscriber isolation."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from actor_helpers import eventually

from airssys_wasm.actor import Actor, ActorSystem, DeadLetterReason, MessageBroker
from airssys_wasm.errors import ConfigError


class Sink(Actor):
    def __init__(self, sink: list[Any], gate: asyncio.Event | None = None) -> None:
        self.sink = sink
        self.gate = gate

    async def handle(self, message: Any) -> None:
        if self.gate is not None:
            await self.gate.wait()
        self.sink.append(message)


async def test_fan_out_to_every_subscriber_in_order(system: ActorSystem) -> None:
    broker = system.broker
    sinks: dict[str, list[Any]] = {f"s{i}": [] for i in range(20)}
    refs = [await system.spawn(lambda s=sink: Sink(s), name) for name, sink in sinks.items()]
    for ref in refs:
        broker.subscribe("news", ref)
        broker.subscribe("news", ref)  # idempotent
    other: list[Any] = []
    broker.subscribe("sports", await system.spawn(lambda: Sink(other), "other"))
    for i in range(50):
        assert await broker.publish("news", i) == 20
    await eventually(lambda: all(len(s) == 50 for s in sinks.values()))
    assert all(s == list(range(50)) for s in sinks.values())
    assert other == []
    assert await broker.publish("nobody-listens", "x") == 0


async def test_unsubscribe_and_stopped_subscribers_are_removed(system: ActorSystem) -> None:
    broker = system.broker
    a_sink: list[Any] = []
    b_sink: list[Any] = []
    a = await system.spawn(lambda: Sink(a_sink), "a")
    b = await system.spawn(lambda: Sink(b_sink), "b")
    broker.subscribe("t", a)
    broker.subscribe("t", b)
    assert broker.unsubscribe("t", a) is True
    assert broker.unsubscribe("t", a) is False
    await broker.publish("t", 1)
    await eventually(lambda: b_sink == [1])
    assert a_sink == []
    await b.stop()
    assert broker.subscribers("t") == ()
    assert broker.topics() == []


async def test_subscriber_dying_mid_stream_turns_messages_into_dead_letters() -> None:
    system = ActorSystem()
    broker = MessageBroker()  # a standalone broker does not auto-unsubscribe
    sink: list[Any] = []
    ref = await system.spawn(lambda: Sink(sink), "gone")
    broker.subscribe("t", ref)
    await ref.stop()
    assert await broker.publish("t", "lost?") == 1
    assert [(d.message, d.reason) for d in system.dead_letters] == [
        ("lost?", DeadLetterReason.STOPPED)]
    await system.shutdown()


async def test_slow_subscriber_only_holds_back_its_own_capacity(system: ActorSystem) -> None:
    broker = system.broker
    gate = asyncio.Event()
    slow_sink: list[Any] = []
    fast_sinks: list[list[Any]] = [[] for _ in range(5)]
    slow = await system.spawn(lambda: Sink(slow_sink, gate), "slow", capacity=4, batch_size=1)
    broker.subscribe("t", slow)
    for i, sink in enumerate(fast_sinks):
        broker.subscribe("t", await system.spawn(lambda s=sink: Sink(s), f"fast{i}"))

    async def publisher() -> None:
        for i in range(100):
            await broker.publish("t", i)

    task = asyncio.create_task(publisher())
    # slow holds 1 message in its handler + 4 in its mailbox; the 6th publish must wait for it.
    await eventually(lambda: slow.mailbox.waiting_senders == 1, "the publisher to block on slow")
    await eventually(lambda: all(len(s) == 6 for s in fast_sinks))
    assert not task.done()
    # The fast subscribers got message 5 even though slow could not take it yet.
    assert all(s == list(range(6)) for s in fast_sinks)
    gate.set()
    await task
    await eventually(lambda: len(slow_sink) == 100 and all(len(s) == 100 for s in fast_sinks))
    assert slow_sink == list(range(100))
    assert system.dead_letters == type(system.dead_letters)([], maxlen=1000)


async def test_topic_validation() -> None:
    broker = MessageBroker()
    with pytest.raises(ConfigError, match="topic must be a non-empty string"):
        await broker.publish("", 1)
    system = ActorSystem()
    ref = await system.spawn(lambda: Sink([]), "x")
    with pytest.raises(ConfigError, match="topic"):
        broker.subscribe("", ref)
    await system.shutdown()
