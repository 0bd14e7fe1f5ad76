"""A WebAssembly component as an actor: one incarnation = one instance in a fresh Store.

The actor's mailbox holds three kinds of envelopes: ``(sender, frame)`` tuples (messages, the
hot path), :class:`RequestEnvelope` (run ``execute``) and :class:`Callback` (a reply to one of
the guest's own requests). ``handle`` is a plain function, so the actor runtime calls it from
C for every message of a drained batch: calls into wasm start inline — no thread hop and no
await per message — and most finish there. A guest that suspends (its time slice ran out, or
it waits on the host: ``sleep-millis``, file, network, storage, process) makes ``handle``
return the suspended call, with the rest of the envelope's handling chained to it; the actor
runtime parks this actor alone until the scheduler finished it.

Failures follow the supervision rules: a trap poisons the Store, so it propagates, the actor
runtime dead-letters just that envelope (with its TrapError), keeps the rest queued, and the
supervisor starts a new incarnation (a fresh Store) that receives them. A guest that *answers*
with an error value did not trap: the envelope is dead-lettered with the GuestError and the
actor carries on.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import TYPE_CHECKING, Any

from airssys_wasm._fast.fastcall import GuestCall
from airssys_wasm.actor import Actor, DeadLetterReason
from airssys_wasm.errors import GuestError, TrapError
from airssys_wasm.host.remote import Delivery
from airssys_wasm.host.requests import Callback, RequestEnvelope
from airssys_wasm.runtime import Instance
from airssys_wasm.types import ComponentMetadata, HealthStatus

if TYPE_CHECKING:
    from airssys_wasm.host.registry import ComponentEntry
    from airssys_wasm.host.requests import RequestTable

__all__ = ["ComponentActor"]

logger = logging.getLogger("airssys_wasm.host")


class ComponentActor(Actor):
    """One incarnation of a spawned component (created by the supervisor's factory)."""

    def __init__(self, entry: ComponentEntry, requests: RequestTable) -> None:
        self.entry = entry
        self.requests = requests
        self.instance: Instance | None = None

    async def _done(self, out: Any) -> Any:
        """``out`` itself, or what a suspended call (GuestCall) it is finishes with."""
        if type(out) is GuestCall:
            return await self.context.finish(out)
        return out

    def _begin_instance(self) -> tuple[Instance, GuestCall | None]:
        """A fresh instance of the entry's code with its ``init`` called: the instance, and the
        init call when it suspended (the caller finishes it, see ``_finish_init``). A plain
        function, not a coroutine: a spawn whose ``init`` finishes inline awaits nothing here."""
        entry = self.entry
        if entry.on_incarnation is not None:
            entry.on_incarnation(entry.name)
        instance = entry.artifact.instantiate(entry.limits, entry.services, wasi=entry.wasi)
        instance.suspendable = True
        try:
            out = instance.init(entry.init_config)
        except BaseException:
            instance.close()
            raise
        return instance, out if type(out) is GuestCall else None

    async def _finish_init(self, instance: Instance, call: GuestCall) -> None:
        try:
            await self.context.finish(call)
        except BaseException:
            instance.close()
            raise

    async def _new_instance(self) -> Instance:
        instance, call = self._begin_instance()
        if call is not None:
            await self._finish_init(instance, call)
        self.entry.instance = instance
        return instance

    async def on_start(self) -> None:
        """Instantiate the component in a fresh Store and run its ``init`` (every incarnation: a
        trap poisons a Store, so a restart never reuses one); ask its ``metadata`` once.

        The steps of ``_new_instance`` and ``_describe``, inline: a spawn whose guest calls
        finish at once (most) runs no coroutine but this one."""
        instance, call = self._begin_instance()
        if call is not None:
            await self._finish_init(instance, call)
        self.entry.instance = instance
        self._use(instance)
        if self.entry.metadata is None:
            pending = self._describe_now(instance)
            if pending is not None:
                self._described(await self.context.finish(pending))

    async def _describe(self) -> None:
        """What the running instance says about itself (for ``get-component-metadata``)."""
        assert self.instance is not None
        pending = self._describe_now(self.instance)
        if pending is not None:
            self._described(await self.context.finish(pending))

    def _describe_now(self, instance: Instance) -> GuestCall | None:
        """Ask ``instance`` its ``metadata`` and record the answer; the call when it
        suspended instead (the caller finishes it and passes the answer to ``_described``)."""
        meta: Any = instance.metadata()  # None without the export
        if type(meta) is GuestCall:
            return meta
        self._described(meta)
        return None

    def _described(self, meta: Any) -> None:
        entry = self.entry
        entry.metadata = meta or ComponentMetadata(name=entry.name,
                                                   version=entry.component_id.version)

    async def replace_instance(self) -> None:
        """Hot code upgrade, run between two batches (``ActorRef.between_batches``): shut the
        current instance down like a graceful stop, then build a fresh one from ``entry`` —
        which the host has pointed at the new code (or back at the old code, to roll back) —
        call its ``init`` and describe it again. Raises what the new ``init`` raised; the actor
        then has no instance until the next ``replace_instance``."""
        await self.on_stop()
        self._use(await self._new_instance())
        await self._describe()

    def handle(self, message: Any) -> GuestCall | None:
        """Deliver one envelope to the guest: a ``(sender, frame)`` message to ``handle-message``,
        a request to ``execute``, a callback to ``handle-callback``.

        Returns the guest call when it suspended (the actor parks on it) or None when it finished
        at once, so the common case costs no task switch. The first message makes the
        instance's C message path this actor's ``handle`` (the actor runtime reads it per batch),
        so later messages reach the guest with no Python frame; what the path does not take
        comes back to ``_other`` and ``_settle``."""
        instance = self.instance
        assert instance is not None
        if type(message) is tuple:
            # Installed already when a caller kept this bound method from before it was.
            path = vars(self).get("handle")
            if path is None:
                # None for a core-ABI guest: its messages take _other, without asking again.
                path = instance.message_path(self._other, self._settle) or self._other
                self.handle = path  # type: ignore[method-assign,assignment]  # shadows this method
            return path(message)
        return self._other(message)

    def _use(self, instance: Instance) -> None:
        """Run ``instance`` from now on: the next message asks it for its message path (the
        one of the instance before was closed with it)."""
        self.instance = instance
        vars(self).pop("handle", None)

    def _other(self, message: Any) -> GuestCall | None:
        """Every envelope but a message on the C path (see ``handle``)."""
        instance = self.instance
        assert instance is not None
        if type(message) is tuple:  # no message path (a core-ABI guest, or a closed instance)
            try:
                out = instance.handle_message(message[0], message[1])
            except GuestError as exc:
                self._refused(message, exc)
                return None
            if out is not None:  # suspended: the GuestError check runs when it finished
                return out.then(partial(self._refusable, message))
            return None
        if type(message) is Delivery:  # a frame from another node: the lattice's hot path
            return self._deliver(instance, message)
        if type(message) is RequestEnvelope:
            return self._execute(instance, message)
        if type(message) is Callback:
            return self._callback(instance, message)
        self._refused(message, TypeError(
            f"component {self.entry.name!r} received a {type(message).__name__}; send "
            "multicodec frames through Host.send / ComponentRef.send"))
        return None

    def _settle(self, message: Any, out: Any) -> GuestCall | None:
        """A message the C path called the guest for, whose answer was not ``ok``: an error
        answer is refused (a dead letter, the actor carries on), a suspended call is chained
        to the same check, as in ``_other``."""
        assert self.instance is not None
        try:
            call = self.instance.settle_message(out)
        except GuestError as exc:
            self._refused(message, exc)
            return None
        return None if call is None else call.then(partial(self._refusable, message))

    def _deliver(self, instance: Instance, delivery: Delivery) -> GuestCall | None:
        """A frame from another node of the lattice: handled like a local message, then
        settled so the node acknowledges it (a trap settles it as a dead letter, in the host)."""
        try:
            out = instance.handle_message(delivery.sender, delivery.frame)
        except GuestError as exc:
            self._refused(delivery, exc)
            delivery.settle()
            return None
        if out is not None:
            return out.then(partial(self._delivered, delivery))
        delivery.settle()
        return None

    def _delivered(self, delivery: Delivery, get: Any) -> None:
        try:
            get()
        except GuestError as exc:
            self._refused(delivery, exc)
        delivery.settle()  # a TrapError propagates: the dead letter settles it

    def _refusable(self, message: Any, get: Any) -> None:
        try:
            get()
        except GuestError as exc:
            self._refused(message, exc)

    def _refused(self, message: Any, error: BaseException) -> None:
        self.entry.stats.guest_errors += 1
        self.context.system.dead_letter(None, message, DeadLetterReason.FAILED, error,
                                        recipient=self.entry.name)

    def _execute(self, instance: Instance, envelope: RequestEnvelope) -> GuestCall | None:
        request = envelope.request
        if not self.requests.startable(request):
            return None
        try:
            out = instance.execute(envelope.operation, envelope.context)
        except GuestError as exc:
            self.requests.fail(request, exc)
            return None
        if isinstance(out, GuestCall):
            # A request that times out while its guest is suspended cancels the guest call.
            self.requests.on_close(request, partial(self._abandoned, out))
            return out.then(partial(self._executed, request))
        # A TrapError propagates: the envelope becomes a dead letter, which fails the request.
        self.requests.reply(request, out)
        return None

    def _executed(self, request: Any, get: Any) -> None:
        self.requests.on_close(request, None)
        try:
            reply = get()
        except GuestError as exc:
            self.requests.fail(request, exc)
            return
        self.requests.reply(request, reply)

    def _abandoned(self, call: GuestCall, reason: str) -> None:
        self.context.system.scheduler.cancel(call, reason)

    def _callback(self, instance: Instance, callback: Callback) -> GuestCall | None:
        if not instance.has("handle-callback"):
            self.entry.stats.callbacks_dropped += 1
            logger.warning("%s does not export handle-callback; the outcome of request %s was "
                           "dropped", self.entry.name, callback.request_id)
            return None
        try:
            if callback.error is not None:
                out = instance.handle_callback(callback.request_id, error=callback.error)
            else:
                out = instance.handle_callback(callback.request_id, reply=callback.reply or b"")
        except GuestError as exc:
            self._refused(callback, exc)
            return None
        if type(out) is GuestCall:
            return out.then(partial(self._refusable, callback))
        return None

    async def health(self) -> HealthStatus:
        """The guest's ``health`` (HEALTHY without the export, while it answers).

        A probe that traps counts as UNHEALTHY; its poisoned Store is replaced right away so
        the messages behind the probe are not failed by a trap they did not cause.
        """
        instance = self.instance
        assert instance is not None
        try:
            return HealthStatus(await self._done(instance.health()))
        except TrapError as trap:
            self.entry.stats.health_traps += 1
            logger.warning("health probe of %s trapped (%s); replacing its instance", self.entry.name,
                           trap.kind.value)
            self._use(await self._new_instance())
            return HealthStatus.UNHEALTHY

    async def on_stop(self) -> None:
        """Graceful stop: let the guest clean up (``shutdown``), then release the Store."""
        instance, self.instance = self.instance, None
        if instance is None:
            return
        if self.entry.instance is instance:
            self.entry.instance = None
        try:
            if not instance.closed:
                await self._done(instance.shutdown())
        except (GuestError, TrapError) as exc:
            logger.warning("shutdown of %s failed: %s", self.entry.name, exc)
        finally:
            instance.close()


class ComponentActorFactory:
    """The ``ChildSpec.factory`` of a spawned component: a new :class:`ComponentActor` of
    ``entry`` for every incarnation.

    One small object per component, kept for as long as it runs: a ``partial`` was two (the
    partial and its argument tuple), and every full GC pass walks each of them."""

    __slots__ = ("entry", "requests")

    def __init__(self, entry: ComponentEntry, requests: RequestTable) -> None:
        self.entry = entry
        self.requests = requests

    def __call__(self) -> ComponentActor:
        return ComponentActor(self.entry, self.requests)
