#include "firmware/msisdn.h"

#include <errno.h>
#include <string.h>

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_separator(char c)
{
    return c == ' ' || c == '-' || c == '.';
}

/* Checks default_cc: NULL/"" = none (returns 0 and sets *len 0). */
static int cc_check(const char *cc, size_t *len, struct sg_err *err)
{
    *len = 0;
    if (!cc || !cc[0])
        return 0;
    size_t n = strnlen(cc, MSISDN_CC_MAX + 1);
    if (n > MSISDN_CC_MAX || cc[0] == '0')
        return sg_errf(err, -EINVAL, "msisdn: default country code must be 1-3 digits, not starting with 0");
    for (size_t i = 0; i < n; i++)
        if (!is_digit(cc[i]))
            return sg_errf(err, -EINVAL, "msisdn: default country code must be digits only");
    *len = n;
    return 0;
}

/* Explains a bad character without echoing it raw (it may be CR or NUL). */
static int bad_char(struct sg_err *err, char c, size_t pos)
{
    unsigned char u = (unsigned char)c;
    if (u == '\r' || u == '\n')
        return sg_errf(err, -EINVAL, "msisdn: line break at offset %zu", pos);
    if (u == 0)
        return sg_errf(err, -EINVAL, "msisdn: NUL byte at offset %zu", pos);
    if (u == '"' || u == '\'')
        return sg_errf(err, -EINVAL, "msisdn: quote at offset %zu", pos);
    if ((u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z'))
        return sg_errf(err, -EINVAL, "msisdn: letter at offset %zu (only digits allowed)", pos);
    if (u == '+')
        return sg_errf(err, -EINVAL, "msisdn: '+' allowed only as the first character");
    if (u < 0x20 || u >= 0x7f)
        return sg_errf(err, -EINVAL, "msisdn: control or non-ASCII byte 0x%02x at offset %zu", u, pos);
    return sg_errf(err, -EINVAL, "msisdn: unexpected character '%c' at offset %zu", c, pos);
}

int msisdn_normalise_n(const char *in, size_t len, const char *default_cc, char out[MSISDN_BUF],
                       struct sg_err *err)
{
    size_t cclen;
    out[0] = '\0';
    if (cc_check(default_cc, &cclen, err) < 0)
        return -EINVAL;
    if (!in || len == 0)
        return sg_errf(err, -EINVAL, "msisdn: empty number");
    if (len > MSISDN_MAX_INPUT)
        return sg_errf(err, -EINVAL, "msisdn: input longer than %d characters", MSISDN_MAX_INPUT);

    /* Collect digits; separators only between digits (not leading/trailing). */
    char dig[MSISDN_MAX_INPUT + 1];
    size_t nd = 0;
    bool plus = false;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (is_digit(c)) {
            dig[nd++] = c;
        } else if (c == '+' && i == 0) {
            plus = true;
        } else if (is_separator(c) && nd > 0 && i + 1 < len) {
            continue;
        } else {
            return bad_char(err, c, i);
        }
    }
    dig[nd] = '\0';
    if (nd == 0)
        return sg_errf(err, -EINVAL, "msisdn: no digits");

    /* Decide which digits are the full international number. */
    const char *intl;
    char buf[MSISDN_MAX_INPUT + MSISDN_CC_MAX + 1];
    if (plus) {
        intl = dig;
    } else if (nd >= 2 && dig[0] == '0' && dig[1] == '0') {
        intl = dig + 2;
    } else if (dig[0] == '0') {
        if (!cclen)
            return sg_errf(err, -EINVAL, "msisdn: national number (leading 0) but no default country code configured");
        memcpy(buf, default_cc, cclen);
        memcpy(buf + cclen, dig + 1, nd);   /* includes the NUL */
        intl = buf;
    } else if (cclen && strncmp(dig, default_cc, cclen) != 0) {
        memcpy(buf, default_cc, cclen);
        memcpy(buf + cclen, dig, nd + 1);
        intl = buf;
    } else {
        intl = dig;
    }

    size_t n = strlen(intl);
    if (n == 0)
        return sg_errf(err, -EINVAL, "msisdn: no digits after the international prefix");
    if (intl[0] == '0')
        return sg_errf(err, -EINVAL, "msisdn: country code cannot start with 0");
    if (n < MSISDN_MIN_DIGITS)
        return sg_errf(err, -EINVAL, "msisdn: too short (%zu digits, E.164 needs at least %d)", n, MSISDN_MIN_DIGITS);
    if (n > MSISDN_MAX_DIGITS)
        return sg_errf(err, -EINVAL, "msisdn: too long (%zu digits, E.164 allows %d)", n, MSISDN_MAX_DIGITS);
    out[0] = '+';
    memcpy(out + 1, intl, n + 1);
    return 0;
}

int msisdn_normalise(const char *in, const char *default_cc, char out[MSISDN_BUF], struct sg_err *err)
{
    if (!in) {
        out[0] = '\0';
        return sg_errf(err, -EINVAL, "msisdn: empty number");
    }
    /* strnlen caps the scan so a huge string is rejected without reading it all. */
    return msisdn_normalise_n(in, strnlen(in, MSISDN_MAX_INPUT + 1), default_cc, out, err);
}

const char *msisdn_mask(const char *in, char out[MSISDN_MASK_BUF])
{
    if (!in) {
        memcpy(out, "(null)", sizeof("(null)"));
        return out;
    }
    /* Show at most 3 head + 16 stars + 2 tail characters of anything. */
    size_t n = strnlen(in, 4096);
    size_t o = 0;
    size_t head = n >= 7 ? 3 : 0;
    size_t tail = n >= 7 ? 2 : (n > 0 ? 1 : 0);
    for (size_t i = 0; i < head; i++) {
        char c = in[i];
        out[o++] = (is_digit(c) || c == '+') ? c : '?';
    }
    size_t stars = n - head - tail;
    if (stars > MSISDN_MASK_BUF - 1 - 5)
        stars = MSISDN_MASK_BUF - 1 - 5;
    for (size_t i = 0; i < stars; i++)
        out[o++] = '*';
    for (size_t i = n - tail; i < n; i++) {
        char c = in[i];
        out[o++] = (is_digit(c) || c == '+') ? c : '?';
    }
    out[o] = '\0';
    return out;
}

/* Digits of s after an optional '+' or "00"; NULL if anything else is in it. */
static const char *digits_of(const char *s, size_t *n)
{
    if (!s)
        return NULL;
    if (s[0] == '+')
        s++;
    else if (s[0] == '0' && s[1] == '0')
        s += 2;
    size_t len = strnlen(s, MSISDN_MAX_INPUT + 1);
    if (len == 0 || len > MSISDN_MAX_INPUT)
        return NULL;
    for (size_t i = 0; i < len; i++)
        if (!is_digit(s[i]))
            return NULL;
    *n = len;
    return s;
}

bool msisdn_same(const char *stored, const char *reported, int toa, const char *default_cc)
{
    size_t sn, rn, cclen;
    const char *sd = digits_of(stored, &sn);
    const char *rd = digits_of(reported, &rn);
    if (!sd || !rd || cc_check(default_cc, &cclen, NULL) < 0)
        return false;
    if (sn == rn && memcmp(sd, rd, sn) == 0)
        return true;
    /* Type of number in bits 6..4: 001 = international. */
    if (toa >= 0 && ((toa >> 4) & 0x7) == 0x1)
        return false;
    /* National form: drop the trunk prefix (one or more 0s, in practice one). */
    if (reported[0] != '+' && !(reported[0] == '0' && reported[1] == '0'))
        while (rn > 0 && rd[0] == '0') {
            rd++;
            rn--;
        }
    if (rn == 0 || rn >= sn)
        return false;
    if (cclen)
        return sn == cclen + rn && memcmp(sd, default_cc, cclen) == 0 && memcmp(sd + cclen, rd, rn) == 0;
    return rn >= MSISDN_MIN_DIGITS && memcmp(sd + (sn - rn), rd, rn) == 0;
}
