#include "firmware/gw.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>
#include <uv.h>

#include "drivers/base/sg_clock.h"
#include "firmware/gw_int.h"



/* mkdir -p with 0750 for the directories we create. */
static int mkdir_p(const char *path, struct sg_err *err)
{
    char buf[CFG_PATH_MAX];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0750) != 0 && errno != EEXIST)
            return sg_errf(err, -errno, "mkdir %s: %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0750) != 0 && errno != EEXIST)
        return sg_errf(err, -errno, "mkdir %s: %s", buf, strerror(errno));
    return 0;
}

/* Two daemons on one state directory would corrupt each other's view of the
 * queue (both would send the same rows), so the second one refuses to start. */
static int lock_state_dir(struct gw *gw, struct sg_err *err)
{
    char path[CFG_PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/simgated.lock", gw->cfg->state_dir);
    gw->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (gw->lock_fd < 0)
        return sg_errf(err, -errno, "open %s: %s", path, strerror(errno));
    if (flock(gw->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        if (e == EWOULDBLOCK)
            return sg_errf(err, -EBUSY, "state directory %s is in use by another simgated",
                           gw->cfg->state_dir);
        return sg_errf(err, -e, "flock %s: %s", path, strerror(e));
    }
    char pid[32];
    int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (ftruncate(gw->lock_fd, 0) == 0 && write(gw->lock_fd, pid, (size_t)n) != n)
        return sg_errf(err, -EIO, "write %s: %s", path, strerror(errno));
    return 0;
}

static void on_stop_signal(uv_signal_t *h, int signum)
{
    struct gw *gw = h->data;
    log_notice(gw->log, "event=stop signal=%s", signum == SIGTERM ? "TERM" : "INT");
    uv_stop(&gw->loop);
}

/* Only the log level changes live: modems, the SIM pool, limits, webhooks
 * and paths are wired into running objects, so half-applying them would
 * leave the API showing one thing and the scheduler doing another. The
 * running configuration stays whole; the log says when a restart is needed.
 * A bad file changes nothing. */
static void reload(struct gw *gw)
{
    struct sg_config *next = NULL;
    struct sg_err err;
    if (cfg_load(gw->opts.config_path, &gw->opts.overrides, &next, &err) != 0) {
        log_err(gw->log, "event=reload result=rejected reason=\"%s\" action=keeping-old-config",
                err.msg);
        return;
    }
    int lvl = log_level_parse(next->log_level);
    if (lvl > 0)
        gw->log->level = (enum log_level)lvl;
    memcpy(gw->cfg->log_level, next->log_level, sizeof(gw->cfg->log_level));
    bool other = cfg_differs(gw->cfg, next);
    if (other)
        log_warnx(gw->log, "event=reload result=partial file=%s log_level=%s "
                           "note=\"only log_level applies on reload; restart simgated to apply "
                           "the other changes\"",
                  gw->opts.config_path, next->log_level);
    else
        log_notice(gw->log, "event=reload result=ok file=%s log_level=%s", gw->opts.config_path,
                   next->log_level);
    cfg_free(next);
}

static void on_hup(uv_signal_t *h, int signum)
{
    (void)signum;
    reload(h->data);
}


/* ------------------------------------------------------------ engine */

static void on_sched_timer(uv_timer_t *t)
{
    struct gw *gw = t->data;
    sched_kick(gw->sched, sg_clock_wall_ms());
}

static void sched_arm(void *ud, sg_ms at)
{
    struct gw *gw = ud;
    if (at == SG_MS_NEVER) {
        uv_timer_stop(&gw->sched_timer);
        return;
    }
    sg_ms now = sg_clock_wall_ms();
    uv_timer_start(&gw->sched_timer, on_sched_timer, at > now ? (uint64_t)(at - now) : 0, 0);
}

static int sched_send(void *ud, size_t slot, int64_t msg_id, int seq, int tpdu_len, const char *hex)
{
    return gw_port_send(ud, slot, msg_id, seq, tpdu_len, hex);
}

static void sched_ack(void *ud, size_t slot, int index)
{
    gw_port_ack(ud, slot, index);
}

static uint32_t sched_random(void *ud)
{
    (void)ud;
    return randombytes_random();
}

/* The API group-commits the submits of each loop turn; new messages wake
 * the scheduler at once. */
static void on_commit(void *ud, int n)
{
    struct gw *gw = ud;
    if (n > 0)
        sched_kick(gw->sched, sg_clock_wall_ms());
}

static void on_events(void *ud, int64_t last_seq)
{
    struct gw *gw = ud;
    if (gw->api)
        api_notify_events(gw->api, last_seq);
    if (gw->webhook)
        webhook_notify(gw->webhook, last_seq);
}

#define PURGE_BATCH 500
#define PURGE_IDLE_MS (60 * 1000)
#define PURGE_BUSY_MS 1000

/* Retention runs off the hot path: one small batch per tick, faster while
 * there is a backlog to delete. */
static void on_purge(uv_timer_t *t)
{
    struct gw *gw = t->data;
    struct sg_err err;
    sg_ms max_age = (sg_ms)gw->cfg->retention_days * 86400 * 1000;
    int n = store_purge(gw->store, sg_clock_wall_ms(), max_age, PURGE_BATCH, &err);
    if (n < 0)
        log_warnx(gw->log, "event=purge result=failed reason=\"%s\"", err.msg);
    else if (n > 0)
        log_debug(gw->log, "event=purge rows=%d", n);
    uv_timer_start(t, on_purge, n >= PURGE_BATCH ? PURGE_BUSY_MS : PURGE_IDLE_MS, 0);
}

static void queue_opts_from_cfg(const struct sg_config *c, struct queue_opts *q)
{
    memset(q, 0, sizeof(*q));
    snprintf(q->default_cc, sizeof(q->default_cc), "%s", c->default_cc);
    for (int p = 0; p < STORE_PRIO_COUNT; p++) {
        q->ttl_default_ms[p] = (sg_ms)c->queue.ttl_s[p] * 1000;
        q->recover[p] = c->queue.recover_retry[p] ? QUEUE_RECOVER_RETRY : QUEUE_RECOVER_UNKNOWN;
    }
    q->ttl_max_ms = (sg_ms)c->queue.max_ttl_s * 1000;
    q->max_parts = (unsigned)c->queue.max_parts;
    /* The SMSC drops a message its TTL has passed too: an OTP stuck in the
     * network must not arrive stale either. */
    q->validity_from_ttl = true;
}

static int sims_from_cfg(struct gw *gw, struct sg_err *err)
{
    const struct sg_config *c = gw->cfg;
    if (c->nsims == 0)
        return 0;
    gw->sims = calloc(c->nsims, sizeof(*gw->sims));
    if (!gw->sims)
        return sg_errf(err, -ENOMEM, "out of memory");
    for (size_t i = 0; i < c->nsims; i++) {
        const struct cfg_sim *cs = &c->sims[i];
        struct sched_sim_cfg *s = &gw->sims[i];
        snprintf(s->iccid, sizeof(s->iccid), "%s", cs->iccid);
        snprintf(s->label, sizeof(s->label), "%s", cs->label);
        snprintf(s->msisdn, sizeof(s->msisdn), "%s", cs->msisdn);
        s->enabled = cs->enabled;
        s->limits = (struct bucket_limits){.rate_per_min = cs->rate_per_min, .burst = cs->burst,
                                           .daily = cs->daily, .monthly = cs->monthly};
        s->n_allow = cs->n_allow;
        s->n_deny = cs->n_deny;
        for (size_t k = 0; k < cs->n_allow; k++)
            snprintf(s->allow[k], sizeof(s->allow[k]), "%s", cs->allow[k]);
        for (size_t k = 0; k < cs->n_deny; k++)
            snprintf(s->deny[k], sizeof(s->deny[k]), "%s", cs->deny[k]);
    }
    return 0;
}

static int engine_start(struct gw *gw, struct sg_err *err)
{
    const struct sg_config *c = gw->cfg;
    int rc = store_open(&gw->store, c->state_dir, NULL, err);
    if (rc)
        return rc;
    store_set_event_hook(gw->store, on_events, gw);
    struct queue_opts qo;
    queue_opts_from_cfg(c, &qo);
    rc = queue_open(&gw->queue, gw->store, &qo, err);
    if (rc)
        return rc;
    rc = sims_from_cfg(gw, err);
    if (rc)
        return rc;
    if (c->webhook.nurls > 0) {
        const char *urls[CFG_MAX_WEBHOOKS];
        for (size_t i = 0; i < c->webhook.nurls; i++)
            urls[i] = c->webhook.urls[i];
        struct webhook_opts wo = {
            .urls = urls,
            .nurls = (unsigned)c->webhook.nurls,
            .secret = c->webhook.secret,
            .timeout_ms = (sg_ms)c->webhook.timeout_s * 1000,
            .max_age_ms = (sg_ms)c->webhook.max_age_s * 1000,
            .start_at_oldest = c->webhook.start_at_oldest,
        };
        rc = webhook_new(&gw->loop, gw->store, gw->log, &wo, c->state_dir, &gw->webhook, err);
        if (rc)
            return rc;
    }

    struct sched_opts so = {
        .queue = gw->queue,
        .store = gw->store,
        .log = gw->log,
        .default_cc = c->default_cc,
        .sticky_window_ms = (sg_ms)c->routing.sticky_window_s * 1000,
        .dlr_window_ms = (sg_ms)c->routing.dlr_window_s * 1000,
        .reasm_timeout_ms = (sg_ms)c->reassembly_timeout_s * 1000,
        .unknown_sims_enabled = c->routing.unknown_sims,
        .sims = gw->sims,
        .nsims = c->nsims,
        .nslots = c->nmodems,
        .slot_ids = gw->slot_ids,
    };
    retry_policy_default(&so.retry);
    for (int p = 0; p < STORE_PRIO_COUNT; p++) {
        so.retry.max_attempts[p] = (unsigned)c->queue.attempts[p];
        so.retry.recover[p] = c->queue.recover_retry[p] ? RETRY_RECOVER_RESEND
                                                        : RETRY_RECOVER_MARK_UNKNOWN;
    }
    breaker_cfg_default(&so.breaker);
    so.breaker.threshold = (unsigned)c->routing.breaker_threshold;
    so.breaker.cooldown_ms = (sg_ms)c->routing.breaker_cooldown_s * 1000;
    for (size_t i = 0; i < c->nmodems; i++)
        gw->slot_ids[i] = c->modems[i].id;
    static const struct sched_ops ops = {
        .send_pdu = sched_send, .ack_stored = sched_ack, .arm = sched_arm, .random = sched_random};
    uv_timer_init(&gw->loop, &gw->sched_timer);
    gw->sched_timer.data = gw;
    rc = sched_new(&so, &ops, gw, &gw->sched, err);
    if (rc)
        return rc;
    rc = sched_recover(gw->sched, sg_clock_wall_ms(), err);
    if (rc)
        return rc;

    const char *tokens[CFG_MAX_TOKENS];
    for (size_t i = 0; i < c->api.ntokens; i++)
        tokens[i] = c->api.tokens[i];
    struct api_opts ao = {
        .socket_path = c->api.socket,
        .socket_mode = (unsigned)c->api.socket_mode,
        .socket_group = c->api.group,
        .tcp_listen = c->api.tcp_listen,
        .tokens = tokens,
        .ntokens = c->api.ntokens,
        .body_max = (size_t)c->api.body_max,
        .wait_max_s = (unsigned)c->api.long_poll_max_s,
        .client_limit = {.rate_per_min = c->api.client_rate_per_min, .burst = c->api.client_burst},
        .dest_limit = {.rate_per_min = c->api.destination_rate_per_min,
                       .burst = c->api.destination_burst},
        .default_cc = c->default_cc,
        .on_commit = on_commit,
        .commit_ud = gw,
    };
    struct api_provider prov;
    gw_provider(gw, &prov);
    rc = api_new(&gw->loop, &ao, gw->log, gw->queue, gw->store, &prov, &gw->api, err);
    if (rc)
        return rc;
    uv_timer_init(&gw->loop, &gw->purge_timer);
    gw->purge_timer.data = gw;
    uv_timer_start(&gw->purge_timer, on_purge, PURGE_BUSY_MS, 0);

    rc = gw_ports_start(gw, err);
    if (rc)
        return rc;
    sched_kick(gw->sched, sg_clock_wall_ms());
    return 0;
}

int gw_new(const struct gw_opts *opts, struct sg_config *cfg, struct sglog *log, struct gw **out,
           struct sg_err *err)
{
    *out = NULL;
    struct gw *gw = calloc(1, sizeof(*gw));
    if (!gw) {
        cfg_free(cfg);
        return sg_errf(err, -ENOMEM, "out of memory");
    }
    gw->opts = *opts;
    gw->cfg = cfg;
    gw->log = log;
    gw->lock_fd = -1;
    int rc = uv_loop_init(&gw->loop);
    if (rc) {
        cfg_free(cfg);
        free(gw);
        return sg_errf(err, -EIO, "uv_loop_init: %s", uv_strerror(rc));
    }
    if (sodium_init() < 0) {
        cfg_free(cfg);
        uv_loop_close(&gw->loop);
        free(gw);
        return sg_errf(err, -EIO, "libsodium failed to initialise");
    }
    rc = mkdir_p(cfg->state_dir, err);
    if (!rc)
        rc = lock_state_dir(gw, err);
    if (!rc)
        rc = engine_start(gw, err);
    if (rc) {
        gw_free(gw);
        return rc;
    }
    uv_signal_init(&gw->loop, &gw->sig_term);
    uv_signal_init(&gw->loop, &gw->sig_int);
    uv_signal_init(&gw->loop, &gw->sig_hup);
    gw->sig_term.data = gw->sig_int.data = gw->sig_hup.data = gw;
    uv_signal_start(&gw->sig_term, on_stop_signal, SIGTERM);
    uv_signal_start(&gw->sig_int, on_stop_signal, SIGINT);
    uv_signal_start(&gw->sig_hup, on_hup, SIGHUP);
    /* A peer closing its socket mid-write must not kill the daemon. */
    signal(SIGPIPE, SIG_IGN);
    *out = gw;
    return 0;
}

int gw_run(struct gw *gw)
{
    const struct sg_config *c = gw->cfg;
    log_notice(gw->log, "event=start version=%s config=%s state_dir=%s board=%s modems=%zu pid=%ld",
               SG_VERSION, c->path, c->state_dir, c->board[0] ? c->board : "-", c->nmodems,
               (long)getpid());
    for (size_t i = 0; i < c->nmodems; i++)
        log_info(gw->log, "event=slot modem=%s port=%s vendor=%s baud=%d gpio=%s", c->modems[i].id,
                 c->modems[i].port, c->modems[i].vendor, c->modems[i].baud,
                 c->modems[i].gpio.present ? "yes" : "no");
    uv_run(&gw->loop, UV_RUN_DEFAULT);
    log_notice(gw->log, "event=stopped");
    return 0;
}

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

void gw_free(struct gw *gw)
{
    if (!gw)
        return;
    /* The API first: it answers pending submits from the store it still has. */
    api_free(gw->api);
    webhook_free(gw->webhook);
    gw_ports_free(gw);
    sched_free(gw->sched);
    queue_close(gw->queue);
    store_close(gw->store);
    free(gw->sims);
    uv_walk(&gw->loop, close_walk, NULL);
    uv_run(&gw->loop, UV_RUN_DEFAULT);
    uv_loop_close(&gw->loop);
    if (gw->lock_fd >= 0)
        close(gw->lock_fd);
    cfg_free(gw->cfg);
    free(gw);
}
