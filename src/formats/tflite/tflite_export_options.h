/* tflite_export_options.h - private to the TFLite writer: a node's
 * attributes written back as its operator's builtin options table, the
 * inverse of tflite_ops.c's option parsers. */
#ifndef KILN_FORMATS_TFLITE_EXPORT_OPTIONS_H
#define KILN_FORMATS_TFLITE_EXPORT_OPTIONS_H

#include <stdint.h>

#include "core/graph.h"
#include "formats/tflite/flatbuffer_builder.h"
#include "kiln.h"

/* Writes node n's options. *out_type is the BuiltinOptions union type (0:
 * none; TFL_OPT2_BASE + t: type t of BuiltinOptions2) and *out_ref the
 * table (0: none). Fails, saying why, for attributes TFLite cannot express
 * and for operators whose options the writer does not know; the caller
 * names the node. */
kiln_status *kiln_tflite_export_options(kiln_fbb *b, const kiln_graph *g,
                                        const kiln_node *n, unsigned *out_type,
                                        kiln_fbb_ref *out_ref);

/* TensorType of a kiln dtype, or -1 when TFLite has none. */
int kiln_tflite_type_of(kiln_dtype dtype);

#endif
