#include "firmware/bucket.h"

#define DAY_MS ((sg_ms)86400000)
#define MIN_MS ((sg_ms)60000)

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/* Howard Hinnant's civil_from_days / days_from_civil (proleptic Gregorian). */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m)
{
    z += 719468;
    int64_t era = floor_div(z, 146097);
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int64_t days_from_civil(int64_t y, unsigned m)
{
    y -= m <= 2;
    int64_t era = floor_div(y, 400);
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5;   /* day 1 of month */
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

int32_t bucket_day_key(sg_ms wall)
{
    return (int32_t)floor_div(wall, DAY_MS);
}

int32_t bucket_month_key(sg_ms wall)
{
    int64_t y;
    unsigned m;
    civil_from_days(floor_div(wall, DAY_MS), &y, &m);
    return (int32_t)(y * 12 + (m - 1));
}

sg_ms bucket_next_day(sg_ms wall)
{
    return (floor_div(wall, DAY_MS) + 1) * DAY_MS;
}

sg_ms bucket_next_month(sg_ms wall)
{
    int64_t y;
    unsigned m;
    civil_from_days(floor_div(wall, DAY_MS), &y, &m);
    if (++m > 12) {
        m = 1;
        y++;
    }
    return days_from_civil(y, m) * DAY_MS;
}

static int64_t capacity_milli(const struct bucket_limits *l)
{
    return (int64_t)(l->burst ? l->burst : l->rate_per_min) * 1000;
}

/* Tokens after refilling up to now, without changing b. */
static int64_t tokens_at(const struct bucket *b, sg_ms now)
{
    int64_t cap = capacity_milli(&b->lim);
    if (now <= b->last_refill)
        return b->tokens_milli;
    sg_ms dt = now - b->last_refill;
    /* rate/min x 1000 milli-tokens per 60000 ms = rate/60 milli-tokens per ms.
     * Saturate long idle periods before multiplying. */
    if (dt > 10 * DAY_MS)
        return cap;
    int64_t t = b->tokens_milli + dt * (int64_t)b->lim.rate_per_min / 60;
    return t > cap ? cap : t;
}

static uint32_t count_in(int32_t key_now, int32_t key, uint32_t count)
{
    return key_now == key ? count : 0;
}

uint32_t bucket_daily_left(const struct bucket *b, sg_ms now)
{
    if (!b->lim.daily)
        return UINT32_MAX;
    uint32_t used = count_in(bucket_day_key(now), b->day_key, b->day_count);
    return used >= b->lim.daily ? 0 : b->lim.daily - used;
}

uint32_t bucket_monthly_left(const struct bucket *b, sg_ms now)
{
    if (!b->lim.monthly)
        return UINT32_MAX;
    uint32_t used = count_in(bucket_month_key(now), b->month_key, b->month_count);
    return used >= b->lim.monthly ? 0 : b->lim.monthly - used;
}

void bucket_init(struct bucket *b, const struct bucket_limits *lim, sg_ms now)
{
    b->lim = *lim;
    b->tokens_milli = capacity_milli(lim);
    b->last_refill = now;
    b->day_count = 0;
    b->month_count = 0;
    b->day_key = bucket_day_key(now);
    b->month_key = bucket_month_key(now);
}

void bucket_set_limits(struct bucket *b, const struct bucket_limits *lim)
{
    b->lim = *lim;
    int64_t cap = capacity_milli(lim);
    if (b->tokens_milli > cap)
        b->tokens_milli = cap;
}

enum bucket_verdict bucket_check(const struct bucket *b, unsigned parts, sg_ms now, sg_ms *when)
{
    sg_ms dummy;
    if (!when)
        when = &dummy;
    *when = now;
    if (b->lim.monthly && bucket_monthly_left(b, now) < parts) {
        *when = parts > b->lim.monthly ? SG_MS_NEVER : bucket_next_month(now);
        return BUCKET_MONTHLY;
    }
    if (b->lim.daily && bucket_daily_left(b, now) < parts) {
        *when = parts > b->lim.daily ? SG_MS_NEVER : bucket_next_day(now);
        return BUCKET_DAILY;
    }
    if (!b->lim.rate_per_min)
        return BUCKET_OK;
    int64_t cap = capacity_milli(&b->lim);
    int64_t need = (int64_t)parts * 1000;
    if (need > cap)
        need = cap;   /* oversize message: wait for a full bucket, then go into debt */
    int64_t have = tokens_at(b, now);
    if (have >= need)
        return BUCKET_OK;
    /* ms until (need - have) milli-tokens accrue at rate/60 per ms, rounded up. */
    int64_t missing = need - have;
    *when = now + (missing * 60 + b->lim.rate_per_min - 1) / b->lim.rate_per_min;
    return BUCKET_RATE;
}

static void roll(struct bucket *b, sg_ms now)
{
    int32_t d = bucket_day_key(now), m = bucket_month_key(now);
    if (d != b->day_key) {
        b->day_key = d;
        b->day_count = 0;
    }
    if (m != b->month_key) {
        b->month_key = m;
        b->month_count = 0;
    }
    b->tokens_milli = tokens_at(b, now);
    b->last_refill = now;
}

static uint32_t sat_add(uint32_t a, unsigned b)
{
    return (uint64_t)a + b > UINT32_MAX ? UINT32_MAX : a + b;
}

void bucket_take(struct bucket *b, unsigned parts, sg_ms now)
{
    roll(b, now);
    b->day_count = sat_add(b->day_count, parts);
    b->month_count = sat_add(b->month_count, parts);
    if (b->lim.rate_per_min)
        b->tokens_milli -= (int64_t)parts * 1000;
}

void bucket_refund(struct bucket *b, unsigned parts, sg_ms now)
{
    roll(b, now);
    b->day_count = b->day_count > parts ? b->day_count - parts : 0;
    b->month_count = b->month_count > parts ? b->month_count - parts : 0;
    if (b->lim.rate_per_min) {
        int64_t cap = capacity_milli(&b->lim);
        b->tokens_milli += (int64_t)parts * 1000;
        if (b->tokens_milli > cap)
            b->tokens_milli = cap;
    }
}

const char *bucket_verdict_name(enum bucket_verdict v)
{
    switch (v) {
    case BUCKET_OK: return "ok";
    case BUCKET_RATE: return "rate";
    case BUCKET_DAILY: return "daily_quota";
    case BUCKET_MONTHLY: return "monthly_quota";
    }
    return "invalid";
}
