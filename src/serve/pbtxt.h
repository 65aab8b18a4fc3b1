/* pbtxt.h - a reader for protocol-buffer text format, the format of TF
 * Serving's model_config_list, BatchingParameters and MonitoringConfig
 * files. It builds a tree of fields without a schema; the callers know
 * which names they want. Errors name the line and column. */
#ifndef KILN_SERVE_PBTXT_H
#define KILN_SERVE_PBTXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct pbtxt_node {
  char *name;
  char *value; /* scalar text (string contents unquoted); NULL: message */
  bool is_string;
  int line;
  struct pbtxt_node *children; /* fields of a message, in file order */
  struct pbtxt_node *next;     /* the next field of the parent */
} pbtxt_node;

/* Parses `len` bytes into a root message node (free with pbtxt_free). On
 * a syntax error returns NULL with "line L, column C: what" in err. */
pbtxt_node *pbtxt_parse(const char *text, size_t len, char *err,
                        size_t err_size);
/* Reads a whole file and parses it; err starts with the path. */
pbtxt_node *pbtxt_parse_file(const char *path, char *err, size_t err_size);
void pbtxt_free(pbtxt_node *node);

/* The first field named `name` of a message at or after `from` (a child of
 * msg; NULL: its first). NULL when none. */
const pbtxt_node *pbtxt_find(const pbtxt_node *msg, const char *name,
                             const pbtxt_node *from);
/* The next field named `name` after `field` in the same message; NULL
 * when none (for repeated fields: for (f = find(..); f; f = next(f, ..))). */
const pbtxt_node *pbtxt_find_next(const pbtxt_node *field, const char *name);
/* Scalar values: false (with err set) when the field is not a scalar of
 * that kind. Wrapper messages such as `max_batch_size { value: 8 }` read
 * through their `value` field. */
bool pbtxt_int(const pbtxt_node *field, int64_t *out, char *err,
               size_t err_size);
bool pbtxt_bool(const pbtxt_node *field, bool *out, char *err, size_t err_size);
/* The string value, or NULL (with err set) when the field has none. */
const char *pbtxt_string(const pbtxt_node *field, char *err, size_t err_size);

#endif
