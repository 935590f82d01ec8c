/*
 * breaker: a circuit breaker per SIM, so a SIM that keeps failing stops
 * getting traffic for a while instead of burning every message's attempts.
 *
 *   closed --N consecutive failures--> open --cool-down--> half-open
 *   half-open --trial succeeds--> closed
 *   half-open --trial fails-----> open (cool-down doubles, up to a cap)
 *
 * In half-open exactly one message (the trial) may use the SIM. A trial
 * that never reports (its modem vanished) is forgotten after
 * trial_timeout_ms, and another trial is allowed.
 *
 * What counts as a failure is the caller's call: errors that say something
 * about the SIM or its network (retry-soon, retry-later, timeouts, no SIM,
 * SMSC unknown); not errors about the destination (CMS 1 unassigned
 * number) which would open the breaker on a healthy SIM.
 *
 * Plain struct owned by the caller; time is passed in (monotonic or wall,
 * but the same one throughout).
 */
#ifndef SG_BREAKER_H
#define SG_BREAKER_H

#include <stdbool.h>

#include "drivers/base/sg_clock.h"

enum breaker_state {
    BREAKER_CLOSED = 0,
    BREAKER_OPEN,
    BREAKER_HALF_OPEN,
};

#define BREAKER_DEFAULT_THRESHOLD 5
#define BREAKER_DEFAULT_COOLDOWN_MS (60 * 1000)
#define BREAKER_DEFAULT_MAX_COOLDOWN_MS (30 * 60 * 1000)
#define BREAKER_DEFAULT_TRIAL_TIMEOUT_MS (5 * 60 * 1000)

struct breaker_cfg {
    unsigned threshold;        /* consecutive failures that open it (>= 1) */
    sg_ms cooldown_ms;         /* first open period */
    sg_ms max_cooldown_ms;     /* cap after repeated failed trials */
    sg_ms trial_timeout_ms;    /* a trial with no outcome after this is forgotten */
};

struct breaker {
    enum breaker_state state;
    unsigned failures;         /* consecutive, while closed */
    unsigned reopens;          /* failed trials since last closed */
    sg_ms opened_at;
    sg_ms trial_at;            /* half-open: when the trial started; 0 = none out */
    bool trial_out;
};

void breaker_cfg_default(struct breaker_cfg *c);
void breaker_init(struct breaker *b);

/* Could the SIM take a message now? Pure. An open breaker whose cool-down
 * has passed allows one (the trial). */
bool breaker_allows(const struct breaker *b, const struct breaker_cfg *c, sg_ms now);

/* The SIM was given a message: in (or entering) half-open this is the trial. */
void breaker_on_attempt(struct breaker *b, const struct breaker_cfg *c, sg_ms now);
void breaker_on_success(struct breaker *b);
void breaker_on_failure(struct breaker *b, const struct breaker_cfg *c, sg_ms now);

/* State as of now (open turns half-open after the cool-down). Pure. */
enum breaker_state breaker_state_at(const struct breaker *b, const struct breaker_cfg *c, sg_ms now);

/* When an open breaker lets a trial through (for the dispatch timer);
 * SG_MS_NEVER when it is not open. */
sg_ms breaker_reopen_at(const struct breaker *b, const struct breaker_cfg *c);

const char *breaker_state_name(enum breaker_state s);

#endif
