/* rng_bit_generator.c - STABLEHLO_RNG_BIT_GENERATOR: random bits from an
 * explicit uint64 state, returned with the advanced state, as TFLite's
 * kernel produces them. The output is filled as a run of 32-bit words
 * (two per 64-bit element, low word first), one generator block at a time
 * with the unused tail of the last block dropped.
 *
 * THREEFRY: state [key, counter]; each block is Threefry2x32 of the
 * counter's two words under the key's, and the counter's 64 bits advance
 * by one per block. PHILOX and DEFAULT: state [key, counter low] or [key,
 * counter low, counter high]; each block is Philox4x32-10 of the 128-bit
 * counter (its upper half is the key again when the state has two words),
 * and only the low 64 bits advance. The new state is the old one with the
 * low counter word replaced. */
#include <string.h>

#include "kernels/kernel.h"
#include "kernels/ref/random_bits.h"

kiln_status *kiln_shape_rng_bit_generator(const kiln_op_ctx *ctx) {
  const kiln_rng_bit_generator_attrs *a = ctx->attrs;
  KILN_TRY(kiln_check_arity(ctx, 1, 1, 2));
  KILN_TRY(kiln_require_input(ctx, 0, "initial_state"));
  const kiln_tensor *state = ctx->inputs[0];
  KILN_TRY(kiln_require_dtype(state, KILN_UINT64, "input 0 (initial_state)"));
  KILN_TRY(kiln_require_rank(state, 1, "input 0 (initial_state)"));
  int64_t words = state->dims[0];
  if (a->algorithm == KILN_RNG_THREEFRY && words != 2)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 0 (initial_state) has %lld elements; THREEFRY "
                      "takes 2",
                      (long long)words);
  if (a->algorithm != KILN_RNG_THREEFRY && words != 2 && words != 3)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 0 (initial_state) has %lld elements; PHILOX "
                      "takes 2 or 3",
                      (long long)words);
  kiln_tensor *new_state = ctx->outputs[0];
  KILN_TRY(kiln_require_dtype(new_state, KILN_UINT64, "output 0 (state)"));
  kiln_set_shape(new_state, state->dims, 1);
  /* The random output's shape is the model's own (static in TFLite). */
  kiln_tensor *out = ctx->outputs[1];
  if (out->dtype != KILN_INT32 && out->dtype != KILN_UINT32 &&
      out->dtype != KILN_INT64 && out->dtype != KILN_UINT64)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "output 1 has type %s; expected int32, uint32, int64 "
                      "or uint64",
                      kiln_dtype_name(out->dtype));
  for (int d = 0; d < out->rank; d++)
    if (out->dims[d] < 0)
      return kiln_error(KILN_ERR_UNSUPPORTED,
                        "output 1 has a dynamic shape; the model must give "
                        "its shape");
  return NULL;
}

kiln_status *kiln_ref_rng_bit_generator(const kiln_op_ctx *ctx) {
  const kiln_rng_bit_generator_attrs *a = ctx->attrs;
  const kiln_tensor *state_in = ctx->inputs[0];
  kiln_tensor *state_out = ctx->outputs[0];
  kiln_tensor *out = ctx->outputs[1];
  int64_t n_state = state_in->dims[0];
  uint64_t state[3] = {0, 0, 0};
  memcpy(state, state_in->data, (size_t)n_state * sizeof(uint64_t));
  uint32_t key0 = (uint32_t)state[0], key1 = (uint32_t)(state[0] >> 32);
  uint64_t counter = state[1];
  int64_t n =
      kiln_tensor_numel(out) * (int64_t)(kiln_dtype_size(out->dtype) / 4);
  unsigned char *dst = out->data;
  bool threefry = a->algorithm == KILN_RNG_THREEFRY;
  /* PHILOX's upper counter half: the third word, else the key */
  uint64_t upper = n_state == 3 ? state[2] : state[0];
  for (int64_t i = 0; i < n;) {
    uint32_t block[4];
    int size;
    uint32_t c[4] = {(uint32_t)counter, (uint32_t)(counter >> 32),
                     (uint32_t)upper, (uint32_t)(upper >> 32)};
    if (threefry) {
      kiln_threefry2x32(key0, key1, c, block);
      size = 2;
    } else {
      kiln_philox4x32((uint32_t[]){key0, key1}, c, block);
      size = 4;
    }
    int64_t take = n - i < size ? n - i : size;
    memcpy(dst + (size_t)i * 4, block, (size_t)take * 4);
    i += take;
    counter++;
  }
  uint64_t result[3] = {state[0], counter, n_state == 3 ? state[2] : 0};
  memcpy(state_out->data, result, (size_t)n_state * sizeof(uint64_t));
  return NULL;
}
