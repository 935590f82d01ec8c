#include "firmware/api_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <microhttpd.h>
#include <sodium.h>

#include "drivers/base/sg_clock.h"

#define TOKEN_HASH_LEN 32      /* crypto_generichash output compared in constant time */
#define ARG_MAX 96             /* a '*' path segment (message ids are far shorter) */
#define NOTE_MAX 160
#define LISTEN_BACKLOG 64
#define TIMER_CAP_MS 60000     /* MHD may ask for no timeout; we still look once a minute */
/* An early error answer (413, 415...) is held back while the client is
 * still sending a body of up to this many bytes, which are read and
 * dropped: closing a socket with unread data makes the kernel reset it,
 * and the client would lose the answer. Beyond this, answer and close. */
#define DISCARD_MAX (1024u * 1024u)
#define SHUTDOWN_FLUSH_MS 200  /* api_http_free waits this long for answers to go out */

struct listener {
    struct api_http *h;
    struct MHD_Daemon *d;
    uv_poll_t poll;
    uv_timer_t timer;
    int epfd;                  /* MHD's epoll fd, watched by poll */
    bool tcp;
    bool started;              /* poll/timer initialised */
    bool kicked;               /* a resume happened: run MHD again next turn */
};

struct api_http {
    uv_loop_t *loop;
    struct listener lis[2];
    int nlis;
    char socket_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    dev_t sock_dev;
    ino_t sock_ino;
    int tcp_port;
    unsigned char token_hash[API_HTTP_TOKENS_MAX][TOKEN_HASH_LEN];
    size_t ntokens;
    uid_t uids[API_HTTP_UIDS_MAX];
    size_t nuids;
    size_t body_max;
    const struct api_route *routes;
    size_t nroutes;
    void *ud;
    const struct sglog *log;
    struct api_req *susp;      /* suspended requests, doubly linked */
    size_t nsusp;
    size_t nresumed;           /* answered after a suspension, not yet completed */
    int open_handles;          /* freed when the last close callback runs */
    uint64_t by_status[500];   /* answers queued, by status 100..599 */
    bool freeing;
};

enum req_state {
    REQ_READING = 0,   /* headers seen, body arriving */
    REQ_HANDLING,      /* inside the handler */
    REQ_SUSPENDED,     /* handler returned without an answer */
    REQ_ANSWERED,      /* response built, not yet queued */
    REQ_QUEUED,        /* given to MHD */
};

struct api_req {
    struct api_http *h;
    struct listener *l;
    struct MHD_Connection *c;
    const struct api_route *route;
    const char *method;        /* MHD's strings, valid until completion */
    const char *path;
    char arg[ARG_MAX];
    char *body;
    size_t len, cap;
    bool discard;              /* answered early: drop the body, then send */
    size_t discarded;
    bool resumed;
    struct api_peer peer;
    enum req_state state;
    struct MHD_Response *resp;
    unsigned status;
    char *hdr[API_HTTP_HEADERS_MAX][2];
    int nhdr;
    char note[NOTE_MAX];
    void (*abort_fn)(void *ud, struct api_req *r);
    void *abort_ud;
    struct api_req *prev, *next;
    sg_ms t0;
};

/* ------------------------------------------------------------ pure helpers */

bool api_http_match(const char *pattern, const char *path, char *arg, size_t argn)
{
    if (argn)
        arg[0] = '\0';
    const char *p = pattern, *s = path;
    while (*p && *s) {
        if (*p == '*') {
            size_t n = strcspn(s, "/");
            if (n == 0 || n >= argn)
                return false;
            memcpy(arg, s, n);
            arg[n] = '\0';
            s += n;
            p++;
            continue;
        }
        if (*p != *s)
            return false;
        p++;
        s++;
    }
    return *p == '\0' && *s == '\0';
}

bool api_http_is_json(const char *ct)
{
    static const char want[] = "application/json";
    if (!ct)
        return false;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    if (strncasecmp(ct, want, sizeof(want) - 1) != 0)
        return false;
    ct += sizeof(want) - 1;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    return *ct == '\0' || *ct == ';';
}

int api_http_split_hostport(const char *s, char *host, size_t hostn, int *port)
{
    const char *colon;
    const char *h = s;
    size_t hl;
    if (!s || !*s)
        return -EINVAL;
    if (*s == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return -EINVAL;
        h = s + 1;
        hl = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon || strchr(s, ':') != colon)
            return -EINVAL;
        hl = (size_t)(colon - s);
    }
    if (hl == 0 || hl >= hostn)
        return -EINVAL;
    char *end;
    errno = 0;
    long v = strtol(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end || errno || v < 0 || v > 65535)
        return -EINVAL;
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = (int)v;
    return 0;
}

/* ------------------------------------------------------------ replies */

static void susp_unlink(struct api_req *r)
{
    struct api_http *h = r->h;
    if (r->prev)
        r->prev->next = r->next;
    else if (h->susp == r)
        h->susp = r->next;
    if (r->next)
        r->next->prev = r->prev;
    r->prev = r->next = NULL;
    h->nsusp--;
}

static void on_lis_timer(uv_timer_t *t);

static void lis_kick(struct listener *l)
{
    l->kicked = true;
    if (l->started && !l->h->freeing)
        uv_timer_start(&l->timer, on_lis_timer, 0, 0);
}

void api_req_reply(struct api_req *r, unsigned status, const char *content_type, char *body,
                   size_t len)
{
    if (r->state != REQ_READING && r->state != REQ_HANDLING && r->state != REQ_SUSPENDED) {
        free(body); /* a second answer is a caller bug; the first one stands */
        return;
    }
    struct MHD_Response *resp;
    if (body)
        resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    else
        resp = MHD_create_response_from_buffer(0, (void *)(uintptr_t) "", MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(body);
        return; /* out of memory: the connection is closed when MHD sees no response */
    }
    if (content_type)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    for (int i = 0; i < r->nhdr; i++)
        MHD_add_response_header(resp, r->hdr[i][0], r->hdr[i][1]);
    r->resp = resp;
    r->status = status;
    enum req_state was = r->state;
    r->state = REQ_ANSWERED;
    if (was == REQ_SUSPENDED) {
        susp_unlink(r);
        r->resumed = true;
        r->h->nresumed++;
        MHD_resume_connection(r->c);
        /* MHD wants a run after a resume in external-loop mode. */
        lis_kick(r->l);
    }
}

void api_req_reply_json(struct api_req *r, unsigned status, json_t *v)
{
    char *s = v ? json_dumps(v, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    json_decref(v);
    if (!s) {
        api_req_reply(r, 500, "application/json", strdup("{\"error\":{\"code\":\"internal\","
                                                         "\"message\":\"out of memory\"}}\n"),
                      0);
        return;
    }
    size_t n = strlen(s);
    char *b = realloc(s, n + 2);
    if (!b) {
        free(s);
        api_req_reply(r, 500, NULL, NULL, 0);
        return;
    }
    b[n] = '\n';
    b[n + 1] = '\0';
    api_req_reply(r, status, "application/json", b, n + 1);
}

void api_req_error(struct api_req *r, unsigned status, const char *code, const char *field,
                   const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_t *e = json_object();
    json_object_set_new(e, "code", json_string(code));
    /* The message may quote client input: keep it valid UTF-8 for jansson. */
    json_t *m = json_string(msg);
    json_object_set_new(e, "message", m ? m : json_string("invalid input"));
    if (field)
        json_object_set_new(e, "field", json_string(field));
    json_t *o = json_object();
    json_object_set_new(o, "error", e);
    api_req_log_note(r, "error=%s", code);
    api_req_reply_json(r, status, o);
}

void api_req_header_add(struct api_req *r, const char *name, const char *value)
{
    if (r->nhdr >= API_HTTP_HEADERS_MAX)
        return;
    char *n = strdup(name), *v = strdup(value);
    if (!n || !v) {
        free(n);
        free(v);
        return;
    }
    r->hdr[r->nhdr][0] = n;
    r->hdr[r->nhdr][1] = v;
    r->nhdr++;
}

void api_req_log_note(struct api_req *r, const char *fmt, ...)
{
    size_t used = strlen(r->note);
    if (used + 2 >= sizeof(r->note))
        return;
    if (used)
        r->note[used++] = ' ';
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->note + used, sizeof(r->note) - used, fmt, ap);
    va_end(ap);
}

void api_req_on_abort(struct api_req *r, void (*fn)(void *ud, struct api_req *r), void *ud)
{
    r->abort_fn = fn;
    r->abort_ud = ud;
}

const char *api_req_method(const struct api_req *r) { return r->method; }
const char *api_req_path(const struct api_req *r) { return r->path; }
const struct api_peer *api_req_peer(const struct api_req *r) { return &r->peer; }

const char *api_req_body(const struct api_req *r, size_t *len)
{
    if (len)
        *len = r->len;
    return r->body ? r->body : "";
}

const char *api_req_header(const struct api_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->c, MHD_HEADER_KIND, name);
}

const char *api_req_query(const struct api_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->c, MHD_GET_ARGUMENT_KIND, name);
}

/* ------------------------------------------------------------ request checks */

static void peer_fill(struct api_req *r)
{
    struct api_peer *p = &r->peer;
    p->token = -1;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->c, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!r->l->tcp) {
        snprintf(p->addr, sizeof(p->addr), "unix");
        struct ucred uc;
        socklen_t ul = sizeof(uc);
        if (ci && getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, &uc, &ul) == 0) {
            p->has_cred = true;
            p->uid = uc.uid;
            p->gid = uc.gid;
            p->pid = uc.pid;
        }
        return;
    }
    p->tcp = true;
    ci = MHD_get_connection_info(r->c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(p->addr, sizeof(p->addr), "?");
    if (!ci || !ci->client_addr)
        return;
    char ip[INET6_ADDRSTRLEN] = "?";
    if (ci->client_addr->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const void *)ci->client_addr;
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
        snprintf(p->addr, sizeof(p->addr), "%s:%u", ip, ntohs(a->sin_port));
    } else if (ci->client_addr->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const void *)ci->client_addr;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
        snprintf(p->addr, sizeof(p->addr), "[%s]:%u", ip, ntohs(a->sin6_port));
    }
}

/* 0 when a route matched; else the HTTP status to answer (404/405) with the
 * methods that would be allowed in allow. */
static unsigned route_find(struct api_req *r, char *allow, size_t allown)
{
    struct api_http *h = r->h;
    char arg[ARG_MAX];
    bool path_known = false;
    allow[0] = '\0';
    for (size_t i = 0; i < h->nroutes; i++) {
        const struct api_route *rt = &h->routes[i];
        if (!api_http_match(rt->pattern, r->path, arg, sizeof(arg)))
            continue;
        if (strcmp(rt->method, r->method) == 0) {
            r->route = rt;
            memcpy(r->arg, arg, sizeof(arg));
            return 0;
        }
        if (!strstr(allow, rt->method)) {
            size_t n = strlen(allow);
            snprintf(allow + n, allown - n, "%s%s", n ? ", " : "", rt->method);
        }
        path_known = true;
    }
    return path_known ? 405 : 404;
}

static bool auth_ok(struct api_req *r)
{
    struct api_http *h = r->h;
    const char *a = api_req_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!a || strncasecmp(a, "Bearer ", 7) != 0)
        return false;
    const char *tok = a + 7;
    while (*tok == ' ')
        tok++;
    unsigned char hash[TOKEN_HASH_LEN];
    crypto_generichash(hash, sizeof(hash), (const unsigned char *)tok, strlen(tok), NULL, 0);
    /* Compare against every token (no early exit) over fixed-length hashes,
     * so neither the length nor the position of a match shows in timing. */
    int found = -1;
    for (size_t i = 0; i < h->ntokens; i++) {
        int eq = sodium_memcmp(hash, h->token_hash[i], sizeof(hash)) == 0;
        found = eq ? (int)i : found;
    }
    r->peer.token = found;
    return found >= 0;
}

static bool peer_allowed(const struct api_req *r)
{
    const struct api_http *h = r->h;
    if (h->nuids == 0)
        return true;
    if (!r->peer.has_cred)
        return false;
    if (r->peer.uid == geteuid())
        return true;
    for (size_t i = 0; i < h->nuids; i++)
        if (h->uids[i] == r->peer.uid)
            return true;
    return false;
}

struct query_check {
    const struct api_route *rt;
    char bad[48];
};

static enum MHD_Result query_iter(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
    (void)kind;
    (void)value;
    struct query_check *qc = cls;
    for (int i = 0; i < API_HTTP_QUERY_MAX && qc->rt->query[i]; i++)
        if (strcmp(qc->rt->query[i], key) == 0)
            return MHD_YES;
    snprintf(qc->bad, sizeof(qc->bad), "%s", key);
    return MHD_NO;
}

/* Runs checks 1-4 of the header comment on the first call; answers on failure. */
static void req_precheck(struct api_req *r)
{
    char allow[64];
    unsigned st = 0;
    if (r->l->tcp && !auth_ok(r)) {
        api_req_header_add(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
        api_req_error(r, 401, "unauthorized", NULL, "a valid bearer token is required");
        return;
    }
    if (!r->l->tcp && !peer_allowed(r)) {
        api_req_error(r, 403, "forbidden", NULL, "this user may not use the API");
        return;
    }
    st = route_find(r, allow, sizeof(allow));
    if (st == 404) {
        api_req_error(r, 404, "not_found", NULL, "no such endpoint");
        return;
    }
    if (st == 405) {
        api_req_header_add(r, MHD_HTTP_HEADER_ALLOW, allow);
        api_req_error(r, 405, "method_not_allowed", NULL, "allowed: %s", allow);
        return;
    }
    struct query_check qc = {.rt = r->route};
    MHD_get_connection_values(r->c, MHD_GET_ARGUMENT_KIND, query_iter, &qc);
    if (qc.bad[0]) {
        api_req_error(r, 400, "unknown_parameter", qc.bad, "unknown query parameter");
        return;
    }
    const char *cl = api_req_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
    const char *te = api_req_header(r, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    unsigned long long clen = cl ? strtoull(cl, NULL, 10) : 0;
    bool has_body = clen > 0 || te;
    if (!has_body)
        return;
    if (!api_http_is_json(api_req_header(r, MHD_HTTP_HEADER_CONTENT_TYPE))) {
        api_req_error(r, 415, "unsupported_media_type", NULL, "the body must be application/json");
        return;
    }
    if (clen > r->h->body_max)
        api_req_error(r, 413, "body_too_large", NULL, "the body is over %zu bytes",
                      r->h->body_max);
}

static int body_append(struct api_req *r, const char *data, size_t n)
{
    if (r->len + n > r->h->body_max)
        return -E2BIG;
    if (r->len + n + 1 > r->cap) {
        size_t cap = r->cap ? r->cap : 1024;
        while (cap < r->len + n + 1)
            cap *= 2;
        char *b = realloc(r->body, cap);
        if (!b)
            return -ENOMEM;
        r->body = b;
        r->cap = cap;
    }
    memcpy(r->body + r->len, data, n);
    r->len += n;
    r->body[r->len] = '\0';
    return 0;
}

/* ------------------------------------------------------------ MHD callbacks */

/* After an early error: keep reading (and dropping) a body of moderate
 * size before answering, see DISCARD_MAX. A client that waits for
 * "100 Continue" has sent nothing yet and is answered at once. */
static bool hold_answer(struct api_req *r)
{
    const char *cl = api_req_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
    const char *te = api_req_header(r, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    const char *ex = api_req_header(r, MHD_HTTP_HEADER_EXPECT);
    unsigned long long clen = cl ? strtoull(cl, NULL, 10) : 0;
    if ((clen == 0 && !te) || (ex && strcasecmp(ex, "100-continue") == 0) || clen > DISCARD_MAX)
        return false;
    r->discard = true;
    return true;
}

static enum MHD_Result queue_answer(struct api_req *r)
{
    r->state = REQ_QUEUED;
    if (r->status >= 100 && r->status < 600)
        r->h->by_status[r->status - 100]++;
    enum MHD_Result rc = MHD_queue_response(r->c, r->status, r->resp);
    MHD_destroy_response(r->resp);
    r->resp = NULL;
    return rc;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *c, const char *url,
                                 const char *method, const char *version,
                                 const char *upload_data, size_t *upload_size, void **con_cls)
{
    (void)version;
    struct listener *l = cls;
    struct api_req *r = *con_cls;
    if (!r) {
        r = calloc(1, sizeof(*r));
        if (!r)
            return MHD_NO;
        r->h = l->h;
        r->l = l;
        r->c = c;
        r->method = method;
        r->path = url;
        r->t0 = sg_clock_mono_ms();
        *con_cls = r;
        peer_fill(r);
        req_precheck(r);
        if (r->state == REQ_ANSWERED && !hold_answer(r))
            return queue_answer(r);
        return MHD_YES;
    }
    if (r->state == REQ_ANSWERED && r->discard) {
        r->discarded += *upload_size;
        bool done = *upload_size == 0 || r->discarded > DISCARD_MAX;
        *upload_size = 0;
        return done ? queue_answer(r) : MHD_YES;
    }
    if (r->state == REQ_ANSWERED)
        return queue_answer(r);
    if (r->state != REQ_READING) {
        *upload_size = 0;
        return MHD_YES;
    }
    if (*upload_size) {
        int rc = body_append(r, upload_data, *upload_size);
        *upload_size = 0;
        if (rc == -E2BIG)
            api_req_error(r, 413, "body_too_large", NULL, "the body is over %zu bytes",
                          r->h->body_max);
        else if (rc)
            api_req_error(r, 503, "unavailable", NULL, "out of memory");
        if (r->state == REQ_ANSWERED) {
            r->discard = true;
            r->discarded = r->len;
        }
        return MHD_YES;
    }
    r->state = REQ_HANDLING;
    r->route->fn(r->h->ud, r, r->arg);
    if (r->state == REQ_ANSWERED)
        return queue_answer(r);
    r->state = REQ_SUSPENDED;
    r->next = r->h->susp;
    if (r->next)
        r->next->prev = r;
    r->h->susp = r;
    r->h->nsusp++;
    MHD_suspend_connection(c);
    return MHD_YES;
}

static void req_free(struct api_req *r)
{
    if (r->resp)
        MHD_destroy_response(r->resp);
    for (int i = 0; i < r->nhdr; i++) {
        free(r->hdr[i][0]);
        free(r->hdr[i][1]);
    }
    free(r->body);
    free(r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    struct api_req *r = *con_cls;
    if (!r)
        return;
    *con_cls = NULL;
    struct api_http *h = r->h;
    if (r->state == REQ_SUSPENDED) {
        susp_unlink(r);
        if (r->abort_fn)
            r->abort_fn(r->abort_ud, r);
    }
    if (r->resumed)
        h->nresumed--;
    if (h->log) {
        const struct api_peer *p = &r->peer;
        char who[96];
        if (p->tcp)
            snprintf(who, sizeof(who), "addr=%s token=%d", p->addr, p->token);
        else if (p->has_cred)
            snprintf(who, sizeof(who), "uid=%ld pid=%ld", (long)p->uid, (long)p->pid);
        else
            snprintf(who, sizeof(who), "uid=? pid=?");
        enum log_level lvl = (r->route && r->route->write) ? LOG_LVL_INFO : LOG_LVL_DEBUG;
        if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && lvl > LOG_LVL_INFO)
            lvl = LOG_LVL_INFO;
        log_emit(h->log, lvl, "event=api.request method=%s path=%s status=%u %s ms=%lld%s%s%s",
                 r->method ? r->method : "?", r->route ? r->route->pattern : "-", r->status, who,
                 (long long)(sg_clock_mono_ms() - r->t0), r->note[0] ? " " : "", r->note,
                 toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " result=aborted");
    }
    req_free(r);
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct api_http *h = cls;
    char line[256];
    vsnprintf(line, sizeof(line), fmt, ap);
    line[strcspn(line, "\r\n")] = '\0';
    if (h->log)
        log_debug(h->log, "event=api.mhd msg=\"%s\"", line);
}
#pragma GCC diagnostic pop

/* ------------------------------------------------------------ loop glue */

static void lis_run(struct listener *l);

static void on_lis_timer(uv_timer_t *t)
{
    lis_run(t->data);
}

static void on_lis_poll(uv_poll_t *p, int status, int events)
{
    (void)status;
    (void)events;
    lis_run(p->data);
}

static unsigned lis_conns(const struct listener *l)
{
    const union MHD_DaemonInfo *di =
        MHD_get_daemon_info(l->d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
    return di ? di->num_connections : 0;
}

static void lis_run(struct listener *l)
{
    if (l->h->freeing || !l->d)
        return;
    l->kicked = false;
    unsigned before = lis_conns(l);
    MHD_run(l->d);
    MHD_UNSIGNED_LONG_LONG to = 0;
    /* A resume from inside this run (a handler woke a long-poll) may not be
     * seen by it: MHD documents that it needs another MHD_run(). And MHD
     * 0.9.75 takes the listen socket out of its epoll set at the connection
     * limit and puts it back only at the start of the run AFTER the one
     * that closed connections: without that run nobody would poll it again
     * (found with 300 idle clients against a limit of 128). */
    if (l->kicked || lis_conns(l) < before)
        uv_timer_start(&l->timer, on_lis_timer, 0, 0);
    else if (MHD_get_timeout(l->d, &to) == MHD_YES)
        uv_timer_start(&l->timer, on_lis_timer, to < TIMER_CAP_MS ? to : TIMER_CAP_MS, 0);
    else
        uv_timer_start(&l->timer, on_lis_timer, TIMER_CAP_MS, 0);
}

static int lis_start(struct api_http *h, struct listener *l, int fd, unsigned conn_max,
                     unsigned timeout_s, struct sg_err *err)
{
    l->h = h;
    l->d = MHD_start_daemon(MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, 0, NULL,
                            NULL, on_access, l, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, h,
                            MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_NOTIFY_COMPLETED,
                            on_completed, l, MHD_OPTION_CONNECTION_LIMIT, conn_max,
                            MHD_OPTION_CONNECTION_TIMEOUT, timeout_s, MHD_OPTION_END);
    if (!l->d) {
        close(fd);
        return sg_errf(err, -EIO, "MHD_start_daemon failed");
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(l->d, MHD_DAEMON_INFO_EPOLL_FD);
    if (!di)
        return sg_errf(err, -EIO, "MHD gave no epoll fd");
    l->epfd = di->epoll_fd;
    uv_timer_init(h->loop, &l->timer);
    int rc = uv_poll_init(h->loop, &l->poll, di->epoll_fd);
    if (rc) {
        uv_close((uv_handle_t *)&l->timer, NULL);
        return sg_errf(err, -EIO, "uv_poll_init: %s", uv_strerror(rc));
    }
    l->poll.data = l->timer.data = l;
    l->started = true;
    h->open_handles += 2;
    uv_poll_start(&l->poll, UV_READABLE, on_lis_poll);
    lis_run(l);
    return 0;
}

static int unix_listen(struct api_http *h, const char *path, unsigned mode, const char *group,
                       int *out, struct sg_err *err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path))
        return sg_errf(err, -ENAMETOOLONG, "socket path %s is too long", path);
    memcpy(sa.sun_path, path, strlen(path) + 1);
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            return sg_errf(err, -EEXIST, "%s exists and is not a socket", path);
        /* Remove it only if nothing answers: a live daemon keeps its socket. */
        int p = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (p < 0)
            return sg_errf(err, -errno, "socket: %s", strerror(errno));
        int rc = connect(p, (struct sockaddr *)&sa, sizeof(sa));
        int e = errno;
        close(p);
        if (rc == 0)
            return sg_errf(err, -EADDRINUSE, "%s: another server answers on it", path);
        if (e != ECONNREFUSED)
            return sg_errf(err, -e, "probe %s: %s", path, strerror(e));
        if (unlink(path) != 0)
            return sg_errf(err, -errno, "unlink stale %s: %s", path, strerror(errno));
    }
    gid_t gid = (gid_t)-1;
    if (group && *group) {
        char buf[1024];
        struct group gr, *res = NULL;
        if (getgrnam_r(group, &gr, buf, sizeof(buf), &res) != 0 || !res)
            return sg_errf(err, -ENOENT, "group %s not found", group);
        gid = gr.gr_gid;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return sg_errf(err, -errno, "socket: %s", strerror(errno));
    /* umask around bind so the file never exists with wider permissions. */
    mode_t old = umask((mode_t)(~mode & 0777));
    int rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    int e = errno;
    umask(old);
    if (rc != 0) {
        close(fd);
        return sg_errf(err, -e, "bind %s: %s", path, strerror(e));
    }
    if (chmod(path, mode) != 0 || (gid != (gid_t)-1 && chown(path, (uid_t)-1, gid) != 0)) {
        e = errno;
        close(fd);
        unlink(path);
        return sg_errf(err, -e, "chmod/chown %s: %s", path, strerror(e));
    }
    if (listen(fd, LISTEN_BACKLOG) != 0 || stat(path, &st) != 0) {
        e = errno;
        close(fd);
        unlink(path);
        return sg_errf(err, -e, "listen %s: %s", path, strerror(e));
    }
    h->sock_dev = st.st_dev;
    h->sock_ino = st.st_ino;
    *out = fd;
    return 0;
}

static int tcp_listen(struct api_http *h, const char *spec, int *out, struct sg_err *err)
{
    char host[128], port_s[8];
    int port;
    if (api_http_split_hostport(spec, host, sizeof(host), &port) != 0)
        return sg_errf(err, -EINVAL, "tcp listener \"%s\": want host:port", spec);
    snprintf(port_s, sizeof(port_s), "%d", port);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    int rc = getaddrinfo(host, port_s, &hints, &ai);
    if (rc != 0)
        return sg_errf(err, -EINVAL, "tcp listener %s: %s", spec, gai_strerror(rc));
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, LISTEN_BACKLOG) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return sg_errf(err, -e, "tcp listener %s: %s", spec, strerror(e));
    }
    freeaddrinfo(ai);
    struct sockaddr_storage ss = {0};
    socklen_t sl = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        struct sockaddr_in6 a6;
        struct sockaddr_in a4;
        memcpy(&a6, &ss, sizeof(a6));
        memcpy(&a4, &ss, sizeof(a4));
        h->tcp_port = ntohs(ss.ss_family == AF_INET6 ? a6.sin6_port : a4.sin_port);
    }
    *out = fd;
    return 0;
}

static void on_handle_closed(uv_handle_t *hd)
{
    struct listener *l = hd->data;
    struct api_http *h = l->h;
    if (--h->open_handles == 0)
        free(h);
}

int api_http_new(uv_loop_t *loop, const struct api_http_opts *o, struct api_http **out,
                 struct sg_err *err)
{
    *out = NULL;
    if (!o->socket_path || !*o->socket_path || !o->routes)
        return sg_errf(err, -EINVAL, "api: socket path and routes are required");
    bool tcp = o->tcp_listen && *o->tcp_listen;
    if (tcp && (o->ntokens == 0 || o->ntokens > API_HTTP_TOKENS_MAX))
        return sg_errf(err, -EINVAL, "api: the tcp listener needs 1..%d bearer tokens",
                       API_HTTP_TOKENS_MAX);
    if (sodium_init() < 0)
        return sg_errf(err, -EIO, "sodium_init failed");
    struct api_http *h = calloc(1, sizeof(*h));
    if (!h)
        return sg_errf(err, -ENOMEM, "out of memory");
    h->loop = loop;
    h->body_max = o->body_max ? o->body_max : API_HTTP_BODY_MAX_DEFAULT;
    h->routes = o->routes;
    h->nroutes = o->nroutes;
    h->ud = o->ud;
    h->log = o->log;
    snprintf(h->socket_path, sizeof(h->socket_path), "%s", o->socket_path);
    for (size_t i = 0; tcp && i < o->ntokens; i++) {
        size_t n = strlen(o->tokens[i]);
        if (n < API_HTTP_TOKEN_MIN) {
            free(h);
            return sg_errf(err, -EINVAL, "api: bearer token %zu is shorter than %d characters",
                           i + 1, API_HTTP_TOKEN_MIN);
        }
        crypto_generichash(h->token_hash[i], TOKEN_HASH_LEN, (const unsigned char *)o->tokens[i],
                           n, NULL, 0);
    }
    h->ntokens = tcp ? o->ntokens : 0;
    if (o->nuids > API_HTTP_UIDS_MAX) {
        free(h);
        return sg_errf(err, -EINVAL, "api: at most %d allowed uids", API_HTTP_UIDS_MAX);
    }
    for (size_t i = 0; i < o->nuids; i++)
        h->uids[i] = o->uids[i];
    h->nuids = o->nuids;
    unsigned cmax = o->conn_max ? o->conn_max : API_HTTP_CONN_MAX_DEFAULT;
    unsigned tmo = o->conn_timeout_s ? o->conn_timeout_s : API_HTTP_TIMEOUT_DEFAULT;
    int fd = -1;
    int rc = unix_listen(h, o->socket_path, o->socket_mode ? o->socket_mode : 0660,
                         o->socket_group, &fd, err);
    if (rc) {
        free(h);
        return rc;
    }
    rc = lis_start(h, &h->lis[h->nlis++], fd, cmax, tmo, err);
    if (!rc && tcp) {
        rc = tcp_listen(h, o->tcp_listen, &fd, err);
        if (!rc) {
            h->lis[h->nlis].tcp = true;
            rc = lis_start(h, &h->lis[h->nlis++], fd, cmax, tmo, err);
        }
    }
    if (rc) {
        api_http_free(h);
        return rc;
    }
    *out = h;
    return 0;
}

void api_http_free(struct api_http *h)
{
    if (!h)
        return;
    /* Answer what is still waiting, then let MHD write it out (best effort:
     * a client that does not read loses its answer, as on any shutdown). */
    while (h->susp) {
        struct api_req *r = h->susp;
        if (r->abort_fn) {
            r->abort_fn(r->abort_ud, r);
            r->abort_fn = NULL;
        }
        if (h->susp == r && r->state == REQ_SUSPENDED)
            api_req_error(r, 503, "shutting_down", NULL, "simgated is stopping");
    }
    sg_ms until = sg_clock_mono_ms() + SHUTDOWN_FLUSH_MS;
    do {
        struct pollfd pf[2];
        int n = 0;
        for (int i = 0; i < h->nlis; i++) {
            if (!h->lis[i].d)
                continue;
            MHD_run(h->lis[i].d);
            pf[n].fd = h->lis[i].epfd;
            pf[n++].events = POLLIN;
        }
        if (h->nresumed && n)
            poll(pf, (nfds_t)n, 10);
    } while (h->nresumed && sg_clock_mono_ms() < until);
    h->freeing = true;
    struct stat st;
    if (stat(h->socket_path, &st) == 0 && st.st_dev == h->sock_dev && st.st_ino == h->sock_ino)
        unlink(h->socket_path);
    int handles = h->open_handles;
    for (int i = 0; i < h->nlis; i++) {
        struct listener *l = &h->lis[i];
        if (l->started) {
            uv_close((uv_handle_t *)&l->poll, on_handle_closed);
            uv_close((uv_handle_t *)&l->timer, on_handle_closed);
        }
        if (l->d)
            MHD_stop_daemon(l->d);
        l->d = NULL;
    }
    if (handles == 0)
        free(h);
}

const char *api_http_socket_path(const struct api_http *h) { return h->socket_path; }
int api_http_tcp_port(const struct api_http *h) { return h->tcp_port; }
size_t api_http_suspended(const struct api_http *h) { return h->nsusp; }

uint64_t api_http_count(const struct api_http *h, unsigned status)
{
    return status >= 100 && status < 600 ? h->by_status[status - 100] : 0;
}
