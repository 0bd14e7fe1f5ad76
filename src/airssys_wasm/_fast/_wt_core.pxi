# Core modules: numeric calls through wasmtime_func_call_unchecked, and the core-ABI lane.
#
# The unchecked call trusts the slot layout completely, so the signature is verified once, when
# the wrapper is built, against the function's real type; per call only values are checked.

cdef enum:
    _CORE_I32 = 0
    _CORE_I64 = 1
    _CORE_F32 = 2
    _CORE_F64 = 3
    _CORE_MAX = 16

cdef dict _VALKIND_NAMES = {_CORE_I32: "i32", _CORE_I64: "i64", _CORE_F32: "f32", _CORE_F64: "f64",
                            4: "v128", 128: "externref", 129: "funcref"}


cdef tuple _core_signature(_StoreRef ref, object store, wasmtime_func_t *func):
    """``([param kinds], [result kinds])`` of a core function, read through the C API (wasm
    value kinds: 0 i32, 1 i64, 2 f32, 3 f64, others unsupported here)."""
    cdef wasm_functype_t *ty
    cdef const wasm_valtype_vec_t *vec
    cdef size_t i
    if getattr(store, _CTX_ATTR) is not ref.token:
        raise ValueError("the wasmtime.Store was closed; create a new Store and instance")
    ty = api.wasmtime_func_type(ref.ctx, func)
    if ty == NULL:
        raise AbiMismatchError("wasmtime_func_type returned NULL")
    try:
        vec = api.wasm_functype_params(ty)
        params = [api.wasm_valtype_kind(vec.data[i]) for i in range(vec.size)]
        vec = api.wasm_functype_results(ty)
        results = [api.wasm_valtype_kind(vec.data[i]) for i in range(vec.size)]
    finally:
        api.wasm_functype_delete(ty)
    return params, results


cdef str _signature_text(tuple sig):
    params, results = sig
    return ("(" + ", ".join(_VALKIND_NAMES.get(k, f"kind {k}") for k in params) + ") -> "
            + ", ".join(_VALKIND_NAMES.get(k, f"kind {k}") for k in results))


cdef int _core_kind(int kind, str what) except -1:
    if kind < _CORE_I32 or kind > _CORE_F64:
        raise TypeError(f"{what} has type {_VALKIND_NAMES.get(kind, f'kind {kind}')}; the fast "
                        "core path supports i32, i64, f32 and f64 only")
    return kind


cdef int _core_func_handle(object func, wasmtime_func_t *out) except -1:
    cdef bytes raw = _handles.core_func_bytes(func)
    if len(raw) != sizeof(wasmtime_func_t):
        raise AbiMismatchError(f"core func handle is {len(raw)} bytes, expected {sizeof(wasmtime_func_t)}")
    memcpy(out, PyBytes_AS_STRING(raw), sizeof(wasmtime_func_t))
    return 0


cdef int _core_call(_StoreRef ref, object store, wasmtime_func_t *func, wasmtime_val_raw_t *slots,
                    size_t nslots, str where) except -1:
    cdef wasmtime_error_t *err
    cdef wasm_trap_t *trap = NULL
    ref.enter(store)
    with nogil:
        err = api.wasmtime_func_call_unchecked(ref.ctx, func, slots, nslots, &trap)
    ref.leave()
    if err != NULL or trap != NULL:
        raise _trap_error(err, trap, where)
    return 0


@cython.final
cdef class CoreFunc:
    """A core-module export with numeric params/results, called via the unchecked C API."""

    cdef wasmtime_func_t func
    cdef object store
    cdef _StoreRef ref
    cdef int nparams, nresults
    cdef int kinds[_CORE_MAX]          # params then results
    cdef readonly str name
    cdef str where

    def __cinit__(self, store, func, str name="<func>"):
        self.ref = _store_ref(store)
        _core_func_handle(func, &self.func)
        _check_owner(self.ref, self.func.store_id, f"core function {name!r}")
        params, results = _core_signature(self.ref, store, &self.func)
        if len(params) + len(results) > _CORE_MAX:
            raise TypeError(f"core function {name!r} has too many params/results for the fast path")
        self.nparams = len(params)
        self.nresults = len(results)
        for i, p in enumerate(params + results):
            self.kinds[i] = _core_kind(p, f"{'parameter' if i < len(params) else 'result'} {i} of {name!r}")
        self.store = store
        self.name = name
        self.where = f"core function '{name}'"

    def __call__(self, *args):
        cdef wasmtime_val_raw_t slots[_CORE_MAX]
        cdef Py_ssize_t n = PyTuple_GET_SIZE(args)
        cdef int i, k
        cdef int overflow = 0
        cdef long long x
        if n != self.nparams:
            raise TypeError(f"{self.name}() takes {self.nparams} argument(s), got {n}")
        memset(slots, 0, sizeof(slots))     # result-only slots are handed over initialised too
        for i in range(self.nparams):
            v = <object>PyTuple_GET_ITEM(args, i)
            k = self.kinds[i]
            if k == _CORE_I32 or k == _CORE_I64:
                if not PyLong_Check(v) or PyBool_Check(v):
                    raise TypeError(f"parameter {i} of {self.name}() must be int, got {_tname(v)}")
                x = PyLong_AsLongLongAndOverflow(v, &overflow)
                if k == _CORE_I32:
                    if overflow or x < -2147483648 or x > 4294967295:
                        raise ValueError(f"parameter {i} of {self.name}(): {v} does not fit in i32")
                    slots[i].i32 = <int32_t><uint32_t>(x & 0xffffffff)
                else:
                    if overflow:
                        raise ValueError(f"parameter {i} of {self.name}(): {v} does not fit in i64")
                    slots[i].i64 = x
            else:
                if PyFloat_Check(v):
                    d = PyFloat_AS_DOUBLE(v)
                elif PyLong_Check(v) and not PyBool_Check(v):
                    try:
                        d = PyLong_AsDouble(v)
                    except OverflowError:
                        raise ValueError(f"parameter {i} of {self.name}(): {v} is too large for a float") from None
                else:
                    raise TypeError(f"parameter {i} of {self.name}() must be float, got {_tname(v)}")
                if k == _CORE_F32:
                    slots[i].f32 = <float>d
                else:
                    slots[i].f64 = d
        _core_call(self.ref, self.store, &self.func, slots,
                   <size_t>(self.nparams if self.nparams > self.nresults else self.nresults), self.where)
        if self.nresults == 0:
            return None
        out = PyTuple_New(self.nresults)
        for i in range(self.nresults):
            k = self.kinds[self.nparams + i]
            if k == _CORE_I32:
                item = PyLong_FromLong(slots[i].i32)
            elif k == _CORE_I64:
                item = PyLong_FromLongLong(slots[i].i64)
            elif k == _CORE_F32:
                item = PyFloat_FromDouble(slots[i].f32)
            else:
                item = PyFloat_FromDouble(slots[i].f64)
            Py_INCREF(item)
            PyTuple_SET_ITEM(out, i, item)
        return out[0] if self.nresults == 1 else out


cdef int _get_payload(object obj, Py_buffer *view, str what) except -1:
    try:
        PyObject_GetBuffer(obj, view, PyBUF_SIMPLE)
    except (TypeError, BufferError):
        raise TypeError(f"{what} must be a contiguous bytes-like object (bytes, bytearray, "
                        f"memoryview), got {_tname(obj)}") from None
    return 0


@cython.final
cdef class CoreLane:
    """The core-ABI lane of a core-module actor: ``memory``, ``alloc(len)->ptr`` and
    ``handle(sender_ptr, sender_len, msg_ptr, msg_len)->i32``.

    Per message the host calls ``alloc(len(sender) + len(message))`` once, checks that the
    returned region lies inside the guest memory, copies sender and message behind each other
    (one memcpy each) and calls ``handle``. A guest pointer outside its memory is a TrapError
    (kind out_of_bounds), never a host memory access.
    """

    cdef wasmtime_func_t alloc_fn
    cdef wasmtime_func_t handle_fn
    cdef wasmtime_memory_t memory
    cdef object store
    cdef _StoreRef ref

    def __cinit__(self, store, instance, exports=None):
        cdef bytes raw
        self.ref = _store_ref(store)
        # ``exports``: the instance's ``exports(store)`` when the caller already has it
        # (building it again costs more than the rest of this constructor).
        exports = instance.exports(store) if exports is None else exports
        missing = [n for n in ("memory", "alloc", "handle") if n not in exports]
        if missing:
            raise TypeError(f"a core-ABI actor must export memory, alloc and handle; missing: {', '.join(missing)}")
        memory, alloc, handle = exports["memory"], exports["alloc"], exports["handle"]
        if not isinstance(memory, wasmtime.Memory):
            raise TypeError("export 'memory' of a core-ABI actor must be a memory")
        for fn, name, want in ((alloc, "alloc", "(i32) -> i32"),
                               (handle, "handle", "(i32, i32, i32, i32) -> i32")):
            if not isinstance(fn, wasmtime.Func):
                raise TypeError(f"export {name!r} of a core-ABI actor must be a function {want}")
        _core_func_handle(alloc, &self.alloc_fn)
        _core_func_handle(handle, &self.handle_fn)
        _check_owner(self.ref, self.alloc_fn.store_id, "export 'alloc'")
        _check_owner(self.ref, self.handle_fn.store_id, "export 'handle'")
        got = _signature_text(_core_signature(self.ref, store, &self.alloc_fn))
        if got != "(i32) -> i32":
            raise TypeError(f"export 'alloc' of a core-ABI actor must be (i32) -> i32, found {got}")
        got = _signature_text(_core_signature(self.ref, store, &self.handle_fn))
        if got != "(i32, i32, i32, i32) -> i32":
            raise TypeError("export 'handle' of a core-ABI actor must be (i32, i32, i32, i32) -> i32, "
                            f"found {got}")
        raw = _handles.memory_bytes(memory)
        if len(raw) != sizeof(wasmtime_memory_t):
            raise AbiMismatchError(f"memory handle is {len(raw)} bytes, expected {sizeof(wasmtime_memory_t)}")
        memcpy(&self.memory, PyBytes_AS_STRING(raw), sizeof(wasmtime_memory_t))
        _check_owner(self.ref, self.memory.anon.store_id, "export 'memory'")
        self.store = store

    cdef uint64_t _alloc_copy(self, const uint8_t *a, uint64_t alen, const uint8_t *b,
                              uint64_t blen, str what) except? 0xffffffffffffffff:
        """alloc(alen + blen) in the guest, bounds-check, copy a then b; returns the pointer.

        The caller has entered the store. Nothing is allocated for an empty payload (pointer 0).
        """
        cdef wasmtime_val_raw_t slots[1]
        cdef uint64_t total = alen + blen, ptr, size
        cdef uint8_t *data
        if total > 0x7fffffff:
            raise ValueError(f"{what} is {total} bytes; the core-ABI lane carries at most 2 GiB - 1")
        if total == 0:
            return 0
        slots[0].i32 = <int32_t>total
        _core_call(self.ref, self.store, &self.alloc_fn, slots, 1, "core-ABI 'alloc'")
        ptr = <uint32_t>slots[0].i32
        if ptr == 0:                          # the ABI's "out of memory"
            raise TrapError(
                f"core-ABI 'alloc({total})' returned 0: the guest is out of memory; raise its "
                "[limits] memory or send smaller payloads", TrapKind.MEMORY_LIMIT)
        data = api.wasmtime_memory_data(self.ref.ctx, &self.memory)
        size = api.wasmtime_memory_data_size(self.ref.ctx, &self.memory)
        if data == NULL or ptr + total > size:
            raise TrapError(
                f"core-ABI 'alloc({total})' returned 0x{ptr:x}, but [0x{ptr:x}, 0x{ptr + total:x}) "
                f"is outside the guest's {size}-byte memory; the guest is faulty, restart it",
                TrapKind.OUT_OF_BOUNDS)
        if total > 65536:
            with nogil:
                memcpy(data + ptr, a, <size_t>alen)
                memcpy(data + ptr + alen, b, <size_t>blen)
        else:
            memcpy(data + ptr, a, <size_t>alen)
            memcpy(data + ptr + alen, b, <size_t>blen)
        return ptr

    def write(self, data):
        """Copy ``data`` (bytes-like) into guest memory obtained from ``alloc``; returns the
        pointer (0 for empty data, without calling alloc)."""
        cdef Py_buffer view
        _get_payload(data, &view, "data")
        try:
            self.ref.enter(self.store)
        except BaseException:
            PyBuffer_Release(&view)
            raise
        try:
            return self._alloc_copy(<const uint8_t *>view.buf, <uint64_t>view.len, NULL, 0, "data")
        finally:
            self.ref.leave()
            PyBuffer_Release(&view)

    def read(self, ptr, length):
        """``length`` bytes of guest memory at ``ptr`` (a TrapError of kind out_of_bounds when the
        range is outside the memory: a guest handing back a bad pointer is faulty)."""
        cdef uint64_t p, n, size
        cdef uint8_t *data
        if not PyLong_Check(ptr) or not PyLong_Check(length) or ptr < 0 or length < 0:
            raise ValueError(f"ptr and length must be non-negative ints, got {ptr!r}, {length!r}")
        if ptr > 0xffffffff or length > 0xffffffff:
            raise TrapError(f"guest range 0x{ptr:x}+{length} is outside any 32-bit memory; the "
                            "guest is faulty, restart it", TrapKind.OUT_OF_BOUNDS)
        p = <uint64_t>ptr
        n = <uint64_t>length
        self.ref.enter(self.store)
        try:
            data = api.wasmtime_memory_data(self.ref.ctx, &self.memory)
            size = api.wasmtime_memory_data_size(self.ref.ctx, &self.memory)
            if data == NULL or p + n > size:
                raise TrapError(f"guest range [0x{p:x}, 0x{p + n:x}) is outside the guest's "
                                f"{size}-byte memory; the guest is faulty, restart it",
                                TrapKind.OUT_OF_BOUNDS)
            return PyBytes_FromStringAndSize(<char *>data + p, <Py_ssize_t>n)
        finally:
            self.ref.leave()

    def handle(self, sender, message):
        """Deliver ``message`` (bytes-like) from ``sender`` (str or bytes-like); return handle's i32."""
        cdef Py_buffer sview, mview
        cdef wasmtime_val_raw_t slots[4]
        cdef uint64_t slen, mlen, ptr
        if PyUnicode_Check(sender):
            sender = (<str>sender).encode("utf-8")
        _get_payload(sender, &sview, "sender")
        try:
            _get_payload(message, &mview, "message")
        except BaseException:
            PyBuffer_Release(&sview)
            raise
        try:
            self.ref.enter(self.store)   # held across alloc, copy and handle: no other thread may
        except BaseException:            # grow this memory between the bounds check and the copy
            PyBuffer_Release(&sview)
            PyBuffer_Release(&mview)
            raise
        try:
            slen = <uint64_t>sview.len
            mlen = <uint64_t>mview.len
            ptr = self._alloc_copy(<const uint8_t *>sview.buf, slen, <const uint8_t *>mview.buf,
                                   mlen, "sender + message")
            slots[0].i32 = <int32_t>ptr
            slots[1].i32 = <int32_t>slen
            slots[2].i32 = <int32_t>(ptr + slen)
            slots[3].i32 = <int32_t>mlen
            _core_call(self.ref, self.store, &self.handle_fn, slots, 4, "core-ABI 'handle'")
            return slots[0].i32
        finally:
            self.ref.leave()
            PyBuffer_Release(&sview)
            PyBuffer_Release(&mview)
