/*
 * at_frame: splits the byte stream from a modem into AT tokens.
 *
 * A state machine fed bytes (oFono gatsyntax). It answers "a line", "a PDU
 * header line, the PDU body is expected next", "the PDU body", "the '> '
 * prompt", "an overlong line was discarded", or nothing yet. It knows nothing
 * about commands; at_chan decides what a line means.
 *
 * Line ends: CR, LF, CRLF, CR CR LF (SIM7600 URCs) all end a line; empty and
 * blank lines are skipped. Trailing spaces/tabs are trimmed. Control bytes
 * other than CR, LF and TAB (NUL, Ctrl-Z echoed after a payload, ESC, noise)
 * are dropped, and so are 0xFE/0xFF (never in UTF-8, typical line noise);
 * other bytes >= 0x80 are kept (verbose operator names may be UTF-8).
 *
 * Prompt: a '>' as the first byte of a line is the prompt, whatever follows:
 * "\r\n> " with no line end (27.005), ">\r\n" and "\r\n>\r\n" (SIMCom
 * SIM7670G, gammu #1176). One space after it is swallowed so the echo of a
 * payload typed after the prompt starts a fresh line.
 *
 * PDU follows: after a line starting "+CMT:", "+CDS:", "+CMGR:", "+CMGL:" or
 * "+CBM:" the next non-empty line is delivered as AT_FRAME_PDU if it is all
 * hex digits; otherwise it is an ordinary AT_FRAME_LINE (an empty slot read
 * with CMGR answers "+CMGR: 0,,0" then "OK", and OK is not a PDU). PDU mode
 * only: a text-mode body is not recognised.
 *
 * The cap: a line longer than AT_FRAME_LINE_MAX bytes is discarded up to the
 * next CR or LF and reported there, once, as AT_FRAME_OVERFLOW; any pending
 * "PDU follows" is cancelled. A stream with no line end at all is discarded
 * byte by byte forever and never wedges the framer: the first CR/LF recovers.
 */
#ifndef AT_FRAME_H
#define AT_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* 1024 holds any AT reply we parse and a 176-octet TPDU plus a 12-octet SMSC
 * field in hex (376 chars) with a wide margin. */
#define AT_FRAME_LINE_MAX 1024

enum at_frame_tok {
    AT_FRAME_NONE = 0,   /* all input consumed, no token complete yet */
    AT_FRAME_LINE,       /* an ordinary line */
    AT_FRAME_PDU_HEADER, /* a +CMT:/+CDS:/+CMGR:/+CMGL:/+CBM: line; a PDU may follow */
    AT_FRAME_PDU,        /* the hex line after a PDU header */
    AT_FRAME_PROMPT,     /* "> " */
    AT_FRAME_OVERFLOW,   /* an overlong line was discarded */
};

struct at_frame_token {
    enum at_frame_tok type;
    const char *text;    /* NUL-terminated, for LINE/PDU_HEADER/PDU; "" otherwise.
                          * Owned by the framer, valid until the next push/reset. */
    size_t len;
};

/* Caller-allocated so at_chan can embed it; treat the fields as private. */
struct at_frame {
    char buf[AT_FRAME_LINE_MAX + 1];
    size_t len;
    int state;
    bool pdu_next;
};

void at_frame_init(struct at_frame *f);

/* Forget any partial line and pending PDU expectation (port reopened). */
void at_frame_reset(struct at_frame *f);

/* Consume bytes from buf until a token completes or buf is exhausted.
 * Returns the number of bytes consumed (<= len) and fills *tok (type
 * AT_FRAME_NONE if none completed). Call again with the rest. */
size_t at_frame_push(struct at_frame *f, const uint8_t *buf, size_t len, struct at_frame_token *tok);

/* True if `line` is a header after which a PDU line follows. */
bool at_frame_is_pdu_header(const char *line);

const char *at_frame_tok_name(enum at_frame_tok t);

/* True when s[0..n) is non-empty and all hex digits (a PDU line). */
bool at_frame_is_hex(const char *s, size_t n);

#endif
