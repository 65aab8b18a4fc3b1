/* test_opt_epilogue.c - the activation epilogue of the optimized kernels
 * (kernels/epilogue.h) at every instruction-set level this CPU has: the row
 * helper against the reference activations and the standalone variants,
 * the KxK convolutions, whose GEMM sums K in blocks and must activate only
 * the last, and the contract the fusion pass relies on (an op that
 * kiln_activation_fusable accepts keeps its variants). FULLY_CONNECTED, 1x1
 * CONV_2D, depthwise and the binary ops are checked with every activation
 * in their own test_opt_*.c. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/threadpool.h"
#include "harness.h"
#include "kernels/epilogue.h"
#include "kernels/variants.h"

static const kiln_activation internal_acts[3] = {
    KILN_ACT_HARD_SWISH, KILN_ACT_LOGISTIC, KILN_ACT_SWISH};

static kiln_threadpool *pools[3]; /* NULL, 1 thread, 3 threads */

static bool same_bits(float a, float b) {
  return memcmp(&a, &b, sizeof a) == 0 || (isnan(a) && isnan(b));
}

/* Random values where the activations bend, large ones, and the specials. */
static void fill_values(float *x, int64_t n) {
  static const float specials[] = {0.0f,  -0.0f,   INFINITY, -INFINITY,
                                   NAN,   -3.0f,   3.0f,     -1e-40f,
                                   90.0f, -104.0f, FLT_MAX,  -FLT_MAX};
  for (int64_t i = 0; i < n; i++)
    x[i] = kiln_test_int(0, 9) == 0
               ? specials[kiln_test_int(
                     0, (int)(sizeof specials / sizeof specials[0]) - 1)]
               : kiln_test_uniform(-12.0f, 12.0f);
}

/* The standalone op's variant at `isa` over n values, into y. */
static void run_standalone(kiln_op_type op, kiln_isa isa, const float *x,
                           float *y, int64_t n) {
  int64_t dims[1] = {n};
  kiln_tensor *in = kiln_test_tensor_f32(1, dims, x);
  kiln_tensor *out = kiln_test_tensor(KILN_FLOAT32, 1, dims);
  kiln_tensor *inputs[1] = {in}, *outputs[1] = {out};
  kiln_op_ctx ctx = {NULL, inputs, 1, outputs, 1, NULL, NULL, NULL};
  const kiln_kernel_variant *v = kiln_variant_select(op, isa, NULL, &ctx);
  CHECK(v != NULL);
  if (v) CHECK_OK(v->run(&ctx));
  memcpy(y, out->data, (size_t)n * sizeof *y);
  kiln_test_tensor_free(in);
  kiln_test_tensor_free(out);
}

/* rows x cols inside a buffer of row stride `stride`: the rows match the
 * standalone variants of the same instruction set bit for bit (SWISH:
 * x times the LOGISTIC variant's result) and the reference within a few
 * ulps; the gaps between rows are untouched. */
static void rows_case(kiln_activation act, kiln_isa isa, size_t rows,
                      size_t cols, size_t stride) {
  int64_t n = (int64_t)(rows * stride);
  float *x = malloc((size_t)n * sizeof *x), *c = malloc((size_t)n * sizeof *c);
  float *dense = malloc(rows * cols * sizeof *dense);
  float *standalone = malloc(rows * cols * sizeof *standalone);
  fill_values(x, n);
  memcpy(c, x, (size_t)n * sizeof *c);
  kiln_f32_activation_rows(act, isa, c, rows, cols, stride);
  for (size_t r = 0; r < rows; r++)
    memcpy(dense + r * cols, x + r * stride, cols * sizeof *dense);
  if (act == KILN_ACT_HARD_SWISH)
    run_standalone(KILN_OP_HARD_SWISH, isa, dense, standalone,
                   (int64_t)(rows * cols));
  else
    run_standalone(KILN_OP_LOGISTIC, isa, dense, standalone,
                   (int64_t)(rows * cols));
  int bad = 0;
  for (size_t r = 0; r < rows; r++)
    for (size_t i = 0; i < stride; i++) {
      float in = x[r * stride + i], got = c[r * stride + i];
      bool ok;
      if (i >= cols) {
        ok = same_bits(got, in);
      } else {
        float s = standalone[r * cols + i];
        float want = kiln_activate(in, act);
        double err = fabs((double)got - want);
        ok = same_bits(got, act == KILN_ACT_SWISH ? in * s : s) &&
             (same_bits(got, want) || err <= 2e-6 * fabs(want) ||
              err <= FLT_MIN);
      }
      if (!ok && bad++ < 3)
        fprintf(stderr, "  act %d %s %zux%zu/%zu [%zu][%zu]: %g -> %g\n",
                (int)act, kiln_isa_name(isa), rows, cols, stride, r, i, in,
                got);
    }
  CHECK(bad == 0);
  free(x);
  free(c);
  free(dense);
  free(standalone);
}

static void test_rows(void) {
  kiln_isa best = kiln_test_float_isa();
  for (int isa = KILN_ISA_PORTABLE; isa <= (int)best; isa++)
    for (int a = 0; a < 3; a++)
      for (int rep = 0; rep < 12; rep++) {
        size_t rows = (size_t)kiln_test_int(1, 13);
        size_t cols = (size_t)kiln_test_int(1, 70);
        size_t gap = rep % 3 == 0 ? 0 : (size_t)kiln_test_int(1, 9);
        rows_case(internal_acts[a], (kiln_isa)isa, rows, cols, cols + gap);
      }
}

/* Clamps too (the helper is total over what it supports); NONE, TANH and
 * SIGN_BIT leave the rows alone, the latter two being unsupported. */
static void test_rows_clamps_and_support(void) {
  static const kiln_activation clamps[] = {KILN_ACT_RELU, KILN_ACT_RELU6,
                                           KILN_ACT_RELU_N1_TO_1};
  float x[37], c[37];
  kiln_isa best = kiln_test_float_isa();
  for (int isa = KILN_ISA_PORTABLE; isa <= (int)best; isa++) {
    for (int a = 0; a < 3; a++) {
      fill_values(x, 37);
      memcpy(c, x, sizeof c);
      kiln_f32_activation_rows(clamps[a], (kiln_isa)isa, c, 3, 11, 12);
      for (int i = 0; i < 37; i++)
        CHECK(same_bits(c[i], i % 12 < 11 && i < 36
                                  ? kiln_activate(x[i], clamps[a])
                                  : x[i]));
    }
    static const kiln_activation untouched[] = {KILN_ACT_NONE, KILN_ACT_TANH,
                                                KILN_ACT_SIGN_BIT};
    for (int a = 0; a < 3; a++) {
      fill_values(x, 37);
      memcpy(c, x, sizeof c);
      kiln_f32_activation_rows(untouched[a], (kiln_isa)isa, c, 1, 37, 37);
      CHECK(memcmp(c, x, sizeof c) == 0);
    }
  }
  CHECK(kiln_f32_activation_rows_supports(KILN_ACT_NONE));
  CHECK(kiln_f32_activation_rows_supports(KILN_ACT_RELU6));
  for (int a = 0; a < 3; a++)
    CHECK(kiln_f32_activation_rows_supports(internal_acts[a]));
  CHECK(!kiln_f32_activation_rows_supports(KILN_ACT_TANH));
  CHECK(!kiln_f32_activation_rows_supports(KILN_ACT_SIGN_BIT));
  /* What a GEMM looks up once per run: only the non-clamps have one. */
  for (int a = 0; a < 3; a++)
    CHECK(kiln_f32_activation_rows_lookup(internal_acts[a], best) != NULL);
  CHECK(kiln_f32_activation_rows_lookup(KILN_ACT_NONE, best) == NULL);
  CHECK(kiln_f32_activation_rows_lookup(KILN_ACT_RELU6, best) == NULL);
  CHECK(kiln_f32_activation_rows_lookup(KILN_ACT_TANH, best) == NULL);
}

/* ----------------------------------------------------- KxK CONV_2D */

static kiln_tensor *abs_copy(const kiln_tensor *t) {
  if (!t) return NULL;
  kiln_tensor *a = kiln_test_tensor(KILN_FLOAT32, t->rank, t->dims);
  for (int64_t i = 0; i < kiln_tensor_numel(t); i++)
    ((float *)a->data)[i] = fabsf(((const float *)t->data)[i]);
  return a;
}

/* A [1,h,w,c] -> o convolution with a kxk window: every level must run it
 * on a KxK variant, on every pool, within the GEMM's rounding (Winograd's
 * is up to 3e-5 of the sum of |terms|) stretched by the activation's slope
 * (at most 1.5) plus a few ulps of the result. */
static void conv_case(int64_t h, int64_t w, int64_t c, int64_t o, int k,
                      int stride, int dilation, kiln_activation act) {
  int64_t in_dims[4] = {1, h, w, c}, f_dims[4] = {o, k, k, c}, b_dims[1] = {o};
  kiln_tensor *in = kiln_test_tensor_f32(4, in_dims, NULL);
  kiln_tensor *f = kiln_test_tensor_f32(4, f_dims, NULL);
  kiln_tensor *bias = kiln_test_tensor_f32(1, b_dims, NULL);
  kiln_tensor *inputs[3] = {in, f, bias};
  kiln_conv_attrs attrs = {KILN_PAD_SAME, stride, stride, dilation,
                           dilation,      0,      act};
  kiln_tensor *want = kiln_test_output(), *mag = kiln_test_output();
  CHECK_OK(kiln_test_run_op1(KILN_OP_CONV_2D, &attrs, inputs, 3, want));
  kiln_tensor *abs_inputs[3] = {abs_copy(in), abs_copy(f), abs_copy(bias)};
  kiln_conv_attrs abs_attrs = attrs;
  abs_attrs.activation = KILN_ACT_NONE;
  CHECK_OK(kiln_test_run_op1(KILN_OP_CONV_2D, &abs_attrs, abs_inputs, 3, mag));
  kiln_tensor *got = kiln_test_tensor(KILN_FLOAT32, 4, want->dims);
  kiln_tensor *outputs[1] = {got};
  kiln_op_ctx ctx = {&attrs, inputs, 3, outputs, 1, NULL, NULL, NULL};
  int64_t count = kiln_tensor_numel(want);
  const float *wv = want->data, *mv = mag->data;
  kiln_isa best = kiln_test_float_isa();
  for (int isa = KILN_ISA_PORTABLE; isa <= (int)best; isa++) {
    void *packed;
    const kiln_kernel_variant *packer =
        kiln_test_pack_like_load(KILN_OP_CONV_2D, (kiln_isa)isa, &ctx, &packed);
    ctx.packed = packed;
    const kiln_kernel_variant *v =
        packed
            ? kiln_variant_select(KILN_OP_CONV_2D, (kiln_isa)isa, packer, &ctx)
            : NULL;
    CHECK(v != NULL && v == packer);
    for (int p = 0; v && p < 3; p++) {
      ctx.pool = pools[p];
      /* A variant with scratch runs on a pool that reserved it. */
      if (v->workspace) {
        if (!ctx.pool) ctx.pool = pools[1];
        CHECK_OK(kiln_threadpool_reserve_scratch(ctx.pool, v->workspace(&ctx)));
      }
      float *out = got->data;
      for (int64_t i = 0; i < count; i++) out[i] = 12345.0f;
      CHECK_OK(v->run(&ctx));
      int64_t bad = 0;
      for (int64_t i = 0; i < count; i++) {
        float tol = 1.5f * (3e-5f * mv[i] + 1e-6f) + 2e-6f * fabsf(wv[i]);
        if (fabsf(out[i] - wv[i]) <= tol) continue;
        if (bad++ == 0)
          fprintf(stderr,
                  "  conv %lldx%lldx%lld o=%lld k%d s%d d%d act %d "
                  "%s pool %d: [%lld] %g vs %g\n",
                  (long long)h, (long long)w, (long long)c, (long long)o, k,
                  stride, dilation, (int)act, v->name, p, (long long)i, out[i],
                  wv[i]);
      }
      CHECK(bad == 0);
    }
    free(packed);
  }
  ctx.packed = NULL;
  kiln_tensor *all[10] = {
      in,  f, bias, want, mag, got, abs_inputs[0], abs_inputs[1], abs_inputs[2],
      NULL};
  kiln_test_tensors_free(all, 10);
}

static void test_conv_kxk(void) {
  for (int a = 0; a < 3; a++) {
    kiln_activation act = internal_acts[a];
    /* K = 9 * 20 = 180 and 25 * 7 = 175: two blocks of K, the epilogue
     * after the second only. */
    conv_case(9, 11, 20, 37, 3, 2, 1, act);
    conv_case(8, 7, 7, 16, 5, 1, 1, act);
    conv_case(10, 9, 16, 33, 3, 1, 2, act);
    conv_case(12, 13, 24, 40, 3, 1, 1, act);
    conv_case(kiln_test_int(1, 14), kiln_test_int(1, 14), kiln_test_int(1, 40),
              kiln_test_int(1, 70), 3, kiln_test_int(1, 2), 1, act);
  }
}

/* -------------------------------------------- the pass's contract */

/* The ops the pass fuses these activations into keep their variants (each
 * op's test checks them with every activation); the pools, which apply
 * clamps only, are kept out. */
static void test_fusable(void) {
  static const kiln_op_type fusable[] = {KILN_OP_CONV_2D,
                                         KILN_OP_DEPTHWISE_CONV_2D,
                                         KILN_OP_FULLY_CONNECTED,
                                         KILN_OP_ADD,
                                         KILN_OP_SUB,
                                         KILN_OP_MUL,
                                         KILN_OP_DIV,
                                         KILN_OP_TRANSPOSE_CONV,
                                         KILN_OP_CONCATENATION,
                                         KILN_OP_L2_NORMALIZATION};
  for (int a = 0; a < 3; a++) {
    for (size_t i = 0; i < sizeof fusable / sizeof fusable[0]; i++)
      CHECK(kiln_activation_fusable(fusable[i], internal_acts[a]));
    CHECK(!kiln_activation_fusable(KILN_OP_MAX_POOL_2D, internal_acts[a]));
    CHECK(!kiln_activation_fusable(KILN_OP_AVERAGE_POOL_2D, internal_acts[a]));
    CHECK(!kiln_activation_fusable(KILN_OP_RESHAPE, internal_acts[a]));
  }
  CHECK(kiln_activation_fusable(KILN_OP_MAX_POOL_2D, KILN_ACT_RELU6));
  CHECK(!kiln_activation_fusable(KILN_OP_CONV_2D, KILN_ACT_TANH));
  /* A pool with one of them fused would run the reference. */
  int64_t dims[4] = {1, 4, 4, 8};
  kiln_tensor *in = kiln_test_tensor_f32(4, dims, NULL);
  kiln_tensor *out = kiln_test_output();
  kiln_pool_attrs attrs = {KILN_PAD_VALID, 2, 2, 2, 2, KILN_ACT_HARD_SWISH};
  CHECK_OK(kiln_test_run_op1(KILN_OP_MAX_POOL_2D, &attrs, &in, 1, out));
  kiln_tensor *outputs[1] = {out};
  kiln_op_ctx ctx = {&attrs, &in, 1, outputs, 1, NULL, NULL, NULL};
  for (int isa = KILN_ISA_PORTABLE; isa <= (int)kiln_test_float_isa(); isa++)
    CHECK(kiln_variant_select(KILN_OP_MAX_POOL_2D, (kiln_isa)isa, NULL, &ctx) ==
          NULL);
  kiln_test_tensor_free(in);
  kiln_test_tensor_free(out);
}

int main(void) {
  kiln_test_seed(0x3e91);
  CHECK_OK(kiln_threadpool_create(1, NULL, &pools[1]));
  CHECK_OK(kiln_threadpool_create(3, NULL, &pools[2]));
  test_rows();
  test_rows_clamps_and_support();
  test_conv_kxk();
  test_fusable();
  kiln_threadpool_free(pools[1]);
  kiln_threadpool_free(pools[2]);
  return kiln_test_finish("test_opt_epilogue");
}
