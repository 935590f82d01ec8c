/*
 * ms_ctl: the control protocol of modemsim, one JSON object per line.
 *
 * Every request names its command in "cmd"; every reply is one object with
 * "ok" (true/false), "cmd", and "error" when ok is false. Requests longer
 * than MS_CTL_LINE_MAX bytes are refused. The commands are listed in
 * ms_ctl_help() and in host-tools/modemsim/README.md.
 *
 * Pure with respect to I/O: it changes the modem and tells the caller what
 * only the caller can do (unplug, replug, quit).
 */
#ifndef MS_CTL_H
#define MS_CTL_H

#include <stdbool.h>
#include <stddef.h>

#include "drivers/base/sg_clock.h"
#include "host-tools/modemsim/ms_modem.h"

#define MS_CTL_LINE_MAX 8192

enum ms_ctl_action { MS_CTL_NONE, MS_CTL_UNPLUG, MS_CTL_REPLUG, MS_CTL_QUIT };

struct ms_ctl_result {
    enum ms_ctl_action action;
    sg_ms replug_after_ms; /* MS_CTL_UNPLUG: > 0 to replug by itself after this */
};

/* Handles one request line (without its newline). Returns the reply line
 * (no newline), heap-allocated: the caller frees it. `plugged` is reported
 * by "stats". Returns NULL only when out of memory. */
char *ms_ctl_handle(struct ms_modem *m, const char *line, size_t len, bool plugged, sg_ms now,
                    struct ms_ctl_result *res);

/* Help text for the commands, for --help. Static string. */
const char *ms_ctl_help(void);

#endif
