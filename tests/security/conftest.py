"""Fixtures for the end-to-end security tests: one Engine for the session, and a Host per test
whose audit log goes to an in-memory sink the test can read (helpers: ``security_helpers``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
import pytest

from airssys_wasm import Host, HostConfig
from airssys_wasm.runtime import Engine, EngineConfig
from airssys_wasm.security import MemoryAuditSink


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    with Engine(EngineConfig(epoch_interruption=True)) as eng:
        yield eng


@pytest.fixture
def audit() -> MemoryAuditSink:
    return MemoryAuditSink()


@pytest.fixture
async def host(engine: Engine, audit: MemoryAuditSink) -> AsyncIterator[Host]:
    async with Host(HostConfig(health=None, audit=audit), engine=engine) as h:
        yield h
