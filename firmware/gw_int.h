/*
 * gw internals shared by gw.c (lifecycle, store, queue, API) and
 * gw_port.c (modem ports on the loop, the API's provider). Not a public
 * interface: nothing outside firmware/gw*.c includes it.
 */
#ifndef SG_GW_INT_H
#define SG_GW_INT_H

#include <uv.h>

#include "drivers/modem/modem_port.h"
#include "firmware/api.h"
#include "firmware/cfg.h"
#include "firmware/gw.h"
#include "firmware/log.h"
#include "firmware/queue.h"
#include "firmware/sched.h"
#include "firmware/store.h"
#include "firmware/webhook.h"

struct gw;

/* One modem slot on the loop. The uv_poll is re-created whenever the
 * port's fd changes (reopen after unplug), since a poll handle is bound to
 * one fd; the old one is closed asynchronously and freed in its close cb. */
struct gw_port {
    struct gw *gw;
    size_t index;                   /* slot index, as sched knows it */
    struct modem_port *port;
    uv_poll_t *poll;                /* NULL while the port is closed */
    int poll_fd;
    int poll_events;
    uv_timer_t timer;               /* the port's nearest deadline */
    bool sched_ready;               /* what sched was last told */
    char last_error[160];
};

struct gw {
    uv_loop_t loop;
    uv_signal_t sig_term, sig_int, sig_hup;
    uv_timer_t sched_timer;         /* sched's single wake-up */
    uv_timer_t purge_timer;         /* retention, in small batches */
    struct gw_opts opts;
    struct sg_config *cfg;          /* owned; replaced on a good reload */
    struct sglog *log;              /* not owned */
    int lock_fd;
    struct store *store;
    struct queue *queue;
    struct sched *sched;
    struct api *api;
    struct webhook *webhook;        /* NULL when no URL is configured */
    struct sched_sim_cfg *sims;     /* from cfg->sims, for sched */
    const char *slot_ids[CFG_MAX_MODEMS];
    size_t nports;
    struct gw_port ports[CFG_MAX_MODEMS];
};

/* gw_port.c */
int gw_ports_start(struct gw *gw, struct sg_err *err);
void gw_ports_free(struct gw *gw);
int gw_port_send(struct gw *gw, size_t slot, int64_t msg_id, int seq, int tpdu_len,
                 const char *hex);
void gw_port_ack(struct gw *gw, size_t slot, int index);
void gw_provider(struct gw *gw, struct api_provider *out);

#endif
