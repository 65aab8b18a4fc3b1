/* cmd_info.c - `kiln info MODEL`: what a model takes, gives and costs. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

static const char info_help[] =
    "usage: kiln info MODEL [--threads N] [--shape NAME=D0,D1,... ...]\n"
    "                 [--tensors]\n\n"
    "Prints the model's inputs and outputs (name, type, shape with -1 for\n"
    "dynamic dimensions, quantization), what the load-time passes did\n"
    "(constants folded, batch norms folded into weights, activations fused,\n"
    "no-op and dead operators removed), a histogram of its operators in the\n"
    "file and after those passes, its parameter count, file size, and the\n"
    "FLOPs and activation arena of one run at the default input shapes\n"
    "(dynamic dimensions at the file's placeholder sizes, often 1), or at\n"
    "the sizes --shape gives. Names from the file are printed with\n"
    "control characters and invalid UTF-8 as \\xHH.\n\n"
    "Quantized tensors show their parameters: \"scale S zero_point Z\" per\n"
    "tensor, \"per-channel(N) axis A, scale MIN..MAX, zero_point Z\" per\n"
    "channel (real = scale * (q - zero_point)).\n\n"
    "  --tensors    also list every tensor of the graph after the load-time\n"
    "               passes: index, name, type, shape, constant or not, and\n"
    "               quantization\n";

/* " scale S zero_point Z", or for per-channel parameters
 * " per-channel(N) axis A, scale MIN..MAX, zero_point Z" (a range of zero
 * points when they differ); nothing for a tensor without parameters. */
static void print_quant(const kiln_quant_info *q) {
  if (q->count <= 0 || !q->scale || !q->zero_point) return;
  if (q->count == 1) {
    printf("  scale %g zero_point %lld", q->scale[0],
           (long long)q->zero_point[0]);
    return;
  }
  float smin = q->scale[0], smax = q->scale[0];
  int64_t zmin = q->zero_point[0], zmax = q->zero_point[0];
  for (int c = 1; c < q->count; c++) {
    if (q->scale[c] < smin) smin = q->scale[c];
    if (q->scale[c] > smax) smax = q->scale[c];
    if (q->zero_point[c] < zmin) zmin = q->zero_point[c];
    if (q->zero_point[c] > zmax) zmax = q->zero_point[c];
  }
  printf("  per-channel(%d) axis %d, scale %g..%g, zero_point %lld", q->count,
         q->axis, smin, smax, (long long)zmin);
  if (zmax != zmin) printf("..%lld", (long long)zmax);
}

/* name, dtype and shape in columns, then `note` and the quantization. */
static void print_tensor_line(const kiln_tensor_info *t, const char *note) {
  cli_print_name(stdout, t->name);
  size_t len = strlen(t->name);
  printf("%*s %-8s ", len < 24 ? (int)(24 - len) : 0, "",
         kiln_dtype_name(t->dtype));
  cli_print_dims(stdout, t->dims, t->rank);
  if (note) printf("  %s", note);
  print_quant(&t->quant);
  printf("\n");
}

static void print_tensor(const kiln_tensor_info *t) {
  printf("  ");
  print_tensor_line(t, NULL);
}

/* One line of --tensors per tensor the graph still uses (the passes leave
 * folded values behind, unreferenced): index, then the tensor line. */
static kiln_status *print_all_tensors(const kiln_model *model) {
  int count = kiln_model_num_tensors(model), listed = 0, quantized = 0;
  for (int i = 0; i < count; i++) {
    kiln_tensor_info t;
    int flags = 0;
    kiln_status *st = kiln_model_tensor_info(model, i, &t, &flags);
    if (st) return st;
    if (flags & KILN_TENSOR_UNUSED) continue;
    if (!listed++) printf("tensors:\n");
    printf("  %5d  ", i);
    print_tensor_line(&t, flags & KILN_TENSOR_CONSTANT ? "const" : NULL);
    quantized += t.quant.count > 0;
  }
  printf("tensors listed: %d (%d quantized)", listed, quantized);
  if (listed < count)
    printf("; %d more were folded away by the load-time passes",
           count - listed);
  printf("\n");
  return NULL;
}

/* One line on how the model is quantized: tensors with parameters by
 * dtype, and how many of them are per-channel. */
static kiln_status *print_quant_summary(const kiln_model *model) {
  enum { MAX_KINDS = 16 };
  kiln_dtype kinds[MAX_KINDS];
  int counts[MAX_KINDS], distinct = 0, quantized = 0, per_channel = 0;
  int used = 0;
  for (int i = 0; i < kiln_model_num_tensors(model); i++) {
    kiln_tensor_info t;
    int flags = 0;
    kiln_status *st = kiln_model_tensor_info(model, i, &t, &flags);
    if (st) return st;
    if (flags & KILN_TENSOR_UNUSED) continue;
    used++;
    if (t.quant.count <= 0) continue;
    quantized++;
    per_channel += t.quant.count > 1;
    int k = 0;
    while (k < distinct && kinds[k] != t.dtype) k++;
    if (k == distinct && distinct < MAX_KINDS) {
      kinds[distinct] = t.dtype;
      counts[distinct++] = 0;
    }
    if (k < distinct) counts[k]++;
  }
  if (!quantized) {
    printf("quantization: none (%d tensors)\n", used);
    return NULL;
  }
  printf("quantization: %d of %d tensors (", quantized, used);
  for (int k = 0; k < distinct; k++)
    printf("%s%s %d", k ? ", " : "", kiln_dtype_name(kinds[k]), counts[k]);
  printf("; %d per-channel)\n", per_channel);
  return NULL;
}

typedef struct op_count {
  const char *name;
  int in_file, after; /* in the file / in the graph after load-time passes */
} op_count;

static int by_count_then_name(const void *a, const void *b) {
  const op_count *x = a, *y = b;
  if (x->in_file != y->in_file) return y->in_file - x->in_file;
  if (x->after != y->after) return y->after - x->after;
  return strcmp(x->name, y->name);
}

/* The slot of `name` in counts[0..*distinct), appended when new. */
static op_count *slot(op_count *counts, int *distinct, const char *name) {
  int k = 0;
  while (k < *distinct && strcmp(counts[k].name, name) != 0) k++;
  if (k == *distinct) counts[(*distinct)++].name = name;
  return &counts[k];
}

/* Each operator kind with its count in the file and after the passes, so
 * what folding and fusing changed shows row by row. */
static int print_histogram(const kiln_model *model,
                           const kiln_model_stats *stats) {
  int num_ops = stats->num_source_ops, num_nodes = stats->num_nodes;
  op_count *counts =
      calloc((size_t)num_ops + (size_t)num_nodes + 1, sizeof *counts);
  if (!counts) return -1;
  int distinct = 0;
  for (int i = 0; i < num_ops; i++)
    slot(counts, &distinct, kiln_model_source_op_name(model, i))->in_file++;
  for (int i = 0; i < num_nodes; i++)
    slot(counts, &distinct, kiln_model_node_op_name(model, i))->after++;
  qsort(counts, (size_t)distinct, sizeof *counts, by_count_then_name);
  printf("operators: %d in the file, %d after load-time passes\n", num_ops,
         num_nodes);
  printf("  %-28s %7s %7s\n", "", "file", "after");
  for (int k = 0; k < distinct; k++)
    printf("  %-28s %7d %7d\n", counts[k].name, counts[k].in_file,
           counts[k].after);
  free(counts);
  return 0;
}

/* "1.50 MiB" into buf. */
static const char *format_size(double bytes, char *buf, size_t size) {
  const char *unit = "B";
  if (bytes >= 1024.0 * 1024.0) {
    bytes /= 1024.0 * 1024.0;
    unit = "MiB";
  } else if (bytes >= 1024.0) {
    bytes /= 1024.0;
    unit = "KiB";
  }
  snprintf(buf, size, "%.2f %s", bytes, unit);
  return buf;
}

int cmd_info(int argc, char **argv) {
  const char *path = NULL;
  kiln_options options = kiln_options_default();
  cli_shape shapes[CLI_MAX_SHAPES];
  int num_shapes = 0, all_tensors = 0;
  for (int i = 1; i < argc; i++) {
    if (cli_is_help(argv[i])) {
      fputs(info_help, stdout);
      return 0;
    } else if (strcmp(argv[i], "--tensors") == 0) {
      all_tensors = 1;
    } else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
      if (cli_parse_int(argv[++i], 0, 1024, &options.num_threads))
        return cli_usage_error("info", "--threads takes 0..1024, got '%s'",
                               argv[i]);
    } else if (strcmp(argv[i], "--shape") == 0 && i + 1 < argc) {
      if (num_shapes == CLI_MAX_SHAPES)
        return cli_usage_error("info", "at most %d --shape options",
                               CLI_MAX_SHAPES);
      int rc = cli_parse_shape("info", argv[++i], &shapes[num_shapes++]);
      if (rc) return rc;
    } else if (argv[i][0] == '-') {
      return cli_usage_error("info", "unknown option '%s'", argv[i]);
    } else if (!path) {
      path = argv[i];
    } else {
      return cli_usage_error("info", "one model at a time ('%s')", argv[i]);
    }
  }
  if (!path) return cli_usage_error("info", "a MODEL path is required");

  kiln_model *model = NULL;
  kiln_status *st = kiln_model_load_file(path, &options, &model);
  if (st) return cli_fail(st);
  struct stat file_info;
  char size[32];
  kiln_model_stats stats;
  st = kiln_model_stats_get(model, &stats);
  if (st) {
    kiln_model_free(model);
    return cli_fail(st);
  }
  printf("model: %s\nformat: %s\n", path, stats.format);
  if (stat(path, &file_info) == 0)
    printf("file size: %s\n",
           format_size((double)file_info.st_size, size, sizeof size));
  printf("inputs: %d\n", kiln_model_num_inputs(model));
  for (int i = 0; i < kiln_model_num_inputs(model) && !st; i++) {
    kiln_tensor_info t;
    if (!(st = kiln_model_input_info(model, i, &t))) print_tensor(&t);
  }
  printf("outputs: %d\n", kiln_model_num_outputs(model));
  for (int i = 0; i < kiln_model_num_outputs(model) && !st; i++) {
    kiln_tensor_info t;
    if (!(st = kiln_model_output_info(model, i, &t))) print_tensor(&t);
  }
  printf(
      "graph: %d operators in the file -> %d after passes (%d folded into "
      "constants, %d batch-norm ops folded, %d activations fused, %d no-ops "
      "removed, %d dead removed, %d depthwise bottlenecks fused, %d residual "
      "ADDs fused)\n",
      stats.num_source_ops, stats.num_nodes, stats.folded_constants,
      stats.folded_batchnorms, stats.fused_activations, stats.removed_noops,
      stats.removed_dead, stats.fused_bottlenecks, stats.fused_residuals);
  if (!st && print_histogram(model, &stats) != 0)
    st = NULL; /* the histogram is best effort when memory is short */
  if (!st) st = print_quant_summary(model);
  printf("parameters: %lld\n", (long long)stats.num_parameters);
  printf("parameter memory: %s\n",
         format_size((double)stats.parameter_bytes, size, sizeof size));
  kiln_session *session = NULL;
  if (!st) st = kiln_session_create(model, NULL, &session);
  kiln_session_stats run;
  int rc = 0;
  if (!st && num_shapes)
    rc = cli_apply_shapes("info", model, session, shapes, num_shapes, 0);
  if (!st && !rc && !kiln_session_is_prepared(session)) {
    /* Dynamic sizes whose placeholders do not prepare: the rest of the
     * model is described; the per-run figures need real sizes. */
    printf(
        "per-run figures: the dynamic input dimensions need real sizes "
        "(--shape NAME=D0,D1,...)\n");
    if (all_tensors) st = print_all_tensors(model);
    kiln_session_free(session);
    kiln_model_free(model);
    return st ? cli_fail(st) : 0;
  }
  if (!st && !rc) st = kiln_session_stats_get(session, &run);
  if (!st && !rc) {
    printf(
        "kernels per run: %d (after load-time passes and shape "
        "arithmetic)\n",
        run.num_steps);
    printf("FLOPs per run: %.4g (%.3f GFLOP)\n", run.flops, run.flops / 1e9);
    printf("activation arena: %s",
           format_size((double)run.arena_bytes, size, sizeof size));
    printf(" (one buffer per tensor: %s)\n",
           format_size((double)run.naive_bytes, size, sizeof size));
  }
  if (!st && !rc && all_tensors) st = print_all_tensors(model);
  kiln_session_free(session);
  kiln_model_free(model);
  return st ? cli_fail(st) : rc;
}
