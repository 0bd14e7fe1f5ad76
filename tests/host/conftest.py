"""Fixtures for the host tests: one Engine for the session (compiling is the slow part), a
fresh Host per test on top of it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from airssys_wasm import Host, HostConfig
from airssys_wasm.runtime import Engine, EngineConfig


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    with Engine(EngineConfig(epoch_interruption=True)) as eng:
        yield eng


@pytest.fixture
async def host(engine: Engine) -> AsyncIterator[Host]:
    async with Host(HostConfig(health=None), engine=engine) as h:
        h.events = []  # type: ignore[attr-defined]
        h.add_listener(h.events.append)  # type: ignore[attr-defined]
        yield h
