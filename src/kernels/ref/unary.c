/* unary.c - reference kernels: elementwise unary math, CAST and DEQUANTIZE. */
#include <math.h>
#include <string.h>

#include "kernels/activation.h"
#include "kernels/kernel.h"
#include "kernels/ref/half_math.h"
#include "kernels/ref/quant_ops.h"

/* kiln_shape_unary checks what every unary op shares; the per-op shape
 * functions named in op_list.h add each op's dtype rules, so the kernels
 * below only compute. */

/* Per-channel parameters must line up with the tensor they describe. */
static kiln_status *check_quant(const kiln_tensor *t, const char *role) {
  const kiln_quant_info *q = t->quant;
  if (!q || q->count == 0) return NULL;
  if (q->count < 0 || !q->scale || !q->zero_point)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%s has malformed quantization (%d parameters)", role,
                      q->count);
  if (q->count == 1) return NULL;
  char buf[KILN_DIMS_STR_SIZE];
  if (q->axis < 0 || q->axis >= t->rank || t->dims[q->axis] != q->count)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%s has %d per-channel quantization parameters on axis "
                      "%d, which does not fit its shape %s",
                      role, q->count, q->axis,
                      kiln_dims_str(t->dims, t->rank, buf, sizeof buf));
  return NULL;
}

kiln_status *kiln_shape_unary(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_check_arity(ctx, 1, 1, 1));
  KILN_TRY(kiln_require_input(ctx, 0, "x"));
  const kiln_tensor *x = ctx->inputs[0];
  kiln_tensor *out = ctx->outputs[0];
  if (kiln_dtype_size(x->dtype) == 0)
    return kiln_error(KILN_ERR_INVALID_MODEL, "input 0 (x) has type %s (%d)",
                      kiln_dtype_name(x->dtype), (int)x->dtype);
  if (kiln_dtype_size(out->dtype) == 0)
    return kiln_error(KILN_ERR_INVALID_MODEL, "output 0 has type %s (%d)",
                      kiln_dtype_name(out->dtype), (int)out->dtype);
  KILN_TRY(check_quant(x, "input 0 (x)"));
  kiln_set_shape(out, x->dims, x->rank);
  return NULL;
}

/* ------------------------------------------------------ per-op dtypes */

static kiln_status *same_dtype(const kiln_op_ctx *ctx) {
  const kiln_tensor *x = ctx->inputs[0], *out = ctx->outputs[0];
  if (out->dtype != x->dtype)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "output 0 has type %s; expected %s like input 0 (x)",
                      kiln_dtype_name(out->dtype), kiln_dtype_name(x->dtype));
  return NULL;
}

static kiln_status *need_float(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_require_dtype(ctx->inputs[0], KILN_FLOAT32, "input 0 (x)"));
  return same_dtype(ctx);
}

static kiln_status *need_signed(const kiln_op_ctx *ctx) {
  kiln_dtype t = ctx->inputs[0]->dtype;
  if (t != KILN_FLOAT32 && t != KILN_INT32)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "input 0 (x) has type %s; expected float32 or int32",
                      kiln_dtype_name(t));
  return same_dtype(ctx);
}

static kiln_status *need_dequantize(const kiln_op_ctx *ctx) {
  const kiln_tensor *x = ctx->inputs[0];
  KILN_TRY(kiln_require_dtype(ctx->outputs[0], KILN_FLOAT32, "output 0"));
  if (x->dtype == KILN_FLOAT16) return NULL;
  if (x->dtype != KILN_INT8 && x->dtype != KILN_UINT8 && x->dtype != KILN_INT16)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "input 0 (x) has type %s; expected float16, int8, "
                      "uint8 or int16",
                      kiln_dtype_name(x->dtype));
  if (!x->quant || x->quant->count == 0)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 0 (x) of type %s has no quantization parameters",
                      kiln_dtype_name(x->dtype));
  return check_quant(x, "input 0 (x)");
}

/* float32, or float16 where LiteRT's kernel also takes it. */
static kiln_status *need_float_or_half(const kiln_op_ctx *ctx) {
  if (ctx->inputs[0]->dtype == KILN_FLOAT16) return same_dtype(ctx);
  return need_float(ctx);
}

kiln_status *kiln_shape_unary_float(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_shape_unary(ctx));
  return need_float(ctx);
}

/* SIN, COS, FLOOR and ROUND (math.c), which LiteRT runs on float16 too. */
kiln_status *kiln_shape_unary_float_half(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_shape_unary(ctx));
  return need_float_or_half(ctx);
}

/* The ops with quantized forms: the float rule unless input 0 is a
 * quantized int8 / uint8 / int16 tensor. */
static kiln_status *shape_unary_q(const kiln_op_ctx *ctx, kiln_qunary op) {
  KILN_TRY(kiln_shape_unary(ctx));
  if (kiln_q_node(ctx)) return kiln_qshape_unary(ctx, op);
  return need_float(ctx);
}

/* The same for LOGISTIC, TANH and GELU, whose float16 forms are
 * half_math.c's. */
static kiln_status *shape_unary_q_half(const kiln_op_ctx *ctx, kiln_qunary op) {
  KILN_TRY(kiln_shape_unary(ctx));
  if (kiln_q_node(ctx)) return kiln_qshape_unary(ctx, op);
  return need_float_or_half(ctx);
}

kiln_status *kiln_shape_relu(const kiln_op_ctx *ctx) {
  return shape_unary_q(ctx, KILN_QU_RELU);
}
kiln_status *kiln_shape_relu6(const kiln_op_ctx *ctx) {
  return shape_unary_q(ctx, KILN_QU_RELU6);
}
kiln_status *kiln_shape_relu_n1_to_1(const kiln_op_ctx *ctx) {
  return shape_unary_q(ctx, KILN_QU_RELU_N1_TO_1);
}
kiln_status *kiln_shape_leaky_relu(const kiln_op_ctx *ctx) {
  return shape_unary_q(ctx, KILN_QU_LEAKY_RELU);
}
kiln_status *kiln_shape_logistic(const kiln_op_ctx *ctx) {
  return shape_unary_q_half(ctx, KILN_QU_LOGISTIC);
}
kiln_status *kiln_shape_tanh(const kiln_op_ctx *ctx) {
  return shape_unary_q_half(ctx, KILN_QU_TANH);
}
kiln_status *kiln_shape_exp(const kiln_op_ctx *ctx) {
  return shape_unary_q(ctx, KILN_QU_EXP);
}
kiln_status *kiln_shape_log(const kiln_op_ctx *ctx) {
  return shape_unary_q(ctx, KILN_QU_LOG);
}
kiln_status *kiln_shape_rsqrt(const kiln_op_ctx *ctx) {
  return shape_unary_q(ctx, KILN_QU_RSQRT);
}
/* SQRT: float32, and quantized int8 / int16 (quant_unary_math.c). */
kiln_status *kiln_shape_sqrt(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_shape_unary(ctx));
  if (kiln_q_node(ctx)) return kiln_qshape_sqrt(ctx);
  return need_float(ctx);
}
kiln_status *kiln_shape_abs(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_shape_unary(ctx));
  if (kiln_q_node(ctx)) return kiln_qshape_unary(ctx, KILN_QU_ABS);
  return need_signed(ctx);
}
/* ELU (math.c): float32, or int8 through TFLite's table. */
kiln_status *kiln_shape_elu(const kiln_op_ctx *ctx) {
  return shape_unary_q(ctx, KILN_QU_ELU);
}
kiln_status *kiln_shape_gelu(const kiln_op_ctx *ctx) {
  return shape_unary_q_half(ctx, KILN_QU_GELU);
}
kiln_status *kiln_shape_hard_swish(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_shape_unary(ctx));
  if (kiln_q_node(ctx)) return kiln_qshape_hard_swish(ctx);
  return need_float(ctx);
}

kiln_status *kiln_shape_unary_signed(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_shape_unary(ctx));
  return need_signed(ctx);
}

kiln_status *kiln_shape_cast(const kiln_op_ctx *ctx) {
  return kiln_shape_unary(ctx);
}

kiln_status *kiln_shape_dequantize(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_shape_unary(ctx));
  return need_dequantize(ctx);
}

/* ------------------------------------------------------------ float math */

/* Math runs in double and rounds once, so the oracle is as exact as float
 * allows. */
typedef double (*real_fn)(double x);

static kiln_status *map_f32(const kiln_op_ctx *ctx, real_fn f) {
  const float *x = ctx->inputs[0]->data;
  float *y = ctx->outputs[0]->data;
  int64_t n = kiln_tensor_numel(ctx->inputs[0]);
  for (int64_t i = 0; i < n; i++) y[i] = (float)f(x[i]);
  return NULL;
}

/* Comparisons are written so that NaN falls through unchanged. */
static double relu_d(double x) { return x < 0.0 ? 0.0 : x; }
static double relu6_d(double x) { return x < 0.0 ? 0.0 : (x > 6.0 ? 6.0 : x); }
static double relu1_d(double x) {
  return x < -1.0 ? -1.0 : (x > 1.0 ? 1.0 : x);
}
static double rsqrt_d(double x) { return 1.0 / sqrt(x); }

kiln_status *kiln_ref_rsqrt(const kiln_op_ctx *ctx) {
  if (kiln_q_node(ctx)) return kiln_qref_unary(ctx, KILN_QU_RSQRT);
  return map_f32(ctx, rsqrt_d);
}
kiln_status *kiln_ref_sqrt(const kiln_op_ctx *ctx) {
  if (kiln_q_node(ctx)) return kiln_qref_sqrt(ctx);
  return map_f32(ctx, sqrt);
}
kiln_status *kiln_ref_exp(const kiln_op_ctx *ctx) {
  if (kiln_q_node(ctx)) return kiln_qref_unary(ctx, KILN_QU_EXP);
  return map_f32(ctx, exp);
}
kiln_status *kiln_ref_log(const kiln_op_ctx *ctx) {
  if (kiln_q_node(ctx)) return kiln_qref_unary(ctx, KILN_QU_LOG);
  return map_f32(ctx, log);
}
kiln_status *kiln_ref_relu(const kiln_op_ctx *ctx) {
  if (kiln_q_node(ctx)) return kiln_qref_unary(ctx, KILN_QU_RELU);
  return map_f32(ctx, relu_d);
}
kiln_status *kiln_ref_relu6(const kiln_op_ctx *ctx) {
  if (kiln_q_node(ctx)) return kiln_qref_unary(ctx, KILN_QU_RELU6);
  return map_f32(ctx, relu6_d);
}
kiln_status *kiln_ref_relu_n1_to_1(const kiln_op_ctx *ctx) {
  if (kiln_q_node(ctx)) return kiln_qref_unary(ctx, KILN_QU_RELU_N1_TO_1);
  return map_f32(ctx, relu1_d);
}
kiln_status *kiln_ref_logistic(const kiln_op_ctx *ctx) {
  if (kiln_q_node(ctx)) return kiln_qref_unary(ctx, KILN_QU_LOGISTIC);
  if (ctx->inputs[0]->dtype == KILN_FLOAT16) {
    kiln_half_logistic(ctx);
    return NULL;
  }
  return map_f32(ctx, kiln_logistic_d);
}
/* float16: tanh in double rounded to float, then to half, as LiteRT's
 * float tanh of the widened half rounds (checked on every finite half). */
static float tanh_f(float x) { return (float)tanh(x); }
kiln_status *kiln_ref_tanh(const kiln_op_ctx *ctx) {
  if (kiln_q_node(ctx)) return kiln_qref_unary(ctx, KILN_QU_TANH);
  if (ctx->inputs[0]->dtype == KILN_FLOAT16) {
    kiln_half_map(ctx, tanh_f);
    return NULL;
  }
  return map_f32(ctx, tanh);
}
kiln_status *kiln_ref_hard_swish(const kiln_op_ctx *ctx) {
  if (kiln_q_node(ctx)) return kiln_qref_hard_swish(ctx);
  return map_f32(ctx, kiln_hard_swish_d);
}

kiln_status *kiln_ref_leaky_relu(const kiln_op_ctx *ctx) {
  if (kiln_q_node(ctx)) return kiln_qref_unary(ctx, KILN_QU_LEAKY_RELU);
  const kiln_leaky_relu_attrs *attrs = ctx->attrs;
  const float *x = ctx->inputs[0]->data;
  float *y = ctx->outputs[0]->data;
  int64_t n = kiln_tensor_numel(ctx->inputs[0]);
  for (int64_t i = 0; i < n; i++)
    y[i] = x[i] >= 0.0f ? x[i] : x[i] * attrs->alpha;
  return NULL;
}

/* 0.5x(1+tanh(u)) == x*sigmoid(2u) and 1+erf(z) == erfc(-z): these forms
 * keep their precision for negative x, where 1+tanh and 1+erf cancel. */
static double gelu_d(double x, bool approximate) {
  if (isinf(x)) return x > 0.0 ? x : 0.0; /* avoid inf*0 */
  if (approximate) {
    const double k = 0.7978845608028654; /* sqrt(2/pi) */
    return x * kiln_logistic_d(2.0 * k * (x + 0.044715 * x * x * x));
  }
  return 0.5 * x * erfc(-x * 0.7071067811865476); /* 1/sqrt(2) */
}

kiln_status *kiln_ref_gelu(const kiln_op_ctx *ctx) {
  if (kiln_q_node(ctx)) return kiln_qref_unary(ctx, KILN_QU_GELU);
  const kiln_gelu_attrs *attrs = ctx->attrs;
  if (ctx->inputs[0]->dtype == KILN_FLOAT16) {
    kiln_half_gelu(ctx, attrs && attrs->approximate);
    return NULL;
  }
  const float *x = ctx->inputs[0]->data;
  float *y = ctx->outputs[0]->data;
  int64_t n = kiln_tensor_numel(ctx->inputs[0]);
  for (int64_t i = 0; i < n; i++)
    y[i] = (float)gelu_d(x[i], attrs && attrs->approximate);
  return NULL;
}

/* ------------------------------------------------------------ ABS, NEG */

/* int32 negation wraps (-INT32_MIN == INT32_MIN) instead of overflowing. */
static int32_t neg_i32(int32_t v) { return (int32_t)(0u - (uint32_t)v); }

static kiln_status *map_signed(const kiln_op_ctx *ctx, bool is_abs) {
  int64_t n = kiln_tensor_numel(ctx->inputs[0]);
  if (ctx->inputs[0]->dtype == KILN_INT64) { /* NEG only; wraps like int32 */
    const int64_t *x = ctx->inputs[0]->data;
    int64_t *y = ctx->outputs[0]->data;
    for (int64_t i = 0; i < n; i++) y[i] = (int64_t)(0u - (uint64_t)x[i]);
    return NULL;
  }
  if (ctx->inputs[0]->dtype == KILN_INT32) {
    const int32_t *x = ctx->inputs[0]->data;
    int32_t *y = ctx->outputs[0]->data;
    for (int64_t i = 0; i < n; i++)
      y[i] = (is_abs && x[i] >= 0) ? x[i] : neg_i32(x[i]);
    return NULL;
  }
  const float *x = ctx->inputs[0]->data;
  float *y = ctx->outputs[0]->data;
  for (int64_t i = 0; i < n; i++) y[i] = is_abs ? fabsf(x[i]) : -x[i];
  return NULL;
}

kiln_status *kiln_ref_abs(const kiln_op_ctx *ctx) {
  if (kiln_q_node(ctx)) return kiln_qref_unary(ctx, KILN_QU_ABS);
  return map_signed(ctx, true);
}
kiln_status *kiln_ref_neg(const kiln_op_ctx *ctx) {
  const kiln_tensor *x = ctx->inputs[0];
  int64_t n = kiln_tensor_numel(x);
  if (x->dtype == KILN_FLOAT16) { /* flips the sign bit */
    const uint16_t *in = x->data;
    uint16_t *y = ctx->outputs[0]->data;
    for (int64_t i = 0; i < n; i++) y[i] = in[i] ^ 0x8000u;
    return NULL;
  }
  /* int8 / int16: the stored integers negated, wrapping at the minimum;
   * TFLite does not read the quantization parameters (see kiln_shape_neg) */
  if (x->dtype == KILN_INT8) {
    const int8_t *in = x->data;
    int8_t *y = ctx->outputs[0]->data;
    for (int64_t i = 0; i < n; i++)
      y[i] = (int8_t)(uint8_t)(0u - (unsigned)in[i]);
    return NULL;
  }
  if (x->dtype == KILN_INT16) {
    const int16_t *in = x->data;
    int16_t *y = ctx->outputs[0]->data;
    for (int64_t i = 0; i < n; i++)
      y[i] = (int16_t)(uint16_t)(0u - (unsigned)in[i]);
    return NULL;
  }
  return map_signed(ctx, false);
}

/* ----------------------------------------------------------------- CAST */

/* An element in transit: floating types travel as double, the others as
 * int64, so no value is rounded before the final conversion. */
typedef struct scalar {
  bool is_real;
  double real;
  int64_t integer;
} scalar;

static scalar load(const kiln_tensor *t, int64_t i) {
  scalar s = {false, 0.0, 0};
  switch (t->dtype) {
    case KILN_FLOAT32:
    case KILN_FLOAT16:
    case KILN_FLOAT64:
      s.is_real = true;
      s.real = kiln_tensor_real(t, i);
      break;
    case KILN_BOOL:
      s.integer = ((const uint8_t *)t->data)[i] != 0;
      break;
    case KILN_COMPLEX64: /* the real part, as TFLite's cast takes it */
      s.is_real = true;
      s.real = ((const float *)t->data)[2 * i];
      break;
    default:
      s.integer = kiln_tensor_int(t, i);
      break;
  }
  return s;
}

/* Float to integer truncates toward zero and saturates; NaN gives 0.
 * `limit` is 2^bits (2^(bits-1) when signed) as an exact double, since
 * INT64_MAX is not one. */
static int64_t real_to_int(double v, int64_t lo, int64_t hi, double limit) {
  if (isnan(v)) return 0;
  double t = trunc(v);
  if (t <= (double)lo) return lo;
  if (t >= limit) return hi;
  return (int64_t)t;
}

static int64_t to_int(scalar s, int64_t lo, int64_t hi, double limit) {
  return s.is_real ? real_to_int(s.real, lo, hi, limit) : s.integer;
}

/* Integer to narrower integer wraps modulo 2^bits, like static_cast. */
static void store(kiln_tensor *t, int64_t i, scalar s) {
  void *d = t->data;
  uint64_t u;
  switch (t->dtype) {
    case KILN_FLOAT32:
      ((float *)d)[i] = s.is_real ? (float)s.real : (float)s.integer;
      break;
    case KILN_FLOAT64:
      ((double *)d)[i] = s.is_real ? s.real : (double)s.integer;
      break;
    case KILN_FLOAT16:
      ((uint16_t *)d)[i] =
          kiln_float_to_half(s.is_real ? (float)s.real : (float)s.integer);
      break;
    case KILN_BOOL:
      ((uint8_t *)d)[i] = s.is_real ? s.real != 0.0 : s.integer != 0;
      break;
    case KILN_INT8:
      u = (uint64_t)to_int(s, INT8_MIN, INT8_MAX, 128.0);
      ((int8_t *)d)[i] = (int8_t)(uint8_t)u;
      break;
    case KILN_UINT8:
      u = (uint64_t)to_int(s, 0, UINT8_MAX, 256.0);
      ((uint8_t *)d)[i] = (uint8_t)u;
      break;
    case KILN_INT16:
      u = (uint64_t)to_int(s, INT16_MIN, INT16_MAX, 32768.0);
      ((int16_t *)d)[i] = (int16_t)(uint16_t)u;
      break;
    case KILN_INT32:
      u = (uint64_t)to_int(s, INT32_MIN, INT32_MAX, 2147483648.0);
      ((int32_t *)d)[i] = (int32_t)(uint32_t)u;
      break;
    case KILN_INT64:
      ((int64_t *)d)[i] =
          to_int(s, INT64_MIN, INT64_MAX, 9223372036854775808.0);
      break;
    case KILN_COMPLEX64: /* a real value, imaginary part 0 */
      ((float *)d)[2 * i] = s.is_real ? (float)s.real : (float)s.integer;
      ((float *)d)[2 * i + 1] = 0.0f;
      break;
    case KILN_UINT16:
      u = (uint64_t)to_int(s, 0, UINT16_MAX, 65536.0);
      ((uint16_t *)d)[i] = (uint16_t)u;
      break;
    case KILN_UINT32:
      u = (uint64_t)to_int(s, 0, UINT32_MAX, 4294967296.0);
      ((uint32_t *)d)[i] = (uint32_t)u;
      break;
    case KILN_UINT64: /* reals saturate to [0, 2^64), integers wrap */
      if (!s.is_real)
        u = (uint64_t)s.integer;
      else if (!(s.real > 0.0))
        u = 0;
      else if (s.real >= 18446744073709551616.0)
        u = UINT64_MAX;
      else
        u = (uint64_t)s.real;
      ((uint64_t *)d)[i] = u;
      break;
    case KILN_STRING: /* never here: CAST is refused STRING at load */
    case KILN_DTYPE_INVALID:
      break;
  }
}

kiln_status *kiln_ref_cast(const kiln_op_ctx *ctx) {
  const kiln_tensor *x = ctx->inputs[0];
  kiln_tensor *y = ctx->outputs[0];
  int64_t n = kiln_tensor_numel(x);
  if (x->dtype == y->dtype) { /* complex64 to complex64 keeps both parts */
    memcpy(y->data, x->data, kiln_tensor_nbytes(y));
    return NULL;
  }
  for (int64_t i = 0; i < n; i++) store(y, i, load(x, i));
  return NULL;
}

/* ----------------------------------------------------------- DEQUANTIZE */

static void dequantize_f16(const kiln_tensor *x, float *y) {
  const uint16_t *h = x->data;
  int64_t n = kiln_tensor_numel(x);
  for (int64_t i = 0; i < n; i++) y[i] = kiln_half_to_float(h[i]);
}

/* Channel of flat element i is (i / inner) % channels, where inner is the
 * size of the dimensions after the quantized axis. */
static void dequantize_int(const kiln_tensor *x, float *y) {
  const kiln_quant_info *q = x->quant;
  int64_t inner = 1, n = kiln_tensor_numel(x);
  if (q->count > 1)
    for (int d = q->axis + 1; d < x->rank; d++) inner *= x->dims[d];
  for (int64_t i = 0; i < n; i++) {
    int64_t c = q->count > 1 ? (i / inner) % q->count : 0;
    /* exact in double: a float scale times a difference of small ints */
    double v = (double)kiln_tensor_int(x, i) - (double)q->zero_point[c];
    y[i] = (float)((double)q->scale[c] * v);
  }
}

kiln_status *kiln_ref_dequantize(const kiln_op_ctx *ctx) {
  const kiln_tensor *x = ctx->inputs[0];
  if (x->dtype == KILN_FLOAT16)
    dequantize_f16(x, ctx->outputs[0]->data);
  else
    dequantize_int(x, ctx->outputs[0]->data);
  return NULL;
}
