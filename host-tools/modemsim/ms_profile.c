#include "host-tools/modemsim/ms_profile.h"

#include <stddef.h>
#include <string.h>

/*
 * Identity strings are those the modules print (SIM800 V1.09 manual, Quectel
 * EC25 AT manual, SIMCom SIM7600 pages, ModemManager's Huawei plugin tests);
 * IMEIs and ICCIDs carry valid Luhn digits. Boot delays are shortened from
 * seconds to fractions of one so tests stay fast; their order is the real one.
 */
static const struct ms_profile profiles[] = {
    {
        .name = "sim800",
        .cgmi = "SIMCOM_Ltd",
        .cgmm = "SIMCOM_SIM800L",
        .cgmr = "Revision:1418B04SIM800L24",
        .cgmr_prefix = "",
        .ati = {"SIM800 R14.18"},
        .imei = "869988012345670",
        .iccid = "8933012405123456783",
        .imsi = "208011234567890",
        .msisdn = "+33612345670",
        .iccid_cmd = NULL,
        .ccid_prefix = "",
        .oper = "Orange F",
        .oper_num = "20801",
        .act = -1, /* SIM800 is GSM only and prints no <AcT> */
        .creg_act = false,
        /* Autobaud is the factory default: RDY and friends go out at a rate
         * the host has not chosen yet, so the host only sees what comes
         * after its first AT (S8-AT pp. 350–352). */
        .autobaud = true,
        .boot = {{0, MS_GATE_ALWAYS, "RDY"},
                 {0, MS_GATE_ALWAYS, "+CFUN: 1"},
                 {50, MS_GATE_SIM_STATE, NULL},
                 {600, MS_GATE_SIM_READY, "Call Ready"},
                 {700, MS_GATE_SIM_READY, "SMS Ready"}},
        .after_pin = {{0, MS_GATE_ALWAYS, "+CPIN: READY"},
                      {300, MS_GATE_ALWAYS, "Call Ready"},
                      {400, MS_GATE_ALWAYS, "SMS Ready"}},
        .prompt = "\r\n> ",
        .esc_ok = false,
        .cmt_alpha = "\"\"",
        .mems = {"SM", "ME"},
        .mem_total = 30,
        .idx_base = 1,
        .cdsi_mem = "SM",
        .mr_start = 0,
        /* +CNMI: (0-3),(0-3),(0,2),(0,1),(0,1) */
        .cnmi_mask = {0x0F, 0x0F, 0x05, 0x03, 0x03},
        .cnmi_test = "+CNMI: (0-3),(0-3),(0,2),(0,1),(0,1)",
        .unknown_error = "ERROR",
        .bit = MS_P_SIM800,
    },
    {
        .name = "sim7600",
        .cgmi = "SIMCOM INCORPORATED",
        .cgmm = "SIMCOM_SIM7600E-H",
        .cgmr = "LE20B04SIM7600M22",
        .cgmr_prefix = "+CGMR: ",
        .ati = {"Manufacturer: SIMCOM INCORPORATED", "Model: SIMCOM_SIM7600E-H",
                "Revision: SIM7600M22_V2.0", "IMEI: %IMEI%", "+GCAP: +CGSM"},
        .imei = "862227031234566",
        .iccid = "8933012405123456791",
        .imsi = "208012345678901",
        .msisdn = "+33612345671",
        .iccid_cmd = "CICCID",
        .iccid_prefix = "+ICCID: ",
        .ccid_prefix = "+CCID: ",
        .oper = "Orange F",
        .oper_num = "20801",
        .act = 7,
        .creg_act = true,
        .autobaud = false,
        .boot = {{0, MS_GATE_ALWAYS, "RDY"},
                 {100, MS_GATE_SIM_STATE, NULL},
                 {400, MS_GATE_SIM_READY, "SMS DONE"},
                 {500, MS_GATE_SIM_READY, "PB DONE"}},
        .after_pin = {{0, MS_GATE_ALWAYS, "+CPIN: READY"},
                      {300, MS_GATE_ALWAYS, "SMS DONE"},
                      {400, MS_GATE_ALWAYS, "PB DONE"}},
        .prompt = "\r\n> ",
        .esc_ok = true,
        .cmt_alpha = "\"\"",
        .mems = {"SM", "ME", "SR"},
        .mem_total = 30,
        .cdsi_mem = "SR",
        .mr_start = 0,
        .cnmi_mask = {0x07, 0x0F, 0x05, 0x07, 0x03},
        .cnmi_test = "+CNMI: (0-2),(0-3),(0,2),(0-2),(0,1)",
        .unknown_error = "ERROR",
        .bit = MS_P_SIM7600,
    },
    {
        .name = "ec25",
        .cgmi = "Quectel",
        .cgmm = "EC25",
        .cgmr = "EC25EFAR06A06M4G",
        .cgmr_prefix = "",
        .ati = {"Quectel", "EC25", "Revision: EC25EFAR06A06M4G"},
        .imei = "861675039876542",
        .iccid = "8933012405123456809",
        .imsi = "208013456789012",
        .msisdn = "+33612345672",
        .iccid_cmd = "QCCID",
        .iccid_prefix = "+QCCID: ",
        .ccid_prefix = "+CCID: ",
        .oper = "Orange F",
        .oper_num = "20801",
        .act = 7,
        .creg_act = true,
        .autobaud = false,
        .boot = {{0, MS_GATE_ALWAYS, "RDY"},
                 {50, MS_GATE_ALWAYS, "+CFUN: 1"},
                 {100, MS_GATE_SIM_STATE, NULL},
                 {150, MS_GATE_SIM_READY, "+QUSIM: 1"},
                 {400, MS_GATE_SIM_READY, "+QIND: SMS DONE"},
                 {500, MS_GATE_SIM_READY, "+QIND: PB DONE"}},
        .after_pin = {{0, MS_GATE_ALWAYS, "+CPIN: READY"},
                      {50, MS_GATE_ALWAYS, "+QUSIM: 1"},
                      {300, MS_GATE_ALWAYS, "+QIND: SMS DONE"},
                      {400, MS_GATE_ALWAYS, "+QIND: PB DONE"}},
        .prompt = "\r\n> ",
        .esc_ok = true,
        .cmt_alpha = "",
        .mems = {"ME", "SM"},
        .mem_total = 50,
        .cdsi_mem = "ME",
        .mr_start = 0,
        .cnmi_mask = {0x07, 0x0F, 0x05, 0x07, 0x03},
        .cnmi_test = "+CNMI: (0-2),(0-3),(0,2),(0-2),(0,1)",
        .unknown_error = "ERROR",
        .bit = MS_P_EC25,
    },
    {
        .name = "huawei",
        .cgmi = "huawei",
        .cgmm = "E173",
        .cgmr = "11.126.85.00.209",
        .cgmr_prefix = "",
        .ati = {"Manufacturer: huawei", "Model: E173", "Revision: 11.126.85.00.209", "IMEI: %IMEI%",
                "+GCAP: +CGSM,+DS,+ES"},
        .imei = "351423045678900",
        .iccid = "8933012405123456817",
        .imsi = "208014567890123",
        .msisdn = "",
        .iccid_cmd = "^ICCID",
        .iccid_prefix = "^ICCID: ",
        .ccid_prefix = NULL, /* no AT+CCID on the E173 */
        .iccid_swapped = true,
        .oper = "Orange F",
        .oper_num = "20801",
        .act = 2,
        .creg_act = false,
        .autobaud = false,
        /* Sticks boot with USB, before the host opens the port; what the
         * host sees are the periodic ^RSSI/^BOOT/^MODE lines. */
        .boot = {{0, MS_GATE_ALWAYS, NULL}},
        .after_pin = {{0, MS_GATE_ALWAYS, NULL}},
        .periodic_rssi = true,
        .prompt = "\r\n> ",
        .esc_ok = false,
        .cmt_alpha = "",
        .mems = {"SM", "ME"},
        .mem_total = 30,
        .cdsi_mem = "SM",
        .mr_start = 0,
        /* Qualcomm-based: status reports only as +CDSI (ds=2), not ds=1;
         * ModemManager falls back from 2,1,2,1,0 to 2,1,2,2,0 for them. */
        .cnmi_mask = {0x07, 0x0F, 0x05, 0x05, 0x03},
        .cnmi_test = "+CNMI: (0,1,2),(0,1,2,3),(0,2),(0,2),(0,1)",
        .unknown_error = "COMMAND NOT SUPPORT",
        .bit = MS_P_HUAWEI,
    },
};

const struct ms_profile *ms_profile_find(const char *name)
{
    for (size_t i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++)
        if (name && strcmp(profiles[i].name, name) == 0)
            return &profiles[i];
    return NULL;
}

const char *ms_profile_names(void)
{
    return "sim800, sim7600, ec25, huawei";
}
