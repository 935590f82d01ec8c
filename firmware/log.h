/*
 * log: one line per event, levels, key=value fields.
 *
 * The daemon owns one struct sglog (created in main) and hands a const
 * pointer to every module that logs; there is no global logger. Lines look
 * like
 *     2026-11-22T15:40:00.123Z info event=start version=0.1.0
 * on a terminal, and like
 *     <6>info event=start version=0.1.0
 * under systemd (JOURNAL_STREAM set), so journald keeps the level and adds
 * its own time stamp. When daemonised without a terminal, lines go to
 * syslog(3) instead.
 *
 * Callers never pass a PIN, an OTP, a token or a full phone number: mask
 * them first (msisdn_mask).
 */
#ifndef SG_LOG_H
#define SG_LOG_H

#include <stdbool.h>
#include <stdio.h>

enum log_level {
    LOG_LVL_ERR = 3,   /* values are syslog priorities */
    LOG_LVL_WARN = 4,
    LOG_LVL_NOTICE = 5,
    LOG_LVL_INFO = 6,
    LOG_LVL_DEBUG = 7,
};

enum log_sink {
    LOG_SINK_STDERR,   /* time-stamped lines */
    LOG_SINK_JOURNAL,  /* "<N>" priority prefix, no time stamp */
    LOG_SINK_SYSLOG,   /* syslog(3) */
};

struct sglog {
    enum log_level level;
    enum log_sink sink;
    FILE *out;         /* not owned; stderr unless a test redirects it */
};

/* Picks the sink from the environment: JOURNAL_STREAM means journald. */
void log_setup(struct sglog *lg, enum log_level level, bool daemonized);

/* "err", "warn", "notice", "info", "debug" -> level; -1 if unknown. */
int log_level_parse(const char *name);
const char *log_level_name(enum log_level level);

void log_emit(const struct sglog *lg, enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* log_warn appends " error=\"strerror(errno)\"", log_warnx does not (OpenBSD habit). */
#define log_err(lg, ...) log_emit((lg), LOG_LVL_ERR, __VA_ARGS__)
#define log_warnx(lg, ...) log_emit((lg), LOG_LVL_WARN, __VA_ARGS__)
#define log_notice(lg, ...) log_emit((lg), LOG_LVL_NOTICE, __VA_ARGS__)
#define log_info(lg, ...) log_emit((lg), LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(lg, ...) log_emit((lg), LOG_LVL_DEBUG, __VA_ARGS__)
void log_warn(const struct sglog *lg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
