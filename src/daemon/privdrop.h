/* privdrop.h: process roles give up privileges here. When kura runs as root each child takes
 * its configured uid (and login processes chroot into an empty folder); as an ordinary user
 * every process keeps that user's uid, which the log says once at start. */
#ifndef KURA_DAEMON_PRIVDROP_H
#define KURA_DAEMON_PRIVDROP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

bool privdrop_is_root(void);
/* Look up a user name. 0 or -1 with a message. */
int privdrop_lookup(const char *user, uid_t *uid_r, gid_t *gid_r, char *error, size_t error_size);
/* Look up a group name. 0 or -1 with a message. */
int privdrop_lookup_group(const char *group, gid_t *gid_r, char *error, size_t error_size);
/* As root: chroot (if chroot_dir is not NULL), drop supplementary groups, setgid, setuid to
 * user, and check that root cannot be regained. As non-root: nothing. 0 or -1. */
int privdrop_apply(const char *user, const char *chroot_dir, char *error, size_t error_size);
/* Name the process (shown in /proc/PID/comm, ps, top). */
void privdrop_set_name(const char *name);

#endif
