"""The one place that touches wasmtime-py internals.

The fast call path drives the C library that wasmtime-py bundles, using raw handles taken from
wasmtime-py objects. Everything that depends on wasmtime-py *private* details — the loaded
``CDLL`` (``wasmtime._ffi.dll``), ``Func._func``, ``Memory._memory``, ``Global._global``,
``Store._context()`` and the name-mangled attribute behind it, ``LinkerInstance.ptr()``,
``FuncType._from_ptr``, and the ``Config`` switches wasmtime-py does not expose (pooling
allocator, component-model concurrency, the fiber stack size), the raw addresses of engines,
linkers, modules and components, and wrapping instances made by the C API —lives here, so a wasmtime upgrade means re-checking
one file.

Why function pointers from the already-loaded ``CDLL`` instead of linking or a second ``dlopen``:
the wheel ships no headers and the library has no SONAME, so a link step would hard-code a
site-packages path; and a second copy of the library would have its own globals (allocators,
type registries), making handles from wasmtime-py objects meaningless to it. Taking addresses
from wasmtime-py's own ``CDLL`` guarantees one library instance and costs nothing at call time.

Import-time guarantees (:func:`check_abi`): the installed wasmtime is exactly the version the
declarations in ``wasmtime_c.pxd`` were written for, and every struct size and field offset the
Cython code relies on equals the one in wasmtime-py's generated ``_bindings`` (which come from
the same C headers). Any difference raises :class:`~airssys_wasm.errors.AbiMismatchError`
instead of running with a wrong layout.
"""

from __future__ import annotations

import ctypes
import importlib.metadata
import weakref
from typing import Any

import wasmtime
import wasmtime.component as wc
from wasmtime import _ffi as ffi

from airssys_wasm.errors import AbiMismatchError

__all__ = [
    "REQUIRED_WASMTIME",
    "STORE_CONTEXT_ATTR",
    "check_abi",
    "function_addresses",
    "store_id",
    "store_pointers",
    "component_func_bytes",
    "core_func_bytes",
    "memory_bytes",
    "linker_instance_address",
    "component_func_type_at",
    "apply_pooling",
    "disable_concurrency",
    "set_async_stack_size",
    "engine_address",
    "linker_address",
    "module_address",
    "component_linker_address",
    "component_address",
    "export_index_address",
    "core_instance_from_bytes",
    "component_instance_from_bytes",
    "ENGINE_PTR_ATTR",
    "BorrowedStore",
    "borrowed_store",
    "engine_pointer",
    "check_store_internals",
]

REQUIRED_WASMTIME = "50.0.1"

# Store keeps its context pointer in a name-mangled attribute that becomes None on close().
# The Cython side compares it by identity on every call, so a closed Store is refused instead
# of being used after free.
STORE_CONTEXT_ATTR = "_Store__context"

# wasmtime-py's Managed base keeps the owned C pointer here (None once closed): how a Store
# made in C (NativeStore) tells that its Engine is still open before using the engine's address.
ENGINE_PTR_ATTR = "_Managed__ptr"

_STORE_IDS: "weakref.WeakKeyDictionary[wasmtime.Store, int]" = weakref.WeakKeyDictionary()


def _offset(struct: Any, field: str) -> int:
    """Offset of ``field`` in a ctypes Structure (typed, for the checker's sake)."""
    return int(getattr(struct, field).offset)


def _nested(struct: Any, field: str) -> int:
    """Offset of ``field`` inside the first (anonymous) member of ``struct``: the C headers put
    the store id of func/memory handles in an anonymous struct, which ctypes names ``_anon_1``."""
    first, inner = struct._fields_[0][0], struct._fields_[0][1]
    return _offset(struct, first) + _offset(inner, field)


def _expected_layout() -> dict[str, int]:
    """Sizes/offsets from wasmtime-py's ctypes bindings, keyed like the Cython ``_layout()``."""
    s = ctypes.sizeof
    return {
        "wasm_byte_vec_t": s(ffi.wasm_byte_vec_t),
        "wasm_byte_vec_t.data": _offset(ffi.wasm_byte_vec_t, "data"),
        "wasm_valtype_vec_t": s(ffi.wasm_valtype_vec_t),
        "wasm_valtype_vec_t.data": _offset(ffi.wasm_valtype_vec_t, "data"),
        "wasmtime_func_t": s(ffi.wasmtime_func_t),
        "wasmtime_memory_t": s(ffi.wasmtime_memory_t),
        "wasmtime_val_t": s(ffi.wasmtime_val_t),
        "wasmtime_val_t.of": _offset(ffi.wasmtime_val_t, "of"),
        "wasmtime_valunion_t": s(ffi.wasmtime_valunion_t),
        "wasmtime_instance_t": s(ffi.wasmtime_instance_t),
        "wasmtime_component_instance_t": s(ffi.wasmtime_component_instance_t),
        "wasmtime_global_t": s(ffi.wasmtime_global_t),
        "wasmtime_extern_t": s(ffi.wasmtime_extern_t),
        "wasmtime_extern_t.of": _offset(ffi.wasmtime_extern_t, "of"),
        "wasmtime_extern_union_t": s(ffi.wasmtime_extern_union_t),
        "wasmtime_global_t.store_id": _offset(ffi.wasmtime_global_t, "store_id"),
        "wasmtime_component_instance_t.store_id": _offset(ffi.wasmtime_component_instance_t,
                                                          "store_id"),
        "wasmtime_instance_t.store_id": _offset(ffi.wasmtime_instance_t, "store_id"),
        "wasmtime_component_func_t.store_id": _nested(ffi.wasmtime_component_func_t, "store_id"),
        "wasmtime_func_t.store_id": _offset(ffi.wasmtime_func_t, "store_id"),
        "wasmtime_memory_t.store_id": _nested(ffi.wasmtime_memory_t, "store_id"),
        "wasmtime_async_continuation_t": s(ffi.wasmtime_async_continuation_t),
        "wasmtime_async_continuation_t.env": _offset(ffi.wasmtime_async_continuation_t, "env"),
        "wasmtime_async_continuation_t.finalizer": _offset(ffi.wasmtime_async_continuation_t,
                                                           "finalizer"),
        "wasmtime_component_func_t": s(ffi.wasmtime_component_func_t),
        "wasmtime_component_val_t": s(ffi.wasmtime_component_val_t),
        "wasmtime_component_val_t.of": _offset(ffi.wasmtime_component_val_t, "of"),
        "wasmtime_component_valunion_t": s(ffi.wasmtime_component_valunion_t),
        "wasmtime_component_valunion_t.resource": _offset(ffi.wasmtime_component_valunion_t,
                                                          "resource"),
        "wasmtime_component_vallist_t": s(ffi.wasmtime_component_vallist_t),
        "wasmtime_component_valrecord_t": s(ffi.wasmtime_component_valrecord_t),
        "wasmtime_component_valrecord_entry_t": s(ffi.wasmtime_component_valrecord_entry_t),
        "wasmtime_component_valrecord_entry_t.val": _offset(ffi.wasmtime_component_valrecord_entry_t, "val"),
        "wasmtime_component_valflags_t": s(ffi.wasmtime_component_valflags_t),
        "wasmtime_component_valvariant_t": s(ffi.wasmtime_component_valvariant_t),
        "wasmtime_component_valvariant_t.val": _offset(ffi.wasmtime_component_valvariant_t, "val"),
        "wasmtime_component_valresult_t": s(ffi.wasmtime_component_valresult_t),
        "wasmtime_component_valresult_t.val": _offset(ffi.wasmtime_component_valresult_t, "val"),
    }


def _expected_kinds() -> dict[str, int]:
    kinds = {name: getattr(ffi, "WASMTIME_COMPONENT_" + name).value for name in (
        "BOOL", "S8", "U8", "S16", "U16", "S32", "U32", "S64", "U64", "F32", "F64", "CHAR",
        "STRING", "LIST", "RECORD", "TUPLE", "VARIANT", "ENUM", "OPTION", "RESULT", "FLAGS",
        "RESOURCE")}
    kinds.update({name: getattr(ffi, name).value for name in ("WASM_I32", "WASM_I64", "WASM_F32", "WASM_F64")})
    kinds.update({name: getattr(ffi, "WASMTIME_" + name).value for name in ("EXTERN_FUNC", "EXTERN_MEMORY")})
    return kinds


def check_abi(layout: dict[str, int], kinds: dict[str, int]) -> None:
    """Refuse to run unless version, struct layouts and value kinds all match.

    ``layout``/``kinds`` are what the compiled Cython module believes; they are compared with
    wasmtime-py's generated bindings of the installed wasmtime.
    """
    try:
        installed = importlib.metadata.version("wasmtime")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - wasmtime imported above
        installed = "unknown"
    if installed != REQUIRED_WASMTIME:
        raise AbiMismatchError(
            f"airssys_wasm's fast call path was built for wasmtime=={REQUIRED_WASMTIME}, but "
            f"wasmtime {installed} is installed; its C ABI may differ. Install "
            f"'wasmtime=={REQUIRED_WASMTIME}' (the version pinned in pyproject.toml).")
    expected = _expected_layout()
    diffs = [f"{key}: compiled {layout.get(key)} vs wasmtime-py {value}"
             for key, value in expected.items() if layout.get(key) != value]
    expected_kinds = _expected_kinds()
    diffs += [f"kind {key}: compiled {kinds.get(key)} vs wasmtime-py {value}"
              for key, value in expected_kinds.items() if kinds.get(key) != value]
    if diffs:
        raise AbiMismatchError(
            "the Wasmtime C structs compiled into airssys_wasm._fast do not match the installed "
            "wasmtime's bindings (" + "; ".join(diffs) + "). Rebuild airssys-wasm against "
            f"wasmtime=={REQUIRED_WASMTIME} or reinstall that exact version.")


def function_addresses(names: list[str]) -> dict[str, int]:
    """Addresses of C API functions inside the library wasmtime-py already loaded."""
    out: dict[str, int] = {}
    missing: list[str] = []
    for name in names:
        try:
            fn = getattr(ffi.dll, name)
        except AttributeError:
            missing.append(name)
            continue
        address = ctypes.cast(fn, ctypes.c_void_p).value
        if not address:
            missing.append(name)
        else:
            out[name] = address
    if missing:
        raise AbiMismatchError(
            f"the bundled Wasmtime C library lacks {', '.join(missing)}; install "
            f"wasmtime=={REQUIRED_WASMTIME}")
    return out


def store_pointers(store: Any) -> tuple[Any, Any]:
    """``(ctypes pointer to wasmtime_store_t, liveness token)`` of a wasmtime Store.

    The token is the ctypes ``wasmtime_context_t`` pointer stored under
    :data:`STORE_CONTEXT_ATTR` (while the store is open that attribute *is* the token, after
    ``close()`` it is None); the store pointer is what ``wasmtime_store_limiter`` takes. Both
    are ctypes pointer objects: the fast path reads their addresses through the buffer protocol
    (no ``ctypes.cast`` per Store). One call per Store, made by the fast path when it first sees
    it.
    """
    if not isinstance(store, wasmtime.Store):
        raise TypeError(f"store must be a wasmtime.Store, not {type(store).__name__}")
    token = store._context()  # raises ValueError('already closed') for a closed store
    if getattr(store, STORE_CONTEXT_ATTR, None) is not token:
        raise AbiMismatchError(
            f"wasmtime.Store no longer keeps its context in {STORE_CONTEXT_ATTR}; "
            f"install wasmtime=={REQUIRED_WASMTIME}")
    return store.ptr(), token


# Types and values are not tied to a Store: made once, they halve the per-Store probe's cost.
_PROBE_TYPE = wasmtime.GlobalType(wasmtime.ValType.i32(), False)
_PROBE_VALUE = wasmtime.Val.i32(0)


def store_id(store: Any) -> int:
    """The numeric id wasmtime stamps into every handle owned by ``store``.

    Wasmtime *aborts the process* if a handle is used with a Store it does not belong to, so the
    fast path compares ids up front. The id is read from a throwaway i32 global, once per Store.
    """
    cached = _STORE_IDS.get(store)
    if cached is None:
        probe = wasmtime.Global(store, _PROBE_TYPE, _PROBE_VALUE)
        cached = int(probe._global.store_id)
        _STORE_IDS[store] = cached
    return cached


def _raw(struct: ctypes.Structure) -> bytes:
    return ctypes.string_at(ctypes.addressof(struct), ctypes.sizeof(struct))


def component_func_bytes(func: Any) -> bytes:
    """The 32-byte ``wasmtime_component_func_t`` of a ``wasmtime.component.Func``."""
    if not isinstance(func, wc.Func):
        raise TypeError(f"expected wasmtime.component.Func, not {type(func).__name__}")
    return _raw(func._func)


def core_func_bytes(func: Any) -> bytes:
    """The 16-byte ``wasmtime_func_t`` of a core ``wasmtime.Func``."""
    if not isinstance(func, wasmtime.Func):
        raise TypeError(f"expected wasmtime.Func, not {type(func).__name__}")
    return _raw(func._func)


def memory_bytes(memory: Any) -> bytes:
    """The 24-byte ``wasmtime_memory_t`` of a ``wasmtime.Memory``."""
    if not isinstance(memory, wasmtime.Memory):
        raise TypeError(f"expected wasmtime.Memory, not {type(memory).__name__}")
    return _raw(memory._memory)


def component_func_type_at(address: int) -> wc.FuncType:
    """A borrowed view of the ``wasmtime_component_func_type_t`` wasmtime passes to a host call.

    Only valid while that call runs; the view never deletes the type (a non-None owner tells
    wasmtime-py so), and the ValTypes read from it are owned copies that outlive the call.
    """
    if not address:
        raise ValueError("wasmtime passed no function type to the host call")
    ptr = ctypes.cast(address, ctypes.POINTER(ffi.wasmtime_component_func_type_t))
    return wc.FuncType._from_ptr(ptr, owner=_BORROWED)


_BORROWED = object()


def linker_instance_address(linker_instance: Any) -> int:
    """Address of the ``wasmtime_component_linker_instance_t`` behind a LinkerInstance."""
    if not isinstance(linker_instance, wc.LinkerInstance):
        raise TypeError(
            f"expected wasmtime.component.LinkerInstance, not {type(linker_instance).__name__}")
    address = ctypes.cast(linker_instance.ptr(), ctypes.c_void_p).value
    if not address:
        raise ValueError("the linker instance is closed")
    return address


def apply_pooling(config: wasmtime.Config, slots: dict[str, int]) -> None:
    """Switch ``config`` to the pooling allocator. ``slots`` maps each setting's C name
    (``wasmtime_pooling_allocation_config_<name>_set``) to its value."""
    pool = ffi.wasmtime_pooling_allocation_config_new()
    try:
        for name, value in slots.items():
            getattr(ffi, f"wasmtime_pooling_allocation_config_{name}_set")(pool, value)
        ffi.wasmtime_pooling_allocation_strategy_set(config.ptr(), pool)
    finally:
        ffi.wasmtime_pooling_allocation_config_delete(pool)


def disable_concurrency(config: wasmtime.Config) -> None:
    """Turn off wasmtime's component-model concurrency support (async tasks, streams, futures).

    Synchronous components do not need it, and with it on every component call creates and
    deletes guest-task records in the Store's resource table (~0.6 µs per call).
    """
    ffi.wasmtime_config_concurrency_support_set(config.ptr(), False)


def set_async_stack_size(config: wasmtime.Config, size: int) -> None:
    """The fiber stack of every guest call (the async C API runs each call on one)."""
    ffi.wasmtime_config_async_stack_size_set(config.ptr(), size)


def _address(obj: Any, kind: type, what: str) -> int:
    if not isinstance(obj, kind):
        raise TypeError(f"expected {what}, not {type(obj).__name__}")
    managed: Any = obj
    address = ctypes.cast(managed.ptr(), ctypes.c_void_p).value
    if not address:
        raise ValueError(f"the {what} is closed")
    return address


def engine_address(engine: Any) -> int:
    """Address of the ``wasm_engine_t`` behind a ``wasmtime.Engine``."""
    return _address(engine, wasmtime.Engine, "wasmtime.Engine")


def linker_address(linker: Any) -> int:
    return _address(linker, wasmtime.Linker, "wasmtime.Linker")


def module_address(module: Any) -> int:
    return _address(module, wasmtime.Module, "wasmtime.Module")


def component_linker_address(linker: Any) -> int:
    return _address(linker, wc.Linker, "wasmtime.component.Linker")


def component_address(component: Any) -> int:
    return _address(component, wc.Component, "wasmtime.component.Component")


def export_index_address(index: Any) -> int:
    """Address of the ``wasmtime_component_export_index_t`` behind a ``ExportIndex``."""
    return _address(index, wc.ExportIndex, "wasmtime.component.ExportIndex")


def core_instance_from_bytes(raw: bytes) -> wasmtime.Instance:
    """A ``wasmtime.Instance`` around a ``wasmtime_instance_t`` made by the C API."""
    return wasmtime.Instance._from_raw(ffi.wasmtime_instance_t.from_buffer_copy(raw))


def component_instance_from_bytes(raw: bytes) -> wc.Instance:
    """A ``wasmtime.component.Instance`` around a ``wasmtime_component_instance_t``."""
    return wc.Instance._from_raw(ffi.wasmtime_component_instance_t.from_buffer_copy(raw))


def check_store_internals() -> None:
    """Refuse to run unless wasmtime-py's Store and Engine keep the private layout that
    :class:`BorrowedStore` and :func:`engine_pointer` rely on (checked at import)."""
    managed = getattr(wasmtime.Store, "__mro__", ())
    missing = [what for what, ok in (
        ("Managed.__ptr", "_Managed__ptr" in getattr(wasmtime.Managed, "__annotations__", {})),
        ("Store.__context", STORE_CONTEXT_ATTR in getattr(wasmtime.Store, "__annotations__", {})),
        ("Managed._set_ptr", callable(vars(wasmtime.Managed).get("_set_ptr"))),
        ("Store._delete", callable(vars(wasmtime.Store).get("_delete"))),
        ("Engine is Managed", wasmtime.Managed in getattr(wasmtime.Engine, "__mro__", ())),
        ("Store is Managed", wasmtime.Managed in managed),
    ) if not ok]
    if missing:
        raise AbiMismatchError(
            f"wasmtime-py's Store/Engine internals changed ({', '.join(missing)} missing); "
            f"install wasmtime=={REQUIRED_WASMTIME}")


def engine_pointer(engine: Any) -> tuple[int, Any]:
    """``(address of wasm_engine_t, liveness token)`` of a ``wasmtime.Engine``: the token is
    the ctypes pointer under :data:`ENGINE_PTR_ATTR` (None there once the engine is closed)."""
    if not isinstance(engine, wasmtime.Engine):
        raise TypeError(f"expected wasmtime.Engine, not {type(engine).__name__}")
    token = engine.ptr()  # ValueError('already closed') for a closed engine
    if getattr(engine, ENGINE_PTR_ATTR, None) is not token:
        raise AbiMismatchError(f"wasmtime.Engine no longer keeps its pointer in {ENGINE_PTR_ATTR}; "
                               f"install wasmtime=={REQUIRED_WASMTIME}")
    address = ctypes.cast(token, ctypes.c_void_p).value
    if not address:
        raise ValueError("the wasmtime.Engine is closed")
    return address, token


class BorrowedStore(wasmtime.Store):
    """A ``wasmtime.Store`` view of a Store made in C (``fastcall.NativeStore``), for the
    wasmtime-py APIs that need one (WASI setup, exports called through wasmtime-py).

    It does not own the Store: closing the view (or its finalizer) only detaches it, and the
    owner detaches it before deleting the Store, so wasmtime-py never touches a freed one.
    ``owner`` is the NativeStore, which is how the fast path maps the view back to it.
    """

    owner: Any

    def __init__(self, engine: Any = None, data: Any = None) -> None:
        raise TypeError("a BorrowedStore is made by NativeStore.wasmtime_store(), not directly")

    def _delete(self, ptr: Any) -> None:
        # The owner deletes the Store; the view only forgets it (ptr() then raises).
        setattr(self, STORE_CONTEXT_ATTR, None)


def borrowed_store(owner: Any, engine: wasmtime.Engine, store_address: int,
                   context_address: int) -> tuple[BorrowedStore, Any]:
    """A :class:`BorrowedStore` over the ``wasmtime_store_t`` at ``store_address`` (whose
    context is at ``context_address``), owned by ``owner``; with its liveness token (the
    context pointer object, as :func:`store_pointers` returns)."""
    if not store_address or not context_address:
        raise ValueError("the Store is closed")
    view = BorrowedStore.__new__(BorrowedStore)
    view._set_ptr(ctypes.cast(store_address, ctypes.POINTER(ffi.wasmtime_store_t)))
    token = ctypes.cast(context_address, ctypes.POINTER(ffi.wasmtime_context_t))
    setattr(view, STORE_CONTEXT_ATTR, token)
    view.engine = engine
    view.owner = owner
    return view, token
