# Errors coming back from wasm: wasmtime_error_t / wasm_trap_t -> TrapError with a kind.
#
# Component calls return plain errors without a trap code, so the kind is read from the message
# text; core calls hand back a wasm_trap_t with a code. A Python exception raised by a host
# function is parked per thread by the trampoline and attached as the TrapError's __cause__.

cdef object _tls = threading.local()

# Trap codes of wasmtime/trap.h (v50) that have a TrapKind of their own.
cdef dict _CODE_KINDS = {
    0: TrapKind.STACK_OVERFLOW, 1: TrapKind.OUT_OF_BOUNDS, 3: TrapKind.OUT_OF_BOUNDS,
    9: TrapKind.UNREACHABLE, 10: TrapKind.TIMEOUT, 11: TrapKind.OUT_OF_FUEL,
    14: TrapKind.OUT_OF_BOUNDS,
}

# Message fragments, most specific first (wasmtime's Display texts of the trap codes).
cdef list _TEXT_KINDS = [
    ("all fuel consumed", TrapKind.OUT_OF_FUEL),
    ("interrupt", TrapKind.TIMEOUT),
    ("call stack exhausted", TrapKind.STACK_OVERFLOW),
    ("stack overflow", TrapKind.STACK_OVERFLOW),
    ("out of bounds", TrapKind.OUT_OF_BOUNDS),
    ("unreachable", TrapKind.UNREACHABLE),
    # A resource handle the guest forged, used after dropping it, or of another type: checked
    # by wasmtime before the host sees it, and a host_error like any other refused host call.
    ("handle index", TrapKind.HOST_ERROR),
]


cdef void _park_exception(object exc, bytes text) noexcept:
    try:
        _tls.pending = (exc, text.decode("utf-8", "replace"))
    except BaseException:
        pass


cdef object _take_parked(str error_text):
    """The parked host exception, if the error being converted is the one it caused.

    A host function can also fail inside a call made through wasmtime-py (which never collects
    the parked exception); matching the error text keeps such a stale one from being attached
    to an unrelated trap later.
    """
    parked = getattr(_tls, "pending", None)
    if parked is None:
        return None
    _tls.pending = None
    exc, text = parked
    return exc if text in error_text else None


cdef str _take_vec_text(wasm_byte_vec_t *vec):
    """The vec's text, consuming the vec. wasm_trap_message's vec counts the C string's NUL
    terminator in its size (the wasm C API convention), so trailing NULs are not text; any
    other control byte is made printable by TrapError itself."""
    cdef str text = ""
    cdef size_t n = vec.size
    cdef const unsigned char *data = <const unsigned char *>vec.data
    if data != NULL:
        while n and data[n - 1] == 0:
            n -= 1
        if n:
            text = (<bytes>(<const char *>data)[:n]).decode("utf-8", "replace")
    api.wasm_byte_vec_delete(vec)
    return text


cdef str _consume_error(wasmtime_error_t *err):
    """The error's message, consuming (deleting) the error."""
    cdef wasm_byte_vec_t msg
    msg.size = 0
    msg.data = NULL
    api.wasmtime_error_message(err, &msg)
    api.wasmtime_error_delete(err)
    return _take_vec_text(&msg)


def trap_kind_from_message(str text):
    """The :class:`TrapKind` a wasmtime error message describes (``other`` if none matches)."""
    lowered = text.lower()
    for fragment, kind in _TEXT_KINDS:
        if fragment in lowered:
            return kind
    return TrapKind.OTHER


cdef str _summary(str text):
    """The innermost cause: the last non-empty line, without anyhow's "N: " chain prefix."""
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line:
            head, sep, rest = line.partition(": ")
            return rest if sep and head.isdigit() else line
    return "unknown error"


cdef object _trap_error(wasmtime_error_t *err, wasm_trap_t *trap, str where):
    """Consume err/trap (either may be NULL) and build the TrapError to raise."""
    cdef wasm_byte_vec_t msg
    cdef uint8_t code = 0
    cdef bint has_code = 0
    cdef str text = ""
    if trap != NULL:
        has_code = api.wasmtime_trap_code(trap, &code) != 0
        msg.size = 0
        msg.data = NULL
        api.wasm_trap_message(trap, &msg)
        text = _take_vec_text(&msg)
        api.wasm_trap_delete(trap)
    if err != NULL:
        detail = _consume_error(err)
        text = (text + "\n" + detail) if text else detail
    kind = _CODE_KINDS.get(code, TrapKind.OTHER) if has_code else trap_kind_from_message(text)
    cause = _take_parked(text)
    if cause is not None:
        exc = TrapError(
            f"{where}: a host function raised {type(cause).__name__}: {cause}; the guest call "
            "was aborted and its Store is poisoned (instantiate a fresh one)",
            TrapKind.HOST_ERROR, backtrace=text)
        exc.__cause__ = cause
        return exc
    return TrapError(
        f"{where} trapped: {_summary(text)} (kind {kind.value}); the Store is poisoned, "
        "instantiate a fresh one before calling again", kind, backtrace=text)
