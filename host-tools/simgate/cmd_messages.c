/*
 * simgate status | list | cancel | inbox: read and cancel outbound messages
 * (GET /v1/messages/{id}, GET /v1/messages, DELETE /v1/messages/{id}) and
 * read received ones (GET /v1/inbox).
 */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "host-tools/simgate/cli.h"
#include "host-tools/simgate/table.h"

#define EXIT_HELP "\nexit status: 0 ok, 1 refused (unknown id...), 2 usage, 3 daemon unreachable.\n"

static const char status_help[] =
    "usage: simgate status [--json] [--socket PATH] ID\n"
    "\n"
    "Shows message ID as the daemon stores it: recipient, status, priority,\n"
    "encoding, attempts, the modem and SIM that took it, times (UTC), the\n"
    "text; then each SMS part (its SIM, the network's message reference MR,\n"
    "when it was sent and its delivery report: TP-ST 0 = delivered); then\n"
    "the full history, one line per state change with its modem, SIM and\n"
    "cause. A message goes queued -> sending -> sent -> delivered or\n"
    "undelivered, or ends failed, expired (TTL passed before sending),\n"
    "canceled or unknown (in a modem when the daemon died; never resent).\n"
    "\n"
    "options:\n" CLI_COMMON_OPTS_HELP EXIT_HELP;

static const char list_help[] =
    "usage: simgate list [--status S] [--since T] [--after ID] [--limit N]\n"
    "                    [--json] [--socket PATH]\n"
    "\n"
    "Lists messages in id order (oldest first), one line each: recipient,\n"
    "status, priority, parts, attempts, modem, last change, last error. The\n"
    "daemon answers in pages: when more follow, the command says which\n"
    "--after to pass next (on stderr, so stdout stays a table).\n"
    "\n"
    "options:\n"
    "  --after ID     only messages with an id above ID (paging)\n" CLI_COMMON_OPTS_HELP
    "  --limit N      at most N messages, 1..1000 (default 100)\n"
    "  --since T      only messages created at or after T: RFC 3339 UTC\n"
    "                 (2026-11-22T15:40:00Z), Unix milliseconds, or an age:\n"
    "                 30s, 15m, 2h, 7d\n"
    "  --status S     only messages in state S: queued, sending, sent, delivered,\n"
    "                 undelivered, failed, expired, canceled, unknown\n" EXIT_HELP;

static const char cancel_help[] =
    "usage: simgate cancel [--json] [--socket PATH] ID\n"
    "\n"
    "Cancels message ID if no modem has taken it yet (status queued, also\n"
    "while waiting for a retry). Once handed to a modem a message can no\n"
    "longer be called back: the daemon refuses with too_late (HTTP 409) and\n"
    "the command exits 1.\n"
    "\n"
    "options:\n" CLI_COMMON_OPTS_HELP
    "\nexit status: 0 canceled, 1 refused (unknown id, too late), 2 usage,\n"
    "3 daemon unreachable.\n";

static const char inbox_help[] =
    "usage: simgate inbox [--since T] [--after ID] [--limit N] [--json] [--socket PATH]\n"
    "\n"
    "Lists received SMS in id order (oldest first): when the gateway got it,\n"
    "the sender, the modem and SIM it came in on, its parts and its text.\n"
    "Multipart texts are shown joined once every part arrived (or as separate\n"
    "parts after inbound.reassembly_timeout). Texts show on one line, cut at\n"
    "60 characters (control characters as \\n, \\t); --json has them whole.\n"
    "The daemon answers in pages: when more follow, the command says which\n"
    "--after to pass next (on stderr).\n"
    "\n"
    "options:\n"
    "  --after ID     only messages with an id above ID (paging)\n" CLI_COMMON_OPTS_HELP
    "  --limit N      at most N messages, 1..200 (default 100)\n"
    "  --since T      only messages received at or after T: RFC 3339 UTC,\n"
    "                 Unix milliseconds, or an age: 30s, 15m, 2h, 7d\n" EXIT_HELP;

/* Sorted by name. */
static const struct option common_opts[] = {
    CLI_OPT_ROW_HELP,
    CLI_OPT_ROW_JSON,
    CLI_OPT_ROW_SOCKET,
    {NULL, 0, NULL, 0},
};

/* Parses `<cmd> [common options] ID` into a path "/v1/messages/ID". */
static int parse_id_cmd(struct cli *k, int argc, char **argv, char *path, size_t n)
{
    int rc = cli_parse(k, argc, argv, common_opts, NULL, NULL);
    if (rc >= 0)
        return rc;
    if ((rc = cli_args(k, argc, argv, 1, 1)) >= 0)
        return rc;
    long long id;
    if (cli_parse_int(argv[optind], 1, INT64_MAX, &id) < 0)
        return cli_usage(k, "a message id is a positive integer, not \"%s\"", argv[optind]);
    snprintf(path, n, "/v1/messages/%lld", id);
    return -1;
}

static const struct cli_col part_cols[] = {
    {"PART", "seq", NULL, 0},
    {"STATUS", "status", NULL, 0},
    {"MODEM", "modem", NULL, 0},
    {"ICCID", "iccid", NULL, 0},
    {"MR", "mr", NULL, 0},
    {"SENT_AT", "sent_at", NULL, 0},
    {"TP-ST", "dlr_status", NULL, 0},
    {"REPORT_AT", "dlr_at", NULL, 0},
};

static const struct cli_col history_cols[] = {
    {"AT", "at", NULL, 0},       {"FROM", "from", NULL, 0},   {"TO", "to", NULL, 0},
    {"MODEM", "modem", NULL, 0}, {"ICCID", "iccid", NULL, 0}, {"MR", "mr", NULL, 0},
    {"CAUSE", "cause", NULL, 0},
};

/* The message's own fields, in the API's order, as "key  value" lines. */
static int print_message(const json_t *m)
{
    static const char *const keys[] = {"id",
                                       "to",
                                       "status",
                                       "priority",
                                       "encoding",
                                       "part_count",
                                       "attempts",
                                       "last_error",
                                       "modem",
                                       "iccid",
                                       "created_at",
                                       "updated_at",
                                       "expires_at",
                                       "ttl",
                                       "status_report",
                                       "idempotency_key",
                                       "next_attempt_at",
                                       "text"};
    struct table *t = table_new(NULL, 2);
    if (!t)
        return SIMGATE_EXIT_FAILURE;
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        char buf[32];
        const char *row[2] = {keys[i], cli_cell(m, keys[i], buf, sizeof(buf))};
        if (table_add(t, row) < 0) {
            table_free(t);
            return SIMGATE_EXIT_FAILURE;
        }
    }
    table_print(t, stdout);
    table_free(t);
    printf("\nparts:\n");
    int rc =
        cli_table(json_object_get(m, "parts"), part_cols, sizeof(part_cols) / sizeof(part_cols[0]));
    if (rc)
        return rc;
    printf("\nhistory:\n");
    return cli_table(json_object_get(m, "history"), history_cols,
                     sizeof(history_cols) / sizeof(history_cols[0]));
}

int cmd_status(const struct simgate_opts *g, int argc, char **argv)
{
    struct cli k;
    char path[64];
    json_t *m = NULL;
    cli_init(&k, "status", status_help, g);
    int rc = parse_id_cmd(&k, argc, argv, path, sizeof(path));
    if (rc >= 0)
        return rc;
    if ((rc = cli_open(&k)) == 0 &&
        (rc = cli_call(&k, "GET", path, NULL, NULL, CLI_TIMEOUT_MS, &m)) == 0) {
        if (k.o.json)
            cli_print_json(m);
        else
            rc = print_message(m);
    }
    json_decref(m);
    cli_close(&k);
    return rc;
}

int cmd_cancel(const struct simgate_opts *g, int argc, char **argv)
{
    struct cli k;
    char path[64];
    json_t *r = NULL;
    cli_init(&k, "cancel", cancel_help, g);
    int rc = parse_id_cmd(&k, argc, argv, path, sizeof(path));
    if (rc >= 0)
        return rc;
    if ((rc = cli_open(&k)) == 0 &&
        (rc = cli_call(&k, "DELETE", path, NULL, NULL, CLI_TIMEOUT_MS, &r)) == 0) {
        if (k.o.json) {
            cli_print_json(r);
        } else {
            char buf[32];
            const char *id = cli_cell(r, "id", buf, sizeof(buf));
            const char *st = json_string_value(json_object_get(r, "status"));
            printf("message %s %s\n", id ? id : "?", st ? st : "canceled");
        }
    }
    json_decref(r);
    cli_close(&k);
    return rc;
}

enum { OPT_AFTER = CLI_OPT_FIRST_FREE, OPT_LIMIT, OPT_SINCE, OPT_STATUS };

/* Sorted by name. */
static const struct option list_opts[] = {
    {"after", required_argument, NULL, OPT_AFTER},
    CLI_OPT_ROW_HELP,
    CLI_OPT_ROW_JSON,
    {"limit", required_argument, NULL, OPT_LIMIT},
    {"since", required_argument, NULL, OPT_SINCE},
    CLI_OPT_ROW_SOCKET,
    {"status", required_argument, NULL, OPT_STATUS},
    {NULL, 0, NULL, 0},
};

struct list_args {
    char path[CLIENT_PATH_MAX];
};

static int list_opt(struct cli *k, void *ud, int id, const char *arg)
{
    struct list_args *a = ud;
    const char *key = NULL;
    char since[64];
    long long v;
    switch (id) {
    case OPT_AFTER:
        if (cli_parse_int(arg, 0, INT64_MAX, &v) < 0)
            return cli_usage(k, "--after takes a message id, not \"%s\"", arg);
        key = "after";
        break;
    case OPT_LIMIT:
        if (cli_parse_int(arg, 1, 1000000, &v) < 0)
            return cli_usage(k, "--limit takes a positive number, not \"%s\"", arg);
        key = "limit";
        break;
    case OPT_SINCE:
        if (cli_since(arg, since, sizeof(since)) < 0)
            return cli_usage(k, "--since %s is too far back", arg);
        arg = since;
        key = "since";
        break;
    case OPT_STATUS:
        key = "status";
        break;
    default:
        return cli_usage(k, "unexpected option");
    }
    if (client_query_add(a->path, sizeof(a->path), key, arg) < 0)
        return cli_usage(k, "--%s value too long", key);
    return 0;
}

static const struct cli_col list_cols[] = {
    {"ID", "id", NULL, 0},
    {"TO", "to", NULL, 0},
    {"STATUS", "status", NULL, 0},
    {"PRIORITY", "priority", NULL, 0},
    {"PARTS", "part_count", NULL, 0},
    {"ATTEMPTS", "attempts", NULL, 0},
    {"MODEM", "modem", NULL, 0},
    {"UPDATED", "updated_at", NULL, 0},
    {"LAST_ERROR", "last_error", NULL, 48},
};

/* GET a paged list and print it: --json as is, else a table and a hint
 * when the API says more pages follow. `list` and `inbox` differ only in
 * path, options and columns. */
static int paged_list(const struct simgate_opts *g, int argc, char **argv, const char *name,
                      const char *help, const struct option *opts, const char *path,
                      const struct cli_col *cols, size_t ncols)
{
    struct cli k;
    struct list_args a;
    snprintf(a.path, sizeof(a.path), "%s", path);
    json_t *page = NULL;
    cli_init(&k, name, help, g);
    int rc = cli_parse(&k, argc, argv, opts, list_opt, &a);
    if (rc >= 0)
        return rc;
    if ((rc = cli_args(&k, argc, argv, 0, 0)) >= 0)
        return rc;
    if ((rc = cli_open(&k)) == 0 &&
        (rc = cli_call(&k, "GET", a.path, NULL, NULL, CLI_TIMEOUT_MS, &page)) == 0) {
        if (k.o.json) {
            cli_print_json(page);
        } else {
            rc = cli_table(json_object_get(page, "messages"), cols, ncols);
            const json_t *next = json_object_get(page, "next_after");
            if (json_is_integer(next))
                fprintf(stderr, "more messages follow: repeat with --after %lld\n",
                        (long long)json_integer_value(next));
        }
    }
    json_decref(page);
    cli_close(&k);
    return rc;
}

int cmd_list(const struct simgate_opts *g, int argc, char **argv)
{
    return paged_list(g, argc, argv, "list", list_help, list_opts, "/v1/messages", list_cols,
                      sizeof(list_cols) / sizeof(list_cols[0]));
}

/* Sorted by name. */
static const struct option inbox_opts[] = {
    {"after", required_argument, NULL, OPT_AFTER},
    CLI_OPT_ROW_HELP,
    CLI_OPT_ROW_JSON,
    {"limit", required_argument, NULL, OPT_LIMIT},
    {"since", required_argument, NULL, OPT_SINCE},
    CLI_OPT_ROW_SOCKET,
    {NULL, 0, NULL, 0},
};

static const struct cli_col inbox_cols[] = {
    {"ID", "id", NULL, 0},       {"RECEIVED", "received_at", NULL, 0}, {"FROM", "from", NULL, 0},
    {"MODEM", "modem", NULL, 0}, {"ICCID", "iccid", NULL, 0},          {"PARTS", "parts", NULL, 0},
    {"TEXT", "text", NULL, 60},
};

int cmd_inbox(const struct simgate_opts *g, int argc, char **argv)
{
    return paged_list(g, argc, argv, "inbox", inbox_help, inbox_opts, "/v1/inbox", inbox_cols,
                      sizeof(inbox_cols) / sizeof(inbox_cols[0]));
}
