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
     "folder of integer-named version folders, each holding model.tflite"},
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
    {"host", OPT_STRING, FIELD(host), "127.0.0.1", NO_LIMIT,
     "address to listen on; 0.0.0.0 for every interface"},
    {"rest_api_port", OPT_INT, FIELD(rest_api_port), "8501", 1, 65535,
     "HTTP port of the TF Serving REST and KServe v2 APIs"},
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
     "start, however steadily they trickle (on a kept-alive connection: "
     "of the previous answer, plus --client_timeout_seconds); else 408 and "
     "the connection is closed (0: no limit)"},
    {"request_body_timeout_ms", OPT_INT, FIELD(request_body_timeout_ms),
     "120000", 0, 86400000,
     "a request's body must arrive within this of its headers; else 408 and "
     "the connection is closed (0: no limit)"},
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

/* Flags of TF Serving that kiln accepts and ignores, so existing command
 * lines start; each has no meaning here (no gRPC, no TensorFlow). A
 * boolean given alone takes no value from the next argument. */
static const struct {
  const char *name;
  bool boolean;
} ignored[] = {
    {"port", false},
    {"grpc_socket_path", false},
    {"tensorflow_session_parallelism", false},
    {"tensorflow_intra_op_parallelism", false},
    {"tensorflow_inter_op_parallelism", false},
    {"model_config_file_poll_wait_seconds", false},
    {"rest_api_enable_cors_support", true},
};
enum { NUM_IGNORED = sizeof ignored / sizeof ignored[0] };

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
