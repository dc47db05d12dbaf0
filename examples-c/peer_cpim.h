/* peer_cpim.h - msrp-peer's CPIM (RFC 3862), IMDN (RFC 5438) and
 * isComposing (RFC 3994) handling: --cpim FROM TO wraps each --send-text,
 * --imdn asks for and answers delivery notifications, and received
 * message/cpim and isComposing messages get their CPIM and COMPOSING lines.
 * Built on the libmsrp C API only. */
#ifndef MSRP_PEER_CPIM_H
#define MSRP_PEER_CPIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msrp.h"

/* How msrp-peer prints a stdout line and tells its main loop that something
 * changed (takes the peer's lock itself). */
typedef void (*peer_line_fn)(const char *fmt, ...);
typedef void (*peer_changed_fn)(void);

/* Called once before the session starts. `imdn`: --imdn was given. */
void peer_cpim_init(peer_line_fn line, peer_changed_fn changed, bool imdn);

/* Wraps `text` in CPIM From `from` To `to` (addresses, e.g. sip:a@x), with
 * DateTime, the imdn namespace, a new imdn.Message-ID and, with --imdn, a
 * positive-delivery request; inner type text/plain;charset=UTF-8. Writes a
 * malloc'd payload to *out / *out_len. Returns 0 or prints why and returns
 * -1. With --imdn the message then counts as done only when its delivery
 * notification arrived (peer_cpim_goals_met). */
int peer_cpim_wrap(const char *from, const char *to, const char *text, uint8_t **out, size_t *out_len);

/* Prints the CPIM line of a received message/cpim message and the COMPOSING
 * line of an isComposing one (bare or CPIM-wrapped); nothing for others. */
void peer_cpim_on_message(const msrp_message_t *m);

/* The session's on_imdn callback: prints "IMDN <imdn-message-id> <status>". */
void peer_cpim_on_imdn(void *user_data, const msrp_imdn_event_t *e);

/* Whether every wrapped message that asked for a delivery notification got
 * one (true without --imdn). */
bool peer_cpim_goals_met(void);

/* Frees what peer_cpim_wrap recorded. */
void peer_cpim_cleanup(void);

#endif
