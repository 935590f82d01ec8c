/*
 * A fake modem for the modem state machine tests: replies come from tables
 * of (command, final, info lines) taken from the real modems' manuals and
 * from modemsim's profiles; time is a fake clock advanced to the next reply,
 * URC or deadline; GPIO goes through the recording backend, and the fake
 * hardware toggles its power (and STATUS) when PWRKEY is held >= 1 s.
 * Header-only so each test binary stays one file.
 */
#ifndef TEST_MODEM_HARNESS_H
#define TEST_MODEM_HARNESS_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "drivers/gpio/gpio.h"
#include "drivers/modem/modem.h"

#define H_LINES 8
#define H_TABLES 4
#define H_MAXLOG 512
#define H_MAXEV 32
#define H_REPLY_DELAY 20

struct reply {
    const char *cmd;        /* exact, or a prefix when it ends with '*' */
    enum at_final final;
    int code;
    const char *lines[H_LINES];
    const char *pdus[H_LINES];
    int times;              /* 0 = always; n = first n matches, then later rows */
    bool payload_written;   /* TIMEOUT/ABORTED: the payload went out */
};

struct urc_at {
    sg_ms at;
    const char *line;
    const char *pdu;
};

struct hev {
    sg_ms at;
    struct modem_event ev;
    const struct reply *r;   /* AT_DONE */
};

struct harness {
    struct modem *m;
    struct modem_cfg cfg;
    sg_ms now;
    struct gpio *g;
    const struct reply *tables[H_TABLES];
    int used[H_TABLES][64];
    struct hev q[H_MAXEV];
    size_t nq;
    const struct urc_at *urcs;
    size_t nurcs, urc_next;

    /* fake hardware */
    bool powered;
    bool hung;             /* powered but silent (until power toggled) */
    bool cfun_fixes;       /* AT+CFUN=1,1 clears `hung` */
    bool port_absent;
    sg_ms pwrkey_since;

    /* records */
    char cmds[H_MAXLOG][MODEM_CMD_MAX];
    sg_ms cmd_at[H_MAXLOG];
    size_t ncmds;
    enum modem_state states[H_MAXLOG];
    char reasons[H_MAXLOG][MODEM_LOG_MAX];
    size_t nstates;
    char logs[H_MAXLOG][MODEM_LOG_MAX];
    sg_ms log_at[H_MAXLOG];
    size_t nlogs;
    struct modem_send_result sends[16];
    size_t nsends;
    struct {
        enum modem_act_type type;
        int index;
        char pdu[MODEM_PDU_HEX_MAX];
    } msgs[16];
    size_t nmsgs;
    unsigned opens, reopens, resyncs, signals, identities;
    bool auto_ack;         /* call modem_ack_stored for every inbound at once */
};

static sg_ms h_clock(void *ctx)
{
    return ((struct harness *)ctx)->now;
}

static void h_push(struct harness *h, sg_ms at, const struct modem_event *ev, const struct reply *r)
{
    assert_true(h->nq < H_MAXEV);
    h->q[h->nq].at = at;
    h->q[h->nq].ev = *ev;
    h->q[h->nq].r = r;
    h->nq++;
}

static bool h_match(const char *pat, const char *cmd)
{
    size_t n = strlen(pat);
    if (n && pat[n - 1] == '*')
        return strncmp(pat, cmd, n - 1) == 0;
    return strcmp(pat, cmd) == 0;
}

static const struct reply h_error = {"", AT_FINAL_ERROR, -1, {NULL}, {NULL}, 0, false};
static const struct reply h_silence = {"", AT_FINAL_TIMEOUT, -1, {NULL}, {NULL}, 0, false};
static const struct reply h_ok = {"", AT_FINAL_OK, -1, {NULL}, {NULL}, 0, false};

static const struct reply *h_lookup(struct harness *h, const char *cmd)
{
    for (int t = 0; t < H_TABLES && h->tables[t]; t++) {
        for (int i = 0; h->tables[t][i].cmd; i++) {
            const struct reply *r = &h->tables[t][i];
            if (!h_match(r->cmd, cmd))
                continue;
            if (r->times && h->used[t][i] >= r->times)
                continue;
            h->used[t][i]++;
            return r;
        }
    }
    return &h_error;
}

static void h_on_at(struct harness *h, const struct modem_action *a)
{
    /* The machine never has two commands out: only a reset (RESYNC, OPEN,
     * REOPEN, CLOSE, which empty the queue here) may abandon one. */
    for (size_t i = 0; i < h->nq; i++)
        if (h->q[i].ev.type == MODEM_EV_AT_DONE)
            fail_msg("'%s' submitted while '%s' is still out", a->u.at.text,
                     h->cmds[(h->ncmds - 1) % H_MAXLOG]);
    snprintf(h->cmds[h->ncmds % H_MAXLOG], MODEM_CMD_MAX, "%s", a->u.at.text);
    h->cmd_at[h->ncmds % H_MAXLOG] = h->now;
    h->ncmds++;
    struct modem_event ev = {.type = MODEM_EV_AT_DONE, .seq = a->seq};
    const struct reply *r;
    if (!h->powered || h->hung) {
        r = &h_silence;
        if (h->hung && h->cfun_fixes && strcmp(a->u.at.text, "AT+CFUN=1,1") == 0) {
            h->hung = false;
            r = &h_ok;
        }
    } else {
        r = h_lookup(h, a->u.at.text);
    }
    sg_ms delay = H_REPLY_DELAY;
    if (r->final == AT_FINAL_TIMEOUT) {
        delay = a->u.at.timeout_ms ? a->u.at.timeout_ms : 5000;
        if (a->u.at.payload && !r->payload_written)
            delay = a->u.at.prompt_timeout_ms ? a->u.at.prompt_timeout_ms : 10000;
    }
    h_push(h, h->now + delay, &ev, r);
}

static void h_on_gpio(struct harness *h, const struct modem_action *a)
{
    assert_non_null(h->g);
    assert_int_equal(gpio_set(h->g, a->u.gpio.role, a->u.gpio.asserted, NULL), 0);
    if (a->u.gpio.role != GPIO_PWRKEY)
        return;
    if (a->u.gpio.asserted) {
        /* A SIM800 that is off switches on ~1 s into the pulse and raises
         * STATUS 300 ms later, while the key is still held. */
        h->pwrkey_since = h->now;
        if (!h->powered && gpio_has(h->g, GPIO_STATUS))
            gpio_script_status(h->g, h->now + 1300, true);
        return;
    }
    if (h->now - h->pwrkey_since >= 1000) {
        /* On: a >= 1 s pulse switches it off at the release, STATUS falls
         * 300 ms later. Off: it came on during the pulse. */
        h->powered = !h->powered;
        h->hung = false;
        if (!h->powered && gpio_has(h->g, GPIO_STATUS))
            gpio_script_status(h->g, h->now + 300, false);
    }
}

static void h_step(struct harness *h, struct modem_event *ev);

static void h_actions(struct harness *h, const struct modem_actions *out)
{
    assert_false(out->overflow);
    for (size_t i = 0; i < out->n; i++) {
        const struct modem_action *a = &out->a[i];
        struct modem_event ev = {0};
        switch (a->type) {
        case MODEM_ACT_OPEN:
        case MODEM_ACT_REOPEN:
            if (a->type == MODEM_ACT_OPEN)
                h->opens++;
            else
                h->reopens++;
            h->nq = 0;   /* the channel is reset: pending replies are gone */
            ev.type = h->port_absent ? MODEM_EV_PORT_FAILED : MODEM_EV_PORT_OPENED;
            h_push(h, h->now, &ev, NULL);
            break;
        case MODEM_ACT_CLOSE:
            h->nq = 0;
            break;
        case MODEM_ACT_RESYNC:
            h->resyncs++;
            h->nq = 0;
            break;
        case MODEM_ACT_AT:
            if (getenv("H_DEBUG"))
                fprintf(stderr, "%8lld > %s\n", (long long)h->now, a->u.at.text);
            h_on_at(h, a);
            break;
        case MODEM_ACT_GPIO:
            h_on_gpio(h, a);
            break;
        case MODEM_ACT_STATE:
            h->states[h->nstates % H_MAXLOG] = a->u.state.to;
            snprintf(h->reasons[h->nstates % H_MAXLOG], MODEM_LOG_MAX, "%s", a->u.state.reason);
            h->nstates++;
            break;
        case MODEM_ACT_IDENTITY:
            h->identities++;
            break;
        case MODEM_ACT_SIGNAL:
            h->signals++;
            break;
        case MODEM_ACT_SEND_DONE:
            assert_true(h->nsends < 16);
            h->sends[h->nsends++] = a->u.send;
            break;
        case MODEM_ACT_INBOUND:
        case MODEM_ACT_REPORT:
            assert_true(h->nmsgs < 16);
            h->msgs[h->nmsgs].type = a->type;
            h->msgs[h->nmsgs].index = a->u.msg.index;
            snprintf(h->msgs[h->nmsgs].pdu, MODEM_PDU_HEX_MAX, "%s", a->u.msg.pdu);
            h->nmsgs++;
            if (h->auto_ack) {
                ev.type = MODEM_EV_STORED;
                ev.index = a->u.msg.index;
                h_push(h, h->now, &ev, NULL);
            }
            break;
        case MODEM_ACT_LOG:
            snprintf(h->logs[h->nlogs % H_MAXLOG], MODEM_LOG_MAX, "%s", a->u.log.text);
            h->log_at[h->nlogs % H_MAXLOG] = h->now;
            if (getenv("H_DEBUG"))
                fprintf(stderr, "%8lld %s\n", (long long)h->now, a->u.log.text);
            h->nlogs++;
            /* A PIN must never reach a log line. */
            if (h->cfg.pin && h->cfg.pin[0])
                assert_null(strstr(a->u.log.text, h->cfg.pin));
            break;
        }
    }
}

static void h_step(struct harness *h, struct modem_event *ev)
{
    struct modem_actions out;
    ev->gpio_status = h->g ? gpio_get_status(h->g) : -ENOENT;
    modem_step(h->m, ev, h->now, &out);
    h_actions(h, &out);
}

static void h_init(struct harness *h, const struct modem_vendor *v, const char *pin)
{
    memset(h, 0, sizeof(*h));
    h->cfg.vendor = v;
    h->cfg.pin = pin;
    h->powered = true;
    h->now = 1000;
}

static void h_gpio(struct harness *h, bool status)
{
    struct gpio_cfg gc;
    gpio_cfg_init(&gc);
    gc.pwrkey.offset = 1;
    if (status)
        gc.status.offset = 2;
    assert_int_equal(gpio_open_recording(&gc, h_clock, h, &h->g, NULL), 0);
    h->cfg.gpio_wired = GPIO_PWRKEY | (status ? GPIO_STATUS : 0u);
    h->cfg.timing = *gpio_seq_timing_for("sim800");
    if (status && h->powered)
        gpio_script_status(h->g, 0, true);
}

static void h_start(struct harness *h)
{
    h->m = modem_new(&h->cfg);
    assert_non_null(h->m);
    struct modem_event ev = {.type = MODEM_EV_START};
    h_step(h, &ev);
}

static void h_free(struct harness *h)
{
    modem_free(h->m);
    if (h->g)
        gpio_close(h->g);
}

/* Runs until `until` (absolute ms) or until stop(h) is true. */
static void h_run(struct harness *h, sg_ms until, bool (*stop)(struct harness *))
{
    for (int guard = 0; guard < 100000; guard++) {
        if (stop && stop(h))
            return;
        sg_ms t = SG_MS_NEVER;
        size_t qi = SIZE_MAX;
        for (size_t i = 0; i < h->nq; i++)
            if (h->q[i].at < t) {
                t = h->q[i].at;
                qi = i;
            }
        sg_ms tu = h->urc_next < h->nurcs ? h->urcs[h->urc_next].at : SG_MS_NEVER;
        sg_ms td = modem_next_deadline(h->m);
        sg_ms tmin = t;
        if (tu < tmin)
            tmin = tu;
        if (td < tmin)
            tmin = td;
        if (tmin == SG_MS_NEVER || tmin > until) {
            if (until != SG_MS_NEVER && h->now < until)
                h->now = until;
            return;
        }
        if (tmin > h->now)
            h->now = tmin;
        if (t == tmin && qi != SIZE_MAX) {
            struct hev e = h->q[qi];
            memmove(&h->q[qi], &h->q[qi + 1], (h->nq - qi - 1) * sizeof(h->q[0]));
            h->nq--;
            struct at_result res = {0};
            if (e.r) {
                res.final = e.r->final;
                res.code = e.r->code;
                res.payload_written = e.r->payload_written;
                for (size_t k = 0; k < H_LINES && e.r->lines[k]; k++)
                    res.nlines++;
                res.lines = e.r->lines;
                res.pdus = e.r->pdus;
                e.ev.res = &res;
            }
            h_step(h, &e.ev);
        } else if (tu == tmin) {
            const struct urc_at *u = &h->urcs[h->urc_next++];
            struct modem_event ev = {.type = MODEM_EV_URC, .line = u->line, .pdu = u->pdu};
            h_step(h, &ev);
        } else {
            struct modem_event ev = {.type = MODEM_EV_TIMER};
            h_step(h, &ev);
        }
    }
    fail_msg("harness: no progress");
}

static bool h_is_ready(struct harness *h)
{
    return modem_state(h->m) == MODEM_READY;
}

static bool h_is_failed(struct harness *h)
{
    return modem_state(h->m) == MODEM_FAILED;
}

static bool h_settled(struct harness *h)
{
    return h_is_ready(h) || h_is_failed(h);
}

static bool h_saw_state(const struct harness *h, enum modem_state s)
{
    for (size_t i = 0; i < h->nstates && i < H_MAXLOG; i++)
        if (h->states[i] == s)
            return true;
    return false;
}

static size_t h_find_state(const struct harness *h, enum modem_state s)
{
    for (size_t i = 0; i < h->nstates && i < H_MAXLOG; i++)
        if (h->states[i] == s)
            return i;
    fail_msg("state %s never reached", modem_state_name(s));
    return 0;
}

static bool h_recovered(struct harness *h)
{
    return h_is_ready(h) && h_saw_state(h, MODEM_RECOVERING);
}

static size_t h_count_cmd(const struct harness *h, const char *pat)
{
    size_t n = 0;
    for (size_t i = 0; i < h->ncmds && i < H_MAXLOG; i++)
        if (h_match(pat, h->cmds[i]))
            n++;
    return n;
}

/* Index of the first command matching pat at or after `from`, or -1. */
static long h_find_cmd(const struct harness *h, const char *pat, size_t from)
{
    for (size_t i = from; i < h->ncmds && i < H_MAXLOG; i++)
        if (h_match(pat, h->cmds[i]))
            return (long)i;
    return -1;
}

static long h_find_log(const struct harness *h, const char *needle, size_t from)
{
    for (size_t i = from; i < h->nlogs && i < H_MAXLOG; i++)
        if (strstr(h->logs[i], needle))
            return (long)i;
    return -1;
}


static void h_event(struct harness *h, enum modem_ev_type t)
{
    struct modem_event ev = {.type = t};
    h_step(h, &ev);
}

static void h_submit(struct harness *h, uint64_t id, int len, const char *hex)
{
    struct modem_job job = {.kind = MODEM_JOB_SMS, .id = id, .tpdu_len = len, .pdu_hex = hex};
    struct modem_event ev = {.type = MODEM_EV_JOB, .job = &job};
    h_step(h, &ev);
}

static void h_urc(struct harness *h, const char *line, const char *pdu)
{
    struct modem_event ev = {.type = MODEM_EV_URC, .line = line, .pdu = pdu};
    h_step(h, &ev);
}

#endif
