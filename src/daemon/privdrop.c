/* privdrop.c: setuid/chroot for the process roles. Order matters: chroot needs root, groups
 * before gid before uid, and afterwards setuid(0) must fail. */
#include "privdrop.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

bool privdrop_is_root(void)
{
	return geteuid() == 0;
}

int privdrop_lookup(const char *user, uid_t *uid_r, gid_t *gid_r, char *error, size_t error_size)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	if (getpwnam_r(user, &pw, buf, sizeof(buf), &res) != 0 || res == NULL) {
		snprintf(error, error_size,
			 "system user '%s' does not exist (create it, e.g. useradd --system %s, or set another user in kura.conf)",
			 user, user);
		return -1;
	}
	*uid_r = pw.pw_uid;
	*gid_r = pw.pw_gid;
	return 0;
}

int privdrop_lookup_group(const char *group, gid_t *gid_r, char *error, size_t error_size)
{
	struct group gr, *res = NULL;
	char buf[8192];
	if (getgrnam_r(group, &gr, buf, sizeof(buf), &res) != 0 || res == NULL) {
		snprintf(error, error_size, "system group '%s' does not exist", group);
		return -1;
	}
	*gid_r = gr.gr_gid;
	return 0;
}

int privdrop_apply(const char *user, const char *chroot_dir, char *error, size_t error_size)
{
	if (!privdrop_is_root())
		return 0;
	uid_t uid;
	gid_t gid;
	if (privdrop_lookup(user, &uid, &gid, error, error_size) < 0)
		return -1;
	if (chroot_dir != NULL) {
		if (chroot(chroot_dir) < 0 || chdir("/") < 0) {
			snprintf(error, error_size, "chroot(%s): %s", chroot_dir, strerror(errno));
			return -1;
		}
	}
	if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0) {
		snprintf(error, error_size, "dropping privileges to %s: %s", user, strerror(errno));
		return -1;
	}
	if (uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
		snprintf(error, error_size, "could regain root after dropping privileges");
		return -1;
	}
	return 0;
}

void privdrop_set_name(const char *name)
{
	prctl(PR_SET_NAME, name, 0, 0, 0);
}
