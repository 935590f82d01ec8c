/*
 * simpool: what every command that talks to modems shares: the connection
 * options, starting one modem_port per PORT, and the poll() loop.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/at/at_parse.h"
#include "host-tools/simpool/simpool.h"

void simpool_conn_init(struct simpool_conn *c, int timeout_s)
{
    memset(c, 0, sizeof(*c));
    c->vendor = "auto";
    c->timeout_s = timeout_s;
    c->pin = getenv("SIMPOOL_PIN");
}

bool simpool_conn_opt(struct simpool_conn *c, int opt, const char *arg, void (*help)(FILE *))
{
    char *end;
    switch (opt) {
    case SIMPOOL_OPT_BAUD:
        c->baud = (int)strtol(arg, &end, 10);
        if (*end || c->baud <= 0)
            simpool_die(SIMPOOL_EXIT_USAGE, "bad --baud '%s'", arg);
        return true;
    case 'h':
    case SIMPOOL_OPT_HELP:
        help(stdout);
        exit(SIMPOOL_EXIT_OK);
    case SIMPOOL_OPT_JSON:
        c->json = true;
        return true;
    case SIMPOOL_OPT_PIN:
        c->pin = arg;
        return true;
    case SIMPOOL_OPT_RTSCTS:
        c->rtscts = true;
        return true;
    case SIMPOOL_OPT_TIMEOUT:
        c->timeout_s = (int)strtol(arg, &end, 10);
        if (*end || c->timeout_s <= 0 || c->timeout_s > 3600)
            simpool_die(SIMPOOL_EXIT_USAGE, "bad --timeout '%s' (1..3600 s)", arg);
        return true;
    case SIMPOOL_OPT_VENDOR:
        c->vendor = arg;
        return true;
    case 'v':
        c->verbose = true;
        return true;
    default:
        return false;
    }
}

void simpool_conn_check(const struct simpool_conn *c, const char *cmd)
{
    if (strcmp(c->vendor, "auto") != 0 && !modem_vendor_by_name(c->vendor))
        simpool_die(SIMPOOL_EXIT_USAGE,
                    "%s: unknown --vendor '%s' (auto, sim800, sim7600, ec25, huawei, generic)", cmd,
                    c->vendor);
    if (c->pin && (strlen(c->pin) < 4 || strlen(c->pin) > 8 ||
                   strspn(c->pin, "0123456789") != strlen(c->pin)))
        simpool_die(SIMPOOL_EXIT_USAGE, "%s: a PIN is 4 to 8 digits", cmd);
}

void simpool_on_log(void *ud, struct modem_port *p, enum modem_log_level lv, const char *line)
{
    (void)p;
    const struct simpool_conn *c = ud;
    if (c->verbose || lv <= MODEM_LOG_ERR)
        fprintf(stderr, "%s\n", line);
}

void simpool_ports_start(const struct simpool_conn *c, char **paths, int n,
                         const struct modem_port_cbs *cbs, void *ud, struct simpool_port *out)
{
    struct modem_port_cbs cb = *cbs;
    if (!cb.log)
        cb.log = simpool_on_log;
    const struct modem_vendor *v =
        strcmp(c->vendor, "auto") == 0 ? NULL : modem_vendor_by_name(c->vendor);
    sg_ms now = sg_clock_mono_ms();
    for (int i = 0; i < n; i++) {
        struct modem_port_cfg pc = {
            .id = paths[i],
            .path = paths[i],
            .baud = c->baud,
            .rtscts = c->rtscts,
            .vendor = v,
            .pin = c->pin,
            .sim_timeout_ms = (sg_ms)c->timeout_s * 1000,
            .reg_timeout_ms = (sg_ms)c->timeout_s * 1000,
            .csq_interval_ms = -1,
        };
        struct sg_err err;
        sg_err_clear(&err);
        out[i].path = paths[i];
        if (modem_port_new(&pc, &cb, ud, &out[i].p, &err) < 0)
            simpool_die(SIMPOOL_EXIT_INTERNAL, "%s: %s", paths[i], err.msg);
        modem_port_start(out[i].p, now);
    }
}

void simpool_ports_free(struct simpool_port *pp, int n)
{
    for (int i = 0; i < n; i++) {
        modem_port_free(pp[i].p);
        pp[i].p = NULL;
    }
}

bool simpool_settled(const struct simpool_port *pp, int n)
{
    for (int i = 0; i < n; i++) {
        enum modem_state s = modem_port_state(pp[i].p);
        if (s != MODEM_READY && s != MODEM_FAILED)
            return false;
    }
    return true;
}

int simpool_loop(struct simpool_port *pp, int n, sg_ms deadline, bool (*done)(void *ud), void *ud)
{
    struct pollfd fds[SIMPOOL_PORTS_MAX];
    while (!done(ud)) {
        sg_ms now = sg_clock_mono_ms();
        if (now >= deadline)
            return 0;
        sg_ms wake = deadline;
        for (int i = 0; i < n; i++) {
            sg_ms d = modem_port_next_deadline(pp[i].p);
            if (d < wake)
                wake = d;
            fds[i].fd = modem_port_fd(pp[i].p);
            fds[i].events = POLLIN | (modem_port_want_write(pp[i].p) ? POLLOUT : 0);
            fds[i].revents = 0;
        }
        int ms = wake <= now ? 0 : (int)(wake - now > 60000 ? 60000 : wake - now);
        int rc = poll(fds, (nfds_t)n, ms);
        if (rc < 0 && errno != EINTR) {
            perror("simpool: poll");
            return -1;
        }
        now = sg_clock_mono_ms();
        for (int i = 0; i < n; i++) {
            if (rc > 0 && fds[i].fd >= 0 && (fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                modem_port_on_readable(pp[i].p, now);
            if (rc > 0 && fds[i].fd >= 0 && (fds[i].revents & POLLOUT))
                modem_port_on_writable(pp[i].p, now);
            modem_port_tick(pp[i].p, now);
        }
    }
    return 0;
}

const char *simpool_why_not(const struct simpool_port *pp, int timeout_s, char *buf, size_t size)
{
    const struct modem *m = modem_port_modem(pp->p);
    const struct modem_identity *id = modem_port_identity(pp->p);
    switch (modem_port_state(pp->p)) {
    case MODEM_READY:
    case MODEM_BUSY:
        return NULL;
    case MODEM_FAILED:
        if (!modem_answered(m) && strncmp(modem_port_reason(pp->p), "no answer", 9) != 0)
            snprintf(buf, size, "no answer (%s)", modem_port_reason(pp->p));
        else
            snprintf(buf, size, "%s", modem_port_reason(pp->p));
        return buf;
    case MODEM_ABSENT:
        snprintf(buf, size, "port absent (%s)", modem_port_reason(pp->p));
        return buf;
    default:
        break;
    }
    if (!modem_answered(m)) {
        snprintf(buf, size, "no answer within %d s", timeout_s);
    } else if (strcmp(modem_phase_name(m), "registration") == 0 && !id->registered) {
        int s = id->cereg >= 0 && id->creg != AT_REG_DENIED ? id->cereg : id->creg;
        snprintf(buf, size, "not registered (%s) within %d s",
                 s >= 0 ? at_reg_stat_name(s) : "no reply", timeout_s);
    } else {
        snprintf(buf, size, "not ready within %d s (stuck at %s: %s)", timeout_s,
                 modem_phase_name(m), modem_port_reason(pp->p));
    }
    return buf;
}
