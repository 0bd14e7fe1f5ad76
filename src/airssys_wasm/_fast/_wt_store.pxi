# One _StoreRef per wasmtime.Store: its raw context, its id, and who is running wasm in it.
#
# Wasmtime aborts the process when a handle meets a Store it does not belong to, and a Store must
# never run on two threads at once; both are refused here with a Python error. Releasing the GIL
# during wasm makes the second case reachable from plain threaded Python code.

import weakref as _weakref

cdef object _STORE_REFS = _weakref.WeakKeyDictionary()
cdef str _CTX_ATTR = _handles.STORE_CONTEXT_ATTR


@cython.final
cdef class _StoreRef:
    cdef object token                 # the ctypes context pointer; identity = "store still open"
    cdef wasmtime_context_t *ctx
    cdef uint64_t store_id
    cdef unsigned long owner          # thread currently inside wasm of this store (0: none)
    cdef int depth                    # nesting (host function calling back into the store)

    cdef inline int enter(self, object store) except -1:
        cdef unsigned long tid = PyThread_get_thread_ident()
        if getattr(store, _CTX_ATTR) is not self.token:
            raise ValueError("the wasmtime.Store was closed; create a new Store and instance")
        if self.depth and self.owner != tid:
            raise RuntimeError(
                "this wasmtime.Store is already running wasm on another thread; a Store must be "
                "used by one thread at a time (give each actor its own Store)")
        self.owner = tid
        self.depth += 1
        return 0

    cdef inline void leave(self) noexcept:
        self.depth -= 1
        if self.depth <= 0:
            self.depth = 0
            self.owner = 0


cdef _StoreRef _store_ref(object store):
    if not isinstance(store, wasmtime.Store):
        raise TypeError(f"store must be a wasmtime.Store, not {type(store).__name__}")
    ref = _STORE_REFS.get(store)
    if ref is not None:
        return <_StoreRef>ref
    cdef _StoreRef r = _StoreRef.__new__(_StoreRef)
    address, r.token = _handles.store_context(store)
    r.ctx = <wasmtime_context_t *><size_t>address
    r.store_id = _handles.store_id(store)
    _STORE_REFS[store] = r
    return r


cdef int _check_owner(_StoreRef ref, uint64_t handle_store_id, str what) except -1:
    if handle_store_id != ref.store_id:
        raise ValueError(f"{what} belongs to a different wasmtime.Store than the one given; "
                         "pass the Store the instance was created in")
    return 0
