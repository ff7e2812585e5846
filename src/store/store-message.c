/* store-message.c: messages: append (MULTIAPPEND), the view listing, FETCH data, flag changes,
 * expunge, copy and move. Each change is one transaction with one new MODSEQ for the mailbox
 * (every message it changes gets that MODSEQ; RFC 7162 3.1 allows messages changed together to
 * share one), and keeps the mailbox's counters exact.
 * Traps: append writes and fsyncs every body file (and its folder) before BEGIN, holding the
 * write lock from the first file to the commit so no sweep or expunge elsewhere can take a
 * file the rows are about to name; files this append created are removed again if it fails;
 * keyword bits differ between mailboxes, so copy maps them by name. */
#include "store/store-private.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"
#include "lib/pool.h"
#include "lib/xmalloc.h"

#define STORE_FLAGS_ALL                                                                      \
	(STORE_FLAG_SEEN | STORE_FLAG_ANSWERED | STORE_FLAG_FLAGGED | STORE_FLAG_DELETED |   \
	 STORE_FLAG_DRAFT)
#define STORE_TZ_MAX (24 * 60 - 1)

static void store_counters_add(struct store_mailbox *mb, uint8_t flags, uint64_t size)
{
	mb->messages++;
	if ((flags & STORE_FLAG_SEEN) == 0)
		mb->unseen++;
	if ((flags & STORE_FLAG_DELETED) != 0)
		mb->deleted++;
	mb->size += size;
}

static void store_counters_sub(struct store_mailbox *mb, uint8_t flags, uint64_t size)
{
	mb->messages--;
	if ((flags & STORE_FLAG_SEEN) == 0)
		mb->unseen--;
	if ((flags & STORE_FLAG_DELETED) != 0)
		mb->deleted--;
	mb->size -= size;
}

/* One message: its row (MSG_GET) and its state (store-state.c). */
struct store_row {
	int64_t body_id;
	uint64_t size;
	uint8_t flags;
	uint64_t keywords;
	uint64_t modseq;
	int64_t internal_date;
	int internal_tz;
};

/* 1 found, 0 absent, -1 error */
static int store_row_get(struct store *store, uint64_t mailbox_id, uint32_t uid,
			 struct store_row *row)
{
	sqlite3_stmt *stmt = store_stmt(store, STMT_MSG_GET);
	if (stmt == NULL)
		return -1;
	sqlite3_bind_int64(stmt, 1, (sqlite3_int64)mailbox_id);
	sqlite3_bind_int64(stmt, 2, uid);
	int r = sqlite3_step(stmt);
	if (r == SQLITE_ROW) {
		row->body_id = sqlite3_column_int64(stmt, 0);
		row->size = (uint64_t)sqlite3_column_int64(stmt, 1);
		row->internal_date = sqlite3_column_int64(stmt, 2);
		row->internal_tz = sqlite3_column_int(stmt, 3);
	}
	sqlite3_reset(stmt);
	if (r == SQLITE_DONE)
		return 0;
	if (r != SQLITE_ROW)
		return store_fail_sql(store, NULL, "reading a message");
	struct store_msg msg;
	int found = store_state_get(store, mailbox_id, uid, &msg);
	if (found < 0)
		return -1;
	if (found == 0)
		return store_fail(store, STORE_ERR_INTERNAL, NULL,
				  "message %u has no state (kura check --repair)", uid);
	row->flags = msg.flags;
	row->keywords = msg.keywords;
	row->modseq = msg.modseq;
	return 1;
}

static int store_row_insert(struct store *store, uint64_t mailbox_id, uint32_t uid,
			    const struct store_row *row, time_t saved_date)
{
	sqlite3_stmt *stmt = store_stmt(store, STMT_MSG_INSERT);
	if (stmt == NULL)
		return -1;
	sqlite3_bind_int64(stmt, 1, (sqlite3_int64)mailbox_id);
	sqlite3_bind_int64(stmt, 2, uid);
	sqlite3_bind_int64(stmt, 3, row->body_id);
	sqlite3_bind_int64(stmt, 4, (sqlite3_int64)row->size);
	sqlite3_bind_int64(stmt, 5, row->internal_date);
	sqlite3_bind_int(stmt, 6, row->internal_tz);
	sqlite3_bind_int64(stmt, 7, (sqlite3_int64)saved_date);
	if (store_stmt_run(store, stmt, "adding a message") < 0)
		return -1;
	struct store_msg msg = {
		.uid = uid, .flags = row->flags, .keywords = row->keywords, .modseq = row->modseq
	};
	return store_state_put(store, mailbox_id, &msg);
}

static int store_row_delete(struct store *store, uint64_t mailbox_id, uint32_t uid,
			    uint64_t modseq)
{
	sqlite3_stmt *stmt = store_stmt(store, STMT_MSG_DELETE);
	if (stmt == NULL)
		return -1;
	sqlite3_bind_int64(stmt, 1, (sqlite3_int64)mailbox_id);
	sqlite3_bind_int64(stmt, 2, uid);
	if (store_stmt_run(store, stmt, "expunging a message") < 0)
		return -1;
	stmt = store_stmt(store, STMT_EXPUNGED_INSERT);
	if (stmt == NULL)
		return -1;
	sqlite3_bind_int64(stmt, 1, (sqlite3_int64)mailbox_id);
	sqlite3_bind_int64(stmt, 2, uid);
	sqlite3_bind_int64(stmt, 3, (sqlite3_int64)modseq);
	if (store_stmt_run(store, stmt, "logging an expunge") < 0)
		return -1;
	return store_state_del(store, mailbox_id, uid);
}

static int store_body_ref(struct store *store, int64_t body_id, int delta)
{
	sqlite3_stmt *stmt = store_stmt(store, STMT_BODY_REF);
	if (stmt == NULL)
		return -1;
	sqlite3_bind_int64(stmt, 1, body_id);
	sqlite3_bind_int(stmt, 2, delta);
	return store_stmt_run(store, stmt, "counting a body reference");
}

/* 1 found (id and size), 0 absent, -1 */
int store_body_lookup(struct store *store, const char *hash, int64_t *id_r, uint64_t *size_r)
{
	sqlite3_stmt *stmt = store_stmt(store, STMT_BODY_BY_HASH);
	if (stmt == NULL)
		return -1;
	sqlite3_bind_text(stmt, 1, hash, STORE_HASH_HEX, SQLITE_STATIC);
	int r = sqlite3_step(stmt);
	if (r == SQLITE_ROW) {
		*id_r = sqlite3_column_int64(stmt, 0);
		*size_r = (uint64_t)sqlite3_column_int64(stmt, 1);
	}
	sqlite3_reset(stmt);
	if (r == SQLITE_ROW)
		return 1;
	if (r == SQLITE_DONE)
		return 0;
	return store_fail_sql(store, NULL, "looking up a body");
}

/* ---- append ---- */

struct store_append_item {
	char hash[STORE_HASH_HEX + 1];
	bool created; /* this call wrote the file and no row named it before */
};

static int store_append_check(struct store *store, const struct store_append *msgs, size_t count)
{
	if (count == 0)
		return store_fail(store, STORE_ERR_INVALID, NULL, "no message to append");
	for (size_t i = 0; i < count; i++) {
		const struct store_append *m = &msgs[i];
		if (m->data == NULL && m->size > 0)
			return store_fail(store, STORE_ERR_INVALID, NULL, "message without data");
		if ((m->flags & ~STORE_FLAGS_ALL) != 0)
			return store_fail(store, STORE_ERR_INVALID, NULL, "unknown flag");
		if (m->internal_tz < -STORE_TZ_MAX || m->internal_tz > STORE_TZ_MAX)
			return store_fail(store, STORE_ERR_INVALID, NULL, "invalid time zone");
		for (size_t k = 0; k < m->keyword_count; k++) {
			if (m->keywords == NULL || m->keywords[k] == NULL ||
			    !store_keyword_valid(m->keywords[k]))
				return store_fail(store, STORE_ERR_INVALID, NULL, "invalid keyword");
		}
	}
	return 0;
}

/* Write the files (or find them present) and make their names durable. */
static int store_append_files(struct store *store, const struct store_append *msgs, size_t count,
			      struct store_append_item *items)
{
	struct store_body_batch *b = xmalloc(sizeof(*b));
	store_body_batch_init(b, count >= STORE_SYNCFS_MIN);
	for (size_t i = 0; i < count; i++) {
		int64_t id;
		uint64_t size;
		const void *data = msgs[i].data != NULL ? (const void *)msgs[i].data : "";
		store_hash_hex(data, msgs[i].size, items[i].hash);
		int row = store_body_lookup(store, items[i].hash, &id, &size);
		if (row < 0)
			goto fail;
		if (row > 0 && size != msgs[i].size) {
			store_fail(store, STORE_ERR_INTERNAL, NULL,
				   "body %s is recorded with another size", items[i].hash);
			goto fail;
		}
		int file = store_body_file_check(store, items[i].hash, msgs[i].size);
		if (file < 0)
			goto fail;
		if (file > 0) {
			/* content-addressed dedup; a file no row names yet (left by a crash, or
			 * linked by a group commit that has not synced yet: store-stage.c) may
			 * have neither durable bytes nor a durable name yet */
			if (row == 0) {
				if (store_body_file_sync(store, items[i].hash) < 0)
					goto fail;
				store_body_dir_mark(b->dirs, items[i].hash);
			}
			continue;
		}
		/* absent, or damaged (wrong size): write the bytes we have */
		if (store_body_batch_add(store, b, items[i].hash, data, msgs[i].size) < 0)
			goto fail;
		items[i].created = row == 0;
	}
	if (store_body_batch_flush(store, b) < 0 || store_body_dirs_sync(store, b->dirs) < 0)
		goto fail;
	store_body_batch_free(b);
	free(b);
	return 0;
fail:
	store_body_batch_abort(store, b);
	store_body_batch_free(b);
	free(b);
	return -1;
}

/* The body row for item i inside the transaction: one more reference, or a new row with the
 * structure rendered now. */
static int store_append_body_row(struct store *store, const struct store_append *m,
				 const char *hash, int64_t *body_id_r)
{
	uint64_t size;
	int r = store_body_lookup(store, hash, body_id_r, &size);
	if (r < 0)
		return -1;
	if (r > 0)
		return store_body_ref(store, *body_id_r, 1);
	return store_body_insert(store, hash, m->data != NULL ? (const void *)m->data : "", m->size,
				 body_id_r);
}

/* After a group commit's append: back to FULL for whatever the store does next (the
 * connection is the process's: an IMAP session's commits must each be durable). */
static void store_append_sync_restore(struct store *store, bool staged)
{
	store->defer_notify = false;
	if (staged && store_sync_mode_restore(store) < 0)
		log_error("store %s: cannot set synchronous = FULL again: %s", store->dir,
			  sqlite3_errmsg(store->db));
}

/* A group commit's file (store-stage.c): store_stage_link made it before the sync; make sure
 * it is still there with its size (a concurrent failed append of the same bytes may have
 * removed it: then link it again and make that name durable now, before the row). */
static int store_append_staged_file(struct store *store, struct store_stage *stage,
				    const struct store_staged *b, bool created,
				    struct store_append_item *item)
{
	memcpy(item->hash, b->hash, sizeof(item->hash));
	int64_t id;
	uint64_t size;
	int row = store_body_lookup(store, b->hash, &id, &size);
	if (row < 0)
		return -1;
	if (row > 0 && size != b->size)
		return store_fail(store, STORE_ERR_INTERNAL, NULL,
				  "body %s is recorded with another size", b->hash);
	int file = store_body_file_check(store, b->hash, b->size);
	if (file < 0)
		return -1;
	if (file == 0) {
		if (store_stage_relink(store, stage, b) < 0)
			return -1;
		created = true;
	}
	item->created = created && row == 0;
	return 0;
}

static int store_append_tx(struct store *store, uint64_t mailbox_id,
			   const struct store_append *msgs, size_t count,
			   struct store_stage *stage, const struct store_staged *staged,
			   bool staged_created, uint32_t *uids_r, uint32_t *uidvalidity_r,
			   const char **error_r)
{
	struct store_mailbox *mb = NULL;
	struct store_append_item *items = NULL;
	bool in_tx = false;

	store_clear_error(store);
	if (store_append_check(store, msgs, count) < 0)
		return store_failed(store, error_r);
	if (store_lock_write(store) < 0)
		return store_failed(store, error_r);
	mb = xmalloc(sizeof(*mb));
	items = xcalloc(count, sizeof(*items));
	/* a missing mailbox is found before any byte is written */
	if (store_mailbox_load(store, mailbox_id, mb) <= 0)
		goto fail;
	if (staged != NULL ? store_append_staged_file(store, stage, staged, staged_created, items) < 0
			   : store_append_files(store, msgs, count, items) < 0)
		goto fail;
	/* a group commit syncs the WAL with everybody else's (store-stage.c) */
	if (staged != NULL && store_exec(store, "PRAGMA synchronous = NORMAL") < 0)
		goto fail;
	store->defer_notify = staged != NULL;
	if (store_tx_begin(store) < 0)
		goto fail;
	in_tx = true;
	if (store_mailbox_load(store, mailbox_id, mb) <= 0)
		goto fail;
	if ((uint64_t)mb->uidnext + count > UINT32_MAX) {
		store_fail(store, STORE_ERR_LIMIT, NULL, "mailbox has run out of UIDs");
		goto fail;
	}
	uint64_t modseq = mb->highestmodseq + 1;
	time_t now = time(NULL);
	for (size_t i = 0; i < count; i++) {
		const struct store_append *m = &msgs[i];
		struct store_row row = {
			.size = m->size,
			.flags = m->flags,
			.modseq = modseq,
			.internal_date = m->internal_date != 0 ? m->internal_date : now,
			.internal_tz = m->internal_tz,
		};
		if (store_keywords_mask(store, mb, m->keywords, m->keyword_count, true,
					&row.keywords) < 0 ||
		    store_append_body_row(store, m, items[i].hash, &row.body_id) < 0)
			goto fail;
		uint32_t uid = mb->uidnext++;
		if (store_row_insert(store, mailbox_id, uid, &row, now) < 0)
			goto fail;
		store_counters_add(mb, m->flags, m->size);
		struct store_msg msg = {
			.uid = uid, .flags = m->flags, .keywords = row.keywords, .modseq = modseq
		};
		store_event_add(store, STORE_EV_APPENDED, mailbox_id, &msg);
		if (uids_r != NULL)
			uids_r[i] = uid;
	}
	mb->highestmodseq = modseq;
	if (store_mailbox_save(store, mb) < 0)
		goto fail;
	in_tx = false;
	if (store_tx_commit(store) < 0)
		goto fail;
	if (uidvalidity_r != NULL)
		*uidvalidity_r = mb->uidvalidity;
	store_append_sync_restore(store, staged != NULL);
	if (staged != NULL)
		store_stage_note_wal(stage, store);
	store_unlock_write(store);
	free(mb);
	free(items);
	store_clear_error(store);
	store_events_deliver(store, NULL);
	return 0;
fail:
	if (in_tx)
		store_tx_rollback(store);
	store_append_sync_restore(store, staged != NULL);
	store_events_clear(store);
	/* still under the write lock: nobody can have come to depend on these files */
	for (size_t i = 0; i < count; i++) {
		if (items != NULL && items[i].created)
			store_body_file_unlink(store, items[i].hash);
	}
	store_unlock_write(store);
	free(mb);
	free(items);
	return store_failed(store, error_r);
}

int store_append(struct store *store, uint64_t mailbox_id, const struct store_append *msgs,
		 size_t count, uint32_t *uids_r, uint32_t *uidvalidity_r, const char **error_r)
{
	return store_append_tx(store, mailbox_id, msgs, count, NULL, NULL, false, uids_r,
			       uidvalidity_r, error_r);
}

int store_append_staged(struct store *store, uint64_t mailbox_id, const struct store_append *msg,
			struct store_stage *stage, const struct store_staged *b, bool created,
			uint32_t *uid_r, uint32_t *uidvalidity_r, const char **error_r)
{
	if (msg->size != b->size) {
		store_clear_error(store);
		store_fail(store, STORE_ERR_INVALID, NULL, "staged body of another size");
		return store_failed(store, error_r);
	}
	return store_append_tx(store, mailbox_id, msg, 1, stage, b, created, uid_r, uidvalidity_r,
			       error_r);
}

/* ---- reading ---- */

int store_messages(struct store *store, uint64_t mailbox_id, store_msg_cb *cb, void *ctx,
		   const char **error_r)
{
	store_clear_error(store);
	/* the packed state: a hundred BLOBs for 100k messages (store-state.c) */
	if (store_state_read(store, mailbox_id, 0, cb, ctx) < 0)
		return store_failed(store, error_r);
	return 0;
}

int store_message_sizes(struct store *store, uint64_t mailbox_id, struct store_mailbox *mb_r,
			store_msg_size_cb *cb, void *ctx, const char **error_r)
{
	store_clear_error(store);
	sqlite3_stmt *stmt = store_stmt(store, STMT_MSG_SIZES);
	if (stmt == NULL)
		return store_failed(store, error_r);
	if (sqlite3_stmt_busy(stmt))
		return store_fail(store, STORE_ERR_INTERNAL, error_r,
				  "store_message_sizes called from its own callback");
	/* one read snapshot for the mailbox row (UIDVALIDITY), the state and the sizes */
	bool own_tx = sqlite3_get_autocommit(store->db) != 0;
	if (own_tx && store_exec(store, "BEGIN DEFERRED") < 0)
		return store_failed(store, error_r);
	struct store_msg *state = NULL;
	size_t nstate = 0, j = 0;
	int ret = store_mailbox_load(store, mailbox_id, mb_r);
	if (ret == 1 && store_state_load(store, mailbox_id, &state, &nstate) < 0)
		ret = -1;
	if (ret == 1) {
		/* the rows and the state entries both ascend by UID (store-state.c) */
		sqlite3_bind_int64(stmt, 1, (sqlite3_int64)mailbox_id);
		int r;
		while ((r = sqlite3_step(stmt)) == SQLITE_ROW) {
			struct store_msg msg = { .uid = (uint32_t)sqlite3_column_int64(stmt, 0) };
			while (j < nstate && state[j].uid < msg.uid)
				j++;
			if (j < nstate && state[j].uid == msg.uid)
				msg = state[j];
			else
				msg.modseq = 1; /* no entry (a damaged chunk: kura check) */
			if (cb(ctx, &msg, (uint64_t)sqlite3_column_int64(stmt, 1)) < 0) {
				r = SQLITE_DONE;
				break;
			}
		}
		if (r != SQLITE_DONE) {
			store_fail_sql(store, NULL, "listing message sizes");
			ret = -1;
		}
		sqlite3_reset(stmt);
	}
	free(state);
	if (own_tx && store_exec(store, ret < 0 ? "ROLLBACK" : "COMMIT") < 0)
		ret = -1;
	if (ret < 0)
		return store_failed(store, error_r);
	if (ret == 0)
		store_clear_error(store);
	return ret;
}

/* The UIDs expunged from mailbox_id after since, ascending. */
static int store_expunged_step(struct store *store, sqlite3_stmt *stmt, uint64_t mailbox_id,
			       uint64_t since, store_uid_cb *uid_cb, void *ctx)
{
	sqlite3_bind_int64(stmt, 1, (sqlite3_int64)mailbox_id);
	sqlite3_bind_int64(stmt, 2, (sqlite3_int64)since);
	int r;
	while ((r = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (uid_cb(ctx, (uint32_t)sqlite3_column_int64(stmt, 0)) < 0) {
			r = SQLITE_DONE;
			break;
		}
	}
	sqlite3_reset(stmt);
	if (r != SQLITE_DONE)
		return store_fail_sql(store, NULL, "reading changes");
	return 0;
}

int store_changes_since(struct store *store, uint64_t mailbox_id, uint64_t since,
			struct store_mailbox *mb_r, store_msg_cb *changed_cb,
			store_uid_cb *expunged_cb, void *ctx, const char **error_r)
{
	store_clear_error(store);
	sqlite3_stmt *gone = store_stmt(store, STMT_EXPUNGED_SINCE);
	if (gone == NULL)
		return store_failed(store, error_r);
	if (sqlite3_stmt_busy(gone))
		return store_fail(store, STORE_ERR_INTERNAL, error_r,
				  "store_changes_since called from its own callback");
	/* one read snapshot for the mailbox row and both lists (WAL: never waits for writers) */
	bool own_tx = sqlite3_get_autocommit(store->db) != 0;
	if (own_tx && store_exec(store, "BEGIN DEFERRED") < 0)
		return store_failed(store, error_r);
	int ret = store_mailbox_load(store, mailbox_id, mb_r);
	/* changed messages from the chunks whose max_modseq is above since (store-state.c) */
	if (ret == 1 && mb_r->highestmodseq > since &&
	    ((changed_cb != NULL &&
	      store_state_read(store, mailbox_id, since, changed_cb, ctx) < 0) ||
	     (expunged_cb != NULL &&
	      store_expunged_step(store, gone, mailbox_id, since, expunged_cb, ctx) < 0)))
		ret = -1;
	if (own_tx && store_exec(store, ret < 0 ? "ROLLBACK" : "COMMIT") < 0)
		ret = -1;
	if (ret < 0)
		return store_failed(store, error_r);
	if (ret == 0)
		store_clear_error(store);
	return ret;
}

static const char *store_column_pool(struct pool *pool, sqlite3_stmt *stmt, int col)
{
	const void *p = sqlite3_column_blob(stmt, col);
	size_t n = (size_t)sqlite3_column_bytes(stmt, col);
	return pool_memdup(pool, p != NULL ? p : "", n);
}

int store_message_info(struct store *store, uint64_t mailbox_id, uint32_t uid,
		       struct pool *pool, struct store_msg_info *info_r, const char **error_r)
{
	store_clear_error(store);
	sqlite3_stmt *stmt = store_stmt(store, STMT_MSG_INFO);
	if (stmt == NULL)
		return store_failed(store, error_r);
	sqlite3_bind_int64(stmt, 1, (sqlite3_int64)mailbox_id);
	sqlite3_bind_int64(stmt, 2, uid);
	int r = sqlite3_step(stmt);
	if (r == SQLITE_ROW) {
		memset(info_r, 0, sizeof(*info_r));
		info_r->uid = uid;
		info_r->size = (uint64_t)sqlite3_column_int64(stmt, 0);
		info_r->internal_date = (time_t)sqlite3_column_int64(stmt, 1);
		info_r->internal_tz = sqlite3_column_int(stmt, 2);
		info_r->saved_date = (time_t)sqlite3_column_int64(stmt, 3);
		const char *hash = (const char *)sqlite3_column_text(stmt, 4);
		if (hash != NULL && store_hash_valid(hash))
			memcpy(info_r->body_id, hash, STORE_HASH_HEX + 1);
		info_r->envelope = store_column_pool(pool, stmt, 5);
		info_r->bodystructure = store_column_pool(pool, stmt, 6);
		info_r->body = store_column_pool(pool, stmt, 7);
		info_r->bodystructure_rev1 = sqlite3_column_type(stmt, 8) == SQLITE_NULL
						     ? info_r->bodystructure
						     : store_column_pool(pool, stmt, 8);
		info_r->body_rev1 = sqlite3_column_type(stmt, 9) == SQLITE_NULL
					    ? info_r->body
					    : store_column_pool(pool, stmt, 9);
		info_r->parts_size = (size_t)sqlite3_column_bytes(stmt, 10);
		info_r->parts = info_r->parts_size > 0
					? (const unsigned char *)store_column_pool(pool, stmt, 10)
					: NULL;
	}
	sqlite3_reset(stmt);
	if (r == SQLITE_ROW)
		return 1;
	if (r == SQLITE_DONE) {
		store_fail(store, STORE_ERR_NOT_FOUND, error_r, "no such message");
		return 0;
	}
	return store_fail_sql(store, error_r, "reading a message");
}

/* ---- flags ---- */

/* A change of flags touches only the packed state (store-state.c): the chunks of the messages
 * asked for are read once, changed in memory and rewritten at the commit, so 100k messages
 * cost about a hundred BLOB writes and no row. */
int store_set_flags(struct store *store, uint64_t mailbox_id, const uint32_t *uids,
		    size_t count, const struct store_flag_change *change, store_msg_cb *changed_cb,
		    store_msg_cb *failed_cb, void *ctx, const char **error_r)
{
	store_clear_error(store);
	if ((change->flags & ~STORE_FLAGS_ALL) != 0)
		return store_fail(store, STORE_ERR_INVALID, error_r, "unknown flag");
	if (change->mode != STORE_FLAGS_REPLACE && change->mode != STORE_FLAGS_ADD &&
	    change->mode != STORE_FLAGS_REMOVE)
		return store_fail(store, STORE_ERR_INVALID, error_r, "unknown flag mode");
	if (store_tx_begin(store) < 0)
		return store_failed(store, error_r);
	struct store_mailbox *mb = xmalloc(sizeof(*mb));
	uint64_t mask;
	if (store_mailbox_load(store, mailbox_id, mb) <= 0)
		goto fail;
	unsigned keywords_before = mb->keyword_count;
	/* removing a keyword the mailbox never had is a no-op, not a new keyword */
	if (store_keywords_mask(store, mb, change->keywords, change->keyword_count,
				change->mode != STORE_FLAGS_REMOVE, &mask) < 0)
		goto fail;

	uint64_t modseq = mb->highestmodseq + 1;
	bool changed = false;
	struct store_state_chunk *c = NULL;
	size_t p = 0;
	for (size_t i = 0; i < count; i++) {
		uint32_t uid = uids[i];
		if (c == NULL || uid / STORE_STATE_UIDS != c->chunk) {
			c = store_state_chunk(store, mailbox_id, uid / STORE_STATE_UIDS);
			if (c == NULL)
				goto fail;
			p = 0;
		}
		/* the UIDs are ascending: walk the chunk along */
		if (p < c->count && c->msgs[p].uid < uid)
			p = store_state_chunk_find(c, uid);
		if (p == c->count || c->msgs[p].uid != uid ||
		    (c->msgs[p].flags & STORE_STATE_GONE) != 0)
			continue; /* expunged meanwhile */
		struct store_msg *e = &c->msgs[p++];
		struct store_msg msg = *e;
		/* RFC 7162 3.1.3: UNCHANGEDSINCE fails for a message changed after it */
		if (change->unchanged_since != 0 && e->modseq > change->unchanged_since) {
			store_event_add(store, STORE_EV_FAILED, mailbox_id, &msg);
			continue;
		}
		switch (change->mode) {
		case STORE_FLAGS_REPLACE:
			msg.flags = change->flags;
			msg.keywords = mask;
			break;
		case STORE_FLAGS_ADD:
			msg.flags |= change->flags;
			msg.keywords |= mask;
			break;
		case STORE_FLAGS_REMOVE:
			msg.flags &= (uint8_t)~change->flags;
			msg.keywords &= ~mask;
			break;
		}
		if (msg.flags == e->flags && msg.keywords == e->keywords) {
			store_event_add(store, STORE_EV_TOUCHED, mailbox_id, &msg);
			continue;
		}
		msg.modseq = modseq;
		store_counters_sub(mb, e->flags, 0);
		store_counters_add(mb, msg.flags, 0);
		*e = msg;
		c->dirty = true;
		store_event_add(store, STORE_EV_CHANGED, mailbox_id, &msg);
		changed = true;
	}
	if (changed)
		mb->highestmodseq = modseq;
	if ((changed || mb->keyword_count != keywords_before) && store_mailbox_save(store, mb) < 0)
		goto fail;
	free(mb);
	if (store_tx_commit(store) < 0)
		return store_failed(store, error_r);
	struct store_event_cbs cbs = { .changed_cb = changed_cb, .failed_cb = failed_cb, .ctx = ctx };
	store_events_deliver(store, &cbs);
	return 0;
fail:
	free(mb);
	store_tx_rollback(store);
	return store_failed(store, error_r);
}

/* ---- expunge ---- */

int store_expunge(struct store *store, uint64_t mailbox_id, const uint32_t *uids, size_t count,
		  store_uid_cb *expunged_cb, void *ctx, const char **error_r)
{
	store_clear_error(store);
	if (store_tx_begin(store) < 0)
		return store_failed(store, error_r);
	struct store_mailbox *mb = xmalloc(sizeof(*mb));
	if (store_mailbox_load(store, mailbox_id, mb) <= 0)
		goto fail;
	uint64_t modseq = mb->highestmodseq + 1;
	bool changed = false;
	for (size_t i = 0; i < count; i++) {
		struct store_row row;
		int r = store_row_get(store, mailbox_id, uids[i], &row);
		if (r < 0)
			goto fail;
		if (r == 0)
			continue;
		/* the row goes now, the file (if this was its last reference) after the commit */
		if (store_row_delete(store, mailbox_id, uids[i], modseq) < 0 ||
		    store_body_ref(store, row.body_id, -1) < 0)
			goto fail;
		store_counters_sub(mb, row.flags, row.size);
		struct store_msg msg = { .uid = uids[i], .modseq = modseq };
		store_event_add(store, STORE_EV_EXPUNGED, mailbox_id, &msg);
		changed = true;
	}
	if (changed) {
		mb->highestmodseq = modseq;
		if (store_mailbox_save(store, mb) < 0)
			goto fail;
	}
	free(mb);
	if (store_tx_commit(store) < 0)
		return store_failed(store, error_r);
	struct store_event_cbs cbs = { .expunged_cb = expunged_cb, .ctx = ctx };
	store_events_deliver(store, &cbs);
	return 0;
fail:
	free(mb);
	store_tx_rollback(store);
	return store_failed(store, error_r);
}

/* ---- copy and move ---- */

int store_copy(struct store *store, uint64_t src_mailbox_id, const uint32_t *uids, size_t count,
	       uint64_t dst_mailbox_id, bool move, uint32_t *src_uids_r, uint32_t *new_uids_r,
	       size_t *copied_r, uint32_t *dst_uidvalidity_r, const char **error_r)
{
	store_clear_error(store);
	*copied_r = 0;
	if (store_tx_begin(store) < 0)
		return store_failed(store, error_r);
	struct store_mailbox *src = xmalloc(sizeof(*src));
	struct store_mailbox *dst = src_mailbox_id == dst_mailbox_id ? src : xmalloc(sizeof(*dst));
	if (store_mailbox_load(store, src_mailbox_id, src) <= 0 ||
	    (dst != src && store_mailbox_load(store, dst_mailbox_id, dst) <= 0))
		goto fail;
	if ((uint64_t)dst->uidnext + count > UINT32_MAX) {
		store_fail(store, STORE_ERR_LIMIT, NULL, "mailbox has run out of UIDs");
		goto fail;
	}
	unsigned dst_keywords_before = dst->keyword_count;
	uint64_t dst_modseq = dst->highestmodseq + 1;
	uint64_t src_modseq = dst == src ? dst_modseq : src->highestmodseq + 1;
	int map[STORE_KEYWORDS_MAX];
	for (size_t b = 0; b < STORE_KEYWORDS_MAX; b++)
		map[b] = -1;
	time_t now = time(NULL);
	size_t n = 0;
	for (size_t i = 0; i < count; i++) {
		struct store_row row;
		int r = store_row_get(store, src_mailbox_id, uids[i], &row);
		if (r < 0)
			goto fail;
		if (r == 0)
			continue;
		/* keyword bit b of the source is the keyword named src->keywords[b] */
		uint64_t kw = 0;
		for (unsigned b = 0; b < STORE_KEYWORDS_MAX; b++) {
			if ((row.keywords & ((uint64_t)1 << b)) == 0 || b >= src->keyword_count)
				continue;
			if (map[b] == -1)
				map[b] = store_keyword_index(dst, src->keywords[b], true);
			if (map[b] == -2) {
				store_fail(store, STORE_ERR_LIMIT, NULL,
					   "destination mailbox has %d keywords already",
					   STORE_KEYWORDS_MAX);
				goto fail;
			}
			kw |= (uint64_t)1 << map[b];
		}
		uint8_t flags = row.flags;
		row.keywords = kw;
		row.modseq = dst_modseq;
		uint32_t new_uid = dst->uidnext++;
		/* the body is shared: one more reference, or (move) the same count */
		if (store_row_insert(store, dst_mailbox_id, new_uid, &row, now) < 0 ||
		    (!move && store_body_ref(store, row.body_id, 1) < 0))
			goto fail;
		store_counters_add(dst, flags, row.size);
		struct store_msg msg = {
			.uid = new_uid, .flags = flags, .keywords = kw, .modseq = dst_modseq
		};
		store_event_add(store, STORE_EV_APPENDED, dst_mailbox_id, &msg);
		if (move) {
			if (store_row_delete(store, src_mailbox_id, uids[i], src_modseq) < 0)
				goto fail;
			store_counters_sub(src, flags, row.size);
			struct store_msg gone = { .uid = uids[i], .modseq = src_modseq };
			store_event_add(store, STORE_EV_EXPUNGED_QUIET, src_mailbox_id, &gone);
		}
		if (src_uids_r != NULL)
			src_uids_r[n] = uids[i];
		if (new_uids_r != NULL)
			new_uids_r[n] = new_uid;
		n++;
	}
	if (n > 0) {
		dst->highestmodseq = dst_modseq;
		if (move && src != dst)
			src->highestmodseq = src_modseq;
	}
	if ((n > 0 || dst->keyword_count != dst_keywords_before) &&
	    store_mailbox_save(store, dst) < 0)
		goto fail;
	if (move && n > 0 && src != dst && store_mailbox_save(store, src) < 0)
		goto fail;
	if (store_tx_commit(store) < 0) {
		if (dst != src)
			free(dst);
		free(src);
		return store_failed(store, error_r);
	}
	*copied_r = n;
	if (dst_uidvalidity_r != NULL)
		*dst_uidvalidity_r = dst->uidvalidity;
	if (dst != src)
		free(dst);
	free(src);
	store_events_deliver(store, NULL);
	return 0;
fail:
	if (dst != src)
		free(dst);
	free(src);
	store_tx_rollback(store);
	return store_failed(store, error_r);
}
