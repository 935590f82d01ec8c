#include "firmware/breaker.h"

#include <string.h>

void breaker_cfg_default(struct breaker_cfg *c)
{
    c->threshold = BREAKER_DEFAULT_THRESHOLD;
    c->cooldown_ms = BREAKER_DEFAULT_COOLDOWN_MS;
    c->max_cooldown_ms = BREAKER_DEFAULT_MAX_COOLDOWN_MS;
    c->trial_timeout_ms = BREAKER_DEFAULT_TRIAL_TIMEOUT_MS;
}

void breaker_init(struct breaker *b)
{
    memset(b, 0, sizeof(*b));
    b->state = BREAKER_CLOSED;
}

static sg_ms cooldown(const struct breaker *b, const struct breaker_cfg *c)
{
    sg_ms d = c->cooldown_ms > 0 ? c->cooldown_ms : 1;
    sg_ms cap = c->max_cooldown_ms > d ? c->max_cooldown_ms : d;
    for (unsigned i = 0; i < b->reopens; i++) {
        if (d > cap / 2)
            return cap;
        d *= 2;
    }
    return d;
}

sg_ms breaker_reopen_at(const struct breaker *b, const struct breaker_cfg *c)
{
    if (b->state != BREAKER_OPEN)
        return SG_MS_NEVER;
    return b->opened_at + cooldown(b, c);
}

enum breaker_state breaker_state_at(const struct breaker *b, const struct breaker_cfg *c, sg_ms now)
{
    if (b->state == BREAKER_OPEN && now >= breaker_reopen_at(b, c))
        return BREAKER_HALF_OPEN;
    return b->state;
}

bool breaker_allows(const struct breaker *b, const struct breaker_cfg *c, sg_ms now)
{
    switch (breaker_state_at(b, c, now)) {
    case BREAKER_CLOSED:
        return true;
    case BREAKER_OPEN:
        return false;
    case BREAKER_HALF_OPEN:
        /* In state OPEN past the cool-down no trial has started yet. */
        if (b->state == BREAKER_OPEN || !b->trial_out)
            return true;
        return now - b->trial_at >= c->trial_timeout_ms;
    }
    return false;
}

void breaker_on_attempt(struct breaker *b, const struct breaker_cfg *c, sg_ms now)
{
    if (breaker_state_at(b, c, now) != BREAKER_HALF_OPEN)
        return;
    b->state = BREAKER_HALF_OPEN;
    b->trial_out = true;
    b->trial_at = now;
}

void breaker_on_success(struct breaker *b)
{
    breaker_init(b);
}

void breaker_on_failure(struct breaker *b, const struct breaker_cfg *c, sg_ms now)
{
    switch (b->state) {
    case BREAKER_CLOSED:
        if (++b->failures >= (c->threshold ? c->threshold : 1)) {
            b->state = BREAKER_OPEN;
            b->opened_at = now;
            b->reopens = 0;
        }
        break;
    case BREAKER_HALF_OPEN:
        b->state = BREAKER_OPEN;
        b->opened_at = now;
        b->reopens++;
        b->trial_out = false;
        break;
    case BREAKER_OPEN:
        /* A late result from before it opened: the cool-down runs from now. */
        b->opened_at = now;
        break;
    }
}

const char *breaker_state_name(enum breaker_state s)
{
    switch (s) {
    case BREAKER_CLOSED: return "closed";
    case BREAKER_OPEN: return "open";
    case BREAKER_HALF_OPEN: return "half_open";
    }
    return "invalid";
}
