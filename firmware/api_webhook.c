#include "firmware/api_webhook.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#include "firmware/api.h"

#define CURSOR_PATH_MAX 512
#ifndef SG_VERSION
#define SG_VERSION "0" /* the Makefile sets it; lint runs without */
#endif

struct target {
    struct api_webhook *w;
    char url[API_WEBHOOK_URL_MAX];
    char cursor_path[CURSOR_PATH_MAX];
    int64_t cursor;
    /* the event being delivered */
    bool busy;                /* a transfer or a retry timer is pending */
    CURL *easy;
    struct curl_slist *hdrs;
    char *body;
    int64_t seq;
    sg_ms first_try;
    int attempts;
    long status;
    char cerr[CURL_ERROR_SIZE];
    uv_timer_t retry;
};

struct api_webhook {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t curl_timer;
    struct store *st;
    const struct sglog *log;
    char secret[256];
    struct target t[API_WEBHOOK_MAX];
    size_t n;
    sg_ms retry_max, base, cap;
    long timeout_ms;
    int open_handles;
    bool freeing;
};

struct sock_ctx {
    uv_poll_t poll;
    curl_socket_t fd;
    struct api_webhook *w;
};

/* ------------------------------------------------------------ pure */

int api_webhook_sign(const char *secret, int64_t t, const char *body, size_t len, char *out,
                     size_t n)
{
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    char ts[24];
    int tl = snprintf(ts, sizeof(ts), "%lld.", (long long)t);
    if (crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret)) != 0)
        return -EINVAL;
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)ts, (unsigned long long)tl);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, len);
    crypto_auth_hmacsha256_final(&st, mac);
    char hex[2 * sizeof(mac) + 1];
    sodium_bin2hex(hex, sizeof(hex), mac, sizeof(mac));
    int w = snprintf(out, n, "t=%lld,v1=%s", (long long)t, hex);
    return w < 0 || (size_t)w >= n ? -ENOSPC : 0;
}

sg_ms api_webhook_backoff(int attempt, sg_ms base, sg_ms cap, unsigned jitter_permille)
{
    sg_ms d = base;
    for (int i = 1; i < attempt && d < cap; i++)
        d *= 2;
    if (d > cap)
        d = cap;
    if (jitter_permille > 1000)
        jitter_permille = 1000;
    return d + d / 4 * (sg_ms)jitter_permille / 1000;
}

/* ------------------------------------------------------------ cursor file */

static void cursor_save(struct target *t)
{
    char tmp[sizeof(t->cursor_path) + 8];
    snprintf(tmp, sizeof(tmp), "%s.tmp", t->cursor_path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        goto fail;
    fprintf(f, "%lld\n", (long long)t->cursor);
    if (fclose(f) != 0 || rename(tmp, t->cursor_path) != 0)
        goto fail;
    return;
fail:
    if (t->w->log)
        log_warn(t->w->log, "event=webhook.cursor result=unsaved file=%s", t->cursor_path);
}

static int cursor_load(struct target *t, int64_t *out)
{
    FILE *f = fopen(t->cursor_path, "r");
    if (!f)
        return -ENOENT;
    char line[32], *end;
    bool got = fgets(line, sizeof(line), f) != NULL;
    fclose(f);
    errno = 0;
    long long v = got ? strtoll(line, &end, 10) : -1;
    if (!got || errno || end == line || (*end && *end != '\n') || v < 0)
        return -EINVAL;
    *out = v;
    return 0;
}

/* ------------------------------------------------------------ delivery */

static void pump(struct target *t);
static void check_done(struct api_webhook *w);

struct ev_one {
    char *body;
    int64_t seq;
};

static int one_cb(void *ud, const struct store_event *e)
{
    struct ev_one *o = ud;
    json_t *j = json_object();
    char at[40];
    api_fmt_time(e->at, at, sizeof(at));
    json_object_set_new(j, "seq", json_integer(e->seq));
    json_object_set_new(j, "at", json_string(at));
    json_object_set_new(j, "type", json_string(e->type ? e->type : "?"));
    json_object_set_new(j, "message_id", e->msg_id ? json_integer(e->msg_id) : json_null());
    json_t *data = e->json ? json_loads(e->json, 0, NULL) : NULL;
    json_object_set_new(j, "data", data ? data : json_object());
    o->body = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(j);
    o->seq = e->seq;
    return 1;
}

static void target_reset(struct target *t)
{
    if (t->easy) {
        curl_multi_remove_handle(t->w->multi, t->easy);
        curl_easy_cleanup(t->easy);
        t->easy = NULL;
    }
    curl_slist_free_all(t->hdrs);
    t->hdrs = NULL;
}

static int send_current(struct target *t)
{
    struct api_webhook *w = t->w;
    char sig[128], hdr[160];
    target_reset(t);
    if (api_webhook_sign(w->secret, sg_clock_wall_ms() / 1000, t->body, strlen(t->body), sig,
                         sizeof(sig)) != 0)
        return -EINVAL;
    t->easy = curl_easy_init();
    if (!t->easy)
        return -ENOMEM;
    t->hdrs = curl_slist_append(t->hdrs, "Content-Type: application/json");
    snprintf(hdr, sizeof(hdr), "X-Simgate-Signature: %s", sig);
    t->hdrs = curl_slist_append(t->hdrs, hdr);
    snprintf(hdr, sizeof(hdr), "X-Simgate-Event: %lld", (long long)t->seq);
    t->hdrs = curl_slist_append(t->hdrs, hdr);
    t->hdrs = curl_slist_append(t->hdrs, "Expect:");
    t->cerr[0] = '\0';
    curl_easy_setopt(t->easy, CURLOPT_URL, t->url);
    curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->hdrs);
    curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, t->body);
    curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE, (long)strlen(t->body));
    curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS, w->timeout_ms);
    curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(t->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(t->easy, CURLOPT_USERAGENT, "simgated/" SG_VERSION);
    curl_easy_setopt(t->easy, CURLOPT_ERRORBUFFER, t->cerr);
    curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t);
    if (curl_multi_add_handle(w->multi, t->easy) != CURLM_OK)
        return -EIO;
    return 0;
}

static void on_retry(uv_timer_t *h)
{
    struct target *t = h->data;
    if (send_current(t) != 0) {
        t->busy = false; /* try again at the next notify */
        free(t->body);
        t->body = NULL;
    }
}

/* Starts the next event after the cursor, if any and if idle. */
static void pump(struct target *t)
{
    struct api_webhook *w = t->w;
    if (t->busy || w->freeing)
        return;
    struct ev_one o = {0};
    if (store_events_after(w->st, t->cursor, 1, one_cb, &o, NULL) <= 0 || !o.body) {
        free(o.body);
        return;
    }
    t->body = o.body;
    t->seq = o.seq;
    t->attempts = 0;
    t->first_try = sg_clock_wall_ms();
    t->busy = true;
    if (send_current(t) != 0) {
        t->busy = false;
        free(t->body);
        t->body = NULL;
    }
}

static void finished(struct target *t, CURLcode cc)
{
    struct api_webhook *w = t->w;
    long status = 0;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
    target_reset(t);
    t->attempts++;
    bool ok = cc == CURLE_OK && status >= 200 && status < 300;
    bool give_up = !ok && sg_clock_wall_ms() - t->first_try >= w->retry_max;
    if (ok || give_up) {
        if (w->log && give_up)
            log_warnx(w->log, "event=webhook.dropped seq=%lld attempts=%d status=%ld error=\"%s\"",
                      (long long)t->seq, t->attempts, status,
                      cc == CURLE_OK ? "" : (t->cerr[0] ? t->cerr : curl_easy_strerror(cc)));
        else if (w->log)
            log_debug(w->log, "event=webhook.delivered seq=%lld attempts=%d status=%ld",
                      (long long)t->seq, t->attempts, status);
        t->cursor = t->seq;
        cursor_save(t);
        free(t->body);
        t->body = NULL;
        t->busy = false;
        pump(t);
        return;
    }
    sg_ms delay = api_webhook_backoff(t->attempts, w->base, w->cap, randombytes_uniform(1001));
    if (w->log)
        log_info(w->log, "event=webhook.retry seq=%lld attempt=%d status=%ld in_ms=%lld error=\"%s\"",
                 (long long)t->seq, t->attempts, status, (long long)delay,
                 cc == CURLE_OK ? "" : (t->cerr[0] ? t->cerr : curl_easy_strerror(cc)));
    uv_timer_start(&t->retry, on_retry, (uint64_t)delay, 0);
}

static void check_done(struct api_webhook *w)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(w->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        char *priv = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
        if (priv)
            finished((struct target *)(void *)priv, m->data.result);
    }
}

/* ------------------------------------------------------------ curl on libuv */

static void on_sock(uv_poll_t *p, int status, int events)
{
    struct sock_ctx *c = p->data;
    struct api_webhook *w = c->w;
    int flags = 0, running;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    curl_multi_socket_action(w->multi, c->fd, flags, &running);
    check_done(w);
}

static void on_ctx_closed(uv_handle_t *h)
{
    free(h->data);
}

static int sock_cb(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
    (void)e;
    struct api_webhook *w = userp;
    struct sock_ctx *c = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (c) {
            uv_poll_stop(&c->poll);
            uv_close((uv_handle_t *)&c->poll, on_ctx_closed);
            curl_multi_assign(w->multi, s, NULL);
        }
        return 0;
    }
    if (!c) {
        c = calloc(1, sizeof(*c));
        if (!c)
            return -1;
        c->fd = s;
        c->w = w;
        if (uv_poll_init_socket(w->loop, &c->poll, s) != 0) {
            free(c);
            return -1;
        }
        c->poll.data = c;
        curl_multi_assign(w->multi, s, c);
    }
    int ev = 0;
    if (what & CURL_POLL_IN)
        ev |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        ev |= UV_WRITABLE;
    uv_poll_start(&c->poll, ev, on_sock);
    return 0;
}

static void on_curl_timer(uv_timer_t *h)
{
    struct api_webhook *w = h->data;
    int running;
    curl_multi_socket_action(w->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(w);
}

static int timer_cb(CURLM *m, long timeout_ms, void *userp)
{
    (void)m;
    struct api_webhook *w = userp;
    if (w->freeing)
        return 0;
    if (timeout_ms < 0)
        uv_timer_stop(&w->curl_timer);
    else
        uv_timer_start(&w->curl_timer, on_curl_timer, (uint64_t)timeout_ms, 0);
    return 0;
}

/* ------------------------------------------------------------ lifecycle */

int api_webhook_new(uv_loop_t *loop, const struct api_webhook_opts *o, const struct sglog *log,
                    struct store *st, struct api_webhook **out, struct sg_err *err)
{
    *out = NULL;
    if (o->nurls > API_WEBHOOK_MAX)
        return sg_errf(err, -EINVAL, "webhooks: at most %d URLs", API_WEBHOOK_MAX);
    if (o->nurls && (!o->secret || strlen(o->secret) < 16 || strlen(o->secret) >= 256))
        return sg_errf(err, -EINVAL, "webhooks: a secret of 16..255 characters is required");
    if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return sg_errf(err, -EIO, "webhooks: library init failed");
    struct api_webhook *w = calloc(1, sizeof(*w));
    if (!w)
        return sg_errf(err, -ENOMEM, "out of memory");
    w->loop = loop;
    w->st = st;
    w->log = log;
    snprintf(w->secret, sizeof(w->secret), "%s", o->secret ? o->secret : "");
    w->retry_max = o->retry_max_ms ? o->retry_max_ms : API_WEBHOOK_RETRY_MAX_DEFAULT;
    w->base = o->retry_base_ms ? o->retry_base_ms : API_WEBHOOK_BASE_DEFAULT;
    w->cap = o->retry_cap_ms ? o->retry_cap_ms : API_WEBHOOK_CAP_DEFAULT;
    w->timeout_ms = o->timeout_ms ? o->timeout_ms : API_WEBHOOK_TIMEOUT_DEFAULT;
    w->multi = curl_multi_init();
    if (!w->multi) {
        free(w);
        return sg_errf(err, -ENOMEM, "curl_multi_init failed");
    }
    curl_multi_setopt(w->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
    curl_multi_setopt(w->multi, CURLMOPT_SOCKETDATA, w);
    curl_multi_setopt(w->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(w->multi, CURLMOPT_TIMERDATA, w);
    uv_timer_init(loop, &w->curl_timer);
    w->curl_timer.data = w;
    w->open_handles = 1;
    int64_t last = 0;
    store_events_last_seq(st, &last, NULL);
    for (size_t i = 0; i < o->nurls; i++) {
        struct target *t = &w->t[w->n];
        if (strlen(o->urls[i]) >= sizeof(t->url)) {
            api_webhook_free(w);
            return sg_errf(err, -EINVAL, "webhooks: URL %zu is too long", i + 1);
        }
        t->w = w;
        snprintf(t->url, sizeof(t->url), "%s", o->urls[i]);
        unsigned char h[8];
        char hex[17];
        crypto_generichash(h, sizeof(h), (const unsigned char *)t->url, strlen(t->url), NULL, 0);
        sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
        snprintf(t->cursor_path, sizeof(t->cursor_path), "%s/webhook-%s.cursor",
                 o->state_dir ? o->state_dir : ".", hex);
        if (cursor_load(t, &t->cursor) != 0) {
            t->cursor = last;
            cursor_save(t);
        }
        uv_timer_init(loop, &t->retry);
        t->retry.data = t;
        w->open_handles++;
        w->n++;
        if (log)
            log_notice(log, "event=webhook.target n=%zu cursor=%lld", i + 1,
                       (long long)t->cursor);
    }
    for (size_t i = 0; i < w->n; i++)
        pump(&w->t[i]);
    *out = w;
    return 0;
}

void api_webhook_notify(struct api_webhook *w, int64_t last_seq)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n; i++)
        if (w->t[i].cursor < last_seq)
            pump(&w->t[i]);
}

int64_t api_webhook_cursor(const struct api_webhook *w, size_t i)
{
    return i < w->n ? w->t[i].cursor : -1;
}

static void on_wh_closed(uv_handle_t *h)
{
    struct api_webhook *w = h->data;
    if (--w->open_handles == 0)
        free(w);
}

void api_webhook_free(struct api_webhook *w)
{
    if (!w)
        return;
    w->freeing = true;
    for (size_t i = 0; i < w->n; i++) {
        struct target *t = &w->t[i];
        target_reset(t); /* an in-flight event is sent again after a restart */
        free(t->body);
        t->body = NULL;
        uv_timer_stop(&t->retry);
        t->retry.data = w;
        uv_close((uv_handle_t *)&t->retry, on_wh_closed);
    }
    curl_multi_cleanup(w->multi);
    w->multi = NULL;
    uv_close((uv_handle_t *)&w->curl_timer, on_wh_closed);
}
