/*
 * firmware/queue on a real store in a mkdtemp directory, fake wall clock:
 * submit validation and the stored PDUs (checked by decoding them back),
 * idempotency keys, the lifecycle table and real flows through it with
 * their history rows and events, TTL expiry, priority order behind 10,000
 * bulk, crash recovery rules, cancel rules, and the Nth-sqlite-call fault
 * test over an accept + transitions scenario.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "drivers/gsm/pdu.h"
#include "firmware/queue.h"
#include "firmware/store.h"

#define T0 1763800000000LL
#define SEC 1000LL
#define DAY (86400LL * SEC)
#define TO "+33612345678"

struct fx {
    char dir[64];
    struct store *st;
    struct queue *q;
    struct queue_opts o;
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

static void fx_open(struct fx *fx)
{
    struct sg_err err;
    assert_int_equal(store_open(&fx->st, fx->dir, NULL, &err), 0);
    assert_int_equal(queue_open(&fx->q, fx->st, &fx->o, &err), 0);
}

static void fx_close(struct fx *fx)
{
    queue_close(fx->q);
    store_close(fx->st);
    fx->q = NULL;
    fx->st = NULL;
}

static struct fx *fx_new(void)
{
    struct fx *fx = calloc(1, sizeof *fx);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/sg-queue-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    snprintf(fx->o.default_cc, sizeof fx->o.default_cc, "33");
    fx->o.validity_from_ttl = true;
    fx_open(fx);
    return fx;
}

static void fx_free(struct fx *fx)
{
    fx_close(fx);
    rm_dir(fx->dir);
    free(fx);
}

static int setup(void **state)
{
    *state = fx_new();
    return 0;
}

static int teardown(void **state)
{
    fx_free(*state);
    return 0;
}

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

/* ------------------------------------------------------------ helpers */

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

static struct queue_submit sub(const char *to, const char *text, enum store_prio p)
{
    struct queue_submit s = {.to = to, .text = text, .text_len = strlen(text), .prio = p};
    return s;
}

/* Submits and group-commits one message; returns its id. */
static int64_t submit(struct fx *fx, const struct queue_submit *s, sg_ms now)
{
    struct got g = {0};
    struct sg_err err;
    const char *field = NULL;
    assert_int_equal(queue_submit(fx->q, s, now, on_accept, &g, &field, &err), 0);
    assert_true(queue_flush(fx->q, &err) >= 0);
    assert_int_equal(g.calls, 1);
    assert_int_equal(g.r.rc, 0);
    return g.r.id;
}

static int64_t submit_simple(struct fx *fx, const char *text, enum store_prio p, sg_ms now)
{
    struct queue_submit s = sub(TO, text, p);
    return submit(fx, &s, now);
}

static enum store_state state_of(struct fx *fx, int64_t id)
{
    struct store_msg *m = malloc(sizeof *m);
    assert_int_equal(store_msg_get(fx->st, id, m, NULL), 0);
    enum store_state s = m->state;
    free(m);
    return s;
}

struct path {
    int n;
    enum store_state to[16];
    char cause[16][STORE_CAUSE_MAX];
};

static int on_hist(void *ud, const struct store_hist *h)
{
    struct path *p = ud;
    if (p->n < 16) {
        p->to[p->n] = h->to;
        snprintf(p->cause[p->n], sizeof p->cause[0], "%s", h->cause);
    }
    p->n++;
    return 0;
}

struct evs {
    int64_t msg;
    int64_t after;
    int n;
    char last[512];
};

static int on_ev(void *ud, const struct store_event *e)
{
    struct evs *v = ud;
    v->after = e->seq;
    if (e->msg_id == v->msg && strcmp(e->type, "message.state") == 0) {
        v->n++;
        snprintf(v->last, sizeof v->last, "%s", e->json);
    }
    return 0;
}

static struct evs events_of(struct fx *fx, int64_t id)
{
    struct evs v = {.msg = id};
    int n;
    struct sg_err err;
    /* page through the whole log with the cursor, as the API does */
    while ((n = store_events_after(fx->st, v.after, 100, on_ev, &v, &err)) > 0)
        ;
    assert_int_equal(n, 0);
    return v;
}

/* Every message's state is its last history row's; one event per history
 * row; parts complete. What a torn write would break. */
static void assert_consistent(struct fx *fx)
{
    assert_int_equal(sql_int(fx->dir,
                             "SELECT COUNT(*) FROM messages m WHERE m.state IS NOT"
                             " (SELECT to_state FROM message_history h WHERE h.msg_id = m.id"
                             " ORDER BY h.id DESC LIMIT 1)"),
                     0);
    assert_int_equal(sql_int(fx->dir, "SELECT COUNT(*) FROM message_history"),
                     sql_int(fx->dir, "SELECT COUNT(*) FROM events WHERE type='message.state'"));
    assert_int_equal(sql_int(fx->dir,
                             "SELECT COUNT(*) FROM messages m WHERE parts !="
                             " (SELECT COUNT(*) FROM message_parts p WHERE p.msg_id = m.id)"),
                     0);
}

/* ------------------------------------------------------------ submit */

static void test_submit_stores_decodable_pdus_history_and_event(void **state)
{
    struct fx *fx = *state;
    struct sg_err err;
    /* 200 GSM-7 characters: two parts, national number form */
    char text[201];
    memset(text, 'a', 200);
    text[200] = '\0';
    struct queue_submit s = sub("06 12 34 56 78", text, STORE_PRIO_OTP);
    s.status_report = true;
    int64_t id = submit(fx, &s, T0);
    struct store_msg *m = malloc(sizeof *m);
    assert_int_equal(store_msg_get(fx->st, id, m, &err), 0);
    assert_string_equal(m->to, TO);
    assert_string_equal(m->text, text);
    assert_string_equal(m->encoding, "gsm7");
    assert_int_equal(m->parts, 2);
    assert_int_equal(m->state, STORE_QUEUED);
    assert_int_equal(m->ttl_ms, 300 * SEC);
    assert_int_equal(m->expires_at, T0 + 300 * SEC);
    assert_int_equal(m->next_attempt_at, T0);
    assert_true(m->status_report);
    free(m);
    for (int seq = 1; seq <= 2; seq++) {
        struct store_part p;
        struct pdu_decoded d;
        assert_int_equal(store_part_get(fx->st, id, seq, &p, &err), 0);
        assert_int_equal(p.status, STORE_PART_PENDING);
        assert_int_equal(pdu_decode_hex(p.pdu, strlen(p.pdu), PDU_DIR_OUT, p.tpdu_len, &d, &err),
                         0);
        assert_int_equal(d.type, PDU_SUBMIT);
        assert_string_equal(d.number, TO);
        assert_true(d.srr);
        assert_int_equal(d.vp_min, 5);   /* TP-VP from the 5-minute OTP TTL */
        assert_true(d.udh.concat);
        assert_int_equal(d.udh.total, 2);
        assert_int_equal(d.udh.seq, seq);
    }
    struct path h = {0};
    assert_int_equal(store_history(fx->st, id, on_hist, &h, &err), 1);
    assert_int_equal(h.to[0], STORE_QUEUED);
    struct evs v = events_of(fx, id);
    assert_int_equal(v.n, 1);
    assert_non_null(strstr(v.last, "\"status\":\"queued\""));
    assert_non_null(strstr(v.last, "\"parts\":2"));
}

static void test_submit_validation_names_the_field(void **state)
{
    static char eleven_parts[11 * 153 + 2];
    static char long_key[STORE_IDEM_KEY_MAX + 2];
    memset(eleven_parts, 'x', sizeof eleven_parts - 1);
    memset(long_key, 'k', sizeof long_key - 1);
    static const struct {
        const char *name;
        const char *to;
        const char *text;
        size_t text_len;   /* 0 = strlen */
        int prio;
        sg_ms ttl;
        const char *key;
        int want;
        const char *field;
    } cases[] = {
        {"letters in the number", "+33abc", "hi", 0, 0, 0, NULL, -EINVAL, "to"},
        {"AT command in the number", "+336\r\nAT+CFUN=0", "hi", 0, 0, 0, NULL, -EINVAL, "to"},
        {"empty number", "", "hi", 0, 0, 0, NULL, -EINVAL, "to"},
        {"priority out of range", TO, "hi", 0, 4, 0, NULL, -EINVAL, "priority"},
        {"ttl over 7 days", TO, "hi", 0, 0, 8 * DAY, NULL, -EINVAL, "ttl"},
        {"ttl under a second", TO, "hi", 0, 0, 500, NULL, -EINVAL, "ttl"},
        {"negative ttl", TO, "hi", 0, 0, -5 * SEC, NULL, -EINVAL, "ttl"},
        {"text needing 11 parts", TO, eleven_parts, 0, 3, 0, NULL, -E2BIG, "text"},
        {"invalid UTF-8", TO, "caf\xc3", 0, 0, 0, NULL, -EILSEQ, "text"},
        {"NUL inside the text", TO, "a\0b", 3, 0, 0, NULL, -EINVAL, "text"},
        {"key with a space", TO, "hi", 0, 0, 0, "my key", -EINVAL, "idempotency_key"},
        {"key with a newline", TO, "hi", 0, 0, 0, "k\n", -EINVAL, "idempotency_key"},
        {"key over 128 characters", TO, "hi", 0, 0, 0, long_key, -EINVAL, "idempotency_key"},
    };
    struct fx *fx = *state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct queue_submit s = {
            .to = cases[i].to,
            .text = cases[i].text,
            .text_len = cases[i].text_len ? cases[i].text_len : strlen(cases[i].text),
            .prio = (enum store_prio)cases[i].prio,
            .ttl_ms = cases[i].ttl,
            .idem_key = cases[i].key,
        };
        const char *field = NULL;
        struct sg_err err;
        struct got g = {0};
        int rc = queue_submit(fx->q, &s, T0, on_accept, &g, &field, &err);
        if (rc != cases[i].want || !field || strcmp(field, cases[i].field) != 0)
            fail_msg("%s: rc %d field %s (%s)", cases[i].name, rc, field ? field : "-", err.msg);
        assert_int_equal(g.calls, 0);
    }
    assert_int_equal(store_pending(fx->st), 0);
    assert_int_equal(sql_int(fx->dir, "SELECT COUNT(*) FROM messages"), 0);
}

static void test_unicode_text_is_ucs2_and_empty_text_is_one_part(void **state)
{
    struct fx *fx = *state;
    struct store_msg *m = malloc(sizeof *m);
    int64_t id = submit_simple(fx, "Код: 4711", STORE_PRIO_OTP, T0);
    assert_int_equal(store_msg_get(fx->st, id, m, NULL), 0);
    assert_string_equal(m->encoding, "ucs2");
    assert_int_equal(m->parts, 1);
    id = submit_simple(fx, "", STORE_PRIO_NORMAL, T0);
    assert_int_equal(store_msg_get(fx->st, id, m, NULL), 0);
    assert_int_equal(m->parts, 1);
    free(m);
}

/* ------------------------------------------------------------ idempotency */

static void test_idempotency_same_key_same_or_other_parameters(void **state)
{
    struct fx *fx = *state;
    struct sg_err err;
    struct queue_submit a = sub(TO, "Your code is 1234", STORE_PRIO_OTP);
    a.idem_key = "order-42";
    /* first, and a retry of it in the same group commit */
    struct got g1 = {0}, g2 = {0}, g3 = {0}, g4 = {0};
    assert_int_equal(queue_submit(fx->q, &a, T0, on_accept, &g1, NULL, &err), 0);
    struct queue_submit same = a;
    same.to = "0612345678";   /* same number in national form: same parameters */
    assert_int_equal(queue_submit(fx->q, &same, T0 + 1, on_accept, &g2, NULL, &err), 0);
    struct queue_submit other = a;
    other.text = "Your code is 9999";
    other.text_len = strlen(other.text);
    assert_int_equal(queue_submit(fx->q, &other, T0 + 2, on_accept, &g3, NULL, &err), 0);
    assert_int_equal(queue_flush(fx->q, &err), 1);   /* one new message */
    assert_int_equal(g1.r.rc, 0);
    assert_false(g1.r.replay);
    assert_int_equal(g2.r.rc, 0);
    assert_true(g2.r.replay);
    assert_int_equal(g2.r.id, g1.r.id);
    assert_int_equal(g2.r.parts, 1);
    assert_string_equal(g2.r.encoding, "gsm7");
    assert_int_equal(g3.r.rc, -EEXIST);
    assert_non_null(strstr(g3.r.err.msg, "other parameters"));
    /* in a later batch, after the message moved on: the original, as it is now */
    struct queue_via via = {.modem = "m1", .iccid = "8933011111111111111"};
    assert_int_equal(queue_mark_sending(fx->q, g1.r.id, &via, T0 + 10, &err), 0);
    assert_int_equal(queue_submit(fx->q, &a, T0 + 3600 * SEC, on_accept, &g4, NULL, &err), 0);
    assert_int_equal(queue_flush(fx->q, &err), 0);
    assert_true(g4.r.replay);
    assert_int_equal(g4.r.id, g1.r.id);
    assert_int_equal(g4.r.state, STORE_SENDING);
    /* priority and ttl are parameters too */
    struct queue_submit urgent = a;
    urgent.prio = STORE_PRIO_URGENT;
    assert_int_equal(queue_submit(fx->q, &urgent, T0 + 5, on_accept, &g4, NULL, &err), 0);
    queue_flush(fx->q, &err);
    assert_int_equal(g4.r.rc, -EEXIST);
    assert_int_equal(sql_int(fx->dir, "SELECT COUNT(*) FROM messages"), 1);
}

static void test_idempotency_replay_survives_a_changed_default_ttl(void **state)
{
    struct fx *fx = *state;
    struct queue_submit a = sub(TO, "Your code is 1234", STORE_PRIO_OTP);
    a.idem_key = "order-43";
    int64_t id = submit(fx, &a, T0);
    fx_close(fx);
    fx->o.ttl_default_ms[STORE_PRIO_OTP] = 120 * SEC;   /* operator edits the config */
    fx_open(fx);
    struct got g = {0};
    struct sg_err err;
    assert_int_equal(queue_submit(fx->q, &a, T0 + 5 * SEC, on_accept, &g, NULL, &err), 0);
    assert_int_equal(queue_flush(fx->q, &err), 0);
    assert_int_equal(g.r.rc, 0);
    assert_true(g.r.replay);
    assert_int_equal(g.r.id, id);
}

static void test_idempotency_key_kept_a_day_then_reusable(void **state)
{
    struct fx *fx = *state;
    struct sg_err err;
    struct queue_submit a = sub(TO, "hello", STORE_PRIO_NORMAL);
    a.idem_key = "k-1";
    int64_t id = submit(fx, &a, T0);
    assert_int_equal(queue_cancel(fx->q, id, NULL, T0 + SEC, &err), 0);
    /* retention of one hour does not drop a key younger than 24 h */
    assert_int_equal(store_purge(fx->st, T0 + 23 * 3600 * SEC, 3600 * SEC, 500, &err) >= 0, 1);
    struct queue_submit b = a;
    b.text = "other";
    b.text_len = 5;
    struct got g = {0};
    assert_int_equal(queue_submit(fx->q, &b, T0 + 23 * 3600 * SEC, on_accept, &g, NULL, &err), 0);
    queue_flush(fx->q, &err);
    assert_int_equal(g.r.rc, -EEXIST);
    /* after a day and a purge the key is free again */
    assert_true(store_purge(fx->st, T0 + DAY + SEC, 3600 * SEC, 500, &err) > 0);
    int64_t id2 = submit(fx, &b, T0 + DAY + 2 * SEC);
    assert_true(id2 != id);
}

/* ------------------------------------------------------------ lifecycle */

static void test_transition_table(void **state)
{
    (void)state;
    /* rows: from; columns: to, in enum order
     * (queued sending sent delivered undelivered failed expired canceled unknown) */
    static const char *const allowed[STORE_STATE_COUNT] = {
        [STORE_QUEUED] = "010001110",   [STORE_SENDING] = "101001001",
        [STORE_SENT] = "000110000",     [STORE_DELIVERED] = "000000000",
        [STORE_UNDELIVERED] = "000000000", [STORE_FAILED] = "000000000",
        [STORE_EXPIRED] = "000000000",  [STORE_CANCELED] = "000000000",
        [STORE_UNKNOWN] = "000110000",
    };
    for (int f = 0; f < STORE_STATE_COUNT; f++)
        for (int t = 0; t < STORE_STATE_COUNT; t++)
            if (queue_transition_allowed((enum store_state)f, (enum store_state)t) !=
                (allowed[f][t] == '1'))
                fail_msg("%s -> %s", store_state_name((enum store_state)f),
                         store_state_name((enum store_state)t));
}

enum op_kind {
    OP_END = 0,
    OP_SENDING,
    OP_SENT,
    OP_RETRY,
    OP_FAIL,
    OP_GIVE_UP,
    OP_UNKNOWN,
    OP_DLR,
    OP_CANCEL
};

struct op {
    enum op_kind k;
    int seq;    /* part for SENT / DLR */
    int arg;    /* MR for SENT, TP-ST for DLR */
    int want;   /* return value */
};

#define MAXOPS 8
struct flow_case {
    const char *name;
    int nparts;
    struct op ops[MAXOPS];
    enum store_state path[MAXOPS + 2];   /* expected history, ends at the first repeat of QUEUED after index 0... */
    int npath;
    int attempts;
};

static const struct flow_case flows[] = {
    {"OTP, one part, delivered", 1,
     {{OP_SENDING, 0, 0, 0}, {OP_SENT, 1, 5, 1}, {OP_DLR, 1, 0x00, STORE_DELIVERED}},
     {STORE_QUEUED, STORE_SENDING, STORE_SENT, STORE_DELIVERED}, 4, 1},
    {"two parts, reports in reverse order", 2,
     {{OP_SENDING, 0, 0, 0}, {OP_SENT, 1, 6, 0}, {OP_SENT, 2, 7, 1},
      {OP_DLR, 2, 0x00, STORE_SENT}, {OP_DLR, 1, 0x00, STORE_DELIVERED}},
     {STORE_QUEUED, STORE_SENDING, STORE_SENT, STORE_DELIVERED}, 4, 1},
    {"report for part 1 overtakes the +CMGS of part 2", 2,
     {{OP_SENDING, 0, 0, 0}, {OP_SENT, 1, 6, 0}, {OP_DLR, 1, 0x00, STORE_SENDING},
      {OP_SENT, 2, 7, 1}, {OP_DLR, 2, 0x00, STORE_DELIVERED}},
     {STORE_QUEUED, STORE_SENDING, STORE_SENT, STORE_DELIVERED}, 4, 1},
    {"permanent TP-ST 0x41 (incompatible destination)", 1,
     {{OP_SENDING, 0, 0, 0}, {OP_SENT, 1, 9, 1}, {OP_DLR, 1, 0x41, STORE_UNDELIVERED}},
     {STORE_QUEUED, STORE_SENDING, STORE_SENT, STORE_UNDELIVERED}, 4, 1},
    {"TP-ST 0x30 (SMSC still trying) keeps it sent, then delivered", 1,
     {{OP_SENDING, 0, 0, 0}, {OP_SENT, 1, 9, 1}, {OP_DLR, 1, 0x30, STORE_SENT},
      {OP_DLR, 1, 0x00, STORE_DELIVERED}},
     {STORE_QUEUED, STORE_SENDING, STORE_SENT, STORE_DELIVERED}, 4, 1},
    {"retry later after +CMS ERROR 42, then sent", 1,
     {{OP_SENDING, 0, 0, 0}, {OP_RETRY, 0, 0, 0}, {OP_SENDING, 0, 0, 0}, {OP_SENT, 1, 3, 1}},
     {STORE_QUEUED, STORE_SENDING, STORE_QUEUED, STORE_SENDING, STORE_SENT}, 5, 2},
    {"permanent +CMS ERROR fails at once", 1,
     {{OP_SENDING, 0, 0, 0}, {OP_FAIL, 0, 0, 0}},
     {STORE_QUEUED, STORE_SENDING, STORE_FAILED}, 3, 1},
    {"timeout after the PDU was written, late report proves delivery", 1,
     {{OP_SENDING, 0, 0, 0}, {OP_UNKNOWN, 0, 0, 0}, {OP_SENT, 1, 11, 0},
      {OP_DLR, 1, 0x00, STORE_DELIVERED}},
     {STORE_QUEUED, STORE_SENDING, STORE_UNKNOWN, STORE_DELIVERED}, 4, 1},
    {"cancel before hand-over", 1, {{OP_CANCEL, 0, 0, 0}},
     {STORE_QUEUED, STORE_CANCELED}, 2, 0},
    {"cancel twice is not an error", 1, {{OP_CANCEL, 0, 0, 0}, {OP_CANCEL, 0, 0, 0}},
     {STORE_QUEUED, STORE_CANCELED}, 2, 0},
    {"cancel once sending is too late", 1, {{OP_SENDING, 0, 0, 0}, {OP_CANCEL, 0, 0, -EALREADY}},
     {STORE_QUEUED, STORE_SENDING}, 2, 1},
    {"cancel a delivered message is too late", 1,
     {{OP_SENDING, 0, 0, 0}, {OP_SENT, 1, 1, 1}, {OP_DLR, 1, 0, STORE_DELIVERED},
      {OP_CANCEL, 0, 0, -EALREADY}},
     {STORE_QUEUED, STORE_SENDING, STORE_SENT, STORE_DELIVERED}, 4, 1},
    {"attempt cap reached while queued: failed without another attempt", 1,
     {{OP_GIVE_UP, 0, 0, 0}}, {STORE_QUEUED, STORE_FAILED}, 2, 0},
    {"forbidden: giving up on a sent message", 1,
     {{OP_SENDING, 0, 0, 0}, {OP_SENT, 1, 2, 1}, {OP_GIVE_UP, 0, 0, -EPERM}},
     {STORE_QUEUED, STORE_SENDING, STORE_SENT}, 3, 1},
    {"forbidden: queued -> unknown", 1, {{OP_UNKNOWN, 0, 0, -EPERM}}, {STORE_QUEUED}, 1, 0},
    {"forbidden: queued -> queued (retry of a message not sending)", 1,
     {{OP_RETRY, 0, 0, -EPERM}}, {STORE_QUEUED}, 1, 0},
    {"forbidden: handing out a message twice", 1,
     {{OP_SENDING, 0, 0, 0}, {OP_SENDING, 0, 0, -ESTALE}}, {STORE_QUEUED, STORE_SENDING}, 2, 1},
    {"forbidden: failed -> queued", 1,
     {{OP_SENDING, 0, 0, 0}, {OP_FAIL, 0, 0, 0}, {OP_RETRY, 0, 0, -EPERM}},
     {STORE_QUEUED, STORE_SENDING, STORE_FAILED}, 3, 1},
    {"a report for a queued message changes nothing", 1, {{OP_DLR, 1, 0x00, STORE_QUEUED}},
     {STORE_QUEUED}, 1, 0},
};

static int run_op(struct fx *fx, int64_t id, const struct op *o, sg_ms now, struct sg_err *err)
{
    struct queue_via via = {.modem = "m1", .iccid = "8933011111111111111"};
    switch (o->k) {
    case OP_SENDING: return queue_mark_sending(fx->q, id, &via, now, err);
    case OP_SENT: return queue_part_sent(fx->q, id, o->seq, &via, o->arg, now, err);
    case OP_RETRY: return queue_send_failed(fx->q, id, &via, now + SEC, "+CMS ERROR: 42", now, err);
    case OP_FAIL: return queue_send_failed(fx->q, id, &via, -1, "+CMS ERROR: 21", now, err);
    case OP_GIVE_UP: return queue_fail(fx->q, id, "attempt cap reached", now, err);
    case OP_UNKNOWN: return queue_mark_unknown(fx->q, id, "no +CMGS within 60 s", now, err);
    case OP_DLR: return queue_part_dlr(fx->q, id, o->seq, (uint8_t)o->arg, now, err);
    case OP_CANCEL: return queue_cancel(fx->q, id, NULL, now, err);
    case OP_END: break;
    }
    return -EINVAL;
}

static void test_lifecycle_flows_write_history_and_events(void **state)
{
    struct fx *fx = *state;
    char two_parts[201];
    memset(two_parts, 'b', 200);
    two_parts[200] = '\0';
    for (size_t c = 0; c < sizeof flows / sizeof flows[0]; c++) {
        const struct flow_case *fc = &flows[c];
        sg_ms now = T0 + (sg_ms)c * 100 * SEC;
        int64_t id = submit_simple(fx, fc->nparts == 2 ? two_parts : "hi", STORE_PRIO_URGENT, now);
        for (int i = 0; i < MAXOPS && fc->ops[i].k != OP_END; i++) {
            struct sg_err err;
            sg_err_clear(&err);
            now += 2 * SEC;
            int rc = run_op(fx, id, &fc->ops[i], now, &err);
            if (rc != fc->ops[i].want)
                fail_msg("%s: op %d returned %d, want %d (%s)", fc->name, i, rc, fc->ops[i].want,
                         err.msg);
        }
        struct path h = {0};
        int nh = store_history(fx->st, id, on_hist, &h, NULL);
        assert_int_equal(nh, h.n);
        if (h.n != fc->npath)
            fail_msg("%s: %d history rows, want %d", fc->name, h.n, fc->npath);
        for (int i = 0; i < fc->npath; i++)
            if (h.to[i] != fc->path[i])
                fail_msg("%s: history %d is %s, want %s", fc->name, i, store_state_name(h.to[i]),
                         store_state_name(fc->path[i]));
        enum store_state last = fc->path[fc->npath - 1];
        assert_int_equal(state_of(fx, id), last);
        struct evs v = events_of(fx, id);
        if (v.n != fc->npath)
            fail_msg("%s: %d events, want %d", fc->name, v.n, fc->npath);
        char want[48];
        snprintf(want, sizeof want, "\"status\":\"%s\"", store_state_name(last));
        if (!strstr(v.last, want))
            fail_msg("%s: last event %s", fc->name, v.last);
        struct store_msg *m = malloc(sizeof *m);
        assert_int_equal(store_msg_get(fx->st, id, m, NULL), 0);
        if (m->attempts != fc->attempts)
            fail_msg("%s: attempts %d, want %d", fc->name, m->attempts, fc->attempts);
        free(m);
    }
    assert_consistent(fx);
}

static void test_undelivered_cause_and_retry_resets_parts(void **state)
{
    struct fx *fx = *state;
    struct sg_err err;
    struct queue_via via = {.modem = "m2", .iccid = "8933022222222222222"};
    int64_t id = submit_simple(fx, "hi", STORE_PRIO_NORMAL, T0);
    assert_int_equal(queue_mark_sending(fx->q, id, &via, T0 + 1, &err), 0);
    assert_int_equal(queue_part_sent(fx->q, id, 1, &via, 200, T0 + 2, &err), 1);
    struct store_part p;
    assert_int_equal(store_part_get(fx->st, id, 1, &p, &err), 0);
    assert_int_equal(p.mr, 200);
    assert_string_equal(p.iccid, "8933022222222222222");
    assert_string_equal(p.modem, "m2");
    assert_int_equal(p.sent_at, T0 + 2);
    assert_int_equal(queue_part_dlr(fx->q, id, 1, 0x62, T0 + 3, &err), STORE_UNDELIVERED);
    struct path h = {0};
    store_history(fx->st, id, on_hist, &h, &err);
    assert_string_equal(h.cause[h.n - 1], "tp-st=0x62 stopped");
    struct store_msg *m = malloc(sizeof *m);
    assert_int_equal(store_msg_get(fx->st, id, m, &err), 0);
    assert_string_equal(m->modem, "m2");
    assert_string_equal(m->iccid, "8933022222222222222");
    assert_string_equal(m->last_error, "tp-st=0x62 stopped");
    free(m);
    /* a retry forgets the MR of the failed attempt and waits until retry_at */
    int64_t id3 = submit_simple(fx, "hello there", STORE_PRIO_NORMAL, T0);
    assert_int_equal(queue_mark_sending(fx->q, id3, &via, T0 + 1, &err), 0);
    assert_int_equal(queue_send_failed(fx->q, id3, &via, T0 + 90 * SEC, "+CMS ERROR: 38", T0 + 2,
                                       &err), 0);
    assert_int_equal(store_part_get(fx->st, id3, 1, &p, &err), 0);
    assert_int_equal(p.mr, -1);
    assert_int_equal(p.status, STORE_PART_PENDING);
    struct store_msg out;
    memset(&out, 0, sizeof out);
    assert_int_equal(queue_next_due(fx->q, T0 + 89 * SEC, &out, &err), 0);
    sg_ms at;
    assert_int_equal(queue_next_wakeup(fx->q, &at, &err), 0);
    assert_int_equal(at, T0 + 90 * SEC);
    assert_int_equal(queue_next_due(fx->q, T0 + 90 * SEC, &out, &err), 1);
    assert_int_equal(out.id, id3);
    assert_string_equal(out.last_error, "+CMS ERROR: 38");
}

/* ------------------------------------------------------------ TTL */

static void test_expired_otp_is_never_handed_out(void **state)
{
    struct fx *fx = *state;
    struct sg_err err;
    int64_t otp = submit_simple(fx, "code 1234", STORE_PRIO_OTP, T0);
    int64_t bulk = submit_simple(fx, "newsletter", STORE_PRIO_BULK, T0);
    sg_ms at;
    assert_int_equal(queue_next_wakeup(fx->q, &at, &err), 0);
    assert_int_equal(at, T0);   /* both due now */
    struct store_msg *m = malloc(sizeof *m);
    /* at T0 + 300 s the OTP's TTL has passed: the bulk comes out, the OTP is expired */
    assert_int_equal(queue_next_due(fx->q, T0 + 300 * SEC, m, &err), 1);
    assert_int_equal(m->id, bulk);
    assert_int_equal(state_of(fx, otp), STORE_EXPIRED);
    struct queue_via via = {.modem = "m1", .iccid = "1"};
    assert_int_equal(queue_mark_sending(fx->q, bulk, &via, T0 + 300 * SEC, &err), 0);
    struct path h = {0};
    store_history(fx->st, otp, on_hist, &h, &err);
    assert_int_equal(h.n, 2);
    assert_string_equal(h.cause[1], "ttl passed before sending");
    assert_int_equal(events_of(fx, otp).n, 2);
    /* an OTP that expires between "due" and "mark sending" is refused too */
    int64_t otp2 = submit_simple(fx, "code 5678", STORE_PRIO_OTP, T0 + 1000 * SEC);
    assert_int_equal(queue_mark_sending(fx->q, otp2, &via, T0 + 1300 * SEC, &err), -ETIME);
    assert_int_equal(state_of(fx, otp2), STORE_EXPIRED);
    /* a requested TTL wins over the priority default */
    struct queue_submit s = sub(TO, "short", STORE_PRIO_BULK);
    s.ttl_ms = 10 * SEC;
    int64_t shortl = submit(fx, &s, T0 + 2000 * SEC);
    assert_int_equal(store_msg_get(fx->st, shortl, m, &err), 0);
    assert_int_equal(m->expires_at, T0 + 2010 * SEC);
    assert_int_equal(queue_next_wakeup(fx->q, &at, &err), 0);
    assert_int_equal(at, T0 + 2000 * SEC);   /* due at once */
    assert_int_equal(queue_expire(fx->q, T0 + 2009 * SEC, &err), 0);
    assert_int_equal(queue_expire(fx->q, T0 + 2010 * SEC, &err), 1);
    assert_int_equal(queue_next_wakeup(fx->q, &at, &err), 0);
    assert_int_equal(at, SG_MS_NEVER);
    free(m);
    assert_consistent(fx);
}

/* ------------------------------------------------------------ priority */

static double ms_since(const struct timespec *a)
{
    struct timespec b;
    clock_gettime(CLOCK_MONOTONIC, &b);
    return (double)(b.tv_sec - a->tv_sec) * 1e3 + (double)(b.tv_nsec - a->tv_nsec) / 1e6;
}

static void submit_many(struct fx *fx, int n, int batch, enum store_prio p, sg_ms now)
{
    static struct got g;
    struct sg_err err;
    for (int i = 0; i < n; i++) {
        struct queue_submit s = sub(TO, "Weekly offers inside", p);
        assert_int_equal(queue_submit(fx->q, &s, now + i, on_accept, &g, NULL, &err), 0);
        if ((i + 1) % batch == 0 || i + 1 == n)
            assert_int_equal(queue_flush(fx->q, &err), (i % batch) + 1);
    }
    assert_int_equal(g.r.rc, 0);
}

static void test_otp_after_10000_bulk_comes_out_first(void **state)
{
    struct fx *fx = *state;
    struct sg_err err;
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    submit_many(fx, 10000, 100, STORE_PRIO_BULK, T0);
    double accept_ms = ms_since(&t);
    print_message("accepting 10,000 bulk in group commits of 100: %.0f ms (%.0f/s)\n",
                  accept_ms, 10000 / (accept_ms / 1000));
    int64_t normal = submit_simple(fx, "your parcel", STORE_PRIO_NORMAL, T0 + 20 * SEC);
    int64_t urgent = submit_simple(fx, "server down", STORE_PRIO_URGENT, T0 + 21 * SEC);
    int64_t otp = submit_simple(fx, "code 1234", STORE_PRIO_OTP, T0 + 22 * SEC);
    int64_t otp2 = submit_simple(fx, "code 5678", STORE_PRIO_OTP, T0 + 23 * SEC);
    struct store_msg *m = malloc(sizeof *m);
    clock_gettime(CLOCK_MONOTONIC, &t);
    assert_int_equal(queue_next_due(fx->q, T0 + 30 * SEC, m, &err), 1);
    print_message("next due with 10,004 queued: %.3f ms\n", ms_since(&t));
    assert_int_equal(m->id, otp);
    const int64_t *order[] = {&otp, &otp2, &urgent, &normal};
    struct queue_via via = {.modem = "m1", .iccid = "1"};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(queue_next_due(fx->q, T0 + 30 * SEC, m, &err), 1);
        assert_int_equal(m->id, *order[i]);
        assert_int_equal(queue_mark_sending(fx->q, m->id, &via, T0 + 30 * SEC, &err), 0);
    }
    /* then the bulk, oldest first */
    int64_t ids[3];
    assert_int_equal(queue_due_ids(fx->q, T0 + 30 * SEC, ids, 3, &err), 3);
    assert_int_equal(ids[0], 1);
    assert_int_equal(ids[1], 2);
    assert_int_equal(ids[2], 3);
    int64_t counts[STORE_PRIO_COUNT];
    assert_int_equal(store_queued_counts(fx->st, counts, &err), 0);
    assert_int_equal(counts[STORE_PRIO_BULK], 10000);
    assert_int_equal(counts[STORE_PRIO_OTP], 0);
    free(m);
}

/* ------------------------------------------------------------ crash recovery */

static int64_t put_in_sending(struct fx *fx, enum store_prio p, sg_ms now)
{
    struct queue_via via = {.modem = "m1", .iccid = "8933011111111111111"};
    char text[201];
    memset(text, 'c', 200);
    text[200] = '\0';
    int64_t id = submit_simple(fx, text, p, now);
    assert_int_equal(queue_mark_sending(fx->q, id, &via, now + 1, NULL), 0);
    /* part 1 went out before the crash */
    assert_int_equal(queue_part_sent(fx->q, id, 1, &via, 77, now + 2, NULL), 0);
    return id;
}

static void test_crash_recovery_retries_otp_urgent_and_reports_the_rest(void **state)
{
    struct fx *fx = *state;
    struct sg_err err;
    int64_t id[STORE_PRIO_COUNT];
    for (int p = 0; p < STORE_PRIO_COUNT; p++)
        id[p] = put_in_sending(fx, (enum store_prio)p, T0);
    int64_t queued = submit_simple(fx, "waiting", STORE_PRIO_BULK, T0);
    fx_close(fx);   /* the process dies; everything above was committed */
    fx_open(fx);
    struct queue_recovery r = {-1, -1};
    assert_int_equal(queue_recover(fx->q, T0 + 60 * SEC, &r, &err), 0);
    assert_int_equal(r.requeued, 2);
    assert_int_equal(r.unknown, 2);
    assert_int_equal(state_of(fx, id[STORE_PRIO_OTP]), STORE_QUEUED);
    assert_int_equal(state_of(fx, id[STORE_PRIO_URGENT]), STORE_QUEUED);
    assert_int_equal(state_of(fx, id[STORE_PRIO_NORMAL]), STORE_UNKNOWN);
    assert_int_equal(state_of(fx, id[STORE_PRIO_BULK]), STORE_UNKNOWN);
    assert_int_equal(state_of(fx, queued), STORE_QUEUED);
    struct store_msg *m = malloc(sizeof *m);
    assert_int_equal(store_msg_get(fx->st, id[STORE_PRIO_OTP], m, &err), 0);
    assert_int_equal(m->attempts, 1);   /* the interrupted attempt counts */
    struct store_part p;
    assert_int_equal(store_part_get(fx->st, id[STORE_PRIO_OTP], 1, &p, &err), 0);
    assert_int_equal(p.status, STORE_PART_PENDING);   /* resent from part 1 */
    assert_int_equal(store_part_get(fx->st, id[STORE_PRIO_BULK], 1, &p, &err), 0);
    assert_int_equal(p.mr, 77);   /* kept: a late report can still prove delivery */
    struct evs v = events_of(fx, id[STORE_PRIO_BULK]);
    assert_non_null(strstr(v.last, "\"status\":\"unknown\""));
    assert_non_null(strstr(v.last, "restart while sending"));
    /* the retried OTP is the first thing a modem gets */
    assert_int_equal(queue_next_due(fx->q, T0 + 60 * SEC, m, &err), 1);
    assert_int_equal(m->id, id[STORE_PRIO_OTP]);
    /* running it again finds nothing */
    assert_int_equal(queue_recover(fx->q, T0 + 61 * SEC, &r, &err), 0);
    assert_int_equal(r.requeued + r.unknown, 0);
    free(m);
    assert_consistent(fx);
}

/* Killed while sending an OTP, restarted, killed again while resending it:
 * the code may already have reached the phone twice, so it is reported
 * unknown instead of going out a third time. */
static void test_crash_recovery_resends_only_once(void **state)
{
    struct fx *fx = *state;
    struct sg_err err;
    struct queue_via via = {.modem = "m2", .iccid = "8933012222222222222"};
    int64_t id = put_in_sending(fx, STORE_PRIO_OTP, T0);
    struct queue_recovery r;
    assert_int_equal(queue_recover(fx->q, T0 + 60 * SEC, &r, &err), 0);
    assert_int_equal(r.requeued, 1);
    assert_int_equal(queue_mark_sending(fx->q, id, &via, T0 + 61 * SEC, &err), 0);
    fx_close(fx);
    fx_open(fx);
    assert_int_equal(queue_recover(fx->q, T0 + 62 * SEC, &r, &err), 0);
    assert_int_equal(r.requeued, 0);
    assert_int_equal(r.unknown, 1);
    assert_int_equal(state_of(fx, id), STORE_UNKNOWN);
    struct evs v = events_of(fx, id);
    assert_non_null(strstr(v.last, "already resent once"));
    assert_consistent(fx);
}

static void test_crash_recovery_rules_are_configurable(void **state)
{
    struct fx *fx = *state;
    struct sg_err err;
    int64_t otp = put_in_sending(fx, STORE_PRIO_OTP, T0);
    int64_t bulk = put_in_sending(fx, STORE_PRIO_BULK, T0);
    fx_close(fx);
    fx->o.recover[STORE_PRIO_OTP] = QUEUE_RECOVER_UNKNOWN;
    fx->o.recover[STORE_PRIO_BULK] = QUEUE_RECOVER_RETRY;
    fx_open(fx);
    struct queue_recovery r;
    assert_int_equal(queue_recover(fx->q, T0 + 60 * SEC, &r, &err), 0);
    assert_int_equal(r.requeued, 1);
    assert_int_equal(r.unknown, 1);
    assert_int_equal(state_of(fx, otp), STORE_UNKNOWN);
    assert_int_equal(state_of(fx, bulk), STORE_QUEUED);
}

static void test_crash_recovery_of_many_pages(void **state)
{
    struct fx *fx = *state;
    struct sg_err err;
    for (int i = 0; i < 300; i++)
        put_in_sending(fx, i % 2 ? STORE_PRIO_OTP : STORE_PRIO_BULK, T0 + i);
    struct queue_recovery r;
    assert_int_equal(queue_recover(fx->q, T0 + DAY / 2, &r, &err), 0);
    assert_int_equal(r.requeued, 150);
    assert_int_equal(r.unknown, 150);
    int64_t counts[STORE_STATE_COUNT];
    assert_int_equal(store_state_counts(fx->st, counts, &err), 0);
    assert_int_equal(counts[STORE_SENDING], 0);
}

/* ------------------------------------------------------------ listing */

static int count_list(void *ud, const struct store_msg *m)
{
    (void)m;
    (*(int *)ud)++;
    return 0;
}

struct last_id {
    int64_t id;
};

static int keep_last(void *ud, const struct store_msg *m)
{
    ((struct last_id *)ud)->id = m->id;
    return 0;
}

static void test_listing_filters_and_pages(void **state)
{
    struct fx *fx = *state;
    struct sg_err err;
    for (int i = 0; i < 25; i++)
        submit_simple(fx, "x", STORE_PRIO_BULK, T0 + i * SEC);
    assert_int_equal(queue_cancel(fx->q, 3, NULL, T0 + 30 * SEC, &err), 0);
    assert_int_equal(queue_cancel(fx->q, 20, NULL, T0 + 30 * SEC, &err), 0);
    assert_int_equal(queue_cancel(fx->q, 999, NULL, T0 + 30 * SEC, &err), -ENOENT);
    struct store_filter f = {.state = -1, .limit = 10};
    struct last_id last = {0};
    int pages = 0, total = 0, n;
    while ((n = store_list(fx->st, &f, keep_last, &last, &err)) > 0) {
        pages++;
        total += n;
        f.after_id = last.id;
    }
    assert_int_equal(n, 0);
    assert_int_equal(pages, 3);
    assert_int_equal(total, 25);
    struct store_filter c = {.state = STORE_CANCELED};
    int k = 0;
    assert_int_equal(store_list(fx->st, &c, count_list, &k, &err), 2);
    struct store_filter since = {.state = STORE_QUEUED, .since = T0 + 20 * SEC};
    k = 0;
    assert_int_equal(store_list(fx->st, &since, count_list, &k, &err), 5);   /* ids 21..25 */
    assert_int_equal(k, 5);
}

/* ------------------------------------------------------------ faults */

/* Accept three (one keyed), then a delivery, a cancel, a retry and an
 * expiry: every kind of write. Returns the first error, or 0. */
static int scenario(struct fx *fx, struct sg_err *err)
{
    struct got g[3];
    memset(g, 0, sizeof g);
    char two[201];
    memset(two, 'd', 200);
    two[200] = '\0';
    struct queue_submit s[3] = {sub(TO, "code 1", STORE_PRIO_OTP), sub(TO, "bulk", STORE_PRIO_BULK),
                                sub(TO, two, STORE_PRIO_NORMAL)};
    s[0].idem_key = "scenario-A";
    for (int i = 0; i < 3; i++) {
        int rc = queue_submit(fx->q, &s[i], T0 + 10 * SEC, on_accept, &g[i], NULL, err);
        assert_int_equal(rc, 0);
    }
    int rc = queue_flush(fx->q, err);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(g[i].calls, 1);
        assert_int_equal(g[i].r.rc, rc < 0 ? rc : 0);
    }
    if (rc < 0)
        return rc;
    struct queue_via via = {.modem = "m1", .iccid = "8933011111111111111"};
    sg_ms now = T0 + 20 * SEC;
    if ((rc = queue_mark_sending(fx->q, g[0].r.id, &via, now, err)) ||
        (rc = queue_part_sent(fx->q, g[0].r.id, 1, &via, 5, now, err)) < 0 ||
        (rc = queue_part_dlr(fx->q, g[0].r.id, 1, 0, now, err)) < 0 ||
        (rc = queue_cancel(fx->q, g[1].r.id, NULL, now, err)) ||
        (rc = queue_mark_sending(fx->q, g[2].r.id, &via, now, err)) ||
        (rc = queue_send_failed(fx->q, g[2].r.id, &via, now + SEC, "+CMS ERROR: 42", now, err)) ||
        (rc = queue_expire(fx->q, T0 + 2 * DAY, err)) < 0)
        return rc;
    assert_int_equal(rc, 1);
    return 0;
}

static void test_nth_sqlite_call_fails_nothing_committed_is_lost(void **state)
{
    (void)state;
    static const struct {
        enum store_fault kind;
        bool persist;
        int want;
    } kinds[] = {
        {STORE_FAULT_BUSY, false, -EAGAIN},
        {STORE_FAULT_IOERR, false, -EIO},
        {STORE_FAULT_FULL, false, -ENOSPC},
        {STORE_FAULT_FULL, true, -ENOSPC},   /* the disk stays full */
    };
    /* count the calls of a clean run */
    struct fx *fx = fx_new();
    struct sg_err err;
    store_test_fail_at(fx->st, 0, STORE_FAULT_IOERR, false);
    assert_int_equal(scenario(fx, &err), 0);
    unsigned long total = store_test_calls(fx->st);
    assert_consistent(fx);
    fx_free(fx);
    assert_true(total > 30);
    print_message("accept + transitions scenario: %lu sqlite calls, each failed in turn\n", total);

    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        for (unsigned long n = 1; n <= total; n++) {
            fx = fx_new();
            /* committed before the fault: must survive it */
            int64_t before = submit_simple(fx, "committed earlier", STORE_PRIO_URGENT, T0);
            struct queue_via via = {.modem = "m9", .iccid = "9"};
            assert_int_equal(queue_mark_sending(fx->q, before, &via, T0 + 1, NULL), 0);
            store_test_fail_at(fx->st, n, kinds[k].kind, kinds[k].persist);
            sg_err_clear(&err);
            int rc = scenario(fx, &err);
            if (rc != kinds[k].want)
                fail_msg("kind %zu call %lu: scenario returned %d (%s)", k, n, rc, err.msg);
            assert_true(store_err_unavailable(rc));
            store_test_fail_at(fx->st, 0, STORE_FAULT_IOERR, false);
            assert_int_equal(state_of(fx, before), STORE_SENDING);
            struct path h = {0};
            assert_int_equal(store_history(fx->st, before, on_hist, &h, NULL), 2);
            assert_consistent(fx);
            /* still usable: the committed message can finish, a new one is accepted */
            assert_int_equal(queue_part_sent(fx->q, before, 1, &via, 1, T0 + 2, &err), 1);
            int64_t after = submit_simple(fx, "after the fault", STORE_PRIO_OTP, T0 + 3);
            assert_true(after > before);
            assert_int_equal(store_pending(fx->st), 0);
            assert_consistent(fx);
            char ok[16];
            assert_int_equal(store_pragma(fx->st, "integrity_check", ok, sizeof ok, NULL), 0);
            assert_string_equal(ok, "ok");
            fx_free(fx);
        }
    }
}

/* Child: accepts in group commits of 10 forever, reporting each id on the
 * pipe only from the commit callback, i.e. when the API would answer 202. */
static void on_ack(void *ud, const struct store_accept_result *r)
{
    int fd = *(int *)ud;
    if (r->rc == 0 && write(fd, &r->id, sizeof r->id) != (ssize_t)sizeof r->id)
        _exit(3);
}

static void accept_forever(const char *dir, int fd)
{
    struct fx fx;
    memset(&fx, 0, sizeof fx);
    snprintf(fx.dir, sizeof fx.dir, "%s", dir);
    snprintf(fx.o.default_cc, sizeof fx.o.default_cc, "33");
    if (store_open(&fx.st, fx.dir, NULL, NULL) || queue_open(&fx.q, fx.st, &fx.o, NULL))
        _exit(2);
    for (sg_ms now = T0;; now++) {
        struct queue_submit s = sub(TO, "code 4711", STORE_PRIO_OTP);
        if (queue_submit(fx.q, &s, now, on_ack, &fd, NULL, NULL))
            _exit(4);
        if (now % 10 == 0 && queue_flush(fx.q, NULL) < 0)
            _exit(5);
    }
}

static void test_kill_9_loses_no_acknowledged_accept(void **state)
{
    struct fx *fx = *state;
    fx_close(fx);
    for (int round = 0; round < 3; round++) {
        int pfd[2];
        assert_int_equal(pipe(pfd), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(pfd[0]);
            accept_forever(fx->dir, pfd[1]);
        }
        close(pfd[1]);
        static int64_t acked[4096];
        int n = 0;
        /* kill somewhere after 100..400 acknowledgements (mid-batch is likely) */
        int stop = 100 + round * 150;
        while (n < stop && read(pfd[0], &acked[n], sizeof acked[n]) == (ssize_t)sizeof acked[n])
            n++;
        kill(pid, SIGKILL);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status));
        close(pfd[0]);
        assert_int_equal(n, stop);
        fx_open(fx);
        char ok[16];
        assert_int_equal(store_pragma(fx->st, "integrity_check", ok, sizeof ok, NULL), 0);
        assert_string_equal(ok, "ok");
        for (int i = 0; i < n; i++)
            if (state_of(fx, acked[i]) != STORE_QUEUED)
                fail_msg("round %d: acknowledged message %lld lost", round, (long long)acked[i]);
        assert_consistent(fx);
        fx_close(fx);
    }
    fx_open(fx);
}

static void test_accept_10000_in_group_commits_of_100(void **state)
{
    struct fx *fx = *state;
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    submit_many(fx, 10000, 100, STORE_PRIO_NORMAL, T0);
    double ms = ms_since(&t);
    print_message("10,000 accepts (validate + encode + group commit of 100, synchronous=FULL): "
                  "%.0f ms = %.0f accepts/s\n",
                  ms, 10000 / (ms / 1000));
    assert_int_equal(sql_int(fx->dir, "SELECT COUNT(*) FROM messages"), 10000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_submit_stores_decodable_pdus_history_and_event, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_submit_validation_names_the_field, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unicode_text_is_ucs2_and_empty_text_is_one_part,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_idempotency_same_key_same_or_other_parameters, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_idempotency_replay_survives_a_changed_default_ttl,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_idempotency_key_kept_a_day_then_reusable, setup,
                                        teardown),
        cmocka_unit_test(test_transition_table),
        cmocka_unit_test_setup_teardown(test_lifecycle_flows_write_history_and_events, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_undelivered_cause_and_retry_resets_parts, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_expired_otp_is_never_handed_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_otp_after_10000_bulk_comes_out_first, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_crash_recovery_retries_otp_urgent_and_reports_the_rest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_recovery_resends_only_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_recovery_rules_are_configurable, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_crash_recovery_of_many_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listing_filters_and_pages, setup, teardown),
        cmocka_unit_test(test_nth_sqlite_call_fails_nothing_committed_is_lost),
        cmocka_unit_test_setup_teardown(test_kill_9_loses_no_acknowledged_accept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_accept_10000_in_group_commits_of_100, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
