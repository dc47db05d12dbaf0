/* c_file_transfer: the C half of the C-versus-Rust API benchmark
 * (scripts/bench-c-vs-rust.sh; the Rust half is examples/file_transfer_bench.rs,
 * which does the same through the Rust API).
 *
 *   c_file_transfer FILE
 *
 * One process: an AcceptorDirect and a ConnectorDirect bound over loopback
 * TCP, the connector's session sends FILE with msrp_session_send_file
 * (default chunk size), the acceptor's session (default configuration, so a
 * large file arrives through on_message_data) counts and discards what
 * arrives. Timed from binding the acceptor to the last octet received.
 * Prints one line:
 *
 *   c bytes=N seconds=S MBps=X cpu=C
 *
 * (MB = 10^6 octets; C: the process's CPU time, user + system, all threads,
 * over the same interval.)
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "msrp.h"

struct state {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    msrp_transport_t *accepted; /* from the acceptor's callback */
    msrp_result_t accept_result;
    int accept_done;
    /* Written only by the receiver's callbacks, which run one at a time. */
    uint64_t received;
    int complete;  /* the receiver has the whole file (under lock) */
    int sent_code; /* the sender's final code, 0 until then (under lock) */
};

static struct state S = {.lock = PTHREAD_MUTEX_INITIALIZER, .changed = PTHREAD_COND_INITIALIZER};

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* CPU time of the whole process (all threads), user + system, in seconds. */
static double cpu(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_utime.tv_sec + (double)u.ru_utime.tv_usec / 1e6 + (double)u.ru_stime.tv_sec +
           (double)u.ru_stime.tv_usec / 1e6;
}

static void on_accepted(void *user_data, msrp_result_t result, msrp_transport_t *transport) {
    (void)user_data;
    pthread_mutex_lock(&S.lock);
    S.accept_result = result;
    S.accepted = transport;
    S.accept_done = 1;
    pthread_cond_broadcast(&S.changed);
    pthread_mutex_unlock(&S.lock);
}

static void on_message(void *user_data, const msrp_message_t *m) {
    (void)user_data;
    S.received += m->body_len;
    pthread_mutex_lock(&S.lock);
    S.complete = 1;
    pthread_cond_broadcast(&S.changed);
    pthread_mutex_unlock(&S.lock);
}

static void on_message_data(void *user_data, const msrp_message_data_t *d) {
    (void)user_data;
    if (!d->complete) {
        S.received += d->len; /* discarded */
        return;
    }
    pthread_mutex_lock(&S.lock);
    S.complete = 1;
    pthread_cond_broadcast(&S.changed);
    pthread_mutex_unlock(&S.lock);
}

static void on_message_sent(void *user_data, const char *id, uint16_t code, uint64_t bytes) {
    (void)user_data, (void)id, (void)bytes;
    pthread_mutex_lock(&S.lock);
    S.sent_code = code ? code : -1;
    pthread_cond_broadcast(&S.changed);
    pthread_mutex_unlock(&S.lock);
}

static int fail(const char *what, msrp_result_t r) {
    char err[256];
    msrp_last_error(err, sizeof err);
    fprintf(stderr, "c_file_transfer: %s: %s (%s)\n", what, err, msrp_result_str(r));
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: c_file_transfer FILE\n");
        return 2;
    }
    struct stat st;
    if (stat(argv[1], &st) != 0) {
        perror(argv[1]);
        return 2;
    }
    uint64_t size = (uint64_t)st.st_size;
    msrp_connector_t *acceptor = NULL, *connector = NULL;
    msrp_transport_t *sending = NULL;
    msrp_session_t *receiver = NULL, *sender = NULL;
    char *a_path = NULL, *c_path = NULL;
    msrp_result_t r;
    int rc = 1;

    double start = now(), cpu_start = cpu();
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
    scfg.on_message_sent = on_message_sent;
    r = msrp_session_new(sending, &scfg, &sender);
    sending = NULL;
    if (r) {
        rc = fail("sender", r);
        goto out;
    }

    msrp_outgoing_file_t file = {0};
    file.path = argv[1];
    file.content_type = "application/octet-stream";
    if ((r = msrp_session_send_file(sender, &file, NULL))) {
        rc = fail("send_file", r);
        goto out;
    }
    pthread_mutex_lock(&S.lock);
    while (!S.complete) pthread_cond_wait(&S.changed, &S.lock);
    double seconds = now() - start, cpu_seconds = cpu() - cpu_start;
    while (S.sent_code == 0) pthread_cond_wait(&S.changed, &S.lock);
    int sent_code = S.sent_code;
    uint64_t received = S.received;
    pthread_mutex_unlock(&S.lock);
    if (received != size || sent_code != 200) {
        fprintf(stderr, "c_file_transfer: received %" PRIu64 " of %" PRIu64 " octets, sender got %d\n", received,
                size, sent_code);
        goto out;
    }
    printf("c bytes=%" PRIu64 " seconds=%.3f MBps=%.1f cpu=%.3f\n", size, seconds, (double)size / seconds / 1e6,
           cpu_seconds);
    rc = 0;

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
