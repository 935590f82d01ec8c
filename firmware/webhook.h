/*
 * webhook: pushes every event of the durable log (firmware/store's events
 * table) to zero or more HTTP(S) receivers, signed, in seq order, retried
 * with backoff for a bounded time, resuming after a restart.
 *
 * One POST per event, body (Content-Type: application/json):
 *     {"seq":42,"type":"message.state","at":"2026-11-22T15:40:00.123Z",
 *      "message_id":7,"data":{...the event's payload...}}
 * ("message_id" is null for events not about a message; "data" is the
 * payload object, or the raw payload as a JSON string if it is not JSON.)
 * Headers:
 *     X-Simgate-Signature: t=<unix seconds>,v1=<lowercase hex HMAC-SHA256
 *                          with the secret of "<t>.<body>">
 *     X-Simgate-Event-Seq: <seq>        (receivers dedupe on it)
 * t is taken at each attempt, so a receiver can refuse stale replays.
 *
 * Delivery, per target (each target is independent of the others):
 *   - ONE request in flight per target, events strictly in seq order (so in
 *     order per message). Throughput per target is therefore one event per
 *     (round trip + receiver time + the cursor file's two fsyncs): measured
 *     60..180 events/s on loopback on a shared VM disk (release and ASan
 *     builds alike: fsync-bound); over a 50 ms WAN link about 20 per second. Events are a few per
 * message, so this is ample for a few modems; a window of requests (with one cursor write per
 * batch) would be the fix if it is not.
 *   - 2xx = acknowledged. Anything else (other status, connect error,
 *     timeout after opts.timeout_ms) is a failed attempt: retried after
 *     retry_backoff(base, cap, attempts, jitter) (equal jitter, doubling
 *     from 1 s to 5 min by default). The first attempt is always made; a
 *     retry that would fall due later than event.at + opts.max_age_ms
 *     (default 24 h) is not made: the event is skipped for that target with
 *     a warn line and the `skipped` counter, and the next one goes. So after
 *     a long outage each stale event still gets one attempt (one timeout at
 *     worst) before it is skipped.
 *   - An event whose body would exceed WEBHOOK_BODY_MAX is skipped the same
 *     way (it could never be sent).
 *   - Cursor: the last seq acknowledged (or skipped) by a target is kept in
 *     <state_dir>/webhook-<16 hex of a hash of the URL>.cursor, one decimal
 *     line, written temp + fsync + rename + fsync(dir) after every ack,
 *     before the next event is sent. A restart resumes after it: nothing
 *     acknowledged is re-sent, except the one event whose 2xx arrived just
 *     before a crash and before its cursor write (at most one duplicate per
 *     target, same seq). Changing a URL makes a new target.
 *   - A target seen for the first time (no cursor file) starts at the end of
 *     the log (events appended after webhook_new), or with
 *     opts.start_at_oldest at the oldest event still retained. An
 *     unreadable cursor file is treated like start_at_oldest (duplicates
 *     beat loss) with a warn line. Events purged by retention before a
 *     target got them are not delivered to it (the backlog is the log):
 *     the hole is logged (webhook.purged_before_delivery) and counted in
 *     `skipped`. Keep retention longer than max_age.
 *
 * Loop glue: libcurl's multi interface driven by the caller's libuv loop
 * (CURLMOPT_SOCKETFUNCTION -> one uv_poll_t per socket,
 * CURLMOPT_TIMERFUNCTION -> one uv_timer_t); no threads of ours, no
 * blocking call except the small cursor-file fsync (the same kind of cost
 * as the store's commits). libcurl's own resolver may use a thread.
 * Proxies from the environment are honoured, except for loopback.
 *
 * The secret and the URLs are never logged (URLs may carry credentials):
 * lines name a target by index and host.
 *
 * Threading: the loop's thread only.
 */
#ifndef SG_WEBHOOK_H
#define SG_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "drivers/base/sg_clock.h"
#include "drivers/base/sg_err.h"
#include "firmware/log.h"
#include "firmware/store.h"

/* ------------------------------------------------------------ caps and defaults */
#define WEBHOOK_TARGETS_MAX     8
#define WEBHOOK_URL_MAX         2048 /* bytes of a URL, NUL excluded */
#define WEBHOOK_SECRET_MIN      16   /* bytes; shorter secrets are refused */
#define WEBHOOK_SECRET_MAX      256
#define WEBHOOK_BODY_MAX        (256 * 1024) /* bytes of one POST body; larger: skipped */
#define WEBHOOK_TIMEOUT_MS      10000        /* per request, connect included */
#define WEBHOOK_TIMEOUT_MAX_MS  300000
#define WEBHOOK_BACKOFF_BASE_MS 1000 /* first retry after 0.5..1 s */
#define WEBHOOK_BACKOFF_CAP_MS  (5 * 60 * 1000)
#define WEBHOOK_MAX_AGE_MS      (24LL * 3600 * 1000)
#define WEBHOOK_STORE_RETRY_MS  1000 /* store busy while reading the next event */
#define WEBHOOK_SIG_HEX_LEN     64   /* hex chars of an HMAC-SHA256 */

struct webhook_opts {
    const char *const *urls; /* nurls URLs, http:// or https:// (copied) */
    unsigned nurls;          /* 0..WEBHOOK_TARGETS_MAX */
    const char *secret;      /* WEBHOOK_SECRET_MIN..MAX bytes (copied, wiped on free);
                                may be NULL when nurls == 0 */
    sg_ms timeout_ms;        /* 0 = WEBHOOK_TIMEOUT_MS */
    sg_ms backoff_base_ms;   /* 0 = WEBHOOK_BACKOFF_BASE_MS */
    sg_ms backoff_cap_ms;    /* 0 = WEBHOOK_BACKOFF_CAP_MS */
    sg_ms max_age_ms;        /* 0 = WEBHOOK_MAX_AGE_MS: give up this long after event.at */
    bool start_at_oldest;    /* new targets get the whole retained log */
};

struct webhook;

/*
 * Validates opts, reads or creates each target's cursor file in state_dir
 * (which must exist), and starts delivering whatever is pending. loop, st
 * and log are borrowed and must outlive the webhook. *out is owned by the
 * caller, released with webhook_free(). Errors: -EINVAL (bad URL, duplicate
 * URL, secret length, option out of range), -E2BIG (too many targets, URL
 * too long), -EIO (cursor file or state dir), -ENOMEM, or the store's code.
 */
int webhook_new(uv_loop_t *loop, struct store *st, const struct sglog *log,
                const struct webhook_opts *opts, const char *state_dir, struct webhook **out,
                struct sg_err *err);

/*
 * Tells the webhook that the log now ends at last_seq (call it from the
 * store's event hook). Cheap and safe to call from inside a store
 * callback: the work is deferred to the next loop turn.
 */
void webhook_notify(struct webhook *w, int64_t last_seq);

/* Number of targets (index order = opts.urls order). */
unsigned webhook_count(const struct webhook *w);

struct webhook_stats {
    uint64_t delivered;       /* events acknowledged with a 2xx */
    uint64_t failed_attempts; /* non-2xx, connect errors, timeouts */
    uint64_t skipped;         /* events given up on (max age, body cap) */
    uint64_t cursor_errors;   /* cursor file writes that failed (retried at the next ack) */
    int64_t cursor;           /* last seq acknowledged or skipped */
    int64_t backlog;          /* last known seq - cursor (seq distance) */
    bool in_flight;           /* a request is open now */
    unsigned attempts;        /* attempts made on the current event */
    int last_status;          /* HTTP status of the last answer, 0 none */
    int last_curl;            /* CURLcode of the last failed transfer, 0 none */
};
/* Counters of target i; -ENOENT when i >= webhook_count(w). */
int webhook_stats(const struct webhook *w, unsigned i, struct webhook_stats *out);

/*
 * Cancels open transfers (an event in flight is sent again after a
 * restart), closes every handle. The memory is released from the handles'
 * close callbacks, so the loop must run once more afterwards (uv_run with
 * UV_RUN_DEFAULT or NOWAIT, as before uv_loop_close). Call it before
 * store_close() and before a uv_walk() that closes leftover handles with
 * no callback (that would leak the webhook). NULL is a no-op.
 */
void webhook_free(struct webhook *w);

/* ------------------------------------------------------------ pure parts (exposed for tests) */

/* "v1" signature: lowercase hex HMAC-SHA256(secret, "<t>.<body>") into
 * hex[WEBHOOK_SIG_HEX_LEN + 1]. */
void webhook_sign(const char *secret, size_t secret_len, int64_t t, const char *body,
                  size_t body_len, char hex[WEBHOOK_SIG_HEX_LEN + 1]);

/* The POST body of an event (format above), malloc'd, NUL-terminated; *len
 * without the NUL. -ENOMEM, -E2BIG over WEBHOOK_BODY_MAX. */
int webhook_body(const struct store_event *e, char **out, size_t *len, struct sg_err *err);

struct webhook_policy {
    sg_ms base_ms, cap_ms, max_age_ms;
};
enum webhook_verdict {
    WEBHOOK_DONE = 0, /* acknowledged: advance the cursor */
    WEBHOOK_RETRY,    /* try again after delay_ms */
    WEBHOOK_SKIP,     /* give up on this event for this target */
};
/* Decides after an attempt. attempts counts the attempts made, the one
 * that just ended included (>= 1); event_at and now are wall ms. */
enum webhook_verdict webhook_decide(const struct webhook_policy *p, bool acked, unsigned attempts,
                                    sg_ms event_at, sg_ms now, uint32_t jitter, sg_ms *delay_ms);

#endif
