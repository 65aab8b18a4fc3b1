/* keras_disabled.c - the Keras importer of a build without libhdf5, libzip
 * or jansson (KILN_KERAS=OFF, or AUTO when one is missing): files are still
 * recognized, so the error says what the build lacks rather than that the
 * format is unknown. */
#include "core/status.h"
#include "formats/keras/keras_import.h"

kiln_status *kiln_keras_import(const void *data, size_t size,
                               const char *source, const kiln_allocator *alloc,
                               kiln_graph **out_graph) {
  (void)data;
  (void)size;
  (void)alloc;
  *out_graph = NULL;
  return kiln_error(KILN_ERR_UNSUPPORTED,
                    "%s: a Keras file (.h5 or .keras), and this kiln was "
                    "built without Keras support (it needs libhdf5, libzip "
                    "and jansson at build time: KILN_KERAS=ON)",
                    source ? source : "<memory>");
}

kiln_status *kiln_keras_import_config(const char *json, size_t len,
                                      const char *source,
                                      const kiln_allocator *alloc,
                                      kiln_graph **out_graph) {
  (void)json;
  (void)len;
  return kiln_keras_import(NULL, 0, source, alloc, out_graph);
}
