# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, embedsignature=True, binding=False
"""Bounded FIFO ring of Python objects that grows with what it holds: the mailbox hot path, in C.

An actor drains up to N messages per wake-up, so the per-message costs that matter are one
``offer`` (a bounds check, a pointer store and, only when the consumer is parked, its wake-up)
and a share of one ``drain`` (references are moved from the ring into a fresh list without
refcount churn). The slots live in a Python list so the cyclic GC sees every queued message.

Memory follows the queue, not the bound: a ring starts with a few slots, doubles when full
(never past its ``capacity``, which stays the backpressure bound) and gives slots back when its
actor parks at most a quarter full (``trim``), so 10k idle actors cost 10k small lists, not 10k rings of
``capacity`` slots. The ring also holds what the producer side checks per message — the parked
consumer's future and the deque of senders waiting for space — so the router's enqueue reads C
fields instead of Python attributes. Nothing here runs Python code while indices are being
updated (only ``None`` is ever released mid-operation, and a wake-up runs after the item is
stored), so no re-entrant call can observe a half-updated ring. No policy: blocking senders is
the actor layer's job.
"""

cimport cython
from collections import deque

from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF, Py_DECREF

cdef extern from "Python.h":
    PyObject *PyList_New(Py_ssize_t size) except NULL
    PyObject *PyList_GET_ITEM(object lst, Py_ssize_t i)
    void PyList_SET_ITEM(object lst, Py_ssize_t i, PyObject *item)
    Py_ssize_t Py_SIZE(object o)

# A ring holds at most this many slots (8 bytes each, so 512 MiB of pointers): far above any sane
# mailbox, low enough that an accidental huge capacity fails fast instead of exhausting memory.
DEF _MAX_CAPACITY = 1 << 26
# Slots a ring starts with (and shrinks back to): enough for a typical batch without growing.
DEF _MIN_SLOTS = 8
# Rings up to this many slots are never trimmed (a ring that keeps a few dozen messages queued
# does not reallocate at every park); larger ones shrink once at most a quarter full.
DEF _SHRINK_ABOVE = 64

MAX_CAPACITY = _MAX_CAPACITY
MIN_SLOTS = _MIN_SLOTS

# push() results: small ints so the fast path is one C call and one truth test in the caller.
DEF _OK = 0
DEF _FULL = 1
DEF _CLOSED = 2
# offer() only: senders are already waiting for space, so this item must queue behind them.
DEF _BEHIND = 3
PUSH_OK = _OK
PUSH_FULL = _FULL
PUSH_CLOSED = _CLOSED
PUSH_BEHIND = _BEHIND


cdef inline list _nones(Py_ssize_t n):
    return [None] * n


@cython.final
cdef class Ring:
    """FIFO bounded by ``capacity``; its slots grow and shrink with what is queued.

    ``close`` makes it refuse new items. Counters ``pushed``/``popped`` are totals since
    creation (cheap per-actor statistics). ``consumer`` is the future of a parked consumer
    (``offer`` resolves it); ``senders`` the FIFO of futures of senders waiting for space
    (None until one has to wait, see ``waiting_queue``).
    """

    def __cinit__(self, capacity):
        if not isinstance(capacity, int) or isinstance(capacity, bool):
            raise TypeError(f"capacity must be an int, not {type(capacity).__name__}")
        if capacity < 1 or capacity > _MAX_CAPACITY:
            raise ValueError(
                f"capacity must be between 1 and {_MAX_CAPACITY}, got {capacity}; "
                "pick a bound that fits the memory you can spend on queued messages")
        self._capacity = capacity
        self._size = min(self._capacity, _MIN_SLOTS)
        self._slots = _nones(self._size)
        self._head = 0
        self._count = 0
        self._closed = 0
        self.pushed = 0
        self.popped = 0
        # Made by the first sender that has to wait (``waiting_queue``): most mailboxes never
        # have one, and a deque is one more object (and a 64-slot block) per actor.
        self.senders = None
        self.consumer = None

    @property
    def capacity(self):
        return self._capacity

    @property
    def slots(self):
        """Slots allocated now (grows with the queue, never above ``capacity``)."""
        return self._size

    @property
    def free(self):
        """Items ``push`` accepts before it reports full."""
        return self._capacity - self._count

    @property
    def closed(self):
        return bool(self._closed)

    def __len__(self):
        return self._count

    def __repr__(self):
        state = "closed" if self._closed else "open"
        return f"<Ring {self._count}/{self._capacity} ({self._size} slots) {state}>"

    cdef int _resize(self, Py_ssize_t size) except -1:
        """Move the queue into ``size`` fresh slots (>= _count), unwrapped to start at index 0."""
        cdef Py_ssize_t i, j
        cdef list slots
        cdef PyObject *item
        slots = _nones(size)
        j = self._head
        for i in range(self._count):
            # Move the reference: the new slot's None and the old slot's item trade places.
            item = PyList_GET_ITEM(self._slots, j)
            PyList_SET_ITEM(self._slots, j, PyList_GET_ITEM(slots, i))
            PyList_SET_ITEM(slots, i, item)
            j += 1
            if j == self._size:
                j = 0
        self._slots = slots  # the old list holds only None now
        self._size = size
        self._head = 0
        return 0

    cdef int _grow(self) except -1:
        """Double the slots, never past the capacity (the bound stays the configured one)."""
        return self._resize(min(self._size * 2, self._capacity))

    def trim(self):
        """Give slots back: a ring at most a quarter full keeps twice what it holds (at least
        a few slots). The mailbox calls it when its consumer parks (the actor is idle), never
        while a backlog is being drained, so a busy actor does not reallocate per batch and an
        idle one holds memory for what is queued. Rings of up to a few dozen slots stay as
        they are. Moves at most a quarter of the slots."""
        if self._size > _SHRINK_ABOVE and self._count * 4 <= self._size:
            self._resize(min(max(self._count * 2, _MIN_SLOTS), self._capacity))

    cdef int _put(self, object item) except -1:
        # push() as an inline body, shared by push() and offer().
        cdef Py_ssize_t tail
        cdef PyObject *old
        if self._closed:
            return _CLOSED
        if self._count == self._size:
            if self._size == self._capacity:
                return _FULL
            self._grow()
        tail = self._head + self._count
        if tail >= self._size:
            tail -= self._size
        # The slot holds None (every vacated slot is reset to None); swap in the item.
        old = PyList_GET_ITEM(self._slots, tail)
        Py_INCREF(item)
        PyList_SET_ITEM(self._slots, tail, <PyObject *>item)
        self._count += 1
        self.pushed += 1
        Py_DECREF(<object>old)
        return _OK

    cpdef int push(self, object item) except -1:
        """Append ``item``: PUSH_OK, or PUSH_FULL / PUSH_CLOSED (the item is not taken)."""
        return self._put(item)

    cpdef int offer(self, object item) except -1:
        """``Mailbox.try_put``'s fast path: push unless senders are waiting (PUSH_BEHIND), then
        wake the parked consumer, if any. A result other than PUSH_OK means the item was not
        taken; the mailbox decides what that means (MailboxFull, dead letter, ...)."""
        cdef int result
        if self.senders is not None and Py_SIZE(self.senders):  # len() of the deque
            return _BEHIND
        result = self._put(item)
        if result == _OK and self.consumer is not None:
            self._wake()
        return result

    def waiting_queue(self):
        """The FIFO of senders waiting for space (``senders``), made on first use. Exactly a
        deque: ``offer`` reads its length as ``Py_SIZE`` (no subclass, no ``__len__`` call)."""
        if self.senders is None:
            self.senders = deque()
        return self.senders

    cdef int _wake(self) except -1:
        cdef object consumer = self.consumer
        self.consumer = None
        if not consumer.done():
            consumer.set_result(None)
        return 0

    def wake(self):
        """Resolve the parked consumer's future, if any (a message, a close or a poke)."""
        if self.consumer is not None:
            self._wake()

    cdef object _take(self):
        """Move the head item out and return it. Requires _count > 0."""
        cdef PyObject *item = PyList_GET_ITEM(self._slots, self._head)
        cdef object result = <object>item   # takes a reference...
        Py_DECREF(result)                   # ...and drops the slot's (result now owns it)
        Py_INCREF(None)
        PyList_SET_ITEM(self._slots, self._head, <PyObject *>None)
        self._head += 1
        if self._head == self._size:
            self._head = 0
        self._count -= 1
        self.popped += 1
        return result

    def pop(self):
        """Remove and return the oldest item; IndexError when empty."""
        if self._count == 0:
            raise IndexError("pop from an empty Ring; check len() first or use drain()")
        return self._take()

    def drain(self, Py_ssize_t max_items=-1):
        """Remove up to ``max_items`` oldest items (all when negative) and return them as a list."""
        cdef Py_ssize_t n = self._count
        cdef Py_ssize_t i
        cdef PyObject *item
        if max_items >= 0 and max_items < n:
            n = max_items
        cdef PyObject *raw = PyList_New(n)
        cdef list out = <list>raw
        Py_DECREF(out)  # the cast added a reference; PyList_New's own is now owned by `out`
        for i in range(n):
            # Move the slot's reference into the list; the slot gets a fresh None.
            item = PyList_GET_ITEM(self._slots, self._head)
            Py_INCREF(None)
            PyList_SET_ITEM(self._slots, self._head, <PyObject *>None)
            PyList_SET_ITEM(out, i, item)
            self._head += 1
            if self._head == self._size:
                self._head = 0
        self._count -= n
        self.popped += n
        return out

    def close(self):
        """Refuse further pushes; queued items stay and can still be drained."""
        self._closed = 1


def call_each(handler, list batch, failure, Py_ssize_t start=0):
    """Call ``handler(message)`` for each message of ``batch[start:]`` in order.

    If a call raises ``Exception`` ``exc`` at position ``i``, raises ``failure(i, exc)`` chained
    from it, so the caller knows exactly which messages were handled. A handler that returns
    something other than None has *suspended* on that message (a guest call that could not
    finish at once): the loop stops and returns ``(i, returned)``; the caller resumes at
    ``i + 1`` once it is done. Returns None when every message was handled. The length is
    re-read every step, so a handler that mutates the list cannot make this read out of bounds.
    """
    if batch is None:
        raise TypeError("batch must be a list, not None")
    cdef Py_ssize_t i = start if start > 0 else 0
    try:
        while i < len(batch):
            out = handler(batch[i])
            if out is not None:
                return (i, out)
            i += 1
    except Exception as exc:
        raise failure(i, exc) from exc
    return None
