/* fuzz_keras_config.c - libFuzzer target for the Keras model config path:
 * the input is a model config's JSON text (as config.json of a .keras file
 * or the model_config attribute of an .h5 file holds it), imported with
 * every weight made up to the shape its layer asks for, so that the config
 * walk, the layer builders and the shape functions they call all see
 * hostile configs without libhdf5 in the loop. A successful import must
 * give a graph that validates; a failure must say something. Seeds:
 * tests/fuzz/corpus/keras_config/ (configs of small Keras models, made by
 * tests/fuzz/make_keras_config_seeds.py).
 *
 *   cmake -S . -B build-fuzz -DKILN_FUZZ=ON -DKILN_SANITIZE=ON \
 *         -DCMAKE_C_COMPILER=clang && cmake --build build-fuzz -t
 * fuzz_keras_config build-fuzz/fuzz_keras_config -max_len=65536 /tmp/kc
 * tests/fuzz/corpus/keras_config
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/graph.h"
#include "formats/keras/keras_import.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  kiln_graph *g = NULL;
  kiln_status *st =
      kiln_keras_import_config((const char *)data, size, "fuzz", NULL, &g);
  if (st) {
    if (g || !kiln_status_message(st)[0]) abort();
    kiln_status_free(st);
    return 0;
  }
  kiln_status *valid = kiln_graph_validate(g, "fuzz");
  if (valid) abort();
  kiln_graph_free(g);
  return 0;
}
