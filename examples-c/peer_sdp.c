/* peer_sdp.c: the SDP offer/answer of `msrp-peer offer` and `msrp-peer answer`,
 * built on libmsrp's msrp_sdp_* functions (see peer_sdp.h for the stdin/stdout
 * form). The integrator's calls, in order: prepare a connector, build the
 * offer or answer, parse the peer's description, negotiate, and complete the
 * connector in the role the pair decided. */
#include "peer_sdp.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXIT_FAILED 1
#define SDP_MAX (64 * 1024)

static const char *last_error(void) {
    static _Thread_local char buf[1024];
    msrp_last_error(buf, sizeof buf);
    return buf;
}

static int fail(const char *what, msrp_result_t r) {
    fprintf(stderr, "msrp-peer: %s: %s (%s)\n", what, last_error(), msrp_result_str(r));
    return EXIT_FAILED;
}

bool peer_sdp_setup_valid(const char *setup) {
    return setup == NULL || strcmp(setup, "active") == 0 || strcmp(setup, "passive") == 0 ||
           strcmp(setup, "actpass") == 0;
}

static msrp_sdp_setup_t setup_value(const char *setup) {
    if (setup == NULL) return MSRP_SDP_SETUP_NONE;
    if (strcmp(setup, "active") == 0) return MSRP_SDP_SETUP_ACTIVE;
    if (strcmp(setup, "passive") == 0) return MSRP_SDP_SETUP_PASSIVE;
    return MSRP_SDP_SETUP_ACTPASS;
}

/* Prints each CRLF-ended line of `text` as "SDP <line>", then "SDP-END". */
static void print_sdp(const char *text) {
    const char *p = text;
    while (*p != '\0') {
        size_t n = strcspn(p, "\r\n");
        if (n > 0) printf("SDP %.*s\n", (int)n, p);
        p += n;
        while (*p == '\r' || *p == '\n') p++;
    }
    printf("SDP-END\n");
    fflush(stdout);
}

/* Reads "SDP <line>" lines up to "SDP-END" from stdin (other lines are
 * skipped) and returns the description with CRLF line ends, or NULL at end of
 * input, on timeout, or when it is too long. */
static char *read_sdp(uint32_t (*ms_left)(void)) {
    static char in[SDP_MAX];
    size_t used = 0;
    char *sdp = calloc(1, SDP_MAX);
    size_t sdp_len = 0;
    if (sdp == NULL) return NULL;
    for (;;) {
        char *nl = memchr(in, '\n', used);
        if (nl != NULL) {
            *nl = '\0';
            size_t consumed = (size_t)(nl - in) + 1;
            size_t len = consumed - 1;
            if (len > 0 && in[len - 1] == '\r') in[--len] = '\0';
            if (strcmp(in, "SDP-END") == 0) return sdp;
            if (strncmp(in, "SDP ", 4) == 0) {
                if (sdp_len + (len - 4) + 3 > SDP_MAX) break;
                memcpy(sdp + sdp_len, in + 4, len - 4);
                sdp_len += len - 4;
                memcpy(sdp + sdp_len, "\r\n", 3);
                sdp_len += 2;
            }
            memmove(in, in + consumed, used - consumed);
            used -= consumed;
            continue;
        }
        if (used == sizeof in) break;
        struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
        uint32_t left = ms_left();
        int n = poll(&p, 1, left == 0 ? -1 : (int)left);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        ssize_t got = read(STDIN_FILENO, in + used, sizeof in - used);
        if (got <= 0) break;
        used += (size_t)got;
    }
    free(sdp);
    return NULL;
}

int peer_sdp_establish(const struct peer_sdp_args *a, msrp_endpoint_config_t *cfg, msrp_connector_t **conn_out,
                       msrp_transport_t **transport_out) {
    msrp_result_t r;
    int rc = EXIT_FAILED;
    msrp_sdp_options_t *opts = NULL;
    msrp_sdp_media_t *local = NULL, *remote = NULL;
    msrp_sdp_negotiation_t *neg = NULL;
    msrp_connector_t *conn = NULL;
    char *path = NULL, *text = NULL, *remote_text = NULL, *fp = NULL;

    if ((r = msrp_sdp_options_new(&opts)) != MSRP_RESULT_OK) return fail("SDP options", r);
    if ((r = msrp_sdp_options_set_setup(opts, setup_value(a->setup))) != MSRP_RESULT_OK ||
        (r = msrp_sdp_options_set_accept_types(opts, a->accept_types)) != MSRP_RESULT_OK) {
        rc = fail("SDP options", r);
        goto out;
    }
    if (a->tls) {
        if ((r = msrp_endpoint_config_fingerprint(cfg, &fp)) != MSRP_RESULT_OK ||
            (r = msrp_sdp_options_set_fingerprint(opts, fp)) != MSRP_RESULT_OK) {
            rc = fail("fingerprint", r);
            goto out;
        }
    }
    if (a->offer && a->file_path != NULL &&
        (r = msrp_sdp_options_set_file(opts, a->file_path, a->file_type, NULL)) != MSRP_RESULT_OK) {
        rc = fail("--send-file", r);
        goto out;
    }

    /* Which connector to prepare: one that listens unless this end will
     * certainly connect (an active offer or an active answer). */
    bool active;
    if (a->offer) {
        active = setup_value(a->setup) == MSRP_SDP_SETUP_ACTIVE;
    } else {
        if ((remote_text = read_sdp(a->ms_left)) == NULL) {
            fprintf(stderr, "msrp-peer: expected the offer as \"SDP <line>\" lines and \"SDP-END\" on stdin\n");
            goto out;
        }
        if ((r = msrp_sdp_media_parse(remote_text, 0, &remote)) != MSRP_RESULT_OK) {
            rc = fail("the offer", r);
            goto out;
        }
        msrp_sdp_setup_t s;
        if ((r = msrp_sdp_answer_setup(remote, opts, &s)) != MSRP_RESULT_OK) {
            rc = fail("the answer's a=setup", r);
            goto out;
        }
        active = s == MSRP_SDP_SETUP_ACTIVE;
    }
    if (a->relay != NULL) {
        /* Through a relay both ends connect to their relay (RFC 6135 §4.5);
         * msrp_sdp_connector_complete makes it send the first SEND or wait
         * for the peer's, as the SDP says. */
        msrp_relay_settings_t *rs = NULL;
        if ((r = msrp_relay_settings_new(a->relay, a->user, a->password, &rs)) != MSRP_RESULT_OK) {
            rc = fail("--relay", r);
            goto out;
        }
        if ((a->relay_fingerprint != NULL &&
             (r = msrp_relay_settings_set_fingerprint(rs, a->relay_fingerprint)) != MSRP_RESULT_OK) ||
            (a->dns_server != NULL && (r = msrp_relay_settings_set_dns_server(rs, a->dns_server)) != MSRP_RESULT_OK)) {
            msrp_relay_settings_free(rs);
            rc = fail("--relay", r);
            goto out;
        }
        r = msrp_connector_relay_new(cfg, rs, &conn);
        msrp_relay_settings_free(rs);
    } else {
        r = active ? msrp_connector_direct_new(cfg, &conn) : msrp_acceptor_direct_new(cfg, &conn);
    }
    if (r != MSRP_RESULT_OK) {
        rc = fail("connector", r);
        goto out;
    }
    const char *local_uri = a->local;
    if (local_uri == NULL && a->tls && a->relay == NULL) local_uri = "msrps://127.0.0.1:0;tcp";
    if ((r = msrp_connector_prepare(conn, local_uri, &path)) != MSRP_RESULT_OK) {
        rc = fail("prepare", r);
        goto out;
    }
    r = a->offer ? msrp_sdp_offer_build(path, opts, &text) : msrp_sdp_answer_build(remote, path, opts, &text);
    if (r != MSRP_RESULT_OK) {
        rc = fail(a->offer ? "the offer" : "the answer", r);
        goto out;
    }
    print_sdp(text);
    if ((r = msrp_sdp_media_parse(text, 0, &local)) != MSRP_RESULT_OK) {
        rc = fail("the local SDP", r);
        goto out;
    }
    if (a->offer) {
        if ((remote_text = read_sdp(a->ms_left)) == NULL) {
            fprintf(stderr, "msrp-peer: expected the answer as \"SDP <line>\" lines and \"SDP-END\" on stdin\n");
            goto out;
        }
        if ((r = msrp_sdp_media_parse(remote_text, 0, &remote)) != MSRP_RESULT_OK) {
            rc = fail("the answer", r);
            goto out;
        }
    }
    if ((r = msrp_sdp_negotiate(local, remote, a->offer, &neg)) != MSRP_RESULT_OK) {
        rc = fail("negotiation", r);
        goto out;
    }
    if ((r = msrp_sdp_connector_complete(conn, neg, a->ms_left(), transport_out)) != MSRP_RESULT_OK) {
        rc = fail("complete", r);
        goto out;
    }
    *conn_out = conn;
    conn = NULL;
    rc = 0;
out:
    msrp_connector_free(conn);
    msrp_sdp_negotiation_free(neg);
    msrp_sdp_media_free(local);
    msrp_sdp_media_free(remote);
    msrp_sdp_options_free(opts);
    msrp_string_free(path);
    msrp_string_free(text);
    msrp_string_free(fp);
    free(remote_text);
    return rc;
}
