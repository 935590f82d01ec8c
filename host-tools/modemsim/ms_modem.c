#include "host-tools/modemsim/ms_modem.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host-tools/modemsim/ms_int.h"

/* ------------------------------------------------------------ buffers */

int ms_buf_add(struct ms_buf *b, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    if (b->len + n > b->max)
        return -1;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        char *d = realloc(b->d, cap);
        if (!d)
            return -1;
        b->d = d;
        b->cap = cap;
    }
    memcpy(b->d + b->len, p, n);
    b->len += n;
    return 0;
}

int ms_buf_addf(struct ms_buf *b, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    if ((size_t)n >= sizeof(tmp))
        n = (int)sizeof(tmp) - 1;
    return ms_buf_add(b, tmp, (size_t)n);
}

void ms_buf_free(struct ms_buf *b)
{
    free(b->d);
    b->d = NULL;
    b->len = b->cap = 0;
}

/* ------------------------------------------------------------ randomness */

/* xorshift64*: small, seedable, and the same sequence on every machine. */
uint32_t ms_rand(struct ms_modem *m)
{
    uint64_t x = m->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    m->rng = x;
    return (uint32_t)((x * 0x2545F4914F6CDD1DULL) >> 32);
}

double ms_rand_unit(struct ms_modem *m)
{
    return ms_rand(m) / 4294967296.0;
}

/* ------------------------------------------------------------ output */

static void trace(struct ms_modem *m, const char *dir, const char *p, size_t n)
{
    if (m->cfg.trace && n)
        m->cfg.trace(m->cfg.log_ctx, dir, p, n);
}

void ms_emit(struct ms_modem *m, const char *s, size_t n)
{
    if (m->faults.silent || n == 0)
        return;
    if (ms_buf_add(&m->out, s, n) < 0) {
        m->stats.out_dropped += n;
        return;
    }
    trace(m, "out", s, n);
}

static void flush_urc_hold(struct ms_modem *m)
{
    if (m->urc_hold.len && m->mode == MS_IN_CMD && m->busy_until == SG_MS_NEVER) {
        ms_emit(m, m->urc_hold.d, m->urc_hold.len);
        m->urc_hold.len = 0;
    }
}

/* Modems keep URCs back while the host is typing a PDU after the prompt and
 * print them once the send is answered; a URC a command causes (+CPIN: SIM
 * PUK after the third wrong PIN) follows that command's final result.
 * Otherwise they go out at once, even while a slow command (CMGS) is
 * pending, which is the interleaving hosts must survive (REFERENCE §7). */
void ms_urc(struct ms_modem *m, const char *line)
{
    if (m->faults.silent || m->booting)
        return;
    if (m->prof->autobaud && !m->synced)
        return;
    const char *end = m->cfg.urc_crcrlf ? "\r\r\n" : "\r\n";
    if (m->mode == MS_IN_PDU || m->executing) {
        ms_buf_addf(&m->urc_hold, "\r\n%s%s", line, end);
        return;
    }
    char tmp[MS_URC_TEXT_MAX + 8];
    int n = snprintf(tmp, sizeof(tmp), "\r\n%s%s", line, end);
    if (n > 0)
        ms_emit(m, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

void ms_finish_reply(struct ms_modem *m, struct ms_buf *reply, const char *final, sg_ms now,
                     sg_ms extra_delay)
{
    struct ms_buf all = {.max = MS_OUT_MAX};
    if (m->faults.garbage_rate > 0 && ms_rand_unit(m) < m->faults.garbage_rate) {
        unsigned n = 1 + ms_rand(m) % 16;
        for (unsigned i = 0; i < n; i++) {
            uint8_t c = (uint8_t)ms_rand(m);
            ms_buf_add(&all, &c, 1);
        }
        m->stats.garbage_bytes += n;
    }
    size_t first_line = 0; /* end of the reply's first information line */
    if (reply && reply->len > 2) {
        const char *e = memmem(reply->d + 2, reply->len - 2, "\r\n", 2);
        first_line = e ? (size_t)(e - reply->d) + 2 : reply->len;
    }
    if (final && m->mid_urc[0]) {
        if (first_line)
            ms_buf_add(&all, reply->d, first_line);
        ms_buf_addf(&all, "\r\n%s\r\n", m->mid_urc);
        m->mid_urc[0] = '\0';
    } else {
        first_line = 0;
    }
    if (reply && reply->len > first_line)
        ms_buf_add(&all, reply->d + first_line, reply->len - first_line);
    if (final) {
        if (strcmp(final, "OK") == 0 && m->faults.lose_ok > 0) {
            m->faults.lose_ok--;
            m->stats.lost_ok++;
        } else {
            ms_buf_addf(&all, "\r\n%s\r\n", final);
        }
    }
    sg_ms delay = m->faults.latency_ms + extra_delay;
    if (delay > 0) {
        ms_buf_add(&m->held, all.d, all.len);
        m->busy_until = now + delay;
        ms_timer_add(m, m->busy_until, MS_T_RELEASE, 0, 0, NULL);
    } else {
        ms_emit(m, all.d, all.len);
        if (m->reboot_after_reply) {
            m->reboot_after_reply = false;
            ms_modem_reboot(m, now);
        }
        flush_urc_hold(m);
    }
    ms_buf_free(&all);
}

/* ------------------------------------------------------------ timers */

struct ms_timer *ms_timer_add(struct ms_modem *m, sg_ms at, enum ms_timer_kind kind, int a, int b,
                              const char *text)
{
    for (size_t i = 0; i < MS_TIMERS_MAX; i++) {
        struct ms_timer *t = &m->timers[i];
        if (t->used)
            continue;
        memset(t, 0, sizeof(*t));
        t->used = true;
        t->at = at;
        t->kind = kind;
        t->a = a;
        t->b = b;
        if (text)
            snprintf(t->text, sizeof(t->text), "%s", text);
        return t;
    }
    return NULL;
}

sg_ms ms_modem_deadline(const struct ms_modem *m)
{
    sg_ms best = SG_MS_NEVER;
    for (size_t i = 0; i < MS_TIMERS_MAX; i++)
        if (m->timers[i].used && m->timers[i].at < best)
            best = m->timers[i].at;
    return best;
}

/* ------------------------------------------------------------ state */

sg_ms ms_wall(const struct ms_modem *m, sg_ms now)
{
    return now + m->cfg.wall_offset;
}

const char *ms_sim_state_text(const struct ms_modem *m)
{
    switch (m->sim) {
    case MS_SIM_READY:
        return "READY";
    case MS_SIM_PIN:
        return "SIM PIN";
    case MS_SIM_PUK:
        return "SIM PUK";
    case MS_SIM_ABSENT:
        break;
    }
    return "NOT INSERTED";
}

/* Settings a reset puts back to the factory profile (V.250 Z, power-on). */
void ms_reset_settings(struct ms_modem *m)
{
    m->echo = true;
    m->cmee = 0;
    m->creg_n = m->cgreg_n = m->cereg_n = 0;
    m->cops_format = 0;
    static const int cnmi_default[5] = {2, 1, 0, 0, 0};
    memcpy(m->cnmi, cnmi_default, sizeof(m->cnmi));
    m->csms = 0;
    m->curc = true;
    m->mem[0] = m->mem[1] = m->mem[2] = 0;
    snprintf(m->cscs, sizeof(m->cscs), "IRA");
}

static void schedule_steps(struct ms_modem *m, const struct ms_urc_step *steps, sg_ms now)
{
    for (size_t i = 0; i < MS_BOOT_STEPS_MAX; i++) {
        const struct ms_urc_step *s = &steps[i];
        char text[48];
        if (s->gate == MS_GATE_SIM_STATE) {
            snprintf(text, sizeof(text), "+CPIN: %s", ms_sim_state_text(m));
        } else if (!s->line) {
            continue;
        } else if (s->gate == MS_GATE_SIM_READY && m->sim != MS_SIM_READY) {
            continue;
        } else {
            snprintf(text, sizeof(text), "%s", s->line);
        }
        ms_timer_add(m, now + s->after_ms, MS_T_URC, 0, 0, text);
    }
}

static void power_on(struct ms_modem *m, sg_ms now)
{
    memset(m->timers, 0, sizeof(m->timers));
    m->booting = true;
    m->synced = false;
    m->prev_in = 0;
    ms_reset_settings(m);
    m->cfun = 1;
    m->mode = MS_IN_CMD;
    m->in_len = 0;
    m->line_len = 0;
    m->line_overflow = false;
    m->pdu_len = 0;
    m->reboot_armed = false;
    m->held.len = 0;
    m->urc_hold.len = 0;
    m->busy_until = SG_MS_NEVER;
    m->reboot_after_reply = false;
    m->reg_stat = 0;
    m->cnma_wait = false;
    m->direct_n = 0;
    m->periodic_count = 0;
    if (m->sim == MS_SIM_READY || m->sim == MS_SIM_PIN)
        m->sim = m->pin_enabled ? MS_SIM_PIN : MS_SIM_READY;
    ms_timer_add(m, now + m->cfg.boot_ms, MS_T_BOOT_DONE, 0, 0, NULL);
}

static void boot_done(struct ms_modem *m, sg_ms now)
{
    m->booting = false;
    schedule_steps(m, m->prof->boot, now);
    if (m->prof->periodic_rssi)
        ms_timer_add(m, now + m->cfg.urc_period_ms, MS_T_PERIODIC, 0, 0, NULL);
    ms_schedule_registration(m, now);
}

void ms_schedule_registration(struct ms_modem *m, sg_ms now)
{
    if (m->sim != MS_SIM_READY || m->cfun != 1)
        return;
    if (!m->net_available) {
        ms_set_reg(m, m->lost_stat, now);
        return;
    }
    if (m->reg_stat == 1)
        return;
    ms_set_reg(m, 2, now);
    ms_timer_add(m, now + m->cfg.reg_ms, MS_T_REG, 1, 0, NULL);
}

void ms_sim_unlocked(struct ms_modem *m, sg_ms now)
{
    m->sim = MS_SIM_READY;
    m->pin_tries = 3;
    m->puk_tries = 10;
    schedule_steps(m, m->prof->after_pin, now);
    ms_schedule_registration(m, now);
}

static void reg_urc(struct ms_modem *m, const char *name, int n, bool with_act)
{
    char line[96];
    if (n <= 0)
        return;
    bool reg = m->reg_stat == 1 || m->reg_stat == 5;
    if (n >= 2 && reg) {
        const char *ci = m->prof->act == 7 ? "01C3F2A1" : "3C4D";
        if (with_act && m->prof->act >= 0)
            snprintf(line, sizeof(line), "+%s: %d,\"1A2B\",\"%s\",%d", name, m->reg_stat, ci,
                     m->prof->act);
        else
            snprintf(line, sizeof(line), "+%s: %d,\"1A2B\",\"%s\"", name, m->reg_stat, ci);
    } else {
        snprintf(line, sizeof(line), "+%s: %d", name, m->reg_stat);
    }
    ms_urc(m, line);
}

void ms_set_reg(struct ms_modem *m, int stat, sg_ms now)
{
    (void)now;
    if (stat == m->reg_stat)
        return;
    m->reg_stat = stat;
    reg_urc(m, "CREG", m->creg_n, m->prof->creg_act);
    if (ms_cmds_has(m, "CGREG"))
        reg_urc(m, "CGREG", m->cgreg_n, m->prof->creg_act);
    if (ms_cmds_has(m, "CEREG"))
        reg_urc(m, "CEREG", m->cereg_n, true);
    /* Huawei reports the system mode with each change: 5,4 = WCDMA/HSDPA. */
    if (m->prof->periodic_rssi && m->curc)
        ms_urc(m, (stat == 1 || stat == 5) ? "^MODE:5,4" : "^MODE:0,0");
}

/* ------------------------------------------------------------ logging */

void ms_log_pdu(struct ms_modem *m, sg_ms now, const char *hex, int len, int mr, const char *result)
{
    if (!m->cfg.log)
        return;
    json_t *o = json_pack("{s:I,s:s,s:s,s:i,s:o,s:s,s:o}", "t", (json_int_t)ms_wall(m, now),
                          "profile", m->prof->name, "pdu", hex, "len", len, "mr",
                          mr >= 0 ? json_integer(mr) : json_null(), "result", result, "cmgs_us",
                          m->cmgs_us > 0 ? json_integer((json_int_t)m->cmgs_us) : json_null());
    if (!o)
        return;
    char *s = json_dumps(o, JSON_COMPACT);
    if (s)
        m->cfg.log(m->cfg.log_ctx, s);
    free(s);
    json_decref(o);
}

/* ------------------------------------------------------------ input */

/* Finds "AT" in a command line: modems skip anything before it (line noise,
 * the rest of an aborted PDU) and treat a line without it as nothing. */
static const char *find_at(const char *s)
{
    for (; s[0] && s[1]; s++)
        if ((s[0] == 'A' || s[0] == 'a') && (s[1] == 'T' || s[1] == 't'))
            return s + 2;
    return NULL;
}

static void execute_line(struct ms_modem *m, sg_ms now)
{
    m->line[m->line_len] = '\0';
    bool overflow = m->line_overflow;
    m->line_len = 0;
    m->line_overflow = false;
    const char *cmd = find_at(m->line);
    if (!cmd)
        return;
    m->stats.commands++;
    trace(m, "cmd", m->line, strlen(m->line));
    struct ms_buf reply = {.max = MS_OUT_MAX};
    m->executing = true;
    const char *final = overflow ? "ERROR" : ms_cmds_run(m, cmd, &reply, now);
    m->executing = false;
    if (final)
        ms_finish_reply(m, &reply, final, now, 0);
    ms_buf_free(&reply);
}

static void echo_byte(struct ms_modem *m, uint8_t c)
{
    if (m->echo)
        ms_emit(m, (const char *)&c, 1);
}

static void cmd_byte(struct ms_modem *m, uint8_t c, sg_ms now)
{
    if (m->line_len == 0)
        m->line_start_us = m->in_wall_us; /* the last one before the line grows wins */
    if (m->prof->autobaud && !m->synced) {
        /* The rate detector locks on "AT" or "at"; everything before is
         * lost, and the AT itself is then taken as typed. */
        uint8_t prev = m->prev_in;
        m->prev_in = c;
        if (!((prev == 'A' && c == 'T') || (prev == 'a' && c == 't')))
            return;
        m->synced = true;
        m->line[0] = (char)prev;
        m->line_len = 1;
        echo_byte(m, prev);
    }
    switch (c) {
    case '\r':
        echo_byte(m, c);
        execute_line(m, now);
        return;
    case '\n':
    case 0x1A:
    case 0x1B:
        return;
    case 0x08:
        if (m->line_len)
            m->line_len--;
        echo_byte(m, c);
        return;
    default:
        break;
    }
    echo_byte(m, c);
    if (m->line_len < MS_LINE_MAX)
        m->line[m->line_len++] = (char)c;
    else
        m->line_overflow = true;
}

static void process(struct ms_modem *m, sg_ms now)
{
    size_t i = 0;
    m->flushed = false;
    while (i < m->in_len && m->busy_until == SG_MS_NEVER && !m->booting) {
        uint8_t c = m->in[i++];
        if (m->mode == MS_IN_PDU)
            ms_sms_pdu_byte(m, c, now);
        else
            cmd_byte(m, c, now);
        if (m->flushed) {
            m->flushed = false;
            return;
        }
    }
    memmove(m->in, m->in + i, m->in_len - i);
    m->in_len -= i;
}

void ms_modem_stamp_input(struct ms_modem *m, int64_t wall_us)
{
    m->in_wall_us = wall_us;
}

void ms_modem_input(struct ms_modem *m, const uint8_t *buf, size_t n, sg_ms now)
{
    if (m->faults.silent || m->booting) {
        m->stats.in_dropped += n;
        return;
    }
    size_t room = MS_IN_MAX - m->in_len;
    if (n > room) {
        m->stats.in_dropped += n - room;
        n = room;
    }
    memcpy(m->in + m->in_len, buf, n);
    m->in_len += n;
    process(m, now);
}

/* ------------------------------------------------------------ tick */

static void run_timer(struct ms_modem *m, struct ms_timer *t, sg_ms now)
{
    switch (t->kind) {
    case MS_T_BOOT_DONE:
        boot_done(m, now);
        break;
    case MS_T_URC:
        ms_urc(m, t->text);
        break;
    case MS_T_REG:
        if (m->sim == MS_SIM_READY && m->net_available && m->cfun == 1)
            ms_set_reg(m, t->a, now);
        break;
    case MS_T_SR:
        ms_sms_status_due(m, t, now);
        break;
    case MS_T_PERIODIC:
        if (m->curc) {
            char line[32];
            snprintf(line, sizeof(line), "^RSSI:%d", m->reg_stat == 1 ? m->rssi : 99);
            ms_urc(m, line);
            if (m->periodic_count % 4 == 0)
                ms_urc(m, "^BOOT:20952070,0,0,0,72");
            m->periodic_count++;
        }
        ms_timer_add(m, now + m->cfg.urc_period_ms, MS_T_PERIODIC, 0, 0, NULL);
        break;
    case MS_T_CNMA:
        ms_sms_cnma_timeout(m);
        break;
    case MS_T_RELEASE:
        if (m->faults.silent)
            m->held.len = 0;
        ms_emit(m, m->held.d, m->held.len);
        m->held.len = 0;
        m->busy_until = SG_MS_NEVER;
        if (m->reboot_after_reply) {
            m->reboot_after_reply = false;
            ms_modem_reboot(m, now);
            break;
        }
        flush_urc_hold(m);
        process(m, now);
        break;
    }
}

void ms_modem_tick(struct ms_modem *m, sg_ms now)
{
    /* Timers may add timers; the bound keeps a zero-period timer from
     * spinning forever. */
    for (int guard = 0; guard < 4 * MS_TIMERS_MAX; guard++) {
        struct ms_timer *due = NULL;
        for (size_t i = 0; i < MS_TIMERS_MAX; i++) {
            struct ms_timer *t = &m->timers[i];
            if (t->used && t->at <= now && (!due || t->at < due->at))
                due = t;
        }
        if (!due)
            return;
        struct ms_timer copy = *due;
        due->used = false;
        run_timer(m, &copy, now);
    }
}

/* ------------------------------------------------------------ public */

struct ms_modem *ms_modem_new(const struct ms_config *cfg, sg_ms now)
{
    if (!cfg || !cfg->prof)
        return NULL;
    struct ms_modem *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->cfg = *cfg;
    m->prof = cfg->prof;
    m->faults = cfg->faults;
    if (m->faults.cms_code == 0)
        m->faults.cms_code = 500;
    snprintf(m->pin, sizeof(m->pin), "%s", cfg->pin ? cfg->pin : "");
    snprintf(m->puk, sizeof(m->puk), "%s", cfg->puk ? cfg->puk : "12345678");
    snprintf(m->smsc, sizeof(m->smsc), "%s", cfg->smsc ? cfg->smsc : "+33689004000");
    m->cfg.pin = m->cfg.puk = m->cfg.smsc = NULL; /* copied above; callers may free theirs */
    if (m->cfg.urc_period_ms <= 0)
        m->cfg.urc_period_ms = 2000;
    if (m->cfg.cnma_timeout_ms <= 0)
        m->cfg.cnma_timeout_ms = 15000;
    m->rng = cfg->seed ^ 0x9E3779B97F4A7C15ULL;
    if (m->rng == 0)
        m->rng = 1;
    m->out.max = MS_OUT_MAX;
    m->held.max = MS_OUT_MAX;
    m->urc_hold.max = 8192;
    m->pin_enabled = m->pin[0] != '\0';
    m->sim = cfg->sim_missing ? MS_SIM_ABSENT : MS_SIM_READY;
    m->pin_tries = 3;
    m->puk_tries = 10;
    m->net_available = !cfg->no_network;
    m->lost_stat = 2;
    m->rssi = cfg->rssi > 0 && cfg->rssi <= 31 ? cfg->rssi : 20;
    m->sr_delay_ms = cfg->sr_delay_ms;
    m->sr_status = cfg->sr_status;
    m->mr = cfg->mr_start >= 0 ? (uint8_t)cfg->mr_start : m->prof->mr_start;
    power_on(m, now);
    return m;
}

void ms_modem_free(struct ms_modem *m)
{
    if (!m)
        return;
    ms_buf_free(&m->out);
    ms_buf_free(&m->held);
    ms_buf_free(&m->urc_hold);
    free(m);
}

size_t ms_modem_take_output(struct ms_modem *m, uint8_t *buf, size_t cap)
{
    size_t n = m->out.len < cap ? m->out.len : cap;
    if (n == 0)
        return 0;
    memcpy(buf, m->out.d, n);
    memmove(m->out.d, m->out.d + n, m->out.len - n);
    m->out.len -= n;
    return n;
}

void ms_modem_discard_output(struct ms_modem *m)
{
    m->out.len = 0;
}

struct ms_faults *ms_modem_faults(struct ms_modem *m)
{
    return &m->faults;
}

const struct ms_stats *ms_modem_stats(const struct ms_modem *m)
{
    return &m->stats;
}

const char *ms_modem_profile_name(const struct ms_modem *m)
{
    return m->prof->name;
}

void ms_modem_reboot(struct ms_modem *m, sg_ms now)
{
    m->stats.reboots++;
    m->flushed = true;
    power_on(m, now);
}

void ms_modem_urc(struct ms_modem *m, const char *text, bool mid_reply)
{
    if (mid_reply)
        snprintf(m->mid_urc, sizeof(m->mid_urc), "%s", text);
    else
        ms_urc(m, text);
}

void ms_modem_garbage(struct ms_modem *m, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        char c = (char)ms_rand(m);
        ms_emit(m, &c, 1);
    }
    m->stats.garbage_bytes += n;
}

void ms_modem_sim_remove(struct ms_modem *m, sg_ms now)
{
    if (m->sim == MS_SIM_ABSENT)
        return;
    m->sim = MS_SIM_ABSENT;
    ms_urc(m, "+CPIN: NOT INSERTED");
    ms_set_reg(m, 0, now);
}

void ms_modem_sim_insert(struct ms_modem *m, const char *pin, const char *puk, sg_ms now)
{
    if (puk)
        snprintf(m->puk, sizeof(m->puk), "%s", puk);
    if (pin && *pin) {
        snprintf(m->pin, sizeof(m->pin), "%s", pin);
        m->pin_enabled = true;
        m->sim = MS_SIM_PIN;
        m->pin_tries = 3;
        ms_set_reg(m, 0, now);
        ms_urc(m, "+CPIN: SIM PIN");
    } else {
        m->pin_enabled = false;
        ms_sim_unlocked(m, now);
    }
}

void ms_modem_network(struct ms_modem *m, bool available, int lost_stat, sg_ms now)
{
    m->net_available = available;
    if (!available) {
        m->lost_stat = lost_stat == 0 || lost_stat == 3 ? lost_stat : 2;
        ms_set_reg(m, m->lost_stat, now);
    } else {
        ms_schedule_registration(m, now);
    }
}

void ms_modem_set_rssi(struct ms_modem *m, int rssi)
{
    m->rssi = rssi;
}

void ms_modem_set_sr(struct ms_modem *m, sg_ms delay_ms, int st)
{
    if (delay_ms >= 0)
        m->sr_delay_ms = delay_ms;
    if (st >= 0)
        m->sr_status = st;
}

void ms_modem_view(const struct ms_modem *m, struct ms_state_view *v)
{
    memset(v, 0, sizeof(*v));
    v->reg_stat = m->reg_stat;
    v->rssi = m->rssi;
    v->cmee = m->cmee;
    v->mr_next = m->mr;
    v->stored = ms_sms_used(m, m->mem[0]);
    v->cfun = m->cfun;
    v->echo = m->echo;
    v->booting = m->booting;
    v->in_prompt = m->mode == MS_IN_PDU;
    v->sim_present = m->sim != MS_SIM_ABSENT;
    v->sim_state = ms_sim_state_text(m);
    memcpy(v->cnmi, m->cnmi, sizeof(v->cnmi));
}
