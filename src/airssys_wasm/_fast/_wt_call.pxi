# Component export calls: lower args by plan, wasmtime_component_func_call_async + poll without
# the GIL, lift (inline when the first poll finishes the call, later through a GuestCall).

cdef inline void _drop_vals(wasmtime_component_val_t *vals, Py_ssize_t n) noexcept:
    cdef Py_ssize_t i
    for i in range(n):
        if vals[i].kind > WT_CHAR:          # scalars own no heap memory
            api.wasmtime_component_val_delete(&vals[i])


cdef extern from "Python.h":
    int PyDict_Next(object d, Py_ssize_t *pos, PyObject **key, PyObject **value)


cdef inline bint _same_items(object a, object b) noexcept:
    """True when dicts ``a`` and ``b`` hold the very same key and value objects in the same
    order (then they are equal, with no comparison run); False means "compare them"."""
    cdef Py_ssize_t pa = 0, pb = 0
    cdef PyObject *ka
    cdef PyObject *va
    cdef PyObject *kb
    cdef PyObject *vb
    if PyDict_Size(a) != PyDict_Size(b):
        return 0
    while PyDict_Next(b, &pb, &kb, &vb):
        if not PyDict_Next(a, &pa, &ka, &va) or ka != kb or va != vb:
            return 0
    return 1


cdef enum:
    _BYTES_REUSE = 64      # longest list<u8> argument whose value array is kept (32 B/element)


cdef inline bint _refill_bytes(wasmtime_component_val_t *slot, object arg) noexcept:
    """Write ``arg`` into the kept ``list<u8>`` array ``slot`` if it is bytes of exactly that
    length (every element is already a u8 value); False leaves both untouched."""
    cdef Py_ssize_t i, n
    cdef const uint8_t *src
    cdef wasmtime_component_val_t *items
    if slot.kind != WT_LIST or not PyBytes_CheckExact(arg):
        return 0
    n = PyBytes_GET_SIZE(arg)
    if <size_t>n != slot.of.list.size:
        return 0
    src = <const uint8_t *>PyBytes_AS_STRING(arg)
    items = slot.of.list.data
    for i in range(n):
        items[i].of.u8 = src[i]
    return 1


@cython.final
@cython.no_gc_clear   # __dealloc__ reads the plan to free the reuse slots
cdef class ComponentFunc(_CallState):
    """A component export callable through the C API; its types are compiled once, here.

    ``ComponentFunc(store, func, name, plan=None)`` wraps a ``wasmtime.component.Func`` of an
    instance living in ``store``; ``ComponentFunc.from_export(store, instance, "name")`` looks it up first.
    ``f(*args)`` converts arguments with the plan, runs the guest to the end and returns the
    converted result (None for functions without one); ``f.start(*args)`` does the same but
    returns a :class:`GuestCall` when the guest suspends (an async host function, an exhausted
    time slice), for an asynchronous driver. Wrong arity or argument types raise
    TypeError/ValueError naming the parameter; a trap raises TrapError.
    """

    cdef wasmtime_component_func_t func
    cdef object store
    cdef _StoreRef ref
    cdef readonly FuncPlan plan
    # The in-flight call's buffers (one call per Store at a time): they must outlive the future.
    cdef wasmtime_component_val_t *vals
    cdef Py_ssize_t nvals
    cdef wasmtime_component_val_t res
    cdef size_t nres
    cdef uint64_t borrowed                      # argument slots lent from the reuse slots
    # Reuse of lowered arguments. Wasmtime only reads (clones) call arguments, so the lowered
    # form of a string-only record (a sender's component-id) can be kept and passed again while
    # the caller keeps sending an equal dict — which actors do for every message of a sender.
    # A ``list<u8>`` argument's value array is kept as well (up to _BYTES_REUSE elements): the
    # next call with a frame of the same length writes its bytes into it, with no allocation
    # and no per-element drop (a message stream has the same few sizes over and over).
    cdef wasmtime_component_val_t *reuse_vals   # per parameter, owned here
    # Per parameter: dict snapshot or None; the list itself is made by the first call that
    # keeps an argument (an actor that never got a message holds no list for the GC to walk).
    cdef list reuse_keys
    cdef uint64_t reusable_mask                 # parameters (index < 64) eligible for reuse
    cdef uint64_t bytes_mask                    # those of them that are list<u8>

    def __cinit__(self, store, func, str name="<func>", FuncPlan plan=None):
        cdef bytes raw
        if func is _RAW_FUNC:
            # _component_func_from_raw: the handle comes straight from the C API and the caller
            # fills ``self.func`` (checked against the Store there); the plan is given.
            if plan is None:
                raise ValueError("a ComponentFunc from a raw handle needs its plan")
            self.ref = _store_ref(store)
        else:
            raw = _handles.component_func_bytes(func)
            if len(raw) != sizeof(wasmtime_component_func_t):
                raise AbiMismatchError(f"component func handle is {len(raw)} bytes")
            self.ref = _store_ref(store)
            memcpy(&self.func, PyBytes_AS_STRING(raw), sizeof(wasmtime_component_func_t))
            _check_owner(self.ref, self.func.anon.store_id, f"component function {name!r}")
        self.store = store
        # A plan compiled for another instance of the same component can be passed in: the
        # type is the component's, so each new instance skips the (slow) type introspection.
        self.plan = FuncPlan.from_functype(name, func.type(_py_store(store))) if plan is None else plan
        self.where = f"component function '{name}'"
        self.nres = 0 if self.plan.result is None else 1
        self.res.kind = WT_BOOL
        self.res.of.boolean = 0
        self.vals = <wasmtime_component_val_t *>calloc(
            <size_t>(self.plan.nparams or 1), sizeof(wasmtime_component_val_t))
        if self.vals == NULL:
            raise MemoryError()
        for i in range(min(self.plan.nparams, 64)):
            if (<_Ty>self.plan.params[i]).reusable:
                self.reusable_mask |= (<uint64_t>1) << i
            elif (<_Ty>self.plan.params[i]).kind == K_BYTES:
                self.reusable_mask |= (<uint64_t>1) << i
                self.bytes_mask |= (<uint64_t>1) << i
        if self.reusable_mask:
            self.reuse_vals = <wasmtime_component_val_t *>calloc(
                <size_t>self.plan.nparams, sizeof(wasmtime_component_val_t))
            if self.reuse_vals == NULL:
                raise MemoryError()

    def __dealloc__(self):
        # A suspended call keeps this object alive (it is the call's state): no call is in
        # flight here, so the argument slots hold nothing but what _drop_args left.
        if self.reuse_vals != NULL:
            _drop_vals(self.reuse_vals, self.plan.nparams)
            free(self.reuse_vals)
            self.reuse_vals = NULL
        if self.vals != NULL:
            free(self.vals)
            self.vals = NULL

    @staticmethod
    def from_export(store, instance, str name, FuncPlan plan=None):
        """Resolve export ``name`` of a ``wasmtime.component.Instance`` and compile its plan
        (or reuse ``plan``, compiled for another instance of the same component)."""
        func = instance.get_func(_py_store(store), name)
        if func is None:
            raise LookupError(f"the component instance has no exported function {name!r}")
        return ComponentFunc(store, func, name, plan)

    def __call__(self, *args):
        return self._start(args, 0)

    def start(self, *args):
        """Like calling it, but a guest that suspends returns a :class:`GuestCall`."""
        return self._start(args, 1)

    def _sync_reference(self, *args):
        """The synchronous C API call (``wasmtime_component_func_call``) on the same lowering:
        not a call path (it cannot suspend, and Stores with time slices or async host functions
        refuse it), only the reference the benchmarks and differential tests compare with."""
        return self._start(args, 2)

    cdef object _start(self, tuple args, int mode):
        """mode 0: run to the end; 1: suspendable; 2: the synchronous reference."""
        cdef bint suspendable = mode == 1
        cdef FuncPlan plan = self.plan
        cdef Py_ssize_t n = PyTuple_GET_SIZE(args)
        cdef Py_ssize_t i
        cdef wasmtime_component_val_t *vals = self.vals
        cdef uint64_t borrowed = 0
        cdef uint64_t reusable = self.reusable_mask
        cdef wasmtime_call_future_t *fut
        if n != plan.nparams:
            raise TypeError(f"{plan.signature} takes {plan.nparams} argument(s), got {n}")
        # Begin (refuses a second call in this Store) before touching the buffers: they may
        # belong to a call that is still suspended or running on another thread.
        self.ref.begin(self.store, suspendable)
        for i in range(n):
            vals[i].kind = WT_BOOL
            vals[i].of.boolean = 0
        self.nvals = n
        self.borrowed = 0
        self.err = NULL
        try:
            for i in range(n):
                arg = <object>PyTuple_GET_ITEM(args, i)
                if reusable & ((<uint64_t>1) << i):
                    if self.bytes_mask & ((<uint64_t>1) << i):
                        if _refill_bytes(&self.reuse_vals[i], arg):
                            vals[i] = self.reuse_vals[i]    # borrowed: not dropped later
                            borrowed |= (<uint64_t>1) << i
                            continue
                    elif self.reuse_keys is not None:
                        key = <object>PyList_GET_ITEM(self.reuse_keys, i)
                        if key is not None and PyDict_CheckExact(arg) and (
                                _same_items(arg, key) or arg == key):
                            vals[i] = self.reuse_vals[i]    # borrowed: not dropped later
                            borrowed |= (<uint64_t>1) << i
                            continue
                try:
                    lower(<_Ty>PyList_GET_ITEM(plan.params, i), arg, &vals[i])
                except (TypeError, ValueError) as exc:
                    raise type(exc)(f"parameter '{plan.param_names[i]}' of {plan.signature}: {exc}") from None
            if reusable & ~borrowed:
                self._keep_for_reuse(args, vals, &borrowed)
        except BaseException:
            self.borrowed = borrowed
            self.ref.leave()
            self.ref.end_call()
            self._drop_args()
            raise
        self.borrowed = borrowed
        if mode == 2:
            with nogil:
                self.err = api.wasmtime_component_func_call(&self.func, self.ref.ctx, vals,
                                                            <size_t>n, &self.res, self.nres)
            self.ref.leave()
            self.ref.end_call()
            return self._complete()
        fut = api.wasmtime_component_func_call_async(&self.func, self.ref.ctx, vals, <size_t>n,
                                                      &self.res, self.nres, &self.err)
        return _drive_first(self.ref, self.store, self, fut, suspendable)

    cdef void _drop_args(self) noexcept:
        cdef Py_ssize_t i
        for i in range(self.nvals):
            if not (self.borrowed & ((<uint64_t>1) << i)):
                _drop_vals(&self.vals[i], 1)
            self.vals[i].kind = WT_BOOL
        self.nvals = 0
        self.borrowed = 0

    cdef object _complete(self):
        self._drop_args()
        if self.err != NULL:
            _drop_vals(&self.res, 1)
            self.res.kind = WT_BOOL
            self._raise_error()
        if self.nres == 0:
            return None
        try:
            return lift(self.plan.result, &self.res)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"result of {self.plan.signature}: {exc}") from None
        finally:
            _drop_vals(&self.res, 1)
            self.res.kind = WT_BOOL
            self.res.of.boolean = 0

    cdef void _abandon(self) noexcept:
        self._drop_args()
        _CallState._abandon(self)
        _drop_vals(&self.res, 1)
        self.res.kind = WT_BOOL
        self.res.of.boolean = 0

    cdef int _keep_for_reuse(self, tuple args, wasmtime_component_val_t *vals, uint64_t *borrowed) except -1:
        """Move freshly lowered reusable arguments into the reuse slots, then snapshot the dict.

        Each moved slot is marked borrowed before anything that can raise, so the caller never
        drops a value the reuse slot now owns; a failed snapshot just leaves the slot unkeyed.
        """
        cdef Py_ssize_t i
        cdef uint64_t bit
        if self.reuse_keys is None:
            self.reuse_keys = [None] * self.plan.nparams
        for i in range(min(self.plan.nparams, 64)):
            bit = (<uint64_t>1) << i
            if (self.reusable_mask & bit) and not (borrowed[0] & bit):
                if self.bytes_mask & bit:
                    if vals[i].kind != WT_LIST or vals[i].of.list.size == 0 \
                            or vals[i].of.list.size > _BYTES_REUSE:
                        continue                # not worth keeping: dropped after the call
                    _drop_vals(&self.reuse_vals[i], 1)
                    self.reuse_vals[i] = vals[i]
                    borrowed[0] |= bit
                    continue
                self.reuse_keys[i] = None
                _drop_vals(&self.reuse_vals[i], 1)
                self.reuse_vals[i] = vals[i]
                borrowed[0] |= bit
                self.reuse_keys[i] = PyDict_Copy(<object>PyTuple_GET_ITEM(args, i))
        return 0

    def __repr__(self):
        return f"<ComponentFunc {self.plan.signature}>"


@cython.final
cdef class FramePath:
    """``(sender, frame)`` envelopes into a component's ``handle-message`` export, in C.

    The actor runtime calls a plain handler once per message of a drained batch (from C,
    ``call_each``); a component actor's handler is this object while its instance lives, so a
    message costs the guest call and no Python frame. ``FramePath(func, convert, other,
    settle, failed, suspendable)``: ``func`` is the ``handle-message`` ComponentFunc,
    ``convert(sender)`` the sender's WIT record (raising for a bad sender; converted once per
    sender, as senders repeat). What is not the common case goes back to Python, never
    twice: ``other(envelope)`` gets every envelope that is not a ``(sender, frame)`` tuple,
    and every envelope once the path is closed (its instance's Store is gone);
    ``settle(envelope, out)`` a result other than ``("ok", _)`` (an error answer, or the
    GuestCall of a call that suspended); ``failed(envelope, exc)`` an exception the call
    raised (a trap). Each returns what the handler returns. ``suspendable``: start the call
    suspendable (``func.start``) rather than run it to the end (``func(...)``).
    """

    cdef ComponentFunc func
    cdef object convert
    cdef object other
    cdef object settle
    cdef object failed
    cdef bint suspendable
    cdef readonly bint closed
    cdef object sender          # the last sender and its record
    cdef object wit

    def __cinit__(self, ComponentFunc func not None, convert, other, settle, failed,
                  bint suspendable):
        for what, fn in (("convert", convert), ("other", other), ("settle", settle),
                         ("failed", failed)):
            if not callable(fn):
                raise TypeError(f"{what} must be callable, not {_tname(fn)}")
        self.func = func
        self.convert = convert
        self.other = other
        self.settle = settle
        self.failed = failed
        self.suspendable = suspendable

    def close(self):
        """Send every later envelope to ``other``: the instance's Store is gone."""
        self.closed = True
        self.func = None
        self.sender = self.wit = None

    def __call__(self, envelope):
        cdef object out
        # Held here: a host function the guest calls may close this path (its instance) while
        # the call runs.
        cdef ComponentFunc func = self.func
        if func is None or type(envelope) is not tuple or PyTuple_GET_SIZE(envelope) != 2:
            return self.other(envelope)
        sender = <object>PyTuple_GET_ITEM(envelope, 0)
        if sender is not self.sender:
            self.wit = self.convert(sender)
            self.sender = sender
        args = PyTuple_New(2)
        Py_INCREF(self.wit)
        PyTuple_SET_ITEM(args, 0, self.wit)
        frame = <object>PyTuple_GET_ITEM(envelope, 1)
        Py_INCREF(frame)
        PyTuple_SET_ITEM(args, 1, frame)
        try:
            out = func._start(args, 1 if self.suspendable else 0)
        except Exception as exc:
            return self.failed(envelope, exc)
        if type(out) is tuple and PyTuple_GET_SIZE(out) == 2 and (
                <object>PyTuple_GET_ITEM(out, 0) is _OK):
            return None
        return self.settle(envelope, out)

    def __repr__(self):
        return f"<FramePath {'closed' if self.closed else self.func.plan.signature}>"
