/* fuzz_savedmodel_import.c - libFuzzer target for the SavedModel importer
 * (formats/savedmodel/savedmodel_import): the input is a saved_model.pb,
 * imported without variables (kiln_savedmodel_import_with_bundle with no
 * bundle), so the signature choice, the graph walk, function inlining and
 * every op converter and constant fold run on damaged graphs. A graph
 * comes back valid or an error says something; nothing may crash, hang or
 * leak. Seeds: tests/fuzz/corpus/savedmodel_import/ (small SavedModels
 * TensorFlow wrote, the tf_proto target's seeds).
 *
 *   CC=clang cmake -S . -B build-fuzz -DKILN_FUZZ=ON -DKILN_SANITIZE=ON
 *   cmake --build build-fuzz -t fuzz_savedmodel_import
 *   scripts/fuzz build-fuzz 60 fuzz_savedmodel_import
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/graph.h"
#include "core/status.h"
#include "formats/savedmodel/savedmodel_import.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  kiln_graph *g = NULL;
  kiln_status *st =
      kiln_savedmodel_import_with_bundle(data, size, NULL, "fuzz", NULL, &g);
  if (st) {
    if (g || !kiln_status_message(st)[0]) abort();
    kiln_status_free(st);
    return 0;
  }
  st = kiln_graph_validate(g, "fuzz");
  if (st) abort();
  kiln_graph_free(g);
  return 0;
}
