/* cmd_profile.c - `kiln profile MODEL`: where an invoke's time goes, kernel
 * by kernel, with an optional Chrome trace of the last run. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char profile_help[] =
    "usage: kiln profile MODEL [--threads N] [--batch B] [--warmup W]\n"
    "                    [--runs R] [--isa portable|avx2|avx512|avx512vnni]\n"
    "                    [--trace OUT.json]\n\n"
    "Runs the model on random inputs with per-kernel timing on: W warmup\n"
    "runs (default 2), then R profiled runs (default 10). Prints one row per\n"
    "kernel, slowest first: step, operator, kernel chosen (\"ref\" for the\n"
    "reference kernels, else the variant's name), element types (of the\n"
    "first input and output: \"int8\", \"float32->int8\"; \",w:int8\" for\n"
    "weights of another type, as in hybrid kernels), output shape,\n"
    "median time over the runs, share of the total and GFLOP/s; then the\n"
    "totals per operator type.\n\n"
    "  --threads N  threads per invoke (default 0: all cores)\n"
    "  --batch B    set dimension 0 of every input to B (it must be dynamic)\n"
    "  --isa L      use kernels up to instruction set L (default: the best)\n"
    "  --shape NAME=D0,D1,...\n"
    "               real sizes for an input's dynamic dimensions (repeatable)\n"
    "  --max-memory BYTES\n"
    "               the session's activation memory limit (default 4G)\n"
    "  --trace F    write the last run as a Chrome trace (JSON) to F, for\n"
    "               Perfetto (ui.perfetto.dev) or chrome://tracing\n";

typedef struct profile_args {
  cli_model_opts model;
  const char *trace_path;
} profile_args;

static int parse_args(int argc, char **argv, profile_args *args) {
  args->model.warmup = args->model.runs = -1;
  for (int i = 1; i < argc; i++) {
    if (cli_is_help(argv[i])) {
      fputs(profile_help, stdout);
      return -1;
    } else if (strcmp(argv[i], "--trace") == 0) {
      if (i + 1 >= argc)
        return cli_usage_error("profile", "--trace needs a file name");
      args->trace_path = argv[++i];
    } else {
      /* Runs are capped: every run keeps one time per kernel. */
      int rc =
          cli_parse_model_opt("profile", argc, argv, &i, 10000, &args->model);
      if (rc > 0) return rc;
      if (rc < 0)
        return cli_usage_error("profile", "unknown option '%s'", argv[i]);
    }
  }
  if (!args->model.model_path)
    return cli_usage_error("profile", "a MODEL path is required");
  if (args->model.warmup < 0) args->model.warmup = 2;
  if (args->model.runs < 0) args->model.runs = 10;
  return 0;
}

/* One kernel: its entry from the last run and its median over all runs. */
typedef struct step_row {
  kiln_profile_entry entry;
  int step;
  double median_us;
} step_row;

/* Times of every run, kernel-major: us[step * runs + run]. */
typedef struct profile_data {
  int steps, runs;
  double *us;
  double *invoke_us; /* wall time of each invoke */
  step_row *rows;
} profile_data;

static kiln_status *record_run(const cli_loaded *l, profile_data *d, int run) {
  kiln_session *s = l->session;
  kiln_status *st = cli_restore_inputs(l);
  if (st) return st;
  double start = cli_now_ms();
  st = kiln_session_invoke(s);
  d->invoke_us[run] = (cli_now_ms() - start) * 1e3;
  for (int k = 0; k < d->steps && !st; k++) {
    kiln_profile_entry e;
    st = kiln_session_profile_entry(s, k, &e);
    if (!st) d->us[(size_t)k * d->runs + run] = e.duration_us;
  }
  return st;
}

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *values, int count) {
  qsort(values, (size_t)count, sizeof *values, by_value);
  return count % 2 ? values[count / 2]
                   : 0.5 * (values[count / 2 - 1] + values[count / 2]);
}

/* The last run's entries, then each kernel's median (which sorts its
 * times, so this comes after the trace is written). */
static kiln_status *fill_rows(const kiln_session *s, profile_data *d) {
  for (int k = 0; k < d->steps; k++) {
    kiln_status *st = kiln_session_profile_entry(s, k, &d->rows[k].entry);
    if (st) return st;
    d->rows[k].step = k;
  }
  return NULL;
}

static void compute_medians(profile_data *d) {
  for (int k = 0; k < d->steps; k++)
    d->rows[k].median_us = median(d->us + (size_t)k * d->runs, d->runs);
}

static const char *format_dims(const kiln_profile_entry *e, char *buf,
                               size_t size) {
  size_t used = (size_t)snprintf(buf, size, "[");
  for (int i = 0; i < e->rank && used < size; i++)
    used += (size_t)snprintf(buf + used, size - used, i ? ",%lld" : "%lld",
                             (long long)e->dims[i]);
  if (used < size) snprintf(buf + used, size - used, "]");
  return buf;
}

static const char *kernel_name(const kiln_profile_entry *e) {
  return e->kernel ? e->kernel : "?";
}

/* "int8", or "float32->int8" when the first input's type differs from the
 * first output's (QUANTIZE, DEQUANTIZE, hybrid kernels). */
static const char *format_types(const kiln_profile_entry *e, char *buf,
                                size_t size) {
  int used;
  if (e->input_dtype == e->output_dtype)
    used = snprintf(buf, size, "%s", kiln_dtype_name(e->output_dtype));
  else
    used = snprintf(buf, size, "%s->%s", kiln_dtype_name(e->input_dtype),
                    kiln_dtype_name(e->output_dtype));
  /* Weights of another type than the activations: a hybrid kernel. */
  if (e->weights_dtype && e->weights_dtype != e->input_dtype && used >= 0 &&
      (size_t)used < size)
    snprintf(buf + used, size - (size_t)used, ",w:%s",
             kiln_dtype_name(e->weights_dtype));
  return buf;
}

static void trace_event(FILE *out, const step_row *row, int last) {
  char shape[160], types[48];
  fprintf(out, "  {\"name\": ");
  cli_json_string(out, row->entry.op);
  fprintf(out,
          ", \"cat\": \"kernel\", \"ph\": \"X\", \"pid\": 1, "
          "\"tid\": 1, \"ts\": ");
  cli_json_number(out, row->entry.start_us);
  fprintf(out, ", \"dur\": ");
  cli_json_number(out, row->entry.duration_us);
  fprintf(out,
          ", \"args\": {\"step\": %d, \"source_index\": %d, "
          "\"kernel\": ",
          row->step, row->entry.source_index);
  cli_json_string(out, kernel_name(&row->entry));
  fprintf(out, ", \"types\": ");
  cli_json_string(out, format_types(&row->entry, types, sizeof types));
  fprintf(out, ", \"shape\": ");
  cli_json_string(out, format_dims(&row->entry, shape, sizeof shape));
  fprintf(out, ", \"flops\": ");
  cli_json_number(out, row->entry.flops);
  fprintf(out, "}}%s\n", last ? "" : ",");
}

/* Chrome's trace format: complete ("X") events, times in microseconds. */
static int write_trace(const char *path, const profile_data *d) {
  FILE *out = fopen(path, "w");
  if (!out) {
    fprintf(stderr, "kiln: error: %s: cannot write: %s\n", path,
            strerror(errno));
    return CLI_EXIT_FAILURE;
  }
  fprintf(out, "{\"displayTimeUnit\": \"ms\", \"traceEvents\": [\n");
  for (int k = 0; k < d->steps; k++)
    trace_event(out, &d->rows[k], k == d->steps - 1);
  fprintf(out, "]}\n");
  int failed = ferror(out);
  if (fclose(out) != 0 || failed) {
    fprintf(stderr, "kiln: error: %s: write failed\n", path);
    return CLI_EXIT_FAILURE;
  }
  return 0;
}

static int by_time_desc(const void *a, const void *b) {
  const step_row *x = a, *y = b;
  if (x->median_us != y->median_us) return x->median_us < y->median_us ? 1 : -1;
  return x->step - y->step;
}

static int text_width(const char *text, int width) {
  int n = (int)strlen(text);
  return n > width ? n : width;
}

static void print_steps(const profile_data *d, double total_us) {
  int op_w = 2, kernel_w = 6, types_w = 5, shape_w = 12;
  char shape[160], types[48];
  for (int k = 0; k < d->steps; k++) {
    const kiln_profile_entry *e = &d->rows[k].entry;
    op_w = text_width(e->op, op_w);
    kernel_w = text_width(kernel_name(e), kernel_w);
    types_w = text_width(format_types(e, types, sizeof types), types_w);
    shape_w = text_width(format_dims(e, shape, sizeof shape), shape_w);
  }
  printf("  %5s  %-*s  %-*s  %-*s  %-*s  %10s  %6s  %8s\n", "step", op_w, "op",
         kernel_w, "kernel", types_w, "types", shape_w, "output shape",
         "median us", "share", "GFLOP/s");
  for (int k = 0; k < d->steps; k++) {
    const step_row *r = &d->rows[k];
    double share = total_us > 0 ? 100.0 * r->median_us / total_us : 0.0;
    printf("  %5d  %-*s  %-*s  %-*s  %-*s  %10.2f  %5.1f%%  ", r->step, op_w,
           r->entry.op, kernel_w, kernel_name(&r->entry), types_w,
           format_types(&r->entry, types, sizeof types), shape_w,
           format_dims(&r->entry, shape, sizeof shape), r->median_us, share);
    if (r->entry.flops > 0 && r->median_us > 0)
      printf("%8.2f\n", r->entry.flops / (r->median_us * 1e3));
    else
      printf("%8s\n", "-");
  }
}

/* Per operator type: kernels, summed medians, FLOPs. */
typedef struct op_total {
  const char *op;
  int count;
  double us, flops;
} op_total;

static int by_us_desc(const void *a, const void *b) {
  const op_total *x = a, *y = b;
  if (x->us != y->us) return x->us < y->us ? 1 : -1;
  return strcmp(x->op, y->op);
}

static int print_by_op(const profile_data *d, double total_us) {
  op_total *totals = calloc((size_t)d->steps + 1, sizeof *totals);
  if (!totals) return -1;
  int distinct = 0;
  for (int k = 0; k < d->steps; k++) {
    const step_row *r = &d->rows[k];
    int t = 0;
    while (t < distinct && strcmp(totals[t].op, r->entry.op) != 0) t++;
    if (t == distinct) totals[distinct++].op = r->entry.op;
    totals[t].count++;
    totals[t].us += r->median_us;
    totals[t].flops += r->entry.flops;
  }
  qsort(totals, (size_t)distinct, sizeof *totals, by_us_desc);
  printf("\nby operator:\n  %-24s %7s  %10s  %6s  %8s\n", "op", "kernels",
         "total us", "share", "GFLOP/s");
  for (int t = 0; t < distinct; t++) {
    const op_total *o = &totals[t];
    printf("  %-24s %7d  %10.2f  %5.1f%%  ", o->op, o->count, o->us,
           total_us > 0 ? 100.0 * o->us / total_us : 0.0);
    if (o->flops > 0 && o->us > 0)
      printf("%8.2f\n", o->flops / (o->us * 1e3));
    else
      printf("%8s\n", "-");
  }
  free(totals);
  return 0;
}

static void print_report(const profile_args *args, const cli_loaded *l,
                         profile_data *d) {
  kiln_session_stats stats = {0};
  kiln_status_free(kiln_session_stats_get(l->session, &stats));
  double total_us = 0.0, flops = 0.0;
  for (int k = 0; k < d->steps; k++) {
    total_us += d->rows[k].median_us;
    flops += d->rows[k].entry.flops;
  }
  double invoke_us = median(d->invoke_us, d->runs);
  printf(
      "%s: %d kernels, %s, %d thread%s, batch %d; median of %d runs "
      "after %d warmup\n\n",
      args->model.model_path, d->steps,
      kiln_isa_name(kiln_session_isa(l->session)), stats.num_threads,
      stats.num_threads == 1 ? "" : "s", l->batch, d->runs, args->model.warmup);
  qsort(d->rows, (size_t)d->steps, sizeof *d->rows, by_time_desc);
  print_steps(d, total_us);
  print_by_op(d, total_us);
  printf(
      "\ntotal: %.2f us in kernels (sum of medians), %.2f us per invoke "
      "(median), %.2f GFLOP/s\n",
      total_us, invoke_us, invoke_us > 0 ? flops / (invoke_us * 1e3) : 0.0);
}

static kiln_status *run_profile(const cli_loaded *l, int warmup,
                                profile_data *d) {
  kiln_status *st = kiln_session_set_profiling(l->session, 1);
  for (int k = 0; k < warmup && !st; k++) {
    st = cli_restore_inputs(l);
    if (!st) st = kiln_session_invoke(l->session);
  }
  for (int r = 0; r < d->runs && !st; r++) st = record_run(l, d, r);
  if (!st) st = fill_rows(l->session, d);
  return st;
}

static int alloc_data(const cli_loaded *l, int runs, profile_data *d) {
  kiln_session_stats stats;
  kiln_status *st = kiln_session_stats_get(l->session, &stats);
  if (st) return cli_fail(st);
  d->steps = stats.num_steps;
  d->runs = runs;
  d->us = calloc((size_t)d->steps * (size_t)runs + 1, sizeof *d->us);
  d->invoke_us = calloc((size_t)runs, sizeof *d->invoke_us);
  d->rows = calloc((size_t)d->steps + 1, sizeof *d->rows);
  if (d->us && d->invoke_us && d->rows) return 0;
  fprintf(stderr, "kiln: error: out of memory for %d runs of %d kernels\n",
          runs, d->steps);
  return CLI_EXIT_FAILURE;
}

int cmd_profile(int argc, char **argv) {
  profile_args args = {0};
  int rc = parse_args(argc, argv, &args);
  if (rc) return rc < 0 ? 0 : rc;
  cli_loaded loaded;
  rc = cli_load_model(&args.model, &loaded);
  if (rc) return rc;
  profile_data data = {0};
  rc = alloc_data(&loaded, args.model.runs, &data);
  kiln_status *st = NULL;
  if (!rc) st = run_profile(&loaded, args.model.warmup, &data);
  if (st) rc = cli_fail(st);
  if (!rc && args.trace_path) rc = write_trace(args.trace_path, &data);
  if (!rc) {
    compute_medians(&data);
    print_report(&args, &loaded, &data);
  }
  free(data.us);
  free(data.invoke_us);
  free(data.rows);
  cli_unload_model(&loaded);
  return rc;
}
