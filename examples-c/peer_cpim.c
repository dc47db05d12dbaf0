/* peer_cpim.c - msrp-peer's CPIM, IMDN and isComposing handling (see
 * peer_cpim.h). The lines it prints are part of msrp-peer's contract:
 *
 *   CPIM <msrp-message-id> <from-uri|-> <inner-content-type|-> <inner-bytes> <sha256-of-inner-body>
 *   COMPOSING <active|idle> <contenttype|->
 *   IMDN <imdn-message-id> <delivered|displayed|processed|failed|forbidden|error|...>
 *
 * Threading: peer_cpim_on_message and peer_cpim_on_imdn run on libmsrp's
 * dispatcher threads; the table of awaited notifications is under its own
 * mutex, never taken while calling back into msrp-peer. */
#define _POSIX_C_SOURCE 200809L

#include "peer_cpim.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sha256.h"

static peer_line_fn line_out;
static peer_changed_fn changed_out;
static bool imdn_on;

struct awaited {
    char *imdn_id;
    bool notified;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct awaited *awaited;
static size_t n_awaited, cap_awaited;

void peer_cpim_init(peer_line_fn line, peer_changed_fn changed, bool imdn) {
    line_out = line;
    changed_out = changed;
    imdn_on = imdn;
}

static void error_text(const char *what, msrp_result_t r) {
    char buf[512];
    msrp_last_error(buf, sizeof buf);
    fprintf(stderr, "msrp-peer: %s: %s (%s)\n", what, buf, msrp_result_str(r));
}

int peer_cpim_wrap(const char *from, const char *to, const char *text, uint8_t **out, size_t *out_len) {
    msrp_cpim_builder_t *b = NULL;
    char *id = NULL;
    uint8_t *buf = NULL;
    size_t len = 0;
    msrp_result_t r = msrp_cpim_builder_new(&b);
    if (r == MSRP_RESULT_OK) r = msrp_cpim_builder_add_address(b, "From", NULL, from);
    if (r == MSRP_RESULT_OK) r = msrp_cpim_builder_add_address(b, "To", NULL, to);
    if (r == MSRP_RESULT_OK) r = msrp_cpim_builder_add_datetime_now(b);
    if (r == MSRP_RESULT_OK)
        r = msrp_imdn_request_add(b, NULL, imdn_on ? MSRP_IMDN_REQUEST_POSITIVE_DELIVERY : 0, &id);
    if (r == MSRP_RESULT_OK) r = msrp_cpim_builder_set_content_type(b, "text/plain;charset=UTF-8");
    if (r == MSRP_RESULT_OK) r = msrp_cpim_builder_set_body(b, (const uint8_t *)text, strlen(text));
    if (r == MSRP_RESULT_OK) {
        r = msrp_cpim_builder_encode(b, NULL, 0, &len);
        if (r == MSRP_RESULT_BUFFER_TOO_SMALL) {
            buf = malloc(len);
            r = buf == NULL ? MSRP_RESULT_LIMIT : msrp_cpim_builder_encode(b, buf, len, NULL);
        }
    }
    msrp_cpim_builder_free(b);
    if (r != MSRP_RESULT_OK) {
        error_text("--cpim", r);
        free(buf);
        msrp_string_free(id);
        return -1;
    }
    if (imdn_on) {
        pthread_mutex_lock(&lock);
        if (n_awaited == cap_awaited) {
            size_t cap = cap_awaited ? 2 * cap_awaited : 8;
            struct awaited *a = realloc(awaited, cap * sizeof *a);
            if (a == NULL) {
                pthread_mutex_unlock(&lock);
                free(buf);
                msrp_string_free(id);
                return -1;
            }
            awaited = a;
            cap_awaited = cap;
        }
        awaited[n_awaited].imdn_id = strdup(id);
        awaited[n_awaited].notified = false;
        if (awaited[n_awaited].imdn_id != NULL) n_awaited++;
        pthread_mutex_unlock(&lock);
    }
    msrp_string_free(id);
    *out = buf;
    *out_len = len;
    return 0;
}

/* Whether the media type of `content_type` (parameters and case ignored) is `type`. */
static bool media_is(const char *content_type, const char *type) {
    while (isspace((unsigned char)*content_type)) content_type++;
    size_t n = strlen(type);
    if (strncasecmp(content_type, type, n) != 0) return false;
    const char *rest = content_type + n;
    while (isspace((unsigned char)*rest)) rest++;
    return *rest == '\0' || *rest == ';';
}

/* `text` with white space removed, or "-" when empty. */
static void squeezed(const char *text, char *out, size_t len) {
    size_t j = 0;
    for (; text != NULL && *text != '\0' && j + 1 < len; text++)
        if (!isspace((unsigned char)*text)) out[j++] = *text;
    out[j] = '\0';
    if (j == 0) snprintf(out, len, "-");
}

static void composing_line(const uint8_t *data, size_t len) {
    msrp_iscomposing_t *d = NULL;
    if (msrp_iscomposing_parse(data, len, &d) != MSRP_RESULT_OK) {
        error_text("isComposing", MSRP_RESULT_PARSE);
        return;
    }
    char *ct = NULL;
    msrp_iscomposing_contenttype(d, &ct);
    char type[256];
    squeezed(ct, type, sizeof type);
    line_out("COMPOSING %s %s", msrp_iscomposing_is_active(d) ? "active" : "idle", type);
    msrp_string_free(ct);
    msrp_iscomposing_free(d);
}

void peer_cpim_on_message(const msrp_message_t *m) {
    if (media_is(m->content_type, "application/im-iscomposing+xml")) {
        composing_line(m->body, m->body_len);
        return;
    }
    if (!media_is(m->content_type, "message/cpim")) return;
    msrp_cpim_t *c = NULL;
    msrp_result_t r = msrp_cpim_parse(m->body, m->body_len, &c);
    if (r != MSRP_RESULT_OK) {
        error_text("received CPIM", r);
        return;
    }
    char *from = NULL, *ct = NULL;
    msrp_cpim_from_uri(c, &from);
    msrp_cpim_content_type(c, &ct);
    const uint8_t *body = NULL;
    size_t len = 0;
    msrp_cpim_body(c, &body, &len, NULL);
    sha256_ctx h;
    char hex[65];
    sha256_init(&h);
    sha256_update(&h, body, len);
    sha256_final_hex(&h, hex);
    char type[256], addr[1024];
    squeezed(ct, type, sizeof type);
    squeezed(from, addr, sizeof addr);
    line_out("CPIM %s %s %s %zu %s", m->message_id, addr, type, len, hex);
    if (ct != NULL && media_is(ct, "application/im-iscomposing+xml")) composing_line(body, len);
    msrp_string_free(from);
    msrp_string_free(ct);
    msrp_cpim_free(c);
}

void peer_cpim_on_imdn(void *user_data, const msrp_imdn_event_t *e) {
    (void)user_data;
    line_out("IMDN %s %s", e->imdn_message_id, e->status_name);
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < n_awaited; i++)
        if (e->kind == MSRP_IMDN_KIND_DELIVERY && strcmp(awaited[i].imdn_id, e->imdn_message_id) == 0)
            awaited[i].notified = true;
    pthread_mutex_unlock(&lock);
    changed_out();
}

bool peer_cpim_goals_met(void) {
    pthread_mutex_lock(&lock);
    bool all = true;
    for (size_t i = 0; i < n_awaited; i++)
        if (!awaited[i].notified) all = false;
    pthread_mutex_unlock(&lock);
    return all;
}

void peer_cpim_cleanup(void) {
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < n_awaited; i++) free(awaited[i].imdn_id);
    free(awaited);
    awaited = NULL;
    n_awaited = cap_awaited = 0;
    pthread_mutex_unlock(&lock);
}
