/* hashtable.c - TFLite's static hash tables, run by the session.
 *
 * A table is a resource of the root session, like a resource variable: one
 * per table_id the model's HASHTABLE operators name, shared by every
 * subgraph (the converter imports in a CALL_ONCE initializer and looks up
 * in the main graph). HASHTABLE writes the table's id into its handle;
 * HASHTABLE_IMPORT fills the table once (later imports do nothing, as in
 * LiteRT's static table, which keeps the first value of a repeated key);
 * HASHTABLE_FIND maps each key to its value or to the default's first
 * element; HASHTABLE_SIZE gives the number of distinct keys.
 *
 * Invoke must not allocate, so the work is done at prepare: an import's
 * keys and values must be constants (the converter's are), and each
 * HASHTABLE_IMPORT registers them with its table then, with the distinct
 * keys sorted. The import that runs first at invoke picks its
 * registration; a lookup is then a binary search. Values are not copied:
 * int64 values are read from the constant, string values are views into
 * the model's bytes, which outlive every session. */
#include "runtime/hashtable.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/dtype_private.h"
#include "runtime/session_internal.h"

/* One HASHTABLE_IMPORT's constants, registered at prepare. */
typedef struct table_import {
  const void *keys, *values; /* the constants' data */
  int64_t count;             /* entries in them */
  int64_t *order; /* distinct keys (the first of equal ones), sorted */
  int64_t size;   /* how many */
} table_import;

typedef struct kiln_hashtable {
  int32_t id;
  kiln_dtype key_dtype, value_dtype;
  table_import *imports;
  int num_imports, capacity;
  const table_import *imported; /* the import that ran; NULL: empty */
} kiln_hashtable;

bool kiln_hashtable_is_op(kiln_op_type op) {
  return op == KILN_OP_HASHTABLE || op == KILN_OP_HASHTABLE_FIND ||
         op == KILN_OP_HASHTABLE_IMPORT || op == KILN_OP_HASHTABLE_SIZE;
}

static const kiln_model *root_model(const kiln_session *s) {
  return s->model->root ? s->model->root : s->model;
}

static kiln_hashtable *find_table(kiln_session *s, int32_t id) {
  kiln_session *root = s->root;
  for (int t = 0; t < root->num_tables; t++)
    if (root->tables[t].id == id) return &root->tables[t];
  return NULL;
}

/* ------------------------------------------------------------ lifetime */

kiln_status *kiln_hashtables_create(kiln_session *root) {
  const kiln_model *m = root_model(root);
  int count = 0;
  for (int i = 0; i < m->num_subgraphs; i++) {
    const kiln_graph *g = m->subgraphs[i] ? m->subgraphs[i]->graph : NULL;
    for (int n = 0; g && n < g->num_nodes; n++)
      count += g->nodes[n].op == KILN_OP_HASHTABLE;
  }
  if (!count) return NULL;
  root->tables = kiln_calloc(root->alloc, (size_t)count, sizeof *root->tables);
  if (!root->tables) return KILN_OOM();
  for (int i = 0; i < m->num_subgraphs; i++) {
    const kiln_graph *g = m->subgraphs[i] ? m->subgraphs[i]->graph : NULL;
    for (int n = 0; g && n < g->num_nodes; n++) {
      if (g->nodes[n].op != KILN_OP_HASHTABLE) continue;
      const kiln_hashtable_attrs *a = g->nodes[n].attrs;
      if (find_table(root, a->table_id)) continue;
      kiln_hashtable *t = &root->tables[root->num_tables++];
      t->id = a->table_id;
      t->key_dtype = a->key_dtype;
      t->value_dtype = a->value_dtype;
    }
  }
  return NULL;
}

static void drop_imports(kiln_session *root, kiln_hashtable *t) {
  for (int i = 0; i < t->num_imports; i++)
    kiln_free(root->alloc, t->imports[i].order);
  t->num_imports = 0;
  t->imported = NULL;
}

void kiln_hashtables_free(kiln_session *root) {
  for (int t = 0; t < root->num_tables; t++) {
    drop_imports(root, &root->tables[t]);
    kiln_free(root->alloc, root->tables[t].imports);
  }
  kiln_free(root->alloc, root->tables);
  root->tables = NULL;
  root->num_tables = 0;
}

void kiln_hashtables_begin_prepare(kiln_session *root) {
  for (int t = 0; t < root->num_tables; t++)
    drop_imports(root, &root->tables[t]);
}

/* ----------------------------------------------------------------- keys */

static int compare_strings(const kiln_string *a, const kiln_string *b) {
  size_t n = a->size < b->size ? a->size : b->size;
  int c = n ? memcmp(a->data, b->data, n) : 0;
  if (c) return c;
  return (a->size > b->size) - (a->size < b->size);
}

/* Key i of `keys` against `key` (an int64_t or a kiln_string). */
static int compare_key(kiln_dtype dtype, const void *keys, int64_t i,
                       const void *key) {
  if (dtype == KILN_STRING)
    return compare_strings(&((const kiln_string *)keys)[i], key);
  int64_t a = ((const int64_t *)keys)[i], b = *(const int64_t *)key;
  return (a > b) - (a < b);
}

/* Sorting entries by key, then by position, so that the first of equal
 * keys comes first and is the one kept. */
typedef struct sort_entry {
  int64_t index;
  int64_t key;             /* int64 keys */
  const kiln_string *text; /* string keys */
} sort_entry;

static int compare_entries(const void *pa, const void *pb) {
  const sort_entry *a = pa, *b = pb;
  int c = a->text ? compare_strings(a->text, b->text)
                  : (a->key > b->key) - (a->key < b->key);
  if (c) return c;
  return (a->index > b->index) - (a->index < b->index);
}

static kiln_status *build_order(kiln_session *s, kiln_dtype dtype,
                                table_import *im) {
  size_t count = (size_t)im->count;
  sort_entry *entries =
      kiln_calloc(s->alloc, count ? count : 1, sizeof *entries);
  im->order = kiln_calloc(s->alloc, count ? count : 1, sizeof *im->order);
  if (!entries || !im->order) {
    kiln_free(s->alloc, entries);
    return KILN_OOM();
  }
  for (size_t i = 0; i < count; i++) {
    entries[i].index = (int64_t)i;
    if (dtype == KILN_STRING)
      entries[i].text = &((const kiln_string *)im->keys)[i];
    else
      entries[i].key = ((const int64_t *)im->keys)[i];
  }
  qsort(entries, count, sizeof *entries, compare_entries);
  im->size = 0;
  for (size_t i = 0; i < count; i++) {
    if (i > 0 &&
        compare_key(dtype, im->keys, entries[i - 1].index,
                    dtype == KILN_STRING ? (const void *)entries[i].text
                                         : (const void *)&entries[i].key) == 0)
      continue;
    im->order[im->size++] = entries[i].index;
  }
  kiln_free(s->alloc, entries);
  return NULL;
}

/* The position in `im->keys` of `key`, or -1. */
static int64_t lookup(kiln_dtype dtype, const table_import *im,
                      const void *key) {
  int64_t lo = 0, hi = im->size;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    int c = compare_key(dtype, im->keys, im->order[mid], key);
    if (c == 0) return im->order[mid];
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return -1;
}

/* -------------------------------------------------------------- prepare */

/* The table value `id` of session `s` holds a handle to, when known before
 * invoke: a HASHTABLE's output, or a subgraph input fed by one in the
 * calling session. NULL when it is not. */
static kiln_hashtable *static_table(kiln_session *s, int id) {
  const kiln_graph *g = s->graph;
  for (int n = 0; n < g->num_nodes; n++) {
    const kiln_node *node = &g->nodes[n];
    if (node->op == KILN_OP_HASHTABLE && node->num_outputs == 1 &&
        node->outputs[0] == id)
      return find_table(s,
                        ((const kiln_hashtable_attrs *)node->attrs)->table_id);
  }
  if (!s->parent) return NULL;
  for (int i = 0; i < g->num_inputs; i++) {
    if (g->inputs[i] != id) continue;
    const kiln_node *call = &s->parent->graph->nodes[s->parent_node];
    int k = i + s->input_offset;
    return k < call->num_inputs ? static_table(s->parent, call->inputs[k])
                                : NULL;
  }
  return NULL;
}

static kiln_status *one_resource(const kiln_tensor *t, const char *role) {
  if (t->dtype != KILN_RESOURCE || kiln_tensor_numel(t) != 1)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%s must be one resource; it is %s of %lld elements",
                      role, kiln_dtype_name(t->dtype),
                      (long long)kiln_tensor_numel(t));
  return NULL;
}

/* Input 0's table, checked to be known at prepare. */
static kiln_status *table_at_prepare(kiln_session *s, int n,
                                     kiln_hashtable **out) {
  const kiln_op_ctx *ctx = &s->contexts[n];
  KILN_TRY(kiln_require_input(ctx, 0, "table handle"));
  KILN_TRY(one_resource(ctx->inputs[0], "input 0 (table handle)"));
  *out = static_table(s, s->graph->nodes[n].inputs[0]);
  if (!*out)
    return kiln_error(KILN_ERR_UNSUPPORTED,
                      "kiln cannot tell at prepare which table input 0 "
                      "(table handle) names; it must come from a HASHTABLE, "
                      "directly or through subgraph inputs");
  return NULL;
}

static kiln_status *require_type(const kiln_tensor *t, kiln_dtype want,
                                 const char *role, const kiln_hashtable *table,
                                 const char *what) {
  if (t->dtype == want) return NULL;
  return kiln_error(KILN_ERR_INVALID_MODEL, "%s is %s but table %d's %s are %s",
                    role, kiln_dtype_name(t->dtype), (int)table->id, what,
                    kiln_dtype_name(want));
}

static kiln_status *prepare_hashtable(kiln_session *s, int n) {
  const kiln_op_ctx *ctx = &s->contexts[n];
  const kiln_hashtable_attrs *a = ctx->attrs;
  KILN_TRY(kiln_check_arity(ctx, 0, 0, 1));
  KILN_TRY(one_resource(ctx->outputs[0], "output 0 (table handle)"));
  const kiln_hashtable *t = find_table(s, a->table_id);
  if (!t)
    return kiln_error(KILN_ERR_INTERNAL, "table %d was not created",
                      (int)a->table_id);
  if (t->key_dtype != a->key_dtype || t->value_dtype != a->value_dtype)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "table %d is %s -> %s here but %s -> %s in another "
                      "HASHTABLE",
                      (int)a->table_id, kiln_dtype_name(a->key_dtype),
                      kiln_dtype_name(a->value_dtype),
                      kiln_dtype_name(t->key_dtype),
                      kiln_dtype_name(t->value_dtype));
  return NULL;
}

static kiln_status *prepare_import(kiln_session *s, int n) {
  const kiln_op_ctx *ctx = &s->contexts[n];
  const kiln_node *node = &s->graph->nodes[n];
  kiln_hashtable *t = NULL;
  KILN_TRY(kiln_check_arity(ctx, 3, 3, 0));
  KILN_TRY(table_at_prepare(s, n, &t));
  KILN_TRY(kiln_require_input(ctx, 1, "keys"));
  KILN_TRY(kiln_require_input(ctx, 2, "values"));
  const kiln_tensor *keys = ctx->inputs[1], *values = ctx->inputs[2];
  KILN_TRY(require_type(keys, t->key_dtype, "input 1 (keys)", t, "keys"));
  KILN_TRY(
      require_type(values, t->value_dtype, "input 2 (values)", t, "values"));
  bool same = keys->rank == values->rank;
  for (int d = 0; same && d < keys->rank; d++)
    same = keys->dims[d] == values->dims[d];
  if (!same) {
    char a[KILN_DIMS_STR_SIZE], b[KILN_DIMS_STR_SIZE];
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 1 (keys) %s and input 2 (values) %s "
                      "must have the same shape",
                      kiln_dims_str(keys->dims, keys->rank, a, sizeof a),
                      kiln_dims_str(values->dims, values->rank, b, sizeof b));
  }
  for (int k = 1; k <= 2; k++)
    if (s->homes[node->inputs[k]] != HOME_CONSTANT)
      return kiln_error(KILN_ERR_UNSUPPORTED,
                        "input %d (%s) must be a constant: kiln builds a "
                        "table at prepare, from the model's data",
                        k, k == 1 ? "keys" : "values");
  for (int i = 0; i < t->num_imports; i++)
    if (t->imports[i].keys == keys->data &&
        t->imports[i].values == values->data)
      return NULL; /* prepared again (a loop body): registered already */
  if (t->num_imports == t->capacity) {
    int capacity = t->capacity ? 2 * t->capacity : 2;
    table_import *grown =
        kiln_realloc(s->alloc, t->imports, (size_t)capacity * sizeof *grown);
    if (!grown) return KILN_OOM();
    t->imports = grown;
    t->capacity = capacity;
  }
  table_import *im = &t->imports[t->num_imports];
  memset(im, 0, sizeof *im);
  im->keys = keys->data;
  im->values = values->data;
  im->count = kiln_tensor_numel(keys);
  KILN_TRY(build_order(s, t->key_dtype, im));
  t->num_imports++;
  return NULL;
}

static kiln_status *prepare_find(kiln_session *s, int n) {
  const kiln_op_ctx *ctx = &s->contexts[n];
  kiln_hashtable *t = NULL;
  KILN_TRY(kiln_check_arity(ctx, 3, 3, 1));
  KILN_TRY(table_at_prepare(s, n, &t));
  KILN_TRY(kiln_require_input(ctx, 1, "keys"));
  KILN_TRY(kiln_require_input(ctx, 2, "default value"));
  const kiln_tensor *keys = ctx->inputs[1], *fallback = ctx->inputs[2];
  KILN_TRY(require_type(keys, t->key_dtype, "input 1 (keys)", t, "keys"));
  KILN_TRY(require_type(fallback, t->value_dtype, "input 2 (default value)", t,
                        "values"));
  KILN_TRY(require_type(ctx->outputs[0], t->value_dtype, "output 0 (values)", t,
                        "values"));
  if (kiln_tensor_numel(fallback) < 1)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "input 2 (default value) is empty; its first element "
                      "is what missing keys find");
  kiln_set_shape(ctx->outputs[0], keys->dims, keys->rank);
  return NULL;
}

static kiln_status *prepare_size(kiln_session *s, int n) {
  const kiln_op_ctx *ctx = &s->contexts[n];
  kiln_hashtable *t = NULL;
  KILN_TRY(kiln_check_arity(ctx, 1, 1, 1));
  KILN_TRY(table_at_prepare(s, n, &t));
  KILN_TRY(kiln_require_dtype(ctx->outputs[0], KILN_INT64, "output 0 (size)"));
  int64_t one = 1;
  kiln_set_shape(ctx->outputs[0], &one, 1);
  return NULL;
}

kiln_status *kiln_hashtable_prepare(kiln_session *s, int n) {
  switch (s->graph->nodes[n].op) {
    case KILN_OP_HASHTABLE:
      return prepare_hashtable(s, n);
    case KILN_OP_HASHTABLE_IMPORT:
      return prepare_import(s, n);
    case KILN_OP_HASHTABLE_FIND:
      return prepare_find(s, n);
    case KILN_OP_HASHTABLE_SIZE:
      return prepare_size(s, n);
    default:
      return kiln_error(KILN_ERR_INTERNAL, "not a hash table operator");
  }
}

/* --------------------------------------------------------------- invoke */

static kiln_status *table_at_invoke(kiln_session *s, const kiln_tensor *h,
                                    kiln_hashtable **out) {
  int32_t id = *(const int32_t *)h->data;
  *out = find_table(s, id);
  if (!*out)
    return kiln_error(KILN_ERR_RUNTIME,
                      "input 0 (table handle) holds %d, which names no table",
                      (int)id);
  return NULL;
}

static kiln_status *invoke_import(kiln_session *s, int n) {
  const kiln_op_ctx *ctx = &s->contexts[n];
  kiln_hashtable *t = NULL;
  KILN_TRY(table_at_invoke(s, ctx->inputs[0], &t));
  if (t->imported) return NULL; /* a static table is filled once */
  for (int i = 0; i < t->num_imports; i++)
    if (t->imports[i].keys == ctx->inputs[1]->data &&
        t->imports[i].values == ctx->inputs[2]->data) {
      t->imported = &t->imports[i];
      return NULL;
    }
  return kiln_error(KILN_ERR_RUNTIME,
                    "table %d: this import was not prepared for it",
                    (int)t->id);
}

static kiln_status *invoke_find(kiln_session *s, int n) {
  const kiln_op_ctx *ctx = &s->contexts[n];
  kiln_hashtable *t = NULL;
  KILN_TRY(table_at_invoke(s, ctx->inputs[0], &t));
  const kiln_tensor *keys = ctx->inputs[1], *fallback = ctx->inputs[2];
  kiln_tensor *out = ctx->outputs[0];
  if (keys->dtype != t->key_dtype || out->dtype != t->value_dtype)
    return kiln_error(KILN_ERR_RUNTIME, "table %d is %s -> %s", (int)t->id,
                      kiln_dtype_name(t->key_dtype),
                      kiln_dtype_name(t->value_dtype));
  const table_import *im = t->imported;
  if (!im)
    return kiln_error(KILN_ERR_RUNTIME,
                      "table %d is looked up before HASHTABLE_IMPORT filled "
                      "it",
                      (int)t->id);
  int64_t count = kiln_tensor_numel(keys);
  size_t element = kiln_dtype_size(t->value_dtype);
  size_t key_size = kiln_dtype_size(t->key_dtype);
  const char *key = keys->data;
  char *dst = out->data;
  for (int64_t i = 0; i < count; i++) {
    int64_t at = lookup(t->key_dtype, im, key + (size_t)i * key_size);
    const char *src = at >= 0 ? (const char *)im->values + (size_t)at * element
                              : (const char *)fallback->data;
    memcpy(dst + (size_t)i * element, src, element);
  }
  return NULL;
}

kiln_status *kiln_hashtable_invoke(kiln_session *s, int n) {
  const kiln_op_ctx *ctx = &s->contexts[n];
  kiln_hashtable *t = NULL;
  switch (s->graph->nodes[n].op) {
    case KILN_OP_HASHTABLE:
      *(int32_t *)ctx->outputs[0]->data =
          ((const kiln_hashtable_attrs *)ctx->attrs)->table_id;
      return NULL;
    case KILN_OP_HASHTABLE_IMPORT:
      return invoke_import(s, n);
    case KILN_OP_HASHTABLE_FIND:
      return invoke_find(s, n);
    case KILN_OP_HASHTABLE_SIZE:
      KILN_TRY(table_at_invoke(s, ctx->inputs[0], &t));
      *(int64_t *)ctx->outputs[0]->data = t->imported ? t->imported->size : 0;
      return NULL;
    default:
      return kiln_error(KILN_ERR_INTERNAL, "not a hash table operator");
  }
}
