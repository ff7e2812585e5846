/* store-notify.c: changes are queued while their transaction runs and told to the caller's
 * callbacks and to the listeners only after the commit (a rolled-back change is never heard).
 * Traps: a listener may remove itself or another listener, or make a change that queues and
 * delivers events of its own, from inside its callback: delivery takes the queue away from the
 * store first, and every running delivery is on a stack that store_listener_remove() fixes. */
#include "store/store-private.h"

#include <stdlib.h>

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

static void store_listeners_notify(struct store *store, const struct store_event *ev)
{
	struct store_listener_iter it = { .next = store->listeners, .prev = store->iters };
	store->iters = &it;
	while (it.next != NULL) {
		struct store_listener *l = it.next;
		it.next = l->next;
		if (l->mailbox_id != ev->mailbox_id)
			continue;
		switch (ev->kind) {
		case STORE_EV_CHANGED:
			if (l->flags_changed != NULL)
				l->flags_changed(l->ctx, &ev->msg);
			break;
		case STORE_EV_EXPUNGED:
		case STORE_EV_EXPUNGED_QUIET:
			if (l->expunged != NULL)
				l->expunged(l->ctx, ev->msg.uid);
			break;
		case STORE_EV_APPENDED:
			if (l->appended != NULL)
				l->appended(l->ctx, &ev->msg);
			break;
		case STORE_EV_TOUCHED:
		case STORE_EV_FAILED:
			break;
		}
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
		if (ev->kind != STORE_EV_TOUCHED && ev->kind != STORE_EV_FAILED &&
		    store->listeners != NULL)
			store_listeners_notify(store, ev);
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
