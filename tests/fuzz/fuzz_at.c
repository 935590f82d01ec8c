/*
 * libFuzzer target for the AT layer: framing, channel and the URC/reply
 * parsers, all fed from one fuzzed byte stream.
 *
 * The input is a little program: each step takes one op byte.
 *   op % 16 == 0   submit one of a few commands (CSQ, CMGS with payload, CMGR,
 *                  CGMI any-line, ATD, CPMS), chosen by the next byte
 *   op % 16 == 1   advance the clock by next byte * 50 ms and tick
 *   op % 64 == 2   at_chan_reset()
 *   op % 64 == 34  at_chan_send_raw("AT")
 *   otherwise      feed the next (op >> 4) + 1 bytes as modem output
 * Every line reaching a URC handler or a done() is run through every parser.
 * Property checked: the framer yields the same tokens for the whole input fed
 * at once and fed one byte at a time.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/at/at_chan.h"
#include "drivers/at/at_frame.h"
#include "drivers/at/at_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fz {
    struct at_chan *ch;
    size_t written;
    unsigned done_calls;
};

static int fz_write(void *ctx, const uint8_t *buf, size_t len)
{
    struct fz *f = ctx;
    (void)buf;
    f->written += len;
    return 0;
}

static void parse_all(const char *line, const char *pdu)
{
    struct at_reg reg;
    struct at_csq csq;
    enum at_cpin cpin;
    struct at_cpms cpms;
    struct at_mem_index mi;
    struct at_cmgr cmgr;
    struct at_cmgl cmgl;
    struct at_clcc clcc;
    struct at_cops cops;
    struct at_cnum cnum;
    struct at_csca csca;
    enum at_final final;
    char buf[64], alpha[AT_ALPHA_MAX];
    int v, code;
    bool call;

    (void)at_parse_reg(line, &reg);
    (void)at_parse_creg_read(line, &reg);
    (void)at_parse_creg_urc(line, &reg);
    (void)at_parse_cgreg_read(line, &reg);
    (void)at_parse_cereg_urc(line, &reg);
    if (at_parse_csq(line, &csq) == 0 && csq.has_dbm && (csq.dbm < -113 || csq.dbm > -51))
        abort();
    (void)at_parse_cpin(line, &cpin);
    if (at_parse_cpms(line, &cpms) == 0 && (cpms.nmem < 1 || cpms.nmem > 3))
        abort();
    if (at_parse_cmgs(line, &v) == 0 && (v < 0 || v > 255))
        abort();
    (void)at_parse_cmti(line, &mi);
    (void)at_parse_cdsi(line, &mi);
    (void)at_parse_cmt_header(line, &v, alpha, sizeof(alpha));
    (void)at_parse_cds_header(line, &v);
    (void)at_parse_cmgr_header(line, &cmgr);
    (void)at_parse_cmgl_header(line, &cmgl);
    (void)at_parse_clcc(line, &clcc);
    (void)at_parse_cops(line, &cops);
    (void)at_parse_cgmi(line, buf, sizeof(buf));
    (void)at_parse_cgmm(line, buf, sizeof(buf));
    (void)at_parse_cgmr(line, buf, sizeof(buf));
    (void)at_parse_cgsn(line, buf, sizeof(buf));
    if (at_parse_ccid(line, buf, sizeof(buf)) == 0 && (strlen(buf) < 18 || strlen(buf) > 22))
        abort();
    (void)at_parse_cimi(line, buf, sizeof(buf));
    (void)at_parse_cnum(line, &cnum);
    (void)at_parse_csca(line, &csca);
    if (at_parse_final(line, &final, &code, &call)) {
        (void)at_cms_class(code, "siemens");
        (void)at_cme_class(code, NULL);
    }
    if (pdu && strlen(pdu) == 0)
        abort();   /* a PDU body is never empty */
}

static void fz_urc(void *ud, const char *line, const char *pdu)
{
    (void)ud;
    parse_all(line, pdu);
}

static void fz_done(void *ud, const struct at_result *r)
{
    struct fz *f = ud;
    f->done_calls++;
    for (size_t i = 0; i < r->nlines; i++)
        parse_all(r->lines[i], r->pdus[i]);
    if (r->final_line)
        parse_all(r->final_line, NULL);
}

static void check_framer_split_invariance(const uint8_t *data, size_t size)
{
    struct at_frame *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
    struct at_frame_token ta, tb;
    char *saved = malloc(AT_FRAME_LINE_MAX + 1);
    size_t ia = 0, ib = 0;

    if (!a || !b || !saved)
        abort();
    at_frame_init(a);
    at_frame_init(b);
    for (;;) {
        /* next token from the whole-buffer framer */
        ta.type = AT_FRAME_NONE;
        while (ia < size && ta.type == AT_FRAME_NONE)
            ia += at_frame_push(a, data + ia, size - ia, &ta);
        if (ta.type != AT_FRAME_NONE)
            memcpy(saved, ta.text, ta.len + 1);
        /* next token from the byte-at-a-time framer */
        tb.type = AT_FRAME_NONE;
        while (ib < size && tb.type == AT_FRAME_NONE)
            ib += at_frame_push(b, data + ib, 1, &tb);
        if (ta.type != tb.type || (ta.type != AT_FRAME_NONE && strcmp(saved, tb.text) != 0))
            abort();
        if (ta.type == AT_FRAME_NONE)
            break;
        if (tb.len > AT_FRAME_LINE_MAX || strlen(tb.text) != tb.len)
            abort();
    }
    free(a);
    free(b);
    free(saved);
}

static const struct at_cmd cmds[] = {
    {.text = "AT+CSQ", .expect = "+CSQ:", .timeout_ms = 1000},
    {.text = "AT+CMGS=23", .expect = "+CMGS:",
     .payload = "0011000B916407281553F80000AA0AE8329BFD4697D9EC37", .timeout_ms = 3000,
     .prompt_timeout_ms = 1000},
    {.text = "AT+CMGR=1", .expect = "+CMGR:", .timeout_ms = 1000},
    {.text = "AT+CGMI", .flags = AT_CMD_ANY_LINE, .timeout_ms = 500},
    {.text = "ATD+491701234567;", .timeout_ms = 2000},
    {.text = "AT+CPMS?", .expect = "+CPMS:|+CMS ERROR:", .timeout_ms = 800},
    {.text = "AT+CMGL=4", .expect = "+CMGL:", .timeout_ms = 1000, .flags = AT_CMD_NO_RESYNC},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct at_chan_ops ops = {.write = fz_write};
    static const char *const prefixes[] = {"+CREG:", "+CGREG:", "+CEREG:", "+CMTI:", "+CMT:",
                                           "+CDS:", "+CDSI:", "RING", "+CLCC:", "RDY", ""};
    struct fz f = {0};
    sg_ms now = 0;
    size_t i = 0;

    check_framer_split_invariance(data, size);

    f.ch = at_chan_new(&ops, &f);
    if (!f.ch)
        return 0;
    for (size_t p = 0; p < sizeof(prefixes) / sizeof(prefixes[0]); p++)
        if (at_chan_on_urc(f.ch, prefixes[p], fz_urc, &f) != 0)
            abort();
    at_chan_set_gap(f.ch, 20);

    while (i < size) {
        uint8_t op = data[i++];
        if (op % 16 == 0) {
            uint8_t which = i < size ? data[i++] : 0;
            (void)at_chan_submit(f.ch, &cmds[which % (sizeof(cmds) / sizeof(cmds[0]))], fz_done,
                                 &f, now);
        } else if (op % 16 == 1) {
            now += (sg_ms)(i < size ? data[i++] : 1) * 50;
            at_chan_tick(f.ch, now);
            /* An idle channel whose next command is due must have sent it. */
            if (!at_chan_busy(f.ch) && at_chan_next_deadline(f.ch) <= now)
                abort();
        } else if (op % 64 == 2) {
            at_chan_reset(f.ch, now);
        } else if (op % 64 == 34) {
            (void)at_chan_send_raw(f.ch, "AT");
        } else {
            size_t n = (size_t)(op >> 4) + 1;
            if (n > size - i)
                n = size - i;
            at_chan_feed(f.ch, data + i, n, now);
            i += n;
        }
    }
    /* Drain: every queued command must finish in bounded time (at most a
     * few ticks per queued command: timeout, gap, resync steps). */
    for (int k = 0; k < 4096 && at_chan_next_deadline(f.ch) != SG_MS_NEVER; k++) {
        sg_ms dl = at_chan_next_deadline(f.ch);
        now = dl > now ? dl : now;
        at_chan_tick(f.ch, now);
    }
    if (at_chan_next_deadline(f.ch) != SG_MS_NEVER)
        abort();
    at_chan_free(f.ch);
    return 0;
}
