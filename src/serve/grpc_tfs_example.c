/* grpc_tfs_example.c - TF Serving's Classify and Regress, whose inputs are
 * tf.Example protos. A .tflite model has no method_name to say it is a
 * classifier or a regressor, so kiln applies one rule, the same for every
 * model:
 *  - Inputs: each example is one row of the batch. Model input NAME takes
 *    the example's feature NAME (else the context example's, with
 *    example_list_with_context): a float_list for a float32 or float64
 *    input, an int64_list for an integer or bool input, with exactly as
 *    many values as a row holds (the input's shape past the batch
 *    dimension, which must be fixed). bytes_list features are refused.
 *  - Regress: the model's only output, or the one named "outputs", must be
 *    float32 [batch] or [batch, 1]: row i's value is example i's
 *    regression.
 *  - Classify: the output named "scores", or the model's only output, must
 *    be float32 [batch, N]: example i gets N classes whose scores are row
 *    i; their labels are an int32/int64 output named "classes" of the same
 *    shape (as decimal text) when there is one, else "0" .. "N-1".
 * A model outside the rule is refused with FAILED_PRECONDITION saying
 * which part fails; a request that does not fit the model's inputs with
 * INVALID_ARGUMENT naming the example and feature. Batching, deadlines
 * and metrics are Predict's. Field numbers follow tensorflow_serving/apis
 * classification.proto, regression.proto, input.proto and tensorflow's
 * example/example.proto and feature.proto. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/api_common.h"
#include "serve/grpc_tfs.h"
#include "serve/tensor_proto.h"
#include "serve/tfs_common.h"

enum {
  REQ_SPEC = 1, /* ClassificationRequest and RegressionRequest */
  REQ_INPUT = 2,
  INPUT_LIST = 1, /* Input.example_list */
  INPUT_WITH_CONTEXT = 2,
  LIST_EXAMPLES = 1, /* both lists' examples */
  LIST_CONTEXT = 2,  /* ExampleListWithContext.context */
  EXAMPLE_FEATURES = 1,
  FEATURES_MAP = 1,
  FEATURE_BYTES = 1,
  FEATURE_FLOAT = 2,
  FEATURE_INT64 = 3,
  LIST_VALUE = 1,
  RESP_RESULT = 1,
  RESP_SPEC = 2,
  RESULT_ITEMS = 1, /* classifications / regressions */
  CLASSES = 1,
  CLASS_LABEL = 1,
  CLASS_SCORE = 2,
  REGRESSION_VALUE = 1,
};

typedef struct example_request {
  serve_tfs_spec spec;
  kiln_pb_reader *examples; /* each an Example message */
  int num_examples;
  kiln_pb_reader context; /* size 0: none */
  bool has_context;
} example_request;

static serve_status *malformed(const kiln_pb_field *f, const char *what) {
  return serve_error(SERVE_INVALID_ARGUMENT,
                     "%s at byte offset %zu is not a message", what, f->offset);
}

static serve_status *read_list(const kiln_pb_reader *r, const kiln_pb_field *f,
                               bool with_context, example_request *out) {
  if (f->wire_type != KILN_PB_LEN) return malformed(f, "Input's example list");
  kiln_pb_reader list = kiln_pb_nested(
      r, f, with_context ? "ExampleListWithContext" : "ExampleList");
  kiln_pb_field g;
  bool more;
  for (;;) {
    SERVE_TRY(serve_from_pb(kiln_pb_next(&list, &g, &more)));
    if (!more) return NULL;
    if (g.number == LIST_CONTEXT && with_context) {
      if (g.wire_type != KILN_PB_LEN) return malformed(&g, "context");
      out->context = kiln_pb_nested(&list, &g, "Example");
      out->has_context = true;
    }
    if (g.number != LIST_EXAMPLES) continue;
    if (g.wire_type != KILN_PB_LEN) return malformed(&g, "examples");
    /* One reader per example, each from at least 2 bytes: bounded. */
    kiln_pb_reader *grown = realloc(
        out->examples, (size_t)(out->num_examples + 1) * sizeof *out->examples);
    if (!grown) return serve_error(SERVE_INTERNAL, "out of memory");
    out->examples = grown;
    out->examples[out->num_examples++] = kiln_pb_nested(&list, &g, "Example");
  }
}

static serve_status *decode_request(const uint8_t *data, size_t len,
                                    const char *what, example_request *out) {
  memset(out, 0, sizeof *out);
  kiln_pb_reader r = kiln_pb_reader_make(data, len, what);
  kiln_pb_field f;
  bool more, has_spec = false;
  serve_status *st = NULL;
  while (!st) {
    st = serve_from_pb(kiln_pb_next(&r, &f, &more));
    if (st || !more) break;
    if (f.number == REQ_SPEC) {
      st = serve_tfs_read_spec(&r, &f, &out->spec);
      has_spec = true;
    } else if (f.number == REQ_INPUT) {
      if (f.wire_type != KILN_PB_LEN) {
        st = malformed(&f, "input");
        break;
      }
      kiln_pb_reader input = kiln_pb_nested(&r, &f, "Input");
      kiln_pb_field g;
      while (!st) {
        st = serve_from_pb(kiln_pb_next(&input, &g, &more));
        if (st || !more) break;
        if (g.number == INPUT_LIST || g.number == INPUT_WITH_CONTEXT)
          st = read_list(&input, &g, g.number == INPUT_WITH_CONTEXT, out);
      }
    }
  }
  if (!st && !has_spec)
    st = serve_error(SERVE_INVALID_ARGUMENT, "Missing ModelSpec");
  if (!st && !out->num_examples)
    st = serve_error(SERVE_INVALID_ARGUMENT, "Input is empty");
  if (st) {
    free(out->examples);
    out->examples = NULL;
  }
  return st;
}

/* The Feature message named `name` in an Example, or found false. */
static serve_status *find_feature(const kiln_pb_reader *example,
                                  const char *name, kiln_pb_reader *feature,
                                  bool *found) {
  *found = false;
  kiln_pb_reader ex = *example;
  ex.pos = 0;
  kiln_pb_field f;
  bool more;
  for (;;) {
    SERVE_TRY(serve_from_pb(kiln_pb_next(&ex, &f, &more)));
    if (!more) return NULL;
    if (f.number != EXAMPLE_FEATURES || f.wire_type != KILN_PB_LEN) continue;
    kiln_pb_reader features = kiln_pb_nested(&ex, &f, "Features");
    kiln_pb_field g;
    for (;;) {
      SERVE_TRY(serve_from_pb(kiln_pb_next(&features, &g, &more)));
      if (!more) break;
      if (g.number != FEATURES_MAP || g.wire_type != KILN_PB_LEN) continue;
      kiln_pb_reader entry = kiln_pb_nested(&features, &g, "Features.feature");
      kiln_pb_field h, value = {0};
      bool matches = false, has_value = false;
      for (;;) {
        SERVE_TRY(serve_from_pb(kiln_pb_next(&entry, &h, &more)));
        if (!more) break;
        if (h.number == 1 && h.wire_type == KILN_PB_LEN)
          matches = h.len == strlen(name) && !memcmp(h.bytes, name, h.len);
        if (h.number == 2 && h.wire_type == KILN_PB_LEN) {
          value = h;
          has_value = true;
        }
      }
      /* The last entry of a name wins, as in protobuf's maps. */
      if (matches && has_value) {
        *feature = kiln_pb_nested(&entry, &value, "Feature");
        *found = true;
      }
    }
  }
}

/* Reads the feature's values into row `row` of t (count values). */
static serve_status *read_feature(const kiln_pb_reader *feature,
                                  const char *name, int example, size_t count,
                                  serve_tensor *t, int64_t row) {
  kiln_pb_reader fr = *feature;
  kiln_pb_field f;
  bool more;
  bool want_float = t->dtype == KILN_FLOAT32 || t->dtype == KILN_FLOAT64;
  uint32_t want = want_float ? FEATURE_FLOAT : FEATURE_INT64;
  const char *list_name = want_float ? "float_list" : "int64_list";
  size_t elem = kiln_dtype_size(t->dtype);
  uint8_t *out = (uint8_t *)t->data + (size_t)row * count * elem;
  size_t n = 0;
  for (;;) {
    SERVE_TRY(serve_from_pb(kiln_pb_next(&fr, &f, &more)));
    if (!more) break;
    if (f.number == FEATURE_BYTES || (f.number != want && f.number <= 3))
      return serve_error(SERVE_INVALID_ARGUMENT,
                         "example %d: feature '%s' at byte offset %zu is a "
                         "%s; input '%s' is %s and takes a %s",
                         example, name, f.offset,
                         f.number == FEATURE_BYTES   ? "bytes_list"
                         : f.number == FEATURE_FLOAT ? "float_list"
                                                     : "int64_list",
                         name, kiln_dtype_name(t->dtype), list_name);
    if (f.number != want || f.wire_type != KILN_PB_LEN) continue;
    kiln_pb_reader list = kiln_pb_nested(&fr, &f, list_name);
    kiln_pb_field g;
    for (;;) {
      SERVE_TRY(serve_from_pb(kiln_pb_next(&list, &g, &more)));
      if (!more) break;
      if (g.number != LIST_VALUE) continue;
      /* Values one by one or packed. */
      kiln_pb_reader packed = kiln_pb_nested(&list, &g, list_name);
      bool is_packed = g.wire_type == KILN_PB_LEN;
      if (!is_packed &&
          g.wire_type != (want_float ? KILN_PB_I32 : KILN_PB_VARINT))
        return serve_error(SERVE_INVALID_ARGUMENT,
                           "example %d: feature '%s': a value at byte offset "
                           "%zu has the wrong wire type",
                           example, name, g.offset);
      if (is_packed && want_float && g.len % 4)
        return serve_error(SERVE_INVALID_ARGUMENT,
                           "example %d: feature '%s': packed floats at byte "
                           "offset %zu are not whole",
                           example, name, g.offset);
      while (is_packed ? packed.pos < packed.size : true) {
        uint64_t v = g.value;
        if (is_packed && want_float) {
          v = 0;
          for (int k = 0; k < 4; k++)
            v |= (uint64_t)packed.data[packed.pos + (size_t)k] << (8 * k);
          packed.pos += 4;
        } else if (is_packed) {
          SERVE_TRY(serve_from_pb(kiln_pb_read_varint(&packed, &v)));
        }
        if (n == count)
          return serve_error(SERVE_INVALID_ARGUMENT,
                             "example %d: feature '%s' has more than the %zu "
                             "values a row of input '%s' holds",
                             example, name, count, name);
        uint8_t *at = out + n * elem;
        if (want_float) {
          float x;
          uint32_t bits = (uint32_t)v;
          memcpy(&x, &bits, 4);
          if (t->dtype == KILN_FLOAT32) {
            memcpy(at, &x, 4);
          } else {
            double dx = x;
            memcpy(at, &dx, 8);
          }
        } else {
          int64_t s = (int64_t)v;
          bool fits = true;
          switch (t->dtype) {
            case KILN_INT8:
              fits = s >= INT8_MIN && s <= INT8_MAX;
              break;
            case KILN_UINT8:
              fits = s >= 0 && s <= UINT8_MAX;
              break;
            case KILN_INT16:
              fits = s >= INT16_MIN && s <= INT16_MAX;
              break;
            case KILN_UINT16:
              fits = s >= 0 && s <= UINT16_MAX;
              break;
            case KILN_INT32:
              fits = s >= INT32_MIN && s <= INT32_MAX;
              break;
            case KILN_UINT32:
              fits = s >= 0 && s <= (int64_t)UINT32_MAX;
              break;
            case KILN_BOOL:
              fits = s == 0 || s == 1;
              break;
            default:
              break;
          }
          if (!fits)
            return serve_error(SERVE_INVALID_ARGUMENT,
                               "example %d: feature '%s' holds %lld, outside "
                               "%s",
                               example, name, (long long)s,
                               kiln_dtype_name(t->dtype));
          /* Little-endian: the low bytes of the value are the element. */
          memcpy(at, &v, elem);
        }
        n++;
        if (!is_packed) break;
      }
    }
  }
  if (n != count)
    return serve_error(SERVE_INVALID_ARGUMENT,
                       "example %d: feature '%s' has %zu values; a row of "
                       "input '%s' holds %zu",
                       example, name, n, name, count);
  return NULL;
}

/* The model's inputs filled from the examples. */
static serve_status *build_inputs(serve_version *v, const example_request *req,
                                  size_t request_len, serve_tensor *inputs) {
  /* A context feature serves every example: the tensors are bounded as
   * Predict's filled ones are. */
  size_t limit = request_len <= SIZE_MAX / 64 ? request_len * 64 : SIZE_MAX;
  if (limit < SERVE_TFS_MIN_FILL_BYTES) limit = SERVE_TFS_MIN_FILL_BYTES;
  int num_inputs = kiln_model_num_inputs(v->kmodel);
  for (int i = 0; i < num_inputs; i++) {
    kiln_tensor_info info;
    SERVE_TRY(serve_from_kiln(kiln_model_input_info(v->kmodel, i, &info)));
    bool floats = info.dtype == KILN_FLOAT32 || info.dtype == KILN_FLOAT64;
    bool ints = info.dtype == KILN_INT8 || info.dtype == KILN_UINT8 ||
                info.dtype == KILN_INT16 || info.dtype == KILN_UINT16 ||
                info.dtype == KILN_INT32 || info.dtype == KILN_UINT32 ||
                info.dtype == KILN_INT64 || info.dtype == KILN_UINT64 ||
                info.dtype == KILN_BOOL;
    if (!floats && !ints)
      return serve_error(SERVE_FAILED_PRECONDITION,
                         "input '%s' is %s, which no tf.Example feature "
                         "carries; use Predict",
                         info.name, kiln_dtype_name(info.dtype));
    size_t count = 1;
    for (int d = 1; d < info.rank; d++) {
      if (info.dims[d] < 0)
        return serve_error(SERVE_FAILED_PRECONDITION,
                           "input '%s' has a dynamic dimension %d; Classify "
                           "and Regress need every dimension past the batch "
                           "fixed",
                           info.name, d);
      count *= (size_t)info.dims[d];
    }
    if (info.rank < 1 || count > ((size_t)1 << 28))
      return serve_error(SERVE_FAILED_PRECONDITION,
                         "input '%s' has no batch dimension (or rows too "
                         "large to read from examples); use Predict",
                         info.name);
    /* Every example must give the row's values, each at least a byte of
     * the request: what is allocated is bounded by the request (the
     * counts are checked before the values are read). */
    kiln_pb_reader *features =
        calloc((size_t)req->num_examples, sizeof *features);
    if (!features) return serve_error(SERVE_INTERNAL, "out of memory");
    serve_status *st = NULL;
    for (int e = 0; !st && e < req->num_examples; e++) {
      bool found;
      st = find_feature(&req->examples[e], info.name, &features[e], &found);
      if (!st && !found && req->has_context)
        st = find_feature(&req->context, info.name, &features[e], &found);
      if (!st && !found)
        st = serve_error(SERVE_INVALID_ARGUMENT,
                         "example %d has no feature '%s' (model input)", e,
                         info.name);
      if (!st && features[e].size < count)
        st = serve_error(SERVE_INVALID_ARGUMENT,
                         "example %d: feature '%s' is too short to hold the "
                         "%zu values a row of input '%s' holds",
                         e, info.name, count, info.name);
    }
    serve_tensor *t = &inputs[i];
    t->dtype = info.dtype;
    t->rank = info.rank;
    t->dims[0] = req->num_examples;
    for (int d = 1; d < info.rank; d++) t->dims[d] = info.dims[d];
    t->nbytes = (size_t)req->num_examples * count * kiln_dtype_size(info.dtype);
    if (!st && t->nbytes > limit)
      st = serve_error(SERVE_INVALID_ARGUMENT,
                       "input '%s' from %d examples takes %zu bytes, more "
                       "than a request of this size may ask for (%zu)",
                       info.name, req->num_examples, t->nbytes, limit);
    if (!st && !(t->data = calloc(1, t->nbytes ? t->nbytes : 1)))
      st = serve_error(SERVE_INTERNAL, "out of memory");
    for (int e = 0; !st && e < req->num_examples; e++)
      st = read_feature(&features[e], info.name, e, count, t, e);
    free(features);
    if (st) return st;
  }
  return serve_tfs_check_inputs(v, inputs, num_inputs);
}

/* Which outputs answer, by the rule above; -1 where none. */
typedef struct example_outputs {
  bool classify;
  int scores;  /* Regress: the value output */
  int classes; /* Classify only */
} example_outputs;

static int output_named(serve_version *v, const char *name) {
  int n = kiln_model_num_outputs(v->kmodel);
  for (int o = 0; o < n; o++) {
    kiln_tensor_info info;
    kiln_status *k = kiln_model_output_info(v->kmodel, o, &info);
    if (k) {
      kiln_status_free(k);
      continue;
    }
    if (!strcmp(info.name, name)) return o;
  }
  return -1;
}

static serve_status *choose_outputs(serve_version *v, bool classify,
                                    example_outputs *out) {
  out->classify = classify;
  out->classes = -1;
  int n = kiln_model_num_outputs(v->kmodel);
  out->scores = output_named(v, classify ? "scores" : "outputs");
  if (out->scores < 0 && n == 1) out->scores = 0;
  if (out->scores < 0)
    return serve_error(SERVE_FAILED_PRECONDITION,
                       "%s needs the model's only output or one named '%s'; "
                       "this model has %d outputs and none is named so: use "
                       "Predict",
                       classify ? "Classify" : "Regress",
                       classify ? "scores" : "outputs", n);
  kiln_tensor_info info;
  SERVE_TRY(
      serve_from_kiln(kiln_model_output_info(v->kmodel, out->scores, &info)));
  bool shape_ok =
      classify ? info.rank == 2
               : info.rank == 1 || (info.rank == 2 &&
                                    (info.dims[1] == 1 || info.dims[1] < 0));
  if (info.dtype != KILN_FLOAT32 || !shape_ok)
    return serve_error(SERVE_FAILED_PRECONDITION,
                       "%s needs output '%s' to be float32 %s; it is %s of "
                       "rank %d: use Predict",
                       classify ? "Classify" : "Regress", info.name,
                       classify ? "[batch, classes]" : "[batch] or [batch, 1]",
                       kiln_dtype_name(info.dtype), info.rank);
  if (classify) {
    out->classes = output_named(v, "classes");
    if (out->classes == out->scores) out->classes = -1;
    if (out->classes >= 0) {
      kiln_tensor_info c;
      SERVE_TRY(
          serve_from_kiln(kiln_model_output_info(v->kmodel, out->classes, &c)));
      if ((c.dtype != KILN_INT32 && c.dtype != KILN_INT64) || c.rank != 2)
        return serve_error(SERVE_FAILED_PRECONDITION,
                           "Classify reads output 'classes' as int32 or int64 "
                           "[batch, classes] labels; it is %s of rank %d",
                           kiln_dtype_name(c.dtype), c.rank);
    }
  }
  return NULL;
}

static serve_status *write_result(const serve_job *job,
                                  const example_outputs *which,
                                  kiln_pb_writer *w) {
  const serve_tensor *scores = &job->outputs[which->scores];
  int64_t batch = job->num_inputs ? job->inputs[0].dims[0] : 0;
  bool shape_ok =
      scores->rank >= 1 && scores->dims[0] == batch &&
      (which->classify
           ? scores->rank == 2
           : scores->rank == 1 || (scores->rank == 2 && scores->dims[1] == 1));
  const serve_tensor *classes =
      which->classes >= 0 ? &job->outputs[which->classes] : NULL;
  if (classes && (classes->rank != 2 || classes->dims[0] != batch ||
                  classes->dims[1] != scores->dims[1]))
    shape_ok = false;
  if (!shape_ok)
    return serve_error(SERVE_FAILED_PRECONDITION,
                       "the model's outputs for %lld examples do not have "
                       "the shape %s reads",
                       (long long)batch,
                       which->classify ? "Classify" : "Regress");
  const float *values = scores->data;
  size_t result = kiln_pb_begin(w, RESP_RESULT);
  int64_t per_row = which->classify ? scores->dims[1] : 1;
  for (int64_t i = 0; i < batch; i++) {
    size_t item = kiln_pb_begin(w, RESULT_ITEMS);
    if (!which->classify) {
      kiln_pb_put_float(w, REGRESSION_VALUE, values[i]);
    } else {
      for (int64_t c = 0; c < per_row; c++) {
        char label[32];
        int64_t id = c;
        if (classes && classes->dtype == KILN_INT64)
          memcpy(&id, (const uint8_t *)classes->data + (i * per_row + c) * 8,
                 8);
        if (classes && classes->dtype == KILN_INT32) {
          int32_t small;
          memcpy(&small, (const uint8_t *)classes->data + (i * per_row + c) * 4,
                 4);
          id = small;
        }
        snprintf(label, sizeof label, "%lld", (long long)id);
        size_t cls = kiln_pb_begin(w, CLASSES);
        kiln_pb_put_string(w, CLASS_LABEL, label);
        kiln_pb_put_float(w, CLASS_SCORE, values[i * per_row + c]);
        kiln_pb_end(w, cls);
      }
    }
    kiln_pb_end(w, item);
  }
  kiln_pb_end(w, result);
  return NULL;
}

static void example_done(serve_job *job) {
  serve_grpc_call *call = job->context;
  example_outputs *which = call->handler_state;
  call->handler_state = NULL;
  kiln_pb_writer w = {0};
  serve_status *st = serve_grpc_tfs_job_error(job);
  if (!st) st = write_result(job, which, &w);
  if (!st)
    serve_tfs_write_spec(&w, RESP_SPEC, call->model, job->version->number,
                         SERVE_TFS_SIGNATURE);
  free(which);
  serve_grpc_tfs_finish(call, job, st, &w);
}

static void handle_examples(serve_grpc_call *call, bool classify) {
  call->api = classify ? "classify" : "regress";
  example_request req;
  serve_status *st = decode_request(
      call->request, call->request_len,
      classify ? "ClassificationRequest" : "RegressionRequest", &req);
  serve_version *v = NULL;
  if (!st) st = serve_grpc_tfs_acquire(call, &req.spec, &v);
  example_outputs *which = NULL;
  if (!st && !(which = calloc(1, sizeof *which)))
    st = serve_error(SERVE_INTERNAL, "out of memory");
  if (!st) st = choose_outputs(v, classify, which);
  int num_inputs = v ? kiln_model_num_inputs(v->kmodel) : 0;
  serve_tensor *inputs = NULL;
  if (!st && !(inputs = calloc((size_t)num_inputs + 1, sizeof *inputs)))
    st = serve_error(SERVE_INTERNAL, "out of memory");
  if (!st) st = build_inputs(v, &req, call->request_len, inputs);
  free(req.examples);
  serve_grpc_tfs_run(call, st, v, inputs, num_inputs, example_done, which,
                     free);
}

void serve_grpc_tfs_classify(serve_grpc_call *call) {
  handle_examples(call, true);
}

void serve_grpc_tfs_regress(serve_grpc_call *call) {
  handle_examples(call, false);
}
