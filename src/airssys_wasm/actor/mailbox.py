"""Bounded mailbox: the Cython ring plus asyncio wake-ups and backpressure.

Memory stays bounded because the ring never grows past its capacity (below it, its slots follow
what is queued, so an idle actor costs a few slots): a full mailbox makes ``put`` wait (FIFO
among waiting senders, so nobody starves) and ``try_put`` raise ``MailboxFull``. The consumer drains
in batches, so one task switch is amortised over up to ``batch_size`` messages; senders only pay
for a wake-up when the consumer is actually parked.

The mailbox object outlives actor instances: a restarted actor gets the same mailbox, and the
unhandled tail of a failed batch is put back at the front (``requeue``) so nothing accepted is
lost or reordered.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

from airssys_wasm._fast._mailbox import PUSH_CLOSED, Ring
from airssys_wasm.errors import ConfigError, MailboxClosed, MailboxFull

__all__ = ["Mailbox", "DEFAULT_CAPACITY", "MAX_CAPACITY"]

DEFAULT_CAPACITY = 1024
#: The largest mailbox the ring allows (``_fast._mailbox``), and so the largest useful batch.
MAX_CAPACITY = 1 << 26

_A = TypeVar("_A")


class _WakeCall:
    """A parked consumer that is a plain call (``Mailbox.call_on_wake``): it answers the two
    methods the producer side uses on the future ``park`` returns, and runs the call at once.

    It keeps a function and its argument rather than a bound method: an idle actor parks one of
    these for as long as it is idle, and a bound method would be a second object per actor for
    every GC pass to walk."""

    __slots__ = ("_fn", "_arg")

    def __init__(self, fn: Callable[[Any], object], arg: Any) -> None:
        self._fn: Callable[[Any], object] | None = fn
        self._arg = arg

    def done(self) -> bool:
        return self._fn is None

    def set_result(self, _: None) -> None:
        fn, self._fn = self._fn, None
        arg, self._arg = self._arg, None
        if fn is not None:
            fn(arg)


class Mailbox:
    """FIFO of messages for one actor.

    ``on_closed(message)``, when given, receives messages offered after ``close()`` instead of
    a ``MailboxClosed`` being raised: the actor system uses it to turn them into dead letters.
    """

    __slots__ = ("name", "_ring", "_carry", "_senders", "_on_closed", "_waker")

    def __init__(
        self,
        capacity: int = DEFAULT_CAPACITY,
        *,
        name: str = "mailbox",
        on_closed: Callable[[Any], None] | None = None,
    ) -> None:
        if isinstance(capacity, bool) or not isinstance(capacity, int):
            raise TypeError(f"capacity must be an int, not {type(capacity).__name__}")
        if capacity < 1:
            raise ConfigError(
                f"capacity must be >= 1 (a mailbox is bounded by design), got {capacity}")
        try:
            self._ring = Ring(capacity)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        self.name = name
        #: Requeued messages (the unhandled tail of a failed batch), made on the first requeue:
        #: most actors never fail a batch, and a deque is a block of 64 slots and one more
        #: object per actor for every GC pass to walk.
        self._carry: deque[Any] | None = None
        # The ring holds the parked consumer (``consumer``) and the waiting senders, so the
        # router's enqueue reads them as C fields; their deque is made for the first sender
        # that has to wait (``Ring.waiting_queue``).
        self._senders: deque[asyncio.Future[None]] | None = None
        self._on_closed = on_closed
        #: The ``call_on_wake`` consumer, kept to be armed again: an actor without a task goes
        #: idle after every batch, and a fresh object each time is garbage for the GC.
        self._waker: _WakeCall | None = None

    # -- introspection -------------------------------------------------------------------------
    @property
    def capacity(self) -> int:
        """How many messages fit before ``put`` waits and ``try_put`` raises ``MailboxFull``."""
        return self._ring.capacity

    @property
    def ring(self) -> Ring:
        """The C ring behind this mailbox: the router enqueues into it directly (``offer``),
        with ``try_put``'s semantics on its fast path."""
        return self._ring

    @property
    def closed(self) -> bool:
        """True once the mailbox refuses new messages (its actor stopped for good)."""
        return self._ring.closed

    @property
    def accepted(self) -> int:
        """Messages accepted since creation (requeued ones are not counted twice)."""
        return self._ring.pushed

    @property
    def waiting_senders(self) -> int:
        """Senders blocked on a full mailbox: a measure of backpressure on this actor."""
        return len(self._senders) if self._senders is not None else 0

    def __len__(self) -> int:
        carry = self._carry
        return len(self._ring) + (len(carry) if carry is not None else 0)

    def __repr__(self) -> str:
        return f"<Mailbox {self.name} {len(self)}/{self.capacity}{' closed' if self.closed else ''}>"

    # -- producer side -------------------------------------------------------------------------
    def try_put(self, message: Any) -> None:
        """Enqueue without waiting; ``MailboxFull`` when at capacity."""
        if self._ring.offer(message):  # senders waiting, full or closed: not taken
            self._refuse(message)

    def _refuse(self, message: Any) -> None:
        if self._ring.closed:
            self._closed_put(message)
            return
        raise MailboxFull(
            f"mailbox {self.name!r} is full ({self.capacity} messages queued"
            f"{f', {len(self._senders)} senders waiting' if self._senders else ''}); "
            "use `await send(...)` to wait for space, retry later, or raise the capacity")

    def _closed_put(self, message: Any) -> None:
        if self._on_closed is not None:
            self._on_closed(message)
            return
        raise MailboxClosed(
            f"mailbox {self.name!r} is closed: its actor has stopped; the message was not "
            "accepted (look the actor up again or restart it)")

    async def put(self, message: Any) -> None:
        """Enqueue, waiting while the mailbox is full (backpressure)."""
        result = self._ring.offer(message)
        if not result:
            return
        if result == PUSH_CLOSED:
            self._closed_put(message)
            return
        await self._put_slow(message)  # full, or behind senders already waiting

    async def _put_slow(self, message: Any) -> None:
        loop = asyncio.get_running_loop()
        senders = self._senders
        if senders is None:
            senders = self._senders = self._ring.waiting_queue()
        first_try = True
        while True:
            waiter = loop.create_future()
            # A sender that was woken but lost its slot to try_put keeps its place at the front.
            if first_try:
                senders.append(waiter)
            else:
                senders.appendleft(waiter)
            first_try = False
            try:
                await waiter
            except asyncio.CancelledError:
                self._forget_sender(waiter)
                raise
            result = self._ring.push(message)
            if not result:
                self._ring.wake()
                return
            if result == PUSH_CLOSED:
                self._closed_put(message)
                return

    def _forget_sender(self, waiter: asyncio.Future[None]) -> None:
        try:
            if self._senders is not None:
                self._senders.remove(waiter)
        except ValueError:
            pass
        # It was already woken for a free slot: hand that wake-up to the next sender in line.
        if waiter.done() and not waiter.cancelled() and self._ring.free:
            self._wake_senders(1)

    def _wake_senders(self, slots: int) -> None:
        senders = self._senders
        while slots > 0 and senders:
            waiter = senders.popleft()
            if not waiter.done():
                waiter.set_result(None)
                slots -= 1

    # -- consumer side -------------------------------------------------------------------------
    def drain(self, max_items: int) -> list[Any]:
        """Up to ``max_items`` oldest messages (requeued ones first); wakes waiting senders."""
        if self._carry:
            return self._drain_carry(max_items)
        batch = self._ring.drain(max_items)
        if self._senders and batch:
            self._wake_senders(len(batch))
        return batch

    def _drain_carry(self, max_items: int) -> list[Any]:
        carry = self._carry
        assert carry is not None
        n = min(max_items, len(carry))
        batch = [carry.popleft() for _ in range(n)]
        if not carry:
            self._carry = None  # back to none until the next requeue
        return batch

    def requeue(self, messages: list[Any]) -> None:
        """Put already-drained, unhandled messages back at the front, in order.

        They do not count against the capacity (they were accepted before).
        """
        if not messages:
            return
        if self._carry is None:
            self._carry = deque()
        self._carry.extendleft(reversed(messages))

    async def wait(self) -> None:
        """Park the consumer until a message arrives, the mailbox closes, or ``poke()``."""
        if len(self._ring) or self._carry or self._ring.closed:
            return
        await self.park()

    def park(self) -> asyncio.Future[None]:
        """A future the producer side resolves on the next message, ``close()`` or ``poke()``.

        The caller must have just seen the mailbox empty (``drain`` returned nothing) with no
        await in between; this is ``wait()`` without a coroutine per wake-up.
        """
        waiter = asyncio.get_running_loop().create_future()
        ring = self._ring
        ring.consumer = waiter
        ring.trim()  # the actor goes idle: the ring keeps slots for what is queued, no more
        return waiter

    def call_on_wake(self, fn: Callable[[_A], object], arg: _A) -> None:
        """Park ``fn(arg)`` as the consumer: it is called, synchronously and once, where a parked
        future would be resolved (next message, ``close()``, ``poke()``). An actor without a task
        uses it to queue itself for the system's ready pass, so its messages are handled in the
        loop pass a parked task would have run in. Same precondition as ``park``."""
        waker = self._waker
        if waker is None:
            waker = self._waker = _WakeCall(fn, arg)
        else:  # fired (or replaced by a parked future): arm it again
            waker._fn, waker._arg = fn, arg
        self._ring.consumer = waker

    def poke(self) -> None:
        """Wake a parked consumer without a message (stop and health requests use this)."""
        self._ring.wake()

    def close(self) -> None:
        """Refuse new messages. Queued ones stay drainable; waiting senders are refused too."""
        self._ring.close()
        self._ring.wake()
        # Woken senders find the ring closed and route their message through _closed_put.
        if self._senders:
            self._wake_senders(len(self._senders))

    def take_all(self) -> list[Any]:
        """Remove and return every queued message (for dead-lettering)."""
        carry, self._carry = self._carry, None
        rest = list(carry) if carry is not None else []
        rest.extend(self._ring.drain())
        return rest
