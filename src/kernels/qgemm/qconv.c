/* qconv.c - int8 CONV_2D (one group) as a GEMM against the filter packed
 * at load (qgemm.h): a 1x1 filter reads the input's pixels in place, a
 * larger one has its windows copied ("im2col"), flipped, per block of
 * output pixels into the thread's scratch. A padded tap is the input's
 * zero point, as in the reference kernel (its bias32 counts it so), so a
 * window's padding is filled with the flipped zero point. */
#include <string.h>

#include "core/alloc.h"
#include "core/threadpool.h"
#include "kernels/qgemm/qgemm.h"
#include "kernels/ref/quant_params.h"

typedef enum window_kind { WINDOW_1X1, WINDOW_KXK } window_kind;

static bool window_matches(const kiln_tensor *f, window_kind window) {
  if (f->rank != 4) return false;
  for (int d = 0; d < 4; d++)
    if (f->dims[d] < 1) return false;
  bool one_by_one = f->dims[1] == 1 && f->dims[2] == 1;
  return window == WINDOW_1X1 ? one_by_one : !one_by_one;
}

static int64_t filter_k(const kiln_tensor *f) {
  return f->dims[1] * f->dims[2] * f->dims[3];
}

static kiln_status *conv_pack(const kiln_qgemm_level *level, window_kind window,
                              const kiln_op_ctx *ctx, const kiln_allocator *a,
                              void **out_packed) {
  *out_packed = NULL;
  /* A residual input (fused ADD) is for the float kernels only. */
  if (ctx->num_inputs > 3 || ctx->num_inputs < 2 || !ctx->inputs[0] ||
      !ctx->inputs[1])
    return NULL;
  const kiln_tensor *in = ctx->inputs[0], *f = ctx->inputs[1];
  if (!window_matches(f, window)) return NULL;
  /* A grouped convolution is not one GEMM. */
  if (in->rank != 4 || in->dims[3] != f->dims[3]) return NULL;
  kiln_quant_params *q;
  KILN_TRY(kiln_qgemm_node_params(KILN_OP_CONV_2D, ctx, a, &q));
  if (!q) return NULL;
  kiln_status *st = kiln_qgemm_pack(
      kiln_qgemm_pick(level, f->dims[0]), f->data, f->dims[0], filter_k(f), q,
      ctx->quant && ctx->quant->fp32_rounding, a, out_packed);
  kiln_free(a, q);
  return st;
}

static bool conv_applies(window_kind window, const kiln_op_ctx *ctx) {
  if (ctx->num_inputs > 3) return false;
  const kiln_tensor *in = ctx->inputs[0], *f = ctx->inputs[1];
  const kiln_tensor *out = ctx->outputs[0];
  return in->dtype == KILN_INT8 && out->dtype == KILN_INT8 && in->rank == 4 &&
         window_matches(f, window) && in->dims[3] == f->dims[3] &&
         kiln_qgemm_packed_fits(ctx->packed, f->dims[0], filter_k(f));
}

bool kiln_q8_conv1x1_applies(const kiln_op_ctx *ctx) {
  return conv_applies(WINDOW_1X1, ctx);
}

bool kiln_q8_conv_applies(const kiln_op_ctx *ctx) {
  return conv_applies(WINDOW_KXK, ctx);
}

size_t kiln_q8_conv_workspace(const kiln_op_ctx *ctx) {
  return kiln_qgemm_workspace(filter_k(ctx->inputs[1]));
}

/* A 1x1 window has one tap, so neither padding nor dilation changes which
 * pixel is read: only the strides do. */
kiln_status *kiln_q8_conv1x1_run(const kiln_op_ctx *ctx) {
  if (!kiln_threadpool_scratch(ctx->pool, 0)) return kiln_ref_conv_2d(ctx);
  const kiln_conv_attrs *attrs = ctx->attrs;
  const kiln_tensor *in = ctx->inputs[0], *out = ctx->outputs[0];
  int64_t w = in->dims[2], c = in->dims[3];
  const kiln_qgemm_header *h = ctx->packed;
  kiln_qgemm_rows rows = {
      .a = in->data, .flip = h->kernel->flip, .k = c, .group_div = 1};
  int64_t m = out->dims[0] * out->dims[1] * out->dims[2];
  if (attrs->stride_h == 1 && attrs->stride_w == 1) {
    rows.rows = m;
    rows.row_stride = c;
  } else {
    /* One group per output row (batch b, row y), reading every
     * stride_w-th pixel of input row y * stride_h. */
    rows.rows = out->dims[2];
    rows.row_stride = attrs->stride_w * c;
    rows.group_div = out->dims[1];
    rows.group_hi = in->dims[1] * w * c;
    rows.group_lo = attrs->stride_h * w * c;
  }
  kiln_qgemm_compute(ctx->packed, m, kiln_qgemm_fill_rows, &rows, out->data,
                     ctx->pool);
  return NULL;
}

/* What building a window needs. */
typedef struct window_source {
  const int8_t *in;
  kiln_qgemm_flip_fn flip;
  int64_t in_h, in_w, in_c, out_h, out_w, k_h, k_w, k;
  int64_t stride_h, stride_w, dil_h, dil_w, pad_top, pad_left;
  uint8_t pad; /* the input zero point, flipped */
} window_source;

/* The window of output pixel (b, oy, ox), k bytes then zeros to kp. */
static void fill_window(const window_source *s, int64_t b, int64_t oy,
                        int64_t ox, uint8_t *d) {
  const int64_t c = s->in_c, row_len = s->k_w * c;
  const int64_t y0 = oy * s->stride_h - s->pad_top;
  const int64_t x0 = ox * s->stride_w - s->pad_left;
  const int8_t *image = s->in + b * s->in_h * s->in_w * c;
  const bool inside_x = s->dil_w == 1 && x0 >= 0 && x0 + s->k_w <= s->in_w;
  for (int64_t ky = 0; ky < s->k_h; ky++, d += row_len) {
    int64_t iy = y0 + ky * s->dil_h;
    if (iy < 0 || iy >= s->in_h) {
      memset(d, s->pad, (size_t)row_len);
      continue;
    }
    const int8_t *row = image + iy * s->in_w * c;
    if (inside_x) {
      s->flip(d, row + x0 * c, row_len);
      continue;
    }
    for (int64_t kx = 0; kx < s->k_w; kx++) {
      int64_t ix = x0 + kx * s->dil_w;
      if (ix < 0 || ix >= s->in_w)
        memset(d + kx * c, s->pad, (size_t)c);
      else
        s->flip(d + kx * c, row + ix * c, c);
    }
  }
  for (int64_t i = s->k; i < ((s->k + 3) & ~(int64_t)3); i++) *d++ = 0;
}

static void fill_windows(const void *source, int64_t r0, int64_t rows,
                         uint8_t *dst, int64_t stride) {
  const window_source *s = source;
  int64_t ox = r0 % s->out_w, rest = r0 / s->out_w;
  int64_t oy = rest % s->out_h, b = rest / s->out_h;
  for (int64_t r = 0; r < rows; r++, dst += stride) {
    fill_window(s, b, oy, ox, dst);
    if (++ox < s->out_w) continue;
    ox = 0;
    if (++oy < s->out_h) continue;
    oy = 0;
    b++;
  }
}

kiln_status *kiln_q8_conv_run(const kiln_op_ctx *ctx) {
  if (!kiln_threadpool_scratch(ctx->pool, 0)) return kiln_ref_conv_2d(ctx);
  const kiln_conv_attrs *attrs = ctx->attrs;
  const kiln_tensor *in = ctx->inputs[0], *f = ctx->inputs[1];
  const kiln_tensor *out = ctx->outputs[0];
  window_source s = {
      .in = in->data,
      .flip = ((const kiln_qgemm_header *)ctx->packed)->kernel->flip,
      .in_h = in->dims[1],
      .in_w = in->dims[2],
      .in_c = in->dims[3],
      .out_h = out->dims[1],
      .out_w = out->dims[2],
      .k_h = f->dims[1],
      .k_w = f->dims[2],
      .k = filter_k(f),
      .stride_h = attrs->stride_h,
      .stride_w = attrs->stride_w,
      .dil_h = attrs->dilation_h,
      .dil_w = attrs->dilation_w,
      .pad =
          (uint8_t)(((const kiln_qgemm_header *)ctx->packed)->input_zp ^ 0x80),
  };
  s.pad_top = kiln_window_pad_before(s.in_h, s.out_h, s.k_h, s.stride_h,
                                     s.dil_h, attrs->padding);
  s.pad_left = kiln_window_pad_before(s.in_w, s.out_w, s.k_w, s.stride_w,
                                      s.dil_w, attrs->padding);
  int64_t m = out->dims[0] * s.out_h * s.out_w;
  kiln_qgemm_compute(ctx->packed, m, fill_windows, &s, out->data, ctx->pool);
  return NULL;
}

#define DEFINE_PACK(isa)                                                       \
  kiln_status *kiln_q8_conv1x1_pack_##isa(                                     \
      const kiln_op_ctx *ctx, const kiln_allocator *a, void **out_packed) {    \
    return conv_pack(&kiln_qgemm_level_##isa, WINDOW_1X1, ctx, a, out_packed); \
  }                                                                            \
  kiln_status *kiln_q8_conv_pack_##isa(                                        \
      const kiln_op_ctx *ctx, const kiln_allocator *a, void **out_packed) {    \
    return conv_pack(&kiln_qgemm_level_##isa, WINDOW_KXK, ctx, a, out_packed); \
  }

DEFINE_PACK(portable)
#if defined(__x86_64__)
DEFINE_PACK(avx2)
DEFINE_PACK(avx512vnni)
#endif
