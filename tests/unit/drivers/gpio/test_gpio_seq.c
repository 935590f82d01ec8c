/*
 * Power sequencing through the recording backend: a fake clock drives the
 * pure sequencer, every line change lands in the trace, STATUS follows a
 * script. Each case asserts line, level and time of every step and when and
 * how the sequence ends.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "drivers/gpio/gpio.h"
#include "drivers/gpio/gpio_seq.h"

struct fake_clock {
    sg_ms now;
};

static sg_ms fake_now(void *ctx)
{
    return ((struct fake_clock *)ctx)->now;
}

struct step_want {
    unsigned role;
    bool asserted;
    sg_ms at;
};

struct point {
    sg_ms at;
    bool on;
};

#define MAX_STEPS  8
#define MAX_POINTS 4

struct seq_case {
    const char *name;
    const char *vendor;
    enum gpio_seq_kind kind;
    bool pwrkey, reset, status; /* which lines the board wires */
    bool pwrkey_active_low;
    struct point status_script[MAX_POINTS];
    size_t npoints;
    struct step_want want[MAX_STEPS];
    size_t nwant;
    enum gpio_seq_act_type want_end;
    enum gpio_seq_outcome want_outcome; /* DONE */
    int want_err;                       /* FAILED */
    sg_ms want_end_at;
};

#define P GPIO_PWRKEY
#define R GPIO_RESET

/* clang-format off */
static const struct seq_case cases[] = {
    {"SIM800 power-on, STATUS rises 1.8 s after the key goes down: key held until then",
     "sim800", GPIO_SEQ_POWER_ON, true, false, true, false,
     {{1800, true}}, 1,
     {{P, true, 0}, {P, false, 1800}}, 2,
     GPIO_SEQ_DONE, GPIO_SEQ_CONFIRMED, 0, 1800},
    {"SIM800 power-on, STATUS rises off the poll grid (1830 ms): seen at next poll", "sim800",
     GPIO_SEQ_POWER_ON, true, false, true, false,
     {{1830, true}}, 1,
     {{P, true, 0}, {P, false, 1850}}, 2,
     GPIO_SEQ_DONE, GPIO_SEQ_CONFIRMED, 0, 1850},
    {"SIM800 power-on, STATUS up at 1.0 s: key still held the full 1100 ms", "sim800",
     GPIO_SEQ_POWER_ON, true, false, true, false,
     {{1000, true}}, 1,
     {{P, true, 0}, {P, false, 1100}}, 2,
     GPIO_SEQ_DONE, GPIO_SEQ_CONFIRMED, 0, 1100},
    {"M95 power-on: key released as soon as STATUS is high", "m95",
     GPIO_SEQ_POWER_ON, true, false, true, false,
     {{1400, true}}, 1,
     {{P, true, 0}, {P, false, 1400}}, 2,
     GPIO_SEQ_DONE, GPIO_SEQ_CONFIRMED, 0, 1400},
    {"M95 power-on without STATUS: plain 1100 ms pulse", "m95",
     GPIO_SEQ_POWER_ON, true, false, false, false,
     {{0, false}}, 0,
     {{P, true, 0}, {P, false, 1100}}, 2,
     GPIO_SEQ_DONE, GPIO_SEQ_UNCONFIRMED, 0, 1100},
    {"SIM800 power-on when already on: no pulse (it would switch it off)", "sim800",
     GPIO_SEQ_POWER_ON, true, false, true, false,
     {{0, true}}, 1,
     {{0, false, 0}}, 0,
     GPIO_SEQ_DONE, GPIO_SEQ_ALREADY, 0, 0},
    {"SIM800 power-on, STATUS never rises: key released, then timeout, 2.5 s after 1100 ms",
     "sim800", GPIO_SEQ_POWER_ON, true, false, true, false,
     {{0, false}}, 1,
     {{P, true, 0}, {P, false, 3600}}, 2,
     GPIO_SEQ_FAILED, 0, -ETIMEDOUT, 3600},
    {"SIM800 power-off, NORMAL POWER DOWN then STATUS low at 3 s", "sim800",
     GPIO_SEQ_POWER_OFF, true, false, true, false,
     {{0, true}, {3000, false}}, 2,
     {{P, true, 0}, {P, false, 1500}}, 2,
     GPIO_SEQ_DONE, GPIO_SEQ_CONFIRMED, 0, 3000},
    {"SIM800 power-off when already off: nothing driven", "sim800",
     GPIO_SEQ_POWER_OFF, true, false, true, false,
     {{0, false}}, 1,
     {{0, false, 0}}, 0,
     GPIO_SEQ_DONE, GPIO_SEQ_ALREADY, 0, 0},
    {"SIM800 power cycle without STATUS: 6 s blind pause, 1 s gap, on pulse", "sim800",
     GPIO_SEQ_POWER_CYCLE, true, false, false, false,
     {{0, false}}, 0,
     {{P, true, 0}, {P, false, 1500}, {P, true, 8500}, {P, false, 9600}}, 4,
     GPIO_SEQ_DONE, GPIO_SEQ_UNCONFIRMED, 0, 9600},
    {"SIM800 power cycle of a module that is already off: on half only", "sim800",
     GPIO_SEQ_POWER_CYCLE, true, false, true, false,
     {{0, false}, {2000, true}}, 2,
     {{P, true, 0}, {P, false, 2000}}, 2,
     GPIO_SEQ_DONE, GPIO_SEQ_CONFIRMED, 0, 2000},
    {"EC25 power-on without STATUS: 600 ms pulse, RDY confirms later", "ec25",
     GPIO_SEQ_POWER_ON, true, true, false, false,
     {{0, false}}, 0,
     {{P, true, 0}, {P, false, 600}}, 2,
     GPIO_SEQ_DONE, GPIO_SEQ_UNCONFIRMED, 0, 600},
    {"EC25 power-on, STATUS after 12 s (inside the 15 s allowance)", "ec25",
     GPIO_SEQ_POWER_ON, true, false, true, false,
     {{12600, true}}, 1,
     {{P, true, 0}, {P, false, 600}}, 2,
     GPIO_SEQ_DONE, GPIO_SEQ_CONFIRMED, 0, 12600},
    {"EG25-G power-on: 1500 ms pulse (Zephyr timing)", "eg25",
     GPIO_SEQ_POWER_ON, true, false, true, false,
     {{9000, true}}, 1,
     {{P, true, 0}, {P, false, 1500}}, 2,
     GPIO_SEQ_DONE, GPIO_SEQ_CONFIRMED, 0, 9000},
    {"EC25 power cycle: off 750 ms, STATUS low at 5.75 s, 1 s gap, on 600 ms", "ec25",
     GPIO_SEQ_POWER_CYCLE, true, true, true, false,
     {{0, true}, {5750, false}, {12000, true}}, 3,
     {{P, true, 0}, {P, false, 750}, {P, true, 6750}, {P, false, 7350}}, 4,
     GPIO_SEQ_DONE, GPIO_SEQ_CONFIRMED, 0, 12000},
    {"EC25 power cycle, STATUS stuck high: off half times out after 40 s", "ec25",
     GPIO_SEQ_POWER_CYCLE, true, false, true, false,
     {{0, true}}, 1,
     {{P, true, 0}, {P, false, 750}}, 2,
     GPIO_SEQ_FAILED, 0, -ETIMEDOUT, 40750},
    {"EC25 reset: 480 ms RESET pulse, STATUS still high", "ec25",
     GPIO_SEQ_RESET, true, true, true, false,
     {{0, true}}, 1,
     {{R, true, 0}, {R, false, 480}}, 2,
     GPIO_SEQ_DONE, GPIO_SEQ_CONFIRMED, 0, 480},
    {"EC25 reset of a module that is off: STATUS never comes", "ec25",
     GPIO_SEQ_RESET, true, true, true, false,
     {{0, false}}, 1,
     {{R, true, 0}, {R, false, 480}}, 2,
     GPIO_SEQ_FAILED, 0, -ETIMEDOUT, 15480},
    {"SIM800 board without RESET line: reset refused, nothing driven", "sim800",
     GPIO_SEQ_RESET, true, false, true, false,
     {{0, true}}, 1,
     {{0, false, 0}}, 0,
     GPIO_SEQ_FAILED, 0, -ENOTSUP, 0},
    {"Huawei stick (no lines): power-on refused", "huawei",
     GPIO_SEQ_POWER_ON, false, false, false, false,
     {{0, false}}, 0,
     {{0, false, 0}}, 0,
     GPIO_SEQ_FAILED, 0, -ENOTSUP, 0},
    {"SIM7600 power-on through an inverting transistor (PWRKEY active-low)", "sim7600",
     GPIO_SEQ_POWER_ON, true, false, true, true,
     {{4000, true}}, 1,
     {{P, true, 0}, {P, false, 500}}, 2,
     GPIO_SEQ_DONE, GPIO_SEQ_CONFIRMED, 0, 4000},
};
/* clang-format on */

/* Runs a sequence the way drivers/modem will: apply SETs at once, jump the
 * fake clock to each WAIT deadline. Checks that the clock only moves
 * forward, that no wait while polling STATUS is longer than the poll
 * period, and that the loop ends. Returns the final action. */
static struct gpio_seq_act drive(struct gpio_seq *seq, struct gpio *g, struct fake_clock *clk,
                                 sg_ms status_timeout_ms)
{
    for (int guard = 0; guard < 100000; guard++) {
        int st = gpio_has(g, GPIO_STATUS) ? gpio_get_status(g) : -ENOENT;
        struct gpio_seq_act a = gpio_seq_step(seq, clk->now, st);
        if (a.type == GPIO_SEQ_SET) {
            struct sg_err err;
            assert_int_equal(gpio_set(g, a.role, a.asserted, &err), 0);
            continue;
        }
        if (a.type != GPIO_SEQ_WAIT)
            return a;
        assert_true(a.deadline > clk->now);
        assert_true(a.deadline - clk->now <= 40000 + status_timeout_ms);
        /* Calling early must give the same answer and change nothing. */
        struct gpio_seq_act again = gpio_seq_step(seq, clk->now, st);
        assert_int_equal(again.type, GPIO_SEQ_WAIT);
        assert_true(again.deadline == a.deadline);
        clk->now = a.deadline;
    }
    fail_msg("sequence did not end");
    return (struct gpio_seq_act){0};
}

static void run_case(const struct seq_case *c)
{
    struct gpio_cfg cfg;
    gpio_cfg_init(&cfg);
    if (c->pwrkey)
        cfg.pwrkey = (struct gpio_line_cfg){17, c->pwrkey_active_low};
    if (c->reset)
        cfg.reset = (struct gpio_line_cfg){27, false};
    if (c->status)
        cfg.status = (struct gpio_line_cfg){22, false};
    const struct gpio_timing *t = gpio_seq_timing_for(c->vendor);
    assert_non_null(t);
    cfg.timing = *t;

    struct fake_clock clk = {0};
    struct gpio *g = NULL;
    struct sg_err err;
    assert_int_equal(gpio_open_recording(&cfg, fake_now, &clk, &g, &err), 0);
    for (size_t i = 0; i < c->npoints; i++)
        assert_int_equal(gpio_script_status(g, c->status_script[i].at, c->status_script[i].on), 0);

    unsigned wired = 0;
    if (gpio_has(g, GPIO_PWRKEY))
        wired |= GPIO_PWRKEY;
    if (gpio_has(g, GPIO_RESET))
        wired |= GPIO_RESET;
    if (gpio_has(g, GPIO_STATUS))
        wired |= GPIO_STATUS;
    struct gpio_seq seq;
    int rc = gpio_seq_start(&seq, c->kind, &cfg.timing, wired, clk.now);
    assert_int_equal(rc, c->want_end == GPIO_SEQ_FAILED && c->want_err == -ENOTSUP ? -ENOTSUP : 0);

    struct gpio_seq_act end = drive(&seq, g, &clk, cfg.timing.status_on_ms);
    assert_int_equal(end.type, c->want_end);
    if (c->want_end == GPIO_SEQ_DONE)
        assert_int_equal(end.outcome, c->want_outcome);
    else
        assert_int_equal(end.err, c->want_err);
    assert_int_equal(clk.now, c->want_end_at);
    assert_int_equal(gpio_seq_held(&seq), 0);

    /* Finished sequences keep answering the same. */
    struct gpio_seq_act again = gpio_seq_step(&seq, clk.now + 100000, 0);
    assert_int_equal(again.type, end.type);

    size_t n;
    const struct gpio_trace_entry *tr = gpio_trace(g, &n);
    assert_int_equal(n, c->nwant);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(tr[i].role, c->want[i].role);
        assert_int_equal(tr[i].asserted, c->want[i].asserted);
        assert_int_equal(tr[i].at, c->want[i].at);
        bool active_low = tr[i].role == GPIO_PWRKEY && c->pwrkey_active_low;
        assert_int_equal(tr[i].level, c->want[i].asserted != active_low);
    }
    gpio_close(g);
}

static void test_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        print_message("  case: %s\n", cases[i].name);
        run_case(&cases[i]);
    }
}

static void test_status_read_error_fails_without_holding_lines(void **state)
{
    (void)state;
    const struct gpio_timing *t = gpio_seq_timing_for("ec25");
    struct gpio_seq seq;
    assert_int_equal(gpio_seq_start(&seq, GPIO_SEQ_POWER_ON, t, GPIO_PWRKEY | GPIO_STATUS, 0), 0);
    struct gpio_seq_act a = gpio_seq_step(&seq, 0, 0);
    assert_int_equal(a.type, GPIO_SEQ_SET);
    assert_int_equal(gpio_seq_held(&seq), GPIO_PWRKEY);
    a = gpio_seq_step(&seq, 0, 0);
    assert_int_equal(a.type, GPIO_SEQ_WAIT);
    assert_int_equal(a.deadline, 600);
    a = gpio_seq_step(&seq, 600, 0);
    assert_int_equal(a.type, GPIO_SEQ_SET);
    assert_false(a.asserted);
    assert_int_equal(gpio_seq_held(&seq), 0);
    a = gpio_seq_step(&seq, 600, -EIO);
    assert_int_equal(a.type, GPIO_SEQ_FAILED);
    assert_int_equal(a.err, -EIO);
}

static void test_status_error_while_holding_key_releases_first(void **state)
{
    (void)state;
    struct gpio_seq seq;
    assert_int_equal(gpio_seq_start(&seq, GPIO_SEQ_POWER_ON, gpio_seq_timing_for("sim800"),
                                    GPIO_PWRKEY | GPIO_STATUS, 0),
                     0);
    assert_int_equal(gpio_seq_step(&seq, 0, 0).type, GPIO_SEQ_SET);
    assert_int_equal(gpio_seq_step(&seq, 0, 0).deadline, 1100);
    struct gpio_seq_act a = gpio_seq_step(&seq, 1100, 0);
    assert_int_equal(a.type, GPIO_SEQ_WAIT); /* holding on for STATUS */
    assert_int_equal(a.deadline, 1150);
    a = gpio_seq_step(&seq, 1150, -EIO);
    assert_int_equal(a.type, GPIO_SEQ_SET); /* release before giving up */
    assert_false(a.asserted);
    a = gpio_seq_step(&seq, 1150, -EIO);
    assert_int_equal(a.type, GPIO_SEQ_FAILED);
    assert_int_equal(a.err, -EIO);
    assert_int_equal(gpio_seq_held(&seq), 0);
}

static void test_abandoned_mid_pulse_reports_held_key(void **state)
{
    (void)state;
    struct gpio_seq seq;
    assert_int_equal(
        gpio_seq_start(&seq, GPIO_SEQ_POWER_OFF, gpio_seq_timing_for("ec25"), GPIO_PWRKEY, 0), 0);
    assert_int_equal(gpio_seq_step(&seq, 0, -ENOENT).type, GPIO_SEQ_SET);
    assert_int_equal(gpio_seq_step(&seq, 0, -ENOENT).type, GPIO_SEQ_WAIT);
    assert_int_equal(gpio_seq_held(&seq), GPIO_PWRKEY);
}

static void test_late_caller_still_releases(void **state)
{
    (void)state;
    /* The loop woke 300 ms late: the key is released at once, not 1100 ms
     * after the late wake-up. */
    struct gpio_seq seq;
    assert_int_equal(
        gpio_seq_start(&seq, GPIO_SEQ_POWER_ON, gpio_seq_timing_for("sim800"), GPIO_PWRKEY, 0), 0);
    assert_int_equal(gpio_seq_step(&seq, 0, 0).type, GPIO_SEQ_SET);
    assert_int_equal(gpio_seq_step(&seq, 0, 0).deadline, 1100);
    struct gpio_seq_act a = gpio_seq_step(&seq, 1400, 0);
    assert_int_equal(a.type, GPIO_SEQ_SET);
    assert_false(a.asserted);
}

static void test_bad_start(void **state)
{
    (void)state;
    struct gpio_seq seq;
    assert_int_equal(gpio_seq_start(&seq, GPIO_SEQ_POWER_ON, NULL, GPIO_PWRKEY, 0), -EINVAL);
    assert_int_equal(gpio_seq_step(&seq, 0, 0).type, GPIO_SEQ_FAILED);
    assert_int_equal(gpio_seq_start(&seq, (enum gpio_seq_kind)42, gpio_seq_timing_for("generic"),
                                    GPIO_PWRKEY, 0),
                     -EINVAL);
    assert_int_equal(gpio_seq_step(&seq, 0, 0).err, -EINVAL);
}

static void test_vendor_timings(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        unsigned on, off, reset;
    } want[] = {
        {"sim800", 1100, 1500, 150}, {"sim7600", 500, 2500, 2500}, {"ec25", 600, 750, 480},
        {"eg25", 1500, 750, 480},    {"m95", 1100, 800, 0},        {"generic", 1500, 1500, 500},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const struct gpio_timing *t = gpio_seq_timing_for(want[i].name);
        assert_non_null(t);
        assert_int_equal(t->pwrkey_on_ms, want[i].on);
        assert_int_equal(t->pwrkey_off_ms, want[i].off);
        assert_int_equal(t->reset_ms, want[i].reset);
        /* SIM800 turns back on if the key is held past 33 s. */
        assert_true(t->pwrkey_off_ms < 33000);
    }
    assert_non_null(gpio_seq_timing_for("huawei"));
    assert_null(gpio_seq_timing_for("nokia3310"));
    assert_null(gpio_seq_timing_for(NULL));
    assert_string_equal(gpio_seq_kind_name(GPIO_SEQ_POWER_CYCLE), "power-cycle");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_status_read_error_fails_without_holding_lines),
        cmocka_unit_test(test_status_error_while_holding_key_releases_first),
        cmocka_unit_test(test_abandoned_mid_pulse_reports_held_key),
        cmocka_unit_test(test_late_caller_still_releases),
        cmocka_unit_test(test_bad_start),
        cmocka_unit_test(test_vendor_timings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
