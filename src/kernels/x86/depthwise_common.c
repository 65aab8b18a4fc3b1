/* depthwise_common.c - node checks, weight packing, geometry for DWCONV. */
#include <string.h>

#include "core/alloc.h"
#include "kernels/epilogue.h"
#include "kernels/x86/x86_kernels.h"

/* What every DEPTHWISE_CONV_2D variant shares: which nodes it takes, the
 * channel-blocked weight packing and the window geometry. */

/* The checks that need no weights: float32 NHWC input, a [1,KH,KW,C] filter
 * with depth multiplier 1, an optional [C] bias, sane attributes and an
 * activation the kernels clamp with or the epilogue computes. At load only the
 * constant tensors have data and the shape function has not run, so nothing
 * here may be taken for granted. */
static bool node_fits(const kiln_op_ctx *ctx) {
  const kiln_conv_attrs *a = ctx->attrs;
  if (!a || ctx->num_inputs < 2 || ctx->num_inputs > 3 ||
      ctx->num_outputs != 1 || !ctx->outputs[0])
    return false;
  const kiln_tensor *in = ctx->inputs[0], *f = ctx->inputs[1];
  if (!in || !f || in->dtype != KILN_FLOAT32 || in->rank != 4 ||
      f->dtype != KILN_FLOAT32 || f->rank != 4)
    return false;
  if (f->dims[0] != 1 || f->dims[1] < 1 || f->dims[2] < 1 || f->dims[3] < 1 ||
      in->dims[3] != f->dims[3])
    return false;
  if (a->depth_multiplier != 0 && a->depth_multiplier != 1) return false;
  if (a->padding != KILN_PAD_SAME && a->padding != KILN_PAD_VALID) return false;
  if (a->stride_h < 1 || a->stride_w < 1 || a->dilation_h < 1 ||
      a->dilation_w < 1)
    return false;
  if (!kiln_f32_activation_rows_supports(a->activation)) return false;
  if (ctx->num_inputs == 3 && ctx->inputs[2]) {
    const kiln_tensor *b = ctx->inputs[2];
    if (b->dtype != KILN_FLOAT32 || b->rank != 1 || b->dims[0] != f->dims[3])
      return false;
  }
  return true;
}

static bool kind_fits(const kiln_op_ctx *ctx, kiln_dw_kind kind) {
  const kiln_conv_attrs *a = ctx->attrs;
  const kiln_tensor *f = ctx->inputs[1];
  int k = 0, s = 0;
  switch (kind) {
    case KILN_DW_3X3S1:
      k = 3, s = 1;
      break;
    case KILN_DW_3X3S2:
      k = 3, s = 2;
      break;
    case KILN_DW_5X5S1:
      k = 5, s = 1;
      break;
    case KILN_DW_5X5S2:
      k = 5, s = 2;
      break;
    case KILN_DW_GENERIC:
      return true;
  }
  return f->dims[1] == k && f->dims[2] == k && a->stride_h == s &&
         a->stride_w == s && a->dilation_h == 1 && a->dilation_w == 1;
}

/* Packs the node's constant filter and bias when it suits `kind`; leaves
 * *out NULL otherwise so the next variant in the list may try. */
static kiln_status *dw_pack(const kiln_op_ctx *ctx, const kiln_allocator *al,
                            void **out, kiln_dw_kind kind, int block) {
  *out = NULL;
  if (!node_fits(ctx) || !kind_fits(ctx, kind)) return NULL;
  const kiln_tensor *f = ctx->inputs[1];
  const kiln_tensor *b = ctx->num_inputs == 3 ? ctx->inputs[2] : NULL;
  if (!f->data || (b && !b->data)) return NULL; /* weights not constant */
  int64_t c = f->dims[3], taps = f->dims[1] * f->dims[2];
  int64_t blocks = (c + block - 1) / block;
  size_t header = (sizeof(kiln_dw_packed) + KILN_ALIGNMENT - 1) /
                  KILN_ALIGNMENT * KILN_ALIGNMENT;
  size_t floats = (size_t)(blocks * (1 + taps) * block);
  /* One alignment's slack: the block itself may start anywhere. */
  size_t bytes = header + floats * sizeof(float) + KILN_ALIGNMENT;
  char *mem = kiln_malloc(al, bytes);
  if (!mem) return KILN_OOM();
  kiln_dw_packed *p = (kiln_dw_packed *)(void *)mem;
  uintptr_t start = (uintptr_t)(mem + header);
  start = (start + KILN_ALIGNMENT - 1) & ~(uintptr_t)(KILN_ALIGNMENT - 1);
  p->channels = c;
  p->kh = (int32_t)f->dims[1];
  p->kw = (int32_t)f->dims[2];
  p->block = block;
  p->kind = kind;
  p->offset = (size_t)(start - (uintptr_t)mem);
  float *w = (float *)(void *)(mem + p->offset);
  memset(w, 0, floats * sizeof(float));
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
  if (!p || !node_fits(ctx) || !kind_fits(ctx, p->kind)) return false;
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
