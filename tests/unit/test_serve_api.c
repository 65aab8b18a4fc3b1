/* test_serve_api.c - the REST handlers end to end without sockets
 * (serve_fixture.h): TF Serving predict and KServe infer agree on the
 * same input, binary tensors in and out, batched requests, and each bug
 * the request fuzz target found, answered as it should be. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "serve_fixture.h"

static serve_fixture fx;

typedef struct answer {
  int status;
  char *body; /* NUL-terminated */
  size_t len;
  char header_length[64]; /* Inference-Header-Content-Length, or "" */
} answer;

/* Sends one request, waits for it and checks the answer is well formed. */
static answer call_with(const char *method, const char *path, const void *body,
                        size_t len, const char *const *headers) {
  serve_fixture_request f;
  serve_fixture_send(&fx, &f, method, path, body, len, headers);
  const char *wrong = serve_fixture_wait(&f);
  CHECK(wrong == NULL);
  if (wrong) fprintf(stderr, "  %s %s: %s\n", method, path, wrong);
  answer a = {f.r.http_status, NULL, f.r.response_len, ""};
  a.body = malloc(a.len + 1);
  if (a.body) {
    if (a.len) memcpy(a.body, f.r.response, a.len);
    a.body[a.len] = '\0';
  }
  for (int i = 0; i < f.r.num_headers; i++)
    if (!strcmp(f.r.header_names[i], "Inference-Header-Content-Length"))
      snprintf(a.header_length, sizeof a.header_length, "%s",
               f.r.header_values[i]);
  serve_fixture_request_free(&f);
  return a;
}

static answer call(const char *method, const char *path, const char *body) {
  return call_with(method, path, body, body ? strlen(body) : 0, NULL);
}

/* Expects `status` and a body containing `needle`. */
static void expect(answer a, int status, const char *needle, int line) {
  kiln_test_checks++;
  if (a.status != status || !a.body || !strstr(a.body, needle)) {
    kiln_test_failures++;
    fprintf(stderr, "%s:%d: expected %d with '%s', got %d: %.300s\n", __FILE__,
            line, status, needle, a.status, a.body ? a.body : "");
  }
  free(a.body);
}
#define EXPECT(a, status, needle) expect((a), (status), (needle), __LINE__)

static float pixels[72];

/* The 72 pixels as a JSON list, nested [6][6][2] or flat. */
static void pixels_json(char *out, size_t size, bool nested) {
  size_t n = 0;
  for (int i = 0; i < 72 && n < size; i++) {
    const char *open = !nested       ? ""
                       : i % 12 == 0 ? "[["
                       : i % 2 == 0  ? "["
                                     : "";
    const char *close = !nested ? "" : i % 12 == 11 ? "]]" : i % 2 ? "]" : "";
    n += (size_t)snprintf(out + n, size - n, "%s%s%.9g%s", i ? "," : "", open,
                          (double)pixels[i], close);
  }
}

/* The numbers of the first list named `key` in a JSON body. */
static int numbers_after(const char *body, const char *key, float *out,
                         int most) {
  const char *p = body ? strstr(body, key) : NULL;
  if (!p) return 0;
  p = strchr(p, '[');
  int n = 0;
  while (p && *p && n < most) {
    while (*p == '[' || *p == ',' || *p == ' ') p++;
    char *end;
    float v = strtof(p, &end);
    if (end == p) break;
    out[n++] = v;
    p = end;
    if (*p == ']') break;
  }
  return n;
}

static void test_predict_and_infer_agree(void) {
  char list[2048], body[4096];
  pixels_json(list, sizeof list, true);
  snprintf(body, sizeof body, "{\"instances\": [[%s]]}", list);
  answer tfs = call("POST", "/v1/models/cnn:predict", body);
  CHECK(tfs.status == 200);
  float from_tfs[5], from_kserve[5];
  CHECK(numbers_after(tfs.body, "predictions", from_tfs, 5) == 5);
  float sum = 0;
  for (int i = 0; i < 5; i++) sum += from_tfs[i];
  CHECK(fabsf(sum - 1) < 1e-5f); /* softmax */
  free(tfs.body);

  pixels_json(list, sizeof list, false);
  snprintf(body, sizeof body,
           "{\"id\": \"7\", \"inputs\": [{\"name\": \"pixels\", \"shape\": "
           "[1,6,6,2], \"datatype\": \"FP32\", \"data\": [%s]}]}",
           list);
  answer kserve = call("POST", "/v2/models/cnn/infer", body);
  CHECK(kserve.status == 200 && strstr(kserve.body, "\"id\":\"7\""));
  CHECK(numbers_after(kserve.body, "\"data\"", from_kserve, 5) == 5);
  CHECK(!memcmp(from_tfs, from_kserve, sizeof from_tfs));
  free(kserve.body);

  /* Binary in and out: the same floats, after a JSON header. */
  char header[256];
  int header_len = snprintf(
      header, sizeof header,
      "{\"inputs\": [{\"name\": \"pixels\", \"shape\": [1,6,6,2], "
      "\"datatype\": \"FP32\", \"parameters\": {\"binary_data_size\": 288}}],"
      " \"parameters\": {\"binary_data_output\": true}}");
  char request[1024];
  memcpy(request, header, (size_t)header_len);
  memcpy(request + header_len, pixels, sizeof pixels);
  char length[32];
  snprintf(length, sizeof length, "%d", header_len);
  const char *headers[] = {"inference-header-content-length", length, NULL};
  answer bin = call_with("POST", "/v2/models/cnn/infer", request,
                         (size_t)header_len + sizeof pixels, headers);
  CHECK(bin.status == 200);
  size_t json_len = strtoul(bin.header_length, NULL, 10);
  CHECK(json_len > 0 && json_len + 20 == bin.len);
  CHECK(bin.body && strstr(bin.body, "\"binary_data_size\":20"));
  CHECK(bin.body && json_len + 20 == bin.len &&
        !memcmp(bin.body + json_len, from_tfs, 20));
  free(bin.body);
}

static void test_two_inputs_and_batching(void) {
  const char *body =
      "{\"inputs\": {\"features\": [[1, 2, 3]], \"ids\": [[0, 9]]}}";
  answer one = call("POST", "/v1/models/mlp/labels/stable:predict", body);
  CHECK(one.status == 200 && strstr(one.body, "\"output_1\""));
  /* Copies sent at once meet in the batching queue; each gets its own
   * rows back, the same as alone. */
  enum { COPIES = 4 };
  serve_fixture_request f[COPIES];
  for (int i = 0; i < COPIES; i++)
    serve_fixture_send(&fx, &f[i], "POST", "/v1/models/mlp:predict", body,
                       strlen(body), NULL);
  for (int i = 0; i < COPIES; i++) {
    CHECK(serve_fixture_wait(&f[i]) == NULL);
    CHECK(f[i].r.http_status == 200 && one.body &&
          f[i].r.response_len == one.len &&
          !memcmp(f[i].r.response, one.body, one.len));
    serve_fixture_request_free(&f[i]);
  }
  free(one.body);
}

/* The bugs the fuzz targets found, each answered as it should be now. */
static void test_found_by_fuzzing(void) {
  /* KServe binary data whose shape overflows 64 bits to 0 bytes: once
   * accepted as an empty tensor of 2^62 rows. */
  const char *overflow =
      "{\"inputs\": [{\"name\": \"pixels\", \"shape\": "
      "[4611686018427387904,6,6,2], \"datatype\": \"FP32\", \"parameters\": "
      "{\"binary_data_size\": 0}}]}";
  char length[32];
  snprintf(length, sizeof length, "%zu", strlen(overflow));
  const char *headers[] = {"Inference-Header-Content-Length", length, NULL};
  EXPECT(call_with("POST", "/v2/models/cnn/infer", overflow, strlen(overflow),
                   headers),
         400, "bad or huge shape");
  /* A huge shape with a few values: was a 288 TB allocation (500, or an
   * abort under ASan) before the values were counted. */
  EXPECT(call("POST", "/v2/models/cnn/infer",
              "{\"inputs\": [{\"name\": \"pixels\", \"shape\": "
              "[1099511627776,6,6,2], \"datatype\": \"FP32\", \"data\": "
              "[1, 2]}]}"),
         400, "holds 2 values");
  /* Bytes that are not UTF-8 in a path came back raw inside JSON
   * strings, so the answer was not JSON (the fixture checks it is). */
  EXPECT(call("GET", "/v2/models/cn\xb7\xb7n/versions/1/ready", NULL), 503,
         "\"cn\\ufffd\\ufffdn\"");
  EXPECT(call("GET", "/v1/models/\xff\xc0\x80/metadata", NULL), 404,
         "\\ufffd\\ufffd\\ufffd");
  /* Ids out of the embedding's range: GATHER refuses them at run time,
   * the client's mistake (400, as TF Serving), not the server's. */
  EXPECT(call("POST", "/v1/models/mlp:predict",
              "{\"inputs\": {\"features\": [[1, 2, 3]], \"ids\": [[0, 10]]}}"),
         400, "out of range");
}

/* JSON strings keep UTF-8 characters and replace every byte that is not
 * part of one. */
static void test_json_strings(void) {
  const struct {
    const char *in, *out;
  } table[] = {
      {"plain", "\"plain\""},
      {"q\"b\\n\n\x01", "\"q\\\"b\\\\n\\n\\u0001\""},
      {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
       "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\""},
      {"\xc0\x80", "\"\\ufffd\\ufffd\""},            /* overlong NUL */
      {"\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\""}, /* a surrogate */
      {"\xf4\x90\x80\x80x",
       "\"\\ufffd\\ufffd\\ufffd\\ufffdx\""}, /* > U+10FFFF */
      {"\xe2\x82", "\"\\ufffd\\ufffd\""},    /* cut short */
      {"a\x80"
       "b\xf5",
       "\"a\\ufffdb\\ufffd\""},
  };
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
    serve_buf b = {0};
    serve_buf_json_string(&b, table[i].in);
    CHECK(b.data && !strcmp(b.data, table[i].out));
    if (b.data && strcmp(b.data, table[i].out))
      fprintf(stderr, "  %s written as %s\n", table[i].out, b.data);
    json_t *v = b.data ? json_loads(b.data, JSON_DECODE_ANY, NULL) : NULL;
    CHECK(v != NULL);
    json_decref(v);
    serve_buf_free(&b);
  }
}

static void test_errors(void) {
  EXPECT(call("POST", "/v1/models/nope:predict", "{\"inputs\": [[1]]}"), 404,
         "nope");
  EXPECT(call("GET", "/v1/models/cnn:predict", NULL), 400, "Malformed request");
  EXPECT(call("POST", "/v1/models/cnn:predict", "{\"inputs\": [[1]"), 400,
         "JSON Parse error");
  EXPECT(call("POST", "/v1/models/cnn:predict", ""), 400,
         "The document is empty");
  EXPECT(call("POST", "/v1/models/cnn:predict", "{\"instances\": [[[1]]]}"),
         400, "input 'pixels' has shape [1,1,1]");
  EXPECT(call("POST", "/v2/models/cnn/infer", "{\"inputs\": []}"), 400,
         "expected 1 inputs");
  const char *headers[] = {"Inference-Header-Content-Length", "99", NULL};
  EXPECT(call_with("POST", "/v2/models/cnn/infer", "{}", 2, headers), 400,
         "Inference-Header-Content-Length is 99");
  EXPECT(call("GET", "/nowhere", NULL), 404, "no API at GET /nowhere");
  EXPECT(call("GET", "/v2/models/cnn/versions/7/ready", NULL), 503,
         "\"ready\":false");
}

int main(void) {
  for (int i = 0; i < 72; i++) pixels[i] = (float)((i * 37) % 19) / 19.0f;
  if (!serve_fixture_start(&fx, "tests/data")) {
    fprintf(stderr, "test_serve_api: %s\n", fx.error);
    return 1;
  }
  test_predict_and_infer_agree();
  test_two_inputs_and_batching();
  test_found_by_fuzzing();
  test_json_strings();
  test_errors();
  serve_fixture_stop(&fx);
  return kiln_test_finish("test_serve_api");
}
