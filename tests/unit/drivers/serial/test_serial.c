/*
 * serial against real pseudo-terminals, the way modemsim presents a modem:
 * the test holds the pty master (the "modem"), the port under test opens the
 * slave by path or through a link. Waits are poll(2) on file descriptors for
 * I/O readiness with a bound, never sleeps for a timer.
 *
 * The libserialport path (real ttys) runs only when SG_TEST_SERIAL_DEVICE
 * names a device it may reconfigure (e.g. a USB modem's AT port); these
 * machines have none, and a console UART must not be touched.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pty.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cmocka.h>

#include "drivers/serial/serial.h"

struct pty {
    int master;
    int slave_fd;
    char slave[PATH_MAX];
};

/* The test keeps a slave fd open, unused: it pins the pty number so that,
 * after the master closes, no pty made by a test running in parallel can
 * take the same /dev/pts/N and make "still absent" look like "back". A
 * master close hangs up every slave fd, this one included. */
static void pty_new(struct pty *p)
{
    assert_int_equal(openpty(&p->master, &p->slave_fd, p->slave, NULL, NULL), 0);
    int fl = fcntl(p->master, F_GETFL);
    assert_int_equal(fcntl(p->master, F_SETFL, fl | O_NONBLOCK), 0);
}

static void pty_free(struct pty *p)
{
    if (p->master >= 0)
        close(p->master);
    close(p->slave_fd);
}

static void pty_unplug(struct pty *p)
{
    close(p->master);
    p->master = -1;
}

static bool wait_fd(int fd, short events, int timeout_ms)
{
    struct pollfd pfd = {.fd = fd, .events = events};
    return poll(&pfd, 1, timeout_ms) == 1;
}

/* Reads from the master until `want` bytes arrived (bounded wait). */
static size_t master_read(struct pty *p, char *buf, size_t want)
{
    size_t got = 0;
    while (got < want && wait_fd(p->master, POLLIN, 2000)) {
        ssize_t n = read(p->master, buf + got, want - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    return got;
}

/* Reads from the port until `want` bytes arrived (bounded wait). */
static size_t port_read(struct serial *s, char *buf, size_t want)
{
    size_t got = 0;
    while (got < want && wait_fd(serial_fd(s), POLLIN, 2000)) {
        ssize_t n = serial_read(s, buf + got, want - got, NULL);
        if (n < 0)
            break;
        got += (size_t)n;
    }
    return got;
}

static void round_trip(struct serial *s, struct pty *p)
{
    char buf[64];
    struct sg_err err;
    assert_int_equal(serial_write(s, "AT+CSQ\r", 7, &err), 0);
    assert_int_equal(master_read(p, buf, 7), 7);
    assert_memory_equal(buf, "AT+CSQ\r", 7);

    const char *reply = "\r\n+CSQ: 17,99\r\n\r\nOK\r\n";
    size_t rl = strlen(reply);
    assert_int_equal(write(p->master, reply, rl), (ssize_t)rl);
    assert_int_equal(port_read(s, buf, rl), rl);
    assert_memory_equal(buf, reply, rl);
    /* Nothing more: 0, not an error, not gone. */
    assert_int_equal(serial_read(s, buf, sizeof(buf), &err), 0);
    assert_false(serial_is_gone(s));
}

static void test_pty_round_trip(void **state)
{
    (void)state;
    struct pty p;
    pty_new(&p);
    struct serial *s = NULL;
    struct sg_err err;
    struct serial_cfg cfg = {.path = p.slave, .baud = 115200};
    assert_int_equal(serial_open(&cfg, &s, &err), 0);
    assert_true(serial_fd(s) >= 0);
    assert_string_equal(serial_path(s), p.slave);
    assert_string_equal(serial_device(s), p.slave);
    int fl = fcntl(serial_fd(s), F_GETFL);
    assert_true(fl & O_NONBLOCK);
    round_trip(s, &p);
    serial_close(s);
    pty_free(&p);
}

static void test_line_settings(void **state)
{
    (void)state;
    struct pty p;
    pty_new(&p);
    struct serial *s = NULL;
    struct sg_err err;
    struct serial_cfg cfg = {.path = p.slave, .baud = 9600, .rtscts = true};
    assert_int_equal(serial_open(&cfg, &s, &err), 0);
    struct termios t;
    assert_int_equal(tcgetattr(serial_fd(s), &t), 0);
    assert_int_equal(cfgetospeed(&t), B9600);
    assert_int_equal(cfgetispeed(&t), B9600);
    assert_int_equal(t.c_cflag & CSIZE, CS8);
    assert_false(t.c_cflag & PARENB);
    assert_false(t.c_cflag & CSTOPB);
    assert_true(t.c_cflag & CRTSCTS);
    assert_false(t.c_lflag & (ICANON | ECHO | ISIG));
    assert_false(t.c_oflag & OPOST);
    assert_false(t.c_iflag & (ICRNL | IXON));
    assert_int_equal(t.c_cc[VMIN], 1);

    assert_int_equal(serial_set_baud(s, 115200, &err), 0);
    assert_int_equal(tcgetattr(serial_fd(s), &t), 0);
    assert_int_equal(cfgetospeed(&t), B115200);
    assert_int_equal(serial_set_baud(s, 12345, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "12345"));
    serial_close(s);

    /* Default: 115200, no flow control. */
    cfg = (struct serial_cfg){.path = p.slave};
    assert_int_equal(serial_open(&cfg, &s, &err), 0);
    assert_int_equal(tcgetattr(serial_fd(s), &t), 0);
    assert_int_equal(cfgetospeed(&t), B115200);
    assert_false(t.c_cflag & CRTSCTS);
    serial_close(s);
    pty_free(&p);
}

static void test_master_closed_is_unplug(void **state)
{
    (void)state;
    struct pty p;
    pty_new(&p);
    struct serial *s = NULL;
    struct sg_err err;
    struct serial_cfg cfg = {.path = p.slave};
    assert_int_equal(serial_open(&cfg, &s, &err), 0);
    int fd = serial_fd(s);
    pty_unplug(&p);

    /* The loop sees the fd ready (POLLHUP) and reads. */
    assert_true(wait_fd(fd, POLLIN, 2000));
    char buf[16];
    assert_int_equal(serial_read(s, buf, sizeof(buf), &err), SERIAL_GONE);
    assert_int_equal(err.code, -ENODEV);
    assert_non_null(strstr(err.msg, p.slave));
    assert_non_null(strstr(err.msg, "gone"));
    print_message("  %s\n", err.msg);
    assert_true(serial_is_gone(s));
    assert_int_equal(serial_fd(s), -1);
    assert_false(serial_want_write(s));
    assert_int_equal(serial_write(s, "AT\r", 3, &err), SERIAL_GONE);
    assert_int_equal(serial_flush(s, &err), SERIAL_GONE);
    assert_int_equal(serial_read(s, buf, sizeof(buf), &err), SERIAL_GONE);

    /* The slave node went with its master: still absent, not an error. */
    assert_int_equal(serial_reopen(s, &err), SERIAL_ABSENT);
    assert_true(serial_is_gone(s));
    assert_int_equal(serial_fd(s), -1);
    assert_true(err.msg[0] != '\0');
    print_message("  reopen: %s\n", err.msg);
    serial_close(s);
    pty_free(&p);
}

static void test_write_after_unplug_detected(void **state)
{
    (void)state;
    struct pty p;
    pty_new(&p);
    struct serial *s = NULL;
    struct serial_cfg cfg = {.path = p.slave};
    assert_int_equal(serial_open(&cfg, &s, NULL), 0);
    pty_unplug(&p);
    /* A write to a hung-up tty fails with EIO: same verdict as a read. */
    assert_int_equal(serial_write(s, "AT\r", 3, NULL), SERIAL_GONE);
    assert_true(serial_is_gone(s));
    serial_close(s);
    pty_free(&p);
}

/* modemsim --link: the link is re-pointed at a new pty on replug. */
static void test_link_repointed_reopens(void **state)
{
    (void)state;
    char dir[] = "/tmp/sg-serial-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char link[PATH_MAX], tmp[PATH_MAX];
    snprintf(link, sizeof(link), "%s/modem0", dir);
    snprintf(tmp, sizeof(tmp), "%s/modem0.new", dir);

    struct pty p1;
    pty_new(&p1);
    assert_int_equal(symlink(p1.slave, link), 0);
    struct serial *s = NULL;
    struct sg_err err;
    struct serial_cfg cfg = {.path = link, .baud = 115200};
    assert_int_equal(serial_open(&cfg, &s, &err), 0);
    assert_string_equal(serial_path(s), link);
    assert_string_equal(serial_device(s), p1.slave);
    round_trip(s, &p1);

    /* Unplug: master closes, link dangles. */
    pty_unplug(&p1);
    char buf[8];
    assert_true(wait_fd(serial_fd(s), POLLIN, 2000));
    assert_int_equal(serial_read(s, buf, sizeof(buf), &err), SERIAL_GONE);
    assert_int_equal(serial_reopen(s, &err), SERIAL_ABSENT);
    assert_non_null(strstr(err.msg, link));

    /* Replug: a new pty, link swapped atomically. */
    struct pty p2;
    pty_new(&p2);
    assert_int_equal(symlink(p2.slave, tmp), 0);
    assert_int_equal(rename(tmp, link), 0);
    assert_int_equal(serial_reopen(s, &err), SERIAL_BACK);
    assert_false(serial_is_gone(s));
    assert_true(serial_fd(s) >= 0);
    assert_string_equal(serial_device(s), p2.slave);
    round_trip(s, &p2);

    /* Reopening a live port also works (the "reopen the port" rung). */
    assert_int_equal(serial_reopen(s, &err), SERIAL_BACK);
    round_trip(s, &p2);

    serial_close(s);
    pty_free(&p2);
    pty_free(&p1);
    unlink(link);
    rmdir(dir);
}

static void test_bad_paths(void **state)
{
    (void)state;
    char dir[] = "/tmp/sg-serial-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char file[PATH_MAX], dangling[PATH_MAX];
    snprintf(file, sizeof(file), "%s/not-a-tty", dir);
    snprintf(dangling, sizeof(dangling), "%s/usb-SimTech_SIM7600-if02-port0", dir);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(symlink("/dev/ttyUSB-simgate-none", dangling), 0);

    static const struct {
        const char *name;
        int which; /* 0 literal, 1 regular file, 2 dangling link, 3 dir */
        const char *path;
        int want;
        const char *msg;
    } cases[] = {
        {"unplugged USB modem by path", 0, "/dev/ttyUSB-simgate-none", -ENOENT, "no such device"},
        {"by-id link of a modem that is gone", 2, NULL, -ENOENT, "link target missing"},
        {"a regular file", 1, NULL, -ENOTTY, "not a terminal"},
        {"a directory", 3, NULL, -EISDIR, "Is a directory"},
        {"empty path", 0, "", -EINVAL, "no path"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        print_message("  case: %s\n", cases[i].name);
        const char *path = cases[i].which == 1   ? file
                           : cases[i].which == 2 ? dangling
                           : cases[i].which == 3 ? dir
                                                 : cases[i].path;
        struct serial_cfg cfg = {.path = path};
        struct serial *s = NULL;
        struct sg_err err;
        assert_int_equal(serial_open(&cfg, &s, &err), cases[i].want);
        assert_null(s);
        assert_int_equal(err.code, cases[i].want);
        assert_non_null(strstr(err.msg, cases[i].msg));
        if (path[0])
            assert_non_null(strstr(err.msg, path));
    }

    struct serial *s = NULL;
    struct sg_err err;
    struct serial_cfg cfg = {.path = file, .baud = 14400};
    assert_int_equal(serial_open(&cfg, &s, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "14400"));
    cfg = (struct serial_cfg){.path = file, .out_cap = SERIAL_OUT_CAP_MAX + 1};
    assert_int_equal(serial_open(&cfg, &s, &err), -EINVAL);
    assert_int_equal(serial_open(NULL, &s, &err), -EINVAL);
    assert_int_equal(serial_open(&cfg, NULL, &err), -EINVAL);
    assert_true(serial_baud_supported(9600));
    assert_false(serial_baud_supported(0));

    unlink(dangling);
    unlink(file);
    rmdir(dir);
}

/* Nobody reads the modem side: the kernel stops taking bytes, the port
 * buffers up to its cap, refuses whole writes past it, and delivers
 * everything in order once the other side drains. */
static void test_backpressure(void **state)
{
    (void)state;
    struct pty p;
    pty_new(&p);
    struct serial *s = NULL;
    struct sg_err err;
    struct serial_cfg cfg = {.path = p.slave, .out_cap = 1000};
    assert_int_equal(serial_open(&cfg, &s, &err), 0);

    enum { CHUNK = 300, MAX_TOTAL = 1 << 21 };
    uint8_t chunk[CHUNK];
    size_t sent = 0; /* bytes accepted by serial_write */
    bool refused = false;
    while (sent < MAX_TOTAL) {
        for (size_t i = 0; i < CHUNK; i++)
            chunk[i] = (uint8_t)((sent + i) * 7 + 3);
        size_t before = serial_pending(s);
        int rc = serial_write(s, chunk, CHUNK, &err);
        if (rc == -ENOBUFS) {
            assert_int_equal(serial_pending(s), before); /* nothing half queued */
            assert_non_null(strstr(err.msg, "output buffer full"));
            refused = true;
            break;
        }
        assert_int_equal(rc, 0);
        sent += CHUNK;
    }
    assert_true(refused);
    assert_true(serial_want_write(s));
    assert_true(serial_pending(s) > 1000 - CHUNK);
    assert_true(serial_pending(s) <= 1000);
    print_message("  kernel took %zu bytes before EAGAIN (pty, nobody reading)\n",
                  sent - serial_pending(s));

    /* Drain the master while flushing; check order and content. */
    size_t got = 0;
    uint8_t rbuf[4096];
    int idle = 0;
    while (got < sent && idle < 100) {
        ssize_t left = serial_flush(s, &err);
        assert_true(left >= 0);
        if (!wait_fd(p.master, POLLIN, 50)) {
            idle++;
            continue;
        }
        ssize_t n = read(p.master, rbuf, sizeof(rbuf));
        if (n <= 0) {
            idle++;
            continue;
        }
        for (ssize_t i = 0; i < n; i++)
            assert_int_equal(rbuf[i], (uint8_t)((got + (size_t)i) * 7 + 3));
        got += (size_t)n;
    }
    assert_int_equal(got, sent);
    assert_int_equal(serial_pending(s), 0);
    assert_false(serial_want_write(s));
    assert_int_equal(serial_flush(s, &err), 0);
    serial_close(s);
    pty_free(&p);
}

static void test_unplug_with_output_queued(void **state)
{
    (void)state;
    struct pty p;
    pty_new(&p);
    struct serial *s = NULL;
    struct sg_err err;
    struct serial_cfg cfg = {.path = p.slave, .out_cap = 4096};
    assert_int_equal(serial_open(&cfg, &s, &err), 0);
    char chunk[512];
    memset(chunk, 'A', sizeof(chunk));
    for (int i = 0; i < 4096 && !serial_want_write(s); i++)
        assert_int_equal(serial_write(s, chunk, sizeof(chunk), &err), 0);
    assert_true(serial_want_write(s));
    pty_unplug(&p);
    assert_int_equal(serial_flush(s, &err), SERIAL_GONE);
    assert_int_equal(serial_pending(s), 0);
    assert_false(serial_want_write(s));
    serial_close(s);
    pty_free(&p);
}

/* A by-id link that now points at something that is not a modem port: a
 * configuration problem, reported as an error rather than "absent". */
static void test_reopen_hard_error(void **state)
{
    (void)state;
    char dir[] = "/tmp/sg-serial-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char link[PATH_MAX], file[PATH_MAX], tmp[PATH_MAX];
    snprintf(link, sizeof(link), "%s/modem0", dir);
    snprintf(file, sizeof(file), "%s/plain-file", dir);
    snprintf(tmp, sizeof(tmp), "%s/modem0.new", dir);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);
    struct pty p;
    pty_new(&p);
    assert_int_equal(symlink(p.slave, link), 0);
    struct serial *s = NULL;
    struct sg_err err;
    struct serial_cfg cfg = {.path = link};
    assert_int_equal(serial_open(&cfg, &s, &err), 0);
    assert_int_equal(symlink(file, tmp), 0);
    assert_int_equal(rename(tmp, link), 0);
    assert_int_equal(serial_reopen(s, &err), -ENOTTY);
    assert_non_null(strstr(err.msg, "not a terminal"));
    assert_true(serial_is_gone(s));
    assert_int_equal(serial_fd(s), -1);
    serial_close(s);
    pty_free(&p);
    unlink(link);
    unlink(file);
    rmdir(dir);
}

static void test_discard(void **state)
{
    (void)state;
    struct pty p;
    pty_new(&p);
    struct serial *s = NULL;
    struct sg_err err;
    struct serial_cfg cfg = {.path = p.slave};
    assert_int_equal(serial_open(&cfg, &s, &err), 0);
    /* Garbage from a confused modem sits unread; discard drops it. */
    assert_int_equal(write(p.master, "\xff\xfe garbage", 10), 10);
    assert_true(wait_fd(serial_fd(s), POLLIN, 2000));
    assert_int_equal(serial_discard(s, &err), 0);
    char buf[16];
    assert_int_equal(serial_read(s, buf, sizeof(buf), &err), 0);
    assert_int_equal(serial_pending(s), 0);
    round_trip(s, &p);
    serial_close(s);
    pty_free(&p);
    serial_close(NULL);
}

/* Real hardware through libserialport, opt-in. */
static void test_real_device(void **state)
{
    (void)state;
    const char *dev = getenv("SG_TEST_SERIAL_DEVICE");
    if (!dev || !dev[0]) {
        print_message("  skipped: set SG_TEST_SERIAL_DEVICE=/dev/ttyUSBn to run\n");
        skip();
    }
    struct serial *s = NULL;
    struct sg_err err;
    struct serial_cfg cfg = {.path = dev, .baud = 115200};
    assert_int_equal(serial_open(&cfg, &s, &err), 0);
    struct termios t;
    assert_int_equal(tcgetattr(serial_fd(s), &t), 0);
    assert_int_equal(cfgetospeed(&t), B115200);
    assert_int_equal(t.c_cc[VMIN], 1);
    assert_int_equal(serial_write(s, "AT\r", 3, &err), 0);
    serial_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pty_round_trip),
        cmocka_unit_test(test_line_settings),
        cmocka_unit_test(test_master_closed_is_unplug),
        cmocka_unit_test(test_write_after_unplug_detected),
        cmocka_unit_test(test_link_repointed_reopens),
        cmocka_unit_test(test_bad_paths),
        cmocka_unit_test(test_backpressure),
        cmocka_unit_test(test_unplug_with_output_queued),
        cmocka_unit_test(test_reopen_hard_error),
        cmocka_unit_test(test_discard),
        cmocka_unit_test(test_real_device),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
