#include "drivers/at/at_frame.h"

#include <string.h>

enum {
    ST_LINE = 0,     /* collecting a line (len == 0: at line start) */
    ST_AFTER_PROMPT, /* just emitted a prompt: swallow one space */
    ST_DISCARD,      /* line hit the cap: drop up to the next line end */
};

static const char *const pdu_headers[] = {"+CMT:", "+CDS:", "+CMGR:", "+CMGL:", "+CBM:"};

void at_frame_init(struct at_frame *f)
{
    memset(f, 0, sizeof(*f));
    f->state = ST_LINE;
}

void at_frame_reset(struct at_frame *f)
{
    f->len = 0;
    f->buf[0] = '\0';
    f->state = ST_LINE;
    f->pdu_next = false;
}

bool at_frame_is_pdu_header(const char *line)
{
    for (size_t i = 0; i < sizeof(pdu_headers) / sizeof(pdu_headers[0]); i++)
        if (strncmp(line, pdu_headers[i], strlen(pdu_headers[i])) == 0)
            return true;
    return false;
}

bool at_frame_is_hex(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f')))
            return false;
    }
    return true;
}

static void set_tok(struct at_frame_token *tok, enum at_frame_tok type, const char *text, size_t len)
{
    tok->type = type;
    tok->text = text;
    tok->len = len;
}

/* A line end arrived: decide what the collected bytes are. Returns false for
 * a blank line (nothing to report). */
static bool finish_line(struct at_frame *f, struct at_frame_token *tok)
{
    size_t n = f->len;

    while (n > 0 && (f->buf[n - 1] == ' ' || f->buf[n - 1] == '\t'))
        n--;
    f->buf[n] = '\0';
    f->len = 0;
    if (n == 0)
        return false;
    if (f->pdu_next) {
        f->pdu_next = false;
        if (at_frame_is_hex(f->buf, n)) {
            set_tok(tok, AT_FRAME_PDU, f->buf, n);
            return true;
        }
    }
    if (at_frame_is_pdu_header(f->buf)) {
        f->pdu_next = true;
        set_tok(tok, AT_FRAME_PDU_HEADER, f->buf, n);
    } else {
        set_tok(tok, AT_FRAME_LINE, f->buf, n);
    }
    return true;
}

size_t at_frame_push(struct at_frame *f, const uint8_t *buf, size_t len, struct at_frame_token *tok)
{
    set_tok(tok, AT_FRAME_NONE, "", 0);
    for (size_t i = 0; i < len; i++) {
        uint8_t c = buf[i];
        bool eol = (c == '\r' || c == '\n');

        if (f->state == ST_DISCARD) {
            if (eol) {
                f->state = ST_LINE;
                f->len = 0;
                f->pdu_next = false;
                set_tok(tok, AT_FRAME_OVERFLOW, "", 0);
                return i + 1;
            }
            continue;
        }
        if (f->state == ST_AFTER_PROMPT) {
            f->state = ST_LINE;
            if (c == ' ')
                continue;
        }
        if (eol) {
            if (finish_line(f, tok))
                return i + 1;
            continue;
        }
        /* Control bytes are noise here; 0xFE/0xFF never occur in UTF-8 and
         * are what a glitching line idles as. */
        if ((c < 0x20 && c != '\t') || c >= 0xfe)
            continue;
        if (c == '>' && f->len == 0) {
            f->pdu_next = false;
            f->state = ST_AFTER_PROMPT;
            set_tok(tok, AT_FRAME_PROMPT, "", 0);
            return i + 1;
        }
        if (f->len >= AT_FRAME_LINE_MAX) {
            f->state = ST_DISCARD;
            f->len = 0;
            continue;
        }
        f->buf[f->len++] = (char)c;
    }
    return len;
}

const char *at_frame_tok_name(enum at_frame_tok t)
{
    switch (t) {
    case AT_FRAME_NONE: return "none";
    case AT_FRAME_LINE: return "line";
    case AT_FRAME_PDU_HEADER: return "pdu-header";
    case AT_FRAME_PDU: return "pdu";
    case AT_FRAME_PROMPT: return "prompt";
    case AT_FRAME_OVERFLOW: return "overflow";
    }
    return "?";
}
