/*
 * pdu: SMS TPDUs (TS 23.040 §9.2) in the AT+CMGF=0 framing (TS 27.005 §3.1:
 * SMSC address field first). See pdu.h for the contract.
 */
#include "drivers/gsm/pdu.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "drivers/gsm/ucs2.h"

#define FO_MTI_MASK     0x03
#define FO_MMS_RD       0x04 /* DELIVER/STATUS-REPORT: MMS; SUBMIT: RD */
#define FO_VPF_MASK     0x18
#define FO_VPF_RELATIVE 0x10
#define FO_SRR          0x20 /* SUBMIT: SRR; DELIVER: SRI; STATUS-REPORT: SRQ */
#define FO_UDHI         0x40

#define IEI_CONCAT8       0x00
#define IEI_CONCAT16      0x08
#define IEI_SINGLE_SHIFT  0x24
#define IEI_LOCKING_SHIFT 0x25

/* ------------------------------------------------------------ small helpers */

const char *pdu_type_name(enum pdu_type t)
{
    switch (t) {
    case PDU_DELIVER:
        return "deliver";
    case PDU_SUBMIT:
        return "submit";
    case PDU_STATUS_REPORT:
        return "status-report";
    }
    return "unknown";
}

/* TS 23.040 §9.2.3.15: bits 6-5 of TP-ST give the class; bit 7 is reserved
 * and the spec says to treat reserved values as "service rejected". */
enum pdu_st_class pdu_st_classify(uint8_t st)
{
    if (st & 0x80)
        return PDU_ST_PERMANENT;
    switch (st & 0x60) {
    case 0x00:
        return PDU_ST_DELIVERED;
    case 0x20:
        return PDU_ST_TEMPORARY;
    case 0x40:
        return PDU_ST_PERMANENT;
    default:
        return PDU_ST_STOPPED;
    }
}

const char *pdu_st_class_name(enum pdu_st_class c)
{
    switch (c) {
    case PDU_ST_DELIVERED:
        return "delivered";
    case PDU_ST_TEMPORARY:
        return "temporary";
    case PDU_ST_PERMANENT:
        return "permanent";
    case PDU_ST_STOPPED:
        return "stopped";
    }
    return "unknown";
}

bool pdu_st_is_final(enum pdu_st_class c)
{
    return c != PDU_ST_TEMPORARY;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int pdu_hex_decode(const char *hex, size_t hexlen, uint8_t *out, size_t cap, struct sg_err *err)
{
    if (hexlen % 2)
        return sg_errf(err, -EINVAL, "pdu: odd number of hex digits (%zu)", hexlen);
    if (hexlen / 2 > cap)
        return sg_errf(err, -E2BIG, "pdu: %zu octets exceed the %zu-octet maximum", hexlen / 2,
                       cap);
    for (size_t i = 0; i < hexlen; i += 2) {
        int hi = hexval(hex[i]), lo = hexval(hex[i + 1]);

        if (hi < 0 || lo < 0)
            return sg_errf(err, -EINVAL, "pdu: non-hex character at offset %zu",
                           hi < 0 ? i : i + 1);
        out[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    return (int)(hexlen / 2);
}

void pdu_hex_encode(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789ABCDEF";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 0x0F];
    }
    out[2 * n] = '\0';
}

/* TS 23.040 §9.2.3.12.1: relative validity period. */
uint8_t pdu_vp_from_minutes(int minutes)
{
    if (minutes <= 5)
        return 0;
    if (minutes <= 720)
        return (uint8_t)((minutes + 4) / 5 - 1);
    if (minutes <= 1440)
        return (uint8_t)(143 + (minutes - 720 + 29) / 30);
    if (minutes <= 30 * 1440)
        return (uint8_t)(166 + (minutes + 1439) / 1440);
    if (minutes >= 63 * 10080)
        return 255;
    return (uint8_t)(192 + (minutes + 10079) / 10080);
}

int pdu_vp_to_minutes(uint8_t vp)
{
    if (vp <= 143)
        return (vp + 1) * 5;
    if (vp <= 167)
        return 720 + (vp - 143) * 30;
    if (vp <= 196)
        return (vp - 166) * 1440;
    return (vp - 192) * 10080;
}

/* ------------------------------------------------------------ time */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * 146097 + (int64_t)doe - 719468;
}

int64_t pdu_time_utc_ms(const struct pdu_time *t)
{
    int64_t days = days_from_civil(2000 + t->year, t->month, t->day);
    int64_t secs = days * 86400 + t->hour * 3600 + t->minute * 60 + t->second;

    return (secs - (int64_t)t->tz_quarters * 900) * 1000;
}

void pdu_time_from_utc_ms(int64_t utc_ms, int tz_quarters, struct pdu_time *t)
{
    int64_t secs = utc_ms / 1000 + (int64_t)tz_quarters * 900;
    int64_t z = (secs >= 0 ? secs : secs - 86399) / 86400;
    int64_t sod = secs - z * 86400;

    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned d = doy - (153 * mp + 2) / 5 + 1;
    unsigned m = mp < 10 ? mp + 3 : mp - 9;
    int64_t y = (int64_t)yoe + era * 400 + (m <= 2);

    t->year = (uint8_t)(((y - 2000) % 100 + 100) % 100);
    t->month = (uint8_t)m;
    t->day = (uint8_t)d;
    t->hour = (uint8_t)(sod / 3600);
    t->minute = (uint8_t)(sod / 60 % 60);
    t->second = (uint8_t)(sod % 60);
    t->tz_quarters = (int8_t)tz_quarters;
}

int pdu_time_iso8601(const struct pdu_time *t, char *buf, size_t n)
{
    int tz = t->tz_quarters < 0 ? -t->tz_quarters : t->tz_quarters;

    if (t->year > 99 || t->month < 1 || t->month > 12 || t->day < 1 || t->day > 31 ||
        t->hour > 23 || t->minute > 59 || t->second > 59 || tz > 79 || n < 26)
        return -ERANGE;
    return snprintf(buf, n, "20%02u-%02u-%02uT%02u:%02u:%02u%c%02d:%02d", t->year, t->month, t->day,
                    t->hour, t->minute, t->second, t->tz_quarters < 0 ? '-' : '+', tz / 4,
                    tz % 4 * 15);
}

static uint8_t bcd_swapped(unsigned v)
{
    return (uint8_t)((v % 10) << 4 | (v / 10 % 10));
}

static unsigned from_bcd_swapped(uint8_t o)
{
    return (o & 0x0F) * 10u + (o >> 4);
}

/* SCTS: YY MM DD hh mm ss TZ, each semi-octet swapped; TZ in quarter hours
 * with the sign in bit 3 (TS 23.040 §9.2.3.11). "80 80 31 21 70 22 40" is
 * 2008-08-13 12:07:22 +01:00. */
static void time_encode(const struct pdu_time *t, uint8_t out[7])
{
    int tz = t->tz_quarters < 0 ? -t->tz_quarters : t->tz_quarters;

    out[0] = bcd_swapped(t->year);
    out[1] = bcd_swapped(t->month);
    out[2] = bcd_swapped(t->day);
    out[3] = bcd_swapped(t->hour);
    out[4] = bcd_swapped(t->minute);
    out[5] = bcd_swapped(t->second);
    out[6] = (uint8_t)(bcd_swapped((unsigned)tz) | (t->tz_quarters < 0 ? 0x08 : 0));
}

static void time_decode(const uint8_t in[7], struct pdu_time *t)
{
    unsigned tz = (in[6] & 0x07) * 10u + (in[6] >> 4);

    t->year = (uint8_t)from_bcd_swapped(in[0]);
    t->month = (uint8_t)from_bcd_swapped(in[1]);
    t->day = (uint8_t)from_bcd_swapped(in[2]);
    t->hour = (uint8_t)from_bcd_swapped(in[3]);
    t->minute = (uint8_t)from_bcd_swapped(in[4]);
    t->second = (uint8_t)from_bcd_swapped(in[5]);
    t->tz_quarters = (int8_t)((in[6] & 0x08) ? -(int)tz : (int)tz);
}

/* ------------------------------------------------------------ addresses */

/* Output buffer with a fixed cap; writers check space first. */
struct wbuf {
    uint8_t b[PDU_OCTETS_MAX];
    size_t n;
};

static int put(struct wbuf *w, uint8_t v)
{
    if (w->n >= sizeof(w->b))
        return -1;
    w->b[w->n++] = v;
    return 0;
}

/* "+4670..." -> TOA 0x91, "0708..." -> TOA 0x81; digits only, 1..20 of them. */
static int parse_number(const char *num, const char **digits, size_t *ndigits, uint8_t *toa,
                        const char *what, struct sg_err *err)
{
    const char *d = num;

    if (!num || !*num)
        return sg_errf(err, -EINVAL, "pdu: %s number is empty", what);
    *toa = PDU_TOA_UNKNOWN;
    if (*d == '+') {
        *toa = PDU_TOA_INTERNATIONAL;
        d++;
    }
    size_t n = strlen(d);
    if (n == 0)
        return sg_errf(err, -EINVAL, "pdu: %s number \"%s\" has no digits", what, num);
    if (n > PDU_NUMBER_DIGITS_MAX)
        return sg_errf(err, -ERANGE, "pdu: %s number has %zu digits, at most %d allowed", what, n,
                       PDU_NUMBER_DIGITS_MAX);
    for (size_t i = 0; i < n; i++)
        if (d[i] < '0' || d[i] > '9')
            return sg_errf(err, -EINVAL, "pdu: %s number: '%c' at position %zu is not a digit",
                           what, d[i], (size_t)(d - num) + i);
    *digits = d;
    *ndigits = n;
    return 0;
}

static int put_bcd(struct wbuf *w, const char *d, size_t n)
{
    for (size_t i = 0; i < n; i += 2) {
        uint8_t lo = (uint8_t)(d[i] - '0');
        uint8_t hi = i + 1 < n ? (uint8_t)(d[i + 1] - '0') : 0x0F;

        if (put(w, (uint8_t)(hi << 4 | lo)) < 0)
            return -1;
    }
    return 0;
}

/* SMSC field: length in octets (TOA included), "00" when none. */
static int put_smsc(struct wbuf *w, const char *smsc, struct sg_err *err)
{
    const char *d = NULL;
    size_t n = 0;
    uint8_t toa = 0;
    int rc;

    if (!smsc || !*smsc)
        return put(w, 0);
    rc = parse_number(smsc, &d, &n, &toa, "SMSC", err);
    if (rc < 0)
        return rc;
    put(w, (uint8_t)(1 + (n + 1) / 2));
    put(w, toa);
    put_bcd(w, d, n);
    return 0;
}

static int put_alnum(struct wbuf *w, const char *s, struct sg_err *err)
{
    uint8_t sept[16], packed[16];
    size_t n = 0, off = 0, len = strlen(s);

    while (off < len) {
        int32_t cp = ucs2_utf8_next(s, len, &off);
        uint8_t e[2];
        int k;

        if (cp < 0)
            return sg_errf(err, -EILSEQ, "pdu: originator: invalid UTF-8 at byte offset %zu", off);
        k = gsm7_encode_char((uint32_t)cp, GSM7_LANG_NONE, GSM7_LANG_NONE, e);
        if (k <= 0)
            return sg_errf(err, -EINVAL, "pdu: originator \"%s\" is not GSM-7", s);
        if (n + (size_t)k > 11)
            return sg_errf(err, -ERANGE,
                           "pdu: alphanumeric originator \"%s\" longer than 11 "
                           "septets",
                           s);
        for (int i = 0; i < k; i++)
            sept[n++] = e[i];
    }
    size_t oct = gsm7_pack(sept, n, 0, packed);
    put(w, (uint8_t)((n * 7 + 3) / 4));
    put(w, PDU_TOA_ALPHANUMERIC);
    for (size_t i = 0; i < oct; i++)
        put(w, packed[i]);
    return 0;
}

/* DA/OA/RA: length in digits, TOA, BCD. An originator with anything but an
 * optional '+' and digits is alphanumeric. */
static int put_address(struct wbuf *w, const char *num, bool allow_alnum, const char *what,
                       struct sg_err *err)
{
    const char *d = NULL;
    size_t n = 0;
    uint8_t toa = 0;
    int rc;

    if (allow_alnum && num && *num) {
        const char *p = num + (*num == '+');
        bool digits = *p != '\0';

        for (; *p; p++)
            if (*p < '0' || *p > '9')
                digits = false;
        if (!digits)
            return put_alnum(w, num, err);
    }
    rc = parse_number(num, &d, &n, &toa, what, err);
    if (rc < 0)
        return rc;
    put(w, (uint8_t)n);
    put(w, toa);
    put_bcd(w, d, n);
    return 0;
}

/* ------------------------------------------------------------ encode */

struct udh_spec {
    bool concat, ref16;
    uint16_t ref;
    uint8_t total, seq;
    uint8_t single, locking;
};

static size_t build_udh(const struct udh_spec *u, uint8_t out[16])
{
    size_t n = 1;

    if (u->concat && u->ref16) {
        const uint8_t ie[] = {IEI_CONCAT16,    4,        (uint8_t)(u->ref >> 8),
                              (uint8_t)u->ref, u->total, u->seq};
        memcpy(out + n, ie, sizeof(ie));
        n += sizeof(ie);
    } else if (u->concat) {
        const uint8_t ie[] = {IEI_CONCAT8, 3, (uint8_t)u->ref, u->total, u->seq};
        memcpy(out + n, ie, sizeof(ie));
        n += sizeof(ie);
    }
    if (u->single) {
        out[n++] = IEI_SINGLE_SHIFT;
        out[n++] = 1;
        out[n++] = u->single;
    }
    if (u->locking) {
        out[n++] = IEI_LOCKING_SHIFT;
        out[n++] = 1;
        out[n++] = u->locking;
    }
    if (n == 1)
        return 0;
    out[0] = (uint8_t)(n - 1);
    return n;
}

/* Appends UDL and UD for one part; returns whether UDHI must be set. */
static int put_user_data(struct wbuf *w, const struct smsenc_encoding *enc,
                         const struct smsenc_part *part, const struct udh_spec *u, bool *udhi)
{
    uint8_t udh[16], ud[SMSENC_UD_MAX + 8];
    size_t h = build_udh(u, udh), n;
    unsigned udl;

    *udhi = h > 0;
    memcpy(ud, udh, h);
    if (enc->alphabet == SMSENC_GSM7) {
        uint8_t sept[SMSENC_PART_UNITS_MAX];
        unsigned hsept = (unsigned)(h * 8 + 6) / 7;

        for (unsigned i = 0; i < part->n; i++)
            sept[i] = (uint8_t)part->u[i];
        n = h + gsm7_pack(sept, part->n, (unsigned)(hsept * 7 - h * 8), ud + h);
        udl = hsept + part->n;
        if (udl > 160)
            return -1;
    } else {
        for (unsigned i = 0; i < part->n; i++) {
            ud[h + 2 * i] = (uint8_t)(part->u[i] >> 8);
            ud[h + 2 * i + 1] = (uint8_t)part->u[i];
        }
        n = h + 2 * part->n;
        udl = (unsigned)n;
    }
    if (n > SMSENC_UD_MAX)
        return -1;
    put(w, (uint8_t)udl);
    for (size_t i = 0; i < n; i++)
        put(w, ud[i]);
    return 0;
}

static uint8_t dcs_for(const struct smsenc_encoding *enc, bool flash)
{
    uint8_t dcs = enc->alphabet == SMSENC_UCS2 ? 0x08 : 0x00;

    return flash ? (uint8_t)(dcs | 0x10) : dcs;
}

static void finish_part(const struct wbuf *w, size_t smsc_len, struct pdu_part *out)
{
    out->tpdu_len = (unsigned)(w->n - smsc_len);
    pdu_hex_encode(w->b, w->n, out->hex);
}

/* What SUBMIT and DELIVER share: plan, then one PDU per part. */
struct encode_job {
    const char *smsc;
    const char *addr;
    bool alnum_ok;
    uint8_t fo, pid;
    bool flash, is_submit;
    uint8_t mr;
    int vp; /* -1: none */
    const struct pdu_time *scts;
    uint16_t ref;
};

static int encode_parts(const struct encode_job *j, const char *utf8, size_t len,
                        const struct smsenc_opts *to, struct pdu_part *parts, size_t cap,
                        struct smsenc_plan *plan_out, struct sg_err *err)
{
    struct smsenc_plan plan;
    size_t off = 0;
    int rc = smsenc_plan_text(utf8, len, to, &plan, err);

    if (plan_out)
        *plan_out = plan;
    if (rc < 0)
        return rc;
    if (plan.parts > cap)
        return sg_errf(err, -E2BIG, "pdu: text needs %u parts, room for %zu", plan.parts, cap);
    for (unsigned i = 0; i < plan.parts; i++) {
        struct smsenc_part part;
        struct wbuf w = {.n = 0};
        struct udh_spec u = {
            .concat = plan.parts > 1,
            .ref16 = to->ref16,
            .ref = j->ref,
            .total = (uint8_t)plan.parts,
            .seq = (uint8_t)(i + 1),
            .single = plan.enc.alphabet == SMSENC_GSM7 ? plan.enc.single : 0,
            .locking = plan.enc.alphabet == SMSENC_GSM7 ? plan.enc.locking : 0,
        };
        size_t smsc_len, fo_at;
        bool udhi;

        rc = smsenc_next_part(utf8, len, &plan, to->smart, &off, &part, err);
        if (rc < 0)
            return rc;
        if (!to->ref16)
            u.ref &= 0xFF;
        rc = put_smsc(&w, j->smsc, err);
        if (rc < 0)
            return rc;
        smsc_len = w.n;
        fo_at = w.n;
        put(&w, j->fo);
        if (j->is_submit)
            put(&w, j->mr);
        rc =
            put_address(&w, j->addr, j->alnum_ok, j->is_submit ? "destination" : "originator", err);
        if (rc < 0)
            return rc;
        put(&w, j->pid);
        put(&w, dcs_for(&plan.enc, j->flash));
        if (j->is_submit && j->vp >= 0)
            put(&w, (uint8_t)j->vp);
        if (!j->is_submit) {
            uint8_t t[7];

            time_encode(j->scts, t);
            for (int k = 0; k < 7; k++)
                put(&w, t[k]);
        }
        if (put_user_data(&w, &plan.enc, &part, &u, &udhi) < 0)
            return sg_errf(err, -EINVAL, "pdu: part %u overflows the user data", i + 1);
        if (udhi)
            w.b[fo_at] |= FO_UDHI;
        finish_part(&w, smsc_len, &parts[i]);
    }
    return (int)plan.parts;
}

int pdu_encode_submit(const char *to, const char *utf8, size_t len, const struct pdu_submit_opts *o,
                      struct pdu_part *parts, size_t cap, struct smsenc_plan *plan,
                      struct sg_err *err)
{
    struct encode_job j = {
        .smsc = o->smsc,
        .addr = to,
        .alnum_ok = false,
        .pid = o->pid,
        .flash = o->flash,
        .is_submit = true,
        .mr = o->mr,
        .vp = -1,
        .ref = o->ref,
    };
    const char *d = NULL;
    size_t n = 0;
    uint8_t toa = 0;
    int rc = parse_number(to, &d, &n, &toa, "destination", err);

    if (rc < 0)
        return rc;
    if (o->validity_min >= 0)
        j.vp = pdu_vp_from_minutes(o->validity_min);
    j.fo = (uint8_t)(0x01 | (j.vp >= 0 ? FO_VPF_RELATIVE : 0) | (o->srr ? FO_SRR : 0));
    return encode_parts(&j, utf8, len, &o->text, parts, cap, plan, err);
}

int pdu_count(const char *utf8, size_t len, const struct smsenc_opts *o, struct smsenc_plan *plan,
              struct sg_err *err)
{
    return smsenc_plan_text(utf8, len, o, plan, err);
}

int pdu_encode_deliver(const char *utf8, size_t len, const struct pdu_deliver_opts *o,
                       struct pdu_part *parts, size_t cap, struct smsenc_plan *plan,
                       struct sg_err *err)
{
    struct encode_job j = {
        .smsc = o->smsc,
        .addr = o->originator,
        .alnum_ok = true,
        .pid = o->pid,
        .flash = o->flash,
        .is_submit = false,
        .vp = -1,
        .scts = &o->scts,
        .ref = o->ref,
    };

    j.fo = (uint8_t)(0x00 | (o->more ? 0 : FO_MMS_RD) | (o->sri ? FO_SRR : 0));
    return encode_parts(&j, utf8, len, &o->text, parts, cap, plan, err);
}

int pdu_encode_status_report(const struct pdu_status_report_opts *o, struct pdu_part *out,
                             struct sg_err *err)
{
    struct wbuf w = {.n = 0};
    uint8_t t[7];
    size_t smsc_len;
    int rc = put_smsc(&w, o->smsc, err);

    if (rc < 0)
        return rc;
    smsc_len = w.n;
    put(&w, 0x02 | FO_MMS_RD);
    put(&w, o->mr);
    rc = put_address(&w, o->recipient, false, "recipient", err);
    if (rc < 0)
        return rc;
    time_encode(&o->scts, t);
    for (int k = 0; k < 7; k++)
        put(&w, t[k]);
    time_encode(&o->dt, t);
    for (int k = 0; k < 7; k++)
        put(&w, t[k]);
    put(&w, o->st);
    finish_part(&w, smsc_len, out);
    return 0;
}

/* ------------------------------------------------------------ decode */

/* Bounds-checked reader over untrusted octets. */
struct rd {
    const uint8_t *p;
    size_t n, i;
};

static int get(struct rd *r, uint8_t *v)
{
    if (r->i >= r->n)
        return -1;
    *v = r->p[r->i++];
    return 0;
}

static const uint8_t *get_n(struct rd *r, size_t n)
{
    const uint8_t *p;

    if (n > r->n - r->i)
        return NULL;
    p = r->p + r->i;
    r->i += n;
    return p;
}

#define TRUNC(r, err, what)                                                                        \
    sg_errf(err, -EINVAL, "pdu: truncated at octet %zu reading %s", (r)->i, what)

/* Appends cp as UTF-8 to a NUL-terminated buffer of cap bytes; drops what does not fit. */
static void append_utf8(char *buf, size_t cap, size_t *len, uint32_t cp)
{
    char tmp[4];
    size_t k = ucs2_utf8_put(cp, tmp);

    if (*len + k + 1 > cap)
        return;
    memcpy(buf + *len, tmp, k);
    *len += k;
    buf[*len] = '\0';
}

/* Septets to UTF-8 with the given shift tables. */
static size_t septets_to_utf8(const uint8_t *s, size_t n, int locking, int single, char *out,
                              size_t cap)
{
    size_t len = 0;

    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        uint32_t cp;

        if (s[i] == GSM7_ESC && i + 1 < n)
            cp = gsm7_decode_ext(s[++i], single, locking);
        else
            cp = gsm7_decode_char(s[i], locking);
        append_utf8(out, cap, &len, cp);
    }
    return len;
}

static const char bcd_digits[] = "0123456789*#abc";

static void bcd_to_str(const uint8_t *p, size_t ndigits, bool intl, char *out)
{
    size_t k = 0;

    if (intl)
        out[k++] = '+';
    for (size_t i = 0; i < ndigits; i++) {
        uint8_t nib = (i % 2) ? p[i / 2] >> 4 : p[i / 2] & 0x0F;

        if (nib == 0x0F)
            break;
        out[k++] = bcd_digits[nib];
    }
    out[k] = '\0';
}

/*
 * Address field (TS 23.040 §9.1.2.5): length in semi-octets, TOA, value.
 * "0B 91 6407281553F8" is +46708251358; with TOA 0xD0 the value is GSM-7
 * packed and the length counts semi-octets: "0D D0 F334FC1CA69701" is
 * "sipgate" (oFono alnum_sender).
 */
static int get_address(struct rd *r, char out[PDU_ADDR_MAX], uint8_t *toa, const char *what,
                       struct sg_err *err)
{
    uint8_t len;
    const uint8_t *v;

    if (get(r, &len) < 0 || get(r, toa) < 0)
        return TRUNC(r, err, what);
    if (len > PDU_NUMBER_DIGITS_MAX)
        return sg_errf(err, -EINVAL, "pdu: %s length %u exceeds %d semi-octets", what, len,
                       PDU_NUMBER_DIGITS_MAX);
    if (!(v = get_n(r, (len + 1u) / 2)))
        return TRUNC(r, err, what);
    if ((*toa & 0x70) == 0x50) {
        uint8_t sept[PDU_NUMBER_DIGITS_MAX * 4 / 7 + 1];
        size_t ns = (size_t)len * 4 / 7;

        gsm7_unpack(v, (len + 1u) / 2, 0, ns, sept);
        septets_to_utf8(sept, ns, GSM7_LANG_NONE, GSM7_LANG_NONE, out, PDU_ADDR_MAX);
    } else {
        bcd_to_str(v, len, (*toa & 0x70) == 0x10, out);
    }
    return 0;
}

static int get_smsc(struct rd *r, struct pdu_decoded *d, struct sg_err *err)
{
    uint8_t len;
    const uint8_t *v;

    d->smsc_field = true;
    if (get(r, &len) < 0)
        return TRUNC(r, err, "SMSC length");
    if (len == 0)
        return 0;
    if (len > PDU_SMSC_OCTETS_MAX - 1)
        return sg_errf(err, -EINVAL, "pdu: SMSC length %u exceeds %d octets", len,
                       PDU_SMSC_OCTETS_MAX - 1);
    if (get(r, &d->smsc_toa) < 0 || !(v = get_n(r, len - 1u)))
        return TRUNC(r, err, "SMSC address");
    bcd_to_str(v, 2u * (len - 1u), (d->smsc_toa & 0x70) == 0x10, d->smsc);
    return 0;
}

/* TS 23.038 §4: alphabet and class from TP-DCS. Compressed text is left as
 * 8-bit data: simgate does not implement TS 23.042. */
static void dcs_decode(uint8_t dcs, struct pdu_decoded *d)
{
    d->msg_class = -1;
    d->enc.alphabet = SMSENC_GSM7;
    if ((dcs & 0x80) == 0) {
        unsigned a = (dcs >> 2) & 3;

        if (dcs & 0x20)
            d->enc.alphabet = SMSENC_8BIT;
        else if (a == 1)
            d->enc.alphabet = SMSENC_8BIT;
        else if (a == 2)
            d->enc.alphabet = SMSENC_UCS2;
        if (dcs & 0x10)
            d->msg_class = dcs & 3;
    } else if ((dcs & 0xF0) == 0xE0) {
        d->enc.alphabet = SMSENC_UCS2;
    } else if ((dcs & 0xF0) == 0xF0) {
        d->enc.alphabet = (dcs & 0x04) ? SMSENC_8BIT : SMSENC_GSM7;
        d->msg_class = dcs & 3;
    }
}

/* UDH: UDHL then IEs (IEI, IEDL, data). Unknown IEs are skipped; an IE
 * running past UDHL is an error. */
static int parse_udh(const uint8_t *h, size_t hl, struct pdu_udh *u, struct sg_err *err)
{
    size_t i = 0;

    while (i < hl) {
        uint8_t iei = h[i], l;

        if (i + 1 >= hl)
            return sg_errf(err, -EINVAL, "pdu: UDH IE 0x%02X has no length", iei);
        l = h[i + 1];
        if (i + 2 + l > hl)
            return sg_errf(err, -EINVAL, "pdu: UDH IE 0x%02X length %u runs past the header", iei,
                           l);
        const uint8_t *v = h + i + 2;
        /* TS 23.040 §9.2.3.24.1: a concat IE with total or seq 0, or seq
         * past total, is ignored as a whole. A repeated IE: the last wins. */
        if (iei == IEI_CONCAT8 && l == 3 && v[1] && v[2] && v[2] <= v[1]) {
            u->concat = true;
            u->ref16 = false;
            u->ref = v[0];
            u->total = v[1];
            u->seq = v[2];
        } else if (iei == IEI_CONCAT16 && l == 4 && v[2] && v[3] && v[3] <= v[2]) {
            u->concat = true;
            u->ref16 = true;
            u->ref = (uint16_t)(v[0] << 8 | v[1]);
            u->total = v[2];
            u->seq = v[3];
        } else if (iei == IEI_SINGLE_SHIFT && l == 1 && gsm7_has_single(v[0])) {
            u->single_shift = v[0];
        } else if (iei == IEI_LOCKING_SHIFT && l == 1 && gsm7_has_locking(v[0])) {
            u->locking_shift = v[0];
        }
        i += 2u + l;
    }
    return 0;
}

/* TP-UDL and TP-UD (TS 23.040 §9.2.3.16, §9.2.3.24). Decoded by UDL, not
 * by the octets present: a trailing 0x00 octet must not read as '@'. */
static int get_user_data(struct rd *r, struct pdu_decoded *d, struct sg_err *err)
{
    uint8_t udl;
    size_t octets, h = 0;
    const uint8_t *ud;

    if (get(r, &udl) < 0)
        return TRUNC(r, err, "TP-UDL");
    d->udl = udl;
    if (d->enc.alphabet == SMSENC_GSM7) {
        if (udl > 160)
            return sg_errf(err, -EINVAL, "pdu: UDL %u exceeds 160 septets", udl);
        octets = ((size_t)udl * 7 + 7) / 8;
    } else {
        if (udl > SMSENC_UD_MAX)
            return sg_errf(err, -EINVAL, "pdu: UDL %u exceeds 140 octets", udl);
        octets = udl;
    }
    if (!(ud = get_n(r, octets)))
        return sg_errf(err, -EINVAL, "pdu: UDL %u needs %zu octets of user data, %zu present", udl,
                       octets, r->n - r->i);
    if (d->udhi && octets > 0) {
        h = (size_t)ud[0] + 1;
        if (h > octets)
            return sg_errf(err, -EINVAL, "pdu: UDHL %u larger than the user data (%zu octets)",
                           ud[0], octets);
        memcpy(d->udh_raw, ud, h);
        d->udh_len = h;
        int rc = parse_udh(ud + 1, h - 1, &d->udh, err);
        if (rc < 0)
            return rc;
    } else if (d->udhi) {
        return sg_errf(err, -EINVAL, "pdu: UDHI set but the user data is empty");
    }
    if (d->enc.alphabet == SMSENC_GSM7) {
        uint8_t sept[160];
        size_t hsept = (h * 8 + 6) / 7, ns;

        if (hsept > udl)
            return sg_errf(err, -EINVAL, "pdu: UDHL %zu larger than UDL %u septets", h - 1, udl);
        ns = udl - hsept;
        d->enc.single = d->udh.single_shift;
        d->enc.locking = d->udh.locking_shift;
        if (gsm7_unpack(ud, octets, (unsigned)(hsept * 7), ns, sept) < 0)
            return sg_errf(err, -EINVAL, "pdu: user data shorter than UDL");
        d->text_len =
            septets_to_utf8(sept, ns, d->enc.locking, d->enc.single, d->text, sizeof(d->text));
    } else if (d->enc.alphabet == SMSENC_UCS2) {
        long n = ucs2_utf16be_to_utf8(ud + h, (octets - h) / 2, d->text, sizeof(d->text) - 1);

        d->text_len = n < 0 ? 0 : (size_t)n;
        d->text[d->text_len] = '\0';
    } else {
        d->data_len = octets - h;
        memcpy(d->data, ud + h, d->data_len);
    }
    return 0;
}

static int get_pid_dcs(struct rd *r, struct pdu_decoded *d, struct sg_err *err)
{
    if (get(r, &d->pid) < 0)
        return TRUNC(r, err, "TP-PID");
    if (get(r, &d->dcs) < 0)
        return TRUNC(r, err, "TP-DCS");
    d->has_dcs = true;
    dcs_decode(d->dcs, d);
    return 0;
}

static int get_time(struct rd *r, struct pdu_time *t, const char *what, struct sg_err *err)
{
    const uint8_t *v = get_n(r, 7);

    if (!v)
        return TRUNC(r, err, what);
    time_decode(v, t);
    return 0;
}

/* SMS-DELIVER: FO OA PID DCS SCTS UDL UD. oFono alnum_sender, after the
 * SMSC field: 04 0DD0F334FC1CA69701 00 00 80803121702240 08 D4F29CDE0EA7D9. */
static int decode_deliver(struct rd *r, struct pdu_decoded *d, struct sg_err *err)
{
    int rc;

    d->type = PDU_DELIVER;
    if ((rc = get_address(r, d->number, &d->toa, "originator", err)) < 0 ||
        (rc = get_pid_dcs(r, d, err)) < 0 || (rc = get_time(r, &d->scts, "TP-SCTS", err)) < 0)
        return rc;
    d->has_scts = true;
    return get_user_data(r, d, err);
}

/* SMS-SUBMIT: FO MR DA PID DCS [VP] UDL UD. oFono simple_submit, after the
 * SMSC field: 11 00 0B916407281553F8 00 00 AA 0A E8329BFD4697D9EC37. */
static int decode_submit(struct rd *r, struct pdu_decoded *d, struct sg_err *err)
{
    unsigned vpf = (d->fo & FO_VPF_MASK) >> 3;
    int rc;

    d->type = PDU_SUBMIT;
    if (get(r, &d->mr) < 0)
        return TRUNC(r, err, "TP-MR");
    if ((rc = get_address(r, d->number, &d->toa, "destination", err)) < 0 ||
        (rc = get_pid_dcs(r, d, err)) < 0)
        return rc;
    if (vpf == 2) {
        uint8_t vp;

        if (get(r, &vp) < 0)
            return TRUNC(r, err, "TP-VP");
        d->vp_min = pdu_vp_to_minutes(vp);
    } else if (vpf != 0) {
        if (!get_n(r, 7))
            return TRUNC(r, err, "TP-VP");
        d->vp_min = -2;
    }
    return get_user_data(r, d, err);
}

/* SMS-STATUS-REPORT: FO MR RA SCTS DT ST [PI [PID] [DCS] [UDL UD]].
 * MM test_parse_cds, after the SMSC field: 06 5A 098136395339F6
 * 21901170046380 21901170046380 30 (MR 90, ST 0x30). */
static int decode_status_report(struct rd *r, struct pdu_decoded *d, struct sg_err *err)
{
    uint8_t pi;
    int rc;

    d->type = PDU_STATUS_REPORT;
    if (get(r, &d->mr) < 0)
        return TRUNC(r, err, "TP-MR");
    if ((rc = get_address(r, d->number, &d->toa, "recipient", err)) < 0 ||
        (rc = get_time(r, &d->scts, "TP-SCTS", err)) < 0 ||
        (rc = get_time(r, &d->dt, "TP-DT", err)) < 0)
        return rc;
    d->has_scts = true;
    if (get(r, &d->st) < 0)
        return TRUNC(r, err, "TP-ST");
    d->st_class = pdu_st_classify(d->st);
    /* TP-PI is optional; some SMSCs pad the report with 0xFF or zeros,
     * which TS 23.040 §9.2.3.27 says to read as "no parameters". */
    if (get(r, &pi) < 0 || pi == 0xFF || (pi & 0x78))
        return 0;
    if ((pi & 0x01) && get(r, &d->pid) < 0)
        return TRUNC(r, err, "TP-PID");
    if (pi & 0x02) {
        if (get(r, &d->dcs) < 0)
            return TRUNC(r, err, "TP-DCS");
        d->has_dcs = true;
        dcs_decode(d->dcs, d);
    }
    if (pi & 0x04)
        return get_user_data(r, d, err);
    return 0;
}

static int decode_tpdu(struct rd *r, enum pdu_direction dir, struct pdu_decoded *d,
                       struct sg_err *err)
{
    unsigned mti;

    if (get(r, &d->fo) < 0)
        return TRUNC(r, err, "first octet");
    mti = d->fo & FO_MTI_MASK;
    d->udhi = (d->fo & FO_UDHI) != 0;
    d->srr = (d->fo & FO_SRR) != 0;
    if (dir == PDU_DIR_IN && mti == 0)
        return decode_deliver(r, d, err);
    if (dir == PDU_DIR_IN && mti == 2)
        return decode_status_report(r, d, err);
    if (dir == PDU_DIR_OUT && mti == 1)
        return decode_submit(r, d, err);
    static const char *const in_names[] = {"DELIVER", "SUBMIT-REPORT", "STATUS-REPORT", "reserved"};
    static const char *const out_names[] = {"DELIVER-REPORT", "SUBMIT", "COMMAND", "reserved"};
    return sg_errf(err, -EINVAL, "pdu: MTI %u (%s) is not supported for direction %s", mti,
                   dir == PDU_DIR_IN ? in_names[mti] : out_names[mti],
                   dir == PDU_DIR_IN ? "in" : "out");
}

static void decoded_init(struct pdu_decoded *d)
{
    memset(d, 0, sizeof(*d));
    d->msg_class = -1;
    d->vp_min = -1;
}

/* Decodes buf as [SMSC] TPDU; *consumed gets the octets the TPDU used. */
static int decode_framed(const uint8_t *buf, size_t len, bool with_smsc, enum pdu_direction dir,
                         struct pdu_decoded *d, size_t *consumed, struct sg_err *err)
{
    struct rd r = {buf, len, 0};
    int rc;

    decoded_init(d);
    if (with_smsc && (rc = get_smsc(&r, d, err)) < 0)
        return rc;
    rc = decode_tpdu(&r, dir, d, err);
    *consumed = r.i;
    return rc;
}

int pdu_decode(const uint8_t *buf, size_t len, enum pdu_direction dir, int tpdu_len,
               struct pdu_decoded *out, struct sg_err *err)
{
    struct pdu_decoded alt;
    struct sg_err alt_err;
    size_t used = 0, alt_used = 0;
    int rc, alt_rc;

    if (dir != PDU_DIR_IN && dir != PDU_DIR_OUT)
        return sg_errf(err, -EINVAL, "pdu: bad direction %d", (int)dir);
    if (len == 0)
        return sg_errf(err, -EINVAL, "pdu: empty PDU");
    if (tpdu_len >= 0) {
        if ((size_t)tpdu_len > len)
            return sg_errf(err, -EINVAL, "pdu: TPDU length %d exceeds the %zu octets given",
                           tpdu_len, len);
        size_t smsc = len - (size_t)tpdu_len;
        if (smsc > 0 && (size_t)buf[0] + 1 != smsc)
            return sg_errf(err, -EINVAL,
                           "pdu: %zu octets before the TPDU but SMSC length "
                           "octet says %u",
                           smsc, buf[0]);
        rc = decode_framed(buf, len, smsc > 0, dir, out, &used, err);
        if (rc == 0 && used != len)
            return sg_errf(err, -EINVAL, "pdu: %zu octets after the end of the TPDU", len - used);
        return rc;
    }
    /* Length unknown: prefer the reading that uses every octet, SMSC field
     * first (that is what modems send in PDU mode). */
    rc = decode_framed(buf, len, true, dir, out, &used, err);
    if (rc == 0 && used == len)
        return 0;
    alt_rc = decode_framed(buf, len, false, dir, &alt, &alt_used, &alt_err);
    if (alt_rc == 0 && (alt_used == len || rc < 0)) {
        *out = alt;
        sg_err_clear(err);
        return 0;
    }
    if (rc == 0)
        return 0;
    return rc;
}

int pdu_decode_hex(const char *hex, size_t hexlen, enum pdu_direction dir, int tpdu_len,
                   struct pdu_decoded *out, struct sg_err *err)
{
    uint8_t buf[PDU_OCTETS_MAX] = {0};
    int n;

    while (hexlen > 0 && (*hex == ' ' || *hex == '\t' || *hex == '\r' || *hex == '\n')) {
        hex++;
        hexlen--;
    }
    while (hexlen > 0 && (hex[hexlen - 1] == ' ' || hex[hexlen - 1] == '\t' ||
                          hex[hexlen - 1] == '\r' || hex[hexlen - 1] == '\n'))
        hexlen--;
    n = pdu_hex_decode(hex, hexlen, buf, sizeof(buf), err);
    if (n < 0)
        return n;
    return pdu_decode(buf, (size_t)n, dir, tpdu_len, out, err);
}
