/* fuzz_tensor_json.c - libFuzzer target for JSON and base64 to tensors
 * (TF Serving's nested lists and b64, KServe's flat data with a shape).
 * The first bytes choose the dtype, the form and (flat and b64) a shape,
 * some of it huge; the rest is the JSON text or the base64 string. What
 * converts must describe itself consistently, write back as JSON that
 * converts to the same bytes, split into rows that stack back to it, and
 * (base64) encode back to its text. Seeds: tests/fuzz/corpus/tensor_json/. */
#include <jansson.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "serve/tensor_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const kiln_dtype dtypes[] = {
    KILN_FLOAT32, KILN_FLOAT64, KILN_INT8, KILN_UINT8,   KILN_INT16,
    KILN_INT32,   KILN_INT64,   KILN_BOOL, KILN_FLOAT16, KILN_DTYPE_INVALID,
};
enum { NUM_DTYPES = sizeof dtypes / sizeof dtypes[0] };

static int64_t dim_of(uint8_t v) {
  switch (v) {
    case 251:
      return (int64_t)1 << 20;
    case 252:
      return (int64_t)1 << 31;
    case 253:
      return (int64_t)1 << 40;
    case 254:
      return INT64_MAX / 3;
    case 255:
      return -1;
    default:
      return v % 17;
  }
}

static void check_shape(const serve_tensor *t, kiln_dtype dtype) {
  if (t->dtype != dtype || t->rank < 0 || t->rank > KILN_MAX_RANK || !t->data)
    abort();
  size_t count = 1;
  for (int d = 0; d < t->rank; d++) {
    if (t->dims[d] < 0) abort();
    count *= (size_t)t->dims[d];
  }
  if (count * kiln_dtype_size(dtype) != t->nbytes) abort();
  volatile uint8_t sum = 0; /* every byte is there */
  for (size_t i = 0; i < t->nbytes; i++) sum += ((uint8_t *)t->data)[i];
  (void)sum;
}

static bool all_finite(const serve_tensor *t) {
  size_t n = t->nbytes / kiln_dtype_size(t->dtype);
  for (size_t i = 0; i < n; i++) {
    double v = t->dtype == KILN_FLOAT32   ? ((const float *)t->data)[i]
               : t->dtype == KILN_FLOAT64 ? ((const double *)t->data)[i]
                                          : 0;
    if (!isfinite(v)) return false;
  }
  return true;
}

/* Writes t as JSON (nested, or flat) and converts the text back. */
static void check_round_trip(const serve_tensor *t, bool flat) {
  if (t->dtype == KILN_FLOAT16 || !all_finite(t)) return; /* not JSON */
  serve_buf b = {0};
  serve_tensor_to_json(&b, t, 0, 0, flat);
  if (b.failed) abort();
  json_error_t error;
  json_t *v = json_loadb(b.data, b.len, JSON_DECODE_ANY, &error);
  if (!v) abort(); /* the writer wrote something that is not JSON */
  serve_tensor back;
  serve_status *st = serve_json_to_tensor(
      v, t->dtype, "back", flat ? t->dims : NULL, flat ? t->rank : 0, &back);
  if (st) abort();
  check_shape(&back, t->dtype);
  bool zero_size = t->nbytes == 0;
  if (back.nbytes != t->nbytes || memcmp(back.data, t->data, t->nbytes))
    abort();
  if (!zero_size && back.rank != t->rank) abort();
  for (int d = 0; !zero_size && d < t->rank; d++)
    if (back.dims[d] != t->dims[d]) abort();
  free(back.data);
  json_decref(v);
  serve_buf_free(&b);
}

/* Splits t into its rows and stacks them again. */
static void check_stack(const serve_tensor *t) {
  if (t->rank < 1 || t->dims[0] < 1 || t->dims[0] > 64) return;
  int n = (int)t->dims[0];
  size_t row = t->nbytes / (size_t)n;
  serve_tensor parts[64];
  for (int i = 0; i < n; i++) {
    parts[i] = *t;
    parts[i].rank = t->rank - 1;
    memmove(parts[i].dims, t->dims + 1,
            (size_t)(t->rank - 1) * sizeof(int64_t));
    parts[i].data = (char *)t->data + row * (size_t)i;
    parts[i].nbytes = row;
  }
  serve_tensor out;
  serve_status *st = serve_stack_tensors(parts, n, "x", &out);
  if (st) abort();
  if (out.rank != t->rank ||
      memcmp(out.dims, t->dims, (size_t)t->rank * sizeof(int64_t)) ||
      out.nbytes != t->nbytes || memcmp(out.data, t->data, t->nbytes))
    abort();
  free(out.data);
}

static void check_b64(const char *text, const serve_tensor *t) {
  static const char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t len = strlen(text);
  while (len && text[len - 1] == '=') len--;
  if (t->nbytes != len * 6 / 8) abort();
  const uint8_t *bytes = t->data;
  /* Every full character encodes the same 6 bits again (the last may
   * carry bits past the data, which decoding drops). */
  for (size_t i = 0; i < len && 6 * i + 6 <= 8 * t->nbytes; i++) {
    size_t bit = i * 6;
    uint32_t v = (uint32_t)bytes[bit / 8] << 8;
    if (bit / 8 + 1 < t->nbytes) v |= bytes[bit / 8 + 1];
    char want = alphabet[(v >> (10 - bit % 8)) & 63];
    char got = text[i] == '-' ? '+' : text[i] == '_' ? '/' : text[i];
    if (got != want) abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  kiln_dtype dtype = dtypes[data[0] % NUM_DTYPES];
  int mode = data[1] % 3; /* nested, flat with a shape, b64 */
  data += 2;
  size -= 2;
  int64_t dims[KILN_MAX_RANK + 1];
  int rank = 0;
  if (mode) {
    if (!size) return 0;
    rank = data[0] % (mode == 1 ? KILN_MAX_RANK + 2 : KILN_MAX_RANK + 1);
    data++;
    size--;
    if (size < (size_t)rank) return 0;
    for (int d = 0; d < rank; d++) dims[d] = dim_of(data[d]);
    data += rank;
    size -= (size_t)rank;
  }
  serve_tensor t;
  serve_status *st;
  if (mode == 2) {
    char *text = strndup((const char *)data, size);
    if (!text) return 0;
    bool positive = true;
    for (int d = 0; d < rank; d++) positive = positive && dims[d] >= 0;
    if (!positive || !kiln_dtype_size(dtype)) { /* callers check these */
      free(text);
      return 0;
    }
    st = serve_b64_to_tensor(text, dtype, dims, rank, "x", &t);
    if (!st) {
      check_shape(&t, dtype);
      check_b64(text, &t);
      free(t.data);
    } else if (t.data) {
      abort();
    }
    serve_status_free(st);
    free(text);
    return 0;
  }
  json_t *value = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
  if (!value) return 0;
  st = serve_json_to_tensor(value, dtype, "x", mode ? dims : NULL, rank, &t);
  json_decref(value);
  if (st) {
    if (t.data || !serve_status_message(st)[0]) abort();
    serve_status_free(st);
    return 0;
  }
  check_shape(&t, dtype);
  if (mode &&
      (t.rank != rank || memcmp(t.dims, dims, (size_t)rank * sizeof(int64_t))))
    abort();
  check_round_trip(&t, false);
  check_round_trip(&t, true);
  check_stack(&t);
  free(t.data);
  return 0;
}
