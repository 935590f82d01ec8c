#include "firmware/reasm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct reasm {
    struct reasm_cfg cfg;
    unsigned n;                 /* open sets */
    struct reasm_set *set[];    /* cfg.max_sets slots, first n used */
};

void reasm_cfg_default(struct reasm_cfg *c)
{
    c->timeout_ms = REASM_DEFAULT_TIMEOUT_MS;
    c->max_sets = REASM_DEFAULT_MAX_SETS;
    c->max_total = REASM_DEFAULT_MAX_TOTAL;
}

struct reasm *reasm_new(const struct reasm_cfg *cfg)
{
    struct reasm_cfg c;
    if (cfg)
        c = *cfg;
    else
        reasm_cfg_default(&c);
    if (c.max_sets < 1)
        c.max_sets = 1;
    if (c.max_total < 1 || c.max_total > 255)
        c.max_total = 255;
    if (c.timeout_ms < 1)
        c.timeout_ms = 1;
    struct reasm *r = calloc(1, sizeof(*r) + c.max_sets * sizeof(r->set[0]));
    if (r)
        r->cfg = c;
    return r;
}

void reasm_set_free(struct reasm_set *s)
{
    if (!s)
        return;
    for (unsigned i = 0; i < s->n; i++)
        free(s->piece[i].text);
    free(s->text);
    free(s);
}

void reasm_free(struct reasm *r)
{
    if (!r)
        return;
    for (unsigned i = 0; i < r->n; i++)
        reasm_set_free(r->set[i]);
    free(r);
}

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

static int validate(const struct reasm_part *p, struct sg_err *err)
{
    if (!p->originator || !p->originator[0])
        return sg_errf(err, -EINVAL, "reasm: part without originator");
    if (strnlen(p->originator, REASM_ORIG_MAX) >= REASM_ORIG_MAX)
        return sg_errf(err, -EINVAL, "reasm: originator longer than %d bytes", REASM_ORIG_MAX - 1);
    if (strnlen(or_empty(p->sim), REASM_SIM_MAX) >= REASM_SIM_MAX)
        return sg_errf(err, -EINVAL, "reasm: SIM id longer than %d bytes", REASM_SIM_MAX - 1);
    if (p->total == 0 || p->seq == 0 || p->seq > p->total)
        return sg_errf(err, -EINVAL, "reasm: part %u of %u", p->seq, p->total);
    if (!p->text && p->text_len)
        return sg_errf(err, -EINVAL, "reasm: NULL text with length %zu", p->text_len);
    if (p->text_len > REASM_TEXT_MAX)
        return sg_errf(err, -EINVAL, "reasm: part text of %zu bytes exceeds %d", p->text_len, REASM_TEXT_MAX);
    return 0;
}

static bool same_key(const struct reasm_set *s, const struct reasm_part *p)
{
    return s->ref == p->ref && s->total == p->total && strcmp(s->originator, p->originator) == 0 &&
           strcmp(s->sim, or_empty(p->sim)) == 0;
}

static struct reasm_set *new_set(const struct reasm_part *p)
{
    struct reasm_set *s = calloc(1, sizeof(*s) + p->total * sizeof(s->piece[0]));
    if (!s)
        return NULL;
    /* Lengths were checked by validate(); the copies stay bounded anyway. */
    snprintf(s->sim, sizeof(s->sim), "%s", or_empty(p->sim));
    snprintf(s->originator, sizeof(s->originator), "%s", p->originator);
    s->ref = p->ref;
    s->total = p->total;
    s->first_at = p->at;
    s->last_at = p->at;
    return s;
}

/* Inserts p in seq order; the caller checked seq is not held. */
static int add_piece(struct reasm_set *s, const struct reasm_part *p)
{
    char *t = malloc(p->text_len + 1);
    if (!t)
        return -ENOMEM;
    if (p->text_len)
        memcpy(t, p->text, p->text_len);
    t[p->text_len] = '\0';
    unsigned pos = 0;
    while (pos < s->n && s->piece[pos].seq < p->seq)
        pos++;
    memmove(&s->piece[pos + 1], &s->piece[pos], (s->n - pos) * sizeof(s->piece[0]));
    s->piece[pos] = (struct reasm_piece){.seq = p->seq, .id = p->id, .at = p->at, .text = t,
                                         .text_len = p->text_len};
    s->n++;
    if (p->at < s->first_at)
        s->first_at = p->at;
    if (p->at > s->last_at)
        s->last_at = p->at;
    return 0;
}

static int join(struct reasm_set *s)
{
    size_t len = 0;
    for (unsigned i = 0; i < s->n; i++)
        len += s->piece[i].text_len;
    char *t = malloc(len + 1);
    if (!t)
        return -ENOMEM;
    size_t o = 0;
    for (unsigned i = 0; i < s->n; i++) {
        if (s->piece[i].text_len)
            memcpy(t + o, s->piece[i].text, s->piece[i].text_len);
        o += s->piece[i].text_len;
    }
    t[len] = '\0';
    s->text = t;
    s->text_len = len;
    return 0;
}

static struct reasm_set *take(struct reasm *r, unsigned i)
{
    struct reasm_set *s = r->set[i];
    r->set[i] = r->set[--r->n];
    return s;
}

static unsigned idlest(const struct reasm *r)
{
    unsigned k = 0;
    for (unsigned i = 1; i < r->n; i++)
        if (r->set[i]->last_at < r->set[k]->last_at)
            k = i;
    return k;
}

/* Completes s if all parts are in: joins, hands it to *done. */
static enum reasm_result finish_if_complete(struct reasm *r, unsigned idx, struct reasm_set **done,
                                            struct sg_err *err)
{
    struct reasm_set *s = r->set[idx];
    if (s->n < s->total)
        return REASM_WAITING;
    if (join(s) < 0) {
        /* Keep it open: a later add or the timeout hands it out as parts. */
        sg_errf(err, -ENOMEM, "reasm: out of memory joining %u parts", s->n);
        return REASM_NOMEM;
    }
    *done = take(r, idx);
    return REASM_COMPLETE;
}

enum reasm_result reasm_add(struct reasm *r, const struct reasm_part *p, struct reasm_set **done,
                            struct reasm_set **evicted, struct sg_err *err)
{
    *done = NULL;
    *evicted = NULL;
    if (validate(p, err) < 0)
        return REASM_INVALID;
    if (p->total > r->cfg.max_total) {
        sg_errf(err, -E2BIG, "reasm: %u parts exceeds the cap of %u", p->total, r->cfg.max_total);
        return REASM_TOO_BIG;
    }

    unsigned idx = r->n;
    for (unsigned i = 0; i < r->n; i++)
        if (same_key(r->set[i], p)) {
            idx = i;
            break;
        }
    if (idx < r->n) {
        struct reasm_set *s = r->set[idx];
        for (unsigned i = 0; i < s->n; i++) {
            if (s->piece[i].seq != p->seq)
                continue;
            if (s->piece[i].text_len == p->text_len &&
                (p->text_len == 0 || memcmp(s->piece[i].text, p->text, p->text_len) == 0))
                return REASM_DUPLICATE;
            /* Same reference, another text: the 8-bit reference wrapped. */
            *evicted = take(r, idx);
            idx = r->n;
            break;
        }
    }
    if (idx == r->n) {
        struct reasm_set *s = new_set(p);
        if (!s) {
            sg_errf(err, -ENOMEM, "reasm: out of memory for a new set");
            return REASM_NOMEM;
        }
        /* Full (never after a reference reuse above: that freed a slot). */
        if (r->n == r->cfg.max_sets)
            *evicted = take(r, idlest(r));
        r->set[r->n++] = s;
        idx = r->n - 1;
    }
    if (add_piece(r->set[idx], p) < 0) {
        if (r->set[idx]->n == 0)
            reasm_set_free(take(r, idx));
        sg_errf(err, -ENOMEM, "reasm: out of memory for a part");
        return REASM_NOMEM;
    }
    return finish_if_complete(r, idx, done, err);
}

struct reasm_set *reasm_next_expired(struct reasm *r, sg_ms now)
{
    for (unsigned i = 0; i < r->n; i++) {
        const struct reasm_set *s = r->set[i];
        if (now == SG_MS_NEVER || now - s->last_at >= r->cfg.timeout_ms)
            return take(r, i);
    }
    return NULL;
}

sg_ms reasm_next_deadline(const struct reasm *r)
{
    if (r->n == 0)
        return SG_MS_NEVER;
    return r->set[idlest(r)]->last_at + r->cfg.timeout_ms;
}

unsigned reasm_open_sets(const struct reasm *r)
{
    return r->n;
}

const char *reasm_result_name(enum reasm_result res)
{
    switch (res) {
    case REASM_WAITING: return "waiting";
    case REASM_COMPLETE: return "complete";
    case REASM_DUPLICATE: return "duplicate";
    case REASM_TOO_BIG: return "too_big";
    case REASM_INVALID: return "invalid";
    case REASM_NOMEM: return "nomem";
    }
    return "invalid";
}

/* ---------------------------------------------------------------- dedupe */

struct dedupe_entry {
    uint64_t fp;
    sg_ms at;
};

struct reasm_dedupe {
    size_t cap, n, head;     /* ring: head is the next slot to write */
    sg_ms window;
    struct dedupe_entry e[];
};

struct reasm_dedupe *reasm_dedupe_new(size_t cap, sg_ms window_ms)
{
    if (cap < 1 || cap > (SIZE_MAX - sizeof(struct reasm_dedupe)) / sizeof(struct dedupe_entry))
        return NULL;
    struct reasm_dedupe *d = calloc(1, sizeof(*d) + cap * sizeof(d->e[0]));
    if (!d)
        return NULL;
    d->cap = cap;
    d->window = window_ms;
    return d;
}

void reasm_dedupe_free(struct reasm_dedupe *d)
{
    free(d);
}

static uint64_t fnv(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

bool reasm_dedupe_seen(struct reasm_dedupe *d, const char *sim, const char *originator, sg_ms scts,
                       const char *text, size_t text_len, sg_ms now)
{
    /* Fields are length-prefixed so ("ab","c") and ("a","bc") differ. */
    uint64_t h = 0xcbf29ce484222325ull;
    const char *fields[2] = {or_empty(sim), or_empty(originator)};
    for (int i = 0; i < 2; i++) {
        size_t n = strlen(fields[i]);
        h = fnv(h, &n, sizeof(n));
        h = fnv(h, fields[i], n);
    }
    h = fnv(h, &scts, sizeof(scts));
    h = fnv(h, &text_len, sizeof(text_len));
    if (text && text_len)
        h = fnv(h, text, text_len);

    for (size_t i = 0; i < d->n; i++)
        if (d->e[i].fp == h && now - d->e[i].at < d->window)
            return true;
    d->e[d->head] = (struct dedupe_entry){.fp = h, .at = now};
    d->head = (d->head + 1) % d->cap;
    if (d->n < d->cap)
        d->n++;
    return false;
}
