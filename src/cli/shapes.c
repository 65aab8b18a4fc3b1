/* shapes.c - the options every model-running subcommand shares beyond the
 * model path: --shape NAME=D0,D1,... (real sizes for an input's dynamic
 * dimensions), --max-memory BYTES (the session's activation memory limit),
 * and printing names from a model file safely on a terminal. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Splits "NAME=1,224,224,3" (or "1,224,224,3" for a model of one input)
 * into the name (empty when absent) and the dims; the name is not looked
 * up here because the model is not loaded yet. */
static int parse_dims(const char *text, int64_t *dims, int *rank) {
  *rank = 0;
  const char *p = text;
  for (;;) {
    char *end;
    errno = 0;
    long long value = strtoll(p, &end, 10);
    if (errno || end == p || value < 0 || value > ((int64_t)1 << 40)) return -1;
    if (*rank == KILN_MAX_RANK) return -1;
    dims[(*rank)++] = value;
    if (*end == '\0') return 0;
    if (*end != ',') return -1;
    p = end + 1;
  }
}

int cli_parse_shape(const char *command, const char *spec, cli_shape *out) {
  memset(out, 0, sizeof *out);
  const char *equals = strrchr(spec, '=');
  const char *dims = equals ? equals + 1 : spec;
  if (equals) {
    size_t len = (size_t)(equals - spec);
    if (len >= sizeof out->name)
      return cli_usage_error(command, "--shape: the input name is too long");
    memcpy(out->name, spec, len);
    out->name[len] = '\0';
  }
  if (parse_dims(dims, out->dims, &out->rank))
    return cli_usage_error(command,
                           "--shape takes NAME=D0,D1,... (sizes 0..2^40, at "
                           "most %d of them), got '%s'",
                           KILN_MAX_RANK, spec);
  return 0;
}

int cli_parse_bytes(const char *command, const char *option, const char *text,
                    size_t *out) {
  char *end;
  errno = 0;
  double value = strtod(text, &end);
  double scale = 1.0;
  if (end != text && *end) {
    switch (*end) {
      case 'k':
      case 'K':
        scale = 1024.0;
        break;
      case 'm':
      case 'M':
        scale = 1024.0 * 1024.0;
        break;
      case 'g':
      case 'G':
        scale = 1024.0 * 1024.0 * 1024.0;
        break;
      default:
        scale = 0.0;
    }
    if (scale != 0.0) end++;
  }
  value *= scale;
  if (errno || end == text || *end || !(value >= 1.0) || value > 1e18)
    return cli_usage_error(command,
                           "%s takes a byte count such as 512M or 8G, got '%s'",
                           option, text);
  *out = (size_t)value;
  return 0;
}

int cli_apply_shapes(const char *command, kiln_model *model,
                     kiln_session *session, const cli_shape *shapes, int count,
                     int arrays_given) {
  int hint = count == 0 && !arrays_given;
  for (int k = 0; k < count; k++) {
    int index = 0;
    kiln_status *st = NULL;
    if (shapes[k].name[0])
      st = kiln_model_find_input(model, shapes[k].name, &index);
    else if (kiln_model_num_inputs(model) != 1)
      return cli_usage_error(command,
                             "the model has %d inputs; name the one to "
                             "shape: --shape NAME=D0,D1,...",
                             kiln_model_num_inputs(model));
    if (!st)
      st = kiln_session_resize_input(session, index, shapes[k].dims,
                                     shapes[k].rank);
    if (st) return cli_fail(st);
  }
  if (kiln_session_is_prepared(session)) return 0;
  kiln_status *st = kiln_session_prepare(session);
  if (!st) return 0;
  if (hint)
    /* The file's placeholder sizes did not prepare: say how to give real
     * ones, under kiln's reason. */
    fprintf(stderr,
            "kiln %s: the model's dynamic input dimensions need real sizes: "
            "give them with --shape NAME=D0,D1,...%s\n",
            command,
            strcmp(command, "run") ? "" : " or an --input of that shape");
  return cli_fail(st);
}

void cli_print_name(FILE *out, const char *name) {
  const unsigned char *p = (const unsigned char *)name;
  if (!*p) {
    fputs("\"\"", out);
    return;
  }
  while (*p) {
    /* Valid UTF-8 multi-byte sequences pass; anything else that is not
     * printable ASCII is written as \xHH, so a name from a file cannot
     * move the cursor or change the terminal's colors. */
    int extra = (*p & 0xE0) == 0xC0   ? 1
                : (*p & 0xF0) == 0xE0 ? 2
                : (*p & 0xF8) == 0xF0 ? 3
                                      : 0;
    int ok = extra > 0 && *p >= 0xC2 && *p <= 0xF4;
    for (int i = 1; ok && i <= extra; i++) ok = (p[i] & 0xC0) == 0x80;
    /* C1 control characters (U+0080..U+009F) are escapes too. */
    if (ok && *p == 0xC2 && p[1] < 0xA0) ok = 0;
    if (ok) {
      fwrite(p, 1, (size_t)extra + 1, out);
      p += extra + 1;
    } else if (*p >= 0x20 && *p < 0x7F && *p != '\\') {
      fputc(*p++, out);
    } else {
      fprintf(out, "\\x%02x", *p++);
    }
  }
}
