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
#include <uv.h>

struct gw {
    uv_loop_t loop;
    uv_signal_t sig_term, sig_int, sig_hup;
    struct gw_opts opts;
    struct sg_config *cfg;   /* owned; replaced on a good reload */
    struct sglog *log;       /* not owned */
    int lock_fd;             /* flock on <state_dir>/simgated.lock */
};

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

/* Slots, ports and paths take effect at the next start; what can change live
 * (the log level) changes now. The old config stays when the new one is bad. */
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
    bool restart = strcmp(next->state_dir, gw->cfg->state_dir) != 0 ||
                   strcmp(next->api.socket, gw->cfg->api.socket) != 0 ||
                   next->nmodems != gw->cfg->nmodems;
    for (size_t i = 0; !restart && i < next->nmodems; i++)
        restart = !cfg_modem_equal(&next->modems[i], &gw->cfg->modems[i]);
    log_notice(gw->log, "event=reload result=ok file=%s log_level=%s%s", gw->opts.config_path,
               next->log_level, restart ? " note=\"modem, socket or state changes apply after restart\"" : "");
    /* Keep the running slots and paths; adopt the rest. */
    if (restart) {
        memcpy(next->state_dir, gw->cfg->state_dir, sizeof(next->state_dir));
        next->api = gw->cfg->api;
        next->nmodems = gw->cfg->nmodems;
        memcpy(next->modems, gw->cfg->modems, sizeof(next->modems));
    }
    cfg_free(gw->cfg);
    gw->cfg = next;
}

static void on_hup(uv_signal_t *h, int signum)
{
    (void)signum;
    reload(h->data);
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
    rc = mkdir_p(cfg->state_dir, err);
    if (!rc)
        rc = lock_state_dir(gw, err);
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
    uv_walk(&gw->loop, close_walk, NULL);
    uv_run(&gw->loop, UV_RUN_DEFAULT);
    uv_loop_close(&gw->loop);
    if (gw->lock_fd >= 0)
        close(gw->lock_fd);
    cfg_free(gw->cfg);
    free(gw);
}
