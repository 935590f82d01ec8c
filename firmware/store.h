/*
 * store: simgate's durable state in ONE sqlite database (<state_dir>/simgate.db).
 *
 * Every sqlite call in the daemon is behind this module. The database runs in
 * WAL mode with synchronous=FULL and foreign keys on; the schema is migrated
 * by numbered steps recorded in PRAGMA user_version (store_schema.c); a
 * database newer than this code is refused (-EPROTONOSUPPORT).
 *
 * Layering: the store knows rows, not rules. firmware/queue owns the message
 * lifecycle (which transition is allowed, what an event says) and is the only
 * caller of the write functions for messages; readers (API, CLI glue) may call
 * the read functions (store_msg_get, store_list, store_parts, store_history,
 * store_events_after, store_sim_*, store_inbound_list) directly.
 *
 * Accepts are group-committed: store_accept_enqueue() only copies the new
 * message into a pending list; store_flush(), called once per loop turn (a
 * uv_check/uv_prepare handle), inserts every pending accept in ONE transaction
 * and then calls each accept's callback with the outcome. Only a callback with
 * rc == 0 may be answered with 202.
 *
 * Errors (negative errno, message in struct sg_err):
 *   -EAGAIN  database busy/locked (SQLITE_BUSY, SQLITE_LOCKED)
 *   -EIO     I/O error, corruption, cannot open
 *   -ENOSPC  disk full (SQLITE_FULL)
 *   -ENOMEM  out of memory
 *   -EROFS   read-only database
 *   -> store_err_unavailable(rc) is true for all of these: the API answers 503.
 *   -ENOENT  no such row
 *   -ESTALE  a transition's "from" state no longer matches the row
 *   -EEXIST  idempotency key reused with other parameters (accept result),
 *            duplicate inbound (store_inbound_add)
 *   -E2BIG   a field over its documented cap
 *   -EBUSY   too many accepts pending (STORE_PENDING_MAX) before a flush
 *   -EPROTONOSUPPORT  database schema newer than this program
 *
 * Time: every function takes wall-clock UTC milliseconds from the caller; the
 * store never reads a clock.
 *
 * Threading: one thread (the loop). Not thread-safe.
 */
#ifndef SG_STORE_H
#define SG_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/base/sg_clock.h"
#include "drivers/base/sg_err.h"

/* ------------------------------------------------------------ caps */
#define STORE_IDEM_KEY_MAX 128    /* bytes of an idempotency key, NUL excluded */
#define STORE_HASH_MAX 64         /* hex chars of a parameter / dedupe hash */
#define STORE_TO_MAX 48           /* a normalised number or an originator, NUL included */
#define STORE_TEXT_MAX 8192       /* message text as UTF-8, NUL included */
#define STORE_ENC_MAX 16          /* "gsm7", "gsm7-es", "ucs2", NUL included */
#define STORE_PARTS_MAX 16        /* PDUs of one message */
#define STORE_PDU_HEX_MAX 400     /* one PDU as hex (SMSC field + TPDU), NUL included */
#define STORE_MODEM_MAX 32        /* modem id, NUL included */
#define STORE_ICCID_MAX 24        /* ICCID (19..20 digits), NUL included */
#define STORE_CAUSE_MAX 160       /* cause / last error text, NUL included (longer is cut) */
#define STORE_EVTYPE_MAX 32       /* event type, NUL included */
#define STORE_GROUP_MAX 96        /* inbound reassembly group key, NUL included */
#define STORE_PENDING_MAX 1024    /* accepts waiting for store_flush(); beyond: -EBUSY.
                                     Bounds pending memory (each holds its text and PDUs,
                                     at most ~15 KiB) */
#define STORE_IDEM_KEEP_MS (24LL * 3600 * 1000)  /* keys live at least this long */

/* ------------------------------------------------------------ enums */

/* Message states. The order is part of the schema (stored as text, see
 * store_state_name). Which transition is allowed is firmware/queue's table. */
enum store_state {
    STORE_QUEUED = 0,
    STORE_SENDING,
    STORE_SENT,
    STORE_DELIVERED,
    STORE_UNDELIVERED,
    STORE_FAILED,
    STORE_EXPIRED,
    STORE_CANCELED,
    STORE_UNKNOWN,
    STORE_STATE_COUNT
};
/* "queued", "sending", ... Static string; "?" for out-of-range. */
const char *store_state_name(enum store_state s);
/* Name to state, or -EINVAL. */
int store_state_parse(const char *name);

/* Lower value = served first (the due index sorts ascending). */
enum store_prio {
    STORE_PRIO_OTP = 0,
    STORE_PRIO_URGENT,
    STORE_PRIO_NORMAL,
    STORE_PRIO_BULK,
    STORE_PRIO_COUNT
};
const char *store_prio_name(enum store_prio p);
int store_prio_parse(const char *name);

/* One PDU's progress. */
enum store_part_status {
    STORE_PART_PENDING = 0,   /* not yet accepted by a modem (+CMGS) */
    STORE_PART_SENT,          /* +CMGS: <mr> received */
    STORE_PART_DELIVERED,     /* status report TP-ST 0x00..0x1F */
    STORE_PART_UNDELIVERED,   /* final failing TP-ST */
};

/* True for -EAGAIN, -EIO, -ENOSPC, -ENOMEM, -EROFS: "cannot commit now". */
bool store_err_unavailable(int rc);

/* ------------------------------------------------------------ rows */

struct store_msg {
    int64_t id;
    char idem_key[STORE_IDEM_KEY_MAX + 1];  /* "" when none */
    char to[STORE_TO_MAX];                   /* E.164 */
    char text[STORE_TEXT_MAX];
    enum store_prio prio;
    char encoding[STORE_ENC_MAX];
    int parts;
    bool status_report;
    sg_ms ttl_ms;
    sg_ms expires_at;
    enum store_state state;
    int attempts;                            /* hand-overs to a modem so far */
    sg_ms next_attempt_at;
    char last_error[STORE_CAUSE_MAX];
    char modem[STORE_MODEM_MAX];             /* last modem / SIM used, "" none */
    char iccid[STORE_ICCID_MAX];
    sg_ms created_at;
    sg_ms updated_at;
};

struct store_part {
    int64_t msg_id;
    int seq;                                 /* 1..parts */
    int tpdu_len;
    char pdu[STORE_PDU_HEX_MAX];
    char iccid[STORE_ICCID_MAX];             /* "" until sent */
    char modem[STORE_MODEM_MAX];
    int mr;                                  /* TP-MR from +CMGS, -1 none */
    sg_ms sent_at;                           /* 0 none */
    enum store_part_status status;
    int dlr_st;                              /* last TP-ST, -1 none */
    sg_ms dlr_at;                            /* 0 none */
};

struct store_hist {
    sg_ms at;
    int from;                                /* enum store_state, -1 at creation */
    enum store_state to;
    char modem[STORE_MODEM_MAX];
    char iccid[STORE_ICCID_MAX];
    int mr;                                  /* -1 none */
    char cause[STORE_CAUSE_MAX];
};

/* Event: pointers valid only during the callback. */
struct store_event {
    int64_t seq;
    sg_ms at;
    const char *type;                        /* "message.state", "inbound", "modem.state"... */
    int64_t msg_id;                          /* 0 when not about a message */
    const char *json;                        /* payload, a JSON object */
};

struct store_sim {
    char iccid[STORE_ICCID_MAX];             /* primary key */
    char imsi[24];
    char msisdn[STORE_TO_MAX];
    char label[64];
    int day_key;                             /* e.g. 20261122: sent_day counts for this day */
    int sent_day;
    int month_key;                           /* e.g. 202611 */
    int sent_month;
    int consec_failures;
    int breaker_state;                       /* owned by firmware/breaker; stored as is */
    sg_ms breaker_until;                     /* 0 none */
    sg_ms last_used_at;                      /* 0 never */
    sg_ms updated_at;
};

struct store_inbound {
    int64_t id;
    char from[STORE_TO_MAX];                 /* originator as received */
    char text[STORE_TEXT_MAX];
    sg_ms received_at;
    sg_ms smsc_ts;                           /* service-centre timestamp (UTC ms), 0 unknown */
    int concat_ref;                          /* -1 single */
    int concat_total;                        /* 1 single */
    int concat_seq;                          /* 1 single */
    char group[STORE_GROUP_MAX];             /* reassembly group key, "" single */
    int complete;                            /* STORE_IN_* */
    char pdu[STORE_PDU_HEX_MAX];             /* raw PDU, "" for an assembled row */
    char dedupe[STORE_HASH_MAX + 1];         /* unique; "" = no dedupe */
    char iccid[STORE_ICCID_MAX];
    char modem[STORE_MODEM_MAX];
};
enum {
    STORE_IN_PART = 0,       /* one part of an incomplete concatenated set */
    STORE_IN_COMPLETE = 1,   /* a whole message (single, assembled, or a part given up on) */
    STORE_IN_ASSEMBLED = 2,  /* a part whose set was assembled into a STORE_IN_COMPLETE row */
};

/* ------------------------------------------------------------ open / close */

struct store;

struct store_opts {
    int busy_timeout_ms;   /* 0 = 1000; the loop blocks at most this long on a lock */
};

/*
 * Opens (creating if needed) <state_dir>/simgate.db, applies pragmas and
 * migrations. state_dir must exist. opts may be NULL. *out owned by the
 * caller, released with store_close().
 */
int store_open(struct store **out, const char *state_dir, const struct store_opts *opts,
               struct sg_err *err);
/* Closes; pending accepts are failed with -ECANCELED through their callbacks. */
void store_close(struct store *st);
/* Schema version of this code / of the open file. */
int store_schema_version_code(void);
int store_schema_version(struct store *st);
/* Reads a pragma's value as text (tests, `simgated --check`): e.g. "journal_mode". */
int store_pragma(struct store *st, const char *name, char *buf, size_t n, struct sg_err *err);

/* ------------------------------------------------------------ transactions */
/*
 * BEGIN IMMEDIATE / COMMIT / ROLLBACK. Nest by depth: an inner begin/commit
 * is a no-op; an inner rollback dooms the outer transaction, whose commit
 * then rolls back and returns -ECANCELED. Write functions below join the
 * current transaction or run in their own.
 */
int store_begin(struct store *st, struct sg_err *err);
int store_commit(struct store *st, struct sg_err *err);
void store_rollback(struct store *st);

/* ------------------------------------------------------------ accept (group commit) */

struct store_new_part {
    unsigned tpdu_len;
    const char *hex;                         /* < STORE_PDU_HEX_MAX chars */
};

struct store_accept {
    const char *idem_key;                    /* NULL or "" = none */
    const char *param_hash;                  /* hex; compared when a key is reused */
    const char *to;
    const char *text;
    enum store_prio prio;
    const char *encoding;
    bool status_report;
    sg_ms ttl_ms;
    sg_ms now;                               /* created_at = next_attempt_at; expires_at = now + ttl */
    unsigned nparts;                         /* 1..STORE_PARTS_MAX */
    const struct store_new_part *parts;
    const char *event_json;                  /* payload of the "message.state" event, NULL = "{}" */
};

struct store_accept_result {
    int rc;            /* 0 committed (or replayed); -EEXIST key reused with other parameters;
                          store_err_unavailable(rc): nothing was committed -> 503 */
    int64_t id;        /* the new or the original message */
    bool replay;       /* same key and parameters as an earlier message: that one is returned */
    enum store_state state;
    int parts;
    char encoding[STORE_ENC_MAX];
    struct sg_err err;
};
/* Called from store_flush() (or store_close()); r valid during the call only. */
typedef void (*store_accept_cb)(void *ud, const struct store_accept_result *r);

/* Copies a (all strings) into the pending list. The callback runs later,
 * exactly once, unless this returns an error (then never). */
int store_accept_enqueue(struct store *st, const struct store_accept *a, store_accept_cb cb,
                         void *ud, struct sg_err *err);
/* Number of accepts waiting. */
size_t store_pending(const struct store *st);
/*
 * Commits every pending accept in one transaction, then calls the callbacks
 * in enqueue order. Returns the number of NEW messages committed (>= 0) or a
 * negative code when the batch failed (every callback got that code).
 */
int store_flush(struct store *st, struct sg_err *err);

/* ------------------------------------------------------------ messages */

int store_msg_get(struct store *st, int64_t id, struct store_msg *out, struct sg_err *err);

/* A state change with its history row and event, atomically. */
struct store_transition {
    int64_t id;
    enum store_state from, to;               /* the row must be in `from` (else -ESTALE) */
    sg_ms now;
    const char *modem;                       /* NULL = keep the row's; recorded in history */
    const char *iccid;
    int mr;                                  /* history only, -1 none */
    const char *cause;                       /* NULL none; also becomes last_error when set */
    int attempts_add;
    sg_ms next_attempt_at;                   /* < 0 keep */
    const char *event_type;                  /* NULL = "message.state" */
    const char *event_json;                  /* NULL = "{}" */
};
int store_transition(struct store *st, const struct store_transition *t, struct sg_err *err);

/* Keeps a queued message queued but moves its next attempt (no history row). */
int store_msg_reschedule(struct store *st, int64_t id, sg_ms next_attempt_at, const char *cause,
                         sg_ms now, struct sg_err *err);

/* Up to max queued ids due at `now`, highest priority first, then by
 * next_attempt_at, then id. One O(log n) index seek per priority. Returns count. */
int store_due(struct store *st, sg_ms now, int64_t *ids, int max, struct sg_err *err);
/* Up to max queued ids whose expires_at <= now. Returns count. */
int store_expired(struct store *st, sg_ms now, int64_t *ids, int max, struct sg_err *err);
/* Earliest next_attempt_at / expires_at among queued rows, SG_MS_NEVER if none. */
int store_next_attempt_min(struct store *st, sg_ms *at, struct sg_err *err);
int store_expiry_min(struct store *st, sg_ms *at, struct sg_err *err);
/* Queued count per priority (queue depth metrics). counts[STORE_PRIO_COUNT]. */
int store_queued_counts(struct store *st, int64_t *counts, struct sg_err *err);
/* Messages per state. counts[STORE_STATE_COUNT]. */
int store_state_counts(struct store *st, int64_t *counts, struct sg_err *err);

struct store_filter {
    int state;          /* enum store_state, -1 any */
    sg_ms since;        /* created_at >= since; 0 any */
    int64_t after_id;   /* id > after_id (the paging cursor); 0 from the start */
    int limit;          /* 1..1000; 0 = 100 */
};
/* Calls cb for each match in id order; returns the count. m is valid during the call. */
typedef int (*store_msg_cb)(void *ud, const struct store_msg *m);   /* non-zero stops */
int store_list(struct store *st, const struct store_filter *f, store_msg_cb cb, void *ud,
               struct sg_err *err);

/* ------------------------------------------------------------ parts */
typedef int (*store_part_cb)(void *ud, const struct store_part *p);
int store_parts(struct store *st, int64_t msg_id, store_part_cb cb, void *ud, struct sg_err *err);
int store_part_get(struct store *st, int64_t msg_id, int seq, struct store_part *out,
                   struct sg_err *err);
/* Writes iccid, modem, mr, sent_at, status, dlr_st, dlr_at of (msg_id, seq). */
int store_part_update(struct store *st, const struct store_part *p, struct sg_err *err);
/* Back to pending (mr -1, no SIM) for every part of msg_id: a resend starts over. */
int store_parts_reset(struct store *st, int64_t msg_id, struct sg_err *err);
/* counts[status] for msg_id; counts has 4 entries (enum store_part_status). */
int store_part_counts(struct store *st, int64_t msg_id, int counts[4], struct sg_err *err);
/* Parts sent with (iccid, mr) at or after sent_after, newest first, with the
 * message's recipient: the status-report matcher's candidates. */
typedef int (*store_mr_cb)(void *ud, const struct store_part *p, const char *to,
                           enum store_state state);
int store_parts_by_mr(struct store *st, const char *iccid, int mr, sg_ms sent_after,
                      store_mr_cb cb, void *ud, struct sg_err *err);

/* ------------------------------------------------------------ history */
typedef int (*store_hist_cb)(void *ud, const struct store_hist *h);
int store_history(struct store *st, int64_t msg_id, store_hist_cb cb, void *ud,
                  struct sg_err *err);

/* ------------------------------------------------------------ events */
/* Appends an event (joins the current transaction if any). *seq may be NULL. */
int store_event_append(struct store *st, const char *type, int64_t msg_id, const char *json,
                       sg_ms now, int64_t *seq, struct sg_err *err);
typedef int (*store_event_cb)(void *ud, const struct store_event *e);
/* Events with seq > after, in order, at most limit (1..1000). Returns count. */
int store_events_after(struct store *st, int64_t after, int limit, store_event_cb cb, void *ud,
                       struct sg_err *err);
int store_events_last_seq(struct store *st, int64_t *seq, struct sg_err *err);
/* Called after every commit that appended events (long-poll wake-up, webhooks). */
typedef void (*store_event_hook)(void *ud, int64_t last_seq);
void store_set_event_hook(struct store *st, store_event_hook fn, void *ud);

/* ------------------------------------------------------------ SIMs */
/* Insert or replace the whole row (updated_at = now). */
int store_sim_put(struct store *st, const struct store_sim *s, sg_ms now, struct sg_err *err);
int store_sim_get(struct store *st, const char *iccid, struct store_sim *out, struct sg_err *err);
typedef int (*store_sim_cb)(void *ud, const struct store_sim *s);
int store_sim_list(struct store *st, store_sim_cb cb, void *ud, struct sg_err *err);

/* ------------------------------------------------------------ inbound */
/*
 * Inserts a received PDU (or a whole single message); when event_json is not
 * NULL an "inbound" event is appended in the same transaction. The store adds
 * "id": <inbound row id> to every inbound event's payload (a JSON object)
 * unless it has one (also for assemble and release). -EEXIST when
 * in->dedupe matches a stored row (the network re-delivered it): nothing is
 * written. *id may be NULL.
 */
int store_inbound_add(struct store *st, const struct store_inbound *in, const char *event_json,
                      sg_ms now, int64_t *id, struct sg_err *err);
typedef int (*store_inbound_cb)(void *ud, const struct store_inbound *in);
/* Rows of one reassembly group still STORE_IN_PART, by concat_seq. */
int store_inbound_group(struct store *st, const char *group, store_inbound_cb cb, void *ud,
                        struct sg_err *err);
/* Groups whose oldest part was received before `before` (reassembly timeout). */
typedef int (*store_group_cb)(void *ud, const char *group);
int store_inbound_stale_groups(struct store *st, sg_ms before, store_group_cb cb, void *ud,
                               struct sg_err *err);
/* Assembles: inserts `whole` (complete = STORE_IN_COMPLETE) and marks the
 * group's parts STORE_IN_ASSEMBLED, with an "inbound" event, atomically. */
int store_inbound_assemble(struct store *st, const char *group, const struct store_inbound *whole,
                           const char *event_json, sg_ms now, int64_t *id, struct sg_err *err);
/* Gives up on one part: complete = STORE_IN_COMPLETE, with an "inbound" event. */
int store_inbound_release(struct store *st, int64_t id, const char *event_json, sg_ms now,
                          struct sg_err *err);
/* Complete rows (STORE_IN_COMPLETE) with received_at >= since and id > after_id. */
int store_inbound_list(struct store *st, sg_ms since, int64_t after_id, int limit,
                       store_inbound_cb cb, void *ud, struct sg_err *err);

/* ------------------------------------------------------------ retention */
/*
 * Deletes at most `batch` messages no longer in flight (every state but
 * queued and sending) last updated before now - max_age (idempotency keys
 * are kept STORE_IDEM_KEEP_MS in any case), with their parts and history,
 * and at most `batch` events and complete inbound rows older than that.
 * Call from an idle timer until it returns 0. Returns rows deleted.
 */
int store_purge(struct store *st, sg_ms now, sg_ms max_age, int batch, struct sg_err *err);

/* ------------------------------------------------------------ fault injection */
#if defined(SG_TEST_BUILD) && SG_TEST_BUILD
enum store_fault {
    STORE_FAULT_BUSY = 0,    /* SQLITE_BUSY  -> -EAGAIN */
    STORE_FAULT_IOERR,       /* SQLITE_IOERR -> -EIO */
    STORE_FAULT_FULL,        /* SQLITE_FULL  -> -ENOSPC */
};
/*
 * The n-th sqlite call (step or exec, counted from this call; n >= 1) fails
 * with `kind` instead of running; with persist, every call after it too.
 * n == 0 turns injection off. Rollbacks are never failed (SQLite rolls back
 * by itself after an I/O error).
 */
void store_test_fail_at(struct store *st, unsigned long n, enum store_fault kind, bool persist);
/* sqlite calls counted since the last store_test_fail_at(). */
unsigned long store_test_calls(const struct store *st);
#endif

#endif
