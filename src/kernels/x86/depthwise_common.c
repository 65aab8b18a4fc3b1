/* depthwise_common.c - node checks, weight packing, geometry for DWCONV. */
#include <string.h>

#include "kernels/epilogue.h"
#include "kernels/x86/depthwise_load.h"
#include "kernels/x86/x86_kernels.h"

/* What every DEPTHWISE_CONV_2D variant shares: which nodes it takes, the
 * channel-blocked weight packing and the window geometry. */

/* The shared checks with float32 data and bias, and an activation the
 * kernels clamp with or the epilogue computes. */
static bool node_fits(const kiln_op_ctx *ctx) {
  const kiln_conv_attrs *a = ctx->attrs;
  return kiln_dw_node_fits(ctx, KILN_FLOAT32, KILN_FLOAT32) &&
         kiln_f32_activation_rows_supports(a->activation);
}

/* Packs the node's constant filter and bias when it suits `kind`; leaves
 * *out NULL otherwise so the next variant in the list may try. */
static kiln_status *dw_pack(const kiln_op_ctx *ctx, const kiln_allocator *al,
                            void **out, kiln_dw_kind kind, int block) {
  *out = NULL;
  if (!node_fits(ctx) || !kiln_dw_kind_fits(ctx, kind)) return NULL;
  const kiln_tensor *f = ctx->inputs[1];
  const kiln_tensor *b = ctx->num_inputs == 3 ? ctx->inputs[2] : NULL;
  if (!f->data || (b && !b->data)) return NULL; /* weights not constant */
  int64_t c = f->dims[3], taps = f->dims[1] * f->dims[2];
  int64_t blocks = (c + block - 1) / block;
  size_t floats = (size_t)(blocks * (1 + taps) * block), offset = 0;
  kiln_dw_packed *p = kiln_dw_alloc_packed(al, sizeof(kiln_dw_packed),
                                           floats * sizeof(float), &offset);
  if (!p) return KILN_OOM();
  p->channels = c;
  p->kh = (int32_t)f->dims[1];
  p->kw = (int32_t)f->dims[2];
  p->block = block;
  p->kind = kind;
  p->offset = offset;
  float *w = (float *)(void *)((char *)p + offset);
  const float *filter = f->data, *bias = b ? b->data : NULL;
  for (int64_t cb = 0; cb < blocks; cb++) {
    float *dst = w + cb * (1 + taps) * block;
    for (int64_t l = 0; l < block && cb * block + l < c; l++) {
      int64_t ch = cb * block + l;
      dst[l] = bias ? bias[ch] : 0.0f;
      for (int64_t t = 0; t < taps; t++)
        dst[(1 + t) * block + l] = filter[t * c + ch]; /* [1,KH,KW,C] */
    }
  }
  *out = p;
  return NULL;
}

bool kiln_f32_dwconv_applies(const kiln_op_ctx *ctx) {
  const kiln_dw_packed *p = ctx->packed;
  if (!p || !node_fits(ctx) || !kiln_dw_kind_fits(ctx, p->kind)) return false;
  const kiln_tensor *f = ctx->inputs[1], *out = ctx->outputs[0];
  if (p->channels != f->dims[3] || p->kh != f->dims[1] || p->kw != f->dims[2])
    return false;
  return out->dtype == KILN_FLOAT32 && out->rank == 4 &&
         out->dims[0] == ctx->inputs[0]->dims[0] && out->dims[3] == p->channels;
}

void kiln_dw_geometry(const kiln_op_ctx *ctx, kiln_dw_geom *g) {
  const kiln_conv_attrs *a = ctx->attrs;
  const kiln_tensor *in = ctx->inputs[0], *f = ctx->inputs[1];
  const kiln_tensor *out = ctx->outputs[0];
  memset(g, 0, sizeof *g);
  g->batch = in->dims[0];
  g->in_h = in->dims[1];
  g->in_w = in->dims[2];
  g->channels = in->dims[3];
  g->out_h = out->dims[1];
  g->out_w = out->dims[2];
  g->kh = f->dims[1];
  g->kw = f->dims[2];
  g->stride_h = a->stride_h;
  g->stride_w = a->stride_w;
  g->dil_h = a->dilation_h;
  g->dil_w = a->dilation_w;
  g->pad_top = kiln_window_pad_before(g->in_h, g->out_h, g->kh, g->stride_h,
                                      g->dil_h, a->padding);
  g->pad_left = kiln_window_pad_before(g->in_w, g->out_w, g->kw, g->stride_w,
                                       g->dil_w, a->padding);
  /* Interior columns: ox * stride - pad_left >= 0 and the last tap
   * ox * stride - pad_left + (kw - 1) * dil <= in_w - 1. */
  int64_t lo = (g->pad_left + g->stride_w - 1) / g->stride_w;
  int64_t last = g->in_w - 1 - (g->kw - 1) * g->dil_w + g->pad_left;
  int64_t hi = last >= 0 ? last / g->stride_w + 1 : 0;
  if (lo > g->out_w) lo = g->out_w;
  if (hi > g->out_w) hi = g->out_w;
  if (hi < lo) hi = lo;
  g->ox_lo = lo;
  g->ox_hi = hi;
  kiln_activation_bounds(a->activation, &g->act_lo, &g->act_hi);
  g->epilogue =
      kiln_activation_is_clamp(a->activation) ? KILN_ACT_NONE : a->activation;
}

/* One packer per variant: the kind it specializes, and blocks of its
 * instruction set's vector width. */
#define DW_PACKER(kind, isa, KIND, ISA)                                     \
  kiln_status *kiln_f32_dwconv_##kind##__##isa##_pack(                      \
      const kiln_op_ctx *ctx, const kiln_allocator *a, void **out_packed) { \
    return dw_pack(ctx, a, out_packed, KILN_DW_##KIND,                      \
                   KILN_DW_BLOCK(KILN_ISA_##ISA));                          \
  }
DW_PACKER(3x3s1, avx512, 3X3S1, AVX512)
DW_PACKER(3x3s2, avx512, 3X3S2, AVX512)
DW_PACKER(5x5s1, avx512, 5X5S1, AVX512)
DW_PACKER(5x5s2, avx512, 5X5S2, AVX512)
DW_PACKER(generic, avx512, GENERIC, AVX512)
DW_PACKER(3x3s1, avx2, 3X3S1, AVX2)
DW_PACKER(3x3s2, avx2, 3X3S2, AVX2)
DW_PACKER(5x5s1, avx2, 5X5S1, AVX2)
DW_PACKER(5x5s2, avx2, 5X5S2, AVX2)
DW_PACKER(generic, avx2, GENERIC, AVX2)
DW_PACKER(generic, portable, GENERIC, PORTABLE)
#undef DW_PACKER

/* The portable 3x3 variant takes both strides 1 and 2 (and dilation 1). */
kiln_status *kiln_f32_dwconv_3x3__portable_pack(const kiln_op_ctx *ctx,
                                                const kiln_allocator *a,
                                                void **out_packed) {
  *out_packed = NULL;
  if (!node_fits(ctx)) return NULL;
  const kiln_conv_attrs *attrs = ctx->attrs;
  kiln_dw_kind kind = attrs->stride_h == 2 ? KILN_DW_3X3S2 : KILN_DW_3X3S1;
  return dw_pack(ctx, a, out_packed, kind, KILN_DW_BLOCK(KILN_ISA_PORTABLE));
}
