/* movement_variants.h - optimized data-movement kernels, for any CPU
 * (listed in variant_list.h). */
#ifndef KILN_KERNELS_MOVEMENT_MOVEMENT_VARIANTS_H
#define KILN_KERNELS_MOVEMENT_MOVEMENT_VARIANTS_H

#include <stdbool.h>

#include "kernels/kernel.h"

/* PAD and PADV2 with constant padding, one row copy at a time, threaded. */
bool kiln_pad_rows_applies(const kiln_op_ctx *ctx);
kiln_status *kiln_pad_rows(const kiln_op_ctx *ctx);

#endif
