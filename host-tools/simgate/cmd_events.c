/*
 * simgate events: the daemon's event log (GET /v1/events?after=&wait=):
 * one page from a cursor, or follow it live with long-polls.
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "host-tools/simgate/cli.h"

#define FOLLOW_WAIT_S    30   /* one long-poll; the daemon may cap it lower */
#define FOLLOW_RETRY_MS  1000 /* after a lost connection or a 429 */
#define EVENTS_LIMIT_DEF 20   /* one page without --after: the newest 20 */
#define EVENTS_PAGE_MAX  1000 /* the API's cap per answer */
#define SUMMARY_MAX      512

static const char events_help[] =
    "usage: simgate events [--after SEQ] [--limit N] [--follow] [--json] [--socket PATH]\n"
    "\n"
    "The event log: every message state change (message.state), received SMS\n"
    "(inbound) and modem state change (modem.state), numbered by a sequence\n"
    "number SEQ that never goes back. One line per event: SEQ, time (UTC),\n"
    "type, message id, and the event's data as key=value.\n"
    "\n"
    "Without --after, shows the newest events (--limit, default 20); with\n"
    "--after SEQ, the events after SEQ in order, up to --limit (default 100).\n"
    "\n"
    "--follow keeps printing events as they happen, from SEQ (default: from\n"
    "now), by long-polling the daemon; it survives daemon restarts (retrying\n"
    "every second, nothing lost or doubled: the cursor is the daemon's\n"
    "durable log) and runs until interrupted. A backend that was down catches\n"
    "up the same way: keep the last SEQ it handled and pass it to --after.\n"
    "With --json, follow mode prints each event as one JSON object per line;\n"
    "without --follow, the API's page object {\"events\": [...], \"last_seq\"}.\n"
    "\n"
    "options:\n"
    "  --after SEQ    start after event SEQ (0 = from the oldest kept)\n"
    "  --follow       keep printing new events until interrupted (Ctrl-C)\n" CLI_COMMON_OPTS_HELP
    "  --limit N      events per page, 1..1000\n"
    "\n"
    "exit status: 0 ok, 1 refused, 2 usage, 3 daemon unreachable (at start).\n";

enum { OPT_AFTER = CLI_OPT_FIRST_FREE, OPT_FOLLOW, OPT_LIMIT };

/* Sorted by name. */
static const struct option events_opts[] = {
    {"after", required_argument, NULL, OPT_AFTER},
    {"follow", no_argument, NULL, OPT_FOLLOW},
    CLI_OPT_ROW_HELP,
    CLI_OPT_ROW_JSON,
    {"limit", required_argument, NULL, OPT_LIMIT},
    CLI_OPT_ROW_SOCKET,
    {NULL, 0, NULL, 0},
};

struct events_args {
    long long after; /* -1: not given */
    long long limit; /* 0: not given */
    bool follow;
};

static int events_opt(struct cli *k, void *ud, int id, const char *arg)
{
    struct events_args *a = ud;
    switch (id) {
    case OPT_AFTER:
        if (cli_parse_int(arg, 0, INT64_MAX, &a->after) < 0)
            return cli_usage(k, "--after takes an event sequence number, not \"%s\"", arg);
        return 0;
    case OPT_FOLLOW:
        a->follow = true;
        return 0;
    case OPT_LIMIT:
        if (cli_parse_int(arg, 1, EVENTS_PAGE_MAX, &a->limit) < 0)
            return cli_usage(k, "--limit takes 1..%d, not \"%s\"", EVENTS_PAGE_MAX, arg);
        return 0;
    default:
        return cli_usage(k, "unexpected option");
    }
}

static const struct cli_col event_cols[] = {
    {"SEQ", "seq", NULL, 0},      {"AT", "at", NULL, 0},
    {"TYPE", "type", NULL, 0},    {"MESSAGE", "message_id", NULL, 0},
    {"DATA", "summary", NULL, 0},
};

/* Adds "summary" (the data as key=value) to each event, for the table. */
static void add_summaries(json_t *events)
{
    size_t i;
    json_t *e;
    char line[SUMMARY_MAX];
    json_array_foreach(events, i, e)
    {
        cli_kv_line(json_object_get(e, "data"), line, sizeof(line));
        json_object_set_new(e, "summary", json_string(line));
    }
}

static void print_follow_line(json_t *e)
{
    char line[SUMMARY_MAX], seq[32], mid[32];
    const char *s = cli_cell(e, "seq", seq, sizeof(seq));
    const char *at = cli_cell(e, "at", line, sizeof(line));
    const char *type = json_string_value(json_object_get(e, "type"));
    const char *m = cli_cell(e, "message_id", mid, sizeof(mid));
    printf("%-6s  %-24s  %-13s  %-7s  ", s ? s : "?", at ? at : "-", type ? type : "?",
           m ? m : "-");
    cli_kv_line(json_object_get(e, "data"), line, sizeof(line));
    printf("%s\n", line);
    fflush(stdout);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* Follows the log from `after` until interrupted. Transport failures and
 * 429s are retried (the daemon may be restarting); other API errors end it. */
static int follow(struct cli *k, long long after, long long limit)
{
    bool lost = false;
    if (!k->o.json) {
        printf("%-6s  %-24s  %-13s  %-7s  %s\n", "SEQ", "AT", "TYPE", "MESSAGE", "DATA");
        fflush(stdout);
    }
    for (;;) {
        char path[128];
        snprintf(path, sizeof(path), "/v1/events?after=%lld&limit=%lld&wait=%d", after, limit,
                 FOLLOW_WAIT_S);
        struct client_resp r;
        struct sg_err err = {0};
        int rc =
            client_request(k->c, "GET", path, NULL, NULL, (FOLLOW_WAIT_S + 15) * 1000L, &r, &err);
        if (rc < 0) {
            if (!lost)
                fprintf(stderr, "simgate: lost simgated (%s); retrying every second\n", err.msg);
            lost = true;
            sleep_ms(FOLLOW_RETRY_MS);
            continue;
        }
        if (lost)
            fprintf(stderr, "simgate: simgated is back; following after %lld\n", after);
        lost = false;
        if (r.status == 429) {
            client_resp_clear(&r);
            sleep_ms(FOLLOW_RETRY_MS);
            continue;
        }
        if (r.status != 200) {
            rc = cli_api_error(k, &r);
            client_resp_clear(&r);
            return rc;
        }
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(r.body, "events"), i, e)
        {
            if (k->o.json)
                cli_print_json(e);
            else
                print_follow_line(e);
        }
        const json_t *last = json_object_get(r.body, "last_seq");
        if (json_is_integer(last) && json_integer_value(last) > after)
            after = (long long)json_integer_value(last);
        client_resp_clear(&r);
    }
}

int cmd_events(const struct simgate_opts *g, int argc, char **argv)
{
    struct cli k;
    struct events_args a = {.after = -1};
    cli_init(&k, "events", events_help, g);
    int rc = cli_parse(&k, argc, argv, events_opts, events_opt, &a);
    if (rc >= 0)
        return rc;
    if ((rc = cli_args(&k, argc, argv, 0, 0)) >= 0)
        return rc;
    if ((rc = cli_open(&k)))
        return rc;
    long long after = a.after;
    long long limit = a.limit ? a.limit : (a.follow || a.after >= 0 ? 100 : EVENTS_LIMIT_DEF);
    if (after < 0) {
        long long last;
        if ((rc = cli_last_seq(&k, &last)))
            goto out;
        if (last < 0)
            last = 0;
        after = a.follow ? last : (last > limit ? last - limit : 0);
    }
    if (a.follow) {
        rc = follow(&k, after, limit);
        goto out;
    }
    char path[128];
    snprintf(path, sizeof(path), "/v1/events?after=%lld&limit=%lld", after, limit);
    json_t *page = NULL;
    if ((rc = cli_call(&k, "GET", path, NULL, NULL, CLI_TIMEOUT_MS, &page)) == 0) {
        if (k.o.json) {
            cli_print_json(page);
        } else {
            json_t *evs = json_object_get(page, "events");
            add_summaries(evs);
            rc = cli_table(evs, event_cols, sizeof(event_cols) / sizeof(event_cols[0]));
        }
    }
    json_decref(page);
out:
    cli_close(&k);
    return rc;
}
