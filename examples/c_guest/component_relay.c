/* A component in C for the smallest world (handle-message + host-services): it forwards every
 * message to the component named "sink" through send-message.
 *
 *   message [codec] 't' ...   -> __builtin_trap(): a TrapError, the instance is discarded
 *   message [codec] 'e' ...   -> refused: err(internal-error("refused by the relay"))
 *   any other message         -> send-message("sink", message); a refusal by the host (no
 *                                capability, no such component) becomes this message's error
 */
#define AIRSSYS_COMPONENT
#include "airssys_guest.h"

int airssys_handle_message(const airssys_component_id *sender, const uint8_t *msg, size_t len,
                           airssys_str *error) {
    (void)sender;
    if (len >= 2 && msg[1] == 't') __builtin_trap();
    if (len >= 2 && msg[1] == 'e') {
        *error = airssys_cstr("refused by the relay");
        return AIRSSYS_INTERNAL_ERROR;
    }
    airssys_component_id sink = {airssys_cstr(""), airssys_cstr("sink"), airssys_cstr("")};
    airssys_str why = {"", 0};
    if (airssys_send_message(&sink, msg, len, &why) != AIRSSYS_SENT) {
        airssys_log(AIRSSYS_WARN, why);
        *error = why;
        return AIRSSYS_INTERNAL_ERROR;
    }
    return 0;
}
