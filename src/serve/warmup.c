/* warmup.c - replays TF Serving's warm-up requests (warmup.h). Facts from
 * TF Serving's saved_model_warmup and TensorFlow's record format: a
 * TFRecord record is a little-endian uint64 length, the masked CRC-32C of
 * those 8 bytes, the data, and the masked CRC-32C of the data; the file
 * holds serialized PredictionLog messages whose field 6 is a PredictLog,
 * whose field 1 is the PredictRequest. TF Serving fails the model's load
 * when a warm-up record fails; so does kiln. */
#include "serve/warmup.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "formats/protobuf/pb_wire.h"
#include "formats/savedmodel/crc32c.h"
#include "serve/tfs_proto.h"

/* A warm-up file larger than this is refused rather than read. */
#define MAX_WARMUP_BYTES ((size_t)256 << 20)

static uint64_t le64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
  return v;
}

static uint32_t le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

serve_status *serve_tfrecord_each(const uint8_t *data, size_t size,
                                  serve_status *(*each)(void *context,
                                                        int index,
                                                        const uint8_t *record,
                                                        size_t len),
                                  void *context) {
  size_t pos = 0;
  for (int index = 0; pos < size; index++) {
    if (index >= SERVE_WARMUP_MAX_RECORDS)
      return serve_error(SERVE_INVALID_ARGUMENT,
                         "more than %d warm-up records (TF Serving's limit)",
                         SERVE_WARMUP_MAX_RECORDS);
    if (size - pos < 12)
      return serve_error(SERVE_INVALID_ARGUMENT,
                         "record %d at byte %zu: the file ends inside its "
                         "12-byte header",
                         index, pos);
    uint64_t len = le64(data + pos);
    if (kiln_crc32c_unmask(le32(data + pos + 8)) != kiln_crc32c(data + pos, 8))
      return serve_error(SERVE_INVALID_ARGUMENT,
                         "record %d at byte %zu: the length's checksum does "
                         "not match (not a TFRecord file, or damaged)",
                         index, pos);
    if (len > size - pos - 12 || size - pos - 12 - len < 4)
      return serve_error(SERVE_INVALID_ARGUMENT,
                         "record %d at byte %zu: its %llu bytes run past the "
                         "end of the file",
                         index, pos, (unsigned long long)len);
    const uint8_t *record = data + pos + 12;
    if (kiln_crc32c_unmask(le32(record + len)) != kiln_crc32c(record, len))
      return serve_error(SERVE_INVALID_ARGUMENT,
                         "record %d at byte %zu: the data's checksum does "
                         "not match",
                         index, pos);
    serve_status *st = each(context, index, record, (size_t)len);
    if (st) return st;
    pos += 12 + (size_t)len + 4;
  }
  return NULL;
}

typedef struct replay {
  const kiln_model *model;
  kiln_session *session;
  int count;
} replay;

/* Runs one decoded PredictRequest: every input resized to its shape, one
 * prepare, the data copied in, one invoke. */
static serve_status *run_request(replay *r, const serve_tfs_predict *p) {
  int index[64];
  if (p->num_inputs > 64)
    return serve_error(SERVE_INVALID_ARGUMENT, "more than 64 inputs");
  kiln_status *k = NULL;
  for (int i = 0; i < p->num_inputs && !k; i++) {
    k = kiln_model_find_input(r->model, p->input_names[i], &index[i]);
    if (k) {
      kiln_status_free(k);
      return serve_error(SERVE_INVALID_ARGUMENT,
                         "input '%s' is not an input of the model",
                         p->input_names[i]);
    }
    const serve_tensor *t = &p->inputs[i];
    k = kiln_session_resize_input(r->session, index[i], t->dims, t->rank);
  }
  if (!k) k = kiln_session_prepare(r->session);
  for (int i = 0; i < p->num_inputs && !k; i++) {
    const serve_tensor *t = &p->inputs[i];
    k = kiln_session_set_input(r->session, index[i], t->dtype, t->dims, t->rank,
                               t->data, t->nbytes);
  }
  if (!k) k = kiln_session_invoke(r->session);
  return serve_from_kiln(k);
}

serve_status *serve_warmup_decode(int index, const uint8_t *record, size_t len,
                                  serve_tfs_predict *out) {
  kiln_pb_reader log = kiln_pb_reader_make(record, len, "PredictionLog");
  kiln_pb_field f;
  bool more = true;
  const uint8_t *request = NULL;
  size_t request_len = 0;
  int other = 0;
  while (more) {
    kiln_status *k = kiln_pb_next(&log, &f, &more);
    if (k) return serve_from_kiln(k);
    if (!more) break;
    if (f.number == 6 && f.wire_type == KILN_PB_LEN) {
      kiln_pb_reader pl = kiln_pb_nested(&log, &f, "PredictLog");
      kiln_pb_field g;
      bool more_pl = true;
      while (more_pl) {
        k = kiln_pb_next(&pl, &g, &more_pl);
        if (k) return serve_from_kiln(k);
        if (more_pl && g.number == 1 && g.wire_type == KILN_PB_LEN) {
          request = g.bytes;
          request_len = g.len;
        }
      }
    } else if (f.number >= 2 && f.number <= 5) {
      other = (int)f.number;
    }
  }
  if (!request) {
    static const char *const kinds[] = {"",
                                        "",
                                        "classify_log",
                                        "regress_log",
                                        "multi_inference_log",
                                        "session_run_log"};
    return serve_error(SERVE_INVALID_ARGUMENT,
                       "record %d holds %s: kiln replays predict_log "
                       "requests only",
                       index, other ? kinds[other] : "no predict_log");
  }
  return serve_tfs_decode_predict(request, request_len, out);
}

static serve_status *replay_record(void *context, int index,
                                   const uint8_t *record, size_t len) {
  replay *r = context;
  serve_tfs_predict p;
  serve_status *st = serve_warmup_decode(index, record, len, &p);
  if (st) return st;
  st = run_request(r, &p);
  serve_tfs_predict_free(&p);
  if (st) return st;
  r->count++;
  return NULL;
}

serve_status *serve_warmup_replay(const char *path, const kiln_model *model,
                                  kiln_session *session, int *out_count) {
  *out_count = 0;
  FILE *f = fopen(path, "rb");
  if (!f)
    return serve_error(SERVE_INTERNAL, "%s: cannot open: %s", path,
                       strerror(errno));
  struct stat info;
  if (fstat(fileno(f), &info) != 0 || !S_ISREG(info.st_mode) ||
      (uintmax_t)info.st_size > MAX_WARMUP_BYTES) {
    fclose(f);
    return serve_error(SERVE_INVALID_ARGUMENT,
                       "%s: not a regular file of at most %zu bytes", path,
                       MAX_WARMUP_BYTES);
  }
  size_t size = (size_t)info.st_size;
  uint8_t *data = malloc(size ? size : 1);
  bool read_ok = data && fread(data, 1, size, f) == size;
  fclose(f);
  if (!read_ok) {
    free(data);
    return serve_error(SERVE_INTERNAL, "%s: cannot read it whole", path);
  }
  replay r = {model, session, 0};
  serve_status *st = serve_tfrecord_each(data, size, replay_record, &r);
  free(data);
  *out_count = r.count;
  if (st) {
    serve_status *wrapped =
        serve_error(serve_status_code(st), "%s: %s", SERVE_WARMUP_FILE,
                    serve_status_message(st));
    serve_status_free(st);
    return wrapped;
  }
  return NULL;
}
