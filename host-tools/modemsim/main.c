/*
 * modemsim: a simulated GSM modem on a pseudo-terminal.
 *
 * main reads in a straight line: options into one config, open the pty and
 * the control socket, then one poll() loop that moves bytes between the pty
 * and the engine (ms_modem), runs its timers, and serves control clients.
 * Everything the modem decides is in ms_modem/ms_cmds/ms_sms; the control
 * protocol is in ms_ctl.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "drivers/base/sg_clock.h"
#include "host-tools/modemsim/ms_ctl.h"
#include "host-tools/modemsim/ms_modem.h"
#include "host-tools/modemsim/ms_profile.h"

#define CLIENTS_MAX 8

struct opts {
    const char *profile, *link, *control, *log;
    bool verbose;
    struct ms_config mc;
};

struct client {
    int fd;
    char buf[MS_CTL_LINE_MAX + 2];
    size_t len;
    bool overflow;
};

struct sim {
    struct opts o;
    struct ms_modem *m;
    FILE *log;
    int master, slave; /* -1 while unplugged */
    char slave_path[128];
    int listen_fd;
    struct client clients[CLIENTS_MAX];
    uint8_t wbuf[4096]; /* output taken from the engine, not yet written */
    size_t wlen, woff;
    sg_ms replug_at;
    bool quit;
};

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
    got_signal = sig;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("modemsim: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: modemsim --profile sim800|sim7600|ec25|huawei [--link PATH] [--control SOCKET]\n"
        "                [--log FILE] [options]\n"
        "\n"
        "Plays a GSM modem on a new pseudo-terminal and prints the slave path (one line,\n"
        "flushed) on stdout; a new line follows each replug. The modem boots (input is\n"
        "dropped for --boot-ms), prints its profile's ready URCs, echoes until ATE0, and\n"
        "answers identity, SIM, network and SMS commands (PDU mode) like the real module.\n"
        "Every PDU the host sends with AT+CMGS is logged to --log as one JSON line:\n"
        "  {\"t\":unix_ms,\"profile\":..,\"pdu\":hex,\"len\":n,\"mr\":n|null,\"result\":\"ok|cms "
        "N|reboot|cancel\",\"cmgs_us\":unix_us}\n"
        "(t: the PDU's Ctrl-Z; cmgs_us: the read() that brought the first byte of its\n"
        "AT+CMGS= line, or a later one when that byte waited behind a slow reply)\n"
        "\n"
        "  --profile NAME        modem to play: %s\n"
        "  --link PATH           symlink to the pty slave (re-pointed on replug)\n"
        "  --control SOCKET      Unix socket for runtime faults and injection (below)\n"
        "  --log FILE            append the PDU log here\n"
        "  --seed N              seed of every random choice (default 1)\n"
        "  --boot-ms N           dead time after power-on/reset (default 300)\n"
        "  --reg-ms N            SIM ready to registered (default 200)\n"
        "  --rssi N              CSQ while registered, 0..31 (default 20)\n"
        "  --smsc NUMBER         +CSCA (default +33689004000)\n"
        "  --sr-delay-ms N       +CMGS to status report (default 1000)\n"
        "  --sr-status N         TP-ST of status reports (default 0 = delivered)\n"
        "  --urc-period-ms N     Huawei ^RSSI period (default 2000)\n"
        "  --mr-start N          first TP-MR handed out, 0..255 (default 0; it wraps at 255)\n"
        "  --prompt STYLE        AT+CMGS prompt: 'space' = CR LF '> ' (every profile's),\n"
        "                        'crlf' = CR LF '>' CR LF (SIMCom SIM7670G, gammu #1176)\n"
        "  --urc-crcrlf          end URCs with CR CR LF (a SIM7600 quirk, REFERENCE §6-7)\n"
        "  --cnma-timeout-ms N   CSMS=1: unacknowledged +CMT resets CNMI (default 15000)\n"
        "faults (also at runtime through the control socket):\n"
        "  --latency-ms N        delay before every reply\n"
        "  --cmgs-latency-ms N   Ctrl-Z to +CMGS (default 50)\n"
        "  --cms-error CODE      code of injected +CMS ERRORs (default 500)\n"
        "  --cms-rate R          share 0..1 of valid sends that fail with it\n"
        "  --cms-count N         the next N valid sends fail with it\n"
        "  --garbage-rate R      share 0..1 of replies preceded by random bytes\n"
        "  --lose-ok N           drop the final OK of the next N commands\n"
        "  --reboot-mid-send     the first send reboots the modem half way through its PDU\n"
        "  --silent              answer nothing until {\"cmd\":\"resume\"}\n"
        "  --sim-missing         no SIM: +CPIN ERROR (CME 10), no registration\n"
        "  --pin PIN [--puk PUK] the SIM asks for PIN (3 tries, then PUK; default PUK 12345678)\n"
        "  --no-network          the network is absent (CREG 2) until network_regained\n"
        "  --verbose             trace every byte in and out on stderr\n"
        "\n%s"
        "\nExit: 0 on SIGINT/SIGTERM or quit, 1 on a start-up error.\n",
        ms_profile_names(), ms_ctl_help());
}

static long num_arg(const char *name, const char *v, long lo, long hi)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || *end || n < lo || n > hi)
        die("%s: expected a number in %ld..%ld, got '%s'", name, lo, hi, v);
    return n;
}

static double rate_arg(const char *name, const char *v)
{
    char *end;
    double d = strtod(v, &end);
    if (*end || d < 0 || d > 1)
        die("%s: expected a number in 0..1, got '%s'", name, v);
    return d;
}

enum {
    O_BOOT = 256,
    O_MR_START,
    O_PROMPT,
    O_CMGS_LAT,
    O_CMS_COUNT,
    O_CMS_ERROR,
    O_CMS_RATE,
    O_CNMA,
    O_GARBAGE,
    O_LAT,
    O_LOSE_OK,
    O_NO_NET,
    O_PIN,
    O_PUK,
    O_REBOOT,
    O_REG,
    O_RSSI,
    O_SEED,
    O_SILENT,
    O_SIM_MISSING,
    O_SMSC,
    O_SR_DELAY,
    O_SR_STATUS,
    O_URC_CRCRLF,
    O_URC_PERIOD,
};

static void parse_opts(int argc, char **argv, struct opts *o)
{
    static const struct option lo[] = {
        {"boot-ms", required_argument, NULL, O_BOOT},
        {"cmgs-latency-ms", required_argument, NULL, O_CMGS_LAT},
        {"cms-count", required_argument, NULL, O_CMS_COUNT},
        {"cms-error", required_argument, NULL, O_CMS_ERROR},
        {"cms-rate", required_argument, NULL, O_CMS_RATE},
        {"cnma-timeout-ms", required_argument, NULL, O_CNMA},
        {"control", required_argument, NULL, 'c'},
        {"garbage-rate", required_argument, NULL, O_GARBAGE},
        {"help", no_argument, NULL, 'h'},
        {"latency-ms", required_argument, NULL, O_LAT},
        {"link", required_argument, NULL, 'L'},
        {"log", required_argument, NULL, 'l'},
        {"lose-ok", required_argument, NULL, O_LOSE_OK},
        {"mr-start", required_argument, NULL, O_MR_START},
        {"no-network", no_argument, NULL, O_NO_NET},
        {"pin", required_argument, NULL, O_PIN},
        {"profile", required_argument, NULL, 'p'},
        {"prompt", required_argument, NULL, O_PROMPT},
        {"puk", required_argument, NULL, O_PUK},
        {"reboot-mid-send", no_argument, NULL, O_REBOOT},
        {"reg-ms", required_argument, NULL, O_REG},
        {"rssi", required_argument, NULL, O_RSSI},
        {"seed", required_argument, NULL, O_SEED},
        {"silent", no_argument, NULL, O_SILENT},
        {"sim-missing", no_argument, NULL, O_SIM_MISSING},
        {"smsc", required_argument, NULL, O_SMSC},
        {"sr-delay-ms", required_argument, NULL, O_SR_DELAY},
        {"sr-status", required_argument, NULL, O_SR_STATUS},
        {"urc-crcrlf", no_argument, NULL, O_URC_CRCRLF},
        {"urc-period-ms", required_argument, NULL, O_URC_PERIOD},
        {"verbose", no_argument, NULL, 'v'},
        {NULL, 0, NULL, 0},
    };
    struct ms_config *c = &o->mc;
    c->seed = 1;
    c->boot_ms = 300;
    c->reg_ms = 200;
    c->sr_delay_ms = 1000;
    c->urc_period_ms = 2000;
    c->cnma_timeout_ms = 15000;
    c->rssi = 20;
    c->mr_start = -1;
    c->faults.cmgs_latency_ms = 50;
    c->faults.cms_code = 500;
    const long day = 86400000L;
    int ch;
    while ((ch = getopt_long(argc, argv, "c:hL:l:p:v", lo, NULL)) != -1) {
        switch (ch) {
        case 'c':
            o->control = optarg;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        case 'L':
            o->link = optarg;
            break;
        case 'l':
            o->log = optarg;
            break;
        case 'p':
            o->profile = optarg;
            break;
        case 'v':
            o->verbose = true;
            break;
        case O_BOOT:
            c->boot_ms = num_arg("--boot-ms", optarg, 0, day);
            break;
        case O_CMGS_LAT:
            c->faults.cmgs_latency_ms = num_arg("--cmgs-latency-ms", optarg, 0, day);
            break;
        case O_CMS_COUNT:
            c->faults.cms_count = (unsigned)num_arg("--cms-count", optarg, 0, 1000000);
            break;
        case O_CMS_ERROR:
            c->faults.cms_code = (int)num_arg("--cms-error", optarg, 0, 999);
            break;
        case O_CMS_RATE:
            c->faults.cms_rate = rate_arg("--cms-rate", optarg);
            break;
        case O_CNMA:
            c->cnma_timeout_ms = num_arg("--cnma-timeout-ms", optarg, 1, day);
            break;
        case O_GARBAGE:
            c->faults.garbage_rate = rate_arg("--garbage-rate", optarg);
            break;
        case O_LAT:
            c->faults.latency_ms = num_arg("--latency-ms", optarg, 0, day);
            break;
        case O_LOSE_OK:
            c->faults.lose_ok = (unsigned)num_arg("--lose-ok", optarg, 0, 1000000);
            break;
        case O_MR_START:
            c->mr_start = (int)num_arg("--mr-start", optarg, 0, 255);
            break;
        case O_NO_NET:
            c->no_network = true;
            break;
        case O_PROMPT:
            if (strcmp(optarg, "space") == 0)
                c->prompt = "\r\n> ";
            else if (strcmp(optarg, "crlf") == 0)
                c->prompt = "\r\n>\r\n";
            else
                die("--prompt: 'space' or 'crlf', got '%s'", optarg);
            break;
        case O_PIN:
            c->pin = optarg;
            break;
        case O_PUK:
            c->puk = optarg;
            break;
        case O_REBOOT:
            c->faults.reboot_mid_send = true;
            break;
        case O_REG:
            c->reg_ms = num_arg("--reg-ms", optarg, 0, day);
            break;
        case O_RSSI:
            c->rssi = (int)num_arg("--rssi", optarg, 0, 31);
            break;
        case O_SEED:
            c->seed = (uint64_t)num_arg("--seed", optarg, 0, 0x7FFFFFFFL);
            break;
        case O_SILENT:
            c->faults.silent = true;
            break;
        case O_SIM_MISSING:
            c->sim_missing = true;
            break;
        case O_SMSC:
            c->smsc = optarg;
            break;
        case O_SR_DELAY:
            c->sr_delay_ms = num_arg("--sr-delay-ms", optarg, 0, day);
            break;
        case O_SR_STATUS:
            c->sr_status = (int)num_arg("--sr-status", optarg, 0, 255);
            break;
        case O_URC_CRCRLF:
            c->urc_crcrlf = true;
            break;
        case O_URC_PERIOD:
            c->urc_period_ms = num_arg("--urc-period-ms", optarg, 10, day);
            break;
        default:
            usage(stderr);
            exit(1);
        }
    }
    if (optind < argc)
        die("unexpected argument '%s' (see --help)", argv[optind]);
    if (!o->profile)
        die("--profile is required (%s)", ms_profile_names());
    c->prof = ms_profile_find(o->profile);
    if (!c->prof)
        die("unknown profile '%s' (%s)", o->profile, ms_profile_names());
    if (c->pin && (strlen(c->pin) < 4 || strlen(c->pin) > 8))
        die("--pin: 4 to 8 digits");
}

/* ------------------------------------------------------------ pty */

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* Re-points the link atomically: a host that reopens by path never sees it
 * missing while we are plugged. */
static int point_link(const char *link, const char *target)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp%ld", link, (long)getpid());
    unlink(tmp);
    if (symlink(target, tmp) < 0)
        return -1;
    if (rename(tmp, link) < 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

static int plug(struct sim *s)
{
    int fd = posix_openpt(O_RDWR | O_NOCTTY);
    if (fd < 0 || grantpt(fd) < 0 || unlockpt(fd) < 0 || set_nonblock(fd) < 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    const char *name = ptsname(fd);
    if (!name) {
        close(fd);
        return -1;
    }
    snprintf(s->slave_path, sizeof(s->slave_path), "%s", name);
    /* Holding the slave open ourselves keeps the master from reading EIO
     * between two host sessions; raw mode so the line discipline neither
     * echoes nor turns CR into LF before a host configures the port. */
    int sl = open(s->slave_path, O_RDWR | O_NOCTTY);
    if (sl < 0) {
        close(fd);
        return -1;
    }
    struct termios t;
    if (tcgetattr(sl, &t) == 0) {
        cfmakeraw(&t);
        cfsetspeed(&t, B115200);
        tcsetattr(sl, TCSANOW, &t);
    }
    s->master = fd;
    s->slave = sl;
    s->wlen = s->woff = 0;
    if (s->o.link && point_link(s->o.link, s->slave_path) < 0) {
        fprintf(stderr, "modemsim: link %s: %s\n", s->o.link, strerror(errno));
        return -1;
    }
    printf("%s\n", s->slave_path);
    fflush(stdout);
    return 0;
}

static void unplug(struct sim *s)
{
    if (s->master >= 0)
        close(s->master);
    if (s->slave >= 0)
        close(s->slave);
    s->master = s->slave = -1;
    s->wlen = s->woff = 0;
    ms_modem_discard_output(s->m);
}

/* ------------------------------------------------------------ callbacks */

static void log_line(void *ctx, const char *line)
{
    struct sim *s = ctx;
    if (s->log) {
        fprintf(s->log, "%s\n", line);
        fflush(s->log);
    }
}

static void trace_line(void *ctx, const char *dir, const char *p, size_t n)
{
    (void)ctx;
    fprintf(stderr, "modemsim: %-3s ", dir);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '\r')
            fputs("\\r", stderr);
        else if (c == '\n')
            fputs("\\n", stderr);
        else if (c < 0x20 || c >= 0x7F)
            fprintf(stderr, "\\x%02X", c);
        else
            fputc(c, stderr);
    }
    fputc('\n', stderr);
}

/* ------------------------------------------------------------ control socket */

static int open_control(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path))
        die("--control: path longer than %zu bytes", sizeof(sa.sun_path) - 1);
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket: %s", strerror(errno));
    unlink(path);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0)
        die("--control %s: %s", path, strerror(errno));
    return fd;
}

static void client_close(struct client *c)
{
    close(c->fd);
    c->fd = -1;
    c->len = 0;
    c->overflow = false;
}

static void do_action(struct sim *s, const struct ms_ctl_result *r, sg_ms now)
{
    switch (r->action) {
    case MS_CTL_UNPLUG:
        unplug(s);
        s->replug_at = r->replug_after_ms > 0 ? now + r->replug_after_ms : SG_MS_NEVER;
        break;
    case MS_CTL_REPLUG:
        s->replug_at = now;
        break;
    case MS_CTL_QUIT:
        s->quit = true;
        break;
    case MS_CTL_NONE:
        break;
    }
}

static void client_line(struct sim *s, struct client *c, const char *line, size_t n, sg_ms now)
{
    struct ms_ctl_result r;
    char *rep = ms_ctl_handle(s->m, line, n, s->master >= 0, now, &r);
    if (rep) {
        size_t len = strlen(rep);
        rep[len] = '\0';
        /* Replies are small; a client that does not read them loses them. */
        if (send(c->fd, rep, len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 ||
            send(c->fd, "\n", 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
            /* nothing to do: the client is gone or stuck */
        }
        free(rep);
    }
    do_action(s, &r, now);
}

static void client_read(struct sim *s, struct client *c, sg_ms now)
{
    ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len, 0);
    if (n <= 0) {
        if (n == 0 || (errno != EAGAIN && errno != EINTR))
            client_close(c);
        return;
    }
    c->len += (size_t)n;
    size_t start = 0;
    for (size_t i = 0; i < c->len; i++) {
        if (c->buf[i] != '\n')
            continue;
        if (c->overflow)
            c->overflow = false; /* the tail of an over-long request: skip it */
        else
            client_line(s, c, c->buf + start, i - start, now);
        start = i + 1;
        if (c->fd < 0)
            return;
    }
    memmove(c->buf, c->buf + start, c->len - start);
    c->len -= start;
    if (c->len >= sizeof(c->buf) - 1) {
        client_line(s, c, c->buf, c->len, now); /* answers "too long" */
        c->len = 0;
        c->overflow = true;
    }
}

static void accept_client(struct sim *s)
{
    int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return;
    for (size_t i = 0; i < CLIENTS_MAX; i++) {
        if (s->clients[i].fd < 0) {
            s->clients[i].fd = fd;
            s->clients[i].len = 0;
            return;
        }
    }
    close(fd); /* full: the client sees EOF */
}

/* ------------------------------------------------------------ loop */

static void pump_out(struct sim *s)
{
    if (s->master < 0) {
        ms_modem_discard_output(s->m);
        return;
    }
    for (;;) {
        if (s->woff == s->wlen) {
            s->wlen = ms_modem_take_output(s->m, s->wbuf, sizeof(s->wbuf));
            s->woff = 0;
            if (s->wlen == 0)
                return;
        }
        ssize_t n = write(s->master, s->wbuf + s->woff, s->wlen - s->woff);
        if (n <= 0)
            return; /* EAGAIN: nobody reads the slave; retry on POLLOUT */
        s->woff += (size_t)n;
    }
}

/* SIGINT/SIGTERM stay blocked except inside ppoll, so a signal that comes
 * between the flag check and the wait still ends the wait. */
static void loop(struct sim *s, const sigset_t *waitmask)
{
    while (!s->quit && !got_signal) {
        sg_ms now = sg_clock_mono_ms();
        if (s->master < 0 && s->replug_at <= now) {
            if (plug(s) < 0)
                die("replug: %s", strerror(errno));
            s->replug_at = SG_MS_NEVER;
            ms_modem_reboot(s->m, now);
        }
        ms_modem_tick(s->m, now);
        pump_out(s);

        struct pollfd p[2 + CLIENTS_MAX];
        size_t np = 0;
        p[np++] = (struct pollfd){.fd = s->listen_fd, .events = POLLIN};
        p[np++] = (struct pollfd){.fd = s->master,
                                  .events = (short)(POLLIN | (s->woff < s->wlen ? POLLOUT : 0))};
        for (size_t i = 0; i < CLIENTS_MAX; i++)
            p[np++] = (struct pollfd){.fd = s->clients[i].fd, .events = POLLIN};
        sg_ms deadline = ms_modem_deadline(s->m);
        if (s->replug_at < deadline)
            deadline = s->replug_at;
        struct timespec ts, *tsp = NULL;
        if (deadline != SG_MS_NEVER) {
            sg_ms wait = deadline <= now ? 0 : deadline - now;
            ts.tv_sec = (time_t)(wait / 1000);
            ts.tv_nsec = (long)(wait % 1000) * 1000000L;
            tsp = &ts;
        }
        if (ppoll(p, np, tsp, waitmask) < 0) {
            if (errno == EINTR)
                continue;
            die("poll: %s", strerror(errno));
        }
        now = sg_clock_mono_ms();
        if (s->master >= 0 && (p[1].revents & POLLIN)) {
            uint8_t buf[1024];
            ssize_t n = read(s->master, buf, sizeof(buf));
            if (n > 0) {
                struct timespec wt;
                clock_gettime(CLOCK_REALTIME, &wt);
                ms_modem_stamp_input(s->m, (int64_t)wt.tv_sec * 1000000 + wt.tv_nsec / 1000);
                ms_modem_input(s->m, buf, (size_t)n, now);
            }
        }
        if (p[0].revents & POLLIN)
            accept_client(s);
        for (size_t i = 0; i < CLIENTS_MAX; i++)
            if (s->clients[i].fd >= 0 && (p[2 + i].revents & (POLLIN | POLLHUP | POLLERR)))
                client_read(s, &s->clients[i], now);
        pump_out(s);
    }
}

int main(int argc, char **argv)
{
    struct sim *sp = calloc(1, sizeof(*sp));
    if (!sp)
        die("out of memory");
    sp->master = sp->slave = sp->listen_fd = -1;
    sp->replug_at = SG_MS_NEVER;
    for (size_t i = 0; i < CLIENTS_MAX; i++)
        sp->clients[i].fd = -1;
    parse_opts(argc, argv, &sp->o);

    if (sp->o.log) {
        sp->log = fopen(sp->o.log, "a");
        if (!sp->log)
            die("--log %s: %s", sp->o.log, strerror(errno));
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigset_t block, waitmask;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigprocmask(SIG_BLOCK, &block, &waitmask);
    signal(SIGPIPE, SIG_IGN);

    sg_ms now = sg_clock_mono_ms();
    sp->o.mc.wall_offset = sg_clock_wall_ms() - now;
    sp->o.mc.log = log_line;
    sp->o.mc.log_ctx = sp;
    sp->o.mc.trace = sp->o.verbose ? trace_line : NULL;
    sp->m = ms_modem_new(&sp->o.mc, now);
    if (!sp->m)
        die("out of memory");
    if (sp->o.control)
        sp->listen_fd = open_control(sp->o.control);
    if (plug(sp) < 0)
        die("pty: %s", strerror(errno));

    loop(sp, &waitmask);

    unplug(sp);
    for (size_t i = 0; i < CLIENTS_MAX; i++)
        if (sp->clients[i].fd >= 0)
            client_close(&sp->clients[i]);
    if (sp->listen_fd >= 0) {
        close(sp->listen_fd);
        unlink(sp->o.control);
    }
    if (sp->o.link)
        unlink(sp->o.link);
    ms_modem_free(sp->m);
    if (sp->log)
        fclose(sp->log);
    free(sp);
    return 0;
}
