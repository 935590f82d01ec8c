/*
 * sg_err: the error convention every simgate library module follows.
 *
 * Library code never prints and never exits. A function that can fail
 * returns 0 (or a non-negative result) on success and a negative errno-style
 * code on failure, and fills a caller-owned struct sg_err with one line a
 * human can read ("pdu: UDL 200 exceeds 140 octets of user data").
 * A NULL err is allowed: the code is still returned.
 */
#ifndef SG_ERR_H
#define SG_ERR_H

#include <stddef.h>

#define SG_ERR_MSG_MAX 256

struct sg_err {
    int code;                  /* the negative code last returned, 0 if none */
    char msg[SG_ERR_MSG_MAX];  /* NUL-terminated, truncated at the cap */
};

/* Sets err (if not NULL) and returns code, so callers can write
 * `return sg_errf(err, -EINVAL, "bad hex at offset %zu", off);`. */
int sg_errf(struct sg_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefixes the existing message with "what: " (e.g. the file name). */
void sg_err_prefix(struct sg_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static inline void sg_err_clear(struct sg_err *err)
{
    if (err) {
        err->code = 0;
        err->msg[0] = '\0';
    }
}

#endif
