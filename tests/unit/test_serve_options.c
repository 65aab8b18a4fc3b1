/* test_serve_options.c - `kiln serve`'s flag table: defaults, every flag
 * form, ranges, unknown flags, and TF Serving's flags that are accepted
 * and ignored; --host resolution (bind.c); and the HTTP status of every
 * server error code. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "harness.h"
#include "serve/bind.h"
#include "serve/options.h"
#include "serve/status.h"

static char err[512];

/* Parses the NULL-terminated flags (argv[0] is "serve") into *o, which
 * starts at the defaults. */
static bool parse(serve_options *o, ...) {
  char *argv[32] = {"serve"};
  int argc = 1;
  va_list args;
  va_start(args, o);
  for (char *a; argc < 31 && (a = va_arg(args, char *)); argc++) argv[argc] = a;
  va_end(args);
  serve_options_init(o);
  err[0] = '\0';
  return serve_options_parse(o, argc, argv, err, sizeof err);
}

static void test_defaults(void) {
  serve_options o;
  CHECK(parse(&o, NULL));
  CHECK(!strcmp(o.model_name, "default"));
  CHECK(!strcmp(o.model_base_path, "") && !strcmp(o.model_config_file, ""));
  CHECK(o.file_system_poll_wait_seconds == 1);
  CHECK(o.max_num_load_retries == 5);
  CHECK(o.load_retry_interval_micros == 60000000);
  CHECK(!strcmp(o.model_control_mode, "") && !strcmp(o.model_repository, ""));
  CHECK(o.enable_model_warmup == true);
  CHECK(!strcmp(o.host, "")); /* every interface, as TF Serving */
  CHECK(o.rest_api_port == 8501);
  CHECK(o.grpc_port == 8500 && !strcmp(o.ssl_config_file, ""));
  CHECK(o.tensorflow_intra_op_parallelism == 0 && o.num_ignored_notes == 0);
  CHECK(o.rest_api_num_threads == 0);
  CHECK(o.rest_api_timeout_in_ms == 30000);
  CHECK(o.max_body_bytes == 64 << 20);
  CHECK(o.client_timeout_seconds == 30);
  CHECK(!strcmp(o.access_log, ""));
  CHECK(o.max_connections == 0 && o.max_connections_per_client == 0);
  CHECK(o.request_header_timeout_ms == 30000);
  CHECK(o.request_body_timeout_ms == 120000);
  CHECK(o.num_workers == 0 && o.session_threads == 1);
  CHECK(o.max_queued_requests == 1024);
  CHECK(o.enable_batching == false);
  CHECK(!strcmp(o.batching_parameters_file, ""));
  CHECK(o.enable_per_model_batching_parameters == true);
  CHECK(!strcmp(o.monitoring_config_file, ""));
}

static void test_forms(void) {
  serve_options o;
  /* --name=value and --name value */
  CHECK(parse(&o, "--model_name=mnist", "--model_base_path", "/models/m",
              "--rest_api_port=9000", "--num_workers", "3", NULL));
  CHECK(!strcmp(o.model_name, "mnist") &&
        !strcmp(o.model_base_path, "/models/m"));
  CHECK(o.rest_api_port == 9000 && o.num_workers == 3);
  /* A value may hold '=' and may be empty. */
  CHECK(parse(&o, "--access_log=/tmp/a=b.log", "--host=", NULL));
  CHECK(!strcmp(o.access_log, "/tmp/a=b.log") && !strcmp(o.host, ""));
  /* A boolean alone is true; =true/false/1/0 set it; the next argument is
   * not taken as its value. */
  CHECK(parse(&o, "--enable_batching", "--model_name=x", NULL));
  CHECK(o.enable_batching && !strcmp(o.model_name, "x"));
  CHECK(parse(&o, "--enable_model_warmup=false", "--enable_batching=1", NULL));
  CHECK(!o.enable_model_warmup && o.enable_batching);
  CHECK(parse(&o, "--enable_model_warmup=0", "--enable_batching=true", NULL));
  CHECK(!o.enable_model_warmup && o.enable_batching);
  CHECK(!parse(&o, "--enable_batching=yes", NULL));
  CHECK(strstr(err, "--enable_batching takes true or false, not 'yes'"));
  CHECK(!parse(&o, "--enable_batching", "false", NULL));
  CHECK(strstr(err, "unexpected argument 'false'"));
  /* The last of a repeated flag wins. */
  CHECK(parse(&o, "--rest_api_port=1", "--rest_api_port=2", NULL));
  CHECK(o.rest_api_port == 2);
  /* Negative values where the range allows them. */
  CHECK(parse(&o, "--file_system_poll_wait_seconds=-1", NULL));
  CHECK(o.file_system_poll_wait_seconds == -1);
  CHECK(parse(&o, "--file_system_poll_wait_seconds", "-1", NULL));
  CHECK(o.file_system_poll_wait_seconds == -1);
}

static void test_ranges(void) {
  serve_options o;
  CHECK(parse(&o, "--rest_api_port=1", NULL) && o.rest_api_port == 1);
  CHECK(parse(&o, "--rest_api_port=65535", NULL) && o.rest_api_port == 65535);
  /* 0 is "off", as in TF Serving (the server then refuses to start with
   * nothing to serve). */
  CHECK(parse(&o, "--rest_api_port=0", "--port=0", NULL));
  CHECK(o.rest_api_port == 0 && o.grpc_port == 0);
  CHECK(!parse(&o, "--rest_api_port=-1", NULL));
  CHECK(
      strstr(err, "--rest_api_port takes an integer in [0, 65535], not '-1'"));
  CHECK(!parse(&o, "--port=65536", NULL));
  CHECK(!parse(&o, "--rest_api_port=65536", NULL));
  CHECK(!parse(&o, "--rest_api_port=80x", NULL));
  CHECK(strstr(err, "not '80x'"));
  CHECK(!parse(&o, "--rest_api_port=", NULL));
  CHECK(!parse(&o, "--rest_api_port=1.5", NULL));
  CHECK(!parse(&o, "--rest_api_port=99999999999999999999999", NULL));
  CHECK(!parse(&o, "--file_system_poll_wait_seconds=-2", NULL));
  CHECK(parse(&o, "--file_system_poll_wait_seconds=86400", NULL));
  CHECK(!parse(&o, "--file_system_poll_wait_seconds=86401", NULL));
  CHECK(!parse(&o, "--max_body_bytes=1023", NULL));
  CHECK(parse(&o, "--max_body_bytes=1024", NULL) && o.max_body_bytes == 1024);
  CHECK(parse(&o, "--max_body_bytes=1099511627776", NULL));
  CHECK(!parse(&o, "--max_body_bytes=1099511627777", NULL));
  CHECK(!parse(&o, "--session_threads=0", NULL));
  CHECK(!parse(&o, "--num_workers=-1", NULL));
  CHECK(parse(&o, "--num_workers=1024", NULL));
  CHECK(!parse(&o, "--num_workers=1025", NULL));
  CHECK(!parse(&o, "--max_queued_requests=0", NULL));
  CHECK(!parse(&o, "--client_timeout_seconds=0", NULL));
  CHECK(!parse(&o, "--rest_api_timeout_in_ms=-1", NULL));
  CHECK(parse(&o, "--rest_api_timeout_in_ms=0", NULL) &&
        o.rest_api_timeout_in_ms == 0);
}

static void test_errors(void) {
  serve_options o;
  CHECK(!parse(&o, "--no_such_flag=1", NULL));
  CHECK(strstr(err, "unknown flag --no_such_flag"));
  /* A prefix or an extension of a flag's name is not that flag. */
  CHECK(!parse(&o, "--model=x", NULL));
  CHECK(strstr(err, "unknown flag --model "));
  CHECK(!parse(&o, "--model_namex=x", NULL));
  CHECK(!parse(&o, "--=x", NULL));
  CHECK(!parse(&o, "--", NULL));
  CHECK(!parse(&o, "model_name=x", NULL));
  CHECK(strstr(err, "unexpected argument 'model_name=x'"));
  CHECK(!parse(&o, "-model_name=x", NULL));
  CHECK(!parse(&o, "--model_name", NULL));
  CHECK(strstr(err, "--model_name needs a value"));
  CHECK(!parse(&o, "--rest_api_port", NULL));
  /* An error leaves a readable message even with a tiny buffer. */
  char *argv[] = {"serve", "--no_such_flag_with_a_long_name"};
  char tiny[8];
  serve_options_init(&o);
  CHECK(!serve_options_parse(&o, 2, argv, tiny, sizeof tiny));
  CHECK(strlen(tiny) == 7);
}

static void test_tf_serving_flags(void) {
  serve_options o;
  /* TF Serving's command line for a REST server starts as is. */
  CHECK(parse(&o, "--port=8500", "--rest_api_port=8501",
              "--model_name=half_plus_two",
              "--model_base_path=/models/half_plus_two",
              "--tensorflow_session_parallelism=0",
              "--tensorflow_intra_op_parallelism=4",
              "--tensorflow_inter_op_parallelism=2",
              "--model_config_file_poll_wait_seconds=60",
              "--grpc_socket_path=/tmp/sock", NULL));
  CHECK(o.rest_api_port == 8501 && !strcmp(o.model_name, "half_plus_two"));
  /* An ignored flag may take its value as the next argument. */
  CHECK(parse(&o, "--port", "8500", "--model_name=m", NULL));
  CHECK(!strcmp(o.model_name, "m"));
  /* TF Serving's boolean flags alone do not swallow the next flag. */
  CHECK(parse(&o, "--rest_api_enable_cors_support", "--model_name=cors", NULL));
  CHECK(!strcmp(o.model_name, "cors"));
  CHECK(parse(&o, "--rest_api_enable_cors_support=true", NULL));
  CHECK(parse(&o, "--model_name=last", "--rest_api_enable_cors_support", NULL));
  CHECK(!strcmp(o.model_name, "last"));
  /* Flags TF Serving shares with kiln keep their meaning. */
  CHECK(parse(&o, "--enable_batching=true",
              "--batching_parameters_file=/b.pbtxt",
              "--monitoring_config_file=/m.pbtxt",
              "--file_system_poll_wait_seconds=5", NULL));
  CHECK(o.enable_batching && !strcmp(o.batching_parameters_file, "/b.pbtxt"));
  CHECK(!strcmp(o.monitoring_config_file, "/m.pbtxt"));
  CHECK(o.file_system_poll_wait_seconds == 5);
  /* --port is kiln's gRPC port, with TF Serving's gRPC settings. */
  CHECK(parse(&o, "--port=9500", NULL) && o.grpc_port == 9500);
  CHECK(!parse(&o, "--port=grpc", NULL));
  CHECK(parse(&o, "--grpc_max_threads=8",
              "--grpc_channel_arguments=grpc.max_concurrent_streams=4", NULL));
  CHECK(o.grpc_max_threads == 8 && o.num_ignored_notes == 0);
  CHECK(!strcmp(o.grpc_channel_arguments, "grpc.max_concurrent_streams=4"));
  CHECK(parse(&o, "--grpc_socket_path=/run/kiln.sock", NULL));
  CHECK(!strcmp(o.grpc_socket_path, "/run/kiln.sock") &&
        o.num_ignored_notes == 0);
  CHECK(!parse(&o, "--grpc_max_threads=-1", NULL));
  /* --tensorflow_intra_op_parallelism is kept for --session_threads. */
  CHECK(parse(&o, "--tensorflow_intra_op_parallelism=4", NULL));
  CHECK(o.tensorflow_intra_op_parallelism == 4 && o.num_ignored_notes == 0);
  /* --ssl_config_file is kept so that the server can refuse it. */
  CHECK(parse(&o, "--ssl_config_file=/ssl.pbtxt", NULL));
  CHECK(!strcmp(o.ssl_config_file, "/ssl.pbtxt"));
}

/* Issue 10 defect 7: flags of TF Serving's main.cc that stopped kiln with
 * "unknown flag" start it now, each with one note saying why it is
 * ignored, kept once however often it is given. */
static void test_tf_serving_ignored_flags(void) {
  serve_options o;
  CHECK(parse(&o, "--prefer_tflite_model", "--use_tflite_model=true",
              "--num_load_threads=4", "--enable_signature_method_name_check",
              "--allow_version_labels_for_unavailable_models=false",
              "--saved_model_tags", "serve,gpu", "--model_name=m", NULL));
  CHECK(!strcmp(o.model_name, "m"));
  CHECK(o.num_ignored_notes == 6);
  const char *want[] = {"--prefer_tflite_model: ",
                        "--use_tflite_model: ",
                        "--num_load_threads: ",
                        "--enable_signature_method_name_check: ",
                        "--allow_version_labels_for_unavailable_models: ",
                        "--saved_model_tags: "};
  for (int i = 0; i < 6 && i < o.num_ignored_notes; i++)
    CHECK(!strncmp(o.ignored_notes[i], want[i], strlen(want[i])) &&
          strlen(o.ignored_notes[i]) > strlen(want[i]) + 5);
  CHECK(parse(&o, "--num_load_threads=1", "--num_load_threads=2", NULL));
  CHECK(o.num_ignored_notes == 1);
  /* The rest of main.cc's list (booleans alone take no value). */
  CHECK(parse(&o, "--use_alts_credentials", "--enable_grpc_healthcheck_service",
              "--enable_serialization_as_tensor_content",
              "--tensorflow_session_parallelism=0",
              "--tensorflow_inter_op_parallelism=2",
              "--tensorflow_session_config_file=/c",
              "--platform_config_file=/p",
              "--per_process_gpu_memory_fraction=0.5", "--num_tflite_pools=2",
              "--num_tflite_interpreters_per_pool=1", "--num_unload_threads=1",
              "--flush_filesystem_caches", "--model_name=a", NULL));
  CHECK(!strcmp(o.model_name, "a") && o.num_ignored_notes == 12);
  CHECK(parse(&o, "--model_config_file_poll_wait_seconds=60",
              "--remove_unused_fields_from_bundle_metagraph",
              "--num_request_iterations_for_warmup=3",
              "--xla_cpu_compilation_enabled", "--xla_gpu_compilation_enabled",
              "--enable_profiler", "--thread_pool_factory_config_file=/t",
              "--mixed_precision=bfloat16", "--skip_initialize_tpu",
              "--rest_api_enable_cors_support", "--model_name=b", NULL));
  CHECK(!strcmp(o.model_name, "b") && o.num_ignored_notes == 10);
  /* A name outside the list is still an error. */
  CHECK(!parse(&o, "--no_such_tf_flag=1", NULL));
  CHECK(strstr(err, "unknown flag --no_such_tf_flag"));
}

/* Issue 10 defect 8: --host takes IPv4, IPv6 with or without brackets,
 * and names; the default is every interface. */
static void test_bind_addresses(void) {
  serve_bind_addr b;
  CHECK(serve_bind_resolve("", 8501, &b, err, sizeof err));
  if (b.ipv6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&b.addr;
    CHECK(b.dual_stack && IN6_IS_ADDR_UNSPECIFIED(&a->sin6_addr));
    CHECK(ntohs(a->sin6_port) == 8501 && !strcmp(b.text, "[::]:8501"));
  } else {
    const struct sockaddr_in *a = (const struct sockaddr_in *)&b.addr;
    CHECK(a->sin_addr.s_addr == htonl(INADDR_ANY));
    CHECK(!strcmp(b.text, "0.0.0.0:8501"));
  }
  CHECK(serve_bind_resolve("127.0.0.1", 80, &b, err, sizeof err));
  CHECK(!b.ipv6 && !b.dual_stack && !strcmp(b.text, "127.0.0.1:80"));
  CHECK(serve_bind_resolve("0.0.0.0", 1, &b, err, sizeof err));
  CHECK(!b.ipv6 && !strcmp(b.text, "0.0.0.0:1"));
  CHECK(serve_bind_resolve("localhost", 9, &b, err, sizeof err));
  CHECK(strstr(b.text, ":9") != NULL);
  /* IPv6 forms, where this system has IPv6. */
  if (serve_bind_resolve("::1", 8501, &b, err, sizeof err)) {
    CHECK(b.ipv6 && !b.dual_stack && !strcmp(b.text, "[::1]:8501"));
    CHECK(serve_bind_resolve("[::1]", 8501, &b, err, sizeof err));
    CHECK(b.ipv6 && !strcmp(b.text, "[::1]:8501"));
    CHECK(serve_bind_resolve("::", 7, &b, err, sizeof err));
    CHECK(b.ipv6 && b.dual_stack && !strcmp(b.text, "[::]:7"));
    CHECK(serve_bind_resolve("[::]", 7, &b, err, sizeof err) && b.dual_stack);
  }
  /* Names that do not resolve and malformed forms: a message naming the
   * host, never a crash. */
  CHECK(!serve_bind_resolve("no-such-host.invalid", 1, &b, err, sizeof err));
  CHECK(strstr(err, "--host=no-such-host.invalid does not resolve"));
  CHECK(!serve_bind_resolve("[]", 1, &b, err, sizeof err));
  CHECK(!serve_bind_resolve("[::1", 1, &b, err, sizeof err));
  CHECK(!serve_bind_resolve("1.2.3.4.5", 1, &b, err, sizeof err));
  char long_name[400];
  memset(long_name, 'a', sizeof long_name - 1);
  long_name[sizeof long_name - 1] = '\0';
  CHECK(!serve_bind_resolve(long_name, 1, &b, err, sizeof err));
}

static void test_usage(void) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  CHECK(f != NULL);
  if (!f) return;
  serve_options_usage(f);
  fclose(f);
  CHECK(strstr(text, "--rest_api_port=N") && strstr(text, "(default 8501)"));
  CHECK(strstr(text, "--enable_batching=BOOL"));
  CHECK(strstr(text, "--model_name=TEXT"));
  CHECK(strstr(text, "--rest_api_enable_cors_support"));
  free(text);
}

static void test_status_http(void) {
  const struct {
    serve_code code;
    int http;
    const char *name;
  } table[] = {
      {SERVE_OK, 200, "OK"},
      {SERVE_CANCELLED, 499, "CANCELLED"},
      {SERVE_INVALID_ARGUMENT, 400, "INVALID_ARGUMENT"},
      {SERVE_DEADLINE_EXCEEDED, 504, "DEADLINE_EXCEEDED"},
      {SERVE_NOT_FOUND, 404, "NOT_FOUND"},
      {SERVE_RESOURCE_EXHAUSTED, 429, "RESOURCE_EXHAUSTED"},
      {SERVE_FAILED_PRECONDITION, 400, "FAILED_PRECONDITION"},
      {SERVE_UNIMPLEMENTED, 501, "UNIMPLEMENTED"},
      {SERVE_INTERNAL, 500, "INTERNAL"},
      {SERVE_UNAVAILABLE, 503, "UNAVAILABLE"},
      {SERVE_PAYLOAD_TOO_LARGE, 413, "PAYLOAD_TOO_LARGE"},
      {SERVE_PERMISSION_DENIED, 403, "PERMISSION_DENIED"},
      {SERVE_UNAUTHENTICATED, 401, "UNAUTHENTICATED"},
  };
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
    CHECK(serve_code_http(table[i].code) == table[i].http);
    CHECK(!strcmp(serve_code_name(table[i].code), table[i].name));
    if (table[i].code == SERVE_OK) continue;
    serve_status *s = serve_error(table[i].code, "code %d", (int)i);
    char want[16];
    snprintf(want, sizeof want, "code %d", (int)i);
    CHECK(serve_status_code(s) == table[i].code);
    CHECK(serve_status_http(s) == table[i].http);
    CHECK(!strcmp(serve_status_message(s), want));
    serve_status_free(s);
  }
  CHECK(serve_status_http(NULL) == 200);
  CHECK(serve_status_code(NULL) == SERVE_OK);
  CHECK(!strcmp(serve_status_message(NULL), ""));
  CHECK(!strcmp(serve_code_name((serve_code)99), "UNKNOWN"));
  CHECK(serve_code_http((serve_code)99) == 500);
  /* Library errors: the caller's mistakes are 400 (data that invoke
   * refuses too), missing features 501, everything else 500; the message
   * is kept. */
  CHECK(serve_from_kiln(NULL) == NULL);
  serve_status *s =
      serve_from_kiln(kiln_error(KILN_ERR_INVALID_ARGUMENT, "bad %s", "shape"));
  CHECK(serve_status_http(s) == 400 &&
        !strcmp(serve_status_message(s), "bad shape"));
  serve_status_free(s);
  s = serve_from_kiln(kiln_error(KILN_ERR_RUNTIME, "index 10 out of range"));
  CHECK(serve_status_code(s) == SERVE_INVALID_ARGUMENT &&
        serve_status_http(s) == 400);
  serve_status_free(s);
  s = serve_from_kiln(kiln_error(KILN_ERR_UNSUPPORTED, "no"));
  CHECK(serve_status_http(s) == 501);
  serve_status_free(s);
  kiln_status_code internal[] = {KILN_ERR_INVALID_MODEL, KILN_ERR_OUT_OF_MEMORY,
                                 KILN_ERR_IO, KILN_ERR_FAILED_PRECONDITION,
                                 KILN_ERR_INTERNAL};
  for (size_t i = 0; i < sizeof internal / sizeof internal[0]; i++) {
    s = serve_from_kiln(kiln_error(internal[i], "x"));
    CHECK(serve_status_code(s) == SERVE_INTERNAL &&
          serve_status_http(s) == 500);
    serve_status_free(s);
  }
  /* Long messages are kept whole. */
  char big[3000];
  memset(big, 'm', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  s = serve_error(SERVE_INTERNAL, "%s!", big);
  CHECK(strlen(serve_status_message(s)) == sizeof big);
  serve_status_free(s);
}

int main(void) {
  test_defaults();
  test_forms();
  test_ranges();
  test_errors();
  test_tf_serving_flags();
  test_tf_serving_ignored_flags();
  test_bind_addresses();
  test_usage();
  test_status_http();
  return kiln_test_finish("test_serve_options");
}
