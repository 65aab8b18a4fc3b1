/* op_list.h - THE operator table: one line per operator kiln runs.
 *
 * KILN_OP(ID, attrs struct, shape function, reference kernel, flop count)
 *
 * Adding an operator means one line here, the three functions (declared
 * in kernels/kernel.h by the KILN_OP expansion, defined beside the
 * reference kernel in src/kernels/ref/), the importer's mapping, and a
 * test. Include this file with KILN_OP defined; it undefines nothing. */

/* convolution and matrix products (ref/conv.c, ref/matmul.c) */
KILN_OP(CONV_2D, kiln_conv_attrs, kiln_shape_conv_2d, kiln_ref_conv_2d, kiln_flops_conv_2d)
KILN_OP(DEPTHWISE_CONV_2D, kiln_conv_attrs, kiln_shape_depthwise_conv_2d, kiln_ref_depthwise_conv_2d, kiln_flops_depthwise_conv_2d)
KILN_OP(TRANSPOSE_CONV, kiln_conv_attrs, kiln_shape_transpose_conv, kiln_ref_transpose_conv, kiln_flops_transpose_conv)
KILN_OP(FULLY_CONNECTED, kiln_fully_connected_attrs, kiln_shape_fully_connected, kiln_ref_fully_connected, kiln_flops_fully_connected)
KILN_OP(BATCH_MATMUL, kiln_batch_matmul_attrs, kiln_shape_batch_matmul, kiln_ref_batch_matmul, kiln_flops_batch_matmul)

/* binary elementwise with broadcasting (ref/binary.c) */
KILN_OP(ADD, kiln_activation_attrs, kiln_shape_binary_arith, kiln_ref_add, kiln_flops_per_output)
KILN_OP(SUB, kiln_activation_attrs, kiln_shape_binary_arith, kiln_ref_sub, kiln_flops_per_output)
KILN_OP(MUL, kiln_activation_attrs, kiln_shape_binary_arith, kiln_ref_mul, kiln_flops_per_output)
KILN_OP(DIV, kiln_activation_attrs, kiln_shape_div, kiln_ref_div, kiln_flops_per_output)
KILN_OP(MAXIMUM, kiln_no_attrs, kiln_shape_binary, kiln_ref_maximum, kiln_flops_per_output)
KILN_OP(MINIMUM, kiln_no_attrs, kiln_shape_binary, kiln_ref_minimum, kiln_flops_per_output)
KILN_OP(SQUARED_DIFFERENCE, kiln_no_attrs, kiln_shape_squared_difference, kiln_ref_squared_difference, kiln_flops_per_output)
KILN_OP(POW, kiln_no_attrs, kiln_shape_binary_float, kiln_ref_pow, kiln_flops_per_output)
KILN_OP(PRELU, kiln_no_attrs, kiln_shape_prelu, kiln_ref_prelu, kiln_flops_per_output)
KILN_OP(LESS, kiln_no_attrs, kiln_shape_compare, kiln_ref_less, kiln_flops_per_output)
KILN_OP(LESS_EQUAL, kiln_no_attrs, kiln_shape_compare, kiln_ref_less_equal, kiln_flops_per_output)
KILN_OP(GREATER, kiln_no_attrs, kiln_shape_compare, kiln_ref_greater, kiln_flops_per_output)
KILN_OP(GREATER_EQUAL, kiln_no_attrs, kiln_shape_compare, kiln_ref_greater_equal, kiln_flops_per_output)
KILN_OP(EQUAL, kiln_no_attrs, kiln_shape_compare, kiln_ref_equal, kiln_flops_per_output)
KILN_OP(NOT_EQUAL, kiln_no_attrs, kiln_shape_compare, kiln_ref_not_equal, kiln_flops_per_output)
KILN_OP(SELECT_V2, kiln_no_attrs, kiln_shape_select_v2, kiln_ref_select_v2, kiln_flops_none)

/* unary elementwise (ref/unary.c) */
KILN_OP(RSQRT, kiln_no_attrs, kiln_shape_rsqrt, kiln_ref_rsqrt, kiln_flops_per_output)
KILN_OP(SQRT, kiln_no_attrs, kiln_shape_unary_float, kiln_ref_sqrt, kiln_flops_per_output)
KILN_OP(EXP, kiln_no_attrs, kiln_shape_exp, kiln_ref_exp, kiln_flops_per_output)
KILN_OP(LOG, kiln_no_attrs, kiln_shape_log, kiln_ref_log, kiln_flops_per_output)
KILN_OP(ABS, kiln_no_attrs, kiln_shape_abs, kiln_ref_abs, kiln_flops_per_output)
KILN_OP(NEG, kiln_no_attrs, kiln_shape_unary_signed, kiln_ref_neg, kiln_flops_per_output)
KILN_OP(RELU, kiln_no_attrs, kiln_shape_relu, kiln_ref_relu, kiln_flops_per_output)
KILN_OP(RELU6, kiln_no_attrs, kiln_shape_relu6, kiln_ref_relu6, kiln_flops_per_output)
KILN_OP(RELU_N1_TO_1, kiln_no_attrs, kiln_shape_relu_n1_to_1, kiln_ref_relu_n1_to_1, kiln_flops_per_output)
KILN_OP(LEAKY_RELU, kiln_leaky_relu_attrs, kiln_shape_leaky_relu, kiln_ref_leaky_relu, kiln_flops_per_output)
KILN_OP(LOGISTIC, kiln_no_attrs, kiln_shape_logistic, kiln_ref_logistic, kiln_flops_per_output)
KILN_OP(TANH, kiln_no_attrs, kiln_shape_tanh, kiln_ref_tanh, kiln_flops_per_output)
KILN_OP(HARD_SWISH, kiln_no_attrs, kiln_shape_hard_swish, kiln_ref_hard_swish, kiln_flops_per_output)
KILN_OP(GELU, kiln_gelu_attrs, kiln_shape_gelu, kiln_ref_gelu, kiln_flops_per_output)
KILN_OP(CAST, kiln_no_attrs, kiln_shape_cast, kiln_ref_cast, kiln_flops_none)
KILN_OP(DEQUANTIZE, kiln_no_attrs, kiln_shape_dequantize, kiln_ref_dequantize, kiln_flops_none)
KILN_OP(QUANTIZE, kiln_no_attrs, kiln_shape_quantize, kiln_ref_quantize, kiln_flops_none)

/* normalization and reductions (ref/reduce.c) */
KILN_OP(SOFTMAX, kiln_softmax_attrs, kiln_shape_softmax_q, kiln_ref_softmax, kiln_flops_per_output)
KILN_OP(LOG_SOFTMAX, kiln_no_attrs, kiln_shape_softmax, kiln_ref_log_softmax, kiln_flops_per_output)
KILN_OP(L2_NORMALIZATION, kiln_activation_attrs, kiln_shape_l2_normalization, kiln_ref_l2_normalization, kiln_flops_per_output)
KILN_OP(MEAN, kiln_reduce_attrs, kiln_shape_reduce, kiln_ref_mean, kiln_flops_per_input)
KILN_OP(SUM, kiln_reduce_attrs, kiln_shape_reduce, kiln_ref_sum, kiln_flops_per_input)
KILN_OP(REDUCE_MAX, kiln_reduce_attrs, kiln_shape_reduce_max, kiln_ref_reduce_max, kiln_flops_per_input)
KILN_OP(ARG_MAX, kiln_no_attrs, kiln_shape_arg_max, kiln_ref_arg_max, kiln_flops_per_input)

/* pooling and resizing (ref/pool.c, ref/resize.c) */
KILN_OP(AVERAGE_POOL_2D, kiln_pool_attrs, kiln_shape_pool_2d, kiln_ref_average_pool_2d, kiln_flops_pool_2d)
KILN_OP(MAX_POOL_2D, kiln_pool_attrs, kiln_shape_pool_2d, kiln_ref_max_pool_2d, kiln_flops_pool_2d)
KILN_OP(RESIZE_BILINEAR, kiln_resize_attrs, kiln_shape_resize_bilinear, kiln_ref_resize_bilinear, kiln_flops_per_output)
KILN_OP(RESIZE_NEAREST_NEIGHBOR, kiln_resize_attrs, kiln_shape_resize, kiln_ref_resize_nearest_neighbor, kiln_flops_none)

/* shape and data movement (ref/shape_ops.c, ref/slice.c, ref/pad.c ...) */
KILN_OP(RESHAPE, kiln_reshape_attrs, kiln_shape_reshape, kiln_ref_copy, kiln_flops_none)
KILN_OP(SQUEEZE, kiln_squeeze_attrs, kiln_shape_squeeze, kiln_ref_copy, kiln_flops_none)
KILN_OP(EXPAND_DIMS, kiln_no_attrs, kiln_shape_expand_dims, kiln_ref_copy, kiln_flops_none)
KILN_OP(SHAPE, kiln_no_attrs, kiln_shape_shape, kiln_ref_shape, kiln_flops_none)
KILN_OP(CONCATENATION, kiln_concat_attrs, kiln_shape_concatenation, kiln_ref_concatenation, kiln_flops_none)
KILN_OP(PACK, kiln_pack_attrs, kiln_shape_pack, kiln_ref_pack, kiln_flops_none)
KILN_OP(UNPACK, kiln_pack_attrs, kiln_shape_unpack, kiln_ref_unpack, kiln_flops_none)
KILN_OP(SPLIT, kiln_split_attrs, kiln_shape_split, kiln_ref_split, kiln_flops_none)
KILN_OP(SPLIT_V, kiln_split_attrs, kiln_shape_split_v, kiln_ref_split_v, kiln_flops_none)
KILN_OP(PAD, kiln_no_attrs, kiln_shape_pad, kiln_ref_pad, kiln_flops_none)
KILN_OP(PADV2, kiln_no_attrs, kiln_shape_pad, kiln_ref_pad, kiln_flops_none)
KILN_OP(MIRROR_PAD, kiln_mirror_pad_attrs, kiln_shape_mirror_pad, kiln_ref_mirror_pad, kiln_flops_none)
KILN_OP(TRANSPOSE, kiln_no_attrs, kiln_shape_transpose, kiln_ref_transpose, kiln_flops_none)
KILN_OP(SLICE, kiln_no_attrs, kiln_shape_slice, kiln_ref_slice, kiln_flops_none)
KILN_OP(STRIDED_SLICE, kiln_strided_slice_attrs, kiln_shape_strided_slice, kiln_ref_strided_slice, kiln_flops_none)
KILN_OP(GATHER, kiln_gather_attrs, kiln_shape_gather, kiln_ref_gather, kiln_flops_none)
KILN_OP(TILE, kiln_no_attrs, kiln_shape_tile, kiln_ref_tile, kiln_flops_none)
KILN_OP(BROADCAST_TO, kiln_no_attrs, kiln_shape_broadcast_to, kiln_ref_broadcast_to, kiln_flops_none)

/* Internal operators, made by load-time passes and never read from a file;
 * they stay last (ops.h: KILN_OP_FIRST_INTERNAL). ref/bottleneck.c */
KILN_OP(FUSED_BOTTLENECK, kiln_bottleneck_attrs, kiln_shape_fused_bottleneck, kiln_ref_fused_bottleneck, kiln_flops_fused_bottleneck)
