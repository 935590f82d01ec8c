/*
 * simpool probe: bring each modem up with the same state machine simgated
 * uses (drivers/modem), then print what a technician needs to know.
 *
 * Straight line: options into one config, one modem_port per PORT, a poll()
 * loop until every port is ready or failed or the time is up, report.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "drivers/at/at_parse.h"
#include "drivers/base/sg_clock.h"
#include "drivers/modem/modem_port.h"
#include "host-tools/simpool/simpool.h"

#define PROBE_PORTS_MAX 32
#define PROBE_DEFAULT_TIMEOUT_S 60

struct probe_cfg {
    const char *vendor;     /* "auto" or a profile name */
    const char *pin;        /* NULL = none */
    int timeout_s;
    int baud;
    bool rtscts;
    bool json;
    bool verbose;
    char **ports;
    int nports;
};

struct probe_port {
    struct modem_port *p;
    const char *path;
    bool answered_seen;
};

void simpool_probe_help(FILE *f)
{
    fprintf(f,
            "usage: simpool probe PORT... [--vendor auto|sim800|sim7600|ec25|huawei|generic]\n"
            "                    [--pin PIN] [--timeout S] [--baud N] [--rtscts] [--json] [-v]\n"
            "\n"
            "Brings every modem on the given serial ports up, in parallel, exactly as\n"
            "simgated would: echo off, numeric errors, SIM and PIN, SMS set-up (PDU mode,\n"
            "storage, new-message indications), registration, operator and signal. Then\n"
            "prints, per port: vendor/model/firmware/IMEI; SIM: ICCID, IMSI, MSISDN if the\n"
            "SIM knows it, PIN state; network: registration, operator, signal in dBm with\n"
            "a band (marginal <= -95, workable <= -85, good <= -75, else excellent); SMSC.\n"
            "Nothing is sent and nothing stored on the SIM is deleted.\n"
            "\n"
            "A PORT is a device (/dev/ttyUSB2), a /dev/serial/by-id link or a pty.\n"
            "\n"
            "options:\n"
            "  --baud N       line speed (default 115200)\n"
            "  --help         this text\n"
            "  --json         one JSON object on stdout instead of text\n"
            "  --pin PIN      enter this PIN if a SIM asks for one (also $SIMPOOL_PIN).\n"
            "                 It is entered at most once: a wrong PIN is reported, never\n"
            "                 retried (three wrong PINs lock the SIM). Never printed.\n"
            "  --rtscts       hardware flow control\n"
            "  --timeout S    give up on a port after S seconds (default %d); a modem\n"
            "                 still searching for the network then is 'not registered'\n"
            "  --vendor V     modem profile; auto (default) identifies it from ATI/CGMI\n"
            "  -v, --verbose  log every step of the bring-up on stderr\n"
            "\n"
            "exit codes:\n"
            "  0  every port is ready to send\n"
            "  1  at least one is not; stderr has one line per such port:\n"
            "       simpool: PORT: REASON\n"
            "     REASON is one of: no answer within S s, port absent, no SIM,\n"
            "     PIN needed, wrong PIN, SIM PUK needed, SIM not ready, not registered\n"
            "     (searching/denied/...), or the command the modem rejected\n"
            "  2  bad command line\n"
            "  3  internal error\n",
            PROBE_DEFAULT_TIMEOUT_S);
}

static void parse_args(int argc, char **argv, struct probe_cfg *cfg)
{
    enum { OPT_BAUD = 256, OPT_HELP, OPT_JSON, OPT_PIN, OPT_RTSCTS, OPT_TIMEOUT, OPT_VENDOR };
    static const struct option opts[] = {
        {"baud", required_argument, NULL, OPT_BAUD},
        {"help", no_argument, NULL, OPT_HELP},
        {"json", no_argument, NULL, OPT_JSON},
        {"pin", required_argument, NULL, OPT_PIN},
        {"rtscts", no_argument, NULL, OPT_RTSCTS},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"vendor", required_argument, NULL, OPT_VENDOR},
        {"verbose", no_argument, NULL, 'v'},
        {NULL, 0, NULL, 0},
    };
    memset(cfg, 0, sizeof(*cfg));
    cfg->vendor = "auto";
    cfg->timeout_s = PROBE_DEFAULT_TIMEOUT_S;
    cfg->pin = getenv("SIMPOOL_PIN");
    char *end;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "hv", opts, NULL)) != -1) {
        switch (c) {
        case OPT_BAUD:
            cfg->baud = (int)strtol(optarg, &end, 10);
            if (*end || cfg->baud <= 0)
                simpool_die(SIMPOOL_EXIT_USAGE, "probe: bad --baud '%s'", optarg);
            break;
        case 'h':
        case OPT_HELP:
            simpool_probe_help(stdout);
            exit(SIMPOOL_EXIT_OK);
        case OPT_JSON:
            cfg->json = true;
            break;
        case OPT_PIN:
            cfg->pin = optarg;
            break;
        case OPT_RTSCTS:
            cfg->rtscts = true;
            break;
        case OPT_TIMEOUT:
            cfg->timeout_s = (int)strtol(optarg, &end, 10);
            if (*end || cfg->timeout_s <= 0 || cfg->timeout_s > 3600)
                simpool_die(SIMPOOL_EXIT_USAGE, "probe: bad --timeout '%s' (1..3600 s)", optarg);
            break;
        case OPT_VENDOR:
            cfg->vendor = optarg;
            break;
        case 'v':
            cfg->verbose = true;
            break;
        default:
            fprintf(stderr, "try 'simpool probe --help'\n");
            exit(SIMPOOL_EXIT_USAGE);
        }
    }
    if (strcmp(cfg->vendor, "auto") != 0 && !modem_vendor_by_name(cfg->vendor))
        simpool_die(SIMPOOL_EXIT_USAGE,
                    "probe: unknown --vendor '%s' (auto, sim800, sim7600, ec25, huawei, generic)",
                    cfg->vendor);
    if (cfg->pin && (strlen(cfg->pin) < 4 || strlen(cfg->pin) > 8 ||
                     strspn(cfg->pin, "0123456789") != strlen(cfg->pin)))
        simpool_die(SIMPOOL_EXIT_USAGE, "probe: a PIN is 4 to 8 digits");
    cfg->ports = argv + optind;
    cfg->nports = argc - optind;
    if (cfg->nports <= 0)
        simpool_die(SIMPOOL_EXIT_USAGE, "probe: no PORT given (try 'simpool probe --help')");
    if (cfg->nports > PROBE_PORTS_MAX)
        simpool_die(SIMPOOL_EXIT_USAGE, "probe: at most %d ports", PROBE_PORTS_MAX);
}

static void on_log(void *ud, struct modem_port *p, enum modem_log_level lv, const char *line)
{
    (void)p;
    const struct probe_cfg *cfg = ud;
    if (cfg->verbose || lv <= MODEM_LOG_ERR)
        fprintf(stderr, "%s\n", line);
}

static bool settled(const struct probe_port *pp, int n)
{
    for (int i = 0; i < n; i++) {
        enum modem_state s = modem_port_state(pp[i].p);
        if (s != MODEM_READY && s != MODEM_FAILED)
            return false;
    }
    return true;
}

/* One line saying why a port is not ready, or NULL when it is. */
static const char *why_not(const struct probe_port *pp, const struct probe_cfg *cfg, char *buf,
                           size_t size)
{
    const struct modem *m = modem_port_modem(pp->p);
    const struct modem_identity *id = modem_port_identity(pp->p);
    switch (modem_port_state(pp->p)) {
    case MODEM_READY:
    case MODEM_BUSY:
        return NULL;
    case MODEM_FAILED:
        if (!modem_answered(m))
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
        snprintf(buf, size, "no answer within %d s", cfg->timeout_s);
    } else if (strcmp(modem_phase_name(m), "registration") == 0 && !id->registered) {
        int s = id->cereg >= 0 && id->creg != AT_REG_DENIED ? id->cereg : id->creg;
        snprintf(buf, size, "not registered (%s) within %d s",
                 s >= 0 ? at_reg_stat_name(s) : "no reply", cfg->timeout_s);
    } else {
        snprintf(buf, size, "not ready within %d s (stuck at %s: %s)", cfg->timeout_s,
                 modem_phase_name(m), modem_port_reason(pp->p));
    }
    return buf;
}

static const char *reg_name(const struct modem_identity *id)
{
    if (id->registered)
        return id->roaming ? "roaming" : "home";
    int s = id->creg >= 0 ? id->creg : id->cereg;
    return s >= 0 ? at_reg_stat_name(s) : "unknown";
}

static const char *or_dash(const char *s)
{
    return s && *s ? s : "-";
}

static void print_text(const struct probe_port *pp, const char *why)
{
    const struct modem_identity *id = modem_port_identity(pp->p);
    if (why)
        printf("%s: NOT READY: %s\n", pp->path, why);
    else
        printf("%s: ready\n", pp->path);
    if (id->manufacturer[0] || id->model[0] || id->imei[0])
        printf("  modem:   %s %s, firmware %s, IMEI %s (profile %s)\n", or_dash(id->manufacturer),
               or_dash(id->model), or_dash(id->firmware), or_dash(id->imei), or_dash(id->vendor));
    if (id->pin_state[0] || id->iccid[0])
        printf("  SIM:     ICCID %s, IMSI %s, MSISDN %s, PIN %s\n", or_dash(id->iccid),
               or_dash(id->imsi), id->msisdn[0] ? id->msisdn : "unknown", or_dash(id->pin_state));
    if (id->creg >= 0 || id->cereg >= 0 || id->operator_name[0])
        printf("  network: %s, operator %s\n", reg_name(id), or_dash(id->operator_name));
    if (id->rssi_dbm)
        printf("  signal:  %d dBm (%s)\n", id->rssi_dbm, id->band);
    if (id->smsc[0] || id->registered)
        printf("  SMSC:    %s\n", id->smsc[0] ? id->smsc : "none set (sends would fail, CMS 330)");
}

static void set_str(json_t *o, const char *k, const char *v)
{
    json_object_set_new(o, k, v && *v ? json_string(v) : json_null());
}

static json_t *port_json(const struct probe_port *pp, const char *why)
{
    const struct modem_identity *id = modem_port_identity(pp->p);
    json_t *o = json_object();
    json_object_set_new(o, "port", json_string(pp->path));
    json_object_set_new(o, "ready", json_boolean(!why));
    json_object_set_new(o, "state", json_string(modem_state_name(modem_port_state(pp->p))));
    set_str(o, "reason", why);
    set_str(o, "vendor", id->vendor);
    set_str(o, "manufacturer", id->manufacturer);
    set_str(o, "model", id->model);
    set_str(o, "firmware", id->firmware);
    set_str(o, "imei", id->imei);
    set_str(o, "iccid", id->iccid);
    set_str(o, "imsi", id->imsi);
    set_str(o, "msisdn", id->msisdn);
    set_str(o, "pin_state", id->pin_state);
    json_object_set_new(o, "registration", json_string(reg_name(id)));
    set_str(o, "operator", id->operator_name);
    json_object_set_new(o, "signal_dbm", id->rssi_dbm ? json_integer(id->rssi_dbm) : json_null());
    set_str(o, "signal_band", id->rssi_dbm ? id->band : NULL);
    set_str(o, "smsc", id->smsc);
    json_object_set_new(o, "status_reports", json_boolean(id->status_reports));
    return o;
}

static int run_loop(struct probe_port *pp, int n, sg_ms deadline)
{
    struct pollfd fds[PROBE_PORTS_MAX];
    while (!settled(pp, n)) {
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

int simpool_probe_main(int argc, char **argv)
{
    struct probe_cfg cfg;
    parse_args(argc, argv, &cfg);

    struct probe_port pp[PROBE_PORTS_MAX];
    memset(pp, 0, sizeof(pp));
    const struct modem_port_cbs cbs = {.log = on_log};
    const struct modem_vendor *v =
        strcmp(cfg.vendor, "auto") == 0 ? NULL : modem_vendor_by_name(cfg.vendor);
    sg_ms start = sg_clock_mono_ms();
    sg_ms deadline = start + (sg_ms)cfg.timeout_s * 1000;
    for (int i = 0; i < cfg.nports; i++) {
        struct modem_port_cfg pc = {
            .id = cfg.ports[i],
            .path = cfg.ports[i],
            .baud = cfg.baud,
            .rtscts = cfg.rtscts,
            .vendor = v,
            .pin = cfg.pin,
            .sim_timeout_ms = (sg_ms)cfg.timeout_s * 1000,
            .reg_timeout_ms = (sg_ms)cfg.timeout_s * 1000,
            .csq_interval_ms = -1,
        };
        struct sg_err err;
        sg_err_clear(&err);
        pp[i].path = cfg.ports[i];
        if (modem_port_new(&pc, &cbs, &cfg, &pp[i].p, &err) < 0)
            simpool_die(SIMPOOL_EXIT_INTERNAL, "probe: %s: %s", cfg.ports[i], err.msg);
        modem_port_start(pp[i].p, start);
    }

    int rc = run_loop(pp, cfg.nports, deadline);

    int exit_code = rc < 0 ? SIMPOOL_EXIT_INTERNAL : SIMPOOL_EXIT_OK;
    json_t *arr = cfg.json ? json_array() : NULL;
    char reasons[PROBE_PORTS_MAX][MODEM_LOG_MAX + 64];
    for (int i = 0; i < cfg.nports; i++) {
        const char *why = why_not(&pp[i], &cfg, reasons[i], sizeof(reasons[i]));
        if (why && exit_code == SIMPOOL_EXIT_OK)
            exit_code = SIMPOOL_EXIT_NOT_READY;
        if (arr)
            json_array_append_new(arr, port_json(&pp[i], why));
        else
            print_text(&pp[i], why);
    }
    if (arr) {
        json_t *top = json_object();
        json_object_set_new(top, "class", json_string("probe"));
        json_object_set_new(top, "ready", json_boolean(exit_code == SIMPOOL_EXIT_OK));
        json_object_set_new(top, "ports", arr);
        json_dumpf(top, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fputc('\n', stdout);
        json_decref(top);
    }
    fflush(stdout);
    for (int i = 0; i < cfg.nports; i++) {
        char buf[MODEM_LOG_MAX + 64];
        const char *why = why_not(&pp[i], &cfg, buf, sizeof(buf));
        if (why)
            fprintf(stderr, "simpool: %s: %s\n", pp[i].path, why);
        modem_port_free(pp[i].p);
    }
    return exit_code;
}
