#include "firmware/retry.h"

#include <stdio.h>
#include <string.h>

void retry_policy_default(struct retry_policy *p)
{
    static const struct retry_policy def = {
        .max_attempts = {[RETRY_PRIO_OTP] = 5, [RETRY_PRIO_URGENT] = 5,
                         [RETRY_PRIO_NORMAL] = 4, [RETRY_PRIO_BULK] = 3},
        .unclassified_max_attempts = RETRY_UNCLASSIFIED_MAX_ATTEMPTS,
        .soon_base_ms = RETRY_SOON_BASE_MS,
        .soon_cap_ms = RETRY_SOON_CAP_MS,
        .later_base_ms = RETRY_LATER_BASE_MS,
        .later_cap_ms = RETRY_LATER_CAP_MS,
        .recover = {[RETRY_PRIO_OTP] = RETRY_RECOVER_RESEND,
                    [RETRY_PRIO_URGENT] = RETRY_RECOVER_RESEND,
                    [RETRY_PRIO_NORMAL] = RETRY_RECOVER_MARK_UNKNOWN,
                    [RETRY_PRIO_BULK] = RETRY_RECOVER_MARK_UNKNOWN},
    };
    *p = def;
}

sg_ms retry_backoff(sg_ms base, sg_ms cap, unsigned n, uint32_t jitter)
{
    if (base < 1)
        base = 1;
    if (cap < base)
        cap = base;
    sg_ms d = base;
    /* Double until the cap; the loop bound keeps the shift from overflowing. */
    for (unsigned i = 1; i < n; i++) {
        if (d > cap / 2) {   /* doubling would pass the cap (and, later, overflow) */
            d = cap;
            break;
        }
        d *= 2;
    }
    sg_ms half = d / 2;
    return d - half + (sg_ms)(jitter % (uint64_t)(half + 1));
}

static enum retry_prio clamp_prio(enum retry_prio p)
{
    return (unsigned)p < RETRY_PRIO_COUNT ? p : RETRY_PRIO_BULK;
}

static unsigned cap_for(const struct retry_policy *p, enum retry_prio prio)
{
    unsigned m = p->max_attempts[clamp_prio(prio)];
    if (m < 1)
        m = 1;
    return m > RETRY_MAX_ATTEMPTS_CAP ? RETRY_MAX_ATTEMPTS_CAP : m;
}

static void set(struct retry_decision *out, enum retry_action a, sg_ms at, const char *fmt, int code)
{
    out->action = a;
    out->at = at;
    if (code >= 0)
        snprintf(out->cause, sizeof(out->cause), "%s (error %d)", fmt, code);
    else
        snprintf(out->cause, sizeof(out->cause), "%s", fmt);
}

void retry_gate(const struct retry_policy *p, enum retry_prio prio, unsigned attempts, sg_ms deadline,
                sg_ms now, struct retry_decision *out)
{
    memset(out, 0, sizeof(*out));
    if (now >= deadline)
        set(out, RETRY_ACT_EXPIRE, now, "ttl passed before sending", -1);
    else if (attempts >= cap_for(p, prio))
        set(out, RETRY_ACT_FAIL, now, "retries exhausted", -1);
    else
        set(out, RETRY_ACT_AT, now, "", -1);
}

/* Another SIM now if one is left, else any SIM after the short backoff. */
static void elsewhere(const struct retry_policy *p, const struct retry_input *in,
                      struct retry_decision *out, const char *why)
{
    if (in->sims_left > 0) {
        set(out, RETRY_ACT_OTHER_SIM, in->now, why, in->code);
        out->exclude_sim = true;
        return;
    }
    sg_ms at = in->now + retry_backoff(p->soon_base_ms, p->soon_cap_ms, in->attempts, in->jitter);
    set(out, RETRY_ACT_AT, at, why, in->code);
    out->clear_exclusions = true;
}

/* Checks the deadline against a scheduled retry; true if it expired the message. */
static bool expire_if_late(const struct retry_input *in, struct retry_decision *out)
{
    if (out->at < in->deadline)
        return false;
    set(out, RETRY_ACT_EXPIRE, in->now, "ttl passes before the next attempt", in->code);
    out->exclude_sim = false;
    out->clear_exclusions = false;
    return true;
}

void retry_decide(const struct retry_policy *p, const struct retry_input *in, struct retry_decision *out)
{
    memset(out, 0, sizeof(*out));
    enum retry_class cls = (unsigned)in->cls < RETRY_CLASS_COUNT ? in->cls : RETRY_CLASS_UNCLASSIFIED;
    enum retry_prio prio = clamp_prio(in->prio);

    /* Outcomes that do not depend on attempts or TTL come first. */
    switch (cls) {
    case RETRY_CLASS_IGNORE:
        set(out, RETRY_ACT_NONE, in->now, "ignored error", in->code);
        return;
    case RETRY_CLASS_DUPLICATE:
        set(out, RETRY_ACT_SENT, in->now, "smsc reports duplicate: already sent", in->code);
        return;
    case RETRY_CLASS_PERMANENT:
        set(out, RETRY_ACT_FAIL, in->now, "permanent error", in->code);
        return;
    case RETRY_CLASS_UNKNOWN_AFTER_PAYLOAD:
        if (p->recover[prio] == RETRY_RECOVER_MARK_UNKNOWN) {
            set(out, RETRY_ACT_UNKNOWN, in->now, "no result after payload", in->code);
            return;
        }
        break;
    default:
        break;
    }

    bool maybe_sent = cls == RETRY_CLASS_UNKNOWN_AFTER_PAYLOAD;
    if (in->now >= in->deadline) {
        set(out, maybe_sent ? RETRY_ACT_UNKNOWN : RETRY_ACT_EXPIRE, in->now, "ttl passed", in->code);
        return;
    }
    unsigned cap = cap_for(p, prio);
    if (cls == RETRY_CLASS_UNCLASSIFIED && p->unclassified_max_attempts < cap)
        cap = p->unclassified_max_attempts ? p->unclassified_max_attempts : 1;
    if (in->attempts >= cap) {
        set(out, maybe_sent ? RETRY_ACT_UNKNOWN : RETRY_ACT_FAIL, in->now, "retries exhausted", in->code);
        return;
    }

    switch (cls) {
    case RETRY_CLASS_SOON:
        elsewhere(p, in, out, "retry soon");
        break;
    case RETRY_CLASS_TIMEOUT_BEFORE_PAYLOAD:
        elsewhere(p, in, out, "timeout before payload");
        break;
    case RETRY_CLASS_UNKNOWN_AFTER_PAYLOAD:
        elsewhere(p, in, out, "no result after payload, resending");
        break;
    case RETRY_CLASS_MEMFULL:
        set(out, RETRY_ACT_CLEAR_STORAGE,
            in->now + retry_backoff(p->soon_base_ms, p->soon_cap_ms, in->attempts, in->jitter),
            "sim storage full", in->code);
        break;
    case RETRY_CLASS_LATER:
    case RETRY_CLASS_UNCLASSIFIED:
    default:
        set(out, RETRY_ACT_AT,
            in->now + retry_backoff(p->later_base_ms, p->later_cap_ms, in->attempts, in->jitter),
            cls == RETRY_CLASS_LATER ? "retry later" : "unclassified error", in->code);
        break;
    }
    if (out->action != RETRY_ACT_OTHER_SIM)
        expire_if_late(in, out);
    /* A PDU that may have gone out is never reported as expired or failed. */
    if (cls == RETRY_CLASS_UNKNOWN_AFTER_PAYLOAD && out->action == RETRY_ACT_EXPIRE)
        set(out, RETRY_ACT_UNKNOWN, in->now, "no result after payload, ttl passed", in->code);
}

void retry_recover(const struct retry_policy *p, enum retry_prio prio, unsigned attempts, sg_ms deadline,
                   sg_ms now, struct retry_decision *out)
{
    memset(out, 0, sizeof(*out));
    prio = clamp_prio(prio);
    if (p->recover[prio] == RETRY_RECOVER_MARK_UNKNOWN) {
        set(out, RETRY_ACT_UNKNOWN, now, "in sending at restart", -1);
        return;
    }
    retry_gate(p, prio, attempts, deadline, now, out);
    if (out->action == RETRY_ACT_AT) {
        set(out, RETRY_ACT_OTHER_SIM, now, "in sending at restart, resending", -1);
        out->exclude_sim = true;
    } else {
        /* It may have gone out before the crash: neither expired nor failed. */
        char why[RETRY_CAUSE_MAX];
        snprintf(why, sizeof(why), "in sending at restart, %s", out->cause);
        set(out, RETRY_ACT_UNKNOWN, now, why, -1);
    }
}

const char *retry_class_name(enum retry_class c)
{
    static const char *const names[RETRY_CLASS_COUNT] = {
        [RETRY_CLASS_SOON] = "retry_soon",
        [RETRY_CLASS_LATER] = "retry_later",
        [RETRY_CLASS_PERMANENT] = "permanent",
        [RETRY_CLASS_DUPLICATE] = "duplicate",
        [RETRY_CLASS_MEMFULL] = "memory_full",
        [RETRY_CLASS_IGNORE] = "ignore",
        [RETRY_CLASS_UNCLASSIFIED] = "unclassified",
        [RETRY_CLASS_TIMEOUT_BEFORE_PAYLOAD] = "timeout_before_payload",
        [RETRY_CLASS_UNKNOWN_AFTER_PAYLOAD] = "unknown_after_payload",
    };
    return (unsigned)c < RETRY_CLASS_COUNT ? names[c] : "invalid";
}

const char *retry_action_name(enum retry_action a)
{
    static const char *const names[] = {
        [RETRY_ACT_NONE] = "none",
        [RETRY_ACT_OTHER_SIM] = "other_sim",
        [RETRY_ACT_AT] = "retry_at",
        [RETRY_ACT_CLEAR_STORAGE] = "clear_storage",
        [RETRY_ACT_SENT] = "sent",
        [RETRY_ACT_FAIL] = "fail",
        [RETRY_ACT_EXPIRE] = "expire",
        [RETRY_ACT_UNKNOWN] = "unknown",
    };
    return (unsigned)a < sizeof(names) / sizeof(names[0]) ? names[a] : "invalid";
}

const char *retry_prio_name(enum retry_prio p)
{
    static const char *const names[RETRY_PRIO_COUNT] = {"otp", "urgent", "normal", "bulk"};
    return (unsigned)p < RETRY_PRIO_COUNT ? names[p] : "invalid";
}
