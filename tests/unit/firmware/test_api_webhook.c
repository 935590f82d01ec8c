/*
 * Webhook delivery against a real receiver: a tiny HTTP server on loopback
 * (its own thread) that records what it gets and answers from a script; the
 * webhook runs on a real libuv loop driven by the test thread, with a real
 * store whose event log feeds it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <uv.h>

#include "firmware/api_webhook.h"
#include "firmware/store.h"

#define SECRET "whsec-test-0123456789"
#define MAX_GOT 64

struct got {
    char sig[160];
    char event_hdr[32];
    char body[2048];
    int64_t seq;
    double at;
};

struct receiver {
    int lfd, port;
    pthread_t th;
    pthread_mutex_t mu;
    int64_t fail_seq;          /* answer 500 for this seq, 200 for others */
    int fail_first;            /* answer 500 to the first N requests */
    struct got got[MAX_GOT];
    int ngot;
    volatile int stop;
};

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void hdr_value(const char *head, const char *name, char *out, size_t n)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "\r\n%s:", name);
    const char *p = strcasestr(head, pat);
    out[0] = '\0';
    if (!p)
        return;
    p += strlen(pat);
    while (*p == ' ')
        p++;
    snprintf(out, n, "%.*s", (int)strcspn(p, "\r\n"), p);
}

static void *recv_main(void *arg)
{
    struct receiver *rv = arg;
    while (!rv->stop) {
        int c = accept(rv->lfd, NULL, NULL);
        if (c < 0)
            continue;
        char buf[8192];
        size_t got = 0;
        ssize_t n;
        char *eoh = NULL;
        long clen = 0;
        while ((n = recv(c, buf + got, sizeof(buf) - 1 - got, 0)) > 0) {
            got += (size_t)n;
            buf[got] = '\0';
            eoh = strstr(buf, "\r\n\r\n");
            if (eoh) {
                char cl[32];
                hdr_value(buf, "Content-Length", cl, sizeof(cl));
                clen = strtol(cl, NULL, 10);
                if (got >= (size_t)(eoh + 4 - buf) + (size_t)clen)
                    break;
            }
        }
        int status = 200;
        if (eoh) {
            pthread_mutex_lock(&rv->mu);
            struct got *g = &rv->got[rv->ngot < MAX_GOT ? rv->ngot : MAX_GOT - 1];
            hdr_value(buf, "X-Simgate-Signature", g->sig, sizeof(g->sig));
            hdr_value(buf, "X-Simgate-Event", g->event_hdr, sizeof(g->event_hdr));
            snprintf(g->body, sizeof(g->body), "%.*s", (int)clen, eoh + 4);
            const char *s = strstr(g->body, "\"seq\":");
            g->seq = s ? strtoll(s + 6, NULL, 10) : -1;
            g->at = mono_s();
            if (rv->fail_first > 0) {
                rv->fail_first--;
                status = 500;
            } else if (g->seq == rv->fail_seq) {
                status = 500;
            }
            if (rv->ngot < MAX_GOT)
                rv->ngot++;
            pthread_mutex_unlock(&rv->mu);
        }
        char resp[128];
        int rl = snprintf(resp, sizeof(resp),
                          "HTTP/1.1 %d X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", status);
        if (send(c, resp, (size_t)rl, MSG_NOSIGNAL) < 0)
            perror("send");
        close(c);
    }
    return NULL;
}

/* port 0: any free port. */
static void recv_start_on(struct receiver *rv, int port)
{
    memset(rv, 0, sizeof(*rv));
    rv->fail_seq = -1;
    pthread_mutex_init(&rv->mu, NULL);
    rv->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(rv->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(rv->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(rv->lfd, 16), 0);
    socklen_t sl = sizeof(sa);
    getsockname(rv->lfd, (struct sockaddr *)&sa, &sl);
    rv->port = ntohs(sa.sin_port);
    struct timeval tv = {.tv_usec = 100000};
    setsockopt(rv->lfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    pthread_create(&rv->th, NULL, recv_main, rv);
}

static void recv_start(struct receiver *rv)
{
    recv_start_on(rv, 0);
}

static void recv_stop(struct receiver *rv)
{
    rv->stop = 1;
    pthread_join(rv->th, NULL);
    close(rv->lfd);
    pthread_mutex_destroy(&rv->mu);
}

static int recv_count(struct receiver *rv)
{
    pthread_mutex_lock(&rv->mu);
    int n = rv->ngot;
    pthread_mutex_unlock(&rv->mu);
    return n;
}

/* ------------------------------------------------------------ fixture */

struct fx {
    char dir[64];
    uv_loop_t loop;
    uv_timer_t tick;
    struct store *st;
    struct api_webhook *w;
    struct receiver rv;
    char url[64];
};

static void on_tick(uv_timer_t *t)
{
    (void)t;
}

static void on_hook(void *ud, int64_t last)
{
    struct fx *f = ud;
    api_webhook_notify(f->w, last);
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void wh_start(struct fx *f, sg_ms retry_max)
{
    const char *urls[] = {f->url};
    struct api_webhook_opts o = {.urls = urls, .nurls = 1, .secret = SECRET,
                                 .state_dir = f->dir, .retry_base_ms = 50,
                                 .retry_cap_ms = 200, .retry_max_ms = retry_max,
                                 .timeout_ms = 2000};
    struct sg_err err;
    if (api_webhook_new(&f->loop, &o, NULL, f->st, &f->w, &err) != 0)
        fail_msg("api_webhook_new: %s", err.msg);
    store_set_event_hook(f->st, on_hook, f);
}

static void wh_stop(struct fx *f)
{
    store_set_event_hook(f->st, NULL, NULL);
    api_webhook_free(f->w);
    f->w = NULL;
    for (int i = 0; i < 10; i++)
        uv_run(&f->loop, UV_RUN_NOWAIT);
}

static struct fx *fx_start(void)
{
    struct fx *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/sg-wh-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    assert_int_equal(store_open(&f->st, f->dir, NULL, NULL), 0);
    uv_loop_init(&f->loop);
    uv_timer_init(&f->loop, &f->tick);
    uv_timer_start(&f->tick, on_tick, 10, 10); /* UV_RUN_ONCE never blocks long */
    recv_start(&f->rv);
    snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%d/hook", f->rv.port);
    return f;
}

static void fx_stop(struct fx *f)
{
    if (f->w)
        wh_stop(f);
    uv_close((uv_handle_t *)&f->tick, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    store_close(f->st);
    recv_stop(&f->rv);
    nftw(f->dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
    free(f);
}

static void run_until(struct fx *f, int n, double max_s)
{
    double t0 = mono_s();
    while (recv_count(&f->rv) < n && mono_s() - t0 < max_s)
        uv_run(&f->loop, UV_RUN_ONCE);
    if (recv_count(&f->rv) < n)
        fail_msg("receiver got %d of %d", recv_count(&f->rv), n);
    /* let the last answer be processed (cursor update) */
    for (int i = 0; i < 20; i++)
        uv_run(&f->loop, UV_RUN_ONCE);
}

static int64_t append(struct fx *f, const char *type, int64_t msg)
{
    int64_t seq = 0;
    assert_int_equal(store_event_append(f->st, type, msg, "{\"state\":\"queued\"}",
                                        1795880400000, &seq, NULL),
                     0);
    return seq;
}

/* Receiver side of the signature check, as a backend would do it. */
static bool sig_ok(const struct got *g)
{
    char *end;
    if (strncmp(g->sig, "t=", 2) != 0)
        return false;
    long long t = strtoll(g->sig + 2, &end, 10);
    if (strncmp(end, ",v1=", 4) != 0 || strlen(end + 4) != 64)
        return false;
    char expect[128];
    api_webhook_sign(SECRET, t, g->body, strlen(g->body), expect, sizeof(expect));
    return strcmp(expect, g->sig) == 0 && llabs(t - time(NULL)) < 60;
}

/* ------------------------------------------------------------ tests */

static void test_sign_and_backoff(void **state)
{
    (void)state;
    char out[128];
    /* Oracle: Python's hmac.new(key, b'1700000000.{"a":1}', sha256). */
    assert_int_equal(api_webhook_sign(SECRET, 1700000000, "{\"a\":1}", 7, out, sizeof(out)), 0);
    assert_string_equal(out, "t=1700000000,v1="
                             "ba8ec7f38c4e076a99176a1bf98ae9f2f3f4e18412b46a5913ddcf5685932c6a");
    assert_int_equal(api_webhook_sign(SECRET, 1, "x", 1, out, 20), -ENOSPC);
    static const struct {
        int attempt;
        unsigned jitter;
        sg_ms want;
    } b[] = {
        {1, 0, 1000}, {2, 0, 2000}, {3, 0, 4000}, {10, 0, 512000}, {11, 0, 600000}, {40, 0, 600000},
        {1, 1000, 1250}, {2, 500, 2250},
    };
    for (size_t i = 0; i < sizeof(b) / sizeof(b[0]); i++)
        assert_int_equal(api_webhook_backoff(b[i].attempt, 1000, 600000, b[i].jitter), b[i].want);
}

static void test_delivery_in_order_signed(void **state)
{
    (void)state;
    struct fx *f = fx_start();
    append(f, "message.state", 1); /* before the webhook existed: not sent */
    wh_start(f, 0);
    int64_t s1 = append(f, "message.state", 1);
    int64_t s2 = append(f, "inbound", 0);
    int64_t s3 = append(f, "message.state", 2);
    run_until(f, 3, 10);
    assert_int_equal(recv_count(&f->rv), 3);
    int64_t want[] = {s1, s2, s3};
    for (int i = 0; i < 3; i++) {
        const struct got *g = &f->rv.got[i];
        assert_int_equal(g->seq, want[i]);
        assert_int_equal(strtoll(g->event_hdr, NULL, 10), want[i]);
        assert_true(sig_ok(g));
        assert_non_null(strstr(g->body, "\"data\":{\"state\":\"queued\"}"));
    }
    assert_non_null(strstr(f->rv.got[1].body, "\"type\":\"inbound\""));
    assert_int_equal(api_webhook_cursor(f->w, 0), s3);
    /* A tampered body fails the check. */
    struct got bad = f->rv.got[0];
    bad.body[strlen(bad.body) - 2] ^= 1;
    assert_false(sig_ok(&bad));

    /* Restart: the cursor file says where to resume; nothing is sent twice. */
    wh_stop(f);
    int64_t s4 = append(f, "message.state", 3);
    wh_start(f, 0);
    run_until(f, 4, 10);
    assert_int_equal(recv_count(&f->rv), 4);
    assert_int_equal(f->rv.got[3].seq, s4);
    fx_stop(f);
}

static void test_retry_with_backoff(void **state)
{
    (void)state;
    struct fx *f = fx_start();
    f->rv.fail_first = 2;
    wh_start(f, 0);
    int64_t s1 = append(f, "message.state", 1);
    int64_t s2 = append(f, "message.state", 2);
    run_until(f, 4, 10);
    const struct got *g = f->rv.got;
    /* s1 three times (two 500s, then 200), only then s2: order kept. */
    assert_int_equal(g[0].seq, s1);
    assert_int_equal(g[1].seq, s1);
    assert_int_equal(g[2].seq, s1);
    assert_int_equal(g[3].seq, s2);
    /* Backoff 50 ms then 100 ms (+ up to 25% jitter). */
    assert_true(g[1].at - g[0].at >= 0.045);
    assert_true(g[2].at - g[1].at >= 0.095);
    assert_int_equal(api_webhook_cursor(f->w, 0), s2);
    fx_stop(f);
}

static void test_give_up_after_retry_max(void **state)
{
    (void)state;
    struct fx *f = fx_start();
    wh_start(f, 300);
    int64_t s1 = append(f, "message.state", 1);
    f->rv.fail_seq = s1;
    int64_t s2 = append(f, "message.state", 2);
    double t0 = mono_s();
    while (api_webhook_cursor(f->w, 0) < s2 && mono_s() - t0 < 10)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_int_equal(api_webhook_cursor(f->w, 0), s2);
    int n = recv_count(&f->rv);
    assert_true(n >= 3); /* several tries of s1 within 300 ms, then s2 */
    assert_int_equal(f->rv.got[n - 1].seq, s2);
    assert_int_equal(f->rv.got[n - 2].seq, s1);
    fx_stop(f);
}

/* The backend is down (connection refused) for a while, then comes back
 * on the same port: the event is retried and arrives once, in order. */
static void test_receiver_down_then_up(void **state)
{
    (void)state;
    struct fx *f = fx_start();
    int port = f->rv.port;
    recv_stop(&f->rv);
    wh_start(f, 0);
    int64_t s1 = append(f, "message.state", 1);
    int64_t s2 = append(f, "message.state", 2);
    double t0 = mono_s();
    while (mono_s() - t0 < 0.4)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_int_equal(api_webhook_cursor(f->w, 0), s1 - 1);
    recv_start_on(&f->rv, port);
    run_until(f, 2, 10);
    assert_int_equal(f->rv.got[0].seq, s1);
    assert_int_equal(f->rv.got[1].seq, s2);
    assert_int_equal(api_webhook_cursor(f->w, 0), s2);
    fx_stop(f);
}

static void test_refused_config(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    const char *urls[] = {"http://127.0.0.1:1/"};
    struct api_webhook_opts o = {.urls = urls, .nurls = 1, .secret = "short"};
    struct api_webhook *w = NULL;
    assert_int_equal(api_webhook_new(&loop, &o, NULL, NULL, &w, NULL), -EINVAL);
    uv_loop_close(&loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign_and_backoff),
        cmocka_unit_test(test_delivery_in_order_signed),
        cmocka_unit_test(test_retry_with_backoff),
        cmocka_unit_test(test_give_up_after_retry_max),
        cmocka_unit_test(test_receiver_down_then_up),
        cmocka_unit_test(test_refused_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
