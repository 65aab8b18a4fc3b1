/* test_ref_random.c - the random operators (RANDOM_UNIFORM,
 * RANDOM_STANDARD_NORMAL, MULTINOMIAL, STABLEHLO_RNG_BIT_GENERATOR) and
 * LSH_PROJECTION against computations written apart from the kernels.
 *
 * The generators are held to the Random123 known-answer vectors for
 * Philox4x32-10 and Threefry2x32-20 (published with the algorithms, not
 * taken from kiln). Given those block functions, each operator's output
 * is rebuilt here from its definition: the uniform floats as the low 23
 * bits over 2^23, the normals by Box-Muller in double, multinomial samples
 * by a search of an explicit cumulative array, the bit generator's words
 * from explicitly composed counters, and LSH bits from hashing explicitly
 * concatenated keys. Session state is checked across invokes (the stream
 * continues, MULTINOMIAL skips its budget), through a real session too
 * (a constant-shaped RANDOM_UNIFORM is neither folded at load nor
 * evaluated at prepare), and every shape error. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/ops.h"
#include "formats/tflite/tflite_schema.h"
#include "harness.h"
#include "kernels/ref/farmhash.h"
#include "kernels/ref/random_bits.h"
#include "kiln.h"
#include "tflite_builder.c"

/* ---- the generators' known answers ---- */

static void test_known_answers(void) {
  static const struct {
    uint32_t ctr[4], key[2], out[4];
  } philox[] = {
      {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
      {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
       {0xffffffff, 0xffffffff},
       {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
      {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
       {0xa4093822, 0x299f31d0},
       {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
  };
  for (size_t i = 0; i < sizeof philox / sizeof philox[0]; i++) {
    uint32_t out[4];
    kiln_philox4x32(philox[i].key, philox[i].ctr, out);
    CHECK(memcmp(out, philox[i].out, sizeof out) == 0);
  }
  static const struct {
    uint32_t ctr[2], key[2], out[2];
  } threefry[] = {
      {{0, 0}, {0, 0}, {0x6b200159, 0x99ba4efe}},
      {{0xffffffff, 0xffffffff},
       {0xffffffff, 0xffffffff},
       {0x1cb996fc, 0xbb002be7}},
      {{0x243f6a88, 0x85a308d3},
       {0x13198a2e, 0x03707344},
       {0xc4923a9c, 0x483df7a0}},
  };
  for (size_t i = 0; i < sizeof threefry / sizeof threefry[0]; i++) {
    uint32_t out[2];
    kiln_threefry2x32(threefry[i].key[0], threefry[i].key[1], threefry[i].ctr,
                      out);
    CHECK(memcmp(out, threefry[i].out, sizeof out) == 0);
  }
}

/* The stream's counter is 128 bits with carries; skip adds to it. */
static void test_counter_arithmetic(void) {
  kiln_philox p;
  kiln_philox_seed(&p, 0x1122334455667788u, 0x99aabbccddeeff00u);
  CHECK(p.key[0] == 0x55667788u && p.key[1] == 0x11223344u);
  CHECK(p.counter[0] == 0 && p.counter[1] == 0);
  CHECK(p.counter[2] == 0xddeeff00u && p.counter[3] == 0x99aabbccu);
  p.counter[0] = p.counter[1] = 0xffffffffu;
  uint32_t words[4];
  kiln_philox_next(&p, words);
  CHECK(p.counter[0] == 0 && p.counter[1] == 0);
  CHECK(p.counter[2] == 0xddeeff01u && p.counter[3] == 0x99aabbccu);
  kiln_philox_seed(&p, 1, 2);
  kiln_philox_skip(&p, 0x00000002fffffffeu);
  kiln_philox_skip(&p, 3);
  CHECK(p.counter[0] == 1 && p.counter[1] == 3 && p.counter[2] == 2);
}

/* ---- running a stateful operator as a session does ---- */

typedef struct rnode {
  kiln_op_type op;
  const void *attrs;
  unsigned char state[KILN_RANDOM_STATE_BYTES];
  kiln_tensor *in[3];
  kiln_tensor *out[2];
  int num_in, num_out;
} rnode;

static kiln_op_ctx ctx_of(rnode *n, bool with_state) {
  kiln_op_ctx ctx = {n->attrs,   n->in, n->num_in, n->out,
                     n->num_out, NULL,  NULL,      NULL};
  if (with_state) ctx.packed = n->state;
  return ctx;
}

/* prepare: the shape function, then (re)allocated outputs */
static kiln_status *prepare(rnode *n) {
  kiln_op_ctx ctx = ctx_of(n, true);
  KILN_TRY(kiln_op_table[n->op].shape(&ctx));
  for (int i = 0; i < n->num_out; i++) {
    free(n->out[i]->data);
    n->out[i]->data = calloc(kiln_tensor_nbytes(n->out[i]) + 1, 1);
  }
  return NULL;
}

static kiln_status *invoke(rnode *n) {
  kiln_op_ctx ctx = ctx_of(n, true);
  return kiln_op_table[n->op].reference(&ctx);
}

static void rnode_free(rnode *n) {
  kiln_test_tensors_free(n->in, n->num_in);
  kiln_test_tensors_free(n->out, n->num_out);
}

static kiln_tensor *shape_tensor(int rank, const int32_t *dims) {
  return kiln_test_tensor_i32(1, (int64_t[]){rank}, dims);
}

/* The words the stream seeded (seed, seed2) gives from block `first`. */
static void expected_words(uint64_t seed, uint64_t seed2, uint64_t first,
                           uint32_t *words, int64_t blocks) {
  for (int64_t b = 0; b < blocks; b++) {
    uint64_t c = first + (uint64_t)b;
    uint32_t ctr[4] = {(uint32_t)c, (uint32_t)(c >> 32), (uint32_t)seed2,
                       (uint32_t)(seed2 >> 32)};
    uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    kiln_philox4x32(key, ctr, words + 4 * b);
  }
}

static void test_uniform_and_normal(void) {
  for (int iter = 0; iter < 60; iter++) {
    bool normal = iter % 2;
    int rank = kiln_test_int(0, 4);
    int32_t dims[4];
    int64_t count = 1;
    for (int d = 0; d < rank; d++) count *= dims[d] = kiln_test_int(0, 5);
    kiln_random_attrs attrs = {
        kiln_test_int(0, 3) ? (int64_t)kiln_test_rand() : -(int64_t)iter,
        (int64_t)kiln_test_rand() << 20};
    rnode n = {normal ? KILN_OP_RANDOM_STANDARD_NORMAL : KILN_OP_RANDOM_UNIFORM,
               &attrs,
               {0},
               {shape_tensor(rank, dims)},
               {kiln_test_tensor(KILN_FLOAT32, 1, (int64_t[]){1})},
               1,
               1};
    CHECK_OK(prepare(&n));
    CHECK(n.out[0]->rank == rank);
    CHECK(kiln_tensor_numel(n.out[0]) == count);
    int64_t blocks = (count + 3) / 4;
    uint32_t *words = malloc((size_t)(2 * blocks + 1) * 16);
    expected_words((uint64_t)attrs.seed, (uint64_t)attrs.seed2, 0, words,
                   2 * blocks);
    float *want = malloc((size_t)(count + 1) * sizeof(float));
    /* two invokes: the second continues where the first stopped */
    for (int run = 0; run < 2; run++) {
      const uint32_t *w = words + 4 * blocks * run;
      for (int64_t i = 0; i < count; i++) {
        double u = ldexp((double)(w[i] & 0x7fffff), -23);
        if (!normal) {
          want[i] = (float)u;
          continue;
        }
        int64_t pair = i - i % 2;
        double u1 = ldexp((double)(w[pair] & 0x7fffff), -23);
        double u2 = ldexp((double)(w[pair + 1] & 0x7fffff), -23);
        if (u1 < 1e-7) u1 = 1e-7;
        double r = sqrt(-2.0 * log(u1)), angle = 6.283185307179586 * u2;
        want[i] = (float)(r * (i % 2 ? cos(angle) : sin(angle)));
      }
      CHECK_OK(invoke(&n));
      if (normal)
        CHECK(kiln_test_close(n.out[0]->data, want, count, 1e-5f, 1e-5f,
                              "normal"));
      else
        CHECK(memcmp(n.out[0]->data, want, (size_t)count * 4) == 0);
    }
    /* prepare again: the stream starts over */
    CHECK_OK(prepare(&n));
    CHECK_OK(invoke(&n));
    if (!normal) {
      for (int64_t i = 0; i < count; i++)
        want[i] = (float)ldexp((double)(words[i] & 0x7fffff), -23);
      CHECK(memcmp(n.out[0]->data, want, (size_t)count * 4) == 0);
    }
    free(words);
    free(want);
    rnode_free(&n);
  }
}

/* Seeds 0 and 0: each prepare draws another stream. */
static void test_unseeded(void) {
  kiln_random_attrs attrs = {0, 0};
  int32_t dims[1] = {16};
  rnode n = {KILN_OP_RANDOM_UNIFORM,
             &attrs,
             {0},
             {shape_tensor(1, dims)},
             {kiln_test_tensor(KILN_FLOAT32, 1, (int64_t[]){1})},
             1,
             1};
  float first[16];
  CHECK_OK(prepare(&n));
  CHECK_OK(invoke(&n));
  memcpy(first, n.out[0]->data, sizeof first);
  CHECK_OK(prepare(&n));
  CHECK_OK(invoke(&n));
  CHECK(memcmp(first, n.out[0]->data, sizeof first) != 0);
  for (int i = 0; i < 16; i++) CHECK(first[i] >= 0.0f && first[i] < 1.0f);
  rnode_free(&n);
}

static void test_multinomial(void) {
  for (int iter = 0; iter < 40; iter++) {
    int64_t batch = kiln_test_int(1, 3), classes = kiln_test_int(1, 6);
    int32_t samples = kiln_test_int(0, 9);
    bool wide = iter % 2;
    kiln_random_attrs attrs = {kiln_test_int(1, 1000), kiln_test_int(0, 9)};
    kiln_tensor *logits =
        kiln_test_tensor_f32(2, (int64_t[]){batch, classes}, NULL);
    float *lg = logits->data;
    for (int64_t i = 0; i < batch * classes; i++) {
      lg[i] *= 3.0f;
      /* never drawn; a row of them all gives the class count, as TFLite */
      if (kiln_test_int(0, 9) == 0 && (i % classes != 0 || iter % 8 == 0))
        lg[i] = -INFINITY;
    }
    rnode n = {
        KILN_OP_MULTINOMIAL,
        &attrs,
        {0},
        {logits, kiln_test_tensor_i32(0, NULL, &samples)},
        {kiln_test_tensor(wide ? KILN_INT64 : KILN_INT32, 1, (int64_t[]){1})},
        2,
        1};
    CHECK_OK(prepare(&n));
    CHECK(kiln_test_has_shape(n.out[0], 2, (int64_t[]){batch, samples}));
    uint64_t budget = (uint64_t)batch * (uint64_t)((samples + 3) / 4 * 4) * 512;
    for (int run = 0; run < 2; run++) {
      CHECK_OK(invoke(&n));
      /* samples from blocks run * budget on, two words each, carried on
       * from one batch row to the next */
      int64_t total_words = batch * samples;
      int64_t blocks = (total_words + 1) / 2;
      uint32_t *w = malloc((size_t)(blocks + 1) * 16);
      expected_words((uint64_t)attrs.seed, (uint64_t)attrs.seed2,
                     budget * (uint64_t)run, w, blocks);
      for (int64_t b = 0; b < batch; b++) {
        double cdf[8], sum = 0.0, max = -INFINITY;
        for (int64_t c = 0; c < classes; c++)
          if (isfinite(lg[b * classes + c]) && lg[b * classes + c] > max)
            max = lg[b * classes + c];
        for (int64_t c = 0; c < classes; c++) {
          float x = lg[b * classes + c];
          if (isfinite(x)) sum += exp((double)x - max);
          cdf[c] = sum;
        }
        for (int64_t j = 0; j < samples; j++) {
          /* the words run on across blocks, two per sample */
          int64_t k = 2 * (b * samples + j);
          uint64_t mant = ((uint64_t)(w[k] & 0xfffff) << 32) | w[k + 1];
          double target = ldexp((double)mant, -52) * sum;
          int64_t want = classes;
          for (int64_t c = 0; c < classes; c++)
            if (cdf[c] > target) {
              want = c;
              break;
            }
          int64_t got = wide ? ((int64_t *)n.out[0]->data)[b * samples + j]
                             : ((int32_t *)n.out[0]->data)[b * samples + j];
          CHECK(got == want);
          if (sum > 0.0)
            CHECK(got >= 0 && got < classes && isfinite(lg[b * classes + got]));
        }
      }
      free(w);
    }
    rnode_free(&n);
  }
}

/* ---- STABLEHLO_RNG_BIT_GENERATOR ---- */

static void test_bit_generator(void) {
  for (int iter = 0; iter < 60; iter++) {
    kiln_rng_algorithm algo = (kiln_rng_algorithm)(iter % 3);
    int words = algo == KILN_RNG_THREEFRY ? 2 : kiln_test_int(2, 3);
    static const kiln_dtype types[] = {KILN_INT32, KILN_UINT32, KILN_INT64,
                                       KILN_UINT64};
    kiln_dtype type = types[kiln_test_int(0, 3)];
    int64_t rows = kiln_test_int(0, 3), cols = kiln_test_int(1, 5);
    kiln_tensor *state = kiln_test_tensor(KILN_UINT64, 1, (int64_t[]){words});
    uint64_t *sv = state->data;
    for (int i = 0; i < words; i++)
      sv[i] = (uint64_t)kiln_test_rand() << 32 | kiln_test_rand();
    if (iter % 5 == 0) sv[1] = UINT64_MAX - 1; /* the counter wraps */
    kiln_rng_bit_generator_attrs attrs = {algo};
    rnode n = {KILN_OP_STABLEHLO_RNG_BIT_GENERATOR,
               &attrs,
               {0},
               {state},
               {kiln_test_tensor(KILN_UINT64, 1, (int64_t[]){1}),
                kiln_test_tensor(type, 2, (int64_t[]){rows, cols})},
               1,
               2};
    kiln_op_ctx ctx = ctx_of(&n, false); /* stateless: no session state */
    CHECK_OK(kiln_op_table[n.op].shape(&ctx));
    for (int i = 0; i < 2; i++) {
      free(n.out[i]->data);
      n.out[i]->data = calloc(kiln_tensor_nbytes(n.out[i]) + 1, 1);
    }
    CHECK(kiln_test_has_shape(n.out[0], 1, (int64_t[]){words}));
    CHECK_OK(kiln_op_table[n.op].reference(&ctx));
    int64_t n32 = rows * cols * (int64_t)(kiln_dtype_size(type) / 4);
    int per = algo == KILN_RNG_THREEFRY ? 2 : 4;
    int64_t blocks = (n32 + per - 1) / per;
    const uint32_t *got = n.out[1]->data;
    uint32_t key[2] = {(uint32_t)sv[0], (uint32_t)(sv[0] >> 32)};
    for (int64_t b = 0; b < blocks; b++) {
      uint64_t c = sv[1] + (uint64_t)b, hi = words == 3 ? sv[2] : sv[0];
      uint32_t ctr[4] = {(uint32_t)c, (uint32_t)(c >> 32), (uint32_t)hi,
                         (uint32_t)(hi >> 32)};
      uint32_t block[4];
      if (algo == KILN_RNG_THREEFRY)
        kiln_threefry2x32(key[0], key[1], ctr, block);
      else
        kiln_philox4x32(key, ctr, block);
      for (int k = 0; k < per && b * per + k < n32; k++)
        CHECK(got[b * per + k] == block[k]);
    }
    const uint64_t *new_state = n.out[0]->data;
    CHECK(new_state[0] == sv[0]);
    CHECK(new_state[1] == sv[1] + (uint64_t)blocks);
    if (words == 3) CHECK(new_state[2] == sv[2]);
    rnode_free(&n);
  }
}

/* ---- LSH_PROJECTION ---- */

/* Fingerprint64 of two pieces equals that of their concatenation, at
 * every length branch (0-16, 17-32, 33-64, longer) and split point. */
static void test_fingerprint_pieces(void) {
  unsigned char bytes[200];
  for (size_t i = 0; i < sizeof bytes; i++)
    bytes[i] = (unsigned char)kiln_test_rand();
  for (size_t len = 0; len <= sizeof bytes; len += len < 70 ? 1 : 13) {
    uint64_t whole = kiln_fingerprint64(bytes, len);
    for (size_t split = 0; split <= len; split += len < 20 ? 1 : 7)
      CHECK(kiln_fingerprint64_2(bytes, split, bytes + split, len - split) ==
            whole);
  }
  /* a changed byte changes the hash */
  uint64_t h = kiln_fingerprint64(bytes, 100);
  bytes[57] ^= 1;
  CHECK(kiln_fingerprint64(bytes, 100) != h);
}

static void test_lsh_projection(void) {
  for (int iter = 0; iter < 60; iter++) {
    kiln_lsh_type type = iter % 2 ? KILN_LSH_DENSE : KILN_LSH_SPARSE;
    int64_t num_hash = kiln_test_int(1, 4), bits = kiln_test_int(1, 12);
    int64_t rows = kiln_test_int(1, 4), cols = kiln_test_int(1, 3);
    bool weighted = kiln_test_int(0, 1);
    bool ints = kiln_test_int(0, 1);
    kiln_tensor *hash =
        kiln_test_tensor_f32(2, (int64_t[]){num_hash, bits}, NULL);
    kiln_tensor *in = kiln_test_tensor(ints ? KILN_INT32 : KILN_FLOAT32, 2,
                                       (int64_t[]){rows, cols});
    if (ints)
      for (int64_t i = 0; i < rows * cols; i++)
        ((int32_t *)in->data)[i] = kiln_test_int(-50, 50);
    else
      kiln_test_fill(in->data, rows * cols, -5.0f, 5.0f);
    kiln_tensor *w =
        weighted ? kiln_test_tensor_f32(1, (int64_t[]){rows}, NULL) : NULL;
    kiln_lsh_projection_attrs attrs = {type};
    rnode n = {KILN_OP_LSH_PROJECTION,
               &attrs,
               {0},
               {hash, in, w},
               {kiln_test_tensor(KILN_INT32, 1, (int64_t[]){1})},
               weighted ? 3 : 2,
               1};
    kiln_op_ctx ctx = ctx_of(&n, false);
    CHECK_OK(kiln_op_table[n.op].shape(&ctx));
    free(n.out[0]->data);
    n.out[0]->data = calloc(kiln_tensor_nbytes(n.out[0]) + 1, 1);
    int64_t outs = type == KILN_LSH_DENSE ? num_hash * bits : num_hash;
    CHECK(kiln_test_has_shape(n.out[0], 1, &outs));
    CHECK_OK(kiln_op_table[n.op].reference(&ctx));
    const int32_t *got = n.out[0]->data;
    for (int64_t i = 0; i < num_hash; i++) {
      int64_t signature = 0;
      for (int64_t j = 0; j < bits; j++) {
        double score = 0.0;
        for (int64_t r = 0; r < rows; r++) {
          unsigned char key[4 + 3 * 4];
          memcpy(key, (const float *)hash->data + i * bits + j, 4);
          memcpy(key + 4, (const char *)in->data + r * cols * 4,
                 (size_t)cols * 4);
          double h = (double)(int64_t)kiln_fingerprint64(key, 4 + cols * 4);
          score += weighted ? ((const float *)w->data)[r] * h : h;
        }
        int bit = score > 0.0;
        if (type == KILN_LSH_DENSE) CHECK(got[i * bits + j] == bit);
        signature = signature * 2 + bit;
      }
      if (type == KILN_LSH_SPARSE)
        CHECK(got[i] == signature + i * ((int64_t)1 << bits));
    }
    rnode_free(&n);
  }
}

/* ---- errors: a clear message, never a crash ---- */

static void test_errors(void) {
  kiln_random_attrs seeds = {1, 2};
  /* RANDOM_UNIFORM: a negative dimension, a wrong type, an unknown shape,
   * too high a rank */
  int32_t bad[2] = {3, -1};
  rnode n = {KILN_OP_RANDOM_UNIFORM,
             &seeds,
             {0},
             {shape_tensor(2, bad)},
             {kiln_test_tensor(KILN_FLOAT32, 1, (int64_t[]){1})},
             1,
             1};
  CHECK_ERROR(prepare(&n), KILN_ERR_INVALID_MODEL, "negative dimension -1");
  n.in[0]->dtype = KILN_INT64;
  CHECK_ERROR(prepare(&n), KILN_ERR_UNSUPPORTED, "input 0 (shape) has type");
  n.in[0]->dtype = KILN_INT32;
  void *data = n.in[0]->data;
  n.in[0]->data = NULL;
  CHECK_ERROR(prepare(&n), KILN_ERR_UNSUPPORTED, "must be known");
  n.in[0]->data = data;
  n.in[0]->dims[0] = 9;
  CHECK_ERROR(prepare(&n), KILN_ERR_UNSUPPORTED, "rank 9");
  n.in[0]->dims[0] = 1;
  n.out[0]->dtype = KILN_INT32;
  CHECK_ERROR(prepare(&n), KILN_ERR_UNSUPPORTED, "output 0 has type");
  n.out[0]->dtype = KILN_FLOAT32;
  /* outside a session: the shape checks, the kernel refuses */
  kiln_op_ctx bare = ctx_of(&n, false);
  CHECK_OK(kiln_op_table[n.op].shape(&bare));
  CHECK_ERROR(kiln_op_table[n.op].reference(&bare), KILN_ERR_INTERNAL,
              "runs only in a session");
  rnode_free(&n);

  /* MULTINOMIAL: negative samples, non-scalar count, output type */
  int32_t minus = -2;
  rnode m = {KILN_OP_MULTINOMIAL,
             &seeds,
             {0},
             {kiln_test_tensor_f32(2, (int64_t[]){2, 3}, NULL),
              kiln_test_tensor_i32(0, NULL, &minus)},
             {kiln_test_tensor(KILN_INT64, 1, (int64_t[]){1})},
             2,
             1};
  CHECK_ERROR(prepare(&m), KILN_ERR_INVALID_MODEL, "is -2");
  *(int32_t *)m.in[1]->data = 2;
  m.in[1]->rank = 1;
  m.in[1]->dims[0] = 1;
  CHECK_ERROR(prepare(&m), KILN_ERR_INVALID_MODEL, "num_samples) must have");
  m.in[1]->rank = 0;
  m.out[0]->dtype = KILN_FLOAT32;
  CHECK_ERROR(prepare(&m), KILN_ERR_UNSUPPORTED, "expected int32 or int64");
  m.out[0]->dtype = KILN_INT64;
  m.in[0]->rank = 1;
  CHECK_ERROR(prepare(&m), KILN_ERR_INVALID_MODEL, "logits");
  rnode_free(&m);

  /* STABLEHLO_RNG_BIT_GENERATOR: state sizes, types */
  kiln_rng_bit_generator_attrs threefry = {KILN_RNG_THREEFRY},
                               philox = {KILN_RNG_PHILOX};
  rnode g = {KILN_OP_STABLEHLO_RNG_BIT_GENERATOR,
             &threefry,
             {0},
             {kiln_test_tensor(KILN_UINT64, 1, (int64_t[]){3})},
             {kiln_test_tensor(KILN_UINT64, 1, (int64_t[]){3}),
              kiln_test_tensor(KILN_INT32, 1, (int64_t[]){4})},
             1,
             2};
  CHECK_ERROR(prepare(&g), KILN_ERR_INVALID_MODEL, "THREEFRY takes 2");
  g.attrs = &philox;
  g.in[0]->dims[0] = 4;
  CHECK_ERROR(prepare(&g), KILN_ERR_INVALID_MODEL, "PHILOX takes 2 or 3");
  g.in[0]->dims[0] = 2;
  g.in[0]->dtype = KILN_INT64;
  CHECK_ERROR(prepare(&g), KILN_ERR_UNSUPPORTED, "initial_state) has type");
  g.in[0]->dtype = KILN_UINT64;
  g.out[1]->dtype = KILN_FLOAT32;
  CHECK_ERROR(prepare(&g), KILN_ERR_UNSUPPORTED, "output 1 has type");
  g.out[1]->dtype = KILN_INT32;
  g.out[1]->dims[0] = -1;
  CHECK_ERROR(prepare(&g), KILN_ERR_UNSUPPORTED, "dynamic shape");
  g.out[1]->dims[0] = 4;
  rnode_free(&g);

  /* LSH_PROJECTION: too many bits, weights that do not match, a scalar */
  kiln_lsh_projection_attrs sparse = {KILN_LSH_SPARSE},
                            dense = {KILN_LSH_DENSE};
  rnode l = {KILN_OP_LSH_PROJECTION,
             &sparse,
             {0},
             {kiln_test_tensor_f32(2, (int64_t[]){2, 32}, NULL),
              kiln_test_tensor_f32(1, (int64_t[]){3}, NULL),
              kiln_test_tensor_f32(1, (int64_t[]){2}, NULL)},
             {kiln_test_tensor(KILN_INT32, 1, (int64_t[]){1})},
             3,
             1};
  CHECK_ERROR(prepare(&l), KILN_ERR_UNSUPPORTED, "at most 31");
  l.attrs = &dense;
  CHECK_ERROR(prepare(&l), KILN_ERR_INVALID_MODEL, "input 2 (weight) has 2");
  l.in[2]->dims[0] = 3;
  CHECK_OK(prepare(&l));
  l.in[0]->dims[1] = 33;
  CHECK_ERROR(prepare(&l), KILN_ERR_UNSUPPORTED, "at most 32");
  l.in[0]->dims[1] = 32;
  l.in[1]->rank = 0;
  CHECK_ERROR(prepare(&l), KILN_ERR_INVALID_MODEL, "is a scalar");
  l.in[1]->rank = 1;
  l.in[0]->dtype = KILN_FLOAT16;
  CHECK_ERROR(prepare(&l), KILN_ERR_UNSUPPORTED, "input 0 (hash) has type");
  rnode_free(&l);
}

/* ---- through a session: the node's state is the session's ---- */

/* RANDOM_UNIFORM of constant shape [2, 3], unseeded, as a whole model. */
static kiln_status *load_uniform_model(kiln_model **model) {
  static const int32_t shape[2] = {2, 3};
  tb_model m;
  memset(&m, 0, sizeof m);
  m.num_opcodes = 1;
  m.opcodes[0] = (tb_opcode){TFL_OP_RANDOM_UNIFORM, 127, NULL};
  m.num_tensors = 2;
  m.tensors[0] = (tb_tensor){.name = "shape",
                             .type = 2,
                             .rank = 1,
                             .shape = {2},
                             .buffer = 1}; /* INT32 */
  m.tensors[1] = (tb_tensor){
      .name = "y", .type = 0, .rank = 2, .shape = {2, 3}}; /* FLOAT32 */
  m.num_outputs = 1;
  m.outputs[0] = 1;
  m.num_operators = 1;
  m.operators[0] = (tb_operator){.num_inputs = 1,
                                 .inputs = {0},
                                 .num_outputs = 1,
                                 .outputs = {1},
                                 .options_type = TFL_OPT_RANDOM};
  m.num_buffers = 2;
  m.buffers[1] = (tb_buffer){.data = shape, .size = sizeof shape};
  size_t size;
  uint8_t *bytes = tb_build(&m, &size);
  kiln_status *st =
      kiln_model_load_buffer(bytes, size, "uniform.tflite", NULL, model);
  free(bytes);
  return st;
}

static void test_session_state(void) {
  kiln_model *model = NULL;
  CHECK_OK(load_uniform_model(&model));
  if (!model) return;
  kiln_session *a = NULL, *b = NULL;
  CHECK_OK(kiln_session_create(model, NULL, &a));
  CHECK_OK(kiln_session_create(model, NULL, &b));
  float first[6], second[6], other[6];
  CHECK_OK(kiln_session_invoke(a));
  CHECK_OK(kiln_session_get_output(a, 0, first, sizeof first));
  CHECK_OK(kiln_session_invoke(a));
  CHECK_OK(kiln_session_get_output(a, 0, second, sizeof second));
  CHECK_OK(kiln_session_invoke(b));
  CHECK_OK(kiln_session_get_output(b, 0, other, sizeof other));
  /* each invoke draws anew; each session has its own stream */
  CHECK(memcmp(first, second, sizeof first) != 0);
  CHECK(memcmp(first, other, sizeof first) != 0);
  for (int i = 0; i < 6; i++)
    CHECK(first[i] >= 0.0f && first[i] < 1.0f && second[i] >= 0.0f &&
          second[i] < 1.0f);
  kiln_session_free(a);
  kiln_session_free(b);
  kiln_model_free(model);
}

int main(void) {
  kiln_test_seed(0x5eed);
  test_known_answers();
  test_counter_arithmetic();
  test_uniform_and_normal();
  test_unseeded();
  test_multinomial();
  test_bit_generator();
  test_fingerprint_pieces();
  test_lsh_projection();
  test_errors();
  test_session_state();
  return kiln_test_finish("test_ref_random");
}
