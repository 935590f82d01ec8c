/*
 * ucs2: UTF-8 <-> code points <-> UTF-16 ("UCS-2" as handsets really use
 * it: an emoji is a surrogate pair).
 *
 * UTF-8 input is validated strictly (RFC 3629): no overlong forms, no
 * surrogates (U+D800..U+DFFF), nothing above U+10FFFF, no truncated
 * sequences. Decoding of untrusted UTF-16 never fails: a lone surrogate
 * becomes U+FFFD.
 */
#ifndef SG_UCS2_H
#define SG_UCS2_H

#include <stddef.h>
#include <stdint.h>

/*
 * Decodes the code point at s[*off] (s holds len bytes) and advances *off.
 * Returns the code point, or -1 for invalid UTF-8 (then *off is unchanged
 * and points at the offending byte).
 */
int32_t ucs2_utf8_next(const char *s, size_t len, size_t *off);

/* Offset of the first invalid byte of s, or len when s is valid UTF-8. */
size_t ucs2_utf8_check(const char *s, size_t len);

/* Writes cp (<= U+10FFFF, not a surrogate) as UTF-8; returns 1..4 bytes. */
size_t ucs2_utf8_put(uint32_t cp, char out[4]);

/* Writes cp as 1 or 2 UTF-16 units; returns how many. */
unsigned ucs2_utf16_put(uint32_t cp, uint16_t out[2]);

/* Number of UTF-16 units cp needs (1 or 2). */
unsigned ucs2_utf16_len(uint32_t cp);

/*
 * Decodes n big-endian UTF-16 units from in (2n bytes) as UTF-8 into
 * out[0..cap). Returns bytes written (no NUL added), or -1 if cap is too
 * small (out then holds a prefix). cap >= 3n is always enough.
 */
long ucs2_utf16be_to_utf8(const uint8_t *in, size_t n, char *out, size_t cap);

#endif
