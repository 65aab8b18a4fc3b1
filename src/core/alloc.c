/* alloc.c - the allocator indirection (libc by default). */
#include "alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void *kiln_malloc(const kiln_allocator *a, size_t size) {
  if (size == 0) size = 1; /* a valid, unique pointer for empty tensors */
  return a && a->allocate ? a->allocate(a->context, size) : malloc(size);
}

void *kiln_calloc(const kiln_allocator *a, size_t count, size_t size) {
  if (size && count > SIZE_MAX / size) return NULL;
  void *p = kiln_malloc(a, count * size);
  if (p) memset(p, 0, count * size);
  return p;
}

void *kiln_realloc(const kiln_allocator *a, void *pointer, size_t size) {
  if (size == 0) size = 1;
  return a && a->reallocate ? a->reallocate(a->context, pointer, size)
                            : realloc(pointer, size);
}

void kiln_free(const kiln_allocator *a, void *pointer) {
  if (!pointer) return;
  if (a && a->release)
    a->release(a->context, pointer);
  else
    free(pointer);
}

char *kiln_strdup(const kiln_allocator *a, const char *s) {
  if (!s) return NULL;
  size_t n = strlen(s) + 1;
  char *copy = kiln_malloc(a, n);
  if (copy) memcpy(copy, s, n);
  return copy;
}
