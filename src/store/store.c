/* store.c: opening and closing a user's store: ROOT/USER/ with store.db, store.lock and
 * bodies/. Traps: every folder created is made durable by an fsync of its parent; the first
 * handle to open a store (exclusive open lock) sweeps orphans, later ones must not (another
 * process may be between writing a body file and committing its row); a database created next
 * to existing body files means the old one was lost: the files are recovered, not swept.
 * The sweep reads every body folder (130-170 ms at 100k messages), so it runs only when a
 * handle may have left an orphan: a count in store.lock of the handles opened since the last
 * sweep and not closed (each open writes its increment durably before it can write a body
 * file; store_close takes it back). A handle that crashed never takes it back, so the next
 * first opener finds it above zero and sweeps; a store from before the counter sweeps once.
 * A parked handle (store-park.c) is not counted: parking takes its count back, the first write
 * lock after the reopen counts it again (store_open_uncount). */
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

static __thread char store_open_errbuf[512];

static int store_open_fail(const char **error_r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int store_open_fail(const char **error_r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(store_open_errbuf, sizeof(store_open_errbuf), fmt, ap);
	va_end(ap);
	*error_r = store_open_errbuf;
	return -1;
}

/* The caller validated the name (userdb_name_valid); this only makes sure it is one path
 * component that is not hidden, whatever happens above. */
static bool store_user_safe(const char *user)
{
	size_t len = strlen(user);
	if (len == 0 || len > STORE_USER_MAX || user[0] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)user[i];
		if (c == '/' || c < 0x20 || c == 0x7f)
			return false;
	}
	return true;
}

static int store_fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int r = fsync(fd);
	close(fd);
	return r;
}

static void store_log_report(void *ctx, const char *line)
{
	const struct store *store = ctx;
	log_info("store %s: %s", store->dir, line);
}

/* 1 if bodies/ holds any file in a hash folder */
static int store_bodies_present(struct store *store)
{
	static const char digits[] = "0123456789abcdef";
	for (unsigned idx = 0; idx < 256; idx++) {
		char xx[3] = { digits[idx / 16], digits[idx % 16], '\0' };
		int fd = openat(store->bodies_fd, xx, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0)
			continue;
		DIR *d = fdopendir(fd);
		if (d == NULL) {
			close(fd);
			continue;
		}
		struct dirent *de;
		bool found = false;
		while (!found && (de = readdir(d)) != NULL)
			found = de->d_name[0] != '.';
		closedir(d);
		if (found)
			return 1;
	}
	return 0;
}

/* The open-handle count (see the top) lives in store.lock at this offset, 8 bytes little
 * endian, next to the byte-range locks (which do not touch the contents): a file of its own
 * rather than a database row, because a commit at every open would tell every other handle's
 * listeners that the store changed. Read and written under the write lock. */
#define STORE_OPEN_COUNT_OFFSET 16

/* 1 and the count, 0 absent (a store from before the counter, or a new lock file), -1 */
static int store_open_count_read(struct store *store, uint64_t *count_r)
{
	unsigned char b[8];
	ssize_t n = pread(store->lock_fd, b, sizeof(b), STORE_OPEN_COUNT_OFFSET);
	*count_r = 0;
	if (n < 0)
		return store_fail(store, STORE_ERR_INTERNAL, NULL, "cannot read %s/store.lock: %s",
				  store->dir, strerror(errno));
	if (n != (ssize_t)sizeof(b))
		return 0;
	for (int i = 7; i >= 0; i--)
		*count_r = (*count_r << 8) | b[i];
	return 1;
}

static int store_open_count_write(struct store *store, uint64_t count, bool sync)
{
	unsigned char b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(count >> (8 * i));
	if (pwrite(store->lock_fd, b, sizeof(b), STORE_OPEN_COUNT_OFFSET) != (ssize_t)sizeof(b) ||
	    (sync && fdatasync(store->lock_fd) < 0))
		return store_fail(store, STORE_ERR_INTERNAL, NULL, "cannot write %s/store.lock: %s",
				  store->dir, strerror(errno));
	return 0;
}

/* Count this handle and sweep if a handle since the last sweep did not close (see the top).
 * first: this handle holds the open lock exclusively (no other is open). The count is on disk
 * before this handle can write a body file. */
static int store_open_count(struct store *store, bool first, bool created)
{
	uint64_t count;
	int found = store_open_count_read(store, &count);
	if (found < 0)
		return -1;
	if (first && !created && (found == 0 || count != 0)) {
		unsigned swept;
		if (store_body_sweep(store, true, store_log_report, store, &swept) < 0)
			return -1;
	}
	if (store_open_count_write(store, first ? 1 : count + 1, true) < 0)
		return -1;
	store->counted = true;
	return 0;
}

/* A parked handle is not counted: it holds no lock, so another process's open can be the
 * first and reset the count to its own handle, and a parked handle that stayed counted would
 * later take back a count that is not its own (an orphan of a crash then goes unswept) or,
 * never reset, make every first open sweep (an LMTP delivery to a user whose sessions are all
 * parked). Parking has nothing in flight (store_parkable), so it leaves the count like a
 * close; the reopen is read-only until the first write lock, which counts the handle again
 * before any body file is written. */
int store_open_uncount(struct store *store)
{
	if (!store->counted)
		return 1;
	/* the park runs from the event loop: never wait for another process's append */
	int r = store_lock_write_try(store);
	if (r == 0)
		return 0;
	uint64_t count;
	if (r > 0 && store_open_count_read(store, &count) > 0 && count > 0)
		(void)store_open_count_write(store, count - 1, false); /* lost: one sweep more */
	if (r > 0)
		store_unlock_write(store);
	store_clear_error(store);
	store->counted = false;
	store->recount = true;
	return 1;
}

int store_open_recount(struct store *store)
{
	uint64_t count;
	if (store_open_count_read(store, &count) < 0 ||
	    store_open_count_write(store, count + 1, true) < 0)
		return -1;
	store->counted = true;
	store->recount = false;
	return 0;
}

/* store_close: this handle is done. Not synced: if the decrement is lost in a crash, the next
 * first open only sweeps once more. A parked handle is not counted (store_open_uncount): its
 * close writes nothing and does not reopen it. */
static void store_close_count(struct store *store)
{
	uint64_t count;
	if (store_lock_write(store) < 0)
		return;
	if (store_open_count_read(store, &count) > 0 && count > 0)
		(void)store_open_count_write(store, count - 1, false);
	store_unlock_write(store);
}

static int store_open_files(struct store *store)
{
	bool dir_dirty = false;
	store->dir_fd = open(store->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (store->dir_fd < 0)
		return store_fail(store, STORE_ERR_INTERNAL, NULL, "cannot open %s: %s", store->dir,
				  strerror(errno));
	if (mkdirat(store->dir_fd, "bodies", 0700) == 0)
		dir_dirty = true;
	else if (errno != EEXIST)
		return store_fail(store, STORE_ERR_INTERNAL, NULL, "cannot create %s/bodies: %s",
				  store->dir, strerror(errno));
	store->bodies_fd = openat(store->dir_fd, "bodies",
				  O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (store->bodies_fd < 0)
		return store_fail(store, STORE_ERR_INTERNAL, NULL, "cannot open %s/bodies: %s",
				  store->dir, strerror(errno));
	store->lock_fd = openat(store->dir_fd, "store.lock",
				O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (store->lock_fd < 0)
		return store_fail(store, STORE_ERR_INTERNAL, NULL, "cannot open %s/store.lock: %s",
				  store->dir, strerror(errno));
	/* create the database file ourselves so that it is 0600 (SQLite would use 0644 &
	 * ~umask); the -wal and -shm files take its permissions */
	int fd = openat(store->dir_fd, "store.db", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return store_fail(store, STORE_ERR_INTERNAL, NULL, "cannot open %s/store.db: %s",
				  store->dir, strerror(errno));
	close(fd);
	if (dir_dirty && fsync(store->dir_fd) < 0)
		return store_fail(store, STORE_ERR_INTERNAL, NULL, "cannot sync %s: %s", store->dir,
				  strerror(errno));
	return 0;
}

int store_open(const char *root, const char *user, struct store **store_r, const char **error_r)
{
	*store_r = NULL;
	if (!store_user_safe(user))
		return store_open_fail(error_r, "invalid user name for a store");
	if (dir_create(root, 0700) < 0)
		return store_open_fail(error_r, "cannot create %s: %s", root, strerror(errno));

	struct store *store = xcalloc(1, sizeof(*store));
	store->dir_fd = store->bodies_fd = store->lock_fd = -1;
	size_t len = strlen(root) + 1 + strlen(user) + 1;
	store->dir = xmalloc(len);
	snprintf(store->dir, len, "%s/%s", root, user);
	if (mkdir(store->dir, 0700) == 0) {
		if (store_fsync_dir(root) < 0) {
			store_open_fail(error_r, "cannot sync %s: %s", root, strerror(errno));
			store_close(&store);
			return -1;
		}
	} else if (errno != EEXIST) {
		store_open_fail(error_r, "cannot create %s: %s", store->dir, strerror(errno));
		store_close(&store);
		return -1;
	}
	store->scratch = pool_create(64 * 1024);
	/* ROOT/.notify: a name no user can have (store_user_safe refuses a leading '.') */
	len = strlen(root) + sizeof("/.notify/") + strlen(user);
	store->notify_path = xmalloc(len);
	snprintf(store->notify_path, len, "%s/.notify", root);
	if (mkdir(store->notify_path, 0700) < 0 && errno != EEXIST) {
		store_open_fail(error_r, "cannot create %s: %s", store->notify_path, strerror(errno));
		store_close(&store);
		return -1;
	}
	snprintf(store->notify_path, len, "%s/.notify/%s", root, user);

	int first = -1;
	if (store_open_files(store) < 0 || (first = store_lock_open(store)) < 0 ||
	    store_lock_write(store) < 0)
		goto fail;
	char *path = xmalloc(strlen(store->dir) + sizeof("/store.db"));
	memcpy(path, store->dir, strlen(store->dir));
	memcpy(path + strlen(store->dir), "/store.db", sizeof("/store.db"));
	bool created;
	int r = store_db_open(store, path, &created);
	free(path);
	if (r < 0)
		goto fail;
	if (created && fsync(store->dir_fd) < 0) {
		store_fail(store, STORE_ERR_INTERNAL, NULL, "cannot sync %s: %s", store->dir,
			   strerror(errno));
		goto fail;
	}
	if (created && store_bodies_present(store) > 0) {
		/* the database was lost (or moved away by the operator) but the bodies are here */
		log_warn("store %s: new database next to existing body files: recovering them",
			 store->dir);
		if (store_recover_bodies(store) < 0)
			goto fail;
	}
	if (store_open_count(store, first > 0, created) < 0)
		goto fail;
	store_unlock_write(store);
	if (first > 0 && store_lock_open_downgrade(store) < 0)
		goto fail;
	/* Bodies not indexed yet (new ones, those of a store migrated from schema 4, those of an
	 * interrupted reindex) are not indexed here: an open must stay cheap (every LMTP
	 * delivery, every first LOGIN). Searches index what they need first; idle time the rest
	 * (store_index_pending). */
	(void)store_refresh(store); /* the data version to compare with from now on */
	store_clear_error(store);
	*store_r = store;
	return 0;
fail:
	store_open_fail(error_r, "%s", store->errbuf);
	store_close(&store);
	return -1;
}

void store_close(struct store **storep)
{
	struct store *store = *storep;
	if (store == NULL)
		return;
	store_defer_close(store);
	/* the files of bodies dropped by earlier commits (store_set_unlink_hook); what fails
	 * stays for the sweep (the handle is then not taken back from the count) */
	bool orphans = store_unlink_pending(store, SIZE_MAX) != 0;
	store_pool_leave(store);
	if (store->counted && !orphans)
		store_close_count(store);
	store_db_close(store);
	/* closing the lock file releases both OFD locks */
	if (store->lock_fd >= 0)
		close(store->lock_fd);
	if (store->bodies_fd >= 0)
		close(store->bodies_fd);
	if (store->dir_fd >= 0)
		close(store->dir_fd);
	pool_destroy(&store->scratch);
	free(store->events.ev);
	store_state_clear(store);
	free(store->state.c);
	free(store->unlink);
	free(store->unlink_later);
	free(store->dir);
	free(store->notify_path);
	free(store);
	*storep = NULL;
}

enum store_error store_last_error(const struct store *store)
{
	return store->last_error;
}
