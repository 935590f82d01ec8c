/*
 * ms_modem: the modem side of an AT channel, as a state machine.
 *
 * Bytes from the host go in (ms_modem_input), bytes for the host come out
 * (ms_modem_take_output); time only moves when the caller says so (every call
 * takes `now`, monotonic ms) and ms_modem_deadline says when the next timer
 * (a boot URC, a delayed +CMGS, a status report…) is due. It never reads a
 * clock, never sleeps and never touches a file descriptor, so the pty loop in
 * main.c is thin and the behaviour is testable with a fake clock.
 *
 * What it plays is chosen by a profile (ms_profile.h). Faults are fields of
 * struct ms_faults, changed at any time by the caller (flags, control socket).
 *
 * Memory: everything is bounded. Host input waiting to be processed is capped
 * at MS_IN_MAX bytes (more is dropped, as a UART overrun would), a command
 * line at MS_LINE_MAX (longer lines answer ERROR), output not yet taken at
 * MS_OUT_MAX (the oldest unread output is kept, newer bytes are dropped and
 * counted), stored messages at the profile's mem_total.
 */
#ifndef MS_MODEM_H
#define MS_MODEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/base/sg_clock.h"
#include "drivers/base/sg_err.h"
#include "host-tools/modemsim/ms_profile.h"

#define MS_IN_MAX      8192
#define MS_LINE_MAX    560 /* SIM800 accepts 556 characters per command line */
#define MS_OUT_MAX     65536
#define MS_PDU_HEX_MAX 400 /* 1 + 12 SMSC + 164 TPDU octets, in hex, rounded up */
#define MS_URC_MAX     470 /* longest URC text the control socket sends */

/* Faults the caller may change at any time; the engine reads them live. */
struct ms_faults {
    sg_ms latency_ms;      /* added before every reply (prompt included) */
    sg_ms cmgs_latency_ms; /* Ctrl-Z to +CMGS / +CMS ERROR (network round trip) */
    int cms_code;          /* code of injected +CMS ERRORs (default 500) */
    double cms_rate;       /* 0..1: chance that a valid send fails with cms_code */
    unsigned cms_count;    /* the next N valid sends fail with cms_code */
    double garbage_rate;   /* 0..1: chance of 1..16 random bytes before a reply */
    unsigned lose_ok;      /* the final OK of the next N commands is not sent */
    bool reboot_mid_send;  /* the next send reboots once its prompt is out */
    bool silent;           /* read and drop everything, answer nothing */
};

struct ms_config {
    const struct ms_profile *prof; /* required; static storage */
    uint64_t seed;                 /* every random choice comes from this */
    sg_ms boot_ms;                 /* dead time after power on or reset (input dropped) */
    sg_ms reg_ms;                  /* from SIM ready to registered */
    sg_ms sr_delay_ms;             /* +CMGS to its status report */
    int sr_status;                 /* TP-ST of generated status reports */
    sg_ms urc_period_ms;           /* Huawei ^RSSI period */
    sg_ms cnma_timeout_ms;         /* CSMS=1: a +CMT/+CDS not acknowledged in time resets CNMI */
    int rssi;                      /* CSQ value while registered (0..31) */
    bool sim_missing;
    const char *pin;    /* NULL: the SIM asks for no PIN; copied */
    const char *puk;    /* NULL: "12345678"; copied */
    bool no_network;    /* the network is not there at boot */
    const char *smsc;   /* NULL: "+33689004000"; copied */
    const char *prompt; /* NULL: the profile's; else the bytes sent after AT+CMGS
                         * (static storage, e.g. "\r\n>\r\n" as a SIM7670G sends) */
    int mr_start;       /* first TP-MR; < 0: the profile's */
    bool urc_crcrlf;    /* URCs end CR CR LF, as some SIM7600 URCs do */
    sg_ms wall_offset;  /* wall ms = now + wall_offset (logs, SCTS) */
    struct ms_faults faults;
    /* One JSON object per line, without the newline; the line is only valid
     * during the call. NULL: no log. */
    void (*log)(void *ctx, const char *line);
    void *log_ctx;
    /* Debug trace of every line in and out; NULL: none. */
    void (*trace)(void *ctx, const char *dir, const char *text, size_t n);
};

struct ms_stats {
    unsigned long commands, unknown, sends, sends_ok, sends_err, sends_bad, sends_cancel;
    unsigned long reboots, garbage_bytes, lost_ok, status_reports, sms_injected;
    unsigned long sms_direct, sms_stored, sms_dropped, out_dropped, in_dropped;
    unsigned long cnma_timeouts;
    char last_unknown[64]; /* the last command answered as unknown */
};

struct ms_modem;

/* Creates a powered-on modem that starts booting at `now`. Returns NULL when
 * out of memory or when cfg->prof is NULL. Free with ms_modem_free. */
struct ms_modem *ms_modem_new(const struct ms_config *cfg, sg_ms now);
void ms_modem_free(struct ms_modem *m);

/* Feeds bytes written by the host. */
void ms_modem_input(struct ms_modem *m, const uint8_t *buf, size_t n, sg_ms now);
/* Wall-clock UTC microseconds of the read() that delivered the next
 * ms_modem_input bytes; the PDU log's "cmgs_us" comes from it (null when
 * never stamped). The modem itself reads no clock. */
void ms_modem_stamp_input(struct ms_modem *m, int64_t wall_us);
/* Runs the timers due at `now`. */
void ms_modem_tick(struct ms_modem *m, sg_ms now);
/* Earliest time ms_modem_tick has something to do, or SG_MS_NEVER. */
sg_ms ms_modem_deadline(const struct ms_modem *m);
/* Moves up to cap pending output bytes to buf; returns how many. */
size_t ms_modem_take_output(struct ms_modem *m, uint8_t *buf, size_t cap);
/* Drops output not yet taken (the port is closed: nobody would read it). */
void ms_modem_discard_output(struct ms_modem *m);

/* Live fault settings, owned by m. */
struct ms_faults *ms_modem_faults(struct ms_modem *m);
const struct ms_stats *ms_modem_stats(const struct ms_modem *m);
const char *ms_modem_profile_name(const struct ms_modem *m);

/* Power-cycles the modem now: echo back on, settings and messages in RAM
 * forgotten, boot URCs again. */
void ms_modem_reboot(struct ms_modem *m, sg_ms now);
/* Sends URC `text` (no CR LF) now, or, with mid_reply, inside the next reply
 * that has a final result: after its first information line, or before the
 * final result when it has none (REFERENCE §1.3: a +CREG: URC can arrive
 * while the host waits for the solicited reply). Text over 470 bytes is cut. */
void ms_modem_urc(struct ms_modem *m, const char *text, bool mid_reply);
/* Writes n random bytes to the host now. */
void ms_modem_garbage(struct ms_modem *m, unsigned n);
/* Takes the SIM out (`+CPIN: NOT INSERTED`, registration lost). */
void ms_modem_sim_remove(struct ms_modem *m, sg_ms now);
/* Puts a SIM in; pin NULL = unlocked, else it asks for that PIN (puk NULL =
 * keep the current PUK). */
void ms_modem_sim_insert(struct ms_modem *m, const char *pin, const char *puk, sg_ms now);
/* Network available or not; registration follows (with URCs). stat is the
 * CREG state to show while lost: 0 not searching, 2 searching, 3 denied. */
void ms_modem_network(struct ms_modem *m, bool available, int lost_stat, sg_ms now);
void ms_modem_set_rssi(struct ms_modem *m, int rssi);
void ms_modem_set_sr(struct ms_modem *m, sg_ms delay_ms, int st);

enum ms_inject_mode { MS_INJECT_AUTO = 0, MS_INJECT_STORED, MS_INJECT_DIRECT };

/* An SMS from `from` with UTF-8 `text` arrives, cut into parts when long.
 * Returns the number of parts delivered, or a negative code with err filled
 * (-EAGAIN not registered, -EINVAL bad number, -E2BIG text too long,
 * -ENOSPC storage full). */
int ms_modem_inject_sms(struct ms_modem *m, const char *from, const char *text,
                        enum ms_inject_mode mode, sg_ms now, struct sg_err *err);
/* A status report for (mr, to) with TP-ST st arrives now, as the CNMI ds
 * setting says. Returns 0 or a negative code with err filled. */
int ms_modem_status_report(struct ms_modem *m, int mr, const char *to, int st, sg_ms now,
                           struct sg_err *err);

/* Short state summary for the stats command: registration, SIM, echo… */
struct ms_state_view {
    int reg_stat, rssi, cmee, mr_next, stored, cfun;
    bool echo, booting, in_prompt, sim_present;
    const char *sim_state; /* "READY", "SIM PIN", "SIM PUK", "NOT INSERTED" */
    int cnmi[5];
};
void ms_modem_view(const struct ms_modem *m, struct ms_state_view *v);

#endif
