/* tflite_builder.c - test-only FlatBuffers/TFLite writer (see the header). */
#include "tflite_builder.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "formats/tflite/tflite_schema.h"

/* ------------------------------------------------------ flatbuffers */

void fbb_init(fbb *b) {
  memset(b, 0, sizeof *b);
  b->minalign = 1;
}

void fbb_release(fbb *b) {
  free(b->buf);
  memset(b, 0, sizeof *b);
}

/* Makes room for n more bytes in front of the data. */
static void fbb_reserve(fbb *b, size_t n) {
  if (b->len + n <= b->cap) return;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->len + n) cap *= 2;
  uint8_t *grown = calloc(cap, 1);
  assert(grown);
  if (b->len) memcpy(grown + cap - b->len, b->buf + b->cap - b->len, b->len);
  free(b->buf);
  b->buf = grown;
  b->cap = cap;
}

void fbb_push(fbb *b, const void *bytes, size_t n) {
  fbb_reserve(b, n);
  b->len += n;
  if (n) memcpy(b->buf + b->cap - b->len, bytes, n);
}

static void fbb_zeros(fbb *b, size_t n) {
  fbb_reserve(b, n);
  b->len += n;
  if (n) memset(b->buf + b->cap - b->len, 0, n);
}

void fbb_align(fbb *b, size_t additional, size_t align) {
  if (align > b->minalign) b->minalign = align;
  size_t pad = (align - (b->len + additional) % align) % align;
  fbb_zeros(b, pad);
}

static void fbb_push_le(fbb *b, uint64_t value, size_t n) {
  uint8_t bytes[8];
  for (size_t i = 0; i < n; i++) bytes[i] = (uint8_t)(value >> (8 * i));
  fbb_push(b, bytes, n);
}

uint32_t fbb_string(fbb *b, const char *s) {
  size_t n = strlen(s);
  fbb_align(b, n + 1, 4);
  fbb_zeros(b, 1);
  fbb_push(b, s, n);
  fbb_push_le(b, n, 4);
  return (uint32_t)b->len;
}

uint32_t fbb_vector(fbb *b, const void *data, uint32_t count, size_t elem_size,
                    size_t align) {
  size_t bytes = (size_t)count * elem_size;
  if (align < 4) align = 4;
  fbb_align(b, bytes, align);
  fbb_push(b, data, bytes);
  fbb_push_le(b, count, 4);
  return (uint32_t)b->len;
}

uint32_t fbb_vector_i32(fbb *b, const int32_t *values, uint32_t count) {
  uint8_t *bytes = calloc((size_t)count * 4 + 1, 1);
  for (uint32_t i = 0; i < count; i++)
    for (int k = 0; k < 4; k++)
      bytes[4 * i + k] = (uint8_t)((uint32_t)values[i] >> (8 * k));
  uint32_t ref = fbb_vector(b, bytes, count, 4, 4);
  free(bytes);
  return ref;
}

/* A uoffset at the front pointing to `ref`: distance from itself. */
static void fbb_push_ref(fbb *b, uint32_t ref) {
  fbb_align(b, 4, 4);
  fbb_push_le(b, b->len + 4 - ref, 4);
}

uint32_t fbb_ref_vector(fbb *b, const uint32_t *refs, uint32_t count) {
  fbb_align(b, (size_t)count * 4, 4);
  for (uint32_t i = count; i-- > 0;) fbb_push_ref(b, refs[i]);
  fbb_push_le(b, count, 4);
  return (uint32_t)b->len;
}

void fbb_start(fbb *b) {
  memset(b->fields, 0, sizeof b->fields);
  b->num_slots = 0;
  b->table_start = b->len;
}

static void fbb_field_done(fbb *b, int slot) {
  assert(slot >= 0 && slot < FBB_MAX_SLOTS);
  b->fields[slot] = b->len;
  if (slot + 1 > b->num_slots) b->num_slots = slot + 1;
}

static void fbb_add_scalar(fbb *b, int slot, uint64_t value, size_t n) {
  fbb_align(b, n, n);
  fbb_push_le(b, value, n);
  fbb_field_done(b, slot);
}

void fbb_add_u8(fbb *b, int slot, uint8_t value) {
  fbb_add_scalar(b, slot, value, 1);
}

void fbb_add_i32(fbb *b, int slot, int32_t value) {
  fbb_add_scalar(b, slot, (uint32_t)value, 4);
}

void fbb_add_u32(fbb *b, int slot, uint32_t value) {
  fbb_add_scalar(b, slot, value, 4);
}

void fbb_add_u64(fbb *b, int slot, uint64_t value) {
  fbb_add_scalar(b, slot, value, 8);
}

void fbb_add_f32(fbb *b, int slot, float value) {
  uint32_t bits;
  memcpy(&bits, &value, 4);
  fbb_add_scalar(b, slot, bits, 4);
}

void fbb_add_ref(fbb *b, int slot, uint32_t ref) {
  fbb_push_ref(b, ref);
  fbb_field_done(b, slot);
}

uint32_t fbb_end(fbb *b) {
  fbb_align(b, 4, 4);
  fbb_zeros(b, 4); /* soffset to the vtable, patched below */
  size_t table = b->len;
  for (int slot = b->num_slots; slot-- > 0;)
    fbb_push_le(b, b->fields[slot] ? table - b->fields[slot] : 0, 2);
  fbb_push_le(b, table - b->table_start, 2);
  fbb_push_le(b, 4 + 2 * (size_t)b->num_slots, 2);
  /* The vtable sits just before the table: soffset = table - vtable > 0. */
  uint32_t soffset = (uint32_t)(b->len - table);
  uint8_t *at = b->buf + b->cap - table;
  for (int k = 0; k < 4; k++) at[k] = (uint8_t)(soffset >> (8 * k));
  return (uint32_t)table;
}

uint8_t *fbb_finish(fbb *b, uint32_t root, const char *identifier,
                    size_t *out_size) {
  fbb_align(b, identifier ? 8 : 4, b->minalign > 16 ? b->minalign : 16);
  if (identifier) fbb_push(b, identifier, 4);
  fbb_push_le(b, b->len + 4 - root, 4);
  uint8_t *out = malloc(b->len);
  assert(out);
  memcpy(out, b->buf + b->cap - b->len, b->len);
  *out_size = b->len;
  return out;
}

/* ------------------------------------------------------------ tflite */

static uint32_t tb_write_quant(fbb *b, const tb_tensor *t) {
  uint8_t scales[TB_MAX * 4], zeros[TB_MAX * 8];
  for (int i = 0; i < t->quant_count; i++) {
    uint32_t bits;
    memcpy(&bits, &t->scale[i], 4);
    for (int k = 0; k < 4; k++) scales[4 * i + k] = (uint8_t)(bits >> (8 * k));
    for (int k = 0; k < 8; k++)
      zeros[8 * i + k] = (uint8_t)((uint64_t)t->zero_point[i] >> (8 * k));
  }
  uint32_t scale = fbb_vector(b, scales, (uint32_t)t->quant_count, 4, 4);
  uint32_t zero = fbb_vector(
      b, zeros, (uint32_t)(t->quant_count - t->drop_zero_point), 8, 8);
  fbb_start(b);
  fbb_add_ref(b, TFL_QUANT_SCALE, scale);
  fbb_add_ref(b, TFL_QUANT_ZERO_POINT, zero);
  fbb_add_i32(b, TFL_QUANT_QUANTIZED_DIMENSION, t->quant_axis);
  return fbb_end(b);
}

static uint32_t tb_write_index_vector(fbb *b, uint8_t type,
                                      const int32_t *values, int count) {
  size_t width = type == 2 ? 2 : type == 3 ? 1 : 4;
  uint8_t *bytes = calloc((size_t)count * width + 1, 1);
  for (int i = 0; i < count; i++)
    for (size_t k = 0; k < width; k++)
      bytes[(size_t)i * width + k] = (uint8_t)((uint32_t)values[i] >> (8 * k));
  uint32_t vec = fbb_vector(b, bytes, (uint32_t)count, width, 4);
  free(bytes);
  fbb_start(b);
  fbb_add_ref(b, 0, vec);
  return fbb_end(b);
}

static uint32_t tb_write_sparsity(fbb *b, const tb_sparsity *sp) {
  uint32_t dims[TB_MAX];
  for (int i = 0; i < sp->num_dims; i++) {
    const tb_dim *d = &sp->dims[i];
    uint32_t seg = d->segments_type
                       ? tb_write_index_vector(b, d->segments_type, d->segments,
                                               d->num_segments)
                       : 0;
    uint32_t idx = d->indices_type
                       ? tb_write_index_vector(b, d->indices_type, d->indices,
                                               d->num_indices)
                       : 0;
    fbb_start(b);
    fbb_add_u8(b, 0, (uint8_t)d->format);
    fbb_add_i32(b, 1, d->dense_size);
    if (seg) {
      fbb_add_u8(b, 2, d->segments_type);
      fbb_add_ref(b, 3, seg);
    }
    if (idx) {
      fbb_add_u8(b, 4, d->indices_type);
      fbb_add_ref(b, 5, idx);
    }
    dims[i] = fbb_end(b);
  }
  uint32_t dim_vec = fbb_ref_vector(b, dims, (uint32_t)sp->num_dims);
  uint32_t order = fbb_vector_i32(b, sp->order, (uint32_t)sp->order_len);
  uint32_t blocks = fbb_vector_i32(b, sp->block_map, (uint32_t)sp->block_len);
  fbb_start(b);
  fbb_add_ref(b, 0, order);
  fbb_add_ref(b, 1, blocks);
  fbb_add_ref(b, 2, dim_vec);
  return fbb_end(b);
}

static uint32_t tb_write_tensor(fbb *b, const tb_tensor *t) {
  uint32_t name = t->name ? fbb_string(b, t->name) : 0;
  uint32_t shape = fbb_vector_i32(b, t->shape, (uint32_t)t->rank);
  uint32_t sig = t->has_signature
                     ? fbb_vector_i32(b, t->signature, (uint32_t)t->sig_rank)
                     : 0;
  uint32_t quant = t->quant_count ? tb_write_quant(b, t) : 0;
  uint32_t sparsity = t->sparsity ? tb_write_sparsity(b, t->sparsity) : 0;
  fbb_start(b);
  fbb_add_ref(b, TFL_TENSOR_SHAPE, shape);
  fbb_add_u8(b, TFL_TENSOR_TYPE, (uint8_t)t->type);
  fbb_add_u32(b, TFL_TENSOR_BUFFER, t->buffer);
  if (name) fbb_add_ref(b, TFL_TENSOR_NAME, name);
  if (quant) fbb_add_ref(b, TFL_TENSOR_QUANTIZATION, quant);
  if (sig) fbb_add_ref(b, TFL_TENSOR_SHAPE_SIGNATURE, sig);
  if (t->is_variable) fbb_add_u8(b, TFL_TENSOR_IS_VARIABLE, 1);
  if (sparsity) fbb_add_ref(b, TFL_TENSOR_SPARSITY, sparsity);
  return fbb_end(b);
}

static uint32_t tb_write_options(fbb *b, const tb_operator *op) {
  uint32_t vectors[8] = {0};
  for (int i = 0; i < op->num_options; i++) {
    if (op->options[i].kind == 'v')
      vectors[i] = fbb_vector_i32(b, op->options[i].vec,
                                  (uint32_t)op->options[i].vec_len);
    if (op->options[i].kind == 's')
      vectors[i] = fbb_string(b, op->options[i].s);
    if (op->options[i].kind == 'l') {
      int64_t wide[TB_MAX];
      for (int k = 0; k < op->options[i].vec_len; k++)
        wide[k] = op->options[i].vec[k];
      vectors[i] = fbb_vector(b, wide, (uint32_t)op->options[i].vec_len, 8, 8);
    }
  }
  fbb_start(b);
  for (int i = 0; i < op->num_options; i++) {
    const tb_field *f = &op->options[i];
    if (f->kind == 'b') fbb_add_u8(b, f->slot, (uint8_t)f->i);
    if (f->kind == 'i') fbb_add_i32(b, f->slot, f->i);
    if (f->kind == 'q') fbb_add_u64(b, f->slot, (uint64_t)(int64_t)f->i);
    if (f->kind == 'f') fbb_add_f32(b, f->slot, f->f);
    if (f->kind == 'v' || f->kind == 's' || f->kind == 'l')
      fbb_add_ref(b, f->slot, vectors[i]);
  }
  return fbb_end(b);
}

static uint32_t tb_write_operator(fbb *b, const tb_operator *op) {
  uint32_t inputs = fbb_vector_i32(b, op->inputs, (uint32_t)op->num_inputs);
  uint32_t outputs = fbb_vector_i32(b, op->outputs, (uint32_t)op->num_outputs);
  uint32_t options = op->options_type ? tb_write_options(b, op) : 0;
  uint32_t custom = op->custom_options
                        ? fbb_vector(b, op->custom_options,
                                     (uint32_t)op->custom_options_size, 1, 4)
                        : 0;
  fbb_start(b);
  fbb_add_u32(b, TFL_OPERATOR_OPCODE_INDEX, op->opcode_index);
  fbb_add_ref(b, TFL_OPERATOR_INPUTS, inputs);
  fbb_add_ref(b, TFL_OPERATOR_OUTPUTS, outputs);
  if (options && op->options_2) {
    fbb_add_u8(b, TFL_OPERATOR_BUILTIN_OPTIONS_2_TYPE, op->options_type);
    fbb_add_ref(b, TFL_OPERATOR_BUILTIN_OPTIONS_2, options);
  } else if (options) {
    fbb_add_u8(b, TFL_OPERATOR_BUILTIN_OPTIONS_TYPE, op->options_type);
    fbb_add_ref(b, TFL_OPERATOR_BUILTIN_OPTIONS, options);
  }
  if (custom) fbb_add_ref(b, TFL_OPERATOR_CUSTOM_OPTIONS, custom);
  return fbb_end(b);
}

static uint32_t tb_write_opcode(fbb *b, const tb_opcode *c) {
  uint32_t custom = c->custom ? fbb_string(b, c->custom) : 0;
  fbb_start(b);
  fbb_add_u8(b, TFL_OPCODE_DEPRECATED_BUILTIN_CODE, (uint8_t)c->deprecated);
  if (custom) fbb_add_ref(b, TFL_OPCODE_CUSTOM_CODE, custom);
  fbb_add_i32(b, TFL_OPCODE_BUILTIN_CODE, c->builtin);
  return fbb_end(b);
}

/* `offset` is the file offset of an external buffer's data. */
static uint32_t tb_write_buffer(fbb *b, const tb_buffer *buf, uint64_t offset) {
  uint32_t data = 0;
  if (buf->size && !buf->external && !buf->raw)
    data = fbb_vector(b, buf->data, (uint32_t)buf->size, 1, 16);
  fbb_start(b);
  if (data) fbb_add_ref(b, TFL_BUFFER_DATA, data);
  if (buf->external) {
    fbb_add_u64(b, TFL_BUFFER_OFFSET, offset);
    fbb_add_u64(b, TFL_BUFFER_SIZE, buf->size);
  }
  if (buf->raw) {
    fbb_add_u64(b, TFL_BUFFER_OFFSET, buf->raw_offset);
    fbb_add_u64(b, TFL_BUFFER_SIZE, buf->raw_size);
  }
  return fbb_end(b);
}

static uint32_t tb_write_tensor_maps(fbb *b, const tb_tensor_map *maps,
                                     int count) {
  uint32_t refs[TB_MAX];
  for (int i = 0; i < count; i++) {
    uint32_t name = fbb_string(b, maps[i].name);
    fbb_start(b);
    fbb_add_ref(b, TFL_TENSORMAP_NAME, name);
    fbb_add_u32(b, TFL_TENSORMAP_TENSOR_INDEX, maps[i].tensor);
    refs[i] = fbb_end(b);
  }
  return fbb_ref_vector(b, refs, (uint32_t)count);
}

static uint32_t tb_write_signature(fbb *b, const tb_model *m) {
  uint32_t inputs = tb_write_tensor_maps(b, m->sig_inputs, m->num_sig_inputs);
  uint32_t outputs =
      tb_write_tensor_maps(b, m->sig_outputs, m->num_sig_outputs);
  uint32_t key = fbb_string(b, m->signature_key ? m->signature_key : "sig");
  fbb_start(b);
  fbb_add_ref(b, TFL_SIGNATURE_INPUTS, inputs);
  fbb_add_ref(b, TFL_SIGNATURE_OUTPUTS, outputs);
  fbb_add_ref(b, TFL_SIGNATURE_KEY, key);
  fbb_add_u32(b, TFL_SIGNATURE_SUBGRAPH_INDEX, m->signature_subgraph);
  uint32_t sig = fbb_end(b);
  return fbb_ref_vector(b, &sig, 1);
}

static uint32_t tb_write_one_subgraph(fbb *b, const tb_model *m) {
  uint32_t refs[TB_MAX];
  for (int i = 0; i < m->num_tensors; i++)
    refs[i] = tb_write_tensor(b, &m->tensors[i]);
  uint32_t tensors = fbb_ref_vector(b, refs, (uint32_t)m->num_tensors);
  for (int i = 0; i < m->num_operators; i++)
    refs[i] = tb_write_operator(b, &m->operators[i]);
  uint32_t ops = fbb_ref_vector(b, refs, (uint32_t)m->num_operators);
  uint32_t inputs = fbb_vector_i32(b, m->inputs, (uint32_t)m->num_inputs);
  uint32_t outputs = fbb_vector_i32(b, m->outputs, (uint32_t)m->num_outputs);
  uint32_t name = fbb_string(b, "main");
  fbb_start(b);
  fbb_add_ref(b, TFL_SUBGRAPH_TENSORS, tensors);
  fbb_add_ref(b, TFL_SUBGRAPH_INPUTS, inputs);
  fbb_add_ref(b, TFL_SUBGRAPH_OUTPUTS, outputs);
  fbb_add_ref(b, TFL_SUBGRAPH_OPERATORS, ops);
  fbb_add_ref(b, TFL_SUBGRAPH_NAME, name);
  return fbb_end(b);
}

static uint32_t tb_write_subgraph(fbb *b, const tb_model *m) {
  uint32_t refs[TB_MAX + 1];
  refs[0] = tb_write_one_subgraph(b, m);
  for (int i = 0; i < m->num_subgraphs; i++)
    refs[i + 1] = tb_write_one_subgraph(b, m->subgraphs[i]);
  return fbb_ref_vector(b, refs, (uint32_t)m->num_subgraphs + 1);
}

/* The flatbuffer part; `offsets` gives external buffers' file offsets. */
static uint8_t *tb_write_flatbuffer(const tb_model *m, const uint64_t *offsets,
                                    size_t *out_size) {
  fbb b;
  uint32_t refs[TB_MAX];
  fbb_init(&b);
  /* Buffers first, so the constant data ends the file: truncating any
   * byte then cuts into data something refers to. */
  for (int i = m->num_buffers; i-- > 0;)
    refs[i] = tb_write_buffer(&b, &m->buffers[i], offsets[i]);
  uint32_t buffers = fbb_ref_vector(&b, refs, (uint32_t)m->num_buffers);
  for (int i = 0; i < m->num_opcodes; i++)
    refs[i] = tb_write_opcode(&b, &m->opcodes[i]);
  uint32_t opcodes = fbb_ref_vector(&b, refs, (uint32_t)m->num_opcodes);
  uint32_t subgraphs = tb_write_subgraph(&b, m);
  uint32_t signatures = m->has_signature ? tb_write_signature(&b, m) : 0;
  uint32_t description = fbb_string(&b, "kiln test model");
  fbb_start(&b);
  fbb_add_u32(&b, TFL_MODEL_VERSION, m->version ? m->version : 3);
  fbb_add_ref(&b, TFL_MODEL_OPERATOR_CODES, opcodes);
  fbb_add_ref(&b, TFL_MODEL_SUBGRAPHS, subgraphs);
  fbb_add_ref(&b, TFL_MODEL_DESCRIPTION, description);
  fbb_add_ref(&b, TFL_MODEL_BUFFERS, buffers);
  if (signatures) fbb_add_ref(&b, TFL_MODEL_SIGNATURE_DEFS, signatures);
  uint32_t root = fbb_end(&b);
  uint8_t *out = fbb_finish(&b, root, TFL_FILE_IDENTIFIER, out_size);
  fbb_release(&b);
  return out;
}

static size_t tb_round16(size_t n) { return (n + 15) / 16 * 16; }

uint8_t *tb_build(const tb_model *m, size_t *out_size) {
  uint64_t offsets[TB_MAX] = {0};
  size_t size;
  /* Pass 1 measures the flatbuffer (offset fields have a fixed size), pass
   * 2 writes it with the external buffers' real offsets. */
  for (int i = 0; i < m->num_buffers; i++) offsets[i] = 2;
  free(tb_write_flatbuffer(m, offsets, &size));
  size_t end = tb_round16(size);
  for (int i = 0; i < m->num_buffers; i++) {
    if (!m->buffers[i].external) continue;
    offsets[i] = end;
    end = tb_round16(end + m->buffers[i].size);
  }
  size_t flat_size;
  uint8_t *flat = tb_write_flatbuffer(m, offsets, &flat_size);
  assert(flat_size == size);
  uint8_t *out = calloc(end ? end : 1, 1);
  assert(out);
  memcpy(out, flat, size);
  free(flat);
  for (int i = 0; i < m->num_buffers; i++)
    if (m->buffers[i].external)
      memcpy(out + offsets[i], m->buffers[i].data, m->buffers[i].size);
  *out_size = end;
  return out;
}
