# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, embedsignature=True
"""Name -> mailbox routing table: the per-message hot path of the host layer, in C.

Every message between components (and from Python into a component) passes here: the frame's
multicodec prefix is validated with ``csrc/multicodec.h`` (no Python call), the target name is
looked up in a dict, and the envelope ``(sender, frame)`` is pushed into the target mailbox
with ``Mailbox.try_put``'s semantics (its common case inlined: see ``Route.enqueue``). Nothing
here awaits, so a guest's ``send-message`` enqueues without a task switch.
Error paths are cold: they defer to the Python layers for the full, actionable messages.
No asyncio and no policy (permission checks happen before the router is called).
"""

from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_SIMPLE
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE, PyBytes_FromStringAndSize
from cpython.dict cimport PyDict_GetItem
from cpython.object cimport PyObject
from cpython.tuple cimport PyTuple_New, PyTuple_SET_ITEM
from cpython.ref cimport Py_INCREF
from libc.stdint cimport uint8_t, uint64_t

from airssys_wasm._fast.mc_c cimport aw_mc_header

from airssys_wasm.errors import ComponentNotFound, MessageTooLarge
from airssys_wasm._fast._multicodec import decode_header

cdef extern from "Python.h":
    bint PyBytes_CheckExact(object o)
    bint PyUnicode_CheckExact(object o)


cdef inline bint _valid(bytes frame):
    cdef uint64_t code = 0
    return aw_mc_header(<const uint8_t *>PyBytes_AS_STRING(frame),
                        <size_t>PyBytes_GET_SIZE(frame), &code) > 0


cdef bytes _owned_frame(object frame):
    """``frame`` as immutable bytes with a valid multicodec header (CodecError otherwise).

    Queued messages must not change under the receiver, so non-bytes buffers are copied once.
    """
    cdef Py_buffer view
    cdef bytes out
    if PyBytes_CheckExact(frame):
        out = <bytes>frame
    else:
        try:
            PyObject_GetBuffer(frame, &view, PyBUF_SIMPLE)
        except (TypeError, BufferError):
            raise TypeError(f"a message must be a bytes-like multicodec frame, not "
                            f"{type(frame).__name__}; build one with airssys_wasm.multicodec.encode")
        try:
            out = PyBytes_FromStringAndSize(<char *>view.buf, view.len)
        finally:
            PyBuffer_Release(&view)
    if not _valid(out):
        decode_header(out)  # raises the detailed CodecError
        raise AssertionError("multicodec.h and decode_header disagree")  # unreachable
    return out


cdef inline Py_ssize_t _frame_size(object frame) except -1:
    """Bytes in ``frame``, without copying it; TypeError for a non-bytes-like object and the
    detailed CodecError for a bad header of a ``bytes`` frame (other buffers are validated
    when copied)."""
    cdef Py_buffer view
    cdef Py_ssize_t size
    if PyBytes_CheckExact(frame):
        if not _valid(<bytes>frame):
            _owned_frame(frame)               # raises the detailed CodecError
        return PyBytes_GET_SIZE(frame)
    try:
        PyObject_GetBuffer(frame, &view, PyBUF_SIMPLE)
    except (TypeError, BufferError):
        raise TypeError(f"a message must be a bytes-like multicodec frame, not "
                        f"{type(frame).__name__}; build one with airssys_wasm.multicodec.encode")
    size = view.len
    PyBuffer_Release(&view)
    return size


def too_large(str target, Py_ssize_t size, Py_ssize_t limit):
    """The MessageTooLarge for a ``size``-byte message to ``target`` whose limit is ``limit``."""
    return MessageTooLarge(
        f"a {size}-byte message is over the {limit}-byte [limits] max_message of {target!r}; "
        "nothing was delivered. Send bulk data through the core-ABI lane (one memcpy per "
        "message) or storage, or raise max_message in its Component.toml (trusted components "
        "only above 1 MiB)", size=size, limit=limit)


def as_frame(frame):
    """Validate ``frame`` (CodecError on a bad prefix) and return it as bytes (copied if needed)."""
    return _owned_frame(frame)


cdef class Route:
    """One routing target: the mailbox of a live component and its identity."""

    cdef readonly str name
    cdef readonly object mailbox
    cdef readonly object component_id
    cdef object _try_put
    cdef object _push
    #: Largest frame (bytes) this target accepts; -1: no limit.
    cdef readonly Py_ssize_t max_message

    def __cinit__(self, str name, object mailbox, object component_id, Py_ssize_t max_message=-1):
        self.name = name
        self.mailbox = mailbox
        self.component_id = component_id
        self.max_message = max_message
        self._try_put = mailbox.try_put
        # The actor layer's Mailbox exposes its ring's push as ``_push``; any other mailbox
        # (duck-typed: try_put/put/poke) is served through try_put alone.
        self._push = getattr(mailbox, "_push", None)

    cdef inline int enqueue(self, object envelope) except -1:
        """``mailbox.try_put(envelope)`` with its common case inlined.

        When no sender is waiting for space, the envelope goes straight into the Cython ring
        (one C call) and the consumer is woken only if it is parked; every other case (full,
        closed, senders queued for fairness) is ``try_put`` itself, so the semantics are the
        mailbox's own.
        """
        cdef object mailbox = self.mailbox
        if self._push is not None and not mailbox._senders and self._push(envelope) == 0:
            if mailbox._consumer is not None:
                mailbox.poke()
            return 0
        self._try_put(envelope)
        return 0

    def __repr__(self):
        return f"<Route {self.name} -> {self.mailbox!r}>"


cdef class Router:
    """The host's table of component names; ``send`` is validate + lookup + enqueue in C."""

    cdef dict _routes
    cdef readonly unsigned long long routed

    def __cinit__(self):
        self._routes = {}
        self.routed = 0

    def add(self, str name not None, object mailbox, object component_id,
            Py_ssize_t max_message=-1):
        """Route ``name`` to ``mailbox`` (its ``try_put`` is the enqueue). Names are unique.
        ``max_message``: the largest frame it accepts (MessageTooLarge above it; -1 none)."""
        if name in self._routes:
            raise ValueError(f"a component named {name!r} is already routed; stop it first or "
                             "pick another name")
        route = Route(name, mailbox, component_id, max_message)
        self._routes[name] = route
        return route

    def remove(self, str name not None, object mailbox=None):
        """Forget ``name`` (only if it still routes to ``mailbox``, when given); True if removed."""
        route = self._routes.get(name)
        if route is None or (mailbox is not None and (<Route>route).mailbox is not mailbox):
            return False
        del self._routes[name]
        return True

    def get(self, name):
        return self._routes.get(name)

    def names(self):
        return list(self._routes)

    def __len__(self):
        return len(self._routes)

    def __contains__(self, name):
        return name in self._routes

    cdef Route _lookup(self, object name):
        cdef PyObject *hit
        if not PyUnicode_CheckExact(name):
            raise TypeError(f"a component name must be a str, not {type(name).__name__}")
        hit = PyDict_GetItem(self._routes, name)
        if hit is NULL:
            raise ComponentNotFound(
                f"no component named {name!r} is running in this host ({len(self._routes)} "
                "running); spawn it first, or check the name (names are case-sensitive)")
        return <Route>hit

    cpdef Route resolve(self, object name, object frame):
        """The route of ``name`` after checking ``frame`` (TypeError, CodecError,
        ComponentNotFound, MessageTooLarge: each before any copy)."""
        cdef Py_ssize_t size = _frame_size(frame)
        cdef Route route = self._lookup(name)
        if 0 <= route.max_message < size:
            raise too_large(route.name, size, route.max_message)
        if not PyBytes_CheckExact(frame):
            _owned_frame(frame)                 # validates the header (and copies)
        return route

    cpdef send(self, object name, object sender, object frame):
        """Enqueue ``(sender, frame)`` for ``name`` without waiting.

        CodecError for a bad frame, ComponentNotFound for an unknown name, MailboxFull when
        the target's mailbox is at capacity; a stopped target dead-letters the message.
        """
        cdef Py_ssize_t size = _frame_size(frame)
        cdef Route route = self._lookup(name)
        cdef object envelope
        if 0 <= route.max_message < size:
            raise too_large(route.name, size, route.max_message)
        if not PyBytes_CheckExact(frame):
            frame = _owned_frame(frame)
        envelope = PyTuple_New(2)
        Py_INCREF(sender)
        PyTuple_SET_ITEM(envelope, 0, sender)
        Py_INCREF(frame)
        PyTuple_SET_ITEM(envelope, 1, frame)
        route.enqueue(envelope)
        self.routed += 1
