/* api_tfs.c - TensorFlow Serving's REST API: predict (row and columnar
 * formats, b64), model status, metadata, and the model list TF Serving
 * lacks. Paths, JSON shapes and error texts follow TF Serving's so its
 * clients work unchanged. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "serve/api_common.h"
#include "serve/tensor_json.h"
#include "serve/tfs_common.h"

#define SIGNATURE SERVE_TFS_SIGNATURE

/* A parsed /v1/models/... path. */
typedef struct tfs_path {
  char model[128];
  int64_t version; /* 0: none given */
  char label[128];
  enum {
    TFS_STATUS,
    TFS_METADATA,
    TFS_PREDICT,
    TFS_CLASSIFY,
    TFS_REGRESS,
    TFS_LIST
  } kind;
} tfs_path;

/* Parses TF Serving's path forms; false when malformed. */
static bool parse_path(const char *path, tfs_path *out) {
  memset(out, 0, sizeof *out);
  const char *p = path + strlen("/v1/models");
  if (!*p || !strcmp(p, "/")) {
    out->kind = TFS_LIST;
    return true;
  }
  if (*p++ != '/') return false;
  size_t n = strcspn(p, "/:");
  if (!n || n >= sizeof out->model) return false;
  memcpy(out->model, p, n);
  p += n;
  if (!strncasecmp(p, "/versions/", 10)) {
    p += 10;
    n = strcspn(p, "/:");
    if (!serve_parse_version(p, n, &out->version)) return false;
    p += n;
  } else if (!strncasecmp(p, "/labels/", 8)) {
    p += 8;
    n = strcspn(p, "/:");
    if (!n || n >= sizeof out->label) return false;
    memcpy(out->label, p, n);
    p += n;
  }
  if (!*p) {
    out->kind = TFS_STATUS;
  } else if (!strcasecmp(p, "/metadata")) {
    out->kind = TFS_METADATA;
  } else if (!strcasecmp(p, ":predict")) {
    out->kind = TFS_PREDICT;
  } else if (!strcasecmp(p, ":classify")) {
    out->kind = TFS_CLASSIFY;
  } else if (!strcasecmp(p, ":regress")) {
    out->kind = TFS_REGRESS;
  } else {
    return false;
  }
  return true;
}

/* ------------------------------------------------------------ status */

static void write_versions(serve_buf *b, const serve_model_report *m,
                           int64_t only) {
  serve_buf_puts(b, "[");
  bool first = true;
  for (int k = 0; k < m->num_versions; k++) {
    const serve_version_report *v = &m->versions[k];
    if (only > 0 && v->number != only) continue;
    serve_buf_printf(b, "%s{\"version\":\"%lld\",\"state\":\"%s\",",
                     first ? "" : ",", (long long)v->number,
                     serve_version_state_name(v->state));
    serve_buf_printf(b, "\"status\":{\"error_code\":\"%s\",\"error_message\":",
                     v->error ? "UNKNOWN" : "OK");
    char *error = serve_tfs_version_error(v->error, m->name, v->number);
    serve_buf_json_string(b, error ? error : v->error ? "loading failed" : "");
    free(error);
    serve_buf_puts(b, "}}");
    first = false;
  }
  serve_buf_puts(b, "]");
}

static void handle_status(serve_request *r, const tfs_path *p) {
  serve_model_report *reports;
  int count;
  int64_t only = 0;
  serve_status *st =
      p->kind == TFS_LIST
          ? serve_repo_report(r->server->repo, NULL, &reports, &count)
          : serve_tfs_model_status(r->server->repo, p->model, p->version,
                                   p->label, &reports, &count, &only);
  if (st) {
    serve_respond_error(r, st);
    return;
  }
  serve_buf b = {0};
  if (p->kind == TFS_LIST) {
    serve_buf_puts(&b, "{\"models\":[");
    for (int i = 0; i < count; i++) {
      serve_buf_puts(&b, i ? ",{\"name\":" : "{\"name\":");
      serve_buf_json_string(&b, reports[i].name);
      serve_buf_puts(&b, ",\"model_version_status\":");
      write_versions(&b, &reports[i], 0);
      serve_buf_puts(&b, "}");
    }
    serve_buf_puts(&b, "]}\n");
  } else {
    serve_buf_puts(&b, "{\"model_version_status\":");
    write_versions(&b, &reports[0], only);
    serve_buf_puts(&b, "}\n");
  }
  serve_repo_report_free(reports, count);
  serve_respond_json(r, 200, &b);
}

/* ---------------------------------------------------------- metadata */

static void write_tensor_infos(serve_buf *b, serve_version *v, bool inputs) {
  int count = inputs ? kiln_model_num_inputs(v->kmodel)
                     : kiln_model_num_outputs(v->kmodel);
  serve_buf_puts(b, "{");
  for (int i = 0; i < count; i++) {
    kiln_tensor_info info;
    kiln_status *k = inputs ? kiln_model_input_info(v->kmodel, i, &info)
                            : kiln_model_output_info(v->kmodel, i, &info);
    if (k) {
      kiln_status_free(k);
      continue;
    }
    if (i) serve_buf_puts(b, ",");
    serve_buf_json_string(b, info.name);
    serve_buf_printf(b, ":{\"dtype\":\"%s\",\"tensor_shape\":{\"dim\":[",
                     serve_tf_dtype(info.dtype));
    for (int d = 0; d < info.rank; d++)
      serve_buf_printf(b, "%s{\"size\":\"%lld\",\"name\":\"\"}", d ? "," : "",
                       (long long)info.dims[d]);
    serve_buf_puts(b, "],\"unknown_rank\":false},\"name\":");
    serve_buf_json_string(b, info.name);
    serve_buf_puts(b, "}");
  }
  serve_buf_puts(b, "}");
}

static void handle_metadata(serve_request *r, const tfs_path *p) {
  serve_version *v;
  serve_status *st = serve_tfs_acquire(r->server->repo, p->model, p->version,
                                       p->label, NULL, &v);
  if (st) {
    serve_respond_error(r, st);
    return;
  }
  serve_buf b = {0};
  serve_buf_puts(&b, "{\"model_spec\":{\"name\":");
  serve_buf_json_string(&b, p->model);
  serve_buf_printf(
      &b,
      ",\"signature_name\":\"\",\"version\":\"%lld\"},"
      "\"metadata\":{\"signature_def\":{\"signature_def\":{\"" SIGNATURE
      "\":{\"inputs\":",
      (long long)v->number);
  write_tensor_infos(&b, v, true);
  serve_buf_puts(&b, ",\"outputs\":");
  write_tensor_infos(&b, v, false);
  serve_buf_puts(&b,
                 ",\"method_name\":\"tensorflow/serving/predict\","
                 "\"defaults\":{}}}}}}\n");
  serve_version_release(v);
  serve_respond_json(r, 200, &b);
}

/* ----------------------------------------------------------- predict */

/* One input's value into a tensor: a nested list, or {"b64": ...} for
 * the raw bytes of a tensor shaped as the model's input without
 * (instance) or with (columnar) the batch dimension. */
static serve_status *decode_value(const json_t *value,
                                  const kiln_tensor_info *info, bool instance,
                                  serve_tensor *out) {
  char what[160];
  snprintf(what, sizeof what, "input '%s'", info->name);
  if (serve_json_is_b64(value)) {
    int rank = instance ? info->rank - 1 : info->rank;
    const int64_t *dims = instance ? info->dims + 1 : info->dims;
    for (int d = 0; d < rank; d++)
      if (dims[d] < 0)
        return serve_error(SERVE_INVALID_ARGUMENT,
                           "%s: b64 data needs a fixed shape, but dimension "
                           "%d is dynamic; send a list",
                           what, d + (instance ? 1 : 0));
    return serve_b64_to_tensor(json_string_value(json_object_get(value, "b64")),
                               info->dtype, dims, rank < 0 ? 0 : rank, what,
                               out);
  }
  return serve_json_to_tensor(value, info->dtype, what, NULL, 0, out);
}

static void free_tensors(serve_tensor *t, int n) {
  for (int i = 0; t && i < n; i++) free(t[i].data);
  free(t);
}

/* The row format: "instances" is a list with one item per instance, each
 * the value of the one input or an object naming every input. */
static serve_status *decode_instances(const json_t *instances, serve_version *v,
                                      serve_tensor *inputs) {
  int num_inputs = kiln_model_num_inputs(v->kmodel);
  size_t n = json_array_size(instances);
  if (!json_is_array(instances) || !n)
    return serve_error(SERVE_INVALID_ARGUMENT,
                       "'instances' must be a non-empty list");
  serve_tensor *parts = calloc(n, sizeof *parts);
  if (!parts) return serve_error(SERVE_INTERNAL, "out of memory");
  serve_status *st = NULL;
  for (int i = 0; !st && i < num_inputs; i++) {
    kiln_tensor_info info;
    st = serve_from_kiln(kiln_model_input_info(v->kmodel, i, &info));
    size_t k = 0;
    for (; !st && k < n; k++) {
      const json_t *item = json_array_get(instances, k);
      if (num_inputs > 1 ||
          (json_is_object(item) && !serve_json_is_b64(item))) {
        if (!json_is_object(item) ||
            json_object_size(item) != (size_t)num_inputs) {
          st = serve_error(SERVE_INVALID_ARGUMENT,
                           "instance %zu: with %d inputs each instance must "
                           "be an object whose keys are the input names",
                           k, num_inputs);
          break;
        }
        item = json_object_get(item, info.name);
        if (!item) {
          st = serve_error(SERVE_INVALID_ARGUMENT,
                           "instance %zu has no input '%s'", k, info.name);
          break;
        }
      }
      st = decode_value(item, &info, true, &parts[k]);
    }
    if (!st) st = serve_stack_tensors(parts, (int)n, info.name, &inputs[i]);
    for (size_t j = 0; j < n; j++) {
      free(parts[j].data);
      parts[j].data = NULL;
    }
  }
  free(parts);
  return st;
}

/* The columnar format: "inputs" is the one input's value, or an object
 * naming every input. */
static serve_status *decode_columns(const json_t *columns, serve_version *v,
                                    serve_tensor *inputs) {
  int num_inputs = kiln_model_num_inputs(v->kmodel);
  for (int i = 0; i < num_inputs; i++) {
    kiln_tensor_info info;
    SERVE_TRY(serve_from_kiln(kiln_model_input_info(v->kmodel, i, &info)));
    const json_t *value = columns;
    bool named = json_is_object(columns) && !serve_json_is_b64(columns);
    if (named) {
      value = json_object_get(columns, info.name);
      if (!value)
        return serve_error(SERVE_INVALID_ARGUMENT,
                           "Missing named input: %s in 'inputs' object.",
                           info.name);
    } else if (num_inputs > 1) {
      return serve_error(SERVE_INVALID_ARGUMENT,
                         "'inputs' must be an object naming each of the "
                         "model's %d inputs",
                         num_inputs);
    }
    SERVE_TRY(decode_value(value, &info, false, &inputs[i]));
  }
  return NULL;
}

/* {"name": value, ...} for every output: row `row` of each (first_dim
 * 1), or the whole tensors (first_dim 0). */
static void write_named_outputs(serve_buf *b, const serve_job *job,
                                int first_dim, int64_t row) {
  serve_buf_puts(b, "{");
  for (int o = 0; o < job->num_outputs; o++) {
    kiln_tensor_info info;
    kiln_status_free(kiln_model_output_info(job->version->kmodel, o, &info));
    if (o) serve_buf_puts(b, ",");
    serve_buf_json_string(b, info.name);
    serve_buf_puts(b, ":");
    serve_tensor_to_json(b, &job->outputs[o], first_dim, row, false);
  }
  serve_buf_puts(b, "}");
}

static void predict_done(serve_job *job) {
  serve_request *r = job->context;
  serve_buf b = {0};
  serve_status *st = job->status
                         ? serve_error(serve_status_code(job->status), "%s",
                                       serve_status_message(job->status))
                         : NULL;
  bool rows = r->row_format;
  serve_version *v = job->version;
  for (int o = 0; !st && rows && o < job->num_outputs; o++) {
    const serve_tensor *t = &job->outputs[o];
    if (t->rank < 1 || t->dims[0] != job->outputs[0].dims[0]) {
      kiln_tensor_info info;
      kiln_status_free(kiln_model_output_info(v->kmodel, o, &info));
      st = serve_error(SERVE_INVALID_ARGUMENT,
                       "Tensor name: %s has inconsistent batch size: %lld "
                       "expecting: %lld",
                       info.name, (long long)(t->rank ? t->dims[0] : 0),
                       (long long)job->outputs[0].dims[0]);
    }
  }
  if (!st) {
    if (rows) {
      serve_buf_puts(&b, "{\"predictions\":[");
      int64_t n = job->num_outputs ? job->outputs[0].dims[0] : 0;
      for (int64_t row = 0; row < n; row++) {
        if (row) serve_buf_puts(&b, ",");
        if (job->num_outputs == 1) {
          serve_tensor_to_json(&b, &job->outputs[0], 1, row, false);
          continue;
        }
        write_named_outputs(&b, job, 1, row);
      }
      serve_buf_puts(&b, "]}\n");
    } else {
      serve_buf_puts(&b, "{\"outputs\":");
      if (job->num_outputs == 1) {
        serve_tensor_to_json(&b, &job->outputs[0], 0, 0, false);
      } else {
        write_named_outputs(&b, job, 0, 0);
      }
      serve_buf_puts(&b, "}\n");
    }
  }
  /* Metrics first: once answered, the connection (and r) may be freed by
   * the HTTP thread at any moment. */
  serve_job_done_metrics(r, job, st ? serve_status_http(st) : 200);
  if (st) {
    serve_buf_free(&b);
    serve_respond_error(r, st);
  } else {
    serve_respond_json(r, 200, &b);
  }
}

static void handle_predict(serve_request *r, const tfs_path *p) {
  json_t *body;
  serve_status *st = serve_parse_body(r, &body);
  if (st) {
    serve_respond_error(r, st);
    return;
  }
  const json_t *sig = json_object_get(body, "signature_name");
  const json_t *instances = json_object_get(body, "instances");
  const json_t *columns = json_object_get(body, "inputs");
  if (sig)
    st = serve_tfs_check_signature(json_is_string(sig) ? json_string_value(sig)
                                                       : "?");
  if (!st && instances && columns)
    st = serve_error(SERVE_INVALID_ARGUMENT,
                     "Not formatted correctly expecting only one of 'inputs' "
                     "or 'instances' keys to exist");
  if (!st && !instances && !columns)
    st = serve_error(SERVE_INVALID_ARGUMENT,
                     "Missing 'inputs' or 'instances' key");
  serve_version *v = NULL;
  if (!st)
    st = serve_tfs_acquire(r->server->repo, p->model, p->version, p->label,
                           NULL, &v);
  int num_inputs = v ? kiln_model_num_inputs(v->kmodel) : 0;
  serve_tensor *inputs = NULL;
  if (!st && !(inputs = calloc((size_t)num_inputs + 1, sizeof *inputs)))
    st = serve_error(SERVE_INTERNAL, "out of memory");
  if (!st)
    st = instances ? decode_instances(instances, v, inputs)
                   : decode_columns(columns, v, inputs);
  if (!st) st = serve_tfs_check_inputs(v, inputs, num_inputs);
  json_decref(body);
  if (st) {
    free_tensors(inputs, num_inputs);
    serve_version_release(v);
    serve_respond_error(r, st);
    return;
  }
  r->row_format = instances != NULL;
  serve_submit(r, v, inputs, num_inputs, serve_request_deadline(r, 0),
               predict_done);
}

bool serve_api_tfs(serve_request *r) {
  if (strncasecmp(r->path, "/v1/", 4)) return false;
  tfs_path p;
  bool get = !strcmp(r->method, "GET"), post = !strcmp(r->method, "POST");
  r->api = "tfs";
  if (strncasecmp(r->path, "/v1/models", 10) || !parse_path(r->path, &p)) {
    serve_respond_error(
        r, serve_error(SERVE_INVALID_ARGUMENT, "Malformed request: %s %s",
                       r->method, r->path));
    return true;
  }
  snprintf(r->model, sizeof r->model, "%s", p.model);
  bool wants_post =
      p.kind == TFS_PREDICT || p.kind == TFS_CLASSIFY || p.kind == TFS_REGRESS;
  if ((wants_post && !post) || (!wants_post && !get)) {
    serve_respond_error(
        r, serve_error(SERVE_INVALID_ARGUMENT, "Malformed request: %s %s",
                       r->method, r->path));
    return true;
  }
  switch (p.kind) {
    case TFS_LIST:
    case TFS_STATUS:
      r->api = "status";
      handle_status(r, &p);
      break;
    case TFS_METADATA:
      r->api = "metadata";
      handle_metadata(r, &p);
      break;
    case TFS_PREDICT:
      r->api = "predict";
      handle_predict(r, &p);
      break;
    case TFS_CLASSIFY:
    case TFS_REGRESS:
      r->api = p.kind == TFS_CLASSIFY ? "classify" : "regress";
      serve_respond_error(
          r, serve_error(SERVE_UNIMPLEMENTED,
                         "%s takes tf.Example inputs, which kiln's models do "
                         "not have; use :predict",
                         r->api));
      break;
  }
  return true;
}
