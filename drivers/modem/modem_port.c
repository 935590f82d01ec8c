/*
 * modem_port: the thin glue between serial, at_chan, gpio and the modem state
 * machine. Everything that decides lives in modem.c; this file only carries
 * events in and actions out.
 *
 * Re-entrancy: carrying out an action can produce an event (a port that
 * opened, a command aborted by at_chan_reset). Such events are queued and
 * fed after the current step's actions are done, so modem_step never runs
 * inside itself. A queued AT result keeps only its scalar fields: the ones
 * produced that way are aborts, which carry no lines.
 */
#include "drivers/modem/modem_port.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/at/at_chan.h"
#include "drivers/serial/serial.h"

#define PORT_EVQ_MAX 32
#define PORT_READ_CHUNK 1024
#define PORT_READS_PER_CALL 16   /* bound the time spent per readable event */

struct at_slot {
    struct modem_port *p;
    uint32_t seq;
};

struct queued_ev {
    struct modem_event ev;
    struct at_result res;
    struct modem_job job;
    char hex[MODEM_PDU_HEX_MAX];
};

struct modem_port {
    char id[32];
    char path[256];
    struct modem_port_cfg cfg;
    struct modem_port_cbs cbs;
    void *ud;

    struct serial *ser;
    struct at_chan *chan;
    struct modem *m;
    struct gpio *gpio;
    bool own_gpio;

    struct at_slot slots[AT_CHAN_QUEUE_MAX];
    unsigned next_slot;

    struct queued_ev q[PORT_EVQ_MAX];
    size_t qn;
    bool in_step;
    bool gone_pending;   /* a write found the device gone */
    int last_fd;

    modem_port_send_cb send_cb;
    void *send_ud;

    sg_ms now;
};

/* ------------------------------------------------------------ logging */

__attribute__((format(printf, 3, 4))) static void plog(struct modem_port *p,
                                                       enum modem_log_level lv, const char *fmt,
                                                       ...)
{
    if (!p->cbs.log)
        return;
    char body[MODEM_LOG_MAX + 64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof(body), fmt, ap);
    va_end(ap);
    char line[MODEM_LOG_MAX + 128];
    snprintf(line, sizeof(line), "modem=%s %s", p->id, body);
    p->cbs.log(p->ud, p, lv, line);
}

static void check_fd(struct modem_port *p)
{
    int fd = modem_port_fd(p);
    if (fd != p->last_fd) {
        int old = p->last_fd;
        p->last_fd = fd;
        if (p->cbs.fd_changed)
            p->cbs.fd_changed(p->ud, p, old, fd);
    }
}

/* ------------------------------------------------------------ events */

static void do_actions(struct modem_port *p, const struct modem_actions *acts);

static int gpio_status(struct modem_port *p)
{
    if (!p->gpio || !gpio_has(p->gpio, GPIO_STATUS))
        return -ENOENT;
    return gpio_get_status(p->gpio);
}

static void step_now(struct modem_port *p, struct modem_event *ev)
{
    struct modem_actions *acts = malloc(sizeof(*acts));
    if (!acts) {
        plog(p, MODEM_LOG_ERR, "event=oom");
        return;
    }
    ev->gpio_status = gpio_status(p);
    modem_step(p->m, ev, p->now, acts);
    do_actions(p, acts);
    free(acts);
}

static void drain(struct modem_port *p)
{
    while (p->qn > 0) {
        struct queued_ev e = p->q[0];
        memmove(p->q, p->q + 1, (p->qn - 1) * sizeof(p->q[0]));
        p->qn--;
        if (e.ev.type == MODEM_EV_AT_DONE)
            e.ev.res = &e.res;
        if (e.ev.type == MODEM_EV_JOB) {
            e.job.pdu_hex = e.hex;
            e.ev.job = &e.job;
        }
        step_now(p, &e.ev);
    }
}

static void post(struct modem_port *p, const struct modem_event *ev)
{
    if (p->in_step) {
        if (p->qn >= PORT_EVQ_MAX) {
            /* Never seen (a step makes a handful at most); a lost AT result
             * is caught by the machine's watchdog, a lost job is answered. */
            plog(p, MODEM_LOG_ERR, "event=evq-full type=%d", (int)ev->type);
            if (ev->type == MODEM_EV_JOB && ev->job && p->send_cb) {
                struct modem_send_result r = {.id = ev->job->id, .cls = MODEM_ERR_RETRY_NOW,
                                              .code = -1, .why = "port busy"};
                modem_port_send_cb cb = p->send_cb;
                p->send_cb = NULL;
                cb(p->send_ud, p, &r);
            }
            return;
        }
        struct queued_ev *e = &p->q[p->qn++];
        e->ev = *ev;
        if (ev->type == MODEM_EV_AT_DONE && ev->res) {
            memset(&e->res, 0, sizeof(e->res));
            e->res.final = ev->res->final;
            e->res.code = ev->res->code;
            e->res.payload_written = ev->res->payload_written;
            e->res.write_err = ev->res->write_err;
        }
        if (ev->type == MODEM_EV_JOB && ev->job) {
            /* send_pdu from inside a callback: the caller's job is on its stack */
            e->job = *ev->job;
            snprintf(e->hex, sizeof(e->hex), "%s", ev->job->pdu_hex ? ev->job->pdu_hex : "");
            e->job.pdu_hex = e->hex;
        }
        e->ev.line = e->ev.pdu = NULL;   /* URCs are never posted nested */
        return;
    }
    p->in_step = true;
    struct modem_event copy = *ev;
    step_now(p, &copy);
    drain(p);
    if (p->gone_pending) {
        p->gone_pending = false;
        struct modem_event g = {.type = MODEM_EV_PORT_GONE};
        step_now(p, &g);
        drain(p);
    }
    p->in_step = false;
    check_fd(p);
}

static void post_type(struct modem_port *p, enum modem_ev_type t)
{
    struct modem_event ev = {.type = t};
    post(p, &ev);
}

/* ------------------------------------------------------------ at_chan */

static int chan_write(void *ctx, const uint8_t *buf, size_t len)
{
    struct modem_port *p = ctx;
    if (!p->ser || serial_fd(p->ser) < 0)
        return -ENODEV;
    struct sg_err err;
    int rc = serial_write(p->ser, buf, len, &err);
    if (rc == SERIAL_GONE)
        p->gone_pending = true;
    else if (rc < 0)
        plog(p, MODEM_LOG_WARN, "event=write-failed err=\"%s\"", err.msg);
    return rc;
}

static void chan_resynced(void *ctx, bool ok)
{
    struct modem_port *p = ctx;
    struct modem_event ev = {.type = MODEM_EV_RESYNCED, .ok = ok};
    post(p, &ev);
}

static void at_done(void *ud, const struct at_result *res)
{
    struct at_slot *s = ud;
    struct modem_event ev = {.type = MODEM_EV_AT_DONE, .res = res, .seq = s->seq};
    post(s->p, &ev);
}

static void on_urc(void *ud, const char *line, const char *pdu)
{
    struct modem_port *p = ud;
    struct modem_event ev = {.type = MODEM_EV_URC, .line = line, .pdu = pdu};
    post(p, &ev);
}

/* ------------------------------------------------------------ actions */

static void port_open(struct modem_port *p, bool reopen)
{
    struct sg_err err;
    sg_err_clear(&err);
    at_chan_reset(p->chan, p->now);
    if (p->ser) {
        int rc = serial_reopen(p->ser, &err);
        if (rc == SERIAL_BACK) {
            plog(p, MODEM_LOG_INFO, "event=reopened path=%s device=%s", p->path,
                 serial_device(p->ser));
            post_type(p, MODEM_EV_PORT_OPENED);
            return;
        }
        plog(p, rc == SERIAL_ABSENT ? MODEM_LOG_DEBUG : MODEM_LOG_WARN,
             "event=reopen-failed path=%s err=\"%s\"", p->path, err.msg);
        post_type(p, MODEM_EV_PORT_FAILED);
        return;
    }
    struct serial_cfg sc = {.path = p->path, .baud = p->cfg.baud, .rtscts = p->cfg.rtscts};
    int rc = serial_open(&sc, &p->ser, &err);
    if (rc < 0) {
        p->ser = NULL;
        plog(p, reopen ? MODEM_LOG_DEBUG : MODEM_LOG_WARN, "event=open-failed path=%s err=\"%s\"",
             p->path, err.msg);
        post_type(p, MODEM_EV_PORT_FAILED);
        return;
    }
    plog(p, MODEM_LOG_INFO, "event=opened path=%s device=%s", p->path, serial_device(p->ser));
    post_type(p, MODEM_EV_PORT_OPENED);
}

static void port_close(struct modem_port *p)
{
    at_chan_reset(p->chan, p->now);
    serial_close(p->ser);
    p->ser = NULL;
}

static void port_resync(struct modem_port *p)
{
    /* ESC leaves a '> ' prompt without sending; CR ends any half line. */
    static const uint8_t esc_cr[] = {0x1b, '\r'};
    at_chan_reset(p->chan, p->now);
    if (!p->ser || serial_fd(p->ser) < 0)
        return;
    serial_discard(p->ser, NULL);
    if (serial_write(p->ser, esc_cr, sizeof(esc_cr), NULL) == SERIAL_GONE)
        p->gone_pending = true;
}

static void port_submit(struct modem_port *p, const struct modem_action *a)
{
    struct at_slot *s = &p->slots[p->next_slot++ % AT_CHAN_QUEUE_MAX];
    s->p = p;
    s->seq = a->seq;
    struct at_cmd cmd = {
        .text = a->u.at.text,
        .timeout_ms = a->u.at.timeout_ms,
        .payload = a->u.at.payload,
        .prompt_timeout_ms = a->u.at.prompt_timeout_ms,
        .expect = a->u.at.expect,
        .flags = a->u.at.flags,
    };
    int rc = at_chan_submit(p->chan, &cmd, at_done, s, p->now);
    if (rc < 0) {
        /* Queue full or a bad command: answer as an abort so the machine
         * does not wait for a reply that will never come. */
        plog(p, MODEM_LOG_ERR, "event=submit-failed cmd=\"%.20s\" rc=%d", a->u.at.text, rc);
        struct at_result res = {.final = AT_FINAL_ABORTED, .code = -1};
        struct modem_event ev = {.type = MODEM_EV_AT_DONE, .res = &res, .seq = a->seq};
        post(p, &ev);
    }
}

static void do_actions(struct modem_port *p, const struct modem_actions *acts)
{
    const struct modem_identity *id = modem_identity(p->m);
    for (size_t i = 0; i < acts->n; i++) {
        const struct modem_action *a = &acts->a[i];
        switch (a->type) {
        case MODEM_ACT_OPEN:
            port_open(p, false);
            break;
        case MODEM_ACT_REOPEN:
            port_open(p, true);
            break;
        case MODEM_ACT_CLOSE:
            port_close(p);
            break;
        case MODEM_ACT_RESYNC:
            port_resync(p);
            break;
        case MODEM_ACT_AT:
            port_submit(p, a);
            break;
        case MODEM_ACT_GPIO: {
            struct sg_err err;
            if (!p->gpio || gpio_set(p->gpio, a->u.gpio.role, a->u.gpio.asserted, &err) < 0)
                plog(p, MODEM_LOG_ERR, "event=gpio-failed line=%s err=\"%s\"",
                     gpio_role_name(a->u.gpio.role), p->gpio ? err.msg : "no gpio");
            break;
        }
        case MODEM_ACT_STATE:
            if (p->cbs.state)
                p->cbs.state(p->ud, p, a->u.state.from, a->u.state.to, a->u.state.reason);
            break;
        case MODEM_ACT_IDENTITY:
            if (p->cbs.identity)
                p->cbs.identity(p->ud, p, id);
            break;
        case MODEM_ACT_SIGNAL:
            if (p->cbs.signal)
                p->cbs.signal(p->ud, p, id->rssi_dbm, id->band);
            break;
        case MODEM_ACT_SEND_DONE: {
            modem_port_send_cb cb = p->send_cb;
            void *ud = p->send_ud;
            p->send_cb = NULL;
            p->send_ud = NULL;
            if (cb)
                cb(ud, p, &a->u.send);
            break;
        }
        case MODEM_ACT_INBOUND:
            if (p->cbs.inbound)
                p->cbs.inbound(p->ud, p, a->u.msg.index, a->u.msg.pdu, a->u.msg.tpdu_len);
            break;
        case MODEM_ACT_REPORT:
            if (p->cbs.report)
                p->cbs.report(p->ud, p, a->u.msg.index, a->u.msg.pdu, a->u.msg.tpdu_len);
            break;
        case MODEM_ACT_LOG:
            plog(p, a->u.log.level, "%s", a->u.log.text);
            break;
        }
    }
    if (acts->overflow)
        plog(p, MODEM_LOG_ERR, "event=actions-overflow");
}

/* ------------------------------------------------------------ public */

int modem_port_new(const struct modem_port_cfg *cfg, const struct modem_port_cbs *cbs, void *ud,
                   struct modem_port **out, struct sg_err *err)
{
    *out = NULL;
    if (!cfg || !cfg->path || !cfg->path[0])
        return sg_errf(err, -EINVAL, "modem_port: no serial path");
    struct modem_port *p = calloc(1, sizeof(*p));
    if (!p)
        return sg_errf(err, -ENOMEM, "modem_port: out of memory");
    snprintf(p->id, sizeof(p->id), "%s", cfg->id && cfg->id[0] ? cfg->id : cfg->path);
    snprintf(p->path, sizeof(p->path), "%s", cfg->path);
    p->cfg = *cfg;
    p->cfg.id = p->id;
    p->cfg.path = p->path;
    p->cfg.pin = NULL;
    if (cbs)
        p->cbs = *cbs;
    p->ud = ud;
    p->last_fd = -1;

    if (cfg->gpio) {
        p->gpio = cfg->gpio;
    } else if (cfg->gpio_cfg) {
        int rc = gpio_open(cfg->gpio_cfg, &p->gpio, err);
        if (rc < 0) {
            free(p);
            return rc;
        }
        p->own_gpio = true;
    }

    struct at_chan_ops ops = {.write = chan_write, .resynced = chan_resynced};
    p->chan = at_chan_new(&ops, p);
    struct modem_cfg mc = {
        .vendor = cfg->vendor,
        .pin = cfg->pin,
        .power_on_at_start = cfg->power_on_at_start,
        .sim_timeout_ms = cfg->sim_timeout_ms,
        .reg_timeout_ms = cfg->reg_timeout_ms,
        .csq_interval_ms = cfg->csq_interval_ms,
    };
    if (p->gpio) {
        mc.gpio_wired = (gpio_has(p->gpio, GPIO_PWRKEY) ? GPIO_PWRKEY : 0u) |
                        (gpio_has(p->gpio, GPIO_RESET) ? GPIO_RESET : 0u) |
                        (gpio_has(p->gpio, GPIO_STATUS) ? GPIO_STATUS : 0u);
        /* With STATUS the power-on sequence does nothing to a modem that is
         * already on, so a board that boots with its modems off needs no
         * trip up the ladder. Without STATUS a pulse could switch it off. */
        if ((mc.gpio_wired & (GPIO_PWRKEY | GPIO_STATUS)) == (GPIO_PWRKEY | GPIO_STATUS))
            mc.power_on_at_start = true;
        /* Each 0 field takes the profile's default (generic for auto:
         * long enough for any of them). */
        const struct gpio_timing *d =
            gpio_seq_timing_for(cfg->vendor ? cfg->vendor->name : "generic");
        const struct gpio_timing *t = &cfg->timing;
        bool unset = !t->pwrkey_on_ms && !t->pwrkey_off_ms && !t->reset_ms &&
                     !t->status_on_ms && !t->status_off_ms && !t->pwrkey_until_status;
        mc.timing = cfg->timing;
        if (d && unset) {
            mc.timing = *d;
        } else if (d) {
            if (!mc.timing.pwrkey_on_ms)
                mc.timing.pwrkey_on_ms = d->pwrkey_on_ms;
            if (!mc.timing.pwrkey_off_ms)
                mc.timing.pwrkey_off_ms = d->pwrkey_off_ms;
            if (!mc.timing.reset_ms)
                mc.timing.reset_ms = d->reset_ms;
            if (!mc.timing.status_on_ms)
                mc.timing.status_on_ms = d->status_on_ms;
            if (!mc.timing.status_off_ms)
                mc.timing.status_off_ms = d->status_off_ms;
        }
    }
    p->m = modem_new(&mc);
    if (!p->chan || !p->m || at_chan_on_urc(p->chan, "", on_urc, p) < 0) {
        modem_port_free(p);
        return sg_errf(err, -ENOMEM, "modem_port: out of memory");
    }
    *out = p;
    return 0;
}

void modem_port_free(struct modem_port *p)
{
    if (!p)
        return;
    p->send_cb = NULL;
    /* at_chan_free aborts what is queued; nobody is listening any more. */
    p->in_step = true;
    at_chan_free(p->chan);
    serial_close(p->ser);
    modem_free(p->m);
    if (p->own_gpio)
        gpio_close(p->gpio);
    free(p);
}

void modem_port_start(struct modem_port *p, sg_ms now)
{
    p->now = now;
    post_type(p, MODEM_EV_START);
}

void modem_port_stop(struct modem_port *p, sg_ms now)
{
    p->now = now;
    post_type(p, MODEM_EV_STOP);
}

int modem_port_fd(const struct modem_port *p)
{
    return p->ser ? serial_fd(p->ser) : -1;
}

bool modem_port_want_write(const struct modem_port *p)
{
    return p->ser && serial_want_write(p->ser);
}

sg_ms modem_port_next_deadline(const struct modem_port *p)
{
    sg_ms a = at_chan_next_deadline(p->chan);
    sg_ms b = modem_next_deadline(p->m);
    return a < b ? a : b;
}

static void gone(struct modem_port *p)
{
    plog(p, MODEM_LOG_WARN, "event=unplugged path=%s", p->path);
    at_chan_reset(p->chan, p->now);
    post_type(p, MODEM_EV_PORT_GONE);
}

void modem_port_on_readable(struct modem_port *p, sg_ms now)
{
    p->now = now;
    uint8_t buf[PORT_READ_CHUNK];
    for (int i = 0; i < PORT_READS_PER_CALL && p->ser && serial_fd(p->ser) >= 0; i++) {
        struct sg_err err;
        ssize_t n = serial_read(p->ser, buf, sizeof(buf), &err);
        if (n == SERIAL_GONE) {
            gone(p);
            break;
        }
        if (n < 0) {
            plog(p, MODEM_LOG_WARN, "event=read-failed err=\"%s\"", err.msg);
            break;
        }
        if (n == 0)
            break;
        at_chan_feed(p->chan, buf, (size_t)n, now);
        if (p->gone_pending && !p->in_step) {
            p->gone_pending = false;
            gone(p);
            break;
        }
    }
    check_fd(p);
}

void modem_port_on_writable(struct modem_port *p, sg_ms now)
{
    p->now = now;
    if (!p->ser)
        return;
    if (serial_flush(p->ser, NULL) == SERIAL_GONE)
        gone(p);
    check_fd(p);
}

void modem_port_tick(struct modem_port *p, sg_ms now)
{
    p->now = now;
    if (at_chan_next_deadline(p->chan) <= now)
        at_chan_tick(p->chan, now);
    if (modem_next_deadline(p->m) <= now)
        post_type(p, MODEM_EV_TIMER);
    if (p->gone_pending && !p->in_step) {
        p->gone_pending = false;
        gone(p);
    }
    check_fd(p);
}

int modem_port_send_pdu(struct modem_port *p, uint64_t id, int tpdu_len, const char *hex,
                        modem_port_send_cb done, void *ud, sg_ms now)
{
    if (!hex || tpdu_len <= 0 || strlen(hex) >= MODEM_PDU_HEX_MAX)
        return -EINVAL;
    if (!modem_can_accept(p->m) || p->send_cb)
        return -EBUSY;
    p->now = now;
    p->send_cb = done;
    p->send_ud = ud;
    struct modem_job job = {.kind = MODEM_JOB_SMS, .id = id, .tpdu_len = tpdu_len, .pdu_hex = hex};
    struct modem_event ev = {.type = MODEM_EV_JOB, .job = &job};
    post(p, &ev);
    return 0;
}

void modem_port_ack_stored(struct modem_port *p, int index, sg_ms now)
{
    p->now = now;
    struct modem_event ev = {.type = MODEM_EV_STORED, .index = index};
    post(p, &ev);
}

enum modem_state modem_port_state(const struct modem_port *p)
{
    return modem_state(p->m);
}

const char *modem_port_reason(const struct modem_port *p)
{
    return modem_reason(p->m);
}

const struct modem_identity *modem_port_identity(const struct modem_port *p)
{
    return modem_identity(p->m);
}

const char *modem_port_id(const struct modem_port *p)
{
    return p->id;
}

const char *modem_port_path(const struct modem_port *p)
{
    return p->path;
}

const struct modem *modem_port_modem(const struct modem_port *p)
{
    return p->m;
}
