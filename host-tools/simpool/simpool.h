/*
 * simpool: SIM pool provisioning and board bring-up for field technicians.
 *
 * main.c holds the subcommand table and the helpers that exit; each
 * subcommand lives in its own file (probe.c) and is one row of the table.
 */
#ifndef SIMPOOL_H
#define SIMPOOL_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include "drivers/base/sg_clock.h"
#include "drivers/modem/modem_port.h"

/* Exit codes shared by every subcommand (documented in --help). */
#define SIMPOOL_EXIT_OK 0        /* everything asked for is fine */
#define SIMPOOL_EXIT_NOT_READY 1 /* ran, but some port/SIM is not usable */
#define SIMPOOL_EXIT_USAGE 2     /* bad command line */
#define SIMPOOL_EXIT_INTERNAL 3  /* out of memory, poll() failure... */

struct simpool_cmd {
    const char *name;
    const char *summary;
    /* argv[0] is the subcommand name; returns an exit code. */
    int (*run)(int argc, char **argv);
    void (*help)(FILE *f);
};

int simpool_probe_main(int argc, char **argv);
void simpool_probe_help(FILE *f);
int simpool_send_main(int argc, char **argv);
void simpool_send_help(FILE *f);

#define SIMPOOL_PORTS_MAX 32

/* How to reach the modems; shared by every command that talks to ports.
 * Commands keep it as the FIRST member of their state, so the log callback
 * (simpool_on_log) finds it from the callback's ud. */
struct simpool_conn {
    const char *vendor;   /* "auto" or a profile name */
    const char *pin;      /* NULL = none ($SIMPOOL_PIN by default) */
    int timeout_s;
    int baud;
    bool rtscts;
    bool json;
    bool verbose;
};

/* Options every port command takes, sorted, for its getopt_long table. */
enum {
    SIMPOOL_OPT_BAUD = 256,
    SIMPOOL_OPT_HELP,
    SIMPOOL_OPT_JSON,
    SIMPOOL_OPT_PIN,
    SIMPOOL_OPT_RTSCTS,
    SIMPOOL_OPT_TIMEOUT,
    SIMPOOL_OPT_VENDOR,
    SIMPOOL_OPT_FIRST_OWN,   /* a command's own options start here */
};
#define SIMPOOL_CONN_OPTIONS                                             \
    {"baud", required_argument, NULL, SIMPOOL_OPT_BAUD},                 \
    {"help", no_argument, NULL, SIMPOOL_OPT_HELP},                       \
    {"json", no_argument, NULL, SIMPOOL_OPT_JSON},                       \
    {"pin", required_argument, NULL, SIMPOOL_OPT_PIN},                   \
    {"rtscts", no_argument, NULL, SIMPOOL_OPT_RTSCTS},                   \
    {"timeout", required_argument, NULL, SIMPOOL_OPT_TIMEOUT},           \
    {"vendor", required_argument, NULL, SIMPOOL_OPT_VENDOR},             \
    {"verbose", no_argument, NULL, 'v'}

/* Defaults: vendor auto, $SIMPOOL_PIN, the given timeout. */
void simpool_conn_init(struct simpool_conn *c, int timeout_s);
/* Handles a common option; false if `opt` is not one. Dies on a bad value.
 * SIMPOOL_OPT_HELP prints help() and exits 0. */
bool simpool_conn_opt(struct simpool_conn *c, int opt, const char *arg, void (*help)(FILE *));
/* Checks vendor and PIN once all options are read; dies on error. */
void simpool_conn_check(const struct simpool_conn *c, const char *cmd);

struct simpool_port {
    struct modem_port *p;
    const char *path;
};

/* Creates and starts one modem_port per path (bring-up begins). cbs.log is
 * set to simpool_on_log when NULL. Dies on error. */
void simpool_ports_start(const struct simpool_conn *c, char **paths, int n,
                         const struct modem_port_cbs *cbs, void *ud, struct simpool_port *out);
void simpool_ports_free(struct simpool_port *pp, int n);
/* poll() loop over the ports until done(ud) or the deadline. -1 on a poll
 * failure. */
int simpool_loop(struct simpool_port *pp, int n, sg_ms deadline, bool (*done)(void *ud), void *ud);
/* Every port ready or failed. */
bool simpool_settled(const struct simpool_port *pp, int n);
/* One line saying why a port is not ready to send, or NULL if it is. */
const char *simpool_why_not(const struct simpool_port *pp, int timeout_s, char *buf, size_t size);
/* modem_port log callback: ud starts with a struct simpool_conn. */
void simpool_on_log(void *ud, struct modem_port *p, enum modem_log_level lv, const char *line);

/* Print "simpool: <msg>" to stderr and exit with code. Tools only. */
void simpool_die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));

#endif
