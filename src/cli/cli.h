/* cli.h - shared pieces of the `kiln` command's subcommands. The command
 * uses only the public API in kiln.h. */
#ifndef KILN_CLI_H
#define KILN_CLI_H

#include <stdio.h>

#include "kiln.h"

typedef struct cli_command {
  const char *name;
  int (*run)(int argc, char **argv); /* argv[0] is the subcommand name */
  const char *summary;
} cli_command;

int cmd_info(int argc, char **argv);
int cmd_run(int argc, char **argv);

/* Exit codes: failures of the work itself, and misuse of the command. */
enum { CLI_EXIT_FAILURE = 1, CLI_EXIT_USAGE = 2 };

/* Prints "kiln: <message>" to stderr, frees the status, returns 1. */
int cli_fail(kiln_status *status);
/* Prints "kiln <command>: <message>\n" to stderr; returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *command, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Writes "[1,224,224,3]" (with -1 for dynamic dims) to `out`. */
void cli_print_dims(FILE *out, const int64_t *dims, int rank);
/* Parses a positive integer option value; returns 0 on success. */
int cli_parse_int(const char *text, int min, int max, int *out);
/* True when argv[i] is -h or --help. */
int cli_is_help(const char *arg);

#endif
