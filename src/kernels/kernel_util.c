/* kernel_util.c - checks and helpers shared by shape functions and kernels. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kernels/activation.h"
#include "kernels/kernel.h"

int64_t kiln_tensor_numel(const kiln_tensor *t) {
  int64_t n = 1;
  for (int i = 0; i < t->rank; i++) n *= t->dims[i];
  return n;
}

size_t kiln_tensor_nbytes(const kiln_tensor *t) {
  return (size_t)kiln_tensor_numel(t) * kiln_dtype_size(t->dtype);
}

const char *kiln_dims_str(const int64_t *dims, int rank, char *buf,
                          size_t size) {
  size_t used = 0;
  if (size == 0) return buf;
  buf[0] = '\0';
  used += (size_t)snprintf(buf + used, size - used, "[");
  for (int i = 0; i < rank && used < size; i++)
    used += (size_t)snprintf(buf + used, size - used, i ? ",%lld" : "%lld",
                             (long long)dims[i]);
  if (used < size) snprintf(buf + used, size - used, "]");
  return buf;
}

kiln_status *kiln_check_arity(const kiln_op_ctx *ctx, int min_inputs,
                              int max_inputs, int outputs) {
  if (ctx->num_inputs < min_inputs || ctx->num_inputs > max_inputs) {
    if (min_inputs == max_inputs)
      return kiln_error(KILN_ERR_INVALID_MODEL, "expects %d inputs, has %d",
                        min_inputs, ctx->num_inputs);
    return kiln_error(KILN_ERR_INVALID_MODEL, "expects %d to %d inputs, has %d",
                      min_inputs, max_inputs, ctx->num_inputs);
  }
  if (outputs >= 0 && ctx->num_outputs != outputs)
    return kiln_error(KILN_ERR_INVALID_MODEL, "expects %d outputs, has %d",
                      outputs, ctx->num_outputs);
  return NULL;
}

kiln_status *kiln_require_input(const kiln_op_ctx *ctx, int index,
                                const char *role) {
  if (index >= ctx->num_inputs || !ctx->inputs[index])
    return kiln_error(KILN_ERR_INVALID_MODEL, "input %d (%s) is missing", index,
                      role);
  return NULL;
}

kiln_status *kiln_require_known(const kiln_op_ctx *ctx, int index,
                                const char *role) {
  KILN_TRY(kiln_require_input(ctx, index, role));
  if (!ctx->inputs[index]->data)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "input %d (%s) must be known before invoke (a constant "
                      "or computed from shapes); a value computed from the "
                      "model's inputs is not supported",
                      index, role);
  return NULL;
}

kiln_status *kiln_require_dtype(const kiln_tensor *t, kiln_dtype dtype,
                                const char *role) {
  if (t->dtype != dtype)
    return kiln_error(KILN_ERR_UNSUPPORTED, "%s has type %s; expected %s", role,
                      kiln_dtype_name(t->dtype), kiln_dtype_name(dtype));
  return NULL;
}

kiln_status *kiln_require_rank(const kiln_tensor *t, int rank,
                               const char *role) {
  if (t->rank != rank) {
    char buf[KILN_DIMS_STR_SIZE];
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%s must have rank %d, has shape %s", role, rank,
                      kiln_dims_str(t->dims, t->rank, buf, sizeof buf));
  }
  return NULL;
}

/* The float input checks; dimensions from `first_counted` on must be at
 * least 1 (0 or 1: whether an empty batch is allowed). */
static kiln_status *require_float(const kiln_op_ctx *ctx, int index,
                                  const char *name, int min_rank, int max_rank,
                                  int first_counted) {
  KILN_TRY(kiln_require_input(ctx, index, name));
  const kiln_tensor *t = ctx->inputs[index];
  char role[64], buf[KILN_DIMS_STR_SIZE];
  snprintf(role, sizeof role, "input %d (%s)", index, name);
  KILN_TRY(kiln_require_dtype(t, KILN_FLOAT32, role));
  kiln_dims_str(t->dims, t->rank, buf, sizeof buf);
  if (min_rank == max_rank)
    KILN_TRY(kiln_require_rank(t, min_rank, role));
  else if (t->rank < min_rank || (max_rank >= 0 && t->rank > max_rank))
    return max_rank < 0
               ? kiln_error(KILN_ERR_INVALID_MODEL,
                            "%s must have rank %d or more, has shape %s", role,
                            min_rank, buf)
               : kiln_error(KILN_ERR_INVALID_MODEL,
                            "%s must have rank %d to %d, has shape %s", role,
                            min_rank, max_rank, buf);
  for (int i = 0; i < t->rank; i++)
    if (t->dims[i] < 0 || (t->dims[i] == 0 && i >= first_counted))
      return kiln_error(KILN_ERR_INVALID_MODEL, "%s has empty shape %s", role,
                        buf);
  return NULL;
}

kiln_status *kiln_require_float_input(const kiln_op_ctx *ctx, int index,
                                      const char *name, int min_rank,
                                      int max_rank) {
  return require_float(ctx, index, name, min_rank, max_rank, 0);
}

kiln_status *kiln_require_float_batch_input(const kiln_op_ctx *ctx, int index,
                                            const char *name, int min_rank,
                                            int max_rank) {
  return require_float(ctx, index, name, min_rank, max_rank, 1);
}

kiln_status *kiln_check_window_attrs(kiln_padding padding, int stride_h,
                                     int stride_w, kiln_activation activation) {
  if (padding != KILN_PAD_SAME && padding != KILN_PAD_VALID)
    return kiln_error(KILN_ERR_INVALID_MODEL, "padding %d is not SAME or VALID",
                      (int)padding);
  if (stride_h < 1 || stride_w < 1)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "stride %dx%d must be at least 1x1", stride_h, stride_w);
  return kiln_check_activation(activation);
}

kiln_status *kiln_window_out_size(const kiln_tensor *input, int axis, int64_t k,
                                  int stride, int dilation,
                                  kiln_padding padding, int64_t *out) {
  int64_t in = input->dims[axis], span = (k - 1) * dilation + 1;
  if (padding == KILN_PAD_SAME) {
    *out = (in + stride - 1) / stride;
    return NULL;
  }
  if (in < span) {
    char buf[KILN_DIMS_STR_SIZE], filter[96];
    if (dilation == 1)
      snprintf(filter, sizeof filter, "%lld", (long long)k);
    else
      snprintf(filter, sizeof filter, "span %lld (size %lld, dilation %d)",
               (long long)span, (long long)k, dilation);
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 0 (input) has shape %s: its %s %lld is smaller "
                      "than the filter's %s with VALID padding",
                      kiln_dims_str(input->dims, input->rank, buf, sizeof buf),
                      axis == 1 ? "height" : "width", (long long)in, filter);
  }
  *out = (in - span) / stride + 1;
  return NULL;
}

int64_t kiln_window_pad_before(int64_t in, int64_t out, int64_t k, int stride,
                               int dilation, kiln_padding padding) {
  if (padding == KILN_PAD_VALID) return 0;
  int64_t total = (out - 1) * stride + (k - 1) * dilation + 1 - in;
  return total > 0 ? total / 2 : 0;
}

int64_t kiln_tensor_int(const kiln_tensor *t, int64_t i) {
  switch (t->dtype) {
    case KILN_INT32:
      return ((const int32_t *)t->data)[i];
    case KILN_INT64:
      return ((const int64_t *)t->data)[i];
    case KILN_INT16:
      return ((const int16_t *)t->data)[i];
    case KILN_INT8:
      return ((const int8_t *)t->data)[i];
    case KILN_UINT8:
      return ((const uint8_t *)t->data)[i];
    case KILN_UINT16:
      return ((const uint16_t *)t->data)[i];
    case KILN_UINT32:
      return ((const uint32_t *)t->data)[i];
    case KILN_UINT64: /* above INT64_MAX wraps to negative (two's complement) */
      return (int64_t)((const uint64_t *)t->data)[i];
    case KILN_BOOL:
      return ((const uint8_t *)t->data)[i];
    default:
      return 0;
  }
}

double kiln_tensor_real(const kiln_tensor *t, int64_t i) {
  switch (t->dtype) {
    case KILN_FLOAT32:
      return ((const float *)t->data)[i];
    case KILN_FLOAT64:
      return ((const double *)t->data)[i];
    case KILN_FLOAT16:
      return kiln_half_to_float(((const uint16_t *)t->data)[i]);
    default:
      return (double)kiln_tensor_int(t, i);
  }
}

kiln_status *kiln_normalize_axis(int64_t axis, int rank, const char *role,
                                 int *out_axis) {
  int64_t a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%s %lld is out of range for rank %d", role,
                      (long long)axis, rank);
  *out_axis = (int)a;
  return NULL;
}

kiln_status *kiln_broadcast_shapes(const int64_t *a, int rank_a,
                                   const int64_t *b, int rank_b, int64_t *out,
                                   int *out_rank) {
  int rank = rank_a > rank_b ? rank_a : rank_b;
  for (int i = 0; i < rank; i++) {
    int ia = i - (rank - rank_a), ib = i - (rank - rank_b);
    int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
    if (da == db || db == 1)
      out[i] = da;
    else if (da == 1)
      out[i] = db;
    else {
      char sa[KILN_DIMS_STR_SIZE], sb[KILN_DIMS_STR_SIZE];
      return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                        "shapes %s and %s do not broadcast (axis %d: %lld vs "
                        "%lld)",
                        kiln_dims_str(a, rank_a, sa, sizeof sa),
                        kiln_dims_str(b, rank_b, sb, sizeof sb), i,
                        (long long)da, (long long)db);
    }
  }
  *out_rank = rank;
  return NULL;
}

void kiln_broadcast_strides(const kiln_tensor *t, const int64_t *out_dims,
                            int out_rank, int64_t *strides) {
  int64_t stride = 1;
  for (int i = out_rank - 1; i >= 0; i--) {
    int it = i - (out_rank - t->rank);
    int64_t dim = it >= 0 ? t->dims[it] : 1;
    strides[i] = (dim == 1 && out_dims[i] != 1) ? 0 : stride;
    stride *= dim;
  }
}

void kiln_set_shape(kiln_tensor *t, const int64_t *dims, int rank) {
  t->rank = rank;
  for (int i = 0; i < rank; i++) t->dims[i] = dims[i];
}

void kiln_defer_output(kiln_tensor *t, int rank) {
  t->rank = rank;
  for (int i = 0; i < rank; i++) t->dims[i] = KILN_DIM_AT_INVOKE;
}

bool kiln_tensor_deferred(const kiln_tensor *t) {
  for (int i = 0; i < t->rank; i++)
    if (t->dims[i] == KILN_DIM_AT_INVOKE) return true;
  return false;
}

kiln_status *kiln_check_activation(kiln_activation act) {
  if (!kiln_activation_known(act))
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "fused activation %d is not a known activation",
                      (int)act);
  return NULL;
}

double kiln_flops_none(const kiln_op_ctx *ctx) {
  (void)ctx;
  return 0.0;
}

double kiln_flops_per_output(const kiln_op_ctx *ctx) {
  double total = 0.0;
  for (int i = 0; i < ctx->num_outputs; i++)
    total += (double)kiln_tensor_numel(ctx->outputs[i]);
  return total;
}

double kiln_flops_per_input(const kiln_op_ctx *ctx) {
  return ctx->num_inputs && ctx->inputs[0]
             ? (double)kiln_tensor_numel(ctx->inputs[0])
             : 0.0;
}

float kiln_half_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h >> 15) << 31;
  uint32_t exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
  float magnitude;
  if (exponent == 0)
    magnitude = ldexpf((float)mantissa, -24); /* zero and subnormals */
  else if (exponent == 31)
    magnitude = mantissa ? NAN : INFINITY;
  else
    magnitude = ldexpf((float)(mantissa | 0x400), (int)exponent - 25);
  uint32_t bits;
  memcpy(&bits, &magnitude, sizeof bits);
  bits |= sign;
  float result;
  memcpy(&result, &bits, sizeof result);
  return result;
}

uint16_t kiln_float_to_half(float f) {
  uint32_t bits;
  memcpy(&bits, &f, sizeof bits);
  uint16_t sign = (uint16_t)((bits >> 16) & 0x8000);
  uint32_t abs_bits = bits & 0x7fffffff;
  if (abs_bits >= 0x7f800000) /* inf or nan */
    return sign | 0x7c00 | (abs_bits > 0x7f800000 ? 0x200 : 0);
  if (abs_bits >= 0x477ff000) return sign | 0x7c00; /* overflows to inf */
  if (abs_bits < 0x38800000) { /* subnormal half: round to nearest even */
    float a;
    memcpy(&a, &abs_bits, sizeof a);
    return sign | (uint16_t)lrintf(a * 16777216.0f);
  }
  /* normal: rebias exponent, round mantissa to nearest even */
  uint32_t rounded = abs_bits + 0xfff + ((abs_bits >> 13) & 1);
  return sign | (uint16_t)((rounded - 0x38000000) >> 13);
}
