/* store-db.c: the SQLite side of the embedded store: errors, schema and migrations, the cache
 * of prepared statements, write transactions and the cross-process locks around them.
 * Traps: every statement is reset right after use (an open read statement pins an old WAL
 * snapshot and blocks checkpoints); the write lock is taken before BEGIN IMMEDIATE and released
 * only after the files of dropped bodies are unlinked (store-private.h); migrations are
 * appended, never edited. */
#include "store/store-private.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/xmalloc.h"

/* ---- errors ---- */

int store_fail(struct store *store, enum store_error code, const char **error_r, const char *fmt,
	       ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(store->errbuf, sizeof(store->errbuf), fmt, ap);
	va_end(ap);
	store->last_error = code;
	if (error_r != NULL)
		*error_r = store->errbuf;
	return -1;
}

int store_fail_sql(struct store *store, const char **error_r, const char *what)
{
	return store_fail(store, STORE_ERR_INTERNAL, error_r, "%s: %s", what,
			  sqlite3_errmsg(store->db));
}

int store_failed(struct store *store, const char **error_r)
{
	if (store->last_error == STORE_ERR_NONE)
		store->last_error = STORE_ERR_INTERNAL;
	if (store->errbuf[0] == '\0')
		snprintf(store->errbuf, sizeof(store->errbuf), "internal error");
	if (error_r != NULL)
		*error_r = store->errbuf;
	return -1;
}

/* ---- schema ---- */

/* Migration i brings the schema from version i to version i + 1. Append, never edit.
 * Notes on version 1:
 *  - mailbox ids come from AUTOINCREMENT so that an id is never reused: a session that still
 *    holds the id of a deleted mailbox must not reach a newer one;
 *  - message is keyed (mailbox_id, uid) WITHOUT ROWID, so a mailbox's messages are one
 *    contiguous range of the b-tree (store_messages is a range scan);
 *  - message.size duplicates body.size so that expunge and counters need no join;
 *  - message_body serves the foreign key check when a body row is deleted (without it every
 *    deletion would scan all messages) and store_check's reference counts;
 *  - message_modseq serves CONDSTORE's "changed since";
 *  - body_unreferenced holds only bodies whose last reference was dropped in the current
 *    transaction: the commit turns them into files to unlink;
 *  - expunged is the change log of expunges (QRESYNC VANISHED).
 *  - mailbox.keywords: the keyword names separated by spaces, in bit order.
 * Version 2: mailbox.first_recent_uid, the first UID no IMAP4rev1 session has claimed as
 * \Recent yet (RFC 3501 2.3.2; store_recent_claim).
 * Version 3: expunged_modseq serves store_changes_since (sessions and QRESYNC read the
 * expunges after a MODSEQ).
 * Version 4: body.parts, the part table (mail/mime-parts.h) so that a section FETCH reads only
 * its bytes; NULL for bodies stored before (FETCH parses those).
 * Version 5: the search index (store-index.c, store-search.c). body.sent_date/sent_tz: the
 * Date: header (NULL when it has none or it cannot be read: SENT* keys then use the internal
 * date, as RFC 5256 does for SORT); body.search_state: 0 not indexed yet (every body of a
 * store migrated from version 4: the first open indexes them, store_index_pending), 1
 * indexed, 2 its file could not be read; body.sort_* and thread_*: the SORT and THREAD keys
 * of mail/sort-keys.h (written when the body is indexed); search_text: one FTS5 row per body
 * (rowid = body.id; bodies are shared by COPY, so the index is per body), the columns of
 * mail/search-text.h
 * with the trigram tokenizer (substrings of 3+ characters, on text folded by
 * mail/search-fold.h, hence case_sensitive 1); search_vocab lists its trigrams (queries of
 * 1-2 characters); the trigger drops a body's row with the body.
 * Version 6: msgstate, the packed per-mailbox message state (store-state.c): each message's
 * flags, keywords and MODSEQ move there from the message rows (store_state_migrate), and
 * message_modseq goes (msgstate.max_modseq serves "changed since"). A STORE then rewrites a
 * few BLOBs instead of every row it touches and the index behind it.
 * Version 7: msgcount, each msgstate chunk's counts (messages, unseen, deleted, max_modseq),
 * written with the chunk: SELECT opens a view from them and decodes a chunk only when it is
 * used (store_state_migrate_counts, imap/imap-view.c). A table of its own: columns of
 * msgstate would not do, since stepping through a WITHOUT ROWID table compares whole keys
 * and so reads every row's BLOB with its overflow pages (90 page reads for 100k messages).
 * Version 8: the FTS5 rows of dropped bodies are deleted later, not by the DELETE of the body
 * row: FTS5 reads a deleted document's text back and tokenizes it again to remove its terms
 * (6.6 s for the 10,000 bodies one EXPUNGE dropped, 0.08 s without; SQLite 3.40 has no
 * contentless_delete). The trigger body_search_gc only records the id of an indexed body in
 * search_gc; store_index_gc (store-index.c) deletes those rows at idle time and in searches'
 * catch-up, in batches. Until then such a row is an orphan: its rowid is no body's id, and
 * stays so, because a new body never takes an id that is in search_gc (STMT_BODY_INSERT
 * numbers it above them, and should anything else insert one, body_search_reuse drops the
 * orphan row first, in the same transaction); every reader reaches search_text through a body
 * id (SEARCH joins message.body_id, a foreign key to an existing body; the stored text is read
 * by a message's body id), so an orphan row never answers for a message.
 * A NULL entry is a migration in C: store_migration_fns[i]. */
static const char *const store_migrations[STORE_SCHEMA_VERSION] = {
	"CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE mailbox ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" name TEXT NOT NULL UNIQUE,"
	" uidvalidity INTEGER NOT NULL,"
	" uidnext INTEGER NOT NULL,"
	" highestmodseq INTEGER NOT NULL,"
	" special_use INTEGER NOT NULL,"
	" keywords TEXT NOT NULL,"
	" messages INTEGER NOT NULL,"
	" unseen INTEGER NOT NULL,"
	" deleted INTEGER NOT NULL,"
	" size INTEGER NOT NULL,"
	" created INTEGER NOT NULL);"
	"CREATE TABLE body ("
	" id INTEGER PRIMARY KEY,"
	" hash TEXT NOT NULL UNIQUE,"
	" size INTEGER NOT NULL,"
	" refs INTEGER NOT NULL,"
	" envelope BLOB NOT NULL,"
	" bodystructure BLOB NOT NULL,"
	" body BLOB NOT NULL,"
	" bodystructure_rev1 BLOB,"
	" body_rev1 BLOB);"
	"CREATE INDEX body_unreferenced ON body(refs) WHERE refs <= 0;"
	"CREATE TABLE message ("
	" mailbox_id INTEGER NOT NULL REFERENCES mailbox(id),"
	" uid INTEGER NOT NULL,"
	" body_id INTEGER NOT NULL REFERENCES body(id),"
	" size INTEGER NOT NULL,"
	" flags INTEGER NOT NULL,"
	" keywords INTEGER NOT NULL,"
	" modseq INTEGER NOT NULL,"
	" internal_date INTEGER NOT NULL,"
	" internal_tz INTEGER NOT NULL,"
	" saved_date INTEGER NOT NULL,"
	" PRIMARY KEY (mailbox_id, uid)) WITHOUT ROWID;"
	"CREATE INDEX message_modseq ON message(mailbox_id, modseq);"
	"CREATE INDEX message_body ON message(body_id);"
	"CREATE TABLE expunged ("
	" mailbox_id INTEGER NOT NULL REFERENCES mailbox(id),"
	" uid INTEGER NOT NULL,"
	" modseq INTEGER NOT NULL,"
	" PRIMARY KEY (mailbox_id, uid)) WITHOUT ROWID;"
	"CREATE TABLE subscription (name TEXT PRIMARY KEY NOT NULL) WITHOUT ROWID;",
	"ALTER TABLE mailbox ADD COLUMN first_recent_uid INTEGER NOT NULL DEFAULT 1;",
	"CREATE INDEX expunged_modseq ON expunged(mailbox_id, modseq);",
	"ALTER TABLE body ADD COLUMN parts BLOB;",
	"ALTER TABLE body ADD COLUMN sent_date INTEGER;"
	"ALTER TABLE body ADD COLUMN sent_tz INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE body ADD COLUMN search_state INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE body ADD COLUMN sort_subject BLOB;"
	"ALTER TABLE body ADD COLUMN sort_from BLOB;"
	"ALTER TABLE body ADD COLUMN sort_to BLOB;"
	"ALTER TABLE body ADD COLUMN sort_cc BLOB;"
	"ALTER TABLE body ADD COLUMN sort_display_from BLOB;"
	"ALTER TABLE body ADD COLUMN sort_display_to BLOB;"
	"ALTER TABLE body ADD COLUMN thread_message_id BLOB;"
	"ALTER TABLE body ADD COLUMN thread_references BLOB;"
	"ALTER TABLE body ADD COLUMN thread_subject_reply INTEGER NOT NULL DEFAULT 0;"
	"CREATE INDEX body_unindexed ON body(id) WHERE search_state = 0;"
	"CREATE VIRTUAL TABLE search_text USING fts5(hdr, subject, h_from, h_to, h_cc, h_bcc, body,"
	" tokenize = 'trigram case_sensitive 1');"
	"CREATE VIRTUAL TABLE search_vocab USING fts5vocab(search_text, 'row');"
	"CREATE TRIGGER body_search_delete AFTER DELETE ON body"
	" BEGIN DELETE FROM search_text WHERE rowid = old.id; END;",
	NULL,
	NULL,
	"CREATE TABLE search_gc (id INTEGER PRIMARY KEY);"
	"DROP TRIGGER body_search_delete;"
	"CREATE TRIGGER body_search_gc AFTER DELETE ON body WHEN old.search_state != 0"
	" BEGIN INSERT OR IGNORE INTO search_gc (id) VALUES (old.id); END;"
	"CREATE TRIGGER body_search_reuse AFTER INSERT ON body"
	" WHEN EXISTS (SELECT 1 FROM search_gc WHERE id = new.id)"
	" BEGIN DELETE FROM search_text WHERE rowid = new.id;"
	" DELETE FROM search_gc WHERE id = new.id; END;",
};

static int (*const store_migration_fns[STORE_SCHEMA_VERSION])(struct store *store) = {
	[5] = store_state_migrate,
	[6] = store_state_migrate_counts,
};

#define STORE_MB_COLUMNS                                                                     \
	"SELECT m.id, m.name, m.uidvalidity, m.uidnext, m.highestmodseq, m.special_use,"     \
	" m.keywords, m.messages, m.unseen, m.deleted, m.size,"                              \
	" EXISTS (SELECT 1 FROM subscription s WHERE s.name = m.name), m.first_recent_uid"  \
	" FROM mailbox m"

static const char *const store_stmt_sql[STMT_COUNT] = {
	[STMT_BEGIN] = "BEGIN IMMEDIATE",
	[STMT_COMMIT] = "COMMIT",
	[STMT_ROLLBACK] = "ROLLBACK",
	[STMT_MB_BY_NAME] = STORE_MB_COLUMNS " WHERE m.name = ?1",
	[STMT_MB_BY_ID] = STORE_MB_COLUMNS " WHERE m.id = ?1",
	[STMT_MB_LIST] = STORE_MB_COLUMNS " ORDER BY m.name",
	[STMT_MB_INSERT] = "INSERT INTO mailbox (name, uidvalidity, uidnext, highestmodseq,"
			   " special_use, keywords, messages, unseen, deleted, size, created)"
			   " VALUES (?1, ?2, 1, 1, ?3, '', 0, 0, 0, 0, ?4)",
	[STMT_MB_SAVE] = "UPDATE mailbox SET uidnext = ?2, highestmodseq = ?3, keywords = ?4,"
			 " messages = ?5, unseen = ?6, deleted = ?7, size = ?8 WHERE id = ?1",
	[STMT_MB_DELETE] = "DELETE FROM mailbox WHERE id = ?1",
	[STMT_MB_CHILDREN] = "SELECT id, name FROM mailbox WHERE name > ?1 AND name < ?2"
			     " ORDER BY name",
	[STMT_MB_SET_NAME] = "UPDATE mailbox SET name = ?2 WHERE id = ?1",
	[STMT_MB_RECENT_GET] = "SELECT first_recent_uid FROM mailbox WHERE id = ?1",
	[STMT_MB_RECENT_SET] = "UPDATE mailbox SET first_recent_uid = ?2"
			       " WHERE id = ?1 AND first_recent_uid < ?2",
	/* without INDEXED BY the planner walks the primary key to skip the sort: every UID ever
	 * expunged from the mailbox, read at every sync of every session (10,000 rows after one
	 * big EXPUNGE: half of an APPEND's CPU to a selected mailbox went here) */
	[STMT_EXPUNGED_SINCE] = "SELECT uid FROM expunged INDEXED BY expunged_modseq"
				" WHERE mailbox_id = ?1 AND modseq > ?2 ORDER BY uid",
	[STMT_MSG_COUNT_FROM] = "SELECT COUNT(*) FROM message WHERE mailbox_id = ?1 AND uid >= ?2",
	[STMT_META_GET] = "SELECT value FROM meta WHERE key = ?1",
	[STMT_META_SET] = "INSERT INTO meta (key, value) VALUES (?1, ?2)"
			  " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
	[STMT_SUB_ADD] = "INSERT OR IGNORE INTO subscription (name) VALUES (?1)",
	[STMT_SUB_DEL] = "DELETE FROM subscription WHERE name = ?1",
	[STMT_SUB_LIST] = "SELECT name FROM subscription ORDER BY name",
	[STMT_BODY_BY_HASH] = "SELECT id, size FROM body WHERE hash = ?1",
	/* the id above every id in search_gc (schema 8): SQLite would give the highest id
	 * again once its body is gone, and body_search_reuse would then have to delete the
	 * orphan FTS row here, on the APPEND path (an EXPUNGE of the newest messages, then
	 * APPENDs, would pay for the deletions the EXPUNGE left out) */
	[STMT_BODY_INSERT] = "INSERT INTO body (id, hash, size, refs, envelope, bodystructure, body,"
			     " bodystructure_rev1, body_rev1, parts)"
			     " VALUES (max(COALESCE((SELECT MAX(id) FROM body), 0),"
			     " COALESCE((SELECT MAX(id) FROM search_gc), 0)) + 1,"
			     " ?1, ?2, 1, ?3, ?4, ?5, ?6, ?7, ?8)"
			     " ON CONFLICT (hash) DO UPDATE SET refs = refs + 1"
			     " RETURNING id, search_state",
	[STMT_BODY_REF] = "UPDATE body SET refs = refs + ?2 WHERE id = ?1",
	[STMT_BODY_UNREF] = "UPDATE body SET refs = refs - 1 WHERE id = ?1",
	[STMT_BODY_UNREFERENCED] = "SELECT hash FROM body WHERE refs <= 0",
	[STMT_BODY_DELETE_UNREFERENCED] = "DELETE FROM body WHERE refs <= 0",
	[STMT_MSG_INSERT] = "INSERT INTO message (mailbox_id, uid, body_id, size, internal_date,"
			    " internal_tz, saved_date) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[STMT_MSG_SIZES] = "SELECT uid, size FROM message WHERE mailbox_id = ?1 ORDER BY uid",
	[STMT_MSG_INFO] = "SELECT m.size, m.internal_date, m.internal_tz, m.saved_date, b.hash,"
			  " b.envelope, b.bodystructure, b.body, b.bodystructure_rev1, b.body_rev1,"
			  " b.parts FROM message m JOIN body b ON b.id = m.body_id"
			  " WHERE m.mailbox_id = ?1 AND m.uid = ?2",
	[STMT_MSG_GET] = "SELECT body_id, size, internal_date, internal_tz"
			 " FROM message WHERE mailbox_id = ?1 AND uid = ?2",
	[STMT_MSG_DELETE] = "DELETE FROM message WHERE mailbox_id = ?1 AND uid = ?2",
	[STMT_EXPUNGED_INSERT] = "INSERT OR REPLACE INTO expunged (mailbox_id, uid, modseq)"
				 " VALUES (?1, ?2, ?3)",
	/* the chunks changed after ?2 found in msgcount: a scan of msgstate itself would read
	 * every BLOB (see version 7) */
	[STMT_STATE_LIST] = "SELECT s.chunk, s.data FROM msgcount c JOIN msgstate s"
			    " ON s.mailbox_id = c.mailbox_id AND s.chunk = c.chunk"
			    " WHERE c.mailbox_id = ?1 AND c.max_modseq > ?2 ORDER BY c.chunk",
	[STMT_STATE_GET] = "SELECT data FROM msgstate WHERE mailbox_id = ?1 AND chunk = ?2",
	[STMT_STATE_SET] = "INSERT OR REPLACE INTO msgstate (mailbox_id, chunk, max_modseq, data)"
			   " VALUES (?1, ?2, ?3, ?4)",
	[STMT_COUNT_SET] = "INSERT OR REPLACE INTO msgcount (mailbox_id, chunk, max_modseq, messages,"
			   " unseen, deleted) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[STMT_COUNT_DELETE] = "DELETE FROM msgcount WHERE mailbox_id = ?1 AND chunk = ?2",
	[STMT_COUNT_DROP] = "DELETE FROM msgcount WHERE mailbox_id = ?1",
	[STMT_STATE_DELETE] = "DELETE FROM msgstate WHERE mailbox_id = ?1 AND chunk = ?2",
	[STMT_STATE_DROP] = "DELETE FROM msgstate WHERE mailbox_id = ?1",
	[STMT_STATE_SUMMARY] = "SELECT chunk, messages, unseen, deleted, max_modseq FROM msgcount"
			       " WHERE mailbox_id = ?1 ORDER BY chunk",
	[STMT_EXPUNGED_RANGE] = "SELECT uid FROM expunged WHERE mailbox_id = ?1 AND uid >= ?2"
				" AND uid < ?3 AND modseq > ?4 ORDER BY uid",
	[STMT_INDEX_INSERT] = "INSERT INTO search_text (rowid, hdr, subject, h_from, h_to, h_cc,"
			      " h_bcc, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[STMT_INDEX_DONE] = "UPDATE body SET search_state = ?2, sent_date = ?3, sent_tz = ?4,"
			    " sort_subject = ?5, sort_from = ?6, sort_to = ?7, sort_cc = ?8,"
			    " sort_display_from = ?9, sort_display_to = ?10, thread_message_id = ?11,"
			    " thread_references = ?12, thread_subject_reply = ?13 WHERE id = ?1",
	/* both walk the partial index body_unindexed (search_state = 0), never the body table */
	[STMT_INDEX_PENDING] = "SELECT id, hash, size FROM body WHERE search_state = 0"
			       " AND id > ?2 AND id <= ?3 ORDER BY id LIMIT ?1",
	[STMT_INDEX_PENDING_MB] = "SELECT b.id, b.hash, b.size FROM body b"
				  " WHERE b.search_state = 0 AND b.id > ?2 AND b.id <= ?3"
				  " AND EXISTS (SELECT 1 FROM message m"
				  " WHERE m.body_id = b.id AND m.mailbox_id = ?4)"
				  " ORDER BY b.id LIMIT ?1",
	[STMT_INDEX_ANY] = "SELECT EXISTS (SELECT 1 FROM body WHERE search_state = 0)",
	[STMT_GC_LIST] = "SELECT id FROM search_gc ORDER BY id LIMIT ?1",
	[STMT_GC_TEXT_DELETE] = "DELETE FROM search_text WHERE rowid = ?1",
	[STMT_GC_DELETE] = "DELETE FROM search_gc WHERE id = ?1",
};

sqlite3_stmt *store_stmt(struct store *store, enum store_stmt id)
{
	if (store_use(store) < 0)
		return NULL;
	if (store->stmts[id] == NULL &&
	    sqlite3_prepare_v3(store->db, store_stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
			       &store->stmts[id], NULL) != SQLITE_OK) {
		store->stmts[id] = NULL;
		store_fail_sql(store, NULL, "preparing a statement");
		return NULL;
	}
	return store->stmts[id];
}

int store_stmt_run(struct store *store, sqlite3_stmt *stmt, const char *what)
{
	int r = sqlite3_step(stmt);
	if (r != SQLITE_DONE && r != SQLITE_ROW) {
		store_fail_sql(store, NULL, what);
		sqlite3_reset(stmt);
		return -1;
	}
	sqlite3_reset(stmt);
	return 0;
}

int store_exec(struct store *store, const char *sql)
{
	if (store_use(store) < 0)
		return -1;
	if (sqlite3_exec(store->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return store_fail_sql(store, NULL, "database");
	return 0;
}

static int store_migrate(struct store *store, bool *created_r)
{
	sqlite3_stmt *stmt = NULL;
	int version = 0, r;

	*created_r = false;
	if (store_exec(store, "CREATE TABLE IF NOT EXISTS schema_version"
			      " (version INTEGER NOT NULL)") < 0)
		return -1;
	if (sqlite3_prepare_v2(store->db, "SELECT version FROM schema_version", -1, &stmt, NULL) !=
	    SQLITE_OK)
		return store_fail_sql(store, NULL, "reading the schema version");
	r = sqlite3_step(stmt);
	if (r == SQLITE_ROW)
		version = sqlite3_column_int(stmt, 0);
	sqlite3_finalize(stmt);
	stmt = NULL;
	if (r != SQLITE_ROW && r != SQLITE_DONE)
		return store_fail_sql(store, NULL, "reading the schema version");
	if (r == SQLITE_DONE) {
		if (store_exec(store, "INSERT INTO schema_version (version) VALUES (0)") < 0)
			return -1;
		*created_r = true;
	}
	if (version < 0 || version > STORE_SCHEMA_VERSION)
		return store_fail(store, STORE_ERR_INTERNAL, NULL,
				  "store schema version %d is newer than this kura understands (%d)",
				  version, STORE_SCHEMA_VERSION);
	if (version == STORE_SCHEMA_VERSION)
		return 0;
	for (; version < STORE_SCHEMA_VERSION; version++) {
		if (store_migrations[version] != NULL &&
		    store_exec(store, store_migrations[version]) < 0)
			return -1;
		if (store_migration_fns[version] != NULL && store_migration_fns[version](store) < 0)
			return -1;
	}
	if (sqlite3_prepare_v2(store->db, "UPDATE schema_version SET version = ?1", -1, &stmt,
			       NULL) != SQLITE_OK)
		return store_fail_sql(store, NULL, "writing the schema version");
	sqlite3_bind_int(stmt, 1, version);
	r = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (r != SQLITE_DONE)
		return store_fail_sql(store, NULL, "writing the schema version");
	return 0;
}

static int store_pragma_text(struct store *store, const char *sql, const char *want)
{
	sqlite3_stmt *stmt;
	if (sqlite3_prepare_v2(store->db, sql, -1, &stmt, NULL) != SQLITE_OK)
		return store_fail_sql(store, NULL, sql);
	int ok = sqlite3_step(stmt) == SQLITE_ROW &&
		 strcmp((const char *)sqlite3_column_text(stmt, 0), want) == 0;
	sqlite3_finalize(stmt);
	if (!ok)
		return store_fail(store, STORE_ERR_INTERNAL, NULL, "%s did not give %s", sql, want);
	return 0;
}

int store_db_connect(struct store *store, const char *path, bool set_wal)
{
	/* no SQLITE_OPEN_CREATE: store_open creates the file (mode 0600); a database that went
	 * away while the store was parked is an error, not a new empty store */
	if (sqlite3_open_v2(path, &store->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		if (store->db == NULL)
			return store_fail(store, STORE_ERR_INTERNAL, NULL, "cannot open %s", path);
		return store_fail(store, STORE_ERR_INTERNAL, NULL, "cannot open %s: %s", path,
				  sqlite3_errmsg(store->db));
	}
	sqlite3_busy_timeout(store->db, STORE_BUSY_TIMEOUT_MS);
	sqlite3_extended_result_codes(store->db, 1);
	/* WAL: sessions read while LMTP writes (persistent in the file: set once, at store_open);
	 * FULL: a commit is on disk when COMMIT returns (in WAL mode NORMAL would fsync only at
	 * checkpoints, and an acknowledged change could be lost on power failure). Not through
	 * store_exec: the reopen of a parked store runs this before it counts as open. */
	if (set_wal && store_pragma_text(store, "PRAGMA journal_mode = WAL", "wal") < 0)
		return -1;
	store->sync_normal = false;
	if (sqlite3_exec(store->db, "PRAGMA synchronous = FULL", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(store->db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL) != SQLITE_OK)
		return store_fail(store, STORE_ERR_INTERNAL, NULL, "cannot set up %s: %s", path,
				  sqlite3_errmsg(store->db));
	return 0;
}

/* Open the database (created by the caller with mode 0600 if new), set it up and bring the
 * schema up to date; *created_r when the schema was created just now. Call with the write lock
 * held. */
int store_db_open(struct store *store, const char *path, bool *created_r)
{
	if (store_db_connect(store, path, true) < 0)
		return -1;
	if (store_tx_begin(store) < 0)
		return -1;
	if (store_migrate(store, created_r) < 0 ||
	    (*created_r && store_mailbox_create_defaults(store) < 0)) {
		store_tx_rollback(store);
		return -1;
	}
	return store_tx_commit(store);
}

void store_library_init(void)
{
	/* no bulk allocation: cache pages come one by one and go with store_pool_shrink_idle
	 * (SQLITE_MISUSE if SQLite was initialized already: then it stays as it was) */
	(void)sqlite3_config(SQLITE_CONFIG_PAGECACHE, NULL, 0, 0);
}

void store_stmts_finalize(struct store *store)
{
	for (size_t i = 0; i < STMT_COUNT; i++) {
		sqlite3_finalize(store->stmts[i]);
		store->stmts[i] = NULL;
	}
}

void store_db_close(struct store *store)
{
	store_stmts_finalize(store);
	if (store->db != NULL) {
		sqlite3_close_v2(store->db);
		store->db = NULL;
	}
}

/* ---- locks ---- */

static int store_ofd_lock(int fd, short type, off_t start, bool wait)
{
	struct flock fl;
	memset(&fl, 0, sizeof(fl));
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	fl.l_start = start;
	fl.l_len = 1;
	for (;;) {
		if (fcntl(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl) == 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

int store_lock_write(struct store *store)
{
	if (store_use(store) < 0)
		return -1;
	if (store->write_lock_depth == 0) {
		if (store_ofd_lock(store->lock_fd, F_WRLCK, 1, true) < 0)
			return store_fail(store, STORE_ERR_INTERNAL, NULL,
					  "cannot lock %s/store.lock: %s", store->dir,
					  strerror(errno));
		/* reopened after parking: counted among the open handles again before it can
		 * write a body file (store.c) */
		if (store->recount && store_open_recount(store) < 0) {
			(void)store_ofd_lock(store->lock_fd, F_UNLCK, 1, false);
			return -1;
		}
	}
	store->write_lock_depth++;
	return 0;
}

int store_lock_write_try(struct store *store)
{
	if (store->write_lock_depth > 0) {
		store->write_lock_depth++;
		return 1;
	}
	if (store_ofd_lock(store->lock_fd, F_WRLCK, 1, false) < 0) {
		if (errno == EAGAIN || errno == EACCES)
			return 0;
		return store_fail(store, STORE_ERR_INTERNAL, NULL, "cannot lock %s/store.lock: %s",
				  store->dir, strerror(errno));
	}
	store->write_lock_depth++;
	return 1;
}

void store_unlock_write(struct store *store)
{
	if (store->write_lock_depth == 0 || --store->write_lock_depth > 0)
		return;
	(void)store_ofd_lock(store->lock_fd, F_UNLCK, 1, false);
}

int store_lock_open(struct store *store)
{
	if (store_ofd_lock(store->lock_fd, F_WRLCK, 0, false) == 0)
		return 1;
	if (errno != EAGAIN && errno != EACCES)
		return store_fail(store, STORE_ERR_INTERNAL, NULL, "cannot lock %s/store.lock: %s",
				  store->dir, strerror(errno));
	if (store_ofd_lock(store->lock_fd, F_RDLCK, 0, true) < 0)
		return store_fail(store, STORE_ERR_INTERNAL, NULL, "cannot lock %s/store.lock: %s",
				  store->dir, strerror(errno));
	return 0;
}

int store_lock_open_downgrade(struct store *store)
{
	if (store_ofd_lock(store->lock_fd, F_RDLCK, 0, true) < 0)
		return store_fail(store, STORE_ERR_INTERNAL, NULL, "cannot lock %s/store.lock: %s",
				  store->dir, strerror(errno));
	return 0;
}

/* ---- transactions ---- */

int store_tx_begin(struct store *store)
{
	if (store_defer_tx_begin(store) < 0 || store_lock_write(store) < 0)
		return -1;
	sqlite3_stmt *stmt = store_stmt(store, STMT_BEGIN);
	if (stmt == NULL || store_stmt_run(store, stmt, "beginning a transaction") < 0) {
		store_unlock_write(store);
		return -1;
	}
	store->unlink_count = 0;
	return 0;
}

static int store_collect_unreferenced(struct store *store)
{
	sqlite3_stmt *stmt = store_stmt(store, STMT_BODY_UNREFERENCED);
	if (stmt == NULL)
		return -1;
	int r;
	while ((r = sqlite3_step(stmt)) == SQLITE_ROW) {
		const char *hash = (const char *)sqlite3_column_text(stmt, 0);
		if (hash != NULL && store_hash_valid(hash))
			store_unlink_add(store, hash);
	}
	sqlite3_reset(stmt);
	if (r != SQLITE_DONE)
		return store_fail_sql(store, NULL, "listing unreferenced bodies");
	if (store->unlink_count == 0)
		return 0;
	stmt = store_stmt(store, STMT_BODY_DELETE_UNREFERENCED);
	if (stmt == NULL)
		return -1;
	return store_stmt_run(store, stmt, "deleting unreferenced bodies");
}

void store_hashes_append(char (**list)[STORE_HASH_HEX + 1], size_t *count, size_t *alloc,
			 const char (*hashes)[STORE_HASH_HEX + 1], size_t n)
{
	size_t need = *count + n, bytes;
	if (need > *alloc) {
		size_t a = *alloc ? *alloc : 16;
		while (a < need)
			a *= 2;
		if (size_mul(a, sizeof(**list), &bytes) < 0)
			xabort("unlink queue overflow");
		*list = xrealloc(*list, bytes);
		*alloc = a;
	}
	memcpy((*list)[*count], hashes, n * sizeof(**list));
	*count = need;
}

int store_tx_commit_quiet(struct store *store)
{
	store->quiet_commit = true;
	int ret = store_tx_commit(store);
	store->quiet_commit = false;
	return ret;
}

int store_tx_commit(struct store *store)
{
	sqlite3_stmt *stmt;
	if (store_state_flush(store) < 0 || store_collect_unreferenced(store) < 0 ||
	    (stmt = store_stmt(store, STMT_COMMIT)) == NULL ||
	    store_stmt_run(store, stmt, "committing") < 0) {
		store_tx_rollback(store);
		return -1;
	}
	/* DESIGN.md 3: the file goes only after the commit that dropped its last row; a crash
	 * before the unlink leaves an orphan that the next first open sweeps. With a hook, later
	 * (store_unlink_pending): the reply need not wait for the unlinks. In a deferred
	 * window, only after the commit's sync (store_sync_submit). A quiet commit (derived
	 * data, a \Recent claim: losing it in a crash costs nothing but redoing it) adds no sync
	 * for the reply to wait for; the next synced commit makes it durable along. */
	if (store->defer_depth > 0 && !(store->quiet_commit && store->unlink_count == 0))
		store_defer_tx_commit(store);
	if (store->unlink_hook != NULL && store->unlink_count > 0) {
		bool was_empty = store->unlink_later_count == 0;
		store_hashes_append(&store->unlink_later, &store->unlink_later_count,
				    &store->unlink_later_alloc, store->unlink, store->unlink_count);
		store->unlink_count = 0;
		if (was_empty)
			store->unlink_hook(store->unlink_hook_ctx);
	}
	for (size_t i = 0; i < store->unlink_count; i++)
		store_body_file_unlink(store, store->unlink[i]);
	store->unlink_count = 0;
	store_unlock_write(store);
	if (store->defer_notify)
		store->notify_pending = true; /* store_notify_flush, after the group's sync */
	else if (!store->quiet_commit)
		store_notify_touch(store);
	return 0;
}

void store_set_unlink_hook(struct store *store, void (*hook)(void *ctx), void *ctx)
{
	store->unlink_hook = hook;
	store->unlink_hook_ctx = ctx;
}

ssize_t store_unlink_pending(struct store *store, size_t max)
{
	if (store->unlink_later_count == 0)
		return 0;
	/* an open statement (a sliced SEARCH) pins this connection's snapshot: a body row
	 * committed since by another process would look absent */
	for (sqlite3_stmt *p = store->db != NULL ? sqlite3_next_stmt(store->db, NULL) : NULL;
	     p != NULL; p = sqlite3_next_stmt(store->db, p)) {
		if (sqlite3_stmt_busy(p))
			return (ssize_t)store->unlink_later_count;
	}
	if (store->db != NULL && sqlite3_get_autocommit(store->db) == 0)
		return (ssize_t)store->unlink_later_count;
	/* the write lock: no APPEND is between writing (or finding) a file and its commit */
	if (store_lock_write(store) < 0) {
		log_error("store %s: cannot unlink dropped bodies: %s", store->dir, store->errbuf);
		return -1;
	}
	int ret = 0;
	while (store->unlink_later_count > 0 && max-- > 0) {
		const char *hash = store->unlink_later[store->unlink_later_count - 1];
		sqlite3_stmt *stmt = store_stmt(store, STMT_BODY_BY_HASH);
		if (stmt == NULL) {
			ret = -1;
			break;
		}
		sqlite3_bind_text(stmt, 1, hash, STORE_HASH_HEX, SQLITE_STATIC);
		int r = sqlite3_step(stmt);
		sqlite3_reset(stmt);
		if (r != SQLITE_ROW && r != SQLITE_DONE) {
			ret = store_fail_sql(store, NULL, "looking up a body");
			break;
		}
		if (r == SQLITE_DONE)
			store_body_file_unlink(store, hash); /* else stored again since: kept */
		store->unlink_later_count--;
	}
	store_unlock_write(store);
	if (ret < 0) {
		log_error("store %s: cannot unlink dropped bodies: %s", store->dir, store->errbuf);
		return -1;
	}
	return (ssize_t)store->unlink_later_count;
}

void store_tx_rollback(struct store *store)
{
	sqlite3_stmt *stmt = store_stmt(store, STMT_ROLLBACK);
	if (sqlite3_get_autocommit(store->db) == 0) {
		if (stmt == NULL || sqlite3_step(stmt) != SQLITE_DONE)
			(void)sqlite3_exec(store->db, "ROLLBACK", NULL, NULL, NULL);
		if (stmt != NULL)
			sqlite3_reset(stmt);
	}
	store->unlink_count = 0;
	store_state_clear(store);
	store_events_clear(store);
	store_unlock_write(store);
}

/* ---- meta ---- */

int store_meta_get(struct store *store, const char *key, int64_t *value_r)
{
	sqlite3_stmt *stmt = store_stmt(store, STMT_META_GET);
	if (stmt == NULL)
		return -1;
	sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
	int r = sqlite3_step(stmt);
	*value_r = r == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : 0;
	sqlite3_reset(stmt);
	if (r != SQLITE_ROW && r != SQLITE_DONE)
		return store_fail_sql(store, NULL, "reading meta data");
	return 0;
}

int store_meta_set(struct store *store, const char *key, int64_t value)
{
	sqlite3_stmt *stmt = store_stmt(store, STMT_META_SET);
	if (stmt == NULL)
		return -1;
	sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, value);
	return store_stmt_run(store, stmt, "writing meta data");
}

/* RFC 9051 2.3.1.1: a UIDVALIDITY must never repeat for a name with other messages behind it.
 * Values only grow within a store, so a mailbox deleted and created again in the same second
 * still gets a new one; the time keeps them growing even if the database is recreated. */
int store_uidvalidity_next(struct store *store, uint32_t *uidvalidity_r)
{
	int64_t last, now = (int64_t)time(NULL);
	if (store_meta_get(store, "uidvalidity", &last) < 0)
		return -1;
	int64_t next = last + 1;
	if (now > next && now <= UINT32_MAX)
		next = now;
	if (next > UINT32_MAX || next < 1)
		next = 1;
	if (store_meta_set(store, "uidvalidity", next) < 0)
		return -1;
	*uidvalidity_r = (uint32_t)next;
	return 0;
}
