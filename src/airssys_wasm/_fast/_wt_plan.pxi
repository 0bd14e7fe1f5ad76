# Conversion plans: a WIT type compiled once into a tree of _Ty nodes, and the lower/lift walkers.
#
# Python representation (documented for users in fastcall.py):
#   bool -> bool; s8..u64 -> int (range-checked); f32/f64 -> float; char -> 1-char str;
#   string -> str; list<u8> -> bytes (any bytes-like accepted); list<T> -> list (tuple accepted);
#   record -> dict {field: value}; tuple -> tuple; variant -> (case, payload-or-None);
#   enum -> case str; option<T> -> None | value (Some(value) when T is itself an option);
#   result<T, E> -> ("ok", value-or-None) | ("err", value-or-None); flags -> frozenset[str].

# Node kinds: the component value kinds, plus a bulk variant of list<u8>.
cdef enum:
    K_BYTES = 100
    K_OWN = 101                  # own<r> / borrow<r> of a host resource (see _wt_resource.pxi)
    K_BORROW = 102

cdef str _OK = "ok"
cdef str _ERR = "err"
cdef tuple _OK_NONE = (_OK, None)
cdef tuple _ERR_NONE = (_ERR, None)


@cython.final
cdef class Some:
    """``some(value)`` of an ``option<T>`` whose T can itself be None (e.g. option<option<u8>>)."""

    cdef readonly object value

    def __init__(self, value):
        self.value = value

    def __eq__(self, other):
        if isinstance(other, Some):
            return self.value == (<Some>other).value
        return NotImplemented

    def __hash__(self):
        return hash(("Some", self.value))

    def __repr__(self):
        return f"Some({self.value!r})"


@cython.final
cdef class _Ty:
    cdef int kind
    cdef str wit                 # WIT spelling, for error messages
    cdef _Ty elem                # list element, option payload
    cdef list children           # record fields / tuple elements / variant payloads (None = no payload)
    cdef tuple names             # record fields / variant cases / enum cases / flags, as str
    cdef list names_utf8         # the same as bytes (what the C API carries)
    cdef dict index              # name -> position, for variant/enum/flags lowering
    cdef _Ty ok                  # result payloads (None = no payload)
    cdef _Ty err
    cdef bint wrap_some          # option whose payload may itself lift to None
    cdef bint reusable           # record of strings/enums only: equal dicts lower identically
    cdef object resource         # own/borrow: the HostResource

    def __repr__(self):
        return f"<plan {self.wit}>"


cdef _Ty _leaf(int kind, str wit):
    cdef _Ty t = _Ty.__new__(_Ty)
    t.kind = kind
    t.wit = wit
    return t


cdef _Ty _named(int kind, str wit, list names, list children):
    cdef _Ty t = _leaf(kind, wit)
    t.names = tuple(names)
    t.names_utf8 = [n.encode("utf-8") for n in names]
    t.index = {n: i for i, n in enumerate(names)}
    t.children = children
    return t


cdef list _SCALARS = [
    (_wc.Bool, WT_BOOL, "bool"), (_wc.S8, WT_S8, "s8"), (_wc.U8, WT_U8, "u8"),
    (_wc.S16, WT_S16, "s16"), (_wc.U16, WT_U16, "u16"), (_wc.S32, WT_S32, "s32"),
    (_wc.U32, WT_U32, "u32"), (_wc.S64, WT_S64, "s64"), (_wc.U64, WT_U64, "u64"),
    (_wc.F32, WT_F32, "f32"), (_wc.F64, WT_F64, "f64"), (_wc.Char, WT_CHAR, "char"),
    (_wc.String, WT_STRING, "string"),
]


cdef _Ty compile_type(object vt, object res=None):
    """Compile a wasmtime-py component ValType into a plan (once per function, at load)."""
    cdef _Ty t
    for cls, kind, wit in _SCALARS:
        if isinstance(vt, cls):
            return _leaf(kind, wit)
    if isinstance(vt, _wc.ListType):
        elem = compile_type(vt.element, res)
        if (<_Ty>elem).kind == WT_U8:
            return _leaf(K_BYTES, "list<u8>")
        t = _leaf(WT_LIST, f"list<{(<_Ty>elem).wit}>")
        t.elem = elem
        return t
    if isinstance(vt, _wc.RecordType):
        fields = vt.fields
        children = [compile_type(ty, res) for _, ty in fields]
        names = [name for name, _ in fields]
        t = _named(WT_RECORD, "record{" + ", ".join(
            f"{n}: {(<_Ty>c).wit}" for n, c in zip(names, children)) + "}", names, children)
        t.reusable = all((<_Ty>c).kind in (WT_STRING, WT_ENUM) for c in children)
        return t
    if isinstance(vt, _wc.TupleType):
        children = [compile_type(ty, res) for ty in vt.elements]
        return _named(WT_TUPLE, "tuple<" + ", ".join((<_Ty>c).wit for c in children) + ">",
                      [], children)
    if isinstance(vt, _wc.VariantType):
        cases = vt.cases
        children = [None if ty is None else compile_type(ty, res) for _, ty in cases]
        names = [name for name, _ in cases]
        return _named(WT_VARIANT, "variant{" + ", ".join(
            n if c is None else f"{n}({(<_Ty>c).wit})" for n, c in zip(names, children)) + "}",
            names, children)
    if isinstance(vt, _wc.EnumType):
        names = list(vt.names)
        return _named(WT_ENUM, "enum{" + ", ".join(names) + "}", names, [])
    if isinstance(vt, _wc.OptionType):
        elem = compile_type(vt.payload, res)
        t = _leaf(WT_OPTION, f"option<{(<_Ty>elem).wit}>")
        t.elem = elem
        t.wrap_some = (<_Ty>elem).kind == WT_OPTION
        return t
    if isinstance(vt, _wc.ResultType):
        ok = vt.ok
        err = vt.err
        t = _leaf(WT_RESULT, "")
        t.ok = None if ok is None else compile_type(ok, res)
        t.err = None if err is None else compile_type(err, res)
        t.wit = "result<{}, {}>".format("_" if t.ok is None else t.ok.wit,
                                        "_" if t.err is None else t.err.wit)
        return t
    if isinstance(vt, _wc.FlagsType):
        names = list(vt.names)
        return _named(WT_FLAGS, "flags{" + ", ".join(names) + "}", names, [])
    if isinstance(vt, (_wc.OwnType, _wc.BorrowType)):
        owned = isinstance(vt, _wc.OwnType)
        for guest_type, hr in (res or ()):
            if guest_type == vt.ty:
                t = _leaf(K_OWN if owned else K_BORROW,
                          f"{'own' if owned else 'borrow'}<{(<HostResource>hr).name}>")
                t.resource = hr
                return t
        raise TypeError(
            f"the fast call path handles only resources the host defines (host.provide); this "
            f"{'own' if owned else 'borrow'}<...> is of a resource it was not given "
            "(a guest-defined resource, or one of an interface this host does not provide)")
    raise TypeError(
        f"the fast call path does not support the WIT type {vt!r} (streams, futures and "
        "error-context are not supported); call this function through wasmtime-py instead")


# --- lowering: Python -> wasmtime_component_val_t ----------------------------------------------

cdef inline str _tname(object v):
    return type(v).__name__


cdef int64_t _signed(object v, _Ty t, int64_t lo, int64_t hi) except? -1:
    cdef int overflow = 0
    cdef long long x
    if not PyLong_Check(v) or PyBool_Check(v):
        raise TypeError(f"expected int for {t.wit}, got {_tname(v)}")
    x = PyLong_AsLongLongAndOverflow(v, &overflow)
    if overflow != 0 or x < lo or x > hi:
        raise ValueError(f"{v} is out of range for {t.wit} ({lo}..{hi})")
    return x


cdef uint64_t _unsigned(object v, _Ty t, uint64_t hi) except? 0xffffffffffffffff:
    cdef uint64_t x
    if not PyLong_Check(v) or PyBool_Check(v):
        raise TypeError(f"expected int for {t.wit}, got {_tname(v)}")
    try:
        x = PyLong_AsUnsignedLongLong(v)        # negative or too large: OverflowError
    except OverflowError:
        raise ValueError(f"{v} is out of range for {t.wit} (0..{hi})") from None
    if x > hi:
        raise ValueError(f"{v} is out of range for {t.wit} (0..{hi})")
    return x


cdef double _float(object v, _Ty t) except? -1.0:
    if PyFloat_Check(v):
        return PyFloat_AS_DOUBLE(v)
    if PyLong_Check(v) and not PyBool_Check(v):
        try:
            return PyLong_AsDouble(v)
        except OverflowError:
            raise ValueError(f"{v} is too large for {t.wit}") from None
    raise TypeError(f"expected float for {t.wit}, got {_tname(v)}")


cdef int _name_vec(wasm_byte_vec_t *out, bytes name) except -1:
    api.wasm_byte_vec_new(out, len(name), <const uint8_t *>PyBytes_AS_STRING(name))
    return 0


cdef int _case_index(_Ty t, object name) except -1:
    cdef PyObject *found
    if not PyUnicode_Check(name):
        raise TypeError(f"expected a case name (str) for {t.wit}, got {_tname(name)}")
    found = PyDict_GetItemWithError(t.index, name)
    if found == NULL:
        raise ValueError(f"{name!r} is not a case of {t.wit}; valid: {', '.join(t.names)}")
    return <int><object>found


cdef int _lower_boxed(_Ty t, object v, wasmtime_component_val_t **slot) except -1:
    """Lower into a fresh heap value owned by *slot (which the caller already attached)."""
    cdef wasmtime_component_val_t tmp
    tmp.kind = WT_BOOL
    tmp.of.boolean = 0
    try:
        lower(t, v, &tmp)
    except BaseException:
        api.wasmtime_component_val_delete(&tmp)
        raise
    slot[0] = api.wasmtime_component_val_new(&tmp)
    return 0


# The two helpers below hold what lower() would otherwise hold itself: a comprehension makes
# Cython allocate a closure scope on every call of the function containing it, and lower()
# runs for every argument of every call.
cdef list _flag_indices(_Ty t, object v):
    return sorted({_case_index(t, name) for name in v})


cdef str _extra_fields(_Ty t, object v):
    return ", ".join(sorted(repr(k) for k in v if k not in t.index))


cdef int lower(_Ty t, object v, wasmtime_component_val_t *out) except -1:
    """Convert ``v`` into ``*out``. On return — success or error — ``*out`` is a valid value
    that ``wasmtime_component_val_delete`` may free (partially built values stay attached)."""
    cdef int kind = t.kind
    cdef Py_ssize_t n, i
    cdef Py_UCS4 ch
    cdef const char *s
    cdef Py_buffer view
    cdef wasmtime_component_val_t *items
    cdef wasmtime_component_valrecord_entry_t *entries
    cdef PyObject *item
    cdef object value
    cdef _Ty child
    cdef int idx
    out.kind = WT_BOOL
    out.of.boolean = 0
    if kind == WT_BOOL:
        if v is True:
            out.of.boolean = 1
        elif v is not False:
            raise TypeError(f"expected bool, got {_tname(v)}")
    elif kind == WT_U32:
        out.of.u32 = <uint32_t>_unsigned(v, t, 0xffffffff)
        out.kind = WT_U32
    elif kind == WT_S32:
        out.of.s32 = <int32_t>_signed(v, t, -2147483648, 2147483647)
        out.kind = WT_S32
    elif kind == WT_U8:
        out.of.u8 = <uint8_t>_unsigned(v, t, 0xff)
        out.kind = WT_U8
    elif kind == WT_S8:
        out.of.s8 = <int8_t>_signed(v, t, -128, 127)
        out.kind = WT_S8
    elif kind == WT_U16:
        out.of.u16 = <uint16_t>_unsigned(v, t, 0xffff)
        out.kind = WT_U16
    elif kind == WT_S16:
        out.of.s16 = <int16_t>_signed(v, t, -32768, 32767)
        out.kind = WT_S16
    elif kind == WT_U64:
        out.of.u64 = _unsigned(v, t, 0xffffffffffffffff)
        out.kind = WT_U64
    elif kind == WT_S64:
        out.of.s64 = _signed(v, t, INT64_MIN, INT64_MAX)
        out.kind = WT_S64
    elif kind == WT_F32:
        out.of.f32 = <float>_float(v, t)
        out.kind = WT_F32
    elif kind == WT_F64:
        out.of.f64 = _float(v, t)
        out.kind = WT_F64
    elif kind == WT_CHAR:
        if not PyUnicode_Check(v) or PyUnicode_GET_LENGTH(v) != 1:
            raise TypeError(f"expected a one-character str for char, got {v!r:.40}")
        ch = PyUnicode_READ_CHAR(v, 0)
        if 0xD800 <= ch <= 0xDFFF:
            raise ValueError(f"U+{<uint32_t>ch:04X} is a surrogate, not a Unicode scalar value; char cannot carry it")
        out.of.character = ch
        out.kind = WT_CHAR
    elif kind == WT_STRING:
        if not PyUnicode_Check(v):
            raise TypeError(f"expected str for string, got {_tname(v)}")
        try:
            s = PyUnicode_AsUTF8AndSize(v, &n)
        except UnicodeEncodeError as exc:
            raise ValueError(f"the str is not valid Unicode for a WIT string ({exc.reason} at "
                             f"index {exc.start}); remove lone surrogates") from None
        api.wasm_byte_vec_new(&out.of.string, <size_t>n, <const uint8_t *>s)
        out.kind = WT_STRING
    elif kind == K_BYTES:
        if PyUnicode_Check(v) or PyList_Check(v) or PyTuple_Check(v):
            raise TypeError(f"expected a bytes-like object (bytes, bytearray, memoryview) for "
                            f"list<u8>, got {_tname(v)}")
        try:
            PyObject_GetBuffer(v, &view, PyBUF_SIMPLE)
        except (TypeError, BufferError):
            raise TypeError(f"expected a contiguous bytes-like object for list<u8>, got {_tname(v)}") from None
        try:
            api.wasmtime_component_vallist_new_uninit(&out.of.list, <size_t>view.len)
            items = out.of.list.data
            for i in range(view.len):
                items[i].kind = WT_U8
                items[i].of.u8 = (<const uint8_t *>view.buf)[i]
            out.kind = WT_LIST
        finally:
            PyBuffer_Release(&view)
    elif kind == WT_LIST:
        if not PyList_Check(v) and not PyTuple_Check(v):
            raise TypeError(f"expected list for {t.wit}, got {_tname(v)}")
        n = len(v)
        api.wasmtime_component_vallist_new_uninit(&out.of.list, <size_t>n)
        items = out.of.list.data
        if n:
            memset(items, 0, <size_t>n * sizeof(wasmtime_component_val_t))
        out.kind = WT_LIST
        child = t.elem
        for i in range(n):
            if PyList_Check(v):
                # Lowering an element can run user code (__eq__ of a tag, __index__ ...) that
                # shrinks the list: re-check the size and own each element while using it.
                if i >= PyList_GET_SIZE(v):
                    raise ValueError(f"the list changed size while being converted for {t.wit}")
                value = <object>PyList_GET_ITEM(v, i)
            else:
                value = <object>PyTuple_GET_ITEM(v, i)
            try:
                lower(child, value, &items[i])
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"[{i}]: {exc}") from None
    elif kind == WT_RECORD:
        if not PyDict_Check(v):
            raise TypeError(f"expected dict for {t.wit}, got {_tname(v)}")
        n = len(t.children)
        api.wasmtime_component_valrecord_new_uninit(&out.of.record, <size_t>n)
        entries = out.of.record.data
        for i in range(n):
            _name_vec(&entries[i].name, <bytes>PyList_GET_ITEM(t.names_utf8, i))
            entries[i].val.kind = WT_BOOL
            entries[i].val.of.boolean = 0
        out.kind = WT_RECORD
        for i in range(n):
            item = PyDict_GetItemWithError(v, <object>PyTuple_GET_ITEM(t.names, i))
            if item == NULL:
                raise TypeError(f"missing field {t.names[i]!r} of {t.wit}")
            value = <object>item                    # owned: the dict may change meanwhile
            try:
                lower(<_Ty>PyList_GET_ITEM(t.children, i), value, &entries[i].val)
            except (TypeError, ValueError) as exc:
                raise type(exc)(f".{t.names[i]}: {exc}") from None
        if PyDict_Size(v) != n:
            raise TypeError(f"unknown field(s) {_extra_fields(t, v)} for {t.wit}")
    elif kind == WT_TUPLE:
        n = len(t.children)
        if not (PyTuple_Check(v) or PyList_Check(v)) or len(v) != n:
            raise TypeError(f"expected a {n}-tuple for {t.wit}, got {v!r:.60}")
        api.wasmtime_component_valtuple_new_uninit(&out.of.tuple, <size_t>n)
        items = out.of.tuple.data
        if n:
            memset(items, 0, <size_t>n * sizeof(wasmtime_component_val_t))
        out.kind = WT_TUPLE
        for i in range(n):
            if PyTuple_Check(v):
                value = <object>PyTuple_GET_ITEM(v, i)
            else:
                if i >= PyList_GET_SIZE(v):
                    raise ValueError(f"the list changed size while being converted for {t.wit}")
                value = <object>PyList_GET_ITEM(v, i)
            try:
                lower(<_Ty>PyList_GET_ITEM(t.children, i), value, &items[i])
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"[{i}]: {exc}") from None
    elif kind == WT_VARIANT:
        if PyUnicode_Check(v):
            case, payload = v, None
        elif PyTuple_Check(v) and PyTuple_GET_SIZE(v) == 2:
            case, payload = <object>PyTuple_GET_ITEM(v, 0), <object>PyTuple_GET_ITEM(v, 1)
        else:
            raise TypeError(f"expected (case, payload) or a case name for {t.wit}, got {v!r:.60}")
        idx = _case_index(t, case)
        child = <_Ty>PyList_GET_ITEM(t.children, idx) if PyList_GET_ITEM(t.children, idx) != <PyObject *>None else None
        if child is None and payload is not None:
            raise TypeError(f"case {case!r} of {t.wit} has no payload, got {payload!r:.40}")
        if child is not None and PyUnicode_Check(v):
            raise TypeError(f"case {case!r} of {t.wit} needs a payload: pass ({case!r}, value)")
        _name_vec(&out.of.variant.discriminant, <bytes>PyList_GET_ITEM(t.names_utf8, idx))
        out.of.variant.val = NULL
        out.kind = WT_VARIANT
        if child is not None:
            try:
                _lower_boxed(child, payload, &out.of.variant.val)
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"({case}): {exc}") from None
    elif kind == WT_ENUM:
        idx = _case_index(t, v)
        _name_vec(&out.of.enumeration, <bytes>PyList_GET_ITEM(t.names_utf8, idx))
        out.kind = WT_ENUM
    elif kind == WT_OPTION:
        out.of.option = NULL
        out.kind = WT_OPTION
        if v is not None:
            if t.wrap_some:
                if not isinstance(v, Some):
                    raise TypeError(f"expected None or Some(value) for the nested {t.wit}, got {v!r:.40}")
                v = (<Some>v).value
            _lower_boxed(t.elem, v, &out.of.option)
    elif kind == WT_RESULT:
        if not (PyTuple_Check(v) and PyTuple_GET_SIZE(v) == 2):
            raise TypeError(f"expected ('ok', value) or ('err', value) for {t.wit}, got {v!r:.60}")
        case = <object>PyTuple_GET_ITEM(v, 0)
        payload = <object>PyTuple_GET_ITEM(v, 1)
        if not PyUnicode_CheckExact(case):
            raise TypeError(f"the tag of {t.wit} must be 'ok' or 'err', got {case!r:.40}")
        if case == _OK:
            child = t.ok
            out.of.result.is_ok = 1
        elif case == _ERR:
            child = t.err
            out.of.result.is_ok = 0
        else:
            raise ValueError(f"the tag of {t.wit} must be 'ok' or 'err', got {case!r:.40}")
        out.of.result.val = NULL
        out.kind = WT_RESULT
        if child is None:
            if payload is not None:
                raise TypeError(f"{case} of {t.wit} has no payload, got {payload!r:.40}")
        else:
            try:
                _lower_boxed(child, payload, &out.of.result.val)
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"({case}): {exc}") from None
    elif kind == K_OWN or kind == K_BORROW:
        lower_resource(t, v, out)
    elif kind == WT_FLAGS:
        if PyUnicode_Check(v) or not isinstance(v, (set, frozenset, list, tuple)):
            raise TypeError(f"expected a set of flag names for {t.wit}, got {_tname(v)}")
        chosen = _flag_indices(t, v)
        n = len(chosen)
        api.wasmtime_component_valflags_new_uninit(&out.of.flags, <size_t>n)
        for i in range(n):
            _name_vec(&out.of.flags.data[i], <bytes>t.names_utf8[<int>chosen[i]])
        out.kind = WT_FLAGS
    else:
        raise TypeError(f"cannot lower {t.wit}")
    return 0


# --- lifting: wasmtime_component_val_t -> Python -----------------------------------------------

cdef inline int _expect(const wasmtime_component_val_t *v, int kind, _Ty t) except -1:
    if v.kind != kind:
        raise TypeError(f"value kind {v.kind} does not match the declared {t.wit} (kind {kind}); "
                        "the function's real type differs from the plan it was registered with")
    return 0


cdef int _match_name(_Ty t, const wasm_byte_vec_t *name) except -1:
    cdef Py_ssize_t i
    cdef bytes candidate
    for i in range(len(t.names_utf8)):
        candidate = <bytes>PyList_GET_ITEM(t.names_utf8, i)
        if <size_t>len(candidate) == name.size and (name.size == 0 or memcmp(
                PyBytes_AS_STRING(candidate), name.data, name.size) == 0):
            return <int>i
    raise ValueError(f"{t.wit} received unknown case {bytes(name.data[:name.size])!r:.60}")


cdef inline bint _is_name(_Ty t, Py_ssize_t i, const wasm_byte_vec_t *name) noexcept:
    """Is ``name`` the ``i``-th of ``t``'s names? (Records arrive in declaration order: one
    compare per field instead of a search.)"""
    cdef bytes candidate = <bytes>PyList_GET_ITEM(t.names_utf8, i)
    return <size_t>PyBytes_GET_SIZE(candidate) == name.size and (name.size == 0 or memcmp(
        PyBytes_AS_STRING(candidate), name.data, name.size) == 0)


cdef object _utf8(const wasm_byte_vec_t *s):
    if s.size > <size_t>0x7fffffffffffffff:
        raise ValueError("string length overflows")
    try:
        return PyUnicode_DecodeUTF8(<const char *>s.data, <Py_ssize_t>s.size, "strict")
    except UnicodeDecodeError as exc:
        raise ValueError(f"the guest produced a string that is not valid UTF-8 ({exc.reason} at "
                         f"byte {exc.start}); the component is faulty") from None


cdef object lift(_Ty t, const wasmtime_component_val_t *v):
    cdef int kind = t.kind
    cdef size_t i, n
    cdef object out, item
    cdef char *buf
    cdef const wasmtime_component_val_t *items
    cdef const wasmtime_component_valrecord_entry_t *entries
    cdef int idx
    cdef _Ty child
    if kind == K_BYTES:
        _expect(v, WT_LIST, t)
        n = v.of.list.size
        items = v.of.list.data
        out = PyBytes_FromStringAndSize(NULL, <Py_ssize_t>n)
        buf = PyBytes_AS_STRING(out)
        for i in range(n):
            if items[i].kind != WT_U8:
                _expect(&items[i], WT_U8, t)
            buf[i] = <char>items[i].of.u8
        return out
    if kind == K_OWN or kind == K_BORROW:
        return lift_resource(t, v)
    _expect(v, kind, t)
    if kind == WT_BOOL:
        return True if v.of.boolean else False
    if kind == WT_U32:
        return PyLong_FromUnsignedLongLong(v.of.u32)
    if kind == WT_S32:
        return PyLong_FromLong(v.of.s32)
    if kind == WT_U8:
        return PyLong_FromLong(v.of.u8)
    if kind == WT_S8:
        return PyLong_FromLong(v.of.s8)
    if kind == WT_U16:
        return PyLong_FromLong(v.of.u16)
    if kind == WT_S16:
        return PyLong_FromLong(v.of.s16)
    if kind == WT_U64:
        return PyLong_FromUnsignedLongLong(v.of.u64)
    if kind == WT_S64:
        return PyLong_FromLongLong(v.of.s64)
    if kind == WT_F32:
        return PyFloat_FromDouble(v.of.f32)
    if kind == WT_F64:
        return PyFloat_FromDouble(v.of.f64)
    if kind == WT_CHAR:
        if v.of.character > 0x10FFFF or 0xD800 <= v.of.character <= 0xDFFF:
            raise ValueError(f"char value 0x{v.of.character:x} is not a Unicode scalar value")
        return PyUnicode_FromOrdinal(<int>v.of.character)
    if kind == WT_STRING:
        return _utf8(&v.of.string)
    if kind == WT_LIST:
        n = v.of.list.size
        items = v.of.list.data
        out = PyList_New(<Py_ssize_t>n)
        for i in range(n):
            item = lift(t.elem, &items[i])
            Py_INCREF(item)
            PyList_SET_ITEM(out, <Py_ssize_t>i, item)
        return out
    if kind == WT_RECORD:
        n = v.of.record.size
        if n != <size_t>len(t.children):
            raise ValueError(f"{t.wit} received {n} fields")
        entries = v.of.record.data
        out = {}
        for i in range(n):
            if not _is_name(t, <Py_ssize_t>i, &entries[i].name) and \
                    _match_name(t, &entries[i].name) != <int>i:
                raise ValueError(f"{t.wit} received its fields out of order")
            PyDict_SetItem(out, <object>PyTuple_GET_ITEM(t.names, i),
                           lift(<_Ty>PyList_GET_ITEM(t.children, i), &entries[i].val))
        return out
    if kind == WT_TUPLE:
        n = v.of.tuple.size
        if n != <size_t>len(t.children):
            raise ValueError(f"{t.wit} received {n} elements")
        items = v.of.tuple.data
        out = PyTuple_New(<Py_ssize_t>n)
        for i in range(n):
            item = lift(<_Ty>PyList_GET_ITEM(t.children, i), &items[i])
            Py_INCREF(item)
            PyTuple_SET_ITEM(out, <Py_ssize_t>i, item)
        return out
    if kind == WT_VARIANT:
        idx = _match_name(t, &v.of.variant.discriminant)
        child = <_Ty>PyList_GET_ITEM(t.children, idx) if PyList_GET_ITEM(t.children, idx) != <PyObject *>None else None
        if child is None:
            return (<object>PyTuple_GET_ITEM(t.names, idx), None)
        if v.of.variant.val == NULL:
            raise ValueError(f"case {t.names[idx]} of {t.wit} arrived without its payload")
        return (<object>PyTuple_GET_ITEM(t.names, idx), lift(child, v.of.variant.val))
    if kind == WT_ENUM:
        return <object>PyTuple_GET_ITEM(t.names, _match_name(t, &v.of.enumeration))
    if kind == WT_OPTION:
        if v.of.option == NULL:
            return None
        item = lift(t.elem, v.of.option)
        return Some(item) if t.wrap_some else item
    if kind == WT_RESULT:
        child = t.ok if v.of.result.is_ok else t.err
        tag = _OK if v.of.result.is_ok else _ERR
        if child is None:
            return _OK_NONE if v.of.result.is_ok else _ERR_NONE   # immutable: shared
        if v.of.result.val == NULL:
            raise ValueError(f"{tag} of {t.wit} arrived without its payload")
        return (tag, lift(child, v.of.result.val))
    if kind == WT_FLAGS:
        return frozenset([<object>PyTuple_GET_ITEM(t.names, _match_name(t, &v.of.flags.data[i]))
                          for i in range(v.of.flags.size)])
    raise TypeError(f"cannot lift {t.wit}")


@cython.final
cdef class FuncPlan:
    """A function's parameter and result plans, resolved once from its type."""

    cdef readonly str name
    cdef tuple param_names
    cdef list params          # list[_Ty]
    cdef _Ty result           # None when the function returns nothing
    cdef Py_ssize_t nparams

    @staticmethod
    def from_functype(str name, functype, resources=None):
        """Compile a ``wasmtime.component.FuncType`` (params, result) into a plan.
        ``resources``: ``[(guest ResourceType, HostResource)]`` for own/borrow values."""
        cdef FuncPlan p = FuncPlan.__new__(FuncPlan)
        params = functype.params
        p.name = name
        p.param_names = tuple(pname for pname, _ in params)
        p.params = [compile_type(ty, resources) for _, ty in params]
        p.nparams = len(p.params)
        result = functype.result
        p.result = None if result is None else compile_type(result, resources)
        return p

    @property
    def signature(self):
        """``name(param: type, ...) -> type`` in WIT spelling, for messages and debugging."""
        args = ", ".join(f"{n}: {(<_Ty>t).wit}" for n, t in zip(self.param_names, self.params))
        return f"{self.name}({args})" + ("" if self.result is None else f" -> {self.result.wit}")

    def __repr__(self):
        return f"<FuncPlan {self.signature}>"
