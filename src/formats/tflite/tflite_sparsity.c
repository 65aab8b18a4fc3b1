/* tflite_sparsity.c - checks TFLite's SparsityParameters and expands sparse
 * constants into dense ones at load.
 *
 * The format: a tensor of dense rank n may have k of its dimensions cut into
 * blocks (block_map[j] names the dimension, dim_metadata[n + j].dense_size
 * the block's size), which gives n + k "expanded" dimensions: the original
 * ones divided by their block size, then the blocks. traversal_order lists
 * the expanded dimensions in storage order (the original ones first, as
 * TFLite's converter writes and its FormatConverter assumes), and
 * dim_metadata[l] says how level l is stored: DENSE walks every index of
 * the dimension, SPARSE_CSR keeps only some, array_segments[p] ..
 * array_segments[p + 1] being the entries of array_indices under position p
 * of the level above. The values are stored in that walk's order.
 *
 * Everything is checked before the walk, so the walk itself reads no
 * unchecked element; and the walk is a loop over an explicit stack, never
 * recursion, so a deep format cannot exhaust the C stack. */
#include "formats/tflite/tflite_sparsity.h"

#include <stdbool.h>
#include <string.h>

#include "core/status.h"
#include "formats/tflite/tflite_schema.h"

#define INVALID(...) kiln_error(KILN_ERR_INVALID_MODEL, __VA_ARGS__)
#define MAX_LEVELS (2 * KILN_MAX_RANK)

/* One SparseIndexVector: checked elements of 1, 2 or 4 bytes. */
typedef struct index_vector {
  kiln_fb_vector vec;
  const uint8_t *data;
  unsigned width;
} index_vector;

typedef struct level {
  int dim;      /* the expanded dimension this level walks */
  int64_t size; /* its extent */
  bool sparse;
  index_vector segments, indices;
} level;

typedef struct format {
  int rank, num_blocks, num_levels;
  int block_dim[KILN_MAX_RANK];      /* original dimension of block j */
  int64_t block_size[KILN_MAX_RANK]; /* its size */
  int64_t expanded[MAX_LEVELS];      /* extent of each expanded dimension */
  level levels[MAX_LEVELS];
  uint64_t num_values; /* positions the last level reaches */
} format;

/* Element i of a checked index vector (i below its length). Int32Vector
 * elements are signed; a negative one comes back negative. */
static int64_t index_at(const index_vector *v, uint32_t i) {
  const uint8_t *p = v->data + (size_t)i * v->width;
  switch (v->width) {
    case 1:
      return p[0];
    case 2:
      return (int64_t)(p[0] | (uint32_t)p[1] << 8);
    default:
      return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 |
                       (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
  }
}

static const char *const index_type_names[] = {"NONE", "Int32Vector",
                                               "Uint16Vector", "Uint8Vector"};

/* A SparseIndexVector union field (array_segments or array_indices). */
static kiln_status *read_index_vector(const kiln_fb_table *dim, int type_field,
                                      int value_field, const char *what, int l,
                                      index_vector *out) {
  uint8_t type;
  kiln_fb_table table;
  memset(out, 0, sizeof *out);
  KILN_TRY(
      kiln_status_wrap(kiln_fb_union_field(dim, type_field, value_field,
                                           "SparseIndexVector", &type, &table),
                       "dim_metadata[%d].%s", l, what));
  switch (type) {
    case TFL_INDEX_INT32:
      out->width = 4;
      break;
    case TFL_INDEX_UINT16:
      out->width = 2;
      break;
    case TFL_INDEX_UINT8:
      out->width = 1;
      break;
    case TFL_INDEX_NONE:
      return INVALID(
          "dim_metadata[%d] is SPARSE_CSR but has no %s (an Int32Vector, "
          "Uint16Vector or Uint8Vector)",
          l, what);
    default:
      return INVALID(
          "dim_metadata[%d].%s has union type %u; known types are 1 "
          "(Int32Vector), 2 (Uint16Vector) and 3 (Uint8Vector)",
          l, what, type);
  }
  bool present;
  KILN_TRY(kiln_status_wrap(
      kiln_fb_vector_field(&table, TFL_INDEX_VECTOR_VALUES, out->width,
                           &out->vec, &present),
      "dim_metadata[%d].%s (%s)", l, what, index_type_names[type]));
  if (!present)
    return INVALID("dim_metadata[%d].%s (%s) has no values vector", l, what,
                   index_type_names[type]);
  out->data = kiln_fb_vec_data(&out->vec);
  return NULL;
}

/* traversal_order and block_map: the level -> dimension map and the
 * blocked dimensions. */
static kiln_status *read_order(const kiln_fb_table *sp, const kiln_value *v,
                               format *f) {
  kiln_fb_vector order, blocks;
  KILN_TRY(kiln_status_wrap(
      kiln_fb_vector_field(sp, TFL_SPARSITY_TRAVERSAL_ORDER, 4, &order, NULL),
      "traversal_order"));
  KILN_TRY(kiln_status_wrap(
      kiln_fb_vector_field(sp, TFL_SPARSITY_BLOCK_MAP, 4, &blocks, NULL),
      "block_map"));
  f->rank = v->rank;
  if (blocks.length > (uint32_t)v->rank)
    return INVALID("block_map has %u entries but the tensor only %d dimensions",
                   blocks.length, v->rank);
  f->num_blocks = (int)blocks.length;
  f->num_levels = f->rank + f->num_blocks;
  if (order.length != (uint32_t)f->num_levels)
    return INVALID(
        "traversal_order has %u entries; %d dimensions and %d blocks need %d",
        order.length, f->rank, f->num_blocks, f->num_levels);
  bool blocked[KILN_MAX_RANK] = {false};
  for (int j = 0; j < f->num_blocks; j++) {
    int32_t d = kiln_fb_vec_i32(&blocks, (uint32_t)j);
    if (d < 0 || d >= f->rank)
      return INVALID("block_map[%d] is %d, not a dimension of the %d-D tensor",
                     j, d, f->rank);
    if (blocked[d])
      return INVALID("block_map[%d] blocks dimension %d a second time", j, d);
    blocked[d] = true;
    f->block_dim[j] = d;
  }
  bool seen[MAX_LEVELS] = {false};
  for (int l = 0; l < f->num_levels; l++) {
    int32_t d = kiln_fb_vec_i32(&order, (uint32_t)l);
    if (d < 0 || d >= f->num_levels)
      return INVALID(
          "traversal_order[%d] is %d, outside the %d expanded dimensions", l, d,
          f->num_levels);
    if (seen[d])
      return INVALID(
          "traversal_order[%d] repeats dimension %d (it must be a "
          "permutation)",
          l, d);
    if ((l < f->rank) != (d < f->rank))
      return INVALID(
          "traversal_order[%d] is %d: the %d original dimensions come first, "
          "then the %d block dimensions",
          l, d, f->rank, f->num_blocks);
    seen[d] = true;
    f->levels[l].dim = d;
  }
  return NULL;
}

/* Block sizes (from the levels that walk the block dimensions) and the
 * expanded extents. */
static kiln_status *read_extents(const kiln_fb_vector *dims,
                                 const kiln_value *v, format *f) {
  for (int d = 0; d < f->rank; d++) {
    if (v->signature[d] < 0)
      return INVALID(
          "dimension %d is dynamic; a sparse constant needs a "
          "static shape",
          d);
    f->expanded[d] = v->dims[d];
  }
  for (int l = f->rank; l < f->num_levels; l++) {
    kiln_fb_table dim;
    int8_t fmt;
    int32_t size;
    int j = f->levels[l].dim - f->rank;
    KILN_TRY(kiln_status_wrap(
        kiln_fb_vec_table(dims, (uint32_t)l, "DimensionMetadata", &dim),
        "dim_metadata[%d]", l));
    KILN_TRY(kiln_fb_i8(&dim, TFL_DIM_FORMAT, TFL_DIM_DENSE, &fmt));
    KILN_TRY(kiln_fb_i32(&dim, TFL_DIM_DENSE_SIZE, 0, &size));
    if (fmt != TFL_DIM_DENSE)
      return INVALID(
          "dim_metadata[%d] walks block %d and must be DENSE (its "
          "format is %d)",
          l, j, fmt);
    int d = f->block_dim[j];
    if (size <= 0 || v->dims[d] % size != 0)
      return INVALID(
          "dim_metadata[%d].dense_size is %d, which does not divide "
          "dimension %d (%lld) it blocks",
          l, size, d, (long long)v->dims[d]);
    f->block_size[j] = size;
    f->expanded[f->rank + j] = size;
    f->expanded[d] /= size;
  }
  return NULL;
}

/* Checks one SPARSE_CSR level under `parents` positions; returns the
 * positions it reaches. */
static kiln_status *check_csr(const level *lv, int l, uint64_t parents,
                              uint64_t *out_positions) {
  const index_vector *seg = &lv->segments, *idx = &lv->indices;
  if ((uint64_t)seg->vec.length != parents + 1)
    return INVALID(
        "dim_metadata[%d].array_segments has %u entries; the %llu positions "
        "of the level above need %llu",
        l, seg->vec.length, (unsigned long long)parents,
        (unsigned long long)parents + 1);
  if (index_at(seg, 0) != 0)
    return INVALID("dim_metadata[%d].array_segments[0] is %lld, not 0", l,
                   (long long)index_at(seg, 0));
  for (uint32_t p = 0; p < (uint32_t)parents; p++) {
    int64_t begin = index_at(seg, p), end = index_at(seg, p + 1);
    if (end < begin)
      return INVALID(
          "dim_metadata[%d].array_segments[%u] is %lld, below the %lld before "
          "it",
          l, p + 1, (long long)end, (long long)begin);
    if (end > (int64_t)idx->vec.length)
      return INVALID(
          "dim_metadata[%d].array_segments[%u] is %lld, past the %u "
          "array_indices",
          l, p + 1, (long long)end, idx->vec.length);
    for (int64_t i = begin; i < end; i++) {
      int64_t c = index_at(idx, (uint32_t)i);
      if (c < 0 || c >= lv->size)
        return INVALID(
            "dim_metadata[%d].array_indices[%lld] is %lld, outside expanded "
            "dimension %d of size %lld",
            l, (long long)i, (long long)c, lv->dim, (long long)lv->size);
      if (i > begin && c <= index_at(idx, (uint32_t)(i - 1)))
        return INVALID(
            "dim_metadata[%d].array_indices[%lld] is %lld, not above the "
            "index before it in its segment",
            l, (long long)i, (long long)c);
    }
  }
  *out_positions = (uint64_t)index_at(seg, (uint32_t)parents);
  return NULL;
}

/* Reads every level's storage and counts the positions each reaches. The
 * counts stay below the dense element count (a level reaches at most its
 * parents times its extent), which the caller has already bounded. */
static kiln_status *read_levels(const kiln_fb_vector *dims, format *f) {
  uint64_t positions = 1;
  for (int l = 0; l < f->num_levels; l++) {
    level *lv = &f->levels[l];
    kiln_fb_table dim;
    int8_t fmt;
    int32_t dense_size;
    lv->size = f->expanded[lv->dim];
    KILN_TRY(kiln_status_wrap(
        kiln_fb_vec_table(dims, (uint32_t)l, "DimensionMetadata", &dim),
        "dim_metadata[%d]", l));
    KILN_TRY(kiln_fb_i8(&dim, TFL_DIM_FORMAT, TFL_DIM_DENSE, &fmt));
    KILN_TRY(kiln_fb_i32(&dim, TFL_DIM_DENSE_SIZE, 0, &dense_size));
    if (fmt == TFL_DIM_DENSE) {
      if (dense_size != lv->size)
        return INVALID(
            "dim_metadata[%d] is DENSE with dense_size %d, but expanded "
            "dimension %d it walks has %lld",
            l, dense_size, lv->dim, (long long)lv->size);
      positions *= (uint64_t)lv->size;
      continue;
    }
    if (fmt != TFL_DIM_SPARSE_CSR)
      return INVALID(
          "dim_metadata[%d].format is %d; known formats are 0 (DENSE) and 1 "
          "(SPARSE_CSR)",
          l, fmt);
    lv->sparse = true;
    KILN_TRY(read_index_vector(&dim, TFL_DIM_ARRAY_SEGMENTS_TYPE,
                               TFL_DIM_ARRAY_SEGMENTS, "array_segments", l,
                               &lv->segments));
    KILN_TRY(read_index_vector(&dim, TFL_DIM_ARRAY_INDICES_TYPE,
                               TFL_DIM_ARRAY_INDICES, "array_indices", l,
                               &lv->indices));
    KILN_TRY(check_csr(lv, l, positions, &positions));
  }
  f->num_values = positions;
  return NULL;
}

/* Copies the value at storage position `pos` to the dense element the
 * walk's coordinates name. */
static void place(const format *f, const int64_t *coord, const uint8_t *values,
                  uint64_t pos, size_t elem, uint8_t *dense,
                  const kiln_value *v) {
  int64_t orig[KILN_MAX_RANK];
  for (int l = 0; l < f->rank; l++) orig[f->levels[l].dim] = coord[l];
  for (int l = f->rank; l < f->num_levels; l++) {
    int j = f->levels[l].dim - f->rank;
    int d = f->block_dim[j];
    orig[d] = orig[d] * f->block_size[j] + coord[l];
  }
  uint64_t flat = 0;
  for (int d = 0; d < f->rank; d++)
    flat = flat * (uint64_t)v->dims[d] + (uint64_t)orig[d];
  memcpy(dense + flat * elem, values + pos * elem, elem);
}

/* Starts level l under position `parent` of the level above: a dense level
 * runs over its whole extent, a sparse one over its segment. */
static void enter(const level *lv, uint64_t parent, uint64_t *cur,
                  uint64_t *end, uint64_t *base) {
  if (lv->sparse) {
    *cur = (uint64_t)index_at(&lv->segments, (uint32_t)parent);
    *end = (uint64_t)index_at(&lv->segments, (uint32_t)parent + 1);
  } else {
    *base = *cur = parent * (uint64_t)lv->size;
    *end = *cur + (uint64_t)lv->size;
  }
}

/* Walks the checked format depth first: cur[l] is the position at level l,
 * end[l] where the current run of level l stops. The last level's
 * position is the value's index in storage order. */
static void walk(const format *f, const uint8_t *values, size_t elem,
                 uint8_t *dense, const kiln_value *v) {
  uint64_t cur[MAX_LEVELS], end[MAX_LEVELS], base[MAX_LEVELS] = {0};
  int64_t coord[MAX_LEVELS];
  int last = f->num_levels - 1, l = 0;
  enter(&f->levels[0], 0, &cur[0], &end[0], &base[0]);
  for (;;) {
    if (cur[l] >= end[l]) {
      if (l == 0) return;
      l--;
      cur[l]++;
      continue;
    }
    const level *lv = &f->levels[l];
    coord[l] = lv->sparse ? index_at(&lv->indices, (uint32_t)cur[l])
                          : (int64_t)(cur[l] - base[l]);
    if (l == last) {
      place(f, coord, values, cur[l], elem, dense, v);
      cur[l]++;
      continue;
    }
    l++;
    enter(&f->levels[l], cur[l - 1], &cur[l], &end[l], &base[l]);
  }
}

kiln_status *kiln_tflite_densify(const kiln_fb_table *sparsity,
                                 const kiln_value *v, const uint8_t *values,
                                 uint64_t size, void *dense) {
  format f;
  kiln_fb_vector dims;
  memset(&f, 0, sizeof f);
  if (v->rank == 0) return INVALID("sparsity parameters on a scalar (rank 0)");
  KILN_TRY(read_order(sparsity, v, &f));
  KILN_TRY(kiln_status_wrap(
      kiln_fb_vector_field(sparsity, TFL_SPARSITY_DIM_METADATA, 4, &dims, NULL),
      "dim_metadata"));
  if (dims.length != (uint32_t)f.num_levels)
    return INVALID(
        "dim_metadata has %u entries; traversal_order lists %d levels",
        dims.length, f.num_levels);
  KILN_TRY(read_extents(&dims, v, &f));
  KILN_TRY(read_levels(&dims, &f));
  size_t elem = kiln_dtype_size(v->dtype);
  if (size != f.num_values * elem)
    return INVALID(
        "its buffer holds %llu bytes but the sparsity metadata reaches %llu "
        "values of %s (%llu bytes)",
        (unsigned long long)size, (unsigned long long)f.num_values,
        kiln_dtype_name(v->dtype), (unsigned long long)(f.num_values * elem));
  if (f.num_values) walk(&f, values, elem, dense, v);
  return NULL;
}
