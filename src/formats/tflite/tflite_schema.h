/* tflite_schema.h - the parts of TensorFlow Lite's schema (schema.fbs,
 * version 3) that kiln reads: field slots of tables (slot N is vtable
 * offset 4 + 2N), and enum values. Union values take two slots: the type
 * field and then the value field. Defaults are noted where not zero. */
#ifndef KILN_FORMATS_TFLITE_SCHEMA_H
#define KILN_FORMATS_TFLITE_SCHEMA_H

#define TFL_FILE_IDENTIFIER "TFL3"
#define TFL_SCHEMA_VERSION 3

/* ------------------------------------------------------------- tables */

enum {                               /* Model */
       TFL_MODEL_VERSION = 0,        /* uint */
       TFL_MODEL_OPERATOR_CODES = 1, /* [OperatorCode] */
       TFL_MODEL_SUBGRAPHS = 2,      /* [SubGraph] */
       TFL_MODEL_DESCRIPTION = 3,    /* string */
       TFL_MODEL_BUFFERS = 4,        /* [Buffer] */
       TFL_MODEL_METADATA_BUFFER = 5,
       TFL_MODEL_METADATA = 6,
       TFL_MODEL_SIGNATURE_DEFS = 7, /* [SignatureDef] */
};

enum {                             /* SubGraph */
       TFL_SUBGRAPH_TENSORS = 0,   /* [Tensor] */
       TFL_SUBGRAPH_INPUTS = 1,    /* [int] */
       TFL_SUBGRAPH_OUTPUTS = 2,   /* [int] */
       TFL_SUBGRAPH_OPERATORS = 3, /* [Operator] */
       TFL_SUBGRAPH_NAME = 4,      /* string */
};

enum {                                 /* Tensor */
       TFL_TENSOR_SHAPE = 0,           /* [int] */
       TFL_TENSOR_TYPE = 1,            /* TensorType (byte) */
       TFL_TENSOR_BUFFER = 2,          /* uint, index into Model.buffers */
       TFL_TENSOR_NAME = 3,            /* string */
       TFL_TENSOR_QUANTIZATION = 4,    /* QuantizationParameters */
       TFL_TENSOR_IS_VARIABLE = 5,     /* bool */
       TFL_TENSOR_SPARSITY = 6,        /* SparsityParameters */
       TFL_TENSOR_SHAPE_SIGNATURE = 7, /* [int], -1 for dynamic dimensions */
       TFL_TENSOR_HAS_RANK = 8,        /* bool */
};

enum {                        /* Buffer */
       TFL_BUFFER_DATA = 0,   /* [ubyte] */
       TFL_BUFFER_OFFSET = 1, /* ulong: file offset when > 1 (models > 2 GB) */
       TFL_BUFFER_SIZE = 2,   /* ulong */
};

enum {                                /* Operator */
       TFL_OPERATOR_OPCODE_INDEX = 0, /* uint */
       TFL_OPERATOR_INPUTS = 1,       /* [int], -1 for an omitted input */
       TFL_OPERATOR_OUTPUTS = 2,      /* [int] */
       TFL_OPERATOR_BUILTIN_OPTIONS_TYPE = 3, /* BuiltinOptions (ubyte) */
       TFL_OPERATOR_BUILTIN_OPTIONS = 4,
       TFL_OPERATOR_CUSTOM_OPTIONS = 5,
       TFL_OPERATOR_INTERMEDIATES = 8, /* [int] */
};

enum {                                         /* OperatorCode */
       TFL_OPCODE_DEPRECATED_BUILTIN_CODE = 0, /* byte */
       TFL_OPCODE_CUSTOM_CODE = 1,             /* string */
       TFL_OPCODE_VERSION = 2,                 /* int, default 1 */
       TFL_OPCODE_BUILTIN_CODE = 3,            /* int (BuiltinOperator) */
};

enum { /* QuantizationParameters */
       TFL_QUANT_MIN = 0,
       TFL_QUANT_MAX = 1,
       TFL_QUANT_SCALE = 2,        /* [float] */
       TFL_QUANT_ZERO_POINT = 3,   /* [long] */
       TFL_QUANT_DETAILS_TYPE = 4, /* QuantizationDetails (ubyte) */
       TFL_QUANT_DETAILS = 5,
       TFL_QUANT_QUANTIZED_DIMENSION = 6, /* int */
};

enum {                                   /* SparsityParameters */
       TFL_SPARSITY_TRAVERSAL_ORDER = 0, /* [int] */
       TFL_SPARSITY_BLOCK_MAP = 1,       /* [int] */
       TFL_SPARSITY_DIM_METADATA = 2,    /* [DimensionMetadata] */
};

enum {                                  /* DimensionMetadata */
       TFL_DIM_FORMAT = 0,              /* DimensionType (byte) */
       TFL_DIM_DENSE_SIZE = 1,          /* int */
       TFL_DIM_ARRAY_SEGMENTS_TYPE = 2, /* SparseIndexVector (ubyte) */
       TFL_DIM_ARRAY_SEGMENTS = 3,
       TFL_DIM_ARRAY_INDICES_TYPE = 4, /* SparseIndexVector (ubyte) */
       TFL_DIM_ARRAY_INDICES = 5,
};

/* Int32Vector, Uint16Vector, Uint8Vector: one field, the values. */
enum { TFL_INDEX_VECTOR_VALUES = 0 };

enum {                            /* SignatureDef */
       TFL_SIGNATURE_INPUTS = 0,  /* [TensorMap] */
       TFL_SIGNATURE_OUTPUTS = 1, /* [TensorMap] */
       TFL_SIGNATURE_KEY = 2,     /* string */
       /* slot 3 is deprecated */
       TFL_SIGNATURE_SUBGRAPH_INDEX = 4, /* uint */
};

enum {                                 /* TensorMap */
       TFL_TENSORMAP_NAME = 0,         /* string */
       TFL_TENSORMAP_TENSOR_INDEX = 1, /* uint */
};

/* ----------------------------------------------------- builtin options */

enum { /* Conv2DOptions; dilations default to 1 */
       TFL_CONV2D_PADDING = 0,
       TFL_CONV2D_STRIDE_W = 1,
       TFL_CONV2D_STRIDE_H = 2,
       TFL_CONV2D_ACTIVATION = 3,
       TFL_CONV2D_DILATION_W = 4,
       TFL_CONV2D_DILATION_H = 5,
};

enum { /* DepthwiseConv2DOptions; dilations default to 1 */
       TFL_DWCONV_PADDING = 0,
       TFL_DWCONV_STRIDE_W = 1,
       TFL_DWCONV_STRIDE_H = 2,
       TFL_DWCONV_DEPTH_MULTIPLIER = 3,
       TFL_DWCONV_ACTIVATION = 4,
       TFL_DWCONV_DILATION_W = 5,
       TFL_DWCONV_DILATION_H = 6,
};

enum { /* TransposeConvOptions */
       TFL_TCONV_PADDING = 0,
       TFL_TCONV_STRIDE_W = 1,
       TFL_TCONV_STRIDE_H = 2,
       TFL_TCONV_ACTIVATION = 3,
};

enum { /* Pool2DOptions */
       TFL_POOL_PADDING = 0,
       TFL_POOL_STRIDE_W = 1,
       TFL_POOL_STRIDE_H = 2,
       TFL_POOL_FILTER_W = 3,
       TFL_POOL_FILTER_H = 4,
       TFL_POOL_ACTIVATION = 5,
};

enum { /* FullyConnectedOptions */
       TFL_FC_ACTIVATION = 0,
       TFL_FC_WEIGHTS_FORMAT = 1, /* 0 = DEFAULT, 1 = SHUFFLED4x16INT8 */
       TFL_FC_KEEP_NUM_DIMS = 2,
       TFL_FC_ASYMMETRIC_QUANTIZE_INPUTS = 3,
       TFL_FC_QUANTIZED_BIAS_TYPE = 4, /* a TensorType; 0: none given */
};

enum { /* BatchMatMulOptions */
       TFL_BMM_ADJ_X = 0,
       TFL_BMM_ADJ_Y = 1,
       TFL_BMM_ASYMMETRIC_QUANTIZE_INPUTS = 2,
};

/* AddOptions, SubOptions, MulOptions, DivOptions, L2NormOptions: the fused
 * activation is slot 0 in all of them. */
enum { TFL_ARITH_ACTIVATION = 0 };

enum { TFL_LEAKY_RELU_ALPHA = 0 };  /* float */
enum { TFL_GELU_APPROXIMATE = 0 };  /* bool */
enum { TFL_SOFTMAX_BETA = 0 };      /* float */
enum { TFL_REDUCER_KEEP_DIMS = 0 }; /* bool */
enum { TFL_RESHAPE_NEW_SHAPE = 0 }; /* [int] */
enum { TFL_SQUEEZE_DIMS = 0 };      /* [int] */
enum { TFL_SPLIT_NUM_SPLITS = 0 };  /* SplitOptions and SplitVOptions */
enum { TFL_MIRROR_PAD_MODE = 0 };   /* MirrorPadMode (byte) */

enum { /* ConcatenationOptions */
       TFL_CONCAT_AXIS = 0,
       TFL_CONCAT_ACTIVATION = 1,
};

enum { /* PackOptions (values_count, axis); UnpackOptions (num, axis) */
       TFL_PACK_COUNT = 0,
       TFL_PACK_AXIS = 1,
};

enum { /* StridedSliceOptions */
       TFL_SS_BEGIN_MASK = 0,
       TFL_SS_END_MASK = 1,
       TFL_SS_ELLIPSIS_MASK = 2,
       TFL_SS_NEW_AXIS_MASK = 3,
       TFL_SS_SHRINK_AXIS_MASK = 4,
       TFL_SS_OFFSET = 5,
};

enum { /* GatherOptions */
       TFL_GATHER_AXIS = 0,
       TFL_GATHER_BATCH_DIMS = 1,
};

/* added for issue 9: data movement and indexing */
enum { TFL_BLOCK_SIZE = 0 };   /* DepthToSpaceOptions, SpaceToDepthOptions */
enum { TFL_ONE_HOT_AXIS = 0 }; /* OneHotOptions (int) */
enum { TFL_UNIQUE_IDX_OUT_TYPE = 0 }; /* UniqueOptions (TensorType, INT32) */
enum {                                /* LocalResponseNormalizationOptions */
       TFL_LRN_RADIUS = 0,
       TFL_LRN_BIAS = 1,
       TFL_LRN_ALPHA = 2,
       TFL_LRN_BETA = 3,
};

enum { /* ResizeBilinearOptions: slots 0 and 1 are deprecated */
       TFL_RESIZE_BILINEAR_ALIGN_CORNERS = 2,
       TFL_RESIZE_BILINEAR_HALF_PIXEL_CENTERS = 3,
};

enum { /* ResizeNearestNeighborOptions */
       TFL_RESIZE_NEAREST_ALIGN_CORNERS = 0,
       TFL_RESIZE_NEAREST_HALF_PIXEL_CENTERS = 1,
};

/* ---- added for issue 9: recurrent operators' options */

enum { /* LSTMOptions */
       TFL_LSTM_ACTIVATION = 0,
       TFL_LSTM_CELL_CLIP = 1,   /* float */
       TFL_LSTM_PROJ_CLIP = 2,   /* float */
       TFL_LSTM_KERNEL_TYPE = 3, /* LSTMKernelType: FULL = 0, BASIC = 1 */
       TFL_LSTM_ASYMMETRIC_QUANTIZE_INPUTS = 4,
};

enum { /* UnidirectionalSequenceLSTMOptions */
       TFL_ULSTM_ACTIVATION = 0,
       TFL_ULSTM_CELL_CLIP = 1,
       TFL_ULSTM_PROJ_CLIP = 2,
       TFL_ULSTM_TIME_MAJOR = 3, /* bool, default false */
       TFL_ULSTM_ASYMMETRIC_QUANTIZE_INPUTS = 4,
       TFL_ULSTM_DIAGONAL_RECURRENT_TENSORS = 5, /* bool */
};

enum { /* BidirectionalSequenceLSTMOptions */
       TFL_BLSTM_ACTIVATION = 0,
       TFL_BLSTM_CELL_CLIP = 1,
       TFL_BLSTM_PROJ_CLIP = 2,
       TFL_BLSTM_MERGE_OUTPUTS = 3, /* bool */
       TFL_BLSTM_TIME_MAJOR = 4,    /* bool, default TRUE */
       TFL_BLSTM_ASYMMETRIC_QUANTIZE_INPUTS = 5,
};

enum { /* RNNOptions */
       TFL_RNN_ACTIVATION = 0,
       TFL_RNN_ASYMMETRIC_QUANTIZE_INPUTS = 1,
};

enum {                          /* SequenceRNNOptions */
       TFL_SRNN_TIME_MAJOR = 0, /* bool, default false */
       TFL_SRNN_ACTIVATION = 1,
       TFL_SRNN_ASYMMETRIC_QUANTIZE_INPUTS = 2,
};

enum {                          /* BidirectionalSequenceRNNOptions */
       TFL_BRNN_TIME_MAJOR = 0, /* bool, default false */
       TFL_BRNN_ACTIVATION = 1,
       TFL_BRNN_MERGE_OUTPUTS = 2,
       TFL_BRNN_ASYMMETRIC_QUANTIZE_INPUTS = 3,
};

enum { /* SVDFOptions */
       TFL_SVDF_RANK = 0,
       TFL_SVDF_ACTIVATION = 1,
       TFL_SVDF_ASYMMETRIC_QUANTIZE_INPUTS = 2,
};

/* --------------------------------------------------------------- enums */

typedef enum tfl_tensor_type {
  TFL_TYPE_FLOAT32 = 0,
  TFL_TYPE_FLOAT16 = 1,
  TFL_TYPE_INT32 = 2,
  TFL_TYPE_UINT8 = 3,
  TFL_TYPE_INT64 = 4,
  TFL_TYPE_STRING = 5,
  TFL_TYPE_BOOL = 6,
  TFL_TYPE_INT16 = 7,
  TFL_TYPE_COMPLEX64 = 8,
  TFL_TYPE_INT8 = 9,
  TFL_TYPE_FLOAT64 = 10,
  TFL_TYPE_COMPLEX128 = 11,
  TFL_TYPE_UINT64 = 12,
  TFL_TYPE_RESOURCE = 13,
  TFL_TYPE_VARIANT = 14,
  TFL_TYPE_UINT32 = 15,
  TFL_TYPE_UINT16 = 16,
  TFL_TYPE_INT4 = 17,
  TFL_TYPE_BFLOAT16 = 18,
  TFL_TYPE_INT2 = 19,
  TFL_TYPE_UINT4 = 20,
} tfl_tensor_type;

/* BuiltinOperator codes kiln maps (the full list of names is in
 * tflite_ops.c). */
typedef enum tfl_builtin_op {
  TFL_OP_ADD = 0,
  TFL_OP_AVERAGE_POOL_2D = 1,
  TFL_OP_CONCATENATION = 2,
  TFL_OP_CONV_2D = 3,
  TFL_OP_DEPTHWISE_CONV_2D = 4,
  TFL_OP_DEQUANTIZE = 6,
  TFL_OP_FULLY_CONNECTED = 9,
  TFL_OP_L2_NORMALIZATION = 11,
  TFL_OP_LOGISTIC = 14,
  TFL_OP_MAX_POOL_2D = 17,
  TFL_OP_MUL = 18,
  TFL_OP_RELU = 19,
  TFL_OP_RELU_N1_TO_1 = 20,
  TFL_OP_RELU6 = 21,
  TFL_OP_RESHAPE = 22,
  TFL_OP_RESIZE_BILINEAR = 23,
  TFL_OP_SOFTMAX = 25,
  TFL_OP_TANH = 28,
  TFL_OP_CUSTOM = 32,
  TFL_OP_PAD = 34,
  TFL_OP_GATHER = 36,
  TFL_OP_TRANSPOSE = 39,
  TFL_OP_MEAN = 40,
  TFL_OP_SUB = 41,
  TFL_OP_DIV = 42,
  TFL_OP_SQUEEZE = 43,
  TFL_OP_STRIDED_SLICE = 45,
  TFL_OP_EXP = 47,
  TFL_OP_SPLIT = 49,
  TFL_OP_LOG_SOFTMAX = 50,
  TFL_OP_CAST = 53,
  TFL_OP_PRELU = 54,
  TFL_OP_MAXIMUM = 55,
  TFL_OP_ARG_MAX = 56,
  TFL_OP_MINIMUM = 57,
  TFL_OP_LESS = 58,
  TFL_OP_NEG = 59,
  TFL_OP_PADV2 = 60,
  TFL_OP_GREATER = 61,
  TFL_OP_GREATER_EQUAL = 62,
  TFL_OP_LESS_EQUAL = 63,
  TFL_OP_SLICE = 65,
  TFL_OP_TRANSPOSE_CONV = 67,
  TFL_OP_TILE = 69,
  TFL_OP_EXPAND_DIMS = 70,
  TFL_OP_EQUAL = 71,
  TFL_OP_NOT_EQUAL = 72,
  TFL_OP_LOG = 73,
  TFL_OP_SUM = 74,
  TFL_OP_SQRT = 75,
  TFL_OP_RSQRT = 76,
  TFL_OP_SHAPE = 77,
  TFL_OP_POW = 78,
  TFL_OP_REDUCE_MAX = 82,
  TFL_OP_PACK = 83,
  TFL_OP_UNPACK = 88,
  TFL_OP_RESIZE_NEAREST_NEIGHBOR = 97,
  TFL_OP_LEAKY_RELU = 98,
  TFL_OP_SQUARED_DIFFERENCE = 99,
  TFL_OP_MIRROR_PAD = 100,
  TFL_OP_ABS = 101,
  TFL_OP_SPLIT_V = 102,
  TFL_OP_QUANTIZE = 114,
  TFL_OP_HARD_SWISH = 117,
  TFL_OP_SELECT_V2 = 123,
  TFL_OP_DENSIFY = 124,
  TFL_OP_BATCH_MATMUL = 126,
  TFL_OP_CUMSUM = 128,
  TFL_OP_BROADCAST_TO = 130,
  TFL_OP_GELU = 150,
  /* added for issue 9: recurrent */
  TFL_OP_LSTM = 16,
  TFL_OP_RNN = 24,
  TFL_OP_SVDF = 27,
  TFL_OP_UNIDIRECTIONAL_SEQUENCE_RNN = 35,
  TFL_OP_UNIDIRECTIONAL_SEQUENCE_LSTM = 44,
  TFL_OP_BIDIRECTIONAL_SEQUENCE_RNN = 46,
  TFL_OP_BIDIRECTIONAL_SEQUENCE_LSTM = 52,

  /* added for issue 9: data movement and indexing */
  TFL_OP_DEPTH_TO_SPACE = 5,
  TFL_OP_EMBEDDING_LOOKUP = 7,
  TFL_OP_L2_POOL_2D = 12,
  TFL_OP_LOCAL_RESPONSE_NORMALIZATION = 13,
  TFL_OP_SPACE_TO_DEPTH = 26,
  TFL_OP_BATCH_TO_SPACE_ND = 37,
  TFL_OP_SPACE_TO_BATCH_ND = 38,
  TFL_OP_TOPK_V2 = 48,
  TFL_OP_SPARSE_TO_DENSE = 68,
  TFL_OP_ONE_HOT = 85,
  TFL_OP_UNIQUE = 103,
  TFL_OP_REVERSE_V2 = 105,
  TFL_OP_GATHER_ND = 107,
  TFL_OP_WHERE = 109,
  TFL_OP_MATRIX_DIAG = 113,
  TFL_OP_MATRIX_SET_DIAG = 115,
  TFL_OP_SCATTER_ND = 122,
  TFL_OP_SEGMENT_SUM = 125,
  TFL_OP_BROADCAST_ARGS = 145,
  TFL_OP_DYNAMIC_UPDATE_SLICE = 151,
  TFL_OP_UNSORTED_SEGMENT_PROD = 153,
  TFL_OP_UNSORTED_SEGMENT_MAX = 154,
  TFL_OP_UNSORTED_SEGMENT_SUM = 155,
  TFL_OP_UNSORTED_SEGMENT_MIN = 157,
} tfl_builtin_op;

/* BuiltinOptions union types kiln reads. */
typedef enum tfl_options_type {
  TFL_OPT_NONE = 0,
  TFL_OPT_CONV2D = 1,
  TFL_OPT_DEPTHWISE_CONV2D = 2,
  TFL_OPT_POOL2D = 5,
  TFL_OPT_FULLY_CONNECTED = 8,
  TFL_OPT_SOFTMAX = 9,
  TFL_OPT_CONCATENATION = 10,
  TFL_OPT_ADD = 11,
  TFL_OPT_L2_NORM = 12,
  TFL_OPT_RESIZE_BILINEAR = 15,
  TFL_OPT_RESHAPE = 17,
  TFL_OPT_MUL = 21,
  TFL_OPT_GATHER = 23,
  TFL_OPT_REDUCER = 27,
  TFL_OPT_SUB = 28,
  TFL_OPT_DIV = 29,
  TFL_OPT_SQUEEZE = 30,
  TFL_OPT_STRIDED_SLICE = 32,
  TFL_OPT_SPLIT = 35,
  TFL_OPT_TRANSPOSE_CONV = 49,
  TFL_OPT_PACK = 59,
  TFL_OPT_UNPACK = 64,
  TFL_OPT_RESIZE_NEAREST_NEIGHBOR = 74,
  TFL_OPT_LEAKY_RELU = 75,
  TFL_OPT_MIRROR_PAD = 77,
  TFL_OPT_SPLIT_V = 79,
  TFL_OPT_BATCH_MATMUL = 101,
  TFL_OPT_GELU = 116,
  /* added for issue 9: recurrent */
  TFL_OPT_SVDF = 6,
  TFL_OPT_RNN = 7,
  TFL_OPT_LSTM = 14,
  TFL_OPT_UNIDIRECTIONAL_SEQUENCE_RNN = 31, /* SequenceRNNOptions */
  TFL_OPT_BIDIRECTIONAL_SEQUENCE_LSTM = 69,
  TFL_OPT_BIDIRECTIONAL_SEQUENCE_RNN = 70,
  TFL_OPT_UNIDIRECTIONAL_SEQUENCE_LSTM = 71,

  /* added for issue 9: data movement and indexing */
  TFL_OPT_LOCAL_RESPONSE_NORMALIZATION = 13,
  TFL_OPT_SPACE_TO_DEPTH = 19,
  TFL_OPT_ONE_HOT = 61,
  TFL_OPT_DEPTH_TO_SPACE = 94,
} tfl_options_type;

/* Padding, ActivationFunctionType and MirrorPadMode share kiln's numbering
 * (core/op_attrs.h); these bound the valid values. */
#define TFL_PADDING_MAX 1    /* SAME = 0, VALID = 1 */
#define TFL_ACTIVATION_MAX 5 /* NONE .. SIGN_BIT */
#define TFL_MIRROR_PAD_MAX 1 /* REFLECT = 0, SYMMETRIC = 1 */

/* DimensionType */
#define TFL_DIM_DENSE 0
#define TFL_DIM_SPARSE_CSR 1

/* SparseIndexVector union types. */
typedef enum tfl_index_vector_type {
  TFL_INDEX_NONE = 0,
  TFL_INDEX_INT32 = 1,
  TFL_INDEX_UINT16 = 2,
  TFL_INDEX_UINT8 = 3,
} tfl_index_vector_type;

/* QuantizationDetails union: NONE = 0; anything else is a custom scheme. */
#define TFL_QUANT_DETAILS_NONE 0

/* added for issue 9: math, logical, reductions. BuiltinOperator codes
 * (TFL_OP_CUMSUM is above), the CumsumOptions union type and its slots. */
enum {
  TFL_OP_FLOOR = 8,
  TFL_OP_SELECT = 64,
  TFL_OP_SIN = 66,
  TFL_OP_ARG_MIN = 79,
  TFL_OP_REDUCE_PROD = 81,
  TFL_OP_LOGICAL_OR = 84,
  TFL_OP_LOGICAL_AND = 86,
  TFL_OP_LOGICAL_NOT = 87,
  TFL_OP_REDUCE_MIN = 89,
  TFL_OP_FLOOR_DIV = 90,
  TFL_OP_REDUCE_ANY = 91,
  TFL_OP_SQUARE = 92,
  TFL_OP_ZEROS_LIKE = 93,
  TFL_OP_FILL = 94,
  TFL_OP_FLOOR_MOD = 95,
  TFL_OP_RANGE = 96,
  TFL_OP_CEIL = 104,
  TFL_OP_ADD_N = 106,
  TFL_OP_COS = 108,
  TFL_OP_ELU = 111,
  TFL_OP_ROUND = 116,
  TFL_OP_REDUCE_ALL = 140,
  TFL_OP_ATAN2 = 156,
  TFL_OP_SIGN = 158,
  TFL_OP_BITCAST = 159,
  TFL_OP_BITWISE_XOR = 160,
  TFL_OP_RIGHT_SHIFT = 161,
};
enum { TFL_OPT_CUMSUM = 102 };
enum { /* CumsumOptions */
       TFL_CUMSUM_EXCLUSIVE = 0,
       TFL_CUMSUM_REVERSE = 1,
};

/* added for issue 9: remaining builtins. BuiltinOperator codes, options
 * union types and their slots. */
enum {
  TFL_OP_HASHTABLE_LOOKUP = 10,
  TFL_OP_EMBEDDING_LOOKUP_SPARSE = 33,
  TFL_OP_FAKE_QUANT = 80,
  TFL_OP_NON_MAX_SUPPRESSION_V4 = 120,
  TFL_OP_NON_MAX_SUPPRESSION_V5 = 121,
  TFL_OP_RFFT2D = 131,
  TFL_OP_IMAG = 133,
  TFL_OP_REAL = 134,
  TFL_OP_COMPLEX_ABS = 135,
  TFL_OP_BUCKETIZE = 147,
  TFL_OP_STABLEHLO_ADD = 163,
  TFL_OP_STABLEHLO_MULTIPLY = 165,
  TFL_OP_STABLEHLO_MAXIMUM = 166,
  TFL_OP_STABLEHLO_AND = 176,
  TFL_OP_STABLEHLO_MINIMUM = 181,
  TFL_OP_STABLEHLO_PAD = 195,
  TFL_OP_STABLEHLO_GATHER = 201,
  TFL_OP_DILATE = 203,
  TFL_OP_REDUCE_WINDOW = 205,
  TFL_OP_STABLEHLO_SHIFT_LEFT = 207,
};
/* StableHLO operators with subgraphs; their options are in BuiltinOptions2 */
enum {
  TFL_OP_STABLEHLO_SCATTER = 190,
  TFL_OP_STABLEHLO_REDUCE_WINDOW = 198,
  TFL_OP_STABLEHLO_COMPOSITE = 206,
  TFL_OP_STABLEHLO_CASE = 209,
};
enum {
  TFL_OPT_BUCKETIZE = 115,
  TFL_OPT_FAKE_QUANT = 58,
  TFL_OPT_EMBEDDING_LOOKUP_SPARSE = 20,
};
enum { TFL_ELS_COMBINER = 0 }; /* EmbeddingLookupSparseOptions: byte */
/* ReduceWindowOptions and StablehloPadOptions are in BuiltinOptions2, the
 * union of operators from 2023 on (Operator slot 11 holds its type, slot 12 the
 * table). The op table marks such options by adding TFL_OPT2_BASE to their
 * type, above every BuiltinOptions value (126 in TF 2.21; the field is a byte).
 */
enum {
  TFL_OPERATOR_BUILTIN_OPTIONS_2_TYPE = 11,
  TFL_OPERATOR_BUILTIN_OPTIONS_2 = 12,
};
#define TFL_OPT2_BASE 200
enum {
  TFL_OPT_REDUCE_WINDOW = TFL_OPT2_BASE + 20,
  TFL_OPT_STABLEHLO_PAD = TFL_OPT2_BASE + 10,
  TFL_OPT_STABLEHLO_GATHER = TFL_OPT2_BASE + 16,
  TFL_OPT_STABLEHLO_SCATTER = TFL_OPT2_BASE + 7,
  TFL_OPT_STABLEHLO_REDUCE_WINDOW = TFL_OPT2_BASE + 13,
  TFL_OPT_STABLEHLO_COMPOSITE = TFL_OPT2_BASE + 21, /* StableHLOComposite */
  TFL_OPT_STABLEHLO_CASE = TFL_OPT2_BASE + 23,
};
enum { /* StablehloReduceWindowOptions: [long] vectors, then an int */
       TFL_HLO_RW_WINDOW_DIMENSIONS = 0,
       TFL_HLO_RW_WINDOW_STRIDES = 1,
       TFL_HLO_RW_BASE_DILATIONS = 2,
       TFL_HLO_RW_WINDOW_DILATIONS = 3,
       TFL_HLO_RW_PADDING = 4, /* [rank, 2]: low and high per dimension */
       TFL_HLO_RW_BODY_SUBGRAPH = 5,
};
enum {                                           /* StablehloScatterOptions */
       TFL_HLO_SCATTER_INDICES_ARE_SORTED = 0,   /* bool */
       TFL_HLO_SCATTER_UPDATE_WINDOW_DIMS = 1,   /* [long] */
       TFL_HLO_SCATTER_INSERTED_WINDOW_DIMS = 2, /* [long] */
       TFL_HLO_SCATTER_DIMS_TO_OPERAND_DIMS = 3, /* [long] */
       TFL_HLO_SCATTER_INDEX_VECTOR_DIM = 4,     /* long */
       TFL_HLO_SCATTER_UNIQUE_INDICES = 5,       /* bool */
       TFL_HLO_SCATTER_UPDATE_COMPUTATION = 6,   /* int */
};
enum { TFL_HLO_CASE_BRANCHES = 0 };         /* StablehloCaseOptions: [int] */
enum {                                      /* StableHLOCompositeOptions */
       TFL_HLO_COMPOSITE_NAME = 0,          /* string */
       TFL_HLO_COMPOSITE_DECOMPOSITION = 1, /* int */
       TFL_HLO_COMPOSITE_ATTRIBUTES = 2,    /* [ubyte] */
       TFL_HLO_COMPOSITE_ATTRIBUTES_FORMAT = 3,
       TFL_HLO_COMPOSITE_VERSION = 4, /* int */
};
enum { /* StablehloGatherOptions: [long] vectors, a long, a bool */
       TFL_HLO_GATHER_OFFSET_DIMS = 0,
       TFL_HLO_GATHER_COLLAPSED_SLICE_DIMS = 1,
       TFL_HLO_GATHER_START_INDEX_MAP = 2,
       TFL_HLO_GATHER_INDEX_VECTOR_DIM = 3,
       TFL_HLO_GATHER_SLICE_SIZES = 4,
};
enum { /* StablehloPadOptions: [long] each */
       TFL_HLO_PAD_LOW = 0,
       TFL_HLO_PAD_HIGH = 1,
       TFL_HLO_PAD_INTERIOR = 2,
};
enum { TFL_REDUCE_WINDOW_FUNCTION = 0 }; /* ReduceWindowFunction (int) */
enum { TFL_BUCKETIZE_BOUNDARIES = 0 };   /* BucketizeOptions: [float] */
enum {                                   /* FakeQuantOptions */
       TFL_FAKE_QUANT_MIN = 0,           /* float */
       TFL_FAKE_QUANT_MAX = 1,           /* float */
       TFL_FAKE_QUANT_NUM_BITS = 2,      /* int */
       TFL_FAKE_QUANT_NARROW_RANGE = 3   /* bool */
};

/* added for issue 9: random numbers and hashing. BuiltinOperator codes,
 * options union types (StablehloRngBitGeneratorOptions is in
 * BuiltinOptions2) and their slots. */
enum {
  TFL_OP_LSH_PROJECTION = 15,
  TFL_OP_RANDOM_STANDARD_NORMAL = 146,
  TFL_OP_RANDOM_UNIFORM = 148,
  TFL_OP_MULTINOMIAL = 149,
  TFL_OP_STABLEHLO_RNG_BIT_GENERATOR = 204,
};
enum {
  TFL_OPT_LSH_PROJECTION = 4,
  TFL_OPT_RANDOM = 114,
  TFL_OPT_STABLEHLO_RNG_BIT_GENERATOR = TFL_OPT2_BASE + 19,
};
enum { TFL_LSH_TYPE = 0 }; /* LSHProjectionOptions: LSHProjectionType, byte */
enum {                     /* RandomOptions: long each */
       TFL_RANDOM_SEED = 0,
       TFL_RANDOM_SEED2 = 1,
};
enum { TFL_RNG_ALGORITHM = 0 }; /* StablehloRngBitGeneratorOptions: byte */
#define TFL_RNG_ALGORITHM_MAX 2 /* DEFAULT 0, PHILOX 1, THREEFRY 2 */

/* Control flow and resource variables: BuiltinOperator codes, their
 * BuiltinOptions union types and option slots. */
enum {
  TFL_OP_IF = 118,
  TFL_OP_WHILE = 119,
  TFL_OP_CALL_ONCE = 129,
  TFL_OP_VAR_HANDLE = 142,
  TFL_OP_READ_VARIABLE = 143,
  TFL_OP_ASSIGN_VARIABLE = 144,
};
enum {
  TFL_OPT_IF = 92,
  TFL_OPT_WHILE = 93,
  TFL_OPT_CALL_ONCE = 103,
  TFL_OPT_VAR_HANDLE = 111,
};
enum { /* IfOptions */
       TFL_IF_THEN_SUBGRAPH = 0,
       TFL_IF_ELSE_SUBGRAPH = 1,
};
enum { /* WhileOptions */
       TFL_WHILE_COND_SUBGRAPH = 0,
       TFL_WHILE_BODY_SUBGRAPH = 1,
};
/* TFLite's static hash tables (tensorflow/lite/kernels/hashtable): codes,
 * the HashtableOptions union type and its slots. */
enum {
  TFL_OP_HASHTABLE = 136,
  TFL_OP_HASHTABLE_FIND = 137,
  TFL_OP_HASHTABLE_IMPORT = 138,
  TFL_OP_HASHTABLE_SIZE = 139,
};
enum { TFL_OPT_HASHTABLE = 107 };
enum { TFL_OP_SKIP_GRAM = 30 }; /* refused: its output size is data */
enum {                          /* HashtableOptions */
       TFL_HASHTABLE_TABLE_ID = 0,
       TFL_HASHTABLE_KEY_DTYPE = 1,
       TFL_HASHTABLE_VALUE_DTYPE = 2,
};
enum { TFL_CALL_ONCE_INIT_SUBGRAPH = 0 }; /* CallOnceOptions */
enum {                                    /* VarHandleOptions */
       TFL_VAR_HANDLE_CONTAINER = 0,
       TFL_VAR_HANDLE_SHARED_NAME = 1,
};

/* added for issue 9: new operators. BuiltinOperator codes, options union
 * types and their slots. */
enum {
  TFL_OP_RANK = 110,
  TFL_OP_REVERSE_SEQUENCE = 112,
  TFL_OP_CONV_3D = 132,
  TFL_OP_CONV_3D_TRANSPOSE = 141,
  TFL_OP_RELU_0_TO_1 = 152,
};
enum {
  TFL_OPT_REVERSE_SEQUENCE = 87,
  TFL_OPT_CONV3D = 106, /* Conv3DOptions, also CONV_3D_TRANSPOSE's */
};
enum { /* ReverseSequenceOptions: ints */
       TFL_REVSEQ_SEQ_DIM = 0,
       TFL_REVSEQ_BATCH_DIM = 1,
};
enum {                            /* Conv3DOptions */
       TFL_CONV3D_PADDING = 0,    /* Padding (byte) */
       TFL_CONV3D_STRIDE_D = 1,   /* int */
       TFL_CONV3D_STRIDE_W = 2,   /* int */
       TFL_CONV3D_STRIDE_H = 3,   /* int */
       TFL_CONV3D_ACTIVATION = 4, /* ActivationFunctionType (byte) */
       TFL_CONV3D_DILATION_D = 5, /* int, default 1 */
       TFL_CONV3D_DILATION_W = 6, /* int, default 1 */
       TFL_CONV3D_DILATION_H = 7, /* int, default 1 */
};

#endif
