/* test_hashtable.c - STRING tensors and TFLite's static hash tables
 * (HASHTABLE, HASHTABLE_IMPORT, HASHTABLE_FIND, HASHTABLE_SIZE) on models
 * built in C: random tables of both kinds (int64 -> string and string ->
 * int64, with repeated keys) against a linear scan that keeps the first
 * value of a key; the import in a CALL_ONCE initializer and the lookup in
 * the main graph; string inputs copied at set_input; and bad input, which
 * must be a clear error: malformed packed STRING constants, lookups before
 * the import, imports of non-constants, option types LiteRT does not take
 * and STRING tensors given to other operators. Also .npy '|S<n>' arrays,
 * read and written as STRING. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "formats/npy/npy.h"
#include "formats/tflite/tflite_schema.h"
#include "harness.h"
#include "tflite_builder.c"

enum {
  OPC_HASHTABLE,
  OPC_IMPORT,
  OPC_FIND,
  OPC_SIZE,
  OPC_CALL_ONCE,
  OPC_ADD,
  OPC_RESHAPE
};
enum { MAX_KEYS = 64, MAX_QUERIES = 48, MAX_TEXT = 12 };

static tb_model main_graph, init_graph;

/* ------------------------------------------------------------ strings */

/* TFLite's packed layout: int32 count, count + 1 offsets, the bytes. */
static uint8_t *pack(char (*texts)[MAX_TEXT + 1], int count, size_t *size) {
  size_t bytes = 0;
  for (int i = 0; i < count; i++) bytes += strlen(texts[i]);
  size_t header = 4 * ((size_t)count + 2);
  uint8_t *out = malloc(header + bytes + 1);
  int32_t value = count;
  memcpy(out, &value, 4);
  size_t at = header;
  for (int i = 0; i <= count; i++) {
    value = (int32_t)at;
    memcpy(out + 4 + 4 * (size_t)i, &value, 4);
    if (i < count) {
      memcpy(out + at, texts[i], strlen(texts[i]));
      at += strlen(texts[i]);
    }
  }
  *size = at;
  return out;
}

/* A short random word over a small alphabet, so that words repeat. */
static void random_word(char *text) {
  int length = kiln_test_int(0, 4);
  for (int i = 0; i < length; i++) text[i] = (char)('a' + kiln_test_int(0, 2));
  text[length] = '\0';
}

static bool same_text(kiln_string s, const char *text) {
  return s.size == strlen(text) &&
         (s.size == 0 || !memcmp(s.data, text, s.size));
}

/* -------------------------------------------------------------- models */

static void opcodes(tb_model *m) {
  static const int32_t codes[] = {
      TFL_OP_HASHTABLE,      TFL_OP_HASHTABLE_IMPORT, TFL_OP_HASHTABLE_FIND,
      TFL_OP_HASHTABLE_SIZE, TFL_OP_CALL_ONCE,        TFL_OP_ADD,
      TFL_OP_RESHAPE};
  m->num_opcodes = (int)(sizeof codes / sizeof codes[0]);
  for (int i = 0; i < m->num_opcodes; i++)
    m->opcodes[i] =
        (tb_opcode){codes[i], (int8_t)(codes[i] < 127 ? codes[i] : 127), NULL};
}

static void tensor(tb_model *m, int id, const char *name, int8_t type, int n,
                   uint32_t buffer) {
  tb_tensor *t = &m->tensors[id];
  memset(t, 0, sizeof *t);
  t->name = name;
  t->type = type;
  t->rank = n >= 0 ? 1 : 0;
  t->shape[0] = n;
  t->buffer = buffer;
  if (id >= m->num_tensors) m->num_tensors = id + 1;
}

static tb_operator *op(tb_model *m, uint32_t code, int num_inputs,
                       const int32_t *inputs, int num_outputs,
                       const int32_t *outputs) {
  tb_operator *o = &m->operators[m->num_operators++];
  memset(o, 0, sizeof *o);
  o->opcode_index = code;
  o->num_inputs = num_inputs;
  if (num_inputs)
    memcpy(o->inputs, inputs, sizeof(int32_t) * (size_t)num_inputs);
  o->num_outputs = num_outputs;
  if (num_outputs)
    memcpy(o->outputs, outputs, sizeof(int32_t) * (size_t)num_outputs);
  return o;
}

static void hashtable_op(tb_model *m, int32_t handle, int32_t id,
                         int8_t key_type, int8_t value_type) {
  tb_operator *o = op(m, OPC_HASHTABLE, 0, NULL, 1, &handle);
  o->options_type = TFL_OPT_HASHTABLE;
  o->num_options = 3;
  o->options[0] =
      (tb_field){.slot = TFL_HASHTABLE_TABLE_ID, .kind = 'i', .i = id};
  o->options[1] =
      (tb_field){.slot = TFL_HASHTABLE_KEY_DTYPE, .kind = 'b', .i = key_type};
  o->options[2] = (tb_field){
      .slot = TFL_HASHTABLE_VALUE_DTYPE, .kind = 'b', .i = value_type};
}

/* The table's data, drawn per test. */
static int num_keys, num_queries;
static int64_t int_keys[MAX_KEYS], int_values[MAX_KEYS];
static char text_keys[MAX_KEYS][MAX_TEXT + 1],
    text_values[MAX_KEYS][MAX_TEXT + 1];
static int64_t int_queries[MAX_QUERIES];
static char text_queries[MAX_QUERIES][MAX_TEXT + 1];
static uint8_t *packed_keys, *packed_values, *packed_default;
static size_t packed_keys_size, packed_values_size, packed_default_size;
static int64_t int_default;
static char text_default[MAX_TEXT + 1] = "?";

static void draw_table(void) {
  num_keys = kiln_test_int(1, MAX_KEYS);
  num_queries = kiln_test_int(1, MAX_QUERIES);
  for (int i = 0; i < num_keys; i++) {
    int_keys[i] = kiln_test_int(-20, 20) * 1000003LL; /* repeats happen */
    int_values[i] = (int64_t)kiln_test_rand() << 20 | kiln_test_rand();
    random_word(text_keys[i]);
    random_word(text_values[i]);
  }
  for (int i = 0; i < num_queries; i++) {
    int_queries[i] = kiln_test_int(-25, 25) * 1000003LL;
    random_word(text_queries[i]);
  }
  int_default = -kiln_test_int(1, 1000);
}

/* Tensors: 0 handle, 1 keys, 2 values, 3 queries (input), 4 default,
 * 5 found (output), 6 size (output). With `init`, the HASHTABLE and the
 * import are in a CALL_ONCE initializer (subgraph 1) and the main graph
 * has its own HASHTABLE of the same id. `string_keys`: string -> int64. */
static void table_model(bool string_keys, bool init) {
  memset(&main_graph, 0, sizeof main_graph);
  memset(&init_graph, 0, sizeof init_graph);
  opcodes(&main_graph);
  int8_t key_type = string_keys ? TFL_TYPE_STRING : TFL_TYPE_INT64;
  int8_t value_type = string_keys ? TFL_TYPE_INT64 : TFL_TYPE_STRING;
  tb_model *m = &main_graph;
  main_graph.num_buffers = 4;
  free(packed_keys);
  free(packed_values);
  free(packed_default);
  packed_keys = pack(text_keys, num_keys, &packed_keys_size);
  packed_values = pack(text_values, num_keys, &packed_values_size);
  packed_default = pack(&text_default, 1, &packed_default_size);
  main_graph.buffers[1] =
      string_keys ? (tb_buffer){.data = packed_keys, .size = packed_keys_size}
                  : (tb_buffer){.data = int_keys, .size = 8 * (size_t)num_keys};
  main_graph.buffers[2] =
      string_keys
          ? (tb_buffer){.data = int_values, .size = 8 * (size_t)num_keys}
          : (tb_buffer){.data = packed_values, .size = packed_values_size};
  main_graph.buffers[3] =
      string_keys
          ? (tb_buffer){.data = &int_default, .size = 8}
          : (tb_buffer){.data = packed_default, .size = packed_default_size};
  tb_model *importer = init ? &init_graph : &main_graph;
  tensor(importer, 0, "handle", TFL_TYPE_RESOURCE, -1, 0);
  tensor(importer, 1, "keys", key_type, num_keys, 1);
  tensor(importer, 2, "values", value_type, num_keys, 2);
  hashtable_op(importer, 0, 7, key_type, value_type);
  op(importer, OPC_IMPORT, 3, (int32_t[]){0, 1, 2}, 0, NULL);
  if (init) {
    main_graph.num_subgraphs = 1;
    main_graph.subgraphs[0] = &init_graph;
    tb_operator *o = op(m, OPC_CALL_ONCE, 0, NULL, 0, NULL);
    o->options_type = TFL_OPT_CALL_ONCE;
    o->num_options = 1;
    o->options[0] =
        (tb_field){.slot = TFL_CALL_ONCE_INIT_SUBGRAPH, .kind = 'i', .i = 1};
    tensor(m, 0, "handle", TFL_TYPE_RESOURCE, -1, 0);
    hashtable_op(m, 0, 7, key_type, value_type);
  }
  tensor(m, 3, "queries", key_type, num_queries, 0);
  tensor(m, 4, "default", value_type, -1, 3);
  tensor(m, 5, "found", value_type, num_queries, 0);
  tensor(m, 6, "size", TFL_TYPE_INT64, 1, 0);
  op(m, OPC_FIND, 3, (int32_t[]){0, 3, 4}, 1, (int32_t[]){5});
  op(m, OPC_SIZE, 1, (int32_t[]){0}, 1, (int32_t[]){6});
  m->num_inputs = 1;
  m->inputs[0] = 3;
  m->num_outputs = 2;
  m->outputs[0] = 5;
  m->outputs[1] = 6;
}

static kiln_status *load(kiln_model **out) {
  size_t size;
  uint8_t *bytes = tb_build(&main_graph, &size);
  *out = NULL;
  kiln_status *st =
      kiln_model_load_buffer(bytes, size, "table.tflite", NULL, out);
  free(bytes);
  return st;
}

/* ---------------------------------------------- independent expectation */

/* The first position of a key, by linear scan (LiteRT keeps the first). */
static int first_int(int64_t key) {
  for (int i = 0; i < num_keys; i++)
    if (int_keys[i] == key) return i;
  return -1;
}

static int first_text(const char *key) {
  for (int i = 0; i < num_keys; i++)
    if (!strcmp(text_keys[i], key)) return i;
  return -1;
}

static int64_t distinct_keys(bool string_keys) {
  int64_t n = 0;
  for (int i = 0; i < num_keys; i++)
    n += string_keys ? first_text(text_keys[i]) == i
                     : first_int(int_keys[i]) == i;
  return n;
}

static void set_queries(kiln_session *s, bool string_keys) {
  int64_t dims[1] = {num_queries};
  if (!string_keys) {
    CHECK_OK(kiln_session_set_input(s, 0, KILN_INT64, dims, 1, int_queries,
                                    sizeof(int64_t) * (size_t)num_queries));
    return;
  }
  /* The session copies the bytes: the caller's buffer is scribbled over
   * before the invoke. */
  char scratch[MAX_QUERIES][MAX_TEXT + 1];
  kiln_string views[MAX_QUERIES];
  for (int i = 0; i < num_queries; i++) {
    memcpy(scratch[i], text_queries[i], sizeof scratch[i]);
    views[i] = (kiln_string){scratch[i], strlen(scratch[i])};
  }
  CHECK_OK(kiln_session_set_input(s, 0, KILN_STRING, dims, 1, views,
                                  sizeof(kiln_string) * (size_t)num_queries));
  memset(scratch, 'x', sizeof scratch);
}

static void check_outputs(kiln_session *s, bool string_keys) {
  const void *data;
  size_t nbytes;
  CHECK_OK(kiln_session_output_buffer(s, 0, &data, &nbytes));
  CHECK(nbytes ==
        (size_t)num_queries * (string_keys ? 8 : sizeof(kiln_string)));
  int wrong = 0;
  for (int i = 0; i < num_queries; i++) {
    if (string_keys) {
      int at = first_text(text_queries[i]);
      int64_t want = at >= 0 ? int_values[at] : int_default;
      wrong += ((const int64_t *)data)[i] != want;
    } else {
      int at = first_int(int_queries[i]);
      const char *want = at >= 0 ? text_values[at] : text_default;
      wrong += !same_text(((const kiln_string *)data)[i], want);
    }
  }
  CHECK(wrong == 0);
  int64_t size = -1;
  CHECK_OK(kiln_session_get_output(s, 1, &size, sizeof size));
  CHECK(size == distinct_keys(string_keys));
}

static void test_random_tables(bool string_keys, bool init) {
  for (int round = 0; round < 20; round++) {
    draw_table();
    table_model(string_keys, init);
    kiln_model *model = NULL;
    kiln_session *s = NULL;
    CHECK_OK(load(&model));
    if (model) CHECK_OK(kiln_session_create(model, NULL, &s));
    if (!s) {
      kiln_model_free(model);
      return;
    }
    for (int invoke = 0; invoke < 2; invoke++) { /* the import runs once */
      set_queries(s, string_keys);
      CHECK_OK(kiln_session_invoke(s));
      check_outputs(s, string_keys);
      for (int i = 0; i < num_queries; i++) { /* new queries, same table */
        int_queries[i] = kiln_test_int(-25, 25) * 1000003LL;
        random_word(text_queries[i]);
      }
    }
    kiln_session_free(s);
    kiln_model_free(model);
  }
}

/* ------------------------------------------------------------ bad input */

static void expect_load_error(kiln_status_code code, const char *needle) {
  kiln_model *model = NULL;
  CHECK_ERROR(load(&model), code, needle);
  CHECK(model == NULL);
}

/* Packed STRING constants that lie: each must fail the load, naming the
 * tensor, and never let a view reach outside the buffer. */
static void test_malformed_strings(void) {
  num_keys = 3;
  num_queries = 2;
  memcpy(text_keys, (char[3][MAX_TEXT + 1]){"ab", "c", ""}, 3 * (MAX_TEXT + 1));
  memcpy(text_values, text_keys, sizeof text_values);
  table_model(true, false);
  int32_t *words = (int32_t *)packed_keys; /* count, offsets 0..3 */
  const char *where = "input 1 is tensor 1 ('keys')";

  words[2] = words[1] - 1; /* offset 1 before offset 0 */
  expect_load_error(KILN_ERR_INVALID_MODEL, where);
  expect_load_error(KILN_ERR_INVALID_MODEL, "offsets must not decrease");
  words[2] = words[1] + 2;

  words[4] = (int32_t)packed_keys_size + 1; /* past the end */
  expect_load_error(KILN_ERR_INVALID_MODEL, "past the end");
  words[4] = (int32_t)packed_keys_size;

  words[1] = 4; /* offset 0 inside the offsets table */
  expect_load_error(KILN_ERR_INVALID_MODEL, "offset 0 is 4");
  words[1] = 20;

  words[0] = 4; /* count disagrees with the shape */
  expect_load_error(KILN_ERR_INVALID_MODEL,
                    "holds 4 strings but the shape has 3");
  words[0] = 1 << 30; /* huge count */
  expect_load_error(KILN_ERR_INVALID_MODEL, where);
  words[0] = -1;
  expect_load_error(KILN_ERR_INVALID_MODEL, "holds -1 strings");
  words[0] = 3;

  main_graph.buffers[1].size = 16; /* too short for the offsets */
  expect_load_error(KILN_ERR_INVALID_MODEL, "too few for 3 strings' offsets");
  main_graph.buffers[1].size = 2;
  expect_load_error(KILN_ERR_INVALID_MODEL, "cannot hold the 3 strings");
  main_graph.tensors[1].shape[0] = 1000; /* more strings than 4-byte slots */
  main_graph.buffers[1].size = packed_keys_size;
  main_graph.tensors[2].shape[0] = 1000;
  expect_load_error(KILN_ERR_INVALID_MODEL, "cannot hold the 1000 strings");

  /* Intact again, it loads and runs. */
  table_model(true, false);
  kiln_model *model = NULL;
  CHECK_OK(load(&model));
  kiln_model_free(model);
}

static void expect_session_error(kiln_status_code code, const char *needle) {
  kiln_model *model = NULL;
  kiln_session *s = NULL;
  CHECK_OK(load(&model));
  if (!model) return;
  kiln_status *st = kiln_session_create(model, NULL, &s);
  if (!st && s) {
    set_queries(s, false);
    st = kiln_session_invoke(s);
  }
  CHECK_ERROR(st, code, needle);
  kiln_session_free(s);
  kiln_model_free(model);
}

static void test_bad_tables(void) {
  draw_table();
  /* Looked up before anything imported: the import comes after the find. */
  table_model(false, false);
  tb_operator import = main_graph.operators[1];
  main_graph.operators[1] = main_graph.operators[2];
  main_graph.operators[2] = import;
  expect_session_error(
      KILN_ERR_RUNTIME,
      "table 7 is looked up before HASHTABLE_IMPORT filled it");

  /* Keys that are not constants: the import's table cannot be built at
   * prepare. */
  num_queries = num_keys;
  table_model(false, false);
  main_graph.tensors[1].type = TFL_TYPE_INT64;
  main_graph.tensors[3].type = TFL_TYPE_INT64;
  main_graph.operators[1].inputs[1] = 3;
  main_graph.tensors[3].shape[0] = num_keys;
  main_graph.tensors[2].shape[0] = num_keys;
  main_graph.tensors[5].shape[0] = num_keys;
  expect_session_error(KILN_ERR_UNSUPPORTED,
                       "input 1 (keys) must be a constant");

  /* Types LiteRT's tables do not take. */
  table_model(false, false);
  main_graph.operators[0].options[2].i = TFL_TYPE_FLOAT32;
  expect_load_error(KILN_ERR_UNSUPPORTED, "key_dtype 4 and value_dtype 0");

  /* The find's types against the table's. */
  table_model(false, false);
  main_graph.operators[0].options[1].i = TFL_TYPE_STRING;
  main_graph.operators[0].options[2].i = TFL_TYPE_INT64;
  expect_session_error(KILN_ERR_INVALID_MODEL, "table 7's keys are string");

  /* An empty default. */
  table_model(false, false);
  main_graph.tensors[4].rank = 1;
  main_graph.tensors[4].shape[0] = 0;
  static const int32_t no_strings[2] = {0, 8}; /* count 0, offset 0 */
  main_graph.buffers[3] = (tb_buffer){.data = no_strings, .size = 8};
  expect_session_error(KILN_ERR_INVALID_MODEL,
                       "input 2 (default value) is empty");

  /* STRING given to an operator that would compare views' bytes. */
  table_model(false, false);
  tensor(&main_graph, 8, "sum", TFL_TYPE_STRING, num_queries, 0);
  op(&main_graph, OPC_ADD, 2, (int32_t[]){5, 5}, 1, (int32_t[]){8});
  expect_load_error(
      KILN_ERR_UNSUPPORTED,
      "tensor 5 ('found') is a STRING, which kiln's ADD does not take");
}

/* Inputs: string views with NULL bytes are refused, and a STRING input
 * cannot be borrowed to fill in place. */
static void test_string_inputs(void) {
  draw_table();
  table_model(true, false);
  kiln_model *model = NULL;
  kiln_session *s = NULL;
  CHECK_OK(load(&model));
  if (model) CHECK_OK(kiln_session_create(model, NULL, &s));
  if (s) {
    int64_t dims[1] = {num_queries};
    kiln_string views[MAX_QUERIES];
    memset(views, 0, sizeof views);
    views[0].size = 3;
    CHECK_ERROR(
        kiln_session_set_input(s, 0, KILN_STRING, dims, 1, views,
                               sizeof(kiln_string) * (size_t)num_queries),
        KILN_ERR_INVALID_ARGUMENT, "string 0 has 3 bytes at NULL");
    void *data;
    size_t nbytes;
    CHECK_ERROR(kiln_session_input_buffer(s, 0, &data, &nbytes),
                KILN_ERR_FAILED_PRECONDITION, "is a STRING");
    kiln_tensor_info info;
    CHECK_OK(kiln_session_input_info(s, 0, &info));
    CHECK(info.dtype == KILN_STRING);
    CHECK(!strcmp(kiln_dtype_name(KILN_STRING), "string"));
  }
  kiln_session_free(s);
  kiln_model_free(model);
}

/* A hand-made '|S3' file: NUL padding is not part of a string. */
static void test_npy_parse_strings(void) {
  static const char header[] =
      "{'descr': '|S3', 'fortran_order': False, "
      "'shape': (2, 2), }";
  char file[256];
  size_t header_length = 128 - 10;
  memcpy(file, "\x93NUMPY\x01\x00", 8);
  file[8] = (char)header_length;
  file[9] = 0;
  memset(file + 10, ' ', header_length);
  memcpy(file + 10, header, strlen(header));
  file[10 + header_length - 1] = '\n';
  memcpy(file + 128, "ab\0xyzq\0\0\0\0\0", 12);
  kiln_array a;
  CHECK_OK(kiln_npy_parse(file, 140, "s.npy", &a));
  CHECK(a.dtype == KILN_STRING && a.rank == 2 && a.dims[1] == 2);
  CHECK(a.nbytes == 4 * sizeof(kiln_string));
  if (a.data) {
    const kiln_string *v = a.data;
    CHECK(same_text(v[0], "ab") && same_text(v[1], "xyz"));
    CHECK(same_text(v[2], "q") && same_text(v[3], ""));
  }
  kiln_array_free(&a);
  /* One byte short of the data. */
  CHECK_ERROR(kiln_npy_parse(file, 139, "s.npy", &a), KILN_ERR_INVALID_ARGUMENT,
              "truncated");
  /* Widths kiln does not read. */
  memcpy(file + 10 + 12, "S0", 2);
  CHECK_ERROR(kiln_npy_parse(file, 140, "s.npy", &a), KILN_ERR_UNSUPPORTED,
              "dtype '|S0'");
  memcpy(file + 10 + 12, "Sx", 2);
  CHECK_ERROR(kiln_npy_parse(file, 140, "s.npy", &a), KILN_ERR_UNSUPPORTED,
              "dtype '|Sx'");
}

/* Random strings written and read back. */
static void test_npy_round_trip(void) {
  char path[] = "/tmp/kiln-strings-XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  if (fd < 0) return;
  close(fd);
  for (int round = 0; round < 10; round++) {
    char texts[MAX_QUERIES][MAX_TEXT + 1];
    kiln_string views[MAX_QUERIES];
    int count = kiln_test_int(0, MAX_QUERIES);
    for (int i = 0; i < count; i++) {
      random_word(texts[i]);
      views[i] = (kiln_string){texts[i], strlen(texts[i])};
    }
    kiln_array out = {
        KILN_STRING, 1, {count}, views, sizeof(kiln_string) * (size_t)count};
    CHECK_OK(kiln_npy_save(path, &out));
    kiln_array in;
    CHECK_OK(kiln_npy_load(path, &in));
    CHECK(in.dtype == KILN_STRING && in.rank == 1 && in.dims[0] == count);
    int wrong = 0;
    for (int i = 0; in.data && i < count; i++)
      wrong += !same_text(((const kiln_string *)in.data)[i], texts[i]);
    CHECK(wrong == 0);
    kiln_array_free(&in);
  }
  kiln_string bad = {NULL, 2};
  kiln_array out = {KILN_STRING, 1, {1}, &bad, sizeof bad};
  CHECK_ERROR(kiln_npy_save(path, &out), KILN_ERR_INVALID_ARGUMENT,
              "string 0 has 2 bytes at NULL");
  remove(path);
}

/* RESHAPE moves STRING elements as they are: a [2, 3] input of random
 * words comes out as [6], the same words in the same order. */
static void test_reshape_strings(void) {
  memset(&main_graph, 0, sizeof main_graph);
  opcodes(&main_graph);
  static const int32_t six[1] = {6};
  tensor(&main_graph, 0, "text", TFL_TYPE_STRING, 2, 0);
  main_graph.tensors[0].rank = 2;
  main_graph.tensors[0].shape[1] = 3;
  tensor(&main_graph, 1, "shape", TFL_TYPE_INT32, 1, 1);
  tensor(&main_graph, 2, "flat", TFL_TYPE_STRING, 6, 0);
  main_graph.num_buffers = 2;
  main_graph.buffers[1] = (tb_buffer){.data = six, .size = sizeof six};
  op(&main_graph, OPC_RESHAPE, 2, (int32_t[]){0, 1}, 1, (int32_t[]){2});
  main_graph.num_inputs = 1;
  main_graph.num_outputs = 1;
  main_graph.outputs[0] = 2;
  kiln_model *model = NULL;
  kiln_session *s = NULL;
  CHECK_OK(load(&model));
  if (model) CHECK_OK(kiln_session_create(model, NULL, &s));
  if (s) {
    char texts[6][MAX_TEXT + 1];
    kiln_string views[6], got[6];
    for (int i = 0; i < 6; i++) {
      random_word(texts[i]);
      views[i] = (kiln_string){texts[i], strlen(texts[i])};
    }
    CHECK_OK(kiln_session_set_input(s, 0, KILN_STRING, (int64_t[]){2, 3}, 2,
                                    views, sizeof views));
    CHECK_OK(kiln_session_invoke(s));
    CHECK_OK(kiln_session_get_output(s, 0, got, sizeof got));
    for (int i = 0; i < 6; i++) CHECK(same_text(got[i], texts[i]));
  }
  kiln_session_free(s);
  kiln_model_free(model);
}

int main(void) {
  kiln_test_seed(4242);
  test_random_tables(false, false);
  test_random_tables(true, false);
  test_random_tables(false, true);
  test_random_tables(true, true);
  test_malformed_strings();
  test_bad_tables();
  test_string_inputs();
  test_reshape_strings();
  test_npy_parse_strings();
  test_npy_round_trip();
  free(packed_keys);
  free(packed_values);
  free(packed_default);
  return kiln_test_finish("test_hashtable");
}
