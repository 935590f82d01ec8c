/*
 * modem_port: one modem slot wired up: a serial port, its AT channel, the
 * slot's GPIO lines (optional) and the modem state machine, behind a
 * loop-agnostic surface.
 *
 * The owner's loop watches modem_port_fd() (readable; writable too while
 * modem_port_want_write()), and arms one timer at modem_port_next_deadline().
 * It calls on_readable / on_writable / tick with the monotonic time. The fd
 * changes when the port is reopened (unplug, recovery): re-read it after
 * every call, or use cbs.fd_changed. simgated drives it from libuv (uv_poll
 * plus one uv_timer), simpool from poll().
 *
 * The library never prints: everything worth saying goes to cbs.log as one
 * line of key=value fields prefixed with "modem=<id>", with a level. PINs
 * are never in it.
 *
 * Not thread-safe; callbacks run inside the port's calls and may call
 * modem_port_send_pdu / modem_port_ack_stored, but not modem_port_free.
 */
#ifndef SG_MODEM_PORT_H
#define SG_MODEM_PORT_H

#include <stdbool.h>
#include <stdint.h>

#include "drivers/base/sg_clock.h"
#include "drivers/base/sg_err.h"
#include "drivers/gpio/gpio.h"
#include "drivers/modem/modem.h"

struct modem_port;   /* opaque */

struct modem_port_cfg {
    const char *id;                   /* slot name for logs ("m1"); copied */
    const char *path;                 /* serial device, by-id link or pty; copied */
    int baud;                         /* 0 = 115200 */
    bool rtscts;                      /* hardware flow control */
    const struct modem_vendor *vendor;/* NULL = auto (ATI/CGMI) */
    const char *pin;                  /* NULL = none; copied, never logged */
    /* GPIO: either a config to open (lines held until free), or an open
     * handle the caller keeps (e.g. the recording backend); both NULL = no
     * GPIO. Each 0 field of timing takes gpio_seq_timing_for(vendor name,
     * or "generic" for auto). */
    const struct gpio_cfg *gpio_cfg;
    struct gpio *gpio;                /* not owned */
    struct gpio_timing timing;
    bool power_on_at_start;           /* PWRKEY power-on before the first AT;
                                         implied when PWRKEY and STATUS are
                                         wired (it is skipped if STATUS says on) */
    sg_ms sim_timeout_ms;             /* 0 = MODEM_DEFAULT_SIM_TIMEOUT_MS */
    sg_ms reg_timeout_ms;             /* 0 = MODEM_DEFAULT_REG_TIMEOUT_MS */
    sg_ms csq_interval_ms;            /* 0 = MODEM_CSQ_INTERVAL_MS, <0 never */
};

/* Every callback is optional. Pointers handed over are valid only during the
 * call (identity stays valid for the port's lifetime). */
struct modem_port_cbs {
    void (*state)(void *ud, struct modem_port *p, enum modem_state from, enum modem_state to,
                  const char *reason);
    void (*identity)(void *ud, struct modem_port *p, const struct modem_identity *id);
    void (*signal)(void *ud, struct modem_port *p, int dbm, const char *band);
    /* An SMS-DELIVER. index >= 0: stored (an opaque token: the SIM index
     * for "SM", memory << 16 | index elsewhere); call
     * modem_port_ack_stored(index) once it is committed, then it is deleted
     * from the modem. index -1: delivered directly (+CMT). */
    void (*inbound)(void *ud, struct modem_port *p, int index, const char *pdu_hex, int tpdu_len);
    /* An SMS-STATUS-REPORT; same index rule. */
    void (*report)(void *ud, struct modem_port *p, int index, const char *pdu_hex, int tpdu_len);
    void (*log)(void *ud, struct modem_port *p, enum modem_log_level level, const char *line);
    void (*fd_changed)(void *ud, struct modem_port *p, int old_fd, int new_fd);
};

/* Result of modem_port_send_pdu: ok with mr, or a classified failure
 * (MODEM_ERR_UNKNOWN: the PDU went out and no answer came; it may be sent). */
typedef void (*modem_port_send_cb)(void *ud, struct modem_port *p,
                                   const struct modem_send_result *res);

/* Allocates; opens the GPIO lines when gpio_cfg is given (errors: those of
 * gpio_open). The port itself is opened by modem_port_start. */
int modem_port_new(const struct modem_port_cfg *cfg, const struct modem_port_cbs *cbs, void *ud,
                   struct modem_port **out, struct sg_err *err);
/* Closes the port and GPIO (if opened here). A send in progress is not
 * reported. NULL allowed. */
void modem_port_free(struct modem_port *p);

/* Opens the serial port and starts bring-up; a missing device is not an
 * error (state absent, retried). */
void modem_port_start(struct modem_port *p, sg_ms now);
/* Closes the serial port; state absent. */
void modem_port_stop(struct modem_port *p, sg_ms now);

int modem_port_fd(const struct modem_port *p);          /* -1 while closed */
bool modem_port_want_write(const struct modem_port *p);
sg_ms modem_port_next_deadline(const struct modem_port *p);
void modem_port_on_readable(struct modem_port *p, sg_ms now);
void modem_port_on_writable(struct modem_port *p, sg_ms now);
void modem_port_tick(struct modem_port *p, sg_ms now);

/*
 * Sends one PDU (hex: SMSC field + TPDU; tpdu_len as for AT+CMGS). Returns 0
 * and later calls done exactly once (unless the port is freed first), or
 * -EBUSY when the modem is not ready or already sending (done not called),
 * -EINVAL for a bad PDU. id is echoed in the result.
 */
int modem_port_send_pdu(struct modem_port *p, uint64_t id, int tpdu_len, const char *hex,
                        modem_port_send_cb done, void *ud, sg_ms now);

/* The inbound message with token `index` is committed: delete it from the
 * modem. */
void modem_port_ack_stored(struct modem_port *p, int index, sg_ms now);

enum modem_state modem_port_state(const struct modem_port *p);
const char *modem_port_reason(const struct modem_port *p);
const struct modem_identity *modem_port_identity(const struct modem_port *p);
const char *modem_port_id(const struct modem_port *p);
const char *modem_port_path(const struct modem_port *p);
/* The state machine, for read-only queries (modem_answered, phase...). */
const struct modem *modem_port_modem(const struct modem_port *p);

#endif
