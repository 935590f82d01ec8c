#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "firmware/reasm.h"

#define T0 ((sg_ms)1805104800000)
#define SEC ((sg_ms)1000)
#define SIM1 "8933010000000000001"
#define SIM2 "8933010000000000002"

/* One step of a scenario: add a part, or (seq == 0) run the expiry at t. */
struct step {
    const char *sim, *orig;
    uint16_t ref;
    uint8_t total, seq;
    const char *text;
    sg_ms t;                     /* seconds after T0 */
    enum reasm_result want;      /* for adds */
    const char *done_text;       /* COMPLETE: the joined text */
    int evicted_n;               /* pieces in *evicted / expired set; -1 = none */
    uint8_t evicted_ref;
};

struct scenario {
    const char *name;
    struct reasm_cfg cfg;
    struct step steps[12];
};

#define ADD(sim, orig, ref, tot, seq, text, t, want) \
    {sim, orig, ref, tot, seq, text, t, want, NULL, -1, 0}
#define ADD_DONE(sim, orig, ref, tot, seq, text, t, joined) \
    {sim, orig, ref, tot, seq, text, t, REASM_COMPLETE, joined, -1, 0}
#define ADD_EVICT(sim, orig, ref, tot, seq, text, t, want, n, eref) \
    {sim, orig, ref, tot, seq, text, t, want, NULL, n, eref}
#define EXPIRE(t, n, eref) {NULL, NULL, 0, 0, 0, NULL, t, REASM_WAITING, NULL, n, eref}
#define END {NULL, NULL, 0, 0, 0, NULL, -1, 0, NULL, 0, 0}

static const struct scenario scenarios[] = {
    {"3 parts in order",
     {600 * SEC, 8, 16},
     {ADD(SIM1, "+33612345678", 7, 3, 1, "Hello ", 0, REASM_WAITING),
      ADD(SIM1, "+33612345678", 7, 3, 2, "from ", 1, REASM_WAITING),
      ADD_DONE(SIM1, "+33612345678", 7, 3, 3, "Paris", 2, "Hello from Paris"),
      EXPIRE(10000, -1, 0), END}},
    {"out of order: 3, 1, 2",
     {600 * SEC, 8, 16},
     {ADD(SIM1, "+33612345678", 7, 3, 3, "Paris", 0, REASM_WAITING),
      ADD(SIM1, "+33612345678", 7, 3, 1, "Hello ", 1, REASM_WAITING),
      ADD_DONE(SIM1, "+33612345678", 7, 3, 2, "from ", 2, "Hello from Paris"), END}},
    {"part 2 delivered twice by the network",
     {600 * SEC, 8, 16},
     {ADD(SIM1, "+33612345678", 200, 2, 2, "world", 0, REASM_WAITING),
      ADD(SIM1, "+33612345678", 200, 2, 2, "world", 5, REASM_DUPLICATE),
      ADD_DONE(SIM1, "+33612345678", 200, 2, 1, "hello ", 6, "hello world"), END}},
    {"part 2 never comes: after 600 s parts 1 and 3 are kept as parts",
     {600 * SEC, 8, 16},
     {ADD(SIM1, "+33612345678", 9, 3, 3, "c", 0, REASM_WAITING),
      ADD(SIM1, "+33612345678", 9, 3, 1, "a", 100, REASM_WAITING),
      EXPIRE(699, -1, 0),            /* 600 s counted from the latest part */
      EXPIRE(700, 2, 9), END}},
    {"reference 9 reused for a new message from the same sender",
     {600 * SEC, 8, 16},
     {ADD(SIM1, "+33612345678", 9, 2, 1, "old one, ", 0, REASM_WAITING),
      ADD_EVICT(SIM1, "+33612345678", 9, 2, 1, "new one, ", 300, REASM_WAITING, 1, 9),
      ADD_DONE(SIM1, "+33612345678", 9, 2, 2, "done", 301, "new one, done"), END}},
    {"same reference from two senders does not mix",
     {600 * SEC, 8, 16},
     {ADD(SIM1, "+33612345678", 5, 2, 1, "A1", 0, REASM_WAITING),
      ADD(SIM1, "+33698765432", 5, 2, 2, "B2", 1, REASM_WAITING),
      ADD_DONE(SIM1, "+33612345678", 5, 2, 2, "A2", 2, "A1A2"),
      ADD_DONE(SIM1, "+33698765432", 5, 2, 1, "B1", 3, "B1B2"), END}},
    {"same sender and reference on two SIMs does not mix",
     {600 * SEC, 8, 16},
     {ADD(SIM1, "BANK", 5, 2, 1, "x", 0, REASM_WAITING),
      ADD(SIM2, "BANK", 5, 2, 1, "y", 0, REASM_WAITING),
      ADD_DONE(SIM2, "BANK", 5, 2, 2, "2", 1, "y2"),
      ADD_DONE(SIM1, "BANK", 5, 2, 2, "1", 1, "x1"), END}},
    {"same reference, different total: different sets",
     {600 * SEC, 8, 16},
     {ADD(SIM1, "+33612345678", 5, 2, 1, "a", 0, REASM_WAITING),
      ADD(SIM1, "+33612345678", 5, 3, 1, "b", 0, REASM_WAITING),
      EXPIRE(600, 1, 5), EXPIRE(600, 1, 5), EXPIRE(600, -1, 0), END}},
    {"table full (2 sets): a third set gives up the idlest, kept as parts",
     {600 * SEC, 2, 16},
     {ADD(SIM1, "+33600000001", 1, 2, 1, "a", 0, REASM_WAITING),
      ADD(SIM1, "+33600000002", 2, 2, 1, "b", 10, REASM_WAITING),
      ADD_EVICT(SIM1, "+33600000003", 3, 2, 1, "z", 20, REASM_WAITING, 1, 1),
      ADD_DONE(SIM1, "+33600000002", 2, 2, 2, "B", 21, "bB"),
      END}},
    {"table full: the set idle longest goes, not the oldest",
     {600 * SEC, 2, 16},
     {ADD(SIM1, "+33600000001", 1, 3, 1, "a", 0, REASM_WAITING),
      ADD(SIM1, "+33600000002", 2, 3, 1, "b", 10, REASM_WAITING),
      ADD(SIM1, "+33600000001", 1, 3, 2, "a", 20, REASM_WAITING),   /* set 1 active again */
      ADD_EVICT(SIM1, "+33600000003", 3, 2, 1, "c", 30, REASM_WAITING, 1, 2),
      EXPIRE(619, -1, 0), EXPIRE(620, 2, 1), END}},
    {"single-part message completes at once",
     {600 * SEC, 8, 16},
     {ADD_DONE(SIM1, "+33612345678", 0, 1, 1, "OK", 0, "OK"), END}},
    {"message of 40 parts with a cap of 16: stored as-is",
     {600 * SEC, 8, 16},
     {ADD(SIM1, "+33612345678", 1, 40, 1, "x", 0, REASM_TOO_BIG), EXPIRE(1000, -1, 0), END}},
    {"invalid parts",
     {600 * SEC, 8, 16},
     {ADD(SIM1, "+33612345678", 1, 3, 0, "x", 0, REASM_INVALID),
      ADD(SIM1, "+33612345678", 1, 3, 4, "x", 0, REASM_INVALID),
      ADD(SIM1, "+33612345678", 1, 0, 1, "x", 0, REASM_INVALID),
      ADD(SIM1, "", 1, 2, 1, "x", 0, REASM_INVALID),
      ADD(SIM1, NULL, 1, 2, 1, "x", 0, REASM_INVALID),
      ADD(SIM1, "0123456789012345678901234567890123456789012345678", 1, 2, 1, "x", 0, REASM_INVALID),
      EXPIRE(100000, -1, 0), END}},
};

static void check_set(const char *name, size_t k, const struct reasm_set *s, int want_n, uint8_t want_ref)
{
    if (want_n < 0) {
        if (s)
            fail_msg("%s step %zu: unexpected set ref %u with %u parts", name, k, s->ref, s->n);
        return;
    }
    if (!s) {
        fail_msg("%s step %zu: expected a given-up set", name, k);
        return;
    }
    if ((int)s->n != want_n || s->ref != want_ref || s->text)
        fail_msg("%s step %zu: set ref %u n %u", name, k, s->ref, s->n);
    for (unsigned i = 1; i < s->n; i++)
        assert_true(s->piece[i - 1].seq < s->piece[i].seq);
}

static void test_scenarios(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
        const struct scenario *sc = &scenarios[i];
        struct reasm *r = reasm_new(&sc->cfg);
        assert_non_null(r);
        for (size_t k = 0; sc->steps[k].t >= 0; k++) {
            const struct step *st = &sc->steps[k];
            sg_ms t = T0 + st->t * SEC;
            if (st->seq == 0 && st->total == 0 && !st->orig && !st->text) {
                struct reasm_set *e = reasm_next_expired(r, t);
                check_set(sc->name, k, e, st->evicted_n, st->evicted_ref);
                reasm_set_free(e);
                continue;
            }
            struct reasm_part p = {.sim = st->sim, .originator = st->orig, .ref = st->ref,
                                   .total = st->total, .seq = st->seq, .text = st->text,
                                   .text_len = st->text ? strlen(st->text) : 0, .id = (int64_t)k, .at = t};
            struct reasm_set *done, *ev;
            struct sg_err err = {0};
            enum reasm_result res = reasm_add(r, &p, &done, &ev, &err);
            if (res != st->want)
                fail_msg("%s step %zu: %s (%s), want %s", sc->name, k, reasm_result_name(res), err.msg,
                         reasm_result_name(st->want));
            if (st->want == REASM_INVALID || st->want == REASM_TOO_BIG)
                assert_true(err.msg[0] != '\0');
            if (st->done_text) {
                assert_non_null(done);
                assert_string_equal(done->text, st->done_text);
                assert_int_equal(done->text_len, strlen(st->done_text));
                assert_int_equal(done->n, done->total);
            } else {
                assert_null(done);
            }
            check_set(sc->name, k, ev, st->evicted_n, st->evicted_ref);
            reasm_set_free(done);
            reasm_set_free(ev);
        }
        reasm_free(r);   /* ASan checks that held sets are freed */
    }
}

static void test_ids_come_back_in_order(void **state)
{
    (void)state;
    struct reasm *r = reasm_new(NULL);
    assert_non_null(r);
    static const uint8_t order[] = {4, 2, 1, 3};
    struct reasm_set *done = NULL, *ev = NULL;
    for (size_t i = 0; i < 4; i++) {
        char text[4] = {(char)('0' + order[i]), 0};
        struct reasm_part p = {.sim = SIM1, .originator = "+33612345678", .ref = 0xbeef, .total = 4,
                               .seq = order[i], .text = text, .text_len = 1, .id = 100 + order[i],
                               .at = T0 + (sg_ms)i};
        enum reasm_result res = reasm_add(r, &p, &done, &ev, NULL);
        assert_int_equal(res, i == 3 ? REASM_COMPLETE : REASM_WAITING);
        assert_null(ev);
    }
    assert_non_null(done);
    assert_string_equal(done->text, "1234");
    for (unsigned i = 0; i < 4; i++)
        assert_int_equal(done->piece[i].id, 101 + i);
    assert_int_equal(done->first_at, T0);
    assert_int_equal(done->last_at, T0 + 3);
    assert_int_equal(done->ref, 0xbeef);
    reasm_set_free(done);
    assert_int_equal(reasm_open_sets(r), 0);
    assert_int_equal(reasm_next_deadline(r), SG_MS_NEVER);
    reasm_free(r);
}

static void test_deadline_and_drain(void **state)
{
    (void)state;
    struct reasm *r = reasm_new(NULL);
    struct reasm_set *done, *ev;
    struct reasm_part p = {.sim = SIM1, .originator = "+33612345678", .ref = 1, .total = 2, .seq = 1,
                           .text = "a", .text_len = 1, .at = T0};
    assert_int_equal(reasm_add(r, &p, &done, &ev, NULL), REASM_WAITING);
    p.ref = 2;
    p.at = T0 + 50 * SEC;
    assert_int_equal(reasm_add(r, &p, &done, &ev, NULL), REASM_WAITING);
    assert_int_equal(reasm_next_deadline(r), T0 + REASM_DEFAULT_TIMEOUT_MS);
    assert_null(reasm_next_expired(r, T0 + REASM_DEFAULT_TIMEOUT_MS - 1));
    /* Shutdown: drain everything so the caller can mark them as parts. */
    struct reasm_set *a = reasm_next_expired(r, SG_MS_NEVER);
    struct reasm_set *b = reasm_next_expired(r, SG_MS_NEVER);
    assert_non_null(a);
    assert_non_null(b);
    assert_null(reasm_next_expired(r, SG_MS_NEVER));
    reasm_set_free(a);
    reasm_set_free(b);
    /* Empty text parts (a UCS-2 part of zero characters) are fine. */
    struct reasm_part e = {.originator = "+33612345678", .ref = 3, .total = 2, .seq = 2, .text = NULL,
                           .text_len = 0, .at = T0};
    assert_int_equal(reasm_add(r, &e, &done, &ev, NULL), REASM_WAITING);
    e.seq = 1;
    e.text = "x";
    e.text_len = 1;
    assert_int_equal(reasm_add(r, &e, &done, &ev, NULL), REASM_COMPLETE);
    assert_string_equal(done->text, "x");
    reasm_set_free(done);
    /* Text over the cap. */
    static char big[REASM_TEXT_MAX + 1];
    memset(big, 'a', sizeof(big));
    e.text = big;
    e.text_len = sizeof(big);
    assert_int_equal(reasm_add(r, &e, &done, &ev, NULL), REASM_INVALID);
    reasm_free(r);
    reasm_free(NULL);
}

static void test_dedupe(void **state)
{
    (void)state;
    struct reasm_dedupe *d = reasm_dedupe_new(3, 3600 * SEC);
    assert_non_null(d);
    const sg_ms scts = T0 - 2 * SEC;
    /* Missing +CNMA: the SMSC delivers the same SMS again 30 s later. */
    assert_false(reasm_dedupe_seen(d, SIM1, "+33612345678", scts, "code 1234", 9, T0));
    assert_true(reasm_dedupe_seen(d, SIM1, "+33612345678", scts, "code 1234", 9, T0 + 30 * SEC));
    /* Same text sent again by the person (new SCTS): a new message. */
    assert_false(reasm_dedupe_seen(d, SIM1, "+33612345678", scts + 60 * SEC, "code 1234", 9, T0 + 60 * SEC));
    /* Same sender, same second, to two of our numbers: two messages. */
    assert_false(reasm_dedupe_seen(d, SIM2, "+33612345678", scts, "code 1234", 9, T0 + 61 * SEC));
    /* Field boundaries matter. */
    assert_false(reasm_dedupe_seen(d, "A", "B", 0, "", 0, T0 + 62 * SEC));
    assert_false(reasm_dedupe_seen(d, "", "AB", 0, "", 0, T0 + 62 * SEC));
    /* Cap 3: the first entry has been overwritten, so it is new again. */
    assert_false(reasm_dedupe_seen(d, SIM1, "+33612345678", scts, "code 1234", 9, T0 + 63 * SEC));
    /* Outside the window it is new again too. */
    assert_false(reasm_dedupe_seen(d, SIM1, "+33612345678", scts, "code 1234", 9, T0 + 63 * SEC + 3600 * SEC));
    reasm_dedupe_free(d);
    assert_null(reasm_dedupe_new(0, 1));
}

static uint32_t rnd(uint32_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

static void test_random_interleaving(void **state)
{
    (void)state;
    /* 500 rounds: 4 senders each send a message of 1..12 parts; all parts,
     * plus a few network duplicates, arrive shuffled together. Every
     * message completes exactly once with its text in order, every
     * duplicate is recognised, nothing is left open. */
    uint32_t x = 88172645u;
    for (int round = 0; round < 500; round++) {
        struct reasm *r = reasm_new(NULL);
        assert_non_null(r);
        struct {
            uint8_t msg, seq;
        } q[4 * 12 + 8];
        unsigned total[4], nq = 0, dups = 0;
        for (unsigned m = 0; m < 4; m++) {
            total[m] = 1 + rnd(&x) % 12;
            for (unsigned k = 1; k <= total[m]; k++)
                q[nq++] = (typeof(q[0])){(uint8_t)m, (uint8_t)k};
        }
        const unsigned originals = nq;
        for (unsigned d = rnd(&x) % 8; d > 0; d--, dups++) {
            unsigned src = rnd(&x) % originals;
            q[nq] = q[src];
            nq++;
        }
        for (unsigned i = nq - 1; i > 0; i--) {
            unsigned j = rnd(&x) % (i + 1);
            typeof(q[0]) t = q[i];
            q[i] = q[j];
            q[j] = t;
        }
        unsigned completed = 0, dup_seen = 0;
        bool done_msg[4] = {false};
        for (unsigned i = 0; i < nq; i++) {
            char orig[16], text[8];
            snprintf(orig, sizeof(orig), "+3361234500%u", q[i].msg);
            snprintf(text, sizeof(text), "%c%02u,", 'A' + q[i].msg, q[i].seq);
            struct reasm_part p = {.sim = SIM1, .originator = orig, .ref = 42, .total = (uint8_t)total[q[i].msg],
                                   .seq = q[i].seq, .text = text, .text_len = strlen(text),
                                   .at = T0 + (sg_ms)i};
            struct reasm_set *done, *ev;
            enum reasm_result res = reasm_add(r, &p, &done, &ev, NULL);
            assert_null(ev);
            if (res == REASM_DUPLICATE) {
                dup_seen++;
            } else if (res == REASM_COMPLETE && done_msg[q[i].msg]) {
                dup_seen += done->n;   /* a whole set of duplicates completed again */
            } else if (res == REASM_COMPLETE) {
                char want[64] = "";
                for (unsigned k = 1; k <= total[q[i].msg]; k++)
                    snprintf(want + strlen(want), sizeof(want) - strlen(want), "%c%02u,", 'A' + q[i].msg, k);
                assert_string_equal(done->text, want);
                done_msg[q[i].msg] = true;
                completed++;
            } else {
                assert_int_equal(res, REASM_WAITING);
            }
            reasm_set_free(done);
        }
        /* A duplicate arriving after its set completed starts a new set
         * (the dedupe in front of reasm catches those): drain them. */
        struct reasm_set *e;
        unsigned stray = 0;
        while ((e = reasm_next_expired(r, SG_MS_NEVER)) != NULL) {
            stray += e->n;
            reasm_set_free(e);
        }
        assert_int_equal(completed, 4);
        assert_int_equal(dup_seen + stray, dups);
        reasm_free(r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scenarios),
        cmocka_unit_test(test_ids_come_back_in_order),
        cmocka_unit_test(test_deadline_and_drain),
        cmocka_unit_test(test_dedupe),
        cmocka_unit_test(test_random_interleaving),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
