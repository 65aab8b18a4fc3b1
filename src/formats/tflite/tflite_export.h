/* tflite_export.h - kiln's .tflite writer: a graph in kiln's IR serialized
 * as a TensorFlow Lite flatbuffer, so that graphs kiln builds or rewrites
 * (`kiln quantize`, models imported from other formats) can be saved and run
 * by any TFLite runtime. `kiln convert` drives it from the command line. */
#ifndef KILN_FORMATS_TFLITE_EXPORT_H
#define KILN_FORMATS_TFLITE_EXPORT_H

#include <stddef.h>

#include "core/graph.h"
#include "kiln.h"

/* Serializes g (one subgraph, as kiln_tflite_import builds it BEFORE load-time
 * passes) as a TFLite flatbuffer (schema version 3) in one block from `a`
 * (NULL: libc), returned in *out_bytes / *out_size. Fails naming the node
 * (index, op) or value whose op/attribute/dtype has no TFLite form. */
kiln_status *kiln_tflite_export(const kiln_graph *g, const kiln_allocator *a,
                                void **out_bytes, size_t *out_size);

#endif
