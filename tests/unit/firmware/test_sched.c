/*
 * The scheduler between a real store/queue (sqlite in a temp dir) and fake
 * modems: every hand-over is recorded, results are fed back by the test,
 * and time is a number the test moves. Cases are named after what an
 * operator would see go wrong.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drivers/gsm/pdu.h"
#include "firmware/log.h"
#include "firmware/sched.h"

#define T0 ((sg_ms)1795000000000LL) /* 2026-11-18, wall ms */
#define ICCID1 "8933010000000000011"
#define ICCID2 "8933010000000000022"

struct sent {
    size_t slot;
    int64_t msg_id;
    int seq;
};

struct fx {
    char dir[64];
    struct store *st;
    struct queue *q;
    struct sched *s;
    struct sglog log;
    FILE *devnull;
    struct sent sent[64];
    size_t nsent;
    int acks[16];
    size_t nacks;
    sg_ms armed;
    struct sched_sim_cfg sims[2];
    size_t nsims;
};

static int f_send(void *ud, size_t slot, int64_t msg_id, int seq, int tpdu_len, const char *hex)
{
    struct fx *f = ud;
    (void)tpdu_len;
    assert_true(strlen(hex) > 10);
    assert_true(f->nsent < 64);
    f->sent[f->nsent++] = (struct sent){slot, msg_id, seq};
    return 0;
}

static void f_ack(void *ud, size_t slot, int index)
{
    (void)slot;
    struct fx *f = ud;
    f->acks[f->nacks++] = index;
}

static void f_arm(void *ud, sg_ms at)
{
    ((struct fx *)ud)->armed = at;
}

static uint32_t f_random(void *ud)
{
    (void)ud;
    return 0x80000000u;
}

static const struct sched_ops ops = {f_send, f_ack, f_arm, f_random};

static void open_all(struct fx *f)
{
    struct sg_err err;
    assert_int_equal(store_open(&f->st, f->dir, NULL, &err), 0);
    struct queue_opts qo = {.default_cc = "33"};
    assert_int_equal(queue_open(&f->q, f->st, &qo, &err), 0);
    static const char *const ids[] = {"m1", "m2"};
    struct sched_opts so = {.queue = f->q, .store = f->st, .log = &f->log, .default_cc = "33",
                            .sticky_window_ms = 0, .unknown_sims_enabled = true,
                            .sims = f->sims, .nsims = f->nsims, .nslots = 2, .slot_ids = ids};
    assert_int_equal(sched_new(&so, &ops, f, &f->s, &err), 0);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/sg-sched-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->devnull = fopen("/dev/null", "w");
    f->log = (struct sglog){.level = LOG_LVL_DEBUG, .sink = LOG_SINK_STDERR, .out = f->devnull};
    f->armed = -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    sched_free(f->s);
    queue_close(f->q);
    store_close(f->st);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    fclose(f->devnull);
    free(f);
    return 0;
}

static void on_accept(void *ud, const struct store_accept_result *r)
{
    assert_int_equal(r->rc, 0);
    *(int64_t *)ud = r->id;
}

static int64_t submit(struct fx *f, const char *to, const char *text, enum store_prio p, sg_ms now)
{
    struct queue_submit qs = {.to = to, .text = text, .text_len = strlen(text), .prio = p};
    int64_t id = 0;
    struct sg_err err;
    const char *field = NULL;
    assert_int_equal(queue_submit(f->q, &qs, now, on_accept, &id, &field, &err), 0);
    assert_true(queue_flush(f->q, &err) > 0);
    if (f->s)
        sched_kick(f->s, now); /* what the daemon's commit callback does */
    return id;
}

static enum store_state state_of(struct fx *f, int64_t id)
{
    static struct store_msg m; /* 8 KiB: not on the stack */
    assert_int_equal(store_msg_get(f->st, id, &m, NULL), 0);
    return m.state;
}

static void ok(struct fx *f, size_t slot, int mr, sg_ms now)
{
    struct modem_send_result r = {.ok = true, .mr = mr, .code = -1};
    sched_send_done(f->s, slot, &r, now);
}

static void nok(struct fx *f, size_t slot, enum modem_err_class cls, int code, const char *why,
                 sg_ms now)
{
    struct modem_send_result r = {.ok = false, .cls = cls, .code = code, .why = why};
    sched_send_done(f->s, slot, &r, now);
}

/* An OTP submitted after bulk goes first as soon as a modem is free. */
static void test_otp_overtakes_bulk(void **state)
{
    struct fx *f = *state;
    open_all(f);
    int64_t b1 = submit(f, "+33600000001", "bulk one", STORE_PRIO_BULK, T0);
    submit(f, "+33600000002", "bulk two", STORE_PRIO_BULK, T0 + 1);
    int64_t otp = submit(f, "0600000003", "Your code is 111222", STORE_PRIO_OTP, T0 + 2);
    sched_slot_ready(f->s, 0, true, ICCID1, T0 + 3);
    assert_int_equal(f->nsent, 1);
    assert_int_equal(f->sent[0].msg_id, otp);
    assert_int_equal(state_of(f, otp), STORE_SENDING);
    ok(f, 0, 5, T0 + 10);
    assert_int_equal(state_of(f, otp), STORE_SENT);
    assert_int_equal(f->nsent, 2);
    assert_int_equal(f->sent[1].msg_id, b1); /* then the oldest bulk */
}

/* A three-part message goes out part after part on the same modem, even
 * with a second modem free. */
static void test_multipart_stays_on_one_sim(void **state)
{
    struct fx *f = *state;
    open_all(f);
    char text[400];
    memset(text, 'a', 400);
    text[399] = '\0';
    int64_t id = submit(f, "+33600000001", text, STORE_PRIO_NORMAL, T0);
    sched_slot_ready(f->s, 0, true, ICCID1, T0);
    sched_slot_ready(f->s, 1, true, ICCID2, T0);
    assert_int_equal(f->nsent, 1);
    ok(f, f->sent[0].slot, 1, T0 + 100);
    ok(f, f->sent[0].slot, 2, T0 + 200);
    assert_int_equal(f->nsent, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(f->sent[i].slot, f->sent[0].slot);
        assert_int_equal(f->sent[i].seq, i + 1);
    }
    ok(f, f->sent[0].slot, 3, T0 + 300);
    assert_int_equal(state_of(f, id), STORE_SENT);
}

/* CMS 42 (congestion) on one SIM: the message moves to the other at once. */
static void test_congestion_moves_to_other_sim(void **state)
{
    struct fx *f = *state;
    open_all(f);
    sched_slot_ready(f->s, 0, true, ICCID1, T0);
    sched_slot_ready(f->s, 1, true, ICCID2, T0);
    int64_t id = submit(f, "+33600000001", "hello", STORE_PRIO_URGENT, T0);
    size_t first = f->sent[0].slot;
    nok(f, first, MODEM_ERR_RETRY_NOW, 42, "cms", T0 + 50);
    assert_int_equal(f->nsent, 2);
    assert_int_equal(f->sent[1].msg_id, id);
    assert_int_not_equal(f->sent[1].slot, first);
    ok(f, f->sent[1].slot, 9, T0 + 100);
    assert_int_equal(state_of(f, id), STORE_SENT);
}

/* CMS 1 (unassigned number) is about the recipient: failed, never resent. */
static void test_unassigned_number_fails(void **state)
{
    struct fx *f = *state;
    open_all(f);
    sched_slot_ready(f->s, 0, true, ICCID1, T0);
    sched_slot_ready(f->s, 1, true, ICCID2, T0);
    int64_t id = submit(f, "+33600000001", "hello", STORE_PRIO_OTP, T0);
    nok(f, f->sent[0].slot, MODEM_ERR_PERMANENT, 1, "cms", T0 + 50);
    assert_int_equal(state_of(f, id), STORE_FAILED);
    assert_int_equal(f->nsent, 1);
}

/* CMS 330 (SMSC unknown) is about the SIM: the other SIM sends it. */
static void test_smsc_unknown_is_the_sims_fault(void **state)
{
    struct fx *f = *state;
    open_all(f);
    sched_slot_ready(f->s, 0, true, ICCID1, T0);
    sched_slot_ready(f->s, 1, true, ICCID2, T0);
    int64_t id = submit(f, "+33600000001", "hello", STORE_PRIO_NORMAL, T0);
    size_t first = f->sent[0].slot;
    nok(f, first, MODEM_ERR_PERMANENT, 330, "cms", T0 + 50);
    assert_int_equal(f->nsent, 2);
    assert_int_not_equal(f->sent[1].slot, first);
    assert_int_equal(state_of(f, id), STORE_SENDING);
}

/* The modem died after the PDU was written: an OTP is sent again, bulk is
 * reported unknown and never repeated. */
static void test_unknown_outcome_by_priority(void **state)
{
    struct fx *f = *state;
    open_all(f);
    sched_slot_ready(f->s, 0, true, ICCID1, T0);
    sched_slot_ready(f->s, 1, true, ICCID2, T0);
    int64_t otp = submit(f, "+33600000001", "Code 1", STORE_PRIO_OTP, T0);
    nok(f, f->sent[0].slot, MODEM_ERR_UNKNOWN, -1, "result timeout", T0 + 60000);
    assert_int_equal(f->nsent, 2);
    assert_int_equal(f->sent[1].msg_id, otp);
    ok(f, f->sent[1].slot, 3, T0 + 60100);
    size_t before = f->nsent;
    int64_t bulk = submit(f, "+33600000002", "News", STORE_PRIO_BULK, T0 + 61000);
    assert_int_equal(f->nsent, before + 1);
    nok(f, f->sent[before].slot, MODEM_ERR_UNKNOWN, -1, "result timeout", T0 + 121000);
    assert_int_equal(state_of(f, bulk), STORE_UNKNOWN);
    assert_int_equal(f->nsent, before + 1);
}

/* Fifty messages no SIM may carry (UK numbers on French-only SIMs) must
 * not hide a French message queued behind them. */
static void test_unroutable_messages_do_not_block(void **state)
{
    struct fx *f = *state;
    for (int i = 0; i < 2; i++) {
        snprintf(f->sims[i].iccid, sizeof(f->sims[i].iccid), "%s", i ? ICCID2 : ICCID1);
        f->sims[i].enabled = true;
        f->sims[i].n_allow = 1;
        snprintf(f->sims[i].allow[0], sizeof(f->sims[i].allow[0]), "+33");
    }
    f->nsims = 2;
    open_all(f);
    for (int i = 0; i < SCHED_SCAN_MAX + 6; i++) {
        char to[20];
        snprintf(to, sizeof(to), "+4477009%05d", i);
        submit(f, to, "uk", STORE_PRIO_OTP, T0 + i);
    }
    int64_t fr = submit(f, "+33600000001", "fr", STORE_PRIO_BULK, T0 + 100);
    sched_slot_ready(f->s, 0, true, ICCID1, T0 + 200);
    sched_kick(f->s, T0 + 300);
    assert_int_equal(f->nsent, 1);
    assert_int_equal(f->sent[0].msg_id, fr);
    assert_true(f->armed > T0 + 300 && f->armed <= T0 + 300 + SCHED_UNROUTABLE_RECHECK_MS);
}

/* The report for MR 7 on SIM 1 marks the message delivered; the same MR on
 * the other SIM would not. */
static void test_status_report_delivers(void **state)
{
    struct fx *f = *state;
    open_all(f);
    sched_slot_ready(f->s, 0, true, ICCID1, T0);
    int64_t id = submit(f, "+33612345678", "hello", STORE_PRIO_NORMAL, T0);
    ok(f, 0, 7, T0 + 100);
    struct pdu_status_report_opts so = {.mr = 7, .recipient = "0612345678", .st = 0};
    pdu_time_from_utc_ms(T0, 4, &so.scts);
    pdu_time_from_utc_ms(T0 + 2000, 4, &so.dt);
    struct pdu_part rep;
    assert_int_equal(pdu_encode_status_report(&so, &rep, NULL), 0);
    sched_report(f->s, 0, 3, rep.hex, (int)rep.tpdu_len, T0 + 3000);
    assert_int_equal(state_of(f, id), STORE_DELIVERED);
    assert_int_equal(f->nacks, 1);
    assert_int_equal(f->acks[0], 3);
}

struct count {
    int n;
    char text[1024];
};

static int count_in(void *ud, const struct store_inbound *in)
{
    struct count *c = ud;
    c->n++;
    snprintf(c->text, sizeof(c->text), "%s", in->text);
    return 0;
}

/* A two-part SMS arriving out of order is one inbound message, with the
 * parts deleted from the SIM only after they were stored; the network
 * delivering part 2 again changes nothing. */
static void test_inbound_multipart_once(void **state)
{
    struct fx *f = *state;
    open_all(f);
    sched_slot_ready(f->s, 0, true, ICCID1, T0);
    char text[240];
    memset(text, 'x', sizeof(text) - 1);
    text[sizeof(text) - 1] = '\0';
    text[0] = 'A';
    text[sizeof(text) - 2] = 'Z';
    struct pdu_deliver_opts o = {.originator = "+33698765432", .ref = 77};
    pdu_time_from_utc_ms(T0, 4, &o.scts);
    struct pdu_part parts[4];
    int n = pdu_encode_deliver(text, strlen(text), &o, parts, 4, NULL, NULL);
    assert_int_equal(n, 2);
    sched_inbound(f->s, 0, 11, parts[1].hex, (int)parts[1].tpdu_len, T0 + 10);
    sched_inbound(f->s, 0, 12, parts[1].hex, (int)parts[1].tpdu_len, T0 + 20); /* duplicate */
    struct count c = {0};
    store_inbound_list(f->st, 0, 0, 100, count_in, &c, NULL);
    assert_int_equal(c.n, 0);
    sched_inbound(f->s, 0, 13, parts[0].hex, (int)parts[0].tpdu_len, T0 + 30);
    memset(&c, 0, sizeof(c));
    store_inbound_list(f->st, 0, 0, 100, count_in, &c, NULL);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.text, text);
    assert_int_equal(f->nacks, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_otp_overtakes_bulk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_multipart_stays_on_one_sim, setup, teardown),
        cmocka_unit_test_setup_teardown(test_congestion_moves_to_other_sim, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unassigned_number_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_smsc_unknown_is_the_sims_fault, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_outcome_by_priority, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unroutable_messages_do_not_block, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_report_delivers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inbound_multipart_once, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
