/* fuzz_flexbuffer.c - libFuzzer target for the FlexBuffers map reader
 * (custom operators' options): reads the input as a root map and looks up
 * TFLite_Detection_PostProcess's keys. A failure must say something; a
 * success must describe a map inside the buffer. Seeds:
 * tests/fuzz/corpus/flexbuffer/. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/status.h"
#include "formats/tflite/flexbuffer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  kiln_flex_map m;
  kiln_status *st = kiln_flex_root_map(data, size, &m);
  if (st) {
    if (!kiln_status_message(st)[0]) abort();
    kiln_status_free(st);
    return 0;
  }
  if (m.values > size || m.keys > size) abort();
  static const char *const keys[] = {"max_detections",
                                     "max_classes_per_detection",
                                     "detections_per_class",
                                     "use_regular_nms",
                                     "nms_score_threshold",
                                     "nms_iou_threshold",
                                     "num_classes",
                                     "y_scale",
                                     "x_scale",
                                     "h_scale",
                                     "w_scale",
                                     ""};
  for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
    bool found = false;
    double v = 0;
    st = kiln_flex_map_number(&m, keys[k], &found, &v);
    if (st && !kiln_status_message(st)[0]) abort();
    kiln_status_free(st);
  }
  return 0;
}
