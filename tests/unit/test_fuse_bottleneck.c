/* test_fuse_bottleneck.c - the pass that makes FUSED_BOTTLENECK nodes:
 * graphs of MobileNet blocks compute the same after it (every node run by
 * its reference kernel), chains it must not fuse are left as they are, and
 * a failed allocation at any point leaves a valid graph and no leak. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/graph.h"
#include "harness.h"
#include "passes/passes.h"

/* ------------------------------------------------------ building graphs */

static kiln_graph *G;
static int graph_inputs[4], num_graph_inputs;

static int value(const char *name, int rank, const int64_t *dims) {
  int id = -1;
  CHECK_OK(kiln_graph_add_value(G, name, &id));
  kiln_value *v = &G->values[id];
  v->dtype = KILN_FLOAT32;
  v->rank = rank;
  memcpy(v->dims, dims, sizeof(int64_t) * (size_t)rank);
  memcpy(v->signature, dims, sizeof(int64_t) * (size_t)rank);
  return id;
}

static int input(const char *name, int rank, const int64_t *dims) {
  int id = value(name, rank, dims);
  graph_inputs[num_graph_inputs++] = id;
  return id;
}

/* A float32 constant of random numbers in [-1, 1), owned by the graph
 * (from its allocator, so a counting allocator sees it freed). */
static int constant(const char *name, int rank, const int64_t *dims) {
  int id = value(name, rank, dims);
  kiln_value *v = &G->values[id];
  int64_t n = 1;
  for (int d = 0; d < rank; d++) n *= dims[d];
  float *data = kiln_malloc(G->alloc, sizeof(float) * (size_t)n);
  CHECK(data != NULL);
  if (data) kiln_test_fill(data, n, -1.0f, 1.0f);
  v->is_constant = true;
  v->owned_data = data;
  v->data = data;
  v->nbytes = sizeof(float) * (size_t)n;
  return id;
}

static void *node(kiln_op_type op, const int *ins, int num_ins, int out) {
  kiln_node *n = NULL;
  CHECK_OK(kiln_graph_add_node(G, op, ins, num_ins, &out, 1, G->num_nodes, &n));
  return n ? n->attrs : NULL;
}

/* How the chain of a test graph is built; each flag breaks one condition
 * the pass checks. */
typedef struct shape {
  int64_t batch, h, w, c, m, o;
  int stride;
  kiln_padding padding;
  bool expand, biases;
} shape;

enum {
  OK = 0,
  EXPAND_READ_TWICE = 1 << 0, /* the expanded tensor has a second reader */
  DW_READ_TWICE = 1 << 1,     /* so has the depthwise output */
  DW_IS_OUTPUT = 1 << 2,      /* the depthwise output is a graph output */
  PROJECT_W_INPUT = 1 << 3,   /* project weights are not constant */
  DW_W_INPUT = 1 << 4,        /* depthwise weights are not constant */
  DW_DILATED = 1 << 5,        /* a window the variants do not run */
  DW_5X5 = 1 << 6,            /* likewise */
  PROJECT_STRIDE_2 = 1 << 7,  /* a project the fused node cannot express */
  EXPAND_TANH = 1 << 8,       /* an activation the variants lack */
  RESIDUAL = 1 << 9,          /* ADD of the block's input (fuses fine) */
  EXPAND_3X3 = 1 << 10,       /* an expand that is not 1x1 */
};

static kiln_conv_attrs conv(int stride, kiln_activation act) {
  kiln_conv_attrs a = {KILN_PAD_SAME, stride, stride, 1, 1, 0, act};
  return a;
}

static int bias(bool present, const char *name, int64_t n) {
  return present ? constant(name, 1, (int64_t[]){n}) : -1;
}

/* One block on x ([batch, h, w, c]); returns its output. `outs` collects
 * extra graph outputs. */
static int block(int x, const shape *s, int flags, int *outs, int *num_outs) {
  int64_t m = s->expand ? s->m : s->c;
  int64_t oh = s->padding == KILN_PAD_SAME ? (s->h + s->stride - 1) / s->stride
                                           : (s->h - 3) / s->stride + 1;
  int64_t ow = s->padding == KILN_PAD_SAME ? (s->w + s->stride - 1) / s->stride
                                           : (s->w - 3) / s->stride + 1;
  if (flags & (DW_DILATED | DW_5X5)) oh = s->h, ow = s->w; /* SAME only */
  int e = x;
  if (s->expand) {
    int k = flags & EXPAND_3X3 ? 3 : 1;
    e = value("expanded", 4, (int64_t[]){s->batch, s->h, s->w, m});
    kiln_conv_attrs *a =
        node(KILN_OP_CONV_2D,
             (int[]){x, constant("ew", 4, (int64_t[]){m, k, k, s->c}),
                     bias(s->biases, "eb", m)},
             3, e);
    if (a) *a = conv(1, flags & EXPAND_TANH ? KILN_ACT_TANH : KILN_ACT_RELU6);
    if (flags & EXPAND_READ_TWICE) {
      int r = value("relu", 4, (int64_t[]){s->batch, s->h, s->w, m});
      node(KILN_OP_RELU, (int[]){e}, 1, r);
      outs[(*num_outs)++] = r;
    }
  }
  int kh = flags & DW_5X5 ? 5 : 3;
  int dw_w = flags & DW_W_INPUT
                 ? input("dw_w", 4, (int64_t[]){1, kh, kh, m})
                 : constant("dw_w", 4, (int64_t[]){1, kh, kh, m});
  int d = value("depthwise", 4, (int64_t[]){s->batch, oh, ow, m});
  kiln_conv_attrs *a = node(KILN_OP_DEPTHWISE_CONV_2D,
                            (int[]){e, dw_w, bias(s->biases, "db", m)}, 3, d);
  if (a) {
    *a = conv(s->stride, KILN_ACT_RELU6);
    a->padding = s->padding;
    if (flags & DW_DILATED) a->dilation_h = a->dilation_w = 2;
  }
  if (flags & DW_READ_TWICE) {
    int r = value("relu", 4, (int64_t[]){s->batch, oh, ow, m});
    node(KILN_OP_RELU, (int[]){d}, 1, r);
    outs[(*num_outs)++] = r;
  }
  if (flags & DW_IS_OUTPUT) outs[(*num_outs)++] = d;
  int pstride = flags & PROJECT_STRIDE_2 ? 2 : 1;
  int64_t ph = (oh + pstride - 1) / pstride, pw = (ow + pstride - 1) / pstride;
  int pw_w = flags & PROJECT_W_INPUT
                 ? input("pw_w", 4, (int64_t[]){s->o, 1, 1, m})
                 : constant("pw_w", 4, (int64_t[]){s->o, 1, 1, m});
  int y = value("projected", 4, (int64_t[]){s->batch, ph, pw, s->o});
  a = node(KILN_OP_CONV_2D, (int[]){d, pw_w, bias(s->biases, "pb", s->o)}, 3,
           y);
  if (a) *a = conv(pstride, KILN_ACT_NONE);
  if (flags & RESIDUAL) {
    int sum = value("sum", 4, (int64_t[]){s->batch, ph, pw, s->o});
    node(KILN_OP_ADD, (int[]){y, x}, 2, sum);
    y = sum;
  }
  return y;
}

static const shape BLOCK = {2, 9, 10, 6, 20, 6, 1, KILN_PAD_SAME, true, true};

/* A graph of one block on a graph input, with `flags`. */
static kiln_graph *build_block(const shape *s, int flags,
                               const kiln_allocator *alloc) {
  G = kiln_graph_create(alloc);
  num_graph_inputs = 0;
  kiln_test_seed(4242);
  int x = input("x", 4, (int64_t[]){s->batch, s->h, s->w, s->c});
  int outs[4], extra = 0;
  outs[0] = block(x, s, flags, outs + 1, &extra);
  int num_outs = 1 + extra;
  CHECK_OK(kiln_graph_set_io(G, graph_inputs, NULL, num_graph_inputs, outs,
                             NULL, num_outs));
  CHECK_OK(kiln_graph_validate(G, "built"));
  kiln_graph *g = G;
  G = NULL;
  return g;
}

/* MobileNetV2 in miniature: a depthwise-separable first block, a stride-2
 * VALID block without biases, and a stride-1 block with its residual. */
static kiln_graph *build_net(const kiln_allocator *alloc) {
  G = kiln_graph_create(alloc);
  num_graph_inputs = 0;
  kiln_test_seed(77);
  int x = input("x", 4, (int64_t[]){2, 17, 19, 8});
  int outs[4], n = 0;
  shape first = {2, 17, 19, 8, 8, 5, 1, KILN_PAD_SAME, false, true};
  int y = block(x, &first, OK, outs, &n);
  shape down = {2, 17, 19, 5, 30, 7, 2, KILN_PAD_VALID, true, false};
  y = block(y, &down, OK, outs, &n);
  shape same = {2, 8, 9, 7, 42, 7, 1, KILN_PAD_SAME, true, true};
  y = block(y, &same, RESIDUAL, outs, &n);
  CHECK_OK(kiln_graph_set_io(G, graph_inputs, NULL, num_graph_inputs,
                             (int[]){y}, NULL, 1));
  CHECK_OK(kiln_graph_validate(G, "built"));
  kiln_graph *g = G;
  G = NULL;
  return g;
}

/* ---------------------------------------------- running a graph by hand */

/* Runs the nodes in order with their shape functions and reference
 * kernels on `inputs` (one per graph input, at its default shape) and
 * returns graph output 0..count-1 concatenated, malloc'd. */
static float *evaluate(const kiln_graph *g, float *const *inputs,
                       int64_t *out_count) {
  kiln_tensor *t = calloc((size_t)g->num_values + 1, sizeof *t);
  void **storage = calloc((size_t)g->num_values + 1, sizeof *storage);
  for (int v = 0; v < g->num_values; v++)
    kiln_value_as_tensor(&g->values[v], &t[v]);
  for (int i = 0; i < g->num_inputs; i++) t[g->inputs[i]].data = inputs[i];
  for (int n = 0; n < g->num_nodes; n++) {
    const kiln_node *node_ = &g->nodes[n];
    kiln_tensor *in[8], *out[1] = {&t[node_->outputs[0]]};
    for (int i = 0; i < node_->num_inputs; i++)
      in[i] = node_->inputs[i] < 0 ? NULL : &t[node_->inputs[i]];
    kiln_op_ctx ctx = {node_->attrs, in,  node_->num_inputs, out, 1, NULL,
                       NULL,         NULL};
    CHECK_OK(kiln_op_table[node_->op].shape(&ctx));
    storage[node_->outputs[0]] = calloc(kiln_tensor_nbytes(out[0]) + 1, 1);
    out[0]->data = storage[node_->outputs[0]];
    CHECK_OK(kiln_op_table[node_->op].reference(&ctx));
  }
  int64_t total = 0;
  for (int i = 0; i < g->num_outputs; i++)
    total += kiln_tensor_numel(&t[g->outputs[i]]);
  float *result = malloc(sizeof(float) * (size_t)(total + 1)), *at = result;
  for (int i = 0; i < g->num_outputs; i++) {
    const kiln_tensor *o = &t[g->outputs[i]];
    memcpy(at, o->data, kiln_tensor_nbytes(o));
    at += kiln_tensor_numel(o);
  }
  *out_count = total;
  for (int v = 0; v < g->num_values; v++) free(storage[v]);
  free(storage);
  free(t);
  return result;
}

/* Both graphs compute the same on random inputs. */
static void check_same(const kiln_graph *before, const kiln_graph *after,
                       const char *what) {
  CHECK(before->num_inputs == after->num_inputs);
  float *inputs[4] = {0};
  for (int i = 0; i < before->num_inputs; i++) {
    const kiln_value *v = &before->values[before->inputs[i]];
    int64_t n = 1;
    for (int d = 0; d < v->rank; d++) n *= v->dims[d];
    inputs[i] = malloc(sizeof(float) * (size_t)n);
    kiln_test_fill(inputs[i], n, -3.0f, 3.0f);
  }
  int64_t n_want = 0, n_got = 0;
  float *want = evaluate(before, inputs, &n_want);
  float *got = evaluate(after, inputs, &n_got);
  CHECK(n_want == n_got);
  if (n_want == n_got) kiln_test_close(got, want, n_want, 1e-5f, 1e-5f, what);
  free(want);
  free(got);
  for (int i = 0; i < before->num_inputs; i++) free(inputs[i]);
}

static int count_op(const kiln_graph *g, kiln_op_type op) {
  int n = 0;
  for (int i = 0; i < g->num_nodes; i++) n += g->nodes[i].op == op;
  return n;
}

/* Runs the pass on a copy of the block graph: it makes `fused` nodes,
 * leaves `convs_left` CONV_2D nodes, and the results stay the same. */
static void expect_block(const char *what, const shape *s, int flags, int fused,
                         int convs_left) {
  kiln_graph *before = build_block(s, flags, NULL);
  kiln_graph *after = build_block(s, flags, NULL);
  int done = -1;
  CHECK_OK(kiln_pass_fuse_bottlenecks(after, &done));
  if (done != fused || count_op(after, KILN_OP_CONV_2D) != convs_left)
    fprintf(stderr, "%s: fused %d (expected %d), %d CONV_2D left (%d)\n", what,
            done, fused, count_op(after, KILN_OP_CONV_2D), convs_left);
  CHECK(done == fused);
  CHECK(count_op(after, KILN_OP_FUSED_BOTTLENECK) == fused);
  CHECK(count_op(after, KILN_OP_CONV_2D) == convs_left);
  CHECK_OK(kiln_graph_validate(after, what));
  check_same(before, after, what);
  kiln_graph_free(before);
  kiln_graph_free(after);
}

/* ---------------------------------------------------------------- tests */

static void test_blocks(void) {
  expect_block("block", &BLOCK, OK, 1, 0);
  expect_block("residual block", &BLOCK, RESIDUAL, 1, 0);
  shape s = BLOCK;
  s.stride = 2, s.padding = KILN_PAD_VALID, s.biases = false;
  s.h = 17; /* 8 output rows */
  expect_block("stride-2 VALID block", &s, OK, 1, 0);
  s = BLOCK;
  s.expand = false;
  expect_block("depthwise separable", &s, OK, 1, 0);
  /* Without an expand stage only maps at least 8 wide are worth it. */
  s.w = 7;
  expect_block("narrow depthwise separable", &s, OK, 0, 1);
  s = BLOCK;
  s.w = 7;
  expect_block("narrow block", &s, OK, 1, 0);
  /* Under 8 output rows in all, threads would split the fused block
   * badly. */
  s = BLOCK;
  s.h = 7;
  expect_block("short block, two images", &s, OK, 1, 0);
  s.batch = 1;
  expect_block("short block, one image", &s, OK, 0, 2);
  s.stride = 2, s.h = 16; /* SAME: 8 rows */
  expect_block("stride-2 block of 8 rows", &s, OK, 1, 0);
  s.h = 14; /* 7 rows */
  expect_block("stride-2 block of 7 rows", &s, OK, 0, 2);
}

static void test_left_alone(void) {
  /* The depthwise output seen elsewhere, or weights not known at load, or
   * a stage the variants do not run: nothing fuses. */
  expect_block("depthwise output read twice", &BLOCK, DW_READ_TWICE, 0, 2);
  expect_block("depthwise output is an output", &BLOCK, DW_IS_OUTPUT, 0, 2);
  expect_block("project weights not constant", &BLOCK, PROJECT_W_INPUT, 0, 2);
  expect_block("depthwise weights not constant", &BLOCK, DW_W_INPUT, 0, 2);
  expect_block("dilated depthwise", &BLOCK, DW_DILATED, 0, 2);
  expect_block("5x5 depthwise", &BLOCK, DW_5X5, 0, 2);
  expect_block("strided project", &BLOCK, PROJECT_STRIDE_2, 0, 2);
  /* An expand the fused node cannot take stays a node of its own and the
   * depthwise and project fuse without it. */
  expect_block("expanded tensor read twice", &BLOCK, EXPAND_READ_TWICE, 1, 1);
  expect_block("expand with TANH", &BLOCK, EXPAND_TANH, 1, 1);
  expect_block("3x3 expand", &BLOCK, EXPAND_3X3, 1, 1);
}

/* The whole pipeline on a small MobileNetV2: three fused nodes, reported,
 * the residual ADD kept. */
static void test_pipeline(void) {
  kiln_graph *before = build_net(NULL), *after = build_net(NULL);
  kiln_pass_report report;
  CHECK_OK(kiln_run_passes(after, "net", &report));
  CHECK(report.fused_bottlenecks == 3);
  CHECK(report.nodes_before == 9 && report.nodes_after == 4);
  CHECK(count_op(after, KILN_OP_FUSED_BOTTLENECK) == 3);
  CHECK(count_op(after, KILN_OP_ADD) == 1);
  CHECK_OK(kiln_graph_validate(after, "net"));
  check_same(before, after, "net");
  kiln_graph_free(before);
  kiln_graph_free(after);
}

/* Every allocation of the pass fails in turn: a clean OUT_OF_MEMORY, no
 * leak, and a graph that is valid and still computes the same. */
static void test_out_of_memory(void) {
  kiln_graph *reference = build_net(NULL);
  kiln_test_allocator t;
  bool succeeded = false;
  for (long fail_at = 0; fail_at < 1000 && !succeeded; fail_at++) {
    kiln_graph *g = build_net(kiln_test_allocator_init(&t, -1));
    t.fail_at = fail_at;
    t.calls = 0;
    int fused = 0;
    kiln_status *st = kiln_pass_fuse_bottlenecks(g, &fused);
    t.fail_at = -1;
    /* Either it finished, or it ran out of memory and said so. */
    succeeded = st == NULL;
    CHECK(succeeded ? fused == 3
                    : kiln_status_get_code(st) == KILN_ERR_OUT_OF_MEMORY);
    kiln_status_free(st);
    CHECK_OK(kiln_graph_validate(g, "after failure"));
    check_same(reference, g, "after failure");
    kiln_graph_free(g);
    CHECK(t.live == 0);
  }
  CHECK(succeeded);
  kiln_graph_free(reference);
}

int main(void) {
  test_blocks();
  test_left_alone();
  test_pipeline();
  test_out_of_memory();
  return kiln_test_finish("test_fuse_bottleneck");
}
