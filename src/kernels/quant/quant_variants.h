/* quant_variants.h - kernel variants for quantized nodes, named in
 * variant_list.h. */
#ifndef KILN_KERNELS_QUANT_QUANT_VARIANTS_H
#define KILN_KERNELS_QUANT_QUANT_VARIANTS_H

#include "kernels/kernel.h"

/* LOGISTIC, TANH, GELU, EXP, LOG and RSQRT on int8 / uint8 through a 256-entry
 * table built at load (kernels/quant/lut.c). */
kiln_status *kiln_q8_lut_pack_logistic(const kiln_op_ctx *ctx,
                                       const kiln_allocator *a, void **out);
kiln_status *kiln_q8_lut_pack_tanh(const kiln_op_ctx *ctx,
                                   const kiln_allocator *a, void **out);
kiln_status *kiln_q8_lut_pack_gelu(const kiln_op_ctx *ctx,
                                   const kiln_allocator *a, void **out);
kiln_status *kiln_q8_lut_pack_exp(const kiln_op_ctx *ctx,
                                  const kiln_allocator *a, void **out);
kiln_status *kiln_q8_lut_pack_log(const kiln_op_ctx *ctx,
                                  const kiln_allocator *a, void **out);
kiln_status *kiln_q8_lut_pack_rsqrt(const kiln_op_ctx *ctx,
                                    const kiln_allocator *a, void **out);
kiln_status *kiln_q8_lut_pack_elu(const kiln_op_ctx *ctx,
                                  const kiln_allocator *a, void **out);
bool kiln_q8_lut_applies(const kiln_op_ctx *ctx);
kiln_status *kiln_q8_lut_run(const kiln_op_ctx *ctx);

#endif
