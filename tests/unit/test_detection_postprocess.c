/* test_detection_postprocess.c - TFLite_Detection_PostProcess on models
 * built in C (options written by a small FlexBuffers map writer here),
 * against an independent computation on random anchors and scores: NMS as
 * "repeatedly take the best candidate left, drop what overlaps it", and
 * regular NMS as a global stable top-k of the per-class results; and every
 * missing or bad option and shape as a clear error.
 *
 * `test_detection_postprocess --write-corpus DIR` writes a fuzzing seed. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "formats/tflite/tflite_schema.h"
#include "harness.h"
#include "kiln.h"
#include "tflite_builder.c"

/* ------------------------------------------- a FlexBuffers map writer */

typedef struct flex_entry {
  const char *key;
  char kind; /* 'i' int, 'f' float (double), 'b' bool, 's' string */
  double value;
} flex_entry;

static void put(uint8_t *buf, size_t *len, uint64_t v, unsigned width) {
  for (unsigned i = 0; i < width; i++) buf[(*len)++] = (uint8_t)(v >> (8 * i));
}

/* A root map of 8-byte values; returns its size. */
static size_t flex_map(const flex_entry *e, int count, uint8_t *buf) {
  size_t len = 0, key_at[32], str_at[32];
  for (int i = 0; i < count; i++) {
    key_at[i] = len;
    memcpy(buf + len, e[i].key, strlen(e[i].key) + 1);
    len += strlen(e[i].key) + 1;
    if (e[i].kind == 's') {
      str_at[i] = len + 8;
      put(buf, &len, 1, 8); /* string length */
      buf[len++] = 'x';
      buf[len++] = 0;
    }
  }
  while (len % 8) buf[len++] = 0;
  put(buf, &len, (uint64_t)count, 8); /* keys vector length */
  size_t keys = len;
  for (int i = 0; i < count; i++) put(buf, &len, len - key_at[i], 8);
  put(buf, &len, len - keys, 8); /* map: offset to the keys */
  put(buf, &len, 8, 8);          /* their width */
  put(buf, &len, (uint64_t)count, 8);
  size_t values = len;
  uint8_t types[32];
  for (int i = 0; i < count; i++) {
    uint64_t bits = 0;
    switch (e[i].kind) {
      case 'i':
        bits = (uint64_t)(int64_t)e[i].value;
        types[i] = 1 << 2 | 3;
        break;
      case 'f':
        memcpy(&bits, &e[i].value, 8);
        types[i] = 3 << 2 | 3;
        break;
      case 'b':
        bits = e[i].value != 0;
        types[i] = 26 << 2 | 3;
        break;
      default:
        bits = len - str_at[i];
        types[i] = 5 << 2 | 3;
    }
    put(buf, &len, bits, 8);
  }
  memcpy(buf + len, types, (size_t)count);
  len += (size_t)count;
  put(buf, &len, len - values, 8); /* root: offset to the map */
  buf[len++] = 9 << 2 | 3;
  buf[len++] = 8;
  return len;
}

/* ------------------------------------------------------------ model */

typedef struct det_options {
  int max_detections, max_classes, per_class, regular, num_classes;
  double score_threshold, iou_threshold, scale[4];
} det_options;

static size_t det_flex(const det_options *o, uint8_t *buf) {
  flex_entry e[11] = {
      {"max_detections", 'i', o->max_detections},
      {"max_classes_per_detection", 'i', o->max_classes},
      {"detections_per_class", 'i', o->per_class},
      {"use_regular_nms", 'b', o->regular},
      {"nms_score_threshold", 'f', o->score_threshold},
      {"nms_iou_threshold", 'f', o->iou_threshold},
      {"num_classes", 'i', o->num_classes},
      {"y_scale", 'f', o->scale[0]},
      {"x_scale", 'f', o->scale[1]},
      {"h_scale", 'f', o->scale[2]},
      {"w_scale", 'f', o->scale[3]},
  };
  return flex_map(e, 11, buf);
}

static uint8_t *det_model(int n, int width, int m, const float *anchors,
                          const void *options, size_t options_size,
                          size_t *size) {
  tb_model mo;
  memset(&mo, 0, sizeof mo);
  mo.num_opcodes = 1;
  mo.opcodes[0] =
      (tb_opcode){TFL_OP_CUSTOM, TFL_OP_CUSTOM, "TFLite_Detection_PostProcess"};
  const char *names[7] = {"enc",     "cls",    "anchors", "boxes",
                          "classes", "scores", "count"};
  const int32_t shapes[7][3] = {{1, n, 4}, {1, n, width}, {n, 4}, {1, m, 4},
                                {1, m},    {1, m},        {1}};
  const int ranks[7] = {3, 3, 2, 3, 2, 2, 1};
  mo.num_tensors = 7;
  for (int i = 0; i < 7; i++) {
    tb_tensor *t = &mo.tensors[i];
    t->name = names[i];
    t->type = TFL_TYPE_FLOAT32;
    t->rank = ranks[i];
    memcpy(t->shape, shapes[i], sizeof(int32_t) * (size_t)ranks[i]);
  }
  mo.tensors[2].buffer = 1;
  mo.num_buffers = 2;
  mo.buffers[1] = (tb_buffer){.data = anchors, .size = (size_t)n * 16};
  mo.num_inputs = 2;
  mo.inputs[0] = 0;
  mo.inputs[1] = 1;
  mo.num_outputs = 4;
  mo.num_operators = 1;
  tb_operator *op = &mo.operators[0];
  op->num_inputs = 3;
  op->num_outputs = 4;
  for (int i = 0; i < 3; i++) op->inputs[i] = i;
  for (int i = 0; i < 4; i++) op->outputs[i] = mo.outputs[i] = 3 + i;
  op->custom_options = options;
  op->custom_options_size = options_size;
  return tb_build(&mo, size);
}

/* ------------------------------------------------------------ oracle */

typedef struct det {
  int anchor, cls;
  float score;
} det;

static float box_iou(const float *a, const float *b) {
  float area_a = (a[2] - a[0]) * (a[3] - a[1]);
  float area_b = (b[2] - b[0]) * (b[3] - b[1]);
  if (area_a <= 0 || area_b <= 0) return 0;
  float ih = fminf(a[2], b[2]) - fmaxf(a[0], b[0]);
  float iw = fminf(a[3], b[3]) - fmaxf(a[1], b[1]);
  float inter = fmaxf(ih, 0) * fmaxf(iw, 0);
  return inter / (area_a + area_b - inter);
}

/* Picks the best candidate left (lowest index among equals) until `limit`
 * are kept; each pick removes the candidates overlapping it. */
static int greedy(const float *score, const float *boxes, int n,
                  const det_options *o, int limit, int *kept) {
  char *alive = malloc((size_t)n + 1);
  for (int i = 0; i < n; i++) alive[i] = score[i] >= (float)o->score_threshold;
  int count = 0;
  while (count < limit) {
    int best = -1;
    for (int i = 0; i < n; i++)
      if (alive[i] && (best < 0 || score[i] > score[best])) best = i;
    if (best < 0) break;
    kept[count++] = best;
    alive[best] = 0;
    for (int i = 0; i < n; i++)
      if (alive[i] &&
          box_iou(boxes + 4 * best, boxes + 4 * i) > (float)o->iou_threshold)
        alive[i] = 0;
  }
  free(alive);
  return count;
}

static void test_against_oracle(void) {
  kiln_test_seed(31);
  for (int round = 0; round < 40; round++) {
    det_options o = {kiln_test_int(1, 12),          kiln_test_int(1, 3),
                     kiln_test_int(1, 6),           round % 2,
                     kiln_test_int(1, 5),           kiln_test_uniform(0, 0.6f),
                     kiln_test_uniform(0.2f, 0.8f), {10, 10, 5, 5}};
    int n = kiln_test_int(1, 120), bg = kiln_test_int(0, 1);
    int width = o.num_classes + bg, m = o.max_detections * o.max_classes;
    float *anchors = malloc((size_t)n * 16), *enc = malloc((size_t)n * 16);
    float *cls = malloc((size_t)n * width * 4), *boxes = malloc((size_t)n * 16);
    for (int i = 0; i < n; i++) {
      anchors[4 * i + 0] = kiln_test_uniform(0, 1);
      anchors[4 * i + 1] = kiln_test_uniform(0, 1);
      anchors[4 * i + 2] = kiln_test_uniform(0.05f, 0.5f);
      anchors[4 * i + 3] = kiln_test_uniform(0.05f, 0.5f);
    }
    kiln_test_fill(enc, 4 * n, -1, 1);
    kiln_test_fill(cls, (int64_t)n * width, 0, 1);
    for (int i = 0; i < n; i++) {
      const float *e = enc + 4 * i, *a = anchors + 4 * i;
      float yc = (float)((double)e[0] / 10 * a[2] + a[0]);
      float xc = (float)((double)e[1] / 10 * a[3] + a[1]);
      float hh = (float)(0.5 * exp((double)e[2] / 5) * a[2]);
      float hw = (float)(0.5 * exp((double)e[3] / 5) * a[3]);
      float *b = boxes + 4 * i;
      b[0] = yc - hh, b[1] = xc - hw, b[2] = yc + hh, b[3] = xc + hw;
    }
    /* The expected detections, slot by slot. */
    det *want = calloc((size_t)m + 1, sizeof(det));
    int *kept = malloc(sizeof(int) * ((size_t)n + 1));
    float *col = malloc(sizeof(float) * ((size_t)n + 1));
    int found = 0;
    if (!o.regular) {
      int cats = o.max_classes < o.num_classes ? o.max_classes : o.num_classes;
      for (int i = 0; i < n; i++) {
        col[i] = cls[(size_t)i * width + bg];
        for (int c = 1; c < o.num_classes; c++)
          col[i] = fmaxf(col[i], cls[(size_t)i * width + bg + c]);
      }
      found = greedy(col, boxes, n, &o, o.max_detections, kept);
      for (int s = 0; s < found; s++) {
        const float *row = cls + (size_t)kept[s] * width + bg;
        char used[8] = {0};
        for (int c = 0; c < cats; c++) {
          int best = -1;
          for (int k = 0; k < o.num_classes; k++)
            if (!used[k] && (best < 0 || row[k] > row[best])) best = k;
          used[best] = 1;
          want[s * o.max_classes + c] = (det){kept[s], best, row[best]};
        }
      }
    } else {
      det *all = malloc(sizeof(det) * ((size_t)n * o.num_classes + 1));
      int total = 0;
      for (int c = 0; c < o.num_classes; c++) {
        for (int i = 0; i < n; i++) col[i] = cls[(size_t)i * width + bg + c];
        int k = greedy(col, boxes, n, &o, o.per_class, kept);
        for (int s = 0; s < k; s++)
          all[total++] = (det){kept[s], c, col[kept[s]]};
      }
      /* Stable selection of the best max_detections. */
      for (int s = 0; s < total && found < o.max_detections; s++) {
        int best = -1;
        for (int t = 0; t < total; t++)
          if (all[t].anchor >= 0 &&
              (best < 0 || all[t].score > all[best].score))
            best = t;
        want[found++] = all[best];
        all[best].anchor = -1;
      }
      free(all);
    }
    uint8_t options[1024];
    size_t options_size = det_flex(&o, options), size;
    uint8_t *bytes =
        det_model(n, width, m, anchors, options, options_size, &size);
    kiln_model *model = NULL;
    kiln_session *s = NULL;
    CHECK_OK(kiln_model_load_buffer(bytes, size, "det.tflite", NULL, &model));
    if (model) CHECK_OK(kiln_session_create(model, NULL, &s));
    if (s) {
      int64_t de[3] = {1, n, 4}, dc[3] = {1, n, width};
      CHECK_OK(kiln_session_set_input(s, 0, KILN_FLOAT32, de, 3, enc,
                                      (size_t)n * 16));
      CHECK_OK(kiln_session_set_input(s, 1, KILN_FLOAT32, dc, 3, cls,
                                      (size_t)n * width * 4));
      CHECK_OK(kiln_session_invoke(s));
      float *ob = malloc((size_t)m * 16), *oc = malloc((size_t)m * 4),
            *os = malloc((size_t)m * 4), count = -1;
      CHECK_OK(kiln_session_get_output(s, 0, ob, (size_t)m * 16));
      CHECK_OK(kiln_session_get_output(s, 1, oc, (size_t)m * 4));
      CHECK_OK(kiln_session_get_output(s, 2, os, (size_t)m * 4));
      CHECK_OK(kiln_session_get_output(s, 3, &count, 4));
      CHECK(count == (float)found);
      int slots = o.regular ? found : found * o.max_classes;
      for (int k = 0; k < m; k++) {
        det d = want[k];
        bool filled =
            k < slots && (o.regular || k % o.max_classes < o.num_classes);
        float eb[4] = {0, 0, 0, 0};
        if (filled) memcpy(eb, boxes + 4 * d.anchor, 16);
        CHECK(memcmp(ob + 4 * k, eb, 16) == 0);
        CHECK(oc[k] == (filled ? (float)d.cls : 0.0f));
        CHECK(os[k] == (filled ? d.score : 0.0f));
      }
      free(ob);
      free(oc);
      free(os);
    }
    kiln_session_free(s);
    kiln_model_free(model);
    free(bytes);
    free(anchors);
    free(enc);
    free(cls);
    free(boxes);
    free(want);
    free(kept);
    free(col);
  }
}

/* ------------------------------------------------------------ errors */

static void test_bad_options(void) {
  float anchors[4 * 4] = {0};
  det_options good = {5, 1, 3, 0, 2, 0.3, 0.5, {10, 10, 5, 5}};
  struct {
    const char *key;
    char kind;
    double value;
    const char *needle;
  } cases[] = {
      {"max_detections", 'f', 2.5,
       "'max_detections' is 2.5; expected an "
       "integer"},
      {"max_detections", 'i', -1, "'max_detections' is -1"},
      {"max_classes_per_detection", 'i', 0, "'max_classes_per_detection' is 0"},
      {"nms_iou_threshold", 'f', 0, "'nms_iou_threshold' is 0"},
      {"nms_iou_threshold", 'f', 1.5, "'nms_iou_threshold' is 1.5"},
      {"num_classes", 's', 0, "'num_classes' has type 5, not a number"},
      {"use_regular_nms", 'i', 2, "'use_regular_nms' is 2"},
      {"y_scale", 'x', 0, "'y_scale' is missing"},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    flex_entry e[11] = {
        {"max_detections", 'i', good.max_detections},
        {"max_classes_per_detection", 'i', good.max_classes},
        {"detections_per_class", 'i', good.per_class},
        {"use_regular_nms", 'b', 0},
        {"nms_score_threshold", 'f', good.score_threshold},
        {"nms_iou_threshold", 'f', good.iou_threshold},
        {"num_classes", 'i', good.num_classes},
        {"y_scale", 'f', 10},
        {"x_scale", 'f', 10},
        {"h_scale", 'f', 5},
        {"w_scale", 'f', 5},
    };
    int count = 11;
    for (int i = 0; i < count; i++) {
      if (strcmp(e[i].key, cases[k].key) != 0) continue;
      if (cases[k].kind == 'x') {
        e[i] = e[--count];
        break;
      }
      e[i].kind = cases[k].kind;
      e[i].value = cases[k].value;
    }
    uint8_t options[1024];
    size_t options_size = flex_map(e, count, options), size;
    uint8_t *bytes = det_model(4, 3, 5, anchors, options, options_size, &size);
    kiln_model *model = NULL;
    CHECK_ERROR(kiln_model_load_buffer(bytes, size, "det.tflite", NULL, &model),
                KILN_ERR_INVALID_MODEL, cases[k].needle);
    CHECK(model == NULL);
    free(bytes);
  }
  /* Not a FlexBuffers map at all. */
  size_t size;
  uint8_t *bytes = det_model(4, 3, 5, anchors, "\x01\x02\x03", 3, &size);
  kiln_model *model = NULL;
  CHECK_ERROR(kiln_model_load_buffer(bytes, size, "det.tflite", NULL, &model),
              KILN_ERR_INVALID_MODEL,
              "operator 0 (custom op 'TFLite_Detection_PostProcess'): "
              "custom_options: flexbuffer:");
  free(bytes);
  /* Three class columns cannot hold num_classes 1 (with one background). */
  uint8_t options[1024];
  det_options narrow = good;
  narrow.num_classes = 1;
  size_t options_size = det_flex(&narrow, options);
  bytes = det_model(4, 3, 5, anchors, options, options_size, &size);
  kiln_session *s = NULL;
  CHECK_OK(kiln_model_load_buffer(bytes, size, "det.tflite", NULL, &model));
  CHECK_ERROR(kiln_session_create(model, NULL, &s), KILN_ERR_INVALID_MODEL,
              "has 3 classes; num_classes 1 allows 1 or 2");
  kiln_model_free(model);
  free(bytes);
  /* A negative anchor height makes a box upside down: a runtime error. */
  anchors[2] = -0.5f;
  options_size = det_flex(&good, options);
  bytes = det_model(4, 2, 5, anchors, options, options_size, &size);
  CHECK_OK(kiln_model_load_buffer(bytes, size, "det.tflite", NULL, &model));
  CHECK_OK(kiln_session_create(model, NULL, &s));
  if (s) CHECK_ERROR(kiln_session_invoke(s), KILN_ERR_RUNTIME, "box 0 decodes");
  kiln_session_free(s);
  kiln_model_free(model);
  free(bytes);
}

static int write_corpus(const char *dir) {
  float anchors[8 * 4];
  kiln_test_seed(5);
  for (int i = 0; i < 8; i++) {
    anchors[4 * i + 0] = kiln_test_uniform(0, 1);
    anchors[4 * i + 1] = kiln_test_uniform(0, 1);
    anchors[4 * i + 2] = anchors[4 * i + 3] = 0.25f;
  }
  det_options o = {4, 2, 3, 0, 3, 0.2, 0.5, {10, 10, 5, 5}};
  uint8_t options[1024];
  size_t options_size = det_flex(&o, options), size;
  uint8_t *bytes = det_model(8, 4, 8, anchors, options, options_size, &size);
  char path[1024];
  snprintf(path, sizeof path, "%s/detection_postprocess.tflite", dir);
  FILE *f = fopen(path, "wb");
  int ok = f && fwrite(bytes, 1, size, f) == size;
  if (f) fclose(f);
  free(bytes);
  printf("%s: %zu bytes\n", path, size);
  return ok ? 0 : 1;
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "--write-corpus") == 0)
    return write_corpus(argv[2]);
  test_against_oracle();
  test_bad_options();
  return kiln_test_finish("test_detection_postprocess");
}
