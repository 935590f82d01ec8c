#include "drivers/base/sg_clock.h"

#include <time.h>

static sg_ms ts_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (sg_ms)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

sg_ms sg_clock_mono_ms(void)
{
    return ts_ms(CLOCK_MONOTONIC);
}

sg_ms sg_clock_wall_ms(void)
{
    return ts_ms(CLOCK_REALTIME);
}
