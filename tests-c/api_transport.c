/* api_transport: a bound pair of transports used directly (python-msrplib's
 * MSRPTransport): make_chunk, write_chunk, read_chunk whole and in virtual
 * segments, check_incoming_send_chunk, write_response, timeouts; and a
 * msrp_logger_t whose hooks see the wire and whose user_data is freed once. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "check.h"

static msrp_transport_t *accepted;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;

static void on_accepted(void *ud, msrp_result_t r, msrp_transport_t *t) {
    (void)ud;
    CHECK(r == MSRP_RESULT_OK);
    pthread_mutex_lock(&lock);
    accepted = t;
    pthread_cond_signal(&changed);
    pthread_mutex_unlock(&lock);
}

static atomic_int sent_heads, received_heads, logger_freed;
static atomic_int hook_result = MSRP_RESULT_OK;

static void log_sent(void *ud, const uint8_t *data, size_t len, const msrp_connection_info_t *conn,
                     const msrp_chunk_t *chunk) {
    CHECK(ud == (void *)&sent_heads && len > 10 && memcmp(data, "MSRP ", 5) == 0);
    CHECK(conn != NULL && conn->local_uri != NULL && conn->peer_address != NULL);
    CHECK(chunk != NULL);
    sent_heads++;
}

static void log_received(void *ud, const uint8_t *data, size_t len, const msrp_connection_info_t *conn,
                         const msrp_chunk_t *chunk) {
    (void)ud, (void)data, (void)len, (void)conn;
    /* Blocking calls are refused in logger hooks too. */
    msrp_chunk_t *out = NULL;
    pthread_mutex_lock(&lock);
    msrp_transport_t *other = accepted;
    if (other != NULL) hook_result = msrp_transport_read_chunk(other, MSRP_READ_WHOLE_CHUNK, 1, &out);
    pthread_mutex_unlock(&lock);
    msrp_chunk_t *keep = msrp_chunk_clone(chunk); /* a real reference */
    msrp_chunk_free(keep);
    received_heads++;
}

static void logger_free(void *ud) {
    CHECK(ud == (void *)&sent_heads);
    logger_freed++;
}

int main(void) {
    msrp_endpoint_config_t *cfg = NULL;
    CHECK_OK(msrp_endpoint_config_new(&cfg));
    msrp_logger_t logger = {0};
    logger.user_data = &sent_heads;
    logger.user_data_free = logger_free;
    logger.max_level = MSRP_LOG_LEVEL_WARN;
    logger.sent_new_chunk = log_sent;
    logger.received_new_chunk = log_received;
    CHECK_OK(msrp_endpoint_config_set_logger(cfg, &logger));
    CHECK_OK(msrp_endpoint_config_set_bind_timeout(cfg, 5000));
    char *fp = NULL;
    CHECK_RESULT(msrp_endpoint_config_fingerprint(cfg, &fp), MSRP_RESULT_NOT_FOUND);
    CHECK_RESULT(msrp_endpoint_config_set_identity_files(cfg, "/nonexistent.crt", "/nonexistent.key"),
                 MSRP_RESULT_IO);

    msrp_connector_t *a = NULL, *c = NULL;
    char *a_path = NULL, *c_path = NULL;
    msrp_transport_t *t = NULL;
    CHECK_OK(msrp_acceptor_direct_new(cfg, &a));
    CHECK_OK(msrp_connector_direct_new(cfg, &c));
    msrp_endpoint_config_free(cfg); /* handles keep their copy */
    CHECK_OK(msrp_connector_prepare(a, NULL, &a_path));
    CHECK_OK(msrp_connector_prepare(c, NULL, &c_path));
    /* A transport other than tcp and ws (RFC 7977), and a WebSocket client's
       .invalid host (RFC 7977 §8), cannot be connected to. */
    CHECK_RESULT(msrp_connector_complete(c, "msrp://127.0.0.1:1/x;sctp", NULL, 1000, &t), MSRP_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(msrp_connector_complete(c, "msrp://abc.invalid:1/x;ws", NULL, 1000, &t), MSRP_RESULT_INVALID_ARGUMENT);
    CHECK_OK(msrp_connector_complete_async(a, c_path, NULL, 5000, on_accepted, NULL));
    CHECK_OK(msrp_connector_complete(c, a_path, NULL, 5000, &t));
    pthread_mutex_lock(&lock);
    WAIT_UNTIL(accepted != NULL, &changed, &lock);
    pthread_mutex_unlock(&lock);

    /* A 10 000-byte SEND, read on the other side in virtual segments of >= 4000. */
    static uint8_t body[10000];
    for (size_t i = 0; i < sizeof body; i++) body[i] = (uint8_t)(i * 7);
    msrp_chunk_params_t p = {0};
    p.data = body;
    p.data_len = sizeof body;
    p.content_type = "application/octet-stream";
    p.message_id = "message1234";
    msrp_chunk_t *sent = NULL, *got = NULL;
    CHECK_OK(msrp_transport_make_chunk(t, &p, &sent));
    CHECK_OK(msrp_transport_write_chunk(t, sent));
    pthread_mutex_lock(&lock); /* "accepted" is read by the hooks under the lock */
    msrp_transport_t *rx = accepted;
    pthread_mutex_unlock(&lock);
    size_t total = 0;
    uint32_t segments = 0;
    do {
        msrp_chunk_free(got);
        got = NULL;
        CHECK_OK(msrp_transport_read_chunk(rx, 4000, 5000, &got));
        const uint8_t *d;
        size_t n;
        CHECK_OK(msrp_chunk_data(got, &d, &n));
        CHECK(memcmp(d, body + total, n) == 0);
        total += n;
        segments = msrp_chunk_segment(got);
    } while (msrp_chunk_continuation(got) == '+');
    CHECK(total == sizeof body && segments >= 1);

    uint16_t code = 0;
    char *comment = NULL;
    CHECK_OK(msrp_transport_check_incoming_send_chunk(rx, got, &code, &comment));
    CHECK_RESULT(msrp_transport_check_incoming_send_chunk(t, got, &code, &comment), MSRP_RESULT_REJECTED);
    CHECK(code == 481 && comment != NULL);
    msrp_string_free(comment);

    /* The response goes back; the sender reads it. */
    CHECK_OK(msrp_transport_write_response(rx, got, 200, NULL));
    msrp_chunk_t *resp = NULL;
    CHECK_OK(msrp_transport_read_chunk(t, MSRP_READ_WHOLE_CHUNK, 5000, &resp));
    CHECK_OK(msrp_chunk_response_code(resp, &code, &comment));
    CHECK(code == 200 && strcmp(comment, "OK") == 0);
    msrp_string_free(comment);
    char *tid1 = NULL, *tid2 = NULL;
    CHECK_OK(msrp_chunk_transaction_id(resp, &tid1));
    CHECK_OK(msrp_chunk_transaction_id(sent, &tid2));
    CHECK(strcmp(tid1, tid2) == 0);
    msrp_string_free(tid1);
    msrp_string_free(tid2);

    /* Nothing more arrives: a short read times out, the transport stays usable. */
    msrp_chunk_t *none = NULL;
    CHECK_RESULT(msrp_transport_read_chunk(t, MSRP_READ_WHOLE_CHUNK, 50, &none), MSRP_RESULT_TIMEOUT);
    CHECK(sent_heads >= 2 && received_heads >= 2);
    CHECK(hook_result == MSRP_RESULT_WOULD_DEADLOCK);

    /* The peer closing ends reads with CLOSED. */
    pthread_mutex_lock(&lock);
    msrp_transport_t *gone = accepted;
    accepted = NULL;
    pthread_mutex_unlock(&lock);
    msrp_transport_free(gone);
    CHECK_RESULT(msrp_transport_read_chunk(t, MSRP_READ_WHOLE_CHUNK, 5000, &none), MSRP_RESULT_CLOSED);

    msrp_chunk_free(resp);
    msrp_chunk_free(got);
    msrp_chunk_free(sent);
    msrp_transport_free(t);
    msrp_connector_free(a);
    msrp_connector_free(c);
    msrp_string_free(a_path);
    msrp_string_free(c_path);
    CHECK_OK(msrp_library_shutdown());
    CHECK(logger_freed == 1);
    puts("api_transport: ok");
    return 0;
}
