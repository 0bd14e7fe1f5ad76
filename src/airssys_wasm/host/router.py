"""Guest -> host messaging: the host's implementation of the runtime's ``Messaging`` protocol.

A guest's ``send-message`` arrives here synchronously, inside the guest's call, on the event
loop's thread. It is checked by the host's :class:`SecurityProvider` (capability, message-rate
quota, audit line), then handed to the Cython :class:`~airssys_wasm._fast._router.Router`, which validates the frame, looks the target up and
puts ``(sender, frame)`` into the target's mailbox — no await, no task switch; the target's
actor drains it with its next batch. A message over the target's ``[limits] max_message`` (the
router checks it before any copy) or over the sender's own (it arrives as ``Oversized``, never
copied out of the guest) is refused with MessageTooLarge and audited. ``send-request`` / ``cancel-request`` go through the
:class:`RequestTable` the same way.
"""

from __future__ import annotations

import asyncio
import logging
from typing import NoReturn

from airssys_wasm._fast._router import Route, Router, as_frame, too_large
from airssys_wasm._fast.fastcall import Oversized
from airssys_wasm.errors import (
    ComponentNotFound,
    MailboxFull,
    MessageTooLarge,
    PermissionDenied,
    QuotaExceeded,
)
from airssys_wasm.host.policy import (
    MESSAGING_SEND,
    RESOURCE_EXHAUSTED,
    Decision,
    SecurityProvider,
    refused_hook,
)
from airssys_wasm.host.registry import Registry, check_addressed
from airssys_wasm.host.requests import Callback, PendingRequest, RequestEnvelope, RequestTable
from airssys_wasm.types import CallerInfo, ComponentId

__all__ = ["HostMessaging", "Route", "Router", "as_frame", "too_large"]

logger = logging.getLogger("airssys_wasm.host")


class HostMessaging:
    """send-message / send-request / cancel-request for every component of one host."""

    def __init__(self, router: Router, registry: Registry, requests: RequestTable,
                 security: SecurityProvider, default_timeout: float) -> None:
        self._router = router
        self._send = router.send
        self._registry = registry
        self._requests = requests
        self._check = security.check
        self._audit_refusal = refused_hook(security)
        self._default_timeout = default_timeout
        #: Callbacks that could not be delivered because their caller is gone.
        self.callbacks_lost = 0
        self._background: set[asyncio.Task[None]] = set()

    def _allow(self, sender: ComponentId, target: ComponentId) -> None:
        decision = self._check(sender.name, MESSAGING_SEND, target.name)
        if not decision.allowed:
            self._refuse(sender, target, decision)

    @staticmethod
    def _refuse(sender: ComponentId, target: ComponentId, decision: Decision) -> NoReturn:
        if decision.error == RESOURCE_EXHAUSTED:
            # The guest gets messaging-error `resource-exhausted` and can retry once the token
            # bucket refills.
            raise QuotaExceeded(f"{sender} is over its message-rate quota "
                                f"({decision.reason}); send less often or raise [quota] "
                                "messages_per_second in its Component.toml")
        raise PermissionDenied(
            f"{sender} may not send to {target.name!r}: {decision.reason or 'denied by policy'}; "
            "grant it in the sender's Component.toml [capabilities] messaging.send")

    def send_message(self, sender: ComponentId, target: ComponentId,
                     message: bytes | Oversized) -> None:
        # _allow(), inlined: this runs once per message between components.
        """A guest's ``send-message``: check ``messaging.send`` and the sender's quota, then route
        the frame into the target's mailbox.

        A refusal raises the typed error the trampoline turns into the guest's ``messaging-error``;
        nothing is raised into the host."""
        decision = self._check(sender.name, MESSAGING_SEND, target.name)
        if not decision.allowed:
            self._refuse(sender, target, decision)
        if type(message) is not bytes:
            self._oversized(sender, target, message)
        if target.namespace or target.version:
            self._route(target)
        try:
            self._send(target.name, sender, message)
        except MessageTooLarge as exc:  # over the target's max_message
            self._refused(sender.name, target.name, exc)
            raise

    def _oversized(self, sender: ComponentId, target: ComponentId, message: object) -> NoReturn:
        """A message over the sender's own max_message (it was never copied)."""
        if type(message) is not Oversized:
            raise TypeError(f"a message must be bytes, not {type(message).__name__}")
        exc = MessageTooLarge(
            f"{sender} tried to send a {message.size}-byte message, over its own {message.limit}"
            "-byte [limits] max_message; nothing was sent. Send bulk data through the core-ABI "
            "lane or storage, or raise max_message in its Component.toml (trusted only above "
            "1 MiB)", size=message.size, limit=message.limit)
        self._refused(sender.name, target.name, exc)
        raise exc

    def _refused(self, sender: str, target: str, exc: MessageTooLarge) -> None:
        self._audit_refusal(sender, MESSAGING_SEND, target,
                            f"message of {exc.size} bytes over max_message {exc.limit}")

    def send_request(self, sender: ComponentId, target: ComponentId, request: bytes | Oversized,
                     timeout_ms: int) -> str:
        """A guest's ``send-request``: checked like ``send_message``, then registered in the
        request table so the reply comes back to the sender's ``handle-callback``; returns the
        request id."""
        self._allow(sender, target)
        if type(request) is not bytes:
            self._oversized(sender, target, request)
        route = self._route(target)
        try:
            route.check_size(len(request))
        except MessageTooLarge as exc:
            self._refused(sender.name, route.name, exc)
            raise
        timeout = timeout_ms / 1000.0 if timeout_ms > 0 else self._default_timeout
        pending = self._requests.open(sender, route.name, timeout, reply_to=sender.name)
        context = self._requests.context(pending, CallerInfo(component_id=sender))
        try:
            route.mailbox.try_put(RequestEnvelope(pending, bytes(request), context))
        except MailboxFull:
            self._requests.abandon(pending)
            raise
        return pending.id

    def _route(self, target: ComponentId) -> Route:
        """The route a guest's component-id addresses (here or, on a lattice, on another
        node); empty namespace/version match any. ComponentNotFound otherwise."""
        route = self._router.get(target.name)
        if route is None:
            self._registry.get(target.name)  # the standard "no component named ..." error
            raise ComponentNotFound(f"component {target.name!r} is not accepting messages "
                                    "(it is stopping); try again after it restarts")
        check_addressed(target, route.component_id)
        return route

    def cancel_request(self, sender: ComponentId, request_id: str) -> None:
        """A guest's ``cancel-request``: only the sender of a request may cancel it."""
        self._requests.cancel(request_id, by=sender)

    def deliver_callback(self, request: PendingRequest, callback: Callback) -> None:
        """Put a request's outcome into its (guest) caller's mailbox; never drop it silently."""
        route = self._router.get(request.reply_to or "")
        if route is None:
            self.callbacks_lost += 1
            logger.info("callback for request %s dropped: its caller %s is gone", request.id,
                        request.caller)
            return
        try:
            route.mailbox.try_put(callback)
        except MailboxFull:
            # Wait for room in the background rather than drop or block the replier.
            task = asyncio.get_running_loop().create_task(route.mailbox.put(callback))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
