/* quant_hybrid.c - TFLite's hybrid ("dynamic range") kernels: float32
 * activations, int8 weights, float32 output. As LiteRT does, each batch
 * (a row for FULLY_CONNECTED, an image for the convolutions) is quantized
 * to int8 on the fly, symmetric (scale = max|x| / 127) or asymmetric
 * (scale and zero point from [min(x, 0), max(x, 0)]); the int32 dot
 * products are then scaled back to float with the weights' scales, the
 * float bias added and the activation applied. TFLite keeps the quantized
 * input in a temporary; kiln has no scratch at invoke in a reference
 * kernel, so it first finds each batch's scale and then quantizes every
 * element where it is read: rounding is deterministic, so the sums are the
 * same. The float operations follow TFLite's order so results match its
 * reference kernels to float rounding. */
#include <math.h>

#include "kernels/ref/quant_common.h"
#include "kernels/ref/quant_conv.h"
#include "kernels/ref/quant_matmul.h"

/* How one batch of floats becomes int8: q = clamp(round(offset + x *
 * inverse), lo, hi), real = scale * (q - offset). */
typedef struct batch_quant {
  float scale, inverse;
  int32_t offset, lo, hi;
} batch_quant;

/* Symmetric: TFLite's SymmetricQuantizeFloats (range 0 gives all zeros
 * with scale 1). */
static void min_max(const float *x, int64_t n, int64_t stride, float *lo,
                    float *hi) {
  *lo = *hi = x[0];
  for (int64_t i = 1; i < n; i++) {
    float v = x[i * stride];
    if (v < *lo) *lo = v;
    if (v > *hi) *hi = v;
  }
}

static batch_quant symmetric_strided(const float *x, int64_t n,
                                     int64_t stride) {
  float lo, hi;
  min_max(x, n, stride, &lo, &hi);
  float range = fmaxf(fabsf(lo), fabsf(hi));
  batch_quant q = {1.0f, 0.0f, 0, -127, 127};
  if (range == 0.0f) return q;
  q.scale = range / 127.0f;
  q.inverse = 127.0f / range;
  return q;
}

/* Asymmetric: TFLite's AsymmetricQuantizeFloats, the zero point chosen
 * from whichever end of the range it represents with less error. */
static batch_quant asymmetric_strided(const float *x, int64_t n,
                                      int64_t stride) {
  float lo, hi;
  min_max(x, n, stride, &lo, &hi);
  const double qmin = -128.0, qmax = 127.0;
  double rmin = fmin(0.0, (double)lo), rmax = fmax(0.0, (double)hi);
  batch_quant q = {1.0f, 0.0f, 0, -128, 127};
  if (rmin == rmax) return q;
  double scale = (rmax - rmin) / (qmax - qmin);
  double from_min = qmin - rmin / scale, from_max = qmax - rmax / scale;
  double err_min = fabs(qmin) + fabs(rmin / scale);
  double err_max = fabs(qmax) + fabs(rmax / scale);
  double zp = err_min < err_max ? from_min : from_max;
  q.offset = zp <= qmin ? -128 : (zp >= qmax ? 127 : (int32_t)round(zp));
  q.scale = (float)scale;
  q.inverse = (float)(1.0 / (double)q.scale);
  return q;
}

static batch_quant symmetric(const float *x, int64_t n) {
  return symmetric_strided(x, n, 1);
}

static batch_quant asymmetric(const float *x, int64_t n) {
  return asymmetric_strided(x, n, 1);
}

static inline int32_t quantize(const batch_quant *q, float x) {
  int32_t v = kiln_quant_round_to_i32((float)q->offset + x * q->inverse);
  return kiln_q_clamp(v, q->lo, q->hi);
}

static const float *optional_f32(const kiln_op_ctx *ctx, int index) {
  return index < ctx->num_inputs && ctx->inputs[index]
             ? ctx->inputs[index]->data
             : NULL;
}

static kiln_activation conv_activation(const kiln_op_ctx *ctx) {
  return ((const kiln_conv_attrs *)ctx->attrs)->activation;
}

/* ------------------------------------------------------------ CONV_2D */

/* Output channels and input channels handled at once by the hybrid
 * CONV_2D: each tap's inputs are quantized once per block of outputs into
 * a stack buffer, not once per output channel (a reference kernel has no
 * scratch, and per-use quantization made ResNet50 several times slower). */
enum { HYBRID_OUT_BLOCK = 256, HYBRID_IN_BLOCK = 256 };

/* The int32 sums of output pixel (oy, ox) for output channels [oc0, oc0 +
 * count) of one group, whose inputs start at channel c0. */
static void hybrid_conv_sums(const kiln_q_geom *g, const batch_quant *q,
                             const float *x, const int8_t *w, int64_t group_in,
                             int64_t oy, int64_t ox, int64_t c0, int64_t oc0,
                             int64_t count, int32_t *acc) {
  int32_t qx[HYBRID_IN_BLOCK];
  for (int64_t i = 0; i < count; i++) acc[i] = 0;
  for (int64_t ky = 0; ky < g->k_h; ky++) {
    int64_t iy = oy * g->stride_h - g->pad_top + ky * g->dil_h;
    if (iy < 0 || iy >= g->in_h) continue;
    for (int64_t kx = 0; kx < g->k_w; kx++) {
      int64_t ix = ox * g->stride_w - g->pad_left + kx * g->dil_w;
      if (ix < 0 || ix >= g->in_w) continue;
      const float *xp = x + (iy * g->in_w + ix) * g->in_c + c0;
      for (int64_t i0 = 0; i0 < group_in; i0 += HYBRID_IN_BLOCK) {
        int64_t n =
            group_in - i0 < HYBRID_IN_BLOCK ? group_in - i0 : HYBRID_IN_BLOCK;
        for (int64_t ic = 0; ic < n; ic++)
          qx[ic] = quantize(q, xp[i0 + ic]) - q->offset;
        for (int64_t i = 0; i < count; i++) {
          const int8_t *wp =
              w + (((oc0 + i) * g->k_h + ky) * g->k_w + kx) * group_in + i0;
          int32_t sum = 0;
          for (int64_t ic = 0; ic < n; ic++) sum += wp[ic] * qx[ic];
          acc[i] += sum;
        }
      }
    }
  }
}

kiln_status *kiln_hybrid_conv_2d(const kiln_op_ctx *ctx) {
  const kiln_quant_params *p = ctx->quant;
  kiln_q_geom g = kiln_q_forward_geom(ctx);
  const kiln_tensor *f = ctx->inputs[1];
  const float *in = ctx->inputs[0]->data, *bias = optional_f32(ctx, 2);
  const int8_t *w = f->data;
  float *out = ctx->outputs[0]->data;
  kiln_activation act = conv_activation(ctx);
  /* Per-channel weights take TFLite's per-channel path (asymmetric
   * inputs); per-tensor ones its symmetric path. */
  bool per_channel = f->quant->count > 1;
  int64_t group_in = f->dims[3], group_out = g.out_c / (g.in_c / group_in);
  int64_t image = g.in_h * g.in_w * g.in_c;
  int32_t acc[HYBRID_OUT_BLOCK];
  for (int64_t b = 0; b < g.batch; b++) {
    const float *x = in + b * image;
    batch_quant q = per_channel ? asymmetric(x, image) : symmetric(x, image);
    for (int64_t oy = 0; oy < g.out_h; oy++)
      for (int64_t ox = 0; ox < g.out_w; ox++) {
        float *pixel = out + ((b * g.out_h + oy) * g.out_w + ox) * g.out_c;
        /* Blocks of output channels, each inside one group. */
        for (int64_t oc0 = 0, end = 0; oc0 < g.out_c; oc0 = end) {
          int64_t group_end = (oc0 / group_out + 1) * group_out;
          end = oc0 + HYBRID_OUT_BLOCK < group_end ? oc0 + HYBRID_OUT_BLOCK
                                                   : group_end;
          hybrid_conv_sums(&g, &q, x, w, group_in, oy, ox,
                           oc0 / group_out * group_in, oc0, end - oc0, acc);
          for (int64_t oc = oc0; oc < end; oc++) {
            float v;
            if (per_channel) {
              v = (float)acc[oc - oc0] * p->filter_scale[oc] * q.scale;
            } else {
              v = (float)acc[oc - oc0] * (q.scale * p->filter_scale[0]);
            }
            if (bias) v += bias[oc];
            pixel[oc] = kiln_activate(v, act);
          }
        }
      }
  }
  return NULL;
}

/* -------------------------------------------------- DEPTHWISE_CONV_2D */

kiln_status *kiln_hybrid_depthwise_conv_2d(const kiln_op_ctx *ctx) {
  const kiln_quant_params *p = ctx->quant;
  kiln_q_geom g = kiln_q_forward_geom(ctx);
  const float *in = ctx->inputs[0]->data, *bias = optional_f32(ctx, 2);
  const int8_t *w = ctx->inputs[1]->data;
  float *out = ctx->outputs[0]->data;
  kiln_activation act = conv_activation(ctx);
  int64_t multiplier = g.out_c / g.in_c, image = g.in_h * g.in_w * g.in_c;
  for (int64_t b = 0; b < g.batch; b++) {
    const float *x = in + b * image;
    /* TFLite's hybrid depthwise kernel is per-channel and asymmetric. */
    batch_quant q = asymmetric(x, image);
    for (int64_t oy = 0; oy < g.out_h; oy++)
      for (int64_t ox = 0; ox < g.out_w; ox++)
        for (int64_t oc = 0; oc < g.out_c; oc++) {
          int32_t acc = 0;
          for (int64_t ky = 0; ky < g.k_h; ky++) {
            int64_t iy = oy * g.stride_h - g.pad_top + ky * g.dil_h;
            if (iy < 0 || iy >= g.in_h) continue;
            for (int64_t kx = 0; kx < g.k_w; kx++) {
              int64_t ix = ox * g.stride_w - g.pad_left + kx * g.dil_w;
              if (ix < 0 || ix >= g.in_w) continue;
              float xv = x[(iy * g.in_w + ix) * g.in_c + oc / multiplier];
              acc += w[(ky * g.k_w + kx) * g.out_c + oc] *
                     (quantize(&q, xv) - q.offset);
            }
          }
          float scale = p->filter_scale[p->channels > 1 ? oc : 0];
          float v = (float)acc;
          v *= scale * q.scale;
          if (bias) v += bias[oc];
          *out++ = kiln_activate(v, act);
        }
  }
  return NULL;
}

/* ----------------------------------------------------- TRANSPOSE_CONV */

kiln_status *kiln_hybrid_transpose_conv(const kiln_op_ctx *ctx) {
  const kiln_quant_params *p = ctx->quant;
  const kiln_conv_attrs *a = ctx->attrs;
  const kiln_tensor *f = ctx->inputs[1], *in_t = ctx->inputs[2];
  const kiln_tensor *out_t = ctx->outputs[0];
  const float *in = in_t->data, *bias = optional_f32(ctx, 3);
  const int8_t *w = f->data;
  float *out = out_t->data;
  int64_t batch = in_t->dims[0], in_h = in_t->dims[1], in_w = in_t->dims[2],
          in_c = in_t->dims[3];
  int64_t out_h = out_t->dims[1], out_w = out_t->dims[2],
          out_c = out_t->dims[3];
  int64_t k_h = f->dims[1], k_w = f->dims[2], image = in_h * in_w * in_c;
  int64_t pad_top = kiln_q_transpose_pad(out_h, k_h, a->stride_h, a->padding);
  int64_t pad_left = kiln_q_transpose_pad(out_w, k_w, a->stride_w, a->padding);
  for (int64_t b = 0; b < batch; b++) {
    const float *x = in + b * image;
    /* Asymmetric per image, as LiteRT's hybrid transposed convolution
     * (measured: the symmetric form is 0.6% off). */
    batch_quant q = asymmetric(x, image);
    for (int64_t oy = 0; oy < out_h; oy++)
      for (int64_t ox = 0; ox < out_w; ox++)
        for (int64_t oc = 0; oc < out_c; oc++) {
          int32_t acc = 0;
          for (int64_t ky = 0; ky < k_h; ky++) {
            int64_t iy =
                kiln_q_transpose_source(oy, ky, pad_top, a->stride_h, in_h);
            if (iy < 0) continue;
            for (int64_t kx = 0; kx < k_w; kx++) {
              int64_t ix =
                  kiln_q_transpose_source(ox, kx, pad_left, a->stride_w, in_w);
              if (ix < 0) continue;
              const float *xp = x + (iy * in_w + ix) * in_c;
              const int8_t *wp = w + ((oc * k_h + ky) * k_w + kx) * in_c;
              for (int64_t ic = 0; ic < in_c; ic++)
                acc += wp[ic] * (quantize(&q, xp[ic]) - q.offset);
            }
          }
          float scale = p->filter_scale[p->channels > 1 ? oc : 0];
          float v = (float)acc * scale * q.scale;
          if (bias) v += bias[oc];
          *out++ = kiln_activate(v, a->activation);
        }
  }
  return NULL;
}

/* ------------------------------------------------------- BATCH_MATMUL */

/* x float [..., M, K], y constant int8 [..., K, N] (either adjoint): each
 * row of x is quantized on its own, as FULLY_CONNECTED's rows are. */
kiln_status *kiln_hybrid_batch_matmul(const kiln_op_ctx *ctx) {
  const kiln_quant_params *p = ctx->quant;
  const kiln_batch_matmul_attrs *a = ctx->attrs;
  const kiln_tensor *xt = ctx->inputs[0], *yt = ctx->inputs[1];
  kiln_tensor *out_t = ctx->outputs[0];
  int64_t m = a->adj_x ? xt->dims[xt->rank - 1] : xt->dims[xt->rank - 2];
  int64_t k = a->adj_x ? xt->dims[xt->rank - 2] : xt->dims[xt->rank - 1];
  int64_t n = out_t->dims[out_t->rank - 1];
  int64_t x_rs = a->adj_x ? 1 : k, x_cs = a->adj_x ? m : 1;
  int64_t y_rs = a->adj_y ? 1 : n, y_cs = a->adj_y ? k : 1;
  int64_t batches = kiln_tensor_numel(out_t) / (m * n);
  float *out = out_t->data;
  for (int64_t bi = 0; bi < batches; bi++) {
    const float *x =
        (const float *)xt->data + kiln_q_batch_offset(xt, out_t, bi);
    const int8_t *y =
        (const int8_t *)yt->data + kiln_q_batch_offset(yt, out_t, bi);
    for (int64_t r = 0; r < m; r++) {
      const float *row = x + r * x_rs;
      batch_quant q = a->asymmetric_quantize_inputs
                          ? asymmetric_strided(row, k, x_cs)
                          : symmetric_strided(row, k, x_cs);
      float scale = q.scale * p->filter_scale[0];
      for (int64_t c = 0; c < n; c++) {
        int32_t dot = 0, column_sum = 0;
        for (int64_t t = 0; t < k; t++) {
          int32_t w = y[t * y_rs + c * y_cs];
          dot += w * quantize(&q, row[t * x_cs]);
          column_sum += w;
        }
        if (a->asymmetric_quantize_inputs)
          dot = (int32_t)((float)dot - (float)column_sum * (float)q.offset);
        *out++ = 0.0f + (float)dot * scale;
      }
    }
  }
  return NULL;
}

/* ---------------------------------------------------- FULLY_CONNECTED */

kiln_status *kiln_hybrid_fully_connected(const kiln_op_ctx *ctx) {
  const kiln_quant_params *p = ctx->quant;
  const kiln_fully_connected_attrs *a = ctx->attrs;
  const kiln_tensor *wt = ctx->inputs[1];
  const float *in = ctx->inputs[0]->data, *bias = optional_f32(ctx, 2);
  const int8_t *w = wt->data;
  float *out = ctx->outputs[0]->data;
  int64_t units = wt->dims[0], depth = wt->dims[1];
  int64_t rows = kiln_tensor_numel(ctx->inputs[0]) / depth;
  bool per_channel = wt->quant->count > 1;
  for (int64_t r = 0; r < rows; r++) {
    const float *x = in + r * depth;
    batch_quant q = a->asymmetric_quantize_inputs ? asymmetric(x, depth)
                                                  : symmetric(x, depth);
    float row_scale = per_channel ? q.scale : q.scale * p->filter_scale[0];
    for (int64_t o = 0; o < units; o++) {
      const int8_t *wr = w + o * depth;
      int32_t dot = 0;
      for (int64_t k = 0; k < depth; k++) dot += wr[k] * quantize(&q, x[k]);
      /* TFLite subtracts the offset's share in float and truncates. */
      if (a->asymmetric_quantize_inputs)
        dot = (int32_t)((float)dot - (float)p->filter_sum[o] * (float)q.offset);
      float scale = row_scale;
      if (per_channel) scale *= p->filter_scale[o];
      float v = bias ? bias[o] : 0.0f;
      v += (float)dot * scale;
      *out++ = kiln_activate(v, a->activation);
    }
  }
  return NULL;
}
