/* quant_conv.h - the quantized and hybrid CONV_2D, DEPTHWISE_CONV_2D and
 * TRANSPOSE_CONV: entry points the float reference kernels in conv.c hand
 * quantized nodes to (one test on the input's type), and the window
 * geometry the integer (quant_conv.c) and hybrid (quant_hybrid.c) kernels
 * share. */
#ifndef KILN_KERNELS_REF_QUANT_CONV_H
#define KILN_KERNELS_REF_QUANT_CONV_H

#include "kernels/kernel.h"

kiln_status *kiln_q_shape_conv_2d(const kiln_op_ctx *ctx);
kiln_status *kiln_q_conv_2d(const kiln_op_ctx *ctx);
kiln_status *kiln_q_shape_depthwise_conv_2d(const kiln_op_ctx *ctx);
kiln_status *kiln_q_depthwise_conv_2d(const kiln_op_ctx *ctx);
kiln_status *kiln_q_shape_transpose_conv(const kiln_op_ctx *ctx);
kiln_status *kiln_q_transpose_conv(const kiln_op_ctx *ctx);

/* Hybrid kernels (float input, int8 weights), quant_hybrid.c. */
kiln_status *kiln_hybrid_conv_2d(const kiln_op_ctx *ctx);
kiln_status *kiln_hybrid_depthwise_conv_2d(const kiln_op_ctx *ctx);
kiln_status *kiln_hybrid_transpose_conv(const kiln_op_ctx *ctx);

/* TRANSPOSE_CONV's padding before the first output along an axis (TFLite
 * pads it as the forward convolution from the output size, see conv.c),
 * and the input row or column that tap k of output o reads, or -1: the
 * scatter of TFLite's kernels turned into a gather, so each output's sum
 * is finished in one place and no scratch accumulator is needed. */
int64_t kiln_q_transpose_pad(int64_t out, int64_t k, int stride,
                             kiln_padding padding);
int64_t kiln_q_transpose_source(int64_t o, int64_t k, int64_t pad, int stride,
                                int64_t in);

/* Sizes and offsets of a forward window op, from prepared tensors. */
typedef struct kiln_q_geom {
  int64_t batch, in_h, in_w, in_c;
  int64_t out_h, out_w, out_c;
  int64_t k_h, k_w;
  int64_t pad_top, pad_left;
  int stride_h, stride_w, dil_h, dil_w;
} kiln_q_geom;

/* Shared with the float convolutions (conv.c): output 0's shape from 4
 * dims, refusing an empty one; and the [N, OH, OW, channels] of a forward
 * window of filter 1 over input 0. */
kiln_status *kiln_conv_set_shape4(const kiln_op_ctx *ctx, const int64_t *dims);
kiln_status *kiln_conv_forward_dims(const kiln_op_ctx *ctx, int64_t channels,
                                    int64_t *dims);

/* The same from tensors: the float CONV_2D, DEPTHWISE_CONV_2D and
 * TRANSPOSE_CONV (conv.c) share it; filter dims 1, 2 are the window. */
kiln_q_geom kiln_conv_geom(const kiln_conv_attrs *a, const kiln_tensor *in,
                           const kiln_tensor *f, const kiln_tensor *out);

/* Geometry of a CONV_2D / DEPTHWISE_CONV_2D node (filter dims 1, 2 are
 * the window). */
kiln_q_geom kiln_q_forward_geom(const kiln_op_ctx *ctx);

#endif
