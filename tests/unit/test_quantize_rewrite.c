/* test_quantize_rewrite.c - kiln quantize's graph rewrites (src/quantize/)
 * on small graphs built here: an MLP (FULLY_CONNECTED, LOGISTIC, ADD,
 * CONCATENATION, RESHAPE, SOFTMAX) and a CNN (CONV_2D, DEPTHWISE_CONV_2D,
 * MAX_POOL_2D, AVERAGE_POOL_2D, CONCATENATION, RESHAPE, FULLY_CONNECTED,
 * SOFTMAX). Each is calibrated on random samples, rewritten in every mode,
 * and run in kiln beside the float graph on fresh inputs: the outputs must
 * agree within what the mode's precision allows, and the tensors must
 * carry the parameters TFLite's integer spec asks for (weights' scales
 * recomputed here from the float weights, biases at input x weight
 * scale, the fixed LOGISTIC / SOFTMAX outputs, shared concat and pool
 * parameters). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/graph.h"
#include "harness.h"
#include "qz_internal.h"
#include "runtime/model.h"

enum { SAMPLES = 8, MAX_VALUES = 64 };

/* ------------------------------------------------------- graph building */

static int add_activation(kiln_graph *g, const char *name, int rank,
                          const int64_t *dims) {
  int id;
  CHECK_OK(kiln_graph_add_value(g, name, &id));
  kiln_value *v = &g->values[id];
  v->dtype = KILN_FLOAT32;
  v->rank = rank;
  for (int i = 0; i < rank; i++) v->dims[i] = v->signature[i] = dims[i];
  return id;
}

static int add_weights(kiln_graph *g, const char *name, int rank,
                       const int64_t *dims, float lo, float hi) {
  int id = add_activation(g, name, rank, dims);
  kiln_value *v = &g->values[id];
  size_t n = qz_numel(v);
  float *data = malloc(n * sizeof(float));
  kiln_test_fill(data, (int64_t)n, lo, hi);
  v->is_constant = true;
  v->owned_data = data;
  v->data = data;
  v->nbytes = n * sizeof(float);
  return id;
}

static int add_shape(kiln_graph *g, const char *name, int n,
                     const int32_t *values) {
  int id;
  CHECK_OK(kiln_graph_add_value(g, name, &id));
  kiln_value *v = &g->values[id];
  v->dtype = KILN_INT32;
  v->rank = 1;
  v->dims[0] = v->signature[0] = n;
  int32_t *data = malloc(sizeof(int32_t) * (size_t)n);
  memcpy(data, values, sizeof(int32_t) * (size_t)n);
  v->is_constant = true;
  v->owned_data = data;
  v->data = data;
  v->nbytes = sizeof(int32_t) * (size_t)n;
  return id;
}

static void *add_node(kiln_graph *g, kiln_op_type op, const int *in, int nin,
                      int out) {
  kiln_node *n;
  CHECK_OK(kiln_graph_add_node(g, op, in, nin, &out, 1, g->num_nodes, &n));
  return n->attrs;
}

/* x[1,16] -> FC+relu h1[1,24] -> FC h2 -> LOGISTIC s -> ADD(h1, s) a
 * -> CONCAT(a, h1) [1,48] -> RESHAPE -> FC o[1,10] -> SOFTMAX y */
static kiln_graph *build_mlp(void) {
  kiln_test_seed(11);
  kiln_graph *g = kiln_graph_create(NULL);
  int x = add_activation(g, "x", 2, (int64_t[]){1, 16});
  int w1 = add_weights(g, "w1", 2, (int64_t[]){24, 16}, -0.5f, 0.5f);
  int b1 = add_weights(g, "b1", 1, (int64_t[]){24}, -0.2f, 0.2f);
  int h1 = add_activation(g, "h1", 2, (int64_t[]){1, 24});
  int w2 = add_weights(g, "w2", 2, (int64_t[]){24, 24}, -0.5f, 0.5f);
  int b2 = add_weights(g, "b2", 1, (int64_t[]){24}, -0.2f, 0.2f);
  int h2 = add_activation(g, "h2", 2, (int64_t[]){1, 24});
  int s = add_activation(g, "s", 2, (int64_t[]){1, 24});
  int a = add_activation(g, "a", 2, (int64_t[]){1, 24});
  int c = add_activation(g, "c", 2, (int64_t[]){1, 48});
  int shape = add_shape(g, "shape", 2, (int32_t[]){1, 48});
  int r = add_activation(g, "r", 2, (int64_t[]){1, 48});
  int w3 = add_weights(g, "w3", 2, (int64_t[]){10, 48}, -0.5f, 0.5f);
  int b3 = add_weights(g, "b3", 1, (int64_t[]){10}, -0.2f, 0.2f);
  int o = add_activation(g, "o", 2, (int64_t[]){1, 10});
  int y = add_activation(g, "y", 2, (int64_t[]){1, 10});
  kiln_fully_connected_attrs *fc =
      add_node(g, KILN_OP_FULLY_CONNECTED, (int[]){x, w1, b1}, 3, h1);
  fc->activation = KILN_ACT_RELU;
  add_node(g, KILN_OP_FULLY_CONNECTED, (int[]){h1, w2, b2}, 3, h2);
  add_node(g, KILN_OP_LOGISTIC, (int[]){h2}, 1, s);
  add_node(g, KILN_OP_ADD, (int[]){h1, s}, 2, a);
  kiln_concat_attrs *cat =
      add_node(g, KILN_OP_CONCATENATION, (int[]){a, h1}, 2, c);
  cat->axis = 1;
  kiln_reshape_attrs *rs =
      add_node(g, KILN_OP_RESHAPE, (int[]){c, shape}, 2, r);
  rs->num_dims = -1;
  add_node(g, KILN_OP_FULLY_CONNECTED, (int[]){r, w3, b3}, 3, o);
  kiln_softmax_attrs *sm = add_node(g, KILN_OP_SOFTMAX, (int[]){o}, 1, y);
  sm->beta = 1.0f;
  CHECK_OK(kiln_graph_set_io(g, &x, NULL, 1, &y, NULL, 1));
  return g;
}

/* x[1,8,8,3] -> CONV+relu [1,8,8,8] -> DEPTHWISE -> MAX_POOL, AVG_POOL
 * -> CONCAT [1,4,4,16] -> RESHAPE [1,256] -> FC [1,10] -> SOFTMAX */
static kiln_graph *build_cnn(void) {
  kiln_test_seed(12);
  kiln_graph *g = kiln_graph_create(NULL);
  int x = add_activation(g, "x", 4, (int64_t[]){1, 8, 8, 3});
  int wc = add_weights(g, "wc", 4, (int64_t[]){8, 3, 3, 3}, -0.5f, 0.5f);
  int bc = add_weights(g, "bc", 1, (int64_t[]){8}, -0.1f, 0.1f);
  int c1 = add_activation(g, "c1", 4, (int64_t[]){1, 8, 8, 8});
  int wd = add_weights(g, "wd", 4, (int64_t[]){1, 3, 3, 8}, -0.5f, 0.5f);
  int bd = add_weights(g, "bd", 1, (int64_t[]){8}, -0.1f, 0.1f);
  int d = add_activation(g, "d", 4, (int64_t[]){1, 8, 8, 8});
  int p = add_activation(g, "p", 4, (int64_t[]){1, 4, 4, 8});
  int q = add_activation(g, "q", 4, (int64_t[]){1, 4, 4, 8});
  int c = add_activation(g, "c", 4, (int64_t[]){1, 4, 4, 16});
  int shape = add_shape(g, "shape", 2, (int32_t[]){1, 256});
  int r = add_activation(g, "r", 2, (int64_t[]){1, 256});
  int wf = add_weights(g, "wf", 2, (int64_t[]){10, 256}, -0.2f, 0.2f);
  int bf = add_weights(g, "bf", 1, (int64_t[]){10}, -0.1f, 0.1f);
  int o = add_activation(g, "o", 2, (int64_t[]){1, 10});
  int y = add_activation(g, "y", 2, (int64_t[]){1, 10});
  kiln_conv_attrs *conv =
      add_node(g, KILN_OP_CONV_2D, (int[]){x, wc, bc}, 3, c1);
  *conv = (kiln_conv_attrs){KILN_PAD_SAME, 1, 1, 1, 1, 0, KILN_ACT_RELU};
  kiln_conv_attrs *dw =
      add_node(g, KILN_OP_DEPTHWISE_CONV_2D, (int[]){c1, wd, bd}, 3, d);
  *dw = (kiln_conv_attrs){KILN_PAD_SAME, 1, 1, 1, 1, 1, KILN_ACT_NONE};
  kiln_pool_attrs *mp = add_node(g, KILN_OP_MAX_POOL_2D, (int[]){d}, 1, p);
  *mp = (kiln_pool_attrs){KILN_PAD_VALID, 2, 2, 2, 2, KILN_ACT_NONE};
  kiln_pool_attrs *ap = add_node(g, KILN_OP_AVERAGE_POOL_2D, (int[]){d}, 1, q);
  *ap = (kiln_pool_attrs){KILN_PAD_VALID, 2, 2, 2, 2, KILN_ACT_NONE};
  kiln_concat_attrs *cat =
      add_node(g, KILN_OP_CONCATENATION, (int[]){p, q}, 2, c);
  cat->axis = 3;
  kiln_reshape_attrs *rs =
      add_node(g, KILN_OP_RESHAPE, (int[]){c, shape}, 2, r);
  rs->num_dims = -1;
  add_node(g, KILN_OP_FULLY_CONNECTED, (int[]){r, wf, bf}, 3, o);
  kiln_softmax_attrs *sm = add_node(g, KILN_OP_SOFTMAX, (int[]){o}, 1, y);
  sm->beta = 1.0f;
  CHECK_OK(kiln_graph_set_io(g, &x, NULL, 1, &y, NULL, 1));
  return g;
}

/* ------------------------------------------------- samples in memory */

typedef struct samples {
  float *data;
  size_t per; /* floats per sample */
  int count, next;
} samples;

static kiln_status *next_sample(void *context, void *const *inputs,
                                const size_t *nbytes, int *got) {
  samples *s = context;
  *got = 0;
  if (s->next >= s->count) return NULL;
  CHECK(nbytes[0] == s->per * sizeof(float));
  memcpy(inputs[0], s->data + s->per * (size_t)s->next++, nbytes[0]);
  *got = 1;
  return NULL;
}

static kiln_status *rewind_samples(void *context) {
  ((samples *)context)->next = 0;
  return NULL;
}

static samples make_samples(size_t per, int count) {
  samples s = {malloc(per * (size_t)count * sizeof(float)), per, count, 0};
  kiln_test_fill(s.data, (int64_t)(per * (size_t)count), -1, 1);
  return s;
}

/* ------------------------------------------------------- running */

/* Runs a graph (taken) on `in`; out gets `out_count` floats (dequantized
 * when the output is an integer). */
static void run_graph(kiln_graph *g, const float *in, size_t in_count,
                      float *out, size_t out_count) {
  kiln_model *m = NULL;
  kiln_session *s = NULL;
  CHECK_OK(kiln_model_from_graph(g, "test", NULL, true, &m));
  if (!m) return;
  CHECK_OK(kiln_session_create(m, NULL, &s));
  const kiln_graph *mg = m->graph;
  const kiln_value *iv = &mg->values[mg->inputs[0]];
  if (iv->dtype == KILN_FLOAT32) {
    CHECK_OK(kiln_session_set_input(s, 0, KILN_FLOAT32, iv->dims, iv->rank, in,
                                    in_count * sizeof(float)));
  } else {
    int8_t *q = malloc(in_count);
    for (size_t i = 0; i < in_count; i++) {
      float y = roundf(in[i] / iv->quant.scale[0]) + iv->quant.zero_point[0];
      q[i] = (int8_t)(y < -128 ? -128 : y > 127 ? 127 : y);
    }
    CHECK_OK(kiln_session_set_input(s, 0, iv->dtype, iv->dims, iv->rank, q,
                                    in_count));
    free(q);
  }
  CHECK_OK(kiln_session_invoke(s));
  const void *data;
  size_t nbytes;
  CHECK_OK(kiln_session_output_buffer(s, 0, &data, &nbytes));
  const kiln_value *ov = &mg->values[mg->outputs[0]];
  for (size_t i = 0; i < out_count; i++)
    out[i] = ov->dtype == KILN_FLOAT32
                 ? ((const float *)data)[i]
                 : (((const int8_t *)data)[i] - ov->quant.zero_point[0]) *
                       ov->quant.scale[0];
  kiln_session_free(s);
  kiln_model_free(m);
}

static int find_value(const kiln_graph *g, const char *name, kiln_dtype dtype) {
  for (int v = 0; v < g->num_values; v++)
    if (strcmp(g->values[v].name, name) == 0 && g->values[v].dtype == dtype)
      return v;
  return -1;
}

static const kiln_node *producer(const kiln_graph *g, int v) {
  for (int n = 0; n < g->num_nodes; n++)
    if (g->nodes[n].outputs[0] == v) return &g->nodes[n];
  return NULL;
}

/* The weights' scales recomputed from the float graph: max |w| per
 * output channel (axis) over 127. */
static void check_weights(const kiln_graph *fg, const kiln_graph *qg,
                          const char *wname, int axis) {
  int fw = find_value(fg, wname, KILN_FLOAT32);
  int qw = find_value(qg, wname, KILN_INT8);
  CHECK(fw >= 0 && qw >= 0);
  if (fw < 0 || qw < 0) return;
  const kiln_value *f = &fg->values[fw], *q = &qg->values[qw];
  int channels = (int)f->dims[axis];
  CHECK(q->quant.count == channels && q->quant.axis == axis);
  size_t n = qz_numel(f), inner = 1;
  for (int d = axis + 1; d < f->rank; d++) inner *= (size_t)f->dims[d];
  for (int c = 0; c < channels && q->quant.count == channels; c++) {
    float peak = 0;
    for (size_t i = 0; i < n; i++)
      if ((int)((i / inner) % (size_t)channels) == c)
        peak = fmaxf(peak, fabsf(((const float *)f->data)[i]));
    CHECK(fabsf(q->quant.scale[c] - peak / 127) <= 1e-7f * peak);
    CHECK(q->quant.zero_point[c] == 0);
  }
  /* the first weight dequantizes to within half a step */
  const int8_t *qd = q->data;
  CHECK(fabsf(qd[0] * q->quant.scale[0] - ((const float *)f->data)[0]) <=
        q->quant.scale[0] * 0.5001f);
}

static void check_bias(const kiln_graph *qg, const char *bname,
                       const char *wname, kiln_dtype type) {
  int b = find_value(qg, bname, type), w = find_value(qg, wname, KILN_INT8);
  CHECK(b >= 0 && w >= 0);
  if (b < 0 || w < 0) return;
  const kiln_node *n = NULL;
  for (int i = 0; i < qg->num_nodes; i++)
    if (qg->nodes[i].num_inputs > 2 && qg->nodes[i].inputs[2] == b)
      n = &qg->nodes[i];
  CHECK(n != NULL);
  if (!n) return;
  const kiln_value *in = &qg->values[n->inputs[0]];
  const kiln_value *bv = &qg->values[b], *wv = &qg->values[w];
  CHECK(bv->quant.count == wv->quant.count);
  for (int c = 0; c < bv->quant.count && c < wv->quant.count; c++)
    CHECK(fabsf(bv->quant.scale[c] - in->quant.scale[0] * wv->quant.scale[c]) <=
          1e-6f * bv->quant.scale[c]);
}

static void check_params(const kiln_graph *qg, const char *name,
                         kiln_dtype type, float scale, int zp) {
  int v = find_value(qg, name, type);
  CHECK(v >= 0);
  if (v < 0) return;
  CHECK(qg->values[v].quant.count == 1);
  CHECK(qg->values[v].quant.scale[0] == scale);
  CHECK(qg->values[v].quant.zero_point[0] == zp);
}

static bool same_params(const kiln_graph *g, int a, int b) {
  return g->values[a].quant.count == 1 && g->values[b].quant.count == 1 &&
         g->values[a].quant.scale[0] == g->values[b].quant.scale[0] &&
         g->values[a].quant.zero_point[0] == g->values[b].quant.zero_point[0];
}

/* ------------------------------------------------------------- tests */

typedef kiln_graph *(*builder)(void);

/* Calibrates build() on `s`, rewrites a fresh build in `opt`'s mode;
 * returns the rewritten graph (NULL on failure). */
static kiln_graph *quantize(builder build, samples *s,
                            const kiln_qz_options *opt) {
  kiln_graph *g = build();
  int n = g->num_values;
  qz_observer *obs = calloc((size_t)n, sizeof *obs);
  for (int i = 0; i < n && opt->method != KILN_QZ_MINMAX; i++) {
    obs[i].histogram = true;
    obs[i].bins = calloc(QZ_BINS, sizeof(double));
  }
  kiln_qz_source src = {s, s->count, next_sample, rewind_samples};
  CHECK_OK(qz_calibrate_graph(g, "test", opt, &src, obs, n));
  kiln_graph *q = build();
  int count = 0;
  kiln_status *st = NULL;
  if (opt->mode == KILN_QZ_DYNAMIC)
    st = qz_rewrite_dynamic(q, opt, &count);
  else if (opt->mode == KILN_QZ_FLOAT16)
    st = qz_rewrite_float16(q, &count);
  else
    st = qz_rewrite_integer(q, opt, obs, n, NULL, &count);
  if (!st && (opt->mode == KILN_QZ_INT8 || opt->mode == KILN_QZ_INT16X8))
    st = qz_drop_unused_values(q);
  if (!st) st = kiln_graph_validate(q, "test");
  for (int i = 0; i < n; i++) free(obs[i].bins);
  free(obs);
  CHECK_OK(st);
  CHECK(count > 0);
  if (st) {
    kiln_graph_free(q);
    return NULL;
  }
  return q;
}

/* The quantized graph against the float one on fresh inputs: the largest
 * output difference must stay under `tolerance`. */
static double compare_outputs(builder build, kiln_graph *(*requantize)(void),
                              size_t in_count, double tolerance) {
  float *in = malloc(in_count * sizeof(float));
  float f[10], q[10];
  double worst = 0;
  for (int k = 0; k < 4; k++) {
    kiln_test_seed(100 + (uint64_t)k);
    kiln_test_fill(in, (int64_t)in_count, -1, 1);
    run_graph(build(), in, in_count, f, 10);
    run_graph(requantize(), in, in_count, q, 10);
    for (int i = 0; i < 10; i++) worst = fmax(worst, fabs(f[i] - q[i]));
  }
  free(in);
  CHECK(worst <= tolerance);
  return worst;
}

/* compare_outputs needs a builder for the rewritten graph: these rebuild
 * it with the settings of the test running. */
static builder current_build;
static samples *current_samples;
static kiln_qz_options current_opt;
static kiln_graph *requantize_current(void) {
  return quantize(current_build, current_samples, &current_opt);
}

static void test_mode(const char *label, builder build, size_t in_count,
                      kiln_qz_mode mode, kiln_qz_method method, bool io_int8,
                      double tolerance) {
  /* the histogram methods need enough values to fill their bins */
  samples s = make_samples(in_count, method == KILN_QZ_MINMAX ? SAMPLES : 512);
  current_build = build;
  current_samples = &s;
  current_opt = kiln_qz_options_default();
  current_opt.mode = mode;
  current_opt.method = method;
  current_opt.io_int8 = io_int8;
  double worst =
      compare_outputs(build, requantize_current, in_count, tolerance);
  printf("  %-34s largest output difference %.5f (limit %.3f)\n", label, worst,
         tolerance);
  free(s.data);
}

static void test_mlp_int8_structure(void) {
  samples s = make_samples(16, SAMPLES);
  kiln_qz_options opt = kiln_qz_options_default();
  kiln_graph *fg = build_mlp();
  kiln_graph *qg = quantize(build_mlp, &s, &opt);
  if (!qg) return;
  check_weights(fg, qg, "w1", 0);
  check_weights(fg, qg, "w3", 0);
  check_bias(qg, "b1", "w1", KILN_INT32);
  check_bias(qg, "b3", "w3", KILN_INT32);
  check_params(qg, "s", KILN_INT8, 1.0f / 256, -128);
  check_params(qg, "y_int8", KILN_INT8, 1.0f / 256, -128);
  int c = find_value(qg, "c", KILN_INT8), r = find_value(qg, "r", KILN_INT8);
  CHECK(c >= 0 && r >= 0);
  if (c >= 0 && r >= 0) {
    CHECK(same_params(qg, c, r)); /* RESHAPE keeps its input's */
    const kiln_node *cat = producer(qg, c);
    CHECK(cat && cat->op == KILN_OP_CONCATENATION);
    for (int i = 0; cat && i < cat->num_inputs; i++)
      CHECK(same_params(qg, cat->inputs[i], c));
  }
  /* io float: a QUANTIZE first, a DEQUANTIZE last, the output's name */
  CHECK(qg->nodes[0].op == KILN_OP_QUANTIZE);
  CHECK(qg->nodes[qg->num_nodes - 1].op == KILN_OP_DEQUANTIZE);
  CHECK(qg->values[qg->outputs[0]].dtype == KILN_FLOAT32);
  CHECK(strcmp(qg->values[qg->outputs[0]].name, "y") == 0);
  kiln_graph_free(qg);
  kiln_graph_free(fg);
  free(s.data);
}

static void test_cnn_int8_structure(void) {
  samples s = make_samples(8 * 8 * 3, SAMPLES);
  kiln_qz_options opt = kiln_qz_options_default();
  kiln_graph *fg = build_cnn();
  kiln_graph *qg = quantize(build_cnn, &s, &opt);
  if (!qg) return;
  check_weights(fg, qg, "wc", 0);
  check_weights(fg, qg, "wd", 3);
  check_weights(fg, qg, "wf", 0);
  check_bias(qg, "bc", "wc", KILN_INT32);
  check_bias(qg, "bd", "wd", KILN_INT32);
  int d = find_value(qg, "d", KILN_INT8), p = find_value(qg, "p", KILN_INT8);
  int q = find_value(qg, "q", KILN_INT8), c = find_value(qg, "c", KILN_INT8);
  CHECK(d >= 0 && p >= 0 && q >= 0 && c >= 0);
  if (d >= 0 && p >= 0 && q >= 0 && c >= 0) {
    CHECK(same_params(qg, d, p)); /* pools keep their input's */
    CHECK(same_params(qg, d, q));
    CHECK(same_params(qg, p, c)); /* agreeing inputs: no requantize */
  }
  for (int n = 0; n < qg->num_nodes; n++)
    CHECK(n == 0 || n == qg->num_nodes - 1 ||
          (qg->nodes[n].op != KILN_OP_QUANTIZE &&
           qg->nodes[n].op != KILN_OP_DEQUANTIZE));
  kiln_graph_free(qg);
  kiln_graph_free(fg);
  free(s.data);
}

static void test_per_tensor_and_int16(void) {
  samples s = make_samples(16, SAMPLES);
  kiln_qz_options opt = kiln_qz_options_default();
  opt.per_tensor = true;
  kiln_graph *qg = quantize(build_mlp, &s, &opt);
  int w = qg ? find_value(qg, "w1", KILN_INT8) : -1;
  CHECK(w >= 0 && qg->values[w].quant.count == 1);
  kiln_graph_free(qg);
  opt = kiln_qz_options_default();
  opt.mode = KILN_QZ_INT16X8;
  qg = quantize(build_mlp, &s, &opt);
  if (qg) {
    check_bias(qg, "b1", "w1", KILN_INT64);
    check_params(qg, "s", KILN_INT16, 1.0f / 32768, 0);
    int h1 = find_value(qg, "h1", KILN_INT16);
    CHECK(h1 >= 0 && qg->values[h1].quant.zero_point[0] == 0);
  }
  kiln_graph_free(qg);
  free(s.data);
}

/* --keep-float h2: that FULLY_CONNECTED stays float between a
 * DEQUANTIZE and a QUANTIZE; the rest is integer. */
static void test_keep_float(void) {
  samples s = make_samples(16, SAMPLES);
  kiln_qz_options opt = kiln_qz_options_default();
  const char *keep[] = {"h2"};
  opt.keep_float = keep;
  opt.num_keep_float = 1;
  kiln_graph *qg = quantize(build_mlp, &s, &opt);
  if (!qg) return;
  int h2 = find_value(qg, "h2", KILN_FLOAT32);
  CHECK(h2 >= 0);
  const kiln_node *fc = h2 >= 0 ? producer(qg, h2) : NULL;
  CHECK(fc && fc->op == KILN_OP_FULLY_CONNECTED);
  if (fc) {
    CHECK(qg->values[fc->inputs[0]].dtype == KILN_FLOAT32);
    CHECK(qg->values[fc->inputs[1]].dtype == KILN_FLOAT32);
    const kiln_node *dq = producer(qg, fc->inputs[0]);
    CHECK(dq && dq->op == KILN_OP_DEQUANTIZE);
  }
  CHECK(find_value(qg, "s", KILN_INT8) >= 0);
  kiln_graph_free(qg);
  free(s.data);
}

static void test_dynamic_and_float16(void) {
  samples s = make_samples(8 * 8 * 3, SAMPLES);
  kiln_qz_options opt = kiln_qz_options_default();
  opt.mode = KILN_QZ_DYNAMIC;
  kiln_graph *qg = quantize(build_cnn, &s, &opt);
  if (qg) {
    /* only wf has 1024+ elements */
    CHECK(find_value(qg, "wf", KILN_INT8) >= 0);
    CHECK(find_value(qg, "wc", KILN_FLOAT32) >= 0);
    int wf = find_value(qg, "wf", KILN_INT8);
    CHECK(wf >= 0 && qg->values[wf].quant.count == 10);
  }
  kiln_graph_free(qg);
  opt.mode = KILN_QZ_FLOAT16;
  qg = quantize(build_cnn, &s, &opt);
  if (qg) {
    CHECK(find_value(qg, "wc", KILN_FLOAT16) >= 0);
    CHECK(find_value(qg, "bf", KILN_FLOAT16) >= 0);
    CHECK(find_value(qg, "wc", KILN_FLOAT32) < 0);
  }
  kiln_graph_free(qg);
  free(s.data);
}

/* A bias far larger than input scale x weight scale can hold in int32 (a
 * tiny input range, a "+3"): the weight scale is raised so that the bias
 * fits, and the output stays right. */
static kiln_graph *build_big_bias(void) {
  kiln_test_seed(13);
  kiln_graph *g = kiln_graph_create(NULL);
  int x = add_activation(g, "x", 2, (int64_t[]){1, 16});
  int w = add_weights(g, "w", 2, (int64_t[]){10, 16}, -0.01f, 0.01f);
  int b = add_weights(g, "b", 1, (int64_t[]){10}, 2.5f, 3.5f);
  int y = add_activation(g, "y", 2, (int64_t[]){1, 10});
  add_node(g, KILN_OP_FULLY_CONNECTED, (int[]){x, w, b}, 3, y);
  CHECK_OK(kiln_graph_set_io(g, &x, NULL, 1, &y, NULL, 1));
  return g;
}

static void test_bias_fits_int32(void) {
  samples s = make_samples(16, SAMPLES);
  for (size_t i = 0; i < 16 * SAMPLES; i++) s.data[i] *= 1e-5f;
  kiln_qz_options opt = kiln_qz_options_default();
  kiln_graph *qg = quantize(build_big_bias, &s, &opt);
  int b = qg ? find_value(qg, "b", KILN_INT32) : -1;
  CHECK(b >= 0);
  if (b >= 0) {
    const int32_t *q = qg->values[b].data;
    for (int c = 0; c < 10; c++) {
      CHECK(q[c] > 0 && q[c] <= INT32_MAX / 2);
      /* and it still means the float bias */
      double value = q[c] * (double)qg->values[b].quant.scale[c];
      CHECK(value > 2.49 && value < 3.51);
    }
  }
  float out[10], f[10];
  kiln_graph *fg = build_big_bias();
  run_graph(fg, s.data, 16, f, 10);
  run_graph(qg, s.data, 16, out, 10);
  for (int c = 0; c < 10; c++) CHECK(fabsf(out[c] - f[c]) < 0.02f);
  free(s.data);
}

static void test_nothing_to_quantize(void) {
  kiln_graph *g = kiln_graph_create(NULL);
  int x = add_activation(g, "x", 2, (int64_t[]){1, 4});
  int y = add_activation(g, "y", 2, (int64_t[]){1, 4});
  add_node(g, KILN_OP_EXP, (int[]){x}, 1, y);
  CHECK_OK(kiln_graph_set_io(g, &x, NULL, 1, &y, NULL, 1));
  qz_observer obs[2] = {0};
  float data[4] = {1, 2, 3, 4};
  CHECK(qz_observe(&obs[0], data, 4));
  CHECK(qz_observe(&obs[1], data, 4));
  kiln_qz_options opt = kiln_qz_options_default();
  int count = 0;
  CHECK_ERROR(qz_rewrite_integer(g, &opt, obs, 2, NULL, &count),
              KILN_ERR_INVALID_ARGUMENT, "no float operators");
  CHECK_OK(qz_rewrite_dynamic(g, &opt, &count));
  CHECK(count == 0); /* kiln_qz_quantize turns this into the error */
  kiln_graph_free(g);
}

int main(void) {
  test_mlp_int8_structure();
  test_cnn_int8_structure();
  test_per_tensor_and_int16();
  test_keep_float();
  test_dynamic_and_float16();
  test_nothing_to_quantize();
  test_bias_fits_int32();
  printf("quantized graphs against the float ones (softmax outputs):\n");
  test_mode("mlp int8 minmax", build_mlp, 16, KILN_QZ_INT8, KILN_QZ_MINMAX,
            false, 0.03);
  test_mode("mlp int8 io int8", build_mlp, 16, KILN_QZ_INT8, KILN_QZ_MINMAX,
            true, 0.03);
  test_mode("mlp int8 percentile", build_mlp, 16, KILN_QZ_INT8,
            KILN_QZ_PERCENTILE, false, 0.05);
  /* KL calibration clips the tails, here the largest logits of uniform
   * random data, which softmax needs most: a looser bound (its threshold
   * search itself is checked in test_quantize_observer). */
  test_mode("mlp int8 entropy", build_mlp, 16, KILN_QZ_INT8, KILN_QZ_ENTROPY,
            false, 0.2);
  test_mode("mlp int16x8", build_mlp, 16, KILN_QZ_INT16X8, KILN_QZ_MINMAX,
            false, 0.01);
  test_mode("cnn int8 minmax", build_cnn, 192, KILN_QZ_INT8, KILN_QZ_MINMAX,
            false, 0.03);
  test_mode("cnn int16x8", build_cnn, 192, KILN_QZ_INT16X8, KILN_QZ_MINMAX,
            false, 0.01);
  test_mode("cnn dynamic", build_cnn, 192, KILN_QZ_DYNAMIC, KILN_QZ_MINMAX,
            false, 0.01);
  test_mode("cnn float16", build_cnn, 192, KILN_QZ_FLOAT16, KILN_QZ_MINMAX,
            false, 0.002);
  return kiln_test_finish("quantize rewrite");
}
