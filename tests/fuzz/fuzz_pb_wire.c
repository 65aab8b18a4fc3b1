/* fuzz_pb_wire.c - libFuzzer target for the protobuf wire reader and
 * writer (formats/protobuf/pb_wire). Walks the input as a message, trying
 * every LEN field as a nested message (to a depth limit) and as packed
 * varints, checking that the accessors agree with each other; then writes
 * what it read with the writer and checks that the copy reads back as the
 * same fields. Any error must carry a message naming an offset inside the
 * input. Seeds: tests/fuzz/corpus/pb_wire/ (tests/fuzz/make_pb_wire_seeds.py).
 *
 *   CC=clang cmake -S . -B build-fuzz -DKILN_FUZZ=ON -DKILN_SANITIZE=ON
 *   cmake --build build-fuzz -t fuzz_pb_wire
 *   scripts/fuzz build-fuzz 60 fuzz_pb_wire
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "formats/protobuf/pb_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Nested messages deeper than this are left as bytes. */
enum { MAX_DEPTH = 8 };

static size_t input_size;

/* Checks an error (it must say where, inside the input) and frees it. */
static void expect_error(kiln_status *status) {
  if (!status) abort();
  const char *message = kiln_status_message(status);
  const char *offset = strstr(message, "byte offset ");
  if (kiln_status_get_code(status) != KILN_ERR_INVALID_MODEL || !offset ||
      strtoull(offset + strlen("byte offset "), NULL, 10) > input_size)
    abort();
  kiln_status_free(status);
}

/* An accessor that must fail (wrong wire type) or succeed. */
static void expect(kiln_status *status, bool ok) {
  if (ok) {
    if (status) abort();
  } else {
    expect_error(status);
  }
}

/* The accessors on one field: each succeeds exactly for its wire type and
 * gives the field's value. */
static void check_accessors(const kiln_pb_reader *r, const kiln_pb_field *f) {
  uint64_t u = 0;
  int64_t i = 0;
  int32_t i32 = 0;
  bool b = false;
  float fl;
  double d;
  const uint8_t *bytes = NULL;
  size_t len = 0;
  bool varint = f->wire_type == KILN_PB_VARINT;
  expect(kiln_pb_uint64(r, f, &u), varint);
  expect(kiln_pb_int64(r, f, &i), varint);
  expect(kiln_pb_bool(r, f, &b), varint);
  if (varint) {
    if (u != f->value || i != (int64_t)f->value || b != (f->value != 0))
      abort();
    bool fits = i >= INT32_MIN && i <= INT32_MAX;
    expect(kiln_pb_int32(r, f, &i32), fits);
    if (fits && i32 != i) abort();
    if (kiln_pb_unzigzag(u) !=
        (int64_t)(u >> 1) * ((u & 1) ? -1 : 1) - (int64_t)(u & 1))
      abort();
  } else {
    expect(kiln_pb_int32(r, f, &i32), false);
  }
  expect(kiln_pb_float(r, f, &fl), f->wire_type == KILN_PB_I32);
  if (f->wire_type == KILN_PB_I32) {
    uint32_t bits;
    memcpy(&bits, &fl, sizeof bits);
    if (bits != f->value || f->value >> 32) abort();
  }
  expect(kiln_pb_double(r, f, &d), f->wire_type == KILN_PB_I64);
  if (f->wire_type == KILN_PB_I64 && memcmp(&d, &f->value, sizeof d) != 0)
    abort();
  expect(kiln_pb_bytes(r, f, &bytes, &len), f->wire_type == KILN_PB_LEN);
  if (f->wire_type == KILN_PB_LEN &&
      (bytes != f->bytes || len != f->len || bytes < r->data || len > r->size ||
       bytes - r->data > (ptrdiff_t)(r->size - len)))
    abort();
}

/* A LEN payload as packed varints: counting and reading agree, both on
 * how many values there are and on whether the payload is valid. */
static void check_packed(const kiln_pb_reader *r, const kiln_pb_field *f) {
  size_t count = 0;
  kiln_status *status = kiln_pb_packed_varints(r, f, &count);
  kiln_pb_reader values = kiln_pb_nested(r, f, "packed");
  if (status) {
    expect_error(status);
    kiln_status *reading = NULL;
    uint64_t v;
    while (!reading && values.pos < values.size)
      reading = kiln_pb_read_varint(&values, &v);
    expect_error(reading); /* reading must trip over it too */
    return;
  }
  if (count > f->len) abort();
  for (size_t i = 0; i < count; i++) {
    uint64_t v;
    if (kiln_pb_read_varint(&values, &v)) abort();
  }
  if (values.pos != values.size) abort();
}

/* Walks *r and writes each field it reads to *copy: scalars by value, a
 * LEN field that reads as a message (to MAX_DEPTH) as that message
 * re-encoded through kiln_pb_begin/kiln_pb_end, any other LEN field as its
 * bytes. `outer` is the outermost buffer. Returns the first error of the
 * walk. */
static kiln_status *reencode(const uint8_t *outer, kiln_pb_reader *r, int depth,
                             kiln_pb_writer *copy) {
  /* Offsets count from the outermost buffer's start. */
  if (r->size && outer + r->base != r->data) abort();
  size_t last_offset = 0;
  for (bool first = true;; first = false) {
    kiln_pb_field f;
    bool more = true;
    KILN_TRY(kiln_pb_next(r, &f, &more));
    if (!more) break;
    if (f.offset < r->base || f.offset >= r->base + r->size ||
        (!first && f.offset <= last_offset) || f.number == 0 ||
        f.number > 0x1fffffff)
      abort();
    last_offset = f.offset;
    check_accessors(r, &f);
    switch (f.wire_type) {
      case KILN_PB_VARINT:
        kiln_pb_put_uint64(copy, f.number, f.value);
        break;
      case KILN_PB_I32: {
        float v;
        uint32_t bits = (uint32_t)f.value;
        memcpy(&v, &bits, sizeof v);
        kiln_pb_put_float(copy, f.number, v);
        break;
      }
      case KILN_PB_I64: {
        double v;
        memcpy(&v, &f.value, sizeof v);
        kiln_pb_put_double(copy, f.number, v);
        break;
      }
      case KILN_PB_LEN: {
        check_packed(r, &f);
        kiln_pb_reader nested = kiln_pb_nested(r, &f, "nested");
        if (outer + nested.base != f.bytes || nested.size != f.len ||
            nested.base <= f.offset)
          abort();
        kiln_pb_writer inner = {0};
        kiln_status *status = NULL;
        if (depth < MAX_DEPTH)
          status = reencode(outer, &nested, depth + 1, &inner);
        if (depth < MAX_DEPTH && !status) {
          if (inner.failed) abort();
          size_t mark = kiln_pb_begin(copy, f.number);
          kiln_pb_put_raw(copy, inner.data, inner.len);
          kiln_pb_end(copy, mark);
        } else {
          if (status) expect_error(status);
          kiln_pb_put_bytes(copy, f.number, f.bytes, f.len);
        }
        kiln_pb_writer_free(&inner);
        break;
      }
      default:
        abort(); /* kiln_pb_next passed an unknown wire type */
    }
  }
  if (r->pos != r->size) abort();
  return NULL;
}

static bool is_message(const uint8_t *outer, kiln_pb_reader r, int depth) {
  if (depth > MAX_DEPTH) return false;
  kiln_pb_writer scratch = {0};
  kiln_status *status = reencode(outer, &r, depth, &scratch);
  kiln_pb_writer_free(&scratch);
  kiln_status_free(status);
  return status == NULL;
}

/* Whether the copy b reads as the same fields as the original a: numbers,
 * wire types and values; a LEN field that is a message in a must be the
 * same message in b (its bytes may differ: varints in overlong form come
 * back short), any other LEN field the same bytes. */
static bool same_fields(const uint8_t *outer_a, kiln_pb_reader a,
                        kiln_pb_reader b, int depth) {
  for (;;) {
    kiln_pb_field fa, fb;
    bool more_a = false, more_b = false;
    kiln_status *sa = kiln_pb_next(&a, &fa, &more_a);
    kiln_status *sb = kiln_pb_next(&b, &fb, &more_b);
    if (sa || sb) return false; /* both were read whole before */
    if (more_a != more_b) return false;
    if (!more_a) return true;
    if (fa.number != fb.number || fa.wire_type != fb.wire_type) return false;
    if (fa.wire_type != KILN_PB_LEN) {
      if (fa.value != fb.value) return false;
      continue;
    }
    kiln_pb_reader na = kiln_pb_nested(&a, &fa, NULL);
    kiln_pb_reader nb = kiln_pb_nested(&b, &fb, NULL);
    if (is_message(outer_a, na, depth + 1)) {
      if (!same_fields(outer_a, na, nb, depth + 1)) return false;
    } else if (fa.len != fb.len ||
               (fa.len && memcmp(fa.bytes, fb.bytes, fa.len) != 0)) {
      return false;
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  input_size = size;
  kiln_pb_reader r = kiln_pb_reader_make(data, size, "fuzz");
  kiln_pb_writer copy = {0};
  kiln_status *status = reencode(data, &r, 0, &copy);
  if (status) {
    expect_error(status);
  } else {
    if (copy.failed) abort();
    kiln_pb_reader original = kiln_pb_reader_make(data, size, "fuzz");
    kiln_pb_reader again = kiln_pb_reader_make(copy.data, copy.len, "copy");
    if (!same_fields(data, original, again, 0)) abort();
    /* Re-encoding is canonical: the copy of the copy is the copy. */
    kiln_pb_writer twice = {0};
    kiln_status *second = reencode(copy.data, &again, 0, &twice);
    if (second || twice.len != copy.len ||
        (copy.len && memcmp(twice.data, copy.data, copy.len) != 0))
      abort();
    kiln_pb_writer_free(&twice);
  }
  kiln_pb_writer_free(&copy);
  return 0;
}
