/* harness.h - a tiny harness for kiln's C unit tests: checks that report
 * file:line and keep going, random data, and a closing summary. */
#ifndef KILN_TEST_HARNESS_H
#define KILN_TEST_HARNESS_H

#include <stdint.h>
#include <stdio.h>

#include "kiln.h"

extern int kiln_test_failures;
extern int kiln_test_checks;

#define CHECK(cond)                                                            \
  do {                                                                         \
    kiln_test_checks++;                                                        \
    if (!(cond)) {                                                             \
      kiln_test_failures++;                                                    \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                          \
  } while (0)

/* Expects a NULL status; prints and frees a non-NULL one. */
#define CHECK_OK(expr)                                                     \
  do {                                                                     \
    kiln_status *check_status_ = (expr);                                   \
    kiln_test_checks++;                                                    \
    if (check_status_) {                                                   \
      kiln_test_failures++;                                                \
      fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #expr, \
              kiln_status_message(check_status_));                         \
      kiln_status_free(check_status_);                                     \
    }                                                                      \
  } while (0)

/* Expects a status with `code` whose message contains `needle`. */
#define CHECK_ERROR(expr, code, needle) \
  kiln_test_check_error((expr), (code), (needle), #expr, __FILE__, __LINE__)

void kiln_test_check_error(kiln_status *status, kiln_status_code code,
                           const char *needle, const char *expr,
                           const char *file, int line);

/* Closeness of floats: |a-b| <= atol + rtol*|b|. Reports the first few
 * mismatches with their index. */
int kiln_test_close(const float *actual, const float *expected, int64_t count,
                    float atol, float rtol, const char *what);

/* Deterministic random numbers (xorshift), seeded per test. */
void kiln_test_seed(uint64_t seed);
uint32_t kiln_test_rand(void);
/* Uniform in [lo, hi). */
float kiln_test_uniform(float lo, float hi);
/* Uniform integer in [lo, hi]. */
int kiln_test_int(int lo, int hi);
void kiln_test_fill(float *data, int64_t count, float lo, float hi);

/* Prints "N passed, M failed" and returns the exit status for main. */
int kiln_test_finish(const char *name);

/* ---- running single operators (kernel tests) ---- */
#include "core/ops.h"

/* A tensor that owns zeroed data for its shape; free with
 * kiln_test_tensor_free. */
kiln_tensor *kiln_test_tensor(kiln_dtype dtype, int rank, const int64_t *dims);
/* A float32 tensor filled from `values` (count = product of dims), or with
 * uniform random numbers in [-1, 1) when values is NULL. */
kiln_tensor *kiln_test_tensor_f32(int rank, const int64_t *dims,
                                  const float *values);
/* An int32 tensor filled from `values`. */
kiln_tensor *kiln_test_tensor_i32(int rank, const int64_t *dims,
                                  const int32_t *values);
void kiln_test_tensor_free(kiln_tensor *t);
/* Frees `count` tensors; NULL entries are skipped. */
void kiln_test_tensors_free(kiln_tensor **tensors, int count);
/* A float32 [1] tensor to pass as an operator's output: kiln_test_run_op
 * gives it the inferred shape. */
kiln_tensor *kiln_test_output(void);
/* Whether t has rank `rank` and dimensions `dims`. */
bool kiln_test_has_shape(const kiln_tensor *t, int rank, const int64_t *dims);

/* Runs an operator as the runtime does: its shape function, then (after
 * allocating each output's data for its inferred shape) its reference
 * kernel. Outputs must come with their dtype set. */
kiln_status *kiln_test_run_op(kiln_op_type op, const void *attrs,
                              kiln_tensor **inputs, int num_inputs,
                              kiln_tensor **outputs, int num_outputs);
/* kiln_test_run_op for an operator with one output. */
kiln_status *kiln_test_run_op1(kiln_op_type op, const void *attrs,
                               kiln_tensor **inputs, int num_inputs,
                               kiln_tensor *output);

/* As the runtime does at load: the first variant of `op` that `isa` allows
 * and that packs ctx's node (of at most 8 inputs), asked with input 0's
 * data unknown as for a non-constant input. Sets *packed to its block
 * (libc-allocated) and returns it; NULL (and *packed NULL) when no variant
 * packs the node. */
struct kiln_kernel_variant;
const struct kiln_kernel_variant *kiln_test_pack_like_load(
    kiln_op_type op, kiln_isa isa, const kiln_op_ctx *ctx, void **packed);

/* The best level of this CPU for the float kernels: the detected one,
 * lowered to AVX-512 (the levels above it add only int8 instructions, so
 * the float kernels of AVX-512 are what runs there). */
kiln_isa kiln_test_float_isa(void);

/* ---- oracles, written independently of the kernels ---- */

/* A fused activation (NONE, RELU, RELU6, RELU_N1_TO_1, TANH, HARD_SWISH,
 * LOGISTIC or SWISH) applied to x, without kiln_activate: the others in
 * double, from their textbook formulas. */
float kiln_test_activate(float x, kiln_activation act);
/* The fused activations the optimized variants apply (the clamps, then
 * those their epilogue computes), and last TANH, which they leave to the
 * reference kernels. */
#define KILN_TEST_OPTIMIZED_ACTIVATIONS 7
extern const kiln_activation
    kiln_test_activations[KILN_TEST_OPTIMIZED_ACTIVATIONS + 1];
/* One of the activations kiln_test_activate knows, chosen at random. */
kiln_activation kiln_test_random_activation(void);
/* Positions of a window spanning `span` elements that slides over `in`
 * elements with `stride`, counted by sliding it: SAME keeps every position
 * that starts inside the input, VALID every one that ends inside it. */
int64_t kiln_test_window_positions(int64_t in, int64_t span, int stride,
                                   kiln_padding padding);

/* ---- an embedder allocator that counts and fails on purpose ---- */

/* Counts calls and live blocks; call number fail_at (from 0) returns NULL,
 * and fail_at < 0 never fails. `hooks` points back at it. */
typedef struct kiln_test_allocator {
  long calls, live, fail_at;
  kiln_allocator hooks;
} kiln_test_allocator;

/* Resets *t with a new fail_at and returns its hooks for kiln_options or
 * the graph API. */
const kiln_allocator *kiln_test_allocator_init(kiln_test_allocator *t,
                                               long fail_at);

#endif
