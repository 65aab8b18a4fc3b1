/* tflite_import.h - turning a TensorFlow Lite flatbuffer into kiln's IR. */
#ifndef KILN_FORMATS_TFLITE_IMPORT_H
#define KILN_FORMATS_TFLITE_IMPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/graph.h"
#include "formats/tflite/flatbuffer.h"
#include "kiln.h"

/* True when the bytes carry TFLite's file identifier "TFL3" at bytes 4..7. */
bool kiln_tflite_detect(const void *data, size_t size);

/* Builds a graph from subgraph 0 of a TFLite model, alone: the subgraphs
 * its control flow names are neither read nor checked (see
 * kiln_tflite_import_all, which the model loader uses). Constants point into
 * `data` (which must outlive the graph) unless they had to be realigned.
 * `source_name` starts every error message (NULL: "<memory>"). On failure
 * *out_graph is NULL and nothing is left allocated. */
kiln_status *kiln_tflite_import(const void *data, size_t size,
                                const char *source_name,
                                const kiln_allocator *alloc,
                                kiln_graph **out_graph);

/* kiln_tflite_import that also runs custom operators: their custom codes
 * are looked up in `custom` (NULL: none; every CUSTOM operator fails). */
struct kiln_custom_resolver;
kiln_status *kiln_tflite_import_with_ops(
    const void *data, size_t size, const char *source_name,
    const kiln_allocator *alloc, const struct kiln_custom_resolver *custom,
    kiln_graph **out_graph);

/* Subgraph `index` of a TFLite model (kiln_tflite_import reads index 0).
 * `decoded` carries the bytes copied out of the file so far, so that all
 * the subgraphs of one file share one budget; *out_num_subgraphs is how
 * many subgraphs the file has (set even on most failures). Messages of
 * subgraphs other than 0 name the subgraph. */
kiln_status *kiln_tflite_import_subgraph(
    const void *data, size_t size, const char *source_name,
    const kiln_allocator *alloc, const struct kiln_custom_resolver *custom,
    int index, uint64_t *decoded, kiln_graph **out_graph,
    int *out_num_subgraphs);

/* Subgraph 0 and every subgraph its WHILE, IF and CALL_ONCE operators
 * reach, directly or through others (formats/tflite/tflite_subgraphs.c):
 * *out_graphs has *out_count entries (the file's subgraph count), NULL for
 * subgraphs nothing reaches; free them with kiln_tflite_free_graphs.
 * Refuses a subgraph index out of range, a subgraph that calls itself
 * (directly or not), nesting deeper than KILN_MAX_SUBGRAPH_DEPTH, call
 * trees needing more than KILN_MAX_SUBGRAPH_SESSIONS sessions, and
 * operators whose inputs and outputs do not match their subgraphs'. */
#define KILN_MAX_SUBGRAPH_DEPTH 16
#define KILN_MAX_SUBGRAPH_SESSIONS 1024
kiln_status *kiln_tflite_import_all(const void *data, size_t size,
                                    const char *source_name,
                                    const kiln_allocator *alloc,
                                    const struct kiln_custom_resolver *custom,
                                    kiln_graph ***out_graphs, int *out_count);
void kiln_tflite_free_graphs(kiln_graph **graphs, int count,
                             const kiln_allocator *alloc);

/* Part of kiln_tflite_import_all (tflite_bodies.c): fills the reduction of
 * every STABLEHLO_REDUCE_WINDOW and STABLEHLO_SCATTER in `graphs` from its
 * body subgraph (read from the file when no control flow reached it), and
 * refuses bodies that are not one known binary operator. */
kiln_status *kiln_tflite_recognize_bodies(
    const void *data, size_t size, const char *source,
    const kiln_allocator *alloc, const struct kiln_custom_resolver *custom,
    kiln_graph **graphs, int count, uint64_t *decoded);

/* ---- private to the importer: the operator table (tflite_ops.c) ---- */

/* How one TFLite builtin operator becomes a kiln node. */
typedef struct kiln_tflite_op {
  int32_t code;         /* BuiltinOperator */
  kiln_op_type op;      /* the kiln operator */
  uint8_t options_type; /* BuiltinOptions union type; 0 if none is read */
  const char *options_name;
  /* Fills the op's zeroed attribute struct from the options table (an
   * empty table when the operator has none: schema defaults). */
  kiln_status *(*parse)(const kiln_fb_table *options, void *attrs);
  size_t attrs_size; /* sizeof what parse fills, checked against ops.h */
} kiln_tflite_op;

/* TFLite's name of a builtin operator code ("CONV_2D"); NULL if unknown. */
const char *kiln_tflite_op_name(int32_t code);

/* The mapping of a builtin code, or NULL when kiln has no such operator. */
const kiln_tflite_op *kiln_tflite_find_op(int32_t code);

/* Whether input `index` of `op` is state the operator updates in place
 * (the recurrent operators'), which TFLite requires to be a variable. */
bool kiln_tflite_is_state_input(kiln_op_type op, int index);

/* Reads the operator's builtin options into attrs as `map` says. */
kiln_status *kiln_tflite_read_options(const kiln_tflite_op *map,
                                      const kiln_fb_table *op_table,
                                      void *attrs);

#endif
