/*
 * simgate: command-line tool. `simgate [global options] <command> [options]`.
 *
 * Adding a command: write cmd_<name>.c with
 * `int cmd_<name>(const struct simgate_opts *, int, char **)`, declare it in
 * simgate.h, and add one row to `commands` below.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host-tools/simgate/simgate.h"

struct command {
    const char *name;
    simgate_cmd_fn run;
    const char *summary;
};

/* Sorted by name; `simgate --help` lists them in this order. */
static const struct command commands[] = {
    {"cancel", cmd_cancel, "cancel a message that no modem has taken yet"},
    {"events", cmd_events, "read the event log from a cursor, or follow it live"},
    {"health", cmd_health, "is the gateway able to send? (exit 4 when not)"},
    {"inbox", cmd_inbox, "list received SMS"},
    {"list", cmd_list, "list messages, by status and age"},
    {"modems", cmd_modems, "modem states, signal, registration, last error"},
    {"pdu", cmd_pdu, "encode, decode and count SMS PDUs offline (no daemon needed)"},
    {"send", cmd_send, "queue an SMS; with --wait, follow it to a final state"},
    {"sims", cmd_sims, "SIM identities, counters, quota left, breaker state"},
    {"status", cmd_status, "one message with its parts and full history"},
};

static const char help_head[] =
    "usage: simgate [--json] [--socket PATH] <command> [options]\n"
    "       simgate --help | --version\n"
    "\n"
    "simgate talks to the simgated SMS gateway through its HTTP/JSON API on a\n"
    "local Unix socket (the same API a backend uses with curl), and carries\n"
    "offline tools for field technicians. Each command has its own --help.\n"
    "\n"
    "commands:\n";

static const char help_tail[] =
    "\n"
    "options (before the command name, or after it for the API commands):\n"
    "  --json         print the API's JSON instead of tables: one object per line;\n"
    "                 follow modes (send --wait, events --follow) print one line per\n"
    "                 change as it happens\n"
    "  --socket PATH  the daemon's API socket (default: $SIMGATE_SOCKET, else\n"
    "                 " SIMGATE_SOCKET_DEFAULT ")\n"
    "\n"
    "exit status:\n"
    "  0  success\n"
    "  1  refused: the API answered with an error, printed as one line\n"
    "     \"simgate: <code>: <message> (field: <field>)\"; or pdu rejected its\n"
    "     input; or send --wait saw the message end failed, expired,\n"
    "     undelivered, unknown or canceled (or gave up at --timeout)\n"
    "  2  usage error (wrong command line)\n"
    "  3  cannot reach simgated: no socket at the path, nobody listening,\n"
    "     no answer in time, or an answer that is not the API's\n"
    "  4  simgated answers but is unhealthy: `health` got 503 (no modem ready,\n"
    "     or the store failing), or a request was refused with 503\n";

static void usage(FILE *f)
{
    fputs(help_head, f);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fputs(help_tail, f);
}

enum { OPT_HELP = 'h', OPT_JSON = 0x100, OPT_SOCKET, OPT_VERSION };

/* Sorted by name. */
static const struct option global_opts[] = {
    {"help", no_argument, NULL, OPT_HELP},
    {"json", no_argument, NULL, OPT_JSON},
    {"socket", required_argument, NULL, OPT_SOCKET},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

int main(int argc, char **argv)
{
    const char *env = getenv(SIMGATE_SOCKET_ENV);
    struct simgate_opts g = {.socket = env && *env ? env : SIMGATE_SOCKET_DEFAULT};
    int id;

    opterr = 0;
    /* "+": stop at the command name; its options are its own. */
    while ((id = getopt_long(argc, argv, "+h", global_opts, NULL)) != -1) {
        switch (id) {
        case OPT_HELP:
            usage(stdout);
            return SIMGATE_EXIT_OK;
        case OPT_JSON:
            g.json = true;
            break;
        case OPT_SOCKET:
            g.socket = optarg;
            break;
        case OPT_VERSION:
            printf("simgate %s (%s)\n", SG_VERSION, SG_GIT_REV);
            return SIMGATE_EXIT_OK;
        default:
            fprintf(stderr, "simgate: unknown option or missing value: %s (see simgate --help)\n",
                    argv[optind - 1]);
            return SIMGATE_EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return SIMGATE_EXIT_USAGE;
    }
    const char *name = argv[optind];
    if (!strcmp(name, "help")) {
        usage(stdout);
        return SIMGATE_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (!strcmp(name, commands[i].name))
            return commands[i].run(&g, argc - optind, argv + optind);
    fprintf(stderr, "simgate: unknown command \"%s\" (see simgate --help)\n", name);
    return SIMGATE_EXIT_USAGE;
}
