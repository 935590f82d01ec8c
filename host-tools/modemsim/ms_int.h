/*
 * ms_int: the engine's private state, shared by ms_modem.c (bytes, timers,
 * boot, SIM, network), ms_cmds.c (the AT command table) and ms_sms.c
 * (sending, storage, inbound). Nothing outside host-tools/modemsim includes it.
 */
#ifndef MS_INT_H
#define MS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "host-tools/modemsim/ms_modem.h"

#define MS_TIMERS_MAX       64
#define MS_STORE_MAX        64  /* upper bound of any profile's mem_total */
#define MS_DIRECT_QUEUE_MAX 8   /* +CMT/+CDS waiting for +CNMA (CSMS=1) */
#define MS_URC_TEXT_MAX     480 /* a +CMT with its PDU fits */

/* A growable byte buffer with a hard cap; appends past the cap are dropped. */
struct ms_buf {
    char *d;
    size_t len, cap, max;
};
int ms_buf_add(struct ms_buf *b, const void *p, size_t n); /* 0, or -1 when capped */
int ms_buf_addf(struct ms_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ms_buf_free(struct ms_buf *b);

enum ms_sim { MS_SIM_READY, MS_SIM_PIN, MS_SIM_PUK, MS_SIM_ABSENT };

enum ms_timer_kind {
    MS_T_BOOT_DONE,
    MS_T_URC,      /* print text */
    MS_T_REG,      /* registration becomes a */
    MS_T_SR,       /* status report for mr a, TP-ST b, recipient text */
    MS_T_PERIODIC, /* Huawei ^RSSI */
    MS_T_CNMA,     /* the +CMT/+CDS in flight was not acknowledged in time */
    MS_T_RELEASE,  /* a held reply is due */
};

struct ms_timer {
    bool used;
    sg_ms at;
    enum ms_timer_kind kind;
    int a, b;
    sg_ms wall; /* MS_T_SR: when the message was submitted (SCTS) */
    char text[48];
};

/* One slot of the message storage. Inbound DELIVERs are stat 0/1 (unread /
 * read), status reports too; hex includes the SMSC field. */
struct ms_slot {
    bool used;
    int stat;
    int len; /* TPDU octets */
    char hex[MS_PDU_HEX_MAX + 1];
};

enum ms_in_mode { MS_IN_CMD, MS_IN_PDU };

struct ms_modem {
    struct ms_config cfg;
    const struct ms_profile *prof;
    char pin[16], puk[16], smsc[24];
    struct ms_faults faults;
    struct ms_stats stats;
    uint64_t rng;

    /* bytes */
    uint8_t in[MS_IN_MAX];
    size_t in_len;
    char line[MS_LINE_MAX + 1];
    size_t line_len;
    bool line_overflow;
    enum ms_in_mode mode;
    char pdu[MS_PDU_HEX_MAX + 1];
    size_t pdu_len;
    bool pdu_overflow;
    int cmgs_len;      /* <length> of the AT+CMGS in progress */
    /* Wall-clock UTC microseconds (0 = not stamped): of the read() whose
     * bytes are being processed, of the first byte of the current command
     * line, and of the AT+CMGS= line of the send in progress ("cmgs_us" in
     * the PDU log, for latency benchmarks). */
    int64_t in_wall_us;
    int64_t line_start_us;
    int64_t cmgs_us;
    bool reboot_armed; /* reboot_mid_send fires on the first PDU byte */
    struct ms_buf out;
    struct ms_buf held;      /* reply waiting for its latency */
    sg_ms busy_until;        /* no input is processed before this (SG_MS_NEVER = idle) */
    bool reboot_after_reply; /* AT+CFUN=1,1: OK first, then the reset */
    bool flushed;            /* a reboot threw the input away mid-processing */
    bool executing;          /* a command line runs: its URCs follow its reply */
    uint8_t prev_in;         /* autobaud: last byte seen before sync */
    char final_buf[64];
    char mid_urc[MS_URC_TEXT_MAX];
    /* goes inside the next reply ("" = none) */ /* final result text built by ms_cmds_run */
    struct ms_buf urc_hold;                      /* URCs held while the host types a PDU */

    /* timers */
    struct ms_timer timers[MS_TIMERS_MAX];

    /* power and settings (forgotten on reboot) */
    bool booting;
    bool pin_enabled; /* the SIM asks for its PIN at every power-on */
    bool synced;      /* autobaud: the host has sent AT since boot */
    bool echo;
    int cmee;
    int creg_n, cgreg_n, cereg_n;
    int cops_format;
    int cnmi[5];
    int csms;
    int cfun;
    bool curc; /* Huawei periodic URCs on */
    unsigned periodic_count;
    char cscs[8];
    uint8_t mr;

    /* SIM and network */
    enum ms_sim sim;
    int pin_tries, puk_tries;
    bool net_available;
    int lost_stat;
    int reg_stat;
    int rssi;
    sg_ms sr_delay_ms;
    int sr_status;

    /* storages, one per profile memory name (SIM and flash keep them across
     * reboots); mem[0..2] are CPMS mem1 (read, list, delete), mem2 (write,
     * send) and mem3 (receive), as indexes into prof->mems */
    struct ms_slot store[MS_MEMS_MAX][MS_STORE_MAX];
    int mem[3];

    /* CSMS=1 acknowledgement of direct deliveries */
    bool cnma_wait;
    char direct_q[MS_DIRECT_QUEUE_MAX][MS_URC_TEXT_MAX];
    unsigned direct_n;
};

/* ms_modem.c */
uint32_t ms_rand(struct ms_modem *m);
double ms_rand_unit(struct ms_modem *m);
void ms_emit(struct ms_modem *m, const char *s, size_t n); /* raw bytes now */
void ms_urc(struct ms_modem *m, const char *line);         /* CR LF line CR LF, or held */
/* Returns the timer (to fill more fields) or NULL when all are in use. */
struct ms_timer *ms_timer_add(struct ms_modem *m, sg_ms at, enum ms_timer_kind kind, int a, int b,
                              const char *text);
void ms_set_reg(struct ms_modem *m, int stat, sg_ms now);
void ms_schedule_registration(struct ms_modem *m, sg_ms now);
void ms_sim_unlocked(struct ms_modem *m, sg_ms now);
void ms_reset_settings(struct ms_modem *m);
const char *ms_sim_state_text(const struct ms_modem *m);
sg_ms ms_wall(const struct ms_modem *m, sg_ms now);
void ms_log_pdu(struct ms_modem *m, sg_ms now, const char *hex, int len, int mr,
                const char *result);
void ms_finish_reply(struct ms_modem *m, struct ms_buf *reply, const char *final, sg_ms now,
                     sg_ms extra_delay);

/* ms_cmds.c: runs one command line (the text after "AT"); fills reply and
 * returns the final result text, or NULL when no final result is due now
 * (the prompt was sent). */
const char *ms_cmds_run(struct ms_modem *m, const char *cmd, struct ms_buf *reply, sg_ms now);
bool ms_cmds_has(const struct ms_modem *m, const char *name);

/* ms_sms.c */
/* Starts AT+CMGS=<len>: returns 0 when the prompt went out, or a +CMS ERROR
 * code to answer instead. */
int ms_sms_cmgs_start(struct ms_modem *m, int len, sg_ms now);
void ms_sms_pdu_byte(struct ms_modem *m, uint8_t c, sg_ms now);
void ms_sms_status_due(struct ms_modem *m, const struct ms_timer *t, sg_ms now);
void ms_sms_direct(struct ms_modem *m, const char *urc, sg_ms now);
void ms_sms_cnma_timeout(struct ms_modem *m);
/* Stores into memory `mem` (index into prof->mems); returns the AT index or -1 when full. */
int ms_sms_store(struct ms_modem *m, int mem, const char *hex, int len, int stat);
int ms_sms_used(const struct ms_modem *m, int mem);
/* Index of a memory name in prof->mems, or -1. */
int ms_mem_find(const struct ms_modem *m, const char *name);

#endif
