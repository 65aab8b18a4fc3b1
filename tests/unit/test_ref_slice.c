/* test_ref_slice.c - SLICE, and STRIDED_SLICE against Python indexing. */
#include "movement_test_util.h"

/* ------------------------------------------------------------------ SLICE */

/* Output index i of a slice reads input index i + begin. */
typedef struct slice_case {
  const int64_t *begin, *dims;
  int rank;
} slice_case;

static int64_t slice_source(const int64_t *index, const void *context) {
  const slice_case *c = context;
  int64_t src[KILN_MAX_RANK];
  for (int k = 0; k < c->rank; k++) src[k] = index[k] + c->begin[k];
  return ravel(src, c->dims, c->rank);
}

static void test_slice_random(void) {
  kiln_no_attrs none = {0};
  for (int trial = 0; trial < 200; trial++) {
    int rank = kiln_test_int(1, 5);
    int64_t dims[5], begin[5], size[5], expect[5];
    random_dims(rank, 1, 5, dims);
    for (int k = 0; k < rank; k++) {
      begin[k] = kiln_test_int(0, (int)dims[k]);
      expect[k] = kiln_test_int(0, (int)(dims[k] - begin[k]));
      size[k] = kiln_test_int(0, 3) ? expect[k] : -1;
      if (size[k] == -1) expect[k] = dims[k] - begin[k];
    }
    kiln_dtype index_type = random_int_dtype();
    kiln_tensor *in[3] = {random_tensor(random_dtype(), rank, dims),
                          int_vector(index_type, rank, begin),
                          int_vector(index_type, rank, size)};
    kiln_tensor *out;
    CHECK_OK(run_one(KILN_OP_SLICE, &none, in, 3, in[0]->dtype, &out));
    slice_case c = {begin, dims, rank};
    CHECK(same_shape(out, expect, rank) &&
          check_sources(out, in[0], slice_source, &c));
    kiln_test_tensor_free(out);
    free_tensors(in, 3);
  }
}

static void test_slice_errors(void) {
  kiln_no_attrs none = {0};
  int64_t dims[2] = {3, 4};
  const int64_t cases[][4] = {{1, 0, 3, 1}, {-1, 0, 1, 1}, {0, 2, 1, -2}};
  for (int c = 0; c < 3; c++) {
    kiln_tensor *in[3] = {random_tensor(KILN_INT32, 2, dims),
                          int_vector(KILN_INT32, 2, cases[c]),
                          int_vector(KILN_INT64, 2, cases[c] + 2)};
    CHECK_ERROR(run_one(KILN_OP_SLICE, &none, in, 3, KILN_INT32, NULL),
                KILN_ERR_INVALID_MODEL,
                "is out of bounds for input shape [3,4]");
    if (c == 0) {
      free(in[1]->data);
      in[1]->data = NULL;
      CHECK_ERROR(run_one(KILN_OP_SLICE, &none, in, 3, KILN_INT32, NULL),
                  KILN_ERR_UNSUPPORTED, "input 1 (begin) must be known");
    }
    free_tensors(in, 3);
  }
}

/* ------------------------------------------- STRIDED_SLICE: the reference */

/* One item of a Python index tuple. */
typedef enum { RANGE, INDEX, NEW_AXIS, ELLIPSIS } item_kind;

typedef struct item {
  item_kind kind;
  int has_begin, has_end; /* RANGE: x[b:e:s] with b or e left out */
  int64_t begin, end, stride;
} item;

/* CPython's slice.indices(): the coordinates x[b:e:s] visits. */
static int python_range(const item *it, int64_t dim, int64_t *coords) {
  int64_t s = it->stride, lower = s < 0 ? -1 : 0, upper = s < 0 ? dim - 1 : dim;
  int64_t b = it->begin, e = it->end;
  if (!it->has_begin)
    b = s < 0 ? upper : lower;
  else if (b < 0)
    b = b + dim < lower ? lower : b + dim;
  else if (b > upper)
    b = upper;
  if (!it->has_end)
    e = s < 0 ? lower : upper;
  else if (e < 0)
    e = e + dim < lower ? lower : e + dim;
  else if (e > upper)
    e = upper;
  int n = 0;
  for (int64_t x = b; s > 0 ? x < e : x > e; x += s) coords[n++] = x;
  return n;
}

/* numpy's reading of an index tuple: the ellipsis (or, without one, the end)
 * stands for the dims no other item consumes. Fills per output dim the
 * coordinates it visits along its input dim (or -1 for new axes), and per
 * input dim a fixed coordinate for integer indices. */
typedef struct plan {
  int out_rank;
  int64_t out_dims[KILN_MAX_RANK];
  int source[KILN_MAX_RANK]; /* input dim of each output dim, -1: new */
  int64_t coords[KILN_MAX_RANK][8];
  int64_t fixed[KILN_MAX_RANK];
} plan;

static void emit(plan *p, const item *it, const int64_t *dims, int *d) {
  if (it->kind == NEW_AXIS) {
    p->source[p->out_rank] = -1;
    p->out_dims[p->out_rank++] = 1;
  } else if (it->kind == INDEX) {
    p->fixed[*d] = it->begin < 0 ? it->begin + dims[*d] : it->begin;
    (*d)++;
  } else {
    p->source[p->out_rank] = *d;
    p->out_dims[p->out_rank] =
        python_range(it, dims[*d], p->coords[p->out_rank]);
    p->out_rank++;
    (*d)++;
  }
}

static void python_plan(const item *items, int n, const int64_t *dims, int rank,
                        plan *p) {
  item full = {RANGE, 0, 0, 0, 0, 1};
  memset(p, 0, sizeof *p);
  int consumed = 0, ellipsis = 0;
  for (int i = 0; i < n; i++) {
    consumed += items[i].kind == RANGE || items[i].kind == INDEX;
    ellipsis |= items[i].kind == ELLIPSIS;
  }
  int d = 0;
  for (int i = 0; i < n; i++) {
    if (items[i].kind != ELLIPSIS) {
      emit(p, &items[i], dims, &d);
      continue;
    }
    for (int k = 0; k < rank - consumed; k++) emit(p, &full, dims, &d);
  }
  while (!ellipsis && d < rank) emit(p, &full, dims, &d);
}

/* Source of output element `index` under a plan; in_dims/in_rank describe
 * the input. */
typedef struct python_case {
  const plan *p;
  const int64_t *in_dims;
  int in_rank;
} python_case;

static int64_t python_source(const int64_t *index, const void *context) {
  const python_case *c = context;
  int64_t src[KILN_MAX_RANK];
  memcpy(src, c->p->fixed, sizeof src);
  for (int k = 0; k < c->p->out_rank; k++)
    if (c->p->source[k] >= 0) src[c->p->source[k]] = c->p->coords[k][index[k]];
  return ravel(src, c->in_dims, c->in_rank);
}

/* ----------------------------------- STRIDED_SLICE: random index tuples */

/* Writes items as the op's begin/end/strides and masks; what a mask makes
 * irrelevant gets junk, which the kernel must ignore. */
static void encode(const item *items, int n, int64_t *begin, int64_t *end,
                   int64_t *strides, kiln_strided_slice_attrs *attrs) {
  memset(attrs, 0, sizeof *attrs);
  for (int i = 0; i < n; i++) {
    const item *it = &items[i];
    begin[i] =
        it->has_begin || it->kind == INDEX ? it->begin : kiln_test_int(-9, 9);
    end[i] = it->has_end ? it->end : kiln_test_int(-9, 9);
    strides[i] = it->kind == RANGE ? it->stride : kiln_test_int(1, 2);
    if (it->kind == RANGE && !it->has_begin) attrs->begin_mask |= 1 << i;
    if (it->kind == RANGE && !it->has_end) attrs->end_mask |= 1 << i;
    if (it->kind == INDEX) attrs->shrink_axis_mask |= 1 << i;
    if (it->kind == NEW_AXIS) attrs->new_axis_mask |= 1 << i;
    if (it->kind == ELLIPSIS) attrs->ellipsis_mask |= 1 << i;
  }
}

static item random_item(int64_t dim) {
  item it = {RANGE, kiln_test_int(0, 3) > 0, kiln_test_int(0, 3) > 0, 0, 0, 1};
  if (kiln_test_int(0, 4) == 0) {
    it.kind = INDEX;
    it.begin = kiln_test_int((int)-dim, (int)dim - 1);
    return it;
  }
  it.begin = kiln_test_int((int)-dim - 2, (int)dim + 2);
  it.end = kiln_test_int((int)-dim - 2, (int)dim + 2);
  do it.stride = kiln_test_int(-3, 3);
  while (it.stride == 0);
  return it;
}

/* A random tuple: some consuming items, maybe an ellipsis, some new axes. */
static int random_items(const int64_t *dims, int rank, item *items) {
  int consuming = kiln_test_int(0, rank), n = 0, ellipsis_at = -1;
  if (kiln_test_int(0, 1)) ellipsis_at = kiln_test_int(0, consuming);
  int news = kiln_test_int(0, 2), d = 0;
  for (int i = 0; i <= consuming; i++) {
    if (i == ellipsis_at) {
      items[n++] = (item){ELLIPSIS, 0, 0, 0, 0, 1};
      d += rank - consuming;
    }
    while (news > 0 && kiln_test_int(0, 2) == 0) {
      items[n++] = (item){NEW_AXIS, 0, 0, 0, 0, 1};
      news--;
    }
    if (i < consuming) items[n++] = random_item(dims[d++]);
  }
  return n;
}

static void test_strided_random(void) {
  for (int trial = 0; trial < 600; trial++) {
    int rank = kiln_test_int(1, 5);
    int64_t dims[5], begin[16], end[16], strides[16];
    random_dims(rank, 1, 5, dims);
    item items[16];
    int n = random_items(dims, rank, items);
    kiln_strided_slice_attrs attrs;
    encode(items, n, begin, end, strides, &attrs);
    kiln_dtype index_type = random_int_dtype();
    kiln_tensor *in[4] = {random_tensor(random_dtype(), rank, dims),
                          int_vector(index_type, n, begin),
                          int_vector(index_type, n, end),
                          int_vector(index_type, n, strides)};
    plan p;
    python_plan(items, n, dims, rank, &p);
    kiln_tensor *out;
    CHECK_OK(run_one(KILN_OP_STRIDED_SLICE, &attrs, in, 4, in[0]->dtype, &out));
    python_case c = {&p, dims, rank};
    CHECK(same_shape(out, p.out_dims, p.out_rank) &&
          check_sources(out, in[0], python_source, &c));
    kiln_test_tensor_free(out);
    free_tensors(in, 4);
  }
}

/* -------------------------------------- STRIDED_SLICE: chosen index tuples */

/* Runs a strided slice of arange(prod(dims)) as int32 and compares the
 * output's shape and values. */
static void check_case(const int64_t *dims, int rank, int n,
                       const int64_t *spec, /* begin, end, strides */
                       kiln_strided_slice_attrs attrs, const int64_t *shape,
                       int out_rank, const int32_t *values) {
  kiln_tensor *in[4] = {kiln_test_tensor(KILN_INT32, rank, dims),
                        int_vector(KILN_INT64, n, spec),
                        int_vector(KILN_INT32, n, spec + n),
                        int_vector(KILN_INT64, n, spec + 2 * n)};
  for (int64_t i = 0; i < kiln_tensor_numel(in[0]); i++)
    ((int32_t *)in[0]->data)[i] = (int32_t)i;
  kiln_tensor *out;
  CHECK_OK(run_one(KILN_OP_STRIDED_SLICE, &attrs, in, 4, in[0]->dtype, &out));
  CHECK(same_shape(out, shape, out_rank));
  if (same_shape(out, shape, out_rank))
    CHECK(memcmp(out->data, values, kiln_tensor_nbytes(out)) == 0);
  kiln_test_tensor_free(out);
  free_tensors(in, 4);
}

static void test_strided_cases(void) {
  const int64_t d5[1] = {5}, d234[3] = {2, 3, 4}, d23[2] = {2, 3};
  /* x[1:][:2] with offset: end is a length from begin */
  kiln_strided_slice_attrs offset = {.offset = true};
  check_case(d5, 1, 1, (int64_t[]){1, 2, 1}, offset, (int64_t[]){2}, 1,
             (int32_t[]){1, 2});
  check_case(d5, 1, 1, (int64_t[]){1, 4, 2}, offset, (int64_t[]){2}, 1,
             (int32_t[]){1, 3});
  check_case(d5, 1, 1, (int64_t[]){3, 9, 1}, offset, (int64_t[]){2}, 1,
             (int32_t[]){3, 4}); /* clamped at the end */
  check_case(d5, 1, 1, (int64_t[]){-2, 1, 1}, offset, (int64_t[]){1}, 1,
             (int32_t[]){3});
  /* x[..., 1]: ellipsis then a shrunk last axis */
  kiln_strided_slice_attrs e_s = {.ellipsis_mask = 1, .shrink_axis_mask = 2};
  check_case(d23, 2, 2, (int64_t[]){0, 1, 0, 2, 1, 1}, e_s, (int64_t[]){2}, 1,
             (int32_t[]){1, 4});
  /* an ellipsis bit beats a new-axis bit on the same entry: x[..., ::-1] */
  kiln_strided_slice_attrs e_n = {
      .ellipsis_mask = 1, .new_axis_mask = 1, .begin_mask = 2, .end_mask = 2};
  check_case(d23, 2, 2, (int64_t[]){0, 0, 0, 0, 1, -1}, e_n, (int64_t[]){2, 3},
             2, (int32_t[]){2, 1, 0, 5, 4, 3});
  /* a new-axis bit beats a shrink bit: x[None, 1] */
  kiln_strided_slice_attrs n_s = {.new_axis_mask = 1, .shrink_axis_mask = 3};
  check_case(d23, 2, 2, (int64_t[]){0, 1, 0, 2, 1, 1}, n_s, (int64_t[]){1, 3},
             2, (int32_t[]){3, 4, 5});
  /* begin_mask on a shrunk axis takes the first element, as TFLite does */
  kiln_strided_slice_attrs b_s = {.begin_mask = 1, .shrink_axis_mask = 1};
  check_case(d23, 2, 1, (int64_t[]){1, 2, 1}, b_s, (int64_t[]){3}, 1,
             (int32_t[]){0, 1, 2});
  /* x[-1, ::-2, 1:3] with the implicit ellipsis absent (all named) */
  kiln_strided_slice_attrs mix = {
      .shrink_axis_mask = 1, .begin_mask = 2, .end_mask = 2};
  check_case(d234, 3, 3, (int64_t[]){-1, 0, 1, 0, 0, 3, 1, -2, 1}, mix,
             (int64_t[]){2, 2}, 2, (int32_t[]){21, 22, 13, 14});
  /* huge sentinels as TF writes for open ends clamp like the masks */
  kiln_strided_slice_attrs plain = {0};
  check_case(d5, 1, 1, (int64_t[]){INT64_MIN, INT32_MAX, 2}, plain,
             (int64_t[]){3}, 1, (int32_t[]){0, 2, 4});
  check_case(d5, 1, 1, (int64_t[]){INT64_MAX, INT32_MIN, -3}, plain,
             (int64_t[]){2}, 1, (int32_t[]){4, 1});
}

static void strided_error(const int64_t *dims, int rank, int n,
                          const int64_t *spec, kiln_strided_slice_attrs attrs,
                          kiln_status_code code, const char *needle) {
  kiln_tensor *in[4] = {random_tensor(KILN_FLOAT32, rank, dims),
                        int_vector(KILN_INT32, n, spec),
                        int_vector(KILN_INT32, n, spec + n),
                        int_vector(KILN_INT32, n, spec + 2 * n)};
  if (strstr(needle, "known before")) { /* end computed at invoke */
    free(in[2]->data);
    in[2]->data = NULL;
  }
  CHECK_ERROR(run_one(KILN_OP_STRIDED_SLICE, &attrs, in, 4, KILN_FLOAT32, NULL),
              code, needle);
  free_tensors(in, 4);
}

static void test_strided_errors(void) {
  const int64_t d23[2] = {2, 3};
  kiln_strided_slice_attrs plain = {0}, shrink = {.shrink_axis_mask = 2};
  strided_error(d23, 2, 1, (int64_t[]){0, 1, 0}, plain, KILN_ERR_INVALID_MODEL,
                "strides[0] is 0");
  strided_error(d23, 2, 2, (int64_t[]){0, 3, 1, 4, 1, 1}, shrink,
                KILN_ERR_INVALID_MODEL,
                "index 3 (spec entry 1, shrunk) is out of range for axis 1");
  strided_error(d23, 2, 2, (int64_t[]){0, -4, 1, 4, 1, 1}, shrink,
                KILN_ERR_INVALID_MODEL, "index -4");
  strided_error(d23, 2, 3, (int64_t[]){0, 0, 0, 1, 1, 1, 1, 1, 1}, plain,
                KILN_ERR_INVALID_MODEL, "spec indexes 3 dimensions");
  kiln_strided_slice_attrs two = {.ellipsis_mask = 3};
  strided_error(d23, 2, 2, (int64_t[]){0, 0, 1, 1, 1, 1}, two,
                KILN_ERR_INVALID_MODEL, "more than one bit");
  strided_error(d23, 2, 1, (int64_t[]){0, 1, 1}, plain, KILN_ERR_UNSUPPORTED,
                "input 2 (end) must be known before invoke");
  kiln_strided_slice_attrs many = {.new_axis_mask = 0x7f};
  strided_error(d23, 2, 7, (int64_t[21]){0}, many, KILN_ERR_UNSUPPORTED,
                "exceeds rank 8");
}

int main(void) {
  kiln_test_seed(0x511ce);
  test_slice_random();
  test_slice_errors();
  test_strided_random();
  test_strided_cases();
  test_strided_errors();
  return kiln_test_finish("test_ref_slice");
}
