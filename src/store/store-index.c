/* store-index.c: writing the search index: one FTS5 row per body (mail/search-text.h's
 * columns) and the body's sent date, in the same transaction as the body row, so a message is
 * searchable exactly when it exists. Also indexing bodies stored before the index existed (the
 * first open after the migration to schema 5) and rebuilding it (kura check --reindex).
 * The SORT and THREAD keys (mail/sort-keys.h) are written with it.
 * Also deleting the rows of dropped bodies (search_gc, schema 8), which the EXPUNGE leaves
 * to idle time and searches because FTS5 tokenizes a document again to delete it.
 * Traps: bodies are shared by COPY and content-addressed, so the index is keyed by body id,
 * never by message; an unreadable body file is marked (search_state 2) so that it is not
 * retried at every open; one body in memory at a time (mapped, not read); a row waiting in
 * search_gc belongs to no body (store-db.c, version 8), never index a body id that is there. */
#include "store/store-private.h"

#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/xmalloc.h"
#include "mail/date.h"
#include "mail/header.h"
#include "mail/mime.h"
#include "mail/search-text.h"
#include "mail/sort-keys.h"
#include "store/store-search.h"

#define STORE_INDEX_BATCH 256
/* FTS rows of dropped bodies deleted per transaction; and what store_index_pending counts as
 * the work of one body (a deletion tokenizes the stored text once, about 0.7 ms for the
 * bench's 1-30 KB messages; indexing also decodes the message and writes the keys) */
#define STORE_GC_BATCH 256
#define STORE_GC_PER_BODY 4
#define STORE_INDEX_BATCH_BYTES (64u * 1024 * 1024)

/* The tables of migration 5 (store-db.c), for a rebuild: keep them the same. */
static const char store_index_tables_sql[] =
	"CREATE VIRTUAL TABLE search_text USING fts5(hdr, subject, h_from, h_to, h_cc, h_bcc, body,"
	" tokenize = 'trigram case_sensitive 1');"
	"CREATE VIRTUAL TABLE search_vocab USING fts5vocab(search_text, 'row');";

/* keys may be NULL (a body that could not be read: no keys, they sort as empty) */
static int store_index_done(struct store *store, int64_t body_id, int state, bool have_date,
			    time_t date, int tz, const struct sort_keys *keys)
{
	sqlite3_stmt *stmt = store_stmt(store, STMT_INDEX_DONE);
	if (stmt == NULL)
		return -1;
	sqlite3_bind_int64(stmt, 1, body_id);
	sqlite3_bind_int(stmt, 2, state);
	if (have_date)
		sqlite3_bind_int64(stmt, 3, (sqlite3_int64)date);
	else
		sqlite3_bind_null(stmt, 3);
	sqlite3_bind_int(stmt, 4, have_date ? tz : 0);
	for (unsigned i = 0; i < SORT_KEY_COUNT; i++) {
		const struct buf *b = keys != NULL ? &keys->key[i] : NULL;
		if (b == NULL)
			sqlite3_bind_null(stmt, (int)i + 5);
		else
			sqlite3_bind_blob(stmt, (int)i + 5, b->data != NULL ? b->data : (unsigned char *)"",
					  (int)b->len, SQLITE_STATIC);
	}
	sqlite3_bind_int(stmt, 13, keys != NULL && keys->subject_reply);
	int r = store_stmt_run(store, stmt, "marking a body indexed");
	sqlite3_clear_bindings(stmt);
	return r;
}

int store_index_body(struct store *store, int64_t body_id, const void *data,
		     const struct mime_part *root)
{
	sqlite3_stmt *stmt = store_stmt(store, STMT_INDEX_INSERT);
	if (stmt == NULL)
		return -1;
	struct search_text *t = xmalloc(sizeof(*t));
	search_text_init(t);
	search_text_extract(t, data, root);
	sqlite3_bind_int64(stmt, 1, body_id);
	for (unsigned i = 0; i < SEARCH_COL_COUNT; i++) {
		const struct buf *b = &t->col[i];
		sqlite3_bind_text(stmt, (int)i + 2, b->data != NULL ? (const char *)b->data : "",
				  (int)b->len, SQLITE_STATIC);
	}
	int ret = store_stmt_run(store, stmt, "indexing a message");
	sqlite3_clear_bindings(stmt);
	search_text_free(t);
	free(t);
	if (ret < 0)
		return -1;

	/* SENTBEFORE/SENTON/SENTSINCE and later SORT read the Date: field from here */
	struct mail_header_field f;
	time_t date = 0;
	int tz = 0;
	bool have_date = mail_header_find((const unsigned char *)data + root->header_offset,
					  root->header_size, "date", &f) &&
			 mail_date_parse(f.value, f.value_len, &date, &tz);
	/* and SORT / THREAD their keys */
	struct sort_keys *keys = xmalloc(sizeof(*keys));
	sort_keys_init(keys);
	sort_keys_extract(keys, store->scratch, data, root);
	ret = store_index_done(store, body_id, 1, have_date, date, tz, keys);
	sort_keys_free(keys);
	free(keys);
	return ret;
}

struct store_index_item {
	int64_t id;
	uint64_t size;
	char hash[STORE_HASH_HEX + 1];
};

/* Index one stored body from its file (inside a transaction). */
static int store_index_file(struct store *store, const struct store_index_item *it)
{
	const char *err;
	int fd = store_body_open(store, it->hash, &err);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || (uint64_t)st.st_size != it->size) {
		/* missing or damaged: store_check reports it; do not try again at every open */
		if (fd >= 0)
			close(fd);
		store_clear_error(store);
		return store_index_done(store, it->id, 2, false, 0, 0, NULL);
	}
	size_t size = (size_t)st.st_size;
	void *data = size == 0 ? NULL : mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (data == MAP_FAILED)
		return store_fail(store, STORE_ERR_INTERNAL, NULL, "cannot map body %s: %s",
				  it->hash, strerror(errno));
	pool_clear(store->scratch);
	const void *msg = data != NULL ? data : "";
	struct mime_part *root = mime_parse(store->scratch, msg, size, NULL);
	int ret = store_index_body(store, it->id, msg, root);
	pool_clear(store->scratch);
	if (data != NULL)
		munmap(data, size);
	return ret;
}

static uint64_t store_index_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* List the next batch of bodies to index (inside the transaction, so two indexers never take
 * the same body): those of sc after *after_id, ascending. */
static int store_index_list(struct store *store, const struct store_index_scope *sc,
			    int64_t after_id, unsigned limit, struct store_index_item *items,
			    size_t *n_r, bool *more_r)
{
	sqlite3_stmt *stmt = store_stmt(store, sc->mailbox_id != 0 ? STMT_INDEX_PENDING_MB
								   : STMT_INDEX_PENDING);
	if (stmt == NULL)
		return -1;
	sqlite3_bind_int(stmt, 1, (int)limit);
	sqlite3_bind_int64(stmt, 2, after_id);
	sqlite3_bind_int64(stmt, 3, sc->max_id > 0 ? sc->max_id : INT64_MAX);
	if (sc->mailbox_id != 0)
		sqlite3_bind_int64(stmt, 4, (sqlite3_int64)sc->mailbox_id);
	size_t n = 0;
	uint64_t bytes = 0;
	int r = SQLITE_DONE;
	while (n < limit && bytes < STORE_INDEX_BATCH_BYTES &&
	       (r = sqlite3_step(stmt)) == SQLITE_ROW) {
		const char *hash = (const char *)sqlite3_column_text(stmt, 1);
		items[n].id = sqlite3_column_int64(stmt, 0);
		items[n].size = (uint64_t)sqlite3_column_int64(stmt, 2);
		if (hash == NULL || !store_hash_valid(hash))
			items[n].hash[0] = '\0';
		else
			memcpy(items[n].hash, hash, STORE_HASH_HEX + 1);
		bytes += items[n].size;
		n++;
	}
	sqlite3_reset(stmt);
	*n_r = n;
	*more_r = r == SQLITE_ROW; /* stopped at the limit (of bodies or bytes), not at the end */
	if (r != SQLITE_ROW && r != SQLITE_DONE)
		return store_fail_sql(store, NULL, "listing bodies to index");
	return 0;
}

int store_index_any(struct store *store)
{
	sqlite3_stmt *stmt = store_stmt(store, STMT_INDEX_ANY);
	if (stmt == NULL)
		return -1;
	int r = sqlite3_step(stmt);
	int any = r == SQLITE_ROW ? sqlite3_column_int(stmt, 0) != 0 : 0;
	sqlite3_reset(stmt);
	if (r != SQLITE_ROW)
		return store_fail_sql(store, NULL, "looking for bodies to index");
	return any;
}

int store_index_run(struct store *store, const struct store_index_scope *sc, unsigned *count_r)
{
	struct store_index_item *items = NULL;
	unsigned total = 0, reported = 0;
	int64_t after = 0;
	int ret = 1;
	*count_r = 0;
	/* the cheap answer first: the partial index body_unindexed is empty */
	int any = store_index_any(store);
	if (any <= 0)
		return any;
	/* The index is derived data (rebuilt from the bodies): its commits need no fsync of their
	 * own. A commit lost in a crash leaves its bodies at search_state 0, indexed again; the
	 * next FULL commit of this store syncs the WAL with them. */
	if (store_exec(store, "PRAGMA synchronous = NORMAL") < 0)
		return -1;
	items = xcalloc(STORE_INDEX_BATCH, sizeof(*items));
	while (sc->max_bodies == 0 || total < sc->max_bodies) {
		unsigned limit = STORE_INDEX_BATCH;
		if (sc->max_bodies != 0 && sc->max_bodies - total < limit)
			limit = sc->max_bodies - total;
		if (store_tx_begin(store) < 0) {
			ret = -1;
			break;
		}
		size_t n = 0, done = 0;
		bool more = false;
		ret = store_index_list(store, sc, after, limit, items, &n, &more) < 0 ? -1 : 1;
		for (; done < n && ret == 1; done++) {
			if (sc->deadline_us != 0 && done > 0 && store_index_now_us() >= sc->deadline_us)
				break;
			if (items[done].hash[0] == '\0')
				ret = store_index_done(store, items[done].id, 2, false, 0, 0, NULL) < 0
					      ? -1 : 1;
			else
				ret = store_index_file(store, &items[done]) < 0 ? -1 : 1;
		}
		if (ret < 0) {
			store_tx_rollback(store);
			break;
		}
		/* nothing a session shows changed: no notice to other processes */
		if (store_tx_commit_quiet(store) < 0) {
			ret = -1;
			break;
		}
		total += (unsigned)done;
		if (done > 0)
			after = items[done - 1].id;
		if (sc->report != NULL && total - reported >= 5000) {
			char line[128];
			snprintf(line, sizeof(line), "search index: %u messages indexed", total);
			sc->report(sc->ctx, line);
			reported = total;
		}
		if (!more && done == n) {
			ret = 0; /* none left */
			break;
		}
		if (sc->deadline_us != 0 && store_index_now_us() >= sc->deadline_us)
			break;
	}
	free(items);
	if (store_sync_mode_restore(store) < 0)
		ret = -1;
	*count_r = total;
	return ret;
}

/* The next ids of search_gc, ascending, up to limit. */
static int store_index_gc_list(struct store *store, unsigned limit, int64_t *ids, size_t *n_r,
			       bool *more_r)
{
	sqlite3_stmt *stmt = store_stmt(store, STMT_GC_LIST);
	if (stmt == NULL)
		return -1;
	sqlite3_bind_int(stmt, 1, (int)limit);
	size_t n = 0;
	int r = SQLITE_DONE;
	while (n < limit && (r = sqlite3_step(stmt)) == SQLITE_ROW)
		ids[n++] = sqlite3_column_int64(stmt, 0);
	sqlite3_reset(stmt);
	*n_r = n;
	*more_r = r == SQLITE_ROW;
	if (r != SQLITE_ROW && r != SQLITE_DONE)
		return store_fail_sql(store, NULL, "listing index rows to delete");
	return 0;
}

static int store_index_gc_one(struct store *store, int64_t id)
{
	sqlite3_stmt *stmt = store_stmt(store, STMT_GC_TEXT_DELETE);
	if (stmt == NULL)
		return -1;
	sqlite3_bind_int64(stmt, 1, id);
	if (store_stmt_run(store, stmt, "deleting an index row") < 0)
		return -1;
	if ((stmt = store_stmt(store, STMT_GC_DELETE)) == NULL)
		return -1;
	sqlite3_bind_int64(stmt, 1, id);
	return store_stmt_run(store, stmt, "deleting an index row");
}

int store_index_gc(struct store *store, unsigned max_rows, uint64_t deadline_us,
		   unsigned *count_r)
{
	int64_t ids[STORE_GC_BATCH];
	unsigned total = 0;
	size_t n = 0;
	bool more = false;
	*count_r = 0;
	/* the cheap answer first, without the write lock: search_gc is empty */
	if (store_index_gc_list(store, 1, ids, &n, &more) < 0)
		return -1;
	if (n == 0)
		return 0;
	/* derived data, as in store_index_run: a commit lost in a crash leaves the ids in
	 * search_gc, to be deleted again (deleting an absent row is harmless) */
	if (store_exec(store, "PRAGMA synchronous = NORMAL") < 0)
		return -1;
	int ret = 1;
	while (max_rows == 0 || total < max_rows) {
		unsigned limit = STORE_GC_BATCH;
		if (max_rows != 0 && max_rows - total < limit)
			limit = max_rows - total;
		if (store_tx_begin(store) < 0) {
			ret = -1;
			break;
		}
		size_t done = 0;
		ret = store_index_gc_list(store, limit, ids, &n, &more) < 0 ? -1 : 1;
		for (; done < n && ret == 1; done++) {
			if (deadline_us != 0 && done > 0 && store_index_now_us() >= deadline_us)
				break;
			ret = store_index_gc_one(store, ids[done]) < 0 ? -1 : 1;
		}
		if (ret < 0) {
			store_tx_rollback(store);
			break;
		}
		/* nothing a session shows changed: no notice to other processes */
		if (store_tx_commit_quiet(store) < 0) {
			ret = -1;
			break;
		}
		total += (unsigned)done;
		if (!more && done == n) {
			ret = 0; /* none left */
			break;
		}
		if (deadline_us != 0 && store_index_now_us() >= deadline_us)
			break;
	}
	if (store_sync_mode_restore(store) < 0)
		ret = -1;
	*count_r = total;
	return ret;
}

int store_index_pending(struct store *store, unsigned max_bodies, const char **error_r)
{
	store_clear_error(store);
	if (max_bodies == 0)
		max_bodies = 1;
	struct store_index_scope sc = {.max_bodies = max_bodies};
	unsigned count, deleted;
	if (store_index_run(store, &sc, &count) < 0)
		return store_failed(store, error_r);
	if (count >= max_bodies)
		return (int)(count > INT32_MAX ? INT32_MAX : count);
	/* what the indexing left of the turn goes to the rows of dropped bodies; those left
	 * over make the turn count as full, so that the caller comes back */
	int r = store_index_gc(store, (max_bodies - count) * STORE_GC_PER_BODY, 0, &deleted);
	if (r < 0)
		return store_failed(store, error_r);
	if (r > 0)
		return (int)(max_bodies > INT32_MAX ? INT32_MAX : max_bodies);
	count += (deleted + STORE_GC_PER_BODY - 1) / STORE_GC_PER_BODY;
	if (count >= max_bodies)
		count = max_bodies - 1; /* none is left */
	return (int)(count > INT32_MAX ? INT32_MAX : count);
}

int store_search_reindex(struct store *store, store_report_cb *report, void *ctx,
			 unsigned *count_r, const char **error_r)
{
	store_clear_error(store);
	*count_r = 0;
	/* dropping the table is much cheaper than deleting its rows one by one (FTS5 reads each
	 * row's text back to remove its tokens) */
	if (store_tx_begin(store) < 0)
		return store_failed(store, error_r);
	if (store_exec(store, "DROP TABLE search_vocab; DROP TABLE search_text;"
			      " DELETE FROM search_gc;") < 0 ||
	    store_exec(store, store_index_tables_sql) < 0 ||
	    store_exec(store, "UPDATE body SET search_state = 0") < 0) {
		store_tx_rollback(store);
		return store_failed(store, error_r);
	}
	if (store_tx_commit(store) < 0)
		return store_failed(store, error_r);
	struct store_index_scope sc = {.report = report, .ctx = ctx};
	if (store_index_run(store, &sc, count_r) < 0)
		return store_failed(store, error_r);
	store_clear_error(store);
	return 0;
}
