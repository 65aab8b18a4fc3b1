/* grpc_tfs_reload.c - TF Serving's ModelService/HandleReloadConfigRequest:
 * the served models become the config's list. It goes through the
 * repository's own change path (serve_repo_change_model: the poller
 * thread loads, base paths stay confined to the model roots), so it is
 * open only under --model_control_mode=explicit, as the KServe repository
 * API is. Models not in the list are unloaded; listed ones are loaded.
 * kiln keeps a model's base path, version policy and labels from when it
 * was first added, so a reload that would change them for a known model
 * (a different base_path, policy, specific versions or labels), or give a
 * new one anything but the default policy (the latest version) and no
 * labels, is refused before anything changes; the config a model was
 * started with reloads fine. Field numbers follow
 * tensorflow_serving/apis/model_management.proto and
 * config/model_server_config.proto. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/grpc_tfs.h"
#include "serve/tensor_proto.h"

enum {
  RELOAD_CONFIG = 1,      /* ReloadConfigRequest.config */
  SERVER_CONFIG_LIST = 1, /* ModelServerConfig.model_config_list */
  SERVER_CONFIG_CUSTOM = 2,
  LIST_CONFIG = 1, /* ModelConfigList.config */
  MC_NAME = 1,     /* ModelConfig */
  MC_BASE_PATH = 2,
  MC_POLICY = 7,
  MC_LABELS = 8,
  POLICY_LATEST = 100,
  POLICY_ALL = 101,
  POLICY_SPECIFIC = 102,
  RESPONSE_STATUS = 1, /* ReloadConfigResponse.status */
};

typedef struct wanted_model {
  char name[128];
  char base_path[4096];
  bool has_policy, has_labels;
  serve_policy_kind policy;
  int64_t num_versions;
  kiln_pb_reader config; /* the ModelConfig, for labels and versions */
} wanted_model;

/* Calls fn for each version_labels entry (label, version) or each
 * specific version (NULL, version) of a ModelConfig; false at a damaged
 * field or where fn says stop. */
static bool each_number(const kiln_pb_reader *config, bool labels,
                        bool (*fn)(void *ctx, const uint8_t *key,
                                   size_t key_len, int64_t value),
                        void *ctx) {
  kiln_pb_reader c = *config;
  c.pos = 0;
  kiln_pb_field f, g, h;
  bool more;
  kiln_status *k = NULL;
  while (!(k = kiln_pb_next(&c, &f, &more)) && more) {
    if (f.wire_type != KILN_PB_LEN) continue;
    if (labels && f.number == MC_LABELS) {
      kiln_pb_reader entry = kiln_pb_nested(&c, &f, "version_labels");
      const uint8_t *key = NULL;
      size_t key_len = 0;
      int64_t value = 0;
      while (!(k = kiln_pb_next(&entry, &g, &more)) && more) {
        if (g.number == 1 && g.wire_type == KILN_PB_LEN) {
          key = g.bytes;
          key_len = g.len;
        }
        if (g.number == 2 && g.wire_type == KILN_PB_VARINT)
          value = (int64_t)g.value;
      }
      if (k) break;
      if (!fn(ctx, key, key_len, value)) return false;
      continue;
    }
    if (labels || f.number != MC_POLICY) continue;
    kiln_pb_reader policy = kiln_pb_nested(&c, &f, "ServableVersionPolicy");
    while (!k && !(k = kiln_pb_next(&policy, &g, &more)) && more) {
      if (g.number != POLICY_SPECIFIC || g.wire_type != KILN_PB_LEN) continue;
      kiln_pb_reader specific = kiln_pb_nested(&policy, &g, "Specific");
      while (!(k = kiln_pb_next(&specific, &h, &more)) && more) {
        if (h.number != 1) continue;
        if (h.wire_type == KILN_PB_VARINT) {
          if (!fn(ctx, NULL, 0, (int64_t)h.value)) return false;
          continue;
        }
        if (h.wire_type != KILN_PB_LEN) return false;
        kiln_pb_reader packed = kiln_pb_nested(&specific, &h, "versions");
        uint64_t v;
        while (!k && packed.pos < packed.size &&
               !(k = kiln_pb_read_varint(&packed, &v)))
          if (!fn(ctx, NULL, 0, (int64_t)v)) return false;
        if (k) break;
      }
    }
    if (k) break;
  }
  bool ok = k == NULL;
  kiln_status_free(k);
  return ok;
}

/* Counts a config's labels (or specific versions) and whether each is
 * the model's. */
typedef struct number_match {
  const serve_model *model;
  int count;
  bool all_found;
} number_match;

static bool match_label(void *ctx, const uint8_t *key, size_t key_len,
                        int64_t value) {
  number_match *m = ctx;
  m->count++;
  bool found = false;
  for (int i = 0; i < m->model->num_labels && !found; i++) {
    const serve_label *l = &m->model->labels[i];
    found = strlen(l->name) == key_len &&
            (!key_len || !memcmp(l->name, key, key_len)) && l->version == value;
  }
  m->all_found &= found;
  return true;
}

static bool match_version(void *ctx, const uint8_t *key, size_t key_len,
                          int64_t value) {
  (void)key;
  (void)key_len;
  number_match *m = ctx;
  m->count++;
  bool found = false;
  for (int i = 0; i < m->model->num_specific && !found; i++)
    found = m->model->versions[i] == value;
  m->all_found &= found;
  return true;
}

/* Whether the config's labels (or specific versions) are the model's. */
static bool same_numbers(const wanted_model *w, const serve_model *model,
                         bool labels) {
  number_match m = {model, 0, true};
  if (!each_number(&w->config, labels, labels ? match_label : match_version,
                   &m))
    return false;
  return m.all_found &&
         m.count == (labels ? model->num_labels : model->num_specific);
}

/* Labels and versions name positive versions. */
static bool check_number(void *ctx, const uint8_t *key, size_t key_len,
                         int64_t value) {
  (void)ctx;
  (void)key;
  (void)key_len;
  return value > 0;
}

static serve_status *read_policy(const kiln_pb_reader *r,
                                 const kiln_pb_field *f, wanted_model *m) {
  kiln_pb_reader p = kiln_pb_nested(r, f, "ServableVersionPolicy");
  kiln_pb_field g;
  bool more;
  m->has_policy = true;
  m->policy = SERVE_POLICY_LATEST;
  m->num_versions = 1;
  for (;;) {
    SERVE_TRY(serve_from_pb(kiln_pb_next(&p, &g, &more)));
    if (!more) return NULL;
    if (g.number == POLICY_ALL) m->policy = SERVE_POLICY_ALL;
    if (g.number == POLICY_SPECIFIC) m->policy = SERVE_POLICY_SPECIFIC;
    if (g.number != POLICY_LATEST || g.wire_type != KILN_PB_LEN) continue;
    m->policy = SERVE_POLICY_LATEST;
    kiln_pb_reader latest = kiln_pb_nested(&p, &g, "Latest");
    kiln_pb_field h;
    for (;;) {
      SERVE_TRY(serve_from_pb(kiln_pb_next(&latest, &h, &more)));
      if (!more) break;
      if (h.number == 1)
        SERVE_TRY(serve_from_pb(kiln_pb_int64(&latest, &h, &m->num_versions)));
    }
    if (m->num_versions == 0) m->num_versions = 1; /* proto3's unset */
  }
}

static serve_status *read_model(const kiln_pb_reader *r, const kiln_pb_field *f,
                                wanted_model *m) {
  memset(m, 0, sizeof *m);
  if (f->wire_type != KILN_PB_LEN)
    return serve_error(SERVE_INVALID_ARGUMENT,
                       "ModelConfigList: config at byte offset %zu is not a "
                       "message",
                       f->offset);
  kiln_pb_reader c = kiln_pb_nested(r, f, "ModelConfig");
  m->config = c;
  kiln_pb_field g;
  bool more;
  for (;;) {
    SERVE_TRY(serve_from_pb(kiln_pb_next(&c, &g, &more)));
    if (!more) break;
    if (g.number == MC_NAME)
      SERVE_TRY(serve_tfs_read_string(&c, &g, "name", m->name, sizeof m->name));
    if (g.number == MC_BASE_PATH)
      SERVE_TRY(serve_tfs_read_string(&c, &g, "base_path", m->base_path,
                                      sizeof m->base_path));
    if (g.number == MC_POLICY && g.wire_type == KILN_PB_LEN)
      SERVE_TRY(read_policy(&c, &g, m));
    if (g.number == MC_LABELS) m->has_labels = true;
  }
  if (!m->name[0])
    return serve_error(SERVE_INVALID_ARGUMENT,
                       "ModelConfig at byte offset %zu has no name", f->offset);
  if (!each_number(&c, true, check_number, NULL) ||
      !each_number(&c, false, check_number, NULL))
    return serve_error(SERVE_INVALID_ARGUMENT,
                       "model '%s': version_labels or specific versions at "
                       "byte offset %zu are damaged or negative",
                       m->name, f->offset);
  return NULL;
}

/* The config's models (malloc'd). */
static serve_status *decode_reload(const uint8_t *data, size_t len,
                                   wanted_model **out, int *count) {
  *out = NULL;
  *count = 0;
  kiln_pb_reader r = kiln_pb_reader_make(data, len, "ReloadConfigRequest");
  kiln_pb_field f;
  bool more;
  serve_status *st = NULL;
  while (!st) {
    st = serve_from_pb(kiln_pb_next(&r, &f, &more));
    if (st || !more) break;
    if (f.number != RELOAD_CONFIG || f.wire_type != KILN_PB_LEN) continue;
    kiln_pb_reader config = kiln_pb_nested(&r, &f, "ModelServerConfig");
    kiln_pb_field g;
    while (!st) {
      st = serve_from_pb(kiln_pb_next(&config, &g, &more));
      if (st || !more) break;
      if (g.number == SERVER_CONFIG_CUSTOM)
        st = serve_error(SERVE_UNIMPLEMENTED,
                         "custom_model_config is not served; give a "
                         "model_config_list");
      if (g.number != SERVER_CONFIG_LIST || g.wire_type != KILN_PB_LEN)
        continue;
      kiln_pb_reader list = kiln_pb_nested(&config, &g, "ModelConfigList");
      kiln_pb_field h;
      while (!st) {
        st = serve_from_pb(kiln_pb_next(&list, &h, &more));
        if (st || !more) break;
        if (h.number != LIST_CONFIG) continue;
        /* At most one model per 4 bytes of request: bounded. */
        wanted_model *grown =
            realloc(*out, (size_t)(*count + 1) * sizeof **out);
        if (!grown) {
          st = serve_error(SERVE_INTERNAL, "out of memory");
          break;
        }
        *out = grown;
        st = read_model(&list, &h, &(*out)[(*count)++]);
      }
    }
  }
  for (int i = 0; !st && i < *count; i++)
    for (int j = 0; !st && j < i; j++)
      if (!strcmp((*out)[i].name, (*out)[j].name))
        st = serve_error(SERVE_INVALID_ARGUMENT,
                         "model '%s' is listed twice in the config",
                         (*out)[i].name);
  if (st) {
    free(*out);
    *out = NULL;
    *count = 0;
  }
  return st;
}

/* What the repository holds of each model now (copied under its lock). */
typedef struct held_model {
  char name[128];
  bool same_path, same_policy, same_labels, unloaded;
} held_model;

typedef struct held_list {
  held_model *models;
  int count;
  const wanted_model *wanted;
  int num_wanted;
  bool failed;
} held_list;

static void collect(void *context, serve_model *m) {
  held_list *h = context;
  held_model *grown =
      realloc(h->models, (size_t)(h->count + 1) * sizeof *h->models);
  if (!grown) {
    h->failed = true;
    return;
  }
  h->models = grown;
  held_model *out = &h->models[h->count++];
  memset(out, 0, sizeof *out);
  snprintf(out->name, sizeof out->name, "%s", m->name);
  out->unloaded = m->explicit_unload;
  out->same_labels = m->num_labels == 0;
  for (int i = 0; i < h->num_wanted; i++) {
    const wanted_model *w = &h->wanted[i];
    if (strcmp(w->name, m->name)) continue;
    out->same_path = !w->base_path[0] || !strcmp(w->base_path, m->base_path);
    /* No policy given is TF Serving's default: the latest version. */
    serve_policy_kind policy = w->has_policy ? w->policy : SERVE_POLICY_LATEST;
    int64_t latest = w->has_policy ? w->num_versions : 1;
    out->same_policy =
        policy == m->policy &&
        (policy != SERVE_POLICY_LATEST || latest == m->num_versions) &&
        (policy != SERVE_POLICY_SPECIFIC || same_numbers(w, m, false));
    out->same_labels = same_numbers(w, m, true);
  }
}

/* The changes in flight; the last to finish answers. */
typedef struct reload_state {
  serve_grpc_call *call;
  pthread_mutex_t lock;
  int pending;
  serve_status *first_error;
} reload_state;

static void change_done(void *context, serve_status *status) {
  reload_state *r = context;
  pthread_mutex_lock(&r->lock);
  if (status && !r->first_error) {
    r->first_error = status;
    status = NULL;
  }
  bool last = --r->pending == 0;
  pthread_mutex_unlock(&r->lock);
  serve_status_free(status);
  if (!last) return;
  serve_grpc_call *call = r->call;
  serve_status *st = r->first_error;
  pthread_mutex_destroy(&r->lock);
  free(r);
  /* TF Serving answers the outcome in the response's status as well as
   * the call's; a failed change fails the call, as its client checks. */
  if (st) {
    serve_grpc_fail(call, st);
    return;
  }
  kiln_pb_writer w = {0};
  size_t status_mark = kiln_pb_begin(&w, RESPONSE_STATUS);
  kiln_pb_end(&w, status_mark);
  serve_grpc_tfs_answer(call, &w);
}

/* Refused unless --model_control_mode=explicit, in the repository API's
 * words. */
static serve_status *check_mode(const serve_server *s) {
  const serve_options *o = &s->options;
  if (!strcmp(o->model_control_mode, "explicit")) return NULL;
  const char *mode = o->model_control_mode[0]  ? o->model_control_mode
                     : o->model_config_file[0] ? "poll"
                                               : "none";
  return serve_error(SERVE_FAILED_PRECONDITION,
                     "explicit model load / unload is not allowed: the "
                     "server runs with --model_control_mode=%s (start it "
                     "with --model_control_mode=explicit to reload the "
                     "model config)",
                     mode);
}

void serve_grpc_tfs_reload(serve_grpc_call *call) {
  call->api = "reload_config";
  serve_server *s = call->server;
  wanted_model *wanted = NULL;
  int num_wanted = 0;
  serve_status *st = check_mode(s);
  if (!st)
    st = decode_reload(call->request, call->request_len, &wanted, &num_wanted);
  held_list held = {NULL, 0, wanted, num_wanted, false};
  if (!st) {
    serve_repo_each_model(s->repo, collect, &held);
    if (held.failed) st = serve_error(SERVE_INTERNAL, "out of memory");
  }
  /* Refusals first, so a refused reload changes nothing. */
  for (int i = 0; !st && i < num_wanted; i++) {
    const wanted_model *w = &wanted[i];
    const held_model *h = NULL;
    for (int k = 0; k < held.count && !h; k++)
      if (!strcmp(held.models[k].name, w->name)) h = &held.models[k];
    bool default_policy = !w->has_policy || (w->policy == SERVE_POLICY_LATEST &&
                                             w->num_versions == 1);
    if (h ? !h->same_path || !h->same_policy || !h->same_labels
          : !default_policy || w->has_labels)
      st = serve_error(SERVE_UNIMPLEMENTED,
                       "model '%s': a reload keeps a served model's base_path, "
                       "version policy and labels, and adds a new model with "
                       "the latest version and no labels; set others with "
                       "--model_config_file at start",
                       w->name);
  }
  if (st) {
    free(wanted);
    free(held.models);
    serve_grpc_fail(call, st);
    return;
  }
  reload_state *r = calloc(1, sizeof *r);
  if (!r) {
    free(wanted);
    free(held.models);
    serve_grpc_fail(call, serve_error(SERVE_INTERNAL, "out of memory"));
    return;
  }
  r->call = call;
  pthread_mutex_init(&r->lock, NULL);
  r->pending = 1; /* this thread's, until every change is asked */
  for (int k = 0; k < held.count; k++) {
    bool listed = false;
    for (int i = 0; i < num_wanted && !listed; i++)
      listed = !strcmp(wanted[i].name, held.models[k].name);
    if (listed || held.models[k].unloaded) continue;
    pthread_mutex_lock(&r->lock);
    r->pending++;
    pthread_mutex_unlock(&r->lock);
    serve_repo_change_model(s->repo, held.models[k].name, NULL, true,
                            change_done, r);
  }
  for (int i = 0; i < num_wanted; i++) {
    pthread_mutex_lock(&r->lock);
    r->pending++;
    pthread_mutex_unlock(&r->lock);
    serve_repo_change_model(s->repo, wanted[i].name,
                            wanted[i].base_path[0] ? wanted[i].base_path : NULL,
                            false, change_done, r);
  }
  free(wanted);
  free(held.models);
  change_done(r, NULL);
}
