"""The user-facing actor: lifecycle hooks and message handlers.

An ``Actor`` instance is one *incarnation*. The runtime creates it from a factory, so a restart
builds fresh state (for a component: a new wasmtime Store) while the actor's name, address and
mailbox persist. Handlers receive messages in batches; the default ``handle_batch`` calls
``handle`` per message, and subclasses that can do better (one WASM entry per batch, say)
override it and report a part-way failure with ``BatchFailure``.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import TYPE_CHECKING, Any

from airssys_wasm.actor.events import HealthStatus

if TYPE_CHECKING:
    from airssys_wasm.actor.cell import ActorCell, ActorRef
    from airssys_wasm.actor.system import ActorSystem

__all__ = ["Actor", "ActorContext", "BatchFailure"]


class BatchFailure(Exception):
    """Raised by ``handle_batch`` when handling ``batch[index]`` failed with ``error``.

    Messages before ``index`` count as handled, ``batch[index]`` becomes a dead letter carrying
    ``error``, and the messages after it stay queued for the next incarnation. Any other
    exception out of ``handle_batch`` is attributed to ``batch[0]`` (the rest is redelivered).
    """

    def __init__(self, index: int, error: BaseException) -> None:
        super().__init__(f"message {index} of the batch failed: {error!r}")
        self.index = index
        self.error = error


class ActorContext:
    """What an actor may know about and do to its own runtime cell."""

    __slots__ = ("_cell",)

    def __init__(self, cell: ActorCell) -> None:
        self._cell = cell

    @property
    def name(self) -> str:
        """The actor's name: its address in the system, kept across restarts."""
        return self._cell.name

    @property
    def ref(self) -> ActorRef:
        """The actor's own ``ActorRef``, to hand to others so they can reply."""
        return self._cell.ref

    @property
    def system(self) -> ActorSystem:
        """The ``ActorSystem`` the actor runs in: to send to other actors or spawn helpers."""
        return self._cell.system

    @property
    def restarts(self) -> int:
        """How many times this actor has been restarted (0 for the first incarnation)."""
        return self._cell.restarts

    @property
    def last_error(self) -> BaseException | None:
        """The failure that caused the current incarnation (None for the first)."""
        return self._cell.last_error

    def stop(self) -> None:
        """Exit normally after the current batch; the supervisor applies the restart policy."""
        self._cell.request_exit()

    async def finish(self, call: Any) -> Any:
        """Drive a suspended guest call (a ``GuestCall``) to its end; its ``finish()``. Only
        this actor waits, and stopping or restarting it cancels the call."""
        return await self._cell.finish(call)

    async def drain_inline(self, handle: Any, batch: list[Any]) -> None:
        """Handle ``batch`` with the plain ``handle`` the way the runtime's own loop does:
        straight from C, parking on a suspended guest call (``BatchFailure`` on a failure)."""
        await self._cell.drain_inline(handle, batch)


class Actor:
    """Base class. Override ``handle`` (plain or ``async def``) or ``handle_batch``.

    With a plain ``handle`` the runtime reads ``self.handle`` once per batch, so an
    incarnation may replace it with a faster callable of the same meaning once it runs (a
    component actor installs its instance's C message path)."""

    # Set per subclass so the batch loop never inspects the handler per message. With a plain
    # ``handle`` and the default ``handle_batch`` the runtime calls ``handle`` straight from C
    # (``inline_dispatch``): no coroutine per batch, ~tens of ns per message.
    _handle_is_async = False
    inline_dispatch = False
    context: ActorContext

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._handle_is_async = inspect.iscoroutinefunction(cls.handle)
        cls.inline_dispatch = (cls.handle_batch is Actor.handle_batch
                               and not cls._handle_is_async)

    async def on_start(self) -> None:
        """Build the incarnation's state. Raising here counts as a failure of the actor."""

    def handle(self, message: Any) -> Any:
        """Handle one message (may be ``async def``)."""
        raise TypeError(
            f"{type(self).__name__} must override handle(message) or handle_batch(batch)")

    async def handle_batch(self, batch: list[Any]) -> None:
        """Handle a drained batch in order; report a failure as ``BatchFailure``."""
        handle = self.handle
        if self._handle_is_async:
            for index, message in enumerate(batch):
                try:
                    await handle(message)
                except (Exception, asyncio.CancelledError) as exc:
                    raise BatchFailure(index, exc) from exc
        else:
            await self.context.drain_inline(handle, batch)

    async def on_stop(self) -> None:
        """Release resources on an orderly stop (not called after a failure: state may be bad)."""

    async def health(self) -> HealthStatus:
        """Periodic health probe; an exception or a timeout counts as unhealthy."""
        return HealthStatus.HEALTHY
