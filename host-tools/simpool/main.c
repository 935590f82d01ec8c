/*
 * simpool: entry point. The subcommands are rows of one table; provisioning
 * commands join it as more rows.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host-tools/simpool/simpool.h"

static const struct simpool_cmd cmds[] = {
    {"probe", "bring modems up and report identity, SIM, network and signal",
     simpool_probe_main, simpool_probe_help},
    {"send", "send one text through one modem to check its SIM can send",
     simpool_send_main, simpool_send_help},
};

#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

void simpool_die(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("simpool: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(code);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: simpool COMMAND [options] [args]\n"
            "       simpool COMMAND --help\n"
            "\n"
            "SIM pool provisioning and board bring-up for simgate. Talks to the modems\n"
            "directly over their serial ports; do not run it on a port simgated holds.\n"
            "\n"
            "commands:\n");
    for (size_t i = 0; i < NCMDS; i++)
        fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].summary);
    fprintf(f,
            "\n"
            "exit codes (every command):\n"
            "  %d  everything asked for is fine\n"
            "  %d  it ran, but a port or SIM is not usable (one reason line per port)\n"
            "  %d  bad command line\n"
            "  %d  internal error\n"
            "\n"
            "simgate %s\n",
            SIMPOOL_EXIT_OK, SIMPOOL_EXIT_NOT_READY, SIMPOOL_EXIT_USAGE, SIMPOOL_EXIT_INTERNAL,
            SG_VERSION);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return SIMPOOL_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        if (argc > 2)
            for (size_t i = 0; i < NCMDS; i++)
                if (strcmp(argv[2], cmds[i].name) == 0) {
                    cmds[i].help(stdout);
                    return SIMPOOL_EXIT_OK;
                }
        usage(stdout);
        return SIMPOOL_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("simpool (simgate) %s (%s)\n", SG_VERSION, SG_GIT_REV);
        return SIMPOOL_EXIT_OK;
    }
    for (size_t i = 0; i < NCMDS; i++)
        if (strcmp(argv[1], cmds[i].name) == 0)
            return cmds[i].run(argc - 1, argv + 1);
    fprintf(stderr, "simpool: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return SIMPOOL_EXIT_USAGE;
}
