/* test_ref_stablehlo_window_scatter.c - the STABLEHLO_REDUCE_WINDOW and
 * STABLEHLO_SCATTER kernels on random shapes, attributes, data and every
 * type each takes. REDUCE_WINDOW is checked against the way LiteRT
 * computes it, written out here: the dilated input and then the padded one
 * built as arrays of their own, and each window reduced from them (the
 * kernel maps taps back to the input instead). SCATTER is checked against
 * a walk from the other side: over the indices' batch positions and the
 * window's positions, building each update's coordinates from them (the
 * kernel splits each update's coordinates instead), with typed arithmetic
 * written here; and a row scatter against a direct loop. Then the shape
 * functions' errors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops_test_util.h"

/* ---- typed element access for every type the two operators take ---- */

static bool is_real(kiln_dtype t) {
  return t == KILN_FLOAT32 || t == KILN_FLOAT64 || t == KILN_FLOAT16;
}

static double get_real(const kiln_tensor *t, int64_t i) {
  switch (t->dtype) {
    case KILN_FLOAT64:
      return ((const double *)t->data)[i];
    case KILN_FLOAT16:
      return kiln_half_to_float(((const uint16_t *)t->data)[i]);
    default:
      return ((const float *)t->data)[i];
  }
}

/* Integers as int64 (uint64 by its bits). */
static int64_t get_int(const kiln_tensor *t, int64_t i) {
  switch (t->dtype) {
    case KILN_UINT16:
      return ((const uint16_t *)t->data)[i];
    case KILN_UINT32:
      return ((const uint32_t *)t->data)[i];
    case KILN_UINT64:
      return (int64_t)((const uint64_t *)t->data)[i];
    default:
      return geti(t, i);
  }
}

/* v wrapped to the type's width (bool as the int8 LiteRT's REDUCE_WINDOW
 * runs it as). */
static int64_t wrap(kiln_dtype t, int64_t v) {
  switch (t) {
    case KILN_BOOL:
      return wrap_to(KILN_INT8, v);
    case KILN_UINT16:
      return (uint16_t)(uint64_t)v;
    case KILN_UINT32:
      return (uint32_t)(uint64_t)v;
    default:
      return wrap_to(t, v);
  }
}

static void put_int(kiln_tensor *t, int64_t i, int64_t v) {
  switch (t->dtype) {
    case KILN_BOOL:
      ((int8_t *)t->data)[i] = (int8_t)v;
      break;
    case KILN_UINT16:
      ((uint16_t *)t->data)[i] = (uint16_t)v;
      break;
    case KILN_UINT32:
      ((uint32_t *)t->data)[i] = (uint32_t)v;
      break;
    case KILN_UINT64:
      ((uint64_t *)t->data)[i] = (uint64_t)v;
      break;
    default:
      setv(t, i, (double)v);
      if (t->dtype == KILN_INT64) ((int64_t *)t->data)[i] = v;
  }
}

static void put_real(kiln_tensor *t, int64_t i, double v) {
  if (t->dtype == KILN_FLOAT64)
    ((double *)t->data)[i] = v;
  else if (t->dtype == KILN_FLOAT16)
    ((uint16_t *)t->data)[i] = kiln_float_to_half((float)v);
  else
    ((float *)t->data)[i] = (float)v;
}

static void fill(kiln_tensor *t, int lo, int hi) {
  int64_t n = kiln_tensor_numel(t);
  for (int64_t i = 0; i < n; i++) {
    if (is_real(t->dtype))
      put_real(t, i, kiln_test_uniform((float)lo, (float)hi));
    else if (t->dtype == KILN_BOOL)
      put_int(t, i, kiln_test_int(0, 1));
    else if (t->dtype == KILN_UINT8 || t->dtype == KILN_UINT16 ||
             t->dtype == KILN_UINT32 || t->dtype == KILN_UINT64)
      put_int(t, i, kiln_test_int(0, hi - lo));
    else
      put_int(t, i, kiln_test_int(lo, hi));
  }
}

/* Elements equal (integers, bytes) or within 1e-5 relative (reals). */
static bool same_element(const kiln_tensor *a, const kiln_tensor *b,
                         int64_t i) {
  if (!is_real(a->dtype)) return get_int(a, i) == get_int(b, i);
  double x = get_real(a, i), y = get_real(b, i);
  if (isnan(x) || isnan(y)) return isnan(x) && isnan(y);
  return fabs(x - y) <= 1e-5 * fmax(1.0, fabs(y));
}

static bool same_tensor(const kiln_tensor *got, const kiln_tensor *want) {
  if (got->rank != want->rank) return false;
  for (int d = 0; d < got->rank; d++)
    if (got->dims[d] != want->dims[d]) return false;
  int64_t n = kiln_tensor_numel(want);
  for (int64_t i = 0; i < n; i++)
    if (!same_element(got, want, i)) return false;
  return true;
}

/* Row-major odometer; false after the last index. */
static bool next_index(int64_t *idx, const int64_t *dims, int rank) {
  for (int d = rank - 1; d >= 0; d--) {
    if (++idx[d] < dims[d]) return true;
    idx[d] = 0;
  }
  return false;
}

static int64_t flat_of(const int64_t *idx, const int64_t *dims, int rank) {
  int64_t f = 0;
  for (int d = 0; d < rank; d++) f = f * dims[d] + idx[d];
  return f;
}

/* ------------------------------------------------ STABLEHLO_REDUCE_WINDOW */

static const kiln_dtype WINDOW_TYPES[] = {
    KILN_FLOAT32, KILN_FLOAT64, KILN_INT8,  KILN_INT16,
    KILN_INT32,   KILN_INT64,   KILN_UINT8, KILN_BOOL};

/* acc combined with v as LiteRT's functors do, in the tensor's type. */
static int64_t combine_int(kiln_window_function f, kiln_dtype t, int64_t acc,
                           int64_t v) {
  switch (f) {
    case KILN_WINDOW_ADD:
      return wrap(t, (int64_t)((uint64_t)acc + (uint64_t)v));
    case KILN_WINDOW_MUL:
      return wrap(t, (int64_t)((uint64_t)acc * (uint64_t)v));
    case KILN_WINDOW_MINIMUM:
      return v < acc ? v : acc;
    case KILN_WINDOW_MAXIMUM:
      return v > acc ? v : acc;
    case KILN_WINDOW_ALL:
      return acc && v;
    default:
      return acc || v;
  }
}

static double combine_real(kiln_window_function f, kiln_dtype t, double acc,
                           double v) {
  double r;
  switch (f) {
    case KILN_WINDOW_ADD:
      r = acc + v;
      break;
    case KILN_WINDOW_MUL:
      r = acc * v;
      break;
    case KILN_WINDOW_MINIMUM:
      r = v < acc ? v : acc;
      break;
    case KILN_WINDOW_MAXIMUM:
      r = v > acc ? v : acc;
      break;
    case KILN_WINDOW_ALL:
      r = acc != 0 && v != 0;
      break;
    default:
      r = acc != 0 || v != 0;
  }
  return t == KILN_FLOAT32 ? (float)r : r;
}

/* The expected result, computed as LiteRT does: dilate into an array of
 * its own, pad or crop that into another, then reduce the windows. */
static kiln_tensor *expected_window(const kiln_stablehlo_reduce_window_attrs *a,
                                    const kiln_tensor *in,
                                    const kiln_tensor *init) {
  int r = a->rank;
  int64_t ddims[KILN_MAX_RANK], pdims[KILN_MAX_RANK], odims[KILN_MAX_RANK];
  for (int d = 0; d < r; d++) {
    ddims[d] = (in->dims[d] - 1) * a->base_dilations[d] + 1;
    pdims[d] = ddims[d] + a->padding[2 * d] + a->padding[2 * d + 1];
    int64_t span = (a->window[d] - 1) * a->window_dilations[d] + 1;
    odims[d] = pdims[d] < span ? 0 : (pdims[d] - span) / a->strides[d] + 1;
  }
  kiln_tensor *dil = kiln_test_tensor(in->dtype, r, ddims);
  kiln_tensor *pad = kiln_test_tensor(in->dtype, r, pdims);
  kiln_tensor *out = kiln_test_tensor(in->dtype, r, odims);
  size_t es = kiln_dtype_size(in->dtype);
  int64_t nd = kiln_tensor_numel(dil), np = kiln_tensor_numel(pad);
  for (int64_t i = 0; i < nd; i++)
    memcpy((char *)dil->data + i * es, init->data, es);
  for (int64_t i = 0; i < np; i++)
    memcpy((char *)pad->data + i * es, init->data, es);
  int64_t idx[KILN_MAX_RANK] = {0}, at[KILN_MAX_RANK];
  do { /* dilate */
    for (int d = 0; d < r; d++) at[d] = idx[d] * a->base_dilations[d];
    memcpy((char *)dil->data + flat_of(at, ddims, r) * es,
           (const char *)in->data + flat_of(idx, in->dims, r) * es, es);
  } while (next_index(idx, in->dims, r));
  memset(idx, 0, sizeof idx);
  do { /* pad (or crop) */
    bool inside = true;
    for (int d = 0; d < r; d++) {
      at[d] = idx[d] - a->padding[2 * d];
      inside &= at[d] >= 0 && at[d] < ddims[d];
    }
    if (inside)
      memcpy((char *)pad->data + flat_of(idx, pdims, r) * es,
             (const char *)dil->data + flat_of(at, ddims, r) * es, es);
  } while (next_index(idx, pdims, r) && np > 0);
  int64_t no = kiln_tensor_numel(out);
  memset(idx, 0, sizeof idx);
  for (int64_t o = 0; o < no; o++, next_index(idx, odims, r)) {
    bool real = is_real(in->dtype);
    double acc_r = real ? get_real(init, 0) : 0;
    int64_t acc_i = real ? 0 : get_int(init, 0);
    int64_t w[KILN_MAX_RANK] = {0};
    do {
      for (int d = 0; d < r; d++)
        at[d] = idx[d] * a->strides[d] + w[d] * a->window_dilations[d];
      int64_t p = flat_of(at, pdims, r);
      if (real)
        acc_r = combine_real(a->function, in->dtype, acc_r, get_real(pad, p));
      else
        acc_i = combine_int(a->function, in->dtype, acc_i, get_int(pad, p));
    } while (next_index(w, a->window, r));
    if (real)
      put_real(out, o, acc_r);
    else
      put_int(out, o, acc_i);
  }
  kiln_test_tensor_free(dil);
  kiln_test_tensor_free(pad);
  return out;
}

static void random_window_attrs(kiln_stablehlo_reduce_window_attrs *a,
                                const tshape *s) {
  memset(a, 0, sizeof *a);
  a->rank = s->rank;
  a->function = (kiln_window_function)kiln_test_int(1, 6);
  for (int d = 0; d < s->rank; d++) {
    a->window[d] = kiln_test_int(1, 3);
    a->strides[d] = kiln_test_int(1, 3);
    a->base_dilations[d] = kiln_test_int(1, 3);
    a->window_dilations[d] = kiln_test_int(1, 2);
    int64_t dilated = (s->dims[d] - 1) * a->base_dilations[d] + 1;
    /* negative padding crops, but leaves at least one element */
    a->padding[2 * d] = kiln_test_int(-1, 2);
    a->padding[2 * d + 1] = kiln_test_int(-1, 2);
    while (dilated + a->padding[2 * d] + a->padding[2 * d + 1] < 1)
      a->padding[2 * d + 1]++;
  }
}

static void test_reduce_window_random(void) {
  for (int trial = 0; trial < 400; trial++) {
    kiln_dtype t = WINDOW_TYPES[trial % 8];
    tshape s = {kiln_test_int(1, 4), {0}};
    for (int d = 0; d < s.rank; d++) s.dims[d] = kiln_test_int(1, 5);
    kiln_stablehlo_reduce_window_attrs a;
    random_window_attrs(&a, &s);
    tshape one = {0, {0}};
    kiln_tensor *in = tensor_of(t, &s), *init = tensor_of(t, &one);
    bool mul = a.function == KILN_WINDOW_MUL;
    fill(in, mul ? -2 : -50, mul ? 2 : 50);
    fill(init, mul ? 1 : -3, mul ? 1 : 3);
    kiln_tensor *ins[2] = {in, init}, *out = kiln_test_output();
    out->dtype = t;
    CHECK_OK(run_poisoned(KILN_OP_STABLEHLO_REDUCE_WINDOW, &a, ins, 2, out));
    kiln_tensor *want = expected_window(&a, in, init);
    if (!same_tensor(out, want)) {
      fprintf(stderr, "reduce_window trial %d (%s, function %d, rank %d)\n",
              trial, kiln_dtype_name(t), (int)a.function, s.rank);
      CHECK(false);
    }
    kiln_test_tensors_free((kiln_tensor *[]){in, init, out, want}, 4);
  }
}

/* A 1x6x6x1 max pool with SAME-like padding (the converter's shape): the
 * padding (init -inf) never wins. */
static void test_reduce_window_pool(void) {
  kiln_stablehlo_reduce_window_attrs a = {4,
                                          {1, 3, 3, 1},
                                          {1, 2, 2, 1},
                                          {1, 1, 1, 1},
                                          {1, 1, 1, 1},
                                          {0, 0, 1, 1, 1, 1, 0, 0},
                                          0,
                                          KILN_WINDOW_MAXIMUM};
  int64_t dims[4] = {1, 6, 6, 1};
  kiln_tensor *in = kiln_test_tensor_f32(4, dims, NULL);
  float ninf = -INFINITY;
  kiln_tensor *init = kiln_test_tensor_f32(0, dims, &ninf);
  kiln_tensor *ins[2] = {in, init}, *out = kiln_test_output();
  CHECK_OK(run_poisoned(KILN_OP_STABLEHLO_REDUCE_WINDOW, &a, ins, 2, out));
  CHECK(out->rank == 4 && out->dims[1] == 3 && out->dims[2] == 3);
  const float *x = in->data, *y = out->data;
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 3; j++) {
      float m = -INFINITY;
      for (int di = -1; di <= 1; di++)
        for (int dj = -1; dj <= 1; dj++) {
          int r = 2 * i + di, c = 2 * j + dj;
          if (r >= 0 && r < 6 && c >= 0 && c < 6 && x[r * 6 + c] > m)
            m = x[r * 6 + c];
        }
      CHECK(y[i * 3 + j] == m);
    }
  kiln_test_tensors_free((kiln_tensor *[]){in, init, out}, 3);
}

static void test_reduce_window_errors(void) {
  kiln_stablehlo_reduce_window_attrs a = {
      2, {2, 2}, {1, 1}, {1, 1}, {1, 1}, {0, 0, 0, 0}, 0, KILN_WINDOW_ADD};
  int64_t dims[2] = {3, 4};
  kiln_tensor *in = kiln_test_tensor_f32(2, dims, NULL);
  kiln_tensor *init = kiln_test_tensor_f32(0, dims, NULL);
  kiln_tensor *ins[2] = {in, init}, *out = kiln_test_output();
  CHECK_OK(shape_only(KILN_OP_STABLEHLO_REDUCE_WINDOW, &a, ins, 2, out));
  CHECK(out->dims[0] == 2 && out->dims[1] == 3);
  a.rank = 3;
  CHECK_ERROR(shape_only(KILN_OP_STABLEHLO_REDUCE_WINDOW, &a, ins, 2, out),
              KILN_ERR_INVALID_MODEL, "window_dimensions has 3");
  a.rank = 2;
  a.padding[0] = -2;
  a.padding[1] = -1; /* 3 rows cropped to nothing */
  CHECK_ERROR(shape_only(KILN_OP_STABLEHLO_REDUCE_WINDOW, &a, ins, 2, out),
              KILN_ERR_INVALID_ARGUMENT, "after dilation and padding");
  a.padding[0] = a.padding[1] = 0;
  a.function = (kiln_window_function)0;
  CHECK_ERROR(shape_only(KILN_OP_STABLEHLO_REDUCE_WINDOW, &a, ins, 2, out),
              KILN_ERR_UNSUPPORTED, "not recognized");
  a.function = KILN_WINDOW_ADD;
  kiln_tensor *wrong = kiln_test_tensor(KILN_INT32, 0, dims);
  ins[1] = wrong;
  CHECK_ERROR(shape_only(KILN_OP_STABLEHLO_REDUCE_WINDOW, &a, ins, 2, out),
              KILN_ERR_INVALID_MODEL, "init_value");
  kiln_tensor *half = kiln_test_tensor(KILN_FLOAT16, 2, dims);
  ins[0] = half;
  CHECK_ERROR(shape_only(KILN_OP_STABLEHLO_REDUCE_WINDOW, &a, ins, 2, out),
              KILN_ERR_UNSUPPORTED, "input 0 (input)");
  kiln_test_tensors_free((kiln_tensor *[]){in, init, out, wrong, half}, 5);
}

/* ------------------------------------------------------ STABLEHLO_SCATTER */

static const kiln_dtype SCATTER_TYPES[] = {
    KILN_FLOAT16, KILN_FLOAT32, KILN_FLOAT64, KILN_INT8,
    KILN_INT16,   KILN_INT32,   KILN_INT64,   KILN_UINT8,
    KILN_UINT16,  KILN_UINT32,  KILN_UINT64,  KILN_BOOL};

static bool is_unsigned(kiln_dtype t) {
  return t == KILN_UINT8 || t == KILN_UINT16 || t == KILN_UINT32 ||
         t == KILN_UINT64 || t == KILN_BOOL;
}

/* x < y in the type's order. */
static bool less(kiln_dtype t, int64_t x, int64_t y) {
  return is_unsigned(t) ? (uint64_t)x < (uint64_t)y : x < y;
}

/* result[r] = f(result[r], updates[u]) with the type's arithmetic. */
static void scatter_apply(kiln_tensor *res, int64_t r, const kiln_tensor *upd,
                          int64_t u, kiln_scatter_function f) {
  kiln_dtype t = res->dtype;
  if (is_real(t)) {
    double x = get_real(res, r), y = get_real(upd, u), v = y;
    if (f == KILN_SCATTER_ADD) v = x + y;
    if (f == KILN_SCATTER_MUL) v = x * y;
    if (f == KILN_SCATTER_MAXIMUM) v = x < y ? y : x;
    if (f == KILN_SCATTER_MINIMUM) v = y < x ? y : x;
    /* a float16 sum is a float sum rounded to half */
    put_real(res, r, t == KILN_FLOAT64 ? v : (float)v);
    return;
  }
  int64_t x = get_int(res, r), y = get_int(upd, u), v = y;
  if (t == KILN_BOOL) {
    if (f == KILN_SCATTER_ADD || f == KILN_SCATTER_MAXIMUM) v = x || y;
    if (f == KILN_SCATTER_MUL || f == KILN_SCATTER_MINIMUM) v = x && y;
    ((uint8_t *)res->data)[r] = (uint8_t)v;
    return;
  }
  if (f == KILN_SCATTER_ADD) v = wrap(t, (int64_t)((uint64_t)x + (uint64_t)y));
  if (f == KILN_SCATTER_MUL) v = wrap(t, (int64_t)((uint64_t)x * (uint64_t)y));
  if (f == KILN_SCATTER_MAXIMUM) v = less(t, x, y) ? y : x;
  if (f == KILN_SCATTER_MINIMUM) v = less(t, y, x) ? y : x;
  put_int(res, r, v);
}

static bool listed(const int64_t *list, int count, int64_t v) {
  for (int i = 0; i < count; i++)
    if (list[i] == v) return true;
  return false;
}

/* The expected result, walking the indices' batch positions (outer) and
 * the window's positions (inner) and building the update's coordinates
 * from them; the updates' row-major order is the same walk when the
 * window dimensions come last, which random_scatter arranges. */
static kiln_tensor *expected_scatter(const kiln_stablehlo_scatter_attrs *a,
                                     const kiln_tensor *op,
                                     const kiln_tensor *idx,
                                     const kiln_tensor *upd) {
  kiln_tensor *res = kiln_test_tensor(op->dtype, op->rank, op->dims);
  memcpy(res->data, op->data, kiln_tensor_nbytes(op));
  int ivd = (int)a->index_vector_dim, brank = 0;
  int64_t bdims[KILN_MAX_RANK], wdims[KILN_MAX_RANK];
  for (int d = 0; d < idx->rank; d++)
    if (d != ivd) bdims[brank++] = idx->dims[d];
  for (int w = 0; w < a->num_update_window_dims; w++)
    wdims[w] = upd->dims[a->update_window_dims[w]];
  int64_t b[KILN_MAX_RANK] = {0};
  bool more_b = kiln_tensor_numel(upd) > 0;
  while (more_b) {
    int64_t start[KILN_MAX_RANK] = {0};
    for (int k = 0; k < a->num_scatter_dims; k++) {
      int64_t ii[KILN_MAX_RANK];
      for (int d = 0, j = 0; d < idx->rank; d++) ii[d] = d == ivd ? k : b[j++];
      start[a->scatter_dims_to_operand_dims[k]] =
          get_int(idx, flat_of(ii, idx->dims, idx->rank));
    }
    int64_t w[KILN_MAX_RANK] = {0};
    bool more_w = true;
    while (more_w) {
      int64_t ui[KILN_MAX_RANK], pos[KILN_MAX_RANK];
      for (int d = 0, j = 0, k = 0; d < upd->rank; d++)
        ui[d] = listed(a->update_window_dims, a->num_update_window_dims, d)
                    ? w[k++]
                    : b[j++];
      bool inside = true;
      for (int d = 0, k = 0; d < op->rank; d++) {
        pos[d] = start[d];
        if (!listed(a->inserted_window_dims, a->num_inserted_window_dims, d))
          pos[d] += w[k++];
        inside &= pos[d] >= 0 && pos[d] < op->dims[d];
      }
      if (inside)
        scatter_apply(res, flat_of(pos, op->dims, op->rank), upd,
                      flat_of(ui, upd->dims, upd->rank), a->function);
      more_w = next_index(w, wdims, a->num_update_window_dims);
    }
    more_b = next_index(b, bdims, brank);
  }
  return res;
}

/* Random dimension numbers: operand rank 1..3, some of its dimensions
 * inserted (window size 1), the rest windows smaller than the operand,
 * 1..rank scattered dimensions in random order, the index vector along a
 * random dimension of the indices (or implicit), batch dimensions first
 * in updates and window dimensions after them. */
static void random_scatter(kiln_stablehlo_scatter_attrs *a, tshape *op,
                           tshape *idx, tshape *upd) {
  memset(a, 0, sizeof *a);
  op->rank = kiln_test_int(1, 3);
  for (int d = 0; d < op->rank; d++) op->dims[d] = kiln_test_int(1, 5);
  int64_t window[KILN_MAX_RANK];
  int nw = 0;
  for (int d = 0; d < op->rank; d++) {
    if (kiln_test_int(0, 2) == 0)
      a->inserted_window_dims[a->num_inserted_window_dims++] = d;
    else
      window[nw++] = kiln_test_int(1, (int)op->dims[d]);
  }
  /* scattered operand dimensions: a random ordered subset, 1..rank */
  int perm[KILN_MAX_RANK];
  for (int d = 0; d < op->rank; d++) perm[d] = d;
  for (int d = op->rank - 1; d > 0; d--) {
    int k = kiln_test_int(0, d), t = perm[d];
    perm[d] = perm[k];
    perm[k] = t;
  }
  a->num_scatter_dims = kiln_test_int(1, op->rank);
  for (int i = 0; i < a->num_scatter_dims; i++)
    a->scatter_dims_to_operand_dims[i] = perm[i];
  int batch = kiln_test_int(0, 2);
  bool implicit = a->num_scatter_dims == 1 && kiln_test_int(0, 1);
  idx->rank = batch + (implicit ? 0 : 1);
  a->index_vector_dim = implicit ? batch : kiln_test_int(0, batch);
  for (int d = 0; d < idx->rank; d++)
    idx->dims[d] =
        d == a->index_vector_dim ? a->num_scatter_dims : kiln_test_int(1, 3);
  upd->rank = batch + nw;
  for (int d = 0, j = 0; d < idx->rank; d++)
    if (d != a->index_vector_dim) upd->dims[j++] = idx->dims[d];
  for (int w = 0; w < nw; w++) {
    a->update_window_dims[a->num_update_window_dims++] = batch + w;
    upd->dims[batch + w] = window[w];
  }
  a->function = (kiln_scatter_function)kiln_test_int(KILN_SCATTER_REPLACE,
                                                     KILN_SCATTER_MINIMUM);
}

static void test_scatter_random(void) {
  for (int trial = 0; trial < 600; trial++) {
    kiln_dtype t = SCATTER_TYPES[trial % 12];
    kiln_stablehlo_scatter_attrs a;
    tshape so, si, su;
    random_scatter(&a, &so, &si, &su);
    kiln_dtype it = kiln_test_int(0, 1) ? KILN_INT32 : KILN_INT64;
    kiln_tensor *op = tensor_of(t, &so), *idx = tensor_of(it, &si),
                *upd = tensor_of(t, &su);
    bool mul = a.function == KILN_SCATTER_MUL;
    fill(op, mul ? -3 : -60, mul ? 3 : 60);
    fill(upd, mul ? -3 : -60, mul ? 3 : 60);
    /* starts from -1 to past the end: some updates land outside */
    int64_t ni = kiln_tensor_numel(idx);
    for (int64_t i = 0; i < ni; i++) put_int(idx, i, kiln_test_int(-1, 5));
    kiln_tensor *ins[3] = {op, idx, upd}, *out = kiln_test_output();
    out->dtype = t;
    CHECK_OK(run_poisoned(KILN_OP_STABLEHLO_SCATTER, &a, ins, 3, out));
    kiln_tensor *want = expected_scatter(&a, op, idx, upd);
    if (!same_tensor(out, want)) {
      fprintf(stderr, "scatter trial %d (%s, function %d)\n", trial,
              kiln_dtype_name(t), (int)a.function);
      CHECK(false);
    }
    kiln_test_tensors_free((kiln_tensor *[]){op, idx, upd, out, want}, 5);
  }
}

/* tf.tensor_scatter_nd_add's form: rows of [n, c] at [k, 1] indices, with
 * repeated rows adding up in order. */
static void test_scatter_rows(void) {
  kiln_stablehlo_scatter_attrs a = {
      1, 1, 1, {1}, {0}, {0}, 1, 0, KILN_SCATTER_ADD};
  int64_t od[2] = {5, 3}, id[2] = {4, 1}, ud[2] = {4, 3};
  kiln_tensor *op = kiln_test_tensor_f32(2, od, NULL);
  int32_t rows[4] = {2, 0, 2, 7}; /* row 7 is outside: skipped */
  kiln_tensor *idx = kiln_test_tensor_i32(2, id, rows);
  kiln_tensor *upd = kiln_test_tensor_f32(2, ud, NULL);
  kiln_tensor *ins[3] = {op, idx, upd}, *out = kiln_test_output();
  CHECK_OK(run_poisoned(KILN_OP_STABLEHLO_SCATTER, &a, ins, 3, out));
  float want[15];
  memcpy(want, op->data, sizeof want);
  for (int k = 0; k < 4; k++)
    for (int c = 0; c < 3 && rows[k] < 5; c++)
      want[rows[k] * 3 + c] += ((const float *)upd->data)[k * 3 + c];
  CHECK(kiln_test_close(out->data, want, 15, 1e-6f, 1e-6f, "scatter rows"));
  kiln_test_tensors_free((kiln_tensor *[]){op, idx, upd, out}, 4);
}

static void test_scatter_errors(void) {
  kiln_stablehlo_scatter_attrs a = {
      1, 1, 1, {1}, {0}, {0}, 1, 0, KILN_SCATTER_ADD};
  int64_t od[2] = {5, 3}, id[2] = {2, 1}, ud[2] = {2, 3}, bad[2] = {3, 3};
  kiln_tensor *op = kiln_test_tensor_f32(2, od, NULL);
  kiln_tensor *idx = kiln_test_tensor(KILN_INT32, 2, id);
  kiln_tensor *upd = kiln_test_tensor_f32(2, ud, NULL);
  kiln_tensor *ins[3] = {op, idx, upd}, *out = kiln_test_output();
  CHECK_OK(shape_only(KILN_OP_STABLEHLO_SCATTER, &a, ins, 3, out));
  a.update_window_dims[0] = 2;
  CHECK_ERROR(shape_only(KILN_OP_STABLEHLO_SCATTER, &a, ins, 3, out),
              KILN_ERR_INVALID_MODEL, "update_window_dims entry 0 (2)");
  a.update_window_dims[0] = 1;
  a.num_inserted_window_dims = 0;
  CHECK_ERROR(shape_only(KILN_OP_STABLEHLO_SCATTER, &a, ins, 3, out),
              KILN_ERR_INVALID_MODEL, "together have");
  a.num_inserted_window_dims = 1;
  a.index_vector_dim = 3;
  CHECK_ERROR(shape_only(KILN_OP_STABLEHLO_SCATTER, &a, ins, 3, out),
              KILN_ERR_INVALID_MODEL, "index_vector_dim is 3");
  a.index_vector_dim = 1;
  a.scatter_dims_to_operand_dims[0] = 4;
  CHECK_ERROR(shape_only(KILN_OP_STABLEHLO_SCATTER, &a, ins, 3, out),
              KILN_ERR_INVALID_MODEL, "scatter_dims_to_operand_dims entry 0");
  a.scatter_dims_to_operand_dims[0] = 0;
  kiln_tensor *upd3 = kiln_test_tensor_f32(2, bad, NULL);
  ins[2] = upd3; /* 3 update rows for 2 index vectors */
  CHECK_ERROR(shape_only(KILN_OP_STABLEHLO_SCATTER, &a, ins, 3, out),
              KILN_ERR_INVALID_MODEL, "input 2 (updates) dimension 0");
  ins[2] = upd;
  kiln_tensor *fidx = kiln_test_tensor_f32(2, id, NULL);
  ins[1] = fidx;
  CHECK_ERROR(shape_only(KILN_OP_STABLEHLO_SCATTER, &a, ins, 3, out),
              KILN_ERR_UNSUPPORTED, "scatter_indices");
  ins[1] = idx;
  a.function = KILN_SCATTER_UNKNOWN;
  CHECK_ERROR(shape_only(KILN_OP_STABLEHLO_SCATTER, &a, ins, 3, out),
              KILN_ERR_UNSUPPORTED, "not recognized");
  kiln_test_tensors_free((kiln_tensor *[]){op, idx, upd, out, upd3, fidx}, 6);
}

int main(void) {
  kiln_test_seed(20260907);
  test_reduce_window_random();
  test_reduce_window_pool();
  test_reduce_window_errors();
  test_scatter_random();
  test_scatter_rows();
  test_scatter_errors();
  return kiln_test_finish("test_ref_stablehlo_window_scatter");
}
