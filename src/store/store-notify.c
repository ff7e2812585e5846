/* store-notify.c: changes are queued while their transaction runs and told to the caller's
 * callbacks and to the listeners only after the commit (a rolled-back change is never heard).
 * Traps: a listener may remove itself or another listener, or make a change that queues and
 * delivers events of its own, from inside its callback: delivery takes the queue away from the
 * store first, and every running delivery is on a stack that store_listener_remove() fixes. */
#include "store/store-private.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/xmalloc.h"

void store_event_add(struct store *store, enum store_event_kind kind, uint64_t mailbox_id,
		     const struct store_msg *msg)
{
	struct store_events *q = &store->events;
	if (q->count == q->alloc) {
		size_t n = q->alloc == 0 ? 64 : q->alloc * 2, bytes;
		if (size_mul(n, sizeof(*q->ev), &bytes) < 0)
			xabort("event queue overflow");
		q->ev = xrealloc(q->ev, bytes);
		q->alloc = n;
	}
	struct store_event *ev = &q->ev[q->count++];
	ev->kind = kind;
	ev->mailbox_id = mailbox_id;
	ev->msg = *msg;
}

void store_events_clear(struct store *store)
{
	store->events.count = 0;
}

/* Tell the listeners of mailbox_id (and those of every mailbox) that it may have changed. */
static void store_listeners_notify(struct store *store, uint64_t mailbox_id)
{
	struct store_listener_iter it = { .next = store->listeners, .prev = store->iters };
	store->iters = &it;
	while (it.next != NULL) {
		struct store_listener *l = it.next;
		it.next = l->next;
		if ((mailbox_id == 0 || l->mailbox_id == 0 || l->mailbox_id == mailbox_id) &&
		    l->changed != NULL)
			l->changed(l->ctx, mailbox_id);
	}
	store->iters = it.prev;
}

void store_events_deliver(struct store *store, const struct store_event_cbs *cbs)
{
	/* take the queue: a callback may change the store and queue events of its own */
	struct store_events q = store->events;
	store->events.ev = NULL;
	store->events.count = store->events.alloc = 0;

	bool caller = cbs != NULL;
	for (size_t i = 0; i < q.count; i++) {
		const struct store_event *ev = &q.ev[i];
		if (caller) {
			int r = 0;
			switch (ev->kind) {
			case STORE_EV_TOUCHED:
			case STORE_EV_CHANGED:
				if (cbs->changed_cb != NULL)
					r = cbs->changed_cb(cbs->ctx, &ev->msg);
				break;
			case STORE_EV_FAILED:
				if (cbs->failed_cb != NULL)
					r = cbs->failed_cb(cbs->ctx, &ev->msg);
				break;
			case STORE_EV_EXPUNGED:
				if (cbs->expunged_cb != NULL)
					r = cbs->expunged_cb(cbs->ctx, ev->msg.uid);
				break;
			case STORE_EV_APPENDED:
			case STORE_EV_EXPUNGED_QUIET:
				break;
			}
			if (r < 0)
				caller = false;
		}
	}
	/* then the listeners, once per changed mailbox (a change touches one or two) */
	uint64_t told[2] = {0, 0};
	for (size_t i = 0; i < q.count && store->listeners != NULL; i++) {
		const struct store_event *ev = &q.ev[i];
		if (ev->kind == STORE_EV_TOUCHED || ev->kind == STORE_EV_FAILED ||
		    ev->mailbox_id == told[0] || ev->mailbox_id == told[1])
			continue;
		told[1] = told[0];
		told[0] = ev->mailbox_id;
		store_listeners_notify(store, ev->mailbox_id);
	}
	/* give the storage back unless a nested change grew a queue of its own meanwhile or it
	 * grew big (a STORE over 100k messages must not pin megabytes for the session's life) */
	if (store->events.ev == NULL && q.alloc <= 4096) {
		store->events.ev = q.ev;
		store->events.alloc = q.alloc;
		store->events.count = 0;
	} else {
		free(q.ev);
	}
}

void store_listener_add(struct store *store, struct store_listener *listener)
{
	listener->next = store->listeners;
	store->listeners = listener;
}

void store_listener_remove(struct store *store, struct store_listener *listener)
{
	for (struct store_listener **p = &store->listeners; *p != NULL; p = &(*p)->next) {
		if (*p != listener)
			continue;
		*p = listener->next;
		/* a delivery about to call the removed listener moves past it */
		for (struct store_listener_iter *it = store->iters; it != NULL; it = it->prev) {
			if (it->next == listener)
				it->next = listener->next;
		}
		listener->next = NULL;
		return;
	}
}

/* ---- across processes ---- */

void store_notify_touch(struct store *store)
{
	/* closing a file opened for writing is the inotify event (IN_CLOSE_WRITE); a failure
	 * only delays other processes' sessions until their next command, so it is not fatal */
	int fd = open(store->notify_path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK,
		      0600);
	if (fd >= 0)
		close(fd);
}

int store_refresh(struct store *store)
{
	/* parked: nothing to compare with, and no reason to reopen just for that (store-park.c);
	 * the listeners read what changed, reopening it */
	if (store->parked) {
		store_listeners_notify(store, 0);
		return 1;
	}
	/* data_version changes when another connection commits, never for our own commits */
	sqlite3_stmt *stmt;
	if (sqlite3_prepare_v2(store->db, "PRAGMA data_version", -1, &stmt, NULL) != SQLITE_OK)
		return store_fail_sql(store, NULL, "reading the data version");
	int r = sqlite3_step(stmt);
	int64_t version = r == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : 0;
	sqlite3_finalize(stmt);
	if (r != SQLITE_ROW)
		return store_fail_sql(store, NULL, "reading the data version");
	/* the first refresh after a reopen: the version is of a new connection, and commits
	 * made while parked are not in it; say "may have changed" */
	bool reopened = store->reopened;
	store->reopened = false;
	if (version == store->data_version && !reopened)
		return 0;
	store->data_version = version;
	store_listeners_notify(store, 0);
	return 1;
}

int store_watch_open(const char *root, const char **error_r)
{
	static __thread char msg[PATH_MAX + 128];
	char path[PATH_MAX];
	if ((size_t)snprintf(path, sizeof(path), "%s/.notify", root) >= sizeof(path)) {
		*error_r = "data directory path too long";
		return -1;
	}
	if (mkdir(path, 0700) < 0 && errno != EEXIST) {
		snprintf(msg, sizeof(msg), "cannot create %s: %s", path, strerror(errno));
		*error_r = msg;
		return -1;
	}
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (fd < 0 || inotify_add_watch(fd, path, IN_CLOSE_WRITE | IN_ONLYDIR) < 0) {
		snprintf(msg, sizeof(msg), "cannot watch %s: %s", path, strerror(errno));
		*error_r = msg;
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

int store_watch_read(int fd, store_watch_cb *cb, void *ctx)
{
	char buf[16 * 1024] __attribute__((aligned(__alignof__(struct inotify_event))));
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		if (n == 0)
			return 0;
		for (ssize_t off = 0; off + (ssize_t)sizeof(struct inotify_event) <= n;) {
			const struct inotify_event *ev = (const struct inotify_event *)(buf + off);
			off += (ssize_t)sizeof(*ev) + ev->len;
			if (ev->mask & IN_Q_OVERFLOW)
				cb(ctx, NULL);
			else if (ev->len > 0 && ev->name[0] != '\0' &&
				 memchr(ev->name, '\0', ev->len) != NULL)
				cb(ctx, ev->name);
		}
	}
}
