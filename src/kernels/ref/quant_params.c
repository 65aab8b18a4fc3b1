/* quant_params.c - builds the per-node block of quant_params.h at load:
 * checks the scales and zero points TFLite's kernels rely on, then turns
 * them into Q31 multipliers, corrected biases and clamps once. */
#include "kernels/ref/quant_params.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "kernels/ref/lstm_integer.h"
#include "kernels/ref/quant_math.h"

/* Where an op keeps its activation input, weights and bias. */
typedef struct node_roles {
  int input, filter, bias; /* input indices; bias -1 when it has none */
  int channel_axis;        /* of the weights; -1: per-tensor only */
} node_roles;

static bool roles_of(kiln_op_type op, node_roles *r) {
  switch (op) {
    case KILN_OP_CONV_2D:
    case KILN_OP_FULLY_CONNECTED:
      *r = (node_roles){0, 1, 2, 0};
      return true;
    case KILN_OP_DEPTHWISE_CONV_2D:
      *r = (node_roles){0, 1, 2, 3};
      return true;
    case KILN_OP_TRANSPOSE_CONV:
      *r = (node_roles){2, 1, 3, 0};
      return true;
    case KILN_OP_BATCH_MATMUL:
      *r = (node_roles){0, 1, -1, -1};
      return true;
    default:
      return false;
  }
}

static const kiln_tensor *input_at(const kiln_op_ctx *ctx, int index) {
  return index >= 0 && index < ctx->num_inputs ? ctx->inputs[index] : NULL;
}

static bool is_int_activation(kiln_dtype t) {
  return t == KILN_INT8 || t == KILN_UINT8 || t == KILN_INT16;
}

bool kiln_quant_node(kiln_op_type op, const kiln_op_ctx *ctx) {
  node_roles r;
  if (!roles_of(op, &r)) return false;
  const kiln_tensor *in = input_at(ctx, r.input);
  if (!in) return false;
  return is_int_activation(in->dtype) || kiln_quant_node_hybrid(op, ctx);
}

bool kiln_quant_node_hybrid(kiln_op_type op, const kiln_op_ctx *ctx) {
  node_roles r;
  if (!roles_of(op, &r)) return false;
  const kiln_tensor *in = input_at(ctx, r.input);
  const kiln_tensor *w = input_at(ctx, r.filter);
  return in && w && in->dtype == KILN_FLOAT32 &&
         (w->dtype == KILN_INT8 || w->dtype == KILN_UINT8);
}

kiln_status *kiln_quant_require_params(const kiln_op_ctx *ctx) {
  if (ctx->quant) return NULL;
  return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                    "quantized node run without its quantization parameters "
                    "(kiln_quant_params_build was not called)");
}

/* ------------------------------------------------------------ checks */

static kiln_status *check_scales(const kiln_tensor *t, const char *role) {
  const kiln_quant_info *q = t->quant;
  for (int i = 0; i < q->count; i++)
    if (!(q->scale[i] > 0.0f) || !isfinite(q->scale[i]))
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "%s has quantization scale %g at %d; scales must be "
                        "positive and finite",
                        role, (double)q->scale[i], i);
  return NULL;
}

/* A tensor with one scale and zero point in its type's range. */
static kiln_status *need_per_tensor(const kiln_tensor *t, const char *role) {
  if (!t->quant || t->quant->count == 0)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%s of type %s has no quantization parameters", role,
                      kiln_dtype_name(t->dtype));
  if (t->quant->count != 1)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "%s has %d per-channel quantization parameters; only "
                      "per-tensor quantization is supported here",
                      role, t->quant->count);
  KILN_TRY(check_scales(t, role));
  int32_t lo, hi;
  int64_t zp = t->quant->zero_point[0];
  if (kiln_quant_type_range(t->dtype, &lo, &hi) && (zp < lo || zp > hi))
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%s has zero point %lld, outside %s's range", role,
                      (long long)zp, kiln_dtype_name(t->dtype));
  if (t->dtype == KILN_INT16 && zp != 0)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "%s is int16 with zero point %lld; TFLite's int16 "
                      "kernels need 0",
                      role, (long long)zp);
  return NULL;
}

/* Weights: constant where `need_data`, one scale or one per channel along
 * `axis`, zero points 0 unless `any_zp` (then per-tensor). */
static kiln_status *check_weights(const kiln_tensor *w, int axis, int channels,
                                  bool need_data, bool any_zp) {
  const char *role = "input (weights)";
  char buf[KILN_DIMS_STR_SIZE];
  if (need_data && !w->data)
    return kiln_error(KILN_ERR_UNSUPPORTED, "%s of type %s must be a constant",
                      role, kiln_dtype_name(w->dtype));
  if (!w->quant || w->quant->count == 0)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%s of type %s has no quantization parameters", role,
                      kiln_dtype_name(w->dtype));
  const kiln_quant_info *q = w->quant;
  if (q->count != 1 && (axis < 0 || q->axis != axis || q->count != channels))
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%s has %d quantization parameters on axis %d; expected "
                      "1 or %d on axis %d (shape %s)",
                      role, q->count, q->axis, channels, axis,
                      kiln_dims_str(w->dims, w->rank, buf, sizeof buf));
  KILN_TRY(check_scales(w, role));
  int32_t lo, hi;
  kiln_quant_type_range(w->dtype, &lo, &hi);
  for (int i = 0; i < q->count; i++) {
    int64_t zp = q->zero_point[i];
    if (zp < lo || zp > hi || (zp != 0 && !(any_zp && q->count == 1)))
      return kiln_error(KILN_ERR_UNSUPPORTED,
                        "%s has zero point %lld at %d; %s", role, (long long)zp,
                        i,
                        any_zp ? "per-channel weights need 0"
                               : "TFLite's kernels need 0 for these weights");
  }
  return NULL;
}

/* ------------------------------------------------------------ block */

typedef struct layout {
  size_t multiplier, shift, bias32, bias64, filter_scale, filter_sum, total;
} layout;

static size_t take(size_t *cursor, size_t bytes) {
  size_t at = *cursor;
  *cursor += (bytes + 15) & ~(size_t)15;
  return at;
}

static kiln_status *alloc_block(const kiln_allocator *a, int channels,
                                bool integer, bool with_bias32,
                                bool with_bias64, bool hybrid,
                                kiln_quant_params **out) {
  layout l = {0};
  size_t c = (size_t)channels, cursor = 0;
  take(&cursor, sizeof(kiln_quant_params));
  if (integer) {
    l.multiplier = take(&cursor, c * sizeof(int32_t));
    l.shift = take(&cursor, c * sizeof(int));
  }
  if (with_bias32) l.bias32 = take(&cursor, c * sizeof(int32_t));
  if (with_bias64) l.bias64 = take(&cursor, c * sizeof(int64_t));
  if (hybrid) {
    l.filter_scale = take(&cursor, c * sizeof(float));
    l.filter_sum = take(&cursor, c * sizeof(int32_t));
  }
  char *block = kiln_calloc(a, 1, cursor);
  if (!block) return KILN_OOM();
  kiln_quant_params *p = (kiln_quant_params *)block;
  p->channels = channels;
  if (integer) {
    p->multiplier = (int32_t *)(block + l.multiplier);
    p->shift = (int *)(block + l.shift);
  }
  if (with_bias32) p->bias32 = (int32_t *)(block + l.bias32);
  if (with_bias64) p->bias64 = (int64_t *)(block + l.bias64);
  if (hybrid) {
    p->filter_scale = (float *)(block + l.filter_scale);
    p->filter_sum = (int32_t *)(block + l.filter_sum);
  }
  *out = p;
  return NULL;
}

/* Weight element i of int8 or uint8 weights (uint8 as stored). */
static int32_t weight_at(const kiln_tensor *w, int64_t i) {
  return w->dtype == KILN_UINT8 ? ((const uint8_t *)w->data)[i]
                                : ((const int8_t *)w->data)[i];
}

/* Sum of channel c's weights: rows of `per` elements for most ops, every
 * `channels`-th element for depthwise filters (channel last). */
static int64_t channel_sum(const kiln_tensor *w, int axis, int channels,
                           int c) {
  int64_t n = kiln_tensor_numel(w), sum = 0;
  if (axis == 0) {
    int64_t per = n / channels;
    for (int64_t i = 0; i < per; i++) sum += weight_at(w, c * per + i);
  } else {
    for (int64_t i = c; i < n; i += channels) sum += weight_at(w, i);
  }
  return sum;
}

static int64_t bias_at(const kiln_tensor *b, int c) {
  return b->dtype == KILN_INT64 ? ((const int64_t *)b->data)[c]
                                : ((const int32_t *)b->data)[c];
}

static kiln_activation node_activation(kiln_op_type op, const void *attrs) {
  switch (op) {
    case KILN_OP_CONV_2D:
    case KILN_OP_DEPTHWISE_CONV_2D:
    case KILN_OP_TRANSPOSE_CONV:
      return ((const kiln_conv_attrs *)attrs)->activation;
    case KILN_OP_FULLY_CONNECTED:
      return ((const kiln_fully_connected_attrs *)attrs)->activation;
    default:
      return KILN_ACT_NONE;
  }
}

/* Output channels: the weights' dimension along the channel axis. */
static kiln_status *channel_count(kiln_op_type op, const kiln_tensor *w,
                                  const node_roles *r, int *out) {
  if (op == KILN_OP_BATCH_MATMUL) {
    *out = 1;
    return NULL;
  }
  int need = op == KILN_OP_FULLY_CONNECTED ? 2 : 4;
  if (w->rank != need || w->dims[r->channel_axis] < 1 ||
      w->dims[r->channel_axis] > (1 << 24)) {
    char buf[KILN_DIMS_STR_SIZE];
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input %d (weights) has shape %s; expected rank %d",
                      r->filter,
                      kiln_dims_str(w->dims, w->rank, buf, sizeof buf), need);
  }
  *out = (int)w->dims[r->channel_axis];
  return NULL;
}

static kiln_status *build_integer(kiln_op_type op, const kiln_op_ctx *ctx,
                                  const node_roles *r, const kiln_allocator *a,
                                  kiln_quant_params **out) {
  const kiln_tensor *in = ctx->inputs[r->input], *w = input_at(ctx, r->filter);
  const kiln_tensor *b = input_at(ctx, r->bias), *o = ctx->outputs[0];
  char role[48];
  snprintf(role, sizeof role, "input %d (input)", r->input);
  KILN_TRY(need_per_tensor(in, role));
  if (!w)
    return kiln_error(KILN_ERR_INVALID_MODEL, "input %d (weights) is missing",
                      r->filter);
  if (o->dtype != in->dtype)
    return kiln_error(
        KILN_ERR_UNSUPPORTED, "output 0 has type %s; expected %s like input %d",
        kiln_dtype_name(o->dtype), kiln_dtype_name(in->dtype), r->input);
  KILN_TRY(need_per_tensor(o, "output 0"));
  bool uint8_path = in->dtype == KILN_UINT8;
  kiln_dtype want_w = uint8_path ? KILN_UINT8 : KILN_INT8;
  /* BATCH_MATMUL multiplies two activations of the input's type. */
  if (op == KILN_OP_BATCH_MATMUL) want_w = in->dtype;
  if (w->dtype != want_w)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "input %d (weights) has type %s; a %s input needs %s",
                      r->filter, kiln_dtype_name(w->dtype),
                      kiln_dtype_name(in->dtype), kiln_dtype_name(want_w));
  int channels = 1;
  KILN_TRY(channel_count(op, w, r, &channels));
  bool any_zp =
      uint8_path || op == KILN_OP_FULLY_CONNECTED || op == KILN_OP_BATCH_MATMUL;
  if (op == KILN_OP_BATCH_MATMUL) {
    KILN_TRY(need_per_tensor(w, "input 1 (y)"));
  } else {
    KILN_TRY(check_weights(w, r->channel_axis, channels,
                           op != KILN_OP_FULLY_CONNECTED, any_zp));
  }
  bool wide = in->dtype == KILN_INT16;
  if (b) {
    kiln_dtype want_b = wide ? KILN_INT64 : KILN_INT32;
    if (b->dtype != want_b && !(wide && b->dtype == KILN_INT32))
      return kiln_error(KILN_ERR_UNSUPPORTED,
                        "input %d (bias) has type %s; a %s input needs %s",
                        r->bias, kiln_dtype_name(b->dtype),
                        kiln_dtype_name(in->dtype), kiln_dtype_name(want_b));
    if (!b->data)
      return kiln_error(KILN_ERR_UNSUPPORTED,
                        "input %d (bias) must be a constant", r->bias);
    if (b->rank != 1 || b->dims[0] != channels)
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "input %d (bias) has %lld elements; expected %d (one "
                        "per output channel)",
                        r->bias, (long long)kiln_tensor_numel(b), channels);
  }
  int32_t filter_zp = (int32_t)w->quant->zero_point[0];
  /* Folding needs every weight (constant) and no weight offset; the
   * transposed convolution clips its scatter per output, so it keeps the
   * offset form too. */
  bool wide_acc =
      wide && (op == KILN_OP_BATCH_MATMUL || op == KILN_OP_TRANSPOSE_CONV ||
               (b && b->dtype == KILN_INT64));
  bool fold = !wide_acc && w->data && filter_zp == 0 &&
              op != KILN_OP_TRANSPOSE_CONV && op != KILN_OP_BATCH_MATMUL;
  kiln_quant_params *p;
  KILN_TRY(alloc_block(a, channels, true, fold, wide_acc && b, false, &p));
  p->wide_acc = wide_acc;
  p->single_rounding = op == KILN_OP_FULLY_CONNECTED;
  p->input_zp = (int32_t)in->quant->zero_point[0];
  p->filter_zp = filter_zp;
  p->output_zp = (int32_t)o->quant->zero_point[0];
  kiln_status *st = kiln_quant_activation_range(
      node_activation(op, ctx->attrs), o->dtype, o->quant->scale[0],
      p->output_zp, &p->act_min, &p->act_max);
  if (st) {
    kiln_free(a, p);
    return st;
  }
  const kiln_quant_info *wq = w->quant;
  for (int c = 0; c < channels; c++) {
    double filter_scale = wq->scale[wq->count > 1 ? c : 0];
    double real =
        (double)in->quant->scale[0] * filter_scale / (double)o->quant->scale[0];
    kiln_quantize_multiplier(real, &p->multiplier[c], &p->shift[c]);
    if (p->bias32) {
      int64_t corrected =
          (b ? bias_at(b, c) : 0) -
          (int64_t)p->input_zp * channel_sum(w, r->channel_axis, channels, c);
      /* int32 arithmetic as TFLite's accumulator wraps */
      p->bias32[c] = (int32_t)(uint32_t)(uint64_t)corrected;
    }
    if (p->bias64) p->bias64[c] = bias_at(b, c);
  }
  *out = p;
  return NULL;
}

static kiln_status *build_hybrid(kiln_op_type op, const kiln_op_ctx *ctx,
                                 const node_roles *r, const kiln_allocator *a,
                                 kiln_quant_params **out) {
  const kiln_tensor *w = ctx->inputs[r->filter];
  if (w->dtype != KILN_INT8)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "input %d (weights) has type %s; float inputs take "
                      "int8 weights",
                      r->filter, kiln_dtype_name(w->dtype));
  if (ctx->outputs[0]->dtype != KILN_FLOAT32)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "output 0 has type %s; a float32 input with int8 "
                      "weights gives float32",
                      kiln_dtype_name(ctx->outputs[0]->dtype));
  int channels = 1;
  KILN_TRY(channel_count(op, w, r, &channels));
  KILN_TRY(check_weights(w, op == KILN_OP_BATCH_MATMUL ? -1 : r->channel_axis,
                         channels, true, false));
  kiln_quant_params *p;
  KILN_TRY(alloc_block(a, channels, false, false, false, true, &p));
  p->hybrid = true;
  const kiln_quant_info *wq = w->quant;
  for (int c = 0; c < channels; c++) {
    p->filter_scale[c] = wq->scale[wq->count > 1 ? c : 0];
    p->filter_sum[c] =
        op == KILN_OP_BATCH_MATMUL
            ? 0
            : (int32_t)channel_sum(w, r->channel_axis, channels, c);
  }
  *out = p;
  return NULL;
}

kiln_status *kiln_quant_params_build(kiln_op_type op, const kiln_op_ctx *ctx,
                                     const kiln_allocator *a,
                                     kiln_quant_params **out) {
  *out = NULL;
  if (kiln_lstm_integer_node(op, ctx))
    return kiln_lstm_qparams_build(op, ctx, a, out);
  node_roles r;
  if (!roles_of(op, &r) || !kiln_quant_node(op, ctx)) return NULL;
  if (ctx->num_outputs < 1 || !ctx->outputs[0])
    return kiln_error(KILN_ERR_INVALID_MODEL, "has no output");
  if (kiln_quant_node_hybrid(op, ctx)) return build_hybrid(op, ctx, &r, a, out);
  return build_integer(op, ctx, &r, a, out);
}
