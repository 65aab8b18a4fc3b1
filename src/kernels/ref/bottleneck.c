/* bottleneck.c - FUSED_BOTTLENECK (op_attrs.h): the shape function, the
 * FLOP count and the reference kernel of the [expand ->] depthwise ->
 * project chain that passes/fuse_bottleneck.c makes into one node.
 *
 * The reference has no scratch to hold expanded values, so it recomputes
 * them: each output pixel walks the mid channels, expands the window's
 * input pixels for that channel again, and adds the channel's depthwise
 * value times the project weights into the output pixel. That costs the
 * expand stage once per window tap, but it is plain, and it adds in the
 * order the three reference kernels do, so it matches them exactly. */
#include <stdio.h>

#include "kernels/bottleneck/qbottleneck.h"
#include "kernels/kernel.h"

static const char *const input_names[KILN_BOTTLENECK_INPUTS] = {
    "input",          "expand filter",  "expand bias",  "depthwise filter",
    "depthwise bias", "project filter", "project bias",
};

static const kiln_tensor *optional_input(const kiln_op_ctx *ctx, int i) {
  return i < ctx->num_inputs ? ctx->inputs[i] : NULL;
}

/* Input i, float32 and shaped exactly `dims`; -1 entries take any size. */
static kiln_status *check_shape(const kiln_op_ctx *ctx, int i, int rank,
                                const int64_t *dims) {
  char role[48], got[KILN_DIMS_STR_SIZE], want[KILN_DIMS_STR_SIZE];
  snprintf(role, sizeof role, "input %d (%s)", i, input_names[i]);
  const kiln_tensor *t = ctx->inputs[i];
  KILN_TRY(kiln_require_dtype(t, KILN_FLOAT32, role));
  bool ok = t->rank == rank;
  for (int d = 0; ok && d < rank; d++)
    ok = dims[d] < 0 ? t->dims[d] > 0 : t->dims[d] == dims[d];
  if (ok) return NULL;
  return kiln_error(KILN_ERR_INVALID_MODEL, "%s has shape %s; expected %s",
                    role, kiln_dims_str(t->dims, t->rank, got, sizeof got),
                    kiln_dims_str(dims, rank, want, sizeof want));
}

/* The pass fuses clamps only, which is what the optimized variants apply. */
static kiln_status *check_clamp(kiln_activation act, const char *stage) {
  if (act == KILN_ACT_NONE || act == KILN_ACT_RELU || act == KILN_ACT_RELU6 ||
      act == KILN_ACT_RELU_N1_TO_1)
    return NULL;
  return kiln_error(KILN_ERR_INVALID_MODEL,
                    "%s activation %d is not NONE, RELU, RELU6 or "
                    "RELU_N1_TO_1",
                    stage, (int)act);
}

kiln_status *kiln_shape_fused_bottleneck(const kiln_op_ctx *ctx) {
  const kiln_bottleneck_attrs *a = ctx->attrs;
  if (a->quantized) return kiln_shape_fused_qbottleneck(ctx);
  const kiln_conv_attrs *dw = &a->depthwise;
  KILN_TRY(
      kiln_check_arity(ctx, KILN_BOTTLENECK_INPUTS, KILN_BOTTLENECK_INPUTS, 1));
  KILN_TRY(kiln_check_window_attrs(dw->padding, dw->stride_h, dw->stride_w,
                                   dw->activation));
  if (dw->dilation_h < 1 || dw->dilation_w < 1)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "dilation %dx%d must be at least 1x1", dw->dilation_h,
                      dw->dilation_w);
  KILN_TRY(check_clamp(a->expand_activation, "expand"));
  KILN_TRY(check_clamp(dw->activation, "depthwise"));
  KILN_TRY(check_clamp(a->project_activation, "project"));
  KILN_TRY(
      kiln_require_float_batch_input(ctx, KILN_BOTTLENECK_X, "input", 4, 4));
  KILN_TRY(kiln_require_input(ctx, KILN_BOTTLENECK_DW_W,
                              input_names[KILN_BOTTLENECK_DW_W]));
  KILN_TRY(kiln_require_input(ctx, KILN_BOTTLENECK_PROJECT_W,
                              input_names[KILN_BOTTLENECK_PROJECT_W]));
  const kiln_tensor *x = ctx->inputs[KILN_BOTTLENECK_X];
  int64_t c = x->dims[3], m = c;
  if (ctx->inputs[KILN_BOTTLENECK_EXPAND_W]) {
    m = ctx->inputs[KILN_BOTTLENECK_EXPAND_W]->dims[0];
    KILN_TRY(check_shape(ctx, KILN_BOTTLENECK_EXPAND_W, 4,
                         (int64_t[]){-1, 1, 1, c}));
    if (ctx->inputs[KILN_BOTTLENECK_EXPAND_B])
      KILN_TRY(check_shape(ctx, KILN_BOTTLENECK_EXPAND_B, 1, (int64_t[]){m}));
  } else if (ctx->inputs[KILN_BOTTLENECK_EXPAND_B]) {
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 2 (expand bias) is given without input 1 "
                      "(expand filter)");
  }
  KILN_TRY(
      check_shape(ctx, KILN_BOTTLENECK_DW_W, 4, (int64_t[]){1, -1, -1, m}));
  if (ctx->inputs[KILN_BOTTLENECK_DW_B])
    KILN_TRY(check_shape(ctx, KILN_BOTTLENECK_DW_B, 1, (int64_t[]){m}));
  const kiln_tensor *dw_w = ctx->inputs[KILN_BOTTLENECK_DW_W];
  int64_t o = ctx->inputs[KILN_BOTTLENECK_PROJECT_W]->dims[0];
  KILN_TRY(
      check_shape(ctx, KILN_BOTTLENECK_PROJECT_W, 4, (int64_t[]){-1, 1, 1, m}));
  if (ctx->inputs[KILN_BOTTLENECK_PROJECT_B])
    KILN_TRY(check_shape(ctx, KILN_BOTTLENECK_PROJECT_B, 1, (int64_t[]){o}));
  if (dw->depth_multiplier != 0 && dw->depth_multiplier != 1)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "depth_multiplier %d: the fused depthwise stage takes "
                      "1",
                      dw->depth_multiplier);
  int64_t dims[4] = {x->dims[0], 0, 0, o};
  KILN_TRY(kiln_window_out_size(x, 1, dw_w->dims[1], dw->stride_h,
                                dw->dilation_h, dw->padding, &dims[1]));
  KILN_TRY(kiln_window_out_size(x, 2, dw_w->dims[2], dw->stride_w,
                                dw->dilation_w, dw->padding, &dims[2]));
  kiln_tensor *out = ctx->outputs[0];
  KILN_TRY(kiln_require_dtype(out, KILN_FLOAT32, "output 0"));
  kiln_set_shape(out, dims, 4);
  return NULL;
}

double kiln_flops_fused_bottleneck(const kiln_op_ctx *ctx) {
  if (ctx->num_inputs < KILN_BOTTLENECK_INPUTS ||
      !ctx->inputs[KILN_BOTTLENECK_X] || !ctx->inputs[KILN_BOTTLENECK_DW_W] ||
      !ctx->inputs[KILN_BOTTLENECK_PROJECT_W])
    return 0.0;
  const kiln_tensor *x = ctx->inputs[KILN_BOTTLENECK_X],
                    *dw = ctx->inputs[KILN_BOTTLENECK_DW_W];
  const kiln_tensor *p = ctx->inputs[KILN_BOTTLENECK_PROJECT_W];
  double m = (double)dw->dims[3], o = (double)p->dims[0];
  double in_pixels = (double)kiln_tensor_numel(x) / (double)x->dims[3];
  double out_pixels = (double)kiln_tensor_numel(ctx->outputs[0]) / o;
  double expand =
      ctx->inputs[KILN_BOTTLENECK_EXPAND_W] ? m * (double)x->dims[3] : 0.0;
  return 2.0 * (in_pixels * expand +
                out_pixels * m * (double)dw->dims[1] * (double)dw->dims[2] +
                out_pixels * m * o);
}

/* Sizes of the prepared node; the window's along axis 0 (height) and 1
 * (width). */
typedef struct geom {
  int64_t batch, in_c, mid_c, out_c;
  int64_t in[2], out[2], k[2], pad[2];
  int stride[2], dil[2];
} geom;

/* Mid channel m of the expanded input pixel px (C channels). */
static float expanded(const float *px, const float *w, const float *b,
                      int64_t c, int64_t m, kiln_activation act) {
  if (!w) return px[m];
  float acc = 0.0f;
  for (int64_t i = 0; i < c; i++) acc += px[i] * w[m * c + i];
  if (b) acc += b[m];
  return kiln_activate(acc, act);
}

/* Depthwise value of mid channel m at output pixel (b, oy, ox). */
static float depthwise(const geom *g, const kiln_bottleneck_attrs *a,
                       const float *x, const float *ew, const float *eb,
                       const float *dw, const float *db, int64_t b, int64_t oy,
                       int64_t ox, int64_t m) {
  float acc = 0.0f;
  for (int64_t ky = 0; ky < g->k[0]; ky++) {
    int64_t iy = oy * g->stride[0] - g->pad[0] + ky * g->dil[0];
    if (iy < 0 || iy >= g->in[0]) continue;
    for (int64_t kx = 0; kx < g->k[1]; kx++) {
      int64_t ix = ox * g->stride[1] - g->pad[1] + kx * g->dil[1];
      if (ix < 0 || ix >= g->in[1]) continue;
      const float *px = x + ((b * g->in[0] + iy) * g->in[1] + ix) * g->in_c;
      float e = expanded(px, ew, eb, g->in_c, m, a->expand_activation);
      acc += e * dw[(ky * g->k[1] + kx) * g->mid_c + m];
    }
  }
  if (db) acc += db[m];
  return kiln_activate(acc, a->depthwise.activation);
}

static const float *data_of(const kiln_op_ctx *ctx, int i) {
  const kiln_tensor *t = optional_input(ctx, i);
  return t ? t->data : NULL;
}

kiln_status *kiln_ref_fused_bottleneck(const kiln_op_ctx *ctx) {
  const kiln_bottleneck_attrs *a = ctx->attrs;
  if (a->quantized) return kiln_ref_fused_qbottleneck(ctx);
  const kiln_conv_attrs *d = &a->depthwise;
  const kiln_tensor *x = ctx->inputs[KILN_BOTTLENECK_X],
                    *dw_w = ctx->inputs[KILN_BOTTLENECK_DW_W];
  const kiln_tensor *out = ctx->outputs[0];
  geom g = {.batch = x->dims[0],
            .in_c = x->dims[3],
            .mid_c = dw_w->dims[3],
            .out_c = out->dims[3],
            .stride = {d->stride_h, d->stride_w},
            .dil = {d->dilation_h, d->dilation_w}};
  for (int axis = 0; axis < 2; axis++) {
    g.in[axis] = x->dims[1 + axis];
    g.out[axis] = out->dims[1 + axis];
    g.k[axis] = dw_w->dims[1 + axis];
    g.pad[axis] =
        kiln_window_pad_before(g.in[axis], g.out[axis], g.k[axis],
                               g.stride[axis], g.dil[axis], d->padding);
  }
  const float *xd = x->data, *ew = data_of(ctx, KILN_BOTTLENECK_EXPAND_W),
              *eb = data_of(ctx, KILN_BOTTLENECK_EXPAND_B), *dw = dw_w->data,
              *db = data_of(ctx, KILN_BOTTLENECK_DW_B),
              *pw = data_of(ctx, KILN_BOTTLENECK_PROJECT_W),
              *pb = data_of(ctx, KILN_BOTTLENECK_PROJECT_B);
  float *y = out->data;
  /* The output pixel accumulates the project sums, channel m after m. */
  for (int64_t b = 0; b < g.batch; b++)
    for (int64_t oy = 0; oy < g.out[0]; oy++)
      for (int64_t ox = 0; ox < g.out[1]; ox++) {
        for (int64_t o = 0; o < g.out_c; o++) y[o] = 0.0f;
        for (int64_t m = 0; m < g.mid_c; m++) {
          float v = depthwise(&g, a, xd, ew, eb, dw, db, b, oy, ox, m);
          for (int64_t o = 0; o < g.out_c; o++) y[o] += v * pw[o * g.mid_c + m];
        }
        for (int64_t o = 0; o < g.out_c; o++)
          y[o] = kiln_activate(pb ? y[o] + pb[o] : y[o], a->project_activation);
        y += g.out_c;
      }
  return NULL;
}
