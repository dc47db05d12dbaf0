/* api_cpim.c - the C API of CPIM (RFC 3862), IMDN (RFC 5438) and
 * isComposing (RFC 3994): the RFC examples, the CPIM shapes of sipsimple,
 * rcsjta and Doubango, builders, and NULL and bad arguments. */
#include <string.h>

#include "check.h"

static const char RFC3862[] =
    "From: MR SANDERS <im:piglet@100akerwood.com>\r\n"
    "To: Depressed Donkey <im:eeyore@100akerwood.com>\r\n"
    "DateTime: 2000-12-13T13:40:00-08:00\r\n"
    "Subject: the weather will be fine today\r\n"
    "Subject:;lang=fr beau temps prevu pour aujourd'hui\r\n"
    "NS: MyFeatures <mid:MessageFeatures@id.foo.com>\r\n"
    "Require: MyFeatures.VitalMessageOption\r\n"
    "MyFeatures.VitalMessageOption: Confirmation-requested\r\n"
    "MyFeatures.WackyMessageOption: Use-silly-font\r\n"
    "\r\n"
    "Content-type: text/xml; charset=utf-8\r\n"
    "Content-ID: <1234567890@foo.com>\r\n"
    "\r\n"
    "<body>\r\n"
    "Here is the text of my message.\r\n"
    "</body>\r\n";

/* sipsimple: CRLF message headers, bare-LF inner MIME part, quoted charset. */
static const char SIPSIMPLE[] =
    "From: Alice <sip:alice@example.org>\r\n"
    "To: <sip:bob@example.net>\r\n"
    "DateTime: 2024-05-01T10:00:00+00:00\r\n"
    "\r\n"
    "MIME-Version: 1.0\n"
    "Content-Type: text/plain; charset=\"utf8\"\n"
    "\n"
    "Hi Bob\r\n";

/* Doubango: a fixed Subject-only prefix, no From/To. */
static const char DOUBANGO[] = "Subject: test\r\n\r\nContent-Type: text/plain\r\n\r\nhello\r\n";

/* rcsjta: imdn namespace, request, lower-case Content-type/length. */
static const char RCS[] =
    "From: <sip:+15551230001@ims.example>\r\n"
    "To: <sip:+15551230002@ims.example>\r\n"
    "NS: imdn <urn:ietf:params:imdn>\r\n"
    "imdn.Message-ID: 0123456789abcdef0123456789abcdef\r\n"
    "DateTime: 2024-05-01T10:00:00.000Z\r\n"
    "imdn.Disposition-Notification: positive-delivery, display\r\n"
    "\r\n"
    "Content-type: text/plain;charset=UTF-8\r\n"
    "Content-length: 5\r\n"
    "\r\n"
    "hello";

/* RFC 5438's delivery-notification example (section 7.2.1.1). */
static const char RFC5438_DELIVERED[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<imdn xmlns=\"urn:ietf:params:xml:ns:imdn\">\n"
    "   <message-id>34jk324j</message-id>\n"
    "   <datetime>2008-04-04T12:16:49-05:00</datetime>\n"
    "   <recipient-uri>im:bob@example.com</recipient-uri>\n"
    "   <original-recipient-uri\n"
    "      >im:bob@example.com</original-recipient-uri>\n"
    "   <subject>Project Tomorrow</subject>\n"
    "   <delivery-notification>\n"
    "      <status>\n"
    "         <delivered/>\n"
    "      </status>\n"
    "   </delivery-notification>\n"
    "</imdn>\n";

/* RFC 3994 section 5, the second example. */
static const char RFC3994_IDLE[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "   <isComposing xmlns=\"urn:ietf:params:xml:ns:im-iscomposing\"\n"
    "   xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"\n"
    "   xsi:schemaLocation=\"urn:ietf:params:xml:ns:im-composing\n"
    "   iscomposing.xsd\">\n"
    "     <state>idle</state>\n"
    "     <lastactive>2003-01-27T10:43:00Z</lastactive>\n"
    "     <contenttype>audio</contenttype>\n"
    "   </isComposing>";

static msrp_cpim_t *parse(const char *text) {
    msrp_cpim_t *c = NULL;
    CHECK_OK(msrp_cpim_parse((const uint8_t *)text, strlen(text), &c));
    CHECK(c != NULL);
    return c;
}

/* Checks that `call` wrote `expected` to `s`, and frees it. */
#define CHECK_STR(call, s, expected)            \
    do {                                        \
        char *s = NULL;                         \
        CHECK_OK(call);                         \
        CHECK(s != NULL);                       \
        if (strcmp(s, (expected)) != 0) {       \
            fprintf(stderr, "got \"%s\"\n", s); \
            CHECK(strcmp(s, (expected)) == 0);  \
        }                                       \
        msrp_string_free(s);                    \
    } while (0)

static void body_is(const msrp_cpim_t *c, const char *expected) {
    const uint8_t *data = NULL;
    size_t len = 0, offset = 0;
    CHECK_OK(msrp_cpim_body(c, &data, &len, &offset));
    CHECK(len == strlen(expected));
    CHECK(memcmp(data, expected, len) == 0);
}

static void rfc3862_example(void) {
    msrp_cpim_t *c = parse(RFC3862);
    CHECK_STR(msrp_cpim_from_uri(c, &s), s, "im:piglet@100akerwood.com");
    CHECK_STR(msrp_cpim_to_uri(c, &s), s, "im:eeyore@100akerwood.com");
    CHECK_STR(msrp_cpim_header(c, "datetime", &s), s, "2000-12-13T13:40:00-08:00");
    CHECK_STR(msrp_cpim_header_ns(c, "mid:MessageFeatures@id.foo.com", "WackyMessageOption", &s), s,
              "Use-silly-font");
    CHECK_STR(msrp_cpim_content_type(c, &s), s, "text/xml; charset=utf-8");
    CHECK_STR(msrp_cpim_content_header(c, "CONTENT-ID", &s), s, "<1234567890@foo.com>");
    CHECK(msrp_cpim_header_count(c) == 9);
    char *name = NULL, *value = NULL;
    CHECK_OK(msrp_cpim_header_at(c, 4, &name, &value));
    CHECK(strcmp(name, "Subject") == 0 && strcmp(value, "beau temps prevu pour aujourd'hui") == 0);
    msrp_string_free(name);
    msrp_string_free(value);
    CHECK_RESULT(msrp_cpim_header_at(c, 9, &name, NULL), MSRP_RESULT_NOT_FOUND);
    char *none = NULL;
    CHECK_RESULT(msrp_cpim_imdn_message_id(c, &none), MSRP_RESULT_NOT_FOUND);
    CHECK_RESULT(msrp_cpim_header(c, "cc", &none), MSRP_RESULT_NOT_FOUND);
    CHECK(none == NULL);
    body_is(c, "<body>\r\nHere is the text of my message.\r\n</body>\r\n");
    /* The body offset points into the caller's own buffer. */
    const uint8_t *data;
    size_t len, offset;
    CHECK_OK(msrp_cpim_body(c, &data, &len, &offset));
    CHECK(memcmp(RFC3862 + offset, data, len) == 0);
    msrp_cpim_free(c);

    /* The head of the payload, as a first chunk: incomplete until the inner
     * headers are there, then the body so far and its offset. */
    size_t whole = strlen(RFC3862);
    CHECK_RESULT(msrp_cpim_parse_head((const uint8_t *)RFC3862, offset - 1, &c), MSRP_RESULT_PARSE);
    CHECK_OK(msrp_cpim_parse_head((const uint8_t *)RFC3862, offset + 6, &c));
    size_t head_offset = 0;
    CHECK_OK(msrp_cpim_body(c, &data, &len, &head_offset));
    CHECK(head_offset == offset && len == 6 && memcmp(data, "<body>", 6) == 0);
    CHECK(whole > offset + 6);
    msrp_cpim_free(c);
}

static void real_shapes(void) {
    msrp_cpim_t *c = parse(SIPSIMPLE);
    CHECK_STR(msrp_cpim_content_type(c, &s), s, "text/plain; charset=\"utf8\"");
    body_is(c, "Hi Bob\r\n");
    msrp_cpim_free(c);

    c = parse(DOUBANGO);
    char *none = NULL;
    CHECK_RESULT(msrp_cpim_from_uri(c, &none), MSRP_RESULT_NOT_FOUND);
    CHECK_STR(msrp_cpim_header(c, "SUBJECT", &s), s, "test");
    body_is(c, "hello\r\n");
    msrp_cpim_free(c);

    c = parse(RCS);
    CHECK_STR(msrp_cpim_imdn_message_id(c, &s), s, "0123456789abcdef0123456789abcdef");
    msrp_imdn_request_t flags = 0;
    CHECK_OK(msrp_imdn_requested(c, &flags));
    CHECK(flags == (MSRP_IMDN_REQUEST_POSITIVE_DELIVERY | MSRP_IMDN_REQUEST_DISPLAY));
    body_is(c, "hello");
    msrp_cpim_free(c);

    msrp_cpim_t *bad = NULL;
    CHECK_RESULT(msrp_cpim_parse((const uint8_t *)"no colon\r\n\r\n", 12, &bad), MSRP_RESULT_PARSE);
    CHECK_RESULT(msrp_cpim_parse((const uint8_t *)"From: <a:b>\r\n", 13, &bad), MSRP_RESULT_PARSE);
    CHECK(bad == NULL);
}

static void builder(void) {
    msrp_cpim_builder_t *b = NULL;
    CHECK_OK(msrp_cpim_builder_new(&b));
    CHECK_OK(msrp_cpim_builder_add_address(b, "From", "Alice", "sip:alice@example.org"));
    CHECK_OK(msrp_cpim_builder_add_address(b, "To", NULL, "sip:bob@example.net"));
    CHECK_OK(msrp_cpim_builder_add_address(b, "cc", NULL, "sip:carol@example.net"));
    char *id = NULL;
    CHECK_OK(msrp_imdn_request_add(b, NULL, MSRP_IMDN_REQUEST_POSITIVE_DELIVERY, &id));
    CHECK(id != NULL && strlen(id) > 0);
    CHECK_OK(msrp_cpim_builder_add_datetime_now(b));
    CHECK_OK(msrp_cpim_builder_set_content_type(b, "text/plain;charset=UTF-8"));
    CHECK_OK(msrp_cpim_builder_set_body(b, (const uint8_t *)"Hi", 2));
    /* Bad arguments leave the builder as it was. */
    CHECK_RESULT(msrp_cpim_builder_add_header(b, "Bad Name", "x"), MSRP_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(msrp_cpim_builder_add_address(b, "To", NULL, "sip:a b"), MSRP_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(msrp_cpim_builder_add_content_header(b, "Content-Length", "1"), MSRP_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(msrp_imdn_request_add(b, NULL, 16, NULL), MSRP_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(msrp_cpim_builder_add_header(b, NULL, "x"), MSRP_RESULT_NULL_POINTER);

    size_t needed = 0;
    CHECK_RESULT(msrp_cpim_builder_encode(b, NULL, 0, &needed), MSRP_RESULT_BUFFER_TOO_SMALL);
    uint8_t *buf = malloc(needed);
    CHECK(buf != NULL);
    CHECK_OK(msrp_cpim_builder_encode(b, buf, needed, NULL));
    msrp_cpim_t *c = NULL;
    CHECK_OK(msrp_cpim_parse(buf, needed, &c));
    CHECK_STR(msrp_cpim_from_uri(c, &s), s, "sip:alice@example.org");
    CHECK_STR(msrp_cpim_header(c, "cc", &s), s, "<sip:carol@example.net>");
    CHECK_STR(msrp_cpim_imdn_message_id(c, &s), s, id);
    CHECK_STR(msrp_cpim_header(c, "imdn.Disposition-Notification", &s), s, "positive-delivery");
    CHECK_STR(msrp_cpim_content_header(c, "content-length", &s), s, "2");
    body_is(c, "Hi");
    /* Flags 0: the namespace and the id, no request. */
    msrp_cpim_builder_t *plain = NULL;
    CHECK_OK(msrp_cpim_builder_new(&plain));
    CHECK_OK(msrp_imdn_request_add(plain, "fixed-id", 0, NULL));
    uint8_t pbuf[256];
    size_t plen = 0;
    CHECK_OK(msrp_cpim_builder_encode(plain, pbuf, sizeof pbuf, &plen));
    msrp_cpim_t *pc = NULL;
    CHECK_OK(msrp_cpim_parse(pbuf, plen, &pc));
    CHECK_STR(msrp_cpim_header_ns(pc, "urn:ietf:params:imdn", "Message-ID", &s), s, "fixed-id");
    msrp_imdn_request_t pflags = 99;
    CHECK_OK(msrp_imdn_requested(pc, &pflags));
    CHECK(pflags == 0);
    msrp_cpim_free(pc);
    msrp_cpim_builder_free(plain);

    /* The delivery notification about it, as the recipient builds it. */
    msrp_cpim_builder_t *nb = NULL;
    CHECK_RESULT(msrp_imdn_notification_new(buf, needed, MSRP_IMDN_KIND_DISPLAY, MSRP_IMDN_STATUS_DELIVERED,
                                            "msrp://a", "msrp://b", &nb),
                 MSRP_RESULT_INVALID_ARGUMENT);
    CHECK_OK(msrp_imdn_notification_new(buf, needed, MSRP_IMDN_KIND_DELIVERY, MSRP_IMDN_STATUS_DELIVERED,
                                        "msrp://a", "msrp://b", &nb));
    size_t nlen = 0;
    CHECK_RESULT(msrp_cpim_builder_encode(nb, NULL, 0, &nlen), MSRP_RESULT_BUFFER_TOO_SMALL);
    uint8_t *nbuf = malloc(nlen);
    CHECK(nbuf != NULL);
    CHECK_OK(msrp_cpim_builder_encode(nb, nbuf, nlen, NULL));
    msrp_cpim_t *n = NULL;
    CHECK_OK(msrp_cpim_parse(nbuf, nlen, &n));
    CHECK_STR(msrp_cpim_from_uri(n, &s), s, "sip:bob@example.net");
    CHECK_STR(msrp_cpim_to_uri(n, &s), s, "sip:alice@example.org");
    CHECK_STR(msrp_cpim_content_type(n, &s), s, "message/imdn+xml");
    CHECK_STR(msrp_cpim_content_header(n, "Content-Disposition", &s), s, "notification");
    const uint8_t *xml;
    size_t xml_len;
    CHECK_OK(msrp_cpim_body(n, &xml, &xml_len, NULL));
    msrp_imdn_t *doc = NULL;
    CHECK_OK(msrp_imdn_parse(xml, xml_len, &doc));
    CHECK_STR(msrp_imdn_message_id(doc, &s), s, id);
    CHECK(msrp_imdn_kind(doc) == MSRP_IMDN_KIND_DELIVERY);
    CHECK(msrp_imdn_status(doc) == MSRP_IMDN_STATUS_DELIVERED);
    CHECK_STR(msrp_imdn_recipient_uri(doc, &s), s, "sip:bob@example.net");
    /* No notification about a notification. */
    msrp_cpim_builder_t *nn = NULL;
    CHECK_RESULT(msrp_imdn_notification_new(nbuf, nlen, MSRP_IMDN_KIND_DELIVERY, MSRP_IMDN_STATUS_DELIVERED,
                                            "msrp://a", "msrp://b", &nn),
                 MSRP_RESULT_INVALID_ARGUMENT);
    CHECK(nn == NULL);
    msrp_imdn_free(doc);
    msrp_cpim_free(n);
    free(nbuf);
    msrp_cpim_builder_free(nb);
    msrp_cpim_free(c);
    free(buf);
    msrp_string_free(id);
    msrp_cpim_builder_free(b);
}

static void imdn_documents(void) {
    msrp_imdn_t *d = NULL;
    CHECK_OK(msrp_imdn_parse((const uint8_t *)RFC5438_DELIVERED, strlen(RFC5438_DELIVERED), &d));
    CHECK_STR(msrp_imdn_message_id(d, &s), s, "34jk324j");
    CHECK_STR(msrp_imdn_datetime(d, &s), s, "2008-04-04T12:16:49-05:00");
    CHECK_STR(msrp_imdn_original_recipient_uri(d, &s), s, "im:bob@example.com");
    CHECK_STR(msrp_imdn_status_name(d, &s), s, "delivered");
    CHECK(msrp_imdn_kind(d) == MSRP_IMDN_KIND_DELIVERY);
    msrp_imdn_free(d);

    uint8_t buf[1024];
    size_t len = 0;
    CHECK_OK(msrp_imdn_encode("m&1", "2024-05-01T10:00:00Z", NULL, MSRP_IMDN_KIND_DISPLAY,
                              MSRP_IMDN_STATUS_DISPLAYED, buf, sizeof buf, &len));
    CHECK_OK(msrp_imdn_parse(buf, len, &d));
    CHECK_STR(msrp_imdn_message_id(d, &s), s, "m&1");
    CHECK(msrp_imdn_status(d) == MSRP_IMDN_STATUS_DISPLAYED);
    char *none = NULL;
    CHECK_RESULT(msrp_imdn_recipient_uri(d, &none), MSRP_RESULT_NOT_FOUND);
    msrp_imdn_free(d);
    CHECK_RESULT(msrp_imdn_encode("m", NULL, NULL, MSRP_IMDN_KIND_DISPLAY, MSRP_IMDN_STATUS_DELIVERED, buf,
                                  sizeof buf, NULL),
                 MSRP_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(msrp_imdn_encode("m", NULL, NULL, 99, MSRP_IMDN_STATUS_DELIVERED, buf, sizeof buf, NULL),
                 MSRP_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(msrp_imdn_encode("m", NULL, NULL, MSRP_IMDN_KIND_DELIVERY, MSRP_IMDN_STATUS_DELIVERED, buf,
                                  10, &len),
                 MSRP_RESULT_BUFFER_TOO_SMALL);
    CHECK(len > 10);
    const char *bad = "<imdn xmlns=\"urn:ietf:params:xml:ns:imdn\"><message-id>x</message-id></imdn>";
    d = NULL;
    CHECK_RESULT(msrp_imdn_parse((const uint8_t *)bad, strlen(bad), &d), MSRP_RESULT_PARSE);
    CHECK_RESULT(msrp_imdn_parse((const uint8_t *)"<a>", 3, &d), MSRP_RESULT_PARSE);
    CHECK(d == NULL);
}

static void iscomposing(void) {
    msrp_iscomposing_t *d = NULL;
    CHECK_OK(msrp_iscomposing_parse((const uint8_t *)RFC3994_IDLE, strlen(RFC3994_IDLE), &d));
    CHECK(!msrp_iscomposing_is_active(d));
    CHECK_STR(msrp_iscomposing_lastactive(d, &s), s, "2003-01-27T10:43:00Z");
    CHECK_STR(msrp_iscomposing_contenttype(d, &s), s, "audio");
    CHECK(msrp_iscomposing_refresh(d) == 0);
    msrp_iscomposing_free(d);

    uint8_t buf[1024];
    size_t len = 0;
    CHECK_OK(msrp_iscomposing_encode(true, "text/plain", 90, NULL, buf, sizeof buf, &len));
    CHECK_OK(msrp_iscomposing_parse(buf, len, &d));
    CHECK(msrp_iscomposing_is_active(d));
    CHECK(msrp_iscomposing_refresh(d) == 90);
    CHECK_STR(msrp_iscomposing_contenttype(d, &s), s, "text/plain");
    char *none = NULL;
    CHECK_RESULT(msrp_iscomposing_lastactive(d, &none), MSRP_RESULT_NOT_FOUND);
    msrp_iscomposing_free(d);
    d = NULL;
    CHECK_RESULT(msrp_iscomposing_parse((const uint8_t *)"<x/>", 4, &d), MSRP_RESULT_PARSE);
    CHECK(d == NULL);
}

static void null_arguments(void) {
    char *s = NULL;
    const uint8_t *data;
    size_t len;
    msrp_cpim_t *c = NULL;
    CHECK_RESULT(msrp_cpim_parse(NULL, 5, &c), MSRP_RESULT_NULL_POINTER);
    CHECK_RESULT(msrp_cpim_parse((const uint8_t *)"x", 1, NULL), MSRP_RESULT_NULL_POINTER);
    CHECK_RESULT(msrp_cpim_header(NULL, "From", &s), MSRP_RESULT_NULL_POINTER);
    CHECK_RESULT(msrp_cpim_from_uri(NULL, &s), MSRP_RESULT_NULL_POINTER);
    CHECK_RESULT(msrp_cpim_body(NULL, &data, &len, NULL), MSRP_RESULT_NULL_POINTER);
    CHECK(msrp_cpim_header_count(NULL) == 0);
    CHECK(msrp_imdn_kind(NULL) == 0);
    CHECK(msrp_imdn_status(NULL) == MSRP_IMDN_STATUS_OTHER);
    CHECK(!msrp_iscomposing_is_active(NULL));
    CHECK(msrp_iscomposing_refresh(NULL) == 0);
    CHECK_RESULT(msrp_imdn_message_id(NULL, &s), MSRP_RESULT_NULL_POINTER);
    CHECK_RESULT(msrp_cpim_builder_encode(NULL, NULL, 0, NULL), MSRP_RESULT_NULL_POINTER);
    CHECK_RESULT(msrp_session_send_imdn(NULL, (const uint8_t *)"x", 1, MSRP_IMDN_KIND_DELIVERY,
                                        MSRP_IMDN_STATUS_DELIVERED, NULL),
                 MSRP_RESULT_NULL_POINTER);
    /* A header value that is not UTF-8. */
    msrp_cpim_builder_t *b = NULL;
    CHECK_OK(msrp_cpim_builder_new(&b));
    CHECK_RESULT(msrp_cpim_builder_add_header(b, "Subject", "\xff"), MSRP_RESULT_INVALID_UTF8);
    msrp_cpim_builder_free(b);
    CHECK(s == NULL);
    msrp_cpim_free(NULL);
    msrp_cpim_builder_free(NULL);
    msrp_imdn_free(NULL);
    msrp_iscomposing_free(NULL);
}

int main(void) {
    rfc3862_example();
    real_shapes();
    builder();
    imdn_documents();
    iscomposing();
    null_arguments();
    printf("api_cpim: ok\n");
    return 0;
}
