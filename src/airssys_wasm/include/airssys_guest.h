/*
 * airssys_guest.h - write airssys guests in C without wit-bindgen (single-header library).
 *
 * Two lanes, chosen with a macro before the include (define exactly one, in one .c file):
 *
 *   #define AIRSSYS_CORE_LANE   a plain core module for the core-ABI lane: the host copies each
 *                               message into linear memory (alloc + handle); no imports, so no
 *                               host services. Build: a wasm32 module, nothing else.
 *   #define AIRSSYS_COMPONENT   the canonical-ABI glue of the smallest component world
 *                               (export handle-message, import airssys:core/host-services for
 *                               log and send-message). Build: a wasm32 module, then
 *                               `wasm-tools component embed` + `wasm-tools component new`.
 *
 * You implement one function (see the lane's section) and may call the helpers. Memory is a
 * bump heap after the module's data, reset after every call: nothing a handler receives or
 * allocates survives the call; keep state in globals. Built and tested with
 * `python -m ziglang cc --target=wasm32-freestanding -nostdlib -mbulk-memory` (ziglang on PyPI):
 * see examples/c_guest/build_c_guests.py in the airssys-wasm repository.
 */
#ifndef AIRSSYS_GUEST_H
#define AIRSSYS_GUEST_H

#include <stddef.h>
#include <stdint.h>

#if defined(AIRSSYS_CORE_LANE) == defined(AIRSSYS_COMPONENT)
#error "define exactly one of AIRSSYS_CORE_LANE or AIRSSYS_COMPONENT before including airssys_guest.h"
#endif

#define AIRSSYS_EXPORT(name) __attribute__((export_name(name), visibility("default")))

/* There is no libc (-nostdlib): the few helpers the glue and small guests need. memcpy and
 * memset compile to `memory.copy` / `memory.fill` with -mbulk-memory. */
static inline size_t airssys_strlen(const char *text) {
    size_t n = 0;
    while (text[n] != 0) n++;
    return n;
}

static inline int airssys_memeq(const void *a, const void *b, size_t len) {
    const uint8_t *x = (const uint8_t *)a, *y = (const uint8_t *)b;
    for (size_t i = 0; i < len; i++)
        if (x[i] != y[i]) return 0;
    return 1;
}

/* ---- the heap --------------------------------------------------------------------------- */

extern unsigned char __heap_base;  /* provided by wasm-ld: first byte after data and stack */
static uintptr_t airssys_heap_top_;

/* `size` bytes aligned to `align` (a power of two), growing memory as needed; NULL when the
 * memory cannot grow (its [limits] memory is reached). Freed when the current call ends. */
static inline void *airssys_alloc(size_t size, size_t align) {
    if (airssys_heap_top_ == 0) airssys_heap_top_ = (uintptr_t)&__heap_base;
    if (align == 0) align = 1;
    uintptr_t ptr = (airssys_heap_top_ + (align - 1)) & ~(uintptr_t)(align - 1);
    if (ptr < airssys_heap_top_ || size > UINTPTR_MAX - ptr) return NULL;
    uintptr_t end = ptr + size;
    uintptr_t have = (uintptr_t)__builtin_wasm_memory_size(0) * 65536u;
    if (end > have) {
        uintptr_t pages = (end - have + 65535u) / 65536u;
        if (__builtin_wasm_memory_grow(0, pages) == (size_t)-1) return NULL;
    }
    airssys_heap_top_ = end;
    return ptr == 0 ? NULL : (void *)ptr;
}

static inline void airssys_heap_reset_(void) { airssys_heap_top_ = (uintptr_t)&__heap_base; }

/* ---- the core-ABI lane -------------------------------------------------------------------- */
#ifdef AIRSSYS_CORE_LANE

/* Implement: one message from `sender` (its component name, UTF-8). Return 0 to accept it; any
 * other value is the guest refusing it (the host reports a GuestError with that code). */
int32_t airssys_handle(const uint8_t *sender, size_t sender_len, const uint8_t *msg, size_t len);

/* The reply of an `execute` export: `execute(op_ptr, op_len) -> i64` returns this. */
static inline int64_t airssys_reply(const void *data, size_t len) {
    return (int64_t)(((uint64_t)(uintptr_t)data << 32) | (uint32_t)len);
}

static int airssys_call_done_;  /* the previous call's heap is released on the next alloc */

AIRSSYS_EXPORT("alloc") int32_t airssys_export_alloc_(int32_t len) {
    if (airssys_call_done_) { airssys_heap_reset_(); airssys_call_done_ = 0; }
    if (len < 0) return 0;
    return (int32_t)(uintptr_t)airssys_alloc((size_t)len, 8);  /* 0: out of memory */
}

AIRSSYS_EXPORT("handle") int32_t airssys_export_handle_(int32_t sp, int32_t sl, int32_t mp,
                                                         int32_t ml) {
    int32_t status = airssys_handle((const uint8_t *)(uintptr_t)sp, (size_t)(uint32_t)sl,
                                    (const uint8_t *)(uintptr_t)mp, (size_t)(uint32_t)ml);
    airssys_call_done_ = 1;
    return status;
}

/* Call at the end of your own optional exports (execute, init, ...) so the heap is reused. */
static inline void airssys_call_done(void) { airssys_call_done_ = 1; }

#endif /* AIRSSYS_CORE_LANE */

/* ---- the component lane (canonical ABI, by hand) ----------------------------------------- */
#ifdef AIRSSYS_COMPONENT

typedef struct { const char *ptr; size_t len; } airssys_str;
/* WIT `component-id`: how components are addressed (a name is enough inside one host). */
typedef struct { airssys_str namespace_, name, version; } airssys_component_id;

/* WIT `component-error` cases (handle-message's error), numbered as in types.wit. */
enum { AIRSSYS_INITIALIZATION_FAILED = 1, AIRSSYS_CONFIGURATION_INVALID = 2,
       AIRSSYS_RESOURCE_EXHAUSTED = 3, AIRSSYS_INTERNAL_ERROR = 4 };
/* WIT `messaging-error` cases (send-message's error) + 1; 0 means sent. */
enum { AIRSSYS_SENT = 0, AIRSSYS_TARGET_NOT_FOUND = 1, AIRSSYS_PERMISSION_DENIED = 2,
       AIRSSYS_MAILBOX_FULL = 3, AIRSSYS_UNAVAILABLE = 4, AIRSSYS_QUOTA_EXCEEDED = 5 };
/* WIT `log-level`. */
enum { AIRSSYS_TRACE = 0, AIRSSYS_DEBUG = 1, AIRSSYS_INFO = 2, AIRSSYS_WARN = 3, AIRSSYS_ERROR = 4 };

/* Implement: one message (a multicodec frame). Return 0 to accept it, or one of the
 * component-error cases above with `*error` set to its text (it must outlive the call: a
 * string literal or memory from airssys_alloc). */
int airssys_handle_message(const airssys_component_id *sender, const uint8_t *msg, size_t len,
                           airssys_str *error);

static inline airssys_str airssys_cstr(const char *text) {
    return (airssys_str){text, airssys_strlen(text)};
}

__attribute__((import_module("cm32p2|airssys:core/host-services@1"), import_name("log")))
void airssys_import_log_(int32_t level, int32_t ptr, int32_t len, int32_t has_ctx, int32_t ctx,
                         int32_t ctx_len);
__attribute__((import_module("cm32p2|airssys:core/host-services@1"), import_name("send-message")))
void airssys_import_send_message_(int32_t ns, int32_t ns_len, int32_t name, int32_t name_len,
                                  int32_t ver, int32_t ver_len, int32_t msg, int32_t msg_len,
                                  int32_t ret);

/* Log `text` at `level` through the host (no context pairs). */
static inline void airssys_log(int level, airssys_str text) {
    airssys_import_log_(level, (int32_t)(uintptr_t)text.ptr, (int32_t)text.len, 0, 0, 0);
}

/* result<_, messaging-error> as the canonical ABI lays it out in memory. */
typedef struct { uint8_t is_err; uint8_t pad_[3]; uint8_t error_case; uint8_t pad2_[3];
                 const char *text; size_t text_len; } airssys_send_result_;

/* Send `msg` (a multicodec frame) to `target`; AIRSSYS_SENT or a messaging-error case, with
 * the host's reason in `*why` when it is not NULL. Needs the messaging.send capability. */
static inline int airssys_send_message(const airssys_component_id *target, const uint8_t *msg,
                                size_t len, airssys_str *why) {
    static airssys_send_result_ result;
#define AIRSSYS_P_(p) (int32_t)(uintptr_t)(p)
    airssys_import_send_message_(AIRSSYS_P_(target->namespace_.ptr), (int32_t)target->namespace_.len,
                                 AIRSSYS_P_(target->name.ptr), (int32_t)target->name.len,
                                 AIRSSYS_P_(target->version.ptr), (int32_t)target->version.len,
                                 AIRSSYS_P_(msg), (int32_t)len, AIRSSYS_P_(&result));
#undef AIRSSYS_P_
    if (!result.is_err) return AIRSSYS_SENT;
    if (why != NULL) *why = (airssys_str){result.text, result.text_len};
    return result.error_case + 1;
}

/* cabi_realloc: the host asks for room for the strings and lists it passes in. */
AIRSSYS_EXPORT("cm32p2_realloc") void *airssys_export_realloc_(void *old, size_t old_size,
                                                                size_t align, size_t size) {
    void *ptr = airssys_alloc(size, align);
    if (ptr == NULL) __builtin_trap();  /* the ABI has no way to say "no memory" */
    if (old != NULL && old_size != 0)
        __builtin_memcpy(ptr, old, old_size < size ? old_size : size);
    return ptr;
}

AIRSSYS_EXPORT("cm32p2_initialize") void airssys_export_initialize_(void) {}

/* result<_, component-error> as the canonical ABI lays it out in memory. */
typedef struct { uint8_t is_err; uint8_t pad_[3]; uint8_t error_case; uint8_t pad2_[3];
                 const char *text; size_t text_len; } airssys_handle_result_;
_Static_assert(sizeof(airssys_handle_result_) == 16, "canonical layout of result<_, variant>");

AIRSSYS_EXPORT("cm32p2|airssys:core/component-lifecycle@1|handle-message")
void *airssys_export_handle_message_(int32_t ns, int32_t ns_len, int32_t name, int32_t name_len,
                                     int32_t ver, int32_t ver_len, int32_t msg, int32_t msg_len) {
    static airssys_handle_result_ result;
    airssys_component_id sender = {
        {(const char *)(uintptr_t)ns, (size_t)(uint32_t)ns_len},
        {(const char *)(uintptr_t)name, (size_t)(uint32_t)name_len},
        {(const char *)(uintptr_t)ver, (size_t)(uint32_t)ver_len}};
    airssys_str error = {"", 0};
    int status = airssys_handle_message(&sender, (const uint8_t *)(uintptr_t)msg,
                                        (size_t)(uint32_t)msg_len, &error);
    if (status < AIRSSYS_INITIALIZATION_FAILED || status > AIRSSYS_INTERNAL_ERROR) {
        if (status != 0) { status = AIRSSYS_INTERNAL_ERROR; error = airssys_cstr("bad status"); }
    }
    result.is_err = status != 0;
    result.error_case = (uint8_t)(status == 0 ? 0 : status - 1);
    result.text = error.ptr;
    result.text_len = error.len;
    return &result;
}

/* post-return: the host has read the result; everything of this call can go. */
AIRSSYS_EXPORT("cm32p2|airssys:core/component-lifecycle@1|handle-message_post")
void airssys_export_handle_message_post_(void *result) { (void)result; airssys_heap_reset_(); }

#endif /* AIRSSYS_COMPONENT */
#endif /* AIRSSYS_GUEST_H */
