/* test_tflite_misc.c - the options of issue 9's remaining builtins through
 * the whole public path on hand-built .tflite files: BUCKETIZE's
 * boundaries read from the file (unsorted ones refused at prepare, sorted
 * ones bucketing a session's input), FAKE_QUANT's narrow_range and bad
 * num_bits, EMBEDDING_LOOKUP_SPARSE's combiner, options of the wrong union
 * type, and a complex64 RFFT2D output read back through a session. */
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

static tb_field field(int slot, char kind, int32_t value, float f) {
  tb_field x;
  memset(&x, 0, sizeof x);
  x.slot = slot;
  x.kind = kind;
  x.i = value;
  x.f = f;
  return x;
}

/* One operator from tensor 0 (the input) to tensor 1 (the output). */
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

/* float [6] -> BUCKETIZE(boundaries) -> int32 [6]; the boundaries travel
 * as the int32 vector field's bit patterns (both are 4-byte elements). */
static void bucketize_model(tb_model *m, const float *bounds, int count) {
  one_op_model(m, TFL_OP_BUCKETIZE, TFL_OPT_BUCKETIZE);
  m->num_tensors = 2;
  m->tensors[0] = tensor("x", TFL_TYPE_FLOAT32, 1, (int32_t[]){6}, 0);
  m->tensors[1] = tensor("y", TFL_TYPE_INT32, 1, (int32_t[]){6}, 0);
  tb_field f = field(TFL_BUCKETIZE_BOUNDARIES, 'v', 0, 0);
  f.vec_len = count;
  memcpy(f.vec, bounds, sizeof(float) * (size_t)count);
  m->operators[0].num_options = 1;
  m->operators[0].options[0] = f;
}

static void test_bucketize(void) {
  tb_model m;
  kiln_model *model = NULL;
  kiln_session *s = NULL;
  bucketize_model(&m, (float[]){0.0f, 2.0f, 1.0f}, 3);
  CHECK_OK(load(&m, &model));
  CHECK_ERROR(kiln_session_create(model, NULL, &s), KILN_ERR_INVALID_MODEL,
              "operator 0 (BUCKETIZE): boundaries must be sorted ascending, "
              "but boundary 2 (1) is below boundary 1 (2)");
  kiln_model_free(model);
  model = NULL;
  bucketize_model(&m, (float[]){-1.0f, 0.5f, 0.5f, 3.0f}, 4);
  CHECK_OK(load(&m, &model));
  if (!model) return;
  CHECK_OK(kiln_session_create(model, NULL, &s));
  float x[6] = {-2.0f, -1.0f, 0.4f, 0.5f, 2.9f, 7.0f};
  int32_t y[6], want[6] = {0, 1, 1, 3, 3, 4};
  int64_t dims[1] = {6};
  CHECK_OK(kiln_session_set_input(s, 0, KILN_FLOAT32, dims, 1, x, sizeof x));
  CHECK_OK(kiln_session_invoke(s));
  CHECK_OK(kiln_session_get_output(s, 0, y, sizeof y));
  CHECK(memcmp(y, want, sizeof y) == 0);
  kiln_session_free(s);
  kiln_model_free(model);
  /* options of another union type are refused, naming the expected one */
  bucketize_model(&m, (float[]){1.0f}, 1);
  m.operators[0].options_type = TFL_OPT_FAKE_QUANT;
  CHECK_ERROR(load(&m, &model), KILN_ERR_INVALID_MODEL,
              "builtin options have union type 58, expected BucketizeOptions "
              "(115)");
}

static void test_fake_quant_options(void) {
  tb_model m;
  kiln_model *model = NULL;
  one_op_model(&m, TFL_OP_FAKE_QUANT, TFL_OPT_FAKE_QUANT);
  m.num_tensors = 2;
  m.tensors[0] = tensor("x", TFL_TYPE_FLOAT32, 1, (int32_t[]){3}, 0);
  m.tensors[1] = tensor("y", TFL_TYPE_FLOAT32, 1, (int32_t[]){3}, 0);
  m.operators[0].num_options = 4;
  m.operators[0].options[0] = field(TFL_FAKE_QUANT_MIN, 'f', 0, -1.0f);
  m.operators[0].options[1] = field(TFL_FAKE_QUANT_MAX, 'f', 0, 1.0f);
  m.operators[0].options[2] = field(TFL_FAKE_QUANT_NUM_BITS, 'i', 8, 0);
  m.operators[0].options[3] = field(TFL_FAKE_QUANT_NARROW_RANGE, 'b', 1, 0);
  CHECK_ERROR(load(&m, &model), KILN_ERR_UNSUPPORTED,
              "operator 0 (FAKE_QUANT): FakeQuantOptions: narrow_range "
              "FAKE_QUANT is not supported");
  m.operators[0].options[3] = field(TFL_FAKE_QUANT_NARROW_RANGE, 'b', 0, 0);
  m.operators[0].options[2] = field(TFL_FAKE_QUANT_NUM_BITS, 'i', 40, 0);
  CHECK_OK(load(&m, &model));
  kiln_session *s = NULL;
  if (model)
    CHECK_ERROR(kiln_session_create(model, NULL, &s), KILN_ERR_INVALID_MODEL,
                "operator 0 (FAKE_QUANT): num_bits is 40");
  kiln_model_free(model);
}

static void test_embedding_sparse_combiner(void) {
  tb_model m;
  kiln_model *model = NULL;
  one_op_model(&m, TFL_OP_EMBEDDING_LOOKUP_SPARSE,
               TFL_OPT_EMBEDDING_LOOKUP_SPARSE);
  m.num_tensors = 2;
  m.tensors[0] = tensor("x", TFL_TYPE_INT32, 1, (int32_t[]){3}, 0);
  m.tensors[1] = tensor("y", TFL_TYPE_FLOAT32, 1, (int32_t[]){3}, 0);
  m.operators[0].num_options = 1;
  m.operators[0].options[0] = field(TFL_ELS_COMBINER, 'b', 7, 0);
  CHECK_ERROR(load(&m, &model), KILN_ERR_INVALID_MODEL,
              "EmbeddingLookupSparseOptions: combiner 7 is not SUM (0), MEAN "
              "(1) or SQRTN (2)");
}

/* float [2, 4] -> RFFT2D(fft_length [2, 4], a constant) -> complex64
 * [2, 3], read back through the session as pairs of floats. */
static void test_rfft2d_session(void) {
  tb_model m;
  one_op_model(&m, TFL_OP_RFFT2D, 0);
  m.num_tensors = 3;
  m.tensors[0] = tensor("x", TFL_TYPE_FLOAT32, 2, (int32_t[]){2, 4}, 0);
  m.tensors[1] = tensor("y", TFL_TYPE_COMPLEX64, 2, (int32_t[]){2, 3}, 0);
  m.tensors[2] = tensor("len", TFL_TYPE_INT32, 1, (int32_t[]){2}, 1);
  static const int32_t len[2] = {2, 4};
  m.num_buffers = 2;
  m.buffers[1].data = len;
  m.buffers[1].size = sizeof len;
  m.operators[0].num_inputs = 2;
  m.operators[0].inputs[1] = 2;
  kiln_model *model = NULL;
  CHECK_OK(load(&m, &model));
  if (!model) return;
  kiln_session *s = NULL;
  CHECK_OK(kiln_session_create(model, NULL, &s));
  kiln_tensor_info info;
  CHECK_OK(kiln_session_output_info(s, 0, &info));
  CHECK(info.dtype == KILN_COMPLEX64 && info.rank == 2 && info.dims[1] == 3);
  float x[8] = {1, 2, 3, 4, 0, 1, 0, -1}, y[12];
  int64_t dims[2] = {2, 4};
  CHECK_OK(kiln_session_set_input(s, 0, KILN_FLOAT32, dims, 2, x, sizeof x));
  CHECK_OK(kiln_session_invoke(s));
  CHECK_OK(kiln_session_get_output(s, 0, y, sizeof y));
  /* the 2-D DFT by its definition */
  for (int u = 0; u < 2; u++)
    for (int v = 0; v < 3; v++) {
      double re = 0, im = 0;
      for (int r = 0; r < 2; r++)
        for (int c = 0; c < 4; c++) {
          double a = -2 * 3.14159265358979323846 * (u * r / 2.0 + v * c / 4.0);
          re += x[r * 4 + c] * cos(a);
          im += x[r * 4 + c] * sin(a);
        }
      CHECK(fabs(y[2 * (u * 3 + v)] - re) < 1e-5 &&
            fabs(y[2 * (u * 3 + v) + 1] - im) < 1e-5);
    }
  kiln_session_free(s);
  kiln_model_free(model);
}

int main(void) {
  test_bucketize();
  test_fake_quant_options();
  test_embedding_sparse_combiner();
  test_rfft2d_session();
  return kiln_test_finish("test_tflite_misc");
}
