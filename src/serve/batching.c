/* batching.c - reading BatchingParameters files. */
#include "serve/batching.h"

#include <stdio.h>
#include <string.h>

#include "serve/pbtxt.h"
#include "serve/status.h"

void serve_batching_defaults(serve_batching *b) {
  memset(b, 0, sizeof *b);
  b->max_batch_size = 1000;
  b->batch_timeout_micros = 0;
  b->max_enqueued_batches = 10;
  b->num_batch_threads = 0;
}

static serve_status *read_int(const pbtxt_node *root, const char *name,
                              const char *path, int64_t min, int64_t *out) {
  const pbtxt_node *f = pbtxt_find(root, name, NULL);
  if (!f) return NULL;
  char err[256];
  int64_t v;
  if (!pbtxt_int(f, &v, err, sizeof err))
    return serve_error(SERVE_INVALID_ARGUMENT, "%s: %s", path, err);
  if (v < min)
    return serve_error(SERVE_INVALID_ARGUMENT,
                       "%s: line %d: %s is %lld; it must be at least %lld",
                       path, f->line, name, (long long)v, (long long)min);
  *out = v;
  return NULL;
}

/* The fields of a parsed file into *b (errors start with path); frees
 * root. */
static serve_status *read_tree(pbtxt_node *root, const char *path,
                               serve_batching *b) {
  char err[512];
  serve_status *st =
      read_int(root, "max_batch_size", path, 1, &b->max_batch_size);
  if (!st)
    st = read_int(root, "batch_timeout_micros", path, 0,
                  &b->batch_timeout_micros);
  if (!st)
    st = read_int(root, "max_enqueued_batches", path, 1,
                  &b->max_enqueued_batches);
  if (!st)
    st = read_int(root, "num_batch_threads", path, 1, &b->num_batch_threads);
  const pbtxt_node *pad = pbtxt_find(root, "pad_variable_length_inputs", NULL);
  if (!st && pad &&
      !pbtxt_bool(pad, &b->pad_variable_length_inputs, err, sizeof err))
    st = serve_error(SERVE_INVALID_ARGUMENT, "%s: %s", path, err);
  b->num_allowed_batch_sizes = 0;
  for (const pbtxt_node *f = pbtxt_find(root, "allowed_batch_sizes", NULL);
       !st && f; f = pbtxt_find_next(f, "allowed_batch_sizes")) {
    int64_t v;
    if (!pbtxt_int(f, &v, err, sizeof err)) {
      st = serve_error(SERVE_INVALID_ARGUMENT, "%s: %s", path, err);
    } else if (b->num_allowed_batch_sizes == SERVE_MAX_ALLOWED_BATCH_SIZES) {
      st = serve_error(SERVE_INVALID_ARGUMENT,
                       "%s: line %d: more than %d allowed_batch_sizes", path,
                       f->line, SERVE_MAX_ALLOWED_BATCH_SIZES);
    } else if (v < 1 ||
               (b->num_allowed_batch_sizes &&
                v <= b->allowed_batch_sizes[b->num_allowed_batch_sizes - 1])) {
      st = serve_error(SERVE_INVALID_ARGUMENT,
                       "%s: line %d: allowed_batch_sizes must be positive and "
                       "increasing; %lld is not",
                       path, f->line, (long long)v);
    } else {
      b->allowed_batch_sizes[b->num_allowed_batch_sizes++] = v;
    }
  }
  if (!st && b->num_allowed_batch_sizes &&
      b->allowed_batch_sizes[b->num_allowed_batch_sizes - 1] !=
          b->max_batch_size)
    st = serve_error(
        SERVE_INVALID_ARGUMENT,
        "%s: the last of allowed_batch_sizes (%lld) must equal "
        "max_batch_size (%lld)",
        path, (long long)b->allowed_batch_sizes[b->num_allowed_batch_sizes - 1],
        (long long)b->max_batch_size);
  pbtxt_free(root);
  if (!st) b->enabled = true;
  return st;
}

serve_status *serve_batching_parse_file(const char *path, serve_batching *b) {
  char err[512];
  pbtxt_node *root = pbtxt_parse_file(path, err, sizeof err);
  if (!root) return serve_error(SERVE_INVALID_ARGUMENT, "%s", err);
  return read_tree(root, path, b);
}

serve_status *serve_batching_parse_text(const char *text, size_t len,
                                        const char *name, serve_batching *b) {
  char err[512];
  pbtxt_node *root = pbtxt_parse(text, len, err, sizeof err);
  if (!root) return serve_error(SERVE_INVALID_ARGUMENT, "%s: %s", name, err);
  return read_tree(root, name, b);
}

int64_t serve_batching_padded_size(const serve_batching *b, int64_t size) {
  for (int i = 0; i < b->num_allowed_batch_sizes; i++)
    if (b->allowed_batch_sizes[i] >= size) return b->allowed_batch_sizes[i];
  return size;
}
