/* test_ref_reduce_more.c - REDUCE_PROD, REDUCE_MIN, REDUCE_ANY, REDUCE_ALL,
 * ARG_MIN and CUMSUM against reductions written here element by element
 * (each output gathers the input elements whose kept coordinates match),
 * on random shapes with empty and size-1 dims, random axis lists (negative
 * and repeated entries, keep_dims either way) and every type; then bad
 * inputs. */
#include <float.h>
#include <math.h>
#include <stdio.h>

#include "ops_test_util.h"

static kiln_tensor *axes_tensor(kiln_dtype t, int count, const int64_t *v) {
  int64_t dims[1] = {count};
  kiln_tensor *a = kiln_test_tensor(t, 1, dims);
  for (int i = 0; i < count; i++) setv(a, i, (double)v[i]);
  return a;
}

/* Coordinates of flat index f in shape s. */
static void coords(const tshape *s, int64_t f, int64_t *idx) {
  for (int d = s->rank - 1; d >= 0; d--) {
    idx[d] = f % s->dims[d];
    f /= s->dims[d];
  }
}

typedef enum red { PROD, MIN, ANY, ALL } red;

static const kiln_op_type kRedOps[] = {KILN_OP_REDUCE_PROD, KILN_OP_REDUCE_MIN,
                                       KILN_OP_REDUCE_ANY, KILN_OP_REDUCE_ALL};

static int64_t int_max_of(kiln_dtype t) {
  switch (t) {
    case KILN_INT8:
      return 127;
    case KILN_UINT8:
      return 255;
    case KILN_INT16:
      return 32767;
    case KILN_INT32:
      return 2147483647;
    default:
      return INT64_MAX;
  }
}

static void test_reduce_case(red r, kiln_dtype t) {
  tshape s = random_tshape(4, 10);
  bool reduced[KILN_MAX_RANK] = {false};
  int64_t axes[6];
  int count = s.rank ? kiln_test_int(0, s.rank + 1) : 0;
  for (int i = 0; i < count; i++) {
    int a = kiln_test_int(0, s.rank - 1);
    reduced[a] = true;
    axes[i] = kiln_test_int(0, 1) ? a : a - s.rank; /* negative half the time */
  }
  kiln_reduce_attrs attrs = {kiln_test_int(0, 1) == 1};
  kiln_tensor *x = tensor_of(t, &s);
  kiln_tensor *ax =
      axes_tensor(kiln_test_int(0, 1) ? KILN_INT32 : KILN_INT64, count, axes);
  kiln_tensor *out = kiln_test_tensor(t, 0, NULL);
  if (r == PROD)
    fill_random(x, t == KILN_FLOAT32 ? -1.6 : (t == KILN_UINT8 ? 0 : -4), 4);
  else
    fill_random(x, t == KILN_UINT8 ? 0 : -120, 120);
  kiln_tensor *in[2] = {x, ax};
  CHECK_OK(run_poisoned(kRedOps[r], &attrs, in, 2, out));
  tshape so = {0, {0}};
  for (int d = 0; d < s.rank; d++)
    if (!reduced[d])
      so.dims[so.rank++] = s.dims[d];
    else if (attrs.keep_dims)
      so.dims[so.rank++] = 1;
  CHECK(tensor_has_tshape(out, &so));
  int64_t n_out = tshape_numel(&so), n_in = tshape_numel(&s);
  int bad = 0;
  for (int64_t o = 0; o < n_out && tensor_has_tshape(out, &so); o++) {
    int64_t oi[KILN_MAX_RANK];
    coords(&so, o, oi);
    double dacc = r == PROD ? 1.0 : (r == MIN ? INFINITY : 0.0);
    uint64_t iacc = r == PROD || r == ALL ? 1 : 0;
    int64_t imin = int_max_of(t);
    bool any_element = false;
    for (int64_t f = 0; f < n_in; f++) {
      int64_t xi[KILN_MAX_RANK];
      coords(&s, f, xi);
      bool match = true;
      for (int d = 0, k = 0; d < s.rank; d++) {
        if (reduced[d]) {
          k += attrs.keep_dims;
          continue;
        }
        match = match && xi[d] == oi[k++];
      }
      if (!match) continue;
      any_element = true;
      double v = getd(x, f);
      int64_t iv = geti(x, f);
      dacc = r == PROD ? dacc * v : fmin(dacc, v);
      iacc = r == PROD ? iacc * (uint64_t)iv
                       : (r == ANY ? (iacc || iv) : (iacc && iv));
      if (iv < imin) imin = iv;
    }
    double got = getd(out, o);
    if (t == KILN_FLOAT32) {
      double e = r == MIN && !any_element ? FLT_MAX : dacc;
      bad += !(fabs(got - e) <= 1e-5 * fabs(e) + 1e-30);
    } else {
      int64_t e = r == MIN ? imin : wrap_to(t, (int64_t)iacc);
      bad += geti(out, o) != e;
    }
  }
  if (bad)
    fprintf(stderr, "%s %s: %d of %lld wrong\n", kiln_op_table[kRedOps[r]].name,
            kiln_dtype_name(t), bad, (long long)n_out);
  CHECK(bad == 0);
  kiln_tensor *all[3] = {x, ax, out};
  kiln_test_tensors_free(all, 3);
}

static void test_reductions(void) {
  const kiln_dtype types[] = {KILN_FLOAT32, KILN_INT32, KILN_INT64,
                              KILN_INT8,    KILN_UINT8, KILN_INT16};
  for (int rep = 0; rep < 25; rep++) {
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
      test_reduce_case(PROD, types[t]);
      test_reduce_case(MIN, types[t]);
    }
    test_reduce_case(ANY, KILN_BOOL);
    test_reduce_case(ALL, KILN_BOOL);
  }
}

/* Keras 3's dynamic-batch reshape: the product of a SHAPE slice, in int32. */
static void test_prod_of_shape(void) {
  int64_t d3[1] = {3};
  kiln_tensor *x = kiln_test_tensor_i32(1, d3, (int32_t[]){7, 4, 6});
  kiln_tensor *ax = axes_tensor(KILN_INT32, 1, (int64_t[]){0});
  kiln_tensor *out = kiln_test_tensor(KILN_INT32, 0, NULL);
  kiln_reduce_attrs attrs = {false};
  CHECK_OK(run_poisoned(KILN_OP_REDUCE_PROD, &attrs, (kiln_tensor *[]){x, ax},
                        2, out));
  CHECK(out->rank == 0 && geti(out, 0) == 7 * 4 * 6);
  kiln_tensor *all[3] = {x, ax, out};
  kiln_test_tensors_free(all, 3);
}

/* --------------------------------------------------------------- ARG_MIN */

static void test_arg_min(void) {
  const kiln_dtype types[] = {KILN_FLOAT32, KILN_INT32, KILN_INT64, KILN_INT8,
                              KILN_UINT8,   KILN_INT16, KILN_BOOL};
  for (int rep = 0; rep < 20; rep++)
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
      kiln_dtype t = types[ti];
      tshape s = random_tshape(4, 0);
      if (s.rank == 0) s.rank = 1, s.dims[0] = 5;
      int axis = kiln_test_int(0, s.rank - 1);
      kiln_dtype out_t = rep % 2 ? KILN_INT32 : KILN_INT64;
      kiln_tensor *x = tensor_of(t, &s);
      fill_random(x, t == KILN_UINT8 ? 0 : -3, 3); /* many ties */
      int64_t axis_value = kiln_test_int(0, 1) ? axis : axis - s.rank;
      kiln_tensor *ax = axes_tensor(KILN_INT32, 1, &axis_value);
      kiln_tensor *out = kiln_test_tensor(out_t, 0, NULL);
      CHECK_OK(run_poisoned(KILN_OP_ARG_MIN, NULL, (kiln_tensor *[]){x, ax}, 2,
                            out));
      tshape so = {0, {0}};
      for (int d = 0; d < s.rank; d++)
        if (d != axis) so.dims[so.rank++] = s.dims[d];
      int bad = !tensor_has_tshape(out, &so);
      int64_t inner = 1;
      for (int d = axis + 1; d < s.rank; d++) inner *= s.dims[d];
      for (int64_t o = 0; !bad && o < tshape_numel(&so); o++) {
        int64_t base = (o / inner) * s.dims[axis] * inner + o % inner, best = 0;
        for (int64_t k = 0; k < s.dims[axis]; k++)
          if (getd(x, base + k * inner) < getd(x, base + best * inner))
            best = k;
        bad += geti(out, o) != best;
      }
      CHECK(bad == 0);
      kiln_tensor *all[3] = {x, ax, out};
      kiln_test_tensors_free(all, 3);
    }
}

/* ---------------------------------------------------------------- CUMSUM */

static void test_cumsum(void) {
  const kiln_dtype types[] = {KILN_FLOAT32, KILN_INT32, KILN_INT64};
  for (int rep = 0; rep < 60; rep++) {
    kiln_dtype t = types[rep % 3];
    tshape s = random_tshape(4, 10);
    if (s.rank == 0) s.rank = 1, s.dims[0] = 4;
    int axis = kiln_test_int(0, s.rank - 1);
    kiln_cumsum_attrs attrs = {kiln_test_int(0, 1) == 1,
                               kiln_test_int(0, 1) == 1};
    kiln_tensor *x = tensor_of(t, &s);
    if (t == KILN_INT32)
      for (int64_t i = 0; i < tshape_numel(&s); i++)
        setv(x, i, (double)(int32_t)kiln_test_rand());
    else
      fill_random(x, -100, 100);
    int64_t axis_value = kiln_test_int(0, 1) ? axis : axis - s.rank;
    kiln_tensor *ax = axes_tensor(KILN_INT64, 1, &axis_value);
    ax->rank = 0; /* a scalar axis */
    kiln_tensor *out = kiln_test_tensor(t, 0, NULL);
    CHECK_OK(
        run_poisoned(KILN_OP_CUMSUM, &attrs, (kiln_tensor *[]){x, ax}, 2, out));
    int bad = !tensor_has_tshape(out, &s);
    for (int64_t f = 0; !bad && f < tshape_numel(&s); f++) {
      int64_t idx[KILN_MAX_RANK];
      coords(&s, f, idx);
      int64_t stride = 1;
      for (int d = axis + 1; d < s.rank; d++) stride *= s.dims[d];
      double sum = 0;
      int64_t isum = 0;
      for (int64_t k = 0; k < s.dims[axis]; k++) {
        bool take = attrs.reverse ? k > idx[axis] : k < idx[axis];
        if (k == idx[axis]) take = !attrs.exclusive;
        if (!take) continue;
        int64_t at = f + (k - idx[axis]) * stride;
        sum += getd(x, at);
        isum += geti(x, at);
      }
      if (t == KILN_FLOAT32)
        bad += !(fabs(getd(out, f) - sum) <= 1e-4 * (1 + fabs(sum)));
      else
        bad += geti(out, f) != wrap_to(t, isum);
    }
    CHECK(bad == 0);
    kiln_tensor *all[3] = {x, ax, out};
    kiln_test_tensors_free(all, 3);
  }
}

/* --------------------------------------------------------------- errors */

static void test_errors(void) {
  int64_t d23[2] = {2, 3}, d0[1] = {0}, d2[1] = {2};
  kiln_tensor *f23 = kiln_test_tensor(KILN_FLOAT32, 2, d23);
  kiln_tensor *b23 = kiln_test_tensor(KILN_BOOL, 2, d23);
  kiln_tensor *h23 = kiln_test_tensor(KILN_FLOAT16, 2, d23);
  kiln_tensor *f0 = kiln_test_tensor(KILN_FLOAT32, 1, d0);
  kiln_tensor *scalar = kiln_test_tensor(KILN_FLOAT32, 0, NULL);
  kiln_tensor *ax1 = axes_tensor(KILN_INT32, 1, (int64_t[]){1});
  kiln_tensor *ax2 = axes_tensor(KILN_INT32, 1, (int64_t[]){2});
  kiln_tensor *axm3 = axes_tensor(KILN_INT64, 1, (int64_t[]){-3});
  kiln_tensor *ax01 = axes_tensor(KILN_INT32, 2, (int64_t[]){0, 1});
  kiln_tensor *axf = kiln_test_tensor(KILN_FLOAT32, 1, d2);
  kiln_tensor *ax2d = kiln_test_tensor(KILN_INT32, 2, d23);
  kiln_tensor *unknown = axes_tensor(KILN_INT32, 1, (int64_t[]){0});
  free(unknown->data);
  unknown->data = NULL;
  kiln_tensor *fo = kiln_test_tensor(KILN_FLOAT32, 0, NULL);
  kiln_tensor *io = kiln_test_tensor(KILN_INT32, 0, NULL);
  kiln_tensor *bo = kiln_test_tensor(KILN_BOOL, 0, NULL);
  kiln_reduce_attrs keep = {true};
  kiln_cumsum_attrs cs = {false, false};
#define RUN(op, attrs, x, y, out) \
  shape_only(op, attrs, (kiln_tensor *[]){x, y}, 2, out)

  CHECK_ERROR(RUN(KILN_OP_REDUCE_PROD, &keep, f23, ax2, fo),
              KILN_ERR_INVALID_MODEL,
              "input 1 (axes) element 0 for input 0 (x) of shape [2,3]: axis "
              "2 is out of range for rank 2");
  CHECK_ERROR(RUN(KILN_OP_REDUCE_MIN, &keep, f23, axm3, fo),
              KILN_ERR_INVALID_MODEL, "axis -3 is out of range");
  CHECK_ERROR(RUN(KILN_OP_REDUCE_PROD, &keep, f23, axf, fo),
              KILN_ERR_UNSUPPORTED, "input 1 (axes) has type float32");
  CHECK_ERROR(RUN(KILN_OP_REDUCE_PROD, &keep, f23, ax2d, fo),
              KILN_ERR_INVALID_MODEL, "must be a scalar or 1-D");
  CHECK_ERROR(RUN(KILN_OP_REDUCE_PROD, &keep, f23, unknown, fo),
              KILN_ERR_UNSUPPORTED, "input 1 (axes) must be known");
  CHECK_ERROR(RUN(KILN_OP_REDUCE_PROD, &keep, b23, ax1, bo),
              KILN_ERR_UNSUPPORTED, "input 0 (x) has type bool");
  CHECK_ERROR(RUN(KILN_OP_REDUCE_MIN, &keep, h23, ax1, h23),
              KILN_ERR_UNSUPPORTED, "input 0 (x) has type float16");
  CHECK_ERROR(RUN(KILN_OP_REDUCE_ANY, &keep, f23, ax1, fo),
              KILN_ERR_UNSUPPORTED, "input 0 (x) has type float32");
  CHECK_ERROR(RUN(KILN_OP_REDUCE_ALL, &keep, b23, ax1, fo),
              KILN_ERR_INVALID_MODEL,
              "output 0 has type float32; expected bool");
  CHECK_ERROR(RUN(KILN_OP_REDUCE_PROD, &keep, f23, NULL, fo),
              KILN_ERR_INVALID_MODEL, "input 1 (axes) is missing");
  CHECK_ERROR(RUN(KILN_OP_ARG_MIN, NULL, f23, ax01, io), KILN_ERR_INVALID_MODEL,
              "must hold one value, has shape [2]");
  CHECK_ERROR(RUN(KILN_OP_ARG_MIN, NULL, f23, ax2, io), KILN_ERR_INVALID_MODEL,
              "axis 2 is out of range for rank 2");
  CHECK_ERROR(RUN(KILN_OP_ARG_MIN, NULL, f23, ax1, fo), KILN_ERR_UNSUPPORTED,
              "output 0 has type float32");
  CHECK_ERROR(RUN(KILN_OP_ARG_MIN, NULL, f0, unknown, io), KILN_ERR_UNSUPPORTED,
              "input 1 (axis) must be known");
  kiln_tensor *ax0 = axes_tensor(KILN_INT32, 1, (int64_t[]){0});
  CHECK_ERROR(RUN(KILN_OP_ARG_MIN, NULL, f0, ax0, io),
              KILN_ERR_INVALID_ARGUMENT, "is empty along axis 0");
  CHECK_ERROR(RUN(KILN_OP_CUMSUM, &cs, scalar, ax0, fo), KILN_ERR_INVALID_MODEL,
              "CUMSUM needs rank 1 or more");
  CHECK_ERROR(RUN(KILN_OP_CUMSUM, &cs, b23, ax0, bo), KILN_ERR_UNSUPPORTED,
              "input 0 (x) has type bool");
  CHECK_ERROR(RUN(KILN_OP_CUMSUM, &cs, f23, ax2, fo), KILN_ERR_INVALID_MODEL,
              "axis 2 is out of range");
  CHECK_ERROR(RUN(KILN_OP_CUMSUM, &cs, f23, ax0, io), KILN_ERR_INVALID_MODEL,
              "output 0 has type int32; expected float32");
#undef RUN
  kiln_tensor *all[] = {f23,  b23, h23,  f0,      scalar, ax1, ax2, axm3,
                        ax01, axf, ax2d, unknown, fo,     io,  bo,  ax0};
  kiln_test_tensors_free(all, (int)(sizeof all / sizeof all[0]));
}

int main(void) {
  kiln_test_seed(9003);
  test_reductions();
  test_prod_of_shape();
  test_arg_min();
  test_cumsum();
  test_errors();
  return kiln_test_finish("test_ref_reduce_more");
}
