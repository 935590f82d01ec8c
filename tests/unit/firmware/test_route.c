#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "firmware/route.h"

#define NOW ((sg_ms)1805104800000)   /* 2027-03-15 10:00 UTC */
#define MIDNIGHT ((sg_ms)1805155200000)   /* 2027-03-16 00:00 UTC */

/* A SIM described compactly for the table. */
struct sim_desc {
    bool off, busy, excl;
    const char *allow, *deny;   /* one prefix each, NULL = none */
    sg_ms idle;                 /* ms since last use */
    bool quota_out, rate_out, breaker_open, never_used;
};

struct pick_case {
    const char *name;
    const char *dest;
    const char *sticky_to;      /* iccid remembered for dest, or NULL */
    struct sim_desc sims[4];
    size_t n;
    int want_index;
    enum route_reason want_reason;
    bool want_sticky;
    sg_ms want_retry_at;        /* 0 = don't check */
};

static const char *const iccids[4] = {"8933010000000000001", "8933010000000000002",
                                      "8944200000000000003", "8933010000000000004"};

static const struct pick_case pick_cases[] = {
    {"three idle SIMs: the one idle longest", "+33612345678", NULL,
     {{.idle = 10000}, {.idle = 90000}, {.idle = 50000}}, 3, 1, ROUTE_OK, false, 0},
    {"a SIM never used beats one used long ago", "+33612345678", NULL,
     {{.idle = 10000}, {.never_used = true}, {.idle = 86400000}}, 3, 1, ROUTE_OK, false, 0},
    {"disabled SIM skipped even if least recently used", "+33612345678", NULL,
     {{.idle = 10000}, {.off = true, .idle = 90000}}, 2, 0, ROUTE_OK, false, 0},
    {"French-only SIM does not take a UK number", "+447700900123", NULL,
     {{.allow = "+33", .idle = 90000}, {.idle = 1000}}, 2, 1, ROUTE_OK, false, 0},
    {"allow prefix written without plus", "+33612345678", NULL,
     {{.allow = "336", .idle = 90000}, {.idle = 1000}}, 2, 0, ROUTE_OK, false, 0},
    {"deny wins over allow: premium 0899 numbers", "+33899123456", NULL,
     {{.allow = "+33", .deny = "+338", .idle = 90000}, {.idle = 1000}}, 2, 1, ROUTE_OK, false, 0},
    {"only SIM denies the prefix", "+33899123456", NULL,
     {{.deny = "+338"}}, 1, -1, ROUTE_PREFIX, false, SG_MS_NEVER},
    {"SIM excluded after retry-soon on it", "+33612345678", NULL,
     {{.excl = true, .idle = 90000}, {.idle = 10}}, 2, 1, ROUTE_OK, false, 0},
    {"daily quota used: skipped; alone: wait for UTC midnight", "+33612345678", NULL,
     {{.quota_out = true}}, 1, -1, ROUTE_QUOTA, false, MIDNIGHT},
    {"breaker open on the LRU SIM", "+33612345678", NULL,
     {{.breaker_open = true, .idle = 90000}, {.idle = 10}}, 2, 1, ROUTE_OK, false, 0},
    {"all SIMs rate-limited: wait for the first token", "+33612345678", NULL,
     {{.rate_out = true}, {.rate_out = true}}, 2, -1, ROUTE_RATE, false, NOW + 6000},
    {"all busy beats one denying the prefix", "+33899123456", NULL,
     {{.deny = "+338"}, {.busy = true}, {.busy = true}}, 3, -1, ROUTE_BUSY, false, SG_MS_NEVER},
    {"empty pool", "+33612345678", NULL, {{0}}, 0, -1, ROUTE_NO_SIMS, false, SG_MS_NEVER},
    {"sticky: same recipient keeps its SIM though another is idler", "+33612345678",
     "8933010000000000001", {{.idle = 10}, {.idle = 90000}}, 2, 0, ROUTE_OK, true, 0},
    {"sticky SIM busy: fall back to LRU", "+33612345678", "8933010000000000001",
     {{.busy = true}, {.idle = 90000}, {.idle = 5}}, 3, 1, ROUTE_OK, false, 0},
    {"sticky SIM gone from the pool: LRU", "+33612345678", "8933019999999999999",
     {{.idle = 10}, {.idle = 90000}}, 2, 1, ROUTE_OK, false, 0},
    {"sticky only for that recipient", "+33699999999", NULL,
     {{.idle = 10}, {.idle = 90000}}, 2, 1, ROUTE_OK, false, 0},
    {"breaker and rate: earliest of cool-down and token", "+33612345678", NULL,
     {{.breaker_open = true}, {.rate_out = true}}, 2, -1, ROUTE_RATE, false, NOW + 6000},
};

static void test_pick_table(void **state)
{
    (void)state;
    struct breaker_cfg bcfg;
    breaker_cfg_default(&bcfg);
    for (size_t i = 0; i < sizeof(pick_cases) / sizeof(pick_cases[0]); i++) {
        const struct pick_case *c = &pick_cases[i];
        struct route_sim sims[4];
        struct bucket buckets[4];
        struct breaker breakers[4];
        const char *allow[4][1], *deny[4][1];
        for (size_t k = 0; k < c->n; k++) {
            const struct sim_desc *d = &c->sims[k];
            struct bucket_limits lim = {.rate_per_min = 10, .daily = 100};
            bucket_init(&buckets[k], &lim, NOW - 60000);
            if (d->quota_out)
                bucket_take(&buckets[k], 100, NOW - 1000);
            if (d->rate_out)
                bucket_take(&buckets[k], 10, NOW);
            breaker_init(&breakers[k]);
            if (d->breaker_open)
                for (unsigned f = 0; f < bcfg.threshold; f++)
                    breaker_on_failure(&breakers[k], &bcfg, NOW - 1000);
            allow[k][0] = d->allow;
            deny[k][0] = d->deny;
            sims[k] = (struct route_sim){
                .iccid = iccids[k], .enabled = !d->off, .modem_free = !d->busy, .excluded = d->excl,
                .allow = allow[k], .n_allow = d->allow ? 1 : 0,
                .deny = deny[k], .n_deny = d->deny ? 1 : 0,
                .bucket = &buckets[k], .breaker = &breakers[k],
                .last_used = d->never_used ? 0 : NOW - d->idle,
            };
        }
        struct route_sticky *st = route_sticky_new(8, 3600000);
        assert_non_null(st);
        if (c->sticky_to)
            route_sticky_remember(st, "+33612345678", c->sticky_to, NOW - 60000);
        struct route_result r;
        route_pick(sims, c->n, c->dest, 1, st, &bcfg, NOW, &r);
        route_sticky_free(st);
        if (r.index != c->want_index || r.reason != c->want_reason || r.sticky != c->want_sticky)
            fail_msg("%s: index %d reason %s sticky %d; want %d %s %d", c->name, r.index,
                     route_reason_name(r.reason), r.sticky, c->want_index,
                     route_reason_name(c->want_reason), c->want_sticky);
        if (c->want_retry_at && r.retry_at != c->want_retry_at)
            fail_msg("%s: retry_at %+lld", c->name, (long long)(r.retry_at - NOW));
        unsigned total = 0;
        for (int k = 0; k < ROUTE_REASON_COUNT; k++)
            total += r.stopped[k];
        assert_int_equal(total, c->n);
    }
}

static void test_sticky_window_and_lru_eviction(void **state)
{
    (void)state;
    struct route_sticky *st = route_sticky_new(2, 600000);   /* 2 entries, 10 min */
    assert_non_null(st);
    route_sticky_remember(st, "+33600000001", "SIM-A", NOW);
    route_sticky_remember(st, "+33600000002", "SIM-B", NOW + 1000);
    assert_string_equal(route_sticky_lookup(st, "+33600000001", NOW + 2000), "SIM-A");
    /* Same digits without '+' are the same recipient. */
    assert_string_equal(route_sticky_lookup(st, "33600000002", NOW + 2000), "SIM-B");
    /* Window: 10 min after the last send it is no longer sticky. */
    assert_null(route_sticky_lookup(st, "+33600000001", NOW + 600000));
    assert_non_null(route_sticky_lookup(st, "+33600000001", NOW + 599999));
    /* Re-sending refreshes the entry, so recipient 2 is now the LRU. */
    route_sticky_remember(st, "+33600000001", "SIM-C", NOW + 5000);
    assert_string_equal(route_sticky_lookup(st, "+33600000001", NOW + 6000), "SIM-C");
    /* A third recipient at the cap evicts the least recently used (2). */
    route_sticky_remember(st, "+33600000003", "SIM-A", NOW + 7000);
    assert_int_equal(route_sticky_count(st), 2);
    assert_null(route_sticky_lookup(st, "+33600000002", NOW + 8000));
    assert_string_equal(route_sticky_lookup(st, "+33600000001", NOW + 8000), "SIM-C");
    assert_string_equal(route_sticky_lookup(st, "+33600000003", NOW + 8000), "SIM-A");
    /* Over-long ICCID is truncated, never overflows. */
    route_sticky_remember(st, "+33600000003", "89330100000000000000000000000000000000", NOW + 9000);
    assert_int_equal(strlen(route_sticky_lookup(st, "+33600000003", NOW + 9000)), ROUTE_ICCID_MAX - 1);
    route_sticky_free(st);
    assert_null(route_sticky_new(0, 1000));
    route_sticky_free(NULL);
}

static void test_half_open_breaker_lets_one_trial(void **state)
{
    (void)state;
    struct breaker_cfg bcfg;
    breaker_cfg_default(&bcfg);
    struct breaker br;
    breaker_init(&br);
    for (unsigned f = 0; f < bcfg.threshold; f++)
        breaker_on_failure(&br, &bcfg, NOW);
    struct route_sim sim = {.iccid = "A", .enabled = true, .modem_free = true, .breaker = &br};
    struct route_result r;
    route_pick(&sim, 1, "+33612345678", 1, NULL, &bcfg, NOW + 1000, &r);
    assert_int_equal(r.reason, ROUTE_BREAKER);
    assert_int_equal(r.retry_at, NOW + bcfg.cooldown_ms);
    route_pick(&sim, 1, "+33612345678", 1, NULL, &bcfg, NOW + bcfg.cooldown_ms, &r);
    assert_int_equal(r.index, 0);
    breaker_on_attempt(&br, &bcfg, NOW + bcfg.cooldown_ms);
    /* The trial is out: the next message waits for it (or its timeout). */
    route_pick(&sim, 1, "+33612345678", 1, NULL, &bcfg, NOW + bcfg.cooldown_ms + 1, &r);
    assert_int_equal(r.reason, ROUTE_BREAKER);
    assert_int_equal(r.retry_at, NOW + bcfg.cooldown_ms + bcfg.trial_timeout_ms);
}

static void test_sims_left_after_failure(void **state)
{
    (void)state;
    static const char *const fr[] = {"+33"};
    struct route_sim sims[] = {
        {.iccid = "A", .enabled = true},
        {.iccid = "B", .enabled = true, .excluded = true},
        {.iccid = "C", .enabled = false},
        {.iccid = "D", .enabled = true, .allow = fr, .n_allow = 1},
        {.iccid = "E", .enabled = true},
    };
    assert_int_equal(route_sims_left(sims, 5, "+33612345678", "A"), 2);   /* D, E */
    assert_int_equal(route_sims_left(sims, 5, "+447700900123", "A"), 1);  /* E */
    assert_int_equal(route_sims_left(sims, 5, "+447700900123", "E"), 1);  /* A */
    assert_int_equal(route_sims_left(sims, 0, "+33612345678", NULL), 0);
    assert_false(route_prefix_ok(&sims[3], NULL));
    assert_string_equal(route_reason_name(ROUTE_BUSY), "busy");
}

static void test_multipart_needs_tokens_for_all_parts(void **state)
{
    (void)state;
    /* SIM A has 2 tokens left, SIM B is full: a 3-part message goes to B
     * even though A is least recently used. */
    struct bucket_limits lim = {.rate_per_min = 10};
    struct bucket a, b;
    bucket_init(&a, &lim, NOW);
    bucket_init(&b, &lim, NOW);
    bucket_take(&a, 8, NOW);
    struct route_sim sims[] = {
        {.iccid = "A", .enabled = true, .modem_free = true, .bucket = &a, .last_used = 1},
        {.iccid = "B", .enabled = true, .modem_free = true, .bucket = &b, .last_used = NOW - 10},
    };
    struct route_result r;
    route_pick(sims, 2, "+33612345678", 3, NULL, NULL, NOW, &r);
    assert_int_equal(r.index, 1);
    route_pick(sims, 2, "+33612345678", 2, NULL, NULL, NOW, &r);
    assert_int_equal(r.index, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pick_table),
        cmocka_unit_test(test_sticky_window_and_lru_eviction),
        cmocka_unit_test(test_half_open_breaker_lets_one_trial),
        cmocka_unit_test(test_sims_left_after_failure),
        cmocka_unit_test(test_multipart_needs_tokens_for_all_parts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
