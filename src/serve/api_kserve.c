/* api_kserve.c - KServe v2 / Open Inference Protocol over REST: health,
 * server and model metadata, readiness, infer with JSON tensors and with
 * the binary tensor data extension, and Triton's model configuration,
 * statistics and repository extensions (what perf_analyzer and
 * tritonclient call). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/api_common.h"
#include "serve/kserve_model.h"
#include "serve/redact.h"
#include "serve/tensor_json.h"

typedef struct kserve_path {
  char model[128];
  int64_t version;
  const char *rest; /* what follows the model (and version) */
} kserve_path;

/* /v2/models/NAME[/versions/V]REST */
static bool parse_model_path(const char *path, kserve_path *out) {
  memset(out, 0, sizeof *out);
  const char *p = path + strlen("/v2/models/");
  size_t n = strcspn(p, "/");
  if (!n || n >= sizeof out->model) return false;
  memcpy(out->model, p, n);
  p += n;
  if (!strncmp(p, "/versions/", 10)) {
    p += 10;
    n = strcspn(p, "/");
    if (!serve_parse_version(p, n, &out->version)) return false;
    p += n;
  }
  out->rest = p;
  return true;
}

/* -------------------------------------------------------- metadata */

static void write_tensor_list(serve_buf *b, const kiln_model *m, bool inputs,
                              bool config, bool batched) {
  int count = inputs ? kiln_model_num_inputs(m) : kiln_model_num_outputs(m);
  serve_buf_puts(b, "[");
  for (int i = 0; i < count; i++) {
    kiln_tensor_info info;
    if (!serve_kserve_tensor_info(m, inputs, i, &info)) continue;
    serve_buf_puts(b, i ? ",{\"name\":" : "{\"name\":");
    serve_buf_json_string(b, info.name);
    if (config)
      serve_buf_printf(b, ",\"data_type\":\"TYPE_%s\",\"dims\":[",
                       serve_kserve_dtype(info.dtype));
    else
      serve_buf_printf(b, ",\"datatype\":\"%s\",\"shape\":[",
                       serve_kserve_dtype(info.dtype));
    /* Triton's config leaves the batch dimension out when batching. */
    for (int d = config && batched ? 1 : 0; d < info.rank; d++)
      serve_buf_printf(b, "%s%lld", d > (config && batched) ? "," : "",
                       (long long)info.dims[d]);
    serve_buf_puts(b, "]}");
  }
  serve_buf_puts(b, "]");
}

static void handle_model_metadata(serve_request *r, serve_version *v) {
  serve_buf b = {0};
  serve_buf_puts(&b, "{\"name\":");
  serve_buf_json_string(&b, v->model->name);
  serve_buf_printf(
      &b,
      ",\"versions\":[\"%lld\"],\"platform\":\"" SERVE_KSERVE_PLATFORM
      "\",\"inputs\":",
      (long long)v->number);
  write_tensor_list(&b, v->kmodel, true, false, false);
  serve_buf_puts(&b, ",\"outputs\":");
  write_tensor_list(&b, v->kmodel, false, false, false);
  serve_buf_puts(&b, "}\n");
  serve_respond_json(r, 200, &b);
}

static void handle_model_config(serve_request *r, serve_version *v) {
  bool batched = serve_kserve_batched(v->kmodel);
  const serve_batching *bp = &v->model->batching;
  serve_buf b = {0};
  serve_buf_puts(&b, "{\"name\":");
  serve_buf_json_string(&b, v->model->name);
  serve_buf_printf(&b,
                   ",\"platform\":\"" SERVE_KSERVE_PLATFORM
                   "\",\"backend\":\"" SERVE_KSERVE_BACKEND
                   "\",\"max_batch_size\":%lld,\"input\":",
                   (long long)serve_kserve_max_batch_size(v, batched));
  write_tensor_list(&b, v->kmodel, true, true, batched);
  serve_buf_puts(&b, ",\"output\":");
  write_tensor_list(&b, v->kmodel, false, true, batched);
  if (bp->enabled)
    serve_buf_printf(
        &b, ",\"dynamic_batching\":{\"max_queue_delay_microseconds\":%lld}",
        (long long)bp->batch_timeout_micros);
  serve_buf_puts(&b, "}\n");
  serve_respond_json(r, 200, &b);
}

static void write_duration(serve_buf *b, const char *name, uint64_t count,
                           double ns) {
  serve_buf_printf(b, "\"%s\":{\"count\":%llu,\"ns\":%.0f}", name,
                   (unsigned long long)count, ns);
}

static void write_stats(serve_buf *b, serve_server *s, const char *model,
                        int64_t version) {
  serve_model_stats st = serve_metrics_model_stats(s->metrics, model);
  serve_buf_puts(b, "{\"name\":");
  serve_buf_json_string(b, model);
  serve_buf_printf(b,
                   ",\"version\":\"%lld\",\"last_inference\":%.0f,"
                   "\"inference_count\":%llu,\"execution_count\":%llu,"
                   "\"inference_stats\":{",
                   (long long)version, st.last_inference_ms,
                   (unsigned long long)st.inference_count,
                   (unsigned long long)st.execution_count);
  write_duration(b, "success", st.success_count, st.success_ns);
  serve_buf_puts(b, ",");
  write_duration(b, "fail", st.fail_count, st.fail_ns);
  serve_buf_puts(b, ",");
  write_duration(b, "queue", st.success_count, st.queue_ns);
  serve_buf_puts(b, ",");
  write_duration(b, "compute_input", st.success_count, 0);
  serve_buf_puts(b, ",");
  write_duration(b, "compute_infer", st.success_count, st.compute_ns);
  serve_buf_puts(b, ",");
  write_duration(b, "compute_output", st.success_count, 0);
  serve_buf_puts(b, ",");
  write_duration(b, "cache_hit", 0, 0);
  serve_buf_puts(b, "},\"batch_stats\":[]}");
}

static void handle_all_stats(serve_request *r) {
  serve_model_report *reports;
  int count;
  serve_status *st = serve_repo_report(r->server->repo, NULL, &reports, &count);
  if (st) {
    serve_respond_error(r, st);
    return;
  }
  serve_buf b = {0};
  serve_buf_puts(&b, "{\"model_stats\":[");
  int written = 0;
  for (int i = 0; i < count; i++)
    for (int k = 0; k < reports[i].num_versions; k++) {
      if (reports[i].versions[k].state != SERVE_VERSION_AVAILABLE) continue;
      if (written++) serve_buf_puts(&b, ",");
      write_stats(&b, r->server, reports[i].name,
                  reports[i].versions[k].number);
    }
  serve_buf_puts(&b, "]}\n");
  serve_repo_report_free(reports, count);
  serve_respond_json(r, 200, &b);
}

/* ----------------------------------------------------------- infer */

typedef struct infer_state {
  char *id;            /* echoed; NULL when the request had none */
  bool *want, *binary; /* per model output */
  int num_outputs;
  bool any_binary;
} infer_state;

static void infer_state_free(void *p) {
  infer_state *s = p;
  if (!s) return;
  free(s->id);
  free(s->want);
  free(s->binary);
  free(s);
}

static bool json_flag(const json_t *params, const char *name) {
  const json_t *v = params ? json_object_get(params, name) : NULL;
  return v && json_is_true(v);
}

static void infer_done(serve_job *job) {
  serve_request *r = job->context;
  infer_state *state = r->api_state;
  serve_status *st = job->status
                         ? serve_error(serve_status_code(job->status), "%s",
                                       serve_status_message(job->status))
                         : NULL;
  serve_buf head = {0}, blobs = {0};
  if (!st) {
    serve_buf_puts(&head, "{\"model_name\":");
    serve_buf_json_string(&head, r->model);
    serve_buf_printf(&head, ",\"model_version\":\"%lld\"",
                     (long long)job->version->number);
    if (state->id) {
      serve_buf_puts(&head, ",\"id\":");
      serve_buf_json_string(&head, state->id);
    }
    serve_buf_puts(&head, ",\"outputs\":[");
    int written = 0;
    for (int o = 0; o < job->num_outputs; o++) {
      if (!state->want[o]) continue;
      const serve_tensor *t = &job->outputs[o];
      kiln_tensor_info info;
      kiln_status_free(kiln_model_output_info(job->version->kmodel, o, &info));
      serve_buf_puts(&head, written++ ? ",{\"name\":" : "{\"name\":");
      serve_buf_json_string(&head, info.name);
      serve_buf_printf(&head, ",\"datatype\":\"%s\",\"shape\":[",
                       serve_kserve_dtype(t->dtype));
      for (int d = 0; d < t->rank; d++)
        serve_buf_printf(&head, "%s%lld", d ? "," : "", (long long)t->dims[d]);
      serve_buf_puts(&head, "]");
      if (state->binary[o]) {
        serve_buf_printf(&head, ",\"parameters\":{\"binary_data_size\":%zu}}",
                         t->nbytes);
        serve_buf_append(&blobs, t->data, t->nbytes);
      } else {
        serve_buf_puts(&head, ",\"data\":");
        serve_tensor_to_json(&head, t, 0, 0, true);
        serve_buf_puts(&head, "}");
      }
    }
    serve_buf_puts(&head, "]}");
  }
  bool binary = state->any_binary;
  /* Metrics first: once answered, the connection (and r) may be freed by
   * the HTTP thread at any moment. */
  serve_job_done_metrics(r, job, st ? serve_status_http(st) : 200);
  if (st) {
    serve_buf_free(&head);
    serve_respond_error(r, st);
  } else if (!binary) {
    serve_respond_json(r, 200, &head);
  } else {
    char length[32];
    snprintf(length, sizeof length, "%zu", head.len);
    serve_respond_header(r, "Inference-Header-Content-Length", length);
    serve_buf_append(&head, blobs.data, blobs.len);
    if (head.failed) {
      serve_buf_free(&head);
      serve_respond_error(r, serve_error(SERVE_INTERNAL, "out of memory"));
    } else {
      size_t len;
      char *body = serve_buf_take(&head, &len);
      serve_respond(r, 200, body, len, "application/octet-stream");
    }
  }
  serve_buf_free(&blobs);
}

/* Decodes the inputs (JSON data, or binary blobs after the JSON header)
 * into tensors in model order. */
static serve_status *decode_inputs(serve_request *r, const json_t *inputs,
                                   serve_version *v, size_t json_len,
                                   serve_tensor *out) {
  char *blobs = r->body + json_len;
  size_t blob_len = r->body_len - json_len;
  int num_inputs = kiln_model_num_inputs(v->kmodel);
  if (!json_is_array(inputs))
    return serve_error(SERVE_INVALID_ARGUMENT,
                       "'inputs' must be a list of tensors");
  if ((int)json_array_size(inputs) != num_inputs)
    return serve_error(SERVE_INVALID_ARGUMENT,
                       "expected %d inputs but got %zu inputs", num_inputs,
                       json_array_size(inputs));
  size_t offset = 0;
  for (size_t k = 0; k < json_array_size(inputs); k++) {
    const json_t *in = json_array_get(inputs, k);
    const json_t *name = json_object_get(in, "name");
    const json_t *shape = json_object_get(in, "shape");
    const json_t *datatype = json_object_get(in, "datatype");
    const json_t *params = json_object_get(in, "parameters");
    if (!json_is_string(name) || !json_is_array(shape) ||
        !json_is_string(datatype))
      return serve_error(SERVE_INVALID_ARGUMENT,
                         "input %zu needs name, shape and datatype", k);
    int index;
    kiln_status *k2 =
        kiln_model_find_input(v->kmodel, json_string_value(name), &index);
    if (k2) {
      kiln_status_free(k2);
      return serve_error(SERVE_INVALID_ARGUMENT,
                         "unexpected inference input '%s' for model '%s'",
                         json_string_value(name), v->model->name);
    }
    if (out[index].data)
      return serve_error(SERVE_INVALID_ARGUMENT, "input '%s' is given twice",
                         json_string_value(name));
    kiln_tensor_info info;
    SERVE_TRY(serve_from_kiln(kiln_model_input_info(v->kmodel, index, &info)));
    kiln_dtype dtype = serve_kserve_dtype_parse(json_string_value(datatype));
    if (dtype != info.dtype)
      return serve_error(SERVE_INVALID_ARGUMENT,
                         "input '%s': datatype %s, but the model takes %s",
                         info.name, json_string_value(datatype),
                         serve_kserve_dtype(info.dtype));
    int64_t dims[KILN_MAX_RANK];
    int rank = (int)json_array_size(shape);
    if (rank > KILN_MAX_RANK)
      return serve_error(SERVE_INVALID_ARGUMENT,
                         "input '%s': shape has %d dimensions", info.name,
                         rank);
    for (int d = 0; d < rank; d++) {
      const json_t *dim = json_array_get(shape, (size_t)d);
      if (!json_is_integer(dim) || json_integer_value(dim) < 0)
        return serve_error(SERVE_INVALID_ARGUMENT,
                           "input '%s': shape must list non-negative "
                           "integers",
                           info.name);
      dims[d] = json_integer_value(dim);
    }
    const json_t *size =
        params ? json_object_get(params, "binary_data_size") : NULL;
    char what[160];
    snprintf(what, sizeof what, "input '%s'", info.name);
    int64_t count;
    SERVE_TRY(serve_check_shape(dims, rank, dtype, what, &count));
    if (size) {
      if (!json_is_integer(size) || json_integer_value(size) < 0 ||
          (size_t)json_integer_value(size) > blob_len - offset)
        return serve_error(SERVE_INVALID_ARGUMENT,
                           "input '%s': binary_data_size %lld runs past the "
                           "%zu bytes after the JSON header",
                           info.name, (long long)json_integer_value(size),
                           blob_len - offset);
      size_t n = (size_t)json_integer_value(size);
      size_t want = (size_t)count * kiln_dtype_size(dtype);
      if (n != want)
        return serve_error(SERVE_INVALID_ARGUMENT,
                           "input '%s': binary_data_size is %zu but shape "
                           "and datatype take %zu bytes",
                           info.name, n, want);
      serve_tensor *t = &out[index];
      t->dtype = dtype;
      t->rank = rank;
      memcpy(t->dims, dims, (size_t)rank * sizeof *dims);
      t->nbytes = n;
      /* The tensor points into the body, which the first such tensor
       * takes over from the request: a large image is not copied twice. */
      t->data = blobs + offset;
      t->borrowed = true;
      t->owner = r->body;
      r->body = NULL;
      offset += n;
    } else {
      const json_t *data = json_object_get(in, "data");
      if (!data)
        return serve_error(SERVE_INVALID_ARGUMENT,
                           "input '%s' has neither data nor "
                           "parameters.binary_data_size",
                           info.name);
      SERVE_TRY(
          serve_json_to_tensor(data, dtype, what, dims, rank, &out[index]));
    }
    SERVE_TRY(serve_check_input(v, index, &out[index]));
  }
  if (offset != blob_len)
    return serve_error(SERVE_INVALID_ARGUMENT,
                       "%zu bytes follow the JSON header but the inputs "
                       "take %zu",
                       blob_len, offset);
  return NULL;
}

static serve_status *read_outputs(const json_t *body, serve_version *v,
                                  infer_state *state) {
  const json_t *params = json_object_get(body, "parameters");
  bool all_binary = json_flag(params, "binary_data_output");
  state->num_outputs = kiln_model_num_outputs(v->kmodel);
  state->want = calloc((size_t)state->num_outputs + 1, sizeof(bool));
  state->binary = calloc((size_t)state->num_outputs + 1, sizeof(bool));
  if (!state->want || !state->binary)
    return serve_error(SERVE_INTERNAL, "out of memory");
  const json_t *outputs = json_object_get(body, "outputs");
  if (outputs && !json_is_array(outputs))
    return serve_error(SERVE_INVALID_ARGUMENT, "'outputs' must be a list");
  for (int o = 0; o < state->num_outputs; o++) {
    state->want[o] = !outputs || !json_array_size(outputs);
    state->binary[o] = all_binary;
  }
  for (size_t k = 0; outputs && k < json_array_size(outputs); k++) {
    const json_t *out = json_array_get(outputs, k);
    const json_t *name = json_object_get(out, "name");
    int index;
    kiln_status *ks =
        json_is_string(name)
            ? kiln_model_find_output(v->kmodel, json_string_value(name), &index)
            : NULL;
    if (!json_is_string(name) || ks) {
      kiln_status_free(ks);
      return serve_error(SERVE_INVALID_ARGUMENT,
                         "unexpected inference output '%s' for model '%s'",
                         json_is_string(name) ? json_string_value(name) : "?",
                         v->model->name);
    }
    state->want[index] = true;
    const json_t *op = json_object_get(out, "parameters");
    const json_t *flag = op ? json_object_get(op, "binary_data") : NULL;
    if (flag) state->binary[index] = json_is_true(flag);
  }
  for (int o = 0; o < state->num_outputs; o++)
    state->any_binary =
        state->any_binary || (state->want[o] && state->binary[o]);
  return NULL;
}

static void handle_infer(serve_request *r, const kserve_path *p) {
  /* With the binary extension the JSON header is the first N bytes. */
  size_t json_len = r->body_len;
  const char *header =
      serve_request_header(r, "Inference-Header-Content-Length");
  serve_status *st = NULL;
  if (header) {
    char *end;
    unsigned long long n = strtoull(header, &end, 10);
    if (*end || end == header || n > r->body_len)
      st = serve_error(SERVE_INVALID_ARGUMENT,
                       "Inference-Header-Content-Length is %s but the body "
                       "has %zu bytes",
                       header, r->body_len);
    else
      json_len = (size_t)n;
  }
  if (!st && !json_len)
    st = serve_error(SERVE_UNIMPLEMENTED,
                     "raw binary requests (Inference-Header-Content-Length: "
                     "0) are not supported; send a JSON header");
  json_t *body = NULL;
  if (!st) {
    serve_request view = *r;
    view.body_len = json_len;
    st = serve_parse_body(&view, &body);
  }
  serve_version *v = NULL;
  if (!st)
    st = serve_repo_acquire(r->server->repo, p->model, p->version, NULL, &v);
  infer_state *state = calloc(1, sizeof *state);
  if (!st && !state) st = serve_error(SERVE_INTERNAL, "out of memory");
  r->api_state = state;
  r->api_state_free = infer_state_free;
  int num_inputs = v ? kiln_model_num_inputs(v->kmodel) : 0;
  serve_tensor *inputs = NULL;
  if (!st && !(inputs = calloc((size_t)num_inputs + 1, sizeof *inputs)))
    st = serve_error(SERVE_INTERNAL, "out of memory");
  if (!st) {
    const json_t *id = json_object_get(body, "id");
    if (id && json_is_string(id)) state->id = strdup(json_string_value(id));
    st = decode_inputs(r, json_object_get(body, "inputs"), v, json_len, inputs);
  }
  if (!st) st = read_outputs(body, v, state);
  double timeout_ms = 0;
  const json_t *params = body ? json_object_get(body, "parameters") : NULL;
  const json_t *timeout = params ? json_object_get(params, "timeout") : NULL;
  if (timeout && json_is_integer(timeout))
    timeout_ms = (double)json_integer_value(timeout) / 1e3; /* µs */
  json_decref(body);
  if (st) {
    for (int i = 0; inputs && i < num_inputs; i++)
      serve_tensor_release(&inputs[i]);
    free(inputs);
    serve_version_release(v);
    serve_respond_error(r, st);
    return;
  }
  serve_submit(r, v, inputs, num_inputs, serve_request_deadline(r, timeout_ms),
               infer_done);
}

/* ------------------------------------------------------ repository */

static void repository_done(void *context, serve_status *status) {
  serve_request *r = context;
  if (status) {
    serve_respond_error(r, serve_kserve_repository_error(status, r->model));
    return;
  }
  serve_buf b = {0};
  serve_buf_puts(&b, "{}\n");
  serve_respond_json(r, 200, &b);
}

static void handle_repository(serve_request *r) {
  serve_server *s = r->server;
  const char *p = r->path + strlen("/v2/repository");
  if (!strcmp(p, "/index")) {
    serve_model_report *reports;
    int count;
    serve_status *st = serve_repo_report(s->repo, NULL, &reports, &count);
    if (st) {
      serve_respond_error(r, st);
      return;
    }
    serve_buf b = {0};
    serve_buf_puts(&b, "[");
    int written = 0;
    for (int i = 0; i < count; i++) {
      if (!reports[i].num_versions) {
        serve_buf_puts(&b, written++ ? ",{\"name\":" : "{\"name\":");
        serve_buf_json_string(&b, reports[i].name);
        serve_buf_puts(&b,
                       ",\"state\":\"UNAVAILABLE\",\"reason\":\"unloaded\"}");
      }
      for (int k = 0; k < reports[i].num_versions; k++) {
        const serve_version_report *v = &reports[i].versions[k];
        serve_buf_puts(&b, written++ ? ",{\"name\":" : "{\"name\":");
        serve_buf_json_string(&b, reports[i].name);
        serve_buf_printf(
            &b, ",\"version\":\"%lld\",\"state\":\"%s\",\"reason\":",
            (long long)v->number, serve_kserve_index_state(v->state));
        serve_buf_version_error(&b, v->error, reports[i].name, v->number);
        serve_buf_puts(&b, "}");
      }
    }
    serve_buf_puts(&b, "]\n");
    serve_repo_report_free(reports, count);
    serve_respond_json(r, 200, &b);
    return;
  }
  char model[128];
  const char *name = p + strlen("/models/");
  size_t n = strncmp(p, "/models/", 8) ? 0 : strcspn(name, "/");
  const char *action = name + n;
  if (!n || n >= sizeof model ||
      (strcmp(action, "/load") && strcmp(action, "/unload"))) {
    serve_respond_error(
        r, serve_error(SERVE_NOT_FOUND, "no repository API at %s", r->path));
    return;
  }
  memcpy(model, name, n);
  model[n] = '\0';
  snprintf(r->model, sizeof r->model, "%s", model);
  bool unload = !strcmp(action, "/unload");
  json_t *body = NULL;
  const char *base = NULL;
  if (!unload && r->body_len) {
    serve_status *st = serve_parse_body(r, &body);
    if (st) {
      serve_respond_error(r, st);
      return;
    }
    const json_t *params = json_object_get(body, "parameters");
    const json_t *path = params ? json_object_get(params, "base_path") : NULL;
    if (path && json_is_string(path)) base = json_string_value(path);
  }
  /* Answered by repository_done on the poller thread; the connection
   * waits suspended meanwhile. */
  serve_repo_change_model(s->repo, model, base, unload, repository_done, r);
  json_decref(body);
}

/* -------------------------------------------------------- routing */

static void respond_flag(serve_request *r, bool ok, const char *key) {
  serve_buf b = {0};
  serve_buf_printf(&b, "{\"%s\":%s}\n", key, ok ? "true" : "false");
  serve_respond_json(r, ok ? 200 : 503, &b);
}

bool serve_api_kserve(serve_request *r) {
  if (strcmp(r->path, "/v2") && strncmp(r->path, "/v2/", 4)) return false;
  serve_server *s = r->server;
  bool get = !strcmp(r->method, "GET"), post = !strcmp(r->method, "POST");
  r->api = "kserve";
  if (!strcmp(r->path, "/v2") || !strcmp(r->path, "/v2/")) {
    serve_buf b = {0};
    serve_buf_puts(&b, "{\"name\":\"kiln\",\"version\":\"" KILN_VERSION
                       "\",\"extensions\":[");
    for (int i = 0; serve_kserve_extensions[i]; i++) {
      if (i) serve_buf_puts(&b, ",");
      serve_buf_json_string(&b, serve_kserve_extensions[i]);
    }
    serve_buf_puts(&b, "]}\n");
    serve_respond_json(r, 200, &b);
  } else if (!strcmp(r->path, "/v2/health/live")) {
    respond_flag(r, true, "live");
  } else if (!strcmp(r->path, "/v2/health/ready")) {
    respond_flag(r, serve_repo_all_ready(s->repo), "ready");
  } else if (!strncmp(r->path, "/v2/repository", 14) && post) {
    r->api = "repository";
    handle_repository(r);
  } else if (!strcmp(r->path, "/v2/models/stats") && get) {
    r->api = "stats";
    handle_all_stats(r);
  } else if (!strncmp(r->path, "/v2/models/", 11)) {
    kserve_path p;
    if (!parse_model_path(r->path, &p)) {
      serve_respond_error(
          r, serve_error(SERVE_INVALID_ARGUMENT, "malformed path %s", r->path));
      return true;
    }
    snprintf(r->model, sizeof r->model, "%s", p.model);
    if (!strcmp(p.rest, "/infer") && post) {
      r->api = "infer";
      handle_infer(r, &p);
      return true;
    }
    serve_version *v;
    serve_status *st =
        serve_repo_acquire(s->repo, p.model, p.version, NULL, &v);
    if (!strcmp(p.rest, "/ready") && get) {
      serve_buf b = {0};
      serve_buf_puts(&b, "{\"name\":");
      serve_buf_json_string(&b, p.model);
      serve_buf_printf(&b, ",\"ready\":%s}\n", st ? "false" : "true");
      serve_respond_json(r, st ? 503 : 200, &b);
      serve_status_free(st);
    } else if (st) {
      serve_respond_error(r, st);
      return true;
    } else if (!p.rest[0] && get) {
      handle_model_metadata(r, v);
    } else if (!strcmp(p.rest, "/config") && get) {
      handle_model_config(r, v);
    } else if (!strcmp(p.rest, "/stats") && get) {
      serve_buf b = {0};
      serve_buf_puts(&b, "{\"model_stats\":[");
      write_stats(&b, s, p.model, v->number);
      serve_buf_puts(&b, "]}\n");
      serve_respond_json(r, 200, &b);
    } else {
      serve_respond_error(r, serve_error(SERVE_NOT_FOUND, "no API at %s %s",
                                         r->method, r->path));
    }
    serve_version_release(v);
  } else {
    serve_respond_error(
        r, serve_error(SERVE_NOT_FOUND, "no API at %s %s", r->method, r->path));
  }
  return true;
}
