/* savedmodel_internal.h - what the SavedModel importer's files share: the
 * reference a GraphDef tensor resolves to (an IR value or a resource
 * variable), the importer's state, the object-graph tables that tie a
 * function's captured variables to checkpoint keys, and the op table
 * (tf_ops.c). Not for use outside src/formats/savedmodel/. */
#ifndef KILN_FORMATS_SAVEDMODEL_SAVEDMODEL_INTERNAL_H
#define KILN_FORMATS_SAVEDMODEL_SAVEDMODEL_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "formats/graph_build.h"
#include "formats/savedmodel/tensor_bundle.h"
#include "formats/savedmodel/tf_proto.h"

typedef enum sm_ref_kind {
  SM_NONE = 0, /* an output kiln does not produce (FusedBatchNorm's mean) */
  SM_VALUE,    /* id: an IR value */
  SM_RESOURCE, /* id: a variable's node in the SavedObjectGraph */
  SM_HANDLE,   /* a VarHandleOp no function call bound to an object */
} sm_ref_kind;

typedef struct sm_ref {
  sm_ref_kind kind;
  int id;
} sm_ref;

/* From the MetaGraphDef's SavedObjectGraph and the checkpoint's
 * TrackableObjectGraph, whose node ids are the same objects. */
typedef struct sm_bound {
  kiln_tf_str function; /* a concrete function's name */
  int32_t *nodes;       /* its bound_inputs: object ids of its captures */
  size_t count;
} sm_bound;

typedef struct sm_objects {
  sm_bound *functions;
  size_t function_count;
  /* Per object id: the checkpoint key of its VARIABLE_VALUE (len 0: none),
   * pointing into `checkpoint_graph`. */
  kiln_tf_str *keys;
  size_t key_count;
  uint8_t *checkpoint_graph; /* the bundle's _CHECKPOINTABLE_OBJECT_GRAPH */
} sm_objects;

/* Reads the object tables: `meta_graph` is the chosen MetaGraphDef's bytes
 * in saved_model.pb. Everything is allocated with `alloc`. */
kiln_status *sm_objects_read(const uint8_t *meta_graph, size_t size,
                             const kiln_bundle *bundle,
                             const kiln_allocator *alloc, const char *source,
                             sm_objects *out);
void sm_objects_free(sm_objects *o, const kiln_allocator *alloc);
const sm_bound *sm_objects_bound(const sm_objects *o, kiln_tf_str function);

typedef struct sm_importer {
  kiln_graph_builder gb;
  const kiln_allocator *alloc;
  const char *source;
  const kiln_tf_graph *graph;
  kiln_bundle *bundle;
  sm_objects objects;
  int *variable_values; /* per object id: its constant's value id or -1 */
  /* A Shape of a tensor with an unknown batch was taken at the batch of 1:
   * the graph then runs at that batch only. */
  bool fixed_batch;
  int cap_source_ops; /* room in gb.g->source_ops */
} sm_importer;

/* One GraphDef op turned into IR: `in` are the node's data inputs (control
 * inputs dropped), `name` the name its output value gets. Writes output
 * 0's reference; other outputs stay SM_NONE. */
typedef kiln_status *(*sm_convert_fn)(sm_importer *im, const kiln_tf_node *n,
                                      const char *name, const sm_ref *in,
                                      int num_in, sm_ref *out);

/* The converter for a TensorFlow op name, or NULL when kiln has none. */
sm_convert_fn sm_find_op(kiln_tf_str op);

/* An error naming the file, node and op. */
kiln_status *sm_node_error(const sm_importer *im, const kiln_tf_node *n,
                           const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
