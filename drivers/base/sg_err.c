#include "drivers/base/sg_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int sg_errf(struct sg_err *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

void sg_err_prefix(struct sg_err *err, const char *fmt, ...)
{
    if (!err)
        return;
    char head[SG_ERR_MSG_MAX];
    char old[SG_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof(head), fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof(old));
    snprintf(err->msg, sizeof(err->msg), "%s: %s", head, old);
}
