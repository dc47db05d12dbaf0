/* send_chat: connect to a waiting peer and send each argument as a chat line.
 *
 *   send_chat "hello" "how are you?"
 *
 * Prints "PATH <uri>" (for the SDP offer), reads the peer's "PATH <uri> ..."
 * line on stdin, sends the texts, waits until each is acknowledged, and
 * closes the session cleanly.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "msrp.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static int acknowledged, failed, closed;

/* Called once per message when its last chunk was answered. */
static void on_message_sent(void *user_data, const char *message_id, uint16_t code, uint64_t bytes) {
    (void)user_data, (void)bytes;
    printf("sent %s: %u\n", message_id, (unsigned)code);
    pthread_mutex_lock(&lock);
    acknowledged++;
    failed += code != 200;
    pthread_cond_signal(&changed);
    pthread_mutex_unlock(&lock);
}

static void on_closed(void *user_data, msrp_close_reason_t reason, const char *text,
                      const msrp_unfinished_t *unfinished, size_t n) {
    (void)user_data, (void)reason, (void)text, (void)unfinished, (void)n;
    pthread_mutex_lock(&lock);
    closed = 1;
    pthread_cond_signal(&changed);
    pthread_mutex_unlock(&lock);
}

static int fail(const char *what) {
    char err[256];
    msrp_last_error(err, sizeof err);
    fprintf(stderr, "%s: %s\n", what, err);
    return 1;
}

int main(int argc, char **argv) {
    msrp_connector_t *connector = NULL;
    msrp_transport_t *transport = NULL;
    msrp_session_t *session = NULL;
    char *local_path = NULL, line[4096];
    int rc = 1, texts = argc - 1;

    if (msrp_connector_direct_new(NULL, &connector) != MSRP_RESULT_OK) return fail("connector");
    if (msrp_connector_prepare(connector, NULL, &local_path) != MSRP_RESULT_OK) {
        rc = fail("prepare");
        goto out;
    }
    printf("PATH %s\n", local_path);
    fflush(stdout);
    if (fgets(line, sizeof line, stdin) == NULL || strncmp(line, "PATH ", 5) != 0) {
        fprintf(stderr, "expected a line \"PATH <uri> ...\" on stdin\n");
        goto out;
    }
    line[strcspn(line, "\r\n")] = '\0';
    if (msrp_connector_complete(connector, line + 5, NULL, 10000, &transport) != MSRP_RESULT_OK) {
        rc = fail("complete");
        goto out;
    }

    msrp_session_config_t cfg = {0};
    cfg.size = sizeof cfg;
    cfg.on_message_sent = on_message_sent;
    cfg.on_closed = on_closed;
    if (msrp_session_new(transport, &cfg, &session) != MSRP_RESULT_OK) {
        rc = fail("session");
        goto out;
    }
    for (int i = 1; i < argc; i++) {
        if (msrp_session_send_message(session, "text/plain", (const uint8_t *)argv[i], strlen(argv[i]), NULL,
                                      NULL) != MSRP_RESULT_OK) {
            rc = fail("send");
            goto out;
        }
    }

    pthread_mutex_lock(&lock);
    while (acknowledged < texts && !closed) pthread_cond_wait(&changed, &lock);
    pthread_mutex_unlock(&lock);
    msrp_session_shutdown(session, true); /* flush, then close; on_closed follows */
    pthread_mutex_lock(&lock);
    while (!closed) pthread_cond_wait(&changed, &lock);
    rc = acknowledged == texts && failed == 0 ? 0 : 1;
    pthread_mutex_unlock(&lock);

out:
    msrp_session_free(session);
    msrp_connector_free(connector);
    msrp_string_free(local_path);
    msrp_library_shutdown();
    return rc;
}
