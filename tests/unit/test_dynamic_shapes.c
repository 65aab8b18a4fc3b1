/* test_dynamic_shapes.c - models whose input height and width are dynamic:
 * the file's placeholder sizes (1x1) do not fit a 2x2 VALID window, so the
 * session is created unprepared and every check runs on the real shapes
 * given later; and the session memory limit (kiln_options.max_memory_bytes)
 * refuses shapes that need more, naming the tensor. */
#include <stdlib.h>
#include <string.h>

#include "formats/tflite/tflite_schema.h"
#include "harness.h"
#include "tflite_builder.c"

enum { C = 3 };

static tb_tensor image_tensor(const char *name, bool dynamic_hw) {
  tb_tensor t;
  memset(&t, 0, sizeof t);
  t.name = name;
  t.type = TFL_TYPE_FLOAT32;
  t.rank = 4;
  memcpy(t.shape, (int32_t[]){1, 1, 1, C}, 4 * sizeof(int32_t));
  t.has_signature = true;
  t.sig_rank = 4;
  int32_t d = dynamic_hw ? -1 : 1;
  memcpy(t.signature, (int32_t[]){d, d, d, C}, 4 * sizeof(int32_t));
  return t;
}

/* image [-1,-1,-1,3] (or fixed [1,1,1,3]) -> MAX_POOL_2D 2x2, stride 2, VALID
 * -> pooled. */
static uint8_t *pool_model(bool dynamic_hw, size_t *size) {
  tb_model m;
  memset(&m, 0, sizeof m);
  m.num_opcodes = 1;
  m.opcodes[0] = (tb_opcode){TFL_OP_MAX_POOL_2D, TFL_OP_MAX_POOL_2D, NULL};
  m.num_tensors = 2;
  m.tensors[0] = image_tensor("image", dynamic_hw);
  m.tensors[1] = image_tensor("pooled", dynamic_hw);
  m.num_inputs = 1;
  m.num_outputs = 1;
  m.outputs[0] = 1;
  m.num_operators = 1;
  tb_operator *pool = &m.operators[0];
  pool->num_inputs = 1;
  pool->num_outputs = 1;
  pool->outputs[0] = 1;
  pool->options_type = TFL_OPT_POOL2D;
  pool->num_options = 5;
  const int slots[5] = {TFL_POOL_PADDING, TFL_POOL_STRIDE_W, TFL_POOL_STRIDE_H,
                        TFL_POOL_FILTER_W, TFL_POOL_FILTER_H};
  const int values[5] = {KILN_PAD_VALID, 2, 2, 2, 2};
  for (int i = 0; i < 5; i++) {
    memset(&pool->options[i], 0, sizeof pool->options[i]);
    pool->options[i].slot = slots[i];
    pool->options[i].kind = i ? 'i' : 'b';
    pool->options[i].i = values[i];
  }
  m.num_buffers = 1;
  return tb_build(&m, size);
}

static float max_of_window(const float *x, int w, int y0, int x0, int c) {
  float best = x[((size_t)y0 * w + x0) * C + c];
  for (int dy = 0; dy < 2; dy++)
    for (int dx = 0; dx < 2; dx++) {
      float v = x[((size_t)(y0 + dy) * w + x0 + dx) * C + c];
      if (v > best) best = v;
    }
  return best;
}

/* Runs one image of h x w and checks every pooled value. */
static void run_size(kiln_session *s, int h, int w) {
  int64_t dims[4] = {1, h, w, C};
  CHECK_OK(kiln_session_resize_input(s, 0, dims, 4));
  CHECK_OK(kiln_session_prepare(s));
  CHECK(kiln_session_is_prepared(s));
  size_t count = (size_t)h * w * C;
  float *x = malloc(count * sizeof *x);
  float *y = malloc((size_t)(h / 2) * (w / 2) * C * sizeof *y + 1);
  kiln_test_fill(x, (int64_t)count, -4.0f, 4.0f);
  CHECK_OK(kiln_session_set_input(s, 0, KILN_FLOAT32, dims, 4, x,
                                  count * sizeof *x));
  CHECK_OK(kiln_session_invoke(s));
  kiln_tensor_info out;
  CHECK_OK(kiln_session_output_info(s, 0, &out));
  CHECK(out.rank == 4 && out.dims[1] == h / 2 && out.dims[2] == w / 2);
  size_t out_count = (size_t)(h / 2) * (w / 2) * C;
  CHECK_OK(kiln_session_get_output(s, 0, y, out_count * sizeof *y));
  for (int oy = 0; oy < h / 2; oy++)
    for (int ox = 0; ox < w / 2; ox++)
      for (int c = 0; c < C; c++)
        CHECK(y[((size_t)oy * (w / 2) + ox) * C + c] ==
              max_of_window(x, w, 2 * oy, 2 * ox, c));
  free(x);
  free(y);
}

static void test_placeholder_sizes_wait_for_real_ones(void) {
  size_t size;
  uint8_t *bytes = pool_model(true, &size);
  kiln_model *model;
  CHECK_OK(kiln_model_load_buffer(bytes, size, "pool.tflite", NULL, &model));
  kiln_session *s;
  CHECK_OK(kiln_session_create(model, NULL, &s));
  CHECK(!kiln_session_is_prepared(s));
  /* Calls that need shapes say why they cannot run yet. */
  CHECK_ERROR(kiln_session_invoke(s), KILN_ERR_FAILED_PRECONDITION,
              "dynamic dimensions");
  CHECK_ERROR(kiln_session_invoke(s), KILN_ERR_FAILED_PRECONDITION,
              "MAX_POOL_2D");
  kiln_tensor_info info;
  CHECK_ERROR(kiln_session_output_info(s, 0, &info),
              KILN_ERR_FAILED_PRECONDITION, "resize the inputs");
  /* Real sizes, several of them, on one session. */
  run_size(s, 6, 8);
  run_size(s, 9, 5);
  run_size(s, 224, 160);
  /* A real size that is too small is refused on that size. */
  int64_t small[4] = {1, 1, 7, C};
  CHECK_OK(kiln_session_resize_input(s, 0, small, 4));
  CHECK_ERROR(kiln_session_prepare(s), KILN_ERR_INVALID_MODEL,
              "height 1 is smaller");
  run_size(s, 4, 4);
  kiln_session_free(s);
  kiln_model_free(model);
  free(bytes);
}

/* Without dynamic dimensions there is nothing to wait for: the model's
 * own shapes are wrong and creating a session says so. */
static void test_fixed_sizes_fail_at_create(void) {
  size_t size;
  uint8_t *bytes = pool_model(false, &size);
  kiln_model *model;
  CHECK_OK(kiln_model_load_buffer(bytes, size, "pool.tflite", NULL, &model));
  kiln_session *s = NULL;
  CHECK_ERROR(kiln_session_create(model, NULL, &s), KILN_ERR_INVALID_MODEL,
              "height 1 is smaller");
  CHECK(s == NULL);
  kiln_model_free(model);
  free(bytes);
}

static void test_memory_limit(void) {
  size_t size;
  uint8_t *bytes = pool_model(true, &size);
  kiln_model *model;
  CHECK_OK(kiln_model_load_buffer(bytes, size, "pool.tflite", NULL, &model));
  kiln_options options = kiln_options_default();
  CHECK(options.max_memory_bytes == 0); /* the default limit applies */
  options.max_memory_bytes = 64 * 1024;
  kiln_session *s;
  CHECK_OK(kiln_session_create(model, &options, &s));
  run_size(s, 32, 32); /* 12 KiB in, 3 KiB out: within the limit */
  int64_t big[4] = {1, 256, 256, C}; /* 768 KiB of input */
  CHECK_OK(kiln_session_resize_input(s, 0, big, 4));
  kiln_status *st = kiln_session_prepare(s);
  CHECK(kiln_status_get_code(st) == KILN_ERR_OUT_OF_MEMORY);
  CHECK(strstr(kiln_status_message(st), "memory limit of 65536 bytes"));
  CHECK(strstr(kiln_status_message(st), "max_memory_bytes"));
  kiln_status_free(st);
  /* The default limit refuses a batch that would need terabytes, at
   * prepare, before any of it is allocated. */
  kiln_session_free(s);
  CHECK_OK(kiln_session_create(model, NULL, &s));
  int64_t huge[4] = {1 << 20, 1024, 1024, C};
  CHECK_OK(kiln_session_resize_input(s, 0, huge, 4));
  CHECK_ERROR(kiln_session_prepare(s), KILN_ERR_OUT_OF_MEMORY,
              "over the session's memory limit of 4294967296 bytes");
  run_size(s, 2, 2); /* and the session still works at a sane size */
  kiln_session_free(s);
  kiln_model_free(model);
  free(bytes);
}

int main(void) {
  kiln_test_seed(11);
  test_placeholder_sizes_wait_for_real_ones();
  test_fixed_sizes_fail_at_create();
  test_memory_limit();
  return kiln_test_finish("test_dynamic_shapes");
}
