/* hashtable.h - TFLite's static hash tables (HASHTABLE, HASHTABLE_IMPORT,
 * HASHTABLE_FIND, HASHTABLE_SIZE) as session resources, run by the session
 * like the resource-variable operators (runtime/hashtable.c). */
#ifndef KILN_RUNTIME_HASHTABLE_H
#define KILN_RUNTIME_HASHTABLE_H

#include <stdbool.h>

#include "core/ops.h"
#include "kiln.h"

struct kiln_session;

bool kiln_hashtable_is_op(kiln_op_type op);

/* A root session's tables, one per table_id its model's HASHTABLEs name. */
kiln_status *kiln_hashtables_create(struct kiln_session *root);
void kiln_hashtables_free(struct kiln_session *root);
/* At a root's prepare: every table empty again, its imports unregistered
 * (each HASHTABLE_IMPORT registers its constants again as it prepares). */
void kiln_hashtables_begin_prepare(struct kiln_session *root);

/* Node `n`'s prepare and invoke (which allocates nothing). */
kiln_status *kiln_hashtable_prepare(struct kiln_session *s, int n);
kiln_status *kiln_hashtable_invoke(struct kiln_session *s, int n);

#endif
