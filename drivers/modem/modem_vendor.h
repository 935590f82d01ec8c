/*
 * modem_vendor: what differs between modem families, as const data.
 *
 * Modelled on ModemManager's vendor plugins (src/plugins/{simtech,quectel,
 * huawei}) and Zephyr's modem_chat script tables: a profile is a handful of
 * command tables plus timings and flags. The modem state machine (modem.c)
 * runs the tables; nothing here waits, prints or allocates.
 *
 * Profiles: "sim800" (SIM800/800C/800L), "sim7600" (SIM7600 and SIMCom LTE
 * cousins), "ec25" (Quectel EC25/EG25-G/EC21, also M95 which answers the same
 * commands), "huawei" (E173/E3372 in stick mode), "generic" (27.005/27.007
 * only, long timeouts). Every table and string is static const: never free.
 *
 * A script row:
 *   cmd      the command text without CR ("AT+CMGF=0")
 *   expect   info-line prefix(es) to collect ("+CSQ:", "+CCID:|+ICCID:"),
 *            NULL for none; with MODEM_ROW_ANY_LINE every non-URC line
 *   timeout  final result deadline, ms
 *   flags    MODEM_ROW_OPTIONAL: a failure is logged and skipped
 *            MODEM_ROW_ALT: alternative to the row above; runs only when
 *            the row above failed; once any row of a chain succeeds the
 *            rest of the chain is skipped (the CNMI fallbacks)
 *   handler  what modem.c does with the reply (MODEM_H_*)
 */
#ifndef SG_MODEM_VENDOR_H
#define SG_MODEM_VENDOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum modem_vendor_id {
    MODEM_VENDOR_GENERIC = 0,
    MODEM_VENDOR_SIM800,
    MODEM_VENDOR_SIM7600,
    MODEM_VENDOR_EC25,
    MODEM_VENDOR_HUAWEI,
    MODEM_VENDOR_COUNT
};

#define MODEM_ROW_OPTIONAL 0x1u
#define MODEM_ROW_ALT 0x2u
#define MODEM_ROW_ANY_LINE 0x4u

/* What to do with a row's reply. */
enum modem_handler {
    MODEM_H_NONE = 0,
    MODEM_H_IDENTIFY,      /* ATI/CGMI text: pick the profile when vendor=auto */
    MODEM_H_MANUFACTURER,
    MODEM_H_MODEL,
    MODEM_H_FIRMWARE,
    MODEM_H_IMEI,
    MODEM_H_ICCID,
    MODEM_H_IMSI,
    MODEM_H_MSISDN,        /* +CNUM */
    MODEM_H_SMSC,          /* +CSCA? */
    MODEM_H_OPERATOR,      /* +COPS? */
    MODEM_H_CPMS,          /* storage sizes */
    MODEM_H_CNMI,          /* remembers which CNMI form the modem took */
    MODEM_H_CSQ,
};

struct modem_row {
    const char *cmd;
    const char *expect;
    uint32_t timeout_ms;
    uint8_t flags;
    uint8_t handler;   /* enum modem_handler */
};

/* How an error is to be treated (DESIGN "Errors", REFERENCE §7). */
enum modem_err_class {
    MODEM_ERR_NONE = 0,
    MODEM_ERR_RETRY_NOW,    /* retry soon, another modem is fine */
    MODEM_ERR_RETRY_LATER,  /* back off (minutes) or re-init */
    MODEM_ERR_PERMANENT,    /* do not resend this message */
    MODEM_ERR_SPECIAL,      /* 197 duplicate (do not resend), 322 memory full, 340 */
    MODEM_ERR_UNKNOWN,      /* timeout after the PDU was written: maybe sent */
};

struct modem_vendor {
    enum modem_vendor_id id;
    const char *name;              /* "sim800", also the gpio_seq timing key */
    /* Rows run right after ATE0/CMEE=1 (URC silencing and the like). */
    const struct modem_row *init;
    size_t n_init;
    /* Identity rows (manufacturer, model, firmware, IMEI). */
    const struct modem_row *ident;
    size_t n_ident;
    /* SIM identity rows, run once the SIM is ready (ICCID, IMSI, MSISDN). */
    const struct modem_row *sim;
    size_t n_sim;
    /* SMS set-up rows: PDU mode, storage, CNMI chain, SMSC check. */
    const struct modem_row *sms;
    size_t n_sms;
    /* Registration queries polled until registered; NULL-terminated. */
    const char *const *reg_queries;
    /* Lines that mean "the modem (re)booted"; NULL-terminated exact matches. */
    const char *const *ready_urcs;
    /* Periodic chatter to drop silently (Huawei ^RSSI:); prefixes, NULL-terminated. */
    const char *const *quiet_urcs;
    uint32_t boot_ms;              /* after a reset: time to wait for it to answer AT */
    uint32_t cmgs_prompt_ms;       /* AT+CMGS=<n> to the '> ' prompt */
    uint32_t cmgs_result_ms;       /* payload written to +CMGS: / error */
    const char *hangup;            /* "ATH" or "AT+CHUP" */
    const char *reset_cmd;         /* full functionality reset ("AT+CFUN=1,1") */
    bool needs_cnma;               /* +CSMS=1: +CMT/+CDS must be acked with +CNMA */
};

/* Profile by name ("sim800", "sim7600", "ec25", "eg25", "m95", "huawei",
 * "generic"); NULL for an unknown name and for "auto". */
const struct modem_vendor *modem_vendor_by_name(const char *name);

/* Profile by id; never NULL for a valid id (generic otherwise). */
const struct modem_vendor *modem_vendor_get(enum modem_vendor_id id);

/*
 * Picks a profile from the text of ATI or AT+CGMI/AT+CGMM (any case).
 *   "SIMCOM_Ltd" + "SIMCOM_SIM800C"  -> sim800
 *   "SIMCOM INCORPORATED" + "SIMCOM_SIM7600E-H" -> sim7600
 *   "Quectel" + "EC25" / "EG25" / "M95" -> ec25
 *   "huawei" / "HUAWEI" + "E173" -> huawei
 * Anything else -> generic. text may hold several lines joined by '\n'.
 */
const struct modem_vendor *modem_vendor_identify(const char *text);

/*
 * Classifies a +CMS ERROR code for this modem per REFERENCE §7, with the
 * vendor's own reading of codes >= 512 (they clash between vendors; the
 * tables are at_parse's at_cms_class). 197 duplicate, 322 memory full and
 * 340 are MODEM_ERR_SPECIAL (look at the code). -1 (verbose text nobody
 * could map) is MODEM_ERR_RETRY_LATER.
 */
enum modem_err_class modem_vendor_cms_class(const struct modem_vendor *v, int code);

/* The same for a +CME ERROR returned by AT+CMGS (SIM/network trouble). */
enum modem_err_class modem_vendor_cme_class(const struct modem_vendor *v, int code);

/* "retry-now", "retry-later", "permanent", "special", "unknown", "none". */
const char *modem_err_class_name(enum modem_err_class c);

#endif
