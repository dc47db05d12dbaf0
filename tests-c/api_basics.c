/* api_basics: result names, the last error's snprintf rules, the version,
 * and NULL arguments everywhere: a NULL where a pointer is required gives
 * MSRP_RESULT_NULL_POINTER, and every *_free accepts NULL. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "check.h"

int main(void) {
    /* Names of codes, and of a value that is not one. */
    CHECK(strcmp(msrp_result_str(MSRP_RESULT_OK), "MSRP_RESULT_OK") == 0);
    CHECK(strcmp(msrp_result_str(MSRP_RESULT_WOULD_DEADLOCK), "MSRP_RESULT_WOULD_DEADLOCK") == 0);
    CHECK(strcmp(msrp_result_str(MSRP_RESULT_RUNTIME), "MSRP_RESULT_RUNTIME") == 0);
    CHECK(strcmp(msrp_result_str(12345), "MSRP_RESULT_UNKNOWN") == 0);
    CHECK(MSRP_RESULT_OK == 0 && sizeof(msrp_result_t) == 4);
    CHECK(msrp_version() != NULL && strlen(msrp_version()) >= 5);

    /* A failure records its text; snprintf rules for copying it. */
    msrp_uri_t *uri = NULL;
    CHECK_RESULT(msrp_uri_parse("sip:nope", &uri), MSRP_RESULT_PARSE);
    CHECK(uri == NULL); /* outputs are written only on success */
    char small[8], big[512];
    size_t full = msrp_last_error(NULL, 0);
    CHECK(full > 10);
    CHECK(msrp_last_error(small, sizeof small) == full);
    CHECK(strlen(small) == sizeof small - 1);
    CHECK(msrp_last_error(big, sizeof big) == full && strlen(big) == full);
    CHECK(strstr(big, "msrp-scheme") != NULL);

    /* NULL for required pointers. */
    char *text = NULL;
    CHECK_RESULT(msrp_uri_parse(NULL, &uri), MSRP_RESULT_NULL_POINTER);
    CHECK_RESULT(msrp_uri_parse("msrp://a:1/s;tcp", NULL), MSRP_RESULT_NULL_POINTER);
    CHECK_RESULT(msrp_uri_format(NULL, &text), MSRP_RESULT_NULL_POINTER);
    CHECK_RESULT(msrp_chunk_new_request(NULL, NULL, NULL), MSRP_RESULT_NULL_POINTER);
    CHECK_RESULT(msrp_chunk_parse(NULL, 5, (msrp_chunk_t **)&text), MSRP_RESULT_NULL_POINTER);
    CHECK_RESULT(msrp_chunk_header(NULL, "To-Path", &text), MSRP_RESULT_NULL_POINTER);
    CHECK_RESULT(msrp_endpoint_config_new(NULL), MSRP_RESULT_NULL_POINTER);
    CHECK_RESULT(msrp_endpoint_config_set_identity_files(NULL, "a", "b"), MSRP_RESULT_NULL_POINTER);
    CHECK_RESULT(msrp_endpoint_config_set_logger(NULL, NULL), MSRP_RESULT_NULL_POINTER);
    CHECK_RESULT(msrp_connector_direct_new(NULL, NULL), MSRP_RESULT_NULL_POINTER);
    CHECK_RESULT(msrp_acceptor_direct_new(NULL, NULL), MSRP_RESULT_NULL_POINTER);
    CHECK_RESULT(msrp_connector_prepare(NULL, NULL, &text), MSRP_RESULT_NULL_POINTER);
    CHECK_RESULT(msrp_connector_complete(NULL, "msrp://a:1/s;tcp", NULL, 0, NULL), MSRP_RESULT_NULL_POINTER);
    CHECK_RESULT(msrp_connector_complete_async(NULL, "x", NULL, 0, NULL, NULL), MSRP_RESULT_NULL_POINTER);
    CHECK_RESULT(msrp_connector_cleanup(NULL), MSRP_RESULT_NULL_POINTER);
    CHECK_RESULT(msrp_server_new(NULL, NULL), MSRP_RESULT_NULL_POINTER);
    CHECK_RESULT(msrp_server_prepare(NULL, NULL, &text), MSRP_RESULT_NULL_POINTER);
    CHECK_RESULT(msrp_server_cleanup(NULL, "msrp://a:1/s;tcp"), MSRP_RESULT_NULL_POINTER);
    CHECK_RESULT(msrp_transport_make_chunk(NULL, NULL, (msrp_chunk_t **)&text), MSRP_RESULT_NULL_POINTER);
    CHECK_RESULT(msrp_transport_read_chunk(NULL, MSRP_READ_WHOLE_CHUNK, 0, (msrp_chunk_t **)&text),
                 MSRP_RESULT_NULL_POINTER);
    CHECK_RESULT(msrp_transport_write_chunk(NULL, NULL), MSRP_RESULT_NULL_POINTER);
    CHECK_RESULT(msrp_session_new(NULL, NULL, NULL), MSRP_RESULT_NULL_POINTER);
    CHECK_RESULT(msrp_session_send_message(NULL, "text/plain", NULL, 0, NULL, NULL), MSRP_RESULT_NULL_POINTER);
    CHECK_RESULT(msrp_session_send_file(NULL, NULL, NULL), MSRP_RESULT_NULL_POINTER);
    CHECK_RESULT(msrp_session_send_chunk(NULL, NULL, NULL, NULL), MSRP_RESULT_NULL_POINTER);
    CHECK_RESULT(msrp_session_deliver_chunk(NULL, NULL, 0, (msrp_chunk_t **)&text), MSRP_RESULT_NULL_POINTER);
    CHECK_RESULT(msrp_session_cancel(NULL, "abcd"), MSRP_RESULT_NULL_POINTER);
    CHECK_RESULT(msrp_session_expect_resume(NULL, "abcd", 10), MSRP_RESULT_NULL_POINTER);
    CHECK_RESULT(msrp_session_shutdown(NULL, true), MSRP_RESULT_NULL_POINTER);
    CHECK_RESULT(msrp_tls_fingerprint_parse(NULL, &text), MSRP_RESULT_NULL_POINTER);
    CHECK_RESULT(msrp_tls_self_signed(NULL, 0, NULL, "k", NULL), MSRP_RESULT_NULL_POINTER);
    msrp_relay_settings_t *rs = NULL;
    msrp_connector_t *rc = NULL;
    CHECK_RESULT(msrp_relay_settings_new(NULL, "u", "p", &rs), MSRP_RESULT_NULL_POINTER);
    CHECK_RESULT(msrp_relay_settings_new("example.com", NULL, "p", &rs), MSRP_RESULT_NULL_POINTER);
    CHECK_RESULT(msrp_relay_settings_new("example.com", "u", NULL, &rs), MSRP_RESULT_NULL_POINTER);
    CHECK_RESULT(msrp_relay_settings_new("example.com", "u", "p", NULL), MSRP_RESULT_NULL_POINTER);
    CHECK_RESULT(msrp_relay_settings_set_host(NULL, "h"), MSRP_RESULT_NULL_POINTER);
    CHECK_RESULT(msrp_relay_settings_set_port(NULL, 1), MSRP_RESULT_NULL_POINTER);
    CHECK_RESULT(msrp_relay_settings_set_tls(NULL, false), MSRP_RESULT_NULL_POINTER);
    CHECK_RESULT(msrp_relay_settings_set_fingerprint(NULL, NULL), MSRP_RESULT_NULL_POINTER);
    CHECK_RESULT(msrp_relay_settings_set_expires(NULL, 60), MSRP_RESULT_NULL_POINTER);
    CHECK_RESULT(msrp_relay_settings_set_dns_server(NULL, "127.0.0.1"), MSRP_RESULT_NULL_POINTER);
    CHECK_RESULT(msrp_relay_settings_set_expiry_lead(NULL, 60), MSRP_RESULT_NULL_POINTER);
    uint64_t unix_ms = 7;
    CHECK_RESULT(msrp_connector_expires_at(NULL, &unix_ms), MSRP_RESULT_NULL_POINTER);
    CHECK_RESULT(msrp_connector_expiry_warning_at(NULL, &unix_ms), MSRP_RESULT_NULL_POINTER);
    CHECK_RESULT(msrp_session_watch_relay_expiry(NULL, NULL), MSRP_RESULT_NULL_POINTER);
    CHECK(unix_ms == 7);
    CHECK_RESULT(msrp_connector_relay_new(NULL, NULL, &rc), MSRP_RESULT_NULL_POINTER);
    CHECK_RESULT(msrp_acceptor_relay_new(NULL, NULL, &rc), MSRP_RESULT_NULL_POINTER);
    CHECK(rs == NULL && rc == NULL);
    CHECK_RESULT(msrp_relay_settings_new("msrps://", "u", "p", &rs), MSRP_RESULT_PARSE);
    CHECK_RESULT(msrp_relay_settings_new("", "u", "p", &rs), MSRP_RESULT_INVALID_ARGUMENT);
    CHECK(rs == NULL);
    CHECK_OK(msrp_relay_settings_new("msrp://127.0.0.1:9;tcp", "u", "p", &rs));
    CHECK_RESULT(msrp_connector_relay_new(NULL, rs, NULL), MSRP_RESULT_NULL_POINTER);
    CHECK_RESULT(msrp_acceptor_relay_new(NULL, rs, NULL), MSRP_RESULT_NULL_POINTER);
    CHECK_RESULT(msrp_relay_settings_set_fingerprint(rs, "sha-1 AB"), MSRP_RESULT_PARSE);
    CHECK_OK(msrp_relay_settings_set_host(rs, "localhost"));
    CHECK_OK(msrp_relay_settings_set_port(rs, 2855));
    CHECK_OK(msrp_relay_settings_set_tls(rs, true));
    CHECK_OK(msrp_relay_settings_set_expires(rs, 600));
    CHECK_OK(msrp_relay_settings_set_expiry_lead(rs, 30));
    CHECK_OK(msrp_relay_settings_set_expiry_lead(rs, 0));
    CHECK_OK(msrp_relay_settings_set_dns_server(rs, "127.0.0.1:5353"));
    CHECK_OK(msrp_relay_settings_set_dns_server(rs, "[::1]:53"));
    CHECK_OK(msrp_relay_settings_set_dns_server(rs, "192.0.2.53"));
    CHECK_OK(msrp_relay_settings_set_dns_server(rs, NULL));
    CHECK_RESULT(msrp_relay_settings_set_dns_server(rs, "dns.example.com"), MSRP_RESULT_PARSE);
    CHECK_RESULT(msrp_relay_settings_set_dns_server(rs, "127.0.0.1:99999"), MSRP_RESULT_PARSE);
    CHECK_OK(msrp_relay_settings_set_host(rs, NULL)); /* discovery in the domain */
    CHECK_OK(msrp_relay_settings_set_host(rs, "localhost"));
    CHECK_OK(msrp_connector_relay_new(NULL, rs, &rc));
    /* Nothing granted before prepare. */
    CHECK_RESULT(msrp_connector_expires_at(rc, &unix_ms), MSRP_RESULT_NOT_FOUND);
    CHECK_RESULT(msrp_connector_expiry_warning_at(rc, &unix_ms), MSRP_RESULT_NOT_FOUND);
    CHECK_RESULT(msrp_connector_expires_at(rc, NULL), MSRP_RESULT_NULL_POINTER);
    CHECK(unix_ms == 7);
    msrp_connector_free(rc);
    rc = NULL;
    /* A direct connector has no registration. */
    CHECK_OK(msrp_connector_direct_new(NULL, &rc));
    CHECK_RESULT(msrp_connector_expires_at(rc, &unix_ms), MSRP_RESULT_NOT_FOUND);
    msrp_connector_free(rc);
    rc = NULL;
    CHECK_OK(msrp_acceptor_relay_new(NULL, rs, &rc));
    msrp_relay_settings_free(rs); /* the acceptor keeps its copy */
    CHECK_OK(msrp_connector_cleanup(rc));
    msrp_connector_free(rc);
    CHECK(text == NULL);
    CHECK(!msrp_uri_is_secure(NULL) && !msrp_uri_equal(NULL, NULL));
    CHECK(msrp_chunk_header_count(NULL) == 0 && msrp_chunk_continuation(NULL) == 0);
    CHECK(msrp_chunk_clone(NULL) == NULL);

    /* A session config that is too small to carry its size. */
    msrp_session_config_t cfg = {0};
    msrp_session_t *s = NULL;
    CHECK_RESULT(msrp_session_new(NULL, &cfg, &s), MSRP_RESULT_INVALID_ARGUMENT);

    /* Every *_free accepts NULL. */
    msrp_string_free(NULL);
    msrp_uri_free(NULL);
    msrp_chunk_free(NULL);
    msrp_endpoint_config_free(NULL);
    msrp_connector_free(NULL);
    msrp_relay_settings_free(NULL);
    msrp_server_free(NULL);
    msrp_transport_free(NULL);
    msrp_session_free(NULL);

    /* Fingerprints as in SDP. */
    char *fp = NULL;
    CHECK_OK(msrp_tls_fingerprint_parse(
        "sha-256 ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89",
        &fp));
    CHECK(strncmp(fp, "AB:CD:EF:01", 11) == 0 && strlen(fp) == 95);
    msrp_string_free(fp);
    CHECK_RESULT(msrp_tls_fingerprint_parse("sha-1 AB:CD", &fp), MSRP_RESULT_PARSE);

    /* A self-signed identity: files, their fingerprint, and a config using them. */
    char dir[] = "/tmp/msrp-api-basics-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char cert[64], key[64];
    snprintf(cert, sizeof cert, "%s/c.pem", dir);
    snprintf(key, sizeof key, "%s/k.pem", dir);
    const char *names[] = {"localhost", "127.0.0.1"};
    char *made = NULL, *read_back = NULL, *configured = NULL;
    CHECK_OK(msrp_tls_self_signed(names, 2, cert, key, &made));
    CHECK_OK(msrp_tls_fingerprint_of_cert_file(cert, &read_back));
    CHECK(strcmp(made, read_back) == 0);
    msrp_endpoint_config_t *ecfg = NULL;
    CHECK_OK(msrp_endpoint_config_new(&ecfg));
    CHECK_OK(msrp_endpoint_config_set_identity_files(ecfg, cert, key));
    CHECK_OK(msrp_endpoint_config_fingerprint(ecfg, &configured));
    CHECK(strcmp(made, configured) == 0);
    CHECK_RESULT(msrp_endpoint_config_set_identity_files(ecfg, key, cert), MSRP_RESULT_TLS);
    msrp_endpoint_config_free(ecfg);
    msrp_string_free(made);
    msrp_string_free(read_back);
    msrp_string_free(configured);
    remove(cert);
    remove(key);
    remove(dir);

    CHECK_OK(msrp_library_shutdown());
    puts("api_basics: ok");
    return 0;
}
