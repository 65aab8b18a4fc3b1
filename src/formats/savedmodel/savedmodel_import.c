/* savedmodel_import.c - the SavedModel's serving signature turned into one
 * kiln graph (savedmodel_import.h).
 *
 * The graph is built on demand from the signature's outputs backwards:
 * only what they need is converted (the saver's functions and the
 * initializers are never touched). Each GraphDef, and each inlined call of
 * a FunctionDef, is a scope: its nodes, looked up by name through a sorted
 * index, and what each node's outputs resolved to. Within a scope nodes
 * are visited with an explicit stack (graphs thousands of nodes deep do
 * not recurse); a function call recurses once per nesting level, at most
 * SM_MAX_CALL_DEPTH. */
#include "formats/savedmodel/savedmodel_import.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "formats/protobuf/pb_wire.h"
#include "formats/savedmodel/savedmodel_internal.h"
#include "formats/savedmodel/tf_ops_util.h"

#define SM_MAX_CALL_DEPTH 32
#define SM_MAX_NODE_OUTPUTS 4096

enum { NODE_NEW = 0, NODE_OPEN, NODE_DONE };

/* One entry of a scope's name index. */
typedef struct named_node {
  kiln_tf_str name;
  size_t index;
} named_node;

typedef struct scope {
  const kiln_tf_node *nodes;
  size_t count;
  named_node *order;                /* the nodes sorted by name */
  const kiln_tf_function *function; /* NULL: the top-level graph */
  const sm_ref *args;               /* the call's inputs (function only) */
  uint8_t *state;
  sm_ref **outs;
  int *num_outs;
  char prefix[256]; /* value names start with it ("Call/") */
  int depth;
} scope;

kiln_status *sm_node_error(const sm_importer *im, const kiln_tf_node *n,
                           const char *fmt, ...) {
  char message[768];
  va_list args;
  va_start(args, fmt);
  vsnprintf(message, sizeof message, fmt, args);
  va_end(args);
  return kiln_error(KILN_ERR_INVALID_MODEL, "%s: node '%.*s' (op %.*s): %s",
                    im->source, (int)n->name.len, n->name.data, (int)n->op.len,
                    n->op.data, message);
}

static int compare_str(kiln_tf_str a, kiln_tf_str b) {
  size_t n = a.len < b.len ? a.len : b.len;
  int c = n ? memcmp(a.data, b.data, n) : 0;
  return c ? c : (a.len > b.len) - (a.len < b.len);
}

static int compare_named(const void *a, const void *b) {
  return compare_str(((const named_node *)a)->name,
                     ((const named_node *)b)->name);
}

static kiln_status *scope_init(sm_importer *im, scope *s,
                               const kiln_tf_node *nodes, size_t count) {
  s->nodes = nodes;
  s->count = count;
  size_t n = count ? count : 1;
  s->order = kiln_calloc(im->alloc, n, sizeof *s->order);
  s->state = kiln_calloc(im->alloc, n, sizeof *s->state);
  s->outs = kiln_calloc(im->alloc, n, sizeof *s->outs);
  s->num_outs = kiln_calloc(im->alloc, n, sizeof *s->num_outs);
  if (!s->order || !s->state || !s->outs || !s->num_outs) return KILN_OOM();
  for (size_t i = 0; i < count; i++)
    s->order[i] = (named_node){nodes[i].name, i};
  qsort(s->order, count, sizeof *s->order, compare_named);
  return NULL;
}

static void scope_free(sm_importer *im, scope *s) {
  for (size_t i = 0; s->outs && i < s->count; i++)
    kiln_free(im->alloc, s->outs[i]);
  kiln_free(im->alloc, s->outs);
  kiln_free(im->alloc, s->order);
  kiln_free(im->alloc, s->state);
  kiln_free(im->alloc, s->num_outs);
}

/* The node named `name`, or -1. */
static long find_node(const scope *s, kiln_tf_str name) {
  size_t lo = 0, hi = s->count;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = compare_str(s->order[mid].name, name);
    if (c == 0) return (long)s->order[mid].index;
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return -1;
}

/* Where an output argument of `op` starts among its flat outputs (ops whose
 * outputs are several named arguments). */
static int output_arg_offset(kiln_tf_str op, kiln_tf_str arg) {
  static const char *const batch_norm[] = {"y",
                                           "batch_mean",
                                           "batch_variance",
                                           "reserve_space_1",
                                           "reserve_space_2",
                                           "reserve_space_3"};
  if (kiln_tf_str_eq(op, "FusedBatchNormV3") ||
      kiln_tf_str_eq(op, "FusedBatchNorm") ||
      kiln_tf_str_eq(op, "FusedBatchNormV2"))
    for (int i = 0; i < 6; i++)
      if (kiln_tf_str_eq(arg, batch_norm[i])) return i;
  return 0;
}

/* A tensor reference: "node", "node:i" (graphs), "node:arg:i" or "arg"
 * (function bodies). Gives the producing node (or -1 and the argument's
 * index) and the flat output index. */
static kiln_status *parse_input(sm_importer *im, const scope *s,
                                const kiln_tf_node *user, kiln_tf_str in,
                                long *node, int *output, long *arg) {
  *node = -1;
  *arg = -1;
  *output = 0;
  const char *colon = in.len ? memchr(in.data, ':', in.len) : NULL;
  kiln_tf_str base = {in.data, colon ? (size_t)(colon - in.data) : in.len};
  if (!colon && s->function) {
    for (size_t i = 0; i < s->function->input_count; i++)
      if (compare_str(s->function->inputs[i].name, base) == 0) {
        *arg = (long)i;
        return NULL;
      }
  }
  *node = find_node(s, base);
  if (*node < 0)
    return sm_node_error(im, user, "input '%.*s' names no node", (int)in.len,
                         in.data);
  if (!colon) return NULL;
  kiln_tf_str rest = {colon + 1, in.len - base.len - 1};
  const char *colon2 = memchr(rest.data, ':', rest.len);
  int offset = 0;
  if (colon2) {
    kiln_tf_str arg_name = {rest.data, (size_t)(colon2 - rest.data)};
    offset = output_arg_offset(s->nodes[*node].op, arg_name);
    rest.data = colon2 + 1;
    rest.len -= arg_name.len + 1;
  }
  long index = 0;
  if (rest.len == 0 || rest.len > 6)
    return sm_node_error(im, user, "input '%.*s' has no output index",
                         (int)in.len, in.data);
  for (size_t i = 0; i < rest.len; i++) {
    if (rest.data[i] < '0' || rest.data[i] > '9')
      return sm_node_error(im, user, "input '%.*s' has a bad output index",
                           (int)in.len, in.data);
    index = index * 10 + (rest.data[i] - '0');
  }
  *output = offset + (int)index;
  return NULL;
}

static kiln_status *eval_node(sm_importer *im, scope *s, size_t root);

/* What input string `in` of `user` resolves to; its producer must be done. */
static kiln_status *resolve(sm_importer *im, const scope *s,
                            const kiln_tf_node *user, kiln_tf_str in,
                            sm_ref *out) {
  long node, arg;
  int output;
  KILN_TRY(parse_input(im, s, user, in, &node, &output, &arg));
  if (arg >= 0) {
    *out = s->args[arg];
    return NULL;
  }
  if (output >= s->num_outs[node])
    return sm_node_error(im, user, "input '%.*s': its node has %d outputs",
                         (int)in.len, in.data, s->num_outs[node]);
  *out = s->outs[node][output];
  if (out->kind == SM_NONE)
    return sm_node_error(im, user,
                         "input '%.*s' is an output kiln does not compute",
                         (int)in.len, in.data);
  return NULL;
}

static bool is_control(kiln_tf_str in) { return in.len && in.data[0] == '^'; }

static kiln_status *set_outputs(sm_importer *im, scope *s, size_t i, int n) {
  if (n < 1) n = 1;
  s->outs[i] = kiln_calloc(im->alloc, (size_t)n, sizeof **s->outs);
  if (!s->outs[i]) return KILN_OOM();
  s->num_outs[i] = n;
  return NULL;
}

/* A ReadVariableOp of a captured variable: its checkpoint tensor as a
 * constant (one per variable however often it is read). */
static kiln_status *read_variable(sm_importer *im, const kiln_tf_node *n,
                                  sm_ref resource, sm_ref *out) {
  if (resource.kind == SM_HANDLE)
    return sm_node_error(im, n,
                         "reads a variable no function call binds to the "
                         "object graph (kiln finds variables through "
                         "SavedConcreteFunction.bound_inputs)");
  if (resource.kind != SM_RESOURCE)
    return sm_node_error(im, n, "its input is not a resource variable");
  int object = resource.id;
  if ((size_t)object >= im->objects.key_count ||
      im->objects.keys[object].len == 0)
    return sm_node_error(im, n,
                         "object %d has no VARIABLE_VALUE in the "
                         "checkpoint's object graph",
                         object);
  if (im->variable_values[object] >= 0) {
    *out = (sm_ref){SM_VALUE, im->variable_values[object]};
    return NULL;
  }
  kiln_tf_str key = im->objects.keys[object];
  char name[512];
  snprintf(name, sizeof name, "%.*s", (int)key.len, key.data);
  const kiln_bundle_entry *e = kiln_bundle_find(im->bundle, name);
  if (!e) return sm_node_error(im, n, "variables/ has no tensor '%s'", name);
  if (e->dtype == KILN_DTYPE_INVALID)
    return sm_node_error(im, n, "variable '%s': %s", name, e->refusal);
  int id;
  void *data;
  KILN_TRY(kiln_gb_const(&im->gb, name, e->dtype, e->rank,
                         e->rank ? e->dims : NULL, &id, &data));
  size_t nbytes = im->gb.g->values[id].nbytes;
  if (nbytes != e->size)
    return sm_node_error(im, n,
                         "variable '%s' has %llu bytes where its shape "
                         "needs %zu",
                         name, (unsigned long long)e->size, nbytes);
  KILN_TRY(kiln_status_wrap(kiln_bundle_read(im->bundle, e, data, nbytes),
                            "%s: variables", im->source));
  im->variable_values[object] = id;
  *out = (sm_ref){SM_VALUE, id};
  return NULL;
}

/* Inlines a StatefulPartitionedCall / PartitionedCall. */
static kiln_status *inline_call(sm_importer *im, scope *s, size_t i,
                                const sm_ref *in, int num_in) {
  const kiln_tf_node *n = &s->nodes[i];
  const kiln_tf_attr_value *f = kiln_tf_node_attr(n, "f");
  if (!f || f->kind != KILN_TF_ATTR_FUNC || !f->func)
    return sm_node_error(im, n, "has no function attribute 'f'");
  const kiln_tf_function *fn = kiln_tf_find_function(im->graph, f->func->name);
  if (!fn)
    return sm_node_error(im, n, "calls '%.*s', which the library lacks",
                         (int)f->func->name.len, f->func->name.data);
  if ((size_t)num_in != fn->input_count)
    return sm_node_error(im, n, "passes %d inputs to a function of %zu", num_in,
                         fn->input_count);
  if (s->depth >= SM_MAX_CALL_DEPTH)
    return sm_node_error(im, n, "function calls nest deeper than %d",
                         SM_MAX_CALL_DEPTH);
  if (fn->output_count > SM_MAX_NODE_OUTPUTS)
    return sm_node_error(im, n, "its function has too many outputs");
  sm_ref *args =
      kiln_calloc(im->alloc, (size_t)(num_in ? num_in : 1), sizeof *args);
  if (!args) return KILN_OOM();
  if (num_in) memcpy(args, in, (size_t)num_in * sizeof *args);
  /* The trailing inputs are the function's captures: bind them to the
   * object graph's variables (savedmodel_objects.c says why). */
  const sm_bound *bound = sm_objects_bound(&im->objects, f->func->name);
  if (bound && bound->count <= (size_t)num_in)
    for (size_t k = 0; k < bound->count; k++)
      args[(size_t)num_in - bound->count + k] =
          (sm_ref){SM_RESOURCE, bound->nodes[k]};
  scope child = {.function = fn, .args = args, .depth = s->depth + 1};
  int written = snprintf(child.prefix, sizeof child.prefix, "%s%.*s/",
                         s->prefix, (int)n->name.len, n->name.data);
  kiln_status *st = NULL;
  if (written < 0 || (size_t)written >= sizeof child.prefix)
    st = sm_node_error(im, n, "its scope's name is too long");
  if (!st) st = scope_init(im, &child, fn->nodes, fn->node_count);
  if (!st) st = set_outputs(im, s, i, (int)fn->output_count);
  for (size_t k = 0; !st && k < fn->output_count; k++) {
    const kiln_tf_str *ret = NULL;
    for (size_t r = fn->ret_count; r-- > 0;)
      if (compare_str(fn->ret[r].key, fn->outputs[k].name) == 0) {
        ret = &fn->ret[r].value;
        break;
      }
    if (!ret) {
      st =
          sm_node_error(im, n, "its function returns nothing for '%.*s'",
                        (int)fn->outputs[k].name.len, fn->outputs[k].name.data);
      break;
    }
    long node, arg;
    int output;
    st = parse_input(im, &child, n, *ret, &node, &output, &arg);
    if (!st && node >= 0) st = eval_node(im, &child, (size_t)node);
    if (!st) st = resolve(im, &child, n, *ret, &s->outs[i][k]);
  }
  scope_free(im, &child);
  kiln_free(im->alloc, args);
  return st;
}

/* Records a converted node's TensorFlow op for `kiln info`; its index is
 * the source index of the IR nodes it becomes. */
static kiln_status *add_source_op(sm_importer *im, kiln_tf_str op) {
  kiln_graph *g = im->gb.g;
  if (g->num_source_ops == im->cap_source_ops) {
    int cap = im->cap_source_ops ? 2 * im->cap_source_ops : 64;
    char **grown =
        kiln_realloc(im->alloc, g->source_ops, (size_t)cap * sizeof *grown);
    if (!grown) return KILN_OOM();
    g->source_ops = grown;
    im->cap_source_ops = cap;
  }
  char *copy = kiln_malloc(im->alloc, op.len + 1);
  if (!copy) return KILN_OOM();
  if (op.len) memcpy(copy, op.data, op.len);
  copy[op.len] = '\0';
  im->gb.source_index = g->num_source_ops;
  g->source_ops[g->num_source_ops++] = copy;
  return NULL;
}

/* Converts node i once its inputs are done. */
static kiln_status *convert(sm_importer *im, scope *s, size_t i) {
  const kiln_tf_node *n = &s->nodes[i];
  int num_in = 0;
  for (size_t k = 0; k < n->input_count; k++)
    num_in += !is_control(n->inputs[k]);
  sm_ref *in =
      kiln_calloc(im->alloc, (size_t)(num_in ? num_in : 1), sizeof *in);
  if (!in) return KILN_OOM();
  kiln_status *st = NULL;
  for (size_t k = 0, j = 0; !st && k < n->input_count; k++)
    if (!is_control(n->inputs[k]))
      st = resolve(im, s, n, n->inputs[k], &in[j++]);
  char name[512];
  snprintf(name, sizeof name, "%s%.*s", s->prefix, (int)n->name.len,
           n->name.data);
  kiln_tf_str op = n->op;
  if (st) {
  } else if (kiln_tf_str_eq(op, "StatefulPartitionedCall") ||
             kiln_tf_str_eq(op, "PartitionedCall")) {
    st = inline_call(im, s, i, in, num_in);
  } else if (kiln_tf_str_eq(op, "IdentityN")) {
    st = set_outputs(im, s, i, num_in);
    for (int k = 0; !st && k < num_in; k++) s->outs[i][k] = in[k];
  } else if (kiln_tf_str_eq(op, "NoOp")) {
    st = set_outputs(im, s, i, 1);
  } else if (kiln_tf_str_eq(op, "Identity") ||
             kiln_tf_str_eq(op, "StopGradient")) {
    if (num_in != 1) st = sm_node_error(im, n, "takes one input");
    if (!st) st = set_outputs(im, s, i, 1);
    if (!st) s->outs[i][0] = in[0];
  } else if (kiln_tf_str_eq(op, "VarHandleOp")) {
    st = set_outputs(im, s, i, 1);
    if (!st) s->outs[i][0] = (sm_ref){SM_HANDLE, -1};
  } else if (kiln_tf_str_eq(op, "ReadVariableOp")) {
    if (num_in != 1) st = sm_node_error(im, n, "takes one input");
    if (!st) st = set_outputs(im, s, i, 1);
    if (!st) st = read_variable(im, n, in[0], &s->outs[i][0]);
  } else if (kiln_tf_str_eq(op, "ResourceGather")) {
    /* A gather straight from a variable: the variable, then GATHER. */
    sm_ref table = {0};
    if (num_in != 2) st = sm_node_error(im, n, "takes two inputs");
    if (!st) st = set_outputs(im, s, i, 1);
    if (!st) st = read_variable(im, n, in[0], &table);
    if (!st) st = add_source_op(im, op);
    if (!st && in[1].kind != SM_VALUE)
      st = sm_node_error(im, n, "its indices are not a tensor");
    if (!st) {
      kiln_gather_attrs a = {
          .axis = 0, .batch_dims = (int)sm_attr_int(n, "batch_dims", 0)};
      int ins[2] = {table.id, in[1].id};
      s->outs[i][0].kind = SM_VALUE;
      st = sm_node(im, KILN_OP_GATHER, ins, 2, &a, name, NULL,
                   sm_value(im, table.id)->dtype, &s->outs[i][0].id);
    }
  } else if (kiln_tf_str_eq(op, "Placeholder")) {
    st = sm_node_error(im, n,
                       "is not an input of the serving signature, so "
                       "nothing feeds it");
  } else {
    sm_convert_fn fn = sm_find_op(op);
    if (!fn) {
      st = kiln_error(KILN_ERR_UNSUPPORTED,
                      "%s: node '%.*s' (op %.*s) is not supported", im->source,
                      (int)n->name.len, n->name.data, (int)op.len, op.data);
    } else {
      for (int k = 0; !st && k < num_in; k++)
        if (in[k].kind != SM_VALUE)
          st = sm_node_error(im, n, "input %d is a resource, not a tensor", k);
      if (!st) st = set_outputs(im, s, i, 6);
      if (!st && !kiln_tf_str_eq(op, "Const")) st = add_source_op(im, op);
      if (!st) st = fn(im, n, name, in, num_in, &s->outs[i][0]);
    }
  }
  kiln_free(im->alloc, in);
  return st;
}

/* Evaluates node `root` and everything it depends on, depth first with an
 * explicit stack. */
static kiln_status *eval_node(sm_importer *im, scope *s, size_t root) {
  if (s->state[root] == NODE_DONE) return NULL;
  size_t cap = 64, top = 0;
  size_t *stack = kiln_malloc(im->alloc, cap * sizeof *stack);
  if (!stack) return KILN_OOM();
  kiln_status *st = NULL;
  stack[top++] = root;
  s->state[root] = NODE_OPEN;
  while (!st && top) {
    size_t i = stack[top - 1];
    const kiln_tf_node *n = &s->nodes[i];
    bool pushed = false;
    for (size_t k = 0; !st && k < n->input_count && !pushed; k++) {
      if (is_control(n->inputs[k])) continue;
      long node, arg;
      int output;
      st = parse_input(im, s, n, n->inputs[k], &node, &output, &arg);
      if (st || node < 0 || s->state[node] == NODE_DONE) continue;
      if (s->state[node] == NODE_OPEN) {
        st = sm_node_error(im, n, "its input '%.*s' depends on itself",
                           (int)n->inputs[k].len, n->inputs[k].data);
        break;
      }
      if (top == cap) {
        size_t *grown = kiln_realloc(im->alloc, stack, 2 * cap * sizeof *stack);
        if (!grown) {
          st = KILN_OOM();
          break;
        }
        stack = grown;
        cap *= 2;
      }
      s->state[node] = NODE_OPEN;
      stack[top++] = (size_t)node;
      pushed = true;
    }
    if (st || pushed) continue;
    st = convert(im, s, i);
    s->state[i] = NODE_DONE;
    top--;
  }
  kiln_free(im->alloc, stack);
  return st;
}

/* The signature to serve: serving_default, else the only one that is not
 * the init op. */
static kiln_status *pick_signature(const kiln_tf_meta_graph *mg,
                                   const char *source,
                                   const kiln_tf_signature **out) {
  *out = kiln_tf_find_signature(mg, "serving_default");
  if (*out) return NULL;
  const kiln_tf_signature *only = NULL;
  size_t count = 0;
  for (size_t i = 0; i < mg->signature_count; i++) {
    if (kiln_tf_str_eq(mg->signatures[i].key, "__saved_model_init_op"))
      continue;
    only = &mg->signatures[i];
    count++;
  }
  if (count != 1)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%s: no serving_default signature, and %zu others to "
                      "choose from",
                      source, count);
  *out = only;
  return NULL;
}

/* The graph input for one signature input: the Placeholder it names. */
static kiln_status *add_input(sm_importer *im, scope *top,
                              const kiln_tf_signature_arg *a, int *out_id) {
  const kiln_tf_tensor_info *info = &a->info;
  if (info->encoded_otherwise)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "%s: signature input '%.*s' is sparse or composite",
                      im->source, (int)a->key.len, a->key.data);
  kiln_tf_str base = info->name;
  const char *colon = base.len ? memchr(base.data, ':', base.len) : NULL;
  if (colon) base.len = (size_t)(colon - base.data);
  long node = find_node(top, base);
  if (node < 0)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%s: signature input '%.*s' names tensor '%.*s', which "
                      "the graph lacks",
                      im->source, (int)a->key.len, a->key.data,
                      (int)info->name.len, info->name.data);
  if (!info->has_shape || info->shape.unknown_rank ||
      info->shape.rank > KILN_MAX_RANK)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "%s: signature input '%.*s' has no known rank (at most "
                      "%d)",
                      im->source, (int)a->key.len, a->key.data, KILN_MAX_RANK);
  kiln_dtype dtype;
  KILN_TRY(kiln_status_wrap(kiln_tf_dtype_to_kiln(info->dtype, &dtype),
                            "%s: signature input '%.*s'", im->source,
                            (int)a->key.len, a->key.data));
  char name[512];
  snprintf(name, sizeof name, "%.*s", (int)base.len, base.data);
  int id;
  KILN_TRY(kiln_graph_add_value(im->gb.g, name, &id));
  kiln_value *v = &im->gb.g->values[id];
  v->dtype = dtype;
  v->rank = (int)info->shape.rank;
  for (int d = 0; d < v->rank; d++) {
    int64_t dim = info->shape.dims[d];
    if (dim < -1 || dim > ((int64_t)1 << 31))
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "%s: signature input '%.*s' has dimension %lld",
                        im->source, (int)a->key.len, a->key.data,
                        (long long)dim);
    v->signature[d] = dim;
    v->dims[d] = dim < 0 ? 1 : dim;
  }
  if (top->state[node] == NODE_DONE)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%s: signature input '%.*s' names a tensor another "
                      "input names too",
                      im->source, (int)a->key.len, a->key.data);
  KILN_TRY(set_outputs(im, top, (size_t)node, 1));
  top->outs[node][0] = (sm_ref){SM_VALUE, id};
  top->state[node] = NODE_DONE;
  *out_id = id;
  return NULL;
}

/* The chosen MetaGraphDef's bytes within saved_model.pb (field 2 of
 * SavedModel, the index-th). */
static kiln_status *meta_graph_bytes(const void *pb, size_t size, size_t index,
                                     const uint8_t **out, size_t *out_len) {
  kiln_pb_reader r = kiln_pb_reader_make(pb, size, "SavedModel");
  kiln_pb_field f;
  bool more;
  size_t seen = 0;
  for (;;) {
    KILN_TRY(kiln_pb_next(&r, &f, &more));
    if (!more) break;
    if (f.number == 2 && f.wire_type == KILN_PB_LEN && seen++ == index) {
      *out = f.bytes;
      *out_len = f.len;
      return NULL;
    }
  }
  return kiln_error(KILN_ERR_INVALID_MODEL,
                    "saved_model.pb: MetaGraphDef %zu "
                    "not found",
                    index);
}

static kiln_status *build(sm_importer *im, const void *pb, size_t pb_size,
                          const kiln_tf_saved_model *model,
                          const kiln_tf_meta_graph *mg) {
  const uint8_t *mg_bytes = NULL;
  size_t mg_len = 0;
  KILN_TRY(meta_graph_bytes(pb, pb_size, (size_t)(mg - model->meta_graphs),
                            &mg_bytes, &mg_len));
  if (im->bundle)
    KILN_TRY(sm_objects_read(mg_bytes, mg_len, im->bundle, im->alloc,
                             im->source, &im->objects));
  im->variable_values = kiln_malloc(
      im->alloc, (im->objects.key_count ? im->objects.key_count : 1) *
                     sizeof *im->variable_values);
  if (!im->variable_values) return KILN_OOM();
  for (size_t i = 0; i < im->objects.key_count; i++)
    im->variable_values[i] = -1;
  const kiln_tf_signature *sig;
  KILN_TRY(pick_signature(mg, im->source, &sig));
  if (sig->input_count > 4096 || sig->output_count > 4096)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "%s: the signature has too many inputs or outputs",
                      im->source);
  size_t n_in = sig->input_count, n_out = sig->output_count;
  int *ids = kiln_calloc(im->alloc, n_in + n_out + 1, sizeof *ids);
  char **names = kiln_calloc(im->alloc, n_in + n_out + 1, sizeof *names);
  scope top = {0};
  kiln_status *st = ids && names ? NULL : KILN_OOM();
  if (!st) st = scope_init(im, &top, mg->graph.nodes, mg->graph.node_count);
  for (size_t i = 0; !st && i < n_in; i++)
    st = add_input(im, &top, &sig->inputs[i], &ids[i]);
  for (size_t i = 0; !st && i < n_out; i++) {
    const kiln_tf_signature_arg *a = &sig->outputs[i];
    kiln_tf_node anchor = {.name = a->key, .op = {"signature output", 16}};
    long node, arg;
    int output;
    st = parse_input(im, &top, &anchor, a->info.name, &node, &output, &arg);
    if (!st) st = eval_node(im, &top, (size_t)node);
    sm_ref ref = {0};
    if (!st) st = resolve(im, &top, &anchor, a->info.name, &ref);
    if (!st && ref.kind != SM_VALUE)
      st = sm_node_error(im, &anchor, "is not a tensor");
    if (!st) ids[n_in + i] = ref.id;
  }
  for (size_t i = 0; !st && i < n_in + n_out; i++) {
    kiln_tf_str key =
        i < n_in ? sig->inputs[i].key : sig->outputs[i - n_in].key;
    names[i] = kiln_malloc(im->alloc, key.len + 1);
    if (!names[i]) {
      st = KILN_OOM();
      break;
    }
    if (key.len) memcpy(names[i], key.data, key.len);
    names[i][key.len] = '\0';
  }
  if (!st && im->fixed_batch) {
    /* A shape was computed at the default batch: every size is fixed. */
    kiln_graph *g = im->gb.g;
    for (int v = 0; v < g->num_values; v++)
      memcpy(g->values[v].signature, g->values[v].dims,
             sizeof g->values[v].signature);
  }
  if (!st)
    st = kiln_graph_set_io(im->gb.g, ids, (const char *const *)names, (int)n_in,
                           ids + n_in, (const char *const *)(names + n_in),
                           (int)n_out);
  scope_free(im, &top);
  for (size_t i = 0; names && i < n_in + n_out; i++)
    kiln_free(im->alloc, names[i]);
  kiln_free(im->alloc, names);
  kiln_free(im->alloc, ids);
  return st;
}

kiln_status *kiln_savedmodel_import(const void *pb, size_t pb_size,
                                    const char *variables_prefix,
                                    const char *source,
                                    const kiln_allocator *alloc,
                                    kiln_graph **out_graph) {
  *out_graph = NULL;
  kiln_bundle *bundle = NULL;
  KILN_TRY(kiln_status_wrap(kiln_bundle_open(variables_prefix, alloc, &bundle),
                            "%s", source));
  kiln_status *st = kiln_savedmodel_import_with_bundle(
      pb, pb_size, bundle, source, alloc, out_graph);
  kiln_bundle_free(bundle);
  return st;
}

kiln_status *kiln_savedmodel_import_with_bundle(const void *pb, size_t pb_size,
                                                kiln_bundle *bundle,
                                                const char *source,
                                                const kiln_allocator *alloc,
                                                kiln_graph **out_graph) {
  *out_graph = NULL;
  kiln_tf_saved_model *model = NULL;
  KILN_TRY(kiln_status_wrap(
      kiln_tf_saved_model_parse(pb, pb_size, "saved_model.pb", &model), "%s",
      source));
  sm_importer im = {.alloc = alloc, .source = source, .bundle = bundle};
  const kiln_tf_meta_graph *mg = NULL;
  kiln_status *st = kiln_tf_pick_serving(model, "saved_model.pb", &mg);
  if (!st) {
    im.graph = &mg->graph;
    im.gb.g = kiln_graph_create(alloc);
    im.gb.source = source;
    if (!im.gb.g) st = KILN_OOM();
  }
  if (!st) st = build(&im, pb, pb_size, model, mg);
  if (!st) st = kiln_graph_validate(im.gb.g, source);
  if (st && st->code != KILN_ERR_OUT_OF_MEMORY &&
      strncmp(kiln_status_message(st), source, strlen(source)) != 0)
    st = kiln_status_wrap(st, "%s", source);
  sm_objects_free(&im.objects, alloc);
  kiln_free(alloc, im.variable_values);
  kiln_tf_saved_model_free(model);
  if (st) {
    kiln_graph_free(im.gb.g);
    return st;
  }
  *out_graph = im.gb.g;
  return NULL;
}
