/*
 * The modem supervision state machine with a fake clock and a fake modem
 * answering from per-profile reply tables (SIM800 V1.09 manual, Quectel EC25
 * manual, SIMCom SIM7600 pages, ModemManager's Huawei tests; the same
 * strings modemsim plays).
 */
#include "tests/unit/drivers/modem/modem_harness.h"

#define OKR(c, ...) {c, AT_FINAL_OK, -1, {__VA_ARGS__}, {NULL}, 0, false}
#define OK0(c) {c, AT_FINAL_OK, -1, {NULL}, {NULL}, 0, false}
#define END {NULL, AT_FINAL_OK, 0, {NULL}, {NULL}, 0, false}

/* Answers every profile shares (27.005/27.007). */
static const struct reply common[] = {
    OK0("AT"),
    OK0("ATE0"),
    OK0("AT+CMEE=1"),
    OKR("AT+CSMS=0", "+CSMS: 1,1,1"),
    OK0("AT+CMGF=0"),
    OKR("AT+CPMS=\"SM\",\"SM\",\"SM\"", "+CPMS: 0,30,0,30,0,30"),
    OK0("AT+CNMI=2,1,0,1,0"),
    OKR("AT+CSCA?", "+CSCA: \"+33689004000\",145"),
    OK0("AT+CREG=1"),
    OK0("AT+CGREG=1"),
    OK0("AT+CEREG=1"),
    OKR("AT+CREG?", "+CREG: 1,1"),
    OKR("AT+CGREG?", "+CGREG: 1,1"),
    OKR("AT+CEREG?", "+CEREG: 1,1"),
    OK0("AT+COPS=3,0"),
    OKR("AT+COPS?", "+COPS: 0,0,\"Orange F\",7"),
    OKR("AT+CSQ", "+CSQ: 17,0"),
    OK0("AT+CMGL=4"),
    OKR("AT+CPIN?", "+CPIN: READY"),
    END,
};

static const struct reply sim800[] = {
    OKR("ATI", "SIM800 R14.18"),
    OK0("AT+CIURC=0"),
    OKR("AT+CGMI", "SIMCOM_Ltd"),
    OKR("AT+CGMM", "SIMCOM_SIM800L"),
    OKR("AT+CGMR", "Revision:1418B04SIM800L24"),
    OKR("AT+CGSN", "869988012345670"),
    OKR("AT+CCID", "8933012405123456783"),
    OKR("AT+CIMI", "208011234567890"),
    OKR("AT+CNUM", "+CNUM: \"\",\"+33612345670\",145"),
    OKR("AT+COPS?", "+COPS: 0,0,\"Orange F\""),
    /* SIM800 is GSM only: no CEREG */
    {"AT+CEREG*", AT_FINAL_ERROR, -1, {NULL}, {NULL}, 0, false},
    END,
};

static const struct reply sim7600[] = {
    OKR("ATI", "Manufacturer: SIMCOM INCORPORATED", "Model: SIMCOM_SIM7600E-H",
        "Revision: SIM7600M22_V2.0", "IMEI: 862227031234566", "+GCAP: +CGSM"),
    OK0("AT+CVHU=0"),
    OKR("AT+CGMI", "SIMCOM INCORPORATED"),
    OKR("AT+CGMM", "SIMCOM_SIM7600E-H"),
    OKR("AT+CGMR", "+CGMR: LE20B04SIM7600M22"),
    OKR("AT+CGSN", "862227031234566"),
    OKR("AT+CICCID", "+ICCID: 8933012405123456791"),
    OKR("AT+CIMI", "208012345678901"),
    OKR("AT+CNUM", "+CNUM: \"\",\"+33612345671\",145"),
    OKR("AT+CEREG?", "+CEREG: 1,1,\"2B5C\",\"A1B2C03\",7"),
    END,
};

static const struct reply ec25[] = {
    OKR("ATI", "Quectel", "EC25", "Revision: EC25EFAR06A06M4G"),
    OKR("AT+CGMI", "Quectel"),
    OKR("AT+CGMM", "EC25"),
    OKR("AT+CGMR", "EC25EFAR06A06M4G"),
    OKR("AT+CGSN", "861675039876542"),
    OKR("AT+QCCID", "+QCCID: 8933012405123456809"),
    OKR("AT+CIMI", "208013456789012"),
    OKR("AT+CNUM", "+CNUM: \"\",\"+33612345672\",145"),
    /* LTE only: not on CS, registered on EPS */
    OKR("AT+CREG?", "+CREG: 1,0"),
    OKR("AT+CGREG?", "+CGREG: 1,0"),
    OKR("AT+CEREG?", "+CEREG: 1,1"),
    OKR("AT+CSQ", "+CSQ: 24,99"),
    END,
};

/* E173 stick firmware: unknown commands answer COMMAND NOT SUPPORT
 * (ERROR class), ^ICCID is nibble-swapped, CNUM knows nothing. */
static const struct reply huawei[] = {
    OKR("ATI", "Manufacturer: huawei", "Model: E173", "Revision: 11.126.85.00.209",
        "IMEI: 351423045678900", "+GCAP: +CGSM,+DS,+ES"),
    OK0("AT^CURC=0"),
    OKR("AT+CGMI", "huawei"),
    OKR("AT+CGMM", "E173"),
    OKR("AT+CGMR", "11.126.85.00.209"),
    OKR("AT+CGSN", "351423045678900"),
    OKR("AT^ICCID?", "^ICCID: 983310425021436518F7"),
    OKR("AT+CIMI", "208014567890123"),
    OK0("AT+CNUM"),
    OKR("AT+CSQ", "+CSQ: 12,99"),
    END,
};

/* SIM800 at a marginal baud rate: noise lines arrive before the values. */
static const struct reply sim800_noisy[] = {
    OKR("AT+CGMR", "ncs", "Revision:1418B04SIM800L24"),
    OKR("AT+CGSN", "\x8f\x01\x7f", "869988012345670"),
    OKR("AT+CGMM", "~~", "SIMCOM_SIM800L"),
    OKR("AT+CCID", "12", "8933012405123456783"),
    END,
};

/* ------------------------------------------------------------ bring-up */

struct bringup_case {
    const char *name;
    const char *vendor;            /* NULL = auto */
    const struct reply *table;
    const char *want_vendor, *manufacturer, *model, *firmware, *imei, *iccid, *imsi, *msisdn;
    int dbm;
    const char *must_send;         /* a vendor-specific command */
    const char *must_not_send;
};

static const struct bringup_case bringup_cases[] = {
    {"SIM800L, bare identity lines, CIURC silenced", "sim800", sim800, "sim800", "SIMCOM_Ltd",
     "SIMCOM_SIM800L", "1418B04SIM800L24", "869988012345670", "8933012405123456783",
     "208011234567890", "+33612345670", -79, "AT+CIURC=0", "AT+CEREG?"},
    {"SIM7600E-H, +ICCID via CICCID, LTE registration", "sim7600", sim7600, "sim7600",
     "SIMCOM INCORPORATED", "SIMCOM_SIM7600E-H", "LE20B04SIM7600M22", "862227031234566",
     "8933012405123456791", "208012345678901", "+33612345671", -79, "AT+CVHU=0", "AT+CCID"},
    {"EC25, LTE-only (CREG 0, CEREG 1), QCCID", "ec25", ec25, "ec25", "Quectel", "EC25",
     "EC25EFAR06A06M4G", "861675039876542", "8933012405123456809", "208013456789012",
     "+33612345672", -65, "AT+QCCID", "AT+CCID"},
    {"Huawei E173, swapped ^ICCID, CURC=0, empty CNUM", "huawei", huawei, "huawei", "huawei",
     "E173", "11.126.85.00.209", "351423045678900", "8933012405123456817", "208014567890123",
     "", -89, "AT^CURC=0", "AT+CEREG?"},
    {"auto: ATI says Quectel EC25", NULL, ec25, "ec25", "Quectel", "EC25", "EC25EFAR06A06M4G",
     "861675039876542", "8933012405123456809", "208013456789012", "+33612345672", -65,
     "AT+QCCID", NULL},
    {"auto: ATI says SIM800", NULL, sim800, "sim800", "SIMCOM_Ltd", "SIMCOM_SIM800L",
     "1418B04SIM800L24", "869988012345670", "8933012405123456783", "208011234567890",
     "+33612345670", -79, "AT+CIURC=0", NULL},
    {"auto: ATI says huawei", NULL, huawei, "huawei", "huawei", "E173", "11.126.85.00.209",
     "351423045678900", "8933012405123456817", "208014567890123", "", -89, "AT^CURC=0", NULL},
    {"SIM800, line noise before the identity values", "sim800", sim800_noisy, "sim800",
     "SIMCOM_Ltd", "SIMCOM_SIM800L", "1418B04SIM800L24", "869988012345670", "8933012405123456783",
     "208011234567890", "+33612345670", -79, "AT+CIURC=0", NULL},
    {"generic profile on a SIM7600", "generic", sim7600, "generic", "SIMCOM INCORPORATED",
     "SIMCOM_SIM7600E-H", "LE20B04SIM7600M22", "862227031234566", "", "208012345678901",
     "+33612345671", -79, "AT+CEREG?", "AT+CVHU=0"},
};

static void test_bringup_profiles(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bringup_cases) / sizeof(bringup_cases[0]); i++) {
        const struct bringup_case *c = &bringup_cases[i];
        struct harness h;
        print_message("case: %s\n", c->name);
        h_init(&h, c->vendor ? modem_vendor_by_name(c->vendor) : NULL, NULL);
        h.tables[0] = c->table;
        h.tables[1] = c->table == sim800_noisy ? sim800 : common;
        h.tables[2] = common;
        h_start(&h);
        h_run(&h, 60000, h_settled);
        assert_int_equal(modem_state(h.m), MODEM_READY);
        const struct modem_identity *id = modem_identity(h.m);
        assert_string_equal(id->vendor, c->want_vendor);
        assert_string_equal(id->manufacturer, c->manufacturer);
        assert_string_equal(id->model, c->model);
        assert_string_equal(id->firmware, c->firmware);
        assert_string_equal(id->imei, c->imei);
        assert_string_equal(id->iccid, c->iccid);
        assert_string_equal(id->imsi, c->imsi);
        assert_string_equal(id->msisdn, c->msisdn);
        assert_string_equal(id->operator_name, "Orange F");
        assert_string_equal(id->smsc, "+33689004000");
        assert_string_equal(id->pin_state, "READY");
        assert_int_equal(id->rssi_dbm, c->dbm);
        assert_true(id->registered);
        assert_true(id->status_reports);
        /* echo off first after the sync, and its OK waited for */
        assert_string_equal(h.cmds[0], "AT");
        assert_string_equal(h.cmds[1], "ATE0");
        assert_string_equal(h.cmds[2], "AT+CMEE=1");
        if (c->must_send)
            assert_true(h_count_cmd(&h, c->must_send) >= 1);
        if (c->must_not_send)
            assert_int_equal(h_count_cmd(&h, c->must_not_send), 0);
        assert_int_equal(h_count_cmd(&h, "AT+CMGF=0"), 1);
        assert_int_equal(h_count_cmd(&h, "AT+CMGL=4"), 1);
        assert_true(h_find_cmd(&h, "AT+CMGF=0", 0) < h_find_cmd(&h, "AT+CNMI=*", 0));
        assert_int_equal(h_count_cmd(&h, "AT+CNMI=*"), 1);
        assert_true(modem_can_accept(h.m));
        assert_true(h.identities >= 1);
        h_free(&h);
    }
}

/* ------------------------------------------------------------ SIM and PIN */

struct pin_case {
    const char *name;
    const char *pin;
    struct reply sim[6];
    enum modem_state want;
    const char *want_reason;        /* substring */
    size_t want_pin_sends;
    const char *want_pin_state;
    bool needs_human;               /* failed for good: no retry */
};

static const struct pin_case pin_cases[] = {
    {"SIM800, PIN needed and configured: entered once, then READY",
     "1234",
     {{"AT+CPIN?", AT_FINAL_OK, -1, {"+CPIN: SIM PIN"}, {NULL}, 1, false},
      OK0("AT+CPIN=\"1234\""), END},
     MODEM_READY, "registered", 1, "READY", false},
    {"EC25, SIM busy (CME 14) right after the PIN, then READY",
     "1234",
     {{"AT+CPIN?", AT_FINAL_OK, -1, {"+CPIN: SIM PIN"}, {NULL}, 1, false},
      {"AT+CPIN?", AT_FINAL_CME_ERROR, 14, {NULL}, {NULL}, 2, false},
      OK0("AT+CPIN=\"1234\""), END},
     MODEM_READY, "registered", 1, "READY", false},
    {"SIM800, wrong PIN (CME 16): failed, never retried",
     "0000",
     {OKR("AT+CPIN?", "+CPIN: SIM PIN"),
      {"AT+CPIN=\"0000\"", AT_FINAL_CME_ERROR, 16, {NULL}, {NULL}, 0, false}, END},
     MODEM_FAILED, "wrong PIN", 1, "SIM PIN", true},
    {"Huawei, PIN answered OK but the SIM still wants a PIN: wrong PIN",
     "0000",
     {OKR("AT+CPIN?", "+CPIN: SIM PIN"), OK0("AT+CPIN=\"0000\""), END},
     MODEM_FAILED, "wrong PIN", 1, "SIM PIN", true},
    {"SIM7600, PIN needed and none configured",
     NULL,
     {OKR("AT+CPIN?", "+CPIN: SIM PIN"), END},
     MODEM_FAILED, "PIN needed", 0, "SIM PIN", true},
    {"SIM800, configured PIN is not digits: never sent",
     "12\"4",
     {OKR("AT+CPIN?", "+CPIN: SIM PIN"), END},
     MODEM_FAILED, "not 4 to 8 digits", 0, "SIM PIN", true},
    {"SIM800, SIM PUK: failed, no PIN attempt",
     "1234",
     {OKR("AT+CPIN?", "+CPIN: SIM PUK"), END},
     MODEM_FAILED, "PUK", 0, "SIM PUK", true},
    {"EC25, no SIM (CME 10)",
     NULL,
     {{"AT+CPIN?", AT_FINAL_CME_ERROR, 10, {NULL}, {NULL}, 0, false}, END},
     MODEM_FAILED, "no SIM", 0, "NO SIM", true},
    {"SIM800, +CPIN: NOT INSERTED",
     NULL,
     {OKR("AT+CPIN?", "+CPIN: NOT INSERTED"), END},
     MODEM_FAILED, "no SIM", 0, "NO SIM", true},
    {"SIM800, SIM never ready (CME 14 forever): failed after the SIM timeout",
     NULL,
     {{"AT+CPIN?", AT_FINAL_CME_ERROR, 14, {NULL}, {NULL}, 0, false}, END},
     MODEM_FAILED, "SIM not ready", 0, "", false},
};

static void test_pin_flows(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(pin_cases) / sizeof(pin_cases[0]); i++) {
        const struct pin_case *c = &pin_cases[i];
        struct harness h;
        print_message("case: %s\n", c->name);
        h_init(&h, modem_vendor_by_name("sim800"), c->pin);
        h.tables[0] = c->sim;
        h.tables[1] = sim800;
        h.tables[2] = common;
        h_start(&h);
        h_run(&h, 120000, h_settled);
        assert_int_equal(modem_state(h.m), c->want);
        assert_non_null(strstr(modem_reason(h.m), c->want_reason));
        assert_int_equal(h_count_cmd(&h, "AT+CPIN=*"), c->want_pin_sends);
        assert_string_equal(modem_identity(h.m)->pin_state, c->want_pin_state);
        if (c->needs_human) {
            /* SIM/PIN failures need a human: nothing more is sent, ever. */
            size_t n = h.ncmds;
            h_run(&h, h.now + 3600 * 1000, NULL);
            assert_int_equal(h.ncmds, n);
            assert_int_equal(modem_state(h.m), MODEM_FAILED);
        }
        h_free(&h);
    }
}

/* ------------------------------------------------------------ CNMI */

static void test_cnmi_fallback(void **state)
{
    (void)state;
    /* A Qualcomm-based modem: ds=1 refused, ds=2 (+CDSI) accepted. */
    static const struct reply t[] = {
        {"AT+CNMI=2,1,0,1,0", AT_FINAL_CMS_ERROR, 303, {NULL}, {NULL}, 0, false},
        {"AT+CNMI=2,1,2,1,0", AT_FINAL_ERROR, -1, {NULL}, {NULL}, 0, false},
        OK0("AT+CNMI=2,1,2,2,0"),
        END,
    };
    struct harness h;
    h_init(&h, modem_vendor_by_name("ec25"), NULL);
    h.tables[0] = t;
    h.tables[1] = ec25;
    h.tables[2] = common;
    h_start(&h);
    h_run(&h, 60000, h_settled);
    assert_int_equal(modem_state(h.m), MODEM_READY);
    long a = h_find_cmd(&h, "AT+CNMI=2,1,0,1,0", 0);
    long b = h_find_cmd(&h, "AT+CNMI=2,1,2,1,0", 0);
    long c = h_find_cmd(&h, "AT+CNMI=2,1,2,2,0", 0);
    assert_true(a >= 0 && b == a + 1 && c == b + 1);
    assert_int_equal(h_count_cmd(&h, "AT+CNMI=2,1,2,0,0"), 0);
    assert_true(modem_identity(h.m)->status_reports);
    h_free(&h);

    /* Every form refused: CNMI is not optional, the modem fails. */
    static const struct reply none[] = {
        {"AT+CNMI=*", AT_FINAL_ERROR, -1, {NULL}, {NULL}, 0, false},
        END,
    };
    h_init(&h, modem_vendor_by_name("sim800"), NULL);
    h.tables[0] = none;
    h.tables[1] = sim800;
    h.tables[2] = common;
    h_start(&h);
    h_run(&h, 60000, h_settled);
    assert_int_equal(modem_state(h.m), MODEM_FAILED);
    assert_int_equal(h_count_cmd(&h, "AT+CNMI=*"), 4);
    assert_non_null(strstr(modem_reason(h.m), "AT+CNMI=2,1,2,0,0 rejected"));
    h_free(&h);
}

/* ------------------------------------------------------------ registration */

static void test_registration_lost_regained(void **state)
{
    (void)state;
    struct harness h;
    h_init(&h, modem_vendor_by_name("sim800"), NULL);
    h.tables[0] = sim800;
    h.tables[1] = common;
    h_start(&h);
    h_run(&h, 60000, h_is_ready);
    assert_int_equal(modem_state(h.m), MODEM_READY);

    /* SIM800, network gone: +CREG: 2 (searching) as a URC. */
    static const struct reply searching[] = {
        OKR("AT+CREG?", "+CREG: 1,2"), OKR("AT+CGREG?", "+CGREG: 1,2"), END};
    h.tables[0] = searching;
    h.tables[1] = sim800;
    h.tables[2] = common;
    h_urc(&h, "+CREG: 2", NULL);
    h_urc(&h, "+CGREG: 2", NULL);
    assert_int_equal(modem_state(h.m), MODEM_INITIALIZING);
    assert_string_equal(modem_reason(h.m), "registration lost");
    assert_false(modem_can_accept(h.m));
    /* a job now is refused at once, retry elsewhere */
    h_submit(&h, 7, 20, "0011000B913366554433F20000AA06C8329BFD06");
    assert_int_equal(h.nsends, 1);
    assert_false(h.sends[0].ok);
    assert_int_equal(h.sends[0].cls, MODEM_ERR_RETRY_NOW);
    assert_int_equal(h_count_cmd(&h, "AT+CMGS=*"), 0);
    h_run(&h, h.now + 20000, NULL);
    assert_int_equal(modem_state(h.m), MODEM_INITIALIZING);
    assert_true(h_count_cmd(&h, "AT+CREG?") >= 5);   /* polled meanwhile */

    /* regained: the URC alone brings it back */
    h.tables[0] = sim800;
    h.tables[1] = common;
    h.tables[2] = NULL;
    h_urc(&h, "+CREG: 1", NULL);
    h_run(&h, h.now + 10000, h_is_ready);
    assert_int_equal(modem_state(h.m), MODEM_READY);
    assert_int_equal(h_count_cmd(&h, "AT+CMGL=4"), 1);   /* not re-listed */
    h_free(&h);
}

static void test_registration_timeout(void **state)
{
    (void)state;
    static const struct reply denied[] = {
        OKR("AT+CREG?", "+CREG: 1,3"), OKR("AT+CGREG?", "+CGREG: 1,3"), END};
    static const struct reply searching[] = {
        OKR("AT+CREG?", "+CREG: 1,2"), OKR("AT+CGREG?", "+CGREG: 1,0"), END};
    const struct {
        const char *name;
        const struct reply *t;
        const char *reason;
    } cases[] = {
        {"SIM800, searching until the timeout", searching, "not registered (searching)"},
        {"SIM800, registration denied", denied, "registration denied"},
    };
    for (size_t i = 0; i < 2; i++) {
        struct harness h;
        print_message("case: %s\n", cases[i].name);
        h_init(&h, modem_vendor_by_name("sim800"), NULL);
        h.cfg.reg_timeout_ms = 30000;
        h.tables[0] = cases[i].t;
        h.tables[1] = sim800;
        h.tables[2] = common;
        h_start(&h);
        h_run(&h, 120000, h_settled);
        assert_int_equal(modem_state(h.m), MODEM_FAILED);
        assert_string_equal(modem_reason(h.m), cases[i].reason);
        /* not a SIM problem: it tries again by itself later */
        size_t n = h.nstates;
        h_run(&h, h.now + MODEM_FAILED_RETRY_MS + 1000, NULL);
        assert_true(h.nstates > n);
        h_free(&h);
    }
}

/* ------------------------------------------------------------ sending */

#define PDU "0011000B913366554433F20000AA06C8329BFD06"

struct send_case {
    const char *name;
    const char *vendor;
    struct reply cmgs;
    bool ok;
    int mr;
    enum modem_err_class cls;
    int code;
    const char *why;
};

static const struct send_case send_cases[] = {
    {"SIM800, +CMGS: 47", "sim800", OKR("AT+CMGS=19", "+CMGS: 47"), true, 47, MODEM_ERR_NONE, -1,
     "ok"},
    {"EC25, +CMGS with SCTS", "ec25", OKR("AT+CMGS=19", "+CMGS: 255,\"24/05/01,12:00:00+08\""), true,
     255, MODEM_ERR_NONE, -1, "ok"},
    {"congestion (CMS 42): retry now", "sim800",
     {"AT+CMGS=19", AT_FINAL_CMS_ERROR, 42, {NULL}, {NULL}, 0, true}, false, -1,
     MODEM_ERR_RETRY_NOW, 42, "cms"},
    {"network out of order (CMS 38): retry later", "sim800",
     {"AT+CMGS=19", AT_FINAL_CMS_ERROR, 38, {NULL}, {NULL}, 0, true}, false, -1,
     MODEM_ERR_RETRY_LATER, 38, "cms"},
    {"unassigned number (CMS 1): permanent", "sim800",
     {"AT+CMGS=19", AT_FINAL_CMS_ERROR, 1, {NULL}, {NULL}, 0, true}, false, -1,
     MODEM_ERR_PERMANENT, 1, "cms"},
    {"duplicate SM (CMS 197): special", "ec25",
     {"AT+CMGS=19", AT_FINAL_CMS_ERROR, 197, {NULL}, {NULL}, 0, true}, false, -1,
     MODEM_ERR_SPECIAL, 197, "cms"},
    {"no network (CMS 331): retry later", "sim7600",
     {"AT+CMGS=19", AT_FINAL_CMS_ERROR, 331, {NULL}, {NULL}, 0, true}, false, -1,
     MODEM_ERR_RETRY_LATER, 331, "cms"},
    {"plain ERROR: retry later", "huawei",
     {"AT+CMGS=19", AT_FINAL_ERROR, -1, {NULL}, {NULL}, 0, true}, false, -1,
     MODEM_ERR_RETRY_LATER, -1, "error"},
    {"no prompt: retry elsewhere", "sim800",
     {"AT+CMGS=19", AT_FINAL_TIMEOUT, -1, {NULL}, {NULL}, 0, false}, false, -1,
     MODEM_ERR_RETRY_NOW, -1, "prompt timeout"},
    {"timeout after the PDU was written: unknown", "ec25",
     {"AT+CMGS=19", AT_FINAL_TIMEOUT, -1, {NULL}, {NULL}, 0, true}, false, -1, MODEM_ERR_UNKNOWN,
     -1, "result timeout"},
};

static void test_send(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(send_cases) / sizeof(send_cases[0]); i++) {
        const struct send_case *c = &send_cases[i];
        struct reply t[2] = {c->cmgs, END};
        const struct reply *prof = strcmp(c->vendor, "sim800") == 0    ? sim800
                                   : strcmp(c->vendor, "ec25") == 0    ? ec25
                                   : strcmp(c->vendor, "sim7600") == 0 ? sim7600
                                                                       : huawei;
        struct harness h;
        print_message("case: %s\n", c->name);
        h_init(&h, modem_vendor_by_name(c->vendor), NULL);
        h.tables[0] = t;
        h.tables[1] = prof;
        h.tables[2] = common;
        h_start(&h);
        h_run(&h, 60000, h_is_ready);
        assert_int_equal(modem_state(h.m), MODEM_READY);
        size_t before = h.ncmds;
        sg_ms t0 = h.now;
        h_submit(&h, 42, 19, "00" PDU);
        assert_int_equal(modem_state(h.m), MODEM_BUSY);
        assert_false(modem_can_accept(h.m));
        assert_string_equal(h.cmds[before], "AT+CMGS=19");
        h_run(&h, h.now + 300000, NULL);
        assert_int_equal(h.nsends, 1);
        assert_true(h.sends[0].id == 42);
        assert_int_equal(h.sends[0].ok, c->ok);
        if (c->ok)
            assert_int_equal(h.sends[0].mr, c->mr);
        assert_int_equal(h.sends[0].cls, c->cls);
        assert_int_equal(h.sends[0].code, c->code);
        assert_string_equal(h.sends[0].why, c->why);
        assert_int_equal(modem_state(h.m), MODEM_READY);
        if (c->cmgs.final == AT_FINAL_TIMEOUT) {
            /* the wait matched the vendor's prompt or result timeout */
            const struct modem_vendor *v = modem_vendor_by_name(c->vendor);
            sg_ms want = c->cmgs.payload_written ? v->cmgs_result_ms : v->cmgs_prompt_ms;
            long probe = h_find_cmd(&h, "AT", before + 1);
            assert_true(probe > 0);   /* resync right after */
            assert_int_equal(h.cmd_at[probe] - t0, want + H_REPLY_DELAY * 0);
        }
        h_free(&h);
    }
}

/* ------------------------------------------------------------ inbound */

#define DELIVER "07913366003000F0040B913366554433F20000422150913512800AE8329BFD4697D9EC37"
#define REPORT "07913366003000F006270B913366554433F2422150913512804221509135128000"

static void test_inbound_stored_then_deleted_after_ack(void **state)
{
    (void)state;
    static const struct reply t[] = {
        {"AT+CMGL=4", AT_FINAL_OK, -1, {"+CMGL: 1,1,\"\",24", "+CMGL: 2,3,\"\",19"},
         {DELIVER, "00" PDU}, 1, false},
        {"AT+CMGR=1", AT_FINAL_OK, -1, {"+CMGR: 1,\"\",24"}, {DELIVER}, 0, false},
        {"AT+CMGR=5", AT_FINAL_OK, -1, {"+CMGR: 0,\"\",24"}, {DELIVER}, 0, false},
        {"AT+CMGR=6", AT_FINAL_OK, -1, {"+CMGR: 0,\"\",25"}, {REPORT}, 0, false},
        OK0("AT+CMGD=*"),
        END,
    };
    struct harness h;
    h_init(&h, modem_vendor_by_name("sim800"), NULL);
    h.tables[0] = t;
    h.tables[1] = sim800;
    h.tables[2] = common;
    h_start(&h);
    h_run(&h, 60000, NULL);
    assert_int_equal(modem_state(h.m), MODEM_READY);
    /* the stored DELIVER was read; the stored SUBMIT (stat 3) was not */
    assert_int_equal(h_count_cmd(&h, "AT+CMGR=1"), 1);
    assert_int_equal(h_count_cmd(&h, "AT+CMGR=2"), 0);
    assert_int_equal(h.nmsgs, 1);
    assert_int_equal(h.msgs[0].type, MODEM_ACT_INBOUND);
    assert_int_equal(h.msgs[0].index, 1);
    assert_string_equal(h.msgs[0].pdu, DELIVER);
    /* not deleted before the owner says it is stored */
    assert_int_equal(h_count_cmd(&h, "AT+CMGD=*"), 0);
    struct modem_event ack = {.type = MODEM_EV_STORED, .index = 1};
    h_step(&h, &ack);
    h_run(&h, h.now + 1000, NULL);
    assert_int_equal(h_count_cmd(&h, "AT+CMGD=1"), 1);

    /* +CMTI and +CDSI while ready: read, handed up with their index */
    h_urc(&h, "+CMTI: \"SM\",5", NULL);
    h_urc(&h, "+CDSI: \"SM\",6", NULL);
    h_run(&h, h.now + 1000, NULL);
    assert_int_equal(h.nmsgs, 3);
    assert_int_equal(h.msgs[1].type, MODEM_ACT_INBOUND);
    assert_int_equal(h.msgs[1].index, 5);
    assert_int_equal(h.msgs[2].type, MODEM_ACT_REPORT);
    assert_int_equal(h.msgs[2].index, 6);
    assert_string_equal(h.msgs[2].pdu, REPORT);

    /* direct +CDS (ds=1): handed up with index -1, nothing to delete */
    h_urc(&h, "+CDS: 25", REPORT);
    assert_int_equal(h.nmsgs, 4);
    assert_int_equal(h.msgs[3].type, MODEM_ACT_REPORT);
    assert_int_equal(h.msgs[3].index, -1);
    size_t n = h.ncmds;
    struct modem_event ack2 = {.type = MODEM_EV_STORED, .index = -1};
    h_step(&h, &ack2);
    h_run(&h, h.now + 1000, NULL);
    assert_int_equal(h.ncmds, n);   /* no CNMA with CSMS=0 */
    h_free(&h);
}

static void test_listing_triggers(void **state)
{
    (void)state;
    /* Huawei has sent +CMTI: "SM",-1: no index, so list what is stored;
     * CMS 322 (memory full) on a send does the same. */
    static const struct reply t[] = {
        {"AT+CMGL=4", AT_FINAL_OK, -1, {NULL}, {NULL}, 1, false},
        {"AT+CMGL=4", AT_FINAL_OK, -1, {"+CMGL: 4,0,,24"}, {DELIVER}, 0, false},
        {"AT+CMGR=4", AT_FINAL_OK, -1, {"+CMGR: 0,,24"}, {DELIVER}, 0, false},
        {"AT+CMGS=*", AT_FINAL_CMS_ERROR, 322, {NULL}, {NULL}, 0, true},
        END,
    };
    struct harness h;
    h_init(&h, modem_vendor_by_name("huawei"), NULL);
    h.tables[0] = t;
    h.tables[1] = huawei;
    h.tables[2] = common;
    h_start(&h);
    h_run(&h, 60000, h_is_ready);
    assert_int_equal(h_count_cmd(&h, "AT+CMGL=4"), 1);
    h_urc(&h, "+CMTI: \"SM\",-1", NULL);
    h_run(&h, h.now + 1000, NULL);
    assert_int_equal(h_count_cmd(&h, "AT+CMGL=4"), 2);
    assert_int_equal(h.nmsgs, 1);
    assert_int_equal(h.msgs[0].index, 4);
    h_submit(&h, 3, 19, "00" PDU);
    h_run(&h, h.now + 1000, NULL);
    assert_int_equal(h.nsends, 1);
    assert_int_equal(h.sends[0].cls, MODEM_ERR_SPECIAL);
    assert_int_equal(h.sends[0].code, 322);
    assert_int_equal(h_count_cmd(&h, "AT+CMGL=4"), 3);
    h_free(&h);
}

static void test_resync_failed_climbs_to_reopen(void **state)
{
    (void)state;
    /* at_chan's own resync after a timeout found nobody: resync is done,
     * the ladder goes on with reopening the port. */
    struct harness h;
    h_init(&h, modem_vendor_by_name("sim7600"), NULL);
    h.tables[0] = sim7600;
    h.tables[1] = common;
    h_start(&h);
    h_run(&h, 60000, h_is_ready);
    struct modem_event ev = {.type = MODEM_EV_RESYNCED, .ok = false};
    h_step(&h, &ev);
    assert_int_equal(modem_state(h.m), MODEM_RECOVERING);
    assert_int_equal(h_find_log(&h, "step=resync", 0), -1);
    h_run(&h, h.now + 60000, h_recovered);
    assert_int_equal(modem_state(h.m), MODEM_READY);
    assert_int_equal(h.reopens, 1);
    /* a successful resync changes nothing */
    size_t n = h.nstates;
    ev.ok = true;
    h_step(&h, &ev);
    assert_int_equal(h.nstates, n);
    h_free(&h);
}

static void test_report_in_sr_memory(void **state)
{
    (void)state;
    /* EC25 with ds=2 keeps reports in "SR": switch mem1 there to read and
     * delete, and back to SM afterwards. */
    static const struct reply t[] = {
        OKR("AT+CPMS=\"SR\"", "+CPMS: 1,20,0,30,0,30"),
        OKR("AT+CPMS=\"SM\"", "+CPMS: 0,30,0,30,0,30"),
        {"AT+CMGR=2", AT_FINAL_OK, -1, {"+CMGR: 0,,25"}, {REPORT}, 0, false},
        OK0("AT+CMGD=2"),
        END,
    };
    struct harness h;
    h_init(&h, modem_vendor_by_name("ec25"), NULL);
    h.tables[0] = t;
    h.tables[1] = ec25;
    h.tables[2] = common;
    h_start(&h);
    h_run(&h, 60000, h_is_ready);
    size_t n0 = h.ncmds;
    h_urc(&h, "+CDSI: \"SR\",2", NULL);
    h_run(&h, h.now + 1000, NULL);
    assert_string_equal(h.cmds[n0], "AT+CPMS=\"SR\"");
    assert_string_equal(h.cmds[n0 + 1], "AT+CMGR=2");
    assert_string_equal(h.cmds[n0 + 2], "AT+CPMS=\"SM\"");
    assert_int_equal(h.ncmds, n0 + 3);
    assert_int_equal(h.nmsgs, 1);
    assert_int_equal(h.msgs[0].type, MODEM_ACT_REPORT);
    int token = h.msgs[0].index;
    assert_true(token >= 0 && token != 2);   /* not to be confused with SM 2 */
    struct modem_event ack = {.type = MODEM_EV_STORED, .index = token};
    h_step(&h, &ack);
    h_run(&h, h.now + 1000, NULL);
    assert_string_equal(h.cmds[n0 + 3], "AT+CPMS=\"SR\"");
    assert_string_equal(h.cmds[n0 + 4], "AT+CMGD=2");
    assert_string_equal(h.cmds[n0 + 5], "AT+CPMS=\"SM\"");
    assert_int_equal(h.ncmds, n0 + 6);
    /* a memory the modem refuses: dropped, not asked for again and again */
    h_urc(&h, "+CMTI: \"BM\",1", NULL);
    h_run(&h, h.now + 60000, NULL);
    assert_int_equal(h_count_cmd(&h, "AT+CPMS=\"BM\""), 1);
    assert_int_equal(h_count_cmd(&h, "AT+CMGR=1"), 0);
    h_free(&h);
}

static void test_watchdog_lost_result(void **state)
{
    (void)state;
    /* The glue loses a send's result (a bug elsewhere): the machine does not
     * stall; after the command's own timeouts plus grace the send is
     * "unknown" and the modem carries on. */
    struct harness h;
    h_init(&h, modem_vendor_by_name("sim800"), NULL);
    h.tables[0] = sim800;
    h.tables[1] = common;
    h_start(&h);
    h_run(&h, 60000, h_is_ready);
    sg_ms t0 = h.now;
    h_submit(&h, 11, 19, "00" PDU);
    h.nq = 0;   /* the answer vanishes */
    h_run(&h, h.now + 200000, NULL);
    assert_int_equal(h.nsends, 1);
    assert_int_equal(h.sends[0].cls, MODEM_ERR_UNKNOWN);
    assert_true(h_find_log(&h, "event=watchdog", 0) >= 0);
    const struct modem_vendor *v = modem_vendor_by_name("sim800");
    assert_int_equal(h.log_at[h_find_log(&h, "event=watchdog", 0)] - t0,
                     v->cmgs_prompt_ms + v->cmgs_result_ms + MODEM_WATCHDOG_GRACE_MS);
    assert_int_equal(modem_state(h.m), MODEM_READY);
    h_free(&h);
}

static void test_signal_polling(void **state)
{
    (void)state;
    static const struct reply t[] = {
        {"AT+CSQ", AT_FINAL_OK, -1, {"+CSQ: 17,0"}, {NULL}, 1, false},
        OKR("AT+CSQ", "+CSQ: 5,0"),
        END,
    };
    struct harness h;
    h_init(&h, modem_vendor_by_name("sim800"), NULL);
    h.tables[0] = t;
    h.tables[1] = sim800;
    h.tables[2] = common;
    h_start(&h);
    h_run(&h, 60000, h_is_ready);
    sg_ms ready_at = h.now;
    assert_int_equal(modem_identity(h.m)->rssi_dbm, -79);
    assert_string_equal(modem_identity(h.m)->band, "good");
    h_run(&h, ready_at + MODEM_CSQ_INTERVAL_MS - 100, NULL);
    assert_int_equal(h_count_cmd(&h, "AT+CSQ"), 1);
    h_run(&h, ready_at + MODEM_CSQ_INTERVAL_MS + 100, NULL);
    assert_int_equal(h_count_cmd(&h, "AT+CSQ"), 2);
    assert_int_equal(modem_identity(h.m)->rssi_dbm, -103);
    assert_string_equal(modem_identity(h.m)->band, "marginal");
    h_run(&h, ready_at + 10 * MODEM_CSQ_INTERVAL_MS + 100, NULL);
    assert_int_equal(h_count_cmd(&h, "AT+CSQ"), 11);
    h_free(&h);
}

/* ------------------------------------------------------------ recovery */

static void test_recovery_silent_no_gpio(void **state)
{
    (void)state;
    struct harness h;
    h_init(&h, modem_vendor_by_name("sim800"), NULL);
    h.tables[0] = sim800;
    h.tables[1] = common;
    h.powered = false;   /* never answers */
    h_start(&h);
    h_run(&h, 10 * 60 * 1000, h_is_failed);
    assert_int_equal(modem_state(h.m), MODEM_FAILED);
    assert_non_null(strstr(modem_reason(h.m), "no answer"));
    assert_non_null(strstr(modem_reason(h.m), "no GPIO"));
    assert_false(modem_answered(h.m));
    /* ladder order: reopen, then CFUN, never a power cycle */
    long a = h_find_log(&h, "step=reopen", 0);
    long b = h_find_log(&h, "event=recovery step=cfun-reset", 0);
    assert_true(a >= 0 && b > a);
    assert_int_equal(h_find_log(&h, "step=power-cycle", 0), -1);
    assert_int_equal(h.reopens, 1);
    assert_int_equal(h_count_cmd(&h, "AT+CFUN=1,1"), 1);
    assert_true(h_saw_state(&h, MODEM_RECOVERING));
    /* back-off before the CFUN rung */
    long sched = h_find_log(&h, "event=recovery-scheduled step=cfun-reset", 0);
    assert_true(sched >= 0);
    assert_int_equal(h.log_at[b] - h.log_at[sched], MODEM_BACKOFF_CFUN_MS);
    h_free(&h);
}

static void test_recovery_cfun_fixes(void **state)
{
    (void)state;
    /* Answers at first, then hangs mid-life; a full-functionality reset
     * brings it back: echo is on again, so ATE0 is sent again. */
    struct harness h;
    h_init(&h, modem_vendor_by_name("ec25"), NULL);
    h.tables[0] = ec25;
    h.tables[1] = common;
    h_start(&h);
    h_run(&h, 60000, h_is_ready);
    h.hung = true;
    h.cfun_fixes = true;
    size_t n0 = h.ncmds;
    h_submit(&h, 1, 19, "00" PDU);
    h_run(&h, h.now + 10 * 60 * 1000, h_recovered);
    assert_int_equal(modem_state(h.m), MODEM_READY);
    assert_int_equal(h.nsends, 1);
    assert_false(h.sends[0].ok);
    assert_true(h_find_log(&h, "step=resync", 0) >= 0);
    assert_true(h_find_log(&h, "step=reopen", 0) >= 0);
    assert_true(h_find_log(&h, "step=cfun-reset", 0) >= 0);
    assert_int_equal(h_find_log(&h, "step=power-cycle", 0), -1);
    long cf = h_find_cmd(&h, "AT+CFUN=1,1", n0);
    assert_true(cf > 0);
    assert_true(h_find_cmd(&h, "ATE0", (size_t)cf) > cf);
    h_free(&h);
}

static void test_recovery_gpio_power_cycle(void **state)
{
    (void)state;
    struct harness h;
    h_init(&h, modem_vendor_by_name("sim800"), NULL);
    h_gpio(&h, true);
    h.tables[0] = sim800;
    h.tables[1] = common;
    h_start(&h);
    h_run(&h, 60000, h_is_ready);
    assert_int_equal(modem_state(h.m), MODEM_READY);
    /* hangs for good: only the power key helps */
    h.hung = true;
    h_urc(&h, "\x01\x02\xff garbage", NULL);   /* one garbage line does nothing */
    assert_int_equal(modem_state(h.m), MODEM_READY);
    h_submit(&h, 9, 19, "00" PDU);
    h_run(&h, h.now + 15 * 60 * 1000, h_recovered);
    assert_int_equal(modem_state(h.m), MODEM_READY);
    long pc = h_find_log(&h, "event=recovery step=power-cycle", 0);
    assert_true(pc >= 0);
    sg_ms t0 = h.log_at[pc];
    const struct gpio_timing *tm = gpio_seq_timing_for("sim800");
    size_t n;
    const struct gpio_trace_entry *tr = gpio_trace(h.g, &n);
    /* off pulse, STATUS falls, gap, on pulse, STATUS rises */
    assert_int_equal(n, 4);
    assert_int_equal(tr[0].role, GPIO_PWRKEY);
    assert_true(tr[0].asserted);
    assert_int_equal(tr[0].at, t0);
    assert_false(tr[1].asserted);
    assert_int_equal(tr[1].at - tr[0].at, tm->pwrkey_off_ms);
    assert_true(tr[2].asserted);
    assert_true(tr[2].at - tr[1].at >= 300 + GPIO_SEQ_OFF_GAP_MS);
    assert_true(tr[2].at - tr[1].at <= 300 + GPIO_SEQ_OFF_GAP_MS + GPIO_SEQ_POLL_MS);
    assert_false(tr[3].asserted);
    /* held past pwrkey_on_ms until STATUS rose (1.3 s into the pulse) */
    assert_true(tr[3].at - tr[2].at >= tm->pwrkey_on_ms);
    assert_true(tr[3].at - tr[2].at <= 1300 + GPIO_SEQ_POLL_MS);
    /* after power-up the bring-up ran again from echo off */
    long ate0 = -1;
    for (size_t i = 0; i < h.ncmds; i++)
        if (strcmp(h.cmds[i], "ATE0") == 0 && h.cmd_at[i] > tr[3].at)
            ate0 = (long)i;
    assert_true(ate0 > 0);
    assert_true(gpio_get_status(h.g) == 1);
    h_free(&h);
}

static void test_recovery_status_low(void **state)
{
    (void)state;
    /* SIM800 brown-out: STATUS falls while ready; straight to the power key. */
    struct harness h;
    h_init(&h, modem_vendor_by_name("sim800"), NULL);
    h_gpio(&h, true);
    h.tables[0] = sim800;
    h.tables[1] = common;
    h_start(&h);
    h_run(&h, 60000, h_is_ready);
    sg_ms t_off = h.now + 5000;
    gpio_script_status(h.g, t_off, false);
    h.powered = false;
    h_run(&h, h.now + 5 * 60 * 1000, h_recovered);
    assert_int_equal(modem_state(h.m), MODEM_READY);
    assert_non_null(strstr(h.reasons[h_find_state(&h, MODEM_RECOVERING)], "STATUS low"));
    assert_int_equal(h_find_log(&h, "step=resync", 0), -1);
    size_t n;
    const struct gpio_trace_entry *tr = gpio_trace(h.g, &n);
    /* already off: no off pulse, only the on pulse */
    assert_int_equal(n, 2);
    assert_true(tr[0].asserted && tr[0].at >= t_off + MODEM_BACKOFF_POWER_MS);
    h_free(&h);
}

static void test_recovery_power_on_at_start(void **state)
{
    (void)state;
    /* Board boots with the modem off: POWERING, PWRKEY pulse, STATUS, AT. */
    struct harness h;
    h_init(&h, modem_vendor_by_name("sim800"), NULL);
    h.powered = false;
    h_gpio(&h, true);
    h.cfg.power_on_at_start = true;
    h.tables[0] = sim800;
    h.tables[1] = common;
    h_start(&h);
    h_run(&h, 60000, h_settled);
    assert_int_equal(modem_state(h.m), MODEM_READY);
    assert_true(h_saw_state(&h, MODEM_POWERING));
    size_t n;
    const struct gpio_trace_entry *tr = gpio_trace(h.g, &n);
    assert_int_equal(n, 2);
    assert_true(tr[0].asserted && !tr[1].asserted);
    assert_int_equal(tr[0].at, 1000);
    assert_true(tr[1].at - tr[0].at >= gpio_seq_timing_for("sim800")->pwrkey_on_ms);
    assert_true(tr[1].at - tr[0].at <= 1300 + GPIO_SEQ_POLL_MS);
    h_free(&h);
}

static void test_reboot_and_garbage(void **state)
{
    (void)state;
    struct harness h;
    h_init(&h, modem_vendor_by_name("ec25"), NULL);
    h.tables[0] = ec25;
    h.tables[1] = common;
    h_start(&h);
    h_run(&h, 60000, h_is_ready);
    size_t n0 = h.ncmds;
    /* EC25 rebooted on its own (brown-out): RDY while ready */
    h_urc(&h, "RDY", NULL);
    assert_int_equal(modem_state(h.m), MODEM_INITIALIZING);
    assert_non_null(strstr(modem_reason(h.m), "rebooted"));
    h_run(&h, h.now + 60000, h_is_ready);
    assert_int_equal(modem_state(h.m), MODEM_READY);
    assert_true(h_find_cmd(&h, "ATE0", n0) > (long)n0);
    /* the ladder was not climbed for a reboot */
    assert_int_equal(h_find_log(&h, "event=recovery", 0), -1);

    /* a burst of garbage (wrong baud rate) starts the ladder */
    for (int i = 0; i < MODEM_GARBAGE_MAX; i++)
        h_urc(&h, "\xfe\xfe\x80\x01", NULL);
    assert_true(h_find_log(&h, "step=resync", 0) >= 0);
    h_run(&h, h.now + 60000, h_recovered);
    assert_int_equal(modem_state(h.m), MODEM_READY);
    h_free(&h);
}

static void test_unplug_during_send(void **state)
{
    (void)state;
    static const struct reply slow[] = {
        {"AT+CMGS=19", AT_FINAL_TIMEOUT, -1, {NULL}, {NULL}, 0, true},
        END,
    };
    struct harness h;
    h_init(&h, modem_vendor_by_name("sim7600"), NULL);
    h.tables[0] = slow;
    h.tables[1] = sim7600;
    h.tables[2] = common;
    h_start(&h);
    h_run(&h, 60000, h_is_ready);
    h_submit(&h, 5, 19, "00" PDU);
    h_run(&h, h.now + 1000, NULL);
    h.port_absent = true;
    h.nq = 0;
    h_event(&h, MODEM_EV_PORT_GONE);
    assert_int_equal(modem_state(h.m), MODEM_ABSENT);
    assert_int_equal(h.nsends, 1);
    assert_int_equal(h.sends[0].cls, MODEM_ERR_UNKNOWN);
    /* reopen attempts while it is gone, then back */
    h_run(&h, h.now + 10000, NULL);
    assert_true(h.reopens >= 4);
    assert_int_equal(modem_state(h.m), MODEM_ABSENT);
    h.port_absent = false;
    h_run(&h, h.now + 60000, h_is_ready);
    assert_int_equal(modem_state(h.m), MODEM_READY);
    h_free(&h);
}

/* ------------------------------------------------------------ random */

static uint32_t rnd_state;

static uint32_t rnd(void)
{
    rnd_state = rnd_state * 1103515245u + 12345u;
    return (rnd_state >> 8) & 0xffffff;
}

static const struct reply bad_replies[] = {
    {"", AT_FINAL_TIMEOUT, -1, {NULL}, {NULL}, 0, false},
    {"", AT_FINAL_TIMEOUT, -1, {NULL}, {NULL}, 0, true},
    {"", AT_FINAL_ERROR, -1, {NULL}, {NULL}, 0, false},
    {"", AT_FINAL_CMS_ERROR, 500, {NULL}, {NULL}, 0, true},
    {"", AT_FINAL_CME_ERROR, 14, {NULL}, {NULL}, 0, false},
    {"", AT_FINAL_ABORTED, -1, {NULL}, {NULL}, 0, false},
    {"", AT_FINAL_OK, -1, {"\x01\x02garbage", "+CMGR: 0,,24"}, {NULL, "00"}, 0, false},
    {"", AT_FINAL_NO_CARRIER, -1, {NULL}, {NULL}, 0, false},
};

static const char *const random_urcs[] = {
    "RDY", "+CREG: 2", "+CREG: 1", "+CGREG: 0", "+CEREG: 1", "+CREG: 3", "+CMTI: \"SM\",7",
    "+CMTI: \"SM\",-1", "+CDSI: \"SR\",2", "\xff\xfe\x01", "+CPIN: NOT READY", "SMS Ready",
    "^RSSI: 12", "+CMT: ,24", "+CDS: 25", "NORMAL POWER DOWN", "", "+CPIN: NOT INSERTED",
};

/* Random events against the machine: whatever happens, no action overflow,
 * never two commands out (the harness checks both), every job answered at
 * most once, and once the hardware is healthy again it comes back ready. */
static void test_random_events(void **state)
{
    (void)state;
    const char *const profiles[] = {"sim800", "sim7600", "ec25", "huawei"};
    const struct reply *const tables[] = {sim800, sim7600, ec25, huawei};
    unsigned long total_cmds = 0, total_jobs = 0, total_ready = 0;
    const char *only = getenv("H_SEED");   /* rerun one seed with H_DEBUG=1 */
    uint32_t only_seed = only ? (uint32_t)strtoul(only, NULL, 10) : 0;
    for (uint32_t seed = 1; seed <= 600; seed++) {
        if (only_seed && only_seed != seed)
            continue;
        rnd_state = seed;
        struct harness h;
        unsigned pi = seed % 4;
        h_init(&h, modem_vendor_by_name(profiles[pi]), NULL);
        if (seed % 3 == 0)
            h_gpio(&h, seed % 2 == 0);
        h.tables[0] = tables[pi];
        h.tables[1] = common;
        h_start(&h);
        uint64_t next_id = 1;
        int done_count[64] = {0};
        for (int step = 0; step < 250; step++) {
            uint32_t r = rnd() % 100;
            if (r < 35) {
                h_run(&h, h.now + (sg_ms)(rnd() % 8000), NULL);
            } else if (r < 50) {
                const char *u = random_urcs[rnd() % (sizeof(random_urcs) / sizeof(random_urcs[0]))];
                bool body = strncmp(u, "+CMT:", 5) == 0 || strncmp(u, "+CDS:", 5) == 0;
                h_urc(&h, u, body ? (u[3] == 'S' ? REPORT : DELIVER) : NULL);
            } else if (r < 62) {
                if (next_id < 64)
                    h_submit(&h, next_id++, 19, "00" PDU);
            } else if (r < 67) {
                struct modem_event ev = {.type = MODEM_EV_STORED, .index = (int)(rnd() % 10) - 1};
                h_step(&h, &ev);
            } else if (r < 74) {
                switch (rnd() % 3) {
                case 0:
                    h.hung = !h.hung;
                    break;
                case 1:
                    h.port_absent = !h.port_absent;
                    break;
                default:
                    if (!h.g)
                        h.powered = !h.powered;
                    break;
                }
            } else if (r < 78) {
                h.nq = 0;
                h_event(&h, MODEM_EV_PORT_GONE);
            } else if (r < 83) {
                struct modem_event ev = {.type = MODEM_EV_RESYNCED, .ok = rnd() % 2};
                h_step(&h, &ev);
            } else if (r < 93) {
                for (size_t i = 0; i < h.nq; i++)
                    if (h.q[i].ev.type == MODEM_EV_AT_DONE) {
                        h.q[i].r = &bad_replies[rnd() % (sizeof(bad_replies) / sizeof(bad_replies[0]))];
                        break;
                    }
            } else {
                struct modem_event ev = {.type = MODEM_EV_AT_DONE, .seq = rnd()};
                struct at_result res = {.final = AT_FINAL_OK};
                ev.res = &res;
                h_step(&h, &ev);   /* a stale result: ignored */
            }
            for (size_t i = 0; i < h.nsends; i++) {
                assert_true(h.sends[i].id < 64);
                done_count[h.sends[i].id]++;
                assert_true(done_count[h.sends[i].id] == 1);
            }
            h.nsends = 0;
            h.nmsgs = 0;
        }
        /* healthy again: it must come back by itself */
        h.hung = false;
        h.port_absent = false;
        if (!h.g)
            h.powered = true;
        h_run(&h, h.now + 40 * 60 * 1000, h_is_ready);
        enum modem_state st = modem_state(h.m);
        if (st != MODEM_READY) {
            print_message("seed %u: %s (%s)\n", seed, modem_state_name(st), modem_reason(h.m));
            assert_int_equal(st, MODEM_FAILED);
            assert_non_null(strstr(modem_reason(h.m), "SIM"));
        }
        for (size_t i = 0; i < h.nsends; i++)
            done_count[h.sends[i].id]++;
        for (uint64_t id = 1; id < next_id; id++)
            assert_int_equal(done_count[id], 1);   /* every job answered exactly once */
        total_cmds += h.ncmds;
        total_jobs += next_id - 1;
        total_ready += st == MODEM_READY;
        h_free(&h);
    }
    print_message("random: %lu commands, %lu jobs, %lu of 600 runs back to ready\n", total_cmds,
                  total_jobs, total_ready);
    if (!only_seed)
        assert_true(total_ready > 300);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bringup_profiles),
        cmocka_unit_test(test_pin_flows),
        cmocka_unit_test(test_cnmi_fallback),
        cmocka_unit_test(test_registration_lost_regained),
        cmocka_unit_test(test_registration_timeout),
        cmocka_unit_test(test_send),
        cmocka_unit_test(test_inbound_stored_then_deleted_after_ack),
        cmocka_unit_test(test_signal_polling),
        cmocka_unit_test(test_listing_triggers),
        cmocka_unit_test(test_watchdog_lost_result),
        cmocka_unit_test(test_report_in_sr_memory),
        cmocka_unit_test(test_resync_failed_climbs_to_reopen),
        cmocka_unit_test(test_recovery_silent_no_gpio),
        cmocka_unit_test(test_recovery_cfun_fixes),
        cmocka_unit_test(test_recovery_gpio_power_cycle),
        cmocka_unit_test(test_recovery_power_on_at_start),
        cmocka_unit_test(test_recovery_status_low),
        cmocka_unit_test(test_reboot_and_garbage),
        cmocka_unit_test(test_unplug_during_send),
        cmocka_unit_test(test_random_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
