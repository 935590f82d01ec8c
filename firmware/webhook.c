/*
 * webhook: see webhook.h for the contract. This file is the loop glue
 * (libcurl multi on libuv, the classic socket/timer callback pair), the
 * cursor files, and three small pure helpers (body, signature, verdict).
 *
 * Per target the states are:
 *   IDLE     nothing open; pump() loads the next event (if the cursor is
 *            behind the log) and sends it
 *   SENDING  the easy handle is in the multi
 *   WAIT     the target's timer runs: a backoff, or a store read to retry
 * The event being delivered (seq, at, body) stays loaded across attempts.
 */
#include "firmware/webhook.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#include "firmware/retry.h"

#ifndef SG_VERSION
#define SG_VERSION "0.0.0"
#endif

#define CURSOR_NAME_MAX 48 /* "webhook-<16 hex>.cursor.tmp" + NUL */
#define HOST_LABEL_MAX  96 /* host as logged; longer names are cut */
#define CURSOR_FILE_MAX 32 /* bytes read from a cursor file */

enum tstate { T_IDLE = 0, T_SENDING, T_WAIT };

struct target {
    struct webhook *w;
    unsigned idx;
    char *url;
    char host[HOST_LABEL_MAX];
    char cursor_name[CURSOR_NAME_MAX];
    CURL *easy;
    struct curl_slist *hdrs;
    enum tstate state;
    uv_timer_t timer;
    /* the event being delivered */
    bool have_ev;
    int64_t ev_seq;
    sg_ms ev_at;
    char *body;
    size_t body_len;
    int load_rc;
    struct webhook_stats st;
};

/* One per socket libcurl asks us to watch. poll must stay the first member. */
struct sockctx {
    uv_poll_t poll;
    curl_socket_t fd;
    bool closing;
    struct webhook *w;
    struct sockctx *prev, *next;
};

struct webhook {
    uv_loop_t *loop;
    struct store *st;
    const struct sglog *log;
    struct webhook_policy pol;
    sg_ms timeout_ms;
    char secret[WEBHOOK_SECRET_MAX];
    size_t secret_len;
    int dirfd;
    bool curl_global;
    CURLM *multi;
    uv_timer_t curl_timer;
    uv_timer_t kick;
    struct sockctx *socks;
    int64_t last_seq;
    bool closing;
    unsigned open_handles;
    unsigned n;
    struct target t[WEBHOOK_TARGETS_MAX];
};

/* ------------------------------------------------------------ pure helpers */

void webhook_sign(const char *secret, size_t secret_len, int64_t t, const char *body,
                  size_t body_len, char hex[WEBHOOK_SIG_HEX_LEN + 1])
{
    crypto_auth_hmacsha256_state s;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    char ts[24];
    int n = snprintf(ts, sizeof ts, "%" PRId64 ".", t);
    crypto_auth_hmacsha256_init(&s, (const unsigned char *)secret, secret_len);
    crypto_auth_hmacsha256_update(&s, (const unsigned char *)ts, (unsigned long long)n);
    crypto_auth_hmacsha256_update(&s, (const unsigned char *)body, body_len);
    crypto_auth_hmacsha256_final(&s, mac);
    sodium_bin2hex(hex, WEBHOOK_SIG_HEX_LEN + 1, mac, sizeof mac);
    sodium_memzero(&s, sizeof s);
}

/* ISO-8601 UTC with milliseconds: 2026-11-22T15:40:00.123Z */
static void iso_ms(sg_ms at, char *buf, size_t n)
{
    time_t secs = (time_t)(at / 1000);
    long ms = (long)(at % 1000);
    struct tm tm;
    if (ms < 0) {
        ms += 1000;
        secs -= 1;
    }
    if (!gmtime_r(&secs, &tm)) {
        snprintf(buf, n, "1970-01-01T00:00:00.000Z");
        return;
    }
    char date[32];
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, n, "%s.%03ldZ", date, ms);
}

int webhook_body(const struct store_event *e, char **out, size_t *len, struct sg_err *err)
{
    char at[40];
    iso_ms(e->at, at, sizeof at);
    const char *payload = e->json ? e->json : "{}";
    if (strlen(payload) > WEBHOOK_BODY_MAX)
        return sg_errf(err, -E2BIG, "webhook: event %" PRId64 " payload over %d bytes", e->seq,
                       WEBHOOK_BODY_MAX);
    json_t *data = json_loads(payload, JSON_DECODE_ANY, NULL);
    if (!data)
        data = json_string(payload); /* not JSON (or not UTF-8): keep it, as text */
    if (!data)
        data = json_stringn("", 0);
    json_t *msg = e->msg_id > 0 ? json_integer(e->msg_id) : json_null();
    json_t *o = json_pack("{s:I, s:s, s:s, s:o, s:o}", "seq", (json_int_t)e->seq, "type",
                          e->type ? e->type : "", "at", at, "message_id", msg, "data", data);
    if (!o)
        return sg_errf(err, -ENOMEM, "webhook: cannot build the body of event %" PRId64, e->seq);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!s)
        return sg_errf(err, -ENOMEM, "webhook: cannot encode the body of event %" PRId64, e->seq);
    size_t l = strlen(s);
    if (l > WEBHOOK_BODY_MAX) {
        free(s);
        return sg_errf(err, -E2BIG, "webhook: event %" PRId64 " body %zu bytes, over %d", e->seq, l,
                       WEBHOOK_BODY_MAX);
    }
    *out = s;
    *len = l;
    return 0;
}

enum webhook_verdict webhook_decide(const struct webhook_policy *p, bool acked, unsigned attempts,
                                    sg_ms event_at, sg_ms now, uint32_t jitter, sg_ms *delay_ms)
{
    *delay_ms = 0;
    if (acked)
        return WEBHOOK_DONE;
    sg_ms d = retry_backoff(p->base_ms, p->cap_ms, attempts ? attempts : 1, jitter);
    /* Compare as differences: event_at + max_age could overflow for huge ages. */
    if (now - event_at > p->max_age_ms - d)
        return WEBHOOK_SKIP;
    *delay_ms = d;
    return WEBHOOK_RETRY;
}

/* ------------------------------------------------------------ cursor files */

static int cursor_write(struct webhook *w, const struct target *t, int64_t seq, struct sg_err *err)
{
    char tmp[CURSOR_NAME_MAX + 8];
    char buf[32];
    snprintf(tmp, sizeof tmp, "%s.tmp", t->cursor_name);
    int n = snprintf(buf, sizeof buf, "%" PRId64 "\n", seq);
    int fd = openat(w->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return sg_errf(err, -EIO, "webhook: create %s: %s", tmp, strerror(errno));
    if (write(fd, buf, (size_t)n) != n || fsync(fd) != 0) {
        int e = errno;
        close(fd);
        unlinkat(w->dirfd, tmp, 0);
        return sg_errf(err, -EIO, "webhook: write %s: %s", tmp, strerror(e));
    }
    if (close(fd) != 0) {
        int e = errno;
        unlinkat(w->dirfd, tmp, 0);
        return sg_errf(err, -EIO, "webhook: close %s: %s", tmp, strerror(e));
    }
    if (renameat(w->dirfd, tmp, w->dirfd, t->cursor_name) != 0) {
        int e = errno;
        unlinkat(w->dirfd, tmp, 0);
        return sg_errf(err, -EIO, "webhook: rename %s: %s", tmp, strerror(e));
    }
    /* The rename is durable only once the directory is. */
    if (fsync(w->dirfd) != 0)
        return sg_errf(err, -EIO, "webhook: fsync state dir: %s", strerror(errno));
    return 0;
}

/* 1 and *seq set: read; 0: no file; <0: unreadable or malformed. */
static int cursor_read(struct webhook *w, const struct target *t, int64_t *seq, struct sg_err *err)
{
    char buf[CURSOR_FILE_MAX + 1];
    int fd = openat(w->dirfd, t->cursor_name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        return sg_errf(err, -EIO, "webhook: open %s: %s", t->cursor_name, strerror(errno));
    }
    ssize_t r = read(fd, buf, CURSOR_FILE_MAX);
    int e = errno;
    close(fd);
    if (r < 0)
        return sg_errf(err, -EIO, "webhook: read %s: %s", t->cursor_name, strerror(e));
    buf[r] = '\0';
    char *end = NULL;
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    if (end == buf || errno || v < 0 || (*end != '\n' && *end != '\0'))
        return sg_errf(err, -EIO, "webhook: %s: not a sequence number", t->cursor_name);
    *seq = v;
    return 1;
}

/* ------------------------------------------------------------ delivery */

static void pump(struct target *t);

static void on_target_timer(uv_timer_t *h)
{
    struct target *t = h->data;
    t->state = T_IDLE;
    pump(t);
}

static void wait_for(struct target *t, sg_ms ms)
{
    t->state = T_WAIT;
    uv_timer_start(&t->timer, on_target_timer, (uint64_t)ms, 0);
}

static void drop_event(struct target *t)
{
    free(t->body);
    t->body = NULL;
    t->body_len = 0;
    t->have_ev = false;
    t->st.attempts = 0;
}

/* The cursor moves past ev_seq (acknowledged or skipped), durably if it can. */
static void advance(struct target *t)
{
    struct webhook *w = t->w;
    struct sg_err err;
    t->st.cursor = t->ev_seq;
    t->st.backlog = w->last_seq > t->st.cursor ? w->last_seq - t->st.cursor : 0;
    drop_event(t);
    if (cursor_write(w, t, t->st.cursor, &err) != 0) {
        t->st.cursor_errors++;
        log_warnx(w->log,
                  "event=webhook.cursor_write_failed target=%u host=%s seq=%" PRId64
                  " reason=\"%s\"",
                  t->idx, t->host, t->st.cursor, err.msg);
    }
}

static void skip_event(struct target *t, const char *why)
{
    t->st.skipped++;
    log_warnx(t->w->log,
              "event=webhook.skipped target=%u host=%s seq=%" PRId64 " attempts=%u reason=%s",
              t->idx, t->host, t->ev_seq, t->st.attempts, why);
    advance(t);
}

static int load_cb(void *ud, const struct store_event *e)
{
    struct target *t = ud;
    struct sg_err err;
    t->ev_seq = e->seq;
    t->ev_at = e->at;
    t->load_rc = webhook_body(e, &t->body, &t->body_len, &err);
    t->have_ev = true; /* even when the body failed: skip_event needs seq */
    return 0;
}

static void send_attempt(struct target *t)
{
    struct webhook *w = t->w;
    char hex[WEBHOOK_SIG_HEX_LEN + 1];
    char sig[WEBHOOK_SIG_HEX_LEN + 64];
    char seqh[64];
    int64_t ts = sg_clock_wall_ms() / 1000;
    webhook_sign(w->secret, w->secret_len, ts, t->body, t->body_len, hex);
    snprintf(sig, sizeof sig, "X-Simgate-Signature: t=%" PRId64 ",v1=%s", ts, hex);
    snprintf(seqh, sizeof seqh, "X-Simgate-Event-Seq: %" PRId64, t->ev_seq);

    curl_slist_free_all(t->hdrs);
    t->hdrs = NULL;
    /* "Expect:" stops libcurl from waiting for a 100-continue on larger bodies. */
    static const char *const fixed[] = {"Content-Type: application/json", "Expect:"};
    struct curl_slist *h = NULL;
    for (size_t i = 0; i < 2; i++) {
        struct curl_slist *nh = curl_slist_append(h, fixed[i]);
        if (!nh)
            goto nomem;
        h = nh;
    }
    const char *dyn[] = {sig, seqh};
    for (size_t i = 0; i < 2; i++) {
        struct curl_slist *nh = curl_slist_append(h, dyn[i]);
        if (!nh)
            goto nomem;
        h = nh;
    }
    t->hdrs = h;
    curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->hdrs);
    curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, t->body);
    curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE, (long)t->body_len);
    CURLMcode mc = curl_multi_add_handle(w->multi, t->easy);
    if (mc != CURLM_OK) {
        log_warnx(w->log, "event=webhook.add_failed target=%u host=%s reason=\"%s\"", t->idx,
                  t->host, curl_multi_strerror(mc));
        wait_for(t, w->pol.base_ms);
        return;
    }
    t->state = T_SENDING;
    t->st.in_flight = true;
    t->st.attempts++;
    return;
nomem:
    curl_slist_free_all(h);
    log_warnx(w->log, "event=webhook.out_of_memory target=%u host=%s", t->idx, t->host);
    wait_for(t, w->pol.base_ms);
}

/* Loads the next event if needed and sends it; loops over skipped ones. */
static void pump(struct target *t)
{
    struct webhook *w = t->w;
    while (!w->closing && t->state == T_IDLE) {
        if (!t->have_ev) {
            if (t->st.cursor >= w->last_seq)
                return;
            struct sg_err err;
            int n = store_events_after(w->st, t->st.cursor, 1, load_cb, t, &err);
            if (n < 0) {
                log_warnx(w->log,
                          "event=webhook.store_read_failed target=%u host=%s"
                          " after=%" PRId64 " reason=\"%s\"",
                          t->idx, t->host, t->st.cursor, err.msg);
                wait_for(t, WEBHOOK_STORE_RETRY_MS);
                return;
            }
            if (n == 0)
                return; /* purged up to last_seq: nothing to send */
            if (t->st.cursor > 0 && t->ev_seq > t->st.cursor + 1) {
                /* seq is AUTOINCREMENT (never reused, not consumed by a
                 * rollback): a hole is events retention purged first. */
                int64_t lost = t->ev_seq - t->st.cursor - 1;
                t->st.skipped += (uint64_t)lost;
                log_warnx(w->log,
                          "event=webhook.purged_before_delivery target=%u host=%s"
                          " after=%" PRId64 " count=%" PRId64,
                          t->idx, t->host, t->st.cursor, lost);
            }
            if (t->load_rc == -E2BIG) {
                skip_event(t, "body_too_large");
                continue;
            }
            if (t->load_rc != 0) {
                drop_event(t); /* out of memory: read it again later */
                wait_for(t, WEBHOOK_STORE_RETRY_MS);
                return;
            }
        }
        send_attempt(t);
        return;
    }
}

static void transfer_done(struct target *t, CURLcode res)
{
    struct webhook *w = t->w;
    long code = 0;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &code);
    curl_multi_remove_handle(w->multi, t->easy);
    t->state = T_IDLE;
    t->st.in_flight = false;
    t->st.last_status = (int)code;
    bool acked = res == CURLE_OK && code >= 200 && code <= 299;
    sg_ms delay = 0;
    enum webhook_verdict v = webhook_decide(&w->pol, acked, t->st.attempts, t->ev_at,
                                            sg_clock_wall_ms(), randombytes_random(), &delay);
    if (v == WEBHOOK_DONE) {
        t->st.delivered++;
        log_debug(w->log,
                  "event=webhook.delivered target=%u host=%s seq=%" PRId64
                  " attempts=%u status=%ld",
                  t->idx, t->host, t->ev_seq, t->st.attempts, code);
        advance(t);
        pump(t);
        return;
    }
    t->st.failed_attempts++;
    t->st.last_curl = (int)res;
    const char *why = res != CURLE_OK ? curl_easy_strerror(res) : "non-2xx answer";
    if (v == WEBHOOK_SKIP) {
        log_warnx(w->log,
                  "event=webhook.attempt_failed target=%u host=%s seq=%" PRId64
                  " attempt=%u status=%ld reason=\"%s\"",
                  t->idx, t->host, t->ev_seq, t->st.attempts, code, why);
        skip_event(t, "max_age");
        pump(t);
        return;
    }
    log_info(w->log,
             "event=webhook.attempt_failed target=%u host=%s seq=%" PRId64
             " attempt=%u status=%ld reason=\"%s\" retry_in_ms=%" PRId64,
             t->idx, t->host, t->ev_seq, t->st.attempts, code, why, delay);
    wait_for(t, delay);
}

/* ------------------------------------------------------------ libcurl <-> libuv */

static void check_multi_info(struct webhook *w)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(w->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        CURL *easy = m->easy_handle;
        CURLcode res = m->data.result; /* m is invalid once the handle is removed */
        char *priv = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
        if (priv)
            transfer_done((struct target *)(void *)priv, res);
    }
}

static void handle_closed(struct webhook *w)
{
    if (--w->open_handles == 0 && w->closing)
        free(w);
}

static void on_sock_closed(uv_handle_t *h)
{
    struct sockctx *c = (struct sockctx *)(void *)h;
    struct webhook *w = c->w;
    free(c);
    handle_closed(w);
}

static void sock_close(struct webhook *w, struct sockctx *c)
{
    if (c->closing)
        return;
    c->closing = true;
    if (c->prev)
        c->prev->next = c->next;
    else
        w->socks = c->next;
    if (c->next)
        c->next->prev = c->prev;
    uv_poll_stop(&c->poll);
    uv_close((uv_handle_t *)&c->poll, on_sock_closed);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    struct sockctx *c = (struct sockctx *)(void *)h;
    struct webhook *w = c->w;
    int flags = 0;
    if (status < 0) {
        flags = CURL_CSELECT_ERR;
    } else {
        if (events & UV_READABLE)
            flags |= CURL_CSELECT_IN;
        if (events & UV_WRITABLE)
            flags |= CURL_CSELECT_OUT;
    }
    int running = 0;
    curl_multi_socket_action(w->multi, c->fd, flags, &running);
    check_multi_info(w);
}

static int on_curl_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    (void)easy;
    struct webhook *w = userp;
    struct sockctx *c = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (c)
            sock_close(w, c);
        return 0;
    }
    if (w->closing)
        return 0;
    if (!c) {
        c = calloc(1, sizeof *c);
        if (!c)
            return -1;
        if (uv_poll_init_socket(w->loop, &c->poll, s) != 0) {
            free(c);
            return -1;
        }
        c->fd = s;
        c->w = w;
        c->next = w->socks;
        if (w->socks)
            w->socks->prev = c;
        w->socks = c;
        w->open_handles++;
        curl_multi_assign(w->multi, s, c);
    }
    int ev = 0;
    if (what & CURL_POLL_IN)
        ev |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        ev |= UV_WRITABLE;
    uv_poll_start(&c->poll, ev, on_poll);
    return 0;
}

static void on_curl_timeout(uv_timer_t *h)
{
    struct webhook *w = h->data;
    int running = 0;
    curl_multi_socket_action(w->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_multi_info(w);
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    struct webhook *w = userp;
    if (w->closing)
        return 0;
    if (timeout_ms < 0)
        uv_timer_stop(&w->curl_timer);
    else /* 0 too: libcurl wants socket_action called from the loop, not from here */
        uv_timer_start(&w->curl_timer, on_curl_timeout, (uint64_t)timeout_ms, 0);
    return 0;
}

static size_t discard(char *ptr, size_t size, size_t nmemb, void *ud)
{
    (void)ptr;
    (void)ud;
    return size * nmemb;
}

static void on_kick(uv_timer_t *h)
{
    struct webhook *w = h->data;
    for (unsigned i = 0; i < w->n; i++)
        pump(&w->t[i]);
}

/* ------------------------------------------------------------ public */

void webhook_notify(struct webhook *w, int64_t last_seq)
{
    if (!w || w->closing)
        return;
    if (last_seq > w->last_seq)
        w->last_seq = last_seq;
    for (unsigned i = 0; i < w->n; i++) {
        struct target *t = &w->t[i];
        t->st.backlog = w->last_seq > t->st.cursor ? w->last_seq - t->st.cursor : 0;
    }
    uv_timer_start(&w->kick, on_kick, 0, 0);
}

unsigned webhook_count(const struct webhook *w)
{
    return w ? w->n : 0;
}

int webhook_stats(const struct webhook *w, unsigned i, struct webhook_stats *out)
{
    if (!w || i >= w->n)
        return -ENOENT;
    *out = w->t[i].st;
    return 0;
}

/* Checks one URL; fills the host label. */
static int url_check(unsigned i, const char *url, char *host, size_t hn, struct sg_err *err)
{
    if (!url)
        return sg_errf(err, -EINVAL, "webhook: url #%u missing", i);
    if (strlen(url) > WEBHOOK_URL_MAX)
        return sg_errf(err, -E2BIG, "webhook: url #%u longer than %d bytes", i, WEBHOOK_URL_MAX);
    CURLU *u = curl_url();
    if (!u)
        return sg_errf(err, -ENOMEM, "webhook: out of memory");
    char *scheme = NULL, *h = NULL;
    int rc = 0;
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK || !*h)
        rc = sg_errf(err, -EINVAL, "webhook: url #%u is not a valid URL", i);
    else if (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0)
        rc = sg_errf(err, -EINVAL, "webhook: url #%u: only http:// and https:// are allowed", i);
    else
        snprintf(host, hn, "%s", h);
    curl_free(scheme);
    curl_free(h);
    curl_url_cleanup(u);
    return rc;
}

static int opts_check(const struct webhook_opts *o, struct webhook_policy *pol, sg_ms *timeout,
                      struct sg_err *err)
{
    if (!o)
        return sg_errf(err, -EINVAL, "webhook: no options");
    if (o->nurls > WEBHOOK_TARGETS_MAX)
        return sg_errf(err, -E2BIG, "webhook: %u urls, at most %d", o->nurls, WEBHOOK_TARGETS_MAX);
    if (o->nurls && !o->urls)
        return sg_errf(err, -EINVAL, "webhook: urls missing");
    if (o->nurls) {
        size_t sl = o->secret ? strlen(o->secret) : 0;
        if (sl < WEBHOOK_SECRET_MIN || sl > WEBHOOK_SECRET_MAX)
            return sg_errf(err, -EINVAL, "webhook: secret must be %d..%d bytes", WEBHOOK_SECRET_MIN,
                           WEBHOOK_SECRET_MAX);
    }
    *timeout = o->timeout_ms ? o->timeout_ms : WEBHOOK_TIMEOUT_MS;
    pol->base_ms = o->backoff_base_ms ? o->backoff_base_ms : WEBHOOK_BACKOFF_BASE_MS;
    pol->cap_ms = o->backoff_cap_ms ? o->backoff_cap_ms : WEBHOOK_BACKOFF_CAP_MS;
    pol->max_age_ms = o->max_age_ms ? o->max_age_ms : WEBHOOK_MAX_AGE_MS;
    if (*timeout < 1 || *timeout > WEBHOOK_TIMEOUT_MAX_MS)
        return sg_errf(err, -EINVAL, "webhook: timeout must be 1..%d ms", WEBHOOK_TIMEOUT_MAX_MS);
    if (pol->base_ms < 1 || pol->cap_ms < pol->base_ms)
        return sg_errf(err, -EINVAL, "webhook: backoff needs 1 <= base <= cap");
    if (pol->max_age_ms < 1)
        return sg_errf(err, -EINVAL, "webhook: max age must be positive");
    return 0;
}

/* Where a target starts: its cursor file, or the end (or start) of the log. */
static int target_cursor(struct webhook *w, struct target *t, bool oldest, struct sg_err *err)
{
    int64_t seq = 0;
    struct sg_err rerr;
    int rc = cursor_read(w, t, &seq, &rerr);
    if (rc < 0) {
        log_warnx(w->log,
                  "event=webhook.cursor_unreadable target=%u host=%s reason=\"%s\""
                  " action=replay_retained_log",
                  t->idx, t->host, rerr.msg);
        seq = 0;
    } else if (rc == 0) {
        seq = oldest ? 0 : w->last_seq;
    } else if (seq > w->last_seq) {
        log_warnx(w->log,
                  "event=webhook.cursor_ahead target=%u host=%s cursor=%" PRId64
                  " last_seq=%" PRId64 " action=follow_log_end",
                  t->idx, t->host, seq, w->last_seq);
        seq = w->last_seq;
    } else {
        t->st.cursor = seq;
        return 0; /* read as is: no need to rewrite */
    }
    t->st.cursor = seq;
    return cursor_write(w, t, seq, err);
}

static void free_unstarted(struct webhook *w)
{
    for (unsigned i = 0; i < w->n; i++) {
        curl_easy_cleanup(w->t[i].easy);
        free(w->t[i].url);
    }
    if (w->multi)
        curl_multi_cleanup(w->multi);
    if (w->curl_global)
        curl_global_cleanup();
    if (w->dirfd >= 0)
        close(w->dirfd);
    sodium_memzero(w->secret, sizeof w->secret);
    free(w);
}

static int target_init(struct webhook *w, struct target *t, const char *url, bool oldest,
                       struct sg_err *err)
{
    unsigned char h[8];
    char hex[2 * sizeof h + 1];
    crypto_generichash(h, sizeof h, (const unsigned char *)url, strlen(url), NULL, 0);
    sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    snprintf(t->cursor_name, sizeof t->cursor_name, "webhook-%s.cursor", hex);
    t->url = strdup(url);
    t->easy = curl_easy_init();
    if (!t->url || !t->easy)
        return sg_errf(err, -ENOMEM, "webhook: out of memory");
    CURL *e = t->easy;
    if (curl_easy_setopt(e, CURLOPT_URL, t->url) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK)
        return sg_errf(err, -EINVAL, "webhook: url #%u refused by libcurl", t->idx);
    curl_easy_setopt(e, CURLOPT_PRIVATE, (void *)t);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)w->timeout_ms);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(e, CURLOPT_NOPROXY, "localhost,127.0.0.1,::1");
    curl_easy_setopt(e, CURLOPT_USERAGENT, "simgate/" SG_VERSION);
    return target_cursor(w, t, oldest, err);
}

int webhook_new(uv_loop_t *loop, struct store *st, const struct sglog *log,
                const struct webhook_opts *opts, const char *state_dir, struct webhook **out,
                struct sg_err *err)
{
    struct webhook_policy pol;
    sg_ms timeout = 0;
    int rc = opts_check(opts, &pol, &timeout, err);
    if (rc)
        return rc;
    char hosts[WEBHOOK_TARGETS_MAX][HOST_LABEL_MAX];
    for (unsigned i = 0; i < opts->nurls; i++) {
        rc = url_check(i, opts->urls[i], hosts[i], sizeof hosts[i], err);
        if (rc)
            return rc;
        for (unsigned j = 0; j < i; j++)
            if (strcmp(opts->urls[i], opts->urls[j]) == 0)
                return sg_errf(err, -EINVAL, "webhook: url #%u repeats url #%u", i, j);
    }
    if (sodium_init() < 0)
        return sg_errf(err, -EIO, "webhook: libsodium init failed");

    struct webhook *w = calloc(1, sizeof *w);
    if (!w)
        return sg_errf(err, -ENOMEM, "webhook: out of memory");
    w->loop = loop;
    w->st = st;
    w->log = log;
    w->pol = pol;
    w->timeout_ms = timeout;
    w->dirfd = -1;
    if (opts->nurls) {
        w->secret_len = strlen(opts->secret);
        memcpy(w->secret, opts->secret, w->secret_len);
    }
    w->dirfd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (w->dirfd < 0) {
        rc = sg_errf(err, -EIO, "webhook: state dir %s: %s", state_dir, strerror(errno));
        goto fail;
    }
    rc = store_events_last_seq(st, &w->last_seq, err);
    if (rc)
        goto fail;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        rc = sg_errf(err, -EIO, "webhook: libcurl init failed");
        goto fail;
    }
    w->curl_global = true;
    w->multi = curl_multi_init();
    if (!w->multi) {
        rc = sg_errf(err, -ENOMEM, "webhook: out of memory");
        goto fail;
    }
    curl_multi_setopt(w->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(w->multi, CURLMOPT_SOCKETDATA, w);
    curl_multi_setopt(w->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(w->multi, CURLMOPT_TIMERDATA, w);
    for (unsigned i = 0; i < opts->nurls; i++) {
        struct target *t = &w->t[i];
        t->w = w;
        t->idx = i;
        memcpy(t->host, hosts[i], sizeof t->host);
        w->n = i + 1;
        rc = target_init(w, t, opts->urls[i], opts->start_at_oldest, err);
        if (rc)
            goto fail;
    }
    /* From here nothing fails: the loop handles are set up last. */
    uv_timer_init(loop, &w->curl_timer);
    uv_timer_init(loop, &w->kick);
    w->curl_timer.data = w;
    w->kick.data = w;
    w->open_handles = 2;
    for (unsigned i = 0; i < w->n; i++) {
        struct target *t = &w->t[i];
        uv_timer_init(loop, &t->timer);
        t->timer.data = t;
        w->open_handles++;
        t->st.backlog = w->last_seq - t->st.cursor;
        log_info(log, "event=webhook.start target=%u host=%s cursor=%" PRId64 " backlog=%" PRId64,
                 i, t->host, t->st.cursor, t->st.backlog);
    }
    *out = w;
    if (w->n)
        uv_timer_start(&w->kick, on_kick, 0, 0);
    return 0;
fail:
    free_unstarted(w);
    return rc;
}

static void on_closed(uv_handle_t *h)
{
    handle_closed(h->data);
}

void webhook_free(struct webhook *w)
{
    if (!w)
        return;
    w->closing = true;
    for (unsigned i = 0; i < w->n; i++) {
        struct target *t = &w->t[i];
        if (t->state == T_SENDING)
            curl_multi_remove_handle(w->multi, t->easy);
    }
    /* Stop watching every socket before libcurl closes them. */
    while (w->socks)
        sock_close(w, w->socks);
    curl_multi_cleanup(w->multi);
    w->multi = NULL;
    for (unsigned i = 0; i < w->n; i++) {
        struct target *t = &w->t[i];
        curl_easy_cleanup(t->easy);
        curl_slist_free_all(t->hdrs);
        free(t->body);
        free(t->url);
        t->timer.data = w;
        uv_close((uv_handle_t *)&t->timer, on_closed);
    }
    if (w->curl_global)
        curl_global_cleanup();
    close(w->dirfd);
    sodium_memzero(w->secret, sizeof w->secret);
    w->curl_timer.data = w;
    w->kick.data = w;
    uv_close((uv_handle_t *)&w->curl_timer, on_closed);
    uv_close((uv_handle_t *)&w->kick, on_closed);
}
