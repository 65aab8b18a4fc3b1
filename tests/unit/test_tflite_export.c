/* test_tflite_export.c - kiln's .tflite writer: graphs built here are
 * written with kiln_tflite_export and read back with kiln_tflite_import,
 * which must give the same graph (values, constants, quantization, nodes,
 * attributes, inputs, outputs and their names); writing the read-back graph
 * again must give the same bytes. Every operator with options goes round
 * with random attributes. Graphs TFLite cannot express fail naming the node
 * or value, and a failing allocator never leaks or crashes. The
 * flatbuffer builder's own rules (vtable sharing, alignment) are checked
 * through kiln's reader. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/graph.h"
#include "core/op_attrs.h"
#include "core/status.h"
#include "formats/tflite/flatbuffer.h"
#include "formats/tflite/flatbuffer_builder.h"
#include "formats/tflite/tflite_export.h"
#include "formats/tflite/tflite_import.h"
#include "harness.h"

static kiln_graph *G;
static int graph_inputs[16], num_graph_inputs;

static int value(const char *name, kiln_dtype dtype, int rank,
                 const int64_t *dims) {
  int id = -1;
  CHECK_OK(kiln_graph_add_value(G, name, &id));
  kiln_value *v = &G->values[id];
  v->dtype = dtype;
  v->rank = rank;
  for (int d = 0; d < rank; d++) v->dims[d] = v->signature[d] = dims[d];
  return id;
}

static int input(const char *name, kiln_dtype dtype, int rank,
                 const int64_t *dims) {
  int id = value(name, dtype, rank, dims);
  graph_inputs[num_graph_inputs++] = id;
  return id;
}

/* A constant of random bytes the graph owns. */
static int constant(const char *name, kiln_dtype dtype, int rank,
                    const int64_t *dims) {
  int id = value(name, dtype, rank, dims);
  kiln_value *v = &G->values[id];
  size_t n = 0;
  CHECK_OK(kiln_value_nbytes(v, &n));
  uint8_t *bytes = kiln_malloc(G->alloc, n ? n : 1);
  for (size_t i = 0; i < n; i++) bytes[i] = (uint8_t)kiln_test_rand();
  if (dtype == KILN_FLOAT32)
    for (size_t i = 0; i < n / 4; i++)
      ((float *)bytes)[i] = kiln_test_uniform(-1, 1);
  v->owned_data = bytes;
  v->data = bytes;
  v->nbytes = n;
  v->is_constant = true;
  return id;
}

static void quantize(int id, int count, int axis) {
  kiln_value *v = &G->values[id];
  float *scale = kiln_calloc(G->alloc, (size_t)count, sizeof(float));
  int64_t *zero = kiln_calloc(G->alloc, (size_t)count, sizeof(int64_t));
  for (int i = 0; i < count; i++) {
    scale[i] = kiln_test_uniform(0.001f, 0.1f);
    zero[i] =
        v->dtype == KILN_INT8 && count == 1 ? kiln_test_int(-128, 127) : 0;
  }
  v->quant.count = count;
  v->quant.scale = scale;
  v->quant.zero_point = zero;
  v->quant.axis = axis;
}

static kiln_node *node(kiln_op_type op, const int *ins, int num_ins,
                       const int *outs, int num_outs) {
  kiln_node *n = NULL;
  CHECK_OK(kiln_graph_add_node(G, op, ins, num_ins, outs, num_outs,
                               G->num_nodes, &n));
  return n;
}

static void start_graph(void) {
  G = kiln_graph_create(NULL);
  num_graph_inputs = 0;
}

static void finish_graph(const int *outputs, const char *const *out_names,
                         int num_outputs) {
  CHECK_OK(kiln_graph_set_io(G, graph_inputs, NULL, num_graph_inputs, outputs,
                             out_names, num_outputs));
}

/* ------------------------------------------------------- comparison */

static bool same_value(const kiln_value *a, const kiln_value *b) {
  if (strcmp(a->name, b->name) || a->dtype != b->dtype || a->rank != b->rank ||
      a->is_constant != b->is_constant || a->is_variable != b->is_variable)
    return false;
  for (int d = 0; d < a->rank; d++)
    if (a->dims[d] != b->dims[d] || a->signature[d] != b->signature[d])
      return false;
  if (a->quant.count != b->quant.count) return false;
  for (int i = 0; i < a->quant.count; i++)
    if (a->quant.scale[i] != b->quant.scale[i] ||
        a->quant.zero_point[i] != b->quant.zero_point[i])
      return false;
  if (a->quant.count > 1 && a->quant.axis != b->quant.axis) return false;
  if (a->is_constant && a->dtype == KILN_STRING) {
    const kiln_string *x = a->data, *y = b->data;
    if (a->nbytes != b->nbytes) return false;
    for (size_t i = 0; i < a->nbytes / sizeof *x; i++)
      if (x[i].size != y[i].size ||
          (x[i].size && memcmp(x[i].data, y[i].data, x[i].size)))
        return false;
  } else if (a->is_constant && a->nbytes) {
    if (a->nbytes != b->nbytes || memcmp(a->data, b->data, a->nbytes))
      return false;
  }
  return true;
}

/* Attributes whose pointers point into the file compare by content. */
static bool same_attrs(const kiln_node *a, const kiln_node *b) {
  if (a->op == KILN_OP_BUCKETIZE) {
    const kiln_bucketize_attrs *x = a->attrs, *y = b->attrs;
    return x->count == y->count &&
           (!x->count ||
            !memcmp(x->boundaries, y->boundaries, 4 * (size_t)x->count));
  }
  if (a->op == KILN_OP_VAR_HANDLE) {
    const kiln_var_handle_attrs *x = a->attrs, *y = b->attrs;
    return !strcmp(x->container ? x->container : "",
                   y->container ? y->container : "") &&
           !strcmp(x->shared_name ? x->shared_name : "",
                   y->shared_name ? y->shared_name : "");
  }
  return !memcmp(a->attrs, b->attrs, kiln_op_table[a->op].attrs_size);
}

/* Writes G, reads it back, compares, and writes the copy again: the bytes
 * must be the same. Returns the number of mismatches. */
static int round_trip(const char *what) {
  void *bytes = NULL, *again = NULL;
  size_t size = 0, size2 = 0;
  kiln_graph *r = NULL;
  int bad = 0;
  CHECK_OK(kiln_tflite_export(G, NULL, &bytes, &size));
  if (!bytes) return 1;
  CHECK((uintptr_t)bytes % 16 == 0);
  CHECK(kiln_tflite_detect(bytes, size));
  CHECK_OK(kiln_tflite_import(bytes, size, what, NULL, &r));
  if (!r) {
    kiln_free(NULL, bytes);
    return 1;
  }
  if (r->num_values != G->num_values || r->num_nodes != G->num_nodes ||
      r->num_inputs != G->num_inputs || r->num_outputs != G->num_outputs) {
    fprintf(stderr, "%s: %d values %d nodes read back, %d %d written\n", what,
            r->num_values, r->num_nodes, G->num_values, G->num_nodes);
    bad++;
  } else {
    for (int i = 0; i < G->num_values; i++)
      if (!same_value(&G->values[i], &r->values[i])) {
        fprintf(stderr, "%s: value %d ('%s') differs\n", what, i,
                G->values[i].name);
        bad++;
      }
    for (int i = 0; i < G->num_nodes; i++) {
      const kiln_node *a = &G->nodes[i], *b = &r->nodes[i];
      bool ok = a->op == b->op && a->num_inputs == b->num_inputs &&
                a->num_outputs == b->num_outputs &&
                !memcmp(a->inputs, b->inputs, sizeof(int) * a->num_inputs) &&
                !memcmp(a->outputs, b->outputs, sizeof(int) * a->num_outputs);
      if (ok) ok = same_attrs(a, b);
      if (!ok) {
        fprintf(stderr, "%s: node %d (%s) differs\n", what, i,
                kiln_op_table[a->op].name);
        bad++;
      }
    }
    for (int i = 0; i < G->num_inputs; i++)
      if (G->inputs[i] != r->inputs[i] ||
          strcmp(G->input_names[i], r->input_names[i]))
        bad++;
    for (int i = 0; i < G->num_outputs; i++)
      if (G->outputs[i] != r->outputs[i] ||
          strcmp(G->output_names[i], r->output_names[i]))
        bad++;
  }
  CHECK_OK(kiln_tflite_export(r, NULL, &again, &size2));
  if (!again || size2 != size || memcmp(bytes, again, size)) {
    fprintf(stderr, "%s: writing the read-back graph gave other bytes\n", what);
    bad++;
  }
  kiln_free(NULL, again);
  kiln_graph_free(r);
  kiln_free(NULL, bytes);
  CHECK(bad == 0);
  return bad;
}

/* ------------------------------------------------------------ graphs */

/* A small float CNN with a dynamic batch: conv, depthwise, pools, add,
 * reshape (both forms), fully connected, softmax. */
static void test_float_cnn(void) {
  start_graph();
  int x = input("image", KILN_FLOAT32, 4, (int64_t[]){1, 8, 8, 3});
  G->values[x].signature[0] = -1;
  int w = constant("conv/w", KILN_FLOAT32, 4, (int64_t[]){4, 3, 3, 3});
  int b = constant("conv/b", KILN_FLOAT32, 1, (int64_t[]){4});
  int c = value("conv", KILN_FLOAT32, 4, (int64_t[]){1, 8, 8, 4});
  G->values[c].signature[0] = -1;
  kiln_conv_attrs *ca =
      node(KILN_OP_CONV_2D, (int[]){x, w, b}, 3, &c, 1)->attrs;
  ca->padding = KILN_PAD_SAME;
  ca->stride_h = ca->stride_w = 1;
  ca->dilation_h = ca->dilation_w = 1;
  ca->activation = KILN_ACT_RELU6;
  int dw = constant("dw/w", KILN_FLOAT32, 4, (int64_t[]){1, 3, 3, 4});
  int d = value("dw", KILN_FLOAT32, 4, (int64_t[]){1, 4, 4, 4});
  kiln_conv_attrs *da =
      node(KILN_OP_DEPTHWISE_CONV_2D, (int[]){c, dw, -1}, 3, &d, 1)->attrs;
  da->padding = KILN_PAD_VALID;
  da->stride_h = da->stride_w = 2;
  da->dilation_h = da->dilation_w = 1;
  da->depth_multiplier = 1;
  int p = value("pool", KILN_FLOAT32, 4, (int64_t[]){1, 2, 2, 4});
  kiln_pool_attrs *pa = node(KILN_OP_MAX_POOL_2D, &d, 1, &p, 1)->attrs;
  pa->padding = KILN_PAD_VALID;
  pa->stride_h = pa->stride_w = pa->filter_h = pa->filter_w = 2;
  int q = value("avg", KILN_FLOAT32, 4, (int64_t[]){1, 2, 2, 4});
  pa = node(KILN_OP_AVERAGE_POOL_2D, &p, 1, &q, 1)->attrs;
  pa->padding = KILN_PAD_SAME;
  pa->stride_h = pa->stride_w = 1;
  pa->filter_h = 2;
  pa->filter_w = 1;
  int s = value("sum", KILN_FLOAT32, 4, (int64_t[]){1, 2, 2, 4});
  ((kiln_activation_attrs *)node(KILN_OP_ADD, (int[]){p, q}, 2, &s, 1)->attrs)
      ->activation = KILN_ACT_RELU;
  int shape = constant("shape", KILN_INT32, 1, (int64_t[]){2});
  ((int32_t *)G->values[shape].owned_data)[0] = -1;
  ((int32_t *)G->values[shape].owned_data)[1] = 16;
  int f = value("flat", KILN_FLOAT32, 2, (int64_t[]){1, 16});
  ((kiln_reshape_attrs *)node(KILN_OP_RESHAPE, (int[]){s, shape}, 2, &f, 1)
       ->attrs)
      ->num_dims = -1;
  int fw = constant("fc/w", KILN_FLOAT32, 2, (int64_t[]){5, 16});
  int fo = value("fc", KILN_FLOAT32, 2, (int64_t[]){1, 5});
  kiln_fully_connected_attrs *fa =
      node(KILN_OP_FULLY_CONNECTED, (int[]){f, fw, -1}, 3, &fo, 1)->attrs;
  fa->keep_num_dims = true;
  int r = value("r", KILN_FLOAT32, 2, (int64_t[]){5, 1});
  kiln_reshape_attrs *ra = node(KILN_OP_RESHAPE, &fo, 1, &r, 1)->attrs;
  ra->num_dims = 2;
  ra->new_shape[0] = 5;
  ra->new_shape[1] = 1;
  int out = value("probs", KILN_FLOAT32, 2, (int64_t[]){5, 1});
  ((kiln_softmax_attrs *)node(KILN_OP_SOFTMAX, &r, 1, &out, 1)->attrs)->beta =
      0.5f;
  finish_graph((int[]){out, c}, (const char *const[]){"probs", "features"}, 2);
  round_trip("float cnn");
  kiln_graph_free(G);
}

/* int8 with per-channel weights, QUANTIZE/DEQUANTIZE at the edges, float16
 * weights dequantized, a variable and a string constant. */
static void test_quantized(void) {
  start_graph();
  int x = input("x", KILN_FLOAT32, 4, (int64_t[]){2, 5, 5, 3});
  int xq = value("xq", KILN_INT8, 4, (int64_t[]){2, 5, 5, 3});
  quantize(xq, 1, 0);
  node(KILN_OP_QUANTIZE, &x, 1, &xq, 1);
  int w = constant("w", KILN_INT8, 4, (int64_t[]){6, 1, 1, 3});
  quantize(w, 6, 0);
  int b = constant("b", KILN_INT32, 1, (int64_t[]){6});
  quantize(b, 6, 0);
  int c = value("c", KILN_INT8, 4, (int64_t[]){2, 5, 5, 6});
  quantize(c, 1, 0);
  kiln_conv_attrs *ca =
      node(KILN_OP_CONV_2D, (int[]){xq, w, b}, 3, &c, 1)->attrs;
  ca->stride_h = ca->stride_w = 1;
  ca->dilation_h = 2;
  ca->dilation_w = 1;
  ca->activation = KILN_ACT_RELU;
  int y = value("y", KILN_FLOAT32, 4, (int64_t[]){2, 5, 5, 6});
  node(KILN_OP_DEQUANTIZE, &c, 1, &y, 1);
  int h = constant("half", KILN_FLOAT16, 1, (int64_t[]){6});
  int hf = value("half_f32", KILN_FLOAT32, 1, (int64_t[]){6});
  node(KILN_OP_DEQUANTIZE, &h, 1, &hf, 1);
  int z = value("z", KILN_FLOAT32, 4, (int64_t[]){2, 5, 5, 6});
  node(KILN_OP_MUL, (int[]){y, hf}, 2, &z, 1);
  int state = value("state", KILN_FLOAT32, 1, (int64_t[]){4});
  G->values[state].is_variable = true;
  int words = value("words", KILN_STRING, 1, (int64_t[]){3});
  static const kiln_string text[3] = {{"a", 1}, {"", 0}, {"kiln", 4}};
  G->values[words].data = text;
  G->values[words].nbytes = sizeof text;
  G->values[words].is_constant = true;
  finish_graph(&z, NULL, 1);
  round_trip("quantized");
  kiln_graph_free(G);
}

/* ------------------------------------------ every operator's options */

static kiln_activation rand_act(void) {
  return (kiln_activation)kiln_test_int(0, 5);
}

static void random_attrs(kiln_op_type op, void *attrs) {
  switch (op) {
    case KILN_OP_CONV_2D:
    case KILN_OP_DEPTHWISE_CONV_2D:
    case KILN_OP_TRANSPOSE_CONV: {
      kiln_conv_attrs *a = attrs;
      a->padding = (kiln_padding)kiln_test_int(0, 1);
      a->stride_h = kiln_test_int(1, 4);
      a->stride_w = kiln_test_int(1, 4);
      bool t = op == KILN_OP_TRANSPOSE_CONV;
      a->dilation_h = t ? 1 : kiln_test_int(1, 3);
      a->dilation_w = t ? 1 : kiln_test_int(1, 3);
      if (op == KILN_OP_DEPTHWISE_CONV_2D)
        a->depth_multiplier = kiln_test_int(0, 4);
      a->activation = rand_act();
      break;
    }
    case KILN_OP_AVERAGE_POOL_2D:
    case KILN_OP_MAX_POOL_2D:
    case KILN_OP_L2_POOL_2D: {
      kiln_pool_attrs *a = attrs;
      a->padding = (kiln_padding)kiln_test_int(0, 1);
      a->stride_h = kiln_test_int(1, 4);
      a->stride_w = kiln_test_int(1, 4);
      a->filter_h = kiln_test_int(1, 5);
      a->filter_w = kiln_test_int(1, 5);
      a->activation = rand_act();
      break;
    }
    case KILN_OP_FULLY_CONNECTED: {
      kiln_fully_connected_attrs *a = attrs;
      a->activation = rand_act();
      a->keep_num_dims = kiln_test_int(0, 1);
      a->asymmetric_quantize_inputs = kiln_test_int(0, 1);
      /* none given, INT32 or INT64 (TensorType codes 0, 2, 4) */
      a->quantized_bias_type = (int8_t)(2 * kiln_test_int(0, 2));
      break;
    }
    case KILN_OP_BATCH_MATMUL: {
      kiln_batch_matmul_attrs *a = attrs;
      a->adj_x = kiln_test_int(0, 1);
      a->adj_y = kiln_test_int(0, 1);
      a->asymmetric_quantize_inputs = kiln_test_int(0, 1);
      break;
    }
    case KILN_OP_ADD:
    case KILN_OP_SUB:
    case KILN_OP_MUL:
    case KILN_OP_DIV:
    case KILN_OP_L2_NORMALIZATION:
      ((kiln_activation_attrs *)attrs)->activation = rand_act();
      break;
    case KILN_OP_LEAKY_RELU:
      ((kiln_leaky_relu_attrs *)attrs)->alpha = kiln_test_uniform(0, 1);
      break;
    case KILN_OP_GELU:
      ((kiln_gelu_attrs *)attrs)->approximate = kiln_test_int(0, 1);
      break;
    case KILN_OP_SOFTMAX:
      ((kiln_softmax_attrs *)attrs)->beta = kiln_test_uniform(0.1f, 3);
      break;
    case KILN_OP_MEAN:
    case KILN_OP_SUM:
    case KILN_OP_REDUCE_MAX:
    case KILN_OP_REDUCE_MIN:
    case KILN_OP_REDUCE_PROD:
    case KILN_OP_REDUCE_ANY:
    case KILN_OP_REDUCE_ALL:
      ((kiln_reduce_attrs *)attrs)->keep_dims = kiln_test_int(0, 1);
      break;
    case KILN_OP_RESHAPE: {
      kiln_reshape_attrs *a = attrs;
      a->num_dims = kiln_test_int(-1, 8);
      for (int i = 0; i < a->num_dims; i++)
        a->new_shape[i] = kiln_test_int(-1, 9);
      break;
    }
    case KILN_OP_SQUEEZE: {
      kiln_squeeze_attrs *a = attrs;
      a->num_axes = kiln_test_int(0, 8);
      for (int i = 0; i < a->num_axes; i++) a->axes[i] = kiln_test_int(-8, 7);
      break;
    }
    case KILN_OP_CONCATENATION: {
      kiln_concat_attrs *a = attrs;
      a->axis = kiln_test_int(-4, 3);
      a->activation = rand_act();
      break;
    }
    case KILN_OP_PACK:
    case KILN_OP_UNPACK: {
      kiln_pack_attrs *a = attrs;
      a->count = kiln_test_int(1, 9);
      a->axis = kiln_test_int(-3, 3);
      break;
    }
    case KILN_OP_SPLIT:
    case KILN_OP_SPLIT_V:
      ((kiln_split_attrs *)attrs)->num_splits = kiln_test_int(1, 9);
      break;
    case KILN_OP_MIRROR_PAD:
      ((kiln_mirror_pad_attrs *)attrs)->mode =
          (kiln_mirror_mode)kiln_test_int(0, 1);
      break;
    case KILN_OP_STRIDED_SLICE: {
      kiln_strided_slice_attrs *a = attrs;
      a->begin_mask = kiln_test_int(0, 255);
      a->end_mask = kiln_test_int(0, 255);
      a->ellipsis_mask = kiln_test_int(0, 255);
      a->new_axis_mask = kiln_test_int(0, 255);
      a->shrink_axis_mask = kiln_test_int(0, 255);
      a->offset = kiln_test_int(0, 1);
      break;
    }
    case KILN_OP_GATHER: {
      kiln_gather_attrs *a = attrs;
      a->axis = kiln_test_int(-3, 3);
      a->batch_dims = kiln_test_int(-2, 2);
      break;
    }
    case KILN_OP_RESIZE_BILINEAR:
    case KILN_OP_RESIZE_NEAREST_NEIGHBOR: {
      kiln_resize_attrs *a = attrs;
      a->align_corners = kiln_test_int(0, 1);
      a->half_pixel_centers = kiln_test_int(0, 1);
      break;
    }
    case KILN_OP_LSTM:
    case KILN_OP_UNIDIRECTIONAL_SEQUENCE_LSTM:
    case KILN_OP_BIDIRECTIONAL_SEQUENCE_LSTM: {
      kiln_lstm_attrs *a = attrs;
      a->activation = rand_act();
      a->cell_clip = (float)kiln_test_int(0, 10);
      a->proj_clip = kiln_test_uniform(0, 5);
      a->time_major = op == KILN_OP_LSTM ? true : kiln_test_int(0, 1);
      a->merge_outputs =
          op == KILN_OP_BIDIRECTIONAL_SEQUENCE_LSTM && kiln_test_int(0, 1);
      a->asymmetric_quantize_inputs = kiln_test_int(0, 1);
      break;
    }
    case KILN_OP_RNN:
    case KILN_OP_UNIDIRECTIONAL_SEQUENCE_RNN:
    case KILN_OP_BIDIRECTIONAL_SEQUENCE_RNN: {
      kiln_rnn_attrs *a = attrs;
      a->activation = rand_act();
      a->time_major = op == KILN_OP_RNN ? true : kiln_test_int(0, 1);
      a->merge_outputs =
          op == KILN_OP_BIDIRECTIONAL_SEQUENCE_RNN && kiln_test_int(0, 1);
      a->asymmetric_quantize_inputs = kiln_test_int(0, 1);
      break;
    }
    case KILN_OP_SVDF: {
      kiln_svdf_attrs *a = attrs;
      a->rank = kiln_test_int(1, 4);
      a->activation = rand_act();
      a->asymmetric_quantize_inputs = kiln_test_int(0, 1);
      break;
    }
    case KILN_OP_CUMSUM: {
      kiln_cumsum_attrs *a = attrs;
      a->exclusive = kiln_test_int(0, 1);
      a->reverse = kiln_test_int(0, 1);
      break;
    }
    case KILN_OP_DEPTH_TO_SPACE:
    case KILN_OP_SPACE_TO_DEPTH:
      ((kiln_block_size_attrs *)attrs)->block_size = kiln_test_int(1, 4);
      break;
    case KILN_OP_ONE_HOT:
      ((kiln_one_hot_attrs *)attrs)->axis = kiln_test_int(-1, 3);
      break;
    case KILN_OP_LOCAL_RESPONSE_NORMALIZATION: {
      kiln_lrn_attrs *a = attrs;
      a->radius = kiln_test_int(0, 5);
      a->bias = kiln_test_uniform(0, 2);
      a->alpha = kiln_test_uniform(0, 2);
      a->beta = kiln_test_uniform(0, 2);
      break;
    }
    case KILN_OP_BUCKETIZE: {
      static const float bounds[3] = {-1.0f, 0.5f, 2.0f};
      kiln_bucketize_attrs *a = attrs;
      a->count = kiln_test_int(0, 3);
      a->boundaries = a->count ? (const unsigned char *)bounds : NULL;
      break;
    }
    case KILN_OP_FAKE_QUANT: {
      kiln_fake_quant_attrs *a = attrs;
      a->min = kiln_test_uniform(-3, 0);
      a->max = kiln_test_uniform(0, 3);
      a->num_bits = kiln_test_int(2, 16);
      break;
    }
    case KILN_OP_RANDOM_UNIFORM:
    case KILN_OP_RANDOM_STANDARD_NORMAL:
    case KILN_OP_MULTINOMIAL: {
      kiln_random_attrs *a = attrs;
      a->seed = (int64_t)kiln_test_rand() << 20;
      a->seed2 = -(int64_t)kiln_test_rand();
      break;
    }
    case KILN_OP_REVERSE_SEQUENCE: {
      kiln_reverse_sequence_attrs *a = attrs;
      a->seq_dim = kiln_test_int(0, 3);
      a->batch_dim = kiln_test_int(0, 3);
      break;
    }
    case KILN_OP_CONV_3D:
    case KILN_OP_CONV_3D_TRANSPOSE: {
      kiln_conv3d_attrs *a = attrs;
      a->padding = (kiln_padding)kiln_test_int(0, 1);
      a->stride_d = kiln_test_int(1, 3);
      a->stride_h = kiln_test_int(1, 3);
      a->stride_w = kiln_test_int(1, 3);
      a->dilation_d = kiln_test_int(1, 3);
      a->dilation_h = kiln_test_int(1, 3);
      a->dilation_w = kiln_test_int(1, 3);
      a->activation = rand_act();
      break;
    }
    case KILN_OP_VAR_HANDLE: {
      kiln_var_handle_attrs *a = attrs;
      a->container = kiln_test_int(0, 1) ? "box" : NULL;
      a->shared_name = "counter";
      break;
    }
    case KILN_OP_REDUCE_WINDOW:
      ((kiln_reduce_window_attrs *)attrs)->function =
          (kiln_window_function)kiln_test_int(1, 6);
      break;
    case KILN_OP_STABLEHLO_RNG_BIT_GENERATOR:
      ((kiln_rng_bit_generator_attrs *)attrs)->algorithm =
          (kiln_rng_algorithm)kiln_test_int(0, 2);
      break;
    case KILN_OP_STABLEHLO_PAD: {
      kiln_stablehlo_pad_attrs *a = attrs;
      a->rank = kiln_test_int(0, 8);
      for (int d = 0; d < a->rank; d++) {
        a->low[d] = kiln_test_int(-5, 5);
        a->high[d] = kiln_test_int(-5, 5);
        a->interior[d] = kiln_test_int(0, 3);
      }
      break;
    }
    case KILN_OP_STABLEHLO_GATHER: {
      kiln_stablehlo_gather_attrs *a = attrs;
      a->num_offset_dims = kiln_test_int(0, 8);
      a->num_collapsed = kiln_test_int(0, 8);
      a->num_start_index_map = kiln_test_int(0, 8);
      a->num_slice_sizes = kiln_test_int(0, 8);
      for (int d = 0; d < 8; d++) {
        if (d < a->num_offset_dims) a->offset_dims[d] = kiln_test_int(0, 7);
        if (d < a->num_collapsed) a->collapsed_slice_dims[d] = d;
        if (d < a->num_start_index_map)
          a->start_index_map[d] = kiln_test_int(0, 7);
        if (d < a->num_slice_sizes) a->slice_sizes[d] = kiln_test_int(1, 9);
      }
      a->index_vector_dim = kiln_test_int(0, 8);
      break;
    }
    default:
      break;
  }
}

/* Operators with options (and a few without) go round one by one with
 * random attributes, each 20 times. */
static void test_every_option(void) {
  static const kiln_op_type ops[] = {
      KILN_OP_CONV_2D,
      KILN_OP_DEPTHWISE_CONV_2D,
      KILN_OP_TRANSPOSE_CONV,
      KILN_OP_AVERAGE_POOL_2D,
      KILN_OP_MAX_POOL_2D,
      KILN_OP_L2_POOL_2D,
      KILN_OP_FULLY_CONNECTED,
      KILN_OP_BATCH_MATMUL,
      KILN_OP_ADD,
      KILN_OP_SUB,
      KILN_OP_MUL,
      KILN_OP_DIV,
      KILN_OP_L2_NORMALIZATION,
      KILN_OP_LEAKY_RELU,
      KILN_OP_GELU,
      KILN_OP_SOFTMAX,
      KILN_OP_MEAN,
      KILN_OP_SUM,
      KILN_OP_REDUCE_MAX,
      KILN_OP_REDUCE_MIN,
      KILN_OP_REDUCE_PROD,
      KILN_OP_REDUCE_ANY,
      KILN_OP_REDUCE_ALL,
      KILN_OP_RESHAPE,
      KILN_OP_SQUEEZE,
      KILN_OP_CONCATENATION,
      KILN_OP_PACK,
      KILN_OP_UNPACK,
      KILN_OP_SPLIT,
      KILN_OP_SPLIT_V,
      KILN_OP_MIRROR_PAD,
      KILN_OP_STRIDED_SLICE,
      KILN_OP_GATHER,
      KILN_OP_RESIZE_BILINEAR,
      KILN_OP_RESIZE_NEAREST_NEIGHBOR,
      KILN_OP_LSTM,
      KILN_OP_UNIDIRECTIONAL_SEQUENCE_LSTM,
      KILN_OP_BIDIRECTIONAL_SEQUENCE_LSTM,
      KILN_OP_RNN,
      KILN_OP_UNIDIRECTIONAL_SEQUENCE_RNN,
      KILN_OP_BIDIRECTIONAL_SEQUENCE_RNN,
      KILN_OP_SVDF,
      KILN_OP_CUMSUM,
      KILN_OP_DEPTH_TO_SPACE,
      KILN_OP_SPACE_TO_DEPTH,
      KILN_OP_ONE_HOT,
      KILN_OP_LOCAL_RESPONSE_NORMALIZATION,
      KILN_OP_BUCKETIZE,
      KILN_OP_FAKE_QUANT,
      KILN_OP_RANDOM_UNIFORM,
      KILN_OP_RANDOM_STANDARD_NORMAL,
      KILN_OP_MULTINOMIAL,
      KILN_OP_REVERSE_SEQUENCE,
      KILN_OP_CONV_3D,
      KILN_OP_CONV_3D_TRANSPOSE,
      KILN_OP_VAR_HANDLE,
      KILN_OP_REDUCE_WINDOW,
      KILN_OP_STABLEHLO_RNG_BIT_GENERATOR,
      KILN_OP_STABLEHLO_PAD,
      KILN_OP_STABLEHLO_GATHER,
      KILN_OP_BROADCAST_TO,
      KILN_OP_RELU,
      KILN_OP_HARD_SWISH,
      KILN_OP_TRANSPOSE,
      KILN_OP_PAD,
      KILN_OP_QUANTIZE,
      KILN_OP_DEQUANTIZE,
      KILN_OP_SELECT_V2,
      KILN_OP_SQUARED_DIFFERENCE,
  };
  int failures = 0;
  for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) {
    for (int round = 0; round < 20; round++) {
      start_graph();
      int x = input("x", KILN_FLOAT32, 2, (int64_t[]){2, 3});
      int y = value("y", KILN_FLOAT32, 2, (int64_t[]){2, 3});
      kiln_node *n = node(ops[k], &x, 1, &y, 1);
      random_attrs(ops[k], n->attrs);
      finish_graph(&y, NULL, 1);
      failures += round_trip(kiln_op_table[ops[k]].name) != 0;
      kiln_graph_free(G);
    }
  }
  printf("options round trip: %zu operators x 20, %d failures\n",
         sizeof ops / sizeof ops[0], failures);
}

static void expect_refusal(const char *needle) {
  void *bytes = (void *)1;
  size_t size = 7;
  CHECK_ERROR(kiln_tflite_export(G, NULL, &bytes, &size), KILN_ERR_UNSUPPORTED,
              needle);
  CHECK(bytes == NULL && size == 0);
}

/* The integer LSTM's intermediate tensors exist only as quantization in
 * the node's attributes; they are written as tensors of their own and read
 * back into the same attributes. */
static void test_lstm_intermediates(void) {
  start_graph();
  int x = input("x", KILN_INT8, 2, (int64_t[]){1, 4});
  int y = value("y", KILN_INT8, 2, (int64_t[]){1, 4});
  kiln_lstm_attrs *a = node(KILN_OP_LSTM, &x, 1, &y, 1)->attrs;
  a->time_major = true;
  a->num_intermediates = 5;
  for (int k = 0; k < 5; k++) {
    a->intermediate_scale[k] = k == 2 ? 0.0f : kiln_test_uniform(1e-4f, 1);
    a->intermediate_zp[k] = k == 4 ? kiln_test_int(-128, 127) : 0;
  }
  kiln_lstm_attrs want = *a;
  finish_graph(&y, NULL, 1);
  void *bytes = NULL;
  size_t size = 0;
  kiln_graph *r = NULL;
  CHECK_OK(kiln_tflite_export(G, NULL, &bytes, &size));
  CHECK_OK(kiln_tflite_import(bytes, size, "lstm", NULL, &r));
  CHECK(r && r->num_nodes == 1 && r->num_values == G->num_values + 5);
  if (r && r->num_nodes == 1)
    CHECK(!memcmp(r->nodes[0].attrs, &want, sizeof want));
  kiln_graph_free(r);
  kiln_free(NULL, bytes);
  a = G->nodes[0].attrs;
  a->num_intermediates = 6;
  expect_refusal("node 0 (LSTM) has 6 intermediate tensors");
  kiln_graph_free(G);
}

/* ------------------------------------------------------- refusals */

static void test_refusals(void) {
  /* an operator only the passes make */
  start_graph();
  int x = input("x", KILN_FLOAT32, 4, (int64_t[]){1, 4, 4, 2});
  int y = value("y", KILN_FLOAT32, 4, (int64_t[]){1, 4, 4, 2});
  int z = value("z", KILN_FLOAT32, 4, (int64_t[]){1, 4, 4, 2});
  node(KILN_OP_RELU, &x, 1, &y, 1);
  node(KILN_OP_FUSED_BOTTLENECK, &y, 1, &z, 1);
  finish_graph(&z, NULL, 1);
  expect_refusal("node 1 (FUSED_BOTTLENECK) has no TFLite form");
  kiln_graph_free(G);

  /* a fused activation only the passes make */
  start_graph();
  x = input("x", KILN_FLOAT32, 2, (int64_t[]){2, 2});
  y = value("y", KILN_FLOAT32, 2, (int64_t[]){2, 2});
  ((kiln_activation_attrs *)node(KILN_OP_ADD, (int[]){x, x}, 2, &y, 1)->attrs)
      ->activation = KILN_ACT_HARD_SWISH;
  finish_graph(&y, NULL, 1);
  expect_refusal("node 0 (ADD): fused activation 16 has no TFLite form");
  kiln_graph_free(G);

  /* a CONV_2D with a fused residual input */
  start_graph();
  x = input("x", KILN_FLOAT32, 4, (int64_t[]){1, 2, 2, 1});
  int w = constant("w", KILN_FLOAT32, 4, (int64_t[]){1, 1, 1, 1});
  y = value("y", KILN_FLOAT32, 4, (int64_t[]){1, 2, 2, 1});
  kiln_conv_attrs *ca =
      node(KILN_OP_CONV_2D, (int[]){x, w, -1, x}, 4, &y, 1)->attrs;
  ca->stride_h = ca->stride_w = ca->dilation_h = ca->dilation_w = 1;
  finish_graph(&y, NULL, 1);
  expect_refusal("node 0 (CONV_2D): it has 4 inputs");
  kiln_graph_free(G);

  /* a dtype TFLite has no number for */
  start_graph();
  x = input("x", KILN_FLOAT32, 1, (int64_t[]){3});
  y = value("odd", (kiln_dtype)99, 1, (int64_t[]){3});
  node(KILN_OP_CAST, &x, 1, &y, 1);
  finish_graph(&y, NULL, 1);
  CHECK_ERROR(kiln_tflite_export(G, NULL, &(void *){NULL}, &(size_t){0}),
              KILN_ERR_UNSUPPORTED, "value 1 ('odd'): its type");
  kiln_graph_free(G);

  /* DENSIFY: its sparse input is written dense, which TFLite refuses */
  start_graph();
  x = input("x", KILN_FLOAT32, 1, (int64_t[]){3});
  y = value("y", KILN_FLOAT32, 1, (int64_t[]){3});
  node(KILN_OP_DENSIFY, &x, 1, &y, 1);
  finish_graph(&y, NULL, 1);
  expect_refusal("node 0 (DENSIFY): its input is written dense");
  kiln_graph_free(G);

  /* control flow: other subgraphs */
  start_graph();
  x = input("x", KILN_FLOAT32, 1, (int64_t[]){3});
  y = value("y", KILN_FLOAT32, 1, (int64_t[]){3});
  node(KILN_OP_WHILE, &x, 1, &y, 1);
  finish_graph(&y, NULL, 1);
  expect_refusal("node 0 (WHILE): it runs other subgraphs");
  kiln_graph_free(G);

  CHECK_ERROR(kiln_tflite_export(NULL, NULL, &(void *){NULL}, &(size_t){0}),
              KILN_ERR_INVALID_ARGUMENT, "no graph");
}

/* Every allocation the writer makes may fail: it reports out of memory
 * and leaves nothing allocated. */
static void test_failing_allocator(void) {
  start_graph();
  int x = input("x", KILN_FLOAT32, 2, (int64_t[]){1, 8});
  int w = constant("w", KILN_FLOAT32, 2, (int64_t[]){4, 8});
  int y = value("y", KILN_FLOAT32, 2, (int64_t[]){1, 4});
  node(KILN_OP_FULLY_CONNECTED, (int[]){x, w, -1}, 3, &y, 1);
  int z = value("z", KILN_FLOAT32, 2, (int64_t[]){1, 4});
  node(KILN_OP_SOFTMAX, &y, 1, &z, 1);
  finish_graph(&z, NULL, 1);
  kiln_test_allocator t;
  /* how many allocations a successful write makes */
  const kiln_allocator *a = kiln_test_allocator_init(&t, 1L << 40);
  void *bytes = NULL;
  size_t size = 0;
  CHECK_OK(kiln_tflite_export(G, a, &bytes, &size));
  CHECK(t.live == 1);
  kiln_free(a, bytes);
  long calls = t.calls;
  int failed = 0;
  for (long fail_at = 0; fail_at < calls; fail_at++) {
    a = kiln_test_allocator_init(&t, fail_at);
    bytes = NULL;
    kiln_status *st = kiln_tflite_export(G, a, &bytes, &size);
    if (st) {
      /* (a lost vtable-sharing list is no failure: only sharing is lost) */
      failed++;
      if (kiln_status_get_code(st) != KILN_ERR_OUT_OF_MEMORY)
        fprintf(stderr, "allocation %ld: %s\n", fail_at,
                kiln_status_message(st));
      CHECK(kiln_status_get_code(st) == KILN_ERR_OUT_OF_MEMORY);
      kiln_status_free(st);
      CHECK(bytes == NULL);
    } else {
      kiln_free(a, bytes);
    }
    CHECK(t.live == 0);
  }
  CHECK(t.live == 0);
  printf("failing allocator: %d failures reported, %ld calls when none\n",
         failed, calls);
  kiln_graph_free(G);
}

/* --------------------------------------------------- the builder */

static void test_builder(void) {
  kiln_fbb b;
  kiln_fbb_init(&b, NULL);
  uint8_t data[5] = {1, 2, 3, 4, 5};
  kiln_fbb_ref v = kiln_fbb_vector(&b, data, 5, 1, 16);
  kiln_fbb_ref s = kiln_fbb_string(&b, "hello");
  kiln_fbb_ref t[3];
  for (int i = 0; i < 3; i++) {
    kiln_fbb_start(&b);
    kiln_fbb_add_i32(&b, 1, 100 + i);
    kiln_fbb_add_u8(&b, 0, (uint8_t)i);
    t[i] = kiln_fbb_end(&b);
  }
  kiln_fbb_ref tv = kiln_fbb_ref_vector(&b, t, 3);
  int64_t longs[2] = {-5, INT64_MAX};
  kiln_fbb_ref lv = kiln_fbb_vector_i64(&b, longs, 2);
  kiln_fbb_start(&b);
  kiln_fbb_add_ref(&b, 0, v);
  kiln_fbb_add_ref(&b, 1, s);
  kiln_fbb_add_ref(&b, 2, tv);
  kiln_fbb_add_ref(&b, 3, lv);
  kiln_fbb_add_f32(&b, 5, 2.5f);
  kiln_fbb_ref root = kiln_fbb_end(&b);
  void *bytes = NULL;
  size_t size = 0;
  CHECK_OK(kiln_fbb_finish(&b, root, "TEST", &bytes, &size));
  CHECK(bytes && !memcmp((uint8_t *)bytes + 4, "TEST", 4));
  kiln_fb fb = {bytes, size};
  kiln_fb_table r, e;
  kiln_fb_vector vec;
  const char *str = NULL;
  float f = 0;
  CHECK_OK(kiln_fb_root(&fb, "Root", &r));
  CHECK_OK(kiln_fb_vector_field(&r, 0, 1, &vec, NULL));
  CHECK(vec.length == 5 && vec.pos % 16 == 0 &&
        !memcmp(kiln_fb_vec_data(&vec), data, 5));
  CHECK_OK(kiln_fb_string_field(&r, 1, &str));
  CHECK(str && !strcmp(str, "hello"));
  CHECK_OK(kiln_fb_f32(&r, 5, 0, &f));
  CHECK(f == 2.5f);
  CHECK(!kiln_fb_has_field(&r, 4));
  CHECK_OK(kiln_fb_vector_field(&r, 3, 8, &vec, NULL));
  CHECK(vec.length == 2 && kiln_fb_vec_i64(&vec, 0) == -5 &&
        kiln_fb_vec_i64(&vec, 1) == INT64_MAX);
  CHECK_OK(kiln_fb_vector_field(&r, 2, 4, &vec, NULL));
  CHECK(vec.length == 3);
  size_t first_vtable = 0;
  for (uint32_t i = 0; i < vec.length && i < 3; i++) {
    int32_t x = 0;
    uint8_t u = 9;
    CHECK_OK(kiln_fb_vec_table(&vec, i, "Elem", &e));
    CHECK_OK(kiln_fb_i32(&e, 1, 0, &x));
    CHECK_OK(kiln_fb_u8(&e, 0, 9, &u));
    CHECK(x == 100 + (int32_t)i && u == i);
    /* identical layouts share one vtable */
    if (i == 0) first_vtable = e.vtable;
    CHECK(e.vtable == first_vtable);
  }
  kiln_free(NULL, bytes);

  /* misuse is reported, not written */
  kiln_fbb_init(&b, NULL);
  kiln_fbb_start(&b);
  kiln_fbb_add_i32(&b, 0, 1);
  kiln_fbb_add_i32(&b, 0, 2);
  root = kiln_fbb_end(&b);
  CHECK_ERROR(kiln_fbb_finish(&b, root, NULL, &bytes, &size), KILN_ERR_INTERNAL,
              "field slot 0");
  CHECK(bytes == NULL);
  kiln_fbb_init(&b, NULL);
  kiln_fbb_start(&b);
  kiln_fbb_string(&b, "inside");
  CHECK_ERROR(kiln_fbb_finish(&b, 0, NULL, &bytes, &size), KILN_ERR_INTERNAL,
              "inside a table");
}

int main(void) {
  kiln_test_seed(20261207);
  test_builder();
  test_float_cnn();
  test_quantized();
  test_every_option();
  test_lstm_intermediates();
  test_refusals();
  test_failing_allocator();
  return kiln_test_finish("tflite_export");
}
