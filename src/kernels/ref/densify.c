/* densify.c - DENSIFY, TFLite's "expand this sparse constant" operator.
 * The importer already expands sparse constants into dense ones at load
 * (formats/tflite/tflite_sparsity.c), so what reaches DENSIFY is dense and
 * the operator is a copy of its input; constant folding then removes it. */
#include "kernels/kernel.h"

kiln_status *kiln_shape_densify(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_shape_unary(ctx));
  const kiln_tensor *in = ctx->inputs[0], *out = ctx->outputs[0];
  if (out->dtype != in->dtype)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "output 0 has type %s but input 0 (input) %s; DENSIFY "
                      "keeps the type",
                      kiln_dtype_name(out->dtype), kiln_dtype_name(in->dtype));
  return NULL;
}
