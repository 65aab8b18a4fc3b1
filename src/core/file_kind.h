/* file_kind.h - a word for what a path names, for errors that refuse
 * anything but a regular file ("a directory", "a FIFO"). */
#ifndef KILN_CORE_FILE_KIND_H
#define KILN_CORE_FILE_KIND_H

#include <sys/types.h>

/* "directory", "FIFO", "character device", ... for an st_mode. */
const char *kiln_file_kind(mode_t mode);

#endif
