/*
 * serial: one serial port (a modem's AT port), non-blocking, watched by the
 * event loop through its file descriptor.
 *
 * Opening: the path may be a device (/dev/ttyUSB2), a udev link
 * (/dev/serial/by-id/usb-SimTech...-if02-port0) or a pseudo-terminal slave
 * (/dev/pts/7, or a link to one as made by `modemsim --link`). Links are
 * resolved at every open and reopen, so a re-pointed link is followed.
 * Real ttys are opened and configured through libserialport; libserialport
 * 0.1.1 refuses ptys (sp_get_port_by_name looks the device up in
 * /sys/class/tty and fails with "Device not found"), so ptys and anything
 * else it rejects that is still a tty are configured with termios directly.
 * Either way the line is raw 8N1 at the given baud, optional RTS/CTS, and
 * O_NONBLOCK.
 *
 * I/O is done with read(2)/write(2) on the port's fd rather than
 * sp_nonblocking_read/write, because those fold end-of-file (a hung-up pty)
 * into "0 bytes, try again" and we must tell "nothing yet" from "gone".
 *
 * Unplug: serial_read/serial_write/serial_flush return SERIAL_GONE (-ENODEV)
 * when the device has gone (EIO/ENXIO/ENODEV, POLLHUP, EOF on a pty whose
 * master closed). The port has then already closed its fd (serial_fd
 * returns -1) and dropped queued output; the owner stops watching the old
 * fd number at once (before opening anything else, e.g. uv_poll_stop) and
 * calls serial_reopen with back-off until it answers SERIAL_BACK, then
 * watches the new fd. The fd is closed at once rather than kept until the
 * reopen because an open handle on an unplugged USB serial port keeps its
 * minor number taken: the replugged modem would come back as ttyUSB3
 * instead of ttyUSB2.
 *
 * A raw /dev/pts/N path is fragile across replug: the number can be taken
 * by an unrelated pty. Use a link (`modemsim --link`) or by-id path.
 *
 * Output: serial_write never blocks. What the kernel does not take at once
 * is kept in a bounded output buffer (cfg.out_cap, default
 * SERIAL_OUT_CAP_DEFAULT); while serial_want_write is true the loop watches
 * the fd for writability and calls serial_flush. A write that does not fit
 * in the buffer is refused whole (-ENOBUFS), so a command is never half
 * queued.
 *
 * Not thread-safe; one owner (the modem's loop glue).
 */
#ifndef SG_SERIAL_H
#define SG_SERIAL_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "drivers/base/sg_err.h"

#define SERIAL_OUT_CAP_DEFAULT 4096u
#define SERIAL_OUT_CAP_MAX     (1u << 20)

#define SERIAL_GONE (-ENODEV) /* device unplugged / pty master closed */

struct serial; /* opaque */

struct serial_cfg {
    const char *path; /* copied; device, by-id link or pty slave */
    int baud;         /* 9600, 115200, ...; 0 = 115200 */
    bool rtscts;      /* hardware flow control */
    size_t out_cap;   /* output buffer bytes; 0 = SERIAL_OUT_CAP_DEFAULT, max SERIAL_OUT_CAP_MAX */
};

/* Result of serial_reopen. */
enum serial_reopen_result {
    SERIAL_ABSENT = 0, /* path still missing or not openable yet: retry later */
    SERIAL_BACK = 1,   /* open again; serial_fd is a NEW fd, register it */
};

/* Opens and configures the port. On success *out is owned by the caller
 * (free with serial_close). Fails with -ENOENT (path or link target missing),
 * -EACCES, -ENOTTY (not a terminal), -EINVAL (bad cfg/baud), ... and err
 * names the path and the OS or libserialport reason. */
int serial_open(const struct serial_cfg *cfg, struct serial **out, struct sg_err *err);

/* Closes the fd and frees. NULL is allowed. */
void serial_close(struct serial *s);

/* The fd to watch (readable; writable while serial_want_write), or -1 while
 * the device is gone. Owned by the port: never close it. */
int serial_fd(const struct serial *s);

/* Path as configured (the link, not its target). Owned by the port. */
const char *serial_path(const struct serial *s);

/* Device actually opened (link resolved), "" while gone. Owned by the port. */
const char *serial_device(const struct serial *s);

/* True once the port has been detected gone and not reopened yet. */
bool serial_is_gone(const struct serial *s);

/* Reads what is available, up to cap bytes. Returns the count (>0), 0 when
 * nothing is available, SERIAL_GONE when the device went away (fd closed),
 * another negative errno on other errors. */
ssize_t serial_read(struct serial *s, void *buf, size_t cap, struct sg_err *err);

/* Queues len bytes and writes as much as the kernel takes now. Returns 0
 * (all accepted: written or buffered), -ENOBUFS (did not fit, nothing
 * queued), SERIAL_GONE, or another negative errno. */
int serial_write(struct serial *s, const void *buf, size_t len, struct sg_err *err);

/* True while buffered output remains: watch the fd for POLLOUT. */
bool serial_want_write(const struct serial *s);

/* Bytes still buffered. */
size_t serial_pending(const struct serial *s);

/* Writes buffered output until empty or the kernel says EAGAIN. Returns the
 * bytes still pending (0 = done), SERIAL_GONE or another negative errno. */
ssize_t serial_flush(struct serial *s, struct sg_err *err);

/* Drops buffered output and the kernel's unread input and unsent output
 * (tcflush TCIOFLUSH); used when resynchronising the AT channel. */
int serial_discard(struct serial *s, struct sg_err *err);

/* Changes the baud rate of the open port. */
int serial_set_baud(struct serial *s, int baud, struct sg_err *err);

/* Closes the current fd (if any) and tries to open the same path again
 * (links re-resolved). Returns SERIAL_BACK, SERIAL_ABSENT (missing, ENXIO,
 * ENODEV, EIO, EAGAIN/EBUSY: worth retrying), or a negative errno for errors
 * retrying will not fix (EACCES, ENOTTY, EINVAL). err says why either way. */
int serial_reopen(struct serial *s, struct sg_err *err);

/* Supported baud rates are the POSIX/Linux termios ones up to 4000000;
 * returns 1 if baud is one of them. */
int serial_baud_supported(int baud);

#endif
