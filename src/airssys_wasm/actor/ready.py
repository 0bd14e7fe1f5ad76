"""The actors woken in one event-loop pass, run from one loop callback: wake-ups in batches.

An actor whose handler is plain (``Actor.inline_dispatch``) and that has nothing but messages to
attend to needs no task of its own: its mailbox wakes it by queueing it here, and one callback
per loop pass drains the batch of every actor queued, calling the handler straight from C.
Spreading messages over 10,000 actors used to wake 10,000 tasks (a task switch each, ~5 µs on
this machine kind, on cold per-actor objects); now it is one callback that walks a list.

Only the ordinary case runs here. An actor with anything else to do — a guest call that
suspended, a failure, a stop, a health probe, work between batches — is handed to a task of its
own (``ActorCell``), which goes back to waiting here once it is idle again.

Messages sent while a pass runs wake their actors for the next pass (as a woken task would run
in the next one), so a pass ends and the loop serves I/O and timers in between. The pass runs in
a context of its own, not in the context of whoever woke the first actor.
"""

from __future__ import annotations

import asyncio
import contextvars
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airssys_wasm.actor.cell import ActorCell

__all__ = ["ReadyRun"]


class ReadyRun:
    """The woken actors of one system, run once per loop pass (internal; see the module)."""

    __slots__ = ("_ready", "_loop", "_context")

    def __init__(self) -> None:
        self._ready: list[ActorCell] = []
        #: The loop a pass is scheduled on, while one is (None: no pass pending).
        self._loop: asyncio.AbstractEventLoop | None = None
        self._context = contextvars.Context()

    def add(self, cell: ActorCell, loop: asyncio.AbstractEventLoop) -> bool:
        """Queue ``cell`` (woken on ``loop``) for the next pass; False when a pass is pending on
        another loop (the caller then gives the actor a task, as before batching)."""
        scheduled = self._loop
        if scheduled is None:
            self._loop = loop
            loop.call_soon(self._run, context=self._context)
        elif scheduled is not loop:
            return False
        self._ready.append(cell)
        return True

    def _run(self) -> None:
        ready, self._ready = self._ready, []
        self._loop = None  # actors woken from here on go to the next pass
        done = 0
        try:
            for cell in ready:
                done += 1
                cell.run_ready()
        finally:
            if done < len(ready):  # something escaped run_ready (it should not): nobody is lost
                loop = asyncio.get_event_loop()
                for cell in ready[done:]:
                    self.add(cell, loop)
