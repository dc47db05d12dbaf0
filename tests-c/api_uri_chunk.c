/* api_uri_chunk: URI parse/format/fields/compare, and chunks: build,
 * encode, parse back, headers, payloads with NUL, sharing rules. */
#include <string.h>

#include "check.h"

static void uris(void) {
    msrp_uri_t *a = NULL, *b = NULL;
    char *text = NULL;
    uint16_t port = 0;
    CHECK_OK(msrp_uri_parse("MSRPS://Alice@Atlanta.Example.COM:7654/jshA7weztas;TCP;x=y", &a));
    CHECK(msrp_uri_is_secure(a));
    CHECK_OK(msrp_uri_port(a, &port));
    CHECK(port == 7654);
    CHECK_OK(msrp_uri_field(a, MSRP_URI_FIELD_SESSION_ID, &text));
    CHECK(strcmp(text, "jshA7weztas") == 0);
    msrp_string_free(text);
    CHECK_OK(msrp_uri_field(a, MSRP_URI_FIELD_USER, &text));
    CHECK(strcmp(text, "Alice") == 0);
    msrp_string_free(text);
    CHECK_OK(msrp_uri_field(a, MSRP_URI_FIELD_TRANSPORT, &text));
    CHECK(strcmp(text, "tcp") == 0);
    msrp_string_free(text);
    CHECK_OK(msrp_uri_format(a, &text));
    CHECK(strcmp(text, "msrps://Alice@Atlanta.Example.COM:7654/jshA7weztas;tcp;x=y") == 0);
    msrp_string_free(text);

    /* RFC 4975 §6.1: host case-insensitive, userinfo and parameters ignored. */
    CHECK_OK(msrp_uri_parse("msrps://atlanta.example.com:7654/jshA7weztas;tcp", &b));
    CHECK(msrp_uri_equal(a, b));
    msrp_uri_free(b);
    CHECK_OK(msrp_uri_parse("msrps://atlanta.example.com:7654/JSHA7WEZTAS;tcp", &b));
    CHECK(!msrp_uri_equal(a, b)); /* the session id is case-sensitive */
    msrp_uri_free(b);
    CHECK_OK(msrp_uri_parse("msrp://10.0.0.1;tcp", &b));
    CHECK_RESULT(msrp_uri_port(b, &port), MSRP_RESULT_NOT_FOUND);
    CHECK_RESULT(msrp_uri_field(b, MSRP_URI_FIELD_SESSION_ID, &text), MSRP_RESULT_NOT_FOUND);
    CHECK_RESULT(msrp_uri_field(b, 99, &text), MSRP_RESULT_INVALID_ARGUMENT);
    msrp_uri_free(b);
    msrp_uri_free(a);
    CHECK_RESULT(msrp_uri_parse("msrp://a:99999/x;tcp", &a), MSRP_RESULT_PARSE);
}

static void chunks(void) {
    msrp_chunk_t *c = NULL, *back = NULL;
    CHECK_OK(msrp_chunk_new_request("SEND", "a786hjs2", &c));
    CHECK_OK(msrp_chunk_add_header(c, "To-Path", "msrp://biloxi.example.com:12763/kjhd37s2s20w2a;tcp"));
    CHECK_OK(msrp_chunk_add_header(c, "From-Path", "msrp://alicepc.example.com:7777/iau39soe2843z;tcp"));
    CHECK_OK(msrp_chunk_add_header(c, "Message-ID", "87652491"));
    CHECK_OK(msrp_chunk_add_header(c, "Content-Type", "application/octet-stream"));
    CHECK_OK(msrp_chunk_add_header(c, "X-Extension", "anything goes"));
    CHECK_RESULT(msrp_chunk_add_header(c, "Byte-Range", "5-1/2"), MSRP_RESULT_PARSE);
    CHECK_RESULT(msrp_chunk_add_header(c, "Bad:Name", "x"), MSRP_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(msrp_chunk_add_header(c, "X-Split", "a\r\nb"), MSRP_RESULT_INVALID_ARGUMENT);
    static const uint8_t payload[] = {'a', 0, 'b', 0, 'c'};
    CHECK_OK(msrp_chunk_add_header(c, "Byte-Range", "1-5/5"));
    CHECK_OK(msrp_chunk_set_data(c, payload, sizeof payload));
    CHECK_OK(msrp_chunk_verify_headers(c));
    CHECK(msrp_chunk_is_request(c) && msrp_chunk_continuation(c) == '$');

    /* Encode: ask for the size, then into an exact buffer. */
    size_t need = 0;
    CHECK_RESULT(msrp_chunk_encode(c, NULL, 0, &need), MSRP_RESULT_BUFFER_TOO_SMALL);
    CHECK(need > 100);
    uint8_t *wire = malloc(need);
    CHECK(wire != NULL);
    CHECK_RESULT(msrp_chunk_encode(c, wire, need - 1, NULL), MSRP_RESULT_BUFFER_TOO_SMALL);
    CHECK_OK(msrp_chunk_encode(c, wire, need, &need));
    CHECK(memcmp(wire, "MSRP a786hjs2 SEND\r\nTo-Path: ", 29) == 0);
    static const char end_line[] = "\r\n-------a786hjs2$\r\n";
    CHECK(memcmp(wire + need - (sizeof end_line - 1), end_line, sizeof end_line - 1) == 0);

    /* Parse it back: same headers, same payload with its NULs. */
    CHECK_OK(msrp_chunk_parse(wire, need, &back));
    free(wire);
    const uint8_t *data = NULL;
    size_t len = 0;
    CHECK_OK(msrp_chunk_data(back, &data, &len));
    CHECK(len == sizeof payload && memcmp(data, payload, len) == 0);
    char *v = NULL, *n = NULL;
    CHECK_OK(msrp_chunk_header(back, "message-id", &v));
    CHECK(strcmp(v, "87652491") == 0);
    msrp_string_free(v);
    CHECK_OK(msrp_chunk_header(back, "X-Extension", &v));
    CHECK(strcmp(v, "anything goes") == 0);
    msrp_string_free(v);
    CHECK(msrp_chunk_header_count(back) == msrp_chunk_header_count(c));
    CHECK_OK(msrp_chunk_header_at(back, 0, &n, &v));
    CHECK(strcmp(n, "To-Path") == 0);
    msrp_string_free(n);
    msrp_string_free(v);
    CHECK_RESULT(msrp_chunk_header_at(back, 99, &n, &v), MSRP_RESULT_NOT_FOUND);
    msrp_byte_range_t br;
    CHECK_OK(msrp_chunk_byte_range(back, &br));
    CHECK(br.start == 1 && br.end == 5 && br.total == 5);
    CHECK(msrp_chunk_failure_report(back) == MSRP_FAILURE_REPORT_YES && !msrp_chunk_success_report(back));
    CHECK_OK(msrp_chunk_method(back, &v));
    CHECK(strcmp(v, "SEND") == 0);
    msrp_string_free(v);
    uint16_t code;
    CHECK_RESULT(msrp_chunk_response_code(back, &code, NULL), MSRP_RESULT_NOT_FOUND);

    /* A shared chunk cannot change; a copy can. */
    msrp_chunk_t *again = msrp_chunk_clone(back);
    CHECK(again == back);
    CHECK_RESULT(msrp_chunk_set_continuation(back, '#'), MSRP_RESULT_INVALID_STATE);
    msrp_chunk_free(again);
    CHECK_OK(msrp_chunk_set_continuation(back, '#'));
    CHECK(msrp_chunk_continuation(back) == '#');
    msrp_chunk_t *copy = NULL;
    CHECK_OK(msrp_chunk_copy(back, &copy));
    CHECK_OK(msrp_chunk_remove_header(copy, "X-Extension"));
    CHECK_RESULT(msrp_chunk_header(copy, "X-Extension", &v), MSRP_RESULT_NOT_FOUND);
    msrp_chunk_free(copy);

    /* Responses. */
    msrp_chunk_t *resp = NULL;
    CHECK_OK(msrp_chunk_new_response(413, NULL, "a786hjs2", &resp));
    CHECK_OK(msrp_chunk_response_code(resp, &code, &v));
    CHECK(code == 413 && v == NULL);
    CHECK_RESULT(msrp_chunk_new_response(42, NULL, NULL, &copy), MSRP_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(msrp_chunk_parse((const uint8_t *)"MSRP abcd SEND\r\n", 16, &copy), MSRP_RESULT_PARSE);
    msrp_chunk_free(resp);
    msrp_chunk_free(back);
    msrp_chunk_free(c);
}

int main(void) {
    uris();
    chunks();
    CHECK_OK(msrp_library_shutdown());
    puts("api_uri_chunk: ok");
    return 0;
}
