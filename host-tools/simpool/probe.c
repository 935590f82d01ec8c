/*
 * simpool probe: bring each modem up with the same state machine simgated
 * uses (drivers/modem), then print what a technician needs to know.
 *
 * Straight line: options into one config, one modem_port per PORT, a poll()
 * loop until every port is ready or failed or the time is up, report.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "drivers/at/at_parse.h"
#include "drivers/base/sg_clock.h"
#include "drivers/modem/modem_port.h"
#include "host-tools/simpool/simpool.h"

#define PROBE_DEFAULT_TIMEOUT_S 60

struct probe {
    struct simpool_conn conn;   /* first: simpool_on_log reads it */
    char **ports;
    int nports;
    struct simpool_port pp[SIMPOOL_PORTS_MAX];
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
            "Nothing is sent and nothing stored on the SIM is deleted (messages already\n"
            "stored are read, as the daemon does at start-up, so unread ones become read).\n"
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

static void parse_args(int argc, char **argv, struct probe *pr)
{
    static const struct option opts[] = {
        SIMPOOL_CONN_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    simpool_conn_init(&pr->conn, PROBE_DEFAULT_TIMEOUT_S);
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "hv", opts, NULL)) != -1) {
        if (!simpool_conn_opt(&pr->conn, c, optarg, simpool_probe_help)) {
            fprintf(stderr, "try 'simpool probe --help'\n");
            exit(SIMPOOL_EXIT_USAGE);
        }
    }
    simpool_conn_check(&pr->conn, "probe");
    pr->ports = argv + optind;
    pr->nports = argc - optind;
    if (pr->nports <= 0)
        simpool_die(SIMPOOL_EXIT_USAGE, "probe: no PORT given (try 'simpool probe --help')");
    if (pr->nports > SIMPOOL_PORTS_MAX)
        simpool_die(SIMPOOL_EXIT_USAGE, "probe: at most %d ports", SIMPOOL_PORTS_MAX);
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

static void print_text(const struct simpool_port *pp, const char *why)
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

static json_t *port_json(const struct simpool_port *pp, const char *why)
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

static bool all_settled(void *ud)
{
    const struct probe *pr = ud;
    return simpool_settled(pr->pp, pr->nports);
}

int simpool_probe_main(int argc, char **argv)
{
    struct probe pr;
    memset(&pr, 0, sizeof(pr));
    parse_args(argc, argv, &pr);

    const struct modem_port_cbs cbs = {.log = simpool_on_log};
    sg_ms deadline = sg_clock_mono_ms() + (sg_ms)pr.conn.timeout_s * 1000;
    simpool_ports_start(&pr.conn, pr.ports, pr.nports, &cbs, &pr, pr.pp);

    int rc = simpool_loop(pr.pp, pr.nports, deadline, all_settled, &pr);

    int exit_code = rc < 0 ? SIMPOOL_EXIT_INTERNAL : SIMPOOL_EXIT_OK;
    json_t *arr = pr.conn.json ? json_array() : NULL;
    char why[SIMPOOL_PORTS_MAX][MODEM_LOG_MAX + 64];
    const char *whys[SIMPOOL_PORTS_MAX];
    for (int i = 0; i < pr.nports; i++) {
        whys[i] = simpool_why_not(&pr.pp[i], pr.conn.timeout_s, why[i], sizeof(why[i]));
        if (whys[i] && exit_code == SIMPOOL_EXIT_OK)
            exit_code = SIMPOOL_EXIT_NOT_READY;
        if (arr)
            json_array_append_new(arr, port_json(&pr.pp[i], whys[i]));
        else
            print_text(&pr.pp[i], whys[i]);
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
    for (int i = 0; i < pr.nports; i++)
        if (whys[i])
            fprintf(stderr, "simpool: %s: %s\n", pr.pp[i].path, whys[i]);
    simpool_ports_free(pr.pp, pr.nports);
    return exit_code;
}
