/* api_limits - resource limits through the C API, over loopback:
 *   - msrp_endpoint_config_set_max_sessions: the server's prepare beyond it
 *     fails with MSRP_RESULT_LIMIT, cleanup makes room;
 *   - msrp_session_config_t.max_queued_outgoing: send_message beyond it fails
 *     with MSRP_RESULT_LIMIT;
 *   - max_incoming_size: the sender's on_message_sent gets 413 and 0 bytes;
 *   - max_buffered_incoming: 413 for the chunk that goes over, the bytes of
 *     the earlier chunks acknowledged;
 *   - msrp_buffer_limit_set / msrp_buffer_usage, msrp_session_refuse_incoming
 *     argument checks. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <string.h>

#include "check.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;

struct outcome {
    int done;
    uint16_t code;
    uint64_t bytes;
};

static struct outcome sent;
static msrp_transport_t *accepted;
static int accepted_done;

static void on_sent(void *ud, const char *id, uint16_t code, uint64_t bytes) {
    (void)ud, (void)id;
    pthread_mutex_lock(&lock);
    sent.code = code;
    sent.bytes = bytes;
    sent.done = 1;
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
}

static void on_accepted(void *ud, msrp_result_t result, msrp_transport_t *t) {
    (void)ud;
    CHECK(result == MSRP_RESULT_OK);
    pthread_mutex_lock(&lock);
    accepted = t;
    accepted_done = 1;
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
}

static struct outcome wait_sent(void) {
    pthread_mutex_lock(&lock);
    WAIT_UNTIL(sent.done, &changed, &lock);
    struct outcome o = sent;
    sent.done = 0;
    pthread_mutex_unlock(&lock);
    return o;
}

/* Binds a session pair through `server`: writes both transports. */
static void bind_pair(msrp_server_t *server, char **local, msrp_transport_t **sending,
                      msrp_transport_t **receiving) {
    msrp_connector_t *connector = NULL;
    char *c_path = NULL;
    CHECK_OK(msrp_server_prepare(server, NULL, local));
    CHECK_OK(msrp_connector_direct_new(NULL, &connector));
    CHECK_OK(msrp_connector_prepare(connector, NULL, &c_path));
    accepted_done = 0;
    CHECK_OK(msrp_server_complete_async(server, *local, c_path, NULL, 10000, on_accepted, NULL));
    CHECK_OK(msrp_connector_complete(connector, *local, NULL, 10000, sending));
    pthread_mutex_lock(&lock);
    WAIT_UNTIL(accepted_done, &changed, &lock);
    pthread_mutex_unlock(&lock);
    *receiving = accepted;
    msrp_connector_free(connector);
    msrp_string_free(c_path);
}

static void max_sessions(void) {
    msrp_endpoint_config_t *cfg = NULL;
    CHECK_OK(msrp_endpoint_config_new(&cfg));
    CHECK_RESULT(msrp_endpoint_config_set_max_sessions(NULL, 2), MSRP_RESULT_NULL_POINTER);
    CHECK_OK(msrp_endpoint_config_set_max_sessions(cfg, 2));
    CHECK_OK(msrp_endpoint_config_set_max_chunk_size(cfg, 0)); /* the default, 1 MiB */
    CHECK_RESULT(msrp_endpoint_config_set_receive_buffer(NULL, 0), MSRP_RESULT_NULL_POINTER);
    CHECK_OK(msrp_endpoint_config_set_receive_buffer(cfg, 0)); /* the default, 4 MiB */
    CHECK_OK(msrp_endpoint_config_set_receive_buffer(cfg, MSRP_RECEIVE_BUFFER_SYSTEM));
    msrp_server_t *server = NULL;
    CHECK_OK(msrp_server_new(cfg, &server));
    msrp_endpoint_config_free(cfg);
    char *one = NULL, *two = NULL, *three = NULL;
    CHECK_OK(msrp_server_prepare(server, NULL, &one));
    CHECK_OK(msrp_server_prepare(server, NULL, &two));
    CHECK_RESULT(msrp_server_prepare(server, NULL, &three), MSRP_RESULT_LIMIT);
    CHECK(three == NULL);
    char text[512];
    msrp_last_error(text, sizeof text);
    CHECK(strstr(text, "max_sessions 2") != NULL);
    CHECK_OK(msrp_server_cleanup(server, one));
    CHECK_OK(msrp_server_prepare(server, NULL, &three));
    msrp_string_free(one);
    msrp_string_free(two);
    msrp_string_free(three);
    msrp_server_free(server);
}

static void session_limits(void) {
    msrp_server_t *server = NULL;
    CHECK_OK(msrp_server_new(NULL, &server));
    char *local = NULL;
    msrp_transport_t *sending = NULL, *receiving = NULL;
    bind_pair(server, &local, &sending, &receiving);

    msrp_session_config_t rc = {0};
    rc.size = sizeof rc;
    rc.max_incoming_size = 50000;
    rc.max_buffered_incoming = 10000;
    rc.liveness_timeout_ms = UINT32_MAX; /* never */
    msrp_session_t *receiver = NULL, *sender = NULL;
    CHECK_OK(msrp_session_new(receiving, &rc, &receiver));

    msrp_session_config_t sc = {0};
    sc.size = sizeof sc;
    sc.chunk_size = 4096;
    sc.max_queued_outgoing = 60000;
    sc.on_message_sent = on_sent;
    CHECK_OK(msrp_session_new(sending, &sc, &sender));

    static uint8_t body[70000];
    memset(body, 'x', sizeof body);
    char *id = NULL;
    /* Over the sender's queue limit: refused locally. */
    CHECK_RESULT(msrp_session_send_message(sender, "text/plain", body, 60001, NULL, &id), MSRP_RESULT_LIMIT);
    CHECK(id == NULL);
    /* Over the receiver's max_incoming_size: 413, nothing acknowledged. */
    CHECK_OK(msrp_session_send_message(sender, "text/plain", body, 50001, NULL, NULL));
    struct outcome o = wait_sent();
    CHECK(o.code == 413 && o.bytes == 0);
    /* Over the receiver's buffered bytes: two 4096-byte chunks held, the
     * third (12288 > 10000) answered 413. */
    CHECK_OK(msrp_session_send_message(sender, "text/plain", body, 30000, NULL, NULL));
    o = wait_sent();
    CHECK(o.code == 413 && o.bytes == 8192);
    /* A message within every limit passes. */
    CHECK_OK(msrp_session_send_message(sender, "text/plain", body, 9000, NULL, NULL));
    o = wait_sent();
    CHECK(o.code == 200 && o.bytes == 9000);

    /* msrp_session_refuse_incoming checks its arguments. */
    CHECK_RESULT(msrp_session_refuse_incoming(NULL, "abcd1234", 413), MSRP_RESULT_NULL_POINTER);
    CHECK_RESULT(msrp_session_refuse_incoming(receiver, NULL, 413), MSRP_RESULT_NULL_POINTER);
    CHECK_RESULT(msrp_session_refuse_incoming(receiver, "abcd1234", 200), MSRP_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(msrp_session_refuse_incoming(receiver, "a b", 413), MSRP_RESULT_INVALID_ARGUMENT);
    CHECK_OK(msrp_session_refuse_incoming(receiver, "abcd1234", 413));

    uint64_t usage = 1;
    CHECK_RESULT(msrp_buffer_usage(NULL), MSRP_RESULT_NULL_POINTER);
    CHECK_OK(msrp_buffer_usage(&usage));
    CHECK(usage == 0); /* nothing held between messages */

    msrp_session_free(sender);
    msrp_session_free(receiver);
    CHECK_OK(msrp_server_cleanup(server, local));
    msrp_string_free(local);
    msrp_server_free(server);
}

int main(void) {
    CHECK(strcmp(msrp_result_str(MSRP_RESULT_LIMIT), "MSRP_RESULT_LIMIT") == 0);
    CHECK_OK(msrp_buffer_limit_set(0)); /* the default */
    max_sessions();
    session_limits();
    CHECK_OK(msrp_library_shutdown());
    puts("api_limits: ok");
    return 0;
}
