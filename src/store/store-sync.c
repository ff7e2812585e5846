/* store-sync.c: sync sets and the syncer thread (store.h, "background syncs"). A sync set
 * names what must become durable: files and folders by path, or, from STORE_SYNCSET_MAX names
 * on, the whole filesystem (one syncfs, the names are not kept). The syncer runs sets in one
 * thread of its own: the caller's event loop goes on while the disk works, and every set
 * submitted while a sync runs waits for the next one, merged with the others: one syncfs (or
 * one round of fsyncs) for all of them, the file system's journal commit shared. Traps: the
 * thread touches nothing but the paths and the filesystem fd (no store, no SQLite, no log
 * call), and the callbacks run on the caller's thread, in store_syncer_reap; a failed sync
 * fails every set of its round (which set named the bad path is not worth telling apart: an
 * fsync error means the disk is failing). */
#include "store/store-private.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "lib/fdutil.h"
#include "lib/log.h"
#include "lib/xmalloc.h"

/* --- sync sets --- */

void store_syncset_add(struct store_syncset *set, const char *dir, const char *name)
{
	if (set->whole_fs)
		return;
	char path[4096];
	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path)) {
		set->whole_fs = true; /* cannot be: store paths are far shorter; syncfs covers it */
		return;
	}
	for (size_t i = 0; i < set->count; i++) {
		if (strcmp(set->paths[i], path) == 0)
			return;
	}
	if (set->count + 1 >= STORE_SYNCSET_MAX) {
		/* one syncfs from here on: the list is no longer needed */
		store_syncset_clear(set);
		set->whole_fs = true;
		return;
	}
	if (set->count == set->alloc) {
		size_t n = set->alloc == 0 ? 8 : set->alloc * 2; /* < 2 * STORE_SYNCSET_MAX */
		set->paths = xrealloc(set->paths, n * sizeof(*set->paths));
		set->alloc = n;
	}
	set->paths[set->count++] = xstrdup(path);
}

void store_syncset_remove(struct store_syncset *set, const char *dir, const char *name)
{
	char path[4096];
	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return;
	for (size_t i = 0; i < set->count; i++) {
		if (strcmp(set->paths[i], path) == 0) {
			free(set->paths[i]);
			set->paths[i] = set->paths[--set->count];
			return;
		}
	}
}

void store_syncset_clear(struct store_syncset *set)
{
	for (size_t i = 0; i < set->count; i++)
		free(set->paths[i]);
	set->count = 0;
	set->whole_fs = false;
}

void store_syncset_free(struct store_syncset *set)
{
	store_syncset_clear(set);
	free(set->paths);
	set->paths = NULL;
	set->alloc = 0;
}

bool store_syncset_empty(const struct store_syncset *set)
{
	return set->count == 0 && !set->whole_fs;
}

/* into += from; from is emptied */
static void syncset_merge(struct store_syncset *into, struct store_syncset *from)
{
	if (from->whole_fs) {
		store_syncset_clear(into);
		into->whole_fs = true;
	}
	for (size_t i = 0; i < from->count && !into->whole_fs; i++) {
		/* the path is "dir/name" already: split at its last '/' */
		char *slash = strrchr(from->paths[i], '/');
		if (slash == NULL)
			continue;
		*slash = '\0';
		store_syncset_add(into, from->paths[i], slash + 1);
		*slash = '/';
	}
	store_syncset_clear(from);
}

/* fsync one path; 0, or -1 with the error in buf. Called from any thread: no logging. */
static int sync_path(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		/* a WAL file another connection checkpointed and removed meanwhile: its frames
		 * are in the database file, synced before the removal */
		size_t len = strlen(path);
		if (errno == ENOENT && len > 4 && strcmp(path + len - 4, "-wal") == 0)
			return 0;
		snprintf(buf, size, "cannot open %.300s: %s", path, strerror(errno));
		return -1;
	}
	int ret = 0;
	if (fsync(fd) < 0) {
		snprintf(buf, size, "cannot sync %.300s: %s", path, strerror(errno));
		ret = -1;
	}
	close(fd);
	return ret;
}

/* The syncs themselves, one after the other. Called from any thread: errors in buf. */
static int syncset_run(struct store_syncset *set, int fs_fd, char *buf, size_t size)
{
	int ret = 0;
	/* a few names: an fsync each, which flushes only them; many: one syncfs, which also
	 * writes back whatever else is dirty on the filesystem. syncfs reports writeback errors
	 * since Linux 5.8. */
	if (set->whole_fs) {
		if (syncfs(fs_fd) < 0) {
			snprintf(buf, size, "cannot sync the filesystem: %s", strerror(errno));
			ret = -1;
		}
		store_syncset_clear(set);
		return ret;
	}
	for (size_t i = 0; i < set->count && ret == 0; i++)
		ret = sync_path(set->paths[i], buf, size);
	store_syncset_clear(set);
	return ret;
}

int store_syncset_run(struct store_syncset *set, int fs_fd, const char **error_r)
{
	static __thread char buf[512];
	if (syncset_run(set, fs_fd, buf, sizeof(buf)) == 0)
		return 0;
	if (error_r != NULL)
		*error_r = buf;
	return -1;
}

/* --- the syncer --- */

struct sync_req {
	struct sync_req *next;
	struct store_syncset set;
	store_sync_done_cb *cb;
	void *ctx;
	bool failed;
	char error[512];
};

/* The fsyncs of a round run side by side: one after the other, each waits for a journal
 * commit of its own (3-8 ms on the benchmark machine); issued together, they share one. The
 * syncer thread and SYNC_HELPERS helper threads take the round's paths in turn (with 7, LMTP
 * from 8 connections ran 1.2x faster than with 3, bench/RESULTS.md). Their stacks are small:
 * they only open, fsync and close. */
#define SYNC_HELPERS 7
#define SYNC_STACK (256 * 1024)

struct store_syncer {
	int fs_fd;   /* for syncfs */
	pthread_t helpers[SYNC_HELPERS];
	unsigned helper_count;
	/* the round's paths (under lock): taken by index; active: threads still on it */
	struct store_syncset *round;
	size_t round_next;
	unsigned round_active, round_gen;
	bool round_failed;
	char round_error[512];
	pthread_cond_t round_start, round_end;
	int done_fd; /* eventfd: readable when finished requests wait for store_syncer_reap */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;     /* the thread: work arrived, or stop */
	pthread_cond_t finished; /* store_syncer_wait: a round is done */
	bool stop;
	/* under lock: submitted, not taken by the thread; finished, not reaped */
	struct sync_req *queue_head, **queue_tail;
	struct sync_req *done_head, **done_tail;
	size_t busy; /* submitted and not reaped (the caller's thread only) */
};

/* Take paths of the current round until none is left (lock held on entry and exit). */
static void round_work(struct store_syncer *s)
{
	s->round_active++;
	while (s->round != NULL && s->round_next < s->round->count && !s->round_failed) {
		const char *path = s->round->paths[s->round_next++];
		pthread_mutex_unlock(&s->lock);
		char error[512];
		int r = sync_path(path, error, sizeof(error));
		pthread_mutex_lock(&s->lock);
		if (r < 0 && !s->round_failed) {
			s->round_failed = true;
			memcpy(s->round_error, error, sizeof(error));
		}
	}
	if (--s->round_active == 0)
		pthread_cond_broadcast(&s->round_end);
}

static void *helper_thread(void *arg)
{
	struct store_syncer *s = arg;
	unsigned seen = 0;
	pthread_mutex_lock(&s->lock);
	for (;;) {
		while (s->round_gen == seen && !s->stop)
			pthread_cond_wait(&s->round_start, &s->lock);
		if (s->stop)
			break;
		seen = s->round_gen;
		round_work(s);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* A round's syncs: one syncfs, or the fsyncs side by side with the helpers. */
static int syncer_run(struct store_syncer *s, struct store_syncset *set, char *buf, size_t size)
{
	if (set->whole_fs || set->count <= 1 || s->helper_count == 0)
		return syncset_run(set, s->fs_fd, buf, size);
	pthread_mutex_lock(&s->lock);
	s->round = set;
	s->round_next = 0;
	s->round_failed = false;
	s->round_gen++;
	pthread_cond_broadcast(&s->round_start);
	round_work(s);
	while (s->round_active > 0)
		pthread_cond_wait(&s->round_end, &s->lock);
	s->round = NULL;
	bool failed = s->round_failed;
	if (failed)
		snprintf(buf, size, "%s", s->round_error);
	pthread_mutex_unlock(&s->lock);
	store_syncset_clear(set);
	return failed ? -1 : 0;
}

static void *syncer_thread(void *arg)
{
	struct store_syncer *s = arg;
	struct store_syncset merged = {0};
	pthread_mutex_lock(&s->lock);
	for (;;) {
		while (s->queue_head == NULL && !s->stop)
			pthread_cond_wait(&s->wake, &s->lock);
		if (s->queue_head == NULL)
			break; /* stop, and nothing left to do */
		struct sync_req *round = s->queue_head;
		s->queue_head = NULL;
		s->queue_tail = &s->queue_head;
		pthread_mutex_unlock(&s->lock);

		struct sync_req *last = NULL;
		for (struct sync_req *r = round; r != NULL; r = r->next) {
			syncset_merge(&merged, &r->set);
			last = r;
		}
		char error[512];
		bool failed = syncer_run(s, &merged, error, sizeof(error)) < 0;
		for (struct sync_req *r = round; r != NULL; r = r->next) {
			r->failed = failed;
			if (failed)
				memcpy(r->error, error, sizeof(error));
		}

		pthread_mutex_lock(&s->lock);
		*s->done_tail = round;
		s->done_tail = &last->next;
		pthread_cond_broadcast(&s->finished);
		uint64_t one = 1;
		(void)!write(s->done_fd, &one, sizeof(one));
	}
	pthread_mutex_unlock(&s->lock);
	store_syncset_free(&merged);
	return NULL;
}

static void syncer_free_sync(struct store_syncer *s)
{
	pthread_cond_destroy(&s->round_end);
	pthread_cond_destroy(&s->round_start);
	pthread_cond_destroy(&s->finished);
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->lock);
}

int store_syncer_create(int fs_fd, struct store_syncer **syncer_r, const char **error_r)
{
	static __thread char buf[256];
	struct store_syncer *s = xcalloc(1, sizeof(*s));
	s->fs_fd = fcntl(fs_fd, F_DUPFD_CLOEXEC, 0);
	s->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	s->queue_tail = &s->queue_head;
	s->done_tail = &s->done_head;
	if (s->fs_fd < 0 || s->done_fd < 0) {
		snprintf(buf, sizeof(buf), "cannot create the syncer: %s", strerror(errno));
		goto fail;
	}
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->wake, NULL);
	pthread_cond_init(&s->finished, NULL);
	pthread_cond_init(&s->round_start, NULL);
	pthread_cond_init(&s->round_end, NULL);
	/* the threads take no signal: the process handles them in its loop (signalfd) */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	(void)pthread_attr_setstacksize(&attr, SYNC_STACK);
	int e = pthread_create(&s->thread, &attr, syncer_thread, s);
	/* without helpers (none could start) the fsyncs run one after the other */
	while (e == 0 && s->helper_count < SYNC_HELPERS &&
	       pthread_create(&s->helpers[s->helper_count], &attr, helper_thread, s) == 0)
		s->helper_count++;
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e != 0) {
		snprintf(buf, sizeof(buf), "cannot start the sync thread: %s", strerror(e));
		syncer_free_sync(s);
		goto fail;
	}
	*syncer_r = s;
	return 0;
fail:
	if (s->fs_fd >= 0)
		close(s->fs_fd);
	if (s->done_fd >= 0)
		close(s->done_fd);
	free(s);
	if (error_r != NULL)
		*error_r = buf;
	return -1;
}

static void req_free(struct sync_req *r)
{
	store_syncset_free(&r->set);
	free(r);
}

void store_syncer_destroy(struct store_syncer **syncer)
{
	struct store_syncer *s = *syncer;
	if (s == NULL)
		return;
	*syncer = NULL;
	pthread_mutex_lock(&s->lock);
	s->stop = true;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL); /* it runs what was submitted first */
	pthread_mutex_lock(&s->lock);
	pthread_cond_broadcast(&s->round_start); /* the helpers see stop */
	pthread_mutex_unlock(&s->lock);
	for (unsigned i = 0; i < s->helper_count; i++)
		pthread_join(s->helpers[i], NULL);
	for (struct sync_req *r = s->done_head, *next; r != NULL; r = next) {
		next = r->next;
		req_free(r);
	}
	syncer_free_sync(s);
	close(s->done_fd);
	close(s->fs_fd);
	free(s);
}

void store_syncer_submit(struct store_syncer *s, struct store_syncset *set, store_sync_done_cb *cb,
			 void *ctx)
{
	struct sync_req *r = xcalloc(1, sizeof(*r));
	r->set = *set; /* the set's list moves into the request */
	*set = (struct store_syncset){0};
	r->cb = cb;
	r->ctx = ctx;
	s->busy++;
	pthread_mutex_lock(&s->lock);
	*s->queue_tail = r;
	s->queue_tail = &r->next;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
}

int store_syncer_fd(const struct store_syncer *s)
{
	return s->done_fd;
}

size_t store_syncer_busy(const struct store_syncer *s)
{
	return s->busy;
}

unsigned store_syncer_reap(struct store_syncer *s)
{
	uint64_t n;
	(void)!read(s->done_fd, &n, sizeof(n));
	pthread_mutex_lock(&s->lock);
	struct sync_req *list = s->done_head;
	s->done_head = NULL;
	s->done_tail = &s->done_head;
	pthread_mutex_unlock(&s->lock);
	unsigned count = 0;
	for (struct sync_req *r = list, *next; r != NULL; r = next) {
		next = r->next;
		s->busy--;
		count++;
		/* the callback may submit again: the request is off every list by now */
		r->cb(r->ctx, r->failed ? r->error : NULL);
		req_free(r);
	}
	return count;
}

void store_syncer_wait(struct store_syncer *s)
{
	pthread_mutex_lock(&s->lock);
	while (s->done_head == NULL && s->busy > 0)
		pthread_cond_wait(&s->finished, &s->lock);
	pthread_mutex_unlock(&s->lock);
}

/* --- deferred syncs of a store's commits --- */

struct store_sync_ticket {
	struct store_sync_ticket *prev, *next; /* store->tickets */
	struct store *store;                   /* NULL: closed meanwhile */
	uint64_t mark;                         /* unlink_unsynced released up to here */
	store_sync_done_cb *cb;
	void *ctx;
};

void store_defer_begin(struct store *store)
{
	store->defer_depth++;
}

void store_defer_end(struct store *store)
{
	if (store->defer_depth == 0 || --store->defer_depth > 0)
		return;
	(void)store_sync_mode_restore(store);
}

int store_sync_mode_restore(struct store *store)
{
	bool normal = store->defer_depth > 0;
	if (store->db == NULL) {
		store->sync_normal = false; /* parked: the reopen sets FULL */
		return 0;
	}
	if (store_exec(store, normal ? "PRAGMA synchronous = NORMAL"
				     : "PRAGMA synchronous = FULL") < 0)
		return -1;
	store->sync_normal = normal;
	return 0;
}

int store_defer_tx_begin(struct store *store)
{
	if (store->defer_depth == 0 || store->sync_normal)
		return 0;
	return store_sync_mode_restore(store);
}

void store_defer_tx_commit(struct store *store)
{
	/* the WAL (the commit itself) and the bodies it dropped wait for the sync */
	store_syncset_add(&store->sync_set, store->dir, "store.db-wal");
	if (store->unlink_count == 0)
		return;
	store_hashes_append(&store->unlink_unsynced, &store->unlink_unsynced_count,
			    &store->unlink_unsynced_alloc, store->unlink, store->unlink_count);
	store->unlink_count = 0;
}

bool store_sync_pending(const struct store *store)
{
	return !store_syncset_empty(&store->sync_set);
}

/* The first n unsynced entries: durable now (to the unlinks after the reply, or at once
 * without a hook), or, after a failed sync, left for the sweep. */
static void unsynced_release(struct store *store, size_t n, bool durable)
{
	if (n > store->unlink_unsynced_count)
		n = store->unlink_unsynced_count;
	if (n == 0)
		return;
	if (durable && store->unlink_hook != NULL) {
		bool was_empty = store->unlink_later_count == 0;
		store_hashes_append(&store->unlink_later, &store->unlink_later_count,
				    &store->unlink_later_alloc, store->unlink_unsynced, n);
		if (was_empty)
			store->unlink_hook(store->unlink_hook_ctx);
	} else if (durable) {
		/* no hook: as store_tx_commit does, under the write lock (the file is kept if a
		 * row names it again by now) */
		for (size_t i = 0; i < n; i++) {
			int64_t id;
			uint64_t size;
			if (store_lock_write(store) < 0)
				break;
			if (store_body_lookup(store, store->unlink_unsynced[i], &id, &size) == 0)
				store_body_file_unlink(store, store->unlink_unsynced[i]);
			store_unlock_write(store);
		}
	}
	memmove(store->unlink_unsynced, store->unlink_unsynced + n,
		(store->unlink_unsynced_count - n) * sizeof(*store->unlink_unsynced));
	store->unlink_unsynced_count -= n;
	store->unlink_unsynced_base += n;
}

static void ticket_done(void *ctx, const char *error)
{
	struct store_sync_ticket *t = ctx;
	struct store *store = t->store;
	if (store != NULL) {
		if (t->prev != NULL)
			t->prev->next = t->next;
		else
			store->tickets = t->next;
		if (t->next != NULL)
			t->next->prev = t->prev;
		if (error != NULL)
			log_error("store %s: %s (dropped bodies left for the sweep)", store->dir,
				  error);
		if (t->mark > store->unlink_unsynced_base)
			unsynced_release(store, t->mark - store->unlink_unsynced_base,
					 error == NULL);
	}
	t->cb(t->ctx, error);
	free(t);
}

void store_sync_submit(struct store *store, struct store_syncer *syncer, store_sync_done_cb *cb,
		       void *ctx)
{
	struct store_sync_ticket *t = xcalloc(1, sizeof(*t));
	t->store = store;
	t->mark = store->unlink_unsynced_base + store->unlink_unsynced_count;
	t->cb = cb;
	t->ctx = ctx;
	t->next = store->tickets;
	if (t->next != NULL)
		t->next->prev = t;
	store->tickets = t;
	store_syncer_submit(syncer, &store->sync_set, ticket_done, t);
}

void store_defer_close(struct store *store)
{
	for (struct store_sync_ticket *t = store->tickets; t != NULL; t = t->next)
		t->store = NULL;
	store->tickets = NULL;
	store->unlink_hook = NULL; /* closing: the unlinks happen now, not after a reply */
	if (store->unlink_unsynced_count > 0 || store_sync_pending(store)) {
		/* the last commits' sync may still be in flight: do it here, then their bodies go
		 * with the other unlinks of the close */
		const char *error = NULL;
		store_syncset_clear(&store->sync_set);
		store_syncset_add(&store->sync_set, store->dir, "store.db-wal");
		bool ok = store_syncset_run(&store->sync_set, store->dir_fd, &error) == 0;
		if (!ok)
			log_error("store %s: %s (dropped bodies left for the sweep)", store->dir,
				  error);
		unsynced_release(store, store->unlink_unsynced_count, ok);
	}
	store_syncset_free(&store->sync_set);
	free(store->unlink_unsynced);
	store->unlink_unsynced = NULL;
	store->unlink_unsynced_alloc = 0;
}
