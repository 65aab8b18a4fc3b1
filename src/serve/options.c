/* options.c - the table of `kiln serve` settings and their parsing. */
#include "serve/options.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

typedef enum option_kind { OPT_STRING, OPT_INT, OPT_BOOL } option_kind;

typedef struct option_def {
  const char *name;
  option_kind kind;
  size_t offset;
  const char *fallback; /* default, as text */
  int64_t min, max;     /* for OPT_INT */
  const char *help;
} option_def;

#define FIELD(f) offsetof(serve_options, f)
#define NO_LIMIT INT64_MIN, INT64_MAX

static const option_def defs[] = {
    {"model_name", OPT_STRING, FIELD(model_name), "default", NO_LIMIT,
     "name of the model served from --model_base_path"},
    {"model_base_path", OPT_STRING, FIELD(model_base_path), "", NO_LIMIT,
     "folder of integer-named version folders, each holding model.tflite, "
     "model.keras or model.h5"},
    {"model_config_file", OPT_STRING, FIELD(model_config_file), "", NO_LIMIT,
     "TF Serving model_config_list text file, for several models (replaces "
     "--model_name and --model_base_path)"},
    {"file_system_poll_wait_seconds", OPT_INT,
     FIELD(file_system_poll_wait_seconds), "1", -1, 86400,
     "seconds between scans for new and removed versions; 0 scans once at "
     "start, -1 never"},
    {"enable_model_warmup", OPT_BOOL, FIELD(enable_model_warmup), "true",
     NO_LIMIT,
     "run each new version once before it becomes AVAILABLE, so first "
     "requests are not slow"},
    {"host", OPT_STRING, FIELD(host), "", NO_LIMIT,
     "address to listen on: IPv4, IPv6 (brackets optional) or a host name; "
     "empty (the default, as TF Serving): every interface, IPv6 and IPv4; "
     "127.0.0.1 for local clients only"},
    {"rest_api_port", OPT_INT, FIELD(rest_api_port), "8501", 0, 65535,
     "HTTP port of the TF Serving REST and KServe v2 APIs; 0: off"},
    {"port", OPT_INT, FIELD(grpc_port), "8500", 0, 65535,
     "gRPC port (TF Serving's), on --host as REST: TF Serving's "
     "PredictionService and ModelService, KServe v2's GRPCInferenceService "
     "and grpc.health.v1.Health/Check; 0: off"},
    {"grpc_port", OPT_INT, FIELD(kserve_grpc_port), "0", 0, 65535,
     "a second gRPC port serving the same services as --port (Triton's is "
     "8001), for KServe clients; 0: off"},
    {"grpc_socket_path", OPT_STRING, FIELD(grpc_socket_path), "", NO_LIMIT,
     "also serve gRPC on this UNIX socket (TF Serving's flag), e.g. for a "
     "sidecar on the same host; empty: none"},
    {"grpc_max_threads", OPT_INT, FIELD(grpc_max_threads), "0", 0, 1024,
     "threads reading and answering gRPC calls (inference itself runs on "
     "--num_workers); 0: one per core"},
    {"grpc_channel_arguments", OPT_STRING, FIELD(grpc_channel_arguments), "",
     NO_LIMIT,
     "gRPC server arguments as key=value,key=value (integers, or text), "
     "e.g. grpc.max_concurrent_streams=64; they override kiln's"},
    {"bearer_token_file", OPT_STRING, FIELD(bearer_token_file), "", NO_LIMIT,
     "file whose first line is a token every request must carry as "
     "'Authorization: Bearer TOKEN' (HTTP header or gRPC metadata); health "
     "probes are exempt; empty: no token"},
    {"ssl_config_file", OPT_STRING, FIELD(ssl_config_file), "", NO_LIMIT,
     "TF Serving's SSLConfig text file (server_key, server_cert: PEM text; "
     "custom_ca and client_verify for client certificates): REST and gRPC "
     "serve TLS; empty: plaintext"},
    {"tensorflow_intra_op_parallelism", OPT_INT,
     FIELD(tensorflow_intra_op_parallelism), "0", 0, 1024,
     "TF Serving's threads per op; above 0 it sets --session_threads"},
    {"max_num_load_retries", OPT_INT, FIELD(max_num_load_retries), "5", 0,
     1000000,
     "times a version that failed to load is tried again (on later scans, "
     "--load_retry_interval_micros apart) before it is given up"},
    {"load_retry_interval_micros", OPT_INT, FIELD(load_retry_interval_micros),
     "60000000", 0, (int64_t)86400 * 1000000,
     "microseconds between a failed load and its next try"},
    {"model_control_mode", OPT_STRING, FIELD(model_control_mode), "", NO_LIMIT,
     "none, poll or explicit (Triton's modes): the KServe repository load "
     "and unload API works only in explicit; default none for "
     "--model_base_path, poll for --model_config_file"},
    {"model_repository", OPT_STRING, FIELD(model_repository), "", NO_LIMIT,
     "with --model_control_mode=explicit, a folder whose model folders a "
     "load may name (besides the configured base paths)"},
    {"rest_api_num_threads", OPT_INT, FIELD(rest_api_num_threads), "0", 0, 1024,
     "threads reading and writing HTTP; 0: one per core"},
    {"rest_api_timeout_in_ms", OPT_INT, FIELD(rest_api_timeout_in_ms), "30000",
     0, 86400000,
     "deadline of a request that sets none; past it, it is answered 504 (0: "
     "none)"},
    {"max_body_bytes", OPT_INT, FIELD(max_body_bytes), "67108864", 1024,
     (int64_t)1 << 40, "largest request body accepted; larger ones get 413"},
    {"client_timeout_seconds", OPT_INT, FIELD(client_timeout_seconds), "30", 1,
     3600, "a connection idle this long (a slow client) is closed"},
    {"max_connections", OPT_INT, FIELD(max_connections), "0", 0, 1 << 24,
     "open connections accepted at once; 0: derived from the open-file "
     "limit (raised to its hard limit at start)"},
    {"max_connections_per_client", OPT_INT, FIELD(max_connections_per_client),
     "0", 0, 1 << 24,
     "open connections one client address may hold; 0: a quarter of "
     "--max_connections"},
    {"request_header_timeout_ms", OPT_INT, FIELD(request_header_timeout_ms),
     "30000", 0, 86400000,
     "a request's headers must arrive within this of the connection's "
     "start, however steadily they trickle (on a kept-alive connection: of "
     "the next request's first byte); else 408 and the connection is "
     "closed (0: no limit)"},
    {"request_body_timeout_ms", OPT_INT, FIELD(request_body_timeout_ms),
     "120000", 0, 86400000,
     "a request's body must arrive within this of its headers; else 408 and "
     "the connection is closed (0: no limit)"},
    {"response_write_timeout_ms", OPT_INT, FIELD(response_write_timeout_ms),
     "120000", 0, 86400000,
     "a client must take its whole answer within this of its being ready "
     "(as long as a body may take: answers can be as large); else the "
     "connection is reset (0: no limit)"},
    {"access_log", OPT_STRING, FIELD(access_log), "", NO_LIMIT,
     "file to append one JSON line per request to; '-' for stderr; empty "
     "for none"},
    {"num_workers", OPT_INT, FIELD(num_workers), "0", 0, 1024,
     "inference threads, each running its own sessions; 0: one per core"},
    {"session_threads", OPT_INT, FIELD(session_threads), "1", 1, 1024,
     "threads each inference uses (kiln's intra-op threads); keep "
     "num_workers x session_threads within the cores"},
    {"max_queued_requests", OPT_INT, FIELD(max_queued_requests), "1024", 1,
     1 << 24,
     "requests a model may have waiting; more are refused at once with 503"},
    {"enable_batching", OPT_BOOL, FIELD(enable_batching), "false", NO_LIMIT,
     "merge concurrent requests into batches (dynamic batching)"},
    {"batching_parameters_file", OPT_STRING, FIELD(batching_parameters_file),
     "", NO_LIMIT, "TF Serving BatchingParameters text file"},
    {"enable_per_model_batching_parameters", OPT_BOOL,
     FIELD(enable_per_model_batching_parameters), "true", NO_LIMIT,
     "read batching_params.pbtxt from a model's folder when present"},
    {"monitoring_config_file", OPT_STRING, FIELD(monitoring_config_file), "",
     NO_LIMIT,
     "TF Serving MonitoringConfig text file; enables Prometheus metrics at "
     "its path (they are always at /metrics)"},
};
enum { NUM_DEFS = sizeof defs / sizeof defs[0] };

/* Flags of TF Serving (tensorflow_serving/model_servers/main.cc) that
 * mean nothing to kiln: accepted so existing command lines start, each
 * given one logged warning at start with the reason. A boolean given
 * alone takes no value from the next argument. */
#define NO_TENSORFLOW "kiln runs .tflite models, not TensorFlow"
static const struct {
  const char *name;
  bool boolean;
  const char *note; /* "--name: why", shown at start */
} ignored[] = {
    {"use_alts_credentials", true,
     "--use_alts_credentials: ALTS is Google Cloud's; use --ssl_config_file"},
    {"enable_grpc_healthcheck_service", true,
     "--enable_grpc_healthcheck_service: grpc.health.v1.Health/Check is "
     "always served"},
    {"enable_serialization_as_tensor_content", true,
     "--enable_serialization_as_tensor_content: kiln chooses how response "
     "tensors are encoded"},
    {"tensorflow_session_parallelism", false,
     "--tensorflow_session_parallelism: " NO_TENSORFLOW
     "; use --num_workers and --session_threads"},
    {"tensorflow_inter_op_parallelism", false,
     "--tensorflow_inter_op_parallelism: kiln runs a model's operators one "
     "after another; concurrent requests run on --num_workers"},
    {"tensorflow_session_config_file", false,
     "--tensorflow_session_config_file: " NO_TENSORFLOW},
    {"platform_config_file", false, "--platform_config_file: " NO_TENSORFLOW},
    {"per_process_gpu_memory_fraction", false,
     "--per_process_gpu_memory_fraction: kiln runs on the CPU"},
    {"saved_model_tags", false,
     "--saved_model_tags: kiln serves model.tflite, not SavedModel"},
    {"prefer_tflite_model", true,
     "--prefer_tflite_model: kiln always serves model.tflite"},
    {"use_tflite_model", true,
     "--use_tflite_model: kiln always serves model.tflite"},
    {"num_tflite_pools", false,
     "--num_tflite_pools: sessions per version follow --num_workers"},
    {"num_tflite_interpreters_per_pool", false,
     "--num_tflite_interpreters_per_pool: sessions per version follow "
     "--num_workers"},
    {"num_load_threads", false,
     "--num_load_threads: one poller thread loads versions, off the "
     "request path"},
    {"num_unload_threads", false,
     "--num_unload_threads: the poller thread frees versions"},
    {"flush_filesystem_caches", true,
     "--flush_filesystem_caches: the heap is trimmed after each unload"},
    {"model_config_file_poll_wait_seconds", false,
     "--model_config_file_poll_wait_seconds: --model_config_file is read "
     "once at start"},
    {"allow_version_labels_for_unavailable_models", true,
     "--allow_version_labels_for_unavailable_models: kiln has no version "
     "labels"},
    {"enable_signature_method_name_check", true,
     "--enable_signature_method_name_check: a .tflite signature has no "
     "method name"},
    {"remove_unused_fields_from_bundle_metagraph", true,
     "--remove_unused_fields_from_bundle_metagraph: " NO_TENSORFLOW},
    {"num_request_iterations_for_warmup", false,
     "--num_request_iterations_for_warmup: warm-up runs each session once"},
    {"xla_cpu_compilation_enabled", true,
     "--xla_cpu_compilation_enabled: " NO_TENSORFLOW},
    {"xla_gpu_compilation_enabled", true,
     "--xla_gpu_compilation_enabled: " NO_TENSORFLOW},
    {"enable_profiler", true,
     "--enable_profiler: TensorFlow's profiler service is gRPC"},
    {"thread_pool_factory_config_file", false,
     "--thread_pool_factory_config_file: " NO_TENSORFLOW},
    {"mixed_precision", false, "--mixed_precision: " NO_TENSORFLOW},
    {"skip_initialize_tpu", true,
     "--skip_initialize_tpu: kiln runs on the CPU"},
    {"rest_api_enable_cors_support", true,
     "--rest_api_enable_cors_support: kiln sends no CORS headers"},
};
enum { NUM_IGNORED = sizeof ignored / sizeof ignored[0] };
_Static_assert(NUM_IGNORED <= sizeof((serve_options *)0)->ignored_notes /
                                  sizeof(const char *),
               "every ignored flag has room for its note");

static bool set_value(serve_options *o, const option_def *d, const char *text,
                      char *err, size_t size) {
  char *field = (char *)o + d->offset;
  switch (d->kind) {
    case OPT_STRING:
      memcpy(field, &text, sizeof text);
      return true;
    case OPT_BOOL: {
      bool value;
      if (!strcmp(text, "true") || !strcmp(text, "1")) {
        value = true;
      } else if (!strcmp(text, "false") || !strcmp(text, "0")) {
        value = false;
      } else {
        snprintf(err, size, "--%s takes true or false, not '%s'", d->name,
                 text);
        return false;
      }
      memcpy(field, &value, sizeof value);
      return true;
    }
    case OPT_INT: {
      char *end;
      errno = 0;
      long long v = strtoll(text, &end, 10);
      if (errno || end == text || *end || v < d->min || v > d->max) {
        snprintf(err, size, "--%s takes an integer in [%lld, %lld], not '%s'",
                 d->name, (long long)d->min, (long long)d->max, text);
        return false;
      }
      int64_t value = v;
      memcpy(field, &value, sizeof value);
      return true;
    }
  }
  return false;
}

void serve_options_init(serve_options *o) {
  memset(o, 0, sizeof *o);
  /* Defaults always parse, but the buffer is sized for any message so
   * that gcc's -Wformat-truncation sees no possible cut. */
  char unused[256];
  for (int i = 0; i < NUM_DEFS; i++)
    set_value(o, &defs[i], defs[i].fallback, unused, sizeof unused);
}

/* Keeps one note per ignored flag, however often it is given. */
static void note_ignored(serve_options *o, const char *note) {
  enum { CAPACITY = sizeof o->ignored_notes / sizeof o->ignored_notes[0] };
  for (int i = 0; i < o->num_ignored_notes; i++)
    if (o->ignored_notes[i] == note) return;
  if (o->num_ignored_notes < CAPACITY)
    o->ignored_notes[o->num_ignored_notes++] = note;
}

bool serve_options_parse(serve_options *o, int argc, char **argv, char *err,
                         size_t size) {
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (strncmp(arg, "--", 2) != 0) {
      snprintf(err, size, "unexpected argument '%s' (flags are --name=value)",
               arg);
      return false;
    }
    arg += 2;
    const char *eq = strchr(arg, '=');
    size_t name_len = eq ? (size_t)(eq - arg) : strlen(arg);
    const option_def *d = NULL;
    for (int k = 0; k < NUM_DEFS && !d; k++)
      if (strlen(defs[k].name) == name_len &&
          !strncmp(defs[k].name, arg, name_len))
        d = &defs[k];
    bool skip = false, skip_boolean = false;
    for (int k = 0; k < NUM_IGNORED && !d && !skip; k++)
      if (strlen(ignored[k].name) == name_len &&
          !strncmp(ignored[k].name, arg, name_len)) {
        skip = true;
        skip_boolean = ignored[k].boolean;
        note_ignored(o, ignored[k].note);
      }
    if (!d && !skip) {
      snprintf(err, size, "unknown flag --%.*s (see kiln serve --help)",
               (int)name_len, arg);
      return false;
    }
    const char *value = eq ? eq + 1 : NULL;
    if (!value) {
      if ((d && d->kind == OPT_BOOL) || skip_boolean) {
        value = "true";
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        snprintf(err, size, "--%.*s needs a value", (int)name_len, arg);
        return false;
      }
    }
    if (d && !set_value(o, d, value, err, size)) return false;
  }
  return true;
}

void serve_options_usage(FILE *out) {
  for (int i = 0; i < NUM_DEFS; i++) {
    const option_def *d = &defs[i];
    fprintf(out, "  --%s=%s%s\n      %s", d->name,
            d->kind == OPT_INT    ? "N"
            : d->kind == OPT_BOOL ? "BOOL"
                                  : "TEXT",
            "", d->help);
    if (d->fallback[0]) fprintf(out, " (default %s)", d->fallback);
    fprintf(out, "\n");
  }
  fprintf(out, "\n  Accepted and ignored, for TF Serving command lines:");
  for (int i = 0; i < NUM_IGNORED; i++) fprintf(out, " --%s", ignored[i].name);
  fprintf(out, "\n");
}
