"""The ``Component`` base class: every optional lifecycle export with a sensible default.

componentize-py demands an implementation of every function the targeted world exports.
Subclass ``Component``, write ``handle_message``, and ``airssys-wasm build`` targets the
smallest shipped world that covers the methods you wrote (or the one ``--world`` names); the
defaults fill in the rest. The methods take plain Python values (component ids as
``"[namespace/]name[@version]"`` strings); ``Exports`` adapts them to the WIT bindings. Raise ``Failure`` for an expected error (the host sees a
``component-error`` / ``execution-error`` and keeps the instance); any other exception traps
the instance (its traceback reaches the host's ``TrapError.stderr``) and supervision restarts it.
"""

from __future__ import annotations

import abc
import functools
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

from airssys_wasm_guest import host

F = TypeVar("F", bound=Callable[..., Any])

__all__ = ["Component", "Exports", "Failure", "find_component"]


class Failure(Exception):
    """An expected failure of a lifecycle call, reported to the host as an error result.

    ``kind`` is the WIT case: for ``init`` / ``handle_message`` / ``handle_callback`` /
    ``shutdown`` one of ``internal-error`` (default), ``initialization-failed``,
    ``configuration-invalid``, ``resource-exhausted``; for ``execute`` one of
    ``processing-failed`` (default), ``invalid-input``, ``timeout``, ``resource-limit-exceeded``.
    """

    def __init__(self, message: str, kind: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind


def _variant(types: Any, union: str, kind: str, message: str) -> Any:
    cls = getattr(types, union + "_" + "".join(part.capitalize() for part in kind.split("-")), None)
    if cls is None:
        raise ValueError(f"{kind!r} is not a case of {union}")
    return cls(message)


def _trap_on_exception(fn: F) -> F:
    """Print an unexpected exception's traceback to stderr, then abort (a wasm trap).

    Left to componentize-py, the traceback is followed by its runtime's panic lines, so the
    last stderr line (which the host quotes in the TrapError message) would be a Rust note
    instead of the Python exception.
    """

    @functools.wraps(fn)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            if type(exc).__name__ == "Err":  # componentize_py_types.Err: an error result
                raise
            traceback.print_exc()
            sys.stderr.flush()
            os.abort()

    return guarded  # type: ignore[return-value]


def _err(union: str, default: str, failure: Failure) -> Exception:
    from componentize_py_types import Err
    from wit_world.imports import types

    return Err(_variant(types, union, failure.kind or default, failure.message))


class Component(abc.ABC):
    """Base class of a Python airssys component: define ``handle_message`` (required: a
    subclass without it cannot be instantiated, so the build fails on it) and any other
    lifecycle method you need. Class attributes describe the component to ``metadata``:
    ``name``, ``version``, ``description``, ``operations``."""

    name: str = "python-component"
    version: str = "0.1.0"
    description: str = ""
    operations: tuple[str, ...] = ()

    @abc.abstractmethod
    def handle_message(self, sender: str, message: bytes) -> None:
        """Handle a message from ``sender``: ``message`` is a multicodec frame (``decode_value``)."""

    def execute(self, operation: bytes, request_id: str, caller: str | None) -> bytes:
        """Answer a request: ``operation`` is a frame, return the reply frame (``encode_value``).
        ``caller`` is the requesting component, or the external source. Default: refuse."""
        raise Failure(f"{self.name} answers no requests", "invalid-input")

    def init(self, env: dict[str, str], config: bytes | None) -> None:
        """Set up after instantiation and after every restart. Default: nothing to do."""

    def shutdown(self) -> None:
        """Release what the instance holds before the host stops it. Default: nothing."""

    def health(self) -> str:
        """``healthy`` / ``degraded`` / ``unhealthy`` / ``unknown``. Default: healthy."""
        return "healthy"

    def handle_callback(self, request_id: str, ok: bool, value: Any) -> None:
        """A reply that no ``host.request`` callback claimed. Default: ignored."""


def find_component(namespace: dict[str, Any]) -> type[Component]:
    """The one ``Component`` subclass defined in a guest module's namespace."""
    found = [v for v in namespace.values()
             if isinstance(v, type) and issubclass(v, Component) and v is not Component
             and v.__module__ == namespace.get("__name__")]
    if len(found) != 1:
        names = ", ".join(c.__name__ for c in found) or "none"
        raise TypeError(f"a guest module must define exactly one Component subclass (found: {names})")
    return found[0]


class Exports:
    """The WIT ``component-lifecycle`` exports over a ``Component`` (what componentize-py calls).

    ``airssys-wasm build`` generates ``class ComponentLifecycle(Exports): app = YourComponent()``.
    """

    app: Component

    @_trap_on_exception
    def handle_message(self, sender: Any, message: bytes) -> None:
        """``handle-message``: calls ``app.handle_message(sender_id, frame)``."""
        try:
            self.app.handle_message(host.format_id(sender), message)
        except Failure as failure:
            raise _err("ComponentError", "internal-error", failure) from None

    @_trap_on_exception
    def execute(self, operation: bytes, context: Any) -> bytes:
        """``execute``: calls ``app.execute(frame, request_id, caller)``."""
        info = context.caller_info
        caller = None
        if info is not None and info.component_id is not None:
            caller = host.format_id(info.component_id)
        elif info is not None:
            caller = info.external_source
        try:
            return self.app.execute(operation, context.request_id, caller)
        except Failure as failure:
            raise _err("ExecutionError", "processing-failed", failure) from None

    @_trap_on_exception
    def init(self, config: Any) -> None:
        """``init``: calls ``app.init(env, config_data)``."""
        try:
            self.app.init(dict(config.env_vars), config.config_data)
        except Failure as failure:
            raise _err("ComponentError", "initialization-failed", failure) from None

    @_trap_on_exception
    def handle_callback(self, id: str, outcome: Any) -> None:
        """``handle-callback``: runs the ``host.request`` callback, else ``app.handle_callback``."""
        from componentize_py_types import Ok

        ok = isinstance(outcome, Ok)
        try:
            if not host.deliver(id, ok, outcome.value):
                self.app.handle_callback(id, ok, outcome.value)
        except Failure as failure:
            raise _err("ComponentError", "internal-error", failure) from None

    @_trap_on_exception
    def metadata(self) -> Any:
        """``metadata``: the app's ``name``, ``version``, ``description``, ``operations``."""
        from wit_world.imports import types

        app = self.app
        return types.ComponentMetadata(name=app.name, version=app.version, description=app.description,
                                       supported_operations=list(app.operations))

    @_trap_on_exception
    def health(self) -> Any:
        """``health``: ``app.health()`` as the WIT enum."""
        from wit_world.imports import types

        return getattr(types.HealthStatus, self.app.health().upper())

    @_trap_on_exception
    def shutdown(self) -> None:
        """``shutdown``: calls ``app.shutdown()``."""
        try:
            self.app.shutdown()
        except Failure as failure:
            raise _err("ComponentError", "internal-error", failure) from None
