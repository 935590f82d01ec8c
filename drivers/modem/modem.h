/*
 * modem: the supervision state machine of one modem, pure.
 *
 *   absent -> powering -> initializing -> ready <-> busy
 *                 ^             |            |
 *                 +-------- recovering <-----+        (any) -> failed
 *
 * It owns no port, no AT channel, no GPIO and no clock. The owner (see
 * modem_port.h, or a test) feeds it events with the time and carries out the
 * actions it returns, in order: open/reopen/close the port, submit one AT
 * command (never a second while one is out, except right after a RESYNC,
 * REOPEN or CLOSE, which abandon it; a late result of an abandoned command is
 * recognised by its seq and ignored), drive a GPIO line, report a state
 * change, identity, signal, a send result, an inbound PDU, a status report,
 * or a log line. Deadlines live inside: call modem_step with MODEM_EV_TIMER at
 * or after modem_next_deadline(). Every event carries the current STATUS
 * level; STATUS low while the modem is up sends it straight to the power key.
 *
 * Bring-up (per vendor profile, modem_vendor.h): ESC CR + AT until OK, ATE0
 * (waited for; re-sent after every reset), AT+CMEE=1, ATI for vendor=auto,
 * vendor rows, identity rows, SIM (AT+CPIN?, the configured PIN once: a
 * wrong PIN is never retried, PUK and no-SIM are final), SIM identity, SMS
 * rows (PDU mode, storage, CNMI chain, SMSC), registration wait
 * (CREG/CGREG/CEREG, URCs enabled), operator, signal, then the stored
 * messages (AT+CMGL=4 indices, each read with AT+CMGR).
 *
 * Jobs: one slot. Sending a PDU is MODEM_JOB_SMS; a voice call will be one
 * more kind using the same slot, the busy state and the recovery rules.
 *
 * Inbound: every stored message (+CMTI, +CDSI, start-up listing) is read
 * with AT+CMGR and handed up with a storage token; it is deleted with
 * AT+CMGD only after the owner sends MODEM_EV_STORED with that token (so a
 * crash between "read" and "committed" re-delivers rather than loses). The
 * token is the index for "SM" and memory << 16 | index for other memories
 * ("SR" on an EC25 with +CDSI), which are reached by switching AT+CPMS
 * mem1 there and back. Direct +CMT/+CDS come with -1 (and +CNMA on the
 * ack when the profile uses +CSMS=1).
 *
 * Recovery ladder (one rung per round, back-off between rounds, each rung an
 * action plus a log line): resync (ESC CR AT) -> reopen the port ->
 * AT+CFUN=1,1 -> GPIO power cycle (if PWRKEY is wired) -> failed. Triggers:
 * MODEM_TIMEOUTS_MAX consecutive command timeouts, an AT channel resync that
 * found no answer, garbage lines, a ready URC (the modem rebooted by itself:
 * bring-up again without climbing). The ladder restarts from the bottom once
 * the modem has been ready for MODEM_STABLE_MS (or right away when only the
 * first sync was needed). After the last rung the state is failed; failures
 * that need a human (no SIM, PIN needed, wrong PIN, PUK) stay failed, the
 * others start over after MODEM_FAILED_RETRY_MS. A GPIO sequence is never
 * abandoned half way (a USB modem's port vanishes while it is off).
 */
#ifndef SG_MODEM_H
#define SG_MODEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/at/at_chan.h"
#include "drivers/base/sg_clock.h"
#include "drivers/gpio/gpio.h"
#include "drivers/gpio/gpio_seq.h"
#include "drivers/modem/modem_vendor.h"

/* Timings and caps (named so logs and tests can refer to them). */
#define MODEM_SYNC_TIMEOUT_MS 1000      /* each "AT" probe */
#define MODEM_SYNC_PROBES 5             /* probes before the ladder climbs */
#define MODEM_TIMEOUTS_MAX 3            /* consecutive command timeouts -> recover */
#define MODEM_GARBAGE_MAX 8             /* garbage lines within MODEM_GARBAGE_WINDOW_MS */
#define MODEM_GARBAGE_WINDOW_MS 10000
#define MODEM_SIM_RETRY_MS 1000         /* first re-ask of CPIN while the SIM is busy */
#define MODEM_SIM_RETRY_MAX_MS 5000
#define MODEM_REG_POLL_MS 2000          /* registration poll while waiting */
#define MODEM_STABLE_MS (5 * 60 * 1000) /* ready this long: the ladder starts over */
#define MODEM_FAILED_RETRY_MS (15 * 60 * 1000) /* failed (not SIM/PIN): try again */
#define MODEM_REOPEN_RETRY_MS 2000      /* port absent: reopen attempts */
#define MODEM_CSQ_INTERVAL_MS 60000
#define MODEM_DEFAULT_REG_TIMEOUT_MS 120000
#define MODEM_DEFAULT_SIM_TIMEOUT_MS 30000
#define MODEM_WATCHDOG_GRACE_MS 15000   /* past a command's own timeouts */

/* Back-off before each rung, ms. */
#define MODEM_BACKOFF_RESYNC_MS 0
#define MODEM_BACKOFF_REOPEN_MS 1000
#define MODEM_BACKOFF_CFUN_MS 5000
#define MODEM_BACKOFF_POWER_MS 15000

#define MODEM_ACTIONS_MAX 24            /* per step; see struct modem_actions */
#define MODEM_CMD_MAX 64                /* one AT command we build */
#define MODEM_PDU_HEX_MAX 400           /* SMSC + TPDU in hex, + NUL */
#define MODEM_LOG_MAX 192
#define MODEM_READQ_MAX 32              /* stored messages waiting for CMGR */
#define MODEM_DELQ_MAX 32               /* acked messages waiting for CMGD */
#define MODEM_FIELD_MAX 64

enum modem_state {
    MODEM_ABSENT = 0,
    MODEM_POWERING,
    MODEM_INITIALIZING,
    MODEM_READY,
    MODEM_BUSY,
    MODEM_RECOVERING,
    MODEM_FAILED,
};

/* Ladder rungs, in climbing order. */
enum modem_rung {
    MODEM_RUNG_RESYNC = 0,
    MODEM_RUNG_REOPEN,
    MODEM_RUNG_CFUN,
    MODEM_RUNG_POWER,
    MODEM_RUNG_GIVE_UP,
};

enum modem_log_level { MODEM_LOG_ERR = 3, MODEM_LOG_WARN = 4, MODEM_LOG_INFO = 6, MODEM_LOG_DEBUG = 7 };

struct modem_cfg {
    const struct modem_vendor *vendor; /* NULL = auto (identify from ATI) */
    const char *pin;                   /* NULL/"" = none; copied; never logged */
    unsigned gpio_wired;               /* gpio_has() bits of the slot; 0 = no GPIO */
    struct gpio_timing timing;         /* power timings when gpio_wired */
    bool power_on_at_start;            /* run the power-on sequence before AT */
    sg_ms sim_timeout_ms;              /* SIM busy after PIN; 0 = default */
    sg_ms reg_timeout_ms;              /* registration wait; 0 = default */
    sg_ms csq_interval_ms;             /* 0 = MODEM_CSQ_INTERVAL_MS, <0 = never */
};

/* What the owner reads after MODEM_ACT_IDENTITY / MODEM_ACT_SIGNAL. Strings
 * are "" when unknown. */
struct modem_identity {
    char vendor[16];           /* profile name */
    char manufacturer[MODEM_FIELD_MAX];
    char model[MODEM_FIELD_MAX];
    char firmware[MODEM_FIELD_MAX];
    char imei[24];
    char iccid[24];
    char imsi[24];
    char msisdn[32];
    char operator_name[MODEM_FIELD_MAX];
    char smsc[32];
    char pin_state[16];        /* "READY", "SIM PIN", "SIM PUK", "NO SIM", "" */
    int creg, cgreg, cereg;    /* 27.007 <stat>, -1 unknown */
    bool registered;
    bool roaming;
    int rssi_dbm;              /* 0 = unknown */
    const char *band;          /* "marginal"/"workable"/"good"/"excellent"/"unknown" */
    bool status_reports;       /* CNMI took a ds != 0 */
};

enum modem_job_kind {
    MODEM_JOB_NONE = 0,
    MODEM_JOB_SMS,             /* one PDU via AT+CMGS */
};

struct modem_job {
    enum modem_job_kind kind;
    uint64_t id;               /* the owner's handle, echoed in the result */
    int tpdu_len;              /* SMS: AT+CMGS=<tpdu_len> */
    const char *pdu_hex;       /* SMS: SMSC field + TPDU, hex; copied */
};

struct modem_send_result {
    uint64_t id;
    bool ok;
    int mr;                    /* ok: TP-MR from +CMGS */
    enum modem_err_class cls;  /* !ok: how to retry; MODEM_ERR_UNKNOWN = maybe sent */
    int code;                  /* CMS/CME code, -1 none */
    const char *why;           /* "cms", "cme", "error", "prompt timeout",
                                  "result timeout", "modem lost", ... */
};

enum modem_ev_type {
    MODEM_EV_START,            /* bring the modem up (opens the port) */
    MODEM_EV_STOP,             /* close everything; state absent */
    MODEM_EV_PORT_OPENED,
    MODEM_EV_PORT_FAILED,      /* open/reopen failed or device absent */
    MODEM_EV_PORT_GONE,        /* unplugged */
    MODEM_EV_AT_DONE,          /* result of the command from MODEM_ACT_AT */
    MODEM_EV_RESYNCED,         /* at_chan's own resync after a timeout ended */
    MODEM_EV_URC,              /* an unsolicited line (+ its PDU) */
    MODEM_EV_TIMER,
    MODEM_EV_JOB,              /* owner submits a job */
    MODEM_EV_STORED,           /* owner committed the inbound message `index` */
};

struct modem_event {
    enum modem_ev_type type;
    int gpio_status;                  /* STATUS now: 1, 0, or <0 (not wired) */
    const struct at_result *res;      /* AT_DONE; borrowed for the call */
    uint32_t seq;                     /* AT_DONE: the seq of the MODEM_ACT_AT */
    const char *line;                 /* URC; borrowed */
    const char *pdu;                  /* URC body (+CMT/+CDS) or NULL; borrowed */
    bool ok;                          /* RESYNCED */
    const struct modem_job *job;      /* JOB; copied */
    int index;                        /* STORED: the token from the action */
};

enum modem_act_type {
    MODEM_ACT_OPEN,
    MODEM_ACT_CLOSE,
    MODEM_ACT_REOPEN,
    MODEM_ACT_RESYNC,          /* reset the AT channel, drop input, write ESC CR */
    MODEM_ACT_AT,              /* submit act.at; answer with MODEM_EV_AT_DONE */
    MODEM_ACT_GPIO,            /* drive act.gpio.role to act.gpio.asserted */
    MODEM_ACT_STATE,
    MODEM_ACT_IDENTITY,        /* modem_identity() changed */
    MODEM_ACT_SIGNAL,          /* rssi_dbm/band changed */
    MODEM_ACT_SEND_DONE,
    MODEM_ACT_INBOUND,         /* an SMS-DELIVER PDU */
    MODEM_ACT_REPORT,          /* an SMS-STATUS-REPORT PDU */
    MODEM_ACT_LOG,
};

struct modem_action {
    enum modem_act_type type;
    uint32_t seq;              /* MODEM_ACT_AT: echo it in MODEM_EV_AT_DONE */
    union {
        struct {
            char text[MODEM_CMD_MAX];
            const char *expect;        /* static, may be NULL */
            unsigned flags;            /* AT_CMD_* */
            sg_ms timeout_ms;
            sg_ms prompt_timeout_ms;
            const char *payload;       /* owned by the modem; valid until the
                                          next modem_step; NULL if none */
        } at;
        struct {
            unsigned role;
            bool asserted;
        } gpio;
        struct {
            enum modem_state from, to;
            char reason[MODEM_LOG_MAX];
        } state;
        struct modem_send_result send;
        struct {
            int index;                 /* storage token (see above), -1 for +CMT/+CDS */
            int tpdu_len;              /* from the header, -1 unknown */
            char pdu[MODEM_PDU_HEX_MAX];
        } msg;
        struct {
            enum modem_log_level level;
            char text[MODEM_LOG_MAX];  /* "event=... key=value" */
        } log;
    } u;
};

/* Filled by modem_step; past MODEM_ACTIONS_MAX further actions are dropped
 * and `overflow` is set (a bug: no single event produces that many). */
struct modem_actions {
    size_t n;
    bool overflow;
    struct modem_action a[MODEM_ACTIONS_MAX];
    struct modem_action spare;   /* scratch target once full; ignore */
};

struct modem;   /* opaque */

/* Returns NULL on allocation failure. cfg is copied (the PIN too). */
struct modem *modem_new(const struct modem_cfg *cfg);
void modem_free(struct modem *m);

/* Feeds one event at `now`; clears and fills *out. */
void modem_step(struct modem *m, const struct modem_event *ev, sg_ms now, struct modem_actions *out);

/* Earliest time a MODEM_EV_TIMER is wanted; SG_MS_NEVER if none. */
sg_ms modem_next_deadline(const struct modem *m);

enum modem_state modem_state(const struct modem *m);
/* Why the last state change happened ("wrong PIN", "not registered"...);
 * owned by m, valid until the next step. */
const char *modem_reason(const struct modem *m);
/* Owned by m; valid for its lifetime, updated in place. */
const struct modem_identity *modem_identity(const struct modem *m);
/* The profile in use (the identified one after vendor=auto), or NULL
 * before identification. */
const struct modem_vendor *modem_vendor(const struct modem *m);
/* True when a job may be submitted now (ready, slot empty). */
bool modem_can_accept(const struct modem *m);
/* True once the modem answered AT at least once since the start. */
bool modem_answered(const struct modem *m);
/* Bring-up step in progress ("sim", "registration", ...), for reasons. */
const char *modem_phase_name(const struct modem *m);
/* Ladder rung the next recovery round will take. */
enum modem_rung modem_next_rung(const struct modem *m);

const char *modem_state_name(enum modem_state s);
const char *modem_rung_name(enum modem_rung r);

#endif
