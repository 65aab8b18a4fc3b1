/* test_serve_path.c - serve_path_within, the check that keeps the
 * repository API's loads inside the server's model roots: plain children,
 * the root itself, '..' and symbolic links that leave it, a sibling whose
 * name only starts like the root, and paths that do not exist. */
#define _XOPEN_SOURCE 700
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "serve/repository.h"

static char top[64]; /* the mkdtemp folder: short, so joins fit */

/* top/rel into out. */
static const char *at(char *out, const char *rel) {
  snprintf(out, PATH_MAX, "%s/%s", top, rel);
  return out;
}

static void make_dir(const char *rel) {
  char p[PATH_MAX];
  CHECK(mkdir(at(p, rel), 0755) == 0);
}

static void make_link(const char *target_rel, const char *rel) {
  char t[PATH_MAX], p[PATH_MAX];
  CHECK(symlink(at(t, target_rel), at(p, rel)) == 0);
}

static bool within(const char *rel, const char *root_rel) {
  char p[PATH_MAX], r[PATH_MAX];
  return serve_path_within(at(p, rel), at(r, root_rel));
}

int main(void) {
  char tmpl[] = "/tmp/kiln_serve_path_XXXXXX";
  if (!mkdtemp(tmpl)) {
    fprintf(stderr, "mkdtemp failed\n");
    return 1;
  }
  snprintf(top, sizeof top, "%s", tmpl);
  make_dir("models");
  make_dir("models/a");
  make_dir("models/a/1");
  make_dir("models2"); /* shares the root's name as a prefix */
  make_dir("models2/x");
  make_dir("outside");
  make_link("outside", "models/escape");
  make_link("models/a", "models/inside_link");

  CHECK(within("models/a", "models"));
  CHECK(within("models/a/1", "models"));
  CHECK(within("models", "models"));
  CHECK(within("models/./a/../a", "models"));
  CHECK(within("models/inside_link", "models"));
  CHECK(!within("outside", "models"));
  CHECK(!within("models/../outside", "models"));
  CHECK(!within("models/a/../../outside", "models"));
  CHECK(!within("models/escape", "models"));
  CHECK(!within("models2/x", "models"));
  CHECK(!within("models2", "models"));
  CHECK(!within("models/missing", "models")); /* unresolvable: refused */
  CHECK(!within("models/a", "no_such_root"));
  /* A root given with a trailing slash, or as a link, is the same root. */
  char p[PATH_MAX], r[PATH_MAX];
  snprintf(r, sizeof r, "%s/models/", top);
  CHECK(serve_path_within(at(p, "models/a"), r));
  make_link("models", "models_link");
  CHECK(within("models/a", "models_link"));
  CHECK(!within("outside", "models_link"));
  CHECK(serve_path_within("/", "/"));
  CHECK(serve_path_within(at(p, "outside"), "/"));

  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", top);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", top);
  return kiln_test_finish("test_serve_path");
}
