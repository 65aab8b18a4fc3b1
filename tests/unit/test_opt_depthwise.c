/* test_opt_depthwise.c - DEPTHWISE_CONV_2D variants against the reference. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/threadpool.h"
#include "harness.h"
#include "kernels/kernel.h"
#include "kernels/variants.h"

/* At every instruction set this CPU has, packed and chosen as the runtime
 * does, on random shapes, windows, strides, dilations, paddings and
 * activations, with and without a thread pool. */

typedef struct dw_case {
  int64_t n, h, w, c, kh, kw;
  int sh, sw, dh, dw;
  kiln_padding pad;
  kiln_activation act;
  bool bias;
  bool bias_slot; /* pass an omitted bias as a NULL third input */
  bool specials;  /* sprinkle inf and NaN into the input */
} dw_case;

static kiln_threadpool *pool3;
static int cases_run, variants_run;

/* The variant name part the runtime should pick for this case. */
static const char *expected_kind(const dw_case *k, kiln_isa isa) {
  bool unit = k->dh == 1 && k->dw == 1 && k->sh == k->sw;
  if (isa == KILN_ISA_PORTABLE)
    return unit && k->kh == 3 && k->kw == 3 && k->sh <= 2 ? "3x3-portable"
                                                          : "generic";
  if (unit && k->kh == k->kw && (k->kh == 3 || k->kh == 5) && k->sh <= 2) {
    static const char *names[2][2] = {{"3x3s1", "3x3s2"}, {"5x5s1", "5x5s2"}};
    return names[k->kh == 5][k->sh - 1];
  }
  return "generic";
}

static bool is_clamp(kiln_activation act) {
  return act == KILN_ACT_NONE || act == KILN_ACT_RELU ||
         act == KILN_ACT_RELU6 || act == KILN_ACT_RELU_N1_TO_1;
}

/* The clamps, and the activations the kernels' epilogue applies; TANH and
 * SIGN_BIT stay with the reference. */
static bool runs_optimized(kiln_activation act) {
  return is_clamp(act) || act == KILN_ACT_HARD_SWISH ||
         act == KILN_ACT_LOGISTIC || act == KILN_ACT_SWISH;
}

/* Packs as the model loader does: the first packer that takes the node
 * owns it. `load` has the input's data NULL and its load-time shape. */
static const kiln_kernel_variant *pack_like_loader(const kiln_op_ctx *load,
                                                   kiln_isa isa,
                                                   void **packed) {
  int index = 0;
  *packed = NULL;
  for (const kiln_kernel_variant *v =
           kiln_variant_packer(KILN_OP_DEPTHWISE_CONV_2D, isa, 0, &index);
       v; v = kiln_variant_packer(KILN_OP_DEPTHWISE_CONV_2D, isa, index + 1,
                                  &index)) {
    CHECK_OK(v->pack(load, NULL, packed));
    if (*packed) return v;
  }
  return NULL;
}

/* |a - b| within the rounding any summation order may give: the window's
 * sum of |x * w| + |bias| (from the reference run on absolute values)
 * times (taps + 2) ulps. An activation that is not a clamp may stretch
 * that by its slope (at most 1.5, hard swish's at 3) and adds the
 * vectorized function's own error, a few ulps of the result. */
static int compare(const float *got, const float *want, const float *mag,
                   int64_t count, int64_t taps, kiln_activation act,
                   const char *what) {
  int bad = 0;
  for (int64_t i = 0; i < count; i++) {
    bool same = got[i] == want[i] || (isnan(got[i]) && isnan(want[i]));
    double tol = (double)(taps + 2) * 0x1p-23 * mag[i] + 1e-30;
    if (!is_clamp(act)) tol = 1.5 * tol + 2e-6 * fabs(want[i]) + 0x1p-126;
    if (same || fabs((double)got[i] - want[i]) <= tol) continue;
    if (bad++ < 5)
      fprintf(stderr, "  %s: element %lld: got %.9g, want %.9g (tol %.3g)\n",
              what, (long long)i, got[i], want[i], tol);
  }
  return bad;
}

static void run_case(const dw_case *k) {
  int64_t in_dims[4] = {k->n, k->h, k->w, k->c};
  int64_t f_dims[4] = {1, k->kh, k->kw, k->c}, b_dims[1] = {k->c};
  kiln_tensor *in = kiln_test_tensor_f32(4, in_dims, NULL);
  kiln_tensor *filter = kiln_test_tensor_f32(4, f_dims, NULL);
  kiln_tensor *bias = k->bias ? kiln_test_tensor_f32(1, b_dims, NULL) : NULL;
  float *x = in->data;
  int64_t in_count = kiln_tensor_numel(in);
  if (k->specials)
    for (int s = 0; s < 3; s++) {
      x[kiln_test_int(0, (int)in_count - 1)] = INFINITY;
      x[kiln_test_int(0, (int)in_count - 1)] = NAN;
    }
  kiln_conv_attrs attrs = {k->pad, k->sh, k->sw, k->dh, k->dw, 1, k->act};
  int num_inputs = k->bias || k->bias_slot ? 3 : 2;
  kiln_tensor *inputs[3] = {in, filter, bias};

  kiln_tensor *want = kiln_test_output();
  CHECK_OK(kiln_test_run_op1(KILN_OP_DEPTHWISE_CONV_2D, &attrs, inputs,
                             num_inputs, want));
  /* The same convolution on absolute values bounds the rounding error. */
  kiln_tensor *abs_in = kiln_test_tensor_f32(4, in_dims, NULL);
  kiln_tensor *abs_f = kiln_test_tensor_f32(4, f_dims, filter->data);
  kiln_tensor *abs_b =
      bias ? kiln_test_tensor_f32(1, b_dims, bias->data) : NULL;
  for (int64_t i = 0; i < in_count; i++)
    ((float *)abs_in->data)[i] = isfinite(x[i]) ? fabsf(x[i]) : 0.0f;
  for (int64_t i = 0; i < kiln_tensor_numel(abs_f); i++)
    ((float *)abs_f->data)[i] = fabsf(((float *)abs_f->data)[i]);
  for (int64_t i = 0; abs_b && i < k->c; i++)
    ((float *)abs_b->data)[i] = fabsf(((float *)abs_b->data)[i]);
  kiln_conv_attrs abs_attrs = attrs;
  abs_attrs.activation = KILN_ACT_NONE;
  kiln_tensor *abs_inputs[3] = {abs_in, abs_f, abs_b};
  kiln_tensor *mag = kiln_test_output();
  CHECK_OK(kiln_test_run_op1(KILN_OP_DEPTHWISE_CONV_2D, &abs_attrs, abs_inputs,
                             num_inputs, mag));

  /* At load the input has no data and perhaps another shape. */
  kiln_tensor load_in = *in;
  load_in.data = NULL;
  load_in.dims[0] = 1;
  load_in.dims[1] = k->h + 3;
  kiln_tensor *load_inputs[3] = {&load_in, filter, bias};
  kiln_tensor load_out = *want;
  load_out.data = NULL;
  kiln_tensor *load_outputs[1] = {&load_out};
  kiln_op_ctx load = {&attrs, load_inputs, num_inputs, load_outputs,
                      1,      NULL,        NULL,       NULL};

  kiln_tensor *got = kiln_test_tensor(KILN_FLOAT32, 4, want->dims);
  int64_t count = kiln_tensor_numel(want);
  kiln_isa best = kiln_test_float_isa();
  char what[200];
  for (int isa = KILN_ISA_PORTABLE; isa <= (int)best; isa++) {
    void *packed = NULL;
    const kiln_kernel_variant *packer =
        pack_like_loader(&load, (kiln_isa)isa, &packed);
    kiln_tensor *outputs[1] = {got};
    kiln_op_ctx ctx = {&attrs, inputs, num_inputs, outputs,
                       1,      packed, NULL,       NULL};
    const kiln_kernel_variant *v = kiln_variant_select(
        KILN_OP_DEPTHWISE_CONV_2D, (kiln_isa)isa, packer, &ctx);
    snprintf(what, sizeof what,
             "%s: [%lld,%lld,%lld,%lld] k%lldx%lld s%dx%d d%dx%d %s act %d "
             "bias %d",
             v ? v->name : kiln_isa_name((kiln_isa)isa), (long long)k->n,
             (long long)k->h, (long long)k->w, (long long)k->c,
             (long long)k->kh, (long long)k->kw, k->sh, k->sw, k->dh, k->dw,
             k->pad == KILN_PAD_SAME ? "SAME" : "VALID", (int)k->act,
             (int)k->bias);
    if (!runs_optimized(k->act)) {
      CHECK(v == NULL);
    } else {
      CHECK(v != NULL);
      if (v) {
        CHECK(v->isa == (kiln_isa)isa);
        CHECK(strstr(v->name, expected_kind(k, (kiln_isa)isa)) != NULL);
      }
    }
    for (int p = 0; v && p < 2; p++) {
      ctx.pool = p ? pool3 : NULL;
      for (int64_t i = 0; i < count; i++) ((float *)got->data)[i] = -12345.0f;
      CHECK_OK(v->run(&ctx));
      int bad = compare(got->data, want->data, mag->data, count, k->kh * k->kw,
                        k->act, what);
      if (bad) fprintf(stderr, "%s, pool %d: %d bad\n", what, p, bad);
      CHECK(bad == 0);
      variants_run++;
    }
    kiln_free(NULL, packed);
  }
  cases_run++;
  kiln_test_tensor_free(got);
  kiln_test_tensor_free(mag);
  kiln_test_tensor_free(want);
  kiln_test_tensors_free(abs_inputs, 3);
  kiln_test_tensors_free(inputs, 3);
}

/* A size along one axis that VALID padding accepts for this window. */
static int64_t axis_size(int64_t k, int dil, kiln_padding pad, int lo, int hi) {
  int64_t span = (k - 1) * dil + 1, size = kiln_test_int(lo, hi);
  return pad == KILN_PAD_VALID && size < span ? span : size;
}

static const int64_t channel_choices[] = {1, 3, 8, 15, 16, 17, 24, 33, 100};

static int64_t random_channels(void) {
  return channel_choices[kiln_test_int(
      0, (int)(sizeof channel_choices / sizeof channel_choices[0]) - 1)];
}

/* Every activation a variant applies: the clamps as it stores, the others
 * in the epilogue after each tile of rows. */
static kiln_activation random_optimized_act(void) {
  return kiln_test_activations[kiln_test_int(
      0, KILN_TEST_OPTIMIZED_ACTIVATIONS - 1)];
}

/* Every specialized window with both paddings and every activation. */
static void test_specialized(void) {
  static const int windows[4][2] = {{3, 1}, {3, 2}, {5, 1}, {5, 2}};
  for (int wi = 0; wi < 4; wi++)
    for (int pad = 0; pad < 2; pad++)
      for (int ai = 0; ai < KILN_TEST_OPTIMIZED_ACTIVATIONS; ai++) {
        dw_case k = {0};
        k.kh = k.kw = windows[wi][0];
        k.sh = k.sw = windows[wi][1];
        k.dh = k.dw = 1;
        k.pad = (kiln_padding)pad;
        k.act = kiln_test_activations[ai];
        k.n = kiln_test_int(1, 2);
        k.h = axis_size(k.kh, 1, k.pad, 1, 14);
        k.w = axis_size(k.kw, 1, k.pad, 1, 20);
        k.c = random_channels();
        k.bias = kiln_test_int(0, 2) != 0;
        run_case(&k);
      }
}

/* Tiny images: windows larger than the input, single pixels, every tap on
 * padding but one. */
static void test_edges(void) {
  for (int i = 0; i < 40; i++) {
    dw_case k = {0};
    k.kh = k.kw = kiln_test_int(0, 1) ? 3 : 5;
    k.sh = k.sw = kiln_test_int(1, 2);
    k.dh = k.dw = 1;
    k.pad = KILN_PAD_SAME;
    k.act = random_optimized_act();
    k.n = 1;
    k.h = kiln_test_int(1, 4);
    k.w = kiln_test_int(1, 6);
    k.c = random_channels();
    k.bias = true;
    run_case(&k);
  }
}

/* Anything: other window sizes, unequal strides, dilation, any activation
 * (TANH must fall back to the reference), bias omitted either way. */
static void test_random(void) {
  static const int sizes[][2] = {{1, 1}, {2, 2}, {3, 3}, {5, 5}, {3, 5},
                                 {7, 7}, {4, 1}, {1, 3}, {3, 3}, {5, 5}};
  for (int i = 0; i < 120; i++) {
    dw_case k = {0};
    int s = kiln_test_int(0, (int)(sizeof sizes / sizeof sizes[0]) - 1);
    k.kh = sizes[s][0];
    k.kw = sizes[s][1];
    k.sh = kiln_test_int(1, 3);
    k.sw = kiln_test_int(0, 1) ? k.sh : kiln_test_int(1, 3);
    k.dh = kiln_test_int(0, 3) ? 1 : kiln_test_int(1, 3);
    k.dw = kiln_test_int(0, 3) ? 1 : kiln_test_int(1, 3);
    k.pad = kiln_test_int(0, 1) ? KILN_PAD_SAME : KILN_PAD_VALID;
    k.act = kiln_test_random_activation();
    k.n = kiln_test_int(1, 3);
    k.h = axis_size(k.kh, k.dh, k.pad, 1, 30);
    k.w = axis_size(k.kw, k.dw, k.pad, 1, 30);
    k.c = kiln_test_int(0, 1) ? random_channels() : kiln_test_int(1, 40);
    k.bias = kiln_test_int(0, 2) != 0;
    k.bias_slot = !k.bias && kiln_test_int(0, 1);
    k.specials = kiln_test_int(0, 9) == 0;
    run_case(&k);
  }
}

/* MobileNet-sized layers, big enough to split across threads. */
static void test_mobilenet_shapes(void) {
  dw_case a = {
      1,    28,    28,   144, 3, 3, 1, 1, 1, 1, KILN_PAD_SAME, KILN_ACT_RELU6,
      true, false, false};
  run_case(&a);
  dw_case b = {
      1,    28,    28,   96, 3, 3, 2, 2, 1, 1, KILN_PAD_SAME, KILN_ACT_RELU6,
      true, false, false};
  run_case(&b);
  dw_case c = {
      2,    14,    14,   120, 5, 5, 1, 1, 1, 1, KILN_PAD_SAME, KILN_ACT_NONE,
      true, false, false};
  run_case(&c);
  dw_case d = {
      1,     15,    15,   72, 5, 5, 2, 2, 1, 1, KILN_PAD_VALID, KILN_ACT_RELU,
      false, false, false};
  run_case(&d);
  /* MobileNetV3's hard swish and EfficientNet's swish, fused. */
  c.act = KILN_ACT_HARD_SWISH;
  run_case(&c);
  b.act = KILN_ACT_SWISH;
  run_case(&b);
}

/* Nodes no variant may take: they must be left to the reference. */
static void test_declined(void) {
  int64_t in_dims[4] = {1, 6, 6, 4}, f_dims[4] = {1, 3, 3, 8};
  kiln_tensor *in = kiln_test_tensor_f32(4, in_dims, NULL);
  kiln_tensor *mult2 = kiln_test_tensor_f32(4, f_dims, NULL);
  int64_t f1_dims[4] = {1, 3, 3, 4}, b_dims[1] = {4};
  kiln_tensor *filter = kiln_test_tensor_f32(4, f1_dims, NULL);
  kiln_tensor *bias = kiln_test_tensor_f32(1, b_dims, NULL);
  kiln_conv_attrs attrs = {KILN_PAD_SAME, 1, 1, 1, 1, 0, KILN_ACT_NONE};
  kiln_tensor *out = kiln_test_output();
  kiln_tensor *outputs[1] = {out};
  for (int isa = KILN_ISA_PORTABLE; isa <= (int)kiln_test_float_isa(); isa++) {
    void *packed = NULL;
    /* depth multiplier 2 */
    kiln_tensor *m2[2] = {in, mult2};
    kiln_op_ctx ctx = {&attrs, m2, 2, outputs, 1, NULL, NULL, NULL};
    CHECK(pack_like_loader(&ctx, (kiln_isa)isa, &packed) == NULL);
    CHECK(packed == NULL);
    /* a filter computed at run time */
    kiln_tensor dyn = *filter;
    dyn.data = NULL;
    kiln_tensor *dyn_inputs[2] = {in, &dyn};
    ctx.inputs = dyn_inputs;
    CHECK(pack_like_loader(&ctx, (kiln_isa)isa, &packed) == NULL);
    /* a bias computed at run time */
    kiln_tensor dyn_bias = *bias;
    dyn_bias.data = NULL;
    kiln_tensor *dyn_bias_inputs[3] = {in, filter, &dyn_bias};
    ctx.inputs = dyn_bias_inputs;
    ctx.num_inputs = 3;
    CHECK(pack_like_loader(&ctx, (kiln_isa)isa, &packed) == NULL);
    /* a float16 input */
    kiln_tensor half = *in;
    half.dtype = KILN_FLOAT16;
    kiln_tensor *half_inputs[2] = {&half, filter};
    ctx.inputs = half_inputs;
    ctx.num_inputs = 2;
    CHECK(pack_like_loader(&ctx, (kiln_isa)isa, &packed) == NULL);
    /* TANH fused: declined at load already */
    kiln_conv_attrs tanh_attrs = attrs;
    tanh_attrs.activation = KILN_ACT_TANH;
    kiln_tensor *ok_inputs[2] = {in, filter};
    ctx.inputs = ok_inputs;
    ctx.attrs = &tanh_attrs;
    CHECK(pack_like_loader(&ctx, (kiln_isa)isa, &packed) == NULL);
    /* and a variant is never chosen without its packed weights */
    ctx.attrs = &attrs;
    CHECK(kiln_variant_select(KILN_OP_DEPTHWISE_CONV_2D, (kiln_isa)isa, NULL,
                              &ctx) == NULL);
  }
  kiln_test_tensor_free(out);
  kiln_test_tensor_free(in);
  kiln_test_tensor_free(mult2);
  kiln_test_tensor_free(filter);
  kiln_test_tensor_free(bias);
}

int main(void) {
  kiln_test_seed(8);
  CHECK_OK(kiln_threadpool_create(3, NULL, &pool3));
  test_declined();
  test_specialized();
  test_edges();
  test_mobilenet_shapes();
  test_random();
  printf("test_opt_depthwise: %d cases, %d variant runs up to %s\n", cases_run,
         variants_run, kiln_isa_name(kiln_test_float_isa()));
  kiln_threadpool_free(pool3);
  return kiln_test_finish("test_opt_depthwise");
}
