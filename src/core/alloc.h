/* alloc.h - every heap allocation of the library goes through these, so an
 * embedder's allocator (and the tests' failing allocator) sees all of it. */
#ifndef KILN_CORE_ALLOC_H
#define KILN_CORE_ALLOC_H

#include <stddef.h>

#include "kiln.h"

/* The allocator in force; `a` may be NULL for libc. */
void *kiln_malloc(const kiln_allocator *a, size_t size);
/* Zeroed memory for count*size bytes; NULL on overflow too. */
void *kiln_calloc(const kiln_allocator *a, size_t count, size_t size);
void *kiln_realloc(const kiln_allocator *a, void *pointer, size_t size);
void kiln_free(const kiln_allocator *a, void *pointer);
/* A copy of a C string, or NULL when out of memory (or s is NULL). */
char *kiln_strdup(const kiln_allocator *a, const char *s);

/* Size in bytes of an aligned block: arenas and repacked weights use it so
 * SIMD loads never straddle. */
#define KILN_ALIGNMENT 64

#endif
