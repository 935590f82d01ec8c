#include "drivers/at/at_chan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "drivers/at/at_frame.h"
#include "drivers/at/at_parse.h"

#define URC_PREFIX_MAX 32
#define ESCAPE_DELAY_MS 100   /* after ESC CR, before the first "AT" probe */

enum chan_state {
    CH_IDLE,
    CH_WAIT_PROMPT,   /* command written, waiting for "> " */
    CH_WAIT_FINAL,    /* command (and payload) written */
    CH_RESYNC,        /* ESC CR written; probing with AT */
    CH_SETTLE,        /* probe answered; dropping late finals */
};

struct qcmd {
    char *text;
    char *payload;    /* NULL if none */
    char *expect;     /* NULL if none */
    sg_ms timeout_ms;
    sg_ms prompt_timeout_ms;
    unsigned flags;
    at_done_fn done;
    void *ud;
};

struct urc_handler {
    char prefix[URC_PREFIX_MAX + 1];
    at_urc_fn fn;
    void *ud;
};

struct at_chan {
    struct at_chan_ops ops;
    void *ctx;
    struct at_frame frame;

    struct qcmd *queue[AT_CHAN_QUEUE_MAX];  /* ring; queue[head] is next */
    size_t qhead, qlen;

    enum chan_state state;
    struct qcmd *cur;         /* in flight (WAIT_PROMPT / WAIT_FINAL) */
    bool payload_written;
    sg_ms deadline;           /* of the current state; SG_MS_NEVER if none */
    sg_ms ready_at;           /* earliest start of the next command (gap) */
    sg_ms gap_ms;

    struct at_chan_resync rs;
    unsigned probes_sent;

    int depth;                /* > 0 while inside a user callback */
    bool dying;

    /* Reply of the command in flight. */
    char arena[AT_CHAN_REPLY_BYTES_MAX];
    size_t arena_used;
    const char *lines[AT_CHAN_REPLY_LINES_MAX];
    const char *pdus[AT_CHAN_REPLY_LINES_MAX];
    size_t nlines;
    bool truncated;

    /* A PDU header waiting to see whether a PDU line follows. */
    char hdr[AT_FRAME_LINE_MAX + 1];
    bool hdr_pending;

    char raw_echo[AT_CHAN_TEXT_MAX + 1];  /* last at_chan_send_raw() text */

    struct urc_handler urc[AT_CHAN_URC_MAX];
    size_t nurc;

    struct at_chan_stats stats;
};

/* Lines that are unsolicited whatever is in flight; an AT_CMD_ANY_LINE
 * command (AT+CGMI, ATI...) must not collect them. Registered URC prefixes
 * count too. */
static const char *const known_urcs[] = {
    "RING", "+CRING:", "+CLIP:", "+CCWA:", "+CMTI:", "+CMT:", "+CDS:", "+CDSI:", "+CBM:",
    "+CREG:", "+CGREG:", "+CEREG:", "+CPIN:", "+CFUN:", "+CUSD:", "+CIEV:", "+CTZV:",
    "+CTZE:", "+CLCC:", "+QIND:", "+QUSIM:", "+QTONEDET:", "+QTTS:", "+CTTS:", "+DTMF:",
    "+RXDTMF:", "+PACSP", "*PSUTTZ", "DST:", "^RSSI:", "^BOOT:", "^MODE:", "^SRVST:",
    "^SIMST:", "^HCSQ:", "^DSFLOWRPT:", "^ORIG", "^CONF", "^CONN", "^CEND:", "^STIN:",
    "RDY", "Call Ready", "SMS Ready", "SMS DONE", "PB DONE", "NORMAL POWER DOWN",
    "UNDER-VOLTAGE", "OVER-VOLTAGE", "VOICE CALL:", "MO RING", "MO CONNECTED",
    "NO CARRIER", "BUSY", "NO ANSWER", "NO DIALTONE",
};

/* ---------------------------------------------------------------- helpers */

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool text_ok(const char *s, size_t max)
{
    size_t n = strlen(s);

    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\r' || c == '\n' || c == 0x1a || c == 0x1b)
            return false;
    }
    return true;
}

static bool hex_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    return n <= max && at_frame_is_hex(s, n);
}

static bool is_call_cmd(const char *text)
{
    return strncasecmp(text, "ATD", 3) == 0 || strcasecmp(text, "ATA") == 0 ||
           strncasecmp(text, "ATO", 3) == 0;
}

/* Does line start with one of the '|'-separated prefixes in list? */
static bool matches_expect(const char *line, const char *list)
{
    const char *p = list;

    while (*p) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        if (n > 0 && strncmp(line, p, n) == 0)
            return true;
        if (!bar)
            break;
        p = bar + 1;
    }
    return false;
}

static bool is_known_urc(const struct at_chan *chan, const char *line)
{
    for (size_t i = 0; i < sizeof(known_urcs) / sizeof(known_urcs[0]); i++)
        if (starts_with(line, known_urcs[i]))
            return true;
    for (size_t i = 0; i < chan->nurc; i++)
        if (chan->urc[i].prefix[0] && starts_with(line, chan->urc[i].prefix))
            return true;
    return false;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void qcmd_free(struct qcmd *q)
{
    if (!q)
        return;
    free(q->text);
    free(q->payload);
    free(q->expect);
    free(q);
}

static int chan_write(struct at_chan *chan, const void *buf, size_t len)
{
    return chan->ops.write(chan->ctx, (const uint8_t *)buf, len);
}

static void reply_clear(struct at_chan *chan)
{
    chan->arena_used = 0;
    chan->nlines = 0;
    chan->truncated = false;
}

static const char *arena_put(struct at_chan *chan, const char *s)
{
    size_t n = strlen(s) + 1;

    if (n > sizeof(chan->arena) - chan->arena_used)
        return NULL;
    char *dst = chan->arena + chan->arena_used;
    memcpy(dst, s, n);
    chan->arena_used += n;
    return dst;
}

static void collect(struct at_chan *chan, const char *line, const char *pdu)
{
    size_t mark = chan->arena_used;

    if (chan->nlines >= AT_CHAN_REPLY_LINES_MAX) {
        chan->truncated = true;
        return;
    }
    const char *l = arena_put(chan, line);
    const char *p = pdu ? arena_put(chan, pdu) : NULL;
    if (!l || (pdu && !p)) {
        chan->arena_used = mark;
        chan->truncated = true;
        return;
    }
    chan->lines[chan->nlines] = l;
    chan->pdus[chan->nlines] = p;
    chan->nlines++;
}

/* ---------------------------------------------------------------- completion */

static void call_done(struct at_chan *chan, struct qcmd *q, struct at_result *res)
{
    if (q->done) {
        chan->depth++;
        q->done(q->ud, res);
        chan->depth--;
    }
    qcmd_free(q);
}

static void fail_cmd(struct at_chan *chan, struct qcmd *q, enum at_final final, bool written,
                     int write_err)
{
    struct at_result res = {
        .final = final,
        .code = -1,
        .payload_written = written,
        .write_err = write_err,
        .lines = NULL,
        .pdus = NULL,
    };
    call_done(chan, q, &res);
}

/* The command in flight ended. `final_line` NULL for timeout/abort. */
static void complete(struct at_chan *chan, enum at_final final, int code, const char *final_line,
                     sg_ms now)
{
    struct qcmd *q = chan->cur;
    struct at_result res = {
        .final = final,
        .code = code,
        .payload_written = chan->payload_written,
        .truncated = chan->truncated,
        .nlines = chan->nlines,
        .lines = chan->lines,
        .pdus = chan->pdus,
        .final_line = final_line,
    };

    for (size_t i = 0; i < chan->nlines; i++) {
        if (chan->pdus[i]) {
            res.pdu = chan->pdus[i];
            break;
        }
    }
    chan->cur = NULL;
    chan->payload_written = false;
    if (chan->state == CH_WAIT_PROMPT || chan->state == CH_WAIT_FINAL) {
        chan->state = CH_IDLE;
        chan->deadline = SG_MS_NEVER;
    }
    chan->ready_at = now + chan->gap_ms;
    /* reply_clear() runs when the next command starts, so res stays valid
     * for the whole callback even if it submits. */
    call_done(chan, q, &res);
}

static struct qcmd *queue_pop(struct at_chan *chan)
{
    if (chan->qlen == 0)
        return NULL;
    struct qcmd *q = chan->queue[chan->qhead];
    chan->queue[chan->qhead] = NULL;
    chan->qhead = (chan->qhead + 1) % AT_CHAN_QUEUE_MAX;
    chan->qlen--;
    return q;
}

/* Fail everything queued at this moment; commands submitted from these
 * callbacks stay queued. */
static void abort_queue(struct at_chan *chan, enum at_final final)
{
    struct qcmd *taken[AT_CHAN_QUEUE_MAX];
    size_t n = 0;
    struct qcmd *q;

    while ((q = queue_pop(chan)) != NULL)
        taken[n++] = q;
    for (size_t i = 0; i < n; i++)
        fail_cmd(chan, taken[i], final, false, 0);
}

/* ---------------------------------------------------------------- sending */

static void pump(struct at_chan *chan, sg_ms now)
{
    char buf[AT_CHAN_TEXT_MAX + 2];

    while (chan->depth == 0 && !chan->dying && chan->state == CH_IDLE && chan->qlen > 0 &&
           now >= chan->ready_at) {
        struct qcmd *q = queue_pop(chan);
        size_t n = strlen(q->text);

        memcpy(buf, q->text, n);
        buf[n++] = '\r';
        reply_clear(chan);
        int rc = chan_write(chan, buf, n);
        if (rc < 0) {
            fail_cmd(chan, q, AT_FINAL_ABORTED, false, rc);
            continue;
        }
        chan->cur = q;
        chan->payload_written = false;
        if (q->payload) {
            chan->state = CH_WAIT_PROMPT;
            chan->deadline = now + q->prompt_timeout_ms;
        } else {
            chan->state = CH_WAIT_FINAL;
            chan->deadline = now + q->timeout_ms;
        }
    }
}

static void send_probe(struct at_chan *chan, sg_ms now)
{
    static const char probe[] = "AT\r";

    chan->probes_sent++;
    (void)chan_write(chan, probe, sizeof(probe) - 1);
    chan->deadline = now + chan->rs.probe_timeout_ms;
}

static void start_resync(struct at_chan *chan, sg_ms now)
{
    static const char esc_cr[] = "\x1b\r";

    /* ESC cancels a pending prompt (Quectel answers OK); CR ends whatever
     * half-line the modem has buffered. Replies to both are stale. */
    (void)chan_write(chan, esc_cr, sizeof(esc_cr) - 1);
    chan->state = CH_RESYNC;
    chan->probes_sent = 0;
    chan->deadline = now + ESCAPE_DELAY_MS;
}

static void resync_finished(struct at_chan *chan, bool ok, sg_ms now)
{
    chan->state = CH_IDLE;
    chan->deadline = SG_MS_NEVER;
    chan->ready_at = now + chan->gap_ms;
    if (ok) {
        chan->stats.resyncs_ok++;
    } else {
        chan->stats.resyncs_failed++;
        abort_queue(chan, AT_FINAL_ABORTED);
    }
    if (chan->ops.resynced) {
        chan->depth++;
        chan->ops.resynced(chan->ctx, ok);
        chan->depth--;
    }
}

static void on_prompt(struct at_chan *chan, sg_ms now)
{
    char buf[AT_CHAN_PAYLOAD_MAX + 1];

    if (chan->state != CH_WAIT_PROMPT)
        return;   /* a stale prompt, e.g. left by ESC CR (gammu) */
    size_t n = strlen(chan->cur->payload);
    memcpy(buf, chan->cur->payload, n);
    buf[n++] = 0x1a;
    int rc = chan_write(chan, buf, n);
    if (rc < 0) {
        struct qcmd *q = chan->cur;
        chan->cur = NULL;
        chan->state = CH_IDLE;
        chan->deadline = SG_MS_NEVER;
        fail_cmd(chan, q, AT_FINAL_ABORTED, false, rc);
        return;
    }
    chan->payload_written = true;
    chan->state = CH_WAIT_FINAL;
    chan->deadline = now + chan->cur->timeout_ms;
}

/* ---------------------------------------------------------------- receiving */

static void route_urc(struct at_chan *chan, const char *line, const char *pdu)
{
    const struct urc_handler *best = NULL;
    size_t best_len = 0;

    chan->stats.urcs++;
    for (size_t i = 0; i < chan->nurc; i++) {
        size_t n = strlen(chan->urc[i].prefix);
        if (strncmp(line, chan->urc[i].prefix, n) == 0 && (!best || n > best_len)) {
            best = &chan->urc[i];
            best_len = n;
        }
    }
    if (!best) {
        chan->stats.urcs_unhandled++;
        return;
    }
    at_urc_fn fn = best->fn;
    void *ud = best->ud;
    chan->depth++;
    fn(ud, line, pdu);
    chan->depth--;
}

static bool is_echo(const struct at_chan *chan, const char *line)
{
    const struct qcmd *q = chan->cur;

    if (strcasecmp(line, q->text) == 0)
        return true;
    /* The typed payload comes back after the prompt; Ctrl-Z is dropped by
     * the framer. */
    return q->payload && chan->state == CH_WAIT_FINAL && strcasecmp(line, q->payload) == 0;
}

static void dispatch_in_flight(struct at_chan *chan, const char *line, const char *pdu, sg_ms now)
{
    const struct qcmd *q = chan->cur;
    enum at_final final;
    int code;
    bool call_only;

    if (!pdu && is_echo(chan, line)) {
        chan->stats.echoes++;
        return;
    }
    if (!pdu && at_parse_final(line, &final, &code, &call_only) &&
        (!call_only || (q->flags & AT_CMD_CALL_FINALS))) {
        complete(chan, final, code, line, now);
        return;
    }
    if ((q->expect && matches_expect(line, q->expect)) ||
        ((q->flags & AT_CMD_ANY_LINE) && !is_known_urc(chan, line))) {
        collect(chan, line, pdu);
        return;
    }
    route_urc(chan, line, pdu);
}

static void dispatch_resync(struct at_chan *chan, const char *line, const char *pdu, sg_ms now)
{
    enum at_final final;
    bool call_only;

    if (!pdu && strcasecmp(line, "AT") == 0) {
        chan->stats.echoes++;
        return;
    }
    if (!pdu && at_parse_final(line, &final, NULL, &call_only) && !call_only) {
        if (chan->state == CH_RESYNC && chan->probes_sent > 0 && final == AT_FINAL_OK) {
            chan->state = CH_SETTLE;
            chan->deadline = now + chan->rs.settle_ms;
        }
        return;   /* stale finals: the timed-out command's, ESC's, CR's */
    }
    route_urc(chan, line, pdu);
}

static void dispatch(struct at_chan *chan, const char *line, const char *pdu, sg_ms now)
{
    bool call_only;

    chan->stats.lines++;
    switch (chan->state) {
    case CH_WAIT_PROMPT:
    case CH_WAIT_FINAL:
        dispatch_in_flight(chan, line, pdu, now);
        return;
    case CH_RESYNC:
    case CH_SETTLE:
        dispatch_resync(chan, line, pdu, now);
        return;
    case CH_IDLE:
        break;
    }
    if (!pdu && chan->raw_echo[0] && strcasecmp(line, chan->raw_echo) == 0) {
        chan->stats.echoes++;
        return;
    }
    /* OK/ERROR with nothing in flight answer a raw line or are stale. */
    if (!pdu && at_parse_final(line, NULL, NULL, &call_only) && !call_only)
        return;
    route_urc(chan, line, pdu);
}

static void flush_header(struct at_chan *chan, sg_ms now)
{
    if (chan->hdr_pending) {
        chan->hdr_pending = false;
        dispatch(chan, chan->hdr, NULL, now);
    }
}

static void on_token(struct at_chan *chan, const struct at_frame_token *tok, sg_ms now)
{
    switch (tok->type) {
    case AT_FRAME_NONE:
        return;
    case AT_FRAME_PDU_HEADER:
        flush_header(chan, now);
        memcpy(chan->hdr, tok->text, tok->len + 1);
        chan->hdr_pending = true;
        return;
    case AT_FRAME_PDU:
        if (chan->hdr_pending) {
            chan->hdr_pending = false;
            dispatch(chan, chan->hdr, tok->text, now);
        } else {
            dispatch(chan, tok->text, NULL, now);
        }
        return;
    case AT_FRAME_LINE:
        flush_header(chan, now);
        dispatch(chan, tok->text, NULL, now);
        return;
    case AT_FRAME_PROMPT:
        flush_header(chan, now);
        on_prompt(chan, now);
        return;
    case AT_FRAME_OVERFLOW:
        flush_header(chan, now);
        chan->stats.overflows++;
        return;
    }
}

/* ---------------------------------------------------------------- public */

struct at_chan *at_chan_new(const struct at_chan_ops *ops, void *ctx)
{
    if (!ops || !ops->write)
        return NULL;
    struct at_chan *chan = calloc(1, sizeof(*chan));
    if (!chan)
        return NULL;
    chan->ops = *ops;
    chan->ctx = ctx;
    at_frame_init(&chan->frame);
    chan->state = CH_IDLE;
    chan->deadline = SG_MS_NEVER;
    chan->ready_at = 0;
    chan->rs.probe_timeout_ms = 1000;
    chan->rs.probes = 5;
    chan->rs.settle_ms = 200;
    return chan;
}

void at_chan_free(struct at_chan *chan)
{
    if (!chan)
        return;
    chan->dying = true;
    if (chan->cur) {
        struct qcmd *q = chan->cur;
        chan->cur = NULL;
        fail_cmd(chan, q, AT_FINAL_ABORTED, chan->payload_written, 0);
    }
    abort_queue(chan, AT_FINAL_ABORTED);
    free(chan);
}

void at_chan_feed(struct at_chan *chan, const uint8_t *buf, size_t len, sg_ms now)
{
    struct at_frame_token tok;

    while (len > 0) {
        size_t n = at_frame_push(&chan->frame, buf, len, &tok);
        buf += n;
        len -= n;
        on_token(chan, &tok, now);
    }
    pump(chan, now);
}

int at_chan_submit(struct at_chan *chan, const struct at_cmd *cmd, at_done_fn done, void *ud,
                   sg_ms now)
{
    if (!chan || !cmd || !cmd->text || !text_ok(cmd->text, AT_CHAN_TEXT_MAX))
        return -EINVAL;
    if (cmd->payload && !hex_ok(cmd->payload, AT_CHAN_PAYLOAD_MAX))
        return -EINVAL;
    if (cmd->expect && (strlen(cmd->expect) == 0 || strlen(cmd->expect) > AT_CHAN_EXPECT_MAX))
        return -EINVAL;
    if (cmd->timeout_ms < 0 || cmd->prompt_timeout_ms < 0)
        return -EINVAL;
    if (chan->dying)
        return -ESHUTDOWN;
    if (chan->qlen + (chan->cur ? 1 : 0) >= AT_CHAN_QUEUE_MAX)
        return -ENOSPC;

    struct qcmd *q = calloc(1, sizeof(*q));
    if (!q)
        return -ENOMEM;
    q->text = strdup(cmd->text);
    q->payload = dup_or_null(cmd->payload);
    q->expect = dup_or_null(cmd->expect);
    if (!q->text || (cmd->payload && !q->payload) || (cmd->expect && !q->expect)) {
        qcmd_free(q);
        return -ENOMEM;
    }
    q->timeout_ms = cmd->timeout_ms ? cmd->timeout_ms : AT_CHAN_DEFAULT_TIMEOUT_MS;
    q->prompt_timeout_ms =
        cmd->prompt_timeout_ms ? cmd->prompt_timeout_ms : AT_CHAN_DEFAULT_PROMPT_TIMEOUT_MS;
    q->flags = cmd->flags;
    if (is_call_cmd(cmd->text))
        q->flags |= AT_CMD_CALL_FINALS;
    q->done = done;
    q->ud = ud;
    chan->queue[(chan->qhead + chan->qlen) % AT_CHAN_QUEUE_MAX] = q;
    chan->qlen++;
    pump(chan, now);
    return 0;
}

sg_ms at_chan_next_deadline(const struct at_chan *chan)
{
    if (chan->state != CH_IDLE)
        return chan->deadline;
    if (chan->qlen > 0)
        return chan->ready_at;
    return SG_MS_NEVER;
}

void at_chan_tick(struct at_chan *chan, sg_ms now)
{
    if (chan->depth > 0 || chan->dying)
        return;
    if (chan->state != CH_IDLE && now >= chan->deadline) {
        switch (chan->state) {
        case CH_WAIT_PROMPT:
        case CH_WAIT_FINAL: {
            bool resync = !(chan->cur->flags & AT_CMD_NO_RESYNC);
            chan->stats.timeouts++;
            if (resync) {
                start_resync(chan, now);
            } else {
                chan->state = CH_IDLE;
                chan->deadline = SG_MS_NEVER;
            }
            complete(chan, AT_FINAL_TIMEOUT, -1, NULL, now);
            break;
        }
        case CH_RESYNC:
            if (chan->probes_sent >= chan->rs.probes)
                resync_finished(chan, false, now);
            else
                send_probe(chan, now);
            break;
        case CH_SETTLE:
            resync_finished(chan, true, now);
            break;
        case CH_IDLE:
            break;
        }
    }
    pump(chan, now);
}

int at_chan_on_urc(struct at_chan *chan, const char *prefix, at_urc_fn fn, void *ud)
{
    if (!chan || !prefix || !fn || strlen(prefix) > URC_PREFIX_MAX)
        return -EINVAL;
    for (size_t i = 0; i < chan->nurc; i++) {
        if (strcmp(chan->urc[i].prefix, prefix) == 0) {
            chan->urc[i].fn = fn;
            chan->urc[i].ud = ud;
            return 0;
        }
    }
    if (chan->nurc >= AT_CHAN_URC_MAX)
        return -ENOSPC;
    struct urc_handler *h = &chan->urc[chan->nurc++];
    memcpy(h->prefix, prefix, strlen(prefix) + 1);
    h->fn = fn;
    h->ud = ud;
    return 0;
}

int at_chan_off_urc(struct at_chan *chan, const char *prefix)
{
    for (size_t i = 0; i < chan->nurc; i++) {
        if (strcmp(chan->urc[i].prefix, prefix) == 0) {
            chan->urc[i] = chan->urc[chan->nurc - 1];
            chan->nurc--;
            return 0;
        }
    }
    return -ENOENT;
}

void at_chan_reset(struct at_chan *chan, sg_ms now)
{
    at_frame_reset(&chan->frame);
    chan->hdr_pending = false;
    chan->raw_echo[0] = '\0';
    chan->state = CH_IDLE;
    chan->deadline = SG_MS_NEVER;
    chan->ready_at = now;
    if (chan->cur) {
        struct qcmd *q = chan->cur;
        bool written = chan->payload_written;
        chan->cur = NULL;
        chan->payload_written = false;
        fail_cmd(chan, q, AT_FINAL_ABORTED, written, 0);
    }
    abort_queue(chan, AT_FINAL_ABORTED);
    pump(chan, now);
}

int at_chan_send_raw(struct at_chan *chan, const char *text)
{
    char buf[AT_CHAN_TEXT_MAX + 2];

    if (!chan || !text || !text_ok(text, AT_CHAN_TEXT_MAX))
        return -EINVAL;
    size_t n = strlen(text);
    memcpy(chan->raw_echo, text, n + 1);
    memcpy(buf, text, n + 1);
    buf[n] = '\r';
    return chan_write(chan, buf, n + 1);
}

void at_chan_set_gap(struct at_chan *chan, sg_ms gap_ms)
{
    chan->gap_ms = gap_ms < 0 ? 0 : gap_ms;
}

void at_chan_set_resync(struct at_chan *chan, const struct at_chan_resync *rs)
{
    chan->rs = *rs;
    if (chan->rs.probes == 0)
        chan->rs.probes = 1;
}

bool at_chan_busy(const struct at_chan *chan)
{
    return chan->state != CH_IDLE;
}

void at_chan_get_stats(const struct at_chan *chan, struct at_chan_stats *out)
{
    *out = chan->stats;
}

const char *at_final_name(enum at_final final)
{
    switch (final) {
    case AT_FINAL_OK: return "OK";
    case AT_FINAL_ERROR: return "ERROR";
    case AT_FINAL_CMS_ERROR: return "CMS ERROR";
    case AT_FINAL_CME_ERROR: return "CME ERROR";
    case AT_FINAL_NO_CARRIER: return "NO CARRIER";
    case AT_FINAL_BUSY: return "BUSY";
    case AT_FINAL_NO_ANSWER: return "NO ANSWER";
    case AT_FINAL_NO_DIALTONE: return "NO DIALTONE";
    case AT_FINAL_CONNECT: return "CONNECT";
    case AT_FINAL_TIMEOUT: return "timeout";
    case AT_FINAL_ABORTED: return "aborted";
    }
    return "?";
}
