/*
 * Vendor profiles: identification from real ATI/CGMI answers, and the
 * tables themselves (every row runnable, CNMI chain in ModemManager's order,
 * a GPIO timing for every profile name).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "drivers/gpio/gpio_seq.h"
#include "drivers/modem/modem_vendor.h"

static void test_identify(void **state)
{
    (void)state;
    const struct {
        const char *name, *text, *want;
    } t[] = {
        {"SIM800L ATI", "SIM800 R14.18", "sim800"},
        {"SIM900 ATI", "SIM900 R11.0", "sim800"},
        {"SIM7600E-H ATI", "Manufacturer: SIMCOM INCORPORATED\nModel: SIMCOM_SIM7600E-H", "sim7600"},
        {"SIM7000 CGMM", "SIMCOM_SIM7000E", "sim7600"},
        {"EC25 ATI", "Quectel\nEC25\nRevision: EC25EFAR06A06M4G", "ec25"},
        {"EG25-G ATI", "Quectel\nEG25\nRevision: EG25GGBR07A08M2G", "ec25"},
        {"M95 ATI", "Quectel_Ltd\nQuectel_M95\nRevision: M95FAR02A08", "ec25"},
        {"Huawei E173 ATI", "Manufacturer: huawei\nModel: E173", "huawei"},
        {"Huawei upper case", "HUAWEI\nE3372", "huawei"},
        {"u-blox: generic", "u-blox\nSARA-U201", "generic"},
        {"empty", "", "generic"},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        print_message("case: %s\n", t[i].name);
        assert_string_equal(modem_vendor_identify(t[i].text)->name, t[i].want);
    }
    assert_string_equal(modem_vendor_identify(NULL)->name, "generic");
}

static void test_by_name(void **state)
{
    (void)state;
    assert_null(modem_vendor_by_name("auto"));
    assert_null(modem_vendor_by_name("nokia"));
    assert_null(modem_vendor_by_name(NULL));
    assert_string_equal(modem_vendor_by_name("EG25")->name, "ec25");
    assert_string_equal(modem_vendor_by_name("m95")->name, "ec25");
    assert_string_equal(modem_vendor_get(MODEM_VENDOR_COUNT)->name, "generic");
    /* REFERENCE §2: SIM800 up to 60 s for the result, Quectel up to 120 s */
    assert_int_equal(modem_vendor_by_name("sim800")->cmgs_result_ms, 60000);
    assert_int_equal(modem_vendor_by_name("ec25")->cmgs_result_ms, 120000);
    assert_string_equal(modem_vendor_by_name("sim7600")->hangup, "AT+CHUP");
    assert_string_equal(modem_vendor_by_name("sim800")->hangup, "ATH");
}

static void check_rows(const char *prof, const struct modem_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct modem_row *r = &rows[i];
        assert_non_null(r->cmd);
        assert_true(strncmp(r->cmd, "AT", 2) == 0);
        assert_null(strpbrk(r->cmd, "\r\n\x1a\x1b"));
        assert_true(r->timeout_ms > 0);
        if (i == 0 && (r->flags & MODEM_ROW_ALT))
            fail_msg("%s: first row %s is an alternative to nothing", prof, r->cmd);
    }
}

static void test_tables(void **state)
{
    (void)state;
    static const char *const cnmi_order[] = {"AT+CNMI=2,1,0,1,0", "AT+CNMI=2,1,2,1,0",
                                             "AT+CNMI=2,1,2,2,0", "AT+CNMI=2,1,2,0,0"};
    for (int id = 0; id < MODEM_VENDOR_COUNT; id++) {
        const struct modem_vendor *v = modem_vendor_get((enum modem_vendor_id)id);
        print_message("profile: %s\n", v->name);
        assert_int_equal(v->id, id);
        check_rows(v->name, v->init, v->n_init);
        check_rows(v->name, v->ident, v->n_ident);
        check_rows(v->name, v->sim, v->n_sim);
        check_rows(v->name, v->sms, v->n_sms);
        /* PDU mode before CNMI; the CNMI chain in ModemManager's order, the
         * fallbacks flagged ALT and the chain mandatory */
        size_t k = 0, cmgf = SIZE_MAX, first_cnmi = SIZE_MAX;
        for (size_t i = 0; i < v->n_sms; i++) {
            if (strcmp(v->sms[i].cmd, "AT+CMGF=0") == 0)
                cmgf = i;
            if (strncmp(v->sms[i].cmd, "AT+CNMI=", 8) != 0)
                continue;
            if (first_cnmi == SIZE_MAX)
                first_cnmi = i;
            assert_true(k < 4);
            assert_string_equal(v->sms[i].cmd, cnmi_order[k]);
            assert_int_equal(!!(v->sms[i].flags & MODEM_ROW_ALT), k > 0);
            assert_false(v->sms[i].flags & MODEM_ROW_OPTIONAL);
            k++;
        }
        assert_int_equal(k, 4);
        assert_true(cmgf < first_cnmi);
        assert_non_null(v->reg_queries[0]);
        assert_string_equal(v->reg_queries[0], "AT+CREG?");
        assert_true(v->cmgs_prompt_ms > 0 && v->cmgs_result_ms >= 60000);
        assert_true(v->boot_ms >= 10000);
        assert_non_null(v->reset_cmd);
        /* the profile name is also the GPIO timing key */
        assert_non_null(gpio_seq_timing_for(v->name));
    }
    /* Huawei silences its periodic chatter; SIM800 its Call Ready */
    const struct modem_vendor *hw = modem_vendor_by_name("huawei");
    assert_string_equal(hw->init[0].cmd, "AT^CURC=0");
    assert_string_equal(modem_vendor_by_name("sim800")->init[0].cmd, "AT+CIURC=0");
}

static void test_error_classes(void **state)
{
    (void)state;
    const struct {
        const char *vendor;
        int code;
        enum modem_err_class want;
    } t[] = {
        {"ec25", 42, MODEM_ERR_RETRY_NOW},      {"sim800", 331, MODEM_ERR_RETRY_LATER},
        {"ec25", 304, MODEM_ERR_PERMANENT},     {"huawei", 1, MODEM_ERR_PERMANENT},
        {"sim7600", 197, MODEM_ERR_SPECIAL},    {"ec25", 322, MODEM_ERR_SPECIAL},
        {"generic", -1, MODEM_ERR_RETRY_LATER}, {"ec25", 500, MODEM_ERR_RETRY_LATER},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        assert_int_equal(modem_vendor_cms_class(modem_vendor_by_name(t[i].vendor), t[i].code),
                         t[i].want);
    assert_int_equal(modem_vendor_cme_class(NULL, 10), MODEM_ERR_PERMANENT);
    assert_string_equal(modem_err_class_name(MODEM_ERR_UNKNOWN), "unknown");
    assert_string_equal(modem_err_class_name(MODEM_ERR_RETRY_NOW), "retry-now");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identify),
        cmocka_unit_test(test_by_name),
        cmocka_unit_test(test_tables),
        cmocka_unit_test(test_error_classes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
