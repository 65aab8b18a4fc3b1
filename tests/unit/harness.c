/* test_util.c - the unit-test harness. */
#include "harness.h"

#include <math.h>
#include <string.h>

int kiln_test_failures = 0;
int kiln_test_checks = 0;
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

void kiln_test_check_error(kiln_status *status, kiln_status_code code,
                           const char *needle, const char *expr,
                           const char *file, int line) {
  kiln_test_checks++;
  if (!status) {
    kiln_test_failures++;
    fprintf(stderr, "%s:%d: %s succeeded; expected %s error\n", file, line,
            expr, kiln_status_code_name(code));
    return;
  }
  const char *message = kiln_status_message(status);
  if (kiln_status_get_code(status) != code ||
      (needle && !strstr(message, needle))) {
    kiln_test_failures++;
    fprintf(stderr, "%s:%d: %s gave %s '%s'; expected %s containing '%s'\n",
            file, line, expr,
            kiln_status_code_name(kiln_status_get_code(status)), message,
            kiln_status_code_name(code), needle ? needle : "");
  }
  kiln_status_free(status);
}

int kiln_test_close(const float *actual, const float *expected, int64_t count,
                    float atol, float rtol, const char *what) {
  int bad = 0;
  kiln_test_checks++;
  for (int64_t i = 0; i < count; i++) {
    float a = actual[i], e = expected[i];
    int ok = (isnan(a) && isnan(e)) || (a == e) ||
             fabsf(a - e) <= atol + rtol * fabsf(e);
    if (!ok) {
      if (bad < 5)
        fprintf(stderr, "%s: element %lld: got %.9g expected %.9g\n", what,
                (long long)i, a, e);
      bad++;
    }
  }
  if (bad) {
    kiln_test_failures++;
    fprintf(stderr, "%s: %d of %lld elements differ\n", what, bad,
            (long long)count);
  }
  return bad == 0;
}

void kiln_test_seed(uint64_t seed) { rng_state = seed ? seed : 1; }

uint32_t kiln_test_rand(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (uint32_t)(rng_state >> 16);
}

float kiln_test_uniform(float lo, float hi) {
  return lo + (hi - lo) * (float)(kiln_test_rand() / 4294967296.0);
}

int kiln_test_int(int lo, int hi) {
  return (int)((int64_t)lo +
               (int64_t)(kiln_test_rand() % (uint32_t)((int64_t)hi - lo + 1)));
}

void kiln_test_fill(float *data, int64_t count, float lo, float hi) {
  for (int64_t i = 0; i < count; i++) data[i] = kiln_test_uniform(lo, hi);
}

int kiln_test_finish(const char *name) {
  printf("%s: %d passed, %d failed\n", name,
         kiln_test_checks - kiln_test_failures, kiln_test_failures);
  return kiln_test_failures ? 1 : 0;
}

#include <stdlib.h>

#include "core/alloc.h"
#include "kernels/ref/quant_params.h"
#include "kernels/variants.h"

kiln_tensor *kiln_test_tensor(kiln_dtype dtype, int rank, const int64_t *dims) {
  kiln_tensor *t = calloc(1, sizeof *t);
  t->dtype = dtype;
  kiln_set_shape(t, dims, rank);
  t->data = calloc(kiln_tensor_nbytes(t) + 1, 1);
  return t;
}

kiln_tensor *kiln_test_tensor_f32(int rank, const int64_t *dims,
                                  const float *values) {
  kiln_tensor *t = kiln_test_tensor(KILN_FLOAT32, rank, dims);
  int64_t n = kiln_tensor_numel(t);
  if (values)
    memcpy(t->data, values, (size_t)n * sizeof(float));
  else
    kiln_test_fill(t->data, n, -1.0f, 1.0f);
  return t;
}

kiln_tensor *kiln_test_tensor_i32(int rank, const int64_t *dims,
                                  const int32_t *values) {
  kiln_tensor *t = kiln_test_tensor(KILN_INT32, rank, dims);
  memcpy(t->data, values, (size_t)kiln_tensor_numel(t) * sizeof(int32_t));
  return t;
}

void kiln_test_tensor_free(kiln_tensor *t) {
  if (!t) return;
  free(t->data);
  free(t);
}

void kiln_test_tensors_free(kiln_tensor **tensors, int count) {
  for (int i = 0; i < count; i++) kiln_test_tensor_free(tensors[i]);
}

kiln_tensor *kiln_test_output(void) {
  int64_t dims[1] = {1};
  return kiln_test_tensor(KILN_FLOAT32, 1, dims);
}

bool kiln_test_has_shape(const kiln_tensor *t, int rank, const int64_t *dims) {
  if (t->rank != rank) return false;
  for (int i = 0; i < rank; i++)
    if (t->dims[i] != dims[i]) return false;
  return true;
}

kiln_status *kiln_test_run_op(kiln_op_type op, const void *attrs,
                              kiln_tensor **inputs, int num_inputs,
                              kiln_tensor **outputs, int num_outputs) {
  kiln_op_ctx ctx = {attrs,       inputs, num_inputs, outputs,
                     num_outputs, NULL,   NULL,       NULL};
  /* Quantized nodes get their parameters as the model builds them at
   * load. */
  kiln_quant_params *quant = NULL;
  KILN_TRY(kiln_quant_params_build(op, &ctx, NULL, &quant));
  ctx.quant = quant;
  kiln_status *st = kiln_op_table[op].shape(&ctx);
  for (int i = 0; !st && i < num_outputs; i++) {
    free(outputs[i]->data);
    outputs[i]->data = calloc(kiln_tensor_nbytes(outputs[i]) + 1, 1);
  }
  if (!st) st = kiln_op_table[op].reference(&ctx);
  kiln_free(NULL, quant);
  return st;
}

kiln_status *kiln_test_run_op1(kiln_op_type op, const void *attrs,
                               kiln_tensor **inputs, int num_inputs,
                               kiln_tensor *output) {
  kiln_tensor *outputs[1] = {output};
  return kiln_test_run_op(op, attrs, inputs, num_inputs, outputs, 1);
}

kiln_isa kiln_test_float_isa(void) {
  kiln_isa best = kiln_isa_resolve(KILN_ISA_AUTO);
  return best > KILN_ISA_AVX512 ? KILN_ISA_AVX512 : best;
}

const kiln_kernel_variant *kiln_test_pack_like_load(kiln_op_type op,
                                                    kiln_isa isa,
                                                    const kiln_op_ctx *ctx,
                                                    void **packed) {
  /* Every input as the caller gave it, but input 0 unknown. */
  enum { MAX_INPUTS = 8 };
  kiln_tensor input = *ctx->inputs[0];
  input.data = NULL;
  kiln_tensor *inputs[MAX_INPUTS] = {&input};
  CHECK(ctx->num_inputs <= MAX_INPUTS);
  for (int i = 1; i < ctx->num_inputs && i < MAX_INPUTS; i++)
    inputs[i] = ctx->inputs[i];
  kiln_op_ctx load = *ctx;
  load.inputs = inputs;
  int index = 0;
  *packed = NULL;
  for (const kiln_kernel_variant *v = kiln_variant_packer(op, isa, 0, &index);
       v; v = kiln_variant_packer(op, isa, index + 1, &index)) {
    CHECK_OK(v->pack(&load, NULL, packed));
    if (*packed) return v;
  }
  return NULL;
}

float kiln_test_activate(float x, kiln_activation act) {
  double d = x;
  if (act == KILN_ACT_HARD_SWISH)
    return d <= -3.0 ? 0.0f : (float)(d * fmin(d + 3.0, 6.0) / 6.0);
  if (act == KILN_ACT_LOGISTIC) return (float)(1.0 / (1.0 + exp(-d)));
  if (act == KILN_ACT_SWISH) return (float)(d / (1.0 + exp(-d)));
  switch (act) {
    case KILN_ACT_RELU:
      return fmaxf(x, 0.0f);
    case KILN_ACT_RELU6:
      return fminf(fmaxf(x, 0.0f), 6.0f);
    case KILN_ACT_RELU_N1_TO_1:
      return fminf(fmaxf(x, -1.0f), 1.0f);
    case KILN_ACT_TANH:
      return tanhf(x);
    default:
      return x;
  }
}

const kiln_activation
    kiln_test_activations[KILN_TEST_OPTIMIZED_ACTIVATIONS + 1] = {
        KILN_ACT_NONE,         KILN_ACT_RELU,       KILN_ACT_RELU6,
        KILN_ACT_RELU_N1_TO_1, KILN_ACT_HARD_SWISH, KILN_ACT_LOGISTIC,
        KILN_ACT_SWISH,        KILN_ACT_TANH};

kiln_activation kiln_test_random_activation(void) {
  return kiln_test_activations[kiln_test_int(0,
                                             KILN_TEST_OPTIMIZED_ACTIVATIONS)];
}

int64_t kiln_test_window_positions(int64_t in, int64_t span, int stride,
                                   kiln_padding padding) {
  int64_t n = 0;
  if (padding == KILN_PAD_SAME)
    while (n * stride < in) n++;
  else
    while (n * stride + span <= in) n++;
  return n;
}

static void *test_allocate(void *context, size_t size) {
  kiln_test_allocator *t = context;
  if (t->fail_at >= 0 && t->calls++ == t->fail_at) return NULL;
  void *p = malloc(size);
  if (p) t->live++;
  return p;
}

static void *test_reallocate(void *context, void *pointer, size_t size) {
  kiln_test_allocator *t = context;
  if (t->fail_at >= 0 && t->calls++ == t->fail_at) return NULL;
  void *p = realloc(pointer, size);
  if (p && !pointer) t->live++;
  return p;
}

static void test_release(void *context, void *pointer) {
  kiln_test_allocator *t = context;
  if (pointer) t->live--;
  free(pointer);
}

const kiln_allocator *kiln_test_allocator_init(kiln_test_allocator *t,
                                               long fail_at) {
  t->calls = 0;
  t->live = 0;
  t->fail_at = fail_at;
  t->hooks = (kiln_allocator){t, test_allocate, test_reallocate, test_release};
  return &t->hooks;
}
