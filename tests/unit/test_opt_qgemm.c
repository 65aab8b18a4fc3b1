/* test_opt_qgemm.c - the int8 GEMM variants (kernels/qgemm/: FULLY_CONNECTED,
 * 1x1 and KxK CONV_2D on weights packed at load) against the reference
 * kernels, which equal LiteRT: outputs must be EQUAL, byte for byte, at
 * every instruction-set level this CPU has (printed: which ran, which were
 * skipped), on one thread and on a pool of 3, over random shapes (odd
 * sizes, K = 1, batch > 1), random scales and zero points, per-channel
 * and per-tensor weights, every clamp activation, strides, dilations and
 * both paddings. The microkernels' vectorized requantization is also
 * checked on its own against quant_math.h's scalar helpers, with extreme
 * accumulators and multipliers that make rounding ties. Nodes the
 * variants must leave alone (uint8) are checked to be declined, weights
 * of another shape than the packed ones not to be taken, and a run
 * without a pool's scratch to fall back to the reference kernel. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/threadpool.h"
#include "harness.h"
#include "kernels/qgemm/qgemm.h"
#include "kernels/ref/quant_params.h"
#include "kernels/variants.h"
#include "quant_test_util.h"

static kiln_threadpool *pool1, *pool3;
static kiln_isa best;
/* Cases each level's variants ran (index: kiln_isa). */
static int ran[KILN_ISA_AVX512_VNNI + 1];

/* An output like `ref` (same type, shape and parameters), filled with a
 * byte the kernels never have reason to leave. */
static kiln_tensor *output_like(const kiln_tensor *ref) {
  kiln_tensor *t = kiln_test_tensor(ref->dtype, ref->rank, ref->dims);
  t->quant = ref->quant;
  return t;
}

/* Packs the node as a load at `isa` would (into ctx->packed and *packed)
 * and returns the variant a session would then run, NULL for none. */
static const kiln_kernel_variant *pack_and_select(kiln_op_type op, kiln_isa isa,
                                                  kiln_op_ctx *ctx,
                                                  void **packed) {
  const kiln_kernel_variant *packer =
      kiln_test_pack_like_load(op, isa, ctx, packed);
  ctx->packed = *packed;
  return *packed ? kiln_variant_select(op, isa, packer, ctx) : NULL;
}

/* Float requantization (KILN_INT8_ROUNDING_FP32): every level packs and
 * runs the node; each output is at most one step from the reference's
 * integer rounding, and every level gives the same bytes as the first. */
static int fp32_runs;
static void run_levels_fp32(kiln_op_type op, kiln_op_ctx ctx,
                            kiln_quant_params *q, const kiln_tensor *ref,
                            const char *what) {
  kiln_tensor *got = ctx.outputs[0];
  size_t bytes = (size_t)kiln_tensor_numel(ref);
  int8_t *first = malloc(bytes ? bytes : 1);
  bool have_first = false;
  q->fp32_rounding = true;
  for (int isa = KILN_ISA_PORTABLE; isa <= (int)best; isa++) {
    void *packed;
    const kiln_kernel_variant *v =
        pack_and_select(op, (kiln_isa)isa, &ctx, &packed);
    if (v && strncmp(v->name, "q8-", 3) == 0) {
      ctx.pool = pool3;
      CHECK_OK(kiln_threadpool_reserve_scratch(ctx.pool, v->workspace(&ctx)));
      memset(got->data, 0x5a, bytes);
      CHECK_OK(v->run(&ctx));
      const int8_t *g = got->data, *r = ref->data;
      int worst = 0;
      for (size_t i = 0; i < bytes; i++) {
        int d = abs(g[i] - r[i]);
        worst = d > worst ? d : worst;
      }
      CHECK(worst <= 1);
      if (have_first) CHECK(memcmp(first, g, bytes) == 0);
      if (!have_first) memcpy(first, g, bytes);
      have_first = true;
      if (worst > 1)
        fprintf(stderr, "  %s fp32 at %s (%s): %d steps from the reference\n",
                what, kiln_isa_name((kiln_isa)isa), v->name, worst);
      fp32_runs++;
    }
    free(packed);
    ctx.packed = NULL;
    ctx.pool = NULL;
  }
  q->fp32_rounding = false;
  free(first);
}

/* Runs the node at every level and compares with the reference output.
 * `name` is the variant family that must take it (NULL: none may). */
static void run_levels(kiln_op_type op, const void *attrs, kiln_tensor **inputs,
                       int num_inputs, const kiln_tensor *ref, const char *name,
                       const char *what) {
  kiln_tensor *got = output_like(ref);
  kiln_tensor *outputs[1] = {got};
  kiln_op_ctx ctx = {attrs, inputs, num_inputs, outputs, 1, NULL, NULL, NULL};
  kiln_quant_params *q = NULL;
  CHECK_OK(kiln_quant_params_build(op, &ctx, NULL, &q));
  ctx.quant = q;
  size_t bytes = (size_t)kiln_tensor_numel(ref);
  for (int isa = KILN_ISA_PORTABLE; isa <= (int)best; isa++) {
    void *packed;
    const kiln_kernel_variant *v =
        pack_and_select(op, (kiln_isa)isa, &ctx, &packed);
    bool ours = v && strncmp(v->name, "q8-", 3) == 0;
    CHECK(ours == (name != NULL));
    if (ours && name) CHECK(strstr(v->name, name) != NULL);
    if (ours) {
      CHECK(v->pack && v->workspace && (int)v->isa <= isa);
      ran[v->isa]++;
      kiln_threadpool *pools[2] = {pool1, pool3};
      for (int p = 0; p < 2; p++) {
        ctx.pool = pools[p];
        CHECK_OK(kiln_threadpool_reserve_scratch(ctx.pool, v->workspace(&ctx)));
        memset(got->data, 0x5a, bytes);
        CHECK_OK(v->run(&ctx));
        bool same = memcmp(got->data, ref->data, bytes) == 0;
        CHECK(same);
        if (!same) {
          const int8_t *g = got->data, *r = ref->data;
          size_t i = 0;
          while (g[i] == r[i]) i++;
          fprintf(stderr, "  %s at %s (%s), %d threads: [%zu] %d vs %d\n", what,
                  kiln_isa_name((kiln_isa)isa), v->name,
                  kiln_threadpool_size(ctx.pool), i, g[i], r[i]);
        }
      }
    }
    if (ours) {
      /* Without a pool's scratch the variant hands the node to the
       * reference kernel rather than failing or allocating. */
      ctx.pool = NULL;
      memset(got->data, 0x5a, bytes);
      CHECK_OK(v->run(&ctx));
      CHECK(memcmp(got->data, ref->data, bytes) == 0);
      /* Weights of another shape than the packed ones are not taken. */
      inputs[1]->dims[0]++;
      CHECK(!v->applies(&ctx));
      inputs[1]->dims[0]--;
    }
    free(packed);
    ctx.packed = NULL;
    ctx.pool = NULL;
  }
  if (name) run_levels_fp32(op, ctx, q, ref, what);
  kiln_free(NULL, q);
  kiln_test_tensor_free(got);
}

/* Weights [dims...] with channel axis 0, per-channel or per-tensor scales,
 * zero point 0, and an output scale that keeps most results in range for a
 * sum of `depth` products. */
static qt *weights(kiln_dtype t, int rank, const int64_t *dims,
                   bool per_channel) {
  qt *w = qt_new(t, rank, dims, per_channel ? (int)dims[0] : 1, 0);
  for (int i = 0; i < w->info.count; i++) w->scale[i] = qt_scale(-9, -5);
  if (t == KILN_UINT8) w->zp[0] = kiln_test_int(0, 255);
  return w;
}

static qt *input(kiln_dtype t, int rank, const int64_t *dims) {
  qt *in = qt_new(t, rank, dims, 1, 0);
  in->scale[0] = qt_scale(-8, -4);
  in->zp[0] = kiln_test_int(qt_min(t), qt_max(t));
  return in;
}

static qt *output(kiln_dtype t, const qt *in, const qt *w, int64_t depth) {
  double real_acc = in->scale[0] * w->scale[0] * 128.0 * 128 * sqrt(depth);
  float scale = (float)(real_acc / 255.0 * ldexp(1.0, kiln_test_int(-1, 2)));
  return qt_output(t, scale, kiln_test_int(qt_min(t), qt_max(t)));
}

/* ------------------------------------------------------- FULLY_CONNECTED */

static void fc_case(kiln_dtype t, int64_t batch, int64_t m, int64_t k,
                    int64_t n, bool per_channel, bool bias) {
  int64_t in_dims[3] = {batch, m, k}, w_dims[2] = {n, k};
  qt *in = input(t, 3, in_dims), *w = weights(t, 2, w_dims, per_channel);
  qt *b = bias ? qt_new(KILN_INT32, 1, &n, 0, 0) : NULL;
  qt *out = output(t, in, w, k);
  kiln_fully_connected_attrs attrs = {.activation = qt_random_clamp()};
  kiln_tensor *inputs[3] = {in->t, w->t, b ? b->t : NULL};
  CHECK_OK(
      kiln_test_run_op1(KILN_OP_FULLY_CONNECTED, &attrs, inputs, 3, out->t));
  char what[128];
  snprintf(what, sizeof what, "fc %lldx%lldx%lld n %lld pc %d bias %d",
           (long long)batch, (long long)m, (long long)k, (long long)n,
           per_channel, bias);
  run_levels(KILN_OP_FULLY_CONNECTED, &attrs, inputs, 3, out->t,
             t == KILN_INT8 ? "q8-gemm-fc" : NULL, what);
  qt_free(in);
  qt_free(w);
  qt_free(b);
  qt_free(out);
}

/* --------------------------------------------------------------- CONV_2D */

typedef struct conv_case_t {
  int64_t batch, h, w, c, o, kh, kw;
  int stride_h, stride_w, dil_h, dil_w;
  kiln_padding padding;
  bool per_channel, bias;
} conv_case_t;

static void conv_case(kiln_dtype t, const conv_case_t *p) {
  int64_t in_dims[4] = {p->batch, p->h, p->w, p->c};
  int64_t w_dims[4] = {p->o, p->kh, p->kw, p->c};
  qt *in = input(t, 4, in_dims), *w = weights(t, 4, w_dims, p->per_channel);
  qt *b = p->bias ? qt_new(KILN_INT32, 1, &p->o, 0, 0) : NULL;
  qt *out = output(t, in, w, p->kh * p->kw * p->c);
  kiln_conv_attrs attrs = {p->padding, p->stride_h, p->stride_w,      p->dil_h,
                           p->dil_w,   0,           qt_random_clamp()};
  kiln_tensor *inputs[3] = {in->t, w->t, b ? b->t : NULL};
  kiln_status *st =
      kiln_test_run_op1(KILN_OP_CONV_2D, &attrs, inputs, 3, out->t);
  if (st) {
    /* A window larger than a VALID image: not a case. */
    kiln_status_free(st);
  } else {
    bool one = p->kh == 1 && p->kw == 1;
    char what[160];
    snprintf(what, sizeof what,
             "conv [%lld,%lld,%lld,%lld] f [%lld,%lld,%lld] s %dx%d d %dx%d "
             "pad %d",
             (long long)p->batch, (long long)p->h, (long long)p->w,
             (long long)p->c, (long long)p->o, (long long)p->kh,
             (long long)p->kw, p->stride_h, p->stride_w, p->dil_h, p->dil_w,
             (int)p->padding);
    const char *name = t != KILN_INT8 ? NULL
                       : one          ? "q8-conv1x1-gemm"
                                      : "q8-conv-gemm";
    run_levels(KILN_OP_CONV_2D, &attrs, inputs, 3, out->t, name, what);
  }
  qt_free(in);
  qt_free(w);
  qt_free(b);
  qt_free(out);
}

static conv_case_t random_conv(void) {
  conv_case_t p = {
      .batch = kiln_test_int(1, 3),
      .h = kiln_test_int(1, 12),
      .w = kiln_test_int(1, 12),
      .c = kiln_test_int(1, 40),
      .o = kiln_test_int(1, 70),
      .kh = kiln_test_int(1, 5),
      .kw = kiln_test_int(1, 5),
      .stride_h = kiln_test_int(1, 3),
      .stride_w = kiln_test_int(1, 3),
      .dil_h = kiln_test_int(1, 2),
      .dil_w = kiln_test_int(1, 2),
      .padding = kiln_test_int(0, 1) ? KILN_PAD_SAME : KILN_PAD_VALID,
      .per_channel = kiln_test_int(0, 3) != 0,
      .bias = kiln_test_int(0, 4) != 0,
  };
  if (kiln_test_int(0, 2) == 0) p.kh = p.kw = 1;
  return p;
}

/* ------------------------------------------------- the output stage alone */

/* A random multiplier as kiln_quantize_multiplier makes them, now and then
 * one that makes rounding ties (2^30) or the largest; with `any`, also
 * negative ones and INT32_MIN, whose product with an INT32_MIN sum is the
 * one the reference saturates (the loader never packs them, but the
 * portable and AVX2 output stages take any int32 multiplier). */
static int32_t random_multiplier(bool any) {
  switch (kiln_test_int(0, any ? 7 : 5)) {
    case 0:
      return INT32_C(1) << 30;
    case 1:
      return INT32_MAX;
    case 6:
      return INT32_MIN;
    case 7:
      return (int32_t)kiln_test_rand();
    default:
      return (int32_t)((UINT32_C(1) << 30) | (kiln_test_rand() >> 2));
  }
}

static int32_t random_acc(void) {
  static const int32_t special[] = {
      INT32_MIN, INT32_MAX, INT32_MIN + 1, 0, -1, 1, -2, 2, -3, 3};
  switch (kiln_test_int(0, 3)) {
    case 0:
      return special[kiln_test_int(0, 9)];
    case 1:
      return kiln_test_int(-300, 300);
    default:
      return (int32_t)kiln_test_rand();
  }
}

/* The float output stage of one channel, written out independently of
 * kiln_qgemm_requantize: IEEE float steps, rounding half to even. */
static int8_t fp32_requantize(int32_t acc, int32_t mult, int shift,
                              const kiln_quant_params *q) {
  const float scale = (float)ldexp((double)mult, shift - 31);
  double x = (double)((float)acc * scale);
  x = fmin(fmax(x, q->act_min - q->output_zp), q->act_max - q->output_zp);
  return (int8_t)(nearbyint(x) + q->output_zp);
}

static void output_stage(const kiln_qgemm_kernel *kernel, const char *name,
                         bool any_multiplier) {
  enum { MAX_N = 64, MAX_M = 8 };
  int32_t mult[MAX_N], bias[MAX_N];
  int shift[MAX_N];
  int8_t w[MAX_N * 4] = {0}, c[MAX_M * MAX_N];
  uint8_t a[MAX_M * 4];
  memset(a, 0x80, sizeof a);
  int64_t bad = 0;
  for (int trial = 0; trial < 3000; trial++) {
    int n = kiln_test_int(1, kernel->nr);
    int mr = kiln_test_int(1, kernel->mr);
    bool single = kiln_test_int(0, 1), fp32 = kiln_test_int(0, 2) == 0;
    int shift_lo = kiln_test_int(0, 1) ? -31 : -4;
    for (int j = 0; j < n; j++) {
      mult[j] = random_multiplier(any_multiplier);
      shift[j] = kiln_test_int(shift_lo, kiln_test_int(0, 3) ? 0 : 30);
    }
    kiln_quant_params q = {
        .single_rounding = single,
        .channels = n,
        .output_zp = kiln_test_int(-128, 127),
        .act_min = kiln_test_int(-128, -100),
        .act_max = kiln_test_int(100, 127),
        .multiplier = mult,
        .shift = shift,
        .bias32 = bias,
    };
    /* Zero weights: each output is its channel's bias, so the tile's rows
     * read the same values; each trial draws new ones. */
    for (int j = 0; j < n; j++) bias[j] = random_acc();
    void *packed;
    CHECK_OK(kiln_qgemm_pack(kernel, w, n, 4, &q, fp32, NULL, &packed));
    if (!packed) continue;
    const kiln_qgemm_header *h = packed;
    kernel->fn((size_t)mr, (size_t)n, 4, a, 4, (const char *)packed + h->offset,
               c, MAX_N, &h->out);
    for (int r = 0; r < mr; r++)
      for (int j = 0; j < n; j++) {
        int32_t v = single ? kiln_mul_by_quantized_multiplier_single(
                                 bias[j], mult[j], shift[j])
                           : kiln_mul_by_quantized_multiplier(bias[j], mult[j],
                                                              shift[j]);
        v = (int32_t)((uint32_t)v + (uint32_t)q.output_zp);
        v = v < q.act_min ? q.act_min : v > q.act_max ? q.act_max : v;
        if (fp32) v = fp32_requantize(bias[j], mult[j], shift[j], &q);
        if (c[r * MAX_N + j] != v && bad++ < 5)
          fprintf(
              stderr, "  %s: acc %d mult %d shift %d single %d: %d, want %d\n",
              name, bias[j], mult[j], shift[j], single, c[r * MAX_N + j], v);
      }
    free(packed);
  }
  CHECK(bad == 0);
}

/* ------------------------------------------------------------------ main */

int main(void) {
  kiln_test_seed(0x9e3779b9);
  best = kiln_isa_resolve(KILN_ISA_AUTO);
  CHECK_OK(kiln_threadpool_create(1, NULL, &pool1));
  CHECK_OK(kiln_threadpool_create(3, NULL, &pool3));

  output_stage(&kiln_qgemm_4x8_portable, "4x8 portable", true);
#if defined(__x86_64__)
  if (best >= KILN_ISA_AVX2)
    output_stage(&kiln_qgemm_4x8_avx2, "4x8 avx2", true);
  if (best >= KILN_ISA_AVX512_VNNI) {
    output_stage(&kiln_qgemm_8x16_vnni, "8x16 vnni", false);
    output_stage(&kiln_qgemm_8x32_vnni, "8x32 vnni", false);
  }
#endif

  /* FULLY_CONNECTED: odd sizes, K = 1, batch > 1. */
  fc_case(KILN_INT8, 1, 1, 1, 1, true, true);
  fc_case(KILN_INT8, 2, 3, 1, 17, false, true);
  for (int i = 0; i < 40; i++)
    fc_case(KILN_INT8, kiln_test_int(1, 2), kiln_test_int(1, 70),
            kiln_test_int(1, 300), kiln_test_int(1, 100), kiln_test_int(0, 3),
            kiln_test_int(0, 4));
  /* CONV_2D: 1x1 and KxK, strides, dilations, paddings. */
  conv_case_t fixed[] = {
      {1, 5, 5, 3, 7, 3, 3, 1, 1, 1, 1, KILN_PAD_SAME, true, true},
      {2, 7, 6, 16, 33, 1, 1, 2, 2, 1, 1, KILN_PAD_VALID, true, true},
      {1, 9, 9, 1, 1, 7, 7, 2, 2, 1, 1, KILN_PAD_SAME, false, false},
      {1, 8, 8, 5, 40, 3, 3, 1, 2, 2, 1, KILN_PAD_SAME, true, true},
  };
  for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
    conv_case(KILN_INT8, &fixed[i]);
  for (int i = 0; i < 60; i++) {
    conv_case_t p = random_conv();
    conv_case(KILN_INT8, &p);
  }
  /* uint8 nodes stay on the reference kernels. */
  fc_case(KILN_UINT8, 1, 4, 20, 9, false, true);
  conv_case_t u8 = {1,     6,   6, 4, 8, 3, 3, 1, 1, 1, 1, KILN_PAD_SAME,
                    false, true};
  conv_case(KILN_UINT8, &u8);

  printf("q8 gemm: %d float-requantization runs within 1 step\n", fp32_runs);
  CHECK(fp32_runs > 0);
  printf("q8 gemm: ran");
  for (int isa = KILN_ISA_PORTABLE; isa <= KILN_ISA_AVX512_VNNI; isa++)
    if (ran[isa])
      printf(" %s (%d cases)", kiln_isa_name((kiln_isa)isa), ran[isa]);
  printf("; skipped:");
  int skipped = 0;
  static const kiln_isa levels[] = {KILN_ISA_PORTABLE, KILN_ISA_AVX2,
                                    KILN_ISA_AVX512_VNNI};
  for (int i = 0; i < 3; i++)
    if (levels[i] > best) {
      printf(" %s", kiln_isa_name(levels[i]));
      skipped++;
    }
  printf("%s\n", skipped ? " (not on this CPU)" : " none");
  for (int i = 0; i < 3; i++)
    if (levels[i] <= best) CHECK(ran[levels[i]] > 0);
  kiln_threadpool_free(pool1);
  kiln_threadpool_free(pool3);
  return kiln_test_finish("test_opt_qgemm");
}
