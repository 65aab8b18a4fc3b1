/* fuzz_tflite.c - libFuzzer target: the TFLite importer must turn any bytes
 * into a graph or a clean error, never a crash, leak or out-of-bounds read. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/graph.h"
#include "formats/tflite/tflite_import.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* An exact-size copy, so ASan flags reads even one byte past the end. */
  uint8_t *copy = malloc(size ? size : 1);
  if (!copy) return 0;
  if (size) memcpy(copy, data, size);
  kiln_graph *graph = NULL;
  kiln_status *status =
      kiln_tflite_import(copy, size, "fuzz.tflite", NULL, &graph);
  /* Exactly one of the two comes back. */
  if ((status == NULL) == (graph == NULL)) abort();
  kiln_status_free(status);
  kiln_graph_free(graph);
  free(copy);
  return 0;
}
