"""One error hierarchy for the whole framework.

Every failure a user can provoke — bad bytes, a bad manifest, a trapping guest, an unknown
component, a full mailbox — surfaces as a subclass of :class:`AirssysError`, so a host can
catch one type at its boundary and keep running. Each class also derives from the closest
builtin (``ValueError``, ``LookupError``, ``TimeoutError`` …) so generic handlers still work.

Messages say what was wrong *and* what to do about it; callers build them that way.
This module sits below every layer (it imports nothing from the package).
"""

from __future__ import annotations

import enum

__all__ = [
    "AirssysError",
    "AbiMismatchError",
    "CodecError",
    "ManifestError",
    "LoadError",
    "TrapKind",
    "TrapError",
    "CallCancelled",
    "MessageTooLarge",
    "GuestError",
    "PermissionDenied",
    "QuotaExceeded",
    "ComponentNotFound",
    "MailboxFull",
    "MailboxClosed",
    "RequestTimeout",
    "ActorStateError",
    "SupervisorEscalation",
    "HealthCheckFailed",
    "UpgradeFailed",
    "BuildError",
    "LatticeError",
    "LatticeUnavailable",
    "ConfigError",
    "WitError",
    "printable",
]


def _control_map(keep_newlines: bool) -> dict[int, str]:
    """str.translate table: C0/C1 controls and DEL escaped as ``\\xNN``; tab/CR (and LF
    unless kept) become a space, so a line stays one line."""
    table = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F, *range(0x80, 0xA0))}
    table[0x09] = table[0x0D] = " "
    if keep_newlines:
        del table[0x0A]
    else:
        table[0x0A] = " "
    return table


_ONE_LINE = _control_map(keep_newlines=False)
_MULTI_LINE = _control_map(keep_newlines=True)


def printable(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` without control characters: what guest- or wasmtime-supplied text must be
    before it goes into an error message or a log line.

    Guest output and wasm error texts are untrusted bytes; a NUL, an ANSI escape or a carriage
    return in them would corrupt terminals, log files and parsers downstream, or forge lines.
    Controls are escaped (``\\x1b``), not dropped, so nothing the guest wrote is hidden.
    """
    return text.translate(_MULTI_LINE if keep_newlines else _ONE_LINE)


class AirssysError(Exception):
    """Base class of every error raised on purpose by airssys-wasm."""


class AbiMismatchError(AirssysError, ImportError):
    """The installed wasmtime does not have the C ABI the fast path was written for."""


class CodecError(AirssysError, ValueError):
    """A multicodec frame, varint or codec payload is malformed or of an unknown codec."""


class ManifestError(AirssysError, ValueError):
    """A ``Component.toml`` is unreadable or breaks a schema rule."""


class ConfigError(AirssysError, ValueError):
    """A configuration value (limits, backoff, engine settings) is out of its valid range."""


class WitError(ConfigError):
    """A WIT text does not parse, or uses what host interfaces do not support. ``source``,
    ``line`` and ``column`` say where (line/column 0 when the problem is not at one token)."""

    def __init__(self, message: str, *, source: str = "<wit>", line: int = 0,
                 column: int = 0) -> None:
        where = f"{source}:{line}:{column}" if line else source
        super().__init__(f"{where}: {message}")
        self.source = source
        self.line = line
        self.column = column


class LoadError(AirssysError):
    """WebAssembly bytes/text could not be compiled, or do not satisfy the component world."""


class TrapKind(str, enum.Enum):
    """Why a guest stopped abnormally; stable names for policy and metrics.

    The same cause gives the same kind on the component lane and the core-ABI lane — with one
    exception the pinned wasmtime (50) imposes. ``MEMORY_LIMIT`` means the guest ran into its
    ``[limits] memory``: instantiation over the limit, a memory fault at the end of a memory
    that could not grow (the fault's message carries the memory size), or any trap while the
    memory is at the limit. That last case needs the memory's current size: a core-ABI module
    exports its memory, a component's core memories are not reachable through wasmtime's
    component C API, and the Store limiter (``wasmtime_store_limiter``) neither reports nor
    counts refused ``memory.grow`` calls. So a component that is refused memory and then
    aborts (``unreachable``, e.g. a Rust allocation-failure abort) is ``UNREACHABLE`` on the
    component lane and ``MEMORY_LIMIT`` on the core lane; its message then says that a refused
    grow may be the cause, and the guest's last stderr lines (``TrapError.stderr``) usually name
    it ("memory allocation of N bytes failed").
    """

    UNREACHABLE = "unreachable"
    OUT_OF_BOUNDS = "out_of_bounds"
    STACK_OVERFLOW = "stack_overflow"
    OUT_OF_FUEL = "out_of_fuel"
    TIMEOUT = "timeout"
    MEMORY_LIMIT = "memory_limit"
    #: A Python host function (an embedder's ``Host.provide`` implementation or a built-in
    #: one) raised, or returned a value that does not fit its WIT type. The exception is the
    #: TrapError's ``__cause__``; the host itself keeps running.
    HOST_ERROR = "host_error"
    OTHER = "other"


class TrapError(AirssysError):
    """A guest trapped. Its Store is poisoned: the actor needs a fresh instance.

    ``backtrace`` is wasmtime's error text (wasm frames), ``stderr`` the guest's last WASI
    stderr lines before the trap (a panic message, a Python traceback). Message and backtrace
    are made :func:`printable` here — the one place every trap report passes — because both
    carry wasmtime- and guest-supplied text; only the backtrace keeps its newlines.
    """

    def __init__(
        self,
        message: str,
        kind: TrapKind | str = TrapKind.OTHER,
        *,
        component: str | None = None,
        backtrace: str = "",
        stderr: tuple[str, ...] = (),
    ) -> None:
        super().__init__(printable(message))
        self.kind = TrapKind(kind)
        self.component = component
        self.backtrace = printable(backtrace, keep_newlines=True)
        self.stderr = tuple(printable(line) for line in stderr)


class MessageTooLarge(AirssysError, ValueError):
    """A message is larger than the receiving (or sending) component's ``[limits] max_message``.

    Refused before it is copied or queued; nothing was delivered. ``size`` and ``limit`` are in
    bytes. Bulk data belongs on the core-ABI lane (one memcpy, no per-byte cost) or in storage.
    """

    def __init__(self, message: str, *, size: int = 0, limit: int = 0) -> None:
        super().__init__(message)
        self.size = size
        self.limit = limit


class CallCancelled(TrapError):
    """A suspended guest call was cancelled (stop, restart, request timeout, host close).

    The guest was interrupted mid-call, so its Store may be inconsistent and is discarded like
    after a trap; ``__cause__`` is the reason when it was an exception.
    """


class GuestError(AirssysError, RuntimeError):
    """A guest answered a call with an error value (it did not trap; its instance stays usable).

    ``case`` is the WIT variant case (e.g. ``processing-failed``) or ``unsupported`` when the
    guest does not export the function; ``detail`` is the guest's own text.
    """

    def __init__(self, message: str, *, case: str, detail: str = "", export: str = "") -> None:
        super().__init__(message)
        self.case = case
        self.detail = detail
        self.export = export


class PermissionDenied(AirssysError, PermissionError):
    """A capability check refused an action."""


class QuotaExceeded(AirssysError):
    """A component used up a ``[quota]`` budget (message rate, network or storage bytes); the
    action may succeed later, when the budget refills."""


class ComponentNotFound(AirssysError, LookupError):
    """No running component/actor is registered under the given name."""


class MailboxFull(AirssysError):
    """A bounded mailbox is at capacity and the caller asked not to wait."""


class MailboxClosed(AirssysError):
    """The mailbox's actor has stopped; the message was not accepted."""


class RequestTimeout(AirssysError, TimeoutError):
    """A request got no reply within its deadline."""


class ActorStateError(AirssysError, RuntimeError):
    """An operation is not valid in the actor's current lifecycle state."""


class SupervisorEscalation(AirssysError):
    """A supervisor exceeded its restart intensity and gave up on its children."""


class HealthCheckFailed(AirssysError, RuntimeError):
    """An actor answered its health probe unhealthy (or not at all) too many times in a row."""


class UpgradeFailed(AirssysError, RuntimeError):
    """``Host.upgrade``: the new code was admitted but failed to start (its ``init`` trapped or
    answered an error, or its storage did not fit its quota). ``__cause__`` is that failure.

    ``rolled_back`` True: the old code runs again in a fresh instance with its old grants, the
    mailbox kept every queued message. False: the old code failed to start too; the component
    failed and its supervisor restarts it (with the old code) by its restart policy.
    """

    def __init__(self, message: str, *, component: str, rolled_back: bool) -> None:
        super().__init__(message)
        self.component = component
        self.rolled_back = rolled_back


class LatticeError(AirssysError):
    """A lattice (``aw.Lattice``: node hosts on NATS JetStream) could not do what was asked: a
    node name already in use, a placement no live node matches, a NATS reply that was refused, or
    a ``nats-server`` of a local cluster (:mod:`airssys_wasm.lattice.cluster`) that exited or did
    not become ready in time. The message says which node, component or server and what to do."""


class LatticeUnavailable(LatticeError):
    """The NATS servers of a lattice cannot be reached (at start, or for longer than a call's
    timeout mid-run). Cross-node frames already accepted stay buffered (bounded) and are
    published once NATS is back; nothing acknowledged is lost."""


class BuildError(AirssysError):
    """A guest could not be built (``airssys-wasm build``): the toolchain is missing, the
    source is not a guest module, or the toolchain failed; the message says which and what to do."""
