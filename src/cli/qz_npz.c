/* qz_npz.c - reading kiln quantize's .npz calibration files with libzip
 * (the command only: the libraries stay libc-only) and the .npy parser of
 * kiln's core. */
#include "qz_npz.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zip.h>

/* An .npz member larger than this is refused rather than read. */
#define MAX_MEMBER_BYTES ((zip_uint64_t)4 << 30)

struct qz_npz {
  const kiln_qz_inputs *inputs;
  char **files;
  int num_files;
  int total;
  /* iteration: the current file's arrays, its sample count and position */
  int file;
  kiln_array *arrays;
  int samples, next;
};

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static kiln_status *list_files(const char *path, qz_npz *z) {
  struct stat st;
  if (stat(path, &st) != 0)
    return kiln_status_create(KILN_ERR_IO, "%s: cannot open: %s", path,
                              strerror(errno));
  if (!S_ISDIR(st.st_mode)) {
    z->files = calloc(1, sizeof(char *));
    if (!z->files || !(z->files[0] = strdup(path)))
      return kiln_status_create(KILN_ERR_OUT_OF_MEMORY, "out of memory");
    z->num_files = 1;
    return NULL;
  }
  DIR *dir = opendir(path);
  if (!dir)
    return kiln_status_create(KILN_ERR_IO, "%s: cannot open: %s", path,
                              strerror(errno));
  struct dirent *e;
  int cap = 0;
  kiln_status *status = NULL;
  while (!status && (e = readdir(dir))) {
    size_t len = strlen(e->d_name);
    if (len < 5 || strcmp(e->d_name + len - 4, ".npz") != 0) continue;
    if (z->num_files == cap) {
      cap = cap ? cap * 2 : 16;
      char **grown = realloc(z->files, sizeof(char *) * (size_t)cap);
      if (!grown) {
        status = kiln_status_create(KILN_ERR_OUT_OF_MEMORY, "out of memory");
        break;
      }
      z->files = grown;
    }
    size_t size = strlen(path) + len + 2;
    char *full = malloc(size);
    if (!full) {
      status = kiln_status_create(KILN_ERR_OUT_OF_MEMORY, "out of memory");
      break;
    }
    snprintf(full, size, "%s/%s", path, e->d_name);
    z->files[z->num_files++] = full;
  }
  closedir(dir);
  if (status) return status;
  if (z->num_files == 0)
    return kiln_status_create(KILN_ERR_INVALID_ARGUMENT,
                              "%s: the folder holds no .npz files", path);
  qsort(z->files, (size_t)z->num_files, sizeof(char *), by_name);
  return NULL;
}

/* Reads member NAME.npy of the open archive into `out`. */
static kiln_status *read_member(zip_t *zip, const char *file, const char *name,
                                kiln_array *out) {
  size_t len = strlen(name) + 5;
  char *member = malloc(len);
  if (!member)
    return kiln_status_create(KILN_ERR_OUT_OF_MEMORY, "out of memory");
  snprintf(member, len, "%s.npy", name);
  zip_int64_t index = zip_name_locate(zip, member, 0);
  free(member);
  if (index < 0) {
    char listing[512] = "";
    zip_int64_t n = zip_get_num_entries(zip, 0);
    for (zip_int64_t i = 0; i < n && strlen(listing) < 400; i++) {
      const char *entry = zip_get_name(zip, (zip_uint64_t)i, 0);
      if (!entry) continue;
      if (listing[0]) strcat(listing, ", ");
      strncat(listing, entry, 64);
    }
    return kiln_status_create(KILN_ERR_INVALID_ARGUMENT,
                              "%s: no array named '%s' for the model's input "
                              "'%s' (the file holds: %s)",
                              file, name, name,
                              listing[0] ? listing : "nothing");
  }
  zip_stat_t info;
  if (zip_stat_index(zip, (zip_uint64_t)index, 0, &info) != 0 ||
      !(info.valid & ZIP_STAT_SIZE) || info.size > MAX_MEMBER_BYTES)
    return kiln_status_create(KILN_ERR_INVALID_ARGUMENT,
                              "%s: array '%s' has no readable size (or is over "
                              "4 GiB)",
                              file, name);
  void *bytes = malloc(info.size + 1);
  zip_file_t *f = zip_fopen_index(zip, (zip_uint64_t)index, 0);
  zip_int64_t got = (bytes && f) ? zip_fread(f, bytes, info.size) : -1;
  if (f) zip_fclose(f);
  if (got < 0 || (zip_uint64_t)got != info.size) {
    free(bytes);
    return kiln_status_create(KILN_ERR_IO, "%s: cannot read array '%s'", file,
                              name);
  }
  char label[1024];
  snprintf(label, sizeof label, "%s: array '%s'", file, name);
  kiln_status *status = kiln_qz_parse_npy(bytes, (size_t)info.size, label, out);
  free(bytes);
  return status;
}

/* Checks array `a` against input i; sets *samples to how many it holds. */
static kiln_status *check_array(const qz_npz *z, const char *file, int i,
                                const kiln_array *a, int *samples) {
  const kiln_qz_inputs *in = z->inputs;
  const char *name = in->names[i];
  int rank = in->ranks[i];
  int64_t batch = rank > 0 && in->dims[i][0] > 0 ? in->dims[i][0] : 1;
  if (a->dtype != KILN_FLOAT32)
    return kiln_status_create(KILN_ERR_INVALID_ARGUMENT,
                              "%s: array '%s' is %s; the model's input '%s' "
                              "takes float32",
                              file, name, kiln_dtype_name(a->dtype), name);
  bool shape_ok = a->rank == rank && rank > 0;
  for (int d = 1; shape_ok && d < rank; d++)
    shape_ok = a->dims[d] == in->dims[i][d];
  if (shape_ok) shape_ok = a->dims[0] > 0 && a->dims[0] % batch == 0;
  if (!shape_ok) {
    char want[256] = "[N", got[256] = "[";
    for (int d = 1; d < rank; d++)
      snprintf(want + strlen(want), sizeof want - strlen(want), ",%lld",
               (long long)in->dims[i][d]);
    for (int d = 0; d < a->rank; d++)
      snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld",
               d ? "," : "", (long long)a->dims[d]);
    return kiln_status_create(
        KILN_ERR_INVALID_ARGUMENT,
        "%s: array '%s' has shape %s]; the model's input '%s' needs %s] "
        "(samples stacked on axis 0, N a multiple of %lld)",
        file, name, got, name, want, (long long)batch);
  }
  int64_t n = a->dims[0] / batch;
  size_t per = a->nbytes / sizeof(float) / (size_t)n;
  const float *x = a->data;
  for (int64_t s = 0; s < n; s++)
    for (size_t k = 0; k < per; k++)
      if (!isfinite(x[(size_t)s * per + k]))
        return kiln_status_create(
            KILN_ERR_INVALID_ARGUMENT, "%s: input '%s' sample %lld holds %s",
            file, name, (long long)s,
            isnan(x[(size_t)s * per + k]) ? "NaN" : "infinity");
  *samples = (int)(n > 1000000000 ? 1000000000 : n);
  return NULL;
}

static void free_arrays(qz_npz *z) {
  for (int i = 0; z->arrays && i < z->inputs->count; i++)
    kiln_array_free(&z->arrays[i]);
}

/* Loads file f's arrays (checked) into z->arrays. */
static kiln_status *load_file(qz_npz *z, int f) {
  free_arrays(z);
  const char *file = z->files[f];
  int error = 0;
  zip_t *zip = zip_open(file, ZIP_RDONLY, &error);
  if (!zip)
    return kiln_status_create(KILN_ERR_INVALID_ARGUMENT,
                              "%s: not a readable .npz (zip) file", file);
  kiln_status *status = NULL;
  z->samples = -1;
  for (int i = 0; !status && i < z->inputs->count; i++) {
    status = read_member(zip, file, z->inputs->names[i], &z->arrays[i]);
    int n = 0;
    if (!status) status = check_array(z, file, i, &z->arrays[i], &n);
    if (!status && z->samples >= 0 && n != z->samples)
      status = kiln_status_create(KILN_ERR_INVALID_ARGUMENT,
                                  "%s: array '%s' holds %d samples, the "
                                  "others %d",
                                  file, z->inputs->names[i], n, z->samples);
    if (!status) z->samples = n;
  }
  zip_close(zip);
  if (status) free_arrays(z);
  z->next = 0;
  return status;
}

kiln_status *qz_npz_open(const char *path, const kiln_qz_inputs *inputs,
                         qz_npz **out) {
  *out = NULL;
  qz_npz *z = calloc(1, sizeof *z);
  if (!z) return kiln_status_create(KILN_ERR_OUT_OF_MEMORY, "out of memory");
  z->inputs = inputs;
  z->arrays = calloc((size_t)inputs->count + 1, sizeof(kiln_array));
  kiln_status *status =
      z->arrays ? list_files(path, z)
                : kiln_status_create(KILN_ERR_OUT_OF_MEMORY, "out of memory");
  for (int f = 0; !status && f < z->num_files; f++) {
    status = load_file(z, f);
    if (!status) z->total += z->samples;
  }
  free_arrays(z);
  z->file = -1;
  if (status) {
    qz_npz_close(z);
    return status;
  }
  *out = z;
  return NULL;
}

void qz_npz_close(qz_npz *z) {
  if (!z) return;
  free_arrays(z);
  free(z->arrays);
  for (int i = 0; i < z->num_files; i++) free(z->files[i]);
  free(z->files);
  free(z);
}

static kiln_status *npz_rewind(void *context) {
  qz_npz *z = context;
  free_arrays(z);
  z->file = -1;
  z->samples = z->next = 0;
  return NULL;
}

static kiln_status *npz_next(void *context, void *const *inputs,
                             const size_t *nbytes, int *got) {
  qz_npz *z = context;
  *got = 0;
  while (z->file < 0 || z->next >= z->samples) {
    if (z->file + 1 >= z->num_files) return NULL;
    z->file++;
    kiln_status *status = load_file(z, z->file);
    if (status) return status;
  }
  for (int i = 0; i < z->inputs->count; i++) {
    size_t per = z->arrays[i].nbytes / (size_t)z->samples;
    if (per != nbytes[i])
      return kiln_status_create(KILN_ERR_INVALID_ARGUMENT,
                                "%s: a sample of '%s' is %zu bytes, the input "
                                "%zu",
                                z->files[z->file], z->inputs->names[i], per,
                                nbytes[i]);
    memcpy(inputs[i], (const char *)z->arrays[i].data + per * (size_t)z->next,
           per);
  }
  z->next++;
  *got = 1;
  return NULL;
}

kiln_qz_source qz_npz_source(qz_npz *z) {
  kiln_qz_source s = {z, z->total, npz_next, npz_rewind};
  return s;
}
