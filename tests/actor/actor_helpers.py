"""Test helpers for the actor layer: a manual clock, an eventually() poller, recording actors."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from airssys_wasm.actor import Actor


class FakeClock:
    """Monotonic time that only moves when something sleeps or a test advances it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


async def eventually(predicate: Callable[[], bool], what: str = "condition") -> None:
    """Yield to the loop until ``predicate()`` holds (bounded, so a bug fails instead of hanging)."""
    for _ in range(20000):
        if predicate():
            return
        await asyncio.sleep(0)
    for _ in range(200):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


class Journal:
    """Ordered log of what actors did, shared by all actors of a test."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, str]] = []
        self.messages: dict[str, list[Any]] = {}

    def __call__(self, actor: str, what: str) -> None:
        self.entries.append((actor, what))

    def of(self, what: str) -> list[str]:
        return [actor for actor, kind in self.entries if kind == what]


class Recorder(Actor):
    """Records start/stop/messages in a journal; the message "boom" raises."""

    def __init__(self, journal: Journal, fail_on_start: bool = False) -> None:
        self.journal = journal
        self.fail_on_start = fail_on_start

    async def on_start(self) -> None:
        self.journal(self.context.name, "start")
        if self.fail_on_start:
            raise RuntimeError(f"{self.context.name} cannot start")

    def handle(self, message: Any) -> None:
        if message == "boom":
            raise RuntimeError(f"{self.context.name} exploded")
        if message == "exit":
            self.context.stop()
            return
        self.journal.messages.setdefault(self.context.name, []).append(message)

    async def on_stop(self) -> None:
        self.journal(self.context.name, "stop")
