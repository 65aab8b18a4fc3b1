/* test_opt_qelem.c - the int8 variants of kernels/qelem (ADD, MUL, MEAN
 * over H,W, MAX_POOL_2D, AVERAGE_POOL_2D, HARD_SWISH, LOGISTIC, TANH,
 * SOFTMAX, QUANTIZE from float) against kiln's reference kernels, which they
 * must equal byte for byte: random shapes (odd sizes, every broadcasting
 * form the variants take, and one they must leave to the reference), random
 * scales and zero points, every fused clamp, at every instruction-set level
 * this CPU has, without and with a pool of 3 threads. Float and uint8 nodes
 * must be declined. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/threadpool.h"
#include "harness.h"
#include "kernels/kernel.h"
#include "kernels/qelem/qelem.h"
#include "kernels/ref/quant_params.h"
#include "kernels/variants.h"
#include "quant_test_util.h"

static kiln_threadpool *pool3;
static kiln_isa best_isa;
static int variant_runs;
/* Per level, whether some q8 variant ran there, and the distinct variants
 * that did (printed at the end). */
static bool level_ran[KILN_ISA_AVX512_VNNI + 1];
static const char *level_names[KILN_ISA_AVX512_VNNI + 1][32];

static void note_ran(int isa, const char *name) {
  level_ran[isa] = true;
  for (int i = 0; i < 32; i++) {
    if (level_names[isa][i] && strcmp(level_names[isa][i], name) == 0) return;
    if (!level_names[isa][i]) {
      level_names[isa][i] = name;
      return;
    }
  }
}

/* The node packed as a model with KILN_INT8_ROUNDING_FP32 packs it (the
 * model's choices in ctx->quant): every level's q8 variant within one step
 * of the reference and equal to the first level's bytes. */
static int fp32_runs;
static void check_fp32(kiln_op_type op, kiln_op_ctx *ctx,
                       const kiln_tensor *want, const char *desc) {
  static const kiln_quant_params choices = {.fp32_rounding = true};
  const int64_t n = kiln_tensor_numel(want);
  int8_t *first = NULL;
  ctx->quant = &choices;
  for (int isa = KILN_ISA_PORTABLE; isa <= (int)best_isa; isa++) {
    void *packed = NULL;
    const kiln_kernel_variant *packer =
        kiln_test_pack_like_load(op, (kiln_isa)isa, ctx, &packed);
    ctx->packed = packed;
    const kiln_kernel_variant *v =
        kiln_variant_select(op, (kiln_isa)isa, packer, ctx);
    if (v && strncmp(v->name, "q8-", 3) == 0) {
      ctx->pool = pool3;
      int8_t *g = ctx->outputs[0]->data;
      memset(g, 0x5A, (size_t)n);
      CHECK_OK(v->run(ctx));
      int worst = 0;
      for (int64_t i = 0; i < n; i++) {
        const int d = abs(g[i] - ((const int8_t *)want->data)[i]);
        worst = d > worst ? d : worst;
      }
      if (worst > 1)
        fprintf(stderr, "%s %s %s, float rounding: %d steps off\n",
                kiln_op_table[op].name, desc, v->name, worst);
      CHECK(worst <= 1);
      if (first)
        CHECK(memcmp(first, g, (size_t)n) == 0);
      else
        first = memcpy(malloc((size_t)n), g, (size_t)n);
      fp32_runs++;
    }
    free(packed);
    ctx->packed = NULL;
    ctx->pool = NULL;
  }
  ctx->quant = NULL;
  free(first);
}

/* Runs the reference on `inputs` into a fresh int8 output of scale and
 * zero point (out_scale, out_zp), then at every level the variant the
 * runtime would choose (packing as at load), and compares. `expect`: a q8
 * variant must take the node at every level, or none may. */
static void check_node(kiln_op_type op, const void *attrs, kiln_tensor **inputs,
                       int num_inputs, float out_scale, int64_t out_zp,
                       bool expect, const char *desc) {
  qt *want = qt_output(KILN_INT8, out_scale, out_zp);
  kiln_status *st = kiln_test_run_op1(op, attrs, inputs, num_inputs, want->t);
  CHECK_OK(st);
  qt *got = qt_output(KILN_INT8, out_scale, out_zp);
  kiln_test_tensor_free(got->t);
  got->t = kiln_test_tensor(KILN_INT8, want->t->rank, want->t->dims);
  got->t->quant = &got->info;
  kiln_tensor *outputs[1] = {got->t};
  kiln_op_ctx ctx = {attrs, inputs, num_inputs, outputs, 1, NULL, NULL, NULL};
  const int64_t n = kiln_tensor_numel(want->t);
  for (int isa = KILN_ISA_PORTABLE; isa <= (int)best_isa; isa++) {
    void *packed = NULL;
    const kiln_kernel_variant *packer =
        kiln_test_pack_like_load(op, (kiln_isa)isa, &ctx, &packed);
    ctx.packed = packed;
    const kiln_kernel_variant *v =
        kiln_variant_select(op, (kiln_isa)isa, packer, &ctx);
    const bool q8 = v && strncmp(v->name, "q8-", 3) == 0;
    if (q8 != expect)
      fprintf(stderr, "%s %s at %s: %s\n", kiln_op_table[op].name, desc,
              kiln_isa_name((kiln_isa)isa),
              expect ? "no q8 variant" : "unexpectedly taken");
    CHECK(q8 == expect);
    if (q8) {
      for (int p = 0; p < 2; p++) {
        ctx.pool = p ? pool3 : NULL;
        memset(got->t->data, 0x5A, (size_t)n);
        CHECK_OK(v->run(&ctx));
        int bad = 0;
        for (int64_t i = 0; i < n; i++) {
          const int g = ((int8_t *)got->t->data)[i];
          const int w = ((int8_t *)want->t->data)[i];
          if (g != w && bad++ < 3)
            fprintf(stderr, "%s %s %s pool %d: element %lld: %d, want %d\n",
                    kiln_op_table[op].name, desc, v->name, p, (long long)i, g,
                    w);
        }
        CHECK(bad == 0);
        variant_runs++;
        note_ran(isa, v->name);
      }
    }
    free(packed);
    ctx.packed = NULL;
  }
  check_fp32(op, &ctx, want->t, desc);
  qt_free(want);
  qt_free(got);
}

static void random_zp(qt *q) { q->zp[0] = kiln_test_int(-128, 127); }

/* Puts every int8 value in t when it has room, so a table is read whole. */
static void every_value(kiln_tensor *t) {
  if (kiln_tensor_numel(t) < 256) return;
  for (int i = 0; i < 256; i++) ((int8_t *)t->data)[i] = (int8_t)(i - 128);
}

/* ------------------------------------------------------------ ADD, MUL */

typedef enum form {
  SAME,
  SCALAR_A,
  SCALAR_B,
  CHANNEL_A,
  CHANNEL_B,
  IMAGE_B,
  BOTH
} form;
static const char *form_names[] = {"same",      "scalar a",  "scalar b",
                                   "channel a", "channel b", "image b",
                                   "both"};

static void binary_case(kiln_op_type op, form f, bool big) {
  int rank = f == BOTH || f == IMAGE_B ? 4 : kiln_test_int(1, 4);
  int64_t full[4], part[4];
  for (int d = 0; d < rank; d++) full[d] = kiln_test_int(1, d == 0 ? 2 : 13);
  static const int64_t channels[] = {1, 3, 15, 16, 17, 33, 64, 100};
  full[rank - 1] = channels[kiln_test_int(0, 7)];
  if (big) rank = 4, full[0] = 1, full[1] = 30, full[2] = 31, full[3] = 24;
  int part_rank = rank;
  memcpy(part, full, sizeof part);
  switch (f) {
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
    case IMAGE_B: /* [N,1,1,C] or [N,1,1,1] over [N,H,W,C], one per image */
      full[0] = kiln_test_int(2, 3);
      memcpy(part, full, sizeof part);
      part[1] = part[2] = 1;
      if (kiln_test_int(0, 2) == 0) part[3] = 1;
      break;
    case BOTH: /* [1,H,1,C] with [1,1,W,C]: neither repeats over the other */
      full[0] = 1;
      full[1] = kiln_test_int(2, 7);
      full[2] = kiln_test_int(2, 7);
      memcpy(part, full, sizeof part);
      full[2] = 1;
      part[1] = 1;
      break;
    default:
      break;
  }
  const bool a_part = f == SCALAR_A || f == CHANNEL_A;
  qt *a = a_part ? qt_new(KILN_INT8, part_rank, part, 1, 0)
                 : qt_new(KILN_INT8, rank, full, 1, 0);
  qt *b = a_part || f == SAME ? qt_new(KILN_INT8, rank, full, 1, 0)
                              : qt_new(KILN_INT8, part_rank, part, 1, 0);
  random_zp(a);
  random_zp(b);
  a->scale[0] = qt_scale(-8, 0);
  b->scale[0] = qt_scale(-8, 0);
  const float out_scale = op == KILN_OP_MUL
                              ? a->scale[0] * b->scale[0] * qt_scale(-3, 8)
                              : qt_scale(-8, 0);
  kiln_activation_attrs attrs = {qt_random_clamp()};
  kiln_tensor *inputs[2] = {a->t, b->t};
  char desc[64];
  snprintf(desc, sizeof desc, "%s%s act %d", form_names[f], big ? " big" : "",
           (int)attrs.activation);
  check_node(op, &attrs, inputs, 2, out_scale, kiln_test_int(-128, 127),
             f != BOTH, desc);
  qt_free(a);
  qt_free(b);
}

static void test_binary(void) {
  const kiln_op_type ops[3] = {KILN_OP_ADD, KILN_OP_SUB, KILN_OP_MUL};
  for (int o = 0; o < 3; o++) {
    for (int trial = 0; trial < 40; trial++)
      for (int f = SAME; f <= BOTH; f++) binary_case(ops[o], (form)f, false);
    binary_case(ops[o], SAME, true);
    binary_case(ops[o], CHANNEL_B, true);
    binary_case(ops[o], SCALAR_A, true);
  }
}

/* Float and uint8 nodes are not the variants' to run. */
static void test_binary_declines(void) {
  int64_t dims[2] = {3, 5};
  qt *a = qt_new(KILN_UINT8, 2, dims, 1, 0),
     *b = qt_new(KILN_UINT8, 2, dims, 1, 0);
  qt *o = qt_new(KILN_UINT8, 2, dims, 1, 0);
  kiln_tensor *in[2] = {a->t, b->t}, *out[1] = {o->t};
  kiln_activation_attrs attrs = {KILN_ACT_NONE};
  kiln_op_ctx ctx = {&attrs, in, 2, out, 1, NULL, NULL, NULL};
  void *packed = (void *)&ctx;
  CHECK_OK(kiln_q8_add_pack(&ctx, NULL, &packed));
  CHECK(packed == NULL);
  kiln_tensor *f = kiln_test_tensor_f32(2, dims, NULL);
  kiln_tensor *g = kiln_test_tensor_f32(2, dims, NULL);
  kiln_tensor *h = kiln_test_tensor_f32(2, dims, NULL);
  kiln_tensor *fin[2] = {f, g}, *fout[1] = {h};
  kiln_op_ctx fctx = {&attrs, fin, 2, fout, 1, NULL, NULL, NULL};
  packed = (void *)&ctx;
  CHECK_OK(kiln_q8_mul_pack(&fctx, NULL, &packed));
  CHECK(packed == NULL);
  CHECK(!kiln_q8_mean_hw_applies(&fctx));
  /* Nodes the reference refuses (no quantization on an input, an int16
   * operand) are left to it and its message. */
  qt *c = qt_new(KILN_INT8, 2, dims, 1, 0),
     *d = qt_new(KILN_INT8, 2, dims, 1, 0);
  qt *e = qt_new(KILN_INT8, 2, dims, 1, 0),
     *w = qt_new(KILN_INT16, 2, dims, 1, 0);
  kiln_tensor *qin[2] = {c->t, d->t}, *qout[1] = {e->t};
  kiln_op_ctx qctx = {&attrs, qin, 2, qout, 1, NULL, NULL, NULL};
  d->t->quant = NULL;
  packed = (void *)&ctx;
  CHECK_OK(kiln_q8_add_pack(&qctx, NULL, &packed));
  CHECK(packed == NULL);
  qin[1] = w->t;
  packed = (void *)&ctx;
  CHECK_OK(kiln_q8_mul_pack(&qctx, NULL, &packed));
  CHECK(packed == NULL);
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_MUL, &attrs, qin, 2, e->t),
              KILN_ERR_INVALID_MODEL, "int16");
  qt_free(c), qt_free(d), qt_free(e), qt_free(w);
  qt_free(a), qt_free(b), qt_free(o);
  kiln_test_tensor_free(f), kiln_test_tensor_free(g), kiln_test_tensor_free(h);
}

/* ------------------------------------------------------ MEAN over H,W */

static void mean_case(bool hw, bool big) {
  int64_t dims[4] = {kiln_test_int(1, 3), kiln_test_int(1, 12),
                     kiln_test_int(1, 12), kiln_test_int(1, 700)};
  if (big) dims[0] = 1, dims[1] = 7, dims[2] = 7, dims[3] = 1280;
  qt *x = qt_new(KILN_INT8, 4, dims, 1, 0);
  random_zp(x);
  x->scale[0] = qt_scale(-8, 0);
  int32_t axis_values[2] = {1, 2};
  if (kiln_test_int(0, 1)) axis_values[0] = -2, axis_values[1] = -3;
  int64_t axis_count = hw ? 2 : 1;
  kiln_tensor *axes = kiln_test_tensor_i32(1, &axis_count, axis_values);
  kiln_reduce_attrs attrs = {kiln_test_int(0, 1) == 1};
  kiln_tensor *inputs[2] = {x->t, axes};
  char desc[96];
  snprintf(desc, sizeof desc, "[%lld,%lld,%lld,%lld] %s", (long long)dims[0],
           (long long)dims[1], (long long)dims[2], (long long)dims[3],
           hw ? "axes H,W" : "axis H");
  check_node(KILN_OP_MEAN, &attrs, inputs, 2, x->scale[0] * qt_scale(-2, 2),
             kiln_test_int(-128, 127), hw, desc);
  qt_free(x);
  kiln_test_tensor_free(axes);
}

static void test_mean(void) {
  for (int trial = 0; trial < 40; trial++) mean_case(true, false);
  for (int trial = 0; trial < 5; trial++) mean_case(false, false);
  mean_case(true, true);
}

/* ---------------------------------------- MAX_POOL_2D, AVERAGE_POOL_2D */

static void test_maxpool(void) {
  for (int trial = 0; trial < 40; trial++) {
    int64_t dims[4] = {kiln_test_int(1, 2), kiln_test_int(1, 14),
                       kiln_test_int(1, 14), kiln_test_int(1, 150)};
    if (trial == 0) dims[0] = 1, dims[1] = 112, dims[2] = 112, dims[3] = 64;
    kiln_pool_attrs attrs = {
        kiln_test_int(0, 1) ? KILN_PAD_SAME : KILN_PAD_VALID,
        kiln_test_int(1, 3),
        kiln_test_int(1, 3),
        kiln_test_int(1, 4),
        kiln_test_int(1, 4),
        qt_random_clamp()};
    if (trial == 0)
      attrs = (kiln_pool_attrs){KILN_PAD_SAME, 2, 2, 3, 3, KILN_ACT_NONE};
    /* A global 7x7 pool, and the largest window the average takes (2^16
     * values: the float division's exactness bound). */
    if (trial == 1) dims[0] = 1, dims[1] = 7, dims[2] = 7, dims[3] = 1280;
    if (trial == 2) dims[0] = 1, dims[1] = 256, dims[2] = 256, dims[3] = 3;
    if (trial == 1 || trial == 2)
      attrs = (kiln_pool_attrs){
          KILN_PAD_VALID, 1, 1, (int)dims[1], (int)dims[2], KILN_ACT_NONE};
    /* VALID needs the window inside the input. */
    if (attrs.padding == KILN_PAD_VALID) {
      if (dims[1] < attrs.filter_h) dims[1] = attrs.filter_h;
      if (dims[2] < attrs.filter_w) dims[2] = attrs.filter_w;
    }
    qt *x = qt_new(KILN_INT8, 4, dims, 1, 0);
    random_zp(x);
    x->scale[0] = qt_scale(-8, 0);
    kiln_tensor *inputs[1] = {x->t};
    char desc[96];
    snprintf(desc, sizeof desc, "[%lld,%lld,%lld,%lld] %dx%d/%d,%d act %d",
             (long long)dims[0], (long long)dims[1], (long long)dims[2],
             (long long)dims[3], attrs.filter_h, attrs.filter_w, attrs.stride_h,
             attrs.stride_w, (int)attrs.activation);
    check_node(KILN_OP_MAX_POOL_2D, &attrs, inputs, 1, x->scale[0], x->zp[0],
               true, desc);
    check_node(KILN_OP_AVERAGE_POOL_2D, &attrs, inputs, 1, x->scale[0],
               x->zp[0], true, desc);
    qt_free(x);
  }
}

/* ------------------------------------------------------------ SOFTMAX */

static void test_softmax(void) {
  for (int trial = 0; trial < 40; trial++) {
    int64_t dims[2] = {kiln_test_int(1, 4), kiln_test_int(1, 1200)};
    qt *x = qt_new(KILN_INT8, 2, dims, 1, 0);
    every_value(x->t);
    random_zp(x);
    x->scale[0] = qt_scale(-6, 2);
    kiln_softmax_attrs attrs = {kiln_test_uniform(0.05f, 3.0f)};
    kiln_tensor *inputs[1] = {x->t};
    char desc[64];
    snprintf(desc, sizeof desc, "[%lld,%lld] beta %g", (long long)dims[0],
             (long long)dims[1], (double)attrs.beta);
    check_node(KILN_OP_SOFTMAX, &attrs, inputs, 1, 1.0f / 256.0f, -128, true,
               desc);
    qt_free(x);
  }
}

/* Rows longer than 4096 values: the Q12.19 sum of exps passes int32 and
 * wraps (to exactly 0 for 8192 equal values); reference and variant agree
 * and neither computes an undefined signed overflow or clz(0) (the
 * sanitizer build aborts on those). A fuzzed model found the overflow. */
static void test_softmax_long_rows(void) {
  const int64_t depths[3] = {4097, 5000, 8192};
  for (int i = 0; i < 3; i++) {
    int64_t dims[2] = {1, depths[i]};
    qt *x = qt_new(KILN_INT8, 2, dims, 1, 0);
    memset(x->t->data, 7, (size_t)depths[i]); /* every diff 0 */
    x->scale[0] = 0.05f;
    kiln_softmax_attrs attrs = {1.0f};
    kiln_tensor *inputs[1] = {x->t};
    char desc[64];
    snprintf(desc, sizeof desc, "equal row of %lld", (long long)depths[i]);
    check_node(KILN_OP_SOFTMAX, &attrs, inputs, 1, 1.0f / 256.0f, -128, true,
               desc);
    qt_free(x);
  }
}

/* ----------------------------------------------------------- QUANTIZE */

static void test_quantize(void) {
  static const float specials[] = {0.0f,  -0.0f,  NAN,  INFINITY, -INFINITY,
                                   1e30f, -1e30f, 3e9f, -3e9f,    1e-30f,
                                   0.5f,  -0.5f,  1.5f, -2.5f,    8.0f};
  for (int trial = 0; trial < 30; trial++) {
    int64_t dims[3] = {kiln_test_int(1, 3), kiln_test_int(1, 20),
                       kiln_test_int(1, 40)};
    if (trial == 0) dims[0] = 1, dims[1] = 224, dims[2] = 224 * 3;
    kiln_tensor *x = kiln_test_tensor_f32(3, dims, NULL);
    const int64_t n = kiln_tensor_numel(x);
    /* Power-of-two scales make exact halves, where rounding is decided. */
    const float scale =
        trial % 2 ? ldexpf(1.0f, kiln_test_int(-8, 0)) : qt_scale(-8, 0);
    float *v = x->data;
    for (int64_t i = 0; i < n; i++) {
      const int kind = kiln_test_int(0, 3);
      v[i] = kiln_test_uniform(-200.0f, 200.0f) * scale;
      if (kind == 0) v[i] = (float)kiln_test_int(-300, 300) * 0.5f * scale;
      if (kind == 1) v[i] = specials[kiln_test_int(0, 14)];
    }
    kiln_tensor *inputs[1] = {x};
    check_node(KILN_OP_QUANTIZE, NULL, inputs, 1, scale,
               kiln_test_int(-128, 127), true, "float");
    kiln_test_tensor_free(x);
  }
}

/* ---------------------------------------------------------- HARD_SWISH */

static void test_hard_swish(void) {
  for (int trial = 0; trial < 30; trial++) {
    int64_t dims[3] = {kiln_test_int(1, 4), kiln_test_int(1, 9),
                       kiln_test_int(1, 70)};
    qt *x = qt_new(KILN_INT8, 3, dims, 1, 0);
    every_value(x->t);
    random_zp(x);
    x->scale[0] = qt_scale(-7, 0);
    kiln_tensor *inputs[1] = {x->t};
    check_node(KILN_OP_HARD_SWISH, NULL, inputs, 1,
               x->scale[0] * qt_scale(-2, 3), kiln_test_int(-128, 127), true,
               "random");
    qt_free(x);
  }
  /* LOGISTIC and TANH (int8 output scale 1/256 or 1/128, as TFLite). */
  for (int trial = 0; trial < 20; trial++) {
    int64_t dims[2] = {kiln_test_int(1, 5), kiln_test_int(1, 300)};
    qt *x = qt_new(KILN_INT8, 2, dims, 1, 0);
    every_value(x->t);
    random_zp(x);
    x->scale[0] = qt_scale(-7, 0);
    kiln_tensor *inputs[1] = {x->t};
    check_node(KILN_OP_LOGISTIC, NULL, inputs, 1, 1.0f / 256.0f, -128, true,
               "logistic");
    check_node(KILN_OP_TANH, NULL, inputs, 1, 1.0f / 128.0f, 0, true, "tanh");
    qt_free(x);
  }
  /* A uint8 node is declined by the packer. */
  int64_t n = 8;
  qt *u = qt_new(KILN_UINT8, 1, &n, 1, 0),
     *uo = qt_new(KILN_UINT8, 1, &n, 1, 0);
  kiln_tensor *in[1] = {u->t}, *out[1] = {uo->t};
  kiln_op_ctx ctx = {NULL, in, 1, out, 1, NULL, NULL, NULL};
  void *packed = (void *)&ctx;
  CHECK_OK(kiln_q8_hardswish_lut_pack(&ctx, NULL, &packed));
  CHECK(packed == NULL);
  /* An input scale over 128 times the output's: TFLite refuses it, so
   * the reference does and the packer declines. */
  qt *big = qt_new(KILN_INT8, 1, &n, 1, 0),
     *small = qt_new(KILN_INT8, 1, &n, 1, 0);
  big->scale[0] = 1.0f;
  small->scale[0] = 1.0f / 1024.0f;
  kiln_tensor *bin[1] = {big->t}, *bout[1] = {small->t};
  kiln_op_ctx bctx = {NULL, bin, 1, bout, 1, NULL, NULL, NULL};
  packed = (void *)&bctx;
  CHECK_OK(kiln_q8_hardswish_lut_pack(&bctx, NULL, &packed));
  CHECK(packed == NULL);
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_HARD_SWISH, NULL, bin, 1, small->t),
              KILN_ERR_UNSUPPORTED, "over 128 times");
  qt_free(big), qt_free(small);
  qt_free(u), qt_free(uo);
}

int main(void) {
  kiln_test_seed(1108);
  best_isa = kiln_isa_resolve(KILN_ISA_AUTO);
  CHECK_OK(kiln_threadpool_create(3, NULL, &pool3));
  test_binary();
  test_binary_declines();
  test_mean();
  test_hard_swish();
  test_maxpool();
  test_softmax();
  test_softmax_long_rows();
  test_quantize();
  printf("q8 elementwise: %d runs with float requantization asked for\n",
         fp32_runs);
  CHECK(fp32_runs > 0);
  printf("q8 elementwise: %d variant runs; ran", variant_runs);
  for (int isa = KILN_ISA_PORTABLE; isa <= KILN_ISA_AVX512_VNNI; isa++)
    if (level_ran[isa]) printf(" %s", kiln_isa_name((kiln_isa)isa));
  printf("; skipped (CPU lacks):");
  bool none = true;
  for (int isa = (int)best_isa + 1; isa <= KILN_ISA_AVX512_VNNI; isa++)
    printf(" %s", kiln_isa_name((kiln_isa)isa)), none = false;
  printf("%s\n", none ? " none" : "");
  for (int isa = KILN_ISA_PORTABLE; isa <= KILN_ISA_AVX512_VNNI; isa++) {
    if (!level_ran[isa]) continue;
    printf("  %s:", kiln_isa_name((kiln_isa)isa));
    for (int i = 0; i < 32 && level_names[isa][i]; i++)
      printf(" %s", level_names[isa][i]);
    printf("\n");
  }
  kiln_threadpool_free(pool3);
  return kiln_test_finish("test_opt_qelem");
}
