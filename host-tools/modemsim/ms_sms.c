/*
 * ms_sms: what the simulated modem does with SMS: AT+CMGS after the prompt,
 * status reports, the message storage and inbound messages. PDUs are encoded
 * and checked with drivers/gsm/pdu (one codec for the whole project).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "drivers/gsm/pdu.h"
#include "host-tools/modemsim/ms_int.h"

/* Minimal SUBMIT TPDU: FO MR DA-len DA-TOA PID DCS UDL. */
#define SUBMIT_TPDU_MIN 7
#define SUBMIT_TPDU_MAX 164

int ms_mem_find(const struct ms_modem *m, const char *name)
{
    for (int i = 0; i < MS_MEMS_MAX && m->prof->mems[i]; i++)
        if (strcasecmp(name, m->prof->mems[i]) == 0)
            return i;
    return -1;
}

int ms_sms_used(const struct ms_modem *m, int mem)
{
    int n = 0;
    for (int i = 0; i < m->prof->mem_total; i++)
        n += m->store[mem][i].used;
    return n;
}

int ms_sms_store(struct ms_modem *m, int mem, const char *hex, int len, int stat)
{
    for (int i = 0; i < m->prof->mem_total; i++) {
        struct ms_slot *s = &m->store[mem][i];
        if (s->used)
            continue;
        s->used = true;
        s->stat = stat;
        s->len = len;
        snprintf(s->hex, sizeof(s->hex), "%s", hex);
        return i + m->prof->idx_base;
    }
    return -1;
}

/*
 * AT+CMGS=<length>: CR LF "> " and then the PDU in hex up to Ctrl-Z.
 * <length> counts TPDU octets only (REFERENCE §2).
 */
int ms_sms_cmgs_start(struct ms_modem *m, int len, sg_ms now)
{
    if (len < SUBMIT_TPDU_MIN || len > SUBMIT_TPDU_MAX)
        return 304;
    m->mode = MS_IN_PDU;
    m->pdu_len = 0;
    m->pdu_overflow = false;
    m->cmgs_len = len;
    m->cmgs_us = m->line_start_us;
    if (m->faults.reboot_mid_send) {
        m->faults.reboot_mid_send = false;
        m->reboot_armed = true;
    }
    const char *prompt = m->cfg.prompt ? m->cfg.prompt : m->prof->prompt;
    if (m->faults.latency_ms > 0) {
        ms_buf_add(&m->held, prompt, strlen(prompt));
        m->busy_until = now + m->faults.latency_ms;
        ms_timer_add(m, m->busy_until, MS_T_RELEASE, 0, 0, NULL);
    } else {
        ms_emit(m, prompt, strlen(prompt));
    }
    return 0;
}

static int check_submit(struct ms_modem *m, const char *hex, struct pdu_decoded *d)
{
    uint8_t b[PDU_OCTETS_MAX];
    int n = pdu_hex_decode(hex, strlen(hex), b, sizeof(b), NULL);
    if (n < 1 || 1 + b[0] > n)
        return -EINVAL;
    if (n - 1 - b[0] != m->cmgs_len)
        return -EINVAL;
    if (pdu_decode(b, (size_t)n, PDU_DIR_OUT, m->cmgs_len, d, NULL) < 0)
        return -EINVAL;
    return d->type == PDU_SUBMIT ? 0 : -EINVAL;
}

static void submit(struct ms_modem *m, sg_ms now)
{
    char hex[MS_PDU_HEX_MAX + 1];
    snprintf(hex, sizeof(hex), "%.*s", (int)m->pdu_len, m->pdu);
    m->mode = MS_IN_CMD;
    m->stats.sends++;
    struct pdu_decoded d;
    if (m->pdu_overflow || check_submit(m, hex, &d) < 0) {
        m->stats.sends_bad++;
        ms_log_pdu(m, now, hex, m->cmgs_len, -1, "cms 304");
        ms_finish_reply(m, NULL, "+CMS ERROR: 304", now, 0);
        return;
    }
    int code = 0;
    if (m->faults.cms_count > 0) {
        m->faults.cms_count--;
        code = m->faults.cms_code;
    } else if (m->faults.cms_rate > 0 && ms_rand_unit(m) < m->faults.cms_rate) {
        code = m->faults.cms_code;
    } else if (m->reg_stat != 1 && m->reg_stat != 5) {
        code = 331; /* no network service */
    }
    char final[32];
    if (code) {
        m->stats.sends_err++;
        snprintf(final, sizeof(final), "cms %d", code);
        ms_log_pdu(m, now, hex, m->cmgs_len, -1, final);
        snprintf(final, sizeof(final), "+CMS ERROR: %d", code);
        ms_finish_reply(m, NULL, final, now, m->faults.cmgs_latency_ms);
        return;
    }
    int mr = m->mr++;
    m->stats.sends_ok++;
    ms_log_pdu(m, now, hex, m->cmgs_len, mr, "ok");
    struct ms_buf reply = {.max = 256};
    ms_buf_addf(&reply, "\r\n+CMGS: %d\r\n", mr);
    ms_finish_reply(m, &reply, "OK", now, m->faults.cmgs_latency_ms);
    ms_buf_free(&reply);
    if (d.srr) {
        sg_ms due = now + m->faults.cmgs_latency_ms + m->faults.latency_ms + m->sr_delay_ms;
        struct ms_timer *t = ms_timer_add(m, due, MS_T_SR, mr, m->sr_status, d.number);
        if (t)
            t->wall = ms_wall(m, now); /* when the SMSC took it: the report's SCTS */
    }
}

void ms_sms_pdu_byte(struct ms_modem *m, uint8_t c, sg_ms now)
{
    if (c == 0x1B) { /* ESC: abandon the message */
        char hex[MS_PDU_HEX_MAX + 1];
        snprintf(hex, sizeof(hex), "%.*s", (int)m->pdu_len, m->pdu);
        m->mode = MS_IN_CMD;
        m->reboot_armed = false;
        m->stats.sends_cancel++;
        ms_log_pdu(m, now, hex, m->cmgs_len, -1, "cancel");
        ms_finish_reply(m, NULL, m->prof->esc_ok ? "OK" : NULL, now, 0);
        return;
    }
    /* Reboot fault: the module resets half way through the PDU (a SIM800
     * brown-out under the TX burst); the rest of the line is lost. */
    if (m->reboot_armed && (c == 0x1A || m->pdu_len >= (size_t)m->cmgs_len)) {
        char hex[MS_PDU_HEX_MAX + 1];
        snprintf(hex, sizeof(hex), "%.*s", (int)m->pdu_len, m->pdu);
        ms_log_pdu(m, now, hex, m->cmgs_len, -1, "reboot");
        m->reboot_armed = false;
        ms_modem_reboot(m, now);
        return;
    }
    if (c == 0x1A) {
        submit(m, now);
        return;
    }
    if (c == '\r' || c == '\n')
        return;
    if (m->echo)
        ms_emit(m, (const char *)&c, 1);
    if (m->pdu_len < MS_PDU_HEX_MAX)
        m->pdu[m->pdu_len++] = (char)c;
    else
        m->pdu_overflow = true;
}

/* A +CMT or +CDS goes out now, or waits for the +CNMA of the previous one
 * when CSMS=1 asks for acknowledgements. */
void ms_sms_direct(struct ms_modem *m, const char *urc, sg_ms now)
{
    if (m->csms != 1) {
        ms_urc(m, urc);
        return;
    }
    if (m->cnma_wait) {
        if (m->direct_n < MS_DIRECT_QUEUE_MAX)
            snprintf(m->direct_q[m->direct_n++], MS_URC_TEXT_MAX, "%s", urc);
        else
            m->stats.sms_dropped++;
        return;
    }
    ms_urc(m, urc);
    m->cnma_wait = true;
    ms_timer_add(m, now + m->cfg.cnma_timeout_ms, MS_T_CNMA, 0, 0, NULL);
}

/* No +CNMA in time: the network gets RP-ERROR and the modem turns routing
 * off (CNMI mt and ds back to 0), as REFERENCE §3 describes for Telit. */
void ms_sms_cnma_timeout(struct ms_modem *m)
{
    m->stats.cnma_timeouts++;
    m->stats.sms_dropped += m->direct_n;
    m->cnma_wait = false;
    m->direct_n = 0;
    m->cnmi[1] = 0;
    m->cnmi[3] = 0;
}

static void deliver_report(struct ms_modem *m, const struct pdu_part *p, sg_ms now)
{
    char urc[MS_URC_TEXT_MAX];
    m->stats.status_reports++;
    switch (m->cnmi[3]) {
    case 1:
        snprintf(urc, sizeof(urc), "+CDS: %u\r\n%s", p->tpdu_len, p->hex);
        ms_sms_direct(m, urc, now);
        return;
    case 2: {
        int mem = ms_mem_find(m, m->prof->cdsi_mem);
        if (mem < 0)
            mem = m->mem[2];
        int idx = ms_sms_store(m, mem, p->hex, (int)p->tpdu_len, 0);
        if (idx < 0) {
            m->stats.sms_dropped++;
            return;
        }
        snprintf(urc, sizeof(urc), "+CDSI: \"%s\",%d", m->prof->cdsi_mem, idx);
        ms_urc(m, urc);
        return;
    }
    default:
        m->stats.sms_dropped++; /* ds=0: reports are not routed to the host */
        return;
    }
}

static int report(struct ms_modem *m, int mr, const char *to, int st, sg_ms scts_wall, sg_ms now,
                  struct sg_err *err)
{
    struct pdu_status_report_opts o = {
        .smsc = m->smsc,
        .mr = (uint8_t)mr,
        .recipient = to,
        .st = (uint8_t)st,
    };
    pdu_time_from_utc_ms(scts_wall, 4, &o.scts);
    pdu_time_from_utc_ms(ms_wall(m, now), 4, &o.dt);
    struct pdu_part p;
    int rc = pdu_encode_status_report(&o, &p, err);
    if (rc < 0)
        return rc;
    deliver_report(m, &p, now);
    return 0;
}

void ms_sms_status_due(struct ms_modem *m, const struct ms_timer *t, sg_ms now)
{
    report(m, t->a, t->text, t->b, t->wall, now, NULL);
}

int ms_modem_status_report(struct ms_modem *m, int mr, const char *to, int st, sg_ms now,
                           struct sg_err *err)
{
    if (mr < 0 || mr > 255 || st < 0 || st > 255 || !to)
        return sg_errf(err, -EINVAL, "status_report: mr and st are 0..255, to is required");
    return report(m, mr, to, st, ms_wall(m, now) - 5000, now, err);
}

int ms_modem_inject_sms(struct ms_modem *m, const char *from, const char *text,
                        enum ms_inject_mode mode, sg_ms now, struct sg_err *err)
{
    if (!from || !text)
        return sg_errf(err, -EINVAL, "inject_sms: from and text are required");
    /* No network, no SMS: the SMSC would keep it and retry later. */
    if (m->reg_stat != 1 && m->reg_stat != 5)
        return sg_errf(err, -EAGAIN, "inject_sms: not registered (CREG stat %d), retry later",
                       m->reg_stat);
    struct pdu_deliver_opts o = {
        .smsc = m->smsc,
        .originator = from,
        .ref = (uint16_t)(ms_rand(m) & 0xFF),
        .text = {.max_parts = 16},
    };
    pdu_time_from_utc_ms(ms_wall(m, now), 4, &o.scts);
    struct pdu_part parts[16]; /* 6 KiB */
    int n = pdu_encode_deliver(text, strlen(text), &o, parts, 16, NULL, err);
    if (n < 0)
        return n;
    m->stats.sms_injected++;
    int delivered = 0;
    for (int i = 0; i < n; i++) {
        const struct pdu_part *p = &parts[i];
        bool direct = mode == MS_INJECT_DIRECT ||
                      (mode == MS_INJECT_AUTO && (m->cnmi[1] == 2 || m->cnmi[1] == 3));
        char urc[MS_URC_TEXT_MAX];
        if (direct) {
            snprintf(urc, sizeof(urc), "+CMT: %s,%u\r\n%s", m->prof->cmt_alpha, p->tpdu_len,
                     p->hex);
            ms_sms_direct(m, urc, now);
            m->stats.sms_direct++;
            delivered++;
            continue;
        }
        int idx = ms_sms_store(m, m->mem[2], p->hex, (int)p->tpdu_len, 0);
        if (idx < 0) {
            m->stats.sms_dropped++;
            continue;
        }
        m->stats.sms_stored++;
        delivered++;
        if (mode == MS_INJECT_STORED || m->cnmi[1] != 0) {
            snprintf(urc, sizeof(urc), "+CMTI: \"%s\",%d", m->prof->mems[m->mem[2]], idx);
            ms_urc(m, urc);
        }
    }
    if (delivered == 0)
        return sg_errf(err, -ENOSPC, "inject_sms: message storage full (%d slots)",
                       m->prof->mem_total);
    return delivered;
}
