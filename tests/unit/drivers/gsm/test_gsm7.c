/* GSM 03.38 tables and septet packing. Expected codes are from TS 23.038
 * §6.2.1 and Annex A (the tables as printed in the spec), not from our
 * own tables. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "drivers/gsm/gsm7.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

struct char_case {
    const char *name;
    uint32_t cp;
    int locking, single;
    int n;        /* septets, 0 = not representable */
    uint8_t code; /* last septet */
};

static void test_encode_char(void **state)
{
    (void)state;
    static const struct char_case cases[] = {
        {"'@' is 0x00 (NUL-terminated strings break)", '@', 0, 0, 1, 0x00},
        {"'$' is 0x02", '$', 0, 0, 1, 0x02},
        {"pound 0x01", 0xA3, 0, 0, 1, 0x01},
        {"LF 0x0A", '\n', 0, 0, 1, 0x0A},
        {"CR 0x0D", '\r', 0, 0, 1, 0x0D},
        {"underscore 0x11", '_', 0, 0, 1, 0x11},
        {"Greek Delta 0x10", 0x394, 0, 0, 1, 0x10},
        {"Greek Xi 0x1A", 0x39E, 0, 0, 1, 0x1A},
        {"inverted ! 0x40", 0xA1, 0, 0, 1, 0x40},
        {"section 0x5F", 0xA7, 0, 0, 1, 0x5F},
        {"inverted ? 0x60", 0xBF, 0, 0, 1, 0x60},
        {"a-grave 0x7F", 0xE0, 0, 0, 1, 0x7F},
        {"capital C-cedilla 0x09", 0xC7, 0, 0, 1, 0x09},
        {"currency sign 0x24", 0xA4, 0, 0, 1, 0x24},
        /* default extension table: each costs ESC + code */
        {"ext form feed", 0x0C, 0, 0, 2, 0x0A},
        {"ext caret", '^', 0, 0, 2, 0x14},
        {"ext {", '{', 0, 0, 2, 0x28},
        {"ext }", '}', 0, 0, 2, 0x29},
        {"ext backslash", '\\', 0, 0, 2, 0x2F},
        {"ext [", '[', 0, 0, 2, 0x3C},
        {"ext ~", '~', 0, 0, 2, 0x3D},
        {"ext ]", ']', 0, 0, 2, 0x3E},
        {"ext |", '|', 0, 0, 2, 0x40},
        {"ext euro", 0x20AC, 0, 0, 2, 0x65},
        /* missing from the default table (REFERENCE §4) */
        {"backtick missing", '`', 0, 0, 0, 0},
        {"a-acute missing", 0xE1, 0, 0, 0, 0},
        {"lowercase c-cedilla missing", 0xE7, 0, 0, 0, 0},
        {"a-circumflex missing", 0xE2, 0, 0, 0, 0},
        {"Cyrillic missing", 0x0414, 0, 0, 0, 0},
        {"emoji missing", 0x1F600, 0, 0, 0, 0},
        {"NBSP missing (smart encoding handles it)", 0xA0, 0, 0, 0, 0},
        /* A.2.2 Spanish single shift */
        {"es single a-acute", 0xE1, 0, GSM7_LANG_SPANISH, 2, 0x61},
        {"es single i-acute", 0xED, 0, GSM7_LANG_SPANISH, 2, 0x69},
        {"es single o-acute", 0xF3, 0, GSM7_LANG_SPANISH, 2, 0x6F},
        {"es single u-acute", 0xFA, 0, GSM7_LANG_SPANISH, 2, 0x75},
        {"es single c-cedilla", 0xE7, 0, GSM7_LANG_SPANISH, 2, 0x09},
        {"es single A-acute", 0xC1, 0, GSM7_LANG_SPANISH, 2, 0x41},
        {"es single I-acute", 0xCD, 0, GSM7_LANG_SPANISH, 2, 0x49},
        {"es single O-acute", 0xD3, 0, GSM7_LANG_SPANISH, 2, 0x4F},
        {"es single U-acute", 0xDA, 0, GSM7_LANG_SPANISH, 2, 0x55},
        {"es single keeps euro", 0x20AC, 0, GSM7_LANG_SPANISH, 2, 0x65},
        {"es n-tilde from default table", 0xF1, 0, GSM7_LANG_SPANISH, 1, 0x7D},
        {"Spanish has no locking table", 'a', GSM7_LANG_SPANISH, 0, 0, 0},
        /* A.2.1 Turkish single shift */
        {"tr single G-breve", 0x11E, 0, GSM7_LANG_TURKISH, 2, 0x47},
        {"tr single I-dot", 0x130, 0, GSM7_LANG_TURKISH, 2, 0x49},
        {"tr single S-cedilla", 0x15E, 0, GSM7_LANG_TURKISH, 2, 0x53},
        {"tr single c-cedilla", 0xE7, 0, GSM7_LANG_TURKISH, 2, 0x63},
        {"tr single g-breve", 0x11F, 0, GSM7_LANG_TURKISH, 2, 0x67},
        {"tr single dotless i", 0x131, 0, GSM7_LANG_TURKISH, 2, 0x69},
        {"tr single s-cedilla", 0x15F, 0, GSM7_LANG_TURKISH, 2, 0x73},
        /* A.3.1 Turkish locking shift */
        {"tr locking euro 0x04", 0x20AC, GSM7_LANG_TURKISH, 0, 1, 0x04},
        {"tr locking dotless i 0x07", 0x131, GSM7_LANG_TURKISH, 0, 1, 0x07},
        {"tr locking G-breve 0x0B", 0x11E, GSM7_LANG_TURKISH, 0, 1, 0x0B},
        {"tr locking g-breve 0x0C", 0x11F, GSM7_LANG_TURKISH, 0, 1, 0x0C},
        {"tr locking S-cedilla 0x1C", 0x15E, GSM7_LANG_TURKISH, 0, 1, 0x1C},
        {"tr locking s-cedilla 0x1D", 0x15F, GSM7_LANG_TURKISH, 0, 1, 0x1D},
        {"tr locking I-dot 0x40", 0x130, GSM7_LANG_TURKISH, 0, 1, 0x40},
        {"tr locking c-cedilla 0x60", 0xE7, GSM7_LANG_TURKISH, 0, 1, 0x60},
        {"tr locking lost e-grave", 0xE8, GSM7_LANG_TURKISH, 0, 0, 0},
        /* A.2.3 Portuguese single shift */
        {"pt single e-circumflex", 0xEA, 0, GSM7_LANG_PORTUGUESE, 2, 0x05},
        {"pt single O-circumflex", 0xD4, 0, GSM7_LANG_PORTUGUESE, 2, 0x0B},
        {"pt single a-acute", 0xE1, 0, GSM7_LANG_PORTUGUESE, 2, 0x0F},
        {"pt single Phi", 0x3A6, GSM7_LANG_PORTUGUESE, GSM7_LANG_PORTUGUESE, 2, 0x12},
        {"pt single E-circumflex", 0xCA, 0, GSM7_LANG_PORTUGUESE, 2, 0x1F},
        {"pt single A-grave", 0xC0, 0, GSM7_LANG_PORTUGUESE, 2, 0x41},
        {"pt single A-tilde", 0xC3, 0, GSM7_LANG_PORTUGUESE, 2, 0x5B},
        {"pt single A-circumflex", 0xC2, 0, GSM7_LANG_PORTUGUESE, 2, 0x61},
        {"pt single a-tilde", 0xE3, 0, GSM7_LANG_PORTUGUESE, 2, 0x7B},
        {"pt single o-tilde", 0xF5, 0, GSM7_LANG_PORTUGUESE, 2, 0x7C},
        {"pt single a-circumflex", 0xE2, 0, GSM7_LANG_PORTUGUESE, 2, 0x7F},
        /* A.3.3 Portuguese locking shift */
        {"pt locking e-circumflex 0x04", 0xEA, GSM7_LANG_PORTUGUESE, 0, 1, 0x04},
        {"pt locking c-cedilla 0x09", 0xE7, GSM7_LANG_PORTUGUESE, 0, 1, 0x09},
        {"pt locking ordinal a 0x12", 0xAA, GSM7_LANG_PORTUGUESE, 0, 1, 0x12},
        {"pt locking infinity 0x15", 0x221E, GSM7_LANG_PORTUGUESE, 0, 1, 0x15},
        {"pt locking caret 0x16", '^', GSM7_LANG_PORTUGUESE, 0, 1, 0x16},
        {"pt locking euro 0x18", 0x20AC, GSM7_LANG_PORTUGUESE, 0, 1, 0x18},
        {"pt locking ordinal o 0x24", 0xBA, GSM7_LANG_PORTUGUESE, 0, 1, 0x24},
        {"pt locking I-acute 0x40", 0xCD, GSM7_LANG_PORTUGUESE, 0, 1, 0x40},
        {"pt locking tilde 0x60", '~', GSM7_LANG_PORTUGUESE, 0, 1, 0x60},
        {"pt locking backtick 0x7D", '`', GSM7_LANG_PORTUGUESE, 0, 1, 0x7D},
        {"pt locking a-tilde 0x7B", 0xE3, GSM7_LANG_PORTUGUESE, 0, 1, 0x7B},
        {"pt locking lost Greek Lambda", 0x39B, GSM7_LANG_PORTUGUESE, 0, 0, 0},
    };

    for (size_t i = 0; i < N(cases); i++) {
        const struct char_case *c = &cases[i];
        uint8_t out[2] = {0xEE, 0xEE};
        int n = gsm7_encode_char(c->cp, c->locking, c->single, out);

        print_message("%s\n", c->name);
        assert_int_equal(n, c->n);
        if (n == 0)
            continue;
        assert_int_equal(out[n - 1], c->code);
        if (n == 2) {
            assert_int_equal(out[0], GSM7_ESC);
            assert_int_equal(gsm7_decode_ext(c->code, c->single, c->locking), c->cp);
        } else {
            assert_int_equal(gsm7_decode_char(c->code, c->locking), c->cp);
        }
    }
}

/* Every character of every table survives encode -> decode. */
static void test_tables_round_trip(void **state)
{
    (void)state;
    static const int langs[] = {GSM7_LANG_NONE, GSM7_LANG_TURKISH, GSM7_LANG_SPANISH,
                                GSM7_LANG_PORTUGUESE};

    for (size_t l = 0; l < N(langs); l++) {
        int lock = gsm7_has_locking(langs[l]) ? langs[l] : GSM7_LANG_NONE;
        unsigned singles = 0;

        for (unsigned s = 0; s < 128; s++) {
            uint8_t out[2];
            uint32_t cp;

            if (s == GSM7_ESC)
                continue;
            cp = gsm7_decode_char((uint8_t)s, lock);
            assert_int_equal(gsm7_encode_char(cp, lock, langs[l], out), 1);
            assert_int_equal(out[0], s);
            cp = gsm7_decode_ext((uint8_t)s, langs[l], GSM7_LANG_NONE);
            if (cp == gsm7_decode_char((uint8_t)s, GSM7_LANG_NONE))
                continue; /* undefined in the single shift table */
            singles++;
            assert_int_not_equal(gsm7_encode_char(cp, lock, langs[l], out), 0);
        }
        /* Sizes from the spec tables: default 10 (form feed .. euro), Turkish
         * 17, Spanish 19, Portuguese 37 of which 7 Greek capitals sit at the
         * same codes as in the default table, so 30 differ. */
        static const unsigned want[] = {10, 17, 19, 30};
        assert_int_equal(singles, want[l]);
    }
}

static void test_decode_oddities(void **state)
{
    (void)state;
    /* TS 23.038 note 1: ESC ESC is reserved and shown as a space. */
    assert_int_equal(gsm7_decode_ext(GSM7_ESC, 0, 0), ' ');
    /* An undefined extension code shows the main table character. */
    assert_int_equal(gsm7_decode_ext('A', 0, 0), 'A');
    assert_int_equal(gsm7_decode_ext(0x09, GSM7_LANG_NONE, GSM7_LANG_NONE), 0xC7);
    /* Unknown languages fall back to the default tables. */
    assert_int_equal(gsm7_decode_char(0x00, 9), '@');
    assert_int_equal(gsm7_decode_ext(0x65, 9, 9), 0x20AC);
    assert_false(gsm7_has_locking(GSM7_LANG_SPANISH));
    assert_true(gsm7_has_single(GSM7_LANG_SPANISH));
    assert_false(gsm7_has_single(4));
}

static void test_pack(void **state)
{
    (void)state;
    /* "hellohello" from oFono simple_submit: E8329BFD4697D9EC37 */
    static const uint8_t hello[] = {'h', 'e', 'l', 'l', 'o', 'h', 'e', 'l', 'l', 'o'};
    static const uint8_t want[] = {0xE8, 0x32, 0x9B, 0xFD, 0x46, 0x97, 0xD9, 0xEC, 0x37};
    uint8_t out[16], back[16];

    assert_int_equal(gsm7_pack(hello, sizeof(hello), 0, out), sizeof(want));
    assert_memory_equal(out, want, sizeof(want));
    assert_int_equal(gsm7_unpack(out, sizeof(want), 0, sizeof(hello), back), 0);
    assert_memory_equal(back, hello, sizeof(hello));

    /* After a 6-octet UDH the text starts 1 fill bit later (bit 49 = 7 septets). */
    for (unsigned fill = 0; fill < 7; fill++) {
        memset(out, 0xAA, sizeof(out));
        size_t n = gsm7_pack(hello, sizeof(hello), fill, out);
        assert_int_equal(n, (fill + 70 + 7) / 8);
        assert_int_equal(out[0] & ((1u << fill) - 1), 0);
        assert_int_equal(gsm7_unpack(out, n, fill, sizeof(hello), back), 0);
        assert_memory_equal(back, hello, sizeof(hello));
    }
    /* 8 septets fill exactly 7 octets: no stray '@' from a trailing 0x00 octet. */
    static const uint8_t eight[] = {'@', '@', '@', '@', '@', '@', '@', 'a'};
    assert_int_equal(gsm7_pack(eight, 8, 0, out), 7);
    /* Too short input is refused, not over-read. */
    assert_int_equal(gsm7_unpack(out, 1, 0, 2, back), -1);
    assert_int_equal(gsm7_unpack(out, 7, 0, 8, back), 0);
    assert_int_equal(gsm7_unpack(out, 7, 1, 8, back), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_char),
        cmocka_unit_test(test_tables_round_trip),
        cmocka_unit_test(test_decode_oddities),
        cmocka_unit_test(test_pack),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
