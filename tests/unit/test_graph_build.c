/* test_graph_build.c - the shape-as-you-build graph helpers importers use
 * (formats/graph_build.h): nodes get their shapes from the operator's
 * shape function when added, an unknown batch is carried, nodes on
 * constants are folded to constants (checked against an independent
 * computation on random shapes and data), and bad shapes give an error
 * naming the node and operator. */
#include <string.h>

#include "core/graph.h"
#include "formats/graph_build.h"
#include "harness.h"

static kiln_graph_builder builder(void) {
  kiln_graph_builder b = {.g = kiln_graph_create(NULL), .source = "test"};
  return b;
}

static int input(kiln_graph_builder *b, int rank, const int64_t *dims,
                 bool dynamic_batch) {
  int id = -1;
  CHECK_OK(kiln_graph_add_value(b->g, "x", &id));
  kiln_value *v = &b->g->values[id];
  v->dtype = KILN_FLOAT32;
  v->rank = rank;
  for (int d = 0; d < rank; d++) v->dims[d] = v->signature[d] = dims[d];
  if (dynamic_batch) v->signature[0] = -1;
  return id;
}

static int const_f32(kiln_graph_builder *b, const char *name, int rank,
                     const int64_t *dims, float **out) {
  int id = -1;
  void *data = NULL;
  CHECK_OK(kiln_gb_const(b, name, KILN_FLOAT32, rank, dims, &id, &data));
  int64_t n = 1;
  for (int d = 0; d < rank; d++) n *= dims[d];
  kiln_test_fill(data, n, -2.0f, 2.0f);
  if (out) *out = data;
  return id;
}

/* A TRANSPOSE of a constant by a random permutation folds to the
 * permuted constant, adding no node. */
static void test_transpose_of_constant_folds(void) {
  for (int trial = 0; trial < 20; trial++) {
    kiln_graph_builder b = builder();
    int64_t dims[4];
    for (int d = 0; d < 4; d++) dims[d] = kiln_test_int(1, 5);
    float *w = NULL;
    int c = const_f32(&b, "w", 4, dims, &w);
    int32_t perm[4] = {0, 1, 2, 3};
    for (int i = 3; i > 0; i--) {
      int j = kiln_test_int(0, i);
      int32_t t = perm[i];
      perm[i] = perm[j];
      perm[j] = t;
    }
    /* The data before more values are added (which may move it). */
    int64_t n = dims[0] * dims[1] * dims[2] * dims[3];
    float src[625];
    memcpy(src, w, (size_t)n * sizeof *src);
    int p = -1, out = -1;
    CHECK_OK(kiln_gb_const_i32(&b, "perm", perm, 4, &p));
    int ins[2] = {c, p};
    CHECK_OK(kiln_gb_node(&b, KILN_OP_TRANSPOSE, ins, 2, NULL, "t",
                          KILN_DTYPE_INVALID, &out));
    CHECK(b.g->num_nodes == 0);
    const kiln_value *v = &b.g->values[out];
    CHECK(v->is_constant && v->rank == 4);
    int64_t od[4];
    for (int d = 0; d < 4; d++) {
      od[d] = dims[perm[d]];
      CHECK(v->dims[d] == od[d]);
    }
    const float *got = v->data;
    int bad = 0;
    for (int64_t i0 = 0; i0 < od[0]; i0++)
      for (int64_t i1 = 0; i1 < od[1]; i1++)
        for (int64_t i2 = 0; i2 < od[2]; i2++)
          for (int64_t i3 = 0; i3 < od[3]; i3++) {
            int64_t o[4] = {i0, i1, i2, i3}, s[4];
            for (int d = 0; d < 4; d++) s[perm[d]] = o[d];
            int64_t si =
                ((s[0] * dims[1] + s[1]) * dims[2] + s[2]) * dims[3] + s[3];
            int64_t oi = ((i0 * od[1] + i1) * od[2] + i2) * od[3] + i3;
            bad += got[oi] != src[si];
          }
    CHECK(bad == 0);
    kiln_graph_free(b.g);
  }
}

/* A CONV_2D on a graph input is kept as a node, shaped now, and carries
 * the input's unknown batch. */
static void test_node_is_shaped_and_keeps_dynamic_batch(void) {
  for (int trial = 0; trial < 20; trial++) {
    kiln_graph_builder b = builder();
    int64_t h = kiln_test_int(3, 12), w = kiln_test_int(3, 12),
            c = kiln_test_int(1, 4), o = kiln_test_int(1, 5),
            k = kiln_test_int(1, 3);
    int stride = kiln_test_int(1, 2);
    bool same = kiln_test_int(0, 1);
    int64_t xd[4] = {1, h, w, c}, wd[4] = {o, k, k, c};
    int x = input(&b, 4, xd, true);
    int f = const_f32(&b, "f", 4, wd, NULL);
    kiln_conv_attrs a = {.padding = same ? KILN_PAD_SAME : KILN_PAD_VALID,
                         .stride_h = stride,
                         .stride_w = stride,
                         .dilation_h = 1,
                         .dilation_w = 1};
    int ins[3] = {x, f, -1}, out = -1;
    CHECK_OK(kiln_gb_node(&b, KILN_OP_CONV_2D, ins, 3, &a, "conv",
                          KILN_DTYPE_INVALID, &out));
    CHECK(b.g->num_nodes == 1);
    const kiln_value *v = &b.g->values[out];
    int64_t oh = same ? (h + stride - 1) / stride : (h - k) / stride + 1;
    int64_t ow = same ? (w + stride - 1) / stride : (w - k) / stride + 1;
    CHECK(!v->is_constant && v->rank == 4);
    CHECK(v->dims[0] == 1 && v->dims[1] == oh && v->dims[2] == ow &&
          v->dims[3] == o);
    CHECK(v->signature[0] == -1 && v->signature[3] == o);
    CHECK(v->dtype == KILN_FLOAT32);
    kiln_graph_free(b.g);
  }
}

/* ADD of two constants folds to their broadcast sum. */
static void test_add_of_constants_folds(void) {
  kiln_graph_builder b = builder();
  int64_t n = kiln_test_int(1, 40), ad[2] = {3, n}, bd[1] = {n};
  float *pa = NULL, *pb = NULL;
  int x = const_f32(&b, "a", 2, ad, &pa);
  float a_copy[120];
  memcpy(a_copy, pa, (size_t)(3 * n) * sizeof *a_copy);
  int y = const_f32(&b, "b", 1, bd, &pb);
  float b_copy[40];
  memcpy(b_copy, pb, (size_t)n * sizeof *b_copy);
  int ins[2] = {x, y}, out = -1;
  CHECK_OK(kiln_gb_node(&b, KILN_OP_ADD, ins, 2, NULL, "sum",
                        KILN_DTYPE_INVALID, &out));
  CHECK(b.g->num_nodes == 0);
  const kiln_value *v = &b.g->values[out];
  CHECK(v->is_constant && v->rank == 2 && v->dims[0] == 3 && v->dims[1] == n);
  float want[120];
  for (int64_t i = 0; i < 3 * n; i++) want[i] = a_copy[i] + b_copy[i % n];
  CHECK(kiln_test_close(v->data, want, 3 * n, 0, 0, "folded ADD"));
  kiln_graph_free(b.g);
}

static void test_bad_shape_names_node_and_op(void) {
  kiln_graph_builder b = builder();
  int64_t xd[2] = {2, 3};
  int x = input(&b, 2, xd, false), s = -1, out = -1;
  int32_t shape[2] = {4, 2};
  CHECK_OK(kiln_gb_const_i32(&b, "shape", shape, 2, &s));
  kiln_reshape_attrs a = {.num_dims = -1};
  int ins[2] = {x, s};
  CHECK_ERROR(kiln_gb_node(&b, KILN_OP_RESHAPE, ins, 2, &a, "bad_reshape",
                           KILN_DTYPE_INVALID, &out),
              KILN_ERR_INVALID_MODEL, "test: node 'bad_reshape' (RESHAPE)");
  int many[KILN_GB_MAX_INPUTS + 1];
  for (int i = 0; i <= KILN_GB_MAX_INPUTS; i++) many[i] = x;
  CHECK_ERROR(kiln_gb_node(&b, KILN_OP_ADD_N, many, KILN_GB_MAX_INPUTS + 1,
                           NULL, "wide", KILN_DTYPE_INVALID, &out),
              KILN_ERR_UNSUPPORTED, "node 'wide' (ADD_N) has 65 inputs");
  kiln_graph_free(b.g);
}

int main(void) {
  kiln_test_seed(0x6b75696c64ULL);
  test_transpose_of_constant_folds();
  test_node_is_shaped_and_keeps_dynamic_batch();
  test_add_of_constants_folds();
  test_bad_shape_names_node_and_op();
  return kiln_test_finish("test_graph_build");
}
