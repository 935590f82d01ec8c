/*
 * simpool: SIM pool provisioning and board bring-up for field technicians.
 *
 * main.c holds the subcommand table and the helpers that exit; each
 * subcommand lives in its own file (probe.c) and is one row of the table.
 */
#ifndef SIMPOOL_H
#define SIMPOOL_H

#include <stdio.h>

/* Exit codes shared by every subcommand (documented in --help). */
#define SIMPOOL_EXIT_OK 0        /* everything asked for is fine */
#define SIMPOOL_EXIT_NOT_READY 1 /* ran, but some port/SIM is not usable */
#define SIMPOOL_EXIT_USAGE 2     /* bad command line */
#define SIMPOOL_EXIT_INTERNAL 3  /* out of memory, poll() failure... */

struct simpool_cmd {
    const char *name;
    const char *summary;
    /* argv[0] is the subcommand name; returns an exit code. */
    int (*run)(int argc, char **argv);
    void (*help)(FILE *f);
};

int simpool_probe_main(int argc, char **argv);
void simpool_probe_help(FILE *f);

/* Print "simpool: <msg>" to stderr and exit with code. Tools only. */
void simpool_die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));

#endif
