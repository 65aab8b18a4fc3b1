/* grpc_kserve.c - KServe v2's gRPC service (inference.GRPCInferenceService,
 * the Open Inference Protocol as Triton serves it) on the gRPC front:
 * health, server and model metadata, ModelInfer with typed or raw tensor
 * contents, and Triton's extensions that tritonclient and perf_analyzer
 * call (model configuration, statistics, the model repository). What it
 * answers matches the REST API (api_kserve.c): the shared facts come from
 * kserve_model.h, the messages are read and written by kserve_proto.h, and
 * inference goes through the same scheduler (batching, deadlines, metrics)
 * as REST's. Response field numbers follow kserve's grpc_predict_v2.proto
 * and Triton's grpc_service.proto and model_config.proto. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/api_common.h"
#include "serve/grpc_front.h"
#include "serve/kserve_model.h"
#include "serve/kserve_proto.h"
#include "serve/tensor_json.h"

/* Answers with the writer's bytes (taken), or INTERNAL when it ran out of
 * memory. */
static void respond_writer(serve_grpc_call *call, kiln_pb_writer *w) {
  if (w->failed) {
    kiln_pb_writer_free(w);
    serve_grpc_fail(call, serve_error(SERVE_INTERNAL, "out of memory"));
    return;
  }
  serve_grpc_respond(call, w->data, w->len);
  w->data = NULL;
}

/* A request naming a model, decoded, with the version it names held. */
static bool acquire_named(serve_grpc_call *call, const char *what,
                          kserve_model_request *req, serve_version **v) {
  serve_status *st = kserve_decode_model_request(
      call->request, call->request_len, KSERVE_NAMED, what, req);
  if (!st) {
    snprintf(call->model, sizeof call->model, "%s", req->name);
    st = serve_repo_acquire(call->server->repo, req->name, req->version, NULL,
                            v);
  }
  if (st) {
    serve_grpc_fail(call, st);
    return false;
  }
  call->version = (*v)->number;
  return true;
}

/* ------------------------------------------------------------- health */

static void respond_flag(serve_grpc_call *call, bool flag) {
  kiln_pb_writer w = {0};
  if (flag) kiln_pb_put_bool(&w, 1, true); /* live / ready */
  respond_writer(call, &w);
}

static void server_live(serve_grpc_call *call) {
  call->api = "health";
  respond_flag(call, true);
}

static void server_ready(serve_grpc_call *call) {
  call->api = "health";
  respond_flag(call, serve_repo_all_ready(call->server->repo));
}

static void model_ready(serve_grpc_call *call) {
  call->api = "health";
  kserve_model_request req;
  serve_status *st =
      kserve_decode_model_request(call->request, call->request_len,
                                  KSERVE_NAMED, "ModelReadyRequest", &req);
  if (st) {
    serve_grpc_fail(call, st);
    return;
  }
  snprintf(call->model, sizeof call->model, "%s", req.name);
  serve_version *v = NULL;
  /* Not ready (unknown, or no such version) is an answer, not an error,
   * as REST's /ready says false. */
  st = serve_repo_acquire(call->server->repo, req.name, req.version, NULL, &v);
  serve_status_free(st);
  if (v) serve_version_release(v);
  respond_flag(call, !st);
}

/* ----------------------------------------------------------- metadata */

static void server_metadata(serve_grpc_call *call) {
  call->api = "metadata";
  kiln_pb_writer w = {0};
  kiln_pb_put_string(&w, 1, "kiln");
  kiln_pb_put_string(&w, 2, KILN_VERSION);
  for (int i = 0; serve_kserve_extensions[i]; i++)
    kiln_pb_put_string(&w, 3, serve_kserve_extensions[i]);
  respond_writer(call, &w);
}

/* Packed repeated int64 dims from `first`. */
static void put_dims(kiln_pb_writer *w, uint32_t number,
                     const kiln_tensor_info *info, int first) {
  size_t mark = kiln_pb_begin(w, number);
  for (int d = first; d < info->rank; d++)
    kiln_pb_put_varint(w, (uint64_t)info->dims[d]);
  kiln_pb_end(w, mark);
}

/* ModelMetadataResponse.TensorMetadata for each input (4) or output (5). */
static void put_tensor_metadata(kiln_pb_writer *w, const kiln_model *m,
                                bool inputs) {
  int count = inputs ? kiln_model_num_inputs(m) : kiln_model_num_outputs(m);
  for (int i = 0; i < count; i++) {
    kiln_tensor_info info;
    if (!serve_kserve_tensor_info(m, inputs, i, &info)) continue;
    size_t mark = kiln_pb_begin(w, inputs ? 4 : 5);
    kiln_pb_put_string(w, 1, info.name);
    kiln_pb_put_string(w, 2, serve_kserve_dtype(info.dtype));
    put_dims(w, 3, &info, 0);
    kiln_pb_end(w, mark);
  }
}

static void model_metadata(serve_grpc_call *call) {
  call->api = "metadata";
  kserve_model_request req;
  serve_version *v;
  if (!acquire_named(call, "ModelMetadataRequest", &req, &v)) return;
  char version[32];
  snprintf(version, sizeof version, "%lld", (long long)v->number);
  kiln_pb_writer w = {0};
  kiln_pb_put_string(&w, 1, v->model->name);
  kiln_pb_put_string(&w, 2, version);
  kiln_pb_put_string(&w, 3, SERVE_KSERVE_PLATFORM);
  put_tensor_metadata(&w, v->kmodel, true);
  put_tensor_metadata(&w, v->kmodel, false);
  serve_version_release(v);
  respond_writer(call, &w);
}

/* ModelConfig.input (5) / output (6): ModelInput{1 name, 2 data_type,
 * 4 dims} and ModelOutput{1 name, 2 data_type, 3 dims}. */
static void put_config_tensors(kiln_pb_writer *w, const kiln_model *m,
                               bool inputs, bool batched) {
  int count = inputs ? kiln_model_num_inputs(m) : kiln_model_num_outputs(m);
  for (int i = 0; i < count; i++) {
    kiln_tensor_info info;
    if (!serve_kserve_tensor_info(m, inputs, i, &info)) continue;
    size_t mark = kiln_pb_begin(w, inputs ? 5 : 6);
    kiln_pb_put_string(w, 1, info.name);
    kiln_pb_put_uint64(w, 2, (uint64_t)kserve_config_dtype(info.dtype));
    /* Triton's config leaves the batch dimension out when batching. */
    put_dims(w, inputs ? 4 : 3, &info, batched ? 1 : 0);
    kiln_pb_end(w, mark);
  }
}

static void model_config(serve_grpc_call *call) {
  call->api = "config";
  kserve_model_request req;
  serve_version *v;
  if (!acquire_named(call, "ModelConfigRequest", &req, &v)) return;
  bool batched = serve_kserve_batched(v->kmodel);
  const serve_batching *bp = &v->model->batching;
  kiln_pb_writer w = {0};
  size_t config = kiln_pb_begin(&w, 1);
  kiln_pb_put_string(&w, 1, v->model->name);
  kiln_pb_put_string(&w, 2, SERVE_KSERVE_PLATFORM);
  kiln_pb_put_string(&w, 17, SERVE_KSERVE_BACKEND);
  kiln_pb_put_int64(&w, 4, serve_kserve_max_batch_size(v, batched));
  put_config_tensors(&w, v->kmodel, true, batched);
  put_config_tensors(&w, v->kmodel, false, batched);
  if (bp->enabled) {
    size_t dynamic = kiln_pb_begin(&w, 11);
    kiln_pb_put_uint64(&w, 2, (uint64_t)bp->batch_timeout_micros);
    kiln_pb_end(&w, dynamic);
  }
  kiln_pb_end(&w, config);
  serve_version_release(v);
  respond_writer(call, &w);
}

/* --------------------------------------------------------- statistics */

static void put_duration(kiln_pb_writer *w, uint32_t number, uint64_t count,
                         double ns) {
  size_t mark = kiln_pb_begin(w, number);
  kiln_pb_put_uint64(w, 1, count);
  kiln_pb_put_uint64(w, 2, ns > 0 ? (uint64_t)ns : 0);
  kiln_pb_end(w, mark);
}

/* ModelStatisticsResponse.model_stats: what REST's stats endpoint says. */
static void put_model_stats(kiln_pb_writer *w, serve_server *s,
                            const char *model, int64_t version) {
  serve_model_stats st = serve_metrics_model_stats(s->metrics, model);
  char text[32];
  snprintf(text, sizeof text, "%lld", (long long)version);
  size_t mark = kiln_pb_begin(w, 1);
  kiln_pb_put_string(w, 1, model);
  kiln_pb_put_string(w, 2, text);
  kiln_pb_put_uint64(
      w, 3, st.last_inference_ms > 0 ? (uint64_t)st.last_inference_ms : 0);
  kiln_pb_put_uint64(w, 4, st.inference_count);
  kiln_pb_put_uint64(w, 5, st.execution_count);
  size_t infer = kiln_pb_begin(w, 6);
  put_duration(w, 1, st.success_count, st.success_ns);
  put_duration(w, 2, st.fail_count, st.fail_ns);
  put_duration(w, 3, st.success_count, st.queue_ns);
  put_duration(w, 4, st.success_count, 0);
  put_duration(w, 5, st.success_count, st.compute_ns);
  put_duration(w, 6, st.success_count, 0);
  put_duration(w, 7, 0, 0);
  put_duration(w, 8, 0, 0);
  kiln_pb_end(w, infer);
  kiln_pb_end(w, mark);
}

static void model_statistics(serve_grpc_call *call) {
  call->api = "stats";
  serve_server *s = call->server;
  kserve_model_request req;
  serve_status *st =
      kserve_decode_model_request(call->request, call->request_len,
                                  KSERVE_NAMED, "ModelStatisticsRequest", &req);
  if (st) {
    serve_grpc_fail(call, st);
    return;
  }
  kiln_pb_writer w = {0};
  if (req.name[0]) {
    serve_version *v;
    snprintf(call->model, sizeof call->model, "%s", req.name);
    st = serve_repo_acquire(s->repo, req.name, req.version, NULL, &v);
    if (st) {
      serve_grpc_fail(call, st);
      return;
    }
    call->version = v->number;
    put_model_stats(&w, s, req.name, v->number);
    serve_version_release(v);
    respond_writer(call, &w);
    return;
  }
  serve_model_report *reports;
  int count;
  st = serve_repo_report(s->repo, NULL, &reports, &count);
  if (st) {
    serve_grpc_fail(call, st);
    return;
  }
  for (int i = 0; i < count; i++)
    for (int k = 0; k < reports[i].num_versions; k++)
      if (reports[i].versions[k].state == SERVE_VERSION_AVAILABLE)
        put_model_stats(&w, s, reports[i].name, reports[i].versions[k].number);
  serve_repo_report_free(reports, count);
  respond_writer(call, &w);
}

/* --------------------------------------------------------- repository */

static void put_index_entry(kiln_pb_writer *w, const char *name,
                            const serve_version_report *v) {
  size_t mark = kiln_pb_begin(w, 1);
  kiln_pb_put_string(w, 1, name);
  if (!v) {
    kiln_pb_put_string(w, 3, "UNAVAILABLE");
    kiln_pb_put_string(w, 4, "unloaded");
  } else {
    char version[32];
    snprintf(version, sizeof version, "%lld", (long long)v->number);
    kiln_pb_put_string(w, 2, version);
    kiln_pb_put_string(w, 3, serve_kserve_index_state(v->state));
    char *reason = serve_kserve_version_reason(v->error, name, v->number);
    kiln_pb_put_string(w, 4, reason ? reason : "");
    free(reason);
  }
  kiln_pb_end(w, mark);
}

static void repository_index(serve_grpc_call *call) {
  call->api = "repository";
  kserve_model_request req;
  serve_status *st =
      kserve_decode_model_request(call->request, call->request_len,
                                  KSERVE_INDEX, "RepositoryIndexRequest", &req);
  serve_model_report *reports = NULL;
  int count = 0;
  if (!st) st = serve_repo_report(call->server->repo, NULL, &reports, &count);
  if (st) {
    serve_grpc_fail(call, st);
    return;
  }
  kiln_pb_writer w = {0};
  for (int i = 0; i < count; i++) {
    if (!reports[i].num_versions && !req.ready)
      put_index_entry(&w, reports[i].name, NULL);
    for (int k = 0; k < reports[i].num_versions; k++)
      if (!req.ready || reports[i].versions[k].state == SERVE_VERSION_AVAILABLE)
        put_index_entry(&w, reports[i].name, &reports[i].versions[k]);
  }
  serve_repo_report_free(reports, count);
  respond_writer(call, &w);
}

static void repository_done(void *context, serve_status *status) {
  serve_grpc_call *call = context;
  if (status)
    serve_grpc_fail(call, serve_kserve_repository_error(status, call->model));
  else
    serve_grpc_respond(call, NULL, 0); /* an empty response message */
}

static void repository_change(serve_grpc_call *call, bool unload) {
  call->api = "repository";
  kserve_model_request req;
  serve_status *st = kserve_decode_model_request(
      call->request, call->request_len, KSERVE_REPOSITORY,
      unload ? "RepositoryModelUnloadRequest" : "RepositoryModelLoadRequest",
      &req);
  if (st) {
    serve_grpc_fail(call, st);
    return;
  }
  snprintf(call->model, sizeof call->model, "%s", req.name);
  if (!req.name[0]) {
    free(req.base_path);
    serve_grpc_fail(call, serve_error(SERVE_INVALID_ARGUMENT,
                                      "the request names no model"));
    return;
  }
  /* The repository checks the control mode and confines base_path to the
   * model roots, exactly as for REST; done answers, maybe later from the
   * poller thread. */
  serve_repo_change_model(call->server->repo, req.name,
                          unload ? NULL : req.base_path, unload,
                          repository_done, call);
  free(req.base_path);
}

static void repository_load(serve_grpc_call *call) {
  repository_change(call, false);
}

static void repository_unload(serve_grpc_call *call) {
  repository_change(call, true);
}

/* -------------------------------------------------------------- infer */

typedef struct infer_state {
  kserve_infer_request request;
  bool *want; /* per model output */
} infer_state;

static void infer_state_free(infer_state *state) {
  if (!state) return;
  kserve_infer_request_free(&state->request);
  free(state->want);
  free(state);
}

static void infer_done(serve_job *job) {
  serve_grpc_call *call = job->context;
  infer_state *state = call->handler_state;
  serve_server *s = call->server;
  call->handler_state = NULL;
  call->version = job->version ? job->version->number : 0;
  serve_status *st = job->status
                         ? serve_error(serve_status_code(job->status), "%s",
                                       serve_status_message(job->status))
                         : NULL;
  kiln_pb_writer w = {0};
  if (!st) {
    kserve_output outputs[64];
    int n = 0;
    kserve_output *many = NULL;
    if (job->num_outputs > 64)
      many = calloc((size_t)job->num_outputs, sizeof *many);
    kserve_output *list = job->num_outputs > 64 ? many : outputs;
    if (!list) {
      st = serve_error(SERVE_INTERNAL, "out of memory");
    } else {
      for (int o = 0; o < job->num_outputs; o++) {
        kiln_tensor_info info;
        if (!state->want[o] ||
            !serve_kserve_tensor_info(job->version->kmodel, false, o, &info))
          continue;
        list[n].name = info.name;
        list[n].tensor = &job->outputs[o];
        n++;
      }
      kserve_encode_infer_response(&w, call->model, job->version->number,
                                   state->request.id, list, n);
    }
    free(many);
  }
  /* Metrics before answering: the call is the front's once answered. */
  serve_record_inference(s, call->model, call->received_ms, job);
  infer_state_free(state);
  if (st) {
    kiln_pb_writer_free(&w);
    serve_grpc_fail(call, st);
  } else {
    respond_writer(call, &w);
  }
}

/* Inputs by name into model order; each checked against the model. */
static serve_status *decode_inputs(const kserve_infer_request *req,
                                   serve_version *v, serve_tensor *out) {
  int num_inputs = kiln_model_num_inputs(v->kmodel);
  if (req->num_inputs != num_inputs)
    return serve_error(SERVE_INVALID_ARGUMENT,
                       "expected %d inputs but got %d inputs", num_inputs,
                       req->num_inputs);
  for (int k = 0; k < req->num_inputs; k++) {
    const kserve_input *in = &req->inputs[k];
    int index;
    kiln_status *ks = kiln_model_find_input(v->kmodel, in->name, &index);
    if (ks) {
      kiln_status_free(ks);
      return serve_error(SERVE_INVALID_ARGUMENT,
                         "unexpected inference input '%s' for model '%s'",
                         in->name, v->model->name);
    }
    if (out[index].data)
      return serve_error(SERVE_INVALID_ARGUMENT, "input '%s' is given twice",
                         in->name);
    kiln_tensor_info info;
    SERVE_TRY(serve_from_kiln(kiln_model_input_info(v->kmodel, index, &info)));
    SERVE_TRY(kserve_input_tensor(req, k, info.dtype, &out[index]));
    SERVE_TRY(serve_check_input(v, index, &out[index]));
  }
  return NULL;
}

static serve_status *requested_outputs(const kserve_infer_request *req,
                                       serve_version *v, infer_state *state) {
  int num_outputs = kiln_model_num_outputs(v->kmodel);
  state->want = calloc((size_t)num_outputs + 1, sizeof(bool));
  if (!state->want) return serve_error(SERVE_INTERNAL, "out of memory");
  for (int o = 0; o < num_outputs; o++) state->want[o] = !req->num_outputs;
  for (int k = 0; k < req->num_outputs; k++) {
    int index;
    kiln_status *ks =
        kiln_model_find_output(v->kmodel, req->outputs[k], &index);
    if (ks) {
      kiln_status_free(ks);
      return serve_error(SERVE_INVALID_ARGUMENT,
                         "unexpected inference output '%s' for model '%s'",
                         req->outputs[k], v->model->name);
    }
    state->want[index] = true;
  }
  return NULL;
}

static void model_infer(serve_grpc_call *call) {
  call->api = "infer";
  serve_server *s = call->server;
  infer_state *state = calloc(1, sizeof *state);
  serve_status *st =
      state ? kserve_decode_infer_request(call->request, call->request_len,
                                          &state->request)
            : serve_error(SERVE_INTERNAL, "out of memory");
  const kserve_infer_request *req = state ? &state->request : NULL;
  int64_t version = 0;
  if (!st) {
    snprintf(call->model, sizeof call->model, "%s", req->model_name);
    if (req->model_version[0] &&
        !serve_parse_version(req->model_version, strlen(req->model_version),
                             &version))
      st = serve_error(SERVE_INVALID_ARGUMENT,
                       "model_version '%s' is not a positive integer",
                       req->model_version);
  }
  serve_version *v = NULL;
  if (!st) st = serve_repo_acquire(s->repo, req->model_name, version, NULL, &v);
  int num_inputs = v ? kiln_model_num_inputs(v->kmodel) : 0;
  serve_tensor *inputs = NULL;
  if (!st && !(inputs = calloc((size_t)num_inputs + 1, sizeof *inputs)))
    st = serve_error(SERVE_INTERNAL, "out of memory");
  if (!st) st = decode_inputs(req, v, inputs);
  if (!st) st = requested_outputs(req, v, state);
  if (st) {
    for (int i = 0; inputs && i < num_inputs; i++)
      serve_tensor_release(&inputs[i]);
    free(inputs);
    if (v) serve_version_release(v);
    infer_state_free(state);
    serve_grpc_fail(call, st);
    return;
  }
  call->version = v->number;
  /* The client's gRPC deadline, else the request's timeout parameter (µs,
   * as REST reads it), else --rest_api_timeout_in_ms. */
  double deadline = call->deadline_ms;
  if (deadline <= 0) {
    double timeout_ms = req->timeout_us > 0
                            ? (double)req->timeout_us / 1e3
                            : (double)s->options.rest_api_timeout_in_ms;
    deadline = timeout_ms > 0 ? call->received_ms + timeout_ms : 0;
  }
  /* The raw inputs point into the request, which stays the call's until it
   * is answered from infer_done. */
  call->handler_state = state;
  serve_job *job;
  st = serve_submit_job(s, v, inputs, num_inputs, deadline, infer_done, call,
                        -1, &job);
  if (!st) return;
  call->handler_state = NULL;
  if (job) serve_record_inference(s, call->model, call->received_ms, job);
  infer_state_free(state);
  serve_grpc_fail(call, st);
}

/* ------------------------------------------------------------- routing */

#define METHOD(name) "/inference.GRPCInferenceService/" name

const serve_grpc_method serve_grpc_kserve_methods[] = {
    {METHOD("ServerLive"), server_live},
    {METHOD("ServerReady"), server_ready},
    {METHOD("ModelReady"), model_ready},
    {METHOD("ServerMetadata"), server_metadata},
    {METHOD("ModelMetadata"), model_metadata},
    {METHOD("ModelInfer"), model_infer},
    {METHOD("ModelConfig"), model_config},
    {METHOD("ModelStatistics"), model_statistics},
    {METHOD("RepositoryIndex"), repository_index},
    {METHOD("RepositoryModelLoad"), repository_load},
    {METHOD("RepositoryModelUnload"), repository_unload},
    {NULL, NULL},
};
