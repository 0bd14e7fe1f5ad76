# Host functions: C trampolines registered with wasmtime_component_linker_instance_add_func
# (synchronous) or ..._add_func_async (may suspend the guest).
#
# The trampoline re-acquires the GIL (the guest runs without it), converts the arguments with
# the same compiled plans as export calls, and runs the Python callable, where policy lives.
# Rust owns both the borrowed arguments and the results we write, so results are built only
# with wasmtime's allocators. A Python exception becomes a wasmtime error (the guest traps);
# the exception itself is parked and re-raised as the __cause__ of the caller's TrapError.
#
# An async host function's callable may return a HostWait instead of its result: the guest
# then suspends on it, and the continuation (run by wasmtime inside a later poll, on the
# guest's fiber) only tests the wait's flag and lowers the value once it is set. It runs on
# the fiber stack, so it stays small: the real work happens on the event loop.

cdef extern from "Python.h":
    int Py_IsInitialized_nogil "Py_IsInitialized"() nogil
    void Py_DECREF_ptr "Py_DECREF"(PyObject *o)


@cython.final
cdef class Oversized:
    """Stands in for a ``list<u8>`` argument longer than the calling Store's ``max_list``: the
    bytes are never copied into Python; the host function answers with an error instead."""

    cdef readonly Py_ssize_t size
    cdef readonly Py_ssize_t limit

    def __cinit__(self, Py_ssize_t size, Py_ssize_t limit):
        self.size = size
        self.limit = limit

    def __repr__(self):
        return f"<Oversized {self.size} > {self.limit} bytes>"


cdef enum:
    _MEMO_LIMIT = 1024        # distinct records a HostFunc keeps converted


cdef Py_ssize_t _record_key_size(_Ty t, const wasmtime_component_val_t *v) noexcept:
    """Bytes in the memo key of a string/enum-only record ``v`` of plan ``t`` (each field's
    bytes prefixed by its length), or -1 when ``v`` is not such a record of that shape (lift()
    then says what is wrong). Names are not part of the key: they are the type's, and lift
    checked them the first time these bytes were converted."""
    cdef size_t n, i, total = 0, size
    cdef const wasmtime_component_val_t *field
    if not t.reusable or v.kind != WT_RECORD:
        return -1
    n = v.of.record.size
    if n != <size_t>len(t.children) or n > 16:
        return -1
    for i in range(n):
        field = &v.of.record.data[i].val
        if field.kind != (<_Ty>PyList_GET_ITEM(t.children, <Py_ssize_t>i)).kind:
            return -1
        size = field.of.string.size if field.kind == WT_STRING else field.of.enumeration.size
        if size > 4096:
            return -1
        total += sizeof(size_t) + size
    return <Py_ssize_t>total


cdef inline const wasm_byte_vec_t *_field_bytes(const wasmtime_component_val_t *field) noexcept:
    return &field.of.string if field.kind == WT_STRING else &field.of.enumeration


cdef bint _record_is_key(const wasmtime_component_val_t *v, bytes key) noexcept:
    """Is ``key`` (from _record_key) the key of ``v`` (already sized by _record_key_size)?"""
    cdef size_t i, size
    cdef const wasm_byte_vec_t *b
    cdef const char *k = PyBytes_AS_STRING(key)
    for i in range(v.of.record.size):
        b = _field_bytes(&v.of.record.data[i].val)
        memcpy(&size, k, sizeof(size_t))
        if size != b.size or (size and memcmp(k + sizeof(size_t), b.data, size) != 0):
            return 0
        k += sizeof(size_t) + size
    return 1


cdef bytes _record_key(const wasmtime_component_val_t *v, Py_ssize_t total):
    cdef size_t i, size
    cdef const wasm_byte_vec_t *b
    cdef bytes key = PyBytes_FromStringAndSize(NULL, total)
    cdef char *out = PyBytes_AS_STRING(key)
    for i in range(v.of.record.size):
        b = _field_bytes(&v.of.record.data[i].val)
        size = b.size
        memcpy(out, &size, sizeof(size_t))
        if size:
            memcpy(out + sizeof(size_t), b.data, size)
        out += sizeof(size_t) + size
    return key


@cython.final
cdef class HostFunc:
    """A Python callable exposed to guests through a C trampoline (see define_host_func)."""

    cdef readonly str name
    cdef readonly FuncPlan plan       # None until the first call when no type was given
    cdef readonly object callback
    cdef readonly bint with_data      # the callable gets the calling store's data first
    cdef readonly bint suspends       # registered as async: may return a HostWait
    cdef readonly int bounded         # parameter index bounded by the Store's max_list (-1 none)
    cdef readonly str gate            # passed to the calling store data's call_gate, if any
    cdef readonly int converted       # parameter index lifted through `convert` (-1 none)
    cdef object convert
    cdef dict memo                    # raw field bytes of a converted record -> its conversion
    cdef bytes last_key               # the memo entry the last call used
    cdef object last_value
    cdef object last_out              # a payload-less result tuple and its lowered bits
    cdef wasmtime_component_val_t last_res
    cdef size_t nresults

    cdef int _adopt_type(self, const wasmtime_component_func_type_t *ty) except -1:
        """Compile the plan from the type wasmtime passes to the first call (once)."""
        cdef FuncPlan plan = FuncPlan.from_functype(self.name, _handles.component_func_type_at(<size_t>ty))
        self._check_plan(plan)
        self.plan = plan
        self.nresults = 0 if plan.result is None else 1
        return 0

    cdef int _check_plan(self, FuncPlan plan) except -1:
        if self.converted >= 0 and (self.converted >= plan.nparams or (
                <_Ty>PyList_GET_ITEM(plan.params, self.converted)).kind != WT_RECORD):
            raise TypeError(f"convert= of host function {plan.signature} names parameter "
                            f"{self.converted}, which is not a record parameter")
        return 0

    cdef object invoke(self, wasmtime_context_t *context, const wasmtime_component_func_type_t *ty,
                       wasmtime_component_val_t *args, size_t nargs,
                       wasmtime_component_val_t *results, size_t nresults):
        """Run the callable; 0 once the results are written, or the HostWait to suspend on."""
        cdef FuncPlan plan
        cdef size_t i
        cdef Py_ssize_t first = 1 if self.with_data else 0
        cdef _StoreRef caller = None
        if self.plan is None:
            self._adopt_type(ty)
        plan = self.plan
        if nargs != <size_t>plan.nparams or nresults != self.nresults:
            raise TypeError(
                f"host function {plan.signature} was called with {nargs} argument(s) and "
                f"{nresults} result slot(s); the importing component declares another type")
        if self.gate is not None or first or self.bounded >= 0:
            caller = _current_store()  # once per call, for whichever of the three needs it
        if self.gate is not None:
            if caller is not None and caller.call_gate is not None:
                caller.call_gate(self.gate)   # raises to refuse the call (the guest traps)
        pyargs = PyTuple_New(<Py_ssize_t>nargs + first)
        if first:
            if caller is None or caller.ctx != context:
                raise RuntimeError(
                    f"host function {plan.signature} needs the calling instance's data, but the "
                    "guest was not entered through the fast call path (ComponentFunc/CoreFunc); "
                    "call its exports through airssys_wasm's runtime")
            Py_INCREF(caller.data)
            PyTuple_SET_ITEM(pyargs, 0, caller.data)
        for i in range(nargs):
            if <int>i == self.bounded and args[i].kind == WT_LIST:
                if caller is not None and 0 <= caller.max_list < <Py_ssize_t>args[i].of.list.size:
                    item = Oversized(<Py_ssize_t>args[i].of.list.size, caller.max_list)
                    Py_INCREF(item)
                    PyTuple_SET_ITEM(pyargs, <Py_ssize_t>i + first, item)
                    continue
            if <int>i == self.converted:
                item = self._convert(<_Ty>PyList_GET_ITEM(plan.params, <Py_ssize_t>i), &args[i], plan, i)
                Py_INCREF(item)
                PyTuple_SET_ITEM(pyargs, <Py_ssize_t>i + first, item)
                continue
            try:
                item = lift(<_Ty>PyList_GET_ITEM(plan.params, <Py_ssize_t>i), &args[i])
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"parameter '{plan.param_names[i]}' of host {plan.signature}: {exc}") from None
            Py_INCREF(item)
            PyTuple_SET_ITEM(pyargs, <Py_ssize_t>i + first, item)
        out = self.callback(*pyargs)
        if type(out) is HostWait:
            if not self.suspends:
                raise TypeError(f"host function {plan.signature} returned a HostWait but was "
                                "not defined with suspends=True")
            w = <HostWait>out
            if not w.ready:
                return out
            out = w.result()
        return self._store_result(out, results, nresults)

    cdef object _convert(self, _Ty t, const wasmtime_component_val_t *v, FuncPlan plan, size_t i):
        """``convert(record)`` of argument ``v``, memoized by the record's raw field bytes when
        every field is a string or enum (then equal bytes lift to equal dicts): a guest naming
        the same record on every call costs one lookup, not a dict and a Python call."""
        cdef Py_ssize_t total = _record_key_size(t, v)
        cdef bytes key = None
        cdef PyObject *hit
        if total >= 0:
            # The same record as the last call (a sender streaming to one target): no key built.
            if self.last_key is not None and PyBytes_GET_SIZE(self.last_key) == total and \
                    _record_is_key(v, self.last_key):
                return self.last_value
            key = _record_key(v, total)
            hit = PyDict_GetItemWithError(self.memo, key)
            if hit != NULL:
                self.last_key = key
                self.last_value = <object>hit
                return self.last_value
        try:
            record = lift(t, v)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"parameter '{plan.param_names[i]}' of host {plan.signature}: {exc}") from None
        out = self.convert(record)
        if key is not None:
            if len(self.memo) >= _MEMO_LIMIT:   # a guest spraying names stays bounded
                self.memo.clear()
            self.memo[key] = out
            self.last_key = key
            self.last_value = out
        return out

    cdef int _store_result(self, object out, wasmtime_component_val_t *results,
                           size_t nresults) except -1:
        cdef FuncPlan plan = self.plan
        if nresults == 0:
            if out is not None:
                raise TypeError(f"host function {plan.signature} returns nothing, but its "
                                f"callable returned {_tname(out)}")
            return 0
        if out is self.last_out and out is not None:    # the same immutable answer as before
            results[0] = self.last_res
            return 0
        try:
            lower(plan.result, out, &results[0])
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"result of host {plan.signature}: {exc}") from None
        # A payload-less result (``("ok", None)``, the answer of most calls) lowers to a value
        # with no heap part: keep its bits for the next call that returns this same tuple (an
        # exact tuple of a str and None cannot change, so identity means the same value).
        if results[0].kind == WT_RESULT and results[0].of.result.val == NULL \
                and PyTuple_CheckExact(out):
            self.last_res = results[0]
            self.last_out = out
        return 0

    def __repr__(self):
        return f"<HostFunc {self.name if self.plan is None else self.plan.signature}>"


cdef bytes _failure_text(HostFunc hf, BaseException exc):
    try:
        return (f"host function '{hf.name}' raised {type(exc).__name__}: {exc}"
                ).encode("utf-8", "replace").replace(b"\0", b" ")
    except BaseException:
        return b"host function raised an exception"


cdef wasmtime_error_t *_host_trampoline(
        void *env, wasmtime_context_t *context, const wasmtime_component_func_type_t *ty,
        wasmtime_component_val_t *args, size_t nargs,
        wasmtime_component_val_t *results, size_t nresults) noexcept with gil:
    cdef HostFunc hf = <HostFunc>env
    cdef bytes text
    try:
        hf.invoke(context, ty, args, nargs, results, nresults)
        return NULL
    except BaseException as exc:
        text = _failure_text(hf, exc)
        _park_exception(exc, text)
        return api.wasmtime_error_new(text)


cdef c_bool _cont_ready(void *env) noexcept nogil:
    return 1


cdef c_bool _cont_wait(void *env) noexcept with gil:
    """Continuation of a suspended async host call: done once its HostWait is (and the value
    is lowered). A value that cannot be lowered marks the wait failed and keeps the guest
    suspended: the driver then aborts the call with that error as the trap's cause."""
    cdef HostWait w = <HostWait>env
    if not w.ready or w.error is not None or w.results == NULL:
        return 0
    try:
        (<HostFunc>w.plan_owner)._store_result(w.value, w.results, w.nresults)
    except BaseException as exc:
        w.error = exc
        return 0
    w.results = NULL
    return 1


cdef void _cont_finalize(void *env) noexcept nogil:
    if env != NULL and Py_IsInitialized_nogil():
        with gil:
            Py_DECREF_ptr(<PyObject *>env)


cdef void _async_trampoline(
        void *env, wasmtime_context_t *context, const wasmtime_component_func_type_t *ty,
        wasmtime_component_val_t *args, size_t nargs,
        wasmtime_component_val_t *results, size_t nresults,
        wasmtime_error_t **error_ret, wasmtime_async_continuation_t *cont) noexcept with gil:
    cdef HostFunc hf = <HostFunc>env
    cdef HostWait w
    cdef _StoreRef caller
    cont.callback = _cont_ready
    cont.env = NULL
    cont.finalizer = NULL
    try:
        out = hf.invoke(context, ty, args, nargs, results, nresults)
        if type(out) is HostWait:
            w = <HostWait>out
            caller = _current_store()
            if caller is None or caller.ctx != context:
                raise RuntimeError(f"host function {hf.name!r} suspended a guest that was not "
                                   "entered through the fast call path")
            if not caller.suspendable:
                raise RuntimeError(
                    f"host function {hf.name!r} returned an unfinished HostWait to a synchronous "
                    "caller; check call_suspendable() and do the work inline for such callers")
            w.results = results
            w.nresults = nresults
            w.plan_owner = hf
            if not w.what:
                w.what = f"host function '{hf.name}'"
            caller.wait = w
            Py_INCREF(w)                   # owned by the continuation; released by its finalizer
            cont.callback = _cont_wait
            cont.env = <void *>w
            cont.finalizer = _cont_finalize
    except BaseException as exc:
        text = _failure_text(hf, exc)
        _park_exception(exc, text)
        error_ret[0] = api.wasmtime_error_new(text)


cdef void _host_finalizer(void *env) noexcept nogil:
    # Runs when the Linker is dropped. During interpreter shutdown Python may be gone: leak then.
    if env != NULL and Py_IsInitialized_nogil():
        with gil:
            Py_DECREF_ptr(<PyObject *>env)


def define_host_func(linker_instance, str name, callback, functype=None, *, bint with_data=False,
                     bint suspends=False, int bounded=-1, str gate=None, resources=None,
                     convert=None):
    """Define ``name`` in a ``wasmtime.component.LinkerInstance`` as a fast C trampoline.

    ``functype`` is the ``wasmtime.component.FuncType`` the importing component declares for it
    (e.g. from ``fastcall.import_func_types``); it is compiled into a plan here, once. Without
    it, the plan is compiled once from the type wasmtime hands to the first call — handy for a
    Linker built before any component is loaded. Later calls must have the same type: values of
    another shape are refused (the guest traps), never misread. The callable gets the converted
    arguments positionally and returns the converted result (or None). Returns the HostFunc
    (already owned by the linker; keeping it is optional).

    With ``with_data=True`` the callable is called as ``callback(data, *args)``, where ``data``
    is what :func:`configure_store` attached to the calling instance's Store: one definition in
    a shared Linker can then serve every instance and still know whose call it is.

    With ``suspends=True`` the function is registered through the async C API: for a caller
    that can suspend (:func:`call_suspendable`) the callable may return an unfinished
    :class:`HostWait`; the guest suspends until it completes and then receives its value.
    Returning a plain value (or a finished wait) continues the guest at once.

    ``bounded``: the index of a ``list<u8>`` parameter limited by the calling Store's
    ``configure_store(max_list=...)``; a longer one reaches the callable as an
    :class:`Oversized` (size and limit), never copied.

    ``gate``: before each call, if the calling Store's data had a ``call_gate`` attribute that
    is not None when :func:`configure_store` attached it, ``data.call_gate(gate)`` runs first; an exception it raises refuses the call
    (the guest traps, the exception is the trap's cause). A per-instance check (a quota) on a
    Linker shared by instances that need it and instances that don't, with one attribute
    read for the latter.

    ``resources``: ``[(the guest's ResourceType, HostResource)]`` (see
    :func:`define_host_resource`): ``own``/``borrow`` values of those resources convert to and
    from the Python objects of the calling Store's resource table. Needs ``functype``.

    ``convert``: ``(index, fn)``: parameter ``index`` (a record) reaches the callable as
    ``fn(record_dict)`` instead of the dict. When the record's fields are all strings or enums,
    conversions are memoized by the fields' raw bytes (bounded), so ``fn`` must be pure: a guest
    naming the same record on every call (a message target) then costs one lookup.
    """
    if not callable(callback):
        raise TypeError(f"callback for host function {name!r} must be callable, got {_tname(callback)}")
    cdef size_t address = _handles.linker_instance_address(linker_instance)
    cdef HostFunc hf = HostFunc.__new__(HostFunc)
    hf.name = name
    hf.callback = callback
    hf.with_data = with_data
    hf.suspends = suspends
    hf.bounded = bounded
    hf.gate = gate
    hf.converted = -1
    if convert is not None:
        if not (isinstance(convert, tuple) and len(convert) == 2 and type(convert[0]) is int
                and convert[0] >= 0 and callable(convert[1])):
            raise TypeError(f"convert= for host function {name!r} must be (parameter index, "
                            f"callable), got {convert!r:.60}")
        hf.converted = convert[0]
        hf.convert = convert[1]
        hf.memo = {}
    if resources and functype is None:
        raise TypeError(f"host function {name!r}: resources= needs the functype it applies to")
    if functype is not None:
        plan = <FuncPlan>FuncPlan.from_functype(name, functype, resources)
        hf._check_plan(plan)
        hf.plan = plan
        hf.nresults = 0 if hf.plan.result is None else 1
    cdef bytes name_b = name.encode("utf-8")
    cdef wasmtime_error_t *err
    Py_INCREF(hf)                       # owned by the linker; released by _host_finalizer
    if suspends:
        err = api.wasmtime_component_linker_instance_add_func_async(
            <wasmtime_component_linker_instance_t *>address, PyBytes_AS_STRING(name_b),
            <size_t>len(name_b), _async_trampoline, <void *>hf, _host_finalizer)
    else:
        err = api.wasmtime_component_linker_instance_add_func(
            <wasmtime_component_linker_instance_t *>address, PyBytes_AS_STRING(name_b),
            <size_t>len(name_b), _host_trampoline, <void *>hf, _host_finalizer)
    if err != NULL:
        # Wasmtime drops the closure data (running the finalizer) on failure: no DECREF here.
        raise ValueError(f"cannot define host function {name!r}: {_consume_error(err)}")
    return hf
