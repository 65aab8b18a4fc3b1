/* test_custom_builtins.c - kiln's built-in custom operators on models built
 * in C, against independent computations on random shapes and data:
 * Convolution2DTransposeBias (direct scatter), MaxPoolingWithArgmax2D
 * (brute force over each window, XNNPACK's index order and edge clamping)
 * and MaxUnpooling2D; and every malformed raw option struct or shape as a
 * clear error.
 *
 * `test_custom_builtins --write-corpus DIR` writes fuzzing seeds. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "formats/tflite/tflite_schema.h"
#include "harness.h"
#include "kiln.h"
#include "tflite_builder.c"

static tb_tensor tensor(const char *name, int8_t type, const int32_t *shape,
                        int rank, uint32_t buffer) {
  tb_tensor t;
  memset(&t, 0, sizeof t);
  t.name = name;
  t.type = type;
  t.rank = rank;
  memcpy(t.shape, shape, sizeof(int32_t) * (size_t)rank);
  t.buffer = buffer;
  return t;
}

/* One custom operator: inputs 0..num_in-1 (tensors from `in`; those with a
 * buffer are constants), outputs after them. */
static uint8_t *one_op_model(const char *code, const void *options,
                             size_t options_size, const tb_tensor *in,
                             int num_in, const tb_tensor *out, int num_out,
                             const tb_buffer *buffers, int num_buffers,
                             size_t *size) {
  tb_model m;
  memset(&m, 0, sizeof m);
  m.num_opcodes = 1;
  m.opcodes[0] = (tb_opcode){TFL_OP_CUSTOM, TFL_OP_CUSTOM, code};
  m.num_tensors = num_in + num_out;
  tb_operator *op = &m.operators[0];
  m.num_operators = 1;
  op->custom_options = options;
  op->custom_options_size = options_size;
  for (int i = 0; i < num_in; i++) {
    m.tensors[i] = in[i];
    op->inputs[op->num_inputs++] = i;
    if (!in[i].buffer) m.inputs[m.num_inputs++] = i;
  }
  for (int i = 0; i < num_out; i++) {
    m.tensors[num_in + i] = out[i];
    op->outputs[op->num_outputs++] = num_in + i;
    m.outputs[m.num_outputs++] = num_in + i;
  }
  m.num_buffers = num_buffers;
  for (int i = 0; i < num_buffers; i++) m.buffers[i] = buffers[i];
  return tb_build(&m, size);
}

static kiln_status *run(const uint8_t *bytes, size_t size, const float *x,
                        size_t x_bytes, void **outputs, const size_t *out_bytes,
                        int num_out) {
  kiln_model *model = NULL;
  kiln_session *s = NULL;
  kiln_status *st =
      kiln_model_load_buffer(bytes, size, "op.tflite", NULL, &model);
  if (!st) st = kiln_session_create(model, NULL, &s);
  if (!st) {
    kiln_tensor_info info;
    st = kiln_session_input_info(s, 0, &info);
    if (!st)
      st = kiln_session_set_input(s, 0, info.dtype, info.dims, info.rank, x,
                                  x_bytes);
  }
  if (!st) st = kiln_session_invoke(s);
  for (int i = 0; !st && i < num_out; i++)
    st = kiln_session_get_output(s, i, outputs[i], out_bytes[i]);
  kiln_session_free(s);
  kiln_model_free(model);
  return st;
}

/* ------------------------------------------------- transpose conv bias */

static void test_transpose_conv_bias(void) {
  kiln_test_seed(21);
  for (int round = 0; round < 24; round++) {
    int n = kiln_test_int(1, 2), h = kiln_test_int(1, 6),
        w = kiln_test_int(1, 6);
    int ci = kiln_test_int(1, 4), co = kiln_test_int(1, 4);
    int kh = kiln_test_int(1, 4), kw = kiln_test_int(1, 4);
    int sh = kiln_test_int(1, 3), sw = kiln_test_int(1, 3);
    int padding = kiln_test_int(1, 2); /* 1 SAME, 2 VALID */
    int oh = padding == 1 ? h * sh : (h - 1) * sh + kh;
    int ow = padding == 1 ? w * sw : (w - 1) * sw + kw;
    size_t nx = (size_t)n * h * w * ci, nw = (size_t)co * kh * kw * ci,
           ny = (size_t)n * oh * ow * co;
    float *x = malloc(nx * 4), *wt = malloc(nw * 4), *b = malloc(co * 4),
          *y = malloc(ny * 4), *want = calloc(ny, sizeof(float));
    kiln_test_fill(x, (int64_t)nx, -1, 1);
    kiln_test_fill(wt, (int64_t)nw, -1, 1);
    kiln_test_fill(b, co, -1, 1);
    /* Each input pixel scatters its kernel-sized patch; SAME crops the
     * (k - s) extra rows, half of them (rounded down) at the top. */
    int top = padding == 1 ? (kh - sh > 0 ? (kh - sh) / 2 : 0) : 0;
    int left = padding == 1 ? (kw - sw > 0 ? (kw - sw) / 2 : 0) : 0;
    for (int bi = 0; bi < n; bi++)
      for (int iy = 0; iy < h; iy++)
        for (int ix = 0; ix < w; ix++)
          for (int ky = 0; ky < kh; ky++)
            for (int kx = 0; kx < kw; kx++) {
              int oy = iy * sh + ky - top, ox = ix * sw + kx - left;
              if (oy < 0 || oy >= oh || ox < 0 || ox >= ow) continue;
              for (int o = 0; o < co; o++) {
                double acc = 0;
                for (int c = 0; c < ci; c++)
                  acc += (double)x[((bi * h + iy) * w + ix) * ci + c] *
                         wt[((o * kh + ky) * kw + kx) * ci + c];
                want[((bi * oh + oy) * ow + ox) * co + o] += (float)acc;
              }
            }
    for (size_t i = 0; i < ny; i++) want[i] += b[i % (size_t)co];
    tb_tensor in[3] = {
        tensor("x", TFL_TYPE_FLOAT32, (int32_t[]){n, h, w, ci}, 4, 0),
        tensor("w", TFL_TYPE_FLOAT32, (int32_t[]){co, kh, kw, ci}, 4, 1),
        tensor("b", TFL_TYPE_FLOAT32, (int32_t[]){co}, 1, 2)};
    tb_tensor out =
        tensor("y", TFL_TYPE_FLOAT32, (int32_t[]){n, oh, ow, co}, 4, 0);
    tb_buffer buffers[3] = {
        {0}, {.data = wt, .size = nw * 4}, {.data = b, .size = (size_t)co * 4}};
    int32_t options[3] = {padding, sw, sh};
    size_t size;
    uint8_t *bytes =
        one_op_model("Convolution2DTransposeBias", options, sizeof options, in,
                     3, &out, 1, buffers, 3, &size);
    void *outs[1] = {y};
    size_t out_bytes[1] = {ny * 4};
    CHECK_OK(run(bytes, size, x, nx * 4, outs, out_bytes, 1));
    CHECK(kiln_test_close(y, want, (int64_t)ny, 1e-5f, 1e-5f, "tconv bias"));
    free(bytes);
    free(x);
    free(wt);
    free(b);
    free(y);
    free(want);
  }
}

/* ------------------------------------------------------ argmax / unpool */

static void test_argmax_and_unpool(void) {
  kiln_test_seed(22);
  for (int round = 0; round < 30; round++) {
    int h = kiln_test_int(1, 9), w = kiln_test_int(1, 9),
        c = kiln_test_int(1, 3);
    int kh = kiln_test_int(1, 3), kw = kiln_test_int(1, 3);
    int same = kiln_test_int(0, 1);
    if (!same && (h < kh || w < kw)) same = 1;
    int oh = same ? (h + kh - 1) / kh : h / kh;
    int ow = same ? (w + kw - 1) / kw : w / kw;
    size_t nx = (size_t)h * w * c, ny = (size_t)oh * ow * c,
           nu = (size_t)oh * kh * ow * kw * c;
    float *x = malloc(nx * 4), *v = malloc(ny * 4), *want_v = malloc(ny * 4);
    int32_t *idx = malloc(ny * 4), *want_i = malloc(ny * 4);
    float *u = malloc(nu * 4), *want_u = calloc(nu, sizeof(float));
    kiln_test_fill(x, (int64_t)nx, -1, 1);
    if (round % 3 == 0)
      for (size_t i = 0; i < nx; i++) x[i] = (float)(kiln_test_int(0, 2));
    int top = (oh * kh - h) > 0 ? (oh * kh - h) / 2 : 0;
    int left = (ow * kw - w) > 0 ? (ow * kw - w) / 2 : 0;
    for (int oy = 0; oy < oh; oy++)
      for (int ox = 0; ox < ow; ox++)
        for (int ch = 0; ch < c; ch++) {
          /* Window taps in XNNPACK's order (column-major), the image's
           * edge standing in for padding; the first of equal values. */
          int best = -1;
          float bv = 0;
          for (int k = 0; k < kh * kw; k++) {
            int iy = oy * kh - top + k % kh, ix = ox * kw - left + k / kh;
            iy = iy < 0 ? 0 : (iy >= h ? h - 1 : iy);
            ix = ix < 0 ? 0 : (ix >= w ? w - 1 : ix);
            float val = x[(iy * w + ix) * c + ch];
            if (best < 0 || val > bv) {
              bv = val;
              best = k;
            }
          }
          size_t o = ((size_t)oy * ow + ox) * c + ch;
          want_v[o] = bv;
          want_i[o] = best;
          int uy = oy * kh + best % kh, ux = ox * kw + best / kh;
          want_u[((size_t)uy * ow * kw + ux) * c + ch] = bv;
        }
    tb_tensor in = tensor("x", TFL_TYPE_FLOAT32, (int32_t[]){1, h, w, c}, 4, 0);
    tb_tensor outs[2] = {
        tensor("v", TFL_TYPE_FLOAT32, (int32_t[]){1, oh, ow, c}, 4, 0),
        tensor("i", TFL_TYPE_INT32, (int32_t[]){1, oh, ow, c}, 4, 0)};
    int32_t options[6] = {same ? 1 : 2, kw, kh, kw, kh, 0};
    size_t size;
    uint8_t *bytes =
        one_op_model("MaxPoolingWithArgmax2D", options, sizeof options, &in, 1,
                     outs, 2, NULL, 0, &size);
    void *got[2] = {v, idx};
    size_t got_bytes[2] = {ny * 4, ny * 4};
    CHECK_OK(run(bytes, size, x, nx * 4, got, got_bytes, 2));
    CHECK(memcmp(v, want_v, ny * 4) == 0);
    CHECK(memcmp(idx, want_i, ny * 4) == 0);
    free(bytes);
    /* Unpool the expected values at the expected indices; the indices are
     * a constant here, the values the input. */
    tb_tensor uin[2] = {
        tensor("v", TFL_TYPE_FLOAT32, (int32_t[]){1, oh, ow, c}, 4, 0),
        tensor("i", TFL_TYPE_INT32, (int32_t[]){1, oh, ow, c}, 4, 1)};
    tb_tensor uout = tensor("u", TFL_TYPE_FLOAT32,
                            (int32_t[]){1, oh * kh, ow * kw, c}, 4, 0);
    tb_buffer buffers[2] = {{0}, {.data = want_i, .size = ny * 4}};
    options[0] = 2;
    bytes = one_op_model("MaxUnpooling2D", options, sizeof options, uin, 2,
                         &uout, 1, buffers, 2, &size);
    void *ugot[1] = {u};
    size_t ubytes[1] = {nu * 4};
    CHECK_OK(run(bytes, size, want_v, ny * 4, ugot, ubytes, 1));
    CHECK(memcmp(u, want_u, nu * 4) == 0);
    /* An index outside the window is a runtime error, not a stray write. */
    if (ny) {
      want_i[ny - 1] = kh * kw;
      free(bytes);
      bytes = one_op_model("MaxUnpooling2D", options, sizeof options, uin, 2,
                           &uout, 1, buffers, 2, &size);
      CHECK_ERROR(run(bytes, size, want_v, ny * 4, ugot, ubytes, 1),
                  KILN_ERR_RUNTIME, "outside the");
    }
    free(bytes);
    free(x);
    free(v);
    free(want_v);
    free(idx);
    free(want_i);
    free(u);
    free(want_u);
  }
}

/* ------------------------------------------------------------ bad input */

typedef struct bad_options {
  const char *code;
  int32_t fields[6];
  size_t size;
  kiln_status_code status;
  const char *needle;
} bad_options;

static void test_bad_options(void) {
  static const bad_options cases[] = {
      {"Convolution2DTransposeBias",
       {1, 2},
       8,
       KILN_ERR_INVALID_MODEL,
       "custom_options hold 8 bytes; TfLiteTransposeConvParams"},
      {"Convolution2DTransposeBias",
       {0, 2, 2},
       12,
       KILN_ERR_INVALID_MODEL,
       "padding is 0"},
      {"Convolution2DTransposeBias",
       {3, 2, 2},
       12,
       KILN_ERR_INVALID_MODEL,
       "padding is 3"},
      {"Convolution2DTransposeBias",
       {1, 0, 2},
       12,
       KILN_ERR_INVALID_MODEL,
       "strides are 0 (width) and 2 (height)"},
      {"Convolution2DTransposeBias",
       {1, 2, -1},
       12,
       KILN_ERR_INVALID_MODEL,
       "strides are 2 (width) and -1"},
      {"MaxPoolingWithArgmax2D",
       {1, 2, 2, 2},
       16,
       KILN_ERR_INVALID_MODEL,
       "custom_options hold 16 bytes; TfLitePoolParams"},
      {"MaxPoolingWithArgmax2D",
       {1, 2, 2, 0, 2},
       20,
       KILN_ERR_INVALID_MODEL,
       "filter is 0x2"},
      {"MaxPoolingWithArgmax2D",
       {1, 1, 1, 2, 2},
       20,
       KILN_ERR_UNSUPPORTED,
       "stride 1x1 differs from the 2x2 filter"},
      {"MaxPoolingWithArgmax2D",
       {2, 2, 2, 2, 2, 1},
       24,
       KILN_ERR_UNSUPPORTED,
       "fused activation 1"},
      {"MaxUnpooling2D",
       {7, 2, 2, 2, 2},
       20,
       KILN_ERR_INVALID_MODEL,
       "padding is 7"},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    const bad_options *c = &cases[k];
    tb_tensor in = tensor("x", TFL_TYPE_FLOAT32, (int32_t[]){1, 4, 4, 1}, 4, 0);
    tb_tensor out =
        tensor("y", TFL_TYPE_FLOAT32, (int32_t[]){1, 4, 4, 1}, 4, 0);
    size_t size;
    uint8_t *bytes = one_op_model(c->code, c->fields, c->size, &in, 1, &out, 1,
                                  NULL, 0, &size);
    kiln_model *model = NULL;
    kiln_status *st =
        kiln_model_load_buffer(bytes, size, "bad.tflite", NULL, &model);
    CHECK(model == NULL);
    if (st && !strstr(kiln_status_message(st), "custom_options"))
      fprintf(stderr, "case %zu: %s\n", k, kiln_status_message(st));
    CHECK(!st || strstr(kiln_status_message(st), "custom_options"));
    CHECK_ERROR(st, c->status, c->needle);
    free(bytes);
  }
}

/* Wrong shapes and types fail at prepare with the input named. */
static void test_bad_shapes(void) {
  int32_t tconv[3] = {1, 2, 2}, pool[5] = {2, 2, 2, 2, 2};
  float w[2 * 2 * 2 * 3] = {0}, b[2] = {0};
  tb_buffer buffers[3] = {
      {0}, {.data = w, .size = sizeof w}, {.data = b, .size = sizeof b}};
  /* The filter's input channels (3) differ from the input's (2). */
  tb_tensor in[3] = {
      tensor("x", TFL_TYPE_FLOAT32, (int32_t[]){1, 3, 3, 2}, 4, 0),
      tensor("w", TFL_TYPE_FLOAT32, (int32_t[]){2, 2, 2, 3}, 4, 1),
      tensor("b", TFL_TYPE_FLOAT32, (int32_t[]){2}, 1, 2)};
  tb_tensor out = tensor("y", TFL_TYPE_FLOAT32, (int32_t[]){1, 6, 6, 2}, 4, 0);
  size_t size;
  uint8_t *bytes =
      one_op_model("Convolution2DTransposeBias", tconv, sizeof tconv, in, 3,
                   &out, 1, buffers, 3, &size);
  kiln_model *model = NULL;
  kiln_session *s = NULL;
  CHECK_OK(kiln_model_load_buffer(bytes, size, "shape.tflite", NULL, &model));
  CHECK_ERROR(kiln_session_create(model, NULL, &s), KILN_ERR_INVALID_MODEL,
              "operator 0 (CUSTOM): custom operator "
              "'Convolution2DTransposeBias': input 1 (filter) has 3 input "
              "channels but input 0 (input) 2");
  kiln_model_free(model);
  free(bytes);
  /* Argmax pooling of an int32 input, and a VALID window too big. */
  tb_tensor pin = tensor("x", TFL_TYPE_INT32, (int32_t[]){1, 4, 4, 1}, 4, 0);
  tb_tensor pout[2] = {
      tensor("v", TFL_TYPE_INT32, (int32_t[]){1, 2, 2, 1}, 4, 0),
      tensor("i", TFL_TYPE_INT32, (int32_t[]){1, 2, 2, 1}, 4, 0)};
  bytes = one_op_model("MaxPoolingWithArgmax2D", pool, sizeof pool, &pin, 1,
                       pout, 2, NULL, 0, &size);
  CHECK_OK(kiln_model_load_buffer(bytes, size, "shape.tflite", NULL, &model));
  CHECK_ERROR(kiln_session_create(model, NULL, &s), KILN_ERR_INVALID_MODEL,
              "input 0 (input) is int32 of rank 4; expected float32");
  kiln_model_free(model);
  free(bytes);
  pool[3] = pool[4] = pool[1] = pool[2] = 3;
  pin = tensor("x", TFL_TYPE_FLOAT32, (int32_t[]){1, 2, 4, 1}, 4, 0);
  pout[0].type = TFL_TYPE_FLOAT32;
  bytes = one_op_model("MaxPoolingWithArgmax2D", pool, sizeof pool, &pin, 1,
                       pout, 2, NULL, 0, &size);
  CHECK_OK(kiln_model_load_buffer(bytes, size, "shape.tflite", NULL, &model));
  CHECK_ERROR(kiln_session_create(model, NULL, &s), KILN_ERR_INVALID_MODEL,
              "dimension 1 is 2, smaller than the 3-wide VALID window");
  kiln_model_free(model);
  free(bytes);
}

static int write_seed(const char *dir, const char *name, uint8_t *bytes,
                      size_t size) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  int ok = f && fwrite(bytes, 1, size, f) == size;
  if (f) fclose(f);
  free(bytes);
  printf("%s: %zu bytes\n", path, size);
  return ok ? 0 : 1;
}

static int write_corpus(const char *dir) {
  static const float w[2 * 3 * 3 * 2] = {1, -1, 2, 0.5f, 0, 1, 3, -2, 1};
  static const float b[2] = {0.25f, -0.5f};
  tb_buffer buffers[3] = {
      {0}, {.data = w, .size = sizeof w}, {.data = b, .size = sizeof b}};
  tb_tensor in[3] = {
      tensor("x", TFL_TYPE_FLOAT32, (int32_t[]){1, 3, 4, 2}, 4, 0),
      tensor("w", TFL_TYPE_FLOAT32, (int32_t[]){2, 3, 3, 2}, 4, 1),
      tensor("b", TFL_TYPE_FLOAT32, (int32_t[]){2}, 1, 2)};
  tb_tensor out = tensor("y", TFL_TYPE_FLOAT32, (int32_t[]){1, 6, 8, 2}, 4, 0);
  int32_t tconv[3] = {1, 2, 2};
  size_t size;
  uint8_t *bytes =
      one_op_model("Convolution2DTransposeBias", tconv, sizeof tconv, in, 3,
                   &out, 1, buffers, 3, &size);
  int failed = write_seed(dir, "transpose_conv_bias.tflite", bytes, size);
  tb_tensor pin = tensor("x", TFL_TYPE_FLOAT32, (int32_t[]){1, 5, 4, 2}, 4, 0);
  tb_tensor pout[2] = {
      tensor("v", TFL_TYPE_FLOAT32, (int32_t[]){1, 3, 2, 2}, 4, 0),
      tensor("i", TFL_TYPE_FLOAT32, (int32_t[]){1, 3, 2, 2}, 4, 0)};
  int32_t pool[6] = {1, 2, 2, 2, 2, 0};
  bytes = one_op_model("MaxPoolingWithArgmax2D", pool, sizeof pool, &pin, 1,
                       pout, 2, NULL, 0, &size);
  failed |= write_seed(dir, "max_pool_argmax.tflite", bytes, size);
  return failed;
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "--write-corpus") == 0)
    return write_corpus(argv[2]);
  test_transpose_conv_bias();
  test_argmax_and_unpool();
  test_bad_options();
  test_bad_shapes();
  return kiln_test_finish("test_custom_builtins");
}
