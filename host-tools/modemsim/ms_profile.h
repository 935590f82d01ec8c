/*
 * ms_profile: what distinguishes one simulated modem from another, as data.
 *
 * Each profile reproduces the replies and quirks of a real module
 * (shared/REFERENCE.md §1–3, §7): identity strings, the URCs it prints when it
 * boots, the exact `> ` prompt, which CNMI values it accepts, how it words an
 * unknown command. The engine (ms_modem.c) reads these tables and never
 * tests a profile by name.
 */
#ifndef MS_PROFILE_H
#define MS_PROFILE_H

#include <stdbool.h>
#include <stdint.h>

#include "drivers/base/sg_clock.h"

/* What a boot URC step needs before it is printed. */
enum ms_urc_gate {
    MS_GATE_ALWAYS = 0,
    MS_GATE_SIM_STATE, /* "+CPIN: <state>" line: text comes from the SIM state */
    MS_GATE_SIM_READY, /* only once the SIM is unlocked (SMS DONE, Call Ready…) */
};

struct ms_urc_step {
    sg_ms after_ms; /* delay from the end of boot, in ms */
    enum ms_urc_gate gate;
    const char *line; /* without CR LF; ignored for MS_GATE_SIM_STATE */
};

#define MS_BOOT_STEPS_MAX 8
#define MS_LIST_MAX       8
#define MS_MEMS_MAX       3

struct ms_profile {
    const char *name;
    /* identity */
    const char *cgmi, *cgmm, *cgmr;
    const char *cgmr_prefix;      /* SIM7600 answers "+CGMR: …", the others bare */
    const char *ati[MS_LIST_MAX]; /* ATI lines; "%IMEI%" is replaced */
    const char *imei, *iccid, *imsi, *msisdn;
    const char *iccid_cmd;    /* vendor ICCID command ("QCCID", "CICCID", "^ICCID") */
    const char *iccid_prefix; /* its reply prefix ("+QCCID: ") */
    const char *ccid_prefix;  /* prefix of the AT+CCID reply ("" on SIM800) */
    bool iccid_swapped;       /* Huawei ^ICCID prints the nibble-swapped EF_ICCID */
    const char *oper;         /* long alphanumeric operator name */
    const char *oper_num;     /* numeric MCC MNC */
    int act;                  /* access technology: 0 GSM, 2 UTRAN, 7 E-UTRAN, -1 none */
    bool creg_act;            /* CREG/CGREG print <AcT> with n=2 */
    /* boot */
    bool autobaud; /* SIM800 default: silent until the host sends AT */
    struct ms_urc_step boot[MS_BOOT_STEPS_MAX];
    struct ms_urc_step after_pin[MS_BOOT_STEPS_MAX]; /* URCs once a PIN unlocks the SIM */
    bool periodic_rssi;                              /* Huawei: ^RSSI/^BOOT/^MODE until AT^CURC=0 */
    /* SMS */
    const char *prompt;            /* bytes sent after AT+CMGS=<n> */
    bool esc_ok;                   /* ESC at the prompt answers OK (Quectel) */
    const char *cmt_alpha;         /* alpha field in +CMT/+CMGR/+CMGL: "" or "\"\"" */
    const char *mems[MS_MEMS_MAX]; /* storages, each separate; [0] is the default */
    int mem_total;                 /* slots in each storage */
    int idx_base;         /* first storage index: SIM800 counts from 1, the others from 0 */
    const char *cdsi_mem; /* memory named in +CDSI */
    uint8_t mr_start;     /* first TP-MR handed out after boot */
    /* accepted CNMI values, one bit per value (bit v = value v accepted) */
    uint8_t cnmi_mask[5];
    const char *cnmi_test; /* AT+CNMI=? reply */
    /* errors */
    const char *unknown_error; /* final result of an unknown command */
    unsigned bit;              /* MS_P_* bit: which commands this modem has */
};

/* One bit per profile; the command table lists which modems have a command. */
#define MS_P_SIM800  0x1u
#define MS_P_SIM7600 0x2u
#define MS_P_EC25    0x4u
#define MS_P_HUAWEI  0x8u
#define MS_P_ALL     0xFu

/* The profile named `name` ("sim800", "sim7600", "ec25", "huawei"), or NULL.
 * Static storage, never freed. */
const struct ms_profile *ms_profile_find(const char *name);

/* Comma-separated list of profile names for help texts. Static string. */
const char *ms_profile_names(void);

#endif
