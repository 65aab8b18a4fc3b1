/* test_sized_at_invoke.c - outputs sized at invoke (ARCHITECTURE.md,
 * "Outputs sized at invoke"): a model whose WHERE, UNIQUE and RANGE work on
 * its inputs, so their output sizes come from values, and whose further
 * operators (CAST, MUL, ADD) read those outputs. It is invoked again and
 * again with inputs that make the sizes grow and shrink (and reach 0),
 * every output checked against an independent computation; invokes that
 * need no larger block allocate nothing; the static part stays planned;
 * the memory limit refuses a block that would pass it, with a clear error,
 * and the session then runs smaller inputs again. */
#include <stdlib.h>
#include <string.h>

#include "formats/tflite/tflite_schema.h"
#include "harness.h"
#include "tflite_builder.c"

enum { NX = 64, NV = 24 };

/* Tensors of the model. */
enum {
  T_X,      /* float32 [NX], input 0 */
  T_V,      /* int32 [NV], input 1 */
  T_START,  /* int32 scalar, input 2 */
  T_LIMIT,  /* int32 scalar, input 3 */
  T_DELTA,  /* int32 scalar, input 4 */
  T_W,      /* int64 WHERE(x), output 0 */
  T_WF,     /* float32 CAST(w) */
  T_TWO,    /* float32 [1] constant 2 */
  T_SCALED, /* float32 wf * 2, output 1 */
  T_U,      /* int32 UNIQUE(v) values */
  T_IDX,    /* int32 UNIQUE(v) idx, output 2 */
  T_UU,     /* int32 u + u, output 3 */
  T_R,      /* int32 RANGE(start, limit, delta), output 4 */
  T_SX,     /* float32 x * 2 (static), output 5 */
  T_COUNT
};

static tb_tensor tensor(const char *name, int8_t type, int rank, int32_t dim) {
  tb_tensor t;
  memset(&t, 0, sizeof t);
  t.name = name;
  t.type = type;
  t.rank = rank;
  t.shape[0] = dim;
  return t;
}

static tb_operator op(uint32_t opcode, int num_inputs, const int32_t *inputs,
                      int num_outputs, const int32_t *outputs) {
  tb_operator o;
  memset(&o, 0, sizeof o);
  o.opcode_index = opcode;
  o.num_inputs = num_inputs;
  memcpy(o.inputs, inputs, sizeof(int32_t) * (size_t)num_inputs);
  o.num_outputs = num_outputs;
  memcpy(o.outputs, outputs, sizeof(int32_t) * (size_t)num_outputs);
  return o;
}

static const float kTwo = 2.0f;

static uint8_t *build_model(size_t *size) {
  tb_model m;
  memset(&m, 0, sizeof m);
  enum { OP_WHERE, OP_CAST, OP_MUL, OP_UNIQUE, OP_ADD, OP_RANGE };
  const int32_t codes[] = {TFL_OP_WHERE,  TFL_OP_CAST, TFL_OP_MUL,
                           TFL_OP_UNIQUE, TFL_OP_ADD,  TFL_OP_RANGE};
  m.num_opcodes = 6;
  for (int i = 0; i < 6; i++)
    m.opcodes[i] = (tb_opcode){codes[i], (int8_t)codes[i], NULL};
  m.num_tensors = T_COUNT;
  m.tensors[T_X] = tensor("x", TFL_TYPE_FLOAT32, 1, NX);
  m.tensors[T_V] = tensor("v", TFL_TYPE_INT32, 1, NV);
  m.tensors[T_START] = tensor("start", TFL_TYPE_INT32, 0, 0);
  m.tensors[T_LIMIT] = tensor("limit", TFL_TYPE_INT32, 0, 0);
  m.tensors[T_DELTA] = tensor("delta", TFL_TYPE_INT32, 0, 0);
  /* The file's shapes of outputs sized at invoke are placeholders. */
  m.tensors[T_W] = tensor("w", TFL_TYPE_INT64, 2, 1);
  m.tensors[T_W].shape[1] = 1;
  m.tensors[T_WF] = tensor("wf", TFL_TYPE_FLOAT32, 2, 1);
  m.tensors[T_WF].shape[1] = 1;
  m.tensors[T_TWO] = tensor("two", TFL_TYPE_FLOAT32, 1, 1);
  m.tensors[T_TWO].buffer = 1;
  m.tensors[T_SCALED] = tensor("scaled", TFL_TYPE_FLOAT32, 2, 1);
  m.tensors[T_SCALED].shape[1] = 1;
  m.tensors[T_U] = tensor("u", TFL_TYPE_INT32, 1, 1);
  m.tensors[T_IDX] = tensor("idx", TFL_TYPE_INT32, 1, NV);
  m.tensors[T_UU] = tensor("uu", TFL_TYPE_INT32, 1, 1);
  m.tensors[T_R] = tensor("r", TFL_TYPE_INT32, 1, 1);
  m.tensors[T_SX] = tensor("sx", TFL_TYPE_FLOAT32, 1, NX);
  m.num_inputs = 5;
  for (int i = 0; i < 5; i++) m.inputs[i] = i;
  const int32_t outs[] = {T_W, T_SCALED, T_IDX, T_UU, T_R, T_SX};
  m.num_outputs = 6;
  memcpy(m.outputs, outs, sizeof outs);
  m.num_operators = 7;
  m.operators[0] = op(OP_WHERE, 1, (int32_t[]){T_X}, 1, (int32_t[]){T_W});
  m.operators[1] = op(OP_CAST, 1, (int32_t[]){T_W}, 1, (int32_t[]){T_WF});
  m.operators[2] =
      op(OP_MUL, 2, (int32_t[]){T_WF, T_TWO}, 1, (int32_t[]){T_SCALED});
  m.operators[3] =
      op(OP_UNIQUE, 1, (int32_t[]){T_V}, 2, (int32_t[]){T_U, T_IDX});
  m.operators[4] = op(OP_ADD, 2, (int32_t[]){T_U, T_U}, 1, (int32_t[]){T_UU});
  m.operators[5] = op(OP_RANGE, 3, (int32_t[]){T_START, T_LIMIT, T_DELTA}, 1,
                      (int32_t[]){T_R});
  m.operators[6] = op(OP_MUL, 2, (int32_t[]){T_X, T_TWO}, 1, (int32_t[]){T_SX});
  m.num_buffers = 2;
  m.buffers[1] = (tb_buffer){&kTwo, sizeof kTwo, false, false, 0, 0};
  return tb_build(&m, size);
}

static kiln_status *set_scalar(kiln_session *s, int index, int32_t value) {
  int64_t scalar[1] = {0};
  return kiln_session_set_input(s, index, KILN_INT32, scalar, 0, &value,
                                sizeof value);
}

/* Output `index` as info plus data. */
static const void *output(kiln_session *s, int index, kiln_tensor_info *info,
                          size_t *nbytes) {
  const void *data = NULL;
  CHECK_OK(kiln_session_output_info(s, index, info));
  CHECK_OK(kiln_session_output_buffer(s, index, &data, nbytes));
  return data;
}

/* Sets random inputs with `trues` non-zero elements of x, `distinct`
 * distinct values in v and a range of about `span` elements, invokes and
 * checks every output. */
static void run_once(kiln_session *s, int trues, int distinct, int span) {
  float x[NX] = {0};
  int32_t v[NV];
  int placed = 0;
  while (placed < trues) {
    int i = kiln_test_int(0, NX - 1);
    if (x[i] != 0.0f) continue;
    x[i] = (float)kiln_test_int(1, 9) * (kiln_test_int(0, 1) ? 1.0f : -0.5f);
    placed++;
  }
  for (int i = 0; i < NV; i++)
    v[i] =
        i < distinct ? 100 * i - 7 : 100 * kiln_test_int(0, distinct - 1) - 7;
  for (int i = NV - 1; i > 0; i--) { /* shuffle */
    int j = kiln_test_int(0, i);
    int32_t t = v[i];
    v[i] = v[j];
    v[j] = t;
  }
  int32_t start = kiln_test_int(-20, 20), delta = kiln_test_int(1, 3);
  if (kiln_test_int(0, 1)) delta = -delta;
  int32_t limit = start + delta * span - (span ? kiln_test_int(0, 1) : 0);
  if (span && delta < 0) limit = start + delta * span + kiln_test_int(0, 1);
  int64_t xdims[1] = {NX}, vdims[1] = {NV};
  CHECK_OK(kiln_session_set_input(s, 0, KILN_FLOAT32, xdims, 1, x, sizeof x));
  CHECK_OK(kiln_session_set_input(s, 1, KILN_INT32, vdims, 1, v, sizeof v));
  CHECK_OK(set_scalar(s, 2, start));
  CHECK_OK(set_scalar(s, 3, limit));
  CHECK_OK(set_scalar(s, 4, delta));
  CHECK_OK(kiln_session_invoke(s));

  kiln_tensor_info info;
  size_t nbytes;
  /* WHERE and what was computed from it. */
  const int64_t *w = output(s, 0, &info, &nbytes);
  CHECK(info.rank == 2 && info.dims[0] == trues && info.dims[1] == 1);
  CHECK(nbytes == (size_t)trues * sizeof(int64_t));
  const float *scaled = output(s, 1, &info, &nbytes);
  CHECK(info.rank == 2 && info.dims[0] == trues && info.dims[1] == 1);
  int k = 0;
  for (int i = 0; i < NX && k <= trues; i++) {
    if (x[i] == 0.0f) continue;
    CHECK(k < trues && w[k] == i && scaled[k] == 2.0f * (float)i);
    k++;
  }
  CHECK(k == trues);
  /* UNIQUE: values in order of first appearance, idx into them. */
  int32_t want[NV];
  int count = 0;
  const int32_t *idx = output(s, 2, &info, &nbytes);
  CHECK(info.rank == 1 && info.dims[0] == NV);
  for (int i = 0; i < NV; i++) {
    int at = 0;
    while (at < count && want[at] != v[i]) at++;
    if (at == count) want[count++] = v[i];
    CHECK(idx[i] == at);
  }
  CHECK(count == distinct);
  const int32_t *uu = output(s, 3, &info, &nbytes);
  CHECK(info.rank == 1 && info.dims[0] == count);
  for (int i = 0; i < count; i++) CHECK(uu[i] == 2 * want[i]);
  /* RANGE. */
  const int32_t *r = output(s, 4, &info, &nbytes);
  int64_t n = 0;
  for (int64_t value = start; delta > 0 ? value < limit : value > limit;
       value += delta)
    CHECK(r[n] == value && ++n <= info.dims[0]);
  CHECK(info.rank == 1 && info.dims[0] == n);
  /* The static part. */
  const float *sx = output(s, 5, &info, &nbytes);
  CHECK(info.rank == 1 && info.dims[0] == NX);
  for (int i = 0; i < NX; i++) CHECK(sx[i] == 2.0f * x[i]);
}

static void test_sizes_up_and_down(void) {
  size_t size;
  uint8_t *bytes = build_model(&size);
  kiln_test_allocator counter;
  kiln_options options = kiln_options_default();
  options.allocator = kiln_test_allocator_init(&counter, -1);
  kiln_model *model;
  CHECK_OK(kiln_model_load_buffer(bytes, size, "dyn.tflite", &options, &model));
  kiln_session *s;
  CHECK_OK(kiln_session_create(model, &options, &s));
  CHECK(kiln_session_is_prepared(s));
  /* Before the first invoke the size is not there to give. */
  kiln_tensor_info info;
  CHECK_OK(kiln_session_output_info(s, 0, &info));
  CHECK(info.rank == 2 && info.dims[0] == -1 && info.dims[1] == 1);
  const void *data;
  size_t nbytes;
  CHECK_ERROR(kiln_session_output_buffer(s, 0, &data, &nbytes),
              KILN_ERR_FAILED_PRECONDITION, "sized at invoke");
  /* Only the static tensors are planned. */
  kiln_session_stats stats;
  CHECK_OK(kiln_session_stats_get(s, &stats));
  CHECK(stats.arena_bytes < 2048);
  static const int sizes[][3] = {{5, 3, 4},   {0, 1, 0},   {NX, NV, 30},
                                 {1, 2, 1},   {17, 9, 12}, {NX, NV, 30},
                                 {32, 12, 7}, {0, 1, 0}};
  for (int i = 0; i < (int)(sizeof sizes / sizeof sizes[0]); i++)
    run_once(s, sizes[i][0], sizes[i][1], sizes[i][2]);
  /* Every block has reached its largest size: no more allocation. */
  long calls = counter.calls;
  for (int trial = 0; trial < 40; trial++)
    run_once(s, kiln_test_int(0, NX), kiln_test_int(1, NV),
             kiln_test_int(0, 30));
  CHECK(counter.calls == calls);
  /* Preparing again keeps the blocks; the next invokes still fit. */
  CHECK_OK(kiln_session_prepare(s));
  run_once(s, 9, 4, 3);
  run_once(s, NX, NV, 30);
  CHECK(counter.calls == calls);
  /* A value error surfaces at invoke, naming the operator; the session
   * stays usable. */
  CHECK_OK(set_scalar(s, 4, 0));
  CHECK_ERROR(kiln_session_invoke(s), KILN_ERR_INVALID_ARGUMENT,
              "operator 5 (RANGE): input 2 (delta) is 0");
  run_once(s, 3, 2, 5);
  kiln_session_free(s);
  kiln_model_free(model);
  CHECK(counter.live == 0);
  free(bytes);
}

/* The memory limit covers the blocks with the arena: a WHERE that would
 * need more fails that invoke with OUT_OF_MEMORY, and smaller ones run. */
static void test_memory_limit(void) {
  size_t size;
  uint8_t *bytes = build_model(&size);
  kiln_model *model;
  CHECK_OK(kiln_model_load_buffer(bytes, size, "dyn.tflite", NULL, &model));
  kiln_session *s;
  CHECK_OK(kiln_session_create(model, NULL, &s));
  kiln_session_stats stats;
  CHECK_OK(kiln_session_stats_get(s, &stats));
  kiln_session_free(s);
  /* Room for the arena and about 20 WHERE rows, with their float copies
   * (and UNIQUE's and RANGE's small outputs). */
  kiln_options options = kiln_options_default();
  options.max_memory_bytes = stats.arena_bytes + 20 * (8 + 4 + 4) + 100;
  CHECK_OK(kiln_session_create(model, &options, &s));
  run_once(s, 4, 2, 2);
  run_once(s, 12, 2, 2);
  float x[NX];
  for (int i = 0; i < NX; i++) x[i] = 1.0f;
  int64_t xdims[1] = {NX};
  CHECK_OK(kiln_session_set_input(s, 0, KILN_FLOAT32, xdims, 1, x, sizeof x));
  CHECK_ERROR(kiln_session_invoke(s), KILN_ERR_OUT_OF_MEMORY,
              "operator 0 (WHERE): output 0 at shape [64,1] (sized at "
              "invoke) needs 512 bytes");
  CHECK_ERROR(kiln_session_invoke(s), KILN_ERR_OUT_OF_MEMORY,
              "max_memory_bytes");
  /* The failed output claims no data it lacks. */
  const void *data;
  size_t nbytes;
  CHECK_ERROR(kiln_session_output_buffer(s, 0, &data, &nbytes),
              KILN_ERR_FAILED_PRECONDITION, "sized at invoke");
  run_once(s, 7, 3, 4);
  kiln_session_free(s);
  kiln_model_free(model);
  free(bytes);
}

int main(void) {
  kiln_test_seed(0x51ed);
  test_sizes_up_and_down();
  test_memory_limit();
  return kiln_test_finish("test_sized_at_invoke");
}
