/* op_attrs.h - the attribute struct of every operator, independent of the
 * file format it came from. Importers fill these; shape functions and kernels
 * read them. Semantics follow TensorFlow Lite's builtin options. */
#ifndef KILN_CORE_OP_ATTRS_H
#define KILN_CORE_OP_ATTRS_H

#include <stdbool.h>
#include <stdint.h>

#include "kiln.h"

/* Activation fused into an operator's output. 0..5 are TFLite's numbering,
 * the only values a file may carry (the importer rejects the rest). 16..18
 * are kiln's own, put there only by the passes (fuse_activation.c folds the
 * standalone ops into their producer), numbered well apart from TFLite's so
 * that a later TFLite value can never be mistaken for one of them:
 *   HARD_SWISH  x * relu6(x + 3) / 6, as the HARD_SWISH op
 *   LOGISTIC    1 / (1 + e^-x), as the LOGISTIC op
 *   SWISH       x * logistic(x), as MUL(x, LOGISTIC(x)) */
typedef enum kiln_activation {
  KILN_ACT_NONE = 0,
  KILN_ACT_RELU = 1,
  KILN_ACT_RELU_N1_TO_1 = 2,
  KILN_ACT_RELU6 = 3,
  KILN_ACT_TANH = 4,
  KILN_ACT_SIGN_BIT = 5,
  KILN_ACT_HARD_SWISH = 16,
  KILN_ACT_LOGISTIC = 17,
  KILN_ACT_SWISH = 18,
} kiln_activation;

/* SAME pads so that out = ceil(in / stride), the extra row/column going to
 * the end; VALID does not pad. */
typedef enum kiln_padding {
  KILN_PAD_SAME = 0,
  KILN_PAD_VALID = 1,
} kiln_padding;

/* Ops with no attributes. */
typedef struct kiln_no_attrs {
  char unused;
} kiln_no_attrs;

/* ADD, SUB, MUL, DIV, L2_NORMALIZATION. */
typedef struct kiln_activation_attrs {
  kiln_activation activation;
} kiln_activation_attrs;

/* CONV_2D, DEPTHWISE_CONV_2D, TRANSPOSE_CONV.
 * CONV_2D: input NHWC, filter [O,H,W,I/groups], optional bias [O].
 * DEPTHWISE_CONV_2D: filter [1,H,W,I*depth_multiplier].
 * TRANSPOSE_CONV: inputs (output_shape int32[4], filter [O,H,W,I], input,
 *   optional bias [O]); dilation is always 1. */
typedef struct kiln_conv_attrs {
  kiln_padding padding;
  int stride_h, stride_w;
  int dilation_h, dilation_w;
  int depth_multiplier; /* depthwise only; 0 = infer from shapes */
  kiln_activation activation;
} kiln_conv_attrs;

/* AVERAGE_POOL_2D, MAX_POOL_2D (input NHWC). */
typedef struct kiln_pool_attrs {
  kiln_padding padding;
  int stride_h, stride_w;
  int filter_h, filter_w;
  kiln_activation activation;
} kiln_pool_attrs;

/* FULLY_CONNECTED: input [..., K] (flattened to [-1, K] unless
 * keep_num_dims), weights [N, K], optional bias [N]. */
typedef struct kiln_fully_connected_attrs {
  kiln_activation activation;
  bool keep_num_dims;
  /* Hybrid (float input, int8 weights): quantize each input row with a
   * zero point rather than symmetrically. */
  bool asymmetric_quantize_inputs;
  /* TFLite's quantized_bias_type (a TensorType code, 0 when the file gives
   * none): LiteRT picks its int16 accumulation by it, so a file kiln
   * writes back must keep it. */
  int8_t quantized_bias_type;
} kiln_fully_connected_attrs;

/* BATCH_MATMUL: x [..., M, K] (adj_x: [..., K, M]), y likewise, batch
 * dimensions broadcast. */
typedef struct kiln_batch_matmul_attrs {
  bool adj_x, adj_y;
  bool asymmetric_quantize_inputs; /* hybrid only, as FULLY_CONNECTED's */
} kiln_batch_matmul_attrs;

/* LEAKY_RELU. */
typedef struct kiln_leaky_relu_attrs {
  float alpha;
} kiln_leaky_relu_attrs;

/* GELU: tanh approximation when approximate, exact erf form otherwise. */
typedef struct kiln_gelu_attrs {
  bool approximate;
} kiln_gelu_attrs;

/* SOFTMAX over the last axis: exp(beta*x) / sum. */
typedef struct kiln_softmax_attrs {
  float beta;
} kiln_softmax_attrs;

/* MEAN, SUM, REDUCE_MAX: inputs (data, axes int32/int64 tensor). */
typedef struct kiln_reduce_attrs {
  bool keep_dims;
} kiln_reduce_attrs;

/* RESHAPE: the target shape comes from input 1 when present; otherwise from
 * new_shape (TFLite's option). At most one dimension may be -1. */
typedef struct kiln_reshape_attrs {
  int num_dims; /* -1 when the option is absent */
  int32_t new_shape[8];
} kiln_reshape_attrs;

/* SQUEEZE: num_axes == 0 removes every dimension of size 1. */
typedef struct kiln_squeeze_attrs {
  int num_axes;
  int32_t axes[8];
} kiln_squeeze_attrs;

/* CONCATENATION (axis may be negative). */
typedef struct kiln_concat_attrs {
  int axis;
  kiln_activation activation;
} kiln_concat_attrs;

/* PACK (values_count inputs) and UNPACK (num outputs) along axis. */
typedef struct kiln_pack_attrs {
  int count;
  int axis;
} kiln_pack_attrs;

/* SPLIT: inputs (axis int32 scalar, data). SPLIT_V: inputs (data,
 * size_splits, axis). num_splits outputs. */
typedef struct kiln_split_attrs {
  int num_splits;
} kiln_split_attrs;

/* MIRROR_PAD: REFLECT excludes the edge, SYMMETRIC repeats it. */
typedef enum kiln_mirror_mode {
  KILN_MIRROR_REFLECT = 0,
  KILN_MIRROR_SYMMETRIC = 1,
} kiln_mirror_mode;

typedef struct kiln_mirror_pad_attrs {
  kiln_mirror_mode mode;
} kiln_mirror_pad_attrs;

/* STRIDED_SLICE: inputs (data, begin, end, strides); masks are bit sets
 * over the spec dimensions as in tf.strided_slice. offset: end is relative
 * to begin. */
typedef struct kiln_strided_slice_attrs {
  int32_t begin_mask, end_mask, ellipsis_mask, new_axis_mask, shrink_axis_mask;
  bool offset;
} kiln_strided_slice_attrs;

/* GATHER: inputs (params, indices). */
typedef struct kiln_gather_attrs {
  int axis;
  int batch_dims;
} kiln_gather_attrs;

/* RESIZE_BILINEAR, RESIZE_NEAREST_NEIGHBOR: inputs (NHWC data, size
 * int32[2]). */
typedef struct kiln_resize_attrs {
  bool align_corners;
  bool half_pixel_centers;
} kiln_resize_attrs;

/* FUSED_BOTTLENECK, an operator only passes/fuse_bottleneck.c makes: the
 * [1x1 CONV_2D "expand" ->] DEPTHWISE_CONV_2D -> 1x1 CONV_2D "project"
 * chain of MobileNet's blocks as one node, so that the wide intermediate
 * tensors never go through memory. Inputs: x [N,H,W,C], expand filter
 * [M,1,1,C] and bias [M] (both omitted in the depthwise-separable form,
 * where M = C), depthwise filter [1,KH,KW,M] and bias [M], project filter
 * [O,1,1,M] and bias [O]; biases are optional. The 1x1 stages have stride
 * 1; `depthwise` holds the window (depth multiplier 1). */
typedef struct kiln_bottleneck_attrs {
  kiln_activation expand_activation;
  kiln_conv_attrs depthwise;
  kiln_activation project_activation;
  /* int8 chains (passes/fuse_qbottleneck.c): the per-tensor quantization
   * of the two tensors the node swallows, the expand's output and the
   * depthwise's, which the stages requantize to exactly as the three
   * operators did. Without an expand stage `expanded` is unused. */
  bool quantized;
  float expanded_scale, depthwise_scale;
  int32_t expanded_zp, depthwise_zp;
  /* int8 only: the block's residual ADD taken in (input
   * KILN_BOTTLENECK_RESIDUAL, the block's input x): the project writes
   * the ADD's other operand at project_scale / project_zp, then the ADD
   * (with residual_activation; the residual its first operand when
   * residual_first) writes the node's output. */
  bool residual, residual_first;
  float project_scale;
  int32_t project_zp;
  kiln_activation residual_activation;
} kiln_bottleneck_attrs;

/* FUSED_BOTTLENECK's inputs, in order. */
enum {
  KILN_BOTTLENECK_X,
  KILN_BOTTLENECK_EXPAND_W,
  KILN_BOTTLENECK_EXPAND_B,
  KILN_BOTTLENECK_DW_W,
  KILN_BOTTLENECK_DW_B,
  KILN_BOTTLENECK_PROJECT_W,
  KILN_BOTTLENECK_PROJECT_B,
  KILN_BOTTLENECK_INPUTS
};
/* The optional eighth input of an int8 node with `residual`. */
enum { KILN_BOTTLENECK_RESIDUAL = KILN_BOTTLENECK_INPUTS };

/* ---- added for issue 9: recurrent (kernels/ref/lstm.c, rnn.c, svdf.c) */

/* LSTM, UNIDIRECTIONAL_SEQUENCE_LSTM and BIDIRECTIONAL_SEQUENCE_LSTM, as
 * TFLite's full-kernel LSTM: gates input, forget, cell, output; the input
 * gate may be absent (CIFG: it is 1 - forget), peephole, layer norm and
 * projection are optional. `activation` is applied to the cell gate and to
 * the cell state before the output gate multiplies it. Clips of 0 do not
 * clip. The sequence forms read [time, batch, input] when time_major, else
 * [batch, time, input]; the bidirectional form may write both directions
 * side by side into one output (merge_outputs). */
enum { KILN_LSTM_INTERMEDIATES = 5 };

typedef struct kiln_lstm_attrs {
  kiln_activation activation;
  float cell_clip, proj_clip;
  bool time_major;
  bool merge_outputs;
  bool asymmetric_quantize_inputs; /* int8 weights: as kiln_rnn_attrs */
  /* The integer LSTM's intermediate tensors (TFLite's
   * Operator.intermediates, read for LSTM and UNIDIRECTIONAL_SEQUENCE_LSTM):
   * how many the operator lists, and the per-tensor scale and zero point of
   * the first KILN_LSTM_INTERMEDIATES (scale 0: not quantized). They carry
   * the gates' scales under layer norm and the hidden state's (the gated
   * output before projection) always. */
  int num_intermediates;
  float intermediate_scale[KILN_LSTM_INTERMEDIATES];
  int32_t intermediate_zp[KILN_LSTM_INTERMEDIATES];
} kiln_lstm_attrs;

/* RNN, UNIDIRECTIONAL_SEQUENCE_RNN and BIDIRECTIONAL_SEQUENCE_RNN:
 * h = activation(W x + R h + b) per step. With int8 weights (the hybrid
 * form) each row of data is quantized first, with a zero point when
 * asymmetric_quantize_inputs. */
typedef struct kiln_rnn_attrs {
  kiln_activation activation;
  bool time_major;
  bool merge_outputs;
  bool asymmetric_quantize_inputs;
} kiln_rnn_attrs;

/* SVDF: `rank` filters per output unit over a memory of past features;
 * int8 weights (hybrid) as kiln_rnn_attrs. */
typedef struct kiln_svdf_attrs {
  int rank;
  kiln_activation activation;
  bool asymmetric_quantize_inputs;
} kiln_svdf_attrs;

/* added for issue 9: math, logical, reductions */
/* CUMSUM: exclusive sums leave the current element out; reverse runs from
 * the end of the axis. */
typedef struct kiln_cumsum_attrs {
  bool exclusive;
  bool reverse;
} kiln_cumsum_attrs;

/* ---- added for issue 9: data movement and indexing ---- */

/* DEPTH_TO_SPACE, SPACE_TO_DEPTH (NHWC, TensorFlow's DCR order). */
typedef struct kiln_block_size_attrs {
  int block_size;
} kiln_block_size_attrs;

/* ONE_HOT: inputs (indices, depth, on_value, off_value); the new axis
 * (-1: last). */
typedef struct kiln_one_hot_attrs {
  int axis;
} kiln_one_hot_attrs;

/* LOCAL_RESPONSE_NORMALIZATION over the last axis, TFLite's form:
 * out = in / (bias + alpha * sum of squares within radius)^beta. */
typedef struct kiln_lrn_attrs {
  int radius;
  float bias, alpha, beta;
} kiln_lrn_attrs;

/* CUSTOM: an operator registered through kiln_op_registry (kiln.h) or
 * one of kiln's built-in custom operators; the node record (the
 * registration, the custom_options bytes and the state init made) is owned
 * by the graph (core/custom_op.h). */
struct kiln_custom_node;
typedef struct kiln_custom_attrs {
  const struct kiln_custom_node *node;
} kiln_custom_attrs;

/* ---- added for issue 9: remaining builtins ---- */

/* BUCKETIZE: `count` ascending boundaries, little-endian float32s read in
 * place from the model's bytes (which outlive the graph), unaligned. */
typedef struct kiln_bucketize_attrs {
  const unsigned char *boundaries;
  int32_t count;
} kiln_bucketize_attrs;

/* Control flow and resource variables (runtime/control_flow.c). Subgraph
 * indices are the file's; the importer checks them against the subgraphs
 * it read, and the model refuses recursion. */
typedef struct kiln_while_attrs {
  int cond_subgraph, body_subgraph;
} kiln_while_attrs;

typedef struct kiln_if_attrs {
  int then_subgraph, else_subgraph;
} kiln_if_attrs;

typedef struct kiln_call_once_attrs {
  int init_subgraph;
} kiln_call_once_attrs;

/* VAR_HANDLE: the variable named (container, shared_name); the strings
 * point into the model's bytes (NULL reads as ""). variable is the
 * model-wide id the loader gives each distinct name pair. */
typedef struct kiln_var_handle_attrs {
  const char *container, *shared_name;
  int variable;
} kiln_var_handle_attrs;

/* HASHTABLE: TFLite's HashtableOptions. table_id names the table (the
 * handle's value); the key and value types are int64 -> string or
 * string -> int64, the pairs LiteRT's kernels take (checked when read). */
typedef struct kiln_hashtable_attrs {
  int32_t table_id;
  kiln_dtype key_dtype, value_dtype;
} kiln_hashtable_attrs;

/* FAKE_QUANT: the float range and bit width of FakeQuantOptions
 * (narrow_range is refused when read). */
typedef struct kiln_fake_quant_attrs {
  float min, max;
  int num_bits;
} kiln_fake_quant_attrs;

/* EMBEDDING_LOOKUP_SPARSE: how each output cell combines its rows
 * (TFLite's CombinerType numbering). */
typedef enum kiln_combiner {
  KILN_COMBINER_SUM = 0,
  KILN_COMBINER_MEAN = 1,
  KILN_COMBINER_SQRTN = 2,
} kiln_combiner;
typedef struct kiln_embedding_sparse_attrs {
  kiln_combiner combiner;
} kiln_embedding_sparse_attrs;

/* REDUCE_WINDOW's reduction (TFLite's ReduceWindowFunction numbering). */
typedef enum kiln_window_function {
  KILN_WINDOW_ADD = 1,
  KILN_WINDOW_MUL = 2,
  KILN_WINDOW_MINIMUM = 3,
  KILN_WINDOW_MAXIMUM = 4,
  KILN_WINDOW_ALL = 5,
  KILN_WINDOW_ANY = 6,
} kiln_window_function;
typedef struct kiln_reduce_window_attrs {
  kiln_window_function function;
} kiln_reduce_window_attrs;

/* STABLEHLO_PAD: per dimension, values before and after (negative: crop)
 * and between neighbours (>= 0). */
typedef struct kiln_stablehlo_pad_attrs {
  int rank;
  int64_t low[8], high[8], interior[8];
} kiln_stablehlo_pad_attrs;

/* STABLEHLO_GATHER's dimension numbers (StablehloGatherOptions). */
typedef struct kiln_stablehlo_gather_attrs {
  int num_offset_dims, num_collapsed, num_start_index_map, num_slice_sizes;
  int64_t offset_dims[8], collapsed_slice_dims[8], start_index_map[8];
  int64_t slice_sizes[8];
  int64_t index_vector_dim;
} kiln_stablehlo_gather_attrs;

/* RANDOM_UNIFORM, RANDOM_STANDARD_NORMAL and MULTINOMIAL: RandomOptions'
 * two seeds (both 0: a fresh, unpredictable seed at each prepare). */
typedef struct kiln_random_attrs {
  int64_t seed, seed2;
} kiln_random_attrs;

/* STABLEHLO_RNG_BIT_GENERATOR's algorithm (TFLite's RngAlgorithm
 * numbering; DEFAULT runs PHILOX, as TFLite does). */
typedef enum kiln_rng_algorithm {
  KILN_RNG_DEFAULT = 0,
  KILN_RNG_PHILOX = 1,
  KILN_RNG_THREEFRY = 2,
} kiln_rng_algorithm;
typedef struct kiln_rng_bit_generator_attrs {
  kiln_rng_algorithm algorithm;
} kiln_rng_bit_generator_attrs;

/* LSH_PROJECTION's output form (TFLite's LSHProjectionType numbering). */
typedef enum kiln_lsh_type {
  KILN_LSH_SPARSE = 1,
  KILN_LSH_DENSE = 2,
} kiln_lsh_type;
typedef struct kiln_lsh_projection_attrs {
  kiln_lsh_type type;
} kiln_lsh_projection_attrs;
/* ---- added for issue 9: new operators (ref/conv3d.c,
 * ref/reverse_sequence.c) ---- */

/* CONV_3D: input NDHWC, filter [KD,KH,KW,I,O], optional bias [O].
 * CONV_3D_TRANSPOSE: inputs (output_shape int32[5], filter [KD,KH,KW,O,I],
 * input NDHWC, optional bias [O]). Both read TFLite's Conv3DOptions. */
typedef struct kiln_conv3d_attrs {
  kiln_padding padding;
  int stride_d, stride_h, stride_w;
  int dilation_d, dilation_h, dilation_w;
  kiln_activation activation;
} kiln_conv3d_attrs;

/* REVERSE_SEQUENCE: along batch_dim, each slice reverses its first
 * seq_lengths[b] elements along seq_dim. */
typedef struct kiln_reverse_sequence_attrs {
  int seq_dim, batch_dim;
} kiln_reverse_sequence_attrs;
/* STABLEHLO_REDUCE_WINDOW (StablehloReduceWindowOptions): per dimension of
 * the rank-`rank` input, the window's size, stride and dilation, the
 * input's (base) dilation, and padding low/high (padding[2d], [2d + 1];
 * negative crops). `function` is what the body subgraph computes, which
 * the importer recognizes (tflite_subgraphs.c); 0 until it has. */
typedef struct kiln_stablehlo_reduce_window_attrs {
  int rank;
  int64_t window[8], strides[8], base_dilations[8], window_dilations[8];
  int64_t padding[16];
  int body_subgraph;
  kiln_window_function function;
} kiln_stablehlo_reduce_window_attrs;

/* What a STABLEHLO_SCATTER's update computation does with the operand's
 * value and the update (the importer recognizes its subgraph). */
typedef enum kiln_scatter_function {
  KILN_SCATTER_UNKNOWN = 0,
  KILN_SCATTER_REPLACE, /* the subgraph returns the update */
  KILN_SCATTER_ADD,
  KILN_SCATTER_MUL,
  KILN_SCATTER_MAXIMUM,
  KILN_SCATTER_MINIMUM,
} kiln_scatter_function;

/* STABLEHLO_SCATTER's dimension numbers (StablehloScatterOptions). */
typedef struct kiln_stablehlo_scatter_attrs {
  int num_update_window_dims, num_inserted_window_dims, num_scatter_dims;
  int64_t update_window_dims[8], inserted_window_dims[8];
  int64_t scatter_dims_to_operand_dims[8];
  int64_t index_vector_dim;
  int update_subgraph;
  kiln_scatter_function function;
} kiln_stablehlo_scatter_attrs;

/* STABLEHLO_CASE: the branch subgraphs input 0 chooses among. */
#define KILN_MAX_CASE_BRANCHES 64
typedef struct kiln_stablehlo_case_attrs {
  int num_branches;
  int branches[KILN_MAX_CASE_BRANCHES];
} kiln_stablehlo_case_attrs;

/* STABLEHLO_COMPOSITE: the subgraph that computes it (name and version
 * are for messages; the attributes are not needed to run it). */
typedef struct kiln_stablehlo_composite_attrs {
  int decomposition_subgraph;
  const char *name; /* in the model's bytes; NULL reads as "" */
  int version;
} kiln_stablehlo_composite_attrs;

/* QUANT_LUT8, an operator only passes/fuse_swish8.c makes: an int8 tensor
 * mapped element by element through a table, y = table[x + 128], the
 * table holding what the reference kernels of the replaced nodes compute
 * for each of the 256 input bytes under their quantization. Input and
 * output are int8, per-tensor quantized, of one shape. */
typedef struct kiln_lut8_attrs {
  int8_t table[256];
} kiln_lut8_attrs;

#endif
