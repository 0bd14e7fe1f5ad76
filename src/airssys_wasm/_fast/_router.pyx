# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, embedsignature=True, binding=False
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


cdef inline object _envelope(object sender, object frame):
    """The mailbox envelope ``(sender, frame)``, built in place."""
    cdef object envelope = PyTuple_New(2)
    Py_INCREF(sender)
    PyTuple_SET_ITEM(envelope, 0, sender)
    Py_INCREF(frame)
    PyTuple_SET_ITEM(envelope, 1, frame)
    return envelope


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
        if not PyBytes_CheckExact(frame):
            frame = _copied(frame)
        route.enqueue(_envelope(sender, frame))
        self.routed += 1

    cdef bint _offer(self, str name, object sender, object frame) except -1:
        """``send``'s common case or nothing: a valid ``bytes`` frame to a routed C ring that
        takes it at once (open, room, no sender waiting), within the target's max_message.
        False, with nothing enqueued and nothing raised, for anything else."""
        cdef PyObject *hit
        cdef Route route
        if not PyBytes_CheckExact(frame) or not _valid(PyBytes_AS_STRING(frame),
                                                       PyBytes_GET_SIZE(frame)):
            return False
        hit = PyDict_GetItemWithError(self._routes, name)
        if hit is NULL:
            return False
        route = <Route>hit
        if route._ring is None or 0 <= route.max_message < PyBytes_GET_SIZE(frame) \
                or route._ring.offer(_envelope(sender, frame)) != 0:
            return False
        self.routed += 1
        return True


@cython.final
cdef class SendGate:
    """One sender's per-message fast path: a send its policy already allowed, in C.

    The policy owns every decision; the gate only replays the one it made most: an allowed,
    unmetered ``messaging.send`` to a name it allowed before, while no audit sink would keep the
    line. ``allowed`` is the policy's own cache of verdicts per target name (only ``True``
    passes; None: every name, for a policy that allows everything), ``sent`` counts the sends
    passed here (the policy reports them as its allowed decisions), ``metered`` makes every
    send a decision of the policy's (a message-rate quota), ``audit`` is the audit log whose
    ``keeps_lines`` (a zero-argument callable, or None when it cannot say in one question) is
    asked per send (None: no audit log). The host binds the router and the sender's
    component-id (``bind``) before the guest runs; the policy closes the gate when the grant
    goes away (``close``).

    ``try_send`` passes a send or declines it, never half: a declined send has not been
    counted, checked or enqueued, and the caller takes the policy's path, which decides,
    audits and refuses with the full message. It declines anything but the common case: an
    unbound or closed gate, a name not yet allowed, a target with a namespace or version (its
    component-id is checked against the route there), an ``Oversized`` or non-bytes message, a
    bad frame, an unknown or oversized target, a full or closed mailbox, senders waiting.
    """

    cdef readonly dict allowed
    cdef public unsigned long long sent
    cdef public bint metered
    cdef public object audit
    cdef readonly bint closed
    cdef readonly object sender
    cdef Router _router
    # The converted target of the last send (the trampoline memoizes conversions, so a sender
    # streaming to one target passes the same object) and its name: no attribute read per send.
    cdef object _last_target
    cdef str _last_name

    def __cinit__(self, dict allowed=None, *, bint metered=False, object audit=None):
        self.allowed = allowed
        self.metered = metered
        self.audit = audit
        self.sent = 0

    def bind(self, Router router not None, object sender not None):
        """Send through ``router``, as ``sender`` (the component-id put in every envelope)."""
        self._router = router
        self.sender = sender

    def close(self):
        """Pass nothing more: the grant it replays is gone."""
        self.closed = True
        self._router = None

    cdef str _name(self, object target):
        """``target.name`` when namespace and version are empty, else None."""
        if target is self._last_target:
            return self._last_name
        name = getattr(target, "name", None)
        if not PyUnicode_CheckExact(name) or getattr(target, "namespace", None) != "" \
                or getattr(target, "version", None) != "":
            return None
        self._last_target = target
        self._last_name = name
        return name

    cpdef bint try_send(self, object target, object message) except -1:
        """Enqueue ``(sender, message)`` for ``target`` (a ComponentId) if the policy's verdict
        stands and nothing is out of the ordinary; False (nothing done) otherwise."""
        cdef Router router = self._router
        cdef PyObject *verdict
        cdef str name
        if router is None or self.metered or not PyBytes_CheckExact(message):
            return False
        name = self._name(target)
        if name is None:
            return False
        if self.allowed is not None:
            verdict = PyDict_GetItemWithError(self.allowed, name)
            if verdict is NULL or <object>verdict is not True:
                return False
        if self.audit is not None:
            keeps = getattr(self.audit, "keeps_lines", None)
            if keeps is None or keeps():
                return False
        if not router._offer(name, self.sender, message):
            return False
        self.sent += 1
        return True


@cython.final
cdef class GatedSend:
    """A ``send-message`` host function (called ``(data, target, message)``) that passes the
    send through ``data.send_gate`` when it can and calls ``fallback`` with the same arguments
    otherwise; ``ok`` is what a passed send returns (the function's ``ok`` result)."""

    cdef object fallback
    cdef object ok

    def __cinit__(self, fallback, ok):
        if not callable(fallback):
            raise TypeError(f"fallback must be callable, not {type(fallback).__name__}")
        self.fallback = fallback
        self.ok = ok

    def __call__(self, data, target, message):
        gate = getattr(data, "send_gate", None)
        if type(gate) is SendGate and (<SendGate>gate).try_send(target, message):
            return self.ok
        return self.fallback(data, target, message)
