/* The AT channel driven with a fake clock and a recording writer. Replies
 * are fed in several chunk sizes (1, 2, 3, 8 bytes and whole), so every
 * scenario also runs across split points. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/at/at_chan.h"

#define MAXREC 40
#define TXT 1200

struct rec {
    enum at_final final;
    int code;
    bool payload_written;
    bool truncated;
    int write_err;
    size_t nlines;
    char lines[4][TXT];
    char pdus[4][TXT];
    bool has_pdu[4];
    char pdu[TXT];
    bool has_first_pdu;
    char final_line[TXT];
};

struct urc {
    char line[TXT];
    char pdu[TXT];
    bool has_pdu;
};

struct fx {
    struct at_chan *ch;
    char out[16384];
    size_t outlen;
    int write_rc;
    struct rec res[MAXREC];
    size_t nres;
    struct urc urcs[MAXREC];
    size_t nurc;
    int resynced_ok, resynced_fail;
    size_t chunk;
    /* reentrancy hooks */
    const struct at_cmd *resubmit;
    bool reset_on_urc;
};

static int fake_write(void *ctx, const uint8_t *buf, size_t len)
{
    struct fx *f = ctx;
    if (f->write_rc)
        return f->write_rc;
    assert_true(f->outlen + len < sizeof(f->out));
    memcpy(f->out + f->outlen, buf, len);
    f->outlen += len;
    f->out[f->outlen] = '\0';
    return 0;
}

static void on_resynced(void *ctx, bool ok)
{
    struct fx *f = ctx;
    if (ok)
        f->resynced_ok++;
    else
        f->resynced_fail++;
}

static void copy(char *dst, const char *src)
{
    snprintf(dst, TXT, "%s", src ? src : "");
}

static void on_done(void *ud, const struct at_result *r)
{
    struct fx *f = ud;
    assert_true(f->nres < MAXREC);
    struct rec *x = &f->res[f->nres++];
    memset(x, 0, sizeof(*x));
    x->final = r->final;
    x->code = r->code;
    x->payload_written = r->payload_written;
    x->truncated = r->truncated;
    x->write_err = r->write_err;
    x->nlines = r->nlines;
    for (size_t i = 0; i < r->nlines && i < 4; i++) {
        copy(x->lines[i], r->lines[i]);
        x->has_pdu[i] = r->pdus[i] != NULL;
        copy(x->pdus[i], r->pdus[i]);
    }
    x->has_first_pdu = r->pdu != NULL;
    copy(x->pdu, r->pdu);
    copy(x->final_line, r->final_line);
    if (f->resubmit) {
        const struct at_cmd *c = f->resubmit;
        f->resubmit = NULL;
        assert_int_equal(at_chan_submit(f->ch, c, on_done, f, 0), 0);
        /* The result handed to us stays valid after submitting. */
        if (r->nlines > 0)
            assert_string_equal(r->lines[0], x->lines[0]);
    }
}

static void on_urc(void *ud, const char *line, const char *pdu)
{
    struct fx *f = ud;
    assert_true(f->nurc < MAXREC);
    struct urc *u = &f->urcs[f->nurc++];
    copy(u->line, line);
    copy(u->pdu, pdu);
    u->has_pdu = pdu != NULL;
    if (f->reset_on_urc)
        at_chan_reset(f->ch, 0);
}

static void fx_init(struct fx *f, size_t chunk)
{
    static const struct at_chan_ops ops = {.write = fake_write, .resynced = on_resynced};
    memset(f, 0, sizeof(*f));
    f->chunk = chunk;
    f->ch = at_chan_new(&ops, f);
    assert_non_null(f->ch);
    assert_int_equal(at_chan_on_urc(f->ch, "+CREG:", on_urc, f), 0);
    assert_int_equal(at_chan_on_urc(f->ch, "RING", on_urc, f), 0);
    assert_int_equal(at_chan_on_urc(f->ch, "+CMT:", on_urc, f), 0);
    assert_int_equal(at_chan_on_urc(f->ch, "+CDS:", on_urc, f), 0);
    assert_int_equal(at_chan_on_urc(f->ch, "NO CARRIER", on_urc, f), 0);
    assert_int_equal(at_chan_on_urc(f->ch, "RDY", on_urc, f), 0);
}

static void fx_free(struct fx *f)
{
    at_chan_free(f->ch);
}

static void feed(struct fx *f, const char *s, sg_ms now)
{
    size_t len = strlen(s);
    for (size_t off = 0; off < len; off += f->chunk) {
        size_t n = len - off < f->chunk ? len - off : f->chunk;
        at_chan_feed(f->ch, (const uint8_t *)s + off, n, now);
    }
}

static void submit(struct fx *f, const char *text, const char *expect, const char *payload,
                   unsigned flags, sg_ms now)
{
    struct at_cmd c = {.text = text, .expect = expect, .payload = payload, .flags = flags};
    assert_int_equal(at_chan_submit(f->ch, &c, on_done, f, now), 0);
}

static void written_is(struct fx *f, const char *want)
{
    if (strcmp(f->out, want) != 0)
        fail_msg("written '%s', want '%s'", f->out, want);
    f->outlen = 0;
    f->out[0] = '\0';
}

static const size_t chunks[] = {1, 2, 3, 8, 4096};
#define NCHUNKS (sizeof(chunks) / sizeof(chunks[0]))

/* ---------------------------------------------------------------- replies */

static void test_sim800_creg_urc_inside_csq_reply(void **state)
{
    (void)state;
    for (size_t k = 0; k < NCHUNKS; k++) {
        struct fx f;
        fx_init(&f, chunks[k]);
        submit(&f, "AT+CSQ", "+CSQ:", NULL, 0, 0);
        written_is(&f, "AT+CSQ\r");
        feed(&f, "\r\n+CREG: 1,\"1F4C\",\"C5C1\"\r\n\r\n+CSQ: 17,0\r\n\r\nOK\r\n", 10);
        assert_int_equal(f.nres, 1);
        assert_int_equal(f.res[0].final, AT_FINAL_OK);
        assert_int_equal(f.res[0].nlines, 1);
        assert_string_equal(f.res[0].lines[0], "+CSQ: 17,0");
        assert_string_equal(f.res[0].final_line, "OK");
        assert_int_equal(f.nurc, 1);
        assert_string_equal(f.urcs[0].line, "+CREG: 1,\"1F4C\",\"C5C1\"");
        assert_false(at_chan_busy(f.ch));
        fx_free(&f);
    }
}

static void test_echo_on_and_off(void **state)
{
    (void)state;
    for (size_t k = 0; k < NCHUNKS; k++) {
        struct fx f;
        struct at_chan_stats st;
        fx_init(&f, chunks[k]);
        /* Echo on (after a reset), SIM800 style: command echoed with its CR. */
        submit(&f, "AT+CSQ", "+CSQ:", NULL, 0, 0);
        feed(&f, "AT+CSQ\r\r\n+CSQ: 17,0\r\n\r\nOK\r\n", 1);
        /* Echo off. */
        submit(&f, "AT+CSQ", "+CSQ:", NULL, 0, 2);
        feed(&f, "\r\n+CSQ: 18,0\r\n\r\nOK\r\n", 3);
        /* Echo in lower case (some modules echo what was typed). */
        submit(&f, "at+csq", "+CSQ:", NULL, 0, 4);
        feed(&f, "at+csq\r\r\n+CSQ: 19,0\r\n\r\nOK\r\n", 5);
        assert_int_equal(f.nres, 3);
        assert_string_equal(f.res[0].lines[0], "+CSQ: 17,0");
        assert_int_equal(f.res[0].nlines, 1);
        assert_string_equal(f.res[1].lines[0], "+CSQ: 18,0");
        assert_string_equal(f.res[2].lines[0], "+CSQ: 19,0");
        assert_int_equal(f.nurc, 0);
        at_chan_get_stats(f.ch, &st);
        assert_int_equal(st.echoes, 2);
        assert_int_equal(st.urcs, 0);
        fx_free(&f);
    }
}

static void test_finals_table(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        const char *cmd;
        const char *reply;
        enum at_final final;
        int code;
    } cases[] = {
        {"plain OK", "AT", "\r\nOK\r\n", AT_FINAL_OK, -1},
        {"plain ERROR", "AT+FOO", "\r\nERROR\r\n", AT_FINAL_ERROR, -1},
        {"SIM800 CMS 304 on a bad PDU", "AT+CMGD=1", "\r\n+CMS ERROR: 304\r\n",
         AT_FINAL_CMS_ERROR, 304},
        {"EC25 CME 10 no SIM", "AT+CPIN?", "\r\n+CME ERROR: 10\r\n", AT_FINAL_CME_ERROR, 10},
        {"CMEE=2 verbose CME", "AT+CPIN?", "\r\n+CME ERROR: SIM not inserted\r\n",
         AT_FINAL_CME_ERROR, 10},
        {"CMEE=2 verbose CMS", "AT+CMGS=5", "\r\n+CMS ERROR: SIM busy\r\n",
         AT_FINAL_CMS_ERROR, 314},
        {"verbose text we do not know", "AT+CPIN?", "\r\n+CME ERROR: flux capacitor\r\n",
         AT_FINAL_CME_ERROR, -1},
        {"Huawei E1752 COMMAND NOT SUPPORT", "AT+CPROT=?",
         "AT+CPROT=?\r\r\nCOMMAND NOT SUPPORT\r\n", AT_FINAL_ERROR, -1},
        {"Huawei TOO MANY PARAMETERS", "AT+CMGF=0,1", "\r\nTOO MANY PARAMETERS\r\n",
         AT_FINAL_ERROR, -1},
        {"ATD busy", "ATD+491701234567;", "\r\nBUSY\r\n", AT_FINAL_BUSY, -1},
        {"ATD no answer", "ATD+491701234567;", "\r\nNO ANSWER\r\n", AT_FINAL_NO_ANSWER, -1},
        {"ATD no dialtone", "ATD+491701234567;", "\r\nNO DIALTONE\r\n", AT_FINAL_NO_DIALTONE,
         -1},
        {"ATD no carrier", "ATD+491701234567;", "\r\nNO CARRIER\r\n", AT_FINAL_NO_CARRIER, -1},
        {"ATD data CONNECT 9600", "ATD*99#", "\r\nCONNECT 9600\r\n", AT_FINAL_CONNECT, -1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct fx f;
        fx_init(&f, 3);
        submit(&f, cases[i].cmd, NULL, NULL, 0, 0);
        feed(&f, cases[i].reply, 1);
        if (f.nres != 1)
            fail_msg("%s: %zu results", cases[i].name, f.nres);
        if (f.res[0].final != cases[i].final || f.res[0].code != cases[i].code)
            fail_msg("%s: final %s code %d", cases[i].name, at_final_name(f.res[0].final),
                     f.res[0].code);
        fx_free(&f);
    }
}

static void test_call_finals_only_end_call_commands(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, 8);
    /* A call hangs up while a CSQ poll is in flight: NO CARRIER is the
     * call's, not the CSQ's. */
    submit(&f, "AT+CSQ", "+CSQ:", NULL, 0, 0);
    feed(&f, "\r\nNO CARRIER\r\n\r\n+CSQ: 20,0\r\n\r\nOK\r\n", 1);
    assert_int_equal(f.nres, 1);
    assert_int_equal(f.res[0].final, AT_FINAL_OK);
    assert_int_equal(f.nurc, 1);
    assert_string_equal(f.urcs[0].line, "NO CARRIER");
    /* With nothing in flight it is a URC too. */
    feed(&f, "\r\nNO CARRIER\r\n", 2);
    assert_int_equal(f.nurc, 2);
    /* An explicit flag makes them finals for, e.g., AT+CHUP on some modems. */
    submit(&f, "AT+CHUP", NULL, NULL, AT_CMD_CALL_FINALS, 3);
    feed(&f, "\r\nNO CARRIER\r\n", 4);
    assert_int_equal(f.nres, 2);
    assert_int_equal(f.res[1].final, AT_FINAL_NO_CARRIER);
    fx_free(&f);
}

static void test_identity_any_line(void **state)
{
    (void)state;
    for (size_t k = 0; k < NCHUNKS; k++) {
        struct fx f;
        fx_init(&f, chunks[k]);
        /* Huawei E173 (wammu #44) with echo; a CREG URC and a RING slip in. */
        submit(&f, "AT+CGMM", NULL, NULL, AT_CMD_ANY_LINE, 0);
        feed(&f, "AT+CGMM\r\r\n+CREG: 1\r\nE173\r\n\r\nRING\r\n\r\nOK\r\n", 1);
        assert_int_equal(f.nres, 1);
        assert_int_equal(f.res[0].nlines, 1);
        assert_string_equal(f.res[0].lines[0], "E173");
        assert_int_equal(f.nurc, 2);
        /* SIM800 ATI: several lines; ^RSSI is a known URC even unhandled. */
        submit(&f, "ATI", NULL, NULL, AT_CMD_ANY_LINE, 1);
        feed(&f, "\r\nSIM800 R14.18\r\n^RSSI:17\r\nSIM800 R14.18\r\n\r\nOK\r\n", 2);
        assert_int_equal(f.nres, 2);
        assert_int_equal(f.res[1].nlines, 2);
        /* Several expected prefixes: +CCID (SIMCom), ^ICCID (Huawei). */
        submit(&f, "AT^ICCID?", "+CCID:|^ICCID:", NULL, 0, 3);
        feed(&f, "\r\n^ICCID: 98940100000000004321\r\n\r\nOK\r\n", 4);
        assert_int_equal(f.nres, 3);
        assert_int_equal(f.res[2].nlines, 1);
        fx_free(&f);
    }
}

/* ---------------------------------------------------------------- PDUs */

static const char *const pdu7 =
    "0791447758100650040DD0F334FC1CA6970100008080312170224008D4F29CDE0EA7D9";
static const char *const pdu10 = "07914356060013F1065A098136395339F6219011700463802190117004638030";

static void test_cmgr_and_cmgl_bodies(void **state)
{
    (void)state;
    char buf[1024];
    for (size_t k = 0; k < NCHUNKS; k++) {
        struct fx f;
        fx_init(&f, chunks[k]);
        submit(&f, "AT+CMGR=3", "+CMGR:", NULL, 0, 0);
        snprintf(buf, sizeof(buf), "\r\n+CMGR: 0,\"\",27\r\n%s\r\n\r\nOK\r\n", pdu7);
        feed(&f, buf, 1);
        assert_int_equal(f.nres, 1);
        assert_int_equal(f.res[0].nlines, 1);
        assert_string_equal(f.res[0].lines[0], "+CMGR: 0,\"\",27");
        assert_true(f.res[0].has_first_pdu);
        assert_string_equal(f.res[0].pdu, pdu7);

        submit(&f, "AT+CMGL=4", "+CMGL:", NULL, 0, 2);
        snprintf(buf, sizeof(buf),
                 "\r\n+CMGL: 1,1,,27\r\n%s\r\n+CMGL: 2,1,,24\r\n%s\r\n\r\nOK\r\n", pdu7, pdu10);
        feed(&f, buf, 3);
        assert_int_equal(f.nres, 2);
        assert_int_equal(f.res[1].nlines, 2);
        assert_string_equal(f.res[1].pdus[0], pdu7);
        assert_string_equal(f.res[1].pdus[1], pdu10);
        assert_string_equal(f.res[1].lines[1], "+CMGL: 2,1,,24");

        /* Empty slot: OK must not be swallowed as the PDU. */
        submit(&f, "AT+CMGR=5", "+CMGR:", NULL, 0, 4);
        feed(&f, "\r\n+CMGR: 0,,0\r\n\r\nOK\r\n", 5);
        assert_int_equal(f.nres, 3);
        assert_int_equal(f.res[2].final, AT_FINAL_OK);
        assert_int_equal(f.res[2].nlines, 1);
        assert_false(f.res[2].has_first_pdu);
        fx_free(&f);
    }
}

static void test_cmt_cds_urcs_with_pdu(void **state)
{
    (void)state;
    char buf[1024];
    for (size_t k = 0; k < NCHUNKS; k++) {
        struct fx f;
        fx_init(&f, chunks[k]);
        /* +CMT while idle, then +CDS in the middle of a CSQ reply. */
        snprintf(buf, sizeof(buf), "\r\n+CMT: ,27\r\n%s\r\n", pdu7);
        feed(&f, buf, 0);
        submit(&f, "AT+CSQ", "+CSQ:", NULL, 0, 1);
        snprintf(buf, sizeof(buf), "\r\n+CDS: 24\r\n%s\r\n\r\n+CSQ: 17,0\r\n\r\nOK\r\n", pdu10);
        feed(&f, buf, 2);
        assert_int_equal(f.nurc, 2);
        assert_string_equal(f.urcs[0].line, "+CMT: ,27");
        assert_true(f.urcs[0].has_pdu);
        assert_string_equal(f.urcs[0].pdu, pdu7);
        assert_string_equal(f.urcs[1].line, "+CDS: 24");
        assert_string_equal(f.urcs[1].pdu, pdu10);
        assert_int_equal(f.nres, 1);
        assert_int_equal(f.res[0].nlines, 1);
        fx_free(&f);
    }
}

/* ---------------------------------------------------------------- sending */

static const char *const submit1 = "0011000B916407281553F80000AA0AE8329BFD4697D9EC37";

static void test_cmgs_each_prompt_variant(void **state)
{
    (void)state;
    static const char *const prompts[] = {"\r\n> ", ">\r\n", "\r\n>\r\n", "\r\n>"};
    char want[256];
    snprintf(want, sizeof(want), "%s\x1a", submit1);
    for (size_t p = 0; p < 4; p++) {
        for (size_t k = 0; k < NCHUNKS; k++) {
            struct fx f;
            fx_init(&f, chunks[k]);
            submit(&f, "AT+CMGS=23", "+CMGS:", submit1, 0, 0);
            written_is(&f, "AT+CMGS=23\r");
            feed(&f, prompts[p], 1);
            written_is(&f, want);
            feed(&f, "\r\n+CMGS: 47\r\n\r\nOK\r\n", 2);
            assert_int_equal(f.nres, 1);
            assert_int_equal(f.res[0].final, AT_FINAL_OK);
            assert_true(f.res[0].payload_written);
            assert_string_equal(f.res[0].lines[0], "+CMGS: 47");
            fx_free(&f);
        }
    }
}

static void test_sim800_ring_during_cmgs_with_echo(void **state)
{
    (void)state;
    char reply[512];
    for (size_t k = 0; k < NCHUNKS; k++) {
        struct fx f;
        fx_init(&f, chunks[k]);
        submit(&f, "AT+CMGS=23", "+CMGS:", submit1, 0, 0);
        feed(&f, "AT+CMGS=23\r\r\n> ", 1);
        snprintf(reply, sizeof(reply), "%s\x1a\r\n\r\nRING\r\n\r\n+CMGS: 48\r\n\r\nOK\r\n",
                 submit1);
        feed(&f, reply, 2);
        assert_int_equal(f.nres, 1);
        assert_int_equal(f.res[0].nlines, 1);
        assert_string_equal(f.res[0].lines[0], "+CMGS: 48");
        assert_int_equal(f.nurc, 1);
        assert_string_equal(f.urcs[0].line, "RING");
        fx_free(&f);
    }
}

static void test_cms_error_before_prompt(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, 8);
    submit(&f, "AT+CMGS=23", "+CMGS:", submit1, 0, 0);
    written_is(&f, "AT+CMGS=23\r");
    feed(&f, "\r\n+CMS ERROR: 331\r\n", 1);
    assert_int_equal(f.nres, 1);
    assert_int_equal(f.res[0].final, AT_FINAL_CMS_ERROR);
    assert_int_equal(f.res[0].code, 331);
    assert_false(f.res[0].payload_written);
    /* A stale prompt afterwards writes nothing. */
    feed(&f, "\r\n> ", 2);
    written_is(&f, "");
    fx_free(&f);
}

/* ---------------------------------------------------------------- time */

static void test_lost_ok_timeout_then_resync(void **state)
{
    (void)state;
    for (size_t k = 0; k < NCHUNKS; k++) {
        struct fx f;
        fx_init(&f, chunks[k]);
        struct at_cmd csq = {.text = "AT+CSQ", .expect = "+CSQ:", .timeout_ms = 1000};
        assert_int_equal(at_chan_submit(f.ch, &csq, on_done, &f, 0), 0);
        submit(&f, "AT+CPMS?", "+CPMS:", NULL, 0, 0);   /* queued behind */
        written_is(&f, "AT+CSQ\r");
        feed(&f, "\r\n+CSQ: 17,0\r\n", 10);   /* ...and the OK is lost */
        assert_int_equal(at_chan_next_deadline(f.ch), 1000);
        at_chan_tick(f.ch, 999);
        assert_int_equal(f.nres, 0);
        at_chan_tick(f.ch, 1000);
        assert_int_equal(f.nres, 1);
        assert_int_equal(f.res[0].final, AT_FINAL_TIMEOUT);
        assert_false(f.res[0].payload_written);
        assert_int_equal(f.res[0].nlines, 1);   /* what did arrive is kept */
        written_is(&f, "\x1b\r");
        /* The late OK shows up before the probe: dropped. */
        feed(&f, "\r\nOK\r\n", 1050);
        assert_int_equal(f.nres, 1);
        at_chan_tick(f.ch, at_chan_next_deadline(f.ch));
        written_is(&f, "AT\r");
        feed(&f, "AT\r\r\nOK\r\n", 1150);
        /* A second stale OK inside the settle window is dropped too. */
        feed(&f, "\r\nOK\r\n", 1160);
        written_is(&f, "");
        sg_ms t = at_chan_next_deadline(f.ch);
        assert_int_equal(t, 1150 + 200);
        at_chan_tick(f.ch, t);
        assert_int_equal(f.resynced_ok, 1);
        written_is(&f, "AT+CPMS?\r");
        feed(&f, "\r\n+CPMS: \"SM\",3,30,\"SM\",3,30,\"SM\",3,30\r\n\r\nOK\r\n", t + 10);
        assert_int_equal(f.nres, 2);
        assert_int_equal(f.res[1].final, AT_FINAL_OK);
        assert_int_equal(f.res[1].nlines, 1);
        fx_free(&f);
    }
}

static void test_prompt_timeout_is_before_payload(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, 8);
    struct at_cmd c = {.text = "AT+CMGS=23", .payload = submit1, .expect = "+CMGS:",
                       .prompt_timeout_ms = 10000, .timeout_ms = 60000};
    assert_int_equal(at_chan_submit(f.ch, &c, on_done, &f, 100), 0);
    assert_int_equal(at_chan_next_deadline(f.ch), 10100);
    at_chan_tick(f.ch, 10100);
    assert_int_equal(f.nres, 1);
    assert_int_equal(f.res[0].final, AT_FINAL_TIMEOUT);
    assert_false(f.res[0].payload_written);
    written_is(&f, "AT+CMGS=23\r\x1b\r");
    fx_free(&f);
}

static void test_result_timeout_is_after_payload(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, 8);
    struct at_cmd c = {.text = "AT+CMGS=23", .payload = submit1, .expect = "+CMGS:",
                       .prompt_timeout_ms = 10000, .timeout_ms = 60000};
    assert_int_equal(at_chan_submit(f.ch, &c, on_done, &f, 0), 0);
    feed(&f, "\r\n> ", 500);
    /* The result deadline counts from the payload write. */
    assert_int_equal(at_chan_next_deadline(f.ch), 60500);
    at_chan_tick(f.ch, 60499);
    assert_int_equal(f.nres, 0);
    at_chan_tick(f.ch, 60500);
    assert_int_equal(f.nres, 1);
    assert_int_equal(f.res[0].final, AT_FINAL_TIMEOUT);
    assert_true(f.res[0].payload_written);   /* outcome unknown upstream */
    /* The late result still reaches the catch-all, so "unknown" can be
     * resolved to "sent"; its OK is swallowed by the resync. */
    assert_int_equal(at_chan_on_urc(f.ch, "", on_urc, &f), 0);
    feed(&f, "\r\n+CMGS: 47\r\n\r\nOK\r\n", 60550);
    assert_int_equal(f.nurc, 1);
    assert_string_equal(f.urcs[0].line, "+CMGS: 47");
    fx_free(&f);
}

static void test_resync_gives_up(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, 8);
    struct at_chan_resync rs = {.probe_timeout_ms = 1000, .probes = 3, .settle_ms = 100};
    at_chan_set_resync(f.ch, &rs);
    struct at_cmd c = {.text = "AT", .timeout_ms = 500};
    assert_int_equal(at_chan_submit(f.ch, &c, on_done, &f, 0), 0);
    submit(&f, "AT+CSQ", "+CSQ:", NULL, 0, 0);
    submit(&f, "AT+CREG?", "+CREG:", NULL, 0, 0);
    sg_ms t = 0;
    int ticks = 0;
    while (at_chan_next_deadline(f.ch) != SG_MS_NEVER && ticks < 20) {
        t = at_chan_next_deadline(f.ch);
        at_chan_tick(f.ch, t);
        ticks++;
    }
    assert_int_equal(f.resynced_fail, 1);
    assert_int_equal(f.nres, 3);
    assert_int_equal(f.res[0].final, AT_FINAL_TIMEOUT);
    assert_int_equal(f.res[1].final, AT_FINAL_ABORTED);
    assert_int_equal(f.res[2].final, AT_FINAL_ABORTED);
    written_is(&f, "AT\r\x1b\rAT\rAT\rAT\r");
    /* 500 (timeout) + 100 (escape delay) + 3 probes of 1000 ms */
    assert_int_equal(t, 3600);
    assert_false(at_chan_busy(f.ch));
    /* The channel still works once the modem is back. */
    submit(&f, "AT", NULL, NULL, 0, t);
    written_is(&f, "AT\r");
    feed(&f, "\r\nOK\r\n", t + 1);
    assert_int_equal(f.res[3].final, AT_FINAL_OK);
    fx_free(&f);
}

static void test_queue_one_in_flight_and_gap(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, 8);
    at_chan_set_gap(f.ch, 20);
    submit(&f, "ATE0", NULL, NULL, 0, 0);
    submit(&f, "AT+CMEE=1", NULL, NULL, 0, 0);
    submit(&f, "AT+CMGF=0", NULL, NULL, 0, 0);
    written_is(&f, "ATE0\r");
    feed(&f, "ATE0\r\r\nOK\r\n", 5);
    written_is(&f, "");   /* the gap: nothing before 25 */
    /* A line arriving while the next command is still unwritten is not its
     * reply: it goes to the catch-all. */
    assert_int_equal(at_chan_on_urc(f.ch, "", on_urc, &f), 0);
    feed(&f, "\r\n+CSQ: 3,0\r\n", 10);
    assert_int_equal(f.nurc, 1);
    assert_string_equal(f.urcs[0].line, "+CSQ: 3,0");
    assert_int_equal(at_chan_next_deadline(f.ch), 25);
    at_chan_tick(f.ch, 25);
    written_is(&f, "AT+CMEE=1\r");
    feed(&f, "\r\nOK\r\n", 30);
    at_chan_tick(f.ch, 50);
    written_is(&f, "AT+CMGF=0\r");
    feed(&f, "\r\nOK\r\n", 55);
    assert_int_equal(f.nres, 3);
    assert_int_equal(at_chan_next_deadline(f.ch), SG_MS_NEVER);
    fx_free(&f);
}

/* ---------------------------------------------------------------- resets */

static void test_reset_aborts_and_clears_framing(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, 8);
    submit(&f, "AT+CMGS=23", "+CMGS:", submit1, 0, 0);
    submit(&f, "AT+CSQ", "+CSQ:", NULL, 0, 0);
    feed(&f, "\r\n> ", 1);
    feed(&f, "\r\n+CMGS: 4", 2);   /* partial line, then the port is reopened */
    at_chan_reset(f.ch, 3);
    assert_int_equal(f.nres, 2);
    assert_int_equal(f.res[0].final, AT_FINAL_ABORTED);
    assert_true(f.res[0].payload_written);
    assert_int_equal(f.res[1].final, AT_FINAL_ABORTED);
    feed(&f, "7\r\n", 4);     /* the rest of the old line: just "7", a URC */
    submit(&f, "AT", NULL, NULL, 0, 5);
    feed(&f, "\r\nOK\r\n", 6);
    assert_int_equal(f.res[2].final, AT_FINAL_OK);
    assert_int_equal(f.res[2].nlines, 0);
    fx_free(&f);
}

static void test_reboot_urc_resets_from_handler(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, 1);
    f.reset_on_urc = true;
    submit(&f, "AT+CMGS=23", "+CMGS:", submit1, 0, 0);
    feed(&f, "\r\n> ", 1);
    /* EC25 reboots mid-send: RDY, then echo is back on. */
    feed(&f, "\r\nRDY\r\n", 2);
    assert_int_equal(f.nres, 1);
    assert_int_equal(f.res[0].final, AT_FINAL_ABORTED);
    assert_true(f.res[0].payload_written);
    f.reset_on_urc = false;
    submit(&f, "ATE0", NULL, NULL, 0, 3);
    feed(&f, "ATE0\r\r\nOK\r\n", 4);
    assert_int_equal(f.res[1].final, AT_FINAL_OK);
    fx_free(&f);
}

static void test_free_aborts_pending(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, 8);
    submit(&f, "AT+CSQ", "+CSQ:", NULL, 0, 0);
    submit(&f, "AT+CREG?", "+CREG:", NULL, 0, 0);
    at_chan_free(f.ch);
    assert_int_equal(f.nres, 2);
    assert_int_equal(f.res[0].final, AT_FINAL_ABORTED);
    assert_int_equal(f.res[1].final, AT_FINAL_ABORTED);
}

/* ---------------------------------------------------------------- misc */

static void test_submit_validation_and_caps(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, 8);
    struct at_cmd bad[] = {
        {.text = "AT\r+CSQ"},
        {.text = "AT+CMGS=1", .payload = "00zz"},
        {.text = ""},
        {.text = "AT\x1a"},
        {.text = "AT", .expect = ""},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(at_chan_submit(f.ch, &bad[i], on_done, &f, 0), -EINVAL);
    for (int i = 0; i < AT_CHAN_QUEUE_MAX; i++)
        submit(&f, "AT", NULL, NULL, 0, 0);
    struct at_cmd ok = {.text = "AT"};
    assert_int_equal(at_chan_submit(f.ch, &ok, on_done, &f, 0), -ENOSPC);
    fx_free(&f);
    assert_int_equal(f.nres, AT_CHAN_QUEUE_MAX);
}

static void test_write_failure(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, 8);
    f.write_rc = -EIO;
    submit(&f, "AT", NULL, NULL, 0, 0);
    assert_int_equal(f.nres, 1);
    assert_int_equal(f.res[0].final, AT_FINAL_ABORTED);
    assert_int_equal(f.res[0].write_err, -EIO);
    assert_false(at_chan_busy(f.ch));
    fx_free(&f);
}

static void test_reply_caps_truncate(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, 4096);
    submit(&f, "AT+CMGL=4", "+CMGL:", NULL, 0, 0);
    for (int i = 0; i < AT_CHAN_REPLY_LINES_MAX + 10; i++)
        feed(&f, "\r\n+CMGL: 1,1,,0\r\n", 1);
    feed(&f, "\r\nOK\r\n", 2);
    assert_int_equal(f.nres, 1);
    assert_int_equal(f.res[0].nlines, AT_CHAN_REPLY_LINES_MAX);
    assert_true(f.res[0].truncated);
    fx_free(&f);
}

static void test_overflow_mid_reply(void **state)
{
    (void)state;
    static char big[3000];
    struct fx f;
    struct at_chan_stats st;
    fx_init(&f, 8);
    memset(big, 'X', sizeof(big) - 1);
    submit(&f, "AT+CSQ", "+CSQ:", NULL, 0, 0);
    feed(&f, big, 1);
    feed(&f, "\r\n+CSQ: 17,0\r\n\r\nOK\r\n", 2);
    assert_int_equal(f.nres, 1);
    assert_int_equal(f.res[0].nlines, 1);
    at_chan_get_stats(f.ch, &st);
    assert_int_equal(st.overflows, 1);
    fx_free(&f);
}

static void test_done_submits_next(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, 8);
    struct at_cmd next = {.text = "AT+CMGD=3"};
    f.resubmit = &next;
    submit(&f, "AT+CMGR=3", "+CMGR:", NULL, 0, 0);
    feed(&f, "\r\n+CMGR: 1,,27\r\n0791447758100650040DD0F334FC1CA6970100008080312170224008D4F29CDE0EA7D9\r\n\r\nOK\r\n", 1);
    written_is(&f, "AT+CMGR=3\rAT+CMGD=3\r");
    feed(&f, "\r\nOK\r\n", 2);
    assert_int_equal(f.nres, 2);
    fx_free(&f);
}

static void test_send_raw_wakeup(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, 8);
    assert_int_equal(at_chan_on_urc(f.ch, "", on_urc, &f), 0);
    assert_int_equal(at_chan_send_raw(f.ch, "AT"), 0);
    written_is(&f, "AT\r");
    feed(&f, "AT\r\r\nOK\r\n", 1);
    assert_int_equal(f.nurc, 0);   /* echo and OK both swallowed */
    assert_int_equal(at_chan_send_raw(f.ch, "AT\rX"), -EINVAL);
    fx_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sim800_creg_urc_inside_csq_reply),
        cmocka_unit_test(test_echo_on_and_off),
        cmocka_unit_test(test_finals_table),
        cmocka_unit_test(test_call_finals_only_end_call_commands),
        cmocka_unit_test(test_identity_any_line),
        cmocka_unit_test(test_cmgr_and_cmgl_bodies),
        cmocka_unit_test(test_cmt_cds_urcs_with_pdu),
        cmocka_unit_test(test_cmgs_each_prompt_variant),
        cmocka_unit_test(test_sim800_ring_during_cmgs_with_echo),
        cmocka_unit_test(test_cms_error_before_prompt),
        cmocka_unit_test(test_lost_ok_timeout_then_resync),
        cmocka_unit_test(test_prompt_timeout_is_before_payload),
        cmocka_unit_test(test_result_timeout_is_after_payload),
        cmocka_unit_test(test_resync_gives_up),
        cmocka_unit_test(test_queue_one_in_flight_and_gap),
        cmocka_unit_test(test_reset_aborts_and_clears_framing),
        cmocka_unit_test(test_reboot_urc_resets_from_handler),
        cmocka_unit_test(test_free_aborts_pending),
        cmocka_unit_test(test_submit_validation_and_caps),
        cmocka_unit_test(test_write_failure),
        cmocka_unit_test(test_reply_caps_truncate),
        cmocka_unit_test(test_overflow_mid_reply),
        cmocka_unit_test(test_done_submits_next),
        cmocka_unit_test(test_send_raw_wakeup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
