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

    ``ComponentFunc(store, func, name)`` wraps a ``wasmtime.component.Func`` of an instance living
    in ``store``; ``ComponentFunc.from_export(store, instance, "name")`` looks it up first.
    Calling it converts arguments with the plan, runs the guest with the GIL released and returns
    the converted result (None for functions without one). Wrong arity or argument types raise
    TypeError/ValueError naming the parameter; a trap raises TrapError.
    """

    cdef wasmtime_component_func_t func
    cdef object store
    cdef _StoreRef ref
    cdef readonly FuncPlan plan
    cdef str where

    def __cinit__(self, store, func, str name="<func>"):
        cdef bytes raw = _handles.component_func_bytes(func)
        if len(raw) != sizeof(wasmtime_component_func_t):
            raise AbiMismatchError(f"component func handle is {len(raw)} bytes")
        self.ref = _store_ref(store)
        memcpy(&self.func, PyBytes_AS_STRING(raw), sizeof(wasmtime_component_func_t))
        _check_owner(self.ref, self.func.anon.store_id, f"component function {name!r}")
        self.store = store
        self.plan = FuncPlan.from_functype(name, func.type(store))
        self.where = f"component function '{name}'"

    @staticmethod
    def from_export(store, instance, str name):
        """Resolve export ``name`` of a ``wasmtime.component.Instance`` and compile its plan."""
        func = instance.get_func(store, name)
        if func is None:
            raise LookupError(f"the component instance has no exported function {name!r}")
        return ComponentFunc(store, func, name)

    def __call__(self, *args):
        cdef FuncPlan plan = self.plan
        cdef Py_ssize_t n = PyTuple_GET_SIZE(args)
        cdef Py_ssize_t i
        cdef wasmtime_component_val_t stack_vals[_STACK_ARGS]
        cdef wasmtime_component_val_t *vals = stack_vals
        cdef wasmtime_component_val_t res
        cdef size_t nres = 0 if plan.result is None else 1
        cdef wasmtime_error_t *err = NULL
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
        try:
            for i in range(n):
                try:
                    lower(<_Ty>PyList_GET_ITEM(plan.params, i), <object>PyTuple_GET_ITEM(args, i), &vals[i])
                except (TypeError, ValueError) as exc:
                    raise type(exc)(f"parameter '{plan.param_names[i]}' of {plan.signature}: {exc}") from None
            self.ref.enter(self.store)
            with nogil:
                err = api.wasmtime_component_func_call(&self.func, self.ref.ctx, vals, <size_t>n, &res, nres)
            self.ref.leave()
        finally:
            _drop_vals(vals, n)
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

    def __repr__(self):
        return f"<ComponentFunc {self.plan.signature}>"
