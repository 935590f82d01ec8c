/*
 * smsenc: encoding choice and segmentation. See smsenc.h for the rules.
 *
 * A text is walked as "atoms": one source code point and what it encodes
 * to (1-2 septets, 1-2 UTF-16 units, or up to 3 characters of a smart
 * replacement). Atoms are never split across parts, which is how an
 * escape sequence and a surrogate pair stay whole.
 */
#include "drivers/gsm/smsenc.h"

#include <errno.h>
#include <string.h>

#include "drivers/gsm/gsm7.h"
#include "drivers/gsm/ucs2.h"

#define ATOM_MAX      8 /* 3 replacement chars x 2 septets, rounded up */
#define MEASURE_CAP   0xFFFFFFFFu
#define NOT_ENCODABLE (-ENOENT)

const char *smsenc_name(const struct smsenc_encoding *e)
{
    if (e->alphabet == SMSENC_UCS2)
        return "ucs2";
    if (e->alphabet == SMSENC_8BIT)
        return "8bit";
    switch (e->locking ? e->locking : e->single) {
    case GSM7_LANG_TURKISH:
        return "gsm7-tr";
    case GSM7_LANG_SPANISH:
        return "gsm7-es";
    case GSM7_LANG_PORTUGUESE:
        return "gsm7-pt";
    default:
        return "gsm7";
    }
}

/* ------------------------------------------------------------ smart encoding */

struct translit {
    uint32_t cp;
    const char *to;
};

/* Sorted by code point; scanned linearly (short, and only reached for
 * characters no GSM-7 table has). */
/* clang-format off */
static const struct translit translit_table[] = {
    {0x00A0, " "},   /* no-break space */
    {0x00A9, "(c)"}, /* copyright */
    {0x00AB, "<<"},  /* left guillemet */
    {0x00AD, ""},    /* soft hyphen */
    {0x00AE, "(R)"}, /* registered */
    {0x00B4, "'"},   /* acute accent */
    {0x00B7, "."},   /* middle dot */
    {0x00BB, ">>"},  /* right guillemet */
    {0x02BC, "'"},   /* modifier letter apostrophe */
    {0x02C6, "^"},   /* modifier circumflex */
    {0x02DC, "~"},   /* small tilde */
    {0x2000, " "}, {0x2001, " "}, {0x2002, " "}, {0x2003, " "}, {0x2004, " "},
    {0x2005, " "}, {0x2006, " "}, {0x2007, " "}, {0x2008, " "}, {0x2009, " "},
    {0x200A, " "},   /* en quad .. hair space */
    {0x200B, ""},    /* zero width space */
    {0x200C, ""},    /* zero width non-joiner */
    {0x200D, ""},    /* zero width joiner */
    {0x2010, "-"}, {0x2011, "-"}, {0x2012, "-"}, {0x2013, "-"}, {0x2014, "-"},
    {0x2015, "-"},   /* hyphen, non-breaking hyphen, figure/en/em dash, bar */
    {0x2018, "'"}, {0x2019, "'"}, {0x201A, "'"}, {0x201B, "'"},
    {0x201C, "\""}, {0x201D, "\""}, {0x201E, "\""}, {0x201F, "\""},
    {0x2022, "*"},   /* bullet */
    {0x2024, "."},   /* one dot leader */
    {0x2026, "..."}, /* ellipsis */
    {0x2028, "\n"},  /* line separator */
    {0x2029, "\n"},  /* paragraph separator */
    {0x202F, " "},   /* narrow no-break space */
    {0x2032, "'"},   /* prime */
    {0x2033, "\""},  /* double prime */
    {0x2039, "<"},   /* single left angle quote */
    {0x203A, ">"},   /* single right angle quote */
    {0x2044, "/"},   /* fraction slash */
    {0x205F, " "},   /* medium mathematical space */
    {0x2060, ""},    /* word joiner */
    {0x2122, "TM"},  /* trade mark */
    {0x2212, "-"},   /* minus sign */
    {0x3000, " "},   /* ideographic space */
    {0xFB00, "ff"}, {0xFB01, "fi"}, {0xFB02, "fl"},
    {0xFEFF, ""},    /* byte order mark / zero width no-break space */
};

/* Printable ASCII as one-character strings, for full-width forms. */
static const char ascii_str[95][2] = {
    " ", "!", "\"", "#", "$", "%", "&", "'", "(", ")", "*", "+", ",", "-", ".", "/",
    "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", ":", ";", "<", "=", ">", "?",
    "@", "A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "K", "L", "M", "N", "O",
    "P", "Q", "R", "S", "T", "U", "V", "W", "X", "Y", "Z", "[", "\\", "]", "^", "_",
    "`", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o",
    "p", "q", "r", "s", "t", "u", "v", "w", "x", "y", "z", "{", "|", "}", "~",
};
/* clang-format on */

const char *smsenc_translit(uint32_t cp)
{
    /* Full-width ASCII U+FF01..U+FF5E maps to U+0021..U+007E. */
    if (cp >= 0xFF01 && cp <= 0xFF5E)
        return ascii_str[cp - 0xFF01 + 1];
    for (size_t i = 0; i < sizeof(translit_table) / sizeof(translit_table[0]); i++)
        if (translit_table[i].cp == cp)
            return translit_table[i].to;
    return NULL;
}

/* ------------------------------------------------------------ atoms */

/*
 * Encodes one code point under enc into u[]; returns the unit count (0 for
 * a dropped character), or NOT_ENCODABLE. *replaced is set when smart
 * transliteration was used.
 */
static int encode_atom(uint32_t cp, const struct smsenc_encoding *enc, bool smart,
                       uint16_t u[ATOM_MAX], bool *replaced)
{
    uint8_t s[2];
    const char *rep;
    int n = 0;

    *replaced = false;
    if (enc->alphabet == SMSENC_UCS2)
        return (int)ucs2_utf16_put(cp, u);
    int k = gsm7_encode_char(cp, enc->locking, enc->single, s);
    if (k > 0) {
        for (int i = 0; i < k; i++)
            u[i] = s[i];
        return k;
    }
    if (!smart || !(rep = smsenc_translit(cp)))
        return NOT_ENCODABLE;
    for (; *rep; rep++) {
        k = gsm7_encode_char((uint8_t)*rep, enc->locking, enc->single, s);
        if (k <= 0)
            return NOT_ENCODABLE;
        for (int i = 0; i < k; i++)
            u[n++] = s[i];
    }
    *replaced = true;
    return n;
}

struct take_stats {
    unsigned units, chars, translit;
};

/*
 * Takes atoms from s[*off..len) while they fit in cap units, appending them
 * to out (may be NULL when only counting). s must be valid UTF-8.
 */
static int take(const char *s, size_t len, size_t *off, const struct smsenc_encoding *enc,
                bool smart, unsigned cap, struct smsenc_part *out, struct take_stats *st)
{
    unsigned used = 0;

    while (*off < len) {
        size_t next = *off;
        int32_t cp = ucs2_utf8_next(s, len, &next);
        uint16_t u[ATOM_MAX];
        bool replaced;
        int n;

        if (cp < 0)
            return -EILSEQ;
        n = encode_atom((uint32_t)cp, enc, smart, u, &replaced);
        if (n < 0)
            return n;
        if (used + (unsigned)n > cap)
            break;
        if (out) {
            memcpy(&out->u[out->n], u, (size_t)n * sizeof(u[0]));
            out->n += (unsigned)n;
        }
        used += (unsigned)n;
        st->units += (unsigned)n;
        st->chars += replaced && n > 0 ? (unsigned)n : (n > 0 ? 1u : 0u);
        st->translit += replaced;
        *off = next;
    }
    return 0;
}

/* ------------------------------------------------------------ capacities */

/* Octets of UDH (with UDHL) for a part of this encoding. */
static unsigned udh_octets(const struct smsenc_encoding *enc, bool multipart, bool ref16)
{
    unsigned h = 0;

    if (multipart)
        h += ref16 ? 6 : 5;
    if (enc->alphabet == SMSENC_GSM7) {
        if (enc->single)
            h += 3;
        if (enc->locking)
            h += 3;
    }
    return h ? h + 1 : 0;
}

/* Units of text a part carries: GSM-7 text starts on the septet boundary
 * after the UDH (TS 23.040 §9.2.3.24). */
static unsigned part_capacity(const struct smsenc_encoding *enc, bool multipart, bool ref16)
{
    unsigned h = udh_octets(enc, multipart, ref16);

    if (enc->alphabet == SMSENC_GSM7)
        return 160 - (8 * h + 6) / 7;
    return (SMSENC_UD_MAX - h) / 2;
}

/* ------------------------------------------------------------ planning */

static int measure(const char *s, size_t len, const struct smsenc_encoding *enc, bool smart,
                   bool ref16, struct smsenc_plan *p)
{
    struct take_stats st = {0, 0, 0};
    size_t off = 0;
    unsigned single_cap = part_capacity(enc, false, ref16);
    unsigned multi_cap = part_capacity(enc, true, ref16);
    int rc = take(s, len, &off, enc, smart, MEASURE_CAP, NULL, &st);

    if (rc < 0)
        return rc;
    memset(p, 0, sizeof(*p));
    p->enc = *enc;
    p->units = st.units;
    p->chars = st.chars;
    p->translit = st.translit;
    p->ref16 = ref16;
    if (st.units <= single_cap) {
        p->parts = 1;
        p->per_part = single_cap;
        p->left = single_cap - st.units;
        return 0;
    }
    off = 0;
    p->per_part = multi_cap;
    while (off < len) {
        struct take_stats part = {0, 0, 0};

        rc = take(s, len, &off, enc, smart, multi_cap, NULL, &part);
        if (rc < 0)
            return rc;
        p->parts++;
        p->left = multi_cap - part.units;
    }
    return 0;
}

/* Candidates in order of preference on a tie (see smsenc.h). */
static const struct smsenc_encoding candidates[] = {
    {SMSENC_GSM7, GSM7_LANG_NONE, GSM7_LANG_NONE},
    {SMSENC_UCS2, 0, 0},
    {SMSENC_GSM7, GSM7_LANG_NONE, GSM7_LANG_SPANISH},
    {SMSENC_GSM7, GSM7_LANG_NONE, GSM7_LANG_PORTUGUESE},
    {SMSENC_GSM7, GSM7_LANG_NONE, GSM7_LANG_TURKISH},
    {SMSENC_GSM7, GSM7_LANG_PORTUGUESE, GSM7_LANG_NONE},
    {SMSENC_GSM7, GSM7_LANG_TURKISH, GSM7_LANG_NONE},
    {SMSENC_GSM7, GSM7_LANG_PORTUGUESE, GSM7_LANG_PORTUGUESE},
    {SMSENC_GSM7, GSM7_LANG_TURKISH, GSM7_LANG_TURKISH},
};

int smsenc_plan_text(const char *utf8, size_t len, const struct smsenc_opts *o,
                     struct smsenc_plan *plan, struct sg_err *err)
{
    unsigned max_parts = o->max_parts ? o->max_parts : SMSENC_MAX_PARTS_DEFAULT;
    size_t bad = ucs2_utf8_check(utf8, len);
    bool have = false;

    memset(plan, 0, sizeof(*plan));
    if (max_parts > SMSENC_MAX_PARTS_LIMIT)
        return sg_errf(err, -EINVAL, "smsenc: max parts %u above the limit of %u", max_parts,
                       SMSENC_MAX_PARTS_LIMIT);
    if (bad < len)
        return sg_errf(err, -EILSEQ, "smsenc: invalid UTF-8 at byte offset %zu", bad);
    for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
        const struct smsenc_encoding *c = &candidates[i];
        struct smsenc_plan p;

        if (o->force_ucs2 && c->alphabet != SMSENC_UCS2)
            continue;
        if (o->no_shift && (c->locking || c->single))
            continue;
        if (measure(utf8, len, c, o->smart, o->ref16, &p) < 0)
            continue;
        if (!have || p.parts < plan->parts) {
            *plan = p;
            have = true;
        }
    }
    if (!have) /* unreachable: UCS-2 encodes any valid UTF-8 */
        return sg_errf(err, -EILSEQ, "smsenc: text cannot be encoded");
    if (plan->parts > max_parts)
        return sg_errf(err, -E2BIG, "smsenc: text needs %u parts (%s), more than the cap of %u",
                       plan->parts, smsenc_name(&plan->enc), max_parts);
    return 0;
}

int smsenc_next_part(const char *utf8, size_t len, const struct smsenc_plan *plan, bool smart,
                     size_t *off, struct smsenc_part *out, struct sg_err *err)
{
    struct take_stats st = {0, 0, 0};
    int rc;

    out->n = 0;
    if (plan->per_part > SMSENC_PART_UNITS_MAX)
        return sg_errf(err, -EINVAL, "smsenc: plan capacity %u is not valid", plan->per_part);
    rc = take(utf8, len, off, &plan->enc, smart, plan->per_part, out, &st);
    if (rc == -EILSEQ)
        return sg_errf(err, rc, "smsenc: invalid UTF-8 at byte offset %zu", *off);
    if (rc < 0)
        return sg_errf(err, -EINVAL, "smsenc: character at byte offset %zu not in %s", *off,
                       smsenc_name(&plan->enc));
    return 0;
}
