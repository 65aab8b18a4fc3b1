/* test_tflite_import.c - the TFLite importer on models built in C: values,
 * attributes, quantization, signature names, external buffers, and clean
 * failures on truncated, random, oversized and unsupported input.
 *
 * `test_tflite_import --write-corpus DIR` writes the fuzzing seeds. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/graph.h"
#include "core/op_attrs.h"
#include "core/status.h"
#include "formats/tflite/tflite_import.h"
#include "formats/tflite/tflite_schema.h"
#include "harness.h"
#include "tflite_builder.c"

#define SOURCE "test.tflite"

static const float filter_data[24] = {
    1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12,
    13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24,
};
static const float bias_data[3] = {0.5f, -0.5f, 1.5f};

static tb_tensor float_tensor(const char *name, int rank, const int32_t *shape,
                              uint32_t buffer) {
  tb_tensor t;
  memset(&t, 0, sizeof t);
  t.name = name;
  t.type = TFL_TYPE_FLOAT32;
  t.rank = rank;
  memcpy(t.shape, shape, sizeof(int32_t) * (size_t)rank);
  t.buffer = buffer;
  return t;
}

static void set_signature(tb_tensor *t, const int32_t *signature) {
  t->has_signature = true;
  t->sig_rank = t->rank;
  memcpy(t->signature, signature, sizeof(int32_t) * (size_t)t->rank);
}

static tb_field field(int slot, char kind, int32_t value) {
  tb_field f;
  memset(&f, 0, sizeof f);
  f.slot = slot;
  f.kind = kind;
  f.i = value;
  return f;
}

/* image [-1,4,4,2] -> CONV_2D (VALID, stride 2x1, RELU6) -> RELU; outputs
 * the RELU (signature "scores") and the convolution (no signature entry).
 * Buffer 3 holds the filter and is written first, so it ends the file. */
static void conv_model(tb_model *m) {
  memset(m, 0, sizeof *m);
  m->num_opcodes = 2;
  m->opcodes[0] = (tb_opcode){0, TFL_OP_CONV_2D, NULL}; /* old-style code */
  m->opcodes[1] = (tb_opcode){TFL_OP_RELU, TFL_OP_RELU, NULL};

  m->num_tensors = 5;
  m->tensors[0] = float_tensor("image", 4, (int32_t[]){1, 4, 4, 2}, 1);
  set_signature(&m->tensors[0], (int32_t[]){-1, 4, 4, 2});
  m->tensors[1] = float_tensor("filter", 4, (int32_t[]){3, 2, 2, 2}, 3);
  tb_tensor *filter = &m->tensors[1];
  filter->quant_count = 3;
  filter->scale[0] = 0.5f;
  filter->scale[1] = 0.25f;
  filter->scale[2] = 0.125f;
  filter->zero_point[1] = 1;
  filter->zero_point[2] = -1;
  m->tensors[2] = float_tensor("bias", 1, (int32_t[]){3}, 2);
  m->tensors[3] = float_tensor("conv", 4, (int32_t[]){1, 2, 3, 3}, 0);
  set_signature(&m->tensors[3], (int32_t[]){-1, 2, 3, 3});
  m->tensors[4] = float_tensor("relu", 4, (int32_t[]){1, 2, 3, 3}, 0);
  set_signature(&m->tensors[4], (int32_t[]){-1, 2, 3, 3});

  m->num_inputs = 1;
  m->inputs[0] = 0;
  m->num_outputs = 2;
  m->outputs[0] = 4;
  m->outputs[1] = 3;

  m->num_operators = 2;
  tb_operator *conv = &m->operators[0];
  conv->opcode_index = 0;
  conv->num_inputs = 3;
  memcpy(conv->inputs, (int32_t[]){0, 1, 2}, 3 * sizeof(int32_t));
  conv->num_outputs = 1;
  conv->outputs[0] = 3;
  conv->options_type = TFL_OPT_CONV2D;
  conv->num_options = 4;
  conv->options[0] = field(TFL_CONV2D_PADDING, 'b', KILN_PAD_VALID);
  conv->options[1] = field(TFL_CONV2D_STRIDE_W, 'i', 1);
  conv->options[2] = field(TFL_CONV2D_STRIDE_H, 'i', 2);
  conv->options[3] = field(TFL_CONV2D_ACTIVATION, 'b', KILN_ACT_RELU6);
  tb_operator *relu = &m->operators[1];
  relu->opcode_index = 1;
  relu->num_inputs = 1;
  relu->inputs[0] = 3;
  relu->num_outputs = 1;
  relu->outputs[0] = 4;

  m->num_buffers = 4;
  m->buffers[2] = (tb_buffer){.data = bias_data, .size = sizeof bias_data};
  m->buffers[3] = (tb_buffer){.data = filter_data, .size = sizeof filter_data};

  m->has_signature = true;
  m->signature_key = "serving_default";
  m->num_sig_inputs = 1;
  m->sig_inputs[0] = (tb_tensor_map){"image_in", 0};
  m->num_sig_outputs = 1;
  m->sig_outputs[0] = (tb_tensor_map){"scores", 4};
}

/* Imports a model description and frees the graph (its constants point
 * into the bytes); *out is NULL afterwards. */
static kiln_status *import_model(const tb_model *m, kiln_graph **out) {
  size_t size;
  uint8_t *bytes = tb_build(m, &size);
  kiln_status *st = kiln_tflite_import(bytes, size, SOURCE, NULL, out);
  kiln_graph_free(*out);
  *out = NULL;
  free(bytes);
  return st;
}

static void expect_failure(const tb_model *m, kiln_status_code code,
                           const char *needle) {
  kiln_graph *g = (kiln_graph *)1;
  CHECK_ERROR(import_model(m, &g), code, needle);
  CHECK(g == NULL);
}

static void check_dims(const int64_t *dims, int rank, const int64_t *expect) {
  for (int d = 0; d < rank; d++) CHECK(dims[d] == expect[d]);
}

static void check_conv_graph(const kiln_graph *g) {
  CHECK(g->num_values == 5);
  const kiln_value *image = &g->values[0];
  CHECK(strcmp(image->name, "image") == 0);
  CHECK(image->dtype == KILN_FLOAT32 && image->rank == 4);
  check_dims(image->dims, 4, (int64_t[]){1, 4, 4, 2});
  check_dims(image->signature, 4, (int64_t[]){-1, 4, 4, 2});
  CHECK(!image->is_constant && image->quant.count == 0);

  const kiln_value *filter = &g->values[1];
  CHECK(filter->is_constant && filter->nbytes == sizeof filter_data);
  CHECK(filter->data &&
        memcmp(filter->data, filter_data, sizeof filter_data) == 0);
  CHECK((uintptr_t)filter->data % 4 == 0);
  CHECK(filter->quant.count == 3 && filter->quant.axis == 0);
  CHECK(filter->quant.scale[0] == 0.5f && filter->quant.scale[2] == 0.125f);
  CHECK(filter->quant.zero_point[1] == 1 && filter->quant.zero_point[2] == -1);
  CHECK(g->values[2].is_constant && g->values[2].nbytes == 12);
  CHECK(memcmp(g->values[2].data, bias_data, sizeof bias_data) == 0);

  const kiln_value *relu = &g->values[4];
  check_dims(relu->dims, 4, (int64_t[]){1, 2, 3, 3});
  check_dims(relu->signature, 4, (int64_t[]){-1, 2, 3, 3});

  CHECK(g->num_nodes == 2);
  const kiln_node *conv = &g->nodes[0];
  CHECK(conv->op == KILN_OP_CONV_2D && conv->source_index == 0);
  CHECK(conv->num_inputs == 3 && conv->inputs[1] == 1 && conv->inputs[2] == 2);
  CHECK(conv->num_outputs == 1 && conv->outputs[0] == 3);
  const kiln_conv_attrs *a = conv->attrs;
  CHECK(a->padding == KILN_PAD_VALID && a->activation == KILN_ACT_RELU6);
  CHECK(a->stride_w == 1 && a->stride_h == 2);
  CHECK(a->dilation_w == 1 && a->dilation_h == 1); /* schema default */
  CHECK(g->nodes[1].op == KILN_OP_RELU && g->nodes[1].inputs[0] == 3);

  CHECK(g->num_inputs == 1 && g->inputs[0] == 0);
  CHECK(strcmp(g->input_names[0], "image_in") == 0);
  CHECK(g->num_outputs == 2 && g->outputs[0] == 4 && g->outputs[1] == 3);
  CHECK(strcmp(g->output_names[0], "scores") == 0);
  CHECK(strcmp(g->output_names[1], "conv") == 0); /* no signature entry */
  CHECK(g->num_source_ops == 2);
  CHECK(strcmp(g->source_ops[0], "CONV_2D") == 0);
  CHECK(strcmp(g->source_ops[1], "RELU") == 0);
}

static void test_conv_model(void) {
  tb_model m;
  conv_model(&m);
  size_t size;
  uint8_t *bytes = tb_build(&m, &size);
  kiln_graph *g = NULL;
  CHECK_OK(kiln_tflite_import(bytes, size, SOURCE, NULL, &g));
  CHECK(kiln_tflite_detect(bytes, size));
  if (g) {
    check_conv_graph(g);
    /* Aligned constants point straight into the file. */
    CHECK(g->values[1].owned_data == NULL);
    CHECK((const uint8_t *)g->values[1].data > bytes &&
          (const uint8_t *)g->values[1].data < bytes + size);
  }
  kiln_graph_free(g);
  free(bytes);
}

/* Shifting the whole file by one byte misaligns every constant: the
 * importer must copy them. */
static void test_unaligned_constants(void) {
  tb_model m;
  conv_model(&m);
  size_t size;
  uint8_t *bytes = tb_build(&m, &size);
  uint8_t *shifted = malloc(size + 1);
  memcpy(shifted + 1, bytes, size);
  kiln_graph *g = NULL;
  CHECK_OK(kiln_tflite_import(shifted + 1, size, SOURCE, NULL, &g));
  if (g) {
    check_conv_graph(g);
    CHECK(g->values[1].owned_data &&
          g->values[1].data == g->values[1].owned_data);
  }
  kiln_graph_free(g);
  free(shifted);
  free(bytes);
}

static void test_external_buffers(void) {
  tb_model m;
  conv_model(&m);
  m.buffers[2].external = true;
  m.buffers[3].external = true;
  size_t size;
  uint8_t *bytes = tb_build(&m, &size);
  kiln_graph *g = NULL;
  CHECK_OK(kiln_tflite_import(bytes, size, SOURCE, NULL, &g));
  if (g) {
    check_conv_graph(g);
    /* The data follows the flatbuffer: the last 16-aligned blocks. */
    const uint8_t *filter = g->values[1].data;
    CHECK(filter == bytes + size - 96);
    CHECK(g->values[1].owned_data == NULL);
  }
  kiln_graph_free(g);
  /* Cut the file inside the external data: the filter's buffer now ends
   * past it. */
  CHECK_ERROR(kiln_tflite_import(bytes, size - 1, SOURCE, NULL, &g),
              KILN_ERR_INVALID_MODEL,
              "operator 0 (CONV_2D): input 1 is tensor 1 ('filter'): buffer 3 "
              "ends past the file");
  CHECK(g == NULL);
  free(bytes);
}

static void test_offset_past_end(void) {
  tb_model m;
  conv_model(&m);
  m.buffers[3] = (tb_buffer){.raw = true, .raw_offset = 123456, .raw_size = 96};
  expect_failure(&m, KILN_ERR_INVALID_MODEL,
                 SOURCE
                 ": operator 0 (CONV_2D): input 1 is tensor 1 "
                 "('filter'): buffer 3 ends past the file (offset "
                 "123456, size 96, file ");
  /* Offset overflow: offset + size wraps around 2^64. */
  m.buffers[3].raw_offset = UINT64_MAX - 8;
  expect_failure(&m, KILN_ERR_INVALID_MODEL, "ends past the file");
  /* Offset 1 is the "not stored outside" sentinel: no data, so the filter
   * is neither produced nor constant. */
  m.buffers[3].raw_offset = 1;
  expect_failure(&m, KILN_ERR_INVALID_MODEL, "which no earlier operator");
}

static void test_size_mismatch(void) {
  tb_model m;
  conv_model(&m);
  m.buffers[2].size = 8;
  expect_failure(&m, KILN_ERR_INVALID_MODEL,
                 "input 2 is tensor 2 ('bias'): buffer 2 holds 8 bytes but "
                 "shape [3] of float32 needs 12");
  /* An unused tensor's buffer is checked too, named by the tensor. */
  conv_model(&m);
  m.num_tensors = 6;
  m.tensors[5] = float_tensor("spare", 1, (int32_t[]){5}, 2);
  expect_failure(&m, KILN_ERR_INVALID_MODEL,
                 SOURCE ": tensor 5 ('spare'): buffer 2 holds 12 bytes");
  conv_model(&m);
  m.tensors[2].buffer = 9;
  expect_failure(&m, KILN_ERR_INVALID_MODEL,
                 "buffer 9 does not exist (the model has 4 buffers)");
}

static void test_truncated(void) {
  tb_model m;
  conv_model(&m);
  size_t size;
  uint8_t *bytes = tb_build(&m, &size);
  int bad = 0;
  for (size_t n = 0; n < size; n++) {
    uint8_t *copy = malloc(n ? n : 1); /* exact size: ASan sees overreads */
    memcpy(copy, bytes, n);
    kiln_graph *g = (kiln_graph *)1;
    kiln_status *st = kiln_tflite_import(copy, n, SOURCE, NULL, &g);
    if (!st || g != NULL ||
        kiln_status_get_code(st) != KILN_ERR_INVALID_MODEL ||
        strncmp(kiln_status_message(st), SOURCE ": ", strlen(SOURCE) + 2)) {
      if (bad++ < 3)
        fprintf(stderr, "prefix %zu of %zu: %s\n", n, size,
                st ? kiln_status_message(st) : "imported");
    }
    if (!st) kiln_graph_free(g);
    kiln_status_free(st);
    free(copy);
  }
  CHECK(bad == 0);
  free(bytes);
}

/* Random bytes, plausible headers and corrupted models: every result is a
 * graph or a status whose message starts with the source, never both. */
static void check_clean(const uint8_t *data, size_t size, int *imported) {
  kiln_graph *g = (kiln_graph *)1;
  kiln_status *st = kiln_tflite_import(data, size, SOURCE, NULL, &g);
  if (st) {
    CHECK(g == NULL);
    if (strncmp(kiln_status_message(st), SOURCE ": ", strlen(SOURCE) + 2))
      CHECK(!"message without the source");
  } else {
    CHECK(g != NULL);
    (*imported)++;
    kiln_graph_free(g);
  }
  kiln_status_free(st);
}

static void test_random_bytes(void) {
  int imported = 0;
  for (uint64_t seed = 1; seed <= 3000; seed++) {
    kiln_test_seed(seed);
    size_t n = (size_t)kiln_test_int(0, 700);
    uint8_t *data = malloc(n ? n : 1);
    for (size_t i = 0; i < n; i++) data[i] = (uint8_t)kiln_test_rand();
    if (n >= 8 && seed % 2) {
      memcpy(data + 4, "TFL3", 4);
      uint32_t root = (uint32_t)kiln_test_int(8, 64);
      for (int k = 0; k < 4; k++) data[k] = (uint8_t)(root >> (8 * k));
    }
    check_clean(data, n, &imported);
    free(data);
  }
  CHECK(imported == 0);
}

static void test_corrupted_models(void) {
  tb_model m;
  conv_model(&m);
  size_t size;
  uint8_t *bytes = tb_build(&m, &size);
  uint8_t *copy = malloc(size);
  int imported = 0;
  static const uint8_t values[] = {0x00, 0xff, 0x7f, 0x80, 0x01};
  for (size_t i = 0; i < size; i++)
    for (size_t v = 0; v < sizeof values; v++) {
      memcpy(copy, bytes, size);
      copy[i] = values[v];
      check_clean(copy, size, &imported);
    }
  kiln_test_seed(7);
  for (int round = 0; round < 3000; round++) {
    memcpy(copy, bytes, size);
    int flips = kiln_test_int(1, 8);
    for (int f = 0; f < flips; f++)
      copy[kiln_test_int(0, (int)size - 1)] = (uint8_t)kiln_test_rand();
    check_clean(copy, size, &imported);
  }
  CHECK(imported > 0); /* changed weights still import */
  free(copy);
  free(bytes);
}

static void test_shape_overflow(void) {
  tb_model m;
  conv_model(&m);
  m.tensors[0].has_signature = false;
  memcpy(m.tensors[0].shape, (int32_t[]){1 << 30, 1 << 30, 1 << 30, 1 << 30},
         4 * sizeof(int32_t));
  expect_failure(&m, KILN_ERR_INVALID_MODEL,
                 SOURCE
                 ": tensor 'image': the product of its "
                 "dimensions overflows");
  conv_model(&m);
  m.tensors[0].shape[1] = -7;
  expect_failure(&m, KILN_ERR_INVALID_MODEL,
                 "tensor 0 ('image'): dimension 1 is negative");
  conv_model(&m);
  m.tensors[0].rank = 9;
  m.tensors[0].has_signature = false;
  expect_failure(&m, KILN_ERR_UNSUPPORTED,
                 "tensor 0 ('image'): 9 dimensions; kiln supports up to 8");
  conv_model(&m);
  m.tensors[0].signature[2] = 5;
  expect_failure(&m, KILN_ERR_INVALID_MODEL,
                 "dimension 2 is 4 in its shape but 5 in its shape_signature");
  conv_model(&m);
  m.tensors[0].rank = 3;
  expect_failure(&m, KILN_ERR_INVALID_MODEL,
                 "its shape has 3 dimensions but its shape_signature 4");
}

/* -1 in a shape without a signature, and a signature without a shape, are
 * dynamic dimensions whose default size is 1. */
static void test_dynamic_dims(void) {
  tb_model m;
  conv_model(&m);
  m.tensors[4].has_signature = false;
  m.tensors[4].shape[0] = -1;
  m.tensors[0].rank = 0; /* shape missing: the signature gives the rank */
  size_t size;
  uint8_t *bytes = tb_build(&m, &size);
  kiln_graph *g = NULL;
  CHECK_OK(kiln_tflite_import(bytes, size, SOURCE, NULL, &g));
  if (g) {
    check_dims(g->values[4].dims, 4, (int64_t[]){1, 2, 3, 3});
    check_dims(g->values[4].signature, 4, (int64_t[]){-1, 2, 3, 3});
    CHECK(g->values[0].rank == 4);
    check_dims(g->values[0].dims, 4, (int64_t[]){1, 4, 4, 2});
    check_dims(g->values[0].signature, 4, (int64_t[]){-1, 4, 4, 2});
  }
  kiln_graph_free(g);
  free(bytes);
}

static void test_unsupported_operators(void) {
  tb_model m;
  conv_model(&m);
  m.opcodes[1] = (tb_opcode){30, 30, NULL}; /* SKIP_GRAM */
  expect_failure(&m, KILN_ERR_UNSUPPORTED,
                 SOURCE ": operator 1 (SKIP_GRAM) is not supported by kiln");
  m.opcodes[1] = (tb_opcode){TFL_OP_CUSTOM, TFL_OP_CUSTOM, "MyOp"};
  expect_failure(&m, KILN_ERR_UNSUPPORTED,
                 SOURCE ": operator 1 (custom op 'MyOp') is not supported");
  m.opcodes[1] = (tb_opcode){999, 0, NULL};
  expect_failure(&m, KILN_ERR_UNSUPPORTED,
                 "operator 1 (builtin code 999) is not supported by kiln");
  /* (LSH_PROJECTION served here until kiln ran it) */
  m.opcodes[1] = (tb_opcode){29, 29, NULL}; /* CONCAT_EMBEDDINGS */
  expect_failure(&m, KILN_ERR_UNSUPPORTED, "operator 1 (CONCAT_EMBEDDINGS)");
  conv_model(&m);
  m.operators[1].opcode_index = 7;
  expect_failure(&m, KILN_ERR_INVALID_MODEL,
                 "operator 1: opcode index 7 does not exist");
  conv_model(&m);
  m.operators[0].inputs[1] = 42;
  expect_failure(&m, KILN_ERR_INVALID_MODEL,
                 "operator 0 (CONV_2D): input 1 is tensor 42, which does not "
                 "exist");
  conv_model(&m);
  m.operators[0].outputs[0] = -1;
  expect_failure(&m, KILN_ERR_INVALID_MODEL, "output 0 is tensor -1");
  /* A fourth CONV_2D input would read as kiln's residual: refused. */
  conv_model(&m);
  m.operators[0].num_inputs = 4;
  m.operators[0].inputs[3] = 0;
  expect_failure(&m, KILN_ERR_INVALID_MODEL,
                 "operator 0 (CONV_2D): has 4 inputs; CONV_2D takes at most 3");
}

static void test_unsupported_types(void) {
  tb_model m;
  conv_model(&m);
  m.tensors[0].type = TFL_TYPE_VARIANT;
  expect_failure(&m, KILN_ERR_UNSUPPORTED,
                 SOURCE
                 ": tensor 0 ('image'): type VARIANT is not supported by kiln");
  /* STRING imports, but only the operators that take it accept it. */
  m.tensors[0].type = TFL_TYPE_STRING;
  expect_failure(&m, KILN_ERR_UNSUPPORTED,
                 SOURCE
                 ": operator 0 (CONV_2D): tensor 0 ('image') is a STRING, "
                 "which kiln's CONV_2D does not take");
  m.tensors[0].type = 99;
  expect_failure(&m, KILN_ERR_UNSUPPORTED,
                 "tensor 0 ('image'): unknown tensor type 99");
  /* Every type kiln maps imports. */
  static const int8_t types[] = {
      TFL_TYPE_FLOAT16, TFL_TYPE_INT32,   TFL_TYPE_UINT8,
      TFL_TYPE_INT64,   TFL_TYPE_BOOL,    TFL_TYPE_INT16,
      TFL_TYPE_INT8,    TFL_TYPE_FLOAT64, TFL_TYPE_COMPLEX64};
  static const kiln_dtype dtypes[] = {
      KILN_FLOAT16, KILN_INT32, KILN_UINT8,   KILN_INT64,    KILN_BOOL,
      KILN_INT16,   KILN_INT8,  KILN_FLOAT64, KILN_COMPLEX64};
  for (size_t i = 0; i < sizeof types; i++) {
    m.tensors[0].type = types[i];
    size_t size;
    uint8_t *bytes = tb_build(&m, &size);
    kiln_graph *g = NULL;
    CHECK_OK(kiln_tflite_import(bytes, size, SOURCE, NULL, &g));
    CHECK(g && g->values[0].dtype == dtypes[i]);
    kiln_graph_free(g);
    free(bytes);
  }
}

static void test_quantization_errors(void) {
  tb_model m;
  conv_model(&m);
  m.tensors[1].drop_zero_point = true;
  expect_failure(
      &m, KILN_ERR_INVALID_MODEL,
      "tensor 1 ('filter'): 3 quantization scales but 2 zero points");
  conv_model(&m);
  m.tensors[1].quant_count = 2;
  expect_failure(&m, KILN_ERR_INVALID_MODEL,
                 "2 quantization scales; per-axis quantization needs 3");
  conv_model(&m);
  m.tensors[1].quant_axis = 4;
  expect_failure(&m, KILN_ERR_INVALID_MODEL,
                 "quantized_dimension 4 is outside its 4 dimensions");
  /* Integer tensors: scales positive and finite, zero points in range. */
  const float bad_scales[] = {0.0f, -0.5f, INFINITY, NAN};
  for (int i = 0; i < 4; i++) {
    conv_model(&m);
    m.tensors[0].type = TFL_TYPE_INT8;
    m.tensors[0].quant_count = 1;
    m.tensors[0].scale[0] = bad_scales[i];
    expect_failure(&m, KILN_ERR_INVALID_MODEL,
                   "tensor 0 ('image'): quantization scale 0 is");
  }
  const struct {
    int8_t type;
    int64_t zero_point;
    const char *name;
  } bad_zero[] = {{TFL_TYPE_INT8, 128, "int8"},
                  {TFL_TYPE_INT8, -129, "int8"},
                  {TFL_TYPE_UINT8, -1, "uint8"},
                  {TFL_TYPE_INT16, 40000, "int16"}};
  for (int i = 0; i < 4; i++) {
    conv_model(&m);
    m.tensors[0].type = bad_zero[i].type;
    m.tensors[0].quant_count = 1;
    m.tensors[0].scale[0] = 0.5f;
    m.tensors[0].zero_point[0] = bad_zero[i].zero_point;
    char want[128];
    snprintf(want, sizeof want,
             "tensor 0 ('image'): quantization zero point 0 is %lld, outside "
             "%s's range",
             (long long)bad_zero[i].zero_point, bad_zero[i].name);
    expect_failure(&m, KILN_ERR_INVALID_MODEL, want);
  }
}

static void test_model_level_errors(void) {
  tb_model m;
  conv_model(&m);
  m.version = 2;
  expect_failure(&m, KILN_ERR_UNSUPPORTED, "TFLite schema version 2");
  conv_model(&m);
  m.inputs[0] = 99;
  expect_failure(&m, KILN_ERR_INVALID_MODEL,
                 "graph input 0 is tensor 99, which does not exist");
  static const uint8_t not_tflite[16] = "\x10\0\0\0NOPE";
  kiln_graph *g = (kiln_graph *)1;
  CHECK_ERROR(
      kiln_tflite_import(not_tflite, sizeof not_tflite, SOURCE, NULL, &g),
      KILN_ERR_INVALID_MODEL, "identifier at bytes 4..7 is 'NOPE'");
  CHECK(g == NULL);
  CHECK(!kiln_tflite_detect(not_tflite, sizeof not_tflite));
  CHECK(!kiln_tflite_detect("\0\0\0\0TFL", 7));
  CHECK_ERROR(kiln_tflite_import(NULL, 0, NULL, NULL, &g),
              KILN_ERR_INVALID_ARGUMENT, "<memory>");
}

/* A signature of another subgraph is skipped; without a usable signature
 * the tensor names are the user-facing names. */
static void test_signature_fallbacks(void) {
  tb_model m;
  conv_model(&m);
  m.signature_subgraph = 1;
  size_t size;
  uint8_t *bytes = tb_build(&m, &size);
  kiln_graph *g = NULL;
  CHECK_OK(kiln_tflite_import(bytes, size, SOURCE, NULL, &g));
  if (g) {
    CHECK(strcmp(g->input_names[0], "image") == 0);
    CHECK(strcmp(g->output_names[0], "relu") == 0);
  }
  kiln_graph_free(g);
  free(bytes);
}

/* ---- builtin options ---- */

/* A model of one operator x[2,3] -> y[2,3], optionally with extra
 * constant inputs set up by the caller. */
static void one_op_model(tb_model *m, int32_t code, uint8_t options_type) {
  memset(m, 0, sizeof *m);
  m->num_opcodes = 1;
  m->opcodes[0] = (tb_opcode){code, code < 127 ? (int8_t)code : 127, NULL};
  m->num_tensors = 2;
  m->tensors[0] = float_tensor("x", 2, (int32_t[]){2, 3}, 0);
  m->tensors[1] = float_tensor("y", 2, (int32_t[]){2, 3}, 0);
  m->num_inputs = 1;
  m->num_outputs = 1;
  m->outputs[0] = 1;
  m->num_operators = 1;
  m->operators[0].num_inputs = 1;
  m->operators[0].num_outputs = 1;
  m->operators[0].outputs[0] = 1;
  m->operators[0].options_type = options_type;
  m->num_buffers = 1;
}

static void add_option(tb_model *m, tb_field f) {
  tb_operator *op = &m->operators[0];
  op->options[op->num_options++] = f;
}

/* Imports and copies the node's attributes out. */
static kiln_status *import_attrs(const tb_model *m, void *attrs,
                                 size_t attrs_size, kiln_op_type *op) {
  size_t size;
  uint8_t *bytes = tb_build(m, &size);
  kiln_graph *g = NULL;
  kiln_status *st = kiln_tflite_import(bytes, size, SOURCE, NULL, &g);
  if (!st) {
    memcpy(attrs, g->nodes[0].attrs, attrs_size);
    *op = g->nodes[0].op;
  }
  kiln_graph_free(g);
  free(bytes);
  return st;
}

static void test_conv_like_options(void) {
  tb_model m;
  kiln_op_type op;
  kiln_conv_attrs conv;
  one_op_model(&m, TFL_OP_DEPTHWISE_CONV_2D, TFL_OPT_DEPTHWISE_CONV2D);
  add_option(&m, field(TFL_DWCONV_STRIDE_W, 'i', 2));
  add_option(&m, field(TFL_DWCONV_STRIDE_H, 'i', 3));
  add_option(&m, field(TFL_DWCONV_DEPTH_MULTIPLIER, 'i', 4));
  add_option(&m, field(TFL_DWCONV_ACTIVATION, 'b', KILN_ACT_TANH));
  add_option(&m, field(TFL_DWCONV_DILATION_H, 'i', 5));
  CHECK_OK(import_attrs(&m, &conv, sizeof conv, &op));
  CHECK(op == KILN_OP_DEPTHWISE_CONV_2D && conv.padding == KILN_PAD_SAME);
  CHECK(conv.stride_w == 2 && conv.stride_h == 3 && conv.depth_multiplier == 4);
  CHECK(conv.activation == KILN_ACT_TANH);
  CHECK(conv.dilation_w == 1 && conv.dilation_h == 5);

  one_op_model(&m, TFL_OP_TRANSPOSE_CONV, TFL_OPT_TRANSPOSE_CONV);
  add_option(&m, field(TFL_TCONV_PADDING, 'b', KILN_PAD_VALID));
  add_option(&m, field(TFL_TCONV_STRIDE_W, 'i', 2));
  add_option(&m, field(TFL_TCONV_STRIDE_H, 'i', 2));
  CHECK_OK(import_attrs(&m, &conv, sizeof conv, &op));
  CHECK(op == KILN_OP_TRANSPOSE_CONV && conv.padding == KILN_PAD_VALID);
  CHECK(conv.dilation_w == 1 && conv.dilation_h == 1);

  kiln_pool_attrs pool;
  one_op_model(&m, TFL_OP_MAX_POOL_2D, TFL_OPT_POOL2D);
  add_option(&m, field(TFL_POOL_STRIDE_W, 'i', 2));
  add_option(&m, field(TFL_POOL_STRIDE_H, 'i', 2));
  add_option(&m, field(TFL_POOL_FILTER_W, 'i', 3));
  add_option(&m, field(TFL_POOL_FILTER_H, 'i', 4));
  add_option(&m, field(TFL_POOL_ACTIVATION, 'b', KILN_ACT_RELU));
  CHECK_OK(import_attrs(&m, &pool, sizeof pool, &op));
  CHECK(op == KILN_OP_MAX_POOL_2D && pool.filter_w == 3 && pool.filter_h == 4);
  CHECK(pool.stride_w == 2 && pool.activation == KILN_ACT_RELU);
  /* The schema's stride default is 0: a missing stride is an error. */
  one_op_model(&m, TFL_OP_AVERAGE_POOL_2D, TFL_OPT_POOL2D);
  add_option(&m, field(TFL_POOL_STRIDE_W, 'i', 1));
  CHECK_ERROR(import_attrs(&m, &pool, sizeof pool, &op), KILN_ERR_INVALID_MODEL,
              SOURCE
              ": operator 0 (AVERAGE_POOL_2D): Pool2DOptions: "
              "stride_h is 0; it must be at least 1");
  one_op_model(&m, TFL_OP_CONV_2D, TFL_OPT_NONE);
  CHECK_ERROR(import_attrs(&m, &conv, sizeof conv, &op), KILN_ERR_INVALID_MODEL,
              "Conv2DOptions: stride_w is 0");
}

static void test_enum_validation(void) {
  tb_model m;
  kiln_op_type op;
  kiln_conv_attrs conv;
  one_op_model(&m, TFL_OP_CONV_2D, TFL_OPT_CONV2D);
  add_option(&m, field(TFL_CONV2D_STRIDE_W, 'i', 1));
  add_option(&m, field(TFL_CONV2D_STRIDE_H, 'i', 1));
  add_option(&m, field(TFL_CONV2D_PADDING, 'b', 2));
  CHECK_ERROR(import_attrs(&m, &conv, sizeof conv, &op), KILN_ERR_INVALID_MODEL,
              "operator 0 (CONV_2D): Conv2DOptions: padding 2 is neither "
              "SAME (0) nor VALID (1)");
  m.operators[0].options[2] = field(TFL_CONV2D_ACTIVATION, 'b', 6);
  CHECK_ERROR(import_attrs(&m, &conv, sizeof conv, &op), KILN_ERR_INVALID_MODEL,
              "fused activation 6 is not one of");
  m.operators[0].options[2] = field(TFL_CONV2D_ACTIVATION, 'b', -1);
  CHECK_ERROR(import_attrs(&m, &conv, sizeof conv, &op), KILN_ERR_INVALID_MODEL,
              "fused activation -1");
  /* kiln's own activations (HARD_SWISH...) are for the passes to set. */
  m.operators[0].options[2] =
      field(TFL_CONV2D_ACTIVATION, 'b', KILN_ACT_HARD_SWISH);
  CHECK_ERROR(import_attrs(&m, &conv, sizeof conv, &op), KILN_ERR_INVALID_MODEL,
              "fused activation 16 is not one of");
  m.operators[0].options[2] = field(TFL_CONV2D_DILATION_W, 'i', 0);
  CHECK_ERROR(import_attrs(&m, &conv, sizeof conv, &op), KILN_ERR_INVALID_MODEL,
              "dilation_w_factor is 0");
  m.operators[0].options_type = TFL_OPT_RESHAPE;
  CHECK_ERROR(import_attrs(&m, &conv, sizeof conv, &op), KILN_ERR_INVALID_MODEL,
              "builtin options have union type 17, expected Conv2DOptions (1)");

  kiln_mirror_pad_attrs pad;
  one_op_model(&m, TFL_OP_MIRROR_PAD, TFL_OPT_MIRROR_PAD);
  add_option(&m, field(TFL_MIRROR_PAD_MODE, 'b', 1));
  CHECK_OK(import_attrs(&m, &pad, sizeof pad, &op));
  CHECK(pad.mode == KILN_MIRROR_SYMMETRIC);
  m.operators[0].options[0].i = 2;
  CHECK_ERROR(import_attrs(&m, &pad, sizeof pad, &op), KILN_ERR_INVALID_MODEL,
              "mode 2 is neither REFLECT (0) nor SYMMETRIC (1)");

  kiln_fully_connected_attrs fc;
  one_op_model(&m, TFL_OP_FULLY_CONNECTED, TFL_OPT_FULLY_CONNECTED);
  add_option(&m, field(TFL_FC_KEEP_NUM_DIMS, 'b', 1));
  add_option(&m, field(TFL_FC_ACTIVATION, 'b', KILN_ACT_RELU_N1_TO_1));
  CHECK_OK(import_attrs(&m, &fc, sizeof fc, &op));
  CHECK(fc.keep_num_dims && fc.activation == KILN_ACT_RELU_N1_TO_1);
  add_option(&m, field(TFL_FC_WEIGHTS_FORMAT, 'b', 1));
  CHECK_ERROR(import_attrs(&m, &fc, sizeof fc, &op), KILN_ERR_UNSUPPORTED,
              "weights_format 1");
}

static tb_field vector_field(int slot, int count, const int32_t *values) {
  tb_field f = field(slot, 'v', 0);
  f.vec_len = count;
  if (count) memcpy(f.vec, values, sizeof(int32_t) * (size_t)count);
  return f;
}

static void test_shape_options(void) {
  tb_model m;
  kiln_op_type op;
  kiln_reshape_attrs reshape;
  one_op_model(&m, TFL_OP_RESHAPE, TFL_OPT_RESHAPE);
  add_option(&m, vector_field(TFL_RESHAPE_NEW_SHAPE, 2, (int32_t[]){3, -1}));
  CHECK_OK(import_attrs(&m, &reshape, sizeof reshape, &op));
  CHECK(reshape.num_dims == 2 && reshape.new_shape[0] == 3 &&
        reshape.new_shape[1] == -1);
  one_op_model(&m, TFL_OP_RESHAPE, TFL_OPT_NONE);
  CHECK_OK(import_attrs(&m, &reshape, sizeof reshape, &op));
  CHECK(reshape.num_dims == -1);
  one_op_model(&m, TFL_OP_RESHAPE, TFL_OPT_RESHAPE);
  add_option(&m, vector_field(TFL_RESHAPE_NEW_SHAPE, 0, NULL));
  CHECK_OK(import_attrs(&m, &reshape, sizeof reshape, &op));
  CHECK(reshape.num_dims == 0); /* present but empty: a scalar */
  one_op_model(&m, TFL_OP_RESHAPE, TFL_OPT_RESHAPE);
  add_option(&m, vector_field(TFL_RESHAPE_NEW_SHAPE, 9,
                              (int32_t[]){1, 1, 1, 1, 1, 1, 1, 1, 6}));
  CHECK_ERROR(import_attrs(&m, &reshape, sizeof reshape, &op),
              KILN_ERR_UNSUPPORTED, "new_shape has 9 entries");

  kiln_squeeze_attrs squeeze;
  one_op_model(&m, TFL_OP_SQUEEZE, TFL_OPT_SQUEEZE);
  add_option(&m, vector_field(TFL_SQUEEZE_DIMS, 2, (int32_t[]){0, -1}));
  CHECK_OK(import_attrs(&m, &squeeze, sizeof squeeze, &op));
  CHECK(squeeze.num_axes == 2 && squeeze.axes[1] == -1);

  kiln_strided_slice_attrs ss;
  one_op_model(&m, TFL_OP_STRIDED_SLICE, TFL_OPT_STRIDED_SLICE);
  add_option(&m, field(TFL_SS_BEGIN_MASK, 'i', 1));
  add_option(&m, field(TFL_SS_END_MASK, 'i', 2));
  add_option(&m, field(TFL_SS_ELLIPSIS_MASK, 'i', 4));
  add_option(&m, field(TFL_SS_NEW_AXIS_MASK, 'i', 8));
  add_option(&m, field(TFL_SS_SHRINK_AXIS_MASK, 'i', 16));
  add_option(&m, field(TFL_SS_OFFSET, 'b', 1));
  CHECK_OK(import_attrs(&m, &ss, sizeof ss, &op));
  CHECK(ss.begin_mask == 1 && ss.end_mask == 2 && ss.ellipsis_mask == 4 &&
        ss.new_axis_mask == 8 && ss.shrink_axis_mask == 16 && ss.offset);

  kiln_concat_attrs concat;
  one_op_model(&m, TFL_OP_CONCATENATION, TFL_OPT_CONCATENATION);
  add_option(&m, field(TFL_CONCAT_AXIS, 'i', -1));
  add_option(&m, field(TFL_CONCAT_ACTIVATION, 'b', KILN_ACT_RELU));
  CHECK_OK(import_attrs(&m, &concat, sizeof concat, &op));
  CHECK(concat.axis == -1 && concat.activation == KILN_ACT_RELU);

  kiln_pack_attrs pack;
  one_op_model(&m, TFL_OP_UNPACK, TFL_OPT_UNPACK);
  add_option(&m, field(TFL_PACK_COUNT, 'i', 2));
  add_option(&m, field(TFL_PACK_AXIS, 'i', 1));
  CHECK_OK(import_attrs(&m, &pack, sizeof pack, &op));
  CHECK(op == KILN_OP_UNPACK && pack.count == 2 && pack.axis == 1);

  kiln_split_attrs split;
  one_op_model(&m, TFL_OP_SPLIT_V, TFL_OPT_SPLIT_V);
  add_option(&m, field(TFL_SPLIT_NUM_SPLITS, 'i', 3));
  CHECK_OK(import_attrs(&m, &split, sizeof split, &op));
  CHECK(op == KILN_OP_SPLIT_V && split.num_splits == 3);

  kiln_gather_attrs gather;
  one_op_model(&m, TFL_OP_GATHER, TFL_OPT_GATHER);
  add_option(&m, field(TFL_GATHER_AXIS, 'i', 1));
  add_option(&m, field(TFL_GATHER_BATCH_DIMS, 'i', 1));
  CHECK_OK(import_attrs(&m, &gather, sizeof gather, &op));
  CHECK(gather.axis == 1 && gather.batch_dims == 1);
}

static void test_value_options(void) {
  tb_model m;
  kiln_op_type op;
  kiln_softmax_attrs softmax;
  one_op_model(&m, TFL_OP_SOFTMAX, TFL_OPT_SOFTMAX);
  tb_field beta = field(TFL_SOFTMAX_BETA, 'f', 0);
  beta.f = 2.0f;
  add_option(&m, beta);
  CHECK_OK(import_attrs(&m, &softmax, sizeof softmax, &op));
  CHECK(softmax.beta == 2.0f);

  kiln_leaky_relu_attrs leaky;
  one_op_model(&m, TFL_OP_LEAKY_RELU, TFL_OPT_LEAKY_RELU);
  tb_field alpha = field(TFL_LEAKY_RELU_ALPHA, 'f', 0);
  alpha.f = 0.2f;
  add_option(&m, alpha);
  CHECK_OK(import_attrs(&m, &leaky, sizeof leaky, &op));
  CHECK(leaky.alpha == 0.2f);

  kiln_gelu_attrs gelu;
  one_op_model(&m, TFL_OP_GELU, TFL_OPT_GELU);
  add_option(&m, field(TFL_GELU_APPROXIMATE, 'b', 1));
  CHECK_OK(import_attrs(&m, &gelu, sizeof gelu, &op));
  CHECK(op == KILN_OP_GELU && gelu.approximate);

  kiln_batch_matmul_attrs bmm;
  one_op_model(&m, TFL_OP_BATCH_MATMUL, TFL_OPT_BATCH_MATMUL);
  add_option(&m, field(TFL_BMM_ADJ_Y, 'b', 1));
  CHECK_OK(import_attrs(&m, &bmm, sizeof bmm, &op));
  CHECK(!bmm.adj_x && bmm.adj_y);

  kiln_reduce_attrs reduce;
  one_op_model(&m, TFL_OP_REDUCE_MAX, TFL_OPT_REDUCER);
  add_option(&m, field(TFL_REDUCER_KEEP_DIMS, 'b', 1));
  CHECK_OK(import_attrs(&m, &reduce, sizeof reduce, &op));
  CHECK(op == KILN_OP_REDUCE_MAX && reduce.keep_dims);

  kiln_resize_attrs resize;
  one_op_model(&m, TFL_OP_RESIZE_BILINEAR, TFL_OPT_RESIZE_BILINEAR);
  add_option(&m, field(TFL_RESIZE_BILINEAR_HALF_PIXEL_CENTERS, 'b', 1));
  CHECK_OK(import_attrs(&m, &resize, sizeof resize, &op));
  CHECK(!resize.align_corners && resize.half_pixel_centers);
  one_op_model(&m, TFL_OP_RESIZE_NEAREST_NEIGHBOR,
               TFL_OPT_RESIZE_NEAREST_NEIGHBOR);
  add_option(&m, field(TFL_RESIZE_NEAREST_ALIGN_CORNERS, 'b', 1));
  CHECK_OK(import_attrs(&m, &resize, sizeof resize, &op));
  CHECK(resize.align_corners && !resize.half_pixel_centers);

  kiln_activation_attrs act;
  one_op_model(&m, TFL_OP_L2_NORMALIZATION, TFL_OPT_L2_NORM);
  add_option(&m, field(TFL_ARITH_ACTIVATION, 'b', KILN_ACT_RELU6));
  CHECK_OK(import_attrs(&m, &act, sizeof act, &op));
  CHECK(op == KILN_OP_L2_NORMALIZATION && act.activation == KILN_ACT_RELU6);
  one_op_model(&m, TFL_OP_SUB, TFL_OPT_NONE); /* absent: defaults */
  CHECK_OK(import_attrs(&m, &act, sizeof act, &op));
  CHECK(op == KILN_OP_SUB && act.activation == KILN_ACT_NONE);
}

/* An operator input with no bytes, no producer and no elements (RESHAPE to
 * a scalar takes shape int32[0]) becomes an empty constant. */
static void test_empty_constant(void) {
  tb_model m;
  one_op_model(&m, TFL_OP_RESHAPE, TFL_OPT_NONE);
  m.num_tensors = 3;
  m.tensors[2] = float_tensor("shape", 1, (int32_t[]){0}, 0);
  m.tensors[2].type = TFL_TYPE_INT32;
  m.tensors[1].rank = 0;
  m.operators[0].num_inputs = 2;
  m.operators[0].inputs[1] = 2;
  size_t size;
  uint8_t *bytes = tb_build(&m, &size);
  kiln_graph *g = NULL;
  CHECK_OK(kiln_tflite_import(bytes, size, SOURCE, NULL, &g));
  CHECK(g && g->values[2].is_constant && g->values[2].nbytes == 0);
  CHECK(g && !g->values[0].is_constant);
  kiln_graph_free(g);
  free(bytes);
}

/* Every kiln operator has exactly one TFLite mapping that fills its
 * attribute struct, under the same name; internal ones (made by passes)
 * have none. */
static void test_op_table(void) {
  int mapped[KILN_OP_COUNT] = {0};
  for (int32_t code = -5; code < 400; code++) {
    const kiln_tflite_op *map = kiln_tflite_find_op(code);
    if (!map) continue;
    CHECK(map->code == code);
    CHECK(map->attrs_size == kiln_op_table[map->op].attrs_size);
    CHECK(strcmp(kiln_tflite_op_name(code), kiln_op_table[map->op].name) == 0);
    CHECK(map->parse == NULL || map->options_type != 0);
    mapped[map->op]++;
  }
  for (int op = 0; op < KILN_OP_COUNT; op++) {
    int expected = op < KILN_OP_FIRST_INTERNAL ? 1 : 0;
    if (mapped[op] != expected)
      fprintf(stderr, "kiln op %s has %d TFLite mappings\n",
              kiln_op_table[op].name, mapped[op]);
    CHECK(mapped[op] == expected);
  }
  CHECK(strcmp(kiln_tflite_op_name(0), "ADD") == 0);
  CHECK(strcmp(kiln_tflite_op_name(128), "CUMSUM") == 0);
  CHECK(strcmp(kiln_tflite_op_name(209), "STABLEHLO_CASE") == 0);
  CHECK(kiln_tflite_op_name(210) == NULL && kiln_tflite_op_name(-1) == NULL);
}

/* 20000 operators all pointing at one Operator table whose input list has
 * 20000 entries: a 160 KB file describing 400 million tensor ids. */
static void test_shared_tables(void) {
  enum { N = 20000 };
  fbb b;
  fbb_init(&b);
  fbb_start(&b);
  uint32_t empty = fbb_end(&b);
  uint32_t buffers = fbb_ref_vector(&b, &empty, 1);
  fbb_start(&b);
  fbb_add_i32(&b, TFL_OPCODE_BUILTIN_CODE, TFL_OP_ADD);
  uint32_t code = fbb_end(&b);
  uint32_t codes = fbb_ref_vector(&b, &code, 1);
  const int32_t one = 1, zero = 0;
  uint32_t shape = fbb_vector_i32(&b, &one, 1);
  fbb_start(&b);
  fbb_add_ref(&b, TFL_TENSOR_SHAPE, shape);
  uint32_t tensor = fbb_end(&b);
  uint32_t tensor_refs[2] = {tensor, tensor};
  uint32_t tensors = fbb_ref_vector(&b, tensor_refs, 2);
  int32_t *input_ids = calloc(N, sizeof(int32_t));
  uint32_t inputs = fbb_vector_i32(&b, input_ids, N);
  uint32_t outputs = fbb_vector_i32(&b, &one, 1);
  fbb_start(&b);
  fbb_add_ref(&b, TFL_OPERATOR_INPUTS, inputs);
  fbb_add_ref(&b, TFL_OPERATOR_OUTPUTS, outputs);
  uint32_t op = fbb_end(&b);
  uint32_t *op_refs = malloc(N * sizeof(uint32_t));
  for (int i = 0; i < N; i++) op_refs[i] = op;
  uint32_t ops = fbb_ref_vector(&b, op_refs, N);
  uint32_t graph_in = fbb_vector_i32(&b, &zero, 1);
  uint32_t graph_out = fbb_vector_i32(&b, &one, 1);
  fbb_start(&b);
  fbb_add_ref(&b, TFL_SUBGRAPH_TENSORS, tensors);
  fbb_add_ref(&b, TFL_SUBGRAPH_INPUTS, graph_in);
  fbb_add_ref(&b, TFL_SUBGRAPH_OUTPUTS, graph_out);
  fbb_add_ref(&b, TFL_SUBGRAPH_OPERATORS, ops);
  uint32_t subgraph = fbb_end(&b);
  uint32_t subgraphs = fbb_ref_vector(&b, &subgraph, 1);
  fbb_start(&b);
  fbb_add_u32(&b, TFL_MODEL_VERSION, 3);
  fbb_add_ref(&b, TFL_MODEL_OPERATOR_CODES, codes);
  fbb_add_ref(&b, TFL_MODEL_SUBGRAPHS, subgraphs);
  fbb_add_ref(&b, TFL_MODEL_BUFFERS, buffers);
  size_t size;
  uint8_t *bytes = fbb_finish(&b, fbb_end(&b), TFL_FILE_IDENTIFIER, &size);
  kiln_graph *g = (kiln_graph *)1;
  CHECK_ERROR(kiln_tflite_import(bytes, size, SOURCE, NULL, &g),
              KILN_ERR_INVALID_MODEL, "tables shared many times over");
  CHECK(g == NULL);
  free(bytes);
  free(op_refs);
  free(input_ids);
  fbb_release(&b);
}

/* ---- allocation failure ---- */

static void test_allocation_failures(void) {
  tb_model m;
  conv_model(&m);
  size_t size;
  uint8_t *bytes = tb_build(&m, &size);
  /* Shifted by a byte so the realigning copies are exercised too. */
  uint8_t *shifted = malloc(size + 1);
  memcpy(shifted + 1, bytes, size);
  int bad = 0;
  long succeeded_at = -1;
  for (long n = 0; n < 10000 && succeeded_at < 0; n++) {
    kiln_test_allocator fa;
    const kiln_allocator *alloc = kiln_test_allocator_init(&fa, n);
    kiln_graph *g = (kiln_graph *)1;
    kiln_status *st = kiln_tflite_import(shifted + 1, size, SOURCE, alloc, &g);
    if (!st) {
      CHECK(fa.calls == n); /* succeeds exactly when nothing failed */
      check_conv_graph(g);
      kiln_graph_free(g);
      CHECK(fa.live == 0);
      succeeded_at = n;
      continue;
    }
    if (kiln_status_get_code(st) != KILN_ERR_OUT_OF_MEMORY || g != NULL ||
        fa.live != 0) {
      if (bad++ < 3)
        fprintf(stderr, "failing allocation %ld: %s (live %ld)\n", n,
                kiln_status_message(st), fa.live);
    }
    kiln_status_free(st);
  }
  CHECK(bad == 0);
  CHECK(succeeded_at > 20); /* every allocation of the import was failed */
  free(shifted);
  free(bytes);
}

/* ---- a model from the TensorFlow converter ---- */

static uint8_t *read_file(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *data = malloc(n > 0 ? (size_t)n : 1);
  *size = fread(data, 1, n > 0 ? (size_t)n : 0, f);
  fclose(f);
  return data;
}

static void test_converter_model(void) {
  const char *path = "tests/fuzz/corpus/tflite/tf_dense.tflite";
  size_t size = 0;
  uint8_t *data = read_file(path, &size);
  CHECK(data != NULL);
  if (!data) return;
  kiln_graph *g = NULL;
  CHECK_OK(kiln_tflite_import(data, size, path, NULL, &g));
  if (g) {
    CHECK(g->num_inputs == 1 && g->num_outputs == 1);
    CHECK(strcmp(g->input_names[0], "features") == 0);
    CHECK(strcmp(g->output_names[0], "probabilities") == 0);
    const kiln_value *in = &g->values[g->inputs[0]];
    CHECK(in->rank == 2 && in->signature[0] == -1 && in->dims[0] == 1 &&
          in->dims[1] == 4);
    int fc = 0;
    for (int i = 0; i < g->num_nodes; i++)
      fc += g->nodes[i].op == KILN_OP_FULLY_CONNECTED;
    CHECK(fc == 2);
    CHECK(g->num_source_ops == g->num_nodes);
  }
  kiln_graph_free(g);
  free(data);
}

static const kiln_node *find_node(const kiln_graph *g, kiln_op_type op) {
  for (int i = 0; i < g->num_nodes; i++)
    if (g->nodes[i].op == op) return &g->nodes[i];
  return NULL;
}

/* conv (SAME, stride 2, RELU6) -> depthwise (RELU) -> max pool 2x2 ->
 * reshape (shape from a tensor) -> fully connected -> softmax. */
static void test_converter_cnn(void) {
  const char *path = "tests/fuzz/corpus/tflite/tf_small_cnn.tflite";
  size_t size = 0;
  uint8_t *data = read_file(path, &size);
  CHECK(data != NULL);
  if (!data) return;
  kiln_graph *g = NULL;
  CHECK_OK(kiln_tflite_import(data, size, path, NULL, &g));
  if (g) {
    CHECK(g->num_nodes == 6);
    CHECK(strcmp(g->input_names[0], "pixels") == 0);
    CHECK(strcmp(g->output_names[0], "logits") == 0);
    const kiln_node *n = find_node(g, KILN_OP_CONV_2D);
    const kiln_conv_attrs *conv = n ? n->attrs : NULL;
    CHECK(conv && conv->padding == KILN_PAD_SAME && conv->stride_h == 2 &&
          conv->stride_w == 2 && conv->activation == KILN_ACT_RELU6);
    n = find_node(g, KILN_OP_DEPTHWISE_CONV_2D);
    conv = n ? n->attrs : NULL;
    CHECK(conv && conv->depth_multiplier == 1 &&
          conv->activation == KILN_ACT_RELU);
    n = find_node(g, KILN_OP_MAX_POOL_2D);
    const kiln_pool_attrs *pool = n ? n->attrs : NULL;
    CHECK(pool && pool->padding == KILN_PAD_VALID && pool->filter_h == 2 &&
          pool->stride_w == 2);
    n = find_node(g, KILN_OP_RESHAPE);
    CHECK(n && ((const kiln_reshape_attrs *)n->attrs)->num_dims == -1);
    CHECK(n && g->values[n->inputs[1]].is_constant);
    n = find_node(g, KILN_OP_SOFTMAX);
    CHECK(n && ((const kiln_softmax_attrs *)n->attrs)->beta == 1.0f);
  }
  kiln_graph_free(g);
  free(data);
}

/* ---- fuzzing seeds ---- */

static int write_seed(const char *dir, const char *name, const tb_model *m) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  size_t size;
  uint8_t *bytes = tb_build(m, &size);
  FILE *f = fopen(path, "wb");
  int ok = f && fwrite(bytes, 1, size, f) == size;
  if (f) fclose(f);
  free(bytes);
  printf("%s: %zu bytes\n", path, size);
  return ok ? 0 : 1;
}

static int write_corpus(const char *dir) {
  tb_model m;
  conv_model(&m);
  int failed = write_seed(dir, "conv_relu.tflite", &m);
  m.buffers[2].external = true;
  m.buffers[3].external = true;
  failed |= write_seed(dir, "conv_external_buffers.tflite", &m);
  return failed;
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "--write-corpus") == 0)
    return write_corpus(argv[2]);
  test_conv_model();
  test_unaligned_constants();
  test_external_buffers();
  test_offset_past_end();
  test_size_mismatch();
  test_truncated();
  test_random_bytes();
  test_corrupted_models();
  test_shape_overflow();
  test_dynamic_dims();
  test_unsupported_operators();
  test_unsupported_types();
  test_quantization_errors();
  test_model_level_errors();
  test_signature_fallbacks();
  test_conv_like_options();
  test_enum_validation();
  test_shape_options();
  test_value_options();
  test_empty_constant();
  test_op_table();
  test_shared_tables();
  test_allocation_failures();
  test_converter_model();
  test_converter_cnn();
  return kiln_test_finish("test_tflite_import");
}
