/*
 * simgate modems | sims | health: the gateway's hardware and its health,
 * from GET /v1/modems, /v1/sims and /v1/health.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "host-tools/simgate/cli.h"

static const char modems_help[] =
    "usage: simgate modems [--json] [--socket PATH]\n"
    "\n"
    "One line per modem slot the daemon drives: its state (absent, powering,\n"
    "initializing, ready, busy, recovering, failed), vendor and model, signal\n"
    "in dBm with its band, network registration (home, roaming, searching,\n"
    "denied, unknown) and operator, the ICCID of the SIM inside, and the last\n"
    "error the modem reported or the supervisor saw. `ready` and `busy` modems\n"
    "take work; a `recovering` one is climbing the recovery ladder.\n"
    "\noptions:\n" CLI_COMMON_OPTS_HELP
    "\nexit status: 0 ok, 1 refused, 2 usage, 3 daemon unreachable.\n";

static const char sims_help[] =
    "usage: simgate sims [--json] [--socket PATH]\n"
    "\n"
    "One line per SIM the daemon knows (configured in `sims` or seen in a\n"
    "modem): ICCID, own number, label, the modem it is in now, whether it may\n"
    "send, its circuit breaker (closed = healthy, open = resting after failures\n"
    "in a row, half-open = on trial), SMS parts sent today and this month,\n"
    "quota left (unlimited when no quota is set), rate limit, and totals of\n"
    "parts sent and failed.\n"
    "\noptions:\n" CLI_COMMON_OPTS_HELP
    "\nexit status: 0 ok, 1 refused, 2 usage, 3 daemon unreachable.\n";

static const char health_help[] =
    "usage: simgate health [--json] [--socket PATH]\n"
    "\n"
    "Asks the daemon whether it can send now: healthy when at least one modem\n"
    "is ready and the store answers. Prints \"ok\" or \"unavailable\", how many\n"
    "modems are ready, the last event sequence number, and the reasons why\n"
    "not (one line per modem that is not ready). Meant for monitoring and\n"
    "scripts: `simgate health >/dev/null || alert`.\n"
    "\noptions:\n" CLI_COMMON_OPTS_HELP "\n"
    "exit status: 0 healthy, 1 refused, 2 usage, 3 daemon unreachable,\n"
    "4 unhealthy (the API answered 503).\n";

/* Sorted by name. */
static const struct option common_opts[] = {
    {"help", no_argument, NULL, CLI_OPT_HELP},
    {"json", no_argument, NULL, CLI_OPT_JSON},
    {"socket", required_argument, NULL, CLI_OPT_SOCKET},
    {NULL, 0, NULL, 0},
};

/* Parses, connects and GETs path; on 0 *out is the 2xx body. */
static int simple_get(struct cli *k, int argc, char **argv, const char *path, json_t **out)
{
    *out = NULL;
    int rc = cli_parse(k, argc, argv, common_opts, NULL, NULL);
    if (rc >= 0)
        return rc;
    if ((rc = cli_args(k, argc, argv, 0, 0)) >= 0)
        return rc;
    if ((rc = cli_open(k)))
        return rc;
    return cli_call(k, "GET", path, NULL, NULL, CLI_TIMEOUT_MS, out);
}

static const struct cli_col modem_cols[] = {
    {"ID", "id", NULL, 0},
    {"STATE", "state", NULL, 0},
    {"VENDOR", "vendor", NULL, 0},
    {"MODEL", "model", NULL, 0},
    {"DBM", "signal_dbm", NULL, 0},
    {"BAND", "band", NULL, 0},
    {"REG", "registration", NULL, 0},
    {"OPERATOR", "operator", NULL, 0},
    {"ICCID", "iccid", NULL, 0},
    {"LAST_ERROR", "last_error", NULL, 0},
};

int cmd_modems(const struct simgate_opts *g, int argc, char **argv)
{
    struct cli k;
    json_t *body;
    cli_init(&k, "modems", modems_help, g);
    int rc = simple_get(&k, argc, argv, "/v1/modems", &body);
    if (rc == 0) {
        if (k.o.json)
            cli_print_json(body);
        else
            rc = cli_table(json_object_get(body, "modems"), modem_cols,
                           sizeof(modem_cols) / sizeof(modem_cols[0]));
    }
    json_decref(body);
    cli_close(&k);
    return rc;
}

/* Quotas and rate: null means none is set. */
static const struct cli_col sim_cols[] = {
    {"ICCID", "iccid", NULL, 0},
    {"MSISDN", "msisdn", NULL, 0},
    {"LABEL", "label", NULL, 24},
    {"MODEM", "modem", NULL, 0},
    {"ENABLED", "enabled", NULL, 0},
    {"BREAKER", "breaker", NULL, 0},
    {"TODAY", "sent_today", NULL, 0},
    {"MONTH", "sent_month", NULL, 0},
    {"DAILY_LEFT", "daily_left", "unlimited", 0},
    {"MONTHLY_LEFT", "monthly_left", "unlimited", 0},
    {"RATE/MIN", "rate_per_min", "none", 0},
    {"SENT", "sent_total", NULL, 0},
    {"FAILED", "failed_total", NULL, 0},
};

int cmd_sims(const struct simgate_opts *g, int argc, char **argv)
{
    struct cli k;
    json_t *body;
    cli_init(&k, "sims", sims_help, g);
    int rc = simple_get(&k, argc, argv, "/v1/sims", &body);
    if (rc == 0) {
        if (k.o.json)
            cli_print_json(body);
        else
            rc = cli_table(json_object_get(body, "sims"), sim_cols,
                           sizeof(sim_cols) / sizeof(sim_cols[0]));
    }
    json_decref(body);
    cli_close(&k);
    return rc;
}

static void print_health(const json_t *h)
{
    char ready[32], total[32], seq[32];
    const char *st = cli_cell(h, "status", seq, sizeof(seq));
    const char *nr = cli_cell(h, "modems_ready", ready, sizeof(ready));
    const char *nt = cli_cell(h, "modems", total, sizeof(total));
    printf("%s: %s of %s modems ready", st ? st : "?", nr ? nr : "?", nt ? nt : "?");
    const char *s = cli_cell(h, "last_event_seq", seq, sizeof(seq));
    if (s)
        printf(", last event %s", s);
    putchar('\n');
    size_t i;
    const json_t *r;
    json_array_foreach(json_object_get(h, "reasons"), i, r)
    {
        if (json_is_string(r))
            printf("  %s\n", json_string_value(r));
    }
}

int cmd_health(const struct simgate_opts *g, int argc, char **argv)
{
    struct cli k;
    cli_init(&k, "health", health_help, g);
    int rc = cli_parse(&k, argc, argv, common_opts, NULL, NULL);
    if (rc >= 0)
        return rc;
    if ((rc = cli_args(&k, argc, argv, 0, 0)) >= 0)
        return rc;
    if ((rc = cli_open(&k)))
        return rc;
    struct client_resp r;
    rc = cli_request(&k, "GET", "/v1/health", NULL, NULL, CLI_TIMEOUT_MS, &r);
    if (rc == 0) {
        /* 503 carries the health object (with reasons), not an error object. */
        if ((r.status == 200 || r.status == 503) && json_object_get(r.body, "status")) {
            if (k.o.json)
                cli_print_json(r.body);
            else
                print_health(r.body);
            rc = r.status == 200 ? SIMGATE_EXIT_OK : SIMGATE_EXIT_UNHEALTHY;
        } else {
            rc = cli_api_error(&k, &r);
        }
        client_resp_clear(&r);
    }
    cli_close(&k);
    return rc;
}
