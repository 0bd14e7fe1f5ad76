"""Wake-ups in batches: plain-handler actors are run from the system's ready pass, without a
task, and get one only for what is more than plain messages (a suspended call, a failure, a
stop, a probe), then go back to none once idle."""

from __future__ import annotations

import asyncio
from typing import Any

from airssys_wasm.actor import Actor, ActorRef, ActorState, ActorSystem, Backoff, HealthStatus

from actor_helpers import eventually


def actor_tasks() -> list[str]:
    return sorted(t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith("actor:"))


class Recorder(Actor):
    """Records what it handles; "suspend" returns a pending result (the runtime then drives it
    in a task, as for a guest call that suspended), "boom" raises, ("to", ref, msg) forwards."""

    def __init__(self, seen: list[Any]) -> None:
        self.seen = seen

    def handle(self, message: Any) -> Any:
        self.seen.append(message)
        if message == "boom":
            raise RuntimeError("boom")
        if isinstance(message, tuple):
            _, ref, forwarded = message
            ref.try_send(forwarded)
        return "pending" if message == "suspend" else None


async def test_a_handler_that_suspends_gets_a_task_for_that_batch_only(
        system: ActorSystem) -> None:
    seen: list[Any] = []
    ref = await system.spawn(lambda: Recorder(seen), "r")
    for message in ("a", "suspend", "b"):
        ref.try_send(message)
    await eventually(lambda: ref.stats.messages_out == 3, "the batch around the suspension")
    assert seen == ["a", "suspend", "b"]
    await eventually(lambda: actor_tasks() == [], "the actor back without a task")
    ref.try_send("c")
    await asyncio.sleep(0)  # a plain message again: one ready pass, no task
    assert seen[-1] == "c" and ref.stats.messages_out == 4 and actor_tasks() == []


async def test_a_failure_in_a_ready_pass_is_supervised_and_nothing_queued_is_lost(
        system: ActorSystem) -> None:
    seen: list[Any] = []
    ref = await system.spawn(lambda: Recorder(seen), "r", restart="permanent",
                             backoff=Backoff(initial=0.0, jitter=0.0))
    for message in ("a", "boom", "b", "c"):
        ref.try_send(message)
    await eventually(lambda: ref.stats.messages_out == 3 and ref.state is ActorState.RUNNING,
                     "the restart and the rest of the batch")
    assert seen == ["a", "boom", "b", "c"]
    assert ref.stats.restarts == 1 and ref.stats.dead_letters == 1
    assert [d.message for d in system.dead_letters] == ["boom"]
    await eventually(lambda: actor_tasks() == [], "the new incarnation without a task")


async def test_messages_sent_during_a_pass_are_handled_in_the_next_pass(
        system: ActorSystem) -> None:
    seen_a: list[Any] = []
    seen_b: list[Any] = []
    a = await system.spawn(lambda: Recorder(seen_a), "a")
    b = await system.spawn(lambda: Recorder(seen_b), "b")
    a.try_send(("to", b, "hop"))
    await asyncio.sleep(0)
    assert len(seen_a) == 1 and seen_b == []  # b was woken during the pass: it waits its turn
    await asyncio.sleep(0)
    assert seen_b == ["hop"]


async def test_stop_from_inside_a_handler_ends_the_actor(system: ActorSystem) -> None:
    class Quits(Actor):
        def handle(self, message: Any) -> None:
            self.context.stop()

    ref: ActorRef = await system.spawn(Quits, "q")
    ref.try_send("bye")
    await eventually(lambda: ref.state is ActorState.STOPPED, "the self-stop")
    assert ref.stats.messages_out == 1


async def test_a_probe_of_an_actor_without_a_task_is_answered(system: ActorSystem) -> None:
    seen: list[Any] = []
    ref = await system.spawn(lambda: Recorder(seen), "r")
    ref.try_send("a")
    await asyncio.sleep(0)
    assert actor_tasks() == []
    assert await ref.health() is HealthStatus.HEALTHY
    ref.try_send("b")
    await eventually(lambda: seen == ["a", "b"] and actor_tasks() == [],
                     "messages after the probe, and no task left")


async def test_a_thousand_actors_woken_at_once_take_one_pass_and_no_task(
        system: ActorSystem) -> None:
    sinks: list[list[Any]] = [[] for _ in range(1000)]
    refs = [await system.spawn(lambda s=s: Recorder(s), f"a{i}")  # type: ignore[misc]
            for i, s in enumerate(sinks)]
    for i, ref in enumerate(refs):
        ref.try_send(i)
        ref.try_send(-i)
    await asyncio.sleep(0)
    assert all(sink == [i, -i] for i, sink in enumerate(sinks))
    assert actor_tasks() == []
