/* cmd_info.c - `kiln info MODEL`: what a model takes, gives and costs. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

static const char info_help[] =
    "usage: kiln info MODEL [--threads N] [--shape NAME=D0,D1,... ...]\n\n"
    "Prints the model's inputs and outputs (name, type, shape with -1 for\n"
    "dynamic dimensions, quantization), what the load-time passes did\n"
    "(constants folded, batch norms folded into weights, activations fused,\n"
    "no-op and dead operators removed), a histogram of its operators in the\n"
    "file and after those passes, its parameter count, file size, and the\n"
    "FLOPs and activation arena of one run at the default input shapes\n"
    "(dynamic dimensions at the file's placeholder sizes, often 1), or at\n"
    "the sizes --shape gives. Names from the file are printed with\n"
    "control characters and invalid UTF-8 as \\xHH.\n";

static void print_tensor(const kiln_tensor_info *t) {
  printf("  ");
  cli_print_name(stdout, t->name);
  size_t len = strlen(t->name);
  printf("%*s %-8s ", len < 24 ? (int)(24 - len) : 0, "",
         kiln_dtype_name(t->dtype));
  cli_print_dims(stdout, t->dims, t->rank);
  if (t->quant.count == 1)
    printf("  quant scale=%g zero_point=%lld", t->quant.scale[0],
           (long long)t->quant.zero_point[0]);
  else if (t->quant.count > 1)
    printf("  quant per-channel (%d scales, axis %d)", t->quant.count,
           t->quant.axis);
  printf("\n");
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
  int num_shapes = 0;
  for (int i = 1; i < argc; i++) {
    if (cli_is_help(argv[i])) {
      fputs(info_help, stdout);
      return 0;
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
    kiln_session_free(session);
    kiln_model_free(model);
    return 0;
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
  kiln_session_free(session);
  kiln_model_free(model);
  return st ? cli_fail(st) : rc;
}
