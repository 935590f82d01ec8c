/*
 * simpool send: "can this SIM send?" Brings one modem up, sends one text
 * (split into parts like simgated would), prints the message reference of
 * every part and, with --report, waits for each part's status report.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "drivers/gsm/pdu.h"
#include "host-tools/simpool/simpool.h"

#define SEND_DEFAULT_TIMEOUT_S 120
#define SEND_PARTS_MAX 10

enum { OPT_REPORT = SIMPOOL_OPT_FIRST_OWN, OPT_TEXT, OPT_TO };

struct send_part {
    struct pdu_part pdu;
    bool done;                       /* +CMGS or an error came back */
    struct modem_send_result res;
    char why[48];                    /* res.why copied (the pointer is static anyway) */
    bool report;                     /* a status report matched */
    uint8_t st;
};

struct send {
    struct simpool_conn conn;        /* first: simpool_on_log reads it */
    const char *to;
    const char *text;
    bool want_report;
    char *port;
    struct simpool_port pp;
    struct send_part parts[SEND_PARTS_MAX];
    int nparts;
    int next;                        /* next part to hand to the modem */
    bool failed;                     /* a part failed: stop sending */
};

void simpool_send_help(FILE *f)
{
    fprintf(f,
            "usage: simpool send PORT --to NUMBER --text TEXT [--report]\n"
            "                   [--vendor V] [--pin PIN] [--timeout S] [--baud N] [--rtscts]\n"
            "                   [--json] [-v]\n"
            "\n"
            "Checks that the SIM in the modem on PORT can send: brings the modem up as\n"
            "'simpool probe' does, encodes TEXT for NUMBER exactly as simgated would (GSM-7\n"
            "or UCS-2, split into concatenated parts when long), sends the parts one after\n"
            "the other with AT+CMGS and prints the message reference (MR) the network gave\n"
            "each. A part that fails stops the rest; its +CMS ERROR is shown with its class\n"
            "(retry-now, retry-later, permanent, special). With --report every part asks\n"
            "for a status report and the command waits for them (up to --timeout) and\n"
            "prints each part's TP-ST; the reports it consumed are deleted from the SIM.\n"
            "\n"
            "options:\n"
            "  --baud N       line speed (default 115200)\n"
            "  --help         this text\n"
            "  --json         one JSON object on stdout instead of text\n"
            "  --pin PIN      as for probe (also $SIMPOOL_PIN); never retried, never printed\n"
            "  --report       request status reports and wait for them\n"
            "  --rtscts       hardware flow control\n"
            "  --text TEXT    UTF-8 text (up to %d parts)\n"
            "  --timeout S    everything must be done within S seconds (default %d)\n"
            "  --to NUMBER    +international or national digits\n"
            "  --vendor V     modem profile; auto (default) identifies it from ATI/CGMI\n"
            "  -v, --verbose  log every step on stderr\n"
            "\n"
            "exit codes:\n"
            "  0  every part was accepted (and, with --report, delivered)\n"
            "  1  the modem is not ready, a part failed, or a report is missing or says\n"
            "     undelivered; stderr has one line: simpool: PORT: REASON\n"
            "  2  bad command line (also a number or text that cannot be encoded)\n"
            "  3  internal error\n",
            SEND_PARTS_MAX, SEND_DEFAULT_TIMEOUT_S);
}

static void parse_args(int argc, char **argv, struct send *s)
{
    static const struct option opts[] = {
        SIMPOOL_CONN_OPTIONS,
        {"report", no_argument, NULL, OPT_REPORT},
        {"text", required_argument, NULL, OPT_TEXT},
        {"to", required_argument, NULL, OPT_TO},
        {NULL, 0, NULL, 0},
    };
    simpool_conn_init(&s->conn, SEND_DEFAULT_TIMEOUT_S);
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "hv", opts, NULL)) != -1) {
        if (simpool_conn_opt(&s->conn, c, optarg, simpool_send_help))
            continue;
        switch (c) {
        case OPT_REPORT:
            s->want_report = true;
            break;
        case OPT_TEXT:
            s->text = optarg;
            break;
        case OPT_TO:
            s->to = optarg;
            break;
        default:
            fprintf(stderr, "try 'simpool send --help'\n");
            exit(SIMPOOL_EXIT_USAGE);
        }
    }
    simpool_conn_check(&s->conn, "send");
    if (argc - optind != 1)
        simpool_die(SIMPOOL_EXIT_USAGE, "send: exactly one PORT (try 'simpool send --help')");
    s->port = argv[optind];
    if (!s->to || !s->text)
        simpool_die(SIMPOOL_EXIT_USAGE, "send: --to and --text are required");
}

static void encode(struct send *s)
{
    struct pdu_submit_opts o;
    memset(&o, 0, sizeof(o));
    o.srr = s->want_report;
    o.validity_min = 24 * 60;
    o.ref = (uint16_t)(sg_clock_wall_ms() & 0xff);
    o.text.max_parts = SEND_PARTS_MAX;
    struct pdu_part parts[SEND_PARTS_MAX];
    struct sg_err err;
    sg_err_clear(&err);
    int n = pdu_encode_submit(s->to, s->text, strlen(s->text), &o, parts, SEND_PARTS_MAX, NULL,
                              &err);
    if (n < 0)
        simpool_die(SIMPOOL_EXIT_USAGE, "send: %s", err.msg);
    s->nparts = n;
    for (int i = 0; i < n; i++)
        s->parts[i].pdu = parts[i];
}

static void on_sent(void *ud, struct modem_port *p, const struct modem_send_result *r);

static void send_next(struct send *s)
{
    if (s->failed || s->next >= s->nparts)
        return;
    struct send_part *sp = &s->parts[s->next];
    int rc = modem_port_send_pdu(s->pp.p, (uint64_t)s->next, (int)sp->pdu.tpdu_len, sp->pdu.hex,
                                 on_sent, s, sg_clock_mono_ms());
    if (rc == 0) {
        s->next++;
        return;
    }
    /* Not ready (registration lost between parts): record it as this
     * part's failure rather than spin. */
    sp->done = true;
    sp->res.ok = false;
    sp->res.cls = MODEM_ERR_RETRY_NOW;
    sp->res.code = -1;
    snprintf(sp->why, sizeof(sp->why), "modem not ready (%s)", modem_port_reason(s->pp.p));
    s->failed = true;
}

static void on_sent(void *ud, struct modem_port *p, const struct modem_send_result *r)
{
    (void)p;
    struct send *s = ud;
    if (r->id >= (uint64_t)s->nparts)
        return;
    struct send_part *sp = &s->parts[r->id];
    sp->done = true;
    sp->res = *r;
    snprintf(sp->why, sizeof(sp->why), "%s", r->why ? r->why : "");
    if (!r->ok)
        s->failed = true;
    send_next(s);
}

static void on_report(void *ud, struct modem_port *p, int index, const char *hex, int len)
{
    struct send *s = ud;
    struct pdu_decoded d;
    if (pdu_decode_hex(hex, strlen(hex), PDU_DIR_IN, len, &d, NULL) < 0 ||
        d.type != PDU_STATUS_REPORT)
        return;
    for (int i = 0; i < s->nparts; i++) {
        struct send_part *sp = &s->parts[i];
        if (!sp->done || !sp->res.ok || sp->res.mr != d.mr || sp->report)
            continue;
        /* A temporary status is not the end: the SMSC reports again. */
        if (!pdu_st_is_final(pdu_st_classify(d.st)))
            return;
        sp->report = true;
        sp->st = d.st;
        if (index >= 0)
            modem_port_ack_stored(p, index, sg_clock_mono_ms());
        return;
    }
}

static bool ready_or_failed(void *ud)
{
    const struct send *s = ud;
    return simpool_settled(&s->pp, 1);
}

static bool finished(void *ud)
{
    const struct send *s = ud;
    if (modem_port_state(s->pp.p) == MODEM_FAILED)
        return true;
    for (int i = 0; i < s->nparts; i++) {
        const struct send_part *sp = &s->parts[i];
        if (s->failed && !sp->done && i >= s->next)
            continue;   /* never handed over */
        if (!sp->done)
            return false;
        if (s->want_report && sp->res.ok && !sp->report && !s->failed)
            return false;
    }
    return true;
}

/* Why the send did not fully work, or NULL. */
static const char *verdict(const struct send *s, char *buf, size_t size)
{
    for (int i = 0; i < s->nparts; i++) {
        const struct send_part *sp = &s->parts[i];
        if (!sp->done) {
            if (i < s->next)
                snprintf(buf, size, "part %d of %d: no result within %d s (it may have gone out)",
                         i + 1, s->nparts, s->conn.timeout_s);
            else
                snprintf(buf, size, "part %d of %d: not sent within %d s", i + 1, s->nparts,
                         s->conn.timeout_s);
            return buf;
        }
        if (!sp->res.ok) {
            if (sp->res.code >= 0)
                snprintf(buf, size, "part %d of %d: %s %d (%s)", i + 1, s->nparts,
                         strcmp(sp->why, "cme") == 0 ? "CME" : "CMS", sp->res.code,
                         modem_err_class_name(sp->res.cls));
            else
                snprintf(buf, size, "part %d of %d: %s (%s)", i + 1, s->nparts, sp->why,
                         modem_err_class_name(sp->res.cls));
            return buf;
        }
        if (s->want_report && !sp->report) {
            snprintf(buf, size, "part %d of %d: no status report within %d s", i + 1, s->nparts,
                     s->conn.timeout_s);
            return buf;
        }
        if (s->want_report && pdu_st_classify(sp->st) != PDU_ST_DELIVERED) {
            snprintf(buf, size, "part %d of %d: not delivered (TP-ST 0x%02X, %s)", i + 1,
                     s->nparts, sp->st, pdu_st_class_name(pdu_st_classify(sp->st)));
            return buf;
        }
    }
    return NULL;
}

static void print_json(const struct send *s, const char *why)
{
    json_t *top = json_object();
    json_object_set_new(top, "class", json_string("send"));
    json_object_set_new(top, "port", json_string(s->port));
    json_object_set_new(top, "to", json_string(s->to));
    json_object_set_new(top, "ok", json_boolean(!why));
    json_object_set_new(top, "reason", why ? json_string(why) : json_null());
    json_t *arr = json_array();
    for (int i = 0; i < s->nparts; i++) {
        const struct send_part *sp = &s->parts[i];
        json_t *o = json_object();
        json_object_set_new(o, "sent", json_boolean(sp->done && sp->res.ok));
        json_object_set_new(o, "mr", sp->done && sp->res.ok ? json_integer(sp->res.mr) : json_null());
        json_object_set_new(o, "error_class", sp->done && !sp->res.ok
                                                  ? json_string(modem_err_class_name(sp->res.cls))
                                                  : json_null());
        json_object_set_new(o, "error_code",
                            sp->done && !sp->res.ok && sp->res.code >= 0 ? json_integer(sp->res.code)
                                                                         : json_null());
        json_object_set_new(o, "status", sp->report ? json_string(pdu_st_class_name(
                                                          pdu_st_classify(sp->st)))
                                                    : json_null());
        json_object_set_new(o, "tp_st", sp->report ? json_integer(sp->st) : json_null());
        json_array_append_new(arr, o);
    }
    json_object_set_new(top, "parts", arr);
    json_dumpf(top, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fputc('\n', stdout);
    json_decref(top);
}

static void print_text(const struct send *s, const char *why)
{
    printf("%s: %s, %d part(s) to %s\n", s->port, why ? "FAILED" : "sent", s->nparts, s->to);
    for (int i = 0; i < s->nparts; i++) {
        const struct send_part *sp = &s->parts[i];
        printf("  part %d: ", i + 1);
        if (!sp->done)
            printf("not sent\n");
        else if (!sp->res.ok)
            printf("error %s code %d (%s)\n", sp->why, sp->res.code,
                   modem_err_class_name(sp->res.cls));
        else if (sp->report)
            printf("mr %d, %s (TP-ST 0x%02X)\n", sp->res.mr,
                   pdu_st_class_name(pdu_st_classify(sp->st)), sp->st);
        else
            printf("mr %d%s\n", sp->res.mr, s->want_report ? ", no report" : "");
    }
}

int simpool_send_main(int argc, char **argv)
{
    struct send s;
    memset(&s, 0, sizeof(s));
    parse_args(argc, argv, &s);
    encode(&s);

    const struct modem_port_cbs cbs = {.log = simpool_on_log, .report = on_report};
    sg_ms deadline = sg_clock_mono_ms() + (sg_ms)s.conn.timeout_s * 1000;
    simpool_ports_start(&s.conn, &s.port, 1, &cbs, &s, &s.pp);
    if (simpool_loop(&s.pp, 1, deadline, ready_or_failed, &s) < 0) {
        simpool_ports_free(&s.pp, 1);
        return SIMPOOL_EXIT_INTERNAL;
    }
    char buf[MODEM_LOG_MAX + 64];
    const char *why = simpool_why_not(&s.pp, s.conn.timeout_s, buf, sizeof(buf));
    if (!why) {
        send_next(&s);
        if (simpool_loop(&s.pp, 1, deadline, finished, &s) < 0) {
            simpool_ports_free(&s.pp, 1);
            return SIMPOOL_EXIT_INTERNAL;
        }
        why = verdict(&s, buf, sizeof(buf));
    }
    if (s.conn.json)
        print_json(&s, why);
    else
        print_text(&s, why);
    fflush(stdout);
    if (why)
        fprintf(stderr, "simpool: %s: %s\n", s.port, why);
    simpool_ports_free(&s.pp, 1);
    return why ? SIMPOOL_EXIT_NOT_READY : SIMPOOL_EXIT_OK;
}
