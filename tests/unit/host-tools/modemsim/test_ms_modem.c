/*
 * The modemsim engine with a fake clock: boot URCs per profile, echo, byte
 * splits, CNMI acceptance per profile, CMGS latency and status reports,
 * PIN/PUK, faults (lost OK, reboot mid-send, silence), Huawei periodic URCs.
 * Time only moves when a case says so; nothing sleeps.
 *
 * modemsim is a host tool, not an archive the test build links, so its
 * sources are compiled into this test directly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "host-tools/modemsim/ms_cmds.c"    // NOLINT(bugprone-suspicious-include)
#include "host-tools/modemsim/ms_modem.c"   // NOLINT(bugprone-suspicious-include)
#include "host-tools/modemsim/ms_profile.c" // NOLINT(bugprone-suspicious-include)
#include "host-tools/modemsim/ms_sms.c"     // NOLINT(bugprone-suspicious-include)

#define OUT_CAP 8192

struct rig {
    struct ms_modem *m;
    sg_ms now;
    char out[OUT_CAP];
    char log[4][512];
    int nlog;
};

static void rig_log(void *ctx, const char *line)
{
    struct rig *r = ctx;
    if (r->nlog < 4)
        snprintf(r->log[r->nlog++], sizeof(r->log[0]), "%s", line);
}

static struct ms_config base_cfg(const char *profile, struct rig *r)
{
    struct ms_config c = {
        .prof = ms_profile_find(profile),
        .seed = 1,
        .boot_ms = 100,
        .reg_ms = 50,
        .sr_delay_ms = 1000,
        .urc_period_ms = 500,
        .rssi = 20,
        .mr_start = -1,
        .faults = {.cmgs_latency_ms = 50},
        .log = rig_log,
        .log_ctx = r,
    };
    assert_non_null(c.prof);
    return c;
}

static void rig_start(struct rig *r, const struct ms_config *c)
{
    memset(r, 0, sizeof(*r));
    struct ms_config cc = *c;
    cc.log_ctx = r;
    r->m = ms_modem_new(&cc, 0);
    assert_non_null(r->m);
}

/* Advances the fake clock to `to`, running every timer on the way. */
static void advance(struct rig *r, sg_ms to)
{
    for (;;) {
        sg_ms d = ms_modem_deadline(r->m);
        if (d > to)
            break;
        r->now = d > r->now ? d : r->now;
        ms_modem_tick(r->m, r->now);
    }
    r->now = to;
}

/* Everything output so far, NUL-terminated (drains). */
static const char *take(struct rig *r)
{
    size_t n = ms_modem_take_output(r->m, (uint8_t *)r->out, OUT_CAP - 1);
    r->out[n] = '\0';
    return r->out;
}

static void type(struct rig *r, const char *s)
{
    ms_modem_input(r->m, (const uint8_t *)s, strlen(s), r->now);
}

/* Boots, drains the URCs, turns echo off. */
static void ready(struct rig *r, const char *profile)
{
    struct ms_config c = base_cfg(profile, r);
    rig_start(r, &c);
    advance(r, 1000);
    type(r, "AT\r");
    advance(r, 2000);
    take(r);
    type(r, "ATE0\r");
    assert_string_equal(take(r), "ATE0\r\r\nOK\r\n");
}

/* ------------------------------------------------------------ boot */

struct boot_case {
    const char *name, *profile, *urcs;
};

static const struct boot_case boot_cases[] = {
    {"EC25 ready URCs", "ec25",
     "\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\n+QUSIM: 1\r\n\r\n+QIND: SMS DONE\r\n"
     "\r\n+QIND: PB DONE\r\n"},
    {"SIM7600 ready URCs", "sim7600",
     "\r\nRDY\r\n\r\n+CPIN: READY\r\n\r\nSMS DONE\r\n\r\nPB DONE\r\n"},
    {"SIM800 on autobaud prints nothing before the host's AT", "sim800", ""},
};

static void test_boot_urcs(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(boot_cases) / sizeof(boot_cases[0]); i++) {
        struct rig r;
        struct ms_config c = base_cfg(boot_cases[i].profile, &r);
        rig_start(&r, &c);
        type(&r, "AT\r"); /* dropped: still booting */
        advance(&r, 2000);
        if (strcmp(take(&r), boot_cases[i].urcs) != 0)
            fail_msg("%s: got %s", boot_cases[i].name, r.out);
        ms_modem_free(r.m);
    }
}

static void test_sim800_autobaud_sync(void **state)
{
    (void)state;
    struct rig r;
    struct ms_config c = base_cfg("sim800", &r);
    rig_start(&r, &c);
    advance(&r, 150);
    type(&r, "\x1b\rxyAT\r"); /* gammu's ESC CR, noise, then AT */
    assert_string_equal(take(&r), "AT\r\r\nOK\r\n");
    advance(&r, 2000);
    assert_string_equal(take(&r), "\r\nCall Ready\r\n\r\nSMS Ready\r\n");
    ms_modem_free(r.m);
}

/* ------------------------------------------------------------ commands */

static void test_echo_and_byte_splits(void **state)
{
    (void)state;
    struct rig r;
    ready(&r, "ec25");
    type(&r, "ATE1\r");
    take(&r);
    const char *cmd = "AT+CSQ\r";
    for (size_t i = 0; cmd[i]; i++)
        ms_modem_input(r.m, (const uint8_t *)&cmd[i], 1, r.now);
    assert_string_equal(take(&r), "AT+CSQ\r\r\n+CSQ: 20,99\r\n\r\nOK\r\n");
    type(&r, "at+cgmi;+CGMM\r"); /* lower case and chained */
    assert_string_equal(take(&r), "at+cgmi;+CGMM\r\r\nQuectel\r\n\r\nEC25\r\n\r\nOK\r\n");
    ms_modem_free(r.m);
}

static void test_line_overflow_is_error(void **state)
{
    (void)state;
    struct rig r;
    ready(&r, "sim800");
    char line[MS_LINE_MAX + 20];
    memset(line, 'A', sizeof(line));
    memcpy(line, "AT", 2);
    line[sizeof(line) - 2] = '\r';
    line[sizeof(line) - 1] = '\0';
    type(&r, line);
    assert_string_equal(take(&r), "\r\nERROR\r\n");
    ms_modem_free(r.m);
}

struct cnmi_case {
    const char *name, *profile, *value;
    bool ok;
};

static const struct cnmi_case cnmi_cases[] = {
    {"SIM800 takes ModemManager's first choice", "sim800", "2,1,2,1,0", true},
    {"SIM800 has no +CDSI (ds=2)", "sim800", "2,1,2,2,0", false},
    {"EC25 takes ds=1", "ec25", "2,1,0,1,0", true},
    {"EC25 takes ds=2", "ec25", "2,1,2,2,0", true},
    {"EC25 has no mode 3", "ec25", "3,1,0,1,0", false},
    {"Huawei refuses ds=1 (Qualcomm)", "huawei", "2,1,0,1,0", false},
    {"Huawei falls back to ds=2", "huawei", "2,1,2,2,0", true},
    {"SIM7600 takes 2,1,0,1,0", "sim7600", "2,1,0,1,0", true},
};

static void test_cnmi_per_profile(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cnmi_cases) / sizeof(cnmi_cases[0]); i++) {
        const struct cnmi_case *k = &cnmi_cases[i];
        struct rig r;
        ready(&r, k->profile);
        char cmd[64];
        snprintf(cmd, sizeof(cmd), "AT+CNMI=%s\r", k->value);
        type(&r, cmd);
        const char *want = k->ok ? "\r\nOK\r\n" : "\r\n+CMS ERROR: 303\r\n";
        if (strcmp(take(&r), want) != 0)
            fail_msg("%s: got %s", k->name, r.out);
        ms_modem_free(r.m);
    }
}

static void test_huawei_quirks(void **state)
{
    (void)state;
    struct rig r;
    ready(&r, "huawei");
    type(&r, "AT+CEREG?\r");
    assert_string_equal(take(&r), "\r\nCOMMAND NOT SUPPORT\r\n");
    advance(&r, r.now + 500);
    assert_non_null(strstr(take(&r), "\r\n^RSSI:20\r\n"));
    type(&r, "AT^CURC=0\r");
    assert_string_equal(take(&r), "\r\nOK\r\n");
    advance(&r, r.now + 2000);
    assert_string_equal(take(&r), "");
    type(&r, "AT^ICCID?\r");
    assert_string_equal(take(&r), "\r\n^ICCID: 983310425021436518F7\r\n\r\nOK\r\n");
    ms_modem_free(r.m);
}

/* ------------------------------------------------------------ SMS */

static const char *const submit_srr = "0031000B916407281553F80000AA0AE8329BFD4697D9EC37";

static void test_cmgs_latency_and_report(void **state)
{
    (void)state;
    struct rig r;
    ready(&r, "ec25");
    type(&r, "AT+CNMI=2,1,0,1,0\r");
    take(&r);
    type(&r, "AT+CMGS=23\r");
    assert_string_equal(take(&r), "\r\n> ");
    type(&r, submit_srr);
    type(&r, "\x1a");
    sg_ms t0 = r.now;
    advance(&r, t0 + 49);
    assert_string_equal(take(&r), "");
    type(&r, "AT\r"); /* typed while the send is pending: waits */
    advance(&r, t0 + 50);
    assert_string_equal(take(&r), "\r\n+CMGS: 0\r\n\r\nOK\r\n\r\nOK\r\n");
    assert_int_equal(r.nlog, 1);
    assert_non_null(strstr(r.log[0], "\"mr\":0"));
    assert_non_null(strstr(r.log[0], "\"result\":\"ok\""));
    advance(&r, t0 + 1049);
    assert_string_equal(take(&r), "");
    advance(&r, t0 + 1050);
    const char *o = take(&r);
    assert_true(strncmp(o, "\r\n+CDS: 25\r\n07913386094000F006000B916407281553F8", 48) == 0);
    ms_modem_free(r.m);
}

static void test_cmgs_bad_length_is_304(void **state)
{
    (void)state;
    struct rig r;
    ready(&r, "sim7600");
    type(&r, "AT+CMGS=24\r");
    take(&r);
    type(&r, submit_srr);
    type(&r, "\x1a");
    assert_string_equal(take(&r), "\r\n+CMS ERROR: 304\r\n");
    assert_non_null(strstr(r.log[0], "\"result\":\"cms 304\""));
    assert_non_null(strstr(r.log[0], "\"mr\":null"));
    ms_modem_free(r.m);
}

static void test_reboot_mid_send(void **state)
{
    (void)state;
    struct rig r;
    ready(&r, "ec25");
    ms_modem_faults(r.m)->reboot_mid_send = true;
    type(&r, "AT+CMGS=23\r");
    take(&r);
    type(&r, submit_srr);
    type(&r, "\x1a");
    assert_string_equal(take(&r), "");
    assert_non_null(strstr(r.log[0], "\"result\":\"reboot\""));
    advance(&r, r.now + 2000);
    assert_true(strncmp(take(&r), "\r\nRDY\r\n", 7) == 0);
    type(&r, "AT\r");
    assert_string_equal(take(&r), "AT\r\r\nOK\r\n"); /* echo is back */
    ms_modem_free(r.m);
}

static void test_inject_stored_and_direct(void **state)
{
    (void)state;
    struct rig r;
    ready(&r, "sim800");
    struct sg_err err;
    assert_int_equal(ms_modem_inject_sms(r.m, "+33699887766", "hi", MS_INJECT_AUTO, r.now, &err),
                     1);
    assert_string_equal(take(&r), "\r\n+CMTI: \"SM\",1\r\n");
    type(&r, "AT+CNMI=2,2,0,0,0\r");
    take(&r);
    assert_int_equal(ms_modem_inject_sms(r.m, "+33699887766", "hi", MS_INJECT_AUTO, r.now, &err),
                     1);
    assert_true(strncmp(take(&r), "\r\n+CMT: \"\",", 11) == 0);
    assert_int_equal(
        ms_modem_inject_sms(r.m, "far too long a sender", "hi", MS_INJECT_AUTO, r.now, &err) < 0,
        1);
    ms_modem_free(r.m);
}

/* ------------------------------------------------------------ SIM */

struct pin_step {
    const char *in, *out;
};

static const struct pin_step pin_steps[] = {
    {"AT+CPIN?\r", "\r\n+CPIN: SIM PIN\r\n\r\nOK\r\n"},
    {"AT+CIMI\r", "\r\n+CME ERROR: 11\r\n"},
    {"AT+CPIN=\"1111\"\r", "\r\n+CME ERROR: 16\r\n"},
    {"AT+CPIN=\"1111\"\r", "\r\n+CME ERROR: 16\r\n"},
    {"AT+CPIN=\"1111\"\r", "\r\n+CME ERROR: 16\r\n\r\n+CPIN: SIM PUK\r\n"},
    {"AT+CPIN=\"1234\"\r", "\r\n+CME ERROR: 12\r\n"},
    {"AT+CPIN=\"12345678\",\"0000\"\r", "\r\nOK\r\n"},
    {"AT+CPIN?\r", "\r\n+CPIN: READY\r\n\r\nOK\r\n"},
};

static void test_pin_to_puk(void **state)
{
    (void)state;
    struct rig r;
    struct ms_config c = base_cfg("sim7600", &r);
    c.pin = "1234";
    rig_start(&r, &c);
    advance(&r, 2000);
    assert_string_equal(take(&r), "\r\nRDY\r\n\r\n+CPIN: SIM PIN\r\n");
    type(&r, "ATE0;+CMEE=1\r");
    take(&r);
    for (size_t i = 0; i < sizeof(pin_steps) / sizeof(pin_steps[0]); i++) {
        type(&r, pin_steps[i].in);
        if (strcmp(take(&r), pin_steps[i].out) != 0)
            fail_msg("step %zu %s: got %s", i, pin_steps[i].in, r.out);
    }
    advance(&r, r.now + 1000);
    assert_string_equal(take(&r), "\r\n+CPIN: READY\r\n\r\nSMS DONE\r\n\r\nPB DONE\r\n");
    ms_modem_free(r.m);
}

/* ------------------------------------------------------------ faults */

static void test_lost_ok_and_silence(void **state)
{
    (void)state;
    struct rig r;
    ready(&r, "ec25");
    ms_modem_faults(r.m)->lose_ok = 1;
    type(&r, "AT+CSQ\r");
    assert_string_equal(take(&r), "\r\n+CSQ: 20,99\r\n");
    type(&r, "AT\r");
    assert_string_equal(take(&r), "\r\nOK\r\n");
    ms_modem_faults(r.m)->silent = true;
    type(&r, "AT\r");
    ms_modem_network(r.m, false, 2, r.now);
    assert_string_equal(take(&r), "");
    ms_modem_faults(r.m)->silent = false;
    type(&r, "AT+CREG?\r");
    assert_string_equal(take(&r), "\r\n+CREG: 0,2\r\n\r\nOK\r\n");
    ms_modem_free(r.m);
}

/* SIM800, URC inside CREG reply: the URC lands between the information line
 * and the final OK, as REFERENCE §1.3 warns. */
static void test_urc_inside_reply(void **state)
{
    (void)state;
    struct rig r;
    ready(&r, "sim800");
    ms_modem_urc(r.m, "+CREG: 1", true);
    type(&r, "AT+CREG?\r");
    assert_string_equal(take(&r), "\r\n+CREG: 0,1\r\n\r\n+CREG: 1\r\n\r\nOK\r\n");
    type(&r, "AT+CREG?\r");
    assert_string_equal(take(&r), "\r\n+CREG: 0,1\r\n\r\nOK\r\n");
    ms_modem_free(r.m);
}

static void test_garbage_is_seeded(void **state)
{
    (void)state;
    char first[64];
    for (int run = 0; run < 2; run++) {
        struct rig r;
        ready(&r, "ec25");
        ms_modem_garbage(r.m, 32);
        const char *o = take(&r);
        if (run == 0)
            memcpy(first, o, 32);
        else
            assert_memory_equal(first, o, 32);
        ms_modem_free(r.m);
    }
}

/* Seeded random host traffic, AT fragments mixed with noise, plus faults and
 * injections at random times, for every profile: under ASan/UBSan nothing
 * may crash, and output stays within its cap. */
static const char *const fragments[] = {
    "AT",
    "\r",
    "+CMGS=",
    "23",
    "+CNMI=2,1,0,1,0",
    "+CPIN=\"1234\"",
    "\x1a",
    "\x1b",
    "0031000B916407281553F80000AA0AE8329BFD4697D9EC37",
    "+CMGR=1",
    "+CMGL=4",
    "+CMGD=0,4",
    "+CPMS=\"SM\",\"ME\"",
    "E1",
    "+CFUN=1,1",
    "+CSMS=1",
    "+CNMA",
    ";",
    ",",
    "\"",
    "=?",
    "?",
    "+CREG=2",
    "^CURC=0",
    "+COPS=3,2",
    "S3?",
    "&F",
    "D123;",
};

static void test_random_input_survives(void **state)
{
    (void)state;
    static const char *const names[] = {"sim800", "sim7600", "ec25", "huawei"};
    uint64_t x = 0x1234567;
    for (size_t pi = 0; pi < 12; pi++) { /* three rounds of the four profiles */
        struct rig r;
        struct ms_config c = base_cfg(names[pi % 4], &r);
        c.pin = pi % 4 == 1 ? "1234" : NULL;
        c.faults.cmgs_latency_ms = 30;
        c.faults.latency_ms = pi % 4 == 2 ? 5 : 0;
        rig_start(&r, &c);
        for (int i = 0; i < 50000; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            unsigned k = (unsigned)(x >> 32);
            if (k % 4 == 0) {
                uint8_t b[8];
                for (size_t j = 0; j < sizeof(b); j++)
                    b[j] = (uint8_t)(x >> (8 * j));
                ms_modem_input(r.m, b, 1 + k % 8, r.now);
            } else {
                type(&r, fragments[(k >> 8) % (sizeof(fragments) / sizeof(fragments[0]))]);
            }
            if (k % 97 == 0)
                ms_modem_inject_sms(r.m, "+33699887766", "random inbound",
                                    (enum ms_inject_mode)(k % 3), r.now, NULL);
            if (k % 211 == 0)
                ms_modem_status_report(r.m, (int)(k % 256), "+33612345678", 0, r.now, NULL);
            if (k % 509 == 0)
                ms_modem_faults(r.m)->reboot_mid_send = true;
            if (k % 701 == 0)
                ms_modem_network(r.m, k % 2, 2, r.now);
            if (k % 887 == 0)
                ms_modem_faults(r.m)->lose_ok = 2;
            advance(&r, r.now + (sg_ms)(k % 40));
            if (k % 3 == 0)
                take(&r);
        }
        assert_true(ms_modem_stats(r.m)->commands > 100);
        ms_modem_free(r.m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_boot_urcs),
        cmocka_unit_test(test_sim800_autobaud_sync),
        cmocka_unit_test(test_echo_and_byte_splits),
        cmocka_unit_test(test_line_overflow_is_error),
        cmocka_unit_test(test_cnmi_per_profile),
        cmocka_unit_test(test_huawei_quirks),
        cmocka_unit_test(test_cmgs_latency_and_report),
        cmocka_unit_test(test_cmgs_bad_length_is_304),
        cmocka_unit_test(test_reboot_mid_send),
        cmocka_unit_test(test_inject_stored_and_direct),
        cmocka_unit_test(test_pin_to_puk),
        cmocka_unit_test(test_lost_ok_and_silence),
        cmocka_unit_test(test_urc_inside_reply),
        cmocka_unit_test(test_garbage_is_seeded),
        cmocka_unit_test(test_random_input_survives),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
