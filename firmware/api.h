/*
 * api: simgated's HTTP/JSON API (issue 6) on top of firmware/api_http.
 *
 * Contract with the daemon (firmware/gw.c):
 *   - api_new(loop, opts, log, queue, store, provider) after the store and
 *     queue are open; it binds the socket(s) and serves on the loop.
 *   - Group commit: the api flushes by itself, from its own uv_check_t
 *     (after I/O, so every submit read in one loop turn joins one
 *     transaction; a uv_idle_t keeps the loop from blocking while submits
 *     wait). opts.on_commit(ud, n) is called when n > 0 new messages were
 *     committed: kick the scheduler there. The 202s are sent from the
 *     commit callbacks, never before. api_flush() may also be called
 *     directly (it is a no-op when nothing waits) and returns the count;
 *     a daemon check handle started after api_new() runs before the api's
 *     own (libuv runs the newest first), but on_commit does not depend on
 *     that order.
 *   - api_notify_events(api, last_seq) after events were committed (the
 *     store's event hook): wakes long-polls on GET /v1/events.
 *   - api_free(api) at shutdown BEFORE queue_close()/store_close(): it
 *     flushes pending submits (their clients get real answers), answers
 *     long-polls, closes the listeners; the loop must run once more
 *     afterwards (gw_free's uv_run does) to release the handles.
 *   - The provider (modems, SIMs, extra metrics) is a struct of callbacks
 *     filling fixed structs; it is called synchronously from a request.
 *
 *   The store has ONE event hook; the daemon fans it out:
 *     static void on_events(void *ud, int64_t seq)
 *     { struct gw *gw = ud; api_notify_events(gw->api, seq); webhook_notify(gw->webhook, seq); }
 *     store_set_event_hook(st, on_events, gw);
 *     struct api_opts ao = {.socket_path = cfg->api.socket, .socket_mode = cfg->api.socket_mode,
 *                           .socket_group = cfg->api.group, .default_cc = <queue's default_cc>,
 *                           .on_commit = kick_scheduler, .commit_ud = gw};
 *     api_new(&gw->loop, &ao, gw->log, gw->queue, gw->store, &provider, &gw->api, &err);
 *   and at shutdown: api_free(gw->api) (before the webhooks and the store); then
 *   queue_close/store_close; gw_free's final uv_run releases the handles.
 *
 * Endpoints:
 *   POST   /v1/messages               202 {"id","status","parts","encoding"} after commit
 *   GET    /v1/messages/{id}          message, parts (SIM, MR), history
 *   GET    /v1/messages?status=&since=&after=&limit=      paged by id
 *   DELETE /v1/messages/{id}          cancel (409 too_late once handed to a modem)
 *   GET    /v1/inbox?since=&after=&limit=
 *   GET    /v1/events?after=&limit=&wait=                 long-poll, wait <= wait_max_s
 *   GET    /v1/modems, /v1/sims, /v1/health (503 with reasons when no modem is ready)
 *   GET    /metrics                   Prometheus text format 0.0.4
 * Times are RFC 3339 UTC strings with milliseconds ("2026-11-22T15:40:00.123Z");
 * `since` takes that form or integer Unix milliseconds.
 * Every non-2xx answer: {"error": {"code": "…", "message": "…", "field": "…"}}.
 *
 * Ownership: everything given to api_new is borrowed (queue, store, log,
 * provider->ud must outlive the api); opts strings are copied.
 */
#ifndef SG_API_H
#define SG_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "drivers/base/sg_clock.h"
#include "drivers/base/sg_err.h"
#include "firmware/bucket.h"
#include "firmware/log.h"
#include "firmware/queue.h"
#include "firmware/store.h"

#define API_WAIT_MAX_DEFAULT 60u      /* seconds a long-poll may wait */
#define API_WAITERS_MAX_DEFAULT 64u   /* suspended long-polls; beyond: 429 */
#define API_SUBMITS_MAX_DEFAULT 1024u /* submits waiting for their commit; beyond: 503 */
#define API_MODEMS_MAX 16
#define API_SIMS_MAX 32
#define API_LIMITERS_MAX 256          /* rate-limit buckets per kind (LRU beyond) */

/* ------------------------------------------------------------ provider */

struct api_modem_info {
    char id[32];
    char state[24];          /* "absent" "powering" "initializing" "ready" "busy" "recovering" "failed" */
    bool ready;              /* can take work now (counts for /v1/health) */
    char vendor[24];
    char model[48];
    bool has_signal;
    int signal_dbm;
    char band[24];
    char registration[24];   /* "home" "roaming" "searching" "denied" "unknown" */
    char operator_name[48];
    char last_error[160];
    char iccid[24];
};

struct api_sim_info {
    char iccid[24];
    char imsi[24];
    char msisdn[24];
    char label[64];
    char modem[32];          /* "" when not in a modem now */
    bool enabled;
    char breaker[16];        /* "closed" "open" "half-open" */
    uint32_t sent_today;
    uint32_t sent_month;
    uint32_t daily_left;     /* UINT32_MAX = unlimited */
    uint32_t monthly_left;
    uint32_t rate_per_min;   /* 0 = none */
    uint64_t sent_total;
    uint64_t failed_total;
    int consec_failures;
    sg_ms last_used_at;      /* 0 never */
};

struct api_metrics;
/* Appends Prometheus text (whole lines, "# HELP"/"# TYPE" included). */
void api_metrics_printf(struct api_metrics *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

struct api_provider {
    void *ud;
    /* Fill up to max entries, return the count (or < 0). NULL = none. */
    int (*modems)(void *ud, struct api_modem_info *out, int max);
    /* NULL = the SIM rows of the store (identity and counters only). */
    int (*sims)(void *ud, struct api_sim_info *out, int max);
    /* Extra metrics (sends/errors by SIM and code, DLR latency...). May be NULL. */
    void (*metrics)(void *ud, struct api_metrics *m);
};

/* ------------------------------------------------------------ api */

struct api_opts {
    const char *socket_path;        /* required */
    unsigned socket_mode;           /* 0 = 0660 */
    const char *socket_group;       /* "" = the process's group */
    const uid_t *uids;              /* peer uids allowed besides ours; 0 = any (403 else) */
    size_t nuids;
    const char *tcp_listen;         /* "" = off; "host:port" needs tokens */
    const char *const *tokens;
    size_t ntokens;
    size_t body_max;                /* 0 = 64 KiB */
    unsigned conn_timeout_s;        /* 0 = 30: idle connections are closed after this */
    unsigned wait_max_s;            /* 0 = API_WAIT_MAX_DEFAULT */
    unsigned waiters_max;           /* 0 = API_WAITERS_MAX_DEFAULT */
    unsigned submits_max;           /* 0 = API_SUBMITS_MAX_DEFAULT */
    /* Submit rate limits (POST /v1/messages), 429 + Retry-After beyond:
     * per client (Unix uid, or TCP token) and per destination number.
     * rate_per_min 0 = no limit; burst 0 = rate_per_min. */
    struct bucket_limits client_limit;
    struct bucket_limits dest_limit;
    const char *default_cc;         /* to key destinations like the queue does; "" none */
    /* Called after a group commit that created n > 0 messages. May be NULL. */
    void (*on_commit)(void *ud, int n);
    void *commit_ud;
};

struct api;

int api_new(uv_loop_t *loop, const struct api_opts *o, const struct sglog *log, struct queue *q,
            struct store *st, const struct api_provider *prov, struct api **out,
            struct sg_err *err);
/* Runs the group commit now. Returns queue_flush()'s result, 0 when idle. */
int api_flush(struct api *a);
void api_notify_events(struct api *a, int64_t last_seq);
void api_free(struct api *a);

/* Requests waiting right now: long-polls, submits awaiting their commit. */
size_t api_waiters(const struct api *a);
size_t api_submits_pending(const struct api *a);
/* TCP port actually bound (0 when off): tests bind port 0. */
int api_tcp_port(const struct api *a);

/* ------------------------------------------------------------ pure helpers */

/* "2026-11-22T15:40:00.123Z" (buf >= 25 bytes). */
void api_fmt_time(sg_ms t, char *buf, size_t n);
/* RFC 3339 UTC ("…Z", optional fraction) or integer Unix ms. -EINVAL otherwise. */
int api_parse_time(const char *s, sg_ms *out);
/* Decimal integer in [min, max], nothing else. -EINVAL otherwise. */
int api_parse_int(const char *s, int64_t min, int64_t max, int64_t *out);

#endif
