/* qz_quantize.c - the quantizer's entry: checks the request, calibrates
 * (integer modes), rewrites a fresh import of the float model for the
 * mode, writes it with kiln's TFLite writer and loads the result back
 * once, so that a file kiln cannot run is never handed out. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "formats/npy/npy.h"
#include "formats/tflite/tflite_export.h"
#include "qz_internal.h"

kiln_qz_options kiln_qz_options_default(void) {
  kiln_qz_options o;
  memset(&o, 0, sizeof o);
  o.mode = KILN_QZ_INT8;
  o.method = KILN_QZ_MINMAX;
  o.percentile = 99.99;
  return o;
}

kiln_status *kiln_qz_parse_npy(const void *data, size_t size, const char *name,
                               kiln_array *out) {
  return kiln_npy_parse(data, size, name, out);
}

void kiln_qz_inputs_free(kiln_qz_inputs *info) {
  for (int i = 0; info->names && i < info->count; i++) free(info->names[i]);
  free(info->names);
  free(info->dtypes);
  free(info->ranks);
  free(info->dims);
  memset(info, 0, sizeof *info);
}

kiln_status *kiln_qz_read_inputs(const void *model, size_t size,
                                 const char *source, kiln_qz_inputs *info) {
  memset(info, 0, sizeof *info);
  kiln_graph *g = NULL;
  KILN_TRY(qz_import(model, size, source, &g));
  int n = g->num_inputs;
  info->names = calloc((size_t)n + 1, sizeof(char *));
  info->dtypes = calloc((size_t)n + 1, sizeof(kiln_dtype));
  info->ranks = calloc((size_t)n + 1, sizeof(int));
  info->dims = calloc((size_t)n + 1, sizeof(*info->dims));
  kiln_status *st = (info->names && info->dtypes && info->ranks && info->dims)
                        ? NULL
                        : KILN_OOM();
  for (int i = 0; !st && i < n; i++) {
    const kiln_value *v = &g->values[g->inputs[i]];
    info->count = i + 1;
    info->names[i] = strdup(g->input_names[i]);
    if (!info->names[i]) st = KILN_OOM();
    info->dtypes[i] = v->dtype;
    info->ranks[i] = v->rank;
    memcpy(info->dims[i], v->dims, sizeof info->dims[i]);
  }
  kiln_graph_free(g);
  if (st) kiln_qz_inputs_free(info);
  return st;
}

static kiln_status *check_options(const kiln_qz_options *opt,
                                  const kiln_qz_source *cal) {
  if (opt->mode < KILN_QZ_DYNAMIC || opt->mode > KILN_QZ_FLOAT16)
    return kiln_error(KILN_ERR_INVALID_ARGUMENT, "unknown mode %d", opt->mode);
  if (opt->method < KILN_QZ_MINMAX || opt->method > KILN_QZ_ENTROPY)
    return kiln_error(KILN_ERR_INVALID_ARGUMENT, "unknown method %d",
                      opt->method);
  if (opt->method == KILN_QZ_PERCENTILE &&
      !(opt->percentile > 0 && opt->percentile <= 100))
    return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                      "the percentile must be in (0, 100], not %g",
                      opt->percentile);
  bool integer = opt->mode == KILN_QZ_INT8 || opt->mode == KILN_QZ_INT16X8;
  if (integer && !cal)
    return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                      "--mode %s needs calibration data (--calibration)",
                      opt->mode == KILN_QZ_INT8 ? "int8" : "int16x8");
  if (opt->report && !cal)
    return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                      "--report needs samples (--calibration)");
  return NULL;
}

/* Every --keep-float name must be a tensor some operator produces. */
static kiln_status *check_keep_float(const kiln_graph *g,
                                     const kiln_qz_options *opt,
                                     const char *source) {
  for (int k = 0; k < opt->num_keep_float; k++) {
    bool found = false;
    for (int n = 0; !found && n < g->num_nodes; n++)
      for (int o = 0; !found && o < g->nodes[n].num_outputs; o++)
        found = strcmp(g->values[g->nodes[n].outputs[o]].name,
                       opt->keep_float[k]) == 0;
    if (!found)
      return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                        "%s: --keep-float: no operator produces a tensor "
                        "named '%s'",
                        source, opt->keep_float[k]);
  }
  return NULL;
}

/* Models kiln quantize leaves alone: control flow (other subgraphs). */
static kiln_status *check_graph(const kiln_graph *g, const char *source) {
  for (int n = 0; n < g->num_nodes; n++) {
    int refs[KILN_MAX_NODE_SUBGRAPHS];
    const char *names[KILN_MAX_NODE_SUBGRAPHS];
    if (kiln_node_subgraphs(&g->nodes[n], refs, names) > 0)
      return kiln_error(KILN_ERR_UNSUPPORTED,
                        "%s: operator %d (%s) runs other subgraphs; kiln "
                        "quantize handles single-graph models only",
                        source, g->nodes[n].source_index,
                        kiln_op_table[g->nodes[n].op].name);
    if (g->nodes[n].op == KILN_OP_CUSTOM)
      return kiln_error(KILN_ERR_UNSUPPORTED,
                        "%s: operator %d is a custom operator, which kiln "
                        "quantize cannot rewrite",
                        source, g->nodes[n].source_index);
  }
  return NULL;
}

static void free_observers(qz_observer *obs, int count) {
  for (int i = 0; obs && i < count; i++) free(obs[i].bins);
  free(obs);
}

static kiln_status *new_observers(int count, kiln_qz_method method,
                                  qz_observer **out) {
  qz_observer *obs = calloc((size_t)count + 1, sizeof *obs);
  if (!obs) return KILN_OOM();
  for (int i = 0; method != KILN_QZ_MINMAX && i < count; i++) {
    obs[i].histogram = true;
    obs[i].bins = calloc(QZ_BINS, sizeof(double));
    if (!obs[i].bins) {
      free_observers(obs, count);
      return KILN_OOM();
    }
  }
  *out = obs;
  return NULL;
}

static kiln_status *rewrite(kiln_graph *g, const kiln_qz_options *opt,
                            const qz_observer *obs, int num_obs) {
  int count = 0;
  switch (opt->mode) {
    case KILN_QZ_INT8:
    case KILN_QZ_INT16X8:
      KILN_TRY(qz_rewrite_integer(g, opt, obs, num_obs, NULL, &count));
      return qz_drop_unused_values(g);
    case KILN_QZ_DYNAMIC:
      KILN_TRY(qz_rewrite_dynamic(g, opt, &count));
      if (!count)
        return kiln_error(
            KILN_ERR_INVALID_ARGUMENT,
            "the model has no float weights to quantize (dynamic "
            "range quantizes constant FULLY_CONNECTED, CONV_2D and "
            "BATCH_MATMUL weights of at least 1024 elements)");
      return NULL;
    case KILN_QZ_FLOAT16:
      KILN_TRY(qz_rewrite_float16(g, &count));
      if (!count)
        return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                          "the model has no float32 constants to store as "
                          "float16");
      return NULL;
  }
  return NULL;
}

kiln_status *kiln_qz_quantize(const void *model, size_t size,
                              const char *source, const kiln_qz_options *opt,
                              const kiln_qz_source *cal, void **out_bytes,
                              size_t *out_size) {
  *out_bytes = NULL;
  *out_size = 0;
  if (!source) source = "<model>";
  KILN_TRY(check_options(opt, cal));
  kiln_graph *g = NULL;
  KILN_TRY(qz_import(model, size, source, &g));
  kiln_status *st = check_graph(g, source);
  if (!st) st = check_keep_float(g, opt, source);
  int num_obs = g->num_values;
  qz_observer *obs = NULL;
  bool integer = opt->mode == KILN_QZ_INT8 || opt->mode == KILN_QZ_INT16X8;
  if (!st) st = new_observers(num_obs, opt->method, &obs);
  if (!st && integer)
    st = qz_calibrate(model, size, source, opt, cal, obs, num_obs);
  if (!st) st = rewrite(g, opt, obs, num_obs);
  if (!st) st = kiln_graph_validate(g, source);
  void *bytes = NULL;
  size_t nbytes = 0;
  if (!st) st = kiln_tflite_export(g, NULL, &bytes, &nbytes);
  kiln_graph_free(g);
  kiln_model *check = NULL;
  if (!st)
    st = kiln_status_wrap(
        kiln_model_load_buffer(bytes, nbytes, source, NULL, &check),
        "%s: the quantized model does not load back", source);
  kiln_model_free(check);
  if (!st && opt->report)
    st = qz_report(model, size, source, opt, cal, obs, num_obs);
  free_observers(obs, num_obs);
  if (st) {
    free(bytes);
    return st;
  }
  *out_bytes = bytes;
  *out_size = nbytes;
  return NULL;
}
