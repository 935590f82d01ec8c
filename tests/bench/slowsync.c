/*
 * slowsync: LD_PRELOAD shim for make bench's "what if the disk were an SD
 * card" rows. fsync() and fdatasync() sleep SG_BENCH_FSYNC_DELAY_US
 * microseconds (default 5000) before doing the real call, so the daemon's
 * commit path costs what it would on a slow flash device while everything
 * else stays as fast as this machine.
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <time.h>

int fsync(int fd);
int fdatasync(int fd);

static void delay(void)
{
    const char *v = getenv("SG_BENCH_FSYNC_DELAY_US");
    long us = v ? strtol(v, NULL, 10) : 5000;
    if (us <= 0)
        return;
    struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

int fsync(int fd)
{
    int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    delay();
    return real ? real(fd) : -1;
}

int fdatasync(int fd)
{
    int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    delay();
    return real ? real(fd) : -1;
}
