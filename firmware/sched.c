#include "firmware/sched.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "firmware/msisdn.h"
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
    struct store_msg msg;                  /* scratch: one message row (8 KiB of text) */
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
                if (rr.retry_at != SG_MS_NEVER && rr.reason != ROUTE_BUSY) {
                    queue_defer(s->o.queue, s->msg.id, rr.retry_at, route_reason_name(rr.reason),
                                now, &err);
                    if (rr.retry_at < wake)
                        wake = rr.retry_at;
                }
                continue;
            }
            start_job(s, (size_t)slot_of[rr.index], &s->msg, now);
        }
    }
    sg_ms next;
    if (queue_next_wakeup(s->o.queue, &next, &err) == 0 && next < wake)
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
        dispatch(s, now);
    } while (s->kick_again);
    s->in_kick = false;
}

/* ------------------------------------------------------------ results */

static enum retry_class classify(const struct modem_send_result *r)
{
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
    int rc = queue_part_sent(s->o.queue, j->msg_id, j->seq, &via, r->mr, now, &err);
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
    if (sm) {
        sm->sends_ok++;
        breaker_on_success(&sm->breaker);
        if (s->sticky)
            route_sticky_remember(s->sticky, j->to, sm->iccid, now);
        sim_save(s, sm, now);
    }
    excl_clear(s, j->msg_id);
    job_done(s, slot, now);
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
