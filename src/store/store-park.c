/* store-park.c: parking idle stores (store.h, "parking"): the SQLite connection and the
 * store's fds (ROOT/USER, bodies/, store.lock, store.db with -wal and -shm: six) are closed
 * and reopened on the next use, so that a mail process with tens of thousands of users keeps
 * a bounded number of fds and database caches. Traps: store_use() must run before every use
 * of store->db, dir_fd, bodies_fd or lock_fd that can come first in a store call (store_stmt,
 * store_exec, store_lock_write, store_body_open, store_sort_begin do it); parking only ever
 * happens from the event loop or from another store's reopen, never inside a call on the
 * store parked (store_parkable: no transaction, hence no cached chunk of the packed state);
 * a reopen takes the open lock shared like any handle but never sweeps (a sweep is only for
 * the first open, and skipping one is always safe: orphans wait for the next first open);
 * a parked store is not counted among the open handles in store.lock (store.c,
 * store_open_uncount: it holds no lock, so another process may open first and reset the
 * count): parking takes its count back like a close (and waits for no one: a store whose
 * write lock another process holds is not parked now), the reopen is read-only and counts
 * nothing, the first write lock after it counts the handle again; the connection setup is
 * store_db_connect, shared with store_db_open (which also migrates, and its commit would
 * touch the notify file and make every reopen look like a change). */
#include "store/store-private.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/xmalloc.h"

struct store_pool {
	unsigned open_max;
	unsigned open_count, parked_count;
	struct store *head, *tail; /* open stores, most recently used first */
	struct store *parked;      /* parked stores (linked through lru_next/lru_prev too) */
	bool keep_wal;             /* store_pool_keep_wal */
};

static int64_t store_park_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (int64_t)ts.tv_sec;
}

/* ---- the lists ---- */

static void store_lru_unlink(struct store_pool *pool, struct store *store)
{
	if (store->lru_prev != NULL)
		store->lru_prev->lru_next = store->lru_next;
	else if (pool->head == store)
		pool->head = store->lru_next;
	else if (pool->parked == store)
		pool->parked = store->lru_next;
	if (store->lru_next != NULL)
		store->lru_next->lru_prev = store->lru_prev;
	else if (pool->tail == store)
		pool->tail = store->lru_prev;
	store->lru_prev = store->lru_next = NULL;
}

static void store_lru_push(struct store_pool *pool, struct store *store)
{
	store->lru_prev = NULL;
	store->lru_next = pool->head;
	if (pool->head != NULL)
		pool->head->lru_prev = store;
	else
		pool->tail = store;
	pool->head = store;
}

static void store_parked_push(struct store_pool *pool, struct store *store)
{
	store->lru_prev = NULL;
	store->lru_next = pool->parked;
	if (pool->parked != NULL)
		pool->parked->lru_prev = store;
	pool->parked = store;
}

void store_pool_touch(struct store *store)
{
	struct store_pool *pool = store->pool;
	store->last_used = store_park_now();
	store->shrunk = false;
	if (pool->head == store)
		return;
	store_lru_unlink(pool, store);
	store_lru_push(pool, store);
}

/* ---- parking ---- */

static bool store_parkable(const struct store *store)
{
	return !store->parked && store->write_lock_depth == 0 && store->handles == 0 &&
	       store->iters == NULL && store->events.count == 0 && store->unlink_count == 0 &&
	       store->unlink_later_count == 0 && store->unlink_unsynced_count == 0 &&
	       store->defer_depth == 0 &&
	       store->state.count == 0 &&
	       (store->db == NULL || sqlite3_get_autocommit(store->db) != 0);
}

/* Memory a store keeps between uses (its queues are empty: store_parkable): the append
 * scratch keeps its first block (64 KiB), the queues their arrays. */
static void store_free_scratch(struct store *store)
{
	pool_destroy(&store->scratch);
	store->scratch = pool_create(64 * 1024);
	free(store->events.ev);
	store->events.ev = NULL;
	store->events.alloc = 0;
	free(store->unlink);
	store->unlink = NULL;
	store->unlink_alloc = 0;
}

int store_park(struct store *store)
{
	if (!store_parkable(store) || store_open_uncount(store) == 0)
		return 0;
	/* no checkpoint by the last connection's close: the WAL stays, committed and synced */
	if (store->pool != NULL && store->pool->keep_wal && store->db != NULL)
		sqlite3_db_config(store->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, (int *)NULL);
	store_db_close(store);
	/* closing the lock file releases the shared open lock: a first open elsewhere may sweep
	 * now, which is fine, nothing of ours is half-way */
	if (store->lock_fd >= 0)
		close(store->lock_fd);
	if (store->bodies_fd >= 0)
		close(store->bodies_fd);
	if (store->dir_fd >= 0)
		close(store->dir_fd);
	store->dir_fd = store->bodies_fd = store->lock_fd = -1;
	store->parked = true;
	store_free_scratch(store);
	struct store_pool *pool = store->pool;
	if (pool != NULL) {
		store_lru_unlink(pool, store);
		store_parked_push(pool, store);
		pool->open_count--;
		pool->parked_count++;
	}
	return 1;
}

bool store_is_parked(const struct store *store)
{
	return store->parked;
}

int store_pool_shed(struct store_pool *pool, const struct store *keep)
{
	for (struct store *s = pool->tail; s != NULL; s = s->lru_prev) {
		if (s != keep && store_park(s) > 0)
			return 1;
	}
	return 0;
}

static void store_pool_enforce(struct store_pool *pool, const struct store *keep)
{
	while (pool->open_max > 0 && pool->open_count > pool->open_max) {
		if (store_pool_shed(pool, keep) == 0)
			break; /* every other open store is busy: over the limit for a while */
	}
}

/* Room for one more open store: park the least recently used one while the pool is full,
 * before a store is opened or reopened rather than after, so that the limit also holds while
 * the opening waits (for another process's lock, SQLite's busy handler): parking afterwards
 * left open_max + 1 stores open meanwhile. */
void store_pool_reserve(struct store_pool *pool, const struct store *keep)
{
	while (pool->open_max > 0 && pool->open_count >= pool->open_max) {
		if (store_pool_shed(pool, keep) == 0)
			break; /* every open store is busy: store_pool_enforce tries again after */
	}
}

/* ---- reopening ---- */

static void store_unpark_undo(struct store *store)
{
	if (store->db != NULL) {
		sqlite3_close_v2(store->db);
		store->db = NULL;
	}
	if (store->lock_fd >= 0)
		close(store->lock_fd);
	if (store->bodies_fd >= 0)
		close(store->bodies_fd);
	if (store->dir_fd >= 0)
		close(store->dir_fd);
	store->dir_fd = store->bodies_fd = store->lock_fd = -1;
}

/* One attempt; *emfile_r when it failed for lack of fds. */
static int store_unpark_try(struct store *store, bool *emfile_r)
{
	*emfile_r = false;
	const char *what = store->dir;
	store->dir_fd = open(store->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (store->dir_fd < 0)
		goto fail_errno;
	what = "bodies";
	store->bodies_fd = openat(store->dir_fd, "bodies",
				  O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (store->bodies_fd < 0)
		goto fail_errno;
	what = "store.lock";
	store->lock_fd = openat(store->dir_fd, "store.lock",
				O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (store->lock_fd < 0)
		goto fail_errno;
	/* shared like every handle; if we happen to be the only one, no sweep (see the top) */
	int first = store_lock_open(store);
	if (first < 0 || (first > 0 && store_lock_open_downgrade(store) < 0)) {
		store_unpark_undo(store);
		return -1;
	}
	size_t len = strlen(store->dir) + sizeof("/store.db");
	char *path = xmalloc(len);
	snprintf(path, len, "%s/store.db", store->dir);
	/* a database that went away while parked is an error, not a new empty store (store_open
	 * decides about recovery); journal_mode WAL is persistent in the file */
	int r = store_db_connect(store, path, false);
	free(path);
	if (r < 0) {
		int err = store->db != NULL ? sqlite3_system_errno(store->db) : 0;
		*emfile_r = err == EMFILE || err == ENFILE;
		store_unpark_undo(store);
		return -1;
	}
	return 0;
fail_errno:
	*emfile_r = errno == EMFILE || errno == ENFILE;
	store_fail(store, STORE_ERR_INTERNAL, NULL, "cannot reopen %s (%s): %s", store->dir, what,
		   strerror(errno));
	store_unpark_undo(store);
	return -1;
}

int store_unpark(struct store *store)
{
	if (!store->parked)
		return 0;
	if (store->pool != NULL)
		store_pool_reserve(store->pool, store);
	bool emfile;
	int r = store_unpark_try(store, &emfile);
	/* out of fds: park another store and try once more */
	if (r < 0 && emfile && store->pool != NULL && store_pool_shed(store->pool, store) > 0)
		r = store_unpark_try(store, &emfile);
	if (r < 0)
		return -1;
	store->parked = false;
	store->reopened = true;
	struct store_pool *pool = store->pool;
	if (pool != NULL) {
		store_lru_unlink(pool, store);
		store_lru_push(pool, store);
		store->last_used = store_park_now();
		pool->parked_count--;
		pool->open_count++;
		store_pool_enforce(pool, store);
	}
	return 0;
}

/* ---- the pool ---- */

struct store_pool *store_pool_create(unsigned open_max)
{
	struct store_pool *pool = xcalloc(1, sizeof(*pool));
	pool->open_max = open_max;
	return pool;
}

void store_pool_keep_wal(struct store_pool *pool, bool keep)
{
	pool->keep_wal = keep;
}

void store_pool_destroy(struct store_pool **poolp)
{
	struct store_pool *pool = *poolp;
	if (pool == NULL)
		return;
	*poolp = NULL;
	while (pool->head != NULL)
		store_pool_leave(pool->head);
	while (pool->parked != NULL)
		store_pool_leave(pool->parked);
	free(pool);
}

void store_pool_add(struct store_pool *pool, struct store *store)
{
	if (store->pool != NULL)
		store_pool_leave(store);
	store->pool = pool;
	store->last_used = store_park_now();
	if (store->parked) {
		store_parked_push(pool, store);
		pool->parked_count++;
		return;
	}
	store_lru_push(pool, store);
	pool->open_count++;
	store_pool_enforce(pool, store);
}

void store_pool_leave(struct store *store)
{
	struct store_pool *pool = store->pool;
	if (pool == NULL)
		return;
	store_lru_unlink(pool, store);
	if (store->parked)
		pool->parked_count--;
	else
		pool->open_count--;
	store->pool = NULL;
}

unsigned store_pool_park_idle(struct store_pool *pool, unsigned idle_secs)
{
	int64_t before = store_park_now() - (int64_t)idle_secs;
	unsigned parked = 0;
	/* from the least recently used on; a busy one is skipped, the first recent one ends it */
	for (struct store *s = pool->tail, *prev; s != NULL && s->last_used <= before; s = prev) {
		prev = s->lru_prev;
		parked += (unsigned)store_park(s);
	}
	return parked;
}

/* The cached statements are finalized (none runs: store_parkable), so their memory goes
 * with them; sqlite3_db_release_memory frees the page cache (the WAL index is a mapping of
 * -shm, not heap). SQLite's bulk allocation of the first 20 cache pages of a connection,
 * which release_memory cannot free, is off in the whole process (store_library_init). */
static int store_shrink(struct store *store)
{
	if (store->parked || store->shrunk || store->db == NULL || !store_parkable(store))
		return 0;
	for (size_t i = 0; i < STMT_COUNT; i++) {
		if (store->stmts[i] != NULL && sqlite3_stmt_busy(store->stmts[i]))
			return 0; /* not between calls after all: another time */
	}
	store_stmts_finalize(store);
	sqlite3_db_release_memory(store->db);
	store_free_scratch(store);
	store->shrunk = true;
	return 1;
}

unsigned store_pool_shrink_idle(struct store_pool *pool, unsigned idle_secs)
{
	int64_t before = store_park_now() - (int64_t)idle_secs;
	unsigned shrunk = 0;
	for (struct store *s = pool->tail; s != NULL && s->last_used <= before; s = s->lru_prev)
		shrunk += (unsigned)store_shrink(s);
	return shrunk;
}

void store_pool_counts(const struct store_pool *pool, unsigned *open_r, unsigned *parked_r)
{
	*open_r = pool->open_count;
	*parked_r = pool->parked_count;
}
