/* savedmodel_import.h - a TensorFlow SavedModel folder (saved_model.pb and
 * variables/) as a kiln graph: the serving MetaGraphDef's serving_default
 * signature (else its only one), function calls inlined, resource
 * variables read from the checkpoint as constants, and TensorFlow ops
 * mapped to kiln's (NHWC, TFLite semantics). Core library: libc only. */
#ifndef KILN_FORMATS_SAVEDMODEL_SAVEDMODEL_IMPORT_H
#define KILN_FORMATS_SAVEDMODEL_SAVEDMODEL_IMPORT_H

#include <stddef.h>

#include "core/graph.h"

/* Builds the graph of the SavedModel whose saved_model.pb bytes are
 * `pb`/`pb_size` and whose variables start with `variables_prefix`
 * (DIR/variables/variables). `source` names the folder in errors. The
 * graph's inputs and outputs are named by the signature's keys. */
kiln_status *kiln_savedmodel_import(const void *pb, size_t pb_size,
                                    const char *variables_prefix,
                                    const char *source,
                                    const kiln_allocator *alloc,
                                    kiln_graph **out_graph);

/* The same with the variables already open (`bundle` may be NULL for a
 * graph that reads none: then every ReadVariableOp is an error). Tests
 * build graphs in memory through it. */
struct kiln_bundle;
kiln_status *kiln_savedmodel_import_with_bundle(const void *pb, size_t pb_size,
                                                struct kiln_bundle *bundle,
                                                const char *source,
                                                const kiln_allocator *alloc,
                                                kiln_graph **out_graph);

#endif
