/*
 * gpio: the control lines of one modem slot: PWRKEY and RESET (outputs) and
 * STATUS (input), each optional and each with its own polarity.
 *
 * Callers speak in "asserted"/"released", never in volts: a line marked
 * active_low is driven low when asserted (the usual case for PWRKEY through
 * an NPN transistor on SIM800/EC25 boards is the opposite, so the board
 * file says which).
 *
 * Backends, one small ops table:
 *  - libgpiod 1.6 (Debian 12, Raspberry Pi OS), built when SG_GPIOD_V1;
 *  - libgpiod 2.x, built when SG_GPIOD_V2;
 *  - recording (always built): no hardware; every gpio_set is appended to a
 *    trace with the time from a caller-supplied clock, and STATUS follows a
 *    script of (time, level) points. Used by tests and virtual boards.
 * Line requests (consumer "simgated") are taken by gpio_open and held until
 * gpio_close, so nothing else can grab a modem's power key meanwhile.
 * Outputs are requested released (not asserted).
 *
 * Nothing here sleeps: pulses are timed by the caller (see gpio_seq.h).
 */
#ifndef SG_GPIO_H
#define SG_GPIO_H

#include <stdbool.h>
#include <stddef.h>

#include "drivers/base/sg_clock.h"
#include "drivers/base/sg_err.h"

#define GPIO_CONSUMER "simgated"

/* Line roles; bit flags so gpio_set can drive several at once. */
enum gpio_role {
    GPIO_PWRKEY = 1u << 0, /* output: power key */
    GPIO_RESET = 1u << 1,  /* output: reset */
    GPIO_STATUS = 1u << 2, /* input: module on */
};
#define GPIO_OUTPUTS (GPIO_PWRKEY | GPIO_RESET)

struct gpio_line_cfg {
    int offset;      /* line offset on the chip; -1 = not wired */
    bool active_low; /* asserted = physical low */
};

/* Pulse and wait lengths in ms; see gpio_seq.h for vendor defaults. */
struct gpio_timing {
    unsigned pwrkey_on_ms;    /* PWRKEY pulse that switches the module on */
    unsigned pwrkey_off_ms;   /* PWRKEY pulse that switches it off */
    unsigned reset_ms;        /* RESET pulse */
    unsigned status_on_ms;    /* max wait for STATUS to rise after on/reset */
    unsigned status_off_ms;   /* max wait for STATUS to fall after off; the
                                 fixed pause after off when there is no STATUS */
    bool pwrkey_until_status; /* power-on: with STATUS wired, keep PWRKEY
                                 down past pwrkey_on_ms until STATUS rises
                                 (SIM800, M95 hardware designs); the whole
                                 on-wait stays within status_on_ms */
};

struct gpio_cfg {
    const char *chip; /* "gpiochip0", "/dev/gpiochip0", a chip label or
                         number; NULL allowed for the recording backend */
    struct gpio_line_cfg pwrkey, reset, status;
    struct gpio_timing timing; /* carried for the sequencer; unused here */
};

/* Sets every line to "not wired" and zero timings. */
void gpio_cfg_init(struct gpio_cfg *cfg);

struct gpio; /* opaque */

/* Opens the chip with the compiled-in libgpiod and requests the wired
 * lines. -ENOTSUP when built without libgpiod, -ENOENT chip not found,
 * -EBUSY line held by another consumer, -EINVAL bad cfg (offset out of
 * range, same offset twice). *out is owned by the caller (gpio_close). */
int gpio_open(const struct gpio_cfg *cfg, struct gpio **out, struct sg_err *err);

/* Clock for the recording backend: returns "now" in ms. */
typedef sg_ms (*gpio_clock_fn)(void *ctx);

/* Opens the recording backend. clock(ctx) stamps every trace entry and
 * decides which scripted STATUS level applies. Trace capacity is
 * GPIO_TRACE_MAX entries; past it, gpio_set fails with -ENOBUFS. */
int gpio_open_recording(const struct gpio_cfg *cfg, gpio_clock_fn clock, void *ctx,
                        struct gpio **out, struct sg_err *err);

/* Releases the lines (outputs go back to released first) and frees. */
void gpio_close(struct gpio *g);

/* True if every role in roles is wired. */
bool gpio_has(const struct gpio *g, unsigned roles);

/* Drives every output role in roles (GPIO_PWRKEY|GPIO_RESET) to asserted or
 * released. -ENOENT if a role is not wired (nothing is changed), -EINVAL for
 * GPIO_STATUS or an empty mask, -errno from the backend. */
int gpio_set(struct gpio *g, unsigned roles, bool asserted, struct sg_err *err);

/* STATUS: 1 asserted (module on), 0 released, -ENOENT not wired, -errno. */
int gpio_get_status(struct gpio *g);

/* Name of a single role for logs: "pwrkey", "reset", "status". */
const char *gpio_role_name(unsigned role);

/* ---- recording backend only ---- */

#define GPIO_TRACE_MAX  256
#define GPIO_SCRIPT_MAX 32

struct gpio_trace_entry {
    unsigned role; /* one GPIO_* bit */
    bool asserted; /* logical level */
    int level;     /* physical level (0/1) after polarity */
    sg_ms at;      /* clock(ctx) when set */
};

/* The trace so far; owned by g, valid until the next gpio_set/clear/close.
 * Returns NULL with *n = 0 for a hardware backend. */
const struct gpio_trace_entry *gpio_trace(const struct gpio *g, size_t *n);
void gpio_trace_clear(struct gpio *g);

/* From time `at` on, STATUS reads `asserted` (until a later point). Points
 * may be added in any order. Before the first point STATUS reads released.
 * -ENOBUFS past GPIO_SCRIPT_MAX, -ENOTSUP on a hardware backend. */
int gpio_script_status(struct gpio *g, sg_ms at, bool asserted);

#endif
