"""Supervision: strategies, policies, restart order, intensity, escalation, nesting, backoff, health."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from actor_helpers import FakeClock, Journal, Recorder, eventually

from airssys_wasm.actor import (
    Actor,
    ActorState,
    ActorSystem,
    Backoff,
    ChildSpec,
    DeadLetterReason,
    EscalationEvent,
    HealthCheck,
    HealthEvent,
    HealthStatus,
    RestartEvent,
    RestartPolicy,
    Supervisor,
    SupervisorStrategy,
)
from airssys_wasm.errors import ConfigError, HealthCheckFailed, SupervisorEscalation

NO_JITTER = Backoff(initial=0.5, multiplier=2.0, max=10.0, jitter=0.0)


def spec(journal: Journal, name: str, restart: RestartPolicy = RestartPolicy.PERMANENT,
         **kwargs: Any) -> ChildSpec:
    return ChildSpec(name, lambda: Recorder(journal), restart=restart,
                     backoff=kwargs.pop("backoff", NO_JITTER), **kwargs)


def events_of(system: ActorSystem, kind: type) -> list[Any]:
    return [e for e in system.events if isinstance(e, kind)]  # type: ignore[attr-defined]


async def start_three(system: ActorSystem, journal: Journal, strategy: SupervisorStrategy,
                      **kwargs: Any) -> Supervisor:
    sup = Supervisor("sup", [spec(journal, n) for n in "abc"], strategy=strategy, **kwargs)
    await system.start_child(sup)
    journal.entries.clear()
    return sup


@pytest.mark.parametrize(
    ("strategy", "stops", "starts"),
    [
        (SupervisorStrategy.ONE_FOR_ONE, [], ["b"]),
        (SupervisorStrategy.ONE_FOR_ALL, ["c", "a"], ["a", "b", "c"]),
        (SupervisorStrategy.REST_FOR_ONE, ["c"], ["b", "c"]),
    ],
)
async def test_strategy_decides_who_restarts_and_in_which_order(
        system: ActorSystem, journal: Journal, strategy: SupervisorStrategy,
        stops: list[str], starts: list[str]) -> None:
    sup = await start_three(system, journal, strategy)
    refs = {name: sup.child(name) for name in "abc"}
    refs["b"].try_send("boom")
    await eventually(lambda: len(journal.of("start")) == len(starts))
    await eventually(lambda: all(r.state is ActorState.RUNNING for r in refs.values()))
    assert journal.of("stop") == stops  # siblings halted in reverse start order
    assert journal.of("start") == starts  # then restarted in start order
    assert [e.actor for e in events_of(system, RestartEvent)] == ["b"]
    assert {n: refs[n].stats.restarts for n in "abc"} == {n: int(n in starts) for n in "abc"}
    # Every actor still works, and the refs held before the restart are still valid.
    for name, ref in refs.items():
        ref.try_send(f"hello {name}")
    await eventually(lambda: all(journal.messages.get(n) == [f"hello {n}"] for n in "abc"))


@pytest.mark.parametrize(
    ("policy", "message", "restarted"),
    [
        (RestartPolicy.PERMANENT, "boom", True),
        (RestartPolicy.PERMANENT, "exit", True),
        (RestartPolicy.TRANSIENT, "boom", True),
        (RestartPolicy.TRANSIENT, "exit", "kept"),
        (RestartPolicy.TEMPORARY, "boom", False),
        (RestartPolicy.TEMPORARY, "exit", False),
    ],
)
async def test_restart_policy(system: ActorSystem, journal: Journal, policy: RestartPolicy,
                              message: str, restarted: bool | str) -> None:
    # batch_size=1: a self-stop takes effect after the current batch, here right after "exit".
    sup = Supervisor("sup", [spec(journal, "child", policy, batch_size=1)])
    await system.start_child(sup)
    ref = sup.child("child")
    ref.try_send(message)
    ref.try_send("after")
    if restarted is True:
        await eventually(lambda: journal.messages.get("child") == ["after"])
        assert journal.of("start") == ["child", "child"]
        assert ref.state is ActorState.RUNNING
        assert sup.children == ["child"]
    elif restarted == "kept":
        # OTP keeps a transient child that exited normally (pid undefined) so that a later
        # group restart starts it again; its mailbox, with "after" in it, stays for that.
        await eventually(lambda: ref.state is ActorState.STOPPED)
        for _ in range(100):
            await asyncio.sleep(0)
        assert journal.of("start") == ["child"]
        assert sup.children == ["child"] and ref.stats.queued == 1
        assert list(system.dead_letters) == []
    else:
        await eventually(lambda: ref.state is ActorState.STOPPED and sup.children == [])
        assert journal.of("start") == ["child"]
        # "after" was queued behind the exit: it is reported, not lost.
        assert [d.message for d in system.dead_letters if d.reason is DeadLetterReason.STOPPED] \
            == ["after"]


async def test_backoff_delays_use_the_injected_clock(system: ActorSystem, journal: Journal,
                                                     clock: FakeClock) -> None:
    backoff = Backoff(initial=1.0, multiplier=2.0, max=5.0, jitter=0.0, reset_after=30.0)
    sup = Supervisor("sup", [spec(journal, "c", backoff=backoff)], max_restarts=100, within=1.0)
    await system.start_child(sup)
    ref = sup.child("c")
    for expected_restarts in range(1, 5):
        ref.try_send("boom")
        await eventually(lambda: ref.stats.restarts == expected_restarts
                         and ref.state is ActorState.RUNNING)
    assert clock.sleeps == [1.0, 2.0, 4.0, 5.0]
    assert [e.delay for e in events_of(system, RestartEvent)] == [1.0, 2.0, 4.0, 5.0]
    assert [e.attempt for e in events_of(system, RestartEvent)] == [1, 2, 3, 4]
    clock.advance(30.0)  # stable for reset_after: the sequence starts over
    ref.try_send("boom")
    await eventually(lambda: ref.stats.restarts == 5 and ref.state is ActorState.RUNNING)
    assert clock.sleeps[-1] == 1.0


async def test_intensity_exceeded_escalates_to_parent(system: ActorSystem, journal: Journal,
                                                      clock: FakeClock) -> None:
    inner = Supervisor("inner", [spec(journal, "worker")], max_restarts=2, within=60.0,
                       backoff=Backoff(initial=3.0, jitter=0.0))
    outer = Supervisor("outer", [spec(journal, "sibling"), inner],
                       strategy=SupervisorStrategy.ONE_FOR_ONE, max_restarts=5, within=60.0)
    await system.start_child(outer)
    worker = inner.child("worker")
    journal.entries.clear()
    for restarts in (1, 2):
        worker.try_send("boom")
        await eventually(lambda: worker.stats.restarts == restarts
                         and worker.state is ActorState.RUNNING)
    assert events_of(system, EscalationEvent) == []
    worker.try_send("boom")  # third failure within 60 s: inner gives up
    worker.try_send("kept")  # queued while the subtree restarts
    await eventually(lambda: len(events_of(system, EscalationEvent)) == 1)
    await eventually(lambda: journal.messages.get("worker") == ["kept"])
    escalation = events_of(system, EscalationEvent)[0]
    assert (escalation.supervisor, escalation.max_restarts) == ("inner", 2)
    restart_events = events_of(system, RestartEvent)
    assert [(e.actor, e.supervisor) for e in restart_events] == [
        ("worker", "inner"), ("worker", "inner"), ("inner", "outer")]
    assert isinstance(restart_events[-1].error, SupervisorEscalation)
    assert clock.sleeps[-1] == 3.0  # the parent applies the inner supervisor's own backoff
    assert journal.of("start").count("sibling") == 0  # one_for_one: the sibling was untouched
    assert inner.restarts == 1 and inner.running
    # The restarted subtree has a fresh intensity window: two more failures are tolerated.
    for restarts in (4, 5):
        worker.try_send("boom")
        await eventually(lambda: worker.stats.restarts == restarts
                         and worker.state is ActorState.RUNNING)
    assert len(events_of(system, EscalationEvent)) == 1


async def test_failures_spread_beyond_the_window_never_escalate(
        system: ActorSystem, journal: Journal, clock: FakeClock) -> None:
    sup = Supervisor("sup", [spec(journal, "c")], max_restarts=1, within=10.0)
    await system.start_child(sup)
    ref = sup.child("c")
    for restarts in range(1, 6):
        clock.advance(11.0)
        ref.try_send("boom")
        await eventually(lambda: ref.stats.restarts == restarts and ref.state is ActorState.RUNNING)
    assert events_of(system, EscalationEvent) == []


async def test_stop_system_root_escalation_fails_the_system_and_reports_queued_messages(
        clock: FakeClock) -> None:
    events: list[Any] = []
    system = ActorSystem(clock=clock, sleep=clock.sleep, max_restarts=1, within=60.0,
                         on_give_up="stop_system")
    system.add_listener(events.append)
    journal = Journal()
    ref = await system.spawn(lambda: Recorder(journal), "fragile", restart="permanent",
                             backoff=NO_JITTER)
    ref.try_send("boom")
    await eventually(lambda: ref.stats.restarts == 1 and ref.state is ActorState.RUNNING)
    for message in ["boom", "x", "y"]:
        ref.try_send(message)
    await eventually(lambda: system.escalation is not None)
    await eventually(lambda: ref.state is ActorState.FAILED and ref.mailbox.closed)
    assert isinstance(system.escalation, SupervisorEscalation)
    assert "exceeded 1 restarts within 60.0s" in str(system.escalation)
    assert ref.error is system.escalation
    assert [e.supervisor for e in events if isinstance(e, EscalationEvent)] == ["system/root"]
    assert [(d.message, d.reason.value) for d in system.dead_letters] == [
        ("boom", "failed"), ("boom", "failed"), ("x", "gave_up"), ("y", "gave_up")]
    assert system.dead_letters[-1].error is system.escalation
    with pytest.raises(Exception, match="root supervisor gave up"):
        await system.spawn(lambda: Recorder(journal), "late")
    await system.shutdown()


async def test_nested_tree_starts_in_order_and_stops_in_reverse(system: ActorSystem,
                                                                journal: Journal) -> None:
    tree = Supervisor("top", [
        spec(journal, "a"),
        Supervisor("mid", [spec(journal, "b"), Supervisor("leaf", [spec(journal, "c")]),
                           spec(journal, "d")]),
        spec(journal, "e"),
    ])
    await system.start_child(tree)
    assert journal.of("start") == ["a", "b", "c", "d", "e"]
    assert sorted(system.actor_names()) == ["a", "b", "c", "d", "e"]
    await system.shutdown()
    assert journal.of("stop") == ["e", "d", "c", "b", "a"]
    assert system.actor_names() == []


async def test_one_for_all_restarts_nested_supervisor_subtree(system: ActorSystem,
                                                              journal: Journal) -> None:
    tree = Supervisor("top", [spec(journal, "a"), Supervisor("mid", [spec(journal, "b"),
                                                                     spec(journal, "c")])],
                      strategy=SupervisorStrategy.ONE_FOR_ALL)
    await system.start_child(tree)
    journal.entries.clear()
    system.lookup("a").try_send("boom")
    await eventually(lambda: len(journal.of("start")) == 3)
    assert journal.of("stop") == ["c", "b"]
    assert journal.of("start") == ["a", "b", "c"]


async def test_failing_restart_counts_towards_intensity(system: ActorSystem,
                                                        clock: FakeClock) -> None:
    attempts: list[int] = []

    class BreaksOnRestart(Actor):
        async def on_start(self) -> None:
            attempts.append(self.context.restarts)
            if self.context.restarts:
                raise RuntimeError("cannot come back")

        def handle(self, message: Any) -> None:
            raise RuntimeError("first failure")

    sup = Supervisor("sup", [ChildSpec("x", BreaksOnRestart, backoff=NO_JITTER)],
                     max_restarts=3, within=60.0)
    await system.start_child(sup)
    sup.child("x").try_send("go")
    await eventually(lambda: len(events_of(system, EscalationEvent)) == 1)
    assert attempts == [0, 1, 2, 3]


async def test_supervisor_parameters_are_validated() -> None:
    with pytest.raises(ConfigError, match="max_restarts"):
        Supervisor("s", max_restarts=-1)
    with pytest.raises(ConfigError, match="within"):
        Supervisor("s", within=0)
    with pytest.raises(ValueError, match="not a valid SupervisorStrategy"):
        Supervisor("s", strategy="one_for_some")
    with pytest.raises(TypeError, match="ChildSpec or Supervisor"):
        Supervisor("s", ["not a spec"])  # type: ignore[list-item]
    with pytest.raises(ConfigError, match="HealthCheck.threshold"):
        HealthCheck(threshold=0)
    with pytest.raises(ConfigError, match="HealthCheck.timeout"):
        HealthCheck(timeout=-1.0)


class Moody(Actor):
    """Health follows a shared switch; a message "hang" blocks the handler until released."""

    def __init__(self, mood: dict[str, Any]) -> None:
        self.mood = mood

    async def health(self) -> HealthStatus:
        return self.mood["status"]

    async def handle(self, message: Any) -> None:
        if message == "hang":
            self.mood["entered"].set()
            await self.mood["release"].wait()


@pytest.fixture
async def realtime_system():
    """Health tests use real sleeps: a periodic probe must not spin on an instant fake sleep.

    The probe interval is an hour, so only the probes the test makes itself run.
    """
    events: list[Any] = []
    system = ActorSystem(max_restarts=10, within=60.0)
    system.add_listener(events.append)
    system.events = events  # type: ignore[attr-defined]
    yield system
    await system.shutdown()


FAST_RESTART = Backoff(initial=0.0, jitter=0.0)


async def test_unhealthy_in_a_row_restarts_the_actor(realtime_system: ActorSystem) -> None:
    system = realtime_system
    mood = {"status": HealthStatus.HEALTHY, "release": asyncio.Event(), "entered": asyncio.Event()}
    check = HealthCheck(interval=3600.0, timeout=0.05, threshold=2)
    sup = Supervisor("sup", [ChildSpec("m", lambda: Moody(mood), backoff=FAST_RESTART, health=check)])
    await system.start_child(sup)
    ref = sup.child("m")
    assert await ref.health() is HealthStatus.HEALTHY
    mood["status"] = HealthStatus.UNHEALTHY
    assert await ref.health() is HealthStatus.UNHEALTHY
    mood["status"] = HealthStatus.DEGRADED  # not unhealthy: the streak resets
    assert await ref.health() is HealthStatus.DEGRADED
    mood["status"] = HealthStatus.UNHEALTHY
    assert await ref.health() is HealthStatus.UNHEALTHY
    assert ref.stats.restarts == 0
    assert await ref.health() is HealthStatus.UNHEALTHY  # second in a row -> restart
    await eventually(lambda: ref.stats.restarts == 1 and ref.state is ActorState.RUNNING)
    assert isinstance(events_of(system, RestartEvent)[0].error, HealthCheckFailed)
    streaks = [e.consecutive_unhealthy for e in events_of(system, HealthEvent)]
    assert streaks == [0, 1, 0, 1, 2]


async def test_stuck_handler_fails_health_probe_and_is_replaced(
        realtime_system: ActorSystem) -> None:
    system = realtime_system
    mood = {"status": HealthStatus.HEALTHY, "release": asyncio.Event(), "entered": asyncio.Event()}
    check = HealthCheck(interval=3600.0, timeout=0.02, threshold=2)
    sup = Supervisor("sup", [ChildSpec("m", lambda: Moody(mood), backoff=FAST_RESTART,
                                       health=check, shutdown_timeout=0.1)])
    await system.start_child(sup)
    ref = sup.child("m")
    for message in ["hang", "next"]:
        ref.try_send(message)
    await mood["entered"].wait()
    assert await ref.health() is HealthStatus.UNHEALTHY  # probe cannot run: handler is stuck
    assert await ref.health() is HealthStatus.UNHEALTHY
    await eventually(lambda: ref.stats.restarts == 1 and ref.state is ActorState.RUNNING)
    assert await ref.health() is HealthStatus.HEALTHY
    letters = [(d.message, type(d.error)) for d in system.dead_letters]
    assert letters == [("hang", HealthCheckFailed)]  # the message in hand; "next" was kept
    await eventually(lambda: ref.stats.messages_out == 1)


async def test_health_of_a_stopped_actor_is_unknown(system: ActorSystem, journal: Journal) -> None:
    ref = await system.spawn(lambda: Recorder(journal), "r")
    await ref.stop()
    assert await ref.health() is HealthStatus.UNKNOWN


async def test_lifecycle_and_restarts_reach_stdlib_logging(
        system: ActorSystem, journal: Journal, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="airssys_wasm.actor")
    sup = Supervisor("sup", [spec(journal, "c")])
    await system.start_child(sup)
    ref = sup.child("c")
    ref.try_send("boom")
    await eventually(lambda: ref.stats.restarts == 1 and ref.state is ActorState.RUNNING)
    await ref.stop()
    await ref.stop()  # stopping a stopped actor is a no-op
    messages = [r.getMessage() for r in caplog.records if r.name == "airssys_wasm.actor"]
    assert "actor c: created -> starting" in messages
    assert "actor c failed: RuntimeError('c exploded')" in messages
    assert any(m.startswith("supervisor sup restarts c (attempt 1) in 0.500s") for m in messages)
    assert messages[-1] == "actor c: stopping -> stopped"


async def test_simultaneous_failures_restart_the_group_once(system: ActorSystem,
                                                           journal: Journal) -> None:
    sup = await start_three(system, journal, SupervisorStrategy.ONE_FOR_ALL, max_restarts=5)
    refs = [sup.child(name) for name in "abc"]
    for ref in refs:
        ref.try_send("boom")  # all three fail in the same loop iteration
    await eventually(lambda: len(journal.of("start")) >= 3
                     and all(r.state is ActorState.RUNNING for r in refs))
    for _ in range(100):  # let any (wrongly) pending second restart happen
        await asyncio.sleep(0)
    # The later exits belong to incarnations the first group restart already replaced.
    assert len(events_of(system, RestartEvent)) == 1
    assert journal.of("start") == ["a", "b", "c"]
    assert [r.stats.restarts for r in refs] == [1, 1, 1]
    assert len(system.dead_letters) == 3
