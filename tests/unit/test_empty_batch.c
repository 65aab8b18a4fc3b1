/* test_empty_batch.c - a batch of 0 through the operators that work batch
 * by batch (CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, the 2-D pools,
 * CONV_3D, CONV_3D_TRANSPOSE): each reference shape function gives an
 * output with batch 0 and the kernel touches nothing (run under ASan too),
 * float and quantized;
 * a session over a dynamic-batch conv -> fully-connected -> pool model,
 * with its optimized variants and threads, prepares and invokes at batch 0
 * and then still computes batch 2 right, against the reference kernels
 * chained by hand; and other empty dimensions stay errors. */
#include <stdlib.h>
#include <string.h>

#include "formats/tflite/tflite_schema.h"
#include "quant_test_util.h"
#include "tflite_builder.c"

static kiln_tensor *f32(int rank, const int64_t *dims) {
  return kiln_test_tensor_f32(rank, dims, NULL);
}

static kiln_tensor *out_f32(void) { return kiln_test_output(); }

/* Runs `op` and checks the output has `rank` dimensions, the first 0. */
static void check_empty_output(kiln_op_type op, const void *attrs,
                               kiln_tensor **inputs, int num_inputs, int rank) {
  kiln_tensor *out = out_f32();
  CHECK_OK(kiln_test_run_op1(op, attrs, inputs, num_inputs, out));
  CHECK(out->rank == rank);
  CHECK(out->dims[0] == 0);
  CHECK(kiln_tensor_numel(out) == 0);
  for (int d = 1; d < out->rank; d++) CHECK(out->dims[d] > 0);
  kiln_test_tensor_free(out);
}

static void test_reference_kernels(void) {
  kiln_conv_attrs conv = {KILN_PAD_SAME, 1, 1, 1, 1, 0, KILN_ACT_RELU};
  int64_t in_dims[4] = {0, 5, 5, 3}, filter_dims[4] = {4, 3, 3, 3};
  int64_t bias_dims[1] = {4}, dw_dims[4] = {1, 3, 3, 3}, dwb_dims[1] = {3};
  kiln_tensor *x = f32(4, in_dims), *w = f32(4, filter_dims);
  kiln_tensor *b = f32(1, bias_dims), *dw = f32(4, dw_dims);
  kiln_tensor *dwb = f32(1, dwb_dims);
  check_empty_output(KILN_OP_CONV_2D, &conv, (kiln_tensor *[]){x, w, b}, 3, 4);
  conv.depth_multiplier = 1;
  check_empty_output(KILN_OP_DEPTHWISE_CONV_2D, &conv,
                     (kiln_tensor *[]){x, dw, dwb}, 3, 4);

  kiln_pool_attrs pool = {KILN_PAD_VALID, 2, 2, 2, 2, KILN_ACT_NONE};
  check_empty_output(KILN_OP_MAX_POOL_2D, &pool, &x, 1, 4);
  check_empty_output(KILN_OP_AVERAGE_POOL_2D, &pool, &x, 1, 4);
  check_empty_output(KILN_OP_L2_POOL_2D, &pool, &x, 1, 4);

  int64_t rows_dims[2] = {0, 5}, fc_dims[2] = {4, 5};
  kiln_tensor *rows = f32(2, rows_dims), *fc_w = f32(2, fc_dims);
  kiln_fully_connected_attrs fc = {0};
  fc.activation = KILN_ACT_NONE;
  check_empty_output(KILN_OP_FULLY_CONNECTED, &fc,
                     (kiln_tensor *[]){rows, fc_w, b}, 3, 2);

  int64_t v_dims[5] = {0, 4, 5, 5, 2}, k3_dims[5] = {2, 3, 3, 2, 3};
  int64_t b3_dims[1] = {3};
  kiln_tensor *vol = f32(5, v_dims), *k3 = f32(5, k3_dims);
  kiln_tensor *b3 = f32(1, b3_dims);
  kiln_conv3d_attrs c3 = {KILN_PAD_SAME, 1, 1, 1, 1, 1, 1, KILN_ACT_NONE};
  check_empty_output(KILN_OP_CONV_3D, &c3, (kiln_tensor *[]){vol, k3, b3}, 3,
                     5);
  /* transpose: output [0, 4, 5, 5, 3] from input [0, 4, 5, 5, 2] */
  int64_t kt_dims[5] = {2, 3, 3, 3, 2}, shape_dims[1] = {5};
  kiln_tensor *kt = f32(5, kt_dims);
  kiln_tensor *shape =
      kiln_test_tensor_i32(1, shape_dims, (int32_t[]){0, 4, 5, 5, 3});
  check_empty_output(KILN_OP_CONV_3D_TRANSPOSE, &c3,
                     (kiln_tensor *[]){shape, kt, vol, b3}, 4, 5);

  kiln_test_tensors_free(
      (kiln_tensor *[]){x, w, b, dw, dwb, rows, fc_w, vol, k3, b3, kt, shape},
      12);
}

/* The quantized forms (int8 per-channel, uint8 with weight zero points,
 * int16 x int8) with their parameters built as at load. */
static void test_quantized_kernels(void) {
  static const kiln_dtype types[] = {KILN_INT8, KILN_UINT8, KILN_INT16};
  for (int t = 0; t < 3; t++) {
    kiln_dtype dtype = types[t];
    kiln_dtype wtype = dtype == KILN_UINT8 ? KILN_UINT8 : KILN_INT8;
    int64_t zp = dtype == KILN_INT16 ? 0 : 3;
    int64_t in_dims[4] = {0, 5, 5, 3}, w_dims[4] = {4, 3, 3, 3};
    int64_t rows_dims[2] = {0, 5}, fc_dims[2] = {4, 5};
    qt *x = qt_new(dtype, 4, in_dims, 1, 0),
       *rows = qt_new(dtype, 2, rows_dims, 1, 0);
    qt *w = qt_new(wtype, 4, w_dims, wtype == KILN_INT8 ? 4 : 1, 0);
    qt *fc_w = qt_new(wtype, 2, fc_dims, 1, 0);
    x->scale[0] = rows->scale[0] = 0.05f;
    x->zp[0] = rows->zp[0] = zp;
    for (int i = 0; i < w->info.count; i++)
      w->scale[i] = 0.01f * (float)(i + 1);
    fc_w->scale[0] = 0.02f;
    if (wtype == KILN_UINT8) w->zp[0] = fc_w->zp[0] = 128;
    kiln_conv_attrs conv = {KILN_PAD_SAME, 1, 1, 1, 1, 0, KILN_ACT_RELU};
    qt *out = qt_output(dtype, 0.1f, zp);
    CHECK_OK(kiln_test_run_op1(KILN_OP_CONV_2D, &conv,
                               (kiln_tensor *[]){x->t, w->t}, 2, out->t));
    CHECK(kiln_test_has_shape(out->t, 4, (int64_t[]){0, 5, 5, 4}));
    kiln_fully_connected_attrs fc = {0};
    fc.activation = KILN_ACT_NONE;
    CHECK_OK(kiln_test_run_op1(KILN_OP_FULLY_CONNECTED, &fc,
                               (kiln_tensor *[]){rows->t, fc_w->t}, 2, out->t));
    CHECK(kiln_test_has_shape(out->t, 2, (int64_t[]){0, 4}));
    /* pools keep the input's quantization */
    qt *pooled = qt_output(dtype, 0.05f, zp);
    kiln_pool_attrs pool = {KILN_PAD_VALID, 2, 2, 2, 2, KILN_ACT_NONE};
    CHECK_OK(
        kiln_test_run_op1(KILN_OP_MAX_POOL_2D, &pool, &x->t, 1, pooled->t));
    CHECK(kiln_test_has_shape(pooled->t, 4, (int64_t[]){0, 2, 2, 3}));
    CHECK_OK(
        kiln_test_run_op1(KILN_OP_AVERAGE_POOL_2D, &pool, &x->t, 1, pooled->t));
    CHECK(kiln_test_has_shape(pooled->t, 4, (int64_t[]){0, 2, 2, 3}));
    qt *list[] = {x, rows, w, fc_w, out, pooled};
    for (int i = 0; i < 6; i++) qt_free(list[i]);
  }
}

/* Empty dimensions other than the batch have no meaning for these
 * operators and are still refused with the input's shape. */
static void test_other_empty_dims_refused(void) {
  kiln_conv_attrs conv = {KILN_PAD_SAME, 1, 1, 1, 1, 0, KILN_ACT_NONE};
  int64_t in_dims[4] = {1, 0, 5, 3}, filter_dims[4] = {4, 3, 3, 3};
  kiln_tensor *x = f32(4, in_dims), *w = f32(4, filter_dims);
  kiln_tensor *out = out_f32();
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_CONV_2D, &conv, (kiln_tensor *[]){x, w},
                                2, out),
              KILN_ERR_INVALID_MODEL, "has empty shape [1,0,5,3]");
  kiln_pool_attrs pool = {KILN_PAD_VALID, 1, 1, 1, 1, KILN_ACT_NONE};
  int64_t chan_dims[4] = {2, 4, 4, 0};
  kiln_tensor *no_channels = f32(4, chan_dims);
  CHECK_ERROR(
      kiln_test_run_op1(KILN_OP_MAX_POOL_2D, &pool, &no_channels, 1, out),
      KILN_ERR_INVALID_MODEL, "has empty shape [2,4,4,0]");
  /* an empty filter is never a batch */
  int64_t empty_filter_dims[4] = {0, 3, 3, 3}, batch0_dims[4] = {0, 5, 5, 3};
  kiln_tensor *ef = f32(4, empty_filter_dims), *x0 = f32(4, batch0_dims);
  CHECK_ERROR(kiln_test_run_op1(KILN_OP_CONV_2D, &conv,
                                (kiln_tensor *[]){x0, ef}, 2, out),
              KILN_ERR_INVALID_MODEL, "input 1 (filter) has empty shape");
  kiln_test_tensors_free((kiln_tensor *[]){x, w, out, no_channels, ef, x0}, 6);
}

/* ------------------------------------------------ a session at batch 0 */

enum { H = 5, W = 5, C = 3, O = 4, F = 6 };

static float conv_w[O * 3 * 3 * C], conv_b[O], fc_w[F * O], fc_b[F];

static tb_tensor tensor(const char *name, int rank, const int32_t *shape,
                        bool dynamic_batch, uint32_t buffer) {
  tb_tensor t;
  memset(&t, 0, sizeof t);
  t.name = name;
  t.type = TFL_TYPE_FLOAT32;
  t.rank = rank;
  memcpy(t.shape, shape, (size_t)rank * sizeof(int32_t));
  if (dynamic_batch) {
    t.has_signature = true;
    t.sig_rank = rank;
    memcpy(t.signature, shape, (size_t)rank * sizeof(int32_t));
    t.signature[0] = -1;
  }
  t.buffer = buffer;
  return t;
}

static void add_option(tb_operator *op, int slot, char kind, int32_t value) {
  tb_field *f = &op->options[op->num_options++];
  memset(f, 0, sizeof *f);
  f->slot = slot;
  f->kind = kind;
  f->i = value;
}

/* x [-1,5,5,3] -> CONV_2D 3x3 SAME RELU -> FULLY_CONNECTED (keep_num_dims)
 * -> MAX_POOL_2D 2x2 VALID -> y [-1,2,2,6] */
static uint8_t *build_model(size_t *size) {
  tb_model m;
  memset(&m, 0, sizeof m);
  m.num_opcodes = 3;
  m.opcodes[0] = (tb_opcode){TFL_OP_CONV_2D, TFL_OP_CONV_2D, NULL};
  m.opcodes[1] =
      (tb_opcode){TFL_OP_FULLY_CONNECTED, TFL_OP_FULLY_CONNECTED, NULL};
  m.opcodes[2] = (tb_opcode){TFL_OP_MAX_POOL_2D, TFL_OP_MAX_POOL_2D, NULL};
  m.num_buffers = 5;
  m.buffers[1] = (tb_buffer){conv_w, sizeof conv_w, false, false, 0, 0};
  m.buffers[2] = (tb_buffer){conv_b, sizeof conv_b, false, false, 0, 0};
  m.buffers[3] = (tb_buffer){fc_w, sizeof fc_w, false, false, 0, 0};
  m.buffers[4] = (tb_buffer){fc_b, sizeof fc_b, false, false, 0, 0};
  m.num_tensors = 8;
  m.tensors[0] = tensor("x", 4, (int32_t[]){1, H, W, C}, true, 0);
  m.tensors[1] = tensor("conv_w", 4, (int32_t[]){O, 3, 3, C}, false, 1);
  m.tensors[2] = tensor("conv_b", 1, (int32_t[]){O}, false, 2);
  m.tensors[3] = tensor("conv", 4, (int32_t[]){1, H, W, O}, true, 0);
  m.tensors[4] = tensor("fc_w", 2, (int32_t[]){F, O}, false, 3);
  m.tensors[5] = tensor("fc_b", 1, (int32_t[]){F}, false, 4);
  m.tensors[6] = tensor("fc", 4, (int32_t[]){1, H, W, F}, true, 0);
  m.tensors[7] = tensor("y", 4, (int32_t[]){1, 2, 2, F}, true, 0);
  m.num_inputs = 1;
  m.inputs[0] = 0;
  m.num_outputs = 1;
  m.outputs[0] = 7;
  m.num_operators = 3;
  tb_operator *conv = &m.operators[0];
  conv->opcode_index = 0;
  conv->num_inputs = 3;
  memcpy(conv->inputs, (int32_t[]){0, 1, 2}, 3 * sizeof(int32_t));
  conv->num_outputs = 1;
  conv->outputs[0] = 3;
  conv->options_type = TFL_OPT_CONV2D;
  add_option(conv, TFL_CONV2D_PADDING, 'b', KILN_PAD_SAME);
  add_option(conv, TFL_CONV2D_STRIDE_W, 'i', 1);
  add_option(conv, TFL_CONV2D_STRIDE_H, 'i', 1);
  add_option(conv, TFL_CONV2D_ACTIVATION, 'b', KILN_ACT_RELU);
  tb_operator *fc = &m.operators[1];
  fc->opcode_index = 1;
  fc->num_inputs = 3;
  memcpy(fc->inputs, (int32_t[]){3, 4, 5}, 3 * sizeof(int32_t));
  fc->num_outputs = 1;
  fc->outputs[0] = 6;
  fc->options_type = TFL_OPT_FULLY_CONNECTED;
  add_option(fc, TFL_FC_KEEP_NUM_DIMS, 'b', 1);
  tb_operator *pool = &m.operators[2];
  pool->opcode_index = 2;
  pool->num_inputs = 1;
  pool->inputs[0] = 6;
  pool->num_outputs = 1;
  pool->outputs[0] = 7;
  pool->options_type = TFL_OPT_POOL2D;
  add_option(pool, TFL_POOL_PADDING, 'b', KILN_PAD_VALID);
  add_option(pool, TFL_POOL_STRIDE_W, 'i', 2);
  add_option(pool, TFL_POOL_STRIDE_H, 'i', 2);
  add_option(pool, TFL_POOL_FILTER_W, 'i', 2);
  add_option(pool, TFL_POOL_FILTER_H, 'i', 2);
  return tb_build(&m, size);
}

/* The model's computation by the reference kernels, for batch n. */
static kiln_tensor *expected_output(const kiln_tensor *x) {
  int64_t cw_dims[4] = {O, 3, 3, C}, o_dims[1] = {O};
  int64_t fw_dims[2] = {F, O}, f_dims[1] = {F};
  kiln_tensor *cw = kiln_test_tensor_f32(4, cw_dims, conv_w);
  kiln_tensor *cb = kiln_test_tensor_f32(1, o_dims, conv_b);
  kiln_tensor *fw = kiln_test_tensor_f32(2, fw_dims, fc_w);
  kiln_tensor *fb = kiln_test_tensor_f32(1, f_dims, fc_b);
  kiln_tensor *c = out_f32(), *fco = out_f32(), *y = out_f32();
  kiln_conv_attrs conv = {KILN_PAD_SAME, 1, 1, 1, 1, 0, KILN_ACT_RELU};
  kiln_fully_connected_attrs fc = {0};
  fc.activation = KILN_ACT_NONE;
  fc.keep_num_dims = true;
  kiln_pool_attrs pool = {KILN_PAD_VALID, 2, 2, 2, 2, KILN_ACT_NONE};
  CHECK_OK(kiln_test_run_op1(KILN_OP_CONV_2D, &conv,
                             (kiln_tensor *[]){(kiln_tensor *)x, cw, cb}, 3,
                             c));
  CHECK_OK(kiln_test_run_op1(KILN_OP_FULLY_CONNECTED, &fc,
                             (kiln_tensor *[]){c, fw, fb}, 3, fco));
  CHECK_OK(kiln_test_run_op1(KILN_OP_MAX_POOL_2D, &pool, &fco, 1, y));
  kiln_test_tensors_free((kiln_tensor *[]){cw, cb, fw, fb, c, fco}, 6);
  return y;
}

static void run_batch(kiln_session *s, int64_t n) {
  int64_t dims[4] = {n, H, W, C};
  CHECK_OK(kiln_session_resize_input(s, 0, dims, 4));
  CHECK_OK(kiln_session_prepare(s));
  kiln_tensor *x = f32(4, dims);
  CHECK_OK(kiln_session_set_input(s, 0, KILN_FLOAT32, dims, 4, x->data,
                                  kiln_tensor_nbytes(x)));
  CHECK_OK(kiln_session_invoke(s));
  kiln_tensor_info info;
  CHECK_OK(kiln_session_output_info(s, 0, &info));
  int64_t want[4] = {n, 2, 2, F};
  CHECK(info.rank == 4 && memcmp(info.dims, want, sizeof want) == 0);
  kiln_tensor *y = expected_output(x);
  CHECK(kiln_test_has_shape(y, 4, want));
  int64_t count = kiln_tensor_numel(y);
  float *got = malloc((size_t)count * sizeof(float) + 1);
  CHECK_OK(kiln_session_get_output(s, 0, got, (size_t)count * sizeof(float)));
  /* the optimized variants sum in another order than the reference */
  CHECK(kiln_test_close(got, y->data, count, 1e-5f, 1e-4f, "batch output"));
  free(got);
  kiln_test_tensors_free((kiln_tensor *[]){x, y}, 2);
}

static void test_session_batches(kiln_isa isa, int threads) {
  kiln_test_fill(conv_w, O * 9 * C, -1.0f, 1.0f);
  kiln_test_fill(conv_b, O, -1.0f, 1.0f);
  kiln_test_fill(fc_w, F * O, -1.0f, 1.0f);
  kiln_test_fill(fc_b, F, -1.0f, 1.0f);
  size_t size;
  uint8_t *bytes = build_model(&size);
  kiln_options options = kiln_options_default();
  options.max_isa = isa;
  options.num_threads = threads;
  kiln_model *model = NULL;
  kiln_session *s = NULL;
  CHECK_OK(
      kiln_model_load_buffer(bytes, size, "batches.tflite", &options, &model));
  CHECK_OK(kiln_session_create(model, &options, &s));
  run_batch(s, 0);
  run_batch(s, 2);
  run_batch(s, 0);
  run_batch(s, 1);
  kiln_session_free(s);
  kiln_model_free(model);
  free(bytes);
}

int main(void) {
  kiln_test_seed(0xE3B7);
  test_reference_kernels();
  test_quantized_kernels();
  test_other_empty_dims_refused();
  test_session_batches(KILN_ISA_AUTO, 0);
  test_session_batches(KILN_ISA_PORTABLE, 1);
  return kiln_test_finish("test_empty_batch");
}
