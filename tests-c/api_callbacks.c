/* api_callbacks: the threading promises of the C API, on a real pair of
 * sessions over loopback.
 *   - a pending complete_async is cancelled by free: its callback runs once,
 *     with MSRP_RESULT_CANCELLED, before free returns (connector and server);
 *   - a blocking call from inside a callback returns MSRP_RESULT_WOULD_DEADLOCK;
 *   - *_free from inside the handle's own callback returns at once, and
 *     user_data_free runs once, after that callback has returned;
 *   - send_chunk's response callback and deliver_chunk. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <string.h>

#include "check.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;

/* A macro, so that a failure names the flag. */
#define wait_for(flag)                         \
    do {                                       \
        pthread_mutex_lock(&lock);             \
        WAIT_UNTIL(*(flag), &changed, &lock);  \
        pthread_mutex_unlock(&lock);           \
    } while (0)

static void set_flag(volatile int *flag) {
    pthread_mutex_lock(&lock);
    *flag = 1;
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
}

/* --- complete_async cancelled by free ----------------------------------- */

static int cancelled_calls;
static msrp_result_t cancelled_result;

static void count_complete(void *ud, msrp_result_t result, msrp_transport_t *t) {
    (void)ud;
    cancelled_calls++;
    cancelled_result = result;
    char err[256];
    CHECK(msrp_last_error(err, sizeof err) > 0); /* the detail is there for the callback */
    msrp_transport_free(t);
}

static void pending_complete_cancelled_by_free(void) {
    msrp_connector_t *a = NULL;
    char *path = NULL;
    CHECK_OK(msrp_acceptor_direct_new(NULL, &a));
    CHECK_OK(msrp_connector_prepare(a, NULL, &path));
    CHECK_OK(msrp_connector_complete_async(a, "msrp://127.0.0.1:9/nobodyhere;tcp", NULL, 60000, count_complete, NULL));
    CHECK_RESULT(msrp_connector_complete_async(a, "msrp://127.0.0.1:9/x;tcp", NULL, 0, count_complete, NULL),
                 MSRP_RESULT_INVALID_STATE); /* one complete at a time */
    msrp_connector_free(a);
    CHECK(cancelled_calls == 1 && cancelled_result == MSRP_RESULT_CANCELLED);
    msrp_string_free(path);

    /* The same for a shared server. */
    msrp_server_t *s = NULL;
    CHECK_OK(msrp_server_new(NULL, &s));
    CHECK_OK(msrp_server_prepare(s, NULL, &path));
    CHECK_OK(msrp_server_complete_async(s, path, "msrp://127.0.0.1:9/nobodyhere;tcp", NULL, 60000, count_complete,
                                        NULL));
    msrp_server_free(s);
    if (cancelled_calls != 2 || cancelled_result != MSRP_RESULT_CANCELLED)
        fprintf(stderr, "server: %d calls, last %s\n", cancelled_calls, msrp_result_str(cancelled_result));
    CHECK(cancelled_calls == 2 && cancelled_result == MSRP_RESULT_CANCELLED);
    msrp_string_free(path);
}

/* --- a session pair ------------------------------------------------------ */

static msrp_transport_t *accepted;
static volatile int accepted_flag;
static msrp_connector_t *acceptor;
static int acceptor_freed_inside;

static void on_accepted(void *ud, msrp_result_t result, msrp_transport_t *t) {
    (void)ud;
    if (result != MSRP_RESULT_OK) {
        char err[256];
        msrp_last_error(err, sizeof err);
        fprintf(stderr, "accept failed: %s: %s\n", msrp_result_str(result), err);
    }
    CHECK(result == MSRP_RESULT_OK && t != NULL);
    accepted = t;
    /* Blocking calls are refused inside callbacks... */
    char *p = NULL;
    CHECK_RESULT(msrp_connector_prepare(acceptor, NULL, &p), MSRP_RESULT_WOULD_DEADLOCK);
    /* ...and freeing the connector from its own callback returns at once. */
    msrp_connector_free(acceptor);
    acceptor_freed_inside = 1;
    set_flag(&accepted_flag);
}

static msrp_session_t *receiver;
static volatile int in_callback, freed_inside, user_data_freed, message_seen;
static msrp_result_t deadlock_result = MSRP_RESULT_OK;

static void on_message(void *ud, const msrp_message_t *m) {
    CHECK(ud == (void *)&receiver);
    if (m->body_len == 4 && memcmp(m->body, "raw!", 4) == 0) return; /* the send_chunk test */
    CHECK(m->body_len == 5 && memcmp(m->body, "hello", 5) == 0);
    in_callback = 1;
    msrp_chunk_t *req = NULL, *resp = NULL;
    CHECK_OK(msrp_chunk_new_request(NULL, NULL, &req));
    deadlock_result = msrp_session_deliver_chunk(receiver, req, 0, &resp);
    CHECK(resp == NULL);
    msrp_chunk_free(req);
    CHECK(msrp_library_shutdown() == MSRP_RESULT_WOULD_DEADLOCK);
    msrp_session_free(receiver); /* returns at once: we are inside its callback */
    freed_inside = 1;
    in_callback = 0;
    set_flag(&message_seen);
}

static void receiver_user_data_free(void *ud) {
    CHECK(ud == (void *)&receiver);
    CHECK(!in_callback); /* after the last callback */
    CHECK(freed_inside);
    user_data_freed++;
    set_flag(&user_data_freed);
}

static volatile int response_seen, sent_seen;
static void on_response(void *ud, msrp_result_t result, const msrp_chunk_t *response) {
    CHECK(ud == (void *)&response_seen);
    CHECK(result == MSRP_RESULT_OK);
    uint16_t code = 0;
    CHECK_OK(msrp_chunk_response_code(response, &code, NULL));
    CHECK(code == 200);
    set_flag(&response_seen);
}

static void on_sent(void *ud, const char *id, uint16_t code, uint64_t bytes) {
    (void)ud, (void)id, (void)bytes;
    CHECK(code == 200);
    set_flag(&sent_seen);
}

static void session_pair(void) {
    msrp_connector_t *connector = NULL;
    char *a_path = NULL, *c_path = NULL;
    msrp_transport_t *sending = NULL;
    CHECK_OK(msrp_acceptor_direct_new(NULL, &acceptor));
    CHECK_OK(msrp_connector_prepare(acceptor, "msrp://127.0.0.1:0;tcp", &a_path));
    CHECK_OK(msrp_connector_direct_new(NULL, &connector));
    CHECK_OK(msrp_connector_prepare(connector, NULL, &c_path));
    CHECK_OK(msrp_connector_complete_async(acceptor, c_path, NULL, 10000, on_accepted, NULL));
    CHECK_OK(msrp_connector_complete(connector, a_path, NULL, 10000, &sending));
    wait_for(&accepted_flag);
    CHECK(acceptor_freed_inside);
    CHECK(deadlock_result == MSRP_RESULT_OK);

    char *text = NULL;
    CHECK_OK(msrp_transport_path(sending, MSRP_PATH_REMOTE, &text));
    CHECK(strcmp(text, a_path) == 0);
    msrp_string_free(text);
    CHECK_RESULT(msrp_transport_peer_fingerprint(sending, &text), MSRP_RESULT_NOT_FOUND);

    /* A raw chunk made on the transport, sent later through the session. */
    msrp_chunk_params_t params = {0};
    params.data = (const uint8_t *)"raw!";
    params.data_len = 4;
    params.content_type = "text/plain";
    msrp_chunk_t *raw = NULL, *raw2 = NULL;
    CHECK_OK(msrp_transport_make_chunk(sending, &params, &raw));
    params.content_type = "text/x-raw";
    CHECK_OK(msrp_transport_make_chunk(sending, &params, &raw2));

    msrp_session_config_t rc = {0};
    rc.size = sizeof rc;
    rc.user_data = &receiver;
    rc.user_data_free = receiver_user_data_free;
    rc.on_message = on_message;
    rc.accept_types = "text/plain";
    CHECK_OK(msrp_session_new(accepted, &rc, &receiver));

    msrp_session_t *sender = NULL;
    msrp_session_config_t sc = {0};
    sc.size = sizeof sc;
    sc.on_message_sent = on_sent;
    CHECK_OK(msrp_session_new(sending, &sc, &sender));

    /* send_chunk with a response callback; deliver_chunk blocking. The raw
     * chunks go before the text, so the receiver is still there. */
    CHECK_OK(msrp_session_send_chunk(sender, raw, on_response, (void *)&response_seen));
    wait_for(&response_seen);
    msrp_chunk_t *response = NULL;
    CHECK_RESULT(msrp_session_deliver_chunk(sender, raw2, 10000, &response), MSRP_RESULT_TRANSACTION_FAILED);
    uint16_t code = 0;
    CHECK(response != NULL);
    CHECK_OK(msrp_chunk_response_code(response, &code, NULL));
    CHECK(code == 415); /* the receiver accepts text/plain only */
    msrp_chunk_free(response);
    msrp_chunk_free(raw2);

    char *id = NULL;
    CHECK_OK(msrp_session_send_message(sender, "text/plain", (const uint8_t *)"hello", 5, NULL, &id));
    CHECK(id != NULL && strlen(id) >= 4);
    msrp_string_free(id);
    wait_for(&message_seen);
    CHECK(deadlock_result == MSRP_RESULT_WOULD_DEADLOCK);
    wait_for(&user_data_freed);
    CHECK(user_data_freed == 1);
    wait_for(&sent_seen);

    msrp_session_free(sender);
    msrp_connector_free(connector);
    msrp_string_free(a_path);
    msrp_string_free(c_path);
}

int main(void) {
    CHECK_OK(msrp_library_init(2));
    CHECK_RESULT(msrp_library_init(3), MSRP_RESULT_INVALID_STATE);
    pending_complete_cancelled_by_free();
    session_pair();
    CHECK_OK(msrp_library_shutdown());
    puts("api_callbacks: ok");
    return 0;
}
