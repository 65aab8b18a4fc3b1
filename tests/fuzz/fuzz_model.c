/* fuzz_model.c - libFuzzer target for the whole load path behind the public
 * API: import, constant folding, shape inference and planning of a session,
 * then one invoke. Any bytes must end in a clean status, never a crash, a
 * leak or a hang. Seeds: tests/fuzz/corpus/model/ (real .tflite files). */
#define _POSIX_C_SOURCE 200809L
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kiln.h"

/* STRING inputs cannot be borrowed (kiln_session_input_buffer refuses
 * them): their views are set, all empty. */
static kiln_status *set_empty_strings(kiln_session *session, int index,
                                      const kiln_tensor_info *info) {
  size_t count = 1;
  for (int d = 0; d < info->rank; d++) count *= (size_t)info->dims[d];
  kiln_string *views = calloc(count ? count : 1, sizeof *views);
  if (!views) return kiln_status_create(KILN_ERR_OUT_OF_MEMORY, "no memory");
  kiln_status *st =
      kiln_session_set_input(session, index, KILN_STRING, info->dims,
                             info->rank, views, count * sizeof *views);
  free(views);
  return st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Mutated shapes ask for absurd arenas; refusing big blocks keeps the run
 * inside libFuzzer's memory limit and exercises the out-of-memory paths. */
enum { LARGEST_BLOCK = 64 << 20 };

static void *capped_allocate(void *context, size_t size) {
  (void)context;
  return size > LARGEST_BLOCK ? NULL : malloc(size);
}
static void *capped_reallocate(void *context, void *pointer, size_t size) {
  (void)context;
  return size > LARGEST_BLOCK ? NULL : realloc(pointer, size);
}
static void capped_release(void *context, void *pointer) {
  (void)context;
  free(pointer);
}

/* Work bounded by the arena cap can still be long (a huge convolution on a
 * small arena); skip invoking models whose prepared FLOP count is large. */
#define LARGEST_RUN_FLOPS 5e7

/* A WHILE whose condition never turns false is a valid model that runs
 * until cancelled (as in LiteRT); the harness cancels every invoke after a
 * second, well inside libFuzzer's -timeout. */
static double seconds_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}
static int past_deadline(void *deadline) {
  return seconds_now() > *(const double *)deadline;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const kiln_allocator capped = {NULL, capped_allocate,
                                        capped_reallocate, capped_release};
  kiln_options options = kiln_options_default();
  options.allocator = &capped;
  kiln_model *model = NULL;
  kiln_session *session = NULL;
  kiln_status *st =
      kiln_model_load_buffer(data, size, "fuzz.tflite", &options, &model);
  if (!st) st = kiln_session_create(model, NULL, &session);
  kiln_session_stats stats;
  if (!st) st = kiln_session_stats_get(session, &stats);
  if (!st && stats.flops < LARGEST_RUN_FLOPS) {
    for (int i = 0; i < kiln_model_num_inputs(model) && !st; i++) {
      void *input;
      size_t nbytes;
      kiln_tensor_info info;
      st = kiln_session_input_info(session, i, &info);
      if (!st && info.dtype == KILN_STRING) { /* empty strings, copied in */
        st = set_empty_strings(session, i, &info);
        continue;
      }
      if (!st) st = kiln_session_input_buffer(session, i, &input, &nbytes);
      if (!st) memset(input, 0, nbytes);
    }
    double deadline = seconds_now() + 1.0;
    if (!st)
      st = kiln_session_set_cancel_check(session, past_deadline, &deadline);
    if (!st) st = kiln_session_invoke(session);
  }
  if (st && kiln_status_message(st)[0] == '\0') abort(); /* say what */
  kiln_status_free(st);
  kiln_session_free(session);
  kiln_model_free(model);
  return 0;
}
