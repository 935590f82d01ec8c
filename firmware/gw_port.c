#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/base/sg_clock.h"
#include "drivers/gpio/gpio_seq.h"
#include "firmware/gw_int.h"

/* Modem ports live on the monotonic clock (their deadlines); everything the
 * scheduler and the store see is wall-clock UTC. */

static void port_rearm(struct gw_port *gp);

static void on_poll_close(uv_handle_t *h)
{
    free(h);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    struct gw_port *gp = h->data;
    sg_ms now = sg_clock_mono_ms();
    /* An error on the fd (hang-up) is seen by the port's next read. */
    if (status < 0 || (events & UV_READABLE))
        modem_port_on_readable(gp->port, now);
    if (status == 0 && (events & UV_WRITABLE))
        modem_port_on_writable(gp->port, now);
    port_rearm(gp);
}

/* Watches the port's current fd for what it needs (read always, write
 * while output is queued). */
static void port_watch(struct gw_port *gp)
{
    int fd = modem_port_fd(gp->port);
    if (gp->poll && gp->poll_fd != fd) {
        uv_poll_stop(gp->poll);
        uv_close((uv_handle_t *)gp->poll, on_poll_close);
        gp->poll = NULL;
    }
    if (fd < 0)
        return;
    if (!gp->poll) {
        gp->poll = calloc(1, sizeof(*gp->poll));
        if (!gp->poll || uv_poll_init(&gp->gw->loop, gp->poll, fd) != 0) {
            free(gp->poll);
            gp->poll = NULL;
            log_err(gp->gw->log, "event=port-watch modem=%s result=failed",
                    modem_port_id(gp->port));
            return;
        }
        gp->poll->data = gp;
        gp->poll_fd = fd;
        gp->poll_events = 0;
    }
    int want = UV_READABLE | (modem_port_want_write(gp->port) ? UV_WRITABLE : 0);
    if (want != gp->poll_events) {
        uv_poll_start(gp->poll, want, on_poll);
        gp->poll_events = want;
    }
}

static void on_port_timer(uv_timer_t *t)
{
    struct gw_port *gp = t->data;
    modem_port_tick(gp->port, sg_clock_mono_ms());
    port_rearm(gp);
}

/* After anything happened on a port: watch its fd and sleep until its
 * nearest deadline (one timer per port, no polling). */
static void port_rearm(struct gw_port *gp)
{
    port_watch(gp);
    sg_ms at = modem_port_next_deadline(gp->port);
    if (at == SG_MS_NEVER) {
        uv_timer_stop(&gp->timer);
        return;
    }
    sg_ms now = sg_clock_mono_ms();
    uv_timer_start(&gp->timer, on_port_timer, at > now ? (uint64_t)(at - now) : 0, 0);
}

/* ------------------------------------------------------------ callbacks */

static struct gw_port *find(struct gw *gw, struct modem_port *p)
{
    for (size_t i = 0; i < gw->nports; i++)
        if (gw->ports[i].port == p)
            return &gw->ports[i];
    return NULL;
}

static void cb_state(void *ud, struct modem_port *p, enum modem_state from, enum modem_state to,
                     const char *reason)
{
    struct gw *gw = ud;
    struct gw_port *gp = find(gw, p);
    if (!gp)
        return;
    sg_ms wall = sg_clock_wall_ms();
    /* The port logs the transition itself; here it becomes an event. */
    if (to == MODEM_FAILED || to == MODEM_RECOVERING)
        snprintf(gp->last_error, sizeof(gp->last_error), "%s", reason ? reason : "");
    json_t *ev = json_pack("{s:s, s:s, s:s, s:s}", "modem", modem_port_id(p), "from",
                           modem_state_name(from), "to", modem_state_name(to), "reason",
                           reason ? reason : "");
    char *json = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
    json_decref(ev);
    struct sg_err err;
    /* ready <-> busy flips with every send: as events they would add two
     * fsyncs per message and bury the changes an operator cares about. */
    bool flip = (from == MODEM_READY && to == MODEM_BUSY) || (from == MODEM_BUSY && to == MODEM_READY);
    if (!flip && store_event_append(gw->store, "modem.state", 0, json ? json : "{}", wall, NULL,
                                    &err) != 0)
        log_warnx(gw->log, "event=modem-state-event result=failed reason=\"%s\"", err.msg);
    free(json);
    bool ready = to == MODEM_READY || to == MODEM_BUSY;
    if (ready != gp->sched_ready) {
        gp->sched_ready = ready;
        sched_slot_ready(gw->sched, gp->index, ready, modem_port_identity(p)->iccid, wall);
    } else if (to == MODEM_READY) {
        sched_kick(gw->sched, wall); /* the slot is free again */
    }
}

static void cb_inbound(void *ud, struct modem_port *p, int index, const char *pdu, int len)
{
    struct gw *gw = ud;
    struct gw_port *gp = find(gw, p);
    if (gp)
        sched_inbound(gw->sched, gp->index, index, pdu, len, sg_clock_wall_ms());
}

static void cb_report(void *ud, struct modem_port *p, int index, const char *pdu, int len)
{
    struct gw *gw = ud;
    struct gw_port *gp = find(gw, p);
    if (gp)
        sched_report(gw->sched, gp->index, index, pdu, len, sg_clock_wall_ms());
}

static void cb_log(void *ud, struct modem_port *p, enum modem_log_level level, const char *line)
{
    struct gw *gw = ud;
    (void)p; /* the port's lines carry modem=<id> already */
    log_emit(gw->log, (enum log_level)level, "%s", line);
}

static void cb_fd(void *ud, struct modem_port *p, int old_fd, int new_fd)
{
    (void)old_fd;
    (void)new_fd;
    struct gw_port *gp = find(ud, p);
    if (gp)
        port_watch(gp);
}

static void on_send_done(void *ud, struct modem_port *p, const struct modem_send_result *res)
{
    struct gw *gw = ud;
    struct gw_port *gp = find(gw, p);
    if (gp)
        sched_send_done(gw->sched, gp->index, res, sg_clock_wall_ms());
}

int gw_port_send(struct gw *gw, size_t slot, int64_t msg_id, int seq, int tpdu_len,
                 const char *hex)
{
    if (slot >= gw->nports)
        return -EINVAL;
    struct gw_port *gp = &gw->ports[slot];
    uint64_t id = ((uint64_t)msg_id << 8) | (uint64_t)(seq & 0xff);
    int rc = modem_port_send_pdu(gp->port, id, tpdu_len, hex, on_send_done, gw,
                                 sg_clock_mono_ms());
    port_rearm(gp);
    return rc;
}

void gw_port_ack(struct gw *gw, size_t slot, int index)
{
    if (slot >= gw->nports)
        return;
    modem_port_ack_stored(gw->ports[slot].port, index, sg_clock_mono_ms());
    port_rearm(&gw->ports[slot]);
}

/* ------------------------------------------------------------ start / stop */

static void timing_from_cfg(const struct cfg_modem *m, struct gpio_timing *t)
{
    const struct gpio_timing *v = gpio_seq_timing_for(m->vendor);
    if (v)
        *t = *v;
    if (m->gpio.pwrkey_on_ms > 0)
        t->pwrkey_on_ms = (unsigned)m->gpio.pwrkey_on_ms;
    if (m->gpio.pwrkey_off_ms > 0)
        t->pwrkey_off_ms = (unsigned)m->gpio.pwrkey_off_ms;
    if (m->gpio.reset_ms > 0)
        t->reset_ms = (unsigned)m->gpio.reset_ms;
    if (m->gpio.status_wait_ms > 0)
        t->status_on_ms = (unsigned)m->gpio.status_wait_ms;
}

int gw_ports_start(struct gw *gw, struct sg_err *err)
{
    static const struct modem_port_cbs cbs = {
        .state = cb_state,
        .inbound = cb_inbound,
        .report = cb_report,
        .log = cb_log,
        .fd_changed = cb_fd,
    };
    const struct sg_config *c = gw->cfg;
    for (size_t i = 0; i < c->nmodems; i++) {
        const struct cfg_modem *m = &c->modems[i];
        struct gw_port *gp = &gw->ports[i];
        memset(gp, 0, sizeof(*gp));
        gp->gw = gw;
        gp->index = i;
        gp->poll_fd = -1;
        struct gpio_cfg gc;
        gpio_cfg_init(&gc);
        if (m->gpio.present) {
            gc.chip = m->gpio.chip;
            gc.pwrkey = (struct gpio_line_cfg){m->gpio.pwrkey, m->gpio.pwrkey_active_low};
            gc.reset = (struct gpio_line_cfg){m->gpio.reset, m->gpio.reset_active_low};
            gc.status = (struct gpio_line_cfg){m->gpio.status, m->gpio.status_active_low};
        }
        struct modem_port_cfg pc = {
            .id = m->id,
            .path = m->port,
            .baud = m->baud,
            .rtscts = m->flow_control,
            .vendor = strcmp(m->vendor, "auto") == 0 ? NULL : modem_vendor_by_name(m->vendor),
            .pin = m->pin[0] ? m->pin : NULL,
            .gpio_cfg = m->gpio.present ? &gc : NULL,
        };
        timing_from_cfg(m, &pc.timing);
        int rc = modem_port_new(&pc, &cbs, gw, &gp->port, err);
        if (rc != 0) {
            sg_err_prefix(err, "modem %s", m->id);
            return rc;
        }
        uv_timer_init(&gw->loop, &gp->timer);
        gp->timer.data = gp;
        gw->nports = i + 1;
    }
    sg_ms now = sg_clock_mono_ms();
    for (size_t i = 0; i < gw->nports; i++) {
        modem_port_start(gw->ports[i].port, now);
        port_rearm(&gw->ports[i]);
    }
    return 0;
}

void gw_ports_free(struct gw *gw)
{
    for (size_t i = 0; i < gw->nports; i++) {
        struct gw_port *gp = &gw->ports[i];
        if (gp->poll) {
            uv_poll_stop(gp->poll);
            uv_close((uv_handle_t *)gp->poll, on_poll_close);
            gp->poll = NULL;
        }
        uv_timer_stop(&gp->timer);
        modem_port_free(gp->port);
        gp->port = NULL;
    }
}

/* ------------------------------------------------------------ API provider */

static const char *reg_name(const struct modem_identity *id)
{
    int st = id->creg >= 0 ? id->creg : (id->cereg >= 0 ? id->cereg : id->cgreg);
    switch (st) {
    case 1:
    case 6:
        return "home";
    case 5:
    case 7:
        return "roaming";
    case 2:
        return "searching";
    case 3:
        return "denied";
    case 0:
        return "not-searching";
    default:
        return "unknown";
    }
}

static int prov_modems(void *ud, struct api_modem_info *out, int max)
{
    struct gw *gw = ud;
    int n = 0;
    for (size_t i = 0; i < gw->nports && n < max; i++) {
        const struct gw_port *gp = &gw->ports[i];
        const struct modem_identity *id = modem_port_identity(gp->port);
        enum modem_state st = modem_port_state(gp->port);
        struct api_modem_info *m = &out[n++];
        memset(m, 0, sizeof(*m));
        snprintf(m->id, sizeof(m->id), "%s", modem_port_id(gp->port));
        snprintf(m->state, sizeof(m->state), "%s", modem_state_name(st));
        m->ready = st == MODEM_READY || st == MODEM_BUSY;
        snprintf(m->vendor, sizeof(m->vendor), "%s", id->vendor);
        snprintf(m->model, sizeof(m->model), "%s", id->model);
        m->has_signal = id->rssi_dbm != 0;
        m->signal_dbm = id->rssi_dbm;
        snprintf(m->band, sizeof(m->band), "%s", id->band ? id->band : "unknown");
        snprintf(m->registration, sizeof(m->registration), "%s", reg_name(id));
        snprintf(m->operator_name, sizeof(m->operator_name), "%s", id->operator_name);
        const char *why = modem_port_reason(gp->port);
        snprintf(m->last_error, sizeof(m->last_error), "%s",
                 st == MODEM_READY || st == MODEM_BUSY ? gp->last_error : (why ? why : ""));
        snprintf(m->iccid, sizeof(m->iccid), "%s", id->iccid);
    }
    return n;
}

static int prov_sims(void *ud, struct api_sim_info *out, int max)
{
    struct gw *gw = ud;
    struct sched_sim_view v[SCHED_SIMS_MAX];
    size_t n = sched_sims(gw->sched, v, SCHED_SIMS_MAX, sg_clock_wall_ms());
    int k = 0;
    for (size_t i = 0; i < n && k < max; i++) {
        struct api_sim_info *s = &out[k++];
        memset(s, 0, sizeof(*s));
        snprintf(s->iccid, sizeof(s->iccid), "%s", v[i].iccid);
        snprintf(s->label, sizeof(s->label), "%s", v[i].label);
        snprintf(s->modem, sizeof(s->modem), "%s", v[i].slot);
        s->enabled = v[i].enabled;
        snprintf(s->breaker, sizeof(s->breaker), "%s", v[i].breaker);
        s->sent_today = v[i].sent_today;
        s->sent_month = v[i].sent_month;
        s->daily_left = v[i].daily_left;
        s->monthly_left = v[i].monthly_left;
        s->sent_total = v[i].sends_ok;
        s->failed_total = v[i].sends_failed;
        s->last_used_at = v[i].last_used;
        for (size_t p = 0; p < gw->nports; p++) {
            const struct modem_identity *id = modem_port_identity(gw->ports[p].port);
            if (strcmp(id->iccid, v[i].iccid) == 0) {
                snprintf(s->imsi, sizeof(s->imsi), "%s", id->imsi);
                snprintf(s->msisdn, sizeof(s->msisdn), "%s", id->msisdn);
            }
        }
        for (size_t c = 0; c < gw->cfg->nsims; c++)
            if (strcmp(gw->cfg->sims[c].iccid, v[i].iccid) == 0) {
                s->rate_per_min = gw->cfg->sims[c].rate_per_min;
                if (gw->cfg->sims[c].msisdn[0])
                    snprintf(s->msisdn, sizeof(s->msisdn), "%s", gw->cfg->sims[c].msisdn);
            }
    }
    return k;
}

static void prov_metrics(void *ud, struct api_metrics *m)
{
    struct gw *gw = ud;
    struct sched_sim_view v[SCHED_SIMS_MAX];
    size_t n = sched_sims(gw->sched, v, SCHED_SIMS_MAX, sg_clock_wall_ms());
    api_metrics_printf(m, "# HELP simgate_sim_sends_total Messages handed to a SIM, by outcome.\n"
                          "# TYPE simgate_sim_sends_total counter\n");
    for (size_t i = 0; i < n; i++) {
        api_metrics_printf(m, "simgate_sim_sends_total{iccid=\"%s\",result=\"ok\"} %llu\n",
                           v[i].iccid, (unsigned long long)v[i].sends_ok);
        api_metrics_printf(m, "simgate_sim_sends_total{iccid=\"%s\",result=\"failed\"} %llu\n",
                           v[i].iccid, (unsigned long long)v[i].sends_failed);
    }
    struct sched_metrics sm;
    sched_metrics(gw->sched, &sm);
    api_metrics_printf(m, "# HELP simgate_send_errors_total Failed sends by SIM, error code "
                          "(-1: timeouts and others) and class.\n"
                          "# TYPE simgate_send_errors_total counter\n");
    for (size_t i = 0; i < sm.nerr; i++)
        api_metrics_printf(m, "simgate_send_errors_total{iccid=\"%s\",code=\"%d\",class=\"%s\"} %llu\n",
                           sm.err[i].iccid, sm.err[i].code, sm.err[i].cls,
                           (unsigned long long)sm.err[i].n);
    api_metrics_printf(m, "# HELP simgate_dlr_latency_seconds From the modem accepting a part "
                          "to its delivered status report.\n"
                          "# TYPE simgate_dlr_latency_seconds histogram\n");
    for (size_t b = 0; b < SCHED_DLR_BUCKETS; b++) {
        if (b + 1 == SCHED_DLR_BUCKETS)
            api_metrics_printf(m, "simgate_dlr_latency_seconds_bucket{le=\"+Inf\"} %llu\n",
                               (unsigned long long)sm.dlr_count[b]);
        else
            api_metrics_printf(m, "simgate_dlr_latency_seconds_bucket{le=\"%g\"} %llu\n",
                               sm.dlr_le[b], (unsigned long long)sm.dlr_count[b]);
    }
    api_metrics_printf(m, "simgate_dlr_latency_seconds_sum %.3f\nsimgate_dlr_latency_seconds_count %llu\n",
                       sm.dlr_sum_s, (unsigned long long)sm.dlr_total);
    unsigned nw = gw->webhook ? webhook_count(gw->webhook) : 0;
    if (nw == 0)
        return;
    api_metrics_printf(m, "# HELP simgate_webhook_delivered_total Events acknowledged with a 2xx.\n"
                          "# TYPE simgate_webhook_delivered_total counter\n");
    struct webhook_stats ws[CFG_MAX_WEBHOOKS];
    for (unsigned i = 0; i < nw && i < CFG_MAX_WEBHOOKS; i++) {
        webhook_stats(gw->webhook, i, &ws[i]);
        api_metrics_printf(m, "simgate_webhook_delivered_total{target=\"%u\"} %llu\n", i,
                           (unsigned long long)ws[i].delivered);
    }
    api_metrics_printf(m, "# HELP simgate_webhook_failed_attempts_total Failed deliveries.\n"
                          "# TYPE simgate_webhook_failed_attempts_total counter\n");
    for (unsigned i = 0; i < nw && i < CFG_MAX_WEBHOOKS; i++)
        api_metrics_printf(m, "simgate_webhook_failed_attempts_total{target=\"%u\"} %llu\n", i,
                           (unsigned long long)ws[i].failed_attempts);
    api_metrics_printf(m, "# HELP simgate_webhook_skipped_total Events given up on.\n"
                          "# TYPE simgate_webhook_skipped_total counter\n");
    for (unsigned i = 0; i < nw && i < CFG_MAX_WEBHOOKS; i++)
        api_metrics_printf(m, "simgate_webhook_skipped_total{target=\"%u\"} %llu\n", i,
                           (unsigned long long)ws[i].skipped);
    api_metrics_printf(m, "# HELP simgate_webhook_backlog Events not yet delivered.\n"
                          "# TYPE simgate_webhook_backlog gauge\n");
    for (unsigned i = 0; i < nw && i < CFG_MAX_WEBHOOKS; i++)
        api_metrics_printf(m, "simgate_webhook_backlog{target=\"%u\"} %lld\n", i,
                           (long long)ws[i].backlog);
}

void gw_provider(struct gw *gw, struct api_provider *out)
{
    *out = (struct api_provider){.ud = gw, .modems = prov_modems, .sims = prov_sims,
                                 .metrics = prov_metrics};
}
