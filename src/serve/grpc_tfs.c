/* grpc_tfs.c - TF Serving's gRPC services (tensorflow.serving
 * PredictionService and ModelService) on the gRPC front. Requests are
 * decoded by tfs_proto.c and tensor_proto.c; choosing the version,
 * checking inputs, batching, deadlines and metrics are REST's
 * (tfs_common.c, api_common.c), so both APIs answer a model alike. Field
 * numbers of the answers follow tensorflow_serving/apis (predict,
 * get_model_metadata, get_model_status) and tensorflow's meta_graph.proto
 * (SignatureDef, TensorInfo). */
#include "serve/grpc_tfs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/api_common.h"
#include "serve/grpc_front.h"
#include "serve/tensor_proto.h"
#include "serve/tfs_common.h"
#include "serve/tfs_proto.h"

enum {
  RESPONSE_OUTPUTS = 1, /* PredictResponse */
  RESPONSE_SPEC = 2,
  META_SPEC = 1, /* GetModelMetadataResponse */
  META_MAP = 2,
  ANY_TYPE_URL = 1,
  ANY_VALUE = 2,
  SIGDEF_MAP = 1, /* SignatureDefMap.signature_def */
  SIGDEF_INPUTS = 1,
  SIGDEF_OUTPUTS = 2,
  SIGDEF_METHOD = 3,
  INFO_NAME = 1, /* TensorInfo */
  INFO_DTYPE = 2,
  INFO_SHAPE = 3,
  STATUS_VERSIONS = 1, /* GetModelStatusResponse.model_version_status */
  VS_VERSION = 1,
  VS_STATE = 2,
  VS_STATUS = 3,
  SP_CODE = 1, /* StatusProto */
  SP_MESSAGE = 2,
  ENTRY_KEY = 1,
  ENTRY_VALUE = 2,
};

/* tensorflow.error.Code's UNKNOWN, which TF Serving reports for a version
 * that failed to load. */
enum { TF_ERROR_UNKNOWN = 2 };

serve_status *serve_grpc_tfs_spec_version(const serve_tfs_spec *spec,
                                          int64_t *version) {
  *version = spec->has_version ? spec->version : 0;
  if (spec->has_version && spec->version <= 0)
    return serve_error(SERVE_NOT_FOUND,
                       "Could not find version %lld of model %s",
                       (long long)spec->version, spec->name);
  return NULL;
}

serve_status *serve_grpc_tfs_acquire(serve_grpc_call *call,
                                     const serve_tfs_spec *spec,
                                     serve_version **out) {
  *out = NULL;
  snprintf(call->model, sizeof call->model, "%s", spec->name);
  int64_t version;
  SERVE_TRY(serve_grpc_tfs_spec_version(spec, &version));
  return serve_tfs_acquire(call->server->repo, spec->name, version, spec->label,
                           spec->signature, out);
}

double serve_grpc_tfs_deadline(const serve_grpc_call *call) {
  if (call->deadline_ms > 0) return call->deadline_ms;
  int64_t timeout = call->server->options.rest_api_timeout_in_ms;
  return timeout > 0 ? call->received_ms + (double)timeout : 0;
}

void serve_grpc_tfs_answer(serve_grpc_call *call, kiln_pb_writer *w) {
  if (w->failed) {
    kiln_pb_writer_free(w);
    serve_grpc_fail(call, serve_error(SERVE_INTERNAL, "out of memory"));
    return;
  }
  serve_grpc_respond(call, w->data, w->len);
}

/* ----------------------------------------------------------- predict */

/* What the answer needs once the job ran: which outputs, by model
 * index, the client asked for (all when none were named). */
typedef struct predict_state {
  bool *wanted;
  char signature[128];
} predict_state;

/* Moves the request's named tensors into model order. */
static serve_status *bind_inputs(serve_version *v, serve_tfs_predict *p,
                                 serve_tensor *inputs) {
  int n = kiln_model_num_inputs(v->kmodel);
  for (int k = 0; k < p->num_inputs; k++) {
    int i = 0;
    kiln_tensor_info info;
    for (; i < n; i++) {
      SERVE_TRY(serve_from_kiln(kiln_model_input_info(v->kmodel, i, &info)));
      if (!strcmp(info.name, p->input_names[k])) break;
    }
    if (i == n)
      return serve_error(SERVE_INVALID_ARGUMENT,
                         "input tensor alias not found in signature: %s "
                         "(model %s takes %d inputs; GetModelMetadata names "
                         "them)",
                         p->input_names[k], p->spec.name, n);
    inputs[i] = p->inputs[k];
    memset(&p->inputs[k], 0, sizeof p->inputs[k]);
  }
  for (int i = 0; i < n; i++) {
    if (inputs[i].data) continue;
    kiln_tensor_info info;
    SERVE_TRY(serve_from_kiln(kiln_model_input_info(v->kmodel, i, &info)));
    return serve_error(SERVE_INVALID_ARGUMENT, "Missing named input: %s",
                       info.name);
  }
  return serve_tfs_check_inputs(v, inputs, n);
}

/* The outputs the filter names (each once), as a mask by model index. */
static serve_status *filter_outputs(serve_version *v,
                                    const serve_tfs_predict *p, bool *wanted) {
  int n = kiln_model_num_outputs(v->kmodel);
  for (int o = 0; o < n; o++) wanted[o] = p->num_filters == 0;
  for (int k = 0; k < p->num_filters; k++) {
    int o = 0;
    for (; o < n; o++) {
      kiln_tensor_info info;
      SERVE_TRY(serve_from_kiln(kiln_model_output_info(v->kmodel, o, &info)));
      if (!strcmp(info.name, p->output_filter[k])) break;
    }
    if (o == n)
      return serve_error(SERVE_INVALID_ARGUMENT,
                         "output tensor alias not found in signature: %s",
                         p->output_filter[k]);
    if (wanted[o])
      return serve_error(SERVE_INVALID_ARGUMENT,
                         "duplicate output tensor alias: %s",
                         p->output_filter[k]);
    wanted[o] = true;
  }
  return NULL;
}

/* A map<string, TensorProto> entry with lengths known up front, so the
 * tensor's bytes are copied once. */
static void put_tensor_entry(kiln_pb_writer *w, uint32_t number,
                             const char *name, const serve_tensor *t) {
  size_t name_len = strlen(name), tensor = serve_tensor_proto_size(t);
  size_t entry = 1 + kiln_pb_varint_size(name_len) + name_len + 1 +
                 kiln_pb_varint_size(tensor) + tensor;
  kiln_pb_put_key(w, number, KILN_PB_LEN);
  kiln_pb_put_varint(w, entry);
  kiln_pb_put_bytes(w, ENTRY_KEY, name, name_len);
  serve_tensor_proto_write(w, ENTRY_VALUE, t);
}

static serve_status *write_predict(const serve_job *job,
                                   const predict_state *state,
                                   const char *model, kiln_pb_writer *w) {
  for (int o = 0; o < job->num_outputs; o++) {
    if (!state->wanted[o]) continue;
    kiln_tensor_info info;
    SERVE_TRY(serve_from_kiln(
        kiln_model_output_info(job->version->kmodel, o, &info)));
    if (!serve_tf_dtype_number(job->outputs[o].dtype))
      return serve_error(SERVE_UNIMPLEMENTED,
                         "output '%s' is %s, which a TensorProto answer "
                         "cannot carry",
                         info.name, kiln_dtype_name(job->outputs[o].dtype));
    put_tensor_entry(w, RESPONSE_OUTPUTS, info.name, &job->outputs[o]);
  }
  serve_tfs_write_spec(w, RESPONSE_SPEC, model, job->version->number,
                       state->signature);
  return NULL;
}

static void free_predict_state(void *state) {
  predict_state *p = state;
  free(p->wanted);
  free(p);
}

static void predict_done(serve_job *job) {
  serve_grpc_call *call = job->context;
  predict_state *state = call->handler_state;
  call->handler_state = NULL;
  kiln_pb_writer w = {0};
  serve_status *st = serve_grpc_tfs_job_error(job);
  if (!st) st = write_predict(job, state, call->model, &w);
  free_predict_state(state);
  serve_grpc_tfs_finish(call, job, st, &w);
}

serve_status *serve_grpc_tfs_job_error(const serve_job *job) {
  return job->status ? serve_error(serve_status_code(job->status), "%s",
                                   serve_status_message(job->status))
                     : NULL;
}

void serve_grpc_tfs_finish(serve_grpc_call *call, serve_job *job,
                           serve_status *st, kiln_pb_writer *w) {
  call->version = job->version ? job->version->number : 0;
  serve_record_inference(call->server, call->model, call->received_ms, job);
  if (st) {
    kiln_pb_writer_free(w);
    serve_grpc_fail(call, st);
    return;
  }
  serve_grpc_tfs_answer(call, w);
}

static void handle_predict(serve_grpc_call *call) {
  call->api = "predict";
  serve_tfs_predict p;
  serve_status *st =
      serve_tfs_decode_predict(call->request, call->request_len, &p);
  if (st) {
    serve_grpc_fail(call, st);
    return;
  }
  serve_version *v = NULL;
  st = serve_grpc_tfs_acquire(call, &p.spec, &v);
  int num_inputs = v ? kiln_model_num_inputs(v->kmodel) : 0;
  int num_outputs = v ? kiln_model_num_outputs(v->kmodel) : 0;
  serve_tensor *inputs = NULL;
  predict_state *state = NULL;
  if (!st && (!(inputs = calloc((size_t)num_inputs + 1, sizeof *inputs)) ||
              !(state = calloc(1, sizeof *state)) ||
              !(state->wanted = calloc((size_t)num_outputs + 1, 1))))
    st = serve_error(SERVE_INTERNAL, "out of memory");
  if (!st) st = bind_inputs(v, &p, inputs);
  if (!st) st = filter_outputs(v, &p, state->wanted);
  if (state)
    snprintf(state->signature, sizeof state->signature, "%s",
             SERVE_TFS_SIGNATURE);
  serve_tfs_predict_free(&p);
  serve_grpc_tfs_run(call, st, v, inputs, num_inputs, predict_done, state,
                     free_predict_state);
}

void serve_grpc_tfs_run(serve_grpc_call *call, serve_status *st,
                        serve_version *v, serve_tensor *inputs, int num_inputs,
                        void (*done)(serve_job *), void *state,
                        void (*free_state)(void *)) {
  if (st) {
    for (int i = 0; inputs && i < num_inputs; i++)
      serve_tensor_release(&inputs[i]);
    free(inputs);
    if (state) free_state(state);
    if (v) serve_version_release(v);
    serve_grpc_fail(call, st);
    return;
  }
  call->handler_state = state;
  serve_job *job;
  st = serve_submit_job(call->server, v, inputs, num_inputs,
                        serve_grpc_tfs_deadline(call), done, call, -1, &job);
  if (!st) return; /* done answers */
  call->handler_state = NULL;
  if (state) free_state(state);
  if (job)
    serve_record_inference(call->server, call->model, call->received_ms, job);
  serve_grpc_fail(call, st);
}

/* ---------------------------------------------------------- metadata */

static void put_tensor_infos(kiln_pb_writer *w, uint32_t number,
                             serve_version *v, bool inputs) {
  int count = inputs ? kiln_model_num_inputs(v->kmodel)
                     : kiln_model_num_outputs(v->kmodel);
  for (int i = 0; i < count; i++) {
    kiln_tensor_info info;
    kiln_status *k = inputs ? kiln_model_input_info(v->kmodel, i, &info)
                            : kiln_model_output_info(v->kmodel, i, &info);
    if (k) {
      kiln_status_free(k);
      continue;
    }
    size_t entry = kiln_pb_begin(w, number);
    kiln_pb_put_string(w, ENTRY_KEY, info.name);
    size_t tensor_info = kiln_pb_begin(w, ENTRY_VALUE);
    kiln_pb_put_string(w, INFO_NAME, info.name);
    kiln_pb_put_uint64(w, INFO_DTYPE,
                       (uint64_t)serve_tf_dtype_number(info.dtype));
    serve_tensor_shape_write(w, INFO_SHAPE, info.dims, info.rank);
    kiln_pb_end(w, tensor_info);
    kiln_pb_end(w, entry);
  }
}

static void handle_metadata(serve_grpc_call *call) {
  call->api = "metadata";
  serve_tfs_spec spec;
  serve_version *v = NULL;
  serve_status *st =
      serve_tfs_decode_metadata(call->request, call->request_len, &spec);
  /* TF Serving reads no signature here: every one is described. */
  if (!st) {
    spec.signature[0] = '\0';
    st = serve_grpc_tfs_acquire(call, &spec, &v);
  }
  if (st) {
    serve_grpc_fail(call, st);
    return;
  }
  call->version = v->number;
  kiln_pb_writer map = {0};
  size_t entry = kiln_pb_begin(&map, SIGDEF_MAP);
  kiln_pb_put_string(&map, ENTRY_KEY, SERVE_TFS_SIGNATURE);
  size_t sigdef = kiln_pb_begin(&map, ENTRY_VALUE);
  put_tensor_infos(&map, SIGDEF_INPUTS, v, true);
  put_tensor_infos(&map, SIGDEF_OUTPUTS, v, false);
  kiln_pb_put_string(&map, SIGDEF_METHOD, "tensorflow/serving/predict");
  kiln_pb_end(&map, sigdef);
  kiln_pb_end(&map, entry);
  kiln_pb_writer w = {0};
  serve_tfs_write_spec(&w, META_SPEC, spec.name, v->number, "");
  serve_version_release(v);
  size_t meta = kiln_pb_begin(&w, META_MAP);
  kiln_pb_put_string(&w, ENTRY_KEY, "signature_def");
  size_t any = kiln_pb_begin(&w, ENTRY_VALUE);
  kiln_pb_put_string(&w, ANY_TYPE_URL,
                     "type.googleapis.com/tensorflow.serving.SignatureDefMap");
  kiln_pb_put_bytes(&w, ANY_VALUE, map.data, map.len);
  kiln_pb_end(&w, any);
  kiln_pb_end(&w, meta);
  w.failed |= map.failed;
  kiln_pb_writer_free(&map);
  serve_grpc_tfs_answer(call, &w);
}

/* ------------------------------------------------------------ status */

static void handle_status(serve_grpc_call *call) {
  call->api = "status";
  serve_tfs_spec spec;
  serve_status *st =
      serve_tfs_decode_status(call->request, call->request_len, &spec);
  int64_t version = 0, only = 0;
  serve_model_report *reports = NULL;
  int count = 0;
  if (!st) {
    snprintf(call->model, sizeof call->model, "%s", spec.name);
    st = serve_grpc_tfs_spec_version(&spec, &version);
  }
  if (!st)
    st = serve_tfs_model_status(call->server->repo, spec.name, version,
                                spec.label, &reports, &count, &only);
  if (st) {
    serve_grpc_fail(call, st);
    return;
  }
  kiln_pb_writer w = {0};
  const serve_model_report *m = &reports[0];
  for (int k = 0; k < m->num_versions; k++) {
    const serve_version_report *r = &m->versions[k];
    if (only > 0 && r->number != only) continue;
    size_t vs = kiln_pb_begin(&w, STATUS_VERSIONS);
    kiln_pb_put_int64(&w, VS_VERSION, r->number);
    /* TF Serving's State numbers: START 10 ... END 50, in kiln's order. */
    kiln_pb_put_uint64(&w, VS_STATE, ((uint64_t)r->state + 1) * 10);
    size_t status = kiln_pb_begin(&w, VS_STATUS);
    if (r->error) {
      char *error = serve_tfs_version_error(r->error, m->name, r->number);
      kiln_pb_put_uint64(&w, SP_CODE, TF_ERROR_UNKNOWN);
      kiln_pb_put_string(&w, SP_MESSAGE, error ? error : "loading failed");
      free(error);
    }
    kiln_pb_end(&w, status);
    kiln_pb_end(&w, vs);
  }
  serve_repo_report_free(reports, count);
  serve_grpc_tfs_answer(call, &w);
}

const serve_grpc_method serve_grpc_tfs_methods[] = {
    {"/tensorflow.serving.PredictionService/Predict", handle_predict},
    {"/tensorflow.serving.PredictionService/GetModelMetadata", handle_metadata},
    {"/tensorflow.serving.ModelService/GetModelStatus", handle_status},
    {"/tensorflow.serving.ModelService/HandleReloadConfigRequest",
     serve_grpc_tfs_reload},
    {"/tensorflow.serving.PredictionService/Classify", serve_grpc_tfs_classify},
    {"/tensorflow.serving.PredictionService/Regress", serve_grpc_tfs_regress},
    {NULL, NULL},
};
