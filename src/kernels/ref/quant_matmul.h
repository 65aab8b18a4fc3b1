/* quant_matmul.h - quantized and hybrid FULLY_CONNECTED and BATCH_MATMUL:
 * entry points the float reference kernels in matmul.c hand quantized
 * nodes to (one test on the input's type). */
#ifndef KILN_KERNELS_REF_QUANT_MATMUL_H
#define KILN_KERNELS_REF_QUANT_MATMUL_H

#include "kernels/kernel.h"

kiln_status *kiln_q_shape_fully_connected(const kiln_op_ctx *ctx);
kiln_status *kiln_q_fully_connected(const kiln_op_ctx *ctx);
kiln_status *kiln_q_shape_batch_matmul(const kiln_op_ctx *ctx);
kiln_status *kiln_q_batch_matmul(const kiln_op_ctx *ctx);

/* Hybrid (float input, int8 weights), quant_hybrid.c. */
kiln_status *kiln_hybrid_fully_connected(const kiln_op_ctx *ctx);
kiln_status *kiln_hybrid_batch_matmul(const kiln_op_ctx *ctx);

/* Offset of output batch `index` in `t`, which broadcasts over the
 * output's batch dimensions (BATCH_MATMUL). */
int64_t kiln_q_batch_offset(const kiln_tensor *t, const kiln_tensor *out,
                            int64_t index);

#endif
