/* test_ref_quant_conv.c - the integer CONV_2D, DEPTHWISE_CONV_2D and
 * TRANSPOSE_CONV against an independent int64 computation: textbook
 * window sums of zero-point-corrected products (a scatter for the
 * transposed convolution), TFLite's rescale from its definition in long
 * double (quant_test_util.h), zero point and clamp. Random shapes,
 * strides, dilations, paddings, groups, depth multipliers, zero points,
 * per-tensor and per-channel scales, int8 / uint8 / int16 (16x8 with
 * int64, int32 or no bias); and the errors quantization parameters can
 * cause. */
#include <stdio.h>
#include <string.h>

#include "kernels/variants.h"
#include "quant_test_util.h"

typedef struct qconv {
  kiln_op_type op;
  kiln_dtype in_t, w_t;
  int64_t n, h, w, c, groups, mult, out_c, kh, kw;
  int stride_h, stride_w, dil_h, dil_w;
  kiln_padding padding;
  kiln_activation act;
  bool per_channel;
  int bias_kind; /* 0 none, 1 int32, 2 int64 */
} qconv;

/* A random case whose VALID windows fit. */
static qconv random_case(kiln_op_type op) {
  qconv c;
  memset(&c, 0, sizeof c);
  c.op = op;
  static const kiln_dtype types[] = {KILN_INT8, KILN_UINT8, KILN_INT16};
  c.in_t = types[kiln_test_int(0, 2)];
  c.w_t = c.in_t == KILN_UINT8 ? KILN_UINT8 : KILN_INT8;
  c.n = kiln_test_int(1, 2);
  c.kh = kiln_test_int(1, 3);
  c.kw = kiln_test_int(1, 3);
  c.stride_h = kiln_test_int(1, 2);
  c.stride_w = kiln_test_int(1, 2);
  bool transpose = op == KILN_OP_TRANSPOSE_CONV;
  c.dil_h = transpose ? 1 : kiln_test_int(1, 2);
  c.dil_w = transpose ? 1 : kiln_test_int(1, 2);
  c.padding = kiln_test_int(0, 1) ? KILN_PAD_VALID : KILN_PAD_SAME;
  int64_t eff_h = (c.kh - 1) * c.dil_h + 1, eff_w = (c.kw - 1) * c.dil_w + 1;
  c.h = kiln_test_int(1, 6) + (transpose ? 0 : eff_h - 1);
  c.w = kiln_test_int(1, 6) + (transpose ? 0 : eff_w - 1);
  c.groups = op == KILN_OP_CONV_2D && kiln_test_int(0, 3) == 0 ? 2 : 1;
  c.c = c.groups * kiln_test_int(1, 4);
  c.mult = op == KILN_OP_DEPTHWISE_CONV_2D ? kiln_test_int(1, 3) : 1;
  c.out_c = op == KILN_OP_DEPTHWISE_CONV_2D ? c.c * c.mult
                                            : c.groups * kiln_test_int(1, 4);
  /* TFLite's transposed int8 kernels take no activation. */
  c.act = transpose ? KILN_ACT_NONE : qt_random_clamp();
  c.per_channel = c.in_t != KILN_UINT8 && kiln_test_int(0, 1);
  if (c.in_t == KILN_INT16)
    c.bias_kind = kiln_test_int(0, 2);
  else
    c.bias_kind = kiln_test_int(0, 3) ? 1 : 0;
  return c;
}

typedef struct built {
  qt *in, *w, *bias, *out;
  kiln_tensor *shape; /* TRANSPOSE_CONV's output_shape */
  kiln_conv_attrs attrs;
  int64_t out_h, out_w, pad_top, pad_left;
} built;

/* Output size and padding by TFLite's rules, computed here again. */
static void geometry(const qconv *c, built *b) {
  int64_t eff_h = (c->kh - 1) * c->dil_h + 1,
          eff_w = (c->kw - 1) * c->dil_w + 1;
  if (c->op == KILN_OP_TRANSPOSE_CONV) {
    bool same = c->padding == KILN_PAD_SAME;
    b->out_h = same ? c->h * c->stride_h : (c->h - 1) * c->stride_h + c->kh;
    b->out_w = same ? c->w * c->stride_w : (c->w - 1) * c->stride_w + c->kw;
    int64_t th = (c->h - 1) * c->stride_h + c->kh - b->out_h;
    int64_t tw = (c->w - 1) * c->stride_w + c->kw - b->out_w;
    b->pad_top = th > 0 ? th / 2 : 0;
    b->pad_left = tw > 0 ? tw / 2 : 0;
    return;
  }
  if (c->padding == KILN_PAD_SAME) {
    b->out_h = (c->h + c->stride_h - 1) / c->stride_h;
    b->out_w = (c->w + c->stride_w - 1) / c->stride_w;
  } else {
    b->out_h = (c->h - eff_h) / c->stride_h + 1;
    b->out_w = (c->w - eff_w) / c->stride_w + 1;
  }
  int64_t th = (b->out_h - 1) * c->stride_h + eff_h - c->h;
  int64_t tw = (b->out_w - 1) * c->stride_w + eff_w - c->w;
  b->pad_top = th > 0 ? th / 2 : 0;
  b->pad_left = tw > 0 ? tw / 2 : 0;
}

static int64_t filter_k(const qconv *c) { return c->kh * c->kw; }

static void build(const qconv *c, built *b) {
  memset(b, 0, sizeof *b);
  geometry(c, b);
  int64_t in_dims[4] = {c->n, c->h, c->w, c->c};
  b->in = qt_new(c->in_t, 4, in_dims, 1, 0);
  b->in->scale[0] = qt_scale(-8, -4);
  if (c->in_t != KILN_INT16)
    b->in->zp[0] = kiln_test_int(qt_min(c->in_t), qt_max(c->in_t));
  int64_t w_dims[4];
  int axis = 0;
  if (c->op == KILN_OP_DEPTHWISE_CONV_2D) {
    int64_t d[4] = {1, c->kh, c->kw, c->out_c};
    memcpy(w_dims, d, sizeof d);
    axis = 3;
  } else {
    int64_t d[4] = {c->out_c, c->kh, c->kw, c->c / c->groups};
    memcpy(w_dims, d, sizeof d);
  }
  b->w = qt_new(c->w_t, 4, w_dims, c->per_channel ? (int)c->out_c : 1, axis);
  for (int i = 0; i < b->w->info.count; i++) b->w->scale[i] = qt_scale(-9, -5);
  if (c->w_t == KILN_UINT8) b->w->zp[0] = kiln_test_int(0, 255);
  if (c->bias_kind) {
    int64_t bd = c->out_c;
    b->bias = qt_new(c->bias_kind == 2 ? KILN_INT64 : KILN_INT32, 1, &bd, 0, 0);
  }
  /* An output scale that keeps most results inside the type. */
  double depth = (double)filter_k(c) * (double)(c->c / c->groups);
  double spread = c->in_t == KILN_INT16 ? 32768.0 * 128 : 128.0 * 128;
  double real_acc = b->in->scale[0] * b->w->scale[0] * spread * sqrt(depth);
  float out_scale = (float)(real_acc / (qt_max(c->in_t) - qt_min(c->in_t)) *
                            ldexp(1.0, kiln_test_int(-1, 2)));
  int64_t out_zp = c->in_t == KILN_INT16
                       ? 0
                       : kiln_test_int(qt_min(c->in_t), qt_max(c->in_t));
  b->out = qt_output(c->in_t, out_scale, out_zp);
  b->attrs = (kiln_conv_attrs){c->padding, c->stride_h,  c->stride_w, c->dil_h,
                               c->dil_w,   (int)c->mult, c->act};
  if (c->op == KILN_OP_TRANSPOSE_CONV) {
    int64_t four = 4;
    int32_t shape[4] = {(int32_t)c->n, (int32_t)b->out_h, (int32_t)b->out_w,
                        (int32_t)c->out_c};
    b->shape = kiln_test_tensor_i32(1, &four, shape);
  }
}

static void release(built *b) {
  qt_free(b->in);
  qt_free(b->w);
  qt_free(b->bias);
  qt_free(b->out);
  kiln_test_tensor_free(b->shape);
}

/* Weight of output channel oc, tap (ky, kx), input channel ic (within
 * its group), minus the weights' zero point. */
static int64_t weight(const qconv *c, const built *b, int64_t oc, int64_t ky,
                      int64_t kx, int64_t ic) {
  int64_t i;
  if (c->op == KILN_OP_DEPTHWISE_CONV_2D)
    i = (ky * c->kw + kx) * c->out_c + oc;
  else
    i = ((oc * c->kh + ky) * c->kw + kx) * (c->c / c->groups) + ic;
  return qt_get(b->w->t, i) - b->w->zp[0];
}

static int64_t input(const qconv *c, const built *b, int64_t n, int64_t y,
                     int64_t x, int64_t ch) {
  return qt_get(b->in->t, ((n * c->h + y) * c->w + x) * c->c + ch) -
         b->in->zp[0];
}

/* The int64 sums of every output element, by definition. */
static int64_t *oracle_sums(const qconv *c, const built *b) {
  int64_t count = c->n * b->out_h * b->out_w * c->out_c;
  int64_t *acc = calloc((size_t)count, sizeof *acc);
  int64_t cin = c->c / c->groups, cout = c->out_c / c->groups;
  if (c->op == KILN_OP_TRANSPOSE_CONV) {
    for (int64_t n = 0; n < c->n; n++)
      for (int64_t iy = 0; iy < c->h; iy++)
        for (int64_t ix = 0; ix < c->w; ix++)
          for (int64_t ky = 0; ky < c->kh; ky++)
            for (int64_t kx = 0; kx < c->kw; kx++) {
              int64_t oy = iy * c->stride_h - b->pad_top + ky;
              int64_t ox = ix * c->stride_w - b->pad_left + kx;
              if (oy < 0 || oy >= b->out_h || ox < 0 || ox >= b->out_w)
                continue;
              for (int64_t oc = 0; oc < c->out_c; oc++)
                for (int64_t ic = 0; ic < c->c; ic++)
                  acc[((n * b->out_h + oy) * b->out_w + ox) * c->out_c + oc] +=
                      input(c, b, n, iy, ix, ic) * weight(c, b, oc, ky, kx, ic);
            }
    return acc;
  }
  for (int64_t n = 0; n < c->n; n++)
    for (int64_t oy = 0; oy < b->out_h; oy++)
      for (int64_t ox = 0; ox < b->out_w; ox++)
        for (int64_t oc = 0; oc < c->out_c; oc++) {
          int64_t s = 0;
          for (int64_t ky = 0; ky < c->kh; ky++)
            for (int64_t kx = 0; kx < c->kw; kx++) {
              int64_t iy = oy * c->stride_h - b->pad_top + ky * c->dil_h;
              int64_t ix = ox * c->stride_w - b->pad_left + kx * c->dil_w;
              if (iy < 0 || iy >= c->h || ix < 0 || ix >= c->w) continue;
              if (c->op == KILN_OP_DEPTHWISE_CONV_2D) {
                s += input(c, b, n, iy, ix, oc / c->mult) *
                     weight(c, b, oc, ky, kx, 0);
                continue;
              }
              int64_t g = oc / cout;
              for (int64_t ic = 0; ic < cin; ic++)
                s += input(c, b, n, iy, ix, g * cin + ic) *
                     weight(c, b, oc, ky, kx, ic);
            }
          acc[((n * b->out_h + oy) * b->out_w + ox) * c->out_c + oc] = s;
        }
  return acc;
}

static kiln_status *run(const qconv *c, built *b) {
  if (c->op == KILN_OP_TRANSPOSE_CONV) {
    kiln_tensor *inputs[4] = {b->shape, b->w->t, b->in->t,
                              b->bias ? b->bias->t : NULL};
    return kiln_test_run_op1(c->op, &b->attrs, inputs, 4, b->out->t);
  }
  kiln_tensor *inputs[3] = {b->in->t, b->w->t, b->bias ? b->bias->t : NULL};
  return kiln_test_run_op1(c->op, &b->attrs, inputs, 3, b->out->t);
}

static void check_case(const qconv *c) {
  built b;
  build(c, &b);
  kiln_status *st = run(c, &b);
  CHECK_OK(st);
  int64_t want_dims[4] = {c->n, b.out_h, b.out_w, c->out_c};
  CHECK(kiln_test_has_shape(b.out->t, 4, want_dims));
  if (st || !kiln_test_has_shape(b.out->t, 4, want_dims)) {
    release(&b);
    return;
  }
  int64_t *acc = oracle_sums(c, &b);
  int64_t lo, hi, count = kiln_tensor_numel(b.out->t), bad = 0;
  oracle_clamp(c->act, c->in_t, b.out->scale[0], b.out->zp[0], &lo, &hi);
  bool wide = c->in_t == KILN_INT16 &&
              (c->bias_kind == 2 || c->op == KILN_OP_TRANSPOSE_CONV);
  for (int64_t i = 0; i < count; i++) {
    int64_t oc = i % c->out_c;
    int64_t sum = acc[i] + (b.bias ? qt_get(b.bias->t, oc) : 0);
    double real = (double)b.in->scale[0] *
                  (double)b.w->scale[c->per_channel ? oc : 0] /
                  (double)b.out->scale[0];
    int64_t y =
        (wide ? oracle_rescale64(sum, real) : oracle_rescale32(sum, real)) +
        b.out->zp[0];
    y = y < lo ? lo : (y > hi ? hi : y);
    if (qt_get(b.out->t, i) != y && bad++ < 3)
      fprintf(stderr,
              "op %s in %s: element %lld is %lld, expected %lld (sum %lld)\n",
              kiln_op_table[c->op].name, kiln_dtype_name(c->in_t), (long long)i,
              (long long)qt_get(b.out->t, i), (long long)y, (long long)sum);
  }
  CHECK(bad == 0);
  free(acc);
  release(&b);
}

static void test_random(kiln_op_type op, int cases) {
  for (int i = 0; i < cases; i++) {
    qconv c = random_case(op);
    check_case(&c);
  }
}

/* Bad quantization parameters fail at parameter building (load), naming
 * the tensor and the value. */
static void test_errors(void) {
  qconv c = random_case(KILN_OP_CONV_2D);
  c.in_t = KILN_INT8;
  c.w_t = KILN_INT8;
  c.groups = 1;
  c.per_channel = true;
  c.bias_kind = 1;
  c.act = KILN_ACT_NONE;
  built b;

  build(&c, &b); /* per-channel count that is not the output channels */
  b.w->info.count = (int)c.out_c + 1;
  CHECK_ERROR(run(&c, &b), KILN_ERR_INVALID_MODEL, "quantization parameters");
  release(&b);

  build(&c, &b); /* int8 weights need zero point 0 */
  b.w->zp[0] = 3;
  CHECK_ERROR(run(&c, &b), KILN_ERR_UNSUPPORTED, "zero point 3");
  release(&b);

  build(&c, &b); /* no parameters on the input */
  b.in->t->quant = NULL;
  CHECK_ERROR(run(&c, &b), KILN_ERR_INVALID_MODEL,
              "input 0 (input) of type int8 has no quantization parameters");
  release(&b);

  build(&c, &b); /* a zero scale */
  b.out->scale[0] = 0.0f;
  CHECK_ERROR(run(&c, &b), KILN_ERR_INVALID_MODEL,
              "output 0 has quantization "
              "scale 0");
  release(&b);

  build(&c, &b); /* an activation with no integer form */
  b.attrs.activation = KILN_ACT_TANH;
  CHECK_ERROR(run(&c, &b), KILN_ERR_UNSUPPORTED, "fused activation 4");
  release(&b);

  build(&c, &b); /* output of another type */
  b.out->t->dtype = KILN_UINT8;
  CHECK_ERROR(run(&c, &b), KILN_ERR_UNSUPPORTED, "output 0 has type uint8");
  release(&b);

  build(&c, &b); /* a float bias on an integer node */
  int64_t bd = c.out_c;
  kiln_tensor *fb = kiln_test_tensor(KILN_FLOAT32, 1, &bd);
  kiln_tensor *inputs[3] = {b.in->t, b.w->t, fb};
  CHECK_ERROR(kiln_test_run_op1(c.op, &b.attrs, inputs, 3, b.out->t),
              KILN_ERR_UNSUPPORTED, "input 2 (bias) has type float32");
  kiln_test_tensor_free(fb);
  release(&b);

  build(&c, &b); /* a bias of the wrong length */
  b.bias->t->dims[0] = c.out_c + 2;
  CHECK_ERROR(run(&c, &b), KILN_ERR_INVALID_MODEL, "input 2 (bias) has");
  release(&b);

  build(&c, &b); /* a kernel called without the parameters of load */
  {
    kiln_tensor *bare_in[3] = {b.in->t, b.w->t, b.bias->t};
    kiln_tensor *bare_out[1] = {b.out->t};
    kiln_op_ctx bare = {&b.attrs, bare_in, 3, bare_out, 1, NULL, NULL, NULL};
    CHECK_ERROR(kiln_ref_conv_2d(&bare), KILN_ERR_INVALID_ARGUMENT,
                "without its quantization parameters");
  }
  release(&b);

  build(&c, &b); /* int8 input with uint8 weights */
  b.w->t->dtype = KILN_UINT8;
  CHECK_ERROR(run(&c, &b), KILN_ERR_UNSUPPORTED,
              "input 1 (weights) has type uint8; a int8 input needs int8");
  release(&b);
}

/* No optimized float variant packs or claims an integer node, at any
 * instruction set: they would read int8 bytes as floats. Only the int8
 * variants ("q8-", kernels/qgemm/ and the like) may pack it. */
static void test_no_variant_claims(void) {
  static const kiln_op_type ops[] = {KILN_OP_CONV_2D,
                                     KILN_OP_DEPTHWISE_CONV_2D};
  for (int o = 0; o < 2; o++) {
    qconv c = random_case(ops[o]);
    c.in_t = KILN_INT8;
    c.w_t = KILN_INT8;
    c.bias_kind = 1;
    c.kh = c.kw = 3;
    c.dil_h = c.dil_w = 1;
    c.stride_h = c.stride_w = 1;
    c.padding = KILN_PAD_SAME;
    built b;
    build(&c, &b);
    CHECK_OK(run(&c, &b));
    kiln_tensor *inputs[3] = {b.in->t, b.w->t, b.bias->t};
    kiln_tensor *outputs[1] = {b.out->t};
    kiln_op_ctx ctx = {&b.attrs, inputs, 3, outputs, 1, NULL, NULL, NULL};
    for (int isa = KILN_ISA_PORTABLE;
         isa <= (int)kiln_isa_resolve(KILN_ISA_AUTO); isa++) {
      void *packed = NULL;
      const kiln_kernel_variant *packer =
          kiln_test_pack_like_load(ops[o], (kiln_isa)isa, &ctx, &packed);
      CHECK(packer ? packed && strncmp(packer->name, "q8-", 3) == 0
                   : packed == NULL);
      free(packed);
      CHECK(kiln_variant_select(ops[o], (kiln_isa)isa, NULL, &ctx) == NULL);
    }
    release(&b);
  }
}

int main(void) {
  kiln_test_seed(0x51c0);
  test_random(KILN_OP_CONV_2D, 300);
  test_random(KILN_OP_DEPTHWISE_CONV_2D, 300);
  test_random(KILN_OP_TRANSPOSE_CONV, 200);
  test_errors();
  test_no_variant_claims();
  return kiln_test_finish("test_ref_quant_conv");
}
