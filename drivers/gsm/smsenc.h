/*
 * smsenc: choose how a UTF-8 text is encoded as SMS user data, and cut it
 * into parts.
 *
 * Choice: the fewest parts wins among GSM-7, GSM-7 with a national language
 * shift table (Spanish, Portuguese, Turkish), and UCS-2. On a tie the order
 * of preference is GSM-7 default, then UCS-2, then GSM-7 with shift tables:
 * every handset renders UCS-2, while national language tables are not
 * universally supported, so they are used only when they save a part.
 *
 * Segmentation: a multipart message carries a concatenation IE (8-bit
 * reference by default, 16-bit on request) and, with shift tables, the 0x24
 * / 0x25 IEs in every part. An escape sequence (ESC + char) and a UTF-16
 * surrogate pair are never split across parts.
 *
 * Smart encoding (opt-in) transliterates typographic characters so that a
 * text can stay GSM-7; see smsenc_translit for the exact list.
 *
 * Memory: everything is on the caller's side and fixed size; a text may
 * need at most max_parts parts (default SMSENC_MAX_PARTS_DEFAULT, at most
 * SMSENC_MAX_PARTS_LIMIT); past that the functions fail with -E2BIG and
 * say how many parts it would take.
 */
#ifndef SG_SMSENC_H
#define SG_SMSENC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/base/sg_err.h"

#define SMSENC_MAX_PARTS_DEFAULT 10u
#define SMSENC_MAX_PARTS_LIMIT   255u
#define SMSENC_UD_MAX            140u /* octets of user data in one SMS */
#define SMSENC_PART_UNITS_MAX    160u /* septets (GSM-7) or UTF-16 units (UCS-2) */

enum smsenc_alphabet {
    SMSENC_GSM7 = 0,
    SMSENC_8BIT = 1, /* decode side only: simgate never encodes text as 8-bit */
    SMSENC_UCS2 = 2,
};

struct smsenc_encoding {
    enum smsenc_alphabet alphabet;
    uint8_t locking; /* enum gsm7_lang; GSM-7 only */
    uint8_t single;  /* enum gsm7_lang; GSM-7 only */
};

/*
 * "gsm7", "gsm7-tr", "gsm7-es", "gsm7-pt" (any shift table of that language),
 * "8bit" or "ucs2". Static string, never NULL.
 */
const char *smsenc_name(const struct smsenc_encoding *e);

struct smsenc_opts {
    unsigned max_parts; /* 0 = SMSENC_MAX_PARTS_DEFAULT; > SMSENC_MAX_PARTS_LIMIT is -EINVAL */
    bool ref16;         /* 16-bit concatenation reference (IEI 0x08) */
    bool force_ucs2;    /* always UCS-2 */
    bool no_shift;      /* never use national language shift tables */
    bool smart;         /* transliterate typographic characters (smsenc_translit) */
};

struct smsenc_plan {
    struct smsenc_encoding enc;
    unsigned parts;    /* >= 1 (an empty text is one empty part) */
    unsigned units;    /* septets (escapes count 2) or UTF-16 units of the whole text */
    unsigned chars;    /* code points after transliteration */
    unsigned per_part; /* units a part can carry with this encoding and part count */
    unsigned left;     /* units still free in the last part */
    unsigned translit; /* characters replaced by smart encoding */
    bool ref16;        /* copied from the options */
};

/* One part's payload: septets (one per byte, ESC included) or UTF-16 units. */
struct smsenc_part {
    unsigned n;
    uint16_t u[SMSENC_PART_UNITS_MAX];
};

/*
 * Plans the encoding of utf8[0..len). Errors: -EILSEQ for invalid UTF-8
 * (the message names the byte offset), -E2BIG past max_parts (plan->parts
 * still says how many it would take), -EINVAL for bad options.
 */
int smsenc_plan_text(const char *utf8, size_t len, const struct smsenc_opts *o,
                     struct smsenc_plan *plan, struct sg_err *err);

/*
 * Cuts the next part of utf8[*off..len) according to plan (from
 * smsenc_plan_text with the same text and options) and advances *off.
 * Call plan->parts times from *off = 0.
 */
int smsenc_next_part(const char *utf8, size_t len, const struct smsenc_plan *plan, bool smart,
                     size_t *off, struct smsenc_part *out, struct sg_err *err);

/*
 * Smart encoding: the ASCII replacement for cp ("" = drop the character),
 * or NULL when cp is not transliterated. Covered: curly single and double
 * quotes, low-9 quotes and primes (become ' or "), guillemets (become < > or
 * << >>), hyphens, dashes and minus signs (become -), the ellipsis (becomes
 * "..."), no-break and other Unicode spaces (become a space), zero-width
 * characters, soft hyphen and the BOM (dropped), bullets (become *), the
 * fraction slash, the trade mark, copyright and registered signs, a few
 * ligatures and full-width ASCII. The table is in smsenc.c. Only characters
 * that are not in the chosen GSM-7 table are ever replaced.
 */
const char *smsenc_translit(uint32_t cp);

#endif
