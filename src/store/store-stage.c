/* store-stage.c: group commit for a process appending to many stores (store.h explains the
 * five steps). The staging folder belongs to one process; its files are named by a counter and
 * hard-linked into the stores' bodies/ folders, so one message stored for many users is one
 * file with many names (the bytes are written and synced once). Traps: a link made before the
 * first sync is a name whose bytes may not be durable, so nothing may name it in a row before
 * that sync (store-message.c syncs a present file that no row names before using it, and the
 * orphan sweep after an unclean close removes such names before any append runs); a link can
 * be removed by a concurrent failed append of the same bytes, so step 4 checks again under the
 * write lock. */
#include "store/store-private.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/fdutil.h"
#include "lib/log.h"
#include "lib/xmalloc.h"

struct store_stage {
	int dir_fd;
	char *dir;
	unsigned long seq;
	/* what the next store_stage_sync or store_stage_submit must make durable: staged files,
	 * bodies/ folders, WAL files */
	struct store_syncset sync;
};

void store_stage_note_wal(struct store_stage *stage, const struct store *store)
{
	store_syncset_add(&stage->sync, store->dir, "store.db-wal");
}

static int stage_fail(const char **error_r, const char *what, const char *path, int e)
{
	static __thread char buf[512];
	if (snprintf(buf, sizeof(buf), "%s %.300s: %s", what, path, strerror(e)) < 0)
		buf[0] = '\0';
	if (error_r != NULL)
		*error_r = buf;
	return -1;
}

static void stage_name(unsigned long seq, char out[32])
{
	snprintf(out, 32, "%lu", seq);
}

int store_stage_open(const char *root, const char *name, struct store_stage **stage_r,
		     const char **error_r)
{
	char path[4096];
	/* ROOT/.stage: a name no user can have (store_user_safe refuses a leading '.') */
	if (snprintf(path, sizeof(path), "%s/.stage", root) >= (int)sizeof(path) ||
	    strchr(name, '/') != NULL || name[0] == '.' || name[0] == '\0')
		return stage_fail(error_r, "invalid staging folder", name, EINVAL);
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return stage_fail(error_r, "cannot create", path, errno);
	if (snprintf(path, sizeof(path), "%s/.stage/%s", root, name) >= (int)sizeof(path))
		return stage_fail(error_r, "invalid staging folder", name, ENAMETOOLONG);
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return stage_fail(error_r, "cannot create", path, errno);
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return stage_fail(error_r, "cannot open", path, errno);
	/* what a crashed predecessor left: no store depends on these names (they are linked) */
	int dfd = dup(fd);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (d == NULL) {
		int e = errno;
		if (dfd >= 0)
			close(dfd);
		close(fd);
		return stage_fail(error_r, "cannot list", path, e);
	}
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.')
			(void)unlinkat(fd, de->d_name, 0);
	}
	closedir(d);
	struct store_stage *stage = xcalloc(1, sizeof(*stage));
	stage->dir_fd = fd;
	stage->dir = xstrdup(path);
	*stage_r = stage;
	return 0;
}

void store_stage_close(struct store_stage **stage)
{
	if (*stage == NULL)
		return;
	close((*stage)->dir_fd);
	store_syncset_free(&(*stage)->sync);
	free((*stage)->dir);
	free(*stage);
	*stage = NULL;
}

int store_stage_fd(const struct store_stage *stage)
{
	return stage->dir_fd;
}

int store_stage_write(struct store_stage *stage, const void *data, size_t size,
		      struct store_staged *b, const char **error_r)
{
	char name[32];
	store_hash_hex(size > 0 ? data : "", size, b->hash);
	b->size = size;
	b->seq = ++stage->seq;
	stage_name(b->seq, name);
	int fd = openat(stage->dir_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
			0600);
	if (fd < 0)
		return stage_fail(error_r, "cannot create a file in", stage->dir, errno);
	if (fd_write_all(fd, data, size) < 0 || close(fd) < 0) {
		int e = errno;
		(void)unlinkat(stage->dir_fd, name, 0);
		return stage_fail(error_r, "cannot write a file in", stage->dir, e);
	}
	store_syncset_add(&stage->sync, stage->dir, name);
	return 0;
}

int store_stage_sync(struct store_stage *stage, const char **error_r)
{
	return store_syncset_run(&stage->sync, stage->dir_fd, error_r);
}

void store_stage_submit(struct store_stage *stage, struct store_syncer *syncer,
			store_sync_done_cb *cb, void *ctx)
{
	store_syncer_submit(syncer, &stage->sync, cb, ctx);
}

void store_stage_drop(struct store_stage *stage, const struct store_staged *b)
{
	char name[32];
	stage_name(b->seq, name);
	/* nothing left to sync there (a batch that failed before its sync) */
	store_syncset_remove(&stage->sync, stage->dir, name);
	if (unlinkat(stage->dir_fd, name, 0) < 0 && errno != ENOENT)
		log_warn("cannot remove %s/%s: %s", stage->dir, name, strerror(errno));
}

/* link the staged file to bodies/XX/HASH; EEXIST is returned as is */
static int stage_link(struct store *store, const struct store_stage *stage,
		      const struct store_staged *b, bool *new_dir_r)
{
	char name[32], rel[STORE_HASH_HEX + 4];
	stage_name(b->seq, name);
	store_body_relpath(b->hash, rel);
	*new_dir_r = false;
	if (linkat(stage->dir_fd, name, store->bodies_fd, rel, 0) == 0)
		return 0;
	if (errno != ENOENT)
		return -1;
	/* the first body in this folder, or the staged file is gone (a bug: say so) */
	char dir[3] = { b->hash[0], b->hash[1], '\0' };
	if (mkdirat(store->bodies_fd, dir, 0700) == 0)
		*new_dir_r = true;
	else if (errno != EEXIST)
		return -1;
	return linkat(stage->dir_fd, name, store->bodies_fd, rel, 0);
}

int store_stage_link(struct store *store, struct store_stage *stage,
		     const struct store_staged *b, bool *created_r, const char **error_r)
{
	bool new_dir;
	char xx[10] = { 'b', 'o', 'd', 'i', 'e', 's', '/', b->hash[0], b->hash[1], '\0' };
	*created_r = false;
	store_clear_error(store);
	if (store_use(store) < 0)
		return store_failed(store, error_r);
	if (stage_link(store, stage, b, &new_dir) == 0) {
		*created_r = true;
		store_syncset_add(&stage->sync, store->dir, xx);
		if (new_dir)
			store_syncset_add(&stage->sync, store->dir, "bodies");
		return 0;
	}
	if (errno == EEXIST) {
		/* the store has those bytes (or a damaged file: step 4 sees to it); the name may
		 * be another group's, not synced yet */
		store_syncset_add(&stage->sync, store->dir, xx);
		return 0;
	}
	store_fail(store, STORE_ERR_INTERNAL, NULL, "cannot link body %s: %s", b->hash,
		   strerror(errno));
	return store_failed(store, error_r);
}

int store_stage_relink(struct store *store, struct store_stage *stage,
		       const struct store_staged *b)
{
	char rel[STORE_HASH_HEX + 4];
	bool new_dir;
	store_body_relpath(b->hash, rel);
	/* a file of another size under that name is damaged: the staged bytes replace it */
	if (unlinkat(store->bodies_fd, rel, 0) < 0 && errno != ENOENT)
		return store_fail(store, STORE_ERR_INTERNAL, NULL, "cannot replace body %s: %s",
				  b->hash, strerror(errno));
	if (stage_link(store, stage, b, &new_dir) < 0)
		return store_fail(store, STORE_ERR_INTERNAL, NULL, "cannot link body %s: %s",
				  b->hash, strerror(errno));
	unsigned char dirs[STORE_DIRSET] = {0};
	store_body_dir_mark(dirs, b->hash);
	if (new_dir)
		dirs[32] |= 1;
	return store_body_dirs_sync(store, dirs);
}

void store_stage_unlink(struct store *store, const struct store_staged *b)
{
	int64_t id;
	uint64_t size;
	store_clear_error(store);
	if (store_lock_write(store) < 0) {
		log_warn("store %s: cannot remove body %s (left for the sweep): %s", store->dir,
			 b->hash, store->errbuf);
		return;
	}
	if (store_body_lookup(store, b->hash, &id, &size) == 0)
		store_body_file_unlink(store, b->hash);
	store_unlock_write(store);
}

void store_notify_flush(struct store *store)
{
	if (!store->notify_pending)
		return;
	store->notify_pending = false;
	store_notify_touch(store);
}
