/*
 * modem: supervision state machine (see modem.h for the shape).
 *
 * Internally a modem is in one public state and one phase. A phase says what
 * the machine waits for: the port, a GPIO sequence, the reply to the one
 * command in flight (`inflight`, matched by sequence number so results of
 * commands abandoned by a reset are ignored), or its timer (`deadline`).
 * Bring-up is a list of stages; table stages run modem_vendor rows, the SIM,
 * registration and stored-message stages are code because they branch.
 */
#include "drivers/modem/modem.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/at/at_parse.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

#define CFUN_TIMEOUT_MS 15000
#define BOOT_SETTLE_MS 2000     /* after a reset, before the first probe */
#define ROW_RETRIES_MAX 10      /* "SIM busy" answers to one row */
#define CMGL_TIMEOUT_MS 30000
#define CMGR_TIMEOUT_MS 10000
#define RESYNC_SETTLE_MS 300    /* after ESC CR, before a command that must not
                                   catch a stray reply */

/* Fixed rows every profile runs first. ATE0's OK is waited for: a booting
 * modem drops early commands (mbed-os PR #11719). ATI names the modem for
 * vendor=auto. */
static const struct modem_row prelude_rows[] = {
    {"ATE0", NULL, 2000, 0, MODEM_H_NONE},
    {"AT+CMEE=1", NULL, 2000, MODEM_ROW_OPTIONAL, MODEM_H_NONE},
    {"ATI", NULL, 3000, MODEM_ROW_OPTIONAL | MODEM_ROW_ANY_LINE, MODEM_H_IDENTIFY},
};

/* After registration: operator in long alphanumeric form, then signal. */
static const struct modem_row post_rows[] = {
    {"AT+COPS=3,0", NULL, 3000, MODEM_ROW_OPTIONAL, MODEM_H_NONE},
    {"AT+COPS?", "+COPS:", 10000, MODEM_ROW_OPTIONAL, MODEM_H_OPERATOR},
    {"AT+CSQ", "+CSQ:", 3000, MODEM_ROW_OPTIONAL, MODEM_H_CSQ},
};

enum stage {
    ST_PRELUDE,
    ST_INIT,
    ST_IDENT,
    ST_SIM,
    ST_SIMROWS,
    ST_SMS,
    ST_REG,
    ST_POST,
    ST_CMGL,
    ST_DONE,
};

static const char *const stage_names[] = {
    [ST_PRELUDE] = "echo off", [ST_INIT] = "vendor init", [ST_IDENT] = "identity",
    [ST_SIM] = "sim",          [ST_SIMROWS] = "sim identity", [ST_SMS] = "sms setup",
    [ST_REG] = "registration", [ST_POST] = "operator",       [ST_CMGL] = "stored messages",
    [ST_DONE] = "ready",
};

enum phase {
    PH_IDLE,        /* not started / stopped */
    PH_OPENING,     /* OPEN/REOPEN issued, waiting for the port */
    PH_ABSENT,      /* port missing: REOPEN at deadline */
    PH_POWER,       /* gpio_seq running */
    PH_BOOT,        /* after a reset: wait, then probe */
    PH_SYNC,        /* "AT" probes */
    PH_CMD,         /* bring-up command in flight */
    PH_RETRY,       /* re-submit last command at deadline */
    PH_REG_WAIT,    /* poll registration at deadline */
    PH_READY,       /* ready or busy; housekeeping */
    PH_CFUN,        /* AT+CFUN=1,1 in flight */
    PH_BACKOFF,     /* recovering: rung at deadline */
    PH_FAILED,
};

enum cmd_kind {
    CK_NONE,
    CK_PROBE,
    CK_ROW,
    CK_CPIN_Q,
    CK_CPIN_SET,
    CK_REG_ENABLE,
    CK_REG_QUERY,
    CK_CMGL,
    CK_CMGR,
    CK_CMGD,
    CK_CNMA,
    CK_CSQ,
    CK_SEND,
    CK_CFUN,
    CK_CPMS,
};

/* Message memories by code; a storage token handed to the owner is
 * code << 16 | index, so "SM" tokens are the plain indices. */
static const char *const mems[] = {"SM", "SR", "ME", "MT", "BM"};
#define MEM_SHIFT 16

static int mem_code(const char *mem)
{
    for (size_t i = 0; i < sizeof(mems) / sizeof(mems[0]); i++)
        if (strcmp(mem, mems[i]) == 0)
            return (int)i;
    return 0;   /* "" or unknown: the one we set with AT+CPMS */
}

static int token_mem(int token)
{
    return token >> MEM_SHIFT;
}

static int token_index(int token)
{
    return token & ((1 << MEM_SHIFT) - 1);
}

struct modem {
    struct modem_cfg cfg;
    char pin[16];
    const struct modem_vendor *v;   /* profile in use (generic until identified) */
    bool auto_vendor;

    enum modem_state state;
    enum phase phase;
    char reason[MODEM_LOG_MAX];
    sg_ms deadline;

    /* command in flight */
    enum cmd_kind inflight;
    uint32_t seq;
    struct modem_action last_at;    /* for re-submission */
    unsigned timeouts;              /* consecutive */

    /* bring-up */
    enum stage stage;
    const struct modem_row *rows;
    size_t nrows, row;
    bool chain_ok;
    unsigned row_retries;
    unsigned probes;
    sg_ms sync_deadline;
    bool answered;
    bool pin_sent;
    sg_ms sim_deadline;
    sg_ms sim_delay;
    size_t regq;                    /* index into v->reg_queries */
    sg_ms reg_deadline;
    bool skip_cmgl;

    /* recovery */
    enum modem_rung rung;           /* next rung to climb */
    enum modem_rung pending_rung;
    bool fail_final;                /* needs a human: no automatic retry */
    bool boot_pending;              /* reset done, first sync not yet started */
    bool port_lost;                 /* the port vanished during a power sequence */
    sg_ms ready_since;
    unsigned garbage;
    sg_ms garbage_since;
    struct gpio_seq seq_gpio;

    /* ready housekeeping */
    sg_ms csq_due;
    int readq[MODEM_READQ_MAX];
    size_t nread;
    int delq[MODEM_DELQ_MAX];
    size_t ndel;
    bool rescan;
    bool cnma_pending;
    bool probe_pending;
    bool reg_lost;
    int cur_index;                  /* storage token of the CMGR/CMGD in flight */
    int mem1;                       /* memory code AT+CMGR/CMGD address now */
    int mem_target;                 /* memory code of the AT+CPMS in flight */
    sg_ms cmd_deadline;             /* watchdog of the command in flight */

    /* the job slot */
    struct modem_job job;
    char job_hex[MODEM_PDU_HEX_MAX];
    bool job_started;

    struct modem_identity id;

    /* step context */
    sg_ms now;
    int gpio_status;
    struct modem_actions *out;
};

/* ------------------------------------------------------------ actions */

static struct modem_action *emit(struct modem *m, enum modem_act_type t)
{
    struct modem_actions *o = m->out;
    if (o->n >= MODEM_ACTIONS_MAX) {
        o->overflow = true;
        memset(&o->spare, 0, sizeof(o->spare));
        return &o->spare;
    }
    struct modem_action *a = &o->a[o->n++];
    memset(a, 0, sizeof(*a));
    a->type = t;
    return a;
}

__attribute__((format(printf, 3, 4))) static void logf_(struct modem *m, enum modem_log_level lv,
                                                        const char *fmt, ...)
{
    struct modem_action *a = emit(m, MODEM_ACT_LOG);
    a->u.log.level = lv;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->u.log.text, sizeof(a->u.log.text), fmt, ap);
    va_end(ap);
}

static void set_state(struct modem *m, enum modem_state to, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_state(struct modem *m, enum modem_state to, const char *fmt, ...)
{
    char why[MODEM_LOG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    if (to == m->state && strcmp(why, m->reason) == 0)
        return;
    enum modem_state from = m->state;
    m->state = to;
    snprintf(m->reason, sizeof(m->reason), "%s", why);
    if (from == to)
        return;
    struct modem_action *a = emit(m, MODEM_ACT_STATE);
    a->u.state.from = from;
    a->u.state.to = to;
    snprintf(a->u.state.reason, sizeof(a->u.state.reason), "%s", why);
    logf_(m, to == MODEM_FAILED ? MODEM_LOG_ERR : MODEM_LOG_INFO,
          "event=state from=%s to=%s reason=\"%s\"", modem_state_name(from), modem_state_name(to),
          why);
    if (to == MODEM_READY && from != MODEM_BUSY)
        m->ready_since = m->now;
}

/* The channel always answers (a result, a timeout or an abort); this only
 * guards against an answer lost in the glue, which would stall the modem. */
static void arm_watchdog(struct modem *m, const struct modem_action *a)
{
    sg_ms t = a->u.at.timeout_ms ? a->u.at.timeout_ms : AT_CHAN_DEFAULT_TIMEOUT_MS;
    if (a->u.at.payload)
        t += a->u.at.prompt_timeout_ms ? a->u.at.prompt_timeout_ms
                                       : AT_CHAN_DEFAULT_PROMPT_TIMEOUT_MS;
    /* the channel may resync (ESC, up to 5 probes) before it sends */
    m->cmd_deadline = m->now + t + MODEM_WATCHDOG_GRACE_MS;
}

static void submit(struct modem *m, enum cmd_kind kind, const char *text, const char *expect,
                   unsigned flags, sg_ms timeout_ms)
{
    struct modem_action *a = emit(m, MODEM_ACT_AT);
    snprintf(a->u.at.text, sizeof(a->u.at.text), "%s", text);
    a->u.at.expect = expect;
    a->u.at.flags = flags;
    a->u.at.timeout_ms = timeout_ms;
    a->seq = ++m->seq;
    m->inflight = kind;
    m->last_at = *a;
    arm_watchdog(m, a);
}

static void resubmit(struct modem *m, enum cmd_kind kind)
{
    struct modem_action *a = emit(m, MODEM_ACT_AT);
    *a = m->last_at;
    a->seq = ++m->seq;
    m->last_at.seq = a->seq;
    m->inflight = kind;
    arm_watchdog(m, a);
}

static void submit_row(struct modem *m, const struct modem_row *r)
{
    unsigned fl = (r->flags & MODEM_ROW_ANY_LINE) ? AT_CMD_ANY_LINE : 0;
    submit(m, CK_ROW, r->cmd, r->expect, fl, r->timeout_ms);
}

/* ------------------------------------------------------------ helpers */

static void copy_field(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src ? src : "");
}

static bool is_garbage(const char *line)
{
    for (const unsigned char *p = (const unsigned char *)line; *p; p++)
        if ((*p < 0x20 && *p != '\t') || *p >= 0x7f)
            return true;
    return false;
}

static bool in_list(const char *const *list, const char *line, bool prefix)
{
    for (size_t i = 0; list && list[i]; i++) {
        if (prefix ? strncmp(line, list[i], strlen(list[i])) == 0 : strcmp(line, list[i]) == 0)
            return true;
    }
    return false;
}

static int hex_nibble(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Octet at hex[2*i], or -1 past the end or on a non-hex digit. */
static int hex_octet(const char *hex, size_t len, size_t i)
{
    if (2 * i + 1 >= len)
        return -1;
    int hi = hex_nibble(hex[2 * i]), lo = hex_nibble(hex[2 * i + 1]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

/* The MTI of a PDU as the modem hands it (SMSC field first): 0 DELIVER,
 * 2 STATUS-REPORT in the inbound direction; -1 if it is too short. */
static int pdu_mti(const char *hex)
{
    if (!hex)
        return -1;
    size_t len = strlen(hex);
    int smsc = hex_octet(hex, len, 0);
    if (smsc < 0)
        return -1;
    int fo = hex_octet(hex, len, 1 + (size_t)smsc);
    return fo < 0 ? -1 : fo & 3;
}

static bool busy_code(const struct at_result *r)
{
    /* SIM busy / init in progress right after the PIN (REFERENCE §1.3). */
    if (r->final == AT_FINAL_CME_ERROR)
        return r->code == 14 || r->code == 515;
    if (r->final == AT_FINAL_CMS_ERROR)
        return r->code == 314 || r->code == 515 || r->code == 512;
    return false;
}

static const char *final_text(const struct at_result *r, char *buf, size_t size)
{
    if (r->final == AT_FINAL_CMS_ERROR || r->final == AT_FINAL_CME_ERROR)
        snprintf(buf, size, "%s %d", r->final == AT_FINAL_CMS_ERROR ? "CMS" : "CME", r->code);
    else
        snprintf(buf, size, "%s", at_final_name(r->final));
    return buf;
}

static bool any_registered(const struct modem *m)
{
    return (m->id.creg >= 0 && at_reg_is_registered(m->id.creg)) ||
           (m->id.cgreg >= 0 && at_reg_is_registered(m->id.cgreg) && m->id.creg < 0) ||
           (m->id.cereg >= 0 && at_reg_is_registered(m->id.cereg));
}

/* The stat that explains "not registered" best: denied beats searching. */
static int worst_stat(const struct modem *m)
{
    int s[3] = {m->id.creg, m->id.cgreg, m->id.cereg};
    int best = -1;
    for (int i = 0; i < 3; i++) {
        if (s[i] == AT_REG_DENIED)
            return s[i];
        if (s[i] >= 0 && best < 0)
            best = s[i];
    }
    return best;
}

static void update_reg(struct modem *m, const struct at_reg *r)
{
    if (strcmp(r->cmd, "CREG") == 0)
        m->id.creg = r->stat;
    else if (strcmp(r->cmd, "CGREG") == 0)
        m->id.cgreg = r->stat;
    else
        m->id.cereg = r->stat;
    m->id.registered = any_registered(m);
    m->id.roaming = at_reg_is_roaming(m->id.creg) || at_reg_is_roaming(m->id.cereg);
}

/* ------------------------------------------------------------ forward */

static void stage_start(struct modem *m, enum stage st);
static void start_recovery(struct modem *m, const char *why, enum modem_rung min_rung);
static void run_next(struct modem *m);
static void enter_ready(struct modem *m);
static void start_sync(struct modem *m, sg_ms window);

/* ------------------------------------------------------------ job slot */

static void job_finish(struct modem *m, bool ok, int mr, enum modem_err_class cls, int code,
                       const char *why)
{
    if (m->job.kind == MODEM_JOB_NONE)
        return;
    struct modem_action *a = emit(m, MODEM_ACT_SEND_DONE);
    a->u.send.id = m->job.id;
    a->u.send.ok = ok;
    a->u.send.mr = mr;
    a->u.send.cls = ok ? MODEM_ERR_NONE : cls;
    a->u.send.code = code;
    a->u.send.why = why;
    if (ok)
        logf_(m, MODEM_LOG_INFO, "event=sent job=%llu mr=%d", (unsigned long long)m->job.id, mr);
    else
        logf_(m, MODEM_LOG_WARN, "event=send-failed job=%llu class=%s code=%d why=\"%s\"",
              (unsigned long long)m->job.id, modem_err_class_name(cls), code, why);
    memset(&m->job, 0, sizeof(m->job));
    m->job_started = false;
    if (m->state == MODEM_BUSY)
        set_state(m, MODEM_READY, "job done");
}

/* The modem went away under a job: after the PDU went out it may have been
 * sent, so the owner must not assume either way. */
static void job_abandon(struct modem *m, const char *why)
{
    if (m->job.kind == MODEM_JOB_NONE)
        return;
    bool written = m->job_started && m->inflight == CK_SEND;
    /* A result never came back, so whether the payload was written is not
     * known here: once the command was handed over, call it unknown. */
    job_finish(m, false, -1, written ? MODEM_ERR_UNKNOWN : MODEM_ERR_RETRY_NOW, -1, why);
}

/* ------------------------------------------------------------ failing */

static void fail(struct modem *m, bool final, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void fail(struct modem *m, bool final, const char *fmt, ...)
{
    char why[MODEM_LOG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    job_abandon(m, why);
    m->inflight = CK_NONE;
    m->phase = PH_FAILED;
    m->fail_final = final;
    m->deadline = final ? SG_MS_NEVER : m->now + MODEM_FAILED_RETRY_MS;
    set_state(m, MODEM_FAILED, "%s", why);
}

/* ------------------------------------------------------------ row handlers */

/* The first clean info line: line noise (wrong baud, a brown-out) must not
 * end up as a model name or an IMEI. */
static const char *first_line(const struct at_result *r)
{
    for (size_t i = 0; i < r->nlines; i++)
        if (r->lines[i] && r->lines[i][0] && !is_garbage(r->lines[i]))
            return r->lines[i];
    return NULL;
}

/* Identity replies are one value line; noise can only come before it, so
 * the last clean line that parses wins. */
static void parse_last(const struct at_result *res, int (*parse)(const char *, char *, size_t),
                       char *out, size_t size)
{
    char tmp[MODEM_FIELD_MAX];
    for (size_t i = res->nlines; i-- > 0;) {
        if (is_garbage(res->lines[i]) || parse(res->lines[i], tmp, sizeof(tmp)) != 0 || !tmp[0])
            continue;
        copy_field(out, size, tmp);
        return;
    }
}

static int handle_iccid(struct modem *m, const char *line)
{
    const char *rest = at_parse_after(line, "+CRSM:");
    if (rest) {
        /* +CRSM: 144,0,"98940120..." : the raw EF_ICCID, nibble-swapped. */
        struct at_fields f;
        char raw[40];
        if (at_parse_fields(rest, &f) != 0 || f.n < 3 || f.f[2].len >= sizeof(raw))
            return -EINVAL;
        memcpy(raw, f.f[2].s, f.f[2].len);
        raw[f.f[2].len] = '\0';
        return at_parse_ccid(raw, m->id.iccid, sizeof(m->id.iccid));
    }
    return at_parse_ccid(line, m->id.iccid, sizeof(m->id.iccid));
}

static void identify(struct modem *m, const char *text)
{
    if (!m->auto_vendor)
        return;
    const struct modem_vendor *v = modem_vendor_identify(text);
    if (v != m->v || m->id.vendor[0] == '\0') {
        m->v = v;
        copy_field(m->id.vendor, sizeof(m->id.vendor), v->name);
        logf_(m, MODEM_LOG_INFO, "event=identify vendor=%s", v->name);
    }
}

static void handle_csq(struct modem *m, const char *line)
{
    struct at_csq q;
    if (!line || at_parse_csq(line, &q) != 0)
        return;
    int dbm = q.has_dbm ? q.dbm : 0;
    const char *band = at_signal_band_name(q.band);
    if (dbm != m->id.rssi_dbm || m->id.band != band) {
        m->id.rssi_dbm = dbm;
        m->id.band = band;
        emit(m, MODEM_ACT_SIGNAL);
        logf_(m, MODEM_LOG_DEBUG, "event=signal dbm=%d band=%s", dbm, band);
    }
}

static void run_handler(struct modem *m, const struct modem_row *r, const struct at_result *res)
{
    const char *l = first_line(res);
    char buf[256];
    switch ((enum modem_handler)r->handler) {
    case MODEM_H_NONE:
        break;
    case MODEM_H_IDENTIFY: {
        size_t off = 0;
        buf[0] = '\0';
        for (size_t i = 0; i < res->nlines && off + 2 < sizeof(buf); i++) {
            if (is_garbage(res->lines[i]))
                continue;
            int k = snprintf(buf + off, sizeof(buf) - off, "%s\n", res->lines[i]);
            if (k < 0)
                break;
            off += (size_t)k;
        }
        identify(m, buf);
        break;
    }
    case MODEM_H_MANUFACTURER:
        parse_last(res, at_parse_cgmi, m->id.manufacturer, sizeof(m->id.manufacturer));
        break;
    case MODEM_H_MODEL:
        parse_last(res, at_parse_cgmm, m->id.model, sizeof(m->id.model));
        break;
    case MODEM_H_FIRMWARE:
        parse_last(res, at_parse_cgmr, m->id.firmware, sizeof(m->id.firmware));
        break;
    case MODEM_H_IMEI:
        parse_last(res, at_parse_cgsn, m->id.imei, sizeof(m->id.imei));
        break;
    case MODEM_H_ICCID:
        for (size_t i = res->nlines; i-- > 0;)
            if (!is_garbage(res->lines[i]) && handle_iccid(m, res->lines[i]) == 0)
                break;
        break;
    case MODEM_H_IMSI:
        parse_last(res, at_parse_cimi, m->id.imsi, sizeof(m->id.imsi));
        break;
    case MODEM_H_MSISDN:
        for (size_t i = 0; i < res->nlines; i++) {
            struct at_cnum c;
            if (at_parse_cnum(res->lines[i], &c) == 0 && c.number[0]) {
                copy_field(m->id.msisdn, sizeof(m->id.msisdn), c.number);
                break;
            }
        }
        break;
    case MODEM_H_SMSC: {
        struct at_csca c;
        if (l && at_parse_csca(l, &c) == 0)
            copy_field(m->id.smsc, sizeof(m->id.smsc), c.number);
        if (!m->id.smsc[0])
            logf_(m, MODEM_LOG_WARN, "event=no-smsc hint=\"sends will fail with CMS 330\"");
        break;
    }
    case MODEM_H_OPERATOR: {
        struct at_cops c;
        if (l && at_parse_cops(l, &c) == 0)
            copy_field(m->id.operator_name, sizeof(m->id.operator_name), c.oper);
        break;
    }
    case MODEM_H_CPMS: {
        struct at_cpms c;
        if (l && at_parse_cpms(l, &c) == 0 && c.nmem > 0)
            logf_(m, MODEM_LOG_DEBUG, "event=storage used=%d total=%d", c.m[0].used,
                  c.m[0].total);
        break;
    }
    case MODEM_H_CNMI: {
        /* AT+CNMI=<mode>,<mt>,<bm>,<ds>,<bfr>: ds 0 means no reports. The
         * rows are ours, so the form is fixed: one digit per field. */
        const char *args = strchr(r->cmd, '=');
        if (args && strlen(args) >= 8)
            m->id.status_reports = args[7] != '0';
        logf_(m, MODEM_LOG_INFO, "event=cnmi cmd=%s", r->cmd);
        break;
    }
    case MODEM_H_CSQ:
        handle_csq(m, l);
        break;
    }
}

/* ------------------------------------------------------------ rows */

static void rows_next(struct modem *m)
{
    while (m->row < m->nrows) {
        const struct modem_row *r = &m->rows[m->row];
        if (!(r->flags & MODEM_ROW_ALT))
            break;
        if (!m->chain_ok)
            break;   /* the row above failed: this alternative runs */
        m->row++;
    }
    if (m->row >= m->nrows) {
        stage_start(m, (enum stage)(m->stage + 1));
        return;
    }
    const struct modem_row *r = &m->rows[m->row];
    if (!(r->flags & MODEM_ROW_ALT))
        m->chain_ok = false;
    m->row_retries = 0;
    m->phase = PH_CMD;
    submit_row(m, r);
}

static void rows_start(struct modem *m, const struct modem_row *rows, size_t n)
{
    m->rows = rows;
    m->nrows = n;
    m->row = 0;
    m->chain_ok = false;
    rows_next(m);
}

static void retry_later(struct modem *m, sg_ms delay)
{
    m->phase = PH_RETRY;
    m->deadline = m->now + delay;
}

static void rows_result(struct modem *m, const struct at_result *res)
{
    const struct modem_row *r = &m->rows[m->row];
    char fb[32];
    if (res->final == AT_FINAL_OK) {
        run_handler(m, r, res);
        m->chain_ok = true;
        m->row++;
        rows_next(m);
        return;
    }
    if (busy_code(res) && ++m->row_retries <= ROW_RETRIES_MAX) {
        retry_later(m, MODEM_SIM_RETRY_MS);
        return;
    }
    logf_(m, MODEM_LOG_DEBUG, "event=row-failed cmd=\"%s\" result=%s", r->cmd,
          final_text(res, fb, sizeof(fb)));
    bool next_alt = m->row + 1 < m->nrows && (m->rows[m->row + 1].flags & MODEM_ROW_ALT);
    if (next_alt || (r->flags & MODEM_ROW_OPTIONAL)) {
        m->row++;
        rows_next(m);
        return;
    }
    fail(m, false, "%s rejected (%s)", r->cmd, final_text(res, fb, sizeof(fb)));
}

/* ------------------------------------------------------------ SIM */

static void sim_ask(struct modem *m)
{
    m->phase = PH_CMD;
    submit(m, CK_CPIN_Q, "AT+CPIN?", "+CPIN:", 0, 5000);
}

static void sim_wait(struct modem *m, const char *what)
{
    if (m->now >= m->sim_deadline) {
        fail(m, false, "SIM not ready (%s)", what);
        return;
    }
    m->phase = PH_RETRY;
    m->deadline = m->now + m->sim_delay;
    m->sim_delay *= 2;
    if (m->sim_delay > MODEM_SIM_RETRY_MAX_MS)
        m->sim_delay = MODEM_SIM_RETRY_MAX_MS;
}

static void sim_pin_state(struct modem *m, const char *s)
{
    copy_field(m->id.pin_state, sizeof(m->id.pin_state), s);
}

static void sim_need_pin(struct modem *m)
{
    sim_pin_state(m, "SIM PIN");
    if (m->pin_sent) {
        /* We gave the PIN once and the SIM still wants one. */
        fail(m, true, "wrong PIN");
        return;
    }
    if (!m->pin[0]) {
        fail(m, true, "PIN needed (none configured)");
        return;
    }
    size_t n = strlen(m->pin);
    if (n < 4 || n > 8 || strspn(m->pin, "0123456789") != n) {
        /* never paste anything but digits into an AT command */
        fail(m, true, "PIN needed (the configured one is not 4 to 8 digits)");
        return;
    }
    char cmd[MODEM_CMD_MAX];
    snprintf(cmd, sizeof(cmd), "AT+CPIN=\"%s\"", m->pin);
    m->pin_sent = true;
    m->phase = PH_CMD;
    logf_(m, MODEM_LOG_INFO, "event=pin action=enter");
    submit(m, CK_CPIN_SET, cmd, NULL, 0, 10000);
}

static void sim_code(struct modem *m, enum at_cpin c)
{
    switch (c) {
    case AT_CPIN_READY:
        sim_pin_state(m, "READY");
        stage_start(m, ST_SIMROWS);
        return;
    case AT_CPIN_SIM_PIN:
        sim_need_pin(m);
        return;
    case AT_CPIN_SIM_PUK:
    case AT_CPIN_SIM_PUK2:
        sim_pin_state(m, "SIM PUK");
        fail(m, true, "SIM PUK needed (SIM locked)");
        return;
    case AT_CPIN_NOT_INSERTED:
        sim_pin_state(m, "NO SIM");
        fail(m, true, "no SIM");
        return;
    case AT_CPIN_NOT_READY:
        sim_wait(m, "not ready");
        return;
    default:
        sim_pin_state(m, at_cpin_name(c));
        fail(m, true, "SIM locked (%s)", at_cpin_name(c));
        return;
    }
}

static void sim_result(struct modem *m, const struct at_result *res)
{
    if (res->final == AT_FINAL_OK) {
        enum at_cpin c;
        const char *l = first_line(res);
        if (l && at_parse_cpin(l, &c) == 0)
            sim_code(m, c);
        else
            sim_wait(m, "no +CPIN line");
        return;
    }
    if (res->final == AT_FINAL_CME_ERROR) {
        switch (res->code) {
        case 10:
            sim_code(m, AT_CPIN_NOT_INSERTED);
            return;
        case 11:
            sim_code(m, AT_CPIN_SIM_PIN);
            return;
        case 12:
            sim_code(m, AT_CPIN_SIM_PUK);
            return;
        case 13:
            sim_pin_state(m, "FAILURE");
            fail(m, true, "SIM failure");
            return;
        default:
            break;
        }
    }
    sim_wait(m, "busy");
}

static void pin_result(struct modem *m, const struct at_result *res)
{
    char fb[32];
    if (res->final == AT_FINAL_OK) {
        /* +CPIN: READY follows as a URC; ask again after a pause, since
         * commands may answer CME 14 for a while (REFERENCE §1.3). */
        sim_wait(m, "after PIN");
        return;
    }
    if (res->final == AT_FINAL_CME_ERROR && res->code == 12) {
        sim_pin_state(m, "SIM PUK");
        fail(m, true, "wrong PIN: SIM now wants the PUK");
        return;
    }
    /* 16 "incorrect password" or anything else: never retried, 3 tries lock. */
    fail(m, true, "wrong PIN (%s)", final_text(res, fb, sizeof(fb)));
}

/* ------------------------------------------------------------ registration */

/* "AT+CEREG?" -> "+CEREG:" (a static string: actions keep the pointer). */
static const char *reg_expect(const char *query)
{
    static const char *const expects[] = {"+CREG:", "+CGREG:", "+CEREG:"};
    for (size_t i = 0; i < N(expects); i++) {
        size_t l = strlen(expects[i]) - 1;
        if (strncmp(query + 2, expects[i], l) == 0 && query[2 + l] == '?')
            return expects[i];
    }
    return NULL;
}

static void reg_poll(struct modem *m)
{
    const char *const *q = m->v->reg_queries;
    if (!q[m->regq]) {
        m->regq = 0;
        if (m->id.registered) {
            stage_start(m, ST_POST);
            return;
        }
        if (m->now >= m->reg_deadline) {
            int s = worst_stat(m);
            if (s == AT_REG_DENIED)
                fail(m, false, "registration denied");
            else
                fail(m, false, "not registered (%s)", s >= 0 ? at_reg_stat_name(s) : "no reply");
            return;
        }
        m->phase = PH_REG_WAIT;
        m->deadline = m->now + MODEM_REG_POLL_MS;
        return;
    }
    m->phase = PH_CMD;
    submit(m, CK_REG_QUERY, q[m->regq], reg_expect(q[m->regq]), 0, 5000);
}

static void reg_enable_next(struct modem *m)
{
    const char *const *q = m->v->reg_queries;
    if (!q[m->regq]) {
        m->regq = 0;
        reg_poll(m);
        return;
    }
    char cmd[MODEM_CMD_MAX];
    /* "AT+CREG?" -> "AT+CREG=1": URCs with <stat> only, what we act on. */
    snprintf(cmd, sizeof(cmd), "%.*s=1", (int)(strlen(q[m->regq]) - 1), q[m->regq]);
    m->phase = PH_CMD;
    submit(m, CK_REG_ENABLE, cmd, NULL, 0, 3000);
}

static void reg_result(struct modem *m, const struct at_result *res)
{
    for (size_t i = 0; i < res->nlines; i++) {
        struct at_reg r;
        if (at_parse_reg(res->lines[i], &r) == 0)
            update_reg(m, &r);
    }
    m->regq++;
    reg_poll(m);
}

/* ------------------------------------------------------------ stages */

static void stage_start(struct modem *m, enum stage st)
{
    m->stage = st;
    switch (st) {
    case ST_PRELUDE:
        rows_start(m, prelude_rows, N(prelude_rows));
        return;
    case ST_INIT:
        rows_start(m, m->v->init, m->v->n_init);
        return;
    case ST_IDENT:
        rows_start(m, m->v->ident, m->v->n_ident);
        return;
    case ST_SIM:
        if (m->auto_vendor && m->v->id == MODEM_VENDOR_GENERIC) {
            char t[2 * MODEM_FIELD_MAX + 2];
            snprintf(t, sizeof(t), "%s %s", m->id.manufacturer, m->id.model);
            identify(m, t);
        }
        m->sim_deadline = m->now + m->cfg.sim_timeout_ms;
        m->sim_delay = MODEM_SIM_RETRY_MS;
        sim_ask(m);
        return;
    case ST_SIMROWS:
        rows_start(m, m->v->sim, m->v->n_sim);
        return;
    case ST_SMS:
        rows_start(m, m->v->sms, m->v->n_sms);
        return;
    case ST_REG:
        m->regq = 0;
        m->reg_deadline = m->now + m->cfg.reg_timeout_ms;
        reg_enable_next(m);
        return;
    case ST_POST:
        rows_start(m, post_rows, N(post_rows));
        return;
    case ST_CMGL:
        if (m->skip_cmgl) {
            stage_start(m, ST_DONE);
            return;
        }
        m->phase = PH_CMD;
        submit(m, CK_CMGL, "AT+CMGL=4", "+CMGL:", 0, CMGL_TIMEOUT_MS);
        return;
    case ST_DONE:
        enter_ready(m);
        return;
    }
}

static void begin_bringup(struct modem *m)
{
    m->pin_sent = false;
    m->skip_cmgl = false;
    m->mem1 = 0;   /* the SMS rows set SM for all three memories */
    m->id.creg = m->id.cgreg = m->id.cereg = -1;
    m->id.registered = false;
    m->timeouts = 0;
    if (m->state != MODEM_INITIALIZING)
        set_state(m, MODEM_INITIALIZING, "modem answers");
    stage_start(m, ST_PRELUDE);
}

static void enter_ready(struct modem *m)
{
    m->phase = PH_READY;
    m->deadline = SG_MS_NEVER;
    m->skip_cmgl = true;
    m->reg_lost = false;
    /* Only the initial sync was needed: the next trouble starts at the
     * bottom. After a real climb, MODEM_STABLE_MS of health resets it. */
    if (m->rung <= MODEM_RUNG_REOPEN)
        m->rung = MODEM_RUNG_RESYNC;
    if (m->cfg.csq_interval_ms > 0)
        m->csq_due = m->now + m->cfg.csq_interval_ms;
    emit(m, MODEM_ACT_IDENTITY);
    set_state(m, m->job.kind != MODEM_JOB_NONE ? MODEM_BUSY : MODEM_READY,
              "registered%s", m->id.roaming ? " (roaming)" : "");
    logf_(m, MODEM_LOG_INFO, "event=ready vendor=%s model=\"%s\" operator=\"%s\" dbm=%d",
          m->v->name, m->id.model, m->id.operator_name, m->id.rssi_dbm);
    run_next(m);
}

/* ------------------------------------------------------------ sync */

static void send_probe(struct modem *m)
{
    m->phase = PH_SYNC;
    m->probes++;
    submit(m, CK_PROBE, "AT", NULL, AT_CMD_NO_RESYNC, MODEM_SYNC_TIMEOUT_MS);
}

/* ESC CR (leaves any stale '> ' prompt, as gammu does), then AT probes until
 * an OK, for at least MODEM_SYNC_PROBES tries or until `window` passes. */
static void start_sync(struct modem *m, sg_ms window)
{
    if (m->boot_pending && window < (sg_ms)m->v->boot_ms)
        window = m->v->boot_ms;   /* still booting after a reset: be patient */
    m->boot_pending = false;
    emit(m, MODEM_ACT_RESYNC);
    m->inflight = CK_NONE;
    m->probes = 0;
    m->sync_deadline = m->now + window;
    send_probe(m);
}

static void probe_result(struct modem *m, const struct at_result *res)
{
    if (res->final == AT_FINAL_OK) {
        m->answered = true;
        logf_(m, MODEM_LOG_DEBUG, "event=sync ok probes=%u", m->probes);
        begin_bringup(m);
        return;
    }
    if (res->final != AT_FINAL_TIMEOUT && res->final != AT_FINAL_ABORTED)
        m->answered = true;   /* ERROR to "AT": something is there, keep trying */
    if (m->probes < MODEM_SYNC_PROBES || m->now < m->sync_deadline) {
        send_probe(m);
        return;
    }
    start_recovery(m, "no answer to AT", m->rung);
}

/* ------------------------------------------------------------ recovery */

static sg_ms rung_backoff(enum modem_rung r)
{
    switch (r) {
    case MODEM_RUNG_RESYNC:
        return MODEM_BACKOFF_RESYNC_MS;
    case MODEM_RUNG_REOPEN:
        return MODEM_BACKOFF_REOPEN_MS;
    case MODEM_RUNG_CFUN:
        return MODEM_BACKOFF_CFUN_MS;
    case MODEM_RUNG_POWER:
        return MODEM_BACKOFF_POWER_MS;
    case MODEM_RUNG_GIVE_UP:
        break;
    }
    return 0;
}

static void power_step(struct modem *m);

static void do_rung(struct modem *m)
{
    enum modem_rung r = m->pending_rung;
    m->rung = r + 1;
    logf_(m, MODEM_LOG_WARN, "event=recovery step=%s", modem_rung_name(r));
    switch (r) {
    case MODEM_RUNG_RESYNC:
        start_sync(m, 0);
        return;
    case MODEM_RUNG_REOPEN:
        m->phase = PH_OPENING;
        emit(m, MODEM_ACT_REOPEN);
        return;
    case MODEM_RUNG_CFUN:
        /* The channel may be half stuck: reset it, and let whatever the
         * modem says to the ESC CR pass before CFUN goes out, so a stray
         * ERROR is not taken for CFUN's answer. */
        emit(m, MODEM_ACT_RESYNC);
        m->phase = PH_CFUN;
        m->deadline = m->now + RESYNC_SETTLE_MS;
        return;
    case MODEM_RUNG_POWER:
        gpio_seq_start(&m->seq_gpio, GPIO_SEQ_POWER_CYCLE, &m->cfg.timing, m->cfg.gpio_wired,
                       m->now);
        m->phase = PH_POWER;
        power_step(m);
        return;
    case MODEM_RUNG_GIVE_UP:
        break;
    }
    fail(m, false, "%s", m->reason);
}

static void start_recovery(struct modem *m, const char *why, enum modem_rung min_rung)
{
    char reason[MODEM_LOG_MAX];
    snprintf(reason, sizeof(reason), "%s", why);
    if ((m->state == MODEM_READY || m->state == MODEM_BUSY) &&
        m->now - m->ready_since >= MODEM_STABLE_MS)
        m->rung = MODEM_RUNG_RESYNC;
    job_abandon(m, reason);
    m->inflight = CK_NONE;
    enum modem_rung r = m->rung > min_rung ? m->rung : min_rung;
    if (r == MODEM_RUNG_POWER && !(m->cfg.gpio_wired & GPIO_PWRKEY))
        r = MODEM_RUNG_GIVE_UP;
    if (r >= MODEM_RUNG_GIVE_UP) {
        fail(m, false, "%s (%s)", reason,
             (m->cfg.gpio_wired & GPIO_PWRKEY) ? "after power cycle" : "no GPIO to power cycle");
        return;
    }
    m->pending_rung = r;
    set_state(m, MODEM_RECOVERING, "%s", reason);
    sg_ms b = rung_backoff(r);
    logf_(m, MODEM_LOG_WARN, "event=recovery-scheduled step=%s backoff_ms=%lld reason=\"%s\"",
          modem_rung_name(r), (long long)b, reason);
    if (b == 0) {
        do_rung(m);
        return;
    }
    m->phase = PH_BACKOFF;
    m->deadline = m->now + b;
}

/* After CFUN=1,1 or a power cycle: echo is back and state forgotten. */
static void after_reset(struct modem *m)
{
    emit(m, MODEM_ACT_RESYNC);
    m->boot_pending = true;
    m->inflight = CK_NONE;
    m->phase = PH_BOOT;
    m->deadline = m->now + BOOT_SETTLE_MS;
}

static void power_step(struct modem *m)
{
    for (int guard = 0; guard < 16; guard++) {
        struct gpio_seq_act a = gpio_seq_step(&m->seq_gpio, m->now, m->gpio_status);
        switch (a.type) {
        case GPIO_SEQ_SET: {
            struct modem_action *x = emit(m, MODEM_ACT_GPIO);
            x->u.gpio.role = a.role;
            x->u.gpio.asserted = a.asserted;
            logf_(m, MODEM_LOG_INFO, "event=gpio line=%s level=%s", gpio_role_name(a.role),
                  a.asserted ? "asserted" : "released");
            continue;
        }
        case GPIO_SEQ_WAIT:
            m->deadline = a.deadline;
            return;
        case GPIO_SEQ_DONE:
            logf_(m, MODEM_LOG_INFO, "event=gpio-done outcome=%s",
                  a.outcome == GPIO_SEQ_CONFIRMED ? "confirmed"
                  : a.outcome == GPIO_SEQ_ALREADY ? "already" : "unconfirmed");
            if (m->state == MODEM_POWERING)
                set_state(m, MODEM_INITIALIZING, "powered on");
            after_reset(m);
            if (m->port_lost) {
                /* reopen once it has had time to enumerate again */
                m->port_lost = false;
                m->phase = PH_ABSENT;
                set_state(m, MODEM_ABSENT, "port gone during power cycle");
            }
            return;
        case GPIO_SEQ_FAILED:
            fail(m, false, "power sequence failed (%s)", strerror(-a.err));
            return;
        }
    }
}

/* ------------------------------------------------------------ ready */

static bool can_send_now(const struct modem *m)
{
    return m->phase == PH_READY && m->inflight == CK_NONE;
}

static void start_job(struct modem *m)
{
    char cmd[MODEM_CMD_MAX];
    snprintf(cmd, sizeof(cmd), "AT+CMGS=%d", m->job.tpdu_len);
    struct modem_action *a = emit(m, MODEM_ACT_AT);
    snprintf(a->u.at.text, sizeof(a->u.at.text), "%s", cmd);
    a->u.at.expect = "+CMGS:";
    a->u.at.timeout_ms = m->v->cmgs_result_ms;
    a->u.at.prompt_timeout_ms = m->v->cmgs_prompt_ms;
    a->u.at.payload = m->job_hex;
    a->seq = ++m->seq;
    m->inflight = CK_SEND;
    m->last_at = *a;
    arm_watchdog(m, a);
    m->job_started = true;
    logf_(m, MODEM_LOG_DEBUG, "event=send job=%llu tpdu_len=%d", (unsigned long long)m->job.id,
          m->job.tpdu_len);
}

static void run_next(struct modem *m)
{
    if (!can_send_now(m))
        return;
    char cmd[MODEM_CMD_MAX];
    if (m->probe_pending) {
        /* Right after a send timeout: make the channel resync now rather
         * than before whatever comes next. */
        m->probe_pending = false;
        submit(m, CK_PROBE, "AT", NULL, 0, MODEM_SYNC_TIMEOUT_MS);
        return;
    }
    if (m->job.kind == MODEM_JOB_SMS && !m->job_started) {
        start_job(m);
        return;
    }
    if (m->cnma_pending) {
        m->cnma_pending = false;
        submit(m, CK_CNMA, "AT+CNMA", NULL, 0, 5000);
        return;
    }
    /* Deletes and reads address mem1: switch it when the head item lives
     * elsewhere (EC25 +CDSI: "SR",n), and back to SM when done. */
    int want = m->ndel ? token_mem(m->delq[0]) : m->nread ? token_mem(m->readq[0]) : 0;
    if (want != m->mem1) {
        m->mem_target = want;
        snprintf(cmd, sizeof(cmd), "AT+CPMS=\"%s\"", mems[want]);
        submit(m, CK_CPMS, cmd, "+CPMS:", 0, 5000);
        return;
    }
    if (m->ndel > 0) {
        m->cur_index = m->delq[0];
        memmove(m->delq, m->delq + 1, --m->ndel * sizeof(m->delq[0]));
        snprintf(cmd, sizeof(cmd), "AT+CMGD=%d", token_index(m->cur_index));
        submit(m, CK_CMGD, cmd, NULL, 0, 5000);
        return;
    }
    if (m->nread > 0) {
        m->cur_index = m->readq[0];
        memmove(m->readq, m->readq + 1, --m->nread * sizeof(m->readq[0]));
        snprintf(cmd, sizeof(cmd), "AT+CMGR=%d", token_index(m->cur_index));
        submit(m, CK_CMGR, cmd, "+CMGR:", 0, CMGR_TIMEOUT_MS);
        return;
    }
    if (m->rescan) {
        m->rescan = false;
        submit(m, CK_CMGL, "AT+CMGL=4", "+CMGL:", 0, CMGL_TIMEOUT_MS);
        return;
    }
    if (m->cfg.csq_interval_ms > 0 && m->now >= m->csq_due) {
        m->csq_due = m->now + m->cfg.csq_interval_ms;
        submit(m, CK_CSQ, "AT+CSQ", "+CSQ:", 0, 3000);
        return;
    }
}

static void queue_read(struct modem *m, int index)
{
    for (size_t i = 0; i < m->nread; i++)
        if (m->readq[i] == index)
            return;
    if (m->nread >= MODEM_READQ_MAX) {
        m->rescan = true;   /* read it on the next listing */
        return;
    }
    m->readq[m->nread++] = index;
}

static void queue_delete(struct modem *m, int index)
{
    for (size_t i = 0; i < m->ndel; i++)
        if (m->delq[i] == index)
            return;
    if (m->ndel >= MODEM_DELQ_MAX) {
        /* Dropped: the message stays stored and is delivered again after
         * the next listing; the owner dedups (its row is committed). */
        logf_(m, MODEM_LOG_WARN, "event=delete-queue-full index=%d", index);
        return;
    }
    m->delq[m->ndel++] = index;
}

/* The modem refused to switch to a memory: forget what lives there rather
 * than ask again and again (logged; it is re-listed after a restart). */
static void drop_mem(struct modem *m, int code)
{
    size_t j = 0;
    for (size_t i = 0; i < m->nread; i++)
        if (token_mem(m->readq[i]) != code)
            m->readq[j++] = m->readq[i];
    m->nread = j;
    j = 0;
    for (size_t i = 0; i < m->ndel; i++)
        if (token_mem(m->delq[i]) != code)
            m->delq[j++] = m->delq[i];
    m->ndel = j;
    logf_(m, MODEM_LOG_WARN, "event=memory-refused mem=%s", mems[code]);
    if (code == 0)
        m->mem1 = 0;   /* cannot get back to SM: assume it is where we are */
}

static void send_result(struct modem *m, const struct at_result *res)
{
    int mr = -1;
    for (size_t i = 0; i < res->nlines; i++)
        if (at_parse_cmgs(res->lines[i], &mr) == 0)
            break;
    switch (res->final) {
    case AT_FINAL_OK:
        job_finish(m, true, mr, MODEM_ERR_NONE, -1, "ok");
        return;
    case AT_FINAL_CMS_ERROR:
        if (res->code == 322)
            m->rescan = true;   /* memory full: read and delete, then retry */
        job_finish(m, false, -1, modem_vendor_cms_class(m->v, res->code), res->code, "cms");
        return;
    case AT_FINAL_CME_ERROR:
        job_finish(m, false, -1, modem_vendor_cme_class(m->v, res->code), res->code, "cme");
        return;
    case AT_FINAL_TIMEOUT:
    case AT_FINAL_ABORTED:
        m->probe_pending = true;
        if (res->payload_written)
            job_finish(m, false, -1, MODEM_ERR_UNKNOWN, -1,
                       res->final == AT_FINAL_TIMEOUT ? "result timeout" : "aborted after payload");
        else
            job_finish(m, false, -1, MODEM_ERR_RETRY_NOW, -1,
                       res->final == AT_FINAL_TIMEOUT ? "prompt timeout" : "aborted");
        return;
    default:
        job_finish(m, false, -1, MODEM_ERR_RETRY_LATER, -1, "error");
        return;
    }
}

static void deliver(struct modem *m, int index, const char *pdu, int len)
{
    int mti = pdu_mti(pdu);
    if (mti < 0 || strlen(pdu) >= MODEM_PDU_HEX_MAX) {
        logf_(m, MODEM_LOG_WARN, "event=bad-pdu index=%d", index);
        return;
    }
    struct modem_action *a = emit(m, mti == 2 ? MODEM_ACT_REPORT : MODEM_ACT_INBOUND);
    a->u.msg.index = index;
    a->u.msg.tpdu_len = len;
    copy_field(a->u.msg.pdu, sizeof(a->u.msg.pdu), pdu);
    logf_(m, MODEM_LOG_INFO, "event=%s index=%d", mti == 2 ? "status-report" : "inbound", index);
}

static void cmgr_result(struct modem *m, const struct at_result *res)
{
    if (res->final != AT_FINAL_OK) {
        char fb[32];
        logf_(m, MODEM_LOG_WARN, "event=read-failed index=%d result=%s", m->cur_index,
              final_text(res, fb, sizeof(fb)));
        return;
    }
    for (size_t i = 0; i < res->nlines; i++) {
        struct at_cmgr h;
        if (at_parse_cmgr_header(res->lines[i], &h) == 0 && res->pdus && res->pdus[i]) {
            if (h.stat == 2 || h.stat == 3)
                return;   /* our own stored SUBMIT: not inbound */
            deliver(m, m->cur_index, res->pdus[i], h.length);
            return;
        }
    }
}

static void cmgl_result(struct modem *m, const struct at_result *res)
{
    for (size_t i = 0; i < res->nlines; i++) {
        struct at_cmgl h;
        if (at_parse_cmgl_header(res->lines[i], &h) == 0 && (h.stat == 0 || h.stat == 1) &&
            h.index >= 0 && h.index < (1 << MEM_SHIFT))
            queue_read(m, m->mem1 << MEM_SHIFT | h.index);
    }
    if (m->nread)
        logf_(m, MODEM_LOG_INFO, "event=stored-messages count=%zu", m->nread);
}

static void lose_registration(struct modem *m)
{
    if (m->state == MODEM_BUSY) {
        m->reg_lost = true;   /* let the job end first; the modem says CMS 331 */
        return;
    }
    if (m->inflight == CK_CMGR)
        m->rescan = true;   /* its result will be ignored: list again later */
    set_state(m, MODEM_INITIALIZING, "registration lost");
    m->stage = ST_REG;
    m->regq = 0;
    m->reg_deadline = m->now + m->cfg.reg_timeout_ms;
    m->phase = PH_REG_WAIT;
    m->deadline = m->now + MODEM_REG_POLL_MS;
}

static void ready_result(struct modem *m, enum cmd_kind k, const struct at_result *res)
{
    switch (k) {
    case CK_SEND:
        send_result(m, res);
        break;
    case CK_CMGR:
        if (res->final == AT_FINAL_TIMEOUT)
            queue_read(m, m->cur_index);
        else
            cmgr_result(m, res);
        break;
    case CK_CMGD:
        if (res->final == AT_FINAL_TIMEOUT)
            queue_delete(m, m->cur_index);
        break;
    case CK_CMGL:
        cmgl_result(m, res);
        break;
    case CK_CSQ:
        if (res->final == AT_FINAL_OK)
            handle_csq(m, first_line(res));
        break;
    case CK_CPMS:
        if (res->final == AT_FINAL_OK)
            m->mem1 = m->mem_target;
        else
            drop_mem(m, m->mem_target);
        break;
    default:
        break;
    }
    if (m->reg_lost && m->state == MODEM_READY) {
        lose_registration(m);
        return;
    }
    run_next(m);
}

/* ------------------------------------------------------------ events */

static void on_at_done(struct modem *m, const struct modem_event *ev)
{
    const struct at_result *res = ev->res;
    if (!res || m->inflight == CK_NONE || ev->seq != m->seq)
        return;   /* a command abandoned by a reset */
    enum cmd_kind k = m->inflight;
    m->inflight = CK_NONE;

    if (k == CK_PROBE && m->phase == PH_SYNC) {
        probe_result(m, res);
        return;
    }
    if (k == CK_CFUN) {
        /* Whatever it answered (or not), the modem is restarting now. */
        after_reset(m);
        return;
    }
    if (res->final == AT_FINAL_TIMEOUT || res->final == AT_FINAL_ABORTED) {
        if (++m->timeouts >= MODEM_TIMEOUTS_MAX) {
            if (k == CK_SEND)
                send_result(m, res);
            char why[MODEM_LOG_MAX];
            snprintf(why, sizeof(why), "%u command timeouts (last %s)", m->timeouts,
                     m->last_at.u.at.text);
            m->timeouts = 0;
            start_recovery(m, why, MODEM_RUNG_RESYNC);
            return;
        }
        if (k == CK_CPIN_SET) {
            /* Never re-send a PIN: ask the SIM what it thinks instead. */
            sim_ask(m);
            return;
        }
        if (m->phase == PH_CMD) {
            resubmit(m, k);   /* the channel resyncs before it goes out */
            return;
        }
    } else {
        m->timeouts = 0;
        m->answered = true;
    }

    if (m->phase == PH_READY) {
        ready_result(m, k, res);
        return;
    }
    switch (k) {
    case CK_ROW:
        rows_result(m, res);
        return;
    case CK_CPIN_Q:
        sim_result(m, res);
        return;
    case CK_CPIN_SET:
        pin_result(m, res);
        return;
    case CK_REG_ENABLE:
        m->regq++;
        reg_enable_next(m);
        return;
    case CK_REG_QUERY:
        reg_result(m, res);
        return;
    case CK_CMGL:
        cmgl_result(m, res);
        stage_start(m, ST_DONE);
        return;
    case CK_SEND:
        send_result(m, res);
        return;
    default:
        return;
    }
}

static void on_at_done(struct modem *m, const struct modem_event *ev);

static void on_timer(struct modem *m)
{
    if (m->inflight != CK_NONE && m->now >= m->cmd_deadline) {
        /* Treat it as a timeout after the payload: for a send, "unknown". */
        logf_(m, MODEM_LOG_ERR, "event=watchdog cmd=\"%s\"", m->last_at.u.at.text);
        struct at_result res = {.final = AT_FINAL_TIMEOUT, .code = -1, .payload_written = true};
        struct modem_event ev = {.type = MODEM_EV_AT_DONE, .res = &res, .seq = m->seq};
        on_at_done(m, &ev);
        return;
    }
    if (m->deadline > m->now)
        goto housekeeping;
    m->deadline = SG_MS_NEVER;
    switch (m->phase) {
    case PH_ABSENT:
        m->phase = PH_OPENING;
        emit(m, MODEM_ACT_REOPEN);
        break;
    case PH_POWER:
        power_step(m);
        break;
    case PH_BOOT:
        start_sync(m, m->v->boot_ms);
        break;
    case PH_RETRY:
        m->phase = PH_CMD;
        if (m->stage == ST_SIM)
            sim_ask(m);
        else
            resubmit(m, CK_ROW);
        break;
    case PH_REG_WAIT:
        if (m->inflight != CK_NONE) {
            /* a housekeeping command from before the loss is still out:
             * one command at a time, ask after it */
            m->deadline = m->now + MODEM_REG_POLL_MS;
            break;
        }
        m->regq = 0;
        reg_poll(m);
        break;
    case PH_BACKOFF:
        do_rung(m);
        break;
    case PH_CFUN:
        if (m->inflight == CK_NONE)
            submit(m, CK_CFUN, m->v->reset_cmd, NULL, AT_CMD_NO_RESYNC, CFUN_TIMEOUT_MS);
        break;
    case PH_FAILED:
        if (!m->fail_final) {
            logf_(m, MODEM_LOG_INFO, "event=retry-after-failure");
            m->rung = MODEM_RUNG_REOPEN;
            m->pending_rung = MODEM_RUNG_REOPEN;
            set_state(m, MODEM_RECOVERING, "retry after failure");
            do_rung(m);
        }
        break;
    default:
        break;
    }
    return;
housekeeping:
    if (m->phase == PH_READY)
        run_next(m);
}

static void on_urc(struct modem *m, const char *line, const char *pdu)
{
    if (!line)
        return;
    if (is_garbage(line)) {
        if (m->now - m->garbage_since > MODEM_GARBAGE_WINDOW_MS) {
            m->garbage_since = m->now;
            m->garbage = 0;
        }
        /* a modem being powered or booting may babble: not a fault */
        if (++m->garbage >= MODEM_GARBAGE_MAX && m->phase != PH_IDLE && m->phase != PH_FAILED &&
            m->phase != PH_POWER && m->phase != PH_BOOT) {
            m->garbage = 0;
            start_recovery(m, "garbage on the line", MODEM_RUNG_RESYNC);
        }
        return;
    }
    if (m->v->ready_urcs[0] && strcmp(line, m->v->ready_urcs[0]) == 0) {
        /* The first boot URC ("RDY"): the modem restarted by itself. */
        if (m->phase == PH_BOOT) {
            start_sync(m, m->v->boot_ms);
        } else if (m->phase != PH_SYNC && m->phase != PH_IDLE && m->phase != PH_FAILED &&
                   m->phase != PH_POWER && m->phase != PH_CFUN && m->answered) {
            job_abandon(m, "modem rebooted");
            logf_(m, MODEM_LOG_WARN, "event=reboot-detected urc=\"%s\"", line);
            set_state(m, MODEM_INITIALIZING, "modem rebooted (%s)", line);
            start_sync(m, m->v->boot_ms);
        }
        return;
    }
    if (in_list(m->v->ready_urcs, line, false)) {
        if (m->phase == PH_BOOT)
            start_sync(m, m->v->boot_ms);
        return;
    }
    struct at_reg reg;
    struct at_mem_index mi;
    int len;
    if (at_parse_reg(line, &reg) == 0) {
        bool was = m->id.registered;
        update_reg(m, &reg);
        if (was && !m->id.registered && (m->state == MODEM_READY || m->state == MODEM_BUSY)) {
            logf_(m, MODEM_LOG_WARN, "event=registration-lost stat=%s", at_reg_stat_name(reg.stat));
            lose_registration(m);
        } else if (!was && m->id.registered && m->phase == PH_REG_WAIT &&
                   m->inflight == CK_NONE) {
            m->deadline = SG_MS_NEVER;
            m->regq = 0;
            reg_poll(m);
        }
        return;
    }
    if (at_parse_cmti(line, &mi) == 0 || at_parse_cdsi(line, &mi) == 0) {
        if (mi.index < 0 || mi.index >= (1 << MEM_SHIFT))
            m->rescan = true;   /* Huawei: +CMTI: "SM",-1 */
        else
            queue_read(m, mem_code(mi.mem) << MEM_SHIFT | mi.index);
        if (m->phase == PH_READY)
            run_next(m);
        return;
    }
    if (at_parse_cmt_header(line, &len, NULL, 0) == 0 || at_parse_cds_header(line, &len) == 0) {
        if (pdu)
            deliver(m, -1, pdu, len);
        return;
    }
    enum at_cpin c;
    if (at_parse_cpin(line, &c) == 0) {
        if (c == AT_CPIN_NOT_INSERTED && (m->state == MODEM_READY || m->state == MODEM_BUSY)) {
            sim_pin_state(m, "NO SIM");
            fail(m, true, "SIM removed");
        }
        return;
    }
    if (in_list(m->v->quiet_urcs, line, true))
        return;
    logf_(m, MODEM_LOG_DEBUG, "event=urc-ignored line=\"%.80s\"", line);
}

static void on_job(struct modem *m, const struct modem_job *job)
{
    if (!job)
        return;
    bool fits = job->kind == MODEM_JOB_SMS && job->pdu_hex &&
                strlen(job->pdu_hex) < sizeof(m->job_hex) && job->tpdu_len > 0;
    if (!modem_can_accept(m) || !fits) {
        struct modem_action *a = emit(m, MODEM_ACT_SEND_DONE);
        a->u.send.id = job->id;
        a->u.send.cls = fits ? MODEM_ERR_RETRY_NOW : MODEM_ERR_PERMANENT;
        a->u.send.code = -1;
        a->u.send.why = fits ? "modem not ready" : "job rejected";
        return;
    }
    m->job = *job;
    copy_field(m->job_hex, sizeof(m->job_hex), job->pdu_hex);
    m->job.pdu_hex = m->job_hex;
    m->job_started = false;
    set_state(m, MODEM_BUSY, "sending");
    run_next(m);
}

static void on_stored(struct modem *m, int index)
{
    if (index >= 0)
        queue_delete(m, index);
    else if (m->v->needs_cnma)
        m->cnma_pending = true;
    if (m->phase == PH_READY)
        run_next(m);
}

static void on_port_opened(struct modem *m)
{
    if (m->phase != PH_OPENING)
        return;
    logf_(m, MODEM_LOG_INFO, "event=port-open");
    if (m->cfg.power_on_at_start && (m->cfg.gpio_wired & GPIO_PWRKEY) && !m->answered &&
        m->state == MODEM_ABSENT) {
        m->cfg.power_on_at_start = false;   /* once per life */
        set_state(m, MODEM_POWERING, "power on");
        gpio_seq_start(&m->seq_gpio, GPIO_SEQ_POWER_ON, &m->cfg.timing, m->cfg.gpio_wired, m->now);
        m->phase = PH_POWER;
        power_step(m);
        return;
    }
    if (m->state == MODEM_ABSENT)
        set_state(m, MODEM_INITIALIZING, "port open");
    if (m->rung < MODEM_RUNG_REOPEN)
        m->rung = MODEM_RUNG_REOPEN;   /* this sync is the resync rung */
    start_sync(m, 0);
}

static void on_port_lost(struct modem *m, const char *why)
{
    if (m->phase == PH_IDLE)
        return;
    if (m->phase == PH_POWER) {
        /* A USB modem's port vanishes when its power goes: that is the
         * sequence working, not a reason to abandon it half way (a SIM800
         * left between its off and on pulses stays off). */
        m->port_lost = true;
        logf_(m, MODEM_LOG_INFO, "event=port-gone-during-power");
        return;
    }
    job_abandon(m, why);
    m->inflight = CK_NONE;
    m->phase = PH_ABSENT;
    m->deadline = m->now + MODEM_REOPEN_RETRY_MS;
    set_state(m, MODEM_ABSENT, "%s", why);
}

void modem_step(struct modem *m, const struct modem_event *ev, sg_ms now, struct modem_actions *out)
{
    out->n = 0;
    out->overflow = false;
    m->out = out;
    m->now = now;
    m->gpio_status = ev->gpio_status;
    if ((m->cfg.gpio_wired & GPIO_STATUS) && ev->gpio_status == 0 &&
        (m->phase == PH_READY || m->phase == PH_REG_WAIT)) {
        /* STATUS fell while the modem was up: it switched itself off (a
         * SIM800 brown-out, a thermal shutdown). Only the power key helps. */
        logf_(m, MODEM_LOG_WARN, "event=status-low");
        start_recovery(m, "modem switched off (STATUS low)", MODEM_RUNG_POWER);
    }
    switch (ev->type) {
    case MODEM_EV_START:
        if (m->phase == PH_IDLE || m->phase == PH_FAILED) {
            m->rung = MODEM_RUNG_RESYNC;
            m->fail_final = false;
            m->phase = PH_OPENING;
            m->deadline = SG_MS_NEVER;
            emit(m, m->state == MODEM_FAILED ? MODEM_ACT_REOPEN : MODEM_ACT_OPEN);
            if (m->state == MODEM_FAILED)
                set_state(m, MODEM_ABSENT, "restart");
        }
        break;
    case MODEM_EV_STOP:
        job_abandon(m, "stopped");
        m->inflight = CK_NONE;
        m->phase = PH_IDLE;
        m->deadline = SG_MS_NEVER;
        emit(m, MODEM_ACT_CLOSE);
        set_state(m, MODEM_ABSENT, "stopped");
        break;
    case MODEM_EV_PORT_OPENED:
        on_port_opened(m);
        break;
    case MODEM_EV_PORT_FAILED:
        if (m->phase == PH_OPENING)
            on_port_lost(m, "port absent");
        break;
    case MODEM_EV_PORT_GONE:
        on_port_lost(m, "port gone (unplugged)");
        break;
    case MODEM_EV_AT_DONE:
        on_at_done(m, ev);
        break;
    case MODEM_EV_RESYNCED:
        if (!ev->ok && m->phase != PH_SYNC && m->phase != PH_IDLE && m->phase != PH_FAILED &&
            m->phase != PH_BACKOFF && m->phase != PH_OPENING && m->phase != PH_ABSENT &&
            m->phase != PH_POWER && m->phase != PH_BOOT)
            start_recovery(m, "no answer after resync", MODEM_RUNG_REOPEN);
        break;
    case MODEM_EV_URC:
        on_urc(m, ev->line, ev->pdu);
        break;
    case MODEM_EV_TIMER:
        on_timer(m);
        break;
    case MODEM_EV_JOB:
        on_job(m, ev->job);
        break;
    case MODEM_EV_STORED:
        on_stored(m, ev->index);
        break;
    }
    m->out = NULL;
}

/* ------------------------------------------------------------ lifecycle */

struct modem *modem_new(const struct modem_cfg *cfg)
{
    struct modem *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->cfg = *cfg;
    if (cfg->pin)
        copy_field(m->pin, sizeof(m->pin), cfg->pin);
    m->cfg.pin = NULL;   /* only the copy is kept */
    if (m->cfg.sim_timeout_ms <= 0)
        m->cfg.sim_timeout_ms = MODEM_DEFAULT_SIM_TIMEOUT_MS;
    if (m->cfg.reg_timeout_ms <= 0)
        m->cfg.reg_timeout_ms = MODEM_DEFAULT_REG_TIMEOUT_MS;
    if (m->cfg.csq_interval_ms == 0)
        m->cfg.csq_interval_ms = MODEM_CSQ_INTERVAL_MS;
    m->auto_vendor = cfg->vendor == NULL;
    m->v = cfg->vendor ? cfg->vendor : modem_vendor_get(MODEM_VENDOR_GENERIC);
    if (!m->auto_vendor)
        copy_field(m->id.vendor, sizeof(m->id.vendor), m->v->name);
    m->state = MODEM_ABSENT;
    m->phase = PH_IDLE;
    m->deadline = SG_MS_NEVER;
    m->csq_due = SG_MS_NEVER;
    m->id.creg = m->id.cgreg = m->id.cereg = -1;
    m->id.band = "unknown";
    m->garbage_since = 0;
    return m;
}

void modem_free(struct modem *m)
{
    if (!m)
        return;
    /* The PIN should not linger in freed memory. */
    memset(m->pin, 0, sizeof(m->pin));
    free(m);
}

sg_ms modem_next_deadline(const struct modem *m)
{
    sg_ms d = m->deadline;
    if (m->inflight != CK_NONE && m->cmd_deadline < d)
        d = m->cmd_deadline;
    if (m->phase == PH_READY && m->inflight == CK_NONE && m->cfg.csq_interval_ms > 0 &&
        m->csq_due < d)
        d = m->csq_due;
    return d;
}

enum modem_state modem_state(const struct modem *m)
{
    return m->state;
}

const char *modem_reason(const struct modem *m)
{
    return m->reason;
}

const struct modem_identity *modem_identity(const struct modem *m)
{
    return &m->id;
}

const struct modem_vendor *modem_vendor(const struct modem *m)
{
    return (m->auto_vendor && m->id.vendor[0] == '\0') ? NULL : m->v;
}

bool modem_can_accept(const struct modem *m)
{
    return m->state == MODEM_READY && m->job.kind == MODEM_JOB_NONE;
}

bool modem_answered(const struct modem *m)
{
    return m->answered;
}

const char *modem_phase_name(const struct modem *m)
{
    switch (m->phase) {
    case PH_IDLE:
        return "idle";
    case PH_OPENING:
    case PH_ABSENT:
        return "port";
    case PH_POWER:
        return "power";
    case PH_BOOT:
    case PH_SYNC:
        return "sync";
    case PH_REG_WAIT:
        return "registration";
    case PH_READY:
        return "ready";
    case PH_CFUN:
    case PH_BACKOFF:
        return "recovery";
    case PH_FAILED:
        return "failed";
    case PH_CMD:
    case PH_RETRY:
        break;
    }
    return stage_names[m->stage];
}

enum modem_rung modem_next_rung(const struct modem *m)
{
    return m->rung;
}

const char *modem_state_name(enum modem_state s)
{
    static const char *const names[] = {
        [MODEM_ABSENT] = "absent",         [MODEM_POWERING] = "powering",
        [MODEM_INITIALIZING] = "initializing", [MODEM_READY] = "ready",
        [MODEM_BUSY] = "busy",             [MODEM_RECOVERING] = "recovering",
        [MODEM_FAILED] = "failed",
    };
    return (unsigned)s < N(names) ? names[s] : "?";
}

const char *modem_rung_name(enum modem_rung r)
{
    static const char *const names[] = {
        [MODEM_RUNG_RESYNC] = "resync", [MODEM_RUNG_REOPEN] = "reopen",
        [MODEM_RUNG_CFUN] = "cfun-reset", [MODEM_RUNG_POWER] = "power-cycle",
        [MODEM_RUNG_GIVE_UP] = "give-up",
    };
    return (unsigned)r < N(names) ? names[r] : "?";
}
