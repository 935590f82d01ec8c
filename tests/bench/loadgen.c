/*
 * loadgen: submit load for simgated's benchmarks (tests/bench/run.sh).
 *
 * N threads, each with one keep-alive HTTP/1.1 connection on the daemon's
 * Unix socket, send POST /v1/messages back to back (one request in flight per
 * connection, like a backend worker) until `count` requests were sent in all.
 * Message i goes to +336<8 digits of base+i>, so every recipient differs
 * (sticky routing would otherwise pin the whole batch to one SIM).
 * Prints one JSON object: counts by outcome, elapsed time, rate of 202s,
 * per-request latency percentiles.
 *
 * Threads rather than processes: each thread only blocks in read()/write(),
 * so 8 threads on 2 cores leave the daemon most of the CPU; the client cost
 * per request (one ~120-byte write, one read) is a few microseconds.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define LG_CLIENTS_MAX 64
#define LG_RESP_MAX 8192 /* a 202 is ~60 bytes; an error object < 1 KiB */
#define LG_BODY_MAX 512

struct lg_conf {
    const char *socket;
    int clients;
    long count;
    long base;
    const char *priority;
    const char *text;
};

struct lg_thread {
    const struct lg_conf *c;
    int idx;
    pthread_t tid;
    long sent;
    long accepted; /* 202 */
    long refused;  /* any other HTTP status */
    long failed;   /* no answer (connection lost, garbled reply) */
    long reconnects;
    int first_bad_status;
    double *lat_us; /* one per request this thread sends; owned here */
    long nlat;
    char first_error[160];
};

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int lg_connect(const char *path)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sa.sun_path)
        return -ENAMETOOLONG;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (connect(fd, (const struct sockaddr *)&sa, sizeof sa) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads one response: status line, headers, a Content-Length body.
 * Returns the HTTP status, or -1 on a lost connection / unparsable reply.
 * *close_after: the server said "Connection: close". */
static int read_response(int fd, char *buf, size_t cap, bool *close_after)
{
    size_t have = 0;
    char *eoh = NULL;
    while (!eoh) {
        if (have + 1 >= cap)
            return -1;
        ssize_t r = read(fd, buf + have, cap - 1 - have);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        have += (size_t)r;
        buf[have] = '\0';
        eoh = strstr(buf, "\r\n\r\n");
    }
    /* "HTTP/1.1 202 Accepted" */
    if (strncmp(buf, "HTTP/1.", 7) != 0 || buf[8] != ' ')
        return -1;
    char *end = NULL;
    long status = strtol(buf + 9, &end, 10);
    if (end != buf + 12 || status < 100 || status > 599)
        return -1;
    long clen = -1;
    *close_after = false;
    for (char *line = strstr(buf, "\r\n") + 2; line < eoh;) {
        char *eol = strstr(line, "\r\n");
        *eol = '\0';
        if (strncasecmp(line, "Content-Length:", 15) == 0)
            clen = strtol(line + 15, NULL, 10);
        else if (strncasecmp(line, "Connection:", 11) == 0 && strcasestr(line, "close"))
            *close_after = true;
        *eol = '\r';
        line = eol + 2;
    }
    if (clen < 0)
        return -1;
    size_t want = (size_t)(eoh + 4 - buf) + (size_t)clen;
    if (want >= cap)
        return -1;
    while (have < want) {
        ssize_t r = read(fd, buf + have, want - have);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        have += (size_t)r;
    }
    buf[have] = '\0';
    return (int)status;
}

static void note_error(struct lg_thread *t, const char *what)
{
    if (!t->first_error[0])
        snprintf(t->first_error, sizeof t->first_error, "%.*s", (int)sizeof t->first_error - 1,
                 what);
}

static void *lg_run(void *arg)
{
    struct lg_thread *t = arg;
    const struct lg_conf *c = t->c;
    char body[LG_BODY_MAX], req[LG_BODY_MAX + 256], resp[LG_RESP_MAX];
    int fd = -1;
    for (long i = t->idx; i < c->count; i += c->clients) {
        if (fd < 0) {
            fd = lg_connect(c->socket);
            if (fd < 0) {
                note_error(t, strerror(-fd));
                t->failed++;
                continue;
            }
            t->reconnects++;
        }
        long num = (c->base + i) % 100000000L;
        int bn = snprintf(body, sizeof body,
                          "{\"to\":\"+336%08ld\",\"text\":\"%s %ld\",\"priority\":\"%s\"}", num,
                          c->text, i, c->priority);
        int rn = snprintf(req, sizeof req,
                          "POST /v1/messages HTTP/1.1\r\nHost: localhost\r\n"
                          "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
                          bn, body);
        double t0 = now_us();
        bool close_after = false;
        int st = -1;
        if (write_all(fd, req, (size_t)rn) == 0)
            st = read_response(fd, resp, sizeof resp, &close_after);
        t->sent++;
        t->lat_us[t->nlat++] = now_us() - t0;
        if (st == 202) {
            t->accepted++;
        } else if (st > 0) {
            t->refused++;
            if (!t->first_bad_status) {
                t->first_bad_status = st;
                const char *b = strstr(resp, "\r\n\r\n");
                note_error(t, b ? b + 4 : resp);
            }
        } else {
            t->failed++;
            note_error(t, "connection lost or unparsable reply");
            close_after = true;
        }
        if (close_after) {
            close(fd);
            fd = -1;
        }
    }
    if (fd >= 0)
        close(fd);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(const double *v, long n, double p)
{
    if (n == 0)
        return 0;
    long k = (long)(p / 100.0 * (double)(n - 1) + 0.5);
    return v[k];
}

static void json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            printf("\\%c", ch);
        else if (ch < 0x20)
            printf("\\u%04x", ch);
        else
            putchar(ch);
    }
    putchar('"');
}

static void usage(FILE *f)
{
    fprintf(f, "usage: loadgen --socket PATH [--base N] [--clients N] [--count N]\n"
               "               [--priority otp|urgent|normal|bulk] [--text T]\n"
               "Sends COUNT POST /v1/messages over CLIENTS keep-alive connections (one\n"
               "thread each, one request in flight each) and prints one JSON object.\n"
               "Exit: 0 when every request got an HTTP answer, 1 otherwise, 2 usage.\n");
}

static int parse_args(int argc, char **argv, struct lg_conf *c)
{
    static const struct option opts[] = {
        {"base", required_argument, NULL, 'b'},     {"clients", required_argument, NULL, 'c'},
        {"count", required_argument, NULL, 'n'},    {"help", no_argument, NULL, 'h'},
        {"priority", required_argument, NULL, 'p'}, {"socket", required_argument, NULL, 's'},
        {"text", required_argument, NULL, 't'},     {NULL, 0, NULL, 0},
    };
    *c = (struct lg_conf){.clients = 8, .count = 1000, .priority = "bulk", .text = "bench"};
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'b': c->base = strtol(optarg, NULL, 10); break;
        case 'c': c->clients = (int)strtol(optarg, NULL, 10); break;
        case 'n': c->count = strtol(optarg, NULL, 10); break;
        case 'p': c->priority = optarg; break;
        case 's': c->socket = optarg; break;
        case 't': c->text = optarg; break;
        case 'h': usage(stdout); exit(0);
        default: return -1;
        }
    }
    if (!c->socket || c->clients < 1 || c->clients > LG_CLIENTS_MAX || c->count < 1 ||
        c->base < 0 || strlen(c->text) > 200 || strpbrk(c->text, "\"\\"))
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    struct lg_conf c;
    if (parse_args(argc, argv, &c) < 0) {
        usage(stderr);
        return 2;
    }
    static struct lg_thread th[LG_CLIENTS_MAX];
    long per = c.count / c.clients + 1;
    for (int i = 0; i < c.clients; i++) {
        th[i] = (struct lg_thread){.c = &c, .idx = i};
        th[i].lat_us = calloc((size_t)per, sizeof(double));
        if (!th[i].lat_us) {
            fprintf(stderr, "loadgen: out of memory\n");
            return 1;
        }
    }
    double t0 = now_us();
    for (int i = 0; i < c.clients; i++) {
        if (pthread_create(&th[i].tid, NULL, lg_run, &th[i]) != 0) {
            fprintf(stderr, "loadgen: pthread_create failed\n");
            return 1;
        }
    }
    for (int i = 0; i < c.clients; i++)
        pthread_join(th[i].tid, NULL);
    double elapsed = (now_us() - t0) / 1e6;

    long sent = 0, acc = 0, ref = 0, fail = 0, rec = 0, nl = 0;
    int bad = 0;
    const char *err = "";
    for (int i = 0; i < c.clients; i++) {
        sent += th[i].sent;
        acc += th[i].accepted;
        ref += th[i].refused;
        fail += th[i].failed;
        rec += th[i].reconnects;
        nl += th[i].nlat;
        if (!bad && th[i].first_bad_status)
            bad = th[i].first_bad_status;
        if (!err[0] && th[i].first_error[0])
            err = th[i].first_error;
    }
    double *lat = calloc((size_t)nl + 1, sizeof(double));
    if (!lat) {
        fprintf(stderr, "loadgen: out of memory\n");
        return 1;
    }
    long k = 0;
    for (int i = 0; i < c.clients; i++) {
        memcpy(lat + k, th[i].lat_us, (size_t)th[i].nlat * sizeof(double));
        k += th[i].nlat;
        free(th[i].lat_us);
    }
    qsort(lat, (size_t)nl, sizeof(double), cmp_double);
    printf("{\"clients\":%d,\"sent\":%ld,\"accepted\":%ld,\"refused\":%ld,\"failed\":%ld,"
           "\"connections\":%ld,\"first_bad_status\":%d,\"elapsed_s\":%.3f,\"rate\":%.1f,"
           "\"lat_p50_ms\":%.3f,\"lat_p99_ms\":%.3f,\"lat_max_ms\":%.3f,\"first_error\":",
           c.clients, sent, acc, ref, fail, rec, bad, elapsed, elapsed > 0 ? (double)acc / elapsed : 0,
           pct(lat, nl, 50) / 1e3, pct(lat, nl, 99) / 1e3, pct(lat, nl, 100) / 1e3);
    json_str(err);
    printf("}\n");
    free(lat);
    return fail == 0 ? 0 : 1;
}
