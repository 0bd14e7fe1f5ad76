"""Periodic health probing: one scheduler task per probe interval for the whole system, with the
per-actor semantics of a probe loop (interval, restart after ``threshold`` unhealthy in a row,
no probes for stopped actors, probing resumes after a restart)."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
from actor_helpers import eventually

from airssys_wasm.actor import (
    Actor,
    ActorState,
    ActorSystem,
    Backoff,
    HealthCheck,
    HealthEvent,
    HealthStatus,
    RestartEvent,
)
from airssys_wasm.errors import HealthCheckFailed

FAST = HealthCheck(interval=0.01, timeout=0.5, threshold=2)


class Switch(Actor):
    """Answers the shared status of its name (HEALTHY unless a test flips it)."""

    def __init__(self, statuses: dict[str, HealthStatus]) -> None:
        self.statuses = statuses

    async def health(self) -> HealthStatus:
        return self.statuses.get(self.context.name, HealthStatus.HEALTHY)

    def handle(self, message: Any) -> None:
        pass


@pytest.fixture
async def system():
    events: list[Any] = []
    actor_system = ActorSystem(max_restarts=10, within=60.0)
    actor_system.add_listener(events.append)
    actor_system.events = events  # type: ignore[attr-defined]
    yield actor_system
    await actor_system.shutdown()


def probes(system: ActorSystem) -> Counter[str]:
    return Counter(e.actor for e in system.events  # type: ignore[attr-defined]
                   if isinstance(e, HealthEvent))


def health_tasks() -> list[str]:
    return sorted(t.get_name() for t in asyncio.all_tasks()
                  if t.get_name().startswith("health:") and not t.done())


async def test_many_actors_are_probed_from_one_task_per_interval(system: ActorSystem) -> None:
    statuses: dict[str, HealthStatus] = {}
    for i in range(20):
        await system.spawn(lambda: Switch(statuses), f"a{i}", health=FAST)
    slow = HealthCheck(interval=3600.0)
    await system.spawn(lambda: Switch(statuses), "slow", health=slow)
    # No probe is due yet: what exists is one lane task per interval, not one task per actor.
    assert health_tasks() == ["health:system:0.01s", "health:system:3600s"]
    await eventually(lambda: all(probes(system)[f"a{i}"] >= 3 for i in range(20)),
                     "three periodic probes of every actor")
    assert probes(system)["slow"] == 0


async def test_a_stopped_actor_is_no_longer_probed_and_the_others_still_are(
        system: ActorSystem) -> None:
    statuses: dict[str, HealthStatus] = {}
    gone = await system.spawn(lambda: Switch(statuses), "gone", health=FAST)
    await system.spawn(lambda: Switch(statuses), "kept", health=FAST)
    await eventually(lambda: probes(system)["gone"] >= 1, "a first probe of 'gone'")
    await gone.stop()
    stopped_at = probes(system)["gone"]
    kept_at = probes(system)["kept"]
    await eventually(lambda: probes(system)["kept"] >= kept_at + 3, "three more probes of 'kept'")
    assert probes(system)["gone"] == stopped_at


async def test_periodic_unhealthy_probes_restart_the_actor_and_probing_resumes(
        system: ActorSystem) -> None:
    statuses = {"m": HealthStatus.UNHEALTHY}
    ref = await system.spawn(lambda: Switch(statuses), "m", health=FAST, restart="permanent",
                             backoff=Backoff(initial=0.0, jitter=0.0))
    await eventually(lambda: ref.stats.restarts == 1 and ref.state is ActorState.RUNNING,
                     "a restart after two unhealthy probes in a row")
    statuses["m"] = HealthStatus.HEALTHY
    restart = next(e for e in system.events  # type: ignore[attr-defined]
                   if isinstance(e, RestartEvent))
    assert isinstance(restart.error, HealthCheckFailed)
    await eventually(
        lambda: [e.status for e in system.events if isinstance(e, HealthEvent)][-2:]  # type: ignore[attr-defined]
        == [HealthStatus.HEALTHY, HealthStatus.HEALTHY],
        "periodic probes of the new incarnation")
    streaks = [e.consecutive_unhealthy for e in system.events  # type: ignore[attr-defined]
               if isinstance(e, HealthEvent)]
    assert streaks[:2] == [1, 2]  # the second unhealthy answer in a row restarted it


async def test_shutdown_leaves_no_probe_task_behind() -> None:
    system = ActorSystem()
    statuses: dict[str, HealthStatus] = {}
    for i in range(3):
        await system.spawn(lambda: Switch(statuses), f"a{i}", health=FAST)
    assert health_tasks() == ["health:system:0.01s"]
    await system.shutdown()
    await asyncio.sleep(0)
    assert health_tasks() == []
