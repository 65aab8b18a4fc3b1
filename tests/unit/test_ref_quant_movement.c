/* test_ref_quant_movement.c - CONCATENATION of uint8 parts with their own
 * scales and zero points (requantized, within one unit of the real value
 * in double; parts that match the output copied exactly), and the
 * refusals TFLite makes: int8 parts of CONCATENATION and PACK whose
 * quantization differs from the output's. */
#include <math.h>

#include "core/ops.h"
#include "core/status.h"
#include "harness.h"
#include "quant_ops_test_util.h"

static void test_concat_uint8(void) {
  for (int trial = 0; trial < 30; trial++) {
    int rank = kiln_test_int(1, 4);
    int64_t dims[KILN_MAX_RANK];
    for (int d = 0; d < rank; d++) dims[d] = kiln_test_int(1, 4);
    int axis = kiln_test_int(0, rank - 1);
    int count = kiln_test_int(1, 4);
    qtensor *parts[4];
    kiln_tensor *in[4];
    qtensor *out = qt_output(KILN_UINT8, qt_random_scale(),
                             qt_random_zero_point(KILN_UINT8));
    for (int i = 0; i < count; i++) {
      int64_t pd[KILN_MAX_RANK];
      for (int d = 0; d < rank; d++) pd[d] = dims[d];
      pd[axis] = kiln_test_int(1, 3);
      parts[i] = qt_random(KILN_UINT8, rank, pd);
      if (kiln_test_int(0, 2) == 0) { /* some parts match the output */
        parts[i]->scale = out->scale;
        parts[i]->zero_point = out->zero_point;
      }
      in[i] = parts[i]->t;
    }
    kiln_concat_attrs attrs = {axis - (kiln_test_int(0, 1) ? rank : 0),
                               KILN_ACT_NONE};
    CHECK_OK(
        kiln_test_run_op1(KILN_OP_CONCATENATION, &attrs, in, count, out->t));
    /* Walk the output: outer index, then each part's block. */
    int64_t outer = 1, o = 0, bad = 0;
    for (int d = 0; d < axis; d++) outer *= dims[d];
    for (int64_t k = 0; k < outer; k++)
      for (int i = 0; i < count; i++) {
        int64_t block = kiln_tensor_numel(parts[i]->t) / outer;
        for (int64_t j = 0; j < block; j++, o++) {
          int32_t got = qt_get(out, o);
          int32_t stored = qt_get(parts[i], k * block + j);
          bool same = parts[i]->scale == out->scale &&
                      parts[i]->zero_point == out->zero_point;
          int32_t want =
              same ? stored
                   : qt_ideal(out, qt_real(parts[i], k * block + j), 0, 255);
          bad += same ? got != want : abs(got - want) > 1;
        }
      }
    CHECK(bad == 0);
    for (int i = 0; i < count; i++) qt_free(parts[i]);
    qt_free(out);
  }
}

static void test_refusals(void) {
  int64_t dims[2] = {2, 3};
  qtensor *a = qt_random(KILN_INT8, 2, dims),
          *b = qt_random(KILN_INT8, 2, dims);
  qtensor *out = qt_output(KILN_INT8, a->scale, a->zero_point);
  b->scale = a->scale * 2;
  kiln_tensor *in[2] = {a->t, b->t};
  kiln_concat_attrs concat = {0, KILN_ACT_NONE};
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_CONCATENATION, &concat, in, 2, out->t),
              KILN_ERR_UNSUPPORTED, "input 1 has quantization parameters");
  kiln_pack_attrs pack = {2, 0};
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_PACK, &pack, in, 2, out->t),
              KILN_ERR_UNSUPPORTED, "input 1 has quantization parameters");
  /* uint8 parts with a bad zero point are refused, not rescaled */
  qtensor *c = qt_random(KILN_UINT8, 2, dims);
  qtensor *uout = qt_output(KILN_UINT8, 0.1f, 10);
  c->zero_point = 400;
  kiln_tensor *uin[1] = {c->t};
  CHECK_ERROR(
      kiln_test_run_op1(KILN_OP_CONCATENATION, &concat, uin, 1, uout->t),
      KILN_ERR_INVALID_MODEL, "input 0 has zero point 400");
  qt_free(a), qt_free(b), qt_free(c), qt_free(out), qt_free(uout);
}

int main(void) {
  kiln_test_seed(0xc0ca7);
  test_concat_uint8();
  test_refusals();
  return kiln_test_finish("test_ref_quant_movement");
}
