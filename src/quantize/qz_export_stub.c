/* qz_export_stub.c - stands in for kiln's TFLite writer while the tree
 * lacks src/formats/tflite/tflite_export.c (CMake builds this file only
 * then): kiln quantize then fails with a clear message rather than not
 * linking. */
#include "core/status.h"
#include "formats/tflite/tflite_export.h"

kiln_status *kiln_tflite_export(const kiln_graph *g, const kiln_allocator *a,
                                void **out_bytes, size_t *out_size) {
  (void)g;
  (void)a;
  *out_bytes = NULL;
  *out_size = 0;
  return kiln_error(KILN_ERR_UNSUPPORTED,
                    "this build of kiln has no TFLite writer");
}
