#include "drivers/gsm/ucs2.h"

/*
 * UTF-8 (RFC 3629 §4):
 *   00..7F
 *   C2..DF 80..BF
 *   E0 A0..BF 80..BF | E1..EC 80..BF 80..BF | ED 80..9F 80..BF | EE..EF 80..BF 80..BF
 *   F0 90..BF 80..BF 80..BF | F1..F3 80..BF x3 | F4 80..8F 80..BF 80..BF
 * e.g. "€" = E2 82 AC, "😀" = F0 9F 98 80.
 */
int32_t ucs2_utf8_next(const char *s, size_t len, size_t *off)
{
    const unsigned char *p = (const unsigned char *)s + *off;
    size_t left = len - *off;
    unsigned char lo = 0x80, hi = 0xBF;
    uint32_t cp;
    size_t need;

    if (*off >= len)
        return -1;
    if (p[0] < 0x80) {
        (*off)++;
        return p[0];
    }
    if (p[0] >= 0xC2 && p[0] <= 0xDF) {
        need = 1;
        cp = p[0] & 0x1F;
    } else if (p[0] >= 0xE0 && p[0] <= 0xEF) {
        need = 2;
        cp = p[0] & 0x0F;
        if (p[0] == 0xE0)
            lo = 0xA0;
        else if (p[0] == 0xED)
            hi = 0x9F;
    } else if (p[0] >= 0xF0 && p[0] <= 0xF4) {
        need = 3;
        cp = p[0] & 0x07;
        if (p[0] == 0xF0)
            lo = 0x90;
        else if (p[0] == 0xF4)
            hi = 0x8F;
    } else {
        return -1;
    }
    if (left < need + 1)
        return -1;
    for (size_t i = 1; i <= need; i++) {
        if (p[i] < lo || p[i] > hi)
            return -1;
        lo = 0x80;
        hi = 0xBF;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    *off += need + 1;
    return (int32_t)cp;
}

size_t ucs2_utf8_check(const char *s, size_t len)
{
    size_t off = 0;

    while (off < len)
        if (ucs2_utf8_next(s, len, &off) < 0)
            return off;
    return len;
}

size_t ucs2_utf8_put(uint32_t cp, char out[4])
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

unsigned ucs2_utf16_len(uint32_t cp)
{
    return cp >= 0x10000 ? 2 : 1;
}

unsigned ucs2_utf16_put(uint32_t cp, uint16_t out[2])
{
    if (cp < 0x10000) {
        out[0] = (uint16_t)cp;
        return 1;
    }
    cp -= 0x10000;
    out[0] = (uint16_t)(0xD800 | (cp >> 10));
    out[1] = (uint16_t)(0xDC00 | (cp & 0x3FF));
    return 2;
}

long ucs2_utf16be_to_utf8(const uint8_t *in, size_t n, char *out, size_t cap)
{
    size_t w = 0;

    for (size_t i = 0; i < n; i++) {
        uint32_t u = ((uint32_t)in[2 * i] << 8) | in[2 * i + 1];
        char tmp[4];
        size_t k;

        if (u >= 0xD800 && u <= 0xDBFF && i + 1 < n) {
            uint32_t v = ((uint32_t)in[2 * i + 2] << 8) | in[2 * i + 3];

            if (v >= 0xDC00 && v <= 0xDFFF) {
                u = 0x10000 + ((u - 0xD800) << 10) + (v - 0xDC00);
                i++;
            } else {
                u = 0xFFFD;
            }
        } else if (u >= 0xD800 && u <= 0xDFFF) {
            u = 0xFFFD;
        }
        k = ucs2_utf8_put(u, tmp);
        if (w + k > cap)
            return -1;
        for (size_t j = 0; j < k; j++)
            out[w++] = tmp[j];
    }
    return (long)w;
}
