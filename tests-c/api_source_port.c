/* api_source_port: the active side's local port through the C API.
 *   - a direct connector's path advertises MSRP_DISCARD_PORT (9), never 0,
 *     or the local URI's port;
 *   - msrp_endpoint_config_set_bind_source_port checks its range;
 *   - with it, prepare binds the port it advertises: a port in use is
 *     MSRP_RESULT_ADDRESS_IN_USE naming the port, cleanup frees the port,
 *     and complete connects from it (a listening socket sees it as the
 *     peer's port). */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"

/* A socket bound to 127.0.0.1 without SO_REUSEADDR (port 0: any), or -1. */
static int occupy(uint16_t port, uint16_t *bound) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(fd >= 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    socklen_t len = sizeof a;
    CHECK(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    if (bound != NULL) *bound = ntohs(a.sin_port);
    return fd;
}

static pthread_mutex_t done_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cv = PTHREAD_COND_INITIALIZER;
static bool done;
static msrp_result_t done_result;

static void on_complete(void *ud, msrp_result_t result, msrp_transport_t *t) {
    (void)ud;
    msrp_transport_free(t);
    pthread_mutex_lock(&done_lock);
    done = true;
    done_result = result;
    pthread_cond_broadcast(&done_cv);
    pthread_mutex_unlock(&done_lock);
}

/* The port of the first URI of a path ("msrp://host:PORT/..."). */
static unsigned path_port(const char *path) {
    const char *hostport = strstr(path, "://");
    CHECK(hostport != NULL);
    const char *colon = strchr(hostport + 3, ':');
    CHECK(colon != NULL);
    return (unsigned)strtoul(colon + 1, NULL, 10);
}

int main(void) {
    CHECK(strcmp(msrp_result_str(MSRP_RESULT_ADDRESS_IN_USE), "MSRP_RESULT_ADDRESS_IN_USE") == 0);
    CHECK(MSRP_DISCARD_PORT == 9);

    /* Default: port 9 for no port or port 0; a given port is kept. */
    msrp_connector_t *c = NULL;
    char *path = NULL;
    CHECK_OK(msrp_connector_direct_new(NULL, &c));
    CHECK_OK(msrp_connector_prepare(c, NULL, &path));
    CHECK(path_port(path) == 9);
    msrp_string_free(path);
    CHECK_OK(msrp_connector_prepare(c, "msrp://127.0.0.1:0/zeroport;tcp", &path));
    CHECK(strcmp(path, "msrp://127.0.0.1:9/zeroport;tcp") == 0);
    msrp_string_free(path);
    CHECK_OK(msrp_connector_prepare(c, "msrp://127.0.0.1:7777/given;tcp", &path));
    CHECK(path_port(path) == 7777);
    msrp_string_free(path);
    path = NULL;
    msrp_connector_free(c);

    /* The setter's arguments. */
    CHECK_RESULT(msrp_endpoint_config_set_bind_source_port(NULL, true, 0, 0), MSRP_RESULT_NULL_POINTER);
    msrp_endpoint_config_t *cfg = NULL;
    CHECK_OK(msrp_endpoint_config_new(&cfg));
    CHECK_RESULT(msrp_endpoint_config_set_bind_source_port(cfg, true, 0, 10), MSRP_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(msrp_endpoint_config_set_bind_source_port(cfg, true, 10, 0), MSRP_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(msrp_endpoint_config_set_bind_source_port(cfg, true, 20, 10), MSRP_RESULT_INVALID_ARGUMENT);
    CHECK_OK(msrp_endpoint_config_set_bind_source_port(cfg, false, 20, 10)); /* off: the range is unused */

    /* A port in use: a clear error naming it. */
    uint16_t port = 0;
    int fd = occupy(0, &port);
    CHECK(fd >= 0);
    CHECK_OK(msrp_endpoint_config_set_bind_source_port(cfg, true, port, port));
    CHECK_OK(msrp_connector_direct_new(cfg, &c));
    CHECK_RESULT(msrp_connector_prepare(c, NULL, &path), MSRP_RESULT_ADDRESS_IN_USE);
    CHECK(path == NULL);
    char err[256], want[16];
    msrp_last_error(err, sizeof err);
    snprintf(want, sizeof want, "%u", (unsigned)port);
    CHECK(strstr(err, want) != NULL);
    /* Freed: prepare binds it and advertises it, until cleanup. */
    close(fd);
    CHECK_OK(msrp_connector_prepare(c, NULL, &path));
    CHECK(path_port(path) == port);
    CHECK(occupy(port, NULL) < 0);
    CHECK_OK(msrp_connector_cleanup(c));
    fd = occupy(port, NULL);
    CHECK(fd >= 0);
    close(fd);
    msrp_string_free(path);

    /* Complete connects from the bound port: a plain listening socket sees
     * it as the peer's port, then closes, which fails the complete. */
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in la = {0};
    la.sin_family = AF_INET;
    la.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t llen = sizeof la;
    CHECK(lfd >= 0 && bind(lfd, (struct sockaddr *)&la, sizeof la) == 0 && listen(lfd, 1) == 0);
    CHECK(getsockname(lfd, (struct sockaddr *)&la, &llen) == 0);
    char remote[64];
    snprintf(remote, sizeof remote, "msrp://127.0.0.1:%u/listener;tcp", (unsigned)ntohs(la.sin_port));
    CHECK_OK(msrp_connector_prepare(c, NULL, &path));
    CHECK(path_port(path) == port);
    CHECK_OK(msrp_connector_complete_async(c, remote, NULL, 20000, on_complete, NULL));
    struct sockaddr_in peer = {0};
    socklen_t plen = sizeof peer;
    int afd = accept(lfd, (struct sockaddr *)&peer, &plen);
    CHECK(afd >= 0);
    CHECK(ntohs(peer.sin_port) == port);
    close(afd);
    pthread_mutex_lock(&done_lock);
    WAIT_UNTIL(done, &done_cv, &done_lock);
    pthread_mutex_unlock(&done_lock);
    CHECK(done_result != MSRP_RESULT_OK);
    close(lfd);
    msrp_string_free(path);
    msrp_connector_free(c);
    msrp_endpoint_config_free(cfg);

    CHECK_OK(msrp_library_shutdown());
    puts("api_source_port: ok");
    return 0;
}
