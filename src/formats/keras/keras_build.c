/* keras_build.c - the helpers layer builders use (keras_build.h): config
 * access with errors naming the layer and key, constants, weights, and
 * operator nodes shaped as they are added. */
#include "formats/keras/keras_build.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "formats/graph_build.h"
#include "kernels/kernel.h"

kiln_status *kiln_keras_error(const kiln_keras_builder *b, const char *fmt,
                              ...) {
  char message[768];
  va_list args;
  va_start(args, fmt);
  vsnprintf(message, sizeof message, fmt, args);
  va_end(args);
  return kiln_error(KILN_ERR_INVALID_MODEL, "%s: layer '%s' (%s): %s",
                    b->source, b->layer, b->class_name, message);
}

static const json_t *field(const kiln_keras_builder *b, const char *key) {
  const json_t *v = json_object_get(b->config, key);
  return v && !json_is_null(v) ? v : NULL;
}

kiln_status *kiln_keras_int(const kiln_keras_builder *b, const char *key,
                            int fallback, int *out) {
  const json_t *v = field(b, key);
  *out = fallback;
  if (!v) return NULL;
  /* A one-element list stands for the int (Keras 3 writes strides=[2]
   * for 1-D layers). */
  if (json_is_array(v) && json_array_size(v) == 1) v = json_array_get(v, 0);
  if (!json_is_integer(v) || json_integer_value(v) < -(1 << 30) ||
      json_integer_value(v) > (1 << 30))
    return kiln_keras_error(b, "'%s' is not an integer in range", key);
  *out = (int)json_integer_value(v);
  return NULL;
}

kiln_status *kiln_keras_float(const kiln_keras_builder *b, const char *key,
                              double fallback, double *out) {
  const json_t *v = field(b, key);
  *out = fallback;
  if (!v) return NULL;
  if (!json_is_number(v))
    return kiln_keras_error(b, "'%s' is not a number", key);
  *out = json_number_value(v);
  return NULL;
}

kiln_status *kiln_keras_bool(const kiln_keras_builder *b, const char *key,
                             bool fallback, bool *out) {
  const json_t *v = field(b, key);
  *out = fallback;
  if (!v) return NULL;
  if (!json_is_boolean(v))
    return kiln_keras_error(b, "'%s' is not true or false", key);
  *out = json_is_true(v);
  return NULL;
}

const char *kiln_keras_str(const kiln_keras_builder *b, const char *key,
                           const char *fallback) {
  const json_t *v = field(b, key);
  return v && json_is_string(v) ? json_string_value(v) : fallback;
}

kiln_status *kiln_keras_ints(const kiln_keras_builder *b, const char *key,
                             int n, const int *fallback, int *out) {
  const json_t *v = field(b, key);
  if (!v) {
    if (!fallback) return kiln_keras_error(b, "'%s' is missing", key);
    memcpy(out, fallback, (size_t)n * sizeof *out);
    return NULL;
  }
  if (json_is_integer(v)) {
    for (int i = 0; i < n; i++) out[i] = (int)json_integer_value(v);
  } else if (json_is_array(v) && (int)json_array_size(v) == n) {
    for (int i = 0; i < n; i++) {
      const json_t *e = json_array_get(v, (size_t)i);
      if (!json_is_integer(e))
        return kiln_keras_error(b, "'%s'[%d] is not an integer", key, i);
      out[i] = (int)json_integer_value(e);
    }
  } else {
    return kiln_keras_error(b, "'%s' is neither an integer nor a list of %d",
                            key, n);
  }
  for (int i = 0; i < n; i++)
    if (out[i] < -(1 << 24) || out[i] > (1 << 24))
      return kiln_keras_error(b, "'%s'[%d] = %d is out of range", key, i,
                              out[i]);
  return NULL;
}

kiln_status *kiln_keras_one_input(const kiln_keras_builder *b, const int *in,
                                  int n, int rank) {
  if (n != 1) return kiln_keras_error(b, "takes one input and is given %d", n);
  const kiln_value *v = &b->g->values[in[0]];
  if (rank >= 0 && v->rank != rank)
    return kiln_keras_error(b, "its input has rank %d where %d is needed",
                            v->rank, rank);
  return NULL;
}

kiln_status *kiln_keras_channels_last(const kiln_keras_builder *b) {
  const char *format = kiln_keras_str(b, "data_format", "channels_last");
  if (strcmp(format, "channels_last") != 0)
    return kiln_keras_error(b,
                            "data_format '%s' is not supported (kiln runs "
                            "channels_last layers)",
                            format);
  return NULL;
}

static void value_name(const kiln_keras_builder *b, const char *suffix,
                       char *buf, size_t size) {
  if (suffix && *suffix)
    snprintf(buf, size, "%s/%s", b->layer, suffix);
  else
    snprintf(buf, size, "%s", b->layer);
}

kiln_status *kiln_keras_const(kiln_keras_builder *b, const char *suffix,
                              kiln_dtype dtype, int rank, const int64_t *dims,
                              int *out_id, void **out_data) {
  char name[512];
  value_name(b, suffix, name, sizeof name);
  kiln_graph_builder gb = {b->g, b->source, b->layer_index};
  return kiln_gb_const(&gb, name, dtype, rank, dims, out_id, out_data);
}

kiln_status *kiln_keras_const_i32(kiln_keras_builder *b, const char *suffix,
                                  const int32_t *values, int count,
                                  int *out_id) {
  int64_t dims[1] = {count};
  void *data;
  KILN_TRY(kiln_keras_const(b, suffix, KILN_INT32, 1, dims, out_id, &data));
  if (count) memcpy(data, values, (size_t)count * sizeof *values);
  return NULL;
}

kiln_status *kiln_keras_const_f32(kiln_keras_builder *b, const char *suffix,
                                  const float *values, int rank,
                                  const int64_t *dims, int *out_id) {
  void *data;
  KILN_TRY(
      kiln_keras_const(b, suffix, KILN_FLOAT32, rank, dims, out_id, &data));
  int64_t n = 1;
  for (int d = 0; d < rank; d++) n *= dims[d];
  if (n) memcpy(data, values, (size_t)n * sizeof *values);
  return NULL;
}

int kiln_keras_num_weights(const kiln_keras_builder *b) {
  return kiln_keras_weight_count(b->file, b->layer);
}

kiln_status *kiln_keras_weight_read(kiln_keras_builder *b, int index, int rank,
                                    const int64_t *expected, int64_t *out_dims,
                                    float **out_data) {
  int got_rank = 0;
  int64_t dims[KILN_MAX_RANK] = {0};
  KILN_TRY(kiln_keras_weight(b->file, b->layer, index, rank, expected,
                             &got_rank, dims, out_data));
  bool ok = got_rank == rank;
  for (int d = 0; ok && expected && d < rank; d++)
    ok = expected[d] < 0 || expected[d] == dims[d];
  if (!ok) {
    char got[KILN_DIMS_STR_SIZE], want[KILN_DIMS_STR_SIZE];
    kiln_dims_str(dims, got_rank, got, sizeof got);
    if (expected)
      kiln_dims_str(expected, rank, want, sizeof want);
    else
      snprintf(want, sizeof want, "rank %d", rank);
    kiln_free(b->g->alloc, *out_data);
    *out_data = NULL;
    return kiln_keras_error(b,
                            "weight %d has shape %s where %s is needed "
                            "(-1: any)",
                            index, got, want);
  }
  memcpy(out_dims, dims, sizeof(int64_t) * (size_t)rank);
  return NULL;
}

kiln_status *kiln_keras_weight_const(kiln_keras_builder *b, int index,
                                     const char *suffix, int rank,
                                     const int64_t *expected, int *out_id,
                                     int64_t *out_dims) {
  float *data = NULL;
  int64_t dims[KILN_MAX_RANK];
  KILN_TRY(kiln_keras_weight_read(b, index, rank, expected, dims, &data));
  kiln_status *st = kiln_keras_const_f32(b, suffix, data, rank, dims, out_id);
  kiln_free(b->g->alloc, data);
  if (!st && out_dims) memcpy(out_dims, dims, sizeof(int64_t) * (size_t)rank);
  return st;
}

const kiln_value *kiln_keras_value(const kiln_keras_builder *b, int id) {
  return &b->g->values[id];
}

kiln_status *kiln_keras_node(kiln_keras_builder *b, kiln_op_type op,
                             const int *inputs, int num_inputs,
                             const void *attrs, const char *suffix,
                             kiln_dtype dtype, int *out_id) {
  char name[512];
  value_name(b, suffix, name, sizeof name);
  kiln_graph_builder gb = {b->g, b->source, b->layer_index};
  kiln_status *st =
      kiln_gb_node(&gb, op, inputs, num_inputs, attrs, name, dtype, out_id);
  return st ? kiln_status_wrap(st, "layer '%s' (%s)", b->layer, b->class_name)
            : NULL;
}

/* x * op(x) for the gated activations. */
static kiln_status *gated(kiln_keras_builder *b, kiln_op_type gate, int x,
                          const char *suffix, int *out) {
  char s[256];
  snprintf(s, sizeof s, "%s%sgate", suffix ? suffix : "",
           suffix && *suffix ? "/" : "");
  int g;
  KILN_TRY(kiln_keras_node(b, gate, &x, 1, NULL, s, KILN_DTYPE_INVALID, &g));
  int ins[2] = {x, g};
  return kiln_keras_node(b, KILN_OP_MUL, ins, 2, NULL, suffix,
                         KILN_DTYPE_INVALID, out);
}

kiln_status *kiln_keras_activation(kiln_keras_builder *b, const char *name,
                                   int x, const char *suffix, int *out) {
  static const struct {
    const char *name;
    kiln_op_type op;
  } plain[] = {
      {"relu", KILN_OP_RELU},
      {"relu6", KILN_OP_RELU6},
      {"sigmoid", KILN_OP_LOGISTIC},
      {"tanh", KILN_OP_TANH},
      {"elu", KILN_OP_ELU},
      {"exponential", KILN_OP_EXP},
      {"hard_swish", KILN_OP_HARD_SWISH},
      {"hard_silu", KILN_OP_HARD_SWISH},
      {"log_softmax", KILN_OP_LOG_SOFTMAX},
  };
  if (!name || strcmp(name, "linear") == 0) {
    *out = x;
    return NULL;
  }
  for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
    if (strcmp(name, plain[i].name) == 0)
      return kiln_keras_node(b, plain[i].op, &x, 1, NULL, suffix,
                             KILN_DTYPE_INVALID, out);
  if (strcmp(name, "softmax") == 0) {
    kiln_softmax_attrs a = {.beta = 1.0f};
    return kiln_keras_node(b, KILN_OP_SOFTMAX, &x, 1, &a, suffix,
                           KILN_DTYPE_INVALID, out);
  }
  if (strcmp(name, "swish") == 0 || strcmp(name, "silu") == 0)
    return gated(b, KILN_OP_LOGISTIC, x, suffix, out);
  if (strcmp(name, "gelu") == 0) {
    /* keras.activations.gelu defaults to the exact (erf) form. */
    kiln_gelu_attrs a = {.approximate = false};
    return kiln_keras_node(b, KILN_OP_GELU, &x, 1, &a, suffix,
                           KILN_DTYPE_INVALID, out);
  }
  if (strcmp(name, "leaky_relu") == 0) {
    kiln_leaky_relu_attrs a = {.alpha = 0.2f}; /* Keras 3's default slope */
    return kiln_keras_node(b, KILN_OP_LEAKY_RELU, &x, 1, &a, suffix,
                           KILN_DTYPE_INVALID, out);
  }
  if (strcmp(name, "hard_sigmoid") == 0) {
    /* Keras 3: relu6(x + 3) / 6. */
    char s[256];
    snprintf(s, sizeof s, "%s%shs", suffix ? suffix : "",
             suffix && *suffix ? "/" : "");
    int c3, c6, t, r;
    const float three = 3.0f, sixth = 1.0f / 6.0f;
    int64_t one[1] = {1};
    KILN_TRY(kiln_keras_const_f32(b, "hs3", &three, 0, one, &c3));
    KILN_TRY(kiln_keras_const_f32(b, "hs6", &sixth, 0, one, &c6));
    int add_in[2] = {x, c3};
    KILN_TRY(kiln_keras_node(b, KILN_OP_ADD, add_in, 2, NULL, "hs_add",
                             KILN_DTYPE_INVALID, &t));
    KILN_TRY(kiln_keras_node(b, KILN_OP_RELU6, &t, 1, NULL, "hs_relu6",
                             KILN_DTYPE_INVALID, &r));
    int mul_in[2] = {r, c6};
    return kiln_keras_node(b, KILN_OP_MUL, mul_in, 2, NULL, suffix,
                           KILN_DTYPE_INVALID, out);
  }
  return kiln_keras_error(b, "activation '%s' is not supported", name);
}
