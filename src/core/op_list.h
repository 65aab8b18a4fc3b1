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
KILN_OP(MUL, kiln_activation_attrs, kiln_shape_mul, kiln_ref_mul, kiln_flops_per_output)
KILN_OP(DIV, kiln_activation_attrs, kiln_shape_div, kiln_ref_div, kiln_flops_per_output)
KILN_OP(MAXIMUM, kiln_no_attrs, kiln_shape_binary, kiln_ref_maximum, kiln_flops_per_output)
KILN_OP(MINIMUM, kiln_no_attrs, kiln_shape_binary, kiln_ref_minimum, kiln_flops_per_output)
KILN_OP(SQUARED_DIFFERENCE, kiln_no_attrs, kiln_shape_squared_difference, kiln_ref_squared_difference, kiln_flops_per_output)
KILN_OP(POW, kiln_no_attrs, kiln_shape_binary_float_int32, kiln_ref_pow, kiln_flops_per_output)
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
KILN_OP(SQRT, kiln_no_attrs, kiln_shape_sqrt, kiln_ref_sqrt, kiln_flops_per_output)
KILN_OP(EXP, kiln_no_attrs, kiln_shape_exp, kiln_ref_exp, kiln_flops_per_output)
KILN_OP(LOG, kiln_no_attrs, kiln_shape_log, kiln_ref_log, kiln_flops_per_output)
KILN_OP(ABS, kiln_no_attrs, kiln_shape_abs, kiln_ref_abs, kiln_flops_per_output)
KILN_OP(NEG, kiln_no_attrs, kiln_shape_neg, kiln_ref_neg, kiln_flops_per_output)
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
KILN_OP(LOG_SOFTMAX, kiln_no_attrs, kiln_shape_log_softmax, kiln_ref_log_softmax, kiln_flops_per_output)
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

/* added for issue 9: recurrent (ref/lstm.c, ref/rnn.c, ref/svdf.c); their
 * state inputs are variables (graph.h: is_variable) updated in place */
KILN_OP(LSTM, kiln_lstm_attrs, kiln_shape_lstm, kiln_ref_lstm, kiln_flops_lstm)
KILN_OP(UNIDIRECTIONAL_SEQUENCE_LSTM, kiln_lstm_attrs, kiln_shape_unidirectional_sequence_lstm, kiln_ref_unidirectional_sequence_lstm, kiln_flops_lstm)
KILN_OP(BIDIRECTIONAL_SEQUENCE_LSTM, kiln_lstm_attrs, kiln_shape_bidirectional_sequence_lstm, kiln_ref_bidirectional_sequence_lstm, kiln_flops_lstm)
KILN_OP(RNN, kiln_rnn_attrs, kiln_shape_rnn, kiln_ref_rnn, kiln_flops_rnn)
KILN_OP(UNIDIRECTIONAL_SEQUENCE_RNN, kiln_rnn_attrs, kiln_shape_unidirectional_sequence_rnn, kiln_ref_unidirectional_sequence_rnn, kiln_flops_rnn)
KILN_OP(BIDIRECTIONAL_SEQUENCE_RNN, kiln_rnn_attrs, kiln_shape_bidirectional_sequence_rnn, kiln_ref_bidirectional_sequence_rnn, kiln_flops_rnn)
KILN_OP(SVDF, kiln_svdf_attrs, kiln_shape_svdf, kiln_ref_svdf, kiln_flops_svdf)

/* added for issue 9: math, logical, reductions (ref/math.c, ref/logical.c,
 * ref/reduce_more.c, ref/generate.c) */
KILN_OP(SQUARE, kiln_no_attrs, kiln_shape_unary_float, kiln_ref_square, kiln_flops_per_output)
KILN_OP(SIN, kiln_no_attrs, kiln_shape_unary_float_half, kiln_ref_sin, kiln_flops_per_output)
KILN_OP(COS, kiln_no_attrs, kiln_shape_unary_float_half, kiln_ref_cos, kiln_flops_per_output)
KILN_OP(FLOOR, kiln_no_attrs, kiln_shape_unary_float_half, kiln_ref_floor, kiln_flops_per_output)
KILN_OP(CEIL, kiln_no_attrs, kiln_shape_unary_float, kiln_ref_ceil, kiln_flops_per_output)
KILN_OP(ROUND, kiln_no_attrs, kiln_shape_unary_float_half, kiln_ref_round, kiln_flops_per_output)
KILN_OP(ELU, kiln_no_attrs, kiln_shape_elu, kiln_ref_elu, kiln_flops_per_output)
KILN_OP(SIGN, kiln_no_attrs, kiln_shape_sign, kiln_ref_sign, kiln_flops_per_output)
KILN_OP(ZEROS_LIKE, kiln_no_attrs, kiln_shape_zeros_like, kiln_ref_zeros_like, kiln_flops_none)
KILN_OP(FLOOR_DIV, kiln_no_attrs, kiln_shape_floor_div, kiln_ref_floor_div, kiln_flops_per_output)
KILN_OP(FLOOR_MOD, kiln_no_attrs, kiln_shape_floor_mod, kiln_ref_floor_mod, kiln_flops_per_output)
KILN_OP(ATAN2, kiln_no_attrs, kiln_shape_atan2, kiln_ref_atan2, kiln_flops_per_output)
KILN_OP(BITWISE_XOR, kiln_no_attrs, kiln_shape_bitwise, kiln_ref_bitwise_xor, kiln_flops_per_output)
KILN_OP(RIGHT_SHIFT, kiln_no_attrs, kiln_shape_bitwise, kiln_ref_right_shift, kiln_flops_per_output)
KILN_OP(ADD_N, kiln_no_attrs, kiln_shape_add_n, kiln_ref_add_n, kiln_flops_per_input)
KILN_OP(LOGICAL_AND, kiln_no_attrs, kiln_shape_logical_binary, kiln_ref_logical_and, kiln_flops_none)
KILN_OP(LOGICAL_OR, kiln_no_attrs, kiln_shape_logical_binary, kiln_ref_logical_or, kiln_flops_none)
KILN_OP(LOGICAL_NOT, kiln_no_attrs, kiln_shape_logical_not, kiln_ref_logical_not, kiln_flops_none)
KILN_OP(SELECT, kiln_no_attrs, kiln_shape_select, kiln_ref_select, kiln_flops_none)
KILN_OP(REDUCE_PROD, kiln_reduce_attrs, kiln_shape_reduce_prod, kiln_ref_reduce_prod, kiln_flops_per_input)
KILN_OP(REDUCE_MIN, kiln_reduce_attrs, kiln_shape_reduce_min, kiln_ref_reduce_min, kiln_flops_per_input)
KILN_OP(REDUCE_ANY, kiln_reduce_attrs, kiln_shape_reduce_logical, kiln_ref_reduce_any, kiln_flops_none)
KILN_OP(REDUCE_ALL, kiln_reduce_attrs, kiln_shape_reduce_logical, kiln_ref_reduce_all, kiln_flops_none)
KILN_OP(ARG_MIN, kiln_no_attrs, kiln_shape_arg_min, kiln_ref_arg_min, kiln_flops_per_input)
KILN_OP(CUMSUM, kiln_cumsum_attrs, kiln_shape_cumsum, kiln_ref_cumsum, kiln_flops_per_input)
KILN_OP(FILL, kiln_no_attrs, kiln_shape_fill, kiln_ref_fill, kiln_flops_none)
KILN_OP(RANGE, kiln_no_attrs, kiln_shape_range, kiln_ref_range, kiln_flops_none)
KILN_OP(BITCAST, kiln_no_attrs, kiln_shape_bitcast, kiln_ref_copy, kiln_flops_none)

/* added for issue 9: data movement and indexing (ref/space_batch.c,
 * ref/gather_nd.c, ref/index_ops.c, ref/order.c, ref/diag.c,
 * ref/segment.c, ref/data_shaped.c, ref/norm_pool.c) */
KILN_OP(SPACE_TO_BATCH_ND, kiln_no_attrs, kiln_shape_space_to_batch_nd, kiln_ref_space_to_batch_nd, kiln_flops_none)
KILN_OP(BATCH_TO_SPACE_ND, kiln_no_attrs, kiln_shape_batch_to_space_nd, kiln_ref_batch_to_space_nd, kiln_flops_none)
KILN_OP(DEPTH_TO_SPACE, kiln_block_size_attrs, kiln_shape_depth_to_space, kiln_ref_depth_to_space, kiln_flops_none)
KILN_OP(SPACE_TO_DEPTH, kiln_block_size_attrs, kiln_shape_space_to_depth, kiln_ref_space_to_depth, kiln_flops_none)
KILN_OP(GATHER_ND, kiln_no_attrs, kiln_shape_gather_nd, kiln_ref_gather_nd, kiln_flops_none)
KILN_OP(SCATTER_ND, kiln_no_attrs, kiln_shape_scatter_nd, kiln_ref_scatter_nd, kiln_flops_none)
KILN_OP(DYNAMIC_UPDATE_SLICE, kiln_no_attrs, kiln_shape_dynamic_update_slice, kiln_ref_dynamic_update_slice, kiln_flops_none)
KILN_OP(ONE_HOT, kiln_one_hot_attrs, kiln_shape_one_hot, kiln_ref_one_hot, kiln_flops_none)
KILN_OP(EMBEDDING_LOOKUP, kiln_no_attrs, kiln_shape_embedding_lookup, kiln_ref_embedding_lookup, kiln_flops_none)
KILN_OP(SPARSE_TO_DENSE, kiln_no_attrs, kiln_shape_sparse_to_dense, kiln_ref_sparse_to_dense, kiln_flops_none)
KILN_OP(BROADCAST_ARGS, kiln_no_attrs, kiln_shape_broadcast_args, kiln_ref_broadcast_args, kiln_flops_none)
KILN_OP(REVERSE_V2, kiln_no_attrs, kiln_shape_reverse_v2, kiln_ref_reverse_v2, kiln_flops_none)
KILN_OP(TOPK_V2, kiln_no_attrs, kiln_shape_topk_v2, kiln_ref_topk_v2, kiln_flops_none)
KILN_OP(MATRIX_DIAG, kiln_no_attrs, kiln_shape_matrix_diag, kiln_ref_matrix_diag, kiln_flops_none)
KILN_OP(MATRIX_SET_DIAG, kiln_no_attrs, kiln_shape_matrix_set_diag, kiln_ref_matrix_set_diag, kiln_flops_none)
KILN_OP(SEGMENT_SUM, kiln_no_attrs, kiln_shape_segment_sum, kiln_ref_segment_sum, kiln_flops_per_input)
KILN_OP(UNSORTED_SEGMENT_SUM, kiln_no_attrs, kiln_shape_unsorted_segment, kiln_ref_unsorted_segment_sum, kiln_flops_per_input)
KILN_OP(UNSORTED_SEGMENT_PROD, kiln_no_attrs, kiln_shape_unsorted_segment, kiln_ref_unsorted_segment_prod, kiln_flops_per_input)
KILN_OP(UNSORTED_SEGMENT_MAX, kiln_no_attrs, kiln_shape_unsorted_segment, kiln_ref_unsorted_segment_max, kiln_flops_per_input)
KILN_OP(UNSORTED_SEGMENT_MIN, kiln_no_attrs, kiln_shape_unsorted_segment, kiln_ref_unsorted_segment_min, kiln_flops_per_input)
KILN_OP(WHERE, kiln_no_attrs, kiln_shape_where, kiln_ref_where, kiln_flops_none)
KILN_OP(UNIQUE, kiln_no_attrs, kiln_shape_unique, kiln_ref_unique, kiln_flops_none)
KILN_OP(L2_POOL_2D, kiln_pool_attrs, kiln_shape_l2_pool_2d, kiln_ref_l2_pool_2d, kiln_flops_pool_2d)
KILN_OP(LOCAL_RESPONSE_NORMALIZATION, kiln_lrn_attrs, kiln_shape_local_response_normalization, kiln_ref_local_response_normalization, kiln_flops_per_output)

/* sparse constants and custom operators (ref/densify.c, ref/custom.c) */
KILN_OP(DENSIFY, kiln_no_attrs, kiln_shape_densify, kiln_ref_copy, kiln_flops_none)
/* control flow and resource variables: the session runs these itself
 * (runtime/control_flow.c); the table's functions refuse to run outside
 * one */
KILN_OP(WHILE, kiln_while_attrs, kiln_shape_session_only, kiln_ref_session_only, kiln_flops_none)
KILN_OP(IF, kiln_if_attrs, kiln_shape_session_only, kiln_ref_session_only, kiln_flops_none)
KILN_OP(CALL_ONCE, kiln_call_once_attrs, kiln_shape_session_only, kiln_ref_session_only, kiln_flops_none)
KILN_OP(VAR_HANDLE, kiln_var_handle_attrs, kiln_shape_session_only, kiln_ref_session_only, kiln_flops_none)
KILN_OP(READ_VARIABLE, kiln_no_attrs, kiln_shape_session_only, kiln_ref_session_only, kiln_flops_none)
KILN_OP(ASSIGN_VARIABLE, kiln_no_attrs, kiln_shape_session_only, kiln_ref_session_only, kiln_flops_none)
/* TFLite's static hash tables, session resources like the variables
 * (runtime/hashtable.c) */
KILN_OP(HASHTABLE, kiln_hashtable_attrs, kiln_shape_session_only, kiln_ref_session_only, kiln_flops_none)
KILN_OP(HASHTABLE_FIND, kiln_no_attrs, kiln_shape_session_only, kiln_ref_session_only, kiln_flops_none)
KILN_OP(HASHTABLE_IMPORT, kiln_no_attrs, kiln_shape_session_only, kiln_ref_session_only, kiln_flops_none)
KILN_OP(HASHTABLE_SIZE, kiln_no_attrs, kiln_shape_session_only, kiln_ref_session_only, kiln_flops_none)

KILN_OP(CUSTOM, kiln_custom_attrs, kiln_shape_custom, kiln_ref_custom, kiln_flops_none)

/* added for issue 9: remaining builtins (ref/fft.c: complex64 and RFFT2D;
 * ref/bucketize.c; ref/nms.c; ref/stablehlo_elementwise.c;
 * ref/hashtable_lookup.c; ref/fake_quant.c; ref/dilate.c;
 * ref/embedding_sparse.c; ref/reduce_window.c; ref/stablehlo_pad.c;
 * ref/stablehlo_gather.c) */
KILN_OP(RFFT2D, kiln_no_attrs, kiln_shape_rfft2d, kiln_ref_rfft2d, kiln_flops_rfft2d)
KILN_OP(COMPLEX_ABS, kiln_no_attrs, kiln_shape_complex_abs, kiln_ref_complex_abs, kiln_flops_per_output)
KILN_OP(REAL, kiln_no_attrs, kiln_shape_complex_part, kiln_ref_real, kiln_flops_none)
KILN_OP(IMAG, kiln_no_attrs, kiln_shape_complex_part, kiln_ref_imag, kiln_flops_none)
KILN_OP(BUCKETIZE, kiln_bucketize_attrs, kiln_shape_bucketize, kiln_ref_bucketize, kiln_flops_none)
KILN_OP(NON_MAX_SUPPRESSION_V4, kiln_no_attrs, kiln_shape_non_max_suppression, kiln_ref_non_max_suppression, kiln_flops_none)
KILN_OP(NON_MAX_SUPPRESSION_V5, kiln_no_attrs, kiln_shape_non_max_suppression, kiln_ref_non_max_suppression, kiln_flops_none)
KILN_OP(STABLEHLO_ADD, kiln_no_attrs, kiln_shape_stablehlo_arith, kiln_ref_stablehlo_add, kiln_flops_per_output)
KILN_OP(STABLEHLO_MULTIPLY, kiln_no_attrs, kiln_shape_stablehlo_arith, kiln_ref_stablehlo_multiply, kiln_flops_per_output)
KILN_OP(STABLEHLO_MAXIMUM, kiln_no_attrs, kiln_shape_stablehlo_arith, kiln_ref_stablehlo_maximum, kiln_flops_per_output)
KILN_OP(STABLEHLO_MINIMUM, kiln_no_attrs, kiln_shape_stablehlo_arith, kiln_ref_stablehlo_minimum, kiln_flops_per_output)
KILN_OP(STABLEHLO_AND, kiln_no_attrs, kiln_shape_stablehlo_and, kiln_ref_stablehlo_and, kiln_flops_none)
KILN_OP(STABLEHLO_SHIFT_LEFT, kiln_no_attrs, kiln_shape_stablehlo_shift_left, kiln_ref_stablehlo_shift_left, kiln_flops_none)
KILN_OP(HASHTABLE_LOOKUP, kiln_no_attrs, kiln_shape_hashtable_lookup, kiln_ref_hashtable_lookup, kiln_flops_none)
KILN_OP(FAKE_QUANT, kiln_fake_quant_attrs, kiln_shape_fake_quant, kiln_ref_fake_quant, kiln_flops_per_output)
KILN_OP(DILATE, kiln_no_attrs, kiln_shape_dilate, kiln_ref_dilate, kiln_flops_none)
KILN_OP(EMBEDDING_LOOKUP_SPARSE, kiln_embedding_sparse_attrs, kiln_shape_embedding_lookup_sparse, kiln_ref_embedding_lookup_sparse, kiln_flops_per_output)
KILN_OP(REDUCE_WINDOW, kiln_reduce_window_attrs, kiln_shape_reduce_window, kiln_ref_reduce_window, kiln_flops_reduce_window)
KILN_OP(STABLEHLO_PAD, kiln_stablehlo_pad_attrs, kiln_shape_stablehlo_pad, kiln_ref_stablehlo_pad, kiln_flops_none)
KILN_OP(STABLEHLO_GATHER, kiln_stablehlo_gather_attrs, kiln_shape_stablehlo_gather, kiln_ref_stablehlo_gather, kiln_flops_none)
/* StableHLO operators with subgraphs (ref/stablehlo_reduce_window.c,
 * ref/stablehlo_scatter.c: the importer recognizes the body; CASE and
 * COMPOSITE run their subgraphs in runtime/control_flow.c) */
KILN_OP(STABLEHLO_REDUCE_WINDOW, kiln_stablehlo_reduce_window_attrs, kiln_shape_stablehlo_reduce_window, kiln_ref_stablehlo_reduce_window, kiln_flops_stablehlo_reduce_window)
KILN_OP(STABLEHLO_SCATTER, kiln_stablehlo_scatter_attrs, kiln_shape_stablehlo_scatter, kiln_ref_stablehlo_scatter, kiln_flops_none)
KILN_OP(STABLEHLO_CASE, kiln_stablehlo_case_attrs, kiln_shape_session_only, kiln_ref_session_only, kiln_flops_none)
KILN_OP(STABLEHLO_COMPOSITE, kiln_stablehlo_composite_attrs, kiln_shape_session_only, kiln_ref_session_only, kiln_flops_none)

/* added for issue 9: random numbers and hashing (ref/random.c,
 * ref/rng_bit_generator.c, ref/lsh_projection.c). RANDOM_UNIFORM,
 * RANDOM_STANDARD_NORMAL and MULTINOMIAL keep their generator in per-node
 * session state (kernel.h: kiln_op_state). */
KILN_OP(RANDOM_UNIFORM, kiln_random_attrs, kiln_shape_random, kiln_ref_random_uniform, kiln_flops_none)
KILN_OP(RANDOM_STANDARD_NORMAL, kiln_random_attrs, kiln_shape_random, kiln_ref_random_standard_normal, kiln_flops_per_output)
KILN_OP(MULTINOMIAL, kiln_random_attrs, kiln_shape_multinomial, kiln_ref_multinomial, kiln_flops_per_input)
KILN_OP(STABLEHLO_RNG_BIT_GENERATOR, kiln_rng_bit_generator_attrs, kiln_shape_rng_bit_generator, kiln_ref_rng_bit_generator, kiln_flops_none)
KILN_OP(LSH_PROJECTION, kiln_lsh_projection_attrs, kiln_shape_lsh_projection, kiln_ref_lsh_projection, kiln_flops_none)
/* added for issue 9: new operators (ref/rank.c, ref/relu_0_to_1.c,
 * ref/reverse_sequence.c, ref/conv3d.c) */
KILN_OP(RANK, kiln_no_attrs, kiln_shape_rank, kiln_ref_rank, kiln_flops_none)
KILN_OP(RELU_0_TO_1, kiln_no_attrs, kiln_shape_relu_0_to_1, kiln_ref_relu_0_to_1, kiln_flops_per_output)
KILN_OP(REVERSE_SEQUENCE, kiln_reverse_sequence_attrs, kiln_shape_reverse_sequence, kiln_ref_reverse_sequence, kiln_flops_none)
KILN_OP(CONV_3D, kiln_conv3d_attrs, kiln_shape_conv_3d, kiln_ref_conv_3d, kiln_flops_conv_3d)
KILN_OP(CONV_3D_TRANSPOSE, kiln_conv3d_attrs, kiln_shape_conv_3d_transpose, kiln_ref_conv_3d_transpose, kiln_flops_conv_3d_transpose)

/* Internal operators, made by load-time passes and never read from a file;
 * they stay last (ops.h: KILN_OP_FIRST_INTERNAL). ref/bottleneck.c */
KILN_OP(FUSED_BOTTLENECK, kiln_bottleneck_attrs, kiln_shape_fused_bottleneck, kiln_ref_fused_bottleneck, kiln_flops_fused_bottleneck)
/* int8 -> int8 through a 256-entry table computed at load by
 * passes/fuse_swish8.c (MUL(x, LOGISTIC(x))). ref/quant_lut8.c */
KILN_OP(QUANT_LUT8, kiln_lut8_attrs, kiln_shape_quant_lut8, kiln_ref_quant_lut8, kiln_flops_none)
