/*
 * gpio line handling: config checks, the recording backend (trace, STATUS
 * script, caps), and the hardware path failing cleanly where there is no
 * GPIO chip (these build machines have none, and no gpio-sim).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "drivers/gpio/gpio.h"

struct fake_clock {
    sg_ms now;
    int reads;
};

static sg_ms fake_now(void *ctx)
{
    struct fake_clock *c = ctx;
    c->reads++;
    return c->now;
}

static struct gpio_cfg board_cfg(void)
{
    struct gpio_cfg cfg;
    gpio_cfg_init(&cfg);
    cfg.chip = "gpiochip0";
    cfg.pwrkey = (struct gpio_line_cfg){17, true};
    cfg.reset = (struct gpio_line_cfg){27, false};
    cfg.status = (struct gpio_line_cfg){22, false};
    return cfg;
}

static void test_cfg_init_wires_nothing(void **state)
{
    (void)state;
    struct gpio_cfg cfg;
    gpio_cfg_init(&cfg);
    struct fake_clock clk = {0};
    struct gpio *g = NULL;
    assert_int_equal(gpio_open_recording(&cfg, fake_now, &clk, &g, NULL), 0);
    assert_false(gpio_has(g, GPIO_PWRKEY));
    assert_false(gpio_has(g, GPIO_RESET));
    assert_false(gpio_has(g, GPIO_STATUS));
    assert_false(gpio_has(g, 0));
    struct sg_err err;
    assert_int_equal(gpio_set(g, GPIO_PWRKEY, true, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "pwrkey not wired"));
    assert_int_equal(gpio_get_status(g), -ENOENT);
    gpio_close(g);
}

static void test_bad_configs(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        int pwrkey, reset, status;
        const char *msg;
    } bad[] = {
        {"PWRKEY and STATUS on the same line", 17, -1, 17, "pwrkey and status both use line 17"},
        {"RESET and PWRKEY on the same line", 5, 5, -1, "pwrkey and reset both use line 5"},
        {"negative offset other than -1", -7, -1, -1, "pwrkey offset -7 is negative"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        print_message("  case: %s\n", bad[i].name);
        struct gpio_cfg cfg;
        gpio_cfg_init(&cfg);
        cfg.pwrkey.offset = bad[i].pwrkey;
        cfg.reset.offset = bad[i].reset;
        cfg.status.offset = bad[i].status;
        struct fake_clock clk = {0};
        struct gpio *g = NULL;
        struct sg_err err;
        assert_int_equal(gpio_open_recording(&cfg, fake_now, &clk, &g, &err), -EINVAL);
        assert_null(g);
        assert_int_equal(err.code, -EINVAL);
        assert_non_null(strstr(err.msg, bad[i].msg));
    }
    struct gpio_cfg cfg = board_cfg();
    struct gpio *g = NULL;
    assert_int_equal(gpio_open_recording(&cfg, NULL, NULL, &g, NULL), -EINVAL);
    assert_int_equal(gpio_open_recording(NULL, fake_now, NULL, &g, NULL), -EINVAL);
}

static void test_trace_records_logical_and_physical(void **state)
{
    (void)state;
    struct gpio_cfg cfg = board_cfg();
    struct fake_clock clk = {.now = 1000};
    struct gpio *g = NULL;
    struct sg_err err;
    assert_int_equal(gpio_open_recording(&cfg, fake_now, &clk, &g, &err), 0);
    assert_true(gpio_has(g, GPIO_PWRKEY | GPIO_RESET | GPIO_STATUS));

    assert_int_equal(gpio_set(g, GPIO_PWRKEY, true, &err), 0);
    clk.now = 2100;
    assert_int_equal(gpio_set(g, GPIO_PWRKEY | GPIO_RESET, false, &err), 0);

    size_t n;
    const struct gpio_trace_entry *t = gpio_trace(g, &n);
    assert_int_equal(n, 3);
    /* PWRKEY is active-low on this board: asserted = physical 0. */
    assert_int_equal(t[0].role, GPIO_PWRKEY);
    assert_true(t[0].asserted);
    assert_int_equal(t[0].level, 0);
    assert_int_equal(t[0].at, 1000);
    assert_int_equal(t[1].role, GPIO_PWRKEY);
    assert_false(t[1].asserted);
    assert_int_equal(t[1].level, 1);
    assert_int_equal(t[1].at, 2100);
    assert_int_equal(t[2].role, GPIO_RESET);
    assert_false(t[2].asserted);
    assert_int_equal(t[2].level, 0);

    gpio_trace_clear(g);
    gpio_trace(g, &n);
    assert_int_equal(n, 0);

    assert_int_equal(gpio_set(g, GPIO_STATUS, true, &err), -EINVAL);
    assert_int_equal(gpio_set(g, 0, true, &err), -EINVAL);
    assert_string_equal(gpio_role_name(GPIO_RESET), "reset");
    assert_string_equal(gpio_role_name(GPIO_STATUS), "status");
    gpio_close(g);
}

static void test_status_script(void **state)
{
    (void)state;
    struct gpio_cfg cfg = board_cfg();
    struct fake_clock clk = {0};
    struct gpio *g = NULL;
    assert_int_equal(gpio_open_recording(&cfg, fake_now, &clk, &g, NULL), 0);
    /* Added out of order on purpose. */
    assert_int_equal(gpio_script_status(g, 3000, false), 0);
    assert_int_equal(gpio_script_status(g, 1200, true), 0);
    static const struct {
        sg_ms at;
        int want;
    } reads[] = {{0, 0}, {1199, 0}, {1200, 1}, {2999, 1}, {3000, 0}, {99999, 0}};
    for (size_t i = 0; i < sizeof(reads) / sizeof(reads[0]); i++) {
        clk.now = reads[i].at;
        assert_int_equal(gpio_get_status(g), reads[i].want);
    }
    /* Same time twice: the later call wins (a glitch scripted over). */
    assert_int_equal(gpio_script_status(g, 5000, true), 0);
    assert_int_equal(gpio_script_status(g, 5000, false), 0);
    clk.now = 5000;
    assert_int_equal(gpio_get_status(g), 0);
    gpio_close(g);
}

static void test_caps(void **state)
{
    (void)state;
    struct gpio_cfg cfg = board_cfg();
    struct fake_clock clk = {0};
    struct gpio *g = NULL;
    assert_int_equal(gpio_open_recording(&cfg, fake_now, &clk, &g, NULL), 0);
    for (int i = 0; i < GPIO_SCRIPT_MAX; i++)
        assert_int_equal(gpio_script_status(g, i, i & 1), 0);
    assert_int_equal(gpio_script_status(g, 99, true), -ENOBUFS);
    struct sg_err err;
    for (int i = 0; i < GPIO_TRACE_MAX; i++)
        assert_int_equal(gpio_set(g, GPIO_RESET, i & 1, &err), 0);
    assert_int_equal(gpio_set(g, GPIO_RESET, true, &err), -ENOBUFS);
    assert_non_null(strstr(err.msg, "reset"));
    gpio_close(g);
}

static void test_close_releases_outputs(void **state)
{
    (void)state;
    struct gpio_cfg cfg = board_cfg();
    struct fake_clock clk = {0};
    struct gpio *g = NULL;
    assert_int_equal(gpio_open_recording(&cfg, fake_now, &clk, &g, NULL), 0);
    assert_int_equal(gpio_set(g, GPIO_PWRKEY, true, NULL), 0);
    int before = clk.reads;
    gpio_close(g);
    /* One release per wired output, each stamped by the clock. */
    assert_int_equal(clk.reads - before, 2);
    gpio_close(NULL);
}

static void test_hardware_open_fails_cleanly(void **state)
{
    (void)state;
    struct gpio_cfg cfg = board_cfg();
    cfg.chip = "simgate-no-such-chip";
    struct gpio *g = NULL;
    struct sg_err err;
    int rc = gpio_open(&cfg, &g, &err);
    assert_true(rc < 0);
    assert_null(g);
    assert_int_equal(err.code, rc);
    assert_non_null(strstr(err.msg, "simgate-no-such-chip"));

    cfg.chip = NULL;
    assert_int_equal(gpio_open(&cfg, &g, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "no chip"));

    /* Hardware backends keep no trace and take no script. */
    size_t n = 99;
    assert_null(gpio_trace(NULL, &n));
    assert_int_equal(n, 0);
    assert_int_equal(gpio_script_status(NULL, 0, true), -ENOTSUP);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cfg_init_wires_nothing),
        cmocka_unit_test(test_bad_configs),
        cmocka_unit_test(test_trace_records_logical_and_physical),
        cmocka_unit_test(test_status_script),
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_close_releases_outputs),
        cmocka_unit_test(test_hardware_open_fails_cleanly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
