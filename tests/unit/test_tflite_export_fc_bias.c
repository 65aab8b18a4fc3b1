/* test_tflite_export_fc_bias.c - FULLY_CONNECTED's quantized_bias_type
 * (FullyConnectedOptions field 4) survives a read and a write. LiteRT picks
 * a 16x8 layer's accumulation by it, so a file rewritten by `kiln convert`
 * without it computes differently. Models built here with the test builder
 * (int8 with an int32 bias, int16 with an int64 bias, or no field at all)
 * are imported, exported, and the written bytes are walked with the
 * flatbuffer reader down to the operator's options: the field must hold
 * what the original file said (absent when it said nothing). */
#include <string.h>

#include "core/alloc.h"
#include "core/graph.h"
#include "core/op_attrs.h"
#include "core/status.h"
#include "formats/tflite/flatbuffer.h"
#include "formats/tflite/tflite_export.h"
#include "formats/tflite/tflite_import.h"
#include "formats/tflite/tflite_schema.h"
#include "harness.h"
#include "tflite_builder.c"

/* x [batch, depth] times weights [units, depth] plus bias [units] -> y,
 * quantized as TFLite's converter writes it: `wide` is the 16x8 form (int16
 * activations, int64 bias), otherwise int8 activations and an int32 bias.
 * bias_type 0 leaves the options field out. */
static uint8_t *fc_model(bool wide, int8_t bias_type, size_t *size) {
  int batch = kiln_test_int(1, 4), depth = kiln_test_int(1, 9);
  int units = kiln_test_int(1, 9);
  static int8_t weights[9 * 9];
  static int64_t bias64[9];
  static int32_t bias32[9];
  for (int i = 0; i < units * depth; i++)
    weights[i] = (int8_t)kiln_test_int(-127, 127);
  for (int i = 0; i < units; i++)
    bias32[i] = (int32_t)(bias64[i] = kiln_test_int(-1000, 1000));

  tb_model m;
  memset(&m, 0, sizeof m);
  m.num_opcodes = 1;
  m.opcodes[0] =
      (tb_opcode){TFL_OP_FULLY_CONNECTED, TFL_OP_FULLY_CONNECTED, NULL};
  m.num_tensors = 4;
  const char *names[4] = {"x", "weights", "bias", "y"};
  int8_t act_type = wide ? TFL_TYPE_INT16 : TFL_TYPE_INT8;
  int8_t types[4] = {act_type, TFL_TYPE_INT8,
                     wide ? TFL_TYPE_INT64 : TFL_TYPE_INT32, act_type};
  int32_t shapes[4][2] = {
      {batch, depth}, {units, depth}, {units}, {batch, units}};
  float scales[4] = {kiln_test_uniform(0.001f, 0.1f),
                     kiln_test_uniform(0.001f, 0.1f), 0,
                     kiln_test_uniform(0.001f, 0.1f)};
  scales[2] = scales[0] * scales[1];
  for (int t = 0; t < 4; t++) {
    tb_tensor *tt = &m.tensors[t];
    tt->name = names[t];
    tt->type = types[t];
    tt->rank = t == 2 ? 1 : 2;
    tt->shape[0] = shapes[t][0];
    tt->shape[1] = shapes[t][1];
    tt->quant_count = 1;
    tt->scale[0] = scales[t];
    /* symmetric int16, as TFLite requires; int8 activations may shift */
    tt->zero_point[0] =
        (t == 0 || t == 3) && !wide ? kiln_test_int(-128, 127) : 0;
  }
  m.tensors[1].buffer = 1;
  m.tensors[2].buffer = 2;
  m.num_buffers = 3;
  m.buffers[1] = (tb_buffer){.data = weights, .size = (size_t)(units * depth)};
  m.buffers[2] = wide ? (tb_buffer){.data = bias64, .size = 8 * (size_t)units}
                      : (tb_buffer){.data = bias32, .size = 4 * (size_t)units};
  m.num_inputs = 1;
  m.inputs[0] = 0;
  m.num_outputs = 1;
  m.outputs[0] = 3;
  m.num_operators = 1;
  tb_operator *fc = &m.operators[0];
  fc->num_inputs = 3;
  for (int i = 0; i < 3; i++) fc->inputs[i] = i;
  fc->num_outputs = 1;
  fc->outputs[0] = 3;
  fc->options_type = TFL_OPT_FULLY_CONNECTED;
  fc->options[fc->num_options++] =
      (tb_field){.slot = TFL_FC_ACTIVATION, .kind = 'b', .i = 0};
  if (bias_type)
    fc->options[fc->num_options++] = (tb_field){
        .slot = TFL_FC_QUANTIZED_BIAS_TYPE, .kind = 'b', .i = bias_type};
  return tb_build(&m, size);
}

/* The FullyConnectedOptions of the only operator of a written file, read
 * with the bounds-checked reader, not the importer the exporter mirrors.
 * *present says whether field 4 is in the table at all. */
static int8_t written_bias_type(const void *bytes, size_t size, bool *present) {
  kiln_fb fb = {bytes, size};
  kiln_fb_table model, subgraph, op, options;
  kiln_fb_vector subgraphs, operators;
  uint8_t options_type = 0;
  int8_t value = -1;
  *present = false;
  CHECK_OK(kiln_fb_root(&fb, "Model", &model));
  CHECK_OK(
      kiln_fb_vector_field(&model, TFL_MODEL_SUBGRAPHS, 4, &subgraphs, NULL));
  CHECK(subgraphs.length == 1);
  CHECK_OK(kiln_fb_vec_table(&subgraphs, 0, "SubGraph", &subgraph));
  CHECK_OK(kiln_fb_vector_field(&subgraph, TFL_SUBGRAPH_OPERATORS, 4,
                                &operators, NULL));
  CHECK(operators.length == 1);
  CHECK_OK(kiln_fb_vec_table(&operators, 0, "Operator", &op));
  CHECK_OK(kiln_fb_union_field(
      &op, TFL_OPERATOR_BUILTIN_OPTIONS_TYPE, TFL_OPERATOR_BUILTIN_OPTIONS,
      "FullyConnectedOptions", &options_type, &options));
  CHECK(options_type == TFL_OPT_FULLY_CONNECTED);
  *present = kiln_fb_has_field(&options, TFL_FC_QUANTIZED_BIAS_TYPE);
  CHECK_OK(kiln_fb_i8(&options, TFL_FC_QUANTIZED_BIAS_TYPE, 0, &value));
  return value;
}

/* Builds, imports, exports and reads back one model; the importer and the
 * written file must both say `bias_type`. */
static void round_trip(bool wide, int8_t bias_type) {
  size_t size = 0, written_size = 0;
  uint8_t *file = fc_model(wide, bias_type, &size);
  kiln_graph *g = NULL;
  void *written = NULL;
  CHECK(file != NULL);
  if (!file) return;
  CHECK_OK(kiln_tflite_import(file, size, "fc", NULL, &g));
  if (g) {
    CHECK(g->num_nodes == 1 && g->nodes[0].op == KILN_OP_FULLY_CONNECTED);
    const kiln_fully_connected_attrs *a = g->nodes[0].attrs;
    CHECK(a->quantized_bias_type == bias_type);
    CHECK_OK(kiln_tflite_export(g, NULL, &written, &written_size));
  }
  if (written) {
    bool present = false;
    int8_t got = written_bias_type(written, written_size, &present);
    if (got != bias_type || present != (bias_type != 0))
      fprintf(stderr, "%s FC, quantized_bias_type %d: the file says %d (%s)\n",
              wide ? "16x8" : "int8", bias_type, got,
              present ? "present" : "absent");
    CHECK(got == bias_type);
    CHECK(present == (bias_type != 0));
  }
  kiln_free(NULL, written);
  kiln_graph_free(g);
  free(file);
}

int main(void) {
  kiln_test_seed(20261207);
  for (int trial = 0; trial < 8; trial++) {
    round_trip(true, TFL_TYPE_INT64);
    round_trip(false, TFL_TYPE_INT32);
    round_trip(trial % 2 == 0, 0);
  }
  return kiln_test_finish("tflite_export_fc_bias");
}
