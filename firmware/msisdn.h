/*
 * msisdn: phone numbers as simgate stores, logs and compares them.
 *
 * Every destination is stored in E.164 form: '+', country code, national
 * significant number, 7..15 digits in all ("+33612345678"). Input comes
 * from the API and is untrusted; normalising it is the only way a number
 * reaches the store, and from there (encoded by the PDU codec, never pasted)
 * the modem.
 *
 * Pure functions: no I/O, no globals, no allocation. All buffers are the
 * caller's.
 */
#ifndef SG_MSISDN_H
#define SG_MSISDN_H

#include <stdbool.h>
#include <stddef.h>

#include "drivers/base/sg_err.h"

#define MSISDN_MAX_DIGITS 15   /* ITU-T E.164 §6: at most 15 digits incl. country code */
#define MSISDN_MIN_DIGITS 7    /* shortest real E.164 numbers (e.g. Niue +683 xxxx) */
#define MSISDN_MAX_INPUT 32    /* raw input longer than this is rejected unread */
#define MSISDN_BUF (MSISDN_MAX_DIGITS + 2)   /* '+' + digits + NUL */
#define MSISDN_MASK_BUF 24     /* masked form of anything, NUL included */
#define MSISDN_CC_MAX 3        /* country codes are 1..3 digits */

/*
 * Normalises a destination to E.164 in out (MSISDN_BUF bytes).
 *
 * Accepted forms (spaces, '-' and '.' between digits are ignored):
 *   "+33612345678"   international
 *   "0033612345678"  ITU international prefix 00
 *   "0612345678"     national with trunk prefix 0, needs default_cc ("33")
 *   "33612345678"    bare digits starting with default_cc: international
 *                    without its '+' (the MSISDN convention)
 *   "612345678"      other bare digits: national without trunk prefix,
 *                    default_cc is prepended (Italy, Spain have no trunk 0)
 * Without a default_cc (NULL or ""), only international forms and bare
 * digits (read as international) are accepted.
 * Known ambiguity: a national number without trunk prefix that happens to
 * begin with the country code's digits (France "33…" landlines written
 * without their 0) is read as international. Backends should send E.164.
 *
 * default_cc: 1..3 digits, no '+'. Rejects (with a reason in err): NULL or
 * empty input, letters, control characters (CR, LF, NUL inside the given
 * length), quotes, a misplaced '+', too few or too many digits, a country
 * code starting with 0.
 * Returns 0 or -EINVAL.
 */
int msisdn_normalise(const char *in, const char *default_cc, char out[MSISDN_BUF],
                     struct sg_err *err);

/* Same, for input that is not NUL-terminated (len bytes; an embedded NUL
 * is an error, as from a JSON string with \u0000). */
int msisdn_normalise_n(const char *in, size_t len, const char *default_cc,
                       char out[MSISDN_BUF], struct sg_err *err);

/*
 * Masks a number for logs: the first three and last two characters stay,
 * the rest become '*' ("+33612345678" -> "+33*******78"). Works on any
 * string, also one that failed validation: characters other than digits
 * and '+' become '?', and very long input is shortened, so the result is
 * always safe to put in a key=value log line. Short input (< 7 chars) keeps
 * only its last character. Returns out.
 */
const char *msisdn_mask(const char *in, char out[MSISDN_MASK_BUF]);

/* Type-of-address values as they appear in a status report (TS 23.040
 * §9.1.2.5); pass MSISDN_TOA_UNKNOWN when the decoder did not give one. */
#define MSISDN_TOA_UNKNOWN (-1)
#define MSISDN_TOA_INTERNATIONAL 0x91

/*
 * Is `reported` (a recipient address as an SMSC returned it in a status
 * report) the same subscriber as `stored` (E.164, from msisdn_normalise)?
 *
 * SMSCs return the recipient in whatever form they like: "+33612345678",
 * "33612345678" with TOA 0x91, "0612345678" or "612345678" with TOA
 * unknown/national (operators that strip +33). Rules:
 *   - same digits (ignoring '+', "00") -> same;
 *   - if toa says international (type-of-number 001) nothing else matches;
 *   - otherwise the reported digits without trunk/international prefix
 *     must equal stored's digits minus default_cc; without a default_cc,
 *     they must be a suffix of stored's digits of at least 7 digits.
 * Bad input (empty, non-digits) never matches.
 */
bool msisdn_same(const char *stored, const char *reported, int toa, const char *default_cc);

#endif
