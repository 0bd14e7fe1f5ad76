# Host resources: WIT `resource` types implemented in Python.
#
# Wasmtime keeps, per guest, the table of handles (the small integers the guest holds) and
# checks every handle the guest passes (a forged or dropped index never reaches the host). What
# a handle stands for on the host side is a u32 "rep" we choose: each Store (_StoreRef) maps rep
# -> (Python object, HostResource). A borrow<r> argument hands the object; an own<r> argument
# moves it out of the table (the host owns it now); an own<r> result inserts it under a new rep.
# When the guest drops its last handle wasmtime runs our destructor, which removes the entry
# and calls the resource's drop hook. Entries a guest never dropped are released (drop hook
# included) by release_resources when its Store closes, so nothing outlives the instance.
#
# Every rep and type id is checked against the table before use: a mismatch is a Python error
# (the guest traps with kind host_error), never a lookup past the table.

cdef uint32_t _next_resource_type = 1


@cython.final
cdef class HostResource:
    """A resource type implemented by the host, defined with :func:`define_host_resource`."""

    cdef readonly str name
    cdef readonly uint32_t type_id    # the u32 of wasmtime_component_resource_type_new_host
    cdef readonly object cls          # own<r> results must be instances of it (None: anything)
    cdef readonly object drop         # called with the object when its last handle is dropped

    def __repr__(self):
        return f"<HostResource {self.name} #{self.type_id}>"


cdef _StoreRef _resource_store(str what):
    cdef _StoreRef s = _current_store()
    if s is None:
        raise RuntimeError(f"{what} needs the calling instance's Store, but the guest was not "
                           "entered through the fast call path; call its exports through "
                           "airssys_wasm's runtime")
    return s


cdef uint32_t _table_insert(_StoreRef s, object obj, HostResource hr) except 0:
    cdef uint32_t rep
    if s.resources is None:
        s.resources = {}
        s.resource_counts = {}
    if len(s.resources) >= 0xfffffff0:
        raise ValueError(f"this instance holds too many live resources to create another {hr.name}")
    rep = s.next_rep
    while rep == 0 or rep in s.resources:
        rep += 1                       # wraps at 2**32; 0 is never used
    s.next_rep = rep + 1
    s.resources[rep] = (obj, hr)
    key = id(obj)
    s.resource_counts[key] = s.resource_counts.get(key, 0) + 1
    return rep


cdef tuple _table_take(_StoreRef s, uint32_t rep):
    """Remove ``rep``: (object, resource, whether that was the object's last handle)."""
    entry = s.resources.pop(rep)
    obj = entry[0]
    key = id(obj)
    left = s.resource_counts[key] - 1
    if left:
        s.resource_counts[key] = left
    else:
        del s.resource_counts[key]
    return (obj, entry[1], left == 0)


cdef object lift_resource(_Ty t, const wasmtime_component_val_t *v):
    """The Python object behind an own/borrow handle the guest passed (own: taken out)."""
    cdef HostResource hr = <HostResource>t.resource
    cdef _StoreRef s
    cdef wasmtime_component_resource_host_t *h = NULL
    cdef wasmtime_error_t *err
    cdef uint32_t rep, tid
    _expect(v, WT_RESOURCE, t)
    if v.of.resource == NULL:
        raise ValueError(f"{t.wit} arrived without its resource")
    s = _resource_store(f"the {t.wit} argument")
    err = api.wasmtime_component_resource_any_to_host(s.ctx, v.of.resource, &h)
    if err != NULL:
        raise ValueError(f"{t.wit}: the handle is not a host resource ({_consume_error(err)})")
    if h == NULL:
        raise ValueError(f"{t.wit}: wasmtime returned no host resource")
    rep = api.wasmtime_component_resource_host_rep(h)
    tid = api.wasmtime_component_resource_host_type(h)
    api.wasmtime_component_resource_host_delete(h)
    if tid != hr.type_id:
        raise ValueError(f"{t.wit}: the handle is of another host resource type (#{tid})")
    entry = None if s.resources is None else s.resources.get(rep)
    if entry is None or (<tuple>entry)[1] is not hr:
        raise ValueError(f"{t.wit}: handle {rep} is not a live {hr.name} of this instance "
                         "(already dropped, or released with its Store)")
    if t.kind == K_OWN:
        _table_take(s, rep)            # ownership moves to the host function
    return (<tuple>entry)[0]


cdef int lower_resource(_Ty t, object v, wasmtime_component_val_t *out) except -1:
    """Give the guest a new own handle of ``v`` (``*out`` stays a bool until it exists)."""
    cdef HostResource hr = <HostResource>t.resource
    cdef _StoreRef s
    cdef wasmtime_component_resource_host_t *h
    cdef wasmtime_component_resource_any_t *res = NULL
    cdef wasmtime_error_t *err
    cdef uint32_t rep
    if t.kind != K_OWN:
        raise TypeError(f"the host cannot pass a {t.wit} to a guest (only own handles)")
    if hr.cls is not None and not isinstance(v, hr.cls):
        raise TypeError(f"expected a {hr.cls.__name__} for {t.wit}, got {_tname(v)}")
    s = _resource_store(f"returning a {t.wit}")
    rep = _table_insert(s, v, hr)
    h = api.wasmtime_component_resource_host_new(1, rep, hr.type_id)
    if h == NULL:
        _table_take(s, rep)
        raise MemoryError(f"wasmtime could not create a {t.wit} handle")
    err = api.wasmtime_component_resource_host_to_any(s.ctx, h, &res)
    api.wasmtime_component_resource_host_delete(h)
    if err != NULL or res == NULL:
        _table_take(s, rep)
        raise ValueError(f"cannot hand a {t.wit} to the guest"
                         + ("" if err == NULL else f": {_consume_error(err)}"))
    out.of.resource = res
    out.kind = WT_RESOURCE
    return 0


cdef wasmtime_error_t *_resource_dtor(void *env, wasmtime_context_t *ctx,
                                      uint32_t rep) noexcept with gil:
    """The guest dropped an own handle: forget the entry; the last handle runs the drop hook."""
    cdef HostResource hr = <HostResource>env
    cdef _StoreRef s
    cdef bytes text
    try:
        s = _current_store()
        if s is None or s.ctx != ctx:
            raise RuntimeError(f"resource {hr.name} was dropped outside a guest call entered "
                               "through the fast call path")
        entry = None if s.resources is None else s.resources.get(rep)
        if entry is None or (<tuple>entry)[1] is not hr:
            raise LookupError(f"resource {hr.name}: handle {rep} is not live in this instance")
        obj, _, last = _table_take(s, rep)
        if last and hr.drop is not None:
            hr.drop(obj)
        return NULL
    except BaseException as exc:
        try:
            text = (f"host resource '{hr.name}' drop raised {type(exc).__name__}: {exc}"
                    ).encode("utf-8", "replace").replace(b"\0", b" ")
        except BaseException:
            text = b"host resource drop raised an exception"
        _park_exception(exc, text)
        return api.wasmtime_error_new(text)


def define_host_resource(linker_instance, str name, cls=None, drop=None):
    """Define the host resource type ``name`` in a ``wasmtime.component.LinkerInstance``.

    Returns its :class:`HostResource`; pass ``[(guest's ResourceType, HostResource)]`` as
    ``resources=`` to :func:`define_host_func` so plans of own/borrow values find it. ``cls``:
    objects the host returns as ``own<name>`` must be its instances (None: any object).
    ``drop(obj)`` runs when the guest drops an object's last handle (and for what is left
    when the Store is released, see :func:`release_resources`).
    """
    global _next_resource_type
    if drop is not None and not callable(drop):
        raise TypeError(f"drop hook of resource {name!r} must be callable, got {_tname(drop)}")
    if cls is not None and not isinstance(cls, type):
        raise TypeError(f"cls of resource {name!r} must be a class, got {_tname(cls)}")
    cdef size_t address = _handles.linker_instance_address(linker_instance)
    cdef HostResource hr = HostResource.__new__(HostResource)
    hr.name = name
    hr.cls = cls
    hr.drop = drop
    if _next_resource_type == 0xffffffff:
        raise ValueError("no host resource type ids left in this process")
    hr.type_id = _next_resource_type
    _next_resource_type += 1
    cdef bytes name_b = name.encode("utf-8")
    cdef wasmtime_component_resource_type_t *rt = api.wasmtime_component_resource_type_new_host(hr.type_id)
    if rt == NULL:
        raise MemoryError(f"wasmtime could not create resource type {name!r}")
    Py_INCREF(hr)                       # owned by the linker; released by _host_finalizer
    cdef wasmtime_error_t *err = api.wasmtime_component_linker_instance_add_resource(
        <wasmtime_component_linker_instance_t *>address, PyBytes_AS_STRING(name_b),
        <size_t>len(name_b), rt, _resource_dtor, <void *>hr, _host_finalizer)
    api.wasmtime_component_resource_type_delete(rt)
    if err != NULL:
        # As for functions, wasmtime drops the closure data (running the finalizer) on failure.
        raise ValueError(f"cannot define host resource {name!r}: {_consume_error(err)}")
    return hr


def release_resources(store):
    """Forget every resource object the guests of ``store`` still hold, running each object's
    drop hook once; returns the exceptions the hooks raised (the caller logs them). For when
    the Store is closed: its handles die with it, wasmtime runs no destructor then."""
    _forget_last_store(store)
    ref = store if type(store) is _StoreRef else _STORE_REFS.get(store)
    if ref is None and type(store) is _BORROWED:
        ref = store.owner
    if ref is None:
        return []
    cdef _StoreRef s = <_StoreRef>ref
    if not s.resources:
        return []
    entries = list(s.resources.values())
    s.resources = None
    s.resource_counts = None
    errors = []
    seen = set()
    for obj, hr in entries:
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if (<HostResource>hr).drop is not None:
            try:
                (<HostResource>hr).drop(obj)
            except Exception as exc:
                errors.append(exc)
    return errors

