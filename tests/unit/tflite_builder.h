/* tflite_builder.h - test-only FlatBuffers builder and a TFLite model
 * writer on top of it. Tests #include "tflite_builder.c" (CMake turns only
 * test_*.c into executables), so each test program gets its own copy.
 *
 * The builder works like FlatBuffers' own: objects are written back to
 * front, children before their parents, and a reference to an object is
 * its distance from the end of the buffer. */
#ifndef KILN_TEST_TFLITE_BUILDER_H
#define KILN_TEST_TFLITE_BUILDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------ flatbuffers */

#define FBB_MAX_SLOTS 32

typedef struct fbb {
  uint8_t *buf; /* data occupies buf[cap - len, cap) */
  size_t cap, len, minalign;
  size_t table_start;           /* len when the open table began */
  size_t fields[FBB_MAX_SLOTS]; /* len after each field's value; 0: none */
  int num_slots;
} fbb;

void fbb_init(fbb *b);
void fbb_release(fbb *b);
/* Pads so that after `additional` more bytes the data is `align`-aligned. */
void fbb_align(fbb *b, size_t additional, size_t align);
void fbb_push(fbb *b, const void *bytes, size_t n);

/* Objects; each returns its reference. */
uint32_t fbb_string(fbb *b, const char *s);
/* A vector of scalars (little-endian bytes already), element 0 aligned to
 * `align` (at least 4). */
uint32_t fbb_vector(fbb *b, const void *data, uint32_t count, size_t elem_size,
                    size_t align);
uint32_t fbb_vector_i32(fbb *b, const int32_t *values, uint32_t count);
/* A vector of references (tables or strings). */
uint32_t fbb_ref_vector(fbb *b, const uint32_t *refs, uint32_t count);

void fbb_start(fbb *b);
void fbb_add_u8(fbb *b, int slot, uint8_t value);
void fbb_add_i32(fbb *b, int slot, int32_t value);
void fbb_add_u32(fbb *b, int slot, uint32_t value);
void fbb_add_u64(fbb *b, int slot, uint64_t value);
void fbb_add_f32(fbb *b, int slot, float value);
void fbb_add_ref(fbb *b, int slot, uint32_t ref);
uint32_t fbb_end(fbb *b);

/* The finished buffer (malloc'd; the caller frees it), with a 4-byte file
 * identifier when `identifier` is non-NULL. */
uint8_t *fbb_finish(fbb *b, uint32_t root, const char *identifier,
                    size_t *out_size);

/* ------------------------------------------------------------ tflite */

#define TB_MAX 16

/* One DimensionMetadata: SparseIndexVector arrays are given as int32 and
 * written at the width of their union type (1 Int32Vector, 2 Uint16Vector,
 * 3 Uint8Vector; 0 leaves the field out, anything else writes an
 * Int32Vector under that type number). */
typedef struct tb_dim {
  int8_t format; /* 0 DENSE, 1 SPARSE_CSR */
  int32_t dense_size;
  uint8_t segments_type, indices_type;
  int num_segments, num_indices;
  const int32_t *segments, *indices;
} tb_dim;

typedef struct tb_sparsity {
  int order_len, block_len, num_dims;
  int32_t order[TB_MAX], block_map[TB_MAX];
  tb_dim dims[TB_MAX];
} tb_sparsity;

typedef struct tb_tensor {
  const char *name; /* NULL: no name field */
  int8_t type;      /* TensorType */
  int rank;
  int32_t shape[TB_MAX];
  bool has_signature;
  int sig_rank;
  int32_t signature[TB_MAX];
  uint32_t buffer;
  int quant_count; /* scales and zero points */
  float scale[TB_MAX];
  int64_t zero_point[TB_MAX];
  int quant_axis;
  bool drop_zero_point;        /* write one zero point fewer than scales */
  bool is_variable;            /* state a recurrent operator updates */
  const tb_sparsity *sparsity; /* NULL: dense */
} tb_tensor;

typedef struct tb_buffer {
  const void *data;
  size_t size;
  /* Stored after the flatbuffer, referenced by offset/size fields. */
  bool external;
  /* Or: write these offset/size fields verbatim (no data). */
  bool raw;
  uint64_t raw_offset, raw_size;
} tb_buffer;

typedef struct tb_opcode {
  int32_t builtin;
  int8_t deprecated;
  const char *custom;
} tb_opcode;

/* A field of an options table: kind 'b' (byte), 'i' (int32), 'q' (int64 of
 * i), 'f' (float), 'v' (int32 vector), 'l' (int64 vector of vec's values)
 * or 's' (string). */
typedef struct tb_field {
  int slot;
  char kind;
  int32_t i;
  float f;
  int vec_len;
  int32_t vec[TB_MAX];
  const char *s;
} tb_field;

typedef struct tb_operator {
  uint32_t opcode_index;
  int num_inputs;
  int32_t inputs[TB_MAX];
  int num_outputs;
  int32_t outputs[TB_MAX];
  uint8_t options_type; /* 0: no options table */
  bool options_2;       /* the table is in BuiltinOptions2 (a type of it) */
  int num_options;
  tb_field options[8];
  const void *custom_options; /* raw bytes (custom operators) */
  size_t custom_options_size;
} tb_operator;

typedef struct tb_tensor_map {
  const char *name;
  uint32_t tensor;
} tb_tensor_map;

typedef struct tb_model {
  uint32_t version; /* 0 means 3 */
  int num_opcodes;
  tb_opcode opcodes[TB_MAX];
  int num_tensors;
  tb_tensor tensors[TB_MAX];
  int num_inputs;
  int32_t inputs[TB_MAX];
  int num_outputs;
  int32_t outputs[TB_MAX];
  int num_operators;
  tb_operator operators[TB_MAX];
  int num_buffers;
  tb_buffer buffers[TB_MAX];
  bool has_signature;
  const char *signature_key;
  uint32_t signature_subgraph;
  int num_sig_inputs;
  tb_tensor_map sig_inputs[TB_MAX];
  int num_sig_outputs;
  tb_tensor_map sig_outputs[TB_MAX];
  /* Subgraphs 1.. after this one (subgraph 0): their tensors, operators,
   * inputs and outputs are read; opcodes and buffers are this model's. */
  int num_subgraphs;
  const struct tb_model *subgraphs[TB_MAX];
} tb_model;

/* Serializes a model (malloc'd; the caller frees it). External buffers
 * follow the flatbuffer, each 16-byte aligned. */
uint8_t *tb_build(const tb_model *m, size_t *out_size);

#endif
