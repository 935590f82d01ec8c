#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "firmware/msisdn.h"

struct norm_case {
    const char *name;
    const char *in;
    const char *cc;
    const char *want;      /* NULL = must be rejected */
    const char *why;       /* substring expected in the error text */
};

static const struct norm_case norm_cases[] = {
    {"E.164 as the backend should send it", "+33612345678", "33", "+33612345678", NULL},
    {"ITU 00 prefix", "0033612345678", "33", "+33612345678", NULL},
    {"French national with trunk 0", "0612345678", "33", "+33612345678", NULL},
    {"French national written with spaces", "06 12 34 56 78", "33", "+33612345678", NULL},
    {"French national written with dots", "06.12.34.56.78", "33", "+33612345678", NULL},
    {"bare MSISDN starting with default cc", "33612345678", "33", "+33612345678", NULL},
    {"Italian mobile, no trunk prefix", "3471234567", "39", "+393471234567", NULL},
    {"foreign number in E.164 with another default cc", "+447700900123", "33", "+447700900123", NULL},
    {"bare digits without default cc read as international", "447700900123", NULL, "+447700900123", NULL},
    {"exactly 15 digits", "+123456789012345", NULL, "+123456789012345", NULL},
    {"Niue, 7 digits", "+6834002", NULL, "+6834002", NULL},
    {"16 digits", "+1234567890123456", NULL, NULL, "too long"},
    {"national too long once cc added", "0612345678901234", "33", NULL, "too long"},
    {"too short", "+33612", NULL, NULL, "too short"},
    {"empty", "", "33", NULL, "empty"},
    {"only a plus", "+", "33", NULL, "no digits"},
    {"only the 00 prefix", "00", "33", NULL, "after the international prefix"},
    {"letters", "+33612ABC678", "33", NULL, "letter"},
    {"CRLF injection into AT command", "+33612345678\r\nAT+CFUN=0", "33", NULL, "line break"},
    {"quote injection", "+3361234\"5678", "33", NULL, "quote"},
    {"plus in the middle", "33+612345678", "33", NULL, "'+'"},
    {"national without default cc", "0612345678", NULL, NULL, "no default country code"},
    {"country code 0 after plus", "+0612345678", "33", NULL, "cannot start with 0"},
    {"leading space", " 0612345678", "33", NULL, "unexpected character"},
    {"trailing dash", "0612345678-", "33", NULL, "unexpected character"},
    {"UTF-8 digit look-alike", "+33\xef\xbc\x96" "12345678", "33", NULL, "non-ASCII"},
    {"very long input rejected unread", "+33612345678901234567890123456789012345", "33", NULL, "longer than"},
    {"bad configured default cc", "0612345678", "033", NULL, "country code"},
};

static void test_normalise_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(norm_cases) / sizeof(norm_cases[0]); i++) {
        const struct norm_case *c = &norm_cases[i];
        char out[MSISDN_BUF];
        struct sg_err err = {0};
        int rc = msisdn_normalise(c->in, c->cc, out, &err);
        if (c->want) {
            if (rc != 0)
                fail_msg("%s: rejected: %s", c->name, err.msg);
            assert_string_equal(out, c->want);
        } else {
            if (rc != -EINVAL)
                fail_msg("%s: accepted as %s", c->name, out);
            if (!strstr(err.msg, c->why))
                fail_msg("%s: error \"%s\" lacks \"%s\"", c->name, err.msg, c->why);
            assert_string_equal(out, "");
        }
    }
}

static void test_embedded_nul(void **state)
{
    (void)state;
    static const char in[] = "+3361\0" "2345678";
    char out[MSISDN_BUF];
    struct sg_err err = {0};
    assert_int_equal(msisdn_normalise_n(in, sizeof(in) - 1, "33", out, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "NUL"));
    assert_int_equal(msisdn_normalise(NULL, "33", out, &err), -EINVAL);
}

static void test_mask(void **state)
{
    (void)state;
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"+33612345678", "+33*******78"},
        {"0612345678", "061*****78"},
        {"12345", "****5"},
        {"", ""},
        {"+33\r\n\"bad\"", "+33*****??"},
        {"+3361234567890123456789012345678901234567890", "+33******************90"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[MSISDN_MASK_BUF];
        assert_string_equal(msisdn_mask(cases[i].in, out), cases[i].want);
        assert_true(strlen(out) < MSISDN_MASK_BUF);
    }
}

struct same_case {
    const char *name;
    const char *stored, *reported;
    int toa;
    const char *cc;
    bool want;
};

static const struct same_case same_cases[] = {
    {"SMSC echoes E.164", "+33612345678", "+33612345678", 0x91, "33", true},
    {"international digits without plus, TOA 0x91", "+33612345678", "33612345678", 0x91, "33", true},
    {"national RA with trunk 0 (TOA national)", "+33612345678", "0612345678", 0xA1, "33", true},
    {"national RA from an operator that strips +33", "+33612345678", "612345678", 0x81, "33", true},
    {"national RA, TOA unknown to the decoder", "+33612345678", "0612345678", MSISDN_TOA_UNKNOWN, "33", true},
    {"00 form", "+33612345678", "0033612345678", 0x81, "33", true},
    {"different subscriber", "+33612345678", "0612345679", 0x81, "33", false},
    {"national form but TOA says international", "+33612345678", "612345678", 0x91, "33", false},
    {"national form of another country's number", "+447700900123", "07700900123", 0x81, "33", false},
    {"no default cc: long suffix matches", "+447700900123", "07700900123", 0x81, NULL, true},
    {"no default cc: short suffix does not", "+447700900123", "123", 0x81, NULL, false},
    {"garbage in report", "+33612345678", "06123X5678", 0x81, "33", false},
    {"empty report", "+33612345678", "", 0x81, "33", false},
    {"NULL report", "+33612345678", NULL, 0x81, "33", false},
};

static void test_same_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(same_cases) / sizeof(same_cases[0]); i++) {
        const struct same_case *c = &same_cases[i];
        if (msisdn_same(c->stored, c->reported, c->toa, c->cc) != c->want)
            fail_msg("%s: expected %s", c->name, c->want ? "match" : "no match");
    }
}

/* xorshift32: deterministic "random" input, so a failure reproduces. */
static uint32_t rnd(uint32_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

static bool valid_e164(const char *s)
{
    size_t n = strlen(s);
    if (n < MSISDN_MIN_DIGITS + 1 || n > MSISDN_MAX_DIGITS + 1 || s[0] != '+' || s[1] < '1' || s[1] > '9')
        return false;
    for (size_t i = 2; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static void test_random_input_properties(void **state)
{
    (void)state;
    /* 200k inputs biased towards digits and the accepted punctuation: every
     * accepted output is valid E.164, normalising it again is a no-op, it
     * compares equal to itself, and masking is always bounded. */
    static const char alphabet[] = "0000123456789+ -.()\"'\r\n\0aZ#*";
    uint32_t x = 2463534242u;
    unsigned accepted = 0;
    for (int i = 0; i < 200000; i++) {
        char in[40];
        size_t len = rnd(&x) % sizeof(in);
        /* Every other input is "plausible": digits, a leading + or 00, and
         * a rare separator, to reach the accepting paths. */
        bool plausible = (i % 4) < 2;
        for (size_t k = 0; k < len; k++) {
            uint32_t r = rnd(&x);
            if (!plausible)
                in[k] = alphabet[r % (sizeof(alphabet) - 1)];
            else if (k == 0 && r % 3 == 0)
                in[k] = '+';
            else
                in[k] = (r % 17 == 0) ? ' ' : (char)('0' + r % 10);
        }
        const char *cc = (i & 1) ? "33" : ((i & 2) ? "1" : NULL);
        char out[MSISDN_BUF], again[MSISDN_BUF], masked[MSISDN_MASK_BUF];
        struct sg_err err = {0};
        if (msisdn_normalise_n(in, len, cc, out, &err) == 0) {
            accepted++;
            if (!valid_e164(out))
                fail_msg("accepted \"%.*s\" as invalid \"%s\"", (int)len, in, out);
            assert_int_equal(msisdn_normalise(out, cc, again, NULL), 0);
            assert_string_equal(out, again);
            assert_true(msisdn_same(out, out, MSISDN_TOA_INTERNATIONAL, cc));
        } else {
            assert_true(err.msg[0] != '\0');
            assert_string_equal(out, "");
        }
        assert_true(strlen(msisdn_mask(out, masked)) < MSISDN_MASK_BUF);
    }
    assert_true(accepted > 1000);   /* the generator does reach the accepting paths */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normalise_table),
        cmocka_unit_test(test_embedded_nul),
        cmocka_unit_test(test_mask),
        cmocka_unit_test(test_same_table),
        cmocka_unit_test(test_random_input_properties),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
