/* keras_layers_shape.c - layers that move, pad, crop, resize or pool
 * tensors: Flatten, Reshape, Permute, ZeroPadding1D/2D, Cropping1D/2D,
 * UpSampling1D/2D, Resizing and the pooling layers. Sizes Keras leaves to run
 * time (the batch) stay -1 in RESHAPE's shape; the other dimensions come
 * from the input's static shape, which Keras models always have past the
 * batch for these layers. */
#include <string.h>

#include "formats/keras/keras_layers.h"

/* An int32 [rows, 2] constant (PAD's paddings). */
static kiln_status *pairs_const(kiln_keras_builder *b, const char *suffix,
                                const int32_t *values, int rows, int *out) {
  int64_t dims[2] = {rows, 2};
  void *data;
  KILN_TRY(kiln_keras_const(b, suffix, KILN_INT32, 2, dims, out, &data));
  memcpy(data, values, sizeof(int32_t) * 2 * (size_t)rows);
  return NULL;
}

static kiln_status *reshape(kiln_keras_builder *b, int x, const int32_t *shape,
                            int rank, int *out) {
  kiln_reshape_attrs a = {.num_dims = rank};
  memcpy(a.new_shape, shape, sizeof(int32_t) * (size_t)rank);
  int s;
  KILN_TRY(kiln_keras_const_i32(b, "shape", shape, rank, &s));
  int ins[2] = {x, s};
  return kiln_keras_node(b, KILN_OP_RESHAPE, ins, 2, &a, NULL,
                         KILN_DTYPE_INVALID, out);
}

kiln_status *kiln_keras_build_flatten(kiln_keras_builder *b, const int *in,
                                      int n, int *out, int *num_out) {
  KILN_TRY(kiln_keras_one_input(b, in, n, -1));
  KILN_TRY(kiln_keras_channels_last(b));
  const kiln_value *v = kiln_keras_value(b, in[0]);
  int64_t size = 1;
  for (int d = 1; d < v->rank; d++) size *= v->dims[d];
  if (size > INT32_MAX) return kiln_keras_error(b, "the input is too large");
  int32_t shape[2] = {-1, (int32_t)size};
  *num_out = 1;
  return reshape(b, in[0], shape, 2, &out[0]);
}

kiln_status *kiln_keras_build_reshape(kiln_keras_builder *b, const int *in,
                                      int n, int *out, int *num_out) {
  KILN_TRY(kiln_keras_one_input(b, in, n, -1));
  const json_t *t = json_object_get(b->config, "target_shape");
  if (!json_is_array(t) || json_array_size(t) + 1 > 8)
    return kiln_keras_error(b, "target_shape is not a list of up to 7 sizes");
  const kiln_value *v = kiln_keras_value(b, in[0]);
  int64_t size = 1, known = 1;
  for (int d = 1; d < v->rank; d++) size *= v->dims[d];
  int rank = (int)json_array_size(t) + 1, unknown = -1;
  int32_t shape[8] = {-1};
  for (int d = 1; d < rank; d++) {
    const json_t *e = json_array_get(t, (size_t)d - 1);
    json_int_t s = json_is_integer(e) ? json_integer_value(e) : -2;
    if (s == -1 && unknown < 0) {
      unknown = d;
    } else if (s < 0 || s > INT32_MAX) {
      return kiln_keras_error(b, "target_shape[%d] is not a size", d - 1);
    } else {
      known *= s;
    }
    shape[d] = (int32_t)s;
  }
  /* The batch is the -1 RESHAPE works out, so a -1 of the target's own is
   * resolved here from the input's size. */
  if (unknown > 0) {
    if (!known || size % known)
      return kiln_keras_error(b,
                              "target_shape does not divide the input's "
                              "%lld elements per item",
                              (long long)size);
    shape[unknown] = (int32_t)(size / known);
  }
  *num_out = 1;
  return reshape(b, in[0], shape, rank, &out[0]);
}

kiln_status *kiln_keras_build_permute(kiln_keras_builder *b, const int *in,
                                      int n, int *out, int *num_out) {
  KILN_TRY(kiln_keras_one_input(b, in, n, -1));
  const json_t *dims = json_object_get(b->config, "dims");
  int rank = kiln_keras_value(b, in[0])->rank;
  if (!json_is_array(dims) || (int)json_array_size(dims) != rank - 1)
    return kiln_keras_error(b,
                            "dims does not list the input's %d "
                            "non-batch axes",
                            rank - 1);
  int32_t perm[8] = {0};
  bool seen[8] = {true};
  for (int d = 1; d < rank; d++) {
    const json_t *e = json_array_get(dims, (size_t)d - 1);
    json_int_t a = json_is_integer(e) ? json_integer_value(e) : 0;
    if (a < 1 || a >= rank || seen[a])
      return kiln_keras_error(b, "dims is not a permutation of 1..%d",
                              rank - 1);
    seen[a] = true;
    perm[d] = (int32_t)a;
  }
  int p;
  KILN_TRY(kiln_keras_const_i32(b, "perm", perm, rank, &p));
  int ins[2] = {in[0], p};
  *num_out = 1;
  return kiln_keras_node(b, KILN_OP_TRANSPOSE, ins, 2, NULL, NULL,
                         KILN_DTYPE_INVALID, &out[0]);
}

/* Keras's padding/cropping forms for `dims` spatial axes: an int, a list
 * of `dims` ints (symmetric), or a list of `dims` pairs. */
static kiln_status *pad_pairs(kiln_keras_builder *b, const char *key, int dims,
                              int32_t *out /* [dims][2] */) {
  const json_t *v = json_object_get(b->config, key);
  for (int d = 0; d < dims; d++) {
    const json_t *e = json_is_array(v) ? json_array_get(v, (size_t)d) : v;
    if (json_is_array(v) && dims == 1 && json_array_size(v) == 2) e = v;
    json_int_t lo, hi;
    if (json_is_integer(e)) {
      lo = hi = json_integer_value(e);
    } else if (json_is_array(e) && json_array_size(e) == 2 &&
               json_is_integer(json_array_get(e, 0)) &&
               json_is_integer(json_array_get(e, 1))) {
      lo = json_integer_value(json_array_get(e, 0));
      hi = json_integer_value(json_array_get(e, 1));
    } else {
      return kiln_keras_error(b, "'%s' is not in a form Keras writes", key);
    }
    if (lo < 0 || hi < 0 || lo > (1 << 24) || hi > (1 << 24))
      return kiln_keras_error(b, "'%s' has a negative or huge amount", key);
    out[2 * d] = (int32_t)lo;
    out[2 * d + 1] = (int32_t)hi;
  }
  return NULL;
}

static kiln_status *zero_pad(kiln_keras_builder *b, const int *in, int n,
                             int dims, int *out, int *num_out) {
  KILN_TRY(kiln_keras_one_input(b, in, n, dims + 2));
  KILN_TRY(kiln_keras_channels_last(b));
  int32_t pads[8] = {0};
  KILN_TRY(pad_pairs(b, "padding", dims, pads + 2));
  int p;
  KILN_TRY(pairs_const(b, "paddings", pads, dims + 2, &p));
  int ins[2] = {in[0], p};
  *num_out = 1;
  return kiln_keras_node(b, KILN_OP_PAD, ins, 2, NULL, NULL, KILN_DTYPE_INVALID,
                         &out[0]);
}

kiln_status *kiln_keras_build_zero_padding1d(kiln_keras_builder *b,
                                             const int *in, int n, int *out,
                                             int *num_out) {
  return zero_pad(b, in, n, 1, out, num_out);
}

kiln_status *kiln_keras_build_zero_padding2d(kiln_keras_builder *b,
                                             const int *in, int n, int *out,
                                             int *num_out) {
  return zero_pad(b, in, n, 2, out, num_out);
}

kiln_status *kiln_keras_build_cropping2d(kiln_keras_builder *b, const int *in,
                                         int n, int *out, int *num_out) {
  KILN_TRY(kiln_keras_one_input(b, in, n, 4));
  KILN_TRY(kiln_keras_channels_last(b));
  int32_t crop[4] = {0};
  KILN_TRY(pad_pairs(b, "cropping", 2, crop));
  const kiln_value *v = kiln_keras_value(b, in[0]);
  int64_t h = v->dims[1] - crop[0] - crop[1],
          w = v->dims[2] - crop[2] - crop[3];
  if (h <= 0 || w <= 0)
    return kiln_keras_error(b, "cropping leaves nothing of a %lldx%lld input",
                            (long long)v->dims[1], (long long)v->dims[2]);
  int32_t begin[4] = {0, crop[0], crop[2], 0};
  int32_t size[4] = {-1, (int32_t)h, (int32_t)w, -1};
  int bi, si;
  KILN_TRY(kiln_keras_const_i32(b, "begin", begin, 4, &bi));
  KILN_TRY(kiln_keras_const_i32(b, "size", size, 4, &si));
  int ins[3] = {in[0], bi, si};
  *num_out = 1;
  return kiln_keras_node(b, KILN_OP_SLICE, ins, 3, NULL, NULL,
                         KILN_DTYPE_INVALID, &out[0]);
}

kiln_status *kiln_keras_build_cropping1d(kiln_keras_builder *b, const int *in,
                                         int n, int *out, int *num_out) {
  KILN_TRY(kiln_keras_one_input(b, in, n, 3));
  int32_t crop[2] = {0};
  KILN_TRY(pad_pairs(b, "cropping", 1, crop));
  int64_t steps = kiln_keras_value(b, in[0])->dims[1];
  int64_t kept = steps - crop[0] - crop[1];
  if (kept <= 0)
    return kiln_keras_error(b, "cropping leaves nothing of %lld steps",
                            (long long)steps);
  int32_t begin[3] = {0, crop[0], 0}, size[3] = {-1, (int32_t)kept, -1};
  int bi, si;
  KILN_TRY(kiln_keras_const_i32(b, "begin", begin, 3, &bi));
  KILN_TRY(kiln_keras_const_i32(b, "size", size, 3, &si));
  int ins[3] = {in[0], bi, si};
  *num_out = 1;
  return kiln_keras_node(b, KILN_OP_SLICE, ins, 3, NULL, NULL,
                         KILN_DTYPE_INVALID, &out[0]);
}

/* Each step repeated `size` times: [B, T, C] as [B, T, 1, C], tiled to
 * [B, T, size, C] and merged to [B, T * size, C] (a whole-number copy,
 * which no resize arithmetic can round wrong). */
kiln_status *kiln_keras_build_upsampling1d(kiln_keras_builder *b, const int *in,
                                           int n, int *out, int *num_out) {
  KILN_TRY(kiln_keras_one_input(b, in, n, 3));
  int size;
  KILN_TRY(kiln_keras_int(b, "size", 2, &size));
  const kiln_value *v = kiln_keras_value(b, in[0]);
  int64_t steps = v->dims[1], channels = v->dims[2];
  if (size < 1 || steps * size > (1 << 24))
    return kiln_keras_error(b, "size %d is out of range for %lld steps", size,
                            (long long)steps);
  int32_t split[4] = {-1, (int32_t)steps, 1, (int32_t)channels};
  int32_t tiles[4] = {1, 1, size, 1};
  int32_t merged[3] = {-1, (int32_t)(steps * size), (int32_t)channels};
  kiln_reshape_attrs split_a = {.num_dims = 4}, merged_a = {.num_dims = 3};
  memcpy(split_a.new_shape, split, sizeof split);
  memcpy(merged_a.new_shape, merged, sizeof merged);
  int s, t, m, x;
  KILN_TRY(kiln_keras_const_i32(b, "split_shape", split, 4, &s));
  int split_in[2] = {in[0], s};
  KILN_TRY(kiln_keras_node(b, KILN_OP_RESHAPE, split_in, 2, &split_a, "split",
                           KILN_DTYPE_INVALID, &x));
  KILN_TRY(kiln_keras_const_i32(b, "multiples", tiles, 4, &t));
  int tile_in[2] = {x, t};
  KILN_TRY(kiln_keras_node(b, KILN_OP_TILE, tile_in, 2, NULL, "tile",
                           KILN_DTYPE_INVALID, &x));
  KILN_TRY(kiln_keras_const_i32(b, "shape", merged, 3, &m));
  int merge_in[2] = {x, m};
  *num_out = 1;
  return kiln_keras_node(b, KILN_OP_RESHAPE, merge_in, 2, &merged_a, NULL,
                         KILN_DTYPE_INVALID, &out[0]);
}

static kiln_status *resize(kiln_keras_builder *b, int x, int64_t h, int64_t w,
                           const char *interpolation, bool half_pixel,
                           int *out) {
  kiln_op_type op;
  if (strcmp(interpolation, "nearest") == 0)
    op = KILN_OP_RESIZE_NEAREST_NEIGHBOR;
  else if (strcmp(interpolation, "bilinear") == 0)
    op = KILN_OP_RESIZE_BILINEAR;
  else
    return kiln_keras_error(b, "interpolation '%s' is not supported",
                            interpolation);
  if (h < 1 || w < 1 || h > (1 << 24) || w > (1 << 24))
    return kiln_keras_error(b, "the output size %lldx%lld is out of range",
                            (long long)h, (long long)w);
  int32_t size[2] = {(int32_t)h, (int32_t)w};
  int s;
  KILN_TRY(kiln_keras_const_i32(b, "size", size, 2, &s));
  kiln_resize_attrs a = {.align_corners = false,
                         .half_pixel_centers = half_pixel};
  int ins[2] = {x, s};
  return kiln_keras_node(b, op, ins, 2, &a, NULL, KILN_FLOAT32, out);
}

kiln_status *kiln_keras_build_upsampling2d(kiln_keras_builder *b, const int *in,
                                           int n, int *out, int *num_out) {
  KILN_TRY(kiln_keras_one_input(b, in, n, 4));
  KILN_TRY(kiln_keras_channels_last(b));
  static const int two[2] = {2, 2};
  int size[2];
  KILN_TRY(kiln_keras_ints(b, "size", 2, two, size));
  const kiln_value *v = kiln_keras_value(b, in[0]);
  const char *interpolation = kiln_keras_str(b, "interpolation", "nearest");
  *num_out = 1;
  /* Nearest is a repeat, which resize without half-pixel centers equals
   * for whole factors; bilinear is tf.image.resize's (half-pixel). */
  return resize(b, in[0], v->dims[1] * size[0], v->dims[2] * size[1],
                interpolation, strcmp(interpolation, "nearest") != 0, &out[0]);
}

kiln_status *kiln_keras_build_resizing(kiln_keras_builder *b, const int *in,
                                       int n, int *out, int *num_out) {
  KILN_TRY(kiln_keras_one_input(b, in, n, 4));
  KILN_TRY(kiln_keras_channels_last(b));
  bool crop, pad;
  KILN_TRY(kiln_keras_bool(b, "crop_to_aspect_ratio", false, &crop));
  KILN_TRY(kiln_keras_bool(b, "pad_to_aspect_ratio", false, &pad));
  if (crop || pad)
    return kiln_keras_error(b,
                            "crop_to_aspect_ratio and pad_to_aspect_ratio "
                            "are not supported");
  int h, w;
  KILN_TRY(kiln_keras_int(b, "height", 0, &h));
  KILN_TRY(kiln_keras_int(b, "width", 0, &w));
  int x = in[0];
  if (kiln_keras_value(b, x)->dtype != KILN_FLOAT32)
    KILN_TRY(kiln_keras_node(b, KILN_OP_CAST, &x, 1, NULL, "cast", KILN_FLOAT32,
                             &x));
  *num_out = 1;
  return resize(b, x, h, w, kiln_keras_str(b, "interpolation", "bilinear"),
                true, &out[0]);
}

static kiln_status *pool(kiln_keras_builder *b, int x, int dims, int *out) {
  KILN_TRY(kiln_keras_channels_last(b));
  int size[2], strides[2];
  static const int two[2] = {2, 2};
  KILN_TRY(kiln_keras_ints(b, "pool_size", dims, two, size));
  KILN_TRY(kiln_keras_ints(b, "strides", dims, size, strides));
  if (dims == 1) {
    size[1] = size[0];
    strides[1] = strides[0];
    size[0] = strides[0] = 1;
  }
  for (int i = 0; i < 2; i++)
    if (size[i] < 1 || strides[i] < 1)
      return kiln_keras_error(b, "pool_size and strides must be positive");
  const char *padding = kiln_keras_str(b, "padding", "valid");
  kiln_pool_attrs a = {.stride_h = strides[0],
                       .stride_w = strides[1],
                       .filter_h = size[0],
                       .filter_w = size[1]};
  if (strcmp(padding, "same") == 0)
    a.padding = KILN_PAD_SAME;
  else if (strcmp(padding, "valid") == 0)
    a.padding = KILN_PAD_VALID;
  else
    return kiln_keras_error(b, "padding '%s' is not supported", padding);
  kiln_op_type op = strstr(b->class_name, "Max") ? KILN_OP_MAX_POOL_2D
                                                 : KILN_OP_AVERAGE_POOL_2D;
  return kiln_keras_node(b, op, &x, 1, &a, dims == 1 ? "pool" : NULL,
                         KILN_DTYPE_INVALID, out);
}

kiln_status *kiln_keras_build_pool2d(kiln_keras_builder *b, const int *in,
                                     int n, int *out, int *num_out) {
  KILN_TRY(kiln_keras_one_input(b, in, n, 4));
  *num_out = 1;
  return pool(b, in[0], 2, &out[0]);
}

kiln_status *kiln_keras_build_pool1d(kiln_keras_builder *b, const int *in,
                                     int n, int *out, int *num_out) {
  KILN_TRY(kiln_keras_one_input(b, in, n, 3));
  int32_t axis = 1;
  int a, x, y;
  KILN_TRY(kiln_keras_const_i32(b, "expand_axis", &axis, 1, &a));
  int ins[2] = {in[0], a};
  KILN_TRY(kiln_keras_node(b, KILN_OP_EXPAND_DIMS, ins, 2, NULL, "as_2d",
                           KILN_DTYPE_INVALID, &x));
  KILN_TRY(pool(b, x, 1, &y));
  kiln_squeeze_attrs sq = {.num_axes = 1, .axes = {1}};
  *num_out = 1;
  return kiln_keras_node(b, KILN_OP_SQUEEZE, &y, 1, &sq, NULL,
                         KILN_DTYPE_INVALID, &out[0]);
}

kiln_status *kiln_keras_build_global_pool(kiln_keras_builder *b, const int *in,
                                          int n, int *out, int *num_out) {
  KILN_TRY(kiln_keras_channels_last(b));
  bool keepdims;
  KILN_TRY(kiln_keras_bool(b, "keepdims", false, &keepdims));
  int spatial = strstr(b->class_name, "1D") ? 1 : 2;
  KILN_TRY(kiln_keras_one_input(b, in, n, spatial + 2));
  int32_t axes[2] = {1, 2};
  int a;
  KILN_TRY(kiln_keras_const_i32(b, "axes", axes, spatial, &a));
  kiln_reduce_attrs r = {.keep_dims = keepdims};
  kiln_op_type op =
      strstr(b->class_name, "Max") ? KILN_OP_REDUCE_MAX : KILN_OP_MEAN;
  int ins[2] = {in[0], a};
  *num_out = 1;
  return kiln_keras_node(b, op, ins, 2, &r, NULL, KILN_DTYPE_INVALID, &out[0]);
}
