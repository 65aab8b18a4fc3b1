/* test_opt_gemm.c - the GEMM variants of FULLY_CONNECTED, 1x1 CONV_2D
 * (weights packed at load) and BATCH_MATMUL against the reference kernels, at
 * every instruction-set level this CPU has, single-threaded and on pools of 1
 * and 3 threads: random shapes around the tile edges, bias or none, each fused
 * activation. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/threadpool.h"
#include "harness.h"
#include "kernels/gemm/gemm.h"
#include "kernels/variants.h"

static kiln_threadpool *pools[3]; /* NULL, 1 thread, 3 threads */

static kiln_tensor *f32(int rank, const int64_t *dims) {
  return kiln_test_tensor_f32(rank, dims, NULL);
}

/* The activations the variants apply: clamps in the microkernels, the
 * others in the epilogue after each tile. */
static kiln_activation optimized_activation(void) {
  return kiln_test_activations[kiln_test_int(
      0, KILN_TEST_OPTIMIZED_ACTIVATIONS - 1)];
}

static bool is_clamp(kiln_activation act) {
  return act == KILN_ACT_NONE || act == KILN_ACT_RELU ||
         act == KILN_ACT_RELU6 || act == KILN_ACT_RELU_N1_TO_1;
}

/* Per output, the sum of |terms| (products and bias) that the error of a
 * float sum scales with; `a_row` gives the input offset of output row r. */
typedef int64_t (*row_offset_fn)(const void *geom, int64_t r);

static void term_scale(const float *a, const float *w, const float *bias,
                       int64_t rows, int64_t n, int64_t k, row_offset_fn off,
                       const void *geom, float *scale) {
  for (int64_t r = 0; r < rows; r++) {
    const float *x = a + off(geom, r);
    for (int64_t j = 0; j < n; j++) {
      double s = bias ? fabs(bias[j]) : 0.0;
      for (int64_t i = 0; i < k; i++) s += fabs((double)x[i] * w[j * k + i]);
      scale[r * n + j] = (float)s;
    }
  }
}

/* |got - want| <= 1e-5 * scale + 1e-6 everywhere; NaN where want is. An
 * activation that is not a clamp stretches that by up to its slope (1.5,
 * hard swish's at 3) and adds a few ulps of its own (the vectorized
 * function's). */
static void check_close(const float *got, const float *want, const float *scale,
                        int64_t count, kiln_activation act, const char *what,
                        kiln_isa isa, int pool) {
  int64_t bad = 0, first = -1;
  for (int64_t i = 0; i < count; i++) {
    float tol = 1e-5f * scale[i] + 1e-6f;
    if (!is_clamp(act)) tol = 1.5f * tol + 2e-6f * fabsf(want[i]);
    bool ok = isnan(want[i]) ? isnan(got[i]) : fabsf(got[i] - want[i]) <= tol;
    if (!ok && bad++ == 0) first = i;
  }
  CHECK(bad == 0);
  if (bad)
    fprintf(stderr, "  %s at %s, pool %d: %lld bad, first [%lld] %g vs %g\n",
            what, kiln_isa_name(isa), pool, (long long)bad, (long long)first,
            got[first], want[first]);
}

/* Packs ctx's node at each level, checks the variant chosen at prepare is
 * the one that packed (or none when `expect` is false), runs it on each
 * pool and compares with the reference output. */
static void run_levels(kiln_op_type op, kiln_op_ctx *ctx,
                       const kiln_tensor *ref, const float *scale,
                       kiln_activation act, bool expect, const char *what) {
  kiln_isa best = kiln_test_float_isa();
  int64_t count = kiln_tensor_numel(ref);
  kiln_tensor *got = kiln_test_tensor(KILN_FLOAT32, ref->rank, ref->dims);
  kiln_tensor *outputs[1] = {got};
  ctx->outputs = outputs;
  for (int isa = KILN_ISA_PORTABLE; isa <= (int)best; isa++) {
    void *packed;
    const kiln_kernel_variant *packer =
        kiln_test_pack_like_load(op, (kiln_isa)isa, ctx, &packed);
    ctx->packed = packed;
    const kiln_kernel_variant *v =
        packed ? kiln_variant_select(op, (kiln_isa)isa, packer, ctx) : NULL;
    CHECK(expect == (v != NULL));
    if (v) {
      CHECK(v == packer);
      CHECK(v->isa == (kiln_isa)isa);
      CHECK(strstr(v->name, "gemm") != NULL);
      for (int p = 0; p < 3; p++) {
        ctx->pool = pools[p];
        float *out = got->data;
        for (int64_t i = 0; i < count; i++) out[i] = 12345.0f;
        CHECK_OK(v->run(ctx));
        check_close(got->data, ref->data, scale, count, act, what,
                    (kiln_isa)isa, p);
      }
    }
    free(packed);
  }
  ctx->packed = NULL;
  ctx->pool = NULL;
  kiln_test_tensor_free(got);
}

/* ---------------------------------------------------- FULLY_CONNECTED */

static int64_t fc_row(const void *geom, int64_t r) {
  return r * *(const int64_t *)geom;
}

/* Sizes drawn near the tile edges of every kernel as often as not. */
static int64_t edge_size(int lo, int hi) {
  static const int edges[] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  11, 12, 13,
                              15, 16, 17, 24, 31, 32, 33, 48, 63, 64, 65, 97};
  int e = edges[kiln_test_int(0, (int)(sizeof edges / sizeof *edges) - 1)];
  return kiln_test_int(0, 1) && e >= lo && e <= hi ? e : kiln_test_int(lo, hi);
}

static void fc_case(int64_t m, int64_t k, int64_t n, int bias_mode,
                    kiln_activation act, bool keep_num_dims, bool nan) {
  /* Input [2, m/2, k] when keep_num_dims and m is even, else [m, k]. */
  int64_t in_dims[3] = {m, k, 0};
  int rank = 2;
  if (keep_num_dims && m % 2 == 0) {
    in_dims[0] = 2;
    in_dims[1] = m / 2;
    in_dims[2] = k;
    rank = 3;
  }
  int64_t w_dims[2] = {n, k}, b_dims[1] = {n};
  kiln_tensor *in = f32(rank, in_dims), *w = f32(2, w_dims);
  kiln_tensor *bias = bias_mode == 0 ? f32(1, b_dims) : NULL;
  if (nan) ((float *)in->data)[kiln_test_int(0, (int)(m * k - 1))] = NAN;
  kiln_tensor *ref = kiln_test_output();
  kiln_tensor *inputs[3] = {in, w, bias};
  int num_inputs = bias_mode == 2 ? 2 : 3;
  kiln_fully_connected_attrs attrs = {act, keep_num_dims, false, 0};
  CHECK_OK(kiln_test_run_op1(KILN_OP_FULLY_CONNECTED, &attrs, inputs,
                             num_inputs, ref));
  float *scale = malloc((size_t)(m * n) * sizeof(float));
  term_scale(in->data, w->data, bias ? bias->data : NULL, m, n, k, fc_row, &k,
             scale);
  kiln_op_ctx ctx = {&attrs, inputs, num_inputs, NULL, 1, NULL, NULL, NULL};
  char what[96];
  snprintf(what, sizeof what, "fc m=%lld k=%lld n=%lld bias=%d act=%d",
           (long long)m, (long long)k, (long long)n, bias_mode, (int)act);
  run_levels(KILN_OP_FULLY_CONNECTED, &ctx, ref, scale, act,
             act != KILN_ACT_TANH, what);
  free(scale);
  kiln_tensor *all[4] = {in, w, bias, ref};
  kiln_test_tensors_free(all, 4);
}

static void test_fc_random(void) {
  for (int trial = 0; trial < 250; trial++)
    fc_case(edge_size(1, 100), edge_size(1, 300), edge_size(1, 200),
            kiln_test_int(0, 2), optimized_activation(), kiln_test_int(0, 1),
            false);
}

/* Every row count of every kernel's tile, and columns around the panel
 * widths, with a small K so the sweep is cheap. */
static void test_fc_edges(void) {
  static const int64_t ns[] = {1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64, 65};
  for (int64_t m = 1; m <= 25; m++)
    for (size_t i = 0; i < sizeof ns / sizeof *ns; i++)
      if (kiln_test_int(0, 3) == 0 || m == 1 || m == 12 || m == 13)
        fc_case(m, kiln_test_int(1, 20), ns[i], kiln_test_int(0, 2),
                optimized_activation(), false, false);
}

/* NaN in the input reaches the output through every activation, and TANH
 * (neither a clamp nor in the epilogue) is left to the reference kernel. */
static void test_fc_special(void) {
  for (int a = 0; a < KILN_TEST_OPTIMIZED_ACTIVATIONS; a++)
    fc_case(kiln_test_int(1, 30), kiln_test_int(1, 50), kiln_test_int(1, 40), 0,
            kiln_test_activations[a], false, true);
  fc_case(13, 20, 33, 0, KILN_ACT_TANH, false, false);
}

/* Weights or bias that are not constants at load are not packed. */
static void test_fc_not_packed(void) {
  int64_t in_dims[2] = {3, 5}, w_dims[2] = {4, 5}, b_dims[1] = {4};
  kiln_tensor *in = f32(2, in_dims), *w = f32(2, w_dims), *b = f32(1, b_dims);
  kiln_tensor *out = kiln_test_output();
  kiln_tensor *inputs[3] = {in, w, b}, *outputs[1] = {out};
  kiln_fully_connected_attrs attrs = {KILN_ACT_NONE, false, false, 0};
  kiln_op_ctx ctx = {&attrs, inputs, 3, outputs, 1, NULL, NULL, NULL};
  for (int isa = KILN_ISA_PORTABLE; isa <= (int)kiln_test_float_isa(); isa++) {
    void *saved = w->data, *packed;
    w->data = NULL;
    CHECK(kiln_test_pack_like_load(KILN_OP_FULLY_CONNECTED, (kiln_isa)isa, &ctx,
                                   &packed) == NULL);
    w->data = saved;
    saved = b->data;
    b->data = NULL;
    CHECK(kiln_test_pack_like_load(KILN_OP_FULLY_CONNECTED, (kiln_isa)isa, &ctx,
                                   &packed) == NULL);
    b->data = saved;
    CHECK(kiln_test_pack_like_load(KILN_OP_FULLY_CONNECTED, (kiln_isa)isa, &ctx,
                                   &packed) != NULL);
    free(packed);
  }
  kiln_tensor *all[4] = {in, w, b, out};
  kiln_test_tensors_free(all, 4);
}

/* -------------------------------------------------------- 1x1 CONV_2D */

typedef struct conv_geom {
  int64_t h, w, c, out_h, out_w;
  int stride_h, stride_w;
} conv_geom;

static int64_t conv_row(const void *geom, int64_t r) {
  const conv_geom *g = geom;
  int64_t x = r % g->out_w, y = r / g->out_w % g->out_h;
  int64_t b = r / (g->out_w * g->out_h);
  return ((b * g->h + y * g->stride_h) * g->w + x * g->stride_w) * g->c;
}

/* `groups` > 1 makes a grouped convolution, which must not be packed. With
 * `residual`, input 3 adds a tensor of the output's shape before the
 * activation, as passes/fuse_residual.c makes it. */
static void conv_case(int64_t batch, int64_t h, int64_t w, int64_t c, int64_t o,
                      int stride_h, int stride_w, int groups, int bias_mode,
                      kiln_activation act, bool residual) {
  int64_t in_dims[4] = {batch, h, w, c * groups}, f_dims[4] = {o, 1, 1, c};
  int64_t b_dims[1] = {o};
  kiln_tensor *in = f32(4, in_dims), *f = f32(4, f_dims);
  kiln_tensor *bias = bias_mode == 0 ? f32(1, b_dims) : NULL;
  kiln_tensor *ref = kiln_test_output();
  kiln_tensor *inputs[4] = {in, f, bias, NULL};
  int num_inputs = bias_mode == 2 ? 2 : 3;
  int dilation = kiln_test_int(1, 2);
  kiln_conv_attrs attrs = {
      .padding = kiln_test_int(0, 1) ? KILN_PAD_SAME : KILN_PAD_VALID,
      .stride_h = stride_h,
      .stride_w = stride_w,
      .dilation_h = dilation,
      .dilation_w = dilation,
      .activation = act,
  };
  CHECK_OK(kiln_test_run_op1(KILN_OP_CONV_2D, &attrs, inputs, num_inputs, ref));
  if (residual) {
    /* The output's shape is known now: run the reference again with a
     * residual of that shape. */
    inputs[3] = f32(ref->rank, ref->dims);
    num_inputs = 4;
    CHECK_OK(
        kiln_test_run_op1(KILN_OP_CONV_2D, &attrs, inputs, num_inputs, ref));
  }
  conv_geom g = {h, w, c, ref->dims[1], ref->dims[2], stride_h, stride_w};
  int64_t rows = batch * g.out_h * g.out_w;
  float *scale = calloc((size_t)(rows * o), sizeof(float));
  if (groups == 1)
    term_scale(in->data, f->data, bias ? bias->data : NULL, rows, o, c,
               conv_row, &g, scale);
  if (residual)
    for (int64_t i = 0; i < rows * o; i++)
      scale[i] += fabsf(((const float *)inputs[3]->data)[i]);
  kiln_op_ctx ctx = {&attrs, inputs, num_inputs, NULL, 1, NULL, NULL, NULL};
  char what[128];
  snprintf(what, sizeof what,
           "conv1x1 [%lld,%lld,%lld,%lld] o=%lld stride %dx%d bias=%d act=%d "
           "residual=%d",
           (long long)batch, (long long)h, (long long)w, (long long)c,
           (long long)o, stride_h, stride_w, bias_mode, (int)act, residual);
  run_levels(KILN_OP_CONV_2D, &ctx, ref, scale, act,
             groups == 1 && act != KILN_ACT_TANH, what);
  free(scale);
  kiln_tensor *all[5] = {in, f, bias, ref, inputs[3]};
  kiln_test_tensors_free(all, 5);
}

static void test_conv_random(void) {
  for (int trial = 0; trial < 150; trial++) {
    bool strided = kiln_test_int(0, 2) == 0;
    conv_case(kiln_test_int(1, 3), kiln_test_int(1, 12), kiln_test_int(1, 12),
              edge_size(1, 100), edge_size(1, 100),
              strided ? kiln_test_int(1, 3) : 1,
              strided ? kiln_test_int(1, 3) : 1, 1, kiln_test_int(0, 2),
              optimized_activation(), kiln_test_int(0, 2) == 0);
  }
}

static void test_conv_special(void) {
  /* A grouped 1x1 convolution and a TANH one are the reference's. */
  conv_case(1, 4, 5, 6, 8, 1, 1, 2, 0, KILN_ACT_NONE, false);
  conv_case(2, 3, 3, 7, 9, 1, 1, 1, 0, KILN_ACT_TANH, false);
  /* Batches of images whose pixels do not fill whole tiles. */
  conv_case(3, 5, 7, 33, 47, 1, 1, 1, 0, KILN_ACT_RELU6, false);
  conv_case(2, 7, 7, 64, 40, 2, 2, 1, 1, KILN_ACT_RELU, false);
}

/* A residual with every activation the variants apply (the clamps after
 * the sum, the others in the epilogue after that), on ResNet-like maps
 * with several blocks of tiles and 3 threads sharing panels or tiles; a
 * grouped or TANH node with a residual stays the reference's. */
static void test_conv_residual(void) {
  for (int a = 0; a < KILN_TEST_OPTIMIZED_ACTIVATIONS; a++) {
    conv_case(1, 14, 14, 64, 96, 1, 1, 1, 0, kiln_test_activations[a], true);
    conv_case(2, 9, 11, 17, 33, 2, 2, 1, kiln_test_int(0, 2),
              kiln_test_activations[a], true);
  }
  conv_case(1, 4, 5, 6, 8, 1, 1, 2, 0, KILN_ACT_RELU, true);
  conv_case(2, 3, 3, 7, 9, 1, 1, 1, 0, KILN_ACT_TANH, true);
}

/* A KxK filter with a residual is left to the reference: the KxK GEMM
 * variants decline it. (Winograd's packers would take a 3x3 one and drop
 * the residual; fuse_residual.c only ever gives one to 1x1 nodes, hence a
 * 5x5 filter here, which only the KxK GEMM would otherwise pack.) */
static void test_conv_kxk_residual_declined(void) {
  int64_t in_dims[4] = {1, 6, 6, 4}, f_dims[4] = {8, 5, 5, 4};
  int64_t out_dims[4] = {1, 6, 6, 8};
  kiln_tensor *in = f32(4, in_dims), *f = f32(4, f_dims);
  kiln_tensor *res = f32(4, out_dims), *out = kiln_test_output();
  kiln_tensor *inputs[4] = {in, f, NULL, res}, *outputs[1] = {out};
  kiln_conv_attrs attrs = {KILN_PAD_SAME, 1, 1, 1, 1, 0, KILN_ACT_RELU};
  kiln_op_ctx ctx = {&attrs, inputs, 4, outputs, 1, NULL, NULL, NULL};
  for (int isa = KILN_ISA_PORTABLE; isa <= (int)kiln_test_float_isa(); isa++) {
    void *packed = NULL;
    CHECK(kiln_test_pack_like_load(KILN_OP_CONV_2D, (kiln_isa)isa, &ctx,
                                   &packed) == NULL);
    /* Without the residual the same node is the KxK GEMM's. */
    ctx.num_inputs = 3;
    const kiln_kernel_variant *v =
        kiln_test_pack_like_load(KILN_OP_CONV_2D, (kiln_isa)isa, &ctx, &packed);
    CHECK(v && strstr(v->name, "conv-gemm"));
    ctx.num_inputs = 4;
    free(packed);
  }
  kiln_tensor *all[4] = {in, f, res, out};
  kiln_test_tensors_free(all, 4);
}

/* A filter wider than 1x1 is not packed by these variants. */
static void test_conv_3x3_not_packed(void) {
  int64_t in_dims[4] = {1, 5, 5, 3}, f_dims[4] = {4, 3, 3, 3};
  kiln_tensor *in = f32(4, in_dims), *f = f32(4, f_dims);
  kiln_tensor *out = kiln_test_output();
  kiln_tensor *inputs[2] = {in, f}, *outputs[1] = {out};
  kiln_conv_attrs attrs = {KILN_PAD_SAME, 1, 1, 1, 1, 0, KILN_ACT_NONE};
  kiln_op_ctx ctx = {&attrs, inputs, 2, outputs, 1, NULL, NULL, NULL};
  for (int isa = KILN_ISA_PORTABLE; isa <= (int)kiln_test_float_isa(); isa++) {
    void *packed = NULL;
    const kiln_kernel_variant *v =
        kiln_test_pack_like_load(KILN_OP_CONV_2D, (kiln_isa)isa, &ctx, &packed);
    CHECK(!v || !strstr(v->name, "conv1x1"));
    free(packed);
  }
  kiln_tensor *all[3] = {in, f, out};
  kiln_test_tensors_free(all, 3);
}

/* ------------------------------------------------------- BATCH_MATMUL */

static kiln_tensor *abs_copy(const kiln_tensor *t) {
  kiln_tensor *a = kiln_test_tensor(KILN_FLOAT32, t->rank, t->dims);
  const float *src = t->data;
  float *dst = a->data;
  for (int64_t i = 0; i < kiln_tensor_numel(t); i++) dst[i] = fabsf(src[i]);
  return a;
}

/* x [bx..., m, k] times y [by..., k, n], batch dimensions broadcast. No
 * weights to pack: the variant is chosen at prepare alone. */
static void bmm_case(int batch_rank, int64_t m, int64_t k, int64_t n,
                     bool adj_x, bool adj_y) {
  int64_t x_dims[4], y_dims[4];
  for (int i = 0; i < batch_rank; i++) {
    int64_t d = kiln_test_int(1, 3);
    int which = kiln_test_int(0, 2); /* both, x broadcast, y broadcast */
    x_dims[i] = which == 1 ? 1 : d;
    y_dims[i] = which == 2 ? 1 : d;
  }
  x_dims[batch_rank] = adj_x ? k : m;
  x_dims[batch_rank + 1] = adj_x ? m : k;
  y_dims[batch_rank] = adj_y ? n : k;
  y_dims[batch_rank + 1] = adj_y ? k : n;
  /* y may also have fewer batch dimensions than x. */
  int y_rank = batch_rank + 2, y_skip = 0;
  if (batch_rank > 0 && kiln_test_int(0, 2) == 0) {
    y_skip = 1;
    y_rank--;
  }
  kiln_tensor *x = f32(batch_rank + 2, x_dims),
              *y = f32(y_rank, y_dims + y_skip);
  kiln_tensor *ref = kiln_test_output(), *scale = kiln_test_output();
  kiln_tensor *inputs[2] = {x, y};
  kiln_batch_matmul_attrs attrs = {adj_x, adj_y, false};
  CHECK_OK(kiln_test_run_op1(KILN_OP_BATCH_MATMUL, &attrs, inputs, 2, ref));
  /* sum |x||y| is the product of the absolute values. */
  kiln_tensor *ax = abs_copy(x), *ay = abs_copy(y);
  kiln_tensor *abs_inputs[2] = {ax, ay};
  CHECK_OK(
      kiln_test_run_op1(KILN_OP_BATCH_MATMUL, &attrs, abs_inputs, 2, scale));
  kiln_tensor *got = kiln_test_tensor(KILN_FLOAT32, ref->rank, ref->dims);
  kiln_tensor *outputs[1] = {got};
  kiln_op_ctx ctx = {&attrs, inputs, 2, outputs, 1, NULL, NULL, NULL};
  int64_t count = kiln_tensor_numel(ref);
  char what[96];
  snprintf(what, sizeof what, "bmm rank %d m=%lld k=%lld n=%lld adj %d%d",
           batch_rank, (long long)m, (long long)k, (long long)n, adj_x, adj_y);
  for (int isa = KILN_ISA_PORTABLE; isa <= (int)kiln_test_float_isa(); isa++) {
    const kiln_kernel_variant *v =
        kiln_variant_select(KILN_OP_BATCH_MATMUL, (kiln_isa)isa, NULL, &ctx);
    bool ours = v && strstr(v->name, "bmm-gemm");
    CHECK(ours == (!adj_x && !adj_y));
    if (!ours) continue;
    CHECK(v->isa == (kiln_isa)isa);
    for (int p = 0; p < 3; p++) {
      ctx.pool = pools[p];
      float *out = got->data;
      for (int64_t i = 0; i < count; i++) out[i] = 12345.0f;
      CHECK_OK(v->run(&ctx));
      check_close(got->data, ref->data, scale->data, count, KILN_ACT_NONE, what,
                  (kiln_isa)isa, p);
    }
  }
  kiln_tensor *all[7] = {x, y, ref, scale, ax, ay, got};
  kiln_test_tensors_free(all, 7);
}

static void test_bmm(void) {
  for (int trial = 0; trial < 120; trial++)
    bmm_case(kiln_test_int(0, 2), edge_size(1, 40), edge_size(1, 300),
             edge_size(1, 80), false, false);
  /* K past one copied block (128 rows), so sums carry across blocks. */
  bmm_case(1, 13, 129, 33, false, false);
  bmm_case(0, 25, 300, 70, false, false);
  bmm_case(1, 5, 6, 7, true, false);
  bmm_case(1, 5, 6, 7, false, true);
}

int main(void) {
  kiln_test_seed(0x6e77);
  CHECK_OK(kiln_threadpool_create(1, NULL, &pools[1]));
  CHECK_OK(kiln_threadpool_create(3, NULL, &pools[2]));
  test_fc_random();
  test_fc_edges();
  test_fc_special();
  test_fc_not_packed();
  test_conv_random();
  test_conv_special();
  test_conv_residual();
  test_conv_kxk_residual_declined();
  test_conv_3x3_not_packed();
  test_bmm();
  kiln_threadpool_free(pools[1]);
  kiln_threadpool_free(pools[2]);
  return kiln_test_finish("test_opt_gemm");
}
