"""Request/response correlation: request ids, deadlines, cancellation, late replies.

A request is opened when it is sent (by Python through ``Host.request`` or by a guest through
``send-request``), travels to the target's mailbox as a :class:`RequestEnvelope`, and is closed
exactly once: by its reply, by an error (the guest's error value, a trap, a dead letter), by
its deadline or by a cancel. Whatever arrives after that is dropped and counted in
``late_replies``, never delivered twice. A request whose deadline passed while it waited in
the mailbox is not executed at all (``expired_unstarted``).

Replies to guests come back as a :class:`Callback` in the caller's mailbox, which the caller's
actor hands to its ``handle-callback``.
"""

from __future__ import annotations

import asyncio
import enum
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from airssys_wasm.errors import ComponentNotFound, ConfigError, PermissionDenied, RequestTimeout
from airssys_wasm.types import ComponentId, ExecutionContext

__all__ = ["Callback", "PendingRequest", "RequestEnvelope", "RequestStats", "RequestTable"]

#: The largest ``timeout-ms`` an ``execution-context`` carries (a WIT u64).
_U64 = 2 ** 64 - 1


class _State(enum.Enum):
    PENDING = "pending"
    REPLIED = "replied"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"


class PendingRequest:
    """One open request. ``future`` answers a Python caller; ``reply_to`` names a guest caller."""

    __slots__ = ("id", "caller", "target", "deadline", "timeout", "future", "reply_to", "state",
                 "_timer", "_on_close")

    def __init__(self, request_id: str, caller: ComponentId, target: str, timeout: float,
                 deadline: float, future: asyncio.Future[bytes] | None,
                 reply_to: str | None) -> None:
        self.id = request_id
        self.caller = caller
        self.target = target
        self.timeout = timeout
        self.deadline = deadline
        self.future = future
        self.reply_to = reply_to
        self.state = _State.PENDING
        self._timer: asyncio.TimerHandle | None = None
        #: Called with a reason if the request ends unanswered (timeout, cancel) while its
        #: target works on it: the target's suspended guest call is cancelled with it.
        self._on_close: Callable[[str], None] | None = None

    @property
    def open(self) -> bool:
        return self.state is _State.PENDING

    def __repr__(self) -> str:
        return f"<PendingRequest {self.id} {self.caller} -> {self.target} {self.state.value}>"


@dataclass(frozen=True, slots=True)
class RequestEnvelope:
    """What a target's mailbox holds for a request: run ``execute(operation, context)``."""

    request: PendingRequest
    operation: bytes
    context: ExecutionContext


@dataclass(frozen=True, slots=True)
class Callback:
    """The outcome of a guest's request, for its ``handle-callback``: ``reply`` or ``error``."""

    request_id: str
    reply: bytes | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class RequestStats:
    """Counters of a ``RequestTable`` (``Host.request_stats()``): requests ``issued``, ``replied``,
    ``failed``, ``timed_out``, ``cancelled``, replies that arrived too late (``late_replies``,
    dropped), requests that expired before their target started them (``expired_unstarted``)
    and those still ``pending``.

    A frozen snapshot, so monitoring can compare two of them without racing the live table."""

    issued: int
    replied: int
    failed: int
    timed_out: int
    cancelled: int
    late_replies: int  # replies/errors that arrived after the request was closed: dropped
    expired_unstarted: int  # requests whose deadline passed before the target started them
    pending: int


class RequestTable:
    """Open requests by id. Single-threaded: used from the host's event loop only."""

    def __init__(self, prefix: str, deliver_callback: Callable[[PendingRequest, Callback], None],
                 loop: asyncio.AbstractEventLoop) -> None:
        self._prefix = prefix
        self._ids = itertools.count(1)
        self._open: dict[str, PendingRequest] = {}
        self._deliver = deliver_callback
        self._loop = loop
        self.issued = self.replied = self.failed = self.timed_out = self.cancelled = 0
        self.late_replies = self.expired_unstarted = 0

    def stats(self) -> RequestStats:
        """A snapshot of the counters (see ``RequestStats``)."""
        return RequestStats(self.issued, self.replied, self.failed, self.timed_out, self.cancelled,
                            self.late_replies, self.expired_unstarted, len(self._open))

    def open(self, caller: ComponentId, target: str, timeout: float, *,
             reply_to: str | None = None) -> PendingRequest:
        """Open a request. Without ``reply_to`` the caller is Python and awaits ``future``;
        with it, the outcome goes to that component as a Callback (and its deadline is a timer)."""
        if not 0 < timeout < math.inf:
            raise ConfigError(f"a request timeout must be a finite number of seconds > 0, got "
                              f"{timeout!r}")
        request_id = f"{self._prefix}-{next(self._ids)}"
        now = self._loop.time()
        future = self._loop.create_future() if reply_to is None else None
        request = PendingRequest(request_id, caller, target, timeout, now + timeout, future,
                                 reply_to)
        if reply_to is not None:
            request._timer = self._loop.call_at(request.deadline, self._expire, request)
        self._open[request_id] = request
        self.issued += 1
        return request

    def context(self, request: PendingRequest, caller_info: Any) -> ExecutionContext:
        """The ``execution-context`` handed to the target's ``execute``: the request id and the
        time left until the request's deadline (at least 1 ms), so a guest can bound its own work.
        """
        # At most what the WIT's u64 holds: a deadline 2**64 - 1 ms away (a guest may ask for
        # it) is 2**64 once it went through a float.
        remaining_ms = min(_U64, max(1, int((request.deadline - self._loop.time()) * 1000)))
        return ExecutionContext(request_id=request.id, timeout_ms=remaining_ms, caller=caller_info)

    def startable(self, request: PendingRequest) -> bool:
        """Whether the target should run ``request`` now; closes it if its time is up."""
        if request.state is not _State.PENDING:
            return False
        if self._loop.time() >= request.deadline:
            self.expired_unstarted += 1
            self._close_timed_out(request)
            return False
        return True

    def reply(self, request: PendingRequest, reply: bytes) -> bool:
        """The target answered. False (and counted as late) if the request is already closed."""
        if not self._still_open(request):
            return False
        self._close(request, _State.REPLIED)
        self.replied += 1
        if request.future is not None:
            request.future.set_result(reply)
        else:
            self._deliver(request, Callback(request.id, reply=reply))
        return True

    def fail(self, request: PendingRequest, error: BaseException) -> bool:
        """The request cannot be answered (guest error value, trap, dead letter)."""
        if not self._still_open(request):
            return False
        self._close(request, _State.FAILED)
        self.failed += 1
        if request.future is not None:
            request.future.set_exception(error)
        else:
            self._deliver(request, Callback(request.id, error=str(error)))
        return True

    def _still_open(self, request: PendingRequest) -> bool:
        if request.state is not _State.PENDING or (request.future is not None
                                                   and request.future.done()):
            self.late_replies += 1
            return False
        if self._loop.time() > request.deadline:
            # The deadline passed while the target was busy (its timer could not run yet).
            self.late_replies += 1
            self._close_timed_out(request)
            return False
        return True

    def give_up(self, request: PendingRequest) -> None:
        """A Python caller gave up waiting (its wait_for expired)."""
        if request.state is _State.PENDING:
            self._close_timed_out(request)

    def abandon(self, request: PendingRequest) -> None:
        """A Python caller was cancelled: the request is cancelled with it."""
        if request.state is _State.PENDING:
            self._close(request, _State.CANCELLED)
            self.cancelled += 1

    def cancel(self, request_id: str, by: ComponentId) -> None:
        """A guest's cancel-request: only the caller may cancel; no callback follows."""
        request = self._open.get(request_id)
        if request is None:
            raise ComponentNotFound(f"no open request {request_id!r}: it was answered, timed out "
                                    "or cancelled already (or never existed)")
        if request.caller != by:
            raise PermissionDenied(f"request {request_id!r} belongs to {request.caller}; a "
                                   "component may cancel only its own requests")
        self.abandon(request)

    def _expire(self, request: PendingRequest) -> None:
        if request.state is _State.PENDING:
            self._close_timed_out(request)

    def _close_timed_out(self, request: PendingRequest) -> None:
        self._close(request, _State.TIMED_OUT)
        self.timed_out += 1
        error = RequestTimeout(
            f"request {request.id} to {request.target!r} got no reply within "
            f"{request.timeout * 1000:.0f} ms; raise the timeout or check that the target answers")
        if request.future is not None:
            if not request.future.done():
                request.future.set_exception(error)
                request.future.exception()  # the caller may be gone: mark it retrieved
        else:
            self._deliver(request, Callback(request.id, error=str(error)))

    def on_close(self, request: PendingRequest, fn: Callable[[str], None] | None) -> None:
        """Run ``fn(reason)`` if ``request`` ends unanswered from now on (None: forget it)."""
        request._on_close = fn

    def _close(self, request: PendingRequest, state: _State) -> None:
        request.state = state
        self._open.pop(request.id, None)
        if request._timer is not None:
            request._timer.cancel()
            request._timer = None
        on_close, request._on_close = request._on_close, None
        if on_close is not None and state in (_State.TIMED_OUT, _State.CANCELLED):
            on_close(f"request {request.id} {state.value.replace('_', ' ')}")

    def close_all(self, reason: str) -> None:
        """Host shutdown: every open request fails now rather than at its deadline."""
        for request in list(self._open.values()):
            if request.future is not None and not request.future.done():
                request.future.set_exception(ComponentNotFound(reason))
                request.future.exception()
            self._close(request, _State.CANCELLED)
            self.cancelled += 1
