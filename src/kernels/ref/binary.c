/* binary.c - reference broadcasting binary ops and SELECT_V2. */
#include <math.h>
#include <string.h>

#include "kernels/kernel.h"
#include "kernels/ref/elementwise.h"
#include "kernels/ref/quant_ops.h"
#include "kernels/ref/quant_util.h"

/* Per-op shape functions named in op_list.h: they check dtypes and fused
 * activations at prepare, so the kernels below only compute. */

enum {
  MASK_FLOAT = 1u << KILN_FLOAT32,
  MASK_NUMERIC = (1u << KILN_FLOAT32) | (1u << KILN_INT32) | (1u << KILN_INT64),
  MASK_FLOAT_INT32 = (1u << KILN_FLOAT32) | (1u << KILN_INT32),
  /* ADD, SUB and MUL: TFLite also runs them on float16 */
  MASK_ARITH = MASK_NUMERIC | (1u << KILN_FLOAT16),
  /* MUL alone also on uint32 and complex64 */
  MASK_MUL = MASK_ARITH | (1u << KILN_UINT32) | (1u << KILN_COMPLEX64),
  /* MAXIMUM and MINIMUM: float16 as well (each result is one of the
   * operands, so no rounding is involved) */
  MASK_MINMAX = MASK_ARITH,
};

static kiln_status *check_dtype(const kiln_tensor *t, unsigned mask,
                                const char *role) {
  if ((unsigned)t->dtype < 32 && ((mask >> t->dtype) & 1u)) return NULL;
  return kiln_error(KILN_ERR_UNSUPPORTED, "%s has type %s; supported: %s", role,
                    kiln_dtype_name(t->dtype),
                    mask == MASK_FLOAT         ? "float32"
                    : mask == MASK_FLOAT_INT32 ? "float32, int32"
                    : mask == MASK_ARITH ? "float32, float16, int32, int64"
                    : mask == MASK_MUL   ? "float32, float16, int32, int64, "
                                           "uint32, complex64"
                                         : "float32, int32, int64");
}

static kiln_status *binary_shape(const kiln_op_ctx *ctx, unsigned mask) {
  KILN_TRY(kiln_check_arity(ctx, 2, 2, 1));
  KILN_TRY(kiln_require_input(ctx, 0, "x"));
  KILN_TRY(kiln_require_input(ctx, 1, "y"));
  const kiln_tensor *x = ctx->inputs[0], *y = ctx->inputs[1];
  kiln_tensor *out = ctx->outputs[0];
  KILN_TRY(check_dtype(x, mask, "input 0 (x)"));
  if (y->dtype != x->dtype)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 1 (y) has type %s but input 0 (x) has type %s",
                      kiln_dtype_name(y->dtype), kiln_dtype_name(x->dtype));
  if (out->dtype != x->dtype)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "output 0 has type %s; expected %s like the inputs",
                      kiln_dtype_name(out->dtype), kiln_dtype_name(x->dtype));
  int64_t dims[KILN_MAX_RANK];
  int rank = 0;
  KILN_TRY(kiln_status_wrap(
      kiln_broadcast_shapes(x->dims, x->rank, y->dims, y->rank, dims, &rank),
      "inputs 0 (x) and 1 (y)"));
  kiln_set_shape(out, dims, rank);
  return NULL;
}

static kiln_activation fused_activation(const kiln_op_ctx *ctx) {
  const kiln_activation_attrs *attrs = ctx->attrs;
  return attrs ? attrs->activation : KILN_ACT_NONE;
}

/* The clamps TFLite's CalculateActivationRange gives an int32 output;
 * false for the activations that have none there. */
static bool int32_clamp(kiln_activation act, int64_t *lo, int64_t *hi) {
  switch (act) {
    case KILN_ACT_RELU:
      *lo = 0, *hi = INT32_MAX;
      return true;
    case KILN_ACT_RELU6:
      *lo = 0, *hi = 6;
      return true;
    case KILN_ACT_RELU_N1_TO_1:
      *lo = -1, *hi = 1;
      return true;
    default:
      return false;
  }
}

/* The same clamps in uint32, as TFLite computes them in that type: RELU's
 * top is UINT32_MAX, and RELU_N1_TO_1's bottom -1 wraps to UINT32_MAX, so
 * max-then-min makes every element 1. */
static bool uint32_clamp(kiln_activation act, uint32_t *lo, uint32_t *hi) {
  switch (act) {
    case KILN_ACT_RELU:
      *lo = 0, *hi = UINT32_MAX;
      return true;
    case KILN_ACT_RELU6:
      *lo = 0, *hi = 6;
      return true;
    case KILN_ACT_RELU_N1_TO_1:
      *lo = UINT32_MAX, *hi = 1;
      return true;
    default:
      return false;
  }
}

/* Fused activations run on float32, and on int32, uint32 and float16 as
 * TFLite's clamps (the RELU family); other types refuse them. */
static kiln_status *check_fused(const kiln_op_ctx *ctx) {
  kiln_activation act = fused_activation(ctx);
  KILN_TRY(kiln_check_activation(act));
  kiln_dtype t = ctx->inputs[0]->dtype;
  int64_t lo, hi;
  if (act != KILN_ACT_NONE && t != KILN_FLOAT32 &&
      !((t == KILN_INT32 || t == KILN_UINT32 || t == KILN_FLOAT16) &&
        int32_clamp(act, &lo, &hi)))
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "fused activation %d on type %s is not supported "
                      "(float32, and RELU / RELU6 / RELU_N1_TO_1 on int32, "
                      "uint32 and float16)",
                      (int)act, kiln_dtype_name(t));
  return NULL;
}

/* MAXIMUM and MINIMUM. */
kiln_status *kiln_shape_binary(const kiln_op_ctx *ctx) {
  if (kiln_q_node(ctx)) return kiln_qshape_binary(ctx, KILN_QB_MAXIMUM);
  return binary_shape(ctx, MASK_MINMAX);
}

/* ADD, SUB and MUL: their quantized plans check the same things. */
kiln_status *kiln_shape_binary_arith(const kiln_op_ctx *ctx) {
  if (kiln_q_node(ctx)) return kiln_qshape_binary(ctx, KILN_QB_ADD);
  KILN_TRY(binary_shape(ctx, MASK_ARITH));
  return check_fused(ctx);
}

/* MUL: ADD's types and also uint32 and complex64 (LiteRT runs no
 * quantized complex or uint32 MUL). */
kiln_status *kiln_shape_mul(const kiln_op_ctx *ctx) {
  if (kiln_q_node(ctx)) return kiln_qshape_binary(ctx, KILN_QB_ADD);
  KILN_TRY(binary_shape(ctx, MASK_MUL));
  return check_fused(ctx);
}

/* Quantized DIV (uint8, int8, int16) is quant_div.c's. */
kiln_status *kiln_shape_div(const kiln_op_ctx *ctx) {
  if (kiln_q_node(ctx)) return kiln_qshape_div(ctx);
  KILN_TRY(binary_shape(ctx, MASK_NUMERIC));
  return check_fused(ctx);
}

kiln_status *kiln_shape_binary_float(const kiln_op_ctx *ctx) {
  return binary_shape(ctx, MASK_FLOAT);
}

/* POW: TFLite runs it on float32 and int32. */
kiln_status *kiln_shape_binary_float_int32(const kiln_op_ctx *ctx) {
  return binary_shape(ctx, MASK_FLOAT_INT32);
}

/* SQUARED_DIFFERENCE: float32 and int32, and quantized int8. */
kiln_status *kiln_shape_squared_difference(const kiln_op_ctx *ctx) {
  if (kiln_q_node(ctx))
    return kiln_qshape_binary(ctx, KILN_QB_SQUARED_DIFFERENCE);
  return binary_shape(ctx, MASK_FLOAT_INT32);
}

kiln_status *kiln_shape_prelu(const kiln_op_ctx *ctx) {
  if (kiln_q_node(ctx)) return kiln_qshape_binary(ctx, KILN_QB_PRELU);
  return binary_shape(ctx, MASK_FLOAT);
}

/* ---------------------------------------------------------- broadcasting */

/* The broadcast walk is elementwise.h's kiln_bcast_walk, shared with the
 * quantized and issue 9 kernels. */

/* Step of an input in a flat walk of n output elements: 0 for a single
 * element, 1 when it already has the output's layout (a valid broadcast
 * with equal element counts only adds leading 1s), -1 otherwise. */
static int64_t flat_step(const kiln_tensor *t, int64_t n) {
  int64_t count = kiln_tensor_numel(t);
  if (count == 1) return 0;
  return count == n ? 1 : -1;
}

/* ---------------------------------------------------------------- float */

typedef float (*f32_op)(float a, float b);

static float add_f(float a, float b) { return a + b; }
static float sub_f(float a, float b) { return a - b; }
static float mul_f(float a, float b) { return a * b; }
static float div_f(float a, float b) { return a / b; }
/* NaN-propagating, like np.maximum and TF. */
static float max_f(float a, float b) {
  return isnan(a) || isnan(b) ? a + b : (a > b ? a : b);
}
static float min_f(float a, float b) {
  return isnan(a) || isnan(b) ? a + b : (a < b ? a : b);
}
static float sqdiff_f(float a, float b) { return (a - b) * (a - b); }
static float pow_f(float a, float b) { return (float)pow(a, b); }
static float prelu_f(float a, float b) { return a >= 0.0f ? a : a * b; }

static void run_f32(const kiln_op_ctx *ctx, f32_op op, kiln_activation act) {
  const float *a = ctx->inputs[0]->data, *b = ctx->inputs[1]->data;
  float *out = ctx->outputs[0]->data;
  int64_t n = kiln_tensor_numel(ctx->outputs[0]);
  int64_t sa = flat_step(ctx->inputs[0], n), sb = flat_step(ctx->inputs[1], n);
  if (sa >= 0 && sb >= 0) {
    for (int64_t i = 0; i < n; i++)
      out[i] = kiln_activate(op(a[i * sa], b[i * sb]), act);
    return;
  }
  kiln_bcast_walk it;
  kiln_bcast_walk_init_ctx(&it, ctx, 2);
  for (int64_t i = 0; i < n; i++, kiln_bcast_walk_next(&it))
    out[i] = kiln_activate(op(a[it.offset[0]], b[it.offset[1]]), act);
}

/* -------------------------------------------------------------- integer */

/* Integers wrap on overflow (two's complement) instead of being undefined:
 * int64 arithmetic goes through uint64, and int32 results are computed
 * exactly in int64 and then truncated. */
typedef int64_t (*int_op)(int64_t a, int64_t b);

static int64_t add_i(int64_t a, int64_t b) {
  return (int64_t)((uint64_t)a + (uint64_t)b);
}
static int64_t sub_i(int64_t a, int64_t b) {
  return (int64_t)((uint64_t)a - (uint64_t)b);
}
static int64_t mul_i(int64_t a, int64_t b) {
  return (int64_t)((uint64_t)a * (uint64_t)b);
}
/* Truncating like TFLite's int32 DIV (C++ '/'); b != 0 is checked first. */
static int64_t div_i(int64_t a, int64_t b) {
  return (a == INT64_MIN && b == -1) ? INT64_MIN : a / b;
}
static int64_t max_i(int64_t a, int64_t b) { return a > b ? a : b; }
static int64_t min_i(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t sqdiff_i(int64_t a, int64_t b) {
  int64_t d = sub_i(a, b);
  return mul_i(d, d);
}
/* By squaring, wrapping like the other products; b >= 0 is checked first
 * (TFLite refuses negative integer exponents). */
static int64_t pow_i(int64_t a, int64_t b) {
  int64_t result = 1;
  for (; b > 0; b >>= 1, a = mul_i(a, a))
    if (b & 1) result = mul_i(result, a);
  return result;
}

static void store_int(kiln_tensor *t, int64_t i, int64_t v) {
  if (t->dtype == KILN_INT32)
    ((int32_t *)t->data)[i] = (int32_t)(uint32_t)(uint64_t)v;
  else if (t->dtype == KILN_UINT32)
    ((uint32_t *)t->data)[i] = (uint32_t)(uint64_t)v;
  else
    ((int64_t *)t->data)[i] = v;
}

static void run_int(const kiln_op_ctx *ctx, int_op op) {
  const kiln_tensor *a = ctx->inputs[0], *b = ctx->inputs[1];
  kiln_tensor *out = ctx->outputs[0];
  int64_t n = kiln_tensor_numel(out);
  kiln_bcast_walk it;
  kiln_bcast_walk_init_ctx(&it, ctx, 2);
  for (int64_t i = 0; i < n; i++, kiln_bcast_walk_next(&it))
    store_int(
        out, i,
        op(kiln_tensor_int(a, it.offset[0]), kiln_tensor_int(b, it.offset[1])));
}

static kiln_status *check_exponents(const kiln_tensor *t) {
  int64_t n = kiln_tensor_numel(t);
  for (int64_t i = 0; i < n; i++)
    if (kiln_tensor_int(t, i) < 0)
      return kiln_error(KILN_ERR_RUNTIME,
                        "input 1 (y) is %lld at element %lld: integers "
                        "cannot be raised to a negative power",
                        (long long)kiln_tensor_int(t, i), (long long)i);
  return NULL;
}

static kiln_status *check_nonzero(const kiln_tensor *t) {
  int64_t n = kiln_tensor_numel(t);
  for (int64_t i = 0; i < n; i++)
    if (kiln_tensor_int(t, i) == 0)
      return kiln_error(KILN_ERR_RUNTIME,
                        "input 1 (y) is 0 at element %lld: integer division "
                        "by zero",
                        (long long)i);
  return NULL;
}

/* ------------------------------------------------------------- kernels */

static kiln_status *run_binary(const kiln_op_ctx *ctx, f32_op f, int_op g) {
  const kiln_tensor *x = ctx->inputs[0];
  if (x->dtype == KILN_FLOAT32) {
    run_f32(ctx, f, KILN_ACT_NONE);
    return NULL;
  }
  /* The shape function admitted only types with a kernel here. */
  if (g == div_i) KILN_TRY(check_nonzero(ctx->inputs[1]));
  if (g == pow_i) KILN_TRY(check_exponents(ctx->inputs[1]));
  run_int(ctx, g);
  return NULL;
}

/* float16: each pair widened to float, combined and rounded back to half,
 * as Eigen's half arithmetic in TFLite's float16 kernels; the RELU clamps'
 * bounds are halves, so clamping before rounding is the same. */
static void run_f16(const kiln_op_ctx *ctx, f32_op op, kiln_activation act) {
  const uint16_t *a = ctx->inputs[0]->data, *b = ctx->inputs[1]->data;
  uint16_t *out = ctx->outputs[0]->data;
  int64_t n = kiln_tensor_numel(ctx->outputs[0]);
  kiln_bcast_walk it;
  kiln_bcast_walk_init_ctx(&it, ctx, 2);
  for (int64_t i = 0; i < n; i++, kiln_bcast_walk_next(&it))
    out[i] = kiln_float_to_half(
        kiln_activate(op(kiln_half_to_float(a[it.offset[0]]),
                         kiln_half_to_float(b[it.offset[1]])),
                      act));
}

/* complex64 products in float, (ac - bd) + (ad + bc)i, as std::complex
 * multiplies finite values; MUL alone admits the type. */
static void run_complex_mul(const kiln_op_ctx *ctx) {
  const float *a = ctx->inputs[0]->data, *b = ctx->inputs[1]->data;
  float *out = ctx->outputs[0]->data;
  int64_t n = kiln_tensor_numel(ctx->outputs[0]);
  kiln_bcast_walk it;
  kiln_bcast_walk_init_ctx(&it, ctx, 2);
  for (int64_t i = 0; i < n; i++, kiln_bcast_walk_next(&it)) {
    const float *x = a + 2 * it.offset[0], *y = b + 2 * it.offset[1];
    out[2 * i] = x[0] * y[0] - x[1] * y[1];
    out[2 * i + 1] = x[0] * y[1] + x[1] * y[0];
  }
}

/* Applies a uint32 output's fused clamp, max then min as TFLite. */
static void clamp_uint32(kiln_tensor *out, kiln_activation act) {
  uint32_t lo, hi;
  if (!uint32_clamp(act, &lo, &hi)) return;
  uint32_t *y = out->data;
  int64_t n = kiln_tensor_numel(out);
  for (int64_t i = 0; i < n; i++) {
    uint32_t v = y[i] < lo ? lo : y[i];
    y[i] = v > hi ? hi : v;
  }
}

static kiln_status *run_arith(const kiln_op_ctx *ctx, f32_op f, int_op g) {
  if (ctx->inputs[0]->dtype == KILN_COMPLEX64) {
    run_complex_mul(ctx);
    return NULL;
  }
  if (ctx->inputs[0]->dtype == KILN_FLOAT32) {
    run_f32(ctx, f, fused_activation(ctx));
    return NULL;
  }
  if (ctx->inputs[0]->dtype == KILN_FLOAT16) {
    run_f16(ctx, f, fused_activation(ctx));
    return NULL;
  }
  KILN_TRY(run_binary(ctx, f, g));
  int64_t lo, hi;
  kiln_tensor *out = ctx->outputs[0];
  if (out->dtype == KILN_UINT32) clamp_uint32(out, fused_activation(ctx));
  if (out->dtype == KILN_INT32 &&
      int32_clamp(fused_activation(ctx), &lo, &hi)) {
    int32_t *y = out->data;
    int64_t n = kiln_tensor_numel(out);
    for (int64_t i = 0; i < n; i++)
      y[i] = y[i] < lo ? (int32_t)lo : (y[i] > hi ? (int32_t)hi : y[i]);
  }
  return NULL;
}

kiln_status *kiln_ref_add(const kiln_op_ctx *ctx) {
  if (kiln_q_node(ctx)) return kiln_qref_binary(ctx, KILN_QB_ADD);
  return run_arith(ctx, add_f, add_i);
}
kiln_status *kiln_ref_sub(const kiln_op_ctx *ctx) {
  if (kiln_q_node(ctx)) return kiln_qref_binary(ctx, KILN_QB_SUB);
  return run_arith(ctx, sub_f, sub_i);
}
kiln_status *kiln_ref_mul(const kiln_op_ctx *ctx) {
  if (kiln_q_node(ctx)) return kiln_qref_binary(ctx, KILN_QB_MUL);
  return run_arith(ctx, mul_f, mul_i);
}
kiln_status *kiln_ref_div(const kiln_op_ctx *ctx) {
  if (kiln_q_node(ctx)) return kiln_qref_div(ctx);
  return run_arith(ctx, div_f, div_i);
}
kiln_status *kiln_ref_maximum(const kiln_op_ctx *ctx) {
  if (kiln_q_node(ctx)) return kiln_qref_binary(ctx, KILN_QB_MAXIMUM);
  if (ctx->inputs[0]->dtype == KILN_FLOAT16) {
    run_f16(ctx, max_f, KILN_ACT_NONE);
    return NULL;
  }
  return run_binary(ctx, max_f, max_i);
}
kiln_status *kiln_ref_minimum(const kiln_op_ctx *ctx) {
  if (kiln_q_node(ctx)) return kiln_qref_binary(ctx, KILN_QB_MINIMUM);
  if (ctx->inputs[0]->dtype == KILN_FLOAT16) {
    run_f16(ctx, min_f, KILN_ACT_NONE);
    return NULL;
  }
  return run_binary(ctx, min_f, min_i);
}
kiln_status *kiln_ref_squared_difference(const kiln_op_ctx *ctx) {
  if (kiln_q_node(ctx))
    return kiln_qref_binary(ctx, KILN_QB_SQUARED_DIFFERENCE);
  return run_binary(ctx, sqdiff_f, sqdiff_i);
}
kiln_status *kiln_ref_pow(const kiln_op_ctx *ctx) {
  return run_binary(ctx, pow_f, pow_i);
}
kiln_status *kiln_ref_prelu(const kiln_op_ctx *ctx) {
  if (kiln_q_node(ctx)) return kiln_qref_binary(ctx, KILN_QB_PRELU);
  return run_binary(ctx, prelu_f, NULL);
}

/* ----------------------------------------------------------- SELECT_V2 */

kiln_status *kiln_shape_select_v2(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_check_arity(ctx, 3, 3, 1));
  KILN_TRY(kiln_require_input(ctx, 0, "condition"));
  KILN_TRY(kiln_require_input(ctx, 1, "x"));
  KILN_TRY(kiln_require_input(ctx, 2, "y"));
  const kiln_tensor *c = ctx->inputs[0], *x = ctx->inputs[1],
                    *y = ctx->inputs[2];
  kiln_tensor *out = ctx->outputs[0];
  KILN_TRY(kiln_require_dtype(c, KILN_BOOL, "input 0 (condition)"));
  if (kiln_dtype_size(x->dtype) == 0)
    return kiln_error(KILN_ERR_INVALID_MODEL, "input 1 (x) has type %s",
                      kiln_dtype_name(x->dtype));
  if (y->dtype != x->dtype || out->dtype != x->dtype)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 1 (x), input 2 (y) and output 0 have types %s, "
                      "%s and %s; they must match",
                      kiln_dtype_name(x->dtype), kiln_dtype_name(y->dtype),
                      kiln_dtype_name(out->dtype));
  int64_t xy[KILN_MAX_RANK], dims[KILN_MAX_RANK];
  int xy_rank = 0, rank = 0;
  KILN_TRY(kiln_status_wrap(
      kiln_broadcast_shapes(x->dims, x->rank, y->dims, y->rank, xy, &xy_rank),
      "inputs 1 (x) and 2 (y)"));
  KILN_TRY(kiln_status_wrap(
      kiln_broadcast_shapes(c->dims, c->rank, xy, xy_rank, dims, &rank),
      "input 0 (condition) against inputs 1 (x) and 2 (y)"));
  kiln_set_shape(out, dims, rank);
  return NULL;
}

kiln_status *kiln_ref_select_v2(const kiln_op_ctx *ctx) {
  const uint8_t *cond = ctx->inputs[0]->data;
  const char *x = ctx->inputs[1]->data, *y = ctx->inputs[2]->data;
  char *out = ctx->outputs[0]->data;
  size_t size = kiln_dtype_size(ctx->outputs[0]->dtype);
  int64_t n = kiln_tensor_numel(ctx->outputs[0]);
  kiln_bcast_walk it;
  kiln_bcast_walk_init_ctx(&it, ctx, 3);
  for (int64_t i = 0; i < n; i++, kiln_bcast_walk_next(&it)) {
    const char *src = cond[it.offset[0]] ? x + (size_t)it.offset[1] * size
                                         : y + (size_t)it.offset[2] * size;
    memcpy(out + (size_t)i * size, src, size);
  }
  return NULL;
}

/* ---------------------------------------------------------- comparisons */

/* Inputs of one numeric (or bool) type, broadcast; the output is bool. */
kiln_status *kiln_shape_compare(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_check_arity(ctx, 2, 2, 1));
  KILN_TRY(kiln_require_input(ctx, 0, "x"));
  KILN_TRY(kiln_require_input(ctx, 1, "y"));
  const kiln_tensor *x = ctx->inputs[0], *y = ctx->inputs[1];
  kiln_tensor *out = ctx->outputs[0];
  if (x->dtype == KILN_FLOAT64 || kiln_dtype_size(x->dtype) == 0)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "input 0 (x) has type %s; comparisons take float32, "
                      "float16, integer or bool inputs",
                      kiln_dtype_name(x->dtype));
  if (y->dtype != x->dtype)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 1 (y) has type %s but input 0 (x) has type %s",
                      kiln_dtype_name(y->dtype), kiln_dtype_name(x->dtype));
  KILN_TRY(kiln_require_dtype(out, KILN_BOOL, "output 0"));
  if (kiln_q_node(ctx)) KILN_TRY(kiln_qshape_compare(ctx));
  int64_t dims[KILN_MAX_RANK];
  int rank = 0;
  KILN_TRY(kiln_status_wrap(
      kiln_broadcast_shapes(x->dims, x->rank, y->dims, y->rank, dims, &rank),
      "inputs 0 (x) and 1 (y)"));
  kiln_set_shape(out, dims, rank);
  return NULL;
}

typedef enum compare_kind { LT, LE, GT, GE, EQ, NE } compare_kind;

/* Three-way result of a<b as -1/0/1, or 2 when unordered (NaN): every
 * comparison but NE is then false, as in IEEE and TFLite. */
static int order_f(float a, float b) {
  if (isnan(a) || isnan(b)) return 2;
  return a < b ? -1 : (a > b ? 1 : 0);
}

static int order_i(int64_t a, int64_t b) { return a < b ? -1 : (a > b); }

/* Element i of a float32 or float16 tensor (float16 widens exactly). */
static float real_at(const kiln_tensor *t, int64_t i) {
  return t->dtype == KILN_FLOAT16
             ? kiln_half_to_float(((const uint16_t *)t->data)[i])
             : ((const float *)t->data)[i];
}

static uint8_t holds(compare_kind kind, int order) {
  switch (kind) {
    case LT:
      return order == -1;
    case LE:
      return order == -1 || order == 0;
    case GT:
      return order == 1;
    case GE:
      return order == 1 || order == 0;
    case EQ:
      return order == 0;
    case NE:
      return order != 0;
  }
  return 0;
}

static kiln_status *run_compare(const kiln_op_ctx *ctx, compare_kind kind) {
  if (kiln_q_node(ctx)) return kiln_qref_compare(ctx, (int)kind);
  const kiln_tensor *a = ctx->inputs[0], *b = ctx->inputs[1];
  uint8_t *out = ctx->outputs[0]->data;
  int64_t n = kiln_tensor_numel(ctx->outputs[0]);
  kiln_bcast_walk it;
  kiln_bcast_walk_init_ctx(&it, ctx, 2);
  for (int64_t i = 0; i < n; i++, kiln_bcast_walk_next(&it)) {
    int order =
        a->dtype == KILN_FLOAT32 || a->dtype == KILN_FLOAT16
            ? order_f(real_at(a, it.offset[0]), real_at(b, it.offset[1]))
            : order_i(kiln_tensor_int(a, it.offset[0]),
                      kiln_tensor_int(b, it.offset[1]));
    out[i] = holds(kind, order);
  }
  return NULL;
}

kiln_status *kiln_ref_less(const kiln_op_ctx *ctx) {
  return run_compare(ctx, LT);
}
kiln_status *kiln_ref_less_equal(const kiln_op_ctx *ctx) {
  return run_compare(ctx, LE);
}
kiln_status *kiln_ref_greater(const kiln_op_ctx *ctx) {
  return run_compare(ctx, GT);
}
kiln_status *kiln_ref_greater_equal(const kiln_op_ctx *ctx) {
  return run_compare(ctx, GE);
}
kiln_status *kiln_ref_equal(const kiln_op_ctx *ctx) {
  return run_compare(ctx, EQ);
}
kiln_status *kiln_ref_not_equal(const kiln_op_ctx *ctx) {
  return run_compare(ctx, NE);
}
