#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "firmware/dlr.h"
#include "firmware/msisdn.h"

#define T0 ((sg_ms)1805104800000)
#define MIN ((sg_ms)60000)
#define SIM1 "8933010000000000001"
#define SIM2 "8933010000000000002"
#define ALICE "+33612345678"
#define BOB "+33698765432"

/* Outstanding parts on two SIMs, as the store would hand them over. */
static const struct dlr_part parts[] = {
    /* 0 */ {.msg_id = 1, .part_no = 1, .iccid = SIM1, .mr = 255, .recipient = ALICE, .sent_at = T0},
    /* 1 */ {.msg_id = 2, .part_no = 1, .iccid = SIM1, .mr = 0, .recipient = ALICE, .sent_at = T0 + 1000},
    /* 2 */ {.msg_id = 3, .part_no = 1, .iccid = SIM2, .mr = 0, .recipient = ALICE, .sent_at = T0 + 2000},
    /* 3: same MR 17 reused on SIM1 after a wrap, two hours apart */
    {.msg_id = 4, .part_no = 1, .iccid = SIM1, .mr = 17, .recipient = BOB, .sent_at = T0 - 120 * MIN},
    /* 4 */ {.msg_id = 5, .part_no = 1, .iccid = SIM1, .mr = 17, .recipient = BOB, .sent_at = T0 - 5 * MIN},
    /* 5: MR 17 again, newer, but to another recipient */
    {.msg_id = 6, .part_no = 1, .iccid = SIM1, .mr = 17, .recipient = ALICE, .sent_at = T0 - 1 * MIN},
    /* 6, 7: a 2-part message, each part with its own MR */
    {.msg_id = 7, .part_no = 1, .iccid = SIM2, .mr = 40, .recipient = BOB, .sent_at = T0},
    {.msg_id = 7, .part_no = 2, .iccid = SIM2, .mr = 41, .recipient = BOB, .sent_at = T0 + 300},
    /* 8: sent 3 days ago, MR 99 */
    {.msg_id = 8, .part_no = 1, .iccid = SIM2, .mr = 99, .recipient = BOB, .sent_at = T0 - 3 * 24 * 60 * MIN},
};

struct match_case {
    const char *name;
    struct dlr_report rep;
    int want;
};

static const struct match_case match_cases[] = {
    {"MR wrap: 255 then 0 on the same SIM, report for 255",
     {SIM1, 255, ALICE, 0x91, T0 + 10000}, 0},
    {"MR wrap: 255 then 0 on the same SIM, report for 0",
     {SIM1, 0, ALICE, 0x91, T0 + 10000}, 1},
    {"same MR on another SIM is another part", {SIM2, 0, ALICE, 0x91, T0 + 10000}, 2},
    {"national RA from an operator that strips +33", {SIM1, 0, "612345678", 0x81, T0 + 10000}, 1},
    {"national RA with trunk 0", {SIM1, 0, "0612345678", 0xA1, T0 + 10000}, 1},
    {"MR reused after 256 sends: most recent with matching recipient",
     {SIM1, 17, "+33698765432", 0x91, T0}, 4},
    {"MR reused: recipient picks the newer part to Alice", {SIM1, 17, "0612345678", 0x81, T0}, 5},
    {"multipart: report for part 2's MR", {SIM2, 41, "0698765432", 0x81, T0 + MIN}, 7},
    {"report on an unknown SIM", {"8944000000000000000", 0, ALICE, 0x91, T0 + 10000}, -1},
    {"report for the wrong recipient", {SIM1, 255, "+33600000000", 0x91, T0 + 10000}, -1},
    {"report 3 days after the send is outside the 48 h window", {SIM2, 99, BOB, 0x91, T0}, -1},
    {"report stamped before the send beyond the slack", {SIM2, 40, BOB, 0x91, T0 - 6000}, -1},
    {"report stamped 4 s before the recorded send (row written after +CMGS)",
     {SIM2, 40, BOB, 0x91, T0 - 4000}, 6},
    {"MR out of range", {SIM1, 256, ALICE, 0x91, T0 + 10000}, -1},
    {"negative MR", {SIM1, -1, ALICE, 0x91, T0 + 10000}, -1},
    {"NULL iccid", {NULL, 0, ALICE, 0x91, T0 + 10000}, -1},
};

static void test_match_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(match_cases) / sizeof(match_cases[0]); i++) {
        int got = dlr_match(parts, sizeof(parts) / sizeof(parts[0]), &match_cases[i].rep,
                            DLR_DEFAULT_WINDOW_MS, "33");
        if (got != match_cases[i].want)
            fail_msg("%s: got %d want %d", match_cases[i].name, got, match_cases[i].want);
    }
    assert_int_equal(dlr_match(parts, 0, &match_cases[0].rep, DLR_DEFAULT_WINDOW_MS, "33"), -1);
    assert_int_equal(dlr_match(parts, 1, NULL, DLR_DEFAULT_WINDOW_MS, "33"), -1);
}

static void test_mr_wrap_a_full_cycle(void **state)
{
    (void)state;
    /* 300 sends to one recipient at 1 per 10 s: MRs 200..255,0..243. A report
     * for MR 210 arriving right after the last send belongs to the second
     * use of 210 (the most recent), not the first. */
    static struct dlr_part many[300];
    for (unsigned i = 0; i < 300; i++)
        many[i] = (struct dlr_part){.msg_id = i, .iccid = SIM1, .mr = (uint8_t)((200 + i) % 256),
                                    .recipient = ALICE, .sent_at = T0 + (sg_ms)i * 10000};
    struct dlr_report rep = {SIM1, 210, ALICE, 0x91, T0 + 300 * 10000};
    int got = dlr_match(many, 300, &rep, DLR_DEFAULT_WINDOW_MS, "33");
    assert_int_equal(got, 266);
    /* The report comes 340 s after the send: a 6 min window sees it, a
     * 5 min window does not (and never falls back to the older use). */
    assert_int_equal(dlr_match(many, 300, &rep, 6 * MIN, "33"), 266);
    assert_int_equal(dlr_match(many, 300, &rep, 5 * MIN, "33"), -1);
}

struct st_case {
    uint8_t st;
    enum dlr_part_state state;
    bool final;
    const char *text;
};

static void test_classify(void **state)
{
    (void)state;
    static const struct st_case cases[] = {
        {0x00, DLR_PART_DELIVERED, true, "received by the SME"},
        {0x01, DLR_PART_DELIVERED, true, "not confirmed"},
        {0x02, DLR_PART_DELIVERED, true, "replaced"},
        {0x10, DLR_PART_DELIVERED, true, "SC-specific"},
        {0x20, DLR_PART_PENDING, false, "congestion"},
        {0x22, DLR_PART_PENDING, false, "no response"},
        {0x25, DLR_PART_PENDING, false, "error in SME"},
        {0x30, DLR_PART_PENDING, false, "still trying"},
        {0x3f, DLR_PART_PENDING, false, "still trying"},
        {0x40, DLR_PART_FAILED, true, "remote procedure"},
        {0x46, DLR_PART_FAILED, true, "validity period expired"},
        {0x49, DLR_PART_FAILED, true, "does not exist"},
        {0x50, DLR_PART_FAILED, true, "permanent error (SC-specific)"},
        {0x60, DLR_PART_FAILED, true, "congestion"},
        {0x65, DLR_PART_FAILED, true, "error in SME"},
        {0x70, DLR_PART_FAILED, true, "stopped trying"},
        {0x80, DLR_PART_FAILED, true, "reserved"},
        {0xff, DLR_PART_FAILED, true, "reserved"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct dlr_status s = dlr_classify(cases[i].st);
        if (s.state != cases[i].state || s.final != cases[i].final || !strstr(s.text, cases[i].text))
            fail_msg("TP-ST 0x%02x: %s final=%d \"%s\"", cases[i].st, dlr_part_state_name(s.state),
                     s.final, s.text);
    }
    /* Every value has a text. */
    for (unsigned st = 0; st < 256; st++)
        assert_non_null(dlr_classify((uint8_t)st).text);
}

static void test_message_state(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        enum dlr_part_state p[3];
        size_t n;
        enum dlr_msg_state want;
    } cases[] = {
        {"single part delivered", {DLR_PART_DELIVERED}, 1, DLR_MSG_DELIVERED},
        {"3 parts, 2 reports so far", {DLR_PART_DELIVERED, DLR_PART_WAITING, DLR_PART_DELIVERED}, 3,
         DLR_MSG_WAITING},
        {"3 parts, one pending (SMSC still trying)",
         {DLR_PART_DELIVERED, DLR_PART_PENDING, DLR_PART_DELIVERED}, 3, DLR_MSG_WAITING},
        {"3 parts all delivered", {DLR_PART_DELIVERED, DLR_PART_DELIVERED, DLR_PART_DELIVERED}, 3,
         DLR_MSG_DELIVERED},
        {"part 2 expired at the SMSC: undelivered without waiting for part 3",
         {DLR_PART_DELIVERED, DLR_PART_FAILED, DLR_PART_WAITING}, 3, DLR_MSG_UNDELIVERED},
        {"no parts", {DLR_PART_WAITING}, 0, DLR_MSG_WAITING},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (dlr_message_state(cases[i].p, cases[i].n) != cases[i].want)
            fail_msg("%s: got %s", cases[i].name,
                     dlr_msg_state_name(dlr_message_state(cases[i].p, cases[i].n)));
    assert_string_equal(dlr_msg_state_name(DLR_MSG_UNDELIVERED), "undelivered");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_match_table),
        cmocka_unit_test(test_mr_wrap_a_full_cycle),
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_message_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
