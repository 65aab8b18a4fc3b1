/* qz_rewrite.c - the full-integer rewrite (--mode int8 and int16x8), as
 * TensorFlow's converter writes such models: every float activation gets
 * integer parameters from its calibrated range (int8 asymmetric, or int16
 * symmetric with zero point 0); the weights of CONV_2D, DEPTHWISE_CONV_2D
 * and FULLY_CONNECTED become symmetric int8, per channel by default; their
 * biases int32 (int64 for int16 activations) at input scale x weight
 * scale; LOGISTIC, SOFTMAX and TANH outputs take the fixed parameters of
 * TFLite's integer spec; the ops that move values without arithmetic
 * (reshapes, pools, pad, transpose, slices, resize, max/min, concat) keep
 * their input's parameters, since LiteRT's kernels for them do not rescale.
 * Ops with no integer kernel, and the layers --keep-float names, stay
 * float, with DEQUANTIZE before and QUANTIZE after them; with --io float
 * the model's inputs are quantized and its outputs dequantized inside it.
 *
 * Value ids stay those of the import (new values are appended), so the
 * caller can map every original tensor to its integer form. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "qz_internal.h"

enum { DOMAIN_FLOAT = 0, DOMAIN_INT = 1 };

typedef enum role {
  ROLE_OWN,   /* output quantized over its own calibrated range */
  ROLE_FIXED, /* output parameters fixed by the spec */
  ROLE_SAME,  /* output shares input 0's parameters */
  ROLE_ALL,   /* inputs and output share one set (concat, max, min) */
} role;

typedef struct op_rule {
  kiln_op_type op;
  role role;
  bool int16; /* also in int16x8 mode */
} op_rule;

static const op_rule RULES[] = {
    {KILN_OP_CONV_2D, ROLE_OWN, true},
    {KILN_OP_DEPTHWISE_CONV_2D, ROLE_OWN, true},
    {KILN_OP_FULLY_CONNECTED, ROLE_OWN, true},
    {KILN_OP_ADD, ROLE_OWN, true},
    {KILN_OP_SUB, ROLE_OWN, true},
    {KILN_OP_MUL, ROLE_OWN, true},
    {KILN_OP_MEAN, ROLE_OWN, true},
    /* a constant operand is quantized as an activation (asymmetric, its
     * own range), as TF's converter writes it */
    {KILN_OP_BATCH_MATMUL, ROLE_OWN, true},
    {KILN_OP_RELU, ROLE_OWN, true},
    {KILN_OP_RELU6, ROLE_OWN, false},
    {KILN_OP_HARD_SWISH, ROLE_OWN, false},
    {KILN_OP_LOGISTIC, ROLE_FIXED, true},
    {KILN_OP_TANH, ROLE_FIXED, true},
    {KILN_OP_SOFTMAX, ROLE_FIXED, true},
    {KILN_OP_RESHAPE, ROLE_SAME, true},
    {KILN_OP_SQUEEZE, ROLE_SAME, true},
    {KILN_OP_EXPAND_DIMS, ROLE_SAME, true},
    {KILN_OP_MAX_POOL_2D, ROLE_SAME, true},
    {KILN_OP_AVERAGE_POOL_2D, ROLE_SAME, true},
    {KILN_OP_PAD, ROLE_SAME, true},
    {KILN_OP_TRANSPOSE, ROLE_SAME, true},
    {KILN_OP_STRIDED_SLICE, ROLE_SAME, true},
    {KILN_OP_SLICE, ROLE_SAME, true},
    {KILN_OP_RESIZE_NEAREST_NEIGHBOR, ROLE_SAME, true},
    {KILN_OP_RESIZE_BILINEAR, ROLE_SAME, false},
    {KILN_OP_CONCATENATION, ROLE_ALL, true},
    {KILN_OP_MAXIMUM, ROLE_ALL, true},
    {KILN_OP_MINIMUM, ROLE_ALL, true},
};

static const op_rule *find_rule(kiln_op_type op, bool int16) {
  for (size_t i = 0; i < sizeof RULES / sizeof RULES[0]; i++)
    if (RULES[i].op == op) return int16 && !RULES[i].int16 ? NULL : &RULES[i];
  return NULL;
}

static bool has_weights(kiln_op_type op) {
  return op == KILN_OP_CONV_2D || op == KILN_OP_DEPTHWISE_CONV_2D ||
         op == KILN_OP_FULLY_CONNECTED;
}

typedef struct rewriter {
  kiln_graph *g;
  const kiln_qz_options *opt;
  const qz_observer *obs;
  int n0; /* values before the rewrite */
  bool int16;
  kiln_dtype int_type;
  bool *quantized; /* per original node */
  bool *has;       /* per original value: scale/zp chosen */
  float *scale;
  int *zp;
  unsigned char *domain;
  int *int_twin, *float_twin;
  int *consumers;
  bool *graph_io;
} rewriter;

static void set_params(rewriter *r, int v, float scale, int zp) {
  r->has[v] = true;
  r->scale[v] = scale;
  r->zp[v] = zp;
}

/* Parameters over [lo, hi] for the mode's activation type. */
static void params_for_range(const rewriter *r, double lo, double hi,
                             float *scale, int *zp) {
  if (r->int16) {
    *scale = qz_symmetric_scale(lo, hi, 32767);
    *zp = 0;
  } else {
    qz_asymmetric_params(lo, hi, -128, 127, scale, zp);
  }
}

/* A value's own parameters: a constant's from its data, an activation's
 * from calibration. False when it has none (never observed). */
static bool own_params(rewriter *r, int v) {
  if (r->has[v]) return true;
  const kiln_value *val = &r->g->values[v];
  double lo = 0, hi = 0;
  if (val->is_constant) {
    if (val->dtype != KILN_FLOAT32 || !val->data) return false;
    const float *x = val->data;
    size_t n = val->nbytes / sizeof(float);
    for (size_t i = 0; i < n; i++) {
      if (x[i] < lo) lo = x[i];
      if (x[i] > hi) hi = x[i];
    }
  } else {
    if (!r->obs[v].seen) return false;
    qz_observed_range(&r->obs[v], r->opt->method, r->opt->percentile, &lo, &hi);
  }
  float s;
  int z;
  params_for_range(r, lo, hi, &s, &z);
  set_params(r, v, s, z);
  return true;
}

static bool kept_float(const rewriter *r, const kiln_node *n) {
  for (int k = 0; k < r->opt->num_keep_float; k++)
    for (int o = 0; o < n->num_outputs; o++)
      if (strcmp(r->g->values[n->outputs[o]].name, r->opt->keep_float[k]) == 0)
        return true;
  return false;
}

/* Whether node n can run in integers: a known op, float outputs, float
 * inputs that are constants or observed, constant weights. */
static bool can_quantize(rewriter *r, const kiln_node *n) {
  const op_rule *rule = find_rule(n->op, r->int16);
  if (!rule || kept_float(r, n)) return false;
  for (int o = 0; o < n->num_outputs; o++) {
    const kiln_value *v = &r->g->values[n->outputs[o]];
    if (v->dtype != KILN_FLOAT32 || v->is_variable) return false;
  }
  bool any_float = false;
  for (int i = 0; i < n->num_inputs; i++) {
    int v = n->inputs[i];
    if (v < 0) continue;
    const kiln_value *val = &r->g->values[v];
    if (val->dtype != KILN_FLOAT32) continue;
    any_float = true;
    if (has_weights(n->op) && i >= 1) {
      if (!val->is_constant || !val->data) return false;
      continue;
    }
    if (!own_params(r, v)) return false;
  }
  if (has_weights(n->op) &&
      (n->num_inputs < 2 || n->inputs[0] < 0 || n->inputs[1] < 0 ||
       r->g->values[n->inputs[0]].dtype != KILN_FLOAT32))
    return false;
  return any_float;
}

/* The output parameters of a quantized node (inputs' already chosen). */
static void choose_output_params(rewriter *r, const kiln_node *n) {
  const op_rule *rule = find_rule(n->op, r->int16);
  int out = n->outputs[0];
  switch (rule->role) {
    case ROLE_OWN:
      own_params(r, out);
      break;
    case ROLE_FIXED:
      if (r->int16)
        set_params(r, out, 1.0f / 32768, 0);
      else if (n->op == KILN_OP_TANH)
        set_params(r, out, 1.0f / 128, 0);
      else
        set_params(r, out, 1.0f / 256, -128);
      break;
    case ROLE_SAME:
      set_params(r, out, r->scale[n->inputs[0]], r->zp[n->inputs[0]]);
      break;
    case ROLE_ALL: {
      /* Inputs that already agree give the output their parameters (no
       * requantization); otherwise the output's own range is used, and
       * inputs nothing else constrains (a single consumer, produced by an
       * op of their own range) adopt it, the rest are requantized. */
      bool agree = true;
      int first = -1;
      for (int i = 0; i < n->num_inputs; i++) {
        int v = n->inputs[i];
        if (v < 0 || r->g->values[v].dtype != KILN_FLOAT32) continue;
        if (first < 0)
          first = v;
        else if (r->scale[v] != r->scale[first] || r->zp[v] != r->zp[first])
          agree = false;
      }
      if (agree && first >= 0) {
        set_params(r, out, r->scale[first], r->zp[first]);
        break;
      }
      own_params(r, out);
      break;
    }
  }
  for (int o = 1; o < n->num_outputs; o++)
    set_params(r, n->outputs[o], r->scale[out], r->zp[out]);
}

/* ROLE_ALL inputs that can simply take the output's parameters. */
static void unify_free_inputs(rewriter *r, const kiln_node *nodes,
                              const int *producer, const kiln_node *n) {
  int out = n->outputs[0];
  for (int i = 0; i < n->num_inputs; i++) {
    int v = n->inputs[i];
    if (v < 0 || v >= r->n0 || r->g->values[v].is_constant) continue;
    if (r->g->values[v].dtype != KILN_FLOAT32) continue;
    int p = producer[v];
    if (p < 0 || !r->quantized[p] || r->consumers[v] != 1 || r->graph_io[v])
      continue;
    const op_rule *rule = find_rule(nodes[p].op, r->int16);
    if (rule->role != ROLE_OWN) continue;
    set_params(r, v, r->scale[out], r->zp[out]);
  }
}

static kiln_status *quant_of(rewriter *r, int v) {
  int64_t zp = r->zp[v];
  return qz_set_quant(r->g, v, &r->scale[v], &zp, 1, 0);
}

/* The integer form of value v, made by a QUANTIZE when v is float. */
static kiln_status *int_form(rewriter *r, int v, int source_index, int *out) {
  if (r->domain[v] == DOMAIN_INT) {
    *out = v;
    return NULL;
  }
  if (r->int_twin[v] < 0) {
    int t;
    KILN_TRY(qz_add_convert(r->g, KILN_OP_QUANTIZE, v, r->int_type,
                            r->int16 ? "_int16" : "_int8", source_index, &t));
    int64_t zp = r->zp[v];
    KILN_TRY(qz_set_quant(r->g, t, &r->scale[v], &zp, 1, 0));
    r->int_twin[v] = t;
  }
  *out = r->int_twin[v];
  return NULL;
}

/* The float form of value v, made by a DEQUANTIZE when v is integer. */
static kiln_status *float_form(rewriter *r, int v, int source_index, int *out) {
  if (r->domain[v] == DOMAIN_FLOAT) {
    *out = v;
    return NULL;
  }
  if (r->float_twin[v] < 0) {
    int t;
    KILN_TRY(qz_add_convert(r->g, KILN_OP_DEQUANTIZE, v, KILN_FLOAT32, "_float",
                            source_index, &t));
    r->float_twin[v] = t;
  }
  *out = r->float_twin[v];
  return NULL;
}

/* An int32 bias is bias / (input scale x weight scale): a large bias
 * behind an input of tiny range (a squeeze-excite's "+3" after a pooled
 * near-zero tensor) would overflow it. As TF's converter does, such a
 * channel's weight scale is raised until the bias fits in half the int32
 * range (headroom for the products added to it); NULL when no channel
 * needs it or for int64 biases. */
static float *bias_limited_scales(const rewriter *r, const kiln_node *n,
                                  int channels) {
  if (r->int16 || n->num_inputs < 3 || n->inputs[2] < 0) return NULL;
  const kiln_value *b = &r->g->values[n->inputs[2]];
  if (b->dtype != KILN_FLOAT32 || !b->data) return NULL;
  float *min = calloc((size_t)channels + 1, sizeof(float));
  if (!min) return NULL;
  double in_scale = r->scale[n->inputs[0]];
  const float *x = b->data;
  size_t count = qz_numel(b);
  for (size_t i = 0; i < count; i++) {
    int c = channels == 1 ? 0 : (int)(i % (size_t)channels);
    /* 1% under the limit, so that rounding the scale to float cannot
     * push the bias past it */
    double need = fabs(x[i]) / (in_scale * (0.99 * INT32_MAX / 2.0));
    if (need > min[c]) min[c] = (float)need;
  }
  return min;
}

/* The quantized weights of a CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED
 * and its bias; w_scales receives the weights' scales (count returned). */
static kiln_status *quantize_weights(rewriter *r, const kiln_node *n,
                                     int *weights, float **w_scales,
                                     int *w_count) {
  const kiln_value *w = &r->g->values[n->inputs[1]];
  int axis = r->opt->per_tensor                   ? -1
             : n->op == KILN_OP_DEPTHWISE_CONV_2D ? w->rank - 1
                                                  : 0;
  size_t count = qz_numel(w);
  int channels = axis < 0 ? 1 : (int)w->dims[axis];
  int8_t *q = malloc(count ? count : 1);
  float *scales = malloc(sizeof(float) * (size_t)(channels + 1));
  int64_t *zps = calloc((size_t)channels + 1, sizeof(int64_t));
  kiln_status *st = (q && scales && zps) ? NULL : KILN_OOM();
  if (!st) {
    float *min_scales = bias_limited_scales(r, n, channels);
    if (qz_symmetric_int8(w->data, w->rank, w->dims, axis, min_scales, q,
                          scales) < 0)
      st = KILN_OOM();
    free(min_scales);
  }
  if (!st) {
    /* copies: adding a value may move the values array under `w` */
    char name[512];
    snprintf(name, sizeof name, "%s", w->name);
    int64_t dims[KILN_MAX_RANK];
    memcpy(dims, w->dims, sizeof dims);
    st = qz_add_constant(r->g, name, KILN_INT8, w->rank, dims, q, count, scales,
                         zps, channels, axis < 0 ? 0 : axis, weights);
  }
  free(q);
  free(zps);
  if (st) {
    free(scales);
    return st;
  }
  *w_scales = scales;
  *w_count = channels;
  return NULL;
}

static kiln_status *quantize_bias(rewriter *r, int bias, float in_scale,
                                  const float *w_scales, int w_count,
                                  int *out) {
  const kiln_value *b = &r->g->values[bias];
  size_t count = qz_numel(b);
  size_t elem = r->int16 ? 8 : 4;
  void *q = malloc(count * elem + 1);
  float *scales = malloc(sizeof(float) * ((size_t)w_count + 1));
  int64_t *zps = calloc((size_t)w_count + 1, sizeof(int64_t));
  kiln_status *st = (q && scales && zps) ? NULL : KILN_OOM();
  if (!st) {
    const float *x = b->data;
    for (int c = 0; c < w_count; c++) scales[c] = in_scale * w_scales[c];
    for (size_t i = 0; i < count; i++) {
      float s = scales[w_count == 1 ? 0 : i % (size_t)w_count];
      double v = round((double)x[i] / s);
      if (r->int16) {
        if (v > 9.2e18) v = 9.2e18;
        if (v < -9.2e18) v = -9.2e18;
        ((int64_t *)q)[i] = (int64_t)v;
      } else {
        if (v > INT32_MAX) v = INT32_MAX;
        if (v < -INT32_MAX) v = -INT32_MAX;
        ((int32_t *)q)[i] = (int32_t)v;
      }
    }
    char name[512];
    snprintf(name, sizeof name, "%s", b->name);
    int64_t dims[KILN_MAX_RANK];
    memcpy(dims, b->dims, sizeof dims);
    st =
        qz_add_constant(r->g, name, r->int16 ? KILN_INT64 : KILN_INT32, b->rank,
                        dims, q, count * elem, scales, zps, w_count, 0, out);
  }
  free(q);
  free(scales);
  free(zps);
  return st;
}

/* A float constant operand of an elementwise op, quantized with
 * parameters (scale, zp) as activations are. */
static kiln_status *quantize_constant(rewriter *r, int v, float scale, int zp,
                                      int *out) {
  const kiln_value *c = &r->g->values[v];
  size_t count = qz_numel(c);
  size_t elem = r->int16 ? 2 : 1;
  void *q = malloc(count * elem + 1);
  if (!q) return KILN_OOM();
  const float *x = c->data;
  int lo = r->int16 ? -32768 : -128, hi = r->int16 ? 32767 : 127;
  for (size_t i = 0; i < count; i++) {
    double y = round(x[i] / scale) + zp;
    int iy = y < lo ? lo : y > hi ? hi : (int)y;
    if (r->int16)
      ((int16_t *)q)[i] = (int16_t)iy;
    else
      ((int8_t *)q)[i] = (int8_t)iy;
  }
  char name[512];
  snprintf(name, sizeof name, "%s", c->name);
  int64_t dims[KILN_MAX_RANK];
  memcpy(dims, c->dims, sizeof dims);
  int64_t z = zp;
  kiln_status *st = qz_add_constant(r->g, name, r->int_type, c->rank, dims, q,
                                    count * elem, &scale, &z, 1, 0, out);
  free(q);
  return st;
}

/* Re-adds quantized node n with integer inputs and retyped outputs. */
static kiln_status *emit_quantized(rewriter *r, qz_old_nodes *old, int index,
                                   int *inputs) {
  const kiln_node *n = &old->nodes[index];
  const op_rule *rule = find_rule(n->op, r->int16);
  int si = n->source_index;
  float *w_scales = NULL;
  int w_count = 0;
  kiln_status *st = NULL;
  for (int i = 0; !st && i < n->num_inputs; i++) {
    int v = n->inputs[i];
    inputs[i] = v;
    /* a float value of the original graph (integer already when its
     * producer was made integer) */
    bool was_float =
        v >= 0 && v < r->n0 &&
        (r->domain[v] == DOMAIN_INT || r->g->values[v].dtype == KILN_FLOAT32);
    if (!was_float) continue;
    if (has_weights(n->op) && i == 1) {
      st = quantize_weights(r, n, &inputs[1], &w_scales, &w_count);
    } else if (has_weights(n->op) && i == 2) {
      st = quantize_bias(r, v, r->scale[n->inputs[0]], w_scales, w_count,
                         &inputs[2]);
    } else if (r->g->values[v].is_constant) {
      int out = n->outputs[0];
      bool shared = rule->role == ROLE_ALL;
      st = quantize_constant(r, v, shared ? r->scale[out] : r->scale[v],
                             shared ? r->zp[out] : r->zp[v], &inputs[i]);
    } else {
      st = int_form(r, v, si, &inputs[i]);
      int out = n->outputs[0];
      if (!st && rule->role == ROLE_ALL &&
          (r->scale[v] != r->scale[out] || r->zp[v] != r->zp[out])) {
        /* requantized to the shared parameters */
        int t;
        st = qz_add_convert(r->g, KILN_OP_QUANTIZE, inputs[i], r->int_type,
                            "_requantized", si, &t);
        int64_t zp = r->zp[out];
        if (!st) st = qz_set_quant(r->g, t, &r->scale[out], &zp, 1, 0);
        inputs[i] = t;
      }
    }
  }
  free(w_scales);
  for (int o = 0; !st && o < n->num_outputs; o++) {
    int v = n->outputs[o];
    r->g->values[v].dtype = r->int_type;
    r->domain[v] = DOMAIN_INT;
    st = quant_of(r, v);
  }
  if (!st) st = qz_readd_node(r->g, old, index, inputs);
  return st;
}

static kiln_status *emit_float(rewriter *r, qz_old_nodes *old, int index,
                               int *inputs) {
  const kiln_node *n = &old->nodes[index];
  for (int i = 0; i < n->num_inputs; i++) {
    int v = n->inputs[i];
    inputs[i] = v;
    if (v >= 0 && v < r->n0 && r->domain[v] == DOMAIN_INT)
      KILN_TRY(float_form(r, v, n->source_index, &inputs[i]));
  }
  return qz_readd_node(r->g, old, index, inputs);
}

/* The graph's outputs in the --io type: a DEQUANTIZE (io float) or a
 * QUANTIZE (io int8 of a float-computed output) after the value, which
 * takes the output's name so that the file's tensor names stay. */
static kiln_status *convert_outputs(rewriter *r) {
  kiln_graph *g = r->g;
  for (int i = 0; i < g->num_outputs; i++) {
    int v = g->outputs[i];
    if (v >= r->n0) continue;
    int t = v;
    if (!r->opt->io_int8 && r->domain[v] == DOMAIN_INT)
      KILN_TRY(float_form(r, v, -1, &t));
    else if (r->opt->io_int8 && r->domain[v] == DOMAIN_FLOAT &&
             g->values[v].dtype == KILN_FLOAT32 && own_params(r, v))
      KILN_TRY(int_form(r, v, -1, &t));
    if (t == v) continue;
    /* the output keeps its name; the value inside is renamed after its
     * type ("y_int8") */
    const char *suffix = g->values[v].dtype == KILN_FLOAT32 ? "_float"
                         : r->int16                         ? "_int16"
                                                            : "_int8";
    size_t len = strlen(g->values[v].name) + strlen(suffix) + 1;
    char *renamed = kiln_malloc(g->alloc, len);
    if (!renamed) return KILN_OOM();
    snprintf(renamed, len, "%s%s", g->values[v].name, suffix);
    kiln_free(g->alloc, g->values[t].name);
    g->values[t].name = g->values[v].name;
    g->values[v].name = renamed;
    g->outputs[i] = t;
  }
  return NULL;
}

static kiln_status *convert_inputs(rewriter *r) {
  kiln_graph *g = r->g;
  if (!r->opt->io_int8) return NULL;
  for (int i = 0; i < g->num_inputs; i++) {
    int v = g->inputs[i];
    if (g->values[v].dtype != KILN_FLOAT32 || !own_params(r, v)) continue;
    g->values[v].dtype = r->int_type;
    r->domain[v] = DOMAIN_INT;
    KILN_TRY(quant_of(r, v));
  }
  return NULL;
}

static void free_rewriter(rewriter *r) {
  free(r->quantized);
  free(r->has);
  free(r->scale);
  free(r->zp);
  free(r->domain);
  free(r->int_twin);
  free(r->float_twin);
  free(r->consumers);
  free(r->graph_io);
}

static kiln_status *init_rewriter(rewriter *r, kiln_graph *g) {
  size_t nv = (size_t)g->num_values + 1, nn = (size_t)g->num_nodes + 1;
  r->quantized = calloc(nn, sizeof(bool));
  r->has = calloc(nv, sizeof(bool));
  r->scale = calloc(nv, sizeof(float));
  r->zp = calloc(nv, sizeof(int));
  r->domain = calloc(nv, 1);
  r->int_twin = malloc(nv * sizeof(int));
  r->float_twin = malloc(nv * sizeof(int));
  r->consumers = calloc(nv, sizeof(int));
  r->graph_io = calloc(nv, sizeof(bool));
  if (!r->quantized || !r->has || !r->scale || !r->zp || !r->domain ||
      !r->int_twin || !r->float_twin || !r->consumers || !r->graph_io)
    return KILN_OOM();
  for (size_t v = 0; v < nv; v++) r->int_twin[v] = r->float_twin[v] = -1;
  for (int n = 0; n < g->num_nodes; n++)
    for (int i = 0; i < g->nodes[n].num_inputs; i++)
      if (g->nodes[n].inputs[i] >= 0) r->consumers[g->nodes[n].inputs[i]]++;
  for (int i = 0; i < g->num_inputs; i++) r->graph_io[g->inputs[i]] = true;
  for (int i = 0; i < g->num_outputs; i++) r->graph_io[g->outputs[i]] = true;
  return NULL;
}

static kiln_status *plan_nodes(rewriter *r, int *quantized) {
  kiln_graph *g = r->g;
  int *producer = malloc(sizeof(int) * ((size_t)g->num_values + 1));
  if (!producer) return KILN_OOM();
  for (int v = 0; v < g->num_values; v++) producer[v] = -1;
  for (int n = 0; n < g->num_nodes; n++)
    for (int o = 0; o < g->nodes[n].num_outputs; o++)
      producer[g->nodes[n].outputs[o]] = n;
  *quantized = 0;
  for (int n = 0; n < g->num_nodes; n++) {
    kiln_node *node = &g->nodes[n];
    r->quantized[n] = can_quantize(r, node);
    if (!r->quantized[n]) continue;
    (*quantized)++;
    choose_output_params(r, node);
    if (find_rule(node->op, r->int16)->role == ROLE_ALL) {
      unify_free_inputs(r, g->nodes, producer, node);
      /* inputs that now agree need no requantization; the output keeps
       * the parameters they adopted */
    }
  }
  free(producer);
  return NULL;
}

kiln_status *qz_rewrite_integer(kiln_graph *g, const kiln_qz_options *opt,
                                const qz_observer *obs, int num_obs,
                                qz_mapping *map, int *quantized) {
  if (num_obs != g->num_values)
    return kiln_error(KILN_ERR_INTERNAL, "calibration covers %d tensors of %d",
                      num_obs, g->num_values);
  rewriter r = {.g = g, .opt = opt, .obs = obs, .n0 = g->num_values};
  r.int16 = opt->mode == KILN_QZ_INT16X8;
  r.int_type = r.int16 ? KILN_INT16 : KILN_INT8;
  kiln_status *st = init_rewriter(&r, g);
  if (!st) st = plan_nodes(&r, quantized);
  if (!st && *quantized == 0)
    st = kiln_error(KILN_ERR_INVALID_ARGUMENT,
                    "the model has no float operators kiln quantize can make "
                    "integer");
  int max_inputs = 1;
  for (int n = 0; n < g->num_nodes; n++)
    if (g->nodes[n].num_inputs > max_inputs)
      max_inputs = g->nodes[n].num_inputs;
  int *inputs = st ? NULL : malloc(sizeof(int) * (size_t)max_inputs);
  if (!st && !inputs) st = KILN_OOM();
  qz_old_nodes old = {0};
  if (!st) st = convert_inputs(&r);
  if (!st) {
    qz_take_nodes(g, &old);
    for (int n = 0; !st && n < old.count; n++)
      st = r.quantized[n] ? emit_quantized(&r, &old, n, inputs)
                          : emit_float(&r, &old, n, inputs);
  }
  if (!st) st = convert_outputs(&r);
  qz_drop_old(g, &old);
  free(inputs);
  if (!st && map) {
    map->count = r.n0;
    map->int_value = malloc(sizeof(int) * ((size_t)r.n0 + 1));
    if (!map->int_value) st = KILN_OOM();
    for (int v = 0; !st && v < r.n0; v++)
      map->int_value[v] = r.domain[v] == DOMAIN_INT ? v : r.int_twin[v];
  }
  free_rewriter(&r);
  return st;
}
