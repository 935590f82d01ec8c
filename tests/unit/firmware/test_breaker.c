#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "firmware/breaker.h"

enum ev { ATTEMPT, OK, FAIL, LOOK, END };

struct step {
    enum ev ev;
    sg_ms t;                      /* seconds from start, x1000 below */
    enum breaker_state want;      /* state_at(t) after the event */
    bool allows;                  /* allows(t) after the event */
};

struct scenario {
    const char *name;
    struct step steps[16];
};

#define S(x) ((sg_ms)(x) * 1000)

/* threshold 3, cool-down 60 s, cap 240 s, trial timeout 300 s */
static const struct scenario scenarios[] = {
    {"SIM with 2 failures then a success stays closed",
     {{FAIL, S(0), BREAKER_CLOSED, true},
      {FAIL, S(1), BREAKER_CLOSED, true},
      {OK, S(2), BREAKER_CLOSED, true},
      {FAIL, S(3), BREAKER_CLOSED, true},
      {FAIL, S(4), BREAKER_CLOSED, true},
      {END, 0, 0, 0}}},
    {"3 consecutive failures open it; trial after 60 s succeeds",
     {{FAIL, S(0), BREAKER_CLOSED, true},
      {FAIL, S(1), BREAKER_CLOSED, true},
      {FAIL, S(2), BREAKER_OPEN, false},
      {LOOK, S(61), BREAKER_OPEN, false},      /* 59 s later: still open */
      {LOOK, S(62), BREAKER_HALF_OPEN, true},  /* cool-down passed */
      {ATTEMPT, S(62), BREAKER_HALF_OPEN, false}, /* one trial only */
      {LOOK, S(70), BREAKER_HALF_OPEN, false},
      {OK, S(75), BREAKER_CLOSED, true},
      {FAIL, S(76), BREAKER_CLOSED, true},        /* the count restarted */
      {END, 0, 0, 0}}},
    {"failed trials double the cool-down up to the cap",
     {{FAIL, S(0), BREAKER_CLOSED, true},
      {FAIL, S(0), BREAKER_CLOSED, true},
      {FAIL, S(0), BREAKER_OPEN, false},
      {ATTEMPT, S(60), BREAKER_HALF_OPEN, false},
      {FAIL, S(65), BREAKER_OPEN, false},
      {LOOK, S(184), BREAKER_OPEN, false},      /* 120 s cool-down now */
      {ATTEMPT, S(185), BREAKER_HALF_OPEN, false},
      {FAIL, S(186), BREAKER_OPEN, false},
      {LOOK, S(186 + 239), BREAKER_OPEN, false}, /* 240 s */
      {ATTEMPT, S(186 + 240), BREAKER_HALF_OPEN, false},
      {FAIL, S(500), BREAKER_OPEN, false},
      {LOOK, S(739), BREAKER_OPEN, false},      /* capped at 240 s, not 480 */
      {LOOK, S(740), BREAKER_HALF_OPEN, true},
      {ATTEMPT, S(740), BREAKER_HALF_OPEN, false},
      {OK, S(741), BREAKER_CLOSED, true},
      {END, 0, 0, 0}}},
    {"trial whose modem vanished is forgotten after 300 s",
     {{FAIL, S(0), BREAKER_CLOSED, true},
      {FAIL, S(0), BREAKER_CLOSED, true},
      {FAIL, S(0), BREAKER_OPEN, false},
      {ATTEMPT, S(60), BREAKER_HALF_OPEN, false},
      {LOOK, S(359), BREAKER_HALF_OPEN, false},
      {LOOK, S(360), BREAKER_HALF_OPEN, true},
      {ATTEMPT, S(360), BREAKER_HALF_OPEN, false},
      {OK, S(361), BREAKER_CLOSED, true},
      {END, 0, 0, 0}}},
    {"late failure while open restarts the cool-down",
     {{FAIL, S(0), BREAKER_CLOSED, true},
      {FAIL, S(0), BREAKER_CLOSED, true},
      {FAIL, S(0), BREAKER_OPEN, false},
      {FAIL, S(30), BREAKER_OPEN, false},
      {LOOK, S(89), BREAKER_OPEN, false},
      {LOOK, S(90), BREAKER_HALF_OPEN, true},
      {END, 0, 0, 0}}},
};

static void test_scenarios(void **state)
{
    (void)state;
    const struct breaker_cfg cfg = {.threshold = 3, .cooldown_ms = S(60), .max_cooldown_ms = S(240),
                                    .trial_timeout_ms = S(300)};
    for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
        struct breaker b;
        breaker_init(&b);
        for (size_t k = 0; scenarios[i].steps[k].ev != END; k++) {
            const struct step *s = &scenarios[i].steps[k];
            switch ((int)s->ev) {
            case ATTEMPT: breaker_on_attempt(&b, &cfg, s->t); break;
            case OK: breaker_on_success(&b); break;
            case FAIL: breaker_on_failure(&b, &cfg, s->t); break;
            default: break;   /* LOOK: only check */
            }
            enum breaker_state st = breaker_state_at(&b, &cfg, s->t);
            bool al = breaker_allows(&b, &cfg, s->t);
            if (st != s->want || al != s->allows)
                fail_msg("%s, step %zu: state %s allows %d, want %s %d", scenarios[i].name, k,
                         breaker_state_name(st), al, breaker_state_name(s->want), s->allows);
        }
    }
}

static void test_reopen_at_for_timer(void **state)
{
    (void)state;
    struct breaker_cfg cfg;
    breaker_cfg_default(&cfg);
    struct breaker b;
    breaker_init(&b);
    assert_int_equal(breaker_reopen_at(&b, &cfg), SG_MS_NEVER);
    for (unsigned i = 0; i < BREAKER_DEFAULT_THRESHOLD; i++)
        breaker_on_failure(&b, &cfg, S(100));
    assert_int_equal(b.state, BREAKER_OPEN);
    assert_int_equal(breaker_reopen_at(&b, &cfg), S(100) + BREAKER_DEFAULT_COOLDOWN_MS);
    /* Thousands of failed trials never overflow the cool-down. */
    b.reopens = 100000;
    assert_int_equal(breaker_reopen_at(&b, &cfg), S(100) + BREAKER_DEFAULT_MAX_COOLDOWN_MS);
    assert_string_equal(breaker_state_name(BREAKER_HALF_OPEN), "half_open");
}

static void test_threshold_zero_means_one(void **state)
{
    (void)state;
    const struct breaker_cfg cfg = {.threshold = 0, .cooldown_ms = 0};
    struct breaker b;
    breaker_init(&b);
    breaker_on_failure(&b, &cfg, 5);
    assert_int_equal(breaker_state_at(&b, &cfg, 5), BREAKER_OPEN);
    assert_int_equal(breaker_state_at(&b, &cfg, 6), BREAKER_HALF_OPEN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scenarios),
        cmocka_unit_test(test_reopen_at_for_timer),
        cmocka_unit_test(test_threshold_zero_means_one),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
