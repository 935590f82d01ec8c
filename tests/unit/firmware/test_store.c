/*
 * firmware/store against a real sqlite file in a mkdtemp directory, with
 * fake wall-clock values passed in: schema migrations and the refusal of a
 * newer database, the durability pragmas, group commit (one transaction,
 * one event-hook call for a whole batch), a failed commit losing nothing
 * committed before, the events cursor, retention in batches, SIMs, inbound
 * dedupe and reassembly bookkeeping, DLR candidate lookup.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "firmware/store.h"

#define T0 1763800000000LL   /* 2025-11-22, a fixed "now" */
#define SEC 1000LL
#define DAY (86400LL * SEC)

struct fx {
    char dir[64];
    struct store *st;
    int hook_calls;
    int64_t hook_seq;
};

static void rm_dir(const char *dir)
{
    static const char *const files[] = {"simgate.db", "simgate.db-wal", "simgate.db-shm"};
    char p[128];
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        unlink(p);
    }
    rmdir(dir);
}

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof *fx);
    struct sg_err err;
    snprintf(fx->dir, sizeof fx->dir, "/tmp/sg-store-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    assert_int_equal(store_open(&fx->st, fx->dir, NULL, &err), 0);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    store_close(fx->st);
    rm_dir(fx->dir);
    free(fx);
    return 0;
}

/* Raw SQL on the same file, for what the store API does not expose. */
static int64_t sql_int(const char *dir, const char *q)
{
    char p[128];
    sqlite3 *db;
    sqlite3_stmt *s;
    int64_t v = -1;
    snprintf(p, sizeof p, "%s/simgate.db", dir);
    assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, q, -1, &s, NULL), SQLITE_OK);
    if (sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

static void sql_exec(const char *dir, const char *q)
{
    char p[128];
    sqlite3 *db;
    snprintf(p, sizeof p, "%s/simgate.db", dir);
    assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, q, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

/* ------------------------------------------------------------ accept helpers */

struct got {
    int calls;
    struct store_accept_result r;
};

static void on_accept(void *ud, const struct store_accept_result *r)
{
    struct got *g = ud;
    g->calls++;
    g->r = *r;
}

static const struct store_new_part one_part[] = {
    {.tpdu_len = 18, .hex = "0011000B913316325476F80000AA05E8329BFD06"},
};

static struct store_accept accept_of(const char *to, const char *text, enum store_prio p,
                                     const char *key, sg_ms now)
{
    struct store_accept a = {
        .idem_key = key,
        .param_hash = "0123abcd",
        .to = to,
        .text = text,
        .prio = p,
        .encoding = "gsm7",
        .ttl_ms = 300 * SEC,
        .now = now,
        .nparts = 1,
        .parts = one_part,
        .event_json = "{\"status\":\"queued\"}",
    };
    return a;
}

static int64_t add_msg(struct fx *fx, enum store_prio p, sg_ms now)
{
    struct got g = {0};
    struct store_accept a = accept_of("+33612345678", "hello", p, NULL, now);
    assert_int_equal(store_accept_enqueue(fx->st, &a, on_accept, &g, NULL), 0);
    assert_int_equal(store_flush(fx->st, NULL), 1);
    assert_int_equal(g.calls, 1);
    assert_int_equal(g.r.rc, 0);
    return g.r.id;
}

/* Walks a message through states at the store level (no lifecycle rules here). */
static void walk(struct fx *fx, int64_t id, const enum store_state *path, size_t n, sg_ms now)
{
    struct sg_err err;
    for (size_t i = 1; i < n; i++) {
        struct store_transition t = {.id = id, .from = path[i - 1], .to = path[i], .now = now,
                                     .mr = -1, .next_attempt_at = -1};
        assert_int_equal(store_transition(fx->st, &t, &err), 0);
    }
}

static void hook(void *ud, int64_t seq)
{
    struct fx *fx = ud;
    fx->hook_calls++;
    fx->hook_seq = seq;
}

/* ------------------------------------------------------------ schema */

static void test_fresh_dir_gets_schema_and_reopen_keeps_it(void **state)
{
    struct fx *fx = *state;
    struct sg_err err;
    assert_true(store_schema_version_code() >= 1);
    assert_int_equal(store_schema_version(fx->st), store_schema_version_code());
    int64_t id = add_msg(fx, STORE_PRIO_NORMAL, T0);
    store_close(fx->st);
    assert_int_equal(store_open(&fx->st, fx->dir, NULL, &err), 0);
    assert_int_equal(store_schema_version(fx->st), store_schema_version_code());
    struct store_msg *m = malloc(sizeof *m);
    assert_int_equal(store_msg_get(fx->st, id, m, &err), 0);
    assert_string_equal(m->to, "+33612345678");
    assert_int_equal(m->state, STORE_QUEUED);
    free(m);
}

static void test_durability_pragmas_in_effect(void **state)
{
    struct fx *fx = *state;
    char v[32];
    assert_int_equal(store_pragma(fx->st, "journal_mode", v, sizeof v, NULL), 0);
    assert_string_equal(v, "wal");
    assert_int_equal(store_pragma(fx->st, "synchronous", v, sizeof v, NULL), 0);
    assert_string_equal(v, "2");   /* FULL */
    assert_int_equal(store_pragma(fx->st, "foreign_keys", v, sizeof v, NULL), 0);
    assert_string_equal(v, "1");
    assert_int_equal(store_pragma(fx->st, "busy_timeout", v, sizeof v, NULL), 0);
    assert_string_equal(v, "1000");
    assert_int_equal(store_pragma(fx->st, "user_version; DROP TABLE x", v, sizeof v, NULL),
                     -EINVAL);
}

static void test_database_from_newer_simgated_is_refused(void **state)
{
    struct fx *fx = *state;
    struct sg_err err;
    char q[64];
    store_close(fx->st);
    fx->st = NULL;
    snprintf(q, sizeof q, "PRAGMA user_version = %d", store_schema_version_code() + 1);
    sql_exec(fx->dir, q);
    assert_int_equal(store_open(&fx->st, fx->dir, NULL, &err), -EPROTONOSUPPORT);
    assert_null(fx->st);
    assert_non_null(strstr(err.msg, "newer"));
    /* The file is untouched: still the newer version, data intact. */
    assert_int_equal(sql_int(fx->dir, "PRAGMA user_version"), store_schema_version_code() + 1);
}

static void test_missing_state_dir_is_an_error(void **state)
{
    (void)state;
    struct store *st = NULL;
    struct sg_err err;
    assert_true(store_open(&st, "/nonexistent/simgate-test", NULL, &err) < 0);
    assert_null(st);
    assert_non_null(strstr(err.msg, "/nonexistent/simgate-test/simgate.db"));
}

/* ------------------------------------------------------------ group commit */

static void test_group_commit_of_many_accepts_is_one_transaction(void **state)
{
    struct fx *fx = *state;
    enum { N = 50 };
    struct got g[N];
    memset(g, 0, sizeof g);
    store_set_event_hook(fx->st, hook, fx);
    for (int i = 0; i < N; i++) {
        char to[16];
        snprintf(to, sizeof to, "+336123456%02d", i);
        struct store_accept a = accept_of(to, "code 1234", STORE_PRIO_OTP, NULL, T0 + i);
        assert_int_equal(store_accept_enqueue(fx->st, &a, on_accept, &g[i], NULL), 0);
    }
    assert_int_equal(store_pending(fx->st), N);
    /* Nothing is visible, nothing acknowledged before the flush. */
    assert_int_equal(g[0].calls, 0);
    assert_int_equal(sql_int(fx->dir, "SELECT COUNT(*) FROM messages"), 0);
    assert_int_equal(store_flush(fx->st, NULL), N);
    assert_int_equal(store_pending(fx->st), 0);
    /* One commit: the event hook ran once, for the last of N events. */
    assert_int_equal(fx->hook_calls, 1);
    assert_int_equal(fx->hook_seq, N);
    for (int i = 0; i < N; i++) {
        assert_int_equal(g[i].calls, 1);
        assert_int_equal(g[i].r.rc, 0);
        assert_int_equal(g[i].r.id, i + 1);
        assert_int_equal(g[i].r.state, STORE_QUEUED);
        assert_false(g[i].r.replay);
    }
    assert_int_equal(sql_int(fx->dir, "SELECT COUNT(*) FROM message_parts"), N);
    assert_int_equal(sql_int(fx->dir, "SELECT COUNT(*) FROM message_history"), N);
    assert_int_equal(store_flush(fx->st, NULL), 0);   /* empty flush is a no-op */
}

static void test_failed_commit_answers_every_accept_and_loses_nothing_older(void **state)
{
    static const struct {
        const char *name;
        enum store_fault kind;
        int want;
    } cases[] = {
        {"disk full at COMMIT", STORE_FAULT_FULL, -ENOSPC},
        {"I/O error at COMMIT", STORE_FAULT_IOERR, -EIO},
        {"locked by another process at COMMIT", STORE_FAULT_BUSY, -EAGAIN},
    };
    struct fx *fx = *state;
    int64_t old = add_msg(fx, STORE_PRIO_NORMAL, T0);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        struct got g[3];
        memset(g, 0, sizeof g);
        for (int i = 0; i < 3; i++) {
            struct store_accept a = accept_of("+33612345678", "x", STORE_PRIO_BULK, NULL, T0);
            assert_int_equal(store_accept_enqueue(fx->st, &a, on_accept, &g[i], NULL), 0);
        }
        /* calls: BEGIN, then 4 per accept (message, part, history, event), then COMMIT */
        store_test_fail_at(fx->st, 1 + 3 * 4 + 1, cases[c].kind, false);
        struct sg_err err;
        assert_int_equal(store_flush(fx->st, &err), cases[c].want);
        assert_true(store_err_unavailable(cases[c].want));
        for (int i = 0; i < 3; i++) {
            assert_int_equal(g[i].calls, 1);
            assert_int_equal(g[i].r.rc, cases[c].want);
        }
        assert_int_equal(sql_int(fx->dir, "SELECT COUNT(*) FROM messages"), 1);
        assert_int_equal(sql_int(fx->dir, "SELECT COUNT(*) FROM events"), 1);
    }
    store_test_fail_at(fx->st, 0, STORE_FAULT_IOERR, false);
    struct store_msg *m = malloc(sizeof *m);
    assert_int_equal(store_msg_get(fx->st, old, m, NULL), 0);
    assert_int_equal(m->state, STORE_QUEUED);
    free(m);
    /* and it is usable afterwards */
    assert_true(add_msg(fx, STORE_PRIO_OTP, T0) > old);
}

static void test_accept_over_caps_is_refused_before_queueing(void **state)
{
    struct fx *fx = *state;
    struct store_accept a = accept_of("+33612345678", "x", STORE_PRIO_OTP, NULL, T0);
    a.nparts = 0;
    assert_int_equal(store_accept_enqueue(fx->st, &a, on_accept, NULL, NULL), -E2BIG);
    a = accept_of("+33612345678", "x", (enum store_prio)9, NULL, T0);
    assert_int_equal(store_accept_enqueue(fx->st, &a, on_accept, NULL, NULL), -EINVAL);
    char *big = malloc(STORE_TEXT_MAX + 1);
    memset(big, 'a', STORE_TEXT_MAX);
    big[STORE_TEXT_MAX] = '\0';
    a = accept_of("+33612345678", big, STORE_PRIO_OTP, NULL, T0);
    assert_int_equal(store_accept_enqueue(fx->st, &a, on_accept, NULL, NULL), -E2BIG);
    free(big);
    assert_int_equal(store_pending(fx->st), 0);
}

static void test_pending_accepts_are_capped_until_the_flush(void **state)
{
    struct fx *fx = *state;
    struct sg_err err;
    struct got g = {0};
    for (int i = 0; i < STORE_PENDING_MAX; i++) {
        struct store_accept a = accept_of("+33612345678", "x", STORE_PRIO_BULK, NULL, T0);
        assert_int_equal(store_accept_enqueue(fx->st, &a, on_accept, &g, &err), 0);
    }
    struct store_accept a = accept_of("+33612345678", "x", STORE_PRIO_BULK, NULL, T0);
    assert_int_equal(store_accept_enqueue(fx->st, &a, on_accept, &g, &err), -EBUSY);
    assert_int_equal(store_flush(fx->st, &err), STORE_PENDING_MAX);
    assert_int_equal(g.calls, STORE_PENDING_MAX);
    assert_int_equal(store_accept_enqueue(fx->st, &a, on_accept, &g, &err), 0);
    assert_int_equal(store_flush(fx->st, &err), 1);
}

static void test_close_with_pending_accepts_fails_them(void **state)
{
    struct fx *fx = *state;
    struct got g = {0};
    struct store_accept a = accept_of("+33612345678", "x", STORE_PRIO_OTP, NULL, T0);
    assert_int_equal(store_accept_enqueue(fx->st, &a, on_accept, &g, NULL), 0);
    store_close(fx->st);
    fx->st = NULL;
    assert_int_equal(g.calls, 1);
    assert_int_equal(g.r.rc, -ECANCELED);
}

/* ------------------------------------------------------------ transitions */

static void test_transition_from_wrong_state_is_stale(void **state)
{
    struct fx *fx = *state;
    struct sg_err err;
    int64_t id = add_msg(fx, STORE_PRIO_OTP, T0);
    struct store_transition t = {.id = id, .from = STORE_SENDING, .to = STORE_SENT, .now = T0,
                                 .mr = -1, .next_attempt_at = -1};
    assert_int_equal(store_transition(fx->st, &t, &err), -ESTALE);
    assert_non_null(strstr(err.msg, "is queued, not sending"));
    t.id = 999;
    assert_int_equal(store_transition(fx->st, &t, &err), -ENOENT);
    /* nothing written by either */
    assert_int_equal(sql_int(fx->dir, "SELECT COUNT(*) FROM message_history"), 1);
    assert_int_equal(sql_int(fx->dir, "SELECT COUNT(*) FROM events"), 1);
}

static void test_inner_rollback_dooms_the_outer_transaction(void **state)
{
    struct fx *fx = *state;
    struct sg_err err;
    int64_t id = add_msg(fx, STORE_PRIO_OTP, T0);
    assert_int_equal(store_begin(fx->st, &err), 0);
    struct store_transition t = {.id = id, .from = STORE_QUEUED, .to = STORE_SENDING, .now = T0,
                                 .mr = -1, .next_attempt_at = -1};
    assert_int_equal(store_transition(fx->st, &t, &err), 0);
    t.from = STORE_SENT;   /* fails inside, rolls back its level */
    assert_int_equal(store_transition(fx->st, &t, &err), -ESTALE);
    assert_int_equal(store_commit(fx->st, &err), -ECANCELED);
    struct store_msg *m = malloc(sizeof *m);
    assert_int_equal(store_msg_get(fx->st, id, m, &err), 0);
    assert_int_equal(m->state, STORE_QUEUED);   /* the first transition is gone too */
    free(m);
}

/* ------------------------------------------------------------ events */

struct evlog {
    int n;
    int64_t seq[8];
    char type[8][STORE_EVTYPE_MAX];
    int64_t msg[8];
};

static int collect_ev(void *ud, const struct store_event *e)
{
    struct evlog *l = ud;
    l->seq[l->n] = e->seq;
    snprintf(l->type[l->n], sizeof l->type[0], "%s", e->type);
    l->msg[l->n] = e->msg_id;
    l->n++;
    return 0;
}

static void test_events_cursor_pages_in_order_without_gaps(void **state)
{
    struct fx *fx = *state;
    struct sg_err err;
    int64_t last = -1;
    assert_int_equal(store_events_last_seq(fx->st, &last, &err), 0);
    assert_int_equal(last, 0);
    int64_t id = add_msg(fx, STORE_PRIO_OTP, T0);                     /* seq 1 */
    assert_int_equal(store_event_append(fx->st, "modem.state", 0, "{\"modem\":\"m1\"}", T0, &last,
                                        &err), 0);                    /* seq 2 */
    assert_int_equal(last, 2);
    assert_int_equal(store_event_append(fx->st, "inbound", 0, NULL, T0, NULL, &err), 0); /* 3 */
    assert_int_equal(store_event_append(fx->st, "", 0, NULL, T0, NULL, &err), -EINVAL);
    struct evlog l = {0};
    assert_int_equal(store_events_after(fx->st, 0, 2, collect_ev, &l, &err), 2);
    assert_int_equal(l.seq[0], 1);
    assert_string_equal(l.type[0], "message.state");
    assert_int_equal(l.msg[0], id);
    assert_string_equal(l.type[1], "modem.state");
    assert_int_equal(l.msg[1], 0);
    memset(&l, 0, sizeof l);
    assert_int_equal(store_events_after(fx->st, 2, 2, collect_ev, &l, &err), 1);
    assert_int_equal(l.seq[0], 3);
    assert_int_equal(store_events_after(fx->st, 3, 2, collect_ev, &l, &err), 0);
    assert_int_equal(store_events_last_seq(fx->st, &last, &err), 0);
    assert_int_equal(last, 3);
}

/* ------------------------------------------------------------ retention */

static void test_retention_purges_old_finished_rows_in_batches(void **state)
{
    struct fx *fx = *state;
    struct sg_err err;
    static const enum store_state done_path[] = {STORE_QUEUED, STORE_SENDING, STORE_SENT,
                                                 STORE_DELIVERED};
    static const enum store_state send_path[] = {STORE_QUEUED, STORE_SENDING};
    const sg_ms old = T0 - 40 * DAY, now = T0;
    /* 1,200 delivered long ago, in one transaction to keep the test fast */
    assert_int_equal(store_begin(fx->st, &err), 0);
    for (int i = 0; i < 1200; i++) {
        struct got g = {0};
        struct store_accept a = accept_of("+33612345678", "old", STORE_PRIO_BULK, NULL, old);
        assert_int_equal(store_accept_enqueue(fx->st, &a, on_accept, &g, NULL), 0);
        assert_int_equal(store_flush(fx->st, &err), 1);
        walk(fx, g.r.id, done_path, 4, old);
    }
    assert_int_equal(store_commit(fx->st, &err), 0);
    int64_t queued_old = add_msg(fx, STORE_PRIO_BULK, old);          /* still queued: kept */
    int64_t sending_old = add_msg(fx, STORE_PRIO_BULK, old);
    walk(fx, sending_old, send_path, 2, old);                        /* in flight: kept */
    int64_t fresh = add_msg(fx, STORE_PRIO_BULK, now - SEC);
    walk(fx, fresh, done_path, 4, now - SEC);                        /* too young: kept */
    /* an idempotency key is kept 24 h even with a shorter retention */
    struct got g = {0};
    struct store_accept a = accept_of("+33612345678", "k", STORE_PRIO_OTP, "key-1", now - 2 * 3600 * SEC);
    assert_int_equal(store_accept_enqueue(fx->st, &a, on_accept, &g, NULL), 0);
    assert_int_equal(store_flush(fx->st, &err), 1);
    walk(fx, g.r.id, done_path, 4, now - 2 * 3600 * SEC);

    const sg_ms max_age = 3600 * SEC;   /* one hour */
    int64_t events_before = sql_int(fx->dir, "SELECT COUNT(*) FROM events");
    /* 500 messages + 500 events per call; events go first in age order */
    assert_int_equal(store_purge(fx->st, now, max_age, 500, &err), 1000);
    assert_int_equal(sql_int(fx->dir, "SELECT COUNT(*) FROM messages"), 1200 - 500 + 4);
    assert_int_equal(store_purge(fx->st, now, max_age, 500, &err), 1000);
    int n, calls = 2;
    while ((n = store_purge(fx->st, now, max_age, 500, &err)) > 0)
        calls++;
    assert_int_equal(n, 0);
    assert_true(calls >= 4);
    assert_int_equal(sql_int(fx->dir, "SELECT COUNT(*) FROM messages"), 4);
    assert_int_equal(sql_int(fx->dir, "SELECT COUNT(*) FROM message_parts"), 4);   /* cascaded */
    assert_int_equal(sql_int(fx->dir,
                             "SELECT COUNT(*) FROM message_history WHERE msg_id NOT IN"
                             " (SELECT id FROM messages)"),
                     0);
    struct store_msg *m = malloc(sizeof *m);
    assert_int_equal(store_msg_get(fx->st, queued_old, m, &err), 0);
    assert_int_equal(store_msg_get(fx->st, sending_old, m, &err), 0);
    assert_int_equal(store_msg_get(fx->st, fresh, m, &err), 0);
    assert_int_equal(store_msg_get(fx->st, g.r.id, m, &err), 0);
    free(m);
    /* old events gone, the last hour's kept */
    int64_t events_after = sql_int(fx->dir, "SELECT COUNT(*) FROM events");
    assert_true(events_after < events_before);
    assert_int_equal(sql_int(fx->dir, "SELECT COUNT(*) FROM events WHERE at < 1763796400000"), 0);
    /* a day later the keyed one goes too */
    assert_int_equal(store_purge(fx->st, now + DAY, max_age, 500, &err) > 0, 1);
    assert_int_equal(store_msg_get(fx->st, g.r.id, m = malloc(sizeof *m), &err), -ENOENT);
    free(m);
}

/* ------------------------------------------------------------ due / timers */

static void test_due_and_timers_follow_priority_then_time(void **state)
{
    struct fx *fx = *state;
    struct sg_err err;
    int64_t bulk = add_msg(fx, STORE_PRIO_BULK, T0);
    int64_t normal = add_msg(fx, STORE_PRIO_NORMAL, T0 + 1);
    int64_t otp = add_msg(fx, STORE_PRIO_OTP, T0 + 2);
    int64_t later = add_msg(fx, STORE_PRIO_OTP, T0 + 3);
    assert_int_equal(store_msg_reschedule(fx->st, later, T0 + 60 * SEC, "rate", T0, &err), 0);
    int64_t ids[8];
    assert_int_equal(store_due(fx->st, T0 + 10, ids, 8, &err), 3);
    assert_int_equal(ids[0], otp);
    assert_int_equal(ids[1], normal);
    assert_int_equal(ids[2], bulk);
    assert_int_equal(store_due(fx->st, T0 + 61 * SEC, ids, 2, &err), 2);
    assert_int_equal(ids[0], otp);
    assert_int_equal(ids[1], later);
    sg_ms at;
    assert_int_equal(store_next_attempt_min(fx->st, &at, &err), 0);
    assert_int_equal(at, T0);
    assert_int_equal(store_expiry_min(fx->st, &at, &err), 0);
    assert_int_equal(at, T0 + 300 * SEC);
    int64_t counts[STORE_PRIO_COUNT];
    assert_int_equal(store_queued_counts(fx->st, counts, &err), 0);
    assert_int_equal(counts[STORE_PRIO_OTP], 2);
    assert_int_equal(counts[STORE_PRIO_URGENT], 0);
    assert_int_equal(store_expired(fx->st, T0 + 300 * SEC, ids, 8, &err), 1);
    assert_int_equal(ids[0], bulk);
}

static void test_empty_queue_has_no_wakeup(void **state)
{
    struct fx *fx = *state;
    sg_ms at = 0;
    assert_int_equal(store_next_attempt_min(fx->st, &at, NULL), 0);
    assert_int_equal(at, SG_MS_NEVER);
    assert_int_equal(store_expiry_min(fx->st, &at, NULL), 0);
    assert_int_equal(at, SG_MS_NEVER);
}

/* ------------------------------------------------------------ parts, SIMs, inbound */

struct mrhit {
    int n;
    int64_t msg;
    char to[STORE_TO_MAX];
};

static int on_mr(void *ud, const struct store_part *p, const char *to, enum store_state s)
{
    struct mrhit *h = ud;
    (void)s;
    h->n++;
    h->msg = p->msg_id;
    snprintf(h->to, sizeof h->to, "%s", to);
    return 0;
}

static void test_status_report_candidates_by_sim_and_mr(void **state)
{
    struct fx *fx = *state;
    struct sg_err err;
    int64_t a = add_msg(fx, STORE_PRIO_OTP, T0);
    int64_t b = add_msg(fx, STORE_PRIO_OTP, T0);
    struct store_part p;
    assert_int_equal(store_part_get(fx->st, a, 1, &p, &err), 0);
    assert_int_equal(p.mr, -1);
    snprintf(p.iccid, sizeof p.iccid, "8933011111111111111");
    p.mr = 17;
    p.sent_at = T0 + SEC;
    p.status = STORE_PART_SENT;
    assert_int_equal(store_part_update(fx->st, &p, &err), 0);
    assert_int_equal(store_part_get(fx->st, b, 1, &p, &err), 0);
    snprintf(p.iccid, sizeof p.iccid, "8933022222222222222");   /* other SIM, same MR */
    p.mr = 17;
    p.sent_at = T0 + SEC;
    assert_int_equal(store_part_update(fx->st, &p, &err), 0);
    struct mrhit h = {0};
    assert_int_equal(store_parts_by_mr(fx->st, "8933011111111111111", 17, T0, on_mr, &h, &err),
                     1);
    assert_int_equal(h.msg, a);
    assert_string_equal(h.to, "+33612345678");
    memset(&h, 0, sizeof h);
    assert_int_equal(store_parts_by_mr(fx->st, "8933011111111111111", 17, T0 + 2 * SEC, on_mr,
                                       &h, &err), 0);   /* outside the window */
    assert_int_equal(store_part_get(fx->st, a, 2, &p, &err), -ENOENT);
    assert_int_equal(store_parts_reset(fx->st, a, &err), 0);
    assert_int_equal(store_part_get(fx->st, a, 1, &p, &err), 0);
    assert_int_equal(p.mr, -1);
    assert_string_equal(p.iccid, "");
}

static int count_sim(void *ud, const struct store_sim *s)
{
    (void)s;
    (*(int *)ud)++;
    return 0;
}

static void test_sim_rows_round_trip(void **state)
{
    struct fx *fx = *state;
    struct sg_err err;
    struct store_sim s = {.day_key = 20251122, .sent_day = 41, .month_key = 202511,
                          .sent_month = 900, .consec_failures = 2, .breaker_state = 1,
                          .breaker_until = T0 + 30 * SEC, .last_used_at = T0};
    snprintf(s.iccid, sizeof s.iccid, "8933011111111111111");
    snprintf(s.label, sizeof s.label, "orange-1");
    assert_int_equal(store_sim_put(fx->st, &s, T0, &err), 0);
    s.sent_day = 42;
    assert_int_equal(store_sim_put(fx->st, &s, T0 + 1, &err), 0);
    struct store_sim got;
    assert_int_equal(store_sim_get(fx->st, "8933011111111111111", &got, &err), 0);
    assert_int_equal(got.sent_day, 42);
    assert_int_equal(got.sent_month, 900);
    assert_int_equal(got.breaker_until, T0 + 30 * SEC);
    assert_string_equal(got.label, "orange-1");
    assert_string_equal(got.imsi, "");
    assert_int_equal(got.updated_at, T0 + 1);
    assert_int_equal(store_sim_get(fx->st, "89", &got, &err), -ENOENT);
    int n = 0;
    assert_int_equal(store_sim_list(fx->st, count_sim, &n, &err), 1);
    assert_int_equal(n, 1);
}

static struct store_inbound in_part(const char *group, int seq, const char *text,
                                    const char *dedupe)
{
    struct store_inbound in;
    memset(&in, 0, sizeof in);
    snprintf(in.from, sizeof in.from, "+33699999999");
    snprintf(in.text, sizeof in.text, "%s", text);
    in.received_at = T0 + seq;
    in.concat_ref = group[0] ? 7 : -1;
    in.concat_total = group[0] ? 2 : 1;
    in.concat_seq = seq;
    snprintf(in.group, sizeof in.group, "%s", group);
    in.complete = group[0] ? STORE_IN_PART : STORE_IN_COMPLETE;
    snprintf(in.dedupe, sizeof in.dedupe, "%s", dedupe);
    return in;
}

static int count_in(void *ud, const struct store_inbound *in)
{
    (void)in;
    (*(int *)ud)++;
    return 0;
}

static int grab_group(void *ud, const char *g)
{
    snprintf(ud, STORE_GROUP_MAX, "%s", g);
    return 0;
}

static void test_inbound_duplicates_and_reassembly_bookkeeping(void **state)
{
    struct fx *fx = *state;
    struct sg_err err;
    int64_t id;
    struct store_inbound in = in_part("", 1, "STOP", "d-single");
    assert_int_equal(store_inbound_add(fx->st, &in, "{\"text\":\"STOP\"}", T0, &id, &err), 0);
    /* the network re-delivers the same SMS: recognised, not stored, no event */
    assert_int_equal(store_inbound_add(fx->st, &in, "{}", T0, NULL, &err), -EEXIST);
    assert_int_equal(sql_int(fx->dir, "SELECT COUNT(*) FROM events WHERE type='inbound'"), 1);
    struct store_inbound p1 = in_part("+33699999999/7/2", 1, "Hello ", "d-p1");
    struct store_inbound p2 = in_part("+33699999999/7/2", 2, "world", "d-p2");
    assert_int_equal(store_inbound_add(fx->st, &p2, NULL, T0, NULL, &err), 0);
    assert_int_equal(store_inbound_add(fx->st, &p1, NULL, T0, NULL, &err), 0);
    int n = 0;
    assert_int_equal(store_inbound_group(fx->st, "+33699999999/7/2", count_in, &n, &err), 2);
    n = 0;
    assert_int_equal(store_inbound_list(fx->st, 0, 0, 10, count_in, &n, &err), 1);   /* parts hidden */
    char g[STORE_GROUP_MAX] = "";
    assert_int_equal(store_inbound_stale_groups(fx->st, T0 + 60 * SEC, grab_group, g, &err), 1);
    assert_string_equal(g, "+33699999999/7/2");
    struct store_inbound whole = in_part("+33699999999/7/2", 1, "Hello world", "");
    assert_int_equal(store_inbound_assemble(fx->st, g, &whole, "{}", T0, &id, &err), 0);
    n = 0;
    assert_int_equal(store_inbound_list(fx->st, 0, 0, 10, count_in, &n, &err), 2);
    assert_int_equal(store_inbound_group(fx->st, g, count_in, &n, &err), 0);
    /* a lone part given up on after the timeout */
    struct store_inbound lone = in_part("+33611111111/9/3", 2, "part", "d-lone");
    assert_int_equal(store_inbound_add(fx->st, &lone, NULL, T0, &id, &err), 0);
    assert_int_equal(store_inbound_release(fx->st, id, "{}", T0, &err), 0);
    assert_int_equal(store_inbound_release(fx->st, id, "{}", T0, &err), -ENOENT);
    assert_int_equal(sql_int(fx->dir, "SELECT COUNT(*) FROM events WHERE type='inbound'"), 3);
    /* each inbound event names its row */
    assert_int_equal(sql_int(fx->dir, "SELECT COUNT(*) FROM events WHERE type='inbound' AND"
                                      " json_extract(payload, '$.id') IN (SELECT id FROM inbound"
                                      " WHERE complete = 1)"),
                     3);
    assert_int_equal(sql_int(fx->dir, "SELECT json_extract(payload, '$.text') = 'STOP' FROM events"
                                      " WHERE type='inbound' ORDER BY seq LIMIT 1"),
                     1);   /* the caller's fields are kept */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fresh_dir_gets_schema_and_reopen_keeps_it, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_durability_pragmas_in_effect, setup, teardown),
        cmocka_unit_test_setup_teardown(test_database_from_newer_simgated_is_refused, setup,
                                        teardown),
        cmocka_unit_test(test_missing_state_dir_is_an_error),
        cmocka_unit_test_setup_teardown(test_group_commit_of_many_accepts_is_one_transaction,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_failed_commit_answers_every_accept_and_loses_nothing_older, setup, teardown),
        cmocka_unit_test_setup_teardown(test_accept_over_caps_is_refused_before_queueing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_pending_accepts_are_capped_until_the_flush, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_close_with_pending_accepts_fails_them, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_transition_from_wrong_state_is_stale, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_inner_rollback_dooms_the_outer_transaction, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_events_cursor_pages_in_order_without_gaps, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_retention_purges_old_finished_rows_in_batches, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_due_and_timers_follow_priority_then_time, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_empty_queue_has_no_wakeup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_report_candidates_by_sim_and_mr, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sim_rows_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inbound_duplicates_and_reassembly_bookkeeping, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
