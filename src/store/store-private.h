/* store-private.h: what the files of the embedded store backend share (store-db.c, store-name.c,
 * store-body.c, store-mailbox.c, store-message.c, store-state.c, store-notify.c,
 * store-check.c). Nothing outside src/store/ includes it.
 *
 * Locking across processes (the mail process, LMTP, the CLI may open the same user's store):
 * ROOT/USER/store.lock carries two OFD byte locks. Byte 0 (the "open" lock) is held shared by
 * every open handle; the first opener takes it exclusively for a moment to sweep orphans, so
 * a sweep never runs while another handle may be half-way through an append. Byte 1 (the
 * "write" lock) is held exclusively by every change from before its first body file is written
 * until after the files it dropped are unlinked, which makes "a file without a row" mean
 * "orphan" for whoever holds it. Order: open lock, then write lock, then SQLite's own. */
#ifndef KURA_STORE_STORE_PRIVATE_H
#define KURA_STORE_STORE_PRIVATE_H

#include <sqlite3.h>
#include <stdarg.h>
#include <stdbool.h>

#include "lib/pool.h"
#include "store/store.h"

#define STORE_SCHEMA_VERSION 8
#define STORE_BUSY_TIMEOUT_MS 30000
#define STORE_HASH_HEX 64
#define STORE_USER_MAX 255

/* Prepared statements, prepared on first use and reset after every use (an unreset read
 * statement would pin an old WAL snapshot). */
enum store_stmt {
	STMT_BEGIN,
	STMT_COMMIT,
	STMT_ROLLBACK,
	STMT_MB_BY_NAME,
	STMT_MB_BY_ID,
	STMT_MB_LIST,
	STMT_MB_INSERT,
	STMT_MB_SAVE,
	STMT_MB_DELETE,
	STMT_MB_CHILDREN,
	STMT_MB_SET_NAME,
	STMT_MB_RECENT_GET,
	STMT_MB_RECENT_SET,
	STMT_MSG_COUNT_FROM,
	STMT_EXPUNGED_SINCE,
	STMT_META_GET,
	STMT_META_SET,
	STMT_SUB_ADD,
	STMT_SUB_DEL,
	STMT_SUB_LIST,
	STMT_BODY_BY_HASH,
	STMT_BODY_INSERT,
	STMT_BODY_REF,
	STMT_BODY_UNREF,
	STMT_BODY_UNREFERENCED,
	STMT_BODY_DELETE_UNREFERENCED,
	STMT_MSG_INSERT,
	STMT_MSG_SIZES,
	STMT_MSG_INFO,
	STMT_MSG_GET,
	STMT_MSG_DELETE,
	STMT_EXPUNGED_INSERT,
	STMT_STATE_LIST,
	STMT_STATE_GET,
	STMT_STATE_SET,
	STMT_STATE_DELETE,
	STMT_STATE_DROP,
	STMT_STATE_SUMMARY,
	STMT_COUNT_SET,
	STMT_COUNT_DELETE,
	STMT_COUNT_DROP,
	STMT_EXPUNGED_RANGE,
	STMT_INDEX_INSERT,
	STMT_INDEX_DONE,
	STMT_INDEX_PENDING,
	STMT_INDEX_PENDING_MB,
	STMT_INDEX_ANY,
	STMT_GC_LIST,
	STMT_GC_TEXT_DELETE,
	STMT_GC_DELETE,
	STMT_COUNT
};

/* The packed message state (store-state.c): UIDs [k * STORE_STATE_UIDS, (k + 1) *
 * STORE_STATE_UIDS) of a mailbox are chunk k. */
#define STORE_STATE_UIDS STORE_CHUNK_UIDS

/* In a cached chunk's store_msg.flags: expunged by this transaction (left out at the
 * commit; lookups skip it). */
#define STORE_STATE_GONE 0x80

/* A chunk changed (or read to be changed) by the current transaction, decoded. */
struct store_state_chunk {
	uint64_t mailbox_id;
	uint32_t chunk;
	bool dirty;
	size_t count, alloc;
	struct store_msg *msgs; /* ascending by UID; STORE_STATE_GONE entries are expunged */
};

struct store_state_cache {
	struct store_state_chunk *c;
	size_t count, alloc;
	size_t last, prev; /* the two chunks used last (indexes into c) */
};

/* A change waiting for its commit before callers and listeners hear of it. */
enum store_event_kind {
	STORE_EV_TOUCHED,  /* caller's changed_cb only (flags touched, not changed) */
	STORE_EV_CHANGED,  /* caller's changed_cb and listeners' flags_changed */
	STORE_EV_FAILED,   /* caller's failed_cb (UNCHANGEDSINCE) */
	STORE_EV_EXPUNGED, /* caller's expunged_cb (for store_expunge) and listeners */
	STORE_EV_APPENDED, /* listeners only */
	STORE_EV_EXPUNGED_QUIET, /* listeners only (the sources of a move, a deleted mailbox) */
};

struct store_event {
	enum store_event_kind kind;
	uint64_t mailbox_id;
	struct store_msg msg;
};

struct store_events {
	struct store_event *ev;
	size_t count, alloc;
};

/* The listeners being notified right now (a stack: a listener may cause a nested change). */
struct store_listener_iter {
	struct store_listener *next;
	struct store_listener_iter *prev;
};

struct store {
	char *dir;          /* ROOT/USER */
	int dir_fd, bodies_fd, lock_fd;
	unsigned write_lock_depth; /* nested holders of the write lock */
	sqlite3 *db;
	sqlite3_stmt *stmts[STMT_COUNT];

	enum store_error last_error;
	char errbuf[512];

	struct pool *scratch;  /* MIME parsing at append; cleared per message */
	struct store_events events;
	/* hashes of bodies whose last reference the current transaction dropped */
	char (*unlink)[STORE_HASH_HEX + 1];
	size_t unlink_count, unlink_alloc;
	/* with an unlink hook: hashes whose files wait for store_unlink_pending (committed) */
	char (*unlink_later)[STORE_HASH_HEX + 1];
	size_t unlink_later_count, unlink_later_alloc;
	void (*unlink_hook)(void *ctx);
	void *unlink_hook_ctx;
	/* deferred syncs (store.h; store-sync.c): inside a window (depth > 0) commits are NORMAL,
	 * the WAL waits in sync_set for store_sync_submit and the bodies they dropped in
	 * unlink_unsynced until that sync is done; unsynced_base counts the entries released
	 * so far (a ticket releases up to its absolute mark) */
	unsigned defer_depth;
	bool sync_normal; /* PRAGMA synchronous = NORMAL in force (a window's commits) */
	struct store_syncset sync_set;
	char (*unlink_unsynced)[STORE_HASH_HEX + 1];
	size_t unlink_unsynced_count, unlink_unsynced_alloc;
	uint64_t unlink_unsynced_base;
	struct store_sync_ticket *tickets; /* submitted, not done */

	struct store_listener *listeners;
	struct store_listener_iter *iters;

	struct store_state_cache state; /* chunks the current transaction changes */
	bool counted;          /* counted among the open handles in store.lock (store.c) */
	bool recount;          /* parked since: count again at the next write lock (store.c) */

	char *notify_path;     /* ROOT/.notify/USER, touched after every commit */
	bool defer_notify;     /* store_append_staged: commit without touching it ... */
	bool notify_pending;   /* ... until store_notify_flush */
	bool quiet_commit;     /* this commit changes nothing sessions see: do not touch it */
	int64_t data_version;  /* PRAGMA data_version at the last store_refresh */

	/* parking (store-park.c): a parked store has no SQLite connection and no fd open */
	struct store_pool *pool;          /* NULL: never parked by a pool */
	struct store *lru_prev, *lru_next; /* the pool's open stores, most recently used first */
	int64_t last_used;                /* CLOCK_MONOTONIC_COARSE seconds */
	unsigned handles;                 /* live store_search / store_sort handles */
	bool parked;
	bool shrunk;   /* store_pool_shrink_idle gave its memory back; cleared by every use */
	bool reopened; /* reopened since the last store_refresh: tell the listeners once */
};

/* ---- the open-handle count in store.lock (store.c) ---- */
/* store_park: this handle stops counting (it has nothing in flight); 1 done (or it was not
 * counted), 0 another process holds the write lock (do not park now), never fails. */
int store_open_uncount(struct store *store);
/* store_lock_write after a reopen (store->recount), the write lock held: count again,
 * durably. 0 or -1 (recorded). */
int store_open_recount(struct store *store);

/* ---- parking (store-park.c) ---- */
int store_unpark(struct store *store);
void store_pool_touch(struct store *store);
/* Every use of the database or of the store's fds goes through here first: reopens a parked
 * store, marks a pooled one used. 0, or -1 (recorded). */
static inline int store_use(struct store *store)
{
	if (store->parked)
		return store_unpark(store);
	if (store->pool != NULL)
		store_pool_touch(store);
	return 0;
}
/* store_close: leave the pool. */
void store_pool_leave(struct store *store);

/* Touch the notify file (store-notify.c). */
void store_notify_touch(struct store *store);

/* ---- errors (store-db.c) ---- */
/* Set the code and message; returns -1 and sets *error_r if error_r is not NULL. */
int store_fail(struct store *store, enum store_error code, const char **error_r, const char *fmt,
	       ...) __attribute__((format(printf, 4, 5)));
/* An SQLite failure: STORE_ERR_INTERNAL with what and sqlite3_errmsg. */
int store_fail_sql(struct store *store, const char **error_r, const char *what);
/* A failure already recorded (a helper failed): copy the message to *error_r, return -1. */
int store_failed(struct store *store, const char **error_r);
static inline void store_clear_error(struct store *store)
{
	store->last_error = STORE_ERR_NONE;
	store->errbuf[0] = '\0';
}

/* ---- database (store-db.c) ---- */
/* Open and set up the database, bring the schema up to date (creating the default mailboxes
 * in a new one: *created_r). */
int store_db_open(struct store *store, const char *path, bool *created_r);
/* The cached statement, or NULL with the error recorded. Reset it after use. */
sqlite3_stmt *store_stmt(struct store *store, enum store_stmt id);
/* Finalize the cached statements (store_stmt prepares them again when next used). */
void store_stmts_finalize(struct store *store);
/* Step a statement that returns no row; reset it. 0 or -1 (recorded). */
int store_stmt_run(struct store *store, sqlite3_stmt *stmt, const char *what);
int store_exec(struct store *store, const char *sql);
/* list[count..] = hashes[0..n), growing the list (the unlink queues) */
void store_hashes_append(char (**list)[STORE_HASH_HEX + 1], size_t *count, size_t *alloc,
			 const char (*hashes)[STORE_HASH_HEX + 1], size_t n);
/* store_tx_commit of a change no session shows and none needs durable at once (index work,
 * a \Recent claim): other processes are not told, and in a deferred window (store.h) no reply
 * waits for its sync (unless it drops a body) */
int store_tx_commit_quiet(struct store *store);
/* store-sync.c: back to the synchronous mode the store is in (FULL, NORMAL inside a deferred
 * window) after a commit that chose NORMAL for itself. */
int store_sync_mode_restore(struct store *store);
/* store-sync.c, from store_tx_begin and store_tx_commit: a window's transaction */
int store_defer_tx_begin(struct store *store);
void store_defer_tx_commit(struct store *store);
/* store-sync.c, from store_close: make what the window committed durable now, detach the
 * tickets in flight */
void store_defer_close(struct store *store);
void store_db_close(struct store *store);
/* Open path into store->db and set up the connection (busy timeout, extended result codes,
 * synchronous, foreign keys; journal_mode WAL with set_wal): store_db_open and the reopen of
 * a parked store (store-park.c). Neither migrates nor commits. -1 (recorded) leaves store->db
 * for the caller to close (sqlite3_system_errno tells EMFILE). */
int store_db_connect(struct store *store, const char *path, bool set_wal);

/* Cross-process locks (see the comment at the top). The write lock nests: each
 * store_lock_write is matched by one store_unlock_write, the last one releases it. */
int store_lock_write(struct store *store);
/* The write lock if no other process holds it, without waiting and without store_use (for
 * store_park): 1 got it (store_unlock_write releases it), 0 busy, -1 error (recorded). */
int store_lock_write_try(struct store *store);
void store_unlock_write(struct store *store);
/* 1 got the open lock exclusively, 0 got it shared, -1 error. */
int store_lock_open(struct store *store);
int store_lock_open_downgrade(struct store *store);

/* A write transaction: write lock (one more level), BEGIN IMMEDIATE. Commit and rollback
 * release that level. */
int store_tx_begin(struct store *store);
/* Drop the body rows left without references (remembering their hashes), COMMIT, unlink the
 * files of those bodies, release the write lock. The caller then delivers the queued events
 * (store_events_deliver). On failure everything is rolled back. */
int store_tx_commit(struct store *store);
/* ROLLBACK, forget queued events, release the write lock. */
void store_tx_rollback(struct store *store);

int store_meta_get(struct store *store, const char *key, int64_t *value_r);
int store_meta_set(struct store *store, const char *key, int64_t value);
/* A fresh UIDVALIDITY: above every earlier one of this store and at least the time. */
int store_uidvalidity_next(struct store *store, uint32_t *uidvalidity_r);

/* ---- names and keywords (store-name.c) ---- */
/* Validate and normalise (first level INBOX in capitals) name into out. 0 or -1 (recorded,
 * STORE_ERR_INVALID or STORE_ERR_LIMIT). */
int store_name_normalize(struct store *store, const char *name,
			 char out[STORE_MAILBOX_NAME_MAX + 1]);
/* RFC 9051 flag-keyword: an atom, at most STORE_KEYWORD_LEN_MAX bytes. */
bool store_keyword_valid(const char *kw);
/* Index of kw in mb's keywords (ASCII case-insensitive), adding it when create; -1 absent,
 * -2 the mailbox has STORE_KEYWORDS_MAX already. */
int store_keyword_index(struct store_mailbox *mb, const char *kw, bool create);
/* The keywords column: names separated by a space (no atom holds one). */
void store_keywords_parse(struct store_mailbox *mb, const char *text, size_t len);
/* Write into a buffer of STORE_KEYWORDS_MAX * (STORE_KEYWORD_LEN_MAX + 1) bytes. */
size_t store_keywords_format(const struct store_mailbox *mb, char *out);
#define STORE_KEYWORDS_TEXT_MAX (STORE_KEYWORDS_MAX * (STORE_KEYWORD_LEN_MAX + 1) + 1)
/* Resolve names to a mask; creates missing ones when create. -1 (recorded) on an invalid
 * name or the keyword limit. */
int store_keywords_mask(struct store *store, struct store_mailbox *mb, const char *const *kws,
			size_t count, bool create, uint64_t *mask_r);

/* ---- mailboxes (store-mailbox.c) ---- */
/* Fill mb from the row the statement is on. */
void store_mailbox_from_row(sqlite3_stmt *stmt, struct store_mailbox *mb);
/* Load by id inside or outside a transaction. 1, 0 (recorded NOT_FOUND), -1. */
int store_mailbox_load(struct store *store, uint64_t id, struct store_mailbox *mb);
/* Write uidnext, highestmodseq, keywords and counters back. */
int store_mailbox_save(struct store *store, const struct store_mailbox *mb);
/* Insert a mailbox row (inside a transaction); name already normalised. */
int store_mailbox_insert(struct store *store, const char *name, unsigned special_use,
			 uint64_t *id_r);
int store_mailbox_create_defaults(struct store *store);

/* ---- bodies (store-body.c) ---- */
void store_hash_hex(const void *data, size_t size, char hex[STORE_HASH_HEX + 1]);
bool store_hash_valid(const char *hex);
/* Does bodies/XX/HASH exist with this size? 1 yes, 0 no (absent or another size), -1 error. */
int store_body_file_check(struct store *store, const char *hash, uint64_t size);
/* A set of folders to fsync: bit i (0..255) for bodies/XX, bit 256 for bodies/ itself. */
#define STORE_DIRSET 33
/* Body files being written: each is created under a temporary name and filled at once; the
 * flush makes them durable (an fsync each, or with whole_fs one syncfs for all), then renames
 * them to bodies/XX/HASH and records their folders in dirs; the caller fsyncs those with
 * store_body_dirs_sync before committing a row that names a file. Without whole_fs each
 * pending file holds an fd: use it for a few files only. */
struct store_body_batch {
	bool whole_fs;
	size_t count, alloc;
	struct store_body_pending {
		int fd;
		unsigned long seq;
		char hash[STORE_HASH_HEX + 1];
	} *f;
	unsigned char dirs[STORE_DIRSET];
};
void store_body_batch_init(struct store_body_batch *b, bool whole_fs);
int store_body_batch_add(struct store *store, struct store_body_batch *b, const char *hash,
			 const void *data, size_t size);
int store_body_batch_flush(struct store *store, struct store_body_batch *b);
/* Close and remove the pending temporary files (after a failure). */
void store_body_batch_abort(struct store *store, struct store_body_batch *b);
void store_body_batch_free(struct store_body_batch *b);
/* Add the folder of hash to dirs (an existing file whose name may not be durable yet). */
void store_body_dir_mark(unsigned char dirs[STORE_DIRSET], const char *hash);
int store_body_dirs_sync(struct store *store, const unsigned char dirs[STORE_DIRSET]);
void store_body_file_unlink(struct store *store, const char *hash);
/* "XX/HASH" relative to bodies/ */
void store_body_relpath(const char *hash, char out[STORE_HASH_HEX + 4]);
/* fsync bodies/XX/HASH itself (a file found present that no row names yet: whoever wrote it
 * may not have synced it yet). */
int store_body_file_sync(struct store *store, const char *hash);
/* store-stage.c: link the staged file to bodies/XX/HASH again (replacing a file of another
 * size) and fsync the folder. Write lock held. */
/* store-stage.c: the WAL of store must be synced by the stage's next store_stage_sync. */
void store_stage_note_wal(struct store_stage *stage, const struct store *store);
int store_stage_relink(struct store *store, struct store_stage *stage,
		       const struct store_staged *b);
/* A body looked up by hash: 1 (*id_r, *size_r), 0 none, -1 error (store-message.c). */
int store_body_lookup(struct store *store, const char *hash, int64_t *id_r, uint64_t *size_r);
/* Remove temporary files and files no body row names. Call with the write lock held. report
 * (may be NULL) hears each removed name; *count_r counts them. */
int store_body_sweep(struct store *store, bool remove, store_report_cb *report, void *ctx,
		     unsigned *count_r);
/* Insert the body row of a message (its structure rendered and cached; not indexed yet:
 * search_state 0, see store-index.c), or add a reference to the existing row of that hash.
 * Inside a transaction. data must not be NULL (use "" for an empty message). */
int store_body_insert(struct store *store, const char *hash, const void *data, size_t size,
		      int64_t *body_id_r);
/* Remember hash for unlinking after the commit. */
void store_unlink_add(struct store *store, const char *hash);

/* ---- packed message state (store-state.c) ---- */
/* Every message of mailbox_id with a MODSEQ above since (0: all), ascending by UID, from the
 * committed chunks (a read; cb as for store_messages). 0 or -1 (recorded). */
int store_state_read(struct store *store, uint64_t mailbox_id, uint64_t since, store_msg_cb *cb,
		     void *ctx);
/* The same, every message, into a malloc'd array (*msgs_r NULL when there is none). */
int store_state_load(struct store *store, uint64_t mailbox_id, struct store_msg **msgs_r,
		     size_t *count_r);
/* Inside a write transaction: the chunk, loaded on first use and kept until the commit (which
 * writes it if the caller set dirty) or the rollback. NULL on error (recorded). Valid until
 * the next call that may load another chunk. */
struct store_state_chunk *store_state_chunk(struct store *store, uint64_t mailbox_id,
					    uint32_t chunk);
/* Index in c of the first entry with a UID >= uid. */
size_t store_state_chunk_find(const struct store_state_chunk *c, uint32_t uid);
/* A message row was inserted or its flags, keywords or MODSEQ changed / it was deleted. */
int store_state_put(struct store *store, uint64_t mailbox_id, const struct store_msg *msg);
int store_state_del(struct store *store, uint64_t mailbox_id, uint32_t uid);
/* Write the changed chunks (store_tx_commit, before COMMIT) / forget them (rollback). */
int store_state_flush(struct store *store);
void store_state_clear(struct store *store);
/* One message's state inside a write transaction: 1 found, 0 absent, -1 (recorded). */
int store_state_get(struct store *store, uint64_t mailbox_id, uint32_t uid,
		    struct store_msg *msg_r);
/* Delete a mailbox's chunks (the mailbox is deleted). */
int store_state_drop(struct store *store, uint64_t mailbox_id);
/* Schema version 6: msgstate from the rows' columns, which go. */
int store_state_migrate(struct store *store);
/* Schema version 7: msgcount, each chunk's counts (store_chunk_info), from the chunks. */
int store_state_migrate_counts(struct store *store);
/* store_check: compare a mailbox's chunks with its rows (inside a transaction, after
 * store_state_flush). With repair, rewrite them: an entry per row, entries without a row and
 * keyword bits outside valid_keywords dropped, a row without an entry (a damaged chunk) gets
 * no flags and new_modseq. sum has the counts of the state as it is (or as repaired). */
struct store_state_summary {
	size_t messages, unseen, deleted;
	uint64_t max_modseq;
	size_t missing, extra, damaged, stray_keywords;
	size_t miscounted; /* chunks whose counts (messages, unseen, deleted) are wrong */
};
int store_state_check(struct store *store, uint64_t mailbox_id, bool repair,
		      uint64_t valid_keywords, uint64_t new_modseq,
		      struct store_state_summary *sum);

/* ---- the search index (store-index.c) ---- */
struct mime_part;
/* Index one body (its row exists, parsed as root): the FTS row, sent date, SORT/THREAD keys,
 * search_state 1. Inside a transaction. */
int store_index_body(struct store *store, int64_t body_id, const void *data,
		     const struct mime_part *root);
/* Which bodies store_index_run indexes: those with search_state 0 (every one; of mailbox_id
 * only when it is not 0, and up to body id max_id when that is not 0), at most max_bodies (0:
 * no limit), stopping at the first batch boundary after deadline_us (CLOCK_MONOTONIC
 * microseconds; 0: none; at least one body is indexed per call). report (may be NULL)
 * hears progress every 5,000. */
struct store_index_scope {
	uint64_t mailbox_id;
	int64_t max_id;
	unsigned max_bodies;
	uint64_t deadline_us;
	store_report_cb *report;
	void *ctx;
};
/* Index them in batches of up to 256 bodies (one transaction each, committed with
 * synchronous=NORMAL and without notifying other processes; one body mapped at a time).
 * Outside a transaction. 0: none of the scope is left, 1: some may be left (a limit or the
 * deadline stopped it), -1 error (recorded). *count_r: how many were indexed. A store with
 * no unindexed body answers from one lookup in the partial index body_unindexed. */
int store_index_run(struct store *store, const struct store_index_scope *sc, unsigned *count_r);
/* Is any body of the store unindexed? 1 yes, 0 no, -1 error (recorded). One index lookup. */
int store_index_any(struct store *store);
/* Delete the FTS rows of dropped bodies that search_gc lists (schema 8, store-db.c), oldest
 * id first, at most max_rows (0: no limit), stopping after the first row past deadline_us
 * (CLOCK_MONOTONIC microseconds; 0: none): transactions of up to 256 rows committed with
 * synchronous=NORMAL and without notifying other processes. Outside a transaction. 0: none
 * is left, 1: some may be left, -1 error (recorded); *count_r: rows deleted. An empty
 * search_gc costs one lookup and no lock. */
int store_index_gc(struct store *store, unsigned max_rows, uint64_t deadline_us,
		   unsigned *count_r);
/* ---- events (store-notify.c) ---- */
void store_event_add(struct store *store, enum store_event_kind kind, uint64_t mailbox_id,
		     const struct store_msg *msg);
void store_events_clear(struct store *store);
struct store_event_cbs {
	store_msg_cb *changed_cb;
	store_msg_cb *failed_cb;
	store_uid_cb *expunged_cb;
	void *ctx;
};
/* Deliver the queued events: caller callbacks (until one returns -1) and listeners. */
void store_events_deliver(struct store *store, const struct store_event_cbs *cbs);

/* ---- recovery (store-check.c) ---- */
/* A new database next to existing body files: file them all into a mailbox "Recovered". */
int store_recover_bodies(struct store *store);

#endif
