/* qz_weights.c - the modes that change constants only. Dynamic range
 * writes what TensorFlow's converter writes with Optimize.DEFAULT and no
 * calibration: the weights of FULLY_CONNECTED (per channel, inputs
 * quantized asymmetrically at run time), CONV_2D (per channel) and the
 * constant operand of BATCH_MATMUL (per tensor) as symmetric int8 when
 * they have at least 1024 elements, everything else float. Float16 stores every
 * float32 constant as float16 and dequantizes it once, by a DEQUANTIZE node at
 * the start of the graph. qz_symmetric_int8 is also the integer modes' weight
 * quantizer. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "kernels/ref/half_math.h"
#include "qz_internal.h"

/* TensorFlow leaves smaller weight tensors float (its
 * min_elements_for_weights). */
enum { DYNAMIC_MIN_ELEMENTS = 1024 };

int qz_symmetric_int8(const float *w, int rank, const int64_t *dims, int axis,
                      const float *min_scales, int8_t *out, float *scales) {
  size_t count = 1;
  for (int i = 0; i < rank; i++) count *= (size_t)dims[i];
  size_t channels = axis < 0 ? 1 : (size_t)dims[axis];
  size_t inner = 1; /* elements after the axis */
  for (int i = axis + 1; axis >= 0 && i < rank; i++) inner *= (size_t)dims[i];
  float *peak = calloc(channels + 1, sizeof(float));
  if (!peak) return -1;
  for (size_t i = 0; i < count; i++) {
    size_t c = axis < 0 ? 0 : (i / inner) % channels;
    if (fabsf(w[i]) > peak[c]) peak[c] = fabsf(w[i]);
  }
  for (size_t c = 0; c < channels; c++) {
    scales[c] = peak[c] > 0 ? peak[c] / 127.0f : 1.0f / 127.0f;
    if (min_scales && scales[c] < min_scales[c]) scales[c] = min_scales[c];
  }
  for (size_t i = 0; i < count; i++) {
    size_t c = axis < 0 ? 0 : (i / inner) % channels;
    float q = roundf(w[i] / scales[c]);
    out[i] = (int8_t)(q > 127 ? 127 : q < -127 ? -127 : q);
  }
  free(peak);
  return (int)channels;
}

static kiln_status *int8_weights(kiln_graph *g, int value, int axis, int *out) {
  const kiln_value *w = &g->values[value];
  size_t count = qz_numel(w);
  int channels = axis < 0 ? 1 : (int)w->dims[axis];
  int8_t *q = malloc(count + 1);
  float *scales = malloc(sizeof(float) * ((size_t)channels + 1));
  int64_t *zps = calloc((size_t)channels + 1, sizeof(int64_t));
  kiln_status *st = (q && scales && zps) ? NULL : KILN_OOM();
  if (!st &&
      qz_symmetric_int8(w->data, w->rank, w->dims, axis, NULL, q, scales) < 0)
    st = KILN_OOM();
  if (!st) {
    char name[512];
    snprintf(name, sizeof name, "%s", w->name);
    int64_t dims[KILN_MAX_RANK];
    memcpy(dims, w->dims, sizeof dims);
    st = qz_add_constant(g, name, KILN_INT8, w->rank, dims, q, count, scales,
                         zps, channels, axis < 0 ? 0 : axis, out);
  }
  free(q);
  free(scales);
  free(zps);
  return st;
}

/* Whether --keep-float names one of the node's outputs. */
static bool kept_float(const kiln_graph *g, const kiln_qz_options *opt,
                       const kiln_node *n) {
  for (int k = 0; k < opt->num_keep_float; k++)
    for (int o = 0; o < n->num_outputs; o++)
      if (strcmp(g->values[n->outputs[o]].name, opt->keep_float[k]) == 0)
        return true;
  return false;
}

kiln_status *qz_rewrite_dynamic(kiln_graph *g, const kiln_qz_options *opt,
                                int *count) {
  *count = 0;
  for (int n = 0; n < g->num_nodes; n++) {
    kiln_node *node = &g->nodes[n];
    if (node->op != KILN_OP_FULLY_CONNECTED && node->op != KILN_OP_CONV_2D &&
        node->op != KILN_OP_BATCH_MATMUL)
      continue;
    if (kept_float(g, opt, node)) continue;
    if (node->num_inputs < 2 || node->inputs[0] < 0 || node->inputs[1] < 0)
      continue;
    const kiln_value *in = &g->values[node->inputs[0]];
    const kiln_value *w = &g->values[node->inputs[1]];
    if (in->dtype != KILN_FLOAT32 || w->dtype != KILN_FLOAT32 ||
        !w->is_constant || !w->data || qz_numel(w) < DYNAMIC_MIN_ELEMENTS)
      continue;
    /* BATCH_MATMUL's constant operand is per tensor, as TF writes it */
    bool per_tensor = opt->per_tensor || node->op == KILN_OP_BATCH_MATMUL;
    int q;
    KILN_TRY(int8_weights(g, node->inputs[1], per_tensor ? -1 : 0, &q));
    node = &g->nodes[n];
    node->inputs[1] = q;
    if (node->op == KILN_OP_FULLY_CONNECTED)
      ((kiln_fully_connected_attrs *)node->attrs)->asymmetric_quantize_inputs =
          true;
    if (node->op == KILN_OP_BATCH_MATMUL)
      ((kiln_batch_matmul_attrs *)node->attrs)->asymmetric_quantize_inputs =
          true;
    (*count)++;
  }
  return *count ? qz_drop_unused_values(g) : NULL;
}

/* Which constants feed some node: those are stored as float16. */
static kiln_status *float_constants(const kiln_graph *g, int **out) {
  int *dequantized = malloc(sizeof(int) * ((size_t)g->num_values + 1));
  if (!dequantized) return KILN_OOM();
  for (int v = 0; v < g->num_values; v++) dequantized[v] = -1;
  *out = dequantized;
  return NULL;
}

kiln_status *qz_rewrite_float16(kiln_graph *g, int *count) {
  *count = 0;
  int *dequantized = NULL;
  KILN_TRY(float_constants(g, &dequantized));
  int n0 = g->num_values;
  bool *is_output = calloc((size_t)n0 + 1, sizeof(bool));
  int *inputs = NULL;
  qz_old_nodes old = {0};
  kiln_status *st = is_output ? NULL : KILN_OOM();
  for (int i = 0; !st && i < g->num_outputs; i++) is_output[g->outputs[i]] = 1;
  if (!st) qz_take_nodes(g, &old);
  /* DEQUANTIZE nodes first, in the order the constants are first used */
  for (int n = 0; !st && n < old.count; n++) {
    const kiln_node *node = &old.nodes[n];
    for (int i = 0; !st && i < node->num_inputs; i++) {
      int v = node->inputs[i];
      if (v < 0 || dequantized[v] >= 0 || is_output[v]) continue;
      const kiln_value *c = &g->values[v];
      if (!c->is_constant || c->dtype != KILN_FLOAT32 || !c->data) continue;
      size_t numel = qz_numel(c);
      uint16_t *h = malloc(sizeof(uint16_t) * (numel + 1));
      if (!h) {
        st = KILN_OOM();
        break;
      }
      const float *x = c->data;
      for (size_t k = 0; k < numel; k++) h[k] = kiln_double_to_half(x[k]);
      char name[512];
      snprintf(name, sizeof name, "%s", c->name);
      int64_t dims[KILN_MAX_RANK];
      memcpy(dims, c->dims, sizeof dims);
      int half, f;
      st = qz_add_constant(g, name, KILN_FLOAT16, c->rank, dims, h,
                           numel * sizeof(uint16_t), NULL, NULL, 0, 0, &half);
      free(h);
      if (!st)
        st = qz_add_convert(g, KILN_OP_DEQUANTIZE, half, KILN_FLOAT32,
                            "_dequantized", node->source_index, &f);
      if (!st) {
        dequantized[v] = f;
        (*count)++;
      }
    }
  }
  int max_inputs = 1;
  for (int n = 0; n < old.count; n++)
    if (old.nodes[n].num_inputs > max_inputs)
      max_inputs = old.nodes[n].num_inputs;
  if (!st) inputs = malloc(sizeof(int) * (size_t)max_inputs);
  if (!st && !inputs) st = KILN_OOM();
  for (int n = 0; !st && n < old.count; n++) {
    for (int i = 0; i < old.nodes[n].num_inputs; i++) {
      int v = old.nodes[n].inputs[i];
      inputs[i] =
          (v >= 0 && v < n0 && dequantized[v] >= 0) ? dequantized[v] : v;
    }
    st = qz_readd_node(g, &old, n, inputs);
  }
  qz_drop_old(g, &old);
  free(inputs);
  free(is_output);
  free(dequantized);
  if (!st && *count) st = qz_drop_unused_values(g);
  return st;
}
