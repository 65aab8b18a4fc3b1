/* keras_import.c - walks a Keras model config (Sequential or Functional,
 * as Keras 3 and tf.keras 2 write it) and calls each layer's builder in an
 * order where its inputs exist. Functional layers name their inputs by
 * keras_history [layer, node index, tensor index], the node index counting
 * the layer's calls within this model; a layer called twice (shared) is
 * built twice over the same weights. A nested model is inlined: its
 * InputLayers are bound to the tensors it was called on and its layers'
 * names (and weights) are scoped by its own name. */
#include "formats/keras/keras_import.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "formats/keras/keras_build.h"
#include "formats/keras/keras_file.h"
#include "passes/pass_util.h"

/* A layer's calls: each call's output value ids. */
typedef struct layer_calls {
  const char *name;
  const json_t *layer;
  int num_calls, cap_calls;
  int (*outputs)[KILN_KERAS_MAX_OUTPUTS];
  int *num_outputs;
} layer_calls;

typedef struct importer {
  kiln_graph *g;
  kiln_keras_file *file;
  const char *source;
  int cap_source_ops; /* room in g->source_ops */
  bool batch_dynamic;
  int depth;
} importer;

static kiln_status *bad(const importer *im, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static kiln_status *bad(const importer *im, const char *fmt, ...) {
  char message[768];
  va_list args;
  va_start(args, fmt);
  vsnprintf(message, sizeof message, fmt, args);
  va_end(args);
  return kiln_error(KILN_ERR_INVALID_MODEL, "%s: %s", im->source, message);
}

static kiln_status *build_model(importer *im, const json_t *model,
                                const char *scope, const int *bound,
                                int num_bound, int *outputs, int *num_outputs);

static const char *layer_name(const json_t *layer) {
  const json_t *n = json_object_get(layer, "name");
  if (!json_is_string(n))
    n = json_object_get(json_object_get(layer, "config"), "name");
  return json_is_string(n) ? json_string_value(n) : NULL;
}

static const char *class_of(const json_t *layer) {
  const json_t *c = json_object_get(layer, "class_name");
  return json_is_string(c) ? json_string_value(c) : "";
}

static bool is_model_class(const char *c) {
  return strcmp(c, "Functional") == 0 || strcmp(c, "Sequential") == 0 ||
         strcmp(c, "Model") == 0;
}

/* Records the outputs of one more call of `lc`. */
static kiln_status *add_call(const importer *im, layer_calls *lc,
                             const int *outputs, int n) {
  if (lc->num_calls == lc->cap_calls) {
    int cap = lc->cap_calls ? 2 * lc->cap_calls : 2;
    void *o = kiln_realloc(im->g->alloc, lc->outputs,
                           (size_t)cap * sizeof *lc->outputs);
    if (!o) return KILN_OOM();
    lc->outputs = o;
    void *c = kiln_realloc(im->g->alloc, lc->num_outputs,
                           (size_t)cap * sizeof *lc->num_outputs);
    if (!c) return KILN_OOM();
    lc->num_outputs = c;
    lc->cap_calls = cap;
  }
  memcpy(lc->outputs[lc->num_calls], outputs, (size_t)n * sizeof(int));
  lc->num_outputs[lc->num_calls++] = n;
  return NULL;
}

/* The InputLayer's batch shape: Keras 3 "batch_shape", tf.keras
 * "batch_input_shape". */
static const json_t *input_shape_of(const json_t *config) {
  const json_t *s = json_object_get(config, "batch_shape");
  if (!json_is_array(s)) s = json_object_get(config, "batch_input_shape");
  return json_is_array(s) ? s : NULL;
}

static kiln_dtype dtype_of(const json_t *config) {
  const json_t *d = json_object_get(config, "dtype");
  /* Keras 3 may write a DTypePolicy object. */
  if (json_is_object(d))
    d = json_object_get(json_object_get(d, "config"), "name");
  const char *name = json_is_string(d) ? json_string_value(d) : "float32";
  static const struct {
    const char *name;
    kiln_dtype dtype;
  } known[] = {{"float32", KILN_FLOAT32}, {"int32", KILN_INT32},
               {"int64", KILN_INT64},     {"uint8", KILN_UINT8},
               {"int8", KILN_INT8},       {"bool", KILN_BOOL},
               {"float16", KILN_FLOAT16}};
  for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
    if (strcmp(name, known[i].name) == 0) return known[i].dtype;
  return KILN_DTYPE_INVALID;
}

/* Records a built layer's class for `kiln info`; its index is the source
 * index of the layer's nodes. */
static kiln_status *add_source_op(importer *im, const char *cls, int *index) {
  kiln_graph *g = im->g;
  if (g->num_source_ops == im->cap_source_ops) {
    int cap = im->cap_source_ops ? 2 * im->cap_source_ops : 32;
    char **grown =
        kiln_realloc(g->alloc, g->source_ops, (size_t)cap * sizeof *grown);
    if (!grown) return KILN_OOM();
    g->source_ops = grown;
    im->cap_source_ops = cap;
  }
  char *copy = kiln_strdup(g->alloc, cls);
  if (!copy) return KILN_OOM();
  *index = g->num_source_ops;
  g->source_ops[g->num_source_ops++] = copy;
  return NULL;
}

/* A graph input for an InputLayer (or a Sequential's first layer's
 * batch_input_shape). */
static kiln_status *add_input(importer *im, const char *name,
                              const json_t *config, int *out) {
  const json_t *shape = input_shape_of(config);
  if (!shape)
    return bad(im,
               "input '%s' has no batch_shape: kiln needs the input's "
               "rank",
               name);
  size_t rank = json_array_size(shape);
  if (rank < 1 || rank > KILN_MAX_RANK)
    return bad(im, "input '%s' has rank %zu (1 to %d supported)", name, rank,
               KILN_MAX_RANK);
  kiln_dtype dtype = dtype_of(config);
  if (dtype == KILN_DTYPE_INVALID)
    return bad(im, "input '%s' has a dtype kiln does not run", name);
  int index;
  KILN_TRY(add_source_op(im, "InputLayer", &index));
  KILN_TRY(kiln_graph_add_value(im->g, name, out));
  kiln_value *v = &im->g->values[*out];
  v->dtype = dtype;
  v->rank = (int)rank;
  for (size_t d = 0; d < rank; d++) {
    const json_t *e = json_array_get(shape, d);
    if (json_is_null(e)) {
      /* Unknown: 1 until the caller resizes (the batch, or a free size). */
      v->dims[d] = 1;
      v->signature[d] = -1;
      if (d == 0) im->batch_dynamic = true;
    } else if (json_is_integer(e) && json_integer_value(e) >= 0 &&
               json_integer_value(e) <= (1 << 24)) {
      v->dims[d] = v->signature[d] = json_integer_value(e);
    } else {
      return bad(im,
                 "input '%s': dimension %zu of batch_shape is not a "
                 "size",
                 name, d);
    }
  }
  return NULL;
}

/* Calls one layer on `inputs`. */
static kiln_status *call_layer(importer *im, const json_t *layer,
                               const json_t *call, const char *scope,
                               const int *inputs, int num_inputs, int *outputs,
                               int *num_outputs) {
  const char *name = layer_name(layer), *cls = class_of(layer);
  if (!name) return bad(im, "a layer of class '%s' has no name", cls);
  char scoped[512];
  snprintf(scoped, sizeof scoped, "%s%s", scope, name);
  if (is_model_class(cls)) {
    char inner[520];
    snprintf(inner, sizeof inner, "%s/", scoped);
    return build_model(im, layer, inner, inputs, num_inputs, outputs,
                       num_outputs);
  }
  if (strcmp(cls, "Lambda") == 0)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "%s: layer '%s' is a Lambda layer: its Python code is "
                      "not in the file, so kiln cannot run it (rewrite it as "
                      "built-in layers, or export a SavedModel)",
                      im->source, scoped);
  const kiln_keras_layer_def *def = kiln_keras_find_layer(cls);
  if (!def)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "%s: layer '%s' has class '%s', which kiln cannot "
                      "build (not a built-in Keras layer kiln knows)",
                      im->source, scoped, cls);
  const json_t *config = json_object_get(layer, "config");
  if (!json_is_object(config))
    return bad(im, "layer '%s' has no config object", scoped);
  kiln_keras_builder b = {.g = im->g,
                          .file = im->file,
                          .source = im->source,
                          .layer = scoped,
                          .class_name = cls,
                          .config = config,
                          .batch_dynamic = im->batch_dynamic,
                          .call = json_is_object(call) ? call : NULL};
  KILN_TRY(add_source_op(im, cls, &b.layer_index));
  for (int i = 0; i < num_inputs; i++)
    if (inputs[i] < 0)
      return bad(im, "layer '%s': input %d is missing", scoped, i);
  int first_new = im->g->num_values;
  KILN_TRY(def->build(&b, inputs, num_inputs, outputs, num_outputs));
  /* The layer's outputs carry its name (what Keras calls the model's
   * outputs), whatever the builder named its last node. */
  for (int i = 0; i < *num_outputs; i++) {
    if (outputs[i] < first_new) continue;
    char label[540];
    if (i == 0)
      snprintf(label, sizeof label, "%s", scoped);
    else
      snprintf(label, sizeof label, "%s_%d", scoped, i);
    char *copy = kiln_strdup(im->g->alloc, label);
    if (!copy) return KILN_OOM();
    kiln_free(im->g->alloc, im->g->values[outputs[i]].name);
    im->g->values[outputs[i]].name = copy;
  }
  return NULL;
}

/* ---- Functional ---- */

static layer_calls *find_calls(layer_calls *calls, int n, const char *name) {
  for (int i = 0; i < n; i++)
    if (strcmp(calls[i].name, name) == 0) return &calls[i];
  return NULL;
}

/* A [name, node, tensor] reference (a Keras 3 keras_history, a tf.keras
 * inbound entry or an input_layers/output_layers entry) to its value id;
 * -1 in *out when the producing call is not built yet. */
static kiln_status *resolve_ref(const importer *im, layer_calls *calls, int n,
                                const json_t *ref, int *out) {
  *out = -1;
  if (!json_is_array(ref) || json_array_size(ref) < 3 ||
      !json_is_string(json_array_get(ref, 0)) ||
      !json_is_integer(json_array_get(ref, 1)) ||
      !json_is_integer(json_array_get(ref, 2)))
    return bad(im, "a tensor reference is not [layer, node, tensor]");
  const char *name = json_string_value(json_array_get(ref, 0));
  json_int_t node = json_integer_value(json_array_get(ref, 1));
  json_int_t tensor = json_integer_value(json_array_get(ref, 2));
  layer_calls *lc = find_calls(calls, n, name);
  if (!lc)
    return bad(im,
               "a tensor reference names layer '%s', which the "
               "model does not have",
               name);
  if (node < 0 || tensor < 0 || tensor >= KILN_KERAS_MAX_OUTPUTS)
    return bad(im, "a reference to layer '%s' has node %lld tensor %lld", name,
               (long long)node, (long long)tensor);
  if (node >= lc->num_calls) return NULL; /* not built yet */
  if (tensor >= lc->num_outputs[node])
    return bad(im, "a reference to layer '%s' asks for output %lld of %d", name,
               (long long)tensor, lc->num_outputs[node]);
  *out = lc->outputs[node][tensor];
  return NULL;
}

/* Collects, in order, the tensors of a Keras 3 call's args (tensors, or
 * lists of them) and the tensor-valued kwargs. *ready false when one is
 * not built yet. */
/* ids[] entry of a number argument, its value in scalars[]. */
#define SCALAR_ARG (-2)

static kiln_status *collect_v3(const importer *im, layer_calls *calls, int n,
                               const json_t *item, int *ids, double *scalars,
                               int *count, bool *ready, int depth) {
  if (depth > 8) return bad(im, "a layer call's arguments nest too deeply");
  if (json_is_array(item)) {
    size_t i;
    const json_t *e;
    json_array_foreach(item, i, e) KILN_TRY(
        collect_v3(im, calls, n, e, ids, scalars, count, ready, depth + 1));
    return NULL;
  }
  if (json_is_number(item) && depth <= 1 && scalars) {
    /* A number among the args: `x + 3.0` in a functional model is an Add
     * of the tensor and the number. Made a constant once the call runs. */
    if (*count >= 8) return bad(im, "a layer call has more than 8 inputs");
    scalars[*count] = json_number_value(item);
    ids[(*count)++] = SCALAR_ARG;
    return NULL;
  }
  if (!json_is_object(item)) return NULL; /* another plain value */
  const json_t *cls = json_object_get(item, "class_name");
  if (!json_is_string(cls) ||
      strcmp(json_string_value(cls), "__keras_tensor__") != 0)
    return NULL;
  const json_t *history =
      json_object_get(json_object_get(item, "config"), "keras_history");
  int id;
  KILN_TRY(resolve_ref(im, calls, n, history, &id));
  if (*count >= 8) return bad(im, "a layer call has more than 8 inputs");
  if (id < 0) *ready = false;
  ids[(*count)++] = id;
  return NULL;
}

/* The input value ids of call `node` of a layer, either format. */
static kiln_status *call_inputs(const importer *im, layer_calls *calls, int n,
                                const json_t *node, int *ids, double *scalars,
                                int *count, bool *ready) {
  *count = 0;
  *ready = true;
  if (json_is_object(node)) { /* Keras 3: {"args": [...], "kwargs": {...}} */
    KILN_TRY(collect_v3(im, calls, n, json_object_get(node, "args"), ids,
                        scalars, count, ready, 0));
    const json_t *kwargs = json_object_get(node, "kwargs");
    const char *key;
    const json_t *value;
    json_object_foreach((json_t *)kwargs, key, value)
        KILN_TRY(collect_v3(im, calls, n, value, ids, NULL, count, ready, 0));
    return NULL;
  }
  if (!json_is_array(node))
    return bad(im, "an inbound node is neither an object nor a list");
  /* tf.keras: [[layer, node, tensor, kwargs], ...]. */
  size_t i;
  const json_t *e;
  json_array_foreach(node, i, e) {
    if (*count >= 8) return bad(im, "a layer call has more than 8 inputs");
    int id;
    KILN_TRY(resolve_ref(im, calls, n, e, &id));
    if (id < 0) *ready = false;
    ids[(*count)++] = id;
  }
  return NULL;
}

/* A float32 scalar constant for a number argument. */
static kiln_status *scalar_const(importer *im, const char *layer, double value,
                                 int *out) {
  char name[512];
  snprintf(name, sizeof name, "%s/scalar", layer);
  static const int64_t dims[1] = {1};
  void *data;
  KILN_TRY(
      kiln_pass_add_constant(im->g, name, KILN_FLOAT32, 0, dims, out, &data));
  *(float *)data = (float)value;
  return NULL;
}

/* input_layers / output_layers: a list of references, or one reference. */
static const json_t *ref_at(const json_t *list, size_t i, size_t *count) {
  if (json_is_array(list) && json_array_size(list) >= 1 &&
      json_is_string(json_array_get(list, 0))) {
    *count = 1;
    return i == 0 ? list : NULL;
  }
  *count = json_is_array(list) ? json_array_size(list) : 0;
  return json_array_get(list, i);
}

static kiln_status *build_functional(importer *im, const json_t *config,
                                     const char *scope, const int *bound,
                                     int num_bound, int *outputs,
                                     int *num_outputs) {
  const json_t *layers = json_object_get(config, "layers");
  if (!json_is_array(layers) || json_array_size(layers) == 0 ||
      json_array_size(layers) > 100000)
    return bad(im, "the model config has no list of layers");
  int n = (int)json_array_size(layers);
  layer_calls *calls = kiln_calloc(im->g->alloc, (size_t)n, sizeof *calls);
  if (!calls) return KILN_OOM();
  kiln_status *st = NULL;
  for (int i = 0; i < n && !st; i++) {
    calls[i].layer = json_array_get(layers, (size_t)i);
    calls[i].name = layer_name(calls[i].layer);
    if (!calls[i].name) st = bad(im, "layer %d has no name", i);
    for (int k = 0; k < i && !st; k++)
      if (strcmp(calls[k].name, calls[i].name) == 0)
        st = bad(im, "two layers are named '%s'", calls[i].name);
  }
  /* InputLayers first: graph inputs at the top, the bound tensors of a
   * nested model in its input_layers order. */
  const json_t *input_layers = json_object_get(config, "input_layers");
  size_t num_in = 0;
  ref_at(input_layers, 0, &num_in);
  if (!st && scope[0] && num_in != (size_t)num_bound)
    st = bad(im, "nested model '%.*s' takes %zu inputs and is called with %d",
             (int)strlen(scope) - 1, scope, num_in, num_bound);
  for (size_t i = 0; i < num_in && !st; i++) {
    size_t c;
    const json_t *ref = ref_at(input_layers, i, &c);
    const char *name = json_string_value(json_array_get(ref, 0));
    layer_calls *lc = name ? find_calls(calls, n, name) : NULL;
    if (!lc || strcmp(class_of(lc->layer), "InputLayer") != 0) {
      st = bad(im, "input_layers names '%s', which is not an InputLayer",
               name ? name : "?");
      break;
    }
    if (lc->num_calls) continue;
    int id;
    if (scope[0]) {
      id = bound[i];
    } else {
      st = add_input(im, name, json_object_get(lc->layer, "config"), &id);
    }
    if (!st) st = add_call(im, lc, &id, 1);
  }
  /* Then every call whose inputs exist, until none is left. */
  bool progress = true;
  while (!st && progress) {
    progress = false;
    for (int i = 0; i < n && !st; i++) {
      layer_calls *lc = &calls[i];
      if (strcmp(class_of(lc->layer), "InputLayer") == 0) continue;
      const json_t *nodes = json_object_get(lc->layer, "inbound_nodes");
      while (!st && json_is_array(nodes) &&
             (size_t)lc->num_calls < json_array_size(nodes)) {
        int ins[8], count;
        double scalars[8];
        bool ready;
        st = call_inputs(im, calls, n,
                         json_array_get(nodes, (size_t)lc->num_calls), ins,
                         scalars, &count, &ready);
        if (st || !ready) break;
        for (int k = 0; k < count && !st; k++)
          if (ins[k] == SCALAR_ARG)
            st = scalar_const(im, lc->name, scalars[k], &ins[k]);
        if (st) break;
        int outs[KILN_KERAS_MAX_OUTPUTS], num = 0;
        st = call_layer(im, lc->layer,
                        json_array_get(nodes, (size_t)lc->num_calls), scope,
                        ins, count, outs, &num);
        if (!st) st = add_call(im, lc, outs, num);
        progress = true;
      }
    }
  }
  const json_t *output_layers = json_object_get(config, "output_layers");
  size_t num_out = 0;
  ref_at(output_layers, 0, &num_out);
  if (!st && (num_out == 0 || num_out > KILN_KERAS_MAX_OUTPUTS))
    st = bad(im, "the model lists %zu outputs (1 to %d supported)", num_out,
             KILN_KERAS_MAX_OUTPUTS);
  for (size_t i = 0; i < num_out && !st; i++) {
    size_t c;
    st = resolve_ref(im, calls, n, ref_at(output_layers, i, &c), &outputs[i]);
    if (!st && outputs[i] < 0)
      st = bad(
          im,
          "output %zu (layer '%s') cannot be computed from the "
          "model's inputs",
          i,
          json_string_value(json_array_get(ref_at(output_layers, i, &c), 0)));
  }
  *num_outputs = (int)num_out;
  for (int i = 0; i < n; i++) {
    kiln_free(im->g->alloc, calls[i].outputs);
    kiln_free(im->g->alloc, calls[i].num_outputs);
  }
  kiln_free(im->g->alloc, calls);
  return st;
}

/* ---- Sequential ---- */

static kiln_status *build_sequential(importer *im, const json_t *config,
                                     const char *scope, const int *bound,
                                     int num_bound, int *outputs,
                                     int *num_outputs) {
  const json_t *layers = json_object_get(config, "layers");
  if (!json_is_array(layers) || json_array_size(layers) == 0)
    return bad(im, "the Sequential model has no layers");
  int x = -1;
  size_t first = 0;
  const json_t *layer0 = json_array_get(layers, 0);
  if (scope[0]) {
    if (num_bound != 1)
      return bad(im, "a nested Sequential model is called with %d inputs",
                 num_bound);
    x = bound[0];
    if (strcmp(class_of(layer0), "InputLayer") == 0) first = 1;
  } else if (strcmp(class_of(layer0), "InputLayer") == 0) {
    KILN_TRY(add_input(im, layer_name(layer0) ? layer_name(layer0) : "input",
                       json_object_get(layer0, "config"), &x));
    first = 1;
  } else {
    /* tf.keras: the first layer carries batch_input_shape; Keras 3 may
     * keep build_input_shape on the model. */
    const json_t *c0 = json_object_get(layer0, "config");
    json_t *shape_holder = NULL;
    const json_t *source = c0;
    if (!input_shape_of(c0)) {
      const json_t *bis = json_object_get(config, "build_input_shape");
      if (!json_is_array(bis))
        return bad(im,
                   "the Sequential model has no InputLayer and no input "
                   "shape: kiln cannot tell the input's rank");
      shape_holder = json_pack("{sO}", "batch_shape", (json_t *)bis);
      if (!shape_holder) return KILN_OOM();
      source = shape_holder;
    }
    kiln_status *st = add_input(im, "input", source, &x);
    json_decref(shape_holder);
    KILN_TRY(st);
  }
  int outs[KILN_KERAS_MAX_OUTPUTS], num = 1;
  outs[0] = x;
  for (size_t i = first; i < json_array_size(layers); i++) {
    if (num != 1)
      return bad(im, "Sequential layer %zu follows a layer with %d outputs", i,
                 num);
    int in = outs[0];
    KILN_TRY(call_layer(im, json_array_get(layers, i), NULL, scope, &in, 1,
                        outs, &num));
  }
  memcpy(outputs, outs, (size_t)num * sizeof *outs);
  *num_outputs = num;
  return NULL;
}

static kiln_status *build_model(importer *im, const json_t *model,
                                const char *scope, const int *bound,
                                int num_bound, int *outputs, int *num_outputs) {
  if (++im->depth > 16) return bad(im, "models nest more than 16 deep");
  const char *cls = class_of(model);
  const json_t *config = json_object_get(model, "config");
  kiln_status *st;
  if (!json_is_object(config))
    st = bad(im, "the model config has no 'config' object");
  else if (strcmp(cls, "Sequential") == 0)
    st = build_sequential(im, config, scope, bound, num_bound, outputs,
                          num_outputs);
  else if (strcmp(cls, "Functional") == 0 || strcmp(cls, "Model") == 0)
    st = build_functional(im, config, scope, bound, num_bound, outputs,
                          num_outputs);
  else
    st = kiln_error(KILN_ERR_UNSUPPORTED,
                    "%s: the model is a '%s' (a subclassed model?): kiln "
                    "reads Sequential and Functional models",
                    im->source, cls);
  im->depth--;
  return st;
}

/* Gives every output a distinct value named by its layer. */
static kiln_status *set_io(importer *im, const int *outputs, int num_outputs) {
  int *inputs =
      kiln_calloc(im->g->alloc, (size_t)im->g->num_values + 1, sizeof *inputs);
  if (!inputs) return KILN_OOM();
  int num_inputs = 0;
  /* Graph inputs are the values no node produces and that are neither
   * constants: add_input made them, in order. */
  bool *produced = kiln_calloc(im->g->alloc, (size_t)im->g->num_values + 1, 1);
  if (!produced) {
    kiln_free(im->g->alloc, inputs);
    return KILN_OOM();
  }
  for (int n = 0; n < im->g->num_nodes; n++)
    for (int o = 0; o < im->g->nodes[n].num_outputs; o++)
      produced[im->g->nodes[n].outputs[o]] = true;
  for (int v = 0; v < im->g->num_values; v++)
    if (!produced[v] && !im->g->values[v].is_constant) inputs[num_inputs++] = v;
  kiln_status *st = NULL;
  for (int i = 0; i < num_outputs && !st; i++)
    for (int k = 0; k < num_inputs && !st; k++)
      if (outputs[i] == inputs[k])
        st = bad(im, "output %d is the model's input '%s' itself", i,
                 im->g->values[inputs[k]].name);
  if (!st)
    st = kiln_graph_set_io(im->g, inputs, NULL, num_inputs, outputs, NULL,
                           num_outputs);
  kiln_free(im->g->alloc, produced);
  kiln_free(im->g->alloc, inputs);
  return st;
}

static kiln_status *import_file(kiln_keras_file *file, const char *source,
                                const kiln_allocator *alloc,
                                kiln_graph **out_graph);

kiln_status *kiln_keras_import(const void *data, size_t size,
                               const char *source, const kiln_allocator *alloc,
                               kiln_graph **out_graph) {
  *out_graph = NULL;
  if (!source) source = "<memory>";
  kiln_keras_file file;
  KILN_TRY(kiln_keras_file_open(data, size, source, alloc, &file));
  kiln_status *st = import_file(&file, source, alloc, out_graph);
  kiln_keras_file_close(&file);
  return st;
}

kiln_status *kiln_keras_import_config(const char *json, size_t len,
                                      const char *source,
                                      const kiln_allocator *alloc,
                                      kiln_graph **out_graph) {
  *out_graph = NULL;
  if (!source) source = "<memory>";
  kiln_keras_file file = {.alloc = alloc,
                          .source = source,
                          .h5 = -1,
                          .synthetic = true,
                          .config = (char *)(uintptr_t)json,
                          .config_len = len};
  return import_file(&file, source, alloc, out_graph);
}

static kiln_status *import_file(kiln_keras_file *file, const char *source,
                                const kiln_allocator *alloc,
                                kiln_graph **out_graph) {
  json_error_t error;
  json_t *root = json_loadb(file->config, file->config_len, 0, &error);
  kiln_status *st = NULL;
  if (!json_is_object(root))
    st = kiln_error(KILN_ERR_INVALID_MODEL,
                    "%s: the model config is not a JSON object (line %d, "
                    "column %d: %s)",
                    source, error.line, error.column, error.text);
  kiln_graph *g = st ? NULL : kiln_graph_create(alloc);
  if (!st && !g) st = KILN_OOM();
  importer im = {.g = g, .file = file, .source = source};
  int outputs[KILN_KERAS_MAX_OUTPUTS], num_outputs = 0;
  if (!st) st = build_model(&im, root, "", NULL, 0, outputs, &num_outputs);
  if (!st) st = set_io(&im, outputs, num_outputs);
  if (!st) st = kiln_graph_validate(g, source);
  json_decref(root);
  if (st) {
    kiln_graph_free(g);
    return st;
  }
  *out_graph = g;
  return NULL;
}
