# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, embedsignature=True, auto_pickle=False
"""Fast call path over the Wasmtime C API: component calls, value plans, host trampolines, core lane.

wasmtime-py converts every value through ctypes and re-reads the function type on every call
(6-50 µs per component call, ~1.4 µs per list byte). Here the type of each function is compiled
ONCE into a tree of ``_Ty`` nodes; a call walks that tree in C, calls the C API with the GIL
released, and converts results back. wasmtime-py stays in charge of setup (Engine, compile,
Linker, instantiate); this module only needs the raw handles (see ``handles.py``).

Safety rules kept throughout (see the findings note on the v50 ABI):
- every ``wasmtime_component_val_t`` handed to Rust is valid at all times (initialised to
  ``bool false`` before it is filled), so cleanup after a half-built value never frees garbage;
- call arguments are borrowed by Rust (we delete them), results are owned by us (we delete them),
  values written by a host callback are freed by Rust, so they are built only with the library's
  own allocators (``wasm_byte_vec_new``, ``*_new_uninit``, ``wasmtime_component_val_new``);
- guest-produced values are never trusted: kinds, names, UTF-8 and pointers are checked.
"""

cimport cython
from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_SIMPLE
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.dict cimport PyDict_Size, PyDict_SetItem, PyDict_Copy
from cpython.list cimport PyList_New, PyList_SET_ITEM
from cpython.long cimport PyLong_FromLong, PyLong_FromLongLong, PyLong_FromUnsignedLongLong
from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF, Py_DECREF
from cpython.tuple cimport PyTuple_New, PyTuple_SET_ITEM
from cpython.float cimport PyFloat_FromDouble
from libc.stdint cimport uint8_t, int8_t, uint16_t, int16_t, uint32_t, int32_t, uint64_t, int64_t, INT64_MIN, INT64_MAX
from libc.stdlib cimport malloc, calloc, free
from libc.string cimport memcpy, memset, memcmp

from airssys_wasm._fast.wasmtime_c cimport *

import threading

import wasmtime
import wasmtime.component as _wc

from airssys_wasm._fast import handles as _handles
from airssys_wasm.errors import AbiMismatchError, CallCancelled, TrapError, TrapKind

cdef extern from "Python.h":
    bint PyLong_Check(object o)
    bint PyBool_Check(object o)
    bint PyFloat_Check(object o)
    bint PyUnicode_Check(object o)
    bint PyUnicode_CheckExact(object o)
    bint PyTuple_Check(object o)
    bint PyTuple_CheckExact(object o)
    bint PyList_Check(object o)
    bint PyDict_Check(object o)
    bint PyDict_CheckExact(object o)
    bint PyBytes_CheckExact(object o)
    double PyFloat_AS_DOUBLE(object o)
    double PyLong_AsDouble(object o) except? -1.0
    long long PyLong_AsLongLongAndOverflow(object o, int *overflow) except? -1
    unsigned long long PyLong_AsUnsignedLongLong(object o) except? 0xffffffffffffffff
    Py_ssize_t PyUnicode_GET_LENGTH(object o)
    Py_UCS4 PyUnicode_READ_CHAR(object o, Py_ssize_t index)
    const char *PyUnicode_AsUTF8AndSize(object o, Py_ssize_t *size) except NULL
    object PyUnicode_DecodeUTF8(const char *s, Py_ssize_t size, const char *errors)
    object PyUnicode_FromOrdinal(int ordinal)
    PyObject *PyDict_GetItemWithError(object d, object key) except? NULL
    Py_ssize_t PyTuple_GET_SIZE(object o)
    PyObject *PyTuple_GET_ITEM(object o, Py_ssize_t i)
    Py_ssize_t PyList_GET_SIZE(object o)
    PyObject *PyList_GET_ITEM(object o, Py_ssize_t i)
    int Py_IsInitialized()
    unsigned long PyThread_get_thread_ident()


# ---------------------------------------------------------------------------------------------
# The C API table and the import-time ABI check.

cdef WtApi api

_API_NAMES = [
    "wasm_byte_vec_new", "wasm_byte_vec_new_uninitialized", "wasm_byte_vec_delete",
    "wasmtime_error_new", "wasmtime_error_message", "wasmtime_error_delete",
    "wasmtime_trap_code", "wasm_trap_message", "wasm_trap_delete",
    "wasmtime_memory_data", "wasmtime_memory_data_size",
    "wasmtime_component_val_delete", "wasmtime_component_val_new",
    "wasmtime_component_vallist_new_uninit", "wasmtime_component_valrecord_new_uninit",
    "wasmtime_component_valtuple_new_uninit", "wasmtime_component_valflags_new_uninit",
    "wasmtime_component_linker_instance_add_func",
    "wasmtime_context_set_fuel", "wasmtime_context_set_epoch_deadline",
    "wasmtime_func_type", "wasm_functype_params", "wasm_functype_results", "wasm_valtype_kind",
    "wasm_functype_delete",
    "wasmtime_component_func_call", "wasmtime_component_func_call_async", "wasmtime_func_call_async", "wasmtime_call_future_poll",
    "wasmtime_call_future_delete", "wasmtime_component_linker_instance_add_func_async",
    "wasmtime_component_linker_instantiate_async", "wasmtime_linker_instantiate_async",
    "wasmtime_context_epoch_deadline_async_yield_and_update", "wasmtime_engine_increment_epoch",
    "wasmtime_component_resource_type_new_host", "wasmtime_component_resource_type_delete",
    "wasmtime_component_linker_instance_add_resource", "wasmtime_component_resource_host_new",
    "wasmtime_component_resource_host_rep", "wasmtime_component_resource_host_type",
    "wasmtime_component_resource_host_delete", "wasmtime_component_resource_any_to_host",
    "wasmtime_component_resource_host_to_any",
    "wasmtime_store_limiter", "wasm_valtype_new", "wasm_globaltype_new", "wasmtime_global_new",
    "wasmtime_component_instance_get_func", "wasmtime_linker_instantiate_pre",
    "wasmtime_instance_pre_delete", "wasmtime_instance_pre_instantiate_async",
    "wasmtime_instance_export_get", "wasmtime_extern_delete",
    "wasmtime_store_new", "wasmtime_store_context", "wasmtime_store_delete",
]


def _layout():
    """Sizes/offsets of the structs as compiled here, for the import-time comparison."""
    cdef wasmtime_component_val_t v
    cdef wasmtime_component_valrecord_entry_t e
    cdef wasmtime_component_valvariant_t var
    cdef wasmtime_component_valresult_t res
    cdef wasm_byte_vec_t bv
    cdef wasm_valtype_vec_t tv
    cdef wasmtime_val_t cv
    cdef wasmtime_async_continuation_t cont
    cdef wasmtime_global_t g
    cdef wasmtime_component_instance_t ci
    cdef wasmtime_instance_t mi
    cdef wasmtime_component_func_t cf
    cdef wasmtime_func_t f
    cdef wasmtime_memory_t m
    cdef wasmtime_extern_t x
    return {
        "wasmtime_extern_t": sizeof(wasmtime_extern_t),
        "wasmtime_extern_t.of": <size_t>(<char *>&x.of - <char *>&x),
        "wasmtime_extern_union_t": sizeof(wasmtime_extern_union_t),
        # Store ids are read straight out of these handles (the restart path relies on them).
        "wasmtime_global_t": sizeof(wasmtime_global_t),
        "wasmtime_global_t.store_id": <size_t>(<char *>&g.store_id - <char *>&g),
        "wasmtime_component_instance_t.store_id": <size_t>(<char *>&ci.store_id - <char *>&ci),
        "wasmtime_instance_t.store_id": <size_t>(<char *>&mi.store_id - <char *>&mi),
        "wasmtime_component_func_t.store_id": <size_t>(<char *>&cf.anon.store_id - <char *>&cf),
        "wasmtime_func_t.store_id": <size_t>(<char *>&f.store_id - <char *>&f),
        "wasmtime_memory_t.store_id": <size_t>(<char *>&m.anon.store_id - <char *>&m),
        "wasmtime_val_t": sizeof(wasmtime_val_t),
        "wasmtime_val_t.of": <size_t>(<char *>&cv.of - <char *>&cv),
        "wasmtime_valunion_t": sizeof(wasmtime_valunion_t),
        "wasmtime_instance_t": sizeof(wasmtime_instance_t),
        "wasmtime_component_instance_t": sizeof(wasmtime_component_instance_t),
        "wasmtime_async_continuation_t": sizeof(wasmtime_async_continuation_t),
        "wasmtime_async_continuation_t.env": <size_t>(<char *>&cont.env - <char *>&cont),
        "wasmtime_async_continuation_t.finalizer": <size_t>(<char *>&cont.finalizer - <char *>&cont),
        "wasm_valtype_vec_t": sizeof(wasm_valtype_vec_t),
        "wasm_valtype_vec_t.data": <size_t>(<char *>&tv.data - <char *>&tv),
        "wasm_byte_vec_t": sizeof(wasm_byte_vec_t),
        "wasm_byte_vec_t.data": <size_t>(<char *>&bv.data - <char *>&bv),
        "wasmtime_func_t": sizeof(wasmtime_func_t),
        "wasmtime_memory_t": sizeof(wasmtime_memory_t),
        "wasmtime_component_func_t": sizeof(wasmtime_component_func_t),
        "wasmtime_component_val_t": sizeof(wasmtime_component_val_t),
        "wasmtime_component_val_t.of": <size_t>(<char *>&v.of - <char *>&v),
        "wasmtime_component_valunion_t": sizeof(wasmtime_component_valunion_t),
        "wasmtime_component_valunion_t.resource": <size_t>(<char *>&v.of.resource - <char *>&v.of),
        "wasmtime_component_vallist_t": sizeof(wasmtime_component_vallist_t),
        "wasmtime_component_valrecord_t": sizeof(wasmtime_component_valrecord_t),
        "wasmtime_component_valrecord_entry_t": sizeof(wasmtime_component_valrecord_entry_t),
        "wasmtime_component_valrecord_entry_t.val": <size_t>(<char *>&e.val - <char *>&e),
        "wasmtime_component_valflags_t": sizeof(wasmtime_component_valflags_t),
        "wasmtime_component_valvariant_t": sizeof(wasmtime_component_valvariant_t),
        "wasmtime_component_valvariant_t.val": <size_t>(<char *>&var.val - <char *>&var),
        "wasmtime_component_valresult_t": sizeof(wasmtime_component_valresult_t),
        "wasmtime_component_valresult_t.val": <size_t>(<char *>&res.val - <char *>&res),
    }


def _kinds():
    return {"BOOL": WT_BOOL, "S8": WT_S8, "U8": WT_U8, "S16": WT_S16, "U16": WT_U16,
            "S32": WT_S32, "U32": WT_U32, "S64": WT_S64, "U64": WT_U64, "F32": WT_F32,
            "F64": WT_F64, "CHAR": WT_CHAR, "STRING": WT_STRING, "LIST": WT_LIST,
            "RECORD": WT_RECORD, "TUPLE": WT_TUPLE, "VARIANT": WT_VARIANT, "ENUM": WT_ENUM,
            "OPTION": WT_OPTION, "RESULT": WT_RESULT, "FLAGS": WT_FLAGS, "RESOURCE": WT_RESOURCE,
            "EXTERN_FUNC": WT_EXTERN_FUNC, "EXTERN_MEMORY": WT_EXTERN_MEMORY,
            "WASM_I32": _CORE_I32, "WASM_I64": _CORE_I64, "WASM_F32": _CORE_F32, "WASM_F64": _CORE_F64}


cdef void *_addr(dict table, str name):
    return <void *><size_t>table[name]


cdef _init_api():
    _handles.check_abi(_layout(), _kinds())
    cdef dict t = _handles.function_addresses(_API_NAMES)
    api.wasm_byte_vec_new = <void (*)(wasm_byte_vec_t *, size_t, const uint8_t *) noexcept nogil>_addr(t, "wasm_byte_vec_new")
    api.wasm_byte_vec_new_uninitialized = <void (*)(wasm_byte_vec_t *, size_t) noexcept nogil>_addr(t, "wasm_byte_vec_new_uninitialized")
    api.wasm_byte_vec_delete = <void (*)(wasm_byte_vec_t *) noexcept nogil>_addr(t, "wasm_byte_vec_delete")
    api.wasmtime_error_new = <wasmtime_error_t *(*)(const char *) noexcept nogil>_addr(t, "wasmtime_error_new")
    api.wasmtime_error_message = <void (*)(const wasmtime_error_t *, wasm_byte_vec_t *) noexcept nogil>_addr(t, "wasmtime_error_message")
    api.wasmtime_error_delete = <void (*)(wasmtime_error_t *) noexcept nogil>_addr(t, "wasmtime_error_delete")
    api.wasmtime_trap_code = <uint8_t (*)(const wasm_trap_t *, uint8_t *) noexcept nogil>_addr(t, "wasmtime_trap_code")
    api.wasm_trap_message = <void (*)(const wasm_trap_t *, wasm_byte_vec_t *) noexcept nogil>_addr(t, "wasm_trap_message")
    api.wasm_trap_delete = <void (*)(wasm_trap_t *) noexcept nogil>_addr(t, "wasm_trap_delete")
    api.wasmtime_memory_data = <uint8_t *(*)(const wasmtime_context_t *, const wasmtime_memory_t *) noexcept nogil>_addr(t, "wasmtime_memory_data")
    api.wasmtime_memory_data_size = <size_t (*)(const wasmtime_context_t *, const wasmtime_memory_t *) noexcept nogil>_addr(t, "wasmtime_memory_data_size")
    api.wasmtime_component_val_delete = <void (*)(wasmtime_component_val_t *) noexcept nogil>_addr(t, "wasmtime_component_val_delete")
    api.wasmtime_component_val_new = <wasmtime_component_val_t *(*)(wasmtime_component_val_t *) noexcept nogil>_addr(t, "wasmtime_component_val_new")
    api.wasmtime_component_vallist_new_uninit = <void (*)(wasmtime_component_vallist_t *, size_t) noexcept nogil>_addr(t, "wasmtime_component_vallist_new_uninit")
    api.wasmtime_component_valrecord_new_uninit = <void (*)(wasmtime_component_valrecord_t *, size_t) noexcept nogil>_addr(t, "wasmtime_component_valrecord_new_uninit")
    api.wasmtime_component_valtuple_new_uninit = <void (*)(wasmtime_component_vallist_t *, size_t) noexcept nogil>_addr(t, "wasmtime_component_valtuple_new_uninit")
    api.wasmtime_component_valflags_new_uninit = <void (*)(wasmtime_component_valflags_t *, size_t) noexcept nogil>_addr(t, "wasmtime_component_valflags_new_uninit")
    api.wasmtime_func_type = <wasm_functype_t *(*)(const wasmtime_context_t *, const wasmtime_func_t *) noexcept nogil>_addr(t, "wasmtime_func_type")
    api.wasm_functype_params = <const wasm_valtype_vec_t *(*)(const wasm_functype_t *) noexcept nogil>_addr(t, "wasm_functype_params")
    api.wasm_functype_results = <const wasm_valtype_vec_t *(*)(const wasm_functype_t *) noexcept nogil>_addr(t, "wasm_functype_results")
    api.wasm_valtype_kind = <uint8_t (*)(const wasm_valtype_t *) noexcept nogil>_addr(t, "wasm_valtype_kind")
    api.wasm_functype_delete = <void (*)(wasm_functype_t *) noexcept nogil>_addr(t, "wasm_functype_delete")
    api.wasmtime_context_set_fuel = <wasmtime_error_t *(*)(wasmtime_context_t *, uint64_t) noexcept nogil>_addr(t, "wasmtime_context_set_fuel")
    api.wasmtime_context_set_epoch_deadline = <void (*)(wasmtime_context_t *, uint64_t) noexcept nogil>_addr(t, "wasmtime_context_set_epoch_deadline")
    api.wasmtime_component_linker_instance_add_func = <wasmtime_error_t *(*)(wasmtime_component_linker_instance_t *, const char *, size_t, wt_component_callback_t, void *, wt_finalizer_t) noexcept nogil>_addr(t, "wasmtime_component_linker_instance_add_func")
    api.wasmtime_component_func_call = <wasmtime_error_t *(*)(const wasmtime_component_func_t *, wasmtime_context_t *, const wasmtime_component_val_t *, size_t, wasmtime_component_val_t *, size_t) noexcept nogil>_addr(t, "wasmtime_component_func_call")
    api.wasmtime_component_func_call_async = <wasmtime_call_future_t *(*)(const wasmtime_component_func_t *, wasmtime_context_t *, const wasmtime_component_val_t *, size_t, wasmtime_component_val_t *, size_t, wasmtime_error_t **) noexcept nogil>_addr(t, "wasmtime_component_func_call_async")
    api.wasmtime_func_call_async = <wasmtime_call_future_t *(*)(wasmtime_context_t *, const wasmtime_func_t *, const wasmtime_val_t *, size_t, wasmtime_val_t *, size_t, wasm_trap_t **, wasmtime_error_t **) noexcept nogil>_addr(t, "wasmtime_func_call_async")
    api.wasmtime_call_future_poll = <c_bool (*)(wasmtime_call_future_t *) noexcept nogil>_addr(t, "wasmtime_call_future_poll")
    api.wasmtime_call_future_delete = <void (*)(wasmtime_call_future_t *) noexcept nogil>_addr(t, "wasmtime_call_future_delete")
    api.wasmtime_component_linker_instance_add_func_async = <wasmtime_error_t *(*)(wasmtime_component_linker_instance_t *, const char *, size_t, wt_component_async_callback_t, void *, wt_finalizer_t) noexcept nogil>_addr(t, "wasmtime_component_linker_instance_add_func_async")
    api.wasmtime_component_linker_instantiate_async = <wasmtime_call_future_t *(*)(const wasmtime_component_linker_t *, wasmtime_context_t *, const wasmtime_component_t *, wasmtime_component_instance_t *, wasmtime_error_t **) noexcept nogil>_addr(t, "wasmtime_component_linker_instantiate_async")
    api.wasmtime_linker_instantiate_async = <wasmtime_call_future_t *(*)(const wasmtime_linker_t *, wasmtime_context_t *, const wasmtime_module_t *, wasmtime_instance_t *, wasm_trap_t **, wasmtime_error_t **) noexcept nogil>_addr(t, "wasmtime_linker_instantiate_async")
    api.wasmtime_context_epoch_deadline_async_yield_and_update = <void (*)(wasmtime_context_t *, uint64_t) noexcept nogil>_addr(t, "wasmtime_context_epoch_deadline_async_yield_and_update")
    api.wasmtime_engine_increment_epoch = <void (*)(wasm_engine_t *) noexcept nogil>_addr(t, "wasmtime_engine_increment_epoch")
    api.wasmtime_component_resource_type_new_host = <wasmtime_component_resource_type_t *(*)(uint32_t) noexcept nogil>_addr(t, "wasmtime_component_resource_type_new_host")
    api.wasmtime_component_resource_type_delete = <void (*)(wasmtime_component_resource_type_t *) noexcept nogil>_addr(t, "wasmtime_component_resource_type_delete")
    api.wasmtime_component_linker_instance_add_resource = <wasmtime_error_t *(*)(wasmtime_component_linker_instance_t *, const char *, size_t, const wasmtime_component_resource_type_t *, wt_resource_destructor_t, void *, wt_finalizer_t) noexcept nogil>_addr(t, "wasmtime_component_linker_instance_add_resource")
    api.wasmtime_component_resource_host_new = <wasmtime_component_resource_host_t *(*)(c_bool, uint32_t, uint32_t) noexcept nogil>_addr(t, "wasmtime_component_resource_host_new")
    api.wasmtime_component_resource_host_rep = <uint32_t (*)(const wasmtime_component_resource_host_t *) noexcept nogil>_addr(t, "wasmtime_component_resource_host_rep")
    api.wasmtime_component_resource_host_type = <uint32_t (*)(const wasmtime_component_resource_host_t *) noexcept nogil>_addr(t, "wasmtime_component_resource_host_type")
    api.wasmtime_component_resource_host_delete = <void (*)(wasmtime_component_resource_host_t *) noexcept nogil>_addr(t, "wasmtime_component_resource_host_delete")
    api.wasmtime_component_resource_any_to_host = <wasmtime_error_t *(*)(wasmtime_context_t *, const wasmtime_component_resource_any_t *, wasmtime_component_resource_host_t **) noexcept nogil>_addr(t, "wasmtime_component_resource_any_to_host")
    api.wasmtime_component_resource_host_to_any = <wasmtime_error_t *(*)(wasmtime_context_t *, const wasmtime_component_resource_host_t *, wasmtime_component_resource_any_t **) noexcept nogil>_addr(t, "wasmtime_component_resource_host_to_any")

    api.wasmtime_store_limiter = <void (*)(wasmtime_store_t *, int64_t, int64_t, int64_t, int64_t, int64_t) noexcept nogil>_addr(t, "wasmtime_store_limiter")
    api.wasm_valtype_new = <wasm_valtype_t *(*)(uint8_t) noexcept nogil>_addr(t, "wasm_valtype_new")
    api.wasm_globaltype_new = <wasm_globaltype_t *(*)(wasm_valtype_t *, uint8_t) noexcept nogil>_addr(t, "wasm_globaltype_new")
    api.wasmtime_global_new = <wasmtime_error_t *(*)(wasmtime_context_t *, const wasm_globaltype_t *, const wasmtime_val_t *, wasmtime_global_t *) noexcept nogil>_addr(t, "wasmtime_global_new")
    api.wasmtime_component_instance_get_func = <c_bool (*)(const wasmtime_component_instance_t *, wasmtime_context_t *, const wasmtime_component_export_index_t *, wasmtime_component_func_t *) noexcept nogil>_addr(t, "wasmtime_component_instance_get_func")
    api.wasmtime_linker_instantiate_pre = <wasmtime_error_t *(*)(const wasmtime_linker_t *, const wasmtime_module_t *, wasmtime_instance_pre_t **) noexcept nogil>_addr(t, "wasmtime_linker_instantiate_pre")
    api.wasmtime_instance_pre_delete = <void (*)(wasmtime_instance_pre_t *) noexcept nogil>_addr(t, "wasmtime_instance_pre_delete")
    api.wasmtime_instance_pre_instantiate_async = <wasmtime_call_future_t *(*)(const wasmtime_instance_pre_t *, wasmtime_context_t *, wasmtime_instance_t *, wasm_trap_t **, wasmtime_error_t **) noexcept nogil>_addr(t, "wasmtime_instance_pre_instantiate_async")

    api.wasmtime_instance_export_get = <c_bool (*)(wasmtime_context_t *, const wasmtime_instance_t *, const char *, size_t, wasmtime_extern_t *) noexcept nogil>_addr(t, "wasmtime_instance_export_get")
    api.wasmtime_extern_delete = <void (*)(wasmtime_extern_t *) noexcept nogil>_addr(t, "wasmtime_extern_delete")
    api.wasmtime_store_new = <wasmtime_store_t *(*)(const wasm_engine_t *, void *, void (*)(void *) noexcept nogil) noexcept nogil>_addr(t, "wasmtime_store_new")
    api.wasmtime_store_context = <wasmtime_context_t *(*)(wasmtime_store_t *) noexcept nogil>_addr(t, "wasmtime_store_context")
    api.wasmtime_store_delete = <void (*)(wasmtime_store_t *) noexcept nogil>_addr(t, "wasmtime_store_delete")


_init_api()


include "_wt_plan.pxi"
include "_wt_errors.pxi"
include "_wt_wait.pxi"
include "_wt_store.pxi"
include "_wt_async.pxi"
include "_wt_call.pxi"
include "_wt_host.pxi"
include "_wt_resource.pxi"
include "_wt_core.pxi"
