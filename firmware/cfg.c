#include "firmware/cfg.h"

#include <errno.h>
#include <libconfig.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef SG_BOARDS_DIR
#define SG_BOARDS_DIR "/usr/share/simgate/boards"
#endif

#define DEFAULT_STATE_DIR "/var/lib/simgate"
#define DEFAULT_SOCKET "/run/simgate/api.sock"

/* ------------------------------------------------------------------ schema */

enum key_type { K_STR, K_INT, K_BOOL, K_GROUP, K_LIST, K_STRARR };

struct key;
/* Extra value check: returns NULL when fine, else a reason (static text or
 * written into buf). */
typedef const char *(*key_check_fn)(const config_setting_t *s, char *buf, size_t len);

struct key {
    const char *name;
    enum key_type type;
    bool required;
    long min, max;              /* K_INT range, K_STR length range (max 0 = none),
                                   K_STRARR element count range */
    const long *allowed;        /* K_INT: set of values, ended by 0 */
    const char *const *choices; /* K_STR: set of values, ended by NULL */
    key_check_fn check;
    const struct key *children; /* K_GROUP members, or K_LIST element members */
    bool any_children;          /* K_GROUP whose member names are free (pins) */
};

static const long bauds[] = {9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600, 0};
static const char *const vendors[] = {"sim800", "sim7600", "ec25", "huawei", "generic", "auto", NULL};
static const char *const levels[] = {"err", "warn", "notice", "info", "debug", NULL};

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

static const char *check_id(const config_setting_t *s, char *buf, size_t len)
{
    (void)buf;
    (void)len;
    const char *v = config_setting_get_string(s);
    for (const char *p = v; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
            return "must use only a-z, 0-9, '_' and '-'";
    return NULL;
}

static const char *check_abs_path(const config_setting_t *s, char *buf, size_t len)
{
    (void)buf;
    (void)len;
    return config_setting_get_string(s)[0] == '/' ? NULL : "must be an absolute path";
}

static const char *check_pin(const config_setting_t *s, char *buf, size_t len)
{
    (void)buf;
    (void)len;
    const char *v = config_setting_get_string(s);
    size_t n = strlen(v);
    return (all_digits(v) && n >= 4 && n <= 8) ? NULL : "must be 4 to 8 digits";
}

static const char *check_mode(const config_setting_t *s, char *buf, size_t len)
{
    (void)buf;
    (void)len;
    const char *v = config_setting_get_string(s);
    size_t n = strlen(v);
    if (n < 3 || n > 4)
        return "must be an octal mode such as \"0660\"";
    for (const char *p = v; *p; p++)
        if (*p < '0' || *p > '7')
            return "must be an octal mode such as \"0660\"";
    return NULL;
}

static const char *check_board_name(const config_setting_t *s, char *buf, size_t len)
{
    (void)buf;
    (void)len;
    const char *v = config_setting_get_string(s);
    if (strchr(v, '/') || v[0] == '.')
        return "must be a board name (a file in the boards directory), not a path";
    return check_id(s, buf, len);
}

static const char *check_digits(const config_setting_t *s, char *buf, size_t len)
{
    (void)buf;
    (void)len;
    return all_digits(config_setting_get_string(s)) ? NULL : "must be digits only";
}

/* "+33", "+3361", "33": a leading '+' then digits. */
static const char *check_prefixes(const config_setting_t *s, char *buf, size_t len)
{
    for (int i = 0; i < config_setting_length(s); i++) {
        const char *v = config_setting_get_string_elem(s, i);
        const char *d = v[0] == '+' ? v + 1 : v;
        if (!all_digits(d) || strlen(v) > 15) {
            snprintf(buf, len, "entry \"%s\" is not a number prefix such as \"+33\"", v);
            return buf;
        }
    }
    return NULL;
}

static const char *const recover_modes[] = {"retry", "unknown", NULL};

static const struct key prio_ttl_keys[] = {
    {.name = "otp", .type = K_INT, .min = 10, .max = 604800},
    {.name = "urgent", .type = K_INT, .min = 10, .max = 604800},
    {.name = "normal", .type = K_INT, .min = 10, .max = 604800},
    {.name = "bulk", .type = K_INT, .min = 10, .max = 604800},
    {0},
};
static const struct key prio_attempt_keys[] = {
    {.name = "otp", .type = K_INT, .min = 1, .max = 100},
    {.name = "urgent", .type = K_INT, .min = 1, .max = 100},
    {.name = "normal", .type = K_INT, .min = 1, .max = 100},
    {.name = "bulk", .type = K_INT, .min = 1, .max = 100},
    {0},
};
static const struct key prio_recover_keys[] = {
    {.name = "otp", .type = K_STR, .choices = recover_modes},
    {.name = "urgent", .type = K_STR, .choices = recover_modes},
    {.name = "normal", .type = K_STR, .choices = recover_modes},
    {.name = "bulk", .type = K_STR, .choices = recover_modes},
    {0},
};
static const struct key queue_keys[] = {
    {.name = "ttl", .type = K_GROUP, .children = prio_ttl_keys},
    {.name = "max_ttl", .type = K_INT, .min = 60, .max = 2592000},
    {.name = "max_parts", .type = K_INT, .min = 1, .max = 16},
    {.name = "attempts", .type = K_GROUP, .children = prio_attempt_keys},
    {.name = "recover_sending", .type = K_GROUP, .children = prio_recover_keys},
    {0},
};
static const struct key routing_keys[] = {
    {.name = "sticky_window", .type = K_INT, .min = 0, .max = 2592000},
    {.name = "breaker_threshold", .type = K_INT, .min = 1, .max = 1000},
    {.name = "breaker_cooldown", .type = K_INT, .min = 1, .max = 86400},
    {.name = "dlr_window", .type = K_INT, .min = 60, .max = 2592000},
    {.name = "unknown_sims", .type = K_BOOL},
    {0},
};
static const struct key inbound_keys[] = {
    {.name = "reassembly_timeout", .type = K_INT, .min = 10, .max = 86400},
    {0},
};
static const struct key retention_keys[] = {
    {.name = "max_age_days", .type = K_INT, .min = 1, .max = 3650},
    {0},
};
static const struct key sim_keys[] = {
    {.name = "iccid", .type = K_STR, .required = true, .min = 18, .max = 22, .check = check_digits},
    {.name = "label", .type = K_STR, .max = 63},
    {.name = "msisdn", .type = K_STR, .max = 23},
    {.name = "enabled", .type = K_BOOL},
    {.name = "allow", .type = K_STRARR, .min = 0, .max = CFG_MAX_PREFIXES, .check = check_prefixes},
    {.name = "deny", .type = K_STRARR, .min = 0, .max = CFG_MAX_PREFIXES, .check = check_prefixes},
    {.name = "rate_per_min", .type = K_INT, .min = 0, .max = 6000},
    {.name = "burst", .type = K_INT, .min = 0, .max = 6000},
    {.name = "daily", .type = K_INT, .min = 0, .max = 10000000},
    {.name = "monthly", .type = K_INT, .min = 0, .max = 100000000},
    {0},
};

static const char *check_urls(const config_setting_t *s, char *buf, size_t len)
{
    for (int i = 0; i < config_setting_length(s); i++) {
        const char *v = config_setting_get_string_elem(s, i);
        if (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0) {
            snprintf(buf, len, "entry \"%.64s\" must start with http:// or https://", v);
            return buf;
        }
        if (strlen(v) >= 2048)
            return "has an entry longer than 2047 characters";
    }
    return NULL;
}

static const struct key webhook_keys[] = {
    {.name = "urls", .type = K_STRARR, .max = CFG_MAX_WEBHOOKS, .check = check_urls},
    {.name = "secret", .type = K_STR, .min = 16, .max = 256},
    {.name = "timeout", .type = K_INT, .min = 1, .max = 300},
    {.name = "max_age", .type = K_INT, .min = 60, .max = 30 * 86400},
    {.name = "start_at_oldest", .type = K_BOOL},
    {0},
};

static const struct key gpio_keys[] = {
    {.name = "chip", .type = K_STR, .required = true, .min = 1, .max = 63},
    {.name = "pwrkey", .type = K_INT, .min = 0, .max = 1023},
    {.name = "reset", .type = K_INT, .min = 0, .max = 1023},
    {.name = "status", .type = K_INT, .min = 0, .max = 1023},
    {.name = "pwrkey_active_low", .type = K_BOOL},
    {.name = "reset_active_low", .type = K_BOOL},
    {.name = "status_active_low", .type = K_BOOL},
    {.name = "pwrkey_on_ms", .type = K_INT, .min = 50, .max = 10000},
    {.name = "pwrkey_off_ms", .type = K_INT, .min = 50, .max = 40000},
    {.name = "reset_ms", .type = K_INT, .min = 10, .max = 5000},
    {.name = "status_wait_ms", .type = K_INT, .min = 100, .max = 120000},
    {0},
};

/* A modem slot as a board file describes it. */
#define SLOT_KEYS                                                                                  \
    {.name = "id", .type = K_STR, .required = true, .min = 1, .max = CFG_ID_MAX - 1,               \
     .check = check_id},                                                                           \
        {.name = "port", .type = K_STR, .required = true, .min = 2, .max = CFG_PATH_MAX - 1,       \
         .check = check_abs_path},                                                                 \
        {.name = "baud", .type = K_INT, .allowed = bauds},                                         \
        {.name = "flow_control", .type = K_BOOL},                                                  \
        {.name = "vendor", .type = K_STR, .choices = vendors},                                     \
        {.name = "gpio", .type = K_GROUP, .children = gpio_keys}

static const struct key board_slot_keys[] = {SLOT_KEYS, {0}};
/* In the daemon's own config a slot may also carry the SIM's PIN. */
static const struct key config_slot_keys[] = {
    SLOT_KEYS,
    {.name = "pin", .type = K_STR, .check = check_pin},
    {0},
};

static const struct key pin_value[] = {{.name = NULL, .type = K_STR, .check = check_pin}, {0}};

/* "host:port" with a numeric port; the host is checked when binding. */
static const char *check_listen(const config_setting_t *s, char *buf, size_t len)
{
    (void)buf;
    (void)len;
    const char *v = config_setting_get_string(s);
    const char *colon = strrchr(v, ':');
    if (!colon || colon == v || !all_digits(colon + 1) || strlen(colon + 1) > 5)
        return "must be \"host:port\", e.g. \"127.0.0.1:8088\"";
    long port = strtol(colon + 1, NULL, 10);
    if (port < 1 || port > 65535)
        return "must be \"host:port\", e.g. \"127.0.0.1:8088\"";
    return NULL;
}

static const char *check_tokens(const config_setting_t *s, char *buf, size_t len)
{
    for (int i = 0; i < config_setting_length(s); i++) {
        size_t n = strlen(config_setting_get_string_elem(s, i));
        if (n < 32 || n > 128) {
            snprintf(buf, len, "entry %d must be 32 to 128 characters (it has %zu)", i, n);
            return buf;
        }
    }
    return NULL;
}

static const struct key api_keys[] = {
    {.name = "socket", .type = K_STR, .min = 2, .max = 107, .check = check_abs_path},
    {.name = "group", .type = K_STR, .min = 1, .max = 63},
    {.name = "socket_mode", .type = K_STR, .check = check_mode},
    {.name = "tcp_listen", .type = K_STR, .min = 3, .max = 63, .check = check_listen},
    {.name = "tokens", .type = K_STRARR, .max = CFG_MAX_TOKENS, .check = check_tokens},
    {.name = "body_max", .type = K_INT, .min = 1024, .max = 1048576},
    {.name = "long_poll_max", .type = K_INT, .min = 1, .max = 300},
    {.name = "client_rate_per_min", .type = K_INT, .min = 0, .max = 1000000},
    {.name = "client_burst", .type = K_INT, .min = 0, .max = 1000000},
    {.name = "destination_rate_per_min", .type = K_INT, .min = 0, .max = 1000000},
    {.name = "destination_burst", .type = K_INT, .min = 0, .max = 1000000},
    {0},
};

static const struct key config_keys[] = {
    {.name = "state_dir", .type = K_STR, .min = 2, .max = CFG_PATH_MAX - 1,
     .check = check_abs_path},
    {.name = "board", .type = K_STR, .min = 1, .max = 63, .check = check_board_name},
    {.name = "boards_dir", .type = K_STR, .min = 2, .max = CFG_PATH_MAX - 1,
     .check = check_abs_path},
    {.name = "log_level", .type = K_STR, .choices = levels},
    {.name = "api", .type = K_GROUP, .children = api_keys},
    {.name = "modems", .type = K_LIST, .min = 1, .max = CFG_MAX_MODEMS,
     .children = config_slot_keys},
    {.name = "pins", .type = K_GROUP, .any_children = true, .children = pin_value},
    {.name = "default_country_code", .type = K_STR, .min = 1, .max = 3, .check = check_digits},
    {.name = "queue", .type = K_GROUP, .children = queue_keys},
    {.name = "routing", .type = K_GROUP, .children = routing_keys},
    {.name = "inbound", .type = K_GROUP, .children = inbound_keys},
    {.name = "retention", .type = K_GROUP, .children = retention_keys},
    {.name = "sims", .type = K_LIST, .min = 0, .max = CFG_MAX_SIMS, .children = sim_keys},
    {.name = "webhook", .type = K_GROUP, .children = webhook_keys},
    {0},
};

static const struct key board_keys[] = {
    {.name = "name", .type = K_STR, .required = true, .min = 1, .max = 127},
    {.name = "description", .type = K_STR, .max = 1024},
    {.name = "modems", .type = K_LIST, .required = true, .min = 1, .max = CFG_MAX_MODEMS,
     .children = board_slot_keys},
    {0},
};

/* ------------------------------------------------------------- reporting */

struct ctx {
    const char *file; /* top file, used when a setting has no source file */
    struct sg_err *err;
};

static int fail_at(const struct ctx *c, const config_setting_t *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail_at(const struct ctx *c, const config_setting_t *s, const char *fmt, ...)
{
    char msg[SG_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    const char *file = s ? config_setting_source_file(s) : NULL;
    int line = s ? config_setting_source_line(s) : 0;
    if (!file)
        file = c->file;
    if (line > 0)
        return sg_errf(c->err, -EINVAL, "%s:%d: %s", file, line, msg);
    return sg_errf(c->err, -EINVAL, "%s: %s", file, msg);
}

static const char *type_word(enum key_type t)
{
    switch (t) {
    case K_STR:
        return "a string";
    case K_INT:
        return "an integer";
    case K_BOOL:
        return "true or false";
    case K_GROUP:
        return "a group { ... }";
    case K_LIST:
        return "a list ( ... )";
    case K_STRARR:
        return "an array of strings [ \"...\" ]";
    }
    return "?";
}

static bool type_ok(const config_setting_t *s, enum key_type t)
{
    int ct = config_setting_type(s);
    switch (t) {
    case K_STR:
        return ct == CONFIG_TYPE_STRING;
    case K_INT:
        return ct == CONFIG_TYPE_INT || ct == CONFIG_TYPE_INT64;
    case K_BOOL:
        return ct == CONFIG_TYPE_BOOL;
    case K_GROUP:
        return ct == CONFIG_TYPE_GROUP;
    case K_LIST:
        return ct == CONFIG_TYPE_LIST;
    case K_STRARR:
        if (ct != CONFIG_TYPE_ARRAY)
            return false;
        return config_setting_length(s) == 0 ||
               config_setting_type(config_setting_get_elem(s, 0)) == CONFIG_TYPE_STRING;
    }
    return false;
}

/* ------------------------------------------------------------ validation */

static int check_group(const struct ctx *c, const config_setting_t *g, const struct key *keys,
                       const char *where);

static int check_value(const struct ctx *c, const config_setting_t *s, const struct key *k,
                       const char *name)
{
    char buf[128];
    if (!type_ok(s, k->type))
        return fail_at(c, s, "%s must be %s", name, type_word(k->type));
    switch (k->type) {
    case K_STR: {
        const char *v = config_setting_get_string(s);
        size_t n = strlen(v);
        if (k->min && n < (size_t)k->min)
            return k->min == 1 || n == 0
                       ? fail_at(c, s, "%s must not be empty", name)
                       : fail_at(c, s, "%s is too short (%zu characters, at least %ld)", name, n,
                                 k->min);
        if (k->max && n > (size_t)k->max)
            return fail_at(c, s, "%s is too long (%zu characters, at most %ld)", name, n, k->max);
        if (k->choices) {
            bool found = false;
            char list[160] = "";
            for (const char *const *ch = k->choices; *ch; ch++) {
                found |= strcmp(*ch, v) == 0;
                snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
                         ch == k->choices ? "" : ", ", *ch);
            }
            if (!found)
                return fail_at(c, s, "%s is \"%s\"; must be one of %s", name, v, list);
        }
        break;
    }
    case K_INT: {
        long long v = config_setting_get_int64(s);
        if (k->allowed) {
            bool found = false;
            char list[160] = "";
            for (const long *a = k->allowed; *a; a++) {
                found |= v == *a;
                snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%ld",
                         a == k->allowed ? "" : ", ", *a);
            }
            if (!found)
                return fail_at(c, s, "%s is %lld; must be one of %s", name, v, list);
        } else if (v < k->min || v > k->max) {
            return fail_at(c, s, "%s is %lld; must be between %ld and %ld", name, v, k->min,
                           k->max);
        }
        break;
    }
    case K_BOOL:
        break;
    case K_STRARR: {
        int n = config_setting_length(s);
        if (n > k->max)
            return fail_at(c, s, "%s lists %d entries; at most %ld are supported", name, n,
                           k->max);
        break;
    }
    case K_GROUP:
        if (k->any_children) {
            for (int i = 0; i < config_setting_length(s); i++) {
                config_setting_t *m = config_setting_get_elem(s, (unsigned)i);
                char sub[128];
                snprintf(sub, sizeof(sub), "%s.%s", name, config_setting_name(m));
                int rc = check_value(c, m, &k->children[0], sub);
                if (rc)
                    return rc;
            }
            return 0;
        }
        return check_group(c, s, k->children, name);
    case K_LIST: {
        int n = config_setting_length(s);
        if (n < k->min)
            return fail_at(c, s, "%s must list at least %ld entr%s", name, k->min,
                           k->min == 1 ? "y" : "ies");
        if (k->max && n > k->max)
            return fail_at(c, s, "%s lists %d entries; at most %ld are supported", name, n,
                           k->max);
        for (int i = 0; i < n; i++) {
            config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
            char sub[128];
            snprintf(sub, sizeof(sub), "%s[%d]", name, i);
            if (config_setting_type(e) != CONFIG_TYPE_GROUP)
                return fail_at(c, e, "%s must be a group { ... }", sub);
            int rc = check_group(c, e, k->children, sub);
            if (rc)
                return rc;
        }
        break;
    }
    }
    if (k->check) {
        const char *why = k->check(s, buf, sizeof(buf));
        if (why)
            return fail_at(c, s, "%s %s", name, why);
    }
    return 0;
}

static int check_group(const struct ctx *c, const config_setting_t *g, const struct key *keys,
                       const char *where)
{
    for (int i = 0; i < config_setting_length(g); i++) {
        config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
        const char *nm = config_setting_name(s);
        const struct key *k = keys;
        while (k->name && strcmp(k->name, nm) != 0)
            k++;
        if (!k->name) {
            if (*where)
                return fail_at(c, s, "unknown key '%s' in %s", nm, where);
            return fail_at(c, s, "unknown key '%s'", nm);
        }
        char full[160];
        if (*where)
            snprintf(full, sizeof(full), "%s.%s", where, nm);
        else
            snprintf(full, sizeof(full), "%s", nm);
        int rc = check_value(c, s, k, full);
        if (rc)
            return rc;
    }
    for (const struct key *k = keys; k->name; k++) {
        if (k->required && !config_setting_get_member(g, k->name)) {
            if (*where)
                return fail_at(c, g, "%s: missing required key '%s'", where, k->name);
            return fail_at(c, g, "missing required key '%s'", k->name);
        }
    }
    return 0;
}

/* ---------------------------------------------------------- extraction */

static void copy_str(char *dst, size_t len, const config_setting_t *g, const char *name,
                     const char *dflt)
{
    const char *v = NULL;
    if (!g || !config_setting_lookup_string(g, name, &v))
        v = dflt;
    snprintf(dst, len, "%s", v ? v : "");
}

static int get_int(const config_setting_t *g, const char *name, int dflt)
{
    long long v;
    if (g && config_setting_lookup_int64(g, name, &v))
        return (int)v;
    int i;
    if (g && config_setting_lookup_int(g, name, &i))
        return i;
    return dflt;
}

static bool get_bool(const config_setting_t *g, const char *name, bool dflt)
{
    int v;
    if (g && config_setting_lookup_bool(g, name, &v))
        return v != 0;
    return dflt;
}

static const char *const prio_names[CFG_PRIO_COUNT] = {"otp", "urgent", "normal", "bulk"};

static void extract_engine(const config_setting_t *root, struct sg_config *cfg)
{
    static const int ttl_default[CFG_PRIO_COUNT] = {300, 3600, 86400, 86400};
    static const int attempts_default[CFG_PRIO_COUNT] = {5, 5, 4, 3};
    static const bool recover_default[CFG_PRIO_COUNT] = {true, true, false, false};
    const config_setting_t *q = config_setting_get_member(root, "queue");
    const config_setting_t *ttl = q ? config_setting_get_member(q, "ttl") : NULL;
    const config_setting_t *att = q ? config_setting_get_member(q, "attempts") : NULL;
    const config_setting_t *rec = q ? config_setting_get_member(q, "recover_sending") : NULL;
    for (int p = 0; p < CFG_PRIO_COUNT; p++) {
        cfg->queue.ttl_s[p] = get_int(ttl, prio_names[p], ttl_default[p]);
        cfg->queue.attempts[p] = get_int(att, prio_names[p], attempts_default[p]);
        char mode[16];
        copy_str(mode, sizeof(mode), rec, prio_names[p], recover_default[p] ? "retry" : "unknown");
        cfg->queue.recover_retry[p] = strcmp(mode, "retry") == 0;
    }
    cfg->queue.max_ttl_s = get_int(q, "max_ttl", 7 * 86400);
    cfg->queue.max_parts = get_int(q, "max_parts", 10);
    const config_setting_t *r = config_setting_get_member(root, "routing");
    cfg->routing.sticky_window_s = get_int(r, "sticky_window", 86400);
    cfg->routing.breaker_threshold = get_int(r, "breaker_threshold", 5);
    cfg->routing.breaker_cooldown_s = get_int(r, "breaker_cooldown", 60);
    cfg->routing.dlr_window_s = get_int(r, "dlr_window", 3 * 86400);
    cfg->routing.unknown_sims = get_bool(r, "unknown_sims", true);
    cfg->reassembly_timeout_s =
        get_int(config_setting_get_member(root, "inbound"), "reassembly_timeout", 600);
    cfg->retention_days = get_int(config_setting_get_member(root, "retention"), "max_age_days", 30);
    copy_str(cfg->default_cc, sizeof(cfg->default_cc), root, "default_country_code", "");

    const config_setting_t *wh = config_setting_get_member(root, "webhook");
    const config_setting_t *urls = wh ? config_setting_get_member(wh, "urls") : NULL;
    cfg->webhook.nurls = urls ? (size_t)config_setting_length(urls) : 0;
    for (size_t i = 0; i < cfg->webhook.nurls; i++)
        snprintf(cfg->webhook.urls[i], sizeof(cfg->webhook.urls[i]), "%s",
                 config_setting_get_string_elem(urls, (int)i));
    copy_str(cfg->webhook.secret, sizeof(cfg->webhook.secret), wh, "secret", "");
    cfg->webhook.timeout_s = get_int(wh, "timeout", 10);
    cfg->webhook.max_age_s = get_int(wh, "max_age", 86400);
    cfg->webhook.start_at_oldest = get_bool(wh, "start_at_oldest", false);

    const config_setting_t *sims = config_setting_get_member(root, "sims");
    cfg->nsims = sims ? (size_t)config_setting_length(sims) : 0;
    for (size_t i = 0; i < cfg->nsims; i++) {
        const config_setting_t *e = config_setting_get_elem(sims, (unsigned)i);
        struct cfg_sim *sm = &cfg->sims[i];
        copy_str(sm->iccid, sizeof(sm->iccid), e, "iccid", "");
        copy_str(sm->label, sizeof(sm->label), e, "label", "");
        copy_str(sm->msisdn, sizeof(sm->msisdn), e, "msisdn", "");
        sm->enabled = get_bool(e, "enabled", true);
        sm->rate_per_min = (unsigned)get_int(e, "rate_per_min", 0);
        sm->burst = (unsigned)get_int(e, "burst", 0);
        sm->daily = (unsigned)get_int(e, "daily", 0);
        sm->monthly = (unsigned)get_int(e, "monthly", 0);
        const config_setting_t *a = config_setting_get_member(e, "allow");
        const config_setting_t *d = config_setting_get_member(e, "deny");
        sm->n_allow = a ? (size_t)config_setting_length(a) : 0;
        sm->n_deny = d ? (size_t)config_setting_length(d) : 0;
        for (size_t k = 0; k < sm->n_allow; k++)
            snprintf(sm->allow[k], sizeof(sm->allow[k]), "%s",
                     config_setting_get_string_elem(a, (int)k));
        for (size_t k = 0; k < sm->n_deny; k++)
            snprintf(sm->deny[k], sizeof(sm->deny[k]), "%s",
                     config_setting_get_string_elem(d, (int)k));
    }
}

static void extract_slot(const config_setting_t *s, struct cfg_modem *m)
{
    memset(m, 0, sizeof(*m));
    copy_str(m->id, sizeof(m->id), s, "id", "");
    copy_str(m->port, sizeof(m->port), s, "port", "");
    m->baud = get_int(s, "baud", 115200);
    m->flow_control = get_bool(s, "flow_control", false);
    copy_str(m->vendor, sizeof(m->vendor), s, "vendor", "generic");
    copy_str(m->pin, sizeof(m->pin), s, "pin", "");
    const config_setting_t *g = config_setting_get_member(s, "gpio");
    m->gpio.present = g != NULL;
    copy_str(m->gpio.chip, sizeof(m->gpio.chip), g, "chip", "");
    m->gpio.pwrkey = get_int(g, "pwrkey", -1);
    m->gpio.reset = get_int(g, "reset", -1);
    m->gpio.status = get_int(g, "status", -1);
    m->gpio.pwrkey_active_low = get_bool(g, "pwrkey_active_low", false);
    m->gpio.reset_active_low = get_bool(g, "reset_active_low", false);
    m->gpio.status_active_low = get_bool(g, "status_active_low", false);
    /* 0 = the vendor's timing (gpio_seq_timing_for), applied by the modem
     * glue; a board sets these only where its wiring differs. */
    m->gpio.pwrkey_on_ms = get_int(g, "pwrkey_on_ms", 0);
    m->gpio.pwrkey_off_ms = get_int(g, "pwrkey_off_ms", 0);
    m->gpio.reset_ms = get_int(g, "reset_ms", 0);
    m->gpio.status_wait_ms = get_int(g, "status_wait_ms", 0);
}

/* Duplicate ids (or ICCIDs) would make logs, routing and the API ambiguous. */
static int check_unique(const struct ctx *c, const config_setting_t *list, const char *key,
                        const char *listname)
{
    if (!list)
        return 0;
    int n = config_setting_length(list);
    for (int i = 0; i < n; i++) {
        const char *a = NULL;
        config_setting_t *ei = config_setting_get_elem(list, (unsigned)i);
        config_setting_lookup_string(ei, key, &a);
        for (int j = 0; j < i; j++) {
            const char *b = NULL;
            config_setting_t *ej = config_setting_get_elem(list, (unsigned)j);
            config_setting_lookup_string(ej, key, &b);
            if (a && b && strcmp(a, b) == 0)
                return fail_at(c, config_setting_get_member(ei, key),
                               "%s[%d].%s \"%s\" is already used by %s[%d]", listname, i, key, a,
                               listname, j);
        }
    }
    return 0;
}

static int check_unique_ids(const struct ctx *c, const config_setting_t *list)
{
    return check_unique(c, list, "id", "modems");
}

static int read_file(config_t *lc, const char *path, struct sg_err *err)
{
    config_init(lc);
    if (config_read_file(lc, path))
        return 0;
    int rc;
    if (config_error_type(lc) == CONFIG_ERR_FILE_IO) {
        FILE *f = fopen(path, "r");
        int e = f ? EIO : errno;
        if (f)
            fclose(f);
        rc = sg_errf(err, -e, "%s: cannot read: %s", path, strerror(e));
    } else {
        const char *f = config_error_file(lc);
        rc = sg_errf(err, -EINVAL, "%s:%d: %s", f ? f : path, config_error_line(lc),
                     config_error_text(lc));
    }
    config_destroy(lc);
    return rc;
}

int cfg_check_board(const char *path, struct sg_err *err)
{
    config_t lc;
    int rc = read_file(&lc, path, err);
    if (rc)
        return rc;
    struct ctx c = {.file = path, .err = err};
    config_setting_t *root = config_root_setting(&lc);
    rc = check_group(&c, root, board_keys, "");
    if (!rc)
        rc = check_unique_ids(&c, config_setting_get_member(root, "modems"));
    config_destroy(&lc);
    return rc;
}

static int load_board(struct sg_config *cfg, const config_setting_t *board_key,
                      const struct ctx *cc, struct sg_err *err)
{
    snprintf(cfg->board_path, sizeof(cfg->board_path), "%s/%s.conf", cfg->boards_dir, cfg->board);
    config_t lc;
    struct sg_err sub;
    int rc = read_file(&lc, cfg->board_path, &sub);
    if (rc == -ENOENT)
        return fail_at(cc, board_key, "board \"%s\": no file %s", cfg->board, cfg->board_path);
    if (rc)
        return sg_errf(err, rc, "%s", sub.msg);
    struct ctx c = {.file = cfg->board_path, .err = err};
    config_setting_t *root = config_root_setting(&lc);
    rc = check_group(&c, root, board_keys, "");
    config_setting_t *list = config_setting_get_member(root, "modems");
    if (!rc)
        rc = check_unique_ids(&c, list);
    if (!rc) {
        copy_str(cfg->board_name, sizeof(cfg->board_name), root, "name", "");
        cfg->nmodems = (size_t)config_setting_length(list);
        for (size_t i = 0; i < cfg->nmodems; i++)
            extract_slot(config_setting_get_elem(list, (unsigned)i), &cfg->modems[i]);
    }
    config_destroy(&lc);
    return rc;
}

static void apply_overrides(struct sg_config *cfg, const struct cfg_overrides *ov)
{
    if (!ov)
        return;
    if (ov->state_dir)
        snprintf(cfg->state_dir, sizeof(cfg->state_dir), "%s", ov->state_dir);
    if (ov->socket)
        snprintf(cfg->api.socket, sizeof(cfg->api.socket), "%s", ov->socket);
    if (ov->boards_dir)
        snprintf(cfg->boards_dir, sizeof(cfg->boards_dir), "%s", ov->boards_dir);
    if (ov->log_level)
        snprintf(cfg->log_level, sizeof(cfg->log_level), "%s", ov->log_level);
}

/* PINs for board slots live in the config (`pins = { m1 = "1234"; };`),
 * since a board file describes hardware, not SIMs. */
static int apply_pins(struct sg_config *cfg, const config_setting_t *pins, const struct ctx *c)
{
    if (!pins)
        return 0;
    for (int i = 0; i < config_setting_length(pins); i++) {
        config_setting_t *p = config_setting_get_elem(pins, (unsigned)i);
        const char *slot = config_setting_name(p);
        size_t k = 0;
        while (k < cfg->nmodems && strcmp(cfg->modems[k].id, slot) != 0)
            k++;
        if (k == cfg->nmodems)
            return fail_at(c, p, "pins.%s names no modem slot", slot);
        snprintf(cfg->modems[k].pin, sizeof(cfg->modems[k].pin), "%s",
                 config_setting_get_string(p));
    }
    return 0;
}

static bool level_known(const char *v)
{
    for (const char *const *l = levels; *l; l++)
        if (strcmp(*l, v) == 0)
            return true;
    return false;
}

/* Rules that tie two keys together; reported at the key an operator edits. */
static int check_relations(const struct sg_config *cfg, const config_setting_t *root,
                           const struct ctx *c)
{
    if (cfg->api.tcp_listen[0] && cfg->api.ntokens == 0)
        return fail_at(c, config_setting_get_member(root, "api"),
                       "api: 'tokens' are required when 'tcp_listen' is set");
    const config_setting_t *wh = config_setting_get_member(root, "webhook");
    if (cfg->webhook.nurls > 0 && !cfg->webhook.secret[0])
        return fail_at(c, wh, "webhook: 'secret' is required when 'urls' are set");
    if (cfg->webhook.nurls > 0 && (long long)cfg->retention_days * 86400 < cfg->webhook.max_age_s)
        return fail_at(c, wh,
                       "webhook.max_age (%d s) is longer than retention.max_age_days (%d): "
                       "events would be purged before webhooks give up on them",
                       cfg->webhook.max_age_s, cfg->retention_days);
    for (int p = 0; p < CFG_PRIO_COUNT; p++)
        if (cfg->queue.ttl_s[p] > cfg->queue.max_ttl_s)
            return fail_at(c, config_setting_get_member(root, "queue"),
                           "queue: a default ttl (%d s) is longer than max_ttl (%d s)",
                           cfg->queue.ttl_s[p], cfg->queue.max_ttl_s);
    return 0;
}

static int validate_overrides(const struct sg_config *cfg, struct sg_err *err)
{
    if (cfg->state_dir[0] != '/')
        return sg_errf(err, -EINVAL, "state directory \"%s\" must be an absolute path",
                       cfg->state_dir);
    if (cfg->api.socket[0] != '/')
        return sg_errf(err, -EINVAL, "API socket \"%s\" must be an absolute path", cfg->api.socket);
    if (strlen(cfg->api.socket) > 107)
        return sg_errf(err, -EINVAL, "API socket path is longer than 107 characters");
    if (!level_known(cfg->log_level))
        return sg_errf(err, -EINVAL, "log level \"%s\" is not one of err, warn, notice, info, debug",
                       cfg->log_level);
    return 0;
}

int cfg_load(const char *path, const struct cfg_overrides *ov, struct sg_config **out,
             struct sg_err *err)
{
    *out = NULL;
    config_t lc;
    int rc = read_file(&lc, path, err);
    if (rc)
        return rc;
    struct ctx c = {.file = path, .err = err};
    config_setting_t *root = config_root_setting(&lc);
    struct sg_config *cfg = calloc(1, sizeof(*cfg));
    if (!cfg) {
        config_destroy(&lc);
        return sg_errf(err, -ENOMEM, "%s: out of memory", path);
    }
    rc = check_group(&c, root, config_keys, "");
    config_setting_t *modems = config_setting_get_member(root, "modems");
    config_setting_t *board = config_setting_get_member(root, "board");
    if (!rc && modems)
        rc = check_unique_ids(&c, modems);
    if (!rc)
        rc = check_unique(&c, config_setting_get_member(root, "sims"), "iccid", "sims");
    if (!rc) {
        snprintf(cfg->path, sizeof(cfg->path), "%s", path);
        copy_str(cfg->state_dir, sizeof(cfg->state_dir), root, "state_dir", DEFAULT_STATE_DIR);
        copy_str(cfg->board, sizeof(cfg->board), root, "board", "");
        copy_str(cfg->boards_dir, sizeof(cfg->boards_dir), root, "boards_dir", SG_BOARDS_DIR);
        copy_str(cfg->log_level, sizeof(cfg->log_level), root, "log_level", "info");
        const config_setting_t *api = config_setting_get_member(root, "api");
        copy_str(cfg->api.socket, sizeof(cfg->api.socket), api, "socket", DEFAULT_SOCKET);
        copy_str(cfg->api.group, sizeof(cfg->api.group), api, "group", "");
        char mode[8];
        copy_str(mode, sizeof(mode), api, "socket_mode", "0660");
        cfg->api.socket_mode = (int)strtol(mode, NULL, 8);
        copy_str(cfg->api.tcp_listen, sizeof(cfg->api.tcp_listen), api, "tcp_listen", "");
        const config_setting_t *tok = api ? config_setting_get_member(api, "tokens") : NULL;
        cfg->api.ntokens = tok ? (size_t)config_setting_length(tok) : 0;
        for (size_t i = 0; i < cfg->api.ntokens; i++)
            snprintf(cfg->api.tokens[i], sizeof(cfg->api.tokens[i]), "%s",
                     config_setting_get_string_elem(tok, (int)i));
        cfg->api.body_max = get_int(api, "body_max", 65536);
        cfg->api.long_poll_max_s = get_int(api, "long_poll_max", 60);
        cfg->api.client_rate_per_min = (unsigned)get_int(api, "client_rate_per_min", 0);
        cfg->api.client_burst = (unsigned)get_int(api, "client_burst", 0);
        cfg->api.destination_rate_per_min = (unsigned)get_int(api, "destination_rate_per_min", 0);
        cfg->api.destination_burst = (unsigned)get_int(api, "destination_burst", 0);
        extract_engine(root, cfg);
        apply_overrides(cfg, ov);
        if (modems) {
            cfg->nmodems = (size_t)config_setting_length(modems);
            for (size_t i = 0; i < cfg->nmodems; i++)
                extract_slot(config_setting_get_elem(modems, (unsigned)i), &cfg->modems[i]);
        } else if (board) {
            rc = load_board(cfg, board, &c, err);
        } else {
            rc = sg_errf(err, -EINVAL, "%s: no modems: set 'board' or list 'modems'", path);
        }
    }
    if (!rc)
        rc = apply_pins(cfg, config_setting_get_member(root, "pins"), &c);
    if (!rc)
        rc = check_relations(cfg, root, &c);
    if (!rc) {
        rc = validate_overrides(cfg, err);
        if (rc)
            sg_err_prefix(err, "%s", path);
    }
    config_destroy(&lc);
    if (rc) {
        free(cfg);
        return rc;
    }
    *out = cfg;
    return 0;
}

static bool gpio_equal(const struct cfg_gpio *a, const struct cfg_gpio *b)
{
    return a->present == b->present && strcmp(a->chip, b->chip) == 0 && a->pwrkey == b->pwrkey &&
           a->reset == b->reset && a->status == b->status &&
           a->pwrkey_active_low == b->pwrkey_active_low &&
           a->reset_active_low == b->reset_active_low &&
           a->status_active_low == b->status_active_low && a->pwrkey_on_ms == b->pwrkey_on_ms &&
           a->pwrkey_off_ms == b->pwrkey_off_ms && a->reset_ms == b->reset_ms &&
           a->status_wait_ms == b->status_wait_ms;
}

bool cfg_modem_equal(const struct cfg_modem *a, const struct cfg_modem *b)
{
    return strcmp(a->id, b->id) == 0 && strcmp(a->port, b->port) == 0 && a->baud == b->baud &&
           a->flow_control == b->flow_control && strcmp(a->vendor, b->vendor) == 0 &&
           strcmp(a->pin, b->pin) == 0 && gpio_equal(&a->gpio, &b->gpio);
}

bool cfg_differs(const struct sg_config *a, const struct sg_config *b)
{
    /* Both come from cfg_load: calloc'ed, every field written by value or
     * snprintf, so padding and bytes past each string's NUL are zero and a
     * byte comparison is exact. */
    return memcmp(a, b, sizeof(*a)) != 0; // NOLINT(bugprone-suspicious-memory-comparison)
}

void cfg_free(struct sg_config *cfg)
{
    free(cfg);
}
