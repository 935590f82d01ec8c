/*
 * gw: the daemon's loop glue. Owns the libuv loop and everything watched by
 * it (signals, and as the gateway grows, modem ports, the store, the API).
 * One process, one thread, one loop; signal handling is deferred to the loop
 * by libuv, so handlers only record what happened.
 *
 * Ownership: gw_new() copies nothing it is given except the config, which it
 * takes over (and frees); the log must outlive the gw.
 */
#ifndef SG_GW_H
#define SG_GW_H

#include "drivers/base/sg_err.h"
#include "firmware/cfg.h"
#include "firmware/log.h"

struct gw;

struct gw_opts {
    const char *config_path;          /* re-read on SIGHUP */
    struct cfg_overrides overrides;   /* command-line values, kept across reloads */
};

/* Takes ownership of cfg. Creates the state directory and locks it. */
int gw_new(const struct gw_opts *opts, struct sg_config *cfg, struct sglog *log, struct gw **out,
           struct sg_err *err);
/* Runs until SIGTERM/SIGINT; returns 0 on a clean stop. */
int gw_run(struct gw *gw);
void gw_free(struct gw *gw);

#endif
