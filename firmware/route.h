/*
 * route: which SIM sends this message.
 *
 * Given the SIM pool as the scheduler sees it (one struct route_sim per SIM,
 * built by the caller from config, modem states and store counters), a
 * destination and the number of parts, route_pick filters and ranks:
 *
 *   1. enabled                      (config)
 *   2. destination prefix rules     (deny wins; empty allow list = all)
 *   3. not excluded for this message (it already failed there: retry-soon)
 *   4. quota left (daily, monthly)  (bucket)
 *   5. breaker allows               (breaker; half-open lets one trial)
 *   6. rate: tokens for all parts   (bucket)
 *   7. modem free
 * then among the eligible:
 *   a. sticky sender: the SIM this recipient last got a message from,
 *      if within the sticky window (a recipient sees one sender number);
 *   b. least recently used (ties: first in the array).
 *
 * If none is eligible the result says why: the furthest stage any SIM
 * reached (so "all busy" wins over "one SIM denies the prefix"), how many
 * SIMs stopped at each stage, and, for time-bound reasons (rate, quota,
 * breaker), the earliest time one could become eligible (arm a timer).
 *
 * Picking the message (priority, then oldest) is the queue's job, not this.
 * Pure: all times are wall-clock UTC ms passed in; the breakers must be
 * driven with the same clock.
 */
#ifndef SG_ROUTE_H
#define SG_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/base/sg_clock.h"
#include "firmware/breaker.h"
#include "firmware/bucket.h"

#define ROUTE_ICCID_MAX 23        /* ICCID: up to 22 digits (ITU-T E.118) + NUL */
#define ROUTE_STICKY_DEFAULT_CAP 1024
#define ROUTE_STICKY_DEFAULT_WINDOW_MS ((sg_ms)24 * 3600 * 1000)

/* One SIM as seen for one routing decision. Every pointer is borrowed for
 * the duration of the call. */
struct route_sim {
    const char *iccid;
    bool enabled;
    bool modem_free;
    bool excluded;                  /* already failed for this message */
    const char *const *allow;       /* destination prefixes, "+336" or "336"; n_allow entries */
    size_t n_allow;
    const char *const *deny;
    size_t n_deny;
    const struct bucket *bucket;    /* NULL: no limits */
    const struct breaker *breaker;  /* NULL: always healthy */
    sg_ms last_used;                /* wall ms of its last send; 0 = never */
};

enum route_reason {
    ROUTE_OK = 0,
    ROUTE_NO_SIMS,        /* empty pool */
    ROUTE_DISABLED,
    ROUTE_PREFIX,         /* destination not allowed on this SIM */
    ROUTE_EXCLUDED,       /* tried for this message already */
    ROUTE_QUOTA,          /* daily or monthly quota used */
    ROUTE_BREAKER,        /* circuit open */
    ROUTE_RATE,           /* per-minute rate */
    ROUTE_BUSY,           /* modem not free */
    ROUTE_REASON_COUNT
};

struct route_result {
    int index;                      /* into the sims array; -1 if none */
    bool sticky;                    /* chosen because of the sticky map */
    enum route_reason reason;       /* ROUTE_OK, or why none */
    sg_ms retry_at;                 /* none: earliest time-based change; SG_MS_NEVER if none */
    unsigned stopped[ROUTE_REASON_COUNT];   /* SIMs stopped at each stage */
};

struct route_sticky;   /* opaque: recipient -> last SIM, bounded LRU */

/* cap entries (>= 1); entries older than window_ms are ignored and reused
 * first; at the cap the least recently used entry is evicted. Lookup costs
 * O(cap) compares of a 64-bit hash: about a microsecond at the default
 * 1024. Returns NULL on allocation failure. Free with route_sticky_free. */
struct route_sticky *route_sticky_new(size_t cap, sg_ms window_ms);
void route_sticky_free(struct route_sticky *s);

/* Records that `dest` was sent from `iccid` at now (call after a send
 * succeeded, so a failing SIM does not become sticky). */
void route_sticky_remember(struct route_sticky *s, const char *dest, const char *iccid, sg_ms now);

/* The SIM this recipient is sticky to, or NULL (returned pointer is owned by
 * s, valid until the next remember). */
const char *route_sticky_lookup(const struct route_sticky *s, const char *dest, sg_ms now);
size_t route_sticky_count(const struct route_sticky *s);

/* Picks a SIM for `dest` (E.164) with `parts` parts. sticky and bcfg may be
 * NULL (no stickiness; breakers ignored only if bcfg is NULL). */
void route_pick(const struct route_sim *sims, size_t n, const char *dest, unsigned parts,
                const struct route_sticky *sticky, const struct breaker_cfg *bcfg, sg_ms now,
                struct route_result *out);

/* Is `dest` allowed on this SIM by its prefix rules? */
bool route_prefix_ok(const struct route_sim *sim, const char *dest);

/* SIMs that could still take this message after `failed_iccid` failed:
 * enabled, prefix allowed, not excluded, not failed_iccid. Feeds
 * retry_input.sims_left. */
unsigned route_sims_left(const struct route_sim *sims, size_t n, const char *dest,
                         const char *failed_iccid);

const char *route_reason_name(enum route_reason r);

#endif
