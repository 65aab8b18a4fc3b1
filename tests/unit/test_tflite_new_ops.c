/* test_tflite_new_ops.c - the importer's options for the operators added
 * last for issue 9: ReverseSequenceOptions (seq_dim, batch_dim) and
 * Conv3DOptions (padding, three strides, activation, three dilations) are
 * read into the right fields (a model runs and its output moves the way
 * those fields say), and broken values (a negative dimension, a missing or
 * zero stride, a zero dilation, an unknown padding or activation) fail the
 * load with a message naming the options table and the field. */
#include <stdlib.h>
#include <string.h>

#include "formats/tflite/tflite_schema.h"
#include "harness.h"
#include "tflite_builder.c"

static tb_tensor tensor(const char *name, int8_t type, int rank,
                        const int32_t *shape, uint32_t buffer) {
  tb_tensor t;
  memset(&t, 0, sizeof t);
  t.name = name;
  t.type = type;
  t.rank = rank;
  memcpy(t.shape, shape, (size_t)rank * sizeof(int32_t));
  t.buffer = buffer;
  return t;
}

static void option(tb_operator *op, int slot, char kind, int32_t value) {
  tb_field *f = &op->options[op->num_options++];
  memset(f, 0, sizeof *f);
  f->slot = slot;
  f->kind = kind;
  f->i = value;
}

/* x [4,3] float32, lens [3] int32 -> REVERSE_SEQUENCE -> y [4,3] */
static uint8_t *reverse_sequence_model(int seq_dim, int batch_dim,
                                       size_t *size) {
  tb_model m;
  memset(&m, 0, sizeof m);
  m.num_opcodes = 1;
  m.opcodes[0] = (tb_opcode){TFL_OP_REVERSE_SEQUENCE, 112, NULL};
  m.num_buffers = 1;
  m.num_tensors = 3;
  m.tensors[0] = tensor("x", TFL_TYPE_FLOAT32, 2, (int32_t[]){4, 3}, 0);
  m.tensors[1] = tensor("lens", TFL_TYPE_INT32, 1, (int32_t[]){3}, 0);
  m.tensors[2] = tensor("y", TFL_TYPE_FLOAT32, 2, (int32_t[]){4, 3}, 0);
  m.num_inputs = 2;
  m.inputs[0] = 0;
  m.inputs[1] = 1;
  m.num_outputs = 1;
  m.outputs[0] = 2;
  m.num_operators = 1;
  tb_operator *op = &m.operators[0];
  op->num_inputs = 2;
  op->inputs[0] = 0;
  op->inputs[1] = 1;
  op->num_outputs = 1;
  op->outputs[0] = 2;
  op->options_type = TFL_OPT_REVERSE_SEQUENCE;
  option(op, TFL_REVSEQ_SEQ_DIM, 'i', seq_dim);
  option(op, TFL_REVSEQ_BATCH_DIM, 'i', batch_dim);
  return tb_build(&m, size);
}

static void test_reverse_sequence_options(void) {
  size_t size;
  uint8_t *bytes = reverse_sequence_model(0, 1, &size);
  kiln_model *model = NULL;
  kiln_session *s = NULL;
  CHECK_OK(kiln_model_load_buffer(bytes, size, "revseq.tflite", NULL, &model));
  CHECK_OK(kiln_session_create(model, NULL, &s));
  float x[12], y[12];
  for (int i = 0; i < 12; i++) x[i] = (float)i;
  int32_t lens[3] = {4, 0, 2};
  CHECK_OK(kiln_session_set_input(s, 0, KILN_FLOAT32, (int64_t[]){4, 3}, 2, x,
                                  sizeof x));
  CHECK_OK(kiln_session_set_input(s, 1, KILN_INT32, (int64_t[]){3}, 1, lens,
                                  sizeof lens));
  CHECK_OK(kiln_session_invoke(s));
  CHECK_OK(kiln_session_get_output(s, 0, y, sizeof y));
  /* column b (batch_dim 1) reverses its first lens[b] rows (seq_dim 0) */
  for (int r = 0; r < 4; r++)
    for (int b = 0; b < 3; b++) {
      int from = r < lens[b] ? lens[b] - 1 - r : r;
      CHECK(y[r * 3 + b] == x[from * 3 + b]);
    }
  kiln_session_free(s);
  kiln_model_free(model);
  free(bytes);

  bytes = reverse_sequence_model(-1, 1, &size);
  CHECK_ERROR(
      kiln_model_load_buffer(bytes, size, "revseq.tflite", NULL, &model),
      KILN_ERR_INVALID_MODEL, "ReverseSequenceOptions: seq_dim -1");
  free(bytes);
  /* beyond the input's rank: refused when the session prepares */
  bytes = reverse_sequence_model(0, 2, &size);
  CHECK_OK(kiln_model_load_buffer(bytes, size, "revseq.tflite", NULL, &model));
  CHECK_ERROR(kiln_session_create(model, NULL, &s), KILN_ERR_INVALID_MODEL,
              "batch_dim 2");
  kiln_model_free(model);
  free(bytes);
}

/* x [1,3,4,4,1] -> CONV_3D with a [1,1,1,1,1] filter of 2 -> y */
typedef struct conv3d_options {
  int32_t padding, stride_d, stride_h, stride_w, activation;
  int32_t dilation_d, dilation_h, dilation_w;
  bool omit_stride_d;
} conv3d_options;

static uint8_t *conv3d_model(const conv3d_options *o, const int32_t *out_shape,
                             size_t *size) {
  static const float two = 2.0f;
  tb_model m;
  memset(&m, 0, sizeof m);
  m.num_opcodes = 1;
  m.opcodes[0] = (tb_opcode){TFL_OP_CONV_3D, 127, NULL};
  m.num_buffers = 2;
  m.buffers[1] = (tb_buffer){&two, sizeof two, false, false, 0, 0};
  m.num_tensors = 3;
  m.tensors[0] =
      tensor("x", TFL_TYPE_FLOAT32, 5, (int32_t[]){1, 3, 4, 4, 1}, 0);
  m.tensors[1] =
      tensor("w", TFL_TYPE_FLOAT32, 5, (int32_t[]){1, 1, 1, 1, 1}, 1);
  m.tensors[2] = tensor("y", TFL_TYPE_FLOAT32, 5, out_shape, 0);
  m.num_inputs = 1;
  m.num_outputs = 1;
  m.outputs[0] = 2;
  m.num_operators = 1;
  tb_operator *op = &m.operators[0];
  op->num_inputs = 2;
  op->inputs[1] = 1;
  op->num_outputs = 1;
  op->outputs[0] = 2;
  op->options_type = TFL_OPT_CONV3D;
  option(op, TFL_CONV3D_PADDING, 'b', o->padding);
  if (!o->omit_stride_d) option(op, TFL_CONV3D_STRIDE_D, 'i', o->stride_d);
  option(op, TFL_CONV3D_STRIDE_H, 'i', o->stride_h);
  option(op, TFL_CONV3D_STRIDE_W, 'i', o->stride_w);
  option(op, TFL_CONV3D_ACTIVATION, 'b', o->activation);
  option(op, TFL_CONV3D_DILATION_D, 'i', o->dilation_d);
  option(op, TFL_CONV3D_DILATION_H, 'i', o->dilation_h);
  option(op, TFL_CONV3D_DILATION_W, 'i', o->dilation_w);
  return tb_build(&m, size);
}

static void test_conv3d_options(void) {
  /* strides 3, 2, 1 over [3, 4, 4] (VALID, 1x1x1): output [1, 2, 4] */
  conv3d_options o = {KILN_PAD_VALID, 3, 2, 1, KILN_ACT_RELU, 1, 1, 1, false};
  size_t size;
  int32_t out_shape[5] = {1, 1, 2, 4, 1};
  uint8_t *bytes = conv3d_model(&o, out_shape, &size);
  kiln_model *model = NULL;
  kiln_session *s = NULL;
  CHECK_OK(kiln_model_load_buffer(bytes, size, "conv3d.tflite", NULL, &model));
  CHECK_OK(kiln_session_create(model, NULL, &s));
  float x[48], y[8];
  for (int i = 0; i < 48; i++) x[i] = (float)(i % 5) - 2.0f;
  CHECK_OK(kiln_session_set_input(s, 0, KILN_FLOAT32,
                                  (int64_t[]){1, 3, 4, 4, 1}, 5, x, sizeof x));
  CHECK_OK(kiln_session_invoke(s));
  kiln_tensor_info info;
  CHECK_OK(kiln_session_output_info(s, 0, &info));
  CHECK(info.rank == 5 && info.dims[1] == 1 && info.dims[2] == 2 &&
        info.dims[3] == 4);
  CHECK_OK(kiln_session_get_output(s, 0, y, sizeof y));
  for (int h = 0; h < 2; h++)
    for (int w = 0; w < 4; w++) {
      float v = 2.0f * x[(h * 2) * 4 + w]; /* depth 0, row 2h */
      CHECK(y[h * 4 + w] == (v < 0.0f ? 0.0f : v));
    }
  kiln_session_free(s);
  kiln_model_free(model);
  free(bytes);

  struct {
    conv3d_options o;
    const char *needle;
  } bad[] = {
      {{KILN_PAD_VALID, 1, 1, 1, 0, 1, 1, 1, true}, "stride_d is 0"},
      {{KILN_PAD_VALID, 1, 0, 1, 0, 1, 1, 1, false}, "stride_h is 0"},
      {{KILN_PAD_VALID, 1, 1, 1, 0, 1, 1, 0, false}, "dilation_w_factor is 0"},
      {{KILN_PAD_VALID, 1, 1, 1, 0, -2, 1, 1, false},
       "dilation_d_factor is -2"},
      {{7, 1, 1, 1, 0, 1, 1, 1, false}, "padding 7"},
      {{KILN_PAD_VALID, 1, 1, 1, 9, 1, 1, 1, false}, "fused activation 9"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    bytes = conv3d_model(&bad[i].o, out_shape, &size);
    CHECK_ERROR(
        kiln_model_load_buffer(bytes, size, "conv3d.tflite", NULL, &model),
        KILN_ERR_INVALID_MODEL, bad[i].needle);
    free(bytes);
  }
}

int main(void) {
  test_reverse_sequence_options();
  test_conv3d_options();
  return kiln_test_finish("test_tflite_new_ops");
}
