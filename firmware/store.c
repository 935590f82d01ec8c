/*
 * store: simgate.db behind one module. See store.h for the contract.
 *
 * Every statement is a row of the const table `sql` below, prepared once on
 * first use (SQLITE_PREPARE_PERSISTENT) and cached in the store object, so
 * the hot paths (accept, due, transition) never parse SQL. Every step and
 * exec goes through st_step()/st_exec(), where a test build can inject the
 * failure of the N-th call the way SQLite's own test harness does.
 */
#include "firmware/store.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sqlite3.h>

#include "firmware/store_schema.h"

/* ------------------------------------------------------------ statements */

enum stmt_id {
    S_BEGIN,
    S_COMMIT,
    S_ROLLBACK,
    S_MSG_BY_KEY,
    S_MSG_INSERT,
    S_PART_INSERT,
    S_HIST_INSERT,
    S_EVENT_INSERT,
    S_MSG_GET,
    S_MSG_STATE,
    S_MSG_TRANSITION,
    S_MSG_RESCHEDULE,
    S_DUE,
    S_EXPIRED,
    S_NEXT_ATTEMPT,
    S_EXPIRY_MIN,
    S_QUEUED_COUNTS,
    S_STATE_COUNTS,
    S_LIST,
    S_PARTS,
    S_PART_GET,
    S_PART_UPDATE,
    S_PARTS_RESET,
    S_PART_COUNTS,
    S_PARTS_BY_MR,
    S_HISTORY,
    S_EVENTS_AFTER,
    S_EVENTS_LAST,
    S_SIM_PUT,
    S_SIM_GET,
    S_SIM_LIST,
    S_IN_INSERT,
    S_IN_GROUP,
    S_IN_STALE,
    S_IN_MARK_GROUP,
    S_IN_RELEASE,
    S_IN_LIST,
    S_PURGE_MSGS,
    S_PURGE_EVENTS,
    S_PURGE_INBOUND,
    S_COUNT
};

#define MSG_COLS                                                                               \
    "id, idem_key, to_number, text, priority, encoding, parts, status_report, ttl_ms, "       \
    "expires_at, state, attempts, next_attempt_at, last_error, modem, iccid, created_at, "    \
    "updated_at"
#define PART_COLS "msg_id, seq, tpdu_len, pdu, iccid, modem, mr, sent_at, status, dlr_st, dlr_at"
#define SIM_COLS                                                                               \
    "iccid, imsi, msisdn, label, day_key, sent_day, month_key, sent_month, consec_failures, " \
    "breaker_state, breaker_until, last_used_at, updated_at"
#define IN_COLS                                                                                \
    "id, originator, text, received_at, smsc_ts, concat_ref, concat_total, concat_seq, grp, " \
    "complete, pdu, dedupe, iccid, modem"
/* Everything not in flight may be purged; `sent` included: a report that has
 * not come within the retention age will not come. */
#define PURGEABLE "('sent','delivered','undelivered','failed','expired','canceled','unknown')"

static const char *const sql[S_COUNT] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_MSG_BY_KEY] = "SELECT id, param_hash, state, parts, encoding FROM messages WHERE idem_key = ?1",
    [S_MSG_INSERT] =
        "INSERT INTO messages (idem_key, param_hash, to_number, text, priority, encoding, parts,"
        " status_report, ttl_ms, expires_at, state, attempts, next_attempt_at, created_at,"
        " updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'queued', 0, ?11, ?11, ?11)",
    [S_PART_INSERT] =
        "INSERT INTO message_parts (msg_id, seq, tpdu_len, pdu, status) VALUES (?1, ?2, ?3, ?4, 0)",
    [S_HIST_INSERT] = "INSERT INTO message_history (msg_id, at, from_state, to_state, modem, iccid,"
                      " mr, cause) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [S_EVENT_INSERT] = "INSERT INTO events (at, type, msg_id, payload) VALUES (?1, ?2, ?3, ?4)",
    [S_MSG_GET] = "SELECT " MSG_COLS " FROM messages WHERE id = ?1",
    [S_MSG_STATE] = "SELECT state FROM messages WHERE id = ?1",
    [S_MSG_TRANSITION] =
        "UPDATE messages SET state = ?2, updated_at = ?3, attempts = attempts + ?4,"
        " next_attempt_at = CASE WHEN ?5 >= 0 THEN ?5 ELSE next_attempt_at END,"
        " last_error = COALESCE(?6, last_error), modem = COALESCE(?7, modem),"
        " iccid = COALESCE(?8, iccid) WHERE id = ?1 AND state = ?9",
    [S_MSG_RESCHEDULE] = "UPDATE messages SET next_attempt_at = ?2, updated_at = ?3,"
                         " last_error = COALESCE(?4, last_error)"
                         " WHERE id = ?1 AND state = 'queued'",
    /* One seek into messages_due per priority. */
    [S_DUE] = "SELECT id FROM messages INDEXED BY messages_due WHERE state = 'queued'"
              " AND priority = ?1 AND next_attempt_at <= ?2 ORDER BY next_attempt_at, id LIMIT ?3",
    [S_EXPIRED] = "SELECT id FROM messages INDEXED BY messages_expiry WHERE state = 'queued'"
                  " AND expires_at <= ?1 ORDER BY expires_at LIMIT ?2",
    [S_NEXT_ATTEMPT] = "SELECT next_attempt_at FROM messages INDEXED BY messages_due"
                       " WHERE state = 'queued' AND priority = ?1 ORDER BY next_attempt_at LIMIT 1",
    [S_EXPIRY_MIN] = "SELECT expires_at FROM messages INDEXED BY messages_expiry"
                     " WHERE state = 'queued' ORDER BY expires_at LIMIT 1",
    /* The partial index is already in priority order: no temporary B-tree,
     * whose memory would grow with the queue (17 MB RSS at 100k queued). */
    [S_QUEUED_COUNTS] = "SELECT priority, COUNT(*) FROM messages INDEXED BY messages_due"
                        " WHERE state = 'queued' GROUP BY priority",
    [S_STATE_COUNTS] = "SELECT state, COUNT(*) FROM messages GROUP BY state",
    [S_LIST] = "SELECT " MSG_COLS " FROM messages WHERE id > ?3 AND (?1 IS NULL OR state = ?1)"
               " AND created_at >= ?2 ORDER BY id LIMIT ?4",
    [S_PARTS] = "SELECT " PART_COLS " FROM message_parts WHERE msg_id = ?1 ORDER BY seq",
    [S_PART_GET] = "SELECT " PART_COLS " FROM message_parts WHERE msg_id = ?1 AND seq = ?2",
    [S_PART_UPDATE] = "UPDATE message_parts SET iccid = ?3, modem = ?4, mr = ?5, sent_at = ?6,"
                      " status = ?7, dlr_st = ?8, dlr_at = ?9 WHERE msg_id = ?1 AND seq = ?2",
    [S_PARTS_RESET] = "UPDATE message_parts SET iccid = NULL, modem = NULL, mr = NULL,"
                      " sent_at = NULL, status = 0, dlr_st = NULL, dlr_at = NULL WHERE msg_id = ?1",
    [S_PART_COUNTS] = "SELECT status, COUNT(*) FROM message_parts WHERE msg_id = ?1 GROUP BY status",
    [S_PARTS_BY_MR] = "SELECT p.msg_id, p.seq, p.tpdu_len, p.pdu, p.iccid, p.modem, p.mr, p.sent_at,"
                      " p.status, p.dlr_st, p.dlr_at, m.to_number, m.state"
                      " FROM message_parts p JOIN messages m ON m.id = p.msg_id"
                      " WHERE p.iccid = ?1 AND p.mr = ?2 AND p.sent_at >= ?3"
                      " ORDER BY p.sent_at DESC LIMIT 16",
    [S_HISTORY] = "SELECT at, from_state, to_state, modem, iccid, mr, cause FROM message_history"
                  " WHERE msg_id = ?1 ORDER BY id",
    [S_EVENTS_AFTER] = "SELECT seq, at, type, msg_id, payload FROM events WHERE seq > ?1"
                       " ORDER BY seq LIMIT ?2",
    [S_EVENTS_LAST] = "SELECT COALESCE(MAX(seq), 0) FROM events",
    [S_SIM_PUT] = "INSERT OR REPLACE INTO sims (" SIM_COLS ") VALUES"
                  " (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    [S_SIM_GET] = "SELECT " SIM_COLS " FROM sims WHERE iccid = ?1",
    [S_SIM_LIST] = "SELECT " SIM_COLS " FROM sims ORDER BY iccid",
    [S_IN_INSERT] = "INSERT INTO inbound (originator, text, received_at, smsc_ts, concat_ref,"
                    " concat_total, concat_seq, grp, complete, pdu, dedupe, iccid, modem)"
                    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    [S_IN_GROUP] = "SELECT " IN_COLS " FROM inbound WHERE grp = ?1 AND complete = 0"
                   " ORDER BY concat_seq, id",
    [S_IN_STALE] = "SELECT grp FROM inbound WHERE complete = 0 GROUP BY grp"
                   " HAVING MIN(received_at) < ?1 LIMIT 256",
    [S_IN_MARK_GROUP] = "UPDATE inbound SET complete = 2 WHERE grp = ?1 AND complete = 0",
    [S_IN_RELEASE] = "UPDATE inbound SET complete = 1 WHERE id = ?1 AND complete = 0",
    [S_IN_LIST] = "SELECT " IN_COLS " FROM inbound WHERE complete = 1 AND received_at >= ?1"
                  " AND id > ?2 ORDER BY id LIMIT ?3",
    [S_PURGE_MSGS] = "DELETE FROM messages WHERE id IN (SELECT id FROM messages"
                     " WHERE state IN " PURGEABLE " AND updated_at < ?1"
                     " AND (idem_key IS NULL OR created_at < ?2) LIMIT ?3)",
    [S_PURGE_EVENTS] = "DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE at < ?1"
                       " ORDER BY at LIMIT ?2)",
    [S_PURGE_INBOUND] = "DELETE FROM inbound WHERE id IN (SELECT id FROM inbound"
                        " WHERE complete IN (1, 2) AND received_at < ?1 LIMIT ?2)",
};

/* ------------------------------------------------------------ the object */

struct pending {
    struct pending *next;
    struct store_accept a;    /* strings point into data[] */
    store_accept_cb cb;
    void *ud;
    struct store_new_part parts[STORE_PARTS_MAX];
    char data[];              /* every string of the accept, copied */
};

struct store {
    sqlite3 *db;
    sqlite3_stmt *stmt[S_COUNT];
    int tx_depth;
    bool tx_doomed;
    bool tx_events;           /* the open transaction appended events */
    int64_t tx_last_seq;
    struct pending *pend_head, **pend_tail;
    size_t npend;
    store_event_hook hook;
    void *hook_ud;
#if defined(SG_TEST_BUILD) && SG_TEST_BUILD
    unsigned long calls;
    unsigned long fail_at;
    int fail_rc;
    bool fail_persist;
#endif
};

/* ------------------------------------------------------------ names */

static const char *const state_names[STORE_STATE_COUNT] = {
    [STORE_QUEUED] = "queued",       [STORE_SENDING] = "sending",
    [STORE_SENT] = "sent",           [STORE_DELIVERED] = "delivered",
    [STORE_UNDELIVERED] = "undelivered", [STORE_FAILED] = "failed",
    [STORE_EXPIRED] = "expired",     [STORE_CANCELED] = "canceled",
    [STORE_UNKNOWN] = "unknown",
};
static const char *const prio_names[STORE_PRIO_COUNT] = {"otp", "urgent", "normal", "bulk"};

const char *store_state_name(enum store_state s)
{
    return (unsigned)s < STORE_STATE_COUNT ? state_names[s] : "?";
}

int store_state_parse(const char *name)
{
    for (int i = 0; name && i < STORE_STATE_COUNT; i++)
        if (strcmp(name, state_names[i]) == 0)
            return i;
    return -EINVAL;
}

const char *store_prio_name(enum store_prio p)
{
    return (unsigned)p < STORE_PRIO_COUNT ? prio_names[p] : "?";
}

int store_prio_parse(const char *name)
{
    for (int i = 0; name && i < STORE_PRIO_COUNT; i++)
        if (strcmp(name, prio_names[i]) == 0)
            return i;
    return -EINVAL;
}

bool store_err_unavailable(int rc)
{
    return rc == -EAGAIN || rc == -EIO || rc == -ENOSPC || rc == -ENOMEM || rc == -EROFS;
}

/* ------------------------------------------------------------ sqlite calls */

static int map_rc(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE: return 0;
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return -EAGAIN;
    case SQLITE_FULL: return -ENOSPC;
    case SQLITE_NOMEM: return -ENOMEM;
    case SQLITE_READONLY: return -EROFS;
    case SQLITE_CONSTRAINT: return -EEXIST;
    case SQLITE_TOOBIG: return -E2BIG;
    default: return -EIO;
    }
}

/* Fills err with "store: what: reason" and returns the mapped code. */
static int fail(struct store *st, int rc, const char *what, struct sg_err *err)
{
    const char *why = sqlite3_errstr(rc);
    if (st && st->db && sqlite3_errcode(st->db) == rc)
        why = sqlite3_errmsg(st->db);
    return sg_errf(err, map_rc(rc), "store: %s: %s", what, why);
}

#if defined(SG_TEST_BUILD) && SG_TEST_BUILD
static int injected(struct store *st)
{
    st->calls++;
    if (st->fail_at && (st->calls == st->fail_at || (st->fail_persist && st->calls > st->fail_at)))
        return st->fail_rc;
    return SQLITE_OK;
}

void store_test_fail_at(struct store *st, unsigned long n, enum store_fault kind, bool persist)
{
    static const int codes[] = {SQLITE_BUSY, SQLITE_IOERR, SQLITE_FULL};
    st->calls = 0;
    st->fail_at = n;
    st->fail_rc = (unsigned)kind < 3 ? codes[kind] : SQLITE_IOERR;
    st->fail_persist = persist;
}

unsigned long store_test_calls(const struct store *st)
{
    return st->calls;
}
#define INJECT(st)                                                                             \
    do {                                                                                       \
        int inj_ = injected(st);                                                               \
        if (inj_ != SQLITE_OK)                                                                 \
            return inj_;                                                                       \
    } while (0)
#else
#define INJECT(st) ((void)(st))
#endif

static int st_step(struct store *st, sqlite3_stmt *s)
{
    INJECT(st);
    return sqlite3_step(s);
}

static int st_exec(struct store *st, const char *text)
{
    INJECT(st);
    return sqlite3_exec(st->db, text, NULL, NULL, NULL);
}

/* The cached statement `id`, reset and unbound; NULL (err set) on failure. */
static sqlite3_stmt *stmt(struct store *st, enum stmt_id id, struct sg_err *err)
{
    if (!st->stmt[id]) {
        int rc = sqlite3_prepare_v3(st->db, sql[id], -1, SQLITE_PREPARE_PERSISTENT, &st->stmt[id],
                                    NULL);
        if (rc != SQLITE_OK) {
            fail(st, rc, "prepare", err);
            return NULL;
        }
    }
    return st->stmt[id];
}

static void done(sqlite3_stmt *s)
{
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
}

/* Runs a statement that returns no rows. */
static int run(struct store *st, sqlite3_stmt *s, const char *what, struct sg_err *err)
{
    int rc = st_step(st, s);
    done(s);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return fail(st, rc, what, err);
    return 0;
}

static void bind_str(sqlite3_stmt *s, int i, const char *v)
{
    if (v && *v)
        sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(s, i);
}

static void bind_int_or_null(sqlite3_stmt *s, int i, int64_t v, bool present)
{
    if (present)
        sqlite3_bind_int64(s, i, v);
    else
        sqlite3_bind_null(s, i);
}

static void col_str(sqlite3_stmt *s, int i, char *dst, size_t n)
{
    const unsigned char *v = sqlite3_column_text(s, i);
    snprintf(dst, n, "%s", v ? (const char *)v : "");
}

static int64_t col_i64_or(sqlite3_stmt *s, int i, int64_t dflt)
{
    return sqlite3_column_type(s, i) == SQLITE_NULL ? dflt : sqlite3_column_int64(s, i);
}

static enum store_state col_state(sqlite3_stmt *s, int i)
{
    int v = store_state_parse((const char *)sqlite3_column_text(s, i));
    return v < 0 ? STORE_UNKNOWN : (enum store_state)v;
}

static int clamp_limit(int limit)
{
    return limit <= 0 ? 100 : limit > 1000 ? 1000 : limit;
}

/* ------------------------------------------------------------ transactions */

int store_begin(struct store *st, struct sg_err *err)
{
    if (st->tx_depth > 0) {
        st->tx_depth++;
        return 0;
    }
    sqlite3_stmt *s = stmt(st, S_BEGIN, err);
    if (!s)
        return err ? err->code : -EIO;
    int rc = run(st, s, "begin", err);
    if (rc == 0) {
        st->tx_depth = 1;
        st->tx_doomed = false;
        st->tx_events = false;
    }
    return rc;
}

/* Ends the transaction for good. Never injected: after an I/O error SQLite
 * rolls back by itself, and a rollback we skipped would only hide bugs. */
static void hard_rollback(struct store *st)
{
    if (!sqlite3_get_autocommit(st->db)) {
        sqlite3_stmt *s = stmt(st, S_ROLLBACK, NULL);
        if (s) {
            sqlite3_step(s);
            done(s);
        }
    }
    st->tx_depth = 0;
    st->tx_doomed = false;
    st->tx_events = false;
}

void store_rollback(struct store *st)
{
    if (st->tx_depth > 1) {
        st->tx_depth--;
        st->tx_doomed = true;
        return;
    }
    hard_rollback(st);
}

int store_commit(struct store *st, struct sg_err *err)
{
    if (st->tx_depth > 1) {
        st->tx_depth--;
        return 0;
    }
    if (st->tx_depth == 0)
        return sg_errf(err, -EINVAL, "store: commit without begin");
    if (st->tx_doomed) {
        hard_rollback(st);
        return sg_errf(err, -ECANCELED, "store: transaction rolled back by an inner failure");
    }
    sqlite3_stmt *s = stmt(st, S_COMMIT, err);
    int rc = s ? run(st, s, "commit", err) : (err ? err->code : -EIO);
    if (rc) {
        hard_rollback(st);
        return rc;
    }
    bool events = st->tx_events;
    st->tx_depth = 0;
    st->tx_events = false;
    if (events && st->hook)
        st->hook(st->hook_ud, st->tx_last_seq);
    return 0;
}

/* Ends a self-contained write: commit on success, roll back on failure. */
static int finish(struct store *st, int rc, struct sg_err *err)
{
    if (rc) {
        store_rollback(st);
        return rc;
    }
    return store_commit(st, err);
}

/* ------------------------------------------------------------ open / migrate */

static int pragma_set(struct store *st, const char *text, struct sg_err *err)
{
    int rc = sqlite3_exec(st->db, text, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : fail(st, rc, text, err);
}

int store_pragma(struct store *st, const char *name, char *buf, size_t n, struct sg_err *err)
{
    char q[96];
    if (strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_=0123456789") != strlen(name) || strlen(name) > 64)
        return sg_errf(err, -EINVAL, "store: bad pragma name");
    snprintf(q, sizeof q, "PRAGMA %s", name);
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(st->db, q, -1, &s, NULL);
    if (rc != SQLITE_OK)
        return fail(st, rc, "pragma", err);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        col_str(s, 0, buf, n);
    else if (n)
        buf[0] = '\0';
    sqlite3_finalize(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : fail(st, rc, "pragma", err);
}

int store_schema_version_code(void)
{
    size_t n;
    store_schema_steps(&n);
    return (int)n;
}

int store_schema_version(struct store *st)
{
    char v[32], *end;
    if (store_pragma(st, "user_version", v, sizeof v, NULL))
        return -EIO;
    long n = strtol(v, &end, 10);
    return end != v && *end == '\0' && n >= 0 && n <= INT_MAX ? (int)n : -EIO;
}

static int migrate(struct store *st, struct sg_err *err)
{
    size_t n;
    const char *const *steps = store_schema_steps(&n);
    int have = store_schema_version(st);
    if (have < 0)
        return sg_errf(err, -EIO, "store: cannot read user_version");
    if ((size_t)have > n)
        return sg_errf(err, -EPROTONOSUPPORT,
                       "store: database schema version %d is newer than this simgated (%zu); "
                       "refusing to open it",
                       have, n);
    for (size_t v = (size_t)have; v < n; v++) {
        char bump[48];
        int rc = store_begin(st, err);
        if (rc)
            return rc;
        snprintf(bump, sizeof bump, "PRAGMA user_version = %zu", v + 1);
        rc = st_exec(st, steps[v]);
        if (rc == SQLITE_OK)
            rc = st_exec(st, bump);
        if (rc != SQLITE_OK) {
            int e = fail(st, rc, "migration", err);
            sg_err_prefix(err, "to version %zu", v + 1);
            store_rollback(st);
            return e;
        }
        rc = store_commit(st, err);
        if (rc)
            return rc;
    }
    return 0;
}

static int configure(struct store *st, const struct store_opts *o, struct sg_err *err)
{
    char mode[16];
    int rc = sqlite3_busy_timeout(st->db, o && o->busy_timeout_ms > 0 ? o->busy_timeout_ms : 1000);
    if (rc != SQLITE_OK)
        return fail(st, rc, "busy_timeout", err);
    rc = store_pragma(st, "journal_mode=WAL", mode, sizeof mode, err);
    if (rc)
        return rc;
    if (strcmp(mode, "wal") != 0)
        return sg_errf(err, -EIO, "store: journal_mode is %s, WAL refused by the filesystem?",
                       mode);
    /* FULL: the WAL is synced at every commit, so an acknowledged accept
     * survives a power cut, not only a process crash. */
    if ((rc = pragma_set(st, "PRAGMA synchronous=FULL", err)) ||
        (rc = pragma_set(st, "PRAGMA foreign_keys=ON", err)) ||
        (rc = pragma_set(st, "PRAGMA temp_store=MEMORY", err)))
        return rc;
    return 0;
}

int store_open(struct store **out, const char *state_dir, const struct store_opts *opts,
               struct sg_err *err)
{
    char path[4096];
    *out = NULL;
    if (!state_dir || !*state_dir)
        return sg_errf(err, -EINVAL, "store: no state directory");
    if ((size_t)snprintf(path, sizeof path, "%s/simgate.db", state_dir) >= sizeof path)
        return sg_errf(err, -ENAMETOOLONG, "store: state directory path too long");
    struct store *st = calloc(1, sizeof *st);
    if (!st)
        return sg_errf(err, -ENOMEM, "store: out of memory");
    st->pend_tail = &st->pend_head;
    int rc = sqlite3_open_v2(path, &st->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             NULL);
    if (rc != SQLITE_OK) {
        rc = fail(st, rc, "open", err);
        sg_err_prefix(err, "%s", path);
        store_close(st);
        return rc;
    }
    sqlite3_extended_result_codes(st->db, 1);
    rc = configure(st, opts, err);
    if (rc == 0)
        rc = migrate(st, err);
    if (rc) {
        sg_err_prefix(err, "%s", path);
        store_close(st);
        return rc;
    }
    *out = st;
    return 0;
}

static void fail_pending(struct pending *p, int code, const char *msg);

void store_close(struct store *st)
{
    if (!st)
        return;
    struct pending *p = st->pend_head;
    st->pend_head = NULL;
    st->pend_tail = &st->pend_head;
    st->npend = 0;
    while (p) {
        struct pending *next = p->next;
        fail_pending(p, -ECANCELED, "store: closed before the commit");
        p = next;
    }
    if (st->tx_depth)
        hard_rollback(st);
    for (int i = 0; i < S_COUNT; i++)
        sqlite3_finalize(st->stmt[i]);
    sqlite3_close(st->db);
    free(st);
}

void store_set_event_hook(struct store *st, store_event_hook fn, void *ud)
{
    st->hook = fn;
    st->hook_ud = ud;
}

/* ------------------------------------------------------------ building blocks */

static int hist_insert(struct store *st, int64_t id, sg_ms at, int from, enum store_state to,
                       const char *modem, const char *iccid, int mr, const char *cause,
                       struct sg_err *err)
{
    sqlite3_stmt *s = stmt(st, S_HIST_INSERT, err);
    if (!s)
        return err ? err->code : -EIO;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, at);
    bind_str(s, 3, from >= 0 ? store_state_name((enum store_state)from) : NULL);
    bind_str(s, 4, store_state_name(to));
    bind_str(s, 5, modem);
    bind_str(s, 6, iccid);
    bind_int_or_null(s, 7, mr, mr >= 0);
    bind_str(s, 8, cause);
    return run(st, s, "history", err);
}

int store_event_append(struct store *st, const char *type, int64_t msg_id, const char *json,
                       sg_ms now, int64_t *seq, struct sg_err *err)
{
    if (!type || !*type || strlen(type) >= STORE_EVTYPE_MAX)
        return sg_errf(err, -EINVAL, "store: bad event type");
    int rc = store_begin(st, err);
    if (rc)
        return rc;
    sqlite3_stmt *s = stmt(st, S_EVENT_INSERT, err);
    if (!s)
        return finish(st, err ? err->code : -EIO, err);
    sqlite3_bind_int64(s, 1, now);
    sqlite3_bind_text(s, 2, type, -1, SQLITE_STATIC);
    bind_int_or_null(s, 3, msg_id, msg_id > 0);
    sqlite3_bind_text(s, 4, json && *json ? json : "{}", -1, SQLITE_STATIC);
    rc = run(st, s, "event", err);
    if (rc == 0) {
        st->tx_events = true;
        st->tx_last_seq = sqlite3_last_insert_rowid(st->db);
        if (seq)
            *seq = st->tx_last_seq;
    }
    return finish(st, rc, err);
}

static void row_to_msg(sqlite3_stmt *s, struct store_msg *m)
{
    memset(m, 0, sizeof *m);
    m->id = sqlite3_column_int64(s, 0);
    col_str(s, 1, m->idem_key, sizeof m->idem_key);
    col_str(s, 2, m->to, sizeof m->to);
    col_str(s, 3, m->text, sizeof m->text);
    m->prio = (enum store_prio)sqlite3_column_int(s, 4);
    col_str(s, 5, m->encoding, sizeof m->encoding);
    m->parts = sqlite3_column_int(s, 6);
    m->status_report = sqlite3_column_int(s, 7) != 0;
    m->ttl_ms = sqlite3_column_int64(s, 8);
    m->expires_at = sqlite3_column_int64(s, 9);
    m->state = col_state(s, 10);
    m->attempts = sqlite3_column_int(s, 11);
    m->next_attempt_at = sqlite3_column_int64(s, 12);
    col_str(s, 13, m->last_error, sizeof m->last_error);
    col_str(s, 14, m->modem, sizeof m->modem);
    col_str(s, 15, m->iccid, sizeof m->iccid);
    m->created_at = sqlite3_column_int64(s, 16);
    m->updated_at = sqlite3_column_int64(s, 17);
}

static void row_to_part(sqlite3_stmt *s, struct store_part *p)
{
    memset(p, 0, sizeof *p);
    p->msg_id = sqlite3_column_int64(s, 0);
    p->seq = sqlite3_column_int(s, 1);
    p->tpdu_len = sqlite3_column_int(s, 2);
    col_str(s, 3, p->pdu, sizeof p->pdu);
    col_str(s, 4, p->iccid, sizeof p->iccid);
    col_str(s, 5, p->modem, sizeof p->modem);
    p->mr = (int)col_i64_or(s, 6, -1);
    p->sent_at = col_i64_or(s, 7, 0);
    p->status = (enum store_part_status)sqlite3_column_int(s, 8);
    p->dlr_st = (int)col_i64_or(s, 9, -1);
    p->dlr_at = col_i64_or(s, 10, 0);
}

/* ------------------------------------------------------------ accept */

static size_t slen(const char *s)
{
    return s ? strlen(s) + 1 : 1;
}

/* Copies src into the pending block at *cur; NULL becomes "". */
static const char *put(char **cur, const char *src)
{
    char *dst = *cur;
    size_t n = slen(src);
    if (src)
        memcpy(dst, src, n);
    else
        dst[0] = '\0';
    *cur += n;
    return dst;
}

static int check_accept(const struct store_accept *a, struct sg_err *err)
{
    if (!a->to || !*a->to || strlen(a->to) >= STORE_TO_MAX)
        return sg_errf(err, -EINVAL, "store: bad recipient");
    if (!a->text || strlen(a->text) >= STORE_TEXT_MAX)
        return sg_errf(err, -E2BIG, "store: text over %d bytes", STORE_TEXT_MAX - 1);
    if (a->idem_key && strlen(a->idem_key) > STORE_IDEM_KEY_MAX)
        return sg_errf(err, -E2BIG, "store: idempotency key over %d bytes", STORE_IDEM_KEY_MAX);
    if (a->param_hash && strlen(a->param_hash) > STORE_HASH_MAX)
        return sg_errf(err, -E2BIG, "store: parameter hash too long");
    if ((unsigned)a->prio >= STORE_PRIO_COUNT)
        return sg_errf(err, -EINVAL, "store: bad priority");
    if (!a->encoding || strlen(a->encoding) >= STORE_ENC_MAX)
        return sg_errf(err, -EINVAL, "store: bad encoding name");
    if (a->nparts < 1 || a->nparts > STORE_PARTS_MAX || !a->parts)
        return sg_errf(err, -E2BIG, "store: %u parts (1..%d)", a->nparts, STORE_PARTS_MAX);
    for (unsigned i = 0; i < a->nparts; i++)
        if (!a->parts[i].hex || strlen(a->parts[i].hex) >= STORE_PDU_HEX_MAX)
            return sg_errf(err, -E2BIG, "store: part %u PDU too long", i + 1);
    return 0;
}

int store_accept_enqueue(struct store *st, const struct store_accept *a, store_accept_cb cb,
                         void *ud, struct sg_err *err)
{
    int rc = check_accept(a, err);
    if (rc)
        return rc;
    if (st->npend >= STORE_PENDING_MAX)
        return sg_errf(err, -EBUSY, "store: %d accepts already waiting for a commit",
                       STORE_PENDING_MAX);
    size_t need = slen(a->idem_key) + slen(a->param_hash) + slen(a->to) + slen(a->text) +
                  slen(a->encoding) + slen(a->event_json);
    for (unsigned i = 0; i < a->nparts; i++)
        need += slen(a->parts[i].hex);
    struct pending *p = malloc(sizeof *p + need);
    if (!p)
        return sg_errf(err, -ENOMEM, "store: out of memory");
    char *cur = p->data;
    p->next = NULL;
    p->cb = cb;
    p->ud = ud;
    p->a = *a;
    p->a.idem_key = put(&cur, a->idem_key);
    p->a.param_hash = put(&cur, a->param_hash);
    p->a.to = put(&cur, a->to);
    p->a.text = put(&cur, a->text);
    p->a.encoding = put(&cur, a->encoding);
    p->a.event_json = put(&cur, a->event_json);
    for (unsigned i = 0; i < a->nparts; i++) {
        p->parts[i].tpdu_len = a->parts[i].tpdu_len;
        p->parts[i].hex = put(&cur, a->parts[i].hex);
    }
    p->a.parts = p->parts;
    *st->pend_tail = p;
    st->pend_tail = &p->next;
    st->npend++;
    return 0;
}

size_t store_pending(const struct store *st)
{
    return st->npend;
}

static void fail_pending(struct pending *p, int code, const char *msg)
{
    struct store_accept_result r;
    memset(&r, 0, sizeof r);
    r.rc = code;
    sg_errf(&r.err, code, "%s", msg);
    if (p->cb)
        p->cb(p->ud, &r);
    free(p);
}

/* Looks up an earlier message with the same key. 1 found (r filled), 0 not. */
static int accept_lookup(struct store *st, const struct store_accept *a,
                         struct store_accept_result *r, struct sg_err *err)
{
    sqlite3_stmt *s = stmt(st, S_MSG_BY_KEY, err);
    if (!s)
        return err ? err->code : -EIO;
    sqlite3_bind_text(s, 1, a->idem_key, -1, SQLITE_STATIC);
    int rc = st_step(st, s);
    if (rc == SQLITE_DONE) {
        done(s);
        return 0;
    }
    if (rc != SQLITE_ROW) {
        done(s);
        return fail(st, rc, "idempotency lookup", err);
    }
    const unsigned char *h = sqlite3_column_text(s, 1);
    r->id = sqlite3_column_int64(s, 0);
    r->state = col_state(s, 2);
    r->parts = sqlite3_column_int(s, 3);
    col_str(s, 4, r->encoding, sizeof r->encoding);
    if (h && strcmp((const char *)h, a->param_hash) == 0) {
        r->replay = true;
    } else {
        r->rc = sg_errf(&r->err, -EEXIST,
                        "idempotency key already used by message %lld with other parameters",
                        (long long)r->id);
    }
    done(s);
    return 1;
}

static int accept_insert(struct store *st, const struct store_accept *a,
                         struct store_accept_result *r, struct sg_err *err)
{
    sqlite3_stmt *s = stmt(st, S_MSG_INSERT, err);
    if (!s)
        return err ? err->code : -EIO;
    bind_str(s, 1, a->idem_key);
    bind_str(s, 2, a->param_hash);
    sqlite3_bind_text(s, 3, a->to, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, a->text, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 5, (int)a->prio);
    sqlite3_bind_text(s, 6, a->encoding, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 7, (int)a->nparts);
    sqlite3_bind_int(s, 8, a->status_report);
    sqlite3_bind_int64(s, 9, a->ttl_ms);
    sqlite3_bind_int64(s, 10, a->now + a->ttl_ms);
    sqlite3_bind_int64(s, 11, a->now);
    int rc = run(st, s, "insert message", err);
    if (rc)
        return rc;
    r->id = sqlite3_last_insert_rowid(st->db);
    r->state = STORE_QUEUED;
    r->parts = (int)a->nparts;
    snprintf(r->encoding, sizeof r->encoding, "%s", a->encoding);
    for (unsigned i = 0; i < a->nparts; i++) {
        if (!(s = stmt(st, S_PART_INSERT, err)))
            return err ? err->code : -EIO;
        sqlite3_bind_int64(s, 1, r->id);
        sqlite3_bind_int(s, 2, (int)i + 1);
        sqlite3_bind_int(s, 3, (int)a->parts[i].tpdu_len);
        sqlite3_bind_text(s, 4, a->parts[i].hex, -1, SQLITE_STATIC);
        if ((rc = run(st, s, "insert part", err)))
            return rc;
    }
    rc = hist_insert(st, r->id, a->now, -1, STORE_QUEUED, NULL, NULL, -1, NULL, err);
    if (rc == 0)
        rc = store_event_append(st, "message.state", r->id, a->event_json, a->now, NULL, err);
    return rc;
}

int store_flush(struct store *st, struct sg_err *err)
{
    struct pending *list = st->pend_head;
    size_t n = st->npend;
    if (!list)
        return 0;
    /* Detach first: callbacks may enqueue the next batch. */
    st->pend_head = NULL;
    st->pend_tail = &st->pend_head;
    st->npend = 0;

    struct sg_err e;
    sg_err_clear(&e);
    struct store_accept_result *res = calloc(n, sizeof *res);
    if (!res) {
        for (struct pending *p = list, *next; p; p = next) {
            next = p->next;
            fail_pending(p, -ENOMEM, "store: out of memory");
        }
        return sg_errf(err, -ENOMEM, "store: out of memory");
    }
    int created = 0;
    int rc = store_begin(st, &e);
    size_t i = 0;
    for (struct pending *p = list; p && rc == 0; p = p->next, i++) {
        if (p->a.idem_key[0]) {
            rc = accept_lookup(st, &p->a, &res[i], &e);
            if (rc == 1) {
                rc = 0;
                continue;
            }
            if (rc)
                break;
        }
        rc = accept_insert(st, &p->a, &res[i], &e);
        if (rc == 0)
            created++;
    }
    rc = finish(st, rc, &e);
    i = 0;
    for (struct pending *p = list, *next; p; p = next, i++) {
        next = p->next;
        if (rc) {
            memset(&res[i], 0, sizeof res[i]);
            res[i].rc = rc;
            res[i].err = e;
        }
        if (p->cb)
            p->cb(p->ud, &res[i]);
        free(p);
    }
    free(res);
    if (rc && err)
        *err = e;
    return rc ? rc : created;
}

/* ------------------------------------------------------------ messages */

static int get_one(struct store *st, sqlite3_stmt *s, const char *what, struct sg_err *err)
{
    int rc = st_step(st, s);
    if (rc == SQLITE_ROW)
        return 1;
    done(s);
    if (rc == SQLITE_DONE)
        return 0;
    return fail(st, rc, what, err);
}

int store_msg_get(struct store *st, int64_t id, struct store_msg *out, struct sg_err *err)
{
    sqlite3_stmt *s = stmt(st, S_MSG_GET, err);
    if (!s)
        return err ? err->code : -EIO;
    sqlite3_bind_int64(s, 1, id);
    int rc = get_one(st, s, "get message", err);
    if (rc <= 0)
        return rc ? rc : sg_errf(err, -ENOENT, "store: no message %lld", (long long)id);
    row_to_msg(s, out);
    done(s);
    return 0;
}

/* Why an UPDATE ... WHERE state = from matched nothing. */
static int explain_miss(struct store *st, const struct store_transition *t, struct sg_err *err)
{
    sqlite3_stmt *s = stmt(st, S_MSG_STATE, err);
    if (!s)
        return err ? err->code : -EIO;
    sqlite3_bind_int64(s, 1, t->id);
    int rc = get_one(st, s, "state", err);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return sg_errf(err, -ENOENT, "store: no message %lld", (long long)t->id);
    char now_state[16];
    col_str(s, 0, now_state, sizeof now_state);
    done(s);
    return sg_errf(err, -ESTALE, "store: message %lld is %s, not %s", (long long)t->id,
                   now_state, store_state_name(t->from));
}

static int transition_body(struct store *st, const struct store_transition *t, struct sg_err *err)
{
    sqlite3_stmt *s = stmt(st, S_MSG_TRANSITION, err);
    if (!s)
        return err ? err->code : -EIO;
    sqlite3_bind_int64(s, 1, t->id);
    bind_str(s, 2, store_state_name(t->to));
    sqlite3_bind_int64(s, 3, t->now);
    sqlite3_bind_int(s, 4, t->attempts_add);
    sqlite3_bind_int64(s, 5, t->next_attempt_at);
    bind_str(s, 6, t->cause);
    bind_str(s, 7, t->modem);
    bind_str(s, 8, t->iccid);
    bind_str(s, 9, store_state_name(t->from));
    int rc = run(st, s, "transition", err);
    if (rc)
        return rc;
    if (sqlite3_changes(st->db) != 1)
        return explain_miss(st, t, err);
    rc = hist_insert(st, t->id, t->now, (int)t->from, t->to, t->modem, t->iccid, t->mr, t->cause,
                     err);
    if (rc)
        return rc;
    return store_event_append(st, t->event_type ? t->event_type : "message.state", t->id,
                              t->event_json, t->now, NULL, err);
}

int store_transition(struct store *st, const struct store_transition *t, struct sg_err *err)
{
    if ((unsigned)t->from >= STORE_STATE_COUNT || (unsigned)t->to >= STORE_STATE_COUNT)
        return sg_errf(err, -EINVAL, "store: bad state");
    int rc = store_begin(st, err);
    if (rc)
        return rc;
    return finish(st, transition_body(st, t, err), err);
}

int store_msg_reschedule(struct store *st, int64_t id, sg_ms next_attempt_at, const char *cause,
                         sg_ms now, struct sg_err *err)
{
    sqlite3_stmt *s = stmt(st, S_MSG_RESCHEDULE, err);
    if (!s)
        return err ? err->code : -EIO;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, next_attempt_at);
    sqlite3_bind_int64(s, 3, now);
    bind_str(s, 4, cause);
    int rc = run(st, s, "reschedule", err);
    if (rc == 0 && sqlite3_changes(st->db) != 1)
        return sg_errf(err, -ESTALE, "store: message %lld is not queued", (long long)id);
    return rc;
}

/* Collects column 0 of every row as int64 into ids[n..max). */
static int collect_ids(struct store *st, sqlite3_stmt *s, int64_t *ids, int n, int max,
                       struct sg_err *err)
{
    int rc;
    while (n < max && (rc = st_step(st, s)) == SQLITE_ROW)
        ids[n++] = sqlite3_column_int64(s, 0);
    done(s);
    if (n < max && rc != SQLITE_DONE)
        return fail(st, rc, "select", err);
    return n;
}

int store_due(struct store *st, sg_ms now, int64_t *ids, int max, struct sg_err *err)
{
    int n = 0;
    for (int p = 0; p < STORE_PRIO_COUNT && n < max; p++) {
        sqlite3_stmt *s = stmt(st, S_DUE, err);
        if (!s)
            return err ? err->code : -EIO;
        sqlite3_bind_int(s, 1, p);
        sqlite3_bind_int64(s, 2, now);
        sqlite3_bind_int(s, 3, max - n);
        n = collect_ids(st, s, ids, n, max, err);
        if (n < 0)
            return n;
    }
    return n;
}

int store_expired(struct store *st, sg_ms now, int64_t *ids, int max, struct sg_err *err)
{
    sqlite3_stmt *s = stmt(st, S_EXPIRED, err);
    if (!s)
        return err ? err->code : -EIO;
    sqlite3_bind_int64(s, 1, now);
    sqlite3_bind_int(s, 2, max);
    return collect_ids(st, s, ids, 0, max, err);
}

/* The first column of the first row as a time, SG_MS_NEVER when no row. */
static int min_time(struct store *st, sqlite3_stmt *s, sg_ms *at, struct sg_err *err)
{
    int rc = get_one(st, s, "min", err);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return 0;
    sg_ms v = sqlite3_column_int64(s, 0);
    done(s);
    if (v < *at)
        *at = v;
    return 0;
}

int store_next_attempt_min(struct store *st, sg_ms *at, struct sg_err *err)
{
    *at = SG_MS_NEVER;
    for (int p = 0; p < STORE_PRIO_COUNT; p++) {
        sqlite3_stmt *s = stmt(st, S_NEXT_ATTEMPT, err);
        if (!s)
            return err ? err->code : -EIO;
        sqlite3_bind_int(s, 1, p);
        int rc = min_time(st, s, at, err);
        if (rc)
            return rc;
    }
    return 0;
}

int store_expiry_min(struct store *st, sg_ms *at, struct sg_err *err)
{
    *at = SG_MS_NEVER;
    sqlite3_stmt *s = stmt(st, S_EXPIRY_MIN, err);
    if (!s)
        return err ? err->code : -EIO;
    return min_time(st, s, at, err);
}

int store_queued_counts(struct store *st, int64_t *counts, struct sg_err *err)
{
    sqlite3_stmt *s = stmt(st, S_QUEUED_COUNTS, err);
    if (!s)
        return err ? err->code : -EIO;
    memset(counts, 0, STORE_PRIO_COUNT * sizeof *counts);
    int rc;
    while ((rc = st_step(st, s)) == SQLITE_ROW) {
        int p = sqlite3_column_int(s, 0);
        if (p >= 0 && p < STORE_PRIO_COUNT)
            counts[p] = sqlite3_column_int64(s, 1);
    }
    done(s);
    return rc == SQLITE_DONE ? 0 : fail(st, rc, "queued counts", err);
}

int store_state_counts(struct store *st, int64_t *counts, struct sg_err *err)
{
    sqlite3_stmt *s = stmt(st, S_STATE_COUNTS, err);
    if (!s)
        return err ? err->code : -EIO;
    memset(counts, 0, STORE_STATE_COUNT * sizeof *counts);
    int rc;
    while ((rc = st_step(st, s)) == SQLITE_ROW)
        counts[col_state(s, 0)] += sqlite3_column_int64(s, 1);
    done(s);
    return rc == SQLITE_DONE ? 0 : fail(st, rc, "state counts", err);
}

int store_list(struct store *st, const struct store_filter *f, store_msg_cb cb, void *ud,
               struct sg_err *err)
{
    sqlite3_stmt *s = stmt(st, S_LIST, err);
    if (!s)
        return err ? err->code : -EIO;
    struct store_msg *m = malloc(sizeof *m);
    if (!m)
        return sg_errf(err, -ENOMEM, "store: out of memory");
    bind_str(s, 1, f->state >= 0 ? store_state_name((enum store_state)f->state) : NULL);
    sqlite3_bind_int64(s, 2, f->since);
    sqlite3_bind_int64(s, 3, f->after_id);
    sqlite3_bind_int(s, 4, clamp_limit(f->limit));
    int rc, n = 0;
    while ((rc = st_step(st, s)) == SQLITE_ROW) {
        row_to_msg(s, m);
        n++;
        if (cb && cb(ud, m)) {
            rc = SQLITE_DONE;
            break;
        }
    }
    done(s);
    free(m);
    return rc == SQLITE_DONE ? n : fail(st, rc, "list", err);
}

/* ------------------------------------------------------------ parts */

int store_parts(struct store *st, int64_t msg_id, store_part_cb cb, void *ud, struct sg_err *err)
{
    sqlite3_stmt *s = stmt(st, S_PARTS, err);
    if (!s)
        return err ? err->code : -EIO;
    sqlite3_bind_int64(s, 1, msg_id);
    struct store_part p;
    int rc, n = 0;
    while ((rc = st_step(st, s)) == SQLITE_ROW) {
        row_to_part(s, &p);
        n++;
        if (cb && cb(ud, &p)) {
            rc = SQLITE_DONE;
            break;
        }
    }
    done(s);
    return rc == SQLITE_DONE ? n : fail(st, rc, "parts", err);
}

int store_part_get(struct store *st, int64_t msg_id, int seq, struct store_part *out,
                   struct sg_err *err)
{
    sqlite3_stmt *s = stmt(st, S_PART_GET, err);
    if (!s)
        return err ? err->code : -EIO;
    sqlite3_bind_int64(s, 1, msg_id);
    sqlite3_bind_int(s, 2, seq);
    int rc = get_one(st, s, "get part", err);
    if (rc <= 0)
        return rc ? rc
                  : sg_errf(err, -ENOENT, "store: message %lld has no part %d", (long long)msg_id,
                            seq);
    row_to_part(s, out);
    done(s);
    return 0;
}

int store_part_update(struct store *st, const struct store_part *p, struct sg_err *err)
{
    sqlite3_stmt *s = stmt(st, S_PART_UPDATE, err);
    if (!s)
        return err ? err->code : -EIO;
    sqlite3_bind_int64(s, 1, p->msg_id);
    sqlite3_bind_int(s, 2, p->seq);
    bind_str(s, 3, p->iccid);
    bind_str(s, 4, p->modem);
    bind_int_or_null(s, 5, p->mr, p->mr >= 0);
    bind_int_or_null(s, 6, p->sent_at, p->sent_at > 0);
    sqlite3_bind_int(s, 7, (int)p->status);
    bind_int_or_null(s, 8, p->dlr_st, p->dlr_st >= 0);
    bind_int_or_null(s, 9, p->dlr_at, p->dlr_at > 0);
    int rc = run(st, s, "update part", err);
    if (rc == 0 && sqlite3_changes(st->db) != 1)
        return sg_errf(err, -ENOENT, "store: message %lld has no part %d", (long long)p->msg_id,
                       p->seq);
    return rc;
}

int store_parts_reset(struct store *st, int64_t msg_id, struct sg_err *err)
{
    sqlite3_stmt *s = stmt(st, S_PARTS_RESET, err);
    if (!s)
        return err ? err->code : -EIO;
    sqlite3_bind_int64(s, 1, msg_id);
    return run(st, s, "reset parts", err);
}

int store_part_counts(struct store *st, int64_t msg_id, int counts[4], struct sg_err *err)
{
    sqlite3_stmt *s = stmt(st, S_PART_COUNTS, err);
    if (!s)
        return err ? err->code : -EIO;
    memset(counts, 0, 4 * sizeof *counts);
    sqlite3_bind_int64(s, 1, msg_id);
    int rc;
    while ((rc = st_step(st, s)) == SQLITE_ROW) {
        int k = sqlite3_column_int(s, 0);
        if (k >= 0 && k < 4)
            counts[k] = sqlite3_column_int(s, 1);
    }
    done(s);
    return rc == SQLITE_DONE ? 0 : fail(st, rc, "part counts", err);
}

int store_parts_by_mr(struct store *st, const char *iccid, int mr, sg_ms sent_after,
                      store_mr_cb cb, void *ud, struct sg_err *err)
{
    sqlite3_stmt *s = stmt(st, S_PARTS_BY_MR, err);
    if (!s)
        return err ? err->code : -EIO;
    bind_str(s, 1, iccid);
    sqlite3_bind_int(s, 2, mr);
    sqlite3_bind_int64(s, 3, sent_after);
    struct store_part p;
    char to[STORE_TO_MAX];
    int rc, n = 0;
    while ((rc = st_step(st, s)) == SQLITE_ROW) {
        row_to_part(s, &p);
        col_str(s, 11, to, sizeof to);
        n++;
        if (cb && cb(ud, &p, to, col_state(s, 12))) {
            rc = SQLITE_DONE;
            break;
        }
    }
    done(s);
    return rc == SQLITE_DONE ? n : fail(st, rc, "parts by mr", err);
}

/* ------------------------------------------------------------ history */

int store_history(struct store *st, int64_t msg_id, store_hist_cb cb, void *ud, struct sg_err *err)
{
    sqlite3_stmt *s = stmt(st, S_HISTORY, err);
    if (!s)
        return err ? err->code : -EIO;
    sqlite3_bind_int64(s, 1, msg_id);
    struct store_hist h;
    int rc, n = 0;
    while ((rc = st_step(st, s)) == SQLITE_ROW) {
        memset(&h, 0, sizeof h);
        h.at = sqlite3_column_int64(s, 0);
        h.from = sqlite3_column_type(s, 1) == SQLITE_NULL ? -1 : (int)col_state(s, 1);
        h.to = col_state(s, 2);
        col_str(s, 3, h.modem, sizeof h.modem);
        col_str(s, 4, h.iccid, sizeof h.iccid);
        h.mr = (int)col_i64_or(s, 5, -1);
        col_str(s, 6, h.cause, sizeof h.cause);
        n++;
        if (cb && cb(ud, &h)) {
            rc = SQLITE_DONE;
            break;
        }
    }
    done(s);
    return rc == SQLITE_DONE ? n : fail(st, rc, "history", err);
}

/* ------------------------------------------------------------ events */

int store_events_after(struct store *st, int64_t after, int limit, store_event_cb cb, void *ud,
                       struct sg_err *err)
{
    sqlite3_stmt *s = stmt(st, S_EVENTS_AFTER, err);
    if (!s)
        return err ? err->code : -EIO;
    sqlite3_bind_int64(s, 1, after);
    sqlite3_bind_int(s, 2, clamp_limit(limit));
    int rc, n = 0;
    while ((rc = st_step(st, s)) == SQLITE_ROW) {
        struct store_event e = {
            .seq = sqlite3_column_int64(s, 0),
            .at = sqlite3_column_int64(s, 1),
            .type = (const char *)sqlite3_column_text(s, 2),
            .msg_id = col_i64_or(s, 3, 0),
            .json = (const char *)sqlite3_column_text(s, 4),
        };
        n++;
        if (cb && cb(ud, &e)) {
            rc = SQLITE_DONE;
            break;
        }
    }
    done(s);
    return rc == SQLITE_DONE ? n : fail(st, rc, "events", err);
}

int store_events_last_seq(struct store *st, int64_t *seq, struct sg_err *err)
{
    sqlite3_stmt *s = stmt(st, S_EVENTS_LAST, err);
    if (!s)
        return err ? err->code : -EIO;
    int rc = get_one(st, s, "last event", err);
    if (rc < 0)
        return rc;
    *seq = rc ? sqlite3_column_int64(s, 0) : 0;
    if (rc)
        done(s);
    return 0;
}

/* ------------------------------------------------------------ SIMs */

static void row_to_sim(sqlite3_stmt *s, struct store_sim *m)
{
    memset(m, 0, sizeof *m);
    col_str(s, 0, m->iccid, sizeof m->iccid);
    col_str(s, 1, m->imsi, sizeof m->imsi);
    col_str(s, 2, m->msisdn, sizeof m->msisdn);
    col_str(s, 3, m->label, sizeof m->label);
    m->day_key = sqlite3_column_int(s, 4);
    m->sent_day = sqlite3_column_int(s, 5);
    m->month_key = sqlite3_column_int(s, 6);
    m->sent_month = sqlite3_column_int(s, 7);
    m->consec_failures = sqlite3_column_int(s, 8);
    m->breaker_state = sqlite3_column_int(s, 9);
    m->breaker_until = sqlite3_column_int64(s, 10);
    m->last_used_at = sqlite3_column_int64(s, 11);
    m->updated_at = sqlite3_column_int64(s, 12);
}

int store_sim_put(struct store *st, const struct store_sim *m, sg_ms now, struct sg_err *err)
{
    if (!m->iccid[0])
        return sg_errf(err, -EINVAL, "store: SIM without ICCID");
    sqlite3_stmt *s = stmt(st, S_SIM_PUT, err);
    if (!s)
        return err ? err->code : -EIO;
    sqlite3_bind_text(s, 1, m->iccid, -1, SQLITE_STATIC);
    bind_str(s, 2, m->imsi);
    bind_str(s, 3, m->msisdn);
    bind_str(s, 4, m->label);
    sqlite3_bind_int(s, 5, m->day_key);
    sqlite3_bind_int(s, 6, m->sent_day);
    sqlite3_bind_int(s, 7, m->month_key);
    sqlite3_bind_int(s, 8, m->sent_month);
    sqlite3_bind_int(s, 9, m->consec_failures);
    sqlite3_bind_int(s, 10, m->breaker_state);
    sqlite3_bind_int64(s, 11, m->breaker_until);
    sqlite3_bind_int64(s, 12, m->last_used_at);
    sqlite3_bind_int64(s, 13, now);
    return run(st, s, "put SIM", err);
}

int store_sim_get(struct store *st, const char *iccid, struct store_sim *out, struct sg_err *err)
{
    sqlite3_stmt *s = stmt(st, S_SIM_GET, err);
    if (!s)
        return err ? err->code : -EIO;
    bind_str(s, 1, iccid);
    int rc = get_one(st, s, "get SIM", err);
    if (rc <= 0)
        return rc ? rc : sg_errf(err, -ENOENT, "store: unknown SIM");
    row_to_sim(s, out);
    done(s);
    return 0;
}

int store_sim_list(struct store *st, store_sim_cb cb, void *ud, struct sg_err *err)
{
    sqlite3_stmt *s = stmt(st, S_SIM_LIST, err);
    if (!s)
        return err ? err->code : -EIO;
    struct store_sim m;
    int rc, n = 0;
    while ((rc = st_step(st, s)) == SQLITE_ROW) {
        row_to_sim(s, &m);
        n++;
        if (cb && cb(ud, &m)) {
            rc = SQLITE_DONE;
            break;
        }
    }
    done(s);
    return rc == SQLITE_DONE ? n : fail(st, rc, "SIMs", err);
}

/* ------------------------------------------------------------ inbound */

static void row_to_inbound(sqlite3_stmt *s, struct store_inbound *in)
{
    memset(in, 0, sizeof *in);
    in->id = sqlite3_column_int64(s, 0);
    col_str(s, 1, in->from, sizeof in->from);
    col_str(s, 2, in->text, sizeof in->text);
    in->received_at = sqlite3_column_int64(s, 3);
    in->smsc_ts = sqlite3_column_int64(s, 4);
    in->concat_ref = sqlite3_column_int(s, 5);
    in->concat_total = sqlite3_column_int(s, 6);
    in->concat_seq = sqlite3_column_int(s, 7);
    col_str(s, 8, in->group, sizeof in->group);
    in->complete = sqlite3_column_int(s, 9);
    col_str(s, 10, in->pdu, sizeof in->pdu);
    col_str(s, 11, in->dedupe, sizeof in->dedupe);
    col_str(s, 12, in->iccid, sizeof in->iccid);
    col_str(s, 13, in->modem, sizeof in->modem);
}

static int inbound_insert(struct store *st, const struct store_inbound *in, int complete,
                          int64_t *id, struct sg_err *err)
{
    sqlite3_stmt *s = stmt(st, S_IN_INSERT, err);
    if (!s)
        return err ? err->code : -EIO;
    sqlite3_bind_text(s, 1, in->from, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, in->text, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, in->received_at);
    sqlite3_bind_int64(s, 4, in->smsc_ts);
    sqlite3_bind_int(s, 5, in->concat_ref);
    sqlite3_bind_int(s, 6, in->concat_total > 0 ? in->concat_total : 1);
    sqlite3_bind_int(s, 7, in->concat_seq > 0 ? in->concat_seq : 1);
    bind_str(s, 8, in->group);
    sqlite3_bind_int(s, 9, complete);
    bind_str(s, 10, in->pdu);
    bind_str(s, 11, in->dedupe);
    bind_str(s, 12, in->iccid);
    bind_str(s, 13, in->modem);
    int rc = run(st, s, "insert inbound", err);
    if (rc == -EEXIST)
        return sg_errf(err, -EEXIST, "store: inbound message already stored (duplicate)");
    if (rc == 0 && id)
        *id = sqlite3_last_insert_rowid(st->db);
    return rc;
}

/* The inbound event names the row it is about: the caller could not know
 * its id before the insert. Returns a malloc'd payload or NULL (use json). */
static char *inbound_event(const char *json, int64_t id)
{
    json_t *o = json_loads(json && *json ? json : "{}", JSON_REJECT_DUPLICATES, NULL);
    char *out = NULL;
    if (json_is_object(o) && !json_object_get(o, "id") &&
        json_object_set_new(o, "id", json_integer(id)) == 0)
        out = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return out;
}

static int inbound_event_append(struct store *st, const char *json, int64_t id, sg_ms now,
                                struct sg_err *err)
{
    char *with_id = inbound_event(json, id);
    int rc = store_event_append(st, "inbound", 0, with_id ? with_id : json, now, NULL, err);
    free(with_id);
    return rc;
}

int store_inbound_add(struct store *st, const struct store_inbound *in, const char *event_json,
                      sg_ms now, int64_t *id, struct sg_err *err)
{
    int64_t rowid = 0;
    int rc = store_begin(st, err);
    if (rc)
        return rc;
    rc = inbound_insert(st, in, in->complete, &rowid, err);
    if (rc == 0 && event_json)
        rc = inbound_event_append(st, event_json, rowid, now, err);
    rc = finish(st, rc, err);
    if (rc == 0 && id)
        *id = rowid;
    return rc;
}

static int inbound_rows(struct store *st, sqlite3_stmt *s, store_inbound_cb cb, void *ud,
                        const char *what, struct sg_err *err)
{
    struct store_inbound *in = malloc(sizeof *in);
    if (!in) {
        done(s);
        return sg_errf(err, -ENOMEM, "store: out of memory");
    }
    int rc, n = 0;
    while ((rc = st_step(st, s)) == SQLITE_ROW) {
        row_to_inbound(s, in);
        n++;
        if (cb && cb(ud, in)) {
            rc = SQLITE_DONE;
            break;
        }
    }
    done(s);
    free(in);
    return rc == SQLITE_DONE ? n : fail(st, rc, what, err);
}

int store_inbound_group(struct store *st, const char *group, store_inbound_cb cb, void *ud,
                        struct sg_err *err)
{
    sqlite3_stmt *s = stmt(st, S_IN_GROUP, err);
    if (!s)
        return err ? err->code : -EIO;
    bind_str(s, 1, group);
    return inbound_rows(st, s, cb, ud, "inbound group", err);
}

int store_inbound_stale_groups(struct store *st, sg_ms before, store_group_cb cb, void *ud,
                               struct sg_err *err)
{
    sqlite3_stmt *s = stmt(st, S_IN_STALE, err);
    if (!s)
        return err ? err->code : -EIO;
    sqlite3_bind_int64(s, 1, before);
    char g[STORE_GROUP_MAX];
    int rc, n = 0;
    while ((rc = st_step(st, s)) == SQLITE_ROW) {
        col_str(s, 0, g, sizeof g);
        n++;
        if (cb && cb(ud, g)) {
            rc = SQLITE_DONE;
            break;
        }
    }
    done(s);
    return rc == SQLITE_DONE ? n : fail(st, rc, "stale groups", err);
}

int store_inbound_assemble(struct store *st, const char *group, const struct store_inbound *whole,
                           const char *event_json, sg_ms now, int64_t *id, struct sg_err *err)
{
    int64_t rowid = 0;
    int rc = store_begin(st, err);
    if (rc)
        return rc;
    sqlite3_stmt *s = stmt(st, S_IN_MARK_GROUP, err);
    if (!s)
        return finish(st, err ? err->code : -EIO, err);
    bind_str(s, 1, group);
    rc = run(st, s, "assemble", err);
    if (rc == 0)
        rc = inbound_insert(st, whole, STORE_IN_COMPLETE, &rowid, err);
    if (rc == 0)
        rc = inbound_event_append(st, event_json, rowid, now, err);
    rc = finish(st, rc, err);
    if (rc == 0 && id)
        *id = rowid;
    return rc;
}

int store_inbound_release(struct store *st, int64_t id, const char *event_json, sg_ms now,
                          struct sg_err *err)
{
    int rc = store_begin(st, err);
    if (rc)
        return rc;
    sqlite3_stmt *s = stmt(st, S_IN_RELEASE, err);
    if (!s)
        return finish(st, err ? err->code : -EIO, err);
    sqlite3_bind_int64(s, 1, id);
    rc = run(st, s, "release", err);
    if (rc == 0 && sqlite3_changes(st->db) != 1)
        rc = sg_errf(err, -ENOENT, "store: no pending inbound part %lld", (long long)id);
    if (rc == 0)
        rc = inbound_event_append(st, event_json, id, now, err);
    return finish(st, rc, err);
}

int store_inbound_list(struct store *st, sg_ms since, int64_t after_id, int limit,
                       store_inbound_cb cb, void *ud, struct sg_err *err)
{
    sqlite3_stmt *s = stmt(st, S_IN_LIST, err);
    if (!s)
        return err ? err->code : -EIO;
    sqlite3_bind_int64(s, 1, since);
    sqlite3_bind_int64(s, 2, after_id);
    sqlite3_bind_int(s, 3, clamp_limit(limit));
    return inbound_rows(st, s, cb, ud, "inbox", err);
}

/* ------------------------------------------------------------ retention */

static int purge_one(struct store *st, enum stmt_id id, sg_ms cutoff, sg_ms key_cutoff, int batch,
                     struct sg_err *err)
{
    sqlite3_stmt *s = stmt(st, id, err);
    if (!s)
        return err ? err->code : -EIO;
    sqlite3_bind_int64(s, 1, cutoff);
    if (id == S_PURGE_MSGS) {
        sqlite3_bind_int64(s, 2, key_cutoff);
        sqlite3_bind_int(s, 3, batch);
    } else {
        sqlite3_bind_int(s, 2, batch);
    }
    int rc = run(st, s, "purge", err);
    return rc ? rc : sqlite3_changes(st->db);
}

int store_purge(struct store *st, sg_ms now, sg_ms max_age, int batch, struct sg_err *err)
{
    if (batch <= 0)
        batch = 500;
    sg_ms cutoff = now - max_age;
    static const enum stmt_id what[] = {S_PURGE_MSGS, S_PURGE_EVENTS, S_PURGE_INBOUND};
    int total = 0;
    /* One short transaction per table: the loop is never held for long. */
    for (size_t i = 0; i < sizeof what / sizeof what[0]; i++) {
        int rc = store_begin(st, err);
        if (rc)
            return rc;
        int n = purge_one(st, what[i], cutoff, now - STORE_IDEM_KEEP_MS, batch, err);
        rc = finish(st, n < 0 ? n : 0, err);
        if (rc)
            return rc;
        total += n;
    }
    return total;
}
