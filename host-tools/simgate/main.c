/*
 * simgate: command-line client. `simgate <command> [options]`.
 *
 * Adding a command: write cmd_<name>.c with `int cmd_<name>(int, char **)`,
 * declare it in simgate.h, and add one row to `commands` below.
 */
#include <stdio.h>
#include <string.h>

#include "host-tools/simgate/simgate.h"

struct command {
    const char *name;
    simgate_cmd_fn run;
    const char *summary;
};

/* Sorted by name; `simgate --help` lists them in this order. */
static const struct command commands[] = {
    {"pdu", cmd_pdu, "encode, decode and count SMS PDUs offline (no daemon needed)"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: simgate [--help] [--version] <command> [options]\n"
               "\n"
               "simgate talks to the simgated SMS gateway and carries offline tools\n"
               "for field technicians. Each command has its own --help.\n"
               "\n"
               "commands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n"
               "exit status: 0 success, 1 input rejected (bad text, number or PDU),\n"
               "2 usage error, 3 other failure.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return SIMGATE_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return SIMGATE_EXIT_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("simgate %s (%s)\n", SG_VERSION, SG_GIT_REV);
        return SIMGATE_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "simgate: unknown command \"%s\" (see simgate --help)\n", argv[1]);
    return SIMGATE_EXIT_USAGE;
}
