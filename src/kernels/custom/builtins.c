/* builtins.c - the table of kiln's built-in custom operators. */
#include "kernels/custom/builtins.h"

#include <stddef.h>

static const kiln_custom_op *const builtins[] = {
    &kiln_custom_transpose_conv_bias,
    &kiln_custom_max_pool_argmax,
    &kiln_custom_max_unpooling,
    &kiln_custom_detection_postprocess,
};

const kiln_custom_op *const *kiln_builtin_custom_ops(int *out_count) {
  *out_count = (int)(sizeof builtins / sizeof builtins[0]);
  return builtins;
}
