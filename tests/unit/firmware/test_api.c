/*
 * API tests against the real thing: a libuv loop (in its own thread) serving
 * firmware/api on a real Unix socket in a temp dir, a real store (sqlite in
 * that dir) and queue; the test is the client, speaking HTTP/1.1 over the
 * socket with plain blocking sockets. Anything that must touch the loop's
 * objects (fault injection, provider data) is run on the loop thread with
 * on_loop().
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <uv.h>

#ifndef SG_TEST_BUILD
#define SG_TEST_BUILD 1 /* store fault injection (always on in unit builds) */
#endif
#include "firmware/api.h"
#include "firmware/api_http.h"
#include "firmware/log.h"
#include "firmware/queue.h"
#include "firmware/store.h"

#define TOKEN "0123456789abcdef-secret-token"

struct fx {
    char dir[64];
    char sock[128];
    uv_loop_t loop;
    uv_async_t async;
    uv_check_t check;
    pthread_t th;
    struct store *st;
    struct queue *q;
    struct api *api;
    struct sglog log;
    char logpath[128];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    void (*fn)(struct fx *f, void *arg);
    void *arg;
    bool done;
    long flushes, committed;   /* api_flush calls that committed, messages committed */
    /* provider data, touched on the loop thread only */
    struct api_modem_info modems[3];
    int nmodems;
};

/* ------------------------------------------------------------ loop thread */

static void on_async(uv_async_t *a)
{
    struct fx *f = a->data;
    pthread_mutex_lock(&f->mu);
    void (*fn)(struct fx *, void *) = f->fn;
    void *arg = f->arg;
    pthread_mutex_unlock(&f->mu);
    if (!fn)
        return;
    fn(f, arg);
    pthread_mutex_lock(&f->mu);
    f->fn = NULL;
    f->done = true;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

/* Runs fn(f, arg) on the loop thread and waits for it. */
static void on_loop(struct fx *f, void (*fn)(struct fx *, void *), void *arg)
{
    pthread_mutex_lock(&f->mu);
    f->fn = fn;
    f->arg = arg;
    f->done = false;
    pthread_mutex_unlock(&f->mu);
    uv_async_send(&f->async);
    pthread_mutex_lock(&f->mu);
    while (!f->done)
        pthread_cond_wait(&f->cv, &f->mu);
    pthread_mutex_unlock(&f->mu);
}

static void on_check(uv_check_t *c)
{
    struct fx *f = c->data;
    api_flush(f->api); /* allowed, and a no-op after the api's own flush */
}

static void on_commit(void *ud, int n)
{
    struct fx *f = ud;
    f->flushes++;
    f->committed += n;
}

static void *loop_main(void *arg)
{
    struct fx *f = arg;
    uv_run(&f->loop, UV_RUN_DEFAULT);
    return NULL;
}

static void on_events(void *ud, int64_t last_seq)
{
    api_notify_events(ud, last_seq);
}

static int prov_modems(void *ud, struct api_modem_info *out, int max)
{
    struct fx *f = ud;
    int n = f->nmodems < max ? f->nmodems : max;
    memcpy(out, f->modems, (size_t)n * sizeof(*out));
    return n;
}

static void prov_metrics(void *ud, struct api_metrics *m)
{
    (void)ud;
    api_metrics_printf(m, "simgate_test_extra{sim=\"x\"} 7\n");
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static struct fx *fx_start(const struct api_opts *extra)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/sg-api-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->sock, sizeof(f->sock), "%s/api.sock", f->dir);
    snprintf(f->logpath, sizeof(f->logpath), "%s/log.txt", f->dir);
    f->log.level = LOG_LVL_DEBUG;
    f->log.sink = LOG_SINK_STDERR;
    f->log.out = fopen(f->logpath, "w");
    assert_non_null(f->log.out);
    setvbuf(f->log.out, NULL, _IOLBF, 0);
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    struct sg_err err = {0};
    assert_int_equal(store_open(&f->st, f->dir, NULL, &err), 0);
    struct queue_opts qo = {.default_cc = "33"};
    assert_int_equal(queue_open(&f->q, f->st, &qo, &err), 0);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    struct api_opts o = extra ? *extra : (struct api_opts){0};
    o.socket_path = f->sock;
    o.default_cc = "33";
    o.on_commit = on_commit;
    o.commit_ud = f;
    snprintf(f->modems[0].id, sizeof(f->modems[0].id), "m1");
    snprintf(f->modems[0].state, sizeof(f->modems[0].state), "ready");
    snprintf(f->modems[0].vendor, sizeof(f->modems[0].vendor), "SIMCOM");
    f->modems[0].ready = true;
    f->modems[0].has_signal = true;
    f->modems[0].signal_dbm = -71;
    snprintf(f->modems[1].id, sizeof(f->modems[1].id), "m2");
    snprintf(f->modems[1].state, sizeof(f->modems[1].state), "recovering");
    snprintf(f->modems[1].last_error, sizeof(f->modems[1].last_error), "no answer to AT");
    f->nmodems = 2;
    struct api_provider prov = {.ud = f, .modems = prov_modems, .metrics = prov_metrics};
    int rc = api_new(&f->loop, &o, &f->log, f->q, f->st, &prov, &f->api, &err);
    if (rc)
        fail_msg("api_new: %s", err.msg);
    store_set_event_hook(f->st, on_events, f->api);
    uv_async_init(&f->loop, &f->async, on_async);
    f->async.data = f;
    uv_check_init(&f->loop, &f->check);
    f->check.data = f;
    uv_check_start(&f->check, on_check);
    assert_int_equal(pthread_create(&f->th, NULL, loop_main, f), 0);
    return f;
}

static void do_stop(struct fx *f, void *arg)
{
    (void)arg;
    api_free(f->api);
    f->api = NULL;
    uv_close((uv_handle_t *)&f->check, NULL);
    uv_close((uv_handle_t *)&f->async, NULL);
}

static void fx_stop(struct fx *f)
{
    on_loop(f, do_stop, NULL);
    pthread_join(f->th, NULL);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    queue_close(f->q);
    store_close(f->st);
    fclose(f->log.out);
    if (getenv("API_TEST_DEBUG")) {
        char cmd[200];
        snprintf(cmd, sizeof(cmd), "cat %s >&2", f->logpath);
        if (system(cmd) != 0)
            fprintf(stderr, "no log\n");
    }
    nftw(f->dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
    free(f);
}

/* ------------------------------------------------------------ HTTP client */

struct resp {
    int status;
    char head[4096];
    char *body;
    size_t blen;
    json_t *json;
    double secs;
};

static void resp_free(struct resp *r)
{
    free(r->body);
    json_decref(r->json);
    memset(r, 0, sizeof(*r));
}

static int unix_connect(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    struct timeval tv = {.tv_sec = 20};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

static int tcp_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    struct timeval tv = {.tv_sec = 20};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Sends raw bytes (then half-closes when shut), reads to EOF, parses.
 * Returns the status, 0 when the server answered nothing, -1 no connection. */
static int exchange(int fd, const char *raw, size_t len, bool shut, struct resp *r)
{
    memset(r, 0, sizeof(*r));
    if (fd < 0)
        return r->status = -1;
    double t0 = mono_s();
    size_t off = 0;
    while (off < len) {
        ssize_t n = send(fd, raw + off, len - off, MSG_NOSIGNAL);
        if (n <= 0)
            break; /* the server may close early (413 before the body) */
        off += (size_t)n;
    }
    if (shut)
        shutdown(fd, SHUT_WR);
    size_t cap = 8192, got = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (got + 4096 > cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb)
                break;
            buf = nb;
        }
        ssize_t n = recv(fd, buf + got, cap - got - 1, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    r->secs = mono_s() - t0;
    char *eoh = strstr(buf, "\r\n\r\n");
    if (got < 12 || !eoh) {
        if (getenv("API_TEST_DEBUG"))
            fprintf(stderr, "exchange: sent %zu/%zu got %zu: %.200s\n", off, len, got, buf);
        free(buf);
        return r->status = 0;
    }
    r->status = (int)strtol(buf + 9, NULL, 10);
    size_t hl = (size_t)(eoh - buf) + 2;
    snprintf(r->head, sizeof(r->head), "%.*s", (int)(hl < sizeof(r->head) ? hl : sizeof(r->head) - 1), buf);
    r->blen = got - (hl + 2);
    r->body = malloc(r->blen + 1);
    memcpy(r->body, eoh + 4, r->blen);
    r->body[r->blen] = '\0';
    r->json = json_loadb(r->body, r->blen, 0, NULL);
    free(buf);
    return r->status;
}

static const char *hdr(const struct resp *r, const char *name, char *out, size_t n)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "\r\n%s:", name);
    const char *p = strcasestr(r->head, pat);
    if (!p)
        return NULL;
    p += strlen(pat);
    while (*p == ' ')
        p++;
    size_t l = strcspn(p, "\r\n");
    snprintf(out, n, "%.*s", (int)l, p);
    return out;
}

static int http_fd(int fd, const char *method, const char *path, const char *ctype,
                   const char *body, size_t blen, const char *extra, struct resp *r)
{
    char head[1024];
    int hl = snprintf(head, sizeof(head),
                      "%s %s HTTP/1.1\r\nHost: simgate\r\nConnection: close\r\n%s%s%s%s",
                      method, path, ctype ? "Content-Type: " : "", ctype ? ctype : "",
                      ctype ? "\r\n" : "", extra ? extra : "");
    if (body)
        hl += snprintf(head + hl, sizeof(head) - (size_t)hl, "Content-Length: %zu\r\n", blen);
    hl += snprintf(head + hl, sizeof(head) - (size_t)hl, "\r\n");
    size_t tot = (size_t)hl + (body ? blen : 0);
    char *raw = malloc(tot + 1);
    memcpy(raw, head, (size_t)hl);
    if (body)
        memcpy(raw + hl, body, blen);
    int st = exchange(fd, raw, tot, false, r);
    free(raw);
    return st;
}

static int http(struct fx *f, const char *method, const char *path, const char *body,
                const char *extra, struct resp *r)
{
    return http_fd(unix_connect(f->sock), method, path, body ? "application/json" : NULL, body,
                   body ? strlen(body) : 0, extra, r);
}

static const char *err_code(const struct resp *r)
{
    return json_string_value(json_object_get(json_object_get(r->json, "error"), "code"));
}

static const char *err_field(const struct resp *r)
{
    return json_string_value(json_object_get(json_object_get(r->json, "error"), "field"));
}

static json_int_t jint(const json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

#define OK_BODY "{\"to\":\"+33612345678\",\"text\":\"Your code is 123456\",\"priority\":\"otp\"}"

static int64_t submit_ok(struct fx *f, const char *body, const char *extra)
{
    struct resp r;
    int st = http(f, "POST", "/v1/messages", body, extra, &r);
    if (st != 202)
        fail_msg("submit: %d %s", st, r.body ? r.body : "");
    int64_t id = jint(r.json, "id");
    assert_true(id > 0);
    resp_free(&r);
    return id;
}

/* ------------------------------------------------------------ pure helpers */

static void test_helpers(void **state)
{
    (void)state;
    char arg[16];
    static const struct {
        const char *pat, *path;
        bool match;
        const char *arg;
    } m[] = {
        {"/v1/messages", "/v1/messages", true, ""},
        {"/v1/messages", "/v1/messages/", false, ""},
        {"/v1/messages/*", "/v1/messages/17", true, "17"},
        {"/v1/messages/*", "/v1/messages/", false, ""},
        {"/v1/messages/*", "/v1/messages/17/x", false, ""},
        {"/v1/messages/*", "/v1/messages/12345678901234567890", false, ""},
        {"/metrics", "//metrics", false, ""},
    };
    for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
        bool got = api_http_match(m[i].pat, m[i].path, arg, sizeof(arg));
        if (got != m[i].match || (got && strcmp(arg, m[i].arg) != 0))
            fail_msg("match %s %s", m[i].pat, m[i].path);
    }
    assert_true(api_http_is_json("application/json"));
    assert_true(api_http_is_json("Application/JSON; charset=utf-8"));
    assert_false(api_http_is_json("application/jsonx"));
    assert_false(api_http_is_json("text/plain"));
    assert_false(api_http_is_json(NULL));
    char host[64];
    int port;
    assert_int_equal(api_http_split_hostport("127.0.0.1:8080", host, sizeof(host), &port), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 8080);
    assert_int_equal(api_http_split_hostport("[::1]:0", host, sizeof(host), &port), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(api_http_split_hostport("::1:80", host, sizeof(host), &port), -EINVAL);
    assert_int_equal(api_http_split_hostport("host:99999", host, sizeof(host), &port), -EINVAL);
    assert_int_equal(api_http_split_hostport(":80", host, sizeof(host), &port), -EINVAL);

    sg_ms t;
    char buf[40];
    assert_int_equal(api_parse_time("2026-11-22T15:40:00.123Z", &t), 0);
    api_fmt_time(t, buf, sizeof(buf));
    assert_string_equal(buf, "2026-11-22T15:40:00.123Z");
    assert_int_equal(api_parse_time("1970-01-01T00:00:01Z", &t), 0);
    assert_int_equal(t, 1000);
    assert_int_equal(api_parse_time("1795880400123", &t), 0);
    assert_int_equal(t, 1795880400123LL);
    assert_int_equal(api_parse_time("2026-02-30T00:00:00Z", &t), -EINVAL);
    assert_int_equal(api_parse_time("2026-11-22 15:40:00Z", &t), -EINVAL);
    assert_int_equal(api_parse_time("2026-11-22T15:40:00+01:00", &t), -EINVAL);
    assert_int_equal(api_parse_time("yesterday", &t), -EINVAL);
    int64_t v;
    assert_int_equal(api_parse_int("42", 0, 100, &v), 0);
    assert_int_equal(v, 42);
    assert_int_equal(api_parse_int("101", 0, 100, &v), -EINVAL);
    assert_int_equal(api_parse_int("4x", 0, 100, &v), -EINVAL);
    assert_int_equal(api_parse_int("99999999999999999999", 0, INT64_MAX, &v), -EINVAL);
    assert_int_equal(api_parse_int("", 0, 100, &v), -EINVAL);
    assert_int_equal(api_parse_int("-", -5, 100, &v), -EINVAL);
}

/* ------------------------------------------------------------ transport */

static int count_fds(void)
{
    int n = 0;
    char path[64];
    for (int fd = 0; fd < 1024; fd++) {
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        n += access(path, F_OK) == 0;
    }
    return n;
}

static void test_socket_file(void **state)
{
    (void)state;
    /* libuv keeps a process-wide signal pipe from the first loop on: count
     * descriptors after one full start/stop. */
    fx_stop(fx_start(NULL));
    int fds = count_fds();
    struct fx *f = fx_start(NULL);
    struct stat st;
    assert_int_equal(stat(f->sock, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0660);

    /* A second server on the same live socket is refused, a regular file in
     * the way is not removed, a stale socket file is. */
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct api_http *h = NULL;
    static const struct api_route none[] = {{.method = "GET", .pattern = "/x"}};
    struct api_http_opts o = {.socket_path = f->sock, .routes = none, .nroutes = 1};
    struct sg_err err;
    assert_int_equal(api_http_new(&loop, &o, &h, &err), -EADDRINUSE);
    char path[160];
    snprintf(path, sizeof(path), "%s/file", f->dir);
    FILE *fp = fopen(path, "w");
    fclose(fp);
    o.socket_path = path;
    assert_int_equal(api_http_new(&loop, &o, &h, &err), -EEXIST);
    assert_int_equal(stat(path, &st), 0);
    snprintf(path, sizeof(path), "%s/stale.sock", f->dir);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    close(fd); /* the file stays, nobody listens: stale */
    o.socket_mode = 0600;
    assert_int_equal(api_http_new(&loop, &o, &h, &err), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    api_http_free(h);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    assert_int_not_equal(stat(path, &st), 0); /* removed on free */
    fx_stop(f);
    assert_int_equal(count_fds(), fds); /* listen sockets, epoll fds, the loop: all closed */
}

static void test_routing_errors(void **state)
{
    (void)state;
    struct fx *f = fx_start(NULL);
    struct resp r;
    char v[128];
    static const struct {
        const char *name, *method, *path;
        int status;
        const char *code, *allow;
    } cases[] = {
        {"unknown path", "GET", "/v2/messages", 404, "not_found", NULL},
        {"root", "GET", "/", 404, "not_found", NULL},
        {"extra segment", "GET", "/v1/messages/1/parts", 404, "not_found", NULL},
        {"double slash", "GET", "//v1/health", 404, "not_found", NULL},
        {"PUT on the collection", "PUT", "/v1/messages", 405, "method_not_allowed", "POST, GET"},
        {"POST on modems", "POST", "/v1/modems", 405, "method_not_allowed", "GET"},
        {"PATCH on a message", "PATCH", "/v1/messages/1", 405, "method_not_allowed",
         "GET, DELETE"},
        {"HEAD on health", "HEAD", "/v1/health", 405, NULL, "GET"},
        {"unknown query parameter", "GET", "/v1/messages?foo=1", 400, "unknown_parameter", NULL},
        {"query on modems", "GET", "/v1/modems?x", 400, "unknown_parameter", NULL},
        {"non-numeric id", "GET", "/v1/messages/abc", 400, "invalid_id", NULL},
        {"negative id", "GET", "/v1/messages/-1", 400, "invalid_id", NULL},
        {"huge id", "GET", "/v1/messages/99999999999999999999", 400, "invalid_id", NULL},
        {"missing message", "GET", "/v1/messages/424242", 404, "not_found", NULL},
        {"cancel missing", "DELETE", "/v1/messages/424242", 404, "not_found", NULL},
        {"cancel bad id", "DELETE", "/v1/messages/x1", 400, "invalid_id", NULL},
        {"limit 0", "GET", "/v1/messages?limit=0", 400, "invalid_parameter", NULL},
        {"limit too big", "GET", "/v1/messages?limit=1001", 400, "invalid_parameter", NULL},
        {"bad status", "GET", "/v1/messages?status=lost", 400, "invalid_parameter", NULL},
        {"bad since", "GET", "/v1/messages?since=yesterday", 400, "invalid_parameter", NULL},
        {"bad inbox since", "GET", "/v1/inbox?since=2026-13-01T00:00:00Z", 400,
         "invalid_parameter", NULL},
        {"events after -1", "GET", "/v1/events?after=-1", 400, "invalid_parameter", NULL},
        {"events after abc", "GET", "/v1/events?after=abc", 400, "invalid_parameter", NULL},
        {"events wait 1e3", "GET", "/v1/events?wait=1e3", 400, "invalid_parameter", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int st = http(f, cases[i].method, cases[i].path, NULL, NULL, &r);
        if (st != cases[i].status)
            fail_msg("%s: status %d, want %d (%s)", cases[i].name, st, cases[i].status, r.body);
        if (cases[i].code && (!err_code(&r) || strcmp(err_code(&r), cases[i].code) != 0))
            fail_msg("%s: code %s, want %s", cases[i].name, err_code(&r), cases[i].code);
        if (cases[i].allow &&
            (!hdr(&r, "Allow", v, sizeof(v)) || strcmp(v, cases[i].allow) != 0))
            fail_msg("%s: Allow %s, want %s", cases[i].name, v, cases[i].allow);
        resp_free(&r);
    }
    fx_stop(f);
}

static void test_body_limits(void **state)
{
    (void)state;
    struct fx *f = fx_start(NULL);
    struct resp r;
    /* 415: not JSON, JSON-like names that are not JSON, no type at all. */
    static const char *const types[] = {"text/plain", "application/jsonx",
                                        "application/x-www-form-urlencoded", NULL};
    for (size_t i = 0; i < 4; i++) {
        const char *ct = types[i];
        assert_int_equal(http_fd(unix_connect(f->sock), "POST", "/v1/messages", ct, OK_BODY,
                                 strlen(OK_BODY), NULL, &r),
                         415);
        assert_string_equal(err_code(&r), "unsupported_media_type");
        resp_free(&r);
    }
    /* 413 from Content-Length, before the body is read. */
    size_t big = 70 * 1024;
    char *b = malloc(big + 1);
    memset(b, ' ', big);
    b[0] = '{';
    b[big - 1] = '}';
    b[big] = '\0';
    assert_int_equal(http(f, "POST", "/v1/messages", b, NULL, &r), 413);
    assert_string_equal(err_code(&r), "body_too_large");
    resp_free(&r);
    /* 413 for a chunked body that grows over the cap. */
    size_t cap = 80 * 1024;
    char *raw = malloc(cap + 512);
    int n = snprintf(raw, 512,
                     "POST /v1/messages HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                     "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
    size_t off = (size_t)n;
    for (int i = 0; i < 17; i++) {
        off += (size_t)sprintf(raw + off, "1000\r\n");
        memset(raw + off, ' ', 4096);
        off += 4096;
        off += (size_t)sprintf(raw + off, "\r\n");
    }
    off += (size_t)sprintf(raw + off, "0\r\n\r\n");
    assert_int_equal(exchange(unix_connect(f->sock), raw, off, false, &r), 413);
    resp_free(&r);
    /* A chunked body under the cap is fine. */
    n = snprintf(raw, cap,
                 "POST /v1/messages HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                 "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "%zx\r\n%s\r\n0\r\n\r\n",
                 strlen(OK_BODY), OK_BODY);
    assert_int_equal(exchange(unix_connect(f->sock), raw, (size_t)n, false, &r), 202);
    resp_free(&r);
    free(raw);
    free(b);
    fx_stop(f);
}

/* ------------------------------------------------------------ submit and read */

static void test_submit_get_list(void **state)
{
    (void)state;
    struct fx *f = fx_start(NULL);
    struct resp r;
    char v[128];
    assert_int_equal(http(f, "POST", "/v1/messages",
                          "{\"to\":\"06 12 34 56 78\",\"text\":\"Colis livré à 14h\","
                          "\"priority\":\"urgent\",\"ttl\":600,\"status_report\":true,"
                          "\"smart_encoding\":false}",
                          NULL, &r),
                     202);
    int64_t id = jint(r.json, "id");
    assert_true(id > 0);
    assert_string_equal(jstr(r.json, "status"), "queued");
    assert_int_equal(jint(r.json, "parts"), 1);
    assert_string_equal(jstr(r.json, "encoding"), "gsm7");
    assert_non_null(hdr(&r, "Location", v, sizeof(v)));
    resp_free(&r);
    /* The committed row is there with its PDU, before we even read it back:
     * 202 came from the commit callback. */
    char path[64];
    snprintf(path, sizeof(path), "/v1/messages/%lld", (long long)id);
    assert_int_equal(http(f, "GET", path, NULL, NULL, &r), 200);
    assert_string_equal(jstr(r.json, "to"), "+33612345678");
    assert_string_equal(jstr(r.json, "text"), "Colis livré à 14h");
    assert_string_equal(jstr(r.json, "priority"), "urgent");
    assert_string_equal(jstr(r.json, "status"), "queued");
    assert_int_equal(jint(r.json, "ttl"), 600);
    assert_true(json_is_true(json_object_get(r.json, "status_report")));
    json_t *parts = json_object_get(r.json, "parts");
    assert_int_equal(json_array_size(parts), 1);
    assert_string_equal(jstr(json_array_get(parts, 0), "status"), "pending");
    assert_true(json_is_null(json_object_get(json_array_get(parts, 0), "mr")));
    json_t *hist = json_object_get(r.json, "history");
    assert_true(json_array_size(hist) >= 1);
    assert_string_equal(jstr(json_array_get(hist, 0), "to"), "queued");
    resp_free(&r);

    /* A long UCS-2 text: several parts. */
    char body[1024];
    char text[600];
    size_t tl = 0;
    for (int i = 0; i < 40; i++)
        tl += (size_t)snprintf(text + tl, sizeof(text) - tl, "Привет ");
    snprintf(body, sizeof(body), "{\"to\":\"+33612345679\",\"text\":\"%s\"}", text);
    assert_int_equal(http(f, "POST", "/v1/messages", body, NULL, &r), 202);
    assert_string_equal(jstr(r.json, "encoding"), "ucs2");
    assert_int_equal(jint(r.json, "parts"), 5);
    resp_free(&r);
    int64_t id3 = submit_ok(f, OK_BODY, NULL);

    /* Listing, filters and paging. */
    assert_int_equal(http(f, "GET", "/v1/messages", NULL, NULL, &r), 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "messages")), 3);
    assert_true(json_is_null(json_object_get(r.json, "next_after")));
    resp_free(&r);
    assert_int_equal(http(f, "GET", "/v1/messages?limit=2", NULL, NULL, &r), 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "messages")), 2);
    json_int_t next = jint(r.json, "next_after");
    resp_free(&r);
    snprintf(path, sizeof(path), "/v1/messages?limit=2&after=%lld", (long long)next);
    assert_int_equal(http(f, "GET", path, NULL, NULL, &r), 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "messages")), 1);
    assert_int_equal(jint(json_array_get(json_object_get(r.json, "messages"), 0), "id"), id3);
    resp_free(&r);
    assert_int_equal(http(f, "GET", "/v1/messages?status=canceled", NULL, NULL, &r), 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "messages")), 0);
    resp_free(&r);
    assert_int_equal(http(f, "GET", "/v1/messages?status=queued&since=2000-01-01T00:00:00Z",
                          NULL, NULL, &r),
                     200);
    assert_int_equal(json_array_size(json_object_get(r.json, "messages")), 3);
    resp_free(&r);
    assert_int_equal(http(f, "GET", "/v1/messages?since=4102444800000", NULL, NULL, &r), 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "messages")), 0);
    resp_free(&r);

    /* Write requests are logged with the peer's credentials. */
    char want[64];
    snprintf(want, sizeof(want), "uid=%ld pid=%ld", (long)getuid(), (long)getpid());
    FILE *lf = fopen(f->logpath, "r");
    char line[512];
    bool seen = false;
    while (fgets(line, sizeof(line), lf))
        if (strstr(line, "method=POST") && strstr(line, "status=202") && strstr(line, want) &&
            strstr(line, "to=+33*******78"))
            seen = true;
    fclose(lf);
    assert_true(seen);
    fx_stop(f);
}

static void test_idempotency(void **state)
{
    (void)state;
    struct fx *f = fx_start(NULL);
    struct resp r;
    const char *key = "Idempotency-Key: order-4711-otp\r\n";
    int64_t id = submit_ok(f, OK_BODY, key);
    /* Same key, same parameters: the original message, never a second one. */
    assert_int_equal(http(f, "POST", "/v1/messages", OK_BODY, key, &r), 202);
    assert_int_equal(jint(r.json, "id"), id);
    assert_true(json_is_true(json_object_get(r.json, "replayed")));
    resp_free(&r);
    /* Same key, other text: 409. */
    assert_int_equal(http(f, "POST", "/v1/messages",
                          "{\"to\":\"+33612345678\",\"text\":\"Your code is 999999\","
                          "\"priority\":\"otp\"}",
                          key, &r),
                     409);
    assert_string_equal(err_code(&r), "idempotency_conflict");
    assert_string_equal(err_field(&r), "idempotency_key");
    resp_free(&r);
    /* Same key twice in one group commit: still one message. */
    assert_int_equal(http(f, "GET", "/v1/messages", NULL, NULL, &r), 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "messages")), 1);
    resp_free(&r);
    /* A key over the cap. */
    char longkey[300];
    snprintf(longkey, sizeof(longkey), "Idempotency-Key: %0200d\r\n", 7);
    assert_int_equal(http(f, "POST", "/v1/messages", OK_BODY, longkey, &r), 400);
    assert_string_equal(err_code(&r), "invalid_idempotency_key");
    resp_free(&r);
    fx_stop(f);
}

struct sending_arg {
    int64_t id;
    int rc;
};

static void do_mark_sending(struct fx *f, void *arg)
{
    struct sending_arg *a = arg;
    struct queue_via via = {.modem = "m1", .iccid = "8933150319000000001"};
    a->rc = queue_mark_sending(f->q, a->id, &via, sg_clock_wall_ms(), NULL);
}

static void test_cancel(void **state)
{
    (void)state;
    struct fx *f = fx_start(NULL);
    struct resp r;
    char path[64];
    int64_t id = submit_ok(f, OK_BODY, NULL);
    snprintf(path, sizeof(path), "/v1/messages/%lld", (long long)id);
    assert_int_equal(http(f, "DELETE", path, NULL, NULL, &r), 200);
    assert_string_equal(jstr(r.json, "status"), "canceled");
    resp_free(&r);
    assert_int_equal(http(f, "GET", path, NULL, NULL, &r), 200);
    assert_string_equal(jstr(r.json, "status"), "canceled");
    resp_free(&r);
    /* Handed to a modem: too late. */
    struct sending_arg sa = {.id = submit_ok(f, OK_BODY, NULL)};
    on_loop(f, do_mark_sending, &sa);
    assert_int_equal(sa.rc, 0);
    snprintf(path, sizeof(path), "/v1/messages/%lld", (long long)sa.id);
    assert_int_equal(http(f, "DELETE", path, NULL, NULL, &r), 409);
    assert_string_equal(err_code(&r), "too_late");
    resp_free(&r);
    assert_int_equal(http(f, "GET", path, NULL, NULL, &r), 200);
    assert_string_equal(jstr(r.json, "status"), "sending");
    assert_string_equal(jstr(r.json, "modem"), "m1");
    resp_free(&r);
    fx_stop(f);
}

/* ------------------------------------------------------------ bad input */

static void test_bad_bodies(void **state)
{
    (void)state;
    struct fx *f = fx_start(NULL);
    char *longtext = malloc(9100), *manyparts = malloc(3100), *deep = malloc(20100);
    static const char head[] = "{\"to\":\"+33612345678\",\"text\":\"";
    snprintf(longtext, 9100, "%s%09000d\"}", head, 0);
    snprintf(manyparts, 3100, "%s%03000d\"}", head, 0);
    memset(deep, '[', 10000);
    memset(deep + 10000, ']', 10000);
    deep[20000] = '\0';
    const struct {
        const char *name, *body;
        const char *code, *field;
    } cases[] = {
        {"truncated object", "{", "malformed_json", NULL},
        {"array", "[]", "malformed_json", NULL},
        {"null", "null", "malformed_json", NULL},
        {"bare string", "\"hello\"", "malformed_json", NULL},
        {"trailing garbage", OK_BODY " x", "malformed_json", NULL},
        {"two objects", OK_BODY OK_BODY, "malformed_json", NULL},
        {"duplicate key", "{\"to\":\"+33612345678\",\"to\":\"+33612345679\",\"text\":\"a\"}",
         "malformed_json", NULL},
        {"single quotes", "{'to':'+33612345678','text':'a'}", "malformed_json", NULL},
        {"invalid UTF-8", "{\"to\":\"+33612345678\",\"text\":\"\xff\xfe\"}", "malformed_json",
         NULL},
        {"nested 10000 deep", deep, "malformed_json", NULL},
        {"number out of range", "{\"to\":\"+33612345678\",\"text\":\"a\",\"ttl\":1e400}",
         "malformed_json", NULL},
        {"no text", "{\"to\":\"+33612345678\"}", "missing_field", "text"},
        {"no to", "{\"text\":\"hi\"}", "missing_field", "to"},
        {"empty object", "{}", "missing_field", "to"},
        {"to as number", "{\"to\":33612345678,\"text\":\"hi\"}", "invalid_type", "to"},
        {"text as number", "{\"to\":\"+33612345678\",\"text\":5}", "invalid_type", "text"},
        {"text as null", "{\"to\":\"+33612345678\",\"text\":null}", "invalid_type", "text"},
        {"letters in to", "{\"to\":\"abc\",\"text\":\"hi\"}", "invalid_number", "to"},
        {"AT command in to", "{\"to\":\"+33612\\r\\nAT+CFUN=0\",\"text\":\"hi\"}",
         "invalid_number", "to"},
        {"Ctrl-Z in to", "{\"to\":\"+33612345678\\u001a\",\"text\":\"hi\"}", "invalid_number",
         "to"},
        {"quote in to", "{\"to\":\"+33612\\\"345678\",\"text\":\"hi\"}", "invalid_number", "to"},
        {"NUL in to", "{\"to\":\"+336123\\u00004567\",\"text\":\"hi\"}", "invalid_number", "to"},
        {"empty to", "{\"to\":\"\",\"text\":\"hi\"}", "invalid_number", "to"},
        {"too many digits", "{\"to\":\"+3361234567812345678\",\"text\":\"hi\"}",
         "invalid_number", "to"},
        {"to over the buffer", "{\"to\":\"+336123456781234567812345678123456789\",\"text\":\"a\"}",
         "invalid_number", "to"},
        {"two plus signs", "{\"to\":\"++33612345678\",\"text\":\"hi\"}", "invalid_number", "to"},
        {"unknown priority", "{\"to\":\"+33612345678\",\"text\":\"hi\",\"priority\":\"high\"}",
         "invalid_priority", "priority"},
        {"empty text", "{\"to\":\"+33612345678\",\"text\":\"\"}", "invalid_text", "text"},
        {"empty priority", "{\"to\":\"+33612345678\",\"text\":\"hi\",\"priority\":\"\"}",
         "invalid_priority", "priority"},
        {"priority in capitals", "{\"to\":\"+33612345678\",\"text\":\"hi\",\"priority\":\"OTP\"}",
         "invalid_priority", "priority"},
        {"priority as number", "{\"to\":\"+33612345678\",\"text\":\"hi\",\"priority\":3}",
         "invalid_type", "priority"},
        {"priority with NUL",
         "{\"to\":\"+33612345678\",\"text\":\"hi\",\"priority\":\"otp\\u0000x\"}",
         "invalid_priority", "priority"},
        {"ttl 0", "{\"to\":\"+33612345678\",\"text\":\"hi\",\"ttl\":0}", "invalid_ttl", "ttl"},
        {"ttl negative", "{\"to\":\"+33612345678\",\"text\":\"hi\",\"ttl\":-5}", "invalid_ttl",
         "ttl"},
        {"ttl fraction", "{\"to\":\"+33612345678\",\"text\":\"hi\",\"ttl\":1.5}", "invalid_ttl",
         "ttl"},
        {"ttl as string", "{\"to\":\"+33612345678\",\"text\":\"hi\",\"ttl\":\"60\"}",
         "invalid_type", "ttl"},
        {"ttl a year", "{\"to\":\"+33612345678\",\"text\":\"hi\",\"ttl\":31536000}",
         "invalid_ttl", "ttl"},
        {"ttl huge", "{\"to\":\"+33612345678\",\"text\":\"hi\",\"ttl\":99999999999}",
         "invalid_ttl", "ttl"},
        {"status_report yes",
         "{\"to\":\"+33612345678\",\"text\":\"hi\",\"status_report\":\"yes\"}", "invalid_type",
         "status_report"},
        {"smart_encoding 1", "{\"to\":\"+33612345678\",\"text\":\"hi\",\"smart_encoding\":1}",
         "invalid_type", "smart_encoding"},
        {"unknown field", "{\"to\":\"+33612345678\",\"text\":\"hi\",\"from\":\"x\"}",
         "unknown_field", NULL},
        {"case matters", "{\"to\":\"+33612345678\",\"text\":\"hi\",\"TO\":\"x\"}",
         "unknown_field", NULL},
        {"NUL in text", "{\"to\":\"+33612345678\",\"text\":\"a\\u0000b\"}", "invalid_text",
         "text"},
        {"text over 8 KiB", longtext, "text_too_long", "text"},
        {"text over 10 parts", manyparts, "text_too_long", "text"},
    };
    struct resp r;
    size_t ncases = sizeof(cases) / sizeof(cases[0]);
    for (size_t i = 0; i < ncases; i++) {
        int st = http(f, "POST", "/v1/messages", cases[i].body, NULL, &r);
        if (st != 400)
            fail_msg("%s: status %d (%s)", cases[i].name, st, r.body);
        if (!err_code(&r) || strcmp(err_code(&r), cases[i].code) != 0)
            fail_msg("%s: code %s, want %s (%s)", cases[i].name, err_code(&r), cases[i].code,
                     r.body);
        if (cases[i].field && (!err_field(&r) || strcmp(err_field(&r), cases[i].field) != 0))
            fail_msg("%s: field %s, want %s", cases[i].name, err_field(&r), cases[i].field);
        assert_non_null(jstr(json_object_get(r.json, "error"), "message"));
        resp_free(&r);
    }
    /* Empty body. */
    assert_int_equal(http_fd(unix_connect(f->sock), "POST", "/v1/messages", "application/json",
                             "", 0, NULL, &r),
                     400);
    assert_string_equal(err_code(&r), "malformed_json");
    resp_free(&r);
    /* Nothing was stored by any of them. */
    assert_int_equal(http(f, "GET", "/v1/messages", NULL, NULL, &r), 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "messages")), 0);
    resp_free(&r);
    free(longtext);
    free(manyparts);
    free(deep);
    fx_stop(f);
}

/* Deterministic mutations of a valid body (byte flips, truncations,
 * insertions of JSON punctuation): every answer is 202 or a 400 with an
 * error object, and ASan sees the whole decode path. */
static void test_mutated_bodies(void **state)
{
    (void)state;
    struct fx *f = fx_start(NULL);
    static const char base[] = "{\"to\":\"+33612345678\",\"text\":\"Code 4711\",\"priority\":"
                               "\"otp\",\"ttl\":300,\"status_report\":true}";
    static const char punct[] = "{}[]\",:\\0e-+.\x01\xc3\xff tn";
    uint32_t rnd = 12345;
    int accepted = 0, refused = 0;
    for (int i = 0; i < 400; i++) {
        char body[256];
        size_t len = sizeof(base) - 1;
        memcpy(body, base, len + 1);
        int edits = 1 + (int)(i % 4);
        for (int e = 0; e < edits; e++) {
            rnd = rnd * 1103515245u + 12345u;
            size_t pos = (rnd >> 8) % len;
            char ch = punct[(rnd >> 20) % (sizeof(punct) - 1)];
            switch ((rnd >> 16) % 3) {
            case 0:
                body[pos] = ch;
                break;
            case 1:
                len = pos + 1; /* truncate */
                break;
            default:
                if (len + 1 < sizeof(body)) {
                    memmove(body + pos + 1, body + pos, len - pos);
                    body[pos] = ch;
                    len++;
                }
            }
            body[len] = '\0';
        }
        struct resp r;
        int st = http_fd(unix_connect(f->sock), "POST", "/v1/messages", "application/json", body,
                         len, NULL, &r);
        if (st == 202)
            accepted++;
        else if (st == 400 && err_code(&r))
            refused++;
        else
            fail_msg("mutation %d (%.*s): %d %s", i, (int)len, body, st, r.body ? r.body : "");
        resp_free(&r);
    }
    print_message("mutated bodies: %d accepted, %d refused\n", accepted, refused);
    assert_true(refused > 200);
    fx_stop(f);
}

/* Garbage at the HTTP level: the answer may be anything or nothing, but the
 * server must keep serving. */
static void test_garbage_then_serving(void **state)
{
    (void)state;
    /* libmicrohttpd 0.9.75 in external epoll mode does not notice a client's
     * half-close that arrives with a partial request: such a connection
     * lives until the idle timeout, kept short here. */
    struct api_opts o = {.conn_timeout_s = 2};
    struct fx *f = fx_start(&o);
    char *longurl = malloc(120000), *longhdr = malloc(120000);
    snprintf(longurl, 120000, "GET /v1/messages?a=%0100000d HTTP/1.1\r\nHost: x\r\n\r\n", 0);
    snprintf(longhdr, 120000, "GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Big: %0100000d\r\n\r\n",
             0);
    static const char bin[] = "\x00\x01\x02\xff\xfe\r\n\r\n\x1a\x1b";
    const struct {
        const char *name;
        const char *raw;
        size_t len;
    } g[] = {
        {"garbage line", "GARBAGE\r\n\r\n", 0},
        {"no Host on 1.1", "GET /v1/health HTTP/1.1\r\n\r\n", 0},
        {"binary", bin, sizeof(bin) - 1},
        {"HTTP/9.9", "GET /v1/health HTTP/9.9\r\nHost: x\r\n\r\n", 0},
        {"lower-case method", "get /v1/health HTTP/1.1\r\nHost: x\r\n\r\n", 0},
        {"100 KB URL", longurl, 0},
        {"100 KB header", longhdr, 0},
        {"short body then EOF",
         "POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
         "Content-Length: 100\r\n\r\n{",
         0},
        {"negative length",
         "POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
         "Content-Length: -1\r\n\r\n{}",
         0},
        {"length abc",
         "POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
         "Content-Length: abc\r\n\r\n{}",
         0},
        {"bad chunk size",
         "POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
         "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
         0},
        {"length and chunked",
         "POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
         "Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
         0},
        {"header without colon", "GET /v1/health HTTP/1.1\r\nHost: x\r\nBroken\r\n\r\n", 0},
        {"path traversal", "GET /v1/messages/../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n", 0},
        {"percent NUL", "GET /v1/messages/1%00 HTTP/1.1\r\nHost: x\r\n\r\n", 0},
        {"CRLF in path", "GET /v1/health%0d%0aX: y HTTP/1.1\r\nHost: x\r\n\r\n", 0},
        {"bare LF", "GET /v1/health HTTP/1.1\nHost: x\n\n", 0},
        {"only CRLFs", "\r\n\r\n\r\n\r\n", 0},
        {"request line only", "GET /v1/health", 0},
        {"space storm", "GET      /v1/health     HTTP/1.1\r\nHost: x\r\n\r\n", 0},
        {"absolute URI", "GET http://evil/v1/health HTTP/1.1\r\nHost: x\r\n\r\n", 0},
        {"CONNECT", "CONNECT evil:443 HTTP/1.1\r\nHost: evil\r\n\r\n", 0},
        {"OPTIONS *", "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", 0},
        {"expect continue then nothing",
         "POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
         "Content-Length: 10\r\nExpect: 100-continue\r\n\r\n",
         0},
        {"pipelined garbage",
         "GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\nXYZ\r\n\r\nGET / HTTP/1.1\r\n\r\n", 0},
        {"HTTP/0.9", "GET /v1/health\r\n", 0},
    };
    size_t n = sizeof(g) / sizeof(g[0]);
    struct resp r;
    for (size_t i = 0; i < n; i++) {
        size_t len = g[i].len ? g[i].len : strlen(g[i].raw);
        int st = exchange(unix_connect(f->sock), g[i].raw, len, true, &r);
        if (getenv("API_TEST_DEBUG"))
            fprintf(stderr, "garbage %s: %d in %.2fs\n", g[i].name, st, r.secs);
        if (st < 0 || st == 202 || (st >= 500 && st != 505) || r.secs > 5)
            fail_msg("%s: status %d after %.1f s", g[i].name, st, r.secs);
        resp_free(&r);
        /* A connection that is dropped mid-request. */
        int fd = unix_connect(f->sock);
        assert_true(fd >= 0);
        if (send(fd, g[i].raw, len / 2, MSG_NOSIGNAL) < 0)
            fail_msg("send");
        close(fd);
    }
    /* Still serving, and still accepting. */
    assert_int_equal(http(f, "GET", "/v1/health", NULL, NULL, &r), 200);
    resp_free(&r);
    submit_ok(f, OK_BODY, NULL);
    free(longurl);
    free(longhdr);
    fx_stop(f);
}

/* What reaches the modem comes only from the codec: control characters,
 * quotes and AT text in a message body end up as hex PDUs, never raw. */
struct pdu_check {
    int64_t id;
    int bad;
    int parts;
};

static int pdu_cb(void *ud, const struct store_part *p)
{
    struct pdu_check *c = ud;
    c->parts++;
    if (!p->pdu[0] || strspn(p->pdu, "0123456789ABCDEF") != strlen(p->pdu))
        c->bad++;
    return 0;
}

static void do_check_pdus(struct fx *f, void *arg)
{
    struct pdu_check *c = arg;
    store_parts(f->st, c->id, pdu_cb, c, NULL);
}

static void test_injection_texts(void **state)
{
    (void)state;
    struct fx *f = fx_start(NULL);
    static const char *const texts[] = {
        "line1\\r\\nAT+CFUN=0\\r\\n", "code\\u001a", "esc\\u001b[2J", "quote \\\" and '",
        "AT+CMGS=\\\"+33612345678\\\"\\r", "\\u001a\\u001a\\u001a", "\\r\\r\\r",
    };
    struct resp r;
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        char body[256];
        snprintf(body, sizeof(body), "{\"to\":\"+33612345678\",\"text\":\"%s\"}", texts[i]);
        int st = http(f, "POST", "/v1/messages", body, NULL, &r);
        if (st == 202) {
            struct pdu_check c = {.id = jint(r.json, "id")};
            on_loop(f, do_check_pdus, &c);
            assert_true(c.parts >= 1);
            assert_int_equal(c.bad, 0);
        } else if (st != 400) {
            fail_msg("text %s: %d", texts[i], st);
        }
        resp_free(&r);
    }
    fx_stop(f);
}

/* ------------------------------------------------------------ 503, 429 */

static void do_fail_next(struct fx *f, void *arg)
{
    (void)arg;
    store_test_fail_at(f->st, 1, STORE_FAULT_IOERR, true);
}

static void do_fail_off(struct fx *f, void *arg)
{
    (void)arg;
    store_test_fail_at(f->st, 0, STORE_FAULT_IOERR, false);
}

static void test_store_unavailable(void **state)
{
    (void)state;
    struct fx *f = fx_start(NULL);
    struct resp r;
    char v[32];
    on_loop(f, do_fail_next, NULL);
    assert_int_equal(http(f, "POST", "/v1/messages", OK_BODY, NULL, &r), 503);
    assert_string_equal(err_code(&r), "unavailable");
    assert_non_null(hdr(&r, "Retry-After", v, sizeof(v)));
    resp_free(&r);
    assert_int_equal(http(f, "GET", "/v1/messages/1", NULL, NULL, &r), 503);
    resp_free(&r);
    assert_int_equal(http(f, "GET", "/v1/health", NULL, NULL, &r), 503);
    assert_non_null(strstr(r.body, "store"));
    resp_free(&r);
    on_loop(f, do_fail_off, NULL);
    /* Nothing half-committed; the next accept works. */
    assert_int_equal(http(f, "GET", "/v1/messages", NULL, NULL, &r), 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "messages")), 0);
    resp_free(&r);
    submit_ok(f, OK_BODY, NULL);
    fx_stop(f);
}

static void test_rate_limits(void **state)
{
    (void)state;
    /* A request refused for its destination still counts for its client. */
    struct api_opts o = {.client_limit = {.rate_per_min = 4}, .dest_limit = {.rate_per_min = 2}};
    struct fx *f = fx_start(&o);
    struct resp r;
    char v[32];
    submit_ok(f, OK_BODY, NULL);
    /* Same destination in another spelling counts for the same number. */
    submit_ok(f, "{\"to\":\"0612345678\",\"text\":\"again\"}", NULL);
    assert_int_equal(http(f, "POST", "/v1/messages", OK_BODY, NULL, &r), 429);
    assert_string_equal(err_code(&r), "rate_limited");
    assert_non_null(hdr(&r, "Retry-After", v, sizeof(v)));
    long ra = strtol(v, NULL, 10);
    assert_true(ra >= 1 && ra <= 30);
    assert_non_null(strstr(r.body, "destination"));
    resp_free(&r);
    /* Another destination is fine... until the client's own limit. */
    submit_ok(f, "{\"to\":\"+447700900123\",\"text\":\"hello\"}", NULL);
    assert_int_equal(http(f, "POST", "/v1/messages", "{\"to\":\"+4915112345678\",\"text\":\"x\"}",
                          NULL, &r),
                     429);
    assert_non_null(strstr(r.body, "client"));
    assert_non_null(hdr(&r, "Retry-After", v, sizeof(v)));
    resp_free(&r);
    /* Reads are not limited. */
    assert_int_equal(http(f, "GET", "/v1/messages", NULL, NULL, &r), 200);
    resp_free(&r);
    assert_int_equal(http(f, "GET", "/metrics", NULL, NULL, &r), 200);
    assert_non_null(strstr(r.body, "simgate_api_rate_limited_total 2"));
    resp_free(&r);
    fx_stop(f);
}

/* ------------------------------------------------------------ events */

struct poll_arg {
    struct fx *f;
    char path[96];
    struct resp r;
};

static void *poll_thread(void *p)
{
    struct poll_arg *a = p;
    http(a->f, "GET", a->path, NULL, NULL, &a->r);
    return NULL;
}

static void do_count_waiters(struct fx *f, void *arg)
{
    *(size_t *)arg = api_waiters(f->api);
}

static void wait_for_waiters(struct fx *f, size_t n)
{
    size_t got = 0;
    for (int i = 0; i < 500; i++) {
        on_loop(f, do_count_waiters, &got);
        if (got == n)
            return;
        usleep(10000);
    }
    fail_msg("waiters %zu, want %zu", got, n);
}

static void test_events_long_poll(void **state)
{
    (void)state;
    struct api_opts o = {.waiters_max = 2, .wait_max_s = 30};
    struct fx *f = fx_start(&o);
    struct resp r;
    int64_t id = submit_ok(f, OK_BODY, NULL);
    assert_int_equal(http(f, "GET", "/v1/events?after=0", NULL, NULL, &r), 200);
    json_t *ev = json_object_get(r.json, "events");
    assert_int_equal(json_array_size(ev), 1);
    assert_string_equal(jstr(json_array_get(ev, 0), "type"), "message.state");
    assert_int_equal(jint(json_array_get(ev, 0), "message_id"), id);
    assert_true(json_is_object(json_object_get(json_array_get(ev, 0), "data")));
    json_int_t last = jint(r.json, "last_seq");
    assert_true(last > 0);
    resp_free(&r);
    /* Nothing new, no wait: an empty page with the same cursor. */
    char path[96];
    snprintf(path, sizeof(path), "/v1/events?after=%lld", (long long)last);
    assert_int_equal(http(f, "GET", path, NULL, NULL, &r), 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "events")), 0);
    assert_int_equal(jint(r.json, "last_seq"), last);
    resp_free(&r);

    /* Two long-polls wait; a third is refused (cap 2); a submit wakes both. */
    struct poll_arg p1 = {.f = f}, p2 = {.f = f};
    snprintf(p1.path, sizeof(p1.path), "/v1/events?after=%lld&wait=25", (long long)last);
    snprintf(p2.path, sizeof(p2.path), "/v1/events?after=%lld&wait=25&limit=5", (long long)last);
    pthread_t t1, t2;
    double t0 = mono_s();
    pthread_create(&t1, NULL, poll_thread, &p1);
    pthread_create(&t2, NULL, poll_thread, &p2);
    wait_for_waiters(f, 2);
    snprintf(path, sizeof(path), "/v1/events?after=%lld&wait=25", (long long)last);
    assert_int_equal(http(f, "GET", path, NULL, NULL, &r), 429);
    assert_string_equal(err_code(&r), "too_many_waiters");
    resp_free(&r);
    int64_t id2 = submit_ok(f, "{\"to\":\"+33612345670\",\"text\":\"wake up\"}", NULL);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    assert_true(mono_s() - t0 < 10);
    struct poll_arg *ps[] = {&p1, &p2};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(ps[i]->r.status, 200);
        ev = json_object_get(ps[i]->r.json, "events");
        assert_int_equal(json_array_size(ev), 1);
        assert_int_equal(jint(json_array_get(ev, 0), "message_id"), id2);
        assert_true(jint(ps[i]->r.json, "last_seq") > last);
        resp_free(&ps[i]->r);
    }
    wait_for_waiters(f, 0);

    /* A cancel is an event too: it wakes a waiter. */
    struct poll_arg p3 = {.f = f};
    assert_int_equal(http(f, "GET", "/v1/events?after=0&limit=1000", NULL, NULL, &r), 200);
    last = jint(r.json, "last_seq");
    resp_free(&r);
    snprintf(p3.path, sizeof(p3.path), "/v1/events?after=%lld&wait=25", (long long)last);
    pthread_create(&t1, NULL, poll_thread, &p3);
    wait_for_waiters(f, 1);
    snprintf(path, sizeof(path), "/v1/messages/%lld", (long long)id);
    assert_int_equal(http(f, "DELETE", path, NULL, NULL, &r), 200);
    resp_free(&r);
    pthread_join(t1, NULL);
    assert_int_equal(p3.r.status, 200);
    ev = json_object_get(p3.r.json, "events");
    assert_int_equal(json_array_size(ev), 1);
    assert_non_null(strstr(p3.r.body, "canceled"));
    resp_free(&p3.r);

    /* Deadline: an empty answer after about `wait` seconds. */
    assert_int_equal(http(f, "GET", "/v1/events?after=0&limit=1000", NULL, NULL, &r), 200);
    last = jint(r.json, "last_seq");
    resp_free(&r);
    snprintf(path, sizeof(path), "/v1/events?after=%lld&wait=1", (long long)last);
    assert_int_equal(http(f, "GET", path, NULL, NULL, &r), 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "events")), 0);
    assert_true(r.secs >= 0.9 && r.secs < 5);
    resp_free(&r);

    /* A long-poll still waiting at shutdown gets an answer. */
    struct poll_arg p4 = {.f = f};
    snprintf(p4.path, sizeof(p4.path), "/v1/events?after=%lld&wait=25", (long long)last);
    pthread_create(&t1, NULL, poll_thread, &p4);
    wait_for_waiters(f, 1);
    fx_stop(f);
    pthread_join(t1, NULL);
    assert_int_equal(p4.r.status, 200);
    resp_free(&p4.r);
}

/* ------------------------------------------------------------ modems, SIMs, health, metrics */

static void do_no_ready(struct fx *f, void *arg)
{
    (void)arg;
    f->modems[0].ready = false;
    snprintf(f->modems[0].state, sizeof(f->modems[0].state), "failed");
}

static void do_put_sim(struct fx *f, void *arg)
{
    (void)arg;
    struct store_sim s = {.breaker_state = 1, .sent_day = 12, .consec_failures = 5};
    snprintf(s.iccid, sizeof(s.iccid), "8933150319000000001");
    snprintf(s.label, sizeof(s.label), "orange-1");
    assert_int_equal(store_sim_put(f->st, &s, sg_clock_wall_ms(), NULL), 0);
}

static void test_status_endpoints(void **state)
{
    (void)state;
    struct fx *f = fx_start(NULL);
    struct resp r;
    submit_ok(f, OK_BODY, NULL);
    assert_int_equal(http(f, "GET", "/v1/modems", NULL, NULL, &r), 200);
    json_t *m = json_object_get(r.json, "modems");
    assert_int_equal(json_array_size(m), 2);
    assert_string_equal(jstr(json_array_get(m, 0), "id"), "m1");
    assert_int_equal(jint(json_array_get(m, 0), "signal_dbm"), -71);
    assert_true(json_is_null(json_object_get(json_array_get(m, 1), "signal_dbm")));
    assert_string_equal(jstr(json_array_get(m, 1), "last_error"), "no answer to AT");
    resp_free(&r);

    assert_int_equal(http(f, "GET", "/v1/health", NULL, NULL, &r), 200);
    assert_string_equal(jstr(r.json, "status"), "ok");
    assert_int_equal(jint(r.json, "modems_ready"), 1);
    resp_free(&r);
    on_loop(f, do_no_ready, NULL);
    assert_int_equal(http(f, "GET", "/v1/health", NULL, NULL, &r), 503);
    assert_string_equal(jstr(r.json, "status"), "unavailable");
    json_t *reasons = json_object_get(r.json, "reasons");
    assert_int_equal(json_array_size(reasons), 2);
    assert_non_null(strstr(json_string_value(json_array_get(reasons, 1)), "no answer to AT"));
    resp_free(&r);

    on_loop(f, do_put_sim, NULL);
    assert_int_equal(http(f, "GET", "/v1/sims", NULL, NULL, &r), 200);
    json_t *s = json_array_get(json_object_get(r.json, "sims"), 0);
    assert_string_equal(jstr(s, "iccid"), "8933150319000000001");
    assert_string_equal(jstr(s, "label"), "orange-1");
    assert_string_equal(jstr(s, "breaker"), "open");
    assert_int_equal(jint(s, "sent_today"), 12);
    resp_free(&r);

    assert_int_equal(http(f, "GET", "/metrics", NULL, NULL, &r), 200);
    char v[128];
    assert_non_null(hdr(&r, "Content-Type", v, sizeof(v)));
    assert_non_null(strstr(v, "text/plain"));
    static const char *const want[] = {
        "simgate_messages{state=\"queued\"} 1\n",
        "simgate_queue_depth{priority=\"otp\"} 1\n",
        "simgate_queue_depth{priority=\"bulk\"} 0\n",
        "simgate_modem_state{modem=\"m2\",state=\"recovering\"} 1\n",
        "simgate_modem_signal_dbm{modem=\"m1\"} -71\n",
        "simgate_sim_breaker_open{iccid=\"8933150319000000001\"} 1\n",
        "simgate_api_responses_total{code=\"202\"} 1\n",
        "# TYPE simgate_messages gauge\n",
        "simgate_test_extra{sim=\"x\"} 7\n",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        if (!strstr(r.body, want[i]))
            fail_msg("metrics lack %s", want[i]);
    resp_free(&r);
    assert_int_equal(http(f, "GET", "/v1/inbox", NULL, NULL, &r), 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "messages")), 0);
    resp_free(&r);
    fx_stop(f);
}

static void do_inbound(struct fx *f, void *arg)
{
    (void)arg;
    struct store_inbound in = {.concat_ref = -1, .concat_total = 1, .concat_seq = 1,
                               .complete = STORE_IN_COMPLETE};
    snprintf(in.from, sizeof(in.from), "+33698765432");
    snprintf(in.text, sizeof(in.text), "STOP");
    snprintf(in.dedupe, sizeof(in.dedupe), "abc");
    in.received_at = 1795880400000;
    assert_int_equal(store_inbound_add(f->st, &in, "{\"from\":\"+33698765432\"}",
                                       in.received_at, NULL, NULL),
                     0);
}

static void test_inbox(void **state)
{
    (void)state;
    struct fx *f = fx_start(NULL);
    struct resp r;
    on_loop(f, do_inbound, NULL);
    assert_int_equal(http(f, "GET", "/v1/inbox?since=2026-11-22T00:00:00Z", NULL, NULL, &r), 200);
    json_t *m = json_array_get(json_object_get(r.json, "messages"), 0);
    assert_non_null(m);
    assert_string_equal(jstr(m, "from"), "+33698765432");
    assert_string_equal(jstr(m, "text"), "STOP");
    assert_string_equal(jstr(m, "received_at"), "2026-11-28T15:40:00.000Z");
    resp_free(&r);
    assert_int_equal(http(f, "GET", "/v1/inbox?since=2027-01-01T00:00:00Z", NULL, NULL, &r), 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "messages")), 0);
    resp_free(&r);
    assert_int_equal(http(f, "GET", "/v1/events", NULL, NULL, &r), 200);
    assert_non_null(strstr(r.body, "\"type\":\"inbound\""));
    resp_free(&r);
    fx_stop(f);
}

/* ------------------------------------------------------------ TCP */

static void test_tcp_bearer(void **state)
{
    (void)state;
    static const char *const tokens[] = {"another-token-that-is-long", TOKEN};
    struct api_opts o = {.tcp_listen = "127.0.0.1:0", .tokens = tokens, .ntokens = 2};
    struct fx *f = fx_start(&o);
    int port = 0;
    struct resp r;
    char v[64];
    port = api_tcp_port(f->api);
    assert_true(port > 0);
    static const struct {
        const char *name, *auth;
        int status;
    } cases[] = {
        {"no header", NULL, 401},
        {"wrong token", "Authorization: Bearer 0123456789abcdef-secret-tokeX\r\n", 401},
        {"prefix of the token", "Authorization: Bearer 0123456789abcdef\r\n", 401},
        {"token plus a byte", "Authorization: Bearer " TOKEN "x\r\n", 401},
        {"basic scheme", "Authorization: Basic " TOKEN "\r\n", 401},
        {"right token", "Authorization: Bearer " TOKEN "\r\n", 200},
        {"scheme case", "Authorization: bearer " TOKEN "\r\n", 200},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int st = http_fd(tcp_connect(port), "GET", "/v1/modems", NULL, NULL, 0, cases[i].auth, &r);
        if (st != cases[i].status)
            fail_msg("%s: %d", cases[i].name, st);
        if (st == 401) {
            assert_string_equal(err_code(&r), "unauthorized");
            assert_non_null(hdr(&r, "WWW-Authenticate", v, sizeof(v)));
        }
        resp_free(&r);
    }
    /* Unauthenticated callers learn nothing, not even which paths exist. */
    assert_int_equal(http_fd(tcp_connect(port), "GET", "/nope", NULL, NULL, 0, NULL, &r), 401);
    resp_free(&r);
    assert_int_equal(http_fd(tcp_connect(port), "POST", "/v1/messages", "application/json",
                             OK_BODY, strlen(OK_BODY), "Authorization: Bearer " TOKEN "\r\n", &r),
                     202);
    resp_free(&r);
    /* The Unix socket needs no token. */
    assert_int_equal(http(f, "GET", "/v1/modems", NULL, NULL, &r), 200);
    resp_free(&r);
    fx_stop(f);

    /* Refused configurations. */
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct api_http *h = NULL;
    static const struct api_route none[] = {{.method = "GET", .pattern = "/x"}};
    static const char *const shorttok[] = {"short"};
    struct api_http_opts ho = {.socket_path = "/tmp/sg-api-never.sock", .routes = none,
                               .nroutes = 1, .tcp_listen = "127.0.0.1:0"};
    struct sg_err err;
    assert_int_equal(api_http_new(&loop, &ho, &h, &err), -EINVAL);
    ho.tokens = shorttok;
    ho.ntokens = 1;
    assert_int_equal(api_http_new(&loop, &ho, &h, &err), -EINVAL);
    uv_loop_close(&loop);
}

/* ------------------------------------------------------------ throughput, keep-alive */

struct burst {
    struct fx *f;
    int n, ok;
};

static void *burst_thread(void *p)
{
    struct burst *b = p;
    for (int i = 0; i < b->n; i++) {
        struct resp r;
        char body[128];
        snprintf(body, sizeof(body), "{\"to\":\"+336%08d\",\"text\":\"bulk %d\",\"priority\":\"bulk\"}",
                 (int)(((uintptr_t)p >> 4) % 1000) * 1000 + i, i);
        int st = http(b->f, "POST", "/v1/messages", body, NULL, &r);
        if (st == 202)
            b->ok++;
        if (getenv("API_TEST_DEBUG") && (st != 202 || r.secs > 0.2))
            fprintf(stderr, "burst: %d in %.3f s %s\n", st, r.secs, r.body ? r.body : "");
        resp_free(&r);
    }
    return NULL;
}

static void do_counts(struct fx *f, void *arg)
{
    long *out = arg;
    out[0] = f->flushes;
    out[1] = f->committed;
}

/* Eight clients submitting at once: every one gets its 202 after a durable
 * commit, and commits are shared (fewer flushes than messages). Prints the
 * rate (an ASan build: the release build is faster). */
static void test_concurrent_accepts(void **state)
{
    (void)state;
    struct fx *f = fx_start(NULL);
    enum { CLIENTS = 8, EACH = 60 };
    struct burst b[CLIENTS];
    pthread_t t[CLIENTS];
    double t0 = mono_s();
    for (int i = 0; i < CLIENTS; i++) {
        b[i] = (struct burst){.f = f, .n = EACH};
        pthread_create(&t[i], NULL, burst_thread, &b[i]);
    }
    int ok = 0;
    for (int i = 0; i < CLIENTS; i++) {
        pthread_join(t[i], NULL);
        ok += b[i].ok;
    }
    double secs = mono_s() - t0;
    long c[2];
    on_loop(f, do_counts, c);
    print_message("accepts: %d in %.2f s = %.0f/s over %ld group commits (ASan build)\n", ok, secs,
                  ok / secs, c[0]);
    if (ok != CLIENTS * EACH && getenv("API_TEST_DEBUG")) {
        char cmd[200];
        snprintf(cmd, sizeof(cmd), "grep -v 'status=202' %s | tail -30 >&2", f->logpath);
        if (system(cmd) != 0)
            fprintf(stderr, "no log\n");
    }
    assert_int_equal(ok, CLIENTS * EACH);
    assert_int_equal(c[1], CLIENTS * EACH);
    assert_true(c[0] <= c[1]);
    struct resp r;
    assert_int_equal(http(f, "GET", "/metrics", NULL, NULL, &r), 200);
    assert_non_null(strstr(r.body, "simgate_queue_depth{priority=\"bulk\"} 480\n"));
    resp_free(&r);
    fx_stop(f);
}

static void test_keep_alive(void **state)
{
    (void)state;
    struct fx *f = fx_start(NULL);
    /* Two requests on one connection, the second one closing it. */
    char raw[512];
    int n = snprintf(raw, sizeof(raw),
                     "POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n\r\n%s"
                     "GET /v1/messages/1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                     strlen(OK_BODY), OK_BODY);
    struct resp r;
    assert_int_equal(exchange(unix_connect(f->sock), raw, (size_t)n, false, &r), 202);
    const char *body = r.body ? r.body : "";
    assert_non_null(strstr(body, "HTTP/1.1 200"));
    assert_non_null(strstr(body, "\"text\":\"Your code is 123456\""));
    resp_free(&r);
    fx_stop(f);
}

static void test_socket_group(void **state)
{
    (void)state;
    struct group *g = getgrgid(getgid());
    if (!g) {
        skip();
        return;
    }
    char name[64];
    snprintf(name, sizeof(name), "%s", g->gr_name);
    struct api_opts o = {.socket_group = name, .socket_mode = 0620};
    struct fx *f = fx_start(&o);
    struct stat st;
    assert_int_equal(stat(f->sock, &st), 0);
    assert_int_equal(st.st_gid, getgid());
    assert_int_equal(st.st_mode & 0777, 0620);
    fx_stop(f);
    /* An unknown group is an error at start, not a silently wider socket. */
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct api_http *h = NULL;
    static const struct api_route none[] = {{.method = "GET", .pattern = "/x"}};
    struct api_http_opts ho = {.socket_path = "/tmp/sg-api-nogroup.sock", .routes = none,
                               .nroutes = 1, .socket_group = "no-such-group-simgate"};
    struct sg_err err;
    assert_int_equal(api_http_new(&loop, &ho, &h, &err), -ENOENT);
    uv_loop_close(&loop);
}

struct cbuf {
    char data[4096];
    size_t len;
};

static size_t cbuf_write(char *p, size_t sz, size_t n, void *ud)
{
    struct cbuf *b = ud;
    size_t k = sz * n;
    if (b->len + k >= sizeof(b->data))
        k = sizeof(b->data) - b->len - 1;
    memcpy(b->data + b->len, p, k);
    b->len += k;
    b->data[b->len] = '\0';
    return sz * n;
}

/* libcurl with CURLOPT_UNIX_SOCKET_PATH, as `curl --unix-socket` and most
 * backends would talk to the socket: keep-alive reuse, a POST with
 * Idempotency-Key, and a DELETE. */
static void test_libcurl_client(void **state)
{
    (void)state;
    struct fx *f = fx_start(NULL);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    struct cbuf b = {0};
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    h = curl_slist_append(h, "Idempotency-Key: curl-1");
    curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, f->sock);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, cbuf_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_URL, "http://localhost/v1/messages");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, OK_BODY);
    long code = 0;
    for (int i = 0; i < 2; i++) {
        b.len = 0;
        assert_int_equal(curl_easy_perform(c), CURLE_OK);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        assert_int_equal(code, 202);
        assert_non_null(strstr(b.data, "\"id\":1"));
    }
    assert_non_null(strstr(b.data, "\"replayed\":true"));
    long conns = -1;
    curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &conns);
    assert_int_equal(conns, 0); /* the second request reused the connection */
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(c, CURLOPT_URL, "http://localhost/v1/messages/1");
    b.len = 0;
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    assert_int_equal(code, 200);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "DELETE");
    b.len = 0;
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    assert_int_equal(code, 200);
    assert_non_null(strstr(b.data, "canceled"));
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    fx_stop(f);
}

/* Peer uid allow-list: our own uid always passes; a listed uid passes; any
 * other uid gets 403 even though the file mode let it connect. The refusal
 * needs a second user: as root, a child process becomes `nobody`. */
static void test_peer_uids(void **state)
{
    (void)state;
    uid_t listed = 4242;
    struct api_opts o = {.uids = &listed, .nuids = 1, .socket_mode = 0666};
    struct fx *f = fx_start(&o);
    struct resp r;
    assert_int_equal(http(f, "GET", "/v1/modems", NULL, NULL, &r), 200);
    resp_free(&r);
    if (geteuid() != 0) {
        fx_stop(f);
        skip();
        return;
    }
    assert_int_equal(chmod(f->dir, 0711), 0); /* mkdtemp's 0700 would stop nobody first */
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    pid_t pid = fork();
    if (pid == 0) {
        int st = -1;
        if (setgid(65534) == 0 && setuid(65534) == 0) {
            struct resp cr;
            st = http(f, "POST", "/v1/messages", OK_BODY, NULL, &cr);
            free(cr.body);
        }
        if (write(pfd[1], &st, sizeof(st)) != sizeof(st))
            _exit(2);
        _exit(0);
    }
    int st = 0;
    assert_int_equal(read(pfd[0], &st, sizeof(st)), sizeof(st));
    waitpid(pid, NULL, 0);
    close(pfd[0]);
    close(pfd[1]);
    assert_int_equal(st, 403);
    /* Nothing was accepted from it. */
    assert_int_equal(http(f, "GET", "/v1/messages", NULL, NULL, &r), 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "messages")), 0);
    resp_free(&r);
    fx_stop(f);
}

/* A crowd just over the connection limit (128), all closing at once: the
 * next request is served at once. (The MHD 0.9.75 stall this guards against,
 * the listen socket left out of epoll after the limit, shows reliably only
 * in a bare MHD loop; here it is a regression check of the whole path.) */
static void test_over_connection_limit(void **state)
{
    (void)state;
    struct fx *f = fx_start(NULL);
    enum { N = 130 }; /* just over the limit: MHD drops its listen socket from epoll */
    int fds[N];
    int n = 0;
    for (int i = 0; i < N; i++) {
        for (int tries = 0; tries < 100; tries++) {
            int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
            struct sockaddr_un sa = {.sun_family = AF_UNIX};
            snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->sock);
            if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
                fds[n++] = fd;
                break;
            }
            close(fd); /* backlog full for a moment: the loop is accepting */
            usleep(10000);
        }
    }
    usleep(300000);
    for (int i = 0; i < n; i++)
        close(fds[i]);
    print_message("crowd: %d connected\n", n);
    assert_int_equal(n, N);
    struct resp r;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(http(f, "GET", "/v1/modems", NULL, NULL, &r), 200);
        assert_true(r.secs < 2);
        resp_free(&r);
    }
    fx_stop(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_helpers),
        cmocka_unit_test(test_socket_file),
        cmocka_unit_test(test_routing_errors),
        cmocka_unit_test(test_body_limits),
        cmocka_unit_test(test_submit_get_list),
        cmocka_unit_test(test_idempotency),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_bad_bodies),
        cmocka_unit_test(test_mutated_bodies),
        cmocka_unit_test(test_garbage_then_serving),
        cmocka_unit_test(test_injection_texts),
        cmocka_unit_test(test_store_unavailable),
        cmocka_unit_test(test_rate_limits),
        cmocka_unit_test(test_events_long_poll),
        cmocka_unit_test(test_status_endpoints),
        cmocka_unit_test(test_inbox),
        cmocka_unit_test(test_tcp_bearer),
        cmocka_unit_test(test_concurrent_accepts),
        cmocka_unit_test(test_keep_alive),
        cmocka_unit_test(test_socket_group),
        cmocka_unit_test(test_libcurl_client),
        cmocka_unit_test(test_peer_uids),
        cmocka_unit_test(test_over_connection_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
