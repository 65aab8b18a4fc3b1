/* test_ref_generate.c - FILL and RANGE: output shapes from random dims and
 * ranges (empty ones included) in every type (FILL also quantized), values
 * checked element by element against the fill value's bytes and
 * start + i * delta; then the bad values
 * that must be refused at prepare (negative or oversized dims, empty or
 * wrong-way ranges, unknown FILL dims) and RANGE's deferred size when an
 * input is known only at invoke. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ops_test_util.h"

static kiln_tensor *scalar_of(kiln_dtype t, double v) {
  kiln_tensor *s = kiln_test_tensor(t, 0, NULL);
  setv(s, 0, v);
  return s;
}

/* Every type FILL takes; the value is random bytes (bool 0 or 1) and each
 * output element must repeat them. */
static const kiln_dtype kFillTypes[] = {
    KILN_FLOAT32, KILN_INT32,  KILN_INT64,    KILN_BOOL,    KILN_INT8,
    KILN_INT16,   KILN_UINT8,  KILN_FLOAT16,  KILN_FLOAT64, KILN_UINT16,
    KILN_UINT32,  KILN_UINT64, KILN_COMPLEX64};
#define NUM_FILL_TYPES ((int)(sizeof kFillTypes / sizeof kFillTypes[0]))

static void test_fill(void) {
  for (int rep = 0; rep < 4 * NUM_FILL_TYPES; rep++) {
    kiln_dtype t = kFillTypes[rep % NUM_FILL_TYPES];
    tshape s = random_tshape(5, 10);
    int64_t rank = s.rank;
    kiln_tensor *dims =
        kiln_test_tensor(rep % 2 ? KILN_INT32 : KILN_INT64, 1, &rank);
    for (int d = 0; d < s.rank; d++) setv(dims, d, (double)s.dims[d]);
    kiln_tensor *value = kiln_test_tensor(t, 0, NULL);
    size_t elem = kiln_dtype_size(t);
    unsigned char *v = value->data;
    for (size_t b = 0; b < elem; b++)
      v[b] = (unsigned char)kiln_test_int(t == KILN_BOOL ? 0 : 1,
                                          t == KILN_BOOL ? 1 : 255);
    kiln_tensor *out = kiln_test_tensor(t, 0, NULL);
    /* a quantized int8 / int16 value fills an output of its quantization */
    float scale = 0.25f;
    int64_t zp = kiln_test_int(-3, 3);
    kiln_quant_info q = {1, &scale, &zp, 0};
    bool quantized = (t == KILN_INT8 || t == KILN_INT16) && rep % 3 == 0;
    if (quantized) value->quant = out->quant = &q;
    CHECK_OK(run_poisoned(KILN_OP_FILL, NULL, (kiln_tensor *[]){dims, value}, 2,
                          out));
    int bad = !tensor_has_tshape(out, &s);
    for (int64_t i = 0; !bad && i < tshape_numel(&s); i++)
      bad += memcmp((const unsigned char *)out->data + (size_t)i * elem, v,
                    elem) != 0;
    if (bad) fprintf(stderr, "FILL %s: %d wrong\n", kiln_dtype_name(t), bad);
    CHECK(bad == 0);
    value->quant = out->quant = NULL;
    kiln_tensor *all[3] = {dims, value, out};
    kiln_test_tensors_free(all, 3);
  }
}

static void test_range(void) {
  const kiln_dtype types[] = {KILN_FLOAT32, KILN_INT32, KILN_INT64};
  for (int rep = 0; rep < 60; rep++) {
    kiln_dtype t = types[rep % 3];
    double start, limit, delta;
    if (t == KILN_FLOAT32) {
      start = kiln_test_uniform(-10, 10);
      delta = kiln_test_uniform(0.1f, 3) * (kiln_test_int(0, 1) ? 1 : -1);
      limit = start + delta * kiln_test_uniform(0, 12);
      start = (float)start, delta = (float)delta, limit = (float)limit;
    } else {
      start = kiln_test_int(-20, 20);
      delta = kiln_test_int(1, 5) * (kiln_test_int(0, 1) ? 1 : -1);
      limit = start + delta * kiln_test_int(0, 12) + kiln_test_int(-1, 1);
      if ((limit - start) * delta < 0) limit = start;
    }
    kiln_tensor *in[3] = {scalar_of(t, start), scalar_of(t, limit),
                          scalar_of(t, delta)};
    kiln_tensor *out = kiln_test_tensor(t, 0, NULL);
    CHECK_OK(run_poisoned(KILN_OP_RANGE, NULL, in, 3, out));
    /* the count by stepping: values strictly short of limit */
    int64_t count = 0;
    for (double v = start; delta > 0 ? v < limit : v > limit; v += delta)
      count++;
    bool float_edge = false;
    if (t == KILN_FLOAT32) /* a last step landing on limit in float */
      float_edge = fabs(start + delta * (double)count - limit) <
                       1e-5 * (1 + fabs(limit)) ||
                   fabs(start + delta * (double)(count - 1) - limit) <
                       1e-5 * (1 + fabs(limit));
    CHECK(out->rank == 1);
    if (!float_edge) CHECK(out->dims[0] == count);
    int bad = out->rank != 1;
    for (int64_t i = 0; !bad && i < out->dims[0]; i++)
      bad += !(fabs(getd(out, i) - (start + delta * (double)i)) <=
               1e-4 * (1 + fabs(start) + fabs(delta * (double)i)));
    CHECK(bad == 0);
    kiln_test_tensors_free(in, 3);
    kiln_test_tensor_free(out);
  }
  /* int64 bounds far apart do not overflow the count */
  kiln_tensor *in[3] = {scalar_of(KILN_INT64, 0), scalar_of(KILN_INT64, 0),
                        scalar_of(KILN_INT64, 1)};
  ((int64_t *)in[0]->data)[0] = INT64_MIN;
  ((int64_t *)in[1]->data)[0] = INT64_MAX;
  ((int64_t *)in[2]->data)[0] = INT64_MAX;
  kiln_tensor *out = kiln_test_tensor(KILN_INT64, 0, NULL);
  CHECK_OK(run_poisoned(KILN_OP_RANGE, NULL, in, 3, out));
  CHECK(out->dims[0] == 3 && geti(out, 0) == INT64_MIN && geti(out, 1) == -1 &&
        geti(out, 2) == INT64_MAX - 1);
  kiln_test_tensors_free(in, 3);
  kiln_test_tensor_free(out);
}

static void test_errors(void) {
  int64_t d2[1] = {2}, d9[1] = {9}, d22[2] = {2, 2};
  kiln_tensor *dims = kiln_test_tensor(KILN_INT32, 1, d2);
  kiln_tensor *dims9 = kiln_test_tensor(KILN_INT32, 1, d9);
  kiln_tensor *dims2d = kiln_test_tensor(KILN_INT32, 2, d22);
  kiln_tensor *fdims = kiln_test_tensor(KILN_FLOAT32, 1, d2);
  kiln_tensor *value = scalar_of(KILN_FLOAT32, 1);
  kiln_tensor *vec = kiln_test_tensor(KILN_FLOAT32, 1, d2);
  kiln_tensor *half = kiln_test_tensor(KILN_FLOAT16, 0, NULL);
  kiln_tensor *fo = kiln_test_tensor(KILN_FLOAT32, 0, NULL);
  kiln_tensor *io = kiln_test_tensor(KILN_INT32, 0, NULL);
#define FILL(d, v, out) \
  shape_only(KILN_OP_FILL, NULL, (kiln_tensor *[]){d, v}, 2, out)
  setv(dims, 0, 3), setv(dims, 1, -1);
  CHECK_ERROR(FILL(dims, value, fo), KILN_ERR_INVALID_ARGUMENT,
              "input 0 (dims) element 1 is -1");
  setv(dims, 1, 70000), setv(dims, 0, 70000);
  CHECK_ERROR(FILL(dims, value, fo), KILN_ERR_INVALID_ARGUMENT,
              "asks for more than 2147483647 elements");
  setv(dims, 0, 2), setv(dims, 1, 2);
  CHECK_ERROR(FILL(dims9, value, fo), KILN_ERR_UNSUPPORTED,
              "input 0 (dims) has 9 entries");
  CHECK_ERROR(FILL(dims2d, value, fo), KILN_ERR_INVALID_MODEL,
              "input 0 (dims) must be 1-D");
  CHECK_ERROR(FILL(fdims, value, fo), KILN_ERR_UNSUPPORTED,
              "input 0 (dims) has type float32");
  CHECK_ERROR(FILL(dims, vec, fo), KILN_ERR_INVALID_MODEL,
              "input 1 (value) must be a scalar");
  CHECK_ERROR(FILL(dims, half, fo), KILN_ERR_INVALID_MODEL,
              "output 0 has type float32; expected float16");
  /* a quantized value's bytes mean the same only in the same quantization */
  float scale_a = 0.5f, scale_b = 0.25f;
  int64_t zp = 0;
  kiln_quant_info qa = {1, &scale_a, &zp, 0}, qb = {1, &scale_b, &zp, 0};
  kiln_tensor *qv = scalar_of(KILN_INT8, 3);
  kiln_tensor *qo = kiln_test_tensor(KILN_INT8, 0, NULL);
  qv->quant = &qa, qo->quant = &qb;
  CHECK_ERROR(FILL(dims, qv, qo), KILN_ERR_UNSUPPORTED,
              "different quantization parameters");
  qo->quant = NULL;
  CHECK_ERROR(FILL(dims, qv, qo), KILN_ERR_UNSUPPORTED,
              "different quantization parameters");
  qv->quant = NULL;
  kiln_test_tensor_free(qv);
  kiln_test_tensor_free(qo);
  CHECK_ERROR(FILL(dims, value, io), KILN_ERR_INVALID_MODEL,
              "output 0 has type int32; expected float32");
  void *saved = dims->data;
  dims->data = NULL;
  CHECK_ERROR(FILL(dims, value, fo), KILN_ERR_UNSUPPORTED,
              "input 0 (dims) must be known");
  dims->data = saved;
#undef FILL

#define RANGE(a, b, c, out) \
  shape_only(KILN_OP_RANGE, NULL, (kiln_tensor *[]){a, b, c}, 3, out)
  kiln_tensor *i0 = scalar_of(KILN_INT32, 0), *i5 = scalar_of(KILN_INT32, 5),
              *im1 = scalar_of(KILN_INT32, -1), *i1 = scalar_of(KILN_INT32, 1);
  kiln_tensor *f0 = scalar_of(KILN_FLOAT32, 0),
              *f5 = scalar_of(KILN_FLOAT32, 5),
              *ftiny = scalar_of(KILN_FLOAT32, 1e-30),
              *fnan = scalar_of(KILN_FLOAT32, NAN);
  CHECK_ERROR(RANGE(i0, i5, i0, io), KILN_ERR_INVALID_ARGUMENT,
              "input 2 (delta) is 0");
  CHECK_ERROR(RANGE(i0, i5, im1, io), KILN_ERR_INVALID_ARGUMENT,
              "delta -1 points away from limit 5");
  CHECK_ERROR(RANGE(i0, f5, i1, io), KILN_ERR_INVALID_MODEL,
              "input 1 (limit) has type float32 but input 0 (start) has type "
              "int32");
  CHECK_ERROR(RANGE(f0, f5, ftiny, fo), KILN_ERR_INVALID_ARGUMENT,
              "more than 2147483647 elements");
  CHECK_ERROR(RANGE(f0, f5, fnan, fo), KILN_ERR_INVALID_ARGUMENT,
              "give no range");
  CHECK_ERROR(RANGE(i0, i5, i1, fo), KILN_ERR_INVALID_MODEL,
              "output 0 has type float32; expected int32");
  CHECK_ERROR(RANGE(dims, i5, i1, io), KILN_ERR_INVALID_MODEL,
              "input 0 (start) must be a scalar");
  CHECK_ERROR(RANGE(half, half, half, half), KILN_ERR_UNSUPPORTED,
              "input 0 (start) has type float16");
  saved = i5->data;
  i5->data = NULL;
  CHECK_OK(RANGE(i0, i5, i1, io)); /* counted at invoke */
  CHECK(io->rank == 1 && io->dims[0] == KILN_DIM_AT_INVOKE);
  i5->data = saved;
#undef RANGE
  kiln_tensor *all[] = {dims, dims9, dims2d, fdims, value, vec, half,  fo,  io,
                        i0,   i5,    im1,    i1,    f0,    f5,  ftiny, fnan};
  kiln_test_tensors_free(all, (int)(sizeof all / sizeof all[0]));
}

int main(void) {
  kiln_test_seed(9004);
  test_fill();
  test_range();
  test_errors();
  return kiln_test_finish("test_ref_generate");
}
