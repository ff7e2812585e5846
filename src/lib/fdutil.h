/* fdutil.h: small helpers for file descriptors. All return 0 on success, -1 with errno set. */
#ifndef KURA_LIB_FDUTIL_H
#define KURA_LIB_FDUTIL_H

#include <stddef.h>

int fd_set_nonblock(int fd);
int fd_set_cloexec(int fd);
/* Write all n bytes to a blocking fd, retrying on EINTR. */
int fd_write_all(int fd, const void *p, size_t n);
/* Write a file atomically: temp file in the same folder, fsync, rename, fsync the folder. */
int file_write_atomic(const char *path, const void *p, size_t n, int mode);
/* Create a directory (and missing parents) with mode; existing is fine. */
int dir_create(const char *path, int mode);

#endif
