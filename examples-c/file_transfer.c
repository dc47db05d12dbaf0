/* file_transfer: send a file from one MSRP session to another, in one process.
 *
 *   file_transfer FILE
 *
 * Shows the asynchronous side of the API: the acceptor completes with
 * msrp_connector_complete_async while the connector completes blocking; the
 * receiving session gets the file in pieces (on_message_data) and hashes it,
 * the sending one reports progress. Prints the SHA-256 of what arrived.
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "msrp.h"
#include "sha256.h"

struct state {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    msrp_transport_t *accepted; /* from the acceptor's callback */
    msrp_result_t accept_result;
    int accept_done;
    sha256_ctx hash;
    uint64_t received;
    int complete;  /* the receiver has the whole file */
    int sent_code; /* the sender's final code, 0 until then */
};

static struct state S = {.lock = PTHREAD_MUTEX_INITIALIZER, .changed = PTHREAD_COND_INITIALIZER};

static void signal_change(void) {
    pthread_cond_broadcast(&S.changed);
    pthread_mutex_unlock(&S.lock);
}

/* The acceptor's complete_async result; the transport is ours on success. */
static void on_accepted(void *user_data, msrp_result_t result, msrp_transport_t *transport) {
    (void)user_data;
    pthread_mutex_lock(&S.lock);
    S.accept_result = result;
    S.accepted = transport;
    S.accept_done = 1;
    signal_change();
}

/* Small files come whole... */
static void on_message(void *user_data, const msrp_message_t *m) {
    (void)user_data;
    pthread_mutex_lock(&S.lock);
    sha256_update(&S.hash, m->body, m->body_len);
    S.received = m->body_len;
    S.complete = 1;
    signal_change();
}

/* ...large ones in pieces, in order over one connection. */
static void on_message_data(void *user_data, const msrp_message_data_t *d) {
    (void)user_data;
    pthread_mutex_lock(&S.lock);
    if (d->complete) {
        S.complete = 1;
    } else {
        sha256_update(&S.hash, d->data, d->len);
        S.received += d->len;
    }
    signal_change();
}

static void on_progress(void *user_data, const char *id, bool outgoing, uint64_t bytes, uint64_t total) {
    (void)user_data, (void)id;
    if (outgoing) fprintf(stderr, "\rsent %" PRIu64 " of %" PRIu64 " bytes", bytes, total);
}

static void on_message_sent(void *user_data, const char *id, uint16_t code, uint64_t bytes) {
    (void)user_data, (void)id, (void)bytes;
    pthread_mutex_lock(&S.lock);
    S.sent_code = code ? code : -1;
    signal_change();
}

static int fail(const char *what, msrp_result_t r) {
    char err[256];
    msrp_last_error(err, sizeof err);
    fprintf(stderr, "%s: %s (%s)\n", what, err, msrp_result_str(r));
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: file_transfer FILE\n");
        return 2;
    }
    msrp_connector_t *acceptor = NULL, *connector = NULL;
    msrp_transport_t *sending = NULL;
    msrp_session_t *receiver = NULL, *sender = NULL;
    char *a_path = NULL, *c_path = NULL;
    msrp_result_t r;
    int rc = 1;
    sha256_init(&S.hash);

    /* The SDP offer/answer, in miniature: each side's path goes to the other. */
    if ((r = msrp_acceptor_direct_new(NULL, &acceptor)) || (r = msrp_connector_prepare(acceptor, NULL, &a_path))) {
        rc = fail("acceptor", r);
        goto out;
    }
    if ((r = msrp_connector_direct_new(NULL, &connector)) || (r = msrp_connector_prepare(connector, NULL, &c_path))) {
        rc = fail("connector", r);
        goto out;
    }
    if ((r = msrp_connector_complete_async(acceptor, c_path, NULL, 10000, on_accepted, NULL))) {
        rc = fail("complete_async", r);
        goto out;
    }
    if ((r = msrp_connector_complete(connector, a_path, NULL, 10000, &sending))) {
        rc = fail("complete", r);
        goto out;
    }
    pthread_mutex_lock(&S.lock);
    while (!S.accept_done) pthread_cond_wait(&S.changed, &S.lock);
    pthread_mutex_unlock(&S.lock);
    if (S.accept_result != MSRP_RESULT_OK) {
        rc = fail("accept", S.accept_result);
        goto out;
    }

    msrp_session_config_t rcfg = {0};
    rcfg.size = sizeof rcfg;
    rcfg.on_message = on_message;
    rcfg.on_message_data = on_message_data;
    r = msrp_session_new(S.accepted, &rcfg, &receiver); /* consumes the transport */
    S.accepted = NULL;
    if (r) {
        rc = fail("receiver", r);
        goto out;
    }
    msrp_session_config_t scfg = {0};
    scfg.size = sizeof scfg;
    scfg.on_progress = on_progress;
    scfg.on_message_sent = on_message_sent;
    r = msrp_session_new(sending, &scfg, &sender);
    sending = NULL;
    if (r) {
        rc = fail("sender", r);
        goto out;
    }

    msrp_outgoing_file_t file = {0};
    file.path = argv[1];
    if ((r = msrp_session_send_file(sender, &file, NULL))) {
        rc = fail("send_file", r);
        goto out;
    }
    pthread_mutex_lock(&S.lock);
    while (!S.complete || S.sent_code == 0) pthread_cond_wait(&S.changed, &S.lock);
    char hex[65];
    sha256_final_hex(&S.hash, hex);
    printf("\nreceived %" PRIu64 " bytes, sha256 %s, sender got %d\n", S.received, hex, S.sent_code);
    rc = S.sent_code == 200 ? 0 : 1;
    pthread_mutex_unlock(&S.lock);

out:
    msrp_session_free(sender); /* each free waits for that session's callbacks */
    msrp_session_free(receiver);
    msrp_transport_free(sending);
    msrp_connector_free(connector);
    msrp_connector_free(acceptor);
    msrp_string_free(a_path);
    msrp_string_free(c_path);
    msrp_library_shutdown();
    return rc;
}
