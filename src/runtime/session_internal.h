/* session_internal.h - the session's state, shared by session.c (prepare,
 * invoke, I/O) and control_flow.c (WHILE, IF, CALL_ONCE and resource
 * variables, which run other subgraphs' sessions and reach the root's
 * variables). Private to src/runtime. */
#ifndef KILN_RUNTIME_SESSION_INTERNAL_H
#define KILN_RUNTIME_SESSION_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/threadpool.h"
#include "runtime/model.h"
#include "runtime/planner.h"

/* Where a value's bytes live during a run. */
typedef enum value_home {
  HOME_CONSTANT, /* the model's constant data */
  HOME_KNOWN,    /* computed at prepare (shape arithmetic), session-owned */
  HOME_ARENA,    /* an activation in the planned arena */
  HOME_STATE,    /* a variable, in session memory that outlives invokes */
  HOME_DYNAMIC,  /* sized at invoke: a heap block of its own that only grows */
} value_home;

typedef struct step {
  kiln_kernel_fn kernel; /* NULL: a control-flow node the session runs */
  const char *kernel_name;
  int node;
  double flops;
  /* An input is sized at invoke: the shape function (and the kernel
   * variant) run again before the kernel, and the outputs are sized then. */
  bool reshape;
} step;

struct kiln_session {
  const kiln_model *model;
  const kiln_graph *graph;
  const kiln_allocator *alloc;
  int num_threads;
  kiln_tensor *tensors;      /* one per graph value */
  unsigned char *homes;      /* value_home per value */
  void **known_data;         /* HOME_KNOWN storage per value, else NULL */
  void **state_data;         /* HOME_STATE storage per variable, else NULL */
  size_t *state_bytes;       /* its size */
  kiln_op_ctx *contexts;     /* one per node; pointers into tensors */
  void *node_state;          /* per node: kernel.h kiln_op_state */
  kiln_tensor **io_pointers; /* backing store of the contexts' arrays */
  int64_t (*input_dims)[KILN_MAX_RANK]; /* requested input shapes */
  step *steps;
  int num_steps;
  kiln_plan_item *plan_items;
  int *plan_values; /* value id of each plan item */
  int *plan_scratch;
  void *arena;
  size_t arena_capacity, arena_bytes, naive_bytes;
  size_t workspace; /* largest per-thread scratch a chosen variant needs */
  double flops;
  bool prepared;
  /* Why the default shapes of a model with dynamic inputs did not prepare
   * (a 1x1 placeholder image under a 3x3 VALID window): kept to explain
   * a call made before the caller set real shapes. */
  kiln_status *default_shape_error;
  size_t max_memory;  /* options.max_memory_bytes, resolved */
  size_t known_bytes; /* held by values computed at prepare */
  /* Outputs sized at invoke (HOME_DYNAMIC): per value, the block (as
   * allocated; the tensor's data is its aligned start) and its capacity,
   * and the capacities' sum, which counts against max_memory with the
   * arena and the known values. Blocks only grow and outlive prepares. */
  void **dynamic_data;
  size_t *dynamic_capacity;
  size_t dynamic_bytes;
  bool sized_at_invoke;  /* some graph output is HOME_DYNAMIC */
  kiln_threadpool *pool; /* a subgraph's session borrows its root's */
  bool profiling;
  double *step_start_us, *step_duration_us; /* per step, when profiling */
  int *input_ranks; /* requested input ranks (subgraphs take their caller's) */
  /* Control flow (runtime/control_flow.c). A session for subgraph 0 is its
   * own root; the sessions of the subgraphs its control-flow nodes (WHILE,
   * IF, CALL_ONCE, STABLEHLO_CASE, STABLEHLO_COMPOSITE) run are its
   * children, created with it and prepared when the node is. */
  kiln_session *root;
  kiln_session *parent; /* NULL for the root */
  int parent_node;      /* the parent's node that runs this session */
  int input_offset;     /* parent node input of this session's input 0 */
  kiln_session **children;
  /* node n's children are children[child_base[n] .. child_base[n + 1]),
   * one per subgraph it names (control_flow.c sizes both arrays) */
  int *child_base;
  /* A loop subgraph whose shapes depend on its small integer inputs (the
   * converter's LSTM bodies slice by the loop counter): those inputs are
   * values known at prepare, copied from input_sources (the caller's
   * tensors), and the loop prepares the subgraph again every round. */
  bool value_inputs;
  kiln_tensor *const *input_sources;
  bool *once_done; /* per node: a CALL_ONCE that has run since prepare */
  /* The root's resource variables, one per id the model numbered. */
  struct kiln_resource_var *variables;
  int num_variables;
  /* The root's hash tables, one per table_id (runtime/hashtable.c). */
  struct kiln_hashtable *tables;
  int num_tables;
  /* Cancellation (the root's): a request from any thread, cleared when a
   * root invoke starts, and the caller's check; both are read between
   * kernels and each loop round. */
  atomic_bool cancel_requested;
  kiln_cancel_check_fn cancel_check;
  void *cancel_context;
  /* Per graph input, the bytes of its STRING elements, copied at
   * set_input (runtime/session_strings.c); NULL until one is set. */
  struct kiln_string_store *input_strings;
};

/* A resource variable (TFLite's VAR_HANDLE / ASSIGN_VARIABLE): its type
 * and shape are fixed at prepare by the first operator that assigns or
 * reads it, and its storage allocated then, so invoke only copies. */
typedef struct kiln_resource_var {
  const char *name;  /* shared_name, for messages */
  kiln_tensor value; /* dtype, shape and data (= storage) */
  void *storage;
  size_t capacity;
  bool shaped;   /* type and shape fixed at this prepare */
  bool assigned; /* holds a value: assigned since prepare */
} kiln_resource_var;

/* KILN_ERR_CANCELLED when the root session was asked to stop. */
kiln_status *kiln_session_check_cancel(const kiln_session *s);

/* Creates a session for `model` whose variables and thread pool are
 * root's (root NULL: a root session with its own), without preparing it. */
kiln_status *kiln_session_new(const kiln_model *model,
                              const kiln_options *options, kiln_session *root,
                              kiln_session **out_session);

#endif
