/*
 * api_webhook: POSTs every event of the durable event log to zero or more
 * URLs, signed, in order, retried with exponential backoff.
 *
 * Each URL has a cursor (the last event seq it acknowledged with a 2xx),
 * kept in <state_dir>/webhook-<hash of the URL>.cursor (written with a
 * rename, not fsync'd: after a crash an event may be POSTed again, never
 * skipped; receivers dedupe by "seq"). A URL seen for the first time starts
 * at the current end of the log (history is for GET /v1/events).
 *
 * One request in flight per URL, events strictly in seq order, so the
 * order per message holds. A failure (transport error, timeout, non-2xx)
 * is retried after base, 2 base, 4 base... (capped, with up to 25% jitter)
 * for at most retry_max_ms since the event's first attempt; then the event
 * is given up (logged at warn) and the next one goes.
 *
 * Request: POST <url>, Content-Type: application/json, the body is the
 * event as GET /v1/events shows it ({"seq","at","type","message_id","data"}),
 *   X-Simgate-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
 *   X-Simgate-Event: <seq>
 *
 * Transfers run on the daemon's libuv loop through libcurl's multi socket
 * interface. Contract with the daemon: api_webhook_new after the store is
 * open; api_webhook_notify(w, last_seq) from the store's event hook (next
 * to api_notify_events); api_webhook_free at shutdown, before store_close,
 * then let the loop run once more (handles close asynchronously).
 * Ownership: the store and log are borrowed; option strings are copied.
 */
#ifndef SG_API_WEBHOOK_H
#define SG_API_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "drivers/base/sg_clock.h"
#include "drivers/base/sg_err.h"
#include "firmware/log.h"
#include "firmware/store.h"

#define API_WEBHOOK_MAX 8                         /* URLs */
#define API_WEBHOOK_URL_MAX 512
#define API_WEBHOOK_RETRY_MAX_DEFAULT (24LL * 3600 * 1000)
#define API_WEBHOOK_BASE_DEFAULT 1000             /* first retry after 1 s */
#define API_WEBHOOK_CAP_DEFAULT (10 * 60 * 1000)  /* retries at most every 10 min */
#define API_WEBHOOK_TIMEOUT_DEFAULT 10000         /* per request */

struct api_webhook_opts {
    const char *const *urls;
    size_t nurls;
    const char *secret;       /* HMAC key; required when there are URLs */
    const char *state_dir;    /* cursor files */
    sg_ms retry_max_ms;       /* 0 = 24 h */
    sg_ms retry_base_ms;      /* 0 = 1 s */
    sg_ms retry_cap_ms;       /* 0 = 10 min */
    long timeout_ms;          /* 0 = 10 s */
};

struct api_webhook;

int api_webhook_new(uv_loop_t *loop, const struct api_webhook_opts *o, const struct sglog *log,
                    struct store *st, struct api_webhook **out, struct sg_err *err);
/* New events up to last_seq were committed. */
void api_webhook_notify(struct api_webhook *w, int64_t last_seq);
void api_webhook_free(struct api_webhook *w);

/* Cursor of URL i (last acknowledged seq), -1 if no such URL. */
int64_t api_webhook_cursor(const struct api_webhook *w, size_t i);

/* "t=<t>,v1=<64 hex>" into out (at least 96 bytes). Pure. */
int api_webhook_sign(const char *secret, int64_t t, const char *body, size_t len, char *out,
                     size_t n);
/* Delay before retry number `attempt` (1-based): base * 2^(attempt-1)
 * capped at cap, plus jitter in [0, 25%] from jitter_permille (0..1000). */
sg_ms api_webhook_backoff(int attempt, sg_ms base, sg_ms cap, unsigned jitter_permille);

#endif
