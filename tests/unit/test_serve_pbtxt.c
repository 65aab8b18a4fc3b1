/* test_serve_pbtxt.c - the protocol-buffer text format reader of the
 * server: TF Serving's model_config_list and BatchingParameters shapes,
 * lists, comments, both quote styles, escapes, wrapper messages, and an
 * error with line and column for each kind of bad input. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "serve/pbtxt.h"

static char err[512];

static pbtxt_node *parse(const char *text) {
  err[0] = '\0';
  pbtxt_node *root = pbtxt_parse(text, strlen(text), err, sizeof err);
  if (!root) fprintf(stderr, "  (parse error: %s)\n", err);
  return root;
}

/* Expects a parse error whose message contains `needle`. */
static void check_fails(const char *text, const char *needle, int line) {
  err[0] = '\0';
  pbtxt_node *root = pbtxt_parse(text, strlen(text), err, sizeof err);
  CHECK(root == NULL);
  pbtxt_free(root);
  if (!strstr(err, needle)) {
    fprintf(stderr, "%s:%d: error '%s' lacks '%s'\n", __FILE__, line, err,
            needle);
    kiln_test_failures++;
  }
  kiln_test_checks++;
}
#define CHECK_FAILS(text, needle) check_fails((text), (needle), __LINE__)

static int count_fields(const pbtxt_node *msg, const char *name) {
  int n = 0;
  for (const pbtxt_node *f = pbtxt_find(msg, name, NULL); f;
       f = pbtxt_find_next(f, name))
    n++;
  return n;
}

static const char *string_of(const pbtxt_node *msg, const char *name) {
  const pbtxt_node *f = pbtxt_find(msg, name, NULL);
  return f ? pbtxt_string(f, err, sizeof err) : NULL;
}

static int64_t int_of(const pbtxt_node *msg, const char *name) {
  const pbtxt_node *f = pbtxt_find(msg, name, NULL);
  int64_t v = -12345;
  if (!f || !pbtxt_int(f, &v, err, sizeof err)) return -12345;
  return v;
}

static void test_model_config_list(void) {
  const char *text =
      "# TF Serving's models file\n"
      "model_config_list {\n"
      "  config {\n"
      "    name: 'mnist'   # single quotes\n"
      "    base_path: \"/models/mnist\"\n"
      "    model_platform: \"tensorflow\"\n"
      "    model_version_policy { specific { versions: 1 versions: 3 } }\n"
      "    version_labels { key: 'stable' value: 1 }\n"
      "    version_labels { key: 'canary' value: 3 }\n"
      "  }\n"
      "  config: {\n"
      "    name: \"resnet\"; base_path: \"/models/resnet\",\n"
      "    model_version_policy: { all: {} }\n"
      "  }\n"
      "}\n";
  pbtxt_node *root = parse(text);
  CHECK(root != NULL);
  if (!root) return;
  const pbtxt_node *list = pbtxt_find(root, "model_config_list", NULL);
  CHECK(list && !list->value && list->line == 2);
  CHECK(count_fields(list, "config") == 2);
  const pbtxt_node *first = pbtxt_find(list, "config", NULL);
  const pbtxt_node *second = pbtxt_find_next(first, "config");
  CHECK(first && second && first != second);
  CHECK(first->line == 3 && second->line == 11);
  const char *name = string_of(first, "name");
  CHECK(name && !strcmp(name, "mnist"));
  const char *base = string_of(first, "base_path");
  CHECK(base && !strcmp(base, "/models/mnist"));
  const pbtxt_node *policy = pbtxt_find(first, "model_version_policy", NULL);
  const pbtxt_node *specific =
      policy ? pbtxt_find(policy, "specific", NULL) : NULL;
  CHECK(specific && count_fields(specific, "versions") == 2);
  if (specific) {
    const pbtxt_node *v = pbtxt_find(specific, "versions", NULL);
    int64_t x = 0;
    CHECK(pbtxt_int(v, &x, err, sizeof err) && x == 1);
    v = pbtxt_find_next(v, "versions");
    CHECK(v && !pbtxt_find_next(v, "versions"));
    CHECK(pbtxt_int(v, &x, err, sizeof err) && x == 3);
  }
  CHECK(count_fields(first, "version_labels") == 2);
  const pbtxt_node *label = pbtxt_find(first, "version_labels", NULL);
  const pbtxt_node *canary = pbtxt_find_next(label, "version_labels");
  const char *key = string_of(canary, "key");
  CHECK(key && !strcmp(key, "canary") && int_of(canary, "value") == 3);
  const char *name2 = string_of(second, "name");
  CHECK(name2 && !strcmp(name2, "resnet"));
  const pbtxt_node *all = pbtxt_find(second, "model_version_policy", NULL);
  CHECK(all && pbtxt_find(all, "all", NULL) &&
        !pbtxt_find(all, "all", NULL)->children);
  /* The model file names no other top-level field. */
  CHECK(root->children && !root->children->next);
  pbtxt_free(root);
}

static void test_scalars_and_wrappers(void) {
  pbtxt_node *root = parse(
      "max_batch_size { value: 128 }\n"
      "batch_timeout_micros: 0x10\n"
      "negative: -7\n"
      "octal: 010\n"
      "flag: true\n"
      "flag2 { value: false }\n"
      "one: 1\n"
      "zero: 0\n"
      "word: SOME_ENUM\n"
      "real: 1.5\n"
      "text: 'x'\n"
      "big: 9223372036854775807\n"
      "too_big: 9223372036854775808\n"
      "empty_wrapper {}\n"
      "angle < value: 4 >\n");
  CHECK(root != NULL);
  if (!root) return;
  CHECK(int_of(root, "max_batch_size") == 128);
  CHECK(int_of(root, "batch_timeout_micros") == 16);
  CHECK(int_of(root, "negative") == -7);
  CHECK(int_of(root, "octal") == 8);
  CHECK(int_of(root, "big") == INT64_MAX);
  CHECK(int_of(root, "angle") == 4);
  bool b = false;
  CHECK(pbtxt_bool(pbtxt_find(root, "flag", NULL), &b, err, sizeof err) && b);
  CHECK(pbtxt_bool(pbtxt_find(root, "flag2", NULL), &b, err, sizeof err) && !b);
  CHECK(pbtxt_bool(pbtxt_find(root, "one", NULL), &b, err, sizeof err) && b);
  CHECK(pbtxt_bool(pbtxt_find(root, "zero", NULL), &b, err, sizeof err) && !b);
  /* Wrong kinds say which field and line. */
  int64_t x;
  CHECK(!pbtxt_int(pbtxt_find(root, "word", NULL), &x, err, sizeof err));
  CHECK(strstr(err, "line 9") && strstr(err, "'word' must be an integer"));
  CHECK(!pbtxt_int(pbtxt_find(root, "real", NULL), &x, err, sizeof err));
  CHECK(!pbtxt_int(pbtxt_find(root, "text", NULL), &x, err, sizeof err));
  CHECK(!pbtxt_int(pbtxt_find(root, "too_big", NULL), &x, err, sizeof err));
  CHECK(
      !pbtxt_int(pbtxt_find(root, "empty_wrapper", NULL), &x, err, sizeof err));
  CHECK(!pbtxt_bool(pbtxt_find(root, "word", NULL), &b, err, sizeof err));
  CHECK(strstr(err, "must be true or false"));
  CHECK(!pbtxt_bool(pbtxt_find(root, "text", NULL), &b, err, sizeof err));
  CHECK(pbtxt_string(pbtxt_find(root, "word", NULL), err, sizeof err) == NULL);
  CHECK(strstr(err, "'word' must be a quoted string"));
  CHECK(pbtxt_find(root, "absent", NULL) == NULL);
  pbtxt_free(root);
}

static void test_lists(void) {
  pbtxt_node *root = parse(
      "allowed_batch_sizes: [1, 2, 4,8]\n"
      "names: ['a', \"b\"]\n"
      "empty: []\n"
      "after: 5\n"
      "messages: [{ value: 1 }, { value: 2 }]\n");
  CHECK(root != NULL);
  if (!root) return;
  CHECK(count_fields(root, "allowed_batch_sizes") == 4);
  int64_t want[] = {1, 2, 4, 8}, i = 0;
  for (const pbtxt_node *f = pbtxt_find(root, "allowed_batch_sizes", NULL); f;
       f = pbtxt_find_next(f, "allowed_batch_sizes"), i++) {
    int64_t v = 0;
    CHECK(pbtxt_int(f, &v, err, sizeof err) && v == want[i]);
  }
  const pbtxt_node *a = pbtxt_find(root, "names", NULL);
  CHECK(a && a->is_string && !strcmp(a->value, "a"));
  const pbtxt_node *b = a ? pbtxt_find_next(a, "names") : NULL;
  CHECK(b && b->is_string && !strcmp(b->value, "b"));
  CHECK(count_fields(root, "empty") == 0);
  CHECK(int_of(root, "after") == 5);
  /* A list of messages is one field per element, as repeated blocks. */
  CHECK(count_fields(root, "messages") == 2);
  const pbtxt_node *m = pbtxt_find(root, "messages", NULL);
  CHECK(m && !m->value && int_of(m, "value") == 1);
  m = m ? pbtxt_find_next(m, "messages") : NULL;
  CHECK(m && int_of(m, "value") == 2);
  pbtxt_free(root);
  CHECK_FAILS("a: [1 2]", "expected ',' or ']'");
  CHECK_FAILS("a: [1,]", "unexpected ']'");
  CHECK_FAILS("a: [1, 2", "line 1, column 9: expected ',' or ']'");
  CHECK_FAILS("a: [1, ", "unexpected end of file");
  CHECK_FAILS("a [1]", "expected ':' or '{'");
}

static void test_strings_and_escapes(void) {
  pbtxt_node *root = parse(
      "a: \"tab\\there\\nnew \\\"q\\\" \\\\ \\'s\"\n"
      "b: 'it''s' \"joined\"\n"
      "c: \"\\x41\\102\\0103\"\n"
      "d: \"\\a\\b\\f\\v\\r\\?\"\n"
      "e: '#not a comment'\n"
      "f: \"\"\n");
  CHECK(root != NULL);
  if (!root) return;
  const char *a = string_of(root, "a");
  CHECK(a && !strcmp(a, "tab\there\nnew \"q\" \\ 's"));
  const char *b = string_of(root, "b");
  CHECK(b && !strcmp(b, "itsjoined"));
  const char *c = string_of(root, "c");
  CHECK(c && !strcmp(c, "AB\b3"));
  const char *d = string_of(root, "d");
  CHECK(d && !strcmp(d, "\a\b\f\v\r?"));
  const char *e = string_of(root, "e");
  CHECK(e && !strcmp(e, "#not a comment"));
  const char *f = string_of(root, "f");
  CHECK(f && !strcmp(f, ""));
  pbtxt_free(root);
  CHECK_FAILS("a: \"open\n\"", "line 1, column 9: string not closed");
  CHECK_FAILS("a: 'open", "string not closed");
  CHECK_FAILS("a: \"mixed'", "string not closed");
  CHECK_FAILS("a: \"ends in a backslash\\", "string not closed");
  CHECK_FAILS("a: \"\\x\"", "line 1, column 6: bad escape");
  CHECK_FAILS("a: \"\\q\"", "bad escape");
}

static void test_comments_and_space(void) {
  pbtxt_node *root = parse(
      "# leading\r\n"
      "\ta: 1 # trailing\r\n"
      "# between\n"
      "\f\vb {  # in a message\n"
      "  c: 2\n"
      "  # before the brace\n"
      "}\n"
      "# at the end, no newline");
  CHECK(root != NULL);
  if (!root) return;
  CHECK(int_of(root, "a") == 1);
  const pbtxt_node *b = pbtxt_find(root, "b", NULL);
  CHECK(b && b->line == 4 && int_of(b, "c") == 2);
  pbtxt_free(root);
  /* Empty and comment-only files are empty messages. */
  root = parse("");
  CHECK(root && !root->children);
  pbtxt_free(root);
  root = parse("  # nothing\n\n");
  CHECK(root && !root->children);
  pbtxt_free(root);
}

static void test_errors(void) {
  CHECK_FAILS("config {\n  name: 'a'\n", "line 3, column 1: '}' missing");
  CHECK_FAILS("config <\n  name: 'a'\n}", "unexpected '}'");
  CHECK_FAILS("a: 1\nb 2\n", "line 2, column 3: expected ':' or '{'");
  CHECK_FAILS("a:", "line 1, column 3: unexpected end of file");
  CHECK_FAILS("a: 1 }", "line 1, column 6: unexpected '}'");
  CHECK_FAILS("a: {", "'}' missing at end of file");
  CHECK_FAILS("a: @", "line 1, column 4: unexpected '@'");
  CHECK_FAILS("\n\n   $x: 1", "line 3, column 4: unexpected '$'");
  CHECK_FAILS("a: 'x' b", "expected ':' or '{' after field 'b'");
  CHECK_FAILS("{ a: 1 }", "line 1, column 1: unexpected '{'");
  /* Every prefix of a valid file parses or fails cleanly. */
  const char *good =
      "model_config_list { config { name: 'm' base_path: "
      "\"/p\" model_version_policy { latest { num_versions: "
      "2 } } } }";
  size_t len = strlen(good);
  int failures = 0;
  for (size_t n = 0; n < len; n++) {
    err[0] = '\0';
    pbtxt_node *root = pbtxt_parse(good, n, err, sizeof err);
    if (root) {
      pbtxt_free(root);
    } else if (strncmp(err, "line 1, column ", 15) != 0) {
      failures++;
    }
  }
  CHECK(failures == 0);
  pbtxt_node *root = pbtxt_parse(good, len, err, sizeof err);
  CHECK(root != NULL);
  pbtxt_free(root);
  /* A small error buffer is filled, not overrun. */
  char tiny[12];
  memset(tiny, 'x', sizeof tiny);
  CHECK(pbtxt_parse("a: {", 4, tiny, 8) == NULL);
  CHECK(strlen(tiny) == 7 && tiny[8] == 'x');
}

static void test_depth_limit(void) {
  /* 64 levels parse; 65 do not, and the error says so. */
  for (int depth = 63; depth <= 66; depth++) {
    char text[1024];
    size_t n = 0;
    for (int i = 0; i < depth; i++) n += (size_t)sprintf(text + n, "m{");
    n += (size_t)sprintf(text + n, "v:1");
    for (int i = 0; i < depth; i++) text[n++] = '}';
    err[0] = '\0';
    pbtxt_node *root = pbtxt_parse(text, n, err, sizeof err);
    if (depth <= 64) {
      CHECK(root != NULL);
      const pbtxt_node *m = root;
      for (int i = 0; m && i < depth; i++) m = pbtxt_find(m, "m", NULL);
      CHECK(m && int_of(m, "v") == 1);
    } else {
      CHECK(root == NULL && strstr(err, "nested deeper than 64"));
    }
    pbtxt_free(root);
  }
  /* A hostile file of a million open braces fails without recursing a
   * million deep. */
  size_t big = 1 << 20;
  char *text = malloc(big * 2);
  CHECK(text != NULL);
  if (!text) return;
  for (size_t i = 0; i < big; i++) {
    text[2 * i] = 'm';
    text[2 * i + 1] = '{';
  }
  pbtxt_node *root = pbtxt_parse(text, big * 2, err, sizeof err);
  CHECK(root == NULL && strstr(err, "nested deeper"));
  pbtxt_free(root);
  free(text);
}

static void test_files(void) {
  char path[] = "/tmp/kiln-test-pbtxt-XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  if (fd < 0) return;
  const char *text = "a: 1\nb {\n";
  CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
  close(fd);
  pbtxt_node *root = pbtxt_parse_file(path, err, sizeof err);
  CHECK(root == NULL);
  CHECK(!strncmp(err, path, strlen(path)) &&
        strstr(err, ": line 3, column 1: '}' missing"));
  unlink(path);
  root = pbtxt_parse_file(path, err, sizeof err);
  CHECK(root == NULL && strstr(err, "No such file"));
}

int main(void) {
  test_model_config_list();
  test_scalars_and_wrappers();
  test_lists();
  test_strings_and_escapes();
  test_comments_and_space();
  test_errors();
  test_depth_limit();
  test_files();
  return kiln_test_finish("test_serve_pbtxt");
}
