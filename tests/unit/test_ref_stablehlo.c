/* test_ref_stablehlo.c - the StableHLO binary operators (ADD, MULTIPLY,
 * MAXIMUM, MINIMUM, AND, SHIFT_LEFT) on random shapes and every type each
 * takes, against per-element oracles: integer results wrapped to the
 * type's width with ops_test_util's wrap_to, floats in float, halves
 * through float; STABLEHLO_PAD by mapping each output coordinate back to
 * the input; STABLEHLO_GATHER in three common forms against direct
 * computations; and the shape functions' errors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops_test_util.h"

typedef struct hlo_case {
  kiln_op_type op;
  const char *name;
  kiln_dtype types[12];
  int num_types;
} hlo_case;

static const hlo_case CASES[] = {
    {KILN_OP_STABLEHLO_ADD,
     "add",
     {KILN_FLOAT32, KILN_FLOAT64, KILN_FLOAT16, KILN_INT8, KILN_INT16,
      KILN_INT32, KILN_INT64, KILN_UINT8, KILN_BOOL, KILN_UINT16, KILN_UINT32,
      KILN_UINT64},
     12},
    {KILN_OP_STABLEHLO_MULTIPLY,
     "mul",
     {KILN_FLOAT32, KILN_FLOAT64, KILN_FLOAT16, KILN_INT8, KILN_INT16,
      KILN_INT32, KILN_INT64, KILN_UINT8, KILN_BOOL, KILN_UINT16, KILN_UINT32,
      KILN_UINT64},
     12},
    {KILN_OP_STABLEHLO_MAXIMUM,
     "max",
     {KILN_FLOAT32, KILN_FLOAT64, KILN_FLOAT16, KILN_INT8, KILN_INT16,
      KILN_INT32, KILN_INT64, KILN_UINT8, KILN_BOOL, KILN_UINT16, KILN_UINT32,
      KILN_UINT64},
     12},
    {KILN_OP_STABLEHLO_MINIMUM,
     "min",
     {KILN_FLOAT32, KILN_FLOAT64, KILN_FLOAT16, KILN_INT8, KILN_INT16,
      KILN_INT32, KILN_INT64, KILN_UINT8, KILN_BOOL, KILN_UINT16, KILN_UINT32,
      KILN_UINT64},
     12},
    {KILN_OP_STABLEHLO_AND,
     "and",
     {KILN_INT8, KILN_INT16, KILN_INT32, KILN_INT64, KILN_UINT8, KILN_BOOL},
     6},
    {KILN_OP_STABLEHLO_SHIFT_LEFT,
     "shl",
     {KILN_INT8, KILN_INT16, KILN_INT32},
     3},
};

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

static void fill(kiln_tensor *t, bool shift_amounts) {
  int64_t n = kiln_tensor_numel(t);
  for (int64_t i = 0; i < n; i++) {
    switch (t->dtype) {
      case KILN_FLOAT64:
        ((double *)t->data)[i] = kiln_test_uniform(-100, 100) * 1.000001;
        break;
      case KILN_FLOAT16:
        ((uint16_t *)t->data)[i] =
            kiln_float_to_half(kiln_test_uniform(-300, 300));
        break;
      case KILN_FLOAT32:
        setv(t, i, kiln_test_uniform(-100, 100));
        break;
      case KILN_INT64:
        /* large values, so sums and products wrap */
        ((int64_t *)t->data)[i] =
            (int64_t)(((uint64_t)kiln_test_rand() << 32) | kiln_test_rand());
        break;
      case KILN_UINT64: /* half of them past INT64_MAX */
        ((uint64_t *)t->data)[i] =
            ((uint64_t)kiln_test_rand() << 32) | kiln_test_rand();
        break;
      default:
        if (shift_amounts)
          setv(t, i, kiln_test_int(-2, 40));
        else
          setv(t, i, (double)wrap_to(t->dtype, (int32_t)kiln_test_rand()));
        break;
    }
  }
}

static void check_case(const hlo_case *c, kiln_dtype t) {
  tshape s = random_tshape(4, 10);
  kiln_tensor *in[2] = {tensor_of(t, &s), tensor_of(t, &s)};
  fill(in[0], false);
  fill(in[1], c->op == KILN_OP_STABLEHLO_SHIFT_LEFT);
  if (t == KILN_BOOL) {
    fill_random(in[0], 0, 1);
    fill_random(in[1], 0, 1);
  }
  kiln_tensor *out = tensor_of(t, &(tshape){1, {1}});
  kiln_no_attrs none = {0};
  CHECK_OK(run_poisoned(c->op, &none, in, 2, out));
  CHECK(tensor_has_tshape(out, &s));
  int64_t n = tshape_numel(&s);
  int bad = 0;
  for (int64_t i = 0; i < n; i++) {
    if (t == KILN_FLOAT32 || t == KILN_FLOAT64 || t == KILN_FLOAT16) {
      double a = get_real(in[0], i), b = get_real(in[1], i), want;
      switch (c->op) {
        case KILN_OP_STABLEHLO_ADD:
          want = a + b;
          break;
        case KILN_OP_STABLEHLO_MULTIPLY:
          want = a * b;
          break;
        case KILN_OP_STABLEHLO_MAXIMUM:
          want = fmax(a, b);
          break;
        default:
          want = fmin(a, b);
          break;
      }
      if (t == KILN_FLOAT32) want = (float)want;
      if (t == KILN_FLOAT16)
        want = kiln_half_to_float(kiln_float_to_half((float)want));
      bad += get_real(out, i) != want;
      continue;
    }
    if (t == KILN_UINT64) { /* ordered as unsigned */
      uint64_t ua = ((const uint64_t *)in[0]->data)[i],
               ub = ((const uint64_t *)in[1]->data)[i], uw;
      if (c->op == KILN_OP_STABLEHLO_ADD)
        uw = ua + ub;
      else if (c->op == KILN_OP_STABLEHLO_MULTIPLY)
        uw = ua * ub;
      else if (c->op == KILN_OP_STABLEHLO_MAXIMUM)
        uw = ua > ub ? ua : ub;
      else
        uw = ua < ub ? ua : ub;
      bad += ((const uint64_t *)out->data)[i] != uw;
      continue;
    }
    int64_t a = geti(in[0], i), b = geti(in[1], i), want;
    if (t == KILN_INT64) {
      a = ((const int64_t *)in[0]->data)[i];
      b = ((const int64_t *)in[1]->data)[i];
    }
    switch (c->op) {
      case KILN_OP_STABLEHLO_ADD:
        want = t == KILN_BOOL ? (a || b) : (int64_t)((uint64_t)a + (uint64_t)b);
        break;
      case KILN_OP_STABLEHLO_MULTIPLY:
        want = t == KILN_BOOL ? (a && b) : (int64_t)((uint64_t)a * (uint64_t)b);
        break;
      case KILN_OP_STABLEHLO_MAXIMUM:
        want = a > b ? a : b;
        break;
      case KILN_OP_STABLEHLO_MINIMUM:
        want = a < b ? a : b;
        break;
      case KILN_OP_STABLEHLO_AND:
        want = a & b;
        break;
      default: /* the shift on the value widened to 32 bits */
        want = (b < 0 || b >= 32) ? 0 : (int64_t)(int32_t)((uint32_t)a << b);
        break;
    }
    int64_t got =
        t == KILN_INT64 ? ((const int64_t *)out->data)[i] : geti(out, i);
    bad += got != wrap_to(t, want);
  }
  CHECK(bad == 0);
  if (bad)
    fprintf(stderr, "%s on %s: %d of %lld wrong\n", c->name, kiln_dtype_name(t),
            bad, (long long)n);
  kiln_test_tensor_free(out);
  kiln_test_tensors_free(in, 2);
}

static void test_random(void) {
  for (int trial = 0; trial < 20; trial++)
    for (size_t k = 0; k < sizeof CASES / sizeof CASES[0]; k++)
      for (int t = 0; t < CASES[k].num_types; t++)
        check_case(&CASES[k], CASES[k].types[t]);
}

/* NaN as C++'s std::max / std::min leave it: kept from the first operand,
 * dropped from the second. */
static void test_nan(void) {
  int64_t d[1] = {2};
  float a[2] = {NAN, 1.0f}, b[2] = {1.0f, NAN};
  kiln_tensor *in[2] = {kiln_test_tensor_f32(1, d, a),
                        kiln_test_tensor_f32(1, d, b)};
  kiln_no_attrs none = {0};
  const kiln_op_type ops[2] = {KILN_OP_STABLEHLO_MAXIMUM,
                               KILN_OP_STABLEHLO_MINIMUM};
  for (int k = 0; k < 2; k++) {
    kiln_tensor *out = kiln_test_output();
    CHECK_OK(kiln_test_run_op1(ops[k], &none, in, 2, out));
    const float *y = out->data;
    CHECK(isnan(y[0]) && y[1] == 1.0f);
    kiln_test_tensor_free(out);
  }
  kiln_test_tensors_free(in, 2);
}

static void test_errors(void) {
  kiln_no_attrs none = {0};
  int64_t d2[2] = {2, 3}, d1[1] = {3};
  kiln_tensor *in[2] = {kiln_test_tensor_f32(2, d2, NULL),
                        kiln_test_tensor_f32(1, d1, NULL)};
  kiln_tensor *out = kiln_test_output();
  CHECK_ERROR(shape_only(KILN_OP_STABLEHLO_ADD, &none, in, 2, out),
              KILN_ERR_INVALID_MODEL,
              "input 1 (rhs) has shape [3] but input 0 (lhs) has [2,3]; "
              "StableHLO operands do not broadcast");
  kiln_test_tensor_free(in[1]);
  in[1] = kiln_test_tensor(KILN_INT32, 2, d2);
  CHECK_ERROR(shape_only(KILN_OP_STABLEHLO_MULTIPLY, &none, in, 2, out),
              KILN_ERR_INVALID_MODEL,
              "input 1 (rhs) has type int32 but input 0 (lhs) has float32");
  in[1]->dtype = KILN_FLOAT32;
  CHECK_ERROR(shape_only(KILN_OP_STABLEHLO_AND, &none, in, 2, out),
              KILN_ERR_UNSUPPORTED, "input 0 (lhs) has type float32");
  in[0]->dtype = in[1]->dtype = KILN_INT64;
  out->dtype = KILN_INT64;
  CHECK_ERROR(shape_only(KILN_OP_STABLEHLO_SHIFT_LEFT, &none, in, 2, out),
              KILN_ERR_UNSUPPORTED, "input 0 (lhs) has type int64");
  out->dtype = KILN_INT32;
  CHECK_ERROR(shape_only(KILN_OP_STABLEHLO_MAXIMUM, &none, in, 2, out),
              KILN_ERR_INVALID_MODEL,
              "output 0 has type int32; expected int64");
  CHECK_ERROR(shape_only(KILN_OP_STABLEHLO_MINIMUM, &none, in, 1, out),
              KILN_ERR_INVALID_MODEL, "");
  kiln_test_tensor_free(out);
  kiln_test_tensors_free(in, 2);
}

/* ----------------------------------------------------------- STABLEHLO_PAD */

static void test_pad(void) {
  for (int trial = 0; trial < 200; trial++) {
    kiln_dtype t = trial % 2 ? KILN_INT16 : KILN_FLOAT32;
    size_t es = kiln_dtype_size(t);
    int rank = kiln_test_int(0, 3);
    int64_t dims[3] = {1, 1, 1}, want[3] = {1, 1, 1};
    kiln_stablehlo_pad_attrs a = {rank, {0}, {0}, {0}};
    for (int d = 0; d < rank; d++) {
      dims[d] = kiln_test_int(1, 4);
      a.interior[d] = kiln_test_int(0, 2);
      a.low[d] = kiln_test_int(-1, 2);
      a.high[d] = kiln_test_int(-1, 2);
      want[d] = a.low[d] + dims[d] + (dims[d] - 1) * a.interior[d] + a.high[d];
      if (want[d] < 0) { /* cropped past nothing: keep the edges */
        a.low[d] = a.high[d] = 0;
        want[d] = dims[d] + (dims[d] - 1) * a.interior[d];
      }
    }
    kiln_tensor *in[2] = {kiln_test_tensor(t, rank, dims),
                          kiln_test_tensor(t, 0, dims)};
    unsigned char *x = in[0]->data;
    for (size_t b = 0; b < kiln_tensor_nbytes(in[0]); b++)
      x[b] = (unsigned char)kiln_test_rand();
    memset(in[1]->data, 0x7b, es);
    kiln_tensor *out = kiln_test_tensor(t, 1, (int64_t[]){1});
    CHECK_OK(run_poisoned(KILN_OP_STABLEHLO_PAD, &a, in, 2, out));
    CHECK(kiln_test_has_shape(out, rank, want));
    int bad = 0;
    for (int64_t f = 0; f < kiln_tensor_numel(out); f++) {
      int64_t rest = f, src = 0, scale = 1;
      bool hit = true;
      for (int d = rank - 1; d >= 0; d--) {
        int64_t o = rest % want[d] - a.low[d];
        rest /= want[d];
        int64_t step = a.interior[d] + 1;
        hit = hit && o >= 0 && o % step == 0 && o / step < dims[d];
        src += (hit ? o / step : 0) * scale;
        scale *= dims[d];
      }
      const unsigned char *expect =
          hit ? x + (size_t)src * es : (const unsigned char *)in[1]->data;
      bad += memcmp((const unsigned char *)out->data + (size_t)f * es, expect,
                    es) != 0;
    }
    CHECK(bad == 0);
    kiln_test_tensor_free(out);
    kiln_test_tensors_free(in, 2);
  }
  int64_t d2[2] = {2, 3};
  kiln_stablehlo_pad_attrs a = {2, {0, -2}, {0, -2}, {0, 0}};
  kiln_tensor *in[2] = {kiln_test_tensor_f32(2, d2, NULL),
                        kiln_test_tensor_f32(0, d2, NULL)};
  kiln_tensor *out = kiln_test_output();
  CHECK_ERROR(shape_only(KILN_OP_STABLEHLO_PAD, &a, in, 2, out),
              KILN_ERR_INVALID_MODEL,
              "dimension 1 of 3 elements padded by -2 low, -2 high and 0 "
              "interior has size -1");
  a.rank = 1;
  CHECK_ERROR(shape_only(KILN_OP_STABLEHLO_PAD, &a, in, 2, out),
              KILN_ERR_INVALID_MODEL,
              "the padding options have 1 entries each but input 0 (operand) "
              "has rank 2");
  a.rank = 2;
  a.low[1] = 0;
  in[1]->dtype = KILN_INT32;
  CHECK_ERROR(shape_only(KILN_OP_STABLEHLO_PAD, &a, in, 2, out),
              KILN_ERR_INVALID_MODEL,
              "input 1 (padding_value) must be one float32, is int32");
  kiln_test_tensor_free(out);
  kiln_test_tensors_free(in, 2);
}

/* -------------------------------------------------------- STABLEHLO_GATHER */

static kiln_tensor *indices_of(kiln_dtype t, int rank, const int64_t *dims,
                               int lo, int hi) {
  kiln_tensor *x = kiln_test_tensor(t, rank, dims);
  for (int64_t i = 0; i < kiln_tensor_numel(x); i++) {
    int v = kiln_test_int(lo, hi);
    if (t == KILN_INT64)
      ((int64_t *)x->data)[i] = v;
    else
      ((int32_t *)x->data)[i] = v;
  }
  return x;
}

static int64_t index_at(const kiln_tensor *x, int64_t i) {
  return x->dtype == KILN_INT64 ? ((const int64_t *)x->data)[i]
                                : ((const int32_t *)x->data)[i];
}

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi) {
  return v < lo ? lo : (v > hi ? hi : v);
}

/* Three common forms, each against a direct computation: rows taken by a
 * vector of indices (index_vector_dim = the indices' rank), GATHER_ND's
 * form over two leading dimensions, and 2-D slices whose starts are
 * clamped into the operand. */
static void test_gather(void) {
  for (int trial = 0; trial < 60; trial++) {
    kiln_dtype it = trial % 2 ? KILN_INT64 : KILN_INT32;
    int64_t rows = kiln_test_int(1, 6), cols = kiln_test_int(1, 5);
    int64_t n = kiln_test_int(1, 5);
    /* rows: operand [rows, cols], indices [n] -> [n, cols] */
    kiln_stablehlo_gather_attrs take = {1,   1,   1,         2, {1},
                                        {0}, {0}, {1, cols}, 1};
    kiln_tensor *in[2] = {
        kiln_test_tensor_f32(2, (int64_t[]){rows, cols}, NULL),
        indices_of(it, 1, (int64_t[]){n}, -2, (int)rows + 2)};
    kiln_tensor *out = kiln_test_output();
    CHECK_OK(run_poisoned(KILN_OP_STABLEHLO_GATHER, &take, in, 2, out));
    CHECK(kiln_test_has_shape(out, 2, (int64_t[]){n, cols}));
    int bad = 0;
    for (int64_t i = 0; i < n; i++)
      for (int64_t c = 0; c < cols; c++) {
        int64_t r = clamp64(index_at(in[1], i), 0, rows - 1);
        bad += ((float *)out->data)[i * cols + c] !=
               ((float *)in[0]->data)[r * cols + c];
      }
    CHECK(bad == 0);
    kiln_test_tensor_free(out);
    kiln_test_tensors_free(in, 2);

    /* GATHER_ND: operand [a, b, c], indices [n, 2] -> [n, c] */
    int64_t a = kiln_test_int(1, 4), b = kiln_test_int(1, 4),
            c = kiln_test_int(1, 3);
    kiln_stablehlo_gather_attrs nd = {1,      2,      2,         3, {1},
                                      {0, 1}, {0, 1}, {1, 1, c}, 1};
    kiln_tensor *in2[2] = {
        kiln_test_tensor_f32(3, (int64_t[]){a, b, c}, NULL),
        indices_of(it, 2, (int64_t[]){n, 2}, 0, (int)(a < b ? a : b) - 1)};
    out = kiln_test_output();
    CHECK_OK(run_poisoned(KILN_OP_STABLEHLO_GATHER, &nd, in2, 2, out));
    CHECK(kiln_test_has_shape(out, 2, (int64_t[]){n, c}));
    bad = 0;
    for (int64_t i = 0; i < n; i++)
      for (int64_t k = 0; k < c; k++) {
        int64_t p = index_at(in2[1], 2 * i), q = index_at(in2[1], 2 * i + 1);
        bad += ((float *)out->data)[i * c + k] !=
               ((float *)in2[0]->data)[(p * b + q) * c + k];
      }
    CHECK(bad == 0);
    kiln_test_tensor_free(out);
    kiln_test_tensors_free(in2, 2);

    /* slices: operand int16 [rows, cols], starts [n, 2] -> [n, sh, sw] */
    int64_t sh = kiln_test_int(1, (int)rows), sw = kiln_test_int(1, (int)cols);
    kiln_stablehlo_gather_attrs sl = {2,   0,      2,        2, {1, 2},
                                      {0}, {0, 1}, {sh, sw}, 1};
    kiln_tensor *in3[2] = {
        kiln_test_tensor(KILN_INT16, 2, (int64_t[]){rows, cols}),
        indices_of(it, 2, (int64_t[]){n, 2}, -3, 8)};
    fill_random(in3[0], -1000, 1000);
    out = kiln_test_tensor(KILN_INT16, 1, (int64_t[]){1});
    CHECK_OK(run_poisoned(KILN_OP_STABLEHLO_GATHER, &sl, in3, 2, out));
    CHECK(kiln_test_has_shape(out, 3, (int64_t[]){n, sh, sw}));
    bad = 0;
    for (int64_t i = 0; i < n; i++) {
      int64_t y0 = clamp64(index_at(in3[1], 2 * i), 0, rows - sh);
      int64_t x0 = clamp64(index_at(in3[1], 2 * i + 1), 0, cols - sw);
      for (int64_t y = 0; y < sh; y++)
        for (int64_t x = 0; x < sw; x++)
          bad += geti(out, (i * sh + y) * sw + x) !=
                 geti(in3[0], (y0 + y) * cols + x0 + x);
    }
    CHECK(bad == 0);
    kiln_test_tensor_free(out);
    kiln_test_tensors_free(in3, 2);
  }
  /* errors */
  kiln_stablehlo_gather_attrs g = {1, 1, 1, 2, {1}, {0}, {0}, {1, 4}, 1};
  kiln_tensor *in[2] = {kiln_test_tensor_f32(2, (int64_t[]){5, 4}, NULL),
                        indices_of(KILN_INT32, 2, (int64_t[]){3, 1}, 0, 4)};
  kiln_tensor *out = kiln_test_output();
  CHECK_OK(shape_only(KILN_OP_STABLEHLO_GATHER, &g, in, 2, out));
  g.slice_sizes[1] = 5;
  CHECK_ERROR(shape_only(KILN_OP_STABLEHLO_GATHER, &g, in, 2, out),
              KILN_ERR_INVALID_MODEL,
              "slice_sizes[1] is 5; input 0 (operand) dimension 1 has 4");
  g.slice_sizes[1] = 4;
  g.slice_sizes[0] = 2;
  CHECK_ERROR(shape_only(KILN_OP_STABLEHLO_GATHER, &g, in, 2, out),
              KILN_ERR_INVALID_MODEL,
              "collapsed_slice_dims entry 0 (0) must name a distinct operand "
              "dimension whose slice size is at most 1");
  g.slice_sizes[0] = 1;
  g.num_start_index_map = 2;
  g.start_index_map[1] = 1;
  CHECK_ERROR(shape_only(KILN_OP_STABLEHLO_GATHER, &g, in, 2, out),
              KILN_ERR_INVALID_MODEL,
              "start_index_map has 2 entries but the index vectors have 1");
  g.num_start_index_map = 1;
  g.index_vector_dim = 3;
  CHECK_ERROR(shape_only(KILN_OP_STABLEHLO_GATHER, &g, in, 2, out),
              KILN_ERR_INVALID_MODEL,
              "index_vector_dim is 3; input 1 (start_indices) has rank 2");
  g.index_vector_dim = 1;
  g.offset_dims[0] = 2;
  CHECK_ERROR(shape_only(KILN_OP_STABLEHLO_GATHER, &g, in, 2, out),
              KILN_ERR_INVALID_MODEL, "offset_dims must ascend");
  g.offset_dims[0] = 1;
  in[1]->dtype = KILN_INT16;
  CHECK_ERROR(shape_only(KILN_OP_STABLEHLO_GATHER, &g, in, 2, out),
              KILN_ERR_UNSUPPORTED, "input 1 (start_indices) has type int16");
  kiln_test_tensor_free(out);
  kiln_test_tensors_free(in, 2);
}

int main(void) {
  kiln_test_seed(0x57ab1e);
  test_random();
  test_nan();
  test_errors();
  test_pad();
  test_gather();
  return kiln_test_finish("test_ref_stablehlo");
}
