/* repository.h - the models a server holds and their versions.
 *
 * Each model has a base folder of integer-named version folders. A poller
 * thread scans them, loads the versions the model's policy wants (off the
 * threads that answer requests), warms each up, and only then marks it
 * AVAILABLE; versions the policy no longer wants are unloaded once a newer
 * one is available. A version that fails to load is reported (state END
 * with its error, and a log line) while the old one keeps serving, and is
 * tried again on later scans (max_load_retries, load_retry_interval_us);
 * a base path that cannot be read leaves the model's versions as they are.
 *
 * Requests hold a version by reference count (serve_repo_acquire /
 * serve_version_release), so a swap never fails or drops a request: an
 * unloaded version is freed when its last request lets go. Each version
 * keeps a pool of sessions, one per concurrent user. */
#ifndef KILN_SERVE_REPOSITORY_H
#define KILN_SERVE_REPOSITORY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "kiln.h"
#include "serve/batching.h"
#include "serve/status.h"

typedef enum serve_version_state {
  SERVE_VERSION_START,
  SERVE_VERSION_LOADING,
  SERVE_VERSION_AVAILABLE,
  SERVE_VERSION_UNLOADING,
  SERVE_VERSION_END,
} serve_version_state;

/* TF Serving's names for the states, as its status API prints them. */
const char *serve_version_state_name(serve_version_state state);

typedef struct serve_model serve_model;

typedef struct serve_version {
  serve_model *model;
  int64_t number;
  _Atomic int state;  /* serve_version_state */
  char *error;        /* why loading failed; NULL otherwise */
  kiln_model *kmodel; /* NULL until loaded */
  double load_ms;
  int session_threads;
  /* Whether requests may be stacked into batches: every input has a
   * dynamic first dimension. */
  bool batchable;
  /* Holders: the repository's own reference while listed as current, plus
   * one per request in flight. */
  atomic_int refs;
  /* Failed loads: tries made again so far, and when the next may start
   * (--max_num_load_retries, --load_retry_interval_micros). */
  int retries;
  double retry_at_ms;
  pthread_mutex_t lock; /* guards the session pool */
  kiln_session **idle;
  int num_idle, cap_idle;
  struct serve_version *next; /* newer first */
} serve_version;

typedef enum serve_policy_kind {
  SERVE_POLICY_LATEST,
  SERVE_POLICY_ALL,
  SERVE_POLICY_SPECIFIC,
} serve_policy_kind;

typedef struct serve_label {
  char *name;
  int64_t version;
} serve_label;

struct serve_model {
  char *name, *base_path;
  serve_policy_kind policy;
  int64_t num_versions; /* LATEST */
  int64_t *versions;    /* SPECIFIC */
  int num_specific;
  serve_label *labels;
  int num_labels;
  serve_version *versions_list; /* guarded by the repository lock */
  serve_batching batching;      /* from the model's batching_params.pbtxt
                                   or the server's file */
  bool explicit_unload;         /* unloaded through the repository API */
  bool from_start;              /* asked for at start: counts for readiness */
  bool ever_available;          /* some version of it has served */
  bool path_missing; /* base_path was gone at the last scan (logged once) */
  struct serve_repo *repo; /* where its freed versions go */
  serve_model *next;
};

typedef struct serve_repo serve_repo;

/* Triton's model control modes. kiln has no repository of models to
 * poll, so none and poll differ only in the wording of the refusal: both
 * keep the models given at start (whose versions are polled under
 * --file_system_poll_wait_seconds either way) and refuse the repository
 * API's load and unload; explicit allows them, confined to the roots. */
typedef enum serve_control_mode {
  SERVE_CONTROL_NONE,
  SERVE_CONTROL_POLL,
  SERVE_CONTROL_EXPLICIT,
} serve_control_mode;

/* Whether path, resolved (symbolic links, '.' and '..'), is root or lies
 * under it (root resolved too). False when either does not exist. */
bool serve_path_within(const char *path, const char *root);

/* What the repository needs from the server: session settings, warm-up,
 * the poll period, and where to log. */
typedef struct serve_repo_config {
  int session_threads;
  int warm_sessions; /* sessions made and run once before AVAILABLE */
  bool warmup;
  int64_t poll_seconds; /* 0: scan once; < 0: never scan */
  int max_load_retries; /* tries again of a failed version */
  int64_t load_retry_interval_us;
  serve_control_mode control_mode;
  /* explicit mode: a folder of model folders loads may name (or NULL);
   * the base paths of the models given at start are roots too. */
  const char *model_repository;
  const serve_batching *default_batching;
  bool per_model_batching;
  void (*log)(void *context, const char *fmt, ...)
      __attribute__((format(printf, 2, 3)));
  void *log_context;
  /* Called after a version's load finishes, ok or not (for metrics). */
  void (*on_load)(void *context, const char *model, int64_t version, bool ok,
                  double ms);
} serve_repo_config;

serve_status *serve_repo_create(const serve_repo_config *config,
                                serve_repo **out);
/* Adds a model (before serve_repo_start, or later through the repository
 * API); takes copies of the strings. policy_versions: SPECIFIC's list. */
serve_status *serve_repo_add_model(serve_repo *repo, const char *name,
                                   const char *base_path,
                                   serve_policy_kind policy,
                                   int64_t num_versions,
                                   const int64_t *policy_versions,
                                   int num_policy_versions,
                                   const serve_label *labels, int num_labels);
/* Reads a TF Serving model_config_list file and adds its models. */
serve_status *serve_repo_add_config_file(serve_repo *repo, const char *path);
/* Scans once now (loading what is due, on the caller's thread), then
 * starts the poller. */
serve_status *serve_repo_start(serve_repo *repo);
/* Stops the poller and frees everything once requests have let go. */
void serve_repo_free(serve_repo *repo);

/* The version a request names: `version` > 0 a specific one, else the
 * `label` when not NULL, else the newest AVAILABLE. Holds a reference.
 * Errors are NOT_FOUND with TF Serving's wording. */
serve_status *serve_repo_acquire(serve_repo *repo, const char *model,
                                 int64_t version, const char *label,
                                 serve_version **out);
/* Lets go of a version. The last release frees it, on the poller thread:
 * freeing a large model (unmapping, trimming the heap) takes tens of
 * milliseconds that no request should wait for. */
void serve_version_release(serve_version *v);

/* A session of the version for this request (from its pool, or new), and
 * back. */
serve_status *serve_version_session(serve_version *v, kiln_session **out);
void serve_version_return_session(serve_version *v, kiln_session *s);

/* Copies of the models' current state for the status and listing APIs,
 * taken under the lock. */
typedef struct serve_version_report {
  int64_t number;
  serve_version_state state;
  char *error; /* malloc'd, or NULL */
} serve_version_report;

typedef struct serve_model_report {
  char *name;
  serve_version_report *versions; /* newest first */
  int num_versions;
} serve_model_report;

/* model NULL: every model. NOT_FOUND when the named model is unknown. */
serve_status *serve_repo_report(serve_repo *repo, const char *model,
                                serve_model_report **out, int *out_count);
void serve_repo_report_free(serve_model_report *reports, int count);

/* Whether every model has an AVAILABLE version (readiness). */
bool serve_repo_all_ready(serve_repo *repo);

/* The repository extension: load (add from base_path, or re-enable) or
 * unload one model without touching the others. The poller thread does
 * the work (a load can take long; the HTTP thread that asked must not
 * stall its other connections) and then calls done(context, status):
 * NULL once the model has an AVAILABLE version (load) or none (unload),
 * else the error, which done frees. */
typedef void (*serve_repo_done_fn)(void *context, serve_status *status);
void serve_repo_change_model(serve_repo *repo, const char *name,
                             const char *base_path, bool unload,
                             serve_repo_done_fn done, void *context);

/* Calls fn for each model with an AVAILABLE version (for batcher setup
 * and metrics). */
void serve_repo_each_model(serve_repo *repo,
                           void (*fn)(void *context, serve_model *model),
                           void *context);

#endif
