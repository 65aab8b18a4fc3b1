/* test_opt_qdwconv.c - the int8 DEPTHWISE_CONV_2D variants (kernels/qdw/)
 * against the reference kernel, which equals LiteRT: every output byte
 * equal, at every instruction set this CPU has, packed and chosen as the
 * runtime does, with and without a thread pool. Random shapes (channels
 * 1..70, batch 1..3, sizes 1..20), windows, strides, dilations, paddings,
 * zero points, per-channel and per-tensor scales, the clamp activations,
 * extreme scales and biases for the requantization, and the nodes the
 * variants must leave to the reference. */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/threadpool.h"
#include "kernels/ref/quant_params.h"
#include "kernels/variants.h"
#include "quant_test_util.h"

typedef struct qdw_case {
  int64_t n, h, w, c, kh, kw;
  int sh, sw, dh, dw;
  kiln_padding pad;
  kiln_activation act;
  bool per_channel, bias;
  bool extreme; /* scales and biases across the requantization's range */
} qdw_case;

static kiln_threadpool *pool3;
static int cases_run, variants_run, fallbacks, fp32_runs;
static bool isa_ran[KILN_ISA_AVX512_VNNI + 1];

/* The name part the runtime should pick for this case. */
static const char *expected_kind(const qdw_case *k) {
  bool unit = k->dh == 1 && k->dw == 1 && k->sh == k->sw && k->kh == k->kw;
  if (unit && (k->kh == 3 || k->kh == 5) && k->sh <= 2) {
    static const char *names[2][2] = {{"3x3s1", "3x3s2"}, {"5x5s1", "5x5s2"}};
    return names[k->kh == 5][k->sh - 1];
  }
  return "generic";
}

static const char *isa_suffix(kiln_isa isa) {
  return isa == KILN_ISA_AVX512_VNNI ? "-vnni" : kiln_isa_name(isa);
}

/* A bias spread over int32's whole range: magnitudes 2^0 .. 2^30. */
static int32_t extreme_bias(void) {
  int32_t mag =
      (int32_t)ldexp(kiln_test_uniform(1.0f, 2.0f) - 0.5, kiln_test_int(0, 30));
  return kiln_test_int(0, 1) ? mag : -mag;
}

static void run_case(const qdw_case *k) {
  int64_t in_dims[4] = {k->n, k->h, k->w, k->c};
  int64_t f_dims[4] = {1, k->kh, k->kw, k->c}, b_dims[1] = {k->c};
  qt *in = qt_new(KILN_INT8, 4, in_dims, 1, 0);
  in->scale[0] = qt_scale(-8, -4);
  in->zp[0] = kiln_test_int(-128, 127);
  qt *w = qt_new(KILN_INT8, 4, f_dims, k->per_channel ? (int)k->c : 1, 3);
  for (int i = 0; i < w->info.count; i++)
    w->scale[i] = k->extreme ? qt_scale(-40, 20) : qt_scale(-9, -5);
  qt *bias = k->bias ? qt_new(KILN_INT32, 1, b_dims, 0, 0) : NULL;
  for (int64_t i = 0; bias && k->extreme && i < k->c; i++)
    ((int32_t *)bias->t->data)[i] = extreme_bias();
  double real_acc =
      in->scale[0] * w->scale[0] * 128.0 * 128 * sqrt((double)(k->kh * k->kw));
  float out_scale =
      (float)(real_acc / 255.0 * ldexp(1.0, kiln_test_int(-1, 2)));
  /* Extreme scales may bring the rescaled sum near the int32 limits,
   * where adding a zero point would overflow the reference's int (UB):
   * those cases use zero point 0. */
  qt *want = qt_output(KILN_INT8, out_scale,
                       k->extreme ? 0 : kiln_test_int(-128, 127));
  qt *got = qt_output(KILN_INT8, out_scale, want->zp[0]);
  kiln_conv_attrs attrs = {k->pad, k->sh, k->sw, k->dh, k->dw, 1, k->act};
  kiln_tensor *inputs[3] = {in->t, w->t, bias ? bias->t : NULL};
  int num_inputs = k->bias ? 3 : 2;
  CHECK_OK(kiln_test_run_op1(KILN_OP_DEPTHWISE_CONV_2D, &attrs, inputs,
                             num_inputs, want->t));
  kiln_test_tensor_free(got->t);
  got->t = kiln_test_tensor(KILN_INT8, 4, want->t->dims);
  got->t->quant = &got->info;
  kiln_tensor *outputs[1] = {got->t};
  kiln_op_ctx ctx = {&attrs, inputs, num_inputs, outputs, 1, NULL, NULL, NULL};
  kiln_quant_params *quant = NULL;
  CHECK_OK(
      kiln_quant_params_build(KILN_OP_DEPTHWISE_CONV_2D, &ctx, NULL, &quant));
  ctx.quant = quant;
  int64_t count = kiln_tensor_numel(want->t);
  char what[200];
  kiln_isa best = kiln_isa_resolve(KILN_ISA_AUTO);
  int8_t *fp32_first = NULL;
  for (int isa = KILN_ISA_PORTABLE; isa <= (int)best; isa++) {
    void *packed = NULL;
    const kiln_kernel_variant *packer = kiln_test_pack_like_load(
        KILN_OP_DEPTHWISE_CONV_2D, (kiln_isa)isa, &ctx, &packed);
    ctx.packed = packed;
    const kiln_kernel_variant *v = kiln_variant_select(
        KILN_OP_DEPTHWISE_CONV_2D, (kiln_isa)isa, packer, &ctx);
    snprintf(what, sizeof what,
             "%s: [%lld,%lld,%lld,%lld] k%lldx%lld s%dx%d d%dx%d %s act %d "
             "per-channel %d bias %d extreme %d",
             v ? v->name : kiln_isa_name((kiln_isa)isa), (long long)k->n,
             (long long)k->h, (long long)k->w, (long long)k->c,
             (long long)k->kh, (long long)k->kw, k->sh, k->sw, k->dh, k->dw,
             k->pad == KILN_PAD_SAME ? "SAME" : "VALID", (int)k->act,
             (int)k->per_channel, (int)k->bias, (int)k->extreme);
    /* Extreme scales may give shifts outside [-31, 30]: the reference's. */
    if (!v && k->extreme) fallbacks++;
    CHECK(v != NULL || k->extreme);
    if (v) {
      CHECK(v->isa == (kiln_isa)isa);
      CHECK(strncmp(v->name, "q8-dwconv-", 10) == 0);
      CHECK(strstr(v->name, expected_kind(k)) != NULL);
      CHECK(strstr(v->name, isa_suffix((kiln_isa)isa)) != NULL);
      isa_ran[isa] = true;
    }
    for (int p = 0; v && p < 2; p++) {
      ctx.pool = p ? pool3 : NULL;
      memset(got->t->data, 0x5a, (size_t)count);
      CHECK_OK(v->run(&ctx));
      int bad = 0;
      const int8_t *g = got->t->data, *e = want->t->data;
      for (int64_t i = 0; i < count; i++)
        if (g[i] != e[i] && bad++ < 5)
          fprintf(stderr, "  %s: element %lld: got %d, want %d\n", what,
                  (long long)i, g[i], e[i]);
      if (bad) fprintf(stderr, "%s, pool %d: %d bad\n", what, p, bad);
      CHECK(bad == 0);
      variants_run++;
    }
    /* KILN_INT8_ROUNDING_FP32: within one step of the reference at every
     * level, and every level the same bytes as the first. */
    for (int p = 0; v && p < 2; p++) {
      quant->fp32_rounding = true;
      ctx.pool = p ? pool3 : NULL;
      memset(got->t->data, 0x5a, (size_t)count);
      CHECK_OK(v->run(&ctx));
      quant->fp32_rounding = false;
      const int8_t *g = got->t->data, *e = want->t->data;
      int worst = 0;
      for (int64_t i = 0; i < count; i++)
        worst = abs(g[i] - e[i]) > worst ? abs(g[i] - e[i]) : worst;
      if (worst > 1 && !k->extreme)
        fprintf(stderr, "%s, fp32 rounding: %d steps from the reference\n",
                what, worst);
      /* Extreme cases make the reference's int32 steps wrap, which the
       * float path does not: there only the levels are compared. */
      CHECK(worst <= 1 || k->extreme);
      if (!fp32_first)
        fp32_first = memcpy(malloc((size_t)count), g, (size_t)count);
      else
        CHECK(memcmp(fp32_first, g, (size_t)count) == 0);
      fp32_runs++;
    }
    kiln_free(NULL, packed);
    ctx.packed = NULL;
  }
  free(fp32_first);
  cases_run++;
  kiln_free(NULL, quant);
  qt_free(in);
  qt_free(w);
  qt_free(bias);
  qt_free(want);
  qt_free(got);
}

/* A size along one axis that VALID padding accepts for this window. */
static int64_t axis_size(int64_t k, int dil, kiln_padding pad, int lo, int hi) {
  int64_t span = (k - 1) * dil + 1, size = kiln_test_int(lo, hi);
  return pad == KILN_PAD_VALID && size < span ? span : size;
}

static qdw_case random_case(int64_t kh, int64_t kw, int sh, int sw, int dh,
                            int dw) {
  qdw_case k = {0};
  k.kh = kh, k.kw = kw, k.sh = sh, k.sw = sw, k.dh = dh, k.dw = dw;
  k.pad = kiln_test_int(0, 1) ? KILN_PAD_SAME : KILN_PAD_VALID;
  k.act = qt_random_clamp();
  k.n = kiln_test_int(1, 3);
  k.h = axis_size(kh, dh, k.pad, 1, 20);
  k.w = axis_size(kw, dw, k.pad, 1, 20);
  k.c = kiln_test_int(0, 2) ? kiln_test_int(1, 70) : 16 * kiln_test_int(1, 4);
  k.per_channel = kiln_test_int(0, 1);
  k.bias = kiln_test_int(0, 3) != 0;
  return k;
}

/* Every specialized window, several times each. */
static void test_specialized(void) {
  static const int windows[4][2] = {{3, 1}, {3, 2}, {5, 1}, {5, 2}};
  for (int rep = 0; rep < 12; rep++)
    for (int wi = 0; wi < 4; wi++) {
      qdw_case k = random_case(windows[wi][0], windows[wi][0], windows[wi][1],
                               windows[wi][1], 1, 1);
      run_case(&k);
    }
}

/* Anything else: other windows, unequal strides, dilation 1 and 2. */
static void test_random(void) {
  static const int sizes[][2] = {{1, 1}, {2, 2}, {3, 3}, {5, 5}, {3, 5},
                                 {7, 7}, {4, 1}, {1, 3}, {3, 3}, {5, 5}};
  for (int i = 0; i < 80; i++) {
    int s = kiln_test_int(0, (int)(sizeof sizes / sizeof sizes[0]) - 1);
    int sh = kiln_test_int(1, 2);
    qdw_case k = random_case(sizes[s][0], sizes[s][1], sh,
                             kiln_test_int(0, 1) ? sh : kiln_test_int(1, 2),
                             kiln_test_int(1, 2), kiln_test_int(1, 2));
    run_case(&k);
  }
}

/* Tiny images: windows larger than the input, every tap padded but one. */
static void test_edges(void) {
  for (int i = 0; i < 30; i++) {
    int kk = kiln_test_int(0, 1) ? 3 : 5, s = kiln_test_int(1, 2);
    qdw_case k = random_case(kk, kk, s, s, 1, 1);
    k.pad = KILN_PAD_SAME;
    k.h = kiln_test_int(1, 4);
    k.w = kiln_test_int(1, 6);
    run_case(&k);
  }
}

/* Scales from 2^-40 to 2^20 and biases up to 2^30: left shifts that wrap,
 * right shifts up to 31, saturation. */
static void test_extreme(void) {
  for (int i = 0; i < 40; i++) {
    int kk = kiln_test_int(1, 3), s = kiln_test_int(1, 2);
    qdw_case k = random_case(kk, kk, s, s, 1, 1);
    k.per_channel = true;
    k.bias = true;
    k.extreme = true;
    k.c = kiln_test_int(16, 70);
    run_case(&k);
  }
}

/* MobileNet-sized layers, big enough to split across threads. */
static void test_mobilenet_shapes(void) {
  qdw_case a = {
      1,    28,   28,   144, 3, 3, 1, 1, 1, 1, KILN_PAD_SAME, KILN_ACT_RELU6,
      true, true, false};
  run_case(&a);
  qdw_case b = {
      1,    29,   29,   96, 3, 3, 2, 2, 1, 1, KILN_PAD_SAME, KILN_ACT_RELU6,
      true, true, false};
  run_case(&b);
  qdw_case c = {
      2,    14,   14,   120, 5, 5, 1, 1, 1, 1, KILN_PAD_SAME, KILN_ACT_NONE,
      true, true, false};
  run_case(&c);
  qdw_case d = {
      1,     15,    15,   72, 5, 5, 2, 2, 1, 1, KILN_PAD_VALID, KILN_ACT_RELU,
      false, false, false};
  run_case(&d);
}

/* Nodes the int8 variants must not take: no packer of them packs. */
static void expect_no_q8_packer(kiln_op_ctx *ctx, const char *what) {
  kiln_isa best = kiln_isa_resolve(KILN_ISA_AUTO);
  for (int isa = KILN_ISA_PORTABLE; isa <= (int)best; isa++) {
    void *packed = NULL;
    const kiln_kernel_variant *v = kiln_test_pack_like_load(
        KILN_OP_DEPTHWISE_CONV_2D, (kiln_isa)isa, ctx, &packed);
    if (v && strncmp(v->name, "q8-", 3) == 0)
      fprintf(stderr, "%s: packed by %s\n", what, v->name);
    CHECK(v == NULL || strncmp(v->name, "q8-", 3) != 0);
    kiln_free(NULL, packed);
  }
}

static void test_declined(void) {
  int64_t in_dims[4] = {1, 6, 6, 4}, f_dims[4] = {1, 3, 3, 8};
  int64_t out_dims[4] = {1, 6, 6, 8};
  qt *in = qt_new(KILN_INT8, 4, in_dims, 1, 0);
  qt *w = qt_new(KILN_INT8, 4, f_dims, 1, 3);
  kiln_tensor *out = kiln_test_tensor(KILN_INT8, 4, out_dims);
  kiln_conv_attrs attrs = {KILN_PAD_SAME, 1, 1, 1, 1, 2, KILN_ACT_NONE};
  kiln_tensor *inputs[2] = {in->t, w->t}, *outputs[1] = {out};
  kiln_op_ctx ctx = {&attrs, inputs, 2, outputs, 1, NULL, NULL, NULL};
  expect_no_q8_packer(&ctx, "depth multiplier 2");
  /* uint8 and int16 activations, float weights, weights not constant. */
  int64_t f4[4] = {1, 3, 3, 4}, o4[4] = {1, 6, 6, 4};
  qt *w4 = qt_new(KILN_INT8, 4, f4, 1, 3);
  kiln_tensor *out4 = kiln_test_tensor(KILN_INT8, 4, o4);
  attrs.depth_multiplier = 1;
  inputs[1] = w4->t;
  outputs[0] = out4;
  in->t->dtype = KILN_UINT8;
  w4->t->dtype = KILN_UINT8;
  out4->dtype = KILN_UINT8;
  expect_no_q8_packer(&ctx, "uint8");
  w4->t->dtype = KILN_INT8;
  in->t->dtype = KILN_INT8;
  out4->dtype = KILN_INT8;
  void *data = w4->t->data;
  w4->t->data = NULL;
  expect_no_q8_packer(&ctx, "weights not constant");
  w4->t->data = data;
  /* A float node: the float variants pack it, the int8 ones decline. */
  kiln_tensor *fin = kiln_test_tensor_f32(4, in_dims, NULL);
  kiln_tensor *fw = kiln_test_tensor_f32(4, f4, NULL);
  kiln_tensor *fout = kiln_test_tensor(KILN_FLOAT32, 4, o4);
  inputs[0] = fin;
  inputs[1] = fw;
  outputs[0] = fout;
  expect_no_q8_packer(&ctx, "float32");
  /* A packed int8 node whose quantization block is absent: not applied. */
  inputs[0] = in->t;
  inputs[1] = w4->t;
  outputs[0] = out4;
  void *packed = NULL;
  const kiln_kernel_variant *v = kiln_test_pack_like_load(
      KILN_OP_DEPTHWISE_CONV_2D, KILN_ISA_PORTABLE, &ctx, &packed);
  CHECK(v != NULL && strncmp(v->name, "q8-dwconv-", 10) == 0);
  ctx.packed = packed;
  CHECK(v == NULL || !v->applies(&ctx));
  kiln_free(NULL, packed);
  kiln_test_tensor_free(fin);
  kiln_test_tensor_free(fw);
  kiln_test_tensor_free(fout);
  kiln_test_tensor_free(out4);
  kiln_test_tensor_free(out);
  qt_free(w4);
  qt_free(w);
  qt_free(in);
}

int main(void) {
  kiln_test_seed(11);
  CHECK_OK(kiln_threadpool_create(3, NULL, &pool3));
  test_declined();
  test_specialized();
  test_random();
  test_edges();
  test_extreme();
  test_mobilenet_shapes();
  kiln_isa best = kiln_isa_resolve(KILN_ISA_AUTO);
  printf("q8 dwconv: ran");
  for (int isa = KILN_ISA_PORTABLE; isa <= (int)best; isa++)
    if (isa_ran[isa]) printf(" %s", kiln_isa_name((kiln_isa)isa));
  printf("; skipped:");
  bool any = false;
  for (int isa = (int)best + 1; isa <= KILN_ISA_AVX512_VNNI; isa++, any = true)
    printf(" %s", kiln_isa_name((kiln_isa)isa));
  printf("%s\n", any ? " (not on this CPU)" : " none");
  printf(
      "test_opt_qdwconv: %d cases, %d variant runs, %d reference "
      "fallbacks (extreme shifts), %d float-rounding runs\n",
      cases_run, variants_run, fallbacks, fp32_runs);
  CHECK(fp32_runs > 0);
  kiln_threadpool_free(pool3);
  return kiln_test_finish("test_opt_qdwconv");
}
