/*
 * cli: see cli.h.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "host-tools/simgate/cli.h"
#include "host-tools/simgate/table.h"

void cli_init(struct cli *k, const char *cmd, const char *help, const struct simgate_opts *g)
{
    memset(k, 0, sizeof(*k));
    k->cmd = cmd;
    k->help = help;
    k->o = *g;
}

int cli_usage(const struct cli *k, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "simgate %s: ", k->cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see simgate %s --help)\n", k->cmd);
    return SIMGATE_EXIT_USAGE;
}

int cli_common_opt(struct cli *k, int id, const char *arg, char *const *argv)
{
    switch (id) {
    case CLI_OPT_HELP:
        fputs(k->help, stdout);
        k->exit = SIMGATE_EXIT_OK;
        return CLI_OPT_STOP;
    case CLI_OPT_JSON:
        k->o.json = true;
        return CLI_OPT_NEXT;
    case CLI_OPT_SOCKET:
        k->o.socket = arg;
        return CLI_OPT_NEXT;
    case '?':
    case ':':
        k->exit = cli_usage(k, "unknown option or missing value: %s", argv[optind - 1]);
        return CLI_OPT_STOP;
    default:
        return CLI_OPT_OWN;
    }
}

int cli_parse(struct cli *k, int argc, char **argv, const struct option *opts, cli_own_fn own,
              void *ud)
{
    int id;
    optind = 0; /* glibc: full re-initialisation (main parsed its own) */
    opterr = 0;
    while ((id = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        int r = cli_common_opt(k, id, optarg, argv);
        if (r == CLI_OPT_STOP)
            return k->exit;
        if (r == CLI_OPT_NEXT)
            continue;
        int rc = own ? own(k, ud, id, optarg) : cli_usage(k, "unexpected option");
        if (rc)
            return rc;
    }
    return -1;
}

int cli_args(const struct cli *k, int argc, char **argv, int min, int max)
{
    int n = argc - optind;
    if (n < min)
        return cli_usage(k, "missing argument");
    if (n > max)
        return cli_usage(k, "unexpected argument \"%s\"", argv[optind + max]);
    return -1;
}

int cli_open(struct cli *k)
{
    struct sg_err err = {0};
    if (!k->o.socket || !k->o.socket[0]) {
        fprintf(stderr, "simgate: --socket needs a path\n");
        return SIMGATE_EXIT_USAGE;
    }
    if (client_new(k->o.socket, &k->c, &err) < 0) {
        fprintf(stderr, "simgate: %s\n", err.msg);
        return SIMGATE_EXIT_FAILURE;
    }
    return SIMGATE_EXIT_OK;
}

void cli_close(struct cli *k)
{
    client_free(k->c);
    k->c = NULL;
}

int cli_request(struct cli *k, const char *method, const char *path, const json_t *body,
                const char *idem_key, long timeout_ms, struct client_resp *r)
{
    struct sg_err err = {0};
    int rc = client_request(k->c, method, path, body, idem_key, timeout_ms, r, &err);
    if (rc == 0)
        return SIMGATE_EXIT_OK;
    if (rc == -ENOENT || rc == -ECONNREFUSED)
        fprintf(stderr, "simgate: cannot reach simgated: %s (is it running? set --socket or %s)\n",
                err.msg, SIMGATE_SOCKET_ENV);
    else
        fprintf(stderr, "simgate: cannot reach simgated: %s\n", err.msg);
    return SIMGATE_EXIT_FAILURE;
}

int cli_api_error(const struct cli *k, const struct client_resp *r)
{
    const char *code, *msg, *field;
    if (r->body && client_error_parts(r->body, &code, &msg, &field) == 0) {
        if (field)
            fprintf(stderr, "simgate: %s: %s (field: %s)\n", code, msg, field);
        else
            fprintf(stderr, "simgate: %s: %s\n", code, msg);
    } else {
        fprintf(stderr, "simgate: http_%ld: the daemon answered HTTP %ld without an error object\n",
                r->status, r->status);
    }
    if (k->o.json && r->body)
        cli_print_json(r->body);
    return r->status == 503 ? SIMGATE_EXIT_UNHEALTHY : SIMGATE_EXIT_BAD_INPUT;
}

int cli_call(struct cli *k, const char *method, const char *path, const json_t *body,
             const char *idem_key, long timeout_ms, json_t **out)
{
    struct client_resp r;
    *out = NULL;
    int rc = cli_request(k, method, path, body, idem_key, timeout_ms, &r);
    if (rc)
        return rc;
    if (r.status < 200 || r.status > 299) {
        rc = cli_api_error(k, &r);
        client_resp_clear(&r);
        return rc;
    }
    if (!r.body) {
        fprintf(stderr, "simgate: cannot reach simgated: HTTP %ld answer has no body\n", r.status);
        return SIMGATE_EXIT_FAILURE;
    }
    *out = r.body;
    return SIMGATE_EXIT_OK;
}

int cli_last_seq(struct cli *k, long long *seq)
{
    struct client_resp r;
    *seq = -1;
    int rc = cli_request(k, "GET", "/v1/health", NULL, NULL, CLI_TIMEOUT_MS, &r);
    if (rc)
        return rc;
    const json_t *v = json_object_get(r.body, "last_event_seq");
    if ((r.status == 200 || r.status == 503) && json_is_integer(v))
        *seq = (long long)json_integer_value(v);
    else if (r.status != 200 && r.status != 503)
        rc = cli_api_error(k, &r);
    client_resp_clear(&r);
    return rc;
}

void cli_kv_line(json_t *obj, char *buf, size_t n)
{
    size_t len = 0;
    const char *key;
    const json_t *v;
    buf[0] = '\0';
    json_object_foreach(obj, key, v)
    {
        char num[32];
        char *dump = NULL;
        const char *val = cli_cell(obj, key, num, sizeof(num));
        if (json_is_null(v))
            val = "null";
        else if (!val)
            val = dump = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        bool quote = json_is_string(v) && (!*val || strpbrk(val, " \t\"=") != NULL);
        int w = snprintf(buf + len, n - len, "%s%s=%s%s%s", len ? " " : "", key, quote ? "\"" : "",
                         val ? val : "?", quote ? "\"" : "");
        free(dump);
        if (w < 0 || (size_t)w >= n - len) {
            buf[len] = '\0';
            return;
        }
        len += (size_t)w;
    }
}

void cli_print_json(const json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    if (s) {
        puts(s);
        free(s);
    }
    fflush(stdout);
}

const char *cli_cell(const json_t *o, const char *key, char *buf, size_t n)
{
    const json_t *v = json_object_get(o, key);
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v)) {
        snprintf(buf, n, "%lld", (long long)json_integer_value(v));
        return buf;
    }
    if (json_is_real(v)) {
        snprintf(buf, n, "%g", json_real_value(v));
        return buf;
    }
    if (json_is_true(v))
        return "yes";
    if (json_is_false(v))
        return "no";
    return NULL;
}

int cli_table(const json_t *arr, const struct cli_col *cols, size_t ncols)
{
    const char *headers[TABLE_COLS_MAX] = {0};
    if (ncols > TABLE_COLS_MAX)
        ncols = TABLE_COLS_MAX;
    for (size_t c = 0; c < ncols; c++)
        headers[c] = cols[c].header;
    struct table *t = table_new(headers, ncols);
    if (!t)
        goto oom;
    for (size_t c = 0; c < ncols; c++)
        if (cols[c].cap)
            table_cap(t, c, cols[c].cap);
    size_t i;
    const json_t *row;
    json_array_foreach(arr, i, row)
    {
        const char *cell[TABLE_COLS_MAX];
        char buf[TABLE_COLS_MAX][32];
        for (size_t c = 0; c < ncols; c++) {
            cell[c] = cli_cell(row, cols[c].key, buf[c], sizeof(buf[c]));
            if (!cell[c])
                cell[c] = cols[c].null_as;
        }
        if (table_add(t, cell) < 0)
            goto oom;
    }
    table_print(t, stdout);
    table_free(t);
    return SIMGATE_EXIT_OK;
oom:
    table_free(t);
    fprintf(stderr, "simgate: out of memory\n");
    return SIMGATE_EXIT_FAILURE;
}

int cli_parse_int(const char *s, long long min, long long max, long long *out)
{
    if (!s || !*s || (*s != '-' && (*s < '0' || *s > '9')))
        return -EINVAL;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -EINVAL;
    *out = v;
    return 0;
}

int cli_since(const char *arg, char *out, size_t n)
{
    static const struct {
        char unit;
        long long ms;
    } units[] = {{'s', 1000}, {'m', 60000}, {'h', 3600000}, {'d', 86400000}};
    size_t len = strlen(arg);
    if (len >= 2 && len <= 10) {
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
            if (arg[len - 1] != units[i].unit)
                continue;
            char num[12];
            memcpy(num, arg, len - 1);
            num[len - 1] = '\0';
            long long v;
            if (cli_parse_int(num, 0, 999999999, &v) < 0)
                break;
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            long long now = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
            if (v > now / units[i].ms)
                return -EINVAL;
            snprintf(out, n, "%lld", now - v * units[i].ms);
            return 0;
        }
    }
    snprintf(out, n, "%s", arg);
    return 0;
}

char *cli_read_stdin(size_t *len)
{
    char *buf = malloc(CLI_STDIN_TEXT_MAX + 1);
    if (!buf)
        return NULL;
    size_t n = fread(buf, 1, CLI_STDIN_TEXT_MAX + 1, stdin);
    if (n > CLI_STDIN_TEXT_MAX || ferror(stdin)) {
        free(buf);
        return NULL;
    }
    if (n > 0 && buf[n - 1] == '\n')
        n--;
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}
