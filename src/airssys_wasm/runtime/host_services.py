"""Host side of `airssys:core/host-services`: logging, time, sleep, directory and messaging.

The runtime does not know about other components; the ``host`` layer does. So directory lookups
and messaging go through two small protocols the host implements (:class:`ComponentDirectory`,
:class:`Messaging`). Without a host the defaults are explicit: an empty directory, and messaging
that refuses with :class:`ComponentNotFound` (the guest sees ``target-not-found``).

Host functions are registered once per Linker with wasmtime-py's ``LinkerInstance.add_func``;
the instance making the call is found through a thread-local "active call" set around every
guest call, so one Linker serves every instance of a component. Messaging callbacks run
synchronously inside the guest's call, on the calling thread: a host implementation must not
block (enqueue and return).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from wasmtime import component as wc

from airssys_wasm.errors import (
    AirssysError,
    ComponentNotFound,
    MailboxFull,
    PermissionDenied,
)
from airssys_wasm.runtime import _values as values
from airssys_wasm.types import ComponentId, ComponentMetadata, LogLevel
from airssys_wasm.runtime.world import HOST_SERVICES

__all__ = [
    "DETACHED_MESSAGING",
    "EMPTY_DIRECTORY",
    "ComponentDirectory",
    "DetachedMessaging",
    "EmptyDirectory",
    "HostServices",
    "Messaging",
    "TRACE",
]

#: stdlib logging has no TRACE; guests' trace lines go one step below DEBUG.
TRACE = 5
logging.addLevelName(TRACE, "TRACE")

_LEVELS = {LogLevel.TRACE.value: TRACE, LogLevel.DEBUG.value: logging.DEBUG,
           LogLevel.INFO.value: logging.INFO, LogLevel.WARN.value: logging.WARNING,
           LogLevel.ERROR.value: logging.ERROR}


@runtime_checkable
class ComponentDirectory(Protocol):
    """Answers list-components / get-component-metadata; the host layer implements it."""

    def list_components(self) -> Sequence[ComponentId]: ...

    def component_metadata(self, component: ComponentId) -> ComponentMetadata | None: ...


@runtime_checkable
class Messaging(Protocol):
    """Carries send-message / send-request / cancel-request; the host layer implements it.

    Raise PermissionDenied, ComponentNotFound, MailboxFull or MailboxClosed to refuse: the guest
    receives the matching ``messaging-error`` case. Any other AirssysError becomes
    ``unavailable``; any other exception is a host bug and traps the guest.
    """

    def send_message(self, sender: ComponentId, target: ComponentId, message: bytes) -> None: ...

    def send_request(self, sender: ComponentId, target: ComponentId, request: bytes,
                     timeout_ms: int) -> str: ...

    def cancel_request(self, sender: ComponentId, request_id: str) -> None: ...


class EmptyDirectory:
    """No host attached: there are no other components."""

    def list_components(self) -> Sequence[ComponentId]:
        return ()

    def component_metadata(self, component: ComponentId) -> ComponentMetadata | None:
        return None


class DetachedMessaging:
    """No host attached: every message is refused with ComponentNotFound."""

    @staticmethod
    def _refuse(target: str) -> ComponentNotFound:
        return ComponentNotFound(
            f"cannot reach {target}: no host is attached to this runtime instance; run the "
            "component under airssys_wasm.Host, or pass HostServices(messaging=...) to instantiate()")

    def send_message(self, sender: ComponentId, target: ComponentId, message: bytes) -> None:
        raise self._refuse(str(target))

    def send_request(self, sender: ComponentId, target: ComponentId, request: bytes,
                     timeout_ms: int) -> str:
        raise self._refuse(str(target))

    def cancel_request(self, sender: ComponentId, request_id: str) -> None:
        raise self._refuse(f"request {request_id!r}")


EMPTY_DIRECTORY = EmptyDirectory()
DETACHED_MESSAGING = DetachedMessaging()


@dataclass(slots=True)
class HostServices:
    """What one component instance may use on the host side."""

    component: ComponentId
    directory: ComponentDirectory = field(default=EMPTY_DIRECTORY)
    messaging: Messaging = field(default=DETACHED_MESSAGING)
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("airssys_wasm.component"))
    #: Longest log line kept from a guest (longer ones are truncated, never rejected).
    max_log_chars: int = 16 * 1024


class ActiveCall:
    """The guest call in progress on this thread: whose services, and until when."""

    __slots__ = ("services", "deadline", "failure")

    def __init__(self, services: HostServices, deadline: float | None) -> None:
        self.services = services
        self.deadline = deadline
        #: An unexpected exception a host function raised (it unwinds the guest mid-call).
        self.failure: BaseException | None = None


_tls = threading.local()


def enter(call: ActiveCall) -> ActiveCall | None:
    """Make ``call`` the active call of this thread; returns the previous one to restore."""
    previous = getattr(_tls, "call", None)
    _tls.call = call
    return previous


def leave(previous: ActiveCall | None) -> None:
    _tls.call = previous


def _active() -> ActiveCall:
    call = getattr(_tls, "call", None)
    if call is None:  # only reachable if wasmtime calls a host function outside a guest call
        raise RuntimeError("host-services called outside a guest call")
    return call


def _refusal(exc: AirssysError) -> wc.Variant:
    if isinstance(exc, PermissionDenied):
        tag = "permission-denied"
    elif isinstance(exc, ComponentNotFound):
        tag = "target-not-found"
    elif isinstance(exc, MailboxFull):
        tag = "mailbox-full"
    else:  # MailboxClosed and every other refusal
        tag = "unavailable"
    return values.variant(tag, str(exc))


def _log(_store: Any, level: str, message: str, context: list[tuple[str, str]] | None) -> None:
    services = _active().services
    if len(message) > services.max_log_chars:
        message = message[: services.max_log_chars] + "...[truncated]"
    services.logger.log(_LEVELS.get(level, logging.INFO), "[%s] %s", services.component, message,
                        extra={"component": str(services.component),
                               "wasm_context": dict(context or ())})


def _send_message(_store: Any, target: Any, message: bytes) -> wc.Variant | None:
    services = _active().services
    try:
        services.messaging.send_message(services.component, values.component_id_from_wit(target),
                                        bytes(message))
    except AirssysError as exc:
        return _refusal(exc)
    return None


def _send_request(_store: Any, target: Any, request: bytes, timeout_ms: int) -> str | wc.Variant:
    services = _active().services
    try:
        return str(services.messaging.send_request(
            services.component, values.component_id_from_wit(target), bytes(request), timeout_ms))
    except AirssysError as exc:
        return _refusal(exc)


def _cancel_request(_store: Any, request_id: str) -> wc.Variant | None:
    services = _active().services
    try:
        services.messaging.cancel_request(services.component, request_id)
    except AirssysError as exc:
        return _refusal(exc)
    return None


def _current_time_millis(_store: Any) -> int:
    return time.time_ns() // 1_000_000


def _sleep_millis(_store: Any, ms: int) -> None:
    call = _active()
    seconds = ms / 1000.0
    if call.deadline is not None:
        # Never sleep past the call's deadline: the epoch trap fires as soon as the guest resumes.
        seconds = min(seconds, max(0.0, call.deadline - time.monotonic()))
    if seconds > 0:
        time.sleep(seconds)


def _list_components(_store: Any) -> list[Any]:
    return [values.component_id_to_wit(c) for c in _active().services.directory.list_components()]


def _get_component_metadata(_store: Any, target: Any) -> Any:
    meta = _active().services.directory.component_metadata(values.component_id_from_wit(target))
    return None if meta is None else values.metadata_to_wit(meta)


_FUNCS = {
    "log": _log,
    "send-message": _send_message,
    "send-request": _send_request,
    "cancel-request": _cancel_request,
    "current-time-millis": _current_time_millis,
    "sleep-millis": _sleep_millis,
    "list-components": _list_components,
    "get-component-metadata": _get_component_metadata,
}


def _recording(func: Callable[..., Any]) -> Callable[..., Any]:
    """Note an unexpected host-side exception on the active call, so the caller knows the guest
    was unwound mid-call (and its Store must go) rather than never entered."""

    def host_function(store: Any, *args: Any) -> Any:
        try:
            return func(store, *args)
        except BaseException as exc:
            call = getattr(_tls, "call", None)
            if call is not None:
                call.failure = exc
            raise

    return host_function


def define_interface(linker: wc.Linker, interface: str,
                     functions: Mapping[str, Callable[..., Any]]) -> None:
    """Define ``interface`` in ``linker`` with Python ``functions``.

    Each function is called as ``fn(services, *wit_args)`` where ``services`` is the calling
    instance's :class:`HostServices`, so one definition can serve every instance and still
    know whose capabilities to check. Return values follow wasmtime-py's conventions
    (``None``/value for ``result`` ok, ``wasmtime.component.Variant`` for a tagged error).
    """

    def bind(func: Callable[..., Any]) -> Callable[..., Any]:
        return lambda _store, *args: func(_active().services, *args)

    with linker.root() as root, root.add_instance(interface) as instance:
        for name, func in functions.items():
            instance.add_func(name, _recording(bind(func)))


def define(linker: wc.Linker) -> None:
    """Define every host-services function in ``linker`` (extras are harmless to wasmtime)."""
    with linker.root() as root, root.add_instance(HOST_SERVICES) as services:
        for name, func in _FUNCS.items():
            services.add_func(name, _recording(func))


def call_deadline() -> float | None:
    """``time.monotonic()`` deadline of the guest call in progress on this thread (None = no
    deadline). Extension host functions bound their blocking I/O by it, so a guest cannot
    outlive its own call deadline by waiting on the host."""
    return _active().deadline
