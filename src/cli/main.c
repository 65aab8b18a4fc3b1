/* main.c - the `kiln` command: a table of subcommands and the dispatch. */
#include <string.h>

#include "cli.h"

static const cli_command commands[] = {
    {"info", cmd_info, "describe a model: inputs, outputs, ops, size, FLOPs"},
    {"run", cmd_run, "run a model on .npy inputs (or random ones)"},
    {"bench", cmd_bench, "time a model (or, with --peak, the CPU's FMA peak)"},
    {"profile", cmd_profile, "time each kernel of a model; Chrome trace"},
    {"serve", cmd_serve,
     "serve models over TF Serving's REST API and KServe v2"},
    {"convert", cmd_convert, "write a model as .tflite with kiln's writer"},
    {"quantize", cmd_quantize,
     "quantize a float .tflite (dynamic, int8, int16x8, float16)"},
};
enum { NUM_COMMANDS = sizeof commands / sizeof commands[0] };

static void print_usage(FILE *out) {
  fprintf(out,
          "kiln %s - run and inspect machine-learning models\n\n"
          "usage: kiln <command> [options]\n\ncommands:\n",
          KILN_VERSION);
  for (int i = 0; i < NUM_COMMANDS; i++)
    fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
  fprintf(out, "\nRun 'kiln <command> --help' for a command's options.\n");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    print_usage(stderr);
    return CLI_EXIT_USAGE;
  }
  if (cli_is_help(argv[1]) || strcmp(argv[1], "help") == 0) {
    print_usage(stdout);
    return 0;
  }
  if (strcmp(argv[1], "--version") == 0) {
    printf("kiln %s\n", KILN_VERSION);
    return 0;
  }
  for (int i = 0; i < NUM_COMMANDS; i++)
    if (strcmp(argv[1], commands[i].name) == 0)
      return commands[i].run(argc - 1, argv + 1);
  fprintf(stderr, "kiln: unknown command '%s'\n\n", argv[1]);
  print_usage(stderr);
  return CLI_EXIT_USAGE;
}
