"""Host side of `airssys:core/host-services`: logging, time, sleep, directory and messaging.

The runtime does not know about other components; the ``host`` layer does. So directory lookups
and messaging go through two small protocols the host implements (:class:`ComponentDirectory`,
:class:`Messaging`). Without a host the defaults are explicit: an empty directory, and messaging
that refuses with :class:`ComponentNotFound` (the guest sees ``target-not-found``).

Host functions are C trampolines of the fast path (``define_host_func``), registered once per
artifact's Linker with plans compiled from the component's own import types. Each receives the
calling instance's :class:`HostServices` first (attached to its Store with ``configure_store``),
so one Linker serves every instance of a component and policy knows whose call it is — no
per-call bookkeeping in Python. Values use the fast path's representation (records are dicts,
``result`` is ``("ok"|"err", value)``, variants ``(case, payload)``). Messaging callbacks run
synchronously inside the guest's call, on the calling thread: a host implementation must not
block (enqueue and return); ``sleep-millis`` suspends only its caller (runtime.suspend). A host function that raises anything but a refusal traps the
guest; the exception is the ``__cause__`` of the caller's TrapError.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import wasmtime
from wasmtime import component as wc

from airssys_wasm._fast._router import GatedSend, SendGate
from airssys_wasm._fast.fastcall import define_host_func, define_host_funcs
from airssys_wasm.errors import (
    AirssysError,
    ComponentNotFound,
    MailboxFull,
    MessageTooLarge,
    PermissionDenied,
    QuotaExceeded,
)
from airssys_wasm.runtime import _values as values
from airssys_wasm.runtime import suspend
from airssys_wasm.types import ComponentId, ComponentMetadata, ExecutionContext, LogLevel
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

    def list_components(self) -> Sequence[ComponentId]:
        """The component-ids a guest's ``list-components`` answers."""

    def component_metadata(self, component: ComponentId) -> ComponentMetadata | None:
        """What a guest's ``get-component-metadata`` answers for ``component`` (None: unknown)."""


@runtime_checkable
class Messaging(Protocol):
    """Carries send-message / send-request / cancel-request; the host layer implements it.

    Raise PermissionDenied, QuotaExceeded, MessageTooLarge, ComponentNotFound, MailboxFull or
    MailboxClosed to refuse: the guest receives the matching ``messaging-error`` case
    (QuotaExceeded and MessageTooLarge are ``resource-exhausted``). Any other AirssysError
    becomes ``unavailable``; any other exception is a host bug and traps the guest. A message
    over the sender's own ``max_message`` arrives as an :class:`Oversized` (its size, never its
    bytes): refuse it with MessageTooLarge.
    """

    def send_message(self, sender: ComponentId, target: ComponentId, message: bytes) -> None:
        """Route a guest's ``send-message`` from ``sender`` to ``target``; raise a typed error to
        refuse."""

    def send_request(self, sender: ComponentId, target: ComponentId, request: bytes,
                     timeout_ms: int) -> str:
        """Start a guest's ``send-request``; return the request id its ``handle-callback`` will
        name."""

    def cancel_request(self, sender: ComponentId, request_id: str) -> None:
        """Cancel a guest's pending request ``request_id``."""


class EmptyDirectory:
    """No host attached: there are no other components."""

    def list_components(self) -> Sequence[ComponentId]:
        """No components: an instance without a host sees nobody."""
        return ()

    def component_metadata(self, component: ComponentId) -> ComponentMetadata | None:
        """None for every component, because there are none."""
        return None


class DetachedMessaging:
    """No host attached: every message is refused with ComponentNotFound."""

    @staticmethod
    def _refuse(target: str) -> ComponentNotFound:
        return ComponentNotFound(
            f"cannot reach {target}: no host is attached to this runtime instance; run the "
            "component under airssys_wasm.Host, or pass HostServices(messaging=...) to instantiate()")

    def send_message(self, sender: ComponentId, target: ComponentId, message: bytes) -> None:
        """Refuse with ComponentNotFound saying to run the component under a Host."""
        raise self._refuse(str(target))

    def send_request(self, sender: ComponentId, target: ComponentId, request: bytes,
                     timeout_ms: int) -> str:
        """Refuse with ComponentNotFound saying to run the component under a Host."""
        raise self._refuse(str(target))

    def cancel_request(self, sender: ComponentId, request_id: str) -> None:
        """Refuse with ComponentNotFound: without a host there are no requests to cancel."""
        raise self._refuse(f"request {request_id!r}")


EMPTY_DIRECTORY = EmptyDirectory()
"""The shared ``EmptyDirectory`` of instances created without a host."""
DETACHED_MESSAGING = DetachedMessaging()
"""The shared ``DetachedMessaging`` of instances created without a host."""


#: The default logger of guests' log lines, looked up once.
_COMPONENT_LOGGER = logging.getLogger("airssys_wasm.component")


@dataclass(slots=True)
class HostServices:
    """What one component instance may use on the host side."""

    component: ComponentId
    directory: ComponentDirectory = field(default=EMPTY_DIRECTORY)
    messaging: Messaging = field(default=DETACHED_MESSAGING)
    #: Where the guest's ``log`` lines go (one logger shared by every default instance: a
    #: restart makes a HostServices, and ``logging.getLogger`` takes the logging lock).
    logger: logging.Logger = field(default=_COMPONENT_LOGGER)
    #: Longest log line kept from a guest (longer ones are truncated, never rejected).
    max_log_chars: int = 16 * 1024
    #: The request the instance is serving while its ``execute`` runs (None otherwise): what
    #: host functions report as the caller's request (``airssys_wasm.caller()``).
    request: ExecutionContext | None = None
    #: Called as ``call_gate(label)`` before each call of a host function defined with a
    #: ``gate`` (custom interfaces: ``"iface#func"``); raising refuses the call. None = no
    #: per-call check for this instance (the host sets it for metered components).
    call_gate: Callable[[str], None] | None = None
    #: The sender's per-message fast path (a ``SendGate`` its host bound to its router): a
    #: ``send-message`` its policy allowed before goes straight into the target's mailbox, in
    #: C; anything else (or None) goes through ``messaging``.
    send_gate: SendGate | None = None


def _refusal(exc: AirssysError) -> tuple[str, tuple[str, str]]:
    """``err(messaging-error)`` for a refusal the host raised."""
    if isinstance(exc, PermissionDenied):
        tag = "permission-denied"
    elif isinstance(exc, ComponentNotFound):
        tag = "target-not-found"
    elif isinstance(exc, MailboxFull):
        tag = "mailbox-full"
    elif isinstance(exc, (QuotaExceeded, MessageTooLarge)):
        tag = "resource-exhausted"
    else:  # MailboxClosed and every other refusal
        tag = "unavailable"
    return ("err", (tag, str(exc)))


def _log(services: HostServices, level: str, message: str,
         context: list[tuple[str, str]] | None) -> None:
    logger, lvl = services.logger, _LEVELS.get(level, logging.INFO)
    if not logger.isEnabledFor(lvl):  # a chatty guest must not pay for records nobody keeps
        return
    if len(message) > services.max_log_chars:
        message = message[: services.max_log_chars] + "...[truncated]"
    logger.log(lvl, "[%s] %s", services.component, message,
               extra={"component": str(services.component), "wasm_context": dict(context or ())})


_OK = values.OK


# The target parameter of these functions arrives as a ComponentId: the trampoline converts the
# guest's component-id record with component_id_from_wit, memoized by its raw bytes (_CONVERT).
def _send_message(services: HostServices, target: ComponentId,
                  message: bytes) -> tuple[str, Any]:
    try:
        services.messaging.send_message(services.component, target, message)
    except AirssysError as exc:
        return _refusal(exc)
    return _OK


def _send_request(services: HostServices, target: ComponentId, request: bytes,
                  timeout_ms: int) -> tuple[str, Any]:
    try:
        return ("ok", str(services.messaging.send_request(
            services.component, target, request, timeout_ms)))
    except AirssysError as exc:
        return _refusal(exc)


def _cancel_request(services: HostServices, request_id: str) -> tuple[str, Any]:
    try:
        services.messaging.cancel_request(services.component, request_id)
    except AirssysError as exc:
        return _refusal(exc)
    return values.OK


def _current_time_millis(_services: HostServices) -> int:
    return time.time_ns() // 1_000_000


@suspend.suspending
def _sleep_millis(_services: HostServices, ms: int) -> Any:
    # Suspends only the calling guest (a loop timer), never past its deadline.
    return suspend.sleep(ms / 1000.0)


def _list_components(services: HostServices) -> list[dict[str, str]]:
    return [values.component_id_to_wit(c) for c in services.directory.list_components()]


def _get_component_metadata(services: HostServices, target: ComponentId) -> Any:
    meta = services.directory.component_metadata(target)
    return None if meta is None else values.metadata_to_wit(meta)


#: The message parameter of each sending function: bounded by the sender's max_message, so an
#: oversized one is never copied out of the guest (it arrives as ``Oversized``).
_BOUNDED = {"send-message": 1, "send-request": 1}
#: The functions whose first parameter is a component-id, converted in the trampoline.
_CONVERT = {name: (0, values.component_id_from_wit)
            for name in ("send-message", "send-request", "get-component-metadata")}

_FUNCS: dict[str, Callable[..., Any]] = {
    "log": _log,
    # The gate first (see HostServices.send_gate), the Messaging protocol for the rest.
    "send-message": GatedSend(_send_message, _OK),
    "send-request": _send_request,
    "cancel-request": _cancel_request,
    "current-time-millis": _current_time_millis,
    "sleep-millis": _sleep_millis,
    "list-components": _list_components,
    "get-component-metadata": _get_component_metadata,
}


def define_interface(linker: wc.Linker, component: wc.Component, engine: wasmtime.Engine,
                     interface: str, functions: Mapping[str, Callable[..., Any]], *,
                     with_data: bool = True, gates: Mapping[str, str] | None = None,
                     resources: Mapping[str, tuple[type | None, Callable[[Any], Any] | None]]
                     | None = None) -> None:
    """Define ``interface`` in ``linker`` with Python ``functions``, as fast C trampolines.

    Each function is called as ``fn(services, *wit_args)`` where ``services`` is the calling
    instance's :class:`HostServices`, so one definition can serve every instance and still
    know whose capabilities to check. Arguments and return values use the fast path's value
    representation (see ``airssys_wasm._fast.fastcall``): e.g. ``("ok", data)`` /
    ``("err", ("permission-denied", why))`` for ``result<list<u8>, file-error>``. Plans are
    compiled here, once, from the types ``component`` declares for the import.

    A function may suspend its guest instead of blocking the host: an ``async def`` (run on
    the event loop), or one marked with :func:`~airssys_wasm.runtime.suspend.suspending` that
    returns a HostWait (see :mod:`airssys_wasm.runtime.suspend`).

    ``with_data=False``: the functions get only the WIT arguments (the cheapest call; they can
    still read the caller's HostServices with ``fastcall.current_data()``). ``gates``: function
    name -> the label passed to ``HostServices.call_gate`` before each call (see
    ``define_host_func``'s ``gate``). ``resources``: resource name -> ``(class, drop hook)``
    of the interface's host resources (see ``fastcall.define_host_funcs``).
    """
    prepared = {name: (suspend.coroutine_function(fn, f"{interface}#{name}")
                       if inspect.iscoroutinefunction(fn) else fn)
                for name, fn in functions.items()}
    define_host_funcs(linker, component, engine, interface, prepared, with_data=with_data,
                      suspending=frozenset(n for n, fn in functions.items()
                                           if suspend.is_suspending(fn)), gates=gates,
                      resources=resources)


def define(linker: wc.Linker) -> None:
    """Define every host-services function in ``linker`` (extras are harmless to wasmtime).

    Each plan is compiled from the type wasmtime hands to the function's first call, so loading
    an artifact does not pay for introspecting its imports; one Linker serves one artifact, so
    every later call has that same type.
    """
    with linker.root() as root, root.add_instance(HOST_SERVICES) as instance:
        for name, func in _FUNCS.items():
            define_host_func(instance, name, func, with_data=True,
                             suspends=suspend.is_suspending(func), bounded=_BOUNDED.get(name, -1),
                             convert=_CONVERT.get(name))


#: The deadline of the guest call the current host work belongs to (see runtime.suspend).
call_deadline = suspend.call_deadline
