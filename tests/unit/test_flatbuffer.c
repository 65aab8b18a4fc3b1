/* test_flatbuffer.c - the bounds-checked FlatBuffers reader: good reads and
 * defaults, then every kind of malformed buffer, each failing cleanly. */
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "formats/tflite/flatbuffer.h"
#include "harness.h"
#include "tflite_builder.c"

/* Slots of the test table "Thing". */
enum {
  S_U8 = 0,
  S_I8 = 1,
  S_BOOL = 2,
  S_I32 = 3,
  S_U32 = 4,
  S_U64 = 5,
  S_F32 = 6,
  S_STRING = 7,
  S_VEC_I32 = 8,
  S_VEC_STRING = 9,
  S_VEC_TABLE = 10,
  S_TABLE = 11,
  S_UNION_TYPE = 12,
  S_UNION = 13,
  S_VEC_I64 = 14,
  S_VEC_F32 = 15,
  S_LATE = 18, /* leaves slots 16 and 17 absent inside the vtable */
};

static uint32_t child(fbb *b, int32_t value) {
  fbb_start(b);
  fbb_add_i32(b, 0, value);
  return fbb_end(b);
}

static uint8_t *build_thing(size_t *size) {
  fbb b;
  fbb_init(&b);
  uint32_t str = fbb_string(&b, "hello");
  const int32_t ints[3] = {1, -2, 3};
  uint32_t vec = fbb_vector_i32(&b, ints, 3);
  uint32_t strs[2] = {fbb_string(&b, "a"), fbb_string(&b, "bc")};
  uint32_t vec_str = fbb_ref_vector(&b, strs, 2);
  uint32_t kids[2] = {child(&b, 7), child(&b, 8)};
  uint32_t vec_tab = fbb_ref_vector(&b, kids, 2);
  uint32_t sub = child(&b, 9);
  uint32_t uni = child(&b, 10);
  const uint8_t longs[16] = {0xfb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                             0,    0,    0,    0,    0,    1,    0,    0};
  uint32_t vec_long = fbb_vector(&b, longs, 2, 8, 8);
  const uint8_t quarter[4] = {0, 0, 0x80, 0x3e}; /* 0.25f */
  uint32_t vec_float = fbb_vector(&b, quarter, 1, 4, 4);
  fbb_start(&b);
  fbb_add_u8(&b, S_U8, 200);
  fbb_add_u8(&b, S_I8, 0xf6);
  fbb_add_u8(&b, S_BOOL, 1);
  fbb_add_i32(&b, S_I32, -123456);
  fbb_add_u32(&b, S_U32, 4000000000u);
  fbb_add_u64(&b, S_U64, 0x123456789abcdef0ull);
  fbb_add_f32(&b, S_F32, 1.5f);
  fbb_add_ref(&b, S_STRING, str);
  fbb_add_ref(&b, S_VEC_I32, vec);
  fbb_add_ref(&b, S_VEC_STRING, vec_str);
  fbb_add_ref(&b, S_VEC_TABLE, vec_tab);
  fbb_add_ref(&b, S_TABLE, sub);
  fbb_add_u8(&b, S_UNION_TYPE, 2);
  fbb_add_ref(&b, S_UNION, uni);
  fbb_add_ref(&b, S_VEC_I64, vec_long);
  fbb_add_ref(&b, S_VEC_F32, vec_float);
  fbb_add_i32(&b, S_LATE, 5);
  uint32_t root = fbb_end(&b);
  uint8_t *out = fbb_finish(&b, root, "TEST", size);
  fbb_release(&b);
  return out;
}

/* A heap copy of exactly `size` bytes so ASan sees any overread. */
static uint8_t *exact_copy(const uint8_t *data, size_t size) {
  uint8_t *copy = malloc(size ? size : 1);
  if (size) memcpy(copy, data, size);
  return copy;
}

static int32_t child_value(const kiln_fb_table *t) {
  int32_t value = -1;
  CHECK_OK(kiln_fb_i32(t, 0, -1, &value));
  return value;
}

static void test_good_reads(void) {
  size_t size;
  uint8_t *buf = build_thing(&size);
  kiln_fb fb = {buf, size};
  kiln_fb_table t;
  CHECK_OK(kiln_fb_root(&fb, "Thing", &t));

  uint8_t u8 = 0;
  int8_t i8 = 0;
  bool flag = false;
  int32_t i32 = 0;
  uint32_t u32 = 0;
  uint64_t u64 = 0;
  float f32 = 0;
  CHECK_OK(kiln_fb_u8(&t, S_U8, 0, &u8));
  CHECK(u8 == 200);
  CHECK_OK(kiln_fb_i8(&t, S_I8, 0, &i8));
  CHECK(i8 == -10);
  CHECK_OK(kiln_fb_bool(&t, S_BOOL, false, &flag));
  CHECK(flag);
  CHECK_OK(kiln_fb_i32(&t, S_I32, 0, &i32));
  CHECK(i32 == -123456);
  CHECK_OK(kiln_fb_u32(&t, S_U32, 0, &u32));
  CHECK(u32 == 4000000000u);
  CHECK_OK(kiln_fb_u64(&t, S_U64, 0, &u64));
  CHECK(u64 == 0x123456789abcdef0ull);
  CHECK_OK(kiln_fb_f32(&t, S_F32, 0, &f32));
  CHECK(f32 == 1.5f);
  CHECK_OK(kiln_fb_i32(&t, S_LATE, 0, &i32));
  CHECK(i32 == 5);

  /* Absent fields: inside the vtable (16, 17) and past it (40). */
  CHECK(!kiln_fb_has_field(&t, 16) && !kiln_fb_has_field(&t, 40));
  CHECK(kiln_fb_has_field(&t, S_I32) && !kiln_fb_has_field(&t, -1));
  CHECK_OK(kiln_fb_i32(&t, 17, 77, &i32));
  CHECK(i32 == 77);
  CHECK_OK(kiln_fb_f32(&t, 40, 2.5f, &f32));
  CHECK(f32 == 2.5f);

  const char *s = NULL;
  CHECK_OK(kiln_fb_string_field(&t, S_STRING, &s));
  CHECK(s && strcmp(s, "hello") == 0);
  CHECK_OK(kiln_fb_string_field(&t, 16, &s));
  CHECK(s == NULL);

  kiln_fb_vector v;
  bool present = false;
  CHECK_OK(kiln_fb_vector_field(&t, S_VEC_I32, 4, &v, &present));
  CHECK(present && v.length == 3);
  CHECK(kiln_fb_vec_i32(&v, 0) == 1 && kiln_fb_vec_i32(&v, 1) == -2 &&
        kiln_fb_vec_i32(&v, 2) == 3);
  CHECK(kiln_fb_vec_i32(&v, 3) == 0); /* past the end reads 0 */
  CHECK(kiln_fb_vec_i64(&v, 0) == 0); /* wrong element size reads 0 */
  CHECK_OK(kiln_fb_vector_field(&t, 17, 4, &v, &present));
  CHECK(!present && v.length == 0 && kiln_fb_vec_data(&v) == NULL);

  CHECK_OK(kiln_fb_vector_field(&t, S_VEC_STRING, 4, &v, NULL));
  CHECK(v.length == 2);
  CHECK_OK(kiln_fb_vec_string(&v, 1, &s));
  CHECK(s && strcmp(s, "bc") == 0);
  CHECK_ERROR(kiln_fb_vec_string(&v, 2, &s), KILN_ERR_INTERNAL, "element 2");

  kiln_fb_table sub;
  CHECK_OK(kiln_fb_vector_field(&t, S_VEC_TABLE, 4, &v, NULL));
  CHECK(v.length == 2);
  CHECK_OK(kiln_fb_vec_table(&v, 1, "Child", &sub));
  CHECK(child_value(&sub) == 8);

  CHECK_OK(kiln_fb_table_field(&t, S_TABLE, "Child", &sub, &present));
  CHECK(present && child_value(&sub) == 9);
  CHECK_OK(kiln_fb_table_field(&t, 16, "Child", &sub, &present));
  CHECK(!present && child_value(&sub) == -1); /* empty table: defaults */

  uint8_t type = 0;
  CHECK_OK(
      kiln_fb_union_field(&t, S_UNION_TYPE, S_UNION, "Child", &type, &sub));
  CHECK(type == 2 && child_value(&sub) == 10);

  CHECK_OK(kiln_fb_vector_field(&t, S_VEC_I64, 8, &v, NULL));
  CHECK(kiln_fb_vec_i64(&v, 0) == -5 && kiln_fb_vec_i64(&v, 1) == (int64_t)1
                                                                      << 40);
  CHECK_OK(kiln_fb_vector_field(&t, S_VEC_F32, 4, &v, NULL));
  CHECK(kiln_fb_vec_f32(&v, 0) == 0.25f);
  free(buf);
}

/* A union whose type is set but whose value is missing reads as NONE. */
static void test_union_without_value(void) {
  fbb b;
  size_t size;
  fbb_init(&b);
  fbb_start(&b);
  fbb_add_u8(&b, 0, 5);
  uint8_t *buf = fbb_finish(&b, fbb_end(&b), NULL, &size);
  fbb_release(&b);
  kiln_fb fb = {buf, size};
  kiln_fb_table t, value;
  uint8_t type = 99;
  CHECK_OK(kiln_fb_root(&fb, "Thing", &t));
  CHECK_OK(kiln_fb_union_field(&t, 0, 1, "Child", &type, &value));
  CHECK(type == 0 && value.vtable_size == 0);
  free(buf);
}

/* ---- malformed buffers: a good one with one thing broken ---- */

static uint32_t get_u32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

static void put_u32(uint8_t *p, uint32_t v) {
  for (int k = 0; k < 4; k++) p[k] = (uint8_t)(v >> (8 * k));
}

static void put_u16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}

typedef struct layout {
  size_t table, vtable;
  uint16_t inline_size;
} layout;

static layout locate(const uint8_t *buf, size_t size) {
  kiln_fb fb = {buf, size};
  kiln_fb_table t;
  CHECK_OK(kiln_fb_root(&fb, "Thing", &t));
  layout l = {t.pos, t.vtable, t.inline_size};
  return l;
}

/* Byte offset of a field's value in the root table. */
static size_t field_at(const uint8_t *buf, const layout *l, int slot) {
  const uint8_t *entry = buf + l->vtable + 4 + 2 * slot;
  return l->table + (size_t)(entry[0] | entry[1] << 8);
}

/* Byte offset of the object an offset field points at. */
static size_t target_of(const uint8_t *buf, const layout *l, int slot) {
  size_t at = field_at(buf, l, slot);
  return at + get_u32(buf + at);
}

/* Reads every field the way an importer would; the first failure. */
static kiln_status *read_all(const uint8_t *buf, size_t size) {
  kiln_fb fb = {buf, size};
  kiln_fb_table t, sub;
  kiln_fb_vector v;
  const char *s;
  int32_t i32;
  uint64_t u64;
  uint8_t type;
  KILN_TRY(kiln_fb_root(&fb, "Thing", &t));
  KILN_TRY(kiln_fb_i32(&t, S_I32, 0, &i32));
  KILN_TRY(kiln_fb_u64(&t, S_U64, 0, &u64));
  KILN_TRY(kiln_fb_string_field(&t, S_STRING, &s));
  KILN_TRY(kiln_fb_vector_field(&t, S_VEC_I32, 4, &v, NULL));
  KILN_TRY(kiln_fb_vector_field(&t, S_VEC_STRING, 4, &v, NULL));
  for (uint32_t i = 0; i < v.length; i++)
    KILN_TRY(kiln_fb_vec_string(&v, i, &s));
  KILN_TRY(kiln_fb_vector_field(&t, S_VEC_TABLE, 4, &v, NULL));
  for (uint32_t i = 0; i < v.length; i++) {
    KILN_TRY(kiln_fb_vec_table(&v, i, "Child", &sub));
    KILN_TRY(kiln_fb_i32(&sub, 0, 0, &i32));
  }
  KILN_TRY(kiln_fb_table_field(&t, S_TABLE, "Child", &sub, NULL));
  KILN_TRY(kiln_fb_i32(&sub, 0, 0, &i32));
  KILN_TRY(
      kiln_fb_union_field(&t, S_UNION_TYPE, S_UNION, "Child", &type, &sub));
  return kiln_fb_i32(&sub, 0, 0, &i32);
}

/* Breaks a copy of the good buffer with `patch`, expects `needle`. */
typedef void (*patch_fn)(uint8_t *buf, size_t size, const layout *l);

static void expect_broken(patch_fn patch, const char *needle) {
  size_t size;
  uint8_t *good = build_thing(&size);
  layout l = locate(good, size);
  uint8_t *buf = exact_copy(good, size);
  patch(buf, size, &l);
  CHECK_ERROR(read_all(buf, size), KILN_ERR_INVALID_MODEL, needle);
  free(buf);
  free(good);
}

static void root_past_end(uint8_t *buf, size_t size, const layout *l) {
  (void)l;
  put_u32(buf, (uint32_t)size + 100);
}
static void root_at_end(uint8_t *buf, size_t size, const layout *l) {
  (void)l;
  put_u32(buf, (uint32_t)size - 2);
}
static void vtable_before_start(uint8_t *buf, size_t size, const layout *l) {
  (void)size;
  put_u32(buf + l->table, (uint32_t)l->table + 4);
}
static void vtable_far_ahead(uint8_t *buf, size_t size, const layout *l) {
  (void)size;
  put_u32(buf + l->table, 0x80000000u); /* INT32_MIN */
}
static void vtable_too_small(uint8_t *buf, size_t size, const layout *l) {
  (void)size;
  put_u16(buf + l->vtable, 2);
}
static void vtable_odd(uint8_t *buf, size_t size, const layout *l) {
  (void)size;
  put_u16(buf + l->vtable, 7);
}
static void vtable_past_end(uint8_t *buf, size_t size, const layout *l) {
  (void)size;
  put_u16(buf + l->vtable, 0xfffe);
}
static void inline_too_small(uint8_t *buf, size_t size, const layout *l) {
  (void)size;
  put_u16(buf + l->vtable + 2, 2);
}
static void inline_past_end(uint8_t *buf, size_t size, const layout *l) {
  (void)size;
  put_u16(buf + l->vtable + 2, 0xffff);
}
static void field_outside_table(uint8_t *buf, size_t size, const layout *l) {
  (void)size;
  put_u16(buf + l->vtable + 4 + 2 * S_I32, (uint16_t)(l->inline_size - 2));
}
static void field_in_header(uint8_t *buf, size_t size, const layout *l) {
  (void)size;
  put_u16(buf + l->vtable + 4 + 2 * S_I32, 2);
}
static void string_offset_past_end(uint8_t *buf, size_t size, const layout *l) {
  (void)size;
  put_u32(buf + field_at(buf, l, S_STRING), 0x7fffffff);
}
static void string_without_nul(uint8_t *buf, size_t size, const layout *l) {
  (void)size;
  buf[target_of(buf, l, S_STRING) + 4 + 5] = 'x';
}
static void string_too_long(uint8_t *buf, size_t size, const layout *l) {
  put_u32(buf + target_of(buf, l, S_STRING), (uint32_t)size);
}
static void vector_huge(uint8_t *buf, size_t size, const layout *l) {
  (void)size;
  put_u32(buf + target_of(buf, l, S_VEC_I32), 0xffffffffu);
}
static void vector_one_too_many(uint8_t *buf, size_t size, const layout *l) {
  size_t vec = target_of(buf, l, S_VEC_I32);
  put_u32(buf + vec, (uint32_t)((size - vec - 4) / 4 + 1));
}
static void vector_element_past_end(uint8_t *buf, size_t size,
                                    const layout *l) {
  (void)size;
  put_u32(buf + target_of(buf, l, S_VEC_TABLE) + 4 + 4, 0xfffffff0u);
}
static void subtable_bad_vtable(uint8_t *buf, size_t size, const layout *l) {
  (void)size;
  put_u32(buf + target_of(buf, l, S_TABLE), 0x7ffffff0u);
}

static void test_malformed(void) {
  expect_broken(root_past_end, "root table: offset");
  expect_broken(root_at_end, "starts past the end");
  expect_broken(vtable_before_start, "vtable offset");
  expect_broken(vtable_far_ahead, "vtable offset -2147483648");
  expect_broken(vtable_too_small, "bad size (2 bytes)");
  expect_broken(vtable_odd, "bad size (7 bytes)");
  expect_broken(vtable_past_end, "runs past the end");
  expect_broken(inline_too_small, "inline size of 2 bytes");
  expect_broken(inline_past_end, "inline size of 65535 bytes");
  expect_broken(field_outside_table, "lies outside the table's");
  expect_broken(field_in_header, "field 3 (4 bytes at table offset 2)");
  expect_broken(string_offset_past_end, "field 7: offset 2147483647");
  expect_broken(string_without_nul, "not NUL-terminated");
  expect_broken(string_too_long, "runs past the end");
  expect_broken(vector_huge, "4294967295 elements of 4 bytes");
  expect_broken(vector_one_too_many, "runs past the end");
  expect_broken(vector_element_past_end, "element 1");
  expect_broken(subtable_bad_vtable, "Child table at byte");
}

/* Every prefix of a good buffer reads or fails without touching a byte
 * past its end (ASan watches the exact-size copies). */
static void test_truncated(void) {
  size_t size;
  uint8_t *good = build_thing(&size);
  int failures = 0;
  for (size_t n = 0; n < size; n++) {
    uint8_t *buf = exact_copy(good, n);
    kiln_status *st = read_all(buf, n);
    if (st) failures++;
    CHECK(!st || kiln_status_get_code(st) == KILN_ERR_INVALID_MODEL);
    kiln_status_free(st);
    free(buf);
  }
  /* The root table's own fields lie near the front; most prefixes lose
   * something read_all needs. */
  CHECK(failures > (int)size / 2);
  CHECK_OK(read_all(good, size));
  free(good);
}

static void test_tiny_and_random(void) {
  const uint8_t zeros[16] = {0};
  CHECK_ERROR(read_all(zeros, 4), KILN_ERR_INVALID_MODEL, "too small");
  CHECK_ERROR(read_all(NULL, 0), KILN_ERR_INVALID_MODEL, "too small");
  /* All zeros: the root table sits at byte 0 with its vtable there too. */
  CHECK_ERROR(read_all(zeros, sizeof zeros), KILN_ERR_INVALID_MODEL,
              "bad size (0 bytes)");
  kiln_test_seed(42);
  for (int round = 0; round < 2000; round++) {
    size_t n = (size_t)kiln_test_int(0, 200);
    uint8_t *buf = malloc(n ? n : 1);
    for (size_t i = 0; i < n; i++) buf[i] = (uint8_t)kiln_test_rand();
    if (n >= 4 && round % 2) put_u32(buf, (uint32_t)kiln_test_int(4, 64));
    kiln_status_free(read_all(buf, n));
    free(buf);
  }
  CHECK(true); /* surviving (under ASan/UBSan) is the test */
}

int main(void) {
  test_good_reads();
  test_union_without_value();
  test_malformed();
  test_truncated();
  test_tiny_and_random();
  return kiln_test_finish("test_flatbuffer");
}
