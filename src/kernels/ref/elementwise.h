/* elementwise.h - helpers shared by the reference kernels of issue 9's
 * math, logical and reduction operators (math.c, logical.c, reduce_more.c,
 * generate.c): dtype sets as bit masks with a readable name for messages,
 * integer stores that wrap as two's complement, and an odometer over a
 * broadcast output that tracks each input's element offset. */
#ifndef KILN_KERNELS_REF_ELEMENTWISE_H
#define KILN_KERNELS_REF_ELEMENTWISE_H

#include <stdbool.h>
#include <stdint.h>

#include "kernels/kernel.h"

/* A set of dtypes: bit d stands for dtype d. */
typedef unsigned kiln_dtype_mask;
#define KILN_DT(t) (1u << (t))
#define KILN_DT_INTS                                                \
  (KILN_DT(KILN_INT8) | KILN_DT(KILN_UINT8) | KILN_DT(KILN_INT16) | \
   KILN_DT(KILN_INT32) | KILN_DT(KILN_INT64))

static inline bool kiln_dtype_in(kiln_dtype t, kiln_dtype_mask mask) {
  return (unsigned)t < 32 && ((mask >> t) & 1u);
}

/* Checks t's dtype is in mask; the message names `role` and lists the
 * mask's types ("float32, int32 or int64"). */
kiln_status *kiln_require_dtype_in(const kiln_tensor *t, kiln_dtype_mask mask,
                                   const char *role);

/* Checks output 0 has `dtype` (the model's types disagree otherwise). */
kiln_status *kiln_require_output_dtype(const kiln_op_ctx *ctx,
                                       kiln_dtype dtype);

/* Quantized tensors are the quantized kernels' business: these operators
 * run on plain values and refuse a tensor with quantization parameters. */
kiln_status *kiln_require_unquantized(const kiln_tensor *t, const char *role);

/* The reductions of reduce.c and reduce_more.c: marks in `reduced` (of
 * KILN_MAX_RANK) the axes input 1 lists, once the caller checked its type
 * (negative ones count from the end; repeats are harmless); then sets
 * output 0's shape, keeping reduced axes as 1 when attrs keep_dims. */
kiln_status *kiln_mark_axes(const kiln_op_ctx *ctx, bool *reduced);
void kiln_set_reduced_shape(const kiln_op_ctx *ctx, const bool *reduced);

/* ARG_MAX (reduce.c) and ARG_MIN (reduce_more.c): after the operator has
 * checked its dtypes, the shape function checks the axis (one value within
 * input 0's rank) and sets the output shape; the kernel writes, along that
 * axis, the index of the first largest (or, `smallest`, least) element. */
kiln_status *kiln_shape_arg_reduce(const kiln_op_ctx *ctx);
/* The one value of input 1 (axis, int32 or int64 as the caller checked: a
 * scalar or a 1-element vector) as an axis of input 0. */
kiln_status *kiln_read_one_axis(const kiln_op_ctx *ctx, int *out_axis);
void kiln_ref_arg_reduce(const kiln_op_ctx *ctx, bool smallest);

/* Stores v into element i of an integer or bool tensor, keeping its low
 * bits (two's complement wrap, as TFLite's integer kernels behave). */
static inline void kiln_store_int(kiln_tensor *t, int64_t i, int64_t v) {
  switch (t->dtype) {
    case KILN_INT8:
      ((int8_t *)t->data)[i] = (int8_t)(uint8_t)(uint64_t)v;
      break;
    case KILN_UINT8:
      ((uint8_t *)t->data)[i] = (uint8_t)(uint64_t)v;
      break;
    case KILN_BOOL:
      ((uint8_t *)t->data)[i] = v != 0;
      break;
    case KILN_INT16:
      ((int16_t *)t->data)[i] = (int16_t)(uint16_t)(uint64_t)v;
      break;
    case KILN_INT32:
      ((int32_t *)t->data)[i] = (int32_t)(uint32_t)(uint64_t)v;
      break;
    case KILN_INT64:
      ((int64_t *)t->data)[i] = v;
      break;
    case KILN_UINT16:
      ((uint16_t *)t->data)[i] = (uint16_t)(uint64_t)v;
      break;
    case KILN_UINT32:
      ((uint32_t *)t->data)[i] = (uint32_t)(uint64_t)v;
      break;
    case KILN_UINT64:
      ((uint64_t *)t->data)[i] = (uint64_t)v;
      break;
    default:
      break;
  }
}

/* Bits of an integer dtype (8 for bool). */
int kiln_int_bits(kiln_dtype t);

/* Walks a broadcast output in row-major order; offset[k] is input k's
 * element offset (broadcast dimensions have stride 0). */
#define KILN_BCAST_MAX_INPUTS 4
typedef struct kiln_bcast_walk {
  int rank, count;
  int64_t dims[KILN_MAX_RANK], index[KILN_MAX_RANK];
  int64_t strides[KILN_BCAST_MAX_INPUTS][KILN_MAX_RANK];
  int64_t offset[KILN_BCAST_MAX_INPUTS];
} kiln_bcast_walk;

/* Inputs are `inputs[0..count)`, each broadcastable to `out`. */
void kiln_bcast_walk_init(kiln_bcast_walk *w, const kiln_tensor *const *inputs,
                          int count, const kiln_tensor *out);
/* The same over ctx's output 0 and its first `count` inputs. */
void kiln_bcast_walk_init_ctx(kiln_bcast_walk *w, const kiln_op_ctx *ctx,
                              int count);
void kiln_bcast_walk_next(kiln_bcast_walk *w);

/* The shape function of a broadcasting binary operator whose inputs share
 * a dtype from `in_mask`; the output has `out_dtype`, or the inputs' type
 * when out_dtype is KILN_DTYPE_INVALID. */
kiln_status *kiln_shape_broadcast2(const kiln_op_ctx *ctx,
                                   kiln_dtype_mask in_mask,
                                   kiln_dtype out_dtype);

/* The shape function of a unary operator whose input is in `mask` and
 * whose output has the input's shape and `out_dtype` (or the input's type
 * when KILN_DTYPE_INVALID). */
kiln_status *kiln_shape_map(const kiln_op_ctx *ctx, kiln_dtype_mask mask,
                            kiln_dtype out_dtype);

#endif
