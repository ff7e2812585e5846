/* store.h: the storage interface. One struct store is one user's mail: mailboxes, messages,
 * flags, UIDs, MODSEQs, subscriptions. It speaks users, mailboxes, messages, changes and
 * transactions; nothing above this header knows how or where things are kept (the embedded
 * backend: one SQLite database per user plus immutable content-addressed body files; a
 * scale-out backend later behind the same functions).
 *
 * Names. Mailbox names are UTF-8 with '/' as hierarchy separator, as the client means them
 * (the IMAP layer converts modified UTF-7 for IMAP4rev1 clients). "INBOX" is matched
 * case-insensitively and always stored as "INBOX"; so is INBOX as the first level of a longer
 * name ("inbox/x" is "INBOX/x"). store_mailbox_name_valid() is the one place that decides what
 * a name may be (a trailing '/' is invalid: the IMAP layer strips it for CREATE).
 *
 * Durability. Every function that changes the store returns only after the change is on stable
 * storage: a new body file is written to a temporary name, fsynced, renamed and its folder
 * fsynced before the database row that refers to it is committed (synchronous=FULL); a
 * removed body's file is unlinked only after the commit that dropped its last reference.
 * A crash at any point leaves no row pointing at a missing file; unreferenced files are swept
 * by the next first open after a handle that did not close (store_open).
 *
 * Threads. A store is used by one thread (the mail process's loop). The functions block on
 * disk I/O; callers keep the work per call bounded (batches of UIDs).
 *
 * Return convention: 0 (or 1/0 where stated) on success, -1 on error with a static or
 * store-owned message in *error_r (valid until the next call on the same store) and, where
 * the IMAP answer depends on it, a code from enum store_error in store_last_error().
 *
 * Callbacks. A callback returning -1 stops the callbacks of that call (not an error: the
 * function still returns 0). Iterating functions (store_mailbox_list, store_subscriptions,
 * store_messages) call back while they read: their callbacks must not call the same function
 * again (it fails), and should not change the store. The callbacks of changing functions
 * (changed_cb, failed_cb, expunged_cb, listeners) run after the commit, when the change is
 * durable, and may call anything.
 *
 * MODSEQ. One change (one call) takes one new MODSEQ per mailbox it changes; every message it
 * changes gets that value (RFC 7162 3.1 lets messages changed together share one). */
#ifndef KURA_STORE_STORE_H
#define KURA_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define STORE_MAILBOX_NAME_MAX 1024 /* bytes of UTF-8 */
#define STORE_MAILBOX_LEVELS_MAX 32
#define STORE_KEYWORDS_MAX 64       /* distinct keywords per mailbox */
#define STORE_KEYWORD_LEN_MAX 128

/* System flags (RFC 9051 2.3.2), as bits. \Recent is not stored: it is per session. */
enum store_flag {
	STORE_FLAG_SEEN = 0x01,
	STORE_FLAG_ANSWERED = 0x02,
	STORE_FLAG_FLAGGED = 0x04,
	STORE_FLAG_DELETED = 0x08,
	STORE_FLAG_DRAFT = 0x10,
};

/* Special-use attributes (RFC 6154), as bits. */
enum store_special_use {
	STORE_SPECIAL_ALL = 0x01,
	STORE_SPECIAL_ARCHIVE = 0x02,
	STORE_SPECIAL_DRAFTS = 0x04,
	STORE_SPECIAL_FLAGGED = 0x08,
	STORE_SPECIAL_JUNK = 0x10,
	STORE_SPECIAL_SENT = 0x20,
	STORE_SPECIAL_TRASH = 0x40,
};

enum store_error {
	STORE_ERR_NONE = 0,
	STORE_ERR_INTERNAL,    /* I/O or database failure: SERVERBUG / UNAVAILABLE */
	STORE_ERR_NOT_FOUND,   /* no such mailbox: NONEXISTENT */
	STORE_ERR_EXISTS,      /* ALREADYEXISTS */
	STORE_ERR_INVALID,     /* bad name or argument: CANNOT */
	STORE_ERR_LIMIT,       /* too many keywords, too deep, too long: LIMIT */
	STORE_ERR_TOOBIG,      /* message over the size limit: TOOBIG */
	STORE_ERR_INUSE,       /* e.g. INBOX cannot be deleted: CANNOT */
};

struct store;

struct store_mailbox {
	uint64_t id;
	char name[STORE_MAILBOX_NAME_MAX + 1];
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t highestmodseq;
	unsigned special_use;   /* enum store_special_use bits */
	bool subscribed;
	/* counters, kept current by every change (STATUS never scans messages) */
	uint32_t messages;
	uint32_t unseen;
	uint32_t deleted;
	uint64_t size;          /* sum of message sizes (STATUS SIZE) */
	uint32_t first_recent_uid; /* messages from this UID on are \Recent (store_recent_claim) */
	/* keywords defined in this mailbox; bit i of a message's keyword mask is keywords[i] */
	unsigned keyword_count;
	char keywords[STORE_KEYWORDS_MAX][STORE_KEYWORD_LEN_MAX + 1];
};

/* One message's state, as a session's view keeps it. */
struct store_msg {
	uint32_t uid;
	uint8_t flags;          /* enum store_flag bits */
	uint64_t keywords;      /* bit mask into the mailbox's keywords */
	uint64_t modseq;
};

/* What FETCH needs beyond the view: cached at delivery, never recomputed. */
struct store_msg_info {
	uint32_t uid;
	uint64_t size;          /* RFC822.SIZE: the exact stored byte count */
	time_t internal_date;
	int internal_tz;        /* minutes east of UTC of the INTERNALDATE */
	time_t saved_date;
	char body_id[65];       /* content hash: names the body for store_body_open() */
	/* pre-rendered IMAP strings (allocated from the pool given to store_message_info) */
	const char *envelope;
	const char *bodystructure; /* with extension data */
	const char *body;          /* BODY: without extension data */
	/* the same for IMAP4rev1 sessions: they differ only for a message with a message/global
	 * part (bodystructure.h); otherwise these point to the strings above */
	const char *bodystructure_rev1;
	const char *body_rev1;
	/* the part table (mail/mime-parts.h), or NULL for a body stored before kura kept it */
	const unsigned char *parts;
	size_t parts_size;
};

/* --- opening --- */

/* Once per process, before any SQLite use (first thing in main): SQLite's process-wide
 * settings for many small connections. A connection's first read otherwise allocates 20
 * cache pages at once (about 90 KiB) that stay until it closes; with hundreds of users' stores
 * open in one mail process that was most of an idle user's memory. */
void store_library_init(void);

/* Open (creating on first use) the store of user under root (DATA/users). A new store gets
 * INBOX, Drafts, Sent, Trash, Junk and Archive with their special-use attributes, all
 * subscribed. user must have passed userdb_name_valid() (a name with '/' or a leading '.' is
 * refused here too). The first handle open on a store (in any process) sweeps orphan body
 * files and temporary files if a handle opened since the last sweep did not close (crashed:
 * store.c counts the open handles); a database created next to existing body files (the old
 * one was lost or moved away) files every body into a new mailbox "Recovered" instead. On
 * failure *error_r is a thread-local message valid until the next store_open. Every handle
 * must be closed with store_close, or the next first open sweeps. */
int store_open(const char *root, const char *user, struct store **store_r, const char **error_r);
void store_close(struct store **store);
enum store_error store_last_error(const struct store *store);

/* --- parking (store-park.c) ---
 * A process holding many stores (the mail process: one per user with a session) puts them in
 * a pool. The pool keeps at most open_max of them open (0: no limit) and parks the least
 * recently used beyond that: a parked store has closed its SQLite connection and its fds
 * (none left) but keeps its struct, listeners and path; any store call on it reopens it
 * transparently (without migrations or the orphan sweep, which only store_open does). A store
 * is never parked inside a transaction, while a store_search or store_sort handle on it is
 * live, or while its listeners are being called. Body fds from store_body_open stay valid.
 * store_refresh on a parked store does not reopen it: it tells the listeners "may have
 * changed" (so does the first store_refresh after a reopen: PRAGMA data_version is per
 * connection, so commits by others while parked cannot be told apart otherwise). A pool
 * is used by one thread. */
struct store_pool;
struct store_pool *store_pool_create(unsigned open_max);
/* Stores still in the pool leave it (they stay as they are, never parked again by it). */
void store_pool_destroy(struct store_pool **pool);
/* store joins the pool (an open store: it counts as the most recently used); stores beyond
 * open_max are parked. store_close takes it out again. */
void store_pool_add(struct store_pool *pool, struct store *store);
/* keep: parking by this pool leaves the store's WAL file in place instead of checkpointing it
 * into store.db when the process's connection was the last one (SQLite's checkpoint on close:
 * two syncs and the WAL's deletion, the main cost of parking a store that was written to).
 * Durability is the same (what a commit synced stays in the WAL); the -wal and -shm files stay
 * on disk until some connection checkpoints, and the next first open reads the WAL back. For
 * a process that parks stores it writes to often (the lmtp process). Default off. */
void store_pool_keep_wal(struct store_pool *pool, bool keep);
/* Park the open stores not used for idle_secs or more; returns how many were parked. */
unsigned store_pool_park_idle(struct store_pool *pool, unsigned idle_secs);
/* Shrink the open stores not used for idle_secs or more (once per idle spell): their SQLite
 * page cache and prepared statements and the store's scratch memory are given back, the
 * connection and fds stay (the next use prepares what it needs again). An idle user's open
 * store costs its schema and a few KiB then, not the 100-300 KiB of one in use. Returns how
 * many were shrunk (the caller may malloc_trim(3) the freed memory back to the system). */
unsigned store_pool_shrink_idle(struct store_pool *pool, unsigned idle_secs);
/* Park one more store (the least recently used that can be) other than keep (may be NULL):
 * 1 parked one, 0 none could be. For a caller that ran out of file descriptors. */
int store_pool_shed(struct store_pool *pool, const struct store *keep);
/* Before a store_open whose store will join the pool: park the least recently used open
 * stores (other than keep, may be NULL) until one more fits under open_max, so the limit holds
 * while the store opens too (reopening a parked store does this itself). */
void store_pool_reserve(struct store_pool *pool, const struct store *keep);
void store_pool_counts(const struct store_pool *pool, unsigned *open_r, unsigned *parked_r);
/* Park this store now: 1 parked, 0 it cannot be now (busy, see above) or already is. Works
 * without a pool too. */
int store_park(struct store *store);
bool store_is_parked(const struct store *store);

/* --- mailboxes --- */

/* 1 valid; 0 invalid with the reason in *error_r. Rules: valid UTF-8, no control characters,
 * no empty level (leading, trailing or doubled '/'), no "." or ".." level, at most
 * STORE_MAILBOX_NAME_MAX bytes and STORE_MAILBOX_LEVELS_MAX levels, no '*' or '%'. */
int store_mailbox_name_valid(const char *name, const char **error_r);

/* Fill *mb for name (INBOX case-insensitive). 1 found, 0 not found (an invalid name is not
 * found either), -1 error. */
int store_mailbox_get(struct store *store, const char *name, struct store_mailbox *mb);
int store_mailbox_get_by_id(struct store *store, uint64_t id, struct store_mailbox *mb);

/* Call cb for every mailbox, in name order. cb returns 0 to go on, -1 to stop. */
typedef int store_mailbox_cb(void *ctx, const struct store_mailbox *mb);
int store_mailbox_list(struct store *store, store_mailbox_cb *cb, void *ctx, const char **error_r);

/* Create name and any missing superior levels (RFC 9051 6.3.4). Fails with EXISTS if name
 * exists, INVALID or LIMIT if the name is not valid. special_use may be 0. */
int store_mailbox_create(struct store *store, const char *name, unsigned special_use,
			 const char **error_r);
/* Delete name and its messages (RFC 9051 6.3.5). INBOX cannot be deleted. A mailbox with
 * children is deleted too and its children stay (kura has no \Noselect mailboxes: a deleted
 * parent simply stops existing; its children keep their full names). */
int store_mailbox_delete(struct store *store, const char *name, const char **error_r);
/* Rename (RFC 9051 6.3.6): children move along, and so do their subscriptions; missing
 * superior levels of the new name are created. Renaming INBOX moves its messages to a new
 * mailbox and leaves INBOX empty (its children stay). The new name must not exist (EXISTS;
 * renaming to INBOX is always EXISTS) and must not be below the old one (INVALID). UIDVALIDITY
 * of a renamed mailbox is kept; INBOX's moved messages get a new mailbox with a new
 * UIDVALIDITY (and keep their UIDs and MODSEQs). */
int store_mailbox_rename(struct store *store, const char *from, const char *to,
			 const char **error_r);

/* Subscriptions are names, independent of existence (RFC 9051 6.3.7), in name order.
 * Unsubscribing a name that is not subscribed succeeds. */
int store_subscribe(struct store *store, const char *name, bool subscribe, const char **error_r);
typedef int store_name_cb(void *ctx, const char *name);
int store_subscriptions(struct store *store, store_name_cb *cb, void *ctx, const char **error_r);

/* --- messages --- */

/* Append one message (exactly these bytes; they are stored as received). keywords: names to
 * set (created in the mailbox as needed; LIMIT beyond STORE_KEYWORDS_MAX; INVALID if not an
 * atom). internal_date 0: now (shown in zone internal_tz, minutes east of UTC, |tz| < 24h).
 * The size limit (APPENDLIMIT, TOOBIG) is the caller's to enforce. On success uids_r[i] is the
 * new UID of msgs[i] and *uidvalidity_r the mailbox's (APPENDUID). */
struct store_append {
	const unsigned char *data;
	size_t size;
	uint8_t flags;
	const char *const *keywords;
	size_t keyword_count;
	time_t internal_date;
	int internal_tz;
};
/* Several appends in one transaction (MULTIAPPEND: all or nothing). uids_r has count slots. */
int store_append(struct store *store, uint64_t mailbox_id, const struct store_append *msgs,
		 size_t count, uint32_t *uids_r, uint32_t *uidvalidity_r, const char **error_r);

/* --- background syncs (store-sync.c) ---
 * A sync set names what must become durable: files and folders by path, or, from
 * STORE_SYNCSET_MAX (32) names on, the whole filesystem (one syncfs). A syncer runs sets in a
 * thread of its own so that the caller's event loop goes on meanwhile; sets submitted while a
 * sync runs are merged into the next round (one syncfs or one round of fsyncs for all). The
 * callbacks run on the caller's thread, from store_syncer_reap (call it when
 * store_syncer_fd() is readable); error is NULL, or what failed (valid during the call only;
 * a failed round fails every set in it). */
/* From this many files (or folders) on, one syncfs() replaces the fsyncs of a MULTIAPPEND
 * batch (store-body.c: they run one after the other there). */
#define STORE_SYNCFS_MIN 8
/* A sync set (whose fsyncs run side by side on a syncer) turns into one syncfs from this many
 * names on. */
#define STORE_SYNCSET_MAX 32
struct store_syncset {
	char **paths; /* "dir/name", distinct */
	size_t count, alloc;
	bool whole_fs;
};
void store_syncset_add(struct store_syncset *set, const char *dir, const char *name);
void store_syncset_remove(struct store_syncset *set, const char *dir, const char *name);
void store_syncset_clear(struct store_syncset *set);
void store_syncset_free(struct store_syncset *set);
bool store_syncset_empty(const struct store_syncset *set);
/* Sync now, in this thread (fs_fd: any fd on the filesystem, for syncfs); the set is emptied.
 * A -wal file that is gone counts as synced (a checkpoint removed it after syncing). */
int store_syncset_run(struct store_syncset *set, int fs_fd, const char **error_r);

struct store_syncer;
typedef void store_sync_done_cb(void *ctx, const char *error);
/* fs_fd: an fd on the filesystem (duplicated) */
int store_syncer_create(int fs_fd, struct store_syncer **syncer_r, const char **error_r);
/* Waits for the running sync and runs what was submitted; calls no callback. */
void store_syncer_destroy(struct store_syncer **syncer);
/* The set moves into the syncer (set is left empty); cb(ctx, error) once it is durable. */
void store_syncer_submit(struct store_syncer *syncer, struct store_syncset *set,
			 store_sync_done_cb *cb, void *ctx);
int store_syncer_fd(const struct store_syncer *syncer);
/* Run the callbacks of the finished sets; returns how many. */
unsigned store_syncer_reap(struct store_syncer *syncer);
/* Block until a finished set waits for store_syncer_reap (or nothing is submitted). */
void store_syncer_wait(struct store_syncer *syncer);
/* Sets submitted and not reaped. */
size_t store_syncer_busy(const struct store_syncer *syncer);

/* --- deferred syncs (store-sync.c): group commit for the commits of IMAP commands ---
 * Between store_defer_begin and store_defer_end the store's commits are written with
 * synchronous = NORMAL (in the WAL, not synced): the caller submits the sync with
 * store_sync_submit, where it shares a round with every other commit in flight, and
 * acknowledges nothing before its callback. Bodies those commits dropped are unlinked only
 * once the sync is done (a failed sync leaves them to the sweep). Commits outside a window
 * stay FULL. Other processes may read a commit before it is durable (as with any WAL commit
 * before its sync); a store closed while a sync is in flight syncs its WAL itself. */
void store_defer_begin(struct store *store);
void store_defer_end(struct store *store);
/* Commits of a window wait for store_sync_submit. */
bool store_sync_pending(const struct store *store);
void store_sync_submit(struct store *store, struct store_syncer *syncer, store_sync_done_cb *cb,
		       void *ctx);

/* --- group commit (store-stage.c): many deliveries, one pair of syncs ---
 * For a process that appends to many stores at once (the lmtp process): instead of three syncs
 * per append (the body file, its folder, the WAL), a batch of appends into any number of
 * stores on one filesystem costs two rounds of syncs in all, shared with the other batches in
 * flight when they run on a syncer:
 *   1. store_stage_write(): each distinct message once into the caller's staging folder
 *      (ROOT/.stage/NAME, same filesystem as the stores), not synced;
 *   2. store_stage_link() per destination store: a hard link under the final name
 *      bodies/XX/HASH (no row names it yet: a crash leaves an orphan, swept at the next first
 *      open after an unclean close, before any append can find it);
 *   3. store_stage_submit() (or store_stage_sync(), in this thread): the bytes and the links
 *      are durable (an fsync of each staged file and bodies/XX folder, or one syncfs() when
 *      there are STORE_SYNCSET_MAX (32) or more);
 *   4. store_append_staged() per destination: under the store's write lock, makes sure the
 *      final file is there (links it again, with a folder fsync, if somebody removed it
 *      meanwhile) and commits the row with synchronous=NORMAL (WAL written, not synced) and
 *      without telling other processes yet;
 *   5. store_stage_submit() (or store_stage_sync()) again: every written store's WAL is
 *      durable. Only now store_notify_flush() per store (other processes hear of the mail)
 *      and the callers' acknowledgements.
 * A row thus never names a file whose bytes or name were not durable before the row was
 * written; an acknowledged append is durable. Between 4 and 5 other processes of the same
 * store can already read the row (as with any WAL commit before its sync). Steps 2 and 4
 * record what steps 3 and 5 sync in the stage's sync set: submit it before the next batch's
 * step 2 or 4 adds to it.
 * store_stage_drop() removes the staged file once every destination is done with it. */
struct store_stage;
struct store_staged {
	char hash[64 + 1]; /* STORE_HASH_HEX: SHA-256 in hex */
	uint64_t size;
	unsigned long seq; /* the staged file's name */
};
/* Create (or empty, after a crash) ROOT/.stage/NAME; NAME is the caller's, one per process. */
int store_stage_open(const char *root, const char *name, struct store_stage **stage_r,
		     const char **error_r);
void store_stage_close(struct store_stage **stage);
/* The staging folder's fd (for store_syncer_create: it is on the stores' filesystem). */
int store_stage_fd(const struct store_stage *stage);
int store_stage_write(struct store_stage *stage, const void *data, size_t size,
		      struct store_staged *b, const char **error_r);
int store_stage_sync(struct store_stage *stage, const char **error_r);
void store_stage_submit(struct store_stage *stage, struct store_syncer *syncer,
			store_sync_done_cb *cb, void *ctx);
void store_stage_drop(struct store_stage *stage, const struct store_staged *b);
/* Step 2: *created_r when this call made the file (the store did not have those bytes). */
int store_stage_link(struct store *store, struct store_stage *stage,
		     const struct store_staged *b, bool *created_r, const char **error_r);
/* After a failure between 2 and 4: remove a file store_stage_link created, unless a row of
 * the store names it by now (under the write lock). */
void store_stage_unlink(struct store *store, const struct store_staged *b);
/* Step 4 for one message (msg->data/size are the staged bytes); created: what
 * store_stage_link said. As store_append otherwise. */
int store_append_staged(struct store *store, uint64_t mailbox_id, const struct store_append *msg,
			struct store_stage *stage, const struct store_staged *b, bool created,
			uint32_t *uid_r, uint32_t *uidvalidity_r, const char **error_r);
/* Step 5: tell other processes about the commits store_append_staged made. */
void store_notify_flush(struct store *store);

/* Load the view of a mailbox: cb for each message in UID order (one streaming read). */
typedef int store_msg_cb(void *ctx, const struct store_msg *msg);
typedef int store_uid_cb(void *ctx, uint32_t uid);
int store_messages(struct store *store, uint64_t mailbox_id, store_msg_cb *cb, void *ctx,
		   const char **error_r);

/* A mailbox's messages come in chunks of STORE_CHUNK_UIDS consecutive UIDs (chunk k holds UIDs
 * k * STORE_CHUNK_UIDS to (k + 1) * STORE_CHUNK_UIDS - 1), each with counts kept by every
 * change, so a view can be opened from the counts alone and read a chunk when it needs it. */
#define STORE_CHUNK_UIDS 1024
struct store_chunk_info {
	uint32_t chunk;
	uint32_t messages, unseen, deleted; /* unseen: without \Seen */
	uint64_t max_modseq;
};
/* The mailbox row and its chunks (ascending, only those with messages) from one read
 * snapshot: *chunks_r is malloc'd (the caller frees it), *count_r entries. 1, 0 when the
 * mailbox no longer exists, -1 error. */
int store_mailbox_chunks(struct store *store, uint64_t mailbox_id, struct store_mailbox *mb_r,
			 struct store_chunk_info **chunks_r, size_t *count_r,
			 const char **error_r);
/* One chunk, from one read snapshot: cb for each message in it (UID order), then expunged_cb
 * for each UID of the chunk expunged after MODSEQ `since` (UID order). With them a view
 * rebuilds the chunk as it was at `since` (imap-view.c). Same callback rules as
 * store_messages. 0 or -1. */
int store_chunk_messages(struct store *store, uint64_t mailbox_id, uint32_t chunk,
			 uint64_t since, store_msg_cb *cb, store_uid_cb *expunged_cb, void *ctx,
			 const char **error_r);

/* A POP3 maildrop (RFC 1939 4: the messages as they are at login): *mb_r and every message
 * with its stored size in bytes, in UID order, read in one snapshot. 1 done, 0 the mailbox no
 * longer exists, -1 error. Same callback rules as store_messages. */
typedef int store_msg_size_cb(void *ctx, const struct store_msg *msg, uint64_t size);
int store_message_sizes(struct store *store, uint64_t mailbox_id, struct store_mailbox *mb_r,
			store_msg_size_cb *cb, void *ctx, const char **error_r);

struct pool;
/* FETCH data of one message. 1 found, 0 (expunged meanwhile), -1 error. Strings from pool:
 * exactly what mail/envelope.h and mail/bodystructure.h rendered at delivery (8-bit text as
 * literals, so they may hold CRLF). */
int store_message_info(struct store *store, uint64_t mailbox_id, uint32_t uid,
		       struct pool *pool, struct store_msg_info *info_r, const char **error_r);
/* Open a body for reading (pread byte ranges; sendfile). Returns the fd (the caller closes
 * it; it stays readable after an expunge removes the file) or -1 (NOT_FOUND if the file is
 * gone). */
int store_body_open(struct store *store, const char *body_id, const char **error_r);

/* Change flags of the given UIDs (ascending; missing ones are skipped). mode: replace, add or
 * remove. keywords are names (created as needed when adding/replacing). If unchanged_since is
 * not 0, messages whose modseq is above it are not changed and are reported through
 * failed_cb (CONDSTORE). Each changed message gets a new modseq; changed_cb reports the new
 * state of every message whose flags were touched, changed or not (for FETCH responses).
 * Keywords named in a REMOVE that the mailbox does not know are ignored. Listeners hear only
 * the messages that really changed. */
enum store_flag_mode { STORE_FLAGS_REPLACE, STORE_FLAGS_ADD, STORE_FLAGS_REMOVE };
struct store_flag_change {
	enum store_flag_mode mode;
	uint8_t flags;
	const char *const *keywords;
	size_t keyword_count;
	uint64_t unchanged_since;
};
int store_set_flags(struct store *store, uint64_t mailbox_id, const uint32_t *uids,
		    size_t count, const struct store_flag_change *change, store_msg_cb *changed_cb,
		    store_msg_cb *failed_cb, void *ctx, const char **error_r);

/* Deferred unlinking of dropped bodies (issue 3: unlinking 10,000 files was 65% of an
 * EXPUNGE before its tagged OK). With a hook set, a commit that drops the last reference to
 * bodies (expunge, move, mailbox delete) leaves their files in a queue and calls hook(ctx)
 * when the queue stops being empty; the owner (the mail process) then calls
 * store_unlink_pending from its loop, never from inside a call on the store. Without a hook
 * (the CLI, lmtp) the files go at the commit, as before. A crash before the unlinks leaves
 * orphans that the sweep after an unclean close removes; store_close drains the queue, and a
 * store with a queue is not parked. */
void store_set_unlink_hook(struct store *store, void (*hook)(void *ctx), void *ctx);
/* Unlink up to max queued files, each only if no body row names its hash now (checked under
 * the write lock, which every APPEND holds from before it writes or reuses a file until its
 * commit): an APPEND of the same bytes after the expunge keeps its file. Does nothing while
 * a statement of this handle is open (it would read an old snapshot). Returns how many
 * remain queued, or -1 (logged; the queue is kept for a later try). */
ssize_t store_unlink_pending(struct store *store, size_t max);

/* Expunge the given UIDs (ascending; missing ones skipped) in one transaction. expunged_cb
 * gets each UID really removed. */
int store_expunge(struct store *store, uint64_t mailbox_id, const uint32_t *uids, size_t count,
		  store_uid_cb *expunged_cb, void *ctx, const char **error_r);

/* Copy (or move: copy and expunge the sources in the same transaction) UIDs to another
 * mailbox. The bodies are shared, never copied. new_uids_r has count slots; *copied_r is how
 * many source UIDs existed (their UIDs in src_uids_r, in order) for COPYUID. Flags are kept;
 * keywords are mapped by name (created in the destination as needed: LIMIT if that passes
 * STORE_KEYWORDS_MAX, and then nothing is copied); the copies get a new saved date. */
int store_copy(struct store *store, uint64_t src_mailbox_id, const uint32_t *uids, size_t count,
	       uint64_t dst_mailbox_id, bool move, uint32_t *src_uids_r, uint32_t *new_uids_r,
	       size_t *copied_r, uint32_t *dst_uidvalidity_r, const char **error_r);

/* --- \Recent (RFC 3501 2.3.2; IMAP4rev1 only) ---
 * A message is recent to the first read-write IMAP4rev1 session that sees it. The store keeps
 * per mailbox the first UID not yet claimed (struct store_mailbox.first_recent_uid). */

/* Claim every unclaimed message below upto_uid for the caller: *first_r is the first UID that
 * was unclaimed, so the caller's recent messages are those in [*first_r, upto_uid). The claim
 * is committed without an fsync of its own (a crash can only make messages recent again). */
int store_recent_claim(struct store *store, uint64_t mailbox_id, uint32_t upto_uid,
		       uint32_t *first_r, const char **error_r);
/* How many messages of the mailbox have a UID >= from_uid (STATUS RECENT). */
int store_recent_count(struct store *store, uint64_t mailbox_id, uint32_t from_uid,
		       uint32_t *count_r, const char **error_r);

/* --- changes since a MODSEQ (session views, CONDSTORE/QRESYNC) --- */

/* Expunges: the UID and MODSEQ of every expunged message are kept for as long as its mailbox
 * exists (deleted with the mailbox, never truncated), so "expunged after MODSEQ x" is exact
 * for every x (QRESYNC, RFC 7162 3.2.5.2 and 3.2.6: no "too old" MODSEQ). They cost 16 bytes
 * or so per expunged message; see RFC 7162 5.3 before ever dropping old ones (the dropped
 * range would then have to be reported to any client asking from below it).
 *
 * What changed in a mailbox after MODSEQ since, read in one snapshot: *mb_r gets the mailbox
 * as it is now; changed_cb gets every message whose MODSEQ is above since (new or with
 * changed flags; in no particular order), then expunged_cb every UID expunged after since,
 * ascending. Either callback may be NULL. 1 done, 0 the mailbox no longer exists (deleted),
 * -1 error. Cheap when nothing changed (one row read). */
int store_changes_since(struct store *store, uint64_t mailbox_id, uint64_t since,
			struct store_mailbox *mb_r, store_msg_cb *changed_cb,
			store_uid_cb *expunged_cb, void *ctx, const char **error_r);

/* --- change notification ---
 * Listeners are told that a mailbox may have changed; what changed they read with
 * store_changes_since (one mechanism for changes from this process and from others).
 * Every commit also touches ROOT/.notify/USER, so that other processes (the mail process of
 * the user, while the CLI or a delivery agent writes) can watch one directory with inotify
 * and call store_refresh() for the user named by the event. */
struct store_listener {
	uint64_t mailbox_id; /* 0: every mailbox */
	/* may have changed (after a commit through this handle, or store_refresh found a commit
	 * by another handle); may remove any listener and may change the store */
	void (*changed)(void *ctx, uint64_t mailbox_id);
	void *ctx;
	struct store_listener *next; /* owned by the store */
};
void store_listener_add(struct store *store, struct store_listener *listener);
void store_listener_remove(struct store *store, struct store_listener *listener);

/* Has another handle (another process) committed since the last call? If so, tell every
 * listener (mailbox unknown). Returns 1 if it had, 0 if not, -1 on error. */
int store_refresh(struct store *store);

/* Watching ROOT/.notify for commits of any user: an inotify descriptor (non-blocking), or -1
 * with *error_r. store_watch_read calls cb with each user named by pending events (user NULL:
 * events were lost, refresh every store) and returns 0, or -1 on a read error. */
int store_watch_open(const char *root, const char **error_r);
typedef void store_watch_cb(void *ctx, const char *user);
int store_watch_read(int fd, store_watch_cb *cb, void *ctx);

/* --- maintenance --- */

/* Verify the store (every referenced body exists and has the recorded size and hash, counters
 * match, UIDs below UIDNEXT). With repair: rebuild what can be rebuilt (counters, references;
 * a missing body's messages are removed and reported). Progress and findings go to report.
 * *problems_r counts the problems found (with repair: found and fixed, so a second check is
 * clean). See store-check.c for exactly what is checked and what repair can and cannot do. */
typedef void store_report_cb(void *ctx, const char *line);
int store_check(struct store *store, bool repair, store_report_cb *report, void *ctx,
		unsigned *problems_r, const char **error_r);

/* The search index (SEARCH text and SENT* keys, SORT and THREAD keys) is not written by an
 * append: a new message's body is stored with its cached structure but unindexed, so APPEND,
 * COPY of new mail and LMTP deliveries do not pay for it before their reply. Every search,
 * sort and thread of a mailbox first indexes that mailbox's unindexed bodies (store-search.h:
 * inside store_search_run's slices), so answers are never stale; idle time should do it
 * before anyone asks. Likewise an expunge that drops bodies leaves their index rows behind
 * (deleting them costs FTS5 a tokenization of their text; they match no message meanwhile),
 * for idle time and, a few at a time, for searches.
 *
 * Index up to max_bodies (0 counts as 1) bodies not indexed yet, of any mailbox, oldest first,
 * one body mapped at a time, in transactions of up to 256 bodies committed with
 * synchronous=NORMAL (the index is derived from the bodies: a commit lost in a crash leaves
 * them unindexed, to be indexed again; nothing waits for it) and without notifying other
 * processes; with what is left of max_bodies, delete the index rows of dropped bodies the same
 * way (4 rows count as one body). Returns the work done in bodies (bodies whose file cannot be
 * read count too: they are marked and not retried); fewer than max_bodies means none is left
 * now (max_bodies when rows to delete are left). When none is waiting it costs two lookups in
 * indexes that are then empty, so it may be called freely (after each commit, from an idle
 * timer). Blocks for the time of those bodies (a few milliseconds each; more for big text):
 * keep max_bodies small in an event loop and call again on the next turn. -1 on error
 * (error_r). Outside a transaction. */
int store_index_pending(struct store *store, unsigned max_bodies, const char **error_r);

#endif
