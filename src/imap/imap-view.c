/* imap-view.c: the session's picture of the selected mailbox. Traps: an expunge reported by
 * the store for a message this view has not announced yet (still pending as new) is simply
 * dropped from the pending list; EXPUNGE responses must use the sequence number at the moment
 * each is sent, so they are sent one by one from the lowest remaining index. */
#include "imap-view.h"

#include <stdlib.h>
#include <string.h>

#include "imap/imap-seqset.h"
#include "lib/log.h"
#include "lib/xmalloc.h"

/* dirty[] values */
#define VIEW_DIRTY_FLAGS 1  /* flags or keywords changed: an untagged FETCH for everyone */
#define VIEW_DIRTY_MODSEQ 2 /* only the MODSEQ changed (set and cleared again meanwhile):
			     * told to CONDSTORE sessions only (RFC 7162 3.1.4.2) */

static void view_grow(struct imap_view *v, size_t need)
{
	if (need <= v->alloc || need == 0)
		return;
	size_t alloc = v->alloc ? v->alloc : need > 64 ? need : 64;
	while (alloc < need)
		alloc *= 2;
	v->uids = xrealloc(v->uids, alloc * sizeof(*v->uids));
	v->flags = xrealloc(v->flags, alloc * sizeof(*v->flags));
	v->keywords = xrealloc(v->keywords, alloc * sizeof(*v->keywords));
	v->modseqs = xrealloc(v->modseqs, alloc * sizeof(*v->modseqs));
	v->dirty = xrealloc(v->dirty, alloc * sizeof(*v->dirty));
	v->alloc = alloc;
}

static void view_push(struct imap_view *v, const struct store_msg *m)
{
	view_grow(v, v->count + 1);
	v->uids[v->count] = m->uid;
	v->flags[v->count] = m->flags;
	v->keywords[v->count] = m->keywords;
	v->modseqs[v->count] = m->modseq;
	v->dirty[v->count] = 0;
	v->count++;
}

static int view_load_cb(void *ctx, const struct store_msg *m)
{
	view_push(ctx, m);
	return 0;
}

ssize_t imap_view_find(const struct imap_view *v, uint32_t uid)
{
	size_t lo = 0, hi = v->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v->uids[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < v->count && v->uids[lo] == uid ? (ssize_t)lo : -1;
}

ssize_t imap_view_find_from(const struct imap_view *v, uint32_t uid, size_t *hint)
{
	/* the next message, or the one after it, is the common case */
	for (size_t i = *hint; i < v->count && i < *hint + 2; i++) {
		if (v->uids[i] == uid) {
			*hint = i + 1;
			return (ssize_t)i;
		}
	}
	ssize_t i = imap_view_find(v, uid);
	if (i >= 0)
		*hint = (size_t)i + 1;
	return i;
}

/* ---- sync: what changed since synced_modseq ---- */

static void view_expunge_queue(struct imap_view *v, size_t i)
{
	if (v->flags[i] & IMAP_VIEW_EXPUNGED)
		return;
	v->flags[i] |= IMAP_VIEW_EXPUNGED;
	/* RFC 7162 3.2: while this expunge waits, the client may learn of later MODSEQs (FETCH
	 * during FETCH/STORE by sequence number); the HIGHESTMODSEQ it may use stays below the
	 * expunge's. Queued only while syncing, before synced_modseq moves: what was synced
	 * before is below it. */
	if (v->pending_expunged_count == 0)
		v->expunge_floor = v->synced_modseq;
	if (v->pending_expunged_count == v->pending_expunged_alloc) {
		v->pending_expunged_alloc = v->pending_expunged_alloc ? v->pending_expunged_alloc * 2
								      : 16;
		v->pending_expunged = xrealloc(v->pending_expunged,
					       v->pending_expunged_alloc * sizeof(uint32_t));
	}
	v->pending_expunged[v->pending_expunged_count++] = v->uids[i];
}

/* Index of uid among the first n pending new messages (ascending), or -1. */
static ssize_t view_pending_find(const struct imap_view *v, size_t n, uint32_t uid)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v->pending_new[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && v->pending_new[lo].uid == uid ? (ssize_t)lo : -1;
}

struct view_sync_ctx {
	struct imap_view *v;
	size_t sorted; /* pending_new[0..sorted) is ascending (from earlier syncs) */
	size_t hint;   /* the store reports changes by ascending UID: imap_view_find_from */
};

static int view_sync_changed(void *ctx, const struct store_msg *m)
{
	struct view_sync_ctx *c = ctx;
	struct imap_view *v = c->v;
	ssize_t i = imap_view_find_from(v, m->uid, &c->hint);
	if (i >= 0) {
		if (m->modseq <= v->modseqs[i])
			return 0; /* already known (this session's own change) */
		bool differ = (v->flags[i] & IMAP_VIEW_FLAG_BITS) != m->flags ||
			      v->keywords[i] != m->keywords;
		v->flags[i] = m->flags | (v->flags[i] & ~IMAP_VIEW_FLAG_BITS);
		v->keywords[i] = m->keywords;
		v->modseqs[i] = m->modseq;
		if (!v->dirty[i]) {
			v->dirty[i] = VIEW_DIRTY_MODSEQ;
			v->dirty_count++;
		}
		if (differ)
			v->dirty[i] = VIEW_DIRTY_FLAGS;
		return 0;
	}
	if (v->count > 0 && m->uid < v->uids[v->count - 1])
		return 0; /* below what the view holds and not in it: long expunged */
	ssize_t k = view_pending_find(v, c->sorted, m->uid);
	if (k >= 0) {
		v->pending_new[k] = *m;
		return 0;
	}
	if (v->pending_new_count == v->pending_new_alloc) {
		v->pending_new_alloc = v->pending_new_alloc ? v->pending_new_alloc * 2 : 16;
		v->pending_new = xrealloc(v->pending_new,
					  v->pending_new_alloc * sizeof(*v->pending_new));
	}
	v->pending_new[v->pending_new_count++] = *m;
	return 0;
}

static int view_sync_expunged(void *ctx, uint32_t uid)
{
	struct view_sync_ctx *c = ctx;
	struct imap_view *v = c->v;
	ssize_t i = imap_view_find(v, uid);
	if (i >= 0) {
		view_expunge_queue(v, (size_t)i);
		return 0;
	}
	/* announced never: drop it from the queue (pending_new is sorted by now) */
	ssize_t k = view_pending_find(v, v->pending_new_count, uid);
	if (k >= 0) {
		memmove(&v->pending_new[k], &v->pending_new[k + 1],
			(v->pending_new_count - (size_t)k - 1) * sizeof(*v->pending_new));
		v->pending_new_count--;
	}
	return 0;
}

static int pending_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct store_msg *)a)->uid, y = ((const struct store_msg *)b)->uid;
	return x < y ? -1 : x > y;
}

/* between the two callbacks: new messages come in MODSEQ order */
static int view_sync_sort(struct view_sync_ctx *c)
{
	struct imap_view *v = c->v;
	if (v->pending_new_count > c->sorted)
		qsort(v->pending_new, v->pending_new_count, sizeof(*v->pending_new), pending_cmp);
	c->sorted = v->pending_new_count;
	return 0;
}

static int view_sync_expunged_first(void *ctx, uint32_t uid)
{
	struct view_sync_ctx *c = ctx;
	if (c->sorted != c->v->pending_new_count)
		view_sync_sort(c);
	return view_sync_expunged(ctx, uid);
}

void imap_view_sync(struct imap_view *v, bool force)
{
	if ((!v->needs_sync && !force) || v->gone)
		return;
	v->needs_sync = false;
	struct view_sync_ctx c = {.v = v, .sorted = v->pending_new_count};
	struct store_mailbox *mb = xmalloc(sizeof(*mb));
	const char *err;
	int r = store_changes_since(v->store, v->mb.id, v->synced_modseq, mb, view_sync_changed,
				    view_sync_expunged_first, &c, &err);
	view_sync_sort(&c);
	if (r < 0) {
		log_error("mailbox %llu: cannot read changes: %s", (unsigned long long)v->mb.id,
			  err);
	} else if (r == 0) {
		/* deleted (by another session or process): everything goes */
		v->gone = true;
		for (size_t i = 0; i < v->count; i++)
			view_expunge_queue(v, i);
		v->pending_new_count = 0;
	} else {
		if (mb->keyword_count != v->mb.keyword_count)
			v->keywords_changed = true;
		v->mb = *mb;
		v->synced_modseq = mb->highestmodseq;
	}
	free(mb);
}

static void view_changed(void *ctx, uint64_t mailbox_id)
{
	struct imap_view *v = ctx;
	(void)mailbox_id;
	v->needs_sync = true;
	if (v->notify != NULL)
		v->notify(v->notify_ctx);
}

void imap_view_own_change(struct imap_view *v, const struct store_msg *m)
{
	ssize_t i = imap_view_find(v, m->uid);
	if (i >= 0)
		imap_view_own_change_at(v, (size_t)i, m);
}

void imap_view_own_change_at(struct imap_view *v, size_t i, const struct store_msg *m)
{
	if (m->modseq < v->modseqs[i])
		return;
	v->flags[i] = m->flags | (v->flags[i] & ~IMAP_VIEW_FLAG_BITS);
	v->keywords[i] = m->keywords;
	v->modseqs[i] = m->modseq;
	if (m->keywords >> v->mb.keyword_count != 0)
		v->needs_sync = true; /* a new keyword: FLAGS goes out at the next flush */
}

/* Mark the messages from index start on that are recent to this view (see imap-view.h). A
 * failed claim is logged and leaves them not recent: \Recent is advisory, never worth
 * failing a SELECT or dropping an EXISTS. */
static void view_mark_recent(struct imap_view *v, size_t start)
{
	if (!v->track_recent || start >= v->count)
		return;
	uint32_t first;
	const char *err;
	uint32_t upto = v->readonly ? 0 : v->uids[v->count - 1] + 1;
	if (store_recent_claim(v->store, v->mb.id, upto, &first, &err) < 0) {
		log_error("mailbox %llu: cannot claim recent messages: %s",
			  (unsigned long long)v->mb.id, err);
		return;
	}
	for (size_t i = start; i < v->count; i++) {
		if (v->uids[i] >= first) {
			v->flags[i] |= IMAP_VIEW_RECENT;
			v->recent_count++;
		}
	}
}

int imap_view_open(struct imap_view *v, struct store *store, const struct store_mailbox *mb,
		   bool readonly, bool track_recent, const char **error_r)
{
	memset(v, 0, sizeof(*v));
	v->store = store;
	v->mb = *mb;
	v->readonly = readonly;
	v->track_recent = track_recent;
	/* the arrays at their final size at once (the counter is exact; a message appended
	 * meanwhile only grows them) */
	view_grow(v, mb->messages);
	if (store_messages(store, mb->id, view_load_cb, v, error_r) < 0) {
		imap_view_close(v);
		return -1;
	}
	view_mark_recent(v, 0);
	v->synced_modseq = mb->highestmodseq;
	v->reported_modseq = mb->highestmodseq; /* SELECT tells the client everything */
	v->listener.mailbox_id = mb->id;
	v->listener.changed = view_changed;
	v->listener.ctx = v;
	store_listener_add(store, &v->listener);
	return 0;
}

void imap_view_close(struct imap_view *v)
{
	if (v->listener.ctx != NULL)
		store_listener_remove(v->store, &v->listener);
	free(v->uids);
	free(v->flags);
	free(v->keywords);
	free(v->modseqs);
	free(v->dirty);
	free(v->pending_new);
	free(v->pending_expunged);
	memset(v, 0, sizeof(*v));
}

static const char *const system_flag_names[] = {"\\Seen", "\\Answered", "\\Flagged",
						"\\Deleted", "\\Draft"};

/* "name" after a space unless it is the first in the list */
static int view_flag_name_append(struct buf *out, bool *first, const char *name)
{
	int ret = *first ? 0 : buf_append_byte(out, ' ');
	*first = false;
	return ret | buf_append_str(out, name);
}

int imap_view_flags_append(const struct imap_view *v, struct buf *out, uint8_t flags,
			   uint64_t keywords)
{
	/* written once per message by FETCH FLAGS and STORE over 100k messages: no printf */
	bool first = true;
	int ret = buf_append_byte(out, '(');
	for (unsigned i = 0; i < 5; i++) {
		if (flags & (1u << i))
			ret |= view_flag_name_append(out, &first, system_flag_names[i]);
	}
	for (unsigned i = 0; i < v->mb.keyword_count && i < 64; i++) {
		if (keywords & (1ULL << i))
			ret |= view_flag_name_append(out, &first, v->mb.keywords[i]);
	}
	if ((flags & IMAP_VIEW_RECENT) && v->track_recent)
		ret |= view_flag_name_append(out, &first, "\\Recent");
	ret |= buf_append_byte(out, ')');
	return ret;
}

int imap_view_mailbox_flags_append(const struct imap_view *v, struct buf *out)
{
	int ret = buf_append_str(out, "(\\Answered \\Flagged \\Deleted \\Seen \\Draft");
	for (unsigned i = 0; i < v->mb.keyword_count; i++)
		ret |= buf_printf(out, " %s", v->mb.keywords[i]);
	ret |= buf_append_byte(out, ')');
	return ret;
}

int imap_view_permanent_flags_append(const struct imap_view *v, struct buf *out)
{
	if (v->readonly)
		return buf_append_str(out, "()");
	int ret = imap_view_mailbox_flags_append(v, out);
	if (ret == 0 && v->mb.keyword_count < STORE_KEYWORDS_MAX) {
		out->len--; /* add \* inside the list */
		ret = buf_append_str(out, " \\*)");
	}
	return ret;
}

static int uid_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

size_t imap_view_flush(struct imap_view *v, struct buf *out, bool allow_expunge)
{
	size_t n = 0;
	imap_view_sync(v, false);
	if (v->keywords_changed) {
		v->keywords_changed = false;
		buf_append_str(out, "* FLAGS ");
		imap_view_mailbox_flags_append(v, out);
		buf_append_str(out, "\r\n");
		n++;
		if (!v->readonly) {
			/* RFC 9051 7.1: the client learns the new keyword is permanent too */
			buf_append_str(out, "* OK [PERMANENTFLAGS ");
			imap_view_permanent_flags_append(v, out);
			buf_append_str(out, "] Flags permitted\r\n");
			n++;
		}
	}
	if (v->dirty_count > 0) {
		for (size_t i = 0; i < v->count; i++) {
			if (!v->dirty[i])
				continue;
			bool send = v->dirty[i] == VIEW_DIRTY_FLAGS || v->condstore;
			v->dirty[i] = 0;
			if (!send)
				continue;
			/* RFC 7162 3.2.4: UID and MODSEQ in every untagged FETCH once enabled */
			buf_printf(out, "* %zu FETCH (UID %u FLAGS ", i + 1, v->uids[i]);
			imap_view_flags_append(v, out, v->flags[i], v->keywords[i]);
			if (v->condstore)
				buf_printf(out, " MODSEQ (%llu)", (unsigned long long)v->modseqs[i]);
			buf_append_str(out, ")\r\n");
			n++;
		}
		v->dirty_count = 0;
	}
	if (allow_expunge && v->pending_expunged_count > 0) {
		/* EXPUNGEs are sent from the highest sequence number down, so each number is still
		 * right when the client reads it (removing a later message does not renumber
		 * earlier ones); with QRESYNC one VANISHED names them all (RFC 7162 3.2.10.2:
		 * only UIDs the client was told of, which pending_expunged holds). Then the arrays
		 * are compacted in one pass. */
		uint32_t *u = v->pending_expunged;
		size_t k = v->pending_expunged_count;
		qsort(u, k, sizeof(*u), uid_cmp);
		if (v->qresync) {
			buf_append_str(out, "* VANISHED ");
			imap_seqset_append(out, u, k);
			buf_append_str(out, "\r\n");
			n++;
		}
		for (size_t j = k; j-- > 0 && !v->qresync;) {
			ssize_t i = imap_view_find(v, u[j]);
			if (i < 0)
				continue;
			buf_printf(out, "* %zd EXPUNGE\r\n", i + 1);
			n++;
		}
		size_t w = 0, j = 0;
		for (size_t i = 0; i < v->count; i++) {
			while (j < k && u[j] < v->uids[i])
				j++;
			if (j < k && u[j] == v->uids[i]) {
				if (v->dirty[i])
					v->dirty_count--;
				if (v->flags[i] & IMAP_VIEW_RECENT)
					v->recent_count--;
				continue;
			}
			v->uids[w] = v->uids[i];
			v->flags[w] = v->flags[i];
			v->keywords[w] = v->keywords[i];
			v->modseqs[w] = v->modseqs[i];
			v->dirty[w] = v->dirty[i];
			w++;
		}
		v->count = w;
		v->pending_expunged_count = 0;
	}
	if (v->pending_new_count > 0) {
		size_t start = v->count;
		for (size_t k = 0; k < v->pending_new_count; k++)
			view_push(v, &v->pending_new[k]);
		v->pending_new_count = 0;
		/* RFC 3501 2.3.2: recent to the first session told about them */
		view_mark_recent(v, start);
		buf_printf(out, "* %zu EXISTS\r\n", v->count);
		n++;
		if (v->track_recent) {
			buf_printf(out, "* %zu RECENT\r\n", v->recent_count);
			n++;
		}
	}
	/* everything up to synced_modseq is out now, but a withheld expunge */
	v->reported_modseq = v->pending_expunged_count == 0 ? v->synced_modseq : v->expunge_floor;
	return n;
}

uint64_t imap_view_highestmodseq(const struct imap_view *v)
{
	return v->reported_modseq;
}

struct view_vanished_ctx {
	const struct imap_view *view;
	const struct imap_seq_range *ranges;
	size_t range_count;
	uint32_t above;
	uint32_t *uids;
	size_t count, alloc;
};

static int view_vanished_cb(void *ctx, uint32_t uid)
{
	struct view_vanished_ctx *c = ctx;
	if (uid <= c->above || !imap_seqset_ranges_contain(c->ranges, c->range_count, uid) ||
	    imap_view_find(c->view, uid) >= 0)
		return 0;
	if (c->count == c->alloc) {
		size_t a = c->alloc ? c->alloc * 2 : 256, bytes;
		if (size_mul(a, sizeof(*c->uids), &bytes) < 0)
			xabort("VANISHED overflow");
		c->uids = xrealloc(c->uids, bytes);
		c->alloc = a;
	}
	c->uids[c->count++] = uid;
	return 0;
}

int imap_view_vanished_earlier(const struct imap_view *view, uint64_t since,
			       const struct imap_seq_range *ranges, size_t range_count,
			       uint32_t above, struct buf *out, const char **error_r)
{
	struct view_vanished_ctx c = {
		.view = view, .ranges = ranges, .range_count = range_count, .above = above,
	};
	struct store_mailbox mb;
	int ret = store_changes_since(view->store, view->mb.id, since, &mb, NULL,
				      view_vanished_cb, &c, error_r);
	if (ret > 0 && c.count > 0) {
		buf_append_str(out, "* VANISHED (EARLIER) ");
		imap_seqset_append(out, c.uids, c.count);
		buf_append_str(out, "\r\n");
	}
	free(c.uids);
	return ret < 0 ? -1 : 0;
}
