/* imap-view.c: the session's picture of the selected mailbox. Traps: an expunge reported by
 * the store for a message this view has not announced yet (still pending as new) is simply
 * dropped from the pending list; EXPUNGE responses must use the sequence number at the moment
 * each is sent, so they are sent one by one from the lowest remaining index.
 * Lazy loading: SELECT reads the store's per-chunk counts only; a chunk is decoded when an
 * index or UID in it is first used. A chunk not loaded yet had no change since synced_modseq
 * (the sync loads a chunk before applying a change to it), so it is rebuilt exactly as the
 * view knows it: the store's entries below select_uidnext plus the UIDs expunged after
 * synced_modseq (still in the view; queued as expunged at once). */
#include "imap-view.h"

#include <stdlib.h>
#include <string.h>

#include "imap/imap-seqset.h"
#include "lib/log.h"
#include "lib/pool.h"
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

static struct imap_view_seg *view_seg_add(struct imap_view *v)
{
	if (v->seg_count == v->seg_alloc) {
		v->seg_alloc = v->seg_alloc ? v->seg_alloc * 2 : 16;
		v->segs = xrealloc(v->segs, v->seg_alloc * sizeof(*v->segs));
	}
	struct imap_view_seg *seg = &v->segs[v->seg_count++];
	memset(seg, 0, sizeof(*seg));
	return seg;
}

/* Index of the first segment whose chunk is >= chunk (seg_count if none). */
static size_t view_seg_by_chunk(const struct imap_view *v, uint32_t chunk)
{
	size_t lo = 0, hi = v->seg_count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v->segs[mid].chunk < chunk)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Index of the segment holding message index i (i < count). */
static size_t view_seg_by_index(const struct imap_view *v, size_t i)
{
	size_t lo = 0, hi = v->seg_count;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (v->segs[mid].first <= i)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* A new message at the end (the last segment is always loaded). */
static void view_push(struct imap_view *v, const struct store_msg *m)
{
	uint32_t chunk = m->uid / STORE_CHUNK_UIDS;
	struct imap_view_seg *last = v->seg_count > 0 ? &v->segs[v->seg_count - 1] : NULL;
	if (last != NULL && last->chunk == chunk) {
		last->count++;
	} else {
		last = view_seg_add(v);
		last->chunk = chunk;
		last->first = (uint32_t)v->count;
		last->count = 1;
		last->loaded = true;
	}
	view_grow(v, v->count + 1);
	v->uids[v->count] = m->uid;
	v->flags[v->count] = m->flags;
	v->keywords[v->count] = m->keywords;
	v->modseqs[v->count] = m->modseq;
	v->dirty[v->count] = 0;
	v->count++;
}

/* dst takes what it keeps of src: the keywords are copied again only when they changed */
static void view_mailbox_set(struct imap_view_mailbox *dst, const struct store_mailbox *src)
{
	dst->id = src->id;
	dst->uidvalidity = src->uidvalidity;
	dst->uidnext = src->uidnext;
	dst->highestmodseq = src->highestmodseq;
	if (dst->name == NULL || strcmp(dst->name, src->name) != 0) {
		free(dst->name);
		dst->name = xstrdup(src->name);
	}
	bool same = dst->keyword_count == src->keyword_count;
	for (unsigned i = 0; same && i < src->keyword_count; i++)
		same = strcmp(dst->keywords[i], src->keywords[i]) == 0;
	if (same)
		return;
	size_t bytes = src->keyword_count * sizeof(char *);
	for (unsigned i = 0; i < src->keyword_count; i++)
		bytes += strlen(src->keywords[i]) + 1;
	free(dst->keywords);
	dst->keywords = src->keyword_count > 0 ? xmalloc(bytes) : NULL;
	char *p = (char *)(dst->keywords + src->keyword_count);
	for (unsigned i = 0; i < src->keyword_count; i++) {
		size_t len = strlen(src->keywords[i]) + 1;
		memcpy(p, src->keywords[i], len);
		dst->keywords[i] = p;
		p += len;
	}
	dst->keyword_count = src->keyword_count;
}

static void view_expunge_queue(struct imap_view *v, size_t i);

/* ---- loading a chunk ---- */

struct view_load_ctx {
	uint32_t bound; /* UIDs from here on are not in the view (select_uidnext) */
	struct store_msg *msgs;
	size_t count, alloc;
	uint32_t *gone;
	size_t gone_count, gone_alloc;
};

static int view_load_msg(void *ctx, const struct store_msg *m)
{
	struct view_load_ctx *c = ctx;
	if (m->uid >= c->bound)
		return 0;
	if (c->count == c->alloc) {
		c->alloc = c->alloc ? c->alloc * 2 : 256;
		c->msgs = xrealloc(c->msgs, c->alloc * sizeof(*c->msgs));
	}
	c->msgs[c->count++] = *m;
	return 0;
}

static int view_load_gone(void *ctx, uint32_t uid)
{
	struct view_load_ctx *c = ctx;
	if (uid >= c->bound)
		return 0;
	if (c->gone_count == c->gone_alloc) {
		c->gone_alloc = c->gone_alloc ? c->gone_alloc * 2 : 16;
		c->gone = xrealloc(c->gone, c->gone_alloc * sizeof(*c->gone));
	}
	c->gone[c->gone_count++] = uid;
	return 0;
}

/* Read segment k's chunk into the arrays (see the top of the file). */
static int view_seg_load(struct imap_view *v, size_t k, const char **error_r)
{
	struct imap_view_seg *seg = &v->segs[k];
	if (seg->loaded)
		return 0;
	struct view_load_ctx c = {.bound = v->select_uidnext};
	int ret = store_chunk_messages(v->store, v->mb.id, seg->chunk, v->synced_modseq,
				       view_load_msg, view_load_gone, &c, error_r);
	if (ret == 0 && c.count + c.gone_count != seg->count) {
		log_error("mailbox %llu: chunk %u has %zu messages, the view counted %u",
			  (unsigned long long)v->mb.id, seg->chunk, c.count + c.gone_count,
			  seg->count);
		*error_r = "message state changed unexpectedly (kura check)";
		ret = -1;
	}
	if (ret < 0) {
		free(c.msgs);
		free(c.gone);
		return -1;
	}
	seg->loaded = true;
	size_t a = 0, b = 0, i = seg->first;
	for (; a < c.count || b < c.gone_count; i++) {
		bool gone = a == c.count || (b < c.gone_count && c.gone[b] < c.msgs[a].uid);
		struct store_msg m = gone ? (struct store_msg){.uid = c.gone[b++]} : c.msgs[a++];
		v->uids[i] = m.uid;
		v->flags[i] = m.flags;
		v->keywords[i] = m.keywords;
		v->modseqs[i] = m.modseq;
		v->dirty[i] = 0;
		if (v->track_recent && m.uid >= v->recent_first)
			v->flags[i] |= IMAP_VIEW_RECENT; /* counted at open */
		if (gone) {
			/* expunged after synced_modseq: the sync would queue it; its flags are
			 * gone with it (FETCH shows none) */
			view_expunge_queue(v, i);
		} else if (m.modseq > v->synced_modseq) {
			/* changed after synced_modseq: its old flags are unknown, so the client is
			 * told the new ones (the sync skips it: its MODSEQ is known now) */
			v->dirty[i] = VIEW_DIRTY_FLAGS;
			v->dirty_count++;
		}
	}
	free(c.msgs);
	free(c.gone);
	return 0;
}

static void view_load_failed(const struct imap_view *v, const char *err)
{
	log_error("mailbox %llu: cannot read messages: %s", (unsigned long long)v->mb.id, err);
}

int imap_view_load_range(struct imap_view *v, size_t lo, size_t hi, const char **error_r)
{
	if (lo >= hi || lo >= v->count)
		return 0;
	for (size_t k = view_seg_by_index(v, lo); k < v->seg_count && v->segs[k].first < hi; k++) {
		if (!v->segs[k].loaded && view_seg_load(v, k, error_r) < 0)
			return -1;
	}
	return 0;
}

int imap_view_load_all(struct imap_view *v, const char **error_r)
{
	return imap_view_load_range(v, 0, v->count, error_r);
}

int imap_view_load_uids(struct imap_view *v, uint32_t uid_lo, uint32_t uid_hi,
			const char **error_r)
{
	if (uid_lo > uid_hi)
		return 0;
	uint32_t last = uid_hi / STORE_CHUNK_UIDS;
	for (size_t k = view_seg_by_chunk(v, uid_lo / STORE_CHUNK_UIDS);
	     k < v->seg_count && v->segs[k].chunk <= last; k++) {
		if (!v->segs[k].loaded && view_seg_load(v, k, error_r) < 0)
			return -1;
	}
	return 0;
}

int imap_view_load_indexes(struct imap_view *v, const uint32_t *idx, size_t n,
			   const char **error_r)
{
	size_t k = 0;
	for (size_t j = 0; j < n; j++) {
		if (idx[j] >= v->count)
			continue;
		/* idx ascends: walk the segments along */
		while (k + 1 < v->seg_count && v->segs[k + 1].first <= idx[j])
			k++;
		if (!v->segs[k].loaded && view_seg_load(v, k, error_r) < 0)
			return -1;
	}
	return 0;
}

ssize_t imap_view_first_unseen(struct imap_view *v)
{
	const char *err;
	for (size_t k = 0; k < v->seg_count; k++) {
		struct imap_view_seg *seg = &v->segs[k];
		if (!seg->loaded) {
			if (seg->unseen == 0)
				continue;
			if (view_seg_load(v, k, &err) < 0) {
				view_load_failed(v, err);
				return -1;
			}
		}
		for (size_t i = seg->first; i < seg->first + seg->count; i++) {
			if ((v->flags[i] & STORE_FLAG_SEEN) == 0)
				return (ssize_t)i;
		}
	}
	return -1;
}

ssize_t imap_view_deleted_uids(struct imap_view *v, uint32_t *uids_r, const char **error_r)
{
	size_t n = 0;
	for (size_t k = 0; k < v->seg_count; k++) {
		const struct imap_view_seg *seg = &v->segs[k];
		if (!seg->loaded && seg->deleted == 0)
			continue;
		if (view_seg_load(v, k, error_r) < 0)
			return -1;
		for (size_t i = seg->first; i < seg->first + seg->count; i++) {
			if (v->flags[i] & STORE_FLAG_DELETED)
				uids_r[n++] = v->uids[i];
		}
	}
	return (ssize_t)n;
}

/* Indexes [a, b) of the loaded segment seg with UIDs in [lo, hi] (binary searches). */
static void view_seg_span(const struct imap_view *v, const struct imap_view_seg *seg,
			  uint32_t lo, uint32_t hi, size_t *a_r, size_t *b_r)
{
	size_t end = seg->first + seg->count;
	size_t a = seg->first, b = end;
	while (a < b) {
		size_t mid = a + (b - a) / 2;
		if (v->uids[mid] < lo)
			a = mid + 1;
		else
			b = mid;
	}
	size_t x = a, y = end;
	while (x < y) {
		size_t mid = x + (y - x) / 2;
		if (v->uids[mid] <= hi)
			x = mid + 1;
		else
			y = mid;
	}
	*a_r = a;
	*b_r = x;
}

int imap_view_resolve_uids(struct imap_view *v, const struct imap_seqset *set,
			   struct pool *pool, uint32_t **idx_r, size_t *count_r,
			   const char **error_r)
{
	*count_r = 0;
	*idx_r = pool_alloc_array(pool, 1, sizeof(uint32_t));
	if (v->count == 0)
		return 0; /* RFC 9051 6.4.9: "*" with an empty mailbox matches nothing */
	struct imap_seq_range *ranges;
	size_t nr, total = 0;
	imap_seqset_normalize(set, v->uids[v->count - 1], pool, &ranges, &nr);
	/* the ranges ascend and do not overlap: so do the indexes */
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1)
			*idx_r = pool_alloc_array(pool, total ? total : 1, sizeof(uint32_t));
		for (size_t r = 0; r < nr; r++) {
			uint32_t lo = ranges[r].lo, hi = ranges[r].hi;
			if (pass == 0 && imap_view_load_uids(v, lo, hi, error_r) < 0)
				return -1;
			for (size_t k = view_seg_by_chunk(v, lo / STORE_CHUNK_UIDS);
			     k < v->seg_count && v->segs[k].chunk <= hi / STORE_CHUNK_UIDS; k++) {
				size_t a, b;
				view_seg_span(v, &v->segs[k], lo, hi, &a, &b);
				if (pass == 0) {
					total += b - a;
					continue;
				}
				for (size_t i = a; i < b; i++)
					(*idx_r)[(*count_r)++] = (uint32_t)i;
			}
		}
	}
	return 0;
}

/* The segment holding uid's chunk, loaded; NULL when the view has none (or on error). */
static const struct imap_view_seg *view_seg_for_uid(struct imap_view *v, uint32_t uid)
{
	uint32_t chunk = uid / STORE_CHUNK_UIDS;
	size_t k = view_seg_by_chunk(v, chunk);
	if (k == v->seg_count || v->segs[k].chunk != chunk)
		return NULL;
	const char *err;
	if (!v->segs[k].loaded && view_seg_load(v, k, &err) < 0) {
		view_load_failed(v, err);
		return NULL;
	}
	return &v->segs[k];
}

ssize_t imap_view_find(struct imap_view *v, uint32_t uid)
{
	const struct imap_view_seg *seg = view_seg_for_uid(v, uid);
	if (seg == NULL)
		return -1;
	size_t lo = seg->first, hi = seg->first + seg->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v->uids[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < seg->first + seg->count && v->uids[lo] == uid ? (ssize_t)lo : -1;
}

ssize_t imap_view_find_from(struct imap_view *v, uint32_t uid, size_t *hint)
{
	/* the next message, or the one after it, is the common case */
	const struct imap_view_seg *seg = view_seg_for_uid(v, uid);
	if (seg == NULL)
		return -1;
	size_t end = seg->first + seg->count;
	for (size_t i = *hint > seg->first ? *hint : seg->first; i < end && i < *hint + 2; i++) {
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
		/* deleted (by another session or process): everything goes (the chunks not
		 * loaded went with the mailbox: imap_view_flush reports them without reading) */
		v->gone = true;
		for (size_t k = 0; k < v->seg_count; k++) {
			const struct imap_view_seg *seg = &v->segs[k];
			for (size_t i = seg->first; seg->loaded && i < seg->first + seg->count; i++)
				view_expunge_queue(v, i);
		}
		v->pending_new_count = 0;
	} else {
		if (mb->keyword_count != v->mb.keyword_count)
			v->keywords_changed = true;
		view_mailbox_set(&v->mb, mb);
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
 * failing a SELECT or dropping an EXISTS. At open (start 0) the chunks not loaded yet are only
 * counted; view_seg_load marks them from recent_first on. */
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
	if (start == 0)
		v->recent_first = first;
	for (size_t k = view_seg_by_index(v, start); k < v->seg_count; k++) {
		const struct imap_view_seg *seg = &v->segs[k];
		if ((uint64_t)(seg->chunk + 1) * STORE_CHUNK_UIDS <= first)
			continue; /* below the first recent UID */
		if (!seg->loaded) {
			uint64_t lowest = (uint64_t)seg->chunk * STORE_CHUNK_UIDS;
			if ((lowest > 0 ? lowest : 1) >= first) {
				v->recent_count += seg->count; /* all of it */
				continue;
			}
			if (view_seg_load(v, k, &err) < 0) {
				log_error("mailbox %llu: cannot read recent messages: %s",
					  (unsigned long long)v->mb.id, err);
				continue;
			}
		}
		size_t i = seg->first > start ? seg->first : start;
		for (; i < seg->first + seg->count; i++) {
			if (v->uids[i] >= first) {
				v->flags[i] |= IMAP_VIEW_RECENT;
				v->recent_count++;
			}
		}
	}
}

int imap_view_open(struct imap_view *v, struct store *store, const struct store_mailbox *mb,
		   bool readonly, bool track_recent, const char **error_r)
{
	memset(v, 0, sizeof(*v));
	v->store = store;
	v->readonly = readonly;
	v->track_recent = track_recent;
	v->recent_first = UINT32_MAX;
	/* the counts per chunk and the mailbox row from one snapshot: the chunks read later are
	 * rebuilt as they were at its HIGHESTMODSEQ (view_seg_load) */
	struct store_chunk_info *chunks;
	size_t nchunks;
	struct store_mailbox *row = xmalloc(sizeof(*row));
	int r = store_mailbox_chunks(store, mb->id, row, &chunks, &nchunks, error_r);
	if (r > 0)
		view_mailbox_set(&v->mb, row);
	free(row);
	if (r <= 0) {
		if (r == 0)
			*error_r = "the mailbox no longer exists";
		imap_view_close(v);
		return -1;
	}
	size_t total = 0;
	for (size_t k = 0; k < nchunks; k++) {
		if (chunks[k].messages == 0)
			continue;
		struct imap_view_seg *seg = view_seg_add(v);
		seg->chunk = chunks[k].chunk;
		seg->first = (uint32_t)total;
		seg->count = chunks[k].messages;
		seg->unseen = chunks[k].unseen;
		seg->deleted = chunks[k].deleted;
		total += chunks[k].messages;
	}
	free(chunks);
	/* not zeroed, not touched: 100k messages are 2.2 MB of arrays, and zeroing (or filling)
	 * them cost SELECT more than the rest (page faults); a chunk writes its slots when read */
	v->alloc = total > 0 ? total : 1;
	v->uids = xmalloc(v->alloc * sizeof(*v->uids));
	v->flags = xmalloc(v->alloc * sizeof(*v->flags));
	v->keywords = xmalloc(v->alloc * sizeof(*v->keywords));
	v->modseqs = xmalloc(v->alloc * sizeof(*v->modseqs));
	v->dirty = xmalloc(v->alloc * sizeof(*v->dirty));
	v->count = total;
	v->select_uidnext = v->mb.uidnext;
	v->synced_modseq = v->mb.highestmodseq;
	v->reported_modseq = v->mb.highestmodseq; /* SELECT tells the client everything */
	/* the last message is always loaded (new messages follow it; UIDNEXT and \Recent) */
	if (v->seg_count > 0 && view_seg_load(v, v->seg_count - 1, error_r) < 0) {
		imap_view_close(v);
		return -1;
	}
	view_mark_recent(v, 0);
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
	free(v->segs);
	free(v->pending_new);
	free(v->pending_expunged);
	free(v->mb.name);
	free(v->mb.keywords);
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

/* The mailbox was deleted: every message goes, the chunks not loaded with it (their rows
 * are gone). By sequence number that needs no UID; VANISHED names the UIDs the view holds
 * and, of a chunk never loaded, every UID it may have held (the only inexact answer the
 * lazy view gives, for a mailbox that no longer exists). */
static size_t view_flush_gone(struct imap_view *v, struct buf *out)
{
	size_t n = 0;
	if (v->qresync) {
		size_t cap = v->count, k = 0;
		uint32_t *u = xmalloc(cap * sizeof(*u));
		for (size_t sk = 0; sk < v->seg_count; sk++) {
			const struct imap_view_seg *seg = &v->segs[sk];
			if (seg->loaded) {
				memcpy(&u[k], &v->uids[seg->first], seg->count * sizeof(*u));
				k += seg->count;
				continue;
			}
			uint32_t lo = seg->chunk * STORE_CHUNK_UIDS, hi = lo + STORE_CHUNK_UIDS - 1;
			if (lo == 0)
				lo = 1;
			if (hi >= v->select_uidnext)
				hi = v->select_uidnext - 1;
			if (lo > hi)
				continue;
			if (k + (hi - lo + 1) > cap) {
				cap = k + (hi - lo + 1);
				u = xrealloc(u, cap * sizeof(*u));
			}
			for (uint32_t uid = lo; uid <= hi; uid++)
				u[k++] = uid;
		}
		buf_append_str(out, "* VANISHED ");
		imap_seqset_append(out, u, k);
		buf_append_str(out, "\r\n");
		free(u);
		n++;
	} else {
		for (size_t i = v->count; i > 0; i--) {
			buf_printf(out, "* %zu EXPUNGE\r\n", i);
			n++;
		}
	}
	v->count = 0;
	v->seg_count = 0;
	v->dirty_count = 0;
	v->recent_count = 0;
	v->pending_expunged_count = 0;
	return n;
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
	for (size_t k = 0; v->dirty_count > 0 && k < v->seg_count; k++) {
		const struct imap_view_seg *seg = &v->segs[k];
		for (size_t i = seg->first; seg->loaded && i < seg->first + seg->count; i++) {
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
	}
	v->dirty_count = 0;
	if (allow_expunge && v->gone && v->count > 0) {
		n += view_flush_gone(v, out);
	} else if (allow_expunge && v->pending_expunged_count > 0) {
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
		/* the expunged are all in loaded segments (found there); the others only move (their
		 * slots hold nothing yet) */
		size_t w = 0, j = 0, sw = 0;
		for (size_t sk = 0; sk < v->seg_count; sk++) {
			struct imap_view_seg seg = v->segs[sk];
			size_t first = w;
			if (!seg.loaded)
				w += seg.count;
			for (size_t i = seg.first; seg.loaded && i < seg.first + seg.count; i++) {
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
			if (w > first) {
				seg.first = (uint32_t)first;
				seg.count = (uint32_t)(w - first);
				v->segs[sw++] = seg;
			}
		}
		v->count = w;
		v->seg_count = sw;
		v->pending_expunged_count = 0;
		const char *err;
		if (sw > 0 && view_seg_load(v, sw - 1, &err) < 0)
			view_load_failed(v, err); /* the last message is kept loaded */
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
	struct imap_view *view;
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

int imap_view_vanished_earlier(struct imap_view *view, uint64_t since,
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
