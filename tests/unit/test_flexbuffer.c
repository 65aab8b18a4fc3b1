/* test_flexbuffer.c - the FlexBuffers map reader: a map written by
 * FlatBuffers' own Python writer (ints of several widths, a float, a bool,
 * a string), then every truncation, every single-byte corruption and random
 * bytes, each either read or refused with a message, never a crash (ASan),
 * and the specific malformations as clear errors. */
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "formats/tflite/flexbuffer.h"
#include "harness.h"

/* flexbuffers.Dumps({'max_detections': 10, 'nms_iou_threshold': 0.5,
 * 'use_regular_nms': True, 'neg': -3, 'big': 70000, 'name': 'x'}) */
static const uint8_t fixture[] = {
    0x6d, 0x61, 0x78, 0x5f, 0x64, 0x65, 0x74, 0x65, 0x63, 0x74, 0x69, 0x6f,
    0x6e, 0x73, 0x00, 0x6e, 0x6d, 0x73, 0x5f, 0x69, 0x6f, 0x75, 0x5f, 0x74,
    0x68, 0x72, 0x65, 0x73, 0x68, 0x6f, 0x6c, 0x64, 0x00, 0x75, 0x73, 0x65,
    0x5f, 0x72, 0x65, 0x67, 0x75, 0x6c, 0x61, 0x72, 0x5f, 0x6e, 0x6d, 0x73,
    0x00, 0x6e, 0x65, 0x67, 0x00, 0x62, 0x69, 0x67, 0x00, 0x6e, 0x61, 0x6d,
    0x65, 0x00, 0x01, 0x78, 0x00, 0x06, 0x0d, 0x43, 0x0b, 0x14, 0x37, 0x26,
    0x06, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00,
    0x70, 0x11, 0x01, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x1d, 0x00, 0x00, 0x00,
    0xfd, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x3f, 0x01, 0x00, 0x00, 0x00,
    0x06, 0x06, 0x14, 0x06, 0x0e, 0x6a, 0x1e, 0x26, 0x01};

static void check_number(const kiln_flex_map *m, const char *key, double want) {
  bool found = false;
  double v = -1;
  CHECK_OK(kiln_flex_map_number(m, key, &found, &v));
  CHECK(found);
  if (v != want) fprintf(stderr, "%s: %g, want %g\n", key, v, want);
  CHECK(v == want);
}

static void test_fixture(void) {
  kiln_flex_map m;
  CHECK_OK(kiln_flex_root_map(fixture, sizeof fixture, &m));
  CHECK(m.length == 6);
  check_number(&m, "max_detections", 10);
  check_number(&m, "nms_iou_threshold", 0.5);
  check_number(&m, "use_regular_nms", 1);
  check_number(&m, "neg", -3);
  check_number(&m, "big", 70000);
  bool found = true;
  double v = 42;
  CHECK_OK(kiln_flex_map_number(&m, "absent", &found, &v));
  CHECK(!found && v == 42);
  CHECK_ERROR(kiln_flex_map_number(&m, "name", &found, &v),
              KILN_ERR_INVALID_MODEL, "'name' has type 5, not a number");
}

/* Reads every key a map might hold; any outcome but a crash is fine. */
static void probe(const uint8_t *bytes, size_t size) {
  kiln_flex_map m;
  kiln_status *st = kiln_flex_root_map(bytes, size, &m);
  if (st) {
    CHECK(kiln_status_get_code(st) == KILN_ERR_INVALID_MODEL);
    CHECK(strstr(kiln_status_message(st), "flexbuffer") != NULL);
    kiln_status_free(st);
    return;
  }
  static const char *const keys[] = {"max_detections",
                                     "nms_iou_threshold",
                                     "use_regular_nms",
                                     "neg",
                                     "big",
                                     "name",
                                     ""};
  for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
    bool found;
    double v;
    kiln_status_free(kiln_flex_map_number(&m, keys[k], &found, &v));
  }
}

static void test_corruptions(void) {
  /* Each copy is exactly as long as the input, so ASan sees any overread. */
  for (size_t n = 0; n <= sizeof fixture; n++) {
    uint8_t *copy = malloc(n + 1);
    memcpy(copy, fixture + sizeof fixture - n, n);
    probe(copy, n);
    memcpy(copy, fixture, n);
    probe(copy, n);
    free(copy);
  }
  for (size_t i = 0; i < sizeof fixture; i++)
    for (int bit = 0; bit < 8; bit++) {
      uint8_t *copy = malloc(sizeof fixture);
      memcpy(copy, fixture, sizeof fixture);
      copy[i] ^= (uint8_t)(1u << bit);
      probe(copy, sizeof fixture);
      copy[i] = 0xff;
      probe(copy, sizeof fixture);
      free(copy);
    }
  kiln_test_seed(99);
  for (int round = 0; round < 2000; round++) {
    size_t n = (size_t)kiln_test_int(0, 64);
    uint8_t *bytes = malloc(n + 1);
    for (size_t i = 0; i < n; i++) bytes[i] = (uint8_t)kiln_test_rand();
    if (n >= 2 && round % 2) {
      bytes[n - 1] = (uint8_t)(1u << kiln_test_int(0, 3));
      bytes[n - 2] = (uint8_t)(9 << 2 | kiln_test_int(0, 3));
    }
    probe(bytes, n);
    free(bytes);
  }
}

static void test_errors(void) {
  kiln_flex_map m;
  CHECK_ERROR(kiln_flex_root_map(fixture, 2, &m), KILN_ERR_INVALID_MODEL,
              "2 bytes is too short");
  CHECK_ERROR(kiln_flex_root_map(NULL, 0, &m), KILN_ERR_INVALID_MODEL,
              "too short");
  uint8_t copy[sizeof fixture];
  memcpy(copy, fixture, sizeof copy);
  copy[sizeof copy - 1] = 3;
  CHECK_ERROR(kiln_flex_root_map(copy, sizeof copy, &m), KILN_ERR_INVALID_MODEL,
              "root's byte width is 3");
  memcpy(copy, fixture, sizeof copy);
  copy[sizeof copy - 2] = 10 << 2;
  CHECK_ERROR(kiln_flex_root_map(copy, sizeof copy, &m), KILN_ERR_INVALID_MODEL,
              "root has type 10, not a map");
  memcpy(copy, fixture, sizeof copy);
  copy[sizeof copy - 3] = 0xff; /* the root's offset */
  CHECK_ERROR(kiln_flex_root_map(copy, sizeof copy, &m), KILN_ERR_INVALID_MODEL,
              "points before the buffer");
  /* The map's length (6, just before its values) made huge. */
  memcpy(copy, fixture, sizeof copy);
  copy[0x51] = 0xff;
  copy[0x52] = 0xff;
  CHECK_ERROR(kiln_flex_root_map(copy, sizeof copy, &m), KILN_ERR_INVALID_MODEL,
              "past the buffer's end");
  /* The first key's string runs to the end without its NUL. */
  static const uint8_t cut[] = {'a', 'b', 'c', 3};
  kiln_flex_map fake = {cut, sizeof cut, 0, 3, 1, 4, 1};
  bool found;
  double v;
  (void)m;
  CHECK_ERROR(kiln_flex_map_number(&fake, "abc", &found, &v),
              KILN_ERR_INVALID_MODEL, "is not terminated");
}

int main(void) {
  test_fixture();
  test_corruptions();
  test_errors();
  return kiln_test_finish("test_flexbuffer");
}
