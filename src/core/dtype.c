/* dtype.c - names and sizes of element types. */
#include <stdint.h>

#include "core/dtype_private.h"
#include "kiln.h"

const char *kiln_dtype_name(kiln_dtype dtype) {
  if (dtype == KILN_RESOURCE) return "resource";
  switch (dtype) {
    case KILN_FLOAT32:
      return "float32";
    case KILN_FLOAT16:
      return "float16";
    case KILN_INT8:
      return "int8";
    case KILN_UINT8:
      return "uint8";
    case KILN_INT16:
      return "int16";
    case KILN_INT32:
      return "int32";
    case KILN_INT64:
      return "int64";
    case KILN_BOOL:
      return "bool";
    case KILN_FLOAT64:
      return "float64";
    case KILN_COMPLEX64:
      return "complex64";
    case KILN_UINT16:
      return "uint16";
    case KILN_UINT32:
      return "uint32";
    case KILN_UINT64:
      return "uint64";
    case KILN_STRING:
      return "string";
    case KILN_DTYPE_INVALID:
      break;
  }
  return "invalid";
}

size_t kiln_dtype_size(kiln_dtype dtype) {
  if (dtype == KILN_RESOURCE) return sizeof(int32_t);
  switch (dtype) {
    case KILN_FLOAT32:
      return 4;
    case KILN_FLOAT16:
      return 2;
    case KILN_INT8:
      return 1;
    case KILN_UINT8:
      return 1;
    case KILN_INT16:
      return 2;
    case KILN_INT32:
      return 4;
    case KILN_INT64:
      return 8;
    case KILN_BOOL:
      return 1;
    case KILN_FLOAT64:
      return 8;
    case KILN_COMPLEX64:
      return 8;
    case KILN_UINT16:
      return 2;
    case KILN_UINT32:
      return 4;
    case KILN_UINT64:
      return 8;
    case KILN_STRING:
      return sizeof(kiln_string);
    case KILN_DTYPE_INVALID:
      break;
  }
  return 0;
}
