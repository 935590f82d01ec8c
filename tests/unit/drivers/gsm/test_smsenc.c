/* Encoding choice and segmentation: the capacity edges of TS 23.040
 * (160/161/153, 70/71/67), escapes and surrogate pairs at part boundaries,
 * shift-table choice, smart encoding and the part cap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "drivers/gsm/gsm7.h"
#include "drivers/gsm/smsenc.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define BIG  8192

/* Builds "a" x n1 + mid + "b" x n2 from UTF-8 pieces into buf. */
static const char *rep(char *buf, const char *a, unsigned n1, const char *mid, const char *b,
                       unsigned n2)
{
    size_t k = 0;

    buf[0] = '\0';
    for (unsigned i = 0; i < n1; i++)
        k += (size_t)snprintf(buf + k, BIG - k, "%s", a);
    k += (size_t)snprintf(buf + k, BIG - k, "%s", mid);
    for (unsigned i = 0; i < n2; i++)
        k += (size_t)snprintf(buf + k, BIG - k, "%s", b);
    return buf;
}

struct plan_case {
    const char *name;
    const char *a;
    unsigned n1;
    const char *mid;
    const char *b;
    unsigned n2;
    struct smsenc_opts o;
    const char *enc;
    unsigned parts, left, per_part;
};

static void test_plan(void **state)
{
    (void)state;
    static const struct plan_case cases[] = {
        {"empty text is one empty part", "", 0, "", "", 0, {0}, "gsm7", 1, 160, 160},
        {"a single '@'", "", 0, "@", "", 0, {0}, "gsm7", 1, 159, 160},
        {"160 GSM-7 chars fit one part", "a", 160, "", "", 0, {0}, "gsm7", 1, 0, 160},
        {"161 GSM-7 chars: 153 + 8", "a", 161, "", "", 0, {0}, "gsm7", 2, 145, 153},
        {"306 GSM-7 chars: exactly 2 x 153", "a", 306, "", "", 0, {0}, "gsm7", 2, 0, 153},
        {"307 GSM-7 chars: 3 parts", "a", 307, "", "", 0, {0}, "gsm7", 3, 152, 153},
        {"161 chars with 16-bit ref: 152 + 9",
         "a",
         161,
         "",
         "",
         0,
         {.ref16 = true},
         "gsm7",
         2,
         143,
         152},
        {"80 euros = 160 septets, one part", "€", 80, "", "", 0, {0}, "gsm7", 1, 0, 160},
        {"159 chars + euro = 161 septets", "a", 159, "€", "", 0, {0}, "gsm7", 2, 145, 153},
        {"70 Cyrillic fit one UCS-2 part", "Д", 70, "", "", 0, {0}, "ucs2", 1, 0, 70},
        {"71 Cyrillic: 67 + 4", "Д", 71, "", "", 0, {0}, "ucs2", 2, 63, 67},
        {"134 Cyrillic: exactly 2 x 67", "Д", 134, "", "", 0, {0}, "ucs2", 2, 0, 67},
        {"71 Cyrillic, 16-bit ref: 66 + 5", "Д", 71, "", "", 0, {.ref16 = true}, "ucs2", 2, 61, 66},
        {"35 emoji = 70 units, one part", "😀", 35, "", "", 0, {0}, "ucs2", 1, 0, 70},
        {"36 emoji: pairs never split, 33 + 3", "😀", 36, "", "", 0, {0}, "ucs2", 2, 61, 67},
        {"69 chars + emoji = 71 units", "a", 69, "😀", "", 0, {0}, "ucs2", 2, 63, 67},
        {"short Spanish: UCS-2 wins the tie", "", 0, "¿Sí?", "", 0, {0}, "ucs2", 1, 66, 70},
        {"Señor, ¿qué tal? is all default GSM-7",
         "",
         0,
         "Señor, ¿qué tal?",
         "",
         0,
         {0},
         "gsm7",
         1,
         144,
         160},
        {"long Spanish: single shift saves a part",
         "a",
         100,
         "á",
         "",
         0,
         {0},
         "gsm7-es",
         1,
         53,
         155},
        {"Spanish multipart: 149 per part", "a", 200, "á", "", 0, {0}, "gsm7-es", 2, 96, 149},
        {"Turkish s-cedilla x100: locking shift", "ş", 100, "", "", 0, {0}, "gsm7-tr", 1, 55, 155},
        {"Portuguese a-tilde x100", "ã", 100, "", "", 0, {0}, "gsm7-pt", 1, 55, 155},
        {"--no-shift sends Spanish as UCS-2",
         "a",
         100,
         "á",
         "",
         0,
         {.no_shift = true},
         "ucs2",
         2,
         33,
         67},
        {"--ucs2 forces UCS-2", "a", 10, "", "", 0, {.force_ucs2 = true}, "ucs2", 1, 60, 70},
        {"smart: curly quotes stay GSM-7",
         "a",
         100,
         "“x” — it’s…",
         "",
         0,
         {.smart = true},
         "gsm7",
         1,
         47,
         160},
        {"without smart the same text is UCS-2",
         "a",
         100,
         "“x” — it’s…",
         "",
         0,
         {0},
         "ucs2",
         2,
         23,
         67},
        {"smart never touches a UCS-2 text",
         "Д",
         10,
         "“x”",
         "",
         0,
         {.smart = true},
         "ucs2",
         1,
         57,
         70},
    };
    static char buf[BIG];

    for (size_t i = 0; i < N(cases); i++) {
        const struct plan_case *c = &cases[i];
        const char *t = rep(buf, c->a, c->n1, c->mid, c->b, c->n2);
        struct smsenc_plan p;
        struct sg_err err = {0};

        print_message("%s\n", c->name);
        assert_int_equal(smsenc_plan_text(t, strlen(t), &c->o, &p, &err), 0);
        assert_string_equal(smsenc_name(&p.enc), c->enc);
        assert_int_equal(p.parts, c->parts);
        assert_int_equal(p.left, c->left);
        assert_int_equal(p.per_part, c->per_part);
    }
}

/* Cuts a text into parts and returns the unit count of each. */
static unsigned cut(const char *t, const struct smsenc_opts *o, struct smsenc_part *parts,
                    unsigned cap)
{
    struct smsenc_plan p;
    size_t off = 0;

    assert_int_equal(smsenc_plan_text(t, strlen(t), o, &p, NULL), 0);
    assert_true(p.parts <= cap);
    for (unsigned i = 0; i < p.parts; i++)
        assert_int_equal(smsenc_next_part(t, strlen(t), &p, o->smart, &off, &parts[i], NULL), 0);
    assert_int_equal(off, strlen(t));
    return p.parts;
}

static void test_boundaries(void **state)
{
    (void)state;
    static char buf[BIG];
    static struct smsenc_part parts[12];
    struct smsenc_opts o = {0};

    /* Escape at the boundary: 152 'a' + '€' needs 154 > 153, so ESC and 0x65
     * both move to part 2 and part 1 carries 152 septets. */
    assert_int_equal(cut(rep(buf, "a", 152, "€", "b", 10), &o, parts, 12), 2);
    assert_int_equal(parts[0].n, 152);
    assert_int_equal(parts[1].n, 12);
    assert_int_equal(parts[1].u[0], GSM7_ESC);
    assert_int_equal(parts[1].u[1], 0x65);
    /* 151 'a' + '€' fits exactly: 153. */
    assert_int_equal(cut(rep(buf, "a", 151, "€", "b", 10), &o, parts, 12), 2);
    assert_int_equal(parts[0].n, 153);
    assert_int_equal(parts[0].u[151], GSM7_ESC);
    /* Every extension character at the boundary. */
    static const char *const ext[] = {"^", "{", "}", "\\", "[", "~", "]", "|", "€", "\f"};
    for (size_t i = 0; i < N(ext); i++) {
        assert_int_equal(cut(rep(buf, "a", 152, ext[i], "b", 10), &o, parts, 12), 2);
        assert_int_equal(parts[0].n, 152);
        assert_int_equal(parts[1].u[0], GSM7_ESC);
    }
    /* Surrogate pair at the UCS-2 boundary: 66 'x' + emoji = 68 > 67. */
    assert_int_equal(cut(rep(buf, "x", 66, "😀", "y", 5), &o, parts, 12), 2);
    assert_int_equal(parts[0].n, 66);
    assert_int_equal(parts[1].n, 7);
    assert_int_equal(parts[1].u[0], 0xD83D);
    assert_int_equal(parts[1].u[1], 0xDE00);
    /* Emoji flag = two pairs; each pair stays whole. */
    assert_int_equal(cut(rep(buf, "x", 65, "🇩🇪", "y", 5), &o, parts, 12), 2);
    assert_int_equal(parts[0].n, 67);
    assert_int_equal(parts[0].u[65], 0xD83C);
    assert_int_equal(parts[1].n, 7);
    assert_int_equal(parts[1].u[0], 0xD83C);
    /* '@' is septet 0 and is kept, also last. */
    assert_int_equal(cut("@@", &o, parts, 12), 1);
    assert_int_equal(parts[0].n, 2);
    assert_int_equal(parts[0].u[1], 0);
}

static void test_smart(void **state)
{
    (void)state;
    static const struct {
        uint32_t cp;
        const char *to;
    } cases[] = {
        {0x2018, "'"},  {0x2019, "'"},  {0x201C, "\""}, {0x201D, "\""},  {0x201E, "\""},
        {0x2013, "-"},  {0x2014, "-"},  {0x2212, "-"},  {0x2026, "..."}, {0x00A0, " "},
        {0x202F, " "},  {0x200B, ""},   {0xFEFF, ""},   {0x00AD, ""},    {0x2022, "*"},
        {0x00AB, "<<"}, {0x2122, "TM"}, {0xFF21, "A"},  {0xFF5E, "~"},   {0xFB01, "fi"},
    };

    for (size_t i = 0; i < N(cases); i++) {
        const char *r = smsenc_translit(cases[i].cp);

        assert_non_null(r);
        assert_string_equal(r, cases[i].to);
    }
    assert_null(smsenc_translit('a'));
    assert_null(smsenc_translit(0x0414));
    assert_null(smsenc_translit(0x1F600));

    /* Text check: “Hi” — it’s… -> "Hi" - it's... (zero width space dropped) */
    static const char t[] = "“Hi”\u200b — it’s…";
    static const char want[] = "\"Hi\" - it's...";
    struct smsenc_opts o = {.smart = true};
    struct smsenc_plan p;
    struct smsenc_part part;
    size_t off = 0;

    assert_int_equal(smsenc_plan_text(t, strlen(t), &o, &p, NULL), 0);
    assert_string_equal(smsenc_name(&p.enc), "gsm7");
    assert_int_equal(p.translit, 6);
    assert_int_equal(smsenc_next_part(t, strlen(t), &p, true, &off, &part, NULL), 0);
    assert_int_equal(part.n, strlen(want));
    for (size_t i = 0; i < strlen(want); i++) {
        uint8_t s[2];
        assert_int_equal(gsm7_encode_char((uint8_t)want[i], 0, 0, s), 1);
        assert_int_equal(part.u[i], s[0]);
    }
}

static void test_errors(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        const char *text;
        size_t off;
    } bad[] = {
        {"lone continuation byte", "ab\x80", 2},
        {"truncated euro", "ab\xE2\x82", 2},
        {"overlong slash", "\xC0\xAF", 0},
        {"overlong 3-byte", "x\xE0\x80\xAF", 1},
        {"UTF-16 surrogate in UTF-8", "ok\xED\xA0\x80", 2},
        {"above U+10FFFF", "\xF4\x90\x80\x80", 0},
        {"invalid lead byte F5", "\xF5\x80\x80\x80", 0},
        {"bad second byte", "\xC3\x28", 0},
    };
    struct smsenc_plan p;
    struct sg_err err = {0};
    char want[64];

    for (size_t i = 0; i < N(bad); i++) {
        struct smsenc_opts o = {0};

        print_message("%s\n", bad[i].name);
        assert_int_equal(smsenc_plan_text(bad[i].text, strlen(bad[i].text), &o, &p, &err), -EILSEQ);
        snprintf(want, sizeof(want), "byte offset %zu", bad[i].off);
        assert_non_null(strstr(err.msg, want));
    }

    static char buf[BIG];
    struct smsenc_opts o = {0};
    const char *t = rep(buf, "a", 1530, "", "", 0);
    assert_int_equal(smsenc_plan_text(t, strlen(t), &o, &p, &err), 0);
    assert_int_equal(p.parts, 10);
    t = rep(buf, "a", 1531, "", "", 0);
    assert_int_equal(smsenc_plan_text(t, strlen(t), &o, &p, &err), -E2BIG);
    assert_int_equal(p.parts, 11);
    assert_non_null(strstr(err.msg, "11 parts"));
    o.max_parts = 11;
    assert_int_equal(smsenc_plan_text(t, strlen(t), &o, &p, &err), 0);
    o.max_parts = 256;
    assert_int_equal(smsenc_plan_text(t, strlen(t), &o, &p, &err), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plan),
        cmocka_unit_test(test_boundaries),
        cmocka_unit_test(test_smart),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
