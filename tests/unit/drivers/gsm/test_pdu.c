/* SMS PDUs: every vector of shared/REFERENCE.md §5 (oFono unit/test-sms.c,
 * ModemManager test-sms-part-3gpp.c / test-modem-helpers.c, python-gsmmodem
 * test/test_pdu.py), encoders for SUBMIT / DELIVER / STATUS-REPORT, and
 * hostile input for the decoder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/gsm/pdu.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------ decode vectors */

struct decode_case {
    const char *name;
    const char *hex;
    enum pdu_direction dir;
    int tpdu_len;
    enum pdu_type type;
    const char *smsc;
    const char *number;
    uint8_t toa;
    const char *text;     /* NULL: do not check */
    const char *encoding; /* NULL: no DCS */
    const char *scts;     /* NULL: none */
    int mr;               /* -1: do not check */
    int st;               /* -1: not a report */
    enum pdu_st_class st_class;
    int concat_ref; /* -1: no concat IE */
    int total, seq;
    bool ref16;
    int pid;
};

static const char mm_multi1[] =
    "07912160130320F5440B916171056429F5000021405291650569A00500034C0201A9E8F41C949E"
    "83C2207B599E07B1DFEE33885E9ED341E4F23C7D7697C920FA1B54C697E5E3F4BC0C6AD7D9F434"
    "081E96D341E3303C2C4EB3D3F4BC0B94A483E6E8779D4D06CDD1EF3BA80E0785E7A0B7BB0C6A97"
    "E7F3F0B9CC02B9DF7450780EA2DFDF2C50780EA2A3CBA0BA9B5C96B3F369F71954768FDFE4B4FB"
    "0C9297E1F2F2BCECA6CF41";
static const char mm_multi2[] =
    "07912160130320F6440B916171056429F5000021405291651569320500034C0202E9E8301D4447"
    "9741F0B09C3E0785E56590BCCC0ED3CB6410FD0D7ABBCBA0B0FB4D4797E52E10";
static const char mm_udhi[] =
    "07911356131313F64004850120390011609232239180A006080400100201D7327BFD6EB340E232"
    "1BF46E83EA7790F59D1E97DBE1341B442F83C465763D3DA797E56537C81D0ECB41AB59CC1693C1"
    "6031D96C064241E5656838AF03A96230982A269BCD462917C8FA4E8FCBED709A0D7ABBE9F6B0FB"
    "5C7683D27350984D4FABC9A0B33C4C4FCF5D20EBFB2D079DCB62793DBD06D9C36E50FB2D4E97D9"
    "A0B49B5E96BBCB";
static const char pgm_megafon[] =
    "07919762020033F1400DD0CDF2396C7EBB010008415072411084618C0500035602010053004D0053"
    "00200063006F00640065003A00200034003800350036002C00200063006F006E006600690072006D"
    "006100740069006F006E0020006F00660020006100730073006F00630069006100740069006F006E"
    "0020006200650074007700650065006E0020006100630063006F0075006E007400200061006E0064"
    "0020004D00650067";

static const struct decode_case decode_cases[] = {
    {"oFono simple_submit: hellohello, VP 4 days",
     "0011000B916407281553F80000AA0AE8329BFD4697D9EC37", PDU_DIR_OUT, 23, PDU_SUBMIT, "",
     "+46708251358", 0x91, "hellohello", "gsm7", NULL, 0, -1, 0, -1, 0, 0, false, 0},
    {"oFono expected_no_fragmentation_7bit, SMSC, 24 h",
     "079153485002020911000C915348870420140000A71154747A0E4ACF41F4F29C9E769F4121", PDU_DIR_OUT, 29,
     PDU_SUBMIT, "+358405202090", "+358478400241", 0x91, "This is testing !", "gsm7", NULL, 0, -1,
     0, -1, 0, 0, false, 0},
    {"MM test_create_pdu_ucs2_with_smsc",
     "07919130079229F011000B915155551532F40008003A041404300020043704340440043004320441044204"
     "320443043504420020043A043E0440043E043B044C002C0020043404350442043A04300021",
     PDU_DIR_OUT, 72, PDU_SUBMIT, "+19037029920", "+15555551234", 0x91,
     "Да здравствует король, детка!", "ucs2", NULL, 0, -1, 0, -1, 0, 0, false, 0},
    {"MM test_pdu_multipart part 1/2, 8-bit ref 0x4C", mm_multi1, PDU_DIR_IN, -1, PDU_DELIVER,
     "+12063130025", "+16175046925", 0x91,
     "This is a very long test designed to exercise multi part capability. It should show up "
     "as one message, not as two, as the underlying encoding represents ",
     "gsm7", "2012-04-25T19:56:50-04:00", -1, -1, 0, 0x4C, 2, 1, false, 0},
    {"MM test_pdu_multipart part 2/2", mm_multi2, PDU_DIR_IN, -1, PDU_DELIVER, "+12063130026",
     "+16175046925", 0x91, "that the parts are related to one another. ", "gsm7",
     "2012-04-25T19:56:51-04:00", -1, -1, 0, 0x4C, 2, 2, false, 0},
    {"MM test_pdu_udhi: KPN, 16-bit ref, OA 1002 TOA 0x85, PID 0x39", mm_udhi, PDU_DIR_IN, -1,
     PDU_DELIVER, "+31653131316", "1002", 0x85,
     "Welkom, bel om uw Voicemail te beluisteren naar +31612001233 (PrePay: *100*1233#). "
     "Voicemail ontvangen is altijd gratis. Voor gebruik van mobiel interne",
     "gsm7", "2011-06-29T23:32:19+02:00", -1, -1, 0, 0x0010, 2, 1, true, 0x39},
    {"oFono alnum_sender: sipgate",
     "0791447758100650040DD0F334FC1CA6970100008080312170224008D4F29CDE0EA7D9", PDU_DIR_IN, -1,
     PDU_DELIVER, "+447785016005", "sipgate", 0xD0, "Testmail", "gsm7", "2008-08-13T12:07:22+01:00",
     -1, -1, 0, -1, 0, 0, false, 0},
    {"oFono alnum_sender with +CMT length 27",
     "0791447758100650040DD0F334FC1CA6970100008080312170224008D4F29CDE0EA7D9", PDU_DIR_IN, 27,
     PDU_DELIVER, "+447785016005", "sipgate", 0xD0, "Testmail", "gsm7", "2008-08-13T12:07:22+01:00",
     -1, -1, 0, -1, 0, 0, false, 0},
    {"MM test_pdu2: InternetSMS, UCS-2",
     "07919730071111F10414D04937BD2C7797E9D3E614000811309291024061080442043504410442", PDU_DIR_IN,
     -1, PDU_DELIVER, "+79037011111", "InternetSMS", 0xD0, "тест", "ucs2",
     "2011-03-29T19:20:04+04:00", -1, -1, 0, -1, 0, 0, false, 0},
    {"PGM test_decode: Megafon, UCS-2 concat 1/2", pgm_megafon, PDU_DIR_IN, -1, PDU_DELIVER,
     "+79262000331", "Megafon", 0xD0,
     "SMS code: 4856, confirmation of association between account and Meg", "ucs2",
     "2014-05-27T14:01:48+04:00", -1, -1, 0, 0x56, 2, 1, false, 0},
    {"MM test_parse_cds: +CDS: 24, ST 0x30",
     "07914356060013F1065A098136395339F6219011700463802190117004638030", PDU_DIR_IN, 24,
     PDU_STATUS_REPORT, "+34656000311", "639335936", 0x81, NULL, NULL, "2012-09-11T07:40:36+02:00",
     90, 0x30, PDU_ST_TEMPORARY, -1, 0, 0, false, 0},
    {"MM test_parse_cds without the length",
     "07914356060013F1065A098136395339F6219011700463802190117004638030", PDU_DIR_IN, -1,
     PDU_STATUS_REPORT, "+34656000311", "639335936", 0x81, NULL, NULL, "2012-09-11T07:40:36+02:00",
     90, 0x30, PDU_ST_TEMPORARY, -1, 0, 0, false, 0},
    {"PGM status report, empty SMSC", "0006D60B911326880736F4111011719551401110117195714000",
     PDU_DIR_IN, -1, PDU_STATUS_REPORT, "", "+31628870634", 0x91, NULL, NULL,
     "2011-01-11T17:59:15+01:00", 214, 0, PDU_ST_DELIVERED, -1, 0, 0, false, 0},
    {"oFono test_sr_assembly: no SMSC field at all",
     "06040D91945152991136F00160124130340A0160124130940A00", PDU_DIR_IN, -1, PDU_STATUS_REPORT, "",
     "+4915259911630", 0x91, NULL, NULL, "2010-06-21T14:03:43-05:00", 4, 0, PDU_ST_DELIVERED, -1, 0,
     0, false, 0},
    {"oFono test_sr_assembly with length 26",
     "06040D91945152991136F00160124130340A0160124130940A00", PDU_DIR_IN, 26, PDU_STATUS_REPORT, "",
     "+4915259911630", 0x91, NULL, NULL, "2010-06-21T14:03:43-05:00", 4, 0, PDU_ST_DELIVERED, -1, 0,
     0, false, 0},
    {"PGM absolute validity period (VPF 11) is skipped",
     "0019000B917228001011F100003170013193008017D474BB3CA787DB70903DCC4E93D3F43C885E9ED301",
     PDU_DIR_OUT, -1, PDU_SUBMIT, "", "+27820001111", 0x91, "Timestamp validity test", "gsm7", NULL,
     0, -1, 0, -1, 0, 0, false, 0},
    {"PGM ZTE semi-invalid status report still parses",
     "0297F1061C0F910B487228297020F5317062419272803170624192138000", PDU_DIR_IN, -1,
     PDU_STATUS_REPORT, "+1", "+#08427829207025", 0x91, NULL, NULL, "2013-07-26T14:29:27+02:00", 28,
     0, PDU_ST_DELIVERED, -1, 0, 0, false, 0},
    {"lower-case hex with CRLF around it", "  0011000b916407281553f80000aa0ae8329bfd4697d9ec37\r\n",
     PDU_DIR_OUT, -1, PDU_SUBMIT, "", "+46708251358", 0x91, "hellohello", "gsm7", NULL, 0, -1, 0,
     -1, 0, 0, false, 0},
};

static void test_decode_vectors(void **state)
{
    (void)state;
    static struct pdu_decoded d;

    for (size_t i = 0; i < N(decode_cases); i++) {
        const struct decode_case *c = &decode_cases[i];
        struct sg_err err = {0};
        char iso[32];
        int rc;

        print_message("%s\n", c->name);
        rc = pdu_decode_hex(c->hex, strlen(c->hex), c->dir, c->tpdu_len, &d, &err);
        if (rc)
            print_message("  error: %s\n", err.msg);
        assert_int_equal(rc, 0);
        assert_int_equal(d.type, c->type);
        assert_string_equal(d.smsc, c->smsc);
        assert_string_equal(d.number, c->number);
        assert_int_equal(d.toa, c->toa);
        if (c->text) {
            assert_string_equal(d.text, c->text);
            assert_int_equal(d.text_len, strlen(c->text));
        }
        if (c->encoding) {
            assert_true(d.has_dcs);
            assert_string_equal(smsenc_name(&d.enc), c->encoding);
        } else {
            assert_false(d.has_dcs);
        }
        assert_int_equal(d.has_scts, c->scts != NULL);
        if (c->scts) {
            assert_true(pdu_time_iso8601(&d.scts, iso, sizeof(iso)) > 0);
            assert_string_equal(iso, c->scts);
        }
        if (c->mr >= 0)
            assert_int_equal(d.mr, c->mr);
        if (c->st >= 0) {
            assert_int_equal(d.st, c->st);
            assert_int_equal(d.st_class, c->st_class);
        }
        assert_int_equal(d.udh.concat, c->concat_ref >= 0);
        if (c->concat_ref >= 0) {
            assert_int_equal(d.udh.ref, c->concat_ref);
            assert_int_equal(d.udh.total, c->total);
            assert_int_equal(d.udh.seq, c->seq);
            assert_int_equal(d.udh.ref16, c->ref16);
        }
        assert_int_equal(d.pid, c->pid);
    }
}

/* ------------------------------------------------------------ encode vectors */

struct submit_case {
    const char *name;
    const char *to, *smsc, *text;
    int validity;
    const char *hex;
    unsigned tpdu_len;
};

static void test_encode_submit_vectors(void **state)
{
    (void)state;
    static const struct submit_case cases[] = {
        {"oFono simple_submit", "+46708251358", NULL, "hellohello", 4 * 1440,
         "0011000B916407281553F80000AA0AE8329BFD4697D9EC37", 23},
        {"oFono expected_no_fragmentation_7bit", "+358478400241", "+358405202090",
         "This is testing !", 1440,
         "079153485002020911000C915348870420140000A71154747A0E4ACF41F4F29C9E769F4121", 29},
        {"MM test_create_pdu_ucs2_with_smsc", "+15555551234", "+19037029920",
         "Да здравствует король, детка!", 5,
         "07919130079229F011000B915155551532F40008003A041404300020043704340440043004320441044204"
         "320443043504420020043A043E0440043E043B044C002C0020043404350442043A04300021",
         72},
    };
    struct pdu_part parts[2];

    for (size_t i = 0; i < N(cases); i++) {
        const struct submit_case *c = &cases[i];
        struct pdu_submit_opts o = {.smsc = c->smsc, .validity_min = c->validity};
        struct smsenc_plan plan;

        print_message("%s\n", c->name);
        assert_int_equal(
            pdu_encode_submit(c->to, c->text, strlen(c->text), &o, parts, 2, &plan, NULL), 1);
        assert_string_equal(parts[0].hex, c->hex);
        assert_int_equal(parts[0].tpdu_len, c->tpdu_len);
    }
}

/* PGM test_encodeSmsSubmit_concatenated: 3 parts, ref 0, no VP. PGM sets
 * TP-RD (FO 0x45); simgate does not, so FO is 0x41 and all else equal. */
static void test_encode_submit_concat_pgm(void **state)
{
    (void)state;
    static const char text[] =
        "Lorem ipsum dolor sit amet, consectetur adipisicing elit, sed do eiusmod tempor "
        "incididunt ut labore et dolore magna aliqua.Ut enim ad minim veniam, quinostrud "
        "exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat.Duis aute irure "
        "dolor in reprehenderit in voluptate velit esse cillum doloe eu fugiat nulla "
        "pariatur.Excepteur sint occaecat cupidatat non proident, sunt in culpa qui officia "
        "deserunt mollit anim id est laborum";
    static const char *const want[] = {
        "0045000B915121551532F40000A0050003000301986F79B90D4AC3E7F53688FC66BFE5A0799A0E0AB7CB"
        "741668FC76CFCB637A995E9783C2E4343C3D4F8FD3EE33A8CC4ED359A079990C22BF41E5747DDE7E9341"
        "F4721BFE9683D2EE719A9C26D7DD74509D0E6287C56F791954A683C86FF65B5E06B5C36777181466A7E3"
        "F5B0AB4A0795DDE936284C06B5D3EE741B642FBBD3E1360B14AFA7DD",
        "0045000B915121551532F40000A0050003000302DE73BABC4E0695F165F9384D0FD3D36F37A8CE6687DB"
        "E337881D16BFE5E939C89D9EA741753A28CC4EC7EB6938A88C0795C3A0F1BBDD7E93DFA0F1DB3D2FC7EB"
        "61BA8B584FCF41E13ABD0C4ACBEBF23288FC66BFE5A0B41B242FC3E56574D94D2ECBD37450DA0DB2BFD9"
        "75383D4C2F83EC65769A0E2ACFE765D038CD66D7DB20F29BFD2E83CA",
        "0045000B915121551532F400008C050003000303EA2073FD9C0ED341EE3A9B1D06C1C3F274985E97BB8A"
        "F871194E2FD7E5A079DA4D07BDC7E370791CA683C675789A1CA687E920F7DB0D82CBDF6972D94D6781E6"
        "75371D947683C675363C0C8AD7D3A0B7D99C1EA7C32072795E96D7DD7450FBCD66A7E9A0B03BDD06A5C9"
        "A0F29C0E6287C56F79BD0D",
    };
    struct pdu_submit_opts o = {.validity_min = -1};
    struct pdu_part parts[3];
    char fixed[PDU_HEX_MAX];

    assert_int_equal(
        pdu_encode_submit("+15125551234", text, strlen(text), &o, parts, 3, NULL, NULL), 3);
    for (int i = 0; i < 3; i++) {
        snprintf(fixed, sizeof(fixed), "%s", want[i]);
        fixed[3] = '1';
        assert_string_equal(parts[i].hex, fixed);
        assert_int_equal(parts[i].tpdu_len, strlen(fixed) / 2 - 1);
    }
    /* Too small an array is -E2BIG, not an overflow. */
    assert_int_equal(
        pdu_encode_submit("+15125551234", text, strlen(text), &o, parts, 2, NULL, NULL), -E2BIG);
}

static struct pdu_time mk_time(int y, int mo, int d, int h, int mi, int s, int tzq)
{
    struct pdu_time t = {(uint8_t)y,  (uint8_t)mo, (uint8_t)d, (uint8_t)h,
                         (uint8_t)mi, (uint8_t)s,  (int8_t)tzq};
    return t;
}

/* The simulator's side: DELIVER and STATUS-REPORT reproduce the vectors. */
static void test_encode_deliver_and_report(void **state)
{
    (void)state;
    struct pdu_part part[1];
    struct pdu_deliver_opts d = {
        .smsc = "+447785016005",
        .originator = "sipgate",
        .scts = mk_time(8, 8, 13, 12, 7, 22, 4),
    };

    assert_int_equal(pdu_encode_deliver("Testmail", 8, &d, part, 1, NULL, NULL), 1);
    assert_string_equal(part[0].hex, "0791447758100650040DD0F334FC1CA6970100008080312170224008"
                                     "D4F29CDE0EA7D9");
    assert_int_equal(part[0].tpdu_len, 27);

    d = (struct pdu_deliver_opts){.smsc = "+79037011111",
                                  .originator = "InternetSMS",
                                  .scts = mk_time(11, 3, 29, 19, 20, 4, 16)};
    assert_int_equal(pdu_encode_deliver("тест", strlen("тест"), &d, part, 1, NULL, NULL), 1);
    assert_string_equal(part[0].hex, "07919730071111F10414D04937BD2C7797E9D3E614000811309291"
                                     "024061080442043504410442");

    struct pdu_status_report_opts r = {
        .mr = 214,
        .recipient = "+31628870634",
        .scts = mk_time(11, 1, 11, 17, 59, 15, 4),
        .dt = mk_time(11, 1, 11, 17, 59, 17, 4),
        .st = 0,
    };
    assert_int_equal(pdu_encode_status_report(&r, part, NULL), 0);
    assert_string_equal(part[0].hex, "0006D60B911326880736F4111011719551401110117195714000");
    assert_int_equal(part[0].tpdu_len, 25);

    r = (struct pdu_status_report_opts){
        .smsc = "+34656000311",
        .mr = 90,
        .recipient = "639335936",
        .scts = mk_time(12, 9, 11, 7, 40, 36, 8),
        .dt = mk_time(12, 9, 11, 7, 40, 36, 8),
        .st = 0x30,
    };
    assert_int_equal(pdu_encode_status_report(&r, part, NULL), 0);
    assert_string_equal(part[0].hex, "07914356060013F1065A098136395339F6219011700463802190117004"
                                     "638030");
    assert_int_equal(part[0].tpdu_len, 24);
    /* A negative offset: -05:00 is 20 quarters with the sign bit. */
    r.scts = mk_time(10, 6, 21, 14, 3, 43, -20);
    assert_int_equal(pdu_encode_status_report(&r, part, NULL), 0);
    assert_non_null(strstr(part[0].hex, "0160124130340A"));
}

/* Multipart DELIVER for the simulator, read back by the decoder. */
static void test_deliver_multipart_round_trip(void **state)
{
    (void)state;
    static char text[1200];
    static struct pdu_part parts[10];
    static struct pdu_decoded d;
    struct pdu_deliver_opts o = {.originator = "+4915112345678",
                                 .ref = 0x1234,
                                 .scts = mk_time(24, 2, 29, 23, 59, 58, -8),
                                 .text = {.ref16 = true}};
    size_t off = 0;

    for (int i = 0; i < 20; i++)
        off += (size_t)snprintf(text + off, sizeof(text) - off, "Teil %d: äöü €[] 😀 ", i);
    struct smsenc_plan plan;
    int n = pdu_encode_deliver(text, off, &o, parts, 10, &plan, NULL);
    assert_true(n > 1);
    assert_string_equal(smsenc_name(&plan.enc), "ucs2");

    static char joined[1300];
    size_t jl = 0;
    for (int i = 0; i < n; i++) {
        assert_int_equal(pdu_decode_hex(parts[i].hex, strlen(parts[i].hex), PDU_DIR_IN,
                                        (int)parts[i].tpdu_len, &d, NULL),
                         0);
        assert_int_equal(d.type, PDU_DELIVER);
        assert_string_equal(d.number, "+4915112345678");
        assert_true(d.udh.concat && d.udh.ref16);
        assert_int_equal(d.udh.ref, 0x1234);
        assert_int_equal(d.udh.total, n);
        assert_int_equal(d.udh.seq, i + 1);
        assert_int_equal(d.scts.tz_quarters, -8);
        memcpy(joined + jl, d.text, d.text_len);
        jl += d.text_len;
    }
    assert_int_equal(jl, off);
    assert_memory_equal(joined, text, off);
}

/* Options of SUBMIT: SRR, flash, shift tables, 16-bit reference, PID. */
static void test_submit_options(void **state)
{
    (void)state;
    static struct pdu_part parts[10];
    static struct pdu_decoded d;
    static char text[600];
    struct pdu_submit_opts o = {.validity_min = -1, .srr = true, .flash = true, .pid = 0x41};

    assert_int_equal(pdu_encode_submit("01711234567", "hi", 2, &o, parts, 10, NULL, NULL), 1);
    /* SMSC 00, FO 0x21 (SUBMIT + SRR, no VP), MR 00, DA national TOA 0x81, PID 41, DCS 10 */
    assert_string_equal(parts[0].hex, "0021000B811017214365F7411002E834");
    assert_int_equal(pdu_decode_hex(parts[0].hex, strlen(parts[0].hex), PDU_DIR_OUT, -1, &d, NULL),
                     0);
    assert_true(d.srr);
    assert_int_equal(d.msg_class, 0);
    assert_int_equal(d.pid, 0x41);
    assert_string_equal(d.number, "01711234567");

    /* UCS-2 flash is DCS 0x18. */
    assert_int_equal(pdu_encode_submit("+1", "Д", strlen("Д"), &o, parts, 10, NULL, NULL), 1);
    assert_non_null(strstr(parts[0].hex, "41180204"));

    /* Turkish, long enough to need the locking shift table, split with a
     * 16-bit reference: every part carries concat + IE 0x25. */
    size_t off = 0;
    for (int i = 0; i < 25; i++)
        off += (size_t)snprintf(text + off, sizeof(text) - off, "Işık ğüşçö ");
    o = (struct pdu_submit_opts){.validity_min = 720, .ref = 0xBEEF, .text = {.ref16 = true}};
    struct smsenc_plan plan;
    int n = pdu_encode_submit("+905321234567", text, off, &o, parts, 10, &plan, NULL);
    assert_int_equal(n, 2);
    assert_string_equal(smsenc_name(&plan.enc), "gsm7-tr");
    assert_int_equal(plan.enc.locking, GSM7_LANG_TURKISH);
    static char joined[700];
    size_t jl = 0;
    for (int i = 0; i < n; i++) {
        assert_int_equal(
            pdu_decode_hex(parts[i].hex, strlen(parts[i].hex), PDU_DIR_OUT, -1, &d, NULL), 0);
        assert_int_equal(d.udh.locking_shift, GSM7_LANG_TURKISH);
        assert_int_equal(d.udh.ref, 0xBEEF);
        assert_int_equal(d.vp_min, 720);
        memcpy(joined + jl, d.text, d.text_len);
        jl += d.text_len;
    }
    assert_int_equal(jl, off);
    assert_memory_equal(joined, text, off);
}

/* ------------------------------------------------------------ hostile input */

struct bad_case {
    const char *name;
    const char *hex;
    enum pdu_direction dir;
    int tpdu_len;
    const char *msg; /* substring of the error */
};

static void test_decode_errors(void **state)
{
    (void)state;
    static const struct bad_case cases[] = {
        {"empty", "", PDU_DIR_IN, -1, "empty"},
        {"odd hex", "0011000", PDU_DIR_OUT, -1, "odd number"},
        {"non-hex character", "00110G", PDU_DIR_OUT, -1, "non-hex character at offset 5"},
        {"too long for any PDU", NULL, PDU_DIR_IN, -1, "exceed"},
        {"truncated in the address", "0011000B9164072815", PDU_DIR_OUT, -1, "truncated"},
        {"UDL beyond the data", "0011000B916407281553F80000AA0BE8329BFD4697D9EC37", PDU_DIR_OUT, -1,
         "UDL 11 needs 10 octets"},
        {"UDL above 160 septets", "0011000B916407281553F80000AAA1E8", PDU_DIR_OUT, -1,
         "exceeds 160"},
        {"UCS-2 UDL above 140", "0011000B916407281553F80008AA8D00", PDU_DIR_OUT, -1, "exceeds 140"},
        {"UDHL larger than UDL", "0051000B916407281553F80008AA0405000300", PDU_DIR_OUT, -1,
         "UDHL 5 larger"},
        {"UDHL larger than UDL (7-bit)", "0051000B916407281553F80000AA0206E8", PDU_DIR_OUT, -1,
         "UDHL"},
        {"UDH IE runs past UDHL", "0051000B916407281553F80008AA06040003000201", PDU_DIR_OUT, -1,
         "runs past"},
        {"address longer than 20 digits", "00110015916407281553F80000AA00", PDU_DIR_OUT, -1,
         "exceeds 20"},
        {"SMSC field longer than 11 octets", "0C9164072815536407281553F811", PDU_DIR_OUT, -1,
         "SMSC length 12"},
        {"SUBMIT-REPORT is not supported inbound", "0001", PDU_DIR_IN, -1, "SUBMIT-REPORT"},
        {"COMMAND is not supported outbound", "0002", PDU_DIR_OUT, -1, "COMMAND"},
        {"TPDU length larger than the data", "0011000B916407281553F80000AA0AE8329BFD4697D9EC37",
         PDU_DIR_OUT, 30, "exceeds"},
        {"TPDU length disagrees with the SMSC octet",
         "0011000B916407281553F80000AA0AE8329BFD4697D9EC37", PDU_DIR_OUT, 21, "SMSC length"},
        {"junk after the TPDU with a known length",
         "0011000B916407281553F80000AA0AE8329BFD4697D9EC3700", PDU_DIR_OUT, 24, "after the end"},
        {"UDHI with empty user data", "0051000B916407281553F80000AA00", PDU_DIR_OUT, -1,
         "UDHI set"},
    };
    static struct pdu_decoded d;
    static char huge[1000];

    memset(huge, '0', 998);
    for (size_t i = 0; i < N(cases); i++) {
        const struct bad_case *c = &cases[i];
        const char *hex = c->hex ? c->hex : huge;
        struct sg_err err = {0};

        print_message("%s\n", c->name);
        int rc = pdu_decode_hex(hex, strlen(hex), c->dir, c->tpdu_len, &d, &err);
        print_message("  -> %d %s\n", rc, err.msg);
        assert_true(rc < 0);
        assert_int_equal(err.code, rc);
        assert_non_null(strstr(err.msg, c->msg));
    }
}

/* Every prefix of every vector is decoded without a crash (ASan watches). */
static void test_truncations(void **state)
{
    (void)state;
    static struct pdu_decoded d;
    uint8_t buf[PDU_OCTETS_MAX];

    for (size_t i = 0; i < N(decode_cases); i++) {
        const char *hex = decode_cases[i].hex;
        int n = pdu_hex_decode(hex, strlen(hex), buf, sizeof(buf), NULL);

        if (n < 0)
            continue; /* the whitespace case */
        for (int k = 0; k < n; k++) {
            uint8_t *copy = malloc((size_t)k + 1);
            memcpy(copy, buf, (size_t)k);
            (void)pdu_decode(copy, (size_t)k, decode_cases[i].dir, -1, &d, NULL);
            (void)pdu_decode(copy, (size_t)k, decode_cases[i].dir, k / 2, &d, NULL);
            free(copy);
        }
    }
}

/* UDL, not the octet count, decides the text: 7 septets in 7 octets must not
 * grow an '@' from the zero bits at the end, and a real trailing '@' stays. */
static void test_trailing_at(void **state)
{
    (void)state;
    static struct pdu_decoded d;
    struct pdu_submit_opts o = {.validity_min = -1};
    struct pdu_part p[1];

    assert_int_equal(pdu_encode_submit("+1", "abcdefg", 7, &o, p, 1, NULL, NULL), 1);
    assert_int_equal(pdu_decode_hex(p[0].hex, strlen(p[0].hex), PDU_DIR_OUT, -1, &d, NULL), 0);
    assert_string_equal(d.text, "abcdefg");
    assert_int_equal(pdu_encode_submit("+1", "abcdefg@", 8, &o, p, 1, NULL, NULL), 1);
    assert_int_equal(strlen(p[0].hex), strlen("0001000191F10000") + 2 + 14);
    assert_int_equal(pdu_decode_hex(p[0].hex, strlen(p[0].hex), PDU_DIR_OUT, -1, &d, NULL), 0);
    assert_string_equal(d.text, "abcdefg@");
    assert_int_equal(pdu_encode_submit("+1", "@", 1, &o, p, 1, NULL, NULL), 1);
    assert_string_equal(p[0].hex, "0001000191F100000100");
    assert_int_equal(pdu_decode_hex(p[0].hex, strlen(p[0].hex), PDU_DIR_OUT, -1, &d, NULL), 0);
    assert_string_equal(d.text, "@");
}

/* A UDH with an unknown IE (0x0A text formatting) before the concat IE, and
 * a shift IE for a language we do not know: both skipped. 7-bit, so the
 * text starts after 3 fill bits (UDHL 13 -> 14 octets = 112 bits = 16 septets). */
static void test_udh_unknown_ies(void **state)
{
    (void)state;
    static struct pdu_decoded d;
    static const uint8_t udh[] = {13, 0x0A, 3, 0, 4, 1, 0x00, 3, 0x12, 2, 1, 0x24, 1, 9};
    static const uint8_t sept[] = {'h', 'i'};
    uint8_t pdu[64] = {0x00, 0x44, 0x04, 0x81, 0x21, 0x43, 0x00, 0x00,
                       0x42, 0x10, 0x20, 0x30, 0x40, 0x50, 0x00};
    size_t n = 15;

    pdu[n++] = 16 + 2;
    memcpy(pdu + n, udh, sizeof(udh));
    n += sizeof(udh);
    n += gsm7_pack(sept, 2, 0, pdu + n);
    assert_int_equal(pdu_decode(pdu, n, PDU_DIR_IN, -1, &d, NULL), 0);
    assert_string_equal(d.number, "1234");
    assert_true(d.udh.concat);
    assert_int_equal(d.udh.ref, 0x12);
    assert_int_equal(d.udh.seq, 1);
    assert_int_equal(d.udh.single_shift, 0);
    assert_string_equal(d.text, "hi");
}

/* Concat IEs that cannot be right are ignored: total 0, seq 0, seq > total. */
static void test_udh_bad_concat(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        const char *udh; /* UDHL + IEs, hex */
        bool concat;
        int seq;
    } cases[] = {
        {"8-bit 1/2", "050003120201", true, 1},
        {"8-bit total 0", "050003120001", false, 0},
        {"8-bit seq 0", "050003120200", false, 0},
        {"8-bit seq 3 of 2", "050003120203", false, 0},
        {"16-bit seq 5 of 4", "06080412340405", false, 0},
        {"repeated IE: the last one wins", "0A 0003120201 0003120303", true, 3},
    };
    static struct pdu_decoded d;
    char hex[128];

    for (size_t i = 0; i < N(cases); i++) {
        char udh[64];
        size_t k = 0;

        for (const char *p = cases[i].udh; *p; p++)
            if (*p != ' ')
                udh[k++] = *p;
        udh[k] = '\0';
        /* UCS-2 DELIVER from 1234 with this UDH and the text "hi" */
        snprintf(hex, sizeof(hex), "004404812143000842102030405000%02zX%s00680069", k / 2 + 4, udh);
        print_message("%s\n", cases[i].name);
        assert_int_equal(pdu_decode_hex(hex, strlen(hex), PDU_DIR_IN, -1, &d, NULL), 0);
        assert_int_equal(d.udh.concat, cases[i].concat);
        assert_int_equal(d.udh.seq, cases[i].seq);
        assert_string_equal(d.text, "hi");
    }
}

/* 8-bit data is kept as bytes, not text. */
static void test_8bit_data(void **state)
{
    (void)state;
    static struct pdu_decoded d;
    static const char hex[] = "0004048121430004421020304050000301FF02";

    assert_int_equal(pdu_decode_hex(hex, strlen(hex), PDU_DIR_IN, -1, &d, NULL), 0);
    assert_string_equal(smsenc_name(&d.enc), "8bit");
    assert_int_equal(d.data_len, 3);
    assert_int_equal(d.data[1], 0xFF);
    assert_int_equal(d.text_len, 0);
}

/* ------------------------------------------------------------ small helpers */

static void test_st_classes(void **state)
{
    (void)state;
    static const struct {
        uint8_t st;
        enum pdu_st_class c;
    } cases[] = {
        {0x00, PDU_ST_DELIVERED}, {0x01, PDU_ST_DELIVERED}, {0x02, PDU_ST_DELIVERED},
        {0x20, PDU_ST_TEMPORARY}, {0x25, PDU_ST_TEMPORARY}, {0x30, PDU_ST_TEMPORARY},
        {0x3F, PDU_ST_TEMPORARY}, {0x40, PDU_ST_PERMANENT}, {0x46, PDU_ST_PERMANENT},
        {0x49, PDU_ST_PERMANENT}, {0x5F, PDU_ST_PERMANENT}, {0x60, PDU_ST_STOPPED},
        {0x65, PDU_ST_STOPPED},   {0x7F, PDU_ST_STOPPED},   {0x80, PDU_ST_PERMANENT},
    };

    for (size_t i = 0; i < N(cases); i++) {
        assert_int_equal(pdu_st_classify(cases[i].st), cases[i].c);
        assert_int_equal(pdu_st_is_final(cases[i].c), cases[i].c != PDU_ST_TEMPORARY);
    }
    assert_string_equal(pdu_st_class_name(PDU_ST_STOPPED), "stopped");
}

static void test_validity(void **state)
{
    (void)state;
    static const struct {
        int minutes;
        uint8_t vp;
        int back;
    } cases[] = {
        {0, 0, 5},
        {5, 0, 5},
        {6, 1, 10},
        {720, 143, 720},
        {721, 144, 750},
        {1440, 167, 1440},
        {1441, 168, 2880},
        {4 * 1440, 0xAA, 4 * 1440},
        {30 * 1440, 196, 30 * 1440},
        {30 * 1440 + 1, 197, 5 * 10080},
        {63 * 10080, 255, 63 * 10080},
        {1000000, 255, 63 * 10080},
    };

    for (size_t i = 0; i < N(cases); i++) {
        assert_int_equal(pdu_vp_from_minutes(cases[i].minutes), cases[i].vp);
        assert_int_equal(pdu_vp_to_minutes(cases[i].vp), cases[i].back);
    }
}

static void test_time(void **state)
{
    (void)state;
    struct pdu_time t = mk_time(8, 8, 13, 12, 7, 22, 4), u;
    char buf[32];

    assert_int_equal(pdu_time_utc_ms(&t), 1218625642000LL);
    pdu_time_from_utc_ms(1218625642000LL, 4, &u);
    assert_memory_equal(&t, &u, sizeof(t));
    t.tz_quarters = -22;
    assert_true(pdu_time_iso8601(&t, buf, sizeof(buf)) > 0);
    assert_string_equal(buf, "2008-08-13T12:07:22-05:30");
    t.month = 13;
    assert_int_equal(pdu_time_iso8601(&t, buf, sizeof(buf)), -ERANGE);
    pdu_time_from_utc_ms(951868799000LL, 0, &u); /* 2000-02-29 23:59:59 UTC */
    assert_int_equal(u.day, 29);
    assert_int_equal(u.second, 59);
}

static void test_encode_errors(void **state)
{
    (void)state;
    static const struct {
        const char *name, *to, *smsc, *text;
        int rc;
        const char *msg;
    } cases[] = {
        {"empty destination", "", NULL, "x", -EINVAL, "empty"},
        {"plus alone", "+", NULL, "x", -EINVAL, "no digits"},
        {"letters in the number", "+49171abc", NULL, "x", -EINVAL, "not a digit"},
        {"space in the number", "+49 171", NULL, "x", -EINVAL, "not a digit"},
        {"21 digits", "+123456789012345678901", NULL, "x", -ERANGE, "21 digits"},
        {"bad SMSC", "+491711", "+49x", "x", -EINVAL, "SMSC"},
        {"invalid UTF-8 text", "+491711", NULL, "ok\xff", -EILSEQ, "offset 2"},
    };
    struct pdu_part p[1];
    struct sg_err err = {0};

    for (size_t i = 0; i < N(cases); i++) {
        struct pdu_submit_opts o = {.smsc = cases[i].smsc, .validity_min = -1};

        print_message("%s\n", cases[i].name);
        assert_int_equal(pdu_encode_submit(cases[i].to, cases[i].text, strlen(cases[i].text), &o, p,
                                           1, NULL, &err),
                         cases[i].rc);
        assert_non_null(strstr(err.msg, cases[i].msg));
    }
    struct pdu_deliver_opts d = {.originator = "TwelveLetter"};
    assert_int_equal(pdu_encode_deliver("x", 1, &d, p, 1, NULL, &err), -ERANGE);
    d.originator = "Ünïcødé";
    assert_int_equal(pdu_encode_deliver("x", 1, &d, p, 1, NULL, &err), -EINVAL);
    struct pdu_status_report_opts r = {.recipient = "Alpha"};
    assert_int_equal(pdu_encode_status_report(&r, p, &err), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_vectors),
        cmocka_unit_test(test_encode_submit_vectors),
        cmocka_unit_test(test_encode_submit_concat_pgm),
        cmocka_unit_test(test_encode_deliver_and_report),
        cmocka_unit_test(test_deliver_multipart_round_trip),
        cmocka_unit_test(test_submit_options),
        cmocka_unit_test(test_decode_errors),
        cmocka_unit_test(test_truncations),
        cmocka_unit_test(test_trailing_at),
        cmocka_unit_test(test_udh_unknown_ies),
        cmocka_unit_test(test_udh_bad_concat),
        cmocka_unit_test(test_8bit_data),
        cmocka_unit_test(test_st_classes),
        cmocka_unit_test(test_validity),
        cmocka_unit_test(test_time),
        cmocka_unit_test(test_encode_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
