/*
 * bucket: per-SIM send limits: a token bucket for the per-minute rate, and
 * daily and monthly quotas counted per UTC calendar day and month.
 *
 * Counted unit: one SMS part (what the operator bills and throttles), so a
 * 3-part message takes 3 tokens and 3 from each quota.
 *
 * struct bucket is plain data, allocated and persisted by the caller (the
 * store keeps day/month keys and counts in the SIM row, so quotas survive a
 * restart; tokens need not: after a restart the bucket starts full).
 * All times are wall-clock UTC ms passed in; nothing here reads a clock.
 *
 * Rules:
 *   - rate_per_min 0 means no rate limit; daily/monthly limit 0 means none.
 *   - capacity (burst) is `burst`, or rate_per_min when burst is 0.
 *   - a message with more parts than the capacity is let through when the
 *     bucket is full and leaves it in debt (negative tokens), so a long
 *     message is slowed, not blocked forever.
 *   - quotas are strict: a message goes only if all its parts fit.
 *   - the clock going backwards (NTP step) refills nothing and never
 *     underflows; day/month keys follow the new time.
 */
#ifndef SG_BUCKET_H
#define SG_BUCKET_H

#include <stdint.h>

#include "drivers/base/sg_clock.h"

struct bucket_limits {
    uint32_t rate_per_min;
    uint32_t burst;
    uint32_t daily;
    uint32_t monthly;
};

struct bucket {
    struct bucket_limits lim;
    int64_t tokens_milli;     /* tokens x 1000; may be negative (debt) */
    sg_ms last_refill;
    uint32_t day_count;       /* parts sent in UTC day day_key */
    uint32_t month_count;     /* parts sent in UTC month month_key */
    int32_t day_key;          /* days since 1970-01-01 UTC */
    int32_t month_key;        /* year * 12 + (month - 1) */
};

enum bucket_verdict {
    BUCKET_OK = 0,
    BUCKET_RATE,      /* per-minute rate: wait until `when` */
    BUCKET_DAILY,     /* daily quota used: next UTC midnight */
    BUCKET_MONTHLY,   /* monthly quota used: first of next UTC month */
};

/* A full bucket with zero counts for the day and month of `now`. */
void bucket_init(struct bucket *b, const struct bucket_limits *lim, sg_ms now);

/* Changes limits (config reload) keeping counts; tokens clamp to the new
 * capacity. */
void bucket_set_limits(struct bucket *b, const struct bucket_limits *lim);

/* Could `parts` go now? Does not change b. If not, *when (may be NULL) is
 * the earliest time it could (SG_MS_NEVER if a quota can never fit it, e.g.
 * parts > daily limit). Quota verdicts win over the rate. */
enum bucket_verdict bucket_check(const struct bucket *b, unsigned parts, sg_ms now, sg_ms *when);

/* Counts `parts` as sent: refills, rolls day/month, takes tokens and quota.
 * Call when the attempt starts (whatever bucket_check said: the caller
 * decides). */
void bucket_take(struct bucket *b, unsigned parts, sg_ms now);

/* Gives back parts that never left the modem (timeout before the payload).
 * Counts never go below 0; tokens never above capacity. A refund after a
 * UTC day/month boundary comes off the new period's count (harmless: it
 * can only let one more message through). */
void bucket_refund(struct bucket *b, unsigned parts, sg_ms now);

/* Parts left today and this month as of now (UINT32_MAX = unlimited). */
uint32_t bucket_daily_left(const struct bucket *b, sg_ms now);
uint32_t bucket_monthly_left(const struct bucket *b, sg_ms now);

/* UTC calendar helpers (exposed for the store and the tests). */
int32_t bucket_day_key(sg_ms wall);
int32_t bucket_month_key(sg_ms wall);
sg_ms bucket_next_day(sg_ms wall);     /* next 00:00:00.000 UTC */
sg_ms bucket_next_month(sg_ms wall);   /* next 1st of the month 00:00 UTC */

const char *bucket_verdict_name(enum bucket_verdict v);

#endif
