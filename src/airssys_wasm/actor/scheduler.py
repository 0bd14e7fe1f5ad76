"""The scheduler of suspended guest calls: who runs when a guest cannot finish at once.

Every guest call starts inline in its actor's batch loop (no task switch); most finish in
their first poll. One that does not comes back as a :class:`GuestCall` and parks *only its own
actor* (its later messages wait, in order) while it is driven here:

- **waiting** on a :class:`HostWait` (a sleep, host I/O): nothing runs until the wait
  completes; then the call is polled again in the next loop pass. A timer at the call's
  wall-clock deadline ends it (kind ``timeout``) if the wait takes longer.
- **runnable** because its time slice ran out (an epoch yield): it joins a round-robin queue.
  The queue is served **one slice per event-loop pass**: after each slice the loop runs
  everything else that became ready (other actors' messages, replies, timers), so the latency
  of a responsive actor is about one slice however many guests are busy computing, and busy
  guests share the CPU equally.

A call is over when it finished, failed, ran past its deadline or was cancelled;
:meth:`Scheduler.finish` then returns its ``finish()`` (or raises it). Cancelling the task
that awaits it (an actor stopped, killed or restarted) cancels the call: its fiber is unwound
and the host work behind its wait is stopped.

The deadline is wall-clock from the call's start, but it ends only a guest still using time
past it: still waiting for its host work (the timer), or yielding or suspending again after a
resume (``GuestCall.poll``). Time a call sits queued for the host -- in the round-robin queue
below, or with its wait done but not yet resumed -- never traps it by itself: the resume runs
first, so a call that finishes in its next slice finishes (issue 17: trivial calls of 10,000
round-robin actors trapped at their 1000 ms after queueing). Hence no timer while runnable.
"""

from __future__ import annotations

import asyncio
from collections import deque
from functools import partial
from typing import Any

from airssys_wasm._fast.fastcall import GuestCall

__all__ = ["Scheduler", "SchedulerStats"]


class _Driven:
    """One call being driven: the future its awaiting task sleeps on, its deadline timer."""

    __slots__ = ("call", "done", "timer")

    def __init__(self, call: GuestCall, done: asyncio.Future[None]) -> None:
        self.call = call
        self.done = done
        self.timer: asyncio.TimerHandle | None = None


class SchedulerStats:
    """Counters: calls that suspended, slices granted, wakeups after a wait, deadline ends."""

    __slots__ = ("suspended", "slices", "wakeups", "expired", "cancelled")

    def __init__(self) -> None:
        self.suspended = self.slices = self.wakeups = self.expired = self.cancelled = 0

    def __repr__(self) -> str:
        return (f"SchedulerStats(suspended={self.suspended}, slices={self.slices}, "
                f"wakeups={self.wakeups}, expired={self.expired}, cancelled={self.cancelled})")


class Scheduler:
    """Drives the suspended guest calls of one event loop (one per ActorSystem)."""

    def __init__(self) -> None:
        self._runnable: deque[_Driven] = deque()
        self._active: dict[GuestCall, _Driven] = {}
        self._tick_scheduled = False
        self.stats = SchedulerStats()

    @property
    def runnable(self) -> int:
        """Calls waiting for a time slice."""
        return len(self._runnable)

    async def finish(self, call: GuestCall) -> Any:
        """Drive ``call`` (and the calls a multi-step operation chains to it) to the end and
        return its ``finish()``; cancelling the awaiting task cancels the call."""
        out: Any = call
        while type(out) is GuestCall:
            await self._complete(out)
            out = out.finish()
        return out

    async def _complete(self, call: GuestCall) -> None:
        loop = asyncio.get_running_loop()
        entry = _Driven(call, loop.create_future())
        self.stats.suspended += 1
        self._active[call] = entry
        self._park(entry)
        try:
            await entry.done
        except asyncio.CancelledError:
            if call.cancel("its actor was stopped or restarted"):
                self.stats.cancelled += 1
                try:  # let the layers above see the end (the runtime discards the Store)
                    call.finish()
                except BaseException:  # the CallCancelled itself, or what a layer made of it
                    pass
            raise
        finally:
            del self._active[call]
            if entry.timer is not None:
                entry.timer.cancel()
                entry.timer = None

    # -- the two ways a call waits ------------------------------------------------------------
    def _park(self, entry: _Driven) -> None:
        call = entry.call
        wait = call.waiting
        if wait is None:
            # Runnable: queueing never ends a call by itself, so no deadline timer (the call
            # checks its deadline after its next slice); the timer is for waits only.
            if entry.timer is not None:
                entry.timer.cancel()
                entry.timer = None
            self._runnable.append(entry)
            self._schedule_tick()
            return
        wait.add_done_callback(partial(self._woken, entry))
        if call.deadline > 0.0 and entry.timer is None:
            loop = asyncio.get_running_loop()
            # loop.time() is time.monotonic(), the clock of the deadline.
            entry.timer = loop.call_at(call.deadline, self._expire, entry)

    def _woken(self, entry: _Driven, _wait: object) -> None:
        # May run inside a wait's set_result (a timer, a task's done callback, a thread pool
        # hand-off): resume in a loop pass of its own, never inside somebody else's code.
        self.stats.wakeups += 1
        asyncio.get_running_loop().call_soon(self._poll, entry)

    def _expire(self, entry: _Driven) -> None:
        entry.timer = None
        if entry.done.done():
            return
        wait = entry.call.waiting
        if wait is None or wait.done():
            return  # queued for its slice or its resume, which runs first (see the module doc)
        self.stats.expired += 1
        self._poll(entry)  # still waiting past the deadline: poll ends it with kind timeout

    def _poll(self, entry: _Driven) -> None:
        if entry.done.done():  # the awaiting task was cancelled meanwhile
            return
        call = entry.call
        try:
            over = call.poll()
        except BaseException as exc:  # poll records guest failures; this is a bug: surface it
            call.cancel(exc)
            over = True
        if over:
            if entry.timer is not None:
                entry.timer.cancel()
                entry.timer = None
            entry.done.set_result(None)
        else:
            self._park(entry)

    # -- round robin over runnable calls -----------------------------------------------------
    def _schedule_tick(self) -> None:
        if not self._tick_scheduled:
            self._tick_scheduled = True
            asyncio.get_running_loop().call_soon(self._tick)

    def _tick(self) -> None:
        """One slice for the call at the head of the queue, then back to the loop."""
        self._tick_scheduled = False
        runnable = self._runnable
        while runnable:
            entry = runnable.popleft()
            if not entry.done.done():
                self.stats.slices += 1
                self._poll(entry)
                break
        if runnable:
            self._schedule_tick()

    def cancel(self, call: GuestCall, reason: object) -> bool:
        """Cancel ``call`` now (its awaiting task then sees it end with CallCancelled)."""
        if not call.cancel(reason):
            return False
        self.stats.cancelled += 1
        entry = self._active.get(call)
        if entry is not None and not entry.done.done():
            entry.done.set_result(None)
        return True
