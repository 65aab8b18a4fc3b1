/* savedmodel_objects.c - which checkpoint tensor holds each variable a
 * serving function reads.
 *
 * Why this route: in a TF2 SavedModel the graph's VarHandleOps are not the
 * variables the checkpoint restores (Keras 3's export restores into
 * "Variable_N" handles while the serving function reads "dense/kernel"),
 * and shared names need not be unique. What TensorFlow's own loader uses
 * is exact: each concrete function's captured inputs are listed as
 * SavedObjectGraph node ids (SavedConcreteFunction.bound_inputs), and the
 * checkpoint's TrackableObjectGraph numbers the same objects the same way,
 * its node giving the VARIABLE_VALUE attribute's checkpoint key. So a
 * function call's trailing (captured) arguments are bound to object ids,
 * and a ReadVariableOp of one reads that key from variables/.
 *
 * Field numbers: MetaGraphDef.object_graph_def 7; SavedObjectGraph
 * .concrete_functions 2 (map: key 1, value 2); SavedConcreteFunction
 * .bound_inputs 2; TrackableObjectGraph.nodes 1; TrackableObject.attributes
 * 2; SerializedTensor name 1, checkpoint_key 3. */
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "formats/savedmodel/savedmodel_internal.h"
#include "formats/savedmodel/tf_proto_internal.h"

enum {
  MG_OBJECT_GRAPH = 7,
  SOG_CONCRETE_FUNCTIONS = 2,
  SCF_BOUND_INPUTS = 2,
  TOG_NODES = 1,
  TO_ATTRIBUTES = 2,
  ST_NAME = 1,
  ST_CHECKPOINT_KEY = 3,
};

/* The most objects or functions kiln reads (far more than any model). */
#define SM_MAX_OBJECTS (1 << 22)

static kiln_status *read_function(const kiln_pb_reader *r,
                                  const kiln_pb_field *f,
                                  const kiln_allocator *alloc, sm_bound *out) {
  kiln_pb_reader entry = kiln_pb_nested(r, f, "concrete_functions entry");
  kiln_pb_field e;
  bool more;
  for (;;) {
    KILN_TRY(kiln_pb_next(&entry, &e, &more));
    if (!more) break;
    if (e.number == 1 && e.wire_type == KILN_PB_LEN) {
      out->function.data = (const char *)e.bytes;
      out->function.len = e.len;
    } else if (e.number == 2 && e.wire_type == KILN_PB_LEN) {
      kiln_pb_reader fn = kiln_pb_nested(&entry, &e, "SavedConcreteFunction");
      size_t count = 0;
      KILN_TRY(tf_scalars_count(fn, SCF_BOUND_INPUTS, KILN_PB_VARINT, &count));
      if (count > SM_MAX_OBJECTS)
        return kiln_error(KILN_ERR_INVALID_MODEL,
                          "SavedConcreteFunction at byte offset %zu: %zu "
                          "bound inputs is too many",
                          e.offset, count);
      kiln_free(alloc, out->nodes);
      out->nodes = kiln_calloc(alloc, count ? count : 1, sizeof *out->nodes);
      if (!out->nodes) return KILN_OOM();
      out->count = count;
      tf_scalars it = tf_scalars_make(fn, SCF_BOUND_INPUTS, KILN_PB_VARINT);
      for (size_t i = 0; i < count; i++) {
        uint64_t raw;
        bool got;
        KILN_TRY(tf_scalars_next(&it, &raw, &got));
        if (!got || raw > SM_MAX_OBJECTS)
          return kiln_error(KILN_ERR_INVALID_MODEL,
                            "SavedConcreteFunction at byte offset %zu: bound "
                            "input %zu is not an object id",
                            e.offset, i);
        out->nodes[i] = (int32_t)raw;
      }
    }
  }
  return NULL;
}

static kiln_status *read_object_graph(const kiln_pb_reader *mg,
                                      const kiln_pb_field *f,
                                      const kiln_allocator *alloc,
                                      sm_objects *o) {
  kiln_pb_reader sog = kiln_pb_nested(mg, f, "SavedObjectGraph");
  kiln_pb_field e;
  bool more;
  size_t count = 0;
  kiln_pb_reader counting = sog;
  for (;;) {
    KILN_TRY(kiln_pb_next(&counting, &e, &more));
    if (!more) break;
    count += e.number == SOG_CONCRETE_FUNCTIONS && e.wire_type == KILN_PB_LEN;
  }
  if (count > SM_MAX_OBJECTS)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "SavedObjectGraph: %zu concrete functions is too many",
                      count);
  o->functions = kiln_calloc(alloc, count ? count : 1, sizeof *o->functions);
  if (!o->functions) return KILN_OOM();
  for (;;) {
    KILN_TRY(kiln_pb_next(&sog, &e, &more));
    if (!more) break;
    if (e.number != SOG_CONCRETE_FUNCTIONS || e.wire_type != KILN_PB_LEN)
      continue;
    sm_bound *b = &o->functions[o->function_count++];
    KILN_TRY(read_function(&sog, &e, alloc, b));
  }
  return NULL;
}

/* The VARIABLE_VALUE key of one TrackableObject, if any. */
static kiln_status *read_trackable(const kiln_pb_reader *tog,
                                   const kiln_pb_field *f, kiln_tf_str *key) {
  kiln_pb_reader obj = kiln_pb_nested(tog, f, "TrackableObject");
  kiln_pb_field e;
  bool more;
  for (;;) {
    KILN_TRY(kiln_pb_next(&obj, &e, &more));
    if (!more) break;
    if (e.number != TO_ATTRIBUTES || e.wire_type != KILN_PB_LEN) continue;
    kiln_pb_reader st = kiln_pb_nested(&obj, &e, "SerializedTensor");
    kiln_tf_str name = {0}, ck = {0};
    kiln_pb_field a;
    for (;;) {
      KILN_TRY(kiln_pb_next(&st, &a, &more));
      if (!more) break;
      if (a.wire_type != KILN_PB_LEN) continue;
      kiln_tf_str s = {(const char *)a.bytes, a.len};
      if (a.number == ST_NAME) name = s;
      if (a.number == ST_CHECKPOINT_KEY) ck = s;
    }
    if (kiln_tf_str_eq(name, "VARIABLE_VALUE")) *key = ck;
  }
  return NULL;
}

static kiln_status *read_checkpoint_graph(const kiln_bundle *bundle,
                                          const kiln_allocator *alloc,
                                          const char *source, sm_objects *o) {
  const kiln_bundle_entry *entry =
      kiln_bundle_find(bundle, "_CHECKPOINTABLE_OBJECT_GRAPH");
  if (!entry)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%s: variables/variables.index has no "
                      "_CHECKPOINTABLE_OBJECT_GRAPH (kiln reads TF2 "
                      "SavedModels, whose checkpoint names its objects)",
                      source);
  size_t size = 0;
  KILN_TRY(kiln_status_wrap(
      kiln_bundle_read_string(bundle, entry, &o->checkpoint_graph, &size),
      "%s: variables", source));
  kiln_pb_reader tog =
      kiln_pb_reader_make(o->checkpoint_graph, size, "TrackableObjectGraph");
  kiln_pb_field e;
  bool more;
  size_t count = 0;
  kiln_pb_reader counting = tog;
  for (;;) {
    KILN_TRY(kiln_status_wrap(kiln_pb_next(&counting, &e, &more),
                              "%s: the checkpoint's object graph", source));
    if (!more) break;
    count += e.number == TOG_NODES && e.wire_type == KILN_PB_LEN;
  }
  if (count > SM_MAX_OBJECTS)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%s: the checkpoint's object graph has %zu nodes, too "
                      "many",
                      source, count);
  o->keys = kiln_calloc(alloc, count ? count : 1, sizeof *o->keys);
  if (!o->keys) return KILN_OOM();
  o->key_count = count;
  size_t i = 0;
  for (;;) {
    KILN_TRY(kiln_pb_next(&tog, &e, &more));
    if (!more) break;
    if (e.number != TOG_NODES || e.wire_type != KILN_PB_LEN) continue;
    KILN_TRY(kiln_status_wrap(read_trackable(&tog, &e, &o->keys[i++]),
                              "%s: the checkpoint's object graph", source));
  }
  return NULL;
}

kiln_status *sm_objects_read(const uint8_t *meta_graph, size_t size,
                             const kiln_bundle *bundle,
                             const kiln_allocator *alloc, const char *source,
                             sm_objects *out) {
  memset(out, 0, sizeof *out);
  kiln_pb_reader mg = kiln_pb_reader_make(meta_graph, size, "MetaGraphDef");
  kiln_pb_field f;
  bool more, found = false;
  kiln_status *st = NULL;
  for (;;) {
    st = kiln_pb_next(&mg, &f, &more);
    if (st || !more) break;
    if (f.number == MG_OBJECT_GRAPH && f.wire_type == KILN_PB_LEN) {
      if (found) {
        for (size_t i = 0; i < out->function_count; i++)
          kiln_free(alloc, out->functions[i].nodes);
        kiln_free(alloc, out->functions);
        out->functions = NULL;
        out->function_count = 0;
      }
      found = true;
      st = read_object_graph(&mg, &f, alloc, out);
      if (st) break;
    }
  }
  if (!st && !found)
    st = kiln_error(KILN_ERR_INVALID_MODEL,
                    "%s: the MetaGraphDef has no object graph (kiln reads "
                    "TF2 SavedModels: tf.saved_model.save or model.export)",
                    source);
  if (st) st = kiln_status_wrap(st, "%s: saved_model.pb", source);
  if (!st) st = read_checkpoint_graph(bundle, alloc, source, out);
  if (st) sm_objects_free(out, alloc);
  return st;
}

void sm_objects_free(sm_objects *o, const kiln_allocator *alloc) {
  for (size_t i = 0; o->functions && i < o->function_count; i++)
    kiln_free(alloc, o->functions[i].nodes);
  kiln_free(alloc, o->functions);
  kiln_free(alloc, o->keys);
  kiln_free(alloc, o->checkpoint_graph);
  memset(o, 0, sizeof *o);
}

const sm_bound *sm_objects_bound(const sm_objects *o, kiln_tf_str function) {
  for (size_t i = o->function_count; i-- > 0;)
    if (o->functions[i].function.len == function.len &&
        (function.len == 0 || memcmp(o->functions[i].function.data,
                                     function.data, function.len) == 0))
      return &o->functions[i];
  return NULL;
}
