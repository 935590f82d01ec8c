/*
 * retry: what to do with a message after a send attempt did not succeed,
 * and with a message found in `sending` after a crash.
 *
 * Pure policy: the caller passes the error class (from the modem layer's
 * classification of +CMS/+CME ERROR and timeouts, REFERENCE §7), the
 * message's priority, attempts so far, TTL deadline, the current wall time
 * and 32 random bits for jitter; it gets back one decision. Retry state
 * lives in the message row (attempts, next_attempt_at, last_error), never
 * here.
 *
 * Defaults chosen (retry_policy_default), and why:
 *   - attempts (all classes, first send included): otp 5, urgent 5,
 *     normal 4, bulk 3. An OTP has a short TTL (5 min) that bounds it
 *     anyway; bulk should not occupy SIMs retrying.
 *   - retry-soon / timeout before the payload: another SIM now; if no other
 *     SIM is left, any SIM after 2 s doubling to a 30 s cap.
 *   - retry-later and unclassified codes: 30 s doubling to a 30 min cap,
 *     "equal jitter" (the delay is uniform in [d/2, d]) so a burst of
 *     failures does not come back at the same instant. Unclassified codes
 *     (CMS 500, vendor 512+) get at most 3 attempts: an error we do not
 *     understand should not burn a SIM's quota.
 *   - outcome unknown (payload written, no answer; or `sending` at crash):
 *     otp and urgent are resent on another SIM (a duplicate code beats no
 *     code), normal and bulk become `unknown` and are reported.
 *   - the TTL is checked before every attempt, and a retry that would fall
 *     due after the deadline expires the message at once instead of
 *     holding it.
 */
#ifndef SG_RETRY_H
#define SG_RETRY_H

#include <stdbool.h>
#include <stdint.h>

#include "drivers/base/sg_clock.h"

enum retry_prio {
    RETRY_PRIO_OTP = 0,
    RETRY_PRIO_URGENT,
    RETRY_PRIO_NORMAL,
    RETRY_PRIO_BULK,
    RETRY_PRIO_COUNT
};

/* How the modem layer classified a failed send (REFERENCE §7). */
enum retry_class {
    RETRY_CLASS_SOON = 0,       /* 41, 42, 47, 192, 314, 332, 515…: congestion, busy */
    RETRY_CLASS_LATER,          /* 27, 38, 300, 313, 331…: network/ME trouble */
    RETRY_CLASS_PERMANENT,      /* 1, 10, 28, 195, 304, 310…: will never work */
    RETRY_CLASS_DUPLICATE,      /* 197: the SMSC already has this SM; do not resend */
    RETRY_CLASS_MEMFULL,        /* 322: delete stored messages, then retry */
    RETRY_CLASS_IGNORE,         /* 340: not about this send; keep waiting */
    RETRY_CLASS_UNCLASSIFIED,   /* 500, vendor codes we do not know */
    RETRY_CLASS_TIMEOUT_BEFORE_PAYLOAD,  /* no '> ' prompt: nothing left the modem */
    RETRY_CLASS_UNKNOWN_AFTER_PAYLOAD,   /* PDU written, no final result: may be sent */
    RETRY_CLASS_COUNT
};

enum retry_action {
    RETRY_ACT_NONE = 0,     /* not a failure of this send (340): change nothing */
    RETRY_ACT_OTHER_SIM,    /* queue now, excluding the SIM that failed */
    RETRY_ACT_AT,           /* queue for `at` (any eligible SIM) */
    RETRY_ACT_CLEAR_STORAGE,/* have the modem delete stored SMS, then retry at `at` */
    RETRY_ACT_SENT,         /* treat as sent (duplicate 197) */
    RETRY_ACT_FAIL,         /* `failed` with `cause` */
    RETRY_ACT_EXPIRE,       /* `expired`: TTL passed or would pass before the retry */
    RETRY_ACT_UNKNOWN,      /* `unknown`: outcome not known; report it */
};

/* What happens to a message whose outcome is unknown (crash in `sending`,
 * or a timeout after the payload was written). */
enum retry_recover {
    RETRY_RECOVER_RESEND = 0,
    RETRY_RECOVER_MARK_UNKNOWN,
};

#define RETRY_SOON_BASE_MS 2000
#define RETRY_SOON_CAP_MS 30000
#define RETRY_LATER_BASE_MS 30000
#define RETRY_LATER_CAP_MS (30 * 60 * 1000)
#define RETRY_UNCLASSIFIED_MAX_ATTEMPTS 3
#define RETRY_MAX_ATTEMPTS_CAP 100   /* config sanity bound */

struct retry_policy {
    unsigned max_attempts[RETRY_PRIO_COUNT];   /* >= 1, first send included */
    unsigned unclassified_max_attempts;
    sg_ms soon_base_ms, soon_cap_ms;
    sg_ms later_base_ms, later_cap_ms;
    enum retry_recover recover[RETRY_PRIO_COUNT];
};

void retry_policy_default(struct retry_policy *p);

struct retry_input {
    enum retry_class cls;
    enum retry_prio prio;
    unsigned attempts;     /* attempts made, including the one that just failed (>= 1) */
    unsigned sims_left;    /* eligible SIMs not yet excluded for this message */
    sg_ms deadline;        /* wall ms after which it must not be sent; SG_MS_NEVER */
    sg_ms now;             /* wall ms */
    uint32_t jitter;       /* caller's random bits */
    int code;              /* the CMS/CME code (for cause text), -1 if none */
};

#define RETRY_CAUSE_MAX 64

struct retry_decision {
    enum retry_action action;
    sg_ms at;                   /* OTHER_SIM: now; AT/CLEAR_STORAGE: when due */
    bool exclude_sim;           /* add the failing SIM to the message's exclusions */
    bool clear_exclusions;      /* every SIM was tried: forget the exclusions */
    char cause[RETRY_CAUSE_MAX];/* for FAIL/EXPIRE/UNKNOWN, and the history row */
};

/* Decides after a failed attempt. Never fails: out-of-range input (unknown
 * class or priority) is treated as unclassified / bulk. */
void retry_decide(const struct retry_policy *p, const struct retry_input *in,
                  struct retry_decision *out);

/* The gate before every attempt: RETRY_ACT_AT (go ahead, at = now),
 * RETRY_ACT_EXPIRE (now >= deadline) or RETRY_ACT_FAIL (attempts used up). */
void retry_gate(const struct retry_policy *p, enum retry_prio prio, unsigned attempts,
                sg_ms deadline, sg_ms now, struct retry_decision *out);

/* Start-up rule for a row found in `sending`: per the policy's recover
 * table, resend (RETRY_ACT_OTHER_SIM, excluding the SIM it was on, unless
 * expired or out of attempts) or RETRY_ACT_UNKNOWN. */
void retry_recover(const struct retry_policy *p, enum retry_prio prio, unsigned attempts,
                   sg_ms deadline, sg_ms now, struct retry_decision *out);

/* Exponential backoff with equal jitter: d = min(cap, base * 2^(n-1)),
 * result uniform-ish in [d/2, d] from `jitter`. n >= 1. Exposed for tests
 * and for the bounds the scheduler logs. */
sg_ms retry_backoff(sg_ms base, sg_ms cap, unsigned n, uint32_t jitter);

const char *retry_class_name(enum retry_class c);
const char *retry_action_name(enum retry_action a);
const char *retry_prio_name(enum retry_prio p);

#endif
