/* custom_op.c - the custom operator registry of kiln.h, the lookup of
 * custom codes, the graph-owned node records and the accessors the
 * callbacks use. */
#include "core/custom_op.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"

struct kiln_op_registry {
  kiln_custom_op *ops; /* names point at copies owned here */
  int count, capacity;
};

kiln_status *kiln_status_create(kiln_status_code code, const char *fmt, ...) {
  char message[1024];
  if (!fmt) return kiln_error(code, "(no message)");
  va_list args;
  va_start(args, fmt);
  vsnprintf(message, sizeof message, fmt, args);
  va_end(args);
  return kiln_error(code, "%s", message);
}

kiln_status *kiln_op_registry_create(kiln_op_registry **out_registry) {
  if (!out_registry)
    return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                      "kiln_op_registry_create: out_registry is required");
  *out_registry = calloc(1, sizeof **out_registry);
  return *out_registry ? NULL : KILN_OOM();
}

void kiln_op_registry_free(kiln_op_registry *r) {
  if (!r) return;
  for (int i = 0; i < r->count; i++) free((char *)r->ops[i].name);
  free(r->ops);
  free(r);
}

/* Copies the caller's registration of struct_size bytes into ours: fields
 * past their struct are absent; fields past ours must be unset. */
static kiln_status *copy_registration(const kiln_custom_op *op,
                                      kiln_custom_op *out) {
  const size_t required = offsetof(kiln_custom_op, invoke) + sizeof op->invoke;
  if (op->struct_size < required)
    return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                      "kiln_op_registry_add: struct_size is %zu; a "
                      "registration needs at least %zu bytes (set it to "
                      "sizeof(kiln_custom_op))",
                      op->struct_size, required);
  memset(out, 0, sizeof *out);
  size_t known = op->struct_size < sizeof *out ? op->struct_size : sizeof *out;
  memcpy(out, op, known);
  const unsigned char *extra = (const unsigned char *)op + sizeof *out;
  for (size_t i = 0; i + sizeof *out < op->struct_size; i++)
    if (extra[i])
      return kiln_error(KILN_ERR_UNSUPPORTED,
                        "kiln_op_registry_add: '%s' sets fields past the %zu "
                        "bytes this kiln (%s) knows",
                        op->name ? op->name : "", sizeof *out, KILN_VERSION);
  out->struct_size = sizeof *out;
  return NULL;
}

kiln_status *kiln_op_registry_add(kiln_op_registry *r,
                                  const kiln_custom_op *op) {
  if (!r || !op)
    return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                      "kiln_op_registry_add: registry and op are required");
  kiln_custom_op copy;
  KILN_TRY(copy_registration(op, &copy));
  if (!copy.name || !copy.name[0])
    return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                      "kiln_op_registry_add: the operator has no name");
  if (!copy.prepare || !copy.invoke)
    return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                      "kiln_op_registry_add: '%s' lacks %s", copy.name,
                      copy.prepare ? "invoke" : "prepare");
  for (int i = 0; i < r->count; i++)
    if (strcmp(r->ops[i].name, copy.name) == 0)
      return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                        "kiln_op_registry_add: '%s' is already registered",
                        copy.name);
  if (r->count == r->capacity) {
    int capacity = r->capacity ? 2 * r->capacity : 8;
    kiln_custom_op *ops = realloc(r->ops, (size_t)capacity * sizeof *ops);
    if (!ops) return KILN_OOM();
    r->ops = ops;
    r->capacity = capacity;
  }
  size_t length = strlen(copy.name);
  char *name = malloc(length + 1);
  if (!name) return KILN_OOM();
  memcpy(name, copy.name, length + 1);
  copy.name = name;
  r->ops[r->count++] = copy;
  return NULL;
}

const kiln_custom_op *kiln_custom_resolve(const kiln_custom_resolver *r,
                                          const char *name) {
  if (!r || !name) return NULL;
  if (r->user)
    for (int i = 0; i < r->user->count; i++)
      if (strcmp(r->user->ops[i].name, name) == 0) return &r->user->ops[i];
  for (int i = 0; i < r->num_builtins; i++)
    if (strcmp(r->builtins[i]->name, name) == 0) return r->builtins[i];
  return NULL;
}

static void node_free(kiln_graph *g, kiln_custom_node *n) {
  if (n->has_state && n->op.release) n->op.release(n->op.user_data, n->state);
  kiln_free(g->alloc, n->name);
  kiln_free(g->alloc, n->options);
  kiln_free(g->alloc, n);
}

kiln_status *kiln_custom_node_create(kiln_graph *g, const kiln_custom_op *op,
                                     const void *options, size_t options_size,
                                     const kiln_custom_node **out) {
  kiln_custom_node *n = kiln_calloc(g->alloc, 1, sizeof *n);
  if (!n) return KILN_OOM();
  n->op = *op;
  n->name = kiln_strdup(g->alloc, op->name);
  n->options = kiln_malloc(g->alloc, options_size ? options_size : 1);
  if (!n->name || !n->options) {
    node_free(g, n);
    return KILN_OOM();
  }
  if (options_size) memcpy(n->options, options, options_size);
  n->options_size = options_size;
  n->op.name = n->name;
  if (op->init) {
    kiln_status *st =
        op->init(op->user_data, n->options, options_size, &n->state);
    if (st) {
      node_free(g, n);
      return kiln_status_wrap(st, "custom_options");
    }
    n->has_state = true;
  }
  n->next = g->custom_nodes;
  g->custom_nodes = n;
  *out = n;
  return NULL;
}

void kiln_custom_nodes_free(kiln_graph *g) {
  kiln_custom_node *n = g->custom_nodes;
  g->custom_nodes = NULL;
  while (n) {
    kiln_custom_node *next = n->next;
    node_free(g, n);
    n = next;
  }
}

/* ---------------------------------------------------------- accessors */

int kiln_custom_num_inputs(const kiln_custom_context *ctx) {
  return ctx ? ctx->num_inputs : 0;
}

int kiln_custom_num_outputs(const kiln_custom_context *ctx) {
  return ctx ? ctx->num_outputs : 0;
}

const kiln_custom_tensor *kiln_custom_input(const kiln_custom_context *ctx,
                                            int index) {
  if (!ctx || index < 0 || index >= ctx->num_inputs || !ctx->present[index])
    return NULL;
  return &ctx->inputs[index];
}

kiln_custom_tensor *kiln_custom_output(kiln_custom_context *ctx, int index) {
  if (!ctx || index < 0 || index >= ctx->num_outputs) return NULL;
  return &ctx->outputs[index];
}

const void *kiln_custom_options(const kiln_custom_context *ctx,
                                size_t *out_size) {
  if (out_size) *out_size = ctx ? ctx->node->options_size : 0;
  return ctx ? ctx->node->options : NULL;
}

void *kiln_custom_user_data(const kiln_custom_context *ctx) {
  return ctx ? ctx->node->op.user_data : NULL;
}

void *kiln_custom_node_state(const kiln_custom_context *ctx) {
  return ctx ? ctx->node->state : NULL;
}

kiln_status *kiln_custom_request_scratch(kiln_custom_context *ctx,
                                         size_t bytes) {
  if (!ctx || !ctx->preparing)
    return kiln_error(KILN_ERR_FAILED_PRECONDITION,
                      "kiln_custom_request_scratch is for prepare only");
  if (bytes > ctx->scratch_request) ctx->scratch_request = bytes;
  return NULL;
}

void *kiln_custom_scratch(const kiln_custom_context *ctx) {
  return ctx && !ctx->preparing ? ctx->scratch : NULL;
}
