/* session_strings.h - the bytes of a session's STRING inputs
 * (runtime/session_strings.c). Private to src/runtime. */
#ifndef KILN_RUNTIME_SESSION_STRINGS_H
#define KILN_RUNTIME_SESSION_STRINGS_H

#include <stddef.h>

#include "kernels/kernel.h"
#include "kiln.h"

struct kiln_session;

/* Copies `count` strings into session storage for input `index` and
 * writes views of the copies into `t` (the input's tensor). */
kiln_status *kiln_session_copy_strings(struct kiln_session *s, int index,
                                       kiln_tensor *t, const kiln_string *src,
                                       size_t count);
void kiln_session_free_strings(struct kiln_session *s);

#endif
