/* qdw.h - int8 DEPTHWISE_CONV_2D variants: int8 activations, int8 weights
 * (per-channel or per-tensor, zero point 0), int32 bias and depth
 * multiplier 1, on channel blocks of weights packed at load. They equal
 * the reference kernel (kernels/ref/quant_conv.c) bit for bit: exact int32
 * sums with the input zero point folded into the bias (quant_params.h's
 * bias32), so a padded tap reads the zero point, then TFLite's
 * double-rounding requantization, vectorized, the output zero point and
 * the activation clamp. Each instruction set's file includes qdw.inc. */
#ifndef KILN_KERNELS_QDW_QDW_H
#define KILN_KERNELS_QDW_QDW_H

#include <stdbool.h>
#include <stdint.h>

#include "kernels/kernel.h"
#include "kernels/x86/x86_kernels.h"

/* Channels per block at instruction set `isa` (its vector of int32). */
#define KILN_QDW_BLOCK(isa) ((isa) >= KILN_ISA_AVX512 ? 16 : 8)

/* Weights packed at load: channel blocks of `block` lanes, each the kh*kw
 * taps (row-major) as int32 words, zero past `channels`. With `pair16` the
 * word holds the int8 weight in its low int16 and 0 in its high one, so a
 * multiply-add of int16 pairs (vpmaddwd) against a sign-extended input
 * gives the exact product; otherwise it is the weight itself. The words
 * start `offset` bytes into the allocation, on a KILN_ALIGNMENT boundary. */
typedef struct kiln_qdw_packed {
  int64_t channels;
  int32_t kh, kw, block;
  bool pair16;
  kiln_dw_kind kind;
  size_t offset;
} kiln_qdw_packed;

static inline const int32_t *kiln_qdw_weights(const kiln_qdw_packed *p) {
  return (const int32_t *)(const void *)((const char *)p + p->offset);
}

/* At prepare: the packed node is still int8 with depth multiplier 1, and
 * its quantization block (ctx->quant) is the folded int32 form with
 * multipliers and shifts the vector requantization takes. */
bool kiln_q8_dwconv_applies(const kiln_op_ctx *ctx);

#define KILN_QDW_DECLARE(kind, isa)                                        \
  kiln_status *kiln_q8_dwconv_##kind##__##isa##_pack(                      \
      const kiln_op_ctx *ctx, const kiln_allocator *a, void **out_packed); \
  kiln_status *kiln_q8_dwconv_##kind##__##isa(const kiln_op_ctx *ctx);
#define KILN_QDW_DECLARE_ISA(isa) \
  KILN_QDW_DECLARE(3x3s1, isa)    \
  KILN_QDW_DECLARE(3x3s2, isa)    \
  KILN_QDW_DECLARE(5x5s1, isa)    \
  KILN_QDW_DECLARE(5x5s2, isa)    \
  KILN_QDW_DECLARE(generic, isa)
KILN_QDW_DECLARE_ISA(portable)
#if defined(__x86_64__)
KILN_QDW_DECLARE_ISA(avx2)
KILN_QDW_DECLARE_ISA(avx512)
KILN_QDW_DECLARE_ISA(vnni)
#endif
#undef KILN_QDW_DECLARE_ISA
#undef KILN_QDW_DECLARE

#endif
