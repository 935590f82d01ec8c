/* Framing fed from tests/transcripts/, split at every chunk size, plus the
 * edge cases: every prompt variant, PDU follows, the line cap, noise. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/at/at_frame.h"

#define STREAM_MAX (64 * 1024)
#define TOKS_MAX 256

struct tok {
    enum at_frame_tok type;
    char text[AT_FRAME_LINE_MAX + 1];
};

struct transcript {
    char name[256];
    uint8_t bytes[STREAM_MAX];
    size_t len;
    struct tok want[TOKS_MAX];
    size_t nwant;
};

/* ---------------------------------------------------------------- helpers */

static size_t unescape(const char *s, uint8_t *out, size_t cap)
{
    size_t n = 0;

    while (*s && *s != '\n') {
        uint8_t c = (uint8_t)*s++;
        if (c == '\\' && *s) {
            char e = *s++;
            switch (e) {
            case 'r': c = '\r'; break;
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case '\\': c = '\\'; break;
            case 'x': {
                char hex[3] = {s[0], s[1], 0};
                c = (uint8_t)strtoul(hex, NULL, 16);
                s += 2;
                break;
            }
            default: fail_msg("bad escape \\%c", e);
            }
        }
        assert_true(n < cap);
        out[n++] = c;
    }
    return n;
}

/* Copy a literal without its NUL (the framer gets raw bytes). */
static void put(uint8_t *dst, const char *s)
{
    while (*s)
        *dst++ = (uint8_t)*s++;
}

static enum at_frame_tok tok_type(const char *word)
{
    static const enum at_frame_tok all[] = {AT_FRAME_LINE, AT_FRAME_PDU_HEADER, AT_FRAME_PDU,
                                            AT_FRAME_PROMPT, AT_FRAME_OVERFLOW};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        if (strcmp(word, at_frame_tok_name(all[i])) == 0)
            return all[i];
    fail_msg("unknown token type '%s'", word);
    return AT_FRAME_NONE;
}

static void load(const char *path, struct transcript *t)
{
    FILE *f = fopen(path, "r");
    char line[8192];

    assert_non_null(f);
    memset(t, 0, sizeof(*t));
    snprintf(t->name, sizeof(t->name), "%s", path);
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "< ", 2) == 0) {
            t->len += unescape(line + 2, t->bytes + t->len, STREAM_MAX - t->len);
        } else if (strncmp(line, "= ", 2) == 0) {
            struct tok *w = &t->want[t->nwant++];
            char *word = line + 2, *sp;
            line[strcspn(line, "\n")] = '\0';
            sp = strchr(word, ' ');
            if (sp)
                *sp = '\0';
            w->type = tok_type(word);
            if (sp) {
                size_t n = unescape(sp + 1, (uint8_t *)w->text, sizeof(w->text) - 1);
                w->text[n] = '\0';
            }
        }
    }
    fclose(f);
}

/* Feed `bytes` in chunks of `chunk` and collect every token. */
static size_t run(const uint8_t *bytes, size_t len, size_t chunk, struct tok *out, size_t cap)
{
    struct at_frame fr;
    struct at_frame_token tk;
    size_t ntok = 0;

    at_frame_init(&fr);
    for (size_t off = 0; off < len; off += chunk) {
        size_t n = len - off < chunk ? len - off : chunk;
        const uint8_t *p = bytes + off;
        while (n > 0) {
            size_t used = at_frame_push(&fr, p, n, &tk);
            assert_true(used > 0 && used <= n);
            p += used;
            n -= used;
            if (tk.type == AT_FRAME_NONE)
                continue;
            assert_true(ntok < cap);
            out[ntok].type = tk.type;
            assert_int_equal(strlen(tk.text), tk.len);
            memcpy(out[ntok].text, tk.text, tk.len + 1);
            ntok++;
        }
    }
    return ntok;
}

static void check_tokens(const char *name, size_t chunk, const struct tok *got, size_t ngot,
                         const struct tok *want, size_t nwant)
{
    for (size_t i = 0; i < ngot && i < nwant; i++) {
        if (got[i].type != want[i].type || strcmp(got[i].text, want[i].text) != 0)
            fail_msg("%s chunk %zu token %zu: got %s '%s', want %s '%s'", name, chunk, i,
                     at_frame_tok_name(got[i].type), got[i].text, at_frame_tok_name(want[i].type),
                     want[i].text);
    }
    if (ngot != nwant)
        fail_msg("%s chunk %zu: %zu tokens, want %zu", name, chunk, ngot, nwant);
}

static const char *root(void)
{
    const char *r = getenv("SG_ROOT");
    return r ? r : ".";
}

/* ---------------------------------------------------------------- tests */

static void test_transcripts_every_split(void **state)
{
    (void)state;
    static struct transcript t;
    static struct tok got[TOKS_MAX];
    char dir[512], path[1024];
    DIR *d;
    struct dirent *e;
    int files = 0;

    snprintf(dir, sizeof(dir), "%s/tests/transcripts", root());
    d = opendir(dir);
    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 4, ".txt") != 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        load(path, &t);
        assert_true(t.len > 0);
        assert_true(t.nwant > 0);
        /* Every chunk size from 1 to the whole transcript: each split point
         * is exercised (Zephyr modem_chat tests do the 8-byte variant). */
        for (size_t chunk = 1; chunk <= t.len; chunk++) {
            size_t ngot = run(t.bytes, t.len, chunk, got, TOKS_MAX);
            check_tokens(e->d_name, chunk, got, ngot, t.want, t.nwant);
        }
        files++;
    }
    closedir(d);
    assert_true(files >= 10);
}

static void test_prompt_variants(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        const char *bytes;
        size_t ntok;
        enum at_frame_tok t0, t1;
        const char *text1;
    } cases[] = {
        {"27.005 CRLF > SP, no line end", "\r\n> ", 1, AT_FRAME_PROMPT, AT_FRAME_NONE, ""},
        {"bare > CRLF", ">\r\n", 1, AT_FRAME_PROMPT, AT_FRAME_NONE, ""},
        {"SIM7670G CRLF > CRLF", "\r\n>\r\n", 1, AT_FRAME_PROMPT, AT_FRAME_NONE, ""},
        {"bare > with nothing after", ">", 1, AT_FRAME_PROMPT, AT_FRAME_NONE, ""},
        {"prompt then echoed payload", "\r\n> 0011AA\x1a\r\n", 2, AT_FRAME_PROMPT, AT_FRAME_LINE,
         "0011AA"},
        {"prompt then an error line", "\r\n> \r\n+CMS ERROR: 304\r\n", 2, AT_FRAME_PROMPT,
         AT_FRAME_LINE, "+CMS ERROR: 304"},
        {"'>' inside a line is no prompt", "\r\nA>B\r\n", 1, AT_FRAME_LINE, AT_FRAME_NONE, "A>B"},
    };
    struct tok got[8];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len = strlen(cases[i].bytes);
        for (size_t chunk = 1; chunk <= len; chunk++) {
            size_t n = run((const uint8_t *)cases[i].bytes, len, chunk, got, 8);
            if (n != cases[i].ntok)
                fail_msg("%s chunk %zu: %zu tokens", cases[i].name, chunk, n);
            if (got[0].type != cases[i].t0 && !(cases[i].t0 == AT_FRAME_LINE))
                fail_msg("%s: first token %s", cases[i].name, at_frame_tok_name(got[0].type));
            if (cases[i].t0 == AT_FRAME_LINE) {
                assert_int_equal(got[0].type, AT_FRAME_LINE);
                assert_string_equal(got[0].text, cases[i].text1);
            }
            if (n > 1) {
                assert_int_equal(got[1].type, cases[i].t1);
                assert_string_equal(got[1].text, cases[i].text1);
            }
        }
    }
}

static void test_line_cap(void **state)
{
    (void)state;
    static uint8_t buf[4 * AT_FRAME_LINE_MAX];
    struct tok *got = calloc(8, sizeof(*got));
    size_t n, len;

    assert_non_null(got);
    /* Exactly at the cap: delivered whole. */
    memset(buf, 'A', AT_FRAME_LINE_MAX);
    put(buf + AT_FRAME_LINE_MAX, "\r\n");
    n = run(buf, AT_FRAME_LINE_MAX + 2, 8, got, 8);
    assert_int_equal(n, 1);
    assert_int_equal(got[0].type, AT_FRAME_LINE);
    assert_int_equal(strlen(got[0].text), AT_FRAME_LINE_MAX);

    /* One over: discarded up to the line end, reported once, and the next
     * line comes through intact. */
    memset(buf, 'B', AT_FRAME_LINE_MAX + 1);
    len = AT_FRAME_LINE_MAX + 1;
    put(buf + len, "\r\nOK\r\n");
    len += 6;
    for (size_t chunk = 1; chunk <= 64; chunk++) {
        n = run(buf, len, chunk, got, 8);
        assert_int_equal(n, 2);
        assert_int_equal(got[0].type, AT_FRAME_OVERFLOW);
        assert_int_equal(got[1].type, AT_FRAME_LINE);
        assert_string_equal(got[1].text, "OK");
    }

    /* An overlong PDU after +CMT: cancels "PDU follows": the next line is a
     * plain line again. */
    put(buf, "\r\n+CMT: ,24\r\n");
    len = 13;
    memset(buf + len, '0', 2 * AT_FRAME_LINE_MAX);
    len += 2 * AT_FRAME_LINE_MAX;
    put(buf + len, "\r\n0011\r\n");
    len += 8;
    n = run(buf, len, 7, got, 8);
    assert_int_equal(n, 3);
    assert_int_equal(got[0].type, AT_FRAME_PDU_HEADER);
    assert_int_equal(got[1].type, AT_FRAME_OVERFLOW);
    assert_int_equal(got[2].type, AT_FRAME_LINE);
    assert_string_equal(got[2].text, "0011");
    free(got);
}

static void test_longest_pdu_fits(void **state)
{
    (void)state;
    /* 12-octet SMSC field + 176-octet TPDU = 376 hex chars. */
    static char bytes[1024];
    static char pdu[2 * 188 + 1];
    struct tok got[4];

    for (size_t i = 0; i < 2 * 188; i++)
        pdu[i] = "0123456789ABCDEF"[i % 16];
    snprintf(bytes, sizeof(bytes), "\r\n+CMGR: 1,,176\r\n%s\r\n\r\nOK\r\n", pdu);
    size_t n = run((const uint8_t *)bytes, strlen(bytes), 8, got, 4);
    assert_int_equal(n, 3);
    assert_int_equal(got[1].type, AT_FRAME_PDU);
    assert_string_equal(got[1].text, pdu);
}

static void test_pdu_headers(void **state)
{
    (void)state;
    static const struct {
        const char *line;
        bool header;
    } cases[] = {
        {"+CMT: ,24", true},         {"+CMT: \"\",24", true},   {"+CDS: 24", true},
        {"+CDS: ,24", true},         {"+CMGR: 0,,24", true},    {"+CMGL: 1,0,,24", true},
        {"+CDSI: \"SR\",0", false},  {"+CMTI: \"SM\",3", false}, {"+CMGS: 5", false},
        {"+CMGD: 1", false},         {"OK", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (at_frame_is_pdu_header(cases[i].line) != cases[i].header)
            fail_msg("%s", cases[i].line);
}

static void test_noise_never_wedges(void **state)
{
    (void)state;
    /* 100 kB of noise with no line end, then a clean reply. */
    static uint8_t buf[100 * 1024 + 8];
    struct tok got[4];
    uint32_t x = 12345;
    size_t len = 100 * 1024;

    for (size_t i = 0; i < len; i++) {
        x = x * 1103515245u + 12345u;
        uint8_t c = (uint8_t)(x >> 16);
        buf[i] = (c == '\r' || c == '\n') ? 0xff : c;
    }
    put(buf + len, "\r\nOK\r\n");
    size_t n = run(buf, len + 6, 4096, got, 4);
    assert_int_equal(n, 2);
    assert_int_equal(got[0].type, AT_FRAME_OVERFLOW);
    assert_string_equal(got[1].text, "OK");
}

static void test_reset_forgets_partial(void **state)
{
    (void)state;
    struct at_frame fr;
    struct at_frame_token tk;
    const uint8_t *a = (const uint8_t *)"+CMT: ,24\r\n00", *b = (const uint8_t *)"OK\r\n";

    at_frame_init(&fr);
    size_t used = at_frame_push(&fr, a, 13, &tk);
    assert_int_equal(used, 10);   /* the CR ends the header */
    assert_int_equal(tk.type, AT_FRAME_PDU_HEADER);
    used = at_frame_push(&fr, a + 10, 3, &tk);
    assert_int_equal(used, 3);
    assert_int_equal(tk.type, AT_FRAME_NONE);
    at_frame_reset(&fr);
    used = at_frame_push(&fr, b, 4, &tk);
    assert_int_equal(used, 3);
    assert_int_equal(tk.type, AT_FRAME_LINE);
    assert_string_equal(tk.text, "OK");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transcripts_every_split),
        cmocka_unit_test(test_prompt_variants),
        cmocka_unit_test(test_line_cap),
        cmocka_unit_test(test_longest_pdu_fits),
        cmocka_unit_test(test_pdu_headers),
        cmocka_unit_test(test_noise_never_wedges),
        cmocka_unit_test(test_reset_forgets_partial),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
