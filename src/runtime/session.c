/* session.c - a session: per-run state over a shared model. prepare infers
 * shapes, evaluates what is known before invoke, and plans the arena;
 * invoke only runs kernels. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/threadpool.h"
#include "runtime/control_flow.h"
#include "runtime/model.h"
#include "runtime/planner.h"
#include "runtime/session_internal.h"
#include "runtime/session_strings.h"

static const char *op_name(const kiln_node *n) {
  return kiln_op_table[n->op].name;
}

/* Prefixes an operator's error with where it is: the file, or for a
 * subgraph's session nothing more, as the calling operator's message
 * already names the file and the subgraph. */
static kiln_status *at_node(const kiln_session *s, kiln_status *st,
                            const kiln_node *node) {
  if (s->parent)
    return kiln_status_wrap(st, "operator %d (%s)", node->source_index,
                            op_name(node));
  return kiln_status_wrap(st, "%s: operator %d (%s)", s->model->source,
                          node->source_index, op_name(node));
}

/* Builds each node's context once: the graph's topology never changes,
 * only the shapes and data pointers inside the tensors do. */
static kiln_status *build_contexts(kiln_session *s) {
  const kiln_graph *g = s->graph;
  size_t total = 0;
  for (int n = 0; n < g->num_nodes; n++)
    total += (size_t)g->nodes[n].num_inputs + (size_t)g->nodes[n].num_outputs;
  s->io_pointers = kiln_calloc(s->alloc, total + 1, sizeof(kiln_tensor *));
  s->contexts =
      kiln_calloc(s->alloc, (size_t)g->num_nodes + 1, sizeof(kiln_op_ctx));
  if (!s->io_pointers || !s->contexts) return KILN_OOM();
  /* Per-node state (a random generator's position) lives as long as the
   * session, so that each invoke draws new numbers without allocating;
   * such nodes get it as ctx->packed (kernel.h: kiln_op_state). */
  size_t state_total = 0;
  for (int n = 0; n < g->num_nodes; n++)
    state_total += kiln_op_state_bytes(g->nodes[n].op);
  if (state_total) {
    s->node_state = kiln_calloc(s->alloc, 1, state_total);
    if (!s->node_state) return KILN_OOM();
  }
  unsigned char *state_cursor = s->node_state;
  kiln_tensor **cursor = s->io_pointers;
  for (int n = 0; n < g->num_nodes; n++) {
    const kiln_node *node = &g->nodes[n];
    kiln_op_ctx *ctx = &s->contexts[n];
    ctx->attrs = node->attrs;
    ctx->packed = s->model->packed[n];
    ctx->quant = s->model->quant[n];
    ctx->pool = s->pool;
    size_t state_bytes = kiln_op_state_bytes(node->op);
    if (state_bytes) { /* kernel.h: kiln_op_state */
      if (ctx->packed)
        return kiln_error(KILN_ERR_INTERNAL,
                          "operator %d (%s) has packed weights and state",
                          node->source_index, op_name(node));
      ctx->packed = state_cursor;
      state_cursor += state_bytes;
    }
    ctx->inputs = cursor;
    ctx->num_inputs = node->num_inputs;
    for (int i = 0; i < node->num_inputs; i++)
      *cursor++ = node->inputs[i] < 0 ? NULL : &s->tensors[node->inputs[i]];
    ctx->outputs = cursor;
    ctx->num_outputs = node->num_outputs;
    for (int i = 0; i < node->num_outputs; i++)
      *cursor++ = &s->tensors[node->outputs[i]];
  }
  return NULL;
}

static bool has_dynamic_input(const kiln_graph *g) {
  for (int i = 0; i < g->num_inputs; i++) {
    const kiln_value *v = &g->values[g->inputs[i]];
    for (int d = 0; d < v->rank; d++)
      if (v->signature[d] < 0) return true;
  }
  return false;
}

/* Variables (an LSTM's states) keep their values across invokes, so they
 * live outside the arena, which later steps reuse: one block each, sized
 * by the model's shape for them (operators check it; variables are never
 * resized), allocated once per session, for those an operator reads. */
static kiln_status *alloc_variable(kiln_session *s, int v) {
  if (v < 0 || !s->graph->values[v].is_variable || s->state_data[v])
    return NULL;
  const kiln_value *value = &s->graph->values[v];
  size_t nbytes;
  KILN_TRY(kiln_value_nbytes(value, &nbytes));
  s->state_data[v] = kiln_calloc(s->alloc, 1, nbytes ? nbytes : 1);
  if (!s->state_data[v]) return KILN_OOM();
  s->state_bytes[v] = nbytes;
  return NULL;
}

static kiln_status *alloc_state(kiln_session *s) {
  const kiln_graph *g = s->graph;
  for (int n = 0; n < g->num_nodes; n++)
    for (int i = 0; i < g->nodes[n].num_inputs; i++)
      KILN_TRY(alloc_variable(s, g->nodes[n].inputs[i]));
  /* A variable that is a graph input or output needs its bytes too. */
  for (int i = 0; i < g->num_inputs; i++)
    KILN_TRY(alloc_variable(s, g->inputs[i]));
  for (int i = 0; i < g->num_outputs; i++)
    KILN_TRY(alloc_variable(s, g->outputs[i]));
  return NULL;
}

/* Sets every variable to its initial value: the file's bytes when it gives
 * them, else zero (for quantized integers, the zero point), which is what
 * TFLite's ResetVariableTensors writes. */
static void reset_state(kiln_session *s) {
  const kiln_graph *g = s->graph;
  for (int v = 0; v < g->num_values; v++) {
    const kiln_value *value = &g->values[v];
    size_t nbytes = s->state_bytes[v];
    unsigned char *state = s->state_data[v];
    if (!value->is_variable || !state) continue;
    if (value->data && value->nbytes == nbytes) {
      memcpy(state, value->data, nbytes);
      continue;
    }
    int64_t zero = value->quant.count ? value->quant.zero_point[0] : 0;
    if (zero != 0 && value->dtype == KILN_INT8)
      memset(state, (int)(int8_t)zero, nbytes);
    else if (zero != 0 && value->dtype == KILN_UINT8)
      memset(state, (int)(uint8_t)zero, nbytes);
    else
      memset(state, 0, nbytes);
  }
}

kiln_status *kiln_session_reset_variables(kiln_session *s) {
  if (!s)
    return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                      "kiln_session_reset_variables: NULL session");
  reset_state(s);
  kiln_cf_reset(s);
  return NULL;
}

kiln_status *kiln_session_new(const kiln_model *model,
                              const kiln_options *options, kiln_session *root,
                              kiln_session **out_session) {
  *out_session = NULL;
  const kiln_allocator *alloc = model->alloc;
  kiln_session *s = kiln_calloc(alloc, 1, sizeof *s);
  if (!s) return KILN_OOM();
  const kiln_graph *g = model->graph;
  s->model = model;
  s->graph = g;
  s->alloc = alloc;
  s->root = root ? root : s;
  s->num_threads = (options ? options : &model->options)->num_threads;
  s->max_memory = (options ? options : &model->options)->max_memory_bytes;
  if (!s->max_memory) s->max_memory = KILN_DEFAULT_MAX_MEMORY;
  size_t values = (size_t)g->num_values + 1;
  size_t nodes = (size_t)g->num_nodes + 1;
  s->tensors = kiln_calloc(alloc, values, sizeof(kiln_tensor));
  s->homes = kiln_calloc(alloc, values, 1);
  s->known_data = kiln_calloc(alloc, values, sizeof(void *));
  s->state_data = kiln_calloc(alloc, values, sizeof(void *));
  s->state_bytes = kiln_calloc(alloc, values, sizeof(size_t));
  s->dynamic_data = kiln_calloc(alloc, values, sizeof(void *));
  s->dynamic_capacity = kiln_calloc(alloc, values, sizeof(size_t));
  s->input_dims =
      kiln_calloc(alloc, (size_t)g->num_inputs + 1, sizeof *s->input_dims);
  s->input_ranks = kiln_calloc(alloc, (size_t)g->num_inputs + 1, sizeof(int));
  s->steps = kiln_calloc(alloc, nodes, sizeof(step));
  s->plan_items = kiln_calloc(alloc, values, sizeof(kiln_plan_item));
  s->plan_values = kiln_calloc(alloc, values, sizeof(int));
  s->plan_scratch = kiln_calloc(alloc, 2 * values, sizeof(int));
  s->step_start_us = kiln_calloc(alloc, nodes, sizeof(double));
  s->step_duration_us = kiln_calloc(alloc, nodes, sizeof(double));
  s->children = kiln_calloc(alloc, 2 * nodes, sizeof(kiln_session *));
  s->once_done = kiln_calloc(alloc, nodes, sizeof(bool));
  kiln_status *st = NULL;
  if (!s->tensors || !s->homes || !s->known_data || !s->state_data ||
      !s->state_bytes || !s->dynamic_data || !s->dynamic_capacity ||
      !s->input_dims || !s->input_ranks || !s->steps || !s->plan_items ||
      !s->plan_values || !s->plan_scratch || !s->step_start_us ||
      !s->step_duration_us || !s->children || !s->once_done)
    st = KILN_OOM();
  if (!st && root)
    s->pool = root->pool;
  else if (!st)
    st = kiln_threadpool_create(s->num_threads, alloc, &s->pool);
  if (!st) st = build_contexts(s);
  if (!st) st = alloc_state(s);
  for (int i = 0; !st && i < g->num_inputs; i++) {
    const kiln_value *v = &g->values[g->inputs[i]];
    memcpy(s->input_dims[i], v->dims, sizeof s->input_dims[i]);
    s->input_ranks[i] = v->rank;
  }
  if (!st) st = kiln_cf_create(s);
  if (st) {
    kiln_session_free(s);
    return st;
  }
  *out_session = s;
  return NULL;
}

kiln_status *kiln_session_create(const kiln_model *model,
                                 const kiln_options *options,
                                 kiln_session **out_session) {
  if (!model || !out_session)
    return kiln_error(
        KILN_ERR_INVALID_ARGUMENT,
        "kiln_session_create: model and out_session are required");
  kiln_session *s = NULL;
  KILN_TRY(kiln_session_new(model, options, NULL, &s));
  const kiln_graph *g = model->graph;
  kiln_status *st = kiln_session_prepare(s);
  /* The file's sizes for dynamic dimensions are placeholders (often 1):
   * a model whose real sizes are the caller's to give is not refused for
   * them. The session waits unprepared for resize_input and prepare, as
   * LiteRT waits for ResizeInputTensor and AllocateTensors. */
  if (st && has_dynamic_input(g) &&
      kiln_status_get_code(st) != KILN_ERR_OUT_OF_MEMORY) {
    s->default_shape_error = st;
    st = NULL;
  }
  if (st) {
    kiln_session_free(s);
    return st;
  }
  *out_session = s;
  return NULL;
}

static void release_known(kiln_session *s) {
  s->known_bytes = 0;
  for (int v = 0; v < s->graph->num_values; v++) {
    kiln_free(s->alloc, s->known_data[v]);
    s->known_data[v] = NULL;
  }
}

void kiln_session_free(kiln_session *s) {
  if (!s) return;
  const kiln_allocator *alloc = s->alloc;
  if (s->known_data) release_known(s);
  kiln_free(alloc, s->known_data);
  for (int v = 0; s->state_data && v < s->graph->num_values; v++)
    kiln_free(alloc, s->state_data[v]);
  kiln_free(alloc, s->state_data);
  kiln_free(alloc, s->state_bytes);
  for (int v = 0; s->dynamic_data && v < s->graph->num_values; v++)
    kiln_free(alloc, s->dynamic_data[v]);
  kiln_free(alloc, s->dynamic_data);
  kiln_free(alloc, s->dynamic_capacity);
  kiln_free(alloc, s->tensors);
  kiln_free(alloc, s->homes);
  kiln_free(alloc, s->contexts);
  kiln_free(alloc, s->io_pointers);
  kiln_free(alloc, s->node_state);
  kiln_free(alloc, s->input_dims);
  kiln_free(alloc, s->input_ranks);
  kiln_cf_free(s);
  kiln_session_free_strings(s);
  kiln_free(alloc, s->children);
  kiln_free(alloc, s->once_done);
  kiln_free(alloc, s->steps);
  kiln_free(alloc, s->plan_items);
  kiln_free(alloc, s->plan_values);
  kiln_free(alloc, s->plan_scratch);
  kiln_free(alloc, s->step_start_us);
  kiln_free(alloc, s->step_duration_us);
  if (s->root == s) kiln_threadpool_free(s->pool);
  kiln_status_free(s->default_shape_error);
  kiln_free(alloc, s->arena);
  kiln_free(alloc, s);
}

/* Resets every tensor to what the model alone says: constants with their
 * data, inputs with the requested shapes, everything else unknown. */
static void reset_tensors(kiln_session *s) {
  const kiln_graph *g = s->graph;
  release_known(s);
  for (int v = 0; v < g->num_values; v++) {
    const kiln_value *value = &g->values[v];
    kiln_tensor *t = &s->tensors[v];
    memset(t, 0, sizeof *t);
    t->dtype = value->dtype;
    t->rank = value->rank;
    memcpy(t->dims, value->dims, sizeof t->dims);
    t->quant = value->quant.count ? &value->quant : NULL;
    s->homes[v] = value->is_constant   ? HOME_CONSTANT
                  : value->is_variable ? HOME_STATE
                                       : HOME_ARENA;
    if (value->is_constant) t->data = (void *)value->data;
    if (value->is_variable) t->data = s->state_data[v];
  }
  for (int i = 0; i < g->num_inputs; i++) {
    memcpy(s->tensors[g->inputs[i]].dims, s->input_dims[i],
           sizeof s->input_dims[i]);
    s->tensors[g->inputs[i]].rank = s->input_ranks[i];
  }
}

/* For a loop subgraph prepared with its values (value_inputs): small
 * integer inputs (loop counters, at most 16 elements) become values known
 * at prepare, copied from the caller's tensors, so that the shapes that
 * depend on them resolve. */
static kiln_status *known_inputs(kiln_session *s) {
  enum { MAX_KNOWN_INPUT = 16 };
  const kiln_graph *g = s->graph;
  for (int i = 0; s->value_inputs && s->input_sources && i < g->num_inputs;
       i++) {
    int v = g->inputs[i];
    kiln_tensor *t = &s->tensors[v];
    const kiln_tensor *source = s->input_sources[i + s->input_offset];
    if ((t->dtype != KILN_INT32 && t->dtype != KILN_INT64) || !source ||
        !source->data || kiln_tensor_numel(t) > MAX_KNOWN_INPUT ||
        s->homes[v] != HOME_ARENA || s->known_data[v])
      continue;
    size_t nbytes = kiln_tensor_nbytes(t);
    s->known_data[v] = kiln_calloc(s->alloc, 1, nbytes ? nbytes : 1);
    if (!s->known_data[v]) return KILN_OOM();
    memcpy(s->known_data[v], source->data, nbytes);
    s->known_bytes += nbytes;
    t->data = s->known_data[v];
    s->homes[v] = HOME_KNOWN;
  }
  return NULL;
}

static kiln_status *checked_nbytes(const kiln_tensor *t, const char *name,
                                   size_t *out) {
  kiln_value probe;
  memset(&probe, 0, sizeof probe);
  probe.name = (char *)name;
  probe.dtype = t->dtype;
  probe.rank = t->rank;
  memcpy(probe.dims, t->dims, sizeof probe.dims);
  return kiln_value_nbytes(&probe, out);
}

/* The session's memory limit, applied to one tensor or to a total. */
static kiln_status *check_memory(const kiln_session *s, size_t bytes,
                                 const char *what, const kiln_tensor *t) {
  if (bytes <= s->max_memory) return NULL;
  char dims[KILN_DIMS_STR_SIZE] = "";
  if (t) kiln_dims_str(t->dims, t->rank, dims, sizeof dims);
  return kiln_error(KILN_ERR_OUT_OF_MEMORY,
                    "%s%s%s needs %zu bytes, over the session's memory limit "
                    "of %zu bytes (raise kiln_options.max_memory_bytes, or "
                    "--max-memory on the command line)",
                    what, t ? " at shape " : "", dims, bytes, s->max_memory);
}

/* A node can run at prepare when its result depends only on shapes (SHAPE,
 * RANK) or on values already known; the shape arithmetic of dynamic-batch
 * models (SHAPE -> STRIDED_SLICE -> PACK -> RESHAPE) resolves this way. */
static bool known_before_invoke(const kiln_session *s, const kiln_node *n) {
  if (n->op == KILN_OP_SHAPE || n->op == KILN_OP_RANK) return true;
  /* Custom callbacks run at invoke, as TFLite runs them; so do control
   * flow and variables, which have effects beyond their outputs. */
  if (kiln_op_runs_in_session(n->op)) return false;
  for (int i = 0; i < n->num_inputs; i++) {
    int v = n->inputs[i];
    if (v >= 0 && (s->homes[v] == HOME_ARENA || s->homes[v] == HOME_STATE))
      return false;
  }
  return true;
}

static kiln_status *evaluate_now(kiln_session *s, int n) {
  const kiln_node *node = &s->graph->nodes[n];
  for (int i = 0; i < node->num_outputs; i++) {
    int v = node->outputs[i];
    size_t nbytes = 0;
    KILN_TRY(checked_nbytes(&s->tensors[v], s->graph->values[v].name, &nbytes));
    KILN_TRY(check_memory(s, s->known_bytes + nbytes,
                          "values computed at prepare", NULL));
    s->known_bytes += nbytes;
    s->known_data[v] = kiln_calloc(s->alloc, 1, nbytes);
    if (!s->known_data[v]) return KILN_OOM();
    s->tensors[v].data = s->known_data[v];
    s->homes[v] = HOME_KNOWN;
  }
  return kiln_op_table[node->op].reference(&s->contexts[n]);
}

/* A step whose outputs are all empty (a batch of 0) has nothing to
 * compute: it runs this instead of its kernel, so that no kernel, and no
 * optimized variant with its row splits and packed panels, ever sees an
 * empty tensor at invoke. Operators the session runs itself (control flow,
 * variables, custom callbacks) may act beyond their outputs and still run. */
static kiln_status *skip_empty(const kiln_op_ctx *ctx) {
  (void)ctx;
  return NULL;
}

static bool outputs_all_empty(const kiln_session *s, const kiln_node *node) {
  if (node->num_outputs == 0 || kiln_op_runs_in_session(node->op)) return false;
  for (int i = 0; i < node->num_outputs; i++)
    if (kiln_tensor_numel(&s->tensors[node->outputs[i]]) != 0) return false;
  return true;
}

/* The first input of node n that is sized at invoke, or -1. */
static int dynamic_input(const kiln_session *s, const kiln_node *node) {
  for (int i = 0; i < node->num_inputs; i++)
    if (node->inputs[i] >= 0 && s->homes[node->inputs[i]] == HOME_DYNAMIC)
      return i;
  return -1;
}

/* A node downstream of an output sized at invoke: its shapes are known
 * only at invoke, so its outputs are sized at invoke too (with the rank
 * the model gives until then) and its step runs its shape function again
 * first. Control flow, variables and custom operators are refused there:
 * they prepare state of their own (child sessions, variable storage). */
static kiln_status *defer_node(kiln_session *s, int n, int input) {
  const kiln_node *node = &s->graph->nodes[n];
  if (kiln_op_runs_in_session(node->op))
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "input %d is sized at invoke (its shape depends on "
                      "values computed at invoke), and kiln sizes %s's "
                      "inputs at prepare",
                      input, op_name(node));
  for (int i = 0; i < node->num_outputs; i++) {
    int v = node->outputs[i];
    kiln_defer_output(&s->tensors[v], s->tensors[v].rank);
    s->homes[v] = HOME_DYNAMIC;
  }
  step *next = &s->steps[s->num_steps++];
  next->kernel = kiln_op_table[node->op].reference;
  next->kernel_name = "ref";
  next->node = n;
  next->flops = 0.0; /* unknown before invoke */
  next->reshape = true;
  return NULL;
}

static kiln_status *infer_shapes(kiln_session *s) {
  const kiln_graph *g = s->graph;
  s->num_steps = 0;
  s->workspace = 0;
  s->flops = 0.0;
  for (int n = 0; n < g->num_nodes; n++) {
    const kiln_node *node = &g->nodes[n];
    const kiln_op_def *def = &kiln_op_table[node->op];
    int dynamic = dynamic_input(s, node);
    if (dynamic >= 0) {
      kiln_status *st = defer_node(s, n, dynamic);
      if (st) return at_node(s, st, node);
      continue;
    }
    bool control = kiln_cf_is_control(node->op);
    kiln_status *st =
        control ? kiln_cf_prepare(s, n) : def->shape(&s->contexts[n]);
    bool deferred = false;
    for (int i = 0; !st && i < node->num_outputs; i++) {
      size_t nbytes;
      int v = node->outputs[i];
      if (!control && kiln_tensor_deferred(&s->tensors[v])) {
        s->homes[v] = HOME_DYNAMIC;
        deferred = true;
        continue;
      }
      st = checked_nbytes(&s->tensors[v], g->values[v].name, &nbytes);
      if (!st) {
        char what[96];
        snprintf(what, sizeof what, "output %d", i);
        st = check_memory(s, nbytes, what, &s->tensors[v]);
      }
    }
    bool known = !deferred && known_before_invoke(s, node);
    if (!st && known) st = evaluate_now(s, n);
    if (st) return at_node(s, st, node);
    if (known) continue;
    if (control) {
      step *next = &s->steps[s->num_steps++];
      next->kernel = NULL;
      next->kernel_name = "session";
      next->node = n;
      next->flops = 0.0;
      next->reshape = false;
      continue;
    }
    if (deferred) { /* shaped again, with its inputs' values, at invoke */
      step *next = &s->steps[s->num_steps++];
      next->kernel = def->reference;
      next->kernel_name = "ref";
      next->node = n;
      next->flops = 0.0;
      next->reshape = true;
      continue;
    }
    if (outputs_all_empty(s, node)) {
      step *next = &s->steps[s->num_steps++];
      next->kernel = skip_empty;
      next->kernel_name = "empty";
      next->node = n;
      next->flops = 0.0;
      next->reshape = false;
      continue;
    }
    const kiln_kernel_variant *v = kiln_variant_select(
        node->op, s->model->isa, s->model->packed_by[n], &s->contexts[n]);
    if (v && v->workspace) {
      size_t bytes = v->workspace(&s->contexts[n]);
      if (bytes > s->workspace) s->workspace = bytes;
    }
    step *next = &s->steps[s->num_steps++];
    next->kernel = v ? v->run : def->reference;
    next->kernel_name = v ? v->name : "ref";
    next->node = n;
    next->flops = def->flops(&s->contexts[n]);
    next->reshape = false;
    s->flops += next->flops;
  }
  return NULL;
}

/* Lifetimes in steps, from the step that writes a value to the last that
 * reads it. */
static kiln_status *plan_arena(kiln_session *s) {
  const kiln_graph *g = s->graph;
  int count = 0;
  int *item_of = s->plan_scratch; /* value -> item, reused before planning */
  for (int v = 0; v < g->num_values; v++) item_of[v] = -1;
  for (int i = 0; i < g->num_inputs; i++) {
    int v = g->inputs[i];
    if (s->homes[v] != HOME_ARENA || item_of[v] >= 0) continue;
    item_of[v] = count;
    s->plan_values[count] = v;
    s->plan_items[count++] = (kiln_plan_item){0, 0, 0, 0};
  }
  for (int k = 0; k < s->num_steps; k++) {
    const kiln_node *node = &g->nodes[s->steps[k].node];
    for (int i = 0; i < node->num_inputs; i++) {
      int v = node->inputs[i];
      if (v >= 0 && item_of[v] >= 0) s->plan_items[item_of[v]].last = k;
    }
    for (int i = 0; i < node->num_outputs; i++) {
      int v = node->outputs[i];
      if (s->homes[v] != HOME_ARENA || item_of[v] >= 0) continue;
      item_of[v] = count;
      s->plan_values[count] = v;
      s->plan_items[count++] = (kiln_plan_item){0, k, k, 0};
    }
  }
  /* Graph inputs and outputs span the whole run: outputs are read after
   * it, and inputs must survive it so that a caller may invoke again
   * without setting them anew (as TFLite allows). */
  for (int i = 0; i < g->num_outputs; i++) {
    int v = g->outputs[i];
    if (item_of[v] >= 0) s->plan_items[item_of[v]].last = s->num_steps;
  }
  for (int i = 0; i < g->num_inputs; i++) {
    int v = g->inputs[i];
    if (item_of[v] >= 0) s->plan_items[item_of[v]].last = s->num_steps;
  }
  s->naive_bytes = 0;
  for (int i = 0; i < count; i++) {
    KILN_TRY(checked_nbytes(&s->tensors[s->plan_values[i]],
                            g->values[s->plan_values[i]].name,
                            &s->plan_items[i].size));
    s->naive_bytes += s->plan_items[i].size;
  }
  s->arena_bytes =
      kiln_plan_arena(s->plan_items, count, KILN_ALIGNMENT, s->plan_scratch);
  if (s->arena_bytes > s->max_memory ||
      s->known_bytes > s->max_memory - s->arena_bytes)
    return kiln_status_wrap(
        check_memory(s, s->arena_bytes + s->known_bytes,
                     "the activation arena with the values computed at "
                     "prepare",
                     NULL),
        "%s", s->model->source);
  if (!s->arena || s->arena_bytes > s->arena_capacity) {
    /* Grow only: shrinking would make a later resize pay again. */
    kiln_free(s->alloc, s->arena);
    s->arena_capacity = 0;
    s->arena = kiln_malloc(s->alloc, s->arena_bytes + KILN_ALIGNMENT);
    if (!s->arena)
      return kiln_error(KILN_ERR_OUT_OF_MEMORY,
                        "%s: cannot allocate an arena of %zu bytes",
                        s->model->source, s->arena_bytes);
    s->arena_capacity = s->arena_bytes;
  }
  /* Align the arena base itself; the allocator only promises malloc's. */
  uintptr_t base = ((uintptr_t)s->arena + KILN_ALIGNMENT - 1) &
                   ~(uintptr_t)(KILN_ALIGNMENT - 1);
  for (int i = 0; i < count; i++)
    s->tensors[s->plan_values[i]].data =
        (unsigned char *)base + s->plan_items[i].offset;
  return NULL;
}

/* Frees the blocks of values that a new prepare no longer sizes at invoke
 * (after a resize made their shapes known). */
static void release_static_blocks(kiln_session *s) {
  for (int v = 0; v < s->graph->num_values; v++) {
    if (!s->dynamic_data[v] || s->homes[v] == HOME_DYNAMIC) continue;
    kiln_free(s->alloc, s->dynamic_data[v]);
    s->dynamic_data[v] = NULL;
    s->dynamic_bytes -= s->dynamic_capacity[v];
    s->dynamic_capacity[v] = 0;
  }
}

kiln_status *kiln_session_prepare(kiln_session *s) {
  if (!s)
    return kiln_error(KILN_ERR_INVALID_ARGUMENT, "kiln_session_prepare: NULL");
  s->prepared = false;
  /* As TFLite's AllocateTensors, preparing (again, after a resize) starts
   * the variables afresh; a root session's prepare prepares its subgraphs'
   * sessions too, and starts its resource variables afresh. */
  reset_state(s);
  if (s->root == s) kiln_cf_begin_prepare(s);
  reset_tensors(s);
  KILN_TRY(known_inputs(s));
  KILN_TRY(infer_shapes(s));
  release_static_blocks(s);
  s->sized_at_invoke = false;
  for (int i = 0; i < s->graph->num_outputs; i++)
    s->sized_at_invoke |= s->homes[s->graph->outputs[i]] == HOME_DYNAMIC;
  KILN_TRY(plan_arena(s));
  KILN_TRY(kiln_threadpool_reserve_scratch(s->pool, s->workspace));
  s->prepared = true;
  kiln_status_free(s->default_shape_error);
  s->default_shape_error = NULL;
  return NULL;
}

int kiln_session_is_prepared(const kiln_session *s) { return s && s->prepared; }

/* The error for a call that needs a prepared session. */
static kiln_status *not_prepared(const kiln_session *s, const char *call) {
  if (s->default_shape_error)
    return kiln_error(KILN_ERR_FAILED_PRECONDITION,
                      "the model's inputs have dynamic dimensions and its "
                      "default shapes do not prepare (%s); resize the inputs "
                      "to real shapes, then call kiln_session_prepare before "
                      "%s",
                      kiln_status_message(s->default_shape_error), call);
  return kiln_error(KILN_ERR_FAILED_PRECONDITION,
                    "%s: an input was resized or preparing failed; call "
                    "kiln_session_prepare before %s",
                    s->model->source, call);
}

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* ------------------------------------------------ outputs sized at invoke */

/* Gives value v (HOME_DYNAMIC) the shape dims/rank, growing its block when
 * it is too small: bytes within max_memory together with the arena, the
 * values known at prepare and the other blocks. */
static kiln_status *size_dynamic(kiln_session *s, int v, int output,
                                 const int64_t *dims, int rank) {
  kiln_tensor *t = &s->tensors[v];
  char shape[KILN_DIMS_STR_SIZE];
  if (rank < 0 || rank > KILN_MAX_RANK)
    return kiln_error(KILN_ERR_INTERNAL, "output %d: rank %d is out of range",
                      output, rank);
  kiln_tensor probe = *t;
  kiln_set_shape(&probe, dims, rank);
  size_t nbytes;
  KILN_TRY(checked_nbytes(&probe, s->graph->values[v].name, &nbytes));
  if (nbytes > s->dynamic_capacity[v] || !s->dynamic_data[v]) {
    size_t others = s->dynamic_bytes - s->dynamic_capacity[v];
    size_t fixed = s->arena_bytes + s->known_bytes;
    if (nbytes > s->max_memory || fixed > s->max_memory - nbytes ||
        others > s->max_memory - nbytes - fixed)
      return kiln_error(
          KILN_ERR_OUT_OF_MEMORY,
          "output %d at shape %s (sized at invoke) needs %zu bytes; with "
          "the arena, the values computed at prepare and the other outputs "
          "sized at invoke (%zu bytes) that is over the session's memory "
          "limit of %zu bytes (raise kiln_options.max_memory_bytes, or "
          "--max-memory on the command line)",
          output, kiln_dims_str(dims, rank, shape, sizeof shape), nbytes,
          fixed + others, s->max_memory);
    void *block = kiln_malloc(s->alloc, nbytes + KILN_ALIGNMENT);
    if (!block)
      return kiln_error(KILN_ERR_OUT_OF_MEMORY,
                        "output %d at shape %s: cannot allocate %zu bytes",
                        output, kiln_dims_str(dims, rank, shape, sizeof shape),
                        nbytes);
    kiln_free(s->alloc, s->dynamic_data[v]);
    s->dynamic_data[v] = block;
    s->dynamic_bytes = others + nbytes;
    s->dynamic_capacity[v] = nbytes;
  }
  kiln_set_shape(t, dims, rank);
  t->data = (void *)(((uintptr_t)s->dynamic_data[v] + KILN_ALIGNMENT - 1) &
                     ~(uintptr_t)(KILN_ALIGNMENT - 1));
  return NULL;
}

/* Before the kernel of a step that defers an output or reads one that is
 * sized at invoke: its inputs now have their shapes and values, so its
 * shape function runs on them (as at prepare, but with every input known:
 * WHERE counts its condition's true elements here), its outputs are sized
 * and its kernel variant is chosen for these shapes. Allocates only when
 * a block must grow. */
static kiln_status *reshape_step(kiln_session *s, int k) {
  step *st = &s->steps[k];
  const kiln_node *node = &s->graph->nodes[st->node];
  const kiln_op_def *def = &kiln_op_table[node->op];
  kiln_op_ctx *ctx = &s->contexts[st->node];
  enum { MAX_KEPT = 8 }; /* planned outputs beside deferred ones (UNIQUE) */
  kiln_tensor planned[MAX_KEPT];
  for (int i = 0; i < node->num_outputs; i++) {
    int v = node->outputs[i];
    kiln_tensor *t = &s->tensors[v];
    if (i < MAX_KEPT) planned[i] = *t;
    if (s->homes[v] != HOME_DYNAMIC) continue;
    t->rank = s->graph->values[v].rank;
    memcpy(t->dims, s->graph->values[v].dims, sizeof t->dims);
  }
  kiln_status *shaped = def->shape(ctx);
  for (int i = 0; i < node->num_outputs; i++) {
    int v = node->outputs[i];
    kiln_tensor *t = &s->tensors[v];
    if (s->homes[v] != HOME_DYNAMIC) {
      /* Sized from shapes alone at prepare (UNIQUE's idx): it keeps them. */
      bool same =
          i < MAX_KEPT && t->rank == planned[i].rank &&
          !memcmp(t->dims, planned[i].dims, sizeof(int64_t) * (size_t)t->rank);
      if (!shaped && !same)
        shaped = kiln_error(KILN_ERR_INTERNAL,
                            "output %d, planned at prepare, changed shape "
                            "at invoke",
                            i);
      if (i < MAX_KEPT) *t = planned[i];
      continue;
    }
    if (shaped) { /* leave no output claiming a shape its data lacks */
      kiln_defer_output(t, t->rank);
      t->data = NULL;
      continue;
    }
    if (kiln_tensor_deferred(t)) {
      t->data = NULL;
      shaped =
          kiln_error(KILN_ERR_INTERNAL,
                     "output %d is still unsized with every input known", i);
      continue;
    }
    shaped = size_dynamic(s, v, i, t->dims, t->rank);
    if (shaped) {
      kiln_defer_output(t, t->rank);
      t->data = NULL;
    }
  }
  if (shaped) return shaped;
  const kiln_kernel_variant *v = kiln_variant_select(
      node->op, s->model->isa, s->model->packed_by[st->node], ctx);
  if (v && v->workspace)
    KILN_TRY(kiln_threadpool_reserve_scratch(s->pool, v->workspace(ctx)));
  st->kernel = v ? v->run : def->reference;
  st->kernel_name = v ? v->name : "ref";
  return NULL;
}

void kiln_session_cancel(kiln_session *s) {
  if (s)
    atomic_store_explicit(&s->root->cancel_requested, true,
                          memory_order_relaxed);
}

kiln_status *kiln_session_set_cancel_check(kiln_session *s,
                                           kiln_cancel_check_fn check,
                                           void *context) {
  if (!s)
    return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                      "kiln_session_set_cancel_check: NULL session");
  s->root->cancel_check = check;
  s->root->cancel_context = context;
  return NULL;
}

kiln_status *kiln_session_check_cancel(const kiln_session *s) {
  const kiln_session *root = s->root;
  if (atomic_load_explicit(&root->cancel_requested, memory_order_relaxed) ||
      (root->cancel_check && root->cancel_check(root->cancel_context)))
    return kiln_error(KILN_ERR_CANCELLED, "the invoke was cancelled");
  return NULL;
}

kiln_status *kiln_session_invoke(kiln_session *s) {
  if (!s)
    return kiln_error(KILN_ERR_INVALID_ARGUMENT, "kiln_session_invoke: NULL");
  if (!s->prepared) return not_prepared(s, "invoke");
  if (!s->parent)
    atomic_store_explicit(&s->cancel_requested, false, memory_order_relaxed);
  double origin = s->profiling ? now_us() : 0.0;
  for (int k = 0; k < s->num_steps; k++) {
    const step *st = &s->steps[k];
    KILN_TRY(kiln_session_check_cancel(s));
    double start = s->profiling ? now_us() : 0.0;
    kiln_status *status = st->reshape ? reshape_step(s, k) : NULL;
    if (!status)
      status = st->kernel ? st->kernel(&s->contexts[st->node])
                          : kiln_cf_invoke(s, st->node);
    if (s->profiling) {
      s->step_start_us[k] = start - origin;
      s->step_duration_us[k] = now_us() - start;
    }
    if (status) {
      const kiln_node *node = &s->graph->nodes[st->node];
      return at_node(s, status, node);
    }
  }
  return NULL;
}

/* ---------------------------------------------------------- inputs/outputs */

static kiln_status *check_io(const kiln_session *s, int index, int count,
                             const char *what) {
  if (!s) return kiln_error(KILN_ERR_INVALID_ARGUMENT, "the session is NULL");
  if (index < 0 || index >= count)
    return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                      "%s index %d is out of range (the model has %d)", what,
                      index, count);
  return NULL;
}

static kiln_status *check_prepared(const kiln_session *s) {
  return s->prepared ? NULL : not_prepared(s, "this call");
}

static void fill_info(const kiln_session *s, int v, const char *name,
                      kiln_tensor_info *info) {
  const kiln_tensor *t = &s->tensors[v];
  memset(info, 0, sizeof *info);
  info->name = name;
  info->dtype = t->dtype;
  info->rank = t->rank;
  memcpy(info->dims, t->dims, sizeof info->dims);
  info->quant = s->graph->values[v].quant;
}

kiln_status *kiln_session_input_info(const kiln_session *s, int index,
                                     kiln_tensor_info *out_info) {
  KILN_TRY(check_io(s, index, s ? s->graph->num_inputs : 0, "input"));
  fill_info(s, s->graph->inputs[index], s->graph->input_names[index], out_info);
  /* Before prepare, report the requested shape. */
  memcpy(out_info->dims, s->input_dims[index], sizeof out_info->dims);
  return NULL;
}

kiln_status *kiln_session_output_info(const kiln_session *s, int index,
                                      kiln_tensor_info *out_info) {
  KILN_TRY(check_io(s, index, s ? s->graph->num_outputs : 0, "output"));
  KILN_TRY(check_prepared(s));
  fill_info(s, s->graph->outputs[index], s->graph->output_names[index],
            out_info);
  return NULL;
}

kiln_status *kiln_session_resize_input(kiln_session *s, int index,
                                       const int64_t *dims, int rank) {
  KILN_TRY(check_io(s, index, s ? s->graph->num_inputs : 0, "input"));
  const kiln_value *v = &s->graph->values[s->graph->inputs[index]];
  const char *name = s->graph->input_names[index];
  char want[KILN_DIMS_STR_SIZE], got[KILN_DIMS_STR_SIZE];
  if (!dims || rank != v->rank)
    return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                      "input '%s' has rank %d (shape %s); cannot resize to "
                      "rank %d",
                      name, v->rank,
                      kiln_dims_str(v->signature, v->rank, want, sizeof want),
                      rank);
  for (int d = 0; d < rank; d++) {
    bool dynamic = v->signature[d] < 0;
    if (dims[d] < 0 || (!dynamic && dims[d] != v->signature[d]))
      return kiln_error(
          KILN_ERR_INVALID_ARGUMENT,
          "input '%s' cannot take shape %s: dimension %d is %s (model shape "
          "%s, -1 marks dynamic dimensions)",
          name, kiln_dims_str(dims, rank, got, sizeof got), d,
          dims[d] < 0 ? "negative" : "fixed",
          kiln_dims_str(v->signature, v->rank, want, sizeof want));
  }
  if (memcmp(s->input_dims[index], dims, sizeof(int64_t) * (size_t)rank) != 0) {
    memcpy(s->input_dims[index], dims, sizeof(int64_t) * (size_t)rank);
    s->prepared = false;
  }
  return NULL;
}

kiln_status *kiln_session_set_input(kiln_session *s, int index,
                                    kiln_dtype dtype, const int64_t *dims,
                                    int rank, const void *data, size_t nbytes) {
  KILN_TRY(check_io(s, index, s ? s->graph->num_inputs : 0, "input"));
  KILN_TRY(check_prepared(s));
  const kiln_tensor *t = &s->tensors[s->graph->inputs[index]];
  const char *name = s->graph->input_names[index];
  if (dtype != t->dtype)
    return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                      "input '%s' expects %s data; got %s", name,
                      kiln_dtype_name(t->dtype), kiln_dtype_name(dtype));
  bool same_shape = dims && rank == t->rank;
  for (int d = 0; same_shape && d < rank; d++)
    same_shape = dims[d] == t->dims[d];
  if (!same_shape) {
    char want[KILN_DIMS_STR_SIZE], got[KILN_DIMS_STR_SIZE];
    return kiln_error(
        KILN_ERR_INVALID_ARGUMENT,
        "input '%s' expects shape %s; got %s (resize the input "
        "first if the model allows it)",
        name, kiln_dims_str(t->dims, t->rank, want, sizeof want),
        dims ? kiln_dims_str(dims, rank, got, sizeof got) : "none");
  }
  size_t expected = kiln_tensor_nbytes(t);
  if (nbytes != expected || (!data && expected))
    return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                      "input '%s' takes %zu bytes; got %zu", name, expected,
                      data ? nbytes : 0);
  if (t->dtype == KILN_STRING) /* views: their bytes are copied too */
    return kiln_session_copy_strings(s, index, (kiln_tensor *)t, data,
                                     expected / sizeof(kiln_string));
  if (expected) memcpy(t->data, data, expected);
  return NULL;
}

kiln_status *kiln_session_input_buffer(kiln_session *s, int index,
                                       void **out_data, size_t *out_nbytes) {
  KILN_TRY(check_io(s, index, s ? s->graph->num_inputs : 0, "input"));
  KILN_TRY(check_prepared(s));
  const kiln_tensor *t = &s->tensors[s->graph->inputs[index]];
  if (t->dtype == KILN_STRING)
    return kiln_error(KILN_ERR_FAILED_PRECONDITION,
                      "input '%s' is a STRING: set it with "
                      "kiln_session_set_input, which copies its bytes",
                      s->graph->input_names[index]);
  if (s->homes[s->graph->inputs[index]] != HOME_ARENA)
    return kiln_error(KILN_ERR_FAILED_PRECONDITION,
                      "input '%s' is not writable",
                      s->graph->input_names[index]);
  *out_data = t->data;
  *out_nbytes = kiln_tensor_nbytes(t);
  return NULL;
}

kiln_status *kiln_session_output_buffer(const kiln_session *s, int index,
                                        const void **out_data,
                                        size_t *out_nbytes) {
  KILN_TRY(check_io(s, index, s ? s->graph->num_outputs : 0, "output"));
  KILN_TRY(check_prepared(s));
  const kiln_tensor *t = &s->tensors[s->graph->outputs[index]];
  if (kiln_tensor_deferred(t))
    return kiln_error(KILN_ERR_FAILED_PRECONDITION,
                      "output '%s' is sized at invoke; invoke the session "
                      "first",
                      s->graph->output_names[index]);
  *out_data = t->data;
  *out_nbytes = kiln_tensor_nbytes(t);
  return NULL;
}

kiln_status *kiln_session_get_output(const kiln_session *s, int index,
                                     void *data, size_t nbytes) {
  const void *source = NULL;
  size_t size = 0;
  KILN_TRY(kiln_session_output_buffer(s, index, &source, &size));
  if (!data || nbytes < size)
    return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                      "output '%s' needs %zu bytes; the buffer has %zu",
                      s->graph->output_names[index], size, data ? nbytes : 0);
  if (size) memcpy(data, source, size);
  return NULL;
}

kiln_status *kiln_session_stats_get(const kiln_session *s,
                                    kiln_session_stats *out_stats) {
  if (!s || !out_stats)
    return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                      "kiln_session_stats_get: NULL");
  KILN_TRY(check_prepared(s));
  out_stats->arena_bytes = s->arena_bytes;
  out_stats->naive_bytes = s->naive_bytes;
  out_stats->flops = s->flops;
  out_stats->num_steps = s->num_steps;
  out_stats->num_threads = kiln_threadpool_size(s->pool);
  return NULL;
}

kiln_status *kiln_session_set_profiling(kiln_session *s, int enabled) {
  if (!s)
    return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                      "kiln_session_set_profiling: NULL session");
  s->profiling = enabled != 0;
  return NULL;
}

kiln_status *kiln_session_profile_entry(const kiln_session *s, int index,
                                        kiln_profile_entry *out) {
  KILN_TRY(check_io(s, index, s ? s->num_steps : 0, "step"));
  KILN_TRY(check_prepared(s));
  const step *st = &s->steps[index];
  const kiln_node *node = &s->graph->nodes[st->node];
  memset(out, 0, sizeof *out);
  out->op = op_name(node);
  out->kernel = st->kernel_name;
  out->source_index = node->source_index;
  if (node->num_outputs > 0) { /* ASSIGN_VARIABLE and CALL_ONCE have none */
    const kiln_tensor *first = &s->tensors[node->outputs[0]];
    out->rank = first->rank;
    memcpy(out->dims, first->dims, sizeof out->dims);
  }
  out->input_dtype = out->output_dtype = KILN_FLOAT32;
  if (node->num_outputs > 0)
    out->output_dtype = s->tensors[node->outputs[0]].dtype;
  /* The first computed input: TRANSPOSE_CONV's first is its constant
   * output shape, not what it converts from. */
  for (int i = 0; i < node->num_inputs; i++) {
    int id = node->inputs[i];
    if (id < 0) continue;
    out->input_dtype = s->tensors[id].dtype;
    if (!s->graph->values[id].is_constant) break;
  }
  for (int i = 0; i < node->num_inputs; i++) {
    int id = node->inputs[i];
    const kiln_value *v = id >= 0 ? &s->graph->values[id] : NULL;
    if (v && v->is_constant && v->rank >= 2) {
      out->weights_dtype = v->dtype;
      break;
    }
  }
  out->flops = st->flops;
  out->start_us = s->step_start_us[index];
  out->duration_us = s->step_duration_us[index];
  return NULL;
}

kiln_isa kiln_session_isa(const kiln_session *s) {
  return s ? s->model->isa : KILN_ISA_PORTABLE;
}
