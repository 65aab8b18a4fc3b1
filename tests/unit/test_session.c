/* test_session.c - the public life cycle on a real converter-made model
 * (tests/data/dynamic_batch_cnn.tflite): resize and re-prepare, many
 * sessions over one model on several threads, no heap allocation in invoke,
 * clear errors for wrong inputs, and clean failure at every allocation. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define MODEL_PATH "tests/data/dynamic_batch_cnn.tflite"
enum { H = 6, W = 6, C = 2, CLASSES = 5 };

/* ---- every malloc of the process, counted while `counting` is set ---- */
void *__real_malloc(size_t size);
void *__real_calloc(size_t count, size_t size);
void *__real_realloc(void *pointer, size_t size);
void __real_free(void *pointer);
static volatile int counting = 0;
static volatile long heap_calls = 0;

void *__wrap_malloc(size_t size) {
  if (counting) heap_calls++;
  return __real_malloc(size);
}
void *__wrap_calloc(size_t count, size_t size) {
  if (counting) heap_calls++;
  return __real_calloc(count, size);
}
void *__wrap_realloc(void *pointer, size_t size) {
  if (counting) heap_calls++;
  return __real_realloc(pointer, size);
}
void __wrap_free(void *pointer) {
  if (counting && pointer) heap_calls++;
  __real_free(pointer);
}

static void random_batch(float *data, int batch) {
  kiln_test_fill(data, (int64_t)batch * H * W * C, -1.0f, 1.0f);
}

/* Runs one batch and checks each row of probabilities sums to 1. */
static void run_batch(kiln_session *s, const float *input, int batch,
                      float *probabilities) {
  int64_t dims[4] = {batch, H, W, C};
  size_t in_bytes = sizeof(float) * (size_t)batch * H * W * C;
  CHECK_OK(
      kiln_session_set_input(s, 0, KILN_FLOAT32, dims, 4, input, in_bytes));
  CHECK_OK(kiln_session_invoke(s));
  CHECK_OK(kiln_session_get_output(s, 0, probabilities,
                                   sizeof(float) * (size_t)batch * CLASSES));
  for (int b = 0; b < batch; b++) {
    float sum = 0;
    for (int k = 0; k < CLASSES; k++) sum += probabilities[b * CLASSES + k];
    CHECK(sum > 0.999f && sum < 1.001f);
  }
}

static void test_model_info(const kiln_model *model) {
  CHECK(kiln_model_num_inputs(model) == 1);
  CHECK(kiln_model_num_outputs(model) == 1);
  kiln_tensor_info info;
  CHECK_OK(kiln_model_input_info(model, 0, &info));
  CHECK(strcmp(info.name, "pixels") == 0);
  CHECK(info.dtype == KILN_FLOAT32 && info.rank == 4);
  CHECK(info.dims[0] == -1 && info.dims[1] == H && info.dims[3] == C);
  CHECK_OK(kiln_model_output_info(model, 0, &info));
  CHECK(info.rank == 2 && info.dims[0] == -1 && info.dims[1] == CLASSES);
  int index = -1;
  CHECK_OK(kiln_model_find_input(model, "pixels", &index));
  CHECK(index == 0);
  CHECK_ERROR(kiln_model_find_input(model, "image", &index),
              KILN_ERR_INVALID_ARGUMENT, "'pixels'");
  CHECK_ERROR(kiln_model_input_info(model, 1, &info), KILN_ERR_INVALID_ARGUMENT,
              "out of range");
}

/* Batch 7 after batch 1: rows agree with the batch-1 answer for the same
 * sample, and invoke before re-prepare is refused. */
static void test_resize(const kiln_model *model) {
  kiln_session *s = NULL;
  CHECK_OK(kiln_session_create(model, NULL, &s));
  if (!s) return;
  float input[7 * H * W * C], one[CLASSES], seven[7 * CLASSES];
  random_batch(input, 7);
  run_batch(s, input, 1, one);
  int64_t dims7[4] = {7, H, W, C};
  CHECK_OK(kiln_session_resize_input(s, 0, dims7, 4));
  CHECK_ERROR(kiln_session_invoke(s), KILN_ERR_FAILED_PRECONDITION, "prepare");
  CHECK_OK(kiln_session_prepare(s));
  kiln_tensor_info out;
  CHECK_OK(kiln_session_output_info(s, 0, &out));
  CHECK(out.dims[0] == 7 && out.dims[1] == CLASSES);
  run_batch(s, input, 7, seven);
  kiln_test_close(seven, one, CLASSES, 1e-6f, 1e-5f, "batch 7 row 0");
  int64_t fixed[4] = {1, H + 1, W, C};
  CHECK_ERROR(kiln_session_resize_input(s, 0, fixed, 4),
              KILN_ERR_INVALID_ARGUMENT, "dimension 1 is fixed");
  int64_t rank3[3] = {1, H, W};
  CHECK_ERROR(kiln_session_resize_input(s, 0, rank3, 3),
              KILN_ERR_INVALID_ARGUMENT, "rank 4");
  kiln_session_free(s);
}

static void test_bad_inputs(const kiln_model *model) {
  kiln_session *s = NULL;
  CHECK_OK(kiln_session_create(model, NULL, &s));
  if (!s) return;
  float input[H * W * C] = {0};
  int32_t ints[H * W * C] = {0};
  int64_t dims[4] = {1, H, W, C}, wrong[4] = {1, W, H + 1, C};
  CHECK_ERROR(
      kiln_session_set_input(s, 0, KILN_INT32, dims, 4, ints, sizeof ints),
      KILN_ERR_INVALID_ARGUMENT, "expects float32 data; got int32");
  CHECK_ERROR(
      kiln_session_set_input(s, 0, KILN_FLOAT32, wrong, 4, input, sizeof input),
      KILN_ERR_INVALID_ARGUMENT, "expects shape [1,6,6,2]; got [1,6,7,2]");
  CHECK_ERROR(kiln_session_set_input(s, 0, KILN_FLOAT32, dims, 4, input, 8),
              KILN_ERR_INVALID_ARGUMENT, "takes 288 bytes; got 8");
  CHECK_ERROR(
      kiln_session_set_input(s, 3, KILN_FLOAT32, dims, 4, input, sizeof input),
      KILN_ERR_INVALID_ARGUMENT, "input index 3");
  float small[2];
  CHECK_ERROR(kiln_session_get_output(s, 0, small, sizeof small),
              KILN_ERR_INVALID_ARGUMENT, "needs 20 bytes");
  kiln_session_free(s);
}

static void test_invoke_allocates_nothing(const kiln_model *model) {
  kiln_session *s = NULL;
  CHECK_OK(kiln_session_create(model, NULL, &s));
  if (!s) return;
  float input[3 * H * W * C], probabilities[3 * CLASSES];
  random_batch(input, 3);
  int64_t dims[4] = {3, H, W, C};
  CHECK_OK(kiln_session_resize_input(s, 0, dims, 4));
  CHECK_OK(kiln_session_prepare(s));
  CHECK_OK(
      kiln_session_set_input(s, 0, KILN_FLOAT32, dims, 4, input, sizeof input));
  float first[3 * CLASSES];
  CHECK_OK(kiln_session_invoke(s));
  CHECK_OK(kiln_session_get_output(s, 0, first, sizeof first));
  heap_calls = 0;
  counting = 1;
  kiln_status *st = NULL;
  for (int i = 0; i < 5 && !st; i++) st = kiln_session_invoke(s);
  counting = 0;
  CHECK_OK(st);
  CHECK(heap_calls == 0);
  if (heap_calls) fprintf(stderr, "invoke made %ld heap calls\n", heap_calls);
  CHECK_OK(kiln_session_get_output(s, 0, probabilities, sizeof probabilities));
  /* Inputs survive an invoke, so repeated runs give the same answer. */
  CHECK(memcmp(first, probabilities, sizeof first) == 0);
  /* Re-preparing for the same shape must not grow the arena either. */
  kiln_session_stats before, after;
  CHECK_OK(kiln_session_stats_get(s, &before));
  CHECK_OK(kiln_session_prepare(s));
  CHECK_OK(kiln_session_stats_get(s, &after));
  CHECK(before.arena_bytes == after.arena_bytes);
  CHECK(after.arena_bytes <= after.naive_bytes);
  CHECK(after.flops > 0);
  kiln_session_free(s);
}

typedef struct worker {
  const kiln_model *model;
  const float *input;
  float output[4 * CLASSES];
  int ok;
} worker;

static void *run_worker(void *arg) {
  worker *w = arg;
  kiln_session *s = NULL;
  kiln_status *st = kiln_session_create(w->model, NULL, &s);
  int64_t dims[4] = {4, H, W, C};
  if (!st) st = kiln_session_resize_input(s, 0, dims, 4);
  if (!st) st = kiln_session_prepare(s);
  for (int i = 0; i < 20 && !st; i++) {
    st = kiln_session_set_input(s, 0, KILN_FLOAT32, dims, 4, w->input,
                                sizeof(float) * 4 * H * W * C);
    if (!st) st = kiln_session_invoke(s);
  }
  if (!st) st = kiln_session_get_output(s, 0, w->output, sizeof w->output);
  w->ok = st == NULL;
  kiln_status_free(st);
  kiln_session_free(s);
  return NULL;
}

/* Sessions share the model read-only: concurrent runs agree exactly. */
static void test_sessions_on_threads(const kiln_model *model) {
  float input[4 * H * W * C];
  random_batch(input, 4);
  worker workers[3];
  pthread_t threads[3];
  for (int i = 0; i < 3; i++) {
    workers[i] = (worker){model, input, {0}, 0};
    pthread_create(&threads[i], NULL, run_worker, &workers[i]);
  }
  for (int i = 0; i < 3; i++) pthread_join(threads[i], NULL);
  for (int i = 0; i < 3; i++) {
    CHECK(workers[i].ok);
    CHECK(memcmp(workers[i].output, workers[0].output,
                 sizeof workers[0].output) == 0);
  }
}

static unsigned char *read_file(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long length = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *bytes = malloc((size_t)length);
  *size = fread(bytes, 1, (size_t)length, f);
  fclose(f);
  return bytes;
}

/* SQLite's habit: fail the Nth allocation for every N until the work
 * succeeds; each failure must be a clean OUT_OF_MEMORY with nothing left. */
static void test_every_allocation_failure(void) {
  size_t size = 0;
  unsigned char *bytes = read_file(MODEL_PATH, &size);
  CHECK(bytes != NULL);
  if (!bytes) return;
  int loads_failed = 0, creates_failed = 0;
  for (long n = 0; n < 100000; n++) {
    kiln_test_allocator t;
    kiln_options options = kiln_options_default();
    options.allocator = kiln_test_allocator_init(&t, n);
    kiln_model *model = NULL;
    kiln_session *s = NULL;
    kiln_status *st =
        kiln_model_load_buffer(bytes, size, "fixture", &options, &model);
    if (st) loads_failed++;
    if (!st) {
      st = kiln_session_create(model, NULL, &s);
      if (st) creates_failed++;
    }
    if (st) CHECK(kiln_status_get_code(st) == KILN_ERR_OUT_OF_MEMORY);
    if (!st) {
      float input[H * W * C] = {0};
      int64_t dims[4] = {1, H, W, C};
      CHECK_OK(kiln_session_set_input(s, 0, KILN_FLOAT32, dims, 4, input,
                                      sizeof input));
      CHECK_OK(kiln_session_invoke(s));
    }
    int done = st == NULL;
    kiln_status_free(st);
    kiln_session_free(s);
    kiln_model_free(model);
    CHECK(t.live == 0);
    if (done) break;
  }
  CHECK(loads_failed > 10);
  CHECK(creates_failed > 5);
  free(bytes);
}

/* Quantized fixtures (tests/data/make_fixtures.py): int8 throughout with
 * int8 I/O, and dynamic range (hybrid conv and dense). Their parameters
 * are built at load, so invoke still allocates nothing, and every
 * allocation of load and session creation may fail cleanly. */
static void test_quantized_model(const char *path) {
  size_t size = 0;
  unsigned char *bytes = read_file(path, &size);
  CHECK(bytes != NULL);
  if (!bytes) return;
  enum { COUNT = 6 * 6 * 8 };
  int64_t dims[4] = {1, 6, 6, 8};
  int8_t input8[COUNT];
  float input32[COUNT];
  for (int i = 0; i < COUNT; i++) {
    input8[i] = (int8_t)kiln_test_int(-128, 127);
    input32[i] = kiln_test_uniform(-1, 1);
  }
  int loads_failed = 0;
  for (long n = 0; n < 100000; n++) {
    kiln_test_allocator t;
    kiln_options options = kiln_options_default();
    options.allocator = kiln_test_allocator_init(&t, n);
    kiln_model *model = NULL;
    kiln_session *s = NULL;
    kiln_status *st =
        kiln_model_load_buffer(bytes, size, path, &options, &model);
    if (st) loads_failed++;
    if (!st) st = kiln_session_create(model, NULL, &s);
    if (st) CHECK(kiln_status_get_code(st) == KILN_ERR_OUT_OF_MEMORY);
    int done = st == NULL;
    if (done) {
      kiln_tensor_info info;
      CHECK_OK(kiln_model_input_info(model, 0, &info));
      bool int8 = info.dtype == KILN_INT8;
      CHECK_OK(kiln_session_set_input(s, 0, info.dtype, dims, 4,
                                      int8 ? (void *)input8 : (void *)input32,
                                      int8 ? sizeof input8 : sizeof input32));
      CHECK_OK(kiln_session_invoke(s));
      heap_calls = 0;
      counting = 1;
      kiln_status *run = NULL;
      for (int i = 0; i < 3 && !run; i++) run = kiln_session_invoke(s);
      counting = 0;
      CHECK_OK(run);
      CHECK(heap_calls == 0);
    }
    kiln_status_free(st);
    kiln_session_free(s);
    kiln_model_free(model);
    CHECK(t.live == 0);
    if (done) break;
  }
  CHECK(loads_failed > 10);
  free(bytes);
}

int main(void) {
  kiln_test_seed(11);
  kiln_model *model = NULL;
  CHECK_OK(kiln_model_load_file(MODEL_PATH, NULL, &model));
  if (!model) return kiln_test_finish("test_session");
  test_model_info(model);
  test_resize(model);
  test_bad_inputs(model);
  test_invoke_allocates_nothing(model);
  test_sessions_on_threads(model);
  kiln_model_free(model);
  test_every_allocation_failure();
  test_quantized_model("tests/data/quantized_cnn_int8.tflite");
  test_quantized_model("tests/data/quantized_cnn_dynamic.tflite");
  CHECK_ERROR(
      kiln_model_load_file("tests/data/no-such-model.tflite", NULL, &model),
      KILN_ERR_IO, "no-such-model.tflite: cannot open");
  return kiln_test_finish("test_session");
}
