/* imap-view.h: a selected mailbox as one session sees it (RFC 9051 sections 5.2, 7.4.1, 7.5).
 *
 * The view holds the sequence -> UID map with each message's flags, keywords and MODSEQ, so
 * FETCH FLAGS and sequence-set resolution never touch the database. Changes committed through
 * the user's store (by this session or another session of the same user) arrive through a
 * store listener and are queued: flag changes are applied at once and reported as untagged
 * FETCH at the next flush; new messages and expunges change the sequence numbers only when
 * they are reported (EXISTS / EXPUNGE), and expunges only at the points RFC 9051 7.4.1 allows
 * (never while a FETCH, STORE or SEARCH by sequence number runs). */
#ifndef KURA_IMAP_VIEW_H
#define KURA_IMAP_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/buf.h"
#include "store/store.h"

/* In flags[]: the message is \Recent for this session (IMAP4rev1 only; never stored). */
#define IMAP_VIEW_RECENT 0x80

struct imap_view {
	struct store *store;
	struct store_mailbox mb; /* uidvalidity, keywords ... (refreshed on keyword changes) */
	bool readonly;           /* EXAMINE */
	bool track_recent;       /* IMAP4rev1 session: \Recent, RECENT responses */
	size_t recent_count;     /* messages with IMAP_VIEW_RECENT */

	size_t count, alloc;
	uint32_t *uids;
	uint8_t *flags;
	uint64_t *keywords;
	uint64_t *modseqs;
	uint8_t *dirty; /* flags changed by someone else, not reported yet */
	size_t dirty_count;

	/* queued, not yet visible in the sequence numbers */
	struct store_msg *pending_new;
	size_t pending_new_count, pending_new_alloc;
	uint32_t *pending_expunged;
	size_t pending_expunged_count, pending_expunged_alloc;

	bool keywords_changed; /* new keyword defined: send FLAGS again */
	bool quiet;            /* this session's own STORE reports its FETCHes itself */
	struct store_listener listener;
};

/* Load the mailbox's messages and start listening. track_recent (IMAP4rev1): a read-write
 * view claims the unclaimed messages as its \Recent ones (store_recent_claim), on open and
 * whenever it announces new messages; a read-only view shows the unclaimed ones as \Recent
 * without claiming them. 0 or -1 (error_r). */
int imap_view_open(struct imap_view *view, struct store *store, const struct store_mailbox *mb,
		   bool readonly, bool track_recent, const char **error_r);
void imap_view_close(struct imap_view *view);

/* Index of uid, or -1. */
ssize_t imap_view_find(const struct imap_view *view, uint32_t uid);

/* Append "(\Seen $Label ...)" for a message's flags (with \Recent if flags has
 * IMAP_VIEW_RECENT and the view tracks it). */
int imap_view_flags_append(const struct imap_view *view, struct buf *out, uint8_t flags,
			   uint64_t keywords);
/* The FLAGS list of the mailbox: system flags and every keyword defined. */
int imap_view_mailbox_flags_append(const struct imap_view *view, struct buf *out);

/* Write the queued untagged responses into out: FLAGS if keywords were added, FETCH for
 * changed flags, EXPUNGE (only if allow_expunge), EXISTS and (IMAP4rev1) RECENT. Returns the number of responses
 * written. */
size_t imap_view_flush(struct imap_view *view, struct buf *out, bool allow_expunge);

#endif
