/* test_opt_conv.c - the KxK CONV_2D variants (filter packed at load: GEMM
 * on windows built per block of output pixels, or Winograd F(4x4, 3x3)
 * for 3x3 stride 1) against the reference kernel,
 * at every instruction-set level this CPU has, single-threaded and on a
 * pool of 3 threads: random shapes, strides, dilations and paddings, bias
 * or none, each fused activation (HARD_SWISH, LOGISTIC and SWISH too; TANH
 * is left to the reference). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/threadpool.h"
#include "harness.h"
#include "kernels/activation.h"
#include "kernels/gemm/gemm.h"
#include "kernels/variants.h"

/* NULL (the caller's thread), 3 threads; and 1 thread, which variants
 * that need scratch get instead of NULL. */
static kiln_threadpool *pools[2], *pool1;

static kiln_tensor *abs_copy(const kiln_tensor *t) {
  if (!t) return NULL;
  kiln_tensor *a = kiln_test_tensor(KILN_FLOAT32, t->rank, t->dims);
  const float *src = t->data;
  float *dst = a->data;
  for (int64_t i = 0; i < kiln_tensor_numel(t); i++) dst[i] = fabsf(src[i]);
  return a;
}

typedef struct conv_params {
  int64_t batch, h, w, c, o, kh, kw;
  int stride_h, stride_w, dil_h, dil_w, groups, bias_mode;
  kiln_padding padding;
  kiln_activation act;
} conv_params;

/* Whether the case is one Winograd may take: 3x3, stride 1, no dilation
 * (its packer still declines images too small to gain). */
static bool winograd_case(const conv_params *p) {
  return p->kh == 3 && p->kw == 3 && p->stride_h == 1 && p->stride_w == 1 &&
         p->dil_h == 1 && p->dil_w == 1;
}

/* Set while the cases must run on Winograd (images of 3x3 and more); and
 * how many ran on each tile size. */
static bool require_winograd;
static int winograd_runs[2];       /* F(4x4, 3x3), F(2x2, 3x3) */
static int winograd_epilogue_runs; /* with HARD_SWISH, LOGISTIC or SWISH */

/* Runs the case at each level. `expect`: whether a KxK variant must run it
 * (else none may): Winograd for winograd_case(), else the GEMM one. TANH
 * cases go to the reference whatever `expect` says. */
static void conv_case(const conv_params *p, bool expect) {
  if (p->act == KILN_ACT_TANH) expect = false;
  int64_t in_dims[4] = {p->batch, p->h, p->w, p->c * p->groups};
  int64_t f_dims[4] = {p->o, p->kh, p->kw, p->c}, b_dims[1] = {p->o};
  kiln_tensor *in = kiln_test_tensor_f32(4, in_dims, NULL);
  kiln_tensor *f = kiln_test_tensor_f32(4, f_dims, NULL);
  kiln_tensor *bias =
      p->bias_mode == 0 ? kiln_test_tensor_f32(1, b_dims, NULL) : NULL;
  kiln_tensor *ref = kiln_test_output(), *scale = kiln_test_output();
  kiln_tensor *inputs[3] = {in, f, bias};
  int num_inputs = p->bias_mode == 2 ? 2 : 3;
  kiln_conv_attrs attrs = {
      .padding = p->padding,
      .stride_h = p->stride_h,
      .stride_w = p->stride_w,
      .dilation_h = p->dil_h,
      .dilation_w = p->dil_w,
      .activation = p->act,
  };
  CHECK_OK(kiln_test_run_op1(KILN_OP_CONV_2D, &attrs, inputs, num_inputs, ref));
  /* The sum of |terms| that a float sum's error scales with: the same
   * convolution of the absolute values, unclamped. */
  kiln_tensor *ain = abs_copy(in), *af = abs_copy(f), *ab = abs_copy(bias);
  kiln_tensor *abs_inputs[3] = {ain, af, ab};
  kiln_conv_attrs abs_attrs = attrs;
  abs_attrs.activation = KILN_ACT_NONE;
  CHECK_OK(kiln_test_run_op1(KILN_OP_CONV_2D, &abs_attrs, abs_inputs,
                             num_inputs, scale));
  kiln_tensor *got = kiln_test_tensor(KILN_FLOAT32, ref->rank, ref->dims);
  kiln_tensor *outputs[1] = {got};
  kiln_op_ctx ctx = {&attrs, inputs, num_inputs, outputs, 1, NULL, NULL, NULL};
  int64_t count = kiln_tensor_numel(ref);
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
    bool winograd = v && strstr(v->name, "winograd") != NULL;
    bool ours = v && (winograd || strstr(v->name, "conv-gemm") != NULL);
    CHECK(ours == expect);
    CHECK(!winograd || winograd_case(p));
    CHECK(winograd || !require_winograd || !expect);
    if (winograd) winograd_runs[strstr(v->name, "f23") != NULL]++;
    if (winograd && !kiln_activation_is_clamp(p->act)) winograd_epilogue_runs++;
    /* Winograd's transforms scale terms by up to 8 * 8 before summing
     * them and cancel them after: its rounding is larger (1.3e-6 of the
     * sum of |terms| at worst over these tests), so it gets 3e-5. An
     * activation that is not a clamp stretches that by its slope (at most
     * 1.5) and adds a few ulps of its own result. */
    float tolerance = winograd ? 3e-5f : 1e-5f;
    bool clamp = kiln_activation_is_clamp(p->act);
    if (ours) {
      CHECK(v == packer);
      CHECK(v->isa == (kiln_isa)isa);
      for (int pi = 0; pi < 2; pi++) {
        ctx.pool = pools[pi];
        if (v->workspace) {
          if (!ctx.pool) ctx.pool = pool1;
          CHECK_OK(
              kiln_threadpool_reserve_scratch(ctx.pool, v->workspace(&ctx)));
        }
        float *out = got->data;
        for (int64_t i = 0; i < count; i++) out[i] = 12345.0f;
        CHECK_OK(v->run(&ctx));
        const float *want = ref->data, *s = scale->data;
        int64_t bad = 0, first = -1;
        for (int64_t i = 0; i < count; i++) {
          float tol = tolerance * s[i] + 1e-6f;
          if (!clamp) tol = 1.5f * tol + 2e-6f * fabsf(want[i]);
          bool ok =
              isnan(want[i]) ? isnan(out[i]) : fabsf(out[i] - want[i]) <= tol;
          if (!ok && bad++ == 0) first = i;
        }
        CHECK(bad == 0);
        if (bad)
          fprintf(stderr,
                  "  conv [%lld,%lld,%lld,%lld] f [%lld,%lld,%lld] stride "
                  "%dx%d dil %dx%d pad %d bias %d act %d at %s pool %d: "
                  "%lld bad, first [%lld] %g vs %g\n",
                  (long long)p->batch, (long long)p->h, (long long)p->w,
                  (long long)p->c, (long long)p->o, (long long)p->kh,
                  (long long)p->kw, p->stride_h, p->stride_w, p->dil_h,
                  p->dil_w, (int)p->padding, p->bias_mode, (int)p->act,
                  kiln_isa_name((kiln_isa)isa), pi, (long long)bad,
                  (long long)first, out[first], want[first]);
      }
    }
    free(packed);
    ctx.packed = NULL;
    ctx.pool = NULL;
  }
  kiln_tensor *all[9] = {in, f, bias, ref, scale, ain, af, ab, got};
  kiln_test_tensors_free(all, 9);
}

static int64_t kernel_size(void) {
  static const int sizes[] = {2, 3, 5, 7};
  return sizes[kiln_test_int(0, 3)];
}

static conv_params random_params(void) {
  conv_params p = {
      .batch = kiln_test_int(1, 2),
      .h = kiln_test_int(1, 20),
      .w = kiln_test_int(1, 20),
      .c = kiln_test_int(1, 40),
      .o = kiln_test_int(1, 70),
      .kh = kernel_size(),
      .kw = kernel_size(),
      .stride_h = kiln_test_int(1, 3),
      .stride_w = kiln_test_int(1, 3),
      .dil_h = kiln_test_int(1, 2),
      .dil_w = kiln_test_int(1, 2),
      .groups = 1,
      .bias_mode = kiln_test_int(0, 2),
      .padding = kiln_test_int(0, 1) ? KILN_PAD_SAME : KILN_PAD_VALID,
      .act = kiln_test_random_activation(),
  };
  /* VALID needs the dilated window to fit the input. */
  if (p.h < (p.kh - 1) * p.dil_h + 1 || p.w < (p.kw - 1) * p.dil_w + 1)
    p.padding = KILN_PAD_SAME;
  return p;
}

static void test_random(void) {
  for (int trial = 0; trial < 150; trial++) {
    conv_params p = random_params();
    conv_case(&p, true);
  }
}

/* Winograd's shapes alone: tiles cut by the image's edge, channels that
 * are not a multiple of 16, several blocks of tiles, batches. */
static void test_winograd(void) {
  require_winograd = true;
  for (int trial = 0; trial < 40; trial++) {
    conv_params p = random_params();
    p.kh = p.kw = 3;
    p.stride_h = p.stride_w = p.dil_h = p.dil_w = 1;
    p.batch = kiln_test_int(1, 3);
    p.h = kiln_test_int(3, 30);
    p.w = kiln_test_int(3, 30);
    p.c = kiln_test_int(1, 80);
    conv_case(&p, true);
  }
  /* Many tiles and wide channels: blocks of tiles shorter than the
   * image, and the 32-channel panels of AVX-512 with a remainder. */
  conv_params wide = {1, 41, 38, 160,           70,           3, 3, 1, 1, 1,
                      1, 1,  0,  KILN_PAD_SAME, KILN_ACT_RELU};
  /* A small image of many channels: 2x2 tiles, which read fewer
   * transformed weights; one block, so that 3 threads share out its panels
   * and each tile's epilogue runs pixel by pixel on a share of channels. */
  conv_params late = {1, 7, 7, 300,           200,          3, 3, 1, 1, 1,
                      1, 1, 0, KILN_PAD_SAME, KILN_ACT_NONE};
  static const kiln_activation acts[] = {KILN_ACT_RELU, KILN_ACT_HARD_SWISH,
                                         KILN_ACT_LOGISTIC, KILN_ACT_SWISH};
  for (int a = 0; a < 4; a++) {
    wide.act = acts[a];
    conv_case(&wide, true);
    late.act = a ? acts[a] : KILN_ACT_NONE;
    conv_case(&late, true);
  }
  require_winograd = false;
  CHECK(winograd_runs[0] > 0);
  CHECK(winograd_runs[1] > 0);
  CHECK(winograd_epilogue_runs > 0);
}

static void test_special(void) {
  /* Several blocks of pixels and k (K past two blocks of 128), a partial
   * last tile, and panels split across threads on few pixels. */
  conv_params p = {
      2, 17, 19, 40, 67, 3, 3, 1, 1, 1, 1, 1, 0, KILN_PAD_SAME, KILN_ACT_RELU6};
  conv_case(&p, true);
  conv_params few = {
      1, 3, 3, 64, 200, 3, 3, 1, 1, 1, 1, 1, 1, KILN_PAD_SAME, KILN_ACT_RELU};
  conv_case(&few, true);
  /* A 7x7 stride-2 stem on three channels. */
  conv_params stem = {
      1, 20, 20, 3, 16, 7, 7, 2, 2, 1, 1, 1, 2, KILN_PAD_SAME, KILN_ACT_NONE};
  conv_case(&stem, true);
  /* Non-square filters, including 1xK and Kx1. */
  conv_params row = {1,
                     6,
                     9,
                     5,
                     9,
                     1,
                     3,
                     1,
                     2,
                     1,
                     1,
                     1,
                     0,
                     KILN_PAD_VALID,
                     KILN_ACT_RELU_N1_TO_1};
  conv_case(&row, true);
  conv_params col = {
      2, 9, 4, 7, 5, 5, 1, 2, 1, 2, 1, 1, 0, KILN_PAD_SAME, KILN_ACT_NONE};
  conv_case(&col, true);
  /* Left to other kernels: a 1x1 filter (the 1x1 GEMM variant), a grouped
   * convolution and a TANH activation (the reference). */
  conv_params one = {
      1, 5, 5, 8, 8, 1, 1, 1, 1, 1, 1, 1, 0, KILN_PAD_SAME, KILN_ACT_NONE};
  conv_case(&one, false);
  conv_params grouped = {
      1, 6, 6, 4, 6, 3, 3, 1, 1, 1, 1, 2, 0, KILN_PAD_SAME, KILN_ACT_NONE};
  conv_case(&grouped, false);
  conv_params tanh_act = {
      1, 6, 6, 4, 6, 3, 3, 1, 1, 1, 1, 1, 0, KILN_PAD_SAME, KILN_ACT_TANH};
  conv_case(&tanh_act, false);
}

/* A filter that is not a constant at load is not packed. */
static void test_not_constant(void) {
  int64_t in_dims[4] = {1, 5, 5, 3}, f_dims[4] = {4, 3, 3, 3};
  kiln_tensor *in = kiln_test_tensor_f32(4, in_dims, NULL);
  kiln_tensor *f = kiln_test_tensor_f32(4, f_dims, NULL);
  kiln_tensor *out = kiln_test_output();
  kiln_tensor *inputs[2] = {in, f}, *outputs[1] = {out};
  kiln_conv_attrs attrs = {KILN_PAD_SAME, 1, 1, 1, 1, 0, KILN_ACT_NONE};
  kiln_op_ctx ctx = {&attrs, inputs, 2, outputs, 1, NULL, NULL, NULL};
  void *saved = f->data;
  f->data = NULL;
  for (int isa = KILN_ISA_PORTABLE; isa <= (int)kiln_test_float_isa(); isa++) {
    void *packed = NULL;
    CHECK(kiln_test_pack_like_load(KILN_OP_CONV_2D, (kiln_isa)isa, &ctx,
                                   &packed) == NULL);
    free(packed);
  }
  f->data = saved;
  kiln_tensor *all[3] = {in, f, out};
  kiln_test_tensors_free(all, 3);
}

int main(void) {
  kiln_test_seed(0xc0 + 0x2d);
  CHECK_OK(kiln_threadpool_create(3, NULL, &pools[1]));
  CHECK_OK(kiln_threadpool_create(1, NULL, &pool1));
  test_random();
  test_winograd();
  test_special();
  test_not_constant();
  kiln_threadpool_free(pools[1]);
  kiln_threadpool_free(pool1);
  return kiln_test_finish("test_opt_conv");
}
