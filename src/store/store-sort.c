/* store-sort.c: SORT's ordering of a search result (store-search.h). The keys were computed
 * when the body was indexed (mail/sort-keys.h, body.sort_*; strings already in
 * i;unicode-casemap canonical form; bodies appended unindexed are indexed first), so sorting
 * is reading them for the messages found and comparing bytes and numbers.
 * Traps: keys are read in slices, by UID range where the result is dense and message by
 * message where it is sparse, so neither a huge result nor a scattered small one costs a scan
 * it does not need; no statement stays open between slices; the tie-breaker is the UID (the
 * sequence order RFC 5256 asks for). Memory: one entry per message found, its keys in a pool
 * (up to SORT_KEY_MAX bytes per string key). */
#include "store/store-search.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/pool.h"
#include "lib/xmalloc.h"
#include "store/store-private.h"

#define SORT_PAGE 256
#define SORT_RUN 2048

struct sort_str {
	const unsigned char *p;
	size_t len;
};

struct sort_item {
	uint32_t uid;
	int64_t arrival;
	int64_t date;
	uint64_t size;
	struct sort_str str[6]; /* subject, from, to, cc, display from, display to */
};

/* SORT or THREAD: the same reading of keys, different columns */

struct store_sort {
	struct store *store;
	uint64_t mailbox_id;
	struct store_sort_criterion crit[STORE_SORT_CRITERIA_MAX];
	size_t ncrit;
	bool need_str;
	bool thread;             /* a THREAD reader: thread[] instead of items[] */
	struct store_thread_msg *threads;
	uint32_t *want;          /* the UIDs to sort, ascending */
	size_t want_count, pos;  /* keys read for want[0..pos) */
	struct sort_item *items;
	size_t count;
	/* the sort itself, in slices: runs of SORT_RUN sorted with qsort, then merged pairwise,
	 * one merge (at most count entries) at a time */
	uint32_t *order, *aux;   /* indexes into items */
	size_t width, at;        /* current run width, position in the pass */
	bool sorting;
	uint32_t *result;
	bool done;
	struct pool *pool;
	sqlite3_stmt *stmt;
	struct timespec deadline;
	int64_t max_body;        /* bodies up to this id are indexed first (store-index.c) */
	bool caught_up;
};

static int sort_str_index(enum store_sort_key key)
{
	switch (key) {
	case STORE_SORT_SUBJECT: return 0;
	case STORE_SORT_FROM: return 1;
	case STORE_SORT_TO: return 2;
	case STORE_SORT_CC: return 3;
	case STORE_SORT_DISPLAYFROM: return 4;
	case STORE_SORT_DISPLAYTO: return 5;
	default: return -1;
	}
}

int store_sort_begin(struct store *store, uint64_t mailbox_id,
		     const struct store_sort_criterion *criteria, size_t n, const uint32_t *uids,
		     size_t count, struct store_sort **sort_r, const char **error_r)
{
	store_clear_error(store);
	*sort_r = NULL;
	if (n == 0 || n > STORE_SORT_CRITERIA_MAX)
		return store_fail(store, STORE_ERR_INVALID, error_r, "invalid sort criteria");
	for (size_t i = 0; i < n; i++) {
		if (criteria[i].key > STORE_SORT_DISPLAYTO)
			return store_fail(store, STORE_ERR_INVALID, error_r, "invalid sort criteria");
	}
	if (store_use(store) < 0) /* sort_read uses store->db directly */
		return store_failed(store, error_r);
	struct store_sort *s = xcalloc(1, sizeof(*s));
	s->store = store;
	store->handles++; /* no parking while the handle lives */
	s->mailbox_id = mailbox_id;
	memcpy(s->crit, criteria, n * sizeof(*criteria));
	s->ncrit = n;
	for (size_t i = 0; i < n; i++)
		s->need_str |= sort_str_index(criteria[i].key) >= 0;
	s->want = xcalloc(count ? count : 1, sizeof(uint32_t));
	if (count > 0)
		memcpy(s->want, uids, count * sizeof(uint32_t));
	s->want_count = count;
	s->items = xcalloc(count ? count : 1, sizeof(*s->items));
	s->pool = pool_create(64 * 1024);
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(store->db, "SELECT COALESCE(MAX(id), 0) FROM body", -1, &st, NULL) !=
	    SQLITE_OK) {
		store_sort_end(&s);
		return store_fail_sql(store, error_r, "sorting");
	}
	if (sqlite3_step(st) == SQLITE_ROW)
		s->max_body = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	*sort_r = s;
	return 0;
}

void store_sort_end(struct store_sort **sp)
{
	struct store_sort *s = *sp;
	if (s == NULL)
		return;
	*sp = NULL;
	sqlite3_finalize(s->stmt);
	s->store->handles--;
	pool_destroy(&s->pool);
	free(s->want);
	free(s->items);
	free(s->threads);
	free(s->order);
	free(s->aux);
	free(s->result);
	free(s);
}

static bool sort_expired(const struct store_sort *s)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > s->deadline.tv_sec ||
	       (now.tv_sec == s->deadline.tv_sec && now.tv_nsec >= s->deadline.tv_nsec);
}

static void sort_col_str(struct store_sort *s, sqlite3_stmt *st, int col, struct sort_str *out)
{
	const void *p = sqlite3_column_blob(st, col);
	size_t len = (size_t)sqlite3_column_bytes(st, col);
	out->p = len > 0 ? (const unsigned char *)pool_memdup(s->pool, p, len)
			 : (const unsigned char *)"";
	out->len = len;
}

/* Read the keys of the rows with UIDs in [lo, hi] that are wanted (from want[pos]). */
static int sort_read(struct store_sort *s, uint32_t lo, uint32_t hi, unsigned limit)
{
	if (s->stmt == NULL &&
	    sqlite3_prepare_v3(s->store->db,
			       "SELECT m.uid, m.internal_date, m.size, b.sent_date, b.sort_subject,"
			       " b.sort_from, b.sort_to, b.sort_cc, b.sort_display_from,"
			       " b.sort_display_to, b.thread_message_id, b.thread_references,"
			       " b.thread_subject_reply FROM message m JOIN body b ON b.id = m.body_id"
			       " WHERE m.mailbox_id = ?1 AND m.uid >= ?2 AND m.uid <= ?3"
			       " ORDER BY m.uid LIMIT ?4",
			       -1, SQLITE_PREPARE_PERSISTENT, &s->stmt, NULL) != SQLITE_OK) {
		s->stmt = NULL;
		return store_fail_sql(s->store, NULL, "preparing a sort");
	}
	sqlite3_stmt *st = s->stmt;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)s->mailbox_id);
	sqlite3_bind_int64(st, 2, lo);
	sqlite3_bind_int64(st, 3, hi);
	sqlite3_bind_int(st, 4, (int)limit);
	int r;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		uint32_t uid = (uint32_t)sqlite3_column_int64(st, 0);
		while (s->pos < s->want_count && s->want[s->pos] < uid)
			s->pos++; /* expunged meanwhile: left out */
		if (s->pos >= s->want_count || s->want[s->pos] != uid)
			continue;
		s->pos++;
		if (s->thread) {
			struct store_thread_msg *t = &s->threads[s->count++];
			struct sort_str tmp;
			t->uid = uid;
			int64_t arrival = sqlite3_column_int64(st, 1);
			t->date = sqlite3_column_type(st, 3) == SQLITE_NULL ? arrival
									    : sqlite3_column_int64(st, 3);
			sort_col_str(s, st, 4, &tmp);
			t->subject = (struct store_thread_str){tmp.p, tmp.len};
			sort_col_str(s, st, 10, &tmp);
			t->message_id = (struct store_thread_str){tmp.p, tmp.len};
			sort_col_str(s, st, 11, &tmp);
			t->references = (struct store_thread_str){tmp.p, tmp.len};
			t->reply = sqlite3_column_int(st, 12) != 0;
			continue;
		}
		struct sort_item *it = &s->items[s->count++];
		it->uid = uid;
		it->arrival = sqlite3_column_int64(st, 1);
		it->size = (uint64_t)sqlite3_column_int64(st, 2);
		/* RFC 5256 2.2: no sent date, the internal date */
		it->date = sqlite3_column_type(st, 3) == SQLITE_NULL ? it->arrival
								     : sqlite3_column_int64(st, 3);
		for (int k = 0; k < 6; k++) {
			if (s->need_str)
				sort_col_str(s, st, 4 + k, &it->str[k]);
			else
				it->str[k] = (struct sort_str){(const unsigned char *)"", 0};
		}
	}
	sqlite3_reset(st);
	if (r != SQLITE_DONE)
		return store_fail_sql(s->store, NULL, "reading sort keys");
	/* everything up to hi has been seen */
	while (s->pos < s->want_count && s->want[s->pos] <= hi)
		s->pos++;
	return 0;
}

static int sort_str_cmp(const struct sort_str *a, const struct sort_str *b)
{
	size_t n = a->len < b->len ? a->len : b->len;
	int c = n > 0 ? memcmp(a->p, b->p, n) : 0;
	if (c != 0)
		return c;
	return a->len < b->len ? -1 : a->len > b->len;
}

static int sort_item_cmp(const void *x, const void *y, void *ctx)
{
	const struct sort_item *a = x, *b = y;
	const struct store_sort *s = ctx;
	for (size_t i = 0; i < s->ncrit; i++) {
		int c = 0;
		enum store_sort_key key = s->crit[i].key;
		switch (key) {
		case STORE_SORT_ARRIVAL:
			c = a->arrival < b->arrival ? -1 : a->arrival > b->arrival;
			break;
		case STORE_SORT_DATE:
			c = a->date < b->date ? -1 : a->date > b->date;
			break;
		case STORE_SORT_SIZE:
			c = a->size < b->size ? -1 : a->size > b->size;
			break;
		default:
			c = sort_str_cmp(&a->str[sort_str_index(key)], &b->str[sort_str_index(key)]);
			break;
		}
		if (c != 0)
			return s->crit[i].reverse ? -c : c;
	}
	/* RFC 5256: the implicit last criterion is the sequence number (not reversed) */
	return a->uid < b->uid ? -1 : a->uid > b->uid;
}

static int sort_index_cmp(const void *x, const void *y, void *ctx)
{
	const struct store_sort *s = ctx;
	return sort_item_cmp(&s->items[*(const uint32_t *)x], &s->items[*(const uint32_t *)y],
			     ctx);
}

/* Sort s->order in slices (1 done, 0 the time is up): a stable merge sort, so no single step
 * holds the loop for long even with 100k messages. */
static int sort_merge(struct store_sort *s)
{
	size_t n = s->count;
	if (!s->sorting) {
		s->order = xcalloc(n ? n : 1, sizeof(uint32_t));
		s->aux = xcalloc(n ? n : 1, sizeof(uint32_t));
		for (size_t i = 0; i < n; i++)
			s->order[i] = (uint32_t)i;
		s->sorting = true;
		s->width = 0; /* the first pass sorts runs */
		s->at = 0;
	}
	while (s->width == 0) {
		if (s->at >= n) {
			s->width = SORT_RUN;
			s->at = 0;
			break;
		}
		size_t len = n - s->at < SORT_RUN ? n - s->at : SORT_RUN;
		qsort_r(s->order + s->at, len, sizeof(uint32_t), sort_index_cmp, s);
		s->at += len;
		if (sort_expired(s))
			return 0;
	}
	while (s->width < n) {
		if (s->at >= n) {
			uint32_t *t = s->order;
			s->order = s->aux;
			s->aux = t;
			s->width *= 2;
			s->at = 0;
			continue;
		}
		size_t lo = s->at, mid = lo + s->width < n ? lo + s->width : n;
		size_t hi = mid + s->width < n ? mid + s->width : n, i = lo, j = mid, k = lo;
		while (i < mid && j < hi) {
			/* ties take the left run first: stable */
			if (sort_item_cmp(&s->items[s->order[j]], &s->items[s->order[i]], s) < 0)
				s->aux[k++] = s->order[j++];
			else
				s->aux[k++] = s->order[i++];
		}
		while (i < mid)
			s->aux[k++] = s->order[i++];
		while (j < hi)
			s->aux[k++] = s->order[j++];
		s->at = hi;
		if (sort_expired(s))
			return 0;
	}
	return 1;
}

int store_sort_run(struct store_sort *s, unsigned budget_ms, const uint32_t **uids_r,
		   size_t *count_r, const char **error_r)
{
	store_clear_error(s->store);
	clock_gettime(CLOCK_MONOTONIC, &s->deadline);
	s->deadline.tv_sec += budget_ms / 1000;
	s->deadline.tv_nsec += (long)(budget_ms % 1000) * 1000000L;
	if (s->deadline.tv_nsec >= 1000000000L) {
		s->deadline.tv_sec++;
		s->deadline.tv_nsec -= 1000000000L;
	}
	if (!s->caught_up && s->max_body > 0) {
		/* the keys are written when a body is indexed: the mailbox's bodies appended
		 * unindexed get them first (a search before this did it already; then this is one
		 * index lookup) */
		struct store_index_scope sc = {
			.mailbox_id = s->mailbox_id,
			.max_id = s->max_body,
			.deadline_us = (uint64_t)s->deadline.tv_sec * 1000000u +
				       (uint64_t)s->deadline.tv_nsec / 1000u,
		};
		unsigned count;
		int r = store_index_run(s->store, &sc, &count);
		if (r < 0)
			return store_failed(s->store, error_r);
		if (r > 0)
			return 0;
	}
	s->caught_up = true;
	while (!s->done && s->pos < s->want_count) {
		size_t end = s->pos + SORT_PAGE < s->want_count ? s->pos + SORT_PAGE : s->want_count;
		uint32_t lo = s->want[s->pos], hi = s->want[end - 1];
		int r;
		if ((uint64_t)hi - lo > 4 * (uint64_t)(end - s->pos)) {
			/* sparse: the wanted UIDs one by one */
			r = sort_read(s, lo, lo, 1);
		} else {
			r = sort_read(s, lo, hi, (unsigned)(hi - lo + 1));
		}
		if (r < 0)
			return store_failed(s->store, error_r);
		if (sort_expired(s))
			return 0;
	}
	if (!s->done && !s->thread) {
		if (sort_merge(s) == 0)
			return 0;
		s->result = xcalloc(s->count ? s->count : 1, sizeof(uint32_t));
		for (size_t i = 0; i < s->count; i++)
			s->result[i] = s->items[s->order[i]].uid;
		s->done = true;
	}
	s->done = true;
	*uids_r = s->result;
	*count_r = s->count;
	return 1;
}

int store_thread_begin(struct store *store, uint64_t mailbox_id, const uint32_t *uids,
		       size_t count, struct store_sort **reader_r, const char **error_r)
{
	struct store_sort_criterion none = {STORE_SORT_ARRIVAL, false};
	if (store_sort_begin(store, mailbox_id, &none, 1, uids, count, reader_r, error_r) < 0)
		return -1;
	struct store_sort *s = *reader_r;
	s->thread = true;
	s->threads = xcalloc(count ? count : 1, sizeof(*s->threads));
	return 0;
}

int store_thread_run(struct store_sort *s, unsigned budget_ms,
		     const struct store_thread_msg **msgs_r, size_t *count_r, const char **error_r)
{
	const uint32_t *unused;
	size_t n;
	int r = store_sort_run(s, budget_ms, &unused, &n, error_r);
	if (r == 1) {
		*msgs_r = s->threads;
		*count_r = s->count;
	}
	return r;
}
