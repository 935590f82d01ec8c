#include "drivers/gpio/gpio_seq.h"

#include <errno.h>
#include <string.h>

enum seq_op {
    OP_SKIP_IF_STATUS,  /* STATUS already at `level`: jump to `jump` */
    OP_SET,             /* drive `role` to `level` */
    OP_HOLD,            /* keep everything as is for `field` ms */
    OP_WAIT_STATUS,     /* wait for STATUS == `level`, at most `field` ms */
    OP_HOLD_FOR_STATUS, /* pwrkey_until_status: wait for STATUS == `level`
                           without failing; the release comes next */
};

enum seq_field { F_NONE, F_ON, F_OFF, F_RESET, F_STATUS_ON, F_STATUS_OFF, F_GAP };

struct gpio_seq_step {
    enum seq_op op;
    unsigned role;
    bool level;
    enum seq_field field;
    unsigned char jump; /* OP_SKIP_IF_STATUS target index; 0xff = end */
};

#define END 0xff

static const struct gpio_seq_step seq_power_on[] = {
    {OP_SKIP_IF_STATUS, 0, true, F_NONE, END},
    {OP_SET, GPIO_PWRKEY, true, F_NONE, 0},
    {OP_HOLD, 0, false, F_ON, 0},
    {OP_HOLD_FOR_STATUS, 0, true, F_STATUS_ON, 0},
    {OP_SET, GPIO_PWRKEY, false, F_NONE, 0},
    {OP_WAIT_STATUS, 0, true, F_STATUS_ON, 0},
};

static const struct gpio_seq_step seq_power_off[] = {
    {OP_SKIP_IF_STATUS, 0, false, F_NONE, END},
    {OP_SET, GPIO_PWRKEY, true, F_NONE, 0},
    {OP_HOLD, 0, false, F_OFF, 0},
    {OP_SET, GPIO_PWRKEY, false, F_NONE, 0},
    {OP_WAIT_STATUS, 0, false, F_STATUS_OFF, 0},
};

static const struct gpio_seq_step seq_power_cycle[] = {
    {OP_SKIP_IF_STATUS, 0, false, F_NONE, 6},
    {OP_SET, GPIO_PWRKEY, true, F_NONE, 0},
    {OP_HOLD, 0, false, F_OFF, 0},
    {OP_SET, GPIO_PWRKEY, false, F_NONE, 0},
    {OP_WAIT_STATUS, 0, false, F_STATUS_OFF, 0},
    {OP_HOLD, 0, false, F_GAP, 0},
    {OP_SKIP_IF_STATUS, 0, true, F_NONE, END},
    {OP_SET, GPIO_PWRKEY, true, F_NONE, 0},
    {OP_HOLD, 0, false, F_ON, 0},
    {OP_HOLD_FOR_STATUS, 0, true, F_STATUS_ON, 0},
    {OP_SET, GPIO_PWRKEY, false, F_NONE, 0},
    {OP_WAIT_STATUS, 0, true, F_STATUS_ON, 0},
};

/* A reset restarts a module that is on; one that is off stays off, so the
 * STATUS wait then times out and the caller moves on to a power cycle. */
static const struct gpio_seq_step seq_reset[] = {
    {OP_SET, GPIO_RESET, true, F_NONE, 0},
    {OP_HOLD, 0, false, F_RESET, 0},
    {OP_SET, GPIO_RESET, false, F_NONE, 0},
    {OP_WAIT_STATUS, 0, true, F_STATUS_ON, 0},
};

struct vendor_timing {
    const char *name;
    struct gpio_timing t;
};

/* Field order: pwrkey_on, pwrkey_off, reset, status_on, status_off (ms),
 * pwrkey_until_status.
 * Waits are allowances counted from the release of the key, so they are
 * upper bounds, not expected times. */
static const struct vendor_timing vendor_timings[] = {
    /* SIM800 HD V1.09: key low ~1 s, STATUS high after >1.2 s, "safest:
     * hold PWRKEY until STATUS rises"; off needs 1.5-33 s of key (past
     * 33 s it turns on again). RESET >105 ms is not
     * in REFERENCE (S8-HD), 150 ms leaves margin. */
    {"sim800", {1100, 1500, 150, 2500, 6000, true}},
    /* SIM7600 numbers are from SIMCom's hardware design, not REFERENCE:
     * on >=500 ms, off >=2.5 s, STATUS can take ~16 s / ~26 s. Verify. */
    {"sim7600", {500, 2500, 2500, 16000, 26000, false}},
    /* EC25 (mbed-os): 600 ms on, RDY within 15 s; 750 ms off, up to 40 s
     * for STATUS low (a BSP); reset 460-500 ms. */
    {"ec25", {600, 750, 480, 15000, 40000, false}},
    /* EG25-G (Zephyr): 1500 ms on; ~30 s seen on a PinePhone. Quectel
     * modules must not keep the key down until STATUS: a held key on a
     * module that has come up reads as a power-off request. */
    {"eg25", {1500, 750, 480, 30000, 40000, false}},
    /* M95: release once STATUS is high, hold >1 s without STATUS; off
     * 0.6-1 s then 2-12 s to detach. */
    {"m95", {1100, 800, 0, 2500, 12000, true}},
    /* Huawei sticks are USB powered: no lines to drive. */
    {"huawei", {0, 0, 0, 0, 0, false}},
    /* Unknown module: pulses inside every window above that are safe for
     * the on/off toggling (1.5 s is both a SIM800 off and an EC25 on). */
    {"generic", {1500, 1500, 500, 15000, 40000, false}},
};

const struct gpio_timing *gpio_seq_timing_for(const char *vendor)
{
    if (!vendor)
        return NULL;
    for (size_t i = 0; i < sizeof(vendor_timings) / sizeof(vendor_timings[0]); i++)
        if (strcmp(vendor_timings[i].name, vendor) == 0)
            return &vendor_timings[i].t;
    return NULL;
}

const char *gpio_seq_kind_name(enum gpio_seq_kind kind)
{
    switch (kind) {
    case GPIO_SEQ_POWER_ON:
        return "power-on";
    case GPIO_SEQ_POWER_OFF:
        return "power-off";
    case GPIO_SEQ_POWER_CYCLE:
        return "power-cycle";
    case GPIO_SEQ_RESET:
        return "reset";
    }
    return "?";
}

static unsigned field_ms(const struct gpio_seq *s, enum seq_field f)
{
    switch (f) {
    case F_ON:
        return s->t.pwrkey_on_ms;
    case F_OFF:
        return s->t.pwrkey_off_ms;
    case F_RESET:
        return s->t.reset_ms;
    case F_STATUS_ON:
        return s->t.status_on_ms;
    case F_STATUS_OFF:
        return s->t.status_off_ms;
    case F_GAP:
        return GPIO_SEQ_OFF_GAP_MS;
    case F_NONE:
        break;
    }
    return 0;
}

static struct gpio_seq_act finish(struct gpio_seq *s, enum gpio_seq_act_type type, int err)
{
    struct gpio_seq_act a = {.type = type, .outcome = s->outcome, .err = err};
    s->finished = true;
    s->last = a;
    return a;
}

static void advance(struct gpio_seq *s, size_t to)
{
    s->pc = to;
    s->entered = false;
}

int gpio_seq_start(struct gpio_seq *s, enum gpio_seq_kind kind, const struct gpio_timing *t,
                   unsigned wired, sg_ms now)
{
    (void)now; /* steps time themselves from the first gpio_seq_step */
    memset(s, 0, sizeof(*s));
    unsigned need = 0;
    switch (kind) {
    case GPIO_SEQ_POWER_ON:
        s->steps = seq_power_on;
        s->n = sizeof(seq_power_on) / sizeof(seq_power_on[0]);
        need = GPIO_PWRKEY;
        break;
    case GPIO_SEQ_POWER_OFF:
        s->steps = seq_power_off;
        s->n = sizeof(seq_power_off) / sizeof(seq_power_off[0]);
        need = GPIO_PWRKEY;
        break;
    case GPIO_SEQ_POWER_CYCLE:
        s->steps = seq_power_cycle;
        s->n = sizeof(seq_power_cycle) / sizeof(seq_power_cycle[0]);
        need = GPIO_PWRKEY;
        break;
    case GPIO_SEQ_RESET:
        s->steps = seq_reset;
        s->n = sizeof(seq_reset) / sizeof(seq_reset[0]);
        need = GPIO_RESET;
        break;
    default:
        finish(s, GPIO_SEQ_FAILED, -EINVAL);
        return -EINVAL;
    }
    if (!t) {
        finish(s, GPIO_SEQ_FAILED, -EINVAL);
        return -EINVAL;
    }
    s->t = *t;
    s->wired = wired;
    s->outcome = (wired & GPIO_STATUS) ? GPIO_SEQ_CONFIRMED : GPIO_SEQ_UNCONFIRMED;
    if ((wired & need) != need) {
        finish(s, GPIO_SEQ_FAILED, -ENOTSUP);
        return -ENOTSUP;
    }
    return 0;
}

static struct gpio_seq_act wait_until(sg_ms deadline)
{
    return (struct gpio_seq_act){.type = GPIO_SEQ_WAIT, .deadline = deadline};
}

/* One step of OP_WAIT_STATUS. Returns true and fills *out when the caller
 * must be answered now; false when the step is complete. */
static bool wait_status(struct gpio_seq *s, const struct gpio_seq_step *st, sg_ms now, int status,
                        struct gpio_seq_act *out)
{
    bool have_status = (s->wired & GPIO_STATUS) != 0;
    if (!s->entered) {
        s->entered = true;
        s->step_deadline = now + (sg_ms)field_ms(s, st->field);
        if (st->field == F_STATUS_ON && s->status_deadline_set)
            s->step_deadline = s->status_deadline;
        s->next_poll = now + GPIO_SEQ_POLL_MS;
    }
    if (!have_status) {
        s->outcome = GPIO_SEQ_UNCONFIRMED;
        /* Waiting for "on" is the modem layer's job (AT, ready URCs); waiting
         * for "off" blindly keeps the next pulse from landing mid-shutdown. */
        if (st->level || now >= s->step_deadline)
            return false;
        *out = wait_until(s->step_deadline);
        return true;
    }
    if (status < 0) {
        *out = finish(s, GPIO_SEQ_FAILED, status);
        return true;
    }
    if ((status != 0) == st->level) {
        s->outcome = GPIO_SEQ_CONFIRMED;
        return false;
    }
    if (now >= s->step_deadline) {
        *out = finish(s, GPIO_SEQ_FAILED, -ETIMEDOUT);
        return true;
    }
    while (s->next_poll <= now)
        s->next_poll += GPIO_SEQ_POLL_MS;
    *out = wait_until(s->next_poll < s->step_deadline ? s->next_poll : s->step_deadline);
    return true;
}

struct gpio_seq_act gpio_seq_step(struct gpio_seq *s, sg_ms now, int status)
{
    if (s->finished)
        return s->last;
    bool have_status = (s->wired & GPIO_STATUS) != 0;
    while (s->pc < s->n) {
        const struct gpio_seq_step *st = &s->steps[s->pc];
        struct gpio_seq_act a;
        switch (st->op) {
        case OP_SKIP_IF_STATUS:
            if (!have_status) {
                advance(s, s->pc + 1);
                break;
            }
            if (status < 0)
                return finish(s, GPIO_SEQ_FAILED, status);
            if ((status != 0) == st->level) {
                s->outcome = GPIO_SEQ_ALREADY;
                advance(s, st->jump == END ? s->n : st->jump);
            } else {
                advance(s, s->pc + 1);
            }
            break;
        case OP_SET:
            if (st->level)
                s->held |= st->role;
            else
                s->held &= ~st->role;
            advance(s, s->pc + 1);
            return (struct gpio_seq_act){
                .type = GPIO_SEQ_SET, .role = st->role, .asserted = st->level};
        case OP_HOLD:
            if (!s->entered) {
                s->entered = true;
                s->step_deadline = now + (sg_ms)field_ms(s, st->field);
            }
            if (now < s->step_deadline)
                return wait_until(s->step_deadline);
            advance(s, s->pc + 1);
            break;
        case OP_WAIT_STATUS:
            if (wait_status(s, st, now, status, &a))
                return a;
            advance(s, s->pc + 1);
            break;
        case OP_HOLD_FOR_STATUS:
            if (!have_status || !s->t.pwrkey_until_status) {
                advance(s, s->pc + 1);
                break;
            }
            if (!s->entered) {
                s->status_deadline = now + (sg_ms)field_ms(s, st->field);
                s->status_deadline_set = true;
            }
            /* A read error or the timeout here must not fail with the key
             * still held: move on to the release and let the STATUS wait
             * that follows give the verdict. */
            if (status < 0 || now >= s->status_deadline) {
                advance(s, s->pc + 1);
                break;
            }
            if (wait_status(s, st, now, status, &a))
                return a;
            advance(s, s->pc + 1);
            break;
        }
    }
    return finish(s, GPIO_SEQ_DONE, 0);
}

unsigned gpio_seq_held(const struct gpio_seq *s)
{
    return s->held;
}
