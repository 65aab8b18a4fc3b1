/* test_opt_qbmm.c - the int8 BATCH_MATMUL variants (kernels/qgemm/qbmm.c)
 * against the reference kernel, which equals LiteRT: outputs must be
 * EQUAL, byte for byte, at every instruction-set level this CPU has
 * (printed: which ran, which were skipped), on one thread and on a pool of
 * 3, over random shapes (broadcast batch dimensions, adj_x / adj_y, K = 1,
 * odd M and N, batch > 1), random scales and zero points of both operands
 * and the output, with y a constant (packed at load) or an activation
 * (packed at invoke). The reference's own output is checked against an
 * oracle of TFLite's arithmetic computed here in long double. Nodes the
 * variants must leave alone (uint8, int16) are checked to be declined, a
 * packed y of another shape not to be taken, and a run without a pool's
 * scratch to fall back to the reference kernel. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/threadpool.h"
#include "harness.h"
#include "kernels/qgemm/qgemm.h"
#include "kernels/ref/quant_params.h"
#include "kernels/variants.h"
#include "quant_test_util.h"

static kiln_threadpool *pool1, *pool3;
static kiln_isa best;
/* Cases each level's variant ran (index: kiln_isa), and how many of them
 * had y an activation. */
static int ran[KILN_ISA_AVX512_VNNI + 1], ran_dynamic;

/* Packs as the model does at load: x unknown, y unknown too unless it is
 * a constant; the outputs are left out now and then, as packers must
 * tolerate. */
static const kiln_kernel_variant *pack_like_load(kiln_isa isa,
                                                 const kiln_op_ctx *ctx,
                                                 bool constant, void **packed) {
  kiln_tensor x = *ctx->inputs[0], y = *ctx->inputs[1];
  x.data = NULL;
  if (!constant) y.data = NULL;
  kiln_tensor *inputs[2] = {&x, &y};
  kiln_op_ctx load = *ctx;
  load.inputs = inputs;
  kiln_op_ctx bare = load;
  bare.outputs = NULL;
  bare.num_outputs = 0;
  int index = 0;
  *packed = NULL;
  for (const kiln_kernel_variant *v =
           kiln_variant_packer(KILN_OP_BATCH_MATMUL, isa, 0, &index);
       v;
       v = kiln_variant_packer(KILN_OP_BATCH_MATMUL, isa, index + 1, &index)) {
    if (strncmp(v->name, "q8-bmm-gemm-", 12) == 0) {
      CHECK_OK(v->pack(&bare, NULL, packed));
      CHECK(*packed == NULL);
    }
    CHECK_OK(v->pack(&load, NULL, packed));
    if (*packed) return v;
  }
  return NULL;
}

/* The reference's result from TFLite's definition: int64 sums of
 * zero-point-corrected products, wrapped to int32, the double-rounding
 * rescale (quant_test_util.h's oracle), the output zero point, the clamp. */
static void check_oracle(const qt *x, const qt *y, const qt *out,
                         const kiln_batch_matmul_attrs *a) {
  const kiln_tensor *xt = x->t, *yt = y->t, *ot = out->t;
  int64_t m = ot->dims[ot->rank - 2], n = ot->dims[ot->rank - 1];
  int64_t k = a->adj_x ? xt->dims[xt->rank - 2] : xt->dims[xt->rank - 1];
  double real =
      (double)x->scale[0] * (double)y->scale[0] / (double)out->scale[0];
  int64_t batches = kiln_tensor_numel(ot) / (m * n), bad = 0;
  int64_t ob[KILN_MAX_RANK];
  for (int64_t b = 0; b < batches; b++) {
    /* The batch index in each operand, broadcasting from the right. */
    int64_t rest = b;
    for (int i = ot->rank - 3; i >= 0; i--) {
      ob[i] = rest % ot->dims[i];
      rest /= ot->dims[i];
    }
    int64_t xb = 0, yb = 0;
    for (int i = 0; i < xt->rank - 2; i++) {
      int64_t d = xt->dims[i];
      xb = xb * d + (d == 1 ? 0 : ob[ot->rank - xt->rank + i]);
    }
    for (int i = 0; i < yt->rank - 2; i++) {
      int64_t d = yt->dims[i];
      yb = yb * d + (d == 1 ? 0 : ob[ot->rank - yt->rank + i]);
    }
    for (int64_t r = 0; r < m; r++)
      for (int64_t c = 0; c < n; c++) {
        int64_t acc = 0;
        for (int64_t t = 0; t < k; t++) {
          int64_t xv =
              qt_get(xt, xb * m * k + (a->adj_x ? t * m + r : r * k + t));
          int64_t yv =
              qt_get(yt, yb * k * n + (a->adj_y ? c * k + t : t * n + c));
          acc += (xv - x->zp[0]) * (yv - y->zp[0]);
        }
        int64_t v = oracle_rescale32(acc, real) + out->zp[0];
        v = v < -128 ? -128 : v > 127 ? 127 : v;
        if (qt_get(ot, (b * m + r) * n + c) != v) bad++;
      }
  }
  CHECK(bad == 0);
}

/* Runs the node at every level and compares with the reference output;
 * `ours`: whether a q8 BATCH_MATMUL variant must take it. */
static void run_levels(const kiln_batch_matmul_attrs *attrs,
                       kiln_tensor **inputs, const kiln_tensor *ref,
                       bool constant, bool want, const char *what) {
  kiln_tensor *got = kiln_test_tensor(ref->dtype, ref->rank, ref->dims);
  got->quant = ref->quant;
  kiln_tensor *outputs[1] = {got};
  kiln_op_ctx ctx = {attrs, inputs, 2, outputs, 1, NULL, NULL, NULL};
  kiln_quant_params *q = NULL;
  CHECK_OK(kiln_quant_params_build(KILN_OP_BATCH_MATMUL, &ctx, NULL, &q));
  ctx.quant = q;
  size_t bytes = (size_t)kiln_tensor_numel(ref) * kiln_dtype_size(ref->dtype);
  for (int isa = KILN_ISA_PORTABLE; isa <= (int)best; isa++) {
    void *packed;
    const kiln_kernel_variant *packer =
        pack_like_load((kiln_isa)isa, &ctx, constant, &packed);
    ctx.packed = packed;
    const kiln_kernel_variant *v =
        kiln_variant_select(KILN_OP_BATCH_MATMUL, (kiln_isa)isa, packer, &ctx);
    bool ours = v && strncmp(v->name, "q8-bmm-gemm-", 12) == 0;
    CHECK(ours == want);
    if (ours) {
      CHECK(v == packer && v->workspace && (int)v->isa <= isa);
      ran[v->isa]++;
      if (!constant) ran_dynamic++;
      kiln_threadpool *pools[2] = {pool1, pool3};
      for (int p = 0; p < 2; p++) {
        ctx.pool = pools[p];
        CHECK_OK(kiln_threadpool_reserve_scratch(ctx.pool, v->workspace(&ctx)));
        memset(got->data, 0x5a, bytes);
        CHECK_OK(v->run(&ctx));
        bool same = memcmp(got->data, ref->data, bytes) == 0;
        CHECK(same);
        if (!same) {
          const int8_t *g = got->data, *r = ref->data;
          size_t i = 0;
          while (g[i] == r[i]) i++;
          fprintf(stderr, "  %s at %s (%s), %d threads: [%zu] %d vs %d\n", what,
                  kiln_isa_name((kiln_isa)isa), v->name,
                  kiln_threadpool_size(ctx.pool), i, g[i], r[i]);
        }
      }
      /* Without a pool's scratch the variant hands the node to the
       * reference kernel rather than failing or allocating. */
      ctx.pool = NULL;
      memset(got->data, 0x5a, bytes);
      CHECK_OK(v->run(&ctx));
      CHECK(memcmp(got->data, ref->data, bytes) == 0);
      /* A constant y of another shape than the packed one is not taken. */
      if (constant) {
        kiln_tensor *y = inputs[1];
        int64_t saved = y->dims[y->rank - 1];
        y->dims[y->rank - 1] = saved + 1;
        CHECK(!v->applies(&ctx));
        y->dims[y->rank - 1] = saved;
      }
    }
    free(packed);
    ctx.packed = NULL;
    ctx.pool = NULL;
  }
  kiln_free(NULL, q);
  kiln_test_tensor_free(got);
}

typedef struct bmm_case_t {
  int x_rank, y_rank;
  int64_t x_batch[3], y_batch[3]; /* leading dims of each */
  int64_t m, k, n;
  bool adj_x, adj_y, constant;
  /* Every product (-128 - 127)^2, so long sums wrap int32. */
  bool extreme;
} bmm_case_t;

static void bmm_case(kiln_dtype t, const bmm_case_t *p) {
  int64_t xd[5], yd[5];
  int xb = p->x_rank - 2, yb = p->y_rank - 2;
  for (int i = 0; i < xb; i++) xd[i] = p->x_batch[i];
  for (int i = 0; i < yb; i++) yd[i] = p->y_batch[i];
  xd[xb] = p->adj_x ? p->k : p->m;
  xd[xb + 1] = p->adj_x ? p->m : p->k;
  yd[yb] = p->adj_y ? p->n : p->k;
  yd[yb + 1] = p->adj_y ? p->k : p->n;
  qt *x = qt_new(t, p->x_rank, xd, 1, 0), *y = qt_new(t, p->y_rank, yd, 1, 0);
  x->scale[0] = qt_scale(-8, -4);
  y->scale[0] = qt_scale(-8, -4);
  x->zp[0] = t == KILN_INT16 ? 0 : kiln_test_int(qt_min(t), qt_max(t));
  /* y's zero point 0 (no extra entries) now and then, often a small one
   * (few entries, weights zy * s for a large s). */
  int zy_kind = t == KILN_INT16 ? 0 : kiln_test_int(0, 3);
  y->zp[0] = zy_kind == 0   ? 0
             : zy_kind == 1 ? kiln_test_int(-9, 9)
                            : kiln_test_int(qt_min(t), qt_max(t));
  if (p->extreme) {
    memset(x->t->data, 0x80, (size_t)kiln_tensor_numel(x->t));
    memset(y->t->data, 0x80, (size_t)kiln_tensor_numel(y->t));
    x->zp[0] = 127;
    /* the largest digit scale (s = 64) once, the smallest once */
    y->zp[0] = p->constant ? 127 : -1;
  }
  double real_acc = x->scale[0] * y->scale[0] * 128.0 * 128 * sqrt(p->k);
  float scale = (float)(real_acc / 255.0 * ldexp(1.0, kiln_test_int(-1, 2)));
  qt *out = qt_output(
      t, scale, t == KILN_INT16 ? 0 : kiln_test_int(qt_min(t), qt_max(t)));
  kiln_batch_matmul_attrs attrs = {.adj_x = p->adj_x, .adj_y = p->adj_y};
  kiln_tensor *inputs[2] = {x->t, y->t};
  CHECK_OK(kiln_test_run_op1(KILN_OP_BATCH_MATMUL, &attrs, inputs, 2, out->t));
  if (t == KILN_INT8) check_oracle(x, y, out, &attrs);
  char what[192];
  snprintf(what, sizeof what,
           "bmm x rank %d y rank %d m %lld k %lld n %lld adj %d%d const %d "
           "zp %lld %lld",
           p->x_rank, p->y_rank, (long long)p->m, (long long)p->k,
           (long long)p->n, p->adj_x, p->adj_y, p->constant,
           (long long)x->zp[0], (long long)y->zp[0]);
  run_levels(&attrs, inputs, out->t, p->constant, t == KILN_INT8, what);
  qt_free(x);
  qt_free(y);
  qt_free(out);
}

static bmm_case_t random_case(void) {
  bmm_case_t p = {
      .x_rank = kiln_test_int(2, 5),
      .y_rank = kiln_test_int(2, 5),
      .m = kiln_test_int(1, 70),
      .k = kiln_test_int(0, 5) == 0 ? 1 : kiln_test_int(1, 150),
      .n = kiln_test_int(1, 80),
      .adj_x = kiln_test_int(0, 1),
      .adj_y = kiln_test_int(0, 1),
      .constant = kiln_test_int(0, 1),
  };
  /* Batch dimensions that broadcast: each 1 or a shared size. */
  int64_t shared[3] = {kiln_test_int(1, 3), kiln_test_int(1, 3),
                       kiln_test_int(1, 4)};
  for (int i = 0; i < 3; i++) {
    p.x_batch[i] = kiln_test_int(0, 2) ? shared[i] : 1;
    p.y_batch[i] = kiln_test_int(0, 2) ? shared[i] : 1;
  }
  /* Right-aligned: the dims of the lower-rank operand are the last ones. */
  for (int i = 0; i < p.x_rank - 2; i++)
    p.x_batch[i] = p.x_batch[3 - (p.x_rank - 2) + i];
  for (int i = 0; i < p.y_rank - 2; i++)
    p.y_batch[i] = p.y_batch[3 - (p.y_rank - 2) + i];
  return p;
}

int main(void) {
  kiln_test_seed(0x51b3a7d1);
  best = kiln_isa_resolve(KILN_ISA_AUTO);
  CHECK_OK(kiln_threadpool_create(1, NULL, &pool1));
  CHECK_OK(kiln_threadpool_create(3, NULL, &pool3));

  bmm_case_t fixed[] = {
      /* K = 1, one element, both kinds of y. */
      {2, 2, {0}, {0}, 1, 1, 1, false, false, false, false},
      {2, 2, {0}, {0}, 1, 1, 1, false, false, true, false},
      /* Attention's shapes, small: [1,2,M,K] x [1,2,K,N], adj_y. */
      {4, 4, {1, 2}, {1, 2}, 33, 16, 37, false, true, false, false},
      {4, 4, {1, 2}, {1, 2}, 40, 24, 17, true, false, false, false},
      /* A constant y broadcast over x's batches. */
      {3, 2, {5}, {0}, 9, 31, 65, false, false, true, false},
      {3, 3, {1}, {4}, 7, 5, 3, true, true, true, false},
      /* Sums that wrap int32, as the reference's do. */
      {2, 2, {0}, {0}, 2, 70000, 3, false, false, true, true},
      {3, 2, {2}, {0}, 3, 70001, 2, true, true, false, true},
  };
  for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
    bmm_case(KILN_INT8, &fixed[i]);
  for (int i = 0; i < 80; i++) {
    bmm_case_t p = random_case();
    bmm_case(KILN_INT8, &p);
  }
  /* uint8 and int16 nodes stay on the reference kernel. */
  bmm_case(KILN_UINT8, &fixed[2]);
  bmm_case(KILN_INT16, &fixed[4]);

  printf("q8 bmm: ran");
  for (int isa = KILN_ISA_PORTABLE; isa <= KILN_ISA_AVX512_VNNI; isa++)
    if (ran[isa])
      printf(" %s (%d cases)", kiln_isa_name((kiln_isa)isa), ran[isa]);
  printf(" (%d with y an activation); skipped:", ran_dynamic);
  int skipped = 0;
  static const kiln_isa levels[] = {KILN_ISA_PORTABLE, KILN_ISA_AVX2,
                                    KILN_ISA_AVX512_VNNI};
  for (int i = 0; i < 3; i++)
    if (levels[i] > best) {
      printf(" %s", kiln_isa_name(levels[i]));
      skipped++;
    }
  printf("%s\n", skipped ? " (not on this CPU)" : " none");
  for (int i = 0; i < 3; i++)
    if (levels[i] <= best) CHECK(ran[levels[i]] > 0);
  CHECK(ran_dynamic > 0);
  kiln_threadpool_free(pool1);
  kiln_threadpool_free(pool3);
  return kiln_test_finish("test_opt_qbmm");
}
