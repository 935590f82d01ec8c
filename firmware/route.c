#include "firmware/route.h"

#include <stdlib.h>
#include <string.h>

struct sticky_entry {
    uint64_t hash;            /* FNV-1a of the E.164 number; 0 = free slot */
    sg_ms last;
    char iccid[ROUTE_ICCID_MAX];
};

struct route_sticky {
    size_t cap;
    size_t used;
    sg_ms window;
    struct sticky_entry e[];
};

/* FNV-1a 64 over the digits only, so "+33…" and "33…" hash alike. The map
 * holds hashes, not numbers. */
static uint64_t dest_hash(const char *dest)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (const char *p = dest; p && *p; p++) {
        if (*p == '+')
            continue;
        h ^= (unsigned char)*p;
        h *= 0x100000001b3ull;
    }
    return h ? h : 1;
}

struct route_sticky *route_sticky_new(size_t cap, sg_ms window_ms)
{
    if (cap < 1 || cap > (SIZE_MAX - sizeof(struct route_sticky)) / sizeof(struct sticky_entry))
        return NULL;
    struct route_sticky *s = calloc(1, sizeof(*s) + cap * sizeof(s->e[0]));
    if (!s)
        return NULL;
    s->cap = cap;
    s->window = window_ms;
    return s;
}

void route_sticky_free(struct route_sticky *s)
{
    free(s);
}

static bool live(const struct route_sticky *s, const struct sticky_entry *e, sg_ms now)
{
    return e->hash && now - e->last < s->window;
}

/* Index of the entry for h, or s->used if none. */
static size_t find(const struct route_sticky *s, uint64_t h)
{
    size_t i = 0;
    while (i < s->used && s->e[i].hash != h)
        i++;
    return i;
}

void route_sticky_remember(struct route_sticky *s, const char *dest, const char *iccid, sg_ms now)
{
    if (!s || !dest || !iccid)
        return;
    uint64_t h = dest_hash(dest);
    size_t i = find(s, h);
    struct sticky_entry *e = i < s->used ? &s->e[i] : NULL;
    if (!e && s->used < s->cap) {
        e = &s->e[s->used++];
    } else if (!e) {
        /* Full: evict the least recently used (expired ones are the oldest). */
        e = &s->e[0];
        for (size_t k = 1; k < s->used; k++)
            if (s->e[k].last < e->last)
                e = &s->e[k];
    }
    e->hash = h;
    e->last = now;
    size_t n = strnlen(iccid, ROUTE_ICCID_MAX - 1);
    memcpy(e->iccid, iccid, n);
    e->iccid[n] = '\0';
}

const char *route_sticky_lookup(const struct route_sticky *s, const char *dest, sg_ms now)
{
    if (!s || !dest)
        return NULL;
    size_t i = find(s, dest_hash(dest));
    return i < s->used && live(s, &s->e[i], now) ? s->e[i].iccid : NULL;
}

size_t route_sticky_count(const struct route_sticky *s)
{
    return s ? s->used : 0;
}

static bool prefix_match(const char *dest, const char *prefix)
{
    if (!prefix || !prefix[0])
        return false;
    if (*dest == '+')
        dest++;
    if (*prefix == '+')
        prefix++;
    size_t n = strlen(prefix);
    return n > 0 && strncmp(dest, prefix, n) == 0;
}

bool route_prefix_ok(const struct route_sim *sim, const char *dest)
{
    if (!dest)
        return false;
    for (size_t i = 0; i < sim->n_deny; i++)
        if (prefix_match(dest, sim->deny[i]))
            return false;
    if (sim->n_allow == 0)
        return true;
    for (size_t i = 0; i < sim->n_allow; i++)
        if (prefix_match(dest, sim->allow[i]))
            return true;
    return false;
}

static sg_ms min_ms(sg_ms a, sg_ms b)
{
    return a < b ? a : b;
}

/* Runs the filter chain on one SIM; returns the stage it stopped at
 * (ROUTE_OK if eligible) and lowers *retry_at for time-bound stops. */
static enum route_reason check_sim(const struct route_sim *s, const char *dest, unsigned parts,
                                   const struct breaker_cfg *bcfg, sg_ms now, sg_ms *retry_at)
{
    sg_ms when;
    if (!s->enabled)
        return ROUTE_DISABLED;
    if (!route_prefix_ok(s, dest))
        return ROUTE_PREFIX;
    if (s->excluded)
        return ROUTE_EXCLUDED;
    enum bucket_verdict v = s->bucket ? bucket_check(s->bucket, parts, now, &when) : BUCKET_OK;
    if (v == BUCKET_DAILY || v == BUCKET_MONTHLY) {
        *retry_at = min_ms(*retry_at, when);
        return ROUTE_QUOTA;
    }
    if (s->breaker && bcfg && !breaker_allows(s->breaker, bcfg, now)) {
        sg_ms at = breaker_reopen_at(s->breaker, bcfg);
        if (s->breaker->state == BREAKER_HALF_OPEN)
            at = s->breaker->trial_at + bcfg->trial_timeout_ms;
        *retry_at = min_ms(*retry_at, at);
        return ROUTE_BREAKER;
    }
    if (v == BUCKET_RATE) {
        *retry_at = min_ms(*retry_at, when);
        return ROUTE_RATE;
    }
    if (!s->modem_free)
        return ROUTE_BUSY;
    return ROUTE_OK;
}

void route_pick(const struct route_sim *sims, size_t n, const char *dest, unsigned parts,
                const struct route_sticky *sticky, const struct breaker_cfg *bcfg, sg_ms now,
                struct route_result *out)
{
    memset(out, 0, sizeof(*out));
    out->index = -1;
    out->retry_at = SG_MS_NEVER;
    out->reason = ROUTE_NO_SIMS;
    const char *sticky_iccid = route_sticky_lookup(sticky, dest, now);
    int lru = -1;
    for (size_t i = 0; i < n; i++) {
        enum route_reason r = check_sim(&sims[i], dest, parts, bcfg, now, &out->retry_at);
        out->stopped[r]++;
        if (r != ROUTE_OK) {
            /* Later stages are more telling: "busy" beats "wrong prefix". */
            if (out->reason == ROUTE_NO_SIMS || r > out->reason)
                out->reason = r;
            continue;
        }
        if (sticky_iccid && sims[i].iccid && strcmp(sims[i].iccid, sticky_iccid) == 0) {
            out->index = (int)i;
            out->sticky = true;
        }
        if (lru < 0 || sims[i].last_used < sims[lru].last_used)
            lru = (int)i;
    }
    if (out->index < 0)
        out->index = lru;
    if (out->index >= 0) {
        out->reason = ROUTE_OK;
        out->retry_at = SG_MS_NEVER;
    }
}

unsigned route_sims_left(const struct route_sim *sims, size_t n, const char *dest, const char *failed_iccid)
{
    unsigned k = 0;
    for (size_t i = 0; i < n; i++) {
        const struct route_sim *s = &sims[i];
        if (!s->enabled || s->excluded || !route_prefix_ok(s, dest))
            continue;
        if (failed_iccid && s->iccid && strcmp(s->iccid, failed_iccid) == 0)
            continue;
        k++;
    }
    return k;
}

const char *route_reason_name(enum route_reason r)
{
    static const char *const names[ROUTE_REASON_COUNT] = {
        [ROUTE_OK] = "ok",           [ROUTE_NO_SIMS] = "no_sims", [ROUTE_DISABLED] = "disabled",
        [ROUTE_PREFIX] = "prefix",   [ROUTE_EXCLUDED] = "excluded", [ROUTE_QUOTA] = "quota",
        [ROUTE_BREAKER] = "breaker", [ROUTE_RATE] = "rate",       [ROUTE_BUSY] = "busy",
    };
    return (unsigned)r < ROUTE_REASON_COUNT ? names[r] : "invalid";
}
