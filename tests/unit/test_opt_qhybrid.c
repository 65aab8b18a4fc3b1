/* test_opt_qhybrid.c - the hybrid (dynamic-range) FULLY_CONNECTED,
 * CONV_2D, DEPTHWISE_CONV_2D and BATCH_MATMUL variants (kernels/qhybrid/:
 * float32 activations quantized at invoke, int8 weights packed at load) against
 * the reference hybrid kernels, at every instruction-set level this CPU has, on
 * pools of 1 and 3 threads: random shapes around the microkernels' tile edges,
 * per-channel and per-tensor weights, symmetric and asymmetric input
 * quantization, bias or none, every fused activation, all-zero rows. The
 * outputs must be equal bit for bit. DEPTHWISE_CONV_2D (depth multiplier 1)
 * likewise. Also the nodes the variants must leave to the reference: int8
 * activations, float weights, grouped convolutions. */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/threadpool.h"
#include "kernels/ref/quant_params.h"
#include "kernels/variants.h"
#include "quant_test_util.h"

static kiln_threadpool *pools[2]; /* 1 thread, 3 threads */
static bool ran[KILN_ISA_AVX512_VNNI + 1];

static int64_t edge_size(int hi) {
  static const int edges[] = {1,  2,  3,  4,  5,  7,  8,  9,  15,  16, 17,
                              31, 32, 33, 63, 64, 65, 96, 97, 129, 257};
  int e = edges[kiln_test_int(0, (int)(sizeof edges / sizeof *edges) - 1)];
  return kiln_test_int(0, 1) || e > hi ? kiln_test_int(1, hi) : e;
}

/* Inputs in a random range, sometimes all positive, all negative or all
 * zero, so both zero-point ends and the zero range are taken. */
static void fill_input(kiln_tensor *t, int64_t row) {
  float *x = t->data;
  int64_t n = kiln_tensor_numel(t);
  float span = (float)kiln_test_int(1, 1000) / 100.0f;
  int kind = kiln_test_int(0, 5);
  for (int64_t i = 0; i < n; i++) {
    float v = x[i] * span;
    x[i] = kind == 0 ? fabsf(v) : (kind == 1 ? -fabsf(v) : v);
  }
  if (kiln_test_int(0, 4) == 0 && row <= n) memset(x, 0, (size_t)row * 4);
}

static qt *weights(int rank, const int64_t *dims, int channels) {
  qt *w = qt_new(KILN_INT8, rank, dims, channels, 0);
  for (int i = 0; i < channels; i++) w->scale[i] = qt_scale(-9, -5);
  return w;
}

/* The reference output of ctx's node into `want` (shaped by the node's
 * shape function), then every level's variant, which must equal it. */
static void check_levels(kiln_op_type op, kiln_op_ctx *ctx, kiln_tensor *want,
                         const char *what) {
  kiln_tensor *outputs[1] = {want};
  ctx->outputs = outputs;
  kiln_quant_params *quant = NULL;
  CHECK_OK(kiln_quant_params_build(op, ctx, NULL, &quant));
  ctx->quant = quant;
  CHECK_OK(kiln_op_table[op].shape(ctx));
  free(want->data);
  want->data = calloc(kiln_tensor_nbytes(want) + 1, 1);
  CHECK_OK(kiln_op_table[op].reference(ctx));
  kiln_tensor *got = kiln_test_tensor(KILN_FLOAT32, want->rank, want->dims);
  outputs[0] = got;
  int64_t count = kiln_tensor_numel(want);
  kiln_isa best = kiln_isa_resolve(KILN_ISA_AUTO);
  for (int isa = KILN_ISA_PORTABLE; isa <= (int)best; isa++) {
    void *packed = NULL;
    const kiln_kernel_variant *packer =
        kiln_test_pack_like_load(op, (kiln_isa)isa, ctx, &packed);
    ctx->packed = packed;
    const kiln_kernel_variant *v =
        packed ? kiln_variant_select(op, (kiln_isa)isa, packer, ctx) : NULL;
    CHECK(v != NULL && v == packer);
    if (v) {
      CHECK(strncmp(v->name, "qd8-f32-", 8) == 0);
      ran[v->isa] = true;
      for (int p = 0; p < 2; p++) {
        ctx->pool = pools[p];
        CHECK_OK(kiln_threadpool_reserve_scratch(pools[p], v->workspace(ctx)));
        float *out = got->data;
        for (int64_t i = 0; i < count; i++) out[i] = 12345.0f;
        CHECK_OK(v->run(ctx));
        const float *w = want->data;
        int64_t bad = 0, first = -1;
        for (int64_t i = 0; i < count; i++)
          if (memcmp(&out[i], &w[i], sizeof(float)) != 0 && bad++ == 0)
            first = i;
        CHECK(bad == 0);
        if (bad)
          fprintf(stderr,
                  "  %s on %s, pool %d: %lld differ, first [%lld] %.9g vs "
                  "%.9g\n",
                  what, v->name, p, (long long)bad, (long long)first,
                  out[first], w[first]);
      }
    }
    free(packed);
  }
  ctx->packed = NULL;
  ctx->pool = NULL;
  ctx->quant = NULL;
  ctx->outputs = NULL;
  kiln_free(NULL, quant);
  kiln_test_tensor_free(got);
}

static void fc_case(void) {
  int64_t rows = kiln_test_int(0, 2) ? kiln_test_int(1, 3) : edge_size(40);
  int64_t depth = edge_size(300), units = edge_size(100);
  int64_t in_dims[2] = {rows, depth}, w_dims[2] = {units, depth};
  kiln_tensor *in = kiln_test_tensor_f32(2, in_dims, NULL);
  fill_input(in, depth);
  bool per_channel = kiln_test_int(0, 1);
  qt *w = weights(2, w_dims, per_channel ? (int)units : 1);
  kiln_tensor *bias =
      kiln_test_int(0, 1) ? kiln_test_tensor_f32(1, &units, NULL) : NULL;
  kiln_fully_connected_attrs a = {kiln_test_random_activation(), false,
                                  kiln_test_int(0, 1), 0};
  kiln_tensor *want = kiln_test_tensor(KILN_FLOAT32, 0, NULL);
  kiln_tensor *inputs[3] = {in, w->t, bias};
  kiln_op_ctx ctx = {&a, inputs, 3, NULL, 1, NULL, NULL, NULL};
  check_levels(KILN_OP_FULLY_CONNECTED, &ctx, want, "FULLY_CONNECTED");
  kiln_test_tensor_free(in);
  kiln_test_tensor_free(bias);
  kiln_test_tensor_free(want);
  qt_free(w);
}

static void conv_case(void) {
  int64_t n = kiln_test_int(1, 2), h = kiln_test_int(1, 9),
          wd = kiln_test_int(1, 9), c = edge_size(40);
  bool one = kiln_test_int(0, 1);
  int64_t kh = one ? 1 : kiln_test_int(1, 3),
          kw = one ? 1 : kiln_test_int(1, 3);
  int64_t oc = edge_size(70);
  int stride = kiln_test_int(1, 2), dil = kiln_test_int(0, 3) ? 1 : 2;
  kiln_padding pad = kiln_test_int(0, 1) ? KILN_PAD_SAME : KILN_PAD_VALID;
  if (pad == KILN_PAD_VALID) {
    if (h < (kh - 1) * dil + 1) h = (kh - 1) * dil + 1;
    if (wd < (kw - 1) * dil + 1) wd = (kw - 1) * dil + 1;
  }
  int64_t in_dims[4] = {n, h, wd, c}, w_dims[4] = {oc, kh, kw, c};
  kiln_tensor *in = kiln_test_tensor_f32(4, in_dims, NULL);
  fill_input(in, c);
  bool per_channel = kiln_test_int(0, 1);
  qt *w = weights(4, w_dims, per_channel ? (int)oc : 1);
  kiln_tensor *bias =
      kiln_test_int(0, 1) ? kiln_test_tensor_f32(1, &oc, NULL) : NULL;
  kiln_conv_attrs a = {
      pad, stride, stride, dil, dil, 1, kiln_test_random_activation()};
  kiln_tensor *want = kiln_test_tensor(KILN_FLOAT32, 0, NULL);
  kiln_tensor *inputs[3] = {in, w->t, bias};
  kiln_op_ctx ctx = {&a, inputs, 3, NULL, 1, NULL, NULL, NULL};
  check_levels(KILN_OP_CONV_2D, &ctx, want, "CONV_2D");
  kiln_test_tensor_free(in);
  kiln_test_tensor_free(bias);
  kiln_test_tensor_free(want);
  qt_free(w);
}

/* DEPTHWISE_CONV_2D, depth multiplier 1: the reference hybrid kernel is
 * per-channel and asymmetric, but one scale for all channels is read too. */
static void dw_case(void) {
  int64_t n = kiln_test_int(1, 2), h = kiln_test_int(1, 9),
          wd = kiln_test_int(1, 9), c = edge_size(80);
  int64_t kh = kiln_test_int(1, 5), kw = kiln_test_int(1, 5);
  int stride = kiln_test_int(1, 2), dil = kiln_test_int(0, 3) ? 1 : 2;
  kiln_padding pad = kiln_test_int(0, 1) ? KILN_PAD_SAME : KILN_PAD_VALID;
  if (pad == KILN_PAD_VALID) {
    if (h < (kh - 1) * dil + 1) h = (kh - 1) * dil + 1;
    if (wd < (kw - 1) * dil + 1) wd = (kw - 1) * dil + 1;
  }
  int64_t in_dims[4] = {n, h, wd, c}, w_dims[4] = {1, kh, kw, c};
  kiln_tensor *in = kiln_test_tensor_f32(4, in_dims, NULL);
  fill_input(in, c);
  int channels = kiln_test_int(0, 3) ? (int)c : 1;
  qt *w = qt_new(KILN_INT8, 4, w_dims, channels, 3);
  for (int i = 0; i < channels; i++) w->scale[i] = qt_scale(-9, -5);
  kiln_tensor *bias =
      kiln_test_int(0, 1) ? kiln_test_tensor_f32(1, &c, NULL) : NULL;
  kiln_conv_attrs a = {
      pad, stride, stride, dil, dil, 1, kiln_test_random_activation()};
  kiln_tensor *want = kiln_test_tensor(KILN_FLOAT32, 0, NULL);
  kiln_tensor *inputs[3] = {in, w->t, bias};
  kiln_op_ctx ctx = {&a, inputs, 3, NULL, 1, NULL, NULL, NULL};
  check_levels(KILN_OP_DEPTHWISE_CONV_2D, &ctx, want, "DEPTHWISE_CONV_2D");
  kiln_test_tensor_free(in);
  kiln_test_tensor_free(bias);
  kiln_test_tensor_free(want);
  qt_free(w);
}

/* BATCH_MATMUL: x [B, M, K] (or rank 2) times a constant int8 y [1, K, N]
 * (or [1, N, K] adjoint, or rank 2), per-tensor scale. */
static void bmm_case(void) {
  int64_t m = edge_size(20), k = edge_size(200), n = edge_size(70);
  int64_t bx = kiln_test_int(1, 3);
  bool rank2 = kiln_test_int(0, 3) == 0;
  kiln_batch_matmul_attrs a = {false, kiln_test_int(0, 1), kiln_test_int(0, 1)};
  int64_t xd[3] = {bx, m, k};
  int64_t yd[3] = {1, a.adj_y ? n : k, a.adj_y ? k : n};
  kiln_tensor *x = rank2 ? kiln_test_tensor_f32(2, xd + 1, NULL)
                         : kiln_test_tensor_f32(3, xd, NULL);
  fill_input(x, k);
  qt *y = rank2 ? weights(2, yd + 1, 1) : weights(3, yd, 1);
  kiln_tensor *want = kiln_test_tensor(KILN_FLOAT32, 0, NULL);
  kiln_tensor *inputs[2] = {x, y->t};
  kiln_op_ctx ctx = {&a, inputs, 2, NULL, 1, NULL, NULL, NULL};
  check_levels(KILN_OP_BATCH_MATMUL, &ctx, want, "BATCH_MATMUL");
  kiln_test_tensor_free(x);
  kiln_test_tensor_free(want);
  qt_free(y);
}

/* BATCH_MATMUL outside the variant: x adjoint, or y with a batch of 2. */
static void bmm_declines(void) {
  kiln_isa best = kiln_isa_resolve(KILN_ISA_AUTO);
  for (int c = 0; c < 2; c++) {
    kiln_batch_matmul_attrs a = {c == 0, false, false};
    int64_t xd[3] = {2, 5, 5}, yd[3] = {c == 0 ? 1 : 2, 5, 3};
    kiln_tensor *x = kiln_test_tensor_f32(3, xd, NULL);
    qt *y = weights(3, yd, 1);
    kiln_tensor *out = kiln_test_tensor(KILN_FLOAT32, 0, NULL);
    kiln_tensor *inputs[2] = {x, y->t}, *outputs[1] = {out};
    kiln_op_ctx ctx = {&a, inputs, 2, outputs, 1, NULL, NULL, NULL};
    kiln_quant_params *quant = NULL;
    CHECK_OK(kiln_quant_params_build(KILN_OP_BATCH_MATMUL, &ctx, NULL, &quant));
    ctx.quant = quant;
    CHECK_OK(kiln_op_table[KILN_OP_BATCH_MATMUL].shape(&ctx));
    for (int isa = KILN_ISA_PORTABLE; isa <= (int)best; isa++) {
      void *packed = NULL;
      const kiln_kernel_variant *v = kiln_test_pack_like_load(
          KILN_OP_BATCH_MATMUL, (kiln_isa)isa, &ctx, &packed);
      ctx.packed = packed;
      CHECK(!v || !v->applies(&ctx));
      free(packed);
      ctx.packed = NULL;
    }
    kiln_free(NULL, quant);
    kiln_test_tensor_free(x);
    kiln_test_tensor_free(out);
    qt_free(y);
  }
}

/* No hybrid variant packs a node whose activations are int8 or whose
 * weights are float, nor claims a grouped convolution. */
static void test_declines(void) {
  int64_t in2[2] = {3, 8}, wfc[2] = {16, 8};
  kiln_fully_connected_attrs fa = {KILN_ACT_NONE, false, false, 0};
  qt *x8 = qt_new(KILN_INT8, 2, in2, 1, 0);
  qt *w = weights(2, wfc, 1);
  kiln_tensor *xf = kiln_test_tensor_f32(2, in2, NULL);
  kiln_tensor *wf = kiln_test_tensor_f32(2, wfc, NULL);
  kiln_tensor *int8_in[3] = {x8->t, w->t, NULL}, *float_w[3] = {xf, wf, NULL};
  kiln_isa best = kiln_isa_resolve(KILN_ISA_AUTO);
  for (int isa = KILN_ISA_PORTABLE; isa <= (int)best; isa++) {
    kiln_tensor **cases[2] = {int8_in, float_w};
    for (int c = 0; c < 2; c++) {
      kiln_op_ctx ctx = {&fa, cases[c], 3, NULL, 1, NULL, NULL, NULL};
      void *packed = NULL;
      const kiln_kernel_variant *v = kiln_test_pack_like_load(
          KILN_OP_FULLY_CONNECTED, (kiln_isa)isa, &ctx, &packed);
      CHECK(!v || strncmp(v->name, "qd8-", 4) != 0);
      free(packed);
    }
  }
  /* Grouped: 8 input channels, filters of 4. */
  int64_t in4[4] = {1, 4, 4, 8}, wg[4] = {6, 3, 3, 4};
  kiln_tensor *xi = kiln_test_tensor_f32(4, in4, NULL);
  qt *wq = weights(4, wg, 6);
  kiln_conv_attrs ca = {KILN_PAD_SAME, 1, 1, 1, 1, 1, KILN_ACT_NONE};
  kiln_tensor *inputs[3] = {xi, wq->t, NULL};
  kiln_tensor *out = kiln_test_tensor(KILN_FLOAT32, 0, NULL);
  kiln_tensor *outputs[1] = {out};
  kiln_op_ctx ctx = {&ca, inputs, 3, outputs, 1, NULL, NULL, NULL};
  kiln_quant_params *quant = NULL;
  CHECK_OK(kiln_quant_params_build(KILN_OP_CONV_2D, &ctx, NULL, &quant));
  ctx.quant = quant;
  CHECK_OK(kiln_op_table[KILN_OP_CONV_2D].shape(&ctx));
  for (int isa = KILN_ISA_PORTABLE; isa <= (int)best; isa++) {
    void *packed = NULL;
    const kiln_kernel_variant *v =
        kiln_test_pack_like_load(KILN_OP_CONV_2D, (kiln_isa)isa, &ctx, &packed);
    ctx.packed = packed;
    CHECK(!v || !v->applies(&ctx));
    free(packed);
    ctx.packed = NULL;
  }
  kiln_free(NULL, quant);
  kiln_test_tensor_free(out);
  kiln_test_tensor_free(xi);
  kiln_test_tensor_free(xf);
  kiln_test_tensor_free(wf);
  qt_free(wq);
  qt_free(w);
  qt_free(x8);
}

int main(void) {
  kiln_test_seed(0x9d8);
  CHECK_OK(kiln_threadpool_create(1, NULL, &pools[0]));
  CHECK_OK(kiln_threadpool_create(3, NULL, &pools[1]));
  for (int i = 0; i < 300; i++) fc_case();
  for (int i = 0; i < 300; i++) conv_case();
  for (int i = 0; i < 300; i++) dw_case();
  for (int i = 0; i < 300; i++) bmm_case();
  test_declines();
  bmm_declines();
  kiln_isa best = kiln_isa_resolve(KILN_ISA_AUTO);
  printf("qd8 hybrid fc/conv/dwconv/bmm: ran");
  for (int isa = KILN_ISA_PORTABLE; isa <= KILN_ISA_AVX512_VNNI; isa++)
    if (ran[isa]) printf(" %s", kiln_isa_name((kiln_isa)isa));
  printf("; skipped:");
  bool none = true;
  for (int isa = KILN_ISA_PORTABLE; isa <= KILN_ISA_AVX512_VNNI; isa++)
    if (isa > (int)best &&
        (isa == KILN_ISA_AVX2 || isa == KILN_ISA_AVX512_VNNI)) {
      printf(" %s (CPU lacks it)", kiln_isa_name((kiln_isa)isa));
      none = false;
    }
  printf("%s\n", none ? " none" : "");
  kiln_threadpool_free(pools[0]);
  kiln_threadpool_free(pools[1]);
  return kiln_test_finish("test_opt_qhybrid");
}
