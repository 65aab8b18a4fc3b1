/* control_flow.h - how a session runs WHILE, IF, CALL_ONCE and the
 * resource-variable operators (runtime/control_flow.c). session.c calls
 * these in place of the operator table's shape function and kernel. */
#ifndef KILN_RUNTIME_CONTROL_FLOW_H
#define KILN_RUNTIME_CONTROL_FLOW_H

#include <stdbool.h>

#include "core/ops.h"
#include "kiln.h"

/* Whether the session runs `op` through the functions below. */
bool kiln_cf_is_control(kiln_op_type op);

/* Creates the sessions of the subgraphs the session's nodes run (and, for
 * a root session, its resource variables). */
kiln_status *kiln_cf_create(kiln_session *s);
void kiln_cf_free(kiln_session *s);

/* Node `n`'s prepare: prepares its subgraphs' sessions for its inputs'
 * shapes and sets its outputs' shapes. */
kiln_status *kiln_cf_prepare(kiln_session *s, int n);
/* Node `n`'s invoke. Allocates nothing. */
kiln_status *kiln_cf_invoke(kiln_session *s, int n);

/* At a root's prepare: every resource variable unshaped and unassigned,
 * every CALL_ONCE of the session tree to run again. */
void kiln_cf_begin_prepare(kiln_session *root);
/* For kiln_session_reset_variables: resource variables unassigned,
 * CALL_ONCE initializers to run again, subgraphs' variables reset. */
void kiln_cf_reset(kiln_session *s);

#endif
