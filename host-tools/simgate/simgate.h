/*
 * simgate: the command-line tool. main.c dispatches `simgate <command>` to
 * one function per command through a table; each command lives in its own
 * cmd_<name>.c, parses its own options and returns an exit status.
 *
 * Exit statuses shared by every command (documented in `simgate --help`).
 */
#ifndef SG_SIMGATE_H
#define SG_SIMGATE_H

#include <stdbool.h>

#define SIMGATE_EXIT_OK 0
/* The input was rejected: the API answered with an error (bad number,
 * unknown id, too late to cancel...), pdu refused a text or PDU, or
 * `send --wait` saw the message end failed/expired/undelivered/unknown/
 * canceled (or gave up at --timeout). */
#define SIMGATE_EXIT_BAD_INPUT 1
#define SIMGATE_EXIT_USAGE     2 /* wrong command line */
/* The daemon cannot be reached (no socket, nobody listening, no answer in
 * time, an answer that is not the API's) or another local failure. */
#define SIMGATE_EXIT_FAILURE 3
/* The daemon answers but is unhealthy: `health` got 503 (no modem ready or
 * the store failing), or a request was refused with 503 unavailable. */
#define SIMGATE_EXIT_UNHEALTHY 4

#define SIMGATE_SOCKET_DEFAULT "/run/simgate/api.sock"
#define SIMGATE_SOCKET_ENV     "SIMGATE_SOCKET"

/* Options every command takes, before or after its name. */
struct simgate_opts {
    const char *socket; /* --socket, else $SIMGATE_SOCKET, else the default */
    bool json;          /* --json: the API's JSON, one object per line */
};

/* A command gets argv with argv[0] = its own name ("pdu"); g is the
 * global options seen before the command name (the command may override
 * them with its own --socket / --json). */
typedef int (*simgate_cmd_fn)(const struct simgate_opts *g, int argc, char **argv);

int cmd_cancel(const struct simgate_opts *g, int argc, char **argv);
int cmd_events(const struct simgate_opts *g, int argc, char **argv);
int cmd_health(const struct simgate_opts *g, int argc, char **argv);
int cmd_inbox(const struct simgate_opts *g, int argc, char **argv);
int cmd_list(const struct simgate_opts *g, int argc, char **argv);
int cmd_modems(const struct simgate_opts *g, int argc, char **argv);
int cmd_pdu(const struct simgate_opts *g, int argc, char **argv);
int cmd_send(const struct simgate_opts *g, int argc, char **argv);
int cmd_sims(const struct simgate_opts *g, int argc, char **argv);
int cmd_status(const struct simgate_opts *g, int argc, char **argv);

#endif
