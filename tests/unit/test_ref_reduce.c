/* test_ref_reduce.c - reference softmax, L2 norm, reductions and ARG_MAX
 * against per-element double-precision bookkeeping. */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/ops.h"
#include "core/status.h"
#include "harness.h"

kiln_status *kiln_shape_l2_normalization(const kiln_op_ctx *ctx);

static bool has_dims(const kiln_tensor *t, int rank, const int64_t *dims) {
  if (t->rank != rank) return false;
  for (int i = 0; i < rank; i++)
    if (t->dims[i] != dims[i]) return false;
  return true;
}

static int random_shape(int rank, int lo, int hi, int64_t *dims) {
  for (int i = 0; i < rank; i++) dims[i] = kiln_test_int(lo, hi);
  return rank;
}

/* Multi-index of flat element f of a shape. */
static void unflatten(int64_t f, int rank, const int64_t *dims, int64_t *idx) {
  for (int d = rank - 1; d >= 0; d--) {
    idx[d] = dims[d] ? f % dims[d] : 0;
    f = dims[d] ? f / dims[d] : 0;
  }
}

static kiln_tensor *index_tensor(kiln_dtype dtype, int rank, int64_t n,
                                 const int64_t *values) {
  int64_t dims[1] = {n};
  kiln_tensor *t = kiln_test_tensor(dtype, rank, dims);
  for (int64_t i = 0; i < n; i++) {
    if (dtype == KILN_INT32)
      ((int32_t *)t->data)[i] = (int32_t)values[i];
    else
      ((int64_t *)t->data)[i] = values[i];
  }
  return t;
}

/* ---------------------------------------------------------- softmax family */

typedef enum row_op { ROW_SOFTMAX, ROW_LOG_SOFTMAX, ROW_L2 } row_op;

/* Expected rows in double: softmax as 1 / sum_j exp(beta (x_j - x_i)),
 * which needs no max shift in double for the ranges used here. */
static void expected_row(row_op op, const float *x, int64_t n, double beta,
                         kiln_activation act, float *out) {
  for (int64_t i = 0; i < n; i++) {
    double s = 0;
    for (int64_t j = 0; j < n; j++) {
      if (op == ROW_L2)
        s += (double)x[j] * x[j];
      else
        s += exp((op == ROW_SOFTMAX ? beta : 1.0) * ((double)x[j] - x[i]));
    }
    double v = op == ROW_SOFTMAX       ? 1.0 / s
               : op == ROW_LOG_SOFTMAX ? -log(s)
                                       : x[i] / fmax(sqrt(s), 1e-6);
    if (act == KILN_ACT_RELU && v < 0) v = 0;
    out[i] = (float)v;
  }
}

static void check_rows(row_op op, kiln_op_type type, const void *attrs,
                       double beta, kiln_activation act, kiln_tensor *in) {
  kiln_tensor *out = kiln_test_tensor(KILN_FLOAT32, 0, NULL);
  CHECK_OK(kiln_test_run_op(type, attrs, &in, 1, &out, 1));
  CHECK(has_dims(out, in->rank, in->dims));
  int64_t n = in->dims[in->rank - 1], total = kiln_tensor_numel(in);
  float *expected = malloc((size_t)total * sizeof(float) + 1);
  for (int64_t r = 0; r < total; r += n)
    expected_row(op, (float *)in->data + r, n, beta, act, expected + r);
  kiln_test_close(out->data, expected, total, 1e-6f, 1e-5f,
                  kiln_op_table[type].name);
  /* rows of a softmax sum to 1; unit norm for L2 (no tiny rows here) */
  const float *y = out->data;
  int bad = 0;
  for (int64_t r = 0; r < total && act == KILN_ACT_NONE; r += n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++)
      s += op == ROW_L2        ? (double)y[r + i] * y[r + i]
           : op == ROW_SOFTMAX ? y[r + i]
                               : exp(y[r + i]);
    bad += fabs(s - 1) > 1e-5;
  }
  CHECK(bad == 0);
  free(expected);
  kiln_test_tensor_free(out);
}

static void test_softmax_family(void) {
  const float betas[] = {1, 0.5f, 2, 0, -1, 0.1f};
  for (int rep = 0; rep < 30; rep++) {
    int64_t dims[4];
    int rank = random_shape(kiln_test_int(1, 4), 1, 6, dims);
    kiln_tensor *in = kiln_test_tensor_f32(rank, dims, NULL);
    kiln_test_fill(in->data, kiln_tensor_numel(in), -10, 10);
    kiln_softmax_attrs sm = {betas[rep % 6]};
    check_rows(ROW_SOFTMAX, KILN_OP_SOFTMAX, &sm, sm.beta, KILN_ACT_NONE, in);
    kiln_no_attrs none = {0};
    check_rows(ROW_LOG_SOFTMAX, KILN_OP_LOG_SOFTMAX, &none, 1, KILN_ACT_NONE,
               in);
    kiln_activation_attrs l2 = {KILN_ACT_NONE}, relu = {KILN_ACT_RELU};
    check_rows(ROW_L2, KILN_OP_L2_NORMALIZATION, &l2, 0, KILN_ACT_NONE, in);
    check_rows(ROW_L2, KILN_OP_L2_NORMALIZATION, &relu, 0, KILN_ACT_RELU, in);
    kiln_test_tensor_free(in);
  }
}

/* Large values, -inf, and rows too small to normalize. */
static void test_softmax_edges(void) {
  int64_t dims[2] = {3, 3};
  const float x[9] = {1000,      1001,  1002, -INFINITY, 0,
                      -INFINITY, -1000, 0,    1000};
  kiln_tensor *in = kiln_test_tensor_f32(2, dims, x);
  kiln_tensor *out = kiln_test_tensor(KILN_FLOAT32, 0, NULL);
  kiln_softmax_attrs sm = {1};
  CHECK_OK(kiln_test_run_op(KILN_OP_SOFTMAX, &sm, &in, 1, &out, 1));
  const double e1 = exp(-1.0), e2 = exp(-2.0), z = 1 + e1 + e2;
  const float want[9] = {
      (float)(e2 / z), (float)(e1 / z), (float)(1 / z), 0, 1, 0, 0, 0, 1};
  kiln_test_close(out->data, want, 9, 1e-7f, 1e-6f, "SOFTMAX large/-inf");
  kiln_no_attrs none = {0};
  CHECK_OK(kiln_test_run_op(KILN_OP_LOG_SOFTMAX, &none, &in, 1, &out, 1));
  const float lwant[3] = {(float)(-2 - log(z)), (float)(-1 - log(z)),
                          (float)(-log(z))};
  kiln_test_close(out->data, lwant, 3, 1e-6f, 1e-6f, "LOG_SOFTMAX large");
  CHECK(((float *)out->data)[4] == 0 && ((float *)out->data)[3] == -INFINITY);
  kiln_test_tensor_free(in);

  /* beta < 0: the stable shift is the row minimum, not the maximum */
  int64_t d13[2] = {1, 3};
  in = kiln_test_tensor_f32(2, d13, (float[3]){-1000, 0, 1000});
  kiln_softmax_attrs neg = {-1};
  CHECK_OK(kiln_test_run_op(KILN_OP_SOFTMAX, &neg, &in, 1, &out, 1));
  kiln_test_close(out->data, (float[3]){1, 0, 0}, 3, 1e-7f, 0, "beta -1");
  kiln_test_tensor_free(in);

  int64_t d2[2] = {3, 2};
  const float tiny[6] = {0, 0, 1e-8f, 0, 3, -4};
  in = kiln_test_tensor_f32(2, d2, tiny);
  kiln_activation_attrs l2 = {KILN_ACT_NONE};
  CHECK_OK(kiln_test_run_op(KILN_OP_L2_NORMALIZATION, &l2, &in, 1, &out, 1));
  const float l2want[6] = {0, 0, 0.01f, 0, 0.6f, -0.8f}; /* norm >= 1e-6 */
  kiln_test_close(out->data, l2want, 6, 1e-9f, 1e-6f, "L2 tiny rows");
  kiln_test_tensor_free(in);
  kiln_test_tensor_free(out);
}

/* ----------------------------------------------------------- reductions */

typedef enum kind { K_SUM, K_MEAN, K_MAX } kind;
static const kiln_op_type kReduceOps[3] = {KILN_OP_SUM, KILN_OP_MEAN,
                                           KILN_OP_REDUCE_MAX};

/* The axes tensor for mask: in a random order, randomly negative, sometimes
 * repeated, sometimes a scalar. */
static kiln_tensor *axes_for(unsigned mask, int rank) {
  int64_t list[2 * KILN_MAX_RANK];
  int n = 0;
  for (int d = rank - 1; d >= 0; d--)
    if (mask >> d & 1) {
      list[n++] = kiln_test_int(0, 1) ? d : d - rank;
      if (kiln_test_int(0, 3) == 0) list[n++] = d;
    }
  kiln_dtype dtype = kiln_test_int(0, 1) ? KILN_INT32 : KILN_INT64;
  return index_tensor(dtype, n == 1 && kiln_test_int(0, 1) ? 0 : 1, n, list);
}

/* Expected reduction: every input element is added to the output slot
 * whose multi-index has reduced coordinates zeroed. */
static void expected_reduce(kind k, int rank, const int64_t *dims,
                            const float *x, unsigned mask, double *out,
                            int64_t *count, int64_t out_n) {
  for (int64_t o = 0; o < out_n; o++)
    out[o] = k == K_MAX ? -INFINITY : 0, count[o] = 0;
  int64_t total = 1;
  for (int d = 0; d < rank; d++) total *= dims[d];
  for (int64_t f = 0; f < total; f++) {
    int64_t idx[KILN_MAX_RANK], o = 0;
    unflatten(f, rank, dims, idx);
    for (int d = 0; d < rank; d++)
      o = o * ((mask >> d & 1) ? 1 : dims[d]) + ((mask >> d & 1) ? 0 : idx[d]);
    out[o] = k == K_MAX ? fmax(out[o], x[f]) : out[o] + x[f];
    count[o]++;
  }
  for (int64_t o = 0; o < out_n && k == K_MEAN; o++)
    out[o] = count[o] ? out[o] / (double)count[o] : NAN;
}

static void check_reduce(kind k, int rank, const int64_t *dims, unsigned mask,
                         bool keep) {
  kiln_tensor *in = kiln_test_tensor_f32(rank, dims, NULL);
  kiln_test_fill(in->data, kiln_tensor_numel(in), -5, 5);
  kiln_tensor *axes = axes_for(mask, rank);
  kiln_tensor *out = kiln_test_tensor(KILN_FLOAT32, 0, NULL);
  kiln_tensor *inputs[2] = {in, axes};
  kiln_reduce_attrs attrs = {keep};
  CHECK_OK(kiln_test_run_op(kReduceOps[k], &attrs, inputs, 2, &out, 1));
  int64_t want[KILN_MAX_RANK], out_n = 1;
  int want_rank = 0;
  for (int d = 0; d < rank; d++) {
    if (!(mask >> d & 1))
      want[want_rank++] = dims[d], out_n *= dims[d];
    else if (keep)
      want[want_rank++] = 1;
  }
  CHECK(has_dims(out, want_rank, want));
  double *acc = malloc((size_t)out_n * sizeof(double) + 1);
  int64_t *count = malloc((size_t)out_n * sizeof(int64_t) + 1);
  float *expected = malloc((size_t)out_n * sizeof(float) + 1);
  expected_reduce(k, rank, dims, in->data, mask, acc, count, out_n);
  for (int64_t o = 0; o < out_n; o++) expected[o] = (float)acc[o];
  if (has_dims(out, want_rank, want))
    kiln_test_close(out->data, expected, out_n, 1e-5f, 1e-5f,
                    kiln_op_table[kReduceOps[k]].name);
  free(acc);
  free(count);
  free(expected);
  kiln_test_tensor_free(in);
  kiln_test_tensor_free(axes);
  kiln_test_tensor_free(out);
}

static void test_reduce_every_subset(void) {
  for (int rank = 1; rank <= 4; rank++)
    for (int rep = 0; rep < 3; rep++) {
      int64_t dims[4];
      random_shape(rank, 1, 4, dims);
      for (unsigned mask = 0; mask < (1u << rank); mask++)
        for (int k = 0; k < 3; k++) {
          check_reduce((kind)k, rank, dims, mask, false);
          check_reduce((kind)k, rank, dims, mask, true);
        }
    }
}

/* Empty dimensions and a rank-0 input. */
static void test_reduce_degenerate(void) {
  int64_t dims[3] = {2, 0, 3};
  for (int k = 0; k < 3; k++) {
    check_reduce((kind)k, 3, dims, 2u, false); /* over the empty axis */
    check_reduce((kind)k, 3, dims, 1u, true);  /* to an empty output */
    check_reduce((kind)k, 0, dims, 0u, false);
  }
}

static void test_reduce_int(void) {
  const kiln_dtype types[2] = {KILN_INT32, KILN_INT64};
  int64_t dims[2] = {3, 4};
  const int64_t v[12] = {1, -2, 3, 4, -5, 6, 7, 8, 9, 10, -11, 12};
  for (int t = 0; t < 2; t++) {
    kiln_tensor *in = index_tensor(types[t], 1, 12, v), *out;
    kiln_set_shape(in, dims, 2);
    kiln_tensor *axes = index_tensor(KILN_INT32, 0, 1, (int64_t[]){-1});
    kiln_tensor *inputs[2] = {in, axes};
    kiln_reduce_attrs attrs = {false};
    const int64_t want[3][3] = {{6, 16, 20}, {1, 4, 5}, {4, 8, 12}};
    for (int k = 0; k < 3; k++) {
      out = kiln_test_tensor(types[t], 0, NULL);
      CHECK_OK(kiln_test_run_op(kReduceOps[k], &attrs, inputs, 2, &out, 1));
      CHECK(out->rank == 1 && out->dims[0] == 3);
      for (int i = 0; i < 3; i++) CHECK(kiln_tensor_int(out, i) == want[k][i]);
      kiln_test_tensor_free(out);
    }
    kiln_test_tensor_free(in);
    kiln_test_tensor_free(axes);
  }
}

/* REDUCE_MAX propagates NaN wherever it sits; the others follow IEEE. */
static void test_reduce_nan(void) {
  int64_t dims[2] = {3, 3};
  const float x[9] = {NAN, 1, 2, 1, NAN, 2, 1, 2, INFINITY};
  kiln_tensor *in = kiln_test_tensor_f32(2, dims, x);
  kiln_tensor *axes = index_tensor(KILN_INT64, 1, 1, (int64_t[]){1});
  kiln_tensor *out = kiln_test_tensor(KILN_FLOAT32, 0, NULL);
  kiln_tensor *inputs[2] = {in, axes};
  kiln_reduce_attrs attrs = {true};
  CHECK_OK(kiln_test_run_op(KILN_OP_REDUCE_MAX, &attrs, inputs, 2, &out, 1));
  kiln_test_close(out->data, (float[3]){NAN, NAN, INFINITY}, 3, 0, 0,
                  "REDUCE_MAX NaN");
  CHECK_OK(kiln_test_run_op(KILN_OP_SUM, &attrs, inputs, 2, &out, 1));
  kiln_test_close(out->data, (float[3]){NAN, NAN, INFINITY}, 3, 0, 0,
                  "SUM NaN");
  kiln_test_tensor_free(in);
  kiln_test_tensor_free(axes);
  kiln_test_tensor_free(out);
}

/* -------------------------------------------------------------- ARG_MAX */

static void check_arg_max(int rank, const int64_t *dims, int axis,
                          kiln_dtype out_dtype, bool negative) {
  kiln_tensor *in = kiln_test_tensor_f32(rank, dims, NULL);
  float *x = in->data;
  int64_t total = kiln_tensor_numel(in);
  for (int64_t i = 0; i < total; i++) x[i] = (float)kiln_test_int(0, 3);
  int64_t a = negative ? axis - rank : axis;
  kiln_tensor *ax = index_tensor(kiln_test_int(0, 1) ? KILN_INT32 : KILN_INT64,
                                 kiln_test_int(0, 1), 1, &a);
  kiln_tensor *out = kiln_test_tensor(out_dtype, 0, NULL);
  kiln_tensor *inputs[2] = {in, ax};
  kiln_no_attrs none = {0};
  CHECK_OK(kiln_test_run_op(KILN_OP_ARG_MAX, &none, inputs, 2, &out, 1));
  int64_t want[KILN_MAX_RANK];
  int want_rank = 0;
  for (int d = 0; d < rank; d++)
    if (d != axis) want[want_rank++] = dims[d];
  CHECK(has_dims(out, want_rank, want) && out->dtype == out_dtype);
  /* walk every output position and scan along the axis by multi-index */
  int bad = 0;
  int64_t out_n = kiln_tensor_numel(out);
  for (int64_t o = 0; o < out_n && has_dims(out, want_rank, want); o++) {
    int64_t oidx[KILN_MAX_RANK], idx[KILN_MAX_RANK];
    unflatten(o, want_rank, want, oidx);
    for (int d = 0, j = 0; d < rank; d++) idx[d] = d == axis ? 0 : oidx[j++];
    int64_t best = -1;
    float best_v = 0;
    for (int64_t k = 0; k < dims[axis]; k++) {
      idx[axis] = k;
      int64_t f = 0;
      for (int d = 0; d < rank; d++) f = f * dims[d] + idx[d];
      if (best < 0 || x[f] > best_v) best = k, best_v = x[f];
    }
    bad += kiln_tensor_int(out, o) != best;
  }
  CHECK(bad == 0);
  kiln_test_tensor_free(in);
  kiln_test_tensor_free(ax);
  kiln_test_tensor_free(out);
}

static void test_arg_max(void) {
  for (int rank = 1; rank <= 4; rank++)
    for (int rep = 0; rep < 4; rep++) {
      int64_t dims[4];
      random_shape(rank, 1, 5, dims);
      for (int axis = 0; axis < rank; axis++) {
        check_arg_max(rank, dims, axis, KILN_INT32, rep & 1);
        check_arg_max(rank, dims, axis, KILN_INT64, !(rep & 1));
      }
    }
  /* NaN never wins (as in TFLite), integer inputs */
  int64_t d4[1] = {4};
  kiln_tensor *in = kiln_test_tensor_f32(1, d4, (float[4]){1, NAN, 2, 2});
  kiln_tensor *ax = index_tensor(KILN_INT32, 0, 1, (int64_t[]){0});
  kiln_tensor *out = kiln_test_tensor(KILN_INT64, 0, NULL);
  kiln_tensor *inputs[2] = {in, ax};
  kiln_no_attrs none = {0};
  CHECK_OK(kiln_test_run_op(KILN_OP_ARG_MAX, &none, inputs, 2, &out, 1));
  CHECK(out->rank == 0 && kiln_tensor_int(out, 0) == 2);
  kiln_test_tensor_free(in);
  inputs[0] = in = index_tensor(
      KILN_INT64, 1, 4, (int64_t[]){INT64_MIN, INT64_MAX - 1, INT64_MAX, 3});
  CHECK_OK(kiln_test_run_op(KILN_OP_ARG_MAX, &none, inputs, 2, &out, 1));
  CHECK(kiln_tensor_int(out, 0) == 2);
  kiln_test_tensor_free(in);
  kiln_test_tensor_free(ax);
  kiln_test_tensor_free(out);
}

/* --------------------------------------------------------------- errors */

static kiln_status *run2(kiln_op_type op, const void *attrs, kiln_tensor *x,
                         kiln_tensor *y, kiln_dtype out_dtype) {
  kiln_tensor *out = kiln_test_tensor(out_dtype, 0, NULL);
  kiln_tensor *inputs[2] = {x, y};
  kiln_status *st = kiln_test_run_op(op, attrs, inputs, y ? 2 : 1, &out, 1);
  kiln_test_tensor_free(out);
  return st;
}

static void test_errors(void) {
  int64_t d3[3] = {2, 3, 4};
  kiln_tensor *x = kiln_test_tensor(KILN_FLOAT32, 3, d3);
  kiln_tensor *xi = kiln_test_tensor(KILN_INT32, 3, d3);
  kiln_tensor *xb = kiln_test_tensor(KILN_BOOL, 3, d3);
  kiln_tensor *scalar = kiln_test_tensor(KILN_FLOAT32, 0, NULL);
  kiln_tensor *ax3 = index_tensor(KILN_INT32, 1, 1, (int64_t[]){3});
  kiln_tensor *axm4 = index_tensor(KILN_INT64, 0, 1, (int64_t[]){-4});
  kiln_tensor *ax01 = index_tensor(KILN_INT32, 1, 2, (int64_t[]){0, 1});
  kiln_tensor *axf = kiln_test_tensor(KILN_FLOAT32, 1, (int64_t[]){1});
  kiln_tensor *ax2d = kiln_test_tensor(KILN_INT32, 2, (int64_t[]){1, 1});
  kiln_tensor *unknown = index_tensor(KILN_INT32, 1, 1, (int64_t[]){0});
  free(unknown->data);
  unknown->data = NULL;
  kiln_reduce_attrs keep = {true};
  kiln_no_attrs none = {0};
  kiln_softmax_attrs sm = {1};
  kiln_activation_attrs bogus = {(kiln_activation)7};

  CHECK_ERROR(run2(KILN_OP_SUM, &keep, x, unknown, KILN_FLOAT32),
              KILN_ERR_UNSUPPORTED, "input 1 (axes) must be known");
  CHECK_ERROR(run2(KILN_OP_MEAN, &keep, x, ax3, KILN_FLOAT32),
              KILN_ERR_INVALID_MODEL, "axis 3 is out of range for rank 3");
  CHECK_ERROR(run2(KILN_OP_MEAN, &keep, x, axm4, KILN_FLOAT32),
              KILN_ERR_INVALID_MODEL, "[2,3,4]: axis -4 is out of range");
  CHECK_ERROR(run2(KILN_OP_SUM, &keep, x, axf, KILN_FLOAT32),
              KILN_ERR_INVALID_MODEL, "input 1 (axes) has type float32");
  CHECK_ERROR(run2(KILN_OP_SUM, &keep, x, ax2d, KILN_FLOAT32),
              KILN_ERR_INVALID_MODEL, "scalar or 1-D, has shape [1,1]");
  CHECK_ERROR(run2(KILN_OP_REDUCE_MAX, &keep, xb, ax01, KILN_BOOL),
              KILN_ERR_UNSUPPORTED, "input 0 (x) has type bool");
  CHECK_ERROR(run2(KILN_OP_SUM, &keep, x, ax01, KILN_INT32),
              KILN_ERR_INVALID_MODEL, "output 0 has type int32");
  CHECK_ERROR(run2(KILN_OP_SUM, &keep, x, NULL, KILN_FLOAT32),
              KILN_ERR_INVALID_MODEL, "expects 2 inputs");

  CHECK_ERROR(run2(KILN_OP_SOFTMAX, &sm, scalar, NULL, KILN_FLOAT32),
              KILN_ERR_INVALID_MODEL, "rank >= 1");
  CHECK_ERROR(run2(KILN_OP_LOG_SOFTMAX, &none, xi, NULL, KILN_INT32),
              KILN_ERR_UNSUPPORTED, "input 0 (x) has type int32");
  CHECK_ERROR(run2(KILN_OP_SOFTMAX, &sm, x, NULL, KILN_INT32),
              KILN_ERR_UNSUPPORTED, "output 0 has type int32");
  CHECK_ERROR(run2(KILN_OP_L2_NORMALIZATION, &bogus, x, NULL, KILN_FLOAT32),
              KILN_ERR_INVALID_MODEL, "fused activation 7");
  kiln_tensor out = {KILN_FLOAT32, 0, {0}, NULL, NULL}, *outs[1] = {&out};
  kiln_op_ctx ctx = {&bogus, &x, 1, outs, 1, NULL, NULL, NULL};
  CHECK_ERROR(kiln_shape_l2_normalization(&ctx), KILN_ERR_INVALID_MODEL,
              "fused activation 7");

  CHECK_ERROR(run2(KILN_OP_ARG_MAX, &none, x, ax01, KILN_INT32),
              KILN_ERR_INVALID_MODEL, "must hold one value, has shape [2]");
  CHECK_ERROR(run2(KILN_OP_ARG_MAX, &none, x, ax3, KILN_INT32),
              KILN_ERR_INVALID_MODEL, "axis 3 is out of range for rank 3");
  CHECK_ERROR(run2(KILN_OP_ARG_MAX, &none, x, unknown, KILN_INT32),
              KILN_ERR_UNSUPPORTED, "input 1 (axis) must be known");
  CHECK_ERROR(run2(KILN_OP_ARG_MAX, &none, x, axm4, KILN_FLOAT32),
              KILN_ERR_UNSUPPORTED, "output 0 has type float32");
  CHECK_ERROR(run2(KILN_OP_ARG_MAX, &none, xb, axm4, KILN_INT32),
              KILN_ERR_UNSUPPORTED, "input 0 (x) has type bool");
  CHECK_ERROR(run2(KILN_OP_ARG_MAX, &none, x, axf, KILN_INT32),
              KILN_ERR_INVALID_MODEL, "input 1 (axis) has type float32");
  CHECK_ERROR(run2(KILN_OP_ARG_MAX, &none, scalar, axm4, KILN_INT32),
              KILN_ERR_INVALID_MODEL, "out of range for rank 0");
  kiln_tensor *empty = kiln_test_tensor(KILN_FLOAT32, 2, (int64_t[]){3, 0});
  kiln_tensor *ax1 = index_tensor(KILN_INT32, 0, 1, (int64_t[]){1});
  CHECK_ERROR(run2(KILN_OP_ARG_MAX, &none, empty, ax1, KILN_INT32),
              KILN_ERR_INVALID_ARGUMENT, "shape [3,0] is empty along axis 1");

  kiln_tensor *all[] = {x,    xi,  xb,   scalar,  ax3,   axm4,
                        ax01, axf, ax2d, unknown, empty, ax1};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    kiln_test_tensor_free(all[i]);
}

int main(void) {
  kiln_test_seed(1234567);
  test_softmax_family();
  test_softmax_edges();
  test_reduce_every_subset();
  test_reduce_degenerate();
  test_reduce_int();
  test_reduce_nan();
  test_arg_max();
  test_errors();
  return kiln_test_finish("test_ref_reduce");
}
