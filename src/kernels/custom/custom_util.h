/* custom_util.h - what kiln's built-in custom operators share: their view
 * of a callback's tensors as kernel tensors (to reuse kiln's kernels), and
 * the reading of TFLite's raw option structs (C structs of 4-byte ints,
 * written by the converter in the little-endian layout of the machine that
 * made them, as LiteRT reads them). */
#ifndef KILN_KERNELS_CUSTOM_UTIL_H
#define KILN_KERNELS_CUSTOM_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/kernel.h"
#include "kiln.h"

/* A kernel tensor over the same dims and data. */
void kiln_custom_kernel_tensor(const kiln_custom_tensor *src, kiln_tensor *dst);

/* Reads the first `count` int32 fields of a raw option struct; the bytes
 * must hold at least `required` of them (fields past the bytes read 0, as
 * LiteRT copies only what is there). `what` names the struct. */
kiln_status *kiln_custom_raw_ints(const void *bytes, size_t size, int count,
                                  int required, const char *what, int32_t *out);

/* TfLitePadding: 1 SAME, 2 VALID (0, unknown, and the rest are errors). */
kiln_status *kiln_custom_padding(int32_t value, kiln_padding *out);

/* Checks a callback's inputs and outputs are as many as expected, and that
 * input `index` is a float32 tensor of rank 4 ("input 0 (input)"). */
kiln_status *kiln_custom_check_io(const kiln_custom_context *ctx, int inputs,
                                  int outputs);
kiln_status *kiln_custom_float4d(const kiln_custom_context *ctx, int index,
                                 const char *role);

#endif
