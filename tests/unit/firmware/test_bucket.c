#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "firmware/bucket.h"

/* UTC instants (ms), checked with Python's calendar.timegm. */
#define NYE_2026_235959 ((sg_ms)1798761599000)
#define JAN1_2027 ((sg_ms)1798761600000)
#define JAN31_2027_2359 ((sg_ms)1801439940000)
#define FEB1_2027 ((sg_ms)1801440000000)
#define FEB28_2028_NOON ((sg_ms)1835352000000)
#define FEB29_2028 ((sg_ms)1835395200000)
#define MAR1_2028 ((sg_ms)1835481600000)
#define MAR15_2027_10H ((sg_ms)1805104800000)
#define APR1_2027 ((sg_ms)1806537600000)
#define DEC1_2026 ((sg_ms)1796083200000)

static void test_calendar(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        sg_ms t, next_day, next_month;
        int32_t month_key;
    } cases[] = {
        {"last second of 2026", NYE_2026_235959, JAN1_2027, JAN1_2027, 2026 * 12 + 11},
        {"first ms of 2027", JAN1_2027, JAN1_2027 + 86400000, FEB1_2027, 2027 * 12 + 0},
        {"Jan 31 23:59", JAN31_2027_2359, FEB1_2027, FEB1_2027, 2027 * 12 + 0},
        {"leap year Feb 28 noon", FEB28_2028_NOON, FEB29_2028, MAR1_2028, 2028 * 12 + 1},
        {"leap day", FEB29_2028, MAR1_2028, MAR1_2028, 2028 * 12 + 1},
        {"mid March", MAR15_2027_10H, MAR15_2027_10H - 10 * 3600000 + 86400000, APR1_2027, 2027 * 12 + 2},
        {"Dec 1", DEC1_2026, DEC1_2026 + 86400000, JAN1_2027, 2026 * 12 + 11},
        {"epoch", 0, 86400000, (sg_ms)31 * 86400000, 1970 * 12},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (bucket_next_day(cases[i].t) != cases[i].next_day)
            fail_msg("%s: next day %lld", cases[i].name, (long long)bucket_next_day(cases[i].t));
        if (bucket_next_month(cases[i].t) != cases[i].next_month)
            fail_msg("%s: next month %lld", cases[i].name, (long long)bucket_next_month(cases[i].t));
        if (bucket_month_key(cases[i].t) != cases[i].month_key)
            fail_msg("%s: month key %d", cases[i].name, bucket_month_key(cases[i].t));
    }
    assert_int_equal(bucket_day_key(JAN1_2027) - bucket_day_key(NYE_2026_235959), 1);
}

static void test_rate_10_per_minute(void **state)
{
    (void)state;
    /* SIM limited to 10 SMS/min, burst 10: ten go at once, the 11th waits
     * 6 s (one token), then one every 6 s. */
    struct bucket_limits lim = {.rate_per_min = 10};
    struct bucket b;
    sg_ms t = MAR15_2027_10H, when;
    bucket_init(&b, &lim, t);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(bucket_check(&b, 1, t, &when), BUCKET_OK);
        bucket_take(&b, 1, t);
    }
    assert_int_equal(bucket_check(&b, 1, t, &when), BUCKET_RATE);
    assert_int_equal(when - t, 6000);
    assert_int_equal(bucket_check(&b, 1, t + 5999, NULL), BUCKET_RATE);
    assert_int_equal(bucket_check(&b, 1, t + 6000, NULL), BUCKET_OK);
    bucket_take(&b, 1, t + 6000);
    assert_int_equal(bucket_check(&b, 1, t + 6000, &when), BUCKET_RATE);
    assert_int_equal(when, t + 12000);
    /* An hour idle refills only to the burst, not 600 tokens. */
    t += 3600000;
    for (int i = 0; i < 10; i++)
        bucket_take(&b, 1, t);
    assert_int_equal(bucket_check(&b, 1, t, NULL), BUCKET_RATE);
}

static void test_multipart_larger_than_burst(void **state)
{
    (void)state;
    /* Rate 2/min, a 5-part message: goes when the bucket is full, leaves a
     * debt of 3 tokens: the next single part waits 2 minutes. */
    struct bucket_limits lim = {.rate_per_min = 2};
    struct bucket b;
    sg_ms t = JAN1_2027, when;
    bucket_init(&b, &lim, t);
    assert_int_equal(bucket_check(&b, 5, t, NULL), BUCKET_OK);
    bucket_take(&b, 5, t);
    assert_int_equal(bucket_check(&b, 1, t, &when), BUCKET_RATE);
    assert_int_equal(when - t, 120000);
    assert_int_equal(bucket_check(&b, 5, t + 60000, &when), BUCKET_RATE);
    assert_int_equal(when - t, 150000);   /* full (2 tokens) after 2.5 min */
}

static void test_daily_quota_resets_at_utc_midnight(void **state)
{
    (void)state;
    struct bucket_limits lim = {.daily = 3};
    struct bucket b;
    sg_ms when;
    bucket_init(&b, &lim, NYE_2026_235959 - 60000);
    bucket_take(&b, 2, NYE_2026_235959 - 60000);
    assert_int_equal(bucket_daily_left(&b, NYE_2026_235959), 1);
    /* A 2-part message does not fit in the last 1. */
    assert_int_equal(bucket_check(&b, 2, NYE_2026_235959, &when), BUCKET_DAILY);
    assert_int_equal(when, JAN1_2027);
    assert_int_equal(bucket_check(&b, 1, NYE_2026_235959, NULL), BUCKET_OK);
    bucket_take(&b, 1, NYE_2026_235959);
    assert_int_equal(bucket_check(&b, 1, NYE_2026_235959 + 999, NULL), BUCKET_DAILY);
    /* One ms after midnight UTC the day is fresh, without any take. */
    assert_int_equal(bucket_daily_left(&b, JAN1_2027), 3);
    assert_int_equal(bucket_check(&b, 3, JAN1_2027, NULL), BUCKET_OK);
    bucket_take(&b, 1, JAN1_2027);
    assert_int_equal(b.day_count, 1);
    /* Message bigger than the whole daily quota: never. */
    assert_int_equal(bucket_check(&b, 4, JAN1_2027, &when), BUCKET_DAILY);
    assert_int_equal(when, SG_MS_NEVER);
}

static void test_monthly_quota_across_month_and_leap_day(void **state)
{
    (void)state;
    struct bucket_limits lim = {.daily = 100, .monthly = 150};
    struct bucket b;
    sg_ms when;
    bucket_init(&b, &lim, FEB28_2028_NOON);
    bucket_take(&b, 100, FEB28_2028_NOON);
    assert_int_equal(bucket_check(&b, 1, FEB28_2028_NOON, &when), BUCKET_DAILY);
    assert_int_equal(when, FEB29_2028);
    /* Leap day: new day, same month: 50 left of the month. */
    bucket_take(&b, 50, FEB29_2028 + 1000);
    assert_int_equal(bucket_monthly_left(&b, FEB29_2028 + 2000), 0);
    assert_int_equal(bucket_check(&b, 1, FEB29_2028 + 2000, &when), BUCKET_MONTHLY);
    assert_int_equal(when, MAR1_2028);
    /* Monthly wins over daily when both are out. */
    assert_int_equal(bucket_daily_left(&b, FEB29_2028 + 2000), 50);
    assert_int_equal(bucket_check(&b, 1, MAR1_2028, NULL), BUCKET_OK);
    bucket_take(&b, 1, MAR1_2028);
    assert_int_equal(b.month_count, 1);
    assert_int_equal(b.month_key, 2028 * 12 + 2);
}

static void test_refund_and_clock_step_back(void **state)
{
    (void)state;
    struct bucket_limits lim = {.rate_per_min = 1, .daily = 5};
    struct bucket b;
    sg_ms t = MAR15_2027_10H;
    bucket_init(&b, &lim, t);
    bucket_take(&b, 1, t);
    assert_int_equal(bucket_check(&b, 1, t, NULL), BUCKET_RATE);
    /* Timeout before the payload: nothing was billed, give it back. */
    bucket_refund(&b, 1, t + 10);
    assert_int_equal(bucket_check(&b, 1, t + 10, NULL), BUCKET_OK);
    assert_int_equal(b.day_count, 0);
    bucket_refund(&b, 4, t + 20);   /* refunding more than taken stays at 0 */
    assert_int_equal(b.day_count, 0);
    assert_true(b.tokens_milli <= 1000);
    /* NTP steps the clock back 10 minutes: no refill, no crash. */
    bucket_take(&b, 1, t + 30);
    assert_int_equal(bucket_check(&b, 1, t - 600000, NULL), BUCKET_RATE);
    bucket_take(&b, 1, t - 600000);
    assert_true(b.tokens_milli < 0);
    assert_int_equal(bucket_check(&b, 1, t - 600000 + 119999, NULL), BUCKET_RATE);
    assert_int_equal(bucket_check(&b, 1, t - 600000 + 120000, NULL), BUCKET_OK);
}

static void test_unlimited_and_limit_change(void **state)
{
    (void)state;
    struct bucket_limits none = {0};
    struct bucket b;
    bucket_init(&b, &none, JAN1_2027);
    for (int i = 0; i < 1000; i++)
        bucket_take(&b, 10, JAN1_2027);
    assert_int_equal(bucket_check(&b, 10, JAN1_2027, NULL), BUCKET_OK);
    assert_int_equal(bucket_daily_left(&b, JAN1_2027), UINT32_MAX);
    /* Operator sets a daily quota of 5000 on reload: today's 10000 count. */
    struct bucket_limits lim = {.rate_per_min = 30, .burst = 5, .daily = 5000};
    bucket_set_limits(&b, &lim);
    assert_int_equal(bucket_check(&b, 1, JAN1_2027, NULL), BUCKET_DAILY);
    assert_int_equal(bucket_check(&b, 5, JAN1_2027 + 86400000, NULL), BUCKET_OK);
    assert_int_equal(bucket_check(&b, 6, JAN1_2027 + 86400000, NULL), BUCKET_OK); /* > burst, full */
    assert_string_equal(bucket_verdict_name(BUCKET_MONTHLY), "monthly_quota");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_calendar),
        cmocka_unit_test(test_rate_10_per_minute),
        cmocka_unit_test(test_multipart_larger_than_burst),
        cmocka_unit_test(test_daily_quota_resets_at_utc_midnight),
        cmocka_unit_test(test_monthly_quota_across_month_and_leap_day),
        cmocka_unit_test(test_refund_and_clock_step_back),
        cmocka_unit_test(test_unlimited_and_limit_change),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
