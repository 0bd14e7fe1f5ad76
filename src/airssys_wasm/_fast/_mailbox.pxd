# Declarations of the mailbox ring, so the router (``_router.pyx``) enqueues with C calls.

cimport cython

# final: the router's calls into the ring are direct C calls (no vtable, no override check).
@cython.final
cdef class Ring:
    cdef list _slots
    cdef Py_ssize_t _size
    cdef Py_ssize_t _capacity
    cdef Py_ssize_t _head
    cdef Py_ssize_t _count
    cdef bint _closed
    cdef readonly unsigned long long pushed
    cdef readonly unsigned long long popped
    cdef readonly object senders
    cdef public object consumer

    cdef int _resize(self, Py_ssize_t size) except -1
    cdef int _grow(self) except -1
    cdef int _put(self, object item) except -1
    cdef int _wake(self) except -1
    cpdef int push(self, object item) except -1
    cpdef int offer(self, object item) except -1
    cdef object _take(self)
