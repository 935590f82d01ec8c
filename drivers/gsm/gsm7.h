/*
 * gsm7: the GSM 03.38 / TS 23.038 7-bit alphabet.
 *
 * The default alphabet and its extension table, plus the national language
 * shift tables simgate supports: Turkish (locking + single), Spanish (single
 * only) and Portuguese (locking + single). A character is looked up in the
 * active locking table (the default one when none is locked); if absent, in
 * the active single-shift table (the default extension table when none),
 * where it costs two septets: ESC (0x1B) and its code.
 *
 * Septets are stored one per byte (values 0..127). Packing into octets is
 * gsm7_pack/gsm7_unpack; fill bits let text start on a septet boundary after
 * a user data header (TS 23.040 §9.2.3.24).
 */
#ifndef SG_GSM7_H
#define SG_GSM7_H

#include <stddef.h>
#include <stdint.h>

/* Language identifiers as coded in the UDH IEs 0x24/0x25 (TS 23.038 §6.2.1). */
enum gsm7_lang {
    GSM7_LANG_NONE = 0, /* the default alphabet / default extension table */
    GSM7_LANG_TURKISH = 1,
    GSM7_LANG_SPANISH = 2, /* single shift only: no locking table exists */
    GSM7_LANG_PORTUGUESE = 3,
};

#define GSM7_ESC 0x1B

/* True when lang has a locking shift table (Turkish, Portuguese) or is NONE. */
int gsm7_has_locking(int lang);
/* True when lang has a single shift table (all three) or is NONE. */
int gsm7_has_single(int lang);

/*
 * Looks up code point cp with locking table `locking` and single shift table
 * `single` active. Writes 1 septet (out[0]) or 2 (ESC, code) and returns how
 * many; returns 0 when the character is not representable.
 */
int gsm7_encode_char(uint32_t cp, int locking, int single, uint8_t out[2]);

/*
 * Code point for septet s (0..127) in the locking table; for ESC the caller
 * must instead call gsm7_decode_ext with the following septet.
 */
uint32_t gsm7_decode_char(uint8_t s, int locking);

/*
 * Code point for ESC + s in the single shift table. Codes the table leaves
 * undefined decode as the locking table's character for s, as TS 23.038
 * §6.2.1.1 asks ("display the character from the main table").
 */
uint32_t gsm7_decode_ext(uint8_t s, int single, int locking);

/*
 * Packs n septets into octets starting `fill` bits (0..6) into out[0]; the
 * fill bits are zero. Returns the octets written: (fill + 7n + 7) / 8.
 * out must hold that many bytes.
 */
size_t gsm7_pack(const uint8_t *septets, size_t n, unsigned fill, uint8_t *out);

/*
 * Unpacks n septets from in (inlen octets) skipping `fill` leading bits
 * (any count: the decoder passes the UDH length in septets times 7).
 * Returns 0, or -1 when in is too short for n septets (nothing is read out
 * of bounds either way).
 */
int gsm7_unpack(const uint8_t *in, size_t inlen, unsigned fill, size_t n, uint8_t *septets);

#endif
