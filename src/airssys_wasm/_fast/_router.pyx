# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, embedsignature=True
"""Name -> mailbox routing table: the per-message hot path of the host layer, in C.

Every message between components (and from Python into a component) passes here: the frame's
multicodec prefix is validated with ``csrc/multicodec.h`` (no Python call), the target name is
looked up in a dict, and the envelope ``(sender, frame)`` is pushed into the target mailbox's
C ring with ``Mailbox.try_put``'s semantics (its common case as C calls: ``Route.enqueue``). Nothing
here awaits, so a guest's ``send-message`` enqueues without a task switch.
Error paths are cold: they defer to the Python layers for the full, actionable messages.
No asyncio and no policy (permission checks happen before the router is called).
"""

cimport cython
from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_SIMPLE
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE, PyBytes_FromStringAndSize
from cpython.object cimport PyObject
from cpython.tuple cimport PyTuple_New, PyTuple_SET_ITEM
from cpython.ref cimport Py_INCREF
from libc.stdint cimport uint8_t, uint64_t

from airssys_wasm._fast.mc_c cimport aw_mc_header
from airssys_wasm._fast._mailbox cimport Ring

from sys import intern

from airssys_wasm.errors import ComponentNotFound, MessageTooLarge
from airssys_wasm._fast._multicodec import decode_header

cdef extern from "Python.h":
    PyObject *PyDict_GetItemWithError(object d, object key) except? NULL
    bint PyBytes_CheckExact(object o)
    bint PyUnicode_CheckExact(object o)


cdef inline bint _valid(const char *data, Py_ssize_t size):
    cdef uint64_t code = 0
    return aw_mc_header(<const uint8_t *>data, <size_t>size, &code) > 0


cdef Py_ssize_t _checked_size(object frame) except -1:
    """Bytes in ``frame`` after validating its multicodec header in place (no copy): TypeError
    for a non-bytes-like object, the detailed CodecError for a bad header."""
    cdef Py_buffer view
    cdef Py_ssize_t size
    cdef bint ok
    if PyBytes_CheckExact(frame):
        size = PyBytes_GET_SIZE(frame)
        if not _valid(PyBytes_AS_STRING(frame), size):
            decode_header(frame)  # raises the detailed CodecError
            raise AssertionError("multicodec.h and decode_header disagree")  # unreachable
        return size
    try:
        PyObject_GetBuffer(frame, &view, PyBUF_SIMPLE)
    except (TypeError, BufferError):
        raise TypeError(f"a message must be a bytes-like multicodec frame, not "
                        f"{type(frame).__name__}; build one with airssys_wasm.multicodec.encode")
    size = view.len
    ok = _valid(<const char *>view.buf, size)
    PyBuffer_Release(&view)
    if not ok:
        decode_header(bytes(frame))  # raises the detailed CodecError (cold path)
        raise AssertionError("multicodec.h and decode_header disagree")  # unreachable
    return size


cdef bytes _copied(object frame):
    """An already-validated non-bytes buffer as immutable bytes (one copy): queued messages
    must not change under the receiver."""
    cdef Py_buffer view
    PyObject_GetBuffer(frame, &view, PyBUF_SIMPLE)
    try:
        return PyBytes_FromStringAndSize(<char *>view.buf, view.len)
    finally:
        PyBuffer_Release(&view)


def too_large(str target, Py_ssize_t size, Py_ssize_t limit):
    """The MessageTooLarge for a ``size``-byte message to ``target`` whose limit is ``limit``."""
    return MessageTooLarge(
        f"a {size}-byte message is over the {limit}-byte [limits] max_message of {target!r}; "
        "nothing was delivered. Send bulk data through the core-ABI lane (one memcpy per "
        "message) or storage, or raise max_message in its Component.toml (trusted components "
        "only above 1 MiB)", size=size, limit=limit)


def as_frame(frame):
    """Validate ``frame`` (CodecError on a bad prefix) and return it as bytes (copied if needed)."""
    _checked_size(frame)
    if PyBytes_CheckExact(frame):
        return frame
    return _copied(frame)


@cython.final
cdef class Route:
    """One routing target: the mailbox of a live component and its identity."""

    cdef readonly str name
    cdef readonly object mailbox
    cdef readonly object component_id
    # The actor layer's Mailbox exposes its C ring (``Mailbox.ring``): its ``offer`` is
    # ``try_put``'s fast path as C calls. Any other mailbox (duck-typed: try_put/put/poke) is
    # served through try_put alone.
    cdef Ring _ring
    #: Largest frame (bytes) this target accepts; -1: no limit.
    cdef readonly Py_ssize_t max_message

    def __cinit__(self, str name, object mailbox, object component_id, Py_ssize_t max_message=-1):
        self.name = name
        self.mailbox = mailbox
        self.component_id = component_id
        self.max_message = max_message
        # ``try_put`` is looked up when the slow path needs it (full, closed, senders waiting),
        # not kept bound: a bound method per route is one more object for every GC pass to
        # walk for as long as the component lives. A mailbox without one fails here, as ever.
        getattr(mailbox, "try_put")
        ring = getattr(mailbox, "ring", None)
        self._ring = ring if isinstance(ring, Ring) else None

    cpdef check_size(self, Py_ssize_t size):
        """MessageTooLarge when a ``size``-byte message is over this target's max_message: the
        one place that limit is enforced (router sends, Python and guest requests)."""
        if 0 <= self.max_message < size:
            raise too_large(self.name, size, self.max_message)

    cdef inline int enqueue(self, object envelope) except -1:
        """``mailbox.try_put(envelope)`` with its common case as C calls.

        When no sender is waiting for space, the envelope goes straight into the ring and the
        consumer is woken only if it is parked; every other case (full, closed, senders queued
        for fairness) is ``try_put`` itself, so the semantics are the mailbox's own.
        """
        if self._ring is not None and self._ring.offer(envelope) == 0:
            return 0
        self.mailbox.try_put(envelope)
        return 0

    def __repr__(self):
        return f"<Route {self.name} -> {self.mailbox!r}>"


@cython.final
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
        # Interned, so a name that is itself interned (a literal, an interned component id)
        # matches the key by identity: the lookup then skips comparing the characters.
        name = intern(name)
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

    cdef inline Route _lookup(self, object name):
        cdef PyObject *hit
        if not PyUnicode_CheckExact(name):
            raise TypeError(f"a component name must be a str, not {type(name).__name__}")
        hit = PyDict_GetItemWithError(self._routes, name)
        if hit is NULL:
            raise ComponentNotFound(
                f"no component named {name!r} is running in this host ({len(self._routes)} "
                "running); spawn it first, or check the name (names are case-sensitive)")
        return <Route>hit

    cdef inline Route _admit(self, object name, object frame):
        """The route for ``frame`` to ``name``: TypeError, CodecError, ComponentNotFound,
        MessageTooLarge, in that order, each before any copy."""
        cdef Py_ssize_t size
        cdef Route route
        if PyBytes_CheckExact(frame) and _valid(PyBytes_AS_STRING(frame), PyBytes_GET_SIZE(frame)):
            size = PyBytes_GET_SIZE(frame)    # the common case, without a call
        else:
            size = _checked_size(frame)       # other buffers; raises for a bad frame
        route = self._lookup(name)
        if 0 <= route.max_message < size:
            route.check_size(size)
        return route

    cpdef Route resolve(self, object name, object frame):
        """The route of ``name`` after checking ``frame`` (TypeError, CodecError,
        ComponentNotFound, MessageTooLarge: each before any copy)."""
        return self._admit(name, frame)

    cpdef send(self, object name, object sender, object frame):
        """Enqueue ``(sender, frame)`` for ``name`` without waiting.

        CodecError for a bad frame, ComponentNotFound for an unknown name, MailboxFull when
        the target's mailbox is at capacity; a stopped target dead-letters the message. A
        non-bytes frame is copied once, after every check passed.
        """
        cdef Route route = self._admit(name, frame)
        cdef object envelope
        if not PyBytes_CheckExact(frame):
            frame = _copied(frame)
        envelope = PyTuple_New(2)
        Py_INCREF(sender)
        PyTuple_SET_ITEM(envelope, 0, sender)
        Py_INCREF(frame)
        PyTuple_SET_ITEM(envelope, 1, frame)
        route.enqueue(envelope)
        self.routed += 1
