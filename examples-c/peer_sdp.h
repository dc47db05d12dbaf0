/* peer_sdp.h: the SDP offer/answer of `msrp-peer offer` and `msrp-peer answer`.
 *
 * Instead of PATH lines, the two peers exchange their MSRP media descriptions:
 * each line of the local one is printed on stdout as "SDP <line>", then
 * "SDP-END"; the peer's arrives on stdin in the same form. `offer` prints first
 * and then reads, `answer` reads the offer and then prints its answer. Which
 * side connects follows a=setup (libmsrp's msrp_sdp_* functions decide it).
 */
#ifndef PEER_SDP_H
#define PEER_SDP_H

#include <stdbool.h>
#include <stdint.h>

#include "msrp.h"

struct peer_sdp_args {
    bool offer;                 /* true: offer, false: answer */
    const char *setup;          /* --setup active|passive|actpass, or NULL */
    const char *local;          /* --local URI, or NULL */
    bool tls;                   /* --tls (needs a certificate in the config) */
    const char *accept_types;   /* --accept-types, or NULL */
    const char *file_path;      /* the offer's file (first --send-file), or NULL */
    const char *file_type;      /* its --content-type, or NULL */
    const char *relay;          /* --relay URI, or NULL: direct */
    const char *user, *password, *dns_server;
    const char *relay_fingerprint; /* --fingerprint with --relay: the relay's */
    uint32_t (*ms_left)(void);  /* time left before --timeout (0: none) */
};

/* Checks --setup; returns false for an unknown value. */
bool peer_sdp_setup_valid(const char *setup);

/* Prepares a connector, exchanges the descriptions on stdout/stdin and
 * completes the connection in the negotiated role. On success returns 0 and
 * writes the connector and the bound transport; otherwise prints the reason
 * on stderr and returns the exit code (1). */
int peer_sdp_establish(const struct peer_sdp_args *a, msrp_endpoint_config_t *cfg, msrp_connector_t **conn_out,
                       msrp_transport_t **transport_out);

#endif
