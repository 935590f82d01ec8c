#include "drivers/at/at_parse.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ---------------------------------------------------------------- fields */

const char *at_parse_after(const char *line, const char *prefix)
{
    size_t n = strlen(prefix);

    if (!line || strncmp(line, prefix, n) != 0)
        return NULL;
    line += n;
    while (*line == ' ')
        line++;
    return line;
}

int at_parse_fields(const char *s, struct at_fields *out)
{
    out->n = 0;
    while (*s == ' ')
        s++;
    if (*s == '\0')
        return 0;
    for (;;) {
        struct at_field fld = {.s = s, .len = 0, .quoted = false};

        while (*s == ' ')
            s++;
        if (*s == '"') {
            const char *end = strchr(s + 1, '"');
            if (!end)
                return -EINVAL;
            fld.s = s + 1;
            fld.len = (size_t)(end - s - 1);
            fld.quoted = true;
            s = end + 1;
            while (*s == ' ')
                s++;
            if (*s != ',' && *s != '\0')
                return -EINVAL;
        } else {
            const char *start = s;
            while (*s && *s != ',')
                s++;
            const char *end = s;
            while (end > start && end[-1] == ' ')
                end--;
            fld.s = start;
            fld.len = (size_t)(end - start);
        }
        if (out->n >= AT_FIELDS_MAX)
            return -ERANGE;
        out->f[out->n++] = fld;
        if (*s == '\0')
            return 0;
        s++;  /* the comma */
    }
}

/* Decimal integer, optional leading '-'. */
static int field_int(const struct at_field *f, int *v)
{
    long acc = 0;
    size_t i = 0;
    bool neg = false;

    if (f->len == 0)
        return -EINVAL;
    if (f->s[0] == '-') {
        neg = true;
        i = 1;
    }
    if (i == f->len)
        return -EINVAL;
    for (; i < f->len; i++) {
        char c = f->s[i];
        if (c < '0' || c > '9')
            return -EINVAL;
        acc = acc * 10 + (c - '0');
        if (acc > INT_MAX)
            return -ERANGE;
    }
    *v = (int)(neg ? -acc : acc);
    return 0;
}

static int field_hex(const struct at_field *f, uint32_t *v)
{
    uint64_t acc = 0;

    if (f->len == 0 || f->len > 8)
        return -EINVAL;
    for (size_t i = 0; i < f->len; i++) {
        char c = f->s[i];
        int d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else
            return -EINVAL;
        acc = acc * 16 + (uint64_t)d;
    }
    *v = (uint32_t)acc;
    return 0;
}

static int field_str(const struct at_field *f, char *out, size_t size)
{
    if (size == 0 || f->len >= size)
        return -ERANGE;
    memcpy(out, f->s, f->len);
    out[f->len] = '\0';
    return 0;
}

/* Split the fields after `prefix`; -EINVAL if the prefix is not there. */
static int fields_after(const char *line, const char *prefix, struct at_fields *fs)
{
    const char *rest = at_parse_after(line, prefix);

    if (!rest)
        return -EINVAL;
    return at_parse_fields(rest, fs);
}

/* ---------------------------------------------------------------- finals */

enum final_match { M_EXACT, M_PREFIX, M_WORD };
enum final_code { C_NONE, C_CMS, C_CME };

struct final_ent {
    const char *text;
    enum final_match match;
    enum at_final final;
    bool call_only;
    enum final_code code;
};

static const struct final_ent finals[] = {
    {"OK", M_EXACT, AT_FINAL_OK, false, C_NONE},
    {"ERROR", M_EXACT, AT_FINAL_ERROR, false, C_NONE},
    {"+CMS ERROR:", M_PREFIX, AT_FINAL_CMS_ERROR, false, C_CMS},
    {"+CME ERROR:", M_PREFIX, AT_FINAL_CME_ERROR, false, C_CME},
    {"NO CARRIER", M_EXACT, AT_FINAL_NO_CARRIER, true, C_NONE},
    {"BUSY", M_EXACT, AT_FINAL_BUSY, true, C_NONE},
    {"NO ANSWER", M_EXACT, AT_FINAL_NO_ANSWER, true, C_NONE},
    {"NO DIALTONE", M_EXACT, AT_FINAL_NO_DIALTONE, true, C_NONE},
    {"NO DIAL TONE", M_EXACT, AT_FINAL_NO_DIALTONE, true, C_NONE},
    {"CONNECT", M_WORD, AT_FINAL_CONNECT, true, C_NONE},
    /* Huawei E1xx answer these instead of ERROR. */
    {"COMMAND NOT SUPPORT", M_EXACT, AT_FINAL_ERROR, false, C_NONE},
    {"TOO MANY PARAMETERS", M_EXACT, AT_FINAL_ERROR, false, C_NONE},
};

static int final_code(const char *rest, enum final_code kind)
{
    struct at_field f = {.s = rest, .len = strlen(rest), .quoted = false};
    int v;

    while (f.len > 0 && f.s[f.len - 1] == ' ')
        f.len--;
    if (field_int(&f, &v) == 0)
        return v;
    return kind == C_CMS ? at_parse_cms_verbose(rest) : at_parse_cme_verbose(rest);
}

bool at_parse_final(const char *line, enum at_final *final, int *code, bool *call_only)
{
    for (size_t i = 0; i < sizeof(finals) / sizeof(finals[0]); i++) {
        const struct final_ent *e = &finals[i];
        size_t n = strlen(e->text);
        bool hit;

        switch (e->match) {
        case M_EXACT:
            hit = strcmp(line, e->text) == 0;
            break;
        case M_PREFIX:
            hit = strncmp(line, e->text, n) == 0;
            break;
        case M_WORD:
        default:
            hit = strncmp(line, e->text, n) == 0 && (line[n] == '\0' || line[n] == ' ');
            break;
        }
        if (!hit)
            continue;
        if (final)
            *final = e->final;
        if (call_only)
            *call_only = e->call_only;
        if (code) {
            *code = -1;
            if (e->code != C_NONE) {
                const char *rest = line + n;
                while (*rest == ' ')
                    rest++;
                *code = final_code(rest, e->code);
            }
        }
        return true;
    }
    return false;
}

struct verbose_ent {
    int code;
    const char *text;
};

/* 3GPP TS 27.007 §9.2.1 */
static const struct verbose_ent cme_verbose[] = {
    {0, "phone failure"},
    {1, "no connection to phone"},
    {2, "phone-adaptor link reserved"},
    {3, "operation not allowed"},
    {4, "operation not supported"},
    {5, "PH-SIM PIN required"},
    {6, "PH-FSIM PIN required"},
    {7, "PH-FSIM PUK required"},
    {10, "SIM not inserted"},
    {11, "SIM PIN required"},
    {12, "SIM PUK required"},
    {13, "SIM failure"},
    {14, "SIM busy"},
    {15, "SIM wrong"},
    {16, "incorrect password"},
    {17, "SIM PIN2 required"},
    {18, "SIM PUK2 required"},
    {20, "memory full"},
    {21, "invalid index"},
    {22, "not found"},
    {23, "memory failure"},
    {24, "text string too long"},
    {25, "invalid characters in text string"},
    {26, "dial string too long"},
    {27, "invalid characters in dial string"},
    {30, "no network service"},
    {31, "network timeout"},
    {32, "network not allowed - emergency calls only"},
    {40, "network personalization PIN required"},
    {41, "network personalization PUK required"},
    {100, "unknown"},
};

/* 3GPP TS 27.005 §3.2.5 */
static const struct verbose_ent cms_verbose[] = {
    {300, "ME failure"},
    {301, "SMS service of ME reserved"},
    {302, "operation not allowed"},
    {303, "operation not supported"},
    {304, "invalid PDU mode parameter"},
    {305, "invalid text mode parameter"},
    {310, "SIM not inserted"},
    {311, "SIM PIN required"},
    {312, "PH-SIM PIN required"},
    {313, "SIM failure"},
    {314, "SIM busy"},
    {315, "SIM wrong"},
    {316, "SIM PUK required"},
    {317, "SIM PIN2 required"},
    {318, "SIM PUK2 required"},
    {320, "memory failure"},
    {321, "invalid memory index"},
    {322, "memory full"},
    {330, "SMSC address unknown"},
    {331, "no network service"},
    {332, "network timeout"},
    {340, "no +CNMA acknowledgement expected"},
    {500, "unknown error"},
};

static int verbose_lookup(const struct verbose_ent *t, size_t n, const char *text)
{
    size_t len = strlen(text);

    while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '.'))
        len--;
    for (size_t i = 0; i < n; i++)
        if (strlen(t[i].text) == len && strncasecmp(t[i].text, text, len) == 0)
            return t[i].code;
    return -1;
}

int at_parse_cme_verbose(const char *text)
{
    return verbose_lookup(cme_verbose, sizeof(cme_verbose) / sizeof(cme_verbose[0]), text);
}

int at_parse_cms_verbose(const char *text)
{
    return verbose_lookup(cms_verbose, sizeof(cms_verbose) / sizeof(cms_verbose[0]), text);
}

/* ---------------------------------------------------------------- errors */

struct class_range {
    int lo, hi;
    enum at_err_class cls;
};

/* REFERENCE §7, codes 0..511 (24.011 E.2, 23.040 §9.2.3.22, 27.005). */
static const struct class_range cms_classes[] = {
    {1, 1, AT_ERR_PERMANENT},        /* unassigned number */
    {8, 8, AT_ERR_PERMANENT},        /* operator determined barring */
    {10, 10, AT_ERR_PERMANENT},      /* call barred */
    {21, 21, AT_ERR_PERMANENT},      /* SM transfer rejected */
    {27, 27, AT_ERR_RETRY_LATER},    /* destination out of service */
    {28, 30, AT_ERR_PERMANENT},      /* unidentified/unknown subscriber, facility rejected */
    {38, 38, AT_ERR_RETRY_LATER},    /* network out of order */
    {41, 42, AT_ERR_RETRY_SOON},     /* temporary failure, congestion */
    {47, 47, AT_ERR_RETRY_SOON},     /* resources unavailable */
    {50, 50, AT_ERR_PERMANENT},
    {69, 69, AT_ERR_PERMANENT},
    {81, 81, AT_ERR_RETRY_SOON},
    {95, 97, AT_ERR_PERMANENT},
    {98, 98, AT_ERR_RETRY_SOON},
    {99, 99, AT_ERR_PERMANENT},
    {111, 111, AT_ERR_RETRY_LATER},
    {127, 127, AT_ERR_RETRY_LATER},
    {128, 159, AT_ERR_PERMANENT},    /* PID / DCS errors */
    {160, 175, AT_ERR_PERMANENT},    /* TP-Command errors */
    {176, 176, AT_ERR_PERMANENT},    /* TPDU not supported */
    {192, 192, AT_ERR_RETRY_SOON},   /* SC busy */
    {193, 193, AT_ERR_PERMANENT},    /* no SC subscription */
    {194, 194, AT_ERR_RETRY_LATER},  /* SC system failure */
    {195, 196, AT_ERR_PERMANENT},    /* invalid SME address, destination barred */
    {197, 197, AT_ERR_SPECIAL_DUPLICATE},
    {198, 199, AT_ERR_PERMANENT},    /* VPF/VP unsupported: drop VP and resend */
    {255, 255, AT_ERR_RETRY_LATER},
    {300, 300, AT_ERR_RETRY_LATER},  /* ME failure */
    {301, 301, AT_ERR_RETRY_SOON},   /* SMS service of ME reserved */
    {302, 305, AT_ERR_PERMANENT},    /* not allowed/supported, invalid PDU/text */
    {310, 312, AT_ERR_PERMANENT},    /* no SIM, PIN, PH-SIM PIN */
    {313, 313, AT_ERR_RETRY_LATER},  /* SIM failure */
    {314, 314, AT_ERR_RETRY_SOON},   /* SIM busy */
    {315, 318, AT_ERR_PERMANENT},    /* SIM wrong, PUK, PIN2, PUK2 */
    {320, 320, AT_ERR_RETRY_LATER},  /* memory failure */
    {321, 321, AT_ERR_PERMANENT},    /* invalid memory index */
    {322, 322, AT_ERR_SPECIAL_MEMFULL},
    {330, 330, AT_ERR_PERMANENT},    /* SMSC address unknown */
    {331, 331, AT_ERR_RETRY_LATER},  /* no network: wait for registration */
    {332, 332, AT_ERR_RETRY_SOON},   /* network timeout */
    {340, 340, AT_ERR_IGNORE},       /* no +CNMA expected (EC25 on a 2nd ack) */
    {500, 500, AT_ERR_RETRY_LATER},  /* unknown: the caller caps retries */
};

/* 512+ clash between vendors. Without a known meaning: smstools3 reads
 * 512..514 as transient (Wavecom: 512 MM establishment failure, 513 lower
 * layer failure) and REFERENCE lists 515 (init in progress) as retry-soon. */
static const struct class_range cms_vendor_generic[] = {
    {512, 514, AT_ERR_RETRY_LATER},
    {515, 515, AT_ERR_RETRY_SOON},
};

/* Siemens/Cinterion, from gammu's atgen.c table: 512 user abort, 515..520
 * malformed input, 521 timer expired, 522 temporarily not allowed, 532 SIM
 * not ready, 535 PS busy, 549..554 bad PDU/MTI/address/SCA. */
static const struct class_range cms_vendor_siemens[] = {
    {512, 512, AT_ERR_RETRY_SOON},
    {513, 513, AT_ERR_RETRY_LATER},
    {515, 520, AT_ERR_PERMANENT},
    {521, 522, AT_ERR_RETRY_SOON},
    {532, 532, AT_ERR_RETRY_LATER},
    {535, 535, AT_ERR_RETRY_SOON},
    {549, 554, AT_ERR_PERMANENT},
};

/* 27.007 §9.2: what each CME code means for sending. */
static const struct class_range cme_classes[] = {
    {0, 0, AT_ERR_RETRY_LATER},      /* phone failure */
    {3, 4, AT_ERR_PERMANENT},        /* operation not allowed / supported */
    {5, 7, AT_ERR_PERMANENT},        /* PH-SIM / PH-FSIM PIN/PUK: needs a human */
    {10, 10, AT_ERR_PERMANENT},      /* SIM not inserted */
    {11, 12, AT_ERR_PERMANENT},      /* PIN/PUK required: never retried */
    {13, 13, AT_ERR_RETRY_LATER},    /* SIM failure */
    {14, 14, AT_ERR_RETRY_SOON},     /* SIM busy (after PIN entry) */
    {15, 18, AT_ERR_PERMANENT},      /* SIM wrong, wrong password, PIN2/PUK2 */
    {20, 20, AT_ERR_SPECIAL_MEMFULL},
    {21, 22, AT_ERR_PERMANENT},      /* invalid index, not found */
    {23, 23, AT_ERR_RETRY_LATER},    /* memory failure */
    {24, 27, AT_ERR_PERMANENT},      /* text/dial string too long or invalid */
    {30, 30, AT_ERR_RETRY_LATER},    /* no network service */
    {31, 31, AT_ERR_RETRY_SOON},     /* network timeout */
    {32, 32, AT_ERR_RETRY_LATER},    /* emergency calls only */
    {40, 48, AT_ERR_PERMANENT},      /* personalisation PINs/PUKs */
    {100, 100, AT_ERR_RETRY_LATER},  /* unknown */
};

static const struct class_range cme_vendor_generic[] = {
    {515, 515, AT_ERR_RETRY_SOON},   /* init in progress, after PIN entry */
};

static enum at_err_class lookup_class(const struct class_range *t, size_t n, int code)
{
    for (size_t i = 0; i < n; i++)
        if (code >= t[i].lo && code <= t[i].hi)
            return t[i].cls;
    return AT_ERR_UNKNOWN;
}

#define LOOKUP(t, code) lookup_class((t), sizeof(t) / sizeof((t)[0]), (code))

static bool is_vendor(const char *vendor, const char *name)
{
    return vendor && strcasecmp(vendor, name) == 0;
}

enum at_err_class at_cms_class(int code, const char *vendor)
{
    if (code < 0)
        return AT_ERR_UNKNOWN;
    if (code < 512)
        return LOOKUP(cms_classes, code);
    if (is_vendor(vendor, "siemens") || is_vendor(vendor, "cinterion"))
        return LOOKUP(cms_vendor_siemens, code);
    /* sim800, sim7600, ec25, huawei: no vendor table observed yet; the
     * generic reading is the safe one. */
    return LOOKUP(cms_vendor_generic, code);
}

enum at_err_class at_cme_class(int code, const char *vendor)
{
    (void)vendor;
    if (code < 0)
        return AT_ERR_UNKNOWN;
    if (code < 512)
        return LOOKUP(cme_classes, code);
    return LOOKUP(cme_vendor_generic, code);
}

const char *at_err_class_name(enum at_err_class c)
{
    switch (c) {
    case AT_ERR_UNKNOWN: return "unknown";
    case AT_ERR_RETRY_SOON: return "retry-soon";
    case AT_ERR_RETRY_LATER: return "retry-later";
    case AT_ERR_PERMANENT: return "permanent";
    case AT_ERR_SPECIAL_DUPLICATE: return "duplicate";
    case AT_ERR_SPECIAL_MEMFULL: return "memory-full";
    case AT_ERR_IGNORE: return "ignore";
    }
    return "?";
}

/* ---------------------------------------------------------------- registration */

static int reg_stat(const struct at_field *f, int *stat)
{
    int v;

    if (f->quoted || field_int(f, &v) < 0)
        return -EINVAL;
    if (v < 0 || v > 10)
        return -ERANGE;
    *stat = v;
    return 0;
}

/* Fields from <lac> on: <lac>,<ci>[,<AcT>...]. lac/ci may be empty (CEREG). */
static int reg_location(const struct at_fields *fs, size_t i, struct at_reg *out)
{
    if (i >= fs->n)
        return 0;
    if (fs->n < i + 2)
        return -EINVAL;
    if (fs->f[i].len > 0) {
        if (field_hex(&fs->f[i], &out->lac) < 0)
            return -EINVAL;
        out->has_lac = true;
    }
    if (fs->f[i + 1].len > 0) {
        if (field_hex(&fs->f[i + 1], &out->ci) < 0)
            return -EINVAL;
        out->has_ci = true;
    }
    /* AcT; a non-numeric one (Samsung S8500 " B") is ignored, not fatal. */
    if (fs->n > i + 2 && fs->f[i + 2].len > 0) {
        int act;
        if (field_int(&fs->f[i + 2], &act) == 0 && act >= 0)
            out->act = act;
    }
    return 0;
}

/* In the read form field 2 is <stat>: a short unquoted decimal ("1",
 * Iridium "001"). In the URC form it is <lac>: quoted, or 4+ hex digits
 * (Sierra Mercury "+CREG: 1,0001,0010,0"), or empty (Novatel "+CREG: 2,,"). */
static bool urc_like(const struct at_field *f)
{
    int v;

    return f->quoted || f->len == 0 || f->len >= 4 || field_int(f, &v) < 0;
}

static int reg_parse(const char *line, const char *cmd, int form, struct at_reg *out)
{
    char prefix[12];
    struct at_fields fs;
    int rc;

    memset(out, 0, sizeof(*out));
    out->n = -1;
    out->act = -1;
    snprintf(out->cmd, sizeof(out->cmd), "%s", cmd);
    snprintf(prefix, sizeof(prefix), "+%s:", cmd);
    rc = fields_after(line, prefix, &fs);
    if (rc < 0)
        return rc;
    if (fs.n == 0)
        return -EINVAL;
    if (form < 0) {
        /* auto: see at_parse_reg() */
        form = (fs.n == 1 || fs.n == 3 || urc_like(&fs.f[1])) ? 1 : 0;
    }
    if (form == 1) {
        out->urc = true;
        rc = reg_stat(&fs.f[0], &out->stat);
        if (rc < 0)
            return rc;
        return reg_location(&fs, 1, out);
    }
    if (fs.n < 2 || fs.f[0].quoted || field_int(&fs.f[0], &out->n) < 0)
        return -EINVAL;
    rc = reg_stat(&fs.f[1], &out->stat);
    if (rc < 0)
        return rc;
    return reg_location(&fs, 2, out);
}

int at_parse_creg_read(const char *line, struct at_reg *out) { return reg_parse(line, "CREG", 0, out); }
int at_parse_creg_urc(const char *line, struct at_reg *out) { return reg_parse(line, "CREG", 1, out); }
int at_parse_cgreg_read(const char *line, struct at_reg *out) { return reg_parse(line, "CGREG", 0, out); }
int at_parse_cgreg_urc(const char *line, struct at_reg *out) { return reg_parse(line, "CGREG", 1, out); }
int at_parse_cereg_read(const char *line, struct at_reg *out) { return reg_parse(line, "CEREG", 0, out); }
int at_parse_cereg_urc(const char *line, struct at_reg *out) { return reg_parse(line, "CEREG", 1, out); }

int at_parse_reg(const char *line, struct at_reg *out)
{
    static const char *const cmds[] = {"CREG", "CGREG", "CEREG"};

    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen(cmds[i]);
        if (line[0] == '+' && strncmp(line + 1, cmds[i], n) == 0 && line[1 + n] == ':')
            return reg_parse(line, cmds[i], -1, out);
    }
    memset(out, 0, sizeof(*out));
    return -EINVAL;
}

bool at_reg_is_registered(int stat)
{
    return stat == 1 || stat == 5 || stat == 6 || stat == 7 || stat == 9 || stat == 10;
}

bool at_reg_is_roaming(int stat)
{
    return stat == 5 || stat == 7 || stat == 10;
}

const char *at_reg_stat_name(int stat)
{
    static const char *const names[] = {
        "idle", "home", "searching", "denied", "unknown", "roaming",
        "home-sms-only", "roaming-sms-only", "emergency-only",
        "home-csfb-not-preferred", "roaming-csfb-not-preferred",
    };
    if (stat < 0 || stat > 10)
        return "?";
    return names[stat];
}

/* ---------------------------------------------------------------- signal */

enum at_signal_band at_signal_band_from_dbm(int dbm)
{
    /* smstools3's bands */
    if (dbm <= -95)
        return AT_SIGNAL_MARGINAL;
    if (dbm <= -85)
        return AT_SIGNAL_WORKABLE;
    if (dbm <= -75)
        return AT_SIGNAL_GOOD;
    return AT_SIGNAL_EXCELLENT;
}

const char *at_signal_band_name(enum at_signal_band b)
{
    switch (b) {
    case AT_SIGNAL_UNKNOWN: return "unknown";
    case AT_SIGNAL_MARGINAL: return "marginal";
    case AT_SIGNAL_WORKABLE: return "workable";
    case AT_SIGNAL_GOOD: return "good";
    case AT_SIGNAL_EXCELLENT: return "excellent";
    }
    return "?";
}

int at_parse_csq(const char *line, struct at_csq *out)
{
    struct at_fields fs;
    int rc = fields_after(line, "+CSQ:", &fs);

    memset(out, 0, sizeof(*out));
    if (rc < 0)
        return rc;
    if (fs.n != 2 || field_int(&fs.f[0], &out->rssi) < 0 || field_int(&fs.f[1], &out->ber) < 0)
        return -EINVAL;
    if (!((out->rssi >= 0 && out->rssi <= 31) || out->rssi == 99))
        return -ERANGE;
    if (!((out->ber >= 0 && out->ber <= 7) || out->ber == 99))
        return -ERANGE;
    if (out->rssi == 99) {
        out->band = AT_SIGNAL_UNKNOWN;
        return 0;
    }
    out->has_dbm = true;
    out->dbm = -113 + 2 * out->rssi;
    out->band = at_signal_band_from_dbm(out->dbm);
    return 0;
}

/* ---------------------------------------------------------------- SIM */

static const struct {
    const char *text;
    enum at_cpin code;
} cpin_codes[] = {
    {"READY", AT_CPIN_READY},
    {"SIM PIN", AT_CPIN_SIM_PIN},
    {"SIM PUK", AT_CPIN_SIM_PUK},
    {"PH-SIM PIN", AT_CPIN_PH_SIM_PIN},
    {"PH-FSIM PIN", AT_CPIN_PH_FSIM_PIN},
    {"PH-FSIM PUK", AT_CPIN_PH_FSIM_PUK},
    {"SIM PIN2", AT_CPIN_SIM_PIN2},
    {"SIM PUK2", AT_CPIN_SIM_PUK2},
    {"PH-NET PIN", AT_CPIN_PH_NET_PIN},
    {"PH-NET PUK", AT_CPIN_PH_NET_PUK},
    {"NOT INSERTED", AT_CPIN_NOT_INSERTED},
    {"NOT READY", AT_CPIN_NOT_READY},
};

int at_parse_cpin(const char *line, enum at_cpin *out)
{
    const char *rest = at_parse_after(line, "+CPIN:");
    size_t n;

    if (!rest)
        return -EINVAL;
    if (*rest == '"')
        rest++;
    n = strlen(rest);
    while (n > 0 && (rest[n - 1] == ' ' || rest[n - 1] == '"'))
        n--;
    if (n == 0)
        return -EINVAL;
    for (size_t i = 0; i < sizeof(cpin_codes) / sizeof(cpin_codes[0]); i++) {
        if (strlen(cpin_codes[i].text) == n && strncasecmp(rest, cpin_codes[i].text, n) == 0) {
            *out = cpin_codes[i].code;
            return 0;
        }
    }
    *out = AT_CPIN_OTHER;
    return 0;
}

const char *at_cpin_name(enum at_cpin c)
{
    for (size_t i = 0; i < sizeof(cpin_codes) / sizeof(cpin_codes[0]); i++)
        if (cpin_codes[i].code == c)
            return cpin_codes[i].text;
    return "OTHER";
}

int at_parse_cpms(const char *line, struct at_cpms *out)
{
    struct at_fields fs;
    int rc = fields_after(line, "+CPMS:", &fs);

    memset(out, 0, sizeof(*out));
    if (rc < 0)
        return rc;
    bool read_form = fs.n > 0 && fs.f[0].quoted;
    size_t per = read_form ? 3 : 2;
    if (fs.n == 0 || fs.n % per != 0 || fs.n / per > 3)
        return -EINVAL;
    out->nmem = fs.n / per;
    for (size_t m = 0; m < out->nmem; m++) {
        const struct at_field *f = &fs.f[m * per];
        struct at_cpms_mem *dst = &out->m[m];
        if (read_form) {
            if (!f->quoted || field_str(f, dst->mem, sizeof(dst->mem)) < 0)
                return -EINVAL;
            f++;
        }
        if (field_int(&f[0], &dst->used) < 0 || field_int(&f[1], &dst->total) < 0)
            return -EINVAL;
        if (dst->used < 0 || dst->total < 0)
            return -ERANGE;
    }
    return 0;
}

/* ---------------------------------------------------------------- SMS */

int at_parse_cmgs(const char *line, int *mr)
{
    struct at_fields fs;
    int rc = fields_after(line, "+CMGS:", &fs);
    int v;

    if (rc < 0)
        return rc;
    if (fs.n < 1 || fs.n > 2 || field_int(&fs.f[0], &v) < 0)
        return -EINVAL;
    if (v < 0 || v > 255)
        return -ERANGE;
    *mr = v;
    return 0;
}

static int mem_index(const char *line, const char *prefix, struct at_mem_index *out)
{
    struct at_fields fs;
    int rc = fields_after(line, prefix, &fs);

    memset(out, 0, sizeof(*out));
    if (rc < 0)
        return rc;
    if (fs.n != 2 || field_str(&fs.f[0], out->mem, sizeof(out->mem)) < 0 ||
        field_int(&fs.f[1], &out->index) < 0)
        return -EINVAL;
    if (out->index < -1)
        return -ERANGE;
    return 0;
}

int at_parse_cmti(const char *line, struct at_mem_index *out) { return mem_index(line, "+CMTI:", out); }
int at_parse_cdsi(const char *line, struct at_mem_index *out) { return mem_index(line, "+CDSI:", out); }

static int pdu_length(const struct at_field *f, int *length)
{
    int v;

    if (field_int(f, &v) < 0)
        return -EINVAL;
    if (v < 0 || v > 255)   /* a TPDU is at most 164 octets; be lenient */
        return -ERANGE;
    *length = v;
    return 0;
}

int at_parse_cmt_header(const char *line, int *length, char *alpha, size_t alpha_size)
{
    struct at_fields fs;
    int rc = fields_after(line, "+CMT:", &fs);

    if (rc < 0)
        return rc;
    if (fs.n != 2)
        return -EINVAL;
    if (alpha && field_str(&fs.f[0], alpha, alpha_size) < 0)
        return -ERANGE;
    return pdu_length(&fs.f[1], length);
}

int at_parse_cds_header(const char *line, int *length)
{
    struct at_fields fs;
    int rc = fields_after(line, "+CDS:", &fs);

    if (rc < 0)
        return rc;
    /* ZTE puts an empty field first: "+CDS: ,24" */
    if (fs.n == 2 && fs.f[0].len == 0)
        return pdu_length(&fs.f[1], length);
    if (fs.n != 1)
        return -EINVAL;
    return pdu_length(&fs.f[0], length);
}

int at_parse_cmgr_header(const char *line, struct at_cmgr *out)
{
    struct at_fields fs;
    int rc = fields_after(line, "+CMGR:", &fs);

    memset(out, 0, sizeof(*out));
    if (rc < 0)
        return rc;
    if (fs.n != 3 || field_int(&fs.f[0], &out->stat) < 0)
        return -EINVAL;
    if (field_str(&fs.f[1], out->alpha, sizeof(out->alpha)) < 0)
        return -ERANGE;
    return pdu_length(&fs.f[2], &out->length);
}

int at_parse_cmgl_header(const char *line, struct at_cmgl *out)
{
    struct at_fields fs;
    int rc = fields_after(line, "+CMGL:", &fs);

    memset(out, 0, sizeof(*out));
    if (rc < 0)
        return rc;
    if (fs.n != 4 || field_int(&fs.f[0], &out->index) < 0 || field_int(&fs.f[1], &out->stat) < 0)
        return -EINVAL;
    if (out->index < 0)
        return -ERANGE;
    if (field_str(&fs.f[2], out->alpha, sizeof(out->alpha)) < 0)
        return -ERANGE;
    return pdu_length(&fs.f[3], &out->length);
}

/* ---------------------------------------------------------------- calls */

int at_parse_clcc(const char *line, struct at_clcc *out)
{
    struct at_fields fs;
    int rc = fields_after(line, "+CLCC:", &fs);

    memset(out, 0, sizeof(*out));
    out->type = -1;
    if (rc < 0)
        return rc;
    if (fs.n < 5)
        return -EINVAL;
    if (field_int(&fs.f[0], &out->id) < 0 || field_int(&fs.f[1], &out->dir) < 0 ||
        field_int(&fs.f[2], &out->stat) < 0 || field_int(&fs.f[3], &out->mode) < 0 ||
        field_int(&fs.f[4], &out->mpty) < 0)
        return -EINVAL;
    if (out->dir < 0 || out->dir > 1 || out->stat < 0 || out->stat > 7)
        return -ERANGE;
    if (fs.n >= 6 && field_str(&fs.f[5], out->number, sizeof(out->number)) < 0)
        return -ERANGE;
    if (fs.n >= 7 && fs.f[6].len > 0 && field_int(&fs.f[6], &out->type) < 0)
        return -EINVAL;
    return 0;
}

/* ---------------------------------------------------------------- network */

int at_parse_cops(const char *line, struct at_cops *out)
{
    struct at_fields fs;
    int rc = fields_after(line, "+COPS:", &fs);

    memset(out, 0, sizeof(*out));
    out->format = -1;
    out->act = -1;
    if (rc < 0)
        return rc;
    /* "+COPS: (2,"Vodafone"...),..." is the test form, not ours. */
    if (fs.n < 1 || fs.n > 4 || field_int(&fs.f[0], &out->mode) < 0)
        return -EINVAL;
    if (fs.n >= 2 && field_int(&fs.f[1], &out->format) < 0)
        return -EINVAL;
    if (fs.n >= 3 && field_str(&fs.f[2], out->oper, sizeof(out->oper)) < 0)
        return -ERANGE;
    if (fs.n >= 4 && fs.f[3].len > 0 && field_int(&fs.f[3], &out->act) < 0)
        return -EINVAL;
    return 0;
}

/* ---------------------------------------------------------------- identity */

/* Copy `line` minus any of the prefixes, labels and surrounding quotes. */
static int ident_value(const char *line, const char *const *prefixes, size_t nprefixes,
                       char *out, size_t size)
{
    const char *s = line;

    for (size_t i = 0; i < nprefixes; i++) {
        const char *rest = at_parse_after(line, prefixes[i]);
        if (rest) {
            s = rest;
            break;
        }
    }
    while (*s == ' ')
        s++;
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == ' ')
        n--;
    if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
        s++;
        n -= 2;
    }
    if (n == 0)
        return -EINVAL;
    if (size == 0 || n >= size)
        return -ERANGE;
    memcpy(out, s, n);
    out[n] = '\0';
    return 0;
}

int at_parse_cgmi(const char *line, char *out, size_t size)
{
    static const char *const p[] = {"+CGMI:", "+GMI:"};
    return ident_value(line, p, 2, out, size);
}

int at_parse_cgmm(const char *line, char *out, size_t size)
{
    static const char *const p[] = {"+CGMM:", "+GMM:"};
    return ident_value(line, p, 2, out, size);
}

int at_parse_cgmr(const char *line, char *out, size_t size)
{
    /* SIM800 "Revision:1418B04SIM800L24", EC25 "Revision: EC25EFAR06A06M4G" */
    static const char *const p[] = {"+CGMR:", "+GMR:", "Revision:"};
    return ident_value(line, p, 3, out, size);
}

static int digits_value(const char *line, const char *const *prefixes, size_t np, size_t min,
                        size_t max, char *out, size_t size)
{
    char tmp[40];
    int rc = ident_value(line, prefixes, np, tmp, sizeof(tmp));

    if (rc < 0)
        return rc == -ERANGE ? -EINVAL : rc;
    size_t n = strlen(tmp);
    if (n < min || n > max)
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        if (tmp[i] < '0' || tmp[i] > '9')
            return -EINVAL;
    if (n >= size)
        return -ERANGE;
    memcpy(out, tmp, n + 1);
    return 0;
}

int at_parse_cgsn(const char *line, char *out, size_t size)
{
    static const char *const p[] = {"+CGSN:", "+GSN:"};
    return digits_value(line, p, 2, 14, 17, out, size);
}

int at_parse_cimi(const char *line, char *out, size_t size)
{
    static const char *const p[] = {"+CIMI:"};
    return digits_value(line, p, 1, 6, 15, out, size);
}

int at_parse_ccid(const char *line, char *out, size_t size)
{
    static const char *const p[] = {"+CCID:", "+ICCID:", "^ICCID:", "+QCCID:", "^SCID:"};
    char tmp[40];
    int rc = ident_value(line, p, 5, tmp, sizeof(tmp));

    if (rc < 0)
        return rc == -ERANGE ? -EINVAL : rc;
    size_t n = strlen(tmp);
    /* EF_ICCID as raw BCD is nibble-swapped: "98" for the "89" industry
     * prefix (Huawei ^ICCID); swap pairs back. */
    if (n >= 2 && tmp[0] == '9' && tmp[1] == '8') {
        for (size_t i = 0; i + 1 < n; i += 2) {
            char c = tmp[i];
            tmp[i] = tmp[i + 1];
            tmp[i + 1] = c;
        }
    }
    while (n > 0 && (tmp[n - 1] == 'F' || tmp[n - 1] == 'f'))
        n--;
    tmp[n] = '\0';
    /* 18..22 digits with the telecom MII "89"; China Unicom puts hex digits
     * in the account part ("898602F9091830030220", MM's tests). */
    if (n < 18 || n > 22 || tmp[0] != '8' || tmp[1] != '9')
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        char c = tmp[i];
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F')))
            return -EINVAL;
    }
    if (n >= size)
        return -ERANGE;
    memcpy(out, tmp, n + 1);
    return 0;
}

int at_parse_cnum(const char *line, struct at_cnum *out)
{
    struct at_fields fs;
    int rc = fields_after(line, "+CNUM:", &fs);

    memset(out, 0, sizeof(*out));
    out->type = -1;
    if (rc < 0)
        return rc;
    if (fs.n < 3)
        return -EINVAL;
    if (field_str(&fs.f[0], out->alpha, sizeof(out->alpha)) < 0 ||
        field_str(&fs.f[1], out->number, sizeof(out->number)) < 0)
        return -ERANGE;
    if (out->number[0] == '\0' || field_int(&fs.f[2], &out->type) < 0)
        return -EINVAL;
    return 0;
}

/* "002B0034" -> "+4" when every UCS2 unit is 00xx with xx a dial character. */
static bool ucs2_number_decode(char *s)
{
    size_t n = strlen(s);
    char tmp[AT_NUMBER_MAX];

    size_t o = 0;

    if (n < 8 || n % 4 != 0 || n / 4 >= sizeof(tmp))
        return false;
    for (size_t i = 0; i < n; i += 4) {
        struct at_field f = {.s = s + i, .len = 4, .quoted = false};
        uint32_t u;
        if (field_hex(&f, &u) < 0)
            return false;
        if (!((u >= '0' && u <= '9') || u == '+' || u == '*' || u == '#'))
            return false;
        tmp[o++] = (char)u;
    }
    tmp[o] = '\0';
    memcpy(s, tmp, o + 1);
    return true;
}

int at_parse_csca(const char *line, struct at_csca *out)
{
    struct at_fields fs;
    int rc = fields_after(line, "+CSCA:", &fs);

    memset(out, 0, sizeof(*out));
    out->type = -1;
    if (rc < 0)
        return rc;
    if (fs.n < 1 || fs.n > 2)
        return -EINVAL;
    /* UCS2 hex takes four characters per digit. */
    char raw[4 * AT_NUMBER_MAX];
    if (field_str(&fs.f[0], raw, sizeof(raw)) < 0)
        return -ERANGE;
    (void)ucs2_number_decode(raw);
    size_t rawlen = strlen(raw);
    if (rawlen >= sizeof(out->number))
        return -ERANGE;
    memcpy(out->number, raw, rawlen + 1);
    if (fs.n == 2 && fs.f[1].len > 0 && field_int(&fs.f[1], &out->type) < 0)
        return -EINVAL;
    return 0;
}
