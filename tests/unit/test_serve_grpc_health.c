/* test_serve_grpc_health.c - grpc.health.v1's HealthCheckRequest read by
 * serve_grpc_health_check against a repository (serve_fixture.h: models
 * "cnn" and "mlp"): the server ("" or a service kiln serves) and each
 * model SERVING; an unknown name NOT_FOUND; a model with no version
 * AVAILABLE NOT_SERVING; unknown fields skipped; damaged messages
 * INVALID_ARGUMENT naming the message and the byte offset; random bytes
 * never crash. */
#include <stdlib.h>
#include <string.h>

#include "formats/protobuf/pb_wire.h"
#include "harness.h"
#include "serve/grpc_front.h"
#include "serve_fixture.h"

/* A HealthCheckRequest for service (NULL: the field left out), after an
 * unknown field when `extra`. */
static kiln_pb_writer request(const char *service, bool extra) {
  kiln_pb_writer w = {0};
  if (extra) kiln_pb_put_uint64(&w, 7, 99);
  if (service) kiln_pb_put_string(&w, 1, service);
  return w;
}

/* The health answer: 1 SERVING, 2 NOT_SERVING, or -code on an error whose
 * message contains needle (when given). */
static int check(serve_repo *repo, const uint8_t *data, size_t len,
                 const char *needle) {
  bool serving = false;
  serve_status *st = serve_grpc_health_check(repo, data, len, &serving);
  if (!st) return serving ? 1 : 2;
  int code = -(int)serve_status_code(st);
  if (needle && !strstr(serve_status_message(st), needle)) {
    fprintf(stderr, "error '%s' lacks '%s'\n", serve_status_message(st),
            needle);
    code = -1000;
  }
  serve_status_free(st);
  return code;
}

static int check_service(serve_repo *repo, const char *service, bool extra) {
  kiln_pb_writer w = request(service, extra);
  int got = check(repo, w.data, w.len, NULL);
  kiln_pb_writer_free(&w);
  return got;
}

static void test_names(serve_repo *repo) {
  CHECK(check(repo, NULL, 0, NULL) == 1); /* the empty message: the server */
  CHECK(check_service(repo, NULL, true) == 1);
  CHECK(check_service(repo, "", false) == 1);
  CHECK(check_service(repo, "inference.GRPCInferenceService", false) == 1);
  CHECK(check_service(repo, "tensorflow.serving.PredictionService", true) == 1);
  CHECK(check_service(repo, "mlp", false) == 1);
  CHECK(check_service(repo, "cnn", true) == 1);
  CHECK(check_service(repo, "nope", false) == -SERVE_NOT_FOUND);
  char longname[600];
  memset(longname, 'a', sizeof longname - 1);
  longname[sizeof longname - 1] = '\0';
  CHECK(check_service(repo, longname, false) == -SERVE_NOT_FOUND);
  /* A NUL inside the name is no model's name. */
  kiln_pb_writer w = {0};
  kiln_pb_put_bytes(&w, 1, "mlp\0x", 5);
  CHECK(check(repo, w.data, w.len, NULL) == -SERVE_NOT_FOUND);
  kiln_pb_writer_free(&w);
}

static void test_damaged(serve_repo *repo) {
  /* Field 1 announces 10 bytes; 2 follow. */
  const uint8_t short_len[] = {0x0a, 0x0a, 'a', 'b'};
  CHECK(check(repo, short_len, sizeof short_len, "HealthCheckRequest") ==
        -SERVE_INVALID_ARGUMENT);
  CHECK(check(repo, short_len, sizeof short_len, "offset") ==
        -SERVE_INVALID_ARGUMENT);
  /* Field 1 as a varint: the wrong wire type. */
  const uint8_t wrong_type[] = {0x08, 0x01};
  CHECK(check(repo, wrong_type, sizeof wrong_type, NULL) ==
        -SERVE_INVALID_ARGUMENT);
  /* A key cut in the middle of its varint. */
  const uint8_t cut[] = {0x0a, 0x03, 'm', 'l', 'p', 0x80};
  CHECK(check(repo, cut, sizeof cut, NULL) == -SERVE_INVALID_ARGUMENT);
}

static void test_random(serve_repo *repo) {
  kiln_test_seed(10);
  uint8_t data[64];
  for (int round = 0; round < 2000; round++) {
    size_t len = (size_t)kiln_test_int(0, (int)sizeof data);
    for (size_t i = 0; i < len; i++) data[i] = (uint8_t)kiln_test_rand();
    if (round % 2) data[0] = 0x0a; /* often field 1 */
    int got = check(repo, data, len, NULL);
    CHECK(got == 1 || got == 2 || got == -SERVE_NOT_FOUND ||
          got == -SERVE_INVALID_ARGUMENT);
  }
}

static void test_unavailable_model(serve_fixture *fx) {
  /* A model with no version yet: it and the server are NOT_SERVING. */
  char dir[300];
  snprintf(dir, sizeof dir, "%s/empty", fx->root);
  CHECK(mkdir(dir, 0755) == 0 && serve_fixture_remember(fx, dir));
  serve_status *st = serve_repo_add_model(
      fx->server.repo, "empty", dir, SERVE_POLICY_LATEST, 1, NULL, 0, NULL, 0);
  CHECK(st == NULL);
  serve_status_free(st);
  CHECK(check_service(fx->server.repo, "empty", false) == 2);
  CHECK(check_service(fx->server.repo, "mlp", false) == 1);
}

int main(void) {
  serve_fixture fx;
  if (!serve_fixture_start(&fx, "tests/data")) {
    fprintf(stderr, "fixture: %s\n", fx.error);
    return 1;
  }
  test_names(fx.server.repo);
  test_damaged(fx.server.repo);
  test_random(fx.server.repo);
  test_unavailable_model(&fx);
  serve_fixture_stop(&fx);
  return kiln_test_finish("test_serve_grpc_health");
}
