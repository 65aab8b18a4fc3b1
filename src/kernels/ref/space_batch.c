/* space_batch.c - SPACE_TO_BATCH_ND, BATCH_TO_SPACE_ND, DEPTH_TO_SPACE and
 * SPACE_TO_DEPTH: byte copies that move blocks of pixels between the
 * spatial dimensions and the batch (TF's converter wraps a dilated
 * convolution in the first pair) or the channels. All four take 3-D
 * [batch, height, channels] (the space/batch pair only) or 4-D NHWC
 * tensors, as TFLite does; a 3-D tensor is read as 4-D of width 1. Block
 * sizes, paddings and crops must be known at prepare. */
#include <stdint.h>
#include <string.h>

#include "kernels/kernel.h"
#include "kernels/ref/elementwise.h"
#include "kernels/ref/index_util.h"
#include "kernels/ref/movement.h"

/* The types TFLite's kernels for these four ops accept. */
static const kiln_dtype_mask kBlockDtypes =
    KILN_DT(KILN_FLOAT32) | KILN_DT_INTS;
/* SPACE_TO_BATCH_ND and BATCH_TO_SPACE_ND in LiteRT also move every other
 * fixed-size type (the padding is the all-zero element). */
static const kiln_dtype_mask kSpaceBatchDtypes =
    kBlockDtypes | KILN_DT(KILN_FLOAT16) | KILN_DT(KILN_FLOAT64) |
    KILN_DT(KILN_UINT16) | KILN_DT(KILN_UINT32) | KILN_DT(KILN_UINT64) |
    KILN_DT(KILN_BOOL) | KILN_DT(KILN_COMPLEX64);

/* Input and output as 4-D [batch, height, width, channels]. */
typedef struct nhwc {
  int64_t n, h, w, c;
} nhwc;

static nhwc as_nhwc(const kiln_tensor *t) {
  nhwc s = {t->dims[0], t->dims[1], 1, t->dims[t->rank - 1]};
  if (t->rank == 4) s.w = t->dims[2];
  return s;
}

/* The checks the four share: arity, the data's type, rank and
 * quantization (copied bytes must mean the same in the output). */
static kiln_status *check_block_op(const kiln_op_ctx *ctx, int inputs,
                                   int min_rank, kiln_dtype_mask dtypes) {
  KILN_TRY(kiln_check_movement_op(ctx, inputs, inputs));
  const kiln_tensor *in = ctx->inputs[0];
  KILN_TRY(kiln_require_dtype_in(in, dtypes, "input 0 (input)"));
  /* TFLite's dimensions are int32; keeping to them keeps every size
   * derived with a block (at most 2^20, or 2^16 for block_size) in int64 */
  for (int k = 0; k < in->rank; k++)
    if (in->dims[k] > INT32_MAX)
      return kiln_error(KILN_ERR_UNSUPPORTED,
                        "input 0 (input) dimension %d is %lld; at most %d "
                        "supported",
                        k, (long long)in->dims[k], INT32_MAX);
  if (in->rank < min_rank || in->rank > 4) {
    char buf[KILN_DIMS_STR_SIZE];
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "input 0 (input) has shape %s; expected rank %s",
                      kiln_dims_str(in->dims, in->rank, buf, sizeof buf),
                      min_rank == 4 ? "4 (NHWC)" : "3 or 4");
  }
  return kiln_require_same_quant(in, ctx->outputs[0], "input 0 (input)");
}

/* ------------------------------------------------ the space/batch pair */

/* Block shape and the paddings (SPACE_TO_BATCH_ND) or crops
 * (BATCH_TO_SPACE_ND) of the one or two spatial dimensions; a 3-D tensor's
 * missing width has block 1 and nothing added or removed. */
typedef struct space_blocks {
  int64_t block[2], before[2], after[2];
} space_blocks;

/* Reads inputs 1 (block_shape [M]) and 2 (paddings or crops [M, 2]), M the
 * input's rank - 2; all entries of the second must be >= 0. */
static kiln_status *read_blocks(const kiln_op_ctx *ctx, const char *edges,
                                space_blocks *b) {
  const kiln_tensor *in = ctx->inputs[0];
  int spatial = in->rank - 2, count = 0;
  int64_t block[2] = {1, 1};
  KILN_TRY(
      kiln_read_int_vector(ctx, 1, "block_shape", spatial, 2, block, &count));
  KILN_TRY(kiln_require_known(ctx, 2, edges));
  const kiln_tensor *pads = ctx->inputs[2];
  if (pads->dtype != KILN_INT32 && pads->dtype != KILN_INT64)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "input 2 (%s) has type %s; expected int32 or int64",
                      edges, kiln_dtype_name(pads->dtype));
  if (pads->rank != 2 || pads->dims[0] != spatial || pads->dims[1] != 2) {
    char buf[KILN_DIMS_STR_SIZE];
    return kiln_error(
        KILN_ERR_INVALID_MODEL, "input 2 (%s) has shape %s; expected [%d,2]",
        edges, kiln_dims_str(pads->dims, pads->rank, buf, sizeof buf), spatial);
  }
  *b = (space_blocks){{1, 1}, {0, 0}, {0, 0}};
  for (int k = 0; k < spatial; k++) {
    b->block[k] = block[k];
    b->before[k] = kiln_tensor_int(pads, 2 * k);
    b->after[k] = kiln_tensor_int(pads, 2 * k + 1);
    if (block[k] < 1)
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "input 1 (block_shape) entry %d is %lld; block sizes "
                        "must be at least 1",
                        k, (long long)block[k]);
    if (b->before[k] < 0 || b->after[k] < 0)
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "input 2 (%s) row %d is [%lld,%lld]; entries must be "
                        ">= 0",
                        edges, k, (long long)b->before[k],
                        (long long)b->after[k]);
    /* bounds that keep every size computed from them inside int64 */
    if (block[k] > ((int64_t)1 << 20) || b->before[k] > ((int64_t)1 << 40) ||
        b->after[k] > ((int64_t)1 << 40))
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "input 1 (block_shape) or 2 (%s) row %d is too large",
                        edges, k);
  }
  return NULL;
}

kiln_status *kiln_shape_space_to_batch_nd(const kiln_op_ctx *ctx) {
  KILN_TRY(check_block_op(ctx, 3, 3, kSpaceBatchDtypes));
  const kiln_tensor *in = ctx->inputs[0];
  space_blocks b;
  KILN_TRY(read_blocks(ctx, "paddings", &b));
  int64_t dims[4];
  memcpy(dims, in->dims, sizeof(int64_t) * (size_t)in->rank);
  int64_t blocks = b.block[0] * b.block[1];
  if (in->dims[0] > INT64_MAX / blocks)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input batch %lld times the block shape's product %lld "
                      "is too large",
                      (long long)in->dims[0], (long long)blocks);
  dims[0] = in->dims[0] * blocks;
  for (int k = 0; k < in->rank - 2; k++) {
    int64_t padded = in->dims[1 + k] + b.before[k] + b.after[k];
    if (padded % b.block[k] != 0)
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "spatial dimension %d is %lld after padding, not a "
                        "multiple of block size %lld",
                        k, (long long)padded, (long long)b.block[k]);
    dims[1 + k] = padded / b.block[k];
  }
  KILN_TRY(kiln_check_shape(dims, in->rank, in->dtype, "block_shape"));
  kiln_set_shape(ctx->outputs[0], dims, in->rank);
  return NULL;
}

/* Output batch ob holds block offset ob / N (row-major over the block) of
 * input image ob % N; output pixel (oh, ow) of it reads input pixel
 * (oh * bh + offset_h - pad_top, ow * bw + offset_w - pad_left), or the
 * real zero where that falls into the padding. */
kiln_status *kiln_ref_space_to_batch_nd(const kiln_op_ctx *ctx) {
  const kiln_tensor *in = ctx->inputs[0];
  kiln_tensor *out = ctx->outputs[0];
  space_blocks b;
  KILN_TRY(read_blocks(ctx, "paddings", &b));
  nhwc is = as_nhwc(in), os = as_nhwc(out);
  size_t elem = kiln_dtype_size(in->dtype), row = (size_t)is.c * elem;
  unsigned char zero[8];
  kiln_zero_element(out, zero);
  const char *src = in->data;
  char *dst = out->data;
  for (int64_t ob = 0; ob < os.n; ob++) {
    int64_t image = ob % is.n, offset = ob / is.n;
    int64_t shift_h = offset / b.block[1], shift_w = offset % b.block[1];
    for (int64_t oh = 0; oh < os.h; oh++) {
      int64_t ih = oh * b.block[0] + shift_h - b.before[0];
      for (int64_t ow = 0; ow < os.w; ow++, dst += row) {
        int64_t iw = ow * b.block[1] + shift_w - b.before[1];
        if (ih < 0 || ih >= is.h || iw < 0 || iw >= is.w) {
          kiln_fill_elements(dst, is.c, zero, elem);
          continue;
        }
        memcpy(dst,
               src + (size_t)(((image * is.h + ih) * is.w + iw) * is.c) * elem,
               row);
      }
    }
  }
  return NULL;
}

kiln_status *kiln_shape_batch_to_space_nd(const kiln_op_ctx *ctx) {
  KILN_TRY(check_block_op(ctx, 3, 3, kSpaceBatchDtypes));
  const kiln_tensor *in = ctx->inputs[0];
  space_blocks b;
  KILN_TRY(read_blocks(ctx, "crops", &b));
  int64_t blocks = b.block[0] * b.block[1];
  if (in->dims[0] % blocks != 0)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input batch %lld is not a multiple of the block "
                      "shape's product %lld",
                      (long long)in->dims[0], (long long)blocks);
  int64_t dims[4];
  memcpy(dims, in->dims, sizeof(int64_t) * (size_t)in->rank);
  dims[0] = in->dims[0] / blocks;
  for (int k = 0; k < in->rank - 2; k++) {
    dims[1 + k] = in->dims[1 + k] * b.block[k] - b.before[k] - b.after[k];
    if (dims[1 + k] < 0)
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "crops [%lld,%lld] of spatial dimension %d exceed its "
                        "size %lld",
                        (long long)b.before[k], (long long)b.after[k], k,
                        (long long)(in->dims[1 + k] * b.block[k]));
  }
  kiln_set_shape(ctx->outputs[0], dims, in->rank);
  return NULL;
}

/* The inverse of SPACE_TO_BATCH_ND without padding: input batch ib goes to
 * image ib % N_out at block offset ib / N_out; pixels the crops remove are
 * skipped. */
kiln_status *kiln_ref_batch_to_space_nd(const kiln_op_ctx *ctx) {
  const kiln_tensor *in = ctx->inputs[0];
  kiln_tensor *out = ctx->outputs[0];
  space_blocks b;
  KILN_TRY(read_blocks(ctx, "crops", &b));
  nhwc is = as_nhwc(in), os = as_nhwc(out);
  size_t elem = kiln_dtype_size(in->dtype), row = (size_t)is.c * elem;
  const char *src = in->data;
  char *dst = out->data;
  if (os.n == 0) return NULL;
  for (int64_t ib = 0; ib < is.n; ib++) {
    int64_t image = ib % os.n, offset = ib / os.n;
    int64_t shift_h = offset / b.block[1], shift_w = offset % b.block[1];
    for (int64_t ih = 0; ih < is.h; ih++) {
      int64_t oh = ih * b.block[0] + shift_h - b.before[0];
      for (int64_t iw = 0; iw < is.w; iw++) {
        int64_t ow = iw * b.block[1] + shift_w - b.before[1];
        if (oh < 0 || oh >= os.h || ow < 0 || ow >= os.w) continue;
        memcpy(dst + (size_t)(((image * os.h + oh) * os.w + ow) * os.c) * elem,
               src + (size_t)(((ib * is.h + ih) * is.w + iw) * is.c) * elem,
               row);
      }
    }
  }
  return NULL;
}

/* ------------------------------------------------ the space/depth pair */

static kiln_status *read_block_size(const kiln_op_ctx *ctx, int64_t *size) {
  const kiln_block_size_attrs *a = ctx->attrs;
  if (a->block_size < 1)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "block_size is %d; it must be at least 1", a->block_size);
  *size = a->block_size;
  return NULL;
}

kiln_status *kiln_shape_depth_to_space(const kiln_op_ctx *ctx) {
  KILN_TRY(check_block_op(ctx, 1, 4, kBlockDtypes));
  const kiln_tensor *in = ctx->inputs[0];
  int64_t bs = 0;
  KILN_TRY(read_block_size(ctx, &bs));
  if (bs > (1 << 16) || in->dims[3] % (bs * bs) != 0)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 0 (input) has %lld channels, not a multiple of "
                      "block_size^2 = %lld",
                      (long long)in->dims[3], (long long)(bs * bs));
  int64_t dims[4] = {in->dims[0], in->dims[1] * bs, in->dims[2] * bs,
                     in->dims[3] / (bs * bs)};
  KILN_TRY(kiln_check_shape(dims, 4, in->dtype, "block_size"));
  kiln_set_shape(ctx->outputs[0], dims, 4);
  return NULL;
}

kiln_status *kiln_shape_space_to_depth(const kiln_op_ctx *ctx) {
  KILN_TRY(check_block_op(ctx, 1, 4, kBlockDtypes));
  const kiln_tensor *in = ctx->inputs[0];
  int64_t bs = 0;
  KILN_TRY(read_block_size(ctx, &bs));
  if (bs > (1 << 16) || in->dims[1] % bs != 0 || in->dims[2] % bs != 0)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 0 (input) height %lld and width %lld must be "
                      "multiples of block_size %lld",
                      (long long)in->dims[1], (long long)in->dims[2],
                      (long long)bs);
  int64_t dims[4] = {in->dims[0], in->dims[1] / bs, in->dims[2] / bs,
                     in->dims[3] * bs * bs};
  KILN_TRY(kiln_check_shape(dims, 4, in->dtype, "block_size"));
  kiln_set_shape(ctx->outputs[0], dims, 4);
  return NULL;
}

/* Both directions walk the deep side [n, h, w, c * bs * bs] pixel by
 * pixel: its channels are bs * bs runs of c, run (dy * bs + dx) being the
 * shallow side's pixel (h * bs + dy, w * bs + dx). to_depth copies
 * shallow -> deep, otherwise deep -> shallow. */
static void move_blocks(const kiln_tensor *deep, const kiln_tensor *shallow,
                        int64_t bs, bool to_depth) {
  nhwc d = as_nhwc(deep), s = as_nhwc(shallow);
  size_t elem = kiln_dtype_size(deep->dtype), run = (size_t)s.c * elem;
  char *deep_data = deep->data, *shallow_data = shallow->data;
  for (int64_t n = 0; n < d.n; n++)
    for (int64_t h = 0; h < d.h; h++)
      for (int64_t w = 0; w < d.w; w++)
        for (int64_t dy = 0; dy < bs; dy++)
          for (int64_t dx = 0; dx < bs; dx++) {
            char *a = deep_data + (size_t)(((n * d.h + h) * d.w + w) * d.c +
                                           (dy * bs + dx) * s.c) *
                                      elem;
            char *b =
                shallow_data +
                (size_t)(((n * s.h + h * bs + dy) * s.w + w * bs + dx) * s.c) *
                    elem;
            if (to_depth)
              memcpy(a, b, run);
            else
              memcpy(b, a, run);
          }
}

kiln_status *kiln_ref_depth_to_space(const kiln_op_ctx *ctx) {
  int64_t bs = 0;
  KILN_TRY(read_block_size(ctx, &bs));
  move_blocks(ctx->inputs[0], ctx->outputs[0], bs, false);
  return NULL;
}

kiln_status *kiln_ref_space_to_depth(const kiln_op_ctx *ctx) {
  int64_t bs = 0;
  KILN_TRY(read_block_size(ctx, &bs));
  move_blocks(ctx->outputs[0], ctx->inputs[0], bs, true);
  return NULL;
}
