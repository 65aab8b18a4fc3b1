/* qdw_pack.c - which int8 DEPTHWISE_CONV_2D nodes the qdw variants take,
 * their weight packing at load, and the check at prepare that the node's
 * quantization block has the form the kernels compute. */
#include "kernels/qdw/qdw.h"
#include "kernels/ref/quant_params.h"
#include "kernels/x86/depthwise_load.h"

/* The shared checks with int8 data and an int32 bias, and an int8 output
 * (the kernels narrow to it). */
static bool node_fits(const kiln_op_ctx *ctx) {
  return kiln_dw_node_fits(ctx, KILN_INT8, KILN_INT32) &&
         ctx->outputs[0]->dtype == KILN_INT8;
}

/* Packs the constant filter when the node suits `kind`; leaves *out NULL
 * otherwise so the next variant in the list may try. */
static kiln_status *qdw_pack(const kiln_op_ctx *ctx, const kiln_allocator *al,
                             void **out, kiln_dw_kind kind, int block,
                             bool pair16) {
  *out = NULL;
  if (!node_fits(ctx) || !kiln_dw_kind_fits(ctx, kind)) return NULL;
  const kiln_tensor *f = ctx->inputs[1];
  if (!f->data) return NULL; /* weights not constant */
  int64_t c = f->dims[3], taps = f->dims[1] * f->dims[2];
  int64_t blocks = (c + block - 1) / block;
  size_t words = (size_t)(blocks * taps * block), offset = 0;
  kiln_qdw_packed *p = kiln_dw_alloc_packed(al, sizeof(kiln_qdw_packed),
                                            words * sizeof(int32_t), &offset);
  if (!p) return KILN_OOM();
  p->channels = c;
  p->kh = (int32_t)f->dims[1];
  p->kw = (int32_t)f->dims[2];
  p->block = block;
  p->pair16 = pair16;
  p->kind = kind;
  p->offset = offset;
  int32_t *w = (int32_t *)(void *)((char *)p + offset);
  const int8_t *filter = f->data;
  for (int64_t cb = 0; cb < blocks; cb++)
    for (int64_t l = 0; l < block && cb * block + l < c; l++)
      for (int64_t t = 0; t < taps; t++) {
        int8_t v = filter[t * c + cb * block + l]; /* [1,KH,KW,C] */
        w[(cb * taps + t) * block + l] =
            pair16 ? (int32_t)(uint16_t)(int16_t)v : (int32_t)v;
      }
  *out = p;
  return NULL;
}

/* The block the kernels read: int32 sums with the zero point folded
 * (bias32), double rounding, shifts in TFLite's [-31, 30], multipliers
 * that are not negative (so the rounding doubling multiply never meets
 * its INT32_MIN * INT32_MIN case) and a clamp inside int8 (the AVX-512
 * kernels clamp after a saturating narrowing). */
static bool quant_fits(const kiln_quant_params *q, int64_t channels) {
  if (!q || q->hybrid || q->wide_acc || q->single_rounding || !q->bias32 ||
      q->channels != channels || q->input_zp < -128 || q->input_zp > 127 ||
      q->act_min < -128 || q->act_max > 127 || q->act_min > q->act_max)
    return false;
  for (int64_t ch = 0; ch < channels; ch++)
    if (q->multiplier[ch] < 0 || q->shift[ch] < -31 || q->shift[ch] > 30)
      return false;
  return true;
}

bool kiln_q8_dwconv_applies(const kiln_op_ctx *ctx) {
  const kiln_qdw_packed *p = ctx->packed;
  if (!p || !node_fits(ctx) || !kiln_dw_kind_fits(ctx, p->kind)) return false;
  const kiln_tensor *in = ctx->inputs[0], *f = ctx->inputs[1];
  const kiln_tensor *out = ctx->outputs[0];
  if (p->channels != f->dims[3] || p->kh != f->dims[1] || p->kw != f->dims[2])
    return false;
  if (out->rank != 4 || out->dims[0] != in->dims[0] ||
      out->dims[3] != p->channels)
    return false;
  return quant_fits(ctx->quant, p->channels);
}

/* One packer per variant: the kind it specializes and its block. */
#define QDW_PACKER(kind, isa, KIND, BLOCK, PAIR16)                          \
  kiln_status *kiln_q8_dwconv_##kind##__##isa##_pack(                       \
      const kiln_op_ctx *ctx, const kiln_allocator *a, void **out_packed) { \
    return qdw_pack(ctx, a, out_packed, KILN_DW_##KIND, BLOCK, PAIR16);     \
  }
#define QDW_PACKERS(isa, BLOCK, PAIR16)        \
  QDW_PACKER(3x3s1, isa, 3X3S1, BLOCK, PAIR16) \
  QDW_PACKER(3x3s2, isa, 3X3S2, BLOCK, PAIR16) \
  QDW_PACKER(5x5s1, isa, 5X5S1, BLOCK, PAIR16) \
  QDW_PACKER(5x5s2, isa, 5X5S2, BLOCK, PAIR16) \
  QDW_PACKER(generic, isa, GENERIC, BLOCK, PAIR16)
QDW_PACKERS(portable, KILN_QDW_BLOCK(KILN_ISA_PORTABLE), false)
#if defined(__x86_64__)
QDW_PACKERS(avx2, KILN_QDW_BLOCK(KILN_ISA_AVX2), true)
QDW_PACKERS(avx512, KILN_QDW_BLOCK(KILN_ISA_AVX512), true)
QDW_PACKERS(vnni, KILN_QDW_BLOCK(KILN_ISA_AVX512_VNNI), true)
#endif
#undef QDW_PACKERS
#undef QDW_PACKER
