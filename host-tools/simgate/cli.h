/*
 * cli: what every API command of the simgate tool shares: the common
 * options (--help, --json, --socket), the connection, calling the API with
 * the tool's error line and exit statuses, JSON lines and table cells.
 *
 * This is tool code: it prints to stdout/stderr and returns exit statuses
 * (SIMGATE_EXIT_*); the library part is client.c.
 */
#ifndef SG_SIMGATE_CLI_H
#define SG_SIMGATE_CLI_H

#include <jansson.h>
#include <stddef.h>

#include "host-tools/simgate/client.h"
#include "host-tools/simgate/simgate.h"

#define CLI_TIMEOUT_MS 30000L

/* The common options in a command's --help. */
#define CLI_COMMON_OPTS_HELP                                                                       \
    "  --json         print the API's JSON instead of text (one object per line)\n"                \
    "  --socket PATH  the daemon's API socket (default: $SIMGATE_SOCKET, else\n"                   \
    "                 " SIMGATE_SOCKET_DEFAULT ")\n"
/* Their rows in a command's getopt table (keep each table sorted). */
#define CLI_OPT_ROW_HELP                                                                           \
    {                                                                                              \
        "help", no_argument, NULL, CLI_OPT_HELP                                                    \
    }
#define CLI_OPT_ROW_JSON                                                                           \
    {                                                                                              \
        "json", no_argument, NULL, CLI_OPT_JSON                                                    \
    }
#define CLI_OPT_ROW_SOCKET                                                                         \
    {                                                                                              \
        "socket", required_argument, NULL, CLI_OPT_SOCKET                                          \
    } /* one ordinary request, connect included */

/* getopt_long ids of the common options. */
enum { CLI_OPT_HELP = 'h', CLI_OPT_JSON = 0x100, CLI_OPT_SOCKET, CLI_OPT_FIRST_FREE };

struct cli {
    const char *cmd;       /* command name, for messages */
    const char *help;      /* the command's --help text */
    struct simgate_opts o; /* global options with the command's overrides */
    struct client *c;      /* after cli_open */
    int exit;              /* status to return after CLI_OPT_STOP */
};

/* Fills k from the global options. */
void cli_init(struct cli *k, const char *cmd, const char *help, const struct simgate_opts *g);

/* Handles one getopt_long result if it is a common option or an error:
 * CLI_OPT_OWN: id is the command's own option; CLI_OPT_NEXT: handled, go
 * on; CLI_OPT_STOP: return k->exit now (0 after --help, 2 after a usage
 * error). argv is the command's (for the offending word). */
enum { CLI_OPT_OWN = -1, CLI_OPT_NEXT = 0, CLI_OPT_STOP = 1 };
int cli_common_opt(struct cli *k, int id, const char *arg, char *const *argv);

/* A command's own option: returns 0, or an exit status (after printing). */
struct option;
typedef int (*cli_own_fn)(struct cli *k, void *ud, int id, const char *arg);
/* getopt_long over argv (argv[0] = the command's name; options may follow
 * positional arguments). Common options are handled here, the others go
 * to own (may be NULL). Returns -1 when parsing went through (positional
 * arguments are argv[optind..]), else the exit status to return now. */
int cli_parse(struct cli *k, int argc, char **argv, const struct option *opts, cli_own_fn own,
              void *ud);
/* Checks that there are min..max positional arguments left; returns -1
 * when so, else SIMGATE_EXIT_USAGE after saying why. */
int cli_args(const struct cli *k, int argc, char **argv, int min, int max);

/* "simgate CMD: <why> (see simgate CMD --help)"; returns SIMGATE_EXIT_USAGE. */
int cli_usage(const struct cli *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Connects lazily: creates the client. Returns an exit status. */
int cli_open(struct cli *k);
void cli_close(struct cli *k);

/* One request. Transport failures print "simgate: cannot reach simgated:
 * <why>" and return SIMGATE_EXIT_FAILURE; otherwise 0 with r filled (any
 * HTTP status; the caller clears r). */
int cli_request(struct cli *k, const char *method, const char *path, const json_t *body,
                const char *idem_key, long timeout_ms, struct client_resp *r);
/* As cli_request, and a non-2xx answer is reported (cli_api_error) and
 * mapped to its exit status. On 0, *out is the body (caller decrefs). */
int cli_call(struct cli *k, const char *method, const char *path, const json_t *body,
             const char *idem_key, long timeout_ms, json_t **out);
/* Prints "simgate: <code>: <message> (field: x)" on stderr (and with
 * --json the API's error object on stdout); returns SIMGATE_EXIT_UNHEALTHY
 * for 503, SIMGATE_EXIT_BAD_INPUT otherwise. */
int cli_api_error(const struct cli *k, const struct client_resp *r);

/* The event log's newest sequence number, from GET /v1/health (answered
 * with 200 or 503). Returns an exit status; *seq is -1 when the daemon
 * did not say (store failing). */
int cli_last_seq(struct cli *k, long long *seq);

/* Event data as "key=value key=value" (values with spaces quoted, nested
 * values as compact JSON) into buf. */
void cli_kv_line(json_t *obj, char *buf, size_t n);

/* The object on one line of stdout, flushed (follow modes stream). */
void cli_print_json(const json_t *j);

/* A table cell for o[key]: strings as they are, numbers in decimal, true
 * "yes", false "no", null or absent NULL (the table shows "-"). buf holds
 * numbers; the result is borrowed from o or buf. */
const char *cli_cell(const json_t *o, const char *key, char *buf, size_t n);

/* One column of cli_table: the header, the row key, what null shows
 * (NULL: "-"), and a width cap (0: none). */
struct cli_col {
    const char *header;
    const char *key;
    const char *null_as;
    unsigned cap;
};
/* Prints an aligned table with one row per object of arr on stdout.
 * Returns an exit status. */
int cli_table(const json_t *arr, const struct cli_col *cols, size_t ncols);

/* Decimal integer in [min, max], nothing else. -EINVAL otherwise. */
int cli_parse_int(const char *s, long long min, long long max, long long *out);
/* --since argument: "30s", "15m", "2h", "7d" (relative to now) become
 * Unix milliseconds; anything else (RFC 3339, Unix ms) is passed on for the
 * API to judge. -EINVAL when a relative form overflows. */
int cli_since(const char *arg, char *out, size_t n);

/* `--text -`: reads all of stdin, at most CLI_STDIN_TEXT_MAX bytes, into a
 * malloc'd NUL-terminated buffer the caller frees; one trailing newline is
 * dropped (it is the shell's, not the sender's). NULL when stdin is larger,
 * unreadable, or memory runs out. *len (may be NULL) gets the length. */
#define CLI_STDIN_TEXT_MAX (64 * 1024)
char *cli_read_stdin(size_t *len);

#endif
