/*
 * sched: the dispatcher between the durable queue and the modems.
 *
 * Event-driven, no polling: sched_kick() runs a dispatch when a modem became
 * free or ready, when submits were committed, or when the one wake-up timer
 * fired (sched arms it through ops->arm at the earliest next_attempt_at,
 * expiry, rate-limit or breaker time). A dispatch walks the due messages in
 * queue order (priority, then oldest) and gives each to the SIM route_pick
 * chooses among the free modems, so a free modem always takes the
 * highest-priority message it may carry and an OTP never waits behind bulk.
 * All parts of one message go out consecutively on that modem.
 *
 * Failed sends go through retry_decide (firmware/retry.h): another SIM now,
 * back-off, fail, or `unknown` when the PDU may have left. The per-SIM rate,
 * quotas (bucket), breaker and sticky sender live here in memory; quota
 * counters are also written to the SIM's row so they survive restarts.
 *
 * Status reports are matched on (SIM, TP-MR, recipient in either form,
 * window) against the parts the store holds; inbound SMS are stored (and
 * multipart sets reassembled) before the modem is told it may delete them.
 *
 * The modems themselves are behind struct sched_ops (the daemon's modem
 * ports, or a test's fake). Times are wall-clock UTC ms.
 *
 * Ownership: sched borrows the queue, the store, the log and the SIM configs
 * given at sched_new; they must outlive it.
 */
#ifndef SG_SCHED_H
#define SG_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/base/sg_clock.h"
#include "drivers/modem/modem.h"
#include "firmware/breaker.h"
#include "firmware/bucket.h"
#include "firmware/log.h"
#include "firmware/queue.h"
#include "firmware/retry.h"
#include "firmware/store.h"

#define SCHED_SLOTS_MAX 16
#define SCHED_SIMS_MAX 32          /* SIMs remembered (seen in any slot since start) */
#define SCHED_PREFIXES_MAX 16      /* allow / deny prefixes per SIM */
#define SCHED_SCAN_MAX 64          /* due messages examined per dispatch */
#define SCHED_EXCL_MAX 256         /* messages with per-message SIM exclusions */
#define SCHED_UNROUTABLE_RECHECK_MS 30000  /* no present SIM may carry it: look again then */
#define SCHED_DLR_WINDOW_DEFAULT_MS ((sg_ms)3 * 24 * 3600 * 1000)
#define SCHED_REASM_TIMEOUT_DEFAULT_MS ((sg_ms)600 * 1000)

/* Per-SIM configuration (from the config's `sims` list), matched by ICCID. */
struct sched_sim_cfg {
    char iccid[24];
    char label[64];
    char msisdn[24];
    bool enabled;
    struct bucket_limits limits;
    size_t n_allow, n_deny;
    char allow[SCHED_PREFIXES_MAX][16];
    char deny[SCHED_PREFIXES_MAX][16];
};

struct sched_ops {
    /* Hand PDU `seq` of message `msg_id` to slot `slot`; the result comes
     * back through sched_send_done(). Returns 0, or < 0 if the slot cannot
     * take it now (treated as a retry-now failure). */
    int (*send_pdu)(void *ud, size_t slot, int64_t msg_id, int seq, int tpdu_len,
                    const char *pdu_hex);
    /* Inbound message / report at storage `index` of `slot` is committed. */
    void (*ack_stored)(void *ud, size_t slot, int index);
    /* (Re-)arm the single wake-up at wall time `at`; SG_MS_NEVER disarms. */
    void (*arm)(void *ud, sg_ms at);
    /* 32 random bits for retry jitter. */
    uint32_t (*random)(void *ud);
};

struct sched_opts {
    struct queue *queue;
    struct store *store;
    const struct sglog *log;
    const char *default_cc;                 /* for matching national forms in reports */
    struct retry_policy retry;              /* retry_policy_default() if zeroed */
    struct breaker_cfg breaker;             /* breaker_cfg_default() if zeroed */
    sg_ms sticky_window_ms;                 /* 0 = no sticky sender */
    sg_ms dlr_window_ms;                    /* 0 = SCHED_DLR_WINDOW_DEFAULT_MS */
    sg_ms reasm_timeout_ms;                 /* 0 = SCHED_REASM_TIMEOUT_DEFAULT_MS */
    bool unknown_sims_enabled;              /* SIMs not in `sims` may send (default true) */
    const struct sched_sim_cfg *sims;       /* borrowed */
    size_t nsims;
    size_t nslots;                          /* 1..SCHED_SLOTS_MAX */
    const char *const *slot_ids;            /* nslots modem ids, borrowed */
};

struct sched;

int sched_new(const struct sched_opts *o, const struct sched_ops *ops, void *ud,
              struct sched **out, struct sg_err *err);
void sched_free(struct sched *s);

/* Start-up: resolves messages left in `sending` by the crash-recovery rules.
 * Call once before the first kick. */
int sched_recover(struct sched *s, sg_ms now, struct sg_err *err);

/* A slot's modem became ready (with the SIM's ICCID, may be "") or stopped
 * being ready. A job in flight on a slot that is no longer ready is
 * resolved when its send result arrives (the modem always reports one). */
void sched_slot_ready(struct sched *s, size_t slot, bool ready, const char *iccid, sg_ms now);

/* The modem's answer to a send_pdu. */
void sched_send_done(struct sched *s, size_t slot, const struct modem_send_result *r, sg_ms now);

/* A status report / an SMS-DELIVER from `slot` (index -1 when not stored). */
void sched_report(struct sched *s, size_t slot, int index, const char *pdu_hex, int tpdu_len,
                  sg_ms now);
void sched_inbound(struct sched *s, size_t slot, int index, const char *pdu_hex, int tpdu_len,
                   sg_ms now);

/* Dispatch now (new messages committed, a slot freed, or the timer fired). */
void sched_kick(struct sched *s, sg_ms now);

/* Counters for metrics and the API. */
struct sched_sim_view {
    char iccid[24];
    char label[64];
    char slot[32];            /* "" when its modem is not present */
    bool enabled;
    const char *breaker;      /* breaker_state_name */
    uint32_t sent_today, sent_month;
    uint32_t daily_left, monthly_left;   /* UINT32_MAX unlimited */
    uint64_t sends_ok, sends_failed;
    sg_ms last_used;
};
size_t sched_sims(const struct sched *s, struct sched_sim_view *out, size_t max, sg_ms now);
/* Send errors by SIM and code, and the time from +CMGS to a "delivered"
 * report, for /metrics. Bounded: past SCHED_ERRKEYS_MAX distinct
 * (SIM, code) pairs new pairs count under code -1 ("other"). */
#define SCHED_ERRKEYS_MAX 64
#define SCHED_DLR_BUCKETS 9
struct sched_err_count {
    char iccid[24];
    int code;                 /* CMS/CME code, -1 for timeouts and others */
    const char *cls;          /* retry_class_name */
    uint64_t n;
};
struct sched_metrics {
    size_t nerr;
    const struct sched_err_count *err;            /* owned by sched */
    const double *dlr_le;                         /* bucket upper bounds, seconds */
    uint64_t dlr_count[SCHED_DLR_BUCKETS];        /* cumulative, Prometheus style */
    uint64_t dlr_total;
    double dlr_sum_s;
};
void sched_metrics(const struct sched *s, struct sched_metrics *out);

/* Is a job in flight on the slot? */
bool sched_slot_busy(const struct sched *s, size_t slot);

#endif
