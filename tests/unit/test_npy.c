/* test_npy.c - .npy reading and writing: round trips for every dtype and
 * rank, hand-written headers of every format version, and a clear error
 * for each kind of malformed file. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats/npy/npy.h"
#include "harness.h"

static char temp_dir[64];
static char *created[64];
static int num_created = 0;

/* A path inside the temporary directory, remembered for cleanup. */
static const char *temp_path(const char *name) {
  static char path[256];
  snprintf(path, sizeof path, "%s/%s", temp_dir, name);
  for (int i = 0; i < num_created; i++)
    if (strcmp(created[i], path) == 0) return path;
  if (num_created < 64) {
    created[num_created] = malloc(strlen(path) + 1);
    if (created[num_created]) strcpy(created[num_created++], path);
  }
  return path;
}

static void write_bytes(const char *path, const void *data, size_t size) {
  FILE *f = fopen(path, "wb");
  CHECK(f != NULL);
  if (!f) return;
  CHECK(fwrite(data, 1, size, f) == size);
  fclose(f);
}

/* Builds a .npy file image: magic, version major.0, the header length
 * field (u16 for 1.x, u32 otherwise), `header` verbatim, then `data`. */
static size_t make_npy(unsigned char *out, size_t capacity, int major,
                       const char *header, const void *data, size_t nbytes) {
  size_t hlen = strlen(header), n = 0;
  size_t length_bytes = major == 1 ? 2 : 4;
  if (10 + 2 + hlen + nbytes > capacity) return 0;
  memcpy(out, "\x93NUMPY", 6);
  out[6] = (unsigned char)major;
  out[7] = 0;
  n = 8;
  for (size_t i = 0; i < length_bytes; i++)
    out[n++] = (unsigned char)(hlen >> (8 * i));
  memcpy(out + n, header, hlen);
  n += hlen;
  if (nbytes) memcpy(out + n, data, nbytes);
  return n + nbytes;
}

/* Writes a hand-made file and loads it. */
static kiln_status *load_handmade(int major, const char *header,
                                  const void *data, size_t nbytes,
                                  kiln_array *out) {
  static unsigned char image[4096];
  size_t size = make_npy(image, sizeof image, major, header, data, nbytes);
  const char *path = temp_path("handmade.npy");
  write_bytes(path, image, size);
  return kiln_npy_load(path, out);
}

static const float six_floats[6] = {1.5f, -2.0f, 3.25f, 0.0f, -0.5f, 1e30f};

static void check_six_floats(const kiln_array *a, int rank, int64_t d0,
                             int64_t d1) {
  CHECK(a->dtype == KILN_FLOAT32);
  CHECK(a->rank == rank);
  CHECK(a->dims[0] == d0);
  if (rank > 1) CHECK(a->dims[1] == d1);
  CHECK(a->nbytes == sizeof six_floats);
  CHECK(a->data && memcmp(a->data, six_floats, sizeof six_floats) == 0);
}

static void test_round_trips(void) {
  const kiln_dtype dtypes[] = {
      KILN_FLOAT32, KILN_FLOAT16, KILN_FLOAT64, KILN_INT8, KILN_UINT8,
      KILN_INT16,   KILN_INT32,   KILN_INT64,   KILN_BOOL, KILN_COMPLEX64,
      KILN_UINT16,  KILN_UINT32,  KILN_UINT64};
  const int64_t shape[4] = {2, 3, 1, 4};
  for (size_t t = 0; t < sizeof dtypes / sizeof dtypes[0]; t++) {
    for (int rank = 0; rank <= 4; rank++) {
      kiln_array a = {dtypes[t], rank, {0}, NULL, 0};
      size_t count = 1;
      for (int i = 0; i < rank; i++) {
        a.dims[i] = shape[i];
        count *= (size_t)shape[i];
      }
      a.nbytes = count * kiln_dtype_size(a.dtype);
      unsigned char *data = malloc(a.nbytes);
      for (size_t i = 0; i < a.nbytes; i++)
        data[i] = a.dtype == KILN_BOOL ? (unsigned char)(i % 2)
                                       : (unsigned char)(i * 37 + t + 1);
      a.data = data;
      const char *path = temp_path("round.npy");
      CHECK_OK(kiln_npy_save(path, &a));

      /* The header pads the data to a multiple of 64 and ends in '\n'. */
      unsigned char head[10];
      FILE *f = fopen(path, "rb");
      CHECK(f && fread(head, 1, 10, f) == 10);
      size_t hlen = (size_t)head[8] | (size_t)head[9] << 8;
      CHECK(head[6] == 1 && head[7] == 0);
      CHECK((10 + hlen) % 64 == 0);
      if (f) {
        CHECK(fseek(f, (long)(10 + hlen - 1), SEEK_SET) == 0);
        CHECK(fgetc(f) == '\n');
        CHECK(fseek(f, 0, SEEK_END) == 0);
        CHECK((size_t)ftell(f) == 10 + hlen + a.nbytes);
        fclose(f);
      }

      kiln_array b;
      CHECK_OK(kiln_npy_load(path, &b));
      CHECK(b.dtype == a.dtype);
      CHECK(b.rank == rank);
      for (int i = 0; i < rank; i++) CHECK(b.dims[i] == a.dims[i]);
      CHECK(b.nbytes == a.nbytes);
      CHECK(b.data && memcmp(b.data, a.data, a.nbytes) == 0);
      kiln_array_free(&b);
      CHECK(b.data == NULL && b.nbytes == 0);
      free(data);
    }
  }

  /* An empty array round-trips with non-NULL data. */
  kiln_array empty = {KILN_FLOAT32, 2, {0, 3}, NULL, 0};
  CHECK_OK(kiln_npy_save(temp_path("empty.npy"), &empty));
  kiln_array back;
  CHECK_OK(kiln_npy_load(temp_path("empty.npy"), &back));
  CHECK(back.rank == 2 && back.dims[0] == 0 && back.dims[1] == 3);
  CHECK(back.nbytes == 0 && back.data != NULL);
  kiln_array_free(&back);
  kiln_array_free(NULL);
}

static void test_exact_header(void) {
  const struct {
    int rank;
    int64_t dims[2];
    kiln_dtype dtype;
    const char *dict;
  } cases[] = {
      {2,
       {2, 3},
       KILN_FLOAT32,
       "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"},
      {1,
       {5, 0},
       KILN_UINT8,
       "{'descr': '|u1', 'fortran_order': False, 'shape': (5,), }"},
      {0,
       {0, 0},
       KILN_BOOL,
       "{'descr': '|b1', 'fortran_order': False, 'shape': (), }"},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    unsigned char data[32] = {0};
    kiln_array a = {cases[c].dtype, cases[c].rank, {0}, data, 0};
    size_t count = 1;
    for (int i = 0; i < a.rank; i++) {
      a.dims[i] = cases[c].dims[i];
      count *= (size_t)a.dims[i];
    }
    a.nbytes = count * kiln_dtype_size(a.dtype);
    const char *path = temp_path("exact.npy");
    CHECK_OK(kiln_npy_save(path, &a));
    char file[256] = {0};
    FILE *f = fopen(path, "rb");
    size_t got = f ? fread(file, 1, sizeof file - 1, f) : 0;
    if (f) fclose(f);
    size_t dict_length = strlen(cases[c].dict);
    size_t data_offset = (10 + dict_length + 1 + 63) / 64 * 64;
    CHECK(got == data_offset + a.nbytes);
    CHECK(memcmp(file + 10, cases[c].dict, dict_length) == 0);
    for (size_t i = 10 + dict_length; i < data_offset - 1; i++)
      CHECK(file[i] == ' ');
    CHECK(file[data_offset - 1] == '\n');
  }
}

static void test_handmade_headers(void) {
  kiln_array a;
  /* Version 1.0, keys out of order, odd spacing, no trailing newline. */
  CHECK_OK(load_handmade(
      1, "{ 'shape' :(2,3) ,'fortran_order':False,\t'descr':'<f4'  }",
      six_floats, sizeof six_floats, &a));
  check_six_floats(&a, 2, 2, 3);
  kiln_array_free(&a);
  /* Version 2.0 with double quotes and a trailing comma in the tuple. */
  CHECK_OK(load_handmade(
      2,
      "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": ( 6 , ),}\n",
      six_floats, sizeof six_floats, &a));
  check_six_floats(&a, 1, 6, 0);
  kiln_array_free(&a);
  /* Version 3.0, a scalar, newlines and tabs between tokens. */
  int32_t scalar = -123456;
  CHECK_OK(load_handmade(
      3,
      "{\n\t'descr' : '<i4' ,\n\t'shape' : ( ) ,\n\t'fortran_order' : "
      "False ,\n}   \n",
      &scalar, sizeof scalar, &a));
  CHECK(a.dtype == KILN_INT32 && a.rank == 0 && a.nbytes == 4);
  CHECK(a.data && *(int32_t *)a.data == -123456);
  kiln_array_free(&a);
  /* Python 2 long integers, '=' byte order (this host is little-endian). */
  CHECK_OK(load_handmade(
      1, "{'descr': '=f4', 'fortran_order': False, 'shape': (3L, 2L), }\n",
      six_floats, sizeof six_floats, &a));
  check_six_floats(&a, 2, 3, 2);
  kiln_array_free(&a);
  /* One-byte types take any byte-order mark. */
  const char *one_byte[] = {"|i1", "<i1", ">i1", "=i1", "i1"};
  for (size_t i = 0; i < 5; i++) {
    char header[128];
    snprintf(header, sizeof header,
             "{'descr': '%s', 'fortran_order': False, 'shape': (4,), }\n",
             one_byte[i]);
    int8_t bytes[4] = {-1, 2, -3, 4};
    CHECK_OK(load_handmade(1, header, bytes, 4, &a));
    CHECK(a.dtype == KILN_INT8 && a.rank == 1 && a.dims[0] == 4);
    CHECK(a.data && memcmp(a.data, bytes, 4) == 0);
    kiln_array_free(&a);
  }
  /* Every dtype name maps to its kiln dtype. */
  const struct {
    const char *descr;
    kiln_dtype dtype;
  } names[] = {
      {"<f2", KILN_FLOAT16},   {"<f4", KILN_FLOAT32}, {"<f8", KILN_FLOAT64},
      {"|i1", KILN_INT8},      {"|u1", KILN_UINT8},   {"<i2", KILN_INT16},
      {"<i4", KILN_INT32},     {"<i8", KILN_INT64},   {"|b1", KILN_BOOL},
      {"<c8", KILN_COMPLEX64}, {"<u2", KILN_UINT16},  {"<u4", KILN_UINT32},
      {"<u8", KILN_UINT64}};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    char header[128];
    snprintf(header, sizeof header,
             "{'descr': '%s', 'fortran_order': False, 'shape': (1,), }\n",
             names[i].descr);
    unsigned char bytes[8] = {0};
    CHECK_OK(load_handmade(1, header, bytes, 8, &a));
    CHECK(a.dtype == names[i].dtype);
    CHECK(a.nbytes == kiln_dtype_size(names[i].dtype));
    kiln_array_free(&a);
  }
  /* Booleans are normalized to 0 and 1. */
  unsigned char flags[4] = {0, 1, 2, 255};
  CHECK_OK(load_handmade(
      1, "{'descr': '|b1', 'fortran_order': False, 'shape': (4,), }\n", flags,
      4, &a));
  CHECK(a.data && memcmp(a.data, "\0\1\1\1", 4) == 0);
  kiln_array_free(&a);
  /* Fortran order is fine when it is also C order. */
  CHECK_OK(load_handmade(
      1, "{'descr': '<f4', 'fortran_order': True, 'shape': (1, 6), }\n",
      six_floats, sizeof six_floats, &a));
  check_six_floats(&a, 2, 1, 6);
  kiln_array_free(&a);
  /* Data beyond what the shape needs is ignored (as numpy does). */
  float extra[8] = {0};
  memcpy(extra, six_floats, sizeof six_floats);
  CHECK_OK(load_handmade(
      1, "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }\n", extra,
      sizeof extra, &a));
  check_six_floats(&a, 1, 6, 0);
  kiln_array_free(&a);
  /* A zero dimension makes an empty array even beside huge ones. */
  CHECK_OK(load_handmade(1,
                         "{'descr': '<f4', 'fortran_order': False, 'shape': "
                         "(9223372036854775807, 0, 9223372036854775807), }",
                         NULL, 0, &a));
  CHECK(a.rank == 3 && a.nbytes == 0 && a.data != NULL);
  kiln_array_free(&a);
}

/* Expects a hand-made file with `header` (and 24 data bytes) to fail with
 * `code` and a message containing `needle`. */
static void check_bad_header(int line, const char *header,
                             kiln_status_code code, const char *needle) {
  kiln_array a = {KILN_FLOAT32, 1, {1}, (void *)1, 1};
  unsigned char data[24] = {0};
  kiln_test_check_error(load_handmade(1, header, data, sizeof data, &a), code,
                        needle, header, __FILE__, line);
  CHECK(a.data == NULL && a.nbytes == 0 && a.rank == 0);
}

static void test_bad_headers(void) {
  const kiln_status_code INVALID = KILN_ERR_INVALID_ARGUMENT;
  const kiln_status_code UNSUPPORTED = KILN_ERR_UNSUPPORTED;
  check_bad_header(__LINE__,
                   "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }",
                   UNSUPPORTED, "big-endian");
  check_bad_header(__LINE__,
                   "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }",
                   UNSUPPORTED, "Fortran order");
  check_bad_header(__LINE__,
                   "{'descr': '|f4', 'fortran_order': False, 'shape': (2,), }",
                   INVALID, "byte order");
  check_bad_header(__LINE__,
                   "{'descr': '<U4', 'fortran_order': False, 'shape': (2,), }",
                   UNSUPPORTED, "'<U4'");
  check_bad_header(__LINE__,
                   "{'descr': '<c16', 'fortran_order': False, 'shape': (2,), }",
                   UNSUPPORTED, "not supported");
  check_bad_header(
      __LINE__,
      "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }",
      UNSUPPORTED, "structured");
  check_bad_header(__LINE__,
                   "{'descr': '<f4', 'fortran_order': False, 'shape': "
                   "(1, 1, 1, 1, 1, 1, 1, 1, 1), }",
                   INVALID, "more than 8 dimensions");
  check_bad_header(__LINE__,
                   "{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3)}",
                   INVALID, "negative dimension -3");
  check_bad_header(__LINE__,
                   "{'descr': '<f4', 'fortran_order': False, 'shape': "
                   "(4294967296, 4294967296, 4), }",
                   INVALID, "overflows");
  check_bad_header(__LINE__,
                   "{'descr': '<f4', 'fortran_order': False, 'shape': "
                   "(3037000500, 3037000500), }",
                   INVALID, "overflows");
  check_bad_header(__LINE__,
                   "{'descr': '<f4', 'fortran_order': False, 'shape': "
                   "(99999999999999999999,), }",
                   INVALID, "too large");
  /* 24 data bytes, 40 needed: both sizes are named. */
  check_bad_header(__LINE__,
                   "{'descr': '<f4', 'fortran_order': False, 'shape': (10,), }",
                   INVALID,
                   "has 24 bytes, but shape (10,) of float32 needs "
                   "40 bytes");
  check_bad_header(__LINE__, "{'descr': '<f4', 'fortran_order': False}",
                   INVALID, "lacks the key 'shape'");
  check_bad_header(__LINE__, "{'descr': '<f4', 'shape': (2,)}", INVALID,
                   "lacks the key 'fortran_order'");
  check_bad_header(__LINE__,
                   "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, "
                   "'shape': (2,)}",
                   INVALID, "'descr' appears twice");
  check_bad_header(__LINE__,
                   "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), "
                   "'extra': 1}",
                   INVALID, "unexpected key 'extra'");
  check_bad_header(__LINE__,
                   "{'descr': '<f4', 'fortran_order': False, 'shape': (6)}",
                   INVALID, "not a tuple");
  check_bad_header(__LINE__,
                   "{'descr': '<f4', 'fortran_order': False, 'shape': [6]}",
                   INVALID, "not a list");
  check_bad_header(__LINE__,
                   "{'descr' '<f4', 'fortran_order': False, 'shape': (6,)}",
                   INVALID, "byte offset 19: expected ':'");
  check_bad_header(__LINE__,
                   "{'descr': '<f4', 'fortran_order': 0, 'shape': (6,)}",
                   INVALID, "True or False");
  check_bad_header(__LINE__,
                   "{'descr': '<f4', 'fortran_order': False, 'shape': (6,)} x",
                   INVALID, "expected only spaces");
  check_bad_header(__LINE__,
                   "{'descr': '<f4' 'fortran_order': False, 'shape': (6,)}",
                   INVALID, "expected ',' or '}'");
  check_bad_header(__LINE__,
                   "{'descr': '<f4', 'fortran_order': False, 'shape': (2 3)}",
                   INVALID, "expected ',' or ')'");
  check_bad_header(__LINE__,
                   "{'descr': '<f4', 'fortran_order': False, 'shape': (,)}",
                   INVALID, "a dimension");
  check_bad_header(__LINE__, "{'descr: '<f4'", INVALID, "expected ':'");
  check_bad_header(__LINE__, "{'descr': '<f4", INVALID, "a closed string");
  check_bad_header(__LINE__, "", INVALID, "expected '{'");
  check_bad_header(__LINE__, "descr", INVALID, "byte offset 10");
}

static void test_bad_files(void) {
  kiln_array a;
  unsigned char image[256];
  const char *path = temp_path("bad.npy");

  /* Not a .npy file at all, and an empty one. */
  write_bytes(path, "PK\3\4 this is a zip", 19);
  CHECK_ERROR(kiln_npy_load(path, &a), KILN_ERR_INVALID_ARGUMENT,
              "not a .npy file");
  write_bytes(path, "", 0);
  CHECK_ERROR(kiln_npy_load(path, &a), KILN_ERR_INVALID_ARGUMENT,
              "not a .npy file");
  /* Cut inside the version bytes and inside the length field. */
  write_bytes(path, "\x93NUMPY\1", 7);
  CHECK_ERROR(kiln_npy_load(path, &a), KILN_ERR_INVALID_ARGUMENT, "truncated");
  write_bytes(path, "\x93NUMPY\2\0\1\0", 10);
  CHECK_ERROR(kiln_npy_load(path, &a), KILN_ERR_INVALID_ARGUMENT,
              "header length");
  /* Unknown versions. */
  size_t size = make_npy(image, sizeof image, 4, "{}", NULL, 0);
  write_bytes(path, image, size);
  CHECK_ERROR(kiln_npy_load(path, &a), KILN_ERR_UNSUPPORTED, "version 4.0");
  /* A header length running past the end of the file names the offset. */
  size = make_npy(image, sizeof image, 1,
                  "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
                  NULL, 0);
  image[8] = 0xe8; /* 1000 */
  image[9] = 0x03;
  write_bytes(path, image, size);
  CHECK_ERROR(kiln_npy_load(path, &a), KILN_ERR_INVALID_ARGUMENT,
              "header of 1000 bytes at byte offset 10 runs past the end of "
              "the file (67 bytes)");
  CHECK_ERROR(kiln_npy_parse(image, size, "mem.npy", &a),
              KILN_ERR_INVALID_ARGUMENT, "mem.npy: the .npy header of 1000");
  /* A version 2.0 header length of 4 GiB - 1 is refused before any
   * allocation. */
  size = make_npy(image, sizeof image, 2, "{}", NULL, 0);
  memset(image + 8, 0xff, 4);
  write_bytes(path, image, size);
  CHECK_ERROR(kiln_npy_load(path, &a), KILN_ERR_INVALID_ARGUMENT,
              "4294967295 bytes at byte offset 12 runs past the end");

  /* Every truncation of a valid file fails cleanly; the whole file loads. */
  kiln_array valid = {
      KILN_FLOAT32, 2, {2, 3}, (void *)six_floats, sizeof six_floats};
  CHECK_OK(kiln_npy_save(path, &valid));
  unsigned char whole[256];
  FILE *f = fopen(path, "rb");
  size_t whole_size = f ? fread(whole, 1, sizeof whole, f) : 0;
  if (f) fclose(f);
  CHECK(whole_size == 128 + sizeof six_floats);
  for (size_t cut = 0; cut < whole_size; cut++) {
    kiln_status *st = kiln_npy_parse(whole, cut, "cut.npy", &a);
    CHECK(st != NULL && kiln_status_get_code(st) == KILN_ERR_INVALID_ARGUMENT);
    CHECK(strstr(kiln_status_message(st), "cut.npy") != NULL);
    kiln_status_free(st);
    write_bytes(path, whole, cut);
    st = kiln_npy_load(path, &a);
    CHECK(st != NULL && a.data == NULL);
    kiln_status_free(st);
  }
  CHECK_OK(kiln_npy_parse(whole, whole_size, NULL, &a));
  check_six_floats(&a, 2, 2, 3);
  kiln_array_free(&a);
  CHECK_ERROR(kiln_npy_parse(whole, 3, NULL, &a), KILN_ERR_INVALID_ARGUMENT,
              "<memory>");

  /* I/O errors carry the reason. */
  CHECK_ERROR(kiln_npy_load(temp_path("missing.npy"), &a), KILN_ERR_IO,
              "No such file or directory");
  CHECK_ERROR(kiln_npy_load(temp_dir, &a), KILN_ERR_IO,
              "not a regular file (a directory)");
  char nowhere[128];
  snprintf(nowhere, sizeof nowhere, "%s/no/such/dir/x.npy", temp_dir);
  CHECK_ERROR(kiln_npy_save(nowhere, &valid), KILN_ERR_IO,
              "No such file or directory");

  /* Arrays that do not describe themselves consistently are not saved. */
  kiln_array wrong = valid;
  wrong.nbytes = 20;
  CHECK_ERROR(kiln_npy_save(path, &wrong), KILN_ERR_INVALID_ARGUMENT,
              "nbytes is 20, but shape (2, 3) of float32 needs 24");
  wrong = valid;
  wrong.dims[1] = -3;
  CHECK_ERROR(kiln_npy_save(path, &wrong), KILN_ERR_INVALID_ARGUMENT,
              "negative");
  wrong = valid;
  wrong.dtype = KILN_DTYPE_INVALID;
  CHECK_ERROR(kiln_npy_save(path, &wrong), KILN_ERR_INVALID_ARGUMENT,
              "invalid dtype");
  wrong = valid;
  wrong.rank = 9;
  CHECK_ERROR(kiln_npy_save(path, &wrong), KILN_ERR_INVALID_ARGUMENT, "rank 9");
  wrong = valid;
  wrong.data = NULL;
  CHECK_ERROR(kiln_npy_save(path, &wrong), KILN_ERR_INVALID_ARGUMENT, "NULL");
  CHECK_ERROR(kiln_npy_load(NULL, &a), KILN_ERR_INVALID_ARGUMENT, "NULL");
}

/* Only regular files are read: a pipe, a FIFO or a device like /dev/zero
 * (which never ends) is refused at once, naming what it is, and opening a
 * FIFO with no writer does not block. */
static void test_not_regular_files(void) {
  int fds[2];
  if (pipe(fds) != 0) return;
  unsigned char image[128];
  size_t size =
      make_npy(image, sizeof image, 1,
               "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }\n",
               six_floats, sizeof six_floats);
  CHECK(write(fds[1], image, size) == (ssize_t)size);
  close(fds[1]);
  char path[64];
  snprintf(path, sizeof path, "/dev/fd/%d", fds[0]);
  kiln_array a;
  if (access(path, R_OK) == 0)
    CHECK_ERROR(kiln_npy_load(path, &a), KILN_ERR_IO,
                "not a regular file (a FIFO)");
  close(fds[0]);
  if (access("/dev/zero", R_OK) == 0)
    CHECK_ERROR(kiln_npy_load("/dev/zero", &a), KILN_ERR_IO,
                "not a regular file (a character device)");
  char fifo[300];
  snprintf(fifo, sizeof fifo, "%s/fifo", temp_dir);
  if (mkfifo(fifo, 0600) == 0) {
    CHECK_ERROR(kiln_npy_load(fifo, &a), KILN_ERR_IO,
                "not a regular file (a FIFO)");
    remove(fifo);
  }
  CHECK_ERROR(kiln_npy_load(temp_dir, &a), KILN_ERR_IO,
              "not a regular file (a directory)");
}

int main(void) {
  strcpy(temp_dir, "/tmp/kiln-npy-XXXXXX");
  if (!mkdtemp(temp_dir)) {
    perror("mkdtemp");
    return 1;
  }
  test_round_trips();
  test_exact_header();
  test_handmade_headers();
  test_bad_headers();
  test_bad_files();
  test_not_regular_files();
  for (int i = 0; i < num_created; i++) {
    remove(created[i]);
    free(created[i]);
  }
  CHECK(rmdir(temp_dir) == 0);
  return kiln_test_finish("test_npy");
}
