/* control_flow.c - TFLite's control flow and resource variables, run by the
 * session itself rather than as kernels, because they run other subgraphs
 * and reach session state (see docs/ARCHITECTURE.md, "Control flow").
 *
 * A session has a child session per subgraph slot of each WHILE, IF,
 * CALL_ONCE, STABLEHLO_CASE and STABLEHLO_COMPOSITE node, created with it. The
 * node's prepare prepares its children with the node's input shapes (so each
 * child plans its own arena once); its invoke copies values into the children's
 * inputs, invokes them and copies their outputs back, allocating nothing.
 * Resource variables live in the root session, one per (container, shared_name)
 * the model numbered, so every subgraph of one session shares them. */
#include "runtime/control_flow.h"

#include <stdint.h>
#include <string.h>

#include "core/alloc.h"
#include "core/dtype_private.h"
#include "runtime/hashtable.h"
#include "runtime/session_internal.h"

static const char *op_name(const kiln_node *n) {
  return kiln_op_table[n->op].name;
}

bool kiln_cf_is_control(kiln_op_type op) {
  return op == KILN_OP_WHILE || op == KILN_OP_IF || op == KILN_OP_CALL_ONCE ||
         op == KILN_OP_STABLEHLO_CASE || op == KILN_OP_STABLEHLO_COMPOSITE ||
         op == KILN_OP_VAR_HANDLE || op == KILN_OP_READ_VARIABLE ||
         op == KILN_OP_ASSIGN_VARIABLE || kiln_hashtable_is_op(op);
}

/* The operator table's entries for these operators: only a session runs
 * them (passes never evaluate them at load). */
kiln_status *kiln_shape_session_only(const kiln_op_ctx *ctx) {
  (void)ctx;
  return kiln_error(KILN_ERR_INTERNAL,
                    "control flow and variables run only inside a session");
}

kiln_status *kiln_ref_session_only(const kiln_op_ctx *ctx) {
  return kiln_shape_session_only(ctx);
}

/* ------------------------------------------------------ child sessions */

/* Node n's subgraph sessions, one per slot kiln_node_subgraphs lists. */
static kiln_session **node_children(const kiln_session *s, int n) {
  return &s->children[s->child_base[n]];
}

static int node_child_count(const kiln_session *s, int n) {
  return s->child_base[n + 1] - s->child_base[n];
}

/* Numbers every node's subgraph slots and sizes `children` to hold them
 * (a CASE may have many branches, so there is no fixed count per node). */
static kiln_status *number_slots(kiln_session *s) {
  int nodes = s->graph->num_nodes, refs[KILN_MAX_NODE_SUBGRAPHS], total = 0;
  s->child_base = kiln_calloc(s->alloc, (size_t)nodes + 1, sizeof(int));
  if (!s->child_base) return KILN_OOM();
  for (int n = 0; n < nodes; n++) {
    s->child_base[n] = total;
    total += kiln_node_subgraphs(&s->graph->nodes[n], refs, NULL);
  }
  s->child_base[nodes] = total;
  kiln_session **slots =
      kiln_calloc(s->alloc, total ? (size_t)total : 1, sizeof *slots);
  if (!slots) { /* kiln_cf_free must not walk the old, smaller array */
    kiln_free(s->alloc, s->child_base);
    s->child_base = NULL;
    return KILN_OOM();
  }
  kiln_free(s->alloc, s->children);
  s->children = slots;
  return NULL;
}

static const kiln_model *root_model(const kiln_session *s) {
  return s->model->root ? s->model->root : s->model;
}

static void name_variables(kiln_session *root) {
  const kiln_model *m = root_model(root);
  for (int i = 0; i < m->num_subgraphs; i++) {
    const kiln_graph *g = m->subgraphs[i] ? m->subgraphs[i]->graph : NULL;
    for (int n = 0; g && n < g->num_nodes; n++) {
      if (g->nodes[n].op != KILN_OP_VAR_HANDLE) continue;
      const kiln_var_handle_attrs *a = g->nodes[n].attrs;
      if (a->variable >= 0 && a->variable < root->num_variables)
        root->variables[a->variable].name =
            a->shared_name ? a->shared_name : "";
    }
  }
}

kiln_status *kiln_cf_create(kiln_session *s) {
  const kiln_model *m = root_model(s);
  if (s->root == s && m->num_variables > 0) {
    s->variables =
        kiln_calloc(s->alloc, (size_t)m->num_variables, sizeof *s->variables);
    if (!s->variables) return KILN_OOM();
    s->num_variables = m->num_variables;
    name_variables(s);
  }
  if (s->root == s) KILN_TRY(kiln_hashtables_create(s));
  KILN_TRY(number_slots(s));
  for (int n = 0; n < s->graph->num_nodes; n++) {
    const kiln_node *node = &s->graph->nodes[n];
    int refs[KILN_MAX_NODE_SUBGRAPHS];
    int count = kiln_node_subgraphs(node, refs, NULL);
    for (int k = 0; k < count; k++) {
      /* The importer checked the index and that the subgraph was read. */
      const kiln_model *sub = m->subgraphs[refs[k]];
      kiln_session *child = NULL;
      KILN_TRY(kiln_session_new(sub, &m->options, s->root, &child));
      child->max_memory = s->root->max_memory;
      child->parent = s;
      child->parent_node = n;
      /* an IF's condition and a CASE's index are not subgraph inputs */
      child->input_offset =
          node->op == KILN_OP_IF || node->op == KILN_OP_STABLEHLO_CASE;
      node_children(s, n)[k] = child;
    }
  }
  return NULL;
}

void kiln_cf_free(kiln_session *s) {
  for (int n = 0; s->child_base && n < s->graph->num_nodes; n++)
    for (int k = 0; k < node_child_count(s, n); k++)
      kiln_session_free(node_children(s, n)[k]);
  kiln_free(s->alloc, s->child_base);
  s->child_base = NULL;
  for (int v = 0; v < s->num_variables; v++)
    kiln_free(s->alloc, s->variables[v].storage);
  kiln_free(s->alloc, s->variables);
  kiln_hashtables_free(s);
}

/* CALL_ONCE runs again after the root prepares (not after a loop body
 * prepares again for its next round). */
static void clear_once(kiln_session *s) {
  for (int n = 0; n < s->graph->num_nodes; n++) {
    s->once_done[n] = false;
    for (int k = 0; k < node_child_count(s, n); k++)
      clear_once(node_children(s, n)[k]);
  }
}

void kiln_cf_begin_prepare(kiln_session *root) {
  for (int v = 0; v < root->num_variables; v++) {
    root->variables[v].shaped = false;
    root->variables[v].assigned = false;
  }
  clear_once(root);
  kiln_hashtables_begin_prepare(root);
}

void kiln_cf_reset(kiln_session *s) {
  for (int v = 0; v < s->num_variables; v++) s->variables[v].assigned = false;
  for (int n = 0; n < s->graph->num_nodes; n++) {
    s->once_done[n] = false;
    for (int k = 0; k < node_child_count(s, n); k++)
      kiln_session_reset_variables(node_children(s, n)[k]);
  }
}

/* Prepares child `slot` of node `n` for the shapes of the node's inputs
 * from the child's input_offset on (the subgraph's inputs, whose count
 * and types the importer matched). */
static kiln_status *prepare_child(kiln_session *s, int n, int slot,
                                  const char *role) {
  kiln_session *child = node_children(s, n)[slot];
  const kiln_op_ctx *ctx = &s->contexts[n];
  for (int i = 0; i < child->graph->num_inputs; i++) {
    const kiln_tensor *t = ctx->inputs[i + child->input_offset];
    memcpy(child->input_dims[i], t->dims, sizeof child->input_dims[i]);
    child->input_ranks[i] = t->rank;
  }
  int refs[KILN_MAX_NODE_SUBGRAPHS];
  kiln_node_subgraphs(&s->graph->nodes[n], refs, NULL);
  return kiln_status_wrap(kiln_session_prepare(child), "in %s subgraph %d",
                          role, refs[slot]);
}

static bool output_at_invoke(const kiln_session *child, int i) {
  return child->homes[child->graph->outputs[i]] == HOME_DYNAMIC;
}

/* An IF's, CASE's or composite's outputs are planned in the parent from
 * its subgraphs' shapes, so a subgraph output whose size only its invoke
 * knows cannot pass. */
static kiln_status *require_outputs_sized(const kiln_session *child,
                                          const char *role, int subgraph) {
  for (int i = 0; i < child->graph->num_outputs; i++)
    if (output_at_invoke(child, i))
      return kiln_error(KILN_ERR_UNSUPPORTED,
                        "output %d of %s subgraph %d is sized at invoke (its "
                        "shape depends on values computed there); kiln needs "
                        "the branches' outputs sized at prepare",
                        i, role, subgraph);
  return NULL;
}

static kiln_tensor *child_output(kiln_session *child, int i) {
  return &child->tensors[child->graph->outputs[i]];
}

static kiln_tensor *child_input(kiln_session *child, int i) {
  return &child->tensors[child->graph->inputs[i]];
}

static bool same_shape(const kiln_tensor *a, const kiln_tensor *b) {
  if (a->rank != b->rank) return false;
  for (int d = 0; d < a->rank; d++)
    if (a->dims[d] != b->dims[d]) return false;
  return true;
}

/* Copies between tensors of one type and shape (checked at prepare); a
 * subgraph may pass a value straight through, so they may be the same. */
static void copy_tensor(kiln_tensor *dst, const kiln_tensor *src) {
  size_t nbytes = kiln_tensor_nbytes(src);
  if (dst->data != src->data && nbytes) memcpy(dst->data, src->data, nbytes);
}

static kiln_status *require_scalar_bool(const kiln_tensor *t,
                                        const char *role) {
  if (t->dtype != KILN_BOOL || kiln_tensor_numel(t) != 1) {
    char dims[KILN_DIMS_STR_SIZE];
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%s must be one bool; it is %s %s", role,
                      kiln_dtype_name(t->dtype),
                      kiln_dims_str(t->dims, t->rank, dims, sizeof dims));
  }
  return NULL;
}

/* ---------------------------------------------------------------- WHILE */

/* Prepares a loop's cond or body for the node's inputs. When that fails,
 * the subgraph may need its loop counters' values to know its shapes (the
 * converter's LSTM bodies slice by the counter): it is prepared again with
 * them (value_inputs), now if the initial values are known, and at every
 * round otherwise. The first error is kept when that fails too. */
static kiln_status *prepare_loop_child(kiln_session *s, int n, int slot,
                                       const char *role) {
  kiln_session *child = node_children(s, n)[slot];
  child->value_inputs = false;
  child->input_sources = NULL;
  kiln_status *first = prepare_child(s, n, slot, role);
  if (!first) return NULL;
  if (kiln_status_get_code(first) == KILN_ERR_OUT_OF_MEMORY) return first;
  const kiln_op_ctx *ctx = &s->contexts[n];
  child->value_inputs = true;
  child->input_sources = ctx->inputs;
  for (int i = 0; i < ctx->num_inputs; i++) {
    const kiln_tensor *t = ctx->inputs[i];
    bool counter = (t->dtype == KILN_INT32 || t->dtype == KILN_INT64) &&
                   kiln_tensor_numel(t) <= 16;
    if (counter && !t->data) { /* known only at invoke: prepare then */
      kiln_status_free(first);
      return NULL;
    }
  }
  kiln_status *second = prepare_child(s, n, slot, role);
  if (!second) {
    kiln_status_free(first);
    return NULL;
  }
  kiln_status_free(second);
  return first;
}

static kiln_status *check_loop_shapes(const kiln_op_ctx *ctx,
                                      kiln_session *cond, kiln_session *body,
                                      const kiln_while_attrs *a,
                                      kiln_status_code code) {
  if (cond->prepared && !output_at_invoke(cond, 0))
    KILN_TRY(kiln_status_wrap(
        require_scalar_bool(child_output(cond, 0), "the condition's output"),
        "cond subgraph %d", a->cond_subgraph));
  for (int i = 0; body->prepared && i < ctx->num_inputs; i++) {
    const kiln_tensor *in = ctx->inputs[i], *out = child_output(body, i);
    if (output_at_invoke(body, i)) continue; /* checked each round */
    if (!same_shape(in, out)) {
      char was[KILN_DIMS_STR_SIZE], now[KILN_DIMS_STR_SIZE];
      return kiln_error(
          code,
          "body subgraph %d changes loop variable %d from shape %s to %s; "
          "kiln runs loops whose variables keep their shapes",
          a->body_subgraph, i,
          kiln_dims_str(in->dims, in->rank, was, sizeof was),
          kiln_dims_str(out->dims, out->rank, now, sizeof now));
    }
  }
  return NULL;
}

/* Loops whose variables keep their shapes (the converter's LSTM and GRU
 * loops, and tf.while_loop without shape_invariants) run with their
 * subgraphs planned once, or once a round for value_inputs subgraphs. A
 * body that changes a variable's shape is refused: TFLite re-plans the
 * body and resizes the node's outputs in the middle of invoke, and kiln's
 * parent session has planned those outputs already. */
static kiln_status *prepare_while(kiln_session *s, int n) {
  const kiln_op_ctx *ctx = &s->contexts[n];
  const kiln_while_attrs *a = s->graph->nodes[n].attrs;
  kiln_session *cond = node_children(s, n)[0], *body = node_children(s, n)[1];
  KILN_TRY(prepare_loop_child(s, n, 0, "cond"));
  KILN_TRY(prepare_loop_child(s, n, 1, "body"));
  KILN_TRY(check_loop_shapes(ctx, cond, body, a, KILN_ERR_UNSUPPORTED));
  for (int i = 0; i < ctx->num_inputs; i++)
    kiln_set_shape(ctx->outputs[i], ctx->inputs[i]->dims, ctx->inputs[i]->rank);
  return NULL;
}

/* Runs a loop subgraph on the loop state (the node's outputs), preparing
 * it first when its shapes depend on the state's values. */
static kiln_status *run_loop_child(kiln_session *s, int n, int slot,
                                   int subgraph, const char *role) {
  const kiln_op_ctx *ctx = &s->contexts[n];
  kiln_session *child = node_children(s, n)[slot];
  if (child->value_inputs) {
    child->input_sources = ctx->outputs;
    KILN_TRY(kiln_status_wrap(kiln_session_prepare(child), "in %s subgraph %d",
                              role, subgraph));
    const kiln_while_attrs *a = s->graph->nodes[n].attrs;
    kiln_session *cond = node_children(s, n)[0], *body = node_children(s, n)[1];
    KILN_TRY(check_loop_shapes(ctx, cond, body, a, KILN_ERR_RUNTIME));
  }
  for (int i = 0; i < ctx->num_outputs; i++)
    copy_tensor(child_input(child, i), ctx->outputs[i]);
  return kiln_status_wrap(kiln_session_invoke(child), "in %s subgraph %d", role,
                          subgraph);
}

/* The loop state lives in the node's outputs: copied from the inputs,
 * then into cond and body each round and back from the body's outputs.
 * TFLite bounds no loop, and neither does kiln: a condition that never
 * turns false runs until the caller cancels (kiln_session_cancel or its
 * cancel check, read each round as well as between kernels). */
/* A loop subgraph's outputs sized at invoke (a body that sums a WHERE's
 * rows into a loop variable) are checked after each round against the
 * loop state, whose shapes the parent planned. */
static kiln_status *check_round(const kiln_op_ctx *ctx, kiln_session *cond,
                                kiln_session *body, const kiln_while_attrs *a,
                                bool after_body) {
  if (!after_body) {
    if (!output_at_invoke(cond, 0)) return NULL;
    return kiln_status_wrap(
        require_scalar_bool(child_output(cond, 0), "the condition's output"),
        "cond subgraph %d", a->cond_subgraph);
  }
  for (int i = 0; i < ctx->num_outputs; i++) {
    const kiln_tensor *state = ctx->outputs[i], *out = child_output(body, i);
    if (!output_at_invoke(body, i) || same_shape(state, out)) continue;
    char was[KILN_DIMS_STR_SIZE], now[KILN_DIMS_STR_SIZE];
    return kiln_error(
        KILN_ERR_RUNTIME,
        "body subgraph %d changes loop variable %d from shape %s to %s at "
        "invoke; kiln runs loops whose variables keep their shapes",
        a->body_subgraph, i,
        kiln_dims_str(state->dims, state->rank, was, sizeof was),
        kiln_dims_str(out->dims, out->rank, now, sizeof now));
  }
  return NULL;
}

static kiln_status *invoke_while(kiln_session *s, int n) {
  const kiln_op_ctx *ctx = &s->contexts[n];
  const kiln_while_attrs *a = s->graph->nodes[n].attrs;
  kiln_session *cond = node_children(s, n)[0], *body = node_children(s, n)[1];
  int count = ctx->num_inputs;
  bool sized_at_invoke = cond->sized_at_invoke || body->sized_at_invoke;
  for (int i = 0; i < count; i++) copy_tensor(ctx->outputs[i], ctx->inputs[i]);
  for (;;) {
    KILN_TRY(kiln_session_check_cancel(s));
    KILN_TRY(run_loop_child(s, n, 0, a->cond_subgraph, "cond"));
    if (sized_at_invoke) KILN_TRY(check_round(ctx, cond, body, a, false));
    if (!*(const uint8_t *)child_output(cond, 0)->data) return NULL;
    KILN_TRY(run_loop_child(s, n, 1, a->body_subgraph, "body"));
    if (sized_at_invoke) KILN_TRY(check_round(ctx, cond, body, a, true));
    for (int i = 0; i < count; i++)
      copy_tensor(ctx->outputs[i], child_output(body, i));
  }
}

/* ------------------------------------------------------------------- IF */

/* Both branches are prepared, as the condition is known only at invoke;
 * they must give the outputs one shape, which TFLite would otherwise make
 * dynamic. */
static kiln_status *prepare_if(kiln_session *s, int n) {
  const kiln_op_ctx *ctx = &s->contexts[n];
  const kiln_if_attrs *a = s->graph->nodes[n].attrs;
  KILN_TRY(require_scalar_bool(ctx->inputs[0], "input 0 (condition)"));
  KILN_TRY(prepare_child(s, n, 0, "then"));
  KILN_TRY(prepare_child(s, n, 1, "else"));
  kiln_session *then = node_children(s, n)[0], *other = node_children(s, n)[1];
  KILN_TRY(require_outputs_sized(then, "then", a->then_subgraph));
  KILN_TRY(require_outputs_sized(other, "else", a->else_subgraph));
  for (int i = 0; i < ctx->num_outputs; i++) {
    const kiln_tensor *x = child_output(then, i), *y = child_output(other, i);
    if (!same_shape(x, y)) {
      char one[KILN_DIMS_STR_SIZE], two[KILN_DIMS_STR_SIZE];
      return kiln_error(
          KILN_ERR_UNSUPPORTED,
          "then subgraph %d gives output %d shape %s but else "
          "subgraph %d gives %s; kiln needs them equal",
          a->then_subgraph, i, kiln_dims_str(x->dims, x->rank, one, sizeof one),
          a->else_subgraph, kiln_dims_str(y->dims, y->rank, two, sizeof two));
    }
    kiln_set_shape(ctx->outputs[i], x->dims, x->rank);
  }
  return NULL;
}

static kiln_status *invoke_if(kiln_session *s, int n) {
  const kiln_op_ctx *ctx = &s->contexts[n];
  const kiln_if_attrs *a = s->graph->nodes[n].attrs;
  bool take_then = *(const uint8_t *)ctx->inputs[0]->data != 0;
  kiln_session *branch = node_children(s, n)[take_then ? 0 : 1];
  for (int i = 1; i < ctx->num_inputs; i++)
    copy_tensor(child_input(branch, i - 1), ctx->inputs[i]);
  KILN_TRY(kiln_status_wrap(kiln_session_invoke(branch), "in %s subgraph %d",
                            take_then ? "then" : "else",
                            take_then ? a->then_subgraph : a->else_subgraph));
  for (int i = 0; i < ctx->num_outputs; i++)
    copy_tensor(ctx->outputs[i], child_output(branch, i));
  return NULL;
}

/* ------------------------------------------------------------ CALL_ONCE */

static kiln_status *invoke_call_once(kiln_session *s, int n) {
  if (s->once_done[n]) return NULL;
  const kiln_call_once_attrs *a = s->graph->nodes[n].attrs;
  KILN_TRY(kiln_status_wrap(kiln_session_invoke(node_children(s, n)[0]),
                            "in init subgraph %d", a->init_subgraph));
  s->once_done[n] = true;
  return NULL;
}

/* ------------------------------------------- STABLEHLO_CASE, COMPOSITE */

/* Runs child `slot` of node `n` on the node's inputs from the child's
 * input_offset on, and copies its outputs to the node's. */
static kiln_status *run_callee(kiln_session *s, int n, int slot,
                               const char *role, int subgraph) {
  const kiln_op_ctx *ctx = &s->contexts[n];
  kiln_session *child = node_children(s, n)[slot];
  for (int i = 0; i < child->graph->num_inputs; i++)
    copy_tensor(child_input(child, i), ctx->inputs[i + child->input_offset]);
  KILN_TRY(kiln_status_wrap(kiln_session_invoke(child), "in %s subgraph %d",
                            role, subgraph));
  for (int i = 0; i < ctx->num_outputs; i++)
    copy_tensor(ctx->outputs[i], child_output(child, i));
  return NULL;
}

/* Every branch is prepared, as the index is known only at invoke, and
 * they must give the outputs one shape (LiteRT makes them dynamic
 * otherwise; kiln's parent session has planned them). */
static kiln_status *prepare_case(kiln_session *s, int n) {
  const kiln_op_ctx *ctx = &s->contexts[n];
  const kiln_stablehlo_case_attrs *a = s->graph->nodes[n].attrs;
  const kiln_tensor *index = ctx->inputs[0];
  if (index->dtype != KILN_INT32 || kiln_tensor_numel(index) != 1) {
    char dims[KILN_DIMS_STR_SIZE];
    return kiln_error(
        KILN_ERR_INVALID_MODEL,
        "input 0 (index) must be one int32; it is %s %s",
        kiln_dtype_name(index->dtype),
        kiln_dims_str(index->dims, index->rank, dims, sizeof dims));
  }
  for (int b = 0; b < a->num_branches; b++) {
    KILN_TRY(prepare_child(s, n, b, "branch"));
    KILN_TRY(require_outputs_sized(node_children(s, n)[b], "branch",
                                   a->branches[b]));
  }
  kiln_session *first = node_children(s, n)[0];
  for (int b = 1; b < a->num_branches; b++) {
    kiln_session *other = node_children(s, n)[b];
    for (int i = 0; i < ctx->num_outputs; i++) {
      const kiln_tensor *x = child_output(first, i),
                        *y = child_output(other, i);
      if (same_shape(x, y)) continue;
      char one[KILN_DIMS_STR_SIZE], two[KILN_DIMS_STR_SIZE];
      return kiln_error(
          KILN_ERR_UNSUPPORTED,
          "branch subgraph %d gives output %d shape %s but branch subgraph "
          "%d gives %s; kiln needs every branch's equal",
          a->branches[0], i, kiln_dims_str(x->dims, x->rank, one, sizeof one),
          a->branches[b], kiln_dims_str(y->dims, y->rank, two, sizeof two));
    }
  }
  for (int i = 0; i < ctx->num_outputs; i++)
    kiln_set_shape(ctx->outputs[i], child_output(first, i)->dims,
                   child_output(first, i)->rank);
  return NULL;
}

/* An index out of range runs the last branch (StableHLO's rule, and
 * LiteRT's). */
static kiln_status *invoke_case(kiln_session *s, int n) {
  const kiln_stablehlo_case_attrs *a = s->graph->nodes[n].attrs;
  int32_t index = *(const int32_t *)s->contexts[n].inputs[0]->data;
  if (index < 0 || index >= a->num_branches) index = a->num_branches - 1;
  return run_callee(s, n, index, "branch", a->branches[index]);
}

static kiln_status *prepare_composite(kiln_session *s, int n) {
  const kiln_op_ctx *ctx = &s->contexts[n];
  const kiln_stablehlo_composite_attrs *a = s->graph->nodes[n].attrs;
  KILN_TRY(prepare_child(s, n, 0, "decomposition"));
  kiln_session *child = node_children(s, n)[0];
  KILN_TRY(
      require_outputs_sized(child, "decomposition", a->decomposition_subgraph));
  for (int i = 0; i < ctx->num_outputs; i++)
    kiln_set_shape(ctx->outputs[i], child_output(child, i)->dims,
                   child_output(child, i)->rank);
  return NULL;
}

static kiln_status *invoke_composite(kiln_session *s, int n) {
  const kiln_stablehlo_composite_attrs *a = s->graph->nodes[n].attrs;
  return kiln_status_wrap(
      run_callee(s, n, 0, "decomposition", a->decomposition_subgraph),
      "STABLEHLO_COMPOSITE '%s' version %d", a->name ? a->name : "",
      a->version);
}

/* ------------------------------------------------------------ variables */

/* Which variable value `id` of session `s` holds a handle to, when that is
 * known before invoke: the output of a VAR_HANDLE, or a subgraph input
 * fed by one in the calling session (the converter passes handles into
 * loop bodies that way). -1 when it is not. */
static int static_variable(const kiln_session *s, int id) {
  const kiln_graph *g = s->graph;
  for (int n = 0; n < g->num_nodes; n++) {
    const kiln_node *node = &g->nodes[n];
    if (node->op == KILN_OP_VAR_HANDLE && node->num_outputs == 1 &&
        node->outputs[0] == id)
      return ((const kiln_var_handle_attrs *)node->attrs)->variable;
  }
  if (!s->parent) return -1;
  for (int i = 0; i < g->num_inputs; i++) {
    if (g->inputs[i] != id) continue;
    const kiln_node *call = &s->parent->graph->nodes[s->parent_node];
    int k = i + s->input_offset;
    return k < call->num_inputs ? static_variable(s->parent, call->inputs[k])
                                : -1;
  }
  return -1;
}

static kiln_status *require_handle(const kiln_op_ctx *ctx) {
  KILN_TRY(kiln_require_input(ctx, 0, "resource handle"));
  if (ctx->inputs[0]->dtype != KILN_RESOURCE ||
      kiln_tensor_numel(ctx->inputs[0]) != 1)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 0 (resource handle) must be one resource; it is "
                      "%s",
                      kiln_dtype_name(ctx->inputs[0]->dtype));
  return NULL;
}

/* The variable node `n`'s input 0 names, known at prepare. */
static kiln_status *variable_at_prepare(kiln_session *s, int n,
                                        kiln_resource_var **out) {
  const kiln_node *node = &s->graph->nodes[n];
  int id = static_variable(s, node->inputs[0]);
  if (id < 0 || id >= s->root->num_variables)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "kiln cannot tell at prepare which variable input 0 "
                      "(resource handle) names; it must come from a "
                      "VAR_HANDLE, directly or through subgraph inputs");
  *out = &s->root->variables[id];
  return NULL;
}

/* Fixes a variable's type and shape to `t`'s (the first time this prepare)
 * or checks that `t` agrees, and sizes its storage. */
static kiln_status *shape_variable(kiln_session *s, kiln_resource_var *v,
                                   const kiln_tensor *t, const char *role) {
  char one[KILN_DIMS_STR_SIZE], two[KILN_DIMS_STR_SIZE];
  if (v->shaped) {
    if (v->value.dtype == t->dtype && same_shape(&v->value, t)) return NULL;
    return kiln_error(
        KILN_ERR_UNSUPPORTED,
        "variable '%s' is %s %s elsewhere but %s is %s %s; kiln keeps a "
        "variable's type and shape fixed",
        v->name, kiln_dtype_name(v->value.dtype),
        kiln_dims_str(v->value.dims, v->value.rank, one, sizeof one), role,
        kiln_dtype_name(t->dtype),
        kiln_dims_str(t->dims, t->rank, two, sizeof two));
  }
  size_t nbytes = kiln_tensor_nbytes(t);
  if (nbytes > s->root->max_memory)
    return kiln_error(KILN_ERR_OUT_OF_MEMORY,
                      "variable '%s' needs %zu bytes, over the session's "
                      "memory limit",
                      v->name, nbytes);
  if (nbytes > v->capacity || !v->storage) {
    kiln_free(s->alloc, v->storage);
    v->capacity = 0;
    v->storage = kiln_calloc(s->alloc, 1, nbytes ? nbytes : 1);
    if (!v->storage) return KILN_OOM();
    v->capacity = nbytes;
  }
  memset(&v->value, 0, sizeof v->value);
  v->value.dtype = t->dtype;
  kiln_set_shape(&v->value, t->dims, t->rank);
  v->value.data = v->storage;
  v->shaped = true;
  return NULL;
}

static kiln_status *prepare_var_handle(kiln_session *s, int n) {
  const kiln_op_ctx *ctx = &s->contexts[n];
  KILN_TRY(kiln_check_arity(ctx, 0, 0, 1));
  const kiln_tensor *out = ctx->outputs[0];
  if (out->dtype != KILN_RESOURCE || kiln_tensor_numel(out) != 1)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "output 0 must be one resource; it is %s",
                      kiln_dtype_name(out->dtype));
  return NULL;
}

static kiln_status *prepare_read(kiln_session *s, int n) {
  const kiln_op_ctx *ctx = &s->contexts[n];
  kiln_resource_var *v = NULL; /* set by the lookup; gcc -O3 cannot see it */
  KILN_TRY(kiln_check_arity(ctx, 1, 1, 1));
  KILN_TRY(require_handle(ctx));
  KILN_TRY(variable_at_prepare(s, n, &v));
  /* Read before anything assigned it at this prepare: the file's shape for
   * the output says what the variable holds. */
  if (!v->shaped)
    KILN_TRY(shape_variable(s, v, ctx->outputs[0], "output 0 (value)"));
  if (v->value.dtype != ctx->outputs[0]->dtype)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "output 0 (value) is %s but variable '%s' holds %s",
                      kiln_dtype_name(ctx->outputs[0]->dtype), v->name,
                      kiln_dtype_name(v->value.dtype));
  kiln_set_shape(ctx->outputs[0], v->value.dims, v->value.rank);
  return NULL;
}

static kiln_status *prepare_assign(kiln_session *s, int n) {
  const kiln_op_ctx *ctx = &s->contexts[n];
  kiln_resource_var *v = NULL; /* set by the lookup; gcc -O3 cannot see it */
  KILN_TRY(kiln_check_arity(ctx, 2, 2, 0));
  KILN_TRY(require_handle(ctx));
  KILN_TRY(kiln_require_input(ctx, 1, "value"));
  KILN_TRY(variable_at_prepare(s, n, &v));
  return shape_variable(s, v, ctx->inputs[1], "input 1 (value)");
}

/* The variable a handle names at invoke, checked against the tensor it is
 * copied to or from. */
static kiln_status *variable_at_invoke(kiln_session *s, const kiln_tensor *h,
                                       const kiln_tensor *t,
                                       kiln_resource_var **out) {
  int32_t id = *(const int32_t *)h->data;
  if (id < 0 || id >= s->root->num_variables)
    return kiln_error(KILN_ERR_RUNTIME,
                      "input 0 (resource handle) holds %d, not a variable "
                      "(the model has %d)",
                      (int)id, s->root->num_variables);
  kiln_resource_var *v = &s->root->variables[id];
  if (!v->shaped || kiln_tensor_nbytes(&v->value) != kiln_tensor_nbytes(t))
    return kiln_error(KILN_ERR_RUNTIME,
                      "variable '%s' does not have the size prepare gave it",
                      v->name);
  *out = v;
  return NULL;
}

static kiln_status *invoke_read(kiln_session *s, int n) {
  const kiln_op_ctx *ctx = &s->contexts[n];
  kiln_resource_var *v = NULL; /* set by the lookup; gcc -O3 cannot see it */
  KILN_TRY(variable_at_invoke(s, ctx->inputs[0], ctx->outputs[0], &v));
  if (!v->assigned)
    return kiln_error(KILN_ERR_RUNTIME,
                      "variable '%s' is read before anything assigned it",
                      v->name);
  copy_tensor(ctx->outputs[0], &v->value);
  return NULL;
}

static kiln_status *invoke_assign(kiln_session *s, int n) {
  const kiln_op_ctx *ctx = &s->contexts[n];
  kiln_resource_var *v = NULL; /* set by the lookup; gcc -O3 cannot see it */
  KILN_TRY(variable_at_invoke(s, ctx->inputs[0], ctx->inputs[1], &v));
  copy_tensor(&v->value, ctx->inputs[1]);
  v->assigned = true;
  return NULL;
}

/* -------------------------------------------------------------- dispatch */

kiln_status *kiln_cf_prepare(kiln_session *s, int n) {
  switch (s->graph->nodes[n].op) {
    case KILN_OP_WHILE:
      return prepare_while(s, n);
    case KILN_OP_IF:
      return prepare_if(s, n);
    case KILN_OP_CALL_ONCE:
      return prepare_child(s, n, 0, "init");
    case KILN_OP_STABLEHLO_CASE:
      return prepare_case(s, n);
    case KILN_OP_STABLEHLO_COMPOSITE:
      return prepare_composite(s, n);
    case KILN_OP_VAR_HANDLE:
      return prepare_var_handle(s, n);
    case KILN_OP_READ_VARIABLE:
      return prepare_read(s, n);
    case KILN_OP_ASSIGN_VARIABLE:
      return prepare_assign(s, n);
    case KILN_OP_HASHTABLE:
    case KILN_OP_HASHTABLE_FIND:
    case KILN_OP_HASHTABLE_IMPORT:
    case KILN_OP_HASHTABLE_SIZE:
      return kiln_hashtable_prepare(s, n);
    default:
      return kiln_error(KILN_ERR_INTERNAL, "%s is not control flow",
                        op_name(&s->graph->nodes[n]));
  }
}

kiln_status *kiln_cf_invoke(kiln_session *s, int n) {
  const kiln_node *node = &s->graph->nodes[n];
  switch (node->op) {
    case KILN_OP_WHILE:
      return invoke_while(s, n);
    case KILN_OP_IF:
      return invoke_if(s, n);
    case KILN_OP_CALL_ONCE:
      return invoke_call_once(s, n);
    case KILN_OP_STABLEHLO_CASE:
      return invoke_case(s, n);
    case KILN_OP_STABLEHLO_COMPOSITE:
      return invoke_composite(s, n);
    case KILN_OP_VAR_HANDLE:
      *(int32_t *)s->contexts[n].outputs[0]->data =
          ((const kiln_var_handle_attrs *)node->attrs)->variable;
      return NULL;
    case KILN_OP_READ_VARIABLE:
      return invoke_read(s, n);
    case KILN_OP_ASSIGN_VARIABLE:
      return invoke_assign(s, n);
    case KILN_OP_HASHTABLE:
    case KILN_OP_HASHTABLE_FIND:
    case KILN_OP_HASHTABLE_IMPORT:
    case KILN_OP_HASHTABLE_SIZE:
      return kiln_hashtable_invoke(s, n);
    default:
      return kiln_error(KILN_ERR_INTERNAL, "%s is not control flow",
                        op_name(node));
  }
}
