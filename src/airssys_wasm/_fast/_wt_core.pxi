# Core modules: numeric calls through wasmtime_func_call_async, and the core-ABI lane.
#
# The signature is verified once, when the wrapper is built, against the function's real type;
# per call only values are checked.

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
    ref._check_open(store)
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


@cython.final
cdef class CoreFunc(_CallState):
    """A core-module export with numeric params/results, called through the async C API.

    ``f(*args)`` runs it to the end; ``f.start(*args)`` returns a :class:`GuestCall` when the
    guest suspends. One result comes back as a value, several as a tuple, none as None.
    """

    cdef wasmtime_func_t func
    cdef object store
    cdef _StoreRef ref
    cdef int nparams, nresults
    cdef int kinds[_CORE_MAX]          # params then results
    cdef wasmtime_val_t args[_CORE_MAX]
    cdef wasmtime_val_t results[_CORE_MAX]
    cdef readonly str name

    def __cinit__(self, store, func, str name="<func>"):
        self.ref = _store_ref(store)
        self.store = store
        self.name = name
        if func is _RAW_FUNC:                  # _core_func_raw fills the handle, then _setup
            return
        _core_func_handle(func, &self.func)
        self._setup(store, name)

    cdef int _setup(self, object store, str name) except -1:
        """Check the handle's Store and read (and check) its signature."""
        _check_owner(self.ref, self.func.store_id, f"core function {name!r}")
        params, results = _core_signature(self.ref, store, &self.func)
        if len(params) + len(results) > _CORE_MAX:  # kinds[] holds both
            raise TypeError(f"core function {name!r} has too many params/results for the fast path")
        self.nparams = len(params)
        self.nresults = len(results)
        for i, p in enumerate(params + results):
            self.kinds[i] = _core_kind(p, f"{'parameter' if i < len(params) else 'result'} {i} of {name!r}")
        self.where = f"core function '{name}'"
        return 0

    def __call__(self, *args):
        return self._start(args, 0)

    def start(self, *args):
        """Like calling it, but a guest that suspends returns a :class:`GuestCall`."""
        return self._start(args, 1)

    cdef object _start(self, tuple args, bint suspendable):
        cdef Py_ssize_t n = PyTuple_GET_SIZE(args)
        cdef int i, k
        cdef int overflow = 0
        cdef long long x
        cdef double d
        cdef wasmtime_val_t vals[_CORE_MAX]
        cdef wasmtime_call_future_t *fut
        if n != self.nparams:
            raise TypeError(f"{self.name}() takes {self.nparams} argument(s), got {n}")
        memset(vals, 0, sizeof(vals))
        for i in range(self.nparams):
            v = <object>PyTuple_GET_ITEM(args, i)
            k = self.kinds[i]
            vals[i].kind = <uint8_t>k
            if k == _CORE_I32 or k == _CORE_I64:
                if not PyLong_Check(v) or PyBool_Check(v):
                    raise TypeError(f"parameter {i} of {self.name}() must be int, got {_tname(v)}")
                x = PyLong_AsLongLongAndOverflow(v, &overflow)
                if k == _CORE_I32:
                    if overflow or x < -2147483648 or x > 4294967295:
                        raise ValueError(f"parameter {i} of {self.name}(): {v} does not fit in i32")
                    vals[i].of.i32 = <int32_t><uint32_t>(x & 0xffffffff)
                else:
                    if overflow:
                        raise ValueError(f"parameter {i} of {self.name}(): {v} does not fit in i64")
                    vals[i].of.i64 = x
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
                    vals[i].of.f32 = <float>d
                else:
                    vals[i].of.f64 = d
        return self._start_raw(vals, suspendable)

    cdef wasmtime_call_future_t *_begin_raw(self, const wasmtime_val_t *vals,
                                            bint suspendable) except NULL:
        self.ref.begin(self.store, suspendable)
        memcpy(self.args, vals, sizeof(wasmtime_val_t) * <size_t>self.nparams)
        memset(self.results, 0, sizeof(wasmtime_val_t) * <size_t>self.nresults)
        self.trap = NULL
        self.err = NULL
        fut = api.wasmtime_func_call_async(self.ref.ctx, &self.func, self.args, <size_t>self.nparams,
                                           self.results, <size_t>self.nresults, &self.trap, &self.err)
        if fut == NULL:
            self.ref.leave()
            self.ref.end_call()
            self._abandon()
            raise AbiMismatchError("wasmtime returned no call future")
        return fut

    cdef object _start_raw(self, const wasmtime_val_t *vals, bint suspendable):
        """Start the call with already converted arguments."""
        cdef wasmtime_call_future_t *fut = self._begin_raw(vals, suspendable)
        return _drive_first(self.ref, self.store, self, fut, suspendable)

    cdef object _start_i32(self, const wasmtime_val_t *vals, bint suspendable, int32_t *out):
        """``_start_raw`` of a ``-> i32`` function for the core-ABI lane: None when the call
        finished inline (its result in ``out``, no Python int made), else its GuestCall."""
        cdef wasmtime_call_future_t *fut = self._begin_raw(vals, suspendable)
        if not _first_poll(self.ref, self, fut):
            value = _suspended(self.ref, self.store, self, fut, suspendable)
            if suspendable:
                return value                 # the GuestCall
            out[0] = <int32_t>value          # a synchronous caller: driven to its end already
            return None
        if self.trap != NULL or self.err != NULL:
            return self._complete()          # raises the trap
        out[0] = self.results[0].of.i32
        return None

    cdef object _complete(self):
        cdef int i, k
        self._raise_error()
        if self.nresults == 0:
            return None
        out = PyTuple_New(self.nresults)
        for i in range(self.nresults):
            k = self.kinds[self.nparams + i]
            if k == _CORE_I32:
                item = PyLong_FromLong(self.results[i].of.i32)
            elif k == _CORE_I64:
                item = PyLong_FromLongLong(self.results[i].of.i64)
            elif k == _CORE_F32:
                item = PyFloat_FromDouble(self.results[i].of.f32)
            else:
                item = PyFloat_FromDouble(self.results[i].of.f64)
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
    (kind out_of_bounds), never a host memory access. ``handle``/``write`` run to the end;
    ``start_handle``/``start_write`` return a :class:`GuestCall` when ``alloc`` or ``handle``
    suspends (the copy and the second call then happen when the first one finished).
    """

    cdef CoreFunc alloc_fn
    cdef CoreFunc handle_fn
    cdef wasmtime_memory_t memory
    cdef object store
    cdef _StoreRef ref
    cdef wasmtime_instance_t inst         # set when built from a raw instance (InstancePre)
    cdef bint has_inst

    def __cinit__(self, store, instance, exports=None):
        cdef bytes raw
        self.ref = _store_ref(store)
        if instance is _RAW_FUNC:              # _lane_from_instance fills the rest
            self.store = store
            return
        # ``exports``: the instance's ``exports(store)`` when the caller already has it
        # (building it again costs more than the rest of this constructor).
        exports = instance.exports(_py_store(store)) if exports is None else exports
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
        self.alloc_fn = CoreFunc(store, alloc, "alloc")
        self.handle_fn = CoreFunc(store, handle, "handle")
        raw = _handles.memory_bytes(memory)
        if len(raw) != sizeof(wasmtime_memory_t):
            raise AbiMismatchError(f"memory handle is {len(raw)} bytes, expected {sizeof(wasmtime_memory_t)}")
        memcpy(&self.memory, PyBytes_AS_STRING(raw), sizeof(wasmtime_memory_t))
        self.store = store
        self._check_lane(store)

    cdef int _check_lane(self, object store) except -1:
        """The lane's signatures and the memory's Store (alloc_fn, handle_fn, memory set)."""
        self.alloc_fn.where = "core-ABI 'alloc'"
        self.handle_fn.where = "core-ABI 'handle'"
        got = _signature_text(_core_signature(self.ref, store, &self.alloc_fn.func))
        if got != "(i32) -> i32":
            raise TypeError(f"export 'alloc' of a core-ABI actor must be (i32) -> i32, found {got}")
        got = _signature_text(_core_signature(self.ref, store, &self.handle_fn.func))
        if got != "(i32, i32, i32, i32) -> i32":
            raise TypeError("export 'handle' of a core-ABI actor must be (i32, i32, i32, i32) -> i32, "
                            f"found {got}")
        _check_owner(self.ref, self.memory.anon.store_id, "export 'memory'")
        return 0

    def instance(self):
        """The ``wasmtime.Instance`` of a lane made by :meth:`InstancePre.instantiate_lane`
        (for its other exports), or None for a lane built from an Instance."""
        if not self.has_inst:
            return None
        return _handles.core_instance_from_bytes(
            PyBytes_FromStringAndSize(<char *>&self.inst, sizeof(wasmtime_instance_t)))

    def memory_size(self):
        """The guest memory's size in bytes now (ValueError once the Store is closed)."""
        cdef size_t size
        self.ref.enter(self.store)
        size = api.wasmtime_memory_data_size(self.ref.ctx, &self.memory)
        self.ref.leave()
        return size

    cdef object _alloc(self, uint64_t total, str what, bint suspendable, int32_t *ptr):
        """Start ``alloc(total)``: None with the pointer in ``ptr`` (0 for an empty payload,
        without a call), or the GuestCall of a suspended alloc."""
        cdef wasmtime_val_t arg
        if total > 0x7fffffff:
            raise ValueError(f"{what} is {total} bytes; the core-ABI lane carries at most 2 GiB - 1")
        ptr[0] = 0
        if total == 0:
            return None
        arg.kind = _CORE_I32
        arg.of.i64 = 0
        arg.of.i32 = <int32_t>total
        return self.alloc_fn._start_i32(&arg, suspendable, ptr)

    cdef uint64_t _copy(self, object returned, object a, object b, uint64_t total) except? 0xffffffffffffffff:
        """Bounds-check alloc's pointer and copy ``a`` then ``b`` (bytes-like) there."""
        cdef Py_buffer av, bv
        if total == 0:
            return 0
        _get_payload(a, &av, "sender")
        try:
            _get_payload(b, &bv, "message")
        except BaseException:
            PyBuffer_Release(&av)
            raise
        try:
            if <uint64_t>av.len + <uint64_t>bv.len != total:
                raise ValueError("a payload changed size while the guest allocated room for it")
            return self._copy_views(returned, <const uint8_t *>av.buf, <uint64_t>av.len,
                                    <const uint8_t *>bv.buf, <uint64_t>bv.len)
        finally:
            PyBuffer_Release(&av)
            PyBuffer_Release(&bv)

    cdef uint64_t _copy_views(self, int32_t returned, const uint8_t *a, uint64_t alen,
                              const uint8_t *b, uint64_t blen) except? 0xffffffffffffffff:
        cdef uint64_t total = alen + blen, size
        cdef uint64_t ptr = <uint32_t>returned
        cdef uint8_t *data
        if ptr == 0:                          # the ABI's "out of memory"
            raise TrapError(
                f"core-ABI 'alloc({total})' returned 0: the guest is out of memory; raise its "
                "[limits] memory or send smaller payloads", TrapKind.MEMORY_LIMIT)
        # Entered: no other thread may run (and grow this memory) during the copy.
        self.ref.enter(self.store)
        try:
            data = api.wasmtime_memory_data(self.ref.ctx, &self.memory)
            size = api.wasmtime_memory_data_size(self.ref.ctx, &self.memory)
            if data == NULL or ptr + total > size:
                raise TrapError(
                    f"core-ABI 'alloc({total})' returned 0x{ptr:x}, but [0x{ptr:x}, "
                    f"0x{ptr + total:x}) is outside the guest's {size}-byte memory; the guest "
                    "is faulty, restart it", TrapKind.OUT_OF_BOUNDS)
            if total > 65536:
                with nogil:
                    memcpy(data + ptr, a, <size_t>alen)
                    memcpy(data + ptr + alen, b, <size_t>blen)
            else:
                memcpy(data + ptr, a, <size_t>alen)
                memcpy(data + ptr + alen, b, <size_t>blen)
        finally:
            self.ref.leave()
        return ptr

    def write(self, data):
        """Copy ``data`` (bytes-like) into guest memory obtained from ``alloc``; returns the
        pointer (0 for empty data, without calling alloc)."""
        return self._write(data, 0)

    def start_write(self, data):
        """``write`` for an asynchronous driver: the pointer, or the GuestCall of ``alloc``."""
        return self._write(data, 1)

    cdef object _write(self, object data, bint suspendable):
        cdef Py_buffer view
        cdef int32_t ptr
        _get_payload(data, &view, "data")
        cdef uint64_t total = <uint64_t>view.len
        PyBuffer_Release(&view)
        out = self._alloc(total, "data", suspendable, &ptr)
        if out is not None:
            return (<GuestCall>out).then(_partial(self._written, data, total))
        return self._copy(ptr, data, b"", total)

    def _written(self, data, uint64_t total, get):
        return self._copy(get(), data, b"", total)

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
        return self._handle(sender, message, 0)

    def start_handle(self, sender, message):
        """``handle`` for an asynchronous driver: the i32, or a GuestCall of a suspended step."""
        return self._handle(sender, message, 1)

    cdef object _handle(self, object sender, object message, bint suspendable):
        cdef Py_buffer sview, mview
        cdef uint64_t slen, mlen, ptr
        cdef int32_t got
        if PyUnicode_Check(sender):
            sender = (<str>sender).encode("utf-8")
        _get_payload(sender, &sview, "sender")
        try:
            _get_payload(message, &mview, "message")
        except BaseException:
            PyBuffer_Release(&sview)
            raise
        try:
            slen = <uint64_t>sview.len
            mlen = <uint64_t>mview.len
            out = self._alloc(slen + mlen, "sender + message", suspendable, &got)
            if out is not None:             # alloc itself suspended: copy when it is done
                return (<GuestCall>out).then(_partial(self._allocated, sender, message, slen,
                                                      mlen, suspendable))
            ptr = 0 if slen + mlen == 0 else self._copy_views(
                got, <const uint8_t *>sview.buf, slen, <const uint8_t *>mview.buf, mlen)
        finally:
            PyBuffer_Release(&sview)
            PyBuffer_Release(&mview)
        return self._call_handle(ptr, slen, mlen, suspendable)

    def _allocated(self, sender, message, uint64_t slen, uint64_t mlen, bint suspendable, get):
        return self._deliver(get(), sender, message, slen, mlen, suspendable)

    cdef object _deliver(self, object returned, object sender, object message, uint64_t slen,
                         uint64_t mlen, bint suspendable):
        return self._call_handle(self._copy(returned, sender, message, slen + mlen), slen, mlen,
                                 suspendable)

    cdef object _call_handle(self, uint64_t ptr, uint64_t slen, uint64_t mlen, bint suspendable):
        cdef wasmtime_val_t args[4]
        cdef int i
        memset(args, 0, sizeof(args))
        for i in range(4):
            args[i].kind = _CORE_I32
        args[0].of.i32 = <int32_t>ptr
        args[1].of.i32 = <int32_t>slen
        args[2].of.i32 = <int32_t>(ptr + slen)
        args[3].of.i32 = <int32_t>mlen
        return self.handle_fn._start_raw(args, suspendable)


cdef int _lane_export(_StoreRef ref, wasmtime_instance_t *inst, bytes name, uint8_t kind,
                      wasmtime_extern_t *out) except -1:
    """Export ``name`` of a raw core instance, of extern ``kind`` (TypeError otherwise)."""
    cdef c_bool found = api.wasmtime_instance_export_get(ref.ctx, inst, name, len(name), out)
    if not found:
        raise TypeError("a core-ABI actor must export memory, alloc and handle; missing: "
                        + name.decode())
    if out.kind != kind:
        api.wasmtime_extern_delete(out)
        if kind == WT_EXTERN_MEMORY:
            raise TypeError("export 'memory' of a core-ABI actor must be a memory")
        want = "(i32) -> i32" if name == b"alloc" else "(i32, i32, i32, i32) -> i32"
        raise TypeError(f"export {name.decode()!r} of a core-ABI actor must be a function {want}")
    return 0


cdef CoreFunc _core_func_raw(object store, const wasmtime_func_t *func, str name):
    cdef CoreFunc f = CoreFunc.__new__(CoreFunc, store, _RAW_FUNC, name)
    f.func = func[0]
    f._setup(store, name)
    return f


cdef CoreLane _lane_from_instance(_StoreRef ref, object store, wasmtime_instance_t *inst):
    """The core-ABI lane of a raw instance: its three exports fetched in C, no wasmtime-py
    objects (those cost more than the instantiation itself)."""
    cdef wasmtime_extern_t memory, alloc, handle
    cdef CoreLane lane = CoreLane.__new__(CoreLane, store, _RAW_FUNC)
    _learn_store_id(ref, inst.store_id)
    ref._check_open(store)
    _lane_export(ref, inst, b"memory", WT_EXTERN_MEMORY, &memory)
    _lane_export(ref, inst, b"alloc", WT_EXTERN_FUNC, &alloc)
    _lane_export(ref, inst, b"handle", WT_EXTERN_FUNC, &handle)
    lane.memory = memory.of.memory
    lane.inst = inst[0]
    lane.has_inst = 1
    lane.alloc_fn = _core_func_raw(store, &alloc.of.func, "alloc")
    lane.handle_fn = _core_func_raw(store, &handle.of.func, "handle")
    lane._check_lane(store)
    return lane


@cython.final
cdef class _LaneInstantiation(_CallState):
    cdef wasmtime_instance_t minst
    cdef _StoreRef ref
    cdef object store

    cdef object _complete(self):
        cdef wasmtime_error_t *err = self.err
        if self.trap != NULL:             # start code trapped
            self._raise_error()
        self.err = NULL
        if err != NULL:                   # linking failed: not a trap
            raise wasmtime.WasmtimeError(_consume_error(err))
        return _lane_from_instance(self.ref, self.store, &self.minst)
