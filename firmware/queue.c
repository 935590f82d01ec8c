/*
 * queue: the message lifecycle. See queue.h.
 *
 * Defaults chosen (DESIGN "Message lifecycle"):
 *   TTL otp 5 min (a code older than that is useless and confusing),
 *   urgent 1 h, normal and bulk 24 h; at most 7 days.
 *   Crash recovery: otp/urgent left in `sending` go back to `queued` (a
 *   duplicate code beats no code); normal/bulk become `unknown` and are
 *   reported by event (never sent twice without the backend knowing).
 *   TP-VP is set from the TTL when validity_from_ttl is on, so the SMSC
 *   also drops what simgate would not send any more.
 */
#include "firmware/queue.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "drivers/gsm/pdu.h"
#include "firmware/msisdn.h"

_Static_assert(PDU_HEX_MAX <= STORE_PDU_HEX_MAX, "a PDU must fit a store part");
_Static_assert(MSISDN_BUF <= STORE_TO_MAX, "a number must fit the store");

#define DAY_MS (24LL * 3600 * 1000)
#define EXPIRE_BATCH 256
#define RECOVER_PAGE 128

static const sg_ms ttl_builtin[STORE_PRIO_COUNT] = {
    [STORE_PRIO_OTP] = 300LL * 1000,
    [STORE_PRIO_URGENT] = 3600LL * 1000,
    [STORE_PRIO_NORMAL] = DAY_MS,
    [STORE_PRIO_BULK] = DAY_MS,
};
static const enum queue_recover recover_builtin[STORE_PRIO_COUNT] = {
    [STORE_PRIO_OTP] = QUEUE_RECOVER_RETRY,
    [STORE_PRIO_URGENT] = QUEUE_RECOVER_RETRY,
    [STORE_PRIO_NORMAL] = QUEUE_RECOVER_UNKNOWN,
    [STORE_PRIO_BULK] = QUEUE_RECOVER_UNKNOWN,
};

/* The lifecycle: the only transitions queue_* will write. */
static const struct {
    enum store_state from, to;
} transitions[] = {
    {STORE_QUEUED, STORE_SENDING},
    {STORE_QUEUED, STORE_EXPIRED},
    {STORE_QUEUED, STORE_CANCELED},
    {STORE_QUEUED, STORE_FAILED},       /* no SIM may ever carry it, attempt cap reached */
    {STORE_SENDING, STORE_SENT},
    {STORE_SENDING, STORE_QUEUED},      /* retry, or crash recovery of otp/urgent */
    {STORE_SENDING, STORE_FAILED},
    {STORE_SENDING, STORE_UNKNOWN},
    {STORE_SENT, STORE_DELIVERED},
    {STORE_SENT, STORE_UNDELIVERED},
    {STORE_UNKNOWN, STORE_DELIVERED},   /* a status report proves it went out after all */
    {STORE_UNKNOWN, STORE_UNDELIVERED},
};

struct queue {
    struct store *st;
    struct queue_opts o;
    uint16_t ref_next;   /* concatenation reference of the next multipart message */
};

bool queue_transition_allowed(enum store_state from, enum store_state to)
{
    for (size_t i = 0; i < sizeof transitions / sizeof transitions[0]; i++)
        if (transitions[i].from == from && transitions[i].to == to)
            return true;
    return false;
}

int queue_open(struct queue **out, struct store *st, const struct queue_opts *opts,
               struct sg_err *err)
{
    *out = NULL;
    if (!st)
        return sg_errf(err, -EINVAL, "queue: no store");
    if (sodium_init() < 0)
        return sg_errf(err, -EIO, "queue: libsodium init failed");
    struct queue *q = calloc(1, sizeof *q);
    if (!q)
        return sg_errf(err, -ENOMEM, "queue: out of memory");
    q->st = st;
    if (opts)
        q->o = *opts;
    q->o.default_cc[sizeof q->o.default_cc - 1] = '\0';
    for (int p = 0; p < STORE_PRIO_COUNT; p++) {
        if (q->o.ttl_default_ms[p] <= 0)
            q->o.ttl_default_ms[p] = ttl_builtin[p];
        if (q->o.recover[p] == QUEUE_RECOVER_DEFAULT)
            q->o.recover[p] = recover_builtin[p];
    }
    if (q->o.ttl_max_ms <= 0)
        q->o.ttl_max_ms = 7 * DAY_MS;
    if (q->o.max_parts == 0)
        q->o.max_parts = SMSENC_MAX_PARTS_DEFAULT;
    if (q->o.max_parts > STORE_PARTS_MAX) {
        free(q);
        return sg_errf(err, -EINVAL, "queue: max_parts %u over %d", opts->max_parts,
                       STORE_PARTS_MAX);
    }
    q->ref_next = (uint16_t)randombytes_uniform(65536);
    *out = q;
    return 0;
}

void queue_close(struct queue *q)
{
    free(q);
}

sg_ms queue_ttl_default(const struct queue *q, enum store_prio p)
{
    return (unsigned)p < STORE_PRIO_COUNT ? q->o.ttl_default_ms[p] : 0;
}

/* ------------------------------------------------------------ events */

static void set_str(json_t *o, const char *k, const char *v)
{
    if (v && *v) {
        json_t *s = json_string(v);   /* NULL for invalid UTF-8 from a modem: left out */
        if (s)
            json_object_set_new(o, k, s);
    }
}

/* What a transition says on the event stream. Caller frees (may be NULL). */
static char *state_json(const struct store_msg *m, enum store_state to, const char *modem,
                        const char *iccid, int mr, const char *cause, int attempts)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "id", json_integer(m->id));
    json_object_set_new(o, "status", json_string(store_state_name(to)));
    json_object_set_new(o, "from", json_string(store_state_name(m->state)));
    json_object_set_new(o, "priority", json_string(store_prio_name(m->prio)));
    json_object_set_new(o, "attempts", json_integer(attempts));
    set_str(o, "modem", modem);
    set_str(o, "iccid", iccid);
    if (mr >= 0)
        json_object_set_new(o, "mr", json_integer(mr));
    set_str(o, "cause", cause);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

/* ------------------------------------------------------------ transitions */

struct move {
    enum store_state to;
    const char *modem, *iccid;
    int mr;
    const char *cause;
    int attempts_add;
    sg_ms next_attempt_at;   /* < 0 keep */
};

/* m->state -> mv->to through the table, with history and event. m->state
 * is updated on success so a caller can chain moves. */
static int move(struct queue *q, struct store_msg *m, const struct move *mv, sg_ms now,
                struct sg_err *err)
{
    if (!queue_transition_allowed(m->state, mv->to))
        return sg_errf(err, -EPERM, "queue: message %lld: %s -> %s is not allowed",
                       (long long)m->id, store_state_name(m->state), store_state_name(mv->to));
    char *json = state_json(m, mv->to, mv->modem, mv->iccid, mv->mr, mv->cause,
                            m->attempts + mv->attempts_add);
    struct store_transition t = {
        .id = m->id,
        .from = m->state,
        .to = mv->to,
        .now = now,
        .modem = mv->modem,
        .iccid = mv->iccid,
        .mr = mv->mr,
        .cause = mv->cause,
        .attempts_add = mv->attempts_add,
        .next_attempt_at = mv->next_attempt_at,
        .event_json = json,
    };
    int rc = store_transition(q->st, &t, err);
    free(json);
    if (rc == 0) {
        m->state = mv->to;
        m->attempts += mv->attempts_add;
    }
    return rc;
}

static int move_simple(struct queue *q, struct store_msg *m, enum store_state to,
                       const char *cause, sg_ms now, struct sg_err *err)
{
    struct move mv = {.to = to, .mr = -1, .cause = cause, .next_attempt_at = -1};
    return move(q, m, &mv, now, err);
}

/* Commit on success, roll back on failure. */
static int end_tx(struct queue *q, int rc, struct sg_err *err)
{
    if (rc) {
        store_rollback(q->st);
        return rc;
    }
    return store_commit(q->st, err);
}

/* The message, on the heap (it carries the text). */
static struct store_msg *load(struct queue *q, int64_t id, int *rc, struct sg_err *err)
{
    struct store_msg *m = malloc(sizeof *m);
    if (!m) {
        *rc = sg_errf(err, -ENOMEM, "queue: out of memory");
        return NULL;
    }
    *rc = store_msg_get(q->st, id, m, err);
    if (*rc) {
        free(m);
        return NULL;
    }
    return m;
}

/* ------------------------------------------------------------ submit */

static int bad(const char **field, const char *name, int rc)
{
    if (field)
        *field = name;
    return rc;
}

static int check_key(const char *k, struct sg_err *err)
{
    size_t n = strlen(k);
    if (n > STORE_IDEM_KEY_MAX)
        return sg_errf(err, -EINVAL, "idempotency key longer than %d characters",
                       STORE_IDEM_KEY_MAX);
    for (size_t i = 0; i < n; i++)
        if (k[i] < 0x21 || k[i] > 0x7e)
            return sg_errf(err, -EINVAL, "idempotency key: only printable ASCII, no spaces");
    return 0;
}

/* Hex BLAKE2b of everything that defines the message: a replay with the
 * same key must carry the same, after normalisation. */
static void param_hash(const char *to, const char *text, size_t len, enum store_prio prio,
                       sg_ms ttl, bool sr, bool smart, char out[STORE_HASH_MAX + 1])
{
    crypto_generichash_state h;
    unsigned char d[32];
    char meta[96];
    int n = snprintf(meta, sizeof meta, "|%d|%lld|%d|%d|", (int)prio, (long long)ttl, sr, smart);
    crypto_generichash_init(&h, NULL, 0, sizeof d);
    crypto_generichash_update(&h, (const unsigned char *)to, strlen(to) + 1);
    crypto_generichash_update(&h, (const unsigned char *)meta, (size_t)n);
    crypto_generichash_update(&h, (const unsigned char *)text, len);
    crypto_generichash_final(&h, d, sizeof d);
    sodium_bin2hex(out, STORE_HASH_MAX + 1, d, sizeof d);
}

static char *queued_json(const char *to, enum store_prio p, unsigned parts, const char *enc,
                         sg_ms expires_at)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:s, s:I}", "status", "queued", "priority",
                          store_prio_name(p), "to", to, "parts", (json_int_t)parts, "encoding",
                          enc, "expires_at", (json_int_t)expires_at);
    if (!o)
        return NULL;
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

struct encoded {
    struct pdu_part pdus[STORE_PARTS_MAX];
    struct store_new_part parts[STORE_PARTS_MAX];
    struct smsenc_plan plan;
    char *text;   /* NUL-terminated copy */
};

static int encode(struct queue *q, const struct queue_submit *s, const char *to, sg_ms ttl,
                  struct encoded *e, struct sg_err *err)
{
    struct pdu_submit_opts po = {
        .srr = s->status_report,
        .validity_min = q->o.validity_from_ttl ? (int)((ttl + 59999) / 60000) : -1,
        .ref = q->ref_next++,
        .text = {.max_parts = q->o.max_parts, .smart = s->smart_encoding},
    };
    int n = pdu_encode_submit(to, s->text ? s->text : "", s->text_len, &po, e->pdus, q->o.max_parts, &e->plan,
                              err);
    if (n < 0)
        return n;
    for (int i = 0; i < n; i++) {
        e->parts[i].tpdu_len = e->pdus[i].tpdu_len;
        e->parts[i].hex = e->pdus[i].hex;
    }
    return n;
}

int queue_submit(struct queue *q, const struct queue_submit *s, sg_ms now, queue_submit_cb cb,
                 void *ud, const char **field, struct sg_err *err)
{
    char to[MSISDN_BUF];
    if ((unsigned)s->prio >= STORE_PRIO_COUNT)
        return bad(field, "priority",
                   sg_errf(err, -EINVAL, "priority must be otp, urgent, normal or bulk"));
    if (s->idem_key && s->idem_key[0] && check_key(s->idem_key, err))
        return bad(field, "idempotency_key", -EINVAL);
    if (!s->to || msisdn_normalise_n(s->to, s->to_len ? s->to_len : strlen(s->to),
                                     q->o.default_cc, to, err))
        return bad(field, "to", s->to ? -EINVAL : sg_errf(err, -EINVAL, "no recipient"));
    sg_ms ttl = s->ttl_ms ? s->ttl_ms : q->o.ttl_default_ms[s->prio];
    if (ttl < 1000 || ttl > q->o.ttl_max_ms)
        return bad(field, "ttl",
                   sg_errf(err, -EINVAL, "ttl must be 1..%lld seconds",
                           (long long)(q->o.ttl_max_ms / 1000)));
    if (!s->text && s->text_len)
        return bad(field, "text", sg_errf(err, -EINVAL, "no text"));
    if (s->text_len >= STORE_TEXT_MAX)
        return bad(field, "text",
                   sg_errf(err, -E2BIG, "text longer than %d bytes", STORE_TEXT_MAX - 1));
    if (s->text_len && memchr(s->text, '\0', s->text_len))
        return bad(field, "text", sg_errf(err, -EINVAL, "text contains a NUL character"));

    struct encoded *e = calloc(1, sizeof *e);
    if (!e)
        return sg_errf(err, -ENOMEM, "queue: out of memory");
    int rc = encode(q, s, to, ttl, e, err);
    if (rc < 0) {
        free(e);
        return bad(field, "text", rc == -E2BIG || rc == -EILSEQ ? rc : -EINVAL);
    }
    unsigned nparts = (unsigned)rc;
    e->text = malloc(s->text_len + 1);
    if (!e->text) {
        free(e);
        return sg_errf(err, -ENOMEM, "queue: out of memory");
    }
    if (s->text_len)
        memcpy(e->text, s->text, s->text_len);
    e->text[s->text_len] = '\0';

    char hash[STORE_HASH_MAX + 1];
    /* The TTL as requested (0 = default), so a replay still matches after
     * the operator changed a default. */
    param_hash(to, e->text, s->text_len, s->prio, s->ttl_ms, s->status_report, s->smart_encoding,
               hash);
    const char *enc = smsenc_name(&e->plan.enc);
    char *json = queued_json(to, s->prio, nparts, enc, now + ttl);
    struct store_accept a = {
        .idem_key = s->idem_key,
        .param_hash = hash,
        .to = to,
        .text = e->text,
        .prio = s->prio,
        .encoding = enc,
        .status_report = s->status_report,
        .ttl_ms = ttl,
        .now = now,
        .nparts = nparts,
        .parts = e->parts,
        .event_json = json,
    };
    rc = store_accept_enqueue(q->st, &a, cb, ud, err);
    free(json);
    free(e->text);
    free(e);
    return rc;
}

int queue_flush(struct queue *q, struct sg_err *err)
{
    return store_flush(q->st, err);
}

/* ------------------------------------------------------------ scheduling */

int queue_expire(struct queue *q, sg_ms now, struct sg_err *err)
{
    int64_t ids[EXPIRE_BATCH];
    int total = 0, n;
    do {
        n = store_expired(q->st, now, ids, EXPIRE_BATCH, err);
        if (n <= 0)
            return n < 0 ? n : total;
        int rc = store_begin(q->st, err);
        if (rc)
            return rc;
        for (int i = 0; i < n && rc == 0; i++) {
            struct store_msg *m = load(q, ids[i], &rc, err);
            if (m)
                rc = move_simple(q, m, STORE_EXPIRED, "ttl passed before sending", now, err);
            free(m);
        }
        if ((rc = end_tx(q, rc, err)))
            return rc;
        total += n;
    } while (n == EXPIRE_BATCH);
    return total;
}

int queue_due_ids(struct queue *q, sg_ms now, int64_t *ids, int max, struct sg_err *err)
{
    int rc = queue_expire(q, now, err);
    if (rc < 0)
        return rc;
    return store_due(q->st, now, ids, max, err);
}

int queue_next_due(struct queue *q, sg_ms now, struct store_msg *out, struct sg_err *err)
{
    int64_t id;
    int n = queue_due_ids(q, now, &id, 1, err);
    if (n <= 0)
        return n;
    int rc = store_msg_get(q->st, id, out, err);
    return rc ? rc : 1;
}

int queue_next_wakeup(struct queue *q, sg_ms *at, struct sg_err *err)
{
    sg_ms a, e;
    int rc = store_next_attempt_min(q->st, &a, err);
    if (rc == 0)
        rc = store_expiry_min(q->st, &e, err);
    if (rc)
        return rc;
    *at = a < e ? a : e;
    return 0;
}

int queue_defer(struct queue *q, int64_t id, sg_ms until, const char *cause, sg_ms now,
                struct sg_err *err)
{
    return store_msg_reschedule(q->st, id, until, cause, now, err);
}

/* ------------------------------------------------------------ sending */

int queue_mark_sending(struct queue *q, int64_t id, const struct queue_via *via, sg_ms now,
                       struct sg_err *err)
{
    int rc;
    struct store_msg *m = load(q, id, &rc, err);
    if (!m)
        return rc;
    if (m->state != STORE_QUEUED) {
        rc = sg_errf(err, -ESTALE, "queue: message %lld is %s, not queued", (long long)id,
                     store_state_name(m->state));
    } else if (m->expires_at <= now) {
        /* The TTL is checked before every attempt: a stale OTP is never sent. */
        rc = move_simple(q, m, STORE_EXPIRED, "ttl passed before sending", now, err);
        if (rc == 0)
            rc = sg_errf(err, -ETIME, "queue: message %lld expired", (long long)id);
    } else {
        struct move mv = {
            .to = STORE_SENDING,
            .modem = via ? via->modem : NULL,
            .iccid = via ? via->iccid : NULL,
            .mr = -1,
            .attempts_add = 1,
            .next_attempt_at = -1,
        };
        rc = move(q, m, &mv, now, err);
    }
    free(m);
    return rc;
}

/* After every part is in: sent, and maybe already delivered / undelivered
 * when reports overtook the last +CMGS. */
static int settle_sent(struct queue *q, struct store_msg *m, const struct queue_via *via,
                       sg_ms now, struct sg_err *err)
{
    int c[4];
    int rc = store_part_counts(q->st, m->id, c, err);
    if (rc || c[STORE_PART_PENDING] > 0 || m->state != STORE_SENDING)
        return rc ? rc : 0;
    struct move mv = {
        .to = STORE_SENT,
        .modem = via ? via->modem : NULL,
        .iccid = via ? via->iccid : NULL,
        .mr = -1,
        .next_attempt_at = -1,
    };
    if ((rc = move(q, m, &mv, now, err)))
        return rc;
    if (c[STORE_PART_UNDELIVERED] > 0)
        rc = move_simple(q, m, STORE_UNDELIVERED, "a part was reported undelivered", now, err);
    else if (c[STORE_PART_DELIVERED] == m->parts)
        rc = move_simple(q, m, STORE_DELIVERED, NULL, now, err);
    return rc ? rc : 1;
}

int queue_part_sent(struct queue *q, int64_t id, int seq, const struct queue_via *via, int mr,
                    sg_ms now, struct sg_err *err)
{
    struct store_part p;
    int rc = store_begin(q->st, err);
    if (rc)
        return rc;
    struct store_msg *m = load(q, id, &rc, err);
    if (m)
        rc = store_part_get(q->st, id, seq, &p, err);
    if (rc == 0) {
        snprintf(p.iccid, sizeof p.iccid, "%s", via && via->iccid ? via->iccid : "");
        snprintf(p.modem, sizeof p.modem, "%s", via && via->modem ? via->modem : "");
        p.mr = mr;
        p.sent_at = now;
        if (p.status == STORE_PART_PENDING)
            p.status = STORE_PART_SENT;
        rc = store_part_update(q->st, &p, err);
    }
    int became = 0;
    if (rc == 0)
        rc = became = settle_sent(q, m, via, now, err);
    free(m);
    rc = end_tx(q, rc < 0 ? rc : 0, err);
    return rc ? rc : became;
}

int queue_send_failed(struct queue *q, int64_t id, const struct queue_via *via, sg_ms retry_at,
                      const char *cause, sg_ms now, struct sg_err *err)
{
    int rc = store_begin(q->st, err);
    if (rc)
        return rc;
    struct store_msg *m = load(q, id, &rc, err);
    if (m) {
        struct move mv = {
            .to = retry_at >= 0 ? STORE_QUEUED : STORE_FAILED,
            .modem = via ? via->modem : NULL,
            .iccid = via ? via->iccid : NULL,
            .mr = -1,
            .cause = cause ? cause : "send failed",
            .next_attempt_at = retry_at >= 0 ? retry_at : -1,
        };
        rc = move(q, m, &mv, now, err);
        /* A resend starts from part 1 with fresh MRs (the PDUs, and so the
         * concatenation reference, stay the same: handsets merge them). */
        if (rc == 0 && retry_at >= 0)
            rc = store_parts_reset(q->st, id, err);
        free(m);
    }
    return end_tx(q, rc, err);
}

int queue_fail(struct queue *q, int64_t id, const char *cause, sg_ms now, struct sg_err *err)
{
    int rc;
    struct store_msg *m = load(q, id, &rc, err);
    if (!m)
        return rc;
    rc = move_simple(q, m, STORE_FAILED, cause ? cause : "failed", now, err);
    free(m);
    return rc;
}

int queue_mark_unknown(struct queue *q, int64_t id, const char *cause, sg_ms now,
                       struct sg_err *err)
{
    int rc;
    struct store_msg *m = load(q, id, &rc, err);
    if (!m)
        return rc;
    rc = move_simple(q, m, STORE_UNKNOWN, cause ? cause : "outcome unknown", now, err);
    free(m);
    return rc;
}

static int dlr_apply(struct queue *q, struct store_msg *m, struct store_part *p, uint8_t st,
                     sg_ms now, struct sg_err *err)
{
    enum pdu_st_class cls = pdu_st_classify(st);
    p->dlr_st = st;
    p->dlr_at = now;
    if (cls == PDU_ST_DELIVERED)
        p->status = STORE_PART_DELIVERED;
    else if (pdu_st_is_final(cls))
        p->status = STORE_PART_UNDELIVERED;
    int rc = store_part_update(q->st, p, err);
    if (rc || (m->state != STORE_SENT && m->state != STORE_UNKNOWN))
        return rc;   /* still sending: settle_sent() looks at the parts later */
    if (p->status == STORE_PART_UNDELIVERED) {
        char cause[64];
        snprintf(cause, sizeof cause, "tp-st=0x%02X %s", st, pdu_st_class_name(cls));
        return move_simple(q, m, STORE_UNDELIVERED, cause, now, err);
    }
    if (p->status == STORE_PART_DELIVERED) {
        int c[4];
        if ((rc = store_part_counts(q->st, m->id, c, err)))
            return rc;
        if (c[STORE_PART_DELIVERED] == m->parts)
            return move_simple(q, m, STORE_DELIVERED, NULL, now, err);
    }
    return 0;
}

int queue_part_dlr(struct queue *q, int64_t id, int seq, uint8_t st, sg_ms now,
                   struct sg_err *err)
{
    struct store_part p;
    int rc = store_begin(q->st, err);
    if (rc)
        return rc;
    struct store_msg *m = load(q, id, &rc, err);
    if (m && (rc = store_part_get(q->st, id, seq, &p, err)) == 0)
        rc = dlr_apply(q, m, &p, st, now, err);
    int state = m ? (int)m->state : 0;
    free(m);
    rc = end_tx(q, rc, err);
    return rc ? rc : state;
}

/* ------------------------------------------------------------ control */

int queue_cancel(struct queue *q, int64_t id, const char *cause, sg_ms now, struct sg_err *err)
{
    int rc;
    struct store_msg *m = load(q, id, &rc, err);
    if (!m)
        return rc;
    if (m->state == STORE_CANCELED)
        rc = 0;
    else if (m->state != STORE_QUEUED)
        rc = sg_errf(err, -EALREADY, "message %lld is %s: too late to cancel", (long long)id,
                     store_state_name(m->state));
    else
        rc = move_simple(q, m, STORE_CANCELED, cause ? cause : "canceled by request", now, err);
    free(m);
    return rc;
}

struct ids {
    int64_t v[RECOVER_PAGE];
    int n;
};

static int collect(void *ud, const struct store_msg *m)
{
    struct ids *ids = ud;
    ids->v[ids->n++] = m->id;
    return ids->n == RECOVER_PAGE;
}

#define RECOVER_RETRY_CAUSE "restart while sending: retrying"

static int count_restarts(void *ud, const struct store_hist *h)
{
    if (strcmp(h->cause, RECOVER_RETRY_CAUSE) == 0)
        (*(int *)ud)++;
    return 0;
}

static int recover_one(struct queue *q, int64_t id, sg_ms now, struct queue_recovery *out,
                       struct sg_err *err)
{
    int rc;
    struct store_msg *m = load(q, id, &rc, err);
    if (!m)
        return rc;
    /* "A duplicate code beats no code" allows one duplicate, not one per
     * crash: a message already resent after a restart and caught in
     * `sending` again may have reached a modem twice, so it is reported
     * unknown rather than sent a third time. */
    int resent = 0;
    if (q->o.recover[m->prio] == QUEUE_RECOVER_RETRY) {
        rc = store_history(q->st, id, count_restarts, &resent, err);
        if (rc < 0) {
            free(m);
            return rc;
        }
    }
    if (q->o.recover[m->prio] == QUEUE_RECOVER_RETRY && resent > 0) {
        rc = move_simple(q, m, STORE_UNKNOWN,
                         "restart while sending again: outcome unknown (already resent once)",
                         now, err);
        if (rc == 0)
            out->unknown++;
    } else if (q->o.recover[m->prio] == QUEUE_RECOVER_RETRY) {
        /* The interrupted attempt was counted by queue_mark_sending. */
        struct move mv = {.to = STORE_QUEUED, .mr = -1, .next_attempt_at = now,
                          .cause = RECOVER_RETRY_CAUSE};
        rc = move(q, m, &mv, now, err);
        if (rc == 0)
            rc = store_parts_reset(q->st, id, err);
        if (rc == 0)
            out->requeued++;
    } else {
        rc = move_simple(q, m, STORE_UNKNOWN, "restart while sending: outcome unknown", now, err);
        if (rc == 0)
            out->unknown++;
    }
    free(m);
    return rc;
}

int queue_recover(struct queue *q, sg_ms now, struct queue_recovery *out, struct sg_err *err)
{
    struct queue_recovery local = {0, 0};
    struct ids *ids = malloc(sizeof *ids);
    if (!ids)
        return sg_errf(err, -ENOMEM, "queue: out of memory");
    int rc = 0;
    for (;;) {
        /* Resolved rows leave `sending`, so every page starts from the top. */
        struct store_filter f = {.state = STORE_SENDING, .limit = RECOVER_PAGE};
        ids->n = 0;
        rc = store_list(q->st, &f, collect, ids, err);
        if (rc <= 0)
            break;
        if ((rc = store_begin(q->st, err)))
            break;
        for (int i = 0; i < ids->n && rc == 0; i++)
            rc = recover_one(q, ids->v[i], now, &local, err);
        if ((rc = end_tx(q, rc, err)))
            break;
    }
    free(ids);
    if (out)
        *out = local;
    return rc < 0 ? rc : 0;
}
