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
int cmd_bench(int argc, char **argv);
int cmd_profile(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_quantize(int argc, char **argv);

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

/* ------------------------------- shared by run, info, bench, profile
 * (defined in shapes.c) */

/* An input's real shape from --shape NAME=D0,D1,... (name "" when the
 * model has one input and the option gave only the sizes). */
typedef struct cli_shape {
  char name[256];
  int64_t dims[KILN_MAX_RANK];
  int rank;
} cli_shape;
enum { CLI_MAX_SHAPES = 64 };

/* Parses one --shape value; 0, or CLI_EXIT_USAGE after reporting. */
int cli_parse_shape(const char *command, const char *spec, cli_shape *out);
/* Parses a byte count with an optional K, M or G suffix (powers of 1024);
 * 0, or CLI_EXIT_USAGE after reporting. */
int cli_parse_bytes(const char *command, const char *option, const char *text,
                    size_t *out);
/* Resizes the named inputs, then prepares the session unless it already
 * is: 0, or an exit code after printing the error (with a hint when no
 * size was given at all: no shapes, and `arrays_given` 0 when the caller
 * resized nothing from input arrays of its own). */
int cli_apply_shapes(const char *command, kiln_model *model,
                     kiln_session *session, const cli_shape *shapes, int count,
                     int arrays_given);
/* Writes a name read from a model file: printable ASCII and valid UTF-8
 * as they are, other bytes (escape sequences, invalid UTF-8) as \xHH,
 * an empty name as "". */
void cli_print_name(FILE *out, const char *name);

/* ------------------------------------- shared by bench and profile
 * (defined in cmd_bench.c) */

/* Options `kiln bench` and `kiln profile` both take. */
typedef struct cli_model_opts {
  const char *command; /* "bench" or "profile", for messages */
  const char *model_path;
  int num_threads; /* 0: all cores */
  int batch;       /* 0: the model's own dim 0 */
  int warmup;      /* -1 until given: the command picks */
  int runs;        /* -1 until given: the command picks */
  kiln_isa isa;
  cli_shape shapes[CLI_MAX_SHAPES]; /* --shape, in order */
  int num_shapes;
  size_t max_memory; /* --max-memory; 0: the library's default */
} cli_model_opts;

/* Consumes argv[*i] (and its value, advancing *i) when it is MODEL or one of
 * --threads, --batch, --warmup, --runs, --isa, --shape, --max-memory. Returns 0
 * when consumed, -1 when argv[*i] is not one of these, or CLI_EXIT_USAGE after
 * reporting a bad value. `max_runs` bounds --runs. */
int cli_parse_model_opt(const char *command, int argc, char **argv, int *i,
                        int max_runs, cli_model_opts *opts);

/* A model and a prepared session with random inputs, ready to invoke. */
typedef struct cli_loaded {
  kiln_model *model;
  kiln_session *session;
  int batch;      /* dim 0 of the first input (1 for a scalar input) */
  double load_ms; /* model load + session create (+ prepare for --batch) */
  int num_inputs;
  void **inputs; /* the random inputs, kept to restore before each invoke */
  size_t *input_bytes;
} cli_loaded;

/* Loads opts->model_path, applies --batch/--threads/--isa and fills every
 * input with random values (as `kiln run` does). Returns 0, or an exit code
 * after printing the error; `out` is then already released. */
int cli_load_model(const cli_model_opts *opts, cli_loaded *out);
void cli_unload_model(cli_loaded *loaded);
/* Copies the random inputs back in: an invoke may reuse input memory for
 * later tensors, so they must be set again before every invoke, as an
 * application would. Not timed by the callers. */
kiln_status *cli_restore_inputs(const cli_loaded *loaded);

/* Monotonic clock in milliseconds. */
double cli_now_ms(void);
/* Writes `text` as a JSON string literal, quotes included. */
void cli_json_string(FILE *out, const char *text);
/* Writes a JSON number; null for NaN and infinities, which JSON lacks. */
void cli_json_number(FILE *out, double value);

/* -------------------------------------------- float32 FMA peak loops */

/* Each runs `iterations` rounds of independent FMA chains acc = acc*a + b
 * and returns a sum of the accumulators, so the work cannot be optimized
 * away. Only call one when the CPU has its instruction set. */
enum {
  CLI_PEAK_AVX512_FLOPS_PER_ITER = 24 * 16 * 2, /* 24 zmm chains */
  CLI_PEAK_AVX2_FLOPS_PER_ITER = 12 * 8 * 2     /* 12 ymm chains */
};
float cli_peak_avx512(long iterations, float a, float b);
float cli_peak_avx2(long iterations, float a, float b);

/* `kiln bench --peak`: runs the best loop `max_isa` allows on `num_threads`
 * threads (0: all cores); defined in peak_threads.c. */
int cli_bench_peak(int num_threads, kiln_isa max_isa, int json);

#endif
