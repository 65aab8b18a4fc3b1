/* index_util.h - checks shared by the data-movement and indexing kernels
 * added for issue 9 (space/batch, GATHER_ND and friends, segments):
 * quantization that must pass through a byte copy unchanged, index inputs
 * of int32/int64 type, and the element sizes those kernels copy. */
#ifndef KILN_KERNELS_REF_INDEX_UTIL_H
#define KILN_KERNELS_REF_INDEX_UTIL_H

#include <stdbool.h>
#include <stdint.h>

#include "kernels/kernel.h"

/* Whether a and b carry the same quantization (both absent counts as the
 * same; one absent and one present does not). */
bool kiln_same_quant(const kiln_quant_info *a, const kiln_quant_info *b);

/* Ops that copy bytes from `in` to `out` are right only when both read
 * the bytes as the same real numbers, as TFLite requires of these ops. */
kiln_status *kiln_require_same_quant(const kiln_tensor *in,
                                     const kiln_tensor *out, const char *role);

/* Checks input `index` is present and int32 or int64. */
kiln_status *kiln_require_index_input(const kiln_op_ctx *ctx, int index,
                                      const char *role);

/* Product of dims[from..to). */
int64_t kiln_dims_product(const int64_t *dims, int from, int to);

/* The zero of `t`'s real numbers as one element of its type (its zero
 * point when quantized), into value (at least 8 bytes). */
void kiln_zero_element(const kiln_tensor *t, unsigned char *value);

#endif
