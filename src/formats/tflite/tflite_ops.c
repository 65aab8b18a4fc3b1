/* tflite_ops.c - TFLite builtin operators to kiln operators: one table
 * entry per mapped operator names the kiln op and the options parser. */
#include <string.h>

#include "core/op_attrs.h"
#include "core/status.h"
#include "formats/tflite/tflite_import.h"
#include "formats/tflite/tflite_schema.h"

/* Every BuiltinOperator name of schema version 3 as of TensorFlow 2.21,
 * indexed by code, for messages about operators kiln does not run. */
static const char *const builtin_names[] = {
    "ADD",
    "AVERAGE_POOL_2D",
    "CONCATENATION",
    "CONV_2D",
    "DEPTHWISE_CONV_2D",
    "DEPTH_TO_SPACE",
    "DEQUANTIZE",
    "EMBEDDING_LOOKUP",
    "FLOOR",
    "FULLY_CONNECTED",
    "HASHTABLE_LOOKUP",
    "L2_NORMALIZATION",
    "L2_POOL_2D",
    "LOCAL_RESPONSE_NORMALIZATION",
    "LOGISTIC",
    "LSH_PROJECTION",
    "LSTM",
    "MAX_POOL_2D",
    "MUL",
    "RELU",
    "RELU_N1_TO_1",
    "RELU6",
    "RESHAPE",
    "RESIZE_BILINEAR",
    "RNN",
    "SOFTMAX",
    "SPACE_TO_DEPTH",
    "SVDF",
    "TANH",
    "CONCAT_EMBEDDINGS",
    "SKIP_GRAM",
    "CALL",
    "CUSTOM",
    "EMBEDDING_LOOKUP_SPARSE",
    "PAD",
    "UNIDIRECTIONAL_SEQUENCE_RNN",
    "GATHER",
    "BATCH_TO_SPACE_ND",
    "SPACE_TO_BATCH_ND",
    "TRANSPOSE",
    "MEAN",
    "SUB",
    "DIV",
    "SQUEEZE",
    "UNIDIRECTIONAL_SEQUENCE_LSTM",
    "STRIDED_SLICE",
    "BIDIRECTIONAL_SEQUENCE_RNN",
    "EXP",
    "TOPK_V2",
    "SPLIT",
    "LOG_SOFTMAX",
    "DELEGATE",
    "BIDIRECTIONAL_SEQUENCE_LSTM",
    "CAST",
    "PRELU",
    "MAXIMUM",
    "ARG_MAX",
    "MINIMUM",
    "LESS",
    "NEG",
    "PADV2",
    "GREATER",
    "GREATER_EQUAL",
    "LESS_EQUAL",
    "SELECT",
    "SLICE",
    "SIN",
    "TRANSPOSE_CONV",
    "SPARSE_TO_DENSE",
    "TILE",
    "EXPAND_DIMS",
    "EQUAL",
    "NOT_EQUAL",
    "LOG",
    "SUM",
    "SQRT",
    "RSQRT",
    "SHAPE",
    "POW",
    "ARG_MIN",
    "FAKE_QUANT",
    "REDUCE_PROD",
    "REDUCE_MAX",
    "PACK",
    "LOGICAL_OR",
    "ONE_HOT",
    "LOGICAL_AND",
    "LOGICAL_NOT",
    "UNPACK",
    "REDUCE_MIN",
    "FLOOR_DIV",
    "REDUCE_ANY",
    "SQUARE",
    "ZEROS_LIKE",
    "FILL",
    "FLOOR_MOD",
    "RANGE",
    "RESIZE_NEAREST_NEIGHBOR",
    "LEAKY_RELU",
    "SQUARED_DIFFERENCE",
    "MIRROR_PAD",
    "ABS",
    "SPLIT_V",
    "UNIQUE",
    "CEIL",
    "REVERSE_V2",
    "ADD_N",
    "GATHER_ND",
    "COS",
    "WHERE",
    "RANK",
    "ELU",
    "REVERSE_SEQUENCE",
    "MATRIX_DIAG",
    "QUANTIZE",
    "MATRIX_SET_DIAG",
    "ROUND",
    "HARD_SWISH",
    "IF",
    "WHILE",
    "NON_MAX_SUPPRESSION_V4",
    "NON_MAX_SUPPRESSION_V5",
    "SCATTER_ND",
    "SELECT_V2",
    "DENSIFY",
    "SEGMENT_SUM",
    "BATCH_MATMUL",
    "PLACEHOLDER_FOR_GREATER_OP_CODES",
    "CUMSUM",
    "CALL_ONCE",
    "BROADCAST_TO",
    "RFFT2D",
    "CONV_3D",
    "IMAG",
    "REAL",
    "COMPLEX_ABS",
    "HASHTABLE",
    "HASHTABLE_FIND",
    "HASHTABLE_IMPORT",
    "HASHTABLE_SIZE",
    "REDUCE_ALL",
    "CONV_3D_TRANSPOSE",
    "VAR_HANDLE",
    "READ_VARIABLE",
    "ASSIGN_VARIABLE",
    "BROADCAST_ARGS",
    "RANDOM_STANDARD_NORMAL",
    "BUCKETIZE",
    "RANDOM_UNIFORM",
    "MULTINOMIAL",
    "GELU",
    "DYNAMIC_UPDATE_SLICE",
    "RELU_0_TO_1",
    "UNSORTED_SEGMENT_PROD",
    "UNSORTED_SEGMENT_MAX",
    "UNSORTED_SEGMENT_SUM",
    "ATAN2",
    "UNSORTED_SEGMENT_MIN",
    "SIGN",
    "BITCAST",
    "BITWISE_XOR",
    "RIGHT_SHIFT",
    "STABLEHLO_LOGISTIC",
    "STABLEHLO_ADD",
    "STABLEHLO_DIVIDE",
    "STABLEHLO_MULTIPLY",
    "STABLEHLO_MAXIMUM",
    "STABLEHLO_RESHAPE",
    "STABLEHLO_CLAMP",
    "STABLEHLO_CONCATENATE",
    "STABLEHLO_BROADCAST_IN_DIM",
    "STABLEHLO_CONVOLUTION",
    "STABLEHLO_SLICE",
    "STABLEHLO_CUSTOM_CALL",
    "STABLEHLO_REDUCE",
    "STABLEHLO_ABS",
    "STABLEHLO_AND",
    "STABLEHLO_COSINE",
    "STABLEHLO_EXPONENTIAL",
    "STABLEHLO_FLOOR",
    "STABLEHLO_LOG",
    "STABLEHLO_MINIMUM",
    "STABLEHLO_NEGATE",
    "STABLEHLO_OR",
    "STABLEHLO_POWER",
    "STABLEHLO_REMAINDER",
    "STABLEHLO_RSQRT",
    "STABLEHLO_SELECT",
    "STABLEHLO_SUBTRACT",
    "STABLEHLO_TANH",
    "STABLEHLO_SCATTER",
    "STABLEHLO_COMPARE",
    "STABLEHLO_CONVERT",
    "STABLEHLO_DYNAMIC_SLICE",
    "STABLEHLO_DYNAMIC_UPDATE_SLICE",
    "STABLEHLO_PAD",
    "STABLEHLO_IOTA",
    "STABLEHLO_DOT_GENERAL",
    "STABLEHLO_REDUCE_WINDOW",
    "STABLEHLO_SORT",
    "STABLEHLO_WHILE",
    "STABLEHLO_GATHER",
    "STABLEHLO_TRANSPOSE",
    "DILATE",
    "STABLEHLO_RNG_BIT_GENERATOR",
    "REDUCE_WINDOW",
    "STABLEHLO_COMPOSITE",
    "STABLEHLO_SHIFT_LEFT",
    "STABLEHLO_CBRT",
    "STABLEHLO_CASE",
};

const char *kiln_tflite_op_name(int32_t code) {
  size_t count = sizeof builtin_names / sizeof builtin_names[0];
  if (code < 0 || (size_t)code >= count) return NULL;
  return builtin_names[code];
}

/* ------------------------------------------------ shared field readers */

#define INVALID(...) kiln_error(KILN_ERR_INVALID_MODEL, __VA_ARGS__)

static kiln_status *read_padding(const kiln_fb_table *o, int field,
                                 kiln_padding *out) {
  int8_t value;
  KILN_TRY(kiln_fb_i8(o, field, 0, &value));
  if (value < 0 || value > TFL_PADDING_MAX)
    return INVALID("%s: padding %d is neither SAME (0) nor VALID (1)", o->name,
                   value);
  *out = (kiln_padding)value;
  return NULL;
}

static kiln_status *read_activation(const kiln_fb_table *o, int field,
                                    kiln_activation *out) {
  int8_t value;
  KILN_TRY(kiln_fb_i8(o, field, 0, &value));
  if (value < 0 || value > TFL_ACTIVATION_MAX)
    return INVALID(
        "%s: fused activation %d is not one of NONE, RELU, "
        "RELU_N1_TO_1, RELU6, TANH, SIGN_BIT (0..5)",
        o->name, value);
  *out = (kiln_activation)value;
  return NULL;
}

/* Strides, dilations and window sizes must be at least 1; the schema's
 * default for strides is 0, so a missing stride is an error here rather
 * than a division by zero later. */
static kiln_status *read_positive(const kiln_fb_table *o, int field,
                                  int32_t def, const char *what, int *out) {
  int32_t value;
  KILN_TRY(kiln_fb_i32(o, field, def, &value));
  if (value < 1)
    return INVALID("%s: %s is %d; it must be at least 1", o->name, what, value);
  *out = value;
  return NULL;
}

static kiln_status *read_int(const kiln_fb_table *o, int field, int *out) {
  int32_t value;
  KILN_TRY(kiln_fb_i32(o, field, 0, &value));
  *out = value;
  return NULL;
}

/* An int vector option into a fixed array of kiln's maximum rank. */
static kiln_status *read_dims(const kiln_fb_table *o, int field,
                              const char *what, int32_t *dims, int *count,
                              bool *present) {
  kiln_fb_vector v;
  KILN_TRY(kiln_fb_vector_field(o, field, 4, &v, present));
  if (v.length > KILN_MAX_RANK)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "%s: %s has %u entries; kiln supports up to %d", o->name,
                      what, v.length, KILN_MAX_RANK);
  for (uint32_t i = 0; i < v.length; i++) dims[i] = kiln_fb_vec_i32(&v, i);
  *count = (int)v.length;
  return NULL;
}

/* ------------------------------------------------------ option parsers */

static kiln_status *parse_conv_2d(const kiln_fb_table *o, void *attrs) {
  kiln_conv_attrs *a = attrs;
  KILN_TRY(read_padding(o, TFL_CONV2D_PADDING, &a->padding));
  KILN_TRY(read_positive(o, TFL_CONV2D_STRIDE_W, 0, "stride_w", &a->stride_w));
  KILN_TRY(read_positive(o, TFL_CONV2D_STRIDE_H, 0, "stride_h", &a->stride_h));
  KILN_TRY(read_activation(o, TFL_CONV2D_ACTIVATION, &a->activation));
  KILN_TRY(read_positive(o, TFL_CONV2D_DILATION_W, 1, "dilation_w_factor",
                         &a->dilation_w));
  return read_positive(o, TFL_CONV2D_DILATION_H, 1, "dilation_h_factor",
                       &a->dilation_h);
}

static kiln_status *parse_depthwise_conv_2d(const kiln_fb_table *o,
                                            void *attrs) {
  kiln_conv_attrs *a = attrs;
  KILN_TRY(read_padding(o, TFL_DWCONV_PADDING, &a->padding));
  KILN_TRY(read_positive(o, TFL_DWCONV_STRIDE_W, 0, "stride_w", &a->stride_w));
  KILN_TRY(read_positive(o, TFL_DWCONV_STRIDE_H, 0, "stride_h", &a->stride_h));
  KILN_TRY(read_int(o, TFL_DWCONV_DEPTH_MULTIPLIER, &a->depth_multiplier));
  if (a->depth_multiplier < 0)
    return INVALID("%s: depth_multiplier is %d", o->name, a->depth_multiplier);
  KILN_TRY(read_activation(o, TFL_DWCONV_ACTIVATION, &a->activation));
  KILN_TRY(read_positive(o, TFL_DWCONV_DILATION_W, 1, "dilation_w_factor",
                         &a->dilation_w));
  return read_positive(o, TFL_DWCONV_DILATION_H, 1, "dilation_h_factor",
                       &a->dilation_h);
}

static kiln_status *parse_transpose_conv(const kiln_fb_table *o, void *attrs) {
  kiln_conv_attrs *a = attrs;
  KILN_TRY(read_padding(o, TFL_TCONV_PADDING, &a->padding));
  KILN_TRY(read_positive(o, TFL_TCONV_STRIDE_W, 0, "stride_w", &a->stride_w));
  KILN_TRY(read_positive(o, TFL_TCONV_STRIDE_H, 0, "stride_h", &a->stride_h));
  a->dilation_h = a->dilation_w = 1; /* TFLite has no dilated TRANSPOSE_CONV */
  return read_activation(o, TFL_TCONV_ACTIVATION, &a->activation);
}

static kiln_status *parse_pool_2d(const kiln_fb_table *o, void *attrs) {
  kiln_pool_attrs *a = attrs;
  KILN_TRY(read_padding(o, TFL_POOL_PADDING, &a->padding));
  KILN_TRY(read_positive(o, TFL_POOL_STRIDE_W, 0, "stride_w", &a->stride_w));
  KILN_TRY(read_positive(o, TFL_POOL_STRIDE_H, 0, "stride_h", &a->stride_h));
  KILN_TRY(
      read_positive(o, TFL_POOL_FILTER_W, 0, "filter_width", &a->filter_w));
  KILN_TRY(
      read_positive(o, TFL_POOL_FILTER_H, 0, "filter_height", &a->filter_h));
  return read_activation(o, TFL_POOL_ACTIVATION, &a->activation);
}

static kiln_status *parse_fully_connected(const kiln_fb_table *o, void *attrs) {
  kiln_fully_connected_attrs *a = attrs;
  int8_t format;
  KILN_TRY(read_activation(o, TFL_FC_ACTIVATION, &a->activation));
  KILN_TRY(kiln_fb_i8(o, TFL_FC_WEIGHTS_FORMAT, 0, &format));
  /* Shuffled int8 weights are an ARM-specific layout kiln does not unpack. */
  if (format != 0)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "%s: weights_format %d is not supported (only DEFAULT)",
                      o->name, format);
  KILN_TRY(kiln_fb_bool(o, TFL_FC_KEEP_NUM_DIMS, false, &a->keep_num_dims));
  KILN_TRY(
      kiln_fb_i8(o, TFL_FC_QUANTIZED_BIAS_TYPE, 0, &a->quantized_bias_type));
  return kiln_fb_bool(o, TFL_FC_ASYMMETRIC_QUANTIZE_INPUTS, false,
                      &a->asymmetric_quantize_inputs);
}

static kiln_status *parse_batch_matmul(const kiln_fb_table *o, void *attrs) {
  kiln_batch_matmul_attrs *a = attrs;
  KILN_TRY(kiln_fb_bool(o, TFL_BMM_ADJ_X, false, &a->adj_x));
  KILN_TRY(kiln_fb_bool(o, TFL_BMM_ADJ_Y, false, &a->adj_y));
  return kiln_fb_bool(o, TFL_BMM_ASYMMETRIC_QUANTIZE_INPUTS, false,
                      &a->asymmetric_quantize_inputs);
}

/* Add, Sub, Mul, Div and L2Norm options: only the fused activation. */
static kiln_status *parse_activation(const kiln_fb_table *o, void *attrs) {
  kiln_activation_attrs *a = attrs;
  return read_activation(o, TFL_ARITH_ACTIVATION, &a->activation);
}

static kiln_status *parse_leaky_relu(const kiln_fb_table *o, void *attrs) {
  kiln_leaky_relu_attrs *a = attrs;
  return kiln_fb_f32(o, TFL_LEAKY_RELU_ALPHA, 0.0f, &a->alpha);
}

static kiln_status *parse_gelu(const kiln_fb_table *o, void *attrs) {
  kiln_gelu_attrs *a = attrs;
  return kiln_fb_bool(o, TFL_GELU_APPROXIMATE, false, &a->approximate);
}

static kiln_status *parse_softmax(const kiln_fb_table *o, void *attrs) {
  kiln_softmax_attrs *a = attrs;
  return kiln_fb_f32(o, TFL_SOFTMAX_BETA, 0.0f, &a->beta);
}

static kiln_status *parse_reducer(const kiln_fb_table *o, void *attrs) {
  kiln_reduce_attrs *a = attrs;
  return kiln_fb_bool(o, TFL_REDUCER_KEEP_DIMS, false, &a->keep_dims);
}

static kiln_status *parse_reshape(const kiln_fb_table *o, void *attrs) {
  kiln_reshape_attrs *a = attrs;
  bool present;
  KILN_TRY(read_dims(o, TFL_RESHAPE_NEW_SHAPE, "new_shape", a->new_shape,
                     &a->num_dims, &present));
  if (!present) a->num_dims = -1; /* the shape comes from input 1 */
  return NULL;
}

static kiln_status *parse_squeeze(const kiln_fb_table *o, void *attrs) {
  kiln_squeeze_attrs *a = attrs;
  return read_dims(o, TFL_SQUEEZE_DIMS, "squeeze_dims", a->axes, &a->num_axes,
                   NULL);
}

static kiln_status *parse_concatenation(const kiln_fb_table *o, void *attrs) {
  kiln_concat_attrs *a = attrs;
  KILN_TRY(read_int(o, TFL_CONCAT_AXIS, &a->axis));
  return read_activation(o, TFL_CONCAT_ACTIVATION, &a->activation);
}

/* PackOptions (values_count, axis) and UnpackOptions (num, axis). */
static kiln_status *parse_pack(const kiln_fb_table *o, void *attrs) {
  kiln_pack_attrs *a = attrs;
  KILN_TRY(read_int(o, TFL_PACK_COUNT, &a->count));
  return read_int(o, TFL_PACK_AXIS, &a->axis);
}

/* SplitOptions and SplitVOptions. */
static kiln_status *parse_split(const kiln_fb_table *o, void *attrs) {
  kiln_split_attrs *a = attrs;
  return read_int(o, TFL_SPLIT_NUM_SPLITS, &a->num_splits);
}

static kiln_status *parse_mirror_pad(const kiln_fb_table *o, void *attrs) {
  kiln_mirror_pad_attrs *a = attrs;
  int8_t mode;
  KILN_TRY(kiln_fb_i8(o, TFL_MIRROR_PAD_MODE, 0, &mode));
  if (mode < 0 || mode > TFL_MIRROR_PAD_MAX)
    return INVALID("%s: mode %d is neither REFLECT (0) nor SYMMETRIC (1)",
                   o->name, mode);
  a->mode = (kiln_mirror_mode)mode;
  return NULL;
}

static kiln_status *parse_strided_slice(const kiln_fb_table *o, void *attrs) {
  kiln_strided_slice_attrs *a = attrs;
  KILN_TRY(kiln_fb_i32(o, TFL_SS_BEGIN_MASK, 0, &a->begin_mask));
  KILN_TRY(kiln_fb_i32(o, TFL_SS_END_MASK, 0, &a->end_mask));
  KILN_TRY(kiln_fb_i32(o, TFL_SS_ELLIPSIS_MASK, 0, &a->ellipsis_mask));
  KILN_TRY(kiln_fb_i32(o, TFL_SS_NEW_AXIS_MASK, 0, &a->new_axis_mask));
  KILN_TRY(kiln_fb_i32(o, TFL_SS_SHRINK_AXIS_MASK, 0, &a->shrink_axis_mask));
  return kiln_fb_bool(o, TFL_SS_OFFSET, false, &a->offset);
}

static kiln_status *parse_gather(const kiln_fb_table *o, void *attrs) {
  kiln_gather_attrs *a = attrs;
  KILN_TRY(read_int(o, TFL_GATHER_AXIS, &a->axis));
  return read_int(o, TFL_GATHER_BATCH_DIMS, &a->batch_dims);
}

static kiln_status *parse_resize_bilinear(const kiln_fb_table *o, void *attrs) {
  kiln_resize_attrs *a = attrs;
  KILN_TRY(kiln_fb_bool(o, TFL_RESIZE_BILINEAR_ALIGN_CORNERS, false,
                        &a->align_corners));
  return kiln_fb_bool(o, TFL_RESIZE_BILINEAR_HALF_PIXEL_CENTERS, false,
                      &a->half_pixel_centers);
}

static kiln_status *parse_resize_nearest(const kiln_fb_table *o, void *attrs) {
  kiln_resize_attrs *a = attrs;
  KILN_TRY(kiln_fb_bool(o, TFL_RESIZE_NEAREST_ALIGN_CORNERS, false,
                        &a->align_corners));
  return kiln_fb_bool(o, TFL_RESIZE_NEAREST_HALF_PIXEL_CENTERS, false,
                      &a->half_pixel_centers);
}

/* ---- added for issue 9: recurrent operators' options */

static kiln_status *read_clip(const kiln_fb_table *o, int field,
                              const char *what, float *out) {
  KILN_TRY(kiln_fb_f32(o, field, 0.0f, out));
  if (!(*out >= 0.0f) || *out > 3.4e38f)
    return INVALID("%s: %s is %g; it must be a finite number >= 0", o->name,
                   what, (double)*out);
  return NULL;
}

static kiln_status *parse_lstm(const kiln_fb_table *o, void *attrs) {
  kiln_lstm_attrs *a = attrs;
  int8_t kernel_type;
  KILN_TRY(read_activation(o, TFL_LSTM_ACTIVATION, &a->activation));
  KILN_TRY(read_clip(o, TFL_LSTM_CELL_CLIP, "cell_clip", &a->cell_clip));
  KILN_TRY(read_clip(o, TFL_LSTM_PROJ_CLIP, "proj_clip", &a->proj_clip));
  KILN_TRY(kiln_fb_i8(o, TFL_LSTM_KERNEL_TYPE, 0, &kernel_type));
  KILN_TRY(kiln_fb_bool(o, TFL_LSTM_ASYMMETRIC_QUANTIZE_INPUTS, false,
                        &a->asymmetric_quantize_inputs));
  /* The BASIC kernel is a different, 5-input operator. */
  if (kernel_type != 0)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "%s: kernel_type %d is not supported (only FULL, 0)",
                      o->name, kernel_type);
  a->time_major = true; /* one step: [batch, input] */
  return NULL;
}

static kiln_status *parse_unidirectional_lstm(const kiln_fb_table *o,
                                              void *attrs) {
  kiln_lstm_attrs *a = attrs;
  bool diagonal;
  KILN_TRY(read_activation(o, TFL_ULSTM_ACTIVATION, &a->activation));
  KILN_TRY(read_clip(o, TFL_ULSTM_CELL_CLIP, "cell_clip", &a->cell_clip));
  KILN_TRY(read_clip(o, TFL_ULSTM_PROJ_CLIP, "proj_clip", &a->proj_clip));
  KILN_TRY(kiln_fb_bool(o, TFL_ULSTM_TIME_MAJOR, false, &a->time_major));
  KILN_TRY(kiln_fb_bool(o, TFL_ULSTM_ASYMMETRIC_QUANTIZE_INPUTS, false,
                        &a->asymmetric_quantize_inputs));
  KILN_TRY(
      kiln_fb_bool(o, TFL_ULSTM_DIAGONAL_RECURRENT_TENSORS, false, &diagonal));
  if (diagonal)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "%s: diagonal_recurrent_tensors (IndyLSTM) is not "
                      "supported",
                      o->name);
  return NULL;
}

static kiln_status *parse_bidirectional_lstm(const kiln_fb_table *o,
                                             void *attrs) {
  kiln_lstm_attrs *a = attrs;
  KILN_TRY(read_activation(o, TFL_BLSTM_ACTIVATION, &a->activation));
  KILN_TRY(read_clip(o, TFL_BLSTM_CELL_CLIP, "cell_clip", &a->cell_clip));
  KILN_TRY(read_clip(o, TFL_BLSTM_PROJ_CLIP, "proj_clip", &a->proj_clip));
  KILN_TRY(kiln_fb_bool(o, TFL_BLSTM_MERGE_OUTPUTS, false, &a->merge_outputs));
  KILN_TRY(kiln_fb_bool(o, TFL_BLSTM_ASYMMETRIC_QUANTIZE_INPUTS, false,
                        &a->asymmetric_quantize_inputs));
  return kiln_fb_bool(o, TFL_BLSTM_TIME_MAJOR, true, &a->time_major);
}

static kiln_status *parse_rnn(const kiln_fb_table *o, void *attrs) {
  kiln_rnn_attrs *a = attrs;
  a->time_major = true; /* one step: [batch, input] */
  KILN_TRY(kiln_fb_bool(o, TFL_RNN_ASYMMETRIC_QUANTIZE_INPUTS, false,
                        &a->asymmetric_quantize_inputs));
  return read_activation(o, TFL_RNN_ACTIVATION, &a->activation);
}

static kiln_status *parse_sequence_rnn(const kiln_fb_table *o, void *attrs) {
  kiln_rnn_attrs *a = attrs;
  KILN_TRY(kiln_fb_bool(o, TFL_SRNN_TIME_MAJOR, false, &a->time_major));
  KILN_TRY(kiln_fb_bool(o, TFL_SRNN_ASYMMETRIC_QUANTIZE_INPUTS, false,
                        &a->asymmetric_quantize_inputs));
  return read_activation(o, TFL_SRNN_ACTIVATION, &a->activation);
}

static kiln_status *parse_bidirectional_rnn(const kiln_fb_table *o,
                                            void *attrs) {
  kiln_rnn_attrs *a = attrs;
  KILN_TRY(kiln_fb_bool(o, TFL_BRNN_TIME_MAJOR, false, &a->time_major));
  KILN_TRY(read_activation(o, TFL_BRNN_ACTIVATION, &a->activation));
  KILN_TRY(kiln_fb_bool(o, TFL_BRNN_ASYMMETRIC_QUANTIZE_INPUTS, false,
                        &a->asymmetric_quantize_inputs));
  return kiln_fb_bool(o, TFL_BRNN_MERGE_OUTPUTS, false, &a->merge_outputs);
}

static kiln_status *parse_svdf(const kiln_fb_table *o, void *attrs) {
  kiln_svdf_attrs *a = attrs;
  KILN_TRY(read_positive(o, TFL_SVDF_RANK, 0, "rank", &a->rank));
  KILN_TRY(kiln_fb_bool(o, TFL_SVDF_ASYMMETRIC_QUANTIZE_INPUTS, false,
                        &a->asymmetric_quantize_inputs));
  return read_activation(o, TFL_SVDF_ACTIVATION, &a->activation);
}

bool kiln_tflite_is_state_input(kiln_op_type op, int index) {
  switch (op) {
    case KILN_OP_LSTM:
    case KILN_OP_UNIDIRECTIONAL_SEQUENCE_LSTM:
      return index == 18 || index == 19;
    case KILN_OP_BIDIRECTIONAL_SEQUENCE_LSTM:
      return index >= 35 && index <= 38;
    case KILN_OP_RNN:
    case KILN_OP_UNIDIRECTIONAL_SEQUENCE_RNN:
    case KILN_OP_SVDF:
      return index == 4;
    case KILN_OP_BIDIRECTIONAL_SEQUENCE_RNN:
      return index == 4 || index == 8;
    default:
      return false;
  }
}

/* added for issue 9: math, logical, reductions */
static kiln_status *parse_cumsum(const kiln_fb_table *o, void *attrs) {
  kiln_cumsum_attrs *a = attrs;
  KILN_TRY(kiln_fb_bool(o, TFL_CUMSUM_EXCLUSIVE, false, &a->exclusive));
  return kiln_fb_bool(o, TFL_CUMSUM_REVERSE, false, &a->reverse);
}

/* ---- added for issue 9: data movement and indexing ---- */

/* DepthToSpaceOptions and SpaceToDepthOptions: block_size, checked >= 1
 * here so that a broken file fails at load. */
static kiln_status *parse_block_size(const kiln_fb_table *o, void *attrs) {
  kiln_block_size_attrs *a = attrs;
  return read_positive(o, TFL_BLOCK_SIZE, 0, "block_size", &a->block_size);
}

static kiln_status *parse_one_hot(const kiln_fb_table *o, void *attrs) {
  kiln_one_hot_attrs *a = attrs;
  return read_int(o, TFL_ONE_HOT_AXIS, &a->axis);
}

static kiln_status *parse_lrn(const kiln_fb_table *o, void *attrs) {
  kiln_lrn_attrs *a = attrs;
  KILN_TRY(read_int(o, TFL_LRN_RADIUS, &a->radius));
  if (a->radius < 0)
    return INVALID("%s: radius is %d; it must be >= 0", o->name, a->radius);
  KILN_TRY(kiln_fb_f32(o, TFL_LRN_BIAS, 0.0f, &a->bias));
  KILN_TRY(kiln_fb_f32(o, TFL_LRN_ALPHA, 0.0f, &a->alpha));
  return kiln_fb_f32(o, TFL_LRN_BETA, 0.0f, &a->beta);
}

/* ---- added for issue 9: remaining builtins ---- */

/* BucketizeOptions: the boundaries stay in the model's bytes (attrs point
 * at them); their order is checked at prepare, as TFLite does. */
static kiln_status *parse_bucketize(const kiln_fb_table *o, void *attrs) {
  kiln_bucketize_attrs *a = attrs;
  kiln_fb_vector v;
  bool present;
  KILN_TRY(kiln_fb_vector_field(o, TFL_BUCKETIZE_BOUNDARIES, 4, &v, &present));
  if (!present || v.length == 0) {
    a->boundaries = NULL;
    a->count = 0;
    return NULL;
  }
  if (v.length > INT32_MAX / 4)
    return INVALID("%s: boundaries has %u entries; at most %d are supported",
                   o->name, (unsigned)v.length, INT32_MAX / 4);
  a->boundaries = kiln_fb_vec_data(&v);
  a->count = (int32_t)v.length;
  return NULL;
}

/* Subgraph indices must name a subgraph; the importer checks the upper
 * bound once it knows how many the file has. */
static kiln_status *read_subgraph_index(const kiln_fb_table *o, int field,
                                        const char *what, int *out) {
  int32_t value;
  KILN_TRY(kiln_fb_i32(o, field, 0, &value));
  if (value < 0)
    return INVALID("%s: %s is %d; it must name a subgraph", o->name, what,
                   value);
  *out = value;
  return NULL;
}

static kiln_status *parse_while(const kiln_fb_table *o, void *attrs) {
  kiln_while_attrs *a = attrs;
  KILN_TRY(read_subgraph_index(o, TFL_WHILE_COND_SUBGRAPH,
                               "cond_subgraph_index", &a->cond_subgraph));
  return read_subgraph_index(o, TFL_WHILE_BODY_SUBGRAPH, "body_subgraph_index",
                             &a->body_subgraph);
}

static kiln_status *parse_if(const kiln_fb_table *o, void *attrs) {
  kiln_if_attrs *a = attrs;
  KILN_TRY(read_subgraph_index(o, TFL_IF_THEN_SUBGRAPH, "then_subgraph_index",
                               &a->then_subgraph));
  return read_subgraph_index(o, TFL_IF_ELSE_SUBGRAPH, "else_subgraph_index",
                             &a->else_subgraph);
}

static kiln_status *parse_call_once(const kiln_fb_table *o, void *attrs) {
  kiln_call_once_attrs *a = attrs;
  return read_subgraph_index(o, TFL_CALL_ONCE_INIT_SUBGRAPH,
                             "init_subgraph_index", &a->init_subgraph);
}

/* The strings stay in the file's bytes, which outlive the graph. */
static kiln_status *parse_var_handle(const kiln_fb_table *o, void *attrs) {
  kiln_var_handle_attrs *a = attrs;
  KILN_TRY(kiln_fb_string_field(o, TFL_VAR_HANDLE_CONTAINER, &a->container));
  return kiln_fb_string_field(o, TFL_VAR_HANDLE_SHARED_NAME, &a->shared_name);
}

/* HashtableOptions: the key and value types must be one of the two pairs
 * LiteRT's kernels take; anything else would reach no kernel. */
static kiln_status *parse_hashtable(const kiln_fb_table *o, void *attrs) {
  kiln_hashtable_attrs *a = attrs;
  int8_t key, value;
  KILN_TRY(kiln_fb_i32(o, TFL_HASHTABLE_TABLE_ID, 0, &a->table_id));
  KILN_TRY(kiln_fb_i8(o, TFL_HASHTABLE_KEY_DTYPE, 0, &key));
  KILN_TRY(kiln_fb_i8(o, TFL_HASHTABLE_VALUE_DTYPE, 0, &value));
  if (key == TFL_TYPE_INT64 && value == TFL_TYPE_STRING) {
    a->key_dtype = KILN_INT64;
    a->value_dtype = KILN_STRING;
  } else if (key == TFL_TYPE_STRING && value == TFL_TYPE_INT64) {
    a->key_dtype = KILN_STRING;
    a->value_dtype = KILN_INT64;
  } else {
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "HASHTABLE: key_dtype %d and value_dtype %d; kiln (as "
                      "LiteRT) takes int64 -> string (%d, %d) and string -> "
                      "int64 (%d, %d) tables",
                      key, value, TFL_TYPE_INT64, TFL_TYPE_STRING,
                      TFL_TYPE_STRING, TFL_TYPE_INT64);
  }
  return NULL;
}

/* FakeQuantOptions. narrow_range is refused as LiteRT's kernel refuses it
 * (it is meant for weights, which the converter folds). */
static kiln_status *parse_fake_quant(const kiln_fb_table *o, void *attrs) {
  kiln_fake_quant_attrs *a = attrs;
  bool narrow;
  KILN_TRY(kiln_fb_f32(o, TFL_FAKE_QUANT_MIN, 0.0f, &a->min));
  KILN_TRY(kiln_fb_f32(o, TFL_FAKE_QUANT_MAX, 0.0f, &a->max));
  KILN_TRY(read_int(o, TFL_FAKE_QUANT_NUM_BITS, &a->num_bits));
  KILN_TRY(kiln_fb_bool(o, TFL_FAKE_QUANT_NARROW_RANGE, false, &narrow));
  if (narrow)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "%s: narrow_range FAKE_QUANT is not supported (nor by "
                      "TFLite at runtime)",
                      o->name);
  return NULL;
}

static kiln_status *parse_embedding_sparse(const kiln_fb_table *o,
                                           void *attrs) {
  kiln_embedding_sparse_attrs *a = attrs;
  int8_t combiner;
  KILN_TRY(kiln_fb_i8(o, TFL_ELS_COMBINER, 0, &combiner));
  if (combiner < KILN_COMBINER_SUM || combiner > KILN_COMBINER_SQRTN)
    return INVALID("%s: combiner %d is not SUM (0), MEAN (1) or SQRTN (2)",
                   o->name, combiner);
  a->combiner = (kiln_combiner)combiner;
  return NULL;
}

/* ReduceWindowOptions (in BuiltinOptions2). UNSUPPORTED (0), the default,
 * is what LiteRT refuses too. */
static kiln_status *parse_reduce_window(const kiln_fb_table *o, void *attrs) {
  kiln_reduce_window_attrs *a = attrs;
  int32_t f;
  KILN_TRY(kiln_fb_i32(o, TFL_REDUCE_WINDOW_FUNCTION, 0, &f));
  if (f < KILN_WINDOW_ADD || f > KILN_WINDOW_ANY)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "%s: reduce_function %d is not one of ADD (1), MUL, "
                      "MINIMUM, MAXIMUM, ALL, ANY (6)",
                      o->name, (int)f);
  a->function = (kiln_window_function)f;
  return NULL;
}

/* One of StablehloPadOptions' [long] vectors: `rank` entries (the first
 * vector read sets it), each within +-2^31; interior ones >= 0. */
static kiln_status *read_pad_amounts(const kiln_fb_table *o, int field,
                                     const char *what, bool non_negative,
                                     int *rank, int64_t *out) {
  kiln_fb_vector v;
  KILN_TRY(kiln_fb_vector_field(o, field, 8, &v, NULL));
  if (*rank < 0 && v.length <= KILN_MAX_RANK) *rank = (int)v.length;
  if (*rank < 0 || v.length != (uint32_t)*rank)
    return INVALID("%s: %s has %u entries; expected %d (at most %d)", o->name,
                   what, (unsigned)v.length, *rank < 0 ? 0 : *rank,
                   KILN_MAX_RANK);
  for (uint32_t i = 0; i < v.length; i++) {
    out[i] = kiln_fb_vec_i64(&v, i);
    if (out[i] < (non_negative ? 0 : -INT32_MAX) || out[i] > INT32_MAX)
      return INVALID("%s: %s entry %u is %lld", o->name, what, (unsigned)i,
                     (long long)out[i]);
  }
  return NULL;
}

static kiln_status *parse_stablehlo_pad(const kiln_fb_table *o, void *attrs) {
  kiln_stablehlo_pad_attrs *a = attrs;
  a->rank = -1;
  KILN_TRY(read_pad_amounts(o, TFL_HLO_PAD_LOW, "edge_padding_low", false,
                            &a->rank, a->low));
  KILN_TRY(read_pad_amounts(o, TFL_HLO_PAD_HIGH, "edge_padding_high", false,
                            &a->rank, a->high));
  return read_pad_amounts(o, TFL_HLO_PAD_INTERIOR, "interior_padding", true,
                          &a->rank, a->interior);
}

/* ---- added for issue 9: random numbers and hashing ---- */

/* RandomOptions: the seeds are any int64 (TFLite takes them as given). */
static kiln_status *parse_random(const kiln_fb_table *o, void *attrs) {
  kiln_random_attrs *a = attrs;
  uint64_t seed, seed2;
  KILN_TRY(kiln_fb_u64(o, TFL_RANDOM_SEED, 0, &seed));
  KILN_TRY(kiln_fb_u64(o, TFL_RANDOM_SEED2, 0, &seed2));
  a->seed = (int64_t)seed;
  a->seed2 = (int64_t)seed2;
  return NULL;
}

static kiln_status *parse_rng_bit_generator(const kiln_fb_table *o,
                                            void *attrs) {
  kiln_rng_bit_generator_attrs *a = attrs;
  int8_t algorithm;
  KILN_TRY(kiln_fb_i8(o, TFL_RNG_ALGORITHM, 0, &algorithm));
  if (algorithm < 0 || algorithm > TFL_RNG_ALGORITHM_MAX)
    return INVALID(
        "%s: algorithm %d is none of DEFAULT (0), PHILOX (1) and "
        "THREEFRY (2)",
        o->name, algorithm);
  a->algorithm = (kiln_rng_algorithm)algorithm;
  return NULL;
}

/* LSHProjectionOptions: UNKNOWN (0), the schema's default, is refused as
 * TFLite's prepare refuses it. */
static kiln_status *parse_lsh_projection(const kiln_fb_table *o, void *attrs) {
  kiln_lsh_projection_attrs *a = attrs;
  int8_t type;
  KILN_TRY(kiln_fb_i8(o, TFL_LSH_TYPE, 0, &type));
  if (type != KILN_LSH_SPARSE && type != KILN_LSH_DENSE)
    return INVALID("%s: type %d is neither SPARSE (1) nor DENSE (2)", o->name,
                   type);
  a->type = (kiln_lsh_type)type;
  return NULL;
}

/* A [long] option of at most KILN_MAX_RANK entries, each within +-2^31. */
static kiln_status *read_longs(const kiln_fb_table *o, int field,
                               const char *what, int64_t *out, int *count) {
  kiln_fb_vector v;
  KILN_TRY(kiln_fb_vector_field(o, field, 8, &v, NULL));
  if (v.length > KILN_MAX_RANK)
    return INVALID("%s: %s has %u entries; at most %d are supported", o->name,
                   what, (unsigned)v.length, KILN_MAX_RANK);
  for (uint32_t i = 0; i < v.length; i++) {
    out[i] = kiln_fb_vec_i64(&v, i);
    if (out[i] < -INT32_MAX || out[i] > INT32_MAX)
      return INVALID("%s: %s entry %u is %lld", o->name, what, (unsigned)i,
                     (long long)out[i]);
  }
  *count = (int)v.length;
  return NULL;
}

static kiln_status *parse_stablehlo_gather(const kiln_fb_table *o,
                                           void *attrs) {
  kiln_stablehlo_gather_attrs *a = attrs;
  KILN_TRY(read_longs(o, TFL_HLO_GATHER_OFFSET_DIMS, "offset_dims",
                      a->offset_dims, &a->num_offset_dims));
  KILN_TRY(read_longs(o, TFL_HLO_GATHER_COLLAPSED_SLICE_DIMS,
                      "collapsed_slice_dims", a->collapsed_slice_dims,
                      &a->num_collapsed));
  KILN_TRY(read_longs(o, TFL_HLO_GATHER_START_INDEX_MAP, "start_index_map",
                      a->start_index_map, &a->num_start_index_map));
  KILN_TRY(read_longs(o, TFL_HLO_GATHER_SLICE_SIZES, "slice_sizes",
                      a->slice_sizes, &a->num_slice_sizes));
  uint64_t ivd;
  KILN_TRY(kiln_fb_u64(o, TFL_HLO_GATHER_INDEX_VECTOR_DIM, 0, &ivd));
  /* a long in the schema; anything above the maximum rank is refused at
   * prepare, so clamp the stored value there */
  a->index_vector_dim =
      ivd > KILN_MAX_RANK + 1 ? KILN_MAX_RANK + 1 : (int64_t)ivd;
  return NULL;
}

/* ---- added for issue 9: new operators ---- */

/* Conv3DOptions (CONV_3D and CONV_3D_TRANSPOSE). Strides default to 0 in
 * the schema, so a missing one is an error here. */
static kiln_status *parse_conv3d(const kiln_fb_table *o, void *attrs) {
  kiln_conv3d_attrs *a = attrs;
  KILN_TRY(read_padding(o, TFL_CONV3D_PADDING, &a->padding));
  KILN_TRY(read_positive(o, TFL_CONV3D_STRIDE_D, 0, "stride_d", &a->stride_d));
  KILN_TRY(read_positive(o, TFL_CONV3D_STRIDE_H, 0, "stride_h", &a->stride_h));
  KILN_TRY(read_positive(o, TFL_CONV3D_STRIDE_W, 0, "stride_w", &a->stride_w));
  KILN_TRY(read_activation(o, TFL_CONV3D_ACTIVATION, &a->activation));
  KILN_TRY(read_positive(o, TFL_CONV3D_DILATION_D, 1, "dilation_d_factor",
                         &a->dilation_d));
  KILN_TRY(read_positive(o, TFL_CONV3D_DILATION_H, 1, "dilation_h_factor",
                         &a->dilation_h));
  return read_positive(o, TFL_CONV3D_DILATION_W, 1, "dilation_w_factor",
                       &a->dilation_w);
}

/* ReverseSequenceOptions: both dimensions must be >= 0 (TFLite takes no
 * negative ones); the upper bound is the input's rank, checked at prepare. */
static kiln_status *parse_reverse_sequence(const kiln_fb_table *o,
                                           void *attrs) {
  kiln_reverse_sequence_attrs *a = attrs;
  KILN_TRY(read_int(o, TFL_REVSEQ_SEQ_DIM, &a->seq_dim));
  KILN_TRY(read_int(o, TFL_REVSEQ_BATCH_DIM, &a->batch_dim));
  if (a->seq_dim < 0 || a->batch_dim < 0)
    return INVALID("%s: seq_dim %d and batch_dim %d must be >= 0", o->name,
                   a->seq_dim, a->batch_dim);
  return NULL;
}

/* One of StablehloReduceWindowOptions' optional [long] vectors: `count`
 * entries, each within +-2^31, or absent (every entry `fill`, as LiteRT). */
static kiln_status *read_window_longs(const kiln_fb_table *o, int field,
                                      const char *what, int count, int64_t fill,
                                      int64_t min, int64_t *out) {
  kiln_fb_vector v;
  KILN_TRY(kiln_fb_vector_field(o, field, 8, &v, NULL));
  if (v.length == 0) {
    for (int i = 0; i < count; i++) out[i] = fill;
    return NULL;
  }
  if (v.length != (uint32_t)count)
    return INVALID("%s: %s has %u entries; expected %d", o->name, what,
                   (unsigned)v.length, count);
  for (int i = 0; i < count; i++) {
    out[i] = kiln_fb_vec_i64(&v, (uint32_t)i);
    if (out[i] < min || out[i] > INT32_MAX)
      return INVALID("%s: %s entry %d is %lld; it must be from %lld to %d",
                     o->name, what, i, (long long)out[i], (long long)min,
                     INT32_MAX);
  }
  return NULL;
}

/* StablehloReduceWindowOptions. window_dimensions is required and gives
 * the rank; the others default as in LiteRT (1, and padding 0). The body
 * is recognized once all subgraphs are known (tflite_bodies.c). */
static kiln_status *parse_stablehlo_reduce_window(const kiln_fb_table *o,
                                                  void *attrs) {
  kiln_stablehlo_reduce_window_attrs *a = attrs;
  kiln_fb_vector v;
  KILN_TRY(kiln_fb_vector_field(o, TFL_HLO_RW_WINDOW_DIMENSIONS, 8, &v, NULL));
  if (v.length == 0 || v.length > KILN_MAX_RANK)
    return INVALID("%s: window_dimensions has %u entries; it needs 1 to %d",
                   o->name, (unsigned)v.length, KILN_MAX_RANK);
  a->rank = (int)v.length;
  KILN_TRY(read_window_longs(o, TFL_HLO_RW_WINDOW_DIMENSIONS,
                             "window_dimensions", a->rank, 1, 1, a->window));
  KILN_TRY(read_window_longs(o, TFL_HLO_RW_WINDOW_STRIDES, "window_strides",
                             a->rank, 1, 1, a->strides));
  KILN_TRY(read_window_longs(o, TFL_HLO_RW_BASE_DILATIONS, "base_dilations",
                             a->rank, 1, 1, a->base_dilations));
  KILN_TRY(read_window_longs(o, TFL_HLO_RW_WINDOW_DILATIONS, "window_dilations",
                             a->rank, 1, 1, a->window_dilations));
  KILN_TRY(read_window_longs(o, TFL_HLO_RW_PADDING, "padding", 2 * a->rank, 0,
                             -INT32_MAX, a->padding));
  return read_subgraph_index(o, TFL_HLO_RW_BODY_SUBGRAPH, "body_subgraph_index",
                             &a->body_subgraph);
}

static kiln_status *parse_stablehlo_scatter(const kiln_fb_table *o,
                                            void *attrs) {
  kiln_stablehlo_scatter_attrs *a = attrs;
  KILN_TRY(read_longs(o, TFL_HLO_SCATTER_UPDATE_WINDOW_DIMS,
                      "update_window_dims", a->update_window_dims,
                      &a->num_update_window_dims));
  KILN_TRY(read_longs(o, TFL_HLO_SCATTER_INSERTED_WINDOW_DIMS,
                      "inserted_window_dims", a->inserted_window_dims,
                      &a->num_inserted_window_dims));
  KILN_TRY(read_longs(o, TFL_HLO_SCATTER_DIMS_TO_OPERAND_DIMS,
                      "scatter_dims_to_operand_dims",
                      a->scatter_dims_to_operand_dims, &a->num_scatter_dims));
  uint64_t ivd;
  KILN_TRY(kiln_fb_u64(o, TFL_HLO_SCATTER_INDEX_VECTOR_DIM, 0, &ivd));
  /* a long; anything above the maximum rank (negatives included) is
   * refused at prepare */
  a->index_vector_dim =
      ivd > KILN_MAX_RANK + 1 ? KILN_MAX_RANK + 1 : (int64_t)ivd;
  return read_subgraph_index(o, TFL_HLO_SCATTER_UPDATE_COMPUTATION,
                             "update_computation_subgraph_index",
                             &a->update_subgraph);
}

static kiln_status *parse_stablehlo_case(const kiln_fb_table *o, void *attrs) {
  kiln_stablehlo_case_attrs *a = attrs;
  kiln_fb_vector v;
  KILN_TRY(kiln_fb_vector_field(o, TFL_HLO_CASE_BRANCHES, 4, &v, NULL));
  if (v.length == 0 || v.length > KILN_MAX_CASE_BRANCHES)
    return INVALID(
        "%s: branch_subgraph_indices has %u entries; kiln takes 1 "
        "to %d",
        o->name, (unsigned)v.length, KILN_MAX_CASE_BRANCHES);
  a->num_branches = (int)v.length;
  for (int i = 0; i < a->num_branches; i++) {
    a->branches[i] = kiln_fb_vec_i32(&v, (uint32_t)i);
    if (a->branches[i] < 0)
      return INVALID(
          "%s: branch_subgraph_indices entry %d is %d; it must "
          "name a subgraph",
          o->name, i, a->branches[i]);
  }
  return NULL;
}

static kiln_status *parse_stablehlo_composite(const kiln_fb_table *o,
                                              void *attrs) {
  kiln_stablehlo_composite_attrs *a = attrs;
  KILN_TRY(kiln_fb_string_field(o, TFL_HLO_COMPOSITE_NAME, &a->name));
  KILN_TRY(read_int(o, TFL_HLO_COMPOSITE_VERSION, &a->version));
  return read_subgraph_index(o, TFL_HLO_COMPOSITE_DECOMPOSITION,
                             "decomposition_subgraph_index",
                             &a->decomposition_subgraph);
}

/* --------------------------------------------------------------- table */

/* An operator whose TFLite and kiln names agree, read with options. */
#define WITH(name, options, options_name, parser, attrs)                    \
  {                                                                         \
    TFL_OP_##name, KILN_OP_##name, TFL_OPT_##options, options_name, parser, \
        sizeof(attrs)                                                       \
  }
/* An operator without options kiln needs (any options are ignored: they
 * only restate what the tensors' types already say). */
#define PLAIN(name)                                          \
  {                                                          \
    TFL_OP_##name, KILN_OP_##name, TFL_OPT_NONE, NULL, NULL, \
        sizeof(kiln_no_attrs)                                \
  }

static const kiln_tflite_op op_map[] = {
    WITH(CONV_2D, CONV2D, "Conv2DOptions", parse_conv_2d, kiln_conv_attrs),
    WITH(DEPTHWISE_CONV_2D, DEPTHWISE_CONV2D, "DepthwiseConv2DOptions",
         parse_depthwise_conv_2d, kiln_conv_attrs),
    WITH(TRANSPOSE_CONV, TRANSPOSE_CONV, "TransposeConvOptions",
         parse_transpose_conv, kiln_conv_attrs),
    WITH(FULLY_CONNECTED, FULLY_CONNECTED, "FullyConnectedOptions",
         parse_fully_connected, kiln_fully_connected_attrs),
    WITH(BATCH_MATMUL, BATCH_MATMUL, "BatchMatMulOptions", parse_batch_matmul,
         kiln_batch_matmul_attrs),
    WITH(ADD, ADD, "AddOptions", parse_activation, kiln_activation_attrs),
    WITH(SUB, SUB, "SubOptions", parse_activation, kiln_activation_attrs),
    WITH(MUL, MUL, "MulOptions", parse_activation, kiln_activation_attrs),
    WITH(DIV, DIV, "DivOptions", parse_activation, kiln_activation_attrs),
    PLAIN(MAXIMUM),
    PLAIN(MINIMUM),
    PLAIN(SQUARED_DIFFERENCE),
    PLAIN(POW),
    PLAIN(PRELU),
    PLAIN(LESS),
    PLAIN(LESS_EQUAL),
    PLAIN(GREATER),
    PLAIN(GREATER_EQUAL),
    PLAIN(EQUAL),
    PLAIN(NOT_EQUAL),
    PLAIN(SELECT_V2),
    PLAIN(RSQRT),
    PLAIN(SQRT),
    PLAIN(EXP),
    PLAIN(LOG),
    PLAIN(ABS),
    PLAIN(NEG),
    PLAIN(RELU),
    PLAIN(RELU6),
    PLAIN(RELU_N1_TO_1),
    WITH(LEAKY_RELU, LEAKY_RELU, "LeakyReluOptions", parse_leaky_relu,
         kiln_leaky_relu_attrs),
    PLAIN(LOGISTIC),
    PLAIN(TANH),
    PLAIN(HARD_SWISH),
    WITH(GELU, GELU, "GeluOptions", parse_gelu, kiln_gelu_attrs),
    PLAIN(CAST),
    PLAIN(DEQUANTIZE),
    PLAIN(QUANTIZE),
    WITH(SOFTMAX, SOFTMAX, "SoftmaxOptions", parse_softmax, kiln_softmax_attrs),
    PLAIN(LOG_SOFTMAX),
    WITH(L2_NORMALIZATION, L2_NORM, "L2NormOptions", parse_activation,
         kiln_activation_attrs),
    WITH(MEAN, REDUCER, "ReducerOptions", parse_reducer, kiln_reduce_attrs),
    WITH(SUM, REDUCER, "ReducerOptions", parse_reducer, kiln_reduce_attrs),
    WITH(REDUCE_MAX, REDUCER, "ReducerOptions", parse_reducer,
         kiln_reduce_attrs),
    PLAIN(ARG_MAX),
    WITH(AVERAGE_POOL_2D, POOL2D, "Pool2DOptions", parse_pool_2d,
         kiln_pool_attrs),
    WITH(MAX_POOL_2D, POOL2D, "Pool2DOptions", parse_pool_2d, kiln_pool_attrs),
    WITH(RESIZE_BILINEAR, RESIZE_BILINEAR, "ResizeBilinearOptions",
         parse_resize_bilinear, kiln_resize_attrs),
    WITH(RESIZE_NEAREST_NEIGHBOR, RESIZE_NEAREST_NEIGHBOR,
         "ResizeNearestNeighborOptions", parse_resize_nearest,
         kiln_resize_attrs),
    WITH(RESHAPE, RESHAPE, "ReshapeOptions", parse_reshape, kiln_reshape_attrs),
    WITH(SQUEEZE, SQUEEZE, "SqueezeOptions", parse_squeeze, kiln_squeeze_attrs),
    PLAIN(EXPAND_DIMS),
    PLAIN(SHAPE),
    WITH(CONCATENATION, CONCATENATION, "ConcatenationOptions",
         parse_concatenation, kiln_concat_attrs),
    WITH(PACK, PACK, "PackOptions", parse_pack, kiln_pack_attrs),
    WITH(UNPACK, UNPACK, "UnpackOptions", parse_pack, kiln_pack_attrs),
    WITH(SPLIT, SPLIT, "SplitOptions", parse_split, kiln_split_attrs),
    WITH(SPLIT_V, SPLIT_V, "SplitVOptions", parse_split, kiln_split_attrs),
    PLAIN(PAD),
    PLAIN(PADV2),
    WITH(MIRROR_PAD, MIRROR_PAD, "MirrorPadOptions", parse_mirror_pad,
         kiln_mirror_pad_attrs),
    PLAIN(TRANSPOSE),
    PLAIN(SLICE),
    WITH(STRIDED_SLICE, STRIDED_SLICE, "StridedSliceOptions",
         parse_strided_slice, kiln_strided_slice_attrs),
    WITH(GATHER, GATHER, "GatherOptions", parse_gather, kiln_gather_attrs),
    PLAIN(TILE),
    PLAIN(BROADCAST_TO),
    /* added for issue 9: recurrent */
    WITH(LSTM, LSTM, "LSTMOptions", parse_lstm, kiln_lstm_attrs),
    WITH(UNIDIRECTIONAL_SEQUENCE_LSTM, UNIDIRECTIONAL_SEQUENCE_LSTM,
         "UnidirectionalSequenceLSTMOptions", parse_unidirectional_lstm,
         kiln_lstm_attrs),
    WITH(BIDIRECTIONAL_SEQUENCE_LSTM, BIDIRECTIONAL_SEQUENCE_LSTM,
         "BidirectionalSequenceLSTMOptions", parse_bidirectional_lstm,
         kiln_lstm_attrs),
    WITH(RNN, RNN, "RNNOptions", parse_rnn, kiln_rnn_attrs),
    WITH(UNIDIRECTIONAL_SEQUENCE_RNN, UNIDIRECTIONAL_SEQUENCE_RNN,
         "SequenceRNNOptions", parse_sequence_rnn, kiln_rnn_attrs),
    WITH(BIDIRECTIONAL_SEQUENCE_RNN, BIDIRECTIONAL_SEQUENCE_RNN,
         "BidirectionalSequenceRNNOptions", parse_bidirectional_rnn,
         kiln_rnn_attrs),
    WITH(SVDF, SVDF, "SVDFOptions", parse_svdf, kiln_svdf_attrs),

    /* added for issue 9: math, logical, reductions */
    PLAIN(SQUARE),
    PLAIN(SIN),
    PLAIN(COS),
    PLAIN(FLOOR),
    PLAIN(CEIL),
    PLAIN(ROUND),
    PLAIN(ELU),
    PLAIN(SIGN),
    PLAIN(ZEROS_LIKE),
    PLAIN(FLOOR_DIV),
    PLAIN(FLOOR_MOD),
    PLAIN(ATAN2),
    PLAIN(BITWISE_XOR),
    PLAIN(RIGHT_SHIFT),
    PLAIN(ADD_N),
    PLAIN(LOGICAL_AND),
    PLAIN(LOGICAL_OR),
    PLAIN(LOGICAL_NOT),
    PLAIN(SELECT),
    WITH(REDUCE_PROD, REDUCER, "ReducerOptions", parse_reducer,
         kiln_reduce_attrs),
    WITH(REDUCE_MIN, REDUCER, "ReducerOptions", parse_reducer,
         kiln_reduce_attrs),
    WITH(REDUCE_ANY, REDUCER, "ReducerOptions", parse_reducer,
         kiln_reduce_attrs),
    WITH(REDUCE_ALL, REDUCER, "ReducerOptions", parse_reducer,
         kiln_reduce_attrs),
    PLAIN(ARG_MIN),
    WITH(CUMSUM, CUMSUM, "CumsumOptions", parse_cumsum, kiln_cumsum_attrs),
    PLAIN(FILL),
    PLAIN(RANGE),
    PLAIN(BITCAST),

    /* added for issue 9: data movement and indexing */
    PLAIN(SPACE_TO_BATCH_ND),
    PLAIN(BATCH_TO_SPACE_ND),
    WITH(DEPTH_TO_SPACE, DEPTH_TO_SPACE, "DepthToSpaceOptions",
         parse_block_size, kiln_block_size_attrs),
    WITH(SPACE_TO_DEPTH, SPACE_TO_DEPTH, "SpaceToDepthOptions",
         parse_block_size, kiln_block_size_attrs),
    PLAIN(GATHER_ND),
    PLAIN(SCATTER_ND),
    PLAIN(DYNAMIC_UPDATE_SLICE),
    WITH(ONE_HOT, ONE_HOT, "OneHotOptions", parse_one_hot, kiln_one_hot_attrs),
    PLAIN(EMBEDDING_LOOKUP),
    PLAIN(SPARSE_TO_DENSE),
    PLAIN(BROADCAST_ARGS),
    PLAIN(REVERSE_V2),
    PLAIN(TOPK_V2),
    PLAIN(MATRIX_DIAG),
    PLAIN(MATRIX_SET_DIAG),
    PLAIN(SEGMENT_SUM),
    PLAIN(UNSORTED_SEGMENT_SUM),
    PLAIN(UNSORTED_SEGMENT_PROD),
    PLAIN(UNSORTED_SEGMENT_MAX),
    PLAIN(UNSORTED_SEGMENT_MIN),
    PLAIN(WHERE),
    PLAIN(UNIQUE),
    WITH(L2_POOL_2D, POOL2D, "Pool2DOptions", parse_pool_2d, kiln_pool_attrs),
    WITH(LOCAL_RESPONSE_NORMALIZATION, LOCAL_RESPONSE_NORMALIZATION,
         "LocalResponseNormalizationOptions", parse_lrn, kiln_lrn_attrs),

    PLAIN(DENSIFY),

    /* added for issue 9: remaining builtins */
    PLAIN(RFFT2D), /* Rfft2dOptions is empty */
    PLAIN(COMPLEX_ABS),
    PLAIN(REAL),
    PLAIN(IMAG),
    WITH(BUCKETIZE, BUCKETIZE, "BucketizeOptions", parse_bucketize,
         kiln_bucketize_attrs),
    PLAIN(NON_MAX_SUPPRESSION_V4),
    PLAIN(NON_MAX_SUPPRESSION_V5),
    PLAIN(STABLEHLO_ADD),
    PLAIN(STABLEHLO_MULTIPLY),
    PLAIN(STABLEHLO_MAXIMUM),
    PLAIN(STABLEHLO_MINIMUM),
    PLAIN(STABLEHLO_AND),
    PLAIN(STABLEHLO_SHIFT_LEFT),
    PLAIN(HASHTABLE_LOOKUP),
    WITH(FAKE_QUANT, FAKE_QUANT, "FakeQuantOptions", parse_fake_quant,
         kiln_fake_quant_attrs),
    PLAIN(DILATE), /* DilateOptions is empty */
    WITH(EMBEDDING_LOOKUP_SPARSE, EMBEDDING_LOOKUP_SPARSE,
         "EmbeddingLookupSparseOptions", parse_embedding_sparse,
         kiln_embedding_sparse_attrs),
    WITH(REDUCE_WINDOW, REDUCE_WINDOW, "ReduceWindowOptions",
         parse_reduce_window, kiln_reduce_window_attrs),
    WITH(STABLEHLO_PAD, STABLEHLO_PAD, "StablehloPadOptions",
         parse_stablehlo_pad, kiln_stablehlo_pad_attrs),
    WITH(STABLEHLO_GATHER, STABLEHLO_GATHER, "StablehloGatherOptions",
         parse_stablehlo_gather, kiln_stablehlo_gather_attrs),
    WITH(STABLEHLO_REDUCE_WINDOW, STABLEHLO_REDUCE_WINDOW,
         "StablehloReduceWindowOptions", parse_stablehlo_reduce_window,
         kiln_stablehlo_reduce_window_attrs),
    WITH(STABLEHLO_SCATTER, STABLEHLO_SCATTER, "StablehloScatterOptions",
         parse_stablehlo_scatter, kiln_stablehlo_scatter_attrs),
    WITH(STABLEHLO_CASE, STABLEHLO_CASE, "StablehloCaseOptions",
         parse_stablehlo_case, kiln_stablehlo_case_attrs),
    WITH(STABLEHLO_COMPOSITE, STABLEHLO_COMPOSITE, "StableHLOCompositeOptions",
         parse_stablehlo_composite, kiln_stablehlo_composite_attrs),

    /* added for issue 9: random numbers and hashing */
    WITH(RANDOM_UNIFORM, RANDOM, "RandomOptions", parse_random,
         kiln_random_attrs),
    WITH(RANDOM_STANDARD_NORMAL, RANDOM, "RandomOptions", parse_random,
         kiln_random_attrs),
    WITH(MULTINOMIAL, RANDOM, "RandomOptions", parse_random, kiln_random_attrs),
    WITH(STABLEHLO_RNG_BIT_GENERATOR, STABLEHLO_RNG_BIT_GENERATOR,
         "StablehloRngBitGeneratorOptions", parse_rng_bit_generator,
         kiln_rng_bit_generator_attrs),
    WITH(LSH_PROJECTION, LSH_PROJECTION, "LSHProjectionOptions",
         parse_lsh_projection, kiln_lsh_projection_attrs),
    /* added for issue 9: new operators */
    PLAIN(RANK),
    PLAIN(RELU_0_TO_1),
    WITH(REVERSE_SEQUENCE, REVERSE_SEQUENCE, "ReverseSequenceOptions",
         parse_reverse_sequence, kiln_reverse_sequence_attrs),
    WITH(CONV_3D, CONV3D, "Conv3DOptions", parse_conv3d, kiln_conv3d_attrs),
    WITH(CONV_3D_TRANSPOSE, CONV3D, "Conv3DOptions", parse_conv3d,
         kiln_conv3d_attrs),

    /* control flow over other subgraphs, and resource variables */
    WITH(WHILE, WHILE, "WhileOptions", parse_while, kiln_while_attrs),
    WITH(IF, IF, "IfOptions", parse_if, kiln_if_attrs),
    WITH(CALL_ONCE, CALL_ONCE, "CallOnceOptions", parse_call_once,
         kiln_call_once_attrs),
    WITH(VAR_HANDLE, VAR_HANDLE, "VarHandleOptions", parse_var_handle,
         kiln_var_handle_attrs),
    PLAIN(READ_VARIABLE),
    PLAIN(ASSIGN_VARIABLE),
    WITH(HASHTABLE, HASHTABLE, "HashtableOptions", parse_hashtable,
         kiln_hashtable_attrs),
    PLAIN(HASHTABLE_FIND),
    PLAIN(HASHTABLE_IMPORT),
    PLAIN(HASHTABLE_SIZE),
    /* Custom operators: the importer resolves the custom code and fills
     * the attributes itself (core/custom_op.h). */
    {TFL_OP_CUSTOM, KILN_OP_CUSTOM, TFL_OPT_NONE, NULL, NULL,
     sizeof(kiln_custom_attrs)},
};

const kiln_tflite_op *kiln_tflite_find_op(int32_t code) {
  for (size_t i = 0; i < sizeof op_map / sizeof op_map[0]; i++)
    if (op_map[i].code == code) return &op_map[i];
  return NULL;
}

kiln_status *kiln_tflite_read_options(const kiln_tflite_op *map,
                                      const kiln_fb_table *op_table,
                                      void *attrs) {
  if (map->attrs_size != kiln_op_table[map->op].attrs_size)
    return kiln_error(KILN_ERR_INTERNAL,
                      "the TFLite mapping of %s fills %zu attribute bytes but "
                      "the operator has %zu",
                      kiln_op_table[map->op].name, map->attrs_size,
                      kiln_op_table[map->op].attrs_size);
  if (!map->parse) return NULL;
  uint8_t type;
  kiln_fb_table options;
  /* added for issue 9: options in the second union (BuiltinOptions2) */
  bool second = map->options_type >= TFL_OPT2_BASE;
  unsigned want =
      second ? map->options_type - TFL_OPT2_BASE : map->options_type;
  KILN_TRY(kiln_fb_union_field(
      op_table,
      second ? TFL_OPERATOR_BUILTIN_OPTIONS_2_TYPE
             : TFL_OPERATOR_BUILTIN_OPTIONS_TYPE,
      second ? TFL_OPERATOR_BUILTIN_OPTIONS_2 : TFL_OPERATOR_BUILTIN_OPTIONS,
      map->options_name, &type, &options));
  /* Absent options read as the schema's defaults (an empty table); options
   * of another type would be misread, so they are an error. */
  if (type != TFL_OPT_NONE && type != want)
    return INVALID("builtin options%s have union type %u, expected %s (%u)",
                   second ? " 2" : "", type, map->options_name, want);
  return map->parse(&options, attrs);
}
