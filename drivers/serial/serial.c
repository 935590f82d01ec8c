#include "drivers/serial/serial.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <libserialport.h>

struct serial {
    char *path;            /* as configured */
    char device[PATH_MAX]; /* resolved target of the last open, "" while gone */
    int baud;
    bool rtscts;
    struct sp_port *sp; /* NULL on the termios path or while gone */
    int fd;             /* -1 while gone */
    bool gone;
    uint8_t *out; /* pending output: out[out_off .. out_off+out_len) */
    size_t out_cap, out_off, out_len;
};

static const struct {
    int baud;
    speed_t speed;
} bauds[] = {
    {1200, B1200},       {2400, B2400},       {4800, B4800},       {9600, B9600},
    {19200, B19200},     {38400, B38400},     {57600, B57600},     {115200, B115200},
    {230400, B230400},   {460800, B460800},   {500000, B500000},   {576000, B576000},
    {921600, B921600},   {1000000, B1000000}, {1152000, B1152000}, {1500000, B1500000},
    {2000000, B2000000}, {2500000, B2500000}, {3000000, B3000000}, {3500000, B3500000},
    {4000000, B4000000},
};

static speed_t baud_speed(int baud)
{
    for (size_t i = 0; i < sizeof(bauds) / sizeof(bauds[0]); i++)
        if (bauds[i].baud == baud)
            return bauds[i].speed;
    return B0;
}

int serial_baud_supported(int baud)
{
    return baud_speed(baud) != B0;
}

/* errno values that mean "the device is not there (any more)". */
static bool errno_is_gone(int e)
{
    return e == EIO || e == ENXIO || e == ENODEV || e == EPIPE || e == ENOENT;
}

/* Open failures worth retrying later: the device may come back. */
static bool errno_is_absent(int e)
{
    return errno_is_gone(e) || e == EAGAIN || e == EBUSY || e == ENOTDIR;
}

/* VMIN=1/VTIME=0 so that, with O_NONBLOCK, "no data" is EAGAIN and a read
 * of 0 only ever means hang-up. libserialport sets VMIN=0, under which the
 * kernel's n_tty returns 0 for "no data" too. */
static int fix_raw_timing(int fd)
{
    struct termios t;
    if (tcgetattr(fd, &t) < 0)
        return -errno;
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    if (tcsetattr(fd, TCSANOW, &t) < 0)
        return -errno;
    return 0;
}

static int set_nonblock_cloexec(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -errno;
    int fdfl = fcntl(fd, F_GETFD);
    if (fdfl < 0 || fcntl(fd, F_SETFD, fdfl | FD_CLOEXEC) < 0)
        return -errno;
    return 0;
}

/* Fails with the errno libserialport saw, or -EIO for its own errors. */
static int sp_fail(struct serial *s, enum sp_return r, const char *what, struct sg_err *err)
{
    int code = -EIO;
    char *msg = NULL;
    if (r == SP_ERR_FAIL) {
        code = -sp_last_error_code();
        if (code >= 0)
            code = -EIO;
        msg = sp_last_error_message();
    } else if (r == SP_ERR_ARG) {
        code = -EINVAL;
    } else if (r == SP_ERR_MEM) {
        code = -ENOMEM;
    } else if (r == SP_ERR_SUPP) {
        code = -ENOTSUP;
    }
    sg_errf(err, code, "serial %s: %s %s: %s (libserialport)", s->path, what, s->device,
            msg ? msg : strerror(-code));
    if (msg)
        sp_free_error_message(msg);
    return code;
}

static void close_device(struct serial *s)
{
    if (s->sp) {
        sp_close(s->sp);
        sp_free_port(s->sp);
        s->sp = NULL;
    } else if (s->fd >= 0) {
        close(s->fd);
    }
    s->fd = -1;
    s->out_off = s->out_len = 0;
}

/* Real ttys: libserialport opens and sets 8N1, baud, flow control. */
static int open_with_libserialport(struct serial *s, struct sg_err *err)
{
    enum sp_return r = sp_open(s->sp, SP_MODE_READ_WRITE);
    if (r != SP_OK) {
        int rc = sp_fail(s, r, "open", err);
        sp_free_port(s->sp);
        s->sp = NULL;
        return rc;
    }
    const char *what = NULL;
    enum sp_flowcontrol flow = s->rtscts ? SP_FLOWCONTROL_RTSCTS : SP_FLOWCONTROL_NONE;
    if ((r = sp_set_baudrate(s->sp, s->baud)) != SP_OK)
        what = "baud";
    else if ((r = sp_set_bits(s->sp, 8)) != SP_OK)
        what = "8 data bits";
    else if ((r = sp_set_parity(s->sp, SP_PARITY_NONE)) != SP_OK)
        what = "no parity";
    else if ((r = sp_set_stopbits(s->sp, 1)) != SP_OK)
        what = "1 stop bit";
    else if ((r = sp_set_flowcontrol(s->sp, flow)) != SP_OK)
        what = "flow control";
    else if ((r = sp_get_port_handle(s->sp, &s->fd)) != SP_OK)
        what = "handle";
    if (what) {
        int rc = sp_fail(s, r, what, err);
        close_device(s);
        return rc;
    }
    return 0;
}

/* ptys (and any tty libserialport cannot find in sysfs): plain termios. */
static int open_with_termios(struct serial *s, struct sg_err *err)
{
    int fd = open(s->device, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return sg_errf(err, -e, "serial %s: open %s: %s", s->path, s->device, strerror(e));
    }
    struct termios t;
    if (!isatty(fd) || tcgetattr(fd, &t) < 0) {
        int e = errno == EINVAL ? ENOTTY : errno;
        close(fd);
        return sg_errf(err, -e, "serial %s: %s is not a terminal: %s", s->path, s->device,
                       strerror(e));
    }
    cfmakeraw(&t);
    t.c_cflag &= ~(tcflag_t)(CSIZE | PARENB | CSTOPB | CRTSCTS | HUPCL);
    t.c_cflag |= CS8 | CREAD | CLOCAL;
    if (s->rtscts)
        t.c_cflag |= CRTSCTS;
    t.c_iflag &= ~(tcflag_t)(IXON | IXOFF | IXANY);
    speed_t sp = baud_speed(s->baud);
    if (cfsetispeed(&t, sp) < 0 || cfsetospeed(&t, sp) < 0 || tcsetattr(fd, TCSANOW, &t) < 0) {
        int e = errno;
        close(fd);
        return sg_errf(err, -e, "serial %s: configure %s: %s", s->path, s->device, strerror(e));
    }
    s->fd = fd;
    return 0;
}

static int open_device(struct serial *s, struct sg_err *err)
{
    s->device[0] = '\0';
    /* Resolved each time: a by-id link or a `modemsim --link` may now point
     * at a different node than last time. */
    if (!realpath(s->path, s->device)) {
        int e = errno;
        s->device[0] = '\0';
        return sg_errf(err, -e, "serial %s: %s", s->path,
                       e == ENOENT ? "no such device (or link target missing)" : strerror(e));
    }
    int rc;
    if (sp_get_port_by_name(s->device, &s->sp) == SP_OK) {
        rc = open_with_libserialport(s, err);
    } else {
        s->sp = NULL;
        rc = open_with_termios(s, err);
    }
    if (rc < 0) {
        s->device[0] = '\0';
        return rc;
    }
    if ((rc = fix_raw_timing(s->fd)) < 0 || (rc = set_nonblock_cloexec(s->fd)) < 0) {
        sg_errf(err, rc, "serial %s: configure %s: %s", s->path, s->device, strerror(-rc));
        close_device(s);
        s->device[0] = '\0';
        return rc;
    }
    s->gone = false;
    return 0;
}

int serial_open(const struct serial_cfg *cfg, struct serial **out, struct sg_err *err)
{
    if (!cfg || !cfg->path || !cfg->path[0] || !out)
        return sg_errf(err, -EINVAL, "serial: no path given");
    int baud = cfg->baud ? cfg->baud : 115200;
    if (!serial_baud_supported(baud))
        return sg_errf(err, -EINVAL, "serial %s: unsupported baud rate %d", cfg->path, baud);
    size_t cap = cfg->out_cap ? cfg->out_cap : SERIAL_OUT_CAP_DEFAULT;
    if (cap > SERIAL_OUT_CAP_MAX)
        return sg_errf(err, -EINVAL, "serial %s: output buffer %zu over the %u cap", cfg->path, cap,
                       SERIAL_OUT_CAP_MAX);
    struct serial *s = calloc(1, sizeof(*s));
    if (s) {
        s->path = strdup(cfg->path);
        s->out = malloc(cap);
    }
    if (!s || !s->path || !s->out) {
        if (s) {
            free(s->path);
            free(s->out);
        }
        free(s);
        return sg_errf(err, -ENOMEM, "serial %s: out of memory", cfg->path);
    }
    s->baud = baud;
    s->rtscts = cfg->rtscts;
    s->out_cap = cap;
    s->fd = -1;
    int rc = open_device(s, err);
    if (rc < 0) {
        free(s->out);
        free(s->path);
        free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void serial_close(struct serial *s)
{
    if (!s)
        return;
    close_device(s);
    free(s->out);
    free(s->path);
    free(s);
}

int serial_fd(const struct serial *s)
{
    return s ? s->fd : -1;
}

const char *serial_path(const struct serial *s)
{
    return s->path;
}

const char *serial_device(const struct serial *s)
{
    return s->device;
}

bool serial_is_gone(const struct serial *s)
{
    return s->gone;
}

/* Marks the port gone, closes the fd, and reports it. */
static int went_away(struct serial *s, const char *how, struct sg_err *err)
{
    char dev[PATH_MAX];
    snprintf(dev, sizeof(dev), "%s", s->device);
    close_device(s);
    s->gone = true;
    s->device[0] = '\0';
    return sg_errf(err, SERIAL_GONE, "serial %s: device %s gone (%s)", s->path, dev, how);
}

static int check_usable(struct serial *s, struct sg_err *err)
{
    if (s->gone || s->fd < 0)
        return sg_errf(err, SERIAL_GONE, "serial %s: device gone, reopen pending", s->path);
    return 0;
}

ssize_t serial_read(struct serial *s, void *buf, size_t cap, struct sg_err *err)
{
    int rc = check_usable(s, err);
    if (rc < 0)
        return rc;
    if (cap == 0)
        return 0;
    ssize_t n = read(s->fd, buf, cap);
    if (n > 0)
        return n;
    if (n == 0) {
        /* With VMIN=1 and O_NONBLOCK, 0 is end-of-file: a hung-up tty (USB
         * unplug, pty master closed). Double-check with poll so a driver
         * with odd semantics cannot make us drop a live port. */
        struct pollfd p = {.fd = s->fd, .events = POLLIN};
        if (poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR | POLLNVAL)))
            return went_away(s, "hang-up", err);
        return 0;
    }
    int e = errno;
    if (e == EAGAIN || e == EINTR)
        return 0;
    if (errno_is_gone(e))
        return went_away(s, strerror(e), err);
    return sg_errf(err, -e, "serial %s: read %s: %s", s->path, s->device, strerror(e));
}

/* Writes from buf; returns bytes taken (maybe 0 on EAGAIN) or <0. */
static ssize_t write_some(struct serial *s, const uint8_t *buf, size_t len, struct sg_err *err)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(s->fd, buf + done, len - done);
        if (n > 0) {
            done += (size_t)n;
            continue;
        }
        int e = n == 0 ? EAGAIN : errno;
        if (e == EINTR)
            continue;
        if (e == EAGAIN)
            break;
        if (errno_is_gone(e))
            return went_away(s, strerror(e), err);
        return sg_errf(err, -e, "serial %s: write %s: %s", s->path, s->device, strerror(e));
    }
    return (ssize_t)done;
}

ssize_t serial_flush(struct serial *s, struct sg_err *err)
{
    int rc = check_usable(s, err);
    if (rc < 0)
        return rc;
    if (s->out_len == 0)
        return 0;
    ssize_t n = write_some(s, s->out + s->out_off, s->out_len, err);
    if (n < 0)
        return n;
    s->out_off += (size_t)n;
    s->out_len -= (size_t)n;
    if (s->out_len == 0)
        s->out_off = 0;
    return (ssize_t)s->out_len;
}

int serial_write(struct serial *s, const void *buf, size_t len, struct sg_err *err)
{
    int rc = check_usable(s, err);
    if (rc < 0)
        return rc;
    if (len > s->out_cap - s->out_len)
        return sg_errf(err, -ENOBUFS,
                       "serial %s: output buffer full (%zu of %zu pending, %zu more)", s->path,
                       s->out_len, s->out_cap, len);
    const uint8_t *p = buf;
    if (s->out_len == 0) {
        ssize_t n = write_some(s, p, len, err);
        if (n < 0)
            return (int)n;
        p += n;
        len -= (size_t)n;
        if (len == 0)
            return 0;
    }
    if (s->out_off + s->out_len + len > s->out_cap) {
        memmove(s->out, s->out + s->out_off, s->out_len);
        s->out_off = 0;
    }
    memcpy(s->out + s->out_off + s->out_len, p, len);
    s->out_len += len;
    ssize_t left = serial_flush(s, err);
    return left < 0 ? (int)left : 0;
}

bool serial_want_write(const struct serial *s)
{
    return s && !s->gone && s->out_len > 0;
}

size_t serial_pending(const struct serial *s)
{
    return s->out_len;
}

int serial_discard(struct serial *s, struct sg_err *err)
{
    int rc = check_usable(s, err);
    if (rc < 0)
        return rc;
    s->out_off = s->out_len = 0;
    if (tcflush(s->fd, TCIOFLUSH) < 0) {
        int e = errno;
        if (errno_is_gone(e))
            return went_away(s, strerror(e), err);
        return sg_errf(err, -e, "serial %s: flush %s: %s", s->path, s->device, strerror(e));
    }
    return 0;
}

int serial_set_baud(struct serial *s, int baud, struct sg_err *err)
{
    int rc = check_usable(s, err);
    if (rc < 0)
        return rc;
    if (!serial_baud_supported(baud))
        return sg_errf(err, -EINVAL, "serial %s: unsupported baud rate %d", s->path, baud);
    if (s->sp) {
        enum sp_return r = sp_set_baudrate(s->sp, baud);
        if (r != SP_OK)
            return sp_fail(s, r, "baud", err);
    } else {
        struct termios t;
        speed_t sp = baud_speed(baud);
        if (tcgetattr(s->fd, &t) < 0 || cfsetispeed(&t, sp) < 0 || cfsetospeed(&t, sp) < 0 ||
            tcsetattr(s->fd, TCSANOW, &t) < 0) {
            int e = errno;
            return sg_errf(err, -e, "serial %s: baud %d on %s: %s", s->path, baud, s->device,
                           strerror(e));
        }
    }
    if ((rc = fix_raw_timing(s->fd)) < 0)
        return sg_errf(err, rc, "serial %s: configure %s: %s", s->path, s->device, strerror(-rc));
    s->baud = baud;
    return 0;
}

int serial_reopen(struct serial *s, struct sg_err *err)
{
    close_device(s);
    s->gone = true;
    int rc = open_device(s, err);
    if (rc == 0)
        return SERIAL_BACK;
    if (errno_is_absent(-rc))
        return SERIAL_ABSENT;
    return rc;
}
