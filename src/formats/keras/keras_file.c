/* keras_file.c - opens a Keras model's container from memory and indexes
 * where each layer's weights are (keras_file.h). Every libhdf5 call is made
 * under one lock with libhdf5's automatic error printing turned off (the
 * library never prints); what a caller sees is kiln's own message naming
 * the file, group and attribute. */
#include "formats/keras/keras_file.h"

#include <hdf5.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <zip.h>

#include "core/alloc.h"
#include "core/status.h"
#include "formats/keras/keras_import.h"

static pthread_mutex_t hdf5_mutex = PTHREAD_MUTEX_INITIALIZER;
static H5E_auto2_t saved_func;
static void *saved_data;

void kiln_keras_hdf5_lock(void) {
  pthread_mutex_lock(&hdf5_mutex);
  H5Eget_auto2(H5E_DEFAULT, &saved_func, &saved_data);
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

void kiln_keras_hdf5_unlock(void) {
  H5Eset_auto2(H5E_DEFAULT, saved_func, saved_data);
  pthread_mutex_unlock(&hdf5_mutex);
}

/* ---- HDF5 helpers (called with the lock held) ---- */

/* A string attribute (variable or fixed length) of `obj`, copied. NULL in
 * *out when the attribute is absent. */
static kiln_status *read_string_attr(const kiln_keras_file *f, hid_t obj,
                                     const char *where, const char *name,
                                     char **out, size_t *out_len) {
  *out = NULL;
  if (H5Aexists(obj, name) <= 0) return NULL;
  hid_t attr = H5Aopen(obj, name, H5P_DEFAULT);
  hid_t type = attr < 0 ? -1 : H5Aget_type(attr);
  hid_t space = attr < 0 ? -1 : H5Aget_space(attr);
  kiln_status *st = NULL;
  if (type < 0 || space < 0 || H5Tget_class(type) != H5T_STRING ||
      H5Sget_simple_extent_npoints(space) != 1) {
    st = kiln_error(KILN_ERR_INVALID_MODEL,
                    "%s: %s: attribute '%s' is not one string", f->source,
                    where, name);
  } else if (H5Tis_variable_str(type) > 0) {
    hid_t mem = H5Tcopy(H5T_C_S1);
    H5Tset_size(mem, H5T_VARIABLE);
    H5Tset_cset(mem, H5Tget_cset(type));
    char *text = NULL;
    if (H5Aread(attr, mem, &text) < 0 || !text) {
      st = kiln_error(KILN_ERR_INVALID_MODEL,
                      "%s: %s: cannot read attribute '%s'", f->source, where,
                      name);
    } else {
      *out_len = strlen(text);
      *out = kiln_strdup(f->alloc, text);
      if (!*out) st = KILN_OOM();
    }
    if (text) H5free_memory(text);
    H5Tclose(mem);
  } else {
    size_t len = H5Tget_size(type);
    hid_t mem = H5Tcopy(type);
    char *text = len + 1 > len ? kiln_calloc(f->alloc, len + 1, 1) : NULL;
    if (!text) {
      st = KILN_OOM();
    } else if (H5Aread(attr, mem, text) < 0) {
      st = kiln_error(KILN_ERR_INVALID_MODEL,
                      "%s: %s: cannot read attribute '%s'", f->source, where,
                      name);
      kiln_free(f->alloc, text);
    } else {
      *out_len = strnlen(text, len);
      *out = text;
    }
    H5Tclose(mem);
  }
  if (space >= 0) H5Sclose(space);
  if (type >= 0) H5Tclose(type);
  if (attr >= 0) H5Aclose(attr);
  return st;
}

/* A 1-D string array attribute (legacy "weight_names"); an empty array of
 * any type (Keras writes an empty float64 array for a layer without
 * weights) gives *out_count 0. */
static kiln_status *read_names_attr(const kiln_keras_file *f, hid_t obj,
                                    const char *where, const char *name,
                                    char ***out, int *out_count) {
  *out = NULL;
  *out_count = 0;
  if (H5Aexists(obj, name) <= 0) return NULL;
  hid_t attr = H5Aopen(obj, name, H5P_DEFAULT);
  hid_t type = attr < 0 ? -1 : H5Aget_type(attr);
  hid_t space = attr < 0 ? -1 : H5Aget_space(attr);
  hssize_t n = space < 0 ? -1 : H5Sget_simple_extent_npoints(space);
  kiln_status *st = NULL;
  if (type < 0 || n < 0) {
    st =
        kiln_error(KILN_ERR_INVALID_MODEL, "%s: %s: cannot read attribute '%s'",
                   f->source, where, name);
  } else if (n > 0 && H5Tget_class(type) != H5T_STRING) {
    st = kiln_error(KILN_ERR_INVALID_MODEL,
                    "%s: %s: attribute '%s' holds %lld values that are not "
                    "strings",
                    f->source, where, name, (long long)n);
  } else if (n > 65536) {
    st = kiln_error(KILN_ERR_INVALID_MODEL,
                    "%s: %s: attribute '%s' lists %lld names (at most 65536)",
                    f->source, where, name, (long long)n);
  } else if (n > 0) {
    char **names = kiln_calloc(f->alloc, (size_t)n, sizeof *names);
    if (!names) st = KILN_OOM();
    if (!st && H5Tis_variable_str(type) > 0) {
      hid_t mem = H5Tcopy(H5T_C_S1);
      H5Tset_size(mem, H5T_VARIABLE);
      char **raw = kiln_calloc(f->alloc, (size_t)n, sizeof *raw);
      if (!raw) {
        st = KILN_OOM();
      } else if (H5Aread(attr, mem, raw) < 0) {
        st = kiln_error(KILN_ERR_INVALID_MODEL,
                        "%s: %s: cannot read attribute '%s'", f->source, where,
                        name);
      } else {
        for (hssize_t i = 0; i < n && !st; i++) {
          names[i] = kiln_strdup(f->alloc, raw[i] ? raw[i] : "");
          if (!names[i]) st = KILN_OOM();
        }
        H5Dvlen_reclaim(mem, space, H5P_DEFAULT, raw);
      }
      kiln_free(f->alloc, raw);
      H5Tclose(mem);
    } else if (!st) {
      size_t len = H5Tget_size(type);
      char *flat = len && (size_t)n <= SIZE_MAX / len
                       ? kiln_calloc(f->alloc, (size_t)n, len)
                       : NULL;
      hid_t mem = H5Tcopy(type);
      if (!flat) {
        st = len ? KILN_OOM()
                 : kiln_error(KILN_ERR_INVALID_MODEL,
                              "%s: %s: attribute '%s' has empty strings",
                              f->source, where, name);
      } else if (H5Aread(attr, mem, flat) < 0) {
        st = kiln_error(KILN_ERR_INVALID_MODEL,
                        "%s: %s: cannot read attribute '%s'", f->source, where,
                        name);
      } else {
        for (hssize_t i = 0; i < n && !st; i++) {
          const char *s = flat + (size_t)i * len;
          size_t l = strnlen(s, len);
          names[i] = kiln_calloc(f->alloc, l + 1, 1);
          if (!names[i])
            st = KILN_OOM();
          else
            memcpy(names[i], s, l);
        }
      }
      H5Tclose(mem);
      kiln_free(f->alloc, flat);
    }
    if (st && names) {
      for (hssize_t i = 0; i < n; i++) kiln_free(f->alloc, names[i]);
      kiln_free(f->alloc, names);
      names = NULL;
    }
    *out = names;
    *out_count = st ? 0 : (int)n;
  }
  if (space >= 0) H5Sclose(space);
  if (type >= 0) H5Tclose(type);
  if (attr >= 0) H5Aclose(attr);
  return st;
}

static kiln_status *add_group(kiln_keras_file *f, const char *layer,
                              const char *path, char **names, int count) {
  if (f->num_groups == f->cap_groups) {
    int cap = f->cap_groups ? 2 * f->cap_groups : 16;
    kiln_keras_weight_group *grown =
        kiln_realloc(f->alloc, f->groups, (size_t)cap * sizeof *grown);
    if (!grown) return KILN_OOM();
    f->groups = grown;
    f->cap_groups = cap;
  }
  kiln_keras_weight_group *g = &f->groups[f->num_groups];
  memset(g, 0, sizeof *g);
  g->layer = kiln_strdup(f->alloc, layer);
  g->path = kiln_strdup(f->alloc, path);
  if (!g->layer || !g->path) {
    kiln_free(f->alloc, g->layer);
    kiln_free(f->alloc, g->path);
    return KILN_OOM();
  }
  g->names = names;
  g->count = count;
  f->num_groups++;
  return NULL;
}

/* The layer a legacy weight name belongs to, relative to the group's
 * layer: the path before the variable's own name, from after the first
 * component that is the layer's name (Keras 3 scopes a Sequential's
 * weights by its name: "sq/dense/kernel" in group "dense" is its own; a
 * sublayer's "mha/query/kernel" in group "mha" gives "query"), or the
 * whole path when the layer's name is not in it (a nested model's group
 * "enc" lists "dense/kernel" and "att/query/kernel": "dense", "att/query");
 * empty when the weight is the layer's own. */
static void owner_of(const char *name, const char *layer, char *out,
                     size_t size) {
  const char *end = strrchr(name, '/');
  out[0] = '\0';
  if (!end) return;
  const char *start = name;
  size_t layer_len = strlen(layer);
  for (const char *c = name; c < end; c = strchr(c, '/') + 1) {
    if ((size_t)(end - c) >= layer_len && strncmp(c, layer, layer_len) == 0 &&
        (c + layer_len == end || c[layer_len] == '/')) {
      start = c + layer_len == end ? end : c + layer_len + 1;
      break;
    }
  }
  size_t len = (size_t)(end - start);
  if (len >= size) return;
  memcpy(out, start, len);
  out[len] = '\0';
}

/* A legacy group's weight names, split by owner: the layer's own weights
 * form its group; a nested model's group also lists its layers' weights
 * ("d0/kernel", "d1/kernel"), each owner of which becomes a group
 * "<layer>/<owner>", as the importer scopes the nested layers. */
static kiln_status *split_nested(kiln_keras_file *f, const char *layer,
                                 const char *path, char **names, int count) {
  char **picked = kiln_calloc(f->alloc, (size_t)count + 1, sizeof *picked);
  if (!picked) return KILN_OOM();
  bool *done = kiln_calloc(f->alloc, (size_t)count + 1, 1);
  kiln_status *st = done ? NULL : KILN_OOM();
  /* Pass -1 takes the layer's own weights, then one pass per other owner
   * in order of first appearance. */
  for (int i = -1; i < count && !st; i++) {
    char owner[512];
    if (i >= 0) {
      if (done[i]) continue;
      owner_of(names[i], layer, owner, sizeof owner);
    }
    int n = 0;
    for (int k = 0; k < count && !st; k++) {
      if (done[k]) continue;
      char own[512];
      owner_of(names[k], layer, own, sizeof own);
      bool mine = i < 0 ? own[0] == '\0' : strcmp(own, owner) == 0;
      if (!mine) continue;
      picked[n] = kiln_strdup(f->alloc, names[k]);
      if (!picked[n])
        st = KILN_OOM();
      else
        n++;
      done[k] = true;
    }
    if (st) break;
    char scoped[1100];
    if (i < 0)
      snprintf(scoped, sizeof scoped, "%s", layer);
    else
      snprintf(scoped, sizeof scoped, "%s/%s", layer, owner);
    char **kept = n ? kiln_calloc(f->alloc, (size_t)n, sizeof *kept) : NULL;
    if (n && !kept) {
      st = KILN_OOM();
    } else {
      if (n) memcpy(kept, picked, (size_t)n * sizeof *kept);
      st = add_group(f, scoped, path, kept, n);
      if (st) kiln_free(f->alloc, kept);
    }
    if (st)
      for (int k = 0; k < n; k++) kiln_free(f->alloc, picked[k]);
  }
  kiln_free(f->alloc, done);
  kiln_free(f->alloc, picked);
  return st;
}

/* Legacy .h5: /model_weights/<layer> for each name in its "layer_names". */
static kiln_status *index_legacy(kiln_keras_file *f) {
  hid_t h5 = (hid_t)f->h5;
  if (H5Lexists(h5, "model_weights", H5P_DEFAULT) <= 0)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%s: the HDF5 file has a model config but no "
                      "'model_weights' group (saved without weights?)",
                      f->source);
  hid_t mw = H5Gopen2(h5, "model_weights", H5P_DEFAULT);
  if (mw < 0)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%s: 'model_weights' is not a group", f->source);
  char **layers = NULL;
  int num_layers = 0;
  kiln_status *st = read_names_attr(f, mw, "model_weights", "layer_names",
                                    &layers, &num_layers);
  for (int i = 0; i < num_layers && !st; i++) {
    char path[1024];
    if (snprintf(path, sizeof path, "model_weights/%s", layers[i]) >=
        (int)sizeof path) {
      st = kiln_error(KILN_ERR_INVALID_MODEL,
                      "%s: layer name '%.64s...' is "
                      "too long",
                      f->source, layers[i]);
      break;
    }
    if (H5Lexists(h5, path, H5P_DEFAULT) <= 0) continue;
    hid_t grp = H5Gopen2(h5, path, H5P_DEFAULT);
    if (grp < 0) continue;
    char **names = NULL;
    int count = 0;
    st = read_names_attr(f, grp, path, "weight_names", &names, &count);
    H5Gclose(grp);
    if (!st) st = split_nested(f, layers[i], path, names, count);
    for (int k = 0; k < count; k++) kiln_free(f->alloc, names[k]);
    kiln_free(f->alloc, names);
  }
  for (int i = 0; i < num_layers; i++) kiln_free(f->alloc, layers[i]);
  kiln_free(f->alloc, layers);
  H5Gclose(mw);
  return st;
}

/* Keras 3: every group under layers/ (recursively, through nested models'
 * own layers/ groups) whose vars subgroup names its layer. A layer made of
 * sublayers (MultiHeadAttention's query_dense, key_dense, ...) keeps each in
 * a group beside its vars: those are indexed as "<layer>/<sublayer name>". */
typedef struct v3_walk {
  kiln_keras_file *f;
  const char *parent; /* path of the group being listed */
  const char *scope;  /* layer-name prefix of nested models ("" at top) */
  int depth;
  bool sublayers; /* listing a layer's own group: skip vars and layers */
  kiln_status *st;
} v3_walk;

static kiln_status *index_v3_group(kiln_keras_file *f, const char *path,
                                   const char *scope, int depth,
                                   bool sublayers);

/* The link-info type H5Literate passes changed in HDF5 1.12. */
#if H5_VERSION_GE(1, 12, 0)
typedef H5L_info2_t link_info;
#else
typedef H5L_info_t link_info;
#endif

static bool is_group(hid_t parent, const char *name) {
  hid_t obj = H5Oopen(parent, name, H5P_DEFAULT);
  if (obj < 0) return false;
  bool group = H5Iget_type(obj) == H5I_GROUP;
  H5Oclose(obj);
  return group;
}

static herr_t v3_visit(hid_t group, const char *name, const link_info *info,
                       void *data) {
  (void)info;
  v3_walk *w = data;
  char path[1024], vars[1100], layer[1024];
  if (snprintf(path, sizeof path, "%s/%s", w->parent, name) >= (int)sizeof path)
    return 0;
  snprintf(vars, sizeof vars, "%s/vars", path);
  if (w->sublayers &&
      (strcmp(name, "vars") == 0 || strcmp(name, "layers") == 0))
    return 0;
  if (!is_group(group, name)) return 0;
  hid_t h5 = (hid_t)w->f->h5;
  char *layer_name = NULL;
  size_t len = 0;
  int count = 0;
  if (H5Lexists(h5, vars, H5P_DEFAULT) > 0) {
    hid_t v = H5Gopen2(h5, vars, H5P_DEFAULT);
    if (v >= 0) {
      w->st = read_string_attr(w->f, v, vars, "name", &layer_name, &len);
      H5G_info_t gi;
      if (H5Gget_info(v, &gi) >= 0)
        count = (int)(gi.nlinks < 65536 ? gi.nlinks : 65536);
      H5Gclose(v);
    }
  }
  if (w->st) return -1;
  const char *own = layer_name ? layer_name : name;
  snprintf(layer, sizeof layer, "%s%s", w->scope, own);
  bool is_layer = layer_name != NULL;
  if (is_layer) w->st = add_group(w->f, layer, vars, NULL, count);
  kiln_free(w->f->alloc, layer_name);
  if (w->st) return -1;
  char inner[1100], scope[1100];
  snprintf(scope, sizeof scope, "%s/", layer);
  /* A nested model keeps its layers under its own layers/ group. */
  snprintf(inner, sizeof inner, "%s/layers", path);
  if (H5Lexists(h5, inner, H5P_DEFAULT) > 0) {
    w->st = index_v3_group(w->f, inner, scope, w->depth + 1, false);
    if (w->st) return -1;
  }
  /* A layer's sublayers sit in its own group, beside vars (indexed last:
   * a name found before keeps its group; never past the nesting limit,
   * which a plain layer's missing sublayers must not trip). */
  if (is_layer && w->depth < 32) {
    w->st = index_v3_group(w->f, path, scope, w->depth + 1, true);
    if (w->st) return -1;
  }
  return 0;
}

static kiln_status *index_v3_group(kiln_keras_file *f, const char *path,
                                   const char *scope, int depth,
                                   bool sublayers) {
  if (depth > 32)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%s: model.weights.h5 nests layers more than 32 deep "
                      "at '%s'",
                      f->source, path);
  hid_t grp = H5Gopen2((hid_t)f->h5, path, H5P_DEFAULT);
  if (grp < 0) return NULL;
  v3_walk w = {f, path, scope, depth, sublayers, NULL};
  H5Literate(grp, H5_INDEX_NAME, H5_ITER_INC, NULL, v3_visit, &w);
  H5Gclose(grp);
  return w.st;
}

/* libhdf5's core driver copies a file image by default: these callbacks
 * make it read the caller's bytes in place (read-only, never resized), so
 * a model's weights are not held twice while it loads. The bytes must
 * outlive the open file. */
static void *image_malloc(size_t size, H5FD_file_image_op_t op, void *udata) {
  (void)op;
  kiln_keras_image *b = udata;
  return size == b->size ? (void *)(uintptr_t)b->data : NULL;
}

static void *image_memcpy(void *dest, const void *src, size_t size,
                          H5FD_file_image_op_t op, void *udata) {
  (void)op;
  (void)udata;
  if (dest != src)
    return NULL; /* image_malloc hands out the bytes themselves */
  (void)size;
  return dest;
}

static void *image_realloc(void *ptr, size_t size, H5FD_file_image_op_t op,
                           void *udata) {
  (void)ptr;
  (void)size;
  (void)op;
  (void)udata;
  return NULL; /* opened read-only: never grows */
}

static herr_t image_free(void *ptr, H5FD_file_image_op_t op, void *udata) {
  (void)ptr;
  (void)op;
  (void)udata;
  return 0;
}

static void *udata_copy(void *udata) { return udata; }
static herr_t udata_free(void *udata) {
  (void)udata;
  return 0;
}

static kiln_status *open_h5_image(kiln_keras_file *f, const void *data,
                                  size_t size, const char *what) {
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  if (fapl < 0) return KILN_OOM();
  f->borrowed.data = data;
  f->borrowed.size = size;
  H5FD_file_image_callbacks_t callbacks = {
      image_malloc, image_memcpy, image_realloc, image_free,
      udata_copy,   udata_free,   &f->borrowed};
  H5Pset_fapl_core(fapl, 1 << 16, 0);
  herr_t ok = H5Pset_file_image_callbacks(fapl, &callbacks);
  if (ok >= 0) ok = H5Pset_file_image(fapl, (void *)(uintptr_t)data, size);
  /* libhdf5 refuses a name already open in the process, and looks for the
   * name on disk even with an image: a unique path under /dev/null, where
   * no file can exist, avoids both. */
  static unsigned long opened;
  char name[64];
  snprintf(name, sizeof name, "/dev/null/kiln-keras-%lu", ++opened);
  hid_t h5 = ok >= 0 ? H5Fopen(name, H5F_ACC_RDONLY, fapl) : -1;
  H5Pclose(fapl);
  if (h5 < 0)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%s: %s is not an HDF5 file libhdf5 can open (%zu "
                      "bytes)",
                      f->source, what, size);
  f->h5 = h5;
  return NULL;
}

/* ---- zip (.keras) ---- */

/* The whole of entry `name`, NUL-terminated, in memory from f->alloc. */
static kiln_status *zip_entry(kiln_keras_file *f, zip_t *za, const char *name,
                              void **out, size_t *out_size) {
  *out = NULL;
  zip_int64_t index = zip_name_locate(za, name, 0);
  if (index < 0)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%s: the .keras archive has no '%s'", f->source, name);
  zip_stat_t zs;
  zip_stat_init(&zs);
  if (zip_stat_index(za, (zip_uint64_t)index, 0, &zs) != 0 ||
      !(zs.valid & ZIP_STAT_SIZE) || !(zs.valid & ZIP_STAT_COMP_SIZE))
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%s: cannot read the size of '%s' in the archive",
                      f->source, name);
  /* Deflate expands at most about 1032 to 1: a larger claim is a lie, and
   * would make an allocation the file's bytes cannot fill. */
  if (zs.size > (zip_uint64_t)zs.comp_size * 1040 + 4096 ||
      zs.size > (zip_uint64_t)SIZE_MAX - 1)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%s: '%s' claims %llu bytes from %llu compressed ones",
                      f->source, name, (unsigned long long)zs.size,
                      (unsigned long long)zs.comp_size);
  char *buf = kiln_malloc(f->alloc, (size_t)zs.size + 1);
  if (!buf)
    return kiln_error(KILN_ERR_OUT_OF_MEMORY,
                      "%s: cannot allocate %llu bytes for '%s'", f->source,
                      (unsigned long long)zs.size, name);
  zip_file_t *zf = zip_fopen_index(za, (zip_uint64_t)index, 0);
  zip_int64_t got = zf ? zip_fread(zf, buf, zs.size) : -1;
  if (zf) zip_fclose(zf);
  if (got < 0 || (zip_uint64_t)got != zs.size) {
    kiln_free(f->alloc, buf);
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%s: '%s' in the archive is damaged (read %lld of its "
                      "%llu bytes)",
                      f->source, name, (long long)got,
                      (unsigned long long)zs.size);
  }
  buf[zs.size] = '\0';
  *out = buf;
  *out_size = (size_t)zs.size;
  return NULL;
}

static kiln_status *open_keras_zip(kiln_keras_file *f, const void *data,
                                   size_t size) {
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t *src = zip_source_buffer_create(data, size, 0, &error);
  zip_t *za = src ? zip_open_from_source(src, ZIP_RDONLY, &error) : NULL;
  if (!za) {
    kiln_status *st =
        kiln_error(KILN_ERR_INVALID_MODEL, "%s: not a readable zip archive: %s",
                   f->source, zip_error_strerror(&error));
    if (src) zip_source_free(src);
    zip_error_fini(&error);
    return st;
  }
  zip_error_fini(&error);
  void *config = NULL, *weights = NULL;
  size_t config_size = 0, weights_size = 0;
  kiln_status *st = zip_entry(f, za, "config.json", &config, &config_size);
  if (!st) st = zip_entry(f, za, "model.weights.h5", &weights, &weights_size);
  zip_discard(za); /* also frees the source */
  if (!st) {
    f->config = config;
    f->config_len = config_size;
    config = NULL;
    /* The open file reads these bytes in place: they live until close. */
    f->image = weights;
    weights = NULL;
    f->layout = KILN_KERAS_V3;
    kiln_keras_hdf5_lock();
    st = open_h5_image(f, f->image, weights_size, "model.weights.h5");
    if (!st) st = index_v3_group(f, "layers", "", 0, false);
    kiln_keras_hdf5_unlock();
  }
  kiln_free(f->alloc, config);
  kiln_free(f->alloc, weights);
  return st;
}

static kiln_status *open_legacy(kiln_keras_file *f, const void *data,
                                size_t size) {
  f->layout = KILN_KERAS_LEGACY_H5;
  kiln_keras_hdf5_lock();
  kiln_status *st = open_h5_image(f, data, size, "the .h5 file");
  if (!st)
    st = read_string_attr(f, (hid_t)f->h5, "/", "model_config", &f->config,
                          &f->config_len);
  if (!st && !f->config)
    st = kiln_error(KILN_ERR_INVALID_MODEL,
                    "%s: an HDF5 file without a 'model_config' attribute: "
                    "not a Keras model (a weights-only file from "
                    "save_weights?)",
                    f->source);
  if (!st) st = index_legacy(f);
  kiln_keras_hdf5_unlock();
  return st;
}

kiln_status *kiln_keras_file_open(const void *data, size_t size,
                                  const char *source,
                                  const kiln_allocator *alloc,
                                  kiln_keras_file *out) {
  memset(out, 0, sizeof *out);
  out->alloc = alloc;
  out->source = source ? source : "<memory>";
  out->h5 = -1;
  kiln_status *st = kiln_keras_is_hdf5(data, size)
                        ? open_legacy(out, data, size)
                    : kiln_keras_is_zip(data, size)
                        ? open_keras_zip(out, data, size)
                        : kiln_error(KILN_ERR_INVALID_MODEL,
                                     "%s: neither an HDF5 file nor a "
                                     ".keras archive",
                                     out->source);
  if (st) kiln_keras_file_close(out);
  return st;
}

void kiln_keras_file_close(kiln_keras_file *f) {
  if (f->h5 >= 0) {
    kiln_keras_hdf5_lock();
    H5Fclose((hid_t)f->h5);
    kiln_keras_hdf5_unlock();
  }
  for (int i = 0; i < f->num_groups; i++) {
    kiln_keras_weight_group *g = &f->groups[i];
    for (int k = 0; g->names && k < g->count; k++)
      kiln_free(f->alloc, g->names[k]);
    kiln_free(f->alloc, g->names);
    kiln_free(f->alloc, g->layer);
    kiln_free(f->alloc, g->path);
  }
  kiln_free(f->alloc, f->groups);
  kiln_free(f->alloc, f->config);
  kiln_free(f->alloc, f->image);
  memset(f, 0, sizeof *f);
  f->h5 = -1;
}

static const kiln_keras_weight_group *find_group(const kiln_keras_file *f,
                                                 const char *layer) {
  for (int i = 0; i < f->num_groups; i++)
    if (strcmp(f->groups[i].layer, layer) == 0) return &f->groups[i];
  return NULL;
}

int kiln_keras_weight_count(const kiln_keras_file *f, const char *layer) {
  const kiln_keras_weight_group *g = find_group(f, layer);
  return g ? g->count : 0;
}

/* Elements of at most this many are read (4 GiB of float32). */
#define MAX_WEIGHT_ELEMENTS ((hsize_t)1 << 30)

/* A made-up weight of the wanted shape (sizes left free become 1):
 * small distinct values, so that arithmetic on them stays finite. */
static kiln_status *synthetic_weight(kiln_keras_file *f, const char *layer,
                                     int want_rank, const int64_t *want,
                                     int *out_rank, int64_t *out_dims,
                                     float **out_data) {
  int64_t n = 1;
  for (int d = 0; d < want_rank; d++) {
    int64_t size = want && want[d] >= 0 ? want[d] : 1;
    if (size > (1 << 16) || (n *= size) > (1 << 20))
      return kiln_error(KILN_ERR_INVALID_MODEL,
                        "%s: layer '%s': a weight of over 2^20 elements",
                        f->source, layer);
    out_dims[d] = size;
  }
  float *data = kiln_malloc(f->alloc, (size_t)(n ? n : 1) * sizeof *data);
  if (!data) return KILN_OOM();
  for (int64_t i = 0; i < n; i++) data[i] = 0.5f + (float)(i % 7) * 0.125f;
  *out_rank = want_rank;
  *out_data = data;
  return NULL;
}

kiln_status *kiln_keras_weight(kiln_keras_file *f, const char *layer, int index,
                               int want_rank, const int64_t *want,
                               int *out_rank, int64_t *out_dims,
                               float **out_data) {
  *out_data = NULL;
  if (f->synthetic)
    return synthetic_weight(f, layer, want_rank, want, out_rank, out_dims,
                            out_data);
  const kiln_keras_weight_group *g = find_group(f, layer);
  if (!g || index < 0 || index >= g->count)
    return kiln_error(KILN_ERR_INVALID_MODEL,
                      "%s: layer '%s': the file holds %d weights for it, "
                      "and weight %d is needed",
                      f->source, layer, g ? g->count : 0, index);
  char path[2048];
  if (g->names)
    snprintf(path, sizeof path, "%s/%s", g->path, g->names[index]);
  else
    snprintf(path, sizeof path, "%s/%d", g->path, index);
  kiln_keras_hdf5_lock();
  kiln_status *st = NULL;
  hid_t ds = H5Lexists((hid_t)f->h5, path, H5P_DEFAULT) > 0
                 ? H5Dopen2((hid_t)f->h5, path, H5P_DEFAULT)
                 : -1;
  hid_t space = ds < 0 ? -1 : H5Dget_space(ds);
  hid_t type = ds < 0 ? -1 : H5Dget_type(ds);
  int rank = space < 0 ? -1 : H5Sget_simple_extent_ndims(space);
  hsize_t dims[H5S_MAX_RANK];
  if (ds < 0) {
    st = kiln_error(KILN_ERR_INVALID_MODEL,
                    "%s: layer '%s': weight %d has no dataset at '%s'",
                    f->source, layer, index, path);
  } else if (rank < 0 || rank > KILN_MAX_RANK || type < 0 ||
             (H5Tget_class(type) != H5T_FLOAT &&
              H5Tget_class(type) != H5T_INTEGER)) {
    st = kiln_error(KILN_ERR_INVALID_MODEL,
                    "%s: layer '%s': weight '%s' is not a numeric array of "
                    "rank <= %d",
                    f->source, layer, path, KILN_MAX_RANK);
  } else {
    H5Sget_simple_extent_dims(space, dims, NULL);
    hsize_t n = 1;
    for (int d = 0; d < rank && !st; d++) {
      if (dims[d] > MAX_WEIGHT_ELEMENTS || (n *= dims[d]) > MAX_WEIGHT_ELEMENTS)
        st = kiln_error(KILN_ERR_INVALID_MODEL,
                        "%s: layer '%s': weight '%s' is larger than 2^30 "
                        "elements",
                        f->source, layer, path);
      out_dims[d] = (int64_t)dims[d];
    }
    float *data = st ? NULL : kiln_malloc(f->alloc, (size_t)(n ? n : 1) * 4);
    if (!st && !data) st = KILN_OOM();
    if (!st && n &&
        H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
      st = kiln_error(KILN_ERR_INVALID_MODEL,
                      "%s: layer '%s': cannot read weight '%s'", f->source,
                      layer, path);
    if (st)
      kiln_free(f->alloc, data);
    else {
      *out_data = data;
      *out_rank = rank;
    }
  }
  if (type >= 0) H5Tclose(type);
  if (space >= 0) H5Sclose(space);
  if (ds >= 0) H5Dclose(ds);
  kiln_keras_hdf5_unlock();
  return st;
}
