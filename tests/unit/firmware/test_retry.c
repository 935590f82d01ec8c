#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "firmware/retry.h"

#define T0 ((sg_ms)1800000000000)   /* a wall-clock "now" in 2027 */
#define MIN (60 * 1000)

struct decide_case {
    const char *name;
    enum retry_class cls;
    enum retry_prio prio;
    unsigned attempts, sims_left;
    sg_ms ttl;               /* deadline = T0 + ttl; SG_MS_NEVER = none */
    enum retry_action want;
    sg_ms at_min, at_max;    /* bounds on at - T0 (checked when at_max > 0) */
    bool exclude, clear;
    const char *cause;       /* substring, or NULL */
};

static const struct decide_case decide_cases[] = {
    {"CMS 42 congestion on an OTP: another SIM now", RETRY_CLASS_SOON, RETRY_PRIO_OTP, 1, 2,
     5 * MIN, RETRY_ACT_OTHER_SIM, 0, 0, true, false, "retry soon (error 42)"},
    {"OTP after 3 retry-soon errors on three SIMs: any SIM after a short pause", RETRY_CLASS_SOON,
     RETRY_PRIO_OTP, 3, 0, 5 * MIN, RETRY_ACT_AT, 4000, 8000, false, true, NULL},
    {"OTP retry-soon with 2 s left on its TTL and no SIM left: expire", RETRY_CLASS_SOON,
     RETRY_PRIO_OTP, 3, 0, 2000, RETRY_ACT_EXPIRE, 0, 0, false, false, "ttl"},
    {"no prompt from the modem: try another SIM", RETRY_CLASS_TIMEOUT_BEFORE_PAYLOAD,
     RETRY_PRIO_NORMAL, 1, 1, SG_MS_NEVER, RETRY_ACT_OTHER_SIM, 0, 0, true, false, NULL},
    {"CMS 331 no network, first failure: 15-30 s", RETRY_CLASS_LATER, RETRY_PRIO_NORMAL, 1, 3,
     SG_MS_NEVER, RETRY_ACT_AT, 15000, 30000, false, false, "retry later"},
    {"CMS 331 third failure: 60-120 s", RETRY_CLASS_LATER, RETRY_PRIO_NORMAL, 3, 3, SG_MS_NEVER,
     RETRY_ACT_AT, 60000, 120000, false, false, NULL},
    {"retry-later for an OTP whose TTL ends before the backoff", RETRY_CLASS_LATER, RETRY_PRIO_OTP,
     1, 3, 10000, RETRY_ACT_EXPIRE, 0, 0, false, false, "ttl passes"},
    {"bulk retry-later out of attempts", RETRY_CLASS_LATER, RETRY_PRIO_BULK, 3, 3, SG_MS_NEVER,
     RETRY_ACT_FAIL, 0, 0, false, false, "exhausted"},
    {"CMS 1 unassigned number fails at once even on attempt 1", RETRY_CLASS_PERMANENT,
     RETRY_PRIO_OTP, 1, 3, 5 * MIN, RETRY_ACT_FAIL, 0, 0, false, false, "permanent error (error 1)"},
    {"CMS 197 duplicate: treated as sent, never resent", RETRY_CLASS_DUPLICATE, RETRY_PRIO_NORMAL,
     1, 3, SG_MS_NEVER, RETRY_ACT_SENT, 0, 0, false, false, "duplicate"},
    {"CMS 197 after the TTL passed is still sent", RETRY_CLASS_DUPLICATE, RETRY_PRIO_OTP, 2, 3,
     -1000, RETRY_ACT_SENT, 0, 0, false, false, NULL},
    {"CMS 322 memory full: clear storage then retry soon", RETRY_CLASS_MEMFULL, RETRY_PRIO_URGENT,
     1, 3, SG_MS_NEVER, RETRY_ACT_CLEAR_STORAGE, 1000, 2000, false, false, "storage full"},
    {"CMS 340 is not about this send", RETRY_CLASS_IGNORE, RETRY_PRIO_NORMAL, 1, 3, SG_MS_NEVER,
     RETRY_ACT_NONE, 0, 0, false, false, NULL},
    {"CMS 500 unknown: capped at 3 attempts even for OTP", RETRY_CLASS_UNCLASSIFIED,
     RETRY_PRIO_OTP, 3, 3, SG_MS_NEVER, RETRY_ACT_FAIL, 0, 0, false, false, "exhausted"},
    {"CMS 500 first time: backs off like retry-later", RETRY_CLASS_UNCLASSIFIED, RETRY_PRIO_OTP,
     1, 3, SG_MS_NEVER, RETRY_ACT_AT, 15000, 30000, false, false, "unclassified"},
    {"bulk timeout after payload: unknown, not resent", RETRY_CLASS_UNKNOWN_AFTER_PAYLOAD,
     RETRY_PRIO_BULK, 1, 3, SG_MS_NEVER, RETRY_ACT_UNKNOWN, 0, 0, false, false, NULL},
    {"OTP timeout after payload: resent elsewhere (duplicate beats none)",
     RETRY_CLASS_UNKNOWN_AFTER_PAYLOAD, RETRY_PRIO_OTP, 1, 2, 5 * MIN, RETRY_ACT_OTHER_SIM, 0, 0,
     true, false, NULL},
    {"OTP timeout after payload, attempts used up: unknown not failed",
     RETRY_CLASS_UNKNOWN_AFTER_PAYLOAD, RETRY_PRIO_OTP, 5, 2, 5 * MIN, RETRY_ACT_UNKNOWN, 0, 0,
     false, false, "exhausted"},
    {"OTP timeout after payload past TTL: unknown not expired", RETRY_CLASS_UNKNOWN_AFTER_PAYLOAD,
     RETRY_PRIO_OTP, 1, 2, -1, RETRY_ACT_UNKNOWN, 0, 0, false, false, NULL},
    {"retry-soon exactly at the deadline: expire", RETRY_CLASS_SOON, RETRY_PRIO_URGENT, 1, 2, 0,
     RETRY_ACT_EXPIRE, 0, 0, false, false, NULL},
    {"invalid class treated as unclassified", (enum retry_class)99, RETRY_PRIO_NORMAL, 1, 1,
     SG_MS_NEVER, RETRY_ACT_AT, 15000, 30000, false, false, NULL},
};

static void test_decide_table(void **state)
{
    (void)state;
    struct retry_policy p;
    retry_policy_default(&p);
    for (size_t i = 0; i < sizeof(decide_cases) / sizeof(decide_cases[0]); i++) {
        const struct decide_case *c = &decide_cases[i];
        /* Try jitter extremes so bounds hold for any random input. */
        static const uint32_t jit[] = {0, 1, 0x7fffffffu, 0xffffffffu, 12345};
        for (size_t j = 0; j < sizeof(jit) / sizeof(jit[0]); j++) {
            struct retry_input in = {
                .cls = c->cls, .prio = c->prio, .attempts = c->attempts,
                .sims_left = c->sims_left, .now = T0, .jitter = jit[j],
                .deadline = c->ttl == SG_MS_NEVER ? SG_MS_NEVER : T0 + c->ttl,
                .code = c->cls == RETRY_CLASS_SOON ? 42 : (c->cls == RETRY_CLASS_PERMANENT ? 1 : -1),
            };
            struct retry_decision d;
            retry_decide(&p, &in, &d);
            if (d.action != c->want)
                fail_msg("%s: got %s, want %s (cause %s)", c->name, retry_action_name(d.action),
                         retry_action_name(c->want), d.cause);
            if (c->at_max > 0 && (d.at - T0 < c->at_min || d.at - T0 > c->at_max))
                fail_msg("%s: at +%lld outside [%lld, %lld]", c->name, (long long)(d.at - T0),
                         (long long)c->at_min, (long long)c->at_max);
            if (c->want == RETRY_ACT_OTHER_SIM)
                assert_int_equal(d.at, T0);
            if (d.exclude_sim != c->exclude || d.clear_exclusions != c->clear)
                fail_msg("%s: exclude=%d clear=%d", c->name, d.exclude_sim, d.clear_exclusions);
            if (c->cause && !strstr(d.cause, c->cause))
                fail_msg("%s: cause \"%s\" lacks \"%s\"", c->name, d.cause, c->cause);
        }
    }
}

static void test_backoff_bounds(void **state)
{
    (void)state;
    /* For every attempt count, including absurd ones, the delay is within
     * [d/2, d] where d = min(cap, base * 2^(n-1)), never above the cap. */
    for (unsigned n = 1; n < 200; n++) {
        sg_ms d = RETRY_LATER_BASE_MS;
        for (unsigned i = 1; i < n && d < RETRY_LATER_CAP_MS; i++)
            d *= 2;
        if (d > RETRY_LATER_CAP_MS)
            d = RETRY_LATER_CAP_MS;
        sg_ms lo = retry_backoff(RETRY_LATER_BASE_MS, RETRY_LATER_CAP_MS, n, 0);
        sg_ms hi = retry_backoff(RETRY_LATER_BASE_MS, RETRY_LATER_CAP_MS, n, (uint32_t)(d / 2));
        assert_int_equal(lo, d - d / 2);
        assert_int_equal(hi, d);
        for (uint32_t j = 0; j < 5000; j += 7) {
            sg_ms v = retry_backoff(RETRY_LATER_BASE_MS, RETRY_LATER_CAP_MS, n, j * 2654435761u);
            assert_true(v >= lo && v <= hi);
        }
    }
    /* Named steps: 30 s, 60 s, 120 s … capped at 30 min from the 8th. */
    assert_int_equal(retry_backoff(30000, 1800000, 1, 15000), 30000);
    assert_int_equal(retry_backoff(30000, 1800000, 2, 30000), 60000);
    assert_int_equal(retry_backoff(30000, 1800000, 7, 900000), 1800000);
    assert_int_equal(retry_backoff(30000, 1800000, 8, 900000), 1800000);
    /* A cap near INT64_MAX does not overflow. */
    sg_ms big = retry_backoff(1000, INT64_MAX, 100, 0xffffffffu);
    assert_true(big > 0);
    /* Nonsense config: cap below base, zero base. */
    assert_int_equal(retry_backoff(5000, 100, 3, 0xffffffffu) <= 5000, 1);
    assert_true(retry_backoff(0, 0, 1, 7) >= 0);
}

static void test_backoff_jitter_spreads(void **state)
{
    (void)state;
    /* Jitter is the point: 100 failing messages must not all come back in
     * the same second. */
    sg_ms seen_min = INT64_MAX, seen_max = 0;
    for (uint32_t k = 0; k < 100; k++) {
        sg_ms v = retry_backoff(RETRY_LATER_BASE_MS, RETRY_LATER_CAP_MS, 4, k * 2654435761u);
        seen_min = v < seen_min ? v : seen_min;
        seen_max = v > seen_max ? v : seen_max;
    }
    assert_true(seen_max - seen_min > 60000);
}

struct gate_case {
    const char *name;
    enum retry_prio prio;
    unsigned attempts;
    sg_ms ttl;
    enum retry_action want;
};

static void test_gate(void **state)
{
    (void)state;
    static const struct gate_case cases[] = {
        {"fresh OTP", RETRY_PRIO_OTP, 0, 5 * MIN, RETRY_ACT_AT},
        {"OTP picked up 1 ms after its TTL: never sent stale", RETRY_PRIO_OTP, 0, -1, RETRY_ACT_EXPIRE},
        {"OTP picked up exactly at its TTL", RETRY_PRIO_OTP, 1, 0, RETRY_ACT_EXPIRE},
        {"bulk on its 4th attempt with cap 3", RETRY_PRIO_BULK, 3, SG_MS_NEVER, RETRY_ACT_FAIL},
        {"normal on its 4th attempt with cap 4", RETRY_PRIO_NORMAL, 3, SG_MS_NEVER, RETRY_ACT_AT},
    };
    struct retry_policy p;
    retry_policy_default(&p);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct retry_decision d;
        sg_ms dl = cases[i].ttl == SG_MS_NEVER ? SG_MS_NEVER : T0 + cases[i].ttl;
        retry_gate(&p, cases[i].prio, cases[i].attempts, dl, T0, &d);
        if (d.action != cases[i].want)
            fail_msg("%s: got %s", cases[i].name, retry_action_name(d.action));
    }
}

static void test_crash_recovery_rules(void **state)
{
    (void)state;
    struct retry_policy p;
    retry_policy_default(&p);
    struct retry_decision d;

    retry_recover(&p, RETRY_PRIO_OTP, 1, T0 + MIN, T0, &d);
    assert_int_equal(d.action, RETRY_ACT_OTHER_SIM);
    assert_true(d.exclude_sim);
    retry_recover(&p, RETRY_PRIO_URGENT, 1, SG_MS_NEVER, T0, &d);
    assert_int_equal(d.action, RETRY_ACT_OTHER_SIM);
    retry_recover(&p, RETRY_PRIO_NORMAL, 1, SG_MS_NEVER, T0, &d);
    assert_int_equal(d.action, RETRY_ACT_UNKNOWN);
    retry_recover(&p, RETRY_PRIO_BULK, 1, SG_MS_NEVER, T0, &d);
    assert_int_equal(d.action, RETRY_ACT_UNKNOWN);

    /* OTP found in sending after its TTL: it may have gone out: unknown. */
    retry_recover(&p, RETRY_PRIO_OTP, 1, T0 - 1, T0, &d);
    assert_int_equal(d.action, RETRY_ACT_UNKNOWN);
    assert_non_null(strstr(d.cause, "ttl"));
    /* OTP found in sending with its attempts used up: unknown too. */
    retry_recover(&p, RETRY_PRIO_OTP, 5, SG_MS_NEVER, T0, &d);
    assert_int_equal(d.action, RETRY_ACT_UNKNOWN);

    /* The table is configuration: an operator who prefers no duplicates. */
    p.recover[RETRY_PRIO_OTP] = RETRY_RECOVER_MARK_UNKNOWN;
    p.recover[RETRY_PRIO_BULK] = RETRY_RECOVER_RESEND;
    retry_recover(&p, RETRY_PRIO_OTP, 1, SG_MS_NEVER, T0, &d);
    assert_int_equal(d.action, RETRY_ACT_UNKNOWN);
    retry_recover(&p, RETRY_PRIO_BULK, 1, SG_MS_NEVER, T0, &d);
    assert_int_equal(d.action, RETRY_ACT_OTHER_SIM);
}

static void test_otp_walks_three_sims(void **state)
{
    (void)state;
    /* An OTP on a 3-SIM pool, every SIM congested (CMS 42), TTL 5 min:
     * SIM1 fails -> SIM2 now; SIM2 fails -> SIM3 now; SIM3 fails -> no SIM
     * left: all again after 4-8 s; then the 5th attempt is the last. */
    struct retry_policy p;
    retry_policy_default(&p);
    sg_ms now = T0, deadline = T0 + 5 * MIN;
    unsigned attempts = 0, excluded = 0;
    const unsigned pool = 3;
    enum retry_action seen[8];
    unsigned steps = 0;
    for (;;) {
        struct retry_decision g;
        retry_gate(&p, RETRY_PRIO_OTP, attempts, deadline, now, &g);
        if (g.action != RETRY_ACT_AT) {
            seen[steps++] = g.action;
            break;
        }
        attempts++;
        struct retry_input in = {.cls = RETRY_CLASS_SOON, .prio = RETRY_PRIO_OTP, .attempts = attempts,
                                 .sims_left = pool - excluded - 1, .deadline = deadline, .now = now,
                                 .jitter = 0, .code = 42};
        struct retry_decision d;
        retry_decide(&p, &in, &d);
        seen[steps++] = d.action;
        if (d.action == RETRY_ACT_FAIL || d.action == RETRY_ACT_EXPIRE)
            break;
        excluded = d.clear_exclusions ? 0 : excluded + (d.exclude_sim ? 1 : 0);
        now = d.at;
        assert_true(steps < 8);
    }
    static const enum retry_action want[] = {RETRY_ACT_OTHER_SIM, RETRY_ACT_OTHER_SIM, RETRY_ACT_AT,
                                             RETRY_ACT_OTHER_SIM, RETRY_ACT_FAIL};
    assert_int_equal(steps, 5);
    for (unsigned i = 0; i < steps; i++)
        assert_int_equal(seen[i], want[i]);
    assert_int_equal(attempts, 5);
    assert_true(now < deadline);
}

static void test_names(void **state)
{
    (void)state;
    for (int c = 0; c < RETRY_CLASS_COUNT; c++)
        assert_non_null(retry_class_name((enum retry_class)c));
    assert_string_equal(retry_class_name((enum retry_class)77), "invalid");
    assert_string_equal(retry_prio_name(RETRY_PRIO_OTP), "otp");
    assert_string_equal(retry_action_name(RETRY_ACT_EXPIRE), "expire");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decide_table),
        cmocka_unit_test(test_backoff_bounds),
        cmocka_unit_test(test_backoff_jitter_spreads),
        cmocka_unit_test(test_gate),
        cmocka_unit_test(test_crash_recovery_rules),
        cmocka_unit_test(test_otp_walks_three_sims),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
