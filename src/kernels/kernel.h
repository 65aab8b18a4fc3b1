/* kernel.h - the contract between the runtime and operator implementations.
 *
 * An operator has three functions, named in src/core/op_list.h:
 *   shape  (prepare) checks inputs and attributes and sets each output's rank
 *          and dims; outputs arrive with their dtype already set from the
 *          model, which the shape function checks. It may fail with a
 *          message naming the input and the bad value; the runtime prefixes
 *          the operator's index and name.
 *   kernel (eval) computes outputs from inputs. It must not allocate and
 *          fails only on data-dependent errors (an index out of range).
 *   flops  counts floating-point operations for `kiln info` and profiles.
 *
 * Kernels see tensors (pointers and shapes), never the graph. During shape
 * inference a tensor's data is non-NULL only when its value is known before
 * invoke (a constant, or computed from constants and shapes); operators whose
 * output shape depends on an input's values (RESHAPE's shape, PAD's paddings)
 * require that input to be known and say so otherwise.
 *
 * Outputs sized at invoke: an operator whose output shape depends on input
 * values that are not known before invoke (WHERE's condition, RANGE's
 * limit from a model input) may defer that output instead of refusing:
 * its shape function sets the rank and marks the dimensions
 * KILN_DIM_AT_INVOKE (kiln_defer_output). The session then runs the shape
 * function again at invoke, when every input's data is there (so it
 * computes the real shape, and checks the values), sizes the output in
 * memory of its own, and does the same for the nodes downstream before
 * running their kernels (ARCHITECTURE.md, "Outputs sized at invoke").
 * Kernels themselves never resize. */
#ifndef KILN_KERNELS_KERNEL_H
#define KILN_KERNELS_KERNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/op_attrs.h"
#include "core/status.h"
#include "kiln.h"

typedef struct kiln_tensor {
  kiln_dtype dtype;
  int rank;
  int64_t dims[KILN_MAX_RANK];
  void *data;
  const kiln_quant_info *quant; /* NULL when not quantized */
} kiln_tensor;

struct kiln_threadpool;
struct kiln_quant_params;

typedef struct kiln_op_ctx {
  const void *attrs;
  kiln_tensor *const *inputs; /* an omitted optional input is NULL */
  int num_inputs;
  kiln_tensor *const *outputs;
  int num_outputs;
  /* For optimized kernels: weights packed at load by the chosen variant
   * (NULL otherwise), and the session's pool (NULL: run on the caller). */
  const void *packed;
  struct kiln_threadpool *pool;
  /* For quantized nodes (kernels/ref/quant_params.h): requantization
   * multipliers, zero-point-corrected bias and clamps, computed once at
   * load from the node's constant scales and weights; NULL otherwise. */
  const struct kiln_quant_params *quant;
} kiln_op_ctx;

/* For ops with per-node state (core/ops.h: kiln_op_state_bytes, which no
 * variant packs): the session passes that state, memory it owns that
 * outlives invokes and that the kernel writes, in `packed`. NULL outside
 * a session. */
static inline void *kiln_op_state(const kiln_op_ctx *ctx) {
  return (void *)(uintptr_t)ctx->packed;
}

typedef kiln_status *(*kiln_shape_fn)(const kiln_op_ctx *ctx);
typedef kiln_status *(*kiln_kernel_fn)(const kiln_op_ctx *ctx);
typedef double (*kiln_flops_fn)(const kiln_op_ctx *ctx);

/* Declarations of every function the operator table names. */
#define KILN_OP(id, attrs, shape, ref, flops) \
  kiln_status *shape(const kiln_op_ctx *ctx); \
  kiln_status *ref(const kiln_op_ctx *ctx);   \
  double flops(const kiln_op_ctx *ctx);
#include "core/op_list.h"
#undef KILN_OP

/* Shape functions shared by op-specific ones (not named in the table). */
kiln_status *kiln_shape_unary(const kiln_op_ctx *ctx);

/* Shared flop counters: none, one per output element, one per input element. */
double kiln_flops_none(const kiln_op_ctx *ctx);
double kiln_flops_per_output(const kiln_op_ctx *ctx);
double kiln_flops_per_input(const kiln_op_ctx *ctx);

/* ---- helpers for shape functions and kernels (kernels/kernel_util.c) ---- */

/* Number of elements (1 for rank 0). */
int64_t kiln_tensor_numel(const kiln_tensor *t);
size_t kiln_tensor_nbytes(const kiln_tensor *t);

/* "[1,224,224,3]" into buf (always terminated). Returns buf. */
const char *kiln_dims_str(const int64_t *dims, int rank, char *buf,
                          size_t size);
#define KILN_DIMS_STR_SIZE 160

/* Checks that input `index` exists (not omitted, within num_inputs). */
kiln_status *kiln_require_input(const kiln_op_ctx *ctx, int index,
                                const char *role);
/* Checks the input count is within [min, max] and the output count equals
 * `outputs`. */
kiln_status *kiln_check_arity(const kiln_op_ctx *ctx, int min_inputs,
                              int max_inputs, int outputs);
/* Checks that input `index` has its value known before invoke. */
kiln_status *kiln_require_known(const kiln_op_ctx *ctx, int index,
                                const char *role);
/* Checks dtype of a tensor; `role` names it in the message. */
kiln_status *kiln_require_dtype(const kiln_tensor *t, kiln_dtype dtype,
                                const char *role);
kiln_status *kiln_require_rank(const kiln_tensor *t, int rank,
                               const char *role);

/* Checks that input `index` (`name` in messages, as "input 0 (input)") is
 * present, float32, of rank min_rank..max_rank (max_rank -1: no upper bound)
 * and has no empty dimension. */
kiln_status *kiln_require_float_input(const kiln_op_ctx *ctx, int index,
                                      const char *name, int min_rank,
                                      int max_rank);
/* As kiln_require_float_input, except that dimension 0 (the batch) may be
 * 0: operators that work batch by batch (convolutions, pools,
 * FULLY_CONNECTED) then have an empty output and nothing to compute, as in
 * TFLite. Every other dimension must still be at least 1. */
kiln_status *kiln_require_float_batch_input(const kiln_op_ctx *ctx, int index,
                                            const char *name, int min_rank,
                                            int max_rank);

/* ---- sliding windows (CONV_2D, DEPTHWISE_CONV_2D, the 2-D pools) ----
 *
 * TFLite's padding rule (ComputeOutSize and ComputePaddingHeightWidth in
 * tensorflow/lite/kernels/padding.h), per spatial axis, for a window of k
 * taps `dilation` apart, so spanning effective_k = (k - 1) * dilation + 1:
 *   SAME:  out = ceil(in / stride);
 *          pad_total = max((out - 1) * stride + effective_k - in, 0);
 *          pad_before = pad_total / 2 (an odd extra one goes after).
 *   VALID: out = (in - effective_k) / stride + 1, an error when
 *          in < effective_k; no padding.
 * Optimized kernels must use these same helpers so their windows agree with
 * the reference kernels'. */

/* Checks the padding is SAME or VALID, the strides at least 1 and the fused
 * activation known. */
kiln_status *kiln_check_window_attrs(kiln_padding padding, int stride_h,
                                     int stride_w, kiln_activation activation);
/* Output size along `axis` (1 height, 2 width) of the NHWC input 0 (named
 * "input 0 (input)" when VALID padding leaves no room for the window). */
kiln_status *kiln_window_out_size(const kiln_tensor *input, int axis, int64_t k,
                                  int stride, int dilation,
                                  kiln_padding padding, int64_t *out);
/* Padding before the first input element along an axis of `in` elements
 * with `out` outputs. */
int64_t kiln_window_pad_before(int64_t in, int64_t out, int64_t k, int stride,
                               int dilation, kiln_padding padding);

/* Element i of an integer or bool tensor as int64 (uint64 above INT64_MAX
 * wraps; 0 for other types). */
int64_t kiln_tensor_int(const kiln_tensor *t, int64_t i);
/* Element i of a float32/float16/int tensor as double (slow; for prepare). */
double kiln_tensor_real(const kiln_tensor *t, int64_t i);

/* Normalizes axis (may be negative) into [0, rank); fails naming `role`. */
kiln_status *kiln_normalize_axis(int64_t axis, int rank, const char *role,
                                 int *out_axis);

/* NumPy broadcasting of two shapes into out (rank = max). */
kiln_status *kiln_broadcast_shapes(const int64_t *a, int rank_a,
                                   const int64_t *b, int rank_b, int64_t *out,
                                   int *out_rank);

/* Strides (in elements) of `t` read as if broadcast to the output shape
 * out_dims/out_rank: 0 along broadcast dimensions. */
void kiln_broadcast_strides(const kiln_tensor *t, const int64_t *out_dims,
                            int out_rank, int64_t *strides);

/* Sets out dims from a shape array. */
void kiln_set_shape(kiln_tensor *t, const int64_t *dims, int rank);

/* ---- outputs sized at invoke ---- */

/* A dimension a shape function leaves to be computed at invoke. */
#define KILN_DIM_AT_INVOKE (-1)

/* For a shape function: `t` has rank `rank` and a size known only at
 * invoke (every dimension KILN_DIM_AT_INVOKE). */
void kiln_defer_output(kiln_tensor *t, int rank);
/* True when some dimension of t is KILN_DIM_AT_INVOKE. */
bool kiln_tensor_deferred(const kiln_tensor *t);

/* The standalone LOGISTIC and HARD_SWISH reference kernels' math, in double
 * and rounded once by the caller (kernels/activation.c); the fused forms
 * use the same functions so that fusing a node changes no bit of the
 * reference result. */
double kiln_logistic_d(double x);
double kiln_hard_swish_d(double x);

/* Applies a fused activation to one value: TFLite's as TFLite does, and
 * kiln's own as the standalone ops they replace compute them. SWISH rounds
 * the logistic to float before multiplying, as MUL(x, LOGISTIC(x)) does. */
static inline float kiln_activate(float x, kiln_activation act) {
  switch (act) {
    case KILN_ACT_RELU:
      return x < 0.0f ? 0.0f : x;
    case KILN_ACT_RELU_N1_TO_1:
      return x < -1.0f ? -1.0f : (x > 1.0f ? 1.0f : x);
    case KILN_ACT_RELU6:
      return x < 0.0f ? 0.0f : (x > 6.0f ? 6.0f : x);
    case KILN_ACT_TANH:
      return __builtin_tanhf(x);
    case KILN_ACT_SIGN_BIT:
      return __builtin_signbit(x) ? 1.0f : 0.0f;
    case KILN_ACT_HARD_SWISH:
      return (float)kiln_hard_swish_d(x);
    case KILN_ACT_LOGISTIC:
      return (float)kiln_logistic_d(x);
    case KILN_ACT_SWISH:
      return x * (float)kiln_logistic_d(x);
    case KILN_ACT_NONE:
      break;
  }
  return x;
}

/* Checks a fused activation value is one kiln knows. */
kiln_status *kiln_check_activation(kiln_activation act);

/* IEEE half <-> float. */
float kiln_half_to_float(uint16_t h);
uint16_t kiln_float_to_half(float f);

#endif
