/* test_tflite_sparsity.c - sparse constants (TFLite SparsityParameters):
 * random dense tensors are encoded here, dense to sparse, in random
 * traversal orders, level formats, blocks, index widths and types, and the
 * importer must give back exactly the dense bytes; every malformed field is
 * a clear error naming the tensor and the field.
 *
 * `test_tflite_sparsity --write-corpus DIR` writes a fuzzing seed. */
#include <stdlib.h>
#include <string.h>

#include "core/graph.h"
#include "core/status.h"
#include "formats/tflite/tflite_import.h"
#include "formats/tflite/tflite_schema.h"
#include "harness.h"
#include "tflite_builder.c"

#define SOURCE "sparse.tflite"
#define MAX_LEVELS 8
#define MAX_ENTRIES 4096

/* A dense tensor and its sparse encoding, built here from the dense side. */
typedef struct encoding {
  int rank, num_blocks, num_levels;
  int64_t dims[4];
  int block_dim[2], block_size[2];
  int64_t expanded[MAX_LEVELS];
  int order[MAX_LEVELS]; /* traversal: level -> expanded dimension */
  int csr[MAX_LEVELS];   /* 1: SPARSE_CSR */
  uint8_t width_type[MAX_LEVELS];
  size_t elem;
  int8_t tfl_type;
  uint8_t *dense;
  int64_t count;
  int32_t seg[MAX_LEVELS][MAX_ENTRIES], idx[MAX_LEVELS][MAX_ENTRIES];
  int nseg[MAX_LEVELS], nidx[MAX_LEVELS];
  uint8_t *values;
  int64_t num_values;
} encoding;

/* The dense element the level coordinates name. */
static int64_t dense_index(const encoding *e, const int64_t *coord) {
  int64_t orig[4] = {0};
  for (int l = 0; l < e->rank; l++) orig[e->order[l]] = coord[l];
  for (int l = e->rank; l < e->num_levels; l++) {
    int j = e->order[l] - e->rank;
    orig[e->block_dim[j]] = orig[e->block_dim[j]] * e->block_size[j] + coord[l];
  }
  int64_t flat = 0;
  for (int d = 0; d < e->rank; d++) flat = flat * e->dims[d] + orig[d];
  return flat;
}

static bool nonzero(const encoding *e, int64_t i) {
  for (size_t k = 0; k < e->elem; k++)
    if (e->dense[(size_t)i * e->elem + k]) return true;
  return false;
}

static bool any_nonzero(const encoding *e, int l, int64_t *coord) {
  if (l == e->num_levels) return nonzero(e, dense_index(e, coord));
  for (int64_t i = 0; i < e->expanded[e->order[l]]; i++) {
    coord[l] = i;
    if (any_nonzero(e, l + 1, coord)) return true;
  }
  return false;
}

static void encode(encoding *e, int l, int64_t *coord) {
  for (int64_t i = 0; i < e->expanded[e->order[l]]; i++) {
    coord[l] = i;
    if (e->csr[l]) {
      if (!any_nonzero(e, l + 1, coord)) continue;
      e->idx[l][e->nidx[l]++] = (int32_t)i;
    }
    if (l + 1 < e->num_levels) {
      encode(e, l + 1, coord);
      continue;
    }
    memcpy(e->values + (size_t)e->num_values * e->elem,
           e->dense + (size_t)dense_index(e, coord) * e->elem, e->elem);
    e->num_values++;
  }
  if (e->csr[l]) e->seg[l][e->nseg[l]++] = e->nidx[l];
}

static void shuffle(int *a, int n) {
  for (int i = n - 1; i > 0; i--) {
    int j = kiln_test_int(0, i), t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
}

/* A random dense tensor of about 30% nonzeros and a random format. */
static void random_encoding(encoding *e) {
  memset(e, 0, sizeof *e);
  static const int8_t types[] = {TFL_TYPE_FLOAT32, TFL_TYPE_FLOAT16,
                                 TFL_TYPE_INT8};
  static const size_t sizes[] = {4, 2, 1};
  int t = kiln_test_int(0, 2);
  e->tfl_type = types[t];
  e->elem = sizes[t];
  e->rank = kiln_test_int(1, 4);
  e->count = 1;
  for (int d = 0; d < e->rank; d++) {
    e->dims[d] = kiln_test_int(1, 6);
    e->expanded[d] = e->dims[d];
  }
  int candidates[4], nc = 0;
  for (int d = 0; d < e->rank; d++) candidates[nc++] = d;
  shuffle(candidates, nc);
  e->num_blocks = kiln_test_int(0, e->rank < 2 ? e->rank : 2);
  for (int j = 0; j < e->num_blocks; j++) {
    int d = candidates[j];
    int size = kiln_test_int(1, 4);
    e->dims[d] = e->dims[d] * size; /* divisible by construction */
    e->block_dim[j] = d;
    e->block_size[j] = size;
    e->expanded[e->rank + j] = size;
  }
  for (int d = 0; d < e->rank; d++) e->count *= e->dims[d];
  e->num_levels = e->rank + e->num_blocks;
  for (int l = 0; l < e->rank; l++) e->order[l] = l;
  shuffle(e->order, e->rank);
  for (int j = 0; j < e->num_blocks; j++) e->order[e->rank + j] = e->rank + j;
  shuffle(e->order + e->rank, e->num_blocks);
  for (int l = 0; l < e->num_levels; l++) {
    e->csr[l] = l < e->rank && kiln_test_int(0, 1);
    e->width_type[l] = (uint8_t)kiln_test_int(TFL_INDEX_INT32, TFL_INDEX_UINT8);
    if (e->csr[l]) e->seg[l][e->nseg[l]++] = 0;
  }
  e->dense = calloc((size_t)e->count * e->elem + 1, 1);
  e->values = calloc((size_t)e->count * e->elem + 1, 1);
  for (int64_t i = 0; i < e->count; i++) {
    if (kiln_test_int(0, 9) >= 3) continue;
    for (size_t k = 0; k < e->elem; k++)
      e->dense[(size_t)i * e->elem + k] = (uint8_t)kiln_test_int(1, 0x3b);
  }
  int64_t coord[MAX_LEVELS];
  encode(e, 0, coord);
}

static void encoding_free(encoding *e) {
  free(e->dense);
  free(e->values);
}

static void fill_sparsity(const encoding *e, tb_sparsity *sp) {
  memset(sp, 0, sizeof *sp);
  sp->order_len = sp->num_dims = e->num_levels;
  sp->block_len = e->num_blocks;
  for (int j = 0; j < e->num_blocks; j++) sp->block_map[j] = e->block_dim[j];
  for (int l = 0; l < e->num_levels; l++) {
    tb_dim *d = &sp->dims[l];
    sp->order[l] = e->order[l];
    d->format = (int8_t)e->csr[l];
    d->dense_size = (int32_t)e->expanded[e->order[l]];
    if (!e->csr[l]) continue;
    d->dense_size = 0;
    d->segments_type = d->indices_type = e->width_type[l];
    d->segments = e->seg[l];
    d->num_segments = e->nseg[l];
    d->indices = e->idx[l];
    d->num_indices = e->nidx[l];
  }
}

/* x + w, w the sparse constant (tensor 1, "w"). */
static void sparse_model(tb_model *m, const encoding *e, const tb_sparsity *sp,
                         size_t values_size) {
  memset(m, 0, sizeof *m);
  m->num_opcodes = 1;
  m->opcodes[0] = (tb_opcode){TFL_OP_ADD, TFL_OP_ADD, NULL};
  m->num_tensors = 3;
  const char *names[3] = {"x", "w", "sum"};
  for (int i = 0; i < 3; i++) {
    tb_tensor *t = &m->tensors[i];
    t->name = names[i];
    t->type = e->tfl_type;
    t->rank = e->rank;
    for (int d = 0; d < e->rank; d++) t->shape[d] = (int32_t)e->dims[d];
  }
  m->tensors[1].buffer = 1;
  m->tensors[1].sparsity = sp;
  m->num_inputs = 1;
  m->inputs[0] = 0;
  m->num_outputs = 1;
  m->outputs[0] = 2;
  m->num_operators = 1;
  m->operators[0].num_inputs = 2;
  m->operators[0].inputs[0] = 0;
  m->operators[0].inputs[1] = 1;
  m->operators[0].num_outputs = 1;
  m->operators[0].outputs[0] = 2;
  m->num_buffers = 2;
  m->buffers[1] = (tb_buffer){.data = e->values, .size = values_size};
}

static kiln_status *import(const tb_model *m, kiln_graph **out) {
  size_t size;
  uint8_t *bytes = tb_build(m, &size);
  kiln_status *st = kiln_tflite_import(bytes, size, SOURCE, NULL, out);
  /* Densified constants are graph-owned: they must outlive the bytes. */
  free(bytes);
  return st;
}

static void test_random_formats(void) {
  kiln_test_seed(7);
  for (int round = 0; round < 60; round++) {
    encoding e;
    tb_sparsity sp;
    tb_model m;
    random_encoding(&e);
    fill_sparsity(&e, &sp);
    sparse_model(&m, &e, &sp, (size_t)e.num_values * e.elem);
    kiln_graph *g = NULL;
    CHECK_OK(import(&m, &g));
    if (g) {
      const kiln_value *w = &g->values[1];
      CHECK(w->is_constant && w->owned_data && w->data == w->owned_data);
      CHECK(w->nbytes == (size_t)e.count * e.elem);
      CHECK(w->data && memcmp(w->data, e.dense, w->nbytes) == 0);
      kiln_graph_free(g);
    }
    encoding_free(&e);
  }
}

/* The dense model and the sparse one compute the same ADD. */
static void test_same_as_dense_model(void) {
  kiln_test_seed(11);
  for (int round = 0; round < 10; round++) {
    encoding e;
    tb_sparsity sp;
    tb_model m;
    memset(&e, 0, sizeof e);
    do {
      encoding_free(&e);
      random_encoding(&e);
    } while (e.tfl_type != TFL_TYPE_FLOAT32);
    fill_sparsity(&e, &sp);
    sparse_model(&m, &e, &sp, (size_t)e.num_values * e.elem);
    size_t sparse_size, dense_size;
    uint8_t *sparse_bytes = tb_build(&m, &sparse_size);
    m.tensors[1].sparsity = NULL;
    m.buffers[1] = (tb_buffer){.data = e.dense, .size = (size_t)e.count * 4};
    uint8_t *dense_bytes = tb_build(&m, &dense_size);
    kiln_model *sparse_model_ = NULL, *dense_model = NULL;
    CHECK_OK(kiln_model_load_buffer(sparse_bytes, sparse_size, "sparse", NULL,
                                    &sparse_model_));
    CHECK_OK(kiln_model_load_buffer(dense_bytes, dense_size, "dense", NULL,
                                    &dense_model));
    if (sparse_model_ && dense_model) {
      float *x = malloc((size_t)e.count * 4), *a = malloc((size_t)e.count * 4),
            *b = malloc((size_t)e.count * 4);
      kiln_test_fill(x, e.count, -1, 1);
      kiln_session *s1 = NULL, *s2 = NULL;
      CHECK_OK(kiln_session_create(sparse_model_, NULL, &s1));
      CHECK_OK(kiln_session_create(dense_model, NULL, &s2));
      CHECK_OK(kiln_session_set_input(s1, 0, KILN_FLOAT32, e.dims, e.rank, x,
                                      (size_t)e.count * 4));
      CHECK_OK(kiln_session_set_input(s2, 0, KILN_FLOAT32, e.dims, e.rank, x,
                                      (size_t)e.count * 4));
      CHECK_OK(kiln_session_invoke(s1));
      CHECK_OK(kiln_session_invoke(s2));
      CHECK_OK(kiln_session_get_output(s1, 0, a, (size_t)e.count * 4));
      CHECK_OK(kiln_session_get_output(s2, 0, b, (size_t)e.count * 4));
      CHECK(memcmp(a, b, (size_t)e.count * 4) == 0);
      kiln_session_free(s1);
      kiln_session_free(s2);
      free(x);
      free(a);
      free(b);
    }
    kiln_model_free(sparse_model_);
    kiln_model_free(dense_model);
    free(sparse_bytes);
    free(dense_bytes);
    encoding_free(&e);
  }
}

/* The 1x4 block format of TFLite's converter: w [4,8] float32, levels
 * (row DENSE 4, block column CSR over 2, block DENSE 4). */
static void block_encoding(encoding *e) {
  memset(e, 0, sizeof *e);
  e->tfl_type = TFL_TYPE_FLOAT32;
  e->elem = 4;
  e->rank = 2;
  e->dims[0] = 4;
  e->dims[1] = 8;
  e->count = 32;
  e->num_blocks = 1;
  e->block_dim[0] = 1;
  e->block_size[0] = 4;
  e->num_levels = 3;
  e->expanded[0] = 4;
  e->expanded[1] = 2;
  e->expanded[2] = 4;
  for (int l = 0; l < 3; l++) {
    e->order[l] = l;
    e->width_type[l] = TFL_INDEX_UINT8;
  }
  e->csr[1] = 1;
  e->seg[1][e->nseg[1]++] = 0;
  e->dense = calloc(32 * 4, 1);
  e->values = calloc(32 * 4, 1);
  float *f = (float *)(void *)e->dense;
  for (int r = 0; r < 4; r++)
    for (int c = 0; c < 8; c++)
      if ((r + c / 4) % 2 == 0) f[r * 8 + c] = (float)(r * 8 + c + 1);
  int64_t coord[MAX_LEVELS];
  encode(e, 0, coord);
}

typedef struct bad_case {
  const char *what;
  kiln_status_code code;
  const char *needle;
} bad_case;

/* Applies mutation `k` to a copy of the good format; returns the case. */
static bad_case mutate(int k, encoding *e, tb_sparsity *sp, tb_model *m,
                       int32_t *seg, int32_t *idx, size_t *values_size) {
  tb_dim *csr = &sp->dims[1];
  memcpy(seg, e->seg[1], sizeof(int32_t) * (size_t)e->nseg[1]);
  memcpy(idx, e->idx[1], sizeof(int32_t) * (size_t)e->nidx[1]);
  csr->segments = seg;
  csr->indices = idx;
  switch (k) {
    case 0:
      sp->order_len = 2;
      return (bad_case){"short traversal_order", KILN_ERR_INVALID_MODEL,
                        "traversal_order has 2 entries"};
    case 1:
      sp->order[1] = 0;
      return (bad_case){"repeated traversal_order", KILN_ERR_INVALID_MODEL,
                        "traversal_order[1] repeats dimension 0"};
    case 2:
      sp->order[2] = 7;
      return (bad_case){"traversal_order past the dimensions",
                        KILN_ERR_INVALID_MODEL, "traversal_order[2] is 7"};
    case 3:
      sp->order[1] = 2;
      sp->order[2] = 1;
      return (bad_case){"block before an original dimension",
                        KILN_ERR_INVALID_MODEL,
                        "original dimensions come first"};
    case 4:
      sp->block_map[0] = 2;
      return (bad_case){"block_map out of range", KILN_ERR_INVALID_MODEL,
                        "block_map[0] is 2"};
    case 5:
      sp->block_len = 3;
      return (bad_case){"block_map longer than the rank",
                        KILN_ERR_INVALID_MODEL, "block_map has 3 entries"};
    case 6:
      sp->dims[2].dense_size = 3;
      return (bad_case){"block size not dividing", KILN_ERR_INVALID_MODEL,
                        "dim_metadata[2].dense_size is 3"};
    case 7:
      sp->dims[2].dense_size = 0;
      return (bad_case){"block size 0", KILN_ERR_INVALID_MODEL,
                        "dim_metadata[2].dense_size is 0"};
    case 8:
      sp->dims[2].format = 1;
      return (bad_case){"sparse block level", KILN_ERR_INVALID_MODEL,
                        "must be DENSE"};
    case 9:
      sp->dims[0].dense_size = 5;
      return (bad_case){"dense_size mismatch", KILN_ERR_INVALID_MODEL,
                        "dim_metadata[0] is DENSE with dense_size 5"};
    case 10:
      sp->dims[0].format = 2;
      return (bad_case){"unknown format", KILN_ERR_INVALID_MODEL,
                        "dim_metadata[0].format is 2"};
    case 11:
      csr->segments_type = 0;
      return (bad_case){"no segments", KILN_ERR_INVALID_MODEL,
                        "has no array_segments"};
    case 12:
      csr->indices_type = 9;
      return (bad_case){"unknown index vector type", KILN_ERR_INVALID_MODEL,
                        "array_indices has union type 9"};
    case 13:
      csr->num_segments--;
      return (bad_case){"segments too short", KILN_ERR_INVALID_MODEL,
                        "array_segments has 4 entries"};
    case 14:
      seg[0] = 1;
      return (bad_case){"segments not from 0", KILN_ERR_INVALID_MODEL,
                        "array_segments[0] is 1"};
    case 15:
      seg[2] = 0;
      return (bad_case){"decreasing segments", KILN_ERR_INVALID_MODEL,
                        "array_segments[2] is 0, below"};
    case 16:
      csr->num_indices--;
      return (bad_case){"segments past the indices", KILN_ERR_INVALID_MODEL,
                        "past the 3 array_indices"};
    case 17:
      idx[0] = 2;
      return (bad_case){"index out of range", KILN_ERR_INVALID_MODEL,
                        "array_indices[0] is 2, outside expanded dimension 1"};
    case 18:
      csr->indices_type = TFL_INDEX_INT32;
      idx[0] = -1;
      return (bad_case){"negative int32 index", KILN_ERR_INVALID_MODEL,
                        "array_indices[0] is -1"};
    case 19:
      /* rows 0 and 2 keep block 0, rows 1 and 3 block 1: make row 0
       * name block 0 twice by widening its segment into row 1's. */
      seg[1] = 2;
      idx[1] = 0;
      return (bad_case){"repeated index in a segment", KILN_ERR_INVALID_MODEL,
                        "not above the index before it"};
    case 20:
      *values_size -= 4;
      return (bad_case){"values short of the metadata", KILN_ERR_INVALID_MODEL,
                        "reaches 16 values"};
    case 21:
      sp->num_dims = 2;
      return (bad_case){"dim_metadata short", KILN_ERR_INVALID_MODEL,
                        "dim_metadata has 2 entries"};
    case 22:
      m->tensors[1].rank = 0;
      m->tensors[0].rank = m->tensors[2].rank = 0;
      *values_size = 4;
      return (bad_case){"scalar", KILN_ERR_INVALID_MODEL, "on a scalar"};
    case 23:
      m->tensors[1].has_signature = true;
      m->tensors[1].sig_rank = 2;
      m->tensors[1].signature[0] = -1;
      m->tensors[1].signature[1] = 8;
      return (bad_case){"dynamic dimension", KILN_ERR_INVALID_MODEL,
                        "dimension 0 is dynamic"};
    case 24:
      /* The sparse tensor is the ADD's output: no constant to expand. */
      m->tensors[2].sparsity = sp;
      return (bad_case){"sparse activation", KILN_ERR_UNSUPPORTED,
                        "computed at run time"};
    case 25:
      /* [65536, 65536] float32: 16 GiB from a few hundred bytes. */
      for (int i = 0; i < 3; i++) {
        m->tensors[i].shape[0] = 65536;
        m->tensors[i].shape[1] = 65536;
      }
      sp->dims[0].dense_size = 65536;
      return (bad_case){"unbounded expansion", KILN_ERR_INVALID_MODEL,
                        "expanding its sparse storage would take"};
    case 26:
      csr->segments_type = 3;
      csr->indices_type = 2;
      seg[4] = 300; /* as uint8 this wraps to 44: past the indices */
      return (bad_case){"segments past indices in Uint8Vector",
                        KILN_ERR_INVALID_MODEL, "array_segments[4] is 44"};
  }
  return (bad_case){NULL, KILN_OK, NULL};
}

static void test_malformed(void) {
  for (int k = 0;; k++) {
    encoding e;
    tb_sparsity sp;
    tb_model m;
    int32_t seg[MAX_ENTRIES], idx[MAX_ENTRIES];
    block_encoding(&e);
    CHECK(e.num_values == 16 && e.nseg[1] == 5 && e.nidx[1] == 4);
    fill_sparsity(&e, &sp);
    size_t values_size = (size_t)e.num_values * e.elem;
    sparse_model(&m, &e, &sp, values_size);
    bad_case c = mutate(k, &e, &sp, &m, seg, idx, &values_size);
    if (!c.what) {
      encoding_free(&e);
      break;
    }
    m.buffers[1].size = values_size;
    kiln_graph *g = NULL;
    kiln_status *st = import(&m, &g);
    if (!st)
      fprintf(stderr, "case %d (%s) imported\n", k, c.what);
    else if (!strstr(kiln_status_message(st), "tensor 1 ('w')") && k != 24)
      fprintf(stderr, "case %d (%s): the message does not name w: %s\n", k,
              c.what, kiln_status_message(st));
    CHECK(!st || k == 24 || strstr(kiln_status_message(st), "tensor 1 ('w')"));
    CHECK_ERROR(st, c.code, c.needle);
    kiln_graph_free(g);
    encoding_free(&e);
  }
}

/* Every truncation of a sparse file fails cleanly or imports. */
static void test_truncated(void) {
  encoding e;
  tb_sparsity sp;
  tb_model m;
  block_encoding(&e);
  fill_sparsity(&e, &sp);
  sparse_model(&m, &e, &sp, (size_t)e.num_values * e.elem);
  size_t size;
  uint8_t *bytes = tb_build(&m, &size);
  for (size_t n = 0; n < size; n++) {
    uint8_t *copy = malloc(n + 1);
    memcpy(copy, bytes, n);
    kiln_graph *g = NULL;
    kiln_status *st = kiln_tflite_import(copy, n, SOURCE, NULL, &g);
    CHECK(st || g);
    kiln_status_free(st);
    kiln_graph_free(g);
    free(copy);
  }
  free(bytes);
  encoding_free(&e);
}

static int write_corpus(const char *dir) {
  encoding e;
  tb_sparsity sp;
  tb_model m;
  block_encoding(&e);
  fill_sparsity(&e, &sp);
  sparse_model(&m, &e, &sp, (size_t)e.num_values * e.elem);
  char path[1024];
  snprintf(path, sizeof path, "%s/sparse_block.tflite", dir);
  size_t size;
  uint8_t *bytes = tb_build(&m, &size);
  FILE *f = fopen(path, "wb");
  int ok = f && fwrite(bytes, 1, size, f) == size;
  if (f) fclose(f);
  free(bytes);
  encoding_free(&e);
  printf("%s: %zu bytes\n", path, size);
  return ok ? 0 : 1;
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "--write-corpus") == 0)
    return write_corpus(argv[2]);
  test_random_formats();
  test_same_as_dense_model();
  test_malformed();
  test_truncated();
  return kiln_test_finish("test_tflite_sparsity");
}
