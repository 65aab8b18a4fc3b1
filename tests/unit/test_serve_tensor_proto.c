/* test_serve_tensor_proto.c - TF's TensorProto read into server tensors
 * and written back (TF Serving's gRPC API): random shapes, dtypes and
 * values through tensor_content and through each dtype's typed field,
 * packed, unpacked and mixed; fewer values than elements filled with the
 * last as TF does; and damaged or hostile tensors refused with the field
 * and byte offset named, without allocating what a shape claims. Also
 * PredictRequest's decoding (model spec, named inputs, output filter). */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "serve/tensor_proto.h"
#include "serve/tfs_proto.h"

static const kiln_dtype served[] = {
    KILN_FLOAT32, KILN_FLOAT64, KILN_INT8,   KILN_UINT8,
    KILN_INT16,   KILN_INT32,   KILN_INT64,  KILN_BOOL,
    KILN_FLOAT16, KILN_UINT16,  KILN_UINT32, KILN_UINT64,
};
enum { NUM_SERVED = sizeof served / sizeof served[0] };

/* TF's typed field for each dtype, as tensor.proto and TF's own writers
 * use them (checked here independently of the codec's table). */
static uint32_t typed_field(kiln_dtype d) {
  switch (d) {
    case KILN_FLOAT32:
      return 5;
    case KILN_FLOAT64:
      return 6;
    case KILN_INT64:
      return 10;
    case KILN_BOOL:
      return 11;
    case KILN_FLOAT16:
      return 13;
    case KILN_UINT32:
      return 16;
    case KILN_UINT64:
      return 17;
    default:
      return 7; /* int_val: int8/16/32, uint8/16 */
  }
}

/* A random element's bytes, valid for the dtype. */
static void random_element(kiln_dtype d, uint8_t *out) {
  size_t n = kiln_dtype_size(d);
  for (size_t i = 0; i < n; i++) out[i] = (uint8_t)kiln_test_rand();
  if (d == KILN_BOOL) out[0] &= 1;
}

/* Element i as the varint or fixed value its typed field carries. */
static uint64_t wire_value(kiln_dtype d, const uint8_t *data, size_t i) {
  size_t n = kiln_dtype_size(d);
  const uint8_t *p = data + i * n;
  switch (d) {
    case KILN_INT8:
      return (uint64_t)(int64_t)(int8_t)p[0];
    case KILN_INT16: {
      int16_t v;
      memcpy(&v, p, 2);
      return (uint64_t)(int64_t)v;
    }
    case KILN_INT32: {
      int32_t v;
      memcpy(&v, p, 4);
      return (uint64_t)(int64_t)v; /* negatives: 10-byte varints */
    }
    case KILN_UINT8:
    case KILN_BOOL:
      return p[0];
    case KILN_UINT16:
    case KILN_FLOAT16: {
      uint16_t v;
      memcpy(&v, p, 2);
      return v;
    }
    case KILN_FLOAT32:
    case KILN_UINT32: {
      uint32_t v;
      memcpy(&v, p, 4);
      return v;
    }
    default: {
      uint64_t v;
      memcpy(&v, p, 8);
      return v;
    }
  }
}

static int tf_number(kiln_dtype d) { return serve_tf_dtype_number(d); }

static void put_shape(kiln_pb_writer *w, const int64_t *dims, int rank) {
  serve_tensor_shape_write(w, 2, dims, rank);
}

/* One unpacked value of field f. */
static void put_one(kiln_pb_writer *w, uint32_t f, uint64_t v) {
  if (f == 5) {
    kiln_pb_put_key(w, f, KILN_PB_I32);
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
                    (uint8_t)(v >> 24)};
    kiln_pb_put_raw(w, b, 4);
  } else if (f == 6) {
    kiln_pb_put_key(w, f, KILN_PB_I64);
    uint8_t b[8];
    for (int k = 0; k < 8; k++) b[k] = (uint8_t)(v >> (8 * k));
    kiln_pb_put_raw(w, b, 8);
  } else {
    kiln_pb_put_uint64(w, f, v);
  }
}

/* Values [begin, end) of field f packed into one LEN field. */
static void put_packed(kiln_pb_writer *w, uint32_t f, kiln_dtype d,
                       const uint8_t *data, size_t begin, size_t end) {
  kiln_pb_writer body = {0};
  for (size_t i = begin; i < end; i++) {
    uint64_t v = wire_value(d, data, i);
    if (f == 5 || f == 6) {
      uint8_t b[8];
      for (int k = 0; k < 8; k++) b[k] = (uint8_t)(v >> (8 * k));
      kiln_pb_put_raw(&body, b, f == 5 ? 4 : 8);
    } else {
      kiln_pb_put_varint(&body, v);
    }
  }
  kiln_pb_put_bytes(w, f, body.data, body.len);
  kiln_pb_writer_free(&body);
}

/* Reads the TensorProto that is field 1 of `outer`. */
static serve_status *read_outer(const kiln_pb_writer *outer, size_t max_fill,
                                serve_tensor *t) {
  kiln_pb_reader r = kiln_pb_reader_make(outer->data, outer->len, "Outer");
  kiln_pb_field f;
  bool more;
  kiln_status *k = kiln_pb_next(&r, &f, &more);
  if (k || !more) {
    kiln_status_free(k);
    memset(t, 0, sizeof *t);
    return serve_error(SERVE_INTERNAL, "bad test message");
  }
  return serve_tensor_proto_read(&r, &f, "input 'x'", max_fill, t);
}

/* Wraps a TensorProto body as field 1; *prefix: bytes before the body. */
static kiln_pb_writer wrap(const kiln_pb_writer *body, size_t *prefix) {
  kiln_pb_writer outer = {0};
  kiln_pb_put_bytes(&outer, 1, body->data, body->len);
  if (prefix) *prefix = outer.len - body->len;
  return outer;
}

static bool same_shape(const serve_tensor *t, const int64_t *dims, int rank) {
  if (t->rank != rank) return false;
  for (int d = 0; d < rank; d++)
    if (t->dims[d] != dims[d]) return false;
  return true;
}

static size_t random_shape(int64_t *dims, int *rank) {
  *rank = kiln_test_int(0, 4);
  size_t count = 1;
  for (int d = 0; d < *rank; d++) {
    dims[d] = kiln_test_int(0, 5);
    count *= (size_t)dims[d];
  }
  return count;
}

/* Written with serve_tensor_proto_write, read back the same. */
static void test_round_trip(void) {
  kiln_test_seed(11);
  for (int iter = 0; iter < 500; iter++) {
    kiln_dtype d = served[kiln_test_int(0, NUM_SERVED - 1)];
    serve_tensor t = {.dtype = d};
    size_t count = random_shape(t.dims, &t.rank);
    t.nbytes = count * kiln_dtype_size(d);
    t.data = malloc(t.nbytes + 1);
    for (size_t i = 0; i < count; i++)
      random_element(d, (uint8_t *)t.data + i * kiln_dtype_size(d));
    kiln_pb_writer w = {0};
    serve_tensor_proto_write(&w, 1, &t);
    CHECK(!w.failed);
    size_t header = 1 + kiln_pb_varint_size(serve_tensor_proto_size(&t));
    CHECK(w.len == header + serve_tensor_proto_size(&t));
    serve_tensor back;
    serve_status *st = read_outer(&w, 0, &back);
    CHECK(!st);
    if (st) fprintf(stderr, "  %s\n", serve_status_message(st));
    if (!st) {
      CHECK(back.dtype == d);
      CHECK(same_shape(&back, t.dims, t.rank));
      CHECK(back.nbytes == t.nbytes);
      CHECK(back.nbytes == t.nbytes && !memcmp(back.data, t.data, t.nbytes));
    }
    serve_status_free(st);
    serve_tensor_release(&back);
    serve_tensor_release(&t);
    kiln_pb_writer_free(&w);
  }
}

/* Values in the typed field: every element, in runs each packed or not,
 * with the fields in random order around them. */
static void test_typed_fields(void) {
  kiln_test_seed(12);
  for (int iter = 0; iter < 500; iter++) {
    kiln_dtype d = served[kiln_test_int(0, NUM_SERVED - 1)];
    int64_t dims[KILN_MAX_RANK];
    int rank;
    size_t count = random_shape(dims, &rank);
    size_t size = kiln_dtype_size(d);
    uint8_t *data = malloc(count * size + 1);
    for (size_t i = 0; i < count; i++) random_element(d, data + i * size);
    uint32_t f = typed_field(d);
    kiln_pb_writer body = {0};
    bool dtype_last = kiln_test_int(0, 1);
    if (!dtype_last) kiln_pb_put_uint64(&body, 1, (uint64_t)tf_number(d));
    for (size_t i = 0; i < count;) {
      size_t run = (size_t)kiln_test_int(1, 4);
      if (run > count - i) run = count - i;
      if (kiln_test_int(0, 1)) {
        put_packed(&body, f, d, data, i, i + run);
      } else {
        for (size_t k = i; k < i + run; k++)
          put_one(&body, f, wire_value(d, data, k));
      }
      i += run;
      if (kiln_test_int(0, 3) == 0) put_shape(&body, dims, rank);
    }
    put_shape(&body, dims, rank); /* the last shape counts */
    if (dtype_last) kiln_pb_put_uint64(&body, 1, (uint64_t)tf_number(d));
    kiln_pb_writer outer = wrap(&body, NULL);
    serve_tensor t;
    serve_status *st = read_outer(&outer, 0, &t);
    CHECK(!st);
    if (st) fprintf(stderr, "  %s\n", serve_status_message(st));
    if (!st) {
      CHECK(t.dtype == d && same_shape(&t, dims, rank));
      CHECK(t.nbytes == count * size && !memcmp(t.data, data, t.nbytes));
    }
    serve_status_free(st);
    serve_tensor_release(&t);
    kiln_pb_writer_free(&body);
    kiln_pb_writer_free(&outer);
    free(data);
  }
}

/* Fewer values than elements: the last fills the rest; none: zeros. */
static void test_fill(void) {
  kiln_test_seed(13);
  for (int iter = 0; iter < 200; iter++) {
    kiln_dtype d = served[kiln_test_int(0, NUM_SERVED - 1)];
    int64_t dims[2] = {kiln_test_int(1, 6), kiln_test_int(1, 6)};
    size_t count = (size_t)(dims[0] * dims[1]), size = kiln_dtype_size(d);
    size_t given = (size_t)kiln_test_int(0, (int)count - 1);
    uint8_t *data = malloc(count * size);
    for (size_t i = 0; i < given; i++) random_element(d, data + i * size);
    kiln_pb_writer body = {0};
    kiln_pb_put_uint64(&body, 1, (uint64_t)tf_number(d));
    put_shape(&body, dims, 2);
    if (given) put_packed(&body, typed_field(d), d, data, 0, given);
    kiln_pb_writer outer = wrap(&body, NULL);
    serve_tensor t;
    serve_status *st = read_outer(&outer, 1 << 20, &t);
    CHECK(!st);
    if (!st) {
      bool ok = t.nbytes == count * size && !memcmp(t.data, data, given * size);
      for (size_t i = given; ok && i < count; i++) {
        if (given)
          ok = !memcmp((uint8_t *)t.data + i * size, data + (given - 1) * size,
                       size);
        else
          for (size_t k = 0; k < size; k++)
            ok = ok && ((uint8_t *)t.data)[i * size + k] == 0;
      }
      CHECK(ok);
    }
    serve_status_free(st);
    serve_tensor_release(&t);
    kiln_pb_writer_free(&body);
    kiln_pb_writer_free(&outer);
    free(data);
  }
}

/* Expects the body (as field 1) refused with INVALID_ARGUMENT, a message
 * holding needle and, when offset is not SIZE_MAX, "byte offset N" for
 * the body's offset plus the wrapping's. */
static void check_refused(const kiln_pb_writer *body, size_t offset,
                          const char *needle, size_t max_fill, int line) {
  size_t prefix;
  kiln_pb_writer outer = wrap(body, &prefix);
  serve_tensor t;
  serve_status *st = read_outer(&outer, max_fill, &t);
  char where[64] = "";
  if (offset != SIZE_MAX)
    snprintf(where, sizeof where, "byte offset %zu", offset + prefix);
  kiln_test_checks++;
  const char *message = serve_status_message(st);
  if (!st || serve_status_code(st) != SERVE_INVALID_ARGUMENT ||
      !strstr(message, needle) || !strstr(message, where) || t.data) {
    kiln_test_failures++;
    fprintf(stderr, "%s:%d: expected an error with '%s' and '%s', got '%s'\n",
            __FILE__, line, needle, where, st ? message : "success");
  }
  serve_status_free(st);
  serve_tensor_release(&t);
  kiln_pb_writer_free(&outer);
}
#define CHECK_REFUSED(body, offset, needle) \
  check_refused((body), (offset), (needle), 1 << 20, __LINE__)

static kiln_pb_writer tensor_head(int tf_dtype, const int64_t *dims, int rank) {
  kiln_pb_writer w = {0};
  kiln_pb_put_uint64(&w, 1, (uint64_t)tf_dtype);
  put_shape(&w, dims, rank);
  return w;
}

static void test_refused(void) {
  int64_t two_by_two[2] = {2, 2};
  /* tensor_content of the wrong size. */
  kiln_pb_writer w = tensor_head(1, two_by_two, 2);
  size_t at = w.len;
  kiln_pb_put_bytes(&w, 4, "0123456789ab", 12);
  CHECK_REFUSED(&w, at, "tensor_content (field 4)");
  kiln_pb_writer_free(&w);
  /* A huge shape with 4 bytes of content: refused, never allocated. */
  int64_t huge[1] = {(int64_t)1 << 40};
  w = tensor_head(1, huge, 1);
  at = w.len;
  kiln_pb_put_bytes(&w, 4, "abcd", 4);
  CHECK_REFUSED(&w, at, "tensor_content");
  kiln_pb_writer_free(&w);
  /* One value filling 2^40 elements: past the fill bound. */
  w = tensor_head(1, huge, 1);
  put_one(&w, 5, 0x3f800000);
  CHECK_REFUSED(&w, SIZE_MAX, "filling");
  kiln_pb_writer_free(&w);
  /* Elements whose bytes overflow. */
  int64_t overflow[3] = {(int64_t)1 << 40, (int64_t)1 << 40, (int64_t)1 << 40};
  w = tensor_head(1, overflow, 3);
  CHECK_REFUSED(&w, SIZE_MAX, "more elements");
  kiln_pb_writer_free(&w);
  /* More values than elements. */
  w = tensor_head(1, two_by_two, 2);
  at = w.len;
  for (int i = 0; i < 5; i++) put_one(&w, 5, 0);
  CHECK_REFUSED(&w, at, "5 values for a shape of 4");
  kiln_pb_writer_free(&w);
  /* A value in another dtype's field. */
  w = tensor_head(1, two_by_two, 2);
  at = w.len;
  put_one(&w, 10, 7);
  CHECK_REFUSED(&w, at, "int64_val (field 10)");
  kiln_pb_writer_free(&w);
  /* int_val outside the dtype (int8, uint16). */
  w = tensor_head(6, two_by_two, 2);
  put_one(&w, 7, 5);
  at = w.len;
  put_one(&w, 7, 200);
  CHECK_REFUSED(&w, at, "outside int8");
  kiln_pb_writer_free(&w);
  w = tensor_head(17, two_by_two, 2);
  at = w.len;
  put_one(&w, 7, (uint64_t)(int64_t)-1);
  CHECK_REFUSED(&w, at, "outside uint16");
  kiln_pb_writer_free(&w);
  /* Packed floats whose bytes are not whole. */
  w = tensor_head(1, two_by_two, 2);
  at = w.len;
  kiln_pb_put_bytes(&w, 5, "12345", 5);
  CHECK_REFUSED(&w, at, "not a multiple of 4");
  kiln_pb_writer_free(&w);
  /* A float value as a varint. */
  w = tensor_head(1, two_by_two, 2);
  at = w.len;
  kiln_pb_put_uint64(&w, 5, 1);
  CHECK_REFUSED(&w, at, "float_val (field 5)");
  kiln_pb_writer_free(&w);
  /* Both content and typed values. */
  w = tensor_head(1, two_by_two, 2);
  kiln_pb_put_bytes(&w, 4, "0123456789abcdef", 16);
  at = w.len;
  put_one(&w, 5, 0);
  CHECK_REFUSED(&w, at, "both");
  kiln_pb_writer_free(&w);
  /* dtypes kiln does not serve, and numbers TF lacks. */
  w = tensor_head(7, two_by_two, 2);
  CHECK_REFUSED(&w, SIZE_MAX, "DT_STRING");
  kiln_pb_writer_free(&w);
  w = tensor_head(0, two_by_two, 2);
  CHECK_REFUSED(&w, SIZE_MAX, "DT_INVALID");
  kiln_pb_writer_free(&w);
  w = tensor_head(9999, two_by_two, 2);
  CHECK_REFUSED(&w, SIZE_MAX, "9999");
  kiln_pb_writer_free(&w);
  /* Shapes: unknown rank, a negative size, too many dimensions. */
  w = (kiln_pb_writer){0};
  kiln_pb_put_uint64(&w, 1, 1);
  size_t shape = kiln_pb_begin(&w, 2);
  at = w.len;
  kiln_pb_put_bool(&w, 3, true);
  kiln_pb_end(&w, shape);
  CHECK_REFUSED(&w, at, "unknown_rank");
  kiln_pb_writer_free(&w);
  int64_t negative[2] = {2, -1};
  w = (kiln_pb_writer){0};
  kiln_pb_put_uint64(&w, 1, 1);
  size_t before_shape = w.len;
  put_shape(&w, negative, 2);
  /* The second dim: key and length of the shape, then the first dim's 4
   * bytes (key, length, key, value). */
  CHECK_REFUSED(&w, before_shape + 2 + 4, "size -1");
  kiln_pb_writer_free(&w);
  int64_t many[KILN_MAX_RANK + 1];
  for (int d = 0; d <= KILN_MAX_RANK; d++) many[d] = 1;
  w = tensor_head(1, many, KILN_MAX_RANK + 1);
  CHECK_REFUSED(&w, SIZE_MAX, "more than");
  kiln_pb_writer_free(&w);
  /* A message cut short: the wire reader's offset. */
  w = tensor_head(1, two_by_two, 2);
  at = w.len;
  kiln_pb_put_key(&w, 4, KILN_PB_LEN);
  kiln_pb_put_varint(&w, 100);
  kiln_pb_put_raw(&w, "abc", 3);
  CHECK_REFUSED(&w, at, "runs past the end");
  kiln_pb_writer_free(&w);
}

/* Every prefix and random byte flips of valid tensors: refused or read,
 * never a crash (under ASan, never a bad access or leak). */
static void test_damage(void) {
  kiln_test_seed(14);
  for (int iter = 0; iter < 200; iter++) {
    kiln_dtype d = served[kiln_test_int(0, NUM_SERVED - 1)];
    int64_t dims[2] = {kiln_test_int(0, 3), kiln_test_int(0, 3)};
    size_t count = (size_t)(dims[0] * dims[1]), size = kiln_dtype_size(d);
    uint8_t data[9 * 8];
    for (size_t i = 0; i < count; i++) random_element(d, data + i * size);
    kiln_pb_writer body = tensor_head(tf_number(d), dims, 2);
    if (iter % 2)
      put_packed(&body, typed_field(d), d, data, 0, count);
    else
      kiln_pb_put_bytes(&body, 4, data, count * size);
    for (size_t cut = 0; cut <= body.len; cut++) {
      kiln_pb_writer part = {body.data, cut, cut, false};
      kiln_pb_writer outer = wrap(&part, NULL);
      if (cut < body.len && kiln_test_int(0, 1))
        outer.data[outer.len - 1 - (size_t)kiln_test_int(0, (int)cut / 2)] ^=
            (uint8_t)kiln_test_rand();
      serve_tensor t;
      serve_status_free(read_outer(&outer, 4096, &t));
      serve_tensor_release(&t);
      kiln_pb_writer_free(&outer);
    }
    kiln_pb_writer_free(&body);
  }
  CHECK(true);
}

/* A PredictRequest: spec with version or label, named inputs (a repeated
 * name replaces the earlier), output filter; and refusals. */
static void test_predict_request(void) {
  kiln_pb_writer w = {0};
  size_t spec = kiln_pb_begin(&w, 1);
  kiln_pb_put_string(&w, 1, "mlp");
  size_t version = kiln_pb_begin(&w, 2);
  kiln_pb_put_int64(&w, 1, 3);
  kiln_pb_end(&w, version);
  kiln_pb_put_string(&w, 3, "serving_default");
  kiln_pb_end(&w, spec);
  serve_tensor t = {.dtype = KILN_INT32, .rank = 1, .dims = {2}};
  int32_t values[2] = {7, -9};
  t.data = values;
  t.nbytes = sizeof values;
  t.borrowed = true;
  for (int i = 0; i < 3; i++) {
    size_t entry = kiln_pb_begin(&w, 2);
    kiln_pb_put_string(&w, 1, i == 1 ? "b" : "a");
    values[0] = 7 + i;
    serve_tensor_proto_write(&w, 2, &t);
    kiln_pb_end(&w, entry);
  }
  kiln_pb_put_string(&w, 3, "out");
  serve_tfs_predict p;
  serve_status *st = serve_tfs_decode_predict(w.data, w.len, &p);
  CHECK(!st);
  if (!st) {
    CHECK(!strcmp(p.spec.name, "mlp") && p.spec.has_version &&
          p.spec.version == 3 && !p.spec.label[0]);
    CHECK(!strcmp(p.spec.signature, "serving_default"));
    CHECK(p.num_inputs == 2);
    CHECK(p.num_inputs == 2 && !strcmp(p.input_names[0], "a") &&
          !strcmp(p.input_names[1], "b"));
    CHECK(p.num_inputs == 2 && ((int32_t *)p.inputs[0].data)[0] == 9 &&
          ((int32_t *)p.inputs[1].data)[0] == 8 &&
          ((int32_t *)p.inputs[1].data)[1] == -9);
    CHECK(p.num_filters == 1 && !strcmp(p.output_filter[0], "out"));
    serve_tfs_predict_free(&p);
  }
  serve_status_free(st);
  kiln_pb_writer_free(&w);
  /* A label. */
  w = (kiln_pb_writer){0};
  spec = kiln_pb_begin(&w, 1);
  kiln_pb_put_string(&w, 1, "mlp");
  kiln_pb_put_string(&w, 4, "stable");
  kiln_pb_end(&w, spec);
  st = serve_tfs_decode_predict(w.data, w.len, &p);
  CHECK(!st && !p.spec.has_version && !strcmp(p.spec.label, "stable"));
  if (!st) serve_tfs_predict_free(&p);
  serve_status_free(st);
  kiln_pb_writer_free(&w);
  /* No model spec; a name with a NUL byte; an entry without a tensor. */
  w = (kiln_pb_writer){0};
  kiln_pb_put_string(&w, 3, "out");
  st = serve_tfs_decode_predict(w.data, w.len, &p);
  CHECK(st && strstr(serve_status_message(st), "Missing ModelSpec"));
  serve_status_free(st);
  kiln_pb_writer_free(&w);
  w = (kiln_pb_writer){0};
  spec = kiln_pb_begin(&w, 1);
  kiln_pb_put_bytes(&w, 1, "a\0b", 3);
  kiln_pb_end(&w, spec);
  st = serve_tfs_decode_predict(w.data, w.len, &p);
  CHECK(st && strstr(serve_status_message(st), "NUL byte") &&
        strstr(serve_status_message(st), "byte offset 2"));
  serve_status_free(st);
  kiln_pb_writer_free(&w);
  w = (kiln_pb_writer){0};
  size_t entry = kiln_pb_begin(&w, 2);
  kiln_pb_put_string(&w, 1, "x");
  kiln_pb_end(&w, entry);
  st = serve_tfs_decode_predict(w.data, w.len, &p);
  CHECK(st && strstr(serve_status_message(st), "input 'x'") &&
        strstr(serve_status_message(st), "no tensor"));
  serve_status_free(st);
  kiln_pb_writer_free(&w);
}

static void test_dtype_numbers(void) {
  for (int i = 0; i < NUM_SERVED; i++)
    CHECK(serve_tf_dtype_from_number((uint64_t)tf_number(served[i])) ==
          served[i]);
  CHECK(tf_number(KILN_FLOAT32) == 1 && tf_number(KILN_INT8) == 6 &&
        tf_number(KILN_FLOAT16) == 19 && tf_number(KILN_UINT64) == 23);
  CHECK(serve_tf_dtype_from_number(7) == KILN_DTYPE_INVALID);
  CHECK(!strcmp(serve_tf_dtype_number_name(14), "DT_BFLOAT16"));
  CHECK(serve_tf_dtype_number_name(500) == NULL);
}

int main(void) {
  test_round_trip();
  test_typed_fields();
  test_fill();
  test_refused();
  test_damage();
  test_predict_request();
  test_dtype_numbers();
  return kiln_test_finish("test_serve_tensor_proto");
}
