/* repository.c - models, their versions, the poller that loads and
 * unloads them, and the reference counts that make swaps safe. */
/* realpath (the repository API's path confinement) is XSI. */
#define _XOPEN_SOURCE 700
#include "serve/repository.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "serve/pbtxt.h"
#include "serve/warmup.h"

/* The file a version folder holds, by format kiln reads. */
static const char *const model_files[] = {"model.tflite", "model.keras",
                                          "model.h5"};
enum { NUM_MODEL_FILES = sizeof model_files / sizeof model_files[0] };

struct serve_repo {
  serve_repo_config config;
  pthread_mutex_t lock;      /* guards models and every versions_list */
  pthread_mutex_t scan_lock; /* one scan at a time */
  pthread_cond_t wake;
  serve_model *models;
  struct repo_task *tasks; /* load/unload requests for the poller */
  serve_version *freed;    /* released by requests; the poller frees them */
  pthread_t poller;
  bool poller_running, stopping;
  bool started; /* models added from here on came through the API */
};

/* A load or unload asked through the repository API, done by the poller
 * thread (never by the HTTP thread that received it). */
typedef struct repo_task {
  char *name, *base_path; /* base_path: NULL unless adding a model */
  bool unload;
  serve_status *status; /* set when the model is unknown */
  serve_repo_done_fn done;
  void *context;
  struct repo_task *next;
} repo_task;

const char *serve_version_state_name(serve_version_state state) {
  switch (state) {
    case SERVE_VERSION_START:
      return "START";
    case SERVE_VERSION_LOADING:
      return "LOADING";
    case SERVE_VERSION_AVAILABLE:
      return "AVAILABLE";
    case SERVE_VERSION_UNLOADING:
      return "UNLOADING";
    case SERVE_VERSION_END:
      return "END";
  }
  return "UNKNOWN";
}

static void log_line(serve_repo *repo, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void log_line(serve_repo *repo, const char *fmt, ...) {
  if (!repo->config.log) return;
  char text[1024];
  va_list args;
  va_start(args, fmt);
  vsnprintf(text, sizeof text, fmt, args);
  va_end(args);
  repo->config.log(repo->config.log_context, "%s", text);
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ------------------------------------------------------------ versions */

/* Set on the poller thread (see poll_main). */
static _Thread_local bool on_poller, freed_on_poller;

static void version_free(serve_version *v) {
  for (int i = 0; i < v->num_idle; i++) kiln_session_free(v->idle[i]);
  free(v->idle);
  kiln_model_free(v->kmodel);
  free(v->error);
  pthread_mutex_destroy(&v->lock);
  free(v);
  freed_on_poller = on_poller;
}

/* After the poller freed versions: hand freed arenas and packed weights
 * back to the system now, rather than when glibc's heuristics get to it,
 * so an unloaded version does not leave the process larger (a TF Serving
 * complaint). It can take 100 ms on a large heap, which is why only the
 * (low priority) poller does it. */
static void trim_heap(void) {
  if (!freed_on_poller) return;
  freed_on_poller = false;
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

void serve_version_release(serve_version *v) {
  if (!v || atomic_fetch_sub(&v->refs, 1) != 1) return;
  serve_repo *repo = v->model->repo;
  if (!on_poller) {
    pthread_mutex_lock(&repo->lock);
    bool handed = repo->poller_running && !repo->stopping;
    if (handed) {
      v->next = repo->freed;
      repo->freed = v;
      pthread_cond_broadcast(&repo->wake);
    }
    pthread_mutex_unlock(&repo->lock);
    if (handed) return;
  }
  version_free(v);
}

serve_status *serve_version_session(serve_version *v, kiln_session **out) {
  pthread_mutex_lock(&v->lock);
  kiln_session *s = v->num_idle ? v->idle[--v->num_idle] : NULL;
  pthread_mutex_unlock(&v->lock);
  if (s) {
    *out = s;
    return NULL;
  }
  kiln_options options = kiln_options_default();
  options.num_threads = v->session_threads;
  return serve_from_kiln(kiln_session_create(v->kmodel, &options, out));
}

void serve_version_return_session(serve_version *v, kiln_session *s) {
  pthread_mutex_lock(&v->lock);
  if (v->num_idle == v->cap_idle) {
    int cap = v->cap_idle ? 2 * v->cap_idle : 4;
    kiln_session **idle = realloc(v->idle, (size_t)cap * sizeof *idle);
    if (!idle) {
      pthread_mutex_unlock(&v->lock);
      kiln_session_free(s);
      return;
    }
    v->idle = idle;
    v->cap_idle = cap;
  }
  v->idle[v->num_idle++] = s;
  pthread_mutex_unlock(&v->lock);
}

/* -------------------------------------------------------------- models */

serve_status *serve_repo_create(const serve_repo_config *config,
                                serve_repo **out) {
  serve_repo *repo = calloc(1, sizeof *repo);
  if (!repo) return serve_error(SERVE_INTERNAL, "out of memory");
  repo->config = *config;
  pthread_mutex_init(&repo->lock, NULL);
  pthread_mutex_init(&repo->scan_lock, NULL);
  pthread_cond_init(&repo->wake, NULL);
  *out = repo;
  return NULL;
}

static serve_model *find_model(serve_repo *repo, const char *name) {
  for (serve_model *m = repo->models; m; m = m->next)
    if (!strcmp(m->name, name)) return m;
  return NULL;
}

static void model_free(serve_model *m) {
  free(m->name);
  free(m->base_path);
  free(m->versions);
  for (int i = 0; i < m->num_labels; i++) free(m->labels[i].name);
  free(m->labels);
  free(m);
}

serve_status *serve_repo_add_model(serve_repo *repo, const char *name,
                                   const char *base_path,
                                   serve_policy_kind policy,
                                   int64_t num_versions,
                                   const int64_t *policy_versions,
                                   int num_policy_versions,
                                   const serve_label *labels, int num_labels) {
  if (!name[0] || strchr(name, '/') || strchr(name, ':'))
    return serve_error(SERVE_INVALID_ARGUMENT,
                       "model name '%s' must be non-empty and hold no '/' or "
                       "':'",
                       name);
  if (!base_path[0])
    return serve_error(SERVE_INVALID_ARGUMENT, "model '%s' has no base_path",
                       name);
  serve_model *m = calloc(1, sizeof *m);
  if (!m) return serve_error(SERVE_INTERNAL, "out of memory");
  m->repo = repo;
  m->name = strdup(name);
  m->base_path = strdup(base_path);
  m->policy = policy;
  m->num_versions = num_versions > 0 ? num_versions : 1;
  if (num_policy_versions) {
    m->versions = malloc((size_t)num_policy_versions * sizeof *m->versions);
    if (m->versions)
      memcpy(m->versions, policy_versions,
             (size_t)num_policy_versions * sizeof *m->versions);
    m->num_specific = num_policy_versions;
  }
  if (num_labels) {
    m->labels = calloc((size_t)num_labels, sizeof *m->labels);
    for (int i = 0; m->labels && i < num_labels; i++) {
      m->labels[i].name = strdup(labels[i].name);
      m->labels[i].version = labels[i].version;
      if (!m->labels[i].name) {
        free(m->labels);
        m->labels = NULL;
      }
    }
    m->num_labels = num_labels;
  }
  if (repo->config.default_batching)
    m->batching = *repo->config.default_batching;
  else
    serve_batching_defaults(&m->batching);
  if (!m->name || !m->base_path || (num_policy_versions && !m->versions) ||
      (num_labels && !m->labels)) {
    model_free(m);
    return serve_error(SERVE_INTERNAL, "out of memory");
  }
  pthread_mutex_lock(&repo->lock);
  bool taken = find_model(repo, name) != NULL;
  m->from_start = !repo->started;
  if (!taken) {
    serve_model **tail = &repo->models;
    while (*tail) tail = &(*tail)->next;
    *tail = m;
  }
  pthread_mutex_unlock(&repo->lock);
  if (taken) {
    model_free(m);
    return serve_error(SERVE_INVALID_ARGUMENT, "model '%s' is listed twice",
                       name);
  }
  return NULL;
}

/* One `config { ... }` of a model_config_list. */
static serve_status *add_config_entry(serve_repo *repo, const char *path,
                                      const pbtxt_node *config) {
  char err[512];
  const pbtxt_node *f;
  const char *name = NULL, *base = NULL;
  if ((f = pbtxt_find(config, "name", NULL)) &&
      !(name = pbtxt_string(f, err, sizeof err)))
    return serve_error(SERVE_INVALID_ARGUMENT, "%s: %s", path, err);
  if ((f = pbtxt_find(config, "base_path", NULL)) &&
      !(base = pbtxt_string(f, err, sizeof err)))
    return serve_error(SERVE_INVALID_ARGUMENT, "%s: %s", path, err);
  if (!name || !base)
    return serve_error(SERVE_INVALID_ARGUMENT,
                       "%s: line %d: a config needs name and base_path", path,
                       config->line);
  if ((f = pbtxt_find(config, "model_platform", NULL))) {
    const char *platform = pbtxt_string(f, err, sizeof err);
    if (!platform)
      return serve_error(SERVE_INVALID_ARGUMENT, "%s: %s", path, err);
    if (strcmp(platform, "tensorflow") && strcmp(platform, "tflite") &&
        strcmp(platform, "kiln"))
      return serve_error(SERVE_INVALID_ARGUMENT,
                         "%s: line %d: model_platform '%s' is not served "
                         "(use tensorflow, tflite or kiln)",
                         path, f->line, platform);
  }
  serve_policy_kind policy = SERVE_POLICY_LATEST;
  int64_t num_versions = 1, specific[64];
  int num_specific = 0;
  const pbtxt_node *pol = pbtxt_find(config, "model_version_policy", NULL);
  if (pol) {
    const pbtxt_node *kind;
    if ((kind = pbtxt_find(pol, "latest", NULL))) {
      const pbtxt_node *n = pbtxt_find(kind, "num_versions", NULL);
      if (n &&
          (!pbtxt_int(n, &num_versions, err, sizeof err) || num_versions < 1))
        return serve_error(SERVE_INVALID_ARGUMENT,
                           "%s: line %d: num_versions must be a positive "
                           "integer",
                           path, n->line);
    } else if (pbtxt_find(pol, "all", NULL)) {
      policy = SERVE_POLICY_ALL;
    } else if ((kind = pbtxt_find(pol, "specific", NULL))) {
      policy = SERVE_POLICY_SPECIFIC;
      for (const pbtxt_node *v = pbtxt_find(kind, "versions", NULL); v;
           v = pbtxt_find_next(v, "versions")) {
        if (num_specific == 64)
          return serve_error(SERVE_INVALID_ARGUMENT,
                             "%s: line %d: more than 64 specific versions",
                             path, v->line);
        if (!pbtxt_int(v, &specific[num_specific++], err, sizeof err))
          return serve_error(SERVE_INVALID_ARGUMENT, "%s: %s", path, err);
      }
      if (!num_specific)
        return serve_error(SERVE_INVALID_ARGUMENT,
                           "%s: line %d: a specific policy lists no versions",
                           path, kind->line);
    } else {
      return serve_error(SERVE_INVALID_ARGUMENT,
                         "%s: line %d: model_version_policy must hold "
                         "latest, all or specific",
                         path, pol->line);
    }
  }
  serve_label labels[32];
  int num_labels = 0;
  for (const pbtxt_node *l = pbtxt_find(config, "version_labels", NULL); l;
       l = pbtxt_find_next(l, "version_labels")) {
    const pbtxt_node *key = pbtxt_find(l, "key", NULL);
    const pbtxt_node *value = pbtxt_find(l, "value", NULL);
    const char *text = key ? pbtxt_string(key, err, sizeof err) : NULL;
    if (num_labels == 32 || !text || !value ||
        !pbtxt_int(value, &labels[num_labels].version, err, sizeof err))
      return serve_error(SERVE_INVALID_ARGUMENT,
                         "%s: line %d: version_labels needs key: 'label' and "
                         "value: N (at most 32)",
                         path, l->line);
    labels[num_labels++].name = (char *)text;
  }
  return serve_repo_add_model(repo, name, base, policy, num_versions, specific,
                              num_specific, labels, num_labels);
}

serve_status *serve_repo_add_config_file(serve_repo *repo, const char *path) {
  char err[512];
  pbtxt_node *root = pbtxt_parse_file(path, err, sizeof err);
  if (!root) return serve_error(SERVE_INVALID_ARGUMENT, "%s", err);
  serve_status *st = NULL;
  const pbtxt_node *list = pbtxt_find(root, "model_config_list", NULL);
  if (!list)
    st = serve_error(SERVE_INVALID_ARGUMENT,
                     "%s: no model_config_list (kiln serves the "
                     "model_config_list form of ModelServerConfig)",
                     path);
  int count = 0;
  for (const pbtxt_node *c = list ? pbtxt_find(list, "config", NULL) : NULL;
       !st && c; c = pbtxt_find_next(c, "config"), count++)
    st = add_config_entry(repo, path, c);
  if (!st && !count)
    st = serve_error(SERVE_INVALID_ARGUMENT, "%s: model_config_list is empty",
                     path);
  pbtxt_free(root);
  return st;
}

/* ------------------------------------------------------------- scanning */

static int compare_desc(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? 1 : x > y ? -1 : 0;
}

/* The numeric version folders under base, newest first (at most max).
 * Names with a leading zero are skipped: "01" would repeat version 1.
 * -1 (errno set) when base cannot be read: gone, or not a folder. */
static int list_versions(const char *base, int64_t *out, int max) {
  DIR *dir = opendir(base);
  if (!dir) return -1;
  int count = 0;
  struct dirent *e;
  while ((e = readdir(dir)) && count < max) {
    const char *n = e->d_name;
    size_t len = strlen(n);
    if (!len || len > 18 || (n[0] == '0' && len > 1)) continue;
    bool digits = true;
    for (size_t i = 0; i < len; i++)
      digits = digits && n[i] >= '0' && n[i] <= '9';
    if (!digits) continue;
    char path[PATH_MAX];
    struct stat st;
    if (snprintf(path, sizeof path, "%s/%s", base, n) >= (int)sizeof path ||
        stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
      continue;
    out[count++] = strtoll(n, NULL, 10);
  }
  closedir(dir);
  qsort(out, (size_t)count, sizeof *out, compare_desc);
  return count;
}

/* Whether the policy serves version v, of the found ones (newest first). */
static bool policy_wants(const serve_model *m, const int64_t *found, int count,
                         int64_t v) {
  switch (m->policy) {
    case SERVE_POLICY_ALL:
      return true;
    case SERVE_POLICY_SPECIFIC:
      for (int i = 0; i < m->num_specific; i++)
        if (m->versions[i] == v) return true;
      return false;
    case SERVE_POLICY_LATEST:
      for (int i = 0; i < count && i < m->num_versions; i++)
        if (found[i] == v) return true;
      return false;
  }
  return false;
}

static serve_version *find_version(const serve_model *m, int64_t number) {
  for (serve_version *v = m->versions_list; v; v = v->next)
    if (v->number == number) return v;
  return NULL;
}

/* The poller loads at this nice value: a load (parsing, weight packing,
 * warm-up runs) then takes only the CPU that the threads answering
 * requests leave, so another model's latency does not rise while one
 * loads. On Linux the nice value is per thread (who = 0 is the calling
 * thread); elsewhere it would slow the whole process, so it is left. */
enum { LOADER_NICE = 10 };
static _Thread_local bool niced_thread;

static void lower_priority(void) {
#if defined(__linux__)
  niced_thread = setpriority(PRIO_PROCESS, 0, LOADER_NICE) == 0;
#endif
}

/* Runs each input of zeros once, in `count` sessions left in the pool,
 * so the first requests find their sessions prepared and their memory
 * touched. Sessions with a thread pool made on a niced thread would keep
 * its low priority in their pool threads, so those are run and freed:
 * the model's memory is touched, and workers make their own sessions. */
static serve_status *warm_up(serve_version *v, int count) {
  bool keep = !(niced_thread && v->session_threads > 1);
  for (int i = 0; i < count; i++) {
    kiln_session *s;
    SERVE_TRY(serve_version_session(v, &s));
    if (!kiln_session_is_prepared(s)) {
      /* Dynamic sizes whose placeholders do not prepare (an image model
       * of any height and width): there is no shape to warm up with;
       * each request prepares the session for its own. */
      serve_version_return_session(v, s);
      return NULL;
    }
    kiln_status *k = NULL;
    for (int in = 0; !k && in < kiln_model_num_inputs(v->kmodel); in++) {
      void *data;
      size_t nbytes;
      k = kiln_session_input_buffer(s, in, &data, &nbytes);
      if (!k) memset(data, 0, nbytes);
    }
    if (!k) k = kiln_session_invoke(s);
    if (k || !keep) {
      kiln_session_free(s);
      if (k) return serve_from_kiln(k);
      return NULL; /* one run touched the memory */
    }
    serve_version_return_session(v, s);
  }
  return NULL;
}

/* TF Serving's warm-up requests from the version folder, replayed on one
 * of the version's sessions (kept for the requests that follow). */
static serve_status *replay_warmup(serve_repo *repo, serve_version *v,
                                   const char *path) {
  kiln_session *s;
  SERVE_TRY(serve_version_session(v, &s));
  int count = 0;
  serve_status *st = serve_warmup_replay(path, v->kmodel, s, &count);
  if (st) {
    kiln_session_free(s);
    return st;
  }
  serve_version_return_session(v, s);
  log_line(repo, "model %s version %lld: replayed %d warm-up requests",
           v->model->name, (long long)v->number, count);
  return NULL;
}

/* Loads, warms up and reads batching parameters, without the repository
 * lock (slow work stays off the lock requests take). */
/* dir/name into out; false when it would not fit. */
static bool join(char *out, size_t size, const char *dir, const char *name) {
  int n = snprintf(out, size, "%s/%s", dir, name);
  return n >= 0 && (size_t)n < size;
}

/* Whether a regular file exists at path. */
static bool file_exists(const char *path) {
  struct stat info;
  return stat(path, &info) == 0 && S_ISREG(info.st_mode);
}

static void load_version(serve_repo *repo, serve_model *m, serve_version *v) {
  double start = now_ms();
  char dir[PATH_MAX], path[PATH_MAX], number[32];
  snprintf(number, sizeof number, "%lld", (long long)v->number);
  bool fits = join(dir, sizeof dir, m->base_path, number);
  const char *file = NULL;
  for (int i = 0; fits && i < NUM_MODEL_FILES && !file; i++)
    if (join(path, sizeof path, dir, model_files[i]) && file_exists(path))
      file = path;
  /* A SavedModel is the version folder itself, as TF Serving lays it
   * out (saved_model.pb beside variables/). */
  if (fits && !file && join(path, sizeof path, dir, "saved_model.pb") &&
      file_exists(path))
    file = dir;
  serve_status *st = NULL;
  if (!file) {
    st = serve_error(SERVE_NOT_FOUND,
                     "%s holds no model.tflite, model.keras, model.h5 or "
                     "saved_model.pb",
                     dir);
  } else {
    kiln_options options = kiln_options_default();
    options.num_threads = v->session_threads;
    st = serve_from_kiln(kiln_model_load_file(file, &options, &v->kmodel));
    int inputs = st ? 0 : kiln_model_num_inputs(v->kmodel);
    v->batchable = inputs > 0;
    for (int i = 0; i < inputs; i++) {
      kiln_tensor_info info;
      kiln_status *k = kiln_model_input_info(v->kmodel, i, &info);
      v->batchable = v->batchable && !k && info.rank >= 1 && info.dims[0] < 0;
      kiln_status_free(k);
    }
    if (!st && repo->config.warmup && fits &&
        join(path, sizeof path, dir, SERVE_WARMUP_FILE) && file_exists(path))
      st = replay_warmup(repo, v, path);
    if (!st && repo->config.warmup)
      st = warm_up(
          v, repo->config.warm_sessions > 0 ? repo->config.warm_sessions : 1);
  }
  char *error = st ? strdup(serve_status_message(st)) : NULL;
  serve_status_free(st);
  serve_batching batching = m->batching;
  bool batching_error = false;
  if (!error && repo->config.per_model_batching) {
    if (join(path, sizeof path, dir, "batching_params.pbtxt") &&
        file_exists(path)) {
      if (repo->config.default_batching)
        batching = *repo->config.default_batching;
      serve_status *bs = serve_batching_parse_file(path, &batching);
      if (bs) {
        batching_error = true;
        error = strdup(serve_status_message(bs));
        serve_status_free(bs);
      }
    }
  }
  v->load_ms = now_ms() - start;
  pthread_mutex_lock(&repo->lock);
  if (error || batching_error) {
    v->error = error ? error : strdup("loading failed");
    v->retry_at_ms =
        now_ms() + (double)repo->config.load_retry_interval_us / 1e3;
    atomic_store(&v->state, SERVE_VERSION_END);
  } else {
    m->ever_available = true;
    m->batching = batching;
    atomic_store(&v->state, SERVE_VERSION_AVAILABLE);
  }
  pthread_mutex_unlock(&repo->lock);
  if (v->error)
    log_line(repo, "model %s version %lld failed to load: %s", m->name,
             (long long)v->number, v->error);
  else
    log_line(repo, "model %s version %lld is AVAILABLE (loaded in %.0f ms)",
             m->name, (long long)v->number, v->load_ms);
  if (repo->config.on_load)
    repo->config.on_load(repo->config.log_context, m->name, v->number,
                         !v->error, v->load_ms);
}

enum { MAX_VERSIONS = 4096 };

/* A version that failed to load, due for another try (TF Serving's
 * retries, made here on later scans rather than by blocking the poller):
 * marked LOADING again under the repository lock. Nothing else holds it,
 * as requests take AVAILABLE versions only. */
static bool take_for_retry(serve_repo *repo, serve_version *v, double now) {
  if (atomic_load(&v->state) != SERVE_VERSION_END || !v->error ||
      v->retries >= repo->config.max_load_retries || now < v->retry_at_ms ||
      atomic_load(&v->refs) != 1)
    return false;
  v->retries++;
  free(v->error);
  v->error = NULL;
  atomic_store(&v->state, SERVE_VERSION_LOADING);
  return true;
}

/* What a failed try left (a model whose warm-up failed, its sessions) is
 * dropped before the version loads again. */
static void reset_for_retry(serve_repo *repo, serve_version *v) {
  for (int i = 0; i < v->num_idle; i++) kiln_session_free(v->idle[i]);
  v->num_idle = 0;
  kiln_model_free(v->kmodel);
  v->kmodel = NULL;
  log_line(repo, "model %s version %lld: load retry %d of %d", v->model->name,
           (long long)v->number, v->retries, repo->config.max_load_retries);
}

static void scan_model(serve_repo *repo, serve_model *m) {
  static int64_t found[MAX_VERSIONS]; /* scans run one at a time */
  int count =
      m->explicit_unload ? 0 : list_versions(m->base_path, found, MAX_VERSIONS);
  if (count < 0) {
    /* A base path that vanished (an NFS blip, a redeploy that swaps the
     * folder) keeps what serves, as TF Serving does; said once until it
     * returns, not at every poll. */
    if (!m->path_missing)
      log_line(repo,
               "model %s: base path %s cannot be read (%s); the loaded "
               "versions keep serving until it returns",
               m->name, m->base_path, strerror(errno));
    m->path_missing = true;
    return;
  }
  if (m->path_missing)
    log_line(repo, "model %s: base path %s is back", m->name, m->base_path);
  m->path_missing = false;
  serve_version *to_load[64];
  int num_load = 0;
  double now = now_ms();
  pthread_mutex_lock(&repo->lock);
  for (int i = 0; i < count && num_load < 64; i++) {
    if (!policy_wants(m, found, count, found[i])) continue;
    serve_version *old = find_version(m, found[i]);
    if (old && take_for_retry(repo, old, now)) to_load[num_load++] = old;
    if (old) continue;
    serve_version *v = calloc(1, sizeof *v);
    if (!v) break;
    v->model = m;
    v->number = found[i];
    v->session_threads = repo->config.session_threads;
    atomic_init(&v->state, SERVE_VERSION_LOADING);
    atomic_init(&v->refs, 1); /* the repository's */
    pthread_mutex_init(&v->lock, NULL);
    serve_version **at = &m->versions_list;
    while (*at && (*at)->number > v->number) at = &(*at)->next;
    v->next = *at;
    *at = v;
    to_load[num_load++] = v;
  }
  pthread_mutex_unlock(&repo->lock);
  for (int i = 0; i < num_load; i++) {
    /* Only versions taken for a retry have tried before. */
    if (to_load[i]->retries) reset_for_retry(repo, to_load[i]);
    load_version(repo, m, to_load[i]);
  }

  /* Unload what the policy no longer wants, but only once a wanted
   * version is AVAILABLE (or the folder is gone): a broken new version
   * leaves the old one serving. */
  serve_version *gone = NULL;
  pthread_mutex_lock(&repo->lock);
  bool have_wanted = false;
  for (serve_version *v = m->versions_list; v; v = v->next)
    if (atomic_load(&v->state) == SERVE_VERSION_AVAILABLE &&
        policy_wants(m, found, count, v->number))
      have_wanted = true;
  for (serve_version **at = &m->versions_list; *at;) {
    serve_version *v = *at;
    bool present = false;
    for (int i = 0; i < count && !present; i++) present = found[i] == v->number;
    int state = atomic_load(&v->state);
    bool drop = state != SERVE_VERSION_LOADING &&
                (!present || (!policy_wants(m, found, count, v->number) &&
                              (have_wanted || state == SERVE_VERSION_END)));
    if (drop) {
      *at = v->next;
      v->next = gone;
      gone = v;
      if (state == SERVE_VERSION_AVAILABLE)
        atomic_store(&v->state, SERVE_VERSION_UNLOADING);
    } else {
      at = &v->next;
    }
  }
  pthread_mutex_unlock(&repo->lock);
  while (gone) {
    serve_version *next = gone->next;
    if (!gone->error)
      log_line(repo, "model %s version %lld unloaded", m->name,
               (long long)gone->number);
    /* Requests still holding it finish; the last one frees it. */
    serve_version_release(gone);
    gone = next;
  }
}

static void scan_all(serve_repo *repo) {
  pthread_mutex_lock(&repo->scan_lock);
  pthread_mutex_lock(&repo->lock);
  int count = 0;
  for (serve_model *m = repo->models; m; m = m->next) count++;
  serve_model **list = calloc((size_t)count + 1, sizeof *list);
  count = 0;
  for (serve_model *m = repo->models; list && m; m = m->next) list[count++] = m;
  pthread_mutex_unlock(&repo->lock);
  /* Models are never freed while the repository lives, so the list stays
   * valid without the lock. */
  for (int i = 0; list && i < count; i++) scan_model(repo, list[i]);
  free(list);
  pthread_mutex_unlock(&repo->scan_lock);
}

/* Forgets the models added through the API that never served (their
 * load failed): a new load replaces them rather than adding to them, so
 * failed loads cannot grow the registry without bound. Runs on the
 * poller between scans (the only thread that walks models unlocked);
 * nothing else keeps such a model: it never had a version to request or
 * batch. */
static void drop_failed_api_models(serve_repo *repo) {
  serve_model *dropped = NULL;
  pthread_mutex_lock(&repo->lock);
  for (serve_model **at = &repo->models; *at;) {
    serve_model *m = *at;
    bool loading = false;
    for (serve_version *v = m->versions_list; v; v = v->next)
      loading = loading || atomic_load(&v->state) == SERVE_VERSION_LOADING;
    if (!m->from_start && !m->ever_available && !loading) {
      *at = m->next;
      m->next = dropped;
      dropped = m;
    } else {
      at = &m->next;
    }
  }
  pthread_mutex_unlock(&repo->lock);
  while (dropped) {
    serve_model *m = dropped;
    dropped = m->next;
    while (m->versions_list) {
      serve_version *v = m->versions_list;
      m->versions_list = v->next;
      serve_version_release(v);
    }
    model_free(m);
  }
}

/* Applies a task's change to its model: unload marks it unloaded (the
 * next scan drops its versions), load clears that mark or adds the model
 * from its base path. */
static void task_prepare(serve_repo *repo, repo_task *t) {
  pthread_mutex_lock(&repo->lock);
  serve_model *m = find_model(repo, t->name);
  if (m) m->explicit_unload = t->unload;
  pthread_mutex_unlock(&repo->lock);
  if (m) return;
  if (t->unload || !t->base_path) {
    t->status = serve_error(
        SERVE_NOT_FOUND, "model '%s' is not in the repository%s", t->name,
        t->unload ? "" : "; give parameters.base_path to add it");
    return;
  }
  drop_failed_api_models(repo);
  t->status = serve_repo_add_model(repo, t->name, t->base_path,
                                   SERVE_POLICY_LATEST, 1, NULL, 0, NULL, 0);
}

/* After the scan: answers the task and frees it. */
static void task_finish(serve_repo *repo, repo_task *t) {
  serve_status *st = t->status;
  serve_version *v;
  if (!st && !t->unload) {
    st = serve_repo_acquire(repo, t->name, 0, NULL, &v);
    if (st) {
      serve_status_free(st);
      st = serve_error(SERVE_UNAVAILABLE,
                       "model '%s' has no version that loads (see its "
                       "status)",
                       t->name);
    } else {
      serve_version_release(v);
    }
  }
  t->done(t->context, st);
  free(t->name);
  free(t->base_path);
  free(t);
}

static void run_tasks(serve_repo *repo, repo_task *tasks) {
  for (repo_task *t = tasks; t; t = t->next) task_prepare(repo, t);
  scan_all(repo);
  while (tasks) {
    repo_task *next = tasks->next;
    task_finish(repo, tasks);
    tasks = next;
  }
}

/* CLOCK_REALTIME (what pthread_cond_timedwait measures) seconds ahead. */
static struct timespec seconds_ahead(int64_t seconds) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  t.tv_sec += (time_t)seconds;
  return t;
}

/* The poller: frees the versions requests let go of, does the repository
 * API's loads and unloads as they come, and scans every poll period when
 * polling. */
static void *poll_main(void *arg) {
  serve_repo *repo = arg;
  on_poller = true;
  lower_priority();
  int64_t period = repo->config.poll_seconds;
  struct timespec next_scan = seconds_ahead(period);
  pthread_mutex_lock(&repo->lock);
  while (!repo->stopping) {
    serve_version *freed = repo->freed;
    repo_task *tasks = repo->tasks;
    repo->freed = NULL;
    repo->tasks = NULL;
    bool scan = false;
    if (!freed && !tasks) {
      if (period <= 0)
        pthread_cond_wait(&repo->wake, &repo->lock);
      else
        scan = pthread_cond_timedwait(&repo->wake, &repo->lock, &next_scan) ==
               ETIMEDOUT;
      if (!scan) continue; /* woken: look again */
    }
    pthread_mutex_unlock(&repo->lock);
    while (freed) {
      serve_version *next = freed->next;
      version_free(freed);
      freed = next;
    }
    if (tasks || scan) {
      if (tasks)
        run_tasks(repo, tasks); /* scans every model too */
      else
        scan_all(repo);
      next_scan = seconds_ahead(period);
    }
    trim_heap();
    pthread_mutex_lock(&repo->lock);
  }
  repo_task *left = repo->tasks;
  repo->tasks = NULL;
  pthread_mutex_unlock(&repo->lock);
  for (repo_task *t = left; t; t = left) {
    left = t->next;
    serve_status_free(t->status);
    t->status = serve_error(SERVE_UNAVAILABLE, "the server is shutting down");
    t->unload = true; /* answer without looking for versions */
    task_finish(repo, t);
  }
  return NULL;
}

serve_status *serve_repo_start(serve_repo *repo) {
  pthread_mutex_lock(&repo->lock);
  repo->started = true;
  pthread_mutex_unlock(&repo->lock);
  if (repo->config.poll_seconds >= 0) scan_all(repo);
  /* Started even without polling: it does the repository API's loads. */
  if (pthread_create(&repo->poller, NULL, poll_main, repo) != 0)
    return serve_error(SERVE_INTERNAL, "cannot start the model poller");
  repo->poller_running = true;
  return NULL;
}

void serve_repo_free(serve_repo *repo) {
  if (!repo) return;
  pthread_mutex_lock(&repo->lock);
  repo->stopping = true;
  pthread_cond_broadcast(&repo->wake);
  pthread_mutex_unlock(&repo->lock);
  if (repo->poller_running) pthread_join(repo->poller, NULL);
  repo->poller_running = false; /* releases from here on free at once */
  while (repo->freed) {
    serve_version *v = repo->freed;
    repo->freed = v->next;
    version_free(v);
  }
  while (repo->models) {
    serve_model *m = repo->models;
    repo->models = m->next;
    while (m->versions_list) {
      serve_version *v = m->versions_list;
      m->versions_list = v->next;
      serve_version_release(v);
    }
    model_free(m);
  }
  pthread_mutex_destroy(&repo->lock);
  pthread_mutex_destroy(&repo->scan_lock);
  pthread_cond_destroy(&repo->wake);
  free(repo);
}

/* ------------------------------------------------------------ requests */

serve_status *serve_repo_acquire(serve_repo *repo, const char *name,
                                 int64_t version, const char *label,
                                 serve_version **out) {
  serve_status *st = NULL;
  pthread_mutex_lock(&repo->lock);
  serve_model *m = find_model(repo, name);
  serve_version *chosen = NULL;
  if (!m) {
    st = serve_error(SERVE_NOT_FOUND,
                     "Servable not found for request: Latest(%s)", name);
  } else if (version <= 0 && label) {
    int64_t target = -1;
    for (int i = 0; i < m->num_labels; i++)
      if (!strcmp(m->labels[i].name, label)) target = m->labels[i].version;
    if (target < 0)
      st = serve_error(SERVE_INVALID_ARGUMENT,
                       "Unrecognized servable version label: %s", label);
    else
      version = target;
  }
  if (m && !st) {
    for (serve_version *v = m->versions_list; v && !chosen; v = v->next)
      if (atomic_load(&v->state) == SERVE_VERSION_AVAILABLE &&
          (version <= 0 || v->number == version))
        chosen = v;
    if (!chosen && version > 0)
      st = serve_error(SERVE_NOT_FOUND,
                       "Servable not found for request: Specific(%s, %lld)",
                       name, (long long)version);
    else if (!chosen)
      st = serve_error(SERVE_NOT_FOUND,
                       "Servable not found for request: Latest(%s)", name);
  }
  if (chosen) atomic_fetch_add(&chosen->refs, 1);
  pthread_mutex_unlock(&repo->lock);
  *out = chosen;
  return st;
}

serve_status *serve_repo_report(serve_repo *repo, const char *name,
                                serve_model_report **out, int *out_count) {
  *out = NULL;
  *out_count = 0;
  pthread_mutex_lock(&repo->lock);
  int count = 0;
  for (serve_model *m = repo->models; m; m = m->next)
    if (!name || !strcmp(m->name, name)) count++;
  if (name && !count) {
    pthread_mutex_unlock(&repo->lock);
    return serve_error(SERVE_NOT_FOUND,
                       "Could not find any versions of model %s", name);
  }
  serve_model_report *r = calloc((size_t)count + 1, sizeof *r);
  bool failed = !r;
  int i = 0;
  for (serve_model *m = repo->models; !failed && m; m = m->next) {
    if (name && strcmp(m->name, name)) continue;
    serve_model_report *mr = &r[i++];
    mr->name = strdup(m->name);
    int nv = 0;
    for (serve_version *v = m->versions_list; v; v = v->next) nv++;
    mr->versions = calloc((size_t)nv + 1, sizeof *mr->versions);
    failed = !mr->name || !mr->versions;
    for (serve_version *v = m->versions_list; !failed && v; v = v->next) {
      serve_version_report *vr = &mr->versions[mr->num_versions++];
      vr->number = v->number;
      vr->state = (serve_version_state)atomic_load(&v->state);
      vr->error = v->error ? strdup(v->error) : NULL;
    }
  }
  pthread_mutex_unlock(&repo->lock);
  if (failed) {
    serve_repo_report_free(r, i);
    return serve_error(SERVE_INTERNAL, "out of memory");
  }
  *out = r;
  *out_count = count;
  return NULL;
}

void serve_repo_report_free(serve_model_report *r, int count) {
  for (int i = 0; r && i < count; i++) {
    for (int k = 0; k < r[i].num_versions; k++) free(r[i].versions[k].error);
    free(r[i].versions);
    free(r[i].name);
  }
  free(r);
}

bool serve_repo_all_ready(serve_repo *repo) {
  bool ready = true;
  pthread_mutex_lock(&repo->lock);
  for (serve_model *m = repo->models; m; m = m->next) {
    /* Models loaded later through the API do not count: one that fails
     * must not take the whole server out of its load balancer. */
    if (m->explicit_unload || !m->from_start) continue;
    bool any = false;
    for (serve_version *v = m->versions_list; v && !any; v = v->next)
      any = atomic_load(&v->state) == SERVE_VERSION_AVAILABLE;
    ready = ready && any;
  }
  pthread_mutex_unlock(&repo->lock);
  return ready;
}

bool serve_path_within(const char *path, const char *root) {
  char real_path[PATH_MAX], real_root[PATH_MAX];
  if (!realpath(path, real_path) || !realpath(root, real_root)) return false;
  size_t n = strlen(real_root);
  while (n > 1 && real_root[n - 1] == '/') n--;
  if (strncmp(real_path, real_root, n)) return false;
  return real_path[n] == '\0' || real_path[n] == '/' || n == 1;
}

/* Whether a load may name base_path: under --model_repository or under
 * the base path of a model given at start, once resolved. */
static bool path_allowed(serve_repo *repo, const char *base_path) {
  const char *root = repo->config.model_repository;
  if (root && root[0] && serve_path_within(base_path, root)) return true;
  bool allowed = false;
  pthread_mutex_lock(&repo->lock);
  for (serve_model *m = repo->models; m && !allowed; m = m->next)
    allowed = m->from_start && serve_path_within(base_path, m->base_path);
  pthread_mutex_unlock(&repo->lock);
  return allowed;
}

/* The mode and path checks of the repository API; NULL when allowed.
 * *derived: a base path made from --model_repository (malloc'd). */
static serve_status *check_change(serve_repo *repo, const char *name,
                                  const char *base_path, bool unload,
                                  char **derived) {
  *derived = NULL;
  if (repo->config.control_mode != SERVE_CONTROL_EXPLICIT)
    return serve_error(
        SERVE_FAILED_PRECONDITION,
        "explicit model load / unload is not allowed: the server runs with "
        "--model_control_mode=%s (start it with "
        "--model_control_mode=explicit to use the repository API)",
        repo->config.control_mode == SERVE_CONTROL_POLL ? "poll" : "none");
  if (unload) return NULL;
  pthread_mutex_lock(&repo->lock);
  bool known = find_model(repo, name) != NULL;
  pthread_mutex_unlock(&repo->lock);
  if (known && !base_path) return NULL;
  const char *root = repo->config.model_repository;
  if (!base_path && root && root[0]) {
    size_t size = strlen(root) + strlen(name) + 2;
    *derived = malloc(size);
    if (!*derived) return serve_error(SERVE_INTERNAL, "out of memory");
    snprintf(*derived, size, "%s/%s", root, name);
    base_path = *derived;
    struct stat info;
    if (stat(base_path, &info) != 0) {
      free(*derived);
      *derived = NULL;
      return serve_error(SERVE_NOT_FOUND, "model '%s' is not in the repository",
                         name);
    }
  }
  if (base_path && !path_allowed(repo, base_path)) {
    free(*derived);
    *derived = NULL;
    /* The path is the client's own text; whether it exists is not said. */
    return serve_error(SERVE_PERMISSION_DENIED,
                       "model '%s': base_path is not under a model root of "
                       "this server (--model_repository, --model_base_path "
                       "or --model_config_file)",
                       name);
  }
  return NULL;
}

void serve_repo_change_model(serve_repo *repo, const char *name,
                             const char *base_path, bool unload,
                             serve_repo_done_fn done, void *context) {
  char *derived;
  serve_status *refused = check_change(repo, name, base_path, unload, &derived);
  if (refused) {
    done(context, refused);
    return;
  }
  if (derived) base_path = derived;
  repo_task *t = calloc(1, sizeof *t);
  if (t) {
    t->name = strdup(name);
    t->base_path = base_path ? strdup(base_path) : NULL;
    t->unload = unload;
    t->done = done;
    t->context = context;
  }
  free(derived);
  if (!t || !t->name || (base_path && !t->base_path)) {
    if (t) {
      free(t->name);
      free(t->base_path);
      free(t);
    }
    done(context, serve_error(SERVE_INTERNAL, "out of memory"));
    return;
  }
  pthread_mutex_lock(&repo->lock);
  bool queued = repo->poller_running && !repo->stopping;
  if (queued) {
    repo_task **tail = &repo->tasks;
    while (*tail) tail = &(*tail)->next;
    *tail = t;
    pthread_cond_broadcast(&repo->wake);
  }
  pthread_mutex_unlock(&repo->lock);
  if (!queued) {
    t->next = NULL;
    run_tasks(repo, t); /* no poller (not started): on this thread */
  }
}

void serve_repo_each_model(serve_repo *repo,
                           void (*fn)(void *context, serve_model *model),
                           void *context) {
  pthread_mutex_lock(&repo->lock);
  for (serve_model *m = repo->models; m; m = m->next) fn(context, m);
  pthread_mutex_unlock(&repo->lock);
}
