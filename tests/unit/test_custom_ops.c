/* test_custom_ops.c - the custom operator API of kiln.h: registries per
 * model, the life cycle of the callbacks (init once per node at load,
 * prepare per session prepare, invoke per invoke with no allocation,
 * release at model free), options bytes, scratch, and every misuse or
 * failure as a clear status. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "formats/tflite/tflite_schema.h"
#include "harness.h"
#include "kiln.h"
#include "tflite_builder.c"

/* Counts of callback calls, through user_data. */
typedef struct counters {
  int init, release, prepare, invoke;
  float offset; /* what the "Affine" op adds */
} counters;

/* "Affine": y = x * scale + offset, scale from 4 option bytes (float),
 * offset from user_data. Needs 4 floats of scratch. */
static kiln_status *affine_init(void *user, const void *options, size_t size,
                                void **state) {
  counters *c = user;
  c->init++;
  if (size != 4)
    return kiln_status_create(KILN_ERR_INVALID_MODEL,
                              "Affine takes 4 option bytes (a float), not %zu",
                              size);
  float *scale = malloc(sizeof *scale);
  memcpy(scale, options, 4);
  *state = scale;
  return NULL;
}

static void affine_release(void *user, void *state) {
  counters *c = user;
  c->release++;
  free(state);
}

static kiln_status *affine_prepare(kiln_custom_context *ctx) {
  counters *c = kiln_custom_user_data(ctx);
  c->prepare++;
  const kiln_custom_tensor *x = kiln_custom_input(ctx, 0);
  if (kiln_custom_num_inputs(ctx) != 1 || kiln_custom_num_outputs(ctx) != 1 ||
      !x)
    return kiln_status_create(KILN_ERR_INVALID_MODEL, "one input, one output");
  if (x->dtype != KILN_FLOAT32)
    return kiln_status_create(KILN_ERR_INVALID_MODEL, "x is %s, not float32",
                              kiln_dtype_name(x->dtype));
  if (x->rank > 0 && x->dims[0] == 13)
    return kiln_status_create(KILN_ERR_INVALID_ARGUMENT,
                              "Affine refuses a batch of 13");
  size_t size = 0;
  const void *options = kiln_custom_options(ctx, &size);
  if (size != 4 || !options || !kiln_custom_node_state(ctx))
    return kiln_status_create(KILN_ERR_INTERNAL, "options or state lost");
  kiln_custom_tensor *y = kiln_custom_output(ctx, 0);
  y->rank = x->rank;
  memcpy(y->dims, x->dims, sizeof y->dims);
  if (y->data) return kiln_status_create(KILN_ERR_INTERNAL, "output data");
  if (kiln_custom_scratch(ctx))
    return kiln_status_create(KILN_ERR_INTERNAL, "scratch at prepare");
  return kiln_custom_request_scratch(ctx, 4 * sizeof(float));
}

static kiln_status *affine_invoke(kiln_custom_context *ctx) {
  counters *c = kiln_custom_user_data(ctx);
  c->invoke++;
  const kiln_custom_tensor *x = kiln_custom_input(ctx, 0);
  kiln_custom_tensor *y = kiln_custom_output(ctx, 0);
  float scale = *(const float *)kiln_custom_node_state(ctx);
  float *scratch = kiln_custom_scratch(ctx);
  if (!scratch || ((uintptr_t)scratch & 63))
    return kiln_status_create(KILN_ERR_RUNTIME, "no aligned scratch");
  kiln_status *misuse = kiln_custom_request_scratch(ctx, 8);
  bool refused = kiln_status_get_code(misuse) == KILN_ERR_FAILED_PRECONDITION;
  kiln_status_free(misuse);
  if (!refused)
    return kiln_status_create(KILN_ERR_INTERNAL, "scratch request at invoke");
  int64_t n = 1;
  for (int d = 0; d < x->rank; d++) n *= x->dims[d];
  const float *in = x->data;
  float *out = y->data;
  for (int64_t i = 0; i < n; i++) {
    if (in[i] != in[i])
      return kiln_status_create(KILN_ERR_RUNTIME, "NaN at element %lld",
                                (long long)i);
    scratch[i % 4] = in[i] * scale;
    out[i] = scratch[i % 4] + c->offset;
  }
  return NULL;
}

static kiln_custom_op affine_op(counters *c) {
  kiln_custom_op op = {sizeof op,    "Affine",       c,
                       affine_init,  affine_release, affine_prepare,
                       affine_invoke};
  return op;
}

/* x [-1,3] -> Affine -> y -> RELU -> z; the Affine option is `scale`. */
static uint8_t *affine_model(const char *code, const void *options,
                             size_t options_size, size_t *size) {
  tb_model m;
  memset(&m, 0, sizeof m);
  m.num_opcodes = 2;
  m.opcodes[0] = (tb_opcode){TFL_OP_CUSTOM, TFL_OP_CUSTOM, code};
  m.opcodes[1] = (tb_opcode){TFL_OP_RELU, TFL_OP_RELU, NULL};
  m.num_tensors = 3;
  const char *names[3] = {"x", "y", "z"};
  for (int i = 0; i < 3; i++) {
    m.tensors[i].name = names[i];
    m.tensors[i].type = TFL_TYPE_FLOAT32;
    m.tensors[i].rank = 2;
    m.tensors[i].shape[0] = 1;
    m.tensors[i].shape[1] = 3;
    m.tensors[i].has_signature = true;
    m.tensors[i].sig_rank = 2;
    m.tensors[i].signature[0] = -1;
    m.tensors[i].signature[1] = 3;
  }
  m.num_inputs = 1;
  m.inputs[0] = 0;
  m.num_outputs = 1;
  m.outputs[0] = 2;
  m.num_operators = 2;
  m.operators[0] = (tb_operator){.opcode_index = 0,
                                 .num_inputs = 1,
                                 .inputs = {0},
                                 .num_outputs = 1,
                                 .outputs = {1},
                                 .custom_options = options,
                                 .custom_options_size = options_size};
  m.operators[1] = (tb_operator){.opcode_index = 1,
                                 .num_inputs = 1,
                                 .inputs = {1},
                                 .num_outputs = 1,
                                 .outputs = {2}};
  m.num_buffers = 1;
  return tb_build(&m, size);
}

/* Counting allocator: invoke must not call it. */
typedef struct counting {
  long calls;
} counting;

static void *count_alloc(void *ctx, size_t size) {
  ((counting *)ctx)->calls++;
  return malloc(size);
}
static void *count_realloc(void *ctx, void *p, size_t size) {
  ((counting *)ctx)->calls++;
  return realloc(p, size);
}
static void count_free(void *ctx, void *p) {
  (void)ctx;
  free(p);
}

static kiln_status *load(const uint8_t *bytes, size_t size,
                         const kiln_op_registry *ops, kiln_model **out) {
  kiln_options options = kiln_options_default();
  options.num_threads = 1;
  options.custom_ops = ops;
  return kiln_model_load_buffer(bytes, size, "custom.tflite", &options, out);
}

/* Runs x [rows,3] through a model; z = relu(x * scale + offset). */
static void check_run(kiln_model *model, int rows, float scale, float offset,
                      counting *count) {
  kiln_session *s = NULL;
  CHECK_OK(kiln_session_create(model, NULL, &s));
  if (!s) return;
  int64_t dims[2] = {rows, 3};
  CHECK_OK(kiln_session_resize_input(s, 0, dims, 2));
  CHECK_OK(kiln_session_prepare(s));
  float x[3 * 8], z[3 * 8], want[3 * 8];
  kiln_test_fill(x, 3 * rows, -2, 2);
  for (int i = 0; i < 3 * rows; i++) {
    float v = x[i] * scale + offset;
    want[i] = v < 0 ? 0 : v;
  }
  CHECK_OK(kiln_session_set_input(s, 0, KILN_FLOAT32, dims, 2, x,
                                  sizeof(float) * 3 * (size_t)rows));
  long before = count ? count->calls : 0;
  CHECK_OK(kiln_session_invoke(s));
  if (count) CHECK(count->calls == before);
  CHECK_OK(kiln_session_get_output(s, 0, z, sizeof(float) * 3 * (size_t)rows));
  CHECK(kiln_test_close(z, want, 3 * rows, 0, 0, "affine"));
  kiln_session_free(s);
}

static void test_life_cycle(void) {
  kiln_test_seed(3);
  counters c = {0};
  c.offset = 0.5f;
  float scale = 1.5f;
  size_t size;
  uint8_t *bytes = affine_model("Affine", &scale, 4, &size);
  kiln_op_registry *ops = NULL;
  CHECK_OK(kiln_op_registry_create(&ops));
  kiln_custom_op op = affine_op(&c);
  CHECK_OK(kiln_op_registry_add(ops, &op));
  counting count = {0};
  kiln_allocator alloc = {&count, count_alloc, count_realloc, count_free};
  kiln_options options = kiln_options_default();
  options.num_threads = 1;
  options.custom_ops = ops;
  options.allocator = &alloc;
  kiln_model *model = NULL;
  CHECK_OK(
      kiln_model_load_buffer(bytes, size, "affine.tflite", &options, &model));
  /* The registry may go once the model is loaded. */
  kiln_op_registry_free(ops);
  CHECK(c.init == 1 && c.invoke == 0);
  if (model) {
    CHECK(strcmp(kiln_model_source_op_name(model, 0), "Affine") == 0);
    check_run(model, 1, scale, c.offset, &count);
    check_run(model, 5, scale, c.offset, &count);
    CHECK(c.prepare >= 2 && c.invoke == 2 && c.init == 1);
    /* A batch the op refuses fails prepare with its message, prefixed. */
    kiln_session *s = NULL;
    CHECK_OK(kiln_session_create(model, NULL, &s));
    int64_t dims[2] = {13, 3};
    CHECK_OK(kiln_session_resize_input(s, 0, dims, 2));
    CHECK_ERROR(kiln_session_prepare(s), KILN_ERR_INVALID_ARGUMENT,
                "affine.tflite: operator 0 (CUSTOM): custom operator "
                "'Affine': Affine refuses a batch of 13");
    /* Data-dependent failures come from invoke. */
    dims[0] = 1;
    CHECK_OK(kiln_session_resize_input(s, 0, dims, 2));
    CHECK_OK(kiln_session_prepare(s));
    float x[3] = {1, NAN, 2};
    CHECK_OK(kiln_session_set_input(s, 0, KILN_FLOAT32, dims, 2, x, sizeof x));
    CHECK_ERROR(kiln_session_invoke(s), KILN_ERR_RUNTIME, "NaN at element 1");
    kiln_session_free(s);
  }
  kiln_model_free(model);
  CHECK(c.release == 1);
  free(bytes);
}

/* "Affine" means different things to two models loaded with different
 * registries, and nothing to a model loaded with none. */
static void test_registries_per_model(void) {
  kiln_test_seed(5);
  counters a = {0}, b = {0};
  a.offset = 1;
  b.offset = -3;
  float scale = 2;
  size_t size;
  uint8_t *bytes = affine_model("Affine", &scale, 4, &size);
  kiln_op_registry *ra = NULL, *rb = NULL;
  CHECK_OK(kiln_op_registry_create(&ra));
  CHECK_OK(kiln_op_registry_create(&rb));
  kiln_custom_op op = affine_op(&a);
  CHECK_OK(kiln_op_registry_add(ra, &op));
  op = affine_op(&b);
  CHECK_OK(kiln_op_registry_add(rb, &op));
  kiln_model *ma = NULL, *mb = NULL, *none = NULL;
  CHECK_OK(load(bytes, size, ra, &ma));
  CHECK_OK(load(bytes, size, rb, &mb));
  CHECK_ERROR(load(bytes, size, NULL, &none), KILN_ERR_UNSUPPORTED,
              "operator 0 (custom op 'Affine') is not supported by kiln");
  CHECK(none == NULL);
  if (ma) check_run(ma, 2, scale, a.offset, NULL);
  if (mb) check_run(mb, 2, scale, b.offset, NULL);
  CHECK(a.invoke == 1 && b.invoke == 1);
  kiln_model_free(ma);
  kiln_model_free(mb);
  kiln_op_registry_free(ra);
  kiln_op_registry_free(rb);
  free(bytes);
}

static void test_load_failures(void) {
  counters c = {0};
  kiln_op_registry *ops = NULL;
  CHECK_OK(kiln_op_registry_create(&ops));
  kiln_custom_op op = affine_op(&c);
  CHECK_OK(kiln_op_registry_add(ops, &op));
  size_t size;
  kiln_model *model = NULL;
  /* init refuses the options: the load fails naming them. */
  uint8_t *bytes = affine_model("Affine", "abc", 3, &size);
  CHECK_ERROR(load(bytes, size, ops, &model), KILN_ERR_INVALID_MODEL,
              "operator 0 (custom op 'Affine'): custom_options: Affine takes "
              "4 option bytes (a float), not 3");
  CHECK(c.init == 1 && c.release == 0);
  free(bytes);
  /* An unknown code is named. */
  float scale = 1;
  bytes = affine_model("Nope", &scale, 4, &size);
  CHECK_ERROR(load(bytes, size, ops, &model), KILN_ERR_UNSUPPORTED,
              "custom op 'Nope'");
  free(bytes);
  kiln_op_registry_free(ops);
}

static kiln_status *prepare_wrong_dtype(kiln_custom_context *ctx) {
  kiln_custom_output(ctx, 0)->dtype = KILN_INT32;
  return NULL;
}
static kiln_status *prepare_bad_rank(kiln_custom_context *ctx) {
  kiln_custom_output(ctx, 0)->rank = 9;
  return NULL;
}
static kiln_status *prepare_negative(kiln_custom_context *ctx) {
  kiln_custom_output(ctx, 0)->dims[1] = -2;
  return NULL;
}
static kiln_status *invoke_nothing(kiln_custom_context *ctx) {
  (void)ctx;
  return NULL;
}

static void test_bad_prepare(void) {
  kiln_status *(*prepares[3])(kiln_custom_context *) = {
      prepare_wrong_dtype, prepare_bad_rank, prepare_negative};
  const char *needles[3] = {
      "prepare made output 0 int32, but the model declares float32",
      "prepare gave output 0 rank 9",
      "prepare gave output 0 dimension 1 size -2"};
  size_t size;
  uint8_t *bytes = affine_model("Bad", NULL, 0, &size);
  for (int i = 0; i < 3; i++) {
    kiln_op_registry *ops = NULL;
    CHECK_OK(kiln_op_registry_create(&ops));
    kiln_custom_op op = {sizeof op, "Bad",       NULL,          NULL,
                         NULL,      prepares[i], invoke_nothing};
    CHECK_OK(kiln_op_registry_add(ops, &op));
    kiln_model *model = NULL;
    CHECK_OK(load(bytes, size, ops, &model));
    /* The model's batch is dynamic, so a prepare that fails at the file's
     * shapes leaves the session unprepared; prepare says why. */
    kiln_session *s = NULL;
    CHECK_OK(kiln_session_create(model, NULL, &s));
    CHECK(!kiln_session_is_prepared(s));
    CHECK_ERROR(kiln_session_prepare(s), KILN_ERR_INVALID_MODEL, needles[i]);
    kiln_session_free(s);
    kiln_model_free(model);
    kiln_op_registry_free(ops);
  }
  free(bytes);
}

static void test_registry_misuse(void) {
  kiln_op_registry *ops = NULL;
  CHECK_OK(kiln_op_registry_create(&ops));
  counters c = {0};
  kiln_custom_op op = affine_op(&c);
  CHECK_ERROR(kiln_op_registry_add(NULL, &op), KILN_ERR_INVALID_ARGUMENT,
              "registry and op are required");
  op.struct_size = 8;
  CHECK_ERROR(kiln_op_registry_add(ops, &op), KILN_ERR_INVALID_ARGUMENT,
              "struct_size is 8");
  op = affine_op(&c);
  op.invoke = NULL;
  CHECK_ERROR(kiln_op_registry_add(ops, &op), KILN_ERR_INVALID_ARGUMENT,
              "'Affine' lacks invoke");
  op = affine_op(&c);
  op.name = "";
  CHECK_ERROR(kiln_op_registry_add(ops, &op), KILN_ERR_INVALID_ARGUMENT,
              "has no name");
  op = affine_op(&c);
  CHECK_OK(kiln_op_registry_add(ops, &op));
  CHECK_ERROR(kiln_op_registry_add(ops, &op), KILN_ERR_INVALID_ARGUMENT,
              "'Affine' is already registered");
  /* A caller built against a newer header: unknown fields must be unset. */
  struct {
    kiln_custom_op op;
    void *future;
  } newer;
  memset(&newer, 0, sizeof newer);
  newer.op = affine_op(&c);
  newer.op.name = "Newer";
  newer.op.struct_size = sizeof newer;
  CHECK_OK(kiln_op_registry_add(ops, &newer.op));
  newer.op.name = "Newest";
  newer.future = &newer;
  CHECK_ERROR(kiln_op_registry_add(ops, &newer.op), KILN_ERR_UNSUPPORTED,
              "'Newest' sets fields past");
  CHECK_ERROR(kiln_op_registry_create(NULL), KILN_ERR_INVALID_ARGUMENT,
              "out_registry");
  kiln_op_registry_free(ops);
  kiln_op_registry_free(NULL);
  /* Accessors on NULL are harmless. */
  CHECK(kiln_custom_num_inputs(NULL) == 0 && !kiln_custom_input(NULL, 0) &&
        !kiln_custom_output(NULL, 0) && !kiln_custom_scratch(NULL));
  CHECK_ERROR(kiln_custom_request_scratch(NULL, 4),
              KILN_ERR_FAILED_PRECONDITION, "prepare only");
}

/* Fails the allocation numbered fail_at. */
typedef struct failing {
  long calls, fail_at;
} failing;

static void *fail_alloc(void *ctx, size_t size) {
  failing *f = ctx;
  return f->calls++ == f->fail_at ? NULL : malloc(size);
}
static void *fail_realloc(void *ctx, void *p, size_t size) {
  failing *f = ctx;
  return f->calls++ == f->fail_at ? NULL : realloc(p, size);
}

/* Every allocation of a load with a custom op may fail cleanly: an
 * OUT_OF_MEMORY status, and every node state made is released. */
static void test_load_out_of_memory(void) {
  counters c = {0};
  float scale = 1;
  size_t size;
  uint8_t *bytes = affine_model("Affine", &scale, 4, &size);
  kiln_op_registry *ops = NULL;
  CHECK_OK(kiln_op_registry_create(&ops));
  kiln_custom_op op = affine_op(&c);
  CHECK_OK(kiln_op_registry_add(ops, &op));
  for (long fail_at = 0; fail_at < 10000; fail_at++) {
    failing f = {0, fail_at};
    kiln_allocator alloc = {&f, fail_alloc, fail_realloc, count_free};
    kiln_options options = kiln_options_default();
    options.custom_ops = ops;
    options.allocator = &alloc;
    kiln_model *model = NULL;
    kiln_status *st =
        kiln_model_load_buffer(bytes, size, "oom.tflite", &options, &model);
    kiln_model_free(model);
    CHECK(c.init == c.release);
    if (!st) break;
    CHECK(kiln_status_get_code(st) == KILN_ERR_OUT_OF_MEMORY);
    kiln_status_free(st);
  }
  CHECK(c.init > 1);
  kiln_op_registry_free(ops);
  free(bytes);
}

int main(void) {
  test_life_cycle();
  test_registries_per_model();
  test_load_failures();
  test_bad_prepare();
  test_registry_misuse();
  test_load_out_of_memory();
  return kiln_test_finish("test_custom_ops");
}
