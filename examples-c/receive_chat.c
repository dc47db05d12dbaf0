/* receive_chat: wait for one MSRP chat session and print what arrives.
 *
 *   receive_chat            prints "PATH <uri>" (put it in your SDP answer),
 *                           then reads the peer's "PATH <uri> ..." line on stdin
 *
 * Pair it with send_chat:  mkfifo f; receive_chat <f | (read l; echo "$l" >&2 ...)
 * or see tests-c/CMakeLists.txt (int_chat_examples) for a wiring script.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "msrp.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t closed_cond = PTHREAD_COND_INITIALIZER;
static int closed;

/* Runs on a libmsrp dispatcher thread; the message is borrowed for the call. */
static void on_message(void *user_data, const msrp_message_t *m) {
    (void)user_data;
    printf("%s: %.*s\n", m->content_type, (int)m->body_len, (const char *)m->body);
    fflush(stdout);
}

static void on_closed(void *user_data, msrp_close_reason_t reason, const char *text,
                      const msrp_unfinished_t *unfinished, size_t n) {
    (void)user_data, (void)reason, (void)unfinished, (void)n;
    fprintf(stderr, "session ended: %s\n", text);
    pthread_mutex_lock(&lock);
    closed = 1;
    pthread_cond_signal(&closed_cond);
    pthread_mutex_unlock(&lock);
}

static int fail(const char *what) {
    char err[256];
    msrp_last_error(err, sizeof err);
    fprintf(stderr, "%s: %s\n", what, err);
    return 1;
}

int main(void) {
    msrp_connector_t *acceptor = NULL;
    msrp_transport_t *transport = NULL;
    msrp_session_t *session = NULL;
    char *local_path = NULL, line[4096];
    int rc = 1;

    if (msrp_acceptor_direct_new(NULL, &acceptor) != MSRP_RESULT_OK) return fail("acceptor");
    if (msrp_connector_prepare(acceptor, NULL, &local_path) != MSRP_RESULT_OK) {
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
    if (msrp_connector_complete(acceptor, line + 5, NULL, 0, &transport) != MSRP_RESULT_OK) {
        rc = fail("complete");
        goto out;
    }

    msrp_session_config_t cfg = {0};
    cfg.size = sizeof cfg;
    cfg.accept_types = "text/plain";
    cfg.on_message = on_message;
    cfg.on_closed = on_closed;
    if (msrp_session_new(transport, &cfg, &session) != MSRP_RESULT_OK) { /* consumes transport */
        rc = fail("session");
        goto out;
    }

    pthread_mutex_lock(&lock); /* until the sender closes the session */
    while (!closed) pthread_cond_wait(&closed_cond, &lock);
    pthread_mutex_unlock(&lock);
    rc = 0;

out:
    msrp_session_free(session);
    msrp_connector_free(acceptor);
    msrp_string_free(local_path);
    msrp_library_shutdown();
    return rc;
}
