"""Fixtures for the actor tests (helpers live in actor_helpers.py)."""

from __future__ import annotations

import random

import pytest
from actor_helpers import FakeClock, Journal

from airssys_wasm.actor import ActorSystem, Event


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def journal() -> Journal:
    return Journal()


@pytest.fixture
async def system(clock: FakeClock):
    events: list[Event] = []
    actor_system = ActorSystem(clock=clock, sleep=clock.sleep, rng=random.Random(7))
    actor_system.add_listener(events.append)
    actor_system.events = events  # type: ignore[attr-defined]
    yield actor_system
    await actor_system.shutdown()
