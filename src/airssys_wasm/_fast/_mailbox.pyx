# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, embedsignature=True
"""Bounded FIFO ring of Python objects: the mailbox hot path, in C.

An actor drains up to N messages per wake-up, so the per-message costs that matter are one
``push`` (a bounds check and a pointer store) and a share of one ``drain`` (references are moved
from the ring into a fresh list without refcount churn). The slots live in a Python list so the
cyclic GC sees every queued message. That list starts small and doubles (up to the capacity)
only when it is full: a host spawns thousands of actors whose mailboxes rarely hold more than a
batch, and a list of ``capacity`` slots made up front cost every one of them 8 KiB and every
full GC pass a walk over 1,024 empty slots per actor. Nothing here runs Python code while indices are being
updated (only ``None`` is ever released mid-operation), so no re-entrant call can observe a
half-updated ring. No asyncio and no policy: waking the consumer or a blocked sender is the
actor layer's job.
"""

from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF, Py_DECREF

cdef extern from "Python.h":
    PyObject *PyList_New(Py_ssize_t size) except NULL
    PyObject *PyList_GET_ITEM(object lst, Py_ssize_t i)
    void PyList_SET_ITEM(object lst, Py_ssize_t i, PyObject *item)

# A ring holds at most this many slots (8 bytes each, so 512 MiB of pointers): far above any sane
# mailbox, low enough that an accidental huge capacity fails fast instead of exhausting memory.
DEF _MAX_CAPACITY = 1 << 26
# Slots a ring starts with (fewer when its capacity is lower); it doubles from there when full.
DEF _INITIAL_SLOTS = 16

MAX_CAPACITY = _MAX_CAPACITY

# push() results: small ints so the fast path is one C call and one truth test in the caller.
PUSH_OK = 0
PUSH_FULL = 1
PUSH_CLOSED = 2


cdef class Ring:
    """Fixed-capacity FIFO. ``push`` never grows it; ``close`` makes it refuse new items.

    Counters ``pushed``/``popped`` are totals since creation (cheap per-actor statistics).
    """

    cdef list _slots
    cdef Py_ssize_t _capacity
    cdef Py_ssize_t _size  # len(_slots): grows towards _capacity, never shrinks
    cdef Py_ssize_t _head
    cdef Py_ssize_t _count
    cdef bint _closed
    cdef readonly unsigned long long pushed
    cdef readonly unsigned long long popped

    def __cinit__(self, capacity):
        if not isinstance(capacity, int) or isinstance(capacity, bool):
            raise TypeError(f"capacity must be an int, not {type(capacity).__name__}")
        if capacity < 1 or capacity > _MAX_CAPACITY:
            raise ValueError(
                f"capacity must be between 1 and {_MAX_CAPACITY}, got {capacity}; "
                "pick a bound that fits the memory you can spend on queued messages")
        self._capacity = capacity
        self._size = capacity if capacity < _INITIAL_SLOTS else _INITIAL_SLOTS
        self._slots = [None] * self._size
        self._head = 0
        self._count = 0
        self._closed = 0
        self.pushed = 0
        self.popped = 0

    @property
    def capacity(self):
        return self._capacity

    @property
    def free(self):
        """Slots left before ``push`` reports full."""
        return self._capacity - self._count

    @property
    def closed(self):
        return bool(self._closed)

    def __len__(self):
        return self._count

    def __repr__(self):
        state = "closed" if self._closed else "open"
        return f"<Ring {self._count}/{self._capacity} {state}>"

    cpdef int push(self, object item):
        """Append ``item``: PUSH_OK, or PUSH_FULL / PUSH_CLOSED (the item is not taken)."""
        cdef Py_ssize_t tail
        cdef PyObject *old
        if self._closed:
            return PUSH_CLOSED
        if self._count == self._size:
            if self._size == self._capacity:
                return PUSH_FULL
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
        return PUSH_OK

    cdef void _grow(self):
        """Double the slots (at most to the capacity), oldest item first at index 0. Only called
        when every slot is taken; runs no Python code, so the ring is never seen half-moved."""
        cdef Py_ssize_t size = self._size * 2
        cdef Py_ssize_t i, j
        if size > self._capacity:
            size = self._capacity
        cdef list slots = [None] * size
        cdef PyObject *item
        for i in range(self._count):
            j = self._head + i
            if j >= self._size:
                j -= self._size
            # Move the reference: the old list's slot gets None, the new slot the item.
            item = PyList_GET_ITEM(self._slots, j)
            Py_INCREF(None)
            PyList_SET_ITEM(self._slots, j, <PyObject *>None)
            Py_DECREF(<object>PyList_GET_ITEM(slots, i))  # the None placed by [None] * size
            PyList_SET_ITEM(slots, i, item)
        self._slots = slots
        self._size = size
        self._head = 0

    cdef inline PyObject *_take(self):
        """Move the head item out (new reference owned by the caller). Requires _count > 0."""
        cdef PyObject *item = PyList_GET_ITEM(self._slots, self._head)
        Py_INCREF(None)
        PyList_SET_ITEM(self._slots, self._head, <PyObject *>None)
        self._head += 1
        if self._head == self._size:
            self._head = 0
        self._count -= 1
        self.popped += 1
        return item

    def pop(self):
        """Remove and return the oldest item; IndexError when empty."""
        if self._count == 0:
            raise IndexError("pop from an empty Ring; check len() first or use drain()")
        cdef PyObject *item = self._take()
        cdef object result = <object>item
        Py_DECREF(result)  # <object> cast took its own reference; drop the one _take handed us
        return result

    def drain(self, Py_ssize_t max_items=-1):
        """Remove up to ``max_items`` oldest items (all when negative) and return them as a list."""
        cdef Py_ssize_t n = self._count
        cdef Py_ssize_t i
        if max_items >= 0 and max_items < n:
            n = max_items
        cdef PyObject *raw = PyList_New(n)
        cdef list out = <list>raw
        Py_DECREF(out)  # the cast added a reference; PyList_New's own is now owned by `out`
        for i in range(n):
            PyList_SET_ITEM(out, i, self._take())
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
