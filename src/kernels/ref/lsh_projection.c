/* lsh_projection.c - LSH_PROJECTION: locality-sensitive hash signatures of
 * an input's rows, as TFLite computes them. Input 0 holds float32 seeds,
 * [num_hash, num_bits]; input 1 any tensor whose first dimension counts
 * its rows; input 2 (optional) one float32 weight per row. Each seed gives
 * one bit: the sign of the sum over rows of (weight times) the signed
 * 64-bit farmhash Fingerprint64 of the seed's 4 bytes followed by the
 * row's bytes, summed in double. DENSE outputs every bit as an int32
 * (num_hash * num_bits values); SPARSE packs each hash's bits, first bit
 * highest, and adds hash * 2^num_bits so that hashes do not collide. */
#include <string.h>

#include "kernels/kernel.h"
#include "kernels/ref/farmhash.h"

kiln_status *kiln_shape_lsh_projection(const kiln_op_ctx *ctx) {
  const kiln_lsh_projection_attrs *a = ctx->attrs;
  KILN_TRY(kiln_check_arity(ctx, 2, 3, 1));
  KILN_TRY(kiln_require_input(ctx, 0, "hash"));
  KILN_TRY(kiln_require_input(ctx, 1, "input"));
  const kiln_tensor *hash = ctx->inputs[0], *in = ctx->inputs[1];
  KILN_TRY(kiln_require_dtype(hash, KILN_FLOAT32, "input 0 (hash)"));
  KILN_TRY(kiln_require_rank(hash, 2, "input 0 (hash)"));
  int64_t bits = hash->dims[1];
  if (bits > 32 || (a->type == KILN_LSH_SPARSE && bits > 31))
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "input 0 (hash) has %lld bits per hash; at most %d are "
                      "supported in %s mode",
                      (long long)bits, a->type == KILN_LSH_SPARSE ? 31 : 32,
                      a->type == KILN_LSH_SPARSE ? "SPARSE" : "DENSE");
  if (in->rank < 1)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 1 (input) must have rank 1 or more, is a scalar");
  if (kiln_dtype_size(in->dtype) == 0)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "input 1 (input) has type %s, which has no fixed size",
                      kiln_dtype_name(in->dtype));
  if (ctx->num_inputs == 3 && ctx->inputs[2]) {
    const kiln_tensor *w = ctx->inputs[2];
    KILN_TRY(kiln_require_dtype(w, KILN_FLOAT32, "input 2 (weight)"));
    KILN_TRY(kiln_require_rank(w, 1, "input 2 (weight)"));
    if (w->dims[0] != in->dims[0])
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "input 2 (weight) has %lld entries; input 1 (input) "
                        "has %lld rows",
                        (long long)w->dims[0], (long long)in->dims[0]);
  }
  kiln_tensor *out = ctx->outputs[0];
  KILN_TRY(kiln_require_dtype(out, KILN_INT32, "output 0"));
  int64_t n = a->type == KILN_LSH_SPARSE ? hash->dims[0] : hash->dims[0] * bits;
  kiln_set_shape(out, &n, 1);
  return NULL;
}

/* One signature bit: whether the (weighted) sum of the rows' hashes under
 * `seed` is positive. */
static int32_t sign_bit(const kiln_tensor *in, const float *weight,
                        float seed) {
  int64_t rows = in->dims[0];
  if (rows == 0) return 0;
  size_t row_bytes = kiln_tensor_nbytes(in) / (size_t)rows;
  const unsigned char *row = in->data;
  unsigned char seed_bytes[sizeof seed];
  memcpy(seed_bytes, &seed, sizeof seed);
  double score = 0.0;
  for (int64_t r = 0; r < rows; r++, row += row_bytes) {
    int64_t h = (int64_t)kiln_fingerprint64_2(seed_bytes, sizeof seed_bytes,
                                              row, row_bytes);
    if (weight)
      score += weight[r] * (double)h;
    else
      score += (double)h;
  }
  return score > 0.0 ? 1 : 0;
}

kiln_status *kiln_ref_lsh_projection(const kiln_op_ctx *ctx) {
  const kiln_lsh_projection_attrs *a = ctx->attrs;
  const kiln_tensor *hash = ctx->inputs[0], *in = ctx->inputs[1];
  const float *weight = ctx->num_inputs == 3 && ctx->inputs[2]
                            ? (const float *)ctx->inputs[2]->data
                            : NULL;
  const float *seeds = hash->data;
  int64_t num_hash = hash->dims[0], bits = hash->dims[1];
  int32_t *out = ctx->outputs[0]->data;
  for (int64_t i = 0; i < num_hash; i++) {
    uint32_t signature = 0;
    for (int64_t j = 0; j < bits; j++) {
      int32_t bit = sign_bit(in, weight, seeds[i * bits + j]);
      if (a->type == KILN_LSH_DENSE)
        *out++ = bit;
      else
        signature = signature << 1 | (uint32_t)bit;
    }
    /* int32 arithmetic in TFLite, wrapping as two's complement */
    if (a->type == KILN_LSH_SPARSE)
      *out++ = (int32_t)(signature + (uint32_t)i * (UINT32_C(1) << bits));
  }
  return NULL;
}
