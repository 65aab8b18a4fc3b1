/* test_smoke.c - statuses and dtypes behave as documented. */
#include <string.h>

#include "core/status.h"
#include "harness.h"

int main(void) {
  kiln_status *st = kiln_error(KILN_ERR_INVALID_MODEL, "tensor %d", 3);
  st = kiln_status_wrap(st, "model.tflite: operator %d (%s)", 17, "CONV_2D");
  CHECK(strcmp(kiln_status_message(st),
               "model.tflite: operator 17 (CONV_2D): tensor 3") == 0);
  CHECK(kiln_status_get_code(st) == KILN_ERR_INVALID_MODEL);
  kiln_status_free(st);
  CHECK(kiln_status_get_code(NULL) == KILN_OK);
  CHECK(strcmp(kiln_status_message(NULL), "") == 0);
  CHECK(kiln_dtype_size(KILN_FLOAT16) == 2);
  CHECK(strcmp(kiln_dtype_name(KILN_INT64), "int64") == 0);
  return kiln_test_finish("test_smoke");
}
