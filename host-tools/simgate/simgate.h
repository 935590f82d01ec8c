/*
 * simgate: the command-line tool. main.c dispatches `simgate <command>` to
 * one function per command through a table; each command lives in its own
 * cmd_<name>.c, parses its own options and returns an exit status.
 *
 * Exit statuses shared by every command.
 */
#ifndef SG_SIMGATE_H
#define SG_SIMGATE_H

#define SIMGATE_EXIT_OK        0
#define SIMGATE_EXIT_BAD_INPUT 1 /* the input (text, number, PDU...) was rejected */
#define SIMGATE_EXIT_USAGE     2 /* wrong command line */
#define SIMGATE_EXIT_FAILURE   3 /* the operation failed for another reason (I/O, daemon) */

/* A command gets argv with argv[0] = its own name ("pdu"). */
typedef int (*simgate_cmd_fn)(int argc, char **argv);

int cmd_pdu(int argc, char **argv);

#endif
