/* random.c - RANDOM_UNIFORM, RANDOM_STANDARD_NORMAL and MULTINOMIAL, drawing
 * from a Philox4x32-10 stream as TFLite's random kernels do, so that a
 * seeded model gives LiteRT's numbers bit for bit. The stream lives in the
 * node's session state (kernel.h: kiln_op_state): prepare seeds it from
 * RandomOptions (seed, seed2), each invoke continues it, so successive
 * invokes draw new numbers as in LiteRT. Both seeds 0 asks for an
 * unpredictable stream, seeded afresh at every prepare.
 *
 * The draws follow TFLite's order: uniform and normal take four words per
 * Philox block and drop the unused rest of the last block; normal turns
 * each pair of words into two values (Box-Muller). MULTINOMIAL draws its
 * samples from a copy of the stream and moves the stream itself past a
 * fixed budget of blocks per invoke, as TensorFlow's op does; each sample
 * is the first class whose running sum of exp(logit - max logit) (finite
 * logits only) exceeds a uniform double times the row's total. */
#include <math.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "core/ops.h"
#include "kernels/kernel.h"
#include "kernels/ref/random_bits.h"

_Static_assert(sizeof(kiln_philox) <= KILN_RANDOM_STATE_BYTES,
               "the Philox stream must fit the node's state");

/* A 64-bit seed nobody can predict, for nodes whose seeds are both 0:
 * the clock and a process-wide count, mixed (splitmix64's finalizer). */
static uint64_t fresh_seed(void) {
  static atomic_uint_fast64_t calls;
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  uint64_t z = (uint64_t)t.tv_nsec ^ ((uint64_t)t.tv_sec << 30) ^
               (atomic_fetch_add(&calls, 1) + 1) * 0x9E3779B97F4A7C15u;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
  return z ^ (z >> 31);
}

/* Seeds the node's stream (no state: a shape check outside a session). */
static void seed_stream(const kiln_op_ctx *ctx) {
  const kiln_random_attrs *a = ctx->attrs;
  kiln_philox *stream = kiln_op_state(ctx);
  if (!stream) return;
  uint64_t seed = (uint64_t)a->seed, seed2 = (uint64_t)a->seed2;
  if (seed == 0 && seed2 == 0) {
    seed = fresh_seed();
    seed2 = fresh_seed();
  }
  kiln_philox_seed(stream, seed, seed2);
}

static kiln_status *require_state(const kiln_op_ctx *ctx) {
  if (!kiln_op_state(ctx))
    return kiln_error(KILN_ERR_INTERNAL,
                      "runs only in a session, which keeps its random "
                      "generator between invokes");
  return NULL;
}

kiln_status *kiln_shape_random(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_check_arity(ctx, 1, 1, 1));
  KILN_TRY(kiln_require_known(ctx, 0, "shape"));
  const kiln_tensor *shape = ctx->inputs[0];
  KILN_TRY(kiln_require_dtype(shape, KILN_INT32, "input 0 (shape)"));
  KILN_TRY(kiln_require_rank(shape, 1, "input 0 (shape)"));
  kiln_tensor *out = ctx->outputs[0];
  KILN_TRY(kiln_require_dtype(out, KILN_FLOAT32, "output 0"));
  if (shape->dims[0] > KILN_MAX_RANK)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "input 0 (shape) asks for rank %lld; kiln supports up "
                      "to %d",
                      (long long)shape->dims[0], KILN_MAX_RANK);
  int64_t dims[KILN_MAX_RANK];
  const int32_t *values = shape->data;
  for (int64_t i = 0; i < shape->dims[0]; i++) {
    if (values[i] < 0)
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "input 0 (shape) has a negative dimension %d at %lld",
                        values[i], (long long)i);
    dims[i] = values[i];
  }
  kiln_set_shape(out, dims, (int)shape->dims[0]);
  seed_stream(ctx);
  return NULL;
}

kiln_status *kiln_ref_random_uniform(const kiln_op_ctx *ctx) {
  KILN_TRY(require_state(ctx));
  kiln_philox *stream = kiln_op_state(ctx);
  float *out = ctx->outputs[0]->data;
  int64_t n = kiln_tensor_numel(ctx->outputs[0]);
  for (int64_t i = 0; i < n; i += 4) {
    uint32_t words[4];
    kiln_philox_next(stream, words);
    for (int64_t k = 0; k < 4 && i + k < n; k++)
      out[i + k] = kiln_uint32_to_unit_float(words[k]);
  }
  return NULL;
}

kiln_status *kiln_ref_random_standard_normal(const kiln_op_ctx *ctx) {
  KILN_TRY(require_state(ctx));
  kiln_philox *stream = kiln_op_state(ctx);
  float *out = ctx->outputs[0]->data;
  int64_t n = kiln_tensor_numel(ctx->outputs[0]);
  for (int64_t i = 0; i < n; i += 4) {
    uint32_t words[4];
    kiln_philox_next(stream, words);
    for (int64_t k = 0; k < 4 && i + k < n; k += 2) {
      float pair[2];
      kiln_box_muller(words[k], words[k + 1], &pair[0], &pair[1]);
      out[i + k] = pair[0];
      if (i + k + 1 < n) out[i + k + 1] = pair[1];
    }
  }
  return NULL;
}

/* ------------------------------------------------------------ MULTINOMIAL */

kiln_status *kiln_shape_multinomial(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_check_arity(ctx, 2, 2, 1));
  KILN_TRY(kiln_require_float_input(ctx, 0, "logits", 2, 2));
  KILN_TRY(kiln_require_known(ctx, 1, "num_samples"));
  const kiln_tensor *count = ctx->inputs[1];
  KILN_TRY(kiln_require_dtype(count, KILN_INT32, "input 1 (num_samples)"));
  KILN_TRY(kiln_require_rank(count, 0, "input 1 (num_samples)"));
  int32_t samples = *(const int32_t *)count->data;
  if (samples < 0)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 1 (num_samples) is %d; it must be >= 0", samples);
  kiln_tensor *out = ctx->outputs[0];
  if (out->dtype != KILN_INT32 && out->dtype != KILN_INT64)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "output 0 has type %s; expected int32 or int64",
                      kiln_dtype_name(out->dtype));
  /* TFLite's batch and class counts are ints. */
  const kiln_tensor *logits = ctx->inputs[0];
  if (logits->dims[0] > INT32_MAX || logits->dims[1] > INT32_MAX)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "input 0 (logits) has %lld x %lld entries; at most "
                      "2^31-1 per dimension are supported",
                      (long long)logits->dims[0], (long long)logits->dims[1]);
  kiln_set_shape(out, (int64_t[]){logits->dims[0], samples}, 2);
  seed_stream(ctx);
  return NULL;
}

kiln_status *kiln_ref_multinomial(const kiln_op_ctx *ctx) {
  KILN_TRY(require_state(ctx));
  const kiln_tensor *logits = ctx->inputs[0];
  kiln_tensor *out = ctx->outputs[0];
  int64_t batch = logits->dims[0], classes = logits->dims[1];
  int64_t samples = out->dims[1];
  kiln_philox *stream = kiln_op_state(ctx);
  kiln_philox draw = *stream;
  /* TensorFlow's budget: samples rounded up to 4, two words each, times
   * 256, per batch row (unsigned 64-bit arithmetic in TFLite too). */
  kiln_philox_skip(
      stream, (uint64_t)batch * (((uint64_t)samples + 3) / 4 * 4) * 2u * 256u);

  uint32_t words[4];
  int used = 4; /* words of the current block already taken */
  for (int64_t b = 0; b < batch; b++) {
    const float *row = (const float *)logits->data + b * classes;
    float max = -3.40282347e38f; /* the lowest float */
    for (int64_t c = 0; c < classes; c++)
      if (isfinite(row[c]) && row[c] > max) max = row[c];
    double max_logit = max;
    double total = 0.0;
    for (int64_t c = 0; c < classes; c++)
      if (isfinite(row[c])) total += exp((double)row[c] - max_logit);
    for (int64_t j = 0; j < samples; j++) {
      if (used == 4) {
        kiln_philox_next(&draw, words);
        used = 0;
      }
      double target =
          kiln_uint64_to_unit_double(words[used], words[used + 1]) * total;
      used += 2;
      /* The first class whose running sum exceeds target (the same sums,
       * in the same order, as the total's); none: the class count. */
      int64_t found = classes;
      double running = 0.0;
      for (int64_t c = 0; c < classes; c++) {
        if (isfinite(row[c])) running += exp((double)row[c] - max_logit);
        if (running > target) {
          found = c;
          break;
        }
      }
      if (out->dtype == KILN_INT64)
        ((int64_t *)out->data)[b * samples + j] = found;
      else
        ((int32_t *)out->data)[b * samples + j] = (int32_t)found;
    }
  }
  return NULL;
}
