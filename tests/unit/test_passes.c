/* test_passes.c - each load-time pass, checked by running both graphs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/graph.h"
#include "formats/tflite/tflite_import.h"
#include "formats/tflite/tflite_schema.h"
#include "harness.h"
#include "passes/passes.h"
#include "tflite_builder.c"

/* ------------------------------------------------------ building graphs */

/* The graph being built, and the values that will be its inputs. */
static kiln_graph *G;
static int graph_inputs[8], num_graph_inputs;

#define DIMS(...)                                                          \
  (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]) { \
    __VA_ARGS__                                                            \
  }
#define IDS(...) \
  (int[]){__VA_ARGS__}, (int)(sizeof((int[]){__VA_ARGS__}) / sizeof(int))

static int64_t count_of(int rank, const int64_t *dims) {
  int64_t n = 1;
  for (int d = 0; d < rank; d++) n *= dims[d];
  return n;
}

/* A value computed by a node (or fed by the caller), shape [dims]. */
static int value(const char *name, kiln_dtype dtype, int rank,
                 const int64_t *dims) {
  int id = -1;
  CHECK_OK(kiln_graph_add_value(G, name, &id));
  kiln_value *v = &G->values[id];
  v->dtype = dtype;
  v->rank = rank;
  if (rank) {
    memcpy(v->dims, dims, sizeof(int64_t) * (size_t)rank);
    memcpy(v->signature, dims, sizeof(int64_t) * (size_t)rank);
  }
  return id;
}

static int tensor(const char *name, int rank, const int64_t *dims) {
  return value(name, KILN_FLOAT32, rank, dims);
}

/* A float32 graph input. */
static int input(const char *name, int rank, const int64_t *dims) {
  int id = tensor(name, rank, dims);
  graph_inputs[num_graph_inputs++] = id;
  return id;
}

/* A value shaped like `like`, for the output of a shape-keeping op. */
static int like(const char *name, int like_id) {
  kiln_value copy = G->values[like_id];
  return value(name, copy.dtype, copy.rank, copy.dims);
}

/* A constant with graph-owned bytes copied from `data`. */
static int constant(const char *name, kiln_dtype dtype, int rank,
                    const int64_t *dims, const void *data) {
  int id = value(name, dtype, rank, dims);
  size_t nbytes = (size_t)count_of(rank, dims) * kiln_dtype_size(dtype);
  void *copy = malloc(nbytes ? nbytes : 1);
  memcpy(copy, data, nbytes);
  kiln_value *v = &G->values[id];
  v->is_constant = true;
  v->owned_data = copy;
  v->data = copy;
  v->nbytes = nbytes;
  return id;
}

/* A float32 constant of uniform random numbers in [lo, hi). */
static int random_constant(const char *name, int rank, const int64_t *dims,
                           float lo, float hi) {
  int64_t n = count_of(rank, dims);
  float *data = malloc(sizeof(float) * (size_t)(n ? n : 1));
  kiln_test_fill(data, n, lo, hi);
  int id = constant(name, KILN_FLOAT32, rank, dims, data);
  free(data);
  return id;
}

/* A float32 constant with every element `x`. */
static int filled_constant(const char *name, int rank, const int64_t *dims,
                           float x) {
  int64_t n = count_of(rank, dims);
  float *data = malloc(sizeof(float) * (size_t)(n ? n : 1));
  for (int64_t i = 0; i < n; i++) data[i] = x;
  int id = constant(name, KILN_FLOAT32, rank, dims, data);
  free(data);
  return id;
}

static int int_constant(const char *name, int rank, const int64_t *dims,
                        const int32_t *data) {
  return constant(name, KILN_INT32, rank, dims, data);
}

/* Appends a node; its attrs are zeroed, to be set through the pointer. */
static void *node(kiln_op_type op, const int *ins, int num_ins, const int *outs,
                  int num_outs) {
  kiln_node *n = NULL;
  CHECK_OK(kiln_graph_add_node(G, op, ins, num_ins, outs, num_outs,
                               G->num_nodes, &n));
  return n ? n->attrs : NULL;
}

static void set_outputs(const int *outs, int num_outs) {
  CHECK_OK(kiln_graph_set_io(G, graph_inputs, NULL, num_graph_inputs, outs,
                             NULL, num_outs));
}

static kiln_conv_attrs conv_attrs(int stride, kiln_activation act) {
  kiln_conv_attrs a = {KILN_PAD_SAME, stride, stride, 1, 1, 0, act};
  return a;
}

/* ---------------------------------------------------- a tiny interpreter */

enum { MAX_IO = 16 };

typedef struct results {
  int count;
  float *data[MAX_IO];
  int64_t size[MAX_IO];
} results;

static void results_free(results *r) {
  for (int i = 0; i < r->count; i++) free(r->data[i]);
  memset(r, 0, sizeof *r);
}

/* Runs the nodes in order with their shape functions and reference kernels,
 * inputs[i] feeding graph input i at its default shape. Copies each float32
 * output into r. */
static kiln_status *evaluate(const kiln_graph *g, float *const *inputs,
                             results *r) {
  memset(r, 0, sizeof *r);
  kiln_tensor *t = calloc((size_t)g->num_values + 1, sizeof *t);
  void **storage = calloc((size_t)g->num_values + 1, sizeof *storage);
  for (int v = 0; v < g->num_values; v++)
    kiln_value_as_tensor(&g->values[v], &t[v]);
  for (int i = 0; i < g->num_inputs; i++) t[g->inputs[i]].data = inputs[i];
  kiln_status *st = NULL;
  for (int n = 0; n < g->num_nodes && !st; n++) {
    const kiln_node *node_ = &g->nodes[n];
    kiln_tensor *in[MAX_IO], *out[MAX_IO];
    for (int i = 0; i < node_->num_inputs; i++)
      in[i] = node_->inputs[i] < 0 ? NULL : &t[node_->inputs[i]];
    for (int i = 0; i < node_->num_outputs; i++) out[i] = &t[node_->outputs[i]];
    kiln_op_ctx ctx = {
        node_->attrs, in,  node_->num_inputs, out, node_->num_outputs, NULL,
        NULL,         NULL};
    st = kiln_op_table[node_->op].shape(&ctx);
    for (int i = 0; i < node_->num_outputs && !st; i++) {
      int v = node_->outputs[i];
      storage[v] = calloc(kiln_tensor_nbytes(&t[v]) + 1, 1);
      t[v].data = storage[v];
    }
    if (!st) st = kiln_op_table[node_->op].reference(&ctx);
  }
  for (int i = 0; i < g->num_outputs && !st; i++) {
    const kiln_tensor *o = &t[g->outputs[i]];
    r->size[i] = kiln_tensor_numel(o);
    r->data[i] = malloc(sizeof(float) * (size_t)(r->size[i] + 1));
    if (o->dtype == KILN_FLOAT32)
      memcpy(r->data[i], o->data, sizeof(float) * (size_t)r->size[i]);
    else
      for (int64_t k = 0; k < r->size[i]; k++)
        r->data[i][k] = (float)kiln_tensor_real(o, k);
    r->count++;
  }
  for (int v = 0; v < g->num_values; v++) free(storage[v]);
  free(storage);
  free(t);
  return st;
}

/* Both graphs on the same random inputs (several draws): every output
 * within atol/rtol. An exact rewrite is checked with zero tolerance. */
static void check_same_outputs(const kiln_graph *before,
                               const kiln_graph *after, float atol, float rtol,
                               const char *what) {
  CHECK(before->num_inputs == after->num_inputs);
  CHECK(before->num_outputs == after->num_outputs);
  for (int draw = 0; draw < 3; draw++) {
    float *inputs[MAX_IO] = {0};
    for (int i = 0; i < before->num_inputs; i++) {
      const kiln_value *v = &before->values[before->inputs[i]];
      int64_t n = count_of(v->rank, v->dims);
      inputs[i] = malloc(sizeof(float) * (size_t)(n + 1));
      /* Wide enough that RELU6 and RELU_N1_TO_1 clamp on both sides. */
      kiln_test_fill(inputs[i], n, -8.0f, 8.0f);
    }
    results want, got;
    CHECK_OK(evaluate(before, inputs, &want));
    CHECK_OK(evaluate(after, inputs, &got));
    CHECK(want.count == got.count);
    for (int i = 0; i < want.count && i < got.count; i++) {
      CHECK(want.size[i] == got.size[i]);
      if (want.size[i] == got.size[i])
        kiln_test_close(got.data[i], want.data[i], want.size[i], atol, rtol,
                        what);
    }
    results_free(&want);
    results_free(&got);
    for (int i = 0; i < before->num_inputs; i++) free(inputs[i]);
  }
}

/* ------------------------------------------------------- running a case */

typedef void (*builder)(int variant);
typedef kiln_status *(*pass_fn)(kiln_graph *g, int *count);

static kiln_graph *build(builder b, int variant, const kiln_allocator *alloc) {
  G = kiln_graph_create(alloc);
  num_graph_inputs = 0;
  kiln_test_seed(1000 + (uint64_t)variant);
  b(variant);
  CHECK_OK(kiln_graph_validate(G, "built"));
  kiln_graph *g = G;
  G = NULL;
  return g;
}

/* Builds the graph twice, runs `pass` on one copy and checks the count it
 * reports, the nodes left and that both copies compute the same. Returns
 * the rewritten graph for further checks; the caller frees it. */
static kiln_graph *expect(const char *what, builder b, int variant,
                          pass_fn pass, int count, int nodes, float tol) {
  kiln_graph *before = build(b, variant, NULL);
  kiln_graph *after = build(b, variant, NULL);
  int done = -1;
  CHECK_OK(pass(after, &done));
  if (done != count || after->num_nodes != nodes)
    fprintf(stderr,
            "%s (variant %d): pass did %d (expected %d), %d nodes "
            "left (expected %d)\n",
            what, variant, done, count, after->num_nodes, nodes);
  CHECK(done == count);
  CHECK(after->num_nodes == nodes);
  CHECK_OK(kiln_graph_validate(after, what));
  check_same_outputs(before, after, tol, tol, what);
  kiln_graph_free(before);
  return after;
}

static kiln_activation activation_of(kiln_node *n) {
  switch (n->op) {
    case KILN_OP_CONV_2D:
    case KILN_OP_DEPTHWISE_CONV_2D:
    case KILN_OP_TRANSPOSE_CONV:
      return ((kiln_conv_attrs *)n->attrs)->activation;
    case KILN_OP_FULLY_CONNECTED:
      return ((kiln_fully_connected_attrs *)n->attrs)->activation;
    case KILN_OP_CONCATENATION:
      return ((kiln_concat_attrs *)n->attrs)->activation;
    case KILN_OP_AVERAGE_POOL_2D:
    case KILN_OP_MAX_POOL_2D:
      return ((kiln_pool_attrs *)n->attrs)->activation;
    default:
      return ((kiln_activation_attrs *)n->attrs)->activation;
  }
}

/* ------------------------------------------------- fuse_activation cases */

enum {
  P_CONV,
  P_DEPTHWISE,
  P_TRANSPOSE_CONV,
  P_FULLY_CONNECTED,
  P_ADD,
  P_SUB,
  P_MUL,
  P_DIV,
  P_CONCATENATION,
  P_AVERAGE_POOL,
  P_MAX_POOL,
  P_L2_NORM,
  NUM_PRODUCERS
};

static const kiln_op_type producer_ops[NUM_PRODUCERS] = {
    KILN_OP_CONV_2D,
    KILN_OP_DEPTHWISE_CONV_2D,
    KILN_OP_TRANSPOSE_CONV,
    KILN_OP_FULLY_CONNECTED,
    KILN_OP_ADD,
    KILN_OP_SUB,
    KILN_OP_MUL,
    KILN_OP_DIV,
    KILN_OP_CONCATENATION,
    KILN_OP_AVERAGE_POOL_2D,
    KILN_OP_MAX_POOL_2D,
    KILN_OP_L2_NORMALIZATION};

/* Builds one producer with fused activation `act`; returns its output. */
static int producer(int kind, kiln_activation act) {
  switch (kind) {
    case P_CONV: {
      int x = input("x", DIMS(1, 5, 5, 3));
      int f = random_constant("filter", DIMS(4, 3, 3, 3), -1.0f, 1.0f);
      int b = random_constant("bias", DIMS(4), -1.0f, 1.0f);
      int y = tensor("conv", DIMS(1, 5, 5, 4));
      kiln_conv_attrs *a = node(KILN_OP_CONV_2D, IDS(x, f, b), IDS(y));
      *a = conv_attrs(1, act);
      return y;
    }
    case P_DEPTHWISE: {
      int x = input("x", DIMS(1, 5, 5, 3));
      int f = random_constant("filter", DIMS(1, 3, 3, 6), -1.0f, 1.0f);
      int b = random_constant("bias", DIMS(6), -1.0f, 1.0f);
      int y = tensor("dw", DIMS(1, 5, 5, 6));
      kiln_conv_attrs *a =
          node(KILN_OP_DEPTHWISE_CONV_2D, IDS(x, f, b), IDS(y));
      *a = conv_attrs(1, act);
      a->depth_multiplier = 2;
      return y;
    }
    case P_TRANSPOSE_CONV: {
      int shape = int_constant("shape", DIMS(4), (int32_t[]){1, 10, 10, 4});
      int f = random_constant("filter", DIMS(4, 3, 3, 3), -1.0f, 1.0f);
      int x = input("x", DIMS(1, 5, 5, 3));
      int b = random_constant("bias", DIMS(4), -1.0f, 1.0f);
      int y = tensor("tconv", DIMS(1, 10, 10, 4));
      kiln_conv_attrs *a =
          node(KILN_OP_TRANSPOSE_CONV, IDS(shape, f, x, b), IDS(y));
      *a = conv_attrs(2, act);
      return y;
    }
    case P_FULLY_CONNECTED: {
      int x = input("x", DIMS(2, 6));
      int w = random_constant("weights", DIMS(5, 6), -1.0f, 1.0f);
      int b = random_constant("bias", DIMS(5), -1.0f, 1.0f);
      int y = tensor("fc", DIMS(2, 5));
      kiln_fully_connected_attrs *a =
          node(KILN_OP_FULLY_CONNECTED, IDS(x, w, b), IDS(y));
      a->activation = act;
      return y;
    }
    case P_ADD:
    case P_SUB:
    case P_MUL:
    case P_DIV: {
      int x = input("x", DIMS(2, 3, 4));
      /* A divisor away from zero keeps DIV's results finite. */
      int z = kind == P_DIV ? random_constant("z", DIMS(4), 0.5f, 2.0f)
                            : input("z", DIMS(2, 3, 4));
      int y = tensor("binary", DIMS(2, 3, 4));
      kiln_activation_attrs *a = node(producer_ops[kind], IDS(x, z), IDS(y));
      a->activation = act;
      return y;
    }
    case P_CONCATENATION: {
      int x = input("x", DIMS(2, 3));
      int z = input("z", DIMS(2, 2));
      int y = tensor("concat", DIMS(2, 5));
      kiln_concat_attrs *a = node(KILN_OP_CONCATENATION, IDS(x, z), IDS(y));
      a->axis = 1;
      a->activation = act;
      return y;
    }
    case P_AVERAGE_POOL:
    case P_MAX_POOL: {
      int x = input("x", DIMS(1, 6, 6, 2));
      int y = tensor("pool", DIMS(1, 3, 3, 2));
      kiln_pool_attrs *a = node(producer_ops[kind], IDS(x), IDS(y));
      *a = (kiln_pool_attrs){KILN_PAD_VALID, 2, 2, 2, 2, act};
      return y;
    }
    default: {
      int x = input("x", DIMS(2, 5));
      int y = tensor("l2", DIMS(2, 5));
      kiln_activation_attrs *a = node(KILN_OP_L2_NORMALIZATION, IDS(x), IDS(y));
      a->activation = act;
      return y;
    }
  }
}

static const kiln_op_type activation_ops[3] = {KILN_OP_RELU, KILN_OP_RELU6,
                                               KILN_OP_RELU_N1_TO_1};
static const kiln_activation activation_kinds[3] = {
    KILN_ACT_RELU, KILN_ACT_RELU6, KILN_ACT_RELU_N1_TO_1};

/* variant = producer * 3 + activation. */
static void build_fuse(int variant) {
  int y = producer(variant / 3, KILN_ACT_NONE);
  int out = like("activated", y);
  node(activation_ops[variant % 3], IDS(y), IDS(out));
  set_outputs(IDS(out));
}

static void test_fuse_every_producer(void) {
  for (int variant = 0; variant < NUM_PRODUCERS * 3; variant++) {
    kiln_graph *g = expect("fuse", build_fuse, variant,
                           kiln_pass_fuse_activations, 1, 1, 0.0f);
    if (g->num_nodes == 1) {
      CHECK(g->nodes[0].op == producer_ops[variant / 3]);
      CHECK(activation_of(&g->nodes[0]) == activation_kinds[variant % 3]);
      CHECK(g->nodes[0].outputs[0] == g->outputs[0]);
    }
    kiln_graph_free(g);
  }
}

/* A producer that already has an activation, then another. */
static const struct {
  kiln_activation inner;
  int outer_index;        /* into activation_ops */
  kiln_activation merged; /* NONE: no fusion */
} compositions[] = {
    {KILN_ACT_RELU6, 0, KILN_ACT_RELU6},
    {KILN_ACT_RELU, 1, KILN_ACT_RELU6},
    {KILN_ACT_RELU, 0, KILN_ACT_RELU},
    {KILN_ACT_RELU6, 1, KILN_ACT_RELU6},
    {KILN_ACT_RELU_N1_TO_1, 2, KILN_ACT_RELU_N1_TO_1},
    {KILN_ACT_RELU_N1_TO_1, 0, KILN_ACT_NONE}, /* [0,1] has no fused form */
    {KILN_ACT_RELU, 2, KILN_ACT_NONE},
    {KILN_ACT_RELU6, 2, KILN_ACT_NONE},
    {KILN_ACT_TANH, 0, KILN_ACT_NONE},
};

static void build_compose(int variant) {
  int y = producer(P_CONV, compositions[variant].inner);
  int out = like("activated", y);
  node(activation_ops[compositions[variant].outer_index], IDS(y), IDS(out));
  set_outputs(IDS(out));
}

static void test_fuse_compositions(void) {
  int count = (int)(sizeof compositions / sizeof compositions[0]);
  for (int variant = 0; variant < count; variant++) {
    bool fuses = compositions[variant].merged != KILN_ACT_NONE;
    kiln_graph *g =
        expect("compose", build_compose, variant, kiln_pass_fuse_activations,
               fuses ? 1 : 0, fuses ? 1 : 2, 0.0f);
    if (fuses && g->num_nodes == 1)
      CHECK(activation_of(&g->nodes[0]) == compositions[variant].merged);
    kiln_graph_free(g);
  }
}

/* Look-alikes the pass must keep. */
static void build_fuse_negative(int variant) {
  switch (variant) {
    case 0: { /* the conv's output has a second reader */
      int y = producer(P_CONV, KILN_ACT_NONE);
      int r = like("relu", y), sum = like("sum", y);
      node(KILN_OP_RELU, IDS(y), IDS(r));
      node(KILN_OP_ADD, IDS(y, r), IDS(sum));
      set_outputs(IDS(sum));
      break;
    }
    case 1: { /* the conv's output is itself a graph output */
      int y = producer(P_CONV, KILN_ACT_NONE);
      int r = like("relu", y);
      node(KILN_OP_RELU, IDS(y), IDS(r));
      set_outputs(IDS(r, y));
      break;
    }
    case 2: { /* TANH stays a node */
      int y = producer(P_CONV, KILN_ACT_NONE);
      int r = like("tanh", y);
      node(KILN_OP_TANH, IDS(y), IDS(r));
      set_outputs(IDS(r));
      break;
    }
    case 3: { /* RESHAPE has no fused activation */
      int x = input("x", DIMS(2, 6));
      int y = tensor("reshaped", DIMS(3, 4)), r = like("relu", y);
      kiln_reshape_attrs *a = node(KILN_OP_RESHAPE, IDS(x), IDS(y));
      a->num_dims = 2;
      a->new_shape[0] = 3;
      a->new_shape[1] = 4;
      node(KILN_OP_RELU, IDS(y), IDS(r));
      set_outputs(IDS(r));
      break;
    }
    default: { /* an activation of a graph input */
      int x = input("x", DIMS(2, 6));
      int r = like("relu", x);
      node(KILN_OP_RELU6, IDS(x), IDS(r));
      set_outputs(IDS(r));
      break;
    }
  }
}

static void test_fuse_negatives(void) {
  static const int nodes[] = {3, 2, 2, 2, 1};
  for (int variant = 0; variant < 5; variant++)
    kiln_graph_free(expect("fuse negative", build_fuse_negative, variant,
                           kiln_pass_fuse_activations, 0, nodes[variant],
                           0.0f));
}

/* A chain of activations collapses into the producer one at a time. */
static void build_fuse_chain(int variant) {
  (void)variant;
  int y = producer(P_ADD, KILN_ACT_NONE);
  int r1 = like("relu", y), r2 = like("relu6", y);
  node(KILN_OP_RELU, IDS(y), IDS(r1));
  node(KILN_OP_RELU6, IDS(r1), IDS(r2));
  set_outputs(IDS(r2));
}

static void test_fuse_chain(void) {
  kiln_graph *g = expect("fuse chain", build_fuse_chain, 0,
                         kiln_pass_fuse_activations, 2, 1, 0.0f);
  if (g->num_nodes == 1) CHECK(activation_of(&g->nodes[0]) == KILN_ACT_RELU6);
  kiln_graph_free(g);
}

/* HARD_SWISH, LOGISTIC and the swish pair become kiln's internal
 * activations. variant = producer * 4 + form: HARD_SWISH, LOGISTIC,
 * MUL(y, LOGISTIC(y)), MUL(LOGISTIC(y), y). */
static const kiln_activation internal_forms[4] = {
    KILN_ACT_HARD_SWISH, KILN_ACT_LOGISTIC, KILN_ACT_SWISH, KILN_ACT_SWISH};

static void build_fuse_internal(int variant) {
  int y = producer(variant / 4, KILN_ACT_NONE), form = variant % 4;
  int out = like("activated", y);
  if (form < 2) {
    node(form ? KILN_OP_LOGISTIC : KILN_OP_HARD_SWISH, IDS(y), IDS(out));
  } else {
    int s = like("sigmoid", y);
    node(KILN_OP_LOGISTIC, IDS(y), IDS(s));
    if (form == 2)
      node(KILN_OP_MUL, IDS(y, s), IDS(out));
    else
      node(KILN_OP_MUL, IDS(s, y), IDS(out));
  }
  set_outputs(IDS(out));
}

/* Every producer but the pools, whose variants only clamp, takes them; the
 * reference kernels compute the fused node to the bit. */
static void test_fuse_internal(void) {
  for (int variant = 0; variant < NUM_PRODUCERS * 4; variant++) {
    kiln_op_type op = producer_ops[variant / 4];
    kiln_activation act = internal_forms[variant % 4];
    bool fuses = op != KILN_OP_AVERAGE_POOL_2D && op != KILN_OP_MAX_POOL_2D;
    int unfused_nodes = act == KILN_ACT_SWISH ? 3 : 2;
    kiln_graph *g = expect("fuse internal", build_fuse_internal, variant,
                           kiln_pass_fuse_activations, fuses ? 1 : 0,
                           fuses ? 1 : unfused_nodes, 0.0f);
    if (fuses && g->num_nodes == 1) {
      CHECK(g->nodes[0].op == op);
      CHECK(activation_of(&g->nodes[0]) == act);
      CHECK(g->nodes[0].outputs[0] == g->outputs[0]);
    }
    kiln_graph_free(g);
  }
}

/* Look-alikes of the swish and of the fusions above that must stay (or
 * fuse only in part). */
static void build_swish_negative(int variant) {
  kiln_activation first =
      variant == 3 || variant == 4 ? KILN_ACT_RELU : KILN_ACT_NONE;
  int y = producer(P_CONV, first);
  int s = like("sigmoid", y), out = like("swish", y);
  switch (variant) {
    case 0: { /* y has a third reader */
      int sum = like("sum", y);
      node(KILN_OP_LOGISTIC, IDS(y), IDS(s));
      node(KILN_OP_MUL, IDS(y, s), IDS(out));
      node(KILN_OP_ADD, IDS(out, y), IDS(sum));
      set_outputs(IDS(sum));
      break;
    }
    case 1: { /* the logistic has a second reader */
      int sum = like("sum", y);
      node(KILN_OP_LOGISTIC, IDS(y), IDS(s));
      node(KILN_OP_MUL, IDS(y, s), IDS(out));
      node(KILN_OP_ADD, IDS(out, s), IDS(sum));
      set_outputs(IDS(sum));
      break;
    }
    case 2: { /* a gate: MUL(z, LOGISTIC(y)); only the logistic fuses */
      int z = input("z", DIMS(1, 5, 5, 4));
      node(KILN_OP_LOGISTIC, IDS(y), IDS(s));
      node(KILN_OP_MUL, IDS(z, s), IDS(out));
      set_outputs(IDS(out));
      break;
    }
    case 3: /* the producer already has an activation */
      node(KILN_OP_LOGISTIC, IDS(y), IDS(s));
      node(KILN_OP_MUL, IDS(y, s), IDS(out));
      set_outputs(IDS(out));
      break;
    case 4: /* likewise for a lone HARD_SWISH */
      node(KILN_OP_HARD_SWISH, IDS(y), IDS(out));
      set_outputs(IDS(out));
      break;
    case 5: { /* the MUL has an activation of its own */
      node(KILN_OP_LOGISTIC, IDS(y), IDS(s));
      kiln_activation_attrs *a = node(KILN_OP_MUL, IDS(y, s), IDS(out));
      a->activation = KILN_ACT_RELU;
      set_outputs(IDS(out));
      break;
    }
    case 6: /* y is a graph output too */
      node(KILN_OP_LOGISTIC, IDS(y), IDS(s));
      node(KILN_OP_MUL, IDS(y, s), IDS(out));
      set_outputs(IDS(out, y));
      break;
    default: /* a HARD_SWISH, then a RELU that does not compose with it */
      node(KILN_OP_HARD_SWISH, IDS(y), IDS(s));
      node(KILN_OP_RELU, IDS(s), IDS(out));
      set_outputs(IDS(out));
      break;
  }
}

static void test_swish_negatives(void) {
  static const int fused[] = {0, 0, 1, 0, 0, 0, 0, 1};
  static const int nodes[] = {4, 4, 2, 3, 2, 3, 3, 2};
  for (int variant = 0; variant < 8; variant++)
    kiln_graph_free(expect("swish negative", build_swish_negative, variant,
                           kiln_pass_fuse_activations, fused[variant],
                           nodes[variant], 0.0f));
}

/* -------------------------------------------------- fold_batchnorm cases */

/* CONV_2D [1,5,5,3] -> [1,5,5,4] with or without bias and activation. */
static int conv(bool bias, kiln_activation act, int *filter_out) {
  int x = input("x", DIMS(1, 5, 5, 3));
  int f = random_constant("filter", DIMS(4, 3, 3, 3), -1.0f, 1.0f);
  int y = tensor("conv", DIMS(1, 5, 5, 4));
  kiln_conv_attrs *a;
  if (bias) {
    int b = random_constant("bias", DIMS(4), -1.0f, 1.0f);
    a = node(KILN_OP_CONV_2D, IDS(x, f, b), IDS(y));
  } else {
    a = node(KILN_OP_CONV_2D, IDS(x, f), IDS(y));
  }
  *a = conv_attrs(1, act);
  if (filter_out) *filter_out = f;
  return y;
}

/* y OP k with fused activation act; returns the result. */
static int binary(kiln_op_type op, int y, int k, kiln_activation act,
                  bool constant_first) {
  int out = like(kiln_op_table[op].name, y);
  kiln_activation_attrs *a = constant_first ? node(op, IDS(k, y), IDS(out))
                                            : node(op, IDS(y, k), IDS(out));
  a->activation = act;
  return out;
}

static int scale(int rank, const int64_t *dims) {
  return random_constant("scale", rank, dims, 0.5f, 1.5f);
}
static int shift(int rank, const int64_t *dims) {
  return random_constant("shift", rank, dims, -0.5f, 0.5f);
}

/* Patterns: each builds layer -> MUL/ADD/SUB chain; see the table in
 * test_fold_batchnorm for what each should become. */
static void build_bn(int variant) {
  switch (variant) {
    case 0: { /* conv -> MUL [C] -> ADD [C] */
      int y = conv(true, KILN_ACT_NONE, NULL);
      y = binary(KILN_OP_MUL, y, scale(DIMS(4)), KILN_ACT_NONE, false);
      y = binary(KILN_OP_ADD, y, shift(DIMS(4)), KILN_ACT_NONE, false);
      set_outputs(IDS(y));
      break;
    }
    case 1: { /* depthwise (multiplier 2) -> MUL, ADD [1,1,1,C] -> RELU */
      int x = input("x", DIMS(1, 5, 5, 3));
      int f = random_constant("filter", DIMS(1, 3, 3, 6), -1.0f, 1.0f);
      int b = random_constant("bias", DIMS(6), -1.0f, 1.0f);
      int y = tensor("dw", DIMS(1, 5, 5, 6));
      kiln_conv_attrs *a =
          node(KILN_OP_DEPTHWISE_CONV_2D, IDS(x, f, b), IDS(y));
      *a = conv_attrs(1, KILN_ACT_NONE);
      a->depth_multiplier = 2;
      y = binary(KILN_OP_MUL, y, scale(DIMS(1, 1, 1, 6)), KILN_ACT_NONE, false);
      y = binary(KILN_OP_ADD, y, shift(DIMS(1, 1, 1, 6)), KILN_ACT_NONE, false);
      int r = like("relu", y);
      node(KILN_OP_RELU, IDS(y), IDS(r));
      set_outputs(IDS(r));
      break;
    }
    case 2: { /* fully connected without bias -> ADD [N]: a bias appears */
      int x = input("x", DIMS(3, 6));
      int w = random_constant("weights", DIMS(5, 6), -1.0f, 1.0f);
      int y = tensor("fc", DIMS(3, 5));
      node(KILN_OP_FULLY_CONNECTED, IDS(x, w), IDS(y));
      y = binary(KILN_OP_ADD, y, shift(DIMS(5)), KILN_ACT_NONE, false);
      set_outputs(IDS(y));
      break;
    }
    case 3: { /* conv without bias -> MUL by one scalar [1] */
      int y = conv(false, KILN_ACT_NONE, NULL);
      y = binary(KILN_OP_MUL, y, scale(DIMS(1)), KILN_ACT_NONE, false);
      set_outputs(IDS(y));
      break;
    }
    case 4: { /* MUL with the constant first, then SUB fusing RELU6 */
      int y = conv(true, KILN_ACT_NONE, NULL);
      y = binary(KILN_OP_MUL, y, scale(DIMS(4)), KILN_ACT_NONE, true);
      y = binary(KILN_OP_SUB, y, shift(DIMS(4)), KILN_ACT_RELU6, false);
      set_outputs(IDS(y));
      break;
    }
    case 5: { /* two convs share filter and bias; only one is scaled */
      int f = -1;
      int y = conv(true, KILN_ACT_NONE, &f);
      const kiln_node *first = &G->nodes[0];
      int x = first->inputs[0], b = first->inputs[2];
      int y2 = tensor("conv2", DIMS(1, 5, 5, 4));
      kiln_conv_attrs *a = node(KILN_OP_CONV_2D, IDS(x, f, b), IDS(y2));
      *a = conv_attrs(1, KILN_ACT_NONE);
      y = binary(KILN_OP_MUL, y, scale(DIMS(4)), KILN_ACT_NONE, false);
      set_outputs(IDS(y, y2));
      break;
    }
    case 6: { /* ADD with RELU folds, the MUL after it cannot */
      int y = conv(true, KILN_ACT_NONE, NULL);
      y = binary(KILN_OP_ADD, y, shift(DIMS(4)), KILN_ACT_RELU, false);
      y = binary(KILN_OP_MUL, y, scale(DIMS(4)), KILN_ACT_NONE, false);
      set_outputs(IDS(y));
      break;
    }
    case 7: { /* fully connected keep_num_dims, rank 3, MUL [1,1,N] */
      int x = input("x", DIMS(2, 3, 6));
      int w = random_constant("weights", DIMS(5, 6), -1.0f, 1.0f);
      int b = random_constant("bias", DIMS(5), -1.0f, 1.0f);
      int y = tensor("fc", DIMS(2, 3, 5));
      kiln_fully_connected_attrs *a =
          node(KILN_OP_FULLY_CONNECTED, IDS(x, w, b), IDS(y));
      a->keep_num_dims = true;
      y = binary(KILN_OP_MUL, y, scale(DIMS(1, 1, 5)), KILN_ACT_NONE, false);
      set_outputs(IDS(y));
      break;
    }
    /* ---- look-alikes that must stay ---- */
    case 8: { /* the scale is not a constant */
      int y = conv(true, KILN_ACT_NONE, NULL);
      int s = input("s", DIMS(4));
      y = binary(KILN_OP_MUL, y, s, KILN_ACT_NONE, false);
      set_outputs(IDS(y));
      break;
    }
    case 9: { /* a full-shape constant is not per channel */
      int y = conv(true, KILN_ACT_NONE, NULL);
      y = binary(KILN_OP_MUL, y, scale(DIMS(1, 5, 5, 4)), KILN_ACT_NONE, false);
      set_outputs(IDS(y));
      break;
    }
    case 10: { /* the conv already has an activation */
      int y = conv(true, KILN_ACT_RELU, NULL);
      y = binary(KILN_OP_MUL, y, scale(DIMS(4)), KILN_ACT_NONE, false);
      set_outputs(IDS(y));
      break;
    }
    case 11: { /* the conv's output is a graph output too */
      int y = conv(true, KILN_ACT_NONE, NULL);
      int m = binary(KILN_OP_MUL, y, scale(DIMS(4)), KILN_ACT_NONE, false);
      set_outputs(IDS(m, y));
      break;
    }
    case 12: { /* the conv's output has two readers */
      int y = conv(true, KILN_ACT_NONE, NULL);
      int m = binary(KILN_OP_MUL, y, scale(DIMS(4)), KILN_ACT_NONE, false);
      int s = like("sum", y);
      node(KILN_OP_ADD, IDS(m, y), IDS(s));
      set_outputs(IDS(s));
      break;
    }
    case 13: { /* the filter is not constant */
      int x = input("x", DIMS(1, 5, 5, 3));
      int f = input("filter", DIMS(4, 3, 3, 3));
      int y = tensor("conv", DIMS(1, 5, 5, 4));
      kiln_conv_attrs *a = node(KILN_OP_CONV_2D, IDS(x, f), IDS(y));
      *a = conv_attrs(1, KILN_ACT_NONE);
      y = binary(KILN_OP_MUL, y, scale(DIMS(4)), KILN_ACT_NONE, false);
      set_outputs(IDS(y));
      break;
    }
    case 14: { /* k - conv would negate the weights: left alone */
      int y = conv(true, KILN_ACT_NONE, NULL);
      y = binary(KILN_OP_SUB, y, shift(DIMS(4)), KILN_ACT_NONE, true);
      set_outputs(IDS(y));
      break;
    }
    case 15: { /* a non-finite scale */
      int y = conv(true, KILN_ACT_NONE, NULL);
      int s = filled_constant("scale", DIMS(4), INFINITY);
      y = binary(KILN_OP_MUL, y, s, KILN_ACT_NONE, false);
      set_outputs(IDS(y));
      break;
    }
    case 16: { /* a constant of higher rank than the output broadcasts it */
      int y = conv(true, KILN_ACT_NONE, NULL);
      int m = tensor("mul", DIMS(1, 1, 5, 5, 4));
      node(KILN_OP_MUL, IDS(y, scale(DIMS(1, 1, 1, 1, 4))), IDS(m));
      set_outputs(IDS(m));
      break;
    }
    default: { /* a TANH fused into the ADD is not a clamp */
      int y = conv(true, KILN_ACT_NONE, NULL);
      y = binary(KILN_OP_ADD, y, shift(DIMS(4)), KILN_ACT_TANH, false);
      set_outputs(IDS(y));
      break;
    }
  }
}

static void test_fold_batchnorm(void) {
  static const struct {
    int folded, nodes;
    kiln_activation act; /* of node 0 afterwards */
  } cases[] = {
      {2, 1, KILN_ACT_NONE}, {2, 2, KILN_ACT_NONE},  {1, 1, KILN_ACT_NONE},
      {1, 1, KILN_ACT_NONE}, {2, 1, KILN_ACT_RELU6}, {1, 2, KILN_ACT_NONE},
      {1, 2, KILN_ACT_RELU}, {1, 1, KILN_ACT_NONE},  {0, 2, KILN_ACT_NONE},
      {0, 2, KILN_ACT_NONE}, {0, 2, KILN_ACT_RELU},  {0, 2, KILN_ACT_NONE},
      {0, 3, KILN_ACT_NONE}, {0, 2, KILN_ACT_NONE},  {0, 2, KILN_ACT_NONE},
      {0, 2, KILN_ACT_NONE}, {0, 2, KILN_ACT_NONE},  {0, 2, KILN_ACT_NONE},
  };
  int count = (int)(sizeof cases / sizeof cases[0]);
  for (int variant = 0; variant < count; variant++) {
    kiln_graph *g =
        expect("fold batchnorm", build_bn, variant, kiln_pass_fold_batchnorm,
               cases[variant].folded, cases[variant].nodes, 1e-4f);
    if (g->num_nodes > 0)
      CHECK(activation_of(&g->nodes[0]) == cases[variant].act);
    if (variant == 2 && g->num_nodes == 1) /* the FC gained a bias */
      CHECK(g->nodes[0].num_inputs == 3 && g->nodes[0].inputs[2] >= 0);
    kiln_graph_free(g);
  }
  /* The shared filter and bias keep their bytes: the scaled conv got its
   * own copies. */
  kiln_graph *before = build(build_bn, 5, NULL);
  kiln_graph *after = build(build_bn, 5, NULL);
  int folded = 0;
  CHECK_OK(kiln_pass_fold_batchnorm(after, &folded));
  CHECK(folded == 1);
  for (int slot = 1; slot <= 2; slot++) {
    int shared = before->nodes[1].inputs[slot];
    const kiln_value *was = &before->values[shared];
    const kiln_value *now = &after->values[shared];
    CHECK(now->nbytes == was->nbytes &&
          memcmp(now->data, was->data, was->nbytes) == 0);
    CHECK(after->nodes[0].inputs[slot] != shared);
    CHECK(after->nodes[1].inputs[slot] == shared);
  }
  kiln_graph_free(before);
  kiln_graph_free(after);
}

/* ---------------------------------------------------- remove_noops cases */

/* The op under test feeds a NEG, so its output is not a graph output. */
static int noop_tail(int y) {
  int out = like("neg", y);
  node(KILN_OP_NEG, IDS(y), IDS(out));
  return out;
}

static int reshape_to(int x, int rank, const int64_t *dims) {
  int32_t shape[KILN_MAX_RANK];
  for (int d = 0; d < rank; d++) shape[d] = (int32_t)dims[d];
  int s = int_constant("shape", 1, (int64_t[]){rank}, shape);
  int y = tensor("reshaped", rank, dims);
  kiln_reshape_attrs *a = node(KILN_OP_RESHAPE, IDS(x, s), IDS(y));
  a->num_dims = -1;
  return y;
}

static void build_noop(int variant) {
  int x = input("x", DIMS(2, 3));
  int y = -1;
  switch (variant) {
    case 0: /* RESHAPE to the same shape */
      y = reshape_to(x, DIMS(2, 3));
      break;
    case 1: { /* SQUEEZE of a shape without 1s */
      y = like("squeezed", x);
      node(KILN_OP_SQUEEZE, IDS(x), IDS(y));
      break;
    }
    case 2: /* CAST float32 -> float32 */
      y = like("cast", x);
      node(KILN_OP_CAST, IDS(x), IDS(y));
      break;
    case 3: /* x + 0 */
      y = binary(KILN_OP_ADD, x, filled_constant("zeros", DIMS(3), 0.0f),
                 KILN_ACT_NONE, false);
      break;
    case 4: /* 0 + x, the zero a scalar */
      y = binary(KILN_OP_ADD, x, filled_constant("zero", 0, NULL, 0.0f),
                 KILN_ACT_NONE, true);
      break;
    case 5: /* x - 0 */
      y = binary(KILN_OP_SUB, x, filled_constant("zeros", DIMS(2, 3), -0.0f),
                 KILN_ACT_NONE, false);
      break;
    case 6: /* x * 1, the ones [1,3] */
      y = binary(KILN_OP_MUL, x, filled_constant("ones", DIMS(1, 3), 1.0f),
                 KILN_ACT_NONE, false);
      break;
    case 7: /* x / 1 */
      y = binary(KILN_OP_DIV, x, filled_constant("ones", DIMS(1), 1.0f),
                 KILN_ACT_NONE, false);
      break;
    case 8: { /* PAD by zeros */
      int pads = int_constant("pads", DIMS(2, 2), (int32_t[]){0, 0, 0, 0});
      y = like("padded", x);
      node(KILN_OP_PAD, IDS(x, pads), IDS(y));
      break;
    }
    case 9: { /* RESHAPE -> CAST, both no-ops, in a chain */
      int r = reshape_to(x, DIMS(2, 3));
      y = like("cast", r);
      node(KILN_OP_CAST, IDS(r), IDS(y));
      break;
    }
    case 10: { /* RESHAPE by its new_shape option */
      y = like("reshaped", x);
      kiln_reshape_attrs *a = node(KILN_OP_RESHAPE, IDS(x), IDS(y));
      a->num_dims = 2;
      a->new_shape[0] = 2;
      a->new_shape[1] = 3;
      break;
    }
    /* ---- look-alikes that must stay ---- */
    case 11: /* RESHAPE that changes the shape */
      y = reshape_to(x, DIMS(3, 2));
      break;
    case 12: /* x + 0.5 */
      y = binary(KILN_OP_ADD, x, filled_constant("halves", DIMS(3), 0.5f),
                 KILN_ACT_NONE, false);
      break;
    case 13: /* x * 1 with a fused RELU clamps */
      y = binary(KILN_OP_MUL, x, filled_constant("ones", DIMS(3), 1.0f),
                 KILN_ACT_RELU, false);
      break;
    case 14: { /* x + zeros [2,2,3] broadcasts x up */
      y = tensor("broadcast", DIMS(2, 2, 3));
      node(KILN_OP_ADD, IDS(x, filled_constant("zeros", DIMS(2, 2, 3), 0.0f)),
           IDS(y));
      break;
    }
    case 15: /* 0 - x negates */
      y = binary(KILN_OP_SUB, x, filled_constant("zeros", DIMS(3), 0.0f),
                 KILN_ACT_NONE, true);
      break;
    case 16: { /* PAD by one */
      int pads = int_constant("pads", DIMS(2, 2), (int32_t[]){0, 1, 0, 0});
      y = tensor("padded", DIMS(3, 3));
      node(KILN_OP_PAD, IDS(x, pads), IDS(y));
      break;
    }
    default: /* x * 1 where the ones are not constant */
      y = binary(KILN_OP_MUL, x, input("ones", DIMS(3)), KILN_ACT_NONE, false);
      break;
  }
  set_outputs(IDS(noop_tail(y)));
}

static void test_remove_noops(void) {
  static const int removed[] = {1, 1, 1, 1, 1, 1, 1, 1, 1,
                                2, 1, 0, 0, 0, 0, 0, 0, 0};
  int count = (int)(sizeof removed / sizeof removed[0]);
  for (int variant = 0; variant < count; variant++) {
    int before = variant == 9 ? 3 : 2;
    kiln_graph *g =
        expect("remove noops", build_noop, variant, kiln_pass_remove_noops,
               removed[variant], before - removed[variant], 0.0f);
    if (removed[variant] && g->num_nodes == 1)
      CHECK(g->nodes[0].op == KILN_OP_NEG && g->nodes[0].inputs[0] == 0);
    kiln_graph_free(g);
  }
}

/* No-ops the pass must keep for reasons outside the op itself. */
static void build_noop_context(int variant) {
  switch (variant) {
    case 0: { /* the no-op writes a graph output */
      int x = input("x", DIMS(2, 3));
      int y = reshape_to(x, DIMS(2, 3));
      set_outputs(IDS(y));
      break;
    }
    case 1: { /* dynamic batch: [-1,3] -> RESHAPE [-1,3] */
      int x = input("x", DIMS(1, 3));
      G->values[x].signature[0] = -1;
      int s = int_constant("shape", DIMS(2), (int32_t[]){-1, 3});
      int y = tensor("reshaped", DIMS(1, 3));
      G->values[y].signature[0] = -1;
      kiln_reshape_attrs *a = node(KILN_OP_RESHAPE, IDS(x, s), IDS(y));
      a->num_dims = -1;
      set_outputs(IDS(noop_tail(y)));
      break;
    }
    default: { /* dynamic upstream, though the file forgot to say so */
      int x = input("x", DIMS(1, 3));
      G->values[x].signature[0] = -1;
      int r = tensor("relu", DIMS(1, 3));
      node(KILN_OP_RELU, IDS(x), IDS(r));
      int y = reshape_to(r, DIMS(1, 3));
      set_outputs(IDS(noop_tail(y)));
      break;
    }
  }
}

static void test_remove_noops_context(void) {
  static const int nodes[] = {1, 2, 3};
  for (int variant = 0; variant < 3; variant++)
    kiln_graph_free(expect("noop context", build_noop_context, variant,
                           kiln_pass_remove_noops, 0, nodes[variant], 0.0f));
}

/* ------------------------------------------------------ dead_nodes cases */

static kiln_status *dead_pass(kiln_graph *g, int *count) {
  int released = 0;
  return kiln_pass_remove_dead(g, count, &released);
}

static void build_dead(int variant) {
  int x = input("x", DIMS(2, 4));
  int y = like("neg", x);
  node(KILN_OP_NEG, IDS(x), IDS(y));
  switch (variant) {
    case 0: { /* a branch nobody reads: ABS -> MUL by an owned constant */
      int a = like("abs", x), m = like("mul", x);
      node(KILN_OP_ABS, IDS(x), IDS(a));
      node(KILN_OP_MUL, IDS(a, random_constant("k", DIMS(4), 0, 1)), IDS(m));
      set_outputs(IDS(y));
      break;
    }
    case 1: { /* SPLIT with one half used stays whole */
      int axis = int_constant("axis", 0, NULL, (int32_t[]){1});
      int h0 = tensor("h0", DIMS(2, 2)), h1 = tensor("h1", DIMS(2, 2));
      kiln_split_attrs *a = node(KILN_OP_SPLIT, IDS(axis, y), IDS(h0, h1));
      a->num_splits = 2;
      int e = like("exp", h1);
      node(KILN_OP_EXP, IDS(h1), IDS(e));
      set_outputs(IDS(e));
      break;
    }
    default: /* everything live */
      set_outputs(IDS(y));
      break;
  }
}

static void test_remove_dead(void) {
  kiln_graph *g = expect("dead", build_dead, 0, dead_pass, 2, 1, 0.0f);
  kiln_graph_free(g);
  kiln_graph_free(expect("dead split", build_dead, 1, dead_pass, 0, 3, 0.0f));
  kiln_graph_free(expect("all live", build_dead, 2, dead_pass, 0, 1, 0.0f));
  /* The dead branch's constant gives its memory back. */
  g = build(build_dead, 0, NULL);
  int k = g->nodes[2].inputs[1], removed = 0, released = 0;
  CHECK_OK(kiln_pass_remove_dead(g, &removed, &released));
  CHECK(removed == 2 && released == 1);
  CHECK(g->values[k].data == NULL && g->values[k].owned_data == NULL);
  kiln_graph_free(g);
}

/* ------------------------------------------------------- whole pipeline */

/* Constant subgraph (the scale of a batch norm) -> conv -> MUL -> ADD ->
 * RELU -> RESHAPE (same shape) -> AVERAGE_POOL, plus a dead branch. */
static void build_pipeline(int variant) {
  (void)variant;
  int gamma = random_constant("gamma", DIMS(4), 0.5f, 1.5f);
  int var = random_constant("var", DIMS(4), 0.5f, 1.5f);
  int eps = filled_constant("eps", DIMS(1), 1e-3f);
  int ve = like("var_eps", var), rs = like("rsqrt", var),
      sc = like("scale", var);
  node(KILN_OP_ADD, IDS(var, eps), IDS(ve));
  node(KILN_OP_RSQRT, IDS(ve), IDS(rs));
  node(KILN_OP_MUL, IDS(gamma, rs), IDS(sc));
  int y = conv(true, KILN_ACT_NONE, NULL);
  y = binary(KILN_OP_MUL, y, sc, KILN_ACT_NONE, false);
  y = binary(KILN_OP_ADD, y, shift(DIMS(4)), KILN_ACT_NONE, false);
  int r = like("relu", y);
  node(KILN_OP_RELU, IDS(y), IDS(r));
  int shaped = reshape_to(r, DIMS(1, 5, 5, 4));
  int dead = like("dead", shaped);
  node(KILN_OP_EXP, IDS(shaped), IDS(dead));
  int pooled = tensor("pooled", DIMS(1, 2, 2, 4));
  kiln_pool_attrs *a = node(KILN_OP_AVERAGE_POOL_2D, IDS(shaped), IDS(pooled));
  *a = (kiln_pool_attrs){KILN_PAD_VALID, 2, 2, 2, 2, KILN_ACT_NONE};
  set_outputs(IDS(pooled));
}

static kiln_status *pipeline_pass(kiln_graph *g, int *count) {
  kiln_pass_report report;
  KILN_TRY(kiln_run_passes(g, "pipeline", &report));
  *count = report.nodes_before - report.nodes_after;
  CHECK(report.folded == 3);
  CHECK(report.folded_batchnorms == 2);
  CHECK(report.fused_activations == 1);
  CHECK(report.removed_noops == 1);
  CHECK(report.removed_dead == 1);
  CHECK(report.nodes_before == 10 && report.nodes_after == 2);
  return NULL;
}

static void test_pipeline(void) {
  kiln_graph *g =
      expect("pipeline", build_pipeline, 0, pipeline_pass, 8, 2, 1e-4f);
  if (g->num_nodes == 2) {
    CHECK(g->nodes[0].op == KILN_OP_CONV_2D);
    CHECK(activation_of(&g->nodes[0]) == KILN_ACT_RELU);
    CHECK(g->nodes[1].op == KILN_OP_AVERAGE_POOL_2D);
  }
  kiln_graph_free(g);
}

/* ------------------------------------------------------ out of memory */

/* The builder's constants come from malloc, but the graph frees them with
 * its allocator; move them under the test allocator so the books balance. */
static void adopt_constants(kiln_graph *g, kiln_test_allocator *t) {
  for (int v = 0; v < g->num_values; v++) {
    kiln_value *value = &g->values[v];
    if (value->owned_data) t->live++;
  }
}

/* Every allocation of `pass` on the graph `b` builds fails in turn: the
 * pass reports it, leaks nothing, and leaves a graph that still computes
 * the same (within tol). */
static void check_out_of_memory(builder b, int variant, pass_fn pass,
                                float tol) {
  kiln_graph *reference = build(b, variant, NULL);
  kiln_test_allocator t;
  bool succeeded = false;
  for (long fail_at = 0; fail_at < 10000 && !succeeded; fail_at++) {
    const kiln_allocator *a = kiln_test_allocator_init(&t, -1);
    kiln_graph *g = build(b, variant, a);
    adopt_constants(g, &t);
    t.fail_at = fail_at;
    t.calls = 0;
    int count = 0;
    kiln_status *st = pass(g, &count);
    t.fail_at = -1;
    if (st) {
      CHECK(kiln_status_get_code(st) == KILN_ERR_OUT_OF_MEMORY);
      kiln_status_free(st);
    } else {
      succeeded = true;
    }
    CHECK_OK(kiln_graph_validate(g, "after failure"));
    check_same_outputs(reference, g, tol, tol, "after failure");
    kiln_graph_free(g);
    if (t.live != 0)
      fprintf(stderr, "fail_at %ld: %ld live\n", fail_at, t.live);
    CHECK(t.live == 0);
  }
  CHECK(succeeded);
  kiln_graph_free(reference);
}

static kiln_status *all_passes(kiln_graph *g, int *count) {
  kiln_pass_report report;
  KILN_TRY(kiln_run_passes(g, "oom", &report));
  *count = report.nodes_before - report.nodes_after;
  return NULL;
}

static void test_out_of_memory(void) {
  check_out_of_memory(build_pipeline, 0, all_passes, 1e-4f);
}

/* ---------------------------------------------------- fuse_residual cases */

/* A 1x1 (or k x k) CONV_2D of x [1,6,7,8] to 8 channels, stride 1 unless
 * x is larger, without activation unless asked. */
static int pointwise(int x, int k, bool bias, bool constant_filter,
                     kiln_activation act) {
  int f = constant_filter ? random_constant("pw", DIMS(8, k, k, 8), -1, 1)
                          : input("pw", DIMS(8, k, k, 8));
  int y = tensor("pointwise", DIMS(1, 6, 7, 8));
  int stride = (int)(G->values[x].dims[1] / 6);
  kiln_conv_attrs *a =
      bias ? node(KILN_OP_CONV_2D,
                  IDS(x, f, random_constant("pb", DIMS(8), -1, 1)), IDS(y))
           : node(KILN_OP_CONV_2D, IDS(x, f), IDS(y));
  *a = conv_attrs(stride, act);
  return y;
}

/* ResNet's block ends and the ways they may not fuse; the table in
 * test_fuse_residual says what each becomes. */
static void build_residual(int variant) {
  int x = input("x", DIMS(1, 6, 7, 8));
  kiln_activation act = variant == 1 ? KILN_ACT_RELU6 : KILN_ACT_RELU;
  if (variant == 9) act = KILN_ACT_TANH;
  if (variant == 12) act = KILN_ACT_SWISH;
  int c = variant == 13 /* a strided 1x1 conv on a larger map */
              ? pointwise(input("big", DIMS(1, 12, 14, 8)), 1, true, true,
                          KILN_ACT_NONE)
              : pointwise(x, variant == 6 ? 3 : 1, variant != 11, variant != 10,
                          variant == 5 ? KILN_ACT_RELU : KILN_ACT_NONE);
  int shortcut = x, outs[2] = {-1, -1}, num_outs = 1;
  switch (variant) {
    case 2: /* a shortcut broadcast over the map */
      shortcut = input("s", DIMS(1, 1, 1, 8));
      break;
    case 3: { /* the conv's output read twice */
      int n = like("neg", c);
      node(KILN_OP_NEG, IDS(c), IDS(n));
      outs[num_outs++] = n;
      break;
    }
    case 4: /* the conv's output is a graph output */
      outs[num_outs++] = c;
      break;
    case 7: { /* a projection shortcut: both sides 1x1 convolutions */
      int big = input("big", DIMS(1, 12, 14, 8));
      shortcut = pointwise(big, 1, true, true, KILN_ACT_NONE);
      break;
    }
    case 8: /* the shortcut computed after the conv */
      shortcut = like("later", x);
      node(KILN_OP_NEG, IDS(x), IDS(shortcut));
      break;
    case 14: /* conv + conv */
      shortcut = c;
      break;
  }
  int sum = like("sum", c);
  kiln_activation_attrs *a =
      variant == 1 || variant == 7
          ? node(KILN_OP_ADD, IDS(shortcut, c), IDS(sum))
          : node(KILN_OP_ADD, IDS(c, shortcut), IDS(sum));
  a->activation = act;
  outs[0] = sum;
  set_outputs(outs, num_outs);
}

static void test_fuse_residual(void) {
  static const struct {
    int fused, nodes;
  } cases[] = {
      {1, 1}, /* 0: ADD(conv, x) with RELU */
      {1, 1}, /* 1: ADD(x, conv) with RELU6 */
      {0, 2}, /* 2: broadcast shortcut */
      {0, 3}, /* 3: conv output read twice */
      {0, 2}, /* 4: conv output is a graph output */
      {0, 2}, /* 5: conv has an activation of its own */
      {0, 2}, /* 6: a 3x3 conv, which only Winograd or the KxK GEMM run */
      {1, 2}, /* 7: projection shortcut: the later conv takes it */
      {1, 2}, /* 8: shortcut after the conv: the conv moves to the ADD */
      {0, 2}, /* 9: TANH, which the GEMM variants do not apply */
      {0, 2}, /* 10: filter not constant */
      {1, 1}, /* 11: conv without bias */
      {1, 1}, /* 12: SWISH, applied by the epilogue after the sum */
      {1, 1}, /* 13: strided 1x1 conv */
      {0, 2}, /* 14: ADD(conv, conv) */
  };
  int count = (int)(sizeof cases / sizeof cases[0]);
  for (int variant = 0; variant < count; variant++) {
    kiln_graph *g = expect("fuse residual", build_residual, variant,
                           kiln_pass_fuse_residuals, cases[variant].fused,
                           cases[variant].nodes, 0.0f);
    int adds = 0, residuals = 0;
    for (int n = 0; n < g->num_nodes; n++) {
      kiln_node *node_ = &g->nodes[n];
      adds += node_->op == KILN_OP_ADD;
      if (node_->op != KILN_OP_CONV_2D || node_->num_inputs != 4) continue;
      residuals++;
      /* The fused node writes the graph's output and carries the ADD's
       * activation; a missing bias stays an omitted input. */
      CHECK(node_->outputs[0] == g->outputs[0]);
      CHECK(activation_of(node_) != KILN_ACT_NONE);
      if (variant == 11) CHECK(node_->inputs[2] == -1);
      if (variant == 7) CHECK(n == 1 && node_->inputs[0] == g->inputs[1]);
    }
    CHECK(adds == 1 - cases[variant].fused);
    CHECK(residuals == cases[variant].fused);
    kiln_graph_free(g);
  }
}

/* ------------------------------------------------ through the public API */

#define MODEL_PATH "tests/data/dynamic_batch_cnn.tflite"

static void *read_file(const char *path, size_t *out_size) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, 0, SEEK_SET);
  void *bytes = malloc((size_t)size + 1);
  *out_size = fread(bytes, 1, (size_t)size, f);
  fclose(f);
  return bytes;
}

/* The converter-made model imported twice, one copy optimized: the two
 * compute the same, so the passes are harmless on what the importer
 * really produces (dynamic batch, shape arithmetic and all). */
static void test_imported_model(void) {
  size_t size = 0;
  void *bytes = read_file(MODEL_PATH, &size);
  CHECK(bytes != NULL);
  if (!bytes) return;
  kiln_graph *before = NULL, *after = NULL;
  CHECK_OK(kiln_tflite_import(bytes, size, MODEL_PATH, NULL, &before));
  CHECK_OK(kiln_tflite_import(bytes, size, MODEL_PATH, NULL, &after));
  kiln_pass_report report;
  if (before && after) {
    CHECK_OK(kiln_run_passes(after, MODEL_PATH, &report));
    CHECK(report.nodes_after == after->num_nodes);
    CHECK_OK(kiln_graph_validate(after, MODEL_PATH));
    check_same_outputs(before, after, 1e-5f, 1e-5f, MODEL_PATH);
  }
  kiln_graph_free(before);
  kiln_graph_free(after);
  free(bytes);
}

static tb_tensor tb_float(const char *name, int rank, const int32_t *shape,
                          uint32_t buffer, bool dynamic_batch) {
  tb_tensor t;
  memset(&t, 0, sizeof t);
  t.name = name;
  t.type = TFL_TYPE_FLOAT32;
  t.rank = rank;
  memcpy(t.shape, shape, sizeof(int32_t) * (size_t)rank);
  t.buffer = buffer;
  if (dynamic_batch) {
    t.has_signature = true;
    t.sig_rank = rank;
    memcpy(t.signature, shape, sizeof(int32_t) * (size_t)rank);
    t.signature[0] = -1;
  }
  return t;
}

static tb_operator tb_op(uint32_t opcode, int num_inputs, const int32_t *ins,
                         int32_t out) {
  tb_operator op;
  memset(&op, 0, sizeof op);
  op.opcode_index = opcode;
  op.num_inputs = num_inputs;
  memcpy(op.inputs, ins, sizeof(int32_t) * (size_t)num_inputs);
  op.num_outputs = 1;
  op.outputs[0] = out;
  return op;
}

/* A file as an unfolding converter (or an ONNX importer) writes it: image
 * [-1,5,5,3] -> CONV_2D (k x k) -> MUL scale [4] -> ADD shift [4] -> RELU.
 * With k = 1 the folded weights go on to be packed for the GEMM kernels. */
static uint8_t *unfolded_model(int k, size_t *out_size) {
  static float filter[4 * 3 * 3 * 3], bias[4], scale_[4], shift_[4];
  kiln_test_seed(77);
  kiln_test_fill(filter, 4 * k * k * 3, -1.0f, 1.0f);
  kiln_test_fill(bias, 4, -1.0f, 1.0f);
  kiln_test_fill(scale_, 4, 0.5f, 1.5f);
  kiln_test_fill(shift_, 4, -0.5f, 0.5f);
  tb_model m;
  memset(&m, 0, sizeof m);
  m.num_opcodes = 4;
  m.opcodes[0] = (tb_opcode){TFL_OP_CONV_2D, TFL_OP_CONV_2D, NULL};
  m.opcodes[1] = (tb_opcode){TFL_OP_MUL, TFL_OP_MUL, NULL};
  m.opcodes[2] = (tb_opcode){TFL_OP_ADD, TFL_OP_ADD, NULL};
  m.opcodes[3] = (tb_opcode){TFL_OP_RELU, TFL_OP_RELU, NULL};
  const int32_t image[4] = {1, 5, 5, 3}, map[4] = {1, 5, 5, 4};
  m.num_tensors = 9;
  m.tensors[0] = tb_float("image", 4, image, 0, true);
  m.tensors[1] = tb_float("filter", 4, (int32_t[]){4, k, k, 3}, 1, false);
  m.tensors[2] = tb_float("bias", 1, (int32_t[]){4}, 2, false);
  m.tensors[3] = tb_float("conv", 4, map, 0, true);
  m.tensors[4] = tb_float("scale", 1, (int32_t[]){4}, 3, false);
  m.tensors[5] = tb_float("mul", 4, map, 0, true);
  m.tensors[6] = tb_float("shift", 1, (int32_t[]){4}, 4, false);
  m.tensors[7] = tb_float("add", 4, map, 0, true);
  m.tensors[8] = tb_float("relu", 4, map, 0, true);
  m.num_inputs = 1;
  m.inputs[0] = 0;
  m.num_outputs = 1;
  m.outputs[0] = 8;
  m.num_operators = 4;
  m.operators[0] = tb_op(0, 3, (int32_t[]){0, 1, 2}, 3);
  m.operators[0].options_type = TFL_OPT_CONV2D;
  m.operators[0].num_options = 3;
  m.operators[0].options[0] =
      (tb_field){.slot = TFL_CONV2D_PADDING, .kind = 'b', .i = KILN_PAD_SAME};
  m.operators[0].options[1] =
      (tb_field){.slot = TFL_CONV2D_STRIDE_W, .kind = 'i', .i = 1};
  m.operators[0].options[2] =
      (tb_field){.slot = TFL_CONV2D_STRIDE_H, .kind = 'i', .i = 1};
  m.operators[1] = tb_op(1, 2, (int32_t[]){3, 4}, 5);
  m.operators[2] = tb_op(2, 2, (int32_t[]){5, 6}, 7);
  m.operators[3] = tb_op(3, 1, (int32_t[]){7}, 8);
  m.num_buffers = 5;
  m.buffers[1] = (tb_buffer){.data = filter,
                             .size = sizeof(float) * 4 * (size_t)(k * k) * 3};
  m.buffers[2] = (tb_buffer){.data = bias, .size = sizeof bias};
  m.buffers[3] = (tb_buffer){.data = scale_, .size = sizeof scale_};
  m.buffers[4] = (tb_buffer){.data = shift_, .size = sizeof shift_};
  return tb_build(&m, out_size);
}

/* The unfolded file loads as one CONV_2D with RELU, reports so in its
 * stats, and a session on it computes what the file's own graph does. */
static void test_unfolded_file(int k) {
  size_t size = 0;
  uint8_t *bytes = unfolded_model(k, &size);
  kiln_model *model = NULL;
  CHECK_OK(kiln_model_load_buffer(bytes, size, "unfolded", NULL, &model));
  kiln_graph *plain = NULL;
  CHECK_OK(kiln_tflite_import(bytes, size, "unfolded", NULL, &plain));
  if (model && plain) {
    kiln_model_stats stats;
    CHECK_OK(kiln_model_stats_get(model, &stats));
    CHECK(stats.num_source_ops == 4 && stats.num_nodes == 1);
    CHECK(stats.folded_batchnorms == 2 && stats.fused_activations == 1);
    CHECK(strcmp(kiln_model_node_op_name(model, 0), "CONV_2D") == 0);
    CHECK(strcmp(kiln_model_source_op_name(model, 3), "RELU") == 0);
    /* Parameters count what is left: the new filter and bias only. */
    CHECK(stats.num_parameters == 4 * k * k * 3 + 4);

    float image[5 * 5 * 3], *inputs[1] = {image};
    kiln_test_fill(image, 5 * 5 * 3, -2.0f, 2.0f);
    results want;
    CHECK_OK(evaluate(plain, inputs, &want));
    kiln_session *s = NULL;
    CHECK_OK(kiln_session_create(model, NULL, &s));
    float got[5 * 5 * 4];
    int64_t dims[4] = {1, 5, 5, 3};
    if (s) {
      CHECK_OK(kiln_session_set_input(s, 0, KILN_FLOAT32, dims, 4, image,
                                      sizeof image));
      CHECK_OK(kiln_session_invoke(s));
      CHECK_OK(kiln_session_get_output(s, 0, got, sizeof got));
      if (want.count == 1 && want.size[0] == 5 * 5 * 4)
        kiln_test_close(got, want.data[0], 5 * 5 * 4, 1e-5f, 1e-5f,
                        "unfolded file");
    }
    kiln_session_free(s);
    results_free(&want);
  }
  kiln_graph_free(plain);
  kiln_model_free(model);
  free(bytes);
}

static void test_public_api(void) {
  kiln_model *model = NULL;
  CHECK_OK(kiln_model_load_file(MODEL_PATH, NULL, &model));
  if (!model) return;
  kiln_model_stats stats;
  CHECK_OK(kiln_model_stats_get(model, &stats));
  CHECK(stats.num_nodes > 0 && stats.num_nodes <= stats.num_source_ops);
  CHECK(stats.folded_constants >= 0 && stats.fused_activations >= 0 &&
        stats.folded_batchnorms >= 0 && stats.removed_noops >= 0 &&
        stats.removed_dead >= 0);
  for (int i = 0; i < stats.num_nodes; i++)
    CHECK(kiln_op_from_name(kiln_model_node_op_name(model, i)) !=
          KILN_OP_COUNT);
  CHECK(strcmp(kiln_model_node_op_name(model, stats.num_nodes), "") == 0);
  CHECK(strcmp(kiln_model_node_op_name(model, -1), "") == 0);
  CHECK(strcmp(kiln_model_node_op_name(NULL, 0), "") == 0);

  kiln_session *s = NULL;
  CHECK_OK(kiln_session_create(model, NULL, &s));
  kiln_tensor_info in, out;
  CHECK_OK(kiln_model_input_info(model, 0, &in));
  for (int batch = 1; s && batch <= 3; batch += 2) {
    int64_t dims[KILN_MAX_RANK];
    memcpy(dims, in.dims, sizeof dims);
    dims[0] = batch;
    int64_t n = count_of(in.rank, dims);
    float *x = malloc(sizeof(float) * (size_t)n);
    kiln_test_fill(x, n, -1.0f, 1.0f);
    CHECK_OK(kiln_session_resize_input(s, 0, dims, in.rank));
    CHECK_OK(kiln_session_prepare(s));
    CHECK_OK(kiln_session_set_input(s, 0, KILN_FLOAT32, dims, in.rank, x,
                                    sizeof(float) * (size_t)n));
    CHECK_OK(kiln_session_invoke(s));
    CHECK_OK(kiln_session_output_info(s, 0, &out));
    const void *data = NULL;
    size_t nbytes = 0;
    CHECK_OK(kiln_session_output_buffer(s, 0, &data, &nbytes));
    const float *p = data;
    int64_t classes = out.dims[out.rank - 1];
    CHECK(out.dims[0] == batch);
    for (int64_t row = 0; p && row < batch; row++) {
      double sum = 0.0;
      for (int64_t c = 0; c < classes; c++) sum += p[row * classes + c];
      CHECK(fabs(sum - 1.0) < 1e-5);
    }
    free(x);
  }
  kiln_session_free(s);
  kiln_model_free(model);
}

int main(void) {
  test_fuse_every_producer();
  test_fuse_compositions();
  test_fuse_negatives();
  test_fuse_chain();
  test_fuse_internal();
  test_swish_negatives();
  test_fold_batchnorm();
  test_remove_noops();
  test_remove_noops_context();
  test_remove_dead();
  test_pipeline();
  test_out_of_memory();
  test_fuse_residual();
  /* The projection block fuses, after each failure too. */
  check_out_of_memory(build_residual, 7, kiln_pass_fuse_residuals, 0.0f);
  test_imported_model();
  test_unfolded_file(3);
  test_unfolded_file(1);
  test_public_api();
  return kiln_test_finish("test_passes");
}
