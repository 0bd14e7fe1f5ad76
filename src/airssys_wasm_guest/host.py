"""Typed wrappers over the airssys:core/host-services imports, for guests.

The generated bindings (``wit_world``) speak WIT records and ``Err`` results; these take plain
Python values (component names as ``"[namespace/]name[@version]"`` strings, values serialised
with a codec) and raise ``HostError`` with the host's reason when it refuses. The bindings are
imported when this module is (componentize-py keeps only the imports the guest's modules load
while it builds); outside a guest the module still imports, for documentation and tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from airssys_wasm_guest.multicodec import Codec, decode_value, encode_value

__all__ = [
    "ComponentInfo",
    "HostError",
    "checked",
    "components",
    "deliver",
    "format_id",
    "log",
    "metadata_of",
    "now_ms",
    "parse_id",
    "request",
    "send",
    "send_frame",
    "sleep_ms",
]

#: Callback of a request: ``(ok, value)``: ``ok`` with the decoded reply, or not with the reason.
Callback = Callable[[bool, Any], None]


class HostError(Exception):
    """The host refused a call; ``reason`` is the WIT error case (e.g. ``permission-denied``)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class ComponentInfo:
    """What ``metadata_of`` tells about another component."""

    name: str
    version: str
    description: str
    supported_operations: tuple[str, ...]


try:  # inside a componentize-py guest; imported at build time, or the build drops the imports
    from wit_world.imports import host_services as _host_services
    from wit_world.imports import types as _wit_types
except ImportError:  # on the host (documentation, tests): the module imports, calls cannot work
    _host_services = _wit_types = None


def _bindings() -> Any:
    if _host_services is None:
        raise RuntimeError("airssys_wasm_guest.host works only inside a guest built by "
                           "`airssys-wasm build`")
    return _host_services


def _types() -> Any:
    _bindings()
    return _wit_types


def _case(value: Any) -> str:
    """``MessagingError_PermissionDenied`` -> ``permission-denied``."""
    name = type(value).__name__.partition("_")[2]
    return "".join("-" + c.lower() if c.isupper() else c for c in name).lstrip("-")


def checked(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)``, with an ``Err`` result raised as ``HostError`` (reason = the WIT case)."""
    from componentize_py_types import Err

    try:
        return fn(*args)
    except Err as exc:
        raise HostError(_case(exc.value), str(getattr(exc.value, "value", exc.value))) from None


def parse_id(target: str) -> Any:
    """The WIT ``component-id`` of ``"[namespace/]name[@version]"``."""
    rest, _, version = target.partition("@")
    namespace, _, name = rest.rpartition("/")
    if not name:
        raise ValueError(f"component id {target!r} has no name; use '[namespace/]name[@version]'")
    return _types().ComponentId(namespace=namespace, name=name, version=version)


def format_id(cid: Any) -> str:
    """Inverse of ``parse_id``: the string form of a WIT ``component-id``."""
    text = f"{cid.namespace}/{cid.name}" if cid.namespace else cid.name
    return f"{text}@{cid.version}" if cid.version else text


_LEVELS = ("trace", "debug", "info", "warn", "error")


def log(message: str, level: str = "info", **context: Any) -> None:
    """Log through the host's logger (``airssys_wasm.component``); ``context`` becomes its fields."""
    if level not in _LEVELS:
        raise ValueError(f"log level {level!r} is not one of {', '.join(_LEVELS)}")
    lvl = getattr(_types().LogLevel, level.upper())
    pairs = [(str(k), str(v)) for k, v in context.items()] or None
    _bindings().log(lvl, message, pairs)


def send_frame(target: str, frame: bytes) -> None:
    """Send an already framed message; HostError when the host refuses it."""
    checked(_bindings().send_message, parse_id(target), frame)


def send(target: str, value: Any, codec: Codec = Codec.JSON) -> None:
    """Serialise ``value`` with ``codec`` and send it to ``target``'s ``handle-message``."""
    send_frame(target, encode_value(codec, value))


_pending: dict[str, Callback] = {}


def request(target: str, value: Any, callback: Callback, *, timeout_ms: int = 5000,
            codec: Codec = Codec.JSON) -> str:
    """Send a request to ``target``'s ``execute``; ``callback(ok, value)`` runs when the reply
    (decoded) or the failure (its text) arrives. Needs a world with ``handle-callback``
    (``airssys-component``); returns the request id."""
    rid = str(checked(_bindings().send_request, parse_id(target), encode_value(codec, value), timeout_ms))
    _pending[rid] = callback
    return rid


def deliver(request_id: str, ok: bool, payload: Any) -> bool:
    """Run and forget the callback of ``request_id`` (what ``handle-callback`` does); False when
    no callback waits for it (answered already, or sent without the SDK)."""
    callback = _pending.pop(request_id, None)
    if callback is None:
        return False
    if ok:
        try:
            payload = decode_value(payload)
        except ValueError as exc:
            ok, payload = False, f"the reply is not a valid frame: {exc}"
    callback(ok, payload)
    return True


def now_ms() -> int:
    """Host wall-clock time in milliseconds since the Unix epoch."""
    return int(_bindings().current_time_millis())


def sleep_ms(ms: int) -> None:
    """Sleep ``ms`` milliseconds, at most until the deadline of the current call."""
    _bindings().sleep_millis(ms)


def components() -> list[str]:
    """Every component of the host, as ``"[namespace/]name[@version]"`` strings."""
    return [format_id(cid) for cid in _bindings().list_components()]


def metadata_of(target: str) -> ComponentInfo | None:
    """What ``target`` says about itself, or None when there is no such component."""
    meta = _bindings().get_component_metadata(parse_id(target))
    if meta is None:
        return None
    return ComponentInfo(meta.name, meta.version, meta.description, tuple(meta.supported_operations))
