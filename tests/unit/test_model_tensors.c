/* test_model_tensors.c - kiln_model_tensor_info, what `kiln info --tensors`
 * lists: every value of the loaded graph with its type, shape and
 * quantization, constants flagged, values the load-time passes left
 * unreferenced flagged unused, and clean errors for bad arguments. The
 * models are built in C: an int8 CONV_2D with per-channel weights, and a
 * float ADD of a float16 constant whose DEQUANTIZE is folded at load. */
#include <stdlib.h>
#include <string.h>

#include "formats/tflite/tflite_schema.h"
#include "harness.h"
#include "tflite_builder.c"

static const int8_t filter_data[3 * 2 * 2 * 2] = {
    1,  -2, 3,  4,  5,  6,  -7, 8,  9,  10, 11, 12,
    13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24};
static const int32_t bias_data[3] = {5, -5, 15};

static tb_tensor int_tensor(const char *name, int8_t type, int rank,
                            const int32_t *shape, uint32_t buffer, float scale,
                            int64_t zero_point) {
  tb_tensor t;
  memset(&t, 0, sizeof t);
  t.name = name;
  t.type = type;
  t.rank = rank;
  memcpy(t.shape, shape, sizeof(int32_t) * (size_t)rank);
  t.buffer = buffer;
  t.quant_count = 1;
  t.scale[0] = scale;
  t.zero_point[0] = zero_point;
  return t;
}

/* image [1,4,4,2] int8 -> CONV_2D (per-channel filter [3,2,2,2]) -> conv
 * -> RELU -> relu (the output). */
static void build(tb_model *m) {
  memset(m, 0, sizeof *m);
  m->num_opcodes = 2;
  m->opcodes[0] = (tb_opcode){TFL_OP_CONV_2D, TFL_OP_CONV_2D, NULL};
  m->opcodes[1] = (tb_opcode){TFL_OP_RELU, TFL_OP_RELU, NULL};
  m->num_tensors = 5;
  m->tensors[0] = int_tensor("image", TFL_TYPE_INT8, 4, (int32_t[]){1, 4, 4, 2},
                             0, 0.5f, -3);
  m->tensors[1] = int_tensor("filter", TFL_TYPE_INT8, 4,
                             (int32_t[]){3, 2, 2, 2}, 1, 0.f, 0);
  tb_tensor *filter = &m->tensors[1];
  filter->quant_count = 3;
  filter->scale[0] = 0.25f;
  filter->scale[1] = 0.125f;
  filter->scale[2] = 0.5f;
  m->tensors[2] =
      int_tensor("bias", TFL_TYPE_INT32, 1, (int32_t[]){3}, 2, 0.f, 0);
  tb_tensor *bias = &m->tensors[2];
  bias->quant_count = 3;
  for (int c = 0; c < 3; c++) bias->scale[c] = 0.5f * filter->scale[c];
  m->tensors[3] = int_tensor("conv", TFL_TYPE_INT8, 4, (int32_t[]){1, 3, 3, 3},
                             0, 0.75f, 2);
  m->tensors[4] = int_tensor("relu", TFL_TYPE_INT8, 4, (int32_t[]){1, 3, 3, 3},
                             0, 0.75f, 2);
  m->num_inputs = 1;
  m->inputs[0] = 0;
  m->num_outputs = 1;
  m->outputs[0] = 4;
  m->num_operators = 2;
  tb_operator *conv = &m->operators[0];
  conv->num_inputs = 3;
  memcpy(conv->inputs, (int32_t[]){0, 1, 2}, 3 * sizeof(int32_t));
  conv->num_outputs = 1;
  conv->outputs[0] = 3;
  conv->options_type = TFL_OPT_CONV2D;
  conv->num_options = 3;
  conv->options[0] =
      (tb_field){.slot = TFL_CONV2D_PADDING, .kind = 'b', .i = KILN_PAD_VALID};
  conv->options[1] =
      (tb_field){.slot = TFL_CONV2D_STRIDE_W, .kind = 'i', .i = 1};
  conv->options[2] =
      (tb_field){.slot = TFL_CONV2D_STRIDE_H, .kind = 'i', .i = 1};
  tb_operator *relu = &m->operators[1];
  relu->opcode_index = 1;
  relu->num_inputs = 1;
  relu->inputs[0] = 3;
  relu->num_outputs = 1;
  relu->outputs[0] = 4;
  m->num_buffers = 3;
  m->buffers[1] = (tb_buffer){.data = filter_data, .size = sizeof filter_data};
  m->buffers[2] = (tb_buffer){.data = bias_data, .size = sizeof bias_data};
}

static int find(const kiln_model *model, const char *name) {
  for (int i = 0; i < kiln_model_num_tensors(model); i++) {
    kiln_tensor_info t;
    CHECK_OK(kiln_model_tensor_info(model, i, &t, NULL));
    if (strcmp(t.name, name) == 0) return i;
  }
  return -1;
}

static void test_tensors(void) {
  tb_model m;
  build(&m);
  size_t size = 0;
  uint8_t *bytes = tb_build(&m, &size);
  kiln_model *model = NULL;
  CHECK_OK(kiln_model_load_buffer(bytes, size, "tensors.tflite", NULL, &model));
  free(bytes);
  if (!model) return;
  CHECK(kiln_model_num_tensors(model) >= 5);
  kiln_model_stats stats;
  CHECK_OK(kiln_model_stats_get(model, &stats));

  kiln_tensor_info t;
  int flags = -1;
  int filter = find(model, "filter");
  CHECK(filter >= 0);
  CHECK_OK(kiln_model_tensor_info(model, filter, &t, &flags));
  CHECK(flags == KILN_TENSOR_CONSTANT);
  CHECK(t.dtype == KILN_INT8 && t.rank == 4 && t.dims[0] == 3);
  CHECK(t.quant.count == 3 && t.quant.axis == 0);
  CHECK(t.quant.scale[0] == 0.25f && t.quant.scale[2] == 0.5f);
  CHECK(t.quant.zero_point[1] == 0);

  int image = find(model, "image");
  CHECK_OK(kiln_model_tensor_info(model, image, &t, &flags));
  CHECK(flags == 0);
  CHECK(t.quant.count == 1 && t.quant.scale[0] == 0.5f &&
        t.quant.zero_point[0] == -3);

  /* Nothing is folded here: every tensor is live, none else constant. */
  for (int i = 0; i < kiln_model_num_tensors(model); i++) {
    CHECK_OK(kiln_model_tensor_info(model, i, &t, &flags));
    CHECK(!(flags & KILN_TENSOR_UNUSED));
    CHECK((flags == KILN_TENSOR_CONSTANT) ==
          (strcmp(t.name, "filter") == 0 || strcmp(t.name, "bias") == 0));
  }
  CHECK(stats.num_nodes == stats.num_source_ops);

  CHECK_ERROR(kiln_model_tensor_info(model, -1, &t, NULL),
              KILN_ERR_INVALID_ARGUMENT, "tensor index -1 is out of range");
  CHECK_ERROR(
      kiln_model_tensor_info(model, kiln_model_num_tensors(model), &t, NULL),
      KILN_ERR_INVALID_ARGUMENT, "out of range");
  CHECK_ERROR(kiln_model_tensor_info(model, 0, NULL, NULL),
              KILN_ERR_INVALID_ARGUMENT, "NULL");
  CHECK_ERROR(kiln_model_tensor_info(NULL, 0, &t, NULL),
              KILN_ERR_INVALID_ARGUMENT, "NULL");
  CHECK(kiln_model_num_tensors(NULL) == 0);
  kiln_model_free(model);
}

/* x [1,4] + DEQUANTIZE(w: float16 [4], constant): constant folding
 * computes the DEQUANTIZE once, so w is no longer referenced. */
static void test_folded(void) {
  static const uint16_t half_weights[4] = {0x3c00, 0x4000, 0xbc00, 0x3800};
  tb_model m;
  memset(&m, 0, sizeof m);
  m.num_opcodes = 2;
  m.opcodes[0] = (tb_opcode){TFL_OP_DEQUANTIZE, TFL_OP_DEQUANTIZE, NULL};
  m.opcodes[1] = (tb_opcode){TFL_OP_ADD, TFL_OP_ADD, NULL};
  m.num_tensors = 4;
  const char *names[4] = {"x", "w", "w_float", "sum"};
  for (int i = 0; i < 4; i++) {
    m.tensors[i] = (tb_tensor){
        .name = names[i], .type = TFL_TYPE_FLOAT32, .rank = 2, .shape = {1, 4}};
  }
  m.tensors[1].type = TFL_TYPE_FLOAT16;
  m.tensors[1].buffer = 1;
  m.num_inputs = 1;
  m.inputs[0] = 0;
  m.num_outputs = 1;
  m.outputs[0] = 3;
  m.num_operators = 2;
  m.operators[0] = (tb_operator){.opcode_index = 0,
                                 .num_inputs = 1,
                                 .inputs = {1},
                                 .num_outputs = 1,
                                 .outputs = {2}};
  m.operators[1] = (tb_operator){.opcode_index = 1,
                                 .num_inputs = 2,
                                 .inputs = {0, 2},
                                 .num_outputs = 1,
                                 .outputs = {3}};
  m.num_buffers = 2;
  m.buffers[1] = (tb_buffer){.data = half_weights, .size = sizeof half_weights};
  size_t size = 0;
  uint8_t *bytes = tb_build(&m, &size);
  kiln_model *model = NULL;
  CHECK_OK(kiln_model_load_buffer(bytes, size, "folded.tflite", NULL, &model));
  free(bytes);
  if (!model) return;
  kiln_model_stats stats;
  CHECK_OK(kiln_model_stats_get(model, &stats));
  CHECK(stats.folded_constants == 1 && stats.num_nodes == 1);
  int unused = 0;
  for (int i = 0; i < kiln_model_num_tensors(model); i++) {
    kiln_tensor_info t;
    int flags = 0;
    CHECK_OK(kiln_model_tensor_info(model, i, &t, &flags));
    if (strcmp(t.name, "w") == 0)
      CHECK(flags == (KILN_TENSOR_CONSTANT | KILN_TENSOR_UNUSED) &&
            t.dtype == KILN_FLOAT16);
    if (strcmp(t.name, "w_float") == 0)
      CHECK(flags == KILN_TENSOR_CONSTANT && t.dtype == KILN_FLOAT32);
    if (strcmp(t.name, "x") == 0 || strcmp(t.name, "sum") == 0)
      CHECK(flags == 0);
    unused += (flags & KILN_TENSOR_UNUSED) != 0;
  }
  CHECK(unused == 1);
  kiln_model_free(model);
}

int main(void) {
  test_tensors();
  test_folded();
  return kiln_test_finish("model_tensors");
}
