# One _StoreRef per wasmtime.Store: its raw context, its id, who is running wasm in it, and the
# per-call limits and host-function data the runtime attaches to it.
#
# Wasmtime aborts the process when a handle meets a Store it does not belong to, and a Store must
# never run on two threads at once; both are refused here with a Python error. Releasing the GIL
# during wasm makes the second case reachable from plain threaded Python code.
#
# Arming (fuel refill, epoch deadline) happens in C on the outermost entry of every call, so the
# runtime's per-call limits cost two C calls instead of two ctypes round trips. The store being
# run is also this thread's "current store", which is how a host trampoline finds the data of the
# instance that called it without any Python bookkeeping around the call.

import weakref as _weakref
from posix.time cimport clock_gettime, timespec, CLOCK_MONOTONIC

cdef extern from *:
    """
    /* The _StoreRef whose wasm this thread is running (borrowed; NULL outside calls). */
    static __thread PyObject *aw_wt_current_store = NULL;
    """
    PyObject *aw_wt_current_store

cdef object _STORE_REFS = _weakref.WeakKeyDictionary()
cdef str _CTX_ATTR = _handles.STORE_CONTEXT_ATTR


cdef inline double _monotonic() noexcept nogil:
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)       # the clock behind time.monotonic() on Linux
    return <double>ts.tv_sec + <double>ts.tv_nsec * 1e-9


@cython.final
cdef class _StoreRef:
    cdef object token                 # the ctypes context pointer; identity = "store still open"
    cdef wasmtime_context_t *ctx
    cdef wasmtime_store_t *store_ptr  # for the limiter; valid while the token is
    cdef uint64_t store_id
    cdef unsigned long owner          # thread currently inside wasm of this store (0: none)
    cdef int depth                    # >0 while this thread is inside the store (a poll, a copy)
    cdef PyObject *previous           # the thread's current store before the outermost entry
    cdef object data                  # passed to host functions defined with with_data=True
    cdef object call_gate             # data.call_gate when configured (None: no gated checks)
    cdef bint arm_fuel
    cdef uint64_t fuel
    cdef bint arm_epoch
    cdef uint64_t epoch_ticks         # per call: trap deadline, or slice length with yields
    cdef bint yields                  # epoch deadlines yield (time slices) instead of trapping
    cdef double timeout               # seconds, 0: none
    cdef Py_ssize_t max_list          # longest bounded list<u8> a host function takes (-1 none)
    cdef double deadline              # monotonic deadline of the running call, 0: none
    # The call in flight (one per Store: wasmtime's rule): ``in_call`` from its start to the
    # deletion of its future; ``wait`` is what an async host function of it is waiting for
    # (None while it computes or is runnable).
    cdef bint in_call
    cdef bint suspendable             # the call in flight is driven by an async driver
    cdef HostWait wait
    # Host resources the guests of this Store hold (see _wt_resource.pxi): rep -> (object,
    # HostResource); id(object) -> number of live handles; the next rep to hand out.
    cdef dict resources
    cdef dict resource_counts
    cdef uint32_t next_rep
    # A Store made in C (NativeStore, see below): this object *is* the Store, passed wherever a
    # wasmtime.Store is accepted; it owns ``store_ptr`` (deleted by close() or at dealloc) and
    # keeps its Engine alive. ``view`` is its wasmtime.Store view (handles.BorrowedStore), made
    # on demand for wasmtime-py APIs; ``token`` is then the view's context pointer.
    cdef bint native
    cdef object engine
    cdef object view

    cdef inline bint _is_open(self, object store) noexcept:
        """Whether ``store`` (this NativeStore, its view, or the wasmtime.Store this ref
        belongs to) is still open: for a wasmtime.Store, its context attribute is the token."""
        if store is self:
            return self.store_ptr != NULL
        return self.token is not None and getattr(store, _CTX_ATTR, None) is self.token

    cdef inline int _check_open(self, object store) except -1:
        if not self._is_open(store):
            raise ValueError("the wasmtime.Store was closed; create a new Store and instance")
        return 0

    cdef inline int begin(self, object store, bint suspendable) except -1:
        """Start a new call: refuse a second one, arm fuel and the epoch deadline, enter."""
        cdef wasmtime_error_t *err
        self._check_open(store)
        if self.in_call:
            if self.depth and self.owner == PyThread_get_thread_ident():
                raise RuntimeError(
                    "a host function called back into its own Store; wasmtime allows one call "
                    "per Store at a time (use another Store for nested guest work)")
            raise RuntimeError(
                "this wasmtime.Store already has a guest call in flight (running on another "
                "thread, or suspended); finish or cancel it first (one call per Store at a time)")
        if self.depth:
            self._refuse_other_thread()
        if self.arm_fuel:
            err = api.wasmtime_context_set_fuel(self.ctx, self.fuel)
            if err != NULL:
                raise _trap_error(err, NULL, "setting the call's fuel")
        if self.arm_epoch:
            api.wasmtime_context_set_epoch_deadline(self.ctx, self.epoch_ticks)
        self.deadline = _monotonic() + self.timeout if self.timeout > 0 else 0.0
        self.suspendable = suspendable
        self.in_call = 1
        self._enter()
        return 0

    cdef inline int enter(self, object store) except -1:
        """Enter without starting a call (resuming one, or touching guest memory)."""
        self._check_open(store)
        if self.depth:
            self._refuse_other_thread()
            self.depth += 1
            return 0
        self._enter()
        return 0

    cdef int _refuse_other_thread(self) except -1:
        if self.owner != PyThread_get_thread_ident():
            raise RuntimeError(
                "this wasmtime.Store is already running wasm on another thread; a Store must be "
                "used by one thread at a time (give each actor its own Store)")
        return 0

    cdef inline void _enter(self) noexcept:
        global aw_wt_current_store
        self.owner = PyThread_get_thread_ident()
        self.depth = 1
        self.previous = aw_wt_current_store
        aw_wt_current_store = <PyObject *>self

    cdef inline void leave(self) noexcept:
        global aw_wt_current_store
        self.depth -= 1
        if self.depth <= 0:
            self.depth = 0
            self.owner = 0
            aw_wt_current_store = self.previous
            self.previous = NULL

    cdef inline void end_call(self) noexcept:
        """The call's future was deleted: the Store may take the next call."""
        self.in_call = 0
        self.wait = None

    # -- a NativeStore (made by StoreMaker.new) ------------------------------------------------

    def close(self):
        """Delete the Store (idempotent); its view, if one was made, is detached first."""
        cdef wasmtime_store_t *ptr = self.store_ptr
        if not self.native or ptr == NULL:
            return None
        if self.depth:
            raise RuntimeError("cannot close a Store from inside a guest call into it (a host "
                               "function of its own guest); close it after the call returns")
        _forget_last_store(self)
        view, self.view = self.view, None
        self.token = None
        if view is not None:
            view.close()                   # BorrowedStore: forgets the pointers, deletes nothing
        self.store_ptr = NULL
        self.ctx = NULL
        self.engine = None
        api.wasmtime_store_delete(ptr)
        return None

    @property
    def closed(self):
        """True once close() deleted the Store."""
        return self.store_ptr == NULL

    def wasmtime_store(self):
        """The ``wasmtime.Store`` view of this NativeStore (made once, kept until close), for
        wasmtime-py APIs; closing the view does not delete the Store."""
        if not self.native:
            raise TypeError("not a NativeStore")
        if self.store_ptr == NULL:
            raise ValueError("the Store is closed; create a new Store and instance")
        if self.view is None:
            self.view, self.token = _handles.borrowed_store(
                self, self.engine, <size_t>self.store_ptr, <size_t>self.ctx)
        return self.view

    def __dealloc__(self):
        # Dropped without close(): nothing can use it any more (a view, a func or a call would
        # hold a reference), so the Store goes with it.
        if self.native and self.store_ptr != NULL:
            api.wasmtime_store_delete(self.store_ptr)
            self.store_ptr = NULL
            self.ctx = NULL

    def __repr__(self):
        return f"<NativeStore {'closed' if self.store_ptr == NULL else 'open'}>" if self.native \
            else "<_StoreRef>"


# The last Store looked up (a restart looks its new Store up 4 times); dropped when its
# resources are released at close, and never trusted beyond identity (the token still guards).
# "None yet" is a private sentinel, not None: ``_store_ref(None)`` must reach the type check,
# not return the empty ``_last_ref`` (a NULL dereference at the caller).
cdef object _NO_STORE = object()
cdef object _last_store = _NO_STORE
cdef _StoreRef _last_ref = None


cdef void *_ctypes_pointer_value(object ptr) except NULL:
    """The address held by a ctypes pointer object, read through the buffer protocol (a
    ctypes pointer exposes its 8-byte value as its buffer)."""
    cdef Py_buffer view
    cdef void *value = NULL
    PyObject_GetBuffer(ptr, &view, PyBUF_SIMPLE)
    try:
        if view.len != sizeof(void *):
            raise AbiMismatchError(f"a ctypes pointer exposes {view.len} bytes, expected "
                                   f"{sizeof(void *)}")
        memcpy(&value, view.buf, sizeof(void *))
    finally:
        PyBuffer_Release(&view)
    if value == NULL:
        raise ValueError("the store has no context (is it closed?)")
    return value


cdef _StoreRef _store_ref(object store):
    global _last_store, _last_ref
    if type(store) is _StoreRef:          # a NativeStore is its own ref
        return <_StoreRef>store
    if store is _last_store:
        return _last_ref
    if type(store) is _BORROWED:          # the view of a NativeStore: its owner
        return <_StoreRef>store.owner
    if not isinstance(store, wasmtime.Store):
        raise TypeError(f"store must be a wasmtime.Store, not {type(store).__name__}")
    ref = _STORE_REFS.get(store)
    if ref is not None:
        _last_store, _last_ref = store, <_StoreRef>ref
        return <_StoreRef>ref
    cdef _StoreRef r = _StoreRef.__new__(_StoreRef)
    r.max_list = -1
    r.next_rep = 1
    store_ptr, r.token = _handles.store_pointers(store)
    r.store_ptr = <wasmtime_store_t *>_ctypes_pointer_value(store_ptr)
    r.ctx = <wasmtime_context_t *>_ctypes_pointer_value(r.token)
    # The id is learnt lazily: from the first instance made here through the C API (free), or
    # by the probe when a handle must be checked before that (_check_owner).
    r.store_id = 0
    _STORE_REFS[store] = r
    _last_store, _last_ref = store, r
    return r


cdef object _BORROWED = _handles.BorrowedStore
_handles.check_store_internals()


cdef object _py_store(object store):
    """A ``wasmtime.Store`` for wasmtime-py APIs: a NativeStore's view, else ``store``."""
    if type(store) is _StoreRef:
        return (<_StoreRef>store).wasmtime_store()
    return store


cdef void _forget_last_store(object store) noexcept:
    global _last_store, _last_ref
    if store is _last_store:
        _last_store = _NO_STORE
        _last_ref = None


# The type of the store-id probe: an immutable i32 global (made once, never freed).
cdef wasm_globaltype_t *_PROBE_TYPE = NULL


cdef uint64_t _probe_store_id(wasmtime_context_t *ctx) except? 0:
    """The id wasmtime stamps into every handle of the Store behind ``ctx``.

    Wasmtime *aborts the process* when a handle meets a Store it does not belong to, so the fast
    path compares ids up front. The C API has no getter: the id is read from a throwaway
    immutable i32 global made in the Store (it lives as long as the Store, 24 bytes; wasmtime
    backs host globals with an internal instance: ~8 us with the on-demand allocator). Only
    Stores that meet a handle before any C-API instantiation pay it (see _learn_store_id).
    """
    global _PROBE_TYPE
    cdef wasmtime_val_t val
    cdef wasmtime_global_t g
    cdef wasmtime_error_t *err
    cdef wasm_valtype_t *vt
    if _PROBE_TYPE == NULL:
        vt = api.wasm_valtype_new(_CORE_I32)
        if vt == NULL:
            raise MemoryError()
        _PROBE_TYPE = api.wasm_globaltype_new(vt, 0)     # WASM_CONST; takes ownership of vt
        if _PROBE_TYPE == NULL:
            raise MemoryError()
    memset(&val, 0, sizeof(val))
    val.kind = _CORE_I32
    err = api.wasmtime_global_new(ctx, _PROBE_TYPE, &val, &g)
    if err != NULL:
        raise RuntimeError(f"cannot read the Store's id ({_consume_error(err)})")
    if g.store_id == 0:
        raise AbiMismatchError("wasmtime returned a global without a store id")
    return g.store_id


cdef int _learn_store_id(_StoreRef ref, uint64_t instance_store_id) except -1:
    """Record the Store's id from an instance just made in it through the C API (the handle
    wasmtime returned for *this* context carries it); checked against a known id."""
    if instance_store_id == 0:
        raise AbiMismatchError("wasmtime returned an instance without a store id")
    if ref.store_id == 0:
        ref.store_id = instance_store_id
    elif ref.store_id != instance_store_id:
        raise AbiMismatchError("wasmtime returned an instance of another Store")
    return 0


cdef int _check_owner(_StoreRef ref, uint64_t handle_store_id, str what) except -1:
    if ref.store_id == 0:          # nothing instantiated here through the C API yet
        ref.store_id = _probe_store_id(ref.ctx)
    if handle_store_id != ref.store_id:
        raise ValueError(f"{what} belongs to a different wasmtime.Store than the one given; "
                         "pass the Store the instance was created in")
    return 0


cdef _StoreRef _current_store():
    """The store this thread is running wasm in (through this module), or None."""
    if aw_wt_current_store == NULL:
        return None
    return <_StoreRef>aw_wt_current_store


def configure_store(store, *, data=None, fuel=None, epoch_ticks=None, slice_ticks=None,
                    timeout=None, max_list=None, limits=None):
    """Attach per-call limits and host-function data to ``store``, applied by every fast call.

    ``fuel``: refilled to this many units at the start of each call (needs an Engine with fuel
    metering). ``epoch_ticks``: each call traps when the engine's epoch has advanced this many
    ticks past its start. ``slice_ticks`` instead makes epoch deadlines *yield*: a guest that
    computes for that many ticks suspends (its call returns a :class:`GuestCall` to a
    suspendable caller) and resumes where it was on the next poll; the Store then only accepts
    calls through the async C API (which is the only path here). ``timeout``: seconds of wall
    clock per call, enforced by the drivers of suspended calls (:meth:`GuestCall.poll`) and
    reported by :func:`current_deadline` (host functions that wait must not outlive it).
    ``data`` is what host functions defined with ``with_data=True`` receive first.
    ``max_list``: the longest ``list<u8>`` the bounded parameter of a host function (see
    ``define_host_func(bounded=...)``) accepts from this Store's guests. None leaves a setting
    off. Fuel and the deadline are armed once per call, not per resume.
    ``limits``: ``(memory_size, table_elements, instances, tables, memories)`` for the Store's
    resource limiter (what ``wasmtime.Store.set_limits`` sets; None or -1 in a slot: no limit),
    applied in C -- a restart sets them on every new Store.
    """
    cdef int64_t lim[5]
    cdef int i
    cdef _StoreRef r = _store_ref(store)
    if fuel is not None and fuel < 0:
        raise ValueError(f"fuel must be >= 0, got {fuel}")
    if epoch_ticks is not None and epoch_ticks < 0:
        raise ValueError(f"epoch_ticks must be >= 0, got {epoch_ticks}")
    if slice_ticks is not None and slice_ticks < 1:
        raise ValueError(f"slice_ticks must be >= 1, got {slice_ticks}")
    if epoch_ticks is not None and slice_ticks is not None:
        raise ValueError("pass epoch_ticks (trap at a deadline) or slice_ticks (yield every "
                         "slice; the timeout bounds the call), not both")
    if timeout is not None and not timeout > 0:
        raise ValueError(f"timeout must be > 0 seconds (or None), got {timeout}")
    if max_list is not None and max_list < 0:
        raise ValueError(f"max_list must be >= 0 bytes (or None), got {max_list}")
    if limits is not None:
        if len(limits) != 5:
            raise ValueError("limits must be (memory_size, table_elements, instances, tables, "
                             f"memories), got {len(limits)} values")
        for i in range(5):
            v = limits[i]
            if v is None:
                lim[i] = -1
            elif not PyLong_Check(v) or PyBool_Check(v) or v < -1 or v > INT64_MAX:
                raise ValueError(f"limit {i} must be an int >= -1 (or None), got {v!r}")
            else:
                lim[i] = <int64_t>v
    cdef wasmtime_error_t *err
    r._check_open(store)
    if r.in_call:
        raise RuntimeError("cannot reconfigure a Store while a guest call is in flight")
    if limits is not None:
        api.wasmtime_store_limiter(r.store_ptr, lim[0], lim[1], lim[2], lim[3], lim[4])
    if fuel is not None:  # refuse here, not at every later call, when metering is off
        err = api.wasmtime_context_set_fuel(r.ctx, <uint64_t>fuel)
        if err != NULL:
            raise ValueError(f"cannot give this Store fuel ({_consume_error(err)}); create its "
                             "Engine with Config.consume_fuel = True, or pass fuel=None")
    if slice_ticks is not None:
        api.wasmtime_context_epoch_deadline_async_yield_and_update(r.ctx, <uint64_t>slice_ticks)
    r.yields = slice_ticks is not None
    r.data = data
    r.call_gate = getattr(data, "call_gate", None) if data is not None else None
    r.arm_fuel = fuel is not None
    r.fuel = 0 if fuel is None else <uint64_t>fuel
    r.arm_epoch = epoch_ticks is not None or slice_ticks is not None
    r.epoch_ticks = <uint64_t>(slice_ticks if slice_ticks is not None else (epoch_ticks or 0))
    r.timeout = 0.0 if timeout is None else <double>timeout
    r.max_list = -1 if max_list is None else <Py_ssize_t>max_list
    return None


def current_deadline():
    """``time.monotonic()`` deadline of the call this thread is running, or None (no timeout
    configured, or no fast call in progress)."""
    cdef _StoreRef r = _current_store()
    if r is None or r.deadline == 0.0:
        return None
    return r.deadline


def current_data():
    """The ``data`` (``configure_store(data=...)``) of the Store whose guest is calling the
    running host function on this thread, or None outside a fast call. Lets a host function
    registered without ``with_data`` still ask who called it, at no cost to calls that don't."""
    cdef _StoreRef r = _current_store()
    return None if r is None else r.data


def call_suspendable():
    """Whether the guest call this thread is running may suspend: its driver is asynchronous
    (it started the call with ``.start()`` and will poll it again), so an async host function
    may hand back a :class:`HostWait` that the event loop completes. False for synchronous
    callers (``f(*args)``) and outside calls: a host function then does its work inline."""
    cdef _StoreRef r = _current_store()
    return r is not None and r.suspendable


# ---------------------------------------------------------------------------------------------
# Stores made in C: the restart path. wasmtime-py's Store costs a ctypes call for each of
# new/context/delete, two ctypes pointer objects and its Managed bookkeeping, a large share of a
# restart; here they are three C calls, and the wasmtime-py view is only made when asked for.

NativeStore = _StoreRef


@cython.final
cdef class StoreMaker:
    """Makes :class:`NativeStore` objects of one ``wasmtime.Engine`` in C (one per engine;
    the engine's address is resolved once, its liveness checked on every ``new()``)."""

    cdef object engine
    cdef object token
    cdef wasm_engine_t *engine_ptr

    def __cinit__(self, engine):
        address, self.token = _handles.engine_pointer(engine)
        self.engine_ptr = <wasm_engine_t *><size_t>address
        self.engine = engine

    def new(self):
        """A new Store of the engine: a NativeStore (close() deletes it)."""
        cdef wasmtime_store_t *ptr
        cdef wasmtime_context_t *ctx
        cdef _StoreRef r
        if getattr(self.engine, _handles.ENGINE_PTR_ATTR, None) is not self.token:
            raise ValueError("the wasmtime.Engine is closed; Stores cannot be made from it")
        ptr = api.wasmtime_store_new(self.engine_ptr, NULL, NULL)
        if ptr == NULL:
            raise MemoryError("wasmtime_store_new returned no Store")
        ctx = api.wasmtime_store_context(ptr)
        if ctx == NULL:
            api.wasmtime_store_delete(ptr)
            raise AbiMismatchError("wasmtime_store_context returned NULL")
        r = _StoreRef.__new__(_StoreRef)
        r.native = 1
        r.store_ptr = ptr
        r.ctx = ctx
        r.engine = self.engine
        r.max_list = -1
        r.next_rep = 1
        return r
