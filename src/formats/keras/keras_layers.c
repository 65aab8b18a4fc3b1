/* keras_layers.c - the table from a Keras layer class to its builder: one
 * line per class, the builders in keras_layers_*.c by family. */
#include "formats/keras/keras_layers.h"

#include <string.h>

#include "formats/keras/keras_build.h"

static const kiln_keras_layer_def layers[] = {
    /* keras_layers_core.c */
    {"Dense", kiln_keras_build_dense},
    {"Activation", kiln_keras_build_activation},
    {"ReLU", kiln_keras_build_relu},
    {"LeakyReLU", kiln_keras_build_leaky_relu},
    {"ELU", kiln_keras_build_elu},
    {"PReLU", kiln_keras_build_prelu},
    {"Softmax", kiln_keras_build_softmax},
    {"Dropout", kiln_keras_build_identity},
    {"SpatialDropout1D", kiln_keras_build_identity},
    {"SpatialDropout2D", kiln_keras_build_identity},
    {"SpatialDropout3D", kiln_keras_build_identity},
    {"GaussianNoise", kiln_keras_build_identity},
    {"GaussianDropout", kiln_keras_build_identity},
    {"AlphaDropout", kiln_keras_build_identity},
    {"ActivityRegularization", kiln_keras_build_identity},
    {"Identity", kiln_keras_build_identity},
    {"Rescaling", kiln_keras_build_rescaling},
    {"Normalization", kiln_keras_build_normalization},
    {"BatchNormalization", kiln_keras_build_batch_norm},
    {"LayerNormalization", kiln_keras_build_layer_norm},
    {"Embedding", kiln_keras_build_embedding},
    /* keras_layers_conv.c */
    {"Conv1D", kiln_keras_build_conv1d},
    {"Conv2D", kiln_keras_build_conv2d},
    {"DepthwiseConv2D", kiln_keras_build_depthwise2d},
    {"SeparableConv2D", kiln_keras_build_separable2d},
    {"Conv2DTranspose", kiln_keras_build_conv2d_transpose},
    /* keras_layers_shape.c */
    {"Flatten", kiln_keras_build_flatten},
    {"Reshape", kiln_keras_build_reshape},
    {"Permute", kiln_keras_build_permute},
    {"ZeroPadding1D", kiln_keras_build_zero_padding1d},
    {"ZeroPadding2D", kiln_keras_build_zero_padding2d},
    {"Cropping1D", kiln_keras_build_cropping1d},
    {"Cropping2D", kiln_keras_build_cropping2d},
    {"UpSampling1D", kiln_keras_build_upsampling1d},
    {"UpSampling2D", kiln_keras_build_upsampling2d},
    {"Resizing", kiln_keras_build_resizing},
    {"MaxPooling1D", kiln_keras_build_pool1d},
    {"AveragePooling1D", kiln_keras_build_pool1d},
    {"MaxPooling2D", kiln_keras_build_pool2d},
    {"AveragePooling2D", kiln_keras_build_pool2d},
    {"GlobalAveragePooling1D", kiln_keras_build_global_pool},
    {"GlobalAveragePooling2D", kiln_keras_build_global_pool},
    {"GlobalMaxPooling1D", kiln_keras_build_global_pool},
    {"GlobalMaxPooling2D", kiln_keras_build_global_pool},
    /* keras_layers_merge.c */
    {"Add", kiln_keras_build_merge},
    {"Subtract", kiln_keras_build_merge},
    {"Multiply", kiln_keras_build_merge},
    {"Average", kiln_keras_build_merge},
    {"Maximum", kiln_keras_build_merge},
    {"Minimum", kiln_keras_build_merge},
    {"Concatenate", kiln_keras_build_concatenate},
    /* keras_layers_ops.c: operations on tensors (keras.src.ops) */
    {"TrueDivide", kiln_keras_build_binary_op},
    {"Divide", kiln_keras_build_binary_op},
    {"Power", kiln_keras_build_binary_op},
    {"Negative", kiln_keras_build_unary_op},
    {"Absolute", kiln_keras_build_unary_op},
    {"Sqrt", kiln_keras_build_unary_op},
    {"Rsqrt", kiln_keras_build_unary_op},
    {"Exp", kiln_keras_build_unary_op},
    {"Log", kiln_keras_build_unary_op},
    {"Tanh", kiln_keras_build_unary_op},
    {"Sigmoid", kiln_keras_build_unary_op},
    {"Square", kiln_keras_build_unary_op},
    {"Relu", kiln_keras_build_unary_op},
    {"Matmul", kiln_keras_build_matmul},
    {"Transpose", kiln_keras_build_transpose_op},
    {"Mean", kiln_keras_build_mean_op},
    /* keras_layers_attention.c */
    {"MultiHeadAttention", kiln_keras_build_multi_head_attention},
};

const kiln_keras_layer_def *kiln_keras_find_layer(const char *class_name) {
  for (size_t i = 0; i < sizeof layers / sizeof layers[0]; i++)
    if (strcmp(layers[i].class_name, class_name) == 0) return &layers[i];
  return NULL;
}
