/* test_ref_matmul.c - reference FULLY_CONNECTED and BATCH_MATMUL against
 * independent loops (batch matmul via explicitly broadcast and transposed
 * copies), hand-computed values, and malformed shapes. */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

#include "harness.h"

static kiln_tensor *f32(int rank, const int64_t *dims) {
  return kiln_test_tensor_f32(rank, dims, NULL);
}

static kiln_tensor *f32_2d(int64_t d0, int64_t d1) {
  int64_t dims[2] = {d0, d1};
  return f32(2, dims);
}

static kiln_tensor *vec_f32(int64_t n) {
  int64_t dims[1] = {n};
  return f32(1, dims);
}

/* ---------------------------------------------------- FULLY_CONNECTED */

static void test_fc_random(void) {
  for (int trial = 0; trial < 300; trial++) {
    int rank = kiln_test_int(1, 4);
    int64_t dims[4], k = kiln_test_int(1, 17), n = kiln_test_int(1, 9);
    for (int i = 0; i < rank - 1; i++) dims[i] = kiln_test_int(1, 4);
    dims[rank - 1] = k;
    kiln_fully_connected_attrs a = {kiln_test_random_activation(),
                                    kiln_test_int(0, 1) == 1, false, 0};
    kiln_tensor *in = f32(rank, dims), *w = f32_2d(n, k);
    int bias_mode = kiln_test_int(0, 2); /* present, omitted, no slot */
    kiln_tensor *bias = bias_mode == 0 ? vec_f32(n) : NULL;
    kiln_tensor *out = kiln_test_output();
    kiln_tensor *inputs[3] = {in, w, bias};
    CHECK_OK(kiln_test_run_op1(KILN_OP_FULLY_CONNECTED, &a, inputs,
                               bias_mode == 2 ? 2 : 3, out));
    int64_t rows = kiln_tensor_numel(in) / k;
    int64_t flat[2] = {rows, n}, kept[4];
    for (int i = 0; i < rank - 1; i++) kept[i] = dims[i];
    kept[rank - 1] = n;
    CHECK(a.keep_num_dims ? kiln_test_has_shape(out, rank, kept)
                          : kiln_test_has_shape(out, 2, flat));
    float *expected = malloc((size_t)(rows * n) * sizeof(float));
    const float *x = in->data, *wt = w->data;
    for (int64_t j = 0; j < n; j++)
      for (int64_t r = 0; r < rows; r++) {
        double acc = bias ? ((const float *)bias->data)[j] : 0.0;
        for (int64_t p = 0; p < k; p++)
          acc += (double)x[r * k + p] * wt[j * k + p];
        expected[r * n + j] = kiln_test_activate((float)acc, a.activation);
      }
    if (kiln_tensor_numel(out) == rows * n)
      kiln_test_close(out->data, expected, rows * n, 1e-5f, 1e-5f, "fc");
    free(expected);
    kiln_tensor *all[4] = {in, w, bias, out};
    kiln_test_tensors_free(all, 4);
  }
}

/* [[1,2],[3,4]] x [[1,0],[1,1],[0,2]]^T + [10,20,30]; and an input whose
 * numel splits into rows of K though its last dimension is not K. */
static void test_fc_values(void) {
  int64_t in_dims[2] = {2, 2}, w_dims[2] = {3, 2}, b_dims[1] = {3};
  float x[4] = {1, 2, 3, 4}, w[6] = {1, 0, 1, 1, 0, 2}, b[3] = {10, 20, 30};
  kiln_tensor *in = kiln_test_tensor_f32(2, in_dims, x);
  kiln_tensor *weights = kiln_test_tensor_f32(2, w_dims, w);
  kiln_tensor *bias = kiln_test_tensor_f32(1, b_dims, b);
  kiln_tensor *out = kiln_test_output();
  kiln_tensor *inputs[3] = {in, weights, bias};
  kiln_fully_connected_attrs a = {KILN_ACT_NONE, false, false, 0};
  CHECK_OK(kiln_test_run_op1(KILN_OP_FULLY_CONNECTED, &a, inputs, 3, out));
  const float expected[6] = {11, 23, 34, 13, 27, 38};
  kiln_test_close(out->data, expected, 6, 0, 0, "fc values");
  kiln_tensor *all[4] = {in, weights, bias, out};
  kiln_test_tensors_free(all, 4);

  int64_t odd[3] = {2, 3, 4};
  in = f32(3, odd);
  weights = f32_2d(5, 6);
  out = kiln_test_output();
  kiln_tensor *inputs2[2] = {in, weights};
  CHECK_OK(kiln_test_run_op1(KILN_OP_FULLY_CONNECTED, &a, inputs2, 2, out));
  int64_t flat[2] = {4, 5};
  CHECK(kiln_test_has_shape(out, 2, flat));
  a.keep_num_dims = true;
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_FULLY_CONNECTED, &a, inputs2, 2, out),
              KILN_ERR_INVALID_MODEL, "keep_num_dims");
  kiln_tensor *all2[3] = {in, weights, out};
  kiln_test_tensors_free(all2, 3);
}

static void expect_fc_error(kiln_tensor *in, kiln_tensor *w, kiln_tensor *b,
                            kiln_status_code code, const char *needle) {
  kiln_fully_connected_attrs a = {KILN_ACT_NONE, false, false, 0};
  kiln_tensor *out = kiln_test_output();
  kiln_tensor *inputs[3] = {in, w, b};
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_FULLY_CONNECTED, &a, inputs, 3, out),
              code, needle);
  kiln_tensor *all[4] = {in, w, b, out};
  kiln_test_tensors_free(all, 4);
}

static void test_fc_errors(void) {
  expect_fc_error(f32_2d(2, 5), f32_2d(3, 4), NULL, KILN_ERR_INVALID_MODEL,
                  "input 0 (input) has shape [2,5], which does not split "
                  "into rows of 4");
  int64_t w3[3] = {3, 4, 1};
  expect_fc_error(f32_2d(2, 4), f32(3, w3), NULL, KILN_ERR_INVALID_MODEL,
                  "input 1 (weights) must have rank 2, has shape [3,4,1]");
  expect_fc_error(f32_2d(2, 4), f32_2d(3, 4), vec_f32(4),
                  KILN_ERR_INVALID_MODEL, "input 2 (bias) has shape [4]");
  int64_t i_dims[2] = {2, 4};
  /* An int8 input takes the quantized path, which needs its scales. */
  expect_fc_error(kiln_test_tensor(KILN_INT8, 2, i_dims), f32_2d(3, 4), NULL,
                  KILN_ERR_INVALID_MODEL,
                  "input 0 (input) of type int8 has no quantization");
  kiln_tensor *in = f32_2d(2, 4), *w = f32_2d(3, 4), *out = kiln_test_output();
  kiln_tensor *inputs[1] = {in};
  kiln_fully_connected_attrs a = {KILN_ACT_NONE, false, false, 0};
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_FULLY_CONNECTED, &a, inputs, 1, out),
              KILN_ERR_INVALID_MODEL, "expects 2 to 3 inputs");
  kiln_tensor *all[3] = {in, w, out};
  kiln_test_tensors_free(all, 3);
}

/* ------------------------------------------------------- BATCH_MATMUL */

/* Row-major index of `dims` coordinates `idx`, with broadcast dimensions
 * (size 1) pinned to 0. */
static int64_t broadcast_index(const int64_t *dims, int rank,
                               const int64_t *idx, int idx_rank) {
  int64_t flat = 0;
  for (int i = 0; i < rank; i++) {
    int64_t coord = idx[idx_rank - rank + i];
    flat = flat * dims[i] + (dims[i] == 1 ? 0 : coord);
  }
  return flat;
}

/* Copies operand t as `batches` dense [rows, cols] matrices (adjoint
 * applied), following the output's batch dimensions. */
static float *materialize(const kiln_tensor *t, bool adjoint,
                          const int64_t *batch_dims, int batch_rank,
                          int64_t batches) {
  int64_t r = t->dims[t->rank - 2], c = t->dims[t->rank - 1];
  float *dense = malloc((size_t)(batches * r * c) * sizeof(float));
  const float *src = t->data;
  int64_t idx[KILN_MAX_RANK] = {0};
  for (int64_t bi = 0; bi < batches; bi++) {
    int64_t rest = bi;
    for (int i = batch_rank - 1; i >= 0; i--) {
      idx[i] = rest % batch_dims[i];
      rest /= batch_dims[i];
    }
    int64_t base = broadcast_index(t->dims, t->rank - 2, idx, batch_rank);
    for (int64_t i = 0; i < r; i++)
      for (int64_t j = 0; j < c; j++) {
        float v = src[(base * r + i) * c + j];
        if (adjoint)
          dense[(bi * c + j) * r + i] = v;
        else
          dense[(bi * r + i) * c + j] = v;
      }
  }
  return dense;
}

/* Batch dims for x and y, each either the output's size or 1, and the
 * output batch dims (rank out_rank) that they broadcast to. */
static void random_batch_dims(int64_t *out, int out_rank, int64_t *x,
                              int x_rank, int64_t *y, int y_rank) {
  for (int i = 0; i < out_rank; i++) out[i] = kiln_test_int(1, 3);
  for (int i = 0; i < x_rank; i++)
    x[i] = kiln_test_int(0, 2) ? out[out_rank - x_rank + i] : 1;
  for (int i = 0; i < y_rank; i++)
    y[i] = kiln_test_int(0, 2) ? out[out_rank - y_rank + i] : 1;
  for (int i = 0; i < out_rank; i++) {
    int xi = i - (out_rank - x_rank), yi = i - (out_rank - y_rank);
    out[i] = 1;
    if (xi >= 0 && x[xi] > out[i]) out[i] = x[xi];
    if (yi >= 0 && y[yi] > out[i]) out[i] = y[yi];
  }
}

static void test_batch_matmul_random(void) {
  for (int trial = 0; trial < 400; trial++) {
    int x_batch = kiln_test_int(0, 3), y_batch = kiln_test_int(0, 3);
    int out_batch = x_batch > y_batch ? x_batch : y_batch;
    int64_t ob[KILN_MAX_RANK], xd[KILN_MAX_RANK], yd[KILN_MAX_RANK];
    random_batch_dims(ob, out_batch, xd, x_batch, yd, y_batch);
    int64_t m = kiln_test_int(1, 6), k = kiln_test_int(1, 7);
    int64_t n = kiln_test_int(1, 6);
    kiln_batch_matmul_attrs a = {kiln_test_int(0, 1) == 1,
                                 kiln_test_int(0, 1) == 1, false};
    xd[x_batch] = a.adj_x ? k : m;
    xd[x_batch + 1] = a.adj_x ? m : k;
    yd[y_batch] = a.adj_y ? n : k;
    yd[y_batch + 1] = a.adj_y ? k : n;
    kiln_tensor *x = f32(x_batch + 2, xd), *y = f32(y_batch + 2, yd);
    kiln_tensor *out = kiln_test_output();
    kiln_tensor *inputs[2] = {x, y};
    CHECK_OK(kiln_test_run_op1(KILN_OP_BATCH_MATMUL, &a, inputs, 2, out));
    int64_t batches = 1, od[KILN_MAX_RANK];
    for (int i = 0; i < out_batch; i++) batches *= od[i] = ob[i];
    od[out_batch] = m;
    od[out_batch + 1] = n;
    CHECK(kiln_test_has_shape(out, out_batch + 2, od));
    float *dx = materialize(x, a.adj_x, ob, out_batch, batches);
    float *dy = materialize(y, a.adj_y, ob, out_batch, batches);
    float *expected = malloc((size_t)(batches * m * n) * sizeof(float));
    for (int64_t bi = 0; bi < batches; bi++)
      for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
          double acc = 0.0;
          for (int64_t p = 0; p < k; p++)
            acc += (double)dx[(bi * m + i) * k + p] * dy[(bi * k + p) * n + j];
          expected[(bi * m + i) * n + j] = (float)acc;
        }
    if (kiln_tensor_numel(out) == batches * m * n)
      kiln_test_close(out->data, expected, batches * m * n, 1e-5f, 1e-5f,
                      "batch matmul");
    free(dx);
    free(dy);
    free(expected);
    kiln_tensor *all[3] = {x, y, out};
    kiln_test_tensors_free(all, 3);
  }
}

/* x [2,1,2,2] (two matrices) times y [3,2,2] (three), with adj_y. */
static void test_batch_matmul_values(void) {
  int64_t x_dims[4] = {2, 1, 2, 2}, y_dims[3] = {3, 2, 2};
  float xv[8] = {1, 0, 0, 1, /* identity */ 0, 1, 1, 0 /* swap */};
  float yv[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  kiln_tensor *x = kiln_test_tensor_f32(4, x_dims, xv);
  kiln_tensor *y = kiln_test_tensor_f32(3, y_dims, yv);
  kiln_tensor *out = kiln_test_output();
  kiln_tensor *inputs[2] = {x, y};
  kiln_batch_matmul_attrs a = {false, true, false};
  CHECK_OK(kiln_test_run_op1(KILN_OP_BATCH_MATMUL, &a, inputs, 2, out));
  int64_t od[4] = {2, 3, 2, 2};
  CHECK(kiln_test_has_shape(out, 4, od));
  /* I * Y^T, then the row swap of Y^T, for each of the three Ys */
  const float expected[24] = {1, 3, 2, 4, 5, 7, 6, 8, 9,  11, 10, 12,
                              2, 4, 1, 3, 6, 8, 5, 7, 10, 12, 9,  11};
  if (kiln_tensor_numel(out) == 24)
    kiln_test_close(out->data, expected, 24, 0, 0, "batch matmul values");
  kiln_tensor *all[3] = {x, y, out};
  kiln_test_tensors_free(all, 3);
}

static void expect_bmm_error(kiln_tensor *x, kiln_tensor *y,
                             kiln_batch_matmul_attrs a, kiln_status_code code,
                             const char *needle) {
  kiln_tensor *out = kiln_test_output();
  kiln_tensor *inputs[2] = {x, y};
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_BATCH_MATMUL, &a, inputs, 2, out), code,
              needle);
  kiln_tensor *all[3] = {x, y, out};
  kiln_test_tensors_free(all, 3);
}

static void test_batch_matmul_errors(void) {
  kiln_batch_matmul_attrs plain = {false, false, false},
                          adj_x = {true, false, false};
  expect_bmm_error(vec_f32(3), f32_2d(3, 2), plain, KILN_ERR_INVALID_MODEL,
                   "input 0 (x) must have rank 2 or more, has shape [3]");
  expect_bmm_error(f32_2d(2, 3), f32_2d(4, 2), plain, KILN_ERR_INVALID_MODEL,
                   "inner dimension: 3 vs 4");
  /* x [3,2] times y [2,4] is fine, but adj_x makes x 2x3 with K = 3 */
  expect_bmm_error(f32_2d(3, 2), f32_2d(2, 4), adj_x, KILN_ERR_INVALID_MODEL,
                   "(adj_x 1)");
  kiln_tensor *x = f32_2d(3, 2), *y = f32_2d(2, 4), *out = kiln_test_output();
  kiln_tensor *inputs[2] = {x, y};
  CHECK_OK(kiln_test_run_op1(KILN_OP_BATCH_MATMUL, &plain, inputs, 2, out));
  kiln_tensor *all[3] = {x, y, out};
  kiln_test_tensors_free(all, 3);
  int64_t xd[3] = {2, 2, 3}, yd[3] = {3, 3, 4};
  expect_bmm_error(f32(3, xd), f32(3, yd), plain, KILN_ERR_INVALID_ARGUMENT,
                   "batch dimensions of input 0 (x) shape [2,2,3]");
}

static void test_flops(void) {
  int64_t xd[3] = {4, 3, 5}, yd[2] = {5, 6};
  kiln_tensor *x = f32(3, xd), *y = f32(2, yd), *out = kiln_test_output();
  kiln_tensor *inputs[2] = {x, y}, *outputs[1] = {out};
  kiln_batch_matmul_attrs a = {false, false, false};
  CHECK_OK(kiln_test_run_op1(KILN_OP_BATCH_MATMUL, &a, inputs, 2, out));
  kiln_op_ctx ctx = {&a, inputs, 2, outputs, 1, NULL, NULL, NULL};
  CHECK(kiln_op_table[KILN_OP_BATCH_MATMUL].flops(&ctx) == 2.0 * 4 * 3 * 6 * 5);
  kiln_test_tensor_free(y);
  y = f32_2d(7, 5); /* FC weights: N=7, K=5; x flattens to 12 rows */
  inputs[1] = y;
  kiln_fully_connected_attrs fa = {KILN_ACT_NONE, false, false, 0};
  CHECK_OK(kiln_test_run_op1(KILN_OP_FULLY_CONNECTED, &fa, inputs, 2, out));
  ctx.attrs = &fa;
  CHECK(kiln_op_table[KILN_OP_FULLY_CONNECTED].flops(&ctx) == 2.0 * 12 * 7 * 5);
  kiln_tensor *all[3] = {x, y, out};
  kiln_test_tensors_free(all, 3);
}

int main(void) {
  kiln_test_seed(77);
  test_fc_random();
  test_fc_values();
  test_fc_errors();
  test_batch_matmul_random();
  test_batch_matmul_values();
  test_batch_matmul_errors();
  test_flops();
  return kiln_test_finish("test_ref_matmul");
}
