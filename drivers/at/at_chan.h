/*
 * at_chan: one AT command channel to one modem.
 *
 * The shape of oFono's gatchat: bytes in (at_chan_feed), bytes out (the
 * caller's write callback), a queue with one command in flight, final results
 * from one table, every other line routed to URC handlers by prefix. The
 * channel does no I/O and reads no clock: the loop glue feeds it bytes, calls
 * at_chan_tick() when at_chan_next_deadline() passes, and passes `now` in.
 *
 * Rules a caller can rely on:
 *  - A reply line is given to the command in flight only once that command has
 *    been fully written (write callback returned 0). Before that, every line
 *    is a URC.
 *  - The echo of the command in flight (and of its payload) is dropped whether
 *    or not ATE0 was sent: a modem reset brings echo back.
 *  - Info lines are collected for the command when they start with one of its
 *    `expect` prefixes, or, with AT_CMD_ANY_LINE, when they are not a known
 *    URC (identity commands like AT+CGMI, ATI, AT+CGSN, AT+CCID, AT+CIMI).
 *    Everything else goes to the URC handlers.
 *  - NO CARRIER, BUSY, NO ANSWER, NO DIALTONE and CONNECT end a command only
 *    if it is a call command (ATD, ATA, ATO, or AT_CMD_CALL_FINALS); otherwise
 *    they are URCs (a call ending while AT+CSQ is in flight must not end the
 *    CSQ, and the call logic must see the hang-up).
 *  - After a timeout the channel resynchronises before the next command: it
 *    writes ESC CR, then probes with "AT" until OK (bounded, see below). Any
 *    late final result that arrives just after the probe's OK is discarded.
 *  - Callbacks (done, URC, resynced) may call at_chan_submit(),
 *    at_chan_send_raw() and at_chan_reset(); a command submitted from a
 *    callback is written when the callback returns. They must not call
 *    at_chan_free() or at_chan_feed(); at_chan_tick() is a no-op there.
 *  - A modem reboot shows as an unexpected "RDY" (EC25, SIM7600, SIM800 with
 *    a fixed baud rate) or "+CPIN: NOT READY": register a URC handler for it
 *    that calls at_chan_reset() (echo is back on; the channel copes).
 *  - After a timeout, a late reply (e.g. "+CMGS: 47" after the send timed
 *    out) reaches the "" catch-all handler, so the caller can still learn
 *    that an "unknown" send went out.
 *  - done() may be called from inside at_chan_submit() only when writing the
 *    command failed (then final is AT_FINAL_ABORTED and write_err is set).
 *
 * Memory is bounded: see AT_CHAN_* caps below.
 */
#ifndef AT_CHAN_H
#define AT_CHAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/base/sg_clock.h"

/* Caps. Exceeding a submit cap makes at_chan_submit() return -EINVAL or
 * -ENOSPC; exceeding a reply cap drops the extra lines and sets
 * at_result.truncated. */
#define AT_CHAN_QUEUE_MAX 32        /* queued commands, in flight included */
#define AT_CHAN_TEXT_MAX 512        /* command text, without CR */
#define AT_CHAN_PAYLOAD_MAX 1024    /* payload hex, without Ctrl-Z */
#define AT_CHAN_EXPECT_MAX 64       /* expect string ("+CSQ:" or "+CCID:|^ICCID:") */
#define AT_CHAN_REPLY_LINES_MAX 256 /* info lines (PDU bodies not counted) */
#define AT_CHAN_REPLY_BYTES_MAX (64 * 1024)
#define AT_CHAN_URC_MAX 32          /* registered URC handlers */

#define AT_CHAN_DEFAULT_TIMEOUT_MS 5000        /* when at_cmd.timeout_ms is 0 */
#define AT_CHAN_DEFAULT_PROMPT_TIMEOUT_MS 10000 /* when prompt_timeout_ms is 0 */

enum at_final {
    AT_FINAL_OK,
    AT_FINAL_ERROR,        /* ERROR, COMMAND NOT SUPPORT, TOO MANY PARAMETERS */
    AT_FINAL_CMS_ERROR,    /* code = the number (verbose text mapped, else -1) */
    AT_FINAL_CME_ERROR,    /* code = the number (verbose text mapped, else -1) */
    AT_FINAL_NO_CARRIER,
    AT_FINAL_BUSY,
    AT_FINAL_NO_ANSWER,
    AT_FINAL_NO_DIALTONE,
    AT_FINAL_CONNECT,
    AT_FINAL_TIMEOUT,      /* payload_written says before/after the payload */
    AT_FINAL_ABORTED,      /* at_chan_reset(), at_chan_free(), write failure,
                            * or resync failed before it was sent */
};

/* at_cmd.flags */
#define AT_CMD_ANY_LINE 0x1u     /* collect any line that is not a known URC */
#define AT_CMD_CALL_FINALS 0x2u  /* NO CARRIER/BUSY/... end this command
                                  * (implied for ATD, ATA, ATO) */
#define AT_CMD_NO_RESYNC 0x4u    /* a timeout of this command does not start a
                                  * resync (used by probes themselves) */

/* A command to submit. Every string is copied by at_chan_submit(); the caller
 * keeps ownership of the struct and its strings. */
struct at_cmd {
    const char *text;          /* "AT+CSQ", without CR; no CR/LF/Ctrl-Z/ESC */
    sg_ms timeout_ms;          /* final result deadline, counted from the write
                                * of the command (or of the payload); 0 = default */
    const char *payload;       /* hex, sent after the '> ' prompt, then Ctrl-Z;
                                * NULL if none */
    sg_ms prompt_timeout_ms;   /* from command written to prompt; 0 = default */
    const char *expect;        /* info-line prefix like "+CSQ:", several as
                                * "+CCID:|+ICCID:|^ICCID:", or NULL */
    unsigned flags;            /* AT_CMD_* */
};

/* Handed to done(). Everything it points to is owned by the channel and valid
 * only during the callback: copy what you keep. */
struct at_result {
    enum at_final final;
    int code;                  /* CMS/CME number, -1 if none */
    bool payload_written;      /* the payload (and Ctrl-Z) went out */
    bool truncated;            /* reply caps hit: some info lines dropped */
    int write_err;             /* negative errno if the write callback failed, else 0 */
    size_t nlines;
    const char *const *lines;  /* info lines in order, without CR/LF */
    const char *const *pdus;   /* pdus[i]: PDU body that followed lines[i]
                                * (+CMGR:, +CMGL:), or NULL */
    const char *pdu;           /* first non-NULL pdus[i], NULL if none */
    const char *final_line;    /* the final result line as received ("OK",
                                * "+CMS ERROR: 304"), NULL on timeout/abort */
};

typedef void (*at_done_fn)(void *ud, const struct at_result *res);
/* line: the URC line; pdu: body that followed +CMT:/+CDS: (NULL otherwise, or
 * when the line after the header was not hex). Both valid only during the call. */
typedef void (*at_urc_fn)(void *ud, const char *line, const char *pdu);

struct at_chan_ops {
    /* Write all of buf or fail. Return 0 or a negative errno. Required. */
    int (*write)(void *ctx, const uint8_t *buf, size_t len);
    /* Optional: resync after a timeout finished. ok=false when every probe
     * went unanswered; the channel then fails its queue with
     * AT_FINAL_ABORTED and goes idle: the modem layer climbs its recovery
     * ladder (reopen, CFUN, power cycle). */
    void (*resynced)(void *ctx, bool ok);
};

/* Resync tuning (defaults in at_chan_new()). */
struct at_chan_resync {
    sg_ms probe_timeout_ms;    /* wait for OK after each "AT" (default 1000) */
    unsigned probes;           /* "AT" probes before giving up (default 5) */
    sg_ms settle_ms;           /* after the probe's OK, drop late finals for
                                * this long (default 200) */
};

struct at_chan_stats {
    uint64_t lines;            /* lines received */
    uint64_t urcs;             /* lines routed as URCs (handled or not) */
    uint64_t urcs_unhandled;   /* URC lines no handler took */
    uint64_t echoes;           /* echo lines dropped */
    uint64_t overflows;        /* overlong lines discarded */
    uint64_t timeouts;
    uint64_t resyncs_ok;
    uint64_t resyncs_failed;
};

struct at_chan;

/* Returns NULL on allocation failure. ops is copied; ctx is passed to ops. */
struct at_chan *at_chan_new(const struct at_chan_ops *ops, void *ctx);

/* Fails in-flight and queued commands with AT_FINAL_ABORTED (their done()
 * is called), then frees. NULL is allowed. */
void at_chan_free(struct at_chan *chan);

/* Bytes read from the modem. Any split is fine; may call done() and URC
 * handlers, and write (the next command, a payload, resync bytes). */
void at_chan_feed(struct at_chan *chan, const uint8_t *buf, size_t len, sg_ms now);

/* Queue a command (copied). Returns 0, -EINVAL (bad text/payload/expect,
 * NULL done is allowed), or -ENOSPC (queue full). If the channel is idle the
 * command is written at once. */
int at_chan_submit(struct at_chan *chan, const struct at_cmd *cmd, at_done_fn done, void *ud,
                   sg_ms now);

/* The earliest time at_chan_tick() has work to do, SG_MS_NEVER if none. */
sg_ms at_chan_next_deadline(const struct at_chan *chan);

/* Handle timeouts and resync steps due at `now`. Harmless to call early. */
void at_chan_tick(struct at_chan *chan, sg_ms now);

/* Route lines starting with `prefix` (copied) to fn. The longest matching
 * prefix wins; "" is a catch-all for lines nothing else takes (late replies,
 * unknown URCs). Returns 0, -EINVAL, or -ENOSPC. Registering a prefix again
 * replaces its handler. */
int at_chan_on_urc(struct at_chan *chan, const char *prefix, at_urc_fn fn, void *ud);

/* Remove the handler for exactly `prefix`. Returns 0 or -ENOENT. */
int at_chan_off_urc(struct at_chan *chan, const char *prefix);

/* Port reopened / modem rebooted: fail in-flight and queued commands with
 * AT_FINAL_ABORTED, clear the framing and any resync. URC handlers stay. */
void at_chan_reset(struct at_chan *chan, sg_ms now);

/* Write text + CR now, outside the queue, without waiting for anything (a
 * wake-up "AT" after idle, a hang-up while a command is stuck). Any reply is
 * routed as if unsolicited unless it arrives while a command is in flight.
 * text follows the at_cmd.text rules. Returns 0, -EINVAL or the write error. */
int at_chan_send_raw(struct at_chan *chan, const char *text);

/* Minimum time between a final result and the next command (u-blox advises
 * >= 20 ms). Default 0. */
void at_chan_set_gap(struct at_chan *chan, sg_ms gap_ms);

void at_chan_set_resync(struct at_chan *chan, const struct at_chan_resync *rs);

/* True while a command is in flight or a resync is running. */
bool at_chan_busy(const struct at_chan *chan);

/* Counters since at_chan_new(). */
void at_chan_get_stats(const struct at_chan *chan, struct at_chan_stats *out);

const char *at_final_name(enum at_final final);

#endif
