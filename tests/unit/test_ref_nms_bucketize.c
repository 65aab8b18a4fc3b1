/* test_ref_nms_bucketize.c - NON_MAX_SUPPRESSION_V4/V5 and BUCKETIZE
 * against oracles written apart from the kernels.
 *
 * NMS: on random boxes with distinct scores, (1) classic greedy hard NMS
 * (sort by score, keep a box unless it overlaps a kept one by the
 * threshold or more) for V4 and V5 with sigma 0, and (2) for soft NMS and
 * the cases where TFLite's loop differs from the classic one (boxes
 * without area, IoU thresholds above 1), TFLite's loop run over a plain
 * array with a linear search for the best score instead of a heap.
 * (Ties, whose order comes from the heap, are checked against LiteRT end
 * to end.) BUCKETIZE: a linear count of boundaries <= x per type. Both with
 * their errors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/threadpool.h"
#include "ops_test_util.h"

static kiln_threadpool *pool;

static kiln_tensor *scalar_f32(float v) {
  return kiln_test_tensor_f32(0, (int64_t[]){1}, &v);
}

/* Runs NMS (V5 when sigma >= 0, else V4) with outputs on the heap. */
static kiln_status *run_nms(kiln_tensor *boxes, kiln_tensor *scores,
                            int32_t max_out, float iou, float score_thr,
                            float sigma, kiln_tensor **outs) {
  bool soft = sigma >= 0.0f;
  kiln_tensor *in[6] = {boxes,
                        scores,
                        kiln_test_tensor_i32(0, (int64_t[]){1}, &max_out),
                        scalar_f32(iou),
                        scalar_f32(score_thr),
                        soft ? scalar_f32(sigma) : NULL};
  int n_out = soft ? 3 : 2;
  outs[0] = kiln_test_tensor(KILN_INT32, 1, (int64_t[]){1});
  outs[1] =
      kiln_test_tensor(soft ? KILN_FLOAT32 : KILN_INT32, 1, (int64_t[]){1});
  outs[2] = soft ? kiln_test_tensor(KILN_INT32, 1, (int64_t[]){1}) : NULL;
  kiln_op_ctx ctx = {NULL, in, soft ? 6 : 5, outs, n_out, NULL, pool, NULL};
  kiln_op_type op =
      soft ? KILN_OP_NON_MAX_SUPPRESSION_V5 : KILN_OP_NON_MAX_SUPPRESSION_V4;
  kiln_status *st = kiln_op_table[op].shape(&ctx);
  for (int i = 0; !st && i < n_out; i++) {
    free(outs[i]->data);
    size_t bytes = kiln_tensor_nbytes(outs[i]);
    outs[i]->data = malloc(bytes + 1);
    memset(outs[i]->data, 0xA5, bytes + 1);
  }
  if (!st) st = kiln_op_table[op].reference(&ctx);
  kiln_test_tensors_free(in + 2, 4);
  return st;
}

/* ---- oracles ---- */

static double area_of(const float *b) {
  return fabs((double)b[2] - b[0]) * fabs((double)b[3] - b[1]);
}

/* IoU in double from the textbook definition (float-rounded at the end, as
 * the threshold compares in float). */
static float iou_ref(const float *a, const float *b) {
  double aa = area_of(a), ab = area_of(b);
  if (aa <= 0 || ab <= 0) return 0.0f;
  double iy = fmin(fmax(a[0], a[2]), fmax(b[0], b[2])) -
              fmax(fmin(a[0], a[2]), fmin(b[0], b[2]));
  double ix = fmin(fmax(a[1], a[3]), fmax(b[1], b[3])) -
              fmax(fmin(a[1], a[3]), fmin(b[1], b[3]));
  double inter = fmax(iy, 0.0) * fmax(ix, 0.0);
  return (float)(inter / (aa + ab - inter));
}

static int by_score_desc(const void *pa, const void *pb, void *scores) {
  const float *s = scores;
  float a = s[*(const int *)pa], b = s[*(const int *)pb];
  return (a < b) - (a > b);
}

/* Classic hard NMS; returns the count. */
static int greedy_nms(const float *boxes, const float *scores, int n,
                      int max_out, float iou_thr, float score_thr, int *sel) {
  int *order = malloc(sizeof(int) * (size_t)(n ? n : 1));
  for (int i = 0; i < n; i++) order[i] = i;
  /* insertion sort, descending by score (distinct scores) */
  for (int i = 1; i < n; i++)
    for (int j = i;
         j > 0 && by_score_desc(&order[j - 1], &order[j], (void *)scores) > 0;
         j--) {
      int t = order[j];
      order[j] = order[j - 1];
      order[j - 1] = t;
    }
  int count = 0;
  for (int k = 0; k < n && count < max_out; k++) {
    int i = order[k];
    if (!(scores[i] > score_thr)) continue;
    bool keep = true;
    for (int j = 0; j < count && keep; j++)
      if (iou_ref(boxes + 4 * i, boxes + 4 * sel[j]) >= iou_thr) keep = false;
    if (keep) sel[count++] = i;
  }
  free(order);
  return count;
}

/* TFLite's loop over an array: alive[i] says whether candidate i is queued;
 * the best score is found by scanning (distinct scores keep it unique). */
static int loop_nms(const float *boxes, const float *scores, int n, int max_out,
                    float iou_thr, float score_thr, float sigma, int *sel,
                    float *sel_scores) {
  float *cur = malloc(sizeof(float) * (size_t)(n ? n : 1));
  int *begin = calloc((size_t)(n ? n : 1), sizeof(int));
  bool *alive = calloc((size_t)(n ? n : 1), sizeof(bool));
  int queued = 0;
  for (int i = 0; i < n; i++) {
    cur[i] = scores[i];
    alive[i] = scores[i] > score_thr;
    queued += alive[i];
  }
  int wanted = queued < max_out ? queued : max_out, count = 0;
  float scale = sigma > 0 ? -0.5f / sigma : 0.0f;
  while (count < wanted && queued > 0) {
    int best = -1;
    for (int i = 0; i < n; i++)
      if (alive[i] && (best < 0 || cur[i] > cur[best])) best = i;
    alive[best] = false;
    queued--;
    float original = cur[best];
    bool hard = false;
    for (int j = count - 1; j >= begin[best]; j--) {
      float o = iou_ref(boxes + 4 * best, boxes + 4 * sel[j]);
      if (o >= iou_thr) {
        hard = true;
        break;
      }
      if (sigma > 0) cur[best] *= expf(scale * o * o);
      if (cur[best] <= score_thr) break;
    }
    begin[best] = count;
    if (hard) continue;
    if (cur[best] == original) {
      sel[count] = best;
      sel_scores[count] = cur[best];
      count++;
    }
    if (cur[best] > score_thr) {
      alive[best] = true;
      queued++;
    }
  }
  free(cur);
  free(begin);
  free(alive);
  return count;
}

/* Random boxes (corners in either order; `empty` of them without area) and
 * distinct scores in (0, 1). */
static void random_boxes(int n, int empty, kiln_tensor **boxes,
                         kiln_tensor **scores) {
  *boxes = kiln_test_tensor(KILN_FLOAT32, 2, (int64_t[]){n, 4});
  *scores = kiln_test_tensor(KILN_FLOAT32, 1, (int64_t[]){n});
  float *b = (*boxes)->data, *s = (*scores)->data;
  for (int i = 0; i < n; i++) {
    float y = kiln_test_uniform(0, 1), x = kiln_test_uniform(0, 1);
    float h = i < empty ? 0.0f : kiln_test_uniform(0.05f, 0.5f);
    float w = kiln_test_uniform(0.05f, 0.5f);
    bool swap = kiln_test_int(0, 1);
    b[4 * i + 0] = swap ? y + h : y;
    b[4 * i + 1] = swap ? x + w : x;
    b[4 * i + 2] = swap ? y : y + h;
    b[4 * i + 3] = swap ? x : x + w;
    s[i] = ((float)i + kiln_test_uniform(0.1f, 0.9f)) / (float)n;
  }
  /* shuffle the scores so index order says nothing */
  for (int i = n - 1; i > 0; i--) {
    int j = kiln_test_int(0, i);
    float t = s[i];
    s[i] = s[j];
    s[j] = t;
  }
}

static void check_padding(const kiln_tensor *idx, const float *sc, int count,
                          int max_out) {
  for (int i = count; i < max_out; i++) {
    CHECK(((const int32_t *)idx->data)[i] == 0);
    if (sc) CHECK(sc[i] == 0.0f);
  }
}

static void test_nms_hard(void) {
  for (int trial = 0; trial < 200; trial++) {
    int n = kiln_test_int(0, 60), max_out = kiln_test_int(0, 30);
    float iou = kiln_test_uniform(0.05f, 1.0f);
    float thr = kiln_test_int(0, 3) ? kiln_test_uniform(0, 0.8f) : -INFINITY;
    kiln_tensor *boxes, *scores, *outs[3];
    random_boxes(n, 0, &boxes, &scores);
    bool v5 = trial % 2;
    CHECK_OK(
        run_nms(boxes, scores, max_out, iou, thr, v5 ? 0.0f : -1.0f, outs));
    int sel[64];
    int count =
        greedy_nms(boxes->data, scores->data, n, max_out, iou, thr, sel);
    const int32_t *got = outs[0]->data;
    CHECK(outs[0]->rank == 1 && outs[0]->dims[0] == max_out);
    CHECK(*(const int32_t *)outs[v5 ? 2 : 1]->data == count);
    CHECK(memcmp(got, sel, sizeof(int32_t) * (size_t)count) == 0);
    const float *sc = v5 ? outs[1]->data : NULL;
    for (int i = 0; v5 && i < count; i++)
      CHECK(sc[i] == ((const float *)scores->data)[sel[i]]);
    check_padding(outs[0], sc, count, max_out);
    kiln_test_tensors_free(outs, v5 ? 3 : 2);
    kiln_test_tensor_free(boxes);
    kiln_test_tensor_free(scores);
  }
}

static void test_nms_soft_and_quirks(void) {
  for (int trial = 0; trial < 300; trial++) {
    int n = kiln_test_int(1, 40), max_out = kiln_test_int(1, 25);
    int kind = trial % 3; /* 0 soft, 1 empty boxes, 2 IoU above 1 */
    float iou = kind == 2 ? kiln_test_uniform(1.0f, 2.0f)
                          : kiln_test_uniform(0.2f, 1.0f);
    float sigma = kind == 1 ? 0.0f : kiln_test_uniform(0.0f, 1.0f);
    float thr = kiln_test_uniform(0.0f, 0.5f);
    kiln_tensor *boxes, *scores, *outs[3];
    random_boxes(n, kind == 1 ? n / 3 : 0, &boxes, &scores);
    /* every other trial without a pool, as constant folding runs it: the
     * heap is then on the kernel's stack */
    kiln_threadpool *saved_pool = pool;
    if (trial % 2) pool = NULL;
    CHECK_OK(run_nms(boxes, scores, max_out, iou, thr, sigma, outs));
    pool = saved_pool;
    int sel[32];
    float sel_sc[32];
    int count = loop_nms(boxes->data, scores->data, n, max_out, iou, thr, sigma,
                         sel, sel_sc);
    CHECK(*(const int32_t *)outs[2]->data == count);
    CHECK(memcmp(outs[0]->data, sel, sizeof(int32_t) * (size_t)count) == 0);
    const float *sc = outs[1]->data;
    /* the oracle's IoU is in double, the kernel's in float as TFLite's:
     * decayed scores agree to a few roundings */
    for (int i = 0; i < count; i++)
      CHECK(fabsf(sc[i] - sel_sc[i]) <= 1e-6f * sel_sc[i]);
    check_padding(outs[0], sc, count, max_out);
    kiln_test_tensors_free(outs, 3);
    kiln_test_tensor_free(boxes);
    kiln_test_tensor_free(scores);
  }
}

static void test_nms_errors(void) {
  kiln_tensor *boxes, *scores, *outs[3];
  random_boxes(5, 0, &boxes, &scores);
  CHECK_ERROR(run_nms(boxes, scores, -1, 0.5f, 0.0f, -1.0f, outs),
              KILN_ERR_INVALID_ARGUMENT,
              "input 2 (max_output_size) is -1; it must be >= 0");
  kiln_test_tensors_free(outs, 2);
  scores->dims[0] = 4;
  CHECK_ERROR(run_nms(boxes, scores, 3, 0.5f, 0.0f, 0.1f, outs),
              KILN_ERR_INVALID_MODEL,
              "input 1 (scores) must have shape [5] (one per box), has [4]");
  kiln_test_tensors_free(outs, 3);
  scores->dims[0] = 5;
  boxes->dims[1] = 3;
  CHECK_ERROR(run_nms(boxes, scores, 3, 0.5f, 0.0f, -1.0f, outs),
              KILN_ERR_INVALID_MODEL,
              "input 0 (boxes) must have shape [N, 4], has [5,3]");
  kiln_test_tensors_free(outs, 2);
  boxes->dims[1] = 4;
  boxes->dtype = KILN_INT32;
  CHECK_ERROR(run_nms(boxes, scores, 3, 0.5f, 0.0f, -1.0f, outs),
              KILN_ERR_UNSUPPORTED,
              "input 0 (boxes) has type int32; expected float32");
  kiln_test_tensors_free(outs, 2);
  boxes->dtype = KILN_FLOAT32;

  /* max_output_size unknown at prepare, a threshold not a scalar, wrong
   * output types, wrong counts, and no pool for the scratch */
  int32_t three = 3;
  kiln_tensor *in[6] = {boxes,
                        scores,
                        kiln_test_tensor_i32(0, (int64_t[]){1}, &three),
                        scalar_f32(0.5f),
                        scalar_f32(0.1f),
                        scalar_f32(0.2f)};
  kiln_tensor *o[3] = {kiln_test_tensor(KILN_INT32, 1, (int64_t[]){1}),
                       kiln_test_tensor(KILN_FLOAT32, 1, (int64_t[]){1}),
                       kiln_test_tensor(KILN_INT32, 1, (int64_t[]){1})};
  kiln_op_ctx ctx = {NULL, in, 6, o, 3, NULL, pool, NULL};
  const kiln_shape_fn shape =
      kiln_op_table[KILN_OP_NON_MAX_SUPPRESSION_V5].shape;
  CHECK_OK(shape(&ctx));
  void *saved = in[2]->data;
  in[2]->data = NULL;
  CHECK_ERROR(shape(&ctx), KILN_ERR_UNSUPPORTED,
              "input 2 (max_output_size) must be known before invoke");
  in[2]->data = saved;
  in[3]->rank = 1;
  in[3]->dims[0] = 2;
  CHECK_ERROR(shape(&ctx), KILN_ERR_INVALID_MODEL,
              "input 3 (iou_threshold) must be a scalar, has shape [2]");
  in[3]->dims[0] = 1;
  o[1]->dtype = KILN_INT32;
  CHECK_ERROR(shape(&ctx), KILN_ERR_INVALID_MODEL,
              "output 1 (selected_scores) has type int32; expected float32");
  o[1]->dtype = KILN_FLOAT32;
  ctx.num_outputs = 2;
  CHECK_ERROR(shape(&ctx), KILN_ERR_INVALID_MODEL, "output");
  ctx.num_outputs = 3;
  ctx.num_inputs = 4;
  CHECK_ERROR(shape(&ctx), KILN_ERR_INVALID_MODEL,
              "has 4 inputs; expected 5 (V4) or 6 (V5)");
  ctx.num_inputs = 6;
  /* no pool (constant folding): up to 256 boxes on the stack */
  ctx.pool = NULL;
  CHECK_OK(shape(&ctx));
  boxes->dims[0] = scores->dims[0] = 257;
  CHECK_ERROR(shape(&ctx), KILN_ERR_UNSUPPORTED,
              "needs scratch memory for its 257 candidates");
  boxes->dims[0] = scores->dims[0] = 5;
  kiln_test_tensors_free(in + 2, 4);
  kiln_test_tensors_free(o, 3);
  kiln_test_tensor_free(boxes);
  kiln_test_tensor_free(scores);
}

/* --------------------------------------------------------------- BUCKETIZE */

static void test_bucketize_random(void) {
  const kiln_dtype types[4] = {KILN_FLOAT32, KILN_FLOAT64, KILN_INT32,
                               KILN_INT64};
  for (int trial = 0; trial < 200; trial++) {
    int count = kiln_test_int(0, 12);
    float bounds[12];
    for (int i = 0; i < count; i++)
      bounds[i] = (float)kiln_test_int(-8, 8) * 0.5f;
    /* sort (duplicates allowed) */
    for (int i = 1; i < count; i++)
      for (int j = i; j > 0 && bounds[j] < bounds[j - 1]; j--) {
        float t = bounds[j];
        bounds[j] = bounds[j - 1];
        bounds[j - 1] = t;
      }
    kiln_bucketize_attrs attrs = {(const unsigned char *)bounds, count};
    kiln_dtype t = types[trial % 4];
    tshape s = random_tshape(4, 10);
    kiln_tensor *x = tensor_of(t, &s);
    int64_t n = tshape_numel(&s);
    for (int64_t i = 0; i < n; i++) {
      double v = kiln_test_int(0, 2) ? kiln_test_int(-5, 5) * 0.5
                                     : kiln_test_uniform(-6, 6);
      if (t == KILN_FLOAT64)
        ((double *)x->data)[i] = v;
      else
        setv(x, i, v);
    }
    kiln_tensor *out = kiln_test_tensor(KILN_INT32, 1, (int64_t[]){1});
    CHECK_OK(run_poisoned(KILN_OP_BUCKETIZE, &attrs, &x, 1, out));
    CHECK(tensor_has_tshape(out, &s));
    for (int64_t i = 0; i < n; i++) {
      double v = t == KILN_FLOAT64 ? ((double *)x->data)[i] : getd(x, i);
      int32_t want = 0;
      for (int k = 0; k < count; k++) want += bounds[k] <= v;
      CHECK(((int32_t *)out->data)[i] == want);
    }
    kiln_test_tensor_free(out);
    kiln_test_tensor_free(x);
  }
}

static void test_bucketize_errors(void) {
  float bounds[3] = {0.0f, 2.0f, 1.0f};
  kiln_bucketize_attrs attrs = {(const unsigned char *)bounds, 3};
  int64_t d[1] = {4};
  kiln_tensor *x = kiln_test_tensor_f32(1, d, NULL);
  kiln_tensor *out = kiln_test_tensor(KILN_INT32, 1, d);
  CHECK_ERROR(shape_only(KILN_OP_BUCKETIZE, &attrs, &x, 1, out),
              KILN_ERR_INVALID_MODEL,
              "boundaries must be sorted ascending, but boundary 2 (1) is "
              "below boundary 1 (2)");
  attrs.count = 2;
  CHECK_OK(shape_only(KILN_OP_BUCKETIZE, &attrs, &x, 1, out));
  x->dtype = KILN_INT8;
  CHECK_ERROR(shape_only(KILN_OP_BUCKETIZE, &attrs, &x, 1, out),
              KILN_ERR_UNSUPPORTED, "input 0 (x) has type int8");
  x->dtype = KILN_FLOAT32;
  out->dtype = KILN_INT64;
  CHECK_ERROR(shape_only(KILN_OP_BUCKETIZE, &attrs, &x, 1, out),
              KILN_ERR_INVALID_MODEL,
              "output 0 has type int64; expected int32");
  attrs.boundaries = NULL;
  CHECK_ERROR(shape_only(KILN_OP_BUCKETIZE, &attrs, &x, 1, out),
              KILN_ERR_INVALID_MODEL, "has 2 boundaries but no data");
  kiln_test_tensor_free(out);
  kiln_test_tensor_free(x);
}

int main(void) {
  kiln_test_seed(0x9a55);
  kiln_status *st = kiln_threadpool_create(1, NULL, &pool);
  CHECK_OK(st);
  test_nms_hard();
  test_nms_soft_and_quirks();
  test_nms_errors();
  test_bucketize_random();
  test_bucketize_errors();
  kiln_threadpool_free(pool);
  return kiln_test_finish("test_ref_nms_bucketize");
}
