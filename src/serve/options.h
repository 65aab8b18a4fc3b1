/* options.h - every setting of `kiln serve` in one table (options.c):
 * name, kind, default, range and help, as Redis keeps its config. Flag
 * names follow TensorFlow Serving's where it has one, so its command lines
 * work unchanged. */
#ifndef KILN_SERVE_OPTIONS_H
#define KILN_SERVE_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct serve_options {
  /* Models */
  const char *model_name;
  const char *model_base_path;
  const char *model_config_file;
  int64_t file_system_poll_wait_seconds;
  bool enable_model_warmup;
  int64_t max_num_load_retries;
  int64_t load_retry_interval_micros;
  const char *model_control_mode; /* "" (by the models given), none, poll,
                                     explicit */
  const char *model_repository;
  /* HTTP */
  const char *host; /* empty: every interface (IPv6 and IPv4) */
  int64_t rest_api_port;
  int64_t rest_api_num_threads;
  int64_t rest_api_timeout_in_ms;
  int64_t max_body_bytes;
  int64_t client_timeout_seconds;
  const char *access_log;
  int64_t max_connections;            /* 0: derived from the file limit */
  int64_t max_connections_per_client; /* 0: derived from the file limit */
  int64_t request_header_timeout_ms;
  int64_t request_body_timeout_ms;
  /* Inference */
  int64_t num_workers;
  int64_t session_threads;
  int64_t max_queued_requests;
  bool enable_batching;
  const char *batching_parameters_file;
  bool enable_per_model_batching_parameters;
  /* Monitoring */
  const char *monitoring_config_file;
  /* gRPC and security */
  int64_t grpc_port;            /* --port (TF Serving's); 0: off */
  int64_t kserve_grpc_port;     /* --grpc_port (Triton's 8001); 0: off */
  const char *grpc_socket_path; /* also gRPC on this UNIX socket; "": no */
  int64_t grpc_max_threads;     /* threads serving gRPC's queue; 0: per core */
  const char *grpc_channel_arguments; /* "key=value,..." for the server */
  const char *ssl_config_file;
  const char *bearer_token_file;
  int64_t tensorflow_intra_op_parallelism; /* > 0: --session_threads */
  /* TF Serving flags given that kiln accepts but ignores, each once, as
   * "--name: why" (static text), for one warning each at start. */
  const char *ignored_notes[64];
  int num_ignored_notes;
} serve_options;

/* Fills in every default. */
void serve_options_init(serve_options *o);

/* Parses argv[1..argc) ("--name=value", "--name value", or "--name" for a
 * true boolean). On a bad flag or value, writes a message to err_out
 * (err_size bytes) and returns false. */
bool serve_options_parse(serve_options *o, int argc, char **argv, char *err_out,
                         size_t err_size);

/* The flag list with defaults, ranges and help, for --help. */
void serve_options_usage(FILE *out);

#endif
