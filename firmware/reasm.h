/*
 * reasm: inbound SMS: multipart reassembly (concatenated SMS, TS 23.040
 * §9.2.3.24.1/.8) and recognition of messages the network delivers twice.
 *
 * Reassembly keys on (receiving SIM, originator, reference, total), as
 * gammu does with the SIM added: two of our SIMs may get different
 * messages from one sender with the same 8-bit reference. Parts may come
 * out of order; a part with the same key, sequence number and text as one
 * held is a duplicate. A part with the same key and sequence but another
 * text means the reference was reused (it wraps at 256): the old set is
 * given up (returned as expired) and a new one starts.
 *
 * Incomplete sets time out (default 600 s, gammu's value) counted from
 * their most recent part; they come back from reasm_next_expired so the
 * caller stores the parts as they are. Nothing is ever dropped silently.
 *
 * Bounds: at most cfg.max_sets open sets; at the cap, adding a part for a
 * new set first gives up the set idle longest (returned in *evicted, same
 * treatment as a timeout). A set may hold at most cfg.max_total parts (a
 * part announcing more is REASM_TOO_BIG: store it as-is). Each part's text
 * is at most REASM_TEXT_MAX bytes. Memory is therefore at most about
 * max_sets * max_total * REASM_TEXT_MAX (64 * 16 * 1 KiB = 1 MiB by default).
 *
 * Restart: the caller persists each part before deleting it from the SIM
 * and, on start-up, feeds the parts still marked "in reassembly" back
 * through reasm_add with their original receive times.
 *
 * Pure: times are passed in; the only side effect is heap memory owned by
 * the struct reasm and by the sets it hands out.
 */
#ifndef SG_REASM_H
#define SG_REASM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/base/sg_clock.h"
#include "drivers/base/sg_err.h"

#define REASM_DEFAULT_TIMEOUT_MS ((sg_ms)600 * 1000)
#define REASM_DEFAULT_MAX_SETS 64
#define REASM_DEFAULT_MAX_TOTAL 16
#define REASM_TEXT_MAX 1024       /* decoded UTF-8 of one part (153 septets fit easily) */
#define REASM_ORIG_MAX 48         /* originator, NUL included (alphanumeric senders decode long) */
#define REASM_SIM_MAX 24          /* ICCID, NUL included */

struct reasm_cfg {
    sg_ms timeout_ms;
    unsigned max_sets;
    unsigned max_total;           /* <= 255 */
};

void reasm_cfg_default(struct reasm_cfg *c);

/* One received part. Pointers borrowed for the call. */
struct reasm_part {
    const char *sim;              /* receiving SIM's ICCID; NULL = "" */
    const char *originator;
    uint16_t ref;                 /* 8- or 16-bit reference */
    uint8_t total;                /* 1..255 */
    uint8_t seq;                  /* 1..total */
    const char *text;             /* decoded UTF-8 */
    size_t text_len;
    int64_t id;                   /* caller's id (the stored row), handed back */
    sg_ms at;                     /* wall ms received */
};

struct reasm_piece {
    uint8_t seq;
    int64_t id;
    sg_ms at;
    char *text;                   /* NUL-terminated copy */
    size_t text_len;
};

/* A finished set: complete (text != NULL, n == total) or given up (text ==
 * NULL, n < total). Owned by the caller after it is handed out; free with
 * reasm_set_free. */
struct reasm_set {
    char sim[REASM_SIM_MAX];
    char originator[REASM_ORIG_MAX];
    uint16_t ref;
    uint8_t total;
    unsigned n;                   /* pieces present, ascending seq */
    sg_ms first_at, last_at;
    char *text;                   /* complete: joined text in order, NUL-terminated */
    size_t text_len;
    struct reasm_piece piece[];   /* n entries */
};

void reasm_set_free(struct reasm_set *s);

enum reasm_result {
    REASM_WAITING = 0,   /* held; the set is not complete yet */
    REASM_COMPLETE,      /* *done is the complete set */
    REASM_DUPLICATE,     /* same key, seq and text as a part held: not stored again */
    REASM_TOO_BIG,       /* total > max_total: store the part as-is */
    REASM_INVALID,       /* bad fields (err says which): store the part as-is */
    REASM_NOMEM,         /* allocation failed: store the part as-is */
};

struct reasm;   /* opaque */

/* NULL cfg = defaults. Returns NULL on allocation failure. */
struct reasm *reasm_new(const struct reasm_cfg *cfg);
/* Frees the table and every set still held (callers wanting to keep them
 * drain with reasm_next_expired(r, SG_MS_NEVER) first). */
void reasm_free(struct reasm *r);

/*
 * Adds a part (its receive time p->at drives the timeout). done and evicted must not be NULL; each is set to a set the
 * caller now owns, or NULL. *evicted is an older set given up to make room
 * (cap reached) or because its reference was reused. A part with total == 1
 * completes at once.
 */
enum reasm_result reasm_add(struct reasm *r, const struct reasm_part *p, struct reasm_set **done,
                            struct reasm_set **evicted, struct sg_err *err);

/* Hands out one set whose timeout has passed at now (the caller owns it),
 * or NULL. Call until NULL. now = SG_MS_NEVER drains everything. */
struct reasm_set *reasm_next_expired(struct reasm *r, sg_ms now);

/* When the next set times out (for a timer), SG_MS_NEVER if none is open. */
sg_ms reasm_next_deadline(const struct reasm *r);
unsigned reasm_open_sets(const struct reasm *r);

const char *reasm_result_name(enum reasm_result res);

/*
 * Dedupe of whole messages (and of single parts) the network delivers
 * twice, e.g. after a missing +CNMA ack (REFERENCE §3): the same
 * SIM, originator, service-centre time stamp and text within a window is
 * the same message. Run every inbound PDU (single or part) through it
 * before reasm_add: a part re-delivered after its set completed is caught
 * here. Bounded ring: at the cap the oldest entry is forgotten.
 * Holds 64-bit fingerprints, not texts or numbers.
 */
#define REASM_DEDUPE_DEFAULT_CAP 1024
#define REASM_DEDUPE_DEFAULT_WINDOW_MS ((sg_ms)24 * 3600 * 1000)

struct reasm_dedupe;
struct reasm_dedupe *reasm_dedupe_new(size_t cap, sg_ms window_ms);
void reasm_dedupe_free(struct reasm_dedupe *d);

/* True if this (sim, originator, scts, text) was seen within the window
 * (a duplicate: do not store it again); otherwise records it and returns
 * false. scts is the decoded TP-SCTS in ms. The SIM is part of the key: one
 * sender texting two of our numbers in the same second is two messages. */
bool reasm_dedupe_seen(struct reasm_dedupe *d, const char *sim, const char *originator, sg_ms scts,
                       const char *text, size_t text_len, sg_ms now);

#endif
