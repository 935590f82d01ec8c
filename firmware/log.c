#include "firmware/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

static const char *const level_names[] = {
    [LOG_LVL_ERR] = "err",   [LOG_LVL_WARN] = "warn",   [LOG_LVL_NOTICE] = "notice",
    [LOG_LVL_INFO] = "info", [LOG_LVL_DEBUG] = "debug",
};

void log_setup(struct sglog *lg, enum log_level level, bool daemonized)
{
    const char *js = getenv("JOURNAL_STREAM");
    lg->level = level;
    lg->out = stderr;
    if (js && *js)
        lg->sink = LOG_SINK_JOURNAL;
    else if (daemonized)
        lg->sink = LOG_SINK_SYSLOG;
    else
        lg->sink = LOG_SINK_STDERR;
    if (lg->sink == LOG_SINK_SYSLOG)
        openlog("simgated", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

int log_level_parse(const char *name)
{
    for (int i = LOG_LVL_ERR; i <= LOG_LVL_DEBUG; i++)
        if (strcmp(name, level_names[i]) == 0)
            return i;
    return -1;
}

const char *log_level_name(enum log_level level)
{
    if (level < LOG_LVL_ERR || level > LOG_LVL_DEBUG)
        return "?";
    return level_names[level];
}

static void vemit(const struct sglog *lg, enum log_level level, const char *suffix, const char *fmt,
                  va_list ap)
{
    /* One bounded buffer so each event is written with a single call and
     * lines from one process never interleave; longer lines are cut. */
    char line[1024];
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    if (n < 0)
        return;
    switch (lg->sink) {
    case LOG_SINK_SYSLOG:
        syslog((int)level, "%s%s", line, suffix);
        break;
    case LOG_SINK_JOURNAL:
        fprintf(lg->out, "<%d>%s %s%s\n", (int)level, log_level_name(level), line, suffix);
        break;
    case LOG_SINK_STDERR: {
        struct timespec ts;
        struct tm tm;
        char stamp[32];
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
        fprintf(lg->out, "%s.%03ldZ %s %s%s\n", stamp, ts.tv_nsec / 1000000L,
                log_level_name(level), line, suffix);
        break;
    }
    }
    fflush(lg->out);
}

void log_emit(const struct sglog *lg, enum log_level level, const char *fmt, ...)
{
    if (!lg || level > lg->level)
        return;
    va_list ap;
    va_start(ap, fmt);
    vemit(lg, level, "", fmt, ap);
    va_end(ap);
}

void log_warn(const struct sglog *lg, const char *fmt, ...)
{
    int saved = errno;
    if (!lg || LOG_LVL_WARN > lg->level)
        return;
    char suffix[160];
    snprintf(suffix, sizeof(suffix), " error=\"%s\"", strerror(saved));
    va_list ap;
    va_start(ap, fmt);
    vemit(lg, LOG_LVL_WARN, suffix, fmt, ap);
    va_end(ap);
    errno = saved;
}
