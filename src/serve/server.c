/* server.c - `kiln serve`: reads the options, loads the models, starts
 * the inference workers and the HTTP front, and on SIGTERM or SIGINT
 * stops accepting, finishes what is in flight, and exits. */
#include "serve/server.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kiln.h"
#include "serve/grpc_front.h"
#include "serve/pbtxt.h"
#include "serve/security.h"

bool serve_http_start(serve_server *s, char *err, size_t err_size);
void serve_http_stop_accepting(serve_server *s);
bool serve_http_drain(serve_server *s, double timeout_ms);
void serve_http_stop(serve_server *s);

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

static void on_batch(void *context, const char *model, int64_t size,
                     int64_t padded) {
  serve_server *s = context;
  serve_metrics_batch(s->metrics, model, size, padded);
}

static void on_load(void *context, const char *model, int64_t version, bool ok,
                    double ms) {
  serve_server *s = context;
  serve_metrics_load(s->metrics, model, version, ok, ms);
}

/* TF Serving's MonitoringConfig: prometheus_config { enable: true
 * path: "..." }. */
static serve_status *read_monitoring(serve_server *s, const char *path,
                                     char **out_path) {
  char err[512];
  pbtxt_node *root = pbtxt_parse_file(path, err, sizeof err);
  if (!root) return serve_error(SERVE_INVALID_ARGUMENT, "%s", err);
  serve_status *st = NULL;
  const pbtxt_node *prom = pbtxt_find(root, "prometheus_config", NULL);
  bool enable = false;
  const pbtxt_node *f = prom ? pbtxt_find(prom, "enable", NULL) : NULL;
  if (f && !pbtxt_bool(f, &enable, err, sizeof err))
    st = serve_error(SERVE_INVALID_ARGUMENT, "%s: %s", path, err);
  const pbtxt_node *p = prom ? pbtxt_find(prom, "path", NULL) : NULL;
  const char *text = p ? pbtxt_string(p, err, sizeof err) : NULL;
  if (!st && p && !text)
    st = serve_error(SERVE_INVALID_ARGUMENT, "%s: %s", path, err);
  if (!st && enable)
    *out_path =
        strdup(text && text[0] ? text : "/monitoring/prometheus/metrics");
  (void)s;
  pbtxt_free(root);
  return st;
}

static void usage(FILE *out) {
  fprintf(
      out,
      "usage: kiln serve --model_base_path=DIR [--model_name=NAME] "
      "[--rest_api_port=8501] ...\n"
      "       kiln serve --model_config_file=FILE ...\n\n"
      "Serves models over TF Serving's REST API (/v1/models/NAME:predict) "
      "and KServe v2\n(/v2/models/NAME/infer). Under a base path, each "
      "integer-named folder is a\nversion holding model.tflite, model.keras or "
      "model.h5; new "
      "versions are picked up while serving.\n\nFlags:\n");
  serve_options_usage(out);
}

/* TF Serving's flags beyond kiln's REST server: what cannot be honoured
 * safely stops the start (nothing to serve), what is only missing is
 * said once at start (gRPC, flags that mean nothing here). */
static bool check_tf_serving_flags(serve_options *o) {
  if (o->rest_api_port == 0 && o->grpc_port == 0 && o->kserve_grpc_port == 0) {
    fprintf(stderr,
            "kiln serve: --rest_api_port=0 and --port=0: nothing would "
            "serve; give a REST or a gRPC port\n");
    return false;
  }
  for (int i = 0; i < o->num_ignored_notes; i++)
    serve_log(NULL, "warning: ignoring %s", o->ignored_notes[i]);
  if (o->tensorflow_intra_op_parallelism > 0) {
    o->session_threads = o->tensorflow_intra_op_parallelism;
    serve_log(NULL,
              "--tensorflow_intra_op_parallelism=%lld: each inference "
              "runs on %lld threads (--session_threads)",
              (long long)o->tensorflow_intra_op_parallelism,
              (long long)o->session_threads);
  }
  return true;
}

static int fail(serve_server *s, serve_status *st) {
  fprintf(stderr, "kiln serve: %s\n", serve_status_message(st));
  serve_status_free(st);
  (void)s;
  return 1;
}

int serve_main(int argc, char **argv) {
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(argv[i], "--version") ||
               !strcmp(argv[i], "--version=true")) {
      printf("kiln serve %s\n", KILN_VERSION); /* TF Serving's --version */
      return 0;
    }
  serve_server server, *s = &server;
  memset(s, 0, sizeof *s);
  serve_options_init(&s->options);
  char err[512];
  if (!serve_options_parse(&s->options, argc, argv, err, sizeof err)) {
    fprintf(stderr, "kiln serve: %s\n", err);
    return 2;
  }
  serve_options *o = &s->options;
  if (!o->model_config_file[0] && !o->model_base_path[0]) {
    fprintf(stderr,
            "kiln serve: give --model_base_path (with --model_name) or "
            "--model_config_file\n");
    return 2;
  }
  if (!check_tf_serving_flags(o)) return 2;
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  if (cores < 1) cores = 1;
  if (!o->num_workers) o->num_workers = cores;
  if (!o->rest_api_num_threads) o->rest_api_num_threads = cores;
  s->started_ms = serve_now_ms();
  pthread_mutex_init(&s->log_lock, NULL);
  /* More compute threads than cores make the sessions' pools wait on each
   * other (MobileNetV2 batches: 2 x 2 threads on 2 cores served 341
   * images/s, 1 x 2 or 2 x 1 about 540). */
  if (o->num_workers * o->session_threads > cores)
    serve_log(NULL,
              "warning: --num_workers=%lld x --session_threads=%lld is more "
              "compute threads than the %ld cores; for latency use "
              "--num_workers=1 --session_threads=%ld, for throughput "
              "--session_threads=1",
              (long long)o->num_workers, (long long)o->session_threads, cores,
              cores);
  serve_batching_defaults(&s->batching);
  serve_status *st = NULL;
  if (o->batching_parameters_file[0] && !o->enable_batching)
    st = serve_error(SERVE_INVALID_ARGUMENT,
                     "--batching_parameters_file needs --enable_batching");
  if (!st && o->enable_batching) {
    s->batching.enabled = true;
    if (o->batching_parameters_file[0])
      st = serve_batching_parse_file(o->batching_parameters_file, &s->batching);
  }
  char *prom = NULL;
  if (!st && o->monitoring_config_file[0])
    st = read_monitoring(s, o->monitoring_config_file, &prom);
  s->prometheus_path = prom;
  if (!st && o->access_log[0]) {
    s->access_log =
        !strcmp(o->access_log, "-") ? stderr : fopen(o->access_log, "a");
    if (!s->access_log)
      st = serve_error(SERVE_INVALID_ARGUMENT, "cannot open --access_log=%s",
                       o->access_log);
  }
  /* Triton's default follows what was given: one model is fixed (none),
   * a config file of models is what kiln polled before modes (poll). */
  serve_control_mode mode =
      o->model_config_file[0] ? SERVE_CONTROL_POLL : SERVE_CONTROL_NONE;
  if (!strcmp(o->model_control_mode, "none")) {
    mode = SERVE_CONTROL_NONE;
  } else if (!strcmp(o->model_control_mode, "poll")) {
    mode = SERVE_CONTROL_POLL;
  } else if (!strcmp(o->model_control_mode, "explicit")) {
    mode = SERVE_CONTROL_EXPLICIT;
  } else if (o->model_control_mode[0] && !st) {
    st = serve_error(SERVE_INVALID_ARGUMENT,
                     "--model_control_mode takes none, poll or explicit, not "
                     "'%s'",
                     o->model_control_mode);
  }
  if (o->model_repository[0] && mode != SERVE_CONTROL_EXPLICIT)
    serve_log(s,
              "warning: --model_repository is used only with "
              "--model_control_mode=explicit");
  if (!st && o->bearer_token_file[0])
    st = serve_bearer_token_read(o->bearer_token_file, &s->bearer_token);
  if (!st && o->ssl_config_file[0]) {
    /* One SSLConfig for both fronts: REST's TLS (http_security.c) and
     * gRPC's. Checked with GnuTLS here, so a bad key or certificate stops
     * the start, naming the file and field, before either listens. */
    s->tls = calloc(1, sizeof *s->tls);
    st = s->tls ? serve_tls_config_read(o->ssl_config_file, s->tls)
                : serve_error(SERVE_INTERNAL, "out of memory");
    if (!st) st = serve_tls_config_check(s->tls, o->ssl_config_file);
    if (st) {
      serve_tls_config_free(s->tls);
      free(s->tls);
      s->tls = NULL;
    }
  }
  if (st) return fail(s, st);
  s->metrics = serve_metrics_create();
  serve_repo_config rc = {
      .session_threads = (int)o->session_threads,
      .warm_sessions = (int)o->num_workers,
      .warmup = o->enable_model_warmup,
      .poll_seconds = o->file_system_poll_wait_seconds,
      .max_load_retries = (int)o->max_num_load_retries,
      .load_retry_interval_us = o->load_retry_interval_micros,
      .control_mode = mode,
      .model_repository = o->model_repository,
      .default_batching = &s->batching,
      .per_model_batching = o->enable_per_model_batching_parameters,
      .log = serve_log,
      .log_context = s,
      .on_load = on_load,
  };
  st = serve_repo_create(&rc, &s->repo);
  if (!st) {
    if (o->model_config_file[0])
      st = serve_repo_add_config_file(s->repo, o->model_config_file);
    else
      st = serve_repo_add_model(s->repo, o->model_name, o->model_base_path,
                                SERVE_POLICY_LATEST, 1, NULL, 0, NULL, 0);
  }
  serve_scheduler_config sc = {
      .num_workers = (int)o->num_workers,
      .max_queued_requests = o->max_queued_requests,
      .on_batch = on_batch,
      .context = s,
  };
  if (!st) st = serve_scheduler_create(&sc, &s->scheduler);
  if (!st) st = serve_repo_start(s->repo);
  if (!st && !serve_http_start(s, err, sizeof err))
    st = serve_error(SERVE_UNAVAILABLE, "%s", err);
  if (!st && !serve_grpc_start(s, err, sizeof err)) {
    st = serve_error(SERVE_UNAVAILABLE, "%s", err);
    serve_http_stop(s);
  }
  if (st) {
    int code = fail(s, st);
    serve_scheduler_free(s->scheduler);
    serve_repo_free(s->repo);
    serve_metrics_free(s->metrics);
    free(prom);
    serve_tls_config_free(s->tls);
    free(s->tls);
    return code;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  serve_log(s,
            "serving on %s://%s%s%s:%lld%s (TF Serving REST /v1, KServe v2 "
            "/v2, metrics /metrics%s%s)",
            s->tls ? "https" : "http",
            strchr(o->host, ':') && o->host[0] != '[' ? "[" : "",
            o->host[0] ? o->host : "[::]",
            strchr(o->host, ':') && o->host[0] != '[' ? "]" : "",
            (long long)o->rest_api_port, o->host[0] ? "" : ", every interface",
            prom ? " and " : "", prom ? prom : "");
  while (!stop_requested) pause();
  serve_log(s, "stopping: no new connections; finishing requests in flight");
  serve_http_stop_accepting(s);
  serve_grpc_stop_accepting(s);
  /* Requests begun (even those whose body is still arriving) are served
   * in full; a client that never finishes is given the client timeout. */
  if (!serve_http_drain(s, 1e3 * (double)o->client_timeout_seconds))
    serve_log(s, "stopping: %d requests still open after %lld s; closing",
              atomic_load(&s->in_flight), (long long)o->client_timeout_seconds);
  serve_scheduler_free(s->scheduler); /* runs what is queued, answers it */
  s->scheduler = NULL;
  serve_grpc_stop(s);
  serve_http_stop(s);
  serve_repo_free(s->repo);
  serve_metrics_free(s->metrics);
  if (s->access_log && s->access_log != stderr) fclose(s->access_log);
  free(prom);
  free(s->bearer_token);
  serve_tls_config_free(s->tls);
  free(s->tls);
  serve_log(s, "stopped");
  return 0;
}
