#include "drivers/gpio/gpio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(SG_GPIOD_V1) && defined(SG_GPIOD_V2)
#error "define one of SG_GPIOD_V1 and SG_GPIOD_V2, not both"
#endif
#if defined(SG_GPIOD_V1) || defined(SG_GPIOD_V2)
#include <gpiod.h>
#endif
#ifdef SG_GPIOD_V2
#include <dirent.h>
#endif

/* Index of each role in the per-line arrays. */
enum { L_PWRKEY, L_RESET, L_STATUS, L_COUNT };

struct gpio;

/* One backend. `line` is an L_* index of a wired line; values are logical
 * (asserted = 1): polarity is the backend's business. */
struct gpio_ops {
    const char *name;
    int (*set)(struct gpio *g, int line, bool asserted);
    int (*get)(struct gpio *g, int line); /* 1/0/-errno */
    void (*close)(struct gpio *g);
};

struct script_point {
    sg_ms at;
    bool asserted;
};

struct gpio {
    const struct gpio_ops *ops;
    struct gpio_line_cfg line[L_COUNT];
    unsigned wired;
    char chip[128];

    /* recording backend */
    gpio_clock_fn clock;
    void *clock_ctx;
    struct gpio_trace_entry trace[GPIO_TRACE_MAX];
    size_t ntrace;
    struct script_point script[GPIO_SCRIPT_MAX];
    size_t nscript;

#ifdef SG_GPIOD_V1
    struct gpiod_chip *v1_chip;
    struct gpiod_line *v1_line[L_COUNT];
#endif
#ifdef SG_GPIOD_V2
    struct gpiod_chip *v2_chip;
    struct gpiod_line_request *v2_req;
#endif
};

static const unsigned role_bit[L_COUNT] = {GPIO_PWRKEY, GPIO_RESET, GPIO_STATUS};
static const char *const role_name[L_COUNT] = {"pwrkey", "reset", "status"};

void gpio_cfg_init(struct gpio_cfg *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->pwrkey.offset = -1;
    cfg->reset.offset = -1;
    cfg->status.offset = -1;
}

const char *gpio_role_name(unsigned role)
{
    for (int i = 0; i < L_COUNT; i++)
        if (role == role_bit[i])
            return role_name[i];
    return "?";
}

/* Validates cfg and fills the common part of a new object. */
static int gpio_new(const struct gpio_cfg *cfg, struct gpio **out, struct sg_err *err)
{
    if (!cfg || !out)
        return sg_errf(err, -EINVAL, "gpio: no config");
    struct gpio *g = calloc(1, sizeof(*g));
    if (!g)
        return sg_errf(err, -ENOMEM, "gpio: out of memory");
    g->line[L_PWRKEY] = cfg->pwrkey;
    g->line[L_RESET] = cfg->reset;
    g->line[L_STATUS] = cfg->status;
    snprintf(g->chip, sizeof(g->chip), "%s", cfg->chip ? cfg->chip : "");
    int rc = 0;
    for (int i = 0; i < L_COUNT && rc == 0; i++) {
        int off = g->line[i].offset;
        if (off < -1) {
            rc = sg_errf(err, -EINVAL, "gpio %s: %s offset %d is negative", g->chip, role_name[i],
                         off);
            break;
        }
        if (off < 0)
            continue;
        for (int j = 0; j < i && rc == 0; j++)
            if (g->line[j].offset == off)
                rc = sg_errf(err, -EINVAL, "gpio %s: %s and %s both use line %d", g->chip,
                             role_name[j], role_name[i], off);
        g->wired |= role_bit[i];
    }
    if (rc < 0) {
        free(g);
        return rc;
    }
    *out = g;
    return 0;
}

bool gpio_has(const struct gpio *g, unsigned roles)
{
    return g && roles && (g->wired & roles) == roles;
}

int gpio_set(struct gpio *g, unsigned roles, bool asserted, struct sg_err *err)
{
    if (!g)
        return sg_errf(err, -EINVAL, "gpio: no handle");
    if (!roles || (roles & ~(unsigned)GPIO_OUTPUTS))
        return sg_errf(err, -EINVAL, "gpio %s: can only drive pwrkey/reset (roles 0x%x)", g->chip,
                       roles);
    for (int i = 0; i < L_STATUS; i++)
        if ((roles & role_bit[i]) && !(g->wired & role_bit[i]))
            return sg_errf(err, -ENOENT, "gpio %s: %s not wired", g->chip, role_name[i]);
    for (int i = 0; i < L_STATUS; i++) {
        if (!(roles & role_bit[i]))
            continue;
        int rc = g->ops->set(g, i, asserted);
        if (rc < 0)
            return sg_errf(err, rc, "gpio %s: set %s (line %d) %s: %s", g->chip, role_name[i],
                           g->line[i].offset, asserted ? "on" : "off", strerror(-rc));
    }
    return 0;
}

int gpio_get_status(struct gpio *g)
{
    if (!g)
        return -EINVAL;
    if (!(g->wired & GPIO_STATUS))
        return -ENOENT;
    return g->ops->get(g, L_STATUS);
}

void gpio_close(struct gpio *g)
{
    if (!g)
        return;
    /* Never leave a power key held down: on a SIM800 a key held >33 s
     * switches the module back on. */
    for (int i = 0; i < L_STATUS; i++)
        if (g->wired & role_bit[i])
            (void)g->ops->set(g, i, false);
    g->ops->close(g);
    free(g);
}

/* ------------------------------------------------------------ recording */

static int rec_set(struct gpio *g, int line, bool asserted)
{
    if (g->ntrace >= GPIO_TRACE_MAX)
        return -ENOBUFS;
    struct gpio_trace_entry *e = &g->trace[g->ntrace++];
    e->role = role_bit[line];
    e->asserted = asserted;
    e->level = asserted != g->line[line].active_low;
    e->at = g->clock(g->clock_ctx);
    return 0;
}

static int rec_get(struct gpio *g, int line)
{
    (void)line; /* only STATUS is an input */
    sg_ms now = g->clock(g->clock_ctx);
    bool level = false;
    sg_ms best = 0;
    bool found = false;
    for (size_t i = 0; i < g->nscript; i++) {
        const struct script_point *p = &g->script[i];
        /* The latest point at or before now wins; among points at the same
         * time the one added last. */
        if (p->at <= now && (!found || p->at >= best)) {
            best = p->at;
            level = p->asserted;
            found = true;
        }
    }
    return level ? 1 : 0;
}

static void rec_close(struct gpio *g)
{
    (void)g;
}

static const struct gpio_ops rec_ops = {"recording", rec_set, rec_get, rec_close};

int gpio_open_recording(const struct gpio_cfg *cfg, gpio_clock_fn clock, void *ctx,
                        struct gpio **out, struct sg_err *err)
{
    if (!clock)
        return sg_errf(err, -EINVAL, "gpio: recording backend needs a clock");
    struct gpio *g = NULL;
    int rc = gpio_new(cfg, &g, err);
    if (rc < 0 || !g)
        return rc < 0 ? rc : -EINVAL;
    g->ops = &rec_ops;
    g->clock = clock;
    g->clock_ctx = ctx;
    if (!g->chip[0])
        snprintf(g->chip, sizeof(g->chip), "recording");
    *out = g;
    return 0;
}

const struct gpio_trace_entry *gpio_trace(const struct gpio *g, size_t *n)
{
    if (!g || g->ops != &rec_ops) {
        if (n)
            *n = 0;
        return NULL;
    }
    if (n)
        *n = g->ntrace;
    return g->trace;
}

void gpio_trace_clear(struct gpio *g)
{
    if (g)
        g->ntrace = 0;
}

int gpio_script_status(struct gpio *g, sg_ms at, bool asserted)
{
    if (!g || g->ops != &rec_ops)
        return -ENOTSUP;
    if (g->nscript >= GPIO_SCRIPT_MAX)
        return -ENOBUFS;
    g->script[g->nscript++] = (struct script_point){at, asserted};
    return 0;
}

/* ------------------------------------------------------------ libgpiod 1.x */
#ifdef SG_GPIOD_V1

static int v1_set(struct gpio *g, int line, bool asserted)
{
    if (gpiod_line_set_value(g->v1_line[line], asserted ? 1 : 0) < 0)
        return errno ? -errno : -EIO;
    return 0;
}

static int v1_get(struct gpio *g, int line)
{
    int v = gpiod_line_get_value(g->v1_line[line]);
    if (v < 0)
        return errno ? -errno : -EIO;
    return v ? 1 : 0;
}

static void v1_close(struct gpio *g)
{
    for (int i = 0; i < L_COUNT; i++)
        if (g->v1_line[i])
            gpiod_line_release(g->v1_line[i]);
    if (g->v1_chip)
        gpiod_chip_close(g->v1_chip);
}

static const struct gpio_ops v1_ops = {"libgpiod1", v1_set, v1_get, v1_close};

/* Requests every wired line; the kernel applies active-low, so the values
 * we pass and read are logical. Outputs start released. */
static int v1_open(struct gpio *g, struct sg_err *err)
{
    errno = 0;
    /* open_lookup accepts a name, a path, a label or a number. */
    g->v1_chip = gpiod_chip_open_lookup(g->chip);
    if (!g->v1_chip) {
        int e = errno ? errno : ENOENT;
        return sg_errf(err, -e, "gpio %s: open chip: %s", g->chip, strerror(e));
    }
    unsigned nlines = gpiod_chip_num_lines(g->v1_chip);
    for (int i = 0; i < L_COUNT; i++) {
        if (!(g->wired & role_bit[i]))
            continue;
        unsigned off = (unsigned)g->line[i].offset;
        if (off >= nlines)
            return sg_errf(err, -EINVAL, "gpio %s: %s line %u out of range (chip has %u)", g->chip,
                           role_name[i], off, nlines);
        struct gpiod_line *l = gpiod_chip_get_line(g->v1_chip, off);
        if (!l) {
            int e = errno ? errno : EIO;
            return sg_errf(err, -e, "gpio %s: get %s line %u: %s", g->chip, role_name[i], off,
                           strerror(e));
        }
        int flags = g->line[i].active_low ? GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW : 0;
        int rc = i == L_STATUS ? gpiod_line_request_input_flags(l, GPIO_CONSUMER, flags)
                               : gpiod_line_request_output_flags(l, GPIO_CONSUMER, flags, 0);
        if (rc < 0) {
            int e = errno ? errno : EIO;
            return sg_errf(err, -e, "gpio %s: request %s line %u: %s", g->chip, role_name[i], off,
                           strerror(e));
        }
        g->v1_line[i] = l;
    }
    return 0;
}
#endif

/* ------------------------------------------------------------ libgpiod 2.x */
#ifdef SG_GPIOD_V2

static int v2_set(struct gpio *g, int line, bool asserted)
{
    if (gpiod_line_request_set_value(g->v2_req, (unsigned)g->line[line].offset,
                                     asserted ? GPIOD_LINE_VALUE_ACTIVE
                                              : GPIOD_LINE_VALUE_INACTIVE) < 0)
        return errno ? -errno : -EIO;
    return 0;
}

static int v2_get(struct gpio *g, int line)
{
    enum gpiod_line_value v =
        gpiod_line_request_get_value(g->v2_req, (unsigned)g->line[line].offset);
    if (v == GPIOD_LINE_VALUE_ERROR)
        return errno ? -errno : -EIO;
    return v == GPIOD_LINE_VALUE_ACTIVE ? 1 : 0;
}

static void v2_close(struct gpio *g)
{
    if (g->v2_req)
        gpiod_line_request_release(g->v2_req);
    if (g->v2_chip)
        gpiod_chip_close(g->v2_chip);
}

static const struct gpio_ops v2_ops = {"libgpiod2", v2_set, v2_get, v2_close};

/* libgpiod 2 opens chips by path only; v1's lookup also took a name
 * ("gpiochip0"), a number ("0") or a label ("pinctrl-bcm2835"). */
static struct gpiod_chip *v2_lookup(const char *descr)
{
    char path[300];
    if (descr[0] == '/')
        return gpiod_chip_open(descr);
    char *end;
    errno = 0;
    unsigned long num = strtoul(descr, &end, 10);
    if (descr[0] && !*end && !errno) {
        snprintf(path, sizeof(path), "/dev/gpiochip%lu", num);
        return gpiod_chip_open(path);
    }
    snprintf(path, sizeof(path), "/dev/%s", descr);
    if (gpiod_is_gpiochip_device(path))
        return gpiod_chip_open(path);
    DIR *d = opendir("/dev");
    if (!d)
        return NULL;
    struct gpiod_chip *found = NULL;
    struct dirent *de;
    while (!found && (de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, "gpiochip", 8) != 0)
            continue;
        snprintf(path, sizeof(path), "/dev/%s", de->d_name);
        struct gpiod_chip *c = gpiod_chip_open(path);
        if (!c)
            continue;
        struct gpiod_chip_info *info = gpiod_chip_get_info(c);
        if (info && strcmp(gpiod_chip_info_get_label(info), descr) == 0)
            found = c;
        else
            gpiod_chip_close(c);
        if (info)
            gpiod_chip_info_free(info);
    }
    closedir(d);
    if (!found)
        errno = ENOENT;
    return found;
}

static int v2_open(struct gpio *g, struct sg_err *err)
{
    errno = 0;
    g->v2_chip = v2_lookup(g->chip);
    if (!g->v2_chip) {
        int e = errno ? errno : ENOENT;
        return sg_errf(err, -e, "gpio %s: open chip: %s", g->chip, strerror(e));
    }
    struct gpiod_chip_info *info = gpiod_chip_get_info(g->v2_chip);
    if (!info)
        return sg_errf(err, -EIO, "gpio %s: chip info: %s", g->chip, strerror(errno));
    size_t nlines = gpiod_chip_info_get_num_lines(info);
    gpiod_chip_info_free(info);

    int rc = 0;
    struct gpiod_request_config *rcfg = gpiod_request_config_new();
    struct gpiod_line_config *lcfg = gpiod_line_config_new();
    struct gpiod_line_settings *ls = gpiod_line_settings_new();
    if (!rcfg || !lcfg || !ls) {
        rc = sg_errf(err, -ENOMEM, "gpio %s: out of memory", g->chip);
        goto out;
    }
    gpiod_request_config_set_consumer(rcfg, GPIO_CONSUMER);
    for (int i = 0; i < L_COUNT; i++) {
        if (!(g->wired & role_bit[i]))
            continue;
        unsigned off = (unsigned)g->line[i].offset;
        if (off >= nlines) {
            rc = sg_errf(err, -EINVAL, "gpio %s: %s line %u out of range (chip has %zu)", g->chip,
                         role_name[i], off, nlines);
            goto out;
        }
        gpiod_line_settings_reset(ls);
        if (i == L_STATUS) {
            gpiod_line_settings_set_direction(ls, GPIOD_LINE_DIRECTION_INPUT);
        } else {
            gpiod_line_settings_set_direction(ls, GPIOD_LINE_DIRECTION_OUTPUT);
            gpiod_line_settings_set_output_value(ls, GPIOD_LINE_VALUE_INACTIVE);
        }
        gpiod_line_settings_set_active_low(ls, g->line[i].active_low);
        if (gpiod_line_config_add_line_settings(lcfg, &off, 1, ls) < 0) {
            rc = sg_errf(err, -(errno ? errno : EINVAL), "gpio %s: configure %s line %u: %s",
                         g->chip, role_name[i], off, strerror(errno));
            goto out;
        }
    }
    if (g->wired) {
        g->v2_req = gpiod_chip_request_lines(g->v2_chip, rcfg, lcfg);
        if (!g->v2_req) {
            int e = errno ? errno : EIO;
            rc = sg_errf(err, -e, "gpio %s: request lines: %s", g->chip, strerror(e));
        }
    }
out:
    gpiod_line_settings_free(ls);
    gpiod_line_config_free(lcfg);
    gpiod_request_config_free(rcfg);
    return rc;
}
#endif

/* ------------------------------------------------------------ hardware open */

int gpio_open(const struct gpio_cfg *cfg, struct gpio **out, struct sg_err *err)
{
    if (cfg && (!cfg->chip || !cfg->chip[0]))
        return sg_errf(err, -EINVAL, "gpio: no chip given");
#if defined(SG_GPIOD_V1) || defined(SG_GPIOD_V2)
    struct gpio *g = NULL;
    int rc = gpio_new(cfg, &g, err);
    if (rc < 0 || !g)
        return rc < 0 ? rc : -EINVAL;
#ifdef SG_GPIOD_V1
    g->ops = &v1_ops;
    rc = v1_open(g, err);
#else
    g->ops = &v2_ops;
    rc = v2_open(g, err);
#endif
    if (rc < 0) {
        g->ops->close(g); /* not gpio_close: nothing was driven yet */
        free(g);
        return rc;
    }
    *out = g;
    return 0;
#else
    (void)out;
    return sg_errf(err, -ENOTSUP, "gpio %s: built without libgpiod", cfg ? cfg->chip : "?");
#endif
}
