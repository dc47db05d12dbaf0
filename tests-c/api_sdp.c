/* api_sdp: the msrp_sdp_* C API. Parsing (whole bodies and sections, errors
 * that name the attribute), the accessors, the offer and answer builders, the
 * negotiation, and msrp_sdp_connector_complete binding two endpoints over
 * loopback in the role the SDP decided — including an actpass offerer whose
 * acceptor the answer makes active. NULL arguments and *_free(NULL). */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static const char *FILE_OFFER =
    "v=0\r\n"
    "o=alice 2890844526 2890844526 IN IP4 host.atlanta.example.com\r\n"
    "s=\r\n"
    "c=IN IP4 host.atlanta.example.com\r\n"
    "t=0 0\r\n"
    "m=audio 49170 RTP/AVP 0\r\n"
    "m=message 7654 TCP/MSRP *\r\n"
    "a=sendonly\r\n"
    "a=accept-types:message/cpim\r\n"
    "a=path:msrp://atlanta.example.com:7654/jshA7we;tcp\r\n"
    "a=file-selector:name:\"My cool picture.jpg\" type:image/jpeg size:32349 hash:sha1:"
    "72:24:5f:e8:65:3d:da:f3:71:36:2f:86:d4:71:91:3e:e4:a2:ce:2e\r\n"
    "a=file-transfer-id:vBnG916bdberum2fFEABR1FR3ExZMUrd\r\n"
    "a=file-range:1-*\r\n"
    "a=x-file-offset\r\n";

static void expect_field(const msrp_sdp_media_t *m, msrp_sdp_field_t f, const char *want) {
    char *v = NULL;
    CHECK_OK(msrp_sdp_media_field(m, f, &v));
    if (strcmp(v, want) != 0) {
        fprintf(stderr, "field %u: got \"%s\", want \"%s\"\n", f, v, want);
        exit(1);
    }
    msrp_string_free(v);
}

static void expect_error_names(const char *text, const char *attribute) {
    msrp_sdp_media_t *m = NULL;
    char err[512];
    CHECK_RESULT(msrp_sdp_media_parse(text, 0, &m), MSRP_RESULT_PARSE);
    CHECK(m == NULL);
    msrp_last_error(err, sizeof err);
    if (strstr(err, attribute) == NULL) {
        fprintf(stderr, "error \"%s\" does not name %s\n", err, attribute);
        exit(1);
    }
}

struct side {
    msrp_connector_t *conn;
    msrp_sdp_negotiation_t *neg;
    msrp_transport_t *transport;
    msrp_result_t result;
};

static void *complete_side(void *arg) {
    struct side *s = arg;
    s->result = msrp_sdp_connector_complete(s->conn, s->neg, 10000, &s->transport);
    return NULL;
}

/* One offer/answer over loopback: the offerer prepares an acceptor (actpass),
 * the answerer what msrp_sdp_answer_setup says; both complete at once. */
static void pair(msrp_sdp_setup_t answer_setup, bool want_offerer_active) {
    msrp_sdp_options_t *oo = NULL, *ao = NULL;
    CHECK_OK(msrp_sdp_options_new(&oo));
    CHECK_OK(msrp_sdp_options_new(&ao));
    CHECK_OK(msrp_sdp_options_set_accept_types(oo, "text/plain"));
    CHECK_OK(msrp_sdp_options_set_setup(ao, answer_setup));

    /* 1. prepare, 2. build the offer */
    struct side off = {0}, ans = {0};
    char *opath = NULL, *apath = NULL, *offer_text = NULL, *answer_text = NULL;
    CHECK_OK(msrp_acceptor_direct_new(NULL, &off.conn));
    CHECK_OK(msrp_connector_prepare(off.conn, NULL, &opath));
    CHECK_OK(msrp_sdp_offer_build(opath, oo, &offer_text));
    CHECK(strstr(offer_text, "a=setup:actpass\r\n") != NULL);
    CHECK(strstr(offer_text, "a=accept-types:text/plain\r\n") != NULL);

    /* The answerer: 3. parse the offer, prepare, build the answer. */
    msrp_sdp_media_t *offer = NULL, *answer = NULL, *offer_local = NULL, *answer_local = NULL;
    CHECK_OK(msrp_sdp_media_parse(offer_text, 0, &offer));
    msrp_sdp_setup_t s = 99;
    CHECK_OK(msrp_sdp_answer_setup(offer, ao, &s));
    CHECK(s == (want_offerer_active ? MSRP_SDP_SETUP_PASSIVE : MSRP_SDP_SETUP_ACTIVE));
    if (s == MSRP_SDP_SETUP_ACTIVE) CHECK_OK(msrp_connector_direct_new(NULL, &ans.conn));
    else CHECK_OK(msrp_acceptor_direct_new(NULL, &ans.conn));
    CHECK_OK(msrp_connector_prepare(ans.conn, NULL, &apath));
    CHECK_OK(msrp_sdp_answer_build(offer, apath, ao, &answer_text));

    /* 4. negotiate on both sides */
    CHECK_OK(msrp_sdp_media_parse(answer_text, 0, &answer));
    CHECK_OK(msrp_sdp_media_parse(offer_text, 0, &offer_local));
    CHECK_OK(msrp_sdp_media_parse(answer_text, 0, &answer_local));
    CHECK_OK(msrp_sdp_negotiate(offer_local, answer, true, &off.neg));
    CHECK_OK(msrp_sdp_negotiate(answer_local, offer, false, &ans.neg));
    CHECK(msrp_sdp_negotiation_is_active(off.neg) == want_offerer_active);
    CHECK(msrp_sdp_negotiation_is_active(ans.neg) == !want_offerer_active);
    char *rp = NULL;
    CHECK_OK(msrp_sdp_negotiation_field(ans.neg, MSRP_SDP_FIELD_PATH, &rp));
    CHECK(strcmp(rp, opath) == 0);
    msrp_string_free(rp);
    CHECK_OK(msrp_sdp_negotiation_field(ans.neg, MSRP_SDP_FIELD_ACCEPT_TYPES, &rp));
    CHECK(strcmp(rp, "text/plain") == 0);
    msrp_string_free(rp);
    CHECK_RESULT(msrp_sdp_negotiation_field(ans.neg, MSRP_SDP_FIELD_FINGERPRINT, &rp), MSRP_RESULT_NOT_FOUND);

    /* 5. complete both in the negotiated roles */
    pthread_t t;
    CHECK(pthread_create(&t, NULL, complete_side, &ans) == 0);
    complete_side(&off);
    CHECK(pthread_join(t, NULL) == 0);
    CHECK_OK(off.result);
    CHECK_OK(ans.result);
    CHECK(off.transport != NULL && ans.transport != NULL);

    msrp_transport_free(off.transport);
    msrp_transport_free(ans.transport);
    msrp_connector_free(off.conn);
    msrp_connector_free(ans.conn);
    msrp_sdp_negotiation_free(off.neg);
    msrp_sdp_negotiation_free(ans.neg);
    msrp_sdp_media_free(offer);
    msrp_sdp_media_free(answer);
    msrp_sdp_media_free(offer_local);
    msrp_sdp_media_free(answer_local);
    msrp_sdp_options_free(oo);
    msrp_sdp_options_free(ao);
    msrp_string_free(opath);
    msrp_string_free(apath);
    msrp_string_free(offer_text);
    msrp_string_free(answer_text);
}

int main(void) {
    /* A whole body: the audio section is skipped; accessors. */
    msrp_sdp_media_t *m = NULL;
    CHECK_OK(msrp_sdp_media_parse(FILE_OFFER, 0, &m));
    CHECK(msrp_sdp_media_port(m) == 7654);
    CHECK(msrp_sdp_media_direction(m) == MSRP_SDP_DIRECTION_SENDONLY);
    CHECK(msrp_sdp_media_setup(m) == MSRP_SDP_SETUP_NONE);
    CHECK(!msrp_sdp_media_is_secure(m) && !msrp_sdp_media_has_cema(m));
    expect_field(m, MSRP_SDP_FIELD_PATH, "msrp://atlanta.example.com:7654/jshA7we;tcp");
    expect_field(m, MSRP_SDP_FIELD_PROTO, "TCP/MSRP");
    expect_field(m, MSRP_SDP_FIELD_CONNECTION_ADDRESS, "host.atlanta.example.com");
    expect_field(m, MSRP_SDP_FIELD_FILE_NAME, "My cool picture.jpg");
    expect_field(m, MSRP_SDP_FIELD_FILE_TYPE, "image/jpeg");
    expect_field(m, MSRP_SDP_FIELD_FILE_SIZE, "32349");
    expect_field(m, MSRP_SDP_FIELD_FILE_HASH, "sha-1:72:24:5F:E8:65:3D:DA:F3:71:36:2F:86:D4:71:91:3E:E4:A2:CE:2E");
    expect_field(m, MSRP_SDP_FIELD_FILE_TRANSFER_ID, "vBnG916bdberum2fFEABR1FR3ExZMUrd");
    expect_field(m, MSRP_SDP_FIELD_FILE_RANGE, "1-*");
    char *v = NULL;
    CHECK_RESULT(msrp_sdp_media_field(m, MSRP_SDP_FIELD_FINGERPRINT, &v), MSRP_RESULT_NOT_FOUND);
    CHECK_RESULT(msrp_sdp_media_field(m, 999, &v), MSRP_RESULT_INVALID_ARGUMENT);
    CHECK_OK(msrp_sdp_media_attribute(m, "X-File-Offset", &v));
    CHECK(strcmp(v, "") == 0);
    msrp_string_free(v);
    CHECK_RESULT(msrp_sdp_media_attribute(m, "nope", &v), MSRP_RESULT_NOT_FOUND);
    uint64_t size;
    CHECK_RESULT(msrp_sdp_media_max_size(m, &size), MSRP_RESULT_NOT_FOUND);
    CHECK_OK(msrp_sdp_media_format(m, &v));
    CHECK(strncmp(v, "m=message 7654 TCP/MSRP *\r\n", 27) == 0);
    CHECK(strstr(v, "hash:sha-1:72:24:5F") != NULL); /* written strictly */
    msrp_string_free(v);
    msrp_sdp_media_t *again = NULL;
    CHECK_OK(msrp_sdp_media_parse(FILE_OFFER, 0, &again));
    CHECK(msrp_sdp_media_same_transfer(m, again)); /* a re-offer (RFC 5547 §8.1) */
    CHECK(!msrp_sdp_media_same_transfer(m, NULL));
    msrp_sdp_media_free(again);

    /* The answer to a file offer: recvonly, same selector and id. */
    char *answer = NULL;
    CHECK_OK(msrp_sdp_answer_build(m, "msrp://127.0.0.1:9999/bob;tcp", NULL, &answer));
    CHECK(strstr(answer, "a=recvonly\r\n") != NULL);
    CHECK(strstr(answer, "a=setup:passive\r\n") != NULL); /* no a=setup in the offer */
    CHECK(strstr(answer, "a=file-transfer-id:vBnG916bdberum2fFEABR1FR3ExZMUrd\r\n") != NULL);
    CHECK(strstr(answer, "a=file-selector:name:\"My cool picture.jpg\" type:image/jpeg size:32349 hash:sha-1:") != NULL);
    msrp_string_free(answer);
    /* An answer may not say actpass (RFC 4145 §4.1). */
    msrp_sdp_options_t *actpass = NULL;
    CHECK_OK(msrp_sdp_options_new(&actpass));
    CHECK_OK(msrp_sdp_options_set_setup(actpass, MSRP_SDP_SETUP_ACTPASS));
    CHECK_RESULT(msrp_sdp_answer_build(m, "msrp://127.0.0.1:9999/bob;tcp", actpass, &answer), MSRP_RESULT_PROTOCOL);
    msrp_sdp_options_free(actpass);
    CHECK_OK(msrp_sdp_answer_refuse(m, &answer));
    CHECK(strcmp(answer, "m=message 0 TCP/MSRP *\r\n") == 0);
    msrp_sdp_media_t *refused = NULL, *neg_local = NULL;
    msrp_sdp_negotiation_t *neg = NULL;
    CHECK_OK(msrp_sdp_media_parse(answer, 0, &refused));
    CHECK_OK(msrp_sdp_media_parse(FILE_OFFER, 0, &neg_local));
    CHECK_RESULT(msrp_sdp_negotiate(neg_local, refused, true, &neg), MSRP_RESULT_REJECTED);
    msrp_string_free(answer);
    msrp_sdp_media_free(refused);
    msrp_sdp_media_free(neg_local);
    msrp_sdp_media_free(m);

    /* Errors name the attribute. */
    expect_error_names("m=message 1 TCP/MSRP *\r\n", "a=path");
    expect_error_names("m=message 1 TCP/MSRP *\r\na=path:msrp://a:1/x;tcp\r\na=setup:sideways\r\n", "a=setup");
    expect_error_names("m=message 1 TCP/MSRP *\r\na=path:msrp://a:1/x;tcp\r\na=fingerprint:sha-256 zz\r\n",
                       "a=fingerprint");
    expect_error_names("v=0\r\nm=audio 1 RTP/AVP 0\r\n", "m=");
    CHECK_RESULT(msrp_sdp_media_parse("m=message 1 TCP/MSRP *\r\na=path:msrp://a:1/x;tcp\r\n", 1, &m),
                 MSRP_RESULT_PARSE);

    /* Options: an offer with TLS, a fingerprint, CEMA, a file. */
    msrp_sdp_options_t *o = NULL;
    CHECK_OK(msrp_sdp_options_new(&o));
    CHECK_RESULT(msrp_sdp_options_set_fingerprint(o, "sha-256 AB"), MSRP_RESULT_PARSE);
    CHECK_OK(msrp_sdp_options_set_fingerprint(
        o, "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89"));
    CHECK_OK(msrp_sdp_options_set_cema(o, true));
    CHECK_OK(msrp_sdp_options_set_max_size(o, 4096));
    CHECK_RESULT(msrp_sdp_options_set_setup(o, 77), MSRP_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(msrp_sdp_options_set_direction(o, 77), MSRP_RESULT_INVALID_ARGUMENT);
    const char *fname = "api_sdp_test_file.txt";
    FILE *f = fopen(fname, "wb");
    CHECK(f != NULL);
    fputs("abc", f);
    fclose(f);
    CHECK_RESULT(msrp_sdp_options_set_file(o, "/nonexistent/file", NULL, NULL), MSRP_RESULT_IO);
    CHECK_OK(msrp_sdp_options_set_file(o, fname, "text/plain", "tid123"));
    remove(fname);
    char *offer = NULL;
    CHECK_OK(msrp_sdp_offer_build("msrps://127.0.0.1:2855/alice;tcp", o, &offer));
    CHECK(strncmp(offer, "m=message 2855 TCP/TLS/MSRP *\r\nc=IN IP4 127.0.0.1\r\na=sendonly\r\n", 62) == 0);
    CHECK(strstr(offer, "a=fingerprint:sha-256 AB:CD:EF:01:") != NULL);
    CHECK(strstr(offer, "a=msrp-cema\r\n") != NULL);
    CHECK(strstr(offer, "a=max-size:4096\r\n") != NULL);
    /* SHA-1 of "abc" (FIPS 180-2 test vector). */
    CHECK(strstr(offer, "a=file-selector:name:\"api_sdp_test_file.txt\" type:text/plain size:3 "
                        "hash:sha-1:A9:99:3E:36:47:06:81:6A:BA:3E:25:71:78:50:C2:6C:9C:D0:D8:9D\r\n") != NULL);
    CHECK(strstr(offer, "a=file-transfer-id:tid123\r\n") != NULL);
    msrp_string_free(offer);
    CHECK_OK(msrp_sdp_options_set_setup(o, MSRP_SDP_SETUP_PASSIVE));
    CHECK_RESULT(msrp_sdp_offer_build("msrp://127.0.0.1:2855/alice;tcp", o, &offer), MSRP_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(msrp_sdp_offer_build("not a path", o, &offer), MSRP_RESULT_PARSE);
    msrp_sdp_options_free(o);

    /* A direct connector cannot be made passive. */
    {
        msrp_connector_t *c = NULL;
        char *p = NULL, *t = NULL;
        msrp_sdp_media_t *local = NULL, *remote = NULL;
        msrp_sdp_negotiation_t *n = NULL;
        msrp_transport_t *tr = NULL;
        CHECK_OK(msrp_connector_direct_new(NULL, &c));
        /* A connector only advertises its port; without one it could not answer passive. */
        CHECK_OK(msrp_connector_prepare(c, "msrp://127.0.0.1:5555/me;tcp", &p));
        CHECK_OK(msrp_sdp_media_parse("m=message 5 TCP/MSRP *\r\na=path:msrp://127.0.0.1:5/x;tcp\r\na=setup:active\r\n", 0,
                                      &remote));
        CHECK_OK(msrp_sdp_answer_build(remote, p, NULL, &t));
        CHECK_OK(msrp_sdp_media_parse(t, 0, &local));
        CHECK_OK(msrp_sdp_negotiate(local, remote, false, &n));
        CHECK(!msrp_sdp_negotiation_is_active(n));
        CHECK_RESULT(msrp_sdp_connector_complete(c, n, 1000, &tr), MSRP_RESULT_INVALID_STATE);
        CHECK(tr == NULL);
        msrp_sdp_negotiation_free(n);
        msrp_sdp_media_free(local);
        msrp_sdp_media_free(remote);
        msrp_string_free(p);
        msrp_string_free(t);
        msrp_connector_free(c);
    }

    /* Over loopback: the answerer connects (actpass answered active), then
     * the offerer's acceptor is made active (answer passive). */
    pair(MSRP_SDP_SETUP_NONE, false);
    pair(MSRP_SDP_SETUP_PASSIVE, true);

    /* NULL arguments. */
    CHECK_RESULT(msrp_sdp_media_parse(NULL, 0, &m), MSRP_RESULT_NULL_POINTER);
    CHECK_RESULT(msrp_sdp_media_parse("m=", 0, NULL), MSRP_RESULT_NULL_POINTER);
    CHECK_RESULT(msrp_sdp_media_format(NULL, &v), MSRP_RESULT_NULL_POINTER);
    CHECK_RESULT(msrp_sdp_offer_build(NULL, NULL, &v), MSRP_RESULT_NULL_POINTER);
    CHECK_RESULT(msrp_sdp_answer_build(NULL, "msrp://a:1/x;tcp", NULL, &v), MSRP_RESULT_NULL_POINTER);
    CHECK_RESULT(msrp_sdp_negotiate(NULL, NULL, true, &neg), MSRP_RESULT_NULL_POINTER);
    CHECK_RESULT(msrp_sdp_connector_complete(NULL, NULL, 0, NULL), MSRP_RESULT_NULL_POINTER);
    CHECK_RESULT(msrp_sdp_options_set_cema(NULL, true), MSRP_RESULT_NULL_POINTER);
    CHECK(msrp_sdp_media_port(NULL) == 0 && !msrp_sdp_negotiation_is_active(NULL));
    msrp_sdp_media_free(NULL);
    msrp_sdp_options_free(NULL);
    msrp_sdp_negotiation_free(NULL);
    CHECK_OK(msrp_library_shutdown());
    printf("api_sdp ok\n");
    return 0;
}
