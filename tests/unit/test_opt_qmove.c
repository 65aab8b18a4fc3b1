/* test_opt_qmove.c - the int8 movement variants of kernels/qelem
 * (CONCATENATION of int8 and uint8, uint8 parts requantized; int8
 * RESIZE_BILINEAR; int8 and uint8 RESIZE_NEAREST_NEIGHBOR) against kiln's
 * reference kernels, which they must equal byte for byte: random ranks,
 * axes, part sizes, scales and zero points, resizes up and down to odd
 * sizes with batch > 1 and channel counts around the vector widths, every
 * align_corners / half_pixel_centers combination, at every instruction-set
 * level this CPU has, without and with a pool of 3 threads. Nodes the
 * variants must leave to the reference (uint8 bilinear, int8 parts with
 * other parameters, coordinates the reference does not guard) are
 * declined. */
#include <stdlib.h>
#include <string.h>

#include "core/threadpool.h"
#include "harness.h"
#include "kernels/kernel.h"
#include "kernels/qelem/qelem.h"
#include "kernels/variants.h"
#include "quant_test_util.h"

static kiln_threadpool *pool3;
static kiln_isa best_isa;
static int variant_runs;
/* Per level, the distinct variants that ran there (printed at the end). */
static const char *level_names[KILN_ISA_AVX512_VNNI + 1][16];

static void note_ran(int isa, const char *name) {
  for (int i = 0; i < 16; i++) {
    if (level_names[isa][i] && strcmp(level_names[isa][i], name) == 0) return;
    if (!level_names[isa][i]) {
      level_names[isa][i] = name;
      return;
    }
  }
}

/* Runs the reference into a fresh output of `dtype` and (scale, zp), then
 * at every level the variant the runtime would choose, and compares bytes.
 * `expect`: a q8 variant must take the node at every level, or none may. */
static void check_node(kiln_op_type op, const void *attrs, kiln_tensor **inputs,
                       int num_inputs, kiln_dtype dtype, float out_scale,
                       int64_t out_zp, bool expect, const char *desc) {
  qt *want = qt_output(dtype, out_scale, out_zp);
  CHECK_OK(kiln_test_run_op1(op, attrs, inputs, num_inputs, want->t));
  qt *got = qt_output(dtype, out_scale, out_zp);
  kiln_test_tensor_free(got->t);
  got->t = kiln_test_tensor(dtype, want->t->rank, want->t->dims);
  got->t->quant = &got->info;
  kiln_tensor *outputs[1] = {got->t};
  kiln_op_ctx ctx = {attrs, inputs, num_inputs, outputs, 1, NULL, NULL, NULL};
  const int64_t n = kiln_tensor_numel(want->t);
  for (int isa = KILN_ISA_PORTABLE; isa <= (int)best_isa; isa++) {
    const kiln_kernel_variant *v =
        kiln_variant_select(op, (kiln_isa)isa, NULL, &ctx);
    const bool q8 = v && strncmp(v->name, "q8-", 3) == 0;
    if (q8 != expect)
      fprintf(stderr, "%s %s at %s: %s\n", kiln_op_table[op].name, desc,
              kiln_isa_name((kiln_isa)isa),
              expect ? "no q8 variant" : "unexpectedly taken");
    CHECK(q8 == expect);
    if (!q8) continue;
    for (int p = 0; p < 2; p++) {
      ctx.pool = p ? pool3 : NULL;
      memset(got->t->data, 0x5A, (size_t)n);
      CHECK_OK(v->run(&ctx));
      int bad = 0;
      for (int64_t i = 0; i < n; i++) {
        const int g = ((uint8_t *)got->t->data)[i];
        const int w = ((uint8_t *)want->t->data)[i];
        if (g != w && bad++ < 3)
          fprintf(stderr, "%s %s %s pool %d: byte %lld: %d, want %d\n",
                  kiln_op_table[op].name, desc, v->name, p, (long long)i, g, w);
      }
      CHECK(bad == 0);
      variant_runs++;
      note_ran(isa, v->name);
    }
  }
  qt_free(want);
  qt_free(got);
}

static int32_t random_zp(kiln_dtype t) {
  return t == KILN_INT8 ? kiln_test_int(-128, 127) : kiln_test_int(0, 255);
}

/* ------------------------------------------------------ CONCATENATION */

/* `parts` parts of rank `rank` joined along `axis`; each part's sizes
 * along the axis from 1 to 9, the other dimensions shared. uint8 parts
 * get their own parameters (or the output's) at random; int8 parts the
 * output's, since TFLite and the reference take no other. */
static void concat_case(kiln_dtype dtype, int rank, int parts,
                        const int64_t *fixed) {
  int64_t dims[4];
  for (int d = 0; d < rank; d++) dims[d] = kiln_test_int(1, d == 0 ? 3 : 7);
  if (fixed) memcpy(dims, fixed, sizeof dims);
  const int axis = fixed ? rank - 1 : kiln_test_int(0, rank - 1);
  const float out_scale = qt_scale(-8, 0);
  const int32_t out_zp = random_zp(dtype);
  qt *q[8];
  kiln_tensor *inputs[8];
  int own = 0;
  for (int i = 0; i < parts; i++) {
    if (!fixed) dims[axis] = kiln_test_int(1, 9);
    q[i] = qt_new(dtype, rank, dims, 1, 0);
    q[i]->scale[0] = out_scale;
    q[i]->zp[0] = out_zp;
    if (dtype == KILN_UINT8 && kiln_test_int(0, 2) > 0) {
      own++;
      q[i]->zp[0] = random_zp(dtype);
      /* Exact halves at power-of-two ratios, where rounding is decided. */
      q[i]->scale[0] = kiln_test_int(0, 1)
                           ? out_scale * qt_scale(-3, 3)
                           : ldexpf(out_scale, kiln_test_int(-2, 2));
    }
    inputs[i] = q[i]->t;
  }
  kiln_concat_attrs attrs = {kiln_test_int(0, 1) ? axis - rank : axis,
                             KILN_ACT_NONE};
  char desc[96];
  snprintf(desc, sizeof desc, "%s rank %d axis %d, %d parts (%d requantized)",
           kiln_dtype_name(dtype), rank, attrs.axis, parts, own);
  check_node(KILN_OP_CONCATENATION, &attrs, inputs, parts, dtype, out_scale,
             out_zp, true, desc);
  for (int i = 0; i < parts; i++) qt_free(q[i]);
}

static void test_concat(void) {
  for (int trial = 0; trial < 60; trial++) {
    const kiln_dtype t = trial % 2 ? KILN_UINT8 : KILN_INT8;
    concat_case(t, kiln_test_int(1, 4), kiln_test_int(1, 5), NULL);
  }
  /* Blocks long enough for the vector lookups and the threads. */
  const int64_t big[4] = {1, 20, 19, 133};
  concat_case(KILN_INT8, 4, 3, big);
  concat_case(KILN_UINT8, 4, 3, big);
}

/* What the variant must decline: an int8 part with its own parameters
 * (which the reference refuses too), a fused activation, int16. */
static void test_concat_declines(void) {
  int64_t dims[2] = {2, 3}, out_dims[2] = {2, 6};
  qt *a = qt_new(KILN_INT8, 2, dims, 1, 0),
     *b = qt_new(KILN_INT8, 2, dims, 1, 0);
  qt *o = qt_new(KILN_INT8, 2, out_dims, 1, 0);
  b->scale[0] = 0.5f;
  kiln_tensor *in[2] = {a->t, b->t}, *out[1] = {o->t};
  kiln_concat_attrs attrs = {1, KILN_ACT_NONE};
  kiln_op_ctx ctx = {&attrs, in, 2, out, 1, NULL, NULL, NULL};
  CHECK(!kiln_q8_concat_applies(&ctx));
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_CONCATENATION, &attrs, in, 2, o->t),
              KILN_ERR_UNSUPPORTED, "quantization parameters");
  b->scale[0] = 1.0f;
  CHECK(kiln_q8_concat_applies(&ctx));
  /* At prepare the tensors have shapes but no memory yet. */
  void *data = o->t->data;
  o->t->data = NULL;
  CHECK(kiln_q8_concat_applies(&ctx));
  o->t->data = data;
  attrs.activation = KILN_ACT_RELU;
  CHECK(!kiln_q8_concat_applies(&ctx));
  attrs.activation = KILN_ACT_NONE;
  attrs.axis = 2; /* out of range */
  CHECK(!kiln_q8_concat_applies(&ctx));
  attrs.axis = 0; /* the parts' sizes do not add up to the output's */
  CHECK(!kiln_q8_concat_applies(&ctx));
  qt *w = qt_new(KILN_INT16, 2, dims, 1, 0);
  in[1] = w->t;
  attrs.axis = 1;
  CHECK(!kiln_q8_concat_applies(&ctx));
  qt_free(a), qt_free(b), qt_free(o), qt_free(w);
}

/* ------------------------------- RESIZE_BILINEAR, RESIZE_NEAREST_NEIGHBOR */

static const int64_t channel_choices[] = {1,  3,  15, 16, 17,
                                          31, 32, 33, 64, 100};

static void resize_case(kiln_op_type op, kiln_dtype dtype, const int64_t *fixed,
                        int out_h, int out_w) {
  int64_t dims[4] = {kiln_test_int(1, 3), kiln_test_int(1, 12),
                     kiln_test_int(1, 12),
                     channel_choices[kiln_test_int(0, 9)]};
  if (fixed) memcpy(dims, fixed, sizeof dims);
  int32_t size[2] = {out_h ? out_h : kiln_test_int(1, 25),
                     out_w ? out_w : kiln_test_int(1, 25)};
  qt *x = qt_new(dtype, 4, dims, 1, 0);
  x->scale[0] = qt_scale(-8, 0);
  x->zp[0] = random_zp(dtype);
  int64_t two = 2;
  kiln_tensor *size_t_ = kiln_test_tensor_i32(1, &two, size);
  kiln_resize_attrs attrs = {kiln_test_int(0, 1) == 1,
                             kiln_test_int(0, 1) == 1};
  /* Bilinear refuses both; nearest takes them together. */
  if (op == KILN_OP_RESIZE_BILINEAR && attrs.align_corners &&
      attrs.half_pixel_centers)
    attrs.half_pixel_centers = false;
  kiln_tensor *inputs[2] = {x->t, size_t_};
  char desc[128];
  snprintf(desc, sizeof desc, "%s [%lld,%lld,%lld,%lld] -> %dx%d ac %d hp %d",
           kiln_dtype_name(dtype), (long long)dims[0], (long long)dims[1],
           (long long)dims[2], (long long)dims[3], size[0], size[1],
           attrs.align_corners, attrs.half_pixel_centers);
  const bool expect =
      op == KILN_OP_RESIZE_NEAREST_NEIGHBOR || dtype == KILN_INT8;
  check_node(op, &attrs, inputs, 2, dtype, x->scale[0], x->zp[0], expect, desc);
  qt_free(x);
  kiln_test_tensor_free(size_t_);
}

static void test_resize(void) {
  for (int trial = 0; trial < 80; trial++) {
    resize_case(KILN_OP_RESIZE_BILINEAR, KILN_INT8, NULL, 0, 0);
    resize_case(KILN_OP_RESIZE_NEAREST_NEIGHBOR,
                trial % 2 ? KILN_UINT8 : KILN_INT8, NULL, 0, 0);
  }
  /* uint8 bilinear (float arithmetic in TFLite) stays with the reference. */
  for (int trial = 0; trial < 5; trial++)
    resize_case(KILN_OP_RESIZE_BILINEAR, KILN_UINT8, NULL, 0, 0);
  /* A 2x upscale of a feature map, a downscale, and a single pixel. */
  const int64_t map[4] = {2, 28, 27, 70}, one[4] = {1, 1, 1, 33};
  resize_case(KILN_OP_RESIZE_BILINEAR, KILN_INT8, map, 56, 54);
  resize_case(KILN_OP_RESIZE_NEAREST_NEIGHBOR, KILN_INT8, map, 56, 54);
  resize_case(KILN_OP_RESIZE_BILINEAR, KILN_INT8, map, 9, 13);
  resize_case(KILN_OP_RESIZE_NEAREST_NEIGHBOR, KILN_INT8, map, 9, 13);
  resize_case(KILN_OP_RESIZE_BILINEAR, KILN_INT8, one, 7, 1);
  resize_case(KILN_OP_RESIZE_NEAREST_NEIGHBOR, KILN_UINT8, one, 1, 7);
  /* Rows wider than the 256 columns whose sources nearest computes at a
   * time, with 1 channel (its byte loop) and 3. */
  const int64_t wide1[4] = {2, 5, 130, 1}, wide3[4] = {1, 4, 300, 3};
  resize_case(KILN_OP_RESIZE_NEAREST_NEIGHBOR, KILN_INT8, wide1, 7, 301);
  resize_case(KILN_OP_RESIZE_NEAREST_NEIGHBOR, KILN_UINT8, wide3, 9, 513);
  resize_case(KILN_OP_RESIZE_BILINEAR, KILN_INT8, wide3, 9, 513);
}

/* An upscale so large that the 10-bit coordinate's lower index passes the
 * last input row (scale rounds 1024 / 2000 up to 1): TFLite reads past its
 * input there, so the reference refuses it and the variant declines it. */
static void test_resize_declines(void) {
  int64_t dims[4] = {1, 1, 1, 4}, out_dims[4] = {1, 2000, 1, 4};
  qt *x = qt_new(KILN_INT8, 4, dims, 1, 0);
  qt *y = qt_new(KILN_INT8, 4, out_dims, 1, 0);
  int64_t two = 2;
  int32_t size[2] = {2000, 1};
  kiln_tensor *s = kiln_test_tensor_i32(1, &two, size);
  kiln_tensor *in[2] = {x->t, s}, *out[1] = {y->t};
  kiln_resize_attrs attrs = {false, false};
  kiln_op_ctx ctx = {&attrs, in, 2, out, 1, NULL, NULL, NULL};
  CHECK(!kiln_q8_resize_bilinear_applies(&ctx));
  CHECK(kiln_q8_resize_nearest_applies(&ctx));
  /* The reference's shape function refuses it with a message. */
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_RESIZE_BILINEAR, &attrs, in, 2, y->t),
              KILN_ERR_UNSUPPORTED, "past the input");
  ((int32_t *)s->data)[0] = 1000;
  CHECK_OK(kiln_test_run_op1(KILN_OP_RESIZE_BILINEAR, &attrs, in, 2, y->t));
  out_dims[1] = 1000; /* 1024 / 1000 rounds to 1: every index is row 0 */
  qt *z = qt_new(KILN_INT8, 4, out_dims, 1, 0);
  out[0] = z->t;
  CHECK(kiln_q8_resize_bilinear_applies(&ctx));
  void *data = z->t->data; /* at prepare, before memory is planned */
  z->t->data = NULL;
  CHECK(kiln_q8_resize_bilinear_applies(&ctx));
  CHECK(kiln_q8_resize_nearest_applies(&ctx));
  z->t->data = data;
  attrs.align_corners = attrs.half_pixel_centers = true;
  CHECK(!kiln_q8_resize_bilinear_applies(&ctx));
  qt_free(x), qt_free(y), qt_free(z);
  kiln_test_tensor_free(s);
}

int main(void) {
  kiln_test_seed(1109);
  best_isa = kiln_isa_resolve(KILN_ISA_AUTO);
  CHECK_OK(kiln_threadpool_create(3, NULL, &pool3));
  test_concat();
  test_concat_declines();
  test_resize();
  test_resize_declines();
  printf("q8 movement: %d variant runs; ran", variant_runs);
  for (int isa = KILN_ISA_PORTABLE; isa <= (int)best_isa; isa++)
    if (level_names[isa][0]) printf(" %s", kiln_isa_name((kiln_isa)isa));
  printf("; skipped (CPU lacks):");
  bool none = true;
  for (int isa = (int)best_isa + 1; isa <= KILN_ISA_AVX512_VNNI; isa++)
    printf(" %s", kiln_isa_name((kiln_isa)isa)), none = false;
  printf("%s\n", none ? " none" : "");
  for (int isa = KILN_ISA_PORTABLE; isa <= (int)best_isa; isa++) {
    if (!level_names[isa][0]) continue;
    printf("  %s:", kiln_isa_name((kiln_isa)isa));
    for (int i = 0; i < 16 && level_names[isa][i]; i++)
      printf(" %s", level_names[isa][i]);
    printf("\n");
  }
  kiln_threadpool_free(pool3);
  return kiln_test_finish("test_opt_qmove");
}
