/* test_fuse_swish8.c - the pass that turns the int8 swish pair
 * MUL(x, LOGISTIC(x)) into one QUANT_LUT8 node: on random scales, zero
 * points, operand orders and MUL activations, the fused graph's output on
 * all 256 input bytes equals the unfused graph's run by the reference
 * LOGISTIC and MUL kernels; pairs it must not fuse (the logistic read
 * elsewhere or a graph output, a MUL of another value, float32, int16,
 * per-channel) stay; QUANT_LUT8's variants equal its reference on random
 * tables and lengths at every instruction-set level this CPU has; its
 * shape function refuses other types; the TFLite writer refuses the op. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/graph.h"
#include "formats/tflite/tflite_export.h"
#include "harness.h"
#include "kernels/qelem/lut8.h"
#include "kernels/variants.h"
#include "passes/passes.h"
#include "runtime/model.h"

/* ------------------------------------------------------ building graphs */

static kiln_graph *G;

enum { N = 256 }; /* elements of every test tensor: each byte once */

static const int64_t shape3[3] = {2, 8, 16};

/* A value of `dtype` shaped [2, 8, 16]; quantized per tensor when scale > 0
 * (the arrays owned by the graph, which frees them). */
static int value(const char *name, kiln_dtype dtype, float scale, int64_t zp) {
  int id = -1;
  CHECK_OK(kiln_graph_add_value(G, name, &id));
  kiln_value *v = &G->values[id];
  v->dtype = dtype;
  v->rank = 3;
  memcpy(v->dims, shape3, sizeof shape3);
  memcpy(v->signature, shape3, sizeof shape3);
  if (scale > 0) {
    float *s = kiln_malloc(G->alloc, sizeof *s);
    int64_t *z = kiln_malloc(G->alloc, sizeof *z);
    CHECK(s && z);
    if (!s || !z) return id;
    *s = scale;
    *z = zp;
    v->quant.count = 1;
    v->quant.scale = s;
    v->quant.zero_point = z;
  }
  return id;
}

static void *node(kiln_op_type op, const int *ins, int num_ins, int out) {
  kiln_node *n = NULL;
  CHECK_OK(kiln_graph_add_node(G, op, ins, num_ins, &out, 1, G->num_nodes, &n));
  return n ? n->attrs : NULL;
}

/* ------------------------------------------------------------ running */

/* Runs the nodes in order with their shape functions and reference
 * kernels on `input` (graph input 0); copies graph output `which` (N
 * bytes) to out. */
static kiln_status *evaluate(const kiln_graph *g, const void *input, int which,
                             void *out, size_t out_bytes) {
  kiln_tensor *t = calloc((size_t)g->num_values + 1, sizeof *t);
  void **storage = calloc((size_t)g->num_values + 1, sizeof *storage);
  for (int v = 0; v < g->num_values; v++)
    kiln_value_as_tensor(&g->values[v], &t[v]);
  t[g->inputs[0]].data = (void *)input;
  kiln_status *st = NULL;
  for (int n = 0; n < g->num_nodes && !st; n++) {
    const kiln_node *nd = &g->nodes[n];
    kiln_tensor *in[4], *outs[1];
    for (int i = 0; i < nd->num_inputs; i++) in[i] = &t[nd->inputs[i]];
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
    st = kiln_op_table[nd->op].reference(&ctx);
  }
  if (!st) memcpy(out, t[g->outputs[which]].data, out_bytes);
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

/* ------------------------------------------------- the fusable pair */

static const kiln_activation mul_acts[3] = {KILN_ACT_NONE, KILN_ACT_RELU,
                                            KILN_ACT_RELU6};

/* x -> LOGISTIC -> s; MUL(x, s) or MUL(s, x) -> y; a RELU of y after it
 * when `tail` (so y is an intermediate). Returns y. */
static int swish(int x, float s_scale, int64_t s_zp, float y_scale,
                 int64_t y_zp, bool swap, kiln_activation act) {
  int s = value("s", KILN_INT8, s_scale, s_zp);
  node(KILN_OP_LOGISTIC, &x, 1, s);
  int y = value("y", KILN_INT8, y_scale, y_zp);
  int ins[2] = {swap ? s : x, swap ? x : s};
  kiln_activation_attrs *a = node(KILN_OP_MUL, ins, 2, y);
  if (a) a->activation = act;
  return y;
}

static void test_fused_equals_reference(void) {
  kiln_test_seed(11);
  int8_t bytes[N];
  for (int i = 0; i < N; i++) bytes[i] = (int8_t)(i - 128);
  int fused_cases = 0, declined = 0;
  for (int trial = 0; trial < 300; trial++) {
    /* Shuffle so that position does not line up with the byte. */
    for (int i = N - 1; i > 0; i--) {
      int j = kiln_test_int(0, i);
      int8_t tmp = bytes[i];
      bytes[i] = bytes[j];
      bytes[j] = tmp;
    }
    G = kiln_graph_create(NULL);
    float x_scale = kiln_test_uniform(0.002f, 0.5f);
    int64_t x_zp = kiln_test_int(-128, 127);
    /* TFLite's int8 LOGISTIC wants its output at 1/256 and -128; one trial
     * in eight tries another output quantization, which the reference may
     * refuse (then the pair must stay) or accept (then it must match). */
    bool odd_s = trial % 8 == 7;
    float s_scale = odd_s ? kiln_test_uniform(0.001f, 0.02f) : 1.0f / 256;
    int64_t s_zp = odd_s ? kiln_test_int(-128, 127) : -128;
    float y_scale = kiln_test_uniform(0.002f, 0.5f);
    int64_t y_zp = kiln_test_int(-128, 127);
    int x = value("x", KILN_INT8, x_scale, x_zp);
    int y = swish(x, s_scale, s_zp, y_scale, y_zp, kiln_test_int(0, 1),
                  mul_acts[kiln_test_int(0, 2)]);
    int z = y;
    if (trial % 2) { /* a reader after the pair */
      z = value("z", KILN_INT8, y_scale, y_zp);
      node(KILN_OP_RELU, &y, 1, z);
    }
    CHECK_OK(kiln_graph_set_io(G, &x, NULL, 1, &z, NULL, 1));
    int8_t want[N], got[N];
    kiln_status *ref_status = evaluate(G, bytes, 0, want, N);
    int before = G->num_nodes, fused = -1;
    CHECK_OK(kiln_pass_fuse_swish8(G, &fused));
    if (ref_status) {
      /* The reference refuses this quantization: nothing to fuse. */
      kiln_status_free(ref_status);
      CHECK(fused == 0 && G->num_nodes == before);
      declined++;
    } else {
      CHECK(fused == 1);
      CHECK(G->num_nodes == before - 1);
      CHECK(count_op(G, KILN_OP_QUANT_LUT8) == 1);
      CHECK(count_op(G, KILN_OP_LOGISTIC) == 0 &&
            count_op(G, KILN_OP_MUL) == 0);
      CHECK_OK(evaluate(G, bytes, 0, got, N));
      CHECK(memcmp(got, want, N) == 0);
      fused_cases++;
    }
    kiln_graph_free(G);
  }
  printf("swish8: %d pairs fused and equal, %d declined with the reference\n",
         fused_cases, declined);
  CHECK(fused_cases >= 250);
}

/* ------------------------------------------------------- not fused */

enum {
  S_READ_TWICE,  /* the logistic also feeds another node */
  S_IS_OUTPUT,   /* the logistic is a graph output */
  OTHER_X,       /* MUL(w, LOGISTIC(x)), w another int8 value */
  FLOAT32,       /* a float pair (fuse_activation.c's business) */
  INT16,         /* int16 quantized */
  PER_CHANNEL_X, /* x with per-channel parameters */
  NUM_NEGATIVES
};

static void build_negative(int kind, int *x_out, int *outs, int *num_outs) {
  kiln_dtype dt = kind == FLOAT32 ? KILN_FLOAT32
                  : kind == INT16 ? KILN_INT16
                                  : KILN_INT8;
  float scale = kind == FLOAT32 ? 0 : 0.05f;
  int64_t zp = dt == KILN_INT8 ? 3 : 0;
  int x = value("x", dt, scale, zp);
  *x_out = x;
  if (kind == PER_CHANNEL_X) {
    /* Two channels' parameters: the table would have to depend on the
     * position as well as the byte. */
    kiln_value *v = &G->values[x];
    float *s = kiln_malloc(G->alloc, 2 * sizeof *s);
    int64_t *z = kiln_malloc(G->alloc, 2 * sizeof *z);
    CHECK(s && z);
    kiln_free(G->alloc, (void *)v->quant.scale);
    kiln_free(G->alloc, (void *)v->quant.zero_point);
    s[0] = 0.05f, s[1] = 0.07f, z[0] = z[1] = 0;
    v->quant.count = 2;
    v->quant.axis = 2;
    v->quant.scale = s;
    v->quant.zero_point = z;
  }
  float s_scale = dt == KILN_INT16 ? 1.0f / 32768 : 1.0f / 256;
  int64_t s_zp = dt == KILN_INT8 ? -128 : 0;
  int s = value("s", dt, kind == FLOAT32 ? 0 : s_scale, s_zp);
  node(KILN_OP_LOGISTIC, &x, 1, s);
  int other = x;
  if (kind == OTHER_X) {
    other = value("w", dt, scale, zp);
    node(KILN_OP_RELU, &x, 1, other);
  }
  int y = value("y", dt, scale, zp);
  node(KILN_OP_MUL, (int[]){other, s}, 2, y);
  outs[(*num_outs)++] = y;
  if (kind == S_READ_TWICE) {
    int r = value("r", dt, s_scale, s_zp);
    node(KILN_OP_RELU, &s, 1, r);
    outs[(*num_outs)++] = r;
  }
  if (kind == S_IS_OUTPUT) outs[(*num_outs)++] = s;
}

static void test_not_fused(void) {
  for (int kind = 0; kind < NUM_NEGATIVES; kind++) {
    G = kiln_graph_create(NULL);
    int x, outs[3], num_outs = 0;
    build_negative(kind, &x, outs, &num_outs);
    CHECK_OK(kiln_graph_set_io(G, &x, NULL, 1, outs, NULL, num_outs));
    int before = G->num_nodes, fused = -1;
    CHECK_OK(kiln_pass_fuse_swish8(G, &fused));
    CHECK(fused == 0);
    CHECK(G->num_nodes == before);
    CHECK(count_op(G, KILN_OP_QUANT_LUT8) == 0);
    if (fused != 0) fprintf(stderr, "negative case %d was fused\n", kind);
    kiln_graph_free(G);
  }
}

/* The whole load-time pipeline fuses the pair and reports it. */
static void test_pipeline_report(void) {
  G = kiln_graph_create(NULL);
  int x = value("x", KILN_INT8, 0.1f, 5);
  int y = swish(x, 1.0f / 256, -128, 0.05f, -20, false, KILN_ACT_NONE);
  CHECK_OK(kiln_graph_set_io(G, &x, NULL, 1, &y, NULL, 1));
  kiln_pass_report report;
  CHECK_OK(kiln_run_passes(G, "test", &report));
  CHECK(report.fused_swish8 == 1);
  CHECK(report.nodes_before == 2 && report.nodes_after == 1);
  CHECK(G->num_nodes == 1 && G->nodes[0].op == KILN_OP_QUANT_LUT8);
  /* TFLite has no such operator: the writer refuses it, naming it. */
  void *bytes = NULL;
  size_t size = 0;
  CHECK_ERROR(kiln_tflite_export(G, NULL, &bytes, &size), KILN_ERR_UNSUPPORTED,
              "QUANT_LUT8");
  free(bytes);
  kiln_graph_free(G);
}

/* ------------------------------------------------ the op and variants */

static void test_variants(void) {
  kiln_test_seed(12);
  kiln_isa best = kiln_isa_resolve(KILN_ISA_AUTO);
  struct {
    kiln_isa isa;
    const char *name;
    kiln_kernel_fn run;
  } levels[] = {
    {KILN_ISA_PORTABLE, "portable", kiln_lut8_run_portable},
#if defined(__x86_64__)
    {KILN_ISA_AVX2, "avx2", kiln_lut8_run_avx2},
    {KILN_ISA_AVX512, "avx512", kiln_lut8_run_avx512},
#endif
  };
  int num_levels = (int)(sizeof levels / sizeof levels[0]);
  char ran[64] = "", skipped[64] = "";
  static int8_t x[5000], want[5000], got[5000];
  for (int l = 0; l < num_levels; l++) {
    if (levels[l].isa > best) {
      strcat(skipped, " ");
      strcat(skipped, levels[l].name);
      continue;
    }
    strcat(ran, " ");
    strcat(ran, levels[l].name);
    for (int trial = 0; trial < 40; trial++) {
      kiln_lut8_attrs attrs;
      for (int i = 0; i < 256; i++)
        attrs.table[i] = (int8_t)kiln_test_int(-128, 127);
      int64_t n = trial < 4 ? trial : kiln_test_int(1, 5000);
      for (int64_t i = 0; i < n; i++) x[i] = (int8_t)kiln_test_int(-128, 127);
      kiln_tensor in = {.dtype = KILN_INT8, .rank = 1, .data = x};
      kiln_tensor out = {.dtype = KILN_INT8, .rank = 1};
      in.dims[0] = n;
      kiln_tensor *ins[1] = {&in}, *outs[1] = {&out};
      kiln_op_ctx ctx = {.attrs = &attrs,
                         .inputs = ins,
                         .num_inputs = 1,
                         .outputs = outs,
                         .num_outputs = 1};
      CHECK_OK(kiln_shape_quant_lut8(&ctx));
      CHECK(out.rank == 1 && out.dims[0] == n);
      out.data = want;
      CHECK_OK(kiln_ref_quant_lut8(&ctx));
      /* An independent lookup checks the reference itself. */
      int bad = 0;
      for (int64_t i = 0; i < n; i++)
        bad += want[i] != attrs.table[(uint8_t)(x[i] ^ 0x80)];
      CHECK(bad == 0);
      CHECK(kiln_lut8_applies(&ctx));
      memset(got, 0x55, sizeof got);
      out.data = got;
      CHECK_OK(levels[l].run(&ctx));
      CHECK(memcmp(got, want, (size_t)n) == 0);
      /* Nothing written past the end. */
      CHECK(n == 5000 || got[n] == 0x55);
    }
  }
  printf("lut8 variants: ran%s; skipped:%s\n", ran,
         skipped[0] ? skipped : " none");
}

static void test_bad_types(void) {
  kiln_lut8_attrs attrs = {{0}};
  float data[4] = {0};
  kiln_tensor in = {.dtype = KILN_FLOAT32, .rank = 1, .data = data};
  kiln_tensor out = {.dtype = KILN_INT8, .rank = 1};
  in.dims[0] = 4;
  kiln_tensor *ins[1] = {&in}, *outs[1] = {&out};
  kiln_op_ctx ctx = {.attrs = &attrs,
                     .inputs = ins,
                     .num_inputs = 1,
                     .outputs = outs,
                     .num_outputs = 1};
  CHECK_ERROR(kiln_shape_quant_lut8(&ctx), KILN_ERR_UNSUPPORTED, "input 0");
  in.dtype = KILN_INT8;
  out.dtype = KILN_INT16;
  CHECK_ERROR(kiln_shape_quant_lut8(&ctx), KILN_ERR_UNSUPPORTED, "output 0");
  CHECK(!kiln_lut8_applies(&ctx));
  out.dtype = KILN_INT8;
  ctx.num_inputs = 0; /* no input at all */
  kiln_status *st = kiln_shape_quant_lut8(&ctx);
  CHECK(st != NULL);
  if (st) kiln_status_free(st);
}

/* Through a session, as a model runs: the pass fuses, the variant of each
 * instruction-set level this CPU has runs the node, and the output on
 * all 256 bytes equals the unfused graph's reference result. */
static void test_session(void) {
  kiln_test_seed(13);
  kiln_isa best = kiln_isa_resolve(KILN_ISA_AUTO);
  const struct {
    kiln_isa isa;
    const char *kernel;
  } levels[] = {
      {KILN_ISA_PORTABLE, "q8-lut8-portable"},
      {KILN_ISA_AVX2, "q8-lut8-avx2"},
      {KILN_ISA_AVX512, "q8-lut8-avx512"},
  };
  int8_t bytes[N];
  for (int i = 0; i < N; i++) bytes[i] = (int8_t)(127 - i);
  for (int l = 0; l < 3; l++) {
    if (levels[l].isa > best) continue;
    G = kiln_graph_create(NULL);
    int x = value("x", KILN_INT8, kiln_test_uniform(0.01f, 0.2f),
                  kiln_test_int(-100, 100));
    int y = swish(x, 1.0f / 256, -128, kiln_test_uniform(0.01f, 0.2f),
                  kiln_test_int(-100, 100), l == 1, KILN_ACT_NONE);
    CHECK_OK(kiln_graph_set_io(G, &x, NULL, 1, &y, NULL, 1));
    int8_t want[N], got[N];
    CHECK_OK(evaluate(G, bytes, 0, want, N));
    kiln_options opt = kiln_options_default();
    opt.max_isa = levels[l].isa;
    opt.num_threads = 1;
    kiln_model *model = NULL;
    kiln_session *s = NULL;
    CHECK_OK(kiln_model_from_graph(G, "swish", &opt, true, &model));
    if (model) CHECK_OK(kiln_session_create(model, NULL, &s));
    if (s) {
      CHECK_OK(kiln_session_set_profiling(s, 1));
      CHECK_OK(kiln_session_set_input(s, 0, KILN_INT8, shape3, 3, bytes, N));
      CHECK_OK(kiln_session_invoke(s));
      CHECK_OK(kiln_session_get_output(s, 0, got, N));
      CHECK(memcmp(got, want, N) == 0);
      kiln_profile_entry e;
      CHECK_OK(kiln_session_profile_entry(s, 0, &e));
      CHECK(strcmp(e.op, "QUANT_LUT8") == 0);
      CHECK(strcmp(e.kernel, levels[l].kernel) == 0);
      if (strcmp(e.kernel, levels[l].kernel))
        fprintf(stderr, "level %d ran %s\n", (int)levels[l].isa, e.kernel);
      kiln_session_free(s);
    }
    kiln_model_free(model);
  }
}

int main(void) {
  test_fused_equals_reference();
  test_not_fused();
  test_pipeline_report();
  test_variants();
  test_bad_types();
  test_session();
  return kiln_test_finish("test_fuse_swish8");
}
