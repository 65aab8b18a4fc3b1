/* test_serve_batching.c - TF Serving's BatchingParameters as kiln reads
 * them: every field, wrapper and plain forms, TF's rules for
 * allowed_batch_sizes (positive, increasing, ending at max_batch_size),
 * errors naming the file and line, and the padded batch size. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "serve/batching.h"

static serve_status *parse(const char *text, serve_batching *b) {
  return serve_batching_parse_text(text, strlen(text), "batch.pbtxt", b);
}

/* Expects parsing to fail with a message containing `needle`. */
static void check_fails(const char *text, const char *needle, int line) {
  serve_batching b;
  serve_batching_defaults(&b);
  serve_status *st = parse(text, &b);
  kiln_test_checks++;
  if (!st || serve_status_code(st) != SERVE_INVALID_ARGUMENT ||
      !strstr(serve_status_message(st), needle) ||
      strncmp(serve_status_message(st), "batch.pbtxt: ", 13)) {
    kiln_test_failures++;
    fprintf(stderr, "%s:%d: expected an error with '%s', got '%s'\n", __FILE__,
            line, needle, st ? serve_status_message(st) : "success");
  }
  CHECK(!b.enabled);
  serve_status_free(st);
}
#define CHECK_FAILS(text, needle) check_fails((text), (needle), __LINE__)

/* A file allowing every batch size from 1 to max. */
static void every_size_up_to(int max, char *text) {
  size_t n =
      (size_t)sprintf(text, "max_batch_size: %d allowed_batch_sizes: [", max);
  for (int i = 1; i <= max; i++)
    n += (size_t)sprintf(text + n, "%s%d", i > 1 ? "," : "", i);
  sprintf(text + n, "]");
}

static void test_defaults(void) {
  serve_batching b;
  memset(&b, 0x5a, sizeof b);
  serve_batching_defaults(&b);
  CHECK(!b.enabled);
  CHECK(b.max_batch_size == 1000);
  CHECK(b.batch_timeout_micros == 0);
  CHECK(b.max_enqueued_batches == 10);
  CHECK(b.num_batch_threads == 0);
  CHECK(b.num_allowed_batch_sizes == 0);
  CHECK(!b.pad_variable_length_inputs);
}

static void test_every_field(void) {
  serve_batching b;
  serve_batching_defaults(&b);
  serve_status *st = parse(
      "# TF Serving's example\n"
      "max_batch_size { value: 8 }\n"
      "batch_timeout_micros { value: 1500 }\n"
      "max_enqueued_batches { value: 4 }\n"
      "num_batch_threads { value: 2 }\n"
      "allowed_batch_sizes: 2\n"
      "allowed_batch_sizes: 4\n"
      "allowed_batch_sizes: 8\n"
      "pad_variable_length_inputs: true\n",
      &b);
  CHECK(st == NULL);
  serve_status_free(st);
  CHECK(b.enabled);
  CHECK(b.max_batch_size == 8 && b.batch_timeout_micros == 1500);
  CHECK(b.max_enqueued_batches == 4 && b.num_batch_threads == 2);
  CHECK(b.num_allowed_batch_sizes == 3);
  CHECK(b.allowed_batch_sizes[0] == 2 && b.allowed_batch_sizes[1] == 4 &&
        b.allowed_batch_sizes[2] == 8);
  CHECK(b.pad_variable_length_inputs);
}

static void test_forms(void) {
  serve_batching b;
  serve_batching_defaults(&b);
  /* Plain scalars, a list, and allowed_batch_sizes last in the file. */
  serve_status *st = parse(
      "max_batch_size: 16 batch_timeout_micros: 0\n"
      "allowed_batch_sizes: [1, 4, 16]\n",
      &b);
  CHECK(st == NULL);
  serve_status_free(st);
  CHECK(b.enabled && b.max_batch_size == 16 && b.num_allowed_batch_sizes == 3);
  CHECK(b.allowed_batch_sizes[2] == 16);
  /* Repeated fields last in the file are each read once. */
  serve_batching_defaults(&b);
  st = parse(
      "max_batch_size { value: 8 }\nallowed_batch_sizes: 4\n"
      "allowed_batch_sizes: 8\n",
      &b);
  CHECK(st == NULL);
  serve_status_free(st);
  CHECK(b.num_allowed_batch_sizes == 2 && b.allowed_batch_sizes[0] == 4 &&
        b.allowed_batch_sizes[1] == 8);
  /* Fields the file omits keep the values given (the server's file under
   * a model's own). */
  serve_batching_defaults(&b);
  b.max_batch_size = 32;
  b.batch_timeout_micros = 77;
  b.num_batch_threads = 3;
  st = parse("max_enqueued_batches { value: 100 }", &b);
  CHECK(st == NULL);
  serve_status_free(st);
  CHECK(b.enabled && b.max_batch_size == 32 && b.batch_timeout_micros == 77);
  CHECK(b.num_batch_threads == 3 && b.max_enqueued_batches == 100);
  /* An empty file turns batching on with what was there. */
  serve_batching_defaults(&b);
  st = parse("", &b);
  CHECK(st == NULL && b.enabled && b.max_batch_size == 1000);
  serve_status_free(st);
  /* Exactly 32 allowed sizes. */
  char text[1024];
  every_size_up_to(32, text);
  serve_batching_defaults(&b);
  st = parse(text, &b);
  CHECK(st == NULL && b.num_allowed_batch_sizes == 32);
  serve_status_free(st);
}

static void test_rules(void) {
  CHECK_FAILS("max_batch_size { value: 8 }\nallowed_batch_sizes: [4, 2, 8]",
              "line 2: allowed_batch_sizes must be positive and increasing; "
              "2 is not");
  CHECK_FAILS("max_batch_size: 8 allowed_batch_sizes: [2, 2, 8]",
              "increasing; 2 is not");
  CHECK_FAILS("max_batch_size: 8 allowed_batch_sizes: [0, 8]",
              "increasing; 0 is not");
  CHECK_FAILS("max_batch_size: 8 allowed_batch_sizes: [-1, 8]",
              "increasing; -1 is not");
  CHECK_FAILS("max_batch_size: 8\nallowed_batch_sizes: [2, 4]",
              "the last of allowed_batch_sizes (4) must equal max_batch_size "
              "(8)");
  CHECK_FAILS("max_batch_size: 8\nallowed_batch_sizes: [2, 16]",
              "(16) must equal max_batch_size (8)");
  /* Without max_batch_size, its default (1000) is what they must end at. */
  CHECK_FAILS("allowed_batch_sizes: 8", "max_batch_size (1000)");
  char text[1024];
  every_size_up_to(33, text);
  CHECK_FAILS(text, "more than 32 allowed_batch_sizes");
  CHECK_FAILS("max_batch_size { value: 0 }",
              "line 1: max_batch_size is 0; it must be at least 1");
  CHECK_FAILS("\nbatch_timeout_micros: -1",
              "line 2: batch_timeout_micros is -1; it must be at least 0");
  CHECK_FAILS("max_enqueued_batches: 0", "at least 1");
  CHECK_FAILS("num_batch_threads: 0", "num_batch_threads is 0");
  CHECK_FAILS("max_batch_size: 'eight'", "'max_batch_size' must be an integer");
  CHECK_FAILS("max_batch_size { value: 1.5 }", "must be an integer");
  CHECK_FAILS("max_batch_size {}", "must be an integer");
  CHECK_FAILS("allowed_batch_sizes: x", "'allowed_batch_sizes' must be");
  CHECK_FAILS("pad_variable_length_inputs: maybe", "must be true or false");
  CHECK_FAILS("max_batch_size { value: 8 ", "'}' missing");
  CHECK_FAILS("max_batch_size 8", "line 1, column 16: expected ':'");
}

static void test_file(void) {
  char path[] = "/tmp/kiln-test-batching-XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  if (fd < 0) return;
  const char *text = "max_batch_size { value: 4 }\nallowed_batch_sizes: 3\n";
  CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
  close(fd);
  serve_batching b;
  serve_batching_defaults(&b);
  serve_status *st = serve_batching_parse_file(path, &b);
  CHECK(st && strstr(serve_status_message(st), path) &&
        strstr(serve_status_message(st), "(3) must equal max_batch_size (4)"));
  serve_status_free(st);
  unlink(path);
  st = serve_batching_parse_file(path, &b);
  CHECK(st && serve_status_code(st) == SERVE_INVALID_ARGUMENT);
  serve_status_free(st);
}

static void test_padded_size(void) {
  serve_batching b;
  serve_batching_defaults(&b);
  /* Any size is allowed: no padding. */
  for (int64_t n = 1; n <= 9; n++)
    CHECK(serve_batching_padded_size(&b, n) == n);
  serve_status *st =
      parse("max_batch_size: 8 allowed_batch_sizes: [2, 3, 8]", &b);
  CHECK(st == NULL);
  serve_status_free(st);
  const int64_t want[] = {2, 2, 2, 3, 8, 8, 8, 8, 8};
  for (int64_t n = 0; n <= 8; n++)
    CHECK(serve_batching_padded_size(&b, n) == want[n]);
  /* Larger than every allowed size (the scheduler never asks): as is. */
  CHECK(serve_batching_padded_size(&b, 9) == 9);
}

int main(void) {
  test_defaults();
  test_every_field();
  test_forms();
  test_rules();
  test_file();
  test_padded_size();
  return kiln_test_finish("test_serve_batching");
}
