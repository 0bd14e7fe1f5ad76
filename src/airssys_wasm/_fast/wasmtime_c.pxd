# Declarations of the parts of the Wasmtime 50 C API that the fast call path uses.
#
# Written from the v50 C API documentation (wasm.h, wasmtime/func.h, wasmtime/memory.h,
# wasmtime/error.h, wasmtime/trap.h, wasmtime/component/{val,func,linker}.h). The wheel ships no
# headers and the library has no SONAME, so nothing is linked: every function is reached through
# the pointer table `WtApi`, filled at import from the ctypes CDLL wasmtime-py already loaded
# (see handles.py). The struct layouts below are checked field by field at import against
# wasmtime-py's generated ctypes bindings (`wasmtime._bindings`), which come from the same headers.
from libc.stdint cimport uint8_t, int8_t, uint16_t, int16_t, uint32_t, int32_t, uint64_t, int64_t

cdef extern from *:
    """
    /* Opaque handles: only ever used through pointers. */
    typedef struct aw_wasmtime_context wasmtime_context_t;
    typedef struct aw_wasmtime_error wasmtime_error_t;
    typedef struct aw_wasm_trap wasm_trap_t;
    typedef struct aw_component_func_type wasmtime_component_func_type_t;
    typedef struct aw_component_linker_instance wasmtime_component_linker_instance_t;
    typedef struct aw_wasm_functype wasm_functype_t;
    typedef struct aw_wasm_valtype wasm_valtype_t;
    typedef struct aw_call_future wasmtime_call_future_t;
    typedef struct aw_wasm_engine wasm_engine_t;
    typedef struct aw_wasmtime_linker wasmtime_linker_t;
    typedef struct aw_wasmtime_module wasmtime_module_t;
    typedef struct aw_component_linker wasmtime_component_linker_t;
    typedef struct aw_component wasmtime_component_t;
    typedef struct aw_wasmtime_caller wasmtime_caller_t;
    typedef struct aw_component_resource_type wasmtime_component_resource_type_t;
    typedef struct aw_component_resource_any wasmtime_component_resource_any_t;
    typedef struct aw_component_resource_host wasmtime_component_resource_host_t;
    typedef struct aw_wasmtime_store wasmtime_store_t;
    typedef struct aw_wasm_globaltype wasm_globaltype_t;
    typedef struct aw_component_export_index wasmtime_component_export_index_t;
    typedef struct aw_instance_pre wasmtime_instance_pre_t;
    """
    ctypedef struct wasmtime_context_t
    ctypedef struct wasmtime_error_t
    ctypedef struct wasm_trap_t
    ctypedef struct wasmtime_component_func_type_t
    ctypedef struct wasmtime_component_linker_instance_t
    ctypedef struct wasm_functype_t
    ctypedef struct wasm_valtype_t
    ctypedef struct wasmtime_call_future_t
    ctypedef struct wasm_engine_t
    ctypedef struct wasmtime_linker_t
    ctypedef struct wasmtime_module_t
    ctypedef struct wasmtime_component_linker_t
    ctypedef struct wasmtime_component_t
    ctypedef struct wasmtime_caller_t
    ctypedef struct wasmtime_component_resource_type_t
    ctypedef struct wasmtime_component_resource_any_t
    ctypedef struct wasmtime_component_resource_host_t
    ctypedef struct wasmtime_store_t
    ctypedef struct wasm_globaltype_t
    ctypedef struct wasmtime_component_export_index_t
    ctypedef struct wasmtime_instance_pre_t

# The async API's callbacks return a real C bool (a Cython bint is an int).
cdef extern from "<stdbool.h>":
    ctypedef int c_bool "bool"

# wasm.h: own-style byte vector; wasm_name_t is the same type.
ctypedef struct wasm_byte_vec_t:
    size_t size
    uint8_t *data

# wasm.h: vector of value types (a function type's params or results).
ctypedef struct wasm_valtype_vec_t:
    size_t size
    wasm_valtype_t **data

# wasmtime/func.h: core function handle (store id + private index).
ctypedef struct wasmtime_func_t:
    uint64_t store_id
    void *private_

# wasmtime/memory.h: core memory handle.
ctypedef struct wasmtime_memory_anon_t:
    uint64_t store_id
    uint32_t private1
ctypedef struct wasmtime_memory_t:
    wasmtime_memory_anon_t anon
    uint32_t private2

# wasmtime/val.h: typed core value of wasmtime_func_call_async (kind, then a 24-byte union).
ctypedef union wasmtime_valunion_t:
    int32_t i32
    int64_t i64
    float f32
    double f64
    uint8_t pad[24]
ctypedef struct wasmtime_val_t:
    uint8_t kind
    wasmtime_valunion_t of

# wasmtime/global.h: core global handle (only its store id is read: the Store's id probe).
ctypedef struct wasmtime_global_t:
    uint64_t store_id
    uint32_t private1
    uint32_t private2
    uint32_t private3

# wasmtime/extern.h: an export of a core instance (kind, then the handle; 8 + 24 bytes).
ctypedef union wasmtime_extern_union_t:
    wasmtime_func_t func
    wasmtime_memory_t memory
    uint8_t pad[24]
ctypedef struct wasmtime_extern_t:
    uint8_t kind
    wasmtime_extern_union_t of
cdef enum:
    WT_EXTERN_FUNC = 0
    WT_EXTERN_MEMORY = 3

# wasmtime/instance.h and wasmtime/component/instance.h: instance handles (store id + index).
ctypedef struct wasmtime_instance_t:
    uint64_t store_id
    size_t private_
ctypedef struct wasmtime_component_instance_t:
    uint64_t store_id
    uint32_t private_

# wasmtime/async.h: what an async host function hands back; polled until callback(env) is true.
ctypedef c_bool (*wt_continuation_cb_t)(void *env) noexcept nogil
ctypedef struct wasmtime_async_continuation_t:
    wt_continuation_cb_t callback
    void *env
    void (*finalizer)(void *env) noexcept nogil

# wasmtime/component/func.h: component function handle.
ctypedef struct wasmtime_component_func_anon_t:
    uint64_t store_id
    uint32_t private1
ctypedef struct wasmtime_component_func_t:
    wasmtime_component_func_anon_t anon
    uint32_t private2
    void *private3

# wasmtime/component/val.h (v50: kinds 0..20, resource 21; map is never built here).
cdef enum:
    WT_BOOL = 0
    WT_S8 = 1
    WT_U8 = 2
    WT_S16 = 3
    WT_U16 = 4
    WT_S32 = 5
    WT_U32 = 6
    WT_S64 = 7
    WT_U64 = 8
    WT_F32 = 9
    WT_F64 = 10
    WT_CHAR = 11
    WT_STRING = 12
    WT_LIST = 13
    WT_RECORD = 14
    WT_TUPLE = 15
    WT_VARIANT = 16
    WT_ENUM = 17
    WT_OPTION = 18
    WT_RESULT = 19
    WT_FLAGS = 20
    WT_RESOURCE = 21

cdef struct wasmtime_component_val_s
cdef struct wasmtime_component_valrecord_entry_s

ctypedef struct wasmtime_component_vallist_t:
    size_t size
    wasmtime_component_val_s *data

ctypedef struct wasmtime_component_valrecord_t:
    size_t size
    wasmtime_component_valrecord_entry_s *data

ctypedef struct wasmtime_component_valflags_t:
    size_t size
    wasm_byte_vec_t *data

ctypedef struct wasmtime_component_valmap_t:
    size_t size
    void *data

ctypedef struct wasmtime_component_valvariant_t:
    wasm_byte_vec_t discriminant
    wasmtime_component_val_s *val

ctypedef struct wasmtime_component_valresult_t:
    uint8_t is_ok  # C bool
    wasmtime_component_val_s *val

ctypedef union wasmtime_component_valunion_t:
    uint8_t boolean  # C bool
    int8_t s8
    uint8_t u8
    int16_t s16
    uint16_t u16
    int32_t s32
    uint32_t u32
    int64_t s64
    uint64_t u64
    float f32
    double f64
    uint32_t character
    wasm_byte_vec_t string
    wasmtime_component_vallist_t list
    wasmtime_component_valrecord_t record
    wasmtime_component_vallist_t tuple
    wasmtime_component_valvariant_t variant
    wasm_byte_vec_t enumeration
    wasmtime_component_val_s *option
    wasmtime_component_valresult_t result
    wasmtime_component_valflags_t flags
    wasmtime_component_valmap_t map
    wasmtime_component_resource_any_t *resource

cdef struct wasmtime_component_val_s:
    uint8_t kind
    wasmtime_component_valunion_t of
ctypedef wasmtime_component_val_s wasmtime_component_val_t

cdef struct wasmtime_component_valrecord_entry_s:
    wasm_byte_vec_t name
    wasmtime_component_val_t val
ctypedef wasmtime_component_valrecord_entry_s wasmtime_component_valrecord_entry_t

# Host callback of wasmtime_component_linker_instance_add_func (v50 adds the func-type argument).
ctypedef wasmtime_error_t *(*wt_component_callback_t)(
    void *env, wasmtime_context_t *context, const wasmtime_component_func_type_t *ty,
    wasmtime_component_val_t *args, size_t nargs,
    wasmtime_component_val_t *results, size_t nresults) noexcept nogil
ctypedef void (*wt_finalizer_t)(void *env) noexcept nogil
# Destructor of a host resource type (component/linker.h): the guest dropped its own handle.
ctypedef wasmtime_error_t *(*wt_resource_destructor_t)(
    void *env, wasmtime_context_t *context, uint32_t rep) noexcept nogil
# Host callback of wasmtime_component_linker_instance_add_func_async: fills the continuation.
ctypedef void (*wt_component_async_callback_t)(
    void *env, wasmtime_context_t *context, const wasmtime_component_func_type_t *ty,
    wasmtime_component_val_t *args, size_t nargs,
    wasmtime_component_val_t *results, size_t nresults,
    wasmtime_error_t **error_ret, wasmtime_async_continuation_t *cont) noexcept nogil

# The function table. Every entry is resolved by name from the loaded library before use.
ctypedef struct WtApi:
    void (*wasm_byte_vec_new)(wasm_byte_vec_t *out, size_t size, const uint8_t *data) noexcept nogil
    void (*wasm_byte_vec_new_uninitialized)(wasm_byte_vec_t *out, size_t size) noexcept nogil
    void (*wasm_byte_vec_delete)(wasm_byte_vec_t *vec) noexcept nogil
    wasmtime_error_t *(*wasmtime_error_new)(const char *msg) noexcept nogil
    void (*wasmtime_error_message)(const wasmtime_error_t *err, wasm_byte_vec_t *out) noexcept nogil
    void (*wasmtime_error_delete)(wasmtime_error_t *err) noexcept nogil
    uint8_t (*wasmtime_trap_code)(const wasm_trap_t *trap, uint8_t *code) noexcept nogil
    void (*wasm_trap_message)(const wasm_trap_t *trap, wasm_byte_vec_t *out) noexcept nogil
    void (*wasm_trap_delete)(wasm_trap_t *trap) noexcept nogil
    uint8_t *(*wasmtime_memory_data)(const wasmtime_context_t *ctx, const wasmtime_memory_t *mem) noexcept nogil
    size_t (*wasmtime_memory_data_size)(const wasmtime_context_t *ctx, const wasmtime_memory_t *mem) noexcept nogil
    void (*wasmtime_component_val_delete)(wasmtime_component_val_t *value) noexcept nogil
    wasmtime_component_val_t *(*wasmtime_component_val_new)(wasmtime_component_val_t *value) noexcept nogil
    void (*wasmtime_component_vallist_new_uninit)(wasmtime_component_vallist_t *out, size_t size) noexcept nogil
    void (*wasmtime_component_valrecord_new_uninit)(wasmtime_component_valrecord_t *out, size_t size) noexcept nogil
    void (*wasmtime_component_valtuple_new_uninit)(wasmtime_component_vallist_t *out, size_t size) noexcept nogil
    void (*wasmtime_component_valflags_new_uninit)(wasmtime_component_valflags_t *out, size_t size) noexcept nogil
    wasm_functype_t *(*wasmtime_func_type)(const wasmtime_context_t *ctx, const wasmtime_func_t *func) noexcept nogil
    const wasm_valtype_vec_t *(*wasm_functype_params)(const wasm_functype_t *ty) noexcept nogil
    const wasm_valtype_vec_t *(*wasm_functype_results)(const wasm_functype_t *ty) noexcept nogil
    uint8_t (*wasm_valtype_kind)(const wasm_valtype_t *ty) noexcept nogil
    void (*wasm_functype_delete)(wasm_functype_t *ty) noexcept nogil
    wasmtime_error_t *(*wasmtime_context_set_fuel)(wasmtime_context_t *ctx, uint64_t fuel) noexcept nogil
    void (*wasmtime_context_set_epoch_deadline)(wasmtime_context_t *ctx, uint64_t ticks_beyond_current) noexcept nogil
    wasmtime_error_t *(*wasmtime_component_linker_instance_add_func)(
        wasmtime_component_linker_instance_t *li, const char *name, size_t name_len,
        wt_component_callback_t cb, void *env, wt_finalizer_t finalizer) noexcept nogil
    # The synchronous component call: only the benchmarks' reference (ComponentFunc._sync_reference).
    wasmtime_error_t *(*wasmtime_component_func_call)(
        const wasmtime_component_func_t *func, wasmtime_context_t *ctx,
        const wasmtime_component_val_t *args, size_t nargs,
        wasmtime_component_val_t *results, size_t nresults) noexcept nogil
    # The async C API (wasmtime/async.h, component/func.h, component/linker.h).
    wasmtime_call_future_t *(*wasmtime_component_func_call_async)(
        const wasmtime_component_func_t *func, wasmtime_context_t *ctx,
        const wasmtime_component_val_t *args, size_t nargs,
        wasmtime_component_val_t *results, size_t nresults, wasmtime_error_t **error_ret) noexcept nogil
    wasmtime_call_future_t *(*wasmtime_func_call_async)(
        wasmtime_context_t *ctx, const wasmtime_func_t *func, const wasmtime_val_t *args, size_t nargs,
        wasmtime_val_t *results, size_t nresults, wasm_trap_t **trap_ret,
        wasmtime_error_t **error_ret) noexcept nogil
    c_bool (*wasmtime_call_future_poll)(wasmtime_call_future_t *future) noexcept nogil
    void (*wasmtime_call_future_delete)(wasmtime_call_future_t *future) noexcept nogil
    wasmtime_error_t *(*wasmtime_component_linker_instance_add_func_async)(
        wasmtime_component_linker_instance_t *li, const char *name, size_t name_len,
        wt_component_async_callback_t cb, void *env, wt_finalizer_t finalizer) noexcept nogil
    wasmtime_call_future_t *(*wasmtime_component_linker_instantiate_async)(
        const wasmtime_component_linker_t *linker, wasmtime_context_t *ctx,
        const wasmtime_component_t *component, wasmtime_component_instance_t *instance_out,
        wasmtime_error_t **error_ret) noexcept nogil
    wasmtime_call_future_t *(*wasmtime_linker_instantiate_async)(
        const wasmtime_linker_t *linker, wasmtime_context_t *ctx, const wasmtime_module_t *module,
        wasmtime_instance_t *instance_out, wasm_trap_t **trap_ret, wasmtime_error_t **error_ret) noexcept nogil
    # Declared in the header as returning wasmtime_error_t*; v50's implementation returns nothing.
    void (*wasmtime_context_epoch_deadline_async_yield_and_update)(
        wasmtime_context_t *ctx, uint64_t delta) noexcept nogil
    void (*wasmtime_engine_increment_epoch)(wasm_engine_t *engine) noexcept nogil
    # Host resources (component/types/resource.h, component/val.h, component/linker.h).
    wasmtime_component_resource_type_t *(*wasmtime_component_resource_type_new_host)(uint32_t ty) noexcept nogil
    void (*wasmtime_component_resource_type_delete)(wasmtime_component_resource_type_t *ty) noexcept nogil
    wasmtime_error_t *(*wasmtime_component_linker_instance_add_resource)(
        wasmtime_component_linker_instance_t *li, const char *name, size_t name_len,
        const wasmtime_component_resource_type_t *ty, wt_resource_destructor_t dtor, void *env,
        wt_finalizer_t finalizer) noexcept nogil
    wasmtime_component_resource_host_t *(*wasmtime_component_resource_host_new)(
        c_bool owned, uint32_t rep, uint32_t ty) noexcept nogil
    uint32_t (*wasmtime_component_resource_host_rep)(const wasmtime_component_resource_host_t *h) noexcept nogil
    uint32_t (*wasmtime_component_resource_host_type)(const wasmtime_component_resource_host_t *h) noexcept nogil
    void (*wasmtime_component_resource_host_delete)(wasmtime_component_resource_host_t *h) noexcept nogil
    wasmtime_error_t *(*wasmtime_component_resource_any_to_host)(
        wasmtime_context_t *ctx, const wasmtime_component_resource_any_t *r,
        wasmtime_component_resource_host_t **out) noexcept nogil
    wasmtime_error_t *(*wasmtime_component_resource_host_to_any)(
        wasmtime_context_t *ctx, const wasmtime_component_resource_host_t *h,
        wasmtime_component_resource_any_t **out) noexcept nogil
    # Store setup of a restart (store.h, global.h, component/instance.h, instance.h, linker.h).
    void (*wasmtime_store_limiter)(wasmtime_store_t *store, int64_t memory_size,
        int64_t table_elements, int64_t instances, int64_t tables, int64_t memories) noexcept nogil
    wasm_valtype_t *(*wasm_valtype_new)(uint8_t kind) noexcept nogil
    wasm_globaltype_t *(*wasm_globaltype_new)(wasm_valtype_t *content, uint8_t mutability) noexcept nogil
    wasmtime_error_t *(*wasmtime_global_new)(wasmtime_context_t *ctx, const wasm_globaltype_t *ty,
        const wasmtime_val_t *val, wasmtime_global_t *out) noexcept nogil
    c_bool (*wasmtime_component_instance_get_func)(const wasmtime_component_instance_t *instance,
        wasmtime_context_t *ctx, const wasmtime_component_export_index_t *index,
        wasmtime_component_func_t *func_out) noexcept nogil
    wasmtime_error_t *(*wasmtime_linker_instantiate_pre)(const wasmtime_linker_t *linker,
        const wasmtime_module_t *module, wasmtime_instance_pre_t **out) noexcept nogil
    void (*wasmtime_instance_pre_delete)(wasmtime_instance_pre_t *pre) noexcept nogil
    wasmtime_call_future_t *(*wasmtime_instance_pre_instantiate_async)(
        const wasmtime_instance_pre_t *pre, wasmtime_context_t *ctx, wasmtime_instance_t *instance_out,
        wasm_trap_t **trap_ret, wasmtime_error_t **error_ret) noexcept nogil
    c_bool (*wasmtime_instance_export_get)(wasmtime_context_t *ctx, const wasmtime_instance_t *instance,
        const char *name, size_t name_len, wasmtime_extern_t *item) noexcept nogil
    void (*wasmtime_extern_delete)(wasmtime_extern_t *item) noexcept nogil
    # A Store made and deleted in C (store.h): the restart path's NativeStore.
    wasmtime_store_t *(*wasmtime_store_new)(const wasm_engine_t *engine, void *data,
        void (*finalizer)(void *) noexcept nogil) noexcept nogil
    wasmtime_context_t *(*wasmtime_store_context)(wasmtime_store_t *store) noexcept nogil
    void (*wasmtime_store_delete)(wasmtime_store_t *store) noexcept nogil
