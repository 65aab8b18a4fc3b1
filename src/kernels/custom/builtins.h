/* builtins.h - the custom operators kiln ships, registered the way an
 * embedder registers its own (kiln.h's kiln_custom_op): the ones LiteRT
 * runs without user code. A model loads them after the embedder's
 * registry, so an embedder may replace any of them. */
#ifndef KILN_KERNELS_CUSTOM_BUILTINS_H
#define KILN_KERNELS_CUSTOM_BUILTINS_H

#include "kiln.h"

/* The registrations, one per file of kernels/custom. */
extern const kiln_custom_op kiln_custom_transpose_conv_bias;
extern const kiln_custom_op kiln_custom_max_pool_argmax;
extern const kiln_custom_op kiln_custom_max_unpooling;
extern const kiln_custom_op kiln_custom_detection_postprocess;

/* The list, and its length in *out_count. */
const kiln_custom_op *const *kiln_builtin_custom_ops(int *out_count);

#endif
