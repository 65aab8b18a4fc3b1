/* session_strings.c - where a session keeps the bytes of its STRING inputs.
 *
 * A STRING tensor holds kiln_string views (kiln.h), planned in the arena
 * like any 16-byte element; the bytes they point to must outlive the
 * caller's buffer, so kiln_session_set_input copies them here, one block
 * per input, grown when a longer text arrives and kept across invokes
 * (set_input may allocate; invoke never does). */
#include "runtime/session_strings.h"

#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "runtime/session_internal.h"

typedef struct kiln_string_store {
  char *bytes;
  size_t capacity;
} kiln_string_store;

kiln_status *kiln_session_copy_strings(kiln_session *s, int index,
                                       kiln_tensor *t, const kiln_string *src,
                                       size_t count) {
  const char *name = s->graph->input_names[index];
  size_t total = 0;
  for (size_t i = 0; i < count; i++) {
    if (!src[i].data && src[i].size)
      return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                        "input '%s': string %zu has %zu bytes at NULL", name, i,
                        src[i].size);
    if (src[i].size > s->max_memory - total)
      return kiln_error(KILN_ERR_INVALID_ARGUMENT,
                        "input '%s': its strings hold more bytes than the "
                        "session's memory limit (%zu)",
                        name, s->max_memory);
    total += src[i].size;
  }
  if (!s->input_strings) {
    s->input_strings = kiln_calloc(s->alloc, (size_t)s->graph->num_inputs,
                                   sizeof *s->input_strings);
    if (!s->input_strings) return KILN_OOM();
  }
  kiln_string_store *store = &s->input_strings[index];
  if (total > store->capacity || !store->bytes) {
    char *grown = kiln_malloc(s->alloc, total ? total : 1);
    if (!grown) return KILN_OOM();
    kiln_free(s->alloc, store->bytes);
    store->bytes = grown;
    store->capacity = total;
  }
  kiln_string *views = t->data;
  size_t at = 0;
  for (size_t i = 0; i < count; i++) {
    if (src[i].size) memcpy(store->bytes + at, src[i].data, src[i].size);
    views[i].data = store->bytes + at;
    views[i].size = src[i].size;
    at += src[i].size;
  }
  return NULL;
}

void kiln_session_free_strings(kiln_session *s) {
  for (int i = 0; s->input_strings && i < s->graph->num_inputs; i++)
    kiln_free(s->alloc, s->input_strings[i].bytes);
  kiln_free(s->alloc, s->input_strings);
  s->input_strings = NULL;
}
