/* quant_bottleneck.c - the int8 FUSED_BOTTLENECK (op_attrs.h with
 * `quantized`, made by passes/fuse_qbottleneck.c): its shape function and
 * its reference kernel, to which ref/bottleneck.c hands quantized nodes.
 *
 * The reference computes each stage as the int8 reference operators do:
 * an int32 sum of (input - input zero point) * weight plus the bias,
 * wrapping as TFLite's accumulator does (the same sum, modulo 2^32, as
 * the operators' folded form), TFLite's double-rounding requantization
 * with the multiplier of input scale * weight scale / output scale, the
 * output zero point and the activation's clamp. A padded depthwise tap
 * reads the zero point, so it adds nothing. Having no scratch, it
 * recomputes expanded values for every window tap and depthwise values
 * for every block of output channels, and derives each multiplier when it
 * needs it: slow, plain, and allocation-free. */
#include <stdio.h>

#include "kernels/bottleneck/qbottleneck.h"
#include "kernels/ref/quant_math.h"
#include "kernels/ref/quant_ops.h"

static const char *const names[KILN_BOTTLENECK_INPUTS + 1] = {
    "input",          "expand filter",  "expand bias",  "depthwise filter",
    "depthwise bias", "project filter", "project bias", "residual",
};

static const kiln_tensor *input(const kiln_op_ctx *ctx, int i) {
  return i < ctx->num_inputs ? ctx->inputs[i] : NULL;
}

/* Input i of `dtype` and shaped `dims` (-1: any positive size); int8
 * tensors quantized (weights per tensor or per channel of dimension
 * `axis` with `channels` entries; activations per tensor). */
static kiln_status *check(const kiln_op_ctx *ctx, int i, kiln_dtype dtype,
                          int rank, const int64_t *dims, int axis,
                          int64_t channels) {
  char role[48], got[KILN_DIMS_STR_SIZE], want[KILN_DIMS_STR_SIZE];
  snprintf(role, sizeof role, "input %d (%s)", i, names[i]);
  const kiln_tensor *t = ctx->inputs[i];
  KILN_TRY(kiln_require_dtype(t, dtype, role));
  bool ok = t->rank == rank;
  for (int d = 0; ok && d < rank; d++)
    ok = dims[d] < 0 ? t->dims[d] > 0 : t->dims[d] == dims[d];
  if (!ok)
    return kiln_error(KILN_ERR_INVALID_MODEL, "%s has shape %s; expected %s",
                      role, kiln_dims_str(t->dims, t->rank, got, sizeof got),
                      kiln_dims_str(dims, rank, want, sizeof want));
  if (dtype != KILN_INT8) return NULL;
  const kiln_quant_info *q = t->quant;
  if (!q || q->count < 1 || !q->scale || !q->zero_point)
    return kiln_error(KILN_ERR_INVALID_MODEL, "%s has no quantization", role);
  if (q->count != 1 && (axis < 0 || q->count != channels || q->axis != axis))
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%s has %lld scales along axis %lld; expected 1%s", role,
                      (long long)q->count, (long long)q->axis,
                      axis < 0 ? "" : " or one per channel");
  for (int64_t c = 0; c < q->count; c++) {
    if (!(q->scale[c] > 0.0f) || q->scale[c] > 1e30f)
      return kiln_error(KILN_ERR_INVALID_MODEL, "%s has scale %g", role,
                        (double)q->scale[c]);
    if (axis >= 0 ? q->zero_point[c] != 0
                  : q->zero_point[c] < -128 || q->zero_point[c] > 127)
      return kiln_error(KILN_ERR_INVALID_MODEL, "%s has zero point %lld", role,
                        (long long)q->zero_point[c]);
  }
  if (axis >= 0 && !t->data)
    return kiln_error(KILN_ERR_UNSUPPORTED, "%s must be a constant", role);
  return NULL;
}

static kiln_status *check_bias(const kiln_op_ctx *ctx, int i, int64_t n) {
  if (!input(ctx, i)) return NULL;
  KILN_TRY(check(ctx, i, KILN_INT32, 1, (int64_t[]){n}, -1, 0));
  if (ctx->inputs[i]->data) return NULL;
  return kiln_error(KILN_ERR_UNSUPPORTED, "input %d (%s) must be a constant", i,
                    names[i]);
}

static kiln_status *check_stage_quant(float scale, int32_t zp,
                                      const char *what) {
  if (scale > 0.0f && scale < 1e30f && zp >= -128 && zp <= 127) return NULL;
  return kiln_error(KILN_ERR_INVALID_MODEL,
                    "the %s tensor's quantization (scale %g, zero point %d) "
                    "is not a valid int8 one",
                    what, (double)scale, (int)zp);
}

kiln_status *kiln_shape_fused_qbottleneck(const kiln_op_ctx *ctx) {
  const kiln_bottleneck_attrs *a = ctx->attrs;
  const kiln_conv_attrs *dw = &a->depthwise;
  int inputs = KILN_BOTTLENECK_INPUTS + (a->residual ? 1 : 0);
  KILN_TRY(kiln_check_arity(ctx, inputs, inputs, 1));
  KILN_TRY(kiln_check_window_attrs(dw->padding, dw->stride_h, dw->stride_w,
                                   dw->activation));
  if (dw->dilation_h < 1 || dw->dilation_w < 1)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "dilation %dx%d must be at least 1x1", dw->dilation_h,
                      dw->dilation_w);
  if (dw->depth_multiplier != 0 && dw->depth_multiplier != 1)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "depth_multiplier %d: the fused depthwise stage takes 1",
                      dw->depth_multiplier);
  KILN_TRY(kiln_require_input(ctx, KILN_BOTTLENECK_X, names[0]));
  KILN_TRY(kiln_require_input(ctx, KILN_BOTTLENECK_DW_W,
                              names[KILN_BOTTLENECK_DW_W]));
  KILN_TRY(kiln_require_input(ctx, KILN_BOTTLENECK_PROJECT_W,
                              names[KILN_BOTTLENECK_PROJECT_W]));
  KILN_TRY(check(ctx, KILN_BOTTLENECK_X, KILN_INT8, 4,
                 (int64_t[]){-1, -1, -1, -1}, -1, 0));
  const kiln_tensor *x = ctx->inputs[KILN_BOTTLENECK_X];
  int64_t c = x->dims[3], m = c;
  if (input(ctx, KILN_BOTTLENECK_EXPAND_W)) {
    m = ctx->inputs[KILN_BOTTLENECK_EXPAND_W]->dims[0];
    KILN_TRY(check(ctx, KILN_BOTTLENECK_EXPAND_W, KILN_INT8, 4,
                   (int64_t[]){-1, 1, 1, c}, 0, m));
    KILN_TRY(check_bias(ctx, KILN_BOTTLENECK_EXPAND_B, m));
    KILN_TRY(check_stage_quant(a->expanded_scale, a->expanded_zp, "expanded"));
  } else if (input(ctx, KILN_BOTTLENECK_EXPAND_B)) {
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 2 (expand bias) is given without input 1 "
                      "(expand filter)");
  }
  KILN_TRY(check(ctx, KILN_BOTTLENECK_DW_W, KILN_INT8, 4,
                 (int64_t[]){1, -1, -1, m}, 3, m));
  KILN_TRY(check_bias(ctx, KILN_BOTTLENECK_DW_B, m));
  KILN_TRY(check_stage_quant(a->depthwise_scale, a->depthwise_zp, "depthwise"));
  int64_t o = ctx->inputs[KILN_BOTTLENECK_PROJECT_W]->dims[0];
  KILN_TRY(check(ctx, KILN_BOTTLENECK_PROJECT_W, KILN_INT8, 4,
                 (int64_t[]){-1, 1, 1, m}, 0, o));
  KILN_TRY(check_bias(ctx, KILN_BOTTLENECK_PROJECT_B, o));
  const kiln_tensor *dw_w = ctx->inputs[KILN_BOTTLENECK_DW_W];
  int64_t dims[4] = {x->dims[0], 0, 0, o};
  KILN_TRY(kiln_window_out_size(x, 1, dw_w->dims[1], dw->stride_h,
                                dw->dilation_h, dw->padding, &dims[1]));
  KILN_TRY(kiln_window_out_size(x, 2, dw_w->dims[2], dw->stride_w,
                                dw->dilation_w, dw->padding, &dims[2]));
  if (a->residual) {
    /* The residual ADD adds the block's input to the project's output:
     * same shape, no broadcasting. */
    KILN_TRY(kiln_require_input(ctx, KILN_BOTTLENECK_RESIDUAL,
                                names[KILN_BOTTLENECK_RESIDUAL]));
    KILN_TRY(check(ctx, KILN_BOTTLENECK_RESIDUAL, KILN_INT8, 4, dims, -1, 0));
    KILN_TRY(check_stage_quant(a->project_scale, a->project_zp, "project"));
  }
  kiln_tensor *out = ctx->outputs[0];
  KILN_TRY(kiln_require_dtype(out, KILN_INT8, "output 0"));
  const kiln_quant_info *q = out->quant;
  if (!q || q->count != 1 || !q->scale || !q->zero_point ||
      !(q->scale[0] > 0.0f) || q->zero_point[0] < -128 ||
      q->zero_point[0] > 127)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "output 0 has no per-tensor int8 quantization");
  /* Every clamp must have an integer form at its stage's scale. */
  int32_t lo, hi;
  KILN_TRY(kiln_quant_activation_range(a->expand_activation, KILN_INT8,
                                       a->expanded_scale, a->expanded_zp, &lo,
                                       &hi));
  KILN_TRY(kiln_quant_activation_range(dw->activation, KILN_INT8,
                                       a->depthwise_scale, a->depthwise_zp, &lo,
                                       &hi));
  float y_scale = a->residual ? a->project_scale : q->scale[0];
  int32_t y_zp = a->residual ? a->project_zp : (int32_t)q->zero_point[0];
  KILN_TRY(kiln_quant_activation_range(a->project_activation, KILN_INT8,
                                       y_scale, y_zp, &lo, &hi));
  if (a->residual)
    KILN_TRY(kiln_quant_activation_range(a->residual_activation, KILN_INT8,
                                         q->scale[0], (int32_t)q->zero_point[0],
                                         &lo, &hi));
  kiln_set_shape(out, dims, 4);
  return NULL;
}

/* ------------------------------------------------------ the reference */

/* One 1x1 or depthwise stage. */
typedef struct stage {
  const int8_t *w;
  const int32_t *bias; /* NULL when omitted */
  const kiln_quant_info *wq;
  float in_scale, out_scale;
  int32_t in_zp, out_zp, lo, hi;
} stage;

static void make_stage(stage *s, const kiln_tensor *w, const kiln_tensor *b,
                       float in_scale, int32_t in_zp, float out_scale,
                       int32_t out_zp, kiln_activation act) {
  s->w = w->data;
  s->bias = b ? b->data : NULL;
  s->wq = w->quant;
  s->in_scale = in_scale;
  s->in_zp = in_zp;
  s->out_scale = out_scale;
  s->out_zp = out_zp;
  /* The shape function checked that the clamp exists. */
  if (kiln_quant_activation_range(act, KILN_INT8, out_scale, out_zp, &s->lo,
                                  &s->hi))
    s->lo = -128, s->hi = 127;
}

/* Channel ch's int8 result of the int32 sum `acc` (bias not yet in). */
static int8_t requantize(const stage *s, int64_t ch, uint32_t acc) {
  if (s->bias) acc += (uint32_t)s->bias[ch];
  double filter_scale = s->wq->scale[s->wq->count > 1 ? ch : 0];
  double real = (double)s->in_scale * filter_scale / (double)s->out_scale;
  int32_t mult;
  int shift;
  kiln_quantize_multiplier(real, &mult, &shift);
  int32_t v = kiln_mul_by_quantized_multiplier((int32_t)acc, mult, shift);
  v = (int32_t)((uint32_t)v + (uint32_t)s->out_zp);
  return (int8_t)(v < s->lo ? s->lo : (v > s->hi ? s->hi : v));
}

typedef struct geom {
  int64_t in_h, in_w, in_c, mid_c, out_h, out_w, out_c, kh, kw;
  int64_t pad_top, pad_left;
  int sh, sw, dh, dw;
} geom;

/* Mid channel m of input pixel px, expanded (or the pixel itself). */
static int8_t expanded(const stage *e, const int8_t *px, int64_t c, int64_t m) {
  if (!e) return px[m];
  uint32_t acc = 0;
  for (int64_t i = 0; i < c; i++)
    acc += (uint32_t)(((int32_t)px[i] - e->in_zp) * e->w[m * c + i]);
  return requantize(e, m, acc);
}

/* Depthwise value of mid channel m at output pixel (oy, ox) of image x. */
static int8_t depthwise(const geom *g, const stage *e, const stage *d,
                        const int8_t *x, int64_t oy, int64_t ox, int64_t m) {
  uint32_t acc = 0;
  for (int64_t ky = 0; ky < g->kh; ky++) {
    int64_t iy = oy * g->sh - g->pad_top + ky * g->dh;
    if (iy < 0 || iy >= g->in_h) continue;
    for (int64_t kx = 0; kx < g->kw; kx++) {
      int64_t ix = ox * g->sw - g->pad_left + kx * g->dw;
      if (ix < 0 || ix >= g->in_w) continue;
      int8_t v = expanded(e, x + (iy * g->in_w + ix) * g->in_c, g->in_c, m);
      acc += (uint32_t)(((int32_t)v - d->in_zp) *
                        d->w[(ky * g->kw + kx) * g->mid_c + m]);
    }
  }
  return requantize(d, m, acc);
}

/* The residual ADD on a run of n output channels, by the int8 ADD's
 * reference kernel on tensors of n values: the project's values (in
 * place, at the project's quantization) and the residual's at the same
 * offset become the output's. */
typedef struct residual_add {
  kiln_quant_info yq;
  float y_scale;
  int64_t y_zp;
  kiln_activation_attrs act;
  bool residual_first;
  const kiln_tensor *residual, *out;
} residual_add;

static void residual_init(residual_add *r, const kiln_bottleneck_attrs *a,
                          const kiln_tensor *residual, const kiln_tensor *out) {
  r->y_scale = a->project_scale;
  r->y_zp = a->project_zp;
  r->yq = (kiln_quant_info){1, &r->y_scale, &r->y_zp, 0};
  r->act.activation = a->residual_activation;
  r->residual_first = a->residual_first;
  r->residual = residual;
  r->out = out;
}

static kiln_status *residual_run(const residual_add *r, int8_t *y, int64_t at,
                                 int64_t n) {
  kiln_tensor yt = {.dtype = KILN_INT8, .rank = 1, .dims = {n}};
  kiln_tensor rt = yt, ot = yt;
  yt.data = y;
  yt.quant = &r->yq;
  rt.data = (int8_t *)r->residual->data + at;
  rt.quant = r->residual->quant;
  ot.data = y;
  ot.quant = r->out->quant;
  kiln_tensor *ins[2] = {r->residual_first ? &rt : &yt,
                         r->residual_first ? &yt : &rt};
  kiln_tensor *outs[1] = {&ot};
  kiln_op_ctx c = {.attrs = &r->act,
                   .inputs = ins,
                   .num_inputs = 2,
                   .outputs = outs,
                   .num_outputs = 1};
  return kiln_qref_binary(&c, KILN_QB_ADD);
}

/* Output channels in blocks of this many int32 sums on the stack. */
enum { OUT_BLOCK = 64 };

kiln_status *kiln_ref_fused_qbottleneck(const kiln_op_ctx *ctx) {
  const kiln_bottleneck_attrs *a = ctx->attrs;
  const kiln_conv_attrs *d = &a->depthwise;
  const kiln_tensor *x = ctx->inputs[KILN_BOTTLENECK_X],
                    *ew = input(ctx, KILN_BOTTLENECK_EXPAND_W),
                    *dw_w = ctx->inputs[KILN_BOTTLENECK_DW_W],
                    *pw = ctx->inputs[KILN_BOTTLENECK_PROJECT_W];
  const kiln_tensor *out = ctx->outputs[0];
  float x_scale = x->quant->scale[0];
  int32_t x_zp = (int32_t)x->quant->zero_point[0];
  stage e, dws, p;
  if (ew)
    make_stage(&e, ew, input(ctx, KILN_BOTTLENECK_EXPAND_B), x_scale, x_zp,
               a->expanded_scale, a->expanded_zp, a->expand_activation);
  float mid_scale = ew ? a->expanded_scale : x_scale;
  int32_t mid_zp = ew ? a->expanded_zp : x_zp;
  make_stage(&dws, dw_w, input(ctx, KILN_BOTTLENECK_DW_B), mid_scale, mid_zp,
             a->depthwise_scale, a->depthwise_zp, d->activation);
  float y_scale = a->residual ? a->project_scale : out->quant->scale[0];
  int32_t y_zp =
      a->residual ? a->project_zp : (int32_t)out->quant->zero_point[0];
  make_stage(&p, pw, input(ctx, KILN_BOTTLENECK_PROJECT_B), a->depthwise_scale,
             a->depthwise_zp, y_scale, y_zp, a->project_activation);
  residual_add add;
  if (a->residual)
    residual_init(&add, a, ctx->inputs[KILN_BOTTLENECK_RESIDUAL], out);
  geom g = {.in_h = x->dims[1],
            .in_w = x->dims[2],
            .in_c = x->dims[3],
            .mid_c = dw_w->dims[3],
            .out_h = out->dims[1],
            .out_w = out->dims[2],
            .out_c = out->dims[3],
            .kh = dw_w->dims[1],
            .kw = dw_w->dims[2],
            .sh = d->stride_h,
            .sw = d->stride_w,
            .dh = d->dilation_h,
            .dw = d->dilation_w};
  g.pad_top =
      kiln_window_pad_before(g.in_h, g.out_h, g.kh, g.sh, g.dh, d->padding);
  g.pad_left =
      kiln_window_pad_before(g.in_w, g.out_w, g.kw, g.sw, g.dw, d->padding);
  const int8_t *xd = x->data;
  int8_t *y = out->data;
  for (int64_t b = 0; b < x->dims[0]; b++) {
    const int8_t *image = xd + b * g.in_h * g.in_w * g.in_c;
    for (int64_t oy = 0; oy < g.out_h; oy++)
      for (int64_t ox = 0; ox < g.out_w; ox++, y += g.out_c)
        for (int64_t o0 = 0; o0 < g.out_c; o0 += OUT_BLOCK) {
          int64_t o1 = g.out_c - o0 < OUT_BLOCK ? g.out_c : o0 + OUT_BLOCK;
          uint32_t acc[OUT_BLOCK] = {0};
          for (int64_t m = 0; m < g.mid_c; m++) {
            int32_t v =
                depthwise(&g, ew ? &e : NULL, &dws, image, oy, ox, m) - p.in_zp;
            for (int64_t o = o0; o < o1; o++)
              acc[o - o0] += (uint32_t)(v * p.w[o * g.mid_c + m]);
          }
          for (int64_t o = o0; o < o1; o++)
            y[o] = requantize(&p, o, acc[o - o0]);
          if (a->residual) {
            int64_t at = y - (int8_t *)out->data + o0;
            KILN_TRY(residual_run(&add, y + o0, at, o1 - o0));
          }
        }
  }
  return NULL;
}
