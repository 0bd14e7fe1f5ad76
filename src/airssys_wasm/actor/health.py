"""Periodic health probing for every actor of one system, from one task per probe interval.

A task per actor that sleeps ``interval`` and probes made every spawn pay for a task, its
coroutine and a sleep timer (and every garbage collection walk them) for as long as the actor
lives, although a probe is due only every ``interval`` seconds (10 s by default). Here the actors
with the same interval share one lane: a FIFO of ``(due, cell, ticket)`` and one task that
sleeps until the head is due. Appending keeps the FIFO sorted, since every entry is "now +
the same interval". A probe runs in a task of its own only while it runs, so probes of
different actors still overlap and a stuck actor cannot delay the others' probes; when it ends,
the actor is queued again ``interval`` after it (as the per-actor loop slept after each probe).

An actor's probing is cancelled by bumping its ticket: the stale entry is skipped when it comes
due, and a probe in flight is cancelled. A lane's task ends when its FIFO is empty and is made
again by the next actor queued on it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airssys_wasm.actor.cell import ActorCell
    from airssys_wasm.actor.spec import HealthCheck
    from airssys_wasm.actor.system import ActorSystem

__all__ = ["HealthScheduler"]


class _Lane:
    """The actors probed every ``interval`` seconds, in the order their probes come due."""

    __slots__ = ("interval", "queue", "task")

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.queue: deque[tuple[float, ActorCell, int]] = deque()
        self.task: asyncio.Task[None] | None = None


class HealthScheduler:
    """Runs every actor's periodic probe of one system (internal; see ``HealthCheck``)."""

    def __init__(self, system: ActorSystem) -> None:
        self._system = system
        self._lanes: dict[float, _Lane] = {}
        self._closed = False

    def add(self, cell: ActorCell, check: HealthCheck) -> None:
        """Probe ``cell`` every ``check.interval`` s from now until ``cancel(cell)``."""
        if self._closed:
            return
        cell.health_ticket += 1
        self._queue(cell, check.interval, cell.health_ticket)

    def cancel(self, cell: ActorCell) -> None:
        """Stop probing ``cell``: its queued entry goes stale, a probe in flight is cancelled
        (unless the probe itself is what cancels: it ends on its own)."""
        cell.health_ticket += 1
        probe = cell.health_probe
        cell.health_probe = None
        if probe is not None and probe is not asyncio.current_task():
            probe.cancel()

    def close(self) -> None:
        """Stop every lane (system shutdown); later ``add`` calls probe nothing."""
        self._closed = True
        for lane in self._lanes.values():
            lane.queue.clear()
            if lane.task is not None:
                lane.task.cancel()
                lane.task = None

    def _queue(self, cell: ActorCell, interval: float, ticket: int) -> None:
        lane = self._lanes.get(interval)
        if lane is None:
            lane = self._lanes[interval] = _Lane(interval)
        lane.queue.append((self._system.clock() + interval, cell, ticket))
        loop = asyncio.get_running_loop()
        task = lane.task
        # A lane task of another (since closed) event loop never runs again: start a new one,
        # as the per-actor probe task of an actor started on this loop would have been.
        if task is None or task.done() or task.get_loop() is not loop:
            lane.task = loop.create_task(
                self._run(lane), name=f"health:{self._system.name}:{interval:g}s")

    async def _run(self, lane: _Lane) -> None:
        queue = lane.queue
        clock = self._system.clock
        try:
            while queue:
                due, cell, ticket = queue[0]
                if ticket != cell.health_ticket:
                    queue.popleft()  # cancelled (stopped, restarted, failed) meanwhile
                    continue
                wait = due - clock()
                if wait > 0:
                    await self._system.sleep(wait)
                    continue  # re-read the head: it may have been cancelled while we slept
                queue.popleft()
                cell.health_probe = asyncio.get_running_loop().create_task(
                    self._probe(cell, lane.interval, ticket), name=f"health:{cell.name}")
        finally:
            if lane.task is asyncio.current_task():
                lane.task = None

    async def _probe(self, cell: ActorCell, interval: float, ticket: int) -> None:
        try:
            await cell.check_health()
        finally:
            if cell.health_probe is asyncio.current_task():
                cell.health_probe = None
        if ticket == cell.health_ticket and not self._closed:
            self._queue(cell, interval, ticket)

    def __repr__(self) -> str:
        queued: dict[Any, int] = {interval: len(lane.queue) for interval, lane in self._lanes.items()}
        return f"<HealthScheduler queued={queued}>"
