/* test_opt_pad.c - the row-copy PAD / PADV2 variant against the reference
 * kernel, byte for byte: random ranks, shapes and paddings (axes padded or
 * not, so the last padded axis falls anywhere), element sizes 1 to 8,
 * zero, constant and zero-point padding, on the caller and on 3 threads. */
#include <stdlib.h>
#include <string.h>

#include "core/threadpool.h"
#include "harness.h"
#include "kernels/variants.h"

static kiln_threadpool *pool3;

static kiln_tensor *paddings(int rank, const int64_t *before,
                             const int64_t *after) {
  int64_t dims[2] = {rank, 2};
  kiln_tensor *t = kiln_test_tensor(KILN_INT32, 2, dims);
  int32_t *p = t->data;
  for (int k = 0; k < rank; k++) {
    p[2 * k] = (int32_t)before[k];
    p[2 * k + 1] = (int32_t)after[k];
  }
  return t;
}

static void random_bytes(kiln_tensor *t) {
  unsigned char *p = t->data;
  for (size_t i = 0; i < kiln_tensor_nbytes(t); i++)
    p[i] = (unsigned char)kiln_test_rand();
}

static void pad_case(kiln_op_type op, kiln_dtype dtype, int rank,
                     const int64_t *dims, const int64_t *before,
                     const int64_t *after, bool constant,
                     const kiln_quant_info *quant) {
  kiln_no_attrs none = {0};
  kiln_tensor *in = kiln_test_tensor(dtype, rank, dims);
  random_bytes(in);
  int64_t one[1] = {1};
  kiln_tensor *value = constant ? kiln_test_tensor(dtype, 0, one) : NULL;
  if (value) random_bytes(value);
  kiln_tensor *inputs[3] = {in, paddings(rank, before, after), value};
  int num_inputs = constant ? 3 : 2;
  kiln_tensor *ref = kiln_test_output();
  ref->dtype = dtype;
  ref->quant = quant;
  CHECK_OK(kiln_test_run_op(op, &none, inputs, num_inputs, &ref, 1));
  kiln_tensor *got = kiln_test_tensor(dtype, ref->rank, ref->dims);
  got->quant = quant;
  kiln_tensor *outputs[1] = {got};
  kiln_op_ctx ctx = {&none, inputs, num_inputs, outputs, 1, NULL, NULL, NULL};
  const kiln_kernel_variant *v =
      kiln_variant_select(op, KILN_ISA_PORTABLE, NULL, &ctx);
  CHECK(v != NULL && strcmp(v->name, "pad-rows") == 0);
  for (int p = 0; v && p < 2; p++) {
    memset(got->data, 0xa5, kiln_tensor_nbytes(got));
    ctx.pool = p ? pool3 : NULL;
    CHECK_OK(v->run(&ctx));
    CHECK(memcmp(got->data, ref->data, kiln_tensor_nbytes(ref)) == 0);
  }
  kiln_tensor *all[5] = {in, inputs[1], value, ref, got};
  kiln_test_tensors_free(all, 5);
}

static void test_random(void) {
  static const kiln_dtype dtypes[] = {KILN_FLOAT32, KILN_INT8, KILN_FLOAT16,
                                      KILN_INT64, KILN_UINT8};
  for (int trial = 0; trial < 400; trial++) {
    int rank = kiln_test_int(1, 5);
    int64_t dims[5], before[5], after[5];
    for (int k = 0; k < rank; k++) {
      dims[k] = kiln_test_int(1, 7);
      bool padded = kiln_test_int(0, 2) == 0;
      before[k] = padded ? kiln_test_int(0, 3) : 0;
      after[k] = padded ? kiln_test_int(0, 3) : 0;
    }
    kiln_dtype dtype = dtypes[kiln_test_int(0, 4)];
    bool constant = kiln_test_int(0, 1);
    pad_case(constant ? KILN_OP_PADV2 : KILN_OP_PAD, dtype, rank, dims, before,
             after, constant, NULL);
  }
}

static void test_special(void) {
  /* ResNet's padded stem and max-pool inputs: rows of many bytes, split
   * across threads. */
  int64_t stem[4] = {1, 224, 224, 3}, stem_pad[4] = {0, 3, 3, 0};
  int64_t none[4] = {0, 0, 0, 0};
  pad_case(KILN_OP_PAD, KILN_FLOAT32, 4, stem, stem_pad, stem_pad, false, NULL);
  int64_t pool[4] = {2, 112, 112, 64}, pool_pad[4] = {0, 1, 1, 0};
  pad_case(KILN_OP_PAD, KILN_FLOAT32, 4, pool, pool_pad, pool_pad, false, NULL);
  /* No padding at all: one copy. */
  pad_case(KILN_OP_PAD, KILN_FLOAT32, 4, pool, none, none, false, NULL);
  /* Quantized: PAD fills with the zero point. */
  float scale = 0.5f;
  int64_t zero_point = -7;
  kiln_quant_info quant = {1, &scale, &zero_point, 0};
  int64_t small[3] = {3, 4, 5}, small_pad[3] = {1, 0, 2};
  pad_case(KILN_OP_PAD, KILN_INT8, 3, small, small_pad, none, false, &quant);
}

int main(void) {
  kiln_test_seed(0x9ad);
  CHECK_OK(kiln_threadpool_create(3, NULL, &pool3));
  test_random();
  test_special();
  kiln_threadpool_free(pool3);
  return kiln_test_finish("test_opt_pad");
}
