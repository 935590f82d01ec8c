/*
 * ms_cmds: the AT commands the simulated modems understand, as one table.
 *
 * A command line (the text after "AT") is split V.250-style into basic
 * commands (E0, V1, &F, S0=0…) and extended ones (+CREG=2;+CSQ), each run in
 * turn; the first failure ends the line with its error, otherwise the line
 * ends with OK. Which modem has which command is a bit mask in the table.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "host-tools/modemsim/ms_int.h"

#define ARGS_MAX 8
#define ARG_LEN  64

enum req_type { REQ_EXEC, REQ_READ, REQ_TEST, REQ_SET };

struct req {
    enum req_type type;
    char name[16]; /* "CREG", "^CURC" */
    int argc;
    char argv[ARGS_MAX][ARG_LEN];
};

enum res { R_OK, R_ERROR, R_UNKNOWN, R_CME, R_CMS, R_PENDING, R_TEXT };

struct out {
    struct ms_buf *reply;
    int code;         /* R_CME / R_CMS */
    const char *text; /* R_TEXT */
};

enum need { N_NONE, N_SIM, N_SMS };

typedef enum res (*handler)(struct ms_modem *m, const struct req *r, struct out *o, sg_ms now);

struct cmd {
    const char *name;
    unsigned profiles;
    enum need need;
    handler fn;
};

static void line(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void line(struct out *o, const char *fmt, ...)
{
    char tmp[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    ms_buf_addf(o->reply, "\r\n%s\r\n", tmp);
}

static enum res cme(struct out *o, int code)
{
    o->code = code;
    return R_CME;
}

static enum res cms(struct out *o, int code)
{
    o->code = code;
    return R_CMS;
}

static int arg_int(const struct req *r, int i, int dflt)
{
    if (i >= r->argc || r->argv[i][0] == '\0')
        return dflt;
    char *end;
    long v = strtol(r->argv[i], &end, 10);
    if (*end != '\0' || v < -1000000 || v > 1000000)
        return -9999;
    return (int)v;
}

/* ------------------------------------------------------------ identity */

static enum res c_cgmi(struct ms_modem *m, const struct req *r, struct out *o, sg_ms now)
{
    (void)now;
    if (r->type == REQ_TEST)
        return R_OK;
    line(o, "%s", m->prof->cgmi);
    return R_OK;
}

static enum res c_cgmm(struct ms_modem *m, const struct req *r, struct out *o, sg_ms now)
{
    (void)now;
    if (r->type == REQ_TEST)
        return R_OK;
    line(o, "%s", m->prof->cgmm);
    return R_OK;
}

static enum res c_cgmr(struct ms_modem *m, const struct req *r, struct out *o, sg_ms now)
{
    (void)now;
    if (r->type == REQ_TEST)
        return R_OK;
    line(o, "%s%s", m->prof->cgmr_prefix, m->prof->cgmr);
    return R_OK;
}

static enum res c_cgsn(struct ms_modem *m, const struct req *r, struct out *o, sg_ms now)
{
    (void)now;
    if (r->type == REQ_TEST)
        return R_OK;
    line(o, "%s", m->prof->imei);
    return R_OK;
}

static enum res c_cimi(struct ms_modem *m, const struct req *r, struct out *o, sg_ms now)
{
    (void)now;
    if (r->type == REQ_TEST)
        return R_OK;
    line(o, "%s", m->prof->imsi);
    return R_OK;
}

static enum res c_ccid(struct ms_modem *m, const struct req *r, struct out *o, sg_ms now)
{
    (void)now;
    if (r->type == REQ_TEST)
        return R_OK;
    line(o, "%s%s", m->prof->ccid_prefix ? m->prof->ccid_prefix : "", m->prof->iccid);
    return R_OK;
}

/* AT+QCCID (EC25), AT+CICCID (SIM7600), AT^ICCID? (Huawei, which prints the
 * raw EF_ICCID with each digit pair swapped, as ModemManager's huawei plugin
 * undoes). */
static enum res c_vendor_iccid(struct ms_modem *m, const struct req *r, struct out *o, sg_ms now)
{
    (void)now;
    if (r->type == REQ_TEST)
        return R_OK;
    if (!m->prof->iccid_swapped) {
        line(o, "%s%s", m->prof->iccid_prefix, m->prof->iccid);
        return R_OK;
    }
    char sw[32] = {0};
    size_t n = strlen(m->prof->iccid);
    size_t j = 0;
    for (size_t i = 0; i < n && j + 2 < sizeof(sw); i += 2) {
        sw[j++] = i + 1 < n ? m->prof->iccid[i + 1] : 'F';
        sw[j++] = m->prof->iccid[i];
    }
    line(o, "%s%s", m->prof->iccid_prefix, sw);
    return R_OK;
}

static enum res c_cnum(struct ms_modem *m, const struct req *r, struct out *o, sg_ms now)
{
    (void)now;
    if (r->type == REQ_TEST)
        return R_OK;
    if (m->prof->msisdn[0])
        line(o, "+CNUM: %s,\"%s\",145", m->prof->cmt_alpha, m->prof->msisdn);
    return R_OK;
}

static enum res c_gcap(struct ms_modem *m, const struct req *r, struct out *o, sg_ms now)
{
    (void)m;
    (void)r;
    (void)now;
    line(o, "+GCAP: +CGSM");
    return R_OK;
}

/* ------------------------------------------------------------ settings */

static enum res c_cmee(struct ms_modem *m, const struct req *r, struct out *o, sg_ms now)
{
    (void)now;
    switch (r->type) {
    case REQ_READ:
        line(o, "+CMEE: %d", m->cmee);
        return R_OK;
    case REQ_TEST:
        line(o, "+CMEE: (0-2)");
        return R_OK;
    case REQ_EXEC:
        m->cmee = 0;
        return R_OK;
    case REQ_SET:
        break;
    }
    int v = arg_int(r, 0, 0);
    if (v < 0 || v > 2)
        return cme(o, 50);
    m->cmee = v;
    return R_OK;
}

static enum res c_cscs(struct ms_modem *m, const struct req *r, struct out *o, sg_ms now)
{
    (void)now;
    static const char *const sets[] = {"IRA", "GSM", "UCS2", "HEX", "PCCP936", NULL};
    switch (r->type) {
    case REQ_READ:
        line(o, "+CSCS: \"%s\"", m->cscs);
        return R_OK;
    case REQ_TEST:
        line(o, "+CSCS: (\"IRA\",\"GSM\",\"UCS2\")");
        return R_OK;
    case REQ_EXEC:
        return R_OK;
    case REQ_SET:
        break;
    }
    for (size_t i = 0; sets[i]; i++) {
        if (strcasecmp(r->argv[0], sets[i]) == 0) {
            snprintf(m->cscs, sizeof(m->cscs), "%s", sets[i]);
            return R_OK;
        }
    }
    return cme(o, 4);
}

static enum res c_cfun(struct ms_modem *m, const struct req *r, struct out *o, sg_ms now)
{
    switch (r->type) {
    case REQ_READ:
        line(o, "+CFUN: %d", m->cfun);
        return R_OK;
    case REQ_TEST:
        line(o, "+CFUN: (0,1,4),(0-1)");
        return R_OK;
    case REQ_EXEC:
        return cme(o, 50);
    case REQ_SET:
        break;
    }
    int fun = arg_int(r, 0, -1), rst = arg_int(r, 1, 0);
    if ((fun != 0 && fun != 1 && fun != 4) || (rst != 0 && rst != 1))
        return cme(o, 50);
    if (rst == 1) {
        m->reboot_after_reply = true;
        return R_OK;
    }
    m->cfun = fun;
    if (fun == 1)
        ms_schedule_registration(m, now);
    else
        ms_set_reg(m, 0, now);
    return R_OK;
}

static enum res c_curc(struct ms_modem *m, const struct req *r, struct out *o, sg_ms now)
{
    (void)now;
    switch (r->type) {
    case REQ_READ:
        line(o, "^CURC: %d", m->curc ? 1 : 0);
        return R_OK;
    case REQ_TEST:
        line(o, "^CURC: (0-1)");
        return R_OK;
    case REQ_EXEC:
        return cme(o, 50);
    case REQ_SET:
        break;
    }
    int v = arg_int(r, 0, -1);
    if (v != 0 && v != 1)
        return cme(o, 50);
    m->curc = v == 1;
    return R_OK;
}

static enum res c_ok(struct ms_modem *m, const struct req *r, struct out *o, sg_ms now)
{
    (void)m;
    (void)r;
    (void)o;
    (void)now;
    return R_OK;
}

static enum res c_cpas(struct ms_modem *m, const struct req *r, struct out *o, sg_ms now)
{
    (void)m;
    (void)now;
    if (r->type == REQ_EXEC)
        line(o, "+CPAS: 0");
    else if (r->type == REQ_TEST)
        line(o, "+CPAS: (0-5)");
    return R_OK;
}

static enum res c_cbc(struct ms_modem *m, const struct req *r, struct out *o, sg_ms now)
{
    (void)m;
    (void)now;
    if (r->type == REQ_EXEC)
        line(o, "+CBC: 0,82,4012");
    return R_OK;
}

static enum res c_ipr(struct ms_modem *m, const struct req *r, struct out *o, sg_ms now)
{
    (void)now;
    if (r->type == REQ_READ)
        line(o, "+IPR: %d", m->prof->autobaud ? 0 : 115200);
    else if (r->type == REQ_TEST)
        line(o, "+IPR: (),(0,1200,2400,4800,9600,19200,38400,57600,115200)");
    return R_OK;
}

static enum res c_cclk(struct ms_modem *m, const struct req *r, struct out *o, sg_ms now)
{
    if (r->type != REQ_READ)
        return R_OK;
    time_t t = (time_t)(ms_wall(m, now) / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    line(o, "+CCLK: \"%02d/%02d/%02d,%02d:%02d:%02d+00\"", tm.tm_year % 100, tm.tm_mon + 1,
         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return R_OK;
}

/* ------------------------------------------------------------ SIM */

/*
 * AT+CPIN? -> +CPIN: READY | SIM PIN | SIM PUK, or +CME ERROR: 10 without SIM.
 * AT+CPIN="1234" -> OK then URC +CPIN: READY; a wrong PIN is +CME ERROR: 16
 * and three of them lock the SIM to SIM PUK. AT+CPIN="<puk>","<new pin>".
 */
static enum res c_cpin(struct ms_modem *m, const struct req *r, struct out *o, sg_ms now)
{
    if (r->type == REQ_TEST)
        return R_OK;
    if (m->sim == MS_SIM_ABSENT)
        return cme(o, 10);
    if (r->type == REQ_READ) {
        line(o, "+CPIN: %s", ms_sim_state_text(m));
        return R_OK;
    }
    if (r->type != REQ_SET || r->argc < 1)
        return cme(o, 50);
    switch (m->sim) {
    case MS_SIM_READY:
        return cme(o, 3);
    case MS_SIM_PIN:
        if (strcmp(r->argv[0], m->pin) == 0) {
            ms_sim_unlocked(m, now);
            return R_OK;
        }
        if (--m->pin_tries <= 0) {
            m->sim = MS_SIM_PUK;
            ms_urc(m, "+CPIN: SIM PUK");
        }
        return cme(o, 16);
    case MS_SIM_PUK:
        if (r->argc < 2 || r->argv[1][0] == '\0')
            return cme(o, 12);
        if (m->puk_tries <= 0)
            return cme(o, 13);
        if (strcmp(r->argv[0], m->puk) != 0) {
            m->puk_tries--;
            return cme(o, 16);
        }
        snprintf(m->pin, sizeof(m->pin), "%s", r->argv[1]);
        ms_sim_unlocked(m, now);
        return R_OK;
    case MS_SIM_ABSENT:
        break;
    }
    return cme(o, 10);
}

/* ------------------------------------------------------------ network */

/*
 * AT+CREG? -> +CREG: <n>,<stat>[,<lac>,<ci>[,<AcT>]]
 * e.g. EC25 with n=2: +CREG: 2,1,"1A2B","01C3F2A1",7
 */
static enum res reg_cmd(struct ms_modem *m, const struct req *r, struct out *o, int *n,
                        const char *name, bool with_act)
{
    switch (r->type) {
    case REQ_TEST:
        line(o, "+%s: (0-2)", name);
        return R_OK;
    case REQ_EXEC:
        *n = 0;
        return R_OK;
    case REQ_SET: {
        int v = arg_int(r, 0, 0);
        if (v < 0 || v > 2)
            return cme(o, 50);
        *n = v;
        return R_OK;
    }
    case REQ_READ:
        break;
    }
    bool reg = m->reg_stat == 1 || m->reg_stat == 5;
    if (*n == 2 && reg) {
        const char *ci = m->prof->act == 7 ? "01C3F2A1" : "3C4D";
        if (with_act && m->prof->act >= 0)
            line(o, "+%s: 2,%d,\"1A2B\",\"%s\",%d", name, m->reg_stat, ci, m->prof->act);
        else
            line(o, "+%s: 2,%d,\"1A2B\",\"%s\"", name, m->reg_stat, ci);
    } else {
        line(o, "+%s: %d,%d", name, *n, m->reg_stat);
    }
    return R_OK;
}

static enum res c_creg(struct ms_modem *m, const struct req *r, struct out *o, sg_ms now)
{
    (void)now;
    return reg_cmd(m, r, o, &m->creg_n, "CREG", m->prof->creg_act);
}

static enum res c_cgreg(struct ms_modem *m, const struct req *r, struct out *o, sg_ms now)
{
    (void)now;
    return reg_cmd(m, r, o, &m->cgreg_n, "CGREG", m->prof->creg_act);
}

static enum res c_cereg(struct ms_modem *m, const struct req *r, struct out *o, sg_ms now)
{
    (void)now;
    return reg_cmd(m, r, o, &m->cereg_n, "CEREG", true);
}

/* AT+CSQ -> +CSQ: <rssi>,<ber>; 99,99 when there is no network. SIM800
 * prints ber 0 when it has none to report; the others 99. */
static enum res c_csq(struct ms_modem *m, const struct req *r, struct out *o, sg_ms now)
{
    (void)now;
    if (r->type == REQ_TEST) {
        line(o, "+CSQ: (0-31,99),(0-7,99)");
        return R_OK;
    }
    bool reg = m->reg_stat == 1 || m->reg_stat == 5;
    if (!reg)
        line(o, "+CSQ: 99,99");
    else
        line(o, "+CSQ: %d,%d", m->rssi, m->prof->act < 0 ? 0 : 99);
    return R_OK;
}

static enum res c_cesq(struct ms_modem *m, const struct req *r, struct out *o, sg_ms now)
{
    (void)now;
    if (r->type == REQ_TEST)
        return R_OK;
    bool reg = m->reg_stat == 1 || m->reg_stat == 5;
    if (!reg)
        line(o, "+CESQ: 99,99,255,255,255,255");
    else
        line(o, "+CESQ: 99,99,255,255,%d,%d", m->rssi / 2 + 5, m->rssi * 2 + 10);
    return R_OK;
}

static enum res c_cgatt(struct ms_modem *m, const struct req *r, struct out *o, sg_ms now)
{
    (void)now;
    if (r->type == REQ_READ)
        line(o, "+CGATT: %d", m->reg_stat == 1 || m->reg_stat == 5);
    else if (r->type == REQ_TEST)
        line(o, "+CGATT: (0,1)");
    return R_OK;
}

static enum res c_cops(struct ms_modem *m, const struct req *r, struct out *o, sg_ms now)
{
    bool reg = m->reg_stat == 1 || m->reg_stat == 5;
    switch (r->type) {
    case REQ_TEST:
        line(o, "+COPS: (2,\"%s\",\"%s\",\"%s\",%d),(3,\"SFR\",\"SFR\",\"20810\",%d),,(0-4),(0-2)",
             m->prof->oper, m->prof->oper, m->prof->oper_num, m->prof->act < 0 ? 0 : m->prof->act,
             m->prof->act < 0 ? 0 : m->prof->act);
        return R_OK;
    case REQ_EXEC:
        return R_OK;
    case REQ_READ:
        if (!reg) {
            line(o, "+COPS: 0");
        } else {
            const char *name = m->cops_format == 2 ? m->prof->oper_num : m->prof->oper;
            if (m->prof->act >= 0)
                line(o, "+COPS: 0,%d,\"%s\",%d", m->cops_format, name, m->prof->act);
            else
                line(o, "+COPS: 0,%d,\"%s\"", m->cops_format, name);
        }
        return R_OK;
    case REQ_SET:
        break;
    }
    int mode = arg_int(r, 0, 0), fmt = arg_int(r, 1, m->cops_format);
    if (mode < 0 || mode > 4 || fmt < 0 || fmt > 2)
        return cme(o, 50);
    if (r->argc >= 2)
        m->cops_format = fmt;
    if (mode == 2)
        ms_set_reg(m, 0, now);
    else if (mode == 0 || mode == 1 || mode == 4)
        ms_schedule_registration(m, now);
    return R_OK;
}

/* ------------------------------------------------------------ SMS settings */

/*
 * AT+CPMS="SM","SM","SM" -> +CPMS: 0,30,0,30,0,30
 * AT+CPMS? -> +CPMS: "SM",0,30,"SM",0,30,"SM",0,30
 * Each memory name is a storage of its own: gammu reads SM and ME in turn
 * and would see every message twice otherwise.
 */
static enum res c_cpms(struct ms_modem *m, const struct req *r, struct out *o, sg_ms now)
{
    (void)now;
    int total = m->prof->mem_total;
    char list[48] = "";
    for (size_t i = 0; i < MS_MEMS_MAX && m->prof->mems[i]; i++) {
        size_t l = strlen(list);
        snprintf(list + l, sizeof(list) - l, "%s\"%s\"", i ? "," : "", m->prof->mems[i]);
    }
    switch (r->type) {
    case REQ_TEST:
        line(o, "+CPMS: (%s),(%s),(%s)", list, list, list);
        return R_OK;
    case REQ_EXEC:
        return cms(o, 302);
    case REQ_READ:
        line(o, "+CPMS: \"%s\",%d,%d,\"%s\",%d,%d,\"%s\",%d,%d", m->prof->mems[m->mem[0]],
             ms_sms_used(m, m->mem[0]), total, m->prof->mems[m->mem[1]], ms_sms_used(m, m->mem[1]),
             total, m->prof->mems[m->mem[2]], ms_sms_used(m, m->mem[2]), total);
        return R_OK;
    case REQ_SET:
        break;
    }
    int sel[3] = {m->mem[0], m->mem[1], m->mem[2]};
    for (int i = 0; i < r->argc && i < 3; i++) {
        if (!r->argv[i][0])
            continue;
        sel[i] = ms_mem_find(m, r->argv[i]);
        if (sel[i] < 0)
            return cms(o, 302);
    }
    memcpy(m->mem, sel, sizeof(sel));
    line(o, "+CPMS: %d,%d,%d,%d,%d,%d", ms_sms_used(m, sel[0]), total, ms_sms_used(m, sel[1]),
         total, ms_sms_used(m, sel[2]), total);
    return R_OK;
}

/*
 * AT+CNMI=<mode>,<mt>,<bm>,<ds>,<bfr>: each value must be one the modem
 * lists in AT+CNMI=?; the Huawei profile refuses ds=1 so a host's fallback
 * to ds=2 (+CDSI) runs (REFERENCE §1.3).
 */
static enum res c_cnmi(struct ms_modem *m, const struct req *r, struct out *o, sg_ms now)
{
    (void)now;
    switch (r->type) {
    case REQ_TEST:
        line(o, "%s", m->prof->cnmi_test);
        return R_OK;
    case REQ_READ:
        line(o, "+CNMI: %d,%d,%d,%d,%d", m->cnmi[0], m->cnmi[1], m->cnmi[2], m->cnmi[3],
             m->cnmi[4]);
        return R_OK;
    case REQ_EXEC:
        return R_OK;
    case REQ_SET:
        break;
    }
    int v[5];
    for (int i = 0; i < 5; i++) {
        v[i] = arg_int(r, i, i < r->argc ? -1 : 0);
        if (i >= r->argc)
            v[i] = i == 0 ? m->cnmi[0] : 0;
        if (v[i] < 0 || v[i] > 7 || !(m->prof->cnmi_mask[i] & (1u << v[i])))
            return cms(o, 303);
    }
    memcpy(m->cnmi, v, sizeof(v));
    return R_OK;
}

static enum res c_cmgf(struct ms_modem *m, const struct req *r, struct out *o, sg_ms now)
{
    (void)m;
    (void)now;
    switch (r->type) {
    case REQ_TEST:
        line(o, "+CMGF: (0)");
        return R_OK;
    case REQ_READ:
        line(o, "+CMGF: 0");
        return R_OK;
    case REQ_EXEC:
        return R_OK;
    case REQ_SET:
        break;
    }
    /* Text mode is not simulated: say so rather than pretend. */
    return arg_int(r, 0, 0) == 0 ? R_OK : cms(o, 303);
}

static enum res c_csca(struct ms_modem *m, const struct req *r, struct out *o, sg_ms now)
{
    (void)now;
    switch (r->type) {
    case REQ_TEST:
        return R_OK;
    case REQ_READ:
        line(o, "+CSCA: \"%s\",%d", m->smsc, m->smsc[0] == '+' ? 145 : 129);
        return R_OK;
    case REQ_EXEC:
        return cms(o, 302);
    case REQ_SET:
        break;
    }
    if (r->argv[0][0] == '\0' || strlen(r->argv[0]) >= sizeof(m->smsc))
        return cms(o, 304);
    snprintf(m->smsc, sizeof(m->smsc), "%s", r->argv[0]);
    return R_OK;
}

static enum res c_csms(struct ms_modem *m, const struct req *r, struct out *o, sg_ms now)
{
    (void)now;
    switch (r->type) {
    case REQ_TEST:
        line(o, "+CSMS: (0,1)");
        return R_OK;
    case REQ_READ:
        line(o, "+CSMS: %d,1,1,1", m->csms);
        return R_OK;
    case REQ_EXEC:
        return cms(o, 302);
    case REQ_SET:
        break;
    }
    int v = arg_int(r, 0, -1);
    if (v != 0 && v != 1)
        return cms(o, 303);
    m->csms = v;
    line(o, "+CSMS: 1,1,1");
    return R_OK;
}

static enum res c_cmms(struct ms_modem *m, const struct req *r, struct out *o, sg_ms now)
{
    (void)m;
    (void)now;
    if (r->type == REQ_READ)
        line(o, "+CMMS: 0");
    else if (r->type == REQ_TEST)
        line(o, "+CMMS: (0-2)");
    else if (r->type == REQ_SET && (arg_int(r, 0, -1) < 0 || arg_int(r, 0, -1) > 2))
        return cms(o, 303);
    return R_OK;
}

/* ------------------------------------------------------------ SMS */

static enum res c_cmgs(struct ms_modem *m, const struct req *r, struct out *o, sg_ms now)
{
    if (r->type == REQ_TEST)
        return R_OK;
    if (r->type != REQ_SET)
        return cms(o, 304);
    int code = ms_sms_cmgs_start(m, arg_int(r, 0, -1), now);
    if (code)
        return cms(o, code);
    return R_PENDING;
}

static struct ms_slot *slot_at(struct ms_modem *m, int idx)
{
    int i = idx - m->prof->idx_base;
    if (i < 0 || i >= m->prof->mem_total)
        return NULL;
    return &m->store[m->mem[0]][i];
}

/* AT+CMGR=<index> -> +CMGR: <stat>,[<alpha>],<length> CR LF <pdu> */
static enum res c_cmgr(struct ms_modem *m, const struct req *r, struct out *o, sg_ms now)
{
    (void)now;
    if (r->type == REQ_TEST)
        return R_OK;
    if (r->type != REQ_SET)
        return cms(o, 302);
    struct ms_slot *s = slot_at(m, arg_int(r, 0, -1));
    if (!s)
        return cms(o, 321);
    if (!s->used)
        return R_OK;
    line(o, "+CMGR: %d,%s,%d", s->stat, m->prof->cmt_alpha, s->len);
    ms_buf_addf(o->reply, "%s\r\n", s->hex);
    if (s->stat == 0)
        s->stat = 1;
    return R_OK;
}

/* AT+CMGL=<stat> -> +CMGL: <index>,<stat>,[<alpha>],<length> CR LF <pdu>
 * for each message; 4 lists all. */
static enum res c_cmgl(struct ms_modem *m, const struct req *r, struct out *o, sg_ms now)
{
    (void)now;
    if (r->type == REQ_TEST) {
        line(o, "+CMGL: (0-4)");
        return R_OK;
    }
    int st = r->type == REQ_EXEC ? 0 : arg_int(r, 0, 0);
    if (st < 0 || st > 4)
        return cms(o, 302);
    for (int i = 0; i < m->prof->mem_total; i++) {
        struct ms_slot *s = &m->store[m->mem[0]][i];
        if (!s->used || (st != 4 && s->stat != st))
            continue;
        line(o, "+CMGL: %d,%d,%s,%d", i + m->prof->idx_base, s->stat, m->prof->cmt_alpha, s->len);
        ms_buf_addf(o->reply, "%s\r\n", s->hex);
        if (s->stat == 0)
            s->stat = 1;
    }
    return R_OK;
}

/* AT+CMGD=<index>[,<delflag>]: flag 1 read, 2 read+sent, 3 +unsent, 4 all. */
static enum res c_cmgd(struct ms_modem *m, const struct req *r, struct out *o, sg_ms now)
{
    (void)now;
    if (r->type == REQ_TEST) {
        line(o, "+CMGD: (%d-%d),(0-4)", m->prof->idx_base,
             m->prof->mem_total - 1 + m->prof->idx_base);
        return R_OK;
    }
    if (r->type != REQ_SET)
        return cms(o, 302);
    int flag = arg_int(r, 1, 0);
    if (flag < 0 || flag > 4)
        return cms(o, 302);
    if (flag == 0) {
        struct ms_slot *s = slot_at(m, arg_int(r, 0, -1));
        if (!s)
            return cms(o, 321);
        s->used = false;
        return R_OK;
    }
    for (int i = 0; i < m->prof->mem_total; i++) {
        struct ms_slot *s = &m->store[m->mem[0]][i];
        if (flag == 4 || (s->stat == 1) || (flag >= 2 && s->stat == 3) ||
            (flag >= 3 && s->stat == 2))
            s->used = false;
    }
    return R_OK;
}

/* AT+CNMA: acknowledges the +CMT/+CDS in flight; only with CSMS=1, and a
 * second ack answers CMS 340 (EC25, REFERENCE §3). */
static enum res c_cnma(struct ms_modem *m, const struct req *r, struct out *o, sg_ms now)
{
    if (r->type == REQ_TEST) {
        line(o, "+CNMA: (0-2)");
        return R_OK;
    }
    if (m->csms != 1)
        return cms(o, 302);
    if (!m->cnma_wait)
        return cms(o, 340);
    m->cnma_wait = false;
    for (size_t i = 0; i < MS_TIMERS_MAX; i++)
        if (m->timers[i].used && m->timers[i].kind == MS_T_CNMA)
            m->timers[i].used = false;
    if (m->direct_n) {
        char next[MS_URC_TEXT_MAX];
        snprintf(next, sizeof(next), "%s", m->direct_q[0]);
        memmove(m->direct_q[0], m->direct_q[1], sizeof(m->direct_q[0]) * (m->direct_n - 1));
        m->direct_n--;
        ms_sms_direct(m, next, now);
    }
    return R_OK;
}

/* ------------------------------------------------------------ table */

static const struct cmd cmds[] = {
    {"CMEE", MS_P_ALL, N_NONE, c_cmee},
    {"CGMI", MS_P_ALL, N_NONE, c_cgmi},
    {"GMI", MS_P_ALL, N_NONE, c_cgmi},
    {"CGMM", MS_P_ALL, N_NONE, c_cgmm},
    {"GMM", MS_P_ALL, N_NONE, c_cgmm},
    {"CGMR", MS_P_ALL, N_NONE, c_cgmr},
    {"GMR", MS_P_ALL, N_NONE, c_cgmr},
    {"CGSN", MS_P_ALL, N_NONE, c_cgsn},
    {"GSN", MS_P_ALL, N_NONE, c_cgsn},
    {"GCAP", MS_P_ALL, N_NONE, c_gcap},
    {"CIMI", MS_P_ALL, N_SIM, c_cimi},
    {"CCID", MS_P_SIM800 | MS_P_SIM7600 | MS_P_EC25, N_SIM, c_ccid},
    {"QCCID", MS_P_EC25, N_SIM, c_vendor_iccid},
    {"CICCID", MS_P_SIM7600, N_SIM, c_vendor_iccid},
    {"^ICCID", MS_P_HUAWEI, N_SIM, c_vendor_iccid},
    {"CNUM", MS_P_ALL, N_SIM, c_cnum},
    {"CPIN", MS_P_ALL, N_NONE, c_cpin},
    {"CREG", MS_P_ALL, N_NONE, c_creg},
    {"CGREG", MS_P_ALL, N_NONE, c_cgreg},
    {"CEREG", MS_P_SIM7600 | MS_P_EC25, N_NONE, c_cereg},
    {"CSQ", MS_P_ALL, N_NONE, c_csq},
    {"CESQ", MS_P_SIM7600 | MS_P_EC25, N_NONE, c_cesq},
    {"COPS", MS_P_ALL, N_NONE, c_cops},
    {"CFUN", MS_P_ALL, N_NONE, c_cfun},
    {"CGATT", MS_P_ALL, N_NONE, c_cgatt},
    {"CUSD", MS_P_ALL, N_NONE, c_ok},
    {"^CURC", MS_P_HUAWEI, N_NONE, c_curc},
    {"^PORTSEL", MS_P_HUAWEI, N_NONE, c_ok}, /* gammu's Huawei init sends ^PORTSEL=1 */
    {"CSCS", MS_P_ALL, N_NONE, c_cscs},
    {"CPMS", MS_P_ALL, N_SMS, c_cpms},
    {"CNMI", MS_P_ALL, N_NONE, c_cnmi},
    {"CMGF", MS_P_ALL, N_NONE, c_cmgf},
    {"CSCA", MS_P_ALL, N_SMS, c_csca},
    {"CSMS", MS_P_ALL, N_NONE, c_csms},
    {"CMMS", MS_P_ALL, N_NONE, c_cmms},
    {"CMGS", MS_P_ALL, N_SMS, c_cmgs},
    {"CMGR", MS_P_ALL, N_SMS, c_cmgr},
    {"CMGL", MS_P_ALL, N_SMS, c_cmgl},
    {"CMGD", MS_P_ALL, N_SMS, c_cmgd},
    {"CNMA", MS_P_ALL, N_NONE, c_cnma},
    {"CSDH", MS_P_ALL, N_NONE, c_ok},
    {"CSMP", MS_P_ALL, N_NONE, c_ok},
    {"CHUP", MS_P_SIM800 | MS_P_SIM7600 | MS_P_EC25, N_NONE, c_ok},
    {"CLCC", MS_P_ALL, N_NONE, c_ok},
    {"CLIP", MS_P_ALL, N_NONE, c_ok},
    {"CRC", MS_P_ALL, N_NONE, c_ok},
    {"CPAS", MS_P_ALL, N_NONE, c_cpas},
    {"CBC", MS_P_SIM800 | MS_P_SIM7600 | MS_P_EC25, N_NONE, c_cbc},
    {"CCLK", MS_P_ALL, N_NONE, c_cclk},
    {"IPR", MS_P_ALL, N_NONE, c_ipr},
    {"IFC", MS_P_ALL, N_NONE, c_ok},
    {"ICF", MS_P_ALL, N_NONE, c_ok},
    {"CIURC", MS_P_SIM800, N_NONE, c_ok},
    {"QINDCFG", MS_P_EC25, N_NONE, c_ok},
    {"QURCCFG", MS_P_EC25, N_NONE, c_ok},
};

static const struct cmd *find_cmd(const struct ms_modem *m, const char *name)
{
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
        if (strcmp(cmds[i].name, name) == 0)
            return (cmds[i].profiles & m->prof->bit) ? &cmds[i] : NULL;
    return NULL;
}

bool ms_cmds_has(const struct ms_modem *m, const char *name)
{
    return find_cmd(m, name) != NULL;
}

/* ------------------------------------------------------------ parsing */

/*
 * Set arguments: <arg>[,<arg>…] up to ';' outside quotes; quotes are removed,
 * spaces outside quotes dropped, empty arguments kept ("" = default).
 * e.g. `"SM","SM",,` -> SM | SM | "" | "". At most ARGS_MAX arguments of
 * ARG_LEN - 1 characters; the rest of a longer one is cut. Returns the
 * position after the arguments.
 */
static const char *parse_args(const char *p, struct req *r)
{
    memset(r->argv, 0, sizeof(r->argv));
    size_t len = 0;
    bool inq = false, full = false;
    r->argc = 1;
    for (; *p && (inq || *p != ';'); p++) {
        char c = *p;
        if (c == '"') {
            inq = !inq;
            continue;
        }
        if (!inq && c == ',') {
            if (r->argc < ARGS_MAX)
                r->argc++;
            else
                full = true; /* arguments past the cap are ignored */
            len = 0;
            continue;
        }
        if ((!inq && c == ' ') || full)
            continue;
        if (len + 1 < ARG_LEN)
            r->argv[r->argc - 1][len++] = c;
    }
    return p;
}

/*
 * One V.250 basic command: <letter>[<digits>], &<letter>[<digits>],
 * S<n>=<v>, S<n>?, or D<rest of line>. e.g. the "E0" and "V1" of "ATE0V1".
 * Digits beyond 6 no longer change the value (no overflow).
 */
static void run_basic(struct ms_modem *m, const char **pp, struct out *o, enum res *res)
{
    const char *p = *pp;
    char c = (char)toupper((unsigned char)*p++);
    bool amp = false;
    if (c == '&') {
        amp = true;
        c = (char)toupper((unsigned char)*p++);
    }
    if (c == 'S' && !amp) { /* S<n>=<v> or S<n>? */
        char *end;
        long reg = strtol(p, &end, 10);
        p = end;
        if (*p == '?') {
            p++;
            line(o, "%03ld", reg == 3 ? 13L : reg == 4 ? 10L : reg == 5 ? 8L : 0L);
        } else if (*p == '=') {
            strtol(p + 1, &end, 10);
            p = end;
        }
        *pp = p;
        *res = R_OK;
        return;
    }
    if (c == 'D' && !amp) { /* voice calls come in a later issue */
        *pp = p + strlen(p);
        o->text = "NO CARRIER";
        *res = R_TEXT;
        return;
    }
    int v = 0;
    bool has_v = false;
    while (isdigit((unsigned char)*p)) {
        if (v < 100000) /* E0000000001 is still E1; no overflow on long runs */
            v = v * 10 + (*p - '0');
        p++;
        has_v = true;
    }
    *pp = p;
    *res = R_OK;
    if (amp) {
        if (c == 'F') {
            ms_reset_settings(m);
        } else if (!strchr("WDCKV", c)) {
            *res = R_UNKNOWN;
        }
        return;
    }
    switch (c) {
    case 'E':
        m->echo = v != 0;
        break;
    case 'V':
        if (has_v && v == 0) /* numeric result codes are not simulated */
            *res = R_ERROR;
        break;
    case 'Z':
        ms_reset_settings(m);
        break;
    case 'I':
        for (size_t i = 0; i < MS_LIST_MAX && m->prof->ati[i]; i++) {
            const char *t = m->prof->ati[i];
            if (strcmp(t, "IMEI: %IMEI%") == 0)
                line(o, "IMEI: %s", m->prof->imei);
            else
                line(o, "%s", t);
        }
        break;
    case 'H':
    case 'Q':
    case 'X':
    case 'L':
    case 'M':
        break;
    case 'A':
        o->text = "NO CARRIER";
        *res = R_TEXT;
        break;
    default:
        *res = R_UNKNOWN;
        break;
    }
}

/*
 * One extended command: +NAME, ^NAME (Huawei), $NAME, #NAME or %NAME, then
 * "=?" (test), "?" (read), "=<args>" (set) or nothing (exec), up to ';'.
 * e.g. `+CNMI=2,1,0,1,0`, `^CURC?`, `+CSQ`. Names are case-insensitive.
 */
static enum res run_extended(struct ms_modem *m, const char **pp, struct out *o, struct req *r,
                             sg_ms now)
{
    const char *p = *pp;
    size_t n = 0;
    if (*p == '^' || *p == '$' || *p == '#' || *p == '%')
        r->name[n++] = *p;
    p++;
    while (isalnum((unsigned char)*p) || *p == '_') {
        if (n + 1 < sizeof(r->name))
            r->name[n++] = (char)toupper((unsigned char)*p);
        p++;
    }
    r->name[n] = '\0';
    r->argc = 0;
    if (p[0] == '=' && p[1] == '?') {
        r->type = REQ_TEST;
        p += 2;
    } else if (p[0] == '?') {
        r->type = REQ_READ;
        p++;
    } else if (p[0] == '=') {
        r->type = REQ_SET;
        p = parse_args(p + 1, r);
    } else {
        r->type = REQ_EXEC;
    }
    /* Anything left before the separator is a syntax error. */
    while (*p == ' ')
        p++;
    *pp = p;
    if (*p && *p != ';')
        return R_ERROR;
    const struct cmd *c = find_cmd(m, r->name);
    if (!c)
        return R_UNKNOWN;
    if (c->need != N_NONE && m->sim != MS_SIM_READY && r->type != REQ_TEST) {
        int base = c->need == N_SMS ? 300 : 0;
        switch (m->sim) {
        case MS_SIM_ABSENT:
            o->code = base + 10;
            break;
        case MS_SIM_PIN:
            o->code = base + 11;
            break;
        default:
            o->code = base + 12;
            break;
        }
        return c->need == N_SMS ? R_CMS : R_CME;
    }
    return c->fn(m, r, o, now);
}

static const char *const cme_text[][2] = {
    {"3", "operation not allowed"},
    {"4", "operation not supported"},
    {"10", "SIM not inserted"},
    {"11", "SIM PIN required"},
    {"12", "SIM PUK required"},
    {"13", "SIM failure"},
    {"14", "SIM busy"},
    {"16", "incorrect password"},
    {"30", "no network service"},
    {"50", "Incorrect parameters"},
    {"100", "unknown"},
};

static const char *final_text(struct ms_modem *m, enum res res, const struct out *o,
                              const char *cmdname)
{
    switch (res) {
    case R_OK:
        return "OK";
    case R_PENDING:
        return NULL;
    case R_TEXT:
        return o->text;
    case R_ERROR:
        return "ERROR";
    case R_UNKNOWN:
        m->stats.unknown++;
        snprintf(m->stats.last_unknown, sizeof(m->stats.last_unknown), "%s", cmdname);
        return m->prof->unknown_error;
    case R_CMS:
        snprintf(m->final_buf, sizeof(m->final_buf), "+CMS ERROR: %d", o->code);
        return m->final_buf;
    case R_CME:
        break;
    }
    if (m->cmee == 0)
        return "ERROR";
    if (m->cmee == 2) {
        char num[12];
        snprintf(num, sizeof(num), "%d", o->code);
        for (size_t i = 0; i < sizeof(cme_text) / sizeof(cme_text[0]); i++) {
            if (strcmp(cme_text[i][0], num) == 0) {
                snprintf(m->final_buf, sizeof(m->final_buf), "+CME ERROR: %s", cme_text[i][1]);
                return m->final_buf;
            }
        }
    }
    snprintf(m->final_buf, sizeof(m->final_buf), "+CME ERROR: %d", o->code);
    return m->final_buf;
}

/*
 * The text after "AT": commands one after the other, extended ones separated
 * by ';' (e.g. "E0;+CMEE=1", "+CGMI;+CGMM", "E0V1"). The first failure stops
 * the line and is its final result.
 */
const char *ms_cmds_run(struct ms_modem *m, const char *cmd, struct ms_buf *reply, sg_ms now)
{
    struct out o = {.reply = reply};
    const char *p = cmd;
    char name[32] = "";
    enum res res = R_OK;
    while (*p) {
        while (*p == ' ' || *p == ';')
            p++;
        if (!*p)
            break;
        o.code = 0;
        if (*p == '+' || *p == '^' || *p == '$' || *p == '#' || *p == '%') {
            struct req r;
            memset(&r, 0, sizeof(r));
            res = run_extended(m, &p, &o, &r, now);
            snprintf(name, sizeof(name), "%s%s", isalpha((unsigned char)r.name[0]) ? "+" : "",
                     r.name);
        } else if (isalpha((unsigned char)*p) || *p == '&') {
            snprintf(name, sizeof(name), "%.2s", p);
            run_basic(m, &p, &o, &res);
        } else {
            res = R_ERROR;
        }
        if (res != R_OK)
            break;
    }
    return final_text(m, res, &o, name);
}
