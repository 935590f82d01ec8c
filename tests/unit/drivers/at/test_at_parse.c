/* Reply parsers, table-driven, each case named after the modem (or spec
 * example) whose reply it reproduces. Sources: ModemManager
 * src/tests/test-modem-helpers.c (CREG/CGREG/CEREG, ICCID), gammu issue
 * logs (#138, #408, #438), mbed-os #14510, REFERENCE.md. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "drivers/at/at_parse.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void test_reg(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        const char *line;
        int rc;
        bool urc;
        int n, stat;
        bool has_lac;
        uint32_t lac, ci;
        int act;
    } cases[] = {
        {"CREG=1 solicited", "+CREG: 1,3", 0, false, 1, 3, false, 0, 0, -1},
        {"CREG=1 unsolicited", "+CREG: 3", 0, true, -1, 3, false, 0, 0, -1},
        {"Sierra Mercury CREG=2 solicited", "+CREG: 1,1,84CD,00D30173", 0, false, 1, 1, true,
         0x84cd, 0xd30173, -1},
        {"Sierra Mercury CREG=2 unsolicited", "+CREG: 1,84CD,00D30156", 0, true, -1, 1, true,
         0x84cd, 0xd30156, -1},
        {"Sony Ericsson K850i CREG=2 solicited", "+CREG: 2,1,\"CE00\",\"01CEAD8F\"", 0, false, 2,
         1, true, 0xce00, 0x01cead8f, -1},
        {"Sony Ericsson K850i CREG=2 unsolicited", "+CREG: 1,\"CE00\",\"00005449\"", 0, true, -1,
         1, true, 0xce00, 0x5449, -1},
        {"Huawei E160G unregistered", "+CREG: 2,0,00,0", 0, false, 2, 0, true, 0, 0, -1},
        {"Huawei E160G CREG=2 solicited", "+CREG: 2,1,8BE3,2BAF", 0, false, 2, 1, true, 0x8be3,
         0x2baf, -1},
        {"Huawei E160G CREG=2 unsolicited", "+CREG: 1,8BE3,2BAF", 0, true, -1, 1, true, 0x8be3,
         0x2baf, -1},
        {"Iridium leading zeros, no space", "+CREG:002,001,\"18d8\",\"ffff\"", 0, false, 2, 1,
         true, 0x18d8, 0xffff, -1},
        {"unsolicited, unquoted, no leading zeros", "+CREG: 1,0001,0010,0", 0, true, -1, 1,
         true, 1, 0x10, 0},
        {"u-blox TOBY-L2 on LTE, SMS only", "+CREG: 2,6,\"8B37\",\"0A265185\",7", 0, false, 2, 6,
         true, 0x8b37, 0x0a265185, 7},
        {"u-blox TOBY-L2 unsolicited", "+CREG: 6,\"8B37\",\"0A265185\",7", 0, true, -1, 6, true,
         0x8b37, 0x0a265185, 7},
        {"Novatel XU870 unregistered URC", "+CREG: 2,,", 0, true, -1, 2, false, 0, 0, -1},
        {"Samsung S8500 junk AcT ignored", "+CREG: 2,1,000B,2816, B, C2816", 0, false, 2, 1,
         true, 0xb, 0x2816, -1},
        {"SIM800 CREG URC with LAC/CI", "+CREG: 1,\"1F4C\",\"C5C1\"", 0, true, -1, 1, true,
         0x1f4c, 0xc5c1, -1},
        {"Ericsson F3607gw CGREG=2", "+CGREG: 2,1,\"8BE3\",\"00002B5D\",3", 0, false, 2, 1, true,
         0x8be3, 0x2b5d, 3},
        {"CGREG URC with RAC", "+CGREG: 1,\"1422\",\"00000142\",3,\"00\"", 0, true, -1, 1, true,
         0x1422, 0x142, 3},
        {"Sony-Ericsson MD400 CGREG roaming URC", "+CGREG: 5,\"0502\",\"0404736D\",2", 0, true,
         -1, 5, true, 0x502, 0x0404736d, 2},
        {"Thuraya spaces around quotes", "+CGREG: 2, 1, \"0426\", \"F00F\"", 0, false, 2, 1, true,
         0x426, 0xf00f, -1},
        {"CEREG=2 random spaces", "+CEREG: 2,1, 1F00, 79D903 ,7", 0, false, 2, 1, true, 0x1f00,
         0x79d903, 7},
        {"Altair LTE searching", "+CEREG: 1, 2, 0001, 00000100, 7", 0, false, 1, 2, true, 1,
         0x100, 7},
        {"u-blox SARA-R500S not registered (mbed-os #14510)", "+CEREG: 2,0", 0, false, 2, 0,
         false, 0, 0, -1},
        {"EC25 CEREG roaming", "+CEREG: 2,5,\"2B5C\",\"0A1B2C03\",7", 0, false, 2, 5, true,
         0x2b5c, 0x0a1b2c03, 7},
        {"EC25 CEREG roaming URC", "+CEREG: 5,\"2B5C\",\"0A1B2C03\",7", 0, true, -1, 5, true,
         0x2b5c, 0x0a1b2c03, 7},
        {"stat out of range", "+CREG: 2,11", -ERANGE, false, 0, 0, false, 0, 0, -1},
        {"not a registration line", "+CSQ: 17,0", -EINVAL, false, 0, 0, false, 0, 0, -1},
        {"empty", "+CREG:", -EINVAL, false, 0, 0, false, 0, 0, -1},
    };
    for (size_t i = 0; i < N(cases); i++) {
        struct at_reg r;
        int rc = at_parse_reg(cases[i].line, &r);
        if (rc != cases[i].rc)
            fail_msg("%s: rc %d", cases[i].name, rc);
        if (rc < 0)
            continue;
        if (r.urc != cases[i].urc || r.n != cases[i].n || r.stat != cases[i].stat ||
            r.has_lac != cases[i].has_lac || r.lac != cases[i].lac || r.ci != cases[i].ci ||
            r.act != cases[i].act)
            fail_msg("%s: urc %d n %d stat %d lac %d/%x ci %x act %d", cases[i].name, r.urc, r.n,
                     r.stat, r.has_lac, r.lac, r.ci, r.act);
    }
}

static void test_reg_explicit_forms(void **state)
{
    (void)state;
    struct at_reg r;
    /* The explicit parsers force the form: "+CREG: 1,5" is n=1 roaming as a
     * read reply, and invalid as a URC (a lone lac without ci). */
    assert_int_equal(at_parse_creg_read("+CREG: 1,5", &r), 0);
    assert_int_equal(r.stat, AT_REG_ROAMING);
    assert_true(at_reg_is_roaming(r.stat));
    assert_true(at_reg_is_registered(r.stat));
    assert_int_equal(at_parse_creg_urc("+CREG: 1,5", &r), -EINVAL);
    assert_int_equal(at_parse_cgreg_urc("+CGREG: 0", &r), 0);
    assert_false(at_reg_is_registered(r.stat));
    assert_string_equal(r.cmd, "CGREG");
    assert_int_equal(at_parse_cereg_read("+CREG: 2,1", &r), -EINVAL);
    assert_int_equal(at_parse_cereg_urc("+CEREG: 1,\"1F00\",\"79D903\",7", &r), 0);
    assert_int_equal(at_parse_cgreg_read("+CGREG: 2,1,\"8BE3\",\"00002B5D\",3,\"01\"", &r), 0);
    assert_int_equal(r.act, 3);
    assert_string_equal(at_reg_stat_name(AT_REG_DENIED), "denied");
}

static void test_csq(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        const char *line;
        int rc, rssi, ber;
        bool has_dbm;
        int dbm;
        enum at_signal_band band;
    } cases[] = {
        {"SIM800 typical", "+CSQ: 17,0", 0, 17, 0, true, -79, AT_SIGNAL_GOOD},
        {"Wavecom Q2406B (Sierra forum)", "+CSQ: 26,99", 0, 26, 99, true, -61,
         AT_SIGNAL_EXCELLENT},
        {"u-blox SARA-R500S no signal (mbed-os #14510)", "+CSQ: 99,99", 0, 99, 99, false, 0,
         AT_SIGNAL_UNKNOWN},
        {"rssi 0 is -113 or less", "+CSQ: 0,0", 0, 0, 0, true, -113, AT_SIGNAL_MARGINAL},
        {"rssi 31 is -51 or more", "+CSQ: 31,7", 0, 31, 7, true, -51, AT_SIGNAL_EXCELLENT},
        {"band edge -95 marginal", "+CSQ: 9,0", 0, 9, 0, true, -95, AT_SIGNAL_MARGINAL},
        {"band edge -93 workable", "+CSQ: 10,0", 0, 10, 0, true, -93, AT_SIGNAL_WORKABLE},
        {"band edge -85 workable", "+CSQ: 14,0", 0, 14, 0, true, -85, AT_SIGNAL_WORKABLE},
        {"band edge -75 good", "+CSQ: 19,0", 0, 19, 0, true, -75, AT_SIGNAL_GOOD},
        {"band edge -73 excellent", "+CSQ: 20,0", 0, 20, 0, true, -73, AT_SIGNAL_EXCELLENT},
        {"rssi 32 invalid", "+CSQ: 32,0", -ERANGE, 0, 0, false, 0, AT_SIGNAL_UNKNOWN},
        {"one field", "+CSQ: 17", -EINVAL, 0, 0, false, 0, AT_SIGNAL_UNKNOWN},
        {"garbage", "+CSQ: a,b", -EINVAL, 0, 0, false, 0, AT_SIGNAL_UNKNOWN},
    };
    for (size_t i = 0; i < N(cases); i++) {
        struct at_csq q;
        int rc = at_parse_csq(cases[i].line, &q);
        if (rc != cases[i].rc)
            fail_msg("%s: rc %d", cases[i].name, rc);
        if (rc < 0)
            continue;
        if (q.rssi != cases[i].rssi || q.ber != cases[i].ber || q.has_dbm != cases[i].has_dbm ||
            (q.has_dbm && q.dbm != cases[i].dbm) || q.band != cases[i].band)
            fail_msg("%s: rssi %d dbm %d band %s", cases[i].name, q.rssi, q.dbm,
                     at_signal_band_name(q.band));
    }
}

static void test_cpin(void **state)
{
    (void)state;
    static const struct {
        const char *line;
        int rc;
        enum at_cpin want;
    } cases[] = {
        {"+CPIN: READY", 0, AT_CPIN_READY},
        {"+CPIN: SIM PIN", 0, AT_CPIN_SIM_PIN},
        {"+CPIN: SIM PUK", 0, AT_CPIN_SIM_PUK},
        {"+CPIN: PH-SIM PIN", 0, AT_CPIN_PH_SIM_PIN},
        {"+CPIN: SIM PIN2", 0, AT_CPIN_SIM_PIN2},
        {"+CPIN: NOT INSERTED", 0, AT_CPIN_NOT_INSERTED},   /* SIM800 URC */
        {"+CPIN: NOT READY", 0, AT_CPIN_NOT_READY},
        {"+CPIN: \"READY\"", 0, AT_CPIN_READY},             /* some Qualcomm quote it */
        {"+CPIN: CORPORATE PIN", 0, AT_CPIN_OTHER},
        {"+CPIN:", -EINVAL, AT_CPIN_READY},
        {"+CPMS: 1", -EINVAL, AT_CPIN_READY},
    };
    for (size_t i = 0; i < N(cases); i++) {
        enum at_cpin c = AT_CPIN_READY;
        int rc = at_parse_cpin(cases[i].line, &c);
        if (rc != cases[i].rc || (rc == 0 && c != cases[i].want))
            fail_msg("%s: rc %d code %s", cases[i].line, rc, at_cpin_name(c));
    }
}

static void test_cpms(void **state)
{
    (void)state;
    struct at_cpms p;
    /* gammu #408: set form after AT+CPMS="ME" */
    assert_int_equal(at_parse_cpms("+CPMS: 0,255,0,255,0,255", &p), 0);
    assert_int_equal(p.nmem, 3);
    assert_int_equal(p.m[0].total, 255);
    assert_string_equal(p.m[0].mem, "");
    /* gammu #438 */
    assert_int_equal(at_parse_cpms("+CPMS: 0,20,0,20,0,20", &p), 0);
    assert_int_equal(p.m[2].total, 20);
    /* read form, REFERENCE §1.3 */
    assert_int_equal(at_parse_cpms("+CPMS: \"SM\",3,30,\"SM\",3,30,\"SM\",3,30", &p), 0);
    assert_int_equal(p.nmem, 3);
    assert_string_equal(p.m[1].mem, "SM");
    assert_int_equal(p.m[1].used, 3);
    assert_int_equal(p.m[1].total, 30);
    /* EC25 status-report memory */
    assert_int_equal(at_parse_cpms("+CPMS: \"ME\",0,255,\"ME\",0,255,\"SR\",1,100", &p), 0);
    assert_string_equal(p.m[2].mem, "SR");
    assert_int_equal(at_parse_cpms("+CPMS: 1,2,3", &p), -EINVAL);
    assert_int_equal(at_parse_cpms("+CPMS: (\"SM\",\"ME\"),(\"SM\")", &p), -EINVAL);
}

static void test_sms_lines(void **state)
{
    (void)state;
    int mr = -1, len = -1;
    char alpha[AT_ALPHA_MAX];
    struct at_mem_index mi;
    struct at_cmgr r;
    struct at_cmgl l;

    assert_int_equal(at_parse_cmgs("+CMGS: 47", &mr), 0);
    assert_int_equal(mr, 47);
    assert_int_equal(at_parse_cmgs("+CMGS: 255,\"21/06/01,10:00:00+08\"", &mr), 0);
    assert_int_equal(mr, 255);
    assert_int_equal(at_parse_cmgs("+CMGS: 256", &mr), -ERANGE);
    assert_int_equal(at_parse_cmgs("+CMGS:", &mr), -EINVAL);

    assert_int_equal(at_parse_cmti("+CMTI: \"SM\",3", &mi), 0);
    assert_string_equal(mi.mem, "SM");
    assert_int_equal(mi.index, 3);
    /* Huawei has sent an index of -1 (REFERENCE §3) */
    assert_int_equal(at_parse_cmti("+CMTI: \"SM\",-1", &mi), 0);
    assert_int_equal(mi.index, -1);
    assert_int_equal(at_parse_cmti("+CMTI: \"SM\"", &mi), -EINVAL);
    assert_int_equal(at_parse_cdsi("+CDSI: \"SR\",0", &mi), 0);
    assert_string_equal(mi.mem, "SR");

    assert_int_equal(at_parse_cmt_header("+CMT: ,27", &len, alpha, sizeof(alpha)), 0);
    assert_int_equal(len, 27);
    assert_string_equal(alpha, "");
    assert_int_equal(at_parse_cmt_header("+CMT: \"Mom\",24", &len, alpha, sizeof(alpha)), 0);
    assert_string_equal(alpha, "Mom");
    /* text-mode +CMT is not ours */
    assert_int_equal(at_parse_cmt_header("+CMT: \"+4917\",,\"21/01/01,00:00:00+04\"", &len, alpha,
                                         sizeof(alpha)),
                     -EINVAL);

    assert_int_equal(at_parse_cds_header("+CDS: 24", &len), 0);   /* MM test_parse_cds */
    assert_int_equal(len, 24);
    assert_int_equal(at_parse_cds_header("+CDS: ,25", &len), 0);  /* ZTE */
    assert_int_equal(len, 25);
    assert_int_equal(at_parse_cds_header("+CDS: 6,46,\"+4917\",145", &len), -EINVAL);

    assert_int_equal(at_parse_cmgr_header("+CMGR: 0,\"\",27", &r), 0);
    assert_int_equal(r.stat, 0);
    assert_int_equal(r.length, 27);
    assert_int_equal(at_parse_cmgr_header("+CMGR: 1,,24", &r), 0);
    assert_int_equal(r.stat, 1);
    assert_int_equal(at_parse_cmgr_header("+CMGR: 0,,0", &r), 0);   /* empty slot */
    assert_int_equal(r.length, 0);

    assert_int_equal(at_parse_cmgl_header("+CMGL: 2,1,,24", &l), 0);
    assert_int_equal(l.index, 2);
    assert_int_equal(l.stat, 1);
    assert_int_equal(l.length, 24);
    /* SIM800 text-mode listing (esphome #4246) is rejected in PDU mode */
    assert_int_equal(
        at_parse_cmgl_header("+CMGL: 96,\"REC READ\",\"Play\",\"\",\"23/02/09,13:07:04+04\"", &l),
        -EINVAL);
}

static void test_clcc_cops(void **state)
{
    (void)state;
    struct at_clcc c;
    struct at_cops o;

    assert_int_equal(at_parse_clcc("+CLCC: 1,0,3,0,0,\"+491701234567\",145,\"\"", &c), 0);
    assert_int_equal(c.id, 1);
    assert_int_equal(c.dir, 0);
    assert_int_equal(c.stat, 3);   /* alerting */
    assert_string_equal(c.number, "+491701234567");
    assert_int_equal(c.type, 145);
    /* EC25 polled, no alpha */
    assert_int_equal(at_parse_clcc("+CLCC: 1,1,4,0,0,\"10086\",129", &c), 0);
    assert_int_equal(c.dir, 1);
    assert_int_equal(c.stat, 4);
    assert_int_equal(c.type, 129);
    /* SIMCom disconnected state 6, number withheld */
    assert_int_equal(at_parse_clcc("+CLCC: 2,1,6,0,0", &c), 0);
    assert_string_equal(c.number, "");
    assert_int_equal(c.type, -1);
    assert_int_equal(at_parse_clcc("+CLCC: 1,0,9,0,0", &c), -ERANGE);

    assert_int_equal(at_parse_cops("+COPS: 0,0,\"Vodafone.de\",7", &o), 0);
    assert_string_equal(o.oper, "Vodafone.de");
    assert_int_equal(o.act, 7);
    assert_int_equal(at_parse_cops("+COPS: 0,2,\"26202\",2", &o), 0);
    assert_int_equal(o.format, 2);
    assert_int_equal(at_parse_cops("+COPS: 0", &o), 0);   /* not registered */
    assert_string_equal(o.oper, "");
    assert_int_equal(o.format, -1);
    /* Huawei E160G scan (test form) is not the read form */
    assert_int_equal(at_parse_cops("+COPS: (2,\"T-Mobile\",\"TMO\",\"31026\",0),(1,\"AT&T\",\"AT&T\","
                                   "\"310410\",0),,(0,1,2,3,4),(0,1,2)",
                                   &o),
                     -EINVAL);
}

static void test_identity(void **state)
{
    (void)state;
    char v[64];
    static const struct {
        const char *name;
        int (*fn)(const char *, char *, size_t);
        const char *line;
        int rc;
        const char *want;
    } cases[] = {
        {"Huawei E173 CGMI (wammu #44)", at_parse_cgmi, "huawei", 0, "huawei"},
        {"Huawei E173 CGMM (wammu #44)", at_parse_cgmm, "E173", 0, "E173"},
        {"SIM800 CGMI", at_parse_cgmi, "SIMCOM_Ltd", 0, "SIMCOM_Ltd"},
        {"prefixed CGMI", at_parse_cgmi, "+CGMI: \"Quectel\"", 0, "Quectel"},
        {"SIM800 CGMR", at_parse_cgmr, "Revision:1418B04SIM800L24", 0, "1418B04SIM800L24"},
        {"EC25 CGMR", at_parse_cgmr, "Revision: EC25EFAR06A06M4G", 0, "EC25EFAR06A06M4G"},
        {"Wavecom CGMR (gammu #832)", at_parse_cgmr, "641b09gg.Q2403A 1320676 061804 14:38", 0,
         "641b09gg.Q2403A 1320676 061804 14:38"},
        {"IMEI bare", at_parse_cgsn, "866192037751234", 0, "866192037751234"},
        {"IMEI prefixed and quoted", at_parse_cgsn, "+CGSN: \"866192037751234\"", 0,
         "866192037751234"},
        {"IMEI with letters", at_parse_cgsn, "86619203775123X", -EINVAL, ""},
        {"IMSI", at_parse_cimi, "262011234567890", 0, "262011234567890"},
        {"IMSI too long", at_parse_cimi, "2620112345678901", -EINVAL, ""},
        {"ICCID quoted swapped 19 digits (MM)", at_parse_ccid, "\"984402003576012594F9\"", 0,
         "8944200053671052499"},
        {"ICCID unquoted swapped 20 digits (MM)", at_parse_ccid, "98231420326409614067", 0,
         "89324102234690160476"},
        {"ICCID unswapped with F pad (MM)", at_parse_ccid, "8944200053671052499F", 0,
         "8944200053671052499"},
        {"ICCID China Unicom hex account (MM)", at_parse_ccid, "\"898602F9091830030220\"", 0,
         "898602F9091830030220"},
        {"Huawei ^ICCID swapped", at_parse_ccid, "^ICCID: 98231420326409614067", 0,
         "89324102234690160476"},
        {"SIM7600 +ICCID", at_parse_ccid, "+ICCID: 89324102234690160476", 0,
         "89324102234690160476"},
        {"SIM800 +CCID", at_parse_ccid, "+CCID: 8944200053671052499F", 0, "8944200053671052499"},
        {"EC25 +QCCID", at_parse_ccid, "+QCCID: 89324102234690160476", 0,
         "89324102234690160476"},
        {"ICCID too short (MM)", at_parse_ccid, "982314203264096", -EINVAL, ""},
        {"ICCID bad chars (MM)", at_parse_ccid, "98231420326pl9614067", -EINVAL, ""},
        {"ICCID bad MII (MM)", at_parse_ccid, "\"0044200053671052499\"", -EINVAL, ""},
    };
    for (size_t i = 0; i < N(cases); i++) {
        v[0] = '\0';
        int rc = cases[i].fn(cases[i].line, v, sizeof(v));
        if (rc != cases[i].rc || (rc == 0 && strcmp(v, cases[i].want) != 0))
            fail_msg("%s: rc %d '%s'", cases[i].name, rc, v);
    }
    assert_int_equal(at_parse_cgmm("E173", v, 4), -ERANGE);
}

static void test_cnum_csca(void **state)
{
    (void)state;
    struct at_cnum n;
    struct at_csca c;

    assert_int_equal(at_parse_cnum("+CNUM: \"\",\"+491701234567\",145", &n), 0);
    assert_string_equal(n.number, "+491701234567");
    assert_int_equal(n.type, 145);
    assert_int_equal(at_parse_cnum("+CNUM: \"Own\",\"01701234567\",129", &n), 0);
    assert_string_equal(n.alpha, "Own");
    assert_int_equal(at_parse_cnum("+CNUM: ,\"\",129", &n), -EINVAL);

    assert_int_equal(at_parse_csca("+CSCA: \"+491710760000\",145", &c), 0);
    assert_string_equal(c.number, "+491710760000");
    assert_int_equal(c.type, 145);
    /* Huawei with CSCS="UCS2": the number comes as UCS2 hex */
    assert_int_equal(at_parse_csca("+CSCA: \"002B0034003900310037003100300037003600300030"
                                   "00300030\",145",
                                   &c),
                     0);
    assert_string_equal(c.number, "+491710760000");
    assert_int_equal(at_parse_csca("+CSCA: \"\",129", &c), 0);   /* SIM without SMSC */
    assert_string_equal(c.number, "");
}

static void test_finals(void **state)
{
    (void)state;
    static const struct {
        const char *line;
        bool is;
        enum at_final final;
        int code;
        bool call_only;
    } cases[] = {
        {"OK", true, AT_FINAL_OK, -1, false},
        {"ERROR", true, AT_FINAL_ERROR, -1, false},
        {"+CMS ERROR: 500", true, AT_FINAL_CMS_ERROR, 500, false},
        {"+CMS ERROR: memory full", true, AT_FINAL_CMS_ERROR, 322, false},
        {"+CME ERROR: 14", true, AT_FINAL_CME_ERROR, 14, false},
        {"+CME ERROR: incorrect password", true, AT_FINAL_CME_ERROR, 16, false},
        {"+CME ERROR: SIM PIN required", true, AT_FINAL_CME_ERROR, 11, false},
        {"+CME ERROR: Network not allowed - emergency calls only.", true, AT_FINAL_CME_ERROR,
         32, false},
        {"COMMAND NOT SUPPORT", true, AT_FINAL_ERROR, -1, false},
        {"TOO MANY PARAMETERS", true, AT_FINAL_ERROR, -1, false},
        {"NO CARRIER", true, AT_FINAL_NO_CARRIER, -1, true},
        {"NO DIAL TONE", true, AT_FINAL_NO_DIALTONE, -1, true},
        {"CONNECT", true, AT_FINAL_CONNECT, -1, true},
        {"CONNECT 115200", true, AT_FINAL_CONNECT, -1, true},
        {"CONNECTED", false, AT_FINAL_OK, -1, false},
        {"OK ", false, AT_FINAL_OK, -1, false},
        {"+CMGS: 5", false, AT_FINAL_OK, -1, false},
        {"ERRORS", false, AT_FINAL_OK, -1, false},
    };
    for (size_t i = 0; i < N(cases); i++) {
        enum at_final f = AT_FINAL_OK;
        int code = -2;
        bool call = false;
        bool is = at_parse_final(cases[i].line, &f, &code, &call);
        if (is != cases[i].is)
            fail_msg("%s: is %d", cases[i].line, is);
        if (is && (f != cases[i].final || code != cases[i].code || call != cases[i].call_only))
            fail_msg("%s: %s code %d call %d", cases[i].line, at_final_name(f), code, call);
    }
}

static void test_error_classes(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        bool cms;
        int code;
        const char *vendor;
        enum at_err_class want;
    } cases[] = {
        {"CMS 42 congestion", true, 42, NULL, AT_ERR_RETRY_SOON},
        {"CMS 192 SC busy", true, 192, "sim800", AT_ERR_RETRY_SOON},
        {"CMS 314 SIM busy", true, 314, "ec25", AT_ERR_RETRY_SOON},
        {"CMS 332 network timeout", true, 332, NULL, AT_ERR_RETRY_SOON},
        {"CMS 515 init in progress", true, 515, "huawei", AT_ERR_RETRY_SOON},
        {"CMS 27 destination out of service", true, 27, NULL, AT_ERR_RETRY_LATER},
        {"CMS 331 no network", true, 331, "sim800", AT_ERR_RETRY_LATER},
        {"CMS 500 unknown (gammu #438)", true, 500, "huawei", AT_ERR_RETRY_LATER},
        {"CMS 512 generic: smstools3 transient", true, 512, NULL, AT_ERR_RETRY_LATER},
        {"CMS 512 Siemens: user abort", true, 512, "siemens", AT_ERR_RETRY_SOON},
        {"CMS 532 Siemens: SIM not ready", true, 532, "siemens", AT_ERR_RETRY_LATER},
        {"CMS 549 Siemens: bad PDU length", true, 549, "siemens", AT_ERR_PERMANENT},
        {"CMS 549 generic: unknown", true, 549, "ec25", AT_ERR_UNKNOWN},
        {"CMS 1 unassigned number", true, 1, NULL, AT_ERR_PERMANENT},
        {"CMS 29 facility rejected", true, 29, NULL, AT_ERR_PERMANENT},
        {"CMS 144 DCS error", true, 144, NULL, AT_ERR_PERMANENT},
        {"CMS 195 invalid SME address", true, 195, NULL, AT_ERR_PERMANENT},
        {"CMS 198 VPF unsupported", true, 198, NULL, AT_ERR_PERMANENT},
        {"CMS 304 invalid PDU", true, 304, "sim800", AT_ERR_PERMANENT},
        {"CMS 310 no SIM", true, 310, NULL, AT_ERR_PERMANENT},
        {"CMS 330 SMSC unknown", true, 330, NULL, AT_ERR_PERMANENT},
        {"CMS 197 duplicate", true, 197, NULL, AT_ERR_SPECIAL_DUPLICATE},
        {"CMS 322 memory full", true, 322, NULL, AT_ERR_SPECIAL_MEMFULL},
        {"EC25 CMS 340 on a second CNMA", true, 340, "ec25", AT_ERR_IGNORE},
        {"CMS 17 not in the table", true, 17, NULL, AT_ERR_UNKNOWN},
        {"CMS -1", true, -1, NULL, AT_ERR_UNKNOWN},
        {"CME 10 no SIM", false, 10, NULL, AT_ERR_PERMANENT},
        {"CME 11 PIN required", false, 11, NULL, AT_ERR_PERMANENT},
        {"CME 14 SIM busy", false, 14, NULL, AT_ERR_RETRY_SOON},
        {"CME 16 wrong PIN", false, 16, NULL, AT_ERR_PERMANENT},
        {"CME 30 no network", false, 30, NULL, AT_ERR_RETRY_LATER},
        {"CME 515 init in progress", false, 515, "ec25", AT_ERR_RETRY_SOON},
        {"CME 100 unknown", false, 100, NULL, AT_ERR_RETRY_LATER},
    };
    for (size_t i = 0; i < N(cases); i++) {
        enum at_err_class c = cases[i].cms ? at_cms_class(cases[i].code, cases[i].vendor)
                                           : at_cme_class(cases[i].code, cases[i].vendor);
        if (c != cases[i].want)
            fail_msg("%s: %s, want %s", cases[i].name, at_err_class_name(c),
                     at_err_class_name(cases[i].want));
    }
}

static void test_fields(void **state)
{
    (void)state;
    struct at_fields fs;
    assert_int_equal(at_parse_fields("1,\"a,b\",,  x  ", &fs), 0);
    assert_int_equal(fs.n, 4);
    assert_true(fs.f[1].quoted);
    assert_int_equal(fs.f[1].len, 3);
    assert_int_equal(fs.f[2].len, 0);
    assert_int_equal(fs.f[3].len, 1);
    assert_int_equal(at_parse_fields("\"open", &fs), -EINVAL);
    assert_int_equal(at_parse_fields("\"a\"b", &fs), -EINVAL);
    assert_int_equal(at_parse_fields("", &fs), 0);
    assert_int_equal(fs.n, 0);
    assert_int_equal(at_parse_fields(",,,,,,,,,,,,,,,,,,,,,,,,,,", &fs), -ERANGE);
    assert_null(at_parse_after("+CSQ: 1", "+CREG:"));
    assert_string_equal(at_parse_after("+CSQ:   1", "+CSQ:"), "1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reg),
        cmocka_unit_test(test_reg_explicit_forms),
        cmocka_unit_test(test_csq),
        cmocka_unit_test(test_cpin),
        cmocka_unit_test(test_cpms),
        cmocka_unit_test(test_sms_lines),
        cmocka_unit_test(test_clcc_cops),
        cmocka_unit_test(test_identity),
        cmocka_unit_test(test_cnum_csca),
        cmocka_unit_test(test_finals),
        cmocka_unit_test(test_error_classes),
        cmocka_unit_test(test_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
