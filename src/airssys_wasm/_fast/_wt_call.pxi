# Component export calls: lower args by plan, wasmtime_component_func_call without the GIL, lift.

cdef enum:
    _STACK_ARGS = 8


cdef inline void _drop_vals(wasmtime_component_val_t *vals, Py_ssize_t n) noexcept:
    cdef Py_ssize_t i
    for i in range(n):
        if vals[i].kind > WT_CHAR:          # scalars own no heap memory
            api.wasmtime_component_val_delete(&vals[i])


@cython.final
cdef class ComponentFunc:
    """A component export callable through the C API; its types are compiled once, here.

    ``ComponentFunc(store, func, name, plan=None)`` wraps a ``wasmtime.component.Func`` of an
    instance living in ``store``; ``ComponentFunc.from_export(store, instance, "name")`` looks it up first.
    Calling it converts arguments with the plan, runs the guest with the GIL released and returns
    the converted result (None for functions without one). Wrong arity or argument types raise
    TypeError/ValueError naming the parameter; a trap raises TrapError.
    """

    cdef wasmtime_component_func_t func
    cdef object store
    cdef _StoreRef ref
    cdef readonly FuncPlan plan
    cdef str where
    # Reuse of lowered arguments. Wasmtime only reads (clones) call arguments, so the lowered
    # form of a string-only record (a sender's component-id) can be kept and passed again while
    # the caller keeps sending an equal dict — which actors do for every message of a sender.
    cdef wasmtime_component_val_t *reuse_vals   # per parameter, owned here
    cdef list reuse_keys                        # per parameter: dict snapshot or None
    cdef uint64_t reusable_mask                 # parameters (index < 64) eligible for reuse
    cdef int lowering                           # >0 while arguments are being lowered

    def __cinit__(self, store, func, str name="<func>", FuncPlan plan=None):
        cdef bytes raw = _handles.component_func_bytes(func)
        if len(raw) != sizeof(wasmtime_component_func_t):
            raise AbiMismatchError(f"component func handle is {len(raw)} bytes")
        self.ref = _store_ref(store)
        memcpy(&self.func, PyBytes_AS_STRING(raw), sizeof(wasmtime_component_func_t))
        _check_owner(self.ref, self.func.anon.store_id, f"component function {name!r}")
        self.store = store
        # A plan compiled for another instance of the same component can be passed in: the
        # type is the component's, so each new instance skips the (slow) type introspection.
        self.plan = FuncPlan.from_functype(name, func.type(store)) if plan is None else plan
        self.where = f"component function '{name}'"
        self.reuse_keys = [None] * self.plan.nparams
        for i in range(min(self.plan.nparams, 64)):
            if (<_Ty>self.plan.params[i]).reusable:
                self.reusable_mask |= (<uint64_t>1) << i
        if self.reusable_mask:
            self.reuse_vals = <wasmtime_component_val_t *>calloc(
                <size_t>self.plan.nparams, sizeof(wasmtime_component_val_t))
            if self.reuse_vals == NULL:
                raise MemoryError()

    def __dealloc__(self):
        if self.reuse_vals != NULL:
            _drop_vals(self.reuse_vals, self.plan.nparams)
            free(self.reuse_vals)
            self.reuse_vals = NULL

    @staticmethod
    def from_export(store, instance, str name, FuncPlan plan=None):
        """Resolve export ``name`` of a ``wasmtime.component.Instance`` and compile its plan
        (or reuse ``plan``, compiled for another instance of the same component)."""
        func = instance.get_func(store, name)
        if func is None:
            raise LookupError(f"the component instance has no exported function {name!r}")
        return ComponentFunc(store, func, name, plan)

    def __call__(self, *args):
        cdef FuncPlan plan = self.plan
        cdef Py_ssize_t n = PyTuple_GET_SIZE(args)
        cdef Py_ssize_t i
        cdef wasmtime_component_val_t stack_vals[_STACK_ARGS]
        cdef wasmtime_component_val_t *vals = stack_vals
        cdef wasmtime_component_val_t res
        cdef size_t nres = 0 if plan.result is None else 1
        cdef wasmtime_error_t *err = NULL
        cdef uint64_t borrowed = 0
        if n != plan.nparams:
            raise TypeError(f"{plan.signature} takes {plan.nparams} argument(s), got {n}")
        if n > _STACK_ARGS:
            vals = <wasmtime_component_val_t *>malloc(<size_t>n * sizeof(wasmtime_component_val_t))
            if vals == NULL:
                raise MemoryError()
        for i in range(n):
            vals[i].kind = WT_BOOL
            vals[i].of.boolean = 0
        res.kind = WT_BOOL                  # Rust drop-assigns into the result slot
        res.of.boolean = 0
        # Enter before touching the reuse slots: another thread must not replace them while
        # this call's wasmtime_component_func_call may still be reading them.
        try:
            self.ref.enter(self.store)
        except BaseException:
            if vals != stack_vals:
                free(vals)
            raise
        # User code run while lowering (an __eq__, __index__ ...) could call this function
        # again; such a nested call must not touch the reuse slots this call may borrow from.
        cdef uint64_t reusable = self.reusable_mask if self.lowering == 0 else 0
        cdef bint in_lowering = 1
        self.lowering += 1
        try:
            for i in range(n):
                arg = <object>PyTuple_GET_ITEM(args, i)
                if reusable & ((<uint64_t>1) << i):
                    key = <object>PyList_GET_ITEM(self.reuse_keys, i)
                    if key is not None and PyDict_CheckExact(arg) and arg == key:
                        vals[i] = self.reuse_vals[i]        # borrowed: not dropped below
                        borrowed |= (<uint64_t>1) << i
                        continue
                try:
                    lower(<_Ty>PyList_GET_ITEM(plan.params, i), arg, &vals[i])
                except (TypeError, ValueError) as exc:
                    raise type(exc)(f"parameter '{plan.param_names[i]}' of {plan.signature}: {exc}") from None
            if reusable & ~borrowed:
                self._keep_for_reuse(args, vals, &borrowed)
            self.lowering -= 1
            in_lowering = 0
            with nogil:
                err = api.wasmtime_component_func_call(&self.func, self.ref.ctx, vals, <size_t>n, &res, nres)
        finally:
            if in_lowering:
                self.lowering -= 1
            self.ref.leave()
            for i in range(n):
                if not (borrowed & ((<uint64_t>1) << i)):
                    _drop_vals(&vals[i], 1)
            if vals != stack_vals:
                free(vals)
        if err != NULL:
            _drop_vals(&res, 1)
            raise _trap_error(err, NULL, self.where)
        if nres == 0:
            return None
        try:
            return lift(plan.result, &res)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"result of {plan.signature}: {exc}") from None
        finally:
            _drop_vals(&res, 1)

    cdef int _keep_for_reuse(self, tuple args, wasmtime_component_val_t *vals, uint64_t *borrowed) except -1:
        """Move freshly lowered reusable arguments into the reuse slots, then snapshot the dict.

        Each moved slot is marked borrowed before anything that can raise, so the caller never
        drops a value the reuse slot now owns; a failed snapshot just leaves the slot unkeyed.
        """
        cdef Py_ssize_t i
        cdef uint64_t bit
        for i in range(min(self.plan.nparams, 64)):
            bit = (<uint64_t>1) << i
            if (self.reusable_mask & bit) and not (borrowed[0] & bit):
                self.reuse_keys[i] = None
                _drop_vals(&self.reuse_vals[i], 1)
                self.reuse_vals[i] = vals[i]
                borrowed[0] |= bit
                self.reuse_keys[i] = PyDict_Copy(<object>PyTuple_GET_ITEM(args, i))
        return 0

    def __repr__(self):
        return f"<ComponentFunc {self.plan.signature}>"
