/* int_many_sessions: N sessions through one shared server cost a handful of
 * threads, not N. Each of N connectors binds to a server session completed
 * with msrp_server_complete_async; every pair exchanges one message; the
 * process's thread count is read from /proc/self/task while all 2N
 * sessions are open. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <pthread.h>
#include <string.h>

#include "check.h"

#define N 200

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static msrp_transport_t *accepted[N];
static int n_accepted, n_messages;

static void on_accepted(void *ud, msrp_result_t r, msrp_transport_t *t) {
    CHECK(r == MSRP_RESULT_OK);
    pthread_mutex_lock(&lock);
    accepted[(intptr_t)ud] = t;
    n_accepted++;
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
}

static void on_message(void *ud, const msrp_message_t *m) {
    (void)ud;
    CHECK(m->body_len == 4);
    pthread_mutex_lock(&lock);
    n_messages++;
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
}

static int threads(void) {
    int n = 0;
    DIR *d = opendir("/proc/self/task");
    if (d == NULL) return -1;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

int main(void) {
    msrp_server_t *server = NULL;
    msrp_connector_t *connectors[N] = {0};
    msrp_session_t *sessions[2 * N] = {0};
    CHECK_OK(msrp_server_new(NULL, &server));
    for (intptr_t i = 0; i < N; i++) {
        char *s_path = NULL, *c_path = NULL;
        msrp_transport_t *t = NULL;
        CHECK_OK(msrp_server_prepare(server, i == 0 ? "msrp://127.0.0.1:0;tcp" : NULL, &s_path));
        CHECK_OK(msrp_connector_direct_new(NULL, &connectors[i]));
        CHECK_OK(msrp_connector_prepare(connectors[i], NULL, &c_path));
        CHECK_OK(msrp_server_complete_async(server, s_path, c_path, NULL, 10000, on_accepted, (void *)i));
        CHECK_OK(msrp_connector_complete(connectors[i], s_path, NULL, 10000, &t));
        msrp_session_config_t cfg = {0};
        cfg.size = sizeof cfg;
        CHECK_OK(msrp_session_new(t, &cfg, &sessions[N + i]));
        msrp_string_free(s_path);
        msrp_string_free(c_path);
    }
    pthread_mutex_lock(&lock);
    WAIT_UNTIL(n_accepted >= N, &changed, &lock);
    pthread_mutex_unlock(&lock);
    for (int i = 0; i < N; i++) {
        msrp_session_config_t cfg = {0};
        cfg.size = sizeof cfg;
        cfg.on_message = on_message;
        CHECK_OK(msrp_session_new(accepted[i], &cfg, &sessions[i]));
    }
    for (int i = 0; i < N; i++)
        CHECK_OK(msrp_session_send_message(sessions[N + i], "text/plain", (const uint8_t *)"ping", 4, NULL, NULL));
    pthread_mutex_lock(&lock);
    WAIT_UNTIL(n_messages >= N, &changed, &lock);
    pthread_mutex_unlock(&lock);

    int t = threads();
    printf("int_many_sessions: %d sessions open, %d threads in the process\n", 2 * N, t);
    CHECK(t > 0 && t <= 16);

    for (int i = 0; i < 2 * N; i++) msrp_session_free(sessions[i]);
    for (int i = 0; i < N; i++) msrp_connector_free(connectors[i]);
    msrp_server_free(server);
    CHECK_OK(msrp_library_shutdown());
    return 0;
}
