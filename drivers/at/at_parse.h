/*
 * at_parse: pure parsers for AT reply and URC lines (ModemManager style).
 *
 * Each function is named after the command and the form it parses, takes one
 * line exactly as at_chan delivers it (no CR/LF) and fills a caller-owned
 * struct. Return 0 on success, -EINVAL if the line is not that reply, -ERANGE
 * if a value is out of its range or a text field does not fit. No I/O, no
 * globals, no clock; strings copied into fixed buffers with caps below.
 *
 * The final-result table and error classification live here too, so the
 * channel, the modem layer and modemsim share one definition.
 */
#ifndef AT_PARSE_H
#define AT_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/at/at_chan.h"

/* ---------------------------------------------------------------- fields */

#define AT_FIELDS_MAX 24

/* One comma-separated field of a reply. Quotes are removed; `quoted` says
 * whether there were any. An empty field ("1,,2") has len 0. */
struct at_field {
    const char *s;   /* points into the parsed line, NOT NUL-terminated */
    size_t len;
    bool quoted;
};

struct at_fields {
    size_t n;
    struct at_field f[AT_FIELDS_MAX];
};

/* Split `s` (the part after "+XXX:") into fields, honouring double quotes.
 * Leading/trailing spaces around unquoted fields are trimmed. Returns 0, or
 * -ERANGE with more than AT_FIELDS_MAX fields, -EINVAL on an unclosed quote. */
int at_parse_fields(const char *s, struct at_fields *out);

/* If line starts with prefix (e.g. "+CSQ:"), returns the rest with leading
 * spaces skipped; else NULL. */
const char *at_parse_after(const char *line, const char *prefix);

/* ---------------------------------------------------------------- finals */

/* The one table of final result lines:
 *   OK | ERROR | +CMS ERROR: <n|text> | +CME ERROR: <n|text> | NO CARRIER |
 *   BUSY | NO ANSWER | NO DIALTONE | NO DIAL TONE | CONNECT[ <text>] |
 *   COMMAND NOT SUPPORT (Huawei) | TOO MANY PARAMETERS (Huawei)
 * Returns true if `line` is one; *final and *code (CMS/CME number, verbose
 * text mapped through the 27.005/27.007 tables, -1 if none or unknown text)
 * are set. *call_only is true for NO CARRIER/BUSY/NO ANSWER/NO DIALTONE/
 * CONNECT, which end only call commands. Any out pointer may be NULL. */
bool at_parse_final(const char *line, enum at_final *final, int *code, bool *call_only);

/* 27.007 §9.2 verbose +CME ERROR text -> number ("SIM not inserted" -> 10),
 * case-insensitive; -1 if unknown. */
int at_parse_cme_verbose(const char *text);
/* 27.005 §3.2.5 verbose +CMS ERROR text -> number ("SIM busy" -> 314); -1. */
int at_parse_cms_verbose(const char *text);

/* ---------------------------------------------------------------- errors */

enum at_err_class {
    AT_ERR_UNKNOWN = 0,
    AT_ERR_RETRY_SOON,        /* seconds, with backoff (or another modem now) */
    AT_ERR_RETRY_LATER,       /* minutes, or after re-init / registration */
    AT_ERR_PERMANENT,         /* do not retry this message */
    AT_ERR_SPECIAL_DUPLICATE, /* CMS 197: SC already has it; do not resend */
    AT_ERR_SPECIAL_MEMFULL,   /* CMS 322: delete stored messages, then retry */
    AT_ERR_IGNORE,            /* CMS 340: no +CNMA expected; not a failure */
};

/* Classify a +CMS ERROR per REFERENCE §7. `vendor` names the modem profile
 * ("sim800", "sim7600", "ec25", "huawei", "generic" or NULL) and only matters
 * for codes 512 and up, whose meanings clash between vendors. */
enum at_err_class at_cms_class(int code, const char *vendor);
/* Classify a +CME ERROR (SIM/PIN/network state) the same way. */
enum at_err_class at_cme_class(int code, const char *vendor);
const char *at_err_class_name(enum at_err_class c);

/* ---------------------------------------------------------------- registration */

/* 27.007 <stat> for CREG/CGREG/CEREG. */
enum at_reg_stat {
    AT_REG_IDLE = 0,          /* not registered, not searching */
    AT_REG_HOME = 1,
    AT_REG_SEARCHING = 2,
    AT_REG_DENIED = 3,
    AT_REG_UNKNOWN = 4,
    AT_REG_ROAMING = 5,
    AT_REG_HOME_SMS_ONLY = 6,
    AT_REG_ROAMING_SMS_ONLY = 7,
    AT_REG_EMERGENCY_ONLY = 8,
    AT_REG_HOME_CSFB_NOT_PREF = 9,
    AT_REG_ROAMING_CSFB_NOT_PREF = 10,
};

struct at_reg {
    char cmd[8];        /* "CREG", "CGREG" or "CEREG" */
    bool urc;           /* parsed as the unsolicited form (no <n>) */
    int n;              /* <n> of the read form, -1 in the URC form */
    int stat;           /* enum at_reg_stat */
    bool has_lac;       /* lac (CREG/CGREG) or tac (CEREG) present */
    uint32_t lac;
    bool has_ci;
    uint32_t ci;
    int act;            /* <AcT> 0 GSM, 2 UTRAN, 7 E-UTRAN...; -1 if absent */
};

/* Read form:  +CREG: <n>,<stat>[,<lac>,<ci>[,<AcT>]]
 *   SIM800:   +CREG: 2,1,"1F4C","C5C1"
 * URC form:   +CREG: <stat>[,<lac>,<ci>[,<AcT>]]
 *   SIM800:   +CREG: 1,"1F4C","C5C1"
 * CGREG adds [,<rac>] after AcT; CEREG has <tac>,<ci>[,<AcT>[,<cause_type>,
 * <reject_cause>]] (EC25: +CEREG: 2,5,"2B5C","A1B2C03",7). */
int at_parse_creg_read(const char *line, struct at_reg *out);
int at_parse_creg_urc(const char *line, struct at_reg *out);
int at_parse_cgreg_read(const char *line, struct at_reg *out);
int at_parse_cgreg_urc(const char *line, struct at_reg *out);
int at_parse_cereg_read(const char *line, struct at_reg *out);
int at_parse_cereg_urc(const char *line, struct at_reg *out);
/* Any of the three, either form (a +CREG URC can arrive while the solicited
 * +CREG? reply is awaited): 1 or 3 fields, or a quoted 2nd field -> URC;
 * otherwise the read form. */
int at_parse_reg(const char *line, struct at_reg *out);

bool at_reg_is_registered(int stat);   /* 1, 5, 6, 7, 9, 10 */
bool at_reg_is_roaming(int stat);      /* 5, 7, 10 */
const char *at_reg_stat_name(int stat);

/* ---------------------------------------------------------------- signal */

enum at_signal_band {
    AT_SIGNAL_UNKNOWN = 0,     /* rssi 99 */
    AT_SIGNAL_MARGINAL,        /* <= -95 dBm */
    AT_SIGNAL_WORKABLE,        /* <= -85 dBm */
    AT_SIGNAL_GOOD,            /* <= -75 dBm */
    AT_SIGNAL_EXCELLENT,       /* above */
};

struct at_csq {
    int rssi;       /* 0..31, 99 unknown */
    int ber;        /* 0..7, 99 unknown */
    bool has_dbm;
    int dbm;        /* -113 + 2*rssi; 0 -> -113 (or less), 31 -> -51 (or more) */
    enum at_signal_band band;
};

/* +CSQ: <rssi>,<ber>       SIM800: +CSQ: 17,0 */
int at_parse_csq(const char *line, struct at_csq *out);
enum at_signal_band at_signal_band_from_dbm(int dbm);
const char *at_signal_band_name(enum at_signal_band b);

/* ---------------------------------------------------------------- SIM */

enum at_cpin {
    AT_CPIN_READY = 0,
    AT_CPIN_SIM_PIN,
    AT_CPIN_SIM_PUK,
    AT_CPIN_PH_SIM_PIN,
    AT_CPIN_PH_FSIM_PIN,
    AT_CPIN_PH_FSIM_PUK,
    AT_CPIN_SIM_PIN2,
    AT_CPIN_SIM_PUK2,
    AT_CPIN_PH_NET_PIN,
    AT_CPIN_PH_NET_PUK,
    AT_CPIN_NOT_INSERTED,    /* SIM800 URC "+CPIN: NOT INSERTED" */
    AT_CPIN_NOT_READY,       /* SIM800 URC "+CPIN: NOT READY" */
    AT_CPIN_OTHER,           /* a code we do not know; treat as "needs a human" */
};

/* +CPIN: <code>            EC25: +CPIN: READY ; SIM800: +CPIN: SIM PIN */
int at_parse_cpin(const char *line, enum at_cpin *out);
const char *at_cpin_name(enum at_cpin c);

struct at_cpms_mem {
    char mem[8];    /* "SM", "ME", "MT", "SR"; "" in the set form */
    int used;
    int total;
};

struct at_cpms {
    size_t nmem;    /* 1..3 */
    struct at_cpms_mem m[3];
};

/* Read:  +CPMS: <mem1>,<used1>,<total1>,<mem2>,...   +CPMS: "SM",3,30,"SM",3,30,"SM",3,30
 * Set:   +CPMS: <used1>,<total1>,...                  +CPMS: 3,30,3,30,3,30 */
int at_parse_cpms(const char *line, struct at_cpms *out);

/* ---------------------------------------------------------------- SMS */

/* +CMGS: <mr>[,<scts>]     SIM800: +CMGS: 47 ; mr 0..255 */
int at_parse_cmgs(const char *line, int *mr);

struct at_mem_index {
    char mem[8];    /* "SM", "ME", "SR"... */
    int index;      /* -1 when the modem says so (Huawei: +CMTI: "SM",-1) */
};

/* +CMTI: <mem>,<index>     SIM800: +CMTI: "SM",3 */
int at_parse_cmti(const char *line, struct at_mem_index *out);
/* +CDSI: <mem>,<index>     EC25: +CDSI: "SR",0 */
int at_parse_cdsi(const char *line, struct at_mem_index *out);

#define AT_ALPHA_MAX 64

/* +CMT: [<alpha>],<length>         SIM800: +CMT: "",24  ; EC25: +CMT: ,24 */
int at_parse_cmt_header(const char *line, int *length, char *alpha, size_t alpha_size);
/* +CDS: <length>                   +CDS: 24 ; ZTE: +CDS: ,24 */
int at_parse_cds_header(const char *line, int *length);

struct at_cmgr {
    int stat;       /* 0 unread, 1 read, 2 unsent, 3 sent */
    char alpha[AT_ALPHA_MAX];
    int length;     /* TPDU octets (SMSC field excluded) */
};
/* +CMGR: <stat>,[<alpha>],<length>    SIM800: +CMGR: 0,"",24 */
int at_parse_cmgr_header(const char *line, struct at_cmgr *out);

struct at_cmgl {
    int index;
    int stat;
    char alpha[AT_ALPHA_MAX];
    int length;
};
/* +CMGL: <index>,<stat>,[<alpha>],<length>    EC25: +CMGL: 2,1,,24 */
int at_parse_cmgl_header(const char *line, struct at_cmgl *out);

/* ---------------------------------------------------------------- calls */

#define AT_NUMBER_MAX 48

struct at_clcc {
    int id;
    int dir;        /* 0 MO, 1 MT */
    int stat;       /* 0 active, 1 held, 2 dialling, 3 alerting, 4 incoming,
                     * 5 waiting, 6 disconnected (SIMCom) */
    int mode;       /* 0 voice, 1 data, 2 fax */
    int mpty;
    char number[AT_NUMBER_MAX];  /* "" if absent */
    int type;       /* 145 international, 129 unknown; -1 if absent */
};
/* +CLCC: <id>,<dir>,<stat>,<mode>,<mpty>[,<number>,<type>[,<alpha>]]
 *   SIM800: +CLCC: 1,0,3,0,0,"+491701234567",145,"" */
int at_parse_clcc(const char *line, struct at_clcc *out);

/* ---------------------------------------------------------------- network */

#define AT_OPER_MAX 64

struct at_cops {
    int mode;                /* 0 auto, 1 manual, 2 deregister, 4 manual/auto */
    int format;              /* 0 long, 1 short, 2 numeric; -1 if absent */
    char oper[AT_OPER_MAX];  /* "" if absent (not registered) */
    int act;                 /* -1 if absent */
};
/* +COPS: <mode>[,<format>,<oper>[,<AcT>]]   EC25: +COPS: 0,0,"Vodafone.de",7 */
int at_parse_cops(const char *line, struct at_cops *out);

/* ---------------------------------------------------------------- identity */

/* AT+CGMI / AT+CGMM / AT+CGMR: the value line, with an optional "+CGMI:"
 * (etc.) prefix, the Quectel/SIMCom "Revision:" label and quotes removed.
 *   SIM800: SIMCOM_Ltd ; EC25: Quectel ; EC25 CGMR: EC25EFAR06A06M4G ;
 *   SIM800 CGMR: Revision:1418B04SIM800L24 */
int at_parse_cgmi(const char *line, char *out, size_t size);
int at_parse_cgmm(const char *line, char *out, size_t size);
int at_parse_cgmr(const char *line, char *out, size_t size);
/* IMEI: 14..17 digits, optional "+CGSN:" and quotes.   866192037751234 */
int at_parse_cgsn(const char *line, char *out, size_t size);
/* ICCID, 18..22 digits starting "89" (trailing F padding removed; hex digits
 * A-E allowed in the account part), from "+CCID:", "+ICCID:", "^ICCID:",
 * "+QCCID:", "^SCID:" or a bare line. A value starting "98" is the raw
 * nibble-swapped EF_ICCID (Huawei ^ICCID) and is swapped back to "89...". */
int at_parse_ccid(const char *line, char *out, size_t size);
/* IMSI: 6..15 digits, optional "+CIMI:".   262011234567890 */
int at_parse_cimi(const char *line, char *out, size_t size);

struct at_cnum {
    char alpha[AT_ALPHA_MAX];
    char number[AT_NUMBER_MAX];
    int type;
};
/* +CNUM: [<alpha>],<number>,<type>    +CNUM: "","+491701234567",145 */
int at_parse_cnum(const char *line, struct at_cnum *out);

struct at_csca {
    char number[AT_NUMBER_MAX];   /* "" when the SIM has none */
    int type;                     /* -1 if absent */
};
/* +CSCA: <sca>[,<tosca>]    +CSCA: "+491710760000",145 ; with CSCS="UCS2"
 * Huawei answers the number as UCS2 hex ("002B0034...") which is decoded. */
int at_parse_csca(const char *line, struct at_csca *out);

#endif
