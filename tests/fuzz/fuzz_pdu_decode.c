/*
 * libFuzzer target for the PDU decoder (drivers/gsm/pdu.c): untrusted bytes
 * from a modem must never read or write out of bounds.
 *
 * Input: one mode octet, then the PDU.
 *   bit 0     direction: 0 in (DELIVER, STATUS-REPORT), 1 out (SUBMIT)
 *   bit 1     1: pass a TPDU length (the PDU size minus bits 2-5 SMSC octets)
 *   bit 6     1: the PDU is hex text (pdu_decode_hex) instead of bytes
 * A decoded message must hold NUL-terminated, valid UTF-8 text and a number
 * that fits its buffer; anything else aborts.
 * Seeds: tests/fuzz/seeds/pdu_decode/ (the REFERENCE §5 vectors).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/gsm/pdu.h"
#include "drivers/gsm/ucs2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct pdu_decoded *d)
{
    char iso[32];

    if (d->text_len >= sizeof(d->text) || d->text[d->text_len] != '\0')
        abort();
    if (ucs2_utf8_check(d->text, d->text_len) != d->text_len)
        abort();
    if (strnlen(d->number, sizeof(d->number)) >= sizeof(d->number))
        abort();
    if (ucs2_utf8_check(d->number, strlen(d->number)) != strlen(d->number))
        abort();
    if (strnlen(d->smsc, sizeof(d->smsc)) >= sizeof(d->smsc))
        abort();
    if (d->data_len > sizeof(d->data) || d->udh_len > sizeof(d->udh_raw))
        abort();
    (void)pdu_time_iso8601(&d->scts, iso, sizeof(iso));
    (void)pdu_time_iso8601(&d->dt, iso, sizeof(iso));
    (void)pdu_time_utc_ms(&d->scts);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct pdu_decoded d;
    struct sg_err err;
    enum pdu_direction dir;
    int tpdu_len = -1;
    int rc;

    if (size < 1)
        return 0;
    dir = (data[0] & 1) ? PDU_DIR_OUT : PDU_DIR_IN;
    data++;
    size--;
    if (data[-1] & 2) {
        size_t smsc = (data[-1] >> 2) & 0x0F;
        tpdu_len = size >= smsc ? (int)(size - smsc) : 0;
    }
    if (data[-1] & 0x40) {
        /* Copy so that reading past the end is caught even for text. */
        char *hex = malloc(size ? size : 1);
        if (!hex)
            return 0;
        memcpy(hex, data, size);
        rc = pdu_decode_hex(hex, size, dir, tpdu_len / 2, &d, &err);
        free(hex);
    } else {
        rc = pdu_decode(data, size, dir, tpdu_len, &d, &err);
    }
    if (rc == 0)
        check(&d);
    else if (err.code != rc || strnlen(err.msg, sizeof(err.msg)) >= sizeof(err.msg))
        abort();
    return 0;
}
