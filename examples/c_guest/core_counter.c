/* A core-ABI lane actor in C: counts messages, keeps the last one, traps on request.
 *
 *   message [codec] 't' ...   -> __builtin_trap() (wasm `unreachable`): the host discards the
 *                                instance and its supervisor restarts it with fresh memory
 *   any other message         -> counted, its first 256 bytes kept
 *   execute("count")          -> the count, u32 little-endian
 *   execute("last")           -> the last message kept
 */
#define AIRSSYS_CORE_LANE
#include "airssys_guest.h"

static uint32_t count;
static uint8_t last[256];
static size_t last_len;

int32_t airssys_handle(const uint8_t *sender, size_t sender_len, const uint8_t *msg, size_t len) {
    (void)sender;
    (void)sender_len;
    if (len >= 2 && msg[1] == 't') __builtin_trap();
    count++;
    last_len = len < sizeof last ? len : sizeof last;
    __builtin_memcpy(last, msg, last_len);
    return 0;
}

static int is(const uint8_t *op, size_t len, const char *word) {
    size_t n = airssys_strlen(word);
    return len == n && airssys_memeq(op, word, n);
}

AIRSSYS_EXPORT("execute") int64_t execute(int32_t op_ptr, int32_t op_len) {
    const uint8_t *op = (const uint8_t *)(uintptr_t)op_ptr;
    size_t len = (size_t)(uint32_t)op_len;
    airssys_call_done();
    if (is(op, len, "count")) return airssys_reply(&count, sizeof count);
    if (is(op, len, "last")) return airssys_reply(last, last_len);
    return -1;  /* negative: an error code (the host raises GuestError) */
}

AIRSSYS_EXPORT("health") int32_t health(void) { return 0; }  /* 0 = healthy */
