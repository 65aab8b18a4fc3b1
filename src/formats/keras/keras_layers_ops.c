/* keras_layers_ops.c - the layers Keras 3 writes for operations applied to
 * tensors in a functional model (classes of keras.src.ops: `x / 2.0` is a
 * TrueDivide, `-x` a Negative, ops.matmul a Matmul, ops.transpose a
 * Transpose, ops.mean a Mean). A number among the arguments is already a
 * float constant (keras_import.c), so `2.0 / x` is DIV(2, x). Add,
 * Subtract, Multiply, Maximum and Minimum share the merge layers' class
 * names and builder (keras_layers_merge.c). */
#include <string.h>

#include "formats/keras/keras_layers.h"

kiln_status *kiln_keras_build_unary_op(kiln_keras_builder *b, const int *in,
                                       int n, int *out, int *num_out) {
  static const struct {
    const char *cls;
    kiln_op_type op;
  } ops[] = {
      {"Negative", KILN_OP_NEG},  {"Absolute", KILN_OP_ABS},
      {"Sqrt", KILN_OP_SQRT},     {"Rsqrt", KILN_OP_RSQRT},
      {"Exp", KILN_OP_EXP},       {"Log", KILN_OP_LOG},
      {"Tanh", KILN_OP_TANH},     {"Sigmoid", KILN_OP_LOGISTIC},
      {"Square", KILN_OP_SQUARE}, {"Relu", KILN_OP_RELU},
  };
  KILN_TRY(kiln_keras_one_input(b, in, n, -1));
  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
    if (strcmp(b->class_name, ops[i].cls) == 0) {
      *num_out = 1;
      return kiln_keras_node(b, ops[i].op, in, 1, NULL, NULL,
                             KILN_DTYPE_INVALID, &out[0]);
    }
  return kiln_keras_error(b, "is not an operation kiln builds");
}

/* Keras's true division gives floats: integer operands are cast first. */
static kiln_status *as_float(kiln_keras_builder *b, int x, const char *suffix,
                             int *out) {
  *out = x;
  if (kiln_keras_value(b, x)->dtype == KILN_FLOAT32) return NULL;
  return kiln_keras_node(b, KILN_OP_CAST, &x, 1, NULL, suffix, KILN_FLOAT32,
                         out);
}

kiln_status *kiln_keras_build_binary_op(kiln_keras_builder *b, const int *in,
                                        int n, int *out, int *num_out) {
  if (n != 2)
    return kiln_keras_error(b, "takes two operands and is given %d", n);
  bool power = strcmp(b->class_name, "Power") == 0;
  int ins[2];
  KILN_TRY(as_float(b, in[0], "x_float", &ins[0]));
  KILN_TRY(as_float(b, in[1], "y_float", &ins[1]));
  *num_out = 1;
  if (power)
    return kiln_keras_node(b, KILN_OP_POW, ins, 2, NULL, NULL,
                           KILN_DTYPE_INVALID, &out[0]);
  kiln_activation_attrs a = {0};
  return kiln_keras_node(b, KILN_OP_DIV, ins, 2, &a, NULL, KILN_DTYPE_INVALID,
                         &out[0]);
}

kiln_status *kiln_keras_build_matmul(kiln_keras_builder *b, const int *in,
                                     int n, int *out, int *num_out) {
  if (n != 2)
    return kiln_keras_error(b, "takes two operands and is given %d", n);
  for (int i = 0; i < 2; i++)
    if (kiln_keras_value(b, in[i])->rank < 2)
      return kiln_keras_error(b,
                              "operand %d has rank %d: only matrices (and "
                              "batches of them) are supported",
                              i, kiln_keras_value(b, in[i])->rank);
  kiln_batch_matmul_attrs a = {0};
  *num_out = 1;
  return kiln_keras_node(b, KILN_OP_BATCH_MATMUL, in, 2, &a, NULL,
                         KILN_DTYPE_INVALID, &out[0]);
}

kiln_status *kiln_keras_build_transpose_op(kiln_keras_builder *b, const int *in,
                                           int n, int *out, int *num_out) {
  KILN_TRY(kiln_keras_one_input(b, in, n, -1));
  int rank = kiln_keras_value(b, in[0])->rank;
  int axes[KILN_MAX_RANK];
  int32_t perm[KILN_MAX_RANK];
  /* axes None reverses the axes, as numpy's transpose. */
  const json_t *given = json_object_get(b->config, "axes");
  if (given && !json_is_null(given)) {
    KILN_TRY(kiln_keras_ints(b, "axes", rank, NULL, axes));
  } else {
    for (int d = 0; d < rank; d++) axes[d] = rank - 1 - d;
  }
  bool seen[KILN_MAX_RANK] = {false};
  for (int d = 0; d < rank; d++) {
    int a = axes[d] < 0 ? axes[d] + rank : axes[d];
    if (a < 0 || a >= rank || seen[a])
      return kiln_keras_error(b, "axes is not a permutation of %d axes", rank);
    seen[a] = true;
    perm[d] = a;
  }
  int p;
  KILN_TRY(kiln_keras_const_i32(b, "perm", perm, rank, &p));
  int ins[2] = {in[0], p};
  *num_out = 1;
  return kiln_keras_node(b, KILN_OP_TRANSPOSE, ins, 2, NULL, NULL,
                         KILN_DTYPE_INVALID, &out[0]);
}

kiln_status *kiln_keras_build_mean_op(kiln_keras_builder *b, const int *in,
                                      int n, int *out, int *num_out) {
  KILN_TRY(kiln_keras_one_input(b, in, n, -1));
  int rank = kiln_keras_value(b, in[0])->rank;
  bool keepdims;
  KILN_TRY(kiln_keras_bool(b, "keepdims", false, &keepdims));
  int32_t axes[KILN_MAX_RANK];
  int count = 0;
  /* axis: None (every axis), an int, or a list of them. */
  const json_t *axis = json_object_get(b->config, "axis");
  if (!axis || json_is_null(axis)) {
    for (int d = 0; d < rank; d++) axes[count++] = d;
  } else {
    if (json_is_array(axis) &&
        (json_array_size(axis) < 1 || json_array_size(axis) > (size_t)rank))
      return kiln_keras_error(b, "axis lists %zu axes of %d",
                              json_array_size(axis), rank);
    count = json_is_array(axis) ? (int)json_array_size(axis) : 1;
    int values[KILN_MAX_RANK];
    KILN_TRY(kiln_keras_ints(b, "axis", count, NULL, values));
    for (int i = 0; i < count; i++) {
      int a = values[i] < 0 ? values[i] + rank : values[i];
      if (a < 0 || a >= rank)
        return kiln_keras_error(b, "axis %d is out of range for rank %d",
                                values[i], rank);
      axes[i] = a;
    }
  }
  /* The batch stays the output's first axis (its size unknown till run
   * time), so it is not reduced. */
  for (int i = 0; i < count; i++)
    if (axes[i] == 0 && b->batch_dynamic)
      return kiln_keras_error(b,
                              "averaging over the batch axis is not "
                              "supported");
  int a;
  KILN_TRY(kiln_keras_const_i32(b, "axes", axes, count, &a));
  kiln_reduce_attrs r = {.keep_dims = keepdims};
  int ins[2] = {in[0], a};
  *num_out = 1;
  return kiln_keras_node(b, KILN_OP_MEAN, ins, 2, &r, NULL, KILN_DTYPE_INVALID,
                         &out[0]);
}
