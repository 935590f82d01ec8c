/*
 * queue: the message lifecycle on top of firmware/store.
 *
 *   queued -> sending -> sent -> delivered | undelivered
 *   queued -> expired | canceled        sending -> queued (retry) | failed | unknown
 *   (the whole table is queue.c's `transitions`, the one place it is enforced)
 *
 * Every transition writes the message row, a history row and a
 * "message.state" event in one transaction. All writes to messages go
 * through this module; reads may use the store directly.
 *
 * Submit validates and encodes synchronously (number via firmware/msisdn,
 * text via drivers/gsm/pdu into at most max_parts SUBMIT PDUs, stored at
 * accept time; the modem fills TP-MR) and then enqueues the accept for the
 * next group commit: the daemon calls queue_flush() once per loop turn and
 * answers the client from the submit callback.
 *
 * Time: `now` is wall-clock UTC ms, always passed in.
 * Ownership: queue_open borrows the store (it must outlive the queue).
 */
#ifndef SG_QUEUE_H
#define SG_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/base/sg_clock.h"
#include "drivers/base/sg_err.h"
#include "firmware/store.h"

/* What start-up does with a message left in `sending` (per priority). */
enum queue_recover {
    QUEUE_RECOVER_DEFAULT = 0,  /* otp, urgent: RETRY; normal, bulk: UNKNOWN */
    QUEUE_RECOVER_RETRY,        /* back to queued (the interrupted attempt stays counted) */
    QUEUE_RECOVER_UNKNOWN,      /* unknown, reported by event: never sent twice */
};

struct queue_opts {
    char default_cc[4];                       /* "33": national numbers; "" = E.164 only */
    sg_ms ttl_default_ms[STORE_PRIO_COUNT];   /* 0 = built-in: otp 300 s, urgent 3600 s,
                                                 normal 86400 s, bulk 86400 s */
    sg_ms ttl_max_ms;                         /* 0 = 7 days; a longer requested TTL is refused */
    unsigned max_parts;                       /* 0 = 10; at most STORE_PARTS_MAX */
    enum queue_recover recover[STORE_PRIO_COUNT];
    bool validity_from_ttl;                   /* set TP-VP to the TTL so the SMSC drops it too */
};

struct queue;

/* opts may be NULL (all defaults). */
int queue_open(struct queue **out, struct store *st, const struct queue_opts *opts,
               struct sg_err *err);
void queue_close(struct queue *q);
/* Effective default TTL for a priority. */
sg_ms queue_ttl_default(const struct queue *q, enum store_prio p);

/* Is from -> to in the lifecycle table? */
bool queue_transition_allowed(enum store_state from, enum store_state to);

/* ------------------------------------------------------------ submit */

struct queue_submit {
    const char *to;              /* as the client gave it */
    size_t to_len;               /* 0 = strlen(to) */
    const char *text;            /* UTF-8, not necessarily NUL-terminated */
    size_t text_len;
    enum store_prio prio;
    sg_ms ttl_ms;                /* 0 = the priority's default */
    bool status_report;
    bool smart_encoding;
    const char *idem_key;        /* NULL or "" = none; printable ASCII, <= STORE_IDEM_KEY_MAX */
};

/* r->rc: 0 accepted (r->replay: the original message), -EEXIST key reused
 * with other parameters (409), store_err_unavailable(): 503. */
typedef store_accept_cb queue_submit_cb;

/*
 * Validates, encodes and enqueues. Returns 0 when the callback will follow
 * (from queue_flush), or a negative code at once and no callback:
 *   -EINVAL  bad field (*field says which: "to", "text", "priority", "ttl",
 *            "idempotency_key")
 *   -EILSEQ  text is not valid UTF-8 (field "text")
 *   -E2BIG   text needs more than max_parts parts (field "text")
 *   -EBUSY   too many submits pending before a flush
 * field may be NULL; *field points to a static string.
 */
int queue_submit(struct queue *q, const struct queue_submit *s, sg_ms now, queue_submit_cb cb,
                 void *ud, const char **field, struct sg_err *err);

/* Group commit of pending submits (call once per loop turn). Returns the
 * number of new messages committed (> 0: kick the scheduler) or < 0. */
int queue_flush(struct queue *q, struct sg_err *err);

/* ------------------------------------------------------------ scheduling */

/*
 * The message a free modem should take now: expires every queued message
 * whose TTL has passed (so a stale OTP is never handed out), then returns
 * the highest-priority due message (then the oldest due). Returns 1 and
 * fills *out, 0 when nothing is due, or < 0.
 */
int queue_next_due(struct queue *q, sg_ms now, struct store_msg *out, struct sg_err *err);
/* Same, up to max ids in dispatch order (lets the scheduler skip a message
 * no SIM may carry right now). Returns the count. */
int queue_due_ids(struct queue *q, sg_ms now, int64_t *ids, int max, struct sg_err *err);
/* queued -> expired for every message past its TTL, in batches of 256.
 * Returns how many expired. */
int queue_expire(struct queue *q, sg_ms now, struct sg_err *err);
/* When the one retry timer should fire: the earliest next_attempt_at or
 * expires_at among queued messages; SG_MS_NEVER when none. */
int queue_next_wakeup(struct queue *q, sg_ms *at, struct sg_err *err);
/* Keeps a queued message queued, next attempt at `until` (no SIM can take
 * it yet, rate limits...). No history row. */
int queue_defer(struct queue *q, int64_t id, sg_ms until, const char *cause, sg_ms now,
                struct sg_err *err);

/* ------------------------------------------------------------ sending */

/* Who handled an attempt. Strings may be NULL. */
struct queue_via {
    const char *modem;
    const char *iccid;
};

/* queued -> sending (attempts + 1). -ESTALE if it is no longer queued;
 * -ETIME (and the message becomes expired) if its TTL passed. */
int queue_mark_sending(struct queue *q, int64_t id, const struct queue_via *via, sg_ms now,
                       struct sg_err *err);
/* Part `seq` accepted by the modem with TP-MR `mr`. When every part is
 * sent: sending -> sent. Returns 1 when the message became sent, else 0. */
int queue_part_sent(struct queue *q, int64_t id, int seq, const struct queue_via *via, int mr,
                    sg_ms now, struct sg_err *err);
/* A send attempt failed. retry_at >= 0: sending -> queued, next attempt then
 * (parts reset to pending); retry_at < 0: sending -> failed. The retry
 * policy (firmware/retry) decides; this records it. */
int queue_send_failed(struct queue *q, int64_t id, const struct queue_via *via, sg_ms retry_at,
                      const char *cause, sg_ms now, struct sg_err *err);
/* Gives up without (another) attempt: queued | sending -> failed with
 * `cause` (attempt cap reached, no SIM may ever carry it). */
int queue_fail(struct queue *q, int64_t id, const char *cause, sg_ms now, struct sg_err *err);
/* Outcome not known (timeout after the PDU was written): sending -> unknown. */
int queue_mark_unknown(struct queue *q, int64_t id, const char *cause, sg_ms now,
                       struct sg_err *err);
/*
 * A status report for part `seq` with TP-ST `st`. Delivered (0x00..0x1F):
 * the part is delivered, and the message when all its parts are (sent ->
 * delivered). Permanent / stopped: sent -> undelivered with the cause
 * "tp-st=0xNN <class>". Temporary: recorded on the part only.
 * Returns the message's state after the report, or < 0.
 */
int queue_part_dlr(struct queue *q, int64_t id, int seq, uint8_t st, sg_ms now,
                   struct sg_err *err);

/* ------------------------------------------------------------ control */

/* queued -> canceled. 0 also when already canceled; -EALREADY ("too late",
 * the API's 409) once handed to a modem or final; -ENOENT. */
int queue_cancel(struct queue *q, int64_t id, const char *cause, sg_ms now, struct sg_err *err);

struct queue_recovery {
    int requeued;   /* sending -> queued */
    int unknown;    /* sending -> unknown */
};
/* Start-up: resolves every message left in `sending` by opts.recover. */
int queue_recover(struct queue *q, sg_ms now, struct queue_recovery *out, struct sg_err *err);

#endif
