/* test_opt_qbottleneck.c - the int8 fused bottleneck: on random int8
 * MobileNet blocks ([1x1 CONV_2D ->] 3x3 DEPTHWISE_CONV_2D -> 1x1 CONV_2D,
 * a residual ADD after some) with random shapes (odd widths, channel
 * counts off the vector widths, batch above 1), strides 1 and 2, SAME and
 * VALID, random scales, zero points, per-channel and per-tensor weights,
 * biases present or not and clamp activations, the graph's output after
 * passes/fuse_qbottleneck.c equals the unfused graph's (every node run by
 * its reference kernel) bit for bit: by the fused node's reference kernel,
 * and through sessions by the q8-bottleneck variant of every
 * instruction-set level this CPU has, on 1 and 3 threads. Also:
 * KILN_QBOTTLENECK=0 turns the pass off; the shape function refuses bad
 * inputs with a message. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/graph.h"
#include "harness.h"
#include "kernels/bottleneck/qbottleneck.h"
#include "kernels/ref/quant_params.h"
#include "kernels/variants.h"
#include "passes/passes.h"
#include "runtime/model.h"

/* One random block: its sizes, attributes, quantization and data. */
typedef struct block {
  int64_t n, h, w, c, m, o, oh, ow;
  int stride;
  kiln_padding padding;
  bool expand, residual, residual_first, per_channel;
  kiln_activation add_act;
  bool bias[3];
  kiln_activation act[3];
  float sx, se, sd, sy, sz;
  int64_t zx, ze, zd, zy, zz;
  float *wscale[3];
  int8_t *wt[3], *x;
  int32_t *b[3];
} block;

static int64_t out_size(int64_t in, int stride, kiln_padding pad) {
  return pad == KILN_PAD_SAME ? (in + stride - 1) / stride
                              : (in - 3) / stride + 1;
}

static int8_t *random_bytes(int64_t n) {
  int8_t *p = malloc((size_t)n);
  for (int64_t i = 0; i < n; i++) p[i] = (int8_t)kiln_test_int(-128, 127);
  return p;
}

/* An output scale that keeps a sum of k products of int8 values (in
 * scale * weight scale units) mostly inside int8, with some clamping. */
static float out_scale(float in_scale, float w_scale, int64_t k) {
  float spread = 70.0f * 70.0f * sqrtf((float)k) * in_scale * w_scale;
  return spread / 60.0f * kiln_test_uniform(0.5f, 2.0f);
}

static void make_block(block *b) {
  static const kiln_activation acts[] = {KILN_ACT_NONE, KILN_ACT_RELU,
                                         KILN_ACT_RELU6, KILN_ACT_RELU_N1_TO_1};
  memset(b, 0, sizeof *b);
  b->expand = kiln_test_int(0, 3) != 0;
  b->stride = kiln_test_int(1, 2);
  b->padding = kiln_test_int(0, 3) ? KILN_PAD_SAME : KILN_PAD_VALID;
  b->n = kiln_test_int(1, 2);
  b->c = kiln_test_int(1, 40);
  b->m = b->expand ? kiln_test_int(1, 100) : b->c;
  b->o = kiln_test_int(1, 40);
  /* Shapes the pass fuses: at least 8 output rows in all, and maps 8
   * wide without an expand stage. */
  /* One block in five is large enough that the kernel's buffer of
   * expanded rows fills and moves its last rows to the front. */
  bool large = kiln_test_int(0, 4) == 0;
  if (large && b->expand) b->m = kiln_test_int(64, 160);
  do {
    b->h = large ? kiln_test_int(20, 40) : kiln_test_int(3, 24);
    b->w =
        large ? kiln_test_int(40, 64) : kiln_test_int(b->expand ? 3 : 17, 30);
    b->oh = out_size(b->h, b->stride, b->padding);
    b->ow = out_size(b->w, b->stride, b->padding);
  } while (b->n * b->oh < 8 || b->ow < 8 * !b->expand);
  /* Most stride-1 SAME blocks end in a residual ADD of their input
   * (either operand order, any clamp). */
  b->residual =
      b->stride == 1 && b->padding == KILN_PAD_SAME && kiln_test_int(0, 3) != 0;
  if (b->residual) b->o = b->c;
  b->residual_first = kiln_test_int(0, 1);
  b->add_act = acts[kiln_test_int(0, 3)];
  b->per_channel = kiln_test_int(0, 4) != 0;
  for (int s = 0; s < 3; s++) {
    b->bias[s] = kiln_test_int(0, 4) != 0;
    b->act[s] = acts[kiln_test_int(0, 3)];
  }
  b->sx = kiln_test_uniform(0.01f, 0.1f);
  b->zx = kiln_test_int(-128, 127);
  int64_t n_out[3] = {b->m, b->m, b->o}, k[3] = {b->c, 9, b->m};
  int64_t numel[3] = {b->m * b->c, 9 * b->m, b->o * b->m};
  float in_scale = b->sx;
  float *scales[3] = {&b->se, &b->sd, &b->sy};
  int64_t *zps[3] = {&b->ze, &b->zd, &b->zy};
  for (int s = 0; s < 3; s++) {
    if (s == 0 && !b->expand) continue;
    b->wscale[s] = malloc(sizeof(float) * (size_t)n_out[s]);
    float base = kiln_test_uniform(0.002f, 0.02f);
    for (int64_t c = 0; c < n_out[s]; c++)
      b->wscale[s][c] =
          b->per_channel ? base * kiln_test_uniform(0.5f, 2.0f) : base;
    b->wt[s] = random_bytes(numel[s]);
    b->b[s] = malloc(sizeof(int32_t) * (size_t)n_out[s]);
    int lim = (int)(70 * 70 * sqrtf((float)k[s]));
    for (int64_t c = 0; c < n_out[s]; c++)
      b->b[s][c] = kiln_test_int(-lim, lim);
    *scales[s] = out_scale(in_scale, base, k[s]);
    *zps[s] = kiln_test_int(-128, 127);
    in_scale = *scales[s];
  }
  b->sz = kiln_test_uniform(0.02f, 0.2f);
  b->zz = kiln_test_int(-128, 127);
  b->x = random_bytes(b->n * b->h * b->w * b->c);
}

static void free_block(block *b) {
  for (int s = 0; s < 3; s++) {
    free(b->wscale[s]);
    free(b->wt[s]);
    free(b->b[s]);
  }
  free(b->x);
}

/* ------------------------------------------------------ building graphs */

static kiln_graph *G;

static int value(const char *name, kiln_dtype dtype, int rank,
                 const int64_t *dims) {
  int id = -1;
  CHECK_OK(kiln_graph_add_value(G, name, &id));
  kiln_value *v = &G->values[id];
  v->dtype = dtype;
  v->rank = rank;
  memcpy(v->dims, dims, sizeof(int64_t) * (size_t)rank);
  memcpy(v->signature, dims, sizeof(int64_t) * (size_t)rank);
  return id;
}

/* Quantization of `count` scales along `axis`, zero points zp (the arrays
 * owned by the graph). */
static void quantize(int id, const float *scales, int64_t count, int64_t zp,
                     int axis) {
  kiln_value *v = &G->values[id];
  float *s = kiln_malloc(G->alloc, sizeof *s * (size_t)count);
  int64_t *z = kiln_malloc(G->alloc, sizeof *z * (size_t)count);
  CHECK(s && z);
  if (!s || !z) return;
  for (int64_t i = 0; i < count; i++) {
    s[i] = scales[i];
    z[i] = zp;
  }
  v->quant = (kiln_quant_info){count, s, z, axis};
}

static int activation(const char *name, const int64_t *dims, float scale,
                      int64_t zp) {
  int id = value(name, KILN_INT8, 4, dims);
  quantize(id, &scale, 1, zp, 0);
  return id;
}

static int constant(const char *name, kiln_dtype dtype, int rank,
                    const int64_t *dims, const void *data, size_t bytes) {
  int id = value(name, dtype, rank, dims);
  kiln_value *v = &G->values[id];
  void *copy = kiln_malloc(G->alloc, bytes);
  CHECK(copy != NULL);
  if (copy) memcpy(copy, data, bytes);
  v->is_constant = true;
  v->owned_data = copy;
  v->data = copy;
  v->nbytes = bytes;
  return id;
}

static int filter(const block *b, int s, const int64_t *dims, int axis) {
  int64_t count = b->per_channel ? dims[axis] : 1;
  int id = constant("w", KILN_INT8, 4, dims, b->wt[s],
                    (size_t)(dims[0] * dims[1] * dims[2] * dims[3]));
  quantize(id, b->wscale[s], count, 0, axis);
  return id;
}

static void *node(kiln_op_type op, const int *ins, int num_ins, int out) {
  kiln_node *n = NULL;
  CHECK_OK(kiln_graph_add_node(G, op, ins, num_ins, &out, 1, G->num_nodes, &n));
  return n ? n->attrs : NULL;
}

static void conv(const block *b, int s, int in, const int64_t *wdims, int axis,
                 int64_t n_out, int out, kiln_op_type op) {
  int ins[3] = {in, filter(b, s, wdims, axis), -1};
  if (b->bias[s])
    ins[2] = constant("b", KILN_INT32, 1, (int64_t[]){n_out}, b->b[s],
                      sizeof(int32_t) * (size_t)n_out);
  kiln_conv_attrs *a = node(op, ins, b->bias[s] ? 3 : 2, out);
  if (!a) return;
  *a = (kiln_conv_attrs){KILN_PAD_VALID, 1, 1, 1, 1, 0, b->act[s]};
  if (op == KILN_OP_DEPTHWISE_CONV_2D) {
    a->padding = b->padding;
    a->stride_h = a->stride_w = b->stride;
    a->depth_multiplier = 1;
  }
}

static kiln_graph *build(const block *b) {
  G = kiln_graph_create(NULL);
  int64_t xd[4] = {b->n, b->h, b->w, b->c}, ed[4] = {b->n, b->h, b->w, b->m};
  int64_t td[4] = {b->n, b->oh, b->ow, b->m},
          yd[4] = {b->n, b->oh, b->ow, b->o};
  int x = activation("x", xd, b->sx, b->zx), e = x;
  if (b->expand) {
    e = activation("e", ed, b->se, b->ze);
    conv(b, 0, x, (int64_t[]){b->m, 1, 1, b->c}, 0, b->m, e, KILN_OP_CONV_2D);
  }
  int t = activation("t", td, b->sd, b->zd);
  conv(b, 1, e, (int64_t[]){1, 3, 3, b->m}, 3, b->m, t,
       KILN_OP_DEPTHWISE_CONV_2D);
  int y = activation("y", yd, b->sy, b->zy);
  conv(b, 2, t, (int64_t[]){b->o, 1, 1, b->m}, 0, b->o, y, KILN_OP_CONV_2D);
  int out = y;
  if (b->residual) {
    out = activation("z", yd, b->sz, b->zz);
    kiln_activation_attrs *a = node(
        KILN_OP_ADD, b->residual_first ? (int[]){x, y} : (int[]){y, x}, 2, out);
    if (a) a->activation = b->add_act;
  }
  CHECK_OK(kiln_graph_set_io(G, &x, NULL, 1, &out, NULL, 1));
  return G;
}

/* ------------------------------------------------------------ running */

/* Runs the nodes in order with their shape functions and reference
 * kernels on `input`; copies the graph output (out_bytes) to out. */
static kiln_status *evaluate(const kiln_graph *g, const void *input, void *out,
                             size_t out_bytes) {
  kiln_tensor *t = calloc((size_t)g->num_values + 1, sizeof *t);
  void **storage = calloc((size_t)g->num_values + 1, sizeof *storage);
  for (int v = 0; v < g->num_values; v++)
    kiln_value_as_tensor(&g->values[v], &t[v]);
  t[g->inputs[0]].data = (void *)input;
  kiln_status *st = NULL;
  for (int n = 0; n < g->num_nodes && !st; n++) {
    const kiln_node *nd = &g->nodes[n];
    kiln_tensor *in[KILN_BOTTLENECK_INPUTS + 1], *outs[1];
    for (int i = 0; i < nd->num_inputs; i++)
      in[i] = nd->inputs[i] >= 0 ? &t[nd->inputs[i]] : NULL;
    outs[0] = &t[nd->outputs[0]];
    kiln_op_ctx ctx = {.attrs = nd->attrs,
                       .inputs = in,
                       .num_inputs = nd->num_inputs,
                       .outputs = outs,
                       .num_outputs = 1};
    st = kiln_op_table[nd->op].shape(&ctx);
    if (st) break;
    int v = nd->outputs[0];
    storage[v] = calloc(kiln_tensor_nbytes(&t[v]) + 1, 1);
    t[v].data = storage[v];
    /* What the runtime builds at load for the quantized operators. */
    kiln_quant_params *q = NULL;
    st = kiln_quant_params_build(nd->op, &ctx, g->alloc, &q);
    ctx.quant = q;
    if (!st) st = kiln_op_table[nd->op].reference(&ctx);
    kiln_free(g->alloc, q);
  }
  if (!st) memcpy(out, t[g->outputs[0]].data, out_bytes);
  for (int v = 0; v < g->num_values; v++) free(storage[v]);
  free(storage);
  free(t);
  return st;
}

static int count_op(const kiln_graph *g, kiln_op_type op) {
  int c = 0;
  for (int n = 0; n < g->num_nodes; n++) c += g->nodes[n].op == op;
  return c;
}

static void describe(const block *b, const char *what, int64_t bad,
                     int64_t first) {
  fprintf(stderr,
          "  %s: x [%lld,%lld,%lld,%lld] m %lld o %lld stride %d pad %d "
          "expand %d residual %d per-channel %d biases %d%d%d acts %d %d %d: "
          "%lld bytes differ, first at %lld\n",
          what, (long long)b->n, (long long)b->h, (long long)b->w,
          (long long)b->c, (long long)b->m, (long long)b->o, b->stride,
          (int)b->padding, b->expand, b->residual, b->per_channel, b->bias[0],
          b->bias[1], b->bias[2], (int)b->act[0], (int)b->act[1],
          (int)b->act[2], (long long)bad, (long long)first);
}

static bool same(const block *b, const char *what, const int8_t *got,
                 const int8_t *want, int64_t n) {
  int64_t bad = 0, first = -1;
  for (int64_t i = 0; i < n; i++)
    if (got[i] != want[i]) {
      if (first < 0) first = i;
      bad++;
    }
  CHECK(bad == 0);
  if (bad) describe(b, what, bad, first);
  return bad == 0;
}

/* How many outputs were not all one value (the clamps' ends): the test
 * is only worth something when most are not. */
static int varied, residuals;

/* The block through a session at `isa` with float requantization
 * (KILN_INT8_ROUNDING_FP32), fused or not, into out. */
static void run_fp32(const block *b, kiln_isa isa, bool fuse, int8_t *out,
                     size_t out_bytes) {
  if (!fuse) setenv("KILN_QBOTTLENECK", "0", 1);
  kiln_options opt = kiln_options_default();
  opt.max_isa = isa;
  opt.int8_rounding = KILN_INT8_ROUNDING_FP32;
  kiln_model *model = NULL;
  kiln_session *s = NULL;
  CHECK_OK(kiln_model_from_graph(build(b), "block", &opt, true, &model));
  if (model) CHECK_OK(kiln_session_create(model, NULL, &s));
  if (s) {
    CHECK_OK(kiln_session_set_input(s, 0, KILN_INT8,
                                    (int64_t[]){b->n, b->h, b->w, b->c}, 4,
                                    b->x, (size_t)(b->n * b->h * b->w * b->c)));
    CHECK_OK(kiln_session_invoke(s));
    CHECK_OK(kiln_session_get_output(s, 0, out, out_bytes));
  }
  kiln_session_free(s);
  kiln_model_free(model);
  unsetenv("KILN_QBOTTLENECK");
}

static void test_blocks(void) {
  kiln_test_seed(1111);
  kiln_isa best = kiln_isa_resolve(KILN_ISA_AUTO);
  static const struct {
    kiln_isa isa;
    const char *kernel;
  } levels[] = {
      {KILN_ISA_PORTABLE, "q8-bottleneck-portable"},
      {KILN_ISA_AVX2, "q8-bottleneck-avx2"},
      {KILN_ISA_AVX512_VNNI, "q8-bottleneck-avx512vnni"},
  };
  bool ran[3] = {false};
  int trials = 80;
  for (int trial = 0; trial < trials; trial++) {
    block b;
    make_block(&b);
    int64_t in_bytes = b.n * b.h * b.w * b.c,
            out_bytes = b.n * b.oh * b.ow * b.o;
    int8_t *want = malloc((size_t)out_bytes), *got = malloc((size_t)out_bytes);
    kiln_graph *g = build(&b);
    CHECK_OK(evaluate(g, b.x, want, (size_t)out_bytes));
    kiln_graph_free(g);
    int8_t lo = want[0], hi = want[0];
    for (int64_t i = 0; i < out_bytes; i++) {
      lo = want[i] < lo ? want[i] : lo;
      hi = want[i] > hi ? want[i] : hi;
    }
    varied += hi - lo > 8;
    /* The pass, then the fused node's reference kernel. */
    g = build(&b);
    int fused = 0;
    CHECK_OK(kiln_pass_fuse_qbottlenecks(g, &fused));
    CHECK(fused == 1);
    CHECK(count_op(g, KILN_OP_FUSED_BOTTLENECK) == 1);
    CHECK(count_op(g, KILN_OP_CONV_2D) == 0);
    CHECK(count_op(g, KILN_OP_ADD) == 0);
    residuals += b.residual;
    memset(got, 0, (size_t)out_bytes);
    CHECK_OK(evaluate(g, b.x, got, (size_t)out_bytes));
    same(&b, "fused reference", got, want, out_bytes);
    kiln_graph_free(g);
    /* Sessions: the pass and the variant of each level. */
    for (int l = 0; l < 3; l++) {
      if (levels[l].isa > best) continue;
      for (int threads = 1; threads <= 3; threads += 2) {
        kiln_options opt = kiln_options_default();
        opt.max_isa = levels[l].isa;
        opt.num_threads = threads;
        kiln_model *model = NULL;
        kiln_session *s = NULL;
        CHECK_OK(kiln_model_from_graph(build(&b), "block", &opt, true, &model));
        if (model) CHECK_OK(kiln_session_create(model, NULL, &s));
        if (!s) {
          kiln_model_free(model);
          continue;
        }
        CHECK_OK(kiln_session_set_profiling(s, 1));
        CHECK_OK(kiln_session_set_input(s, 0, KILN_INT8,
                                        (int64_t[]){b.n, b.h, b.w, b.c}, 4, b.x,
                                        (size_t)in_bytes));
        CHECK_OK(kiln_session_invoke(s));
        memset(got, 0, (size_t)out_bytes);
        CHECK_OK(kiln_session_get_output(s, 0, got, (size_t)out_bytes));
        char what[64];
        snprintf(what, sizeof what, "%s, %d threads", levels[l].kernel,
                 threads);
        same(&b, what, got, want, out_bytes);
        kiln_profile_entry e;
        CHECK_OK(kiln_session_profile_entry(s, 0, &e));
        CHECK(strcmp(e.op, "FUSED_BOTTLENECK") == 0);
        CHECK(strcmp(e.kernel, levels[l].kernel) == 0);
        if (strcmp(e.kernel, levels[l].kernel))
          fprintf(stderr, "  level %s ran %s\n", levels[l].kernel, e.kernel);
        ran[l] = true;
        kiln_session_free(s);
        kiln_model_free(model);
      }
    }
    /* Float requantization: the fused node rounds each stage as the
     * unfused operators do. */
    memset(want, 0, (size_t)out_bytes);
    memset(got, 1, (size_t)out_bytes);
    run_fp32(&b, best, false, want, (size_t)out_bytes);
    run_fp32(&b, best, true, got, (size_t)out_bytes);
    same(&b, "fused, float requantization", got, want, out_bytes);
    free(want);
    free(got);
    free_block(&b);
  }
  /* Most blocks' outputs must spread over many values. */
  CHECK(varied > trials / 2);
  printf(
      "q8 bottleneck: %d blocks (%d with a residual ADD), %d with varied "
      "outputs; ran",
      trials, residuals, varied);
  for (int l = 0; l < 3; l++)
    if (ran[l]) printf(" %s", levels[l].kernel);
  printf("; skipped:");
  bool none = true;
  for (int l = 0; l < 3; l++)
    if (!ran[l]) printf(" %s", levels[l].kernel), none = false;
  printf("%s\n", none ? " none" : " (CPU lacks the level)");
}

/* KILN_QBOTTLENECK=0 leaves the chain as it is. */
static void test_switch(void) {
  kiln_test_seed(7);
  block b;
  make_block(&b);
  setenv("KILN_QBOTTLENECK", "0", 1);
  kiln_graph *g = build(&b);
  int fused = -1, before = g->num_nodes;
  CHECK_OK(kiln_pass_fuse_qbottlenecks(g, &fused));
  CHECK(fused == 0 && g->num_nodes == before);
  kiln_graph_free(g);
  unsetenv("KILN_QBOTTLENECK");
  free_block(&b);
}

/* The shape function refuses a float bias and a missing quantization. */
static void test_bad_inputs(void) {
  kiln_test_seed(9);
  block b;
  make_block(&b);
  kiln_graph *g = build(&b);
  int fused = 0;
  CHECK_OK(kiln_pass_fuse_qbottlenecks(g, &fused));
  const kiln_node *nd = NULL;
  for (int n = 0; n < g->num_nodes; n++)
    if (g->nodes[n].op == KILN_OP_FUSED_BOTTLENECK) nd = &g->nodes[n];
  CHECK(nd != NULL);
  if (nd) {
    kiln_tensor t[KILN_BOTTLENECK_INPUTS + 1], y;
    kiln_tensor *in[KILN_BOTTLENECK_INPUTS + 1], *outs[1] = {&y};
    for (int i = 0; i < nd->num_inputs; i++) {
      in[i] = nd->inputs[i] >= 0 ? &t[i] : NULL;
      if (in[i]) kiln_value_as_tensor(&g->values[nd->inputs[i]], &t[i]);
    }
    kiln_value_as_tensor(&g->values[nd->outputs[0]], &y);
    kiln_op_ctx ctx = {.attrs = nd->attrs,
                       .inputs = in,
                       .num_inputs = nd->num_inputs,
                       .outputs = outs,
                       .num_outputs = 1};
    CHECK_OK(kiln_op_table[KILN_OP_FUSED_BOTTLENECK].shape(&ctx));
    float scale = 0.5f;
    int32_t bias[256] = {0};
    kiln_tensor fbias = {.dtype = KILN_FLOAT32, .rank = 1, .dims = {b.o}};
    fbias.data = bias;
    in[KILN_BOTTLENECK_PROJECT_B] = &fbias;
    CHECK_ERROR(kiln_op_table[KILN_OP_FUSED_BOTTLENECK].shape(&ctx),
                KILN_ERR_UNSUPPORTED, "project bias");
    in[KILN_BOTTLENECK_PROJECT_B] = NULL;
    const kiln_quant_info *saved = t[0].quant;
    t[0].quant = NULL;
    CHECK_ERROR(kiln_op_table[KILN_OP_FUSED_BOTTLENECK].shape(&ctx),
                KILN_ERR_INVALID_MODEL, "input 0 (input)");
    t[0].quant = saved;
    kiln_bottleneck_attrs bad = *(const kiln_bottleneck_attrs *)nd->attrs;
    bad.depthwise_scale = -scale;
    ctx.attrs = &bad;
    CHECK_ERROR(kiln_op_table[KILN_OP_FUSED_BOTTLENECK].shape(&ctx),
                KILN_ERR_INVALID_MODEL, "depthwise");
  }
  kiln_graph_free(g);
  free_block(&b);
}

int main(void) {
  test_blocks();
  test_switch();
  test_bad_inputs();
  return kiln_test_finish("test_opt_qbottleneck");
}
