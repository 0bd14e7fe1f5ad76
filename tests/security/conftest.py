"""Fixtures for the end-to-end security tests: one Engine for the session, and a Host per test
whose audit log goes to an in-memory sink the test can read; helpers to write manifests and read
the ext probes' replies (0x00 ++ value, or 0x01 ++ error case index ++ text)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from airssys_wasm import Host, HostConfig
from airssys_wasm.runtime import Engine, EngineConfig
from airssys_wasm.security import MemoryAuditSink

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "wat"


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


def manifest(name: str, capabilities: str = "", quota: str = "", limits: str = "") -> str:
    return (f'[component]\nname = "{name}"\nversion = "1.0.0"\n'
            + (f"\n[limits]\n{limits}\n" if limits else "")
            + (f"\n{capabilities}\n" if capabilities else "")
            + (f"\n[quota]\n{quota}\n" if quota else ""))


def ok(reply: bytes) -> bytes:
    assert reply[:1] == b"\x00", f"expected ok, got {reply!r}"
    return reply[1:]


def err(reply: bytes) -> tuple[int, str]:
    assert reply[:1] == b"\x01", f"expected an error, got {reply!r}"
    return reply[1], reply[2:].decode()


def denials(audit: MemoryAuditSink, kind: str) -> list:
    return [r for r in audit.records if r.kind == kind and r.decision == "deny"]


def argv(executable: str, *args: str) -> bytes:
    """The ext-proc probe's argv encoding: len u8 ++ executable ++ argc u8 ++ (len u8 ++ arg)*."""
    op = bytes([len(executable)]) + executable.encode() + bytes([len(args)])
    for arg in args:
        op += bytes([len(arg)]) + arg.encode()
    return op
