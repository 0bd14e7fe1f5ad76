"""A WebAssembly component as an actor: one incarnation = one instance in a fresh Store.

The actor's mailbox holds three kinds of envelopes: ``(sender, frame)`` tuples (messages, the
hot path), :class:`RequestEnvelope` (run ``execute``) and :class:`Callback` (a reply to one of
the guest's own requests). ``handle`` is a plain function, so the actor runtime calls it from
C for every message of a drained batch: calls into wasm run inline, synchronously, bounded by
the instance's fuel and epoch deadline — no thread hop and no await per message.

Failures follow the supervision rules: a trap poisons the Store, so it propagates, the actor
runtime dead-letters just that envelope (with its TrapError), keeps the rest queued, and the
supervisor starts a new incarnation (a fresh Store) that receives them. A guest that *answers*
with an error value did not trap: the envelope is dead-lettered with the GuestError and the
actor carries on.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from airssys_wasm.actor import Actor, DeadLetterReason
from airssys_wasm.errors import GuestError, TrapError
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

    def _new_instance(self) -> Instance:
        entry = self.entry
        if entry.on_incarnation is not None:
            entry.on_incarnation(entry.name)
        instance = entry.artifact.instantiate(entry.limits, entry.services, wasi=entry.wasi)
        instance.name = entry.name  # artifacts are shared; errors should name this component
        try:
            instance.init(entry.init_config)
        except BaseException:
            instance.close()
            raise
        return instance

    async def on_start(self) -> None:
        self.instance = self._new_instance()
        entry = self.entry
        if entry.metadata is None:
            meta = self.instance.metadata() if self.instance.has("metadata") else None
            entry.metadata = meta or ComponentMetadata(name=entry.name,
                                                       version=entry.component_id.version)

    def handle(self, message: Any) -> None:
        instance = self.instance
        assert instance is not None
        if type(message) is tuple:
            try:
                instance.handle_message(message[0], message[1])
            except GuestError as exc:
                self._refused(message, exc)
        elif type(message) is RequestEnvelope:
            self._execute(instance, message)
        elif type(message) is Callback:
            self._callback(instance, message)
        else:
            self._refused(message, TypeError(
                f"component {self.entry.name!r} received a {type(message).__name__}; send "
                "multicodec frames through Host.send / ComponentRef.send"))

    def _refused(self, message: Any, error: BaseException) -> None:
        self.entry.stats.guest_errors += 1
        self.context.system.dead_letter(None, message, DeadLetterReason.FAILED, error,
                                        recipient=self.entry.name)

    def _execute(self, instance: Instance, envelope: RequestEnvelope) -> None:
        request = envelope.request
        if not self.requests.startable(request):
            return
        try:
            reply = instance.execute(envelope.operation, envelope.context)
        except GuestError as exc:
            self.requests.fail(request, exc)
            return
        # A TrapError propagates: the envelope becomes a dead letter, which fails the request.
        self.requests.reply(request, reply)

    def _callback(self, instance: Instance, callback: Callback) -> None:
        if not instance.has("handle-callback"):
            self.entry.stats.callbacks_dropped += 1
            logger.warning("%s does not export handle-callback; the outcome of request %s was "
                           "dropped", self.entry.name, callback.request_id)
            return
        try:
            if callback.error is not None:
                instance.handle_callback(callback.request_id, error=callback.error)
            else:
                instance.handle_callback(callback.request_id, reply=callback.reply or b"")
        except GuestError as exc:
            self._refused(callback, exc)

    async def health(self) -> HealthStatus:
        """The guest's ``health`` (HEALTHY without the export, while it answers).

        A probe that traps counts as UNHEALTHY; its poisoned Store is replaced right away so
        the messages behind the probe are not failed by a trap they did not cause.
        """
        instance = self.instance
        assert instance is not None
        try:
            return instance.health()
        except TrapError as trap:
            self.entry.stats.health_traps += 1
            logger.warning("health probe of %s trapped (%s); replacing its instance", self.entry.name,
                           trap.kind.value)
            self.instance = self._new_instance()
            return HealthStatus.UNHEALTHY

    async def on_stop(self) -> None:
        """Graceful stop: let the guest clean up (``shutdown``), then release the Store."""
        instance, self.instance = self.instance, None
        if instance is None:
            return
        try:
            if not instance.closed:
                instance.shutdown()
        except (GuestError, TrapError) as exc:
            logger.warning("shutdown of %s failed: %s", self.entry.name, exc)
        finally:
            instance.close()
