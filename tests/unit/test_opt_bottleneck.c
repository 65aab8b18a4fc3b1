/* test_opt_bottleneck.c - FUSED_BOTTLENECK: its reference kernel and its
 * variants (weights packed at load, rows swept in per-thread scratch)
 * against the three original reference operators chained (1x1 CONV_2D,
 * 3x3 DEPTHWISE_CONV_2D, 1x1 CONV_2D), at every instruction-set level this
 * CPU has, on pools of 1 and 3 threads: random sizes (odd widths, channel
 * counts off the vector widths), strides 1 and 2, SAME and VALID, with
 * and without the expand stage and each bias, batch above 1. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/threadpool.h"
#include "harness.h"
#include "kernels/bottleneck/bottleneck.h"
#include "kernels/variants.h"

enum { NUM_IN = KILN_BOTTLENECK_INPUTS };

static kiln_threadpool *pools[2]; /* 1 thread, 3 threads */

typedef struct params {
  int64_t batch, h, w, c, m, o;
  int stride;
  kiln_padding padding;
  bool expand, expand_bias, dw_bias, project_bias;
  kiln_activation expand_act, dw_act, project_act;
} params;

/* The node's tensors; absent ones NULL. */
typedef struct bottleneck {
  kiln_tensor *in[NUM_IN];
  kiln_bottleneck_attrs attrs;
} bottleneck;

static kiln_activation clamp_activation(void) {
  static const kiln_activation acts[] = {KILN_ACT_NONE, KILN_ACT_RELU,
                                         KILN_ACT_RELU6, KILN_ACT_RELU_N1_TO_1};
  return acts[kiln_test_int(0, 3)];
}

static kiln_tensor *f32(bool present, int rank, const int64_t *dims) {
  return present ? kiln_test_tensor_f32(rank, dims, NULL) : NULL;
}

static void make(const params *p, bottleneck *b) {
  int64_t m = p->expand ? p->m : p->c;
  b->in[0] = f32(true, 4, (int64_t[]){p->batch, p->h, p->w, p->c});
  b->in[1] = f32(p->expand, 4, (int64_t[]){m, 1, 1, p->c});
  b->in[2] = f32(p->expand && p->expand_bias, 1, (int64_t[]){m});
  b->in[3] = f32(true, 4, (int64_t[]){1, 3, 3, m});
  b->in[4] = f32(p->dw_bias, 1, (int64_t[]){m});
  b->in[5] = f32(true, 4, (int64_t[]){p->o, 1, 1, m});
  b->in[6] = f32(p->project_bias, 1, (int64_t[]){p->o});
  /* Inputs wide enough that RELU6 and RELU_N1_TO_1 clamp on both sides. */
  float *x = b->in[0]->data;
  for (int64_t i = 0; i < kiln_tensor_numel(b->in[0]); i++) x[i] *= 4.0f;
  b->attrs = (kiln_bottleneck_attrs){
      .expand_activation = p->expand ? p->expand_act : KILN_ACT_NONE,
      .depthwise = {p->padding, p->stride, p->stride, 1, 1, 1, p->dw_act},
      .project_activation = p->project_act,
  };
}

static void abs_tensor(kiln_tensor *t) {
  float *d = t ? t->data : NULL;
  for (int64_t i = 0; t && i < kiln_tensor_numel(t); i++) d[i] = fabsf(d[i]);
}

/* The three reference operators chained; `abs_only`: on the absolute
 * values without activations, the sum of |terms| the float error of each
 * output scales with. */
static kiln_tensor *chain(const bottleneck *b, bool abs_only) {
  kiln_tensor *in[NUM_IN];
  for (int i = 0; i < NUM_IN; i++) {
    in[i] = NULL;
    if (!b->in[i]) continue;
    in[i] =
        kiln_test_tensor_f32(b->in[i]->rank, b->in[i]->dims, b->in[i]->data);
    if (abs_only) abs_tensor(in[i]);
  }
  const kiln_bottleneck_attrs *a = &b->attrs;
  kiln_conv_attrs pw = {KILN_PAD_VALID, 1, 1, 1, 1, 0, KILN_ACT_NONE};
  kiln_conv_attrs dw = a->depthwise;
  kiln_tensor *x = in[0], *e = NULL, *d = kiln_test_output();
  kiln_tensor *y = kiln_test_output();
  if (in[1]) {
    e = kiln_test_output();
    pw.activation = abs_only ? KILN_ACT_NONE : a->expand_activation;
    CHECK_OK(kiln_test_run_op1(KILN_OP_CONV_2D, &pw,
                               (kiln_tensor *[]){x, in[1], in[2]}, 3, e));
    x = e;
  }
  if (abs_only) dw.activation = KILN_ACT_NONE;
  CHECK_OK(kiln_test_run_op1(KILN_OP_DEPTHWISE_CONV_2D, &dw,
                             (kiln_tensor *[]){x, in[3], in[4]}, 3, d));
  pw.activation = abs_only ? KILN_ACT_NONE : a->project_activation;
  CHECK_OK(kiln_test_run_op1(KILN_OP_CONV_2D, &pw,
                             (kiln_tensor *[]){d, in[5], in[6]}, 3, y));
  kiln_tensor *all[NUM_IN + 2] = {e, d};
  memcpy(all + 2, in, sizeof in);
  kiln_test_tensors_free(all, NUM_IN + 2);
  return y;
}

static void describe(const params *p, const char *what, const char *isa,
                     int pool, int64_t bad, int64_t first, float got,
                     float want) {
  fprintf(stderr,
          "  %s: x [%lld,%lld,%lld,%lld] m %lld o %lld stride %d pad %d "
          "expand %d biases %d%d%d acts %d %d %d at %s pool %d: %lld bad, "
          "first [%lld] %g vs %g\n",
          what, (long long)p->batch, (long long)p->h, (long long)p->w,
          (long long)p->c, (long long)p->m, (long long)p->o, p->stride,
          (int)p->padding, p->expand, p->expand_bias, p->dw_bias,
          p->project_bias, (int)p->expand_act, (int)p->dw_act,
          (int)p->project_act, isa, pool, (long long)bad, (long long)first, got,
          want);
}

/* Whether got is within float rounding of want, given the scale. */
static void compare(const params *p, const char *what, const char *isa,
                    int pool, const kiln_tensor *got, const kiln_tensor *want,
                    const kiln_tensor *scale) {
  CHECK(kiln_tensor_numel(got) == kiln_tensor_numel(want));
  const float *g = got->data, *w = want->data, *s = scale->data;
  int64_t bad = 0, first = -1;
  for (int64_t i = 0; i < kiln_tensor_numel(want); i++) {
    bool ok = fabsf(g[i] - w[i]) <= 1e-5f * s[i] + 1e-6f;
    if (!ok && bad++ == 0) first = i;
  }
  CHECK(bad == 0);
  if (bad) describe(p, what, isa, pool, bad, first, g[first], w[first]);
}

/* As the runtime does at load: the first variant for `isa` that packs the
 * node, with the input's data unknown. */
static const kiln_kernel_variant *pack_like_load(kiln_isa isa,
                                                 const kiln_op_ctx *ctx,
                                                 void **packed) {
  kiln_tensor input = *ctx->inputs[0];
  input.data = NULL;
  kiln_tensor *inputs[NUM_IN];
  memcpy(inputs, ctx->inputs, sizeof inputs);
  inputs[0] = &input;
  kiln_op_ctx load = *ctx;
  load.inputs = inputs;
  int index = 0;
  *packed = NULL;
  for (const kiln_kernel_variant *v =
           kiln_variant_packer(KILN_OP_FUSED_BOTTLENECK, isa, 0, &index);
       v; v = kiln_variant_packer(KILN_OP_FUSED_BOTTLENECK, isa, index + 1,
                                  &index)) {
    CHECK_OK(v->pack(&load, NULL, packed));
    if (*packed) return v;
  }
  return NULL;
}

/* Runs one case: the fused reference, then each level's variant (which
 * must take it when `expect`) on both pools. */
static void run_case(const params *p, bool expect) {
  bottleneck b;
  make(p, &b);
  kiln_tensor *want = chain(&b, false), *scale = chain(&b, true);
  kiln_tensor *got = kiln_test_output();
  CHECK_OK(
      kiln_test_run_op1(KILN_OP_FUSED_BOTTLENECK, &b.attrs, b.in, NUM_IN, got));
  compare(p, "reference", "ref", 0, got, want, scale);
  kiln_tensor *outputs[1] = {got};
  kiln_op_ctx ctx = {&b.attrs, b.in, NUM_IN, outputs, 1, NULL, NULL, NULL};
  kiln_isa best = kiln_test_float_isa();
  for (int isa = KILN_ISA_PORTABLE; isa <= (int)best; isa++) {
    void *packed;
    const kiln_kernel_variant *packer =
        pack_like_load((kiln_isa)isa, &ctx, &packed);
    CHECK((packer != NULL) == expect);
    ctx.packed = packed;
    const kiln_kernel_variant *v =
        packed ? kiln_variant_select(KILN_OP_FUSED_BOTTLENECK, (kiln_isa)isa,
                                     packer, &ctx)
               : NULL;
    CHECK((v != NULL) == expect);
    for (int pi = 0; v && pi < 2; pi++) {
      CHECK(v == packer && v->isa == (kiln_isa)isa && v->workspace);
      /* The plan, and so the scratch, depends on the pool's threads. */
      ctx.pool = pools[pi];
      size_t bytes = v->workspace(&ctx);
      CHECK_OK(kiln_threadpool_reserve_scratch(pools[pi], bytes));
      /* Whatever the scratch held before must not leak into the result. */
      for (int t = 0; t < kiln_threadpool_size(pools[pi]); t++)
        memset(kiln_threadpool_scratch(pools[pi], t), 0x7f, bytes);
      float *out = got->data;
      for (int64_t i = 0; i < kiln_tensor_numel(got); i++) out[i] = 12345.0f;
      CHECK_OK(v->run(&ctx));
      compare(p, v->name, kiln_isa_name((kiln_isa)isa), pi, got, want, scale);
    }
    free(packed);
    ctx.packed = NULL;
    ctx.pool = NULL;
  }
  kiln_tensor *all[3] = {want, scale, got};
  kiln_test_tensors_free(all, 3);
  kiln_test_tensors_free(b.in, NUM_IN);
}

/* A block with every bias and MobileNetV2's activations (RELU6, RELU6,
 * none); each case changes what it tests. */
static params block(int64_t batch, int64_t h, int64_t w, int64_t c, int64_t m,
                    int64_t o, int stride) {
  params p = {.batch = batch, .h = h, .w = w, .c = c, .m = m, .o = o};
  p.stride = stride, p.padding = KILN_PAD_SAME;
  p.expand = p.expand_bias = p.dw_bias = p.project_bias = true;
  p.expand_act = p.dw_act = KILN_ACT_RELU6;
  return p;
}

static params random_params(void) {
  params p = {
      .batch = kiln_test_int(1, 3),
      .h = kiln_test_int(1, 19),
      .w = kiln_test_int(1, 23),
      .c = kiln_test_int(1, 40),
      .m = kiln_test_int(1, 90),
      .o = kiln_test_int(1, 50),
      .stride = kiln_test_int(1, 2),
      .padding = kiln_test_int(0, 1) ? KILN_PAD_SAME : KILN_PAD_VALID,
      .expand = kiln_test_int(0, 3) != 0,
      .expand_bias = kiln_test_int(0, 3) != 0,
      .dw_bias = kiln_test_int(0, 3) != 0,
      .project_bias = kiln_test_int(0, 3) != 0,
      .expand_act = clamp_activation(),
      .dw_act = clamp_activation(),
      .project_act = clamp_activation(),
  };
  /* VALID needs the window to fit the input. */
  if (p.h < 3 || p.w < 3) p.padding = KILN_PAD_SAME;
  return p;
}

static void test_random(void) {
  for (int trial = 0; trial < 120; trial++) {
    params p = random_params();
    run_case(&p, true);
  }
}

static void test_special(void) {
  /* MobileNetV2's shapes: a stride-2 block on a wide map (several bands,
   * the ring wrapping), a stride-1 block, a 7x7 map of 960 channels, and
   * the first block's depthwise-separable form. */
  params s2 = block(1, 24, 57, 16, 96, 24, 2);
  run_case(&s2, true);
  params s1 = s2;
  s1.c = 24, s1.m = 144, s1.stride = 1;
  run_case(&s1, true);
  params small = s1;
  small.h = small.w = 7, small.c = 160, small.m = 960, small.o = 160;
  run_case(&small, true);
  params separable = s1;
  separable.expand = false, separable.c = 32, separable.o = 16;
  run_case(&separable, true);
  /* Narrow and tall: the longest bands, many of them per thread, and
   * threads splitting images of a batch. */
  params tall = block(3, 45, 3, 5, 21, 7, 1);
  tall.padding = KILN_PAD_VALID, tall.expand_bias = false;
  tall.project_bias = false, tall.expand_act = KILN_ACT_RELU;
  tall.dw_act = KILN_ACT_RELU_N1_TO_1, tall.project_act = KILN_ACT_RELU6;
  run_case(&tall, true);
  tall.stride = 2, tall.padding = KILN_PAD_SAME;
  run_case(&tall, true);
  /* One pixel, and a VALID window that just fits. */
  params one = block(2, 1, 1, 3, 5, 4, 2);
  one.expand_act = KILN_ACT_NONE, one.dw_act = KILN_ACT_NONE;
  run_case(&one, true);
  one.h = one.w = 3, one.padding = KILN_PAD_VALID, one.stride = 1;
  run_case(&one, true);
}

/* Rows too wide for the scratch budget: the variants decline, and the
 * node runs (slowly, correctly) on the reference. */
static void test_too_wide(void) {
  params p = block(1, 3, 1500, 2, 700, 3, 1);
  p.expand_act = KILN_ACT_NONE, p.dw_act = KILN_ACT_NONE;
  CHECK(!kiln_bottleneck_rows_fit(p.w, p.w, p.m));
  CHECK(kiln_bottleneck_rows_fit(224, 224, 96));
  bottleneck b;
  make(&p, &b);
  kiln_tensor *got = kiln_test_output();
  CHECK_OK(
      kiln_test_run_op1(KILN_OP_FUSED_BOTTLENECK, &b.attrs, b.in, NUM_IN, got));
  kiln_tensor *outputs[1] = {got};
  kiln_op_ctx ctx = {&b.attrs, b.in, NUM_IN, outputs, 1, NULL, NULL, NULL};
  void *packed;
  const kiln_kernel_variant *packer =
      pack_like_load(kiln_test_float_isa(), &ctx, &packed);
  CHECK(packer && packed);
  ctx.packed = packed;
  CHECK(packer && !packer->applies(&ctx));
  free(packed);
  kiln_test_tensor_free(got);
  kiln_test_tensors_free(b.in, NUM_IN);
}

/* Weights that are not constants (no data at load), and windows the
 * variants do not run: nothing packs. */
static void test_declines(void) {
  params p = block(1, 5, 6, 3, 8, 4, 1);
  p.expand_act = KILN_ACT_RELU, p.dw_act = KILN_ACT_RELU;
  bottleneck b;
  make(&p, &b);
  kiln_tensor *outputs[1] = {kiln_test_output()};
  kiln_op_ctx ctx = {&b.attrs, b.in, NUM_IN, outputs, 1, NULL, NULL, NULL};
  void *packed;
  for (int i = 1; i < NUM_IN; i++) {
    void *saved = b.in[i]->data;
    b.in[i]->data = NULL;
    CHECK(pack_like_load(KILN_ISA_PORTABLE, &ctx, &packed) == NULL);
    b.in[i]->data = saved;
  }
  b.attrs.depthwise.dilation_h = 2;
  CHECK(pack_like_load(KILN_ISA_PORTABLE, &ctx, &packed) == NULL);
  b.attrs.depthwise.dilation_h = 1;
  b.attrs.depthwise.stride_w = 1, b.attrs.depthwise.stride_h = 2;
  CHECK(pack_like_load(KILN_ISA_PORTABLE, &ctx, &packed) == NULL);
  b.attrs.depthwise.stride_h = 1;
  CHECK(pack_like_load(KILN_ISA_PORTABLE, &ctx, &packed) != NULL);
  free(packed);
  kiln_test_tensor_free(outputs[0]);
  kiln_test_tensors_free(b.in, NUM_IN);
}

/* The shape function's checks, and the FLOP count of the three stages. */
static void test_shapes_and_flops(void) {
  params p = block(2, 9, 8, 3, 12, 5, 2);
  bottleneck b;
  make(&p, &b);
  kiln_tensor *out = kiln_test_output();
  kiln_op_ctx ctx = {&b.attrs, b.in, NUM_IN, (kiln_tensor *[]){out},
                     1,        NULL, NULL,   NULL};
  CHECK_OK(kiln_shape_fused_bottleneck(&ctx));
  CHECK(kiln_test_has_shape(out, 4, (int64_t[]){2, 5, 4, 5}));
  double expand = 2.0 * 2 * 9 * 8 * 12 * 3, dw = 2.0 * 2 * 5 * 4 * 12 * 9;
  double project = 2.0 * 2 * 5 * 4 * 5 * 12;
  CHECK(kiln_flops_fused_bottleneck(&ctx) == expand + dw + project);
  b.in[1]->dims[3] = 4; /* expand filter reads 4 channels of 3 */
  CHECK_ERROR(kiln_shape_fused_bottleneck(&ctx), KILN_ERR_INVALID_MODEL,
              "input 1 (expand filter) has shape [12,1,1,4]");
  b.in[1]->dims[3] = 3;
  b.in[5]->dims[3] = 11;
  CHECK_ERROR(kiln_shape_fused_bottleneck(&ctx), KILN_ERR_INVALID_MODEL,
              "input 5 (project filter)");
  b.in[5]->dims[3] = 12;
  b.attrs.project_activation = KILN_ACT_TANH;
  CHECK_ERROR(kiln_shape_fused_bottleneck(&ctx), KILN_ERR_INVALID_MODEL,
              "project activation");
  b.attrs.project_activation = KILN_ACT_NONE;
  kiln_tensor *expand_w = b.in[1];
  b.in[1] = NULL; /* a bias without its filter */
  CHECK_ERROR(kiln_shape_fused_bottleneck(&ctx), KILN_ERR_INVALID_MODEL,
              "expand bias");
  b.in[1] = expand_w;
  kiln_test_tensor_free(out);
  kiln_test_tensors_free(b.in, NUM_IN);
}

int main(void) {
  kiln_test_seed(0xb0771e);
  CHECK_OK(kiln_threadpool_create(1, NULL, &pools[0]));
  CHECK_OK(kiln_threadpool_create(3, NULL, &pools[1]));
  test_random();
  test_special();
  test_too_wide();
  test_declines();
  test_shapes_and_flops();
  kiln_threadpool_free(pools[0]);
  kiln_threadpool_free(pools[1]);
  return kiln_test_finish("test_opt_bottleneck");
}
