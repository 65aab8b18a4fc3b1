/* detection_postprocess.c - TFLite_Detection_PostProcess, the SSD head
 * LiteRT runs as a built-in custom operator: decodes box encodings against
 * anchors and keeps the best non-overlapping boxes (non-max suppression).
 *
 * Inputs: box_encodings [1,N,>=4] (y, x, h, w per box), class_predictions
 * [1,N,C'] (C' = num_classes, or one more with a background class first),
 * anchors [N,4] (y, x, h, w), all float32. Outputs, float32: boxes
 * [1,M,4] (ymin, xmin, ymax, xmax), classes [1,M], scores [1,M] and the
 * count [1], M = max_detections * max_classes_per_detection. Options are a
 * FlexBuffers map (formats/tflite/flexbuffer.c).
 *
 * As TFLite's kernel: boxes decode in double and round to float; a box is
 * a candidate when its score >= nms_score_threshold; candidates go in
 * decreasing score, ties in index order (a stable sort); a candidate is
 * dropped when its IoU with a kept one exceeds nms_iou_threshold (IoU 0
 * when either box has no area). Fast NMS (the default) ranks each anchor
 * by its best class and reports its max_classes_per_detection best
 * classes; regular NMS suppresses per class (detections_per_class each)
 * and keeps the max_detections best over all classes. Slots past the count
 * are zero (TFLite leaves them as they were). Scratch comes from the
 * session, so invoke allocates nothing. */
#include <math.h>
#include <string.h>

#include "formats/tflite/flexbuffer.h"
#include "kernels/custom/builtins.h"
#include "kernels/custom/custom_util.h"

typedef struct options {
  int max_detections, max_classes_per_detection, detections_per_class;
  bool use_regular_nms;
  float score_threshold, iou_threshold;
  int num_classes;
  float y_scale, x_scale, h_scale, w_scale;
} options;

/* Reads `key`; a missing required key is an error, an optional one keeps
 * *out. Integers must be whole and within [lo, hi]. */
static kiln_status *number(const kiln_flex_map *m, const char *key,
                           bool required, double lo, double hi, bool whole,
                           double *out) {
  bool found = false;
  double v = 0;
  KILN_TRY(kiln_flex_map_number(m, key, &found, &v));
  if (!found) {
    if (required)
      return kiln_error(KILN_ERR_INVALID_MODEL, "'%s' is missing", key);
    return NULL;
  }
  if (!(v >= lo && v <= hi) || (whole && v != floor(v)))
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "'%s' is %g; expected %s from %g to %g", key, v,
                      whole ? "an integer" : "a number", lo, hi);
  *out = v;
  return NULL;
}

static kiln_status *read_options(const void *bytes, size_t size, options *o) {
  kiln_flex_map m;
  KILN_TRY(kiln_flex_root_map(bytes, size, &m));
  const double big = 1 << 20;
  double v[11] = {0, 0, 100, 0, 0, 0, 0, 0, 0, 0, 0};
  KILN_TRY(number(&m, "max_detections", true, 0, big, true, &v[0]));
  KILN_TRY(number(&m, "max_classes_per_detection", true, 1, big, true, &v[1]));
  KILN_TRY(number(&m, "detections_per_class", false, 1, big, true, &v[2]));
  KILN_TRY(number(&m, "use_regular_nms", false, 0, 1, true, &v[3]));
  KILN_TRY(number(&m, "nms_score_threshold", true, -HUGE_VAL, HUGE_VAL, false,
                  &v[4]));
  /* TFLite requires 0 < threshold <= 1. */
  KILN_TRY(number(&m, "nms_iou_threshold", true, 1e-30, 1, false, &v[5]));
  KILN_TRY(number(&m, "num_classes", true, 1, big, true, &v[6]));
  const char *scales[4] = {"y_scale", "x_scale", "h_scale", "w_scale"};
  for (int i = 0; i < 4; i++)
    KILN_TRY(
        number(&m, scales[i], true, -HUGE_VAL, HUGE_VAL, false, &v[7 + i]));
  o->max_detections = (int)v[0];
  o->max_classes_per_detection = (int)v[1];
  o->detections_per_class = (int)v[2];
  o->use_regular_nms = v[3] != 0;
  o->score_threshold = (float)v[4];
  o->iou_threshold = (float)v[5];
  o->num_classes = (int)v[6];
  o->y_scale = (float)v[7];
  o->x_scale = (float)v[8];
  o->h_scale = (float)v[9];
  o->w_scale = (float)v[10];
  return NULL;
}

static kiln_status *init(void *user, const void *bytes, size_t size,
                         void **state) {
  (void)user;
  options o;
  *state = NULL;
  return read_options(bytes, size, &o);
}

static kiln_status *options_of(const kiln_custom_context *ctx, options *o) {
  size_t size;
  const void *bytes = kiln_custom_options(ctx, &size);
  return read_options(bytes, size, o);
}

/* The layout of the scratch memory for N boxes and the options. */
typedef struct scratch_layout {
  size_t boxes, scores, keep, order, merge, active, classes, pool_index,
      pool_score, sort_tmp, new_index, new_score, bytes;
} scratch_layout;

static size_t place(size_t *cursor, size_t bytes) {
  size_t at = *cursor;
  *cursor += (bytes + 63) & ~(size_t)63;
  return at;
}

static scratch_layout layout(int64_t n, const options *o) {
  scratch_layout l;
  size_t c = 0, un = (size_t)n;
  size_t cats = (size_t)(o->max_classes_per_detection < o->num_classes
                             ? o->max_classes_per_detection
                             : o->num_classes);
  size_t pool = un + (size_t)o->max_detections;
  l.boxes = place(&c, un * 4 * sizeof(float));
  l.scores = place(&c, un * sizeof(float));
  l.keep = place(&c, un * sizeof(int32_t));
  l.order = place(&c, un * sizeof(int32_t));
  l.merge = place(&c, pool * sizeof(int32_t));
  l.active = place(&c, un);
  l.classes = place(&c, un * cats * sizeof(int32_t));
  l.pool_index = place(&c, pool * sizeof(int32_t));
  l.pool_score = place(&c, pool * sizeof(float));
  l.sort_tmp = place(&c, pool * sizeof(int32_t));
  l.new_index = place(&c, pool * sizeof(int32_t));
  l.new_score = place(&c, pool * sizeof(float));
  l.bytes = c;
  return l;
}

static kiln_status *prepare(kiln_custom_context *ctx) {
  options o;
  KILN_TRY(options_of(ctx, &o));
  KILN_TRY(kiln_custom_check_io(ctx, 3, 4));
  const kiln_custom_tensor *enc = kiln_custom_input(ctx, 0);
  const kiln_custom_tensor *cls = kiln_custom_input(ctx, 1);
  const kiln_custom_tensor *anchors = kiln_custom_input(ctx, 2);
  const char *roles[3] = {"box_encodings", "class_predictions", "anchors"};
  for (int i = 0; i < 3; i++)
    if (kiln_custom_input(ctx, i)->dtype != KILN_FLOAT32)
      return kiln_error(
          KILN_ERR_UNSUPPORTED, "input %d (%s) is %s; kiln runs float32 only",
          i, roles[i], kiln_dtype_name(kiln_custom_input(ctx, i)->dtype));
  if (enc->rank != 3 || enc->dims[0] != 1 || enc->dims[2] < 4)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 0 (box_encodings) must be [1, boxes, >=4]");
  int64_t n = enc->dims[1];
  if (n > (1 << 24))
    return kiln_error(KILN_ERR_UNSUPPORTED, "%lld boxes; kiln takes up to %d",
                      (long long)n, 1 << 24);
  if (cls->rank != 3 || cls->dims[0] != 1 || cls->dims[1] != n)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 1 (class_predictions) must be [1, %lld, classes]",
                      (long long)n);
  int64_t background = cls->dims[2] - o.num_classes;
  if (background != 0 && background != 1)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 1 (class_predictions) has %lld classes; "
                      "num_classes %d allows %d or %d",
                      (long long)cls->dims[2], o.num_classes, o.num_classes,
                      o.num_classes + 1);
  if (anchors->rank != 2 || anchors->dims[0] != n || anchors->dims[1] != 4)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 2 (anchors) must be [%lld, 4]", (long long)n);
  int64_t m = (int64_t)o.max_detections * o.max_classes_per_detection;
  if (m > (1 << 24))
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "max_detections x max_classes_per_detection is %lld",
                      (long long)m);
  const int64_t shapes[4][3] = {{1, m, 4}, {1, m, 0}, {1, m, 0}, {1, 0, 0}};
  const int ranks[4] = {3, 2, 2, 1};
  for (int i = 0; i < 4; i++) {
    kiln_custom_tensor *out = kiln_custom_output(ctx, i);
    if (out->dtype != KILN_FLOAT32)
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "output %d is %s; TFLite_Detection_PostProcess "
                        "writes float32",
                        i, kiln_dtype_name(out->dtype));
    out->rank = ranks[i];
    memcpy(out->dims, shapes[i], sizeof shapes[i]);
  }
  return kiln_custom_request_scratch(ctx, layout(n, &o).bytes);
}

/* --------------------------------------------------------------- invoke */

typedef struct box {
  float ymin, xmin, ymax, xmax;
} box;

static float iou(const box *a, const box *b) {
  const float area_a = (a->ymax - a->ymin) * (a->xmax - a->xmin);
  const float area_b = (b->ymax - b->ymin) * (b->xmax - b->xmin);
  if (area_a <= 0 || area_b <= 0) return 0.0f;
  const float ih = fminf(a->ymax, b->ymax) - fmaxf(a->ymin, b->ymin);
  const float iw = fminf(a->xmax, b->xmax) - fmaxf(a->xmin, b->xmin);
  const float inter = fmaxf(ih, 0.0f) * fmaxf(iw, 0.0f);
  return inter / (area_a + area_b - inter);
}

/* Sorts idx[0..count) by key[idx] decreasing, stably (a bottom-up merge
 * sort through tmp). */
static void sort_decreasing(int32_t *idx, int32_t *tmp, int64_t count,
                            const float *key) {
  for (int64_t width = 1; width < count; width *= 2) {
    for (int64_t lo = 0; lo < count; lo += 2 * width) {
      int64_t mid = lo + width < count ? lo + width : count;
      int64_t hi = lo + 2 * width < count ? lo + 2 * width : count;
      int64_t a = lo, b = mid, k = lo;
      while (a < mid && b < hi)
        tmp[k++] = key[idx[b]] > key[idx[a]] ? idx[b++] : idx[a++];
      while (a < mid) tmp[k++] = idx[a++];
      while (b < hi) tmp[k++] = idx[b++];
    }
    memcpy(idx, tmp, (size_t)count * sizeof *idx);
  }
}

typedef struct run {
  const options *o;
  const scratch_layout *l;
  uint8_t *scratch;
  const box *boxes;
  int64_t n;
} run;

/* Greedy NMS over `scores` (one per box): writes the kept boxes' indices,
 * best first, to selected; returns how many (at most `limit`). */
static int64_t nms(const run *r, const float *scores, int64_t limit,
                   int32_t *selected) {
  int32_t *keep = (int32_t *)(void *)(r->scratch + r->l->keep);
  int32_t *tmp = (int32_t *)(void *)(r->scratch + r->l->order);
  uint8_t *active = r->scratch + r->l->active;
  int64_t kept = 0;
  for (int64_t i = 0; i < r->n; i++)
    if (scores[i] >= r->o->score_threshold) keep[kept++] = (int32_t)i;
  sort_decreasing(keep, tmp, kept, scores);
  memset(active, 1, (size_t)kept);
  int64_t count = 0, remaining = kept;
  if (limit > kept) limit = kept;
  for (int64_t i = 0; i < kept && remaining > 0 && count < limit; i++) {
    if (!active[i]) continue;
    selected[count++] = keep[i];
    active[i] = 0;
    remaining--;
    for (int64_t j = i + 1; j < kept; j++)
      if (active[j] &&
          iou(&r->boxes[keep[i]], &r->boxes[keep[j]]) > r->o->iou_threshold) {
        active[j] = 0;
        remaining--;
      }
  }
  return count;
}

/* Indices of the k best of values[0..count), best first; of equal values
 * the first (an insertion into a sorted list of k). */
static void top_k(const float *values, int count, int k, int32_t *out) {
  int have = 0;
  for (int c = 0; c < count; c++) {
    int at = have;
    while (at > 0 && values[c] > values[out[at - 1]]) at--;
    if (at >= k) continue;
    int last = have < k ? have : k - 1;
    for (int t = last; t > at; t--) out[t] = out[t - 1];
    out[at] = c;
    if (have < k) have++;
  }
}

static void write_detection(float *boxes, float *classes, float *scores,
                            int64_t slot, const box *b, int cls, float score) {
  boxes[4 * slot + 0] = b->ymin;
  boxes[4 * slot + 1] = b->xmin;
  boxes[4 * slot + 2] = b->ymax;
  boxes[4 * slot + 3] = b->xmax;
  classes[slot] = (float)cls;
  scores[slot] = score;
}

static int64_t fast_nms(const run *r, const float *pred, int64_t width,
                        int label_offset, float *boxes, float *classes,
                        float *scores) {
  const options *o = r->o;
  int cats = o->max_classes_per_detection < o->num_classes
                 ? o->max_classes_per_detection
                 : o->num_classes;
  float *best = (float *)(void *)(r->scratch + r->l->scores);
  int32_t *top = (int32_t *)(void *)(r->scratch + r->l->classes);
  int32_t *selected = (int32_t *)(void *)(r->scratch + r->l->merge);
  for (int64_t i = 0; i < r->n; i++) {
    const float *row = pred + i * width + label_offset;
    top_k(row, o->num_classes, cats, top + i * cats);
    best[i] = row[top[i * cats]];
  }
  int64_t count = nms(r, best, o->max_detections, selected);
  for (int64_t s = 0; s < count; s++) {
    int32_t i = selected[s];
    const float *row = pred + i * width + label_offset;
    for (int c = 0; c < cats; c++) {
      int cls = top[i * cats + c];
      write_detection(boxes, classes, scores,
                      (int64_t)o->max_classes_per_detection * s + c,
                      &r->boxes[i], cls, row[cls]);
    }
  }
  return count;
}

static int64_t regular_nms(const run *r, const float *pred, int64_t width,
                           int label_offset, float *boxes, float *classes,
                           float *scores) {
  const options *o = r->o;
  float *class_scores = (float *)(void *)(r->scratch + r->l->scores);
  int32_t *selected = (int32_t *)(void *)(r->scratch + r->l->classes);
  int32_t *pool = (int32_t *)(void *)(r->scratch + r->l->pool_index);
  float *pool_score = (float *)(void *)(r->scratch + r->l->pool_score);
  int32_t *order = (int32_t *)(void *)(r->scratch + r->l->merge);
  int32_t *tmp = (int32_t *)(void *)(r->scratch + r->l->sort_tmp);
  int32_t *new_index = (int32_t *)(void *)(r->scratch + r->l->new_index);
  float *new_score = (float *)(void *)(r->scratch + r->l->new_score);
  /* pool holds box * width + class entries: the best so far, then this
   * class's kept boxes; each round keeps the max_detections best. */
  int64_t pooled = 0;
  for (int c = 0; c < o->num_classes; c++) {
    for (int64_t i = 0; i < r->n; i++)
      class_scores[i] = pred[i * width + c + label_offset];
    int64_t count = nms(r, class_scores, o->detections_per_class, selected);
    for (int64_t s = 0; s < count; s++) {
      pool[pooled + s] = (int32_t)(selected[s] * width + c + label_offset);
      pool_score[pooled + s] = class_scores[selected[s]];
    }
    int64_t total = pooled + count;
    int64_t keep = total < o->max_detections ? total : o->max_detections;
    for (int64_t k = 0; k < total; k++) order[k] = (int32_t)k;
    sort_decreasing(order, tmp, total, pool_score);
    for (int64_t k = 0; k < keep; k++) {
      new_index[k] = pool[order[k]];
      new_score[k] = pool_score[order[k]];
    }
    memcpy(pool, new_index, (size_t)keep * sizeof *pool);
    memcpy(pool_score, new_score, (size_t)keep * sizeof *pool_score);
    pooled = keep;
  }
  for (int64_t k = 0; k < pooled; k++) {
    int64_t anchor = pool[k] / width;
    int cls = (int)(pool[k] - anchor * width - label_offset);
    write_detection(boxes, classes, scores, k, &r->boxes[anchor], cls,
                    pool_score[k]);
  }
  return pooled;
}

static kiln_status *invoke(kiln_custom_context *ctx) {
  options o;
  KILN_TRY(options_of(ctx, &o));
  const kiln_custom_tensor *enc = kiln_custom_input(ctx, 0);
  const kiln_custom_tensor *cls = kiln_custom_input(ctx, 1);
  const float *anchors = kiln_custom_input(ctx, 2)->data;
  const int64_t n = enc->dims[1], stride = enc->dims[2], width = cls->dims[2];
  scratch_layout l = layout(n, &o);
  uint8_t *scratch = kiln_custom_scratch(ctx);
  if (!scratch && l.bytes)
    return kiln_error(KILN_ERR_INTERNAL, "no scratch memory");
  box *decoded = (box *)(void *)(scratch + l.boxes);
  const float *e = enc->data;
  for (int64_t i = 0; i < n; i++) {
    const float *b = e + i * stride, *a = anchors + 4 * i;
    float yc = (float)((double)b[0] / o.y_scale * a[2] + a[0]);
    float xc = (float)((double)b[1] / o.x_scale * a[3] + a[1]);
    float hh = (float)(0.5 * exp((double)b[2] / o.h_scale) * a[2]);
    float hw = (float)(0.5 * exp((double)b[3] / o.w_scale) * a[3]);
    decoded[i] = (box){yc - hh, xc - hw, yc + hh, xc + hw};
    if (decoded[i].ymin > decoded[i].ymax || decoded[i].xmin > decoded[i].xmax)
      return kiln_error(KILN_ERR_RUNTIME,
                        "box %lld decodes to ymin %g > ymax %g or xmin %g > "
                        "xmax %g (a negative anchor size?)",
                        (long long)i, decoded[i].ymin, decoded[i].ymax,
                        decoded[i].xmin, decoded[i].xmax);
  }
  float *boxes = kiln_custom_output(ctx, 0)->data;
  float *classes = kiln_custom_output(ctx, 1)->data;
  float *scores = kiln_custom_output(ctx, 2)->data;
  float *count = kiln_custom_output(ctx, 3)->data;
  int64_t m = kiln_custom_output(ctx, 1)->dims[1];
  memset(boxes, 0, (size_t)m * 4 * sizeof(float));
  memset(classes, 0, (size_t)m * sizeof(float));
  memset(scores, 0, (size_t)m * sizeof(float));
  run r = {&o, &l, scratch, decoded, n};
  int label_offset = (int)(width - o.num_classes);
  int64_t found = o.use_regular_nms
                      ? regular_nms(&r, cls->data, width, label_offset, boxes,
                                    classes, scores)
                      : fast_nms(&r, cls->data, width, label_offset, boxes,
                                 classes, scores);
  count[0] = (float)found;
  return NULL;
}

const kiln_custom_op kiln_custom_detection_postprocess = {
    sizeof(kiln_custom_op),
    "TFLite_Detection_PostProcess",
    NULL,
    init,
    NULL,
    prepare,
    invoke};
