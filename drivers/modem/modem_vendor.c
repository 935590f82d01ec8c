/*
 * modem_vendor: the profile tables. Sources per row: REFERENCE §1.2/§1.3,
 * ModemManager's simtech/quectel/huawei plugins, the SIM800 AT manual V1.09
 * and the Quectel EC25 AT manual.
 */
#include "drivers/modem/modem_vendor.h"

#include <string.h>

#include "drivers/at/at_parse.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Identity answers are bare lines on most modems (SIM800 "SIMCOM_Ltd"),
 * "+CGMI: ..." on some LTE firmwares: collect any non-URC line. */
static const struct modem_row ident_rows[] = {
    {"AT+CGMI", "+CGMI:", 2000, MODEM_ROW_OPTIONAL | MODEM_ROW_ANY_LINE, MODEM_H_MANUFACTURER},
    {"AT+CGMM", "+CGMM:", 2000, MODEM_ROW_OPTIONAL | MODEM_ROW_ANY_LINE, MODEM_H_MODEL},
    {"AT+CGMR", "+CGMR:", 2000, MODEM_ROW_OPTIONAL | MODEM_ROW_ANY_LINE, MODEM_H_FIRMWARE},
    {"AT+CGSN", "+CGSN:", 2000, MODEM_ROW_OPTIONAL | MODEM_ROW_ANY_LINE, MODEM_H_IMEI},
};

/* ICCID has no standard command. SIM800: AT+CCID, bare digits. */
static const struct modem_row sim_rows_sim800[] = {
    {"AT+CCID", "+CCID:", 3000, MODEM_ROW_OPTIONAL | MODEM_ROW_ANY_LINE, MODEM_H_ICCID},
    {"AT+CIMI", "+CIMI:", 3000, MODEM_ROW_OPTIONAL | MODEM_ROW_ANY_LINE, MODEM_H_IMSI},
    {"AT+CNUM", "+CNUM:", 3000, MODEM_ROW_OPTIONAL, MODEM_H_MSISDN},
};

/* SIM7600: AT+CICCID answers "+ICCID: 8986...". */
static const struct modem_row sim_rows_sim7600[] = {
    {"AT+CICCID", "+ICCID:", 3000, MODEM_ROW_OPTIONAL, MODEM_H_ICCID},
    {"AT+CIMI", "+CIMI:", 3000, MODEM_ROW_OPTIONAL | MODEM_ROW_ANY_LINE, MODEM_H_IMSI},
    {"AT+CNUM", "+CNUM:", 3000, MODEM_ROW_OPTIONAL, MODEM_H_MSISDN},
};

/* Quectel: AT+QCCID answers "+QCCID: 8986...". M95 has AT+CCID only: fall back. */
static const struct modem_row sim_rows_ec25[] = {
    {"AT+QCCID", "+QCCID:", 3000, MODEM_ROW_OPTIONAL, MODEM_H_ICCID},
    {"AT+CCID", "+CCID:", 3000, MODEM_ROW_OPTIONAL | MODEM_ROW_ALT | MODEM_ROW_ANY_LINE,
     MODEM_H_ICCID},
    {"AT+CIMI", "+CIMI:", 3000, MODEM_ROW_OPTIONAL | MODEM_ROW_ANY_LINE, MODEM_H_IMSI},
    {"AT+CNUM", "+CNUM:", 3000, MODEM_ROW_OPTIONAL, MODEM_H_MSISDN},
};

/* Huawei: "^ICCID: <nibble-swapped>" (ModemManager huawei plugin swaps it
 * back); older sticks lack it, so read EF_ICCID (0x2FE2) with +CRSM. */
static const struct modem_row sim_rows_huawei[] = {
    {"AT^ICCID?", "^ICCID:", 3000, MODEM_ROW_OPTIONAL, MODEM_H_ICCID},
    {"AT+CRSM=176,12258,0,0,10", "+CRSM:", 3000, MODEM_ROW_OPTIONAL | MODEM_ROW_ALT, MODEM_H_ICCID},
    {"AT+CIMI", "+CIMI:", 3000, MODEM_ROW_OPTIONAL | MODEM_ROW_ANY_LINE, MODEM_H_IMSI},
    {"AT+CNUM", "+CNUM:", 3000, MODEM_ROW_OPTIONAL, MODEM_H_MSISDN},
};

static const struct modem_row sim_rows_generic[] = {
    {"AT+CCID", "+CCID:|+ICCID:", 3000, MODEM_ROW_OPTIONAL | MODEM_ROW_ANY_LINE, MODEM_H_ICCID},
    {"AT+CRSM=176,12258,0,0,10", "+CRSM:", 3000, MODEM_ROW_OPTIONAL | MODEM_ROW_ALT, MODEM_H_ICCID},
    {"AT+CIMI", "+CIMI:", 3000, MODEM_ROW_OPTIONAL | MODEM_ROW_ANY_LINE, MODEM_H_IMSI},
    {"AT+CNUM", "+CNUM:", 3000, MODEM_ROW_OPTIONAL, MODEM_H_MSISDN},
};

/* PDU mode, SIM storage for all three memories, then the CNMI chain
 * ModemManager walks (REFERENCE §1.3): mt=1 stores and announces with +CMTI
 * (so a message is deleted only after the owner committed it), ds=1 sends
 * reports as +CDS; many Qualcomm modems take ds=2 (+CDSI) but not ds=1. */
#define SMS_ROWS_COMMON                                                                  \
    {"AT+CMGF=0", NULL, 3000, 0, MODEM_H_NONE},                                          \
    {"AT+CPMS=\"SM\",\"SM\",\"SM\"", "+CPMS:", 5000, MODEM_ROW_OPTIONAL, MODEM_H_CPMS},  \
    {"AT+CNMI=2,1,0,1,0", NULL, 3000, 0, MODEM_H_CNMI},                                  \
    {"AT+CNMI=2,1,2,1,0", NULL, 3000, MODEM_ROW_ALT, MODEM_H_CNMI},                      \
    {"AT+CNMI=2,1,2,2,0", NULL, 3000, MODEM_ROW_ALT, MODEM_H_CNMI},                      \
    {"AT+CNMI=2,1,2,0,0", NULL, 3000, MODEM_ROW_ALT, MODEM_H_CNMI},                      \
    {"AT+CSCA?", "+CSCA:", 3000, MODEM_ROW_OPTIONAL, MODEM_H_SMSC}

/* +CSMS=0: no +CNMA handshake (REFERENCE §3: with 1, a missed ack resets
 * CNMI and the SMSC resends later). Optional: old firmwares reject it. */
static const struct modem_row sms_rows[] = {
    {"AT+CSMS=0", "+CSMS:", 3000, MODEM_ROW_OPTIONAL, MODEM_H_NONE},
    SMS_ROWS_COMMON,
};

/* SIM800: "Call Ready" only with +CIURC=1; silence it so it is not mistaken
 * for chatter (RDY/SMS Ready still mark a reboot). */
static const struct modem_row init_sim800[] = {
    {"AT+CIURC=0", NULL, 2000, MODEM_ROW_OPTIONAL, MODEM_H_NONE},
};

/* SIM7600: +CVHU=0 makes ATH hang up voice calls (SIMCom LTE default is 1). */
static const struct modem_row init_sim7600[] = {
    {"AT+CVHU=0", NULL, 2000, MODEM_ROW_OPTIONAL, MODEM_H_NONE},
};

/* Huawei sticks chatter ^RSSI/^BOOT/^MODE; ModemManager sends AT^CURC=0. */
static const struct modem_row init_huawei[] = {
    {"AT^CURC=0", NULL, 2000, MODEM_ROW_OPTIONAL, MODEM_H_NONE},
};

static const char *const reg_2g[] = {"AT+CREG?", "AT+CGREG?", NULL};
static const char *const reg_lte[] = {"AT+CREG?", "AT+CGREG?", "AT+CEREG?", NULL};

static const char *const ready_sim800[] = {"RDY", "SMS Ready", "Call Ready", NULL};
static const char *const ready_sim7600[] = {"RDY", "SMS DONE", "PB DONE", NULL};
static const char *const ready_ec25[] = {"RDY", "+QIND: SMS DONE", "+QIND: PB DONE", NULL};
static const char *const ready_generic[] = {"RDY", NULL};
static const char *const ready_none[] = {NULL};

static const char *const quiet_sim800[] = {"+CIEV:", "UNDER-VOLTAGE", NULL};
static const char *const quiet_quectel[] = {"+QIND:", "+QUSIM:", "+CFUN:", NULL};
static const char *const quiet_huawei[] = {"^RSSI:", "^BOOT:", "^MODE:", "^SRVST:",
                                           "^SIMST:", "^HCSQ:", "^DSFLOWRPT:", NULL};
static const char *const quiet_none[] = {NULL};

#define ROWS(a) a, N(a)
#define NO_ROWS NULL, 0

static const struct modem_vendor profiles[MODEM_VENDOR_COUNT] = {
    [MODEM_VENDOR_GENERIC] = {
        .id = MODEM_VENDOR_GENERIC, .name = "generic",
        .init = NO_ROWS, .ident = ROWS(ident_rows), .sim = ROWS(sim_rows_generic),
        .sms = ROWS(sms_rows), .reg_queries = reg_lte,
        .ready_urcs = ready_generic, .quiet_urcs = quiet_none,
        .boot_ms = 30000, .cmgs_prompt_ms = 10000, .cmgs_result_ms = 120000,
        .hangup = "ATH", .reset_cmd = "AT+CFUN=1,1", .needs_cnma = false,
    },
    [MODEM_VENDOR_SIM800] = {
        .id = MODEM_VENDOR_SIM800, .name = "sim800",
        .init = ROWS(init_sim800), .ident = ROWS(ident_rows), .sim = ROWS(sim_rows_sim800),
        .sms = ROWS(sms_rows), .reg_queries = reg_2g,
        .ready_urcs = ready_sim800, .quiet_urcs = quiet_sim800,
        .boot_ms = 10000, .cmgs_prompt_ms = 10000, .cmgs_result_ms = 60000,
        .hangup = "ATH", .reset_cmd = "AT+CFUN=1,1", .needs_cnma = false,
    },
    [MODEM_VENDOR_SIM7600] = {
        .id = MODEM_VENDOR_SIM7600, .name = "sim7600",
        .init = ROWS(init_sim7600), .ident = ROWS(ident_rows), .sim = ROWS(sim_rows_sim7600),
        .sms = ROWS(sms_rows), .reg_queries = reg_lte,
        .ready_urcs = ready_sim7600, .quiet_urcs = quiet_none,
        .boot_ms = 25000, .cmgs_prompt_ms = 10000, .cmgs_result_ms = 120000,
        .hangup = "AT+CHUP", .reset_cmd = "AT+CFUN=1,1", .needs_cnma = false,
    },
    [MODEM_VENDOR_EC25] = {
        .id = MODEM_VENDOR_EC25, .name = "ec25",
        .init = NO_ROWS, .ident = ROWS(ident_rows), .sim = ROWS(sim_rows_ec25),
        .sms = ROWS(sms_rows), .reg_queries = reg_lte,
        .ready_urcs = ready_ec25, .quiet_urcs = quiet_quectel,
        .boot_ms = 30000, .cmgs_prompt_ms = 10000, .cmgs_result_ms = 120000,
        .hangup = "ATH", .reset_cmd = "AT+CFUN=1,1", .needs_cnma = false,
    },
    [MODEM_VENDOR_HUAWEI] = {
        .id = MODEM_VENDOR_HUAWEI, .name = "huawei",
        .init = ROWS(init_huawei), .ident = ROWS(ident_rows), .sim = ROWS(sim_rows_huawei),
        .sms = ROWS(sms_rows), .reg_queries = reg_2g,
        .ready_urcs = ready_none, .quiet_urcs = quiet_huawei,
        .boot_ms = 20000, .cmgs_prompt_ms = 10000, .cmgs_result_ms = 60000,
        .hangup = "AT+CHUP", .reset_cmd = "AT+CFUN=1,1", .needs_cnma = false,
    },
};

const struct modem_vendor *modem_vendor_get(enum modem_vendor_id id)
{
    if ((unsigned)id >= MODEM_VENDOR_COUNT)
        return &profiles[MODEM_VENDOR_GENERIC];
    return &profiles[id];
}

const struct modem_vendor *modem_vendor_by_name(const char *name)
{
    static const struct {
        const char *name;
        enum modem_vendor_id id;
    } names[] = {
        {"generic", MODEM_VENDOR_GENERIC}, {"sim800", MODEM_VENDOR_SIM800},
        {"sim7600", MODEM_VENDOR_SIM7600}, {"ec25", MODEM_VENDOR_EC25},
        {"eg25", MODEM_VENDOR_EC25},       {"m95", MODEM_VENDOR_EC25},
        {"huawei", MODEM_VENDOR_HUAWEI},
    };
    if (!name)
        return NULL;
    for (size_t i = 0; i < N(names); i++)
        if (strcasecmp(name, names[i].name) == 0)
            return &profiles[names[i].id];
    return NULL;
}

/* Case-insensitive substring search; text is short (ATI output). */
static bool has_word(const char *text, const char *word)
{
    size_t wl = strlen(word);
    for (const char *p = text; *p; p++)
        if (strncasecmp(p, word, wl) == 0)
            return true;
    return false;
}

const struct modem_vendor *modem_vendor_identify(const char *text)
{
    /* Order matters: SIMCom makes both families, so the model decides. */
    static const struct {
        const char *word;
        enum modem_vendor_id id;
    } words[] = {
        {"SIM800", MODEM_VENDOR_SIM800},  {"SIM900", MODEM_VENDOR_SIM800},
        {"SIM7600", MODEM_VENDOR_SIM7600}, {"SIM7500", MODEM_VENDOR_SIM7600},
        {"SIM7000", MODEM_VENDOR_SIM7600}, {"SIM7070", MODEM_VENDOR_SIM7600},
        {"SIM76", MODEM_VENDOR_SIM7600},  {"Quectel", MODEM_VENDOR_EC25},
        {"EC25", MODEM_VENDOR_EC25},      {"EG25", MODEM_VENDOR_EC25},
        {"EC21", MODEM_VENDOR_EC25},      {"M95", MODEM_VENDOR_EC25},
        {"huawei", MODEM_VENDOR_HUAWEI},  {"SIMCOM", MODEM_VENDOR_SIM800},
    };
    if (!text)
        return &profiles[MODEM_VENDOR_GENERIC];
    for (size_t i = 0; i < N(words); i++)
        if (has_word(text, words[i].word))
            return &profiles[words[i].id];
    return &profiles[MODEM_VENDOR_GENERIC];
}

static enum modem_err_class from_at_class(enum at_err_class c)
{
    switch (c) {
    case AT_ERR_RETRY_SOON:
        return MODEM_ERR_RETRY_NOW;
    case AT_ERR_PERMANENT:
        return MODEM_ERR_PERMANENT;
    case AT_ERR_SPECIAL_DUPLICATE:
    case AT_ERR_SPECIAL_MEMFULL:
    case AT_ERR_IGNORE:
        return MODEM_ERR_SPECIAL;
    case AT_ERR_RETRY_LATER:
    case AT_ERR_UNKNOWN:
        break;
    }
    return MODEM_ERR_RETRY_LATER;
}

/* The code tables (REFERENCE §7 plus each vendor's reading of 512+) live in
 * at_parse so the channel, this layer and modemsim share them; the profile
 * only supplies the vendor key. */
enum modem_err_class modem_vendor_cms_class(const struct modem_vendor *v, int code)
{
    if (code < 0)
        return MODEM_ERR_RETRY_LATER;
    return from_at_class(at_cms_class(code, v ? v->name : NULL));
}

enum modem_err_class modem_vendor_cme_class(const struct modem_vendor *v, int code)
{
    if (code < 0)
        return MODEM_ERR_RETRY_LATER;
    return from_at_class(at_cme_class(code, v ? v->name : NULL));
}

const char *modem_err_class_name(enum modem_err_class c)
{
    switch (c) {
    case MODEM_ERR_NONE:
        return "none";
    case MODEM_ERR_RETRY_NOW:
        return "retry-now";
    case MODEM_ERR_RETRY_LATER:
        return "retry-later";
    case MODEM_ERR_PERMANENT:
        return "permanent";
    case MODEM_ERR_SPECIAL:
        return "special";
    case MODEM_ERR_UNKNOWN:
        return "unknown";
    }
    return "?";
}
