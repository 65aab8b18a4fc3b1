/* test_serve_tensor_json.c - JSON values to tensors and back, as TF
 * Serving's REST API and KServe v2 carry them: shapes taken from nested
 * lists, ragged lists refused, every integer dtype's range, booleans,
 * KServe's flat data with a given shape, stacked instances, base64 in
 * both alphabets; and float32 written in the shortest text that reads
 * back to the same float; TF Serving's bare NaN and Infinity read into
 * float tensors, strings holding those words left alone. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "serve/tensor_json.h"

/* Parses `text` (JSON) and converts it: nested when rank < 0, else flat
 * with the given shape. */
static serve_status *convert(const char *text, kiln_dtype dtype, int rank,
                             const int64_t *dims, serve_tensor *out) {
  json_error_t error;
  json_t *value = json_loads(text, JSON_DECODE_ANY, &error);
  if (!value) {
    fprintf(stderr, "  bad test JSON %s: %s\n", text, error.text);
    memset(out, 0, sizeof *out);
    return serve_error(SERVE_INTERNAL, "bad test JSON");
  }
  serve_status *st =
      serve_json_to_tensor(value, dtype, "input 'x'", rank < 0 ? NULL : dims,
                           rank < 0 ? 0 : rank, out);
  json_decref(value);
  return st;
}

static bool has_shape(const serve_tensor *t, int rank, const int64_t *dims) {
  if (t->rank != rank) return false;
  for (int d = 0; d < rank; d++)
    if (t->dims[d] != dims[d]) return false;
  return true;
}

/* Expects conversion to fail with `code` and a message containing needle;
 * the tensor is left without data. */
static void check_fails(const char *text, kiln_dtype dtype, int rank,
                        const int64_t *dims, serve_code code,
                        const char *needle, int line) {
  serve_tensor t;
  serve_status *st = convert(text, dtype, rank, dims, &t);
  kiln_test_checks++;
  if (!st || serve_status_code(st) != code ||
      !strstr(serve_status_message(st), needle) || t.data) {
    kiln_test_failures++;
    fprintf(stderr, "%s:%d: %.60s: expected an error with '%s', got '%s'\n",
            __FILE__, line, text, needle,
            st ? serve_status_message(st) : "success");
  }
  free(t.data);
  serve_status_free(st);
}
#define CHECK_NESTED_FAILS(text, dtype, needle)                            \
  check_fails((text), (dtype), -1, NULL, SERVE_INVALID_ARGUMENT, (needle), \
              __LINE__)

static void test_nested_shapes(void) {
  serve_tensor t;
  serve_status *st =
      convert("[[1, 2, 3], [4, 5.5, -6e2]]", KILN_FLOAT32, -1, NULL, &t);
  CHECK(st == NULL);
  CHECK(has_shape(&t, 2, (int64_t[]){2, 3}) && t.dtype == KILN_FLOAT32);
  CHECK(t.nbytes == 6 * sizeof(float));
  const float want[] = {1, 2, 3, 4, 5.5f, -600};
  CHECK(t.data && !memcmp(t.data, want, sizeof want));
  free(t.data);
  /* A scalar is rank 0 with one element. */
  st = convert("7", KILN_INT32, -1, NULL, &t);
  CHECK(st == NULL && t.rank == 0 && t.nbytes == 4 && *(int32_t *)t.data == 7);
  free(t.data);
  /* Empty lists: the shape stops at the first empty one. */
  st = convert("[]", KILN_FLOAT32, -1, NULL, &t);
  CHECK(st == NULL && has_shape(&t, 1, (int64_t[]){0}) && t.nbytes == 0);
  CHECK(t.data != NULL);
  free(t.data);
  st = convert("[[], []]", KILN_FLOAT32, -1, NULL, &t);
  CHECK(st == NULL && has_shape(&t, 2, (int64_t[]){2, 0}) && t.nbytes == 0);
  free(t.data);
  /* Rank 8 (KILN_MAX_RANK) is the deepest. */
  st = convert("[[[[[[[[1,2]]]]]]]]", KILN_FLOAT64, -1, NULL, &t);
  CHECK(st == NULL && has_shape(&t, 8, (int64_t[]){1, 1, 1, 1, 1, 1, 1, 2}));
  CHECK(t.data && ((double *)t.data)[1] == 2.0);
  free(t.data);
  CHECK_NESTED_FAILS("[[[[[[[[[1]]]]]]]]]", KILN_FLOAT32, "nest deeper than 8");
  /* A 3-D tensor's values in row-major order. */
  st = convert("[[[0,1],[2,3],[4,5]],[[6,7],[8,9],[10,11]]]", KILN_INT64, -1,
               NULL, &t);
  CHECK(st == NULL && has_shape(&t, 3, (int64_t[]){2, 3, 2}));
  for (int i = 0; st == NULL && i < 12; i++) CHECK(((int64_t *)t.data)[i] == i);
  free(t.data);
}

static void test_ragged(void) {
  CHECK_NESTED_FAILS("[[1, 2], [3]]", KILN_FLOAT32,
                     "lists must be rectangular");
  CHECK_NESTED_FAILS("[[1], [2, 3]]", KILN_FLOAT32, "rectangular");
  CHECK_NESTED_FAILS("[[1, 2], 3]", KILN_FLOAT32,
                     "found a value at depth 1 where the shape wants a list");
  CHECK_NESTED_FAILS("[1, [2]]", KILN_FLOAT32, "a list of 1 items at depth 1");
  CHECK_NESTED_FAILS("[[[1]], [[1], [2]]]", KILN_FLOAT32, "rectangular");
  CHECK_NESTED_FAILS("[[], [1]]", KILN_FLOAT32, "rectangular");
  /* The shape of the first items is not trusted for the allocation: a
   * small ragged body whose first path claims a huge shape fails without
   * allocating it. */
  static char text[16384];
  size_t n = 0;
  for (int level = 0; level < 5; level++) n += (size_t)sprintf(text + n, "[");
  n += (size_t)sprintf(text + n, "0");
  for (int level = 0; level < 5; level++) {
    for (int i = 0; i < 999; i++) n += (size_t)sprintf(text + n, ",0");
    n += (size_t)sprintf(text + n, "]");
  }
  /* [1000, 1000, 1000, 1000, 1000] from 5000 numbers: 4 PB of float32. */
  CHECK_NESTED_FAILS(text, KILN_FLOAT32, "where the shape wants a list");
}

static void test_types(void) {
  CHECK_NESTED_FAILS("[1, \"2\"]", KILN_FLOAT32,
                     "input 'x': expected a number but got a string");
  CHECK_NESTED_FAILS("[true]", KILN_FLOAT32,
                     "expected a number but got a boolean");
  CHECK_NESTED_FAILS("[null]", KILN_FLOAT64, "got null");
  CHECK_NESTED_FAILS("[{\"a\": 1}]", KILN_FLOAT32, "got an object");
  CHECK_NESTED_FAILS("[1.5]", KILN_INT32,
                     "expected an integer (int32) but got a number");
  CHECK_NESTED_FAILS("[1.0]", KILN_INT8, "expected an integer (int8)");
  CHECK_NESTED_FAILS("[1]", KILN_BOOL,
                     "expected true or false but got an integer");
  check_fails("[1]", KILN_FLOAT16, -1, NULL, SERVE_UNIMPLEMENTED,
              "conversion of JSON values to float16 is not supported",
              __LINE__);
  check_fails("[1]", KILN_DTYPE_INVALID, -1, NULL, SERVE_UNIMPLEMENTED,
              "is not served", __LINE__);
  /* Integers become floats. */
  serve_tensor t;
  serve_status *st = convert("[3, -16777217]", KILN_FLOAT32, -1, NULL, &t);
  CHECK(st == NULL && ((float *)t.data)[0] == 3.0f &&
        ((float *)t.data)[1] == -16777216.0f);
  free(t.data);
  st = convert("[0.1, 1e308]", KILN_FLOAT64, -1, NULL, &t);
  CHECK(st == NULL && ((double *)t.data)[0] == 0.1 &&
        ((double *)t.data)[1] == 1e308);
  free(t.data);
  /* float32 rounds to nearest; beyond its range is infinity. */
  st = convert("[0.1, 1e39, -1e39]", KILN_FLOAT32, -1, NULL, &t);
  CHECK(st == NULL && ((float *)t.data)[0] == 0.1f &&
        isinf(((float *)t.data)[1]) && ((float *)t.data)[2] < 0);
  free(t.data);
  st = convert("[[true, false], [false, true]]", KILN_BOOL, -1, NULL, &t);
  CHECK(st == NULL && has_shape(&t, 2, (int64_t[]){2, 2}) && t.nbytes == 4);
  CHECK(st == NULL && !memcmp(t.data, "\1\0\0\1", 4));
  free(t.data);
}

/* The integer dtypes at and just past both ends of their range. */
static void test_integer_ranges(void) {
  const struct {
    kiln_dtype dtype;
    const char *lo, *hi, *below, *above;
    int64_t lo_value, hi_value;
  } table[] = {
      {KILN_INT8, "-128", "127", "-129", "128", INT8_MIN, INT8_MAX},
      {KILN_UINT8, "0", "255", "-1", "256", 0, UINT8_MAX},
      {KILN_INT16, "-32768", "32767", "-32769", "32768", INT16_MIN, INT16_MAX},
      {KILN_INT32, "-2147483648", "2147483647", "-2147483649", "2147483648",
       INT32_MIN, INT32_MAX},
      {KILN_INT64, "-9223372036854775808", "9223372036854775807", NULL, NULL,
       INT64_MIN, INT64_MAX},
      {KILN_UINT16, "0", "65535", "-1", "65536", 0, UINT16_MAX},
      {KILN_UINT32, "0", "4294967295", "-1", "4294967296", 0, UINT32_MAX},
      /* JSON's reader holds int64: the largest uint64 it can give */
      {KILN_UINT64, "0", "9223372036854775807", "-1", NULL, 0, INT64_MAX},
  };
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
    char text[128];
    snprintf(text, sizeof text, "[%s, %s]", table[i].lo, table[i].hi);
    serve_tensor t;
    serve_status *st = convert(text, table[i].dtype, -1, NULL, &t);
    CHECK(st == NULL);
    size_t size = kiln_dtype_size(table[i].dtype);
    CHECK(t.nbytes == 2 * size);
    int64_t got[2] = {0, 0};
    for (int k = 0; st == NULL && k < 2; k++) {
      const char *p = (const char *)t.data + (size_t)k * size;
      switch (table[i].dtype) {
        case KILN_INT8:
          got[k] = *(const int8_t *)p;
          break;
        case KILN_UINT8:
          got[k] = *(const uint8_t *)p;
          break;
        case KILN_INT16:
          got[k] = *(const int16_t *)p;
          break;
        case KILN_INT32:
          got[k] = *(const int32_t *)p;
          break;
        case KILN_UINT16:
          got[k] = *(const uint16_t *)p;
          break;
        case KILN_UINT32:
          got[k] = *(const uint32_t *)p;
          break;
        case KILN_UINT64:
          got[k] = (int64_t) * (const uint64_t *)p;
          break;
        default:
          got[k] = *(const int64_t *)p;
      }
    }
    CHECK(got[0] == table[i].lo_value && got[1] == table[i].hi_value);
    free(t.data);
    serve_status_free(st);
    if (!table[i].below) continue;
    snprintf(text, sizeof text, "[%s]", table[i].below);
    char needle[64];
    snprintf(needle, sizeof needle, "%s does not fit %s", table[i].below,
             kiln_dtype_name(table[i].dtype));
    CHECK_NESTED_FAILS(text, table[i].dtype, needle);
    if (!table[i].above) continue;
    snprintf(text, sizeof text, "[%s]", table[i].above);
    snprintf(needle, sizeof needle, "%s does not fit", table[i].above);
    CHECK_NESTED_FAILS(text, table[i].dtype, needle);
  }
}

static void test_flat(void) {
  serve_tensor t;
  const int64_t dims23[] = {2, 3};
  /* KServe's flat data in row-major order, or nested, or any nesting. */
  const char *forms[] = {"[1,2,3,4,5,6]", "[[1,2,3],[4,5,6]]",
                         "[[1,2],[3,4,5,6]]", "[[[1]],2,[3,[4,[5,6]]]]"};
  for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
    serve_status *st = convert(forms[i], KILN_INT16, 2, dims23, &t);
    CHECK(st == NULL && has_shape(&t, 2, dims23) && t.nbytes == 12);
    for (int k = 0; st == NULL && k < 6; k++)
      CHECK(((int16_t *)t.data)[k] == k + 1);
    free(t.data);
    serve_status_free(st);
  }
  /* The shape given wins over the nesting. */
  const int64_t dims32[] = {3, 2};
  serve_status *st = convert("[[1,2,3],[4,5,6]]", KILN_FLOAT32, 2, dims32, &t);
  CHECK(st == NULL && has_shape(&t, 2, dims32));
  free(t.data);
  /* A scalar shape takes one value, bare or in a list. */
  st = convert("5", KILN_UINT8, 0, dims23, &t);
  CHECK(st == NULL && t.rank == 0 && t.nbytes == 1 && *(uint8_t *)t.data == 5);
  free(t.data);
  st = convert("[5]", KILN_UINT8, 0, dims23, &t);
  CHECK(st == NULL && t.rank == 0 && *(uint8_t *)t.data == 5);
  free(t.data);
  /* A zero-size shape takes no values. */
  const int64_t dims0[] = {0, 4};
  st = convert("[]", KILN_FLOAT32, 2, dims0, &t);
  CHECK(st == NULL && has_shape(&t, 2, dims0) && t.nbytes == 0);
  free(t.data);
  check_fails("[1,2,3,4,5]", KILN_INT16, 2, dims23, SERVE_INVALID_ARGUMENT,
              "holds 5 values; its shape wants 6", __LINE__);
  check_fails("[1,2,3,4,5,6,7]", KILN_INT16, 2, dims23, SERVE_INVALID_ARGUMENT,
              "holds more values than its shape's 6", __LINE__);
  check_fails("[1]", KILN_FLOAT32, 2, dims0, SERVE_INVALID_ARGUMENT,
              "more values", __LINE__);
  check_fails("[1,2,3,4,5,true]", KILN_INT16, 2, dims23, SERVE_INVALID_ARGUMENT,
              "expected an integer", __LINE__);
  const int64_t dims9[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
  check_fails("[1]", KILN_FLOAT32, 9, dims9, SERVE_INVALID_ARGUMENT,
              "shape has 9 dimensions; at most 8", __LINE__);
  const int64_t negative[] = {2, -1};
  check_fails("[1,2]", KILN_FLOAT32, 2, negative, SERVE_INVALID_ARGUMENT,
              "bad or huge shape", __LINE__);
  const int64_t overflow[] = {INT64_MAX / 2, 4};
  check_fails("[1,2]", KILN_FLOAT32, 2, overflow, SERVE_INVALID_ARGUMENT,
              "bad or huge shape", __LINE__);
  /* A huge shape with few values is refused before anything that size is
   * allocated (a terabyte here would fail, or abort under ASan). */
  const int64_t huge[] = {1 << 20, 1 << 20};
  check_fails("[1,2,3]", KILN_FLOAT32, 2, huge, SERVE_INVALID_ARGUMENT,
              "holds 3 values; its shape wants 1099511627776", __LINE__);
  /* A shape without values answers with one empty list per index before
   * its first 0: [2^40, 0] would write terabytes of "[]" (and loop 2^40
   * times doing it). */
  const int64_t most_lists[] = {1 << 10, 1 << 10, 0, 5};
  st = convert("[]", KILN_FLOAT32, 4, most_lists, &t);
  CHECK(st == NULL && t.nbytes == 0);
  free(t.data);
  const int64_t too_many_lists[] = {(1 << 20) + 1, 0};
  check_fails("[]", KILN_FLOAT32, 2, too_many_lists, SERVE_INVALID_ARGUMENT,
              "at most 1048576 lists before its first 0, not 1048577",
              __LINE__);
  int64_t count = -1;
  st = serve_check_shape((const int64_t[]){3, 0, INT64_MAX}, 3, KILN_INT8, "x",
                         &count);
  CHECK(st == NULL && count == 0);
  st = serve_check_shape((const int64_t[]){1 << 30, 1 << 30, 1 << 30}, 3,
                         KILN_INT8, "x", &count);
  CHECK(st && strstr(serve_status_message(st), "x: bad or huge shape"));
  serve_status_free(st);
  const int64_t zero_and_huge[] = {0, INT64_MAX};
  st = convert("[]", KILN_FLOAT32, 2, zero_and_huge, &t);
  CHECK(st == NULL && t.nbytes == 0);
  free(t.data);
}

static void test_stack(void) {
  serve_tensor parts[3];
  serve_status *st = convert("[1, 2]", KILN_INT32, -1, NULL, &parts[0]);
  st = st ? st : convert("[3, 4]", KILN_INT32, -1, NULL, &parts[1]);
  st = st ? st : convert("[5, 6]", KILN_INT32, -1, NULL, &parts[2]);
  CHECK(st == NULL);
  if (st) {
    serve_status_free(st);
    return;
  }
  serve_tensor out;
  st = serve_stack_tensors(parts, 3, "x", &out);
  CHECK(st == NULL && has_shape(&out, 2, (int64_t[]){3, 2}));
  CHECK(out.nbytes == 24 && out.dtype == KILN_INT32);
  for (int k = 0; st == NULL && k < 6; k++)
    CHECK(((int32_t *)out.data)[k] == k + 1);
  free(out.data);
  /* One instance still gains the batch dimension. */
  st = serve_stack_tensors(parts, 1, "x", &out);
  CHECK(st == NULL && has_shape(&out, 2, (int64_t[]){1, 2}));
  free(out.data);
  free(parts[2].data);
  st = convert("[5, 6, 7]", KILN_INT32, -1, NULL, &parts[2]);
  CHECK(st == NULL);
  st = serve_stack_tensors(parts, 3, "x", &out);
  CHECK(st && strstr(serve_status_message(st),
                     "x: instance 2 has a different shape from instance 0"));
  CHECK(out.data == NULL);
  serve_status_free(st);
  /* Same element count, different shape. */
  free(parts[2].data);
  st = convert("[[5], [6]]", KILN_INT32, -1, NULL, &parts[2]);
  st = serve_stack_tensors(parts, 3, "x", &out);
  CHECK(st && strstr(serve_status_message(st), "instance 2"));
  serve_status_free(st);
  for (int i = 0; i < 3; i++) free(parts[i].data);
  /* Scalars stack into a vector. */
  st = convert("1", KILN_FLOAT32, -1, NULL, &parts[0]);
  st = st ? st : convert("2", KILN_FLOAT32, -1, NULL, &parts[1]);
  st = st ? st : serve_stack_tensors(parts, 2, "x", &out);
  CHECK(st == NULL && has_shape(&out, 1, (int64_t[]){2}) &&
        ((float *)out.data)[1] == 2.0f);
  free(out.data);
  free(parts[0].data);
  free(parts[1].data);
  st = serve_stack_tensors(parts, 0, "x", &out);
  CHECK(st != NULL);
  serve_status_free(st);
}

/* Decodes base64 into a uint8 tensor of shape [n]. */
static serve_status *b64(const char *text, int64_t n, serve_tensor *out) {
  return serve_b64_to_tensor(text, KILN_UINT8, &n, 1, "input 'x'", out);
}

static void test_base64(void) {
  serve_tensor t;
  serve_status *st = b64("AQID", 3, &t);
  CHECK(st == NULL && t.nbytes == 3 && !memcmp(t.data, "\1\2\3", 3));
  free(t.data);
  /* Padding, present or not. */
  st = b64("AQI=", 2, &t);
  CHECK(st == NULL && t.nbytes == 2 && !memcmp(t.data, "\1\2", 2));
  free(t.data);
  st = b64("AQ==", 1, &t);
  CHECK(st == NULL && t.nbytes == 1 && !memcmp(t.data, "\1", 1));
  free(t.data);
  st = b64("AQI", 2, &t);
  CHECK(st == NULL && t.nbytes == 2 && !memcmp(t.data, "\1\2", 2));
  free(t.data);
  st = b64("", 0, &t);
  CHECK(st == NULL && t.nbytes == 0);
  free(t.data);
  /* Both alphabets: +/ and -_ are the same values. */
  st = b64("+/+/", 3, &t);
  CHECK(st == NULL && !memcmp(t.data, "\xfb\xff\xbf", 3));
  free(t.data);
  st = b64("-_-_", 3, &t);
  CHECK(st == NULL && !memcmp(t.data, "\xfb\xff\xbf", 3));
  free(t.data);
  /* Every byte value round-trips (encoded here by hand). */
  static const char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  unsigned char bytes[256];
  char text[400];
  size_t n = 0;
  for (int i = 0; i < 256; i++) bytes[i] = (unsigned char)(255 - i);
  for (int i = 0; i < 256; i += 3) {
    uint32_t v = (uint32_t)bytes[i] << 16 |
                 (i + 1 < 256 ? (uint32_t)bytes[i + 1] << 8 : 0) |
                 (i + 2 < 256 ? bytes[i + 2] : 0);
    text[n++] = alphabet[v >> 18 & 63];
    text[n++] = alphabet[v >> 12 & 63];
    text[n++] = i + 1 < 256 ? alphabet[v >> 6 & 63] : '=';
    text[n++] = i + 2 < 256 ? alphabet[v & 63] : '=';
  }
  text[n] = '\0';
  st = b64(text, 256, &t);
  CHECK(st == NULL && t.nbytes == 256 && !memcmp(t.data, bytes, 256));
  free(t.data);
  /* Multi-byte dtypes take the bytes as is, shaped as asked. */
  float f[2] = {1.5f, -2.0f};
  int64_t dims[] = {2, 1};
  st = serve_b64_to_tensor("AADAPwAAAMA=", KILN_FLOAT32, dims, 2, "x", &t);
  CHECK(st == NULL && has_shape(&t, 2, dims) && !memcmp(t.data, f, 8));
  free(t.data);
  /* Bad characters, misplaced or excess padding, impossible lengths. */
  const char *bad[] = {
      "AQ$D", "AQ D", "AQ=D", "A===", "AQ===", "AQIDB", "=", "AQ\"D", "AQ.D"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    st = b64(bad[i], 3, &t);
    CHECK(st && serve_status_code(st) == SERVE_INVALID_ARGUMENT &&
          strstr(serve_status_message(st), "Unable to base64 decode") &&
          t.data == NULL);
    if (!st) fprintf(stderr, "  '%s' decoded\n", bad[i]);
    free(t.data);
    serve_status_free(st);
  }
  st = b64("AQ$D", 3, &t);
  CHECK(st && strstr(serve_status_message(st), "bad character at 2"));
  serve_status_free(st);
  /* A shape whose bytes overflow to the decoded size is still refused. */
  int64_t wraps[] = {(int64_t)1 << 40, (int64_t)1 << 24};
  st = serve_b64_to_tensor("", KILN_UINT8, wraps, 2, "x", &t);
  CHECK(st && strstr(serve_status_message(st), "bad or huge shape") &&
        t.data == NULL);
  serve_status_free(st);
  /* The decoded size must be the shape's. */
  st = b64("AQID", 4, &t);
  CHECK(st && strstr(serve_status_message(st),
                     "b64 holds 3 bytes; a uint8 tensor of its shape takes 4"));
  CHECK(t.data == NULL);
  serve_status_free(st);
  json_t *v = json_pack("{s:s}", "b64", "AQID");
  CHECK(serve_json_is_b64(v));
  json_decref(v);
  v = json_pack("{s:s, s:i}", "b64", "AQID", "x", 1);
  CHECK(!serve_json_is_b64(v));
  json_decref(v);
  v = json_pack("{s:i}", "b64", 1);
  CHECK(!serve_json_is_b64(v));
  json_decref(v);
  v = json_pack("[s]", "b64");
  CHECK(!serve_json_is_b64(v));
  json_decref(v);
}

/* Significant digits of a float's text as serve_write_float writes it
 * (the ".0" it adds to integers is not one). */
static int significant_digits(const char *text) {
  size_t len = strcspn(text, "eE");
  if (len >= 2 && !strchr(text, 'e') && !strcmp(text + len - 2, ".0")) len -= 2;
  int digits = 0;
  bool leading = true;
  for (size_t i = 0; i < len; i++) {
    if (text[i] < '0' || text[i] > '9') continue;
    if (leading && text[i] == '0') continue;
    leading = false;
    digits++;
  }
  return digits ? digits : 1;
}

static const char *write_float(serve_buf *b, float v) {
  b->len = 0;
  if (b->data) b->data[0] = '\0';
  serve_write_float(b, v);
  return b->data;
}

static void test_write_float(void) {
  serve_buf b = {0};
  const struct {
    float value;
    const char *text;
  } table[] = {
      {0.0f, "0.0"},
      {-0.0f, "-0.0"},
      {1.0f, "1.0"},
      {-2.0f, "-2.0"},
      {0.1f, "0.1"},
      {0.5f, "0.5"},
      {1.5f, "1.5"},
      {100.0f, "1e+02"},
      {123456.0f, "123456.0"},
      {16777216.0f, "16777216.0"},
      {3.14159274f, "3.1415927"},
      {1e-45f, "1e-45"},
      {3.40282347e38f, "3.4028235e+38"},
      {1.17549435e-38f, "1.1754944e-38"},
      {0.3f, "0.3"},
      {2.5e-5f, "2.5e-05"},
  };
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
    const char *text = write_float(&b, table[i].value);
    CHECK(text && !strcmp(text, table[i].text));
    if (text && strcmp(text, table[i].text))
      fprintf(stderr, "  %.9g written as %s, want %s\n", (double)table[i].value,
              text, table[i].text);
  }
  CHECK(!strcmp(write_float(&b, NAN), "NaN"));
  CHECK(!strcmp(write_float(&b, INFINITY), "Infinity"));
  CHECK(!strcmp(write_float(&b, -INFINITY), "-Infinity"));
  /* A million random finite floats (every exponent, subnormals included):
   * the text reads back to the same float, by strtof and as JSON (a
   * double, then float, as clients read it), and no %.Ng with fewer
   * digits would. */
  kiln_test_seed(20261125);
  long not_exact = 0, not_shortest = 0, not_json = 0, tested = 0;
  for (long i = 0; i < 1000000; i++) {
    uint32_t bits = kiln_test_rand();
    float v;
    memcpy(&v, &bits, sizeof v);
    if (!isfinite(v)) continue;
    tested++;
    const char *text = write_float(&b, v);
    char *end;
    float back = strtof(text, &end);
    if (*end || memcmp(&back, &v, sizeof v)) {
      if (not_exact++ < 5)
        fprintf(stderr, "  %08x written as %s reads back as %.9g\n", bits, text,
                (double)back);
    }
    json_t *parsed = json_loads(text, JSON_DECODE_ANY, NULL);
    float from_json = parsed ? (float)json_number_value(parsed) : NAN;
    json_decref(parsed);
    if (memcmp(&from_json, &v, sizeof v)) {
      if (not_json++ < 5)
        fprintf(stderr, "  %08x written as %s: JSON reads %.9g\n", bits, text,
                (double)from_json);
    }
    int digits = significant_digits(text);
    for (int p = 1; p < digits; p++) {
      char shorter[400];
      snprintf(shorter, sizeof shorter, "%.*g", p, (double)v);
      if (strtof(shorter, NULL) == v) {
        if (not_shortest++ < 5)
          fprintf(stderr, "  %08x written as %s but %s reads back\n", bits,
                  text, shorter);
        break;
      }
    }
  }
  CHECK(tested > 990000);
  CHECK(not_exact == 0);
  CHECK(not_json == 0);
  CHECK(not_shortest == 0);
  serve_buf_free(&b);
}

static void test_tensor_to_json(void) {
  serve_tensor t = {.dtype = KILN_FLOAT32, .rank = 3, .dims = {2, 1, 2}};
  float values[] = {1, 0.25f, -3, 1e10f};
  t.data = values;
  t.nbytes = sizeof values;
  serve_buf b = {0};
  serve_tensor_to_json(&b, &t, 0, 0, false);
  CHECK(b.data && !strcmp(b.data, "[[[1.0,0.25]],[[-3.0,1e+10]]]"));
  b.len = 0;
  serve_tensor_to_json(&b, &t, 1, 1, false);
  CHECK(b.data && !strcmp(b.data, "[[-3.0,1e+10]]"));
  b.len = 0;
  serve_tensor_to_json(&b, &t, 0, 0, true);
  CHECK(b.data && !strcmp(b.data, "[1.0,0.25,-3.0,1e+10]"));
  b.len = 0;
  int8_t small[] = {-128, 127};
  serve_tensor i8 = {
      .dtype = KILN_INT8, .rank = 1, .dims = {2}, .data = small, .nbytes = 2};
  serve_tensor_to_json(&b, &i8, 0, 0, false);
  CHECK(b.data && !strcmp(b.data, "[-128,127]"));
  b.len = 0;
  uint8_t flags[] = {1, 0};
  serve_tensor bools = {
      .dtype = KILN_BOOL, .rank = 1, .dims = {2}, .data = flags, .nbytes = 2};
  serve_tensor_to_json(&b, &bools, 0, 0, false);
  CHECK(b.data && !strcmp(b.data, "[true,false]"));
  b.len = 0;
  int64_t big[] = {INT64_MIN};
  serve_tensor i64 = {.dtype = KILN_INT64, .rank = 0, .data = big, .nbytes = 8};
  serve_tensor_to_json(&b, &i64, 0, 0, false);
  CHECK(b.data && !strcmp(b.data, "-9223372036854775808"));
  b.len = 0;
  /* float16 outputs as their float values: 1, -2, the largest half, the
   * smallest subnormal, infinity */
  uint16_t halves[] = {0x3C00, 0xC000, 0x7BFF, 0x0001, 0x7C00};
  serve_tensor th = {.dtype = KILN_FLOAT16,
                     .rank = 1,
                     .dims = {5},
                     .data = halves,
                     .nbytes = sizeof halves};
  serve_tensor_to_json(&b, &th, 0, 0, false);
  CHECK(b.data && !strcmp(b.data, "[1.0,-2.0,65504.0,5.9604645e-08,Infinity]"));
  b.len = 0;
  /* unsigned types over their whole range, uint64 past INT64_MAX too */
  uint16_t u16[] = {0, UINT16_MAX};
  serve_tensor tu16 = {
      .dtype = KILN_UINT16, .rank = 1, .dims = {2}, .data = u16, .nbytes = 4};
  serve_tensor_to_json(&b, &tu16, 0, 0, false);
  CHECK(b.data && !strcmp(b.data, "[0,65535]"));
  b.len = 0;
  uint32_t u32[] = {7, UINT32_MAX};
  serve_tensor tu32 = {
      .dtype = KILN_UINT32, .rank = 1, .dims = {2}, .data = u32, .nbytes = 8};
  serve_tensor_to_json(&b, &tu32, 0, 0, false);
  CHECK(b.data && !strcmp(b.data, "[7,4294967295]"));
  b.len = 0;
  uint64_t u64[] = {(uint64_t)INT64_MAX + 1, UINT64_MAX};
  serve_tensor tu64 = {
      .dtype = KILN_UINT64, .rank = 1, .dims = {2}, .data = u64, .nbytes = 16};
  serve_tensor_to_json(&b, &tu64, 0, 0, true);
  CHECK(b.data &&
        !strcmp(b.data, "[9223372036854775808,18446744073709551615]"));
  b.len = 0;
  /* float64 too is shortest, and integers keep ".0" (and -0 its sign):
   * as JSON integers they would read back as 0 or as ints. */
  double d[] = {0.1,
                NAN,
                -0.0,
                5,
                1e308,
                4.9406564584124654e-324,
                0.30000000000000004,
                -INFINITY};
  serve_tensor f64 = {.dtype = KILN_FLOAT64,
                      .rank = 1,
                      .dims = {8},
                      .data = d,
                      .nbytes = sizeof d};
  serve_tensor_to_json(&b, &f64, 0, 0, false);
  CHECK(b.data && !strcmp(b.data,
                          "[0.1,NaN,-0.0,5.0,1e+308,5e-324,"
                          "0.30000000000000004,-Infinity]"));
  /* Random doubles read back exactly from the shortest text. */
  kiln_test_seed(7);
  long bad = 0;
  for (int i = 0; i < 100000; i++) {
    uint64_t bits = (uint64_t)kiln_test_rand() << 32 | kiln_test_rand();
    double v;
    memcpy(&v, &bits, sizeof v);
    if (!isfinite(v)) continue;
    serve_tensor one = {
        .dtype = KILN_FLOAT64, .rank = 0, .data = &v, .nbytes = 8};
    b.len = 0;
    serve_tensor_to_json(&b, &one, 0, 0, false);
    json_t *parsed = json_loads(b.data, JSON_DECODE_ANY, NULL);
    double back = parsed ? json_number_value(parsed) : NAN;
    json_decref(parsed);
    char shorter[400];
    int digits = significant_digits(b.data);
    snprintf(shorter, sizeof shorter, "%.*g", digits - 1, v);
    if (memcmp(&back, &v, 8) || (digits > 1 && strtod(shorter, NULL) == v))
      if (bad++ < 5) fprintf(stderr, "  %.17g written as %s\n", v, b.data);
  }
  CHECK(bad == 0);
  serve_buf_free(&b);
  /* Names of dtypes both ways. */
  CHECK(!strcmp(serve_kserve_dtype(KILN_FLOAT32), "FP32"));
  CHECK(serve_kserve_dtype_parse("INT64") == KILN_INT64);
  CHECK(serve_kserve_dtype_parse("fp32") == KILN_DTYPE_INVALID);
  CHECK(serve_kserve_dtype_parse("BYTES") == KILN_DTYPE_INVALID);
  CHECK(!strcmp(serve_tf_dtype(KILN_BOOL), "DT_BOOL"));
  const struct {
    kiln_dtype dtype;
    const char *kserve, *tf;
  } unsigned_names[] = {{KILN_UINT16, "UINT16", "DT_UINT16"},
                        {KILN_UINT32, "UINT32", "DT_UINT32"},
                        {KILN_UINT64, "UINT64", "DT_UINT64"}};
  for (int i = 0; i < 3; i++) {
    CHECK(!strcmp(serve_kserve_dtype(unsigned_names[i].dtype),
                  unsigned_names[i].kserve));
    CHECK(serve_kserve_dtype_parse(unsigned_names[i].kserve) ==
          unsigned_names[i].dtype);
    CHECK(
        !strcmp(serve_tf_dtype(unsigned_names[i].dtype), unsigned_names[i].tf));
  }
  CHECK(!strcmp(serve_kserve_dtype(KILN_DTYPE_INVALID), "UNKNOWN"));
}

/* Parses text with serve_json_loadb (TF Serving's NaN and Infinity) and
 * converts the value under "x" to a float tensor of its nesting. */
static serve_status *convert_nonfinite(const char *text, kiln_dtype dtype,
                                       serve_tensor *out) {
  json_error_t error;
  memset(out, 0, sizeof *out);
  json_t *body = serve_json_loadb(text, strlen(text), 0, &error);
  if (!body) return serve_error(SERVE_INVALID_ARGUMENT, "%s", error.text);
  serve_status *st = serve_json_to_tensor(json_object_get(body, "x"), dtype,
                                          "input 'x'", NULL, 0, out);
  json_decref(body);
  return st;
}

static void test_nonfinite_numbers(void) {
  /* Bare tokens, as TF Serving reads them, in every position a number
   * may take: float32 and float64 get the values. */
  const char *text =
      "{\"x\": [[NaN, Infinity, -Infinity],[ Inf,-Inf ,-NaN],\n"
      "[1.5,NaN,-0.25]], \"note\": \"NaN and -Infinity \\\" Inf\"}";
  const kiln_dtype types[2] = {KILN_FLOAT32, KILN_FLOAT64};
  for (int k = 0; k < 2; k++) {
    serve_tensor t;
    serve_status *st = convert_nonfinite(text, types[k], &t);
    CHECK(!st);
    if (st) fprintf(stderr, "  %s\n", serve_status_message(st));
    serve_status_free(st);
    if (!t.data) continue;
    CHECK(has_shape(&t, 2, (int64_t[]){3, 3}));
    double v[9];
    for (int i = 0; i < 9; i++)
      v[i] = types[k] == KILN_FLOAT32 ? ((const float *)t.data)[i]
                                      : ((const double *)t.data)[i];
    CHECK(isnan(v[0]) && v[1] == INFINITY && v[2] == -INFINITY);
    CHECK(v[3] == INFINITY && v[4] == -INFINITY && isnan(v[5]));
    CHECK(v[6] == 1.5 && isnan(v[7]) && v[8] == -0.25);
    free(t.data);
  }
  /* Strings holding the words stay strings, unchanged. */
  json_error_t error;
  const char *strings =
      "{\"a\": \"NaN\", \"b\": \"x Infinity\\\\\", \"c\": [\"-Inf\"]}";
  json_t *body = serve_json_loadb(strings, strlen(strings), 0, &error);
  CHECK(body != NULL);
  CHECK(body && !strcmp(json_string_value(json_object_get(body, "a")), "NaN"));
  CHECK(body &&
        !strcmp(json_string_value(json_object_get(body, "b")), "x Infinity\\"));
  CHECK(body && !strcmp(json_string_value(
                            json_array_get(json_object_get(body, "c"), 0)),
                        "-Inf"));
  json_decref(body);
  /* A string "NaN" in a float tensor is still not a number; nor are the
   * tokens a number for an integer or bool tensor. */
  serve_tensor t;
  const struct {
    const char *text;
    kiln_dtype dtype;
  } refused[] = {
      {"{\"x\": [\"NaN\", 1.0]}", KILN_FLOAT32},
      {"{\"x\": [\"Infinity\"]}", KILN_FLOAT64},
      {"{\"x\": [NaN, 1]}", KILN_INT32},
      {"{\"x\": [Infinity]}", KILN_BOOL},
  };
  for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
    serve_status *st = convert_nonfinite(refused[i].text, refused[i].dtype, &t);
    CHECK(st && serve_status_code(st) == SERVE_INVALID_ARGUMENT);
    CHECK(!t.data);
    free(t.data);
    serve_status_free(st);
  }
  /* Words that only start with a token, and tokens glued to others, are
   * not numbers: the body fails to parse as before. */
  const char *bad[] = {"{\"x\": [NaNa]}",       "{\"x\": [Infinit]}",
                       "{\"x\": [1NaN]}",       "{\"x\": [nan]}",
                       "{\"x\": [--Infinity]}", "{\"x\": [Infinity_]}"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    json_t *v = serve_json_loadb(bad[i], strlen(bad[i]), 0, &error);
    CHECK(v == NULL);
    if (v) fprintf(stderr, "  %s parsed\n", bad[i]);
    json_decref(v);
  }
}

int main(void) {
  test_nested_shapes();
  test_ragged();
  test_types();
  test_integer_ranges();
  test_flat();
  test_stack();
  test_base64();
  test_write_float();
  test_tensor_to_json();
  test_nonfinite_numbers();
  return kiln_test_finish("test_serve_tensor_json");
}
