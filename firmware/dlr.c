#include "firmware/dlr.h"

#include <string.h>

#include "firmware/msisdn.h"

int dlr_match(const struct dlr_part *parts, size_t n, const struct dlr_report *rep, sg_ms window_ms,
              const char *default_cc)
{
    if (!rep || !rep->iccid || rep->mr < 0 || rep->mr > 255)
        return -1;
    int best = -1;
    for (size_t i = 0; i < n; i++) {
        const struct dlr_part *p = &parts[i];
        if (p->mr != rep->mr || !p->iccid || strcmp(p->iccid, rep->iccid) != 0)
            continue;
        if (p->sent_at > rep->at + DLR_CLOCK_SLACK_MS || rep->at - p->sent_at > window_ms)
            continue;
        if (!msisdn_same(p->recipient, rep->recipient, rep->toa, default_cc))
            continue;
        if (best < 0 || p->sent_at > parts[best].sent_at)
            best = (int)i;
    }
    return best;
}

/* TS 23.040 §9.2.3.15 */
static const char *st_text(uint8_t st)
{
    static const char *const completed[] = {
        "received by the SME", "forwarded, delivery not confirmed", "replaced by the SC",
    };
    static const char *const temp[] = {
        "congestion", "SME busy", "no response from SME", "service rejected",
        "quality of service not available", "error in SME",
    };
    static const char *const perm[] = {
        "remote procedure error", "incompatibility of destination", "connection rejected by SME",
        "not obtainable", "quality of service not available", "no interworking available",
        "SM validity period expired", "SM deleted by originating SME",
        "SM deleted by SC administration", "SM does not exist",
    };
    if (st <= 0x02)
        return completed[st];
    if (st <= 0x1f)
        return "completed (SC-specific)";
    if (st >= 0x20 && st <= 0x25)
        return temp[st - 0x20];
    if (st <= 0x3f)
        return "temporary error (SC-specific), SC still trying";
    if (st >= 0x40 && st <= 0x49)
        return perm[st - 0x40];
    if (st <= 0x5f)
        return "permanent error (SC-specific)";
    if (st >= 0x60 && st <= 0x65)
        return temp[st - 0x60];
    if (st <= 0x7f)
        return "temporary error (SC-specific), SC stopped trying";
    return "reserved status value";
}

struct dlr_status dlr_classify(uint8_t st)
{
    struct dlr_status s = {.text = st_text(st)};
    if (st <= 0x1f) {
        s.state = DLR_PART_DELIVERED;
        s.final = true;
    } else if (st <= 0x3f) {
        s.state = DLR_PART_PENDING;
        s.final = false;
    } else {
        s.state = DLR_PART_FAILED;
        s.final = true;
    }
    return s;
}

enum dlr_msg_state dlr_message_state(const enum dlr_part_state *parts, size_t n)
{
    if (n == 0)
        return DLR_MSG_WAITING;
    size_t delivered = 0;
    for (size_t i = 0; i < n; i++) {
        if (parts[i] == DLR_PART_FAILED)
            return DLR_MSG_UNDELIVERED;
        if (parts[i] == DLR_PART_DELIVERED)
            delivered++;
    }
    return delivered == n ? DLR_MSG_DELIVERED : DLR_MSG_WAITING;
}

const char *dlr_part_state_name(enum dlr_part_state s)
{
    switch (s) {
    case DLR_PART_WAITING: return "waiting";
    case DLR_PART_PENDING: return "pending";
    case DLR_PART_DELIVERED: return "delivered";
    case DLR_PART_FAILED: return "failed";
    }
    return "invalid";
}

const char *dlr_msg_state_name(enum dlr_msg_state s)
{
    switch (s) {
    case DLR_MSG_WAITING: return "waiting";
    case DLR_MSG_DELIVERED: return "delivered";
    case DLR_MSG_UNDELIVERED: return "undelivered";
    }
    return "invalid";
}
