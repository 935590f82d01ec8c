/*
 * The modemsim control protocol: each request line gives one reply line with
 * "ok", and the right effect on the modem or the right action for the loop.
 * Table-driven; the modem runs on a fake clock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "host-tools/modemsim/ms_cmds.c"    // NOLINT(bugprone-suspicious-include)
#include "host-tools/modemsim/ms_ctl.c"     // NOLINT(bugprone-suspicious-include)
#include "host-tools/modemsim/ms_modem.c"   // NOLINT(bugprone-suspicious-include)
#include "host-tools/modemsim/ms_profile.c" // NOLINT(bugprone-suspicious-include)
#include "host-tools/modemsim/ms_sms.c"     // NOLINT(bugprone-suspicious-include)

struct ctl_case {
    const char *name;
    const char *req;
    bool plugged;
    const char *want; /* substring of the reply */
    enum ms_ctl_action action;
};

static const struct ctl_case cases[] = {
    {"stats names the profile", "{\"cmd\":\"stats\"}", true, "\"profile\":\"ec25\"", MS_CTL_NONE},
    {"latency", "{\"cmd\":\"latency\",\"ms\":10,\"cmgs_ms\":2000}", true, "\"ok\":true",
     MS_CTL_NONE},
    {"negative latency", "{\"cmd\":\"latency\",\"ms\":-1}", true, "\"ok\":false", MS_CTL_NONE},
    {"cms rate above 1", "{\"cmd\":\"cms_error\",\"rate\":1.5}", true, "\"ok\":false", MS_CTL_NONE},
    {"cms count", "{\"cmd\":\"cms_error\",\"code\":42,\"count\":2}", true, "\"ok\":true",
     MS_CTL_NONE},
    {"unplug with replug", "{\"cmd\":\"unplug\",\"replug_ms\":500}", true, "\"ok\":true",
     MS_CTL_UNPLUG},
    {"unplug twice", "{\"cmd\":\"unplug\"}", false, "already unplugged", MS_CTL_NONE},
    {"replug", "{\"cmd\":\"replug\"}", false, "\"ok\":true", MS_CTL_REPLUG},
    {"replug while plugged", "{\"cmd\":\"replug\"}", true, "not unplugged", MS_CTL_NONE},
    {"quit", "{\"cmd\":\"quit\"}", true, "\"ok\":true", MS_CTL_QUIT},
    {"not JSON", "AT+CSQ", true, "not a JSON object", MS_CTL_NONE},
    {"array", "[1,2]", true, "not a JSON object", MS_CTL_NONE},
    {"no cmd", "{\"x\":1}", true, "missing", MS_CTL_NONE},
    {"unknown cmd", "{\"cmd\":\"fly\"}", true, "unknown cmd", MS_CTL_NONE},
    {"inject without text", "{\"cmd\":\"inject_sms\",\"from\":\"+33612\"}", true, "required",
     MS_CTL_NONE},
    {"inject bad mode", "{\"cmd\":\"inject_sms\",\"from\":\"+3361\",\"text\":\"a\",\"mode\":\"x\"}",
     true, "mode", MS_CTL_NONE},
    {"inject two parts",
     "{\"cmd\":\"inject_sms\",\"from\":\"+33612345678\",\"text\":\""
     "0123456789012345678901234567890123456789012345678901234567890123456789"
     "0123456789012345678901234567890123456789012345678901234567890123456789"
     "0123456789012345678901234567890123456789\"}",
     true, "\"parts\":2", MS_CTL_NONE},
    {"status report needs mr", "{\"cmd\":\"status_report\",\"to\":\"+3361\"}", true, "mr",
     MS_CTL_NONE},
    {"network lost with stat 5", "{\"cmd\":\"network_lost\",\"stat\":5}", true, "\"ok\":false",
     MS_CTL_NONE},
    {"pin_required without pin", "{\"cmd\":\"pin_required\"}", true, "pin", MS_CTL_NONE},
};

static struct ms_modem *modem(void)
{
    struct ms_config c = {
        .prof = ms_profile_find("ec25"),
        .seed = 1,
        .boot_ms = 10,
        .reg_ms = 10,
        .mr_start = -1,
    };
    struct ms_modem *m = ms_modem_new(&c, 0);
    assert_non_null(m);
    for (sg_ms t = 0; t < 2000; t += 10)
        ms_modem_tick(m, t);
    return m;
}

static void test_requests(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct ctl_case *k = &cases[i];
        struct ms_modem *m = modem();
        struct ms_ctl_result res;
        char *rep = ms_ctl_handle(m, k->req, strlen(k->req), k->plugged, 2000, &res);
        assert_non_null(rep);
        bool bad = !strstr(rep, k->want) || res.action != k->action;
        char msg[600];
        snprintf(msg, sizeof(msg), "%s: reply %s action %d", k->name, rep, res.action);
        free(rep);
        ms_modem_free(m);
        if (bad)
            fail_msg("%s", msg);
    }
}

static void test_faults_reach_the_modem(void **state)
{
    (void)state;
    struct ms_modem *m = modem();
    struct ms_ctl_result res;
    const char *reqs[] = {
        "{\"cmd\":\"cms_error\",\"code\":42,\"count\":3,\"rate\":0.25}",
        "{\"cmd\":\"lose_ok\",\"count\":2}",
        "{\"cmd\":\"silent\"}",
        "{\"cmd\":\"reboot_mid_send\"}",
        "{\"cmd\":\"garbage\",\"rate\":0.5}",
    };
    for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++)
        free(ms_ctl_handle(m, reqs[i], strlen(reqs[i]), true, 2000, &res));
    const struct ms_faults *f = ms_modem_faults(m);
    assert_int_equal(f->cms_code, 42);
    assert_int_equal(f->cms_count, 3);
    assert_true(f->cms_rate > 0.24 && f->cms_rate < 0.26);
    assert_int_equal(f->lose_ok, 2);
    assert_true(f->silent);
    assert_true(f->reboot_mid_send);
    assert_true(f->garbage_rate > 0.49 && f->garbage_rate < 0.51);
    const char *resume = "{\"cmd\":\"resume\"}";
    free(ms_ctl_handle(m, resume, strlen(resume), true, 2000, &res));
    assert_false(f->silent);
    ms_modem_free(m);
}

static void test_too_long_request(void **state)
{
    (void)state;
    struct ms_modem *m = modem();
    size_t n = MS_CTL_LINE_MAX + 1;
    char *big = malloc(n);
    assert_non_null(big);
    memset(big, ' ', n);
    struct ms_ctl_result res;
    char *rep = ms_ctl_handle(m, big, n, true, 0, &res);
    assert_non_null(strstr(rep, "longer than"));
    free(rep);
    free(big);
    ms_modem_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_requests),
        cmocka_unit_test(test_faults_reach_the_modem),
        cmocka_unit_test(test_too_long_request),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
