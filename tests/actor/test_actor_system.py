"""ActorSystem and single actors: lifecycle, batching, failures, dead letters, shutdown accounting."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from actor_helpers import Journal, Recorder, eventually

from airssys_wasm.actor import (
    Actor,
    ActorState,
    ActorSystem,
    BatchFailure,
    DeadLetterReason,
    LifecycleEvent,
    RestartPolicy,
)
from airssys_wasm.errors import ActorStateError, ComponentNotFound, ConfigError, MailboxFull


class Collector(Actor):
    def __init__(self, sink: list[Any]) -> None:
        self.sink = sink

    def handle(self, message: Any) -> None:
        self.sink.append(message)


class AsyncCollector(Actor):
    def __init__(self, sink: list[Any]) -> None:
        self.sink = sink

    async def handle(self, message: Any) -> None:
        await asyncio.sleep(0)
        if message == "boom":
            raise ValueError("async boom")
        self.sink.append(message)


class Gate(Actor):
    """Blocks inside handle until the gate opens: a deliberately slow consumer."""

    def __init__(self, gate: asyncio.Event, sink: list[Any]) -> None:
        self.gate = gate
        self.sink = sink

    async def handle(self, message: Any) -> None:
        await self.gate.wait()
        self.sink.append(message)


def lifecycle(system: ActorSystem, name: str) -> list[str]:
    return [e.state.value for e in system.events  # type: ignore[attr-defined]
            if isinstance(e, LifecycleEvent) and e.actor == name]


async def test_spawn_send_lookup_and_lifecycle_events(system: ActorSystem) -> None:
    sink: list[Any] = []
    ref = await system.spawn(lambda: Collector(sink), "collector")
    assert system.lookup("collector") is ref
    for i in range(10):
        await ref.send(i)
    ref.try_send(10)
    await eventually(lambda: len(sink) == 11)
    assert sink == list(range(11))
    stats = ref.stats
    assert (stats.messages_in, stats.messages_out, stats.queued) == (11, 11, 0)
    await ref.stop()
    assert lifecycle(system, "collector") == ["created", "starting", "running", "stopping", "stopped"]
    with pytest.raises(ComponentNotFound, match="no actor named 'collector'"):
        system.lookup("collector")


async def test_duplicate_names_and_bad_specs_are_rejected(system: ActorSystem) -> None:
    await system.spawn(lambda: Collector([]), "a")
    with pytest.raises(ConfigError, match="'a' is already taken"):
        await system.spawn(lambda: Collector([]), "a")
    with pytest.raises(ConfigError, match="ChildSpec.capacity"):
        await system.spawn(lambda: Collector([]), "b", capacity=0)
    with pytest.raises(ConfigError, match="ChildSpec.batch_size"):
        await system.spawn(lambda: Collector([]), "b", batch_size=0)
    with pytest.raises(TypeError, match="returned int"):
        await system.spawn(lambda: 42, "b")  # type: ignore[arg-type,return-value]
    assert system.actor_names() == ["a"]


async def test_messages_are_drained_in_batches(system: ActorSystem) -> None:
    batches: list[int] = []

    class BatchSizes(Actor):
        async def handle_batch(self, batch: list[Any]) -> None:
            batches.append(len(batch))

    ref = await system.spawn(BatchSizes, "batches", batch_size=64, capacity=1000)
    for i in range(1000):
        ref.try_send(i)  # all queued before the actor gets to run
    await eventually(lambda: sum(batches) == 1000)
    assert batches == [64] * 15 + [40]


async def test_failed_message_is_dead_letter_rest_survives_restart(system: ActorSystem) -> None:
    journal = Journal()
    ref = await system.spawn(lambda: Recorder(journal), "r", restart=RestartPolicy.PERMANENT)
    for message in [1, 2, "boom", 3, 4]:
        ref.try_send(message)
    await eventually(lambda: journal.messages.get("r") == [1, 2, 3, 4])
    assert journal.of("start") == ["r", "r"]
    assert journal.of("stop") == []  # on_stop is not called on a crashed incarnation
    letters = [e for e in system.dead_letters if e.recipient == "r"]
    assert [(d.message, d.reason) for d in letters] == [("boom", DeadLetterReason.FAILED)]
    assert isinstance(letters[0].error, RuntimeError)
    stats = ref.stats
    assert (stats.messages_out, stats.failures, stats.restarts, stats.dead_letters) == (4, 1, 1, 1)
    assert lifecycle(system, "r")[:6] == ["created", "starting", "running", "failed", "starting",
                                          "running"]


async def test_async_handler_failure_and_temporary_actor_is_not_restarted(
        system: ActorSystem) -> None:
    sink: list[Any] = []
    ref = await system.spawn(lambda: AsyncCollector(sink), "t")  # TEMPORARY by default
    for message in ["a", "boom", "b", "c"]:
        ref.try_send(message)
    await eventually(lambda: ref.state is ActorState.STOPPED)
    assert sink == ["a"]
    letters = [(d.message, d.reason) for d in system.dead_letters]
    assert letters == [("boom", DeadLetterReason.FAILED), ("b", DeadLetterReason.STOPPED),
                       ("c", DeadLetterReason.STOPPED)]
    await ref.send("after")  # to a stopped actor: a dead letter, never silently dropped
    assert system.dead_letters[-1].message == "after"
    assert system.dead_letters[-1].reason is DeadLetterReason.STOPPED
    assert ref.stats.dead_letters == 4


async def test_custom_handle_batch_reports_partial_failure(system: ActorSystem) -> None:
    handled: list[Any] = []

    class AllOrIndex(Actor):
        async def handle_batch(self, batch: list[Any]) -> None:
            for index, message in enumerate(batch):
                if message < 0:
                    raise BatchFailure(index, ValueError(f"negative {message}"))
                handled.append(message)

    ref = await system.spawn(AllOrIndex, "custom", restart="permanent")
    for message in [1, 2, -3, 4, 5]:
        ref.try_send(message)
    await eventually(lambda: handled == [1, 2, 4, 5])
    assert [d.message for d in system.dead_letters] == [-3]
    assert ref.stats.messages_out == 4


async def test_on_start_failure_is_raised_to_spawner(system: ActorSystem) -> None:
    journal = Journal()
    with pytest.raises(RuntimeError, match="cannot start"):
        await system.spawn(lambda: Recorder(journal, fail_on_start=True), "broken")
    assert "broken" not in system.actor_names()
    assert lifecycle(system, "broken") == ["created", "starting", "failed", "stopped"]


async def test_self_stop_is_a_normal_exit(system: ActorSystem) -> None:
    journal = Journal()
    transient = await system.spawn(lambda: Recorder(journal), "transient", restart="transient")
    permanent = await system.spawn(lambda: Recorder(journal), "permanent", restart="permanent")
    for ref in (transient, permanent):
        for message in ["x", "exit", "y"]:
            ref.try_send(message)
    await eventually(lambda: transient.state is ActorState.STOPPED)
    await eventually(lambda: journal.of("start").count("permanent") == 2)
    permanent.try_send("z")
    await eventually(lambda: journal.messages.get("permanent") == ["x", "y", "z"])
    # transient: normal exit -> not restarted, the rest of its batch was handled, nothing queued
    assert journal.messages["transient"] == ["x", "y"]
    assert journal.of("start").count("transient") == 1
    # permanent: restarted even after a normal exit, and its mailbox kept working
    assert journal.of("stop") == ["transient", "permanent"]
    assert system.dead_letters == type(system.dead_letters)([], maxlen=1000)


async def test_try_send_full_and_send_backpressure(system: ActorSystem) -> None:
    gate = asyncio.Event()
    sink: list[Any] = []
    ref = await system.spawn(lambda: Gate(gate, sink), "slow", capacity=2, batch_size=1)
    ref.try_send(0)
    await eventually(lambda: ref.stats.queued == 0)  # 0 is being handled (blocked)
    ref.try_send(1)
    ref.try_send(2)
    with pytest.raises(MailboxFull, match="mailbox 'slow' is full"):
        ref.try_send(3)
    blocked = asyncio.create_task(ref.send(3))
    await eventually(lambda: ref.mailbox.waiting_senders == 1)
    assert not blocked.done()
    gate.set()
    await blocked
    await eventually(lambda: len(sink) == 4)
    assert sink == [0, 1, 2, 3]


async def test_one_million_messages_through_an_actor(system: ActorSystem) -> None:
    total = 1_000_000
    seen = {"count": 0, "max_queued": 0, "ordered": True}

    class Counter(Actor):
        async def handle_batch(self, batch: list[int]) -> None:
            if batch[0] != seen["count"]:
                seen["ordered"] = False
            seen["count"] += len(batch)
            seen["max_queued"] = max(seen["max_queued"], len(self.context.ref.mailbox))

    ref = await system.spawn(Counter, "counter", capacity=512)
    send = ref.send
    for i in range(total):
        await send(i)
    await eventually(lambda: seen["count"] == total)
    assert seen["ordered"]
    assert seen["max_queued"] <= 512
    assert ref.stats.messages_in == ref.stats.messages_out == total


async def test_shutdown_drains_and_accounts_for_every_message(clock: Any) -> None:
    system = ActorSystem(clock=clock, sleep=clock.sleep)
    sink: list[Any] = []
    gate = asyncio.Event()
    fast = await system.spawn(lambda: Collector(sink), "fast", capacity=100)
    slow = await system.spawn(lambda: Gate(gate, []), "slow", capacity=100,
                              shutdown_timeout=0.05, batch_size=10)
    for i in range(100):
        fast.try_send(i)
        slow.try_send(i)
    await eventually(lambda: slow.stats.queued == 90)  # one batch of 10 is stuck in handle
    report = await system.shutdown(drain=True)
    assert sink == list(range(100))
    assert fast.stats.messages_out == 100
    # slow: killed after the timeout: the message in hand failed, 9 were requeued, 90 queued
    failed = [d for d in system.dead_letters if d.reason is DeadLetterReason.FAILED]
    stopped = [d for d in system.dead_letters if d.reason is DeadLetterReason.STOPPED]
    assert [d.message for d in failed] == [0]
    assert [d.message for d in stopped] == list(range(1, 100))
    assert report.dead_lettered == {"fast": 0, "slow": 99}
    assert report.handled["slow"] == 0
    assert slow.stats.messages_out + slow.stats.dead_letters == 100
    assert fast.state is ActorState.STOPPED and slow.state is ActorState.STOPPED
    with pytest.raises(ActorStateError, match="shut down"):
        await system.spawn(lambda: Collector([]), "late")


async def test_shutdown_without_drain_dead_letters_the_queue(system: ActorSystem) -> None:
    sink: list[Any] = []
    ref = await system.spawn(lambda: Collector(sink), "c", capacity=50)
    for i in range(50):
        ref.try_send(i)
    report = await system.shutdown(drain=False)
    assert len(sink) + report.total_dead_lettered == 50
    assert [d.message for d in system.dead_letters] == list(range(len(sink), 50))


async def test_listener_errors_are_logged_not_propagated(
        system: ActorSystem, caplog: pytest.LogCaptureFixture) -> None:
    calls: list[object] = []

    def bad_listener(event: object) -> None:
        calls.append(event)
        raise RuntimeError("listener bug")

    system.add_listener(bad_listener)
    sink: list[Any] = []
    ref = await system.spawn(lambda: Collector(sink), "ok")
    ref.try_send(1)
    await eventually(lambda: sink == [1])
    system.remove_listener(bad_listener)
    assert len(calls) == 3  # created, starting, running
    assert ref.state is ActorState.RUNNING
    assert "listener bug" in caplog.text


async def test_actor_cannot_stop_itself_through_its_ref(system: ActorSystem) -> None:
    errors: list[BaseException] = []

    class Suicidal(Actor):
        async def handle(self, message: Any) -> None:
            try:
                await self.context.ref.stop()
            except ActorStateError as exc:
                errors.append(exc)

    ref = await system.spawn(Suicidal, "s")
    ref.try_send("go")
    await eventually(lambda: bool(errors))
    assert "self.context.stop()" in str(errors[0])


class Quitter(Actor):
    """Calls ``context.stop()`` from ``on_start``: the loop must still see that exit."""

    async def on_start(self) -> None:
        self.context.stop()

    def handle(self, message: Any) -> None:
        raise AssertionError("a quitter handles nothing")


async def test_a_plain_actor_handles_its_messages_without_a_task(system: ActorSystem) -> None:
    """An actor with a plain handler and only messages to handle has no task: spawned with an
    empty mailbox, woken by messages (the system's ready pass runs its batch in the loop pass
    a parked task would have run in); stop drains it, a context.stop() during on_start still
    ends it."""
    before = len(asyncio.all_tasks())
    sinks: list[list[Any]] = [[] for _ in range(20)]
    refs = [await system.spawn(lambda s=s: Collector(s), f"idle{i}")  # type: ignore[misc]
            for i, s in enumerate(sinks)]
    assert len(asyncio.all_tasks()) == before  # none of the 20 has a task yet
    assert all(r.state is ActorState.RUNNING for r in refs)
    await refs[3].send("hello")
    for ref in refs[10:]:
        ref.try_send("fan-out")
    await asyncio.sleep(0)  # one loop pass, as for a loop task parked on its mailbox
    assert sinks[3] == ["hello"] and refs[3].stats.messages_out == 1
    assert all(sink == ["fan-out"] for sink in sinks[10:])  # eleven actors, one pass
    assert len(asyncio.all_tasks()) == before  # and still no task for any of them
    refs[5].try_send("queued")
    await refs[5].stop()  # stopping drains it through the loop
    assert sinks[5] == ["queued"] and refs[5].state is ActorState.STOPPED
    await refs[7].stop()  # never woken: stopping it still ends cleanly
    assert refs[7].state is ActorState.STOPPED and sinks[7] == []
    quitter = await system.spawn(Quitter, "quitter", restart=RestartPolicy.TEMPORARY)
    await eventually(lambda: quitter.state is ActorState.STOPPED, "the quitter stopped")
