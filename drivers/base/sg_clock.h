/*
 * sg_clock: the two clocks simgate uses.
 *
 * Monotonic milliseconds for deadlines inside the process; wall-clock UTC
 * milliseconds for anything stored or reported. Pure code (parsers, state
 * machines, policies) never calls these: it takes `now` as an argument so a
 * test can drive time. Only loop glue and main read the real clocks.
 */
#ifndef SG_CLOCK_H
#define SG_CLOCK_H

#include <stdint.h>

typedef int64_t sg_ms;   /* milliseconds; monotonic or wall, as the name says */

#define SG_MS_NEVER INT64_MAX   /* "no deadline" */

sg_ms sg_clock_mono_ms(void);
sg_ms sg_clock_wall_ms(void);

#endif
