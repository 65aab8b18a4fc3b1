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

/* Shared by the float, quantized and hybrid BATCH_MATMUL: the rows and
 * columns of t's last two dimensions as the product reads them (swapped
 * when adjoint), and, once the inputs are checked, the output dims
 * (broadcast batch dims, then rows of x and columns of y) or an error when
 * the inner dimensions disagree (naming adj_x/adj_y when name_adjoints) or
 * the batch dimensions do not broadcast. */
void kiln_matmul_matrix_dims(const kiln_tensor *t, bool adjoint, int64_t *rows,
                             int64_t *cols);
kiln_status *kiln_batch_matmul_dims(const kiln_op_ctx *ctx, bool name_adjoints,
                                    int64_t *dims, int *rank);

/* Offset of output batch `index` in `t`, which broadcasts over the
 * output's batch dimensions (BATCH_MATMUL). */
int64_t kiln_q_batch_offset(const kiln_tensor *t, const kiln_tensor *out,
                            int64_t index);

#endif
