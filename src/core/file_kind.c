/* file_kind.c - names the kind of file an st_mode describes, for the
 * loaders' "not a regular file" errors. */
#include "core/file_kind.h"

#include <sys/stat.h>

const char *kiln_file_kind(mode_t mode) {
  if (S_ISDIR(mode)) return "directory";
  if (S_ISFIFO(mode)) return "FIFO";
  if (S_ISCHR(mode)) return "character device";
  if (S_ISBLK(mode)) return "block device";
  if (S_ISSOCK(mode)) return "socket";
  if (S_ISREG(mode)) return "regular file";
  return "special file";
}
