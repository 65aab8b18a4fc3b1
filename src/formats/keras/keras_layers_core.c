/* keras_layers_core.c - Dense, the activation layers, the layers that
 * vanish at inference (Dropout and kin), Rescaling, Normalization,
 * BatchNormalization, LayerNormalization (over one or several axes) and
 * Embedding. The normalizations become plain elementwise operators with
 * their constants worked out here; the passes then fold
 * BatchNormalization's MUL and ADD into the convolution before it. */
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "formats/keras/keras_layers.h"

static int last_dim(const kiln_keras_builder *b, int id) {
  const kiln_value *v = kiln_keras_value(b, id);
  return v->rank ? (int)v->dims[v->rank - 1] : 1;
}

kiln_status *kiln_keras_layer_activation(kiln_keras_builder *b, int x,
                                         int *out) {
  const json_t *a = json_object_get(b->config, "activation");
  if (a && !json_is_null(a) && !json_is_string(a))
    return kiln_keras_error(b, "its activation is not a built-in one by name");
  return kiln_keras_activation(b, kiln_keras_str(b, "activation", "linear"), x,
                               "act", out);
}

kiln_status *kiln_keras_build_dense(kiln_keras_builder *b, const int *in, int n,
                                    int *out, int *num_out) {
  KILN_TRY(kiln_keras_one_input(b, in, n, -1));
  int units;
  bool use_bias;
  KILN_TRY(kiln_keras_int(b, "units", 0, &units));
  KILN_TRY(kiln_keras_bool(b, "use_bias", true, &use_bias));
  int64_t k = last_dim(b, in[0]);
  if (units <= 0) return kiln_keras_error(b, "units = %d", units);
  /* Keras keeps [in, out]; FULLY_CONNECTED takes [out, in]. */
  float *kernel = NULL;
  int64_t dims[2], want[2] = {k, units};
  KILN_TRY(kiln_keras_weight_read(b, 0, 2, want, dims, &kernel));
  int w;
  void *data;
  int64_t wdims[2] = {units, k};
  kiln_status *st =
      kiln_keras_const(b, "kernel", KILN_FLOAT32, 2, wdims, &w, &data);
  if (!st) {
    float *t = data;
    for (int64_t i = 0; i < k; i++)
      for (int64_t o = 0; o < units; o++) t[o * k + i] = kernel[i * units + o];
  }
  kiln_free(b->g->alloc, kernel);
  KILN_TRY(st);
  int bias = -1;
  if (use_bias) {
    int64_t bw[1] = {units};
    KILN_TRY(kiln_keras_weight_const(b, 1, "bias", 1, bw, &bias, NULL));
  }
  kiln_fully_connected_attrs attrs = {.keep_num_dims = true};
  int ins[3] = {in[0], w, bias}, y;
  KILN_TRY(kiln_keras_node(b, KILN_OP_FULLY_CONNECTED, ins, 3, &attrs, "matmul",
                           KILN_FLOAT32, &y));
  *num_out = 1;
  return kiln_keras_layer_activation(b, y, &out[0]);
}

kiln_status *kiln_keras_build_activation(kiln_keras_builder *b, const int *in,
                                         int n, int *out, int *num_out) {
  KILN_TRY(kiln_keras_one_input(b, in, n, -1));
  *num_out = 1;
  return kiln_keras_layer_activation(b, in[0], &out[0]);
}

kiln_status *kiln_keras_build_identity(kiln_keras_builder *b, const int *in,
                                       int n, int *out, int *num_out) {
  KILN_TRY(kiln_keras_one_input(b, in, n, -1));
  out[0] = in[0];
  *num_out = 1;
  return NULL;
}

kiln_status *kiln_keras_build_relu(kiln_keras_builder *b, const int *in, int n,
                                   int *out, int *num_out) {
  KILN_TRY(kiln_keras_one_input(b, in, n, -1));
  double slope, threshold, max_value;
  KILN_TRY(kiln_keras_float(b, "negative_slope", 0.0, &slope));
  KILN_TRY(kiln_keras_float(b, "threshold", 0.0, &threshold));
  KILN_TRY(kiln_keras_float(b, "max_value", -1.0, &max_value));
  if (threshold != 0.0)
    return kiln_keras_error(b, "threshold %g is not supported (only 0)",
                            threshold);
  *num_out = 1;
  int x = in[0];
  if (slope != 0.0) {
    kiln_leaky_relu_attrs a = {.alpha = (float)slope};
    KILN_TRY(kiln_keras_node(b, KILN_OP_LEAKY_RELU, &x, 1, &a, "leaky",
                             KILN_DTYPE_INVALID, &x));
  } else if (max_value == 6.0) {
    return kiln_keras_node(b, KILN_OP_RELU6, &x, 1, NULL, NULL,
                           KILN_DTYPE_INVALID, &out[0]);
  } else {
    KILN_TRY(kiln_keras_node(b, KILN_OP_RELU, &x, 1, NULL, "relu",
                             KILN_DTYPE_INVALID, &x));
  }
  if (max_value >= 0.0) {
    float m = (float)max_value;
    int c;
    KILN_TRY(kiln_keras_const_f32(b, "max_value", &m, 0, NULL, &c));
    int ins[2] = {x, c};
    return kiln_keras_node(b, KILN_OP_MINIMUM, ins, 2, NULL, NULL,
                           KILN_DTYPE_INVALID, &out[0]);
  }
  out[0] = x;
  return NULL;
}

kiln_status *kiln_keras_build_leaky_relu(kiln_keras_builder *b, const int *in,
                                         int n, int *out, int *num_out) {
  KILN_TRY(kiln_keras_one_input(b, in, n, -1));
  double slope;
  /* Keras 3 names it negative_slope, tf.keras alpha (both default 0.3). */
  KILN_TRY(kiln_keras_float(b, "alpha", 0.3, &slope));
  KILN_TRY(kiln_keras_float(b, "negative_slope", slope, &slope));
  kiln_leaky_relu_attrs a = {.alpha = (float)slope};
  *num_out = 1;
  return kiln_keras_node(b, KILN_OP_LEAKY_RELU, in, 1, &a, NULL,
                         KILN_DTYPE_INVALID, &out[0]);
}

kiln_status *kiln_keras_build_elu(kiln_keras_builder *b, const int *in, int n,
                                  int *out, int *num_out) {
  KILN_TRY(kiln_keras_one_input(b, in, n, -1));
  double alpha;
  KILN_TRY(kiln_keras_float(b, "alpha", 1.0, &alpha));
  if (alpha != 1.0)
    return kiln_keras_error(b, "alpha %g is not supported (only 1)", alpha);
  *num_out = 1;
  return kiln_keras_node(b, KILN_OP_ELU, in, 1, NULL, NULL, KILN_DTYPE_INVALID,
                         &out[0]);
}

kiln_status *kiln_keras_build_prelu(kiln_keras_builder *b, const int *in, int n,
                                    int *out, int *num_out) {
  KILN_TRY(kiln_keras_one_input(b, in, n, -1));
  const kiln_value *x = kiln_keras_value(b, in[0]);
  /* alpha has the input's shape without the batch, with 1 on the
   * shared axes: it broadcasts as it is. */
  int alpha;
  int64_t dims[KILN_MAX_RANK];
  KILN_TRY(
      kiln_keras_weight_const(b, 0, "alpha", x->rank - 1, NULL, &alpha, dims));
  int ins[2] = {in[0], alpha};
  *num_out = 1;
  return kiln_keras_node(b, KILN_OP_PRELU, ins, 2, NULL, NULL,
                         KILN_DTYPE_INVALID, &out[0]);
}

kiln_status *kiln_keras_build_softmax(kiln_keras_builder *b, const int *in,
                                      int n, int *out, int *num_out) {
  KILN_TRY(kiln_keras_one_input(b, in, n, -1));
  int axis;
  KILN_TRY(kiln_keras_int(b, "axis", -1, &axis));
  const kiln_value *x = kiln_keras_value(b, in[0]);
  if (axis != -1 && axis != x->rank - 1)
    return kiln_keras_error(b,
                            "softmax over axis %d is not supported (only "
                            "the last)",
                            axis);
  kiln_softmax_attrs a = {.beta = 1.0f};
  *num_out = 1;
  return kiln_keras_node(b, KILN_OP_SOFTMAX, in, 1, &a, NULL,
                         KILN_DTYPE_INVALID, &out[0]);
}

/* A per-channel float parameter from the config: a number, or a list of
 * `channels` numbers (or of one). */
static kiln_status *channel_param(kiln_keras_builder *b, const char *key,
                                  int channels, double fallback, float *out) {
  const json_t *v = json_object_get(b->config, key);
  if (!v || json_is_null(v)) {
    for (int c = 0; c < channels; c++) out[c] = (float)fallback;
  } else if (json_is_number(v)) {
    for (int c = 0; c < channels; c++) out[c] = (float)json_number_value(v);
  } else if (json_is_array(v) && (json_array_size(v) == (size_t)channels ||
                                  json_array_size(v) == 1)) {
    for (int c = 0; c < channels; c++) {
      const json_t *e = json_array_get(v, json_array_size(v) == 1 ? 0 : c);
      if (!json_is_number(e))
        return kiln_keras_error(b, "'%s'[%d] is not a number", key, c);
      out[c] = (float)json_number_value(e);
    }
  } else {
    return kiln_keras_error(b, "'%s' is neither a number nor %d of them", key,
                            channels);
  }
  return NULL;
}

/* y = x * scale + shift, scale and shift per last-axis channel. */
static kiln_status *affine(kiln_keras_builder *b, int x, const float *scale,
                           const float *shift, int channels, int *out) {
  int64_t dims[1] = {channels};
  int s, t, y;
  KILN_TRY(kiln_keras_const_f32(b, "scale", scale, 1, dims, &s));
  KILN_TRY(kiln_keras_const_f32(b, "shift", shift, 1, dims, &t));
  int mul_in[2] = {x, s};
  KILN_TRY(kiln_keras_node(b, KILN_OP_MUL, mul_in, 2, NULL, "mul",
                           KILN_DTYPE_INVALID, &y));
  int add_in[2] = {y, t};
  return kiln_keras_node(b, KILN_OP_ADD, add_in, 2, NULL, NULL,
                         KILN_DTYPE_INVALID, out);
}

/* The layer normalizes the last axis only. */
static kiln_status *last_axis_only(kiln_keras_builder *b, int rank) {
  const json_t *axis = json_object_get(b->config, "axis");
  if (json_is_array(axis) && json_array_size(axis) == 1)
    axis = json_array_get(axis, 0);
  if (!axis || json_is_null(axis)) return NULL;
  if (json_is_integer(axis) &&
      (json_integer_value(axis) == -1 || json_integer_value(axis) == rank - 1))
    return NULL;
  return kiln_keras_error(b,
                          "normalizing other than the last axis is not "
                          "supported");
}

kiln_status *kiln_keras_build_rescaling(kiln_keras_builder *b, const int *in,
                                        int n, int *out, int *num_out) {
  KILN_TRY(kiln_keras_one_input(b, in, n, -1));
  int x = in[0];
  if (kiln_keras_value(b, x)->dtype != KILN_FLOAT32)
    KILN_TRY(kiln_keras_node(b, KILN_OP_CAST, &x, 1, NULL, "cast", KILN_FLOAT32,
                             &x));
  int channels = last_dim(b, x);
  const json_t *sv = json_object_get(b->config, "scale");
  const json_t *ov = json_object_get(b->config, "offset");
  /* A scalar scale and offset broadcast; lists are per channel. */
  if (!json_is_array(sv) && !json_is_array(ov)) channels = 1;
  float *p = kiln_malloc(b->g->alloc, 2 * sizeof(float) * (size_t)channels);
  if (!p) return KILN_OOM();
  kiln_status *st = channel_param(b, "scale", channels, 1.0, p);
  if (!st) st = channel_param(b, "offset", channels, 0.0, p + channels);
  if (!st) st = affine(b, x, p, p + channels, channels, &out[0]);
  kiln_free(b->g->alloc, p);
  *num_out = 1;
  return st;
}

kiln_status *kiln_keras_build_normalization(kiln_keras_builder *b,
                                            const int *in, int n, int *out,
                                            int *num_out) {
  KILN_TRY(kiln_keras_one_input(b, in, n, -1));
  int x = in[0];
  KILN_TRY(last_axis_only(b, kiln_keras_value(b, x)->rank));
  bool invert;
  KILN_TRY(kiln_keras_bool(b, "invert", false, &invert));
  int channels = last_dim(b, x);
  float *p = kiln_malloc(b->g->alloc, 4 * sizeof(float) * (size_t)channels);
  if (!p) return KILN_OOM();
  float *mean = p, *var = p + channels, *scale = p + 2 * channels,
        *shift = p + 3 * channels;
  kiln_status *st = NULL;
  const json_t *mv = json_object_get(b->config, "mean");
  if (mv && !json_is_null(mv)) {
    st = channel_param(b, "mean", channels, 0.0, mean);
    if (!st) st = channel_param(b, "variance", channels, 1.0, var);
  } else {
    /* Adapted: mean and variance are the layer's first two weights. */
    for (int w = 0; w < 2 && !st; w++) {
      float *data = NULL;
      int64_t dims[1], want[1] = {channels};
      st = kiln_keras_weight_read(b, w, 1, want, dims, &data);
      if (!st) memcpy(w ? var : mean, data, sizeof(float) * (size_t)channels);
      kiln_free(b->g->alloc, data);
    }
  }
  for (int c = 0; c < channels && !st; c++) {
    /* Keras divides by max(sqrt(variance), epsilon), epsilon 1e-7. */
    double sd = sqrt(var[c] > 0 ? var[c] : 0.0);
    if (sd < 1e-7) sd = 1e-7;
    if (invert) {
      scale[c] = (float)sd;
      shift[c] = mean[c];
    } else {
      scale[c] = (float)(1.0 / sd);
      shift[c] = (float)(-mean[c] / sd);
    }
  }
  if (!st) st = affine(b, x, scale, shift, channels, &out[0]);
  kiln_free(b->g->alloc, p);
  *num_out = 1;
  return st;
}

kiln_status *kiln_keras_build_batch_norm(kiln_keras_builder *b, const int *in,
                                         int n, int *out, int *num_out) {
  KILN_TRY(kiln_keras_one_input(b, in, n, -1));
  int x = in[0];
  KILN_TRY(last_axis_only(b, kiln_keras_value(b, x)->rank));
  bool center, scale_on;
  double eps;
  KILN_TRY(kiln_keras_bool(b, "center", true, &center));
  KILN_TRY(kiln_keras_bool(b, "scale", true, &scale_on));
  KILN_TRY(kiln_keras_float(b, "epsilon", 1e-3, &eps));
  int channels = last_dim(b, x);
  /* Weights: gamma (when scale), beta (when center), moving mean and
   * moving variance. */
  float *p = kiln_malloc(b->g->alloc, 6 * sizeof(float) * (size_t)channels);
  if (!p) return KILN_OOM();
  float *gamma = p, *beta = p + channels, *mean = p + 2 * channels,
        *var = p + 3 * channels, *scale = p + 4 * channels,
        *shift = p + 5 * channels;
  for (int c = 0; c < channels; c++) {
    gamma[c] = 1.0f;
    beta[c] = 0.0f;
  }
  float *slots[4];
  int count = 0;
  if (scale_on) slots[count++] = gamma;
  if (center) slots[count++] = beta;
  slots[count++] = mean;
  slots[count++] = var;
  kiln_status *st = NULL;
  for (int w = 0; w < count && !st; w++) {
    float *data = NULL;
    int64_t dims[1], want[1] = {channels};
    st = kiln_keras_weight_read(b, w, 1, want, dims, &data);
    if (!st) memcpy(slots[w], data, sizeof(float) * (size_t)channels);
    kiln_free(b->g->alloc, data);
  }
  for (int c = 0; c < channels && !st; c++) {
    double s = gamma[c] / sqrt((double)var[c] + eps);
    scale[c] = (float)s;
    shift[c] = (float)(beta[c] - mean[c] * s);
  }
  if (!st) st = affine(b, x, scale, shift, channels, &out[0]);
  kiln_free(b->g->alloc, p);
  *num_out = 1;
  return st;
}

/* LayerNormalization's axes: "axis" as an int or a list, ascending, past
 * the batch (Keras keeps gamma and beta in the listed axes' sizes). */
static kiln_status *layer_norm_axes(kiln_keras_builder *b, int rank,
                                    int32_t *axes, int *count) {
  const json_t *axis = json_object_get(b->config, "axis");
  int values[KILN_MAX_RANK];
  *count = 1;
  values[0] = -1;
  if (json_is_array(axis)) {
    if (json_array_size(axis) < 1 || json_array_size(axis) >= (size_t)rank)
      return kiln_keras_error(b, "axis lists %zu axes of an input of rank %d",
                              json_array_size(axis), rank);
    *count = (int)json_array_size(axis);
  }
  if (axis && !json_is_null(axis))
    KILN_TRY(kiln_keras_ints(b, "axis", *count, NULL, values));
  for (int i = 0; i < *count; i++) {
    int a = values[i] < 0 ? values[i] + rank : values[i];
    if (a < 1 || a >= rank || (i > 0 && a <= axes[i - 1]))
      return kiln_keras_error(b,
                              "axis %d: only ascending axes past the batch "
                              "of a rank-%d input are supported",
                              values[i], rank);
    axes[i] = a;
  }
  return NULL;
}

/* gamma or beta (weight `index`, in the normalized axes' sizes) shaped to
 * broadcast against the input: from the first normalized axis on, 1 on
 * the axes between them. */
static kiln_status *layer_norm_param(kiln_keras_builder *b, int index,
                                     const char *suffix, const kiln_value *x,
                                     const int32_t *axes, int count, int *out) {
  int64_t want[KILN_MAX_RANK], dims[KILN_MAX_RANK], shape[KILN_MAX_RANK];
  for (int i = 0; i < count; i++) want[i] = x->dims[axes[i]];
  int rank = x->rank - axes[0];
  for (int d = 0, i = 0; d < rank; d++) {
    bool normalized = i < count && axes[i] == axes[0] + d;
    shape[d] = normalized ? x->dims[axes[0] + d] : 1;
    i += normalized;
  }
  float *data = NULL;
  KILN_TRY(kiln_keras_weight_read(b, index, count, want, dims, &data));
  kiln_status *st = kiln_keras_const_f32(b, suffix, data, rank, shape, out);
  kiln_free(b->g->alloc, data);
  return st;
}

kiln_status *kiln_keras_build_layer_norm(kiln_keras_builder *b, const int *in,
                                         int n, int *out, int *num_out) {
  KILN_TRY(kiln_keras_one_input(b, in, n, -1));
  int x = in[0];
  int32_t norm_axes[KILN_MAX_RANK];
  int num_axes;
  KILN_TRY(
      layer_norm_axes(b, kiln_keras_value(b, x)->rank, norm_axes, &num_axes));
  bool center, scale_on, rms;
  double eps;
  KILN_TRY(kiln_keras_bool(b, "center", true, &center));
  KILN_TRY(kiln_keras_bool(b, "scale", true, &scale_on));
  KILN_TRY(kiln_keras_bool(b, "rms_scaling", false, &rms));
  KILN_TRY(kiln_keras_float(b, "epsilon", 1e-3, &eps));
  if (rms) return kiln_keras_error(b, "rms_scaling is not supported");
  int axes, mean, d, sq, var, eps_c, ve, inv, y;
  kiln_reduce_attrs keep = {.keep_dims = true};
  KILN_TRY(kiln_keras_const_i32(b, "axes", norm_axes, num_axes, &axes));
  int m_in[2] = {x, axes};
  KILN_TRY(kiln_keras_node(b, KILN_OP_MEAN, m_in, 2, &keep, "mean",
                           KILN_DTYPE_INVALID, &mean));
  int d_in[2] = {x, mean};
  KILN_TRY(kiln_keras_node(b, KILN_OP_SUB, d_in, 2, NULL, "centered",
                           KILN_DTYPE_INVALID, &d));
  int sq_in[2] = {d, d};
  KILN_TRY(kiln_keras_node(b, KILN_OP_MUL, sq_in, 2, NULL, "square",
                           KILN_DTYPE_INVALID, &sq));
  int v_in[2] = {sq, axes};
  KILN_TRY(kiln_keras_node(b, KILN_OP_MEAN, v_in, 2, &keep, "variance",
                           KILN_DTYPE_INVALID, &var));
  float e = (float)eps;
  KILN_TRY(kiln_keras_const_f32(b, "epsilon", &e, 0, NULL, &eps_c));
  int ve_in[2] = {var, eps_c};
  KILN_TRY(kiln_keras_node(b, KILN_OP_ADD, ve_in, 2, NULL, "var_eps",
                           KILN_DTYPE_INVALID, &ve));
  KILN_TRY(kiln_keras_node(b, KILN_OP_RSQRT, &ve, 1, NULL, "rsqrt",
                           KILN_DTYPE_INVALID, &inv));
  int y_in[2] = {d, inv};
  KILN_TRY(kiln_keras_node(b, KILN_OP_MUL, y_in, 2, NULL, "normalized",
                           KILN_DTYPE_INVALID, &y));
  int w = 0;
  kiln_value input = *kiln_keras_value(b, x);
  if (scale_on) {
    int gamma;
    KILN_TRY(
        layer_norm_param(b, w++, "gamma", &input, norm_axes, num_axes, &gamma));
    int g_in[2] = {y, gamma};
    KILN_TRY(kiln_keras_node(b, KILN_OP_MUL, g_in, 2, NULL, "scaled",
                             KILN_DTYPE_INVALID, &y));
  }
  if (center) {
    int beta;
    KILN_TRY(
        layer_norm_param(b, w++, "beta", &input, norm_axes, num_axes, &beta));
    int b_in[2] = {y, beta};
    KILN_TRY(kiln_keras_node(b, KILN_OP_ADD, b_in, 2, NULL, "shifted",
                             KILN_DTYPE_INVALID, &y));
  }
  out[0] = y;
  *num_out = 1;
  return NULL;
}

kiln_status *kiln_keras_build_embedding(kiln_keras_builder *b, const int *in,
                                        int n, int *out, int *num_out) {
  KILN_TRY(kiln_keras_one_input(b, in, n, -1));
  /* A mask changes what the layers after it compute (pooling and attention
   * skip the padded steps); kiln carries no masks, so rather than answer
   * differently from Keras it refuses. */
  bool mask_zero;
  KILN_TRY(kiln_keras_bool(b, "mask_zero", false, &mask_zero));
  if (mask_zero)
    return kiln_keras_error(b,
                            "mask_zero=True is not supported (kiln does "
                            "not carry Keras masks to the layers after it)");
  int input_dim, output_dim;
  KILN_TRY(kiln_keras_int(b, "input_dim", 0, &input_dim));
  KILN_TRY(kiln_keras_int(b, "output_dim", 0, &output_dim));
  int64_t want[2] = {input_dim, output_dim};
  int table, x = in[0];
  KILN_TRY(kiln_keras_weight_const(b, 0, "embeddings", 2, want, &table, NULL));
  kiln_dtype t = kiln_keras_value(b, x)->dtype;
  /* Keras casts the ids to int32 (a float id truncates). */
  if (t != KILN_INT32 && t != KILN_INT64)
    KILN_TRY(
        kiln_keras_node(b, KILN_OP_CAST, &x, 1, NULL, "ids", KILN_INT32, &x));
  kiln_gather_attrs a = {.axis = 0, .batch_dims = 0};
  int ins[2] = {table, x};
  *num_out = 1;
  return kiln_keras_node(b, KILN_OP_GATHER, ins, 2, &a, NULL, KILN_FLOAT32,
                         &out[0]);
}
