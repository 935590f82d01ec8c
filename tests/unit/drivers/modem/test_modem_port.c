/*
 * modem_port end to end on a pseudo-terminal: the test plays a minimal
 * 27.007 modem on the pty master (with the CMGS prompt and a +CMTI), the
 * port runs serial + at_chan + the state machine on the slave. Real clock,
 * bounded by a deadline per step (no sleeps: poll() on both fds).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <cmocka.h>

#include "drivers/base/sg_clock.h"
#include "drivers/gpio/gpio.h"
#include "drivers/modem/modem_port.h"

#define DELIVER "07913366003000F0040B913366554433F20000422150913512800AE8329BFD4697D9EC37"

struct fake {
    int master;
    char slave_path[64];
    char line[512];
    size_t len;
    bool in_pdu;
    char pdu[512];
    size_t pdu_len;
    char got_pdu[512];
    char cmds[64][64];
    size_t ncmds;
    sg_ms first_cmd_at;

    /* what the port told us */
    enum modem_state states[16];
    size_t nstates;
    int identities;
    bool sent;
    struct modem_send_result res;
    int inbound_index;
    char inbound_pdu[512];
};

static void fake_write(struct fake *f, const char *s)
{
    size_t n = strlen(s);
    assert_int_equal(write(f->master, s, n), (ssize_t)n);
}

static const struct {
    const char *cmd;
    const char *reply;
} answers[] = {
    {"ATI", "\r\nTest Modem 1.0\r\n\r\nOK\r\n"},
    {"AT+CGMI", "\r\nACME\r\n\r\nOK\r\n"},
    {"AT+CGMM", "\r\nM1\r\n\r\nOK\r\n"},
    {"AT+CGSN", "\r\n356938035643809\r\n\r\nOK\r\n"},
    {"AT+CPIN?", "\r\n+CPIN: READY\r\n\r\nOK\r\n"},
    {"AT+CREG?", "\r\n+CREG: 1,1\r\n\r\nOK\r\n"},
    {"AT+CGREG?", "\r\n+CGREG: 1,1\r\n\r\nOK\r\n"},
    {"AT+CEREG?", "\r\nERROR\r\n"},
    {"AT+CSQ", "\r\n+CSQ: 20,0\r\n\r\nOK\r\n"},
    {"AT+CMGR=3", "\r\n+CMGR: 0,,24\r\n" DELIVER "\r\n\r\nOK\r\n"},
    {"AT+CCID", "\r\nERROR\r\n"},
};

static void fake_command(struct fake *f, const char *cmd)
{
    if (f->ncmds == 0)
        f->first_cmd_at = sg_clock_mono_ms();
    if (f->ncmds < 64)
        snprintf(f->cmds[f->ncmds++], sizeof(f->cmds[0]), "%s", cmd);
    if (strncmp(cmd, "AT+CMGS=", 8) == 0) {
        f->in_pdu = true;
        f->pdu_len = 0;
        fake_write(f, "\r\n> ");
        return;
    }
    for (size_t i = 0; i < sizeof(answers) / sizeof(answers[0]); i++)
        if (strcmp(cmd, answers[i].cmd) == 0) {
            fake_write(f, answers[i].reply);
            return;
        }
    fake_write(f, "\r\nOK\r\n");
}

static void fake_read(struct fake *f)
{
    char buf[256];
    ssize_t n = read(f->master, buf, sizeof(buf));
    for (ssize_t i = 0; i < n; i++) {
        char c = buf[i];
        if (f->in_pdu) {
            if (c == 0x1a) {
                f->pdu[f->pdu_len] = '\0';
                snprintf(f->got_pdu, sizeof(f->got_pdu), "%s", f->pdu);
                f->in_pdu = false;
                fake_write(f, "\r\n+CMGS: 7\r\n\r\nOK\r\n");
            } else if (f->pdu_len + 1 < sizeof(f->pdu) && c != '\r' && c != '\n') {
                f->pdu[f->pdu_len++] = c;
            }
            continue;
        }
        if (c == 0x1b)
            continue;
        if (c == '\r') {
            f->line[f->len] = '\0';
            if (f->len)
                fake_command(f, f->line);
            f->len = 0;
        } else if (c != '\n' && f->len + 1 < sizeof(f->line)) {
            f->line[f->len++] = c;
        }
    }
}

static void on_state(void *ud, struct modem_port *p, enum modem_state from, enum modem_state to,
                     const char *reason)
{
    (void)p;
    (void)from;
    (void)reason;
    struct fake *f = ud;
    if (f->nstates < 16)
        f->states[f->nstates++] = to;
}

static void on_identity(void *ud, struct modem_port *p, const struct modem_identity *id)
{
    (void)p;
    (void)id;
    ((struct fake *)ud)->identities++;
}

static void on_inbound(void *ud, struct modem_port *p, int index, const char *pdu, int len)
{
    (void)p;
    (void)len;
    struct fake *f = ud;
    f->inbound_index = index;
    snprintf(f->inbound_pdu, sizeof(f->inbound_pdu), "%s", pdu);
}

static void on_sent(void *ud, struct modem_port *p, const struct modem_send_result *r)
{
    (void)p;
    struct fake *f = ud;
    f->sent = true;
    f->res = *r;
}

/* Pumps both ends until cond(f, p) or `ms` pass. */
static bool pump(struct fake *f, struct modem_port *p, bool (*cond)(struct fake *, struct modem_port *),
                 int ms)
{
    sg_ms end = sg_clock_mono_ms() + ms;
    while (!cond(f, p)) {
        sg_ms now = sg_clock_mono_ms();
        if (now >= end)
            return false;
        struct pollfd fds[2] = {{.fd = f->master, .events = POLLIN},
                                {.fd = modem_port_fd(p), .events = POLLIN}};
        if (modem_port_want_write(p))
            fds[1].events |= POLLOUT;
        sg_ms d = modem_port_next_deadline(p);
        int wait = (int)((d < end ? d : end) - now);
        if (wait < 0)
            wait = 0;
        if (wait > 100)
            wait = 100;
        poll(fds, fds[1].fd >= 0 ? 2 : 1, wait);
        now = sg_clock_mono_ms();
        if (f->master >= 0 && (fds[0].revents & POLLIN))
            fake_read(f);
        if (fds[1].fd >= 0 && (fds[1].revents & (POLLIN | POLLHUP | POLLERR)))
            modem_port_on_readable(p, now);
        if (fds[1].fd >= 0 && (fds[1].revents & POLLOUT))
            modem_port_on_writable(p, now);
        modem_port_tick(p, now);
    }
    return true;
}

static bool is_ready(struct fake *f, struct modem_port *p)
{
    (void)f;
    return modem_port_state(p) == MODEM_READY;
}

static bool has_sent(struct fake *f, struct modem_port *p)
{
    (void)p;
    return f->sent;
}

static bool has_inbound(struct fake *f, struct modem_port *p)
{
    (void)p;
    return f->inbound_index >= 0;
}

static bool saw_cmgd(struct fake *f, struct modem_port *p)
{
    (void)p;
    for (size_t i = 0; i < f->ncmds; i++)
        if (strcmp(f->cmds[i], "AT+CMGD=3") == 0)
            return true;
    return false;
}

static bool is_absent(struct fake *f, struct modem_port *p)
{
    (void)f;
    return modem_port_state(p) == MODEM_ABSENT;
}

static void test_port_on_pty(void **state)
{
    (void)state;
    struct fake f;
    memset(&f, 0, sizeof(f));
    f.inbound_index = -2;
    int slave;
    assert_int_equal(openpty(&f.master, &slave, f.slave_path, NULL, NULL), 0);
    struct termios t;
    tcgetattr(f.master, &t);
    cfmakeraw(&t);
    tcsetattr(f.master, TCSANOW, &t);
    fcntl(f.master, F_SETFL, O_NONBLOCK);

    struct modem_port_cbs cbs = {.state = on_state, .identity = on_identity, .inbound = on_inbound};
    struct modem_port_cfg cfg = {.id = "t1", .path = f.slave_path,
                                 .vendor = modem_vendor_by_name("generic"), .csq_interval_ms = -1};
    struct modem_port *p;
    struct sg_err err;
    assert_int_equal(modem_port_new(&cfg, &cbs, &f, &p, &err), 0);
    close(slave);   /* the port opens its own */
    modem_port_start(p, sg_clock_mono_ms());
    assert_true(pump(&f, p, is_ready, 5000));
    assert_true(f.identities >= 1);
    assert_string_equal(modem_port_identity(p)->imei, "356938035643809");
    assert_string_equal(f.cmds[0], "AT");
    assert_string_equal(f.cmds[1], "ATE0");

    /* one PDU: prompt, payload, Ctrl-Z, +CMGS: 7 */
    const char *pdu = "0011000B913366554433F20000AA06C8329BFD06";
    assert_int_equal(modem_port_send_pdu(p, 77, 19, pdu, on_sent, &f, sg_clock_mono_ms()), 0);
    assert_int_equal(modem_port_state(p), MODEM_BUSY);
    assert_int_equal(modem_port_send_pdu(p, 78, 19, pdu, on_sent, &f, sg_clock_mono_ms()), -EBUSY);
    assert_true(pump(&f, p, has_sent, 5000));
    assert_true(f.res.ok);
    assert_int_equal(f.res.mr, 7);
    assert_true(f.res.id == 77);
    assert_string_equal(f.got_pdu, pdu);
    assert_int_equal(modem_port_state(p), MODEM_READY);

    /* a stored message: read, handed up, deleted only after the ack */
    fake_write(&f, "\r\n+CMTI: \"SM\",3\r\n");
    assert_true(pump(&f, p, has_inbound, 5000));
    assert_int_equal(f.inbound_index, 3);
    assert_string_equal(f.inbound_pdu, DELIVER);
    assert_false(saw_cmgd(&f, p));
    modem_port_ack_stored(p, 3, sg_clock_mono_ms());
    assert_true(pump(&f, p, saw_cmgd, 5000));

    /* unplug: the master goes away */
    close(f.master);
    f.master = -1;
    assert_true(pump(&f, p, is_absent, 5000));
    assert_int_equal(modem_port_fd(p), -1);
    modem_port_free(p);
}

static sg_ms mono(void *ctx)
{
    (void)ctx;
    return sg_clock_mono_ms();
}

static void open_pty(struct fake *f)
{
    memset(f, 0, sizeof(*f));
    f->inbound_index = -2;
    int slave;
    assert_int_equal(openpty(&f->master, &slave, f->slave_path, NULL, NULL), 0);
    struct termios t;
    tcgetattr(f->master, &t);
    cfmakeraw(&t);
    tcsetattr(f->master, TCSANOW, &t);
    fcntl(f->master, F_SETFL, O_NONBLOCK);
    close(slave);
}

/* A board that boots with its SIM800 off: PWRKEY and STATUS wired, so the
 * port powers it on before the first AT (recording backend, real clock). */
static void test_port_powers_on_at_start(void **state)
{
    (void)state;
    struct fake f;
    open_pty(&f);
    struct gpio_cfg gc;
    gpio_cfg_init(&gc);
    gc.pwrkey.offset = 3;
    gc.status.offset = 4;
    struct gpio *g;
    assert_int_equal(gpio_open_recording(&gc, mono, NULL, &g, NULL), 0);
    sg_ms t0 = sg_clock_mono_ms();
    gpio_script_status(g, t0 + 1300, true);   /* comes on 1.3 s into the pulse */

    struct modem_port_cbs cbs = {.state = on_state};
    struct modem_port_cfg cfg = {.id = "t2", .path = f.slave_path,
                                 .vendor = modem_vendor_by_name("sim800"), .gpio = g,
                                 .csq_interval_ms = -1};
    struct modem_port *p;
    assert_int_equal(modem_port_new(&cfg, &cbs, &f, &p, NULL), 0);
    modem_port_start(p, t0);
    assert_int_equal(modem_port_state(p), MODEM_POWERING);
    assert_true(pump(&f, p, is_ready, 10000));
    size_t n;
    const struct gpio_trace_entry *tr = gpio_trace(g, &n);
    assert_int_equal(n, 2);
    assert_true(tr[0].role == GPIO_PWRKEY && tr[0].asserted);
    assert_true(!tr[1].asserted && tr[1].at - tr[0].at >= 1100 && tr[1].at - tr[0].at < 1600);
    /* no AT before the module was on */
    assert_true(f.ncmds > 0);
    assert_true(f.first_cmd_at >= t0 + 1300);
    modem_port_free(p);
    gpio_close(g);
    close(f.master);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_port_on_pty),
        cmocka_unit_test(test_port_powers_on_at_start),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
