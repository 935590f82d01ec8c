/*
 * cfg: simgated's configuration and board files (libconfig syntax).
 *
 * Loading is two passes: every setting is first checked against a constant
 * schema (unknown keys, wrong types, out-of-range values and missing keys are
 * errors reported as "FILE:LINE: what is wrong", like `nginx -t`), then the
 * checked tree is copied into a plain struct. Nothing half-valid is returned.
 *
 * Modem slots come either from a board file (`board = "virtual";` resolved
 * as <boards_dir>/virtual.conf) or from a `modems = ( … )` list in the
 * config itself, which wins over the board when both are given.
 *
 * Ownership: cfg_load() allocates a struct sg_config the caller frees with
 * cfg_free(). All strings inside are fixed-size arrays, so a config can be
 * copied or compared as a whole.
 */
#ifndef SG_CFG_H
#define SG_CFG_H

#include <stdbool.h>
#include <stddef.h>

#include "drivers/base/sg_err.h"

#define CFG_MAX_MODEMS 16
#define CFG_PATH_MAX 256
#define CFG_ID_MAX 32

struct cfg_gpio {
    bool present;
    char chip[64];          /* "gpiochip0" or "/dev/gpiochip0" */
    int pwrkey;             /* line offset, -1 when the slot has none */
    int reset;
    int status;
    bool pwrkey_active_low;
    bool reset_active_low;
    bool status_active_low;
    /* Timings in ms; 0 = the vendor profile's value (drivers/gpio/gpio_seq). */
    int pwrkey_on_ms;       /* PWRKEY pulse that powers the module on */
    int pwrkey_off_ms;      /* pulse that powers it off */
    int reset_ms;
    int status_wait_ms;     /* how long to wait for STATUS (or ready URCs) */
};

struct cfg_modem {
    char id[CFG_ID_MAX];
    char port[CFG_PATH_MAX];
    int baud;
    bool flow_control;      /* RTS/CTS */
    char vendor[16];        /* sim800 sim7600 ec25 huawei generic auto */
    char pin[9];            /* empty when the SIM needs none */
    struct cfg_gpio gpio;
};

#define CFG_MAX_TOKENS 8

struct cfg_api {
    char socket[CFG_PATH_MAX];
    char group[64];         /* group owning the socket; empty = process group */
    int socket_mode;        /* octal permissions, default 0660 */
    char tcp_listen[64];    /* "127.0.0.1:8088"; empty = no TCP listener (default) */
    size_t ntokens;
    char tokens[CFG_MAX_TOKENS][129];   /* bearer tokens for TCP; never logged */
    int body_max;           /* bytes */
    int long_poll_max_s;
    unsigned client_rate_per_min, client_burst;          /* submits per client, 0 = off */
    unsigned destination_rate_per_min, destination_burst;/* submits per number, 0 = off */
};

#define CFG_MAX_SIMS 32
#define CFG_MAX_PREFIXES 16

/* One SIM of the pool, matched by ICCID when a modem reports it. */
struct cfg_sim {
    char iccid[24];
    char label[64];
    char msisdn[24];
    bool enabled;
    unsigned rate_per_min;        /* parts per minute, 0 = no limit */
    unsigned burst;               /* 0 = rate_per_min */
    unsigned daily;               /* parts per UTC day, 0 = no limit */
    unsigned monthly;             /* parts per UTC month, 0 = no limit */
    size_t n_allow, n_deny;
    char allow[CFG_MAX_PREFIXES][16];   /* destination prefixes, "+33" */
    char deny[CFG_MAX_PREFIXES][16];
};

enum { CFG_PRIO_OTP, CFG_PRIO_URGENT, CFG_PRIO_NORMAL, CFG_PRIO_BULK, CFG_PRIO_COUNT };

struct cfg_queue {
    int ttl_s[CFG_PRIO_COUNT];          /* default TTL per priority, seconds */
    int max_ttl_s;
    int max_parts;
    int attempts[CFG_PRIO_COUNT];       /* attempts per priority, first send included */
    bool recover_retry[CFG_PRIO_COUNT]; /* `sending` at start: retry (true) or unknown */
};

struct cfg_routing {
    int sticky_window_s;                /* 0 = no sticky sender */
    int breaker_threshold;
    int breaker_cooldown_s;
    int dlr_window_s;
    bool unknown_sims;                  /* SIMs not in `sims` may send */
};

#define CFG_MAX_WEBHOOKS 8

struct cfg_webhook {
    size_t nurls;
    char urls[CFG_MAX_WEBHOOKS][2048];
    char secret[257];               /* never logged */
    int timeout_s;
    int max_age_s;                  /* give up on an event this long after it happened */
    bool start_at_oldest;
};

struct sg_config {
    char path[CFG_PATH_MAX];        /* the file this came from */
    char state_dir[CFG_PATH_MAX];
    char board[64];                 /* empty when modems are listed directly */
    char board_path[CFG_PATH_MAX + 80]; /* resolved board file, empty if none */
    char board_name[128];           /* the board's human name */
    char boards_dir[CFG_PATH_MAX];
    char log_level[16];
    char default_cc[4];             /* country code for national numbers, "" none */
    struct cfg_api api;
    struct cfg_queue queue;
    struct cfg_routing routing;
    int reassembly_timeout_s;       /* inbound multipart */
    int retention_days;             /* final messages and events kept this long */
    struct cfg_webhook webhook;
    size_t nsims;
    struct cfg_sim sims[CFG_MAX_SIMS];
    size_t nmodems;
    struct cfg_modem modems[CFG_MAX_MODEMS];
};

/* Command-line values that override the file; NULL fields are ignored. */
struct cfg_overrides {
    const char *state_dir;
    const char *socket;
    const char *boards_dir;
    const char *log_level;
};

/*
 * Loads and validates PATH (and the board it names). On success returns 0
 * and *out (caller frees with cfg_free). On failure returns a negative code
 * and err->msg holds "FILE:LINE: message" (or "FILE: message" when no line
 * applies, e.g. the file cannot be read).
 */
int cfg_load(const char *path, const struct cfg_overrides *ov, struct sg_config **out,
             struct sg_err *err);
void cfg_free(struct sg_config *cfg);

/* Field-by-field comparison (structs have padding, so no memcmp). */
bool cfg_modem_equal(const struct cfg_modem *a, const struct cfg_modem *b);

/* True when two loaded configs differ in any setting. */
bool cfg_differs(const struct sg_config *a, const struct sg_config *b);

/* Validates a board file alone (for tests and `simgated --check-board`). */
int cfg_check_board(const char *path, struct sg_err *err);

#endif
