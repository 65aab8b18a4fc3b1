/* test_tflite_movement.c - the issue 9 data-movement operators through
 * the whole public path on hand-built .tflite files: options read at load
 * (bad block sizes and radii refused there), int8 tensors with equal
 * quantization moved through a session, unequal ones refused at prepare
 * naming the operator, and an out-of-range index failing the invoke. */
#include <math.h>
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
  memcpy(t.shape, shape, sizeof(int32_t) * (size_t)rank);
  t.buffer = buffer;
  return t;
}

static void quantize(tb_tensor *t, float scale, int64_t zero_point) {
  t->quant_count = 1;
  t->scale[0] = scale;
  t->zero_point[0] = zero_point;
}

static tb_field field(int slot, char kind, int32_t value, float f) {
  tb_field x;
  memset(&x, 0, sizeof x);
  x.slot = slot;
  x.kind = kind;
  x.i = value;
  x.f = f;
  return x;
}

/* One operator from tensor 0 (the input) and any constants to tensor 1
 * (the output); the caller fills the tensors and options. */
static void one_op_model(tb_model *m, int32_t code, uint8_t options_type) {
  memset(m, 0, sizeof *m);
  m->num_opcodes = 1;
  m->opcodes[0] = (tb_opcode){code, (int8_t)(code < 127 ? code : 127), NULL};
  m->num_inputs = 1;
  m->inputs[0] = 0;
  m->num_outputs = 1;
  m->outputs[0] = 1;
  m->num_operators = 1;
  tb_operator *op = &m->operators[0];
  op->num_inputs = 1;
  op->inputs[0] = 0;
  op->num_outputs = 1;
  op->outputs[0] = 1;
  op->options_type = options_type;
  m->num_buffers = 1;
}

static kiln_status *load(const tb_model *m, kiln_model **model) {
  size_t size;
  uint8_t *bytes = tb_build(m, &size);
  kiln_status *st =
      kiln_model_load_buffer(bytes, size, "t.tflite", NULL, model);
  free(bytes);
  return st;
}

/* int8 [1,4,4,2] -> SPACE_TO_DEPTH(2) -> [1,2,2,8], both with `out_scale`
 * and zero point -3 (input scale 0.5). */
static void space_to_depth_model(tb_model *m, float out_scale, int block) {
  one_op_model(m, TFL_OP_SPACE_TO_DEPTH, TFL_OPT_SPACE_TO_DEPTH);
  m->num_tensors = 2;
  m->tensors[0] = tensor("x", TFL_TYPE_INT8, 4, (int32_t[]){1, 4, 4, 2}, 0);
  m->tensors[1] = tensor("y", TFL_TYPE_INT8, 4, (int32_t[]){1, 2, 2, 8}, 0);
  quantize(&m->tensors[0], 0.5f, -3);
  quantize(&m->tensors[1], out_scale, -3);
  m->operators[0].num_options = 1;
  m->operators[0].options[0] = field(TFL_BLOCK_SIZE, 'i', block, 0);
}

static void test_int8_space_to_depth_runs(void) {
  tb_model m;
  space_to_depth_model(&m, 0.5f, 2);
  kiln_model *model = NULL;
  kiln_session *s = NULL;
  CHECK_OK(load(&m, &model));
  if (!model) return;
  CHECK_OK(kiln_session_create(model, NULL, &s));
  int8_t x[32], y[32];
  for (int i = 0; i < 32; i++) x[i] = (int8_t)(kiln_test_int(-128, 127));
  int64_t dims[4] = {1, 4, 4, 2};
  CHECK_OK(kiln_session_set_input(s, 0, KILN_INT8, dims, 4, x, sizeof x));
  CHECK_OK(kiln_session_invoke(s));
  CHECK_OK(kiln_session_get_output(s, 0, y, sizeof y));
  /* output (h, w, (dy * 2 + dx) * 2 + c) = input (2h + dy, 2w + dx, c) */
  bool ok = true;
  for (int h = 0; h < 2; h++)
    for (int w = 0; w < 2; w++)
      for (int d = 0; d < 8; d++) {
        int dy = d / 4, dx = (d / 2) % 2, c = d % 2;
        ok = ok && y[(h * 2 + w) * 8 + d] ==
                       x[((2 * h + dy) * 4 + 2 * w + dx) * 2 + c];
      }
  CHECK(ok);
  kiln_session_free(s);
  kiln_model_free(model);
}

static void test_bad_options_and_quantization(void) {
  tb_model m;
  kiln_model *model = NULL;
  space_to_depth_model(&m, 0.5f, 0);
  CHECK_ERROR(load(&m, &model), KILN_ERR_INVALID_MODEL,
              "operator 0 (SPACE_TO_DEPTH): SpaceToDepthOptions: block_size "
              "is 0; it must be at least 1");
  space_to_depth_model(&m, 0.25f, 2);
  CHECK_OK(load(&m, &model));
  kiln_session *s = NULL;
  CHECK_ERROR(kiln_session_create(model, NULL, &s), KILN_ERR_UNSUPPORTED,
              "operator 0 (SPACE_TO_DEPTH): input 0 (input) and the output "
              "have different quantization parameters");
  kiln_model_free(model);
  model = NULL;

  one_op_model(&m, TFL_OP_LOCAL_RESPONSE_NORMALIZATION,
               TFL_OPT_LOCAL_RESPONSE_NORMALIZATION);
  m.num_tensors = 2;
  m.tensors[0] = tensor("x", TFL_TYPE_FLOAT32, 4, (int32_t[]){1, 1, 1, 4}, 0);
  m.tensors[1] = tensor("y", TFL_TYPE_FLOAT32, 4, (int32_t[]){1, 1, 1, 4}, 0);
  m.operators[0].num_options = 2;
  m.operators[0].options[0] = field(TFL_LRN_RADIUS, 'i', -2, 0);
  m.operators[0].options[1] = field(TFL_LRN_BETA, 'f', 0, 0.5f);
  CHECK_ERROR(load(&m, &model), KILN_ERR_INVALID_MODEL,
              "LocalResponseNormalizationOptions: radius is -2");
  /* and with a good radius, the options arrive: bias 0 -> x / (a*s)^b */
  m.operators[0].options[0] = field(TFL_LRN_RADIUS, 'i', 0, 0);
  m.operators[0].num_options = 4;
  m.operators[0].options[2] = field(TFL_LRN_ALPHA, 'f', 0, 2.0f);
  m.operators[0].options[3] = field(TFL_LRN_BIAS, 'f', 0, 1.0f);
  CHECK_OK(load(&m, &model));
  if (!model) return;
  CHECK_OK(kiln_session_create(model, NULL, &s));
  float x[4] = {1, -2, 3, 0.5f}, y[4];
  int64_t dims[4] = {1, 1, 1, 4};
  CHECK_OK(kiln_session_set_input(s, 0, KILN_FLOAT32, dims, 4, x, sizeof x));
  CHECK_OK(kiln_session_invoke(s));
  CHECK_OK(kiln_session_get_output(s, 0, y, sizeof y));
  for (int i = 0; i < 4; i++)
    CHECK(fabsf(y[i] - x[i] / sqrtf(1.0f + 2.0f * x[i] * x[i])) < 1e-6f);
  kiln_session_free(s);
  kiln_model_free(model);
}

/* params [3,2] float input, indices [2,1] int32 input -> GATHER_ND. */
static void test_gather_nd_index_at_invoke(void) {
  tb_model m;
  one_op_model(&m, TFL_OP_GATHER_ND, 0);
  m.num_tensors = 3;
  m.tensors[0] = tensor("params", TFL_TYPE_FLOAT32, 2, (int32_t[]){3, 2}, 0);
  m.tensors[1] = tensor("out", TFL_TYPE_FLOAT32, 2, (int32_t[]){2, 2}, 0);
  m.tensors[2] = tensor("indices", TFL_TYPE_INT32, 2, (int32_t[]){2, 1}, 0);
  m.num_inputs = 2;
  m.inputs[1] = 2;
  m.operators[0].num_inputs = 2;
  m.operators[0].inputs[1] = 2;
  kiln_model *model = NULL;
  kiln_session *s = NULL;
  CHECK_OK(load(&m, &model));
  if (!model) return;
  CHECK_OK(kiln_session_create(model, NULL, &s));
  float params[6] = {1, 2, 3, 4, 5, 6}, out[4];
  int32_t indices[2] = {2, 0};
  int64_t pdims[2] = {3, 2}, idims[2] = {2, 1};
  CHECK_OK(kiln_session_set_input(s, 0, KILN_FLOAT32, pdims, 2, params,
                                  sizeof params));
  CHECK_OK(kiln_session_set_input(s, 1, KILN_INT32, idims, 2, indices,
                                  sizeof indices));
  CHECK_OK(kiln_session_invoke(s));
  CHECK_OK(kiln_session_get_output(s, 0, out, sizeof out));
  CHECK(out[0] == 5 && out[1] == 6 && out[2] == 1 && out[3] == 2);
  indices[1] = 3;
  CHECK_OK(kiln_session_set_input(s, 1, KILN_INT32, idims, 2, indices,
                                  sizeof indices));
  CHECK_ERROR(kiln_session_invoke(s), KILN_ERR_RUNTIME,
              "operator 0 (GATHER_ND): GATHER_ND: index 3 in row 1, column 0 "
              "of indices is out of range [0, 3)");
  kiln_session_free(s);
  kiln_model_free(model);
}

int main(void) {
  kiln_test_seed(0x7f11);
  test_int8_space_to_depth_runs();
  test_bad_options_and_quantization();
  test_gather_nd_index_at_invoke();
  return kiln_test_finish("test_tflite_movement");
}
