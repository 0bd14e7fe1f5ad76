"""Turn wasmtime failures into :class:`TrapError` with a stable ``kind``.

Calls go through the fast path, which raises :class:`TrapError` with wasmtime's full error text
in ``backtrace`` and a first ``kind`` (from the trap code for core modules); instantiation goes
through wasmtime-py, which raises ``wasmtime.Trap`` (with a code) or a plain ``WasmtimeError``
whose only signal is its text (findings note, section 3). Either way the code and the message
are parsed with the same table here. The backtrace text is kept verbatim for diagnostics.
"""

from __future__ import annotations

import re

import wasmtime

from airssys_wasm.errors import TrapError, TrapKind

__all__ = ["classify", "to_trap_error"]

_CODE_KINDS: dict[wasmtime.TrapCode, TrapKind] = {
    wasmtime.TrapCode.UNREACHABLE: TrapKind.UNREACHABLE,
    wasmtime.TrapCode.MEMORY_OUT_OF_BOUNDS: TrapKind.OUT_OF_BOUNDS,
    wasmtime.TrapCode.TABLE_OUT_OF_BOUNDS: TrapKind.OUT_OF_BOUNDS,
    wasmtime.TrapCode.HEAP_MISALIGNED: TrapKind.OUT_OF_BOUNDS,
    wasmtime.TrapCode.ARRAY_OUT_OF_BOUNDS: TrapKind.OUT_OF_BOUNDS,
    wasmtime.TrapCode.STRING_OUT_OF_BOUNDS: TrapKind.OUT_OF_BOUNDS,
    wasmtime.TrapCode.LIST_OUT_OF_BOUNDS: TrapKind.OUT_OF_BOUNDS,
    wasmtime.TrapCode.STACK_OVERFLOW: TrapKind.STACK_OVERFLOW,
    wasmtime.TrapCode.OUT_OF_FUEL: TrapKind.OUT_OF_FUEL,
    wasmtime.TrapCode.INTERRUPT: TrapKind.TIMEOUT,
    wasmtime.TrapCode.ALLOCATION_TOO_LARGE: TrapKind.MEMORY_LIMIT,
}

# Checked in order against the "Caused by" part of wasmtime's message (lower-cased).
_MESSAGE_KINDS: tuple[tuple[str, TrapKind], ...] = (
    ("all fuel consumed", TrapKind.OUT_OF_FUEL),
    ("wasm trap: interrupt", TrapKind.TIMEOUT),
    ("call stack exhausted", TrapKind.STACK_OVERFLOW),
    ("stack overflow", TrapKind.STACK_OVERFLOW),
    ("exceeds memory limits", TrapKind.MEMORY_LIMIT),
    ("memory limit", TrapKind.MEMORY_LIMIT),
    ("allocation size too large", TrapKind.MEMORY_LIMIT),
    ("out of bounds", TrapKind.OUT_OF_BOUNDS),
    ("unreachable", TrapKind.UNREACHABLE),
)

_HINTS: dict[TrapKind, str] = {
    TrapKind.UNREACHABLE: "the guest hit `unreachable` (a panic/abort in its source language)",
    TrapKind.OUT_OF_BOUNDS: "the guest accessed memory or a table out of bounds (a guest bug)",
    TrapKind.STACK_OVERFLOW: "the guest exhausted its wasm stack (unbounded recursion?)",
    TrapKind.OUT_OF_FUEL: "the call used up its fuel budget; raise [limits] fuel if this is legitimate",
    TrapKind.TIMEOUT: "the call ran past its deadline; raise [limits] timeout_ms if this is legitimate",
    TrapKind.MEMORY_LIMIT: "the guest ran into its memory limit; raise [limits] memory if this is legitimate",
    TrapKind.OTHER: "the guest trapped",
    # Without a host exception, a host_error is a host call wasmtime refused before the host
    # saw it: a resource handle the guest does not hold (forged, or used after its drop).
    TrapKind.HOST_ERROR: "the guest passed a resource handle it does not hold (never created, "
                         "or already dropped): a guest bug",
}


def _split(text: str) -> tuple[str, str]:
    """(cause, backtrace) from wasmtime's "error while executing at wasm backtrace: ... Caused by:"."""
    head, sep, cause = text.partition("Caused by:")
    if not sep:
        return text.strip(), ""
    backtrace = head.replace("error while executing at wasm backtrace:", "").strip("\n")
    return " ".join(line.strip() for line in cause.strip().splitlines()), backtrace


def _text(exc: BaseException) -> str:
    """wasmtime's own error text (the fast path keeps it in ``backtrace``)."""
    if isinstance(exc, TrapError) and exc.backtrace:
        return exc.backtrace
    return str(exc)


def classify(exc: BaseException) -> TrapKind:
    """The :class:`TrapKind` of a wasmtime error (trap code first, then message text)."""
    code = getattr(exc, "trap_code", None)
    if isinstance(exc, wasmtime.Trap) and code is not None:
        return _CODE_KINDS.get(code, TrapKind.OTHER)
    cause = _split(_text(exc))[0].lower()
    for needle, kind in _MESSAGE_KINDS:
        if needle in cause:
            return kind
    return exc.kind if isinstance(exc, TrapError) else TrapKind.OTHER


_MEMORY_SIZE = re.compile(r"in linear memory of size (0x[0-9a-f]+|\d+)")
_PAGE = 65536


_UNOBSERVED_GROW = (
    " (a component's memory size is not observable: if the guest aborts when an allocation "
    "fails, raise [limits] memory)")
_STDERR_IN_MESSAGE = 200  # characters of the last stderr line quoted in the message


def to_trap_error(exc: BaseException, *, component: str, export: str,
                  memory_at_limit: bool = False, memory_limit: int | None = None,
                  memory_observable: bool = True, stderr: tuple[str, ...] = ()) -> TrapError:
    """Wrap ``exc`` as a TrapError.

    A trap while the guest's memory cannot grow by another page is reported as
    ``memory_limit``, because that is the actionable cause whatever instruction finally stopped
    the guest. The caller may know it (``memory_at_limit``, e.g. from an exported memory);
    otherwise a memory fault's message tells the memory size, compared with ``memory_limit``.
    When the caller cannot know (``memory_observable=False``: components), an ``unreachable``
    under a memory limit says so in its message instead of guessing (see TrapKind).
    ``stderr`` (the guest's last stderr lines) is attached: its last line in the message, all
    of it in the backtrace, because a panic message is what tells a guest author what happened.
    """
    kind = classify(exc)
    cause, backtrace = _split(_text(exc))
    if memory_limit is not None and kind is TrapKind.OUT_OF_BOUNDS:
        size = _MEMORY_SIZE.search(cause)
        if size and int(size.group(1), 0) + _PAGE > memory_limit:
            memory_at_limit = True
    if memory_at_limit and kind in (TrapKind.UNREACHABLE, TrapKind.OUT_OF_BOUNDS, TrapKind.OTHER):
        kind = TrapKind.MEMORY_LIMIT
    hint = _HINTS[kind]
    if kind is TrapKind.UNREACHABLE and not memory_observable and memory_limit is not None:
        hint += _UNOBSERVED_GROW
    message = (f"component {component!r} trapped in {export}: {cause} [{kind.value}] - "
               f"{hint}; the instance was discarded, create a fresh one to continue")
    if stderr:
        last = stderr[-1]
        if len(last) > _STDERR_IN_MESSAGE:
            last = last[:_STDERR_IN_MESSAGE] + "..."
        message += f"; guest stderr ends with: {last!r}"
        backtrace = (f"{backtrace}\n\n" if backtrace else "") + \
            f"guest stderr (last {len(stderr)} lines):\n" + "\n".join(stderr)
    return TrapError(message, kind, component=component, backtrace=backtrace, stderr=stderr)
