/*
 * dlr: delivery reports (SMS-STATUS-REPORT, TS 23.040 §9.2.2.3) matched to
 * the parts we sent, and what their TP-ST means.
 *
 * A report carries the TP-MR the SMSC gave in +CMGS, the recipient address
 * as the SMSC wrote it, and TP-ST. TP-MR is 8 bits per SIM and wraps, so a
 * report matches a sent part on (SIM, MR, recipient) within a time window,
 * and among several candidates (MR reused after 256 sends) the most
 * recently sent one wins. The recipient may come back in national form
 * (msisdn_same decides).
 *
 * Pure: the caller (store glue) passes the outstanding parts of that SIM
 * (not yet finally reported), typically pre-filtered by (iccid, mr).
 */
#ifndef SG_DLR_H
#define SG_DLR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/base/sg_clock.h"

/* Reports older than this after the send are not matched: SMSC validity
 * periods rarely exceed 2 days, and by then the MR has wrapped many times. */
#define DLR_DEFAULT_WINDOW_MS ((sg_ms)48 * 3600 * 1000)
/* A report may be stamped slightly before our recorded sent_at (the row is
 * written after +CMGS returns). */
#define DLR_CLOCK_SLACK_MS ((sg_ms)5000)

/* One sent part awaiting its report. Pointers borrowed for the call. */
struct dlr_part {
    int64_t msg_id;          /* caller's identifiers, returned untouched */
    unsigned part_no;
    const char *iccid;
    uint8_t mr;
    const char *recipient;   /* E.164 as stored */
    sg_ms sent_at;           /* wall ms */
};

struct dlr_report {
    const char *iccid;       /* SIM the report arrived on */
    int mr;                  /* TP-MR, 0..255 */
    const char *recipient;   /* TP-RA as decoded */
    int toa;                 /* its type of address, MSISDN_TOA_UNKNOWN if none */
    sg_ms at;                /* wall ms we received it */
};

/* Index into parts of the part this report is about, or -1. default_cc is
 * the configured country code for national forms (NULL = none). */
int dlr_match(const struct dlr_part *parts, size_t n, const struct dlr_report *rep,
              sg_ms window_ms, const char *default_cc);

/* What a TP-ST value means for the part. */
enum dlr_part_state {
    DLR_PART_WAITING = 0,   /* no report yet */
    DLR_PART_PENDING,       /* temporary error, SMSC still trying (0x20-0x3F) */
    DLR_PART_DELIVERED,     /* transaction completed (0x00-0x1F) */
    DLR_PART_FAILED,        /* permanent (0x40-0x5F) or SMSC gave up (0x60-0x7F) */
};

struct dlr_status {
    enum dlr_part_state state;
    bool final;              /* no further report is expected for this part */
    const char *text;        /* static, e.g. "SM validity period expired" */
};

/* Classifies TP-ST (REFERENCE §2). Reserved values (0x80-0xFF) count as a
 * final failure: claiming delivery we cannot vouch for is worse. */
struct dlr_status dlr_classify(uint8_t st);

/* The message state from its parts: undelivered as soon as one part
 * failed (it cannot be complete any more), delivered when all are, else
 * still waiting. */
enum dlr_msg_state {
    DLR_MSG_WAITING = 0,
    DLR_MSG_DELIVERED,
    DLR_MSG_UNDELIVERED,
};
enum dlr_msg_state dlr_message_state(const enum dlr_part_state *parts, size_t n);

const char *dlr_part_state_name(enum dlr_part_state s);
const char *dlr_msg_state_name(enum dlr_msg_state s);

#endif
