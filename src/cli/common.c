/* common.c - error printing and argument helpers shared by subcommands. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cli_fail(kiln_status *status) {
  /* Messages quote names from the file: escaped like every name printed. */
  fputs("kiln: error: ", stderr);
  cli_print_name(stderr, kiln_status_message(status));
  fputc('\n', stderr);
  kiln_status_free(status);
  return CLI_EXIT_FAILURE;
}

int cli_usage_error(const char *command, const char *fmt, ...) {
  va_list args;
  va_start(args, fmt);
  fprintf(stderr, "kiln %s: ", command);
  vfprintf(stderr, fmt, args);
  fprintf(stderr, "\nRun 'kiln %s --help' for usage.\n", command);
  va_end(args);
  return CLI_EXIT_USAGE;
}

void cli_print_dims(FILE *out, const int64_t *dims, int rank) {
  fputc('[', out);
  for (int i = 0; i < rank; i++)
    fprintf(out, i ? ",%lld" : "%lld", (long long)dims[i]);
  fputc(']', out);
}

int cli_parse_int(const char *text, int min, int max, int *out) {
  char *end = NULL;
  errno = 0;
  long value = strtol(text, &end, 10);
  if (errno || end == text || *end || value < min || value > max) return -1;
  *out = (int)value;
  return 0;
}

int cli_is_help(const char *arg) {
  return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}
