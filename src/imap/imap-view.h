/* imap-view.h: a selected mailbox as one session sees it (RFC 9051 sections 5.2, 7.4.1, 7.5).
 *
 * The view holds the sequence -> UID map with each message's flags, keywords and MODSEQ, so
 * FETCH FLAGS and sequence-set resolution never touch the database. It learns about changes
 * by one mechanism whoever made them (this session, another session, another process): the
 * store tells it that its mailbox may have changed, and at the next flush it reads what
 * changed after the MODSEQ it has seen (store_changes_since). Flag changes are applied at
 * once and reported as untagged FETCH; new messages and expunges change the sequence numbers
 * only when they are reported (EXISTS / EXPUNGE), and expunges only at the points RFC 9051
 * 7.4.1 allows (never while a FETCH, STORE or SEARCH by sequence number runs).
 * This session's own STORE reports its FETCH responses itself: it tells the view with
 * imap_view_own_change, and the view then does not report them again.
 * CONDSTORE/QRESYNC (RFC 7162): once the session enabled CONDSTORE, unsolicited FETCH carries
 * MODSEQ (and is sent when only the MODSEQ changed); with QRESYNC, expunges are reported as
 * one "VANISHED uid-set" instead of EXPUNGEs. The view also knows the highest MODSEQ up to
 * which the client has been told everything (imap_view_highestmodseq): an expunge withheld
 * during a FETCH/STORE by sequence number keeps it below that expunge's MODSEQ (RFC 7162
 * 3.2), so a client that computes its HIGHESTMODSEQ never skips a change. */
#ifndef KURA_IMAP_VIEW_H
#define KURA_IMAP_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/buf.h"
#include "store/store.h"

/* In flags[], next to the store's flag bits (never stored): */
#define IMAP_VIEW_RECENT 0x80   /* \Recent for this session (IMAP4rev1 only) */
#define IMAP_VIEW_EXPUNGED 0x40 /* expunged, the EXPUNGE response not sent yet */
#define IMAP_VIEW_FLAG_BITS 0x1f

struct imap_view_seg {
	uint32_t chunk;
	uint32_t first, count; /* indexes [first, first + count) */
	uint32_t unseen, deleted; /* while not loaded: its counts (the store's, at SELECT) */
	bool loaded;
};

/* What a view keeps of the mailbox row. Not a struct store_mailbox: that has room for a
 * 1 KiB name and 64 keywords of 128 bytes (9.6 KiB), and every idle session holds its view. */
struct imap_view_mailbox {
	uint64_t id;
	char *name;
	uint32_t uidvalidity, uidnext;
	uint64_t highestmodseq;
	unsigned keyword_count;
	char **keywords; /* keyword_count names, in the mailbox's order (one allocation) */
};

struct imap_view {
	struct store *store;
	struct imap_view_mailbox mb; /* uidvalidity, keywords ... (refreshed by every sync) */
	bool readonly;           /* EXAMINE */
	bool track_recent;       /* IMAP4rev1 session: \Recent, RECENT responses */
	size_t recent_count;     /* messages with IMAP_VIEW_RECENT */

	size_t count, alloc;
	/* The arrays are filled chunk by chunk, when first used (imap_view_load_*): a segment
	 * is the run of indexes holding one chunk of the store (STORE_CHUNK_UIDS UIDs). Until
	 * loaded, a segment's slots hold garbage (never touched: SELECT costs no page of them)
	 * and nothing in it changed since synced_modseq (a change makes the sync load it
	 * first). Whoever reads the arrays loads what it reads first. */
	struct imap_view_seg *segs;
	size_t seg_count, seg_alloc;
	uint32_t select_uidnext; /* UIDNEXT at SELECT: messages from it on came later */
	uint32_t recent_first;   /* messages from this UID on are \Recent (at SELECT) */
	uint32_t *uids;
	uint8_t *flags;
	uint64_t *keywords;
	uint64_t *modseqs;
	uint8_t *dirty; /* changed by someone else, not reported yet: VIEW_DIRTY_* */
	size_t dirty_count;

	uint64_t synced_modseq; /* every change up to this MODSEQ is in the view or queued */
	bool needs_sync;        /* the store said the mailbox may have changed */
	bool gone;              /* the mailbox was deleted: every message is expunged */
	bool condstore;         /* the session enabled CONDSTORE: MODSEQ in untagged FETCH */
	bool qresync;           /* the session enabled QRESYNC: VANISHED instead of EXPUNGE */
	uint64_t reported_modseq; /* the client knows every change up to this MODSEQ */
	uint64_t expunge_floor;   /* synced_modseq before the oldest pending expunge was read */

	/* queued, not yet visible in the sequence numbers (pending_new ascending by UID) */
	struct store_msg *pending_new;
	size_t pending_new_count, pending_new_alloc;
	uint32_t *pending_expunged;
	size_t pending_expunged_count, pending_expunged_alloc;

	bool keywords_changed; /* new keyword defined: send FLAGS (and PERMANENTFLAGS) again */
	struct store_listener listener;

	/* called when the mailbox may have changed (e.g. to push updates during IDLE) */
	void (*notify)(void *ctx);
	void *notify_ctx;
};

/* Open the view of a mailbox and start listening: the message count and the other counts
 * SELECT reports come from the store's per-chunk counts; the messages themselves are read
 * chunk by chunk when used (imap_view_load_*). view->mb is read afresh, in the same snapshot
 * as the counts (its UIDNEXT and HIGHESTMODSEQ are the ones to report). track_recent
 * (IMAP4rev1): a read-write view claims the unclaimed messages as its \Recent ones (store_recent_claim), on open and
 * whenever it announces new messages; a read-only view shows the unclaimed ones as \Recent
 * without claiming them. mb names the mailbox (its id); the view starts listening at the
 * HIGHESTMODSEQ it reads. 0 or -1 (error_r). */
int imap_view_open(struct imap_view *view, struct store *store, const struct store_mailbox *mb,
		   bool readonly, bool track_recent, const char **error_r);
void imap_view_close(struct imap_view *view);

/* The HIGHESTMODSEQ this session may announce (SELECT, a first CONDSTORE enabling command,
 * EXPUNGE/MOVE results): every change up to it has been reported to the client at the last
 * flush, or is below every expunge still withheld. */
uint64_t imap_view_highestmodseq(const struct imap_view *view);

/* Index of uid, or -1 (its chunk is loaded first; a failure to load is logged and gives -1). */
ssize_t imap_view_find(struct imap_view *view, uint32_t uid);
/* The same for UIDs looked up in ascending order: *hint (0 at first) is kept just after the
 * last one found, and the next message is tried before a search. */
ssize_t imap_view_find_from(struct imap_view *view, uint32_t uid, size_t *hint);

/* Make the arrays hold the real values (uids, flags, keywords, MODSEQ) of the messages at
 * indexes [lo, hi) / of every message / of the messages whose UIDs are in [uid_lo, uid_hi] /
 * of the sorted indexes idx[0..n). A chunk is read
 * once per view. 0, or -1 with *error_r (the store failed, or a chunk no longer adds up:
 * kura check). The last message is always loaded. */
int imap_view_load_range(struct imap_view *view, size_t lo, size_t hi, const char **error_r);
int imap_view_load_all(struct imap_view *view, const char **error_r);
int imap_view_load_uids(struct imap_view *view, uint32_t uid_lo, uint32_t uid_hi,
			const char **error_r);
int imap_view_load_indexes(struct imap_view *view, const uint32_t *idx, size_t n,
			   const char **error_r);
/* The index of the first message without \Seen (loading what it needs), -1 if there is
 * none or on error (logged). */
ssize_t imap_view_first_unseen(struct imap_view *view);
/* The UIDs of the messages with \Deleted (EXPUNGE, CLOSE), into uids_r (room for
 * view->count), ascending; only the chunks whose count says they have one are read. The
 * number, or -1 with *error_r. */
ssize_t imap_view_deleted_uids(struct imap_view *view, uint32_t *uids_r, const char **error_r);
/* A UID set (not "$") as sorted distinct indexes from pool, its chunks loaded (a UID set is
 * never invalid: it names the messages present in it). 0, or -1 with *error_r. */
struct imap_seqset;
struct pool;
int imap_view_resolve_uids(struct imap_view *view, const struct imap_seqset *set,
			   struct pool *pool, uint32_t **idx_r, size_t *count_r,
			   const char **error_r);

/* This session changed a message's flags itself (and reports it itself): take the new state
 * without marking it for an untagged FETCH. */
void imap_view_own_change(struct imap_view *view, const struct store_msg *msg);
/* The same for the message at index i (imap_view_find). */
void imap_view_own_change_at(struct imap_view *view, size_t i, const struct store_msg *msg);

/* Read what changed in the store since the view's MODSEQ (also done by imap_view_flush when
 * the store said so). force: even if the store did not say so (NOOP, IDLE). */
void imap_view_sync(struct imap_view *view, bool force);

/* Append "(\Seen $Label ...)" for a message's flags (with \Recent if flags has
 * IMAP_VIEW_RECENT and the view tracks it). */
int imap_view_flags_append(const struct imap_view *view, struct buf *out, uint8_t flags,
			   uint64_t keywords);
/* The FLAGS list of the mailbox: system flags and every keyword defined. */
int imap_view_mailbox_flags_append(const struct imap_view *view, struct buf *out);
/* The PERMANENTFLAGS list: () when read-only, else the FLAGS list with \* while new keywords
 * can still be defined. */
int imap_view_permanent_flags_append(const struct imap_view *view, struct buf *out);

/* RFC 7162 3.2.5.1 and 3.2.6: append "* VANISHED (EARLIER) uid-set\r\n" to out, naming the
 * UIDs in ranges[0..range_count) (normalized, ascending) above `above` that were expunged
 * after MODSEQ `since` and are no longer in the view (one still in it is reported by the
 * VANISHED without EARLIER that tells this session of its expunge). Nothing when there are
 * none. The store keeps the MODSEQ of every expunge for the mailbox's life, so this is exact.
 * 0, or -1 with *error_r when the store failed. */
struct imap_seq_range;
int imap_view_vanished_earlier(struct imap_view *view, uint64_t since,
			       const struct imap_seq_range *ranges, size_t range_count,
			       uint32_t above, struct buf *out, const char **error_r);

/* Sync if needed, then write the queued untagged responses into out: FLAGS (and
 * PERMANENTFLAGS) if keywords were added, FETCH for changed flags (with MODSEQ when
 * condstore; also for a change of MODSEQ alone then), EXPUNGE or with qresync VANISHED (only
 * if allow_expunge), EXISTS and (IMAP4rev1) RECENT. Returns the number of responses written. */
size_t imap_view_flush(struct imap_view *view, struct buf *out, bool allow_expunge);

#endif
