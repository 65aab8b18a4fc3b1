/* test_serve_kserve_proto.c - KServe v2's gRPC messages: ModelInferRequests
 * of random tensors of every dtype, sent in typed contents (packed and one
 * field per value) and in raw_input_contents, decode to the same bytes;
 * ModelInferResponses read back field by field; bad requests (every
 * truncation, huge shapes with few bytes, values outside a dtype, wrong
 * wire types and fields) are refused with the field and byte offset named
 * and nothing allocated for what the request does not carry. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "serve/kserve_proto.h"
#include "serve/tensor_json.h"

static const kiln_dtype dtypes[] = {
    KILN_FLOAT32, KILN_FLOAT64, KILN_INT8,  KILN_INT16,
    KILN_INT32,   KILN_INT64,   KILN_UINT8, KILN_UINT16,
    KILN_UINT32,  KILN_UINT64,  KILN_BOOL,
};
enum { NUM_DTYPES = sizeof dtypes / sizeof dtypes[0] };

static uint64_t rand64(void) {
  return (uint64_t)kiln_test_rand() << 32 | kiln_test_rand();
}

/* Random element bytes valid for dtype. */
static void random_fill(kiln_dtype dtype, void *data, int64_t count) {
  for (int64_t i = 0; i < count; i++) {
    uint64_t r = rand64();
    switch (dtype) {
      case KILN_FLOAT32: {
        float f = kiln_test_uniform(-1e6f, 1e6f);
        memcpy((char *)data + 4 * i, &f, 4);
        break;
      }
      case KILN_FLOAT64: {
        double d = (double)kiln_test_uniform(-1, 1) * 1e300;
        memcpy((char *)data + 8 * i, &d, 8);
        break;
      }
      case KILN_BOOL:
        ((uint8_t *)data)[i] = r & 1;
        break;
      default:
        memcpy((char *)data + kiln_dtype_size(dtype) * i, &r,
               kiln_dtype_size(dtype));
    }
  }
}

/* Element i as the wire carries it: sign-extended for signed integers. */
static uint64_t wire_value(kiln_dtype dtype, const void *data, int64_t i) {
  switch (dtype) {
    case KILN_INT8:
      return (uint64_t)(int64_t)((const int8_t *)data)[i];
    case KILN_INT16:
      return (uint64_t)(int64_t)((const int16_t *)data)[i];
    case KILN_INT32:
      return (uint64_t)(int64_t)((const int32_t *)data)[i];
    case KILN_INT64:
      return (uint64_t)((const int64_t *)data)[i];
    case KILN_UINT8:
    case KILN_BOOL:
      return ((const uint8_t *)data)[i];
    case KILN_UINT16:
      return ((const uint16_t *)data)[i];
    case KILN_UINT32:
    case KILN_FLOAT32: {
      uint32_t v;
      memcpy(&v, (const char *)data + 4 * i, 4);
      return v;
    }
    default: {
      uint64_t v;
      memcpy(&v, (const char *)data + 8 * i, 8);
      return v;
    }
  }
}

static uint32_t contents_number(kiln_dtype dtype) {
  switch (dtype) {
    case KILN_BOOL:
      return 1;
    case KILN_INT8:
    case KILN_INT16:
    case KILN_INT32:
      return 2;
    case KILN_INT64:
      return 3;
    case KILN_UINT8:
    case KILN_UINT16:
    case KILN_UINT32:
      return 4;
    case KILN_UINT64:
      return 5;
    case KILN_FLOAT32:
      return 6;
    default:
      return 7;
  }
}

/* One tensor of a test request. */
typedef struct test_tensor {
  char name[16];
  kiln_dtype dtype;
  int rank;
  int64_t dims[KILN_MAX_RANK];
  int64_t count;
  void *data;
} test_tensor;

static void put_contents(kiln_pb_writer *w, const test_tensor *t, bool packed) {
  uint32_t number = contents_number(t->dtype);
  size_t contents = kiln_pb_begin(w, 5);
  bool fixed32 = t->dtype == KILN_FLOAT32, fixed64 = t->dtype == KILN_FLOAT64;
  if (packed) {
    size_t mark = kiln_pb_begin(w, number);
    for (int64_t i = 0; i < t->count; i++) {
      uint64_t v = wire_value(t->dtype, t->data, i);
      if (fixed32 || fixed64)
        kiln_pb_put_raw(w, &v, fixed32 ? 4 : 8); /* little-endian host */
      else
        kiln_pb_put_varint(w, v);
    }
    kiln_pb_end(w, mark);
  } else {
    for (int64_t i = 0; i < t->count; i++) {
      uint64_t v = wire_value(t->dtype, t->data, i);
      kiln_pb_put_key(w, number,
                      fixed32   ? KILN_PB_I32
                      : fixed64 ? KILN_PB_I64
                                : KILN_PB_VARINT);
      if (fixed32 || fixed64)
        kiln_pb_put_raw(w, &v, fixed32 ? 4 : 8);
      else
        kiln_pb_put_varint(w, v);
    }
  }
  kiln_pb_end(w, contents);
}

/* A ModelInferRequest of the tensors: raw, or typed contents. */
static void put_request(kiln_pb_writer *w, const test_tensor *tensors, int n,
                        bool raw, bool packed) {
  kiln_pb_put_string(w, 1, "model");
  kiln_pb_put_string(w, 2, "3");
  kiln_pb_put_string(w, 3, "request-42");
  for (int k = 0; k < n; k++) {
    const test_tensor *t = &tensors[k];
    size_t mark = kiln_pb_begin(w, 5);
    kiln_pb_put_string(w, 1, t->name);
    kiln_pb_put_string(w, 2, serve_kserve_dtype(t->dtype));
    if (packed || !t->rank) {
      size_t shape = kiln_pb_begin(w, 3);
      for (int d = 0; d < t->rank; d++)
        kiln_pb_put_varint(w, (uint64_t)t->dims[d]);
      kiln_pb_end(w, shape);
    } else {
      for (int d = 0; d < t->rank; d++) kiln_pb_put_int64(w, 3, t->dims[d]);
    }
    if (!raw) put_contents(w, t, packed);
    kiln_pb_end(w, mark);
  }
  size_t out = kiln_pb_begin(w, 6);
  kiln_pb_put_string(w, 1, "wanted");
  kiln_pb_end(w, out);
  /* parameters {key: "timeout", value {int64_param: 1500}} */
  size_t param = kiln_pb_begin(w, 4);
  kiln_pb_put_string(w, 1, "timeout");
  size_t value = kiln_pb_begin(w, 2);
  kiln_pb_put_int64(w, 2, 1500);
  kiln_pb_end(w, value);
  kiln_pb_end(w, param);
  for (int k = 0; raw && k < n; k++)
    kiln_pb_put_bytes(
        w, 7, tensors[k].data,
        (size_t)tensors[k].count * kiln_dtype_size(tensors[k].dtype));
}

static void random_tensor(test_tensor *t, int k) {
  snprintf(t->name, sizeof t->name, "in%d", k);
  t->dtype = dtypes[kiln_test_int(0, NUM_DTYPES - 1)];
  t->rank = kiln_test_int(0, 4);
  t->count = 1;
  for (int d = 0; d < t->rank; d++) {
    t->dims[d] = kiln_test_int(0, 5);
    t->count *= t->dims[d];
  }
  t->data = malloc((size_t)t->count * kiln_dtype_size(t->dtype) + 1);
  random_fill(t->dtype, t->data, t->count);
}

static void test_round_trip(void) {
  for (int round = 0; round < 300; round++) {
    test_tensor tensors[4];
    int n = kiln_test_int(1, 4);
    for (int k = 0; k < n; k++) random_tensor(&tensors[k], k);
    bool raw = round % 3 == 0, packed = round % 3 == 1;
    kiln_pb_writer w = {0};
    put_request(&w, tensors, n, raw, packed);
    CHECK(!w.failed);
    kserve_infer_request req;
    serve_status *st = kserve_decode_infer_request(w.data, w.len, &req);
    CHECK(!st);
    if (st) {
      fprintf(stderr, "  round %d: %s\n", round, serve_status_message(st));
      serve_status_free(st);
    } else {
      CHECK(!strcmp(req.model_name, "model"));
      CHECK(!strcmp(req.model_version, "3"));
      CHECK(!strcmp(req.id, "request-42"));
      CHECK(req.timeout_us == 1500);
      CHECK(req.num_outputs == 1 && !strcmp(req.outputs[0], "wanted"));
      CHECK(req.num_inputs == n);
      CHECK(req.num_raw == (raw ? n : 0));
      for (int k = 0; k < n && k < req.num_inputs; k++) {
        const test_tensor *t = &tensors[k];
        CHECK(!strcmp(req.inputs[k].name, t->name));
        CHECK(req.inputs[k].rank == t->rank);
        serve_tensor out;
        st = kserve_input_tensor(&req, k, t->dtype, &out);
        CHECK(!st);
        if (st) {
          fprintf(stderr, "  round %d input %d: %s\n", round, k,
                  serve_status_message(st));
          serve_status_free(st);
          continue;
        }
        size_t nbytes = (size_t)t->count * kiln_dtype_size(t->dtype);
        CHECK(out.dtype == t->dtype && out.rank == t->rank);
        CHECK(!memcmp(out.dims, t->dims, sizeof(int64_t) * (size_t)t->rank));
        CHECK(out.nbytes == nbytes);
        CHECK(out.data && !memcmp(out.data, t->data, nbytes));
        /* Raw contents are borrowed from the request, not copied. */
        CHECK(out.borrowed == raw);
        if (raw)
          CHECK((const uint8_t *)out.data >= w.data &&
                (const uint8_t *)out.data + nbytes <= w.data + w.len);
        serve_tensor_release(&out);
      }
      kserve_infer_request_free(&req);
    }
    kiln_pb_writer_free(&w);
    for (int k = 0; k < n; k++) free(tensors[k].data);
  }
}

/* Reads back a response written from random outputs. */
static void test_response(void) {
  for (int round = 0; round < 100; round++) {
    test_tensor tensors[3];
    serve_tensor st[3];
    kserve_output outputs[3];
    int n = kiln_test_int(0, 3);
    for (int k = 0; k < n; k++) {
      random_tensor(&tensors[k], k);
      memset(&st[k], 0, sizeof st[k]);
      st[k].dtype = tensors[k].dtype;
      st[k].rank = tensors[k].rank;
      memcpy(st[k].dims, tensors[k].dims, sizeof st[k].dims);
      st[k].data = tensors[k].data;
      st[k].nbytes =
          (size_t)tensors[k].count * kiln_dtype_size(tensors[k].dtype);
      outputs[k].name = tensors[k].name;
      outputs[k].tensor = &st[k];
    }
    kiln_pb_writer w = {0};
    kserve_encode_infer_response(&w, "m", 7, round % 2 ? "abc" : "", outputs,
                                 n);
    CHECK(!w.failed);
    kiln_pb_reader r = kiln_pb_reader_make(w.data, w.len, "response");
    kiln_pb_field f;
    bool more;
    int num_meta = 0, num_raw = 0;
    bool saw_id = false, saw_version = false;
    for (;;) {
      CHECK_OK(kiln_pb_next(&r, &f, &more));
      if (!more) break;
      if (f.number == 2) saw_version = f.len == 1 && f.bytes[0] == '7';
      if (f.number == 3) saw_id = f.len == 3 && !memcmp(f.bytes, "abc", 3);
      if (f.number == 5 && num_meta < n) {
        const test_tensor *t = &tensors[num_meta++];
        kiln_pb_reader o = kiln_pb_nested(&r, &f, "output");
        kiln_pb_field g;
        int rank = 0;
        bool name_ok = false, type_ok = false;
        for (;;) {
          CHECK_OK(kiln_pb_next(&o, &g, &more));
          if (!more) break;
          if (g.number == 1)
            name_ok =
                g.len == strlen(t->name) && !memcmp(g.bytes, t->name, g.len);
          if (g.number == 2)
            type_ok = g.len == strlen(serve_kserve_dtype(t->dtype)) &&
                      !memcmp(g.bytes, serve_kserve_dtype(t->dtype), g.len);
          if (g.number == 3) {
            kiln_pb_reader p = kiln_pb_nested(&o, &g, "shape");
            while (p.pos < p.size) {
              uint64_t v;
              CHECK_OK(kiln_pb_read_varint(&p, &v));
              CHECK(rank < t->rank && (int64_t)v == t->dims[rank]);
              rank++;
            }
          }
        }
        CHECK(name_ok && type_ok && rank == t->rank);
      }
      if (f.number == 6 && num_raw < n) {
        const test_tensor *t = &tensors[num_raw++];
        size_t nbytes = (size_t)t->count * kiln_dtype_size(t->dtype);
        CHECK(f.len == nbytes && !memcmp(f.bytes, t->data, nbytes));
      }
    }
    CHECK(num_meta == n && num_raw == n && saw_version);
    CHECK(saw_id == (round % 2 == 1));
    kiln_pb_writer_free(&w);
    for (int k = 0; k < n; k++) free(tensors[k].data);
  }
}

/* Expects decoding (and, when it decodes, input 0 as `dtype`) to fail
 * with a message holding every needle. */
static void check_refused(const kiln_pb_writer *w, kiln_dtype dtype,
                          const char *needle, const char *needle2, int line) {
  kserve_infer_request req;
  serve_status *st = kserve_decode_infer_request(w->data, w->len, &req);
  serve_tensor t = {0};
  if (!st) {
    st = req.num_inputs ? kserve_input_tensor(&req, 0, dtype, &t)
                        : serve_error(SERVE_OK, "decoded");
    kserve_infer_request_free(&req);
  }
  kiln_test_checks++;
  const char *msg = st ? serve_status_message(st) : "success";
  if (!st || serve_status_code(st) != SERVE_INVALID_ARGUMENT ||
      !strstr(msg, needle) || (needle2 && !strstr(msg, needle2)) || t.data) {
    kiln_test_failures++;
    fprintf(stderr, "%s:%d: expected an error with '%s' and '%s', got '%s'\n",
            __FILE__, line, needle, needle2 ? needle2 : "", msg);
  }
  serve_tensor_release(&t);
  serve_status_free(st);
}
#define CHECK_REFUSED(w, dtype, needle, needle2) \
  check_refused((w), (dtype), (needle), (needle2), __LINE__)

/* An input with a datatype name, a shape, and then what `extra` writes. */
static size_t begin_input(kiln_pb_writer *w, const char *datatype,
                          const int64_t *dims, int rank) {
  size_t mark = kiln_pb_begin(w, 5);
  kiln_pb_put_string(w, 1, "x");
  kiln_pb_put_string(w, 2, datatype);
  size_t shape = kiln_pb_begin(w, 3);
  for (int d = 0; d < rank; d++) kiln_pb_put_varint(w, (uint64_t)dims[d]);
  kiln_pb_end(w, shape);
  return mark;
}

static void test_refused(void) {
  char offset_text[64];
  /* A shape of 2^40 floats with 4 raw bytes: refused before allocating. */
  {
    kiln_pb_writer w = {0};
    int64_t dims[] = {(int64_t)1 << 40};
    kiln_pb_end(&w, begin_input(&w, "FP32", dims, 1));
    size_t raw_at = w.len;
    kiln_pb_put_bytes(&w, 7, "abcd", 4);
    snprintf(offset_text, sizeof offset_text, "byte offset %zu", raw_at);
    CHECK_REFUSED(&w, KILN_FLOAT32, "input 'x': raw_input_contents[0]",
                  offset_text);
    kiln_pb_writer_free(&w);
  }
  /* The same shape with one typed value. */
  {
    kiln_pb_writer w = {0};
    int64_t dims[] = {(int64_t)1 << 40};
    size_t mark = begin_input(&w, "FP32", dims, 1);
    size_t c = kiln_pb_begin(&w, 5);
    kiln_pb_put_float(&w, 6, 1.0f);
    kiln_pb_end(&w, c);
    kiln_pb_end(&w, mark);
    CHECK_REFUSED(&w, KILN_FLOAT32, "input 'x': contents", "hold 1 values");
    kiln_pb_writer_free(&w);
  }
  /* Shapes whose element count overflows. */
  {
    kiln_pb_writer w = {0};
    int64_t dims[] = {(int64_t)1 << 40, (int64_t)1 << 40};
    kiln_pb_end(&w, begin_input(&w, "FP32", dims, 2));
    kiln_pb_put_bytes(&w, 7, "abcd", 4);
    CHECK_REFUSED(&w, KILN_FLOAT32, "input 'x'", "too many elements");
    kiln_pb_writer_free(&w);
  }
  /* Negative dimensions, and more than KILN_MAX_RANK of them. */
  {
    kiln_pb_writer w = {0};
    int64_t dims[] = {2, -1};
    kiln_pb_end(&w, begin_input(&w, "FP32", dims, 2));
    CHECK_REFUSED(&w, KILN_FLOAT32, "input 'x' (byte offset 0)", "negative");
    kiln_pb_writer_free(&w);
    int64_t many[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    w = (kiln_pb_writer){0};
    kiln_pb_end(&w, begin_input(&w, "FP32", many, 9));
    CHECK_REFUSED(&w, KILN_FLOAT32, "inputs[0]", "more than 8 dimensions");
    kiln_pb_writer_free(&w);
  }
  /* A value outside its dtype, named with its offset. */
  {
    kiln_pb_writer w = {0};
    int64_t dims[] = {2};
    size_t mark = begin_input(&w, "INT8", dims, 1);
    size_t c = kiln_pb_begin(&w, 5);
    kiln_pb_put_int64(&w, 2, 5);
    size_t bad_at = w.len; /* the key of the value (lengths take a byte) */
    kiln_pb_put_int64(&w, 2, 300);
    kiln_pb_end(&w, c);
    kiln_pb_end(&w, mark);
    snprintf(offset_text, sizeof offset_text, "300 at byte offset %zu", bad_at);
    CHECK_REFUSED(&w, KILN_INT8, "input 'x': contents.int_contents",
                  offset_text);
    kiln_pb_writer_free(&w);
  }
  /* Packed floats whose bytes are not whole floats. */
  {
    kiln_pb_writer w = {0};
    int64_t dims[] = {1};
    size_t mark = begin_input(&w, "FP32", dims, 1);
    size_t c = kiln_pb_begin(&w, 5);
    kiln_pb_put_bytes(&w, 6, "abcde", 5);
    kiln_pb_end(&w, c);
    kiln_pb_end(&w, mark);
    CHECK_REFUSED(&w, KILN_FLOAT32, "fp32_contents", "not a multiple of 4");
    kiln_pb_writer_free(&w);
  }
  /* The field of another datatype; the wrong datatype; FP16 typed. */
  {
    kiln_pb_writer w = {0};
    int64_t dims[] = {1};
    size_t mark = begin_input(&w, "FP32", dims, 1);
    size_t c = kiln_pb_begin(&w, 5);
    kiln_pb_put_int64(&w, 2, 1);
    kiln_pb_end(&w, c);
    kiln_pb_end(&w, mark);
    CHECK_REFUSED(&w, KILN_FLOAT32, "contents.int_contents", "fp32_contents");
    CHECK_REFUSED(&w, KILN_INT32, "input 'x': datatype FP32", "INT32");
    kiln_pb_writer_free(&w);
    w = (kiln_pb_writer){0};
    kiln_pb_end(&w, begin_input(&w, "FP16", dims, 1));
    CHECK_REFUSED(&w, KILN_FLOAT16, "input 'x'", "raw_input_contents");
    kiln_pb_writer_free(&w);
  }
  /* Raw contents for some inputs only, or with contents too. */
  {
    kiln_pb_writer w = {0};
    int64_t dims[] = {1};
    kiln_pb_end(&w, begin_input(&w, "FP32", dims, 1));
    kiln_pb_end(&w, begin_input(&w, "FP32", dims, 1));
    snprintf(offset_text, sizeof offset_text,
             "1 raw_input_contents (the first at byte offset %zu) for 2",
             w.len);
    kiln_pb_put_bytes(&w, 7, "abcd", 4);
    CHECK_REFUSED(&w, KILN_FLOAT32, offset_text, NULL);
    kiln_pb_writer_free(&w);
    w = (kiln_pb_writer){0};
    size_t mark = begin_input(&w, "FP32", dims, 1);
    size_t c = kiln_pb_begin(&w, 5);
    kiln_pb_put_float(&w, 6, 1.0f);
    kiln_pb_end(&w, c);
    kiln_pb_end(&w, mark);
    kiln_pb_put_bytes(&w, 7, "abcd", 4);
    CHECK_REFUSED(&w, KILN_FLOAT32, "input 'x' (byte offset 0)",
                  "has contents while");
    kiln_pb_writer_free(&w);
  }
  /* Wrong wire types and NUL bytes in names. */
  {
    kiln_pb_writer w = {0};
    kiln_pb_put_string(&w, 3, "id");
    kiln_pb_put_uint64(&w, 1, 7); /* model_name as a varint */
    CHECK_REFUSED(&w, KILN_FLOAT32, "ModelInferRequest: field 1",
                  "byte offset 4");
    kiln_pb_writer_free(&w);
    w = (kiln_pb_writer){0};
    kiln_pb_put_bytes(&w, 1, "a\0b", 3);
    CHECK_REFUSED(&w, KILN_FLOAT32, "model_name at byte offset 0", "NUL");
    kiln_pb_writer_free(&w);
  }
}

/* Every prefix and every one-byte change of a valid request either
 * decodes or is refused with a byte offset; never a crash (ASan) or a
 * message without a place. */
static void test_damaged(void) {
  test_tensor tensors[2];
  for (int k = 0; k < 2; k++) random_tensor(&tensors[k], k);
  for (int form = 0; form < 3; form++) {
    kiln_pb_writer w = {0};
    put_request(&w, tensors, 2, form == 0, form == 1);
    uint8_t *copy = malloc(w.len + 1);
    for (size_t cut = 0; cut <= w.len; cut++) {
      for (int flip = 0; flip < 2; flip++) {
        memcpy(copy, w.data, w.len);
        size_t len = cut;
        if (flip) {
          if (cut == w.len) continue;
          copy[cut] ^= (uint8_t)(1 + kiln_test_int(0, 254));
          len = w.len;
        }
        kserve_infer_request req;
        serve_status *st = kserve_decode_infer_request(copy, len, &req);
        if (st) {
          CHECK(serve_status_code(st) == SERVE_INVALID_ARGUMENT);
          CHECK(strstr(serve_status_message(st), "byte offset") != NULL);
          if (!strstr(serve_status_message(st), "byte offset"))
            fprintf(stderr, "  %s\n", serve_status_message(st));
          serve_status_free(st);
          continue;
        }
        for (int k = 0; k < req.num_inputs; k++) {
          serve_tensor t;
          st = kserve_input_tensor(&req, k, tensors[k % 2].dtype, &t);
          if (st) {
            CHECK(strstr(serve_status_message(st), "input '") != NULL ||
                  strstr(serve_status_message(st), "byte offset") != NULL);
            serve_status_free(st);
          } else {
            CHECK(t.nbytes <= len);
            serve_tensor_release(&t);
          }
        }
        kserve_infer_request_free(&req);
      }
    }
    free(copy);
    kiln_pb_writer_free(&w);
  }
  for (int k = 0; k < 2; k++) free(tensors[k].data);
}

static void test_model_requests(void) {
  kiln_pb_writer w = {0};
  kiln_pb_put_string(&w, 1, "mlp");
  kiln_pb_put_string(&w, 2, "12");
  kserve_model_request req;
  serve_status *st = kserve_decode_model_request(w.data, w.len, KSERVE_NAMED,
                                                 "ModelReadyRequest", &req);
  CHECK(!st && !strcmp(req.name, "mlp") && req.version == 12);
  serve_status_free(st);
  kiln_pb_writer_free(&w);

  w = (kiln_pb_writer){0};
  kiln_pb_put_string(&w, 1, "mlp");
  kiln_pb_put_string(&w, 2, "x1");
  st = kserve_decode_model_request(w.data, w.len, KSERVE_NAMED,
                                   "ModelMetadataRequest", &req);
  CHECK(st && strstr(serve_status_message(st),
                     "ModelMetadataRequest: the version at byte offset 5"));
  serve_status_free(st);
  kiln_pb_writer_free(&w);

  char long_name[200];
  memset(long_name, 'a', sizeof long_name - 1);
  long_name[sizeof long_name - 1] = '\0';
  w = (kiln_pb_writer){0};
  kiln_pb_put_string(&w, 1, long_name);
  st = kserve_decode_model_request(w.data, w.len, KSERVE_NAMED,
                                   "ModelConfigRequest", &req);
  CHECK(st && strstr(serve_status_message(st), "longer than 127"));
  serve_status_free(st);
  kiln_pb_writer_free(&w);

  /* RepositoryModelLoadRequest{repository_name, model_name, parameters
   * {"base_path": {string_param}}} */
  w = (kiln_pb_writer){0};
  kiln_pb_put_string(&w, 1, "");
  kiln_pb_put_string(&w, 2, "resnet");
  size_t p = kiln_pb_begin(&w, 3);
  kiln_pb_put_string(&w, 1, "base_path");
  size_t v = kiln_pb_begin(&w, 2);
  kiln_pb_put_string(&w, 3, "/models/resnet");
  kiln_pb_end(&w, v);
  kiln_pb_end(&w, p);
  st = kserve_decode_model_request(w.data, w.len, KSERVE_REPOSITORY,
                                   "RepositoryModelLoadRequest", &req);
  CHECK(!st && !strcmp(req.name, "resnet") && req.base_path &&
        !strcmp(req.base_path, "/models/resnet"));
  free(req.base_path);
  serve_status_free(st);
  kiln_pb_writer_free(&w);

  w = (kiln_pb_writer){0};
  kiln_pb_put_bool(&w, 2, true);
  st = kserve_decode_model_request(w.data, w.len, KSERVE_INDEX,
                                   "RepositoryIndexRequest", &req);
  CHECK(!st && req.ready);
  serve_status_free(st);
  kiln_pb_writer_free(&w);

  CHECK(kserve_config_dtype(KILN_FLOAT32) == 11);
  CHECK(kserve_config_dtype(KILN_UINT8) == 2);
  CHECK(kserve_config_dtype(KILN_INT64) == 9);
}

int main(void) {
  kiln_test_seed(0x6b73657276);
  test_round_trip();
  test_response();
  test_refused();
  test_damaged();
  test_model_requests();
  return kiln_test_finish("test_serve_kserve_proto");
}
