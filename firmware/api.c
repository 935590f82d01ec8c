#include "firmware/api.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "firmware/api_http.h"
#include "firmware/msisdn.h"

#define LIST_LIMIT_DEFAULT 100
#define LIST_LIMIT_MAX 1000
#define INBOX_LIMIT_MAX 200      /* inbound rows carry text (8 KiB each at most) */
#define EVENTS_LIMIT_MAX 1000
#define KEY_MAX 48

struct limiter {
    char key[KEY_MAX];           /* "" = free slot */
    struct bucket b;
    sg_ms used;
};

/* A long-poll on GET /v1/events. */
struct waiter {
    struct api *a;
    struct api_req *req;
    int64_t after;
    int limit;
    uint64_t deadline;           /* uv_now() ms */
    struct waiter *prev, *next;
};

/* A submit waiting for its group commit. The store calls back with it as
 * ud; req is NULL once the request was dropped, a is NULL once the api is
 * gone (the callback then only frees the ticket). */
struct ticket {
    struct api *a;
    struct api_req *req;
    struct ticket *prev, *next;
};

struct api {
    uv_loop_t *loop;
    struct api_http *http;
    const struct sglog *log;
    struct queue *q;
    struct store *st;
    struct api_provider prov;
    unsigned wait_max_s, waiters_max, submits_max;
    struct bucket_limits client_lim, dest_lim;
    char default_cc[4];
    struct limiter climit[API_LIMITERS_MAX];
    struct limiter dlimit[API_LIMITERS_MAX];
    struct waiter *waiters;
    size_t nwaiters;
    uv_timer_t wtimer;
    uv_check_t flush_check;      /* group commit once per loop turn, after I/O */
    uv_idle_t spin;              /* active while submits wait: the loop must not block */
    int open_handles;
    void (*on_commit)(void *ud, int committed);
    void *commit_ud;
    struct ticket *tickets;
    size_t ntickets;
    uint64_t rate_limited;
    bool freeing;
};

/* ------------------------------------------------------------ pure helpers */

void api_fmt_time(sg_ms t, char *buf, size_t n)
{
    time_t s = (time_t)(t / 1000);
    int ms = (int)(t % 1000);
    if (ms < 0) {
        ms += 1000;
        s--;
    }
    struct tm tm;
    gmtime_r(&s, &tm);
    snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

int api_parse_int(const char *s, int64_t min, int64_t max, int64_t *out)
{
    if (!s || !*s)
        return -EINVAL;
    bool neg = *s == '-';
    const char *p = s + neg;
    if (!*p)
        return -EINVAL;
    int64_t v = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return -EINVAL;
        if (v > (INT64_MAX - (*p - '0')) / 10)
            return -EINVAL;
        v = v * 10 + (*p - '0');
    }
    if (neg)
        v = -v;
    if (v < min || v > max)
        return -EINVAL;
    *out = v;
    return 0;
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* "2026-11-22T15:40:00Z", "2026-11-22T15:40:00.123Z", or "1795880400123". */
int api_parse_time(const char *s, sg_ms *out)
{
    int64_t v;
    if (!s)
        return -EINVAL;
    if (api_parse_int(s, 0, INT64_MAX / 2, &v) == 0) {
        *out = v;
        return 0;
    }
    int Y, M, D, h, m, sec, ms = 0;
    if (strlen(s) < 20 || digits(s, 4, &Y) || s[4] != '-' || digits(s + 5, 2, &M) ||
        s[7] != '-' || digits(s + 8, 2, &D) || (s[10] != 'T' && s[10] != 't') ||
        digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &m) || s[16] != ':' ||
        digits(s + 17, 2, &sec))
        return -EINVAL;
    const char *p = s + 19;
    if (*p == '.') {
        int n = 0, scale = 100;
        for (p++; *p >= '0' && *p <= '9'; p++, n++) {
            ms += (*p - '0') * scale;
            scale /= 10;
        }
        if (n == 0)
            return -EINVAL;
    }
    if ((*p != 'Z' && *p != 'z') || p[1])
        return -EINVAL;
    if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60)
        return -EINVAL;
    struct tm tm = {.tm_year = Y - 1900, .tm_mon = M - 1, .tm_mday = D, .tm_hour = h,
                    .tm_min = m, .tm_sec = sec};
    time_t t = timegm(&tm);
    if (tm.tm_mday != D) /* Feb 30 rolled over */
        return -EINVAL;
    *out = (sg_ms)t * 1000 + ms;
    return 0;
}

static json_t *jtime(sg_ms t)
{
    if (t <= 0 || t == SG_MS_NEVER)
        return json_null();
    char b[40];
    api_fmt_time(t, b, sizeof(b));
    return json_string(b);
}

static json_t *jstr_or_null(const char *s)
{
    return s && *s ? json_string(s) : json_null();
}

/* ------------------------------------------------------------ request bodies */

/*
 * Request bodies are decoded through a table into a fixed struct: every key
 * must be in the table (else 400 unknown_field), of the right JSON type
 * (invalid_type), and strings fit their buffer (too long: the field's
 * long_code). Strings keep their length: JSON allows "\u0000".
 */
enum fkind { FK_STR, FK_BOOL, FK_INT };

struct field_def {
    const char *name;
    enum fkind kind;
    bool required;
    size_t off;          /* char[] / bool / int64_t in the struct */
    size_t len_off;      /* FK_STR: size_t length */
    size_t cap;          /* FK_STR: buffer size (NUL included) */
    int64_t min, max;    /* FK_INT */
    const char *code;    /* error code for a bad value */
    const char *long_code;
};

struct derr {
    const char *code;
    const char *field;
    char msg[160];
    char unknown[64];   /* the unknown key, copied: the JSON is freed before the reply */
};

static int decode_fields(json_t *obj, const struct field_def *defs, size_t n, void *out,
                         struct derr *e)
{
    const char *key;
    json_t *v;
    unsigned have = 0;
    char *base = out;
    json_object_foreach(obj, key, v)
    {
        size_t i = 0;
        while (i < n && strcmp(defs[i].name, key) != 0)
            i++;
        if (i == n) {
            e->code = "unknown_field";
            /* Cut at a UTF-8 boundary so the reply stays valid JSON text. */
            size_t k = strlen(key);
            if (k >= sizeof(e->unknown)) {
                k = sizeof(e->unknown) - 1;
                while (k > 0 && ((unsigned char)key[k] & 0xC0) == 0x80)
                    k--;
            }
            memcpy(e->unknown, key, k);
            e->unknown[k] = '\0';
            e->field = e->unknown;
            snprintf(e->msg, sizeof(e->msg), "unknown field \"%s\"", e->unknown);
            return -EINVAL;
        }
        const struct field_def *d = &defs[i];
        e->field = d->name;
        have |= 1u << i;
        switch (d->kind) {
        case FK_STR: {
            if (!json_is_string(v)) {
                e->code = "invalid_type";
                snprintf(e->msg, sizeof(e->msg), "%s must be a string", d->name);
                return -EINVAL;
            }
            size_t len = json_string_length(v);
            if (len >= d->cap) {
                e->code = d->long_code ? d->long_code : d->code;
                snprintf(e->msg, sizeof(e->msg), "%s is longer than %zu bytes", d->name,
                         d->cap - 1);
                return -E2BIG;
            }
            memcpy(base + d->off, json_string_value(v), len);
            base[d->off + len] = '\0';
            memcpy(base + d->len_off, &len, sizeof(len));
            break;
        }
        case FK_BOOL:
            if (!json_is_boolean(v)) {
                e->code = "invalid_type";
                snprintf(e->msg, sizeof(e->msg), "%s must be true or false", d->name);
                return -EINVAL;
            }
            *(bool *)(void *)(base + d->off) = json_is_true(v);
            break;
        case FK_INT: {
            if (!json_is_integer(v)) {
                e->code = json_is_number(v) ? d->code : "invalid_type";
                snprintf(e->msg, sizeof(e->msg), "%s must be an integer", d->name);
                return -EINVAL;
            }
            json_int_t x = json_integer_value(v);
            if (x < d->min || x > d->max) {
                e->code = d->code;
                snprintf(e->msg, sizeof(e->msg), "%s must be %lld..%lld", d->name,
                         (long long)d->min, (long long)d->max);
                return -ERANGE;
            }
            int64_t x64 = x;
            memcpy(base + d->off, &x64, sizeof(x64));
            break;
        }
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (defs[i].required && !(have & (1u << i))) {
            e->code = "missing_field";
            e->field = defs[i].name;
            snprintf(e->msg, sizeof(e->msg), "%s is required", defs[i].name);
            return -EINVAL;
        }
    }
    return 0;
}

struct submit_body {
    char to[MSISDN_MAX_INPUT + 1];
    size_t to_len;
    char text[STORE_TEXT_MAX];
    size_t text_len;
    char priority[16];
    size_t priority_len;
    int64_t ttl;                 /* seconds, 0 = default */
    bool status_report;
    bool smart_encoding;
};

#define SB(f) offsetof(struct submit_body, f)
static const struct field_def submit_fields[] = {
    {"to", FK_STR, true, SB(to), SB(to_len), sizeof(((struct submit_body *)0)->to), 0, 0,
     "invalid_number", NULL},
    {"text", FK_STR, true, SB(text), SB(text_len), STORE_TEXT_MAX, 0, 0, "invalid_text",
     "text_too_long"},
    {"priority", FK_STR, false, SB(priority), SB(priority_len), 16, 0, 0, "invalid_priority",
     NULL},
    {"ttl", FK_INT, false, SB(ttl), 0, 0, 1, 366LL * 86400, "invalid_ttl", NULL},
    {"status_report", FK_BOOL, false, SB(status_report), 0, 0, 0, 0, "invalid_type", NULL},
    {"smart_encoding", FK_BOOL, false, SB(smart_encoding), 0, 0, 0, 0, "invalid_type", NULL},
};
#undef SB

/* Parses a JSON object body. On failure answers 400 and returns NULL. */
static json_t *body_object(struct api_req *req)
{
    size_t len;
    const char *body = api_req_body(req, &len);
    if (len == 0) {
        api_req_error(req, 400, "malformed_json", NULL, "a JSON object body is required");
        return NULL;
    }
    json_error_t je;
    json_t *v = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
    if (!v) {
        api_req_error(req, 400, "malformed_json", NULL, "line %d column %d: %s", je.line,
                      je.column, je.text);
        return NULL;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        api_req_error(req, 400, "malformed_json", NULL, "the body must be a JSON object");
        return NULL;
    }
    return v;
}

/* ------------------------------------------------------------ rate limits */

static struct limiter *limiter_get(struct limiter *tab, const char *key,
                                   const struct bucket_limits *lim, sg_ms now)
{
    struct limiter *lru = &tab[0];
    for (size_t i = 0; i < API_LIMITERS_MAX; i++) {
        if (strcmp(tab[i].key, key) == 0) {
            tab[i].used = now;
            return &tab[i];
        }
        if (!tab[i].key[0] || (lru->key[0] && tab[i].used < lru->used))
            lru = &tab[i];
    }
    /* The least recently used client starts over with a full bucket: with
     * API_LIMITERS_MAX slots only a crowd of callers can make that matter. */
    snprintf(lru->key, sizeof(lru->key), "%s", key);
    bucket_init(&lru->b, lim, now);
    lru->used = now;
    return lru;
}

/* True (and 429 answered) when key is over its limit; else one token taken. */
static bool rate_limited(struct api *a, struct api_req *req, struct limiter *tab,
                         const struct bucket_limits *lim, const char *key, const char *what)
{
    if (!lim->rate_per_min)
        return false;
    sg_ms now = sg_clock_wall_ms(), when = 0;
    struct limiter *l = limiter_get(tab, key, lim, now);
    if (bucket_check(&l->b, 1, now, &when) != BUCKET_OK) {
        long long secs = when == SG_MS_NEVER ? 60 : (when - now + 999) / 1000;
        char ra[24];
        snprintf(ra, sizeof(ra), "%lld", secs < 1 ? 1 : secs);
        api_req_header_add(req, "Retry-After", ra);
        a->rate_limited++;
        api_req_error(req, 429, "rate_limited", NULL, "%s rate limit (%u per minute) reached",
                      what, lim->rate_per_min);
        return true;
    }
    bucket_take(&l->b, 1, now);
    return false;
}

static void client_key(const struct api_req *req, char *key, size_t n)
{
    const struct api_peer *p = api_req_peer(req);
    if (p->tcp)
        snprintf(key, n, "token:%d", p->token);
    else if (p->has_cred)
        snprintf(key, n, "uid:%ld", (long)p->uid);
    else
        snprintf(key, n, "unix");
}

/* ------------------------------------------------------------ common answers */

static void answer_store_error(struct api_req *req, int rc, const struct sg_err *err)
{
    if (store_err_unavailable(rc) || rc == -EBUSY || rc == -ECANCELED) {
        api_req_header_add(req, "Retry-After", "1");
        api_req_error(req, 503, "unavailable", NULL, "the store cannot serve this now: %s",
                      err ? err->msg : "");
        return;
    }
    api_req_error(req, 500, "internal", NULL, "%s", err ? err->msg : "internal error");
}

static int parse_id(struct api_req *req, const char *arg, int64_t *id)
{
    if (api_parse_int(arg, 1, INT64_MAX, id) != 0) {
        api_req_error(req, 400, "invalid_id", "id", "a message id is a positive integer");
        return -EINVAL;
    }
    return 0;
}

/* Optional integer query parameter; answers 400 on a bad value. */
static int query_int(struct api_req *req, const char *name, int64_t min, int64_t max,
                     int64_t def, int64_t *out)
{
    const char *s = api_req_query(req, name);
    *out = def;
    if (!s)
        return 0;
    if (api_parse_int(s, min, max, out) != 0) {
        api_req_error(req, 400, "invalid_parameter", name, "%s must be an integer in %lld..%lld",
                      name, (long long)min, (long long)max);
        return -EINVAL;
    }
    return 0;
}

static int query_time(struct api_req *req, const char *name, sg_ms *out)
{
    const char *s = api_req_query(req, name);
    *out = 0;
    if (s && api_parse_time(s, out) != 0) {
        api_req_error(req, 400, "invalid_parameter", name,
                      "%s must be RFC 3339 UTC (2026-11-22T15:40:00Z) or Unix milliseconds", name);
        return -EINVAL;
    }
    return 0;
}

/* ------------------------------------------------------------ POST /v1/messages */

static void ticket_unlink(struct ticket *t)
{
    struct api *a = t->a;
    if (t->prev)
        t->prev->next = t->next;
    else if (a->tickets == t)
        a->tickets = t->next;
    if (t->next)
        t->next->prev = t->prev;
    t->prev = t->next = NULL;
    a->ntickets--;
}

static void ticket_abort(void *ud, struct api_req *req)
{
    (void)req;
    struct ticket *t = ud;
    t->req = NULL;
}

static void on_committed(void *ud, const struct store_accept_result *r)
{
    struct ticket *t = ud;
    struct api_req *req = t->req;
    if (t->a)
        ticket_unlink(t);
    free(t);
    if (!req)
        return;
    api_req_on_abort(req, NULL, NULL);
    if (r->rc == -EEXIST) {
        api_req_error(req, 409, "idempotency_conflict", "idempotency_key",
                      "this Idempotency-Key was used for message %lld with other parameters",
                      (long long)r->id);
        return;
    }
    if (r->rc != 0) {
        answer_store_error(req, r->rc, &r->err);
        return;
    }
    char loc[48];
    snprintf(loc, sizeof(loc), "/v1/messages/%lld", (long long)r->id);
    api_req_header_add(req, "Location", loc);
    api_req_log_note(req, "id=%lld parts=%d%s", (long long)r->id, r->parts,
                     r->replay ? " replay=yes" : "");
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(r->id));
    json_object_set_new(o, "status", json_string(store_state_name(r->state)));
    json_object_set_new(o, "parts", json_integer(r->parts));
    json_object_set_new(o, "encoding", json_string(r->encoding));
    if (r->replay)
        json_object_set_new(o, "replayed", json_true());
    api_req_reply_json(req, 202, o);
}

static const char *submit_code(const char *field, int rc)
{
    if (rc == -E2BIG)
        return "text_too_long";
    if (!field)
        return "invalid_request";
    if (strcmp(field, "to") == 0)
        return "invalid_number";
    if (strcmp(field, "text") == 0)
        return "invalid_text";
    if (strcmp(field, "priority") == 0)
        return "invalid_priority";
    if (strcmp(field, "ttl") == 0)
        return "invalid_ttl";
    if (strcmp(field, "idempotency_key") == 0)
        return "invalid_idempotency_key";
    return "invalid_request";
}

static void on_spin(uv_idle_t *h)
{
    (void)h;
}

static void h_submit(void *ud, struct api_req *req, const char *arg)
{
    (void)arg;
    struct api *a = ud;
    char key[KEY_MAX];
    client_key(req, key, sizeof(key));
    if (rate_limited(a, req, a->climit, &a->client_lim, key, "client"))
        return;
    json_t *obj = body_object(req);
    if (!obj)
        return;
    struct submit_body *b = calloc(1, sizeof(*b));
    if (!b) {
        json_decref(obj);
        api_req_error(req, 503, "unavailable", NULL, "out of memory");
        return;
    }
    struct derr de = {0};
    b->priority_len = SIZE_MAX; /* stays so when the field is absent */
    int rc = decode_fields(obj, submit_fields, sizeof(submit_fields) / sizeof(submit_fields[0]),
                           b, &de);
    json_decref(obj);
    if (rc) {
        api_req_error(req, 400, de.code, de.field, "%s", de.msg);
        goto out;
    }
    if (b->text_len == 0) {
        api_req_error(req, 400, "invalid_text", "text", "text is empty");
        goto out;
    }
    bool has_prio = b->priority_len != SIZE_MAX;
    int prio = has_prio ? store_prio_parse(b->priority) : STORE_PRIO_NORMAL;
    if (prio < 0 || (has_prio && strlen(b->priority) != b->priority_len)) {
        api_req_error(req, 400, "invalid_priority", "priority",
                      "priority must be otp, urgent, normal or bulk");
        goto out;
    }
    const char *idem = api_req_header(req, "Idempotency-Key");
    if (idem && strlen(idem) > STORE_IDEM_KEY_MAX) {
        api_req_error(req, 400, "invalid_idempotency_key", "idempotency_key",
                      "Idempotency-Key is longer than %d bytes", STORE_IDEM_KEY_MAX);
        goto out;
    }
    char e164[MSISDN_BUF];
    if (a->dest_lim.rate_per_min &&
        msisdn_normalise_n(b->to, b->to_len, a->default_cc, e164, NULL) == 0 &&
        rate_limited(a, req, a->dlimit, &a->dest_lim, e164, "destination"))
        goto out;
    if (a->ntickets >= a->submits_max) {
        api_req_header_add(req, "Retry-After", "1");
        api_req_error(req, 503, "unavailable", NULL, "too many submits waiting for a commit");
        goto out;
    }
    struct ticket *t = calloc(1, sizeof(*t));
    if (!t) {
        api_req_error(req, 503, "unavailable", NULL, "out of memory");
        goto out;
    }
    struct queue_submit qs = {
        .to = b->to,
        .to_len = b->to_len,
        .text = b->text,
        .text_len = b->text_len,
        .prio = (enum store_prio)prio,
        .ttl_ms = b->ttl * 1000,
        .status_report = b->status_report,
        .smart_encoding = b->smart_encoding,
        .idem_key = idem,
    };
    const char *field = NULL;
    struct sg_err err = {0};
    char masked[MSISDN_MASK_BUF];
    api_req_log_note(req, "to=%s prio=%s", msisdn_mask(b->to, masked), store_prio_name(qs.prio));
    rc = queue_submit(a->q, &qs, sg_clock_wall_ms(), on_committed, t, &field, &err);
    if (rc) {
        free(t);
        if (rc == -EINVAL || rc == -EILSEQ || rc == -E2BIG)
            api_req_error(req, 400, submit_code(field, rc), field, "%s", err.msg);
        else
            answer_store_error(req, rc, &err);
        goto out;
    }
    t->a = a;
    t->req = req;
    t->next = a->tickets;
    if (t->next)
        t->next->prev = t;
    a->tickets = t;
    a->ntickets++;
    api_req_on_abort(req, ticket_abort, t);
    /* A submit read from a timer callback would otherwise wait for the next
     * I/O event before the check handle runs the commit. */
    uv_idle_start(&a->spin, on_spin);
out:
    free(b);
}

/* ------------------------------------------------------------ messages: read, cancel */

static int part_cb(void *ud, const struct store_part *p)
{
    static const char *const names[] = {"pending", "sent", "delivered", "undelivered"};
    json_t *o = json_object();
    json_object_set_new(o, "seq", json_integer(p->seq));
    json_object_set_new(o, "status",
                        json_string((unsigned)p->status < 4 ? names[p->status] : "?"));
    json_object_set_new(o, "iccid", jstr_or_null(p->iccid));
    json_object_set_new(o, "modem", jstr_or_null(p->modem));
    json_object_set_new(o, "mr", p->mr >= 0 ? json_integer(p->mr) : json_null());
    json_object_set_new(o, "sent_at", jtime(p->sent_at));
    json_object_set_new(o, "dlr_status", p->dlr_st >= 0 ? json_integer(p->dlr_st) : json_null());
    json_object_set_new(o, "dlr_at", jtime(p->dlr_at));
    json_array_append_new(ud, o);
    return 0;
}

static int hist_cb(void *ud, const struct store_hist *h)
{
    json_t *o = json_object();
    json_object_set_new(o, "at", jtime(h->at));
    json_object_set_new(o, "from", h->from >= 0 ? json_string(store_state_name(
                                                      (enum store_state)h->from))
                                                : json_null());
    json_object_set_new(o, "to", json_string(store_state_name(h->to)));
    json_object_set_new(o, "modem", jstr_or_null(h->modem));
    json_object_set_new(o, "iccid", jstr_or_null(h->iccid));
    json_object_set_new(o, "mr", h->mr >= 0 ? json_integer(h->mr) : json_null());
    json_object_set_new(o, "cause", jstr_or_null(h->cause));
    json_array_append_new(ud, o);
    return 0;
}

static json_t *msg_summary(const struct store_msg *m)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(m->id));
    json_object_set_new(o, "to", json_string(m->to));
    json_object_set_new(o, "status", json_string(store_state_name(m->state)));
    json_object_set_new(o, "priority", json_string(store_prio_name(m->prio)));
    json_object_set_new(o, "encoding", json_string(m->encoding));
    json_object_set_new(o, "part_count", json_integer(m->parts));
    json_object_set_new(o, "attempts", json_integer(m->attempts));
    json_object_set_new(o, "last_error", jstr_or_null(m->last_error));
    json_object_set_new(o, "modem", jstr_or_null(m->modem));
    json_object_set_new(o, "iccid", jstr_or_null(m->iccid));
    json_object_set_new(o, "created_at", jtime(m->created_at));
    json_object_set_new(o, "updated_at", jtime(m->updated_at));
    json_object_set_new(o, "expires_at", jtime(m->expires_at));
    return o;
}

static void h_get(void *ud, struct api_req *req, const char *arg)
{
    struct api *a = ud;
    int64_t id;
    if (parse_id(req, arg, &id))
        return;
    struct store_msg *m = malloc(sizeof(*m));
    if (!m) {
        api_req_error(req, 503, "unavailable", NULL, "out of memory");
        return;
    }
    struct sg_err err = {0};
    int rc = store_msg_get(a->st, id, m, &err);
    if (rc == -ENOENT) {
        api_req_error(req, 404, "not_found", "id", "no message %lld", (long long)id);
        free(m);
        return;
    }
    if (rc) {
        answer_store_error(req, rc, &err);
        free(m);
        return;
    }
    json_t *o = msg_summary(m);
    json_object_set_new(o, "text", json_stringn(m->text, strlen(m->text)));
    json_object_set_new(o, "ttl", json_integer(m->ttl_ms / 1000));
    json_object_set_new(o, "status_report", json_boolean(m->status_report));
    json_object_set_new(o, "idempotency_key", jstr_or_null(m->idem_key));
    json_object_set_new(o, "next_attempt_at",
                        m->state == STORE_QUEUED ? jtime(m->next_attempt_at) : json_null());
    json_t *parts = json_array(), *hist = json_array();
    rc = store_parts(a->st, id, part_cb, parts, &err);
    if (rc >= 0)
        rc = store_history(a->st, id, hist_cb, hist, &err);
    json_object_set_new(o, "parts", parts);
    json_object_set_new(o, "history", hist);
    free(m);
    if (rc < 0) {
        json_decref(o);
        answer_store_error(req, rc, &err);
        return;
    }
    api_req_reply_json(req, 200, o);
}

struct list_ctx {
    json_t *arr;
    int64_t last;
};

static int list_cb(void *ud, const struct store_msg *m)
{
    struct list_ctx *c = ud;
    json_array_append_new(c->arr, msg_summary(m));
    c->last = m->id;
    return 0;
}

static void reply_page(struct api_req *req, const char *name, json_t *arr, int64_t last,
                       int64_t limit)
{
    json_t *o = json_object();
    json_object_set_new(o, name, arr);
    /* A full page may have a successor: pass next_after as `after`. */
    json_object_set_new(o, "next_after",
                        (int64_t)json_array_size(arr) == limit ? json_integer(last) : json_null());
    api_req_reply_json(req, 200, o);
}

static void h_list(void *ud, struct api_req *req, const char *arg)
{
    (void)arg;
    struct api *a = ud;
    struct store_filter f = {.state = -1};
    const char *status = api_req_query(req, "status");
    if (status) {
        f.state = store_state_parse(status);
        if (f.state < 0) {
            api_req_error(req, 400, "invalid_parameter", "status", "unknown status");
            return;
        }
    }
    int64_t after, limit;
    if (query_time(req, "since", &f.since) ||
        query_int(req, "after", 0, INT64_MAX, 0, &after) ||
        query_int(req, "limit", 1, LIST_LIMIT_MAX, LIST_LIMIT_DEFAULT, &limit))
        return;
    f.after_id = after;
    f.limit = (int)limit;
    struct list_ctx c = {.arr = json_array()};
    struct sg_err err = {0};
    int rc = store_list(a->st, &f, list_cb, &c, &err);
    if (rc < 0) {
        json_decref(c.arr);
        answer_store_error(req, rc, &err);
        return;
    }
    reply_page(req, "messages", c.arr, c.last, limit);
}

static void h_cancel(void *ud, struct api_req *req, const char *arg)
{
    struct api *a = ud;
    int64_t id;
    if (parse_id(req, arg, &id))
        return;
    api_req_log_note(req, "id=%lld", (long long)id);
    struct sg_err err = {0};
    int rc = queue_cancel(a->q, id, "canceled by API request", sg_clock_wall_ms(), &err);
    if (rc == -ENOENT) {
        api_req_error(req, 404, "not_found", "id", "no message %lld", (long long)id);
        return;
    }
    if (rc == -EALREADY || rc == -ESTALE) {
        api_req_error(req, 409, "too_late", "id", "message %lld can no longer be canceled: %s",
                      (long long)id, err.msg);
        return;
    }
    if (rc) {
        answer_store_error(req, rc, &err);
        return;
    }
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(id));
    json_object_set_new(o, "status", json_string("canceled"));
    api_req_reply_json(req, 200, o);
}

/* ------------------------------------------------------------ inbox */

struct inbox_ctx {
    json_t *arr;
    int64_t last;
};

static int inbox_cb(void *ud, const struct store_inbound *in)
{
    struct inbox_ctx *c = ud;
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(in->id));
    json_object_set_new(o, "from", json_string(in->from));
    json_t *t = json_string(in->text);
    json_object_set_new(o, "text", t ? t : json_string(""));
    json_object_set_new(o, "received_at", jtime(in->received_at));
    json_object_set_new(o, "smsc_at", jtime(in->smsc_ts));
    json_object_set_new(o, "parts", json_integer(in->concat_total > 0 ? in->concat_total : 1));
    json_object_set_new(o, "iccid", jstr_or_null(in->iccid));
    json_object_set_new(o, "modem", jstr_or_null(in->modem));
    json_array_append_new(c->arr, o);
    c->last = in->id;
    return 0;
}

static void h_inbox(void *ud, struct api_req *req, const char *arg)
{
    (void)arg;
    struct api *a = ud;
    sg_ms since;
    int64_t after, limit;
    if (query_time(req, "since", &since) || query_int(req, "after", 0, INT64_MAX, 0, &after) ||
        query_int(req, "limit", 1, INBOX_LIMIT_MAX, LIST_LIMIT_DEFAULT, &limit))
        return;
    struct inbox_ctx c = {.arr = json_array()};
    struct sg_err err = {0};
    int rc = store_inbound_list(a->st, since, after, (int)limit, inbox_cb, &c, &err);
    if (rc < 0) {
        json_decref(c.arr);
        answer_store_error(req, rc, &err);
        return;
    }
    reply_page(req, "messages", c.arr, c.last, limit);
}

/* ------------------------------------------------------------ events (long-poll) */

struct ev_ctx {
    json_t *arr;
    int64_t last;
};

static int event_cb(void *ud, const struct store_event *e)
{
    struct ev_ctx *c = ud;
    json_t *o = json_object();
    json_object_set_new(o, "seq", json_integer(e->seq));
    json_object_set_new(o, "at", jtime(e->at));
    json_object_set_new(o, "type", json_string(e->type ? e->type : "?"));
    json_object_set_new(o, "message_id", e->msg_id ? json_integer(e->msg_id) : json_null());
    json_t *data = e->json ? json_loads(e->json, 0, NULL) : NULL;
    json_object_set_new(o, "data", data ? data : json_object());
    json_array_append_new(c->arr, o);
    c->last = e->seq;
    return 0;
}

/* Reads events after `after`; answers and returns 1 when there are some (or
 * `force`), 0 when none (nothing answered), < 0 after answering an error. */
static int events_answer(struct api *a, struct api_req *req, int64_t after, int limit, bool force)
{
    struct ev_ctx c = {.arr = json_array(), .last = after};
    struct sg_err err = {0};
    int rc = store_events_after(a->st, after, limit, event_cb, &c, &err);
    if (rc < 0) {
        json_decref(c.arr);
        answer_store_error(req, rc, &err);
        return rc;
    }
    if (rc == 0 && !force) {
        json_decref(c.arr);
        return 0;
    }
    json_t *o = json_object();
    json_object_set_new(o, "events", c.arr);
    json_object_set_new(o, "last_seq", json_integer(c.last));
    api_req_reply_json(req, 200, o);
    return 1;
}

static void waiter_unlink(struct waiter *w)
{
    struct api *a = w->a;
    if (w->prev)
        w->prev->next = w->next;
    else if (a->waiters == w)
        a->waiters = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->prev = w->next = NULL;
    a->nwaiters--;
}

static void on_wait_timer(uv_timer_t *t);

static void waiters_rearm(struct api *a)
{
    if (a->freeing)
        return;
    uint64_t first = UINT64_MAX;
    for (struct waiter *w = a->waiters; w; w = w->next)
        if (w->deadline < first)
            first = w->deadline;
    if (first == UINT64_MAX) {
        uv_timer_stop(&a->wtimer);
        return;
    }
    uint64_t now = uv_now(a->loop);
    uv_timer_start(&a->wtimer, on_wait_timer, first > now ? first - now : 0, 0);
}

static void waiter_answer(struct waiter *w, bool force)
{
    struct api_req *req = w->req;
    waiter_unlink(w);
    api_req_on_abort(req, NULL, NULL);
    events_answer(w->a, req, w->after, w->limit, force);
    free(w);
}

static void on_wait_timer(uv_timer_t *t)
{
    struct api *a = t->data;
    uv_update_time(a->loop);
    uint64_t now = uv_now(a->loop);
    struct waiter *w = a->waiters;
    while (w) {
        struct waiter *next = w->next;
        if (w->deadline <= now)
            waiter_answer(w, true);
        w = next;
    }
    waiters_rearm(a);
}

static void waiter_abort(void *ud, struct api_req *req)
{
    (void)req;
    struct waiter *w = ud;
    struct api *a = w->a;
    waiter_unlink(w);
    free(w);
    waiters_rearm(a);
}

void api_notify_events(struct api *a, int64_t last_seq)
{
    if (!a)
        return;
    struct waiter *w = a->waiters;
    while (w) {
        struct waiter *next = w->next;
        if (w->after < last_seq)
            waiter_answer(w, true);
        w = next;
    }
    waiters_rearm(a);
}

static void h_events(void *ud, struct api_req *req, const char *arg)
{
    (void)arg;
    struct api *a = ud;
    int64_t after, limit, wait;
    if (query_int(req, "after", 0, INT64_MAX, 0, &after) ||
        query_int(req, "limit", 1, EVENTS_LIMIT_MAX, LIST_LIMIT_DEFAULT, &limit) ||
        query_int(req, "wait", 0, INT32_MAX, 0, &wait))
        return;
    if (wait > a->wait_max_s)
        wait = a->wait_max_s; /* documented cap; the client simply polls again */
    if (events_answer(a, req, after, (int)limit, wait == 0) != 0)
        return;
    if (a->nwaiters >= a->waiters_max) {
        api_req_header_add(req, "Retry-After", "1");
        api_req_error(req, 429, "too_many_waiters", "wait",
                      "%u long-polls are already waiting", a->waiters_max);
        return;
    }
    struct waiter *w = calloc(1, sizeof(*w));
    if (!w) {
        api_req_error(req, 503, "unavailable", NULL, "out of memory");
        return;
    }
    uv_update_time(a->loop);
    w->a = a;
    w->req = req;
    w->after = after;
    w->limit = (int)limit;
    w->deadline = uv_now(a->loop) + (uint64_t)wait * 1000;
    w->next = a->waiters;
    if (w->next)
        w->next->prev = w;
    a->waiters = w;
    a->nwaiters++;
    api_req_on_abort(req, waiter_abort, w);
    waiters_rearm(a);
}

/* ------------------------------------------------------------ modems, SIMs, health */

static int get_modems(struct api *a, struct api_modem_info *m, int max)
{
    if (!a->prov.modems)
        return 0;
    int n = a->prov.modems(a->prov.ud, m, max);
    return n < 0 ? n : (n > max ? max : n);
}

static void h_modems(void *ud, struct api_req *req, const char *arg)
{
    (void)arg;
    struct api *a = ud;
    struct api_modem_info *m = calloc(API_MODEMS_MAX, sizeof(*m));
    int n = m ? get_modems(a, m, API_MODEMS_MAX) : -ENOMEM;
    if (n < 0) {
        free(m);
        api_req_error(req, 503, "unavailable", NULL, "modem information is not available");
        return;
    }
    json_t *arr = json_array();
    for (int i = 0; i < n; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "id", json_string(m[i].id));
        json_object_set_new(o, "state", json_string(m[i].state));
        json_object_set_new(o, "ready", json_boolean(m[i].ready));
        json_object_set_new(o, "vendor", jstr_or_null(m[i].vendor));
        json_object_set_new(o, "model", jstr_or_null(m[i].model));
        json_object_set_new(o, "signal_dbm",
                            m[i].has_signal ? json_integer(m[i].signal_dbm) : json_null());
        json_object_set_new(o, "band", jstr_or_null(m[i].band));
        json_object_set_new(o, "registration", jstr_or_null(m[i].registration));
        json_object_set_new(o, "operator", jstr_or_null(m[i].operator_name));
        json_object_set_new(o, "last_error", jstr_or_null(m[i].last_error));
        json_object_set_new(o, "iccid", jstr_or_null(m[i].iccid));
        json_array_append_new(arr, o);
    }
    free(m);
    json_t *o = json_object();
    json_object_set_new(o, "modems", arr);
    api_req_reply_json(req, 200, o);
}

struct sims_ctx {
    struct api_sim_info *s;
    int n, max;
};

static int sim_row_cb(void *ud, const struct store_sim *s)
{
    static const char *const breaker[] = {"closed", "open", "half-open"};
    struct sims_ctx *c = ud;
    if (c->n >= c->max)
        return 1;
    struct api_sim_info *o = &c->s[c->n++];
    snprintf(o->iccid, sizeof(o->iccid), "%s", s->iccid);
    snprintf(o->imsi, sizeof(o->imsi), "%s", s->imsi);
    snprintf(o->msisdn, sizeof(o->msisdn), "%s", s->msisdn);
    snprintf(o->label, sizeof(o->label), "%s", s->label);
    o->enabled = true;
    snprintf(o->breaker, sizeof(o->breaker), "%s",
             (unsigned)s->breaker_state < 3 ? breaker[s->breaker_state] : "?");
    o->sent_today = (uint32_t)s->sent_day;
    o->sent_month = (uint32_t)s->sent_month;
    o->daily_left = o->monthly_left = UINT32_MAX;
    o->consec_failures = s->consec_failures;
    o->last_used_at = s->last_used_at;
    return 0;
}

static json_t *jleft(uint32_t v)
{
    return v == UINT32_MAX ? json_null() : json_integer(v);
}

static int get_sims(struct api *a, struct api_sim_info *s, int max)
{
    if (a->prov.sims) {
        int n = a->prov.sims(a->prov.ud, s, max);
        return n < 0 ? n : (n > max ? max : n);
    }
    struct sims_ctx c = {.s = s, .max = max};
    int rc = store_sim_list(a->st, sim_row_cb, &c, NULL);
    return rc < 0 ? rc : c.n;
}

static void h_sims(void *ud, struct api_req *req, const char *arg)
{
    (void)arg;
    struct api *a = ud;
    struct api_sim_info *s = calloc(API_SIMS_MAX, sizeof(*s));
    int n = s ? get_sims(a, s, API_SIMS_MAX) : -ENOMEM;
    if (n < 0) {
        free(s);
        answer_store_error(req, n, NULL);
        return;
    }
    json_t *arr = json_array();
    for (int i = 0; i < n; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "iccid", json_string(s[i].iccid));
        json_object_set_new(o, "imsi", jstr_or_null(s[i].imsi));
        json_object_set_new(o, "msisdn", jstr_or_null(s[i].msisdn));
        json_object_set_new(o, "label", jstr_or_null(s[i].label));
        json_object_set_new(o, "modem", jstr_or_null(s[i].modem));
        json_object_set_new(o, "enabled", json_boolean(s[i].enabled));
        json_object_set_new(o, "breaker", jstr_or_null(s[i].breaker));
        json_object_set_new(o, "sent_today", json_integer(s[i].sent_today));
        json_object_set_new(o, "sent_month", json_integer(s[i].sent_month));
        json_object_set_new(o, "daily_left", jleft(s[i].daily_left));
        json_object_set_new(o, "monthly_left", jleft(s[i].monthly_left));
        json_object_set_new(o, "rate_per_min",
                            s[i].rate_per_min ? json_integer(s[i].rate_per_min) : json_null());
        json_object_set_new(o, "sent_total", json_integer((json_int_t)s[i].sent_total));
        json_object_set_new(o, "failed_total", json_integer((json_int_t)s[i].failed_total));
        json_object_set_new(o, "consecutive_failures", json_integer(s[i].consec_failures));
        json_object_set_new(o, "last_used_at", jtime(s[i].last_used_at));
        json_array_append_new(arr, o);
    }
    free(s);
    json_t *o = json_object();
    json_object_set_new(o, "sims", arr);
    api_req_reply_json(req, 200, o);
}

static void h_health(void *ud, struct api_req *req, const char *arg)
{
    (void)arg;
    struct api *a = ud;
    json_t *reasons = json_array();
    struct api_modem_info *m = calloc(API_MODEMS_MAX, sizeof(*m));
    int n = m ? get_modems(a, m, API_MODEMS_MAX) : -ENOMEM;
    int ready = 0;
    char line[320];
    if (n < 0)
        json_array_append_new(reasons, json_string("modem information is not available"));
    else if (n == 0)
        json_array_append_new(reasons, json_string("no modem is configured or detected"));
    for (int i = 0; i < n; i++) {
        if (m[i].ready) {
            ready++;
            continue;
        }
        snprintf(line, sizeof(line), "modem %s is %s%s%s", m[i].id, m[i].state,
                 m[i].last_error[0] ? ": " : "", m[i].last_error);
        json_t *s = json_string(line);
        json_array_append_new(reasons, s ? s : json_string("modem not ready"));
    }
    free(m);
    int64_t seq = 0;
    struct sg_err err = {0};
    bool store_ok = store_events_last_seq(a->st, &seq, &err) == 0;
    if (!store_ok) {
        snprintf(line, sizeof(line), "store: %s", err.msg);
        json_array_append_new(reasons, json_string(line));
    }
    bool ok = ready > 0 && store_ok;
    json_t *o = json_object();
    json_object_set_new(o, "status", json_string(ok ? "ok" : "unavailable"));
    json_object_set_new(o, "modems_ready", json_integer(ready));
    json_object_set_new(o, "modems", json_integer(n > 0 ? n : 0));
    json_object_set_new(o, "last_event_seq", store_ok ? json_integer(seq) : json_null());
    json_object_set_new(o, "reasons", reasons);
    api_req_reply_json(req, ok ? 200 : 503, o);
}

/* ------------------------------------------------------------ metrics */

struct api_metrics {
    char *buf;
    size_t len, cap;
    bool oom;
};

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
void api_metrics_printf(struct api_metrics *m, const char *fmt, ...)
{
    for (;;) {
        if (m->oom)
            return;
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(m->buf + m->len, m->cap - m->len, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if ((size_t)n < m->cap - m->len) {
            m->len += (size_t)n;
            return;
        }
        size_t cap = m->cap * 2 + (size_t)n;
        char *b = realloc(m->buf, cap);
        if (!b) {
            m->oom = true;
            return;
        }
        m->buf = b;
        m->cap = cap;
    }
}
#pragma GCC diagnostic pop

/* Prometheus label values: backslash, quote and newline escaped; at most 63 bytes. */
static const char *label(const char *in, char *out, size_t n)
{
    size_t o = 0;
    for (; *in && o + 3 < n; in++) {
        if (*in == '\\' || *in == '"') {
            out[o++] = '\\';
            out[o++] = *in;
        } else if (*in == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else {
            out[o++] = *in;
        }
    }
    out[o] = '\0';
    return out;
}

static void metrics_store(struct api *a, struct api_metrics *mb)
{
    int64_t counts[STORE_STATE_COUNT] = {0}, depth[STORE_PRIO_COUNT] = {0};
    if (store_state_counts(a->st, counts, NULL) == 0) {
        api_metrics_printf(mb, "# HELP simgate_messages Messages in the store by state.\n"
                               "# TYPE simgate_messages gauge\n");
        for (int i = 0; i < STORE_STATE_COUNT; i++)
            api_metrics_printf(mb, "simgate_messages{state=\"%s\"} %lld\n",
                               store_state_name((enum store_state)i), (long long)counts[i]);
    }
    if (store_queued_counts(a->st, depth, NULL) == 0) {
        api_metrics_printf(mb, "# HELP simgate_queue_depth Queued messages by priority.\n"
                               "# TYPE simgate_queue_depth gauge\n");
        for (int i = 0; i < STORE_PRIO_COUNT; i++)
            api_metrics_printf(mb, "simgate_queue_depth{priority=\"%s\"} %lld\n",
                               store_prio_name((enum store_prio)i), (long long)depth[i]);
    }
}

static void metrics_modems(struct api *a, struct api_metrics *mb)
{
    struct api_modem_info *m = calloc(API_MODEMS_MAX, sizeof(*m));
    int n = m ? get_modems(a, m, API_MODEMS_MAX) : -ENOMEM;
    char l1[64], l2[64];
    api_metrics_printf(mb, "# HELP simgate_modem_state Current modem state (1 for the state it is in).\n"
                           "# TYPE simgate_modem_state gauge\n");
    for (int i = 0; i < n; i++)
        api_metrics_printf(mb, "simgate_modem_state{modem=\"%s\",state=\"%s\"} 1\n",
                           label(m[i].id, l1, sizeof(l1)), label(m[i].state, l2, sizeof(l2)));
    api_metrics_printf(mb, "# HELP simgate_modem_ready Modem can take work now.\n"
                           "# TYPE simgate_modem_ready gauge\n");
    for (int i = 0; i < n; i++)
        api_metrics_printf(mb, "simgate_modem_ready{modem=\"%s\"} %d\n",
                           label(m[i].id, l1, sizeof(l1)), m[i].ready ? 1 : 0);
    api_metrics_printf(mb, "# HELP simgate_modem_signal_dbm Received signal strength.\n"
                           "# TYPE simgate_modem_signal_dbm gauge\n");
    for (int i = 0; i < n; i++)
        if (m[i].has_signal)
            api_metrics_printf(mb, "simgate_modem_signal_dbm{modem=\"%s\"} %d\n",
                               label(m[i].id, l1, sizeof(l1)), m[i].signal_dbm);
    free(m);
}

static void metrics_sims(struct api *a, struct api_metrics *mb)
{
    struct api_sim_info *s = calloc(API_SIMS_MAX, sizeof(*s));
    int n = s ? get_sims(a, s, API_SIMS_MAX) : -ENOMEM;
    char l1[64];
    api_metrics_printf(mb, "# HELP simgate_sim_sent_today SMS parts sent today (UTC).\n"
                           "# TYPE simgate_sim_sent_today gauge\n");
    for (int i = 0; i < n; i++)
        api_metrics_printf(mb, "simgate_sim_sent_today{iccid=\"%s\"} %u\n",
                           label(s[i].iccid, l1, sizeof(l1)), s[i].sent_today);
    api_metrics_printf(mb, "# HELP simgate_sim_breaker_open SIM circuit breaker is not closed.\n"
                           "# TYPE simgate_sim_breaker_open gauge\n");
    for (int i = 0; i < n; i++)
        api_metrics_printf(mb, "simgate_sim_breaker_open{iccid=\"%s\"} %d\n",
                           label(s[i].iccid, l1, sizeof(l1)),
                           strcmp(s[i].breaker, "closed") != 0 && s[i].breaker[0]);
    free(s);
}

static void metrics_api(struct api *a, struct api_metrics *mb)
{
    api_metrics_printf(mb, "# HELP simgate_api_responses_total API answers by HTTP status.\n"
                           "# TYPE simgate_api_responses_total counter\n");
    for (unsigned st = 100; st < 600; st++) {
        uint64_t c = api_http_count(a->http, st);
        if (c)
            api_metrics_printf(mb, "simgate_api_responses_total{code=\"%u\"} %llu\n", st,
                               (unsigned long long)c);
    }
    api_metrics_printf(mb,
                       "# HELP simgate_api_rate_limited_total Submits refused by a rate limit.\n"
                       "# TYPE simgate_api_rate_limited_total counter\n"
                       "simgate_api_rate_limited_total %llu\n"
                       "# HELP simgate_api_long_polls Long-polls waiting now.\n"
                       "# TYPE simgate_api_long_polls gauge\n"
                       "simgate_api_long_polls %zu\n"
                       "# HELP simgate_api_submits_pending Submits waiting for their commit.\n"
                       "# TYPE simgate_api_submits_pending gauge\n"
                       "simgate_api_submits_pending %zu\n",
                       (unsigned long long)a->rate_limited, a->nwaiters, a->ntickets);
}

static void h_metrics(void *ud, struct api_req *req, const char *arg)
{
    (void)arg;
    struct api *a = ud;
    struct api_metrics mb = {.cap = 4096};
    mb.buf = malloc(mb.cap);
    if (!mb.buf) {
        api_req_error(req, 503, "unavailable", NULL, "out of memory");
        return;
    }
    mb.buf[0] = '\0';
    metrics_store(a, &mb);
    metrics_modems(a, &mb);
    metrics_sims(a, &mb);
    metrics_api(a, &mb);
    if (a->prov.metrics)
        a->prov.metrics(a->prov.ud, &mb);
    if (mb.oom) {
        free(mb.buf);
        api_req_error(req, 503, "unavailable", NULL, "out of memory");
        return;
    }
    api_req_reply(req, 200, "text/plain; version=0.0.4; charset=utf-8", mb.buf, mb.len);
}

/* ------------------------------------------------------------ routes */

static const struct api_route routes[] = {
    {.method = "POST", .pattern = "/v1/messages", .fn = h_submit, .write = true},
    {.method = "GET", .pattern = "/v1/messages", .fn = h_list,
     .query = {"status", "since", "after", "limit", NULL}},
    {.method = "GET", .pattern = "/v1/messages/*", .fn = h_get},
    {.method = "DELETE", .pattern = "/v1/messages/*", .fn = h_cancel, .write = true},
    {.method = "GET", .pattern = "/v1/inbox", .fn = h_inbox,
     .query = {"since", "after", "limit", NULL}},
    {.method = "GET", .pattern = "/v1/events", .fn = h_events,
     .query = {"after", "limit", "wait", NULL}},
    {.method = "GET", .pattern = "/v1/modems", .fn = h_modems},
    {.method = "GET", .pattern = "/v1/sims", .fn = h_sims},
    {.method = "GET", .pattern = "/v1/health", .fn = h_health},
    {.method = "GET", .pattern = "/metrics", .fn = h_metrics},
};

/* ------------------------------------------------------------ lifecycle */

static void on_flush_check(uv_check_t *h)
{
    api_flush(h->data);
}

int api_new(uv_loop_t *loop, const struct api_opts *o, const struct sglog *log, struct queue *q,
            struct store *st, const struct api_provider *prov, struct api **out,
            struct sg_err *err)
{
    *out = NULL;
    struct api *a = calloc(1, sizeof(*a));
    if (!a)
        return sg_errf(err, -ENOMEM, "out of memory");
    a->loop = loop;
    a->log = log;
    a->q = q;
    a->st = st;
    if (prov)
        a->prov = *prov;
    a->wait_max_s = o->wait_max_s ? o->wait_max_s : API_WAIT_MAX_DEFAULT;
    a->waiters_max = o->waiters_max ? o->waiters_max : API_WAITERS_MAX_DEFAULT;
    a->submits_max = o->submits_max ? o->submits_max : API_SUBMITS_MAX_DEFAULT;
    a->client_lim = o->client_limit;
    a->dest_lim = o->dest_limit;
    snprintf(a->default_cc, sizeof(a->default_cc), "%s", o->default_cc ? o->default_cc : "");
    struct api_http_opts ho = {
        .socket_path = o->socket_path,
        .socket_mode = o->socket_mode,
        .socket_group = o->socket_group,
        .uids = o->uids,
        .nuids = o->nuids,
        .tcp_listen = o->tcp_listen,
        .tokens = o->tokens,
        .ntokens = o->ntokens,
        .body_max = o->body_max,
        .conn_timeout_s = o->conn_timeout_s,
        .routes = routes,
        .nroutes = sizeof(routes) / sizeof(routes[0]),
        .ud = a,
        .log = log,
    };
    int rc = api_http_new(loop, &ho, &a->http, err);
    if (rc) {
        free(a);
        return rc;
    }
    uv_timer_init(loop, &a->wtimer);
    uv_check_init(loop, &a->flush_check);
    uv_idle_init(loop, &a->spin);
    a->wtimer.data = a->flush_check.data = a->spin.data = a;
    a->open_handles = 3;
    a->on_commit = o->on_commit;
    a->commit_ud = o->commit_ud;
    uv_check_start(&a->flush_check, on_flush_check);
    if (log)
        log_notice(log, "event=api.listen socket=%s tcp=%s", o->socket_path,
                   o->tcp_listen && *o->tcp_listen ? o->tcp_listen : "off");
    *out = a;
    return 0;
}

int api_flush(struct api *a)
{
    if (!a || !a->ntickets)
        return 0;
    struct sg_err err = {0};
    int rc = queue_flush(a->q, &err);
    if (!a->freeing)
        uv_idle_stop(&a->spin);
    if (rc < 0 && a->log)
        log_warnx(a->log, "event=api.commit result=failed rc=%d reason=\"%s\"", rc, err.msg);
    if (rc > 0 && a->on_commit)
        a->on_commit(a->commit_ud, rc);
    return rc;
}

size_t api_waiters(const struct api *a) { return a->nwaiters; }
size_t api_submits_pending(const struct api *a) { return a->ntickets; }
int api_tcp_port(const struct api *a) { return api_http_tcp_port(a->http); }

static void on_api_closed(uv_handle_t *h)
{
    struct api *a = h->data;
    if (--a->open_handles == 0)
        free(a);
}

void api_free(struct api *a)
{
    if (!a)
        return;
    /* Pending submits get their real answer (committed or not)... */
    api_flush(a);
    struct ticket *t = a->tickets;
    while (t) {
        struct ticket *next = t->next;
        t->a = NULL; /* the store still owes a callback: it frees the ticket */
        t->prev = t->next = NULL;
        t = next;
    }
    a->tickets = NULL;
    a->ntickets = 0;
    /* ...and long-polls what they would have got at their deadline. */
    struct waiter *w = a->waiters;
    while (w) {
        struct waiter *next = w->next;
        waiter_answer(w, true);
        w = next;
    }
    a->freeing = true;
    api_http_free(a->http);
    uv_close((uv_handle_t *)&a->wtimer, on_api_closed);
    uv_close((uv_handle_t *)&a->flush_check, on_api_closed);
    uv_close((uv_handle_t *)&a->spin, on_api_closed);
}
