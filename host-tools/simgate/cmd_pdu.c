/*
 * simgate pdu: offline SMS PDU tool (encode, decode, count). It uses the
 * same codec as the daemon (drivers/gsm), so what it prints is what the
 * gateway would send.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "drivers/gsm/pdu.h"
#include "host-tools/simgate/cli.h"
#include "host-tools/simgate/simgate.h"

#define BATCH_LINE_MAX (8 * 1024)

struct pdu_cli {
    const char *to;
    const char *from; /* encode an SMS-DELIVER from this sender instead */
    const char *text;
    const char *smsc;
    bool srr, flash, ref16, ucs2, no_shift, smart, json, batch;
    int validity; /* -1: no TP-VP */
    unsigned ref;
    unsigned max_parts;
    enum pdu_direction dir;
    int length; /* -1: unknown */
};

static const char help_text[] =
    "usage: simgate pdu encode --to NUMBER --text TEXT [options]\n"
    "       simgate pdu decode [--direction in|out] [--length N] HEX\n"
    "       simgate pdu count [options] TEXT\n"
    "\n"
    "encode  Builds the SMS-SUBMIT PDUs the gateway would send for TEXT (UTF-8).\n"
    "        Prints one line per part: \"<tpdu_length> <pdu_hex>\", i.e. the\n"
    "        argument of AT+CMGS= and the line to type after the > prompt. The\n"
    "        hex starts with the SMSC field (\"00\" = use the modem's +CSCA).\n"
    "decode  Decodes one PDU as read from a modem (+CMGR, +CMT, +CDS) or sent\n"
    "        to it (AT+CMGS) and prints one JSON object: type, number, text,\n"
    "        encoding, dcs, class, udh (ref, total, seq, shift tables), smsc,\n"
    "        timestamp (ISO 8601 with the SMSC's offset), mr, status and\n"
    "        status_class for status reports.\n"
    "count   Prints the encoding, the number of parts and the characters\n"
    "        (septets or UTF-16 units) left in the last part.\n"
    "\n"
    "encoding: the fewest parts wins among GSM-7, GSM-7 with a Spanish,\n"
    "Portuguese or Turkish national shift table, and UCS-2; on a tie plain\n"
    "GSM-7, then UCS-2, then shift tables (not every phone has them). One part\n"
    "holds 160 GSM-7 characters (153 when split; ^ { } \\ [ ] ~ | and the euro\n"
    "sign count 2) or 70 UCS-2 units (67 when split; an emoji counts 2).\n"
    "\n"
    "options:\n"
    "  --direction in|out  decode: in = from the network (DELIVER, STATUS-REPORT),\n"
    "                      out = to the network (SUBMIT). Default in.\n"
    "  --flash             class 0: shown at once, not stored\n"
    "  --from SENDER       encode SMS-DELIVER PDUs from SENDER (+digits, digits or\n"
    "                      up to 11 GSM-7 characters) stamped with the current\n"
    "                      UTC time, as the network would deliver them (for\n"
    "                      simulators and tests); replaces --to\n"
    "  --json              encode/count: print JSON instead of text\n"
    "  --length N          decode: TPDU length as the modem reported it; octets\n"
    "                      before it are the SMSC field. Default: guess.\n"
    "  --max-parts N       refuse texts needing more than N parts (default 10, max 255)\n"
    "  --no-shift          never use national language shift tables\n"
    "  --ref N             concatenation reference for multipart texts (default 0)\n"
    "  --ref16             16-bit concatenation reference (one character less per part)\n"
    "  --smart             replace typographic characters so the text can stay\n"
    "                      GSM-7: curly quotes and primes to ' \", dashes and minus\n"
    "                      to -, ellipsis to ..., special spaces to a space,\n"
    "                      guillemets to << >> < >, bullet to *, (c) (R) TM, fi fl ff\n"
    "                      ligatures, full-width ASCII; zero-width characters,\n"
    "                      soft hyphen and BOM are dropped\n"
    "  --smsc NUMBER       put this SMSC in the PDU instead of \"00\"\n"
    "  --srr               request a status report\n"
    "  --text TEXT         the message; \"-\" reads stdin (one trailing newline removed)\n"
    "  --to NUMBER         +<digits> (international) or <digits> (national), 1-20 digits\n"
    "  --ucs2              always UCS-2\n"
    "  --validity MINUTES  relative validity period, rounded up to what the PDU can\n"
    "                      say (5 min steps to 12 h, 30 min to 24 h, days to 30,\n"
    "                      then weeks up to 63). Default: none.\n"
    "  --batch             (for tests) encode: each stdin line is hex of a UTF-8\n"
    "                      text; decode: each stdin line is a PDU. One JSON line\n"
    "                      out per line in.\n"
    "\n"
    "exit status: 0 ok, 1 input rejected (bad text, number or PDU), 2 usage.\n";

enum opt_id {
    OPT_BATCH = 1000,
    OPT_DIRECTION,
    OPT_FLASH,
    OPT_FROM,
    OPT_JSON,
    OPT_LENGTH,
    OPT_MAX_PARTS,
    OPT_NO_SHIFT,
    OPT_REF,
    OPT_REF16,
    OPT_SMART,
    OPT_SMSC,
    OPT_SRR,
    OPT_TEXT,
    OPT_TO,
    OPT_UCS2,
    OPT_VALIDITY,
    OPT_HELP,
};

/* Sorted by name. */
static const struct option long_opts[] = {
    {"batch", no_argument, NULL, OPT_BATCH},
    {"direction", required_argument, NULL, OPT_DIRECTION},
    {"flash", no_argument, NULL, OPT_FLASH},
    {"from", required_argument, NULL, OPT_FROM},
    {"help", no_argument, NULL, OPT_HELP},
    {"json", no_argument, NULL, OPT_JSON},
    {"length", required_argument, NULL, OPT_LENGTH},
    {"max-parts", required_argument, NULL, OPT_MAX_PARTS},
    {"no-shift", no_argument, NULL, OPT_NO_SHIFT},
    {"ref", required_argument, NULL, OPT_REF},
    {"ref16", no_argument, NULL, OPT_REF16},
    {"smart", no_argument, NULL, OPT_SMART},
    {"smsc", required_argument, NULL, OPT_SMSC},
    {"srr", no_argument, NULL, OPT_SRR},
    {"text", required_argument, NULL, OPT_TEXT},
    {"to", required_argument, NULL, OPT_TO},
    {"ucs2", no_argument, NULL, OPT_UCS2},
    {"validity", required_argument, NULL, OPT_VALIDITY},
    {NULL, 0, NULL, 0},
};

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "simgate pdu: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see simgate pdu --help)\n");
    return SIMGATE_EXIT_USAGE;
}

/* Codec messages name their module already ("pdu: non-hex character…"). */
static int bad_input(const char *msg)
{
    fprintf(stderr, "simgate: %s\n", msg);
    return SIMGATE_EXIT_BAD_INPUT;
}

static bool parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    unsigned long v;

    if (!s || *s < '0' || *s > '9')
        return false;
    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno || *end || v > max)
        return false;
    *out = v;
    return true;
}

/* Which subcommand accepts which option. */
static bool opt_allowed(const char *sub, int id)
{
    switch (id) {
    case OPT_HELP:
    case OPT_BATCH:
        return true;
    case OPT_DIRECTION:
    case OPT_LENGTH:
        return !strcmp(sub, "decode");
    case OPT_TO:
    case OPT_FROM:
    case OPT_TEXT:
    case OPT_SMSC:
    case OPT_SRR:
    case OPT_FLASH:
    case OPT_VALIDITY:
    case OPT_REF:
        return !strcmp(sub, "encode");
    case OPT_JSON:
        return strcmp(sub, "decode") != 0;
    default:
        return strcmp(sub, "decode") != 0; /* text options: encode and count */
    }
}

static int parse_opts(const char *sub, int argc, char **argv, struct pdu_cli *c)
{
    unsigned long v;
    int id;

    optind = 0;
    opterr = 0;
    while ((id = getopt_long(argc, argv, "+", long_opts, NULL)) != -1) {
        if (id == '?')
            return usage_error("unknown or incomplete option %s", argv[optind - 1]);
        if (!opt_allowed(sub, id))
            return usage_error("option %s does not apply here", argv[optind - 1]);
        switch (id) {
        case OPT_HELP:
            fputs(help_text, stdout);
            return -1;
        case OPT_BATCH:
            c->batch = true;
            break;
        case OPT_DIRECTION:
            if (!strcmp(optarg, "in"))
                c->dir = PDU_DIR_IN;
            else if (!strcmp(optarg, "out"))
                c->dir = PDU_DIR_OUT;
            else
                return usage_error("--direction must be in or out, not \"%s\"", optarg);
            break;
        case OPT_FLASH:
            c->flash = true;
            break;
        case OPT_FROM:
            c->from = optarg;
            break;
        case OPT_JSON:
            c->json = true;
            break;
        case OPT_LENGTH:
            if (!parse_uint(optarg, PDU_TPDU_MAX, &v))
                return usage_error("--length must be 0..176, not \"%s\"", optarg);
            c->length = (int)v;
            break;
        case OPT_MAX_PARTS:
            if (!parse_uint(optarg, SMSENC_MAX_PARTS_LIMIT, &v) || v == 0)
                return usage_error("--max-parts must be 1..255, not \"%s\"", optarg);
            c->max_parts = (unsigned)v;
            break;
        case OPT_NO_SHIFT:
            c->no_shift = true;
            break;
        case OPT_REF:
            if (!parse_uint(optarg, 65535, &v))
                return usage_error("--ref must be 0..65535, not \"%s\"", optarg);
            c->ref = (unsigned)v;
            break;
        case OPT_REF16:
            c->ref16 = true;
            break;
        case OPT_SMART:
            c->smart = true;
            break;
        case OPT_SMSC:
            c->smsc = optarg;
            break;
        case OPT_SRR:
            c->srr = true;
            break;
        case OPT_TEXT:
            c->text = optarg;
            break;
        case OPT_TO:
            c->to = optarg;
            break;
        case OPT_UCS2:
            c->ucs2 = true;
            break;
        case OPT_VALIDITY:
            if (!parse_uint(optarg, INT_MAX, &v))
                return usage_error("--validity must be minutes, not \"%s\"", optarg);
            c->validity = (int)v;
            break;
        default:
            return usage_error("unexpected option %s", argv[optind - 1]);
        }
    }
    if (c->ref > 255 && !c->ref16)
        return usage_error("--ref %u needs --ref16 (8-bit references are 0..255)", c->ref);
    return 0;
}

static void print_json(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);

    if (s) {
        puts(s);
        free(s);
    }
    json_decref(j);
}

static struct smsenc_opts text_opts(const struct pdu_cli *c)
{
    struct smsenc_opts o = {
        .max_parts = c->max_parts,
        .ref16 = c->ref16,
        .force_ucs2 = c->ucs2,
        .no_shift = c->no_shift,
        .smart = c->smart,
    };
    return o;
}

static json_t *plan_json(const struct smsenc_plan *p)
{
    return json_pack("{s:s, s:i, s:i, s:i, s:i, s:i, s:i}", "encoding", smsenc_name(&p->enc),
                     "parts", (int)p->parts, "left", (int)p->left, "units", (int)p->units,
                     "per_part", (int)p->per_part, "chars", (int)p->chars, "transliterated",
                     (int)p->translit);
}

/* ------------------------------------------------------------ encode */

/* Encodes one text; prints lines or JSON. Returns an exit status. */
static int encode_one(const struct pdu_cli *c, const char *text, size_t len, bool batch)
{
    struct pdu_submit_opts o = {
        .smsc = c->smsc,
        .srr = c->srr,
        .flash = c->flash,
        .validity_min = c->validity,
        .ref = (uint16_t)c->ref,
        .text = text_opts(c),
    };
    struct pdu_part *parts = calloc(SMSENC_MAX_PARTS_LIMIT, sizeof(*parts));
    struct smsenc_plan plan;
    struct sg_err err = {0};
    int n;

    if (!parts)
        return bad_input("out of memory");
    if (c->from) {
        struct pdu_deliver_opts d = {
            .smsc = c->smsc,
            .originator = c->from,
            .flash = c->flash,
            .sri = c->srr,
            .ref = (uint16_t)c->ref,
            .text = text_opts(c),
        };

        pdu_time_from_utc_ms((int64_t)time(NULL) * 1000, 0, &d.scts);
        n = pdu_encode_deliver(text, len, &d, parts, SMSENC_MAX_PARTS_LIMIT, &plan, &err);
    } else {
        n = pdu_encode_submit(c->to, text, len, &o, parts, SMSENC_MAX_PARTS_LIMIT, &plan, &err);
    }
    if (n < 0) {
        free(parts);
        if (batch) {
            print_json(json_pack("{s:s}", "error", err.msg));
            return SIMGATE_EXIT_BAD_INPUT;
        }
        return bad_input(err.msg);
    }
    if (c->json || batch) {
        json_t *j = plan_json(&plan), *arr = json_array();

        for (int i = 0; i < n; i++)
            json_array_append_new(arr, json_pack("{s:i, s:s}", "tpdu_length",
                                                 (int)parts[i].tpdu_len, "pdu", parts[i].hex));
        json_object_set_new(j, "pdus", arr);
        print_json(j);
    } else {
        for (int i = 0; i < n; i++)
            printf("%u %s\n", parts[i].tpdu_len, parts[i].hex);
    }
    free(parts);
    return SIMGATE_EXIT_OK;
}

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

static int encode_batch(const struct pdu_cli *c)
{
    char *line = malloc(BATCH_LINE_MAX);
    char *text = malloc(BATCH_LINE_MAX / 2 + 1);
    int worst = SIMGATE_EXIT_OK;

    while (line && text && fgets(line, BATCH_LINE_MAX, stdin)) {
        size_t n = strcspn(line, "\r\n"), k = 0;
        bool ok = n % 2 == 0;

        for (size_t i = 0; ok && i < n; i += 2) {
            int hi = hexval(line[i]), lo = hexval(line[i + 1]);

            ok = hi >= 0 && lo >= 0;
            if (ok)
                text[k++] = (char)(hi << 4 | lo);
        }
        if (!ok) {
            print_json(json_pack("{s:s}", "error", "batch line is not hex"));
            worst = SIMGATE_EXIT_BAD_INPUT;
            continue;
        }
        if (encode_one(c, text, k, true) != SIMGATE_EXIT_OK)
            worst = SIMGATE_EXIT_BAD_INPUT;
        fflush(stdout);
    }
    free(line);
    free(text);
    return worst;
}

static int do_encode(struct pdu_cli *c, int argc, char **argv)
{
    char *buf = NULL;
    size_t len;
    int rc;

    if (optind < argc)
        return usage_error("unexpected argument \"%s\"", argv[optind]);
    if (!c->to == !c->from)
        return usage_error("%s", "encode needs --to NUMBER (or --from SENDER), not both");
    if (c->batch)
        return encode_batch(c);
    if (!c->text)
        return usage_error("%s", "encode needs --text TEXT (or --text - for stdin)");
    if (!strcmp(c->text, "-")) {
        if (!(buf = cli_read_stdin(&len)))
            return bad_input("stdin text is larger than 64 KiB");
        rc = encode_one(c, buf, len, false);
        free(buf);
        return rc;
    }
    return encode_one(c, c->text, strlen(c->text), false);
}

/* ------------------------------------------------------------ count */

static int do_count(struct pdu_cli *c, int argc, char **argv)
{
    struct smsenc_opts o = text_opts(c);
    struct smsenc_plan plan;
    struct sg_err err = {0};
    const char *text;
    char *buf = NULL;
    size_t len;
    int rc;

    if (optind != argc - 1)
        return usage_error("%s", "count needs exactly one TEXT argument (\"-\" for stdin)");
    text = argv[optind];
    len = strlen(text);
    if (!strcmp(text, "-")) {
        if (!(buf = cli_read_stdin(&len)))
            return bad_input("stdin text is larger than 64 KiB");
        text = buf;
    }
    rc = pdu_count(text, len, &o, &plan, &err);
    free(buf);
    if (rc < 0 && rc != -E2BIG)
        return bad_input(err.msg);
    if (c->json) {
        json_t *j = plan_json(&plan);

        if (rc < 0)
            json_object_set_new(j, "error", json_string(err.msg));
        print_json(j);
    } else {
        printf("encoding=%s parts=%u left=%u\n", smsenc_name(&plan.enc), plan.parts, plan.left);
    }
    if (rc < 0)
        return bad_input(err.msg);
    return SIMGATE_EXIT_OK;
}

/* ------------------------------------------------------------ decode */

static json_t *lang_json(uint8_t lang)
{
    static const char *const names[] = {NULL, "tr", "es", "pt"};

    return lang && lang < 4 ? json_string(names[lang]) : json_null();
}

static json_t *time_json(const struct pdu_time *t)
{
    char buf[32];

    if (pdu_time_iso8601(t, buf, sizeof(buf)) < 0)
        return json_null();
    return json_string(buf);
}

static json_t *hex_json(const uint8_t *b, size_t n)
{
    char buf[PDU_HEX_MAX];

    pdu_hex_encode(b, n, buf);
    return json_string(buf);
}

static json_t *decoded_json(const struct pdu_decoded *d)
{
    json_t *j = json_object();

    json_object_set_new(j, "type", json_string(pdu_type_name(d->type)));
    json_object_set_new(j, "number", json_string(d->number));
    json_object_set_new(j, "toa", json_integer(d->toa));
    json_object_set_new(j, "text", json_stringn(d->text, d->text_len));
    json_object_set_new(j, "encoding",
                        d->has_dcs ? json_string(smsenc_name(&d->enc)) : json_null());
    json_object_set_new(j, "dcs", d->has_dcs ? json_integer(d->dcs) : json_null());
    json_object_set_new(j, "class", d->msg_class >= 0 ? json_integer(d->msg_class) : json_null());
    json_object_set_new(j, "pid", json_integer(d->pid));
    if (d->udh_len) {
        json_t *u = json_object();

        json_object_set_new(u, "ref", d->udh.concat ? json_integer(d->udh.ref) : json_null());
        json_object_set_new(u, "ref16", json_boolean(d->udh.ref16));
        json_object_set_new(u, "total", d->udh.concat ? json_integer(d->udh.total) : json_null());
        json_object_set_new(u, "seq", d->udh.concat ? json_integer(d->udh.seq) : json_null());
        json_object_set_new(u, "single_shift", lang_json(d->udh.single_shift));
        json_object_set_new(u, "locking_shift", lang_json(d->udh.locking_shift));
        json_object_set_new(u, "hex", hex_json(d->udh_raw, d->udh_len));
        json_object_set_new(j, "udh", u);
    } else {
        json_object_set_new(j, "udh", json_null());
    }
    json_object_set_new(j, "smsc", d->smsc[0] ? json_string(d->smsc) : json_null());
    json_object_set_new(j, "timestamp", d->has_scts ? time_json(&d->scts) : json_null());
    json_object_set_new(j, "mr", d->type != PDU_DELIVER ? json_integer(d->mr) : json_null());
    if (d->type == PDU_SUBMIT) {
        json_object_set_new(j, "srr", json_boolean(d->srr));
        json_object_set_new(j, "validity_minutes",
                            d->vp_min >= 0 ? json_integer(d->vp_min) : json_null());
    }
    if (d->type == PDU_STATUS_REPORT) {
        json_object_set_new(j, "discharge_time", time_json(&d->dt));
        json_object_set_new(j, "status", json_integer(d->st));
        json_object_set_new(j, "status_class", json_string(pdu_st_class_name(d->st_class)));
    }
    if (d->enc.alphabet == SMSENC_8BIT && d->has_dcs)
        json_object_set_new(j, "data", hex_json(d->data, d->data_len));
    return j;
}

static int decode_one(const struct pdu_cli *c, const char *hex, bool batch)
{
    struct pdu_decoded *d = malloc(sizeof(*d));
    struct sg_err err = {0};
    int rc;

    if (!d)
        return bad_input("out of memory");
    rc = pdu_decode_hex(hex, strlen(hex), c->dir, c->length, d, &err);
    if (rc < 0) {
        free(d);
        if (batch) {
            print_json(json_pack("{s:s}", "error", err.msg));
            return SIMGATE_EXIT_BAD_INPUT;
        }
        return bad_input(err.msg);
    }
    print_json(decoded_json(d));
    free(d);
    return SIMGATE_EXIT_OK;
}

static int do_decode(struct pdu_cli *c, int argc, char **argv)
{
    if (c->batch) {
        char line[PDU_HEX_MAX + 64];
        int worst = SIMGATE_EXIT_OK;

        if (optind != argc)
            return usage_error("unexpected argument \"%s\"", argv[optind]);
        while (fgets(line, sizeof(line), stdin)) {
            line[strcspn(line, "\r\n")] = '\0';
            if (decode_one(c, line, true) != SIMGATE_EXIT_OK)
                worst = SIMGATE_EXIT_BAD_INPUT;
            fflush(stdout);
        }
        return worst;
    }
    if (optind != argc - 1)
        return usage_error("%s", "decode needs exactly one HEX argument");
    return decode_one(c, argv[optind], false);
}

/* ------------------------------------------------------------ dispatch */

struct subcommand {
    const char *name;
    int (*run)(struct pdu_cli *c, int argc, char **argv);
};

static const struct subcommand subcommands[] = {
    {"count", do_count},
    {"decode", do_decode},
    {"encode", do_encode},
};

int cmd_pdu(const struct simgate_opts *g, int argc, char **argv)
{
    struct pdu_cli c = {.validity = -1, .dir = PDU_DIR_IN, .length = -1, .json = g->json};

    if (argc < 2)
        return usage_error("%s", "missing subcommand: encode, decode or count");
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        fputs(help_text, stdout);
        return SIMGATE_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++) {
        if (strcmp(argv[1], subcommands[i].name) != 0)
            continue;
        int rc = parse_opts(argv[1], argc - 1, argv + 1, &c);
        if (rc < 0)
            return SIMGATE_EXIT_OK; /* --help was printed */
        if (rc > 0)
            return rc;
        return subcommands[i].run(&c, argc - 1, argv + 1);
    }
    return usage_error("unknown subcommand \"%s\": encode, decode or count", argv[1]);
}
