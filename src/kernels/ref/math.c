/* math.c - reference kernels of the elementwise math operators added for
 * issue 9: float unary math (SQUARE, SIN, COS, FLOOR, CEIL, ROUND, ELU),
 * SIGN, ZEROS_LIKE, and the broadcasting binary FLOOR_DIV, FLOOR_MOD,
 * ATAN2, BITWISE_XOR, RIGHT_SHIFT, plus ADD_N. Dtype sets follow what each
 * operator's Prepare/Eval accepts in TFLite's builtin kernels. */
#include <math.h>
#include <string.h>

#include "kernels/kernel.h"
#include "kernels/ref/elementwise.h"
#include "kernels/ref/half_math.h"
#include "kernels/ref/quant_ops.h"

#define F32 KILN_DT(KILN_FLOAT32)
#define I32 KILN_DT(KILN_INT32)
#define I64 KILN_DT(KILN_INT64)
/* BITWISE_XOR and RIGHT_SHIFT: TFLite's 8/16/32-bit integers, signed and
 * unsigned (no 64-bit ones). */
#define BIT_INTS                                                    \
  (KILN_DT(KILN_INT8) | KILN_DT(KILN_UINT8) | KILN_DT(KILN_INT16) | \
   KILN_DT(KILN_UINT16) | KILN_DT(KILN_INT32) | KILN_DT(KILN_UINT32))

/* ------------------------------------------------------ float unary math */

typedef float (*unary_f32)(float x);

static kiln_status *map_f32(const kiln_op_ctx *ctx, unary_f32 f) {
  const float *x = ctx->inputs[0]->data;
  float *y = ctx->outputs[0]->data;
  int64_t n = kiln_tensor_numel(ctx->inputs[0]);
  for (int64_t i = 0; i < n; i++) y[i] = f(x[i]);
  return NULL;
}

/* In float, as TFLite squares (x * x rounded once either way). */
static float square_f(float x) { return x * x; }
/* The transcendental ones in double, rounded once: at most half an ulp from
 * the true value, which LiteRT's float libm is within an ulp of. */
static float sin_f(float x) { return (float)sin(x); }
static float cos_f(float x) { return (float)cos(x); }
static float floor_f(float x) { return floorf(x); }
static float ceil_f(float x) { return ceilf(x); }
static float elu_f(float x) { return x < 0.0f ? (float)expm1(x) : x; }

/* Half-way cases go to the even neighbour (TF's banker's rounding), written
 * without the floating-point environment's rounding mode. */
static float round_f(float x) {
  if (!isfinite(x)) return x;
  float lower = floorf(x), diff = x - lower;
  if (diff < 0.5f) return lower;
  if (diff > 0.5f) return lower + 1.0f;
  return fmodf(lower, 2.0f) == 0.0f ? lower : lower + 1.0f;
}

kiln_status *kiln_ref_square(const kiln_op_ctx *ctx) {
  return map_f32(ctx, square_f);
}
/* SIN, COS, FLOOR and ROUND on float16: the float function of the
 * widened half, rounded to half; for SIN and COS that rounds twice (double
 * to float to half), which decides a few ties as LiteRT's float sinf and
 * cosf do (checked on every finite half). */
static kiln_status *map_float_or_half(const kiln_op_ctx *ctx, unary_f32 f) {
  if (ctx->inputs[0]->dtype == KILN_FLOAT16) {
    kiln_half_map(ctx, f);
    return NULL;
  }
  return map_f32(ctx, f);
}

kiln_status *kiln_ref_sin(const kiln_op_ctx *ctx) {
  return map_float_or_half(ctx, sin_f);
}
kiln_status *kiln_ref_cos(const kiln_op_ctx *ctx) {
  return map_float_or_half(ctx, cos_f);
}
kiln_status *kiln_ref_floor(const kiln_op_ctx *ctx) {
  return map_float_or_half(ctx, floor_f);
}
kiln_status *kiln_ref_ceil(const kiln_op_ctx *ctx) {
  return map_f32(ctx, ceil_f);
}
kiln_status *kiln_ref_round(const kiln_op_ctx *ctx) {
  return map_float_or_half(ctx, round_f);
}
kiln_status *kiln_ref_elu(const kiln_op_ctx *ctx) {
  if (kiln_q_node(ctx)) return kiln_qref_unary(ctx, KILN_QU_ELU);
  return map_f32(ctx, elu_f);
}

/* ------------------------------------------------------ SIGN, ZEROS_LIKE */

kiln_status *kiln_shape_sign(const kiln_op_ctx *ctx) {
  /* float64 too, as LiteRT's SIGN (added for issue 9's remaining
   * builtins) */
  return kiln_shape_map(ctx, F32 | I32 | KILN_DT(KILN_FLOAT64),
                        KILN_DTYPE_INVALID);
}

/* (0 < x) - (x < 0), as TFLite computes it: NaN gives 0. */
kiln_status *kiln_ref_sign(const kiln_op_ctx *ctx) {
  const kiln_tensor *x = ctx->inputs[0];
  kiln_tensor *y = ctx->outputs[0];
  int64_t n = kiln_tensor_numel(x);
  if (x->dtype == KILN_FLOAT32) {
    const float *in = x->data;
    float *out = y->data;
    for (int64_t i = 0; i < n; i++)
      out[i] = (float)((0.0f < in[i]) - (in[i] < 0.0f));
    return NULL;
  }
  if (x->dtype == KILN_FLOAT64) {
    const double *in = x->data;
    double *out = y->data;
    for (int64_t i = 0; i < n; i++)
      out[i] = (double)((0.0 < in[i]) - (in[i] < 0.0));
    return NULL;
  }
  for (int64_t i = 0; i < n; i++) {
    int64_t v = kiln_tensor_int(x, i);
    kiln_store_int(y, i, (0 < v) - (v < 0));
  }
  return NULL;
}

kiln_status *kiln_shape_zeros_like(const kiln_op_ctx *ctx) {
  return kiln_shape_map(ctx, F32 | I32 | I64, KILN_DTYPE_INVALID);
}

kiln_status *kiln_ref_zeros_like(const kiln_op_ctx *ctx) {
  /* All-zero bytes are 0 in every admitted type (0.0f included). */
  memset(ctx->outputs[0]->data, 0, kiln_tensor_nbytes(ctx->outputs[0]));
  return NULL;
}

/* ------------------------------------------------- broadcasting binaries */

/* FLOOR_DIV and FLOOR_MOD also take plain (unquantized) int8 and int16 in
 * LiteRT, computed on the stored values; the int64 sign logic below is
 * exact for them, and int8's -128 / -1 wraps to -128 as LiteRT's does. */
#define SMALL_INTS (KILN_DT(KILN_INT8) | KILN_DT(KILN_INT16))

kiln_status *kiln_shape_floor_div(const kiln_op_ctx *ctx) {
  return kiln_shape_broadcast2(ctx, F32 | I32 | SMALL_INTS, KILN_DTYPE_INVALID);
}
kiln_status *kiln_shape_floor_mod(const kiln_op_ctx *ctx) {
  return kiln_shape_broadcast2(ctx, F32 | I32 | I64 | SMALL_INTS,
                               KILN_DTYPE_INVALID);
}
/* ATAN2 also on float64 and float16, as LiteRT's kernel. */
kiln_status *kiln_shape_atan2(const kiln_op_ctx *ctx) {
  return kiln_shape_broadcast2(
      ctx, F32 | KILN_DT(KILN_FLOAT64) | KILN_DT(KILN_FLOAT16),
      KILN_DTYPE_INVALID);
}
kiln_status *kiln_shape_bitwise(const kiln_op_ctx *ctx) {
  return kiln_shape_broadcast2(ctx, BIT_INTS, KILN_DTYPE_INVALID);
}

typedef float (*binary_f32)(float a, float b);
/* Integer operands and results travel as int64; stores wrap to the type. */
typedef int64_t (*binary_int)(int64_t a, int64_t b, int bits);

static void run_f32(const kiln_op_ctx *ctx, binary_f32 f) {
  const kiln_tensor *in[2] = {ctx->inputs[0], ctx->inputs[1]};
  const float *a = in[0]->data, *b = in[1]->data;
  float *out = ctx->outputs[0]->data;
  int64_t n = kiln_tensor_numel(ctx->outputs[0]);
  kiln_bcast_walk w;
  kiln_bcast_walk_init(&w, in, 2, ctx->outputs[0]);
  for (int64_t i = 0; i < n; i++, kiln_bcast_walk_next(&w))
    out[i] = f(a[w.offset[0]], b[w.offset[1]]);
}

static void run_int(const kiln_op_ctx *ctx, binary_int f) {
  const kiln_tensor *in[2] = {ctx->inputs[0], ctx->inputs[1]};
  kiln_tensor *out = ctx->outputs[0];
  int bits = kiln_int_bits(in[0]->dtype);
  int64_t n = kiln_tensor_numel(out);
  kiln_bcast_walk w;
  kiln_bcast_walk_init(&w, in, 2, out);
  for (int64_t i = 0; i < n; i++, kiln_bcast_walk_next(&w))
    kiln_store_int(out, i,
                   f(kiln_tensor_int(in[0], w.offset[0]),
                     kiln_tensor_int(in[1], w.offset[1]), bits));
}

/* TFLite refuses a zero divisor anywhere in the tensor before computing
 * (FLOOR_DIV even in float; FLOOR_MOD only for integers). */
static kiln_status *check_divisor(const kiln_tensor *y) {
  int64_t n = kiln_tensor_numel(y);
  for (int64_t i = 0; i < n; i++) {
    bool zero = y->dtype == KILN_FLOAT32 ? ((const float *)y->data)[i] == 0.0f
                                         : kiln_tensor_int(y, i) == 0;
    if (zero)
      return kiln_error(KILN_ERR_RUNTIME,
                        "input 1 (y) is 0 at element %lld: division by zero",
                        (long long)i);
  }
  return NULL;
}

/* floor(a / b) with the quotient in double, as TFLite computes it. */
static float floor_div_f(float a, float b) {
  return (float)floor((double)a / (double)b);
}

/* Exact integer floor division; the one overflowing case (MIN / -1) wraps. */
static int64_t floor_div_i(int64_t a, int64_t b, int bits) {
  (void)bits;
  if (b == -1) return (int64_t)(0u - (uint64_t)a);
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) q--;
  return q;
}

/* The truncated remainder moved to the divisor's sign. */
static float floor_mod_f(float a, float b) {
  float r = fmodf(a, b);
  return (r != 0.0f && ((b < 0.0f) != (r < 0.0f))) ? r + b : r;
}

static int64_t floor_mod_i(int64_t a, int64_t b, int bits) {
  (void)bits;
  if (b == -1) return 0;
  int64_t r = a % b;
  return (r != 0 && ((b < 0) != (r < 0))) ? r + b : r;
}

static float atan2_f(float a, float b) { return (float)atan2(a, b); }

static int64_t xor_i(int64_t a, int64_t b, int bits) {
  (void)bits;
  return a ^ b;
}

/* The shift is clamped to [0, bits - 1] as TFLite does (unsigned values
 * read as non-negative int64, so they shift logically); signed values
 * shift arithmetically (written with division so C's implementation-defined
 * >> on negatives does not matter). */
static int64_t right_shift_i(int64_t a, int64_t b, int bits) {
  int64_t s = b < 0 ? 0 : (b > bits - 1 ? bits - 1 : b);
  if (a >= 0) return a >> s;
  return -(((-(a + 1)) >> s) + 1);
}

kiln_status *kiln_ref_floor_div(const kiln_op_ctx *ctx) {
  KILN_TRY(check_divisor(ctx->inputs[1]));
  if (ctx->inputs[0]->dtype == KILN_FLOAT32)
    run_f32(ctx, floor_div_f);
  else
    run_int(ctx, floor_div_i);
  return NULL;
}

kiln_status *kiln_ref_floor_mod(const kiln_op_ctx *ctx) {
  if (ctx->inputs[0]->dtype == KILN_FLOAT32) {
    run_f32(ctx, floor_mod_f);
    return NULL;
  }
  KILN_TRY(check_divisor(ctx->inputs[1]));
  run_int(ctx, floor_mod_i);
  return NULL;
}

/* float64 in double; float16 in double rounded once (half_math.c). */
static void atan2_f64(const kiln_op_ctx *ctx) {
  const kiln_tensor *in[2] = {ctx->inputs[0], ctx->inputs[1]};
  const double *a = in[0]->data, *b = in[1]->data;
  double *out = ctx->outputs[0]->data;
  int64_t n = kiln_tensor_numel(ctx->outputs[0]);
  kiln_bcast_walk w;
  kiln_bcast_walk_init(&w, in, 2, ctx->outputs[0]);
  for (int64_t i = 0; i < n; i++, kiln_bcast_walk_next(&w))
    out[i] = atan2(a[w.offset[0]], b[w.offset[1]]);
}

kiln_status *kiln_ref_atan2(const kiln_op_ctx *ctx) {
  if (ctx->inputs[0]->dtype == KILN_FLOAT64)
    atan2_f64(ctx);
  else if (ctx->inputs[0]->dtype == KILN_FLOAT16)
    kiln_half_atan2(ctx);
  else
    run_f32(ctx, atan2_f);
  return NULL;
}

kiln_status *kiln_ref_bitwise_xor(const kiln_op_ctx *ctx) {
  run_int(ctx, xor_i);
  return NULL;
}

kiln_status *kiln_ref_right_shift(const kiln_op_ctx *ctx) {
  run_int(ctx, right_shift_i);
  return NULL;
}

/* ----------------------------------------------------------------- ADD_N */

/* Two or more inputs of one shape (no broadcasting) and type. */
kiln_status *kiln_shape_add_n(const kiln_op_ctx *ctx) {
  if (ctx->num_inputs < 2)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "expects at least 2 inputs, has %d", ctx->num_inputs);
  KILN_TRY(kiln_check_arity(ctx, 2, ctx->num_inputs, 1));
  KILN_TRY(kiln_require_input(ctx, 0, "x"));
  const kiln_tensor *x = ctx->inputs[0];
  KILN_TRY(kiln_require_dtype_in(x, F32 | I32, "input 0"));
  char a[KILN_DIMS_STR_SIZE], b[KILN_DIMS_STR_SIZE];
  for (int k = 1; k < ctx->num_inputs; k++) {
    KILN_TRY(kiln_require_input(ctx, k, "x"));
    const kiln_tensor *t = ctx->inputs[k];
    if (t->dtype != x->dtype)
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "input %d has type %s but input 0 has type %s", k,
                        kiln_dtype_name(t->dtype), kiln_dtype_name(x->dtype));
    bool same = t->rank == x->rank;
    for (int d = 0; same && d < x->rank; d++) same = t->dims[d] == x->dims[d];
    if (!same)
      return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                        "input %d has shape %s but input 0 has shape %s", k,
                        kiln_dims_str(t->dims, t->rank, a, sizeof a),
                        kiln_dims_str(x->dims, x->rank, b, sizeof b));
  }
  KILN_TRY(kiln_require_output_dtype(ctx, x->dtype));
  kiln_set_shape(ctx->outputs[0], x->dims, x->rank);
  return NULL;
}

/* Sums in the inputs' order in their own type, as TFLite does. */
kiln_status *kiln_ref_add_n(const kiln_op_ctx *ctx) {
  kiln_tensor *out = ctx->outputs[0];
  int64_t n = kiln_tensor_numel(out);
  if (out->dtype == KILN_FLOAT32) {
    float *y = out->data;
    for (int64_t i = 0; i < n; i++) {
      float acc = 0.0f;
      for (int k = 0; k < ctx->num_inputs; k++)
        acc += ((const float *)ctx->inputs[k]->data)[i];
      y[i] = acc;
    }
    return NULL;
  }
  for (int64_t i = 0; i < n; i++) {
    uint64_t acc = 0;
    for (int k = 0; k < ctx->num_inputs; k++)
      acc += (uint64_t)kiln_tensor_int(ctx->inputs[k], i);
    kiln_store_int(out, i, (int64_t)acc);
  }
  return NULL;
}

/* --------------------------------------------------------------- BITCAST */

/* The same bytes read as another type: a wider input gains a last
 * dimension of the size ratio; a narrower one must end in that ratio,
 * which goes. The kernel is a copy (kiln_ref_copy). */
kiln_status *kiln_shape_bitcast(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_check_arity(ctx, 1, 1, 1));
  KILN_TRY(kiln_require_input(ctx, 0, "x"));
  const kiln_tensor *x = ctx->inputs[0];
  kiln_tensor *out = ctx->outputs[0];
  size_t in_size = kiln_dtype_size(x->dtype),
         out_size = kiln_dtype_size(out->dtype);
  char buf[KILN_DIMS_STR_SIZE];
  if (in_size == 0 || out_size == 0)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 0 (x) has type %s and output 0 %s",
                      kiln_dtype_name(x->dtype), kiln_dtype_name(out->dtype));
  int64_t dims[KILN_MAX_RANK];
  int rank = x->rank;
  memcpy(dims, x->dims, sizeof dims);
  if (in_size > out_size) {
    if (rank == KILN_MAX_RANK)
      return kiln_error(KILN_ERR_UNSUPPORTED,
                        "input 0 (x) has rank %d; the output would exceed "
                        "kiln's maximum rank",
                        rank);
    dims[rank++] = (int64_t)(in_size / out_size);
  } else if (in_size < out_size) {
    int64_t ratio = (int64_t)(out_size / in_size);
    if (rank == 0 || dims[rank - 1] != ratio)
      return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                        "input 0 (x) of shape %s and type %s must end in a "
                        "dimension of %lld to be read as %s",
                        kiln_dims_str(x->dims, x->rank, buf, sizeof buf),
                        kiln_dtype_name(x->dtype), (long long)ratio,
                        kiln_dtype_name(out->dtype));
    rank--;
  }
  kiln_set_shape(out, dims, rank);
  return NULL;
}

/* ------------------------------------------------------------------- NEG */

/* TFLite negates float32, float16, int32 and int64 (ABS keeps unary.c's
 * float32 and int32), and the stored values of int8 and int16 tensors:
 * its NEG never reads quantization parameters, so a quantized NEG gives
 * -q whatever the scales and zero points (the real negation only when
 * both zero points are 0 and the scales equal). kiln matches that. */
kiln_status *kiln_shape_neg(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_check_arity(ctx, 1, 1, 1));
  KILN_TRY(kiln_require_input(ctx, 0, "x"));
  const kiln_tensor *x = ctx->inputs[0];
  if (x->dtype == KILN_INT8 || x->dtype == KILN_INT16) {
    KILN_TRY(kiln_require_output_dtype(ctx, x->dtype));
    kiln_set_shape(ctx->outputs[0], x->dims, x->rank);
    return NULL;
  }
  /* (int8 and int16 are listed for the message other types get) */
  return kiln_shape_map(ctx,
                        F32 | I32 | I64 | KILN_DT(KILN_FLOAT16) |
                            KILN_DT(KILN_INT8) | KILN_DT(KILN_INT16),
                        KILN_DTYPE_INVALID);
}
