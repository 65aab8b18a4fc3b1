/* keras_import.h - Keras models (.h5 and .keras) to kiln's graph. Built
 * only when libhdf5, libzip and jansson are (KILN_KERAS); otherwise
 * keras_disabled.c answers with an error saying so. */
#ifndef KILN_FORMATS_KERAS_KERAS_IMPORT_H
#define KILN_FORMATS_KERAS_KERAS_IMPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/graph.h"

/* Whether the bytes look like a Keras file: HDF5 or a zip archive
 * (keras_detect.c, built with or without the reader). */
bool kiln_keras_detect(const void *data, size_t size);
bool kiln_keras_is_hdf5(const void *data, size_t size);
bool kiln_keras_is_zip(const void *data, size_t size);

/* Builds the model's graph: Sequential and Functional models (nested ones
 * inlined) of the layers keras_layers*.c know. Weights are copied into the
 * graph, so `data` may go once this returns. */
kiln_status *kiln_keras_import(const void *data, size_t size,
                               const char *source, const kiln_allocator *alloc,
                               kiln_graph **out_graph);

/* The same from a model config's JSON text alone, every weight made up
 * with the shape its layer asks for: the config fuzz target's door. */
kiln_status *kiln_keras_import_config(const char *json, size_t len,
                                      const char *source,
                                      const kiln_allocator *alloc,
                                      kiln_graph **out_graph);

#endif
