/* bottleneck_pack.c - FUSED_BOTTLENECK's weights packed at load: which
 * nodes the variants take, and the expand, project and depthwise weights
 * of one node in one block (layout in bottleneck.h). */
#include <string.h>

#include "core/alloc.h"
#include "kernels/bottleneck/bottleneck_impl.h"

/* A constant float32 filter [n, 1, 1, k] (1x1) or [1, 3, 3, n] (depthwise,
 * k == 0). */
static bool constant_filter(const kiln_tensor *t, int64_t n, int64_t k) {
  if (!t || !t->data || t->dtype != KILN_FLOAT32 || t->rank != 4) return false;
  if (k == 0)
    return t->dims[0] == 1 && t->dims[1] == 3 && t->dims[2] == 3 &&
           t->dims[3] == n;
  return t->dims[0] == n && t->dims[1] == 1 && t->dims[2] == 1 &&
         t->dims[3] == k;
}

static size_t round_up(size_t bytes) {
  return (bytes + KILN_ALIGNMENT - 1) & ~(size_t)(KILN_ALIGNMENT - 1);
}

/* Bytes of a GEMM block's panels. */
static size_t panel_bytes(const kiln_gemm_header *h) {
  size_t panels = (size_t)((h->n + h->nr - 1) / h->nr);
  return panels * (size_t)h->nr * (size_t)(h->k + 1) * sizeof(float);
}

/* Copies a packed GEMM block to `dst` (64-byte aligned) with its panels one
 * cache line after the header. Returns the bytes used. */
static size_t place_gemm(char *dst, const void *src) {
  const kiln_gemm_header *h = src;
  kiln_gemm_header copy = *h;
  copy.offset = KILN_ALIGNMENT;
  memcpy(dst, &copy, sizeof copy);
  memcpy(dst + KILN_ALIGNMENT, (const char *)src + h->offset, panel_bytes(h));
  return KILN_ALIGNMENT + round_up(panel_bytes(h));
}

/* The depthwise filter [1,3,3,m] and bias in blocks of `lanes` channels:
 * the block's biases, then tap by tap its `lanes` weights. */
static void pack_depthwise(float *dst, const float *filter, const float *bias,
                           int64_t m, int lanes) {
  for (int64_t c0 = 0; c0 < m; c0 += lanes, dst += 10 * lanes)
    for (int64_t l = 0; l < lanes; l++) {
      int64_t ch = c0 + l;
      dst[l] = ch < m && bias ? bias[ch] : 0.0f;
      for (int t = 0; t < 9; t++)
        dst[(1 + t) * lanes + l] = ch < m ? filter[t * m + ch] : 0.0f;
    }
}

/* Weights from the node's constants, biases NULL when omitted; false when
 * any is not a constant of the right shape or the stages are not ones the
 * variants run. At load only constants have data. */
typedef struct stage_weights {
  const float *expand_w, *expand_b, *dw_w, *dw_b, *project_w, *project_b;
  int64_t c, m, o;
} stage_weights;

static bool node_weights(const kiln_op_ctx *ctx, stage_weights *s) {
  const kiln_bottleneck_attrs *a = ctx->attrs;
  float lo, hi;
  if (!a || ctx->num_inputs != KILN_BOTTLENECK_INPUTS ||
      ctx->num_outputs != 1 ||
      !kiln_bottleneck_clamp(a->expand_activation, &lo, &hi) ||
      !kiln_bottleneck_clamp(a->project_activation, &lo, &hi))
    return false;
  const kiln_tensor *ew = ctx->inputs[KILN_BOTTLENECK_EXPAND_W],
                    *dw = ctx->inputs[KILN_BOTTLENECK_DW_W];
  const kiln_tensor *pw = ctx->inputs[KILN_BOTTLENECK_PROJECT_W];
  if (!dw || dw->rank != 4 || !pw || pw->rank != 4 ||
      !kiln_bottleneck_window_supported(dw->dims[1], dw->dims[2],
                                        &a->depthwise))
    return false;
  memset(s, 0, sizeof *s);
  s->m = dw->dims[3];
  s->o = pw->dims[0];
  s->c = ew && ew->rank == 4 ? ew->dims[3] : s->m;
  if (ew ? !constant_filter(ew, s->m, s->c)
         : ctx->inputs[KILN_BOTTLENECK_EXPAND_B] != NULL)
    return false;
  if (!constant_filter(dw, s->m, 0) || !constant_filter(pw, s->o, s->m))
    return false;
  s->expand_w = ew ? ew->data : NULL;
  s->dw_w = dw->data;
  s->project_w = pw->data;
  return kiln_gemm_constant_bias(ctx, KILN_BOTTLENECK_EXPAND_B, s->m,
                                 &s->expand_b) &&
         kiln_gemm_constant_bias(ctx, KILN_BOTTLENECK_DW_B, s->m, &s->dw_b) &&
         kiln_gemm_constant_bias(ctx, KILN_BOTTLENECK_PROJECT_B, s->o,
                                 &s->project_b);
}

kiln_status *kiln_bottleneck_pack(const kiln_gemm_kernel *kernel, int lanes,
                                  const kiln_op_ctx *ctx,
                                  const kiln_allocator *al, void **out_packed) {
  *out_packed = NULL;
  stage_weights s;
  if (!node_weights(ctx, &s)) return NULL;
  /* kiln_gemm_pack does the panel layout; its blocks are then copied into
   * this one, so the node's weights are one block like every other. */
  void *expand = NULL, *project = NULL;
  kiln_status *st = NULL;
  if (s.expand_w)
    st = kiln_gemm_pack(s.expand_w, s.expand_b, s.m, s.c, kernel->nr, al,
                        &expand);
  if (!st)
    st = kiln_gemm_pack(s.project_w, s.project_b, s.o, s.m, kernel->nr, al,
                        &project);
  if (st || !project || (s.expand_w && !expand)) {
    kiln_free(al, expand);
    kiln_free(al, project);
    return st;
  }
  size_t header = round_up(sizeof(kiln_bottleneck_packed));
  size_t expand_bytes =
      expand ? KILN_ALIGNMENT + round_up(panel_bytes(expand)) : 0;
  size_t project_bytes = KILN_ALIGNMENT + round_up(panel_bytes(project));
  size_t dw_floats = (size_t)((s.m + lanes - 1) / lanes) * 10 * (size_t)lanes;
  /* One alignment of slack: the block itself may start anywhere. */
  char *mem = kiln_malloc(al, KILN_ALIGNMENT + header + expand_bytes +
                                  project_bytes + dw_floats * sizeof(float));
  if (!mem) {
    kiln_free(al, expand);
    kiln_free(al, project);
    return KILN_OOM();
  }
  uintptr_t first = ((uintptr_t)mem + header + KILN_ALIGNMENT - 1) &
                    ~(uintptr_t)(KILN_ALIGNMENT - 1);
  kiln_bottleneck_packed *p = (kiln_bottleneck_packed *)(void *)mem;
  p->in_c = s.c;
  p->mid_c = s.m;
  p->out_c = s.o;
  p->nr = kernel->nr;
  p->lanes = lanes;
  size_t at = (size_t)(first - (uintptr_t)mem);
  p->expand = expand ? (uint32_t)at : 0;
  if (expand) at += place_gemm(mem + at, expand);
  p->project = (uint32_t)at;
  at += place_gemm(mem + at, project);
  p->depthwise = (uint32_t)at;
  pack_depthwise((float *)(void *)(mem + at), s.dw_w, s.dw_b, s.m, lanes);
  kiln_free(al, expand);
  kiln_free(al, project);
  *out_packed = p;
  return NULL;
}
