/* qz_graph.c - graph surgery the quantizer needs: new constants, node
 * re-ordering with inserted conversions, dropping replaced values, and a
 * model of the float graph whose every activation is an output (how
 * calibration and the error report see each tensor: through the public
 * session API, with no hook inside the runtime, at the price of keeping
 * every activation alive for the whole invoke). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "formats/keras/keras_import.h"
#include "formats/tflite/tflite_import.h"
#include "qz_internal.h"
#include "runtime/model.h"

kiln_status *qz_import(const void *model, size_t size, const char *source,
                       kiln_graph **out) {
  /* A Keras file is quantized from the graph its importer builds, as a
   * .tflite one is (the writer turns either into .tflite). */
  if (!kiln_tflite_detect(model, size) && kiln_keras_detect(model, size))
    return kiln_keras_import(model, size, source, NULL, out);
  return kiln_tflite_import(model, size, source, NULL, out);
}

size_t qz_numel(const kiln_value *v) {
  size_t n = 1;
  for (int i = 0; i < v->rank; i++)
    n *= (size_t)(v->dims[i] > 0 ? v->dims[i] : 0);
  return n;
}

kiln_status *qz_set_quant(kiln_graph *g, int value, const float *scales,
                          const int64_t *zero_points, int count, int axis) {
  float *s = kiln_malloc(g->alloc, sizeof(float) * (size_t)count);
  int64_t *z = kiln_malloc(g->alloc, sizeof(int64_t) * (size_t)count);
  if (!s || !z) {
    kiln_free(g->alloc, s);
    kiln_free(g->alloc, z);
    return KILN_OOM();
  }
  memcpy(s, scales, sizeof(float) * (size_t)count);
  memcpy(z, zero_points, sizeof(int64_t) * (size_t)count);
  kiln_value *v = &g->values[value];
  kiln_free(g->alloc, (void *)v->quant.scale);
  kiln_free(g->alloc, (void *)v->quant.zero_point);
  v->quant = (kiln_quant_info){count, s, z, axis};
  return NULL;
}

kiln_status *qz_add_constant(kiln_graph *g, const char *name, kiln_dtype dtype,
                             int rank, const int64_t *dims, const void *data,
                             size_t nbytes, const float *scales,
                             const int64_t *zero_points, int count, int axis,
                             int *out_id) {
  int id;
  KILN_TRY(kiln_graph_add_value(g, name, &id));
  kiln_value *v = &g->values[id];
  v->dtype = dtype;
  v->rank = rank;
  for (int i = 0; i < rank; i++) v->dims[i] = v->signature[i] = dims[i];
  v->is_constant = true;
  v->owned_data = kiln_malloc(g->alloc, nbytes ? nbytes : 1);
  if (!v->owned_data) return KILN_OOM();
  memcpy(v->owned_data, data, nbytes);
  v->data = v->owned_data;
  v->nbytes = nbytes;
  if (scales) KILN_TRY(qz_set_quant(g, id, scales, zero_points, count, axis));
  *out_id = id;
  return NULL;
}

void qz_take_nodes(kiln_graph *g, qz_old_nodes *old) {
  old->nodes = g->nodes;
  old->count = g->num_nodes;
  g->nodes = NULL;
  g->num_nodes = g->cap_nodes = 0;
}

kiln_status *qz_readd_node(kiln_graph *g, qz_old_nodes *old, int index,
                           const int *inputs) {
  kiln_node *o = &old->nodes[index];
  kiln_node *n;
  KILN_TRY(kiln_graph_add_node(g, o->op, inputs, o->num_inputs, o->outputs,
                               o->num_outputs, o->source_index, &n));
  kiln_free(g->alloc, n->attrs);
  n->attrs = o->attrs; /* the attributes move, pointers inside included */
  o->attrs = NULL;
  return NULL;
}

void qz_drop_old(kiln_graph *g, qz_old_nodes *old) {
  for (int i = 0; i < old->count; i++) {
    kiln_free(g->alloc, old->nodes[i].inputs);
    kiln_free(g->alloc, old->nodes[i].outputs);
    kiln_free(g->alloc, old->nodes[i].attrs);
  }
  kiln_free(g->alloc, old->nodes);
  old->nodes = NULL;
  old->count = 0;
}

kiln_status *qz_add_convert(kiln_graph *g, kiln_op_type op, int in,
                            kiln_dtype dtype, const char *suffix,
                            int source_index, int *out_value) {
  size_t len = strlen(g->values[in].name) + strlen(suffix) + 1;
  char *name = kiln_malloc(g->alloc, len);
  if (!name) return KILN_OOM();
  snprintf(name, len, "%s%s", g->values[in].name, suffix);
  int id;
  kiln_status *st = kiln_graph_add_value(g, name, &id);
  kiln_free(g->alloc, name);
  if (st) return st;
  kiln_value *src = &g->values[in], *v = &g->values[id];
  v->dtype = dtype;
  v->rank = src->rank;
  memcpy(v->dims, src->dims, sizeof v->dims);
  memcpy(v->signature, src->signature, sizeof v->signature);
  kiln_node *n;
  KILN_TRY(kiln_graph_add_node(g, op, &in, 1, &id, 1, source_index, &n));
  *out_value = id;
  return NULL;
}

kiln_status *qz_drop_unused_values(kiln_graph *g) {
  int count = g->num_values;
  int *remap = kiln_calloc(g->alloc, (size_t)count + 1, sizeof(int));
  if (!remap) return KILN_OOM();
  for (int n = 0; n < g->num_nodes; n++) {
    for (int i = 0; i < g->nodes[n].num_inputs; i++)
      if (g->nodes[n].inputs[i] >= 0) remap[g->nodes[n].inputs[i]] = 1;
    for (int i = 0; i < g->nodes[n].num_outputs; i++)
      remap[g->nodes[n].outputs[i]] = 1;
  }
  for (int i = 0; i < g->num_inputs; i++) remap[g->inputs[i]] = 1;
  for (int i = 0; i < g->num_outputs; i++) remap[g->outputs[i]] = 1;
  int kept = 0;
  for (int v = 0; v < count; v++) {
    if (remap[v]) {
      g->values[kept] = g->values[v];
      remap[v] = kept++;
    } else {
      kiln_value *dead = &g->values[v];
      kiln_free(g->alloc, dead->name);
      kiln_free(g->alloc, (void *)dead->quant.scale);
      kiln_free(g->alloc, (void *)dead->quant.zero_point);
      kiln_free(g->alloc, dead->owned_data);
      remap[v] = -1;
    }
  }
  g->num_values = kept;
  for (int n = 0; n < g->num_nodes; n++) {
    for (int i = 0; i < g->nodes[n].num_inputs; i++)
      if (g->nodes[n].inputs[i] >= 0)
        g->nodes[n].inputs[i] = remap[g->nodes[n].inputs[i]];
    for (int i = 0; i < g->nodes[n].num_outputs; i++)
      g->nodes[n].outputs[i] = remap[g->nodes[n].outputs[i]];
  }
  for (int i = 0; i < g->num_inputs; i++) g->inputs[i] = remap[g->inputs[i]];
  for (int i = 0; i < g->num_outputs; i++) g->outputs[i] = remap[g->outputs[i]];
  kiln_free(g->alloc, remap);
  return NULL;
}

kiln_status *qz_float_activations(const kiln_graph *g, int **out_ids,
                                  int *out_count) {
  bool *produced = calloc((size_t)g->num_values + 1, 1);
  int *ids = malloc(sizeof(int) * ((size_t)g->num_values + 1));
  if (!produced || !ids) {
    free(produced);
    free(ids);
    return KILN_OOM();
  }
  for (int n = 0; n < g->num_nodes; n++)
    for (int i = 0; i < g->nodes[n].num_outputs; i++)
      produced[g->nodes[n].outputs[i]] = true;
  int count = 0;
  for (int v = 0; v < g->num_values; v++)
    if (produced[v] && g->values[v].dtype == KILN_FLOAT32 &&
        !g->values[v].is_variable)
      ids[count++] = v;
  free(produced);
  *out_ids = ids;
  *out_count = count;
  return NULL;
}

/* Replaces the graph's outputs by `values`, named as the values are. */
static kiln_status *set_outputs(kiln_graph *g, const int *values, int count) {
  int *ids = kiln_malloc(g->alloc, sizeof(int) * ((size_t)count + 1));
  char **names = kiln_calloc(g->alloc, (size_t)count + 1, sizeof(char *));
  if (!ids || !names) {
    kiln_free(g->alloc, ids);
    kiln_free(g->alloc, names);
    return KILN_OOM();
  }
  for (int i = 0; i < g->num_outputs; i++)
    kiln_free(g->alloc, g->output_names[i]);
  kiln_free(g->alloc, g->output_names);
  kiln_free(g->alloc, g->outputs);
  g->outputs = ids;
  g->output_names = names;
  g->num_outputs = count;
  for (int i = 0; i < count; i++) {
    ids[i] = values[i];
    names[i] = kiln_strdup(g->alloc, g->values[values[i]].name);
    if (!names[i]) return KILN_OOM();
  }
  return NULL;
}

kiln_status *qz_observing_model(kiln_graph *g, const char *source,
                                const int *values, int count,
                                kiln_model **out) {
  kiln_status *st = set_outputs(g, values, count);
  if (st) {
    kiln_graph_free(g);
    return st;
  }
  return kiln_model_from_graph(g, source, NULL, false, out);
}
