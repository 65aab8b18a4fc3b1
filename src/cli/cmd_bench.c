/* cmd_bench.c - `kiln bench MODEL`: load time, latency percentiles,
 * throughput, memory and achieved GFLOP/s; `kiln bench --peak`: the
 * machine's FMA peak to compare them with. Also the model set-up that
 * `kiln profile` shares. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "cli.h"

static const char bench_help[] =
    "usage: kiln bench MODEL [--threads N] [--batch B] [--warmup W]\n"
    "                  [--runs R] [--isa portable|avx2|avx512|avx512vnni] "
    "[--json]\n"
    "       kiln bench --peak [--threads N] [--isa avx2|avx512] [--json]\n\n"
    "Times the model on random inputs (uniform in [0,1) for floats, 0 or 1\n"
    "for integers): loading (model load and session creation), the first\n"
    "invoke, then W warmup runs (default 5) and R timed runs (default 50,\n"
    "or 10 when a run takes over 200 ms). Prints latency percentiles,\n"
    "throughput (batch x runs / time), peak resident memory, the activation\n"
    "arena, FLOPs per run and the GFLOP/s achieved.\n\n"
    "  --threads N  threads per invoke (default 0: all cores)\n"
    "  --batch B    set dimension 0 of every input to B (it must be dynamic)\n"
    "  --isa L      use kernels up to instruction set L (default: the best)\n"
    "  --shape NAME=D0,D1,...\n"
    "               real sizes for an input's dynamic dimensions (repeatable)\n"
    "  --max-memory BYTES\n"
    "               the session's activation memory limit (default 4G)\n"
    "  --json       print one JSON object instead of the table\n"
    "  --peak       measure this CPU's float32 FMA peak (GFLOP/s) with a\n"
    "               register-only loop on N threads, for the best instruction\n"
    "               set it has, instead of running a model\n";

/* ------------------------------------------------ shared with profile */

double cli_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void cli_json_string(FILE *out, const char *text) {
  fputc('"', out);
  for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
    if (*p == '"' || *p == '\\')
      fprintf(out, "\\%c", *p);
    else if (*p < 0x20)
      fprintf(out, "\\u%04x", *p);
    else
      fputc(*p, out);
  }
  fputc('"', out);
}

void cli_json_number(FILE *out, double value) {
  if (!isfinite(value))
    fputs("null", out);
  else if (value == floor(value) && fabs(value) < 1e15)
    fprintf(out, "%.0f", value); /* counts and byte sizes stay exact */
  else
    fprintf(out, "%.6g", value); /* more digits would be clock noise */
}

static int parse_isa(const char *text, kiln_isa *out) {
  static const kiln_isa levels[] = {KILN_ISA_PORTABLE, KILN_ISA_AVX2,
                                    KILN_ISA_AVX512, KILN_ISA_AVX512_VNNI};
  for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++)
    if (strcmp(text, kiln_isa_name(levels[i])) == 0) {
      *out = levels[i];
      return 0;
    }
  return -1;
}

int cli_parse_model_opt(const char *command, int argc, char **argv, int *i,
                        int max_runs, cli_model_opts *opts) {
  const char *arg = argv[*i];
  const char *value = *i + 1 < argc ? argv[*i + 1] : NULL;
  int *target = NULL, min = 0, max = 0;
  opts->command = command;
  if (arg[0] != '-') {
    if (opts->model_path)
      return cli_usage_error(command, "one model at a time ('%s')", arg);
    opts->model_path = arg;
    return 0;
  }
  if (strcmp(arg, "--threads") == 0) {
    target = &opts->num_threads, min = 0, max = 1024;
  } else if (strcmp(arg, "--batch") == 0) {
    target = &opts->batch, min = 1, max = 1 << 20;
  } else if (strcmp(arg, "--warmup") == 0) {
    target = &opts->warmup, min = 0, max = 1000000;
  } else if (strcmp(arg, "--runs") == 0) {
    target = &opts->runs, min = 1, max = max_runs;
  } else if (strcmp(arg, "--shape") == 0 || strcmp(arg, "--max-memory") == 0) {
    if (!value) return cli_usage_error(command, "%s needs a value", arg);
    (*i)++;
    if (arg[2] == 'm')
      return cli_parse_bytes(command, arg, value, &opts->max_memory);
    if (opts->num_shapes == CLI_MAX_SHAPES)
      return cli_usage_error(command, "at most %d --shape options",
                             CLI_MAX_SHAPES);
    return cli_parse_shape(command, value, &opts->shapes[opts->num_shapes++]);
  } else if (strcmp(arg, "--isa") != 0) {
    return -1;
  }
  if (!value) return cli_usage_error(command, "%s needs a value", arg);
  (*i)++;
  if (!target) {
    if (parse_isa(value, &opts->isa))
      return cli_usage_error(
          command, "--isa takes portable, avx2, avx512 or avx512vnni, got '%s'",
          value);
  } else if (cli_parse_int(value, min, max, target)) {
    return cli_usage_error(command, "%s takes %d..%d, got '%s'", arg, min, max,
                           value);
  }
  return 0;
}

/* Prints a failure that has no kiln_status, like cli_fail does. */
static int fail_message(const char *path, const char *input, const char *what) {
  fprintf(stderr, "kiln: error: %s: input '%s' %s\n", path, input, what);
  return CLI_EXIT_FAILURE;
}

/* Resizes dimension 0 of every input to `batch`, then prepares. A fixed
 * dimension 0 of another size is an error: kiln cannot change it. */
static int apply_batch(const cli_model_opts *opts, cli_loaded *l) {
  int count = kiln_model_num_inputs(l->model);
  for (int i = 0; i < count; i++) {
    kiln_tensor_info declared, current;
    kiln_status *st = kiln_model_input_info(l->model, i, &declared);
    if (!st) st = kiln_session_input_info(l->session, i, &current);
    if (st) return cli_fail(st);
    char what[160];
    if (declared.rank == 0)
      return fail_message(opts->model_path, declared.name,
                          "is a scalar; --batch needs a dimension 0");
    if (declared.dims[0] == opts->batch) continue;
    if (declared.dims[0] != -1) {
      snprintf(what, sizeof what,
               "has a fixed batch (dimension 0) of %lld; --batch %d needs "
               "it dynamic",
               (long long)declared.dims[0], opts->batch);
      return fail_message(opts->model_path, declared.name, what);
    }
    current.dims[0] = opts->batch;
    st = kiln_session_resize_input(l->session, i, current.dims, current.rank);
    if (st) return cli_fail(st);
  }
  return 0; /* cli_apply_shapes prepares */
}

/* IEEE half bits of r in [0, 1), truncated; tiny values become 0. */
static uint16_t half_bits(double r) {
  int exponent;
  double mantissa = frexp(r, &exponent); /* r = mantissa * 2^exponent */
  int biased = exponent - 1 + 15;
  if (r <= 0.0 || biased <= 0) return 0;
  return (uint16_t)(biased << 10 | (int)((mantissa * 2.0 - 1.0) * 1024.0));
}

static void fill_random(kiln_dtype dtype, void *data, size_t nbytes) {
  size_t size = kiln_dtype_size(dtype);
  size_t count = size ? nbytes / size : 0;
  for (size_t i = 0; i < count; i++) {
    double r = rand() / ((double)RAND_MAX + 1.0);
    int bit = r >= 0.5;
    switch (dtype) {
      case KILN_FLOAT32:
        ((float *)data)[i] = (float)r;
        break;
      case KILN_FLOAT64:
        ((double *)data)[i] = r;
        break;
      case KILN_FLOAT16:
        ((uint16_t *)data)[i] = half_bits(r);
        break;
      case KILN_INT16:
        ((int16_t *)data)[i] = (int16_t)bit;
        break;
      case KILN_INT32:
        ((int32_t *)data)[i] = bit;
        break;
      case KILN_INT64:
        ((int64_t *)data)[i] = bit;
        break;
      case KILN_UINT16:
        ((uint16_t *)data)[i] = (uint16_t)bit;
        break;
      case KILN_UINT32:
        ((uint32_t *)data)[i] = (uint32_t)bit;
        break;
      case KILN_UINT64:
        ((uint64_t *)data)[i] = (uint64_t)bit;
        break;
      default: /* the one-byte types */
        ((unsigned char *)data)[i * size] = (unsigned char)bit;
        break;
    }
  }
}

/* A STRING input cannot be borrowed: its saved views (all empty strings)
 * are set, as many as its current shape holds. */
static kiln_status *restore_strings(const cli_loaded *loaded, int index,
                                    const kiln_tensor_info *info) {
  size_t count = 1;
  for (int d = 0; d < info->rank; d++) count *= (size_t)info->dims[d];
  if (count * sizeof(kiln_string) > loaded->input_bytes[index])
    return kiln_status_create(KILN_ERR_INVALID_ARGUMENT,
                              "input '%s' grew after its strings were made",
                              info->name);
  return kiln_session_set_input(loaded->session, index, KILN_STRING, info->dims,
                                info->rank, loaded->inputs[index],
                                count * sizeof(kiln_string));
}

kiln_status *cli_restore_inputs(const cli_loaded *loaded) {
  for (int i = 0; i < loaded->num_inputs; i++) {
    void *data;
    size_t nbytes;
    kiln_tensor_info info;
    kiln_status *st = kiln_session_input_info(loaded->session, i, &info);
    if (!st && info.dtype == KILN_STRING)
      st = restore_strings(loaded, i, &info);
    if (st) return st;
    if (info.dtype == KILN_STRING) continue;
    st = kiln_session_input_buffer(loaded->session, i, &data, &nbytes);
    if (st) return st;
    size_t saved = loaded->input_bytes[i];
    memcpy(data, loaded->inputs[i], nbytes < saved ? nbytes : saved);
  }
  return NULL;
}

static int out_of_memory(const char *what) {
  fprintf(stderr, "kiln: error: out of memory for %s\n", what);
  return CLI_EXIT_FAILURE;
}

/* One random copy of every input, made once so that refilling the inputs
 * before each run is a memcpy. */
static int make_inputs(cli_loaded *l) {
  l->num_inputs = kiln_model_num_inputs(l->model);
  l->inputs = calloc((size_t)l->num_inputs + 1, sizeof *l->inputs);
  l->input_bytes = calloc((size_t)l->num_inputs + 1, sizeof *l->input_bytes);
  if (!l->inputs || !l->input_bytes) return out_of_memory("the inputs");
  for (int i = 0; i < l->num_inputs; i++) {
    kiln_tensor_info info;
    void *data;
    kiln_status *st = kiln_session_input_info(l->session, i, &info);
    if (!st && info.dtype == KILN_STRING) { /* empty strings: zeroed views */
      l->input_bytes[i] = sizeof(kiln_string);
      for (int d = 0; d < info.rank; d++)
        l->input_bytes[i] *= (size_t)info.dims[d];
    } else if (!st) {
      st = kiln_session_input_buffer(l->session, i, &data, &l->input_bytes[i]);
    }
    if (st) return cli_fail(st);
    l->inputs[i] = calloc(l->input_bytes[i] + 1, 1);
    if (!l->inputs[i]) return out_of_memory("the inputs");
    if (info.dtype != KILN_STRING)
      fill_random(info.dtype, l->inputs[i], l->input_bytes[i]);
  }
  kiln_status *st = cli_restore_inputs(l);
  return st ? cli_fail(st) : 0;
}

/* Dim 0 of the first input: the items one invoke processes. */
static int first_batch(const kiln_session *s, int num_inputs) {
  kiln_tensor_info info;
  if (num_inputs < 1) return 1;
  kiln_status *st = kiln_session_input_info(s, 0, &info);
  if (st || info.rank < 1) {
    kiln_status_free(st); /* cannot fail after a successful prepare */
    return 1;
  }
  return (int)info.dims[0];
}

int cli_load_model(const cli_model_opts *opts, cli_loaded *out) {
  memset(out, 0, sizeof *out);
  kiln_options options = kiln_options_default();
  options.num_threads = opts->num_threads;
  options.max_isa = opts->isa;
  options.max_memory_bytes = opts->max_memory;
  double start = cli_now_ms();
  kiln_status *st =
      kiln_model_load_file(opts->model_path, &options, &out->model);
  if (!st) st = kiln_session_create(out->model, &options, &out->session);
  int rc = st ? cli_fail(st) : 0;
  if (!rc && opts->batch) rc = apply_batch(opts, out);
  if (!rc)
    rc = cli_apply_shapes(opts->command, out->model, out->session, opts->shapes,
                          opts->num_shapes, 0);
  out->load_ms = cli_now_ms() - start;
  if (!rc) rc = make_inputs(out);
  if (rc) {
    cli_unload_model(out);
    return rc;
  }
  out->batch = first_batch(out->session, out->num_inputs);
  return 0;
}

void cli_unload_model(cli_loaded *loaded) {
  for (int i = 0; loaded->inputs && i < loaded->num_inputs; i++)
    free(loaded->inputs[i]);
  free(loaded->inputs);
  free(loaded->input_bytes);
  kiln_session_free(loaded->session);
  kiln_model_free(loaded->model);
  memset(loaded, 0, sizeof *loaded);
}

/* --------------------------------------------------------------- bench */

typedef struct bench_args {
  cli_model_opts model;
  int peak;
  int json;
} bench_args;

static int parse_args(int argc, char **argv, bench_args *args) {
  args->model.warmup = args->model.runs = -1;
  for (int i = 1; i < argc; i++) {
    if (cli_is_help(argv[i])) {
      fputs(bench_help, stdout);
      return -1;
    } else if (strcmp(argv[i], "--peak") == 0) {
      args->peak = 1;
    } else if (strcmp(argv[i], "--json") == 0) {
      args->json = 1;
    } else {
      int rc =
          cli_parse_model_opt("bench", argc, argv, &i, 10000000, &args->model);
      if (rc > 0) return rc;
      if (rc < 0)
        return cli_usage_error("bench", "unknown option '%s'", argv[i]);
    }
  }
  const cli_model_opts *m = &args->model;
  if (args->peak && (m->model_path || m->batch || m->warmup >= 0 ||
                     m->runs >= 0 || m->isa == KILN_ISA_PORTABLE))
    return cli_usage_error("bench",
                           "--peak takes no MODEL, only --threads, --json and "
                           "--isa avx2|avx512");
  if (!args->peak && !m->model_path)
    return cli_usage_error("bench", "a MODEL path (or --peak) is required");
  return 0;
}

typedef struct bench_result {
  double first_ms, total_ms;
  double p50, p90, p99, mean, min;
  int warmup, runs;
  kiln_session_stats stats;
} bench_result;

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Percentile of sorted values, interpolating linearly between ranks. */
static double percentile(const double *sorted, int count, double p) {
  double position = p / 100.0 * (count - 1);
  int low = (int)position;
  if (low >= count - 1) return sorted[count - 1];
  return sorted[low] + (position - low) * (sorted[low + 1] - sorted[low]);
}

/* Restores the inputs (untimed), then times one invoke. */
static kiln_status *timed_invoke(const cli_loaded *l, double *ms) {
  kiln_status *st = cli_restore_inputs(l);
  if (st) return st;
  double start = cli_now_ms();
  st = kiln_session_invoke(l->session);
  *ms = cli_now_ms() - start;
  return st;
}

/* Warmup runs; returns the fastest run seen so far (first invoke
 * included), which picks the default number of timed runs. */
static kiln_status *warm_up(const cli_loaded *l, bench_result *r,
                            double *fastest) {
  *fastest = r->first_ms;
  for (int k = 0; k < r->warmup; k++) {
    double ms;
    kiln_status *st = timed_invoke(l, &ms);
    if (st) return st;
    if (ms < *fastest) *fastest = ms;
  }
  return NULL;
}

static void summarize(double *times, bench_result *r) {
  double sum = 0.0;
  for (int k = 0; k < r->runs; k++) sum += times[k];
  r->total_ms = sum; /* invokes only, not the input copies between them */
  qsort(times, (size_t)r->runs, sizeof *times, by_value);
  r->min = times[0];
  r->mean = sum / r->runs;
  r->p50 = percentile(times, r->runs, 50.0);
  r->p90 = percentile(times, r->runs, 90.0);
  r->p99 = percentile(times, r->runs, 99.0);
}

static kiln_status *measure(const cli_loaded *l, const cli_model_opts *opts,
                            bench_result *r, int *oom) {
  double fastest = 0.0;
  r->warmup = opts->warmup >= 0 ? opts->warmup : 5;
  kiln_status *st = timed_invoke(l, &r->first_ms);
  if (!st) st = warm_up(l, r, &fastest);
  if (st) return st;
  /* Big models would take minutes at 50 runs; 10 still give a median. */
  r->runs = opts->runs > 0 ? opts->runs : fastest > 200.0 ? 10 : 50;
  double *times = malloc((size_t)r->runs * sizeof *times);
  if (!times) {
    *oom = 1;
    return NULL;
  }
  for (int k = 0; k < r->runs && !st; k++) st = timed_invoke(l, &times[k]);
  if (!st) summarize(times, r);
  free(times);
  if (!st) st = kiln_session_stats_get(l->session, &r->stats);
  return st;
}

/* The process's own high-water mark. VmHWM (Linux) is per address space;
 * getrusage's ru_maxrss also counts what a parent had at fork, so a child
 * of a large Python process would report the parent's size. */
static double peak_rss_bytes(void) {
  FILE *status = fopen("/proc/self/status", "r");
  if (status) {
    char line[256];
    long kib = -1;
    while (fgets(line, sizeof line, status))
      if (sscanf(line, "VmHWM: %ld kB", &kib) == 1) break;
    fclose(status);
    if (kib >= 0) return (double)kib * 1024.0;
  }
  struct rusage usage;
  if (getrusage(RUSAGE_SELF, &usage) != 0) return 0.0;
  return (double)usage.ru_maxrss * 1024.0; /* Linux reports KiB */
}

typedef struct bench_report {
  const char *model, *isa;
  int batch;
  double load_ms, throughput, gflops, rss;
} bench_report;

static void json_field(const char *name, double value, int last) {
  printf("\"%s\": ", name);
  cli_json_number(stdout, value);
  fputs(last ? "" : ", ", stdout);
}

static void print_json(const bench_report *p, const bench_result *r) {
  printf("{\"model\": ");
  cli_json_string(stdout, p->model);
  printf(", \"isa\": ");
  cli_json_string(stdout, p->isa);
  printf(", \"threads\": %d, \"batch\": %d, \"warmup\": %d, \"runs\": %d, ",
         r->stats.num_threads, p->batch, r->warmup, r->runs);
  json_field("load_ms", p->load_ms, 0);
  json_field("first_invoke_ms", r->first_ms, 0);
  printf("\"latency_ms\": {");
  json_field("p50", r->p50, 0);
  json_field("p90", r->p90, 0);
  json_field("p99", r->p99, 0);
  json_field("mean", r->mean, 0);
  json_field("min", r->min, 1);
  printf("}, ");
  json_field("throughput_per_s", p->throughput, 0);
  json_field("peak_rss_bytes", p->rss, 0);
  json_field("arena_bytes", (double)r->stats.arena_bytes, 0);
  json_field("flops", r->stats.flops, 0);
  json_field("gflops_per_s", p->gflops, 1);
  printf("}\n");
}

/* "41.667 ms", or "1.2 us" below a millisecond. */
static const char *format_ms(double ms, char *buf, size_t size) {
  if (ms < 1.0)
    snprintf(buf, size, "%.1f us", ms * 1e3);
  else
    snprintf(buf, size, "%.3f ms", ms);
  return buf;
}

/* "2.87 MiB", "12.0 KiB" or "512 B". */
static const char *format_bytes(double bytes, char *buf, size_t size) {
  if (bytes >= 1024.0 * 1024.0)
    snprintf(buf, size, "%.2f MiB", bytes / (1024.0 * 1024.0));
  else if (bytes >= 1024.0)
    snprintf(buf, size, "%.1f KiB", bytes / 1024.0);
  else
    snprintf(buf, size, "%.0f B", bytes);
  return buf;
}

static void print_table(const bench_report *p, const bench_result *r) {
  char b[64];
  const char *row = "  %-14s %s\n";
  printf(row, "model", p->model);
  printf("  %-14s %s, %d thread%s, batch %d\n", "config", p->isa,
         r->stats.num_threads, r->stats.num_threads == 1 ? "" : "s", p->batch);
  printf(row, "load", format_ms(p->load_ms, b, sizeof b));
  printf(row, "first invoke", format_ms(r->first_ms, b, sizeof b));
  printf("  %-14s %d (after %d warmup)\n", "runs", r->runs, r->warmup);
  printf(row, "latency p50", format_ms(r->p50, b, sizeof b));
  printf(row, "latency p90", format_ms(r->p90, b, sizeof b));
  printf(row, "latency p99", format_ms(r->p99, b, sizeof b));
  printf(row, "latency mean", format_ms(r->mean, b, sizeof b));
  printf(row, "latency min", format_ms(r->min, b, sizeof b));
  printf("  %-14s %.1f items/s\n", "throughput", p->throughput);
  printf("  %-14s %.4g (%.3f GFLOP), %.2f GFLOP/s achieved\n", "FLOPs/run",
         r->stats.flops, r->stats.flops / 1e9, p->gflops);
  printf(row, "arena", format_bytes((double)r->stats.arena_bytes, b, sizeof b));
  printf(row, "peak RSS", format_bytes(p->rss, b, sizeof b));
}

static void report(const bench_args *args, const cli_loaded *l,
                   const bench_result *r) {
  double seconds = r->total_ms / 1e3;
  bench_report p = {
      args->model.model_path,
      kiln_isa_name(kiln_session_isa(l->session)),
      l->batch,
      l->load_ms,
      seconds > 0 ? l->batch * (double)r->runs / seconds : 0.0,
      seconds > 0 ? r->stats.flops * r->runs / seconds / 1e9 : 0.0,
      peak_rss_bytes()};
  if (args->json)
    print_json(&p, r);
  else
    print_table(&p, r);
}

int cmd_bench(int argc, char **argv) {
  bench_args args = {0};
  int rc = parse_args(argc, argv, &args);
  if (rc) return rc < 0 ? 0 : rc;
  if (args.peak)
    return cli_bench_peak(args.model.num_threads, args.model.isa, args.json);
  cli_loaded loaded;
  rc = cli_load_model(&args.model, &loaded);
  if (rc) return rc;
  bench_result result = {0};
  int oom = 0;
  kiln_status *st = measure(&loaded, &args.model, &result, &oom);
  if (!st && !oom) report(&args, &loaded, &result);
  cli_unload_model(&loaded);
  if (oom) return out_of_memory("the run times");
  return st ? cli_fail(st) : 0;
}
