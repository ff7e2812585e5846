/* imap-thread.h: the THREAD algorithms of RFC 5256 section 3 (ORDEREDSUBJECT and REFERENCES)
 * over the keys the store keeps (store_thread_msg), and the THREAD response's thread-list
 * syntax (RFC 5256 section 5).
 *
 * Messages are given in mailbox order (ascending UIDs, so ascending sequence numbers): that
 * order decides which of two messages with the same Message-ID keeps it, and breaks ties
 * between equal sent dates. Message-IDs are compared after normalisation (quotes and
 * backslash escapes removed, as RFC 5256 requires: <"a"@b> is <a@b>), case-sensitively. All
 * memory comes from the caller's pool: about 100 bytes per message plus the ids. */
#ifndef KURA_IMAP_THREAD_H
#define KURA_IMAP_THREAD_H

#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/pool.h"
#include "store/store-search.h"

enum imap_thread_alg {
	IMAP_THREAD_ORDEREDSUBJECT,
	IMAP_THREAD_REFERENCES,
};

/* Build the threads of msgs[0..count) and append them to out as thread-lists (what follows
 * "THREAD" in the response, with its leading space: " (1 2)(3)"), each message written as
 * numbers[i] (its sequence number or UID). msgs, numbers and pool must stay valid until the
 * end. In slices: imap_thread_step works for about budget_ms (one sort of a sibling list is
 * the biggest step that cannot be cut) and returns 1 when out holds everything, 0 when it
 * must be called again. */
struct imap_thread;
struct imap_thread *imap_thread_begin(enum imap_thread_alg alg,
				      const struct store_thread_msg *msgs, const uint32_t *numbers,
				      size_t count, struct pool *pool);
int imap_thread_step(struct imap_thread *th, unsigned budget_ms, struct buf *out);
void imap_thread_end(struct imap_thread **th);

/* All at once (tests). */
void imap_thread_render(enum imap_thread_alg alg, const struct store_thread_msg *msgs,
			const uint32_t *numbers, size_t count, struct pool *pool, struct buf *out);

#endif
