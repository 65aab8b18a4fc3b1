/* test_pb_wire.c - the schema-free protobuf wire reader and writer. Random
 * messages (varints of every length, fixed-width values with NaN and -0
 * bits, empty and long bytes, messages nested several deep, packed
 * varints) are written with the writer and read back field by field
 * against the list the test kept; sizes and byte offsets are checked
 * against the test's own size arithmetic. Every kind of malformed input,
 * at the top level and inside a nested reader, must be refused with the
 * byte offset of the damage.
 *
 * Given arguments, the binary is instead the C side of
 * tests/e2e/test_pb_wire_interop.py, which checks kiln against Google's
 * protobuf in both directions:
 *   test_pb_wire --dump FILE...  prints each file's fields as one JSON line
 *   test_pb_wire --write         writes the fields listed on stdin (see
 *                                write_from_spec) to stdout */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "formats/protobuf/pb_wire.h"
#include "harness.h"

/* ------------------------------------------------ the test's own model */

typedef enum {
  F_VARINT,  /* value */
  F_ZIGZAG,  /* value holds the signed number's bits */
  F_FIXED32, /* value: the 4 bytes, little-endian */
  F_FIXED64,
  F_FLOAT, /* value: the float's bits */
  F_DOUBLE,
  F_BYTES,
  F_MESSAGE,
  F_PACKED, /* packed varints */
  F_KINDS
} field_kind;

typedef struct spec_msg spec_msg;

typedef struct {
  field_kind kind;
  uint32_t number;
  int how; /* which writer calls write it (0 or 1, see write_field) */
  uint64_t value;
  uint8_t *bytes;
  size_t len;
  uint64_t *packed;
  size_t count;
  spec_msg *child;
} spec_field;

struct spec_msg {
  spec_field *fields;
  size_t count;
};

static uint64_t rand64(void) {
  return (uint64_t)kiln_test_rand() << 32 | kiln_test_rand();
}

/* The encoded size of a varint, from its highest set bit (kiln counts by
 * shifting; this counts bits). */
static size_t varint_bytes(uint64_t v) {
  int bits = 0;
  while (bits < 64 && (v >> bits) != 0) bits++;
  return bits == 0 ? 1 : (size_t)(bits + 6) / 7;
}

static uint64_t zigzag(int64_t s) {
  uint64_t u = (uint64_t)s;
  return (u << 1) ^ (0 - (u >> 63));
}

/* A varint value whose encoding takes a random length, 1 to 10 bytes,
 * with the edges drawn often. */
static uint64_t random_varint(void) {
  switch (kiln_test_int(0, 11)) {
    case 0:
      return 0;
    case 1:
      return UINT64_MAX;
    case 2:
      return (uint64_t)1 << 63;
    case 3: /* a small negative int64: 10 bytes */
      return (uint64_t) - (int64_t)kiln_test_int(1, 1000000);
    case 4:
      return (uint64_t)(int64_t)INT32_MIN;
    case 5:
      return (uint64_t)INT32_MAX + (uint64_t)kiln_test_int(0, 1);
    default: {
      int bits = kiln_test_int(0, 64);
      if (bits == 0) return 0;
      return (rand64() >> (64 - bits)) | (uint64_t)1 << (bits - 1);
    }
  }
}

/* Field numbers at the edges of the key's varint lengths, and any. */
static uint32_t random_number(void) {
  static const uint32_t edges[] = {
      1, 15, 16, 2047, 2048, 262143, 262144, 33554431, 33554432, 0x1fffffff};
  int pick = kiln_test_int(0, 12);
  if (pick < 10) return edges[pick];
  return (uint32_t)kiln_test_int(1, 0x1fffffff);
}

static size_t random_length(void) {
  switch (kiln_test_int(0, 11)) {
    case 0:
      return 0;
    case 1:
      return 127;
    case 2:
      return 128;
    case 3:
      return (size_t)kiln_test_int(129, 16383);
    case 4:
      return kiln_test_int(0, 3) == 0 ? 16384 : 16383;
    case 5:
      return kiln_test_int(0, 3) == 0 ? (size_t)kiln_test_int(16385, 70000) : 3;
    default:
      return (size_t)kiln_test_int(1, 127);
  }
}

/* A float or double's bits: ordinary values, then -0, infinities, and
 * NaNs with payloads (which must come back bit for bit). */
static uint64_t random_float_bits(bool wide) {
  switch (kiln_test_int(0, 6)) {
    case 0:
      return wide ? (uint64_t)1 << 63 : (uint64_t)1 << 31; /* -0 */
    case 1:
      return wide ? 0x7ff0000000000000u : 0x7f800000u; /* inf */
    case 2: /* NaN, quiet or signalling, with a payload and either sign */
      return wide ? 0x7ff0000000000000u | (rand64() & 0x800fffffffffffffu) | 1
                  : 0x7f800000u | (kiln_test_rand() & 0x807fffffu) | 1;
    default: {
      if (wide) {
        double d = (double)kiln_test_uniform(-1e6f, 1e6f) / 7.0;
        uint64_t bits;
        memcpy(&bits, &d, sizeof bits);
        return bits;
      }
      float f = kiln_test_uniform(-1e6f, 1e6f);
      uint32_t bits;
      memcpy(&bits, &f, sizeof bits);
      return bits;
    }
  }
}

static spec_msg *random_message(int depth);

static void random_field(spec_field *f, int depth) {
  memset(f, 0, sizeof *f);
  f->kind = (field_kind)kiln_test_int(0, F_KINDS - 1);
  if (f->kind == F_BYTES && kiln_test_int(0, 1))
    f->kind = F_MESSAGE; /* nest more often than anything else */
  if (f->kind == F_MESSAGE && depth == 0) f->kind = F_BYTES;
  f->number = random_number();
  f->how = kiln_test_int(0, 1);
  switch (f->kind) {
    case F_VARINT:
    case F_ZIGZAG:
      f->value = random_varint();
      break;
    case F_FIXED32:
      f->value = kiln_test_rand();
      break;
    case F_FIXED64:
      f->value = rand64();
      break;
    case F_FLOAT:
    case F_DOUBLE:
      f->value = random_float_bits(f->kind == F_DOUBLE);
      break;
    case F_BYTES:
      f->len = random_length();
      f->bytes = malloc(f->len ? f->len : 1);
      for (size_t i = 0; f->bytes && i < f->len; i++)
        f->bytes[i] = (uint8_t)kiln_test_rand();
      if (!f->bytes) f->len = 0;
      break;
    case F_MESSAGE:
      f->child = random_message(depth - 1);
      break;
    case F_PACKED:
      f->count = (size_t)kiln_test_int(0, 3) == 0
                     ? (size_t)kiln_test_int(100, 3000)
                     : (size_t)kiln_test_int(0, 20);
      f->packed = malloc((f->count ? f->count : 1) * sizeof *f->packed);
      for (size_t i = 0; f->packed && i < f->count; i++)
        f->packed[i] = random_varint();
      if (!f->packed) f->count = 0;
      break;
    case F_KINDS:
      break;
  }
}

static spec_msg *random_message(int depth) {
  spec_msg *m = calloc(1, sizeof *m);
  if (!m) return NULL;
  m->count = (size_t)kiln_test_int(0, 7);
  m->fields = calloc(m->count ? m->count : 1, sizeof *m->fields);
  if (!m->fields) m->count = 0;
  for (size_t i = 0; i < m->count; i++) random_field(&m->fields[i], depth);
  return m;
}

static void free_message(spec_msg *m) {
  if (!m) return;
  for (size_t i = 0; i < m->count; i++) {
    free(m->fields[i].bytes);
    free(m->fields[i].packed);
    free_message(m->fields[i].child);
  }
  free(m->fields);
  free(m);
}

static size_t message_size(const spec_msg *m);

static size_t packed_size(const spec_field *f) {
  size_t n = 0;
  for (size_t i = 0; i < f->count; i++) n += varint_bytes(f->packed[i]);
  return n;
}

/* Bytes of a LEN field's payload. */
static size_t payload_size(const spec_field *f) {
  switch (f->kind) {
    case F_BYTES:
      return f->len;
    case F_MESSAGE:
      return f->child ? message_size(f->child) : 0;
    case F_PACKED:
      return packed_size(f);
    default:
      return 0;
  }
}

static size_t key_bytes(const spec_field *f) {
  return varint_bytes((uint64_t)f->number << 3);
}

static size_t field_size(const spec_field *f) {
  size_t key = key_bytes(f);
  switch (f->kind) {
    case F_VARINT:
      return key + varint_bytes(f->value);
    case F_ZIGZAG:
      return key + varint_bytes(zigzag((int64_t)f->value));
    case F_FIXED32:
    case F_FLOAT:
      return key + 4;
    case F_FIXED64:
    case F_DOUBLE:
      return key + 8;
    default: {
      size_t body = payload_size(f);
      return key + varint_bytes(body) + body;
    }
  }
}

static size_t message_size(const spec_msg *m) {
  size_t n = 0;
  for (size_t i = 0; i < m->count; i++) n += field_size(&m->fields[i]);
  return n;
}

static int wire_type_of(field_kind kind) {
  switch (kind) {
    case F_VARINT:
    case F_ZIGZAG:
      return KILN_PB_VARINT;
    case F_FIXED32:
    case F_FLOAT:
      return KILN_PB_I32;
    case F_FIXED64:
    case F_DOUBLE:
      return KILN_PB_I64;
    default:
      return KILN_PB_LEN;
  }
}

/* ------------------------------------------------------------ writing */

static void write_message(kiln_pb_writer *w, const spec_msg *m);

static void put_little_endian(kiln_pb_writer *w, uint64_t v, size_t n) {
  uint8_t b[8];
  for (size_t i = 0; i < n; i++) b[i] = (uint8_t)(v >> (8 * i));
  kiln_pb_put_raw(w, b, n);
}

/* Each field by one of two routes (f->how), so every writer call is used:
 * whole-field helpers, or a key and the value's pieces. */
static void write_field(kiln_pb_writer *w, const spec_field *f) {
  switch (f->kind) {
    case F_VARINT:
      if (f->how) {
        kiln_pb_put_key(w, f->number, KILN_PB_VARINT);
        kiln_pb_put_varint(w, f->value);
      } else if (f->value <= 1) {
        kiln_pb_put_bool(w, f->number, f->value == 1);
      } else if (f->value >> 63) {
        kiln_pb_put_int64(w, f->number, (int64_t)f->value);
      } else {
        kiln_pb_put_uint64(w, f->number, f->value);
      }
      break;
    case F_ZIGZAG:
      kiln_pb_put_uint64(w, f->number, kiln_pb_zigzag((int64_t)f->value));
      break;
    case F_FIXED32:
    case F_FLOAT:
      if (f->how) {
        float v;
        uint32_t bits = (uint32_t)f->value;
        memcpy(&v, &bits, sizeof v);
        kiln_pb_put_float(w, f->number, v);
      } else {
        kiln_pb_put_key(w, f->number, KILN_PB_I32);
        put_little_endian(w, f->value, 4);
      }
      break;
    case F_FIXED64:
    case F_DOUBLE:
      if (f->how) {
        double v;
        memcpy(&v, &f->value, sizeof v);
        kiln_pb_put_double(w, f->number, v);
      } else {
        kiln_pb_put_key(w, f->number, KILN_PB_I64);
        put_little_endian(w, f->value, 8);
      }
      break;
    case F_BYTES:
      if (f->how && f->len < 1000 && !memchr(f->bytes, 0, f->len)) {
        char text[1000];
        memcpy(text, f->bytes, f->len);
        text[f->len] = '\0';
        kiln_pb_put_string(w, f->number, text);
      } else {
        kiln_pb_put_bytes(w, f->number, f->bytes, f->len);
      }
      break;
    case F_MESSAGE:
    case F_PACKED: {
      size_t mark = 0;
      if (f->how) {
        mark = kiln_pb_begin(w, f->number);
      } else { /* the size is known: key and length up front */
        kiln_pb_put_key(w, f->number, KILN_PB_LEN);
        kiln_pb_put_varint(w, payload_size(f));
      }
      if (f->kind == F_MESSAGE) {
        if (f->child) write_message(w, f->child);
      } else {
        for (size_t i = 0; i < f->count; i++)
          kiln_pb_put_varint(w, f->packed[i]);
      }
      if (f->how) kiln_pb_end(w, mark);
      break;
    }
    case F_KINDS:
      break;
  }
}

static void write_message(kiln_pb_writer *w, const spec_msg *m) {
  for (size_t i = 0; i < m->count; i++) write_field(w, &m->fields[i]);
}

/* ------------------------------------------------------------ reading */

/* The needle every per-field error carries. */
static const char *field_at(const kiln_pb_field *f) {
  static char needle[96];
  snprintf(needle, sizeof needle, "field %u at byte offset %zu", f->number,
           f->offset);
  return needle;
}

/* Every accessor whose wire type is not the field's must refuse it. */
static void check_wrong_types(const kiln_pb_reader *r, const kiln_pb_field *f) {
  uint64_t u;
  int64_t i;
  int32_t i32;
  bool b;
  float fl;
  double d;
  const uint8_t *bytes;
  size_t len, count;
  kiln_status_code bad = KILN_ERR_INVALID_MODEL;
  if (f->wire_type != KILN_PB_VARINT) {
    CHECK_ERROR(kiln_pb_uint64(r, f, &u), bad, field_at(f));
    CHECK_ERROR(kiln_pb_int64(r, f, &i), bad, field_at(f));
    CHECK_ERROR(kiln_pb_int32(r, f, &i32), bad, field_at(f));
    CHECK_ERROR(kiln_pb_bool(r, f, &b), bad, field_at(f));
  }
  if (f->wire_type != KILN_PB_I32)
    CHECK_ERROR(kiln_pb_float(r, f, &fl), bad, field_at(f));
  if (f->wire_type != KILN_PB_I64)
    CHECK_ERROR(kiln_pb_double(r, f, &d), bad, field_at(f));
  if (f->wire_type != KILN_PB_LEN) {
    CHECK_ERROR(kiln_pb_bytes(r, f, &bytes, &len), bad, field_at(f));
    CHECK_ERROR(kiln_pb_packed_varints(r, f, &count), bad, field_at(f));
  }
}

static void check_varint_accessors(const kiln_pb_reader *r,
                                   const kiln_pb_field *f, uint64_t want) {
  uint64_t u = 0;
  int64_t i = 0;
  int32_t i32 = 0;
  bool b = false;
  CHECK_OK(kiln_pb_uint64(r, f, &u));
  CHECK(u == want);
  CHECK_OK(kiln_pb_int64(r, f, &i));
  CHECK(i == (int64_t)want);
  CHECK_OK(kiln_pb_bool(r, f, &b));
  CHECK(b == (want != 0));
  int64_t s = (int64_t)want;
  if (s >= INT32_MIN && s <= INT32_MAX) {
    CHECK_OK(kiln_pb_int32(r, f, &i32));
    CHECK(i32 == s);
  } else {
    CHECK_ERROR(kiln_pb_int32(r, f, &i32), KILN_ERR_INVALID_MODEL, field_at(f));
  }
}

static void check_message(kiln_pb_reader *r, const spec_msg *m, size_t at);

/* Reads one field and compares it with *want, which starts at byte `at`
 * of the outermost buffer. */
static void check_field(kiln_pb_reader *r, const spec_field *want, size_t at) {
  kiln_pb_field f;
  bool more = false;
  CHECK_OK(kiln_pb_next(r, &f, &more));
  CHECK(more);
  if (!more) return;
  CHECK(f.number == want->number);
  CHECK(f.wire_type == wire_type_of(want->kind));
  CHECK(f.offset == at);
  if (f.number != want->number || f.wire_type != wire_type_of(want->kind))
    return;
  check_wrong_types(r, &f);
  switch (want->kind) {
    case F_VARINT:
      check_varint_accessors(r, &f, want->value);
      break;
    case F_ZIGZAG: {
      uint64_t u = 0;
      CHECK_OK(kiln_pb_uint64(r, &f, &u));
      CHECK(kiln_pb_unzigzag(u) == (int64_t)want->value);
      CHECK(u == zigzag((int64_t)want->value));
      break;
    }
    case F_FIXED32:
    case F_FLOAT: {
      float v;
      uint32_t bits;
      CHECK(f.value == want->value);
      CHECK_OK(kiln_pb_float(r, &f, &v));
      memcpy(&bits, &v, sizeof bits);
      CHECK(bits == (uint32_t)want->value);
      break;
    }
    case F_FIXED64:
    case F_DOUBLE: {
      double v;
      uint64_t bits;
      CHECK(f.value == want->value);
      CHECK_OK(kiln_pb_double(r, &f, &v));
      memcpy(&bits, &v, sizeof bits);
      CHECK(bits == want->value);
      break;
    }
    case F_BYTES: {
      const uint8_t *bytes = NULL;
      size_t len = 0;
      CHECK_OK(kiln_pb_bytes(r, &f, &bytes, &len));
      CHECK(len == want->len);
      CHECK(bytes >= r->data && bytes + len <= r->data + r->size);
      if (len == want->len && len) CHECK(memcmp(bytes, want->bytes, len) == 0);
      break;
    }
    case F_MESSAGE: {
      kiln_pb_reader nested = kiln_pb_nested(r, &f, "child");
      CHECK(nested.size == payload_size(want));
      size_t body_at = at + key_bytes(want) + varint_bytes(nested.size);
      CHECK(nested.base == body_at);
      if (want->child) check_message(&nested, want->child, body_at);
      break;
    }
    case F_PACKED: {
      size_t count = 0;
      CHECK_OK(kiln_pb_packed_varints(r, &f, &count));
      CHECK(count == want->count);
      kiln_pb_reader nested = kiln_pb_nested(r, &f, "packed");
      for (size_t i = 0; i < want->count; i++) {
        uint64_t v = 0;
        CHECK_OK(kiln_pb_read_varint(&nested, &v));
        CHECK(v == want->packed[i]);
      }
      CHECK(nested.pos == nested.size);
      break;
    }
    case F_KINDS:
      break;
  }
}

/* Reads every field of *r, which starts at byte `at` of the outermost
 * buffer, and then the end. */
static void check_message(kiln_pb_reader *r, const spec_msg *m, size_t at) {
  for (size_t i = 0; i < m->count; i++) {
    check_field(r, &m->fields[i], at);
    at += field_size(&m->fields[i]);
  }
  kiln_pb_field f;
  bool more = true;
  CHECK_OK(kiln_pb_next(r, &f, &more));
  CHECK(!more);
  CHECK(r->pos == r->size);
}

static void test_random_round_trips(void) {
  kiln_test_seed(0x9b3e);
  for (int round = 0; round < 400; round++) {
    spec_msg *m = random_message(kiln_test_int(0, 4));
    CHECK(m != NULL);
    if (!m) return;
    kiln_pb_writer w = {0};
    write_message(&w, m);
    CHECK(!w.failed);
    CHECK(w.len == message_size(m));
    kiln_pb_reader r = kiln_pb_reader_make(w.data, w.len, "random");
    check_message(&r, m, 0);
    kiln_pb_writer_free(&w);
    free_message(m);
  }
}

/* A varint alone: its size as kiln computes it and as written, and back. */
static void test_varints(void) {
  kiln_test_seed(0x7a1);
  for (int bits = 0; bits <= 64; bits++) {
    for (int round = 0; round < 20; round++) {
      uint64_t v =
          bits == 0 ? 0 : (rand64() >> (64 - bits)) | (uint64_t)1 << (bits - 1);
      if (round == 1 && bits) v = UINT64_MAX >> (64 - bits); /* all ones */
      kiln_pb_writer w = {0};
      kiln_pb_put_varint(&w, v);
      CHECK(w.len == varint_bytes(v));
      CHECK(kiln_pb_varint_size(v) == varint_bytes(v));
      kiln_pb_reader r = kiln_pb_reader_make(w.data, w.len, "varint");
      uint64_t back = ~v;
      CHECK_OK(kiln_pb_read_varint(&r, &back));
      CHECK(back == v);
      CHECK(r.pos == w.len);
      kiln_pb_writer_free(&w);
    }
  }
  CHECK(kiln_pb_varint_size(UINT64_MAX) == 10);
  CHECK(kiln_pb_varint_size((uint64_t)-1 << 63) == 10);
  CHECK(kiln_pb_varint_size((uint64_t)(int64_t)-1) == 10);
  CHECK(kiln_pb_varint_size(127) == 1);
  CHECK(kiln_pb_varint_size(128) == 2);
  /* Zigzag both ways at the edges and at random. */
  const int64_t edges[] = {0,         -1,        1,        INT64_MIN,
                           INT64_MAX, INT32_MIN, INT32_MAX};
  for (size_t i = 0; i < sizeof edges / sizeof *edges; i++) {
    CHECK(kiln_pb_zigzag(edges[i]) == zigzag(edges[i]));
    CHECK(kiln_pb_unzigzag(zigzag(edges[i])) == edges[i]);
  }
  CHECK(kiln_pb_zigzag(-1) == 1 && kiln_pb_zigzag(1) == 2);
  CHECK(kiln_pb_zigzag(INT64_MIN) == UINT64_MAX);
  for (int i = 0; i < 1000; i++) {
    int64_t s = (int64_t)rand64();
    CHECK(kiln_pb_zigzag(s) == zigzag(s));
    CHECK(kiln_pb_unzigzag(zigzag(s)) == s);
  }
}

/* A message nested `levels` deep, each level holding a bytes field of
 * `len` bytes and then the next level, written with begin/end only. */
static void test_deep_nesting(int levels, size_t len) {
  uint8_t *payload = malloc(len ? len : 1);
  CHECK(payload != NULL);
  if (!payload) return;
  for (size_t i = 0; i < len; i++) payload[i] = (uint8_t)(i * 31 + 7);
  kiln_pb_writer w = {0};
  size_t marks[16];
  for (int i = 0; i < levels; i++) {
    kiln_pb_put_uint64(&w, 1, (uint64_t)i);
    kiln_pb_put_bytes(&w, 2, payload, len);
    marks[i] = kiln_pb_begin(&w, 3);
  }
  for (int i = levels - 1; i >= 0; i--) kiln_pb_end(&w, marks[i]);
  CHECK(!w.failed);
  /* Level i holds 2 + varint(len) + len + 1 key byte, the length of the
   * next level and the next level. */
  size_t sizes[17] = {0};
  for (int i = levels - 1; i >= 0; i--)
    sizes[i] = 2 + (1 + varint_bytes(len) + len) +
               (1 + varint_bytes(sizes[i + 1]) + sizes[i + 1]);
  CHECK(w.len == sizes[0]);
  kiln_pb_reader r = kiln_pb_reader_make(w.data, w.len, "deep");
  for (int i = 0; i < levels; i++) {
    kiln_pb_field f;
    bool more;
    uint64_t v = 99;
    const uint8_t *bytes = NULL;
    size_t got = 0;
    CHECK_OK(kiln_pb_next(&r, &f, &more));
    CHECK(more && f.number == 1);
    CHECK_OK(kiln_pb_uint64(&r, &f, &v));
    CHECK(v == (uint64_t)i);
    CHECK_OK(kiln_pb_next(&r, &f, &more));
    CHECK(more && f.number == 2);
    CHECK_OK(kiln_pb_bytes(&r, &f, &bytes, &got));
    CHECK(got == len && (!len || memcmp(bytes, payload, len) == 0));
    CHECK_OK(kiln_pb_next(&r, &f, &more));
    CHECK(more && f.number == 3 && f.wire_type == KILN_PB_LEN);
    CHECK(f.len == sizes[i + 1]);
    kiln_pb_reader next = kiln_pb_nested(&r, &f, NULL);
    CHECK_OK(kiln_pb_next(&r, &f, &more));
    CHECK(!more);
    CHECK(next.base == w.len - sizes[i + 1]);
    CHECK(strcmp(next.what, "deep") == 0); /* inherited */
    r = next;
  }
  CHECK(r.size == 0);
  kiln_pb_writer_free(&w);
  free(payload);
}

/* The writer grows from nothing, can be freed and used again, and after a
 * failure drops everything. A failure is forced without allocating: a
 * request so large that doubling the buffer cannot reach it. */
static void test_writer_states(void) {
  kiln_pb_writer w = {0};
  for (int round = 0; round < 2; round++) {
    CHECK(w.data == NULL && w.len == 0 && w.cap == 0 && !w.failed);
    kiln_pb_put_string(&w, 1, "abc");
    kiln_pb_put_bytes(&w, 2, NULL, 0);
    size_t mark = kiln_pb_begin(&w, 3);
    kiln_pb_end(&w, mark); /* an empty nested message */
    CHECK(!w.failed && w.len == 5 + 2 + 2);
    kiln_pb_reader r = kiln_pb_reader_make(w.data, w.len, "w");
    kiln_pb_field f;
    bool more;
    const uint8_t *bytes;
    size_t len = 99;
    CHECK_OK(kiln_pb_next(&r, &f, &more));
    CHECK(more && f.len == 3 && memcmp(f.bytes, "abc", 3) == 0);
    CHECK_OK(kiln_pb_next(&r, &f, &more));
    CHECK_OK(kiln_pb_bytes(&r, &f, &bytes, &len));
    CHECK(more && f.number == 2 && len == 0);
    CHECK_OK(kiln_pb_next(&r, &f, &more));
    CHECK(more && f.number == 3 && f.len == 0);
    size_t count = 99;
    CHECK_OK(kiln_pb_packed_varints(&r, &f, &count));
    CHECK(count == 0);
    kiln_pb_writer_free(&w);
  }
  /* Failing: the bytes so far stay, nothing more is added. */
  kiln_pb_put_uint64(&w, 1, 300);
  size_t before = w.len;
  static const uint8_t some[4] = {1, 2, 3, 4};
  kiln_pb_put_raw(&w, some, SIZE_MAX - 10); /* never read: it cannot fit */
  CHECK(w.failed);
  CHECK(w.len == before);
  kiln_pb_put_uint64(&w, 2, 5);
  kiln_pb_put_bytes(&w, 3, some, sizeof some);
  size_t mark = kiln_pb_begin(&w, 4);
  kiln_pb_put_raw(&w, some, sizeof some);
  kiln_pb_end(&w, mark);
  CHECK(w.failed && w.len == before);
  uint64_t v = 0;
  kiln_pb_reader r = kiln_pb_reader_make(w.data, w.len, "w");
  kiln_pb_field f;
  bool more;
  CHECK_OK(kiln_pb_next(&r, &f, &more));
  CHECK_OK(kiln_pb_uint64(&r, &f, &v));
  CHECK(v == 300);
  kiln_pb_writer_free(&w);
  CHECK(!w.failed && w.data == NULL && w.len == 0);
  kiln_pb_put_uint64(&w, 1, 7);
  CHECK(!w.failed && w.len == 2);
  kiln_pb_writer_free(&w);
}

/* Empty inputs: no field, no error; a reader over a non-LEN field is
 * empty. */
static void test_empty(void) {
  kiln_pb_reader r = kiln_pb_reader_make(NULL, 0, NULL);
  kiln_pb_field f;
  bool more = true;
  CHECK_OK(kiln_pb_next(&r, &f, &more));
  CHECK(!more);
  CHECK(r.what && r.what[0]);
  uint8_t one[2] = {0x08, 0x05};
  r = kiln_pb_reader_make(one, sizeof one, "one");
  CHECK_OK(kiln_pb_next(&r, &f, &more));
  CHECK(more);
  kiln_pb_reader inner = kiln_pb_nested(&r, &f, "inner");
  CHECK(inner.size == 0);
  CHECK_OK(kiln_pb_next(&inner, &f, &more));
  CHECK(!more);
}

/* ----------------------------------------------------- malformed input */

/* A few valid random fields (no LEN field, so none can hide the damage),
 * appended to w. */
static void put_valid_prefix(kiln_pb_writer *w) {
  int n = kiln_test_int(0, 3);
  for (int i = 0; i < n; i++) {
    uint32_t number = random_number();
    switch (kiln_test_int(0, 2)) {
      case 0:
        kiln_pb_put_uint64(w, number, random_varint());
        break;
      case 1:
        kiln_pb_put_float(w, number, 1.5f);
        break;
      default:
        kiln_pb_put_double(w, number, -2.5);
        break;
    }
  }
}

/* Reads fields until one fails; it must fail with exactly
 * "<what>: <why> at byte offset <offset>". */
static void expect_refused(kiln_pb_reader *r, size_t offset, const char *why,
                           int line) {
  char needle[256];
  snprintf(needle, sizeof needle, "%s: %s at byte offset %zu", r->what, why,
           offset);
  kiln_status *status = NULL;
  for (int guard = 0; guard < 100 && !status; guard++) {
    kiln_pb_field f;
    bool more = false;
    status = kiln_pb_next(r, &f, &more);
    if (!status && !more) break;
    if (status) CHECK(!more);
  }
  if (!status) fprintf(stderr, "line %d: not refused: %s\n", line, needle);
  kiln_test_check_error(status, KILN_ERR_INVALID_MODEL, needle,
                        "reading a malformed message", __FILE__, line);
}

/* The damaged bytes `bad` (refused at byte `rel` of them) at the end of a
 * top-level message, and at the end of a nested message that an outer
 * message continues past: the nested reader must stop at its own end and
 * count the offset from the outer buffer's start. */
static void check_refused(const uint8_t *bad, size_t size, size_t rel,
                          const char *why, int line) {
  for (int round = 0; round < 4; round++) {
    kiln_pb_writer w = {0};
    put_valid_prefix(&w);
    size_t at = w.len + rel;
    kiln_pb_put_raw(&w, bad, size);
    kiln_pb_reader r = kiln_pb_reader_make(w.data, w.len, "top");
    expect_refused(&r, at, why, line);

    kiln_pb_writer inner = {0};
    put_valid_prefix(&inner);
    size_t inner_at = inner.len + rel;
    kiln_pb_put_raw(&inner, bad, size);
    kiln_pb_writer outer = {0};
    put_valid_prefix(&outer);
    kiln_pb_put_bytes(&outer, 5, inner.data, inner.len);
    /* Bytes after the nested message that a careless reader would take. */
    static const uint8_t tail[40] = {0x08, 0x01, 0x12, 0x20};
    kiln_pb_put_raw(&outer, tail, sizeof tail);
    kiln_pb_reader o = kiln_pb_reader_make(outer.data, outer.len, "outer");
    kiln_pb_field f = {0};
    bool more = false;
    while (!kiln_pb_next(&o, &f, &more) && more && f.wire_type != KILN_PB_LEN)
      ;
    CHECK(more && f.number == 5 && f.len == inner.len);
    kiln_pb_reader n = kiln_pb_nested(&o, &f, "inner");
    expect_refused(&n, n.base + inner_at, why, line);
    kiln_pb_writer_free(&w);
    kiln_pb_writer_free(&inner);
    kiln_pb_writer_free(&outer);
  }
}

#define REFUSED(rel, why, ...)                                \
  do {                                                        \
    static const uint8_t bad_[] = {__VA_ARGS__};              \
    check_refused(bad_, sizeof bad_, (rel), (why), __LINE__); \
  } while (0)

static const char *const TRUNCATED = "a varint runs past the end";
static const char *const TOO_LONG = "a varint is longer than 10 bytes";
static const char *const TOO_WIDE = "a varint is longer than 64 bits";
static const char *const BAD_NUMBER = "a field number is 0 or above 2^29-1";
static const char *const GROUP = "groups (wire types 3 and 4) are not read";
static const char *const WIRE = "an unknown wire type";
static const char *const LEN_PAST =
    "a length-delimited field runs past the end";
static const char *const FIXED_PAST = "a fixed-size field runs past the end";

static void test_malformed(void) {
  kiln_test_seed(0xbad);
  /* Varints: the key's and the value's. */
  REFUSED(0, TRUNCATED, 0x80);
  REFUSED(0, TRUNCATED, 0xff, 0xff, 0xff);
  REFUSED(1, TRUNCATED, 0x08);
  REFUSED(1, TRUNCATED, 0x08, 0x80, 0x80);
  REFUSED(1, TRUNCATED, 0x12, 0xff); /* a LEN field's length */
  REFUSED(1, TRUNCATED, 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
          0xff);
  REFUSED(1, TOO_LONG, 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
          0xff, 0xff, 0x01);
  REFUSED(1, TOO_LONG, 0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
          0x80, 0x80, 0x00);
  REFUSED(0, TOO_LONG, 0x88, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
          0x80, 0x00, 0x00);
  REFUSED(1, TOO_LONG, 0x12, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
          0x80, 0x80, 0x00);
  REFUSED(1, TOO_WIDE, 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
          0xff, 0x02);
  REFUSED(1, TOO_WIDE, 0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
          0x80, 0x7f);
  REFUSED(0, TOO_WIDE, 0x88, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
          0x02, 0x00);
  /* Keys. */
  REFUSED(0, BAD_NUMBER, 0x00, 0x00);
  REFUSED(0, BAD_NUMBER, 0x02, 0x00);
  REFUSED(0, BAD_NUMBER, 0x85, 0x00, 0x00, 0x00, 0x00, 0x00); /* 0 as 2 bytes */
  REFUSED(0, BAD_NUMBER, 0x80, 0x80, 0x80, 0x80, 0x10, 0x00); /* 2^29 */
  REFUSED(0, BAD_NUMBER, 0xf8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
          0x01, 0x00); /* the largest key */
  REFUSED(0, GROUP, 0x0b, 0x0c);
  REFUSED(0, GROUP, 0x0c);
  REFUSED(0, GROUP, 0xfb, 0xff, 0xff, 0xff, 0x0f); /* number 2^29-1 */
  REFUSED(0, WIRE, 0x0e, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00);
  REFUSED(0, WIRE, 0x0f, 0x00);
  REFUSED(0, WIRE, 0xff, 0x01, 0x00);
  /* Payloads past the end. */
  REFUSED(0, LEN_PAST, 0x12, 0x05, 1, 2, 3, 4);
  REFUSED(0, LEN_PAST, 0x12, 0x01);
  REFUSED(0, LEN_PAST, 0x12, 0x20); /* fits in outer's tail, not in inner */
  REFUSED(0, LEN_PAST, 0x92, 0x01, 0x80, 0x01, 0x00);
  REFUSED(0, LEN_PAST, 0x12, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
          0xff, 0x01, 0x00);
  REFUSED(0, LEN_PAST, 0x12, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x00);
  REFUSED(0, FIXED_PAST, 0x0d);
  REFUSED(0, FIXED_PAST, 0x0d, 1, 2, 3);
  REFUSED(0, FIXED_PAST, 0x09, 1, 2, 3, 4, 5, 6, 7);
  REFUSED(0, FIXED_PAST, 0x09, 1, 2, 3, 4);
  REFUSED(0, FIXED_PAST, 0xf9, 0xff, 0xff, 0xff, 0x0f, 1);
}

/* int32 takes exactly the int64 values in its range: a negative int32 is
 * 10 bytes on the wire, and a 5-byte 0xffffffff is 4294967295, not -1. */
static void test_int32_range(void) {
  const struct {
    uint64_t wire;
    bool ok;
  } cases[] = {
      {0, true},
      {(uint64_t)INT32_MAX, true},
      {(uint64_t)(int64_t)INT32_MIN, true},
      {(uint64_t)(int64_t)-1, true},
      {(uint64_t)INT32_MAX + 1, false},
      {(uint64_t)((int64_t)INT32_MIN - 1), false},
      {0xffffffffu, false},
      {UINT64_MAX >> 1, false},
      {(uint64_t)1 << 63, false},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    kiln_pb_writer w = {0};
    kiln_pb_put_uint64(&w, 1, 3); /* so the field is not at offset 0 */
    kiln_pb_put_uint64(&w, 7, cases[i].wire);
    kiln_pb_reader r = kiln_pb_reader_make(w.data, w.len, "ints");
    kiln_pb_field f;
    bool more;
    int32_t v = 0;
    CHECK_OK(kiln_pb_next(&r, &f, &more));
    CHECK_OK(kiln_pb_next(&r, &f, &more));
    CHECK(f.offset == 2);
    if (cases[i].ok) {
      CHECK_OK(kiln_pb_int32(&r, &f, &v));
      CHECK((int64_t)v == (int64_t)cases[i].wire);
    } else {
      CHECK_ERROR(kiln_pb_int32(&r, &f, &v), KILN_ERR_INVALID_MODEL,
                  "ints: field 7 at byte offset 2 holds");
    }
    kiln_pb_writer_free(&w);
  }
}

/* Packed payloads that are not a run of valid varints: counting refuses
 * them (so a count is always the number of values reading gives), and
 * reading names the bad varint's offset in the outermost buffer. */
static void test_packed_malformed(void) {
  static const struct {
    uint8_t payload[16];
    size_t len;
    size_t rel; /* offset of the bad varint in the payload */
    const char *why;
  } cases[] = {
      {{0x01, 0x80}, 2, 1, "ends inside a varint"},
      {{0xff}, 1, 0, "ends inside a varint"},
      {{0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
       12,
       1,
       TOO_LONG},
      {{0x05, 0x05, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02},
       12,
       2,
       TOO_WIDE},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    kiln_pb_writer w = {0};
    kiln_pb_put_double(&w, 2, 1.0);
    kiln_pb_put_bytes(&w, 4, cases[i].payload, cases[i].len);
    kiln_pb_reader r = kiln_pb_reader_make(w.data, w.len, "packed");
    kiln_pb_field f;
    bool more;
    size_t count = 0;
    CHECK_OK(kiln_pb_next(&r, &f, &more));
    CHECK_OK(kiln_pb_next(&r, &f, &more));
    CHECK(f.offset == 9);
    char needle[160];
    if (strcmp(cases[i].why, "ends inside a varint") == 0)
      snprintf(needle, sizeof needle,
               "packed: packed field 4 at byte offset 9 ends inside a varint");
    else
      snprintf(needle, sizeof needle,
               "packed: packed field 4: %s at byte offset %zu", cases[i].why,
               11 + cases[i].rel);
    CHECK_ERROR(kiln_pb_packed_varints(&r, &f, &count), KILN_ERR_INVALID_MODEL,
                needle);
    /* Reading the values one by one stops at the same varint. */
    kiln_pb_reader n = kiln_pb_nested(&r, &f, "values");
    kiln_status *status = NULL;
    uint64_t v;
    while (!status && n.pos < n.size) status = kiln_pb_read_varint(&n, &v);
    snprintf(needle, sizeof needle, "values: %s at byte offset %zu",
             strcmp(cases[i].why, "ends inside a varint") == 0 ? TRUNCATED
                                                               : cases[i].why,
             11 + cases[i].rel);
    CHECK_ERROR(status, KILN_ERR_INVALID_MODEL, needle);
    kiln_pb_writer_free(&w);
  }
}

/* Bodies whose length takes 2 and 3 bytes, so kiln_pb_end moves them. */
static void test_long_bodies(void) {
  test_deep_nesting(1, 0);
  test_deep_nesting(6, 0);
  test_deep_nesting(5, 100);
  test_deep_nesting(4, 127 - 7);
  test_deep_nesting(3, 200);
  test_deep_nesting(4, 16383 - 10);
  test_deep_nesting(3, 17000);
  test_deep_nesting(2, 2097152 + 5);
}

/* ------------------------------------------- the interop test's C side */

/* One JSON array of the fields of *r. Every LEN field is also tried as a
 * nested message ("msg", null when it is not one) and as packed varints
 * ("packed", null when not). Returns an error as soon as a field is
 * malformed. */
static kiln_status *dump_fields(FILE *out, kiln_pb_reader *r, int depth) {
  fputc('[', out);
  for (int i = 0;; i++) {
    kiln_pb_field f;
    bool more;
    KILN_TRY(kiln_pb_next(r, &f, &more));
    if (!more) break;
    fprintf(out, "%s{\"n\":%u,\"t\":%d,\"off\":%zu", i ? "," : "", f.number,
            f.wire_type, f.offset);
    if (f.wire_type == KILN_PB_VARINT) {
      uint64_t u;
      int64_t s;
      int32_t s32;
      bool b;
      KILN_TRY(kiln_pb_uint64(r, &f, &u));
      KILN_TRY(kiln_pb_int64(r, &f, &s));
      KILN_TRY(kiln_pb_bool(r, &f, &b));
      fprintf(out, ",\"u\":%llu,\"i\":%lld,\"z\":%lld,\"b\":%s",
              (unsigned long long)u, (long long)s,
              (long long)kiln_pb_unzigzag(u), b ? "true" : "false");
      kiln_status *range = kiln_pb_int32(r, &f, &s32);
      if (range)
        fprintf(out, ",\"i32\":null");
      else
        fprintf(out, ",\"i32\":%d", (int)s32);
      kiln_status_free(range);
    } else if (f.wire_type == KILN_PB_I32) {
      float v;
      uint32_t bits;
      KILN_TRY(kiln_pb_float(r, &f, &v));
      memcpy(&bits, &v, sizeof bits);
      fprintf(out, ",\"u\":%llu,\"fbits\":%u", (unsigned long long)f.value,
              (unsigned)bits);
    } else if (f.wire_type == KILN_PB_I64) {
      double v;
      uint64_t bits;
      KILN_TRY(kiln_pb_double(r, &f, &v));
      memcpy(&bits, &v, sizeof bits);
      fprintf(out, ",\"u\":%llu,\"dbits\":%llu", (unsigned long long)f.value,
              (unsigned long long)bits);
    } else {
      const uint8_t *bytes;
      size_t len, count;
      KILN_TRY(kiln_pb_bytes(r, &f, &bytes, &len));
      fputs(",\"hex\":\"", out);
      for (size_t k = 0; k < len; k++) fprintf(out, "%02x", bytes[k]);
      fputs("\",\"msg\":", out);
      char *nested_json = NULL;
      size_t nested_size = 0;
      FILE *nested_out = open_memstream(&nested_json, &nested_size);
      if (!nested_out) return KILN_OOM();
      kiln_pb_reader nested = kiln_pb_nested(r, &f, "nested");
      kiln_status *status =
          depth < 32 ? dump_fields(nested_out, &nested, depth + 1)
                     : kiln_error(KILN_ERR_INVALID_MODEL, "too deep");
      fclose(nested_out);
      fputs(status ? "null" : nested_json, out);
      kiln_status_free(status);
      free(nested_json);
      fputs(",\"packed\":", out);
      status = kiln_pb_packed_varints(r, &f, &count);
      if (status) {
        fputs("null", out);
        kiln_status_free(status);
      } else {
        kiln_pb_reader values = kiln_pb_nested(r, &f, "packed");
        fputc('[', out);
        for (size_t k = 0; k < count; k++) {
          uint64_t v;
          KILN_TRY(kiln_pb_read_varint(&values, &v));
          fprintf(out, "%s%llu", k ? "," : "", (unsigned long long)v);
        }
        fputc(']', out);
      }
    }
    fputc('}', out);
  }
  fputc(']', out);
  return NULL;
}

static int dump_files(int count, char **paths) {
  for (int i = 0; i < count; i++) {
    FILE *file = fopen(paths[i], "rb");
    if (!file) {
      fprintf(stderr, "cannot open %s\n", paths[i]);
      return 1;
    }
    uint8_t *data = NULL;
    size_t size = 0, cap = 0, got;
    do {
      if (size == cap) {
        cap = cap ? cap * 2 : 4096;
        uint8_t *grown = realloc(data, cap);
        if (!grown) return 1;
        data = grown;
      }
      got = fread(data + size, 1, cap - size, file);
      size += got;
    } while (got);
    fclose(file);
    char *json = NULL;
    size_t json_size = 0;
    FILE *out = open_memstream(&json, &json_size);
    if (!out) return 1;
    kiln_pb_reader r = kiln_pb_reader_make(data, size, "file");
    kiln_status *status = dump_fields(out, &r, 0);
    fclose(out);
    if (status) {
      /* The message is plain ASCII without quotes or backslashes. */
      printf("{\"error\":\"%s\"}\n", kiln_status_message(status));
      kiln_status_free(status);
    } else {
      printf("{\"fields\":%s}\n", json);
    }
    free(json);
    free(data);
  }
  return 0;
}

/* Writes the fields listed on stdin, one a line:
 *   u N V   kiln_pb_put_uint64     i N V   kiln_pb_put_int64
 *   z N V   kiln_pb_zigzag + put   b N V   kiln_pb_put_bool (0 or 1)
 *   f N B   kiln_pb_put_float of the bits B (decimal)
 *   d N B   kiln_pb_put_double of the bits B
 *   x N H   kiln_pb_put_bytes of the hex H ("-" for none)
 *   s N H   kiln_pb_put_string of the hex H (no zero byte)
 *   r 0 H   kiln_pb_put_raw of the hex H
 *   p N V.. a packed run of varints, through kiln_pb_begin/kiln_pb_end
 *   { N     kiln_pb_begin           }       kiln_pb_end
 * and the message to stdout. */
static int write_from_spec(void) {
  kiln_pb_writer w = {0};
  size_t marks[64];
  int depth = 0;
  static char line[1 << 17];
  while (fgets(line, sizeof line, stdin)) {
    char op = line[0];
    char *rest = line + 1;
    if (op == '\n' || op == '\0') continue;
    if (op == '}') {
      if (depth == 0) return 1;
      kiln_pb_end(&w, marks[--depth]);
      continue;
    }
    unsigned long number = strtoul(rest, &rest, 10);
    if (op == 'u' || op == 'f' || op == 'd' || op == 'b') {
      unsigned long long v = strtoull(rest, NULL, 10);
      if (op == 'u') kiln_pb_put_uint64(&w, (uint32_t)number, v);
      if (op == 'b') kiln_pb_put_bool(&w, (uint32_t)number, v != 0);
      if (op == 'f') {
        uint32_t bits = (uint32_t)v;
        float x;
        memcpy(&x, &bits, sizeof x);
        kiln_pb_put_float(&w, (uint32_t)number, x);
      }
      if (op == 'd') {
        uint64_t bits = v;
        double x;
        memcpy(&x, &bits, sizeof x);
        kiln_pb_put_double(&w, (uint32_t)number, x);
      }
    } else if (op == 'i' || op == 'z') {
      long long v = strtoll(rest, NULL, 10);
      if (op == 'i') kiln_pb_put_int64(&w, (uint32_t)number, v);
      if (op == 'z')
        kiln_pb_put_uint64(&w, (uint32_t)number, kiln_pb_zigzag(v));
    } else if (op == 'x' || op == 's' || op == 'r') {
      while (*rest == ' ') rest++;
      size_t n = 0;
      static uint8_t bytes[1 << 16];
      static char text[(1 << 16) + 1];
      for (char *h = rest; h[0] && h[0] != '-' && h[0] != '\n'; h += 2) {
        unsigned byte;
        if (n == sizeof bytes || sscanf(h, "%2x", &byte) != 1) return 1;
        bytes[n++] = (uint8_t)byte;
      }
      if (op == 'r') {
        kiln_pb_put_raw(&w, bytes, n);
      } else if (op == 'x') {
        kiln_pb_put_bytes(&w, (uint32_t)number, bytes, n);
      } else {
        memcpy(text, bytes, n);
        text[n] = '\0';
        kiln_pb_put_string(&w, (uint32_t)number, text);
      }
    } else if (op == 'p' || op == '{') {
      if (depth == 64) return 1;
      marks[depth++] = kiln_pb_begin(&w, (uint32_t)number);
      if (op == 'p') {
        char *end;
        for (;;) {
          unsigned long long v = strtoull(rest, &end, 10);
          if (end == rest) break;
          kiln_pb_put_varint(&w, v);
          rest = end;
        }
        kiln_pb_end(&w, marks[--depth]);
      }
    } else {
      fprintf(stderr, "unknown line: %s", line);
      return 1;
    }
  }
  if (depth || w.failed) return 1;
  if (w.len) fwrite(w.data, 1, w.len, stdout);
  kiln_pb_writer_free(&w);
  return 0;
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "--dump") == 0)
    return dump_files(argc - 2, argv + 2);
  if (argc > 1 && strcmp(argv[1], "--write") == 0) return write_from_spec();
  test_varints();
  test_random_round_trips();
  test_long_bodies();
  test_writer_states();
  test_empty();
  test_malformed();
  test_int32_range();
  test_packed_malformed();
  return kiln_test_finish("test_pb_wire");
}
