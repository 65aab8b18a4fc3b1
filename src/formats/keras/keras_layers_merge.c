/* keras_layers_merge.c - the merge layers: Add, Subtract, Multiply,
 * Average, Maximum, Minimum (elementwise over two or more inputs, with
 * broadcasting) and Concatenate. */
#include <stdio.h>
#include <string.h>

#include "formats/keras/keras_layers.h"

kiln_status *kiln_keras_build_merge(kiln_keras_builder *b, const int *in, int n,
                                    int *out, int *num_out) {
  const char *cls = b->class_name;
  bool subtract = strcmp(cls, "Subtract") == 0;
  if (n < 2 || (subtract && n != 2))
    return kiln_keras_error(b, "is given %d inputs (%s)", n,
                            subtract ? "exactly 2" : "2 or more");
  kiln_op_type op = strcmp(cls, "Multiply") == 0  ? KILN_OP_MUL
                    : strcmp(cls, "Maximum") == 0 ? KILN_OP_MAXIMUM
                    : strcmp(cls, "Minimum") == 0 ? KILN_OP_MINIMUM
                    : subtract                    ? KILN_OP_SUB
                                                  : KILN_OP_ADD;
  bool average = strcmp(cls, "Average") == 0;
  int acc = in[0];
  for (int i = 1; i < n; i++) {
    int ins[2] = {acc, in[i]};
    bool last = i == n - 1 && !average;
    char suffix[32];
    snprintf(suffix, sizeof suffix, "step%d", i);
    KILN_TRY(kiln_keras_node(b, op, ins, 2, NULL, last ? NULL : suffix,
                             KILN_DTYPE_INVALID, &acc));
  }
  if (average) {
    float inv = 1.0f / (float)n;
    int c;
    KILN_TRY(kiln_keras_const_f32(b, "inv_count", &inv, 0, NULL, &c));
    int ins[2] = {acc, c};
    KILN_TRY(kiln_keras_node(b, KILN_OP_MUL, ins, 2, NULL, NULL,
                             KILN_DTYPE_INVALID, &acc));
  }
  out[0] = acc;
  *num_out = 1;
  return NULL;
}

kiln_status *kiln_keras_build_concatenate(kiln_keras_builder *b, const int *in,
                                          int n, int *out, int *num_out) {
  if (n < 1) return kiln_keras_error(b, "has no inputs");
  int axis;
  KILN_TRY(kiln_keras_int(b, "axis", -1, &axis));
  int rank = kiln_keras_value(b, in[0])->rank;
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank)
    return kiln_keras_error(b, "axis is out of range for rank %d", rank);
  kiln_concat_attrs a = {.axis = axis};
  *num_out = 1;
  return kiln_keras_node(b, KILN_OP_CONCATENATION, in, n, &a, NULL,
                         KILN_DTYPE_INVALID, &out[0]);
}
