/*
 * simgate send: POST /v1/messages, and with --wait follow the message to a
 * final state. Following is driven by the event log: a long-poll on
 * GET /v1/events wakes us when anything happens, and the message's own
 * history (GET /v1/messages/{id}) is what gets printed, so nothing is
 * missed or doubled even when the cursor was taken before the submit or
 * the key replayed an old message.
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "host-tools/simgate/cli.h"

#define WAIT_POLL_S    25          /* one long-poll while waiting */
#define WAIT_RETRY_MS  500         /* between polls when the log gives no cursor */
#define KV_MAX         256

static const char send_help[] =
    "usage: simgate send --to NUMBER --text TEXT [--priority P] [--ttl S]\n"
    "                    [--status-report] [--smart-encoding] [--idempotency-key K]\n"
    "                    [--wait [--timeout S]] [--json] [--socket PATH]\n"
    "\n"
    "Queues one SMS. The daemon answers only after the message is stored\n"
    "durably; the command then prints its id, the number of SMS parts and the\n"
    "encoding (gsm7, gsm7-es... or ucs2). Numbers are E.164 (+33612345678), or\n"
    "national when the daemon has a default_country_code. Texts longer than one\n"
    "SMS are split (up to queue.max_parts parts).\n"
    "\n"
    "Priorities: otp > urgent > normal > bulk. A free modem always takes the\n"
    "highest priority due message, so an OTP never waits behind bulk. Each\n"
    "priority has a default TTL (otp 5 min in the shipped config): a message\n"
    "not handed to a modem within its TTL expires and is never sent.\n"
    "\n"
    "--wait follows the message: one line per state change (queued, sending,\n"
    "sent, then delivered or undelivered when a status report was asked for)\n"
    "with the modem and SIM used, until a final state. Without\n"
    "--status-report, `sent` is final. With --json, the answer and then each\n"
    "history entry are printed as one JSON object per line. Interrupting\n"
    "--wait (Ctrl-C) stops following; the message stays queued.\n"
    "\n"
    "options:\n"
    "  --idempotency-key K  sending again with the same K returns the first\n"
    "                       message instead of a new one (safe retries); the\n"
    "                       same K with other parameters is refused\n" CLI_COMMON_OPTS_HELP
    "  --priority P         otp, urgent, normal (the daemon's default) or bulk\n"
    "  --smart-encoding     let the daemon replace typographic characters (curly\n"
    "                       quotes, dashes...) so the text stays GSM-7\n"
    "  --status-report      ask the network for a delivery report\n"
    "  --text TEXT          the message, UTF-8; \"-\" reads it from stdin\n"
    "  --timeout S          with --wait: give up after S seconds (exit 1);\n"
    "                       default 0 = wait until a final state\n"
    "  --to NUMBER          the recipient\n"
    "  --ttl S              seconds the message may wait for a modem\n"
    "  --wait               follow the message to a final state (see above)\n"
    "\n"
    "exit status: 0 queued (with --wait: delivered, or sent without a status\n"
    "report), 1 refused by the daemon (the reason is printed), or with --wait\n"
    "ended failed, expired, undelivered, unknown or canceled, or --timeout\n"
    "passed; 2 usage, 3 daemon unreachable, 4 daemon unable to store (503).\n";

enum {
    OPT_IDEM = CLI_OPT_FIRST_FREE,
    OPT_PRIORITY,
    OPT_SMART,
    OPT_SR,
    OPT_TEXT,
    OPT_TIMEOUT,
    OPT_TO,
    OPT_TTL,
    OPT_WAIT,
};

/* Sorted by name. */
static const struct option send_opts[] = {
    CLI_OPT_ROW_HELP,
    {"idempotency-key", required_argument, NULL, OPT_IDEM},
    CLI_OPT_ROW_JSON,
    {"priority", required_argument, NULL, OPT_PRIORITY},
    {"smart-encoding", no_argument, NULL, OPT_SMART},
    CLI_OPT_ROW_SOCKET,
    {"status-report", no_argument, NULL, OPT_SR},
    {"text", required_argument, NULL, OPT_TEXT},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"to", required_argument, NULL, OPT_TO},
    {"ttl", required_argument, NULL, OPT_TTL},
    {"wait", no_argument, NULL, OPT_WAIT},
    {NULL, 0, NULL, 0},
};

struct send_args {
    const char *to, *text, *priority, *idem;
    long long ttl;     /* -1: the daemon's default */
    long long timeout; /* 0: none */
    bool sr, smart, wait;
};

static int send_opt(struct cli *k, void *ud, int id, const char *arg)
{
    static const char *const prios[] = {"otp", "urgent", "normal", "bulk"};
    struct send_args *a = ud;
    switch (id) {
    case OPT_IDEM:
        for (const char *p = arg; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                return cli_usage(k, "--idempotency-key may not hold control characters");
        a->idem = arg;
        return 0;
    case OPT_PRIORITY:
        for (size_t i = 0; i < sizeof(prios) / sizeof(prios[0]); i++)
            if (!strcmp(arg, prios[i])) {
                a->priority = arg;
                return 0;
            }
        return cli_usage(k, "--priority is otp, urgent, normal or bulk, not \"%s\"", arg);
    case OPT_SMART:
        a->smart = true;
        return 0;
    case OPT_SR:
        a->sr = true;
        return 0;
    case OPT_TEXT:
        a->text = arg;
        return 0;
    case OPT_TIMEOUT:
        if (cli_parse_int(arg, 0, 365LL * 86400, &a->timeout) < 0)
            return cli_usage(k, "--timeout takes seconds, not \"%s\"", arg);
        return 0;
    case OPT_TO:
        a->to = arg;
        return 0;
    case OPT_TTL:
        if (cli_parse_int(arg, 0, INT32_MAX, &a->ttl) < 0)
            return cli_usage(k, "--ttl takes seconds, not \"%s\"", arg);
        return 0;
    case OPT_WAIT:
        a->wait = true;
        return 0;
    default:
        return cli_usage(k, "unexpected option");
    }
}

static json_t *request_body(const struct send_args *a, const char *text)
{
    json_t *b = json_object();
    json_object_set_new(b, "to", json_string(a->to));
    /* json_string refuses invalid UTF-8; send it anyway as bytes the API
     * will refuse with its own message. */
    json_t *t = json_string(text);
    json_object_set_new(b, "text", t ? t : json_stringn_nocheck(text, strlen(text)));
    if (a->priority)
        json_object_set_new(b, "priority", json_string(a->priority));
    if (a->ttl >= 0)
        json_object_set_new(b, "ttl", json_integer(a->ttl));
    if (a->sr)
        json_object_set_new(b, "status_report", json_true());
    if (a->smart)
        json_object_set_new(b, "smart_encoding", json_true());
    return b;
}

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* "15:52:31.689" out of "2026-11-22T15:52:31.689Z". */
static const char *clock_part(const char *at)
{
    const char *t = at ? strchr(at, 'T') : NULL;
    return t ? t + 1 : (at ? at : "-");
}

/* One history entry: "15:52:31.689  sent  modem=m1 iccid=… mr=0". */
static void print_change(const struct cli *k, json_t *h)
{
    if (k->o.json) {
        cli_print_json(h);
        return;
    }
    const char *at = json_string_value(json_object_get(h, "at"));
    const char *to = json_string_value(json_object_get(h, "to"));
    char tbuf[32], kv[KV_MAX];
    snprintf(tbuf, sizeof(tbuf), "%s", clock_part(at));
    size_t l = strlen(tbuf);
    if (l && tbuf[l - 1] == 'Z')
        tbuf[l - 1] = '\0';
    /* Only what there is: modem, SIM, MR, cause. */
    json_t *extra = json_object();
    static const char *const keys[] = {"modem", "iccid", "mr", "cause"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        json_t *v = json_object_get(h, keys[i]);
        if (v && !json_is_null(v))
            json_object_set(extra, keys[i], v);
    }
    cli_kv_line(extra, kv, sizeof(kv));
    json_decref(extra);
    if (kv[0])
        printf("%-12s  %-11s  %s\n", tbuf, to ? to : "?", kv);
    else
        printf("%-12s  %s\n", tbuf, to ? to : "?");
    fflush(stdout);
}

static bool final_state(const char *st, bool status_report)
{
    static const char *const finals[] = {"delivered", "undelivered", "failed",
                                         "expired",   "canceled",    "unknown"};
    if (!st)
        return false;
    if (!status_report && !strcmp(st, "sent"))
        return true;
    for (size_t i = 0; i < sizeof(finals) / sizeof(finals[0]); i++)
        if (!strcmp(st, finals[i]))
            return true;
    return false;
}

/* Whether any event of the page is about message id. */
static bool page_mentions(const json_t *page, long long id)
{
    size_t i;
    const json_t *e;
    json_array_foreach(json_object_get(page, "events"), i, e)
    {
        if (json_integer_value(json_object_get(e, "message_id")) == id)
            return true;
    }
    return false;
}

/* Sleeps in a long-poll until an event about id (or the deadline). Returns
 * an exit status; *cursor advances, -1 = no cursor (plain polling). */
static int wait_for_event(struct cli *k, long long id, long long *cursor, long long deadline)
{
    for (;;) {
        long long left = deadline ? deadline - mono_ms() : WAIT_POLL_S * 1000LL;
        if (left <= 0)
            return 0;
        if (*cursor < 0) {
            sleep_ms(left < WAIT_RETRY_MS ? (long)left : WAIT_RETRY_MS);
            return 0;
        }
        /* At least 1 s: a shorter poll would spin until the deadline. */
        long long wait_s = left / 1000 < WAIT_POLL_S ? left / 1000 + 1 : WAIT_POLL_S;
        char path[128];
        snprintf(path, sizeof(path), "/v1/events?after=%lld&limit=1000&wait=%lld", *cursor, wait_s);
        struct client_resp r;
        int rc = cli_request(k, "GET", path, NULL, NULL, (wait_s + 15) * 1000, &r);
        if (rc)
            return rc;
        if (r.status == 429) { /* too many long-polls: fall back to polling once */
            client_resp_clear(&r);
            sleep_ms(WAIT_RETRY_MS);
            return 0;
        }
        if (r.status != 200) {
            rc = cli_api_error(k, &r);
            client_resp_clear(&r);
            return rc;
        }
        json_t *last = json_object_get(r.body, "last_seq");
        if (json_is_integer(last) && json_integer_value(last) > *cursor)
            *cursor = (long long)json_integer_value(last);
        bool ours = page_mentions(r.body, id);
        client_resp_clear(&r);
        if (ours)
            return 0;
    }
}

/* Prints the history from entry *printed on; returns the status. */
static const char *show_progress(const struct cli *k, json_t *m, size_t *printed)
{
    json_t *hist = json_object_get(m, "history");
    for (size_t i = *printed; i < json_array_size(hist); i++)
        print_change(k, json_array_get(hist, i));
    *printed = json_array_size(hist);
    return json_string_value(json_object_get(m, "status"));
}

static int follow_message(struct cli *k, long long id, long long cursor, long long timeout_s)
{
    long long deadline = timeout_s ? mono_ms() + timeout_s * 1000 : 0;
    char path[64];
    snprintf(path, sizeof(path), "/v1/messages/%lld", id);
    size_t printed = 0;
    for (;;) {
        json_t *m;
        int rc = cli_call(k, "GET", path, NULL, NULL, CLI_TIMEOUT_MS, &m);
        if (rc)
            return rc;
        const char *st = show_progress(k, m, &printed);
        bool sr = json_is_true(json_object_get(m, "status_report"));
        if (final_state(st, sr)) {
            bool good = !strcmp(st, "delivered") || !strcmp(st, "sent");
            json_decref(m);
            return good ? SIMGATE_EXIT_OK : SIMGATE_EXIT_BAD_INPUT;
        }
        if (deadline && mono_ms() >= deadline) {
            fprintf(stderr, "simgate: message %lld still %s after %lld s\n", id, st ? st : "?",
                    timeout_s);
            json_decref(m);
            return SIMGATE_EXIT_BAD_INPUT;
        }
        json_decref(m);
        if ((rc = wait_for_event(k, id, &cursor, deadline)))
            return rc;
    }
}

static void print_accepted(const struct cli *k, json_t *r)
{
    if (k->o.json) {
        cli_print_json(r);
        return;
    }
    char id[32], parts[32];
    const char *i = cli_cell(r, "id", id, sizeof(id));
    const char *p = cli_cell(r, "parts", parts, sizeof(parts));
    const char *st = json_string_value(json_object_get(r, "status"));
    const char *enc = json_string_value(json_object_get(r, "encoding"));
    printf("message %s %s: %s part%s, %s%s\n", i ? i : "?", st ? st : "queued", p ? p : "?",
           p && !strcmp(p, "1") ? "" : "s", enc ? enc : "?",
           json_is_true(json_object_get(r, "replayed")) ? " (already sent with this key)" : "");
    fflush(stdout);
}

int cmd_send(const struct simgate_opts *g, int argc, char **argv)
{
    struct cli k;
    struct send_args a = {.ttl = -1};
    cli_init(&k, "send", send_help, g);
    int rc = cli_parse(&k, argc, argv, send_opts, send_opt, &a);
    if (rc >= 0)
        return rc;
    if ((rc = cli_args(&k, argc, argv, 0, 0)) >= 0)
        return rc;
    if (!a.to || !a.text)
        return cli_usage(&k, "--to and --text are required");
    if (a.timeout && !a.wait)
        return cli_usage(&k, "--timeout applies to --wait");
    char *stdin_text = NULL;
    if (!strcmp(a.text, "-")) {
        if (!(stdin_text = cli_read_stdin(NULL))) {
            fprintf(stderr, "simgate: cannot read the text from stdin (at most %d bytes)\n",
                    CLI_STDIN_TEXT_MAX);
            return SIMGATE_EXIT_BAD_INPUT;
        }
    }
    json_t *body = request_body(&a, stdin_text ? stdin_text : a.text);
    json_t *resp = NULL;
    long long cursor = -1;
    if ((rc = cli_open(&k)))
        goto out;
    /* The cursor comes before the submit so no event about it can slip by. */
    if (a.wait && (rc = cli_last_seq(&k, &cursor)))
        goto out;
    if ((rc = cli_call(&k, "POST", "/v1/messages", body, a.idem, CLI_TIMEOUT_MS, &resp)))
        goto out;
    print_accepted(&k, resp);
    if (a.wait) {
        const json_t *id = json_object_get(resp, "id");
        if (!json_is_integer(id)) {
            fprintf(stderr, "simgate: the daemon's answer has no message id\n");
            rc = SIMGATE_EXIT_FAILURE;
            goto out;
        }
        rc = follow_message(&k, (long long)json_integer_value(id), cursor, a.timeout);
    }
out:
    json_decref(resp);
    json_decref(body);
    free(stdin_text);
    cli_close(&k);
    return rc;
}
