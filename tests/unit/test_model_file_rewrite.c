/* test_model_file_rewrite.c - a model loaded from a file owns its bytes:
 * rewriting the file in place after the load (same size, other constants;
 * or truncated to nothing, as a cp over it or a partial write leaves it)
 * changes nothing a session made from the model computes, and does not
 * crash it (a mapped file faulted with SIGBUS on the truncated pages).
 * The truncated case runs in a child process, so that a crash is
 * reported as a failed check rather than ending the test. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "formats/tflite/tflite_schema.h"
#include "harness.h"
#include "tflite_builder.c"

enum { N = 256 }; /* elements of x and of the constant: 1 KiB each */

/* x [1,N] + constant c [1,N] -> y: the constant lives in the file. */
static uint8_t *add_model(const float *c, size_t *size) {
  tb_model m;
  memset(&m, 0, sizeof m);
  m.num_opcodes = 1;
  m.opcodes[0] = (tb_opcode){TFL_OP_ADD, TFL_OP_ADD, NULL};
  m.num_tensors = 3;
  const char *names[3] = {"x", "c", "y"};
  for (int t = 0; t < 3; t++) {
    m.tensors[t].name = names[t];
    m.tensors[t].type = TFL_TYPE_FLOAT32;
    m.tensors[t].rank = 2;
    m.tensors[t].shape[0] = 1;
    m.tensors[t].shape[1] = N;
  }
  m.tensors[1].buffer = 1;
  m.num_inputs = 1;
  m.inputs[0] = 0;
  m.num_outputs = 1;
  m.outputs[0] = 2;
  m.num_operators = 1;
  tb_operator *add = &m.operators[0];
  add->num_inputs = 2;
  add->inputs[0] = 0;
  add->inputs[1] = 1;
  add->num_outputs = 1;
  add->outputs[0] = 2;
  m.num_buffers = 2;
  m.buffers[1].data = c;
  m.buffers[1].size = N * sizeof *c;
  return tb_build(&m, size);
}

static void write_file(const char *path, const void *bytes, size_t size,
                       bool truncate) {
  /* In place: the same inode, as cp over an existing file writes it. */
  int fd = open(path, O_WRONLY | (truncate ? O_TRUNC : 0));
  CHECK(fd >= 0);
  if (fd < 0) return;
  CHECK(write(fd, bytes, size) == (ssize_t)size);
  close(fd);
}

/* Runs the session on x and checks y == x + c exactly. */
static int check_outputs(kiln_session *s, const float *x, const float *c) {
  int64_t dims[2] = {1, N};
  float y[N];
  int failures = kiln_test_failures;
  CHECK_OK(
      kiln_session_set_input(s, 0, KILN_FLOAT32, dims, 2, x, N * sizeof *x));
  CHECK_OK(kiln_session_invoke(s));
  CHECK_OK(kiln_session_get_output(s, 0, y, sizeof y));
  int wrong = 0;
  for (int i = 0; i < N; i++) wrong += y[i] != x[i] + c[i];
  CHECK(wrong == 0);
  return kiln_test_failures - failures;
}

static void test_rewritten_file_changes_nothing(void) {
  float c[N], other[N], x[N];
  kiln_test_fill(c, N, -4.0f, 4.0f);
  kiln_test_fill(other, N, 10.0f, 20.0f);
  kiln_test_fill(x, N, -1.0f, 1.0f);
  size_t size, other_size;
  uint8_t *bytes = add_model(c, &size);
  uint8_t *other_bytes = add_model(other, &other_size);
  CHECK(size == other_size);
  char path[] = "/tmp/kiln_rewrite_XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  if (fd < 0) return;
  close(fd);
  write_file(path, bytes, size, true);

  kiln_model *model = NULL;
  kiln_session *s = NULL;
  CHECK_OK(kiln_model_load_file(path, NULL, &model));
  if (model) CHECK_OK(kiln_session_create(model, NULL, &s));
  if (!s) {
    unlink(path);
    kiln_model_free(model);
    free(bytes);
    free(other_bytes);
    return;
  }
  check_outputs(s, x, c);

  /* Same size, other constants: the loaded model keeps its own, in the
   * session made before and in one made after the rewrite. */
  write_file(path, other_bytes, other_size, false);
  check_outputs(s, x, c);
  kiln_session *later = NULL;
  CHECK_OK(kiln_session_create(model, NULL, &later));
  if (later) check_outputs(later, x, c);
  kiln_session_free(later);

  /* Truncated to nothing, then half rewritten (a partial write). */
  fflush(stderr);
  pid_t child = fork();
  CHECK(child >= 0);
  if (child == 0) {
    write_file(path, NULL, 0, true);
    int failed = check_outputs(s, x, c);
    write_file(path, other_bytes, other_size / 2, true);
    failed += check_outputs(s, x, c);
    _exit(failed ? 1 : 0);
  }
  int status = 0;
  if (child > 0) CHECK(waitpid(child, &status, 0) == child);
  CHECK(WIFEXITED(status));
  if (WIFSIGNALED(status))
    fprintf(stderr, "the session died by signal %d after the truncation\n",
            WTERMSIG(status));
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

  kiln_session_free(s);
  kiln_model_free(model);
  unlink(path);
  free(bytes);
  free(other_bytes);
}

int main(void) {
  kiln_test_seed(20261207);
  test_rewritten_file_changes_nothing();
  return kiln_test_finish("test_model_file_rewrite");
}
