/* keras_layers.h - the layer builders, by family (keras_layers_*.c), that
 * keras_layers.c's table names. Each is a kiln_keras_build_fn. */
#ifndef KILN_FORMATS_KERAS_KERAS_LAYERS_H
#define KILN_FORMATS_KERAS_KERAS_LAYERS_H

#include "formats/keras/keras_build.h"

kiln_status *kiln_keras_build_dense(kiln_keras_builder *b, const int *in, int n,
                                    int *out, int *num_out);
kiln_status *kiln_keras_build_activation(kiln_keras_builder *b, const int *in,
                                         int n, int *out, int *num_out);
kiln_status *kiln_keras_build_relu(kiln_keras_builder *b, const int *in, int n,
                                   int *out, int *num_out);
kiln_status *kiln_keras_build_leaky_relu(kiln_keras_builder *b, const int *in,
                                         int n, int *out, int *num_out);
kiln_status *kiln_keras_build_elu(kiln_keras_builder *b, const int *in, int n,
                                  int *out, int *num_out);
kiln_status *kiln_keras_build_prelu(kiln_keras_builder *b, const int *in, int n,
                                    int *out, int *num_out);
kiln_status *kiln_keras_build_softmax(kiln_keras_builder *b, const int *in,
                                      int n, int *out, int *num_out);
kiln_status *kiln_keras_build_identity(kiln_keras_builder *b, const int *in,
                                       int n, int *out, int *num_out);
kiln_status *kiln_keras_build_rescaling(kiln_keras_builder *b, const int *in,
                                        int n, int *out, int *num_out);
kiln_status *kiln_keras_build_normalization(kiln_keras_builder *b,
                                            const int *in, int n, int *out,
                                            int *num_out);
kiln_status *kiln_keras_build_batch_norm(kiln_keras_builder *b, const int *in,
                                         int n, int *out, int *num_out);
kiln_status *kiln_keras_build_layer_norm(kiln_keras_builder *b, const int *in,
                                         int n, int *out, int *num_out);
kiln_status *kiln_keras_build_embedding(kiln_keras_builder *b, const int *in,
                                        int n, int *out, int *num_out);
kiln_status *kiln_keras_build_conv1d(kiln_keras_builder *b, const int *in,
                                     int n, int *out, int *num_out);
kiln_status *kiln_keras_build_conv2d(kiln_keras_builder *b, const int *in,
                                     int n, int *out, int *num_out);
kiln_status *kiln_keras_build_depthwise2d(kiln_keras_builder *b, const int *in,
                                          int n, int *out, int *num_out);
kiln_status *kiln_keras_build_separable2d(kiln_keras_builder *b, const int *in,
                                          int n, int *out, int *num_out);
kiln_status *kiln_keras_build_conv2d_transpose(kiln_keras_builder *b,
                                               const int *in, int n, int *out,
                                               int *num_out);
kiln_status *kiln_keras_build_flatten(kiln_keras_builder *b, const int *in,
                                      int n, int *out, int *num_out);
kiln_status *kiln_keras_build_reshape(kiln_keras_builder *b, const int *in,
                                      int n, int *out, int *num_out);
kiln_status *kiln_keras_build_permute(kiln_keras_builder *b, const int *in,
                                      int n, int *out, int *num_out);
kiln_status *kiln_keras_build_zero_padding1d(kiln_keras_builder *b,
                                             const int *in, int n, int *out,
                                             int *num_out);
kiln_status *kiln_keras_build_zero_padding2d(kiln_keras_builder *b,
                                             const int *in, int n, int *out,
                                             int *num_out);
kiln_status *kiln_keras_build_cropping2d(kiln_keras_builder *b, const int *in,
                                         int n, int *out, int *num_out);
kiln_status *kiln_keras_build_upsampling2d(kiln_keras_builder *b, const int *in,
                                           int n, int *out, int *num_out);
kiln_status *kiln_keras_build_resizing(kiln_keras_builder *b, const int *in,
                                       int n, int *out, int *num_out);
kiln_status *kiln_keras_build_pool1d(kiln_keras_builder *b, const int *in,
                                     int n, int *out, int *num_out);
kiln_status *kiln_keras_build_pool2d(kiln_keras_builder *b, const int *in,
                                     int n, int *out, int *num_out);
kiln_status *kiln_keras_build_global_pool(kiln_keras_builder *b, const int *in,
                                          int n, int *out, int *num_out);
kiln_status *kiln_keras_build_merge(kiln_keras_builder *b, const int *in, int n,
                                    int *out, int *num_out);
kiln_status *kiln_keras_build_concatenate(kiln_keras_builder *b, const int *in,
                                          int n, int *out, int *num_out);
kiln_status *kiln_keras_build_cropping1d(kiln_keras_builder *b, const int *in,
                                         int n, int *out, int *num_out);
kiln_status *kiln_keras_build_upsampling1d(kiln_keras_builder *b, const int *in,
                                           int n, int *out, int *num_out);
kiln_status *kiln_keras_build_unary_op(kiln_keras_builder *b, const int *in,
                                       int n, int *out, int *num_out);
kiln_status *kiln_keras_build_binary_op(kiln_keras_builder *b, const int *in,
                                        int n, int *out, int *num_out);
kiln_status *kiln_keras_build_matmul(kiln_keras_builder *b, const int *in,
                                     int n, int *out, int *num_out);
kiln_status *kiln_keras_build_transpose_op(kiln_keras_builder *b, const int *in,
                                           int n, int *out, int *num_out);
kiln_status *kiln_keras_build_mean_op(kiln_keras_builder *b, const int *in,
                                      int n, int *out, int *num_out);
kiln_status *kiln_keras_build_multi_head_attention(kiln_keras_builder *b,
                                                   const int *in, int n,
                                                   int *out, int *num_out);

/* The layer's own "activation" (Dense, Conv*) applied to x. */
kiln_status *kiln_keras_layer_activation(kiln_keras_builder *b, int x,
                                         int *out);

#endif
