/* dtype_private.h - element types kiln uses inside a model but never shows
 * through kiln.h. KILN_RESOURCE is TFLite's RESOURCE tensor type: a handle
 * to a session's resource variable, stored as an int32 variable id. It is
 * not public because no caller can make or read one meaningfully; a model
 * whose graph inputs or outputs are resources shows them as such by name
 * only. Its value lies outside kiln_dtype's listed ones, so switches over
 * kiln_dtype test for it first. */
#ifndef KILN_CORE_DTYPE_PRIVATE_H
#define KILN_CORE_DTYPE_PRIVATE_H

#include "kiln.h"

#define KILN_RESOURCE ((kiln_dtype)64)

#endif
