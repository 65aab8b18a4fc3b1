/* test_opt_elementwise.c - elementwise/MEAN/pool variants vs the reference. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/threadpool.h"
#include "harness.h"
#include "kernels/kernel.h"
#include "kernels/variants.h"
#include "kernels/x86/x86_kernels.h"

/* ADD/SUB/MUL, the activations, MEAN and the pools at every instruction set
 * this CPU has, chosen as the runtime does, on random shapes and
 * broadcasts, special values and every activation, with and without a
 * thread pool (of 3 threads, so that chunks of rows split unevenly). */

static kiln_threadpool *pool3;
static int variant_runs;

/* How close a variant must come to the reference. */
typedef enum tolerance {
  EXACT,    /* bit for bit, any NaN matching any NaN */
  ROUNDING, /* 2e-6 relative, or below the smallest normal float */
  MEAN_SUM, /* a differently ordered double sum, rounded to float */
} tolerance;

static bool close_enough(float got, float want, tolerance tol) {
  if (isnan(got) || isnan(want)) return isnan(got) && isnan(want);
  if (tol == EXACT) return got == want && signbit(got) == signbit(want);
  if (got == want) return true;
  double err = fabs((double)got - want);
  double rel = tol == ROUNDING ? 2e-6 : 4e-7;
  return err <= rel * fabs(want) || err <= FLT_MIN;
}

static int compare(const kiln_tensor *got, const kiln_tensor *want,
                   tolerance tol, const char *what) {
  const float *g = got->data, *w = want->data;
  int64_t n = kiln_tensor_numel(want);
  int bad = 0;
  for (int64_t i = 0; i < n; i++) {
    if (close_enough(g[i], w[i], tol)) continue;
    if (bad++ < 5)
      fprintf(stderr, "  %s: element %lld: got %.9g, want %.9g\n", what,
              (long long)i, g[i], w[i]);
  }
  return bad;
}

/* Runs op's reference, then the variant every ISA level chooses, pool NULL
 * and 3 threads, and compares. `expect` says whether a variant must take
 * the node (at every level) or must leave it to the reference. */
static void check_op(kiln_op_type op, const void *attrs, kiln_tensor **inputs,
                     int num_inputs, bool expect, tolerance tol,
                     const char *desc) {
  kiln_tensor *want = kiln_test_output();
  CHECK_OK(kiln_test_run_op1(op, attrs, inputs, num_inputs, want));
  kiln_tensor *got = kiln_test_tensor(KILN_FLOAT32, want->rank, want->dims);
  kiln_tensor *outputs[1] = {got};
  kiln_op_ctx ctx = {attrs, inputs, num_inputs, outputs, 1, NULL, NULL, NULL};
  int64_t n = kiln_tensor_numel(want);
  char what[200];
  kiln_isa best = kiln_test_float_isa();
  for (int isa = KILN_ISA_PORTABLE; isa <= (int)best; isa++) {
    const kiln_kernel_variant *v =
        kiln_variant_select(op, (kiln_isa)isa, NULL, &ctx);
    snprintf(what, sizeof what, "%s %s (%s)", kiln_op_table[op].name,
             v ? v->name : kiln_isa_name((kiln_isa)isa), desc);
    if (!expect) {
      if (v) fprintf(stderr, "%s: unexpectedly taken\n", what);
      CHECK(v == NULL);
      continue;
    }
    CHECK(v != NULL && v->isa == (kiln_isa)isa);
    if (!v) {
      fprintf(stderr, "%s: no variant\n", what);
      continue;
    }
    for (int p = 0; p < 2; p++) {
      ctx.pool = p ? pool3 : NULL;
      for (int64_t i = 0; i < n; i++) ((float *)got->data)[i] = -12345.0f;
      CHECK_OK(v->run(&ctx));
      int bad = compare(got, want, tol, what);
      if (bad) fprintf(stderr, "%s, pool %d: %d bad\n", what, p, bad);
      CHECK(bad == 0);
      variant_runs++;
    }
  }
  kiln_test_tensor_free(got);
  kiln_test_tensor_free(want);
}

static bool is_clamp(kiln_activation act) {
  return act == KILN_ACT_NONE || act == KILN_ACT_RELU ||
         act == KILN_ACT_RELU6 || act == KILN_ACT_RELU_N1_TO_1;
}

static const int64_t channel_choices[] = {1, 3, 8, 15, 16, 17, 33, 100};

static int64_t random_channels(void) {
  return channel_choices[kiln_test_int(
      0, (int)(sizeof channel_choices / sizeof channel_choices[0]) - 1)];
}

static void random_shape(int rank, int64_t *dims) {
  for (int d = 0; d < rank; d++) dims[d] = kiln_test_int(1, d == 0 ? 3 : 30);
  if (rank > 0) dims[rank - 1] = random_channels();
}

/* Sprinkles values the kernels must treat like the reference does. */
static void sprinkle_specials(kiln_tensor *t) {
  static const float specials[] = {
      0.0f,  -0.0f, INFINITY, -INFINITY, NAN,  1e-40f,   -1e-40f,   FLT_MAX,
      -3.0f, 3.0f,  6.0f,     -1.0f,     1.0f, -FLT_MAX, 6.0000005f};
  int64_t n = kiln_tensor_numel(t);
  float *x = t->data;
  for (size_t i = 0; i < sizeof specials / sizeof specials[0]; i++)
    x[kiln_test_int(0, (int)n - 1)] = specials[i];
}

/* ------------------------------------------------------------ binary */

typedef enum bcast_kind {
  SAME,
  SCALAR_A,
  SCALAR_B,
  CHANNEL_A, /* [C] or [1,..,1,C] against the full input */
  CHANNEL_B,
  BATCH_CHANNEL_B, /* [N,1,1,C] */
  LEADING_B,       /* [N,H,1,1]: the broadcast operand repeats per pixel */
  BOTH,            /* [1,H,1,C] + [1,1,W,C]: no variant takes it */
  BCAST_KINDS
} bcast_kind;

static void test_binary_case(kiln_op_type op, bcast_kind kind,
                             kiln_activation act, bool big) {
  int64_t full[4], part[4];
  int rank = kind == BATCH_CHANNEL_B || kind == LEADING_B || kind == BOTH
                 ? 4
                 : kiln_test_int(1, 4);
  random_shape(rank, full);
  /* Over KILN_EW_GRAIN_CHEAP elements, so the pool splits it. */
  if (big) full[0] = 2, full[1] = 40, full[2] = 40, full[3] = 33, rank = 4;
  int part_rank = rank;
  for (int d = 0; d < rank; d++) part[d] = full[d];
  int64_t a_dims[4], b_dims[4];
  int a_rank = rank, b_rank = rank;
  switch (kind) {
    case SAME:
      break;
    case SCALAR_A:
    case SCALAR_B:
      part_rank = kiln_test_int(0, 1);
      part[0] = 1;
      break;
    case CHANNEL_A:
    case CHANNEL_B:
      if (kiln_test_int(0, 1)) {
        part_rank = 1;
        part[0] = full[rank - 1];
      } else {
        for (int d = 0; d + 1 < rank; d++) part[d] = 1;
      }
      break;
    case BATCH_CHANNEL_B:
      full[0] = kiln_test_int(2, 3);
      part[0] = full[0];
      part[1] = part[2] = 1;
      part[3] = full[3];
      break;
    case LEADING_B:
      part[0] = full[0];
      part[1] = full[1];
      part[2] = part[3] = 1;
      break;
    case BOTH: /* H and W at least 2, or it is a plain broadcast */
      full[0] = 1;
      full[1] = kiln_test_int(2, 9);
      full[2] = kiln_test_int(2, 9);
      for (int d = 0; d < 4; d++) part[d] = full[d];
      full[2] = 1;
      part[1] = 1;
      break;
    default:
      break;
  }
  bool a_is_part = kind == SCALAR_A || kind == CHANNEL_A;
  memcpy(a_dims, a_is_part ? part : full, sizeof a_dims);
  memcpy(b_dims, a_is_part ? full : part, sizeof b_dims);
  if (a_is_part) a_rank = part_rank;
  if (!a_is_part && kind != SAME) b_rank = part_rank;
  kiln_tensor *a = kiln_test_tensor_f32(a_rank, a_dims, NULL);
  kiln_tensor *b = kiln_test_tensor_f32(b_rank, b_dims, NULL);
  kiln_test_fill(a->data, kiln_tensor_numel(a), -8.0f, 8.0f);
  kiln_test_fill(b->data, kiln_tensor_numel(b), -8.0f, 8.0f);
  if (kiln_test_int(0, 3) == 0) sprinkle_specials(a);
  kiln_tensor *inputs[2] = {a, b};
  kiln_activation_attrs attrs = {act};
  bool expect = kind != BOTH && act != KILN_ACT_TANH;
  /* a op b is the same float operation in both; then a clamp is exact and
   * the others are the vectorized functions, as in test_unary. */
  tolerance tol = is_clamp(act) ? EXACT : ROUNDING;
  char desc[120], buf_a[KILN_DIMS_STR_SIZE], buf_b[KILN_DIMS_STR_SIZE];
  snprintf(desc, sizeof desc, "%s x %s act %d",
           kiln_dims_str(a->dims, a->rank, buf_a, sizeof buf_a),
           kiln_dims_str(b->dims, b->rank, buf_b, sizeof buf_b), (int)act);
  check_op(op, &attrs, inputs, 2, expect, tol, desc);
  /* No attributes at all means no activation. */
  if (act == KILN_ACT_NONE) check_op(op, NULL, inputs, 2, expect, EXACT, desc);
  kiln_test_tensors_free(inputs, 2);
}

static void test_binary(void) {
  static const kiln_op_type ops[] = {KILN_OP_ADD, KILN_OP_SUB, KILN_OP_MUL};
  for (int o = 0; o < 3; o++)
    for (int k = 0; k < BCAST_KINDS; k++)
      for (int rep = 0; rep < 4; rep++)
        test_binary_case(ops[o], (bcast_kind)k, kiln_test_random_activation(),
                         false);
  /* Enough elements to split across threads (and to take the epilogue
   * piece by piece), every activation. */
  for (int o = 0; o < 3; o++)
    for (int a = 0; a <= KILN_TEST_OPTIMIZED_ACTIVATIONS; a++)
      test_binary_case(ops[o], (bcast_kind)kiln_test_int(0, BCAST_KINDS - 2),
                       kiln_test_activations[a], true);
}

/* Integer inputs stay with the reference. */
static void test_binary_int(void) {
  int64_t dims[1] = {4};
  int32_t values[4] = {1, 2, 3, 4};
  kiln_tensor *a = kiln_test_tensor_i32(1, dims, values);
  kiln_tensor *b = kiln_test_tensor_i32(1, dims, values);
  kiln_tensor *inputs[2] = {a, b};
  kiln_tensor *out = kiln_test_tensor(KILN_INT32, 1, dims);
  kiln_tensor *outputs[1] = {out};
  kiln_op_ctx ctx = {NULL, inputs, 2, outputs, 1, NULL, NULL, NULL};
  for (int isa = KILN_ISA_PORTABLE; isa <= (int)kiln_test_float_isa(); isa++)
    CHECK(kiln_variant_select(KILN_OP_ADD, (kiln_isa)isa, NULL, &ctx) == NULL);
  kiln_test_tensor_free(out);
  kiln_test_tensors_free(inputs, 2);
}

/* ------------------------------------------------------------- unary */

/* Values across every binade from subnormal to overflow, both signs, with
 * the specials; then uniform samples where the functions bend. */
static kiln_tensor *sweep_tensor(int64_t n) {
  int64_t dims[1] = {n};
  kiln_tensor *t = kiln_test_tensor_f32(1, dims, NULL);
  float *x = t->data;
  for (int64_t i = 0; i < n; i++) {
    uint32_t r = kiln_test_rand();
    switch (i % 4) {
      case 0: { /* any finite float with exponent up to 2^7 */
        uint32_t bits = (r & 0x80000000u) | (r % (0x43000000u));
        memcpy(&x[i], &bits, sizeof bits);
        break;
      }
      case 1:
        x[i] = kiln_test_uniform(-20.0f, 20.0f);
        break;
      case 2:
        x[i] = kiln_test_uniform(-1.0f, 1.0f);
        break;
      default:
        x[i] = kiln_test_uniform(-120.0f, 120.0f);
        break;
    }
  }
  sprinkle_specials(t);
  return t;
}

static void test_unary(void) {
  static const struct {
    kiln_op_type op;
    tolerance tol;
  } ops[] = {
      {KILN_OP_RELU, EXACT},         {KILN_OP_RELU6, EXACT},
      {KILN_OP_RELU_N1_TO_1, EXACT}, {KILN_OP_LOGISTIC, ROUNDING},
      {KILN_OP_TANH, ROUNDING},      {KILN_OP_HARD_SWISH, ROUNDING},
  };
  for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++) {
    /* Small odd sizes for the tails, a big one for the threads. */
    for (int rep = 0; rep < 6; rep++) {
      int64_t n = rep == 5 ? 200003 : kiln_test_int(1, 100);
      kiln_tensor *x = sweep_tensor(n);
      kiln_tensor *inputs[1] = {x};
      char desc[64];
      snprintf(desc, sizeof desc, "%lld elements", (long long)n);
      check_op(ops[o].op, NULL, inputs, 1, true, ops[o].tol, desc);
      kiln_test_tensor_free(x);
    }
    /* A shaped tensor is the same to them. */
    int64_t dims[4];
    random_shape(4, dims);
    kiln_tensor *x = kiln_test_tensor_f32(4, dims, NULL);
    kiln_tensor *inputs[1] = {x};
    check_op(ops[o].op, NULL, inputs, 1, true, ops[o].tol, "4-D");
    kiln_test_tensor_free(x);
  }
}

/* Every float between 2^-10 and 16 in steps of 2^-15 relative: the
 * polynomial's range and the switch between formulas, densely. */
static void test_unary_dense(void) {
  int64_t n = 0, cap = 1 << 20;
  int64_t dims[1] = {cap};
  kiln_tensor *x = kiln_test_tensor_f32(1, dims, NULL);
  float *v = x->data;
  for (float f = 0x1p-10f; f < 16.0f && n + 2 <= cap; f *= 1.0f + 0x1p-15f) {
    v[n++] = f;
    v[n++] = -f;
  }
  x->dims[0] = n;
  kiln_tensor *inputs[1] = {x};
  check_op(KILN_OP_TANH, NULL, inputs, 1, true, ROUNDING, "dense");
  check_op(KILN_OP_LOGISTIC, NULL, inputs, 1, true, ROUNDING, "dense");
  check_op(KILN_OP_HARD_SWISH, NULL, inputs, 1, true, ROUNDING, "dense");
  kiln_test_tensor_free(x);
}

/* -------------------------------------------------------------- MEAN */

static void mean_case(const int64_t *dims, const int32_t *axes, int naxes,
                      bool keep, bool expect) {
  kiln_tensor *x = kiln_test_tensor_f32(4, dims, NULL);
  int64_t axes_dims[1] = {naxes};
  kiln_tensor *ax = kiln_test_tensor_i32(1, axes_dims, axes);
  kiln_tensor *inputs[2] = {x, ax};
  kiln_reduce_attrs attrs = {keep};
  char desc[96], buf[KILN_DIMS_STR_SIZE];
  snprintf(desc, sizeof desc, "%s axes %d.. keep %d",
           kiln_dims_str(dims, 4, buf, sizeof buf), axes[0], (int)keep);
  check_op(KILN_OP_MEAN, &attrs, inputs, 2, expect, MEAN_SUM, desc);
  kiln_test_tensors_free(inputs, 2);
}

static void test_mean(void) {
  static const int32_t hw[][2] = {{1, 2}, {2, 1}, {-3, -2}, {1, -2}};
  for (int rep = 0; rep < 24; rep++) {
    int64_t dims[4];
    random_shape(4, dims);
    mean_case(dims, hw[rep % 4], 2, rep % 3 == 0, true);
  }
  int64_t big[4] = {2, 14, 14, 257};
  mean_case(big, hw[0], 2, true, true);
  int32_t repeated[3] = {1, 2, 1};
  int64_t dims[4] = {1, 5, 7, 9};
  mean_case(dims, repeated, 3, false, true);
  /* Other axes are the reference's. */
  int32_t h_only[1] = {1}, hwc[3] = {1, 2, 3}, nhw[3] = {0, 1, 2};
  mean_case(dims, h_only, 1, true, false);
  mean_case(dims, hwc, 3, true, false);
  mean_case(dims, nhw, 3, false, false);
}

/* ----------------------------------------------------------- pooling */

static void test_pool(void) {
  for (int rep = 0; rep < 80; rep++) {
    kiln_pool_attrs a;
    a.padding = kiln_test_int(0, 1) ? KILN_PAD_SAME : KILN_PAD_VALID;
    a.filter_h = kiln_test_int(1, 4);
    a.filter_w = kiln_test_int(0, 3) ? a.filter_h : kiln_test_int(1, 4);
    a.stride_h = kiln_test_int(1, 3);
    a.stride_w = kiln_test_int(0, 1) ? a.stride_h : kiln_test_int(1, 3);
    a.activation = kiln_test_random_activation();
    int64_t dims[4] = {kiln_test_int(1, 3), kiln_test_int(1, 20),
                       kiln_test_int(1, 20), random_channels()};
    if (rep % 10 == 0) { /* global pooling, 7x7 VALID */
      dims[1] = dims[2] = 7;
      a.filter_h = a.filter_w = 7;
      a.padding = KILN_PAD_VALID;
    }
    if (rep % 10 == 1) { /* enough rows for the pool to split */
      dims[0] = 2, dims[1] = dims[2] = 40, dims[3] = 64;
      a.filter_h = a.filter_w = 3;
      a.stride_h = a.stride_w = 1;
    }
    if (a.padding == KILN_PAD_VALID) {
      if (dims[1] < a.filter_h) dims[1] = a.filter_h;
      if (dims[2] < a.filter_w) dims[2] = a.filter_w;
    }
    kiln_tensor *x = kiln_test_tensor_f32(4, dims, NULL);
    if (rep % 4 == 0) sprinkle_specials(x);
    kiln_tensor *inputs[1] = {x};
    char desc[128], buf[KILN_DIMS_STR_SIZE];
    snprintf(desc, sizeof desc, "%s f%dx%d s%dx%d %s act %d",
             kiln_dims_str(dims, 4, buf, sizeof buf), a.filter_h, a.filter_w,
             a.stride_h, a.stride_w,
             a.padding == KILN_PAD_SAME ? "SAME" : "VALID", (int)a.activation);
    /* The pools clamp; other activations stay with the reference. */
    bool expect = is_clamp(a.activation);
    check_op(KILN_OP_AVERAGE_POOL_2D, &a, inputs, 1, expect, EXACT, desc);
    check_op(KILN_OP_MAX_POOL_2D, &a, inputs, 1, expect, EXACT, desc);
    kiln_test_tensor_free(x);
  }
}

/* Whether a pool of `attrs` over `dims` splits its output rows into more
 * than `min_chunks` chunks of at least KILN_POOL_GRAIN_BYTES (or runs as
 * one chunk when min_chunks is 0); then runs it on every level, on the
 * caller and on 3 threads. */
static void pool_split_case(const int64_t *dims, kiln_pool_attrs attrs,
                            int64_t min_chunks) {
  kiln_tensor *x = kiln_test_tensor_f32(4, dims, NULL);
  kiln_tensor *y = kiln_test_output();
  kiln_tensor *inputs[1] = {x}, *outputs[1] = {y};
  CHECK_OK(kiln_test_run_op1(KILN_OP_MAX_POOL_2D, &attrs, inputs, 1, y));
  kiln_op_ctx ctx = {&attrs, inputs, 1, outputs, 1, NULL, NULL, NULL};
  kiln_pool_geom g;
  kiln_pool_geometry(&ctx, &g);
  int64_t rows = g.batch * g.out_h, grain = kiln_pool_row_grain(&g);
  int64_t row_bytes = g.out_w * g.channels * (int64_t)sizeof(float);
  CHECK(grain >= 1 && grain * row_bytes >= KILN_POOL_GRAIN_BYTES);
  CHECK(min_chunks ? rows / grain > min_chunks : grain >= rows);
  char desc[96], buf[KILN_DIMS_STR_SIZE];
  snprintf(desc, sizeof desc, "%s split",
           kiln_dims_str(dims, 4, buf, sizeof buf));
  check_op(KILN_OP_MAX_POOL_2D, &attrs, inputs, 1, true, EXACT, desc);
  check_op(KILN_OP_AVERAGE_POOL_2D, &attrs, inputs, 1, true, EXACT, desc);
  kiln_test_tensor_free(x);
  kiln_test_tensor_free(y);
}

static void test_pool_split(void) {
  /* ResNet50's stem pool: 56 rows of 14 KiB in chunks of 3. */
  int64_t resnet[4] = {1, 112, 112, 64};
  pool_split_case(resnet, (kiln_pool_attrs){KILN_PAD_SAME, 2, 2, 3, 3, 0}, 16);
  /* Rows of a few floats: one chunk, on the caller. */
  int64_t tiny[4] = {2, 9, 9, 5};
  pool_split_case(tiny, (kiln_pool_attrs){KILN_PAD_VALID, 1, 1, 2, 2, 0}, 0);
}

int main(void) {
  kiln_test_seed(88);
  CHECK_OK(kiln_threadpool_create(3, NULL, &pool3));
  test_binary();
  test_binary_int();
  test_unary();
  test_unary_dense();
  test_mean();
  test_pool();
  test_pool_split();
  printf("test_opt_elementwise: %d variant runs up to %s\n", variant_runs,
         kiln_isa_name(kiln_test_float_isa()));
  kiln_threadpool_free(pool3);
  return kiln_test_finish("test_opt_elementwise");
}
