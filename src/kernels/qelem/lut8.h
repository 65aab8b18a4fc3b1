/* lut8.h - the optimized QUANT_LUT8 (op_attrs.h): the node's 256-entry
 * table applied with qelem's lookup micro-kernels (qelem.h), split across
 * the session's threads. */
#ifndef KILN_KERNELS_QELEM_LUT8_H
#define KILN_KERNELS_QELEM_LUT8_H

#include <stdbool.h>

#include "kernels/kernel.h"

/* int8 in and out with as many elements (what the shape function made). */
bool kiln_lut8_applies(const kiln_op_ctx *ctx);
kiln_status *kiln_lut8_run_portable(const kiln_op_ctx *ctx);
#if defined(__x86_64__)
kiln_status *kiln_lut8_run_avx2(const kiln_op_ctx *ctx);
kiln_status *kiln_lut8_run_avx512(const kiln_op_ctx *ctx);
#endif

#endif
