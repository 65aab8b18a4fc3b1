/* tflite_export_options.c - the TFLite writer's builtin options: for each
 * operator, its kiln attributes written as the options table tflite_ops.c
 * parses (same slots, same meaning), so that a written file reads back into
 * the same attributes and LiteRT sees what the original file said. */
#include "formats/tflite/tflite_export_options.h"

#include <string.h>

#include "core/dtype_private.h"
#include "core/op_attrs.h"
#include "core/status.h"
#include "formats/tflite/tflite_schema.h"

/* Options union types and slots tflite_ops.c has no use for (it ignores
 * these options; LiteRT needs them). Values from TFLite's schema.fbs. */
enum {
  OPT_CAST = 37,
  OPT_ARG_MAX = 40,
  OPT_SHAPE = 55,
  OPT_ARG_MIN = 57,
  OPT_UNIQUE = 80,
};
enum { CAST_IN_TYPE = 0, CAST_OUT_TYPE = 1 }; /* CastOptions */
enum { SHAPE_OUT_TYPE = 0 };                  /* ShapeOptions */
enum { ARG_OUTPUT_TYPE = 0 };                 /* ArgMax/ArgMinOptions */
enum { ADD_POT_SCALE_INT16 = 1 };             /* AddOptions, SubOptions */
enum { FC_WEIGHTS_FORMAT_DEFAULT = 0 };
enum { FAKE_QUANT_NARROW_RANGE = 3 };

int kiln_tflite_type_of(kiln_dtype dtype) {
  if (dtype == KILN_RESOURCE) return TFL_TYPE_RESOURCE;
  switch (dtype) {
    case KILN_FLOAT32:
      return TFL_TYPE_FLOAT32;
    case KILN_FLOAT16:
      return TFL_TYPE_FLOAT16;
    case KILN_INT8:
      return TFL_TYPE_INT8;
    case KILN_UINT8:
      return TFL_TYPE_UINT8;
    case KILN_INT16:
      return TFL_TYPE_INT16;
    case KILN_INT32:
      return TFL_TYPE_INT32;
    case KILN_INT64:
      return TFL_TYPE_INT64;
    case KILN_BOOL:
      return TFL_TYPE_BOOL;
    case KILN_FLOAT64:
      return TFL_TYPE_FLOAT64;
    case KILN_COMPLEX64:
      return TFL_TYPE_COMPLEX64;
    case KILN_UINT16:
      return TFL_TYPE_UINT16;
    case KILN_UINT32:
      return TFL_TYPE_UINT32;
    case KILN_UINT64:
      return TFL_TYPE_UINT64;
    case KILN_STRING:
      return TFL_TYPE_STRING;
    default:
      return -1;
  }
}

#define UNSUPPORTED(...) kiln_error(KILN_ERR_UNSUPPORTED, __VA_ARGS__)

/* A fused activation TFLite can name (kiln's own, 16 and up, exist only
 * after load-time passes). */
static kiln_status *activation(kiln_activation act, int8_t *out) {
  if ((int)act < 0 || (int)act > TFL_ACTIVATION_MAX)
    return UNSUPPORTED(
        "fused activation %d has no TFLite form (kiln's own, made by "
        "load-time passes)",
        (int)act);
  *out = (int8_t)act;
  return NULL;
}

static kiln_status *padding(kiln_padding p, int8_t *out) {
  if ((int)p < 0 || (int)p > TFL_PADDING_MAX)
    return UNSUPPORTED("padding %d is neither SAME nor VALID", (int)p);
  *out = (int8_t)p;
  return NULL;
}

/* The dtype of output `i` of n, as a TensorType. */
static kiln_status *output_type(const kiln_graph *g, const kiln_node *n, int i,
                                int8_t *out) {
  if (i >= n->num_outputs || n->outputs[i] < 0 ||
      n->outputs[i] >= g->num_values)
    return UNSUPPORTED("it has no output %d", i);
  int t = kiln_tflite_type_of(g->values[n->outputs[i]].dtype);
  if (t < 0) return UNSUPPORTED("output %d has no TFLite type", i);
  *out = (int8_t)t;
  return NULL;
}

static kiln_status *input_type(const kiln_graph *g, const kiln_node *n, int i,
                               int8_t *out) {
  if (i >= n->num_inputs || n->inputs[i] < 0 || n->inputs[i] >= g->num_values)
    return UNSUPPORTED("it has no input %d", i);
  int t = kiln_tflite_type_of(g->values[n->inputs[i]].dtype);
  if (t < 0) return UNSUPPORTED("input %d has no TFLite type", i);
  *out = (int8_t)t;
  return NULL;
}

/* ------------------------------------------------------------ writers */

/* Where a Conv2D, DepthwiseConv2D or TransposeConv options table keeps
 * each kiln_conv_attrs field; -1: the table has none. The three tables hold
 * the same fields in the same order, less some, at other slots. */
typedef struct conv_slots {
  int padding, stride_w, stride_h, depth_multiplier, activation, dilation_w,
      dilation_h;
} conv_slots;

static const conv_slots CONV_2D_SLOTS = {
    .padding = TFL_CONV2D_PADDING,
    .stride_w = TFL_CONV2D_STRIDE_W,
    .stride_h = TFL_CONV2D_STRIDE_H,
    .depth_multiplier = -1,
    .activation = TFL_CONV2D_ACTIVATION,
    .dilation_w = TFL_CONV2D_DILATION_W,
    .dilation_h = TFL_CONV2D_DILATION_H,
};
static const conv_slots DEPTHWISE_SLOTS = {
    .padding = TFL_DWCONV_PADDING,
    .stride_w = TFL_DWCONV_STRIDE_W,
    .stride_h = TFL_DWCONV_STRIDE_H,
    .depth_multiplier = TFL_DWCONV_DEPTH_MULTIPLIER,
    .activation = TFL_DWCONV_ACTIVATION,
    .dilation_w = TFL_DWCONV_DILATION_W,
    .dilation_h = TFL_DWCONV_DILATION_H,
};
static const conv_slots TRANSPOSE_CONV_SLOTS = {
    .padding = TFL_TCONV_PADDING,
    .stride_w = TFL_TCONV_STRIDE_W,
    .stride_h = TFL_TCONV_STRIDE_H,
    .depth_multiplier = -1,
    .activation = TFL_TCONV_ACTIVATION,
    .dilation_w = -1,
    .dilation_h = -1,
};

static kiln_status *conv_options(kiln_fbb *b, const kiln_conv_attrs *a,
                                 const conv_slots *s, kiln_fbb_ref *out) {
  int8_t pad = 0, act = 0;
  KILN_TRY(padding(a->padding, &pad));
  KILN_TRY(activation(a->activation, &act));
  /* Only TransposeConv's table has no dilation; 1 needs none. */
  if (s->dilation_w < 0 && (a->dilation_h != 1 || a->dilation_w != 1))
    return UNSUPPORTED("dilation %dx%d: TFLite's TRANSPOSE_CONV has none",
                       a->dilation_h, a->dilation_w);
  kiln_fbb_start(b);
  kiln_fbb_add_i8(b, s->padding, pad);
  kiln_fbb_add_i32(b, s->stride_w, a->stride_w);
  kiln_fbb_add_i32(b, s->stride_h, a->stride_h);
  if (s->depth_multiplier >= 0)
    kiln_fbb_add_i32(b, s->depth_multiplier, a->depth_multiplier);
  kiln_fbb_add_i8(b, s->activation, act);
  if (s->dilation_w >= 0) {
    kiln_fbb_add_i32(b, s->dilation_w, a->dilation_w);
    kiln_fbb_add_i32(b, s->dilation_h, a->dilation_h);
  }
  *out = kiln_fbb_end(b);
  return NULL;
}

static kiln_status *pool(kiln_fbb *b, const kiln_pool_attrs *a,
                         kiln_fbb_ref *out) {
  int8_t pad = 0, act = 0;
  KILN_TRY(padding(a->padding, &pad));
  KILN_TRY(activation(a->activation, &act));
  kiln_fbb_start(b);
  kiln_fbb_add_i8(b, TFL_POOL_PADDING, pad);
  kiln_fbb_add_i32(b, TFL_POOL_STRIDE_W, a->stride_w);
  kiln_fbb_add_i32(b, TFL_POOL_STRIDE_H, a->stride_h);
  kiln_fbb_add_i32(b, TFL_POOL_FILTER_W, a->filter_w);
  kiln_fbb_add_i32(b, TFL_POOL_FILTER_H, a->filter_h);
  kiln_fbb_add_i8(b, TFL_POOL_ACTIVATION, act);
  *out = kiln_fbb_end(b);
  return NULL;
}

static kiln_status *fully_connected(kiln_fbb *b,
                                    const kiln_fully_connected_attrs *a,
                                    kiln_fbb_ref *out) {
  int8_t act = 0;
  KILN_TRY(activation(a->activation, &act));
  kiln_fbb_start(b);
  kiln_fbb_add_i8(b, TFL_FC_ACTIVATION, act);
  kiln_fbb_add_i8(b, TFL_FC_WEIGHTS_FORMAT, FC_WEIGHTS_FORMAT_DEFAULT);
  kiln_fbb_add_bool(b, TFL_FC_KEEP_NUM_DIMS, a->keep_num_dims);
  kiln_fbb_add_bool(b, TFL_FC_ASYMMETRIC_QUANTIZE_INPUTS,
                    a->asymmetric_quantize_inputs);
  if (a->quantized_bias_type)
    kiln_fbb_add_i8(b, TFL_FC_QUANTIZED_BIAS_TYPE, a->quantized_bias_type);
  *out = kiln_fbb_end(b);
  return NULL;
}

static kiln_status *batch_matmul(kiln_fbb *b, const kiln_batch_matmul_attrs *a,
                                 kiln_fbb_ref *out) {
  kiln_fbb_start(b);
  kiln_fbb_add_bool(b, TFL_BMM_ADJ_X, a->adj_x);
  kiln_fbb_add_bool(b, TFL_BMM_ADJ_Y, a->adj_y);
  kiln_fbb_add_bool(b, TFL_BMM_ASYMMETRIC_QUANTIZE_INPUTS,
                    a->asymmetric_quantize_inputs);
  *out = kiln_fbb_end(b);
  return NULL;
}

/* Add, Sub, Mul, Div and L2Norm options. kiln's int16 ADD and SUB rescale
 * in general (any scales, as LiteRT does when pot_scale_int16 is false),
 * so that is what the file says. */
static kiln_status *arith(kiln_fbb *b, const kiln_graph *g, const kiln_node *n,
                          kiln_fbb_ref *out) {
  const kiln_activation_attrs *a = n->attrs;
  int8_t act = 0;
  KILN_TRY(activation(a->activation, &act));
  bool general_int16 = (n->op == KILN_OP_ADD || n->op == KILN_OP_SUB) &&
                       n->num_inputs > 0 && n->inputs[0] >= 0 &&
                       g->values[n->inputs[0]].dtype == KILN_INT16;
  kiln_fbb_start(b);
  kiln_fbb_add_i8(b, TFL_ARITH_ACTIVATION, act);
  if (general_int16) kiln_fbb_add_bool(b, ADD_POT_SCALE_INT16, false);
  *out = kiln_fbb_end(b);
  return NULL;
}

static kiln_fbb_ref one_bool(kiln_fbb *b, int slot, bool value) {
  kiln_fbb_start(b);
  kiln_fbb_add_bool(b, slot, value);
  return kiln_fbb_end(b);
}

static kiln_fbb_ref one_f32(kiln_fbb *b, int slot, float value) {
  kiln_fbb_start(b);
  kiln_fbb_add_f32(b, slot, value);
  return kiln_fbb_end(b);
}

static kiln_fbb_ref one_i32(kiln_fbb *b, int slot, int32_t value) {
  kiln_fbb_start(b);
  kiln_fbb_add_i32(b, slot, value);
  return kiln_fbb_end(b);
}

static kiln_fbb_ref one_i8(kiln_fbb *b, int slot, int8_t value) {
  kiln_fbb_start(b);
  kiln_fbb_add_i8(b, slot, value);
  return kiln_fbb_end(b);
}

static kiln_fbb_ref two_i32(kiln_fbb *b, int slot0, int32_t v0, int slot1,
                            int32_t v1) {
  kiln_fbb_start(b);
  kiln_fbb_add_i32(b, slot0, v0);
  kiln_fbb_add_i32(b, slot1, v1);
  return kiln_fbb_end(b);
}

static kiln_status *dims_option(kiln_fbb *b, int slot, const int32_t *dims,
                                int count, kiln_fbb_ref *out) {
  if (count < 0 || count > 8)
    return UNSUPPORTED("%d dimensions in its options", count);
  kiln_fbb_ref v = kiln_fbb_vector_i32(b, dims, (size_t)count);
  kiln_fbb_start(b);
  kiln_fbb_add_ref(b, slot, v);
  *out = kiln_fbb_end(b);
  return NULL;
}

static kiln_status *concatenation(kiln_fbb *b, const kiln_concat_attrs *a,
                                  kiln_fbb_ref *out) {
  int8_t act = 0;
  KILN_TRY(activation(a->activation, &act));
  kiln_fbb_start(b);
  kiln_fbb_add_i32(b, TFL_CONCAT_AXIS, a->axis);
  kiln_fbb_add_i8(b, TFL_CONCAT_ACTIVATION, act);
  *out = kiln_fbb_end(b);
  return NULL;
}

static kiln_fbb_ref strided_slice(kiln_fbb *b,
                                  const kiln_strided_slice_attrs *a) {
  kiln_fbb_start(b);
  kiln_fbb_add_i32(b, TFL_SS_BEGIN_MASK, a->begin_mask);
  kiln_fbb_add_i32(b, TFL_SS_END_MASK, a->end_mask);
  kiln_fbb_add_i32(b, TFL_SS_ELLIPSIS_MASK, a->ellipsis_mask);
  kiln_fbb_add_i32(b, TFL_SS_NEW_AXIS_MASK, a->new_axis_mask);
  kiln_fbb_add_i32(b, TFL_SS_SHRINK_AXIS_MASK, a->shrink_axis_mask);
  kiln_fbb_add_bool(b, TFL_SS_OFFSET, a->offset);
  return kiln_fbb_end(b);
}

static kiln_fbb_ref resize(kiln_fbb *b, const kiln_resize_attrs *a,
                           int align_slot, int half_slot) {
  kiln_fbb_start(b);
  kiln_fbb_add_bool(b, align_slot, a->align_corners);
  kiln_fbb_add_bool(b, half_slot, a->half_pixel_centers);
  return kiln_fbb_end(b);
}

/* ---- recurrent operators ---- */

static kiln_status *lstm(kiln_fbb *b, const kiln_node *n, kiln_fbb_ref *out) {
  const kiln_lstm_attrs *a = n->attrs;
  int8_t act = 0;
  KILN_TRY(activation(a->activation, &act));
  kiln_fbb_start(b);
  if (n->op == KILN_OP_LSTM) {
    kiln_fbb_add_i8(b, TFL_LSTM_ACTIVATION, act);
    kiln_fbb_add_f32(b, TFL_LSTM_CELL_CLIP, a->cell_clip);
    kiln_fbb_add_f32(b, TFL_LSTM_PROJ_CLIP, a->proj_clip);
    kiln_fbb_add_bool(b, TFL_LSTM_ASYMMETRIC_QUANTIZE_INPUTS,
                      a->asymmetric_quantize_inputs);
  } else if (n->op == KILN_OP_UNIDIRECTIONAL_SEQUENCE_LSTM) {
    kiln_fbb_add_i8(b, TFL_ULSTM_ACTIVATION, act);
    kiln_fbb_add_f32(b, TFL_ULSTM_CELL_CLIP, a->cell_clip);
    kiln_fbb_add_f32(b, TFL_ULSTM_PROJ_CLIP, a->proj_clip);
    kiln_fbb_add_bool(b, TFL_ULSTM_TIME_MAJOR, a->time_major);
    kiln_fbb_add_bool(b, TFL_ULSTM_ASYMMETRIC_QUANTIZE_INPUTS,
                      a->asymmetric_quantize_inputs);
  } else {
    kiln_fbb_add_i8(b, TFL_BLSTM_ACTIVATION, act);
    kiln_fbb_add_f32(b, TFL_BLSTM_CELL_CLIP, a->cell_clip);
    kiln_fbb_add_f32(b, TFL_BLSTM_PROJ_CLIP, a->proj_clip);
    kiln_fbb_add_bool(b, TFL_BLSTM_MERGE_OUTPUTS, a->merge_outputs);
    kiln_fbb_add_bool(b, TFL_BLSTM_TIME_MAJOR, a->time_major);
    kiln_fbb_add_bool(b, TFL_BLSTM_ASYMMETRIC_QUANTIZE_INPUTS,
                      a->asymmetric_quantize_inputs);
  }
  *out = kiln_fbb_end(b);
  return NULL;
}

static kiln_status *rnn(kiln_fbb *b, const kiln_node *n, kiln_fbb_ref *out) {
  const kiln_rnn_attrs *a = n->attrs;
  int8_t act = 0;
  KILN_TRY(activation(a->activation, &act));
  kiln_fbb_start(b);
  if (n->op == KILN_OP_RNN) {
    kiln_fbb_add_i8(b, TFL_RNN_ACTIVATION, act);
    kiln_fbb_add_bool(b, TFL_RNN_ASYMMETRIC_QUANTIZE_INPUTS,
                      a->asymmetric_quantize_inputs);
  } else if (n->op == KILN_OP_UNIDIRECTIONAL_SEQUENCE_RNN) {
    kiln_fbb_add_bool(b, TFL_SRNN_TIME_MAJOR, a->time_major);
    kiln_fbb_add_i8(b, TFL_SRNN_ACTIVATION, act);
    kiln_fbb_add_bool(b, TFL_SRNN_ASYMMETRIC_QUANTIZE_INPUTS,
                      a->asymmetric_quantize_inputs);
  } else {
    kiln_fbb_add_bool(b, TFL_BRNN_TIME_MAJOR, a->time_major);
    kiln_fbb_add_i8(b, TFL_BRNN_ACTIVATION, act);
    kiln_fbb_add_bool(b, TFL_BRNN_MERGE_OUTPUTS, a->merge_outputs);
    kiln_fbb_add_bool(b, TFL_BRNN_ASYMMETRIC_QUANTIZE_INPUTS,
                      a->asymmetric_quantize_inputs);
  }
  *out = kiln_fbb_end(b);
  return NULL;
}

static kiln_status *svdf(kiln_fbb *b, const kiln_svdf_attrs *a,
                         kiln_fbb_ref *out) {
  int8_t act = 0;
  KILN_TRY(activation(a->activation, &act));
  kiln_fbb_start(b);
  kiln_fbb_add_i32(b, TFL_SVDF_RANK, a->rank);
  kiln_fbb_add_i8(b, TFL_SVDF_ACTIVATION, act);
  kiln_fbb_add_bool(b, TFL_SVDF_ASYMMETRIC_QUANTIZE_INPUTS,
                    a->asymmetric_quantize_inputs);
  *out = kiln_fbb_end(b);
  return NULL;
}

/* ---- the rest ---- */

static kiln_fbb_ref lrn(kiln_fbb *b, const kiln_lrn_attrs *a) {
  kiln_fbb_start(b);
  kiln_fbb_add_i32(b, TFL_LRN_RADIUS, a->radius);
  kiln_fbb_add_f32(b, TFL_LRN_BIAS, a->bias);
  kiln_fbb_add_f32(b, TFL_LRN_ALPHA, a->alpha);
  kiln_fbb_add_f32(b, TFL_LRN_BETA, a->beta);
  return kiln_fbb_end(b);
}

static kiln_fbb_ref bucketize(kiln_fbb *b, const kiln_bucketize_attrs *a) {
  /* the boundaries are little-endian floats already (the file's bytes) */
  /* (always present: LiteRT refuses a missing list, even an empty one) */
  kiln_fbb_ref v = kiln_fbb_vector(b, a->count > 0 ? a->boundaries : NULL,
                                   a->count > 0 ? (size_t)a->count : 0, 4, 4);
  kiln_fbb_start(b);
  kiln_fbb_add_ref(b, TFL_BUCKETIZE_BOUNDARIES, v);
  return kiln_fbb_end(b);
}

static kiln_fbb_ref fake_quant(kiln_fbb *b, const kiln_fake_quant_attrs *a) {
  kiln_fbb_start(b);
  kiln_fbb_add_f32(b, TFL_FAKE_QUANT_MIN, a->min);
  kiln_fbb_add_f32(b, TFL_FAKE_QUANT_MAX, a->max);
  kiln_fbb_add_i32(b, TFL_FAKE_QUANT_NUM_BITS, a->num_bits);
  kiln_fbb_add_bool(b, FAKE_QUANT_NARROW_RANGE, false);
  return kiln_fbb_end(b);
}

static kiln_fbb_ref random_options(kiln_fbb *b, const kiln_random_attrs *a) {
  kiln_fbb_start(b);
  kiln_fbb_add_i64(b, TFL_RANDOM_SEED, a->seed);
  kiln_fbb_add_i64(b, TFL_RANDOM_SEED2, a->seed2);
  return kiln_fbb_end(b);
}

static kiln_status *conv3d(kiln_fbb *b, const kiln_conv3d_attrs *a,
                           kiln_fbb_ref *out) {
  int8_t pad = 0, act = 0;
  KILN_TRY(padding(a->padding, &pad));
  KILN_TRY(activation(a->activation, &act));
  kiln_fbb_start(b);
  kiln_fbb_add_i8(b, TFL_CONV3D_PADDING, pad);
  kiln_fbb_add_i32(b, TFL_CONV3D_STRIDE_D, a->stride_d);
  kiln_fbb_add_i32(b, TFL_CONV3D_STRIDE_W, a->stride_w);
  kiln_fbb_add_i32(b, TFL_CONV3D_STRIDE_H, a->stride_h);
  kiln_fbb_add_i8(b, TFL_CONV3D_ACTIVATION, act);
  kiln_fbb_add_i32(b, TFL_CONV3D_DILATION_D, a->dilation_d);
  kiln_fbb_add_i32(b, TFL_CONV3D_DILATION_W, a->dilation_w);
  kiln_fbb_add_i32(b, TFL_CONV3D_DILATION_H, a->dilation_h);
  *out = kiln_fbb_end(b);
  return NULL;
}

static kiln_status *hashtable(kiln_fbb *b, const kiln_hashtable_attrs *a,
                              kiln_fbb_ref *out) {
  int key = kiln_tflite_type_of(a->key_dtype);
  int value = kiln_tflite_type_of(a->value_dtype);
  if (key < 0 || value < 0)
    return UNSUPPORTED("its key or value type has no TFLite form");
  kiln_fbb_start(b);
  kiln_fbb_add_i32(b, TFL_HASHTABLE_TABLE_ID, a->table_id);
  kiln_fbb_add_i8(b, TFL_HASHTABLE_KEY_DTYPE, (int8_t)key);
  kiln_fbb_add_i8(b, TFL_HASHTABLE_VALUE_DTYPE, (int8_t)value);
  *out = kiln_fbb_end(b);
  return NULL;
}

static kiln_fbb_ref var_handle(kiln_fbb *b, const kiln_var_handle_attrs *a) {
  kiln_fbb_ref container = a->container ? kiln_fbb_string(b, a->container) : 0;
  kiln_fbb_ref shared = a->shared_name ? kiln_fbb_string(b, a->shared_name) : 0;
  kiln_fbb_start(b);
  if (container) kiln_fbb_add_ref(b, TFL_VAR_HANDLE_CONTAINER, container);
  if (shared) kiln_fbb_add_ref(b, TFL_VAR_HANDLE_SHARED_NAME, shared);
  return kiln_fbb_end(b);
}

/* ---- options in BuiltinOptions2 ---- */

static kiln_status *longs_vector(kiln_fbb *b, const int64_t *values, int count,
                                 kiln_fbb_ref *out) {
  if (count < 0 || count > KILN_MAX_RANK)
    return UNSUPPORTED("a list of %d dimensions in its options", count);
  *out = kiln_fbb_vector_i64(b, values, (size_t)count);
  return NULL;
}

static kiln_status *stablehlo_pad(kiln_fbb *b,
                                  const kiln_stablehlo_pad_attrs *a,
                                  kiln_fbb_ref *out) {
  kiln_fbb_ref low = 0, high = 0, interior = 0;
  KILN_TRY(longs_vector(b, a->low, a->rank, &low));
  KILN_TRY(longs_vector(b, a->high, a->rank, &high));
  KILN_TRY(longs_vector(b, a->interior, a->rank, &interior));
  kiln_fbb_start(b);
  kiln_fbb_add_ref(b, TFL_HLO_PAD_LOW, low);
  kiln_fbb_add_ref(b, TFL_HLO_PAD_HIGH, high);
  kiln_fbb_add_ref(b, TFL_HLO_PAD_INTERIOR, interior);
  *out = kiln_fbb_end(b);
  return NULL;
}

static kiln_status *stablehlo_gather(kiln_fbb *b,
                                     const kiln_stablehlo_gather_attrs *a,
                                     kiln_fbb_ref *out) {
  kiln_fbb_ref offset = 0, collapsed = 0, start = 0, sizes = 0;
  KILN_TRY(longs_vector(b, a->offset_dims, a->num_offset_dims, &offset));
  KILN_TRY(
      longs_vector(b, a->collapsed_slice_dims, a->num_collapsed, &collapsed));
  KILN_TRY(longs_vector(b, a->start_index_map, a->num_start_index_map, &start));
  KILN_TRY(longs_vector(b, a->slice_sizes, a->num_slice_sizes, &sizes));
  kiln_fbb_start(b);
  kiln_fbb_add_ref(b, TFL_HLO_GATHER_OFFSET_DIMS, offset);
  kiln_fbb_add_ref(b, TFL_HLO_GATHER_COLLAPSED_SLICE_DIMS, collapsed);
  kiln_fbb_add_ref(b, TFL_HLO_GATHER_START_INDEX_MAP, start);
  kiln_fbb_add_i64(b, TFL_HLO_GATHER_INDEX_VECTOR_DIM, a->index_vector_dim);
  kiln_fbb_add_ref(b, TFL_HLO_GATHER_SLICE_SIZES, sizes);
  *out = kiln_fbb_end(b);
  return NULL;
}

/* Operators whose options only restate their tensors' types: tflite_ops.c
 * reads none, but LiteRT takes the output type from them. */
static kiln_status *typed(kiln_fbb *b, const kiln_graph *g, const kiln_node *n,
                          unsigned *type, kiln_fbb_ref *out) {
  int8_t t = 0, in = 0;
  KILN_TRY(output_type(g, n, n->op == KILN_OP_UNIQUE ? 1 : 0, &t));
  switch (n->op) {
    case KILN_OP_SHAPE:
      *type = OPT_SHAPE;
      *out = one_i8(b, SHAPE_OUT_TYPE, t);
      return NULL;
    case KILN_OP_ARG_MAX:
      *type = OPT_ARG_MAX;
      *out = one_i8(b, ARG_OUTPUT_TYPE, t);
      return NULL;
    case KILN_OP_ARG_MIN:
      *type = OPT_ARG_MIN;
      *out = one_i8(b, ARG_OUTPUT_TYPE, t);
      return NULL;
    case KILN_OP_UNIQUE:
      *type = OPT_UNIQUE;
      *out = one_i8(b, TFL_UNIQUE_IDX_OUT_TYPE, t);
      return NULL;
    default: /* CAST */
      KILN_TRY(input_type(g, n, 0, &in));
      *type = OPT_CAST;
      kiln_fbb_start(b);
      kiln_fbb_add_i8(b, CAST_IN_TYPE, in);
      kiln_fbb_add_i8(b, CAST_OUT_TYPE, t);
      *out = kiln_fbb_end(b);
      return NULL;
  }
}

kiln_status *kiln_tflite_export_options(kiln_fbb *b, const kiln_graph *g,
                                        const kiln_node *n, unsigned *out_type,
                                        kiln_fbb_ref *out) {
  const void *attrs = n->attrs;
  *out = 0;
  *out_type = TFL_OPT_NONE;
  switch (n->op) {
    case KILN_OP_CONV_2D:
      *out_type = TFL_OPT_CONV2D;
      return conv_options(b, attrs, &CONV_2D_SLOTS, out);
    case KILN_OP_DEPTHWISE_CONV_2D:
      *out_type = TFL_OPT_DEPTHWISE_CONV2D;
      return conv_options(b, attrs, &DEPTHWISE_SLOTS, out);
    case KILN_OP_TRANSPOSE_CONV:
      *out_type = TFL_OPT_TRANSPOSE_CONV;
      return conv_options(b, attrs, &TRANSPOSE_CONV_SLOTS, out);
    case KILN_OP_AVERAGE_POOL_2D:
    case KILN_OP_MAX_POOL_2D:
    case KILN_OP_L2_POOL_2D:
      *out_type = TFL_OPT_POOL2D;
      return pool(b, attrs, out);
    case KILN_OP_FULLY_CONNECTED:
      *out_type = TFL_OPT_FULLY_CONNECTED;
      return fully_connected(b, attrs, out);
    case KILN_OP_BATCH_MATMUL:
      *out_type = TFL_OPT_BATCH_MATMUL;
      return batch_matmul(b, attrs, out);
    case KILN_OP_ADD:
      *out_type = TFL_OPT_ADD;
      return arith(b, g, n, out);
    case KILN_OP_SUB:
      *out_type = TFL_OPT_SUB;
      return arith(b, g, n, out);
    case KILN_OP_MUL:
      *out_type = TFL_OPT_MUL;
      return arith(b, g, n, out);
    case KILN_OP_DIV:
      *out_type = TFL_OPT_DIV;
      return arith(b, g, n, out);
    case KILN_OP_L2_NORMALIZATION:
      *out_type = TFL_OPT_L2_NORM;
      return arith(b, g, n, out);
    case KILN_OP_LEAKY_RELU:
      *out_type = TFL_OPT_LEAKY_RELU;
      *out = one_f32(b, TFL_LEAKY_RELU_ALPHA,
                     ((const kiln_leaky_relu_attrs *)attrs)->alpha);
      return NULL;
    case KILN_OP_GELU:
      *out_type = TFL_OPT_GELU;
      *out = one_bool(b, TFL_GELU_APPROXIMATE,
                      ((const kiln_gelu_attrs *)attrs)->approximate);
      return NULL;
    case KILN_OP_SOFTMAX:
      *out_type = TFL_OPT_SOFTMAX;
      *out = one_f32(b, TFL_SOFTMAX_BETA,
                     ((const kiln_softmax_attrs *)attrs)->beta);
      return NULL;
    case KILN_OP_MEAN:
    case KILN_OP_SUM:
    case KILN_OP_REDUCE_MAX:
    case KILN_OP_REDUCE_MIN:
    case KILN_OP_REDUCE_PROD:
    case KILN_OP_REDUCE_ANY:
    case KILN_OP_REDUCE_ALL:
      *out_type = TFL_OPT_REDUCER;
      *out = one_bool(b, TFL_REDUCER_KEEP_DIMS,
                      ((const kiln_reduce_attrs *)attrs)->keep_dims);
      return NULL;
    case KILN_OP_RESHAPE: {
      const kiln_reshape_attrs *a = attrs;
      if (a->num_dims < 0) return NULL; /* the shape is input 1 */
      *out_type = TFL_OPT_RESHAPE;
      return dims_option(b, TFL_RESHAPE_NEW_SHAPE, a->new_shape, a->num_dims,
                         out);
    }
    case KILN_OP_SQUEEZE: {
      const kiln_squeeze_attrs *a = attrs;
      *out_type = TFL_OPT_SQUEEZE;
      return dims_option(b, TFL_SQUEEZE_DIMS, a->axes, a->num_axes, out);
    }
    case KILN_OP_CONCATENATION:
      *out_type = TFL_OPT_CONCATENATION;
      return concatenation(b, attrs, out);
    case KILN_OP_PACK:
    case KILN_OP_UNPACK: {
      const kiln_pack_attrs *a = attrs;
      *out_type = n->op == KILN_OP_PACK ? TFL_OPT_PACK : TFL_OPT_UNPACK;
      *out = two_i32(b, TFL_PACK_COUNT, a->count, TFL_PACK_AXIS, a->axis);
      return NULL;
    }
    case KILN_OP_SPLIT:
    case KILN_OP_SPLIT_V:
      *out_type = n->op == KILN_OP_SPLIT ? TFL_OPT_SPLIT : TFL_OPT_SPLIT_V;
      *out = one_i32(b, TFL_SPLIT_NUM_SPLITS,
                     ((const kiln_split_attrs *)attrs)->num_splits);
      return NULL;
    case KILN_OP_MIRROR_PAD:
      *out_type = TFL_OPT_MIRROR_PAD;
      *out = one_i8(b, TFL_MIRROR_PAD_MODE,
                    (int8_t)((const kiln_mirror_pad_attrs *)attrs)->mode);
      return NULL;
    case KILN_OP_STRIDED_SLICE:
      *out_type = TFL_OPT_STRIDED_SLICE;
      *out = strided_slice(b, attrs);
      return NULL;
    case KILN_OP_GATHER: {
      const kiln_gather_attrs *a = attrs;
      *out_type = TFL_OPT_GATHER;
      *out = two_i32(b, TFL_GATHER_AXIS, a->axis, TFL_GATHER_BATCH_DIMS,
                     a->batch_dims);
      return NULL;
    }
    case KILN_OP_RESIZE_BILINEAR:
      *out_type = TFL_OPT_RESIZE_BILINEAR;
      *out = resize(b, attrs, TFL_RESIZE_BILINEAR_ALIGN_CORNERS,
                    TFL_RESIZE_BILINEAR_HALF_PIXEL_CENTERS);
      return NULL;
    case KILN_OP_RESIZE_NEAREST_NEIGHBOR:
      *out_type = TFL_OPT_RESIZE_NEAREST_NEIGHBOR;
      *out = resize(b, attrs, TFL_RESIZE_NEAREST_ALIGN_CORNERS,
                    TFL_RESIZE_NEAREST_HALF_PIXEL_CENTERS);
      return NULL;
    case KILN_OP_LSTM:
      *out_type = TFL_OPT_LSTM;
      return lstm(b, n, out);
    case KILN_OP_UNIDIRECTIONAL_SEQUENCE_LSTM:
      *out_type = TFL_OPT_UNIDIRECTIONAL_SEQUENCE_LSTM;
      return lstm(b, n, out);
    case KILN_OP_BIDIRECTIONAL_SEQUENCE_LSTM:
      *out_type = TFL_OPT_BIDIRECTIONAL_SEQUENCE_LSTM;
      return lstm(b, n, out);
    case KILN_OP_RNN:
      *out_type = TFL_OPT_RNN;
      return rnn(b, n, out);
    case KILN_OP_UNIDIRECTIONAL_SEQUENCE_RNN:
      *out_type = TFL_OPT_UNIDIRECTIONAL_SEQUENCE_RNN;
      return rnn(b, n, out);
    case KILN_OP_BIDIRECTIONAL_SEQUENCE_RNN:
      *out_type = TFL_OPT_BIDIRECTIONAL_SEQUENCE_RNN;
      return rnn(b, n, out);
    case KILN_OP_SVDF:
      *out_type = TFL_OPT_SVDF;
      return svdf(b, attrs, out);
    case KILN_OP_CUMSUM: {
      const kiln_cumsum_attrs *a = attrs;
      *out_type = TFL_OPT_CUMSUM;
      kiln_fbb_start(b);
      kiln_fbb_add_bool(b, TFL_CUMSUM_EXCLUSIVE, a->exclusive);
      kiln_fbb_add_bool(b, TFL_CUMSUM_REVERSE, a->reverse);
      *out = kiln_fbb_end(b);
      return NULL;
    }
    case KILN_OP_DEPTH_TO_SPACE:
    case KILN_OP_SPACE_TO_DEPTH:
      *out_type = n->op == KILN_OP_DEPTH_TO_SPACE ? TFL_OPT_DEPTH_TO_SPACE
                                                  : TFL_OPT_SPACE_TO_DEPTH;
      *out = one_i32(b, TFL_BLOCK_SIZE,
                     ((const kiln_block_size_attrs *)attrs)->block_size);
      return NULL;
    case KILN_OP_ONE_HOT:
      *out_type = TFL_OPT_ONE_HOT;
      *out = one_i32(b, TFL_ONE_HOT_AXIS,
                     ((const kiln_one_hot_attrs *)attrs)->axis);
      return NULL;
    case KILN_OP_LOCAL_RESPONSE_NORMALIZATION:
      *out_type = TFL_OPT_LOCAL_RESPONSE_NORMALIZATION;
      *out = lrn(b, attrs);
      return NULL;
    case KILN_OP_BUCKETIZE:
      *out_type = TFL_OPT_BUCKETIZE;
      *out = bucketize(b, attrs);
      return NULL;
    case KILN_OP_FAKE_QUANT:
      *out_type = TFL_OPT_FAKE_QUANT;
      *out = fake_quant(b, attrs);
      return NULL;
    case KILN_OP_EMBEDDING_LOOKUP_SPARSE:
      *out_type = TFL_OPT_EMBEDDING_LOOKUP_SPARSE;
      *out = one_i8(
          b, TFL_ELS_COMBINER,
          (int8_t)((const kiln_embedding_sparse_attrs *)attrs)->combiner);
      return NULL;
    case KILN_OP_RANDOM_UNIFORM:
    case KILN_OP_RANDOM_STANDARD_NORMAL:
    case KILN_OP_MULTINOMIAL:
      *out_type = TFL_OPT_RANDOM;
      *out = random_options(b, attrs);
      return NULL;
    case KILN_OP_LSH_PROJECTION:
      *out_type = TFL_OPT_LSH_PROJECTION;
      *out = one_i8(b, TFL_LSH_TYPE,
                    (int8_t)((const kiln_lsh_projection_attrs *)attrs)->type);
      return NULL;
    case KILN_OP_REVERSE_SEQUENCE: {
      const kiln_reverse_sequence_attrs *a = attrs;
      *out_type = TFL_OPT_REVERSE_SEQUENCE;
      *out = two_i32(b, TFL_REVSEQ_SEQ_DIM, a->seq_dim, TFL_REVSEQ_BATCH_DIM,
                     a->batch_dim);
      return NULL;
    }
    case KILN_OP_CONV_3D:
    case KILN_OP_CONV_3D_TRANSPOSE:
      *out_type = TFL_OPT_CONV3D;
      return conv3d(b, attrs, out);
    case KILN_OP_HASHTABLE:
      *out_type = TFL_OPT_HASHTABLE;
      return hashtable(b, attrs, out);
    case KILN_OP_VAR_HANDLE:
      *out_type = TFL_OPT_VAR_HANDLE;
      *out = var_handle(b, attrs);
      return NULL;
    case KILN_OP_SHAPE:
    case KILN_OP_ARG_MAX:
    case KILN_OP_ARG_MIN:
    case KILN_OP_UNIQUE:
    case KILN_OP_CAST:
      return typed(b, g, n, out_type, out);
    /* Operators over other subgraphs or with StableHLO options: the writer
     * writes one subgraph and none of those tables. */
    case KILN_OP_WHILE:
    case KILN_OP_IF:
    case KILN_OP_CALL_ONCE:
    case KILN_OP_STABLEHLO_CASE:
    case KILN_OP_STABLEHLO_COMPOSITE:
    case KILN_OP_STABLEHLO_REDUCE_WINDOW:
    case KILN_OP_STABLEHLO_SCATTER:
      return UNSUPPORTED(
          "it runs other subgraphs; the writer writes one subgraph");
    case KILN_OP_STABLEHLO_PAD:
      *out_type = TFL_OPT_STABLEHLO_PAD;
      return stablehlo_pad(b, attrs, out);
    case KILN_OP_STABLEHLO_GATHER:
      *out_type = TFL_OPT_STABLEHLO_GATHER;
      return stablehlo_gather(b, attrs, out);
    case KILN_OP_STABLEHLO_RNG_BIT_GENERATOR:
      *out_type = TFL_OPT_STABLEHLO_RNG_BIT_GENERATOR;
      *out = one_i8(
          b, TFL_RNG_ALGORITHM,
          (int8_t)((const kiln_rng_bit_generator_attrs *)attrs)->algorithm);
      return NULL;
    case KILN_OP_REDUCE_WINDOW:
      *out_type = TFL_OPT_REDUCE_WINDOW;
      *out =
          one_i32(b, TFL_REDUCE_WINDOW_FUNCTION,
                  (int32_t)((const kiln_reduce_window_attrs *)attrs)->function);
      return NULL;
    default:
      /* every other mapped operator takes no options kiln keeps */
      return NULL;
  }
}
