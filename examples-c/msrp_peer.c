/* msrp-peer: a complete MSRP endpoint built only on the libmsrp C API.
 *
 * The tool for interop testing by hand and the black box end-to-end tests
 * drive: it prints its SDP-relevant lines (FINGERPRINT, PATH) on stdout,
 * reads the peer's path from stdin, binds, sends texts and files, receives
 * messages and exits 0 when everything it was asked to do succeeded. The
 * full contract is in DESIGN.md ("msrp-peer").
 *
 *   msrp-peer accept  [options]
 *   msrp-peer connect [options]
 *
 * Threading: main() drives the session and waits on a condition variable;
 * libmsrp callbacks (on its dispatcher threads) update `struct peer` under
 * its mutex and signal.
 */
#define _POSIX_C_SOURCE 200809L

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "msrp.h"
#include "peer_cpim.h"
#include "peer_sdp.h"
#include "sha256.h"

#define EXIT_FAILED 1
#define EXIT_USAGE 2
/* Incoming messages up to this size are delivered whole, larger ones in pieces. */
#define WHOLE_MESSAGE_LIMIT (1u << 20)
#define SDP_OFFER 1
#define SDP_ANSWER 2

/* ------------------------------------------------------------------------ */
/* Options                                                                   */
/* ------------------------------------------------------------------------ */

struct item {
    const char *text;         /* --send-text */
    const char *path;         /* --send-file */
    const char *content_type; /* --content-type after --send-file */
};

struct options {
    bool accept;
    int sdp;           /* 0: PATH lines; SDP_OFFER or SDP_ANSWER */
    const char *setup; /* --setup, with offer/answer */
    const char *local;
    bool bind_source_port;           /* --bind-source-port */
    uint16_t port_low, port_high;    /* its range; 0-0: any free port */
    bool tls;
    bool ws; /* --ws: MSRP over WebSocket (RFC 7977) */
    const char *cert, *key, *ca, *fingerprint;
    const char *relay, *user, *password, *dns_server;
    const char *accept_types;
    struct item *items;
    size_t n_items;
    size_t n_files;
    bool start_set;
    uint64_t start;
    const char *message_id;
    size_t chunk_size;
    bool success_report;
    long count; /* -1: not given */
    const char *out_dir;
    bool digest;
    double timeout; /* seconds, 0: none */
    int progress;   /* -1 auto, 0 off, 1 on */
    int verbose;
    const char *cpim_from, *cpim_to; /* --cpim FROM TO */
    bool imdn;                       /* --imdn */
};

static void usage(FILE *f) {
    fprintf(f,
            "usage: msrp-peer accept|connect|offer|answer [options]\n"
            "  offer, answer            SDP instead of PATH lines: \"SDP <line>\" ... \"SDP-END\"\n"
            "                           on stdout, the peer's on stdin; a=setup decides who connects\n"
            "  --setup active|passive|actpass  this end's a=setup (offer/answer)\n"
            "  --local URI              local URI for prepare (default msrp[s]://127.0.0.1:0/<random>;tcp);\n"
            "                           connect advertises its port, or 9 for none or 0, and does not\n"
            "                           bind it unless --bind-source-port\n"
            "  --bind-source-port [PORT|LOW-HIGH]  connect (and offer/answer when active): bind a\n"
            "                           local port at prepare (the --local\n"
            "                           port if not 0, else PORT, a free one of LOW-HIGH, or any free\n"
            "                           one), advertise it in PATH and connect from it, for peers that\n"
            "                           match the connection by the address and port in the SDP\n"
            "  --tls --cert F --key F   msrps with this certificate and key\n"
            "  --ws                     MSRP over WebSocket (RFC 7977; with --tls: wss): accept\n"
            "                           listens for WebSocket only; connect advertises a ;ws URI\n"
            "                           on a random .invalid host; a peer or --relay URI with ;ws\n"
            "                           is reached over WebSocket\n"
            "  --ca F                   trust anchors for the peer's (or msrps relay's) certificate\n"
            "  --fingerprint FP         the peer certificate's SHA-256 (SDP a=fingerprint);\n"
            "                           with an msrps --relay, the relay certificate's\n"
            "  --relay URI --user U --password P   through an MSRP relay: msrps://host:port;tcp\n"
            "                           is TLS to the relay, msrp:// the opt-in to plain TCP;\n"
            "                           a bare domain (or msrps://domain;tcp) is found by\n"
            "                           DNS SRV _msrps._tcp, then its A/AAAA at 2855\n"
            "  --dns-server ADDR[:PORT] the DNS server for relay discovery (default: the system's)\n"
            "  --accept-types \"T ...\"   accepted MIME types (default \"*\")\n"
            "  --send-text TEXT         send a text/plain message (repeatable)\n"
            "  --cpim FROM TO           wrap each --send-text in message/cpim From FROM To TO\n"
            "  --imdn                   with --cpim, ask for delivery notifications and wait for them;\n"
            "                           answer the peer's requests with delivery notifications\n"
            "  --send-file PATH [--content-type T]  send a file (repeatable)\n"
            "  --start N --message-id ID  resume the single --send-file at byte N\n"
            "  --chunk-size N           largest outgoing chunk payload (default 8192)\n"
            "  --success-report yes|no  ask for success REPORTs (default no)\n"
            "  --count N                exit after N complete incoming messages\n"
            "  --out-dir DIR            write each received body to DIR/<message-id>\n"
            "  --digest sha256|none     digest on RECEIVED lines (default sha256)\n"
            "  --timeout SECONDS        overall time limit\n"
            "  --progress|--no-progress progress bar on stderr (default: if a terminal)\n"
            "  -v|-vv                   library log (info, debug and wire traces)\n"
            "stdin: one line \"PATH <uri> ...\" with the peer's full path.\n");
}

static void usage_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "msrp-peer: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    usage(stderr);
    exit(EXIT_USAGE);
}

static bool parse_u64(const char *s, uint64_t *out) {
    if (s == NULL || *s == '\0' || !isdigit((unsigned char)*s)) return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0') return false;
    *out = (uint64_t)v;
    return true;
}

/* A port, 1 to 65535, and nothing else. */
static bool parse_port(const char *s, size_t len, uint16_t *out) {
    if (len == 0 || len > 5) return false;
    unsigned v = 0;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[i])) return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v == 0 || v > 65535) return false;
    *out = (uint16_t)v;
    return true;
}

/* --bind-source-port's value: PORT or LOW-HIGH. */
static bool parse_port_range(const char *s, uint16_t *low, uint16_t *high) {
    const char *dash = strchr(s, '-');
    if (dash == NULL) {
        if (!parse_port(s, strlen(s), low)) return false;
        *high = *low;
        return true;
    }
    return parse_port(s, (size_t)(dash - s), low) && parse_port(dash + 1, strlen(dash + 1), high) && *low <= *high;
}

static void parse_options(int argc, char **argv, struct options *o) {
    memset(o, 0, sizeof *o);
    o->count = -1;
    o->digest = true;
    o->progress = -1;
    if (argc < 2) usage_error("missing mode: accept or connect");
    if (strcmp(argv[1], "accept") == 0) {
        o->accept = true;
    } else if (strcmp(argv[1], "connect") == 0) {
        o->accept = false;
    } else if (strcmp(argv[1], "offer") == 0 || strcmp(argv[1], "answer") == 0) {
        o->sdp = argv[1][0] == 'o' ? SDP_OFFER : SDP_ANSWER;
    } else if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(stdout);
        exit(0);
    } else {
        usage_error("unknown mode '%s': expected accept, connect, offer or answer", argv[1]);
    }
    o->items = calloc((size_t)argc, sizeof *o->items);
    if (o->items == NULL) {
        fprintf(stderr, "msrp-peer: out of memory\n");
        exit(EXIT_FAILED);
    }
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
#define VALUE() (i + 1 < argc ? argv[++i] : (usage_error("%s needs a value", a), (char *)NULL))
        uint64_t n;
        if (strcmp(a, "--local") == 0) {
            o->local = VALUE();
        } else if (strcmp(a, "--setup") == 0) {
            o->setup = VALUE();
            if (!peer_sdp_setup_valid(o->setup)) usage_error("--setup takes active, passive or actpass");
        } else if (strcmp(a, "--bind-source-port") == 0) {
            o->bind_source_port = true;
            /* The value is optional: taken when the next word starts with a digit. */
            if (i + 1 < argc && isdigit((unsigned char)argv[i + 1][0])) {
                if (!parse_port_range(argv[++i], &o->port_low, &o->port_high))
                    usage_error("--bind-source-port takes a port or LOW-HIGH, each 1 to 65535, LOW <= HIGH");
            }
        } else if (strcmp(a, "--tls") == 0) {
            o->tls = true;
        } else if (strcmp(a, "--ws") == 0) {
            o->ws = true;
        } else if (strcmp(a, "--cert") == 0) {
            o->cert = VALUE();
        } else if (strcmp(a, "--key") == 0) {
            o->key = VALUE();
        } else if (strcmp(a, "--ca") == 0) {
            o->ca = VALUE();
        } else if (strcmp(a, "--fingerprint") == 0) {
            o->fingerprint = VALUE();
        } else if (strcmp(a, "--relay") == 0) {
            o->relay = VALUE();
        } else if (strcmp(a, "--dns-server") == 0) {
            o->dns_server = VALUE();
        } else if (strcmp(a, "--user") == 0) {
            o->user = VALUE();
        } else if (strcmp(a, "--password") == 0) {
            o->password = VALUE();
        } else if (strcmp(a, "--accept-types") == 0) {
            o->accept_types = VALUE();
        } else if (strcmp(a, "--send-text") == 0) {
            o->items[o->n_items++].text = VALUE();
        } else if (strcmp(a, "--cpim") == 0) {
            o->cpim_from = VALUE();
            o->cpim_to = VALUE();
        } else if (strcmp(a, "--imdn") == 0) {
            o->imdn = true;
        } else if (strcmp(a, "--send-file") == 0) {
            o->items[o->n_items++].path = VALUE();
            o->n_files++;
        } else if (strcmp(a, "--content-type") == 0) {
            const char *t = VALUE();
            if (o->n_items == 0 || o->items[o->n_items - 1].path == NULL)
                usage_error("--content-type must follow a --send-file");
            o->items[o->n_items - 1].content_type = t;
        } else if (strcmp(a, "--start") == 0) {
            if (!parse_u64(VALUE(), &o->start)) usage_error("--start needs a byte offset");
            o->start_set = true;
        } else if (strcmp(a, "--message-id") == 0) {
            o->message_id = VALUE();
        } else if (strcmp(a, "--chunk-size") == 0) {
            if (!parse_u64(VALUE(), &n) || n == 0 || n > (64u << 20))
                usage_error("--chunk-size needs a size from 1 to 67108864");
            o->chunk_size = (size_t)n;
        } else if (strcmp(a, "--success-report") == 0) {
            const char *v = VALUE();
            if (strcmp(v, "yes") == 0) o->success_report = true;
            else if (strcmp(v, "no") == 0) o->success_report = false;
            else usage_error("--success-report takes yes or no");
        } else if (strcmp(a, "--count") == 0) {
            if (!parse_u64(VALUE(), &n) || n > 1000000000) usage_error("--count needs a number");
            o->count = (long)n;
        } else if (strcmp(a, "--out-dir") == 0) {
            o->out_dir = VALUE();
        } else if (strcmp(a, "--digest") == 0) {
            const char *v = VALUE();
            if (strcmp(v, "sha256") == 0) o->digest = true;
            else if (strcmp(v, "none") == 0) o->digest = false;
            else usage_error("--digest takes sha256 or none");
        } else if (strcmp(a, "--timeout") == 0) {
            const char *v = VALUE();
            char *end;
            o->timeout = strtod(v, &end);
            if (*end != '\0' || !(o->timeout > 0)) usage_error("--timeout needs a positive number of seconds");
        } else if (strcmp(a, "--progress") == 0) {
            o->progress = 1;
        } else if (strcmp(a, "--no-progress") == 0) {
            o->progress = 0;
        } else if (strcmp(a, "-v") == 0) {
            o->verbose = 1;
        } else if (strcmp(a, "-vv") == 0) {
            o->verbose = 2;
        } else {
            usage_error("unknown option '%s'", a);
        }
#undef VALUE
    }
    if ((o->cert == NULL) != (o->key == NULL)) usage_error("--cert and --key go together");
    if (o->cert != NULL && !o->tls) usage_error("--cert/--key need --tls");
    if (o->start_set && o->n_files != 1) usage_error("--start needs exactly one --send-file");
    if (o->start_set && o->message_id == NULL) usage_error("--start needs --message-id");
    if (o->message_id != NULL && o->n_items != 1)
        usage_error("--message-id applies to a single --send-file or --send-text");
    if (o->relay != NULL && (o->user == NULL || o->password == NULL))
        usage_error("--relay needs --user and --password");
    if (o->setup != NULL && o->sdp == 0) usage_error("--setup needs offer or answer");
    if (o->sdp != 0 && o->tls && o->cert == NULL) usage_error("offer/answer with --tls needs --cert and --key");
    if (o->sdp != 0 && o->fingerprint != NULL && o->relay == NULL)
        usage_error("offer/answer take the peer's fingerprint from its SDP; --fingerprint is for an msrps --relay");
    if (o->bind_source_port && o->accept) usage_error("--bind-source-port is for the connect side");
    if (o->bind_source_port && o->relay != NULL)
        usage_error("--bind-source-port is for direct connections (a relay's peer never sees the source port)");
    if (o->ws && o->relay != NULL && strstr(o->relay, ";ws") == NULL)
        usage_error("--ws with --relay needs the relay's WebSocket URI, ending ;ws");
    if (o->progress < 0) o->progress = isatty(STDERR_FILENO) ? 1 : 0;
}

/* ------------------------------------------------------------------------ */
/* State shared with the callbacks                                          */
/* ------------------------------------------------------------------------ */

struct sent_message {
    char *id;
    bool done;     /* SENT printed */
    int code;      /* final code */
    bool reported; /* a REPORT arrived */
};

struct incoming { /* a large message arriving in pieces */
    char *id;
    sha256_ctx hash;
    uint64_t next;   /* bytes hashed so far, contiguous from 0 */
    bool in_order;   /* every piece came in order from offset 0 */
    uint64_t bytes;  /* bytes received */
    uint64_t first_offset; /* > 0: resumed at this position (python-msrplib's position-based resume) */
    FILE *out;
    char *out_path;
    bool unstorable; /* a write failed: the message is never RECEIVED */
    struct incoming *next_in_list;
};

struct peer {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    const struct options *opt;
    struct sent_message *sends;
    size_t n_sends;
    size_t n_done;
    char **seen; /* Message-IDs already counted */
    size_t n_seen, cap_seen;
    long received;
    struct incoming *incoming;
    char *failure; /* first failure, for stderr */
    msrp_session_t *session;
    /* Set when a received message could not be stored and its rest was
     * refused (413): the session stays up until the sender, told by the 413,
     * closes, or until this time passes. */
    struct timespec refused_grace;
    bool closed;
    msrp_close_reason_t close_reason;
    char *close_text;
    pthread_mutex_t out_lock; /* stdout and stderr lines */
};

static struct peer P = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .changed = PTHREAD_COND_INITIALIZER,
    .out_lock = PTHREAD_MUTEX_INITIALIZER,
};

/* Prints one stdout line and flushes it at once. */
static void line(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&P.out_lock);
    vprintf(fmt, ap);
    putchar('\n');
    fflush(stdout);
    pthread_mutex_unlock(&P.out_lock);
    va_end(ap);
}

/* Wakes the main loop (for peer_cpim.c's callbacks). */
static void peer_changed(void) {
    pthread_mutex_lock(&P.lock);
    pthread_cond_broadcast(&P.changed);
    pthread_mutex_unlock(&P.lock);
}

static char *dup_or_die(const char *s) {
    char *d = strdup(s != NULL ? s : "");
    if (d == NULL) {
        fprintf(stderr, "msrp-peer: out of memory\n");
        exit(EXIT_FAILED);
    }
    return d;
}

/* Records the first failure (caller holds P.lock). */
static void set_failure(const char *fmt, ...) {
    if (P.failure != NULL) return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    P.failure = dup_or_die(buf);
    pthread_cond_broadcast(&P.changed);
}

static const char *last_error(void) {
    static _Thread_local char buf[512];
    msrp_last_error(buf, sizeof buf);
    return buf;
}

static struct sent_message *find_send(const char *id) {
    for (size_t i = 0; i < P.n_sends; i++)
        if (strcmp(P.sends[i].id, id) == 0) return &P.sends[i];
    return NULL;
}

/* Whether this Message-ID was counted before; records it if not. */
static bool seen_before(const char *id) {
    for (size_t i = 0; i < P.n_seen; i++)
        if (strcmp(P.seen[i], id) == 0) return true;
    if (P.n_seen == P.cap_seen) {
        size_t cap = P.cap_seen ? 2 * P.cap_seen : 16;
        char **s = realloc(P.seen, cap * sizeof *s);
        if (s == NULL) return false;
        P.seen = s;
        P.cap_seen = cap;
    }
    P.seen[P.n_seen++] = dup_or_die(id);
    return false;
}

/* The content type with white space removed, for RECEIVED lines. */
static void squeeze(const char *in, char *out, size_t len) {
    size_t j = 0;
    for (; *in != '\0' && j + 1 < len; in++)
        if (!isspace((unsigned char)*in)) out[j++] = *in;
    out[j] = '\0';
}

/* A file name for a received message: the Message-ID if it is a safe name. */
static char *out_path_for(const char *id) {
    if (P.opt->out_dir == NULL) return NULL;
    bool safe = id[0] != '\0' && id[0] != '.';
    for (const char *c = id; *c; c++)
        if (!isalnum((unsigned char)*c) && strchr(".-+%=_", *c) == NULL) safe = false;
    if (!safe) return NULL;
    size_t n = strlen(P.opt->out_dir) + strlen(id) + 2;
    char *p = malloc(n);
    if (p != NULL) snprintf(p, n, "%s/%s", P.opt->out_dir, id);
    return p;
}

/* Counts a complete message and prints its RECEIVED line (holds P.lock). */
static void received(const char *id, const char *content_type, uint64_t bytes, const char *hex) {
    char ct[256];
    squeeze(content_type, ct, sizeof ct);
    line("RECEIVED %s %s %" PRIu64 " %s", id, ct[0] ? ct : "-", bytes, P.opt->digest ? hex : "-");
    if (!seen_before(id)) P.received++;
    pthread_cond_broadcast(&P.changed);
}

/* ------------------------------------------------------------------------ */
/* Session callbacks (dispatcher threads)                                    */
/* ------------------------------------------------------------------------ */

static void on_message(void *ud, const msrp_message_t *m) {
    (void)ud;
    char hex[65] = "-";
    if (P.opt->digest) {
        sha256_ctx c;
        sha256_init(&c);
        sha256_update(&c, m->body, m->body_len);
        sha256_final_hex(&c, hex);
    }
    pthread_mutex_lock(&P.lock);
    char *path = out_path_for(m->message_id);
    if (path != NULL) {
        FILE *f = fopen(path, "wb");
        if (f == NULL || (m->body_len > 0 && fwrite(m->body, 1, m->body_len, f) != m->body_len))
            set_failure("cannot write %s: %s", path, strerror(errno));
        if (f != NULL) fclose(f);
        free(path);
    }
    received(m->message_id, m->content_type, m->body_len, hex);
    pthread_mutex_unlock(&P.lock);
    peer_cpim_on_message(m);
}

static struct incoming *incoming_for(const char *id, uint64_t first_offset) {
    for (struct incoming *in = P.incoming; in; in = in->next_in_list)
        if (strcmp(in->id, id) == 0) return in;
    struct incoming *in = calloc(1, sizeof *in);
    if (in == NULL) return NULL;
    in->id = dup_or_die(id);
    sha256_init(&in->hash);
    in->in_order = first_offset == 0;
    in->first_offset = first_offset;
    in->out_path = out_path_for(id);
    if (in->out_path != NULL) {
        /* A message resumed at an offset continues a file from an earlier run. */
        int fd = open(in->out_path, O_WRONLY | O_CREAT | (first_offset == 0 ? O_TRUNC : 0), 0644);
        in->out = fd >= 0 ? fdopen(fd, "wb") : NULL;
        if (in->out == NULL) set_failure("cannot write %s: %s", in->out_path, strerror(errno));
        /* Pieces come as the chunks arrived (often 8 KiB): gather them into
         * large writes. */
        else setvbuf(in->out, NULL, _IOFBF, 1 << 20);
    }
    in->next_in_list = P.incoming;
    P.incoming = in;
    return in;
}

static void incoming_free(struct incoming *in) {
    if (in->out != NULL) fclose(in->out);
    free(in->out_path);
    free(in->id);
    free(in);
}

static void incoming_remove(struct incoming *gone) {
    for (struct incoming **p = &P.incoming; *p; p = &(*p)->next_in_list) {
        if (*p == gone) {
            *p = gone->next_in_list;
            incoming_free(gone);
            return;
        }
    }
}

/* Hashes a whole file (for a message resumed from an earlier run). */
static void hash_file(const char *path, char hex[65]) {
    sha256_ctx c;
    sha256_init(&c);
    FILE *f = fopen(path, "rb");
    if (f != NULL) {
        char buf[65536];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, f)) > 0) sha256_update(&c, buf, n);
        fclose(f);
    }
    sha256_final_hex(&c, hex);
}

/* Prints RECEIVED for a large message and forgets it (holds P.lock). */
static void finish_incoming(struct incoming *in, const char *content_type) {
    char hex[65] = "-";
    if (in->out != NULL && fflush(in->out) != 0) {
        set_failure("cannot write %s: %s", in->out_path, strerror(errno));
        in->unstorable = true;
    }
    if (in->unstorable) {
        /* Every chunk may have been answered 200 before the write failed
         * (the library acknowledges what it has taken): the file is still
         * not here, so it is not RECEIVED; the failure makes the exit 1. */
        incoming_remove(in);
        return;
    }
    if (P.opt->digest) {
        if (in->in_order) sha256_final_hex(&in->hash, hex);
        else if (in->out_path != NULL) hash_file(in->out_path, hex);
    }
    received(in->id, content_type, in->bytes, hex);
    incoming_remove(in);
}

/* A received message cannot be written (disk full, file size limit): stop
 * writing it and refuse its rest with 413 (RFC 4975 §7.2), so the sender
 * learns that only the bytes answered 200 so far were taken; the session
 * waits a while for the sender to close (holds P.lock). */
static void refuse_unstorable(struct incoming *in, int err) {
    fclose(in->out);
    in->out = NULL;
    in->unstorable = true;
    msrp_result_t r = P.session != NULL ? msrp_session_refuse_incoming(P.session, in->id, 413) : MSRP_RESULT_CLOSED;
    if (r == MSRP_RESULT_OK && P.refused_grace.tv_sec == 0) {
        clock_gettime(CLOCK_REALTIME, &P.refused_grace);
        P.refused_grace.tv_sec += 10;
    }
    set_failure("cannot write %s: %s%s", in->out_path, strerror(err),
                r == MSRP_RESULT_OK ? "; refused the rest of the message with 413" : "");
}

static void on_message_data(void *ud, const msrp_message_data_t *d) {
    (void)ud;
    pthread_mutex_lock(&P.lock);
    if (d->complete) {
        struct incoming *in = NULL;
        for (in = P.incoming; in; in = in->next_in_list)
            if (strcmp(in->id, d->message_id) == 0) break;
        if (in != NULL) finish_incoming(in, d->content_type);
        pthread_mutex_unlock(&P.lock);
        return;
    }
    struct incoming *in = incoming_for(d->message_id, d->offset);
    if (in == NULL) {
        set_failure("out of memory");
        pthread_mutex_unlock(&P.lock);
        return;
    }
    in->bytes += d->len;
    if (in->out != NULL) {
        /* Seek only when the piece is not where the last one ended (a seek
         * writes out what the stream has gathered). */
        bool at = ftello(in->out) == (off_t)d->offset;
        if ((!at && fseeko(in->out, (off_t)d->offset, SEEK_SET) != 0) || fwrite(d->data, 1, d->len, in->out) != d->len)
            refuse_unstorable(in, errno);
    }
    if (in->in_order && d->offset == in->next && P.opt->digest) {
        sha256_update(&in->hash, d->data, d->len);
        in->next += d->len;
    } else if (d->offset != in->next) {
        in->in_order = false;
    }
    /* A message resumed at a position (its start came in an earlier session)
     * is never "complete" for the library, which counts from byte 1: it is
     * done here when the rest has arrived. */
    if (in->first_offset > 0 && d->total != MSRP_SIZE_UNKNOWN && in->first_offset + in->bytes >= d->total)
        finish_incoming(in, d->content_type);
    pthread_mutex_unlock(&P.lock);
}

static void on_aborted(void *ud, const char *id, uint64_t bytes) {
    (void)ud;
    pthread_mutex_lock(&P.lock);
    line("ABORTED %s %" PRIu64, id, bytes);
    for (struct incoming *in = P.incoming; in; in = in->next_in_list) {
        if (strcmp(in->id, id) == 0) {
            incoming_remove(in);
            break;
        }
    }
    pthread_mutex_unlock(&P.lock);
}

static void on_message_sent(void *ud, const char *id, uint16_t code, uint64_t acked) {
    (void)ud;
    (void)acked;
    pthread_mutex_lock(&P.lock);
    struct sent_message *s = find_send(id);
    if (s != NULL && !s->done) {
        s->done = true;
        s->code = code;
        P.n_done++;
        line("SENT %s %u", id, (unsigned)code);
        if (code < 200 || code > 299) set_failure("message %s failed with %u", id, (unsigned)code);
        pthread_cond_broadcast(&P.changed);
    }
    pthread_mutex_unlock(&P.lock);
}

static void on_report(void *ud, const msrp_report_t *r) {
    (void)ud;
    char end[24], total[24];
    if (r->byte_range.end == MSRP_SIZE_UNKNOWN) snprintf(end, sizeof end, "*");
    else snprintf(end, sizeof end, "%" PRIu64, r->byte_range.end);
    if (r->byte_range.total == MSRP_SIZE_UNKNOWN) snprintf(total, sizeof total, "*");
    else snprintf(total, sizeof total, "%" PRIu64, r->byte_range.total);
    pthread_mutex_lock(&P.lock);
    line("REPORT %s %u %" PRIu64 "-%s/%s", r->message_id, (unsigned)r->code, r->byte_range.start, end, total);
    struct sent_message *s = find_send(r->message_id);
    if (s != NULL) {
        s->reported = true;
        if (r->code != 200) set_failure("REPORT %u for message %s", (unsigned)r->code, r->message_id);
    }
    pthread_cond_broadcast(&P.changed);
    pthread_mutex_unlock(&P.lock);
}

static void on_progress(void *ud, const char *id, bool outgoing, uint64_t bytes, uint64_t total) {
    (void)ud;
    if (!P.opt->progress || total == MSRP_SIZE_UNKNOWN || total == 0) return;
    int width = 40, filled = (int)((double)bytes / (double)total * width);
    char bar[41];
    for (int i = 0; i < width; i++) bar[i] = i < filled ? '#' : '.';
    bar[width] = '\0';
    pthread_mutex_lock(&P.out_lock);
    fprintf(stderr, "\r%s %.12s [%s] %3d%%%s", outgoing ? "send" : "recv", id, bar,
            (int)(100.0 * (double)bytes / (double)total), bytes >= total ? "\n" : "");
    fflush(stderr);
    pthread_mutex_unlock(&P.out_lock);
}

/* A relay registration ends soon: a real endpoint would prepare a new relay
   connector and renegotiate (a new SDP offer/answer) now. msrp-peer has no
   signalling to do that with, so it only says so. */
static void on_relay_expiring(void *ud, uint64_t expires_in_ms) {
    (void)ud;
    pthread_mutex_lock(&P.out_lock);
    fprintf(stderr, "msrp-peer: the relay registration expires in %" PRIu64 " ms; renegotiate before then\n",
            expires_in_ms);
    fflush(stderr);
    pthread_mutex_unlock(&P.out_lock);
}

static void on_closed(void *ud, msrp_close_reason_t reason, const char *text,
                      const msrp_unfinished_t *unfinished, size_t n) {
    (void)ud;
    pthread_mutex_lock(&P.lock);
    for (size_t i = 0; i < n; i++) {
        if (P.opt->verbose)
            fprintf(stderr, "msrp-peer: unfinished %s message %s: %" PRIu64 " bytes acknowledged\n",
                    unfinished[i].outgoing ? "outgoing" : "incoming", unfinished[i].message_id,
                    unfinished[i].bytes_acknowledged);
        if (unfinished[i].outgoing) {
            struct sent_message *s = find_send(unfinished[i].message_id);
            if (s != NULL && !s->done) {
                s->done = true;
                P.n_done++;
                line("SENT %s 0", s->id);
                set_failure("the connection ended before message %s was sent", s->id);
            }
        }
    }
    P.closed = true;
    P.close_reason = reason;
    P.close_text = dup_or_die(text);
    pthread_cond_broadcast(&P.changed);
    pthread_mutex_unlock(&P.lock);
}

/* ------------------------------------------------------------------------ */
/* Logging for -v / -vv                                                      */
/* ------------------------------------------------------------------------ */

static void log_text(void *ud, msrp_log_level_t level, const char *message) {
    (void)ud;
    static const char *names[] = {"fatal", "error", "warn", "info", "debug", "trace"};
    pthread_mutex_lock(&P.out_lock);
    fprintf(stderr, "msrp %s: %s\n", level <= MSRP_LOG_LEVEL_TRACE ? names[level] : "?", message);
    pthread_mutex_unlock(&P.out_lock);
}

static void log_chunk(const char *dir, const uint8_t *data, size_t len, const msrp_connection_info_t *conn) {
    pthread_mutex_lock(&P.out_lock);
    fprintf(stderr, "msrp wire [%" PRIu64 " %s] %s:\n%.*s", conn->id, conn->peer_address, dir, (int)len,
            (const char *)data);
    pthread_mutex_unlock(&P.out_lock);
}

static void log_received(void *ud, const uint8_t *data, size_t len, const msrp_connection_info_t *conn,
                         const msrp_chunk_t *chunk) {
    (void)ud;
    (void)chunk;
    log_chunk("received", data, len, conn);
}

static void log_sent(void *ud, const uint8_t *data, size_t len, const msrp_connection_info_t *conn,
                     const msrp_chunk_t *chunk) {
    (void)ud;
    (void)chunk;
    log_chunk("sent", data, len, conn);
}

/* ------------------------------------------------------------------------ */
/* Main                                                                      */
/* ------------------------------------------------------------------------ */

static struct timespec deadline;

static bool has_deadline(void) { return P.opt->timeout > 0; }

/* Milliseconds left before --timeout (UINT32_MAX when none; at least 1). */
static uint32_t ms_left(void) {
    if (!has_deadline()) return 0;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    double left = (double)(deadline.tv_sec - now.tv_sec) * 1e3 + (double)(deadline.tv_nsec - now.tv_nsec) / 1e6;
    return left < 1 ? 1 : (uint32_t)left;
}

static bool expired(void) {
    if (!has_deadline()) return false;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return now.tv_sec > deadline.tv_sec || (now.tv_sec == deadline.tv_sec && now.tv_nsec >= deadline.tv_nsec);
}

/* Fails before a session exists: reason on stderr, exit 1. */
static int fail_early(const char *what, msrp_result_t r) {
    if (r == MSRP_RESULT_TIMEOUT || expired()) {
        line("CLOSED timeout %s", what);
    }
    fprintf(stderr, "msrp-peer: %s: %s (%s)\n", what, last_error(), msrp_result_str(r));
    return EXIT_FAILED;
}

/* Reads "PATH <uri> ..." from stdin before the deadline; returns the path text. */
static char *read_remote_path(void) {
    static char buf[8192];
    size_t used = 0;
    for (;;) {
        struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
        int wait = has_deadline() ? (int)ms_left() : -1;
        int n = poll(&p, 1, wait);
        if (n < 0 && errno == EINTR) continue;
        if (n == 0 || expired()) return NULL;
        ssize_t got = read(STDIN_FILENO, buf + used, sizeof buf - 1 - used);
        if (got <= 0) break;
        used += (size_t)got;
        buf[used] = '\0';
        if (strchr(buf, '\n') != NULL || used == sizeof buf - 1) break;
    }
    buf[used] = '\0';
    char *nl = strpbrk(buf, "\r\n");
    if (nl) *nl = '\0';
    if (strncmp(buf, "PATH ", 5) != 0) return buf[0] ? buf : NULL;
    return buf + 5;
}

/* Whether everything this peer was asked to do is done (holds P.lock). */
static bool goals_met(void) {
    const struct options *o = P.opt;
    if (P.n_done < P.n_sends) return false;
    if (!peer_cpim_goals_met()) return false;
    if (o->success_report)
        for (size_t i = 0; i < P.n_sends; i++)
            if (!P.sends[i].reported) return false;
    if (o->count >= 0) return P.received >= o->count;
    return P.n_sends > 0; /* with no sends and no --count: wait for the peer to close */
}

static const char *reason_word(msrp_close_reason_t r) {
    return r == MSRP_CLOSE_LOCAL ? "local" : r == MSRP_CLOSE_PEER ? "peer" : "error";
}

/* Waits for a change or the deadline (holds P.lock). False on expiry. */
static bool grace_passed(void) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return now.tv_sec > P.refused_grace.tv_sec ||
           (now.tv_sec == P.refused_grace.tv_sec && now.tv_nsec >= P.refused_grace.tv_nsec);
}

static bool wait_change(void) {
    if (!has_deadline()) {
        pthread_cond_wait(&P.changed, &P.lock);
        return true;
    }
    return pthread_cond_timedwait(&P.changed, &P.lock, &deadline) != ETIMEDOUT || !expired();
}

static int queue_sends(msrp_session_t *session) {
    const struct options *o = P.opt;
    P.sends = calloc(o->n_items ? o->n_items : 1, sizeof *P.sends);
    if (P.sends == NULL) return EXIT_FAILED;
    msrp_message_options_t mopt = {0};
    mopt.success_report = o->success_report;
    mopt.message_id = o->message_id;
    for (size_t i = 0; i < o->n_items; i++) {
        const struct item *it = &o->items[i];
        char *id = NULL;
        msrp_result_t r;
        /* Hold the lock so that SENT cannot arrive before the id is recorded. */
        pthread_mutex_lock(&P.lock);
        if (it->text != NULL && o->cpim_from != NULL) {
            uint8_t *body = NULL;
            size_t len = 0;
            r = MSRP_RESULT_INVALID_ARGUMENT;
            if (peer_cpim_wrap(o->cpim_from, o->cpim_to, it->text, &body, &len) == 0)
                r = msrp_session_send_message(session, "message/cpim", body, len, &mopt, &id);
            free(body);
        } else if (it->text != NULL) {
            r = msrp_session_send_message(session, "text/plain", (const uint8_t *)it->text, strlen(it->text),
                                          &mopt, &id);
        } else {
            msrp_outgoing_file_t f = {0};
            f.path = it->path;
            f.content_type = it->content_type;
            f.position = o->start;
            f.message_id = o->message_id;
            f.success_report = o->success_report;
            r = msrp_session_send_file(session, &f, &id);
        }
        if (r == MSRP_RESULT_OK) {
            P.sends[P.n_sends].id = dup_or_die(id);
            P.n_sends++;
        }
        pthread_mutex_unlock(&P.lock);
        msrp_string_free(id);
        if (r != MSRP_RESULT_OK) {
            fprintf(stderr, "msrp-peer: cannot send %s: %s (%s)\n", it->text ? "text" : it->path, last_error(),
                    msrp_result_str(r));
            return EXIT_FAILED;
        }
    }
    return 0;
}

static msrp_endpoint_config_t *make_config(const struct options *o, msrp_result_t *r) {
    msrp_endpoint_config_t *cfg = NULL;
    if ((*r = msrp_endpoint_config_new(&cfg)) != MSRP_RESULT_OK) return NULL;
    if (o->cert != NULL && (*r = msrp_endpoint_config_set_identity_files(cfg, o->cert, o->key)) != MSRP_RESULT_OK)
        goto fail;
    if (o->ca != NULL && (*r = msrp_endpoint_config_set_trust_anchors_file(cfg, o->ca)) != MSRP_RESULT_OK) goto fail;
    if (o->ws && o->accept && (*r = msrp_endpoint_config_set_websocket(cfg, MSRP_WEBSOCKET_ONLY)) != MSRP_RESULT_OK)
        goto fail;
    if (o->bind_source_port &&
        (*r = msrp_endpoint_config_set_bind_source_port(cfg, true, o->port_low, o->port_high)) != MSRP_RESULT_OK)
        goto fail;
    if (o->verbose > 0) {
        msrp_logger_t logger = {0};
        logger.max_level = o->verbose > 1 ? MSRP_LOG_LEVEL_DEBUG : MSRP_LOG_LEVEL_INFO;
        logger.log = log_text;
        if (o->verbose > 1) {
            logger.received_new_chunk = log_received;
            logger.sent_new_chunk = log_sent;
        }
        if ((*r = msrp_endpoint_config_set_logger(cfg, &logger)) != MSRP_RESULT_OK) goto fail;
    }
    return cfg;
fail:
    msrp_endpoint_config_free(cfg);
    return NULL;
}

static int run(const struct options *o) {
    msrp_result_t r;
    msrp_endpoint_config_t *cfg = NULL;
    msrp_connector_t *conn = NULL;
    msrp_transport_t *transport = NULL;
    msrp_session_t *session = NULL;
    char *path = NULL;
    int rc = EXIT_FAILED;

    /* Only an msrp:// relay URI is plain TCP; a bare domain is TLS. */
    bool relay_tls = o->relay != NULL && strncasecmp(o->relay, "msrp:", 5) != 0;
    if (o->sdp == 0 && o->tls && o->accept && o->cert == NULL && o->relay == NULL) {
        fprintf(stderr, "msrp-peer: accepting msrps needs --cert and --key\n");
        return EXIT_FAILED;
    }
    if ((o->relay != NULL ? relay_tls : (o->sdp == 0 && o->tls && !o->accept)) && o->ca == NULL &&
        o->fingerprint == NULL) {
        fprintf(stderr, "msrp-peer: a TLS client needs --ca or --fingerprint to check the %s\n",
                o->relay != NULL ? "relay" : "peer");
        return EXIT_FAILED;
    }
    char *fp_canonical = NULL;
    if (o->fingerprint != NULL && (r = msrp_tls_fingerprint_parse(o->fingerprint, &fp_canonical)) != MSRP_RESULT_OK)
        return fail_early("--fingerprint", r);
    msrp_string_free(fp_canonical);

    cfg = make_config(o, &r);
    if (cfg == NULL) return fail_early("configuration", r);
    if (o->sdp != 0) {
        /* SDP instead of FINGERPRINT/PATH lines: examples-c/peer_sdp.c. */
        struct peer_sdp_args sa = {0};
        sa.offer = o->sdp == SDP_OFFER;
        sa.setup = o->setup;
        sa.local = o->local;
        sa.tls = o->tls;
        sa.accept_types = o->accept_types;
        for (size_t i = 0; i < o->n_items && sa.file_path == NULL; i++) {
            sa.file_path = o->items[i].path;
            sa.file_type = o->items[i].content_type;
        }
        sa.relay = o->relay;
        sa.user = o->user;
        sa.password = o->password;
        sa.dns_server = o->dns_server;
        sa.relay_fingerprint = o->fingerprint;
        sa.ms_left = ms_left;
        if ((rc = peer_sdp_establish(&sa, cfg, &conn, &transport)) != 0) goto out;
        goto bound;
    }
    if (o->tls && o->cert != NULL) {
        char *fp = NULL;
        if ((r = msrp_endpoint_config_fingerprint(cfg, &fp)) != MSRP_RESULT_OK) {
            rc = fail_early("fingerprint", r);
            goto out;
        }
        line("FINGERPRINT %s", fp);
        msrp_string_free(fp);
    }

    if (o->relay != NULL) {
        /* Through a relay: --ca/--fingerprint check the relay (msrps), and the
           peer's certificate is never seen. */
        msrp_relay_settings_t *rs = NULL;
        if ((r = msrp_relay_settings_new(o->relay, o->user, o->password, &rs)) != MSRP_RESULT_OK) {
            rc = fail_early("--relay", r);
            goto out;
        }
        if (o->fingerprint != NULL && (r = msrp_relay_settings_set_fingerprint(rs, o->fingerprint)) != MSRP_RESULT_OK) {
            msrp_relay_settings_free(rs);
            rc = fail_early("--fingerprint", r);
            goto out;
        }
        if (o->dns_server != NULL && (r = msrp_relay_settings_set_dns_server(rs, o->dns_server)) != MSRP_RESULT_OK) {
            msrp_relay_settings_free(rs);
            rc = fail_early("--dns-server", r);
            goto out;
        }
        r = o->accept ? msrp_acceptor_relay_new(cfg, rs, &conn) : msrp_connector_relay_new(cfg, rs, &conn);
        msrp_relay_settings_free(rs);
    } else {
        r = o->accept ? msrp_acceptor_direct_new(cfg, &conn) : msrp_connector_direct_new(cfg, &conn);
    }
    if (r != MSRP_RESULT_OK) {
        rc = fail_early("connector", r);
        goto out;
    }
    const char *local = o->local;
    char ws_local[80];
    if (local == NULL && o->ws && !o->accept && o->relay == NULL) {
        /* A WebSocket client's URI (RFC 7977 §5.2): a random .invalid host. */
        snprintf(ws_local, sizeof ws_local, "%s://%08lx%04x.invalid:0;ws", o->tls ? "msrps" : "msrp",
                 (unsigned long)time(NULL) & 0xffffffffUL, (unsigned)getpid() & 0xffffu);
        local = ws_local;
    }
    if (local == NULL && o->tls && o->relay == NULL) local = "msrps://127.0.0.1:0;tcp";
    if ((r = msrp_connector_prepare(conn, local, &path)) != MSRP_RESULT_OK) {
        rc = fail_early("prepare", r);
        goto out;
    }
    line("PATH %s", path);

    const char *remote = read_remote_path();
    if (remote == NULL || remote[0] == '\0') {
        if (expired()) {
            line("CLOSED timeout no PATH line on stdin");
            fprintf(stderr, "msrp-peer: timed out waiting for the PATH line on stdin\n");
        } else {
            fprintf(stderr, "msrp-peer: expected a line \"PATH <uri> ...\" on stdin\n");
        }
        goto out;
    }
    r = msrp_connector_complete(conn, remote, o->relay != NULL ? NULL : o->fingerprint, ms_left(), &transport);
    if (r != MSRP_RESULT_OK) {
        rc = fail_early("complete", r);
        goto out;
    }
bound:
    line("BOUND");

    msrp_session_config_t sc = {0};
    sc.size = sizeof sc;
    sc.accept_types = o->accept_types;
    sc.chunk_size = o->chunk_size;
    sc.max_message_size = WHOLE_MESSAGE_LIMIT;
    sc.on_message = on_message;
    sc.on_message_data = on_message_data;
    sc.on_message_sent = on_message_sent;
    sc.on_report = on_report;
    sc.on_progress = on_progress;
    sc.on_aborted = on_aborted;
    sc.on_closed = on_closed;
    sc.on_relay_expiring = on_relay_expiring;
    if (o->imdn) {
        sc.imdn_auto_delivery = true;
        sc.on_imdn = peer_cpim_on_imdn;
    }
    if ((r = msrp_session_new(transport, &sc, &session)) != MSRP_RESULT_OK) {
        rc = fail_early("session", r);
        goto out;
    }
    pthread_mutex_lock(&P.lock);
    P.session = session;
    pthread_mutex_unlock(&P.lock);
    if (o->relay != NULL && (r = msrp_session_watch_relay_expiry(session, conn)) != MSRP_RESULT_OK) {
        rc = fail_early("relay expiry", r);
        goto out;
    }
    if ((rc = queue_sends(session)) != 0) goto out;

    /* Wait until the goals are met, the session ends, something fails, or time is up. */
    pthread_mutex_lock(&P.lock);
    bool timed_out = false, shutting_down = false;
    while (!P.closed) {
        bool waiting_for_sender = P.refused_grace.tv_sec != 0 && !grace_passed();
        if (P.failure != NULL && !shutting_down && !waiting_for_sender) {
            msrp_session_shutdown(session, false);
            shutting_down = true;
        } else if (goals_met() && !shutting_down) {
            msrp_session_shutdown(session, true);
            shutting_down = true;
        }
        if (waiting_for_sender && !shutting_down) {
            pthread_cond_timedwait(&P.changed, &P.lock, &P.refused_grace);
            continue;
        }
        if (!wait_change()) {
            timed_out = true;
            break;
        }
    }
    if (timed_out) {
        line("CLOSED timeout after %.3g seconds", o->timeout);
        if (P.failure == NULL) set_failure("timed out after %.3g seconds", o->timeout);
    } else {
        line("CLOSED %s %s", reason_word(P.close_reason), P.close_text);
        bool clean_peer_close = P.close_reason == MSRP_CLOSE_PEER && P.n_sends == 0 && o->count < 0;
        if (P.failure == NULL && !goals_met() && !clean_peer_close) {
            if (P.close_reason == MSRP_CLOSE_PEER) set_failure("the peer closed the session early");
            else set_failure("the session ended: %s", P.close_text);
        }
    }
    rc = P.failure == NULL ? 0 : EXIT_FAILED;
    if (P.failure != NULL) fprintf(stderr, "msrp-peer: %s\n", P.failure);
    pthread_mutex_unlock(&P.lock);

out:
    pthread_mutex_lock(&P.lock);
    P.session = NULL;
    pthread_mutex_unlock(&P.lock);
    msrp_session_free(session);
    msrp_connector_free(conn);
    msrp_endpoint_config_free(cfg);
    msrp_string_free(path);
    return rc;
}

int main(int argc, char **argv) {
    static struct options opt;
    signal(SIGPIPE, SIG_IGN);
    /* Past a file size limit, writes fail with EFBIG (reported) instead of
     * the process being killed. */
    signal(SIGXFSZ, SIG_IGN);
    parse_options(argc, argv, &opt);
    P.opt = &opt;
    peer_cpim_init(line, peer_changed, opt.imdn);
    if (opt.out_dir != NULL) {
        struct stat st;
        if (stat(opt.out_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
            fprintf(stderr, "msrp-peer: --out-dir %s is not a directory\n", opt.out_dir);
            return EXIT_FAILED;
        }
    }
    if (opt.timeout > 0) {
        clock_gettime(CLOCK_REALTIME, &deadline);
        double whole = (double)(time_t)opt.timeout;
        deadline.tv_sec += (time_t)opt.timeout;
        deadline.tv_nsec += (long)((opt.timeout - whole) * 1e9);
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000L;
        }
    }
    int rc = run(&opt);

    /* Everything is freed so that leak checkers see a clean exit. */
    msrp_library_shutdown();
    for (size_t i = 0; i < P.n_sends; i++) free(P.sends[i].id);
    free(P.sends);
    for (size_t i = 0; i < P.n_seen; i++) free(P.seen[i]);
    free(P.seen);
    while (P.incoming) incoming_remove(P.incoming);
    free(P.failure);
    free(P.close_text);
    free(opt.items);
    peer_cpim_cleanup();
    return rc;
}
