#include "firmware/sched.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "drivers/gsm/pdu.h"
#include "firmware/dlr.h"
#include "firmware/msisdn.h"
#include "firmware/reasm.h"
#include "firmware/route.h"

/* One message on its way through one modem: every part, in order. */
struct job {
    bool active;
    int64_t msg_id;
    enum store_prio prio;
    int nparts;
    int seq;                               /* part in flight, 1..nparts */
    int attempts;                          /* after this hand-over */
    sg_ms deadline;                        /* expires_at */
    char to[STORE_TO_MAX];
    int tpdu_len[STORE_PARTS_MAX];
    char pdu[STORE_PARTS_MAX][STORE_PDU_HEX_MAX];
};

struct sim {
    bool used;
    char iccid[24];
    const struct sched_sim_cfg *cfg;       /* NULL: not configured */
    struct bucket bucket;
    struct breaker breaker;
    sg_ms last_used;
    uint64_t sends_ok, sends_failed;
    int slot;                              /* -1: not in a present modem */
    const char *allow[SCHED_PREFIXES_MAX];
    const char *deny[SCHED_PREFIXES_MAX];
};

struct slot {
    char id[32];
    bool ready;
    int sim;                               /* index into sims, -1 unknown */
    struct job job;
};

/* SIMs a message already failed on with a retry-now error. */
struct excl {
    int64_t msg_id;                        /* 0: free entry */
    sg_ms at;
    unsigned n;
    char iccid[4][24];
};

struct sched {
    struct sched_opts o;
    struct sched_ops ops;
    void *ud;
    struct slot slots[SCHED_SLOTS_MAX];
    struct sim sims[SCHED_SIMS_MAX];
    struct excl excl[SCHED_EXCL_MAX];
    struct route_sticky *sticky;
    struct reasm *reasm;                   /* open inbound multipart sets; parts are in the store */
    struct pdu_decoded pdu;                /* scratch: one decoded PDU */
    struct store_inbound in;               /* scratch: one inbound row */
    struct store_msg msg;                  /* scratch: one message row (8 KiB of text) */
    struct sched_err_count errs[SCHED_ERRKEYS_MAX];
    size_t nerrs;
    uint64_t dlr_bucket[SCHED_DLR_BUCKETS];        /* not cumulative */
    uint64_t dlr_total;
    double dlr_sum_s;
    bool in_kick;                          /* a send_done inside a kick must not recurse */
    bool kick_again;
    sg_ms armed_at;
};

/* ------------------------------------------------------------ helpers */

static enum retry_prio rprio(enum store_prio p)
{
    return (enum retry_prio)p; /* same order by construction: otp, urgent, normal, bulk */
}

static const struct sched_sim_cfg *find_sim_cfg(const struct sched *s, const char *iccid)
{
    for (size_t i = 0; i < s->o.nsims; i++)
        if (strcmp(s->o.sims[i].iccid, iccid) == 0)
            return &s->o.sims[i];
    return NULL;
}

/* Loads counters persisted in the SIM row so quotas survive restarts. */
static void sim_load(struct sched *s, struct sim *sm, sg_ms now)
{
    struct bucket_limits lim = {0};
    if (sm->cfg)
        lim = sm->cfg->limits;
    bucket_init(&sm->bucket, &lim, now);
    breaker_init(&sm->breaker);
    struct store_sim row;
    if (store_sim_get(s->o.store, sm->iccid, &row, NULL) == 0) {
        if (row.day_key == bucket_day_key(now))
            sm->bucket.day_count = (uint32_t)row.sent_day;
        if (row.month_key == bucket_month_key(now))
            sm->bucket.month_count = (uint32_t)row.sent_month;
        sm->last_used = row.last_used_at;
    }
}

static void sim_save(struct sched *s, const struct sim *sm, sg_ms now)
{
    struct store_sim row;
    memset(&row, 0, sizeof(row));
    if (store_sim_get(s->o.store, sm->iccid, &row, NULL) != 0)
        snprintf(row.iccid, sizeof(row.iccid), "%s", sm->iccid);
    if (sm->cfg) {
        snprintf(row.label, sizeof(row.label), "%s", sm->cfg->label);
        snprintf(row.msisdn, sizeof(row.msisdn), "%s", sm->cfg->msisdn);
    }
    row.day_key = sm->bucket.day_key;
    row.sent_day = (int)sm->bucket.day_count;
    row.month_key = sm->bucket.month_key;
    row.sent_month = (int)sm->bucket.month_count;
    row.breaker_state = (int)sm->breaker.state;
    row.last_used_at = sm->last_used;
    struct sg_err err;
    if (store_sim_put(s->o.store, &row, now, &err) != 0)
        log_warnx(s->o.log, "event=sim-save iccid=%s result=failed reason=\"%s\"", sm->iccid,
                  err.msg);
}

static int sim_get(struct sched *s, const char *iccid, sg_ms now)
{
    if (!iccid || !*iccid)
        return -1;
    int free_i = -1;
    for (int i = 0; i < SCHED_SIMS_MAX; i++) {
        if (s->sims[i].used && strcmp(s->sims[i].iccid, iccid) == 0)
            return i;
        if (!s->sims[i].used && free_i < 0)
            free_i = i;
    }
    if (free_i < 0) {
        /* Reuse a SIM slot whose SIM is no longer in any modem. */
        for (int i = 0; i < SCHED_SIMS_MAX && free_i < 0; i++)
            if (s->sims[i].slot < 0)
                free_i = i;
        if (free_i < 0)
            return -1;
    }
    struct sim *sm = &s->sims[free_i];
    memset(sm, 0, sizeof(*sm));
    sm->used = true;
    sm->slot = -1;
    snprintf(sm->iccid, sizeof(sm->iccid), "%s", iccid);
    sm->cfg = find_sim_cfg(s, iccid);
    if (sm->cfg) {
        for (size_t i = 0; i < sm->cfg->n_allow; i++)
            sm->allow[i] = sm->cfg->allow[i];
        for (size_t i = 0; i < sm->cfg->n_deny; i++)
            sm->deny[i] = sm->cfg->deny[i];
    }
    sim_load(s, sm, now);
    return free_i;
}

static struct excl *excl_find(struct sched *s, int64_t id, bool create, sg_ms now)
{
    struct excl *oldest = &s->excl[0];
    for (size_t i = 0; i < SCHED_EXCL_MAX; i++) {
        if (s->excl[i].msg_id == id)
            return &s->excl[i];
        if (s->excl[i].at < oldest->at)
            oldest = &s->excl[i];
    }
    if (!create)
        return NULL;
    /* At the cap the oldest exclusion list is forgotten: that message may
     * be retried on a SIM it already failed on, which costs one attempt. */
    memset(oldest, 0, sizeof(*oldest));
    oldest->msg_id = id;
    oldest->at = now;
    return oldest;
}

static bool excluded(struct sched *s, int64_t id, const char *iccid)
{
    const struct excl *e = excl_find(s, id, false, 0);
    if (!e)
        return false;
    for (unsigned i = 0; i < e->n; i++)
        if (strcmp(e->iccid[i], iccid) == 0)
            return true;
    return false;
}

static void exclude(struct sched *s, int64_t id, const char *iccid, sg_ms now)
{
    if (!iccid || !*iccid || excluded(s, id, iccid))
        return;
    struct excl *e = excl_find(s, id, true, now);
    if (e->n < 4)
        snprintf(e->iccid[e->n++], sizeof(e->iccid[0]), "%s", iccid);
}

static void excl_clear(struct sched *s, int64_t id)
{
    struct excl *e = excl_find(s, id, false, 0);
    if (e)
        memset(e, 0, sizeof(*e));
}

/* Builds the routing view of every SIM in a ready modem. */
static size_t route_view(struct sched *s, int64_t msg_id, struct route_sim *rs, int *slot_of)
{
    size_t n = 0;
    for (size_t i = 0; i < s->o.nslots; i++) {
        struct slot *sl = &s->slots[i];
        if (!sl->ready || sl->sim < 0)
            continue;
        struct sim *sm = &s->sims[sl->sim];
        rs[n] = (struct route_sim){
            .iccid = sm->iccid,
            .enabled = sm->cfg ? sm->cfg->enabled : s->o.unknown_sims_enabled,
            .modem_free = !sl->job.active,
            .excluded = excluded(s, msg_id, sm->iccid),
            .allow = sm->allow,
            .n_allow = sm->cfg ? sm->cfg->n_allow : 0,
            .deny = sm->deny,
            .n_deny = sm->cfg ? sm->cfg->n_deny : 0,
            .bucket = &sm->bucket,
            .breaker = &sm->breaker,
            .last_used = sm->last_used,
        };
        slot_of[n++] = (int)i;
    }
    return n;
}

static size_t free_slots(const struct sched *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->o.nslots; i++)
        if (s->slots[i].ready && s->slots[i].sim >= 0 && !s->slots[i].job.active)
            n++;
    return n;
}

static void arm(struct sched *s, sg_ms at)
{
    if (at == s->armed_at)
        return;
    s->armed_at = at;
    s->ops.arm(s->ud, at);
}

/* ------------------------------------------------------------ sending */

struct parts_load {
    struct job *job;
    int n;
};

static int collect_part(void *ud, const struct store_part *p)
{
    struct parts_load *pl = ud;
    if (pl->n >= STORE_PARTS_MAX || p->seq < 1 || p->seq > STORE_PARTS_MAX)
        return 1;
    pl->job->tpdu_len[p->seq - 1] = p->tpdu_len;
    snprintf(pl->job->pdu[p->seq - 1], STORE_PDU_HEX_MAX, "%s", p->pdu);
    pl->n++;
    return 0;
}

static void job_fail(struct sched *s, size_t slot, const struct modem_send_result *r, sg_ms now);
static void release_expired_sets(struct sched *s, sg_ms now);

static void send_current_part(struct sched *s, size_t slot, sg_ms now)
{
    struct job *j = &s->slots[slot].job;
    int rc = s->ops.send_pdu(s->ud, slot, j->msg_id, j->seq, j->tpdu_len[j->seq - 1],
                             j->pdu[j->seq - 1]);
    if (rc != 0) {
        struct modem_send_result r = {.ok = false, .cls = MODEM_ERR_RETRY_NOW, .code = -1,
                                      .why = "modem refused the job"};
        job_fail(s, slot, &r, now);
    }
}

/* Hands message `m` to slot `slot` (SIM already chosen). Returns true when
 * the slot is now busy with it. */
static bool start_job(struct sched *s, size_t slot, const struct store_msg *m, sg_ms now)
{
    struct slot *sl = &s->slots[slot];
    struct sim *sm = &s->sims[sl->sim];
    struct sg_err err;
    struct queue_via via = {.modem = sl->id, .iccid = sm->iccid};

    struct retry_decision gate;
    retry_gate(&s->o.retry, rprio(m->prio), (unsigned)m->attempts, m->expires_at, now, &gate);
    if (gate.action == RETRY_ACT_FAIL) {
        /* queued -> failed goes through sending so history shows the gate. */
        if (queue_mark_sending(s->o.queue, m->id, &via, now, &err) == 0)
            queue_send_failed(s->o.queue, m->id, &via, -1, gate.cause, now, &err);
        return false;
    }

    int rc = queue_mark_sending(s->o.queue, m->id, &via, now, &err);
    if (rc == -ETIME || rc == -ESTALE)
        return false; /* expired on the way, or canceled meanwhile */
    if (rc != 0) {
        log_warnx(s->o.log, "event=dispatch msg=%lld result=failed reason=\"%s\"",
                  (long long)m->id, err.msg);
        return false;
    }
    struct job *j = &sl->job;
    memset(j, 0, sizeof(*j));
    j->active = true;
    j->msg_id = m->id;
    j->prio = m->prio;
    j->nparts = m->parts;
    j->seq = 1;
    j->attempts = m->attempts + 1;
    j->deadline = m->expires_at;
    snprintf(j->to, sizeof(j->to), "%s", m->to);
    struct parts_load pl = {.job = j};
    rc = store_parts(s->o.store, m->id, collect_part, &pl, &err);
    if (rc < 0 || pl.n != m->parts) {
        log_err(s->o.log, "event=dispatch msg=%lld result=failed reason=\"parts unreadable: %s\"",
                (long long)m->id, rc < 0 ? err.msg : "count mismatch");
        j->active = false;
        queue_send_failed(s->o.queue, m->id, &via, now + RETRY_LATER_BASE_MS, "parts unreadable",
                          now, &err);
        return false;
    }
    bucket_take(&sm->bucket, (unsigned)m->parts, now);
    breaker_on_attempt(&sm->breaker, &s->o.breaker, now);
    sm->last_used = now;
    char masked[MSISDN_MASK_BUF];
    log_info(s->o.log, "event=dispatch msg=%lld prio=%s to=%s modem=%s iccid=%s parts=%d attempt=%d",
             (long long)m->id, store_prio_name(m->prio), msisdn_mask(m->to, masked), sl->id,
             sm->iccid, m->parts, j->attempts);
    send_current_part(s, slot, now);
    return true;
}

static void dispatch(struct sched *s, sg_ms now)
{
    struct sg_err err;
    int64_t ids[SCHED_SCAN_MAX];
    sg_ms wake = SG_MS_NEVER;

    if (free_slots(s) > 0) {
        int n = queue_due_ids(s->o.queue, now, ids, SCHED_SCAN_MAX, &err);
        if (n < 0)
            log_warnx(s->o.log, "event=dispatch result=failed reason=\"%s\"", err.msg);
        for (int i = 0; i < n && free_slots(s) > 0; i++) {
            if (store_msg_get(s->o.store, ids[i], &s->msg, &err) != 0)
                continue;
            struct route_sim rs[SCHED_SLOTS_MAX];
            int slot_of[SCHED_SLOTS_MAX];
            size_t nr = route_view(s, s->msg.id, rs, slot_of);
            struct route_result rr;
            route_pick(rs, nr, s->msg.to, (unsigned)s->msg.parts, s->sticky, &s->o.breaker, now,
                       &rr);
            if (rr.index < 0) {
                if (rr.reason == ROUTE_EXCLUDED) {
                    /* Every SIM failed it once: let any of them try again. */
                    excl_clear(s, s->msg.id);
                    i--;
                    continue;
                }
                sg_ms until = rr.retry_at;
                /* No SIM present may carry it (prefix rules, disabled SIMs):
                 * look again later rather than at every dispatch, so such
                 * messages cannot fill the scan window and hide the rest. */
                if (rr.reason == ROUTE_PREFIX || rr.reason == ROUTE_DISABLED)
                    until = now + SCHED_UNROUTABLE_RECHECK_MS;
                if (until != SG_MS_NEVER && rr.reason != ROUTE_BUSY) {
                    queue_defer(s->o.queue, s->msg.id, until, route_reason_name(rr.reason), now,
                                &err);
                    if (until < wake)
                        wake = until;
                }
                continue;
            }
            start_job(s, (size_t)slot_of[rr.index], &s->msg, now);
        }
    }
    sg_ms next;
    if (queue_next_wakeup(s->o.queue, &next, &err) == 0 && next < wake)
        wake = next;
    next = reasm_next_deadline(s->reasm);
    if (next < wake)
        wake = next;
    /* With every modem busy a due message waits for a free modem, not for a
     * timer: don't spin on a time already past. */
    if (wake <= now)
        wake = free_slots(s) > 0 ? now + 1000 : SG_MS_NEVER;
    arm(s, wake);
}

void sched_kick(struct sched *s, sg_ms now)
{
    if (s->in_kick) {
        s->kick_again = true;
        return;
    }
    s->in_kick = true;
    do {
        s->kick_again = false;
        release_expired_sets(s, now);
        dispatch(s, now);
    } while (s->kick_again);
    s->in_kick = false;
}

/* ------------------------------------------------------------ results */

/*
 * "Permanent" in TS 27.005 terms, but about this SIM, not the recipient:
 * barring and unsubscribed facilities (8, 10, 29, 50, 69), operation not
 * allowed (302), SIM absent/locked/broken (310-318), no SMSC (330). Another
 * SIM can still deliver the message, so these move it on and count against
 * the SIM's breaker. A +CME ERROR from AT+CMGS is always about the
 * equipment or SIM, never the destination.
 */
static bool sim_scoped(const struct modem_send_result *r)
{
    static const int codes[] = {8, 10, 29, 50, 69, 302, 310, 311, 312, 313,
                                315, 316, 317, 318, 330};
    if (r->why && strcmp(r->why, "cme") == 0)
        return true;
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
        if (r->code == codes[i])
            return true;
    return false;
}

static enum retry_class classify(const struct modem_send_result *r)
{
    if (r->cls == MODEM_ERR_PERMANENT && sim_scoped(r))
        return RETRY_CLASS_SOON;
    switch (r->cls) {
    case MODEM_ERR_RETRY_NOW:
        return (r->why && strstr(r->why, "prompt")) ? RETRY_CLASS_TIMEOUT_BEFORE_PAYLOAD
                                                     : RETRY_CLASS_SOON;
    case MODEM_ERR_RETRY_LATER:
        return RETRY_CLASS_LATER;
    case MODEM_ERR_PERMANENT:
        return RETRY_CLASS_PERMANENT;
    case MODEM_ERR_SPECIAL:
        if (r->code == 197)
            return RETRY_CLASS_DUPLICATE;
        if (r->code == 322)
            return RETRY_CLASS_MEMFULL;
        if (r->code == 340)
            return RETRY_CLASS_IGNORE;
        return RETRY_CLASS_UNCLASSIFIED;
    case MODEM_ERR_UNKNOWN:
        return RETRY_CLASS_UNKNOWN_AFTER_PAYLOAD;
    case MODEM_ERR_NONE:
        break;
    }
    return RETRY_CLASS_UNCLASSIFIED;
}

static void count_error(struct sched *s, const char *iccid, int code, enum retry_class cls)
{
    for (size_t i = 0; i < s->nerrs; i++)
        if (s->errs[i].code == code && strcmp(s->errs[i].iccid, iccid) == 0) {
            s->errs[i].n++;
            return;
        }
    if (s->nerrs == SCHED_ERRKEYS_MAX) {
        /* Full of distinct pairs: count it with the last one rather than
         * grow without bound (a flood of odd vendor codes). */
        s->errs[s->nerrs - 1].n++;
        return;
    }
    struct sched_err_count *e = &s->errs[s->nerrs++];
    snprintf(e->iccid, sizeof(e->iccid), "%s", iccid);
    e->code = code;
    e->cls = retry_class_name(cls);
    e->n = 1;
}

static const double dlr_le[SCHED_DLR_BUCKETS] = {1, 5, 10, 30, 60, 300, 900, 3600, 1e300};

static void count_dlr(struct sched *s, sg_ms latency)
{
    double sec = latency > 0 ? (double)latency / 1000.0 : 0;
    size_t b = 0;
    while (b + 1 < SCHED_DLR_BUCKETS && sec > dlr_le[b])
        b++;
    s->dlr_bucket[b]++;
    s->dlr_total++;
    s->dlr_sum_s += sec;
}

void sched_metrics(const struct sched *s, struct sched_metrics *out)
{
    memset(out, 0, sizeof(*out));
    out->nerr = s->nerrs;
    out->err = s->errs;
    out->dlr_le = dlr_le;
    uint64_t acc = 0;
    for (size_t b = 0; b < SCHED_DLR_BUCKETS; b++) {
        acc += s->dlr_bucket[b];
        out->dlr_count[b] = acc;
    }
    out->dlr_total = s->dlr_total;
    out->dlr_sum_s = s->dlr_sum_s;
}

/* Errors about the destination say nothing about the SIM's health. */
static bool counts_against_sim(enum retry_class c)
{
    return c == RETRY_CLASS_SOON || c == RETRY_CLASS_LATER || c == RETRY_CLASS_UNCLASSIFIED ||
           c == RETRY_CLASS_TIMEOUT_BEFORE_PAYLOAD || c == RETRY_CLASS_UNKNOWN_AFTER_PAYLOAD;
}

static void job_done(struct sched *s, size_t slot, sg_ms now)
{
    s->slots[slot].job.active = false;
    sched_kick(s, now);
}

static void job_fail(struct sched *s, size_t slot, const struct modem_send_result *r, sg_ms now)
{
    struct slot *sl = &s->slots[slot];
    struct job *j = &sl->job;
    struct sim *sm = sl->sim >= 0 ? &s->sims[sl->sim] : NULL;
    const char *iccid = sm ? sm->iccid : "";
    struct queue_via via = {.modem = sl->id, .iccid = iccid};
    struct sg_err err;
    enum retry_class cls = classify(r);

    struct route_sim rs[SCHED_SLOTS_MAX];
    int slot_of[SCHED_SLOTS_MAX];
    size_t nr = route_view(s, j->msg_id, rs, slot_of);
    struct retry_input in = {
        .cls = cls,
        .prio = rprio(j->prio),
        .attempts = (unsigned)j->attempts,
        .sims_left = route_sims_left(rs, nr, j->to, iccid),
        .deadline = j->deadline,
        .now = now,
        .jitter = s->ops.random(s->ud),
        .code = r->code,
    };
    struct retry_decision d;
    retry_decide(&s->o.retry, &in, &d);

    count_error(s, iccid, r->code, cls);
    if (sm) {
        sm->sends_failed++;
        if (counts_against_sim(cls))
            breaker_on_failure(&sm->breaker, &s->o.breaker, now);
        if (cls == RETRY_CLASS_TIMEOUT_BEFORE_PAYLOAD)
            bucket_refund(&sm->bucket, (unsigned)(j->nparts - j->seq + 1), now);
    }
    if (d.exclude_sim)
        exclude(s, j->msg_id, iccid, now);
    if (d.clear_exclusions)
        excl_clear(s, j->msg_id);

    char cause[STORE_CAUSE_MAX];
    const char *why = r->why ? r->why : "error";
    if (r->code >= 0)
        snprintf(cause, sizeof(cause), "%s %d (%s, part %d/%d)", why, r->code,
                 retry_class_name(cls), j->seq, j->nparts);
    else
        snprintf(cause, sizeof(cause), "%s (%s, part %d/%d)", why, retry_class_name(cls), j->seq,
                 j->nparts);

    int rc = 0;
    switch (d.action) {
    case RETRY_ACT_SENT:
        /* 197 duplicate: the SMSC has it already. */
        rc = queue_part_sent(s->o.queue, j->msg_id, j->seq, &via, -1, now, &err);
        if (rc == 0 && j->seq < j->nparts) {
            j->seq++;
            send_current_part(s, slot, now);
            return;
        }
        break;
    case RETRY_ACT_UNKNOWN:
        rc = queue_mark_unknown(s->o.queue, j->msg_id, cause, now, &err);
        break;
    case RETRY_ACT_FAIL:
        rc = queue_send_failed(s->o.queue, j->msg_id, &via, -1,
                               d.cause[0] ? d.cause : cause, now, &err);
        break;
    case RETRY_ACT_OTHER_SIM:
    case RETRY_ACT_AT:
    case RETRY_ACT_CLEAR_STORAGE:
    case RETRY_ACT_EXPIRE: /* back to queued; the next dispatch expires it */
    case RETRY_ACT_NONE:   /* 340: not this send's fault; try again at once */
        rc = queue_send_failed(s->o.queue, j->msg_id, &via,
                               d.action == RETRY_ACT_AT || d.action == RETRY_ACT_CLEAR_STORAGE
                                   ? d.at
                                   : now,
                               cause, now, &err);
        break;
    }
    if (rc < 0)
        log_err(s->o.log, "event=send-result msg=%lld result=store-failed reason=\"%s\"",
                (long long)j->msg_id, err.msg);
    log_info(s->o.log, "event=send-failed msg=%lld modem=%s iccid=%s class=%s action=%s cause=\"%s\"",
             (long long)j->msg_id, sl->id, iccid, retry_class_name(cls),
             retry_action_name(d.action), cause);
    if (sm)
        sim_save(s, sm, now);
    job_done(s, slot, now);
}

void sched_send_done(struct sched *s, size_t slot, const struct modem_send_result *r, sg_ms now)
{
    if (slot >= s->o.nslots || !s->slots[slot].job.active)
        return;
    struct slot *sl = &s->slots[slot];
    struct job *j = &sl->job;
    if (!r->ok) {
        job_fail(s, slot, r, now);
        return;
    }
    struct sim *sm = sl->sim >= 0 ? &s->sims[sl->sim] : NULL;
    struct queue_via via = {.modem = sl->id, .iccid = sm ? sm->iccid : NULL};
    struct sg_err err;
    bool last = j->seq >= j->nparts;
    if (sm && last) {
        sm->sends_ok++;
        breaker_on_success(&sm->breaker);
    }
    /* The part's row and the SIM's counters in one commit: one fsync. */
    bool tx = store_begin(s->o.store, &err) == 0;
    int rc = queue_part_sent(s->o.queue, j->msg_id, j->seq, &via, r->mr, now, &err);
    if (sm && last)
        sim_save(s, sm, now);
    if (tx && store_commit(s->o.store, &err) != 0 && rc >= 0)
        rc = -EIO;
    if (rc < 0)
        log_err(s->o.log, "event=part-sent msg=%lld part=%d result=store-failed reason=\"%s\"",
                (long long)j->msg_id, j->seq, err.msg);
    log_info(s->o.log, "event=part-sent msg=%lld part=%d/%d modem=%s mr=%d", (long long)j->msg_id,
             j->seq, j->nparts, sl->id, r->mr);
    if (rc == 0 && j->seq < j->nparts) {
        j->seq++;
        send_current_part(s, slot, now);
        return;
    }
    if (sm && s->sticky)
        route_sticky_remember(s->sticky, j->to, sm->iccid, now);
    excl_clear(s, j->msg_id);
    job_done(s, slot, now);
}

/* ------------------------------------------------------------ reports */

struct mr_cands {
    size_t n;
    struct dlr_part p[16];
    char to[16][STORE_TO_MAX];
    char iccid[16][STORE_ICCID_MAX];
};

static int collect_mr(void *ud, const struct store_part *p, const char *to, enum store_state st)
{
    (void)st;
    struct mr_cands *c = ud;
    if (c->n >= 16)
        return 1; /* newest first: older sends with the same MR are far less likely */
    size_t i = c->n++;
    snprintf(c->to[i], sizeof(c->to[i]), "%s", to);
    snprintf(c->iccid[i], sizeof(c->iccid[i]), "%s", p->iccid);
    c->p[i] = (struct dlr_part){.msg_id = p->msg_id, .part_no = (unsigned)p->seq,
                                .iccid = c->iccid[i], .mr = (uint8_t)p->mr,
                                .recipient = c->to[i], .sent_at = p->sent_at};
    return 0;
}

static const char *slot_iccid(const struct sched *s, size_t slot)
{
    const struct slot *sl = &s->slots[slot];
    return sl->sim >= 0 ? s->sims[sl->sim].iccid : "";
}

void sched_report(struct sched *s, size_t slot, int index, const char *pdu_hex, int tpdu_len,
                  sg_ms now)
{
    if (slot >= s->o.nslots)
        return;
    struct sg_err err;
    const char *modem = s->slots[slot].id;
    if (pdu_decode_hex(pdu_hex, strlen(pdu_hex), PDU_DIR_IN, tpdu_len, &s->pdu, &err) != 0 ||
        s->pdu.type != PDU_STATUS_REPORT) {
        /* Nothing to match; keeping it on the SIM would fill the storage. */
        log_warnx(s->o.log, "event=report modem=%s result=undecodable reason=\"%s\"", modem,
                  s->pdu.type != PDU_STATUS_REPORT ? "not a status report" : err.msg);
        if (index >= 0)
            s->ops.ack_stored(s->ud, slot, index);
        return;
    }
    struct mr_cands *c = calloc(1, sizeof(*c));
    if (!c)
        return; /* left on the SIM; read again at the next start */
    const char *iccid = slot_iccid(s, slot);
    int rc = store_parts_by_mr(s->o.store, iccid, s->pdu.mr, now - s->o.dlr_window_ms, collect_mr,
                               c, &err);
    struct dlr_report rep = {.iccid = iccid, .mr = s->pdu.mr, .recipient = s->pdu.number,
                             .toa = s->pdu.toa, .at = now};
    int hit = rc < 0 ? -1 : dlr_match(c->p, c->n, &rep, s->o.dlr_window_ms, s->o.default_cc);
    char masked[MSISDN_MASK_BUF];
    if (hit < 0) {
        log_info(s->o.log, "event=report modem=%s mr=%d to=%s st=0x%02x result=unmatched", modem,
                 s->pdu.mr, msisdn_mask(s->pdu.number, masked), s->pdu.st);
    } else {
        rc = queue_part_dlr(s->o.queue, c->p[hit].msg_id, (int)c->p[hit].part_no, s->pdu.st, now,
                            &err);
        if (rc < 0 && store_err_unavailable(rc)) {
            /* Not recorded: leave it on the SIM so it is read again. */
            log_err(s->o.log, "event=report msg=%lld result=store-failed reason=\"%s\"",
                    (long long)c->p[hit].msg_id, err.msg);
            free(c);
            return;
        }
        if (dlr_classify(s->pdu.st).state == DLR_PART_DELIVERED)
            count_dlr(s, now - c->p[hit].sent_at);
        log_info(s->o.log, "event=report msg=%lld part=%u modem=%s mr=%d st=0x%02x state=%s",
                 (long long)c->p[hit].msg_id, c->p[hit].part_no, modem, s->pdu.mr, s->pdu.st,
                 rc >= 0 ? store_state_name((enum store_state)rc) : "?");
    }
    free(c);
    if (index >= 0)
        s->ops.ack_stored(s->ud, slot, index);
}

/* ------------------------------------------------------------ inbound */

/* Durable duplicate key: the same SIM, sender, SMSC time stamp, part and
 * text is the network delivering the same message twice (REFERENCE §3). */
static void dedupe_key(const char *iccid, const struct pdu_decoded *d, char out[STORE_HASH_MAX + 1])
{
    crypto_generichash_state st;
    unsigned char h[16];
    char head[160];
    int n = snprintf(head, sizeof(head), "%s|%s|%lld|%d|%d|%d|", iccid, d->number,
                     (long long)pdu_time_utc_ms(&d->scts), d->udh.concat ? d->udh.ref : -1,
                     d->udh.concat ? d->udh.total : 1, d->udh.concat ? d->udh.seq : 1);
    crypto_generichash_init(&st, NULL, 0, sizeof(h));
    crypto_generichash_update(&st, (const unsigned char *)head, (size_t)n);
    crypto_generichash_update(&st, (const unsigned char *)d->text, d->text_len);
    crypto_generichash_final(&st, h, sizeof(h));
    sodium_bin2hex(out, STORE_HASH_MAX + 1, h, sizeof(h));
}

/* The "inbound" event: who, what, when (the API and webhooks carry it). */
static char *inbound_event(const struct store_inbound *in, int64_t id_hint)
{
    json_t *o = json_pack("{s:s, s:s, s:I, s:s, s:s}", "from", in->from, "text", in->text,
                          "received_at", (json_int_t)in->received_at, "modem", in->modem, "iccid",
                          in->iccid);
    if (!o)
        return NULL;
    if (in->concat_total > 1)
        json_object_set_new(o, "parts", json_integer(in->concat_total));
    if (id_hint > 0)
        json_object_set_new(o, "part_id", json_integer(id_hint));
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

static void release_set(struct sched *s, struct reasm_set *set, sg_ms now)
{
    struct sg_err err;
    for (unsigned i = 0; i < set->n; i++) {
        memset(&s->in, 0, sizeof(s->in));
        snprintf(s->in.from, sizeof(s->in.from), "%s", set->originator);
        snprintf(s->in.text, sizeof(s->in.text), "%s", set->piece[i].text);
        snprintf(s->in.iccid, sizeof(s->in.iccid), "%s", set->sim);
        s->in.received_at = set->piece[i].at;
        s->in.concat_total = set->total;
        char *ev = inbound_event(&s->in, set->piece[i].id);
        if (store_inbound_release(s->o.store, set->piece[i].id, ev ? ev : "{}", now, &err) != 0)
            log_warnx(s->o.log, "event=inbound-release id=%lld result=failed reason=\"%s\"",
                      (long long)set->piece[i].id, err.msg);
        free(ev);
    }
    log_info(s->o.log, "event=inbound-incomplete parts=%u/%u ref=%u result=kept-as-parts", set->n,
             set->total, set->ref);
    reasm_set_free(set);
}

static void release_expired_sets(struct sched *s, sg_ms now)
{
    struct reasm_set *set;
    while ((set = reasm_next_expired(s->reasm, now)) != NULL)
        release_set(s, set, now);
}

static void assemble_set(struct sched *s, struct reasm_set *set, const char *group, sg_ms now)
{
    struct sg_err err;
    memset(&s->in, 0, sizeof(s->in));
    snprintf(s->in.from, sizeof(s->in.from), "%s", set->originator);
    snprintf(s->in.text, sizeof(s->in.text), "%s", set->text);
    snprintf(s->in.iccid, sizeof(s->in.iccid), "%s", set->sim);
    snprintf(s->in.group, sizeof(s->in.group), "%s", group);
    s->in.received_at = set->last_at;
    s->in.concat_ref = set->ref;
    s->in.concat_total = set->total;
    s->in.concat_seq = 0;
    s->in.complete = STORE_IN_COMPLETE;
    char *ev = inbound_event(&s->in, 0);
    int64_t id = 0;
    if (store_inbound_assemble(s->o.store, group, &s->in, ev ? ev : "{}", now, &id, &err) != 0)
        log_err(s->o.log, "event=inbound-assemble result=failed reason=\"%s\"", err.msg);
    else
        log_info(s->o.log, "event=inbound id=%lld parts=%u", (long long)id, set->total);
    free(ev);
    reasm_set_free(set);
}

static void group_key(const char *iccid, const struct pdu_decoded *d, char out[STORE_GROUP_MAX])
{
    snprintf(out, STORE_GROUP_MAX, "%s|%s|%u|%u", iccid, d->number, d->udh.ref, d->udh.total);
}

void sched_inbound(struct sched *s, size_t slot, int index, const char *pdu_hex, int tpdu_len,
                   sg_ms now)
{
    if (slot >= s->o.nslots)
        return;
    struct sg_err err;
    const char *iccid = slot_iccid(s, slot);
    struct store_inbound *in = &s->in;
    memset(in, 0, sizeof(*in));
    snprintf(in->iccid, sizeof(in->iccid), "%s", iccid);
    snprintf(in->modem, sizeof(in->modem), "%s", s->slots[slot].id);
    snprintf(in->pdu, sizeof(in->pdu), "%s", pdu_hex);
    in->received_at = now;
    in->concat_ref = -1;
    in->concat_total = 1;
    in->concat_seq = 1;
    in->complete = STORE_IN_COMPLETE;

    struct pdu_decoded *d = &s->pdu;
    bool decoded = pdu_decode_hex(pdu_hex, strlen(pdu_hex), PDU_DIR_IN, tpdu_len, d, &err) == 0 &&
                   d->type == PDU_DELIVER;
    bool part = false;
    if (decoded) {
        snprintf(in->from, sizeof(in->from), "%s", d->number);
        snprintf(in->text, sizeof(in->text), "%s", d->text);
        in->smsc_ts = d->has_scts ? pdu_time_utc_ms(&d->scts) : 0;
        dedupe_key(iccid, d, in->dedupe);
        if (d->udh.concat && d->udh.total > 1) {
            part = true;
            in->concat_ref = d->udh.ref;
            in->concat_total = d->udh.total;
            in->concat_seq = d->udh.seq;
            in->complete = STORE_IN_PART;
            group_key(iccid, d, in->group);
        }
    } else {
        /* Kept raw (text empty) so nothing the network sent is lost. */
        log_warnx(s->o.log, "event=inbound modem=%s result=undecodable reason=\"%s\"",
                  s->slots[slot].id, err.msg);
    }
    char *ev = part ? NULL : inbound_event(in, 0);
    int64_t id = 0;
    int rc = store_inbound_add(s->o.store, in, part ? NULL : (ev ? ev : "{}"), now, &id, &err);
    free(ev);
    if (rc == -EEXIST) {
        log_info(s->o.log, "event=inbound modem=%s result=duplicate", s->slots[slot].id);
    } else if (rc < 0) {
        /* Not committed: leave it on the SIM, it is read again at start. */
        log_err(s->o.log, "event=inbound modem=%s result=store-failed reason=\"%s\"",
                s->slots[slot].id, err.msg);
        return;
    } else if (!part) {
        char masked[MSISDN_MASK_BUF];
        log_info(s->o.log, "event=inbound id=%lld modem=%s from=%s", (long long)id,
                 s->slots[slot].id, msisdn_mask(in->from, masked));
    }
    if (index >= 0)
        s->ops.ack_stored(s->ud, slot, index);
    if (!part || rc != 0)
        return;

    char group[STORE_GROUP_MAX];
    snprintf(group, sizeof(group), "%s", in->group);
    struct reasm_part rp = {.sim = iccid, .originator = d->number, .ref = d->udh.ref,
                            .total = d->udh.total, .seq = d->udh.seq, .text = d->text,
                            .text_len = d->text_len, .id = id, .at = now};
    struct reasm_set *done = NULL, *evicted = NULL;
    enum reasm_result res = reasm_add(s->reasm, &rp, &done, &evicted, &err);
    if (evicted)
        release_set(s, evicted, now);
    if (done) {
        assemble_set(s, done, group, now);
    } else if (res == REASM_TOO_BIG || res == REASM_INVALID || res == REASM_NOMEM) {
        char *pev = inbound_event(in, id);
        store_inbound_release(s->o.store, id, pev ? pev : "{}", now, &err);
        free(pev);
    }
    sched_kick(s, now); /* re-arm for the set's timeout */
}

/* Sets still open when the daemon stopped are rebuilt from their stored
 * parts, so a multipart message spanning a restart is still assembled. */
struct reload {
    struct sched *s;
    int n;
};

static int reload_part(void *ud, const struct store_inbound *in)
{
    struct reload *r = ud;
    struct reasm_part rp = {.sim = in->iccid, .originator = in->from,
                            .ref = (uint16_t)in->concat_ref, .total = (uint8_t)in->concat_total,
                            .seq = (uint8_t)in->concat_seq, .text = in->text,
                            .text_len = strlen(in->text), .id = in->id, .at = in->received_at};
    struct reasm_set *done = NULL, *evicted = NULL;
    reasm_add(r->s->reasm, &rp, &done, &evicted, NULL);
    if (evicted)
        release_set(r->s, evicted, in->received_at);
    if (done)
        assemble_set(r->s, done, in->group, in->received_at);
    r->n++;
    return 0;
}

static int reload_group(void *ud, const char *group)
{
    struct reload *r = ud;
    char g[STORE_GROUP_MAX];
    snprintf(g, sizeof(g), "%s", group);
    store_inbound_group(r->s->o.store, g, reload_part, r, NULL);
    return 0;
}

/* ------------------------------------------------------------ slots */

void sched_slot_ready(struct sched *s, size_t slot, bool ready, const char *iccid, sg_ms now)
{
    if (slot >= s->o.nslots)
        return;
    struct slot *sl = &s->slots[slot];
    if (sl->sim >= 0)
        s->sims[sl->sim].slot = -1;
    sl->ready = ready;
    sl->sim = ready ? sim_get(s, iccid, now) : sl->sim;
    if (ready && sl->sim < 0)
        log_warnx(s->o.log, "event=slot-ready modem=%s result=no-sim reason=\"ICCID unknown\"",
                  sl->id);
    if (sl->sim >= 0)
        s->sims[sl->sim].slot = ready ? (int)slot : -1;
    if (ready)
        sched_kick(s, now);
}

bool sched_slot_busy(const struct sched *s, size_t slot)
{
    return slot < s->o.nslots && s->slots[slot].job.active;
}

/* ------------------------------------------------------------ life */

int sched_new(const struct sched_opts *o, const struct sched_ops *ops, void *ud,
              struct sched **out, struct sg_err *err)
{
    *out = NULL;
    if (o->nslots == 0 || o->nslots > SCHED_SLOTS_MAX)
        return sg_errf(err, -EINVAL, "sched: %zu modem slots (1..%d supported)", o->nslots,
                       SCHED_SLOTS_MAX);
    struct sched *s = calloc(1, sizeof(*s));
    if (!s)
        return sg_errf(err, -ENOMEM, "sched: out of memory");
    s->o = *o;
    s->ops = *ops;
    s->ud = ud;
    s->armed_at = -1;
    if (s->o.retry.max_attempts[0] == 0)
        retry_policy_default(&s->o.retry);
    if (s->o.breaker.threshold == 0)
        breaker_cfg_default(&s->o.breaker);
    if (s->o.dlr_window_ms <= 0)
        s->o.dlr_window_ms = SCHED_DLR_WINDOW_DEFAULT_MS;
    if (s->o.reasm_timeout_ms <= 0)
        s->o.reasm_timeout_ms = SCHED_REASM_TIMEOUT_DEFAULT_MS;
    if (s->o.sticky_window_ms > 0) {
        s->sticky = route_sticky_new(ROUTE_STICKY_DEFAULT_CAP, s->o.sticky_window_ms);
        if (!s->sticky) {
            free(s);
            return sg_errf(err, -ENOMEM, "sched: out of memory");
        }
    }
    struct reasm_cfg rc;
    reasm_cfg_default(&rc);
    rc.timeout_ms = s->o.reasm_timeout_ms;
    rc.max_total = STORE_PARTS_MAX * 16 > 255 ? 255 : STORE_PARTS_MAX * 16;
    s->reasm = reasm_new(&rc);
    if (!s->reasm) {
        route_sticky_free(s->sticky);
        free(s);
        return sg_errf(err, -ENOMEM, "sched: out of memory");
    }
    for (size_t i = 0; i < o->nslots; i++) {
        snprintf(s->slots[i].id, sizeof(s->slots[i].id), "%s", o->slot_ids[i]);
        s->slots[i].sim = -1;
    }
    *out = s;
    return 0;
}

void sched_free(struct sched *s)
{
    if (!s)
        return;
    route_sticky_free(s->sticky);
    reasm_free(s->reasm);
    free(s);
}

int sched_recover(struct sched *s, sg_ms now, struct sg_err *err)
{
    struct queue_recovery rec;
    int rc = queue_recover(s->o.queue, now, &rec, err);
    if (rc < 0)
        return rc;
    if (rec.requeued || rec.unknown)
        log_notice(s->o.log, "event=recover requeued=%d unknown=%d", rec.requeued, rec.unknown);
    struct reload r = {.s = s};
    rc = store_inbound_stale_groups(s->o.store, SG_MS_NEVER, reload_group, &r, err);
    if (rc < 0)
        return rc;
    if (r.n)
        log_notice(s->o.log, "event=recover inbound_parts=%d", r.n);
    return 0;
}

size_t sched_sims(const struct sched *s, struct sched_sim_view *out, size_t max, sg_ms now)
{
    size_t n = 0;
    for (size_t i = 0; i < SCHED_SIMS_MAX && n < max; i++) {
        const struct sim *sm = &s->sims[i];
        if (!sm->used)
            continue;
        struct sched_sim_view *v = &out[n++];
        memset(v, 0, sizeof(*v));
        snprintf(v->iccid, sizeof(v->iccid), "%s", sm->iccid);
        if (sm->cfg)
            snprintf(v->label, sizeof(v->label), "%s", sm->cfg->label);
        if (sm->slot >= 0)
            snprintf(v->slot, sizeof(v->slot), "%s", s->slots[sm->slot].id);
        v->enabled = sm->cfg ? sm->cfg->enabled : s->o.unknown_sims_enabled;
        v->breaker = breaker_state_name(breaker_state_at(&sm->breaker, &s->o.breaker, now));
        v->sent_today = sm->bucket.day_key == bucket_day_key(now) ? sm->bucket.day_count : 0;
        v->sent_month = sm->bucket.month_key == bucket_month_key(now) ? sm->bucket.month_count : 0;
        v->daily_left = bucket_daily_left(&sm->bucket, now);
        v->monthly_left = bucket_monthly_left(&sm->bucket, now);
        v->sends_ok = sm->sends_ok;
        v->sends_failed = sm->sends_failed;
        v->last_used = sm->last_used;
    }
    return n;
}
