/*
 * firmware/webhook on a REAL libuv loop, a REAL store in a mkdtemp
 * directory (events appended with store_event_append, the store's event
 * hook calling webhook_notify), and a REAL HTTP/1.1 receiver on 127.0.0.1
 * written here as a libuv TCP server on the same loop. The receiver
 * follows a script (answer 200, answer 500, or hang without answering)
 * and records every request it parsed.
 *
 * Time: backoff bases, timeouts and the give-up window are milliseconds
 * here; the loop runs until a condition holds, bounded by a guard timer, so
 * no test sleeps longer than the behaviour needs.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>
#include <uv.h>

#include "firmware/log.h"
#include "firmware/store.h"
#include "firmware/webhook.h"

#define SECRET   "whsec_test_0123456789abcdefghij"
#define GUARD_MS 5000 /* a condition not reached by then fails the test */

/* ------------------------------------------------------------ receiver */

enum rx_act { RX_OK = 0, RX_FAIL, RX_HANG };

#define RX_REQ_MAX    256
#define RX_SCRIPT_MAX 32
#define RX_CONN_BUF   (512 * 1024)

struct rx_req {
    int64_t seq_hdr; /* X-Simgate-Event-Seq, -1 missing */
    char sig[256];   /* X-Simgate-Signature */
    char ctype[64];  /* Content-Type */
    char *body;
    size_t len;
    int status; /* answer sent, 0 when hung */
};

struct rx;

struct rx_conn {
    uv_tcp_t h; /* first member: the handle casts back */
    struct rx *rx;
    char *buf;
    size_t len;
    bool hung;
    bool closing;
    struct rx_conn *next;
};

struct rx {
    uv_loop_t *loop;
    uv_tcp_t srv;
    bool listening;
    int port;
    enum rx_act script[RX_SCRIPT_MAX];
    size_t nscript, used;
    enum rx_act dflt;
    struct rx_req req[RX_REQ_MAX];
    size_t n;
    struct rx_conn *conns;
};

struct rx_write {
    uv_write_t w;
    char data[128];
};

static void rx_on_write(uv_write_t *w, int status)
{
    (void)status;
    free(w);
}

static void rx_conn_closed(uv_handle_t *h)
{
    struct rx_conn *c = (struct rx_conn *)(void *)h;
    free(c->buf);
    free(c);
}

static void rx_conn_close(struct rx_conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    struct rx_conn **pp = &c->rx->conns;
    while (*pp && *pp != c)
        pp = &(*pp)->next;
    if (*pp)
        *pp = c->next;
    uv_close((uv_handle_t *)&c->h, rx_conn_closed);
}

static void rx_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct rx_conn *c = (struct rx_conn *)(void *)h;
    (void)suggested;
    buf->base = c->buf + c->len;
    buf->len = RX_CONN_BUF - c->len;
}

static const char *hdr_value(const char *line, const char *name)
{
    size_t n = strlen(name);
    if (strncasecmp(line, name, n) != 0 || line[n] != ':')
        return NULL;
    line += n + 1;
    while (*line == ' ')
        line++;
    return line;
}

/* Parses every complete request in the buffer; answers per the script. */
static void rx_parse(struct rx_conn *c)
{
    struct rx *rx = c->rx;
    for (;;) {
        char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
        if (!end || c->hung)
            return;
        size_t hlen = (size_t)(end - c->buf) + 4;
        struct rx_req r = {.seq_hdr = -1};
        size_t cl = 0;
        char *line = c->buf;
        while (line < end) {
            char *eol = memmem(line, (size_t)(end + 2 - line), "\r\n", 2);
            *eol = '\0';
            const char *v;
            if ((v = hdr_value(line, "Content-Length")))
                cl = strtoul(v, NULL, 10);
            else if ((v = hdr_value(line, "X-Simgate-Signature")))
                snprintf(r.sig, sizeof r.sig, "%s", v);
            else if ((v = hdr_value(line, "X-Simgate-Event-Seq")))
                r.seq_hdr = strtoll(v, NULL, 10);
            else if ((v = hdr_value(line, "Content-Type")))
                snprintf(r.ctype, sizeof r.ctype, "%s", v);
            line = eol + 2;
        }
        if (c->len < hlen + cl) {
            /* body not complete yet: undo the NULs we wrote into the header */
            for (char *p = c->buf; p < end; p++)
                if (*p == '\0')
                    *p = '\r';
            return;
        }
        r.body = malloc(cl + 1);
        assert_non_null(r.body);
        memcpy(r.body, c->buf + hlen, cl);
        r.body[cl] = '\0';
        r.len = cl;
        enum rx_act act = rx->used < rx->nscript ? rx->script[rx->used] : rx->dflt;
        rx->used++;
        if (act == RX_HANG) {
            c->hung = true;
        } else {
            struct rx_write *w = calloc(1, sizeof *w);
            assert_non_null(w);
            r.status = act == RX_OK ? 200 : 500;
            int n =
                snprintf(w->data, sizeof w->data, "HTTP/1.1 %d %s\r\nContent-Length: 2\r\n\r\nok",
                         r.status, act == RX_OK ? "OK" : "Internal Server Error");
            uv_buf_t b = uv_buf_init(w->data, (unsigned)n);
            assert_int_equal(uv_write(&w->w, (uv_stream_t *)&c->h, &b, 1, rx_on_write), 0);
        }
        assert_true(rx->n < RX_REQ_MAX);
        rx->req[rx->n++] = r;
        memmove(c->buf, c->buf + hlen + cl, c->len - hlen - cl);
        c->len -= hlen + cl;
    }
}

static void rx_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct rx_conn *c = (struct rx_conn *)(void *)s;
    (void)buf;
    if (nread < 0) {
        rx_conn_close(c);
        return;
    }
    c->len += (size_t)nread;
    rx_parse(c);
}

static void rx_on_conn(uv_stream_t *srv, int status)
{
    struct rx *rx = srv->data;
    assert_int_equal(status, 0);
    struct rx_conn *c = calloc(1, sizeof *c);
    assert_non_null(c);
    c->buf = malloc(RX_CONN_BUF);
    assert_non_null(c->buf);
    c->rx = rx;
    uv_tcp_init(rx->loop, &c->h);
    assert_int_equal(uv_accept(srv, (uv_stream_t *)&c->h), 0);
    c->next = rx->conns;
    rx->conns = c;
    uv_read_start((uv_stream_t *)&c->h, rx_alloc, rx_on_read);
}

/* A port nothing listens on (bound, read, released). */
static int free_port(void)
{
    int port = 0;
    uv_loop_t l;
    uv_tcp_t t;
    struct sockaddr_in a;
    struct sockaddr_storage got;
    int len = sizeof got;
    uv_loop_init(&l);
    uv_tcp_init(&l, &t);
    uv_ip4_addr("127.0.0.1", 0, &a);
    assert_int_equal(uv_tcp_bind(&t, (const struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_tcp_getsockname(&t, (struct sockaddr *)&got, &len), 0);
    port = ntohs(((struct sockaddr_in *)&got)->sin_port);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&l, UV_RUN_DEFAULT);
    uv_loop_close(&l);
    return port;
}

/* Listens on 127.0.0.1:port (0 = any free port). */
static void rx_listen(struct rx *rx, int port)
{
    struct sockaddr_in a;
    uv_tcp_init(rx->loop, &rx->srv);
    rx->srv.data = rx;
    uv_ip4_addr("127.0.0.1", port, &a);
    assert_int_equal(uv_tcp_bind(&rx->srv, (const struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&rx->srv, 16, rx_on_conn), 0);
    struct sockaddr_storage got;
    int len = sizeof got;
    assert_int_equal(uv_tcp_getsockname(&rx->srv, (struct sockaddr *)&got, &len), 0);
    rx->port = ntohs(((struct sockaddr_in *)&got)->sin_port);
    rx->listening = true;
}

static void rx_close(struct rx *rx)
{
    while (rx->conns)
        rx_conn_close(rx->conns);
    if (rx->listening)
        uv_close((uv_handle_t *)&rx->srv, NULL);
    rx->listening = false;
    for (size_t i = 0; i < rx->n; i++)
        free(rx->req[i].body);
    rx->n = 0;
}

static void rx_script(struct rx *rx, enum rx_act dflt, size_t n, const enum rx_act *acts)
{
    assert_true(n <= RX_SCRIPT_MAX);
    if (n)
        memcpy(rx->script, acts, n * sizeof *acts);
    rx->nscript = n;
    rx->used = 0;
    rx->dflt = dflt;
}

/* ------------------------------------------------------------ fixture */

struct fx {
    char dir[64];
    uv_loop_t loop;
    struct store *st;
    struct webhook *w;
    struct sglog log;
    FILE *logf;
    struct rx rx;
    char url[2][128];
    const char *urlp[2];
    bool guard_fired;
    uv_timer_t guard;
};

static void on_events(void *ud, int64_t last_seq)
{
    struct fx *fx = ud;
    webhook_notify(fx->w, last_seq); /* NULL while "the daemon is down" */
}

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof *fx);
    struct sg_err err;
    assert_non_null(fx);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/sg-webhook-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    assert_int_equal(uv_loop_init(&fx->loop), 0);
    assert_int_equal(store_open(&fx->st, fx->dir, NULL, &err), 0);
    store_set_event_hook(fx->st, on_events, fx);
    fx->logf = tmpfile();
    assert_non_null(fx->logf);
    fx->log.level = LOG_LVL_DEBUG;
    fx->log.sink = LOG_SINK_STDERR;
    fx->log.out = fx->logf;
    fx->rx.loop = &fx->loop;
    *state = fx;
    return 0;
}

static void rm_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[512];
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

/* Frees the webhook and lets the loop run its close callbacks. */
static void wh_stop(struct fx *fx)
{
    webhook_free(fx->w);
    fx->w = NULL;
    uv_run(&fx->loop, UV_RUN_NOWAIT);
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    wh_stop(fx);
    rx_close(&fx->rx);
    uv_run(&fx->loop, UV_RUN_DEFAULT);
    /* Every handle closed: webhook_free left nothing behind on the loop. */
    assert_int_equal(uv_loop_close(&fx->loop), 0);
    store_close(fx->st);
    fclose(fx->logf);
    rm_dir(fx->dir);
    free(fx);
    return 0;
}

static void url_for(struct fx *fx, int i, int port)
{
    snprintf(fx->url[i], sizeof fx->url[i], "http://127.0.0.1:%d/hooks/simgate?token=t0ps3cret",
             port);
}

static struct webhook_opts opts_ms(struct fx *fx, unsigned nurls)
{
    fx->urlp[0] = fx->url[0];
    fx->urlp[1] = fx->url[1];
    struct webhook_opts o = {
        .urls = fx->urlp,
        .nurls = nurls,
        .secret = SECRET,
        .timeout_ms = 2000,
        .backoff_base_ms = 10,
        .backoff_cap_ms = 40,
        .max_age_ms = 60000,
    };
    return o;
}

static void wh_start(struct fx *fx, const struct webhook_opts *o)
{
    struct sg_err err;
    int rc = webhook_new(&fx->loop, fx->st, &fx->log, o, fx->dir, &fx->w, &err);
    if (rc)
        fail_msg("webhook_new: %d %s", rc, err.msg);
}

static int64_t append(struct fx *fx, int64_t msg_id, int i)
{
    char json[64];
    int64_t seq = 0;
    struct sg_err err;
    snprintf(json, sizeof json, "{\"state\":\"sent\",\"i\":%d}", i);
    assert_int_equal(store_event_append(fx->st, msg_id ? "message.state" : "modem.state", msg_id,
                                        json, sg_clock_wall_ms(), &seq, &err),
                     0);
    return seq;
}

static struct webhook_stats stats(struct fx *fx, unsigned i)
{
    struct webhook_stats s;
    assert_int_equal(webhook_stats(fx->w, i, &s), 0);
    return s;
}

static void on_guard(uv_timer_t *h)
{
    struct fx *fx = h->data;
    fx->guard_fired = true;
}

typedef bool (*cond_fn)(struct fx *fx, int64_t arg);

/* Runs the loop until cond holds; fails after GUARD_MS. */
static void run_until(struct fx *fx, cond_fn cond, int64_t arg, const char *what)
{
    fx->guard_fired = false;
    uv_timer_init(&fx->loop, &fx->guard);
    fx->guard.data = fx;
    uv_timer_start(&fx->guard, on_guard, GUARD_MS, 0);
    while (!cond(fx, arg) && !fx->guard_fired)
        uv_run(&fx->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&fx->guard, NULL);
    uv_run(&fx->loop, UV_RUN_NOWAIT);
    if (!cond(fx, arg))
        fail_msg("timed out waiting for %s", what);
}

static bool c_delivered(struct fx *fx, int64_t n)
{
    return stats(fx, 0).delivered >= (uint64_t)n;
}
static bool c_failed(struct fx *fx, int64_t n)
{
    return stats(fx, 0).failed_attempts >= (uint64_t)n;
}
static bool c_skipped(struct fx *fx, int64_t n)
{
    return stats(fx, 0).skipped >= (uint64_t)n;
}
static bool c_requests(struct fx *fx, int64_t n)
{
    return fx->rx.n >= (size_t)n;
}

/* Runs the loop for ms more: shows that nothing else arrives meanwhile. */
static void run_for(struct fx *fx, uint64_t ms)
{
    fx->guard_fired = false;
    uv_timer_init(&fx->loop, &fx->guard);
    fx->guard.data = fx;
    uv_timer_start(&fx->guard, on_guard, ms, 0);
    while (!fx->guard_fired)
        uv_run(&fx->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&fx->guard, NULL);
    uv_run(&fx->loop, UV_RUN_NOWAIT);
}

static int64_t body_seq(const struct rx_req *r)
{
    json_t *j = json_loads(r->body, 0, NULL);
    assert_non_null(j);
    int64_t seq = json_integer_value(json_object_get(j, "seq"));
    json_decref(j);
    return seq;
}

/* Seqs of the requests answered 200, in arrival order. */
static size_t acked_seqs(const struct fx *fx, int64_t *out, size_t max)
{
    size_t k = 0;
    for (size_t i = 0; i < fx->rx.n && k < max; i++)
        if (fx->rx.req[i].status == 200)
            out[k++] = body_seq(&fx->rx.req[i]);
    return k;
}

static void assert_acked(const struct fx *fx, int64_t first, int64_t last)
{
    int64_t seqs[RX_REQ_MAX];
    size_t k = acked_seqs(fx, seqs, RX_REQ_MAX);
    if (k != (size_t)(last - first + 1))
        fail_msg("%zu events acknowledged, expected %" PRId64, k, last - first + 1);
    for (size_t i = 0; i < k; i++)
        if (seqs[i] != first + (int64_t)i)
            fail_msg("ack #%zu is seq %" PRId64 ", expected %" PRId64, i, seqs[i],
                     first + (int64_t)i);
}

static char *log_text(struct fx *fx)
{
    fflush(fx->logf);
    long n = ftell(fx->logf);
    char *s = calloc(1, (size_t)n + 1);
    assert_non_null(s);
    rewind(fx->logf);
    assert_int_equal(fread(s, 1, (size_t)n, fx->logf), (size_t)n);
    fseek(fx->logf, 0, SEEK_END);
    return s;
}

static char *read_cursor(struct fx *fx, char *buf, size_t n)
{
    DIR *d = opendir(fx->dir);
    struct dirent *e;
    char p[512];
    buf[0] = '\0';
    while (d && (e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (strncmp(e->d_name, "webhook-", 8) != 0 || l < 7 ||
            strcmp(e->d_name + l - 7, ".cursor") != 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", fx->dir, e->d_name);
        FILE *f = fopen(p, "r");
        assert_non_null(f);
        size_t r = fread(buf, 1, n - 1, f);
        buf[r] = '\0';
        fclose(f);
    }
    if (d)
        closedir(d);
    return buf;
}

/* ------------------------------------------------------------ tests */

/* The receiver recomputes the HMAC from the raw bytes it got, with
 * libsodium's one-shot API over "<t>.<body>" (not webhook_sign). */
static void test_signature_verifies_at_receiver(void **state)
{
    struct fx *fx = *state;
    rx_listen(&fx->rx, 0);
    url_for(fx, 0, fx->rx.port);
    struct webhook_opts o = opts_ms(fx, 1);
    wh_start(fx, &o);
    append(fx, 7, 1);
    append(fx, 0, 2);
    run_until(fx, c_delivered, 2, "2 deliveries");
    assert_int_equal(fx->rx.n, 2);
    int64_t now_s = sg_clock_wall_ms() / 1000;
    for (size_t i = 0; i < 2; i++) {
        const struct rx_req *r = &fx->rx.req[i];
        /* "t=<digits>,v1=<64 hex>" */
        assert_memory_equal(r->sig, "t=", 2);
        char *end = NULL;
        long long t = strtoll(r->sig + 2, &end, 10);
        assert_non_null(end);
        assert_memory_equal(end, ",v1=", 4);
        const char *v1 = end + 4;
        assert_true(t >= now_s - 5 && t <= now_s + 1);
        assert_int_equal(strlen(v1), 64);
        char signed_text[1024];
        int n = snprintf(signed_text, sizeof signed_text, "%lld.%s", t, r->body);
        crypto_auth_hmacsha256_state hs;
        unsigned char mac[32];
        char hex[65];
        crypto_auth_hmacsha256_init(&hs, (const unsigned char *)SECRET, strlen(SECRET));
        crypto_auth_hmacsha256_update(&hs, (const unsigned char *)signed_text, (size_t)n);
        crypto_auth_hmacsha256_final(&hs, mac);
        sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
        assert_string_equal(v1, hex);
        /* One flipped byte of the body no longer verifies. */
        signed_text[n - 2] ^= 1;
        crypto_auth_hmacsha256_init(&hs, (const unsigned char *)SECRET, strlen(SECRET));
        crypto_auth_hmacsha256_update(&hs, (const unsigned char *)signed_text, (size_t)n);
        crypto_auth_hmacsha256_final(&hs, mac);
        sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
        assert_string_not_equal(v1, hex);

        assert_string_equal(r->ctype, "application/json");
        assert_int_equal(r->seq_hdr, (int64_t)i + 1);
        json_t *j = json_loads(r->body, 0, NULL);
        assert_non_null(j);
        assert_int_equal(json_integer_value(json_object_get(j, "seq")), i + 1);
        assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "data"), "i")),
                         i + 1);
        const char *at = json_string_value(json_object_get(j, "at"));
        assert_non_null(at);
        assert_int_equal(strlen(at), 24); /* 2026-11-22T15:40:00.123Z */
        assert_int_equal(at[23], 'Z');
        if (i == 0) {
            assert_string_equal(json_string_value(json_object_get(j, "type")), "message.state");
            assert_int_equal(json_integer_value(json_object_get(j, "message_id")), 7);
        } else {
            assert_string_equal(json_string_value(json_object_get(j, "type")), "modem.state");
            assert_true(json_is_null(json_object_get(j, "message_id")));
        }
        json_decref(j);
    }
    /* Neither the secret nor the URL (its query carries a token) is logged. */
    char *lt = log_text(fx);
    assert_null(strstr(lt, SECRET));
    assert_null(strstr(lt, "t0ps3cret"));
    assert_non_null(strstr(lt, "host=127.0.0.1"));
    free(lt);
}

/* 40 events over 4 messages, half appended in one transaction (one hook
 * call for 20 events): every one arrives once, in seq order. */
static void test_order_by_seq(void **state)
{
    struct fx *fx = *state;
    struct sg_err err;
    rx_listen(&fx->rx, 0);
    url_for(fx, 0, fx->rx.port);
    struct webhook_opts o = opts_ms(fx, 1);
    wh_start(fx, &o);
    for (int i = 1; i <= 20; i++)
        append(fx, 1 + i % 4, i);
    assert_int_equal(store_begin(fx->st, &err), 0);
    for (int i = 21; i <= 40; i++)
        append(fx, 1 + i % 4, i);
    assert_int_equal(store_commit(fx->st, &err), 0);
    run_until(fx, c_delivered, 40, "40 deliveries");
    assert_acked(fx, 1, 40);
    assert_int_equal(fx->rx.n, 40);
    struct webhook_stats s = stats(fx, 0);
    assert_int_equal(s.cursor, 40);
    assert_int_equal(s.backlog, 0);
    assert_int_equal(s.failed_attempts, 0);
    assert_false(s.in_flight);
    char buf[32];
    assert_string_equal(read_cursor(fx, buf, sizeof buf), "40\n");
}

/* Receiver answers 500 twice, then 200: seq 1 is tried three times and
 * acknowledged once; seq 2 only goes after it. */
static void test_500_twice_then_200(void **state)
{
    struct fx *fx = *state;
    static const enum rx_act acts[] = {RX_FAIL, RX_FAIL};
    rx_listen(&fx->rx, 0);
    rx_script(&fx->rx, RX_OK, 2, acts);
    url_for(fx, 0, fx->rx.port);
    struct webhook_opts o = opts_ms(fx, 1);
    wh_start(fx, &o);
    append(fx, 1, 1);
    append(fx, 1, 2);
    run_until(fx, c_delivered, 2, "2 deliveries");
    assert_int_equal(fx->rx.n, 4);
    static const int64_t want_seq[] = {1, 1, 1, 2};
    static const int want_status[] = {500, 500, 200, 200};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(body_seq(&fx->rx.req[i]), want_seq[i]);
        assert_int_equal(fx->rx.req[i].status, want_status[i]);
    }
    struct webhook_stats s = stats(fx, 0);
    assert_int_equal(s.failed_attempts, 2);
    assert_int_equal(s.delivered, 2);
    assert_int_equal(s.skipped, 0);
    assert_int_equal(s.last_status, 200);
    /* The failures were logged with the status and the retry delay. */
    char *lt = log_text(fx);
    assert_non_null(strstr(
        lt, "event=webhook.attempt_failed target=0 host=127.0.0.1 seq=1 attempt=2 status=500"));
    free(lt);
}

/* Nothing listens (connection refused), then the receiver comes up on
 * that port: the backlog drains in order, each event once. */
static void test_receiver_down_then_up(void **state)
{
    struct fx *fx = *state;
    int port = free_port();
    url_for(fx, 0, port);
    struct webhook_opts o = opts_ms(fx, 1);
    wh_start(fx, &o);
    append(fx, 3, 1);
    append(fx, 3, 2);
    append(fx, 4, 3);
    run_until(fx, c_failed, 3, "3 refused connections");
    struct webhook_stats s = stats(fx, 0);
    assert_int_equal(s.delivered, 0);
    assert_int_equal(s.backlog, 3);
    assert_int_equal(s.cursor, 0);
    assert_int_equal(s.last_curl, CURLE_COULDNT_CONNECT);
    rx_listen(&fx->rx, port);
    run_until(fx, c_delivered, 3, "3 deliveries");
    assert_acked(fx, 1, 3);
    assert_int_equal(fx->rx.n, 3);
    assert_int_equal(stats(fx, 0).backlog, 0);
}

/* The receiver reads the request and never answers: the per-request
 * timeout (150 ms here) fails the attempt, the retry succeeds. */
static void test_per_request_timeout(void **state)
{
    struct fx *fx = *state;
    static const enum rx_act acts[] = {RX_HANG};
    rx_listen(&fx->rx, 0);
    rx_script(&fx->rx, RX_OK, 1, acts);
    url_for(fx, 0, fx->rx.port);
    struct webhook_opts o = opts_ms(fx, 1);
    o.timeout_ms = 150;
    wh_start(fx, &o);
    sg_ms t0 = sg_clock_mono_ms();
    append(fx, 1, 1);
    run_until(fx, c_delivered, 1, "1 delivery");
    sg_ms took = sg_clock_mono_ms() - t0;
    assert_true(took >= 150);
    assert_true(took < 2000); /* not the 2 s default of opts_ms, nor 10 s */
    struct webhook_stats s = stats(fx, 0);
    assert_int_equal(s.failed_attempts, 1);
    assert_int_equal(s.last_curl, CURLE_OPERATION_TIMEDOUT);
    assert_int_equal(fx->rx.n, 2);
    assert_int_equal(fx->rx.req[0].status, 0);
    assert_acked(fx, 1, 1);
}

/* Receiver always 500, give-up window 250 ms: the event is skipped with a
 * warn line and the counter, and the next event still goes. */
static void test_give_up_after_max_age(void **state)
{
    struct fx *fx = *state;
    rx_listen(&fx->rx, 0);
    rx_script(&fx->rx, RX_FAIL, 0, NULL);
    url_for(fx, 0, fx->rx.port);
    struct webhook_opts o = opts_ms(fx, 1);
    o.backoff_base_ms = 20;
    o.backoff_cap_ms = 40;
    o.max_age_ms = 250;
    wh_start(fx, &o);
    sg_ms t0 = sg_clock_mono_ms();
    append(fx, 1, 1);
    run_until(fx, c_skipped, 1, "a skip");
    sg_ms took = sg_clock_mono_ms() - t0;
    assert_true(took < 2000); /* near the 250 ms window, not at the 5 s guard */
    struct webhook_stats s = stats(fx, 0);
    assert_int_equal(s.delivered, 0);
    assert_int_equal(s.cursor, 1);
    assert_true(s.failed_attempts >= 3);
    assert_int_equal(s.failed_attempts, fx->rx.n);
    char *lt = log_text(fx);
    assert_non_null(strstr(lt, " warn event=webhook.skipped target=0 host=127.0.0.1 seq=1"));
    assert_non_null(strstr(lt, "reason=max_age"));
    free(lt);
    char buf[32];
    assert_string_equal(read_cursor(fx, buf, sizeof buf), "1\n");

    rx_script(&fx->rx, RX_OK, 0, NULL);
    append(fx, 1, 2);
    run_until(fx, c_delivered, 1, "1 delivery");
    assert_acked(fx, 2, 2);
    assert_int_equal(stats(fx, 0).skipped, 1);
}

/* Three events acknowledged; the daemon stops; two more are appended
 * while it is down; a new webhook on the same store and state dir sends
 * only those two. */
static void test_restart_resumes_from_cursor(void **state)
{
    struct fx *fx = *state;
    rx_listen(&fx->rx, 0);
    url_for(fx, 0, fx->rx.port);
    struct webhook_opts o = opts_ms(fx, 1);
    wh_start(fx, &o);
    for (int i = 1; i <= 3; i++)
        append(fx, 1, i);
    run_until(fx, c_delivered, 3, "3 deliveries");
    wh_stop(fx);
    append(fx, 2, 4);
    append(fx, 2, 5);
    assert_int_equal(fx->rx.n, 3);

    wh_start(fx, &o);
    struct webhook_stats s = stats(fx, 0);
    assert_int_equal(s.cursor, 3);
    assert_int_equal(s.backlog, 2);
    run_until(fx, c_delivered, 2, "2 deliveries after the restart");
    run_for(fx, 50);
    assert_acked(fx, 1, 5);
    assert_int_equal(fx->rx.n, 5);
}

/* Stopped with a request in flight (the receiver hangs): the transfer is
 * cancelled cleanly (teardown checks every handle closed) and that one
 * event is sent again after the restart, then nothing twice. */
static void test_stop_in_flight_resends_that_event_once(void **state)
{
    struct fx *fx = *state;
    static const enum rx_act acts[] = {RX_OK, RX_HANG};
    rx_listen(&fx->rx, 0);
    rx_script(&fx->rx, RX_OK, 2, acts);
    url_for(fx, 0, fx->rx.port);
    struct webhook_opts o = opts_ms(fx, 1);
    wh_start(fx, &o);
    append(fx, 1, 1);
    append(fx, 1, 2);
    run_until(fx, c_requests, 2, "2 requests");
    assert_true(stats(fx, 0).in_flight);
    wh_stop(fx);
    uv_run(&fx->loop, UV_RUN_NOWAIT);
    wh_start(fx, &o);
    assert_int_equal(stats(fx, 0).cursor, 1);
    run_until(fx, c_delivered, 1, "the in-flight event again");
    run_for(fx, 50);
    assert_int_equal(fx->rx.n, 3);
    assert_int_equal(body_seq(&fx->rx.req[1]), 2);
    assert_int_equal(fx->rx.req[1].status, 0);
    assert_acked(fx, 1, 2);
}

static bool c_second_target_delivered(struct fx *fx, int64_t n)
{
    return stats(fx, 1).delivered >= (uint64_t)n;
}

/* Target 0 is down, target 1 is up: target 1 gets everything at once,
 * target 0's backlog waits for it without holding target 1 back. */
static void test_targets_are_independent(void **state)
{
    struct fx *fx = *state;
    rx_listen(&fx->rx, 0);
    url_for(fx, 0, free_port());
    url_for(fx, 1, fx->rx.port);
    struct webhook_opts o = opts_ms(fx, 2);
    wh_start(fx, &o);
    assert_int_equal(webhook_count(fx->w), 2);
    for (int i = 1; i <= 5; i++)
        append(fx, 9, i);
    run_until(fx, c_second_target_delivered, 5, "5 deliveries to target 1");
    assert_acked(fx, 1, 5);
    struct webhook_stats s0 = stats(fx, 0), s1 = stats(fx, 1);
    assert_int_equal(s0.delivered, 0);
    assert_int_equal(s0.backlog, 5);
    assert_int_equal(s1.backlog, 0);
    struct webhook_stats none;
    assert_int_equal(webhook_stats(fx->w, 2, &none), -ENOENT);
}

/* A new target starts at the end of the log; start_at_oldest replays it. */
static void test_new_target_start_point(void **state)
{
    struct fx *fx = *state;
    rx_listen(&fx->rx, 0);
    for (int i = 1; i <= 3; i++)
        append(fx, 1, i);
    url_for(fx, 0, fx->rx.port);
    struct webhook_opts o = opts_ms(fx, 1);
    wh_start(fx, &o);
    assert_int_equal(stats(fx, 0).cursor, 3);
    append(fx, 1, 4);
    run_until(fx, c_delivered, 1, "1 delivery");
    run_for(fx, 30);
    assert_acked(fx, 4, 4);
    wh_stop(fx);
    rx_close(&fx->rx);
    uv_run(&fx->loop, UV_RUN_NOWAIT); /* the server handle's close completes */

    /* Another URL = another target; this one asks for the whole log. */
    rx_listen(&fx->rx, 0);
    url_for(fx, 0, fx->rx.port);
    o = opts_ms(fx, 1);
    o.start_at_oldest = true;
    wh_start(fx, &o);
    run_until(fx, c_delivered, 4, "4 deliveries");
    assert_acked(fx, 1, 4);
}

/* A cursor file that cannot be parsed: warn, replay the retained log
 * (duplicates beat loss). */
static void test_corrupt_cursor_replays_log(void **state)
{
    struct fx *fx = *state;
    rx_listen(&fx->rx, 0);
    url_for(fx, 0, fx->rx.port);
    struct webhook_opts o = opts_ms(fx, 1);
    wh_start(fx, &o);
    append(fx, 1, 1);
    append(fx, 1, 2);
    run_until(fx, c_delivered, 2, "2 deliveries");
    wh_stop(fx);
    DIR *d = opendir(fx->dir);
    struct dirent *e;
    int found = 0;
    assert_non_null(d);
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "webhook-", 8) != 0)
            continue;
        char p[512];
        snprintf(p, sizeof p, "%s/%s", fx->dir, e->d_name);
        FILE *f = fopen(p, "w");
        assert_non_null(f);
        fputs("12abc\n", f);
        fclose(f);
        found++;
    }
    closedir(d);
    assert_int_equal(found, 1); /* no temp file left behind */
    wh_start(fx, &o);
    run_until(fx, c_delivered, 2, "2 re-deliveries");
    assert_int_equal(fx->rx.n, 4);
    char *lt = log_text(fx);
    assert_non_null(strstr(lt, "event=webhook.cursor_unreadable"));
    free(lt);
}

/* An event whose body is over WEBHOOK_BODY_MAX is skipped; the next goes. */
static void test_body_over_cap_is_skipped(void **state)
{
    struct fx *fx = *state;
    struct sg_err err;
    rx_listen(&fx->rx, 0);
    url_for(fx, 0, fx->rx.port);
    struct webhook_opts o = opts_ms(fx, 1);
    wh_start(fx, &o);
    size_t n = WEBHOOK_BODY_MAX + 100;
    char *xs = malloc(n + 1);
    char *big = malloc(n + 16);
    assert_non_null(xs);
    assert_non_null(big);
    memset(xs, 'x', n);
    xs[n] = '\0';
    snprintf(big, n + 16, "{\"t\":\"%s\"}", xs);
    free(xs);
    assert_int_equal(store_event_append(fx->st, "inbound", 0, big, sg_clock_wall_ms(), NULL, &err),
                     0);
    free(big);
    append(fx, 1, 2);
    run_until(fx, c_delivered, 1, "1 delivery");
    struct webhook_stats s = stats(fx, 0);
    assert_int_equal(s.skipped, 1);
    assert_acked(fx, 2, 2);
    assert_int_equal(fx->rx.n, 1);
}

/* Retention purged two events while the daemon was down: the rest goes,
 * the hole is logged and counted as skipped. */
static void test_purged_events_counted_as_skipped(void **state)
{
    struct fx *fx = *state;
    struct sg_err err;
    rx_listen(&fx->rx, 0);
    url_for(fx, 0, fx->rx.port);
    struct webhook_opts o = opts_ms(fx, 1);
    wh_start(fx, &o);
    append(fx, 0, 1);
    run_until(fx, c_delivered, 1, "1 delivery");
    wh_stop(fx);
    sg_ms now = sg_clock_wall_ms();
    for (int i = 2; i <= 3; i++)
        assert_int_equal(
            store_event_append(fx->st, "modem.state", 0, "{}", now - 3 * 86400000LL, NULL, &err),
            0);
    append(fx, 0, 4);
    assert_true(store_purge(fx->st, now, 86400000LL, 100, &err) >= 2);
    wh_start(fx, &o);
    run_until(fx, c_delivered, 1, "1 delivery after the restart");
    assert_int_equal(fx->rx.n, 2);
    assert_int_equal(body_seq(&fx->rx.req[0]), 1);
    assert_int_equal(body_seq(&fx->rx.req[1]), 4);
    assert_int_equal(fx->rx.req[1].status, 200);
    assert_int_equal(stats(fx, 0).skipped, 2);
    char *lt = log_text(fx);
    assert_non_null(
        strstr(lt, "event=webhook.purged_before_delivery target=0 host=127.0.0.1 after=1 count=2"));
    free(lt);
}

/* Not a pass/fail timing: prints events per second for one target on
 * loopback (one request in flight, a cursor fsync per ack). */
static void test_throughput_one_target(void **state)
{
    struct fx *fx = *state;
    struct sg_err err;
    rx_listen(&fx->rx, 0);
    url_for(fx, 0, fx->rx.port);
    struct webhook_opts o = opts_ms(fx, 1);
    wh_start(fx, &o);
    assert_int_equal(store_begin(fx->st, &err), 0);
    for (int i = 1; i <= 200; i++)
        append(fx, i, i);
    assert_int_equal(store_commit(fx->st, &err), 0);
    sg_ms t0 = sg_clock_mono_ms();
    run_until(fx, c_delivered, 200, "200 deliveries");
    sg_ms took = sg_clock_mono_ms() - t0;
    assert_int_equal(fx->rx.n, 200);
    print_message("webhook: 200 events in %lld ms (%.0f events/s)\n", (long long)took,
                  took ? 200000.0 / (double)took : 0.0);
}

struct bad_opts_case {
    const char *name;
    const char *url;
    unsigned nurls;
    const char *secret;
    sg_ms timeout_ms, base_ms, cap_ms;
    int want;
};

static void test_bad_options_refused(void **state)
{
    struct fx *fx = *state;
    char longurl[WEBHOOK_URL_MAX + 32];
    snprintf(longurl, sizeof longurl, "http://example.com/");
    memset(longurl + 19, 'a', sizeof longurl - 20);
    longurl[sizeof longurl - 1] = '\0';
    const struct bad_opts_case cases[] = {
        {"file:// URL", "file:///etc/passwd", 1, SECRET, 0, 0, 0, -EINVAL},
        {"ftp URL", "ftp://example.com/x", 1, SECRET, 0, 0, 0, -EINVAL},
        {"not a URL", "http//nope", 1, SECRET, 0, 0, 0, -EINVAL},
        {"URL with a space", "http://exa mple.com/", 1, SECRET, 0, 0, 0, -EINVAL},
        {"URL over the cap", longurl, 1, SECRET, 0, 0, 0, -E2BIG},
        {"9 targets", "http://127.0.0.1:1/", 9, SECRET, 0, 0, 0, -E2BIG},
        {"duplicate URL", "http://127.0.0.1:1/", 2, SECRET, 0, 0, 0, -EINVAL},
        {"no secret", "http://127.0.0.1:1/", 1, NULL, 0, 0, 0, -EINVAL},
        {"short secret", "http://127.0.0.1:1/", 1, "hunter2", 0, 0, 0, -EINVAL},
        {"negative timeout", "http://127.0.0.1:1/", 1, SECRET, -5, 0, 0, -EINVAL},
        {"cap below base", "http://127.0.0.1:1/", 1, SECRET, 0, 1000, 10, -EINVAL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct bad_opts_case *c = &cases[i];
        const char *urls[WEBHOOK_TARGETS_MAX + 1];
        for (size_t k = 0; k <= WEBHOOK_TARGETS_MAX; k++)
            urls[k] = c->url;
        struct webhook_opts o = {.urls = urls,
                                 .nurls = c->nurls,
                                 .secret = c->secret,
                                 .timeout_ms = c->timeout_ms,
                                 .backoff_base_ms = c->base_ms,
                                 .backoff_cap_ms = c->cap_ms};
        struct webhook *w = NULL;
        struct sg_err err;
        int rc = webhook_new(&fx->loop, fx->st, &fx->log, &o, fx->dir, &w, &err);
        if (rc != c->want || w)
            fail_msg("%s: rc %d (%s)", c->name, rc, err.msg);
        if (strstr(err.msg, "passwd") || strstr(err.msg, "example"))
            fail_msg("%s: URL text in the error: %s", c->name, err.msg);
    }
    /* https:// is accepted (libcurl does TLS); nothing is pending, so no
     * connection is attempted. */
    const char *tls[] = {"https://127.0.0.1:1/hooks"};
    struct webhook_opts o = {.urls = tls, .nurls = 1, .secret = SECRET};
    wh_start(fx, &o);
    assert_int_equal(webhook_count(fx->w), 1);
    wh_stop(fx);
    /* Zero targets is a valid, idle configuration. */
    struct webhook_opts none = {0};
    wh_start(fx, &none);
    assert_int_equal(webhook_count(fx->w), 0);
    webhook_notify(fx->w, 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_signature_verifies_at_receiver, setup, teardown),
        cmocka_unit_test_setup_teardown(test_order_by_seq, setup, teardown),
        cmocka_unit_test_setup_teardown(test_500_twice_then_200, setup, teardown),
        cmocka_unit_test_setup_teardown(test_receiver_down_then_up, setup, teardown),
        cmocka_unit_test_setup_teardown(test_per_request_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_give_up_after_max_age, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_resumes_from_cursor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_in_flight_resends_that_event_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_targets_are_independent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_target_start_point, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_cursor_replays_log, setup, teardown),
        cmocka_unit_test_setup_teardown(test_body_over_cap_is_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_purged_events_counted_as_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_throughput_one_target, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_options_refused, setup, teardown),
    };
    /* WEBHOOK_TEST=<glob> runs a subset (debugging a single case). */
    if (getenv("WEBHOOK_TEST"))
        cmocka_set_test_filter(getenv("WEBHOOK_TEST"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
