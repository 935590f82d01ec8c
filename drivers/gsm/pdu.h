/*
 * pdu: SMS PDUs in the AT+CMGF=0 form (TS 23.040, TS 27.005).
 *
 * A "PDU" here is what an AT command carries: the SMSC field (a length octet,
 * `00` when absent) followed by the TPDU. Encoders produce upper-case hex
 * plus the TPDU length, i.e. exactly `AT+CMGS=<tpdu_len>` and the line after
 * the prompt. Decoders take hex or bytes from an untrusted modem and never
 * read or write out of bounds; every failure is a negative code plus a
 * message in the caller's struct sg_err:
 *   -EINVAL   malformed (odd hex, non-hex character, truncated, UDL beyond
 *             the data, UDHL larger than UDL, bad address, unknown MTI...)
 *   -EILSEQ   invalid UTF-8 in a text to encode (message has the byte offset)
 *   -E2BIG    the text needs more parts than allowed / the caller's array
 *   -ERANGE   a number with more than 20 digits, an alphanumeric sender
 *             longer than 11 septets
 *   -EINVAL   also: max_parts above SMSENC_MAX_PARTS_LIMIT, a bad number
 *
 * Every struct here is fixed size and caller-allocated; nothing is heap
 * allocated and no pointer handed out points into the caller's input.
 * Pure functions: no I/O, no clock, no globals.
 *
 *   encode (firmware, simgate):   pdu_encode_submit, pdu_count
 *   encode (modemsim):            pdu_encode_deliver, pdu_encode_status_report
 *   decode (everyone):            pdu_decode_hex, pdu_decode
 */
#ifndef SG_PDU_H
#define SG_PDU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/base/sg_err.h"
#include "drivers/gsm/gsm7.h"
#include "drivers/gsm/smsenc.h"

#define PDU_NUMBER_DIGITS_MAX 20  /* address value: 20 semi-octets (TS 23.040 §9.1.2.5) */
#define PDU_ADDR_MAX          48  /* "+" + 20 digits, or 11 GSM-7 chars as UTF-8, + NUL */
#define PDU_SMSC_OCTETS_MAX   12  /* length octet + TOA + 10 digit octets */
#define PDU_TPDU_MAX          176 /* largest TPDU (STATUS-REPORT with 140 octets of UD) */
#define PDU_OCTETS_MAX        (PDU_SMSC_OCTETS_MAX + PDU_TPDU_MAX)
#define PDU_HEX_MAX           (2 * PDU_OCTETS_MAX + 1)
#define PDU_TEXT_MAX          704 /* one part's text as UTF-8: 160 septets x 4 bytes + slack */

/* TOA (type of address) values simgate produces. */
#define PDU_TOA_INTERNATIONAL 0x91
#define PDU_TOA_UNKNOWN       0x81
#define PDU_TOA_NATIONAL      0xA1
#define PDU_TOA_ALPHANUMERIC  0xD0

enum pdu_type {
    PDU_DELIVER = 0,       /* MTI 00, network -> phone */
    PDU_SUBMIT = 1,        /* MTI 01, phone -> network */
    PDU_STATUS_REPORT = 2, /* MTI 10, network -> phone */
};

/* MTI alone is ambiguous: the same bits mean different types per direction. */
enum pdu_direction {
    PDU_DIR_IN = 0,  /* received from the modem (+CMT, +CMGR, +CDS): DELIVER, STATUS-REPORT */
    PDU_DIR_OUT = 1, /* sent to the modem (AT+CMGS, AT+CMGW): SUBMIT */
};

/* TP-ST (TS 23.040 §9.2.3.15), classified for the message lifecycle. */
enum pdu_st_class {
    PDU_ST_DELIVERED = 0, /* 0x00-0x1F: transaction completed (delivered / replaced) */
    PDU_ST_TEMPORARY = 1, /* 0x20-0x3F: temporary error, SMSC still trying (not final) */
    PDU_ST_PERMANENT = 2, /* 0x40-0x5F (and reserved 0x80-0xFF): permanent error, final */
    PDU_ST_STOPPED = 3,   /* 0x60-0x7F: temporary error, SMSC stopped trying: final, undelivered */
};
enum pdu_st_class pdu_st_classify(uint8_t st);
/* "delivered", "temporary", "permanent", "stopped". */
const char *pdu_st_class_name(enum pdu_st_class c);
/* True for every class but PDU_ST_TEMPORARY. */
bool pdu_st_is_final(enum pdu_st_class c);

/*
 * A service-centre timestamp, as coded: local time of the SMSC plus its
 * offset from UTC in quarter hours. Years are 2000 + yy.
 */
struct pdu_time {
    uint8_t year;       /* 0..99 */
    uint8_t month, day; /* 1..12, 1..31 */
    uint8_t hour, minute, second;
    int8_t tz_quarters; /* -79..79 */
};
/* "2008-08-13T12:07:22+01:00" into buf (>= 26 bytes). Returns chars written or -ERANGE. */
int pdu_time_iso8601(const struct pdu_time *t, char *buf, size_t n);
/* Milliseconds since the epoch (UTC) for t. */
int64_t pdu_time_utc_ms(const struct pdu_time *t);
/* The pdu_time of utc_ms shown in a zone tz_quarters east of UTC. */
void pdu_time_from_utc_ms(int64_t utc_ms, int tz_quarters, struct pdu_time *t);

/* Concatenation and shift-table facts from the UDH. A concat IE with total
 * or seq 0, or seq > total, is ignored (TS 23.040 §9.2.3.24.1), so when
 * concat is true 1 <= seq <= total holds. */
struct pdu_udh {
    bool concat; /* a valid IEI 0x00 or 0x08 is present */
    bool ref16;  /* the reference was 16-bit (IEI 0x08) */
    uint16_t ref;
    uint8_t total, seq;    /* seq 1..total */
    uint8_t single_shift;  /* enum gsm7_lang from IEI 0x24, 0 when absent */
    uint8_t locking_shift; /* enum gsm7_lang from IEI 0x25, 0 when absent */
};

/* One encoded PDU ready for AT+CMGS=<tpdu_len>. */
struct pdu_part {
    unsigned tpdu_len;     /* octets after the SMSC field */
    char hex[PDU_HEX_MAX]; /* SMSC field + TPDU, upper-case hex, NUL-terminated */
};

/* ------------------------------------------------------------ SUBMIT */

struct pdu_submit_opts {
    const char *smsc; /* NULL or "" = no SMSC field ("00", modem uses +CSCA) */
    bool srr;         /* request a status report (TP-SRR) */
    bool flash;       /* class 0 */
    /* < 0: no TP-VP; else a relative VP, rounded up to the next coded value (max 63 weeks) */
    int validity_min;
    uint8_t pid;             /* TP-PID, normally 0 */
    uint8_t mr;              /* TP-MR; the modem replaces it, 0 is customary */
    uint16_t ref;            /* concatenation reference for multipart (8-bit uses the low byte) */
    struct smsenc_opts text; /* encoding choice and part cap */
};

/*
 * Encodes utf8[0..len) for destination `to` into SUBMIT PDUs, one per part,
 * into parts[0..cap). `to`: "+" then 1..20 digits (TOA 0x91), or 1..20 digits
 * (national, TOA 0x81); nothing else. Returns the number of parts (>= 1) and
 * fills *plan (may be NULL) with the encoding chosen; -E2BIG when the text
 * needs more than o->text.max_parts or cap parts.
 */
int pdu_encode_submit(const char *to, const char *utf8, size_t len, const struct pdu_submit_opts *o,
                      struct pdu_part *parts, size_t cap, struct smsenc_plan *plan,
                      struct sg_err *err);

/* Encoding, parts and units left, without producing PDUs (`simgate pdu count`). */
int pdu_count(const char *utf8, size_t len, const struct smsenc_opts *o, struct smsenc_plan *plan,
              struct sg_err *err);

/* ------------------------------------------------ DELIVER, STATUS-REPORT (simulator) */

struct pdu_deliver_opts {
    const char *smsc; /* NULL or "" = empty SMSC field "00" */
    /* "+digits" (TOA 0x91), "digits" (0x81), or up to 11 GSM-7 characters (0xD0) */
    const char *originator;
    struct pdu_time scts;
    uint8_t pid;
    bool flash;
    bool sri;     /* status report indication */
    bool more;    /* TP-MMS clear: "more messages to send" */
    uint16_t ref; /* concatenation reference when the text takes several parts */
    struct smsenc_opts text;
};

/*
 * Encodes utf8 as SMS-DELIVER PDUs, split like a SUBMIT (concat UDH on every
 * part when more than one). Returns the number of parts written.
 */
int pdu_encode_deliver(const char *utf8, size_t len, const struct pdu_deliver_opts *o,
                       struct pdu_part *parts, size_t cap, struct smsenc_plan *plan,
                       struct sg_err *err);

struct pdu_status_report_opts {
    const char *smsc;      /* NULL or "" = "00" */
    uint8_t mr;            /* the MR the SUBMIT got in +CMGS */
    const char *recipient; /* "+digits" or "digits" */
    struct pdu_time scts;  /* when the SMSC received the SUBMIT */
    struct pdu_time dt;    /* discharge time */
    uint8_t st;            /* TP-ST */
};
int pdu_encode_status_report(const struct pdu_status_report_opts *o, struct pdu_part *out,
                             struct sg_err *err);

/* ------------------------------------------------------------ decode */

struct pdu_decoded {
    enum pdu_type type;
    uint8_t fo;              /* first octet */
    bool smsc_field;         /* the PDU started with an SMSC field (even "00") */
    char smsc[PDU_ADDR_MAX]; /* "+digits" / "digits", "" when absent or empty */
    uint8_t smsc_toa;

    /* OA (DELIVER), DA (SUBMIT), RA (STATUS-REPORT): "+digits", digits or UTF-8 alphanumeric */
    char number[PDU_ADDR_MAX];
    uint8_t toa;

    uint8_t mr; /* SUBMIT, STATUS-REPORT */
    uint8_t pid, dcs;
    bool has_dcs;               /* false for a STATUS-REPORT without TP-DCS */
    struct smsenc_encoding enc; /* alphabet from DCS, shift languages from the UDH */
    int msg_class;              /* -1 none, else 0..3 */
    bool srr; /* SUBMIT: status report requested; DELIVER: SRI; STATUS-REPORT: SRQ */
    bool udhi;

    int vp_min; /* SUBMIT with relative VP: minutes; -1 absent; -2 absolute/enhanced (not decoded)
                 */
    bool has_scts;
    struct pdu_time scts; /* DELIVER, STATUS-REPORT */
    struct pdu_time dt;   /* STATUS-REPORT discharge time */
    uint8_t st;           /* STATUS-REPORT TP-ST */
    enum pdu_st_class st_class;

    struct pdu_udh udh;
    uint8_t udh_raw[SMSENC_UD_MAX];
    size_t udh_len; /* UDH bytes including UDHL; 0 without UDHI */

    /* User data after the UDH. GSM-7 and UCS-2 become UTF-8 text (UCS-2
     * lone surrogates become U+FFFD; U+0000 is kept, so use text_len);
     * 8-bit data is left in `data` and text is "". */
    char text[PDU_TEXT_MAX]; /* NUL-terminated */
    size_t text_len;
    uint8_t data[SMSENC_UD_MAX];
    size_t data_len; /* 8-bit payload only */
    unsigned udl;    /* TP-UDL as coded (septets or octets) */
};

/*
 * Decodes one PDU from a modem. tpdu_len: the <length> from +CMGR/+CMT/+CDS
 * (TPDU octets), or -1 if unknown. With a length, extra leading octets are the
 * SMSC field. Without one, the SMSC field is assumed present (what modems
 * send in PDU mode) unless only the reading without it parses exactly.
 * Returns 0 and fills *out, or a negative code.
 */
int pdu_decode(const uint8_t *buf, size_t len, enum pdu_direction dir, int tpdu_len,
               struct pdu_decoded *out, struct sg_err *err);

/* Same from hex (either case; surrounding whitespace ignored). */
int pdu_decode_hex(const char *hex, size_t hexlen, enum pdu_direction dir, int tpdu_len,
                   struct pdu_decoded *out, struct sg_err *err);

/* ------------------------------------------------------------ helpers */

/* Hex text to bytes. Returns bytes written, -EINVAL for odd length or a non-hex char (offset in the
 * message), -E2BIG if cap is short. */
int pdu_hex_decode(const char *hex, size_t hexlen, uint8_t *out, size_t cap, struct sg_err *err);
/* Bytes to upper-case hex, NUL-terminated; out must hold 2n+1 chars. */
void pdu_hex_encode(const uint8_t *in, size_t n, char *out);

/* TP-VP relative value for at least `minutes` (capped at 63 weeks), and back. */
uint8_t pdu_vp_from_minutes(int minutes);
int pdu_vp_to_minutes(uint8_t vp);

/* "deliver", "submit", "status-report". */
const char *pdu_type_name(enum pdu_type t);

#endif
