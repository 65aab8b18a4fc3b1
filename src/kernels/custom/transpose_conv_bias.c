/* transpose_conv_bias.c - MediaPipe's Convolution2DTransposeBias, a custom
 * operator LiteRT runs without user code (through XNNPACK): a transposed
 * convolution of input [N,H,W,I] by filter [O,KH,KW,I] plus bias [O], whose
 * custom_options are a raw TfLiteTransposeConvParams (int32 padding
 * (1 SAME, 2 VALID), stride_width, stride_height). There is no output_shape
 * input: SAME gives H * stride_h rows, VALID (H - 1) * stride_h + KH, as
 * XNNPACK's deconvolution does. The computation is kiln's TRANSPOSE_CONV
 * reference kernel, whose padding rule is the same. */
#include <stdint.h>
#include <string.h>

#include "kernels/custom/builtins.h"
#include "kernels/custom/custom_util.h"

static kiln_status *read_params(const void *bytes, size_t size,
                                kiln_conv_attrs *a) {
  int32_t f[3];
  KILN_TRY(kiln_custom_raw_ints(
      bytes, size, 3, 3,
      "TfLiteTransposeConvParams (padding, stride_width, stride_height)", f));
  KILN_TRY(kiln_custom_padding(f[0], &a->padding));
  if (f[1] <= 0 || f[2] <= 0 || f[1] > 4096 || f[2] > 4096)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "strides are %d (width) and %d (height); expected 1 to "
                      "4096",
                      f[1], f[2]);
  a->stride_w = f[1];
  a->stride_h = f[2];
  a->dilation_h = a->dilation_w = 1;
  a->activation = KILN_ACT_NONE;
  return NULL;
}

static kiln_status *init(void *user, const void *options, size_t size,
                         void **state) {
  (void)user;
  kiln_conv_attrs a = {0};
  *state = NULL;
  return read_params(options, size, &a);
}

static kiln_status *prepare(kiln_custom_context *ctx) {
  size_t size;
  const void *options = kiln_custom_options(ctx, &size);
  kiln_conv_attrs a = {0};
  KILN_TRY(read_params(options, size, &a));
  KILN_TRY(kiln_custom_check_io(ctx, 3, 1));
  KILN_TRY(kiln_custom_float4d(ctx, 0, "input"));
  KILN_TRY(kiln_custom_float4d(ctx, 1, "filter"));
  const kiln_custom_tensor *in = kiln_custom_input(ctx, 0);
  const kiln_custom_tensor *f = kiln_custom_input(ctx, 1);
  const kiln_custom_tensor *bias = kiln_custom_input(ctx, 2);
  if (f->dims[3] != in->dims[3])
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 1 (filter) has %lld input channels but input 0 "
                      "(input) %lld",
                      (long long)f->dims[3], (long long)in->dims[3]);
  if (bias->dtype != KILN_FLOAT32 || bias->rank != 1 ||
      bias->dims[0] != f->dims[0])
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 2 (bias) must be float32 [%lld] (the filter's "
                      "output channels)",
                      (long long)f->dims[0]);
  int64_t dims[4] = {in->dims[0], 0, 0, f->dims[0]};
  const int stride[2] = {a.stride_h, a.stride_w};
  for (int axis = 1; axis <= 2; axis++) {
    int64_t n = in->dims[axis], k = f->dims[axis], s = stride[axis - 1];
    if (n > INT32_MAX / s || k > INT32_MAX - n * s)
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "output dimension %d would overflow (input %lld, "
                        "kernel %lld, stride %lld)",
                        axis, (long long)n, (long long)k, (long long)s);
    dims[axis] = a.padding == KILN_PAD_SAME ? n * s : (n - 1) * s + k;
  }
  kiln_custom_tensor *out = kiln_custom_output(ctx, 0);
  out->rank = 4;
  for (int d = 0; d < 4; d++) out->dims[d] = dims[d];
  return NULL;
}

static kiln_status *invoke(kiln_custom_context *ctx) {
  size_t size;
  const void *options = kiln_custom_options(ctx, &size);
  kiln_conv_attrs a = {0};
  KILN_TRY(read_params(options, size, &a));
  kiln_tensor shape, filter, input, bias, output;
  kiln_custom_kernel_tensor(kiln_custom_input(ctx, 1), &filter);
  kiln_custom_kernel_tensor(kiln_custom_input(ctx, 0), &input);
  kiln_custom_kernel_tensor(kiln_custom_input(ctx, 2), &bias);
  kiln_custom_kernel_tensor(kiln_custom_output(ctx, 0), &output);
  /* TRANSPOSE_CONV's output_shape input, which this operator lacks. */
  int32_t shape_data[4];
  for (int d = 0; d < 4; d++) shape_data[d] = (int32_t)output.dims[d];
  memset(&shape, 0, sizeof shape);
  shape.dtype = KILN_INT32;
  shape.rank = 1;
  shape.dims[0] = 4;
  shape.data = shape_data;
  kiln_tensor *inputs[4] = {&shape, &filter, &input, &bias};
  kiln_tensor *outputs[1] = {&output};
  kiln_op_ctx op = {&a, inputs, 4, outputs, 1, NULL, NULL, NULL};
  return kiln_ref_transpose_conv(&op);
}

const kiln_custom_op kiln_custom_transpose_conv_bias = {
    sizeof(kiln_custom_op),
    "Convolution2DTransposeBias",
    NULL,
    init,
    NULL,
    prepare,
    invoke};
