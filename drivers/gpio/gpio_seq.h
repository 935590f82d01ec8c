/*
 * gpio_seq: the power-on, power-off, power-cycle and reset sequences of a
 * modem as a pure state machine. It never touches a line and never reads a
 * clock: the caller (drivers/modem) feeds it (now, STATUS level) and carries
 * out the action it returns.
 *
 * Driving it:
 *
 *     gpio_seq_start(&seq, GPIO_SEQ_POWER_ON, &timing, wired_roles, now);
 *     for (;;) {
 *         struct gpio_seq_act a = gpio_seq_step(&seq, now, gpio_get_status(g));
 *         if (a.type == GPIO_SEQ_SET)  { gpio_set(g, a.role, a.asserted, err); continue; }
 *         if (a.type == GPIO_SEQ_WAIT) { arm a timer for a.deadline; return; }
 *         break;   // GPIO_SEQ_DONE or GPIO_SEQ_FAILED
 *     }
 *
 * and call gpio_seq_step again when the timer fires (calling early is
 * harmless: the same WAIT comes back). While waiting for STATUS the
 * deadline is the next poll (every GPIO_SEQ_POLL_MS), capped by the timeout.
 *
 * The steps are const tables (see gpio_seq.c):
 *   power on:    skip if STATUS already on; PWRKEY on; hold pwrkey_on_ms;
 *                [pwrkey_until_status: keep holding until STATUS rises];
 *                PWRKEY off; wait STATUS on. status_on_ms counts from the
 *                end of the pwrkey_on_ms hold and covers both waits.
 *   power off:   skip if STATUS already off; PWRKEY on; hold pwrkey_off_ms;
 *                PWRKEY off; wait STATUS off up to status_off_ms.
 *   power cycle: power off, GPIO_SEQ_OFF_GAP_MS pause, power on (the skip
 *                checks apply to each half).
 *   reset:       RESET on; hold reset_ms; RESET off; wait STATUS on.
 * The skip checks matter because PWRKEY toggles: pulsing a SIM800 that is
 * already on switches it off.
 * Without a STATUS line nothing is skipped, a "wait STATUS on" ends at once
 * with DONE unconfirmed (the modem layer confirms with AT / ready URCs), and
 * a "wait STATUS off" becomes a fixed pause of status_off_ms so the module
 * has finished shutting down before the next pulse.
 */
#ifndef SG_GPIO_SEQ_H
#define SG_GPIO_SEQ_H

#include <stdbool.h>
#include <stddef.h>

#include "drivers/base/sg_clock.h"
#include "drivers/gpio/gpio.h"

#define GPIO_SEQ_POLL_MS    50   /* STATUS poll period while waiting */
#define GPIO_SEQ_OFF_GAP_MS 1000 /* pause between off and on in a cycle */

enum gpio_seq_kind {
    GPIO_SEQ_POWER_ON,
    GPIO_SEQ_POWER_OFF,
    GPIO_SEQ_POWER_CYCLE,
    GPIO_SEQ_RESET,
};

enum gpio_seq_act_type {
    GPIO_SEQ_SET,    /* drive `role` to `asserted` now, then step again */
    GPIO_SEQ_WAIT,   /* step again at `deadline` (or earlier) */
    GPIO_SEQ_DONE,   /* finished; see `outcome` */
    GPIO_SEQ_FAILED, /* gave up; `err` says why, every line is released */
};

enum gpio_seq_outcome {
    GPIO_SEQ_CONFIRMED = 1,   /* STATUS reached the wanted level */
    GPIO_SEQ_UNCONFIRMED = 2, /* no STATUS line: pulses done, confirm by AT */
    GPIO_SEQ_ALREADY = 3,     /* STATUS was already at the wanted level */
};

struct gpio_seq_act {
    enum gpio_seq_act_type type;
    unsigned role;                 /* SET: one GPIO_* output bit */
    bool asserted;                 /* SET */
    sg_ms deadline;                /* WAIT */
    enum gpio_seq_outcome outcome; /* DONE */
    int err;                       /* FAILED: -ETIMEDOUT (STATUS never came),
                                      -ENOTSUP (line not wired), -EIO..
                                      (STATUS read error), -EINVAL */
};

/* Per-vendor defaults (REFERENCE §1.1). Names: "sim800", "sim7600",
 * "ec25", "eg25" (1500 ms pulse, 30 s allowance), "m95", "huawei" (USB
 * powered: all zero), "generic" (long enough for any of them). Returns
 * NULL for an unknown name. The table is static const: do not free. */
const struct gpio_timing *gpio_seq_timing_for(const char *vendor);

/* Caller-allocated so it can live inside the modem's struct. Fields are
 * private to gpio_seq.c. */
struct gpio_seq {
    const struct gpio_seq_step *steps;
    size_t n, pc;
    struct gpio_timing t;
    unsigned wired;
    bool entered;        /* current step's timing has started */
    sg_ms step_deadline; /* end of a hold / wait timeout */
    sg_ms next_poll;
    sg_ms status_deadline; /* shared by the hold-until-STATUS and the wait */
    bool status_deadline_set;
    unsigned held;                 /* outputs this sequence has asserted */
    enum gpio_seq_outcome outcome; /* what the last check/wait found */
    bool finished;
    struct gpio_seq_act last;
};

/* Starts a sequence at `now`. `wired` is the roles the slot has
 * (gpio_has bits, e.g. GPIO_PWRKEY|GPIO_STATUS). Returns 0, or -ENOTSUP
 * when a line the sequence needs is missing (PWRKEY for power, RESET for
 * reset), -EINVAL for a bad kind or NULL timing; then gpio_seq_step
 * answers FAILED with that code. Timings of 0 are used as given. */
int gpio_seq_start(struct gpio_seq *s, enum gpio_seq_kind kind, const struct gpio_timing *t,
                   unsigned wired, sg_ms now);

/* Advances with the current time and STATUS reading (1, 0 or a negative
 * code from gpio_get_status; ignored when STATUS is not wired). After
 * DONE/FAILED it keeps returning the same answer. */
struct gpio_seq_act gpio_seq_step(struct gpio_seq *s, sg_ms now, int status);

/* Outputs the sequence currently holds asserted (to release them if the
 * caller abandons it, e.g. on shutdown). */
unsigned gpio_seq_held(const struct gpio_seq *s);

const char *gpio_seq_kind_name(enum gpio_seq_kind kind);

#endif
