"""OTP fidelity: the supervision traces Erlang/OTP 25's ``supervisor`` produces (issue 13),
replayed through the public actor API with a manual clock and zero backoff; and the root
supervisor's per-child give-up that lets a system outlive any one actor.

A trace entry is ``event:child``: ``start`` (init ran), ``init_fail`` (init raised after
starting), ``crash`` (a handler raised), ``exit`` (the actor stopped itself normally) and
``stop`` (its supervisor stopped it). The expected lists are the OTP traces from the issue.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from actor_helpers import FakeClock, eventually

from airssys_wasm.actor import (
    Actor,
    ActorState,
    ActorSystem,
    Backoff,
    ChildSpec,
    DeadLetterReason,
    EscalationEvent,
    RestartEvent,
    RestartPolicy,
    Supervisor,
    SupervisorStrategy,
)
from airssys_wasm.errors import ConfigError, SupervisorEscalation

ZERO = Backoff(initial=0.0, jitter=0.0)


class Trace:
    """The shared trace, plus which start numbers of which child fail (1 = first start)."""

    def __init__(self, fail_starts: dict[str, set[int]] | None = None) -> None:
        self.entries: list[str] = []
        self.fail_starts = fail_starts or {}
        self.starts: dict[str, int] = {}

    def spec(self, name: str, restart: RestartPolicy | str = RestartPolicy.PERMANENT) -> ChildSpec:
        return ChildSpec(name, lambda: Traced(self), restart=RestartPolicy(restart), backoff=ZERO,
                         batch_size=1)

    def clear(self) -> None:
        self.entries.clear()


class Traced(Actor):
    """Writes the trace; "boom" crashes, "exit" stops itself normally."""

    def __init__(self, trace: Trace) -> None:
        self.trace = trace
        self.exiting = False

    async def on_start(self) -> None:
        name = self.context.name
        self.trace.entries.append(f"start:{name}")
        number = self.trace.starts[name] = self.trace.starts.get(name, 0) + 1
        if number in self.trace.fail_starts.get(name, set()):
            self.trace.entries.append(f"init_fail:{name}")
            raise RuntimeError(f"{name} cannot start (start number {number})")

    def handle(self, message: Any) -> None:
        name = self.context.name
        if message == "boom":
            self.trace.entries.append(f"crash:{name}")
            raise RuntimeError(f"{name} crashed")
        if message == "exit":
            self.trace.entries.append(f"exit:{name}")
            self.exiting = True
            self.context.stop()

    async def on_stop(self) -> None:
        if not self.exiting:  # a stop the supervisor asked for, as OTP's terminate/2 reports
            self.trace.entries.append(f"stop:{self.context.name}")


async def settle(system: ActorSystem, sup: Supervisor) -> None:
    """Let every pending exit and restart finish (bounded)."""
    await eventually(lambda: not sup._pending and all(not s._pending for s in _subtree(sup)))
    for _ in range(200):
        await asyncio.sleep(0)


def _subtree(sup: Supervisor) -> list[Supervisor]:
    found = []
    for name in sup.children:
        child = sup.child(name)
        if isinstance(child, Supervisor):
            found += [child, *_subtree(child)]
    return found


async def start_tree(system: ActorSystem, trace: Trace, children: list[ChildSpec | Supervisor],
                     strategy: SupervisorStrategy, **kwargs: Any) -> Supervisor:
    sup = Supervisor("sup", children, strategy=strategy, max_restarts=kwargs.pop("max_restarts", 10),
                     within=60.0, **kwargs)
    await system.start_child(sup)
    trace.clear()
    return sup


def events(system: ActorSystem, kind: type) -> list[Any]:
    return [e for e in system.events if isinstance(e, kind)]  # type: ignore[attr-defined]


async def test_one_for_all_stops_temporary_siblings_and_does_not_restart_them(
        system: ActorSystem) -> None:
    trace = Trace()
    sup = await start_tree(system, trace, [trace.spec("a"), trace.spec("t", "temporary"),
                                           trace.spec("c")], SupervisorStrategy.ONE_FOR_ALL)
    t = sup.child("t")
    sup.child("a").try_send("boom")
    await settle(system, sup)
    assert trace.entries == ["crash:a", "stop:c", "stop:t", "start:a", "start:c"]
    assert sup.children == ["a", "c"]
    assert t.state is ActorState.STOPPED and t.mailbox.closed  # gone for good
    assert "t" not in system.actor_names()


async def test_rest_for_one_stops_a_temporary_later_sibling_and_does_not_restart_it(
        system: ActorSystem) -> None:
    trace = Trace()
    sup = await start_tree(system, trace, [trace.spec("a"), trace.spec("b"),
                                           trace.spec("t", "temporary")],
                           SupervisorStrategy.REST_FOR_ONE)
    sup.child("b").try_send("boom")
    await settle(system, sup)
    assert trace.entries == ["crash:b", "stop:t", "start:b"]
    assert sup.children == ["a", "b"]


async def test_group_restart_stops_at_a_child_that_fails_to_start_and_retries(
        system: ActorSystem) -> None:
    trace = Trace(fail_starts={"b": {2}})  # b's init fails once: during the group restart
    sup = await start_tree(system, trace, [trace.spec("a"), trace.spec("b"), trace.spec("c")],
                           SupervisorStrategy.ONE_FOR_ALL)
    sup.child("a").try_send("boom")
    await settle(system, sup)
    # c never starts while b is down; the retry is a restart of b's group (all of them).
    assert trace.entries == ["crash:a", "stop:c", "stop:b", "start:a", "start:b", "init_fail:b",
                             "stop:a", "start:a", "start:b", "start:c"]
    assert [(e.actor, e.supervisor) for e in events(system, RestartEvent)] == [
        ("a", "sup"), ("b", "sup")]  # the retry counts as a restart, as in OTP
    assert all(sup.child(n).state is ActorState.RUNNING for n in "abc")  # type: ignore[union-attr]


async def test_rest_for_one_retry_restarts_only_from_the_child_that_failed_to_start(
        system: ActorSystem) -> None:
    trace = Trace(fail_starts={"b": {2}})
    sup = await start_tree(system, trace, [trace.spec("a"), trace.spec("b"), trace.spec("c")],
                           SupervisorStrategy.REST_FOR_ONE)
    sup.child("a").try_send("boom")
    await settle(system, sup)
    assert trace.entries == ["crash:a", "stop:c", "stop:b", "start:a", "start:b", "init_fail:b",
                             "start:b", "start:c"]


@pytest.mark.parametrize("strategy", [SupervisorStrategy.ONE_FOR_ALL,
                                      SupervisorStrategy.REST_FOR_ONE])
async def test_transient_child_that_exited_normally_is_started_by_a_later_group_restart(
        system: ActorSystem, strategy: SupervisorStrategy) -> None:
    trace = Trace()
    sup = await start_tree(system, trace, [trace.spec("a"), trace.spec("t", "transient"),
                                           trace.spec("c")], strategy)
    t = sup.child("t")
    t.try_send("exit")
    await eventually(lambda: t.state is ActorState.STOPPED)
    await settle(system, sup)
    t.try_send("kept")  # queued for t's next incarnation (our mailbox outlives restarts)
    sup.child("a").try_send("boom")
    await settle(system, sup)
    assert trace.entries == ["exit:t", "crash:a", "stop:c", "start:a", "start:t", "start:c"]
    assert sup.children == ["a", "t", "c"] and t.state is ActorState.RUNNING
    await eventually(lambda: t.stats.messages_out == 2)  # "exit", then "kept"


@pytest.mark.parametrize(("restart", "restarted"), [("permanent", True), ("transient", False),
                                                    ("temporary", False)])
async def test_inner_supervisor_that_gives_up_exits_with_reason_shutdown(
        system: ActorSystem, restart: str, restarted: bool) -> None:
    trace = Trace()
    inner = Supervisor("inner", [trace.spec("w"), trace.spec("x")], max_restarts=0, within=60.0,
                       restart=restart, backoff=ZERO)
    outer = await start_tree(system, trace, [trace.spec("s"), inner],
                             SupervisorStrategy.ONE_FOR_ONE)
    inner.child("w").try_send("boom")
    await settle(system, outer)
    if restarted:  # permanent: the parent restarts it (and counts that restart)
        assert trace.entries == ["crash:w", "stop:x", "start:w", "start:x"]
        assert inner.running and inner.restarts == 1
        assert [e.actor for e in events(system, RestartEvent)] == ["inner"]
    else:  # shutdown is a normal exit: transient and temporary are not restarted
        assert trace.entries == ["crash:w", "stop:x"]
        assert not inner.running and events(system, RestartEvent) == []
        # OTP keeps a transient child's spec (a later group restart starts it), drops a
        # temporary one.
        assert outer.children == (["s", "inner"] if restart == "transient" else ["s"])
    assert [(e.supervisor, e.child) for e in events(system, EscalationEvent)] == [("inner", "w")]
    assert outer.running  # the parent itself is fine


@pytest.mark.parametrize(("gap", "escalates"), [(2.0, True), (2.001, False)])
async def test_a_restart_exactly_period_old_is_inside_the_window(
        system: ActorSystem, clock: FakeClock, gap: float, escalates: bool) -> None:
    trace = Trace()
    sup = Supervisor("sup", [trace.spec("a")], max_restarts=1, within=2.0)  # MaxR=1, MaxT=2
    await system.start_child(sup)
    ref = sup.child("a")
    ref.try_send("boom")
    await eventually(lambda: ref.stats.restarts == 1 and ref.state is ActorState.RUNNING)
    clock.advance(gap)
    ref.try_send("boom")
    await eventually(lambda: len(events(system, RestartEvent)) == 2
                     or len(events(system, EscalationEvent)) == 1)
    assert [e.supervisor for e in events(system, EscalationEvent)] == (["sup"] if escalates else [])


# -- the root supervisor: one failing child never takes the others down ---------------------------

class Counter(Actor):
    def __init__(self, seen: dict[str, int]) -> None:
        self.seen = seen

    def handle(self, message: Any) -> None:
        if message == "boom":
            raise RuntimeError(f"{self.context.name} crashed")
        self.seen[self.context.name] = self.seen.get(self.context.name, 0) + 1


async def test_root_stops_only_the_child_over_its_own_intensity(system: ActorSystem) -> None:
    seen: dict[str, int] = {}
    loop = await system.spawn(lambda: Counter(seen), "loop", restart="permanent", backoff=ZERO)
    calm = await system.spawn(lambda: Counter(seen), "calm", restart="permanent", backoff=ZERO)
    # calm fails max_restarts (3) times too: each child has its own window, so it survives.
    for _ in range(3):
        calm.try_send("boom")
    for _ in range(4):
        loop.try_send("boom")
    loop.try_send("left behind")
    await eventually(lambda: loop.state is ActorState.FAILED and loop.mailbox.closed)
    await eventually(lambda: calm.stats.restarts == 3 and calm.state is ActorState.RUNNING)
    assert system.escalation is None
    [escalation] = events(system, EscalationEvent)
    assert (escalation.supervisor, escalation.child, escalation.max_restarts) == (
        "system/root", "loop", 3)
    assert isinstance(loop.error, SupervisorEscalation)
    assert "'loop' failed more than 3 times within 5.0s" in str(loop.error)
    assert "spawn it again" in str(loop.error)
    [left] = [d for d in system.dead_letters if d.reason is DeadLetterReason.GAVE_UP]
    assert left.message == "left behind" and left.error is loop.error
    assert loop.stats.failures == 4 and loop.stats.dead_letters == 5
    calm.try_send("hello")
    await eventually(lambda: seen.get("calm") == 1)
    assert system.actor_names() == ["calm"]
    again = await system.spawn(lambda: Counter(seen), "loop", restart="permanent")  # name is free
    again.try_send("hello")
    await eventually(lambda: seen.get("loop") == 1)


async def test_a_top_level_supervisor_that_gives_up_stops_its_subtree_only(
        system: ActorSystem) -> None:
    trace = Trace()
    group = Supervisor("group", [trace.spec("a"), trace.spec("b")], max_restarts=1, within=60.0,
                       restart="permanent", backoff=ZERO)
    await system.start_child(group)
    seen: dict[str, int] = {}
    other = await system.spawn(lambda: Counter(seen), "other", restart="permanent")
    a, b = group.child("a"), group.child("b")
    a.try_send("boom")
    await eventually(lambda: a.stats.restarts == 1 and a.state is ActorState.RUNNING)
    b.try_send("pending")
    a.try_send("boom")
    b.try_send("pending")  # whichever runs first, at least one stays queued when b is halted
    await eventually(lambda: a.mailbox.closed and b.mailbox.closed)
    assert a.state is ActorState.FAILED and b.state is ActorState.FAILED  # type: ignore[union-attr]
    assert isinstance(b.error, SupervisorEscalation)  # type: ignore[union-attr]
    assert [(e.supervisor, e.child) for e in events(system, EscalationEvent)] == [("group", "a")]
    assert events(system, RestartEvent)[-1].actor == "a"  # the root did not restart "group"
    assert not group.running and system.escalation is None
    assert sorted(system.actor_names()) == ["other"]
    other.try_send("hello")
    await eventually(lambda: seen.get("other") == 1)
    await system.start_child(Supervisor("group", [trace.spec("a")]))  # the names are free


async def test_one_childs_backoff_never_delays_another_childs_restart(clock: FakeClock) -> None:
    """Per-child locks: the root handles each top-level child's exits on its own."""
    released = asyncio.Event()

    async def sleep(seconds: float) -> None:
        await released.wait()  # the long backoff of "slow" parks here until released

    system = ActorSystem(clock=clock, sleep=sleep)
    seen: dict[str, int] = {}
    slow = await system.spawn(lambda: Counter(seen), "slow", restart="permanent",
                              backoff=Backoff(initial=30.0, jitter=0.0))
    fast = await system.spawn(lambda: Counter(seen), "fast", restart="permanent", backoff=ZERO)
    slow.try_send("boom")
    await eventually(lambda: slow.state is ActorState.FAILED)
    fast.try_send("boom")
    fast.try_send("hello")
    await eventually(lambda: seen.get("fast") == 1)  # restarted while "slow" still waits
    assert slow.state is ActorState.FAILED and fast.stats.restarts == 1
    released.set()
    await eventually(lambda: slow.state is ActorState.RUNNING)
    await system.shutdown()


async def test_on_give_up_is_validated() -> None:
    with pytest.raises(ConfigError, match="'stop_child'.*'stop_system'"):
        ActorSystem(on_give_up="stop_everyone")
