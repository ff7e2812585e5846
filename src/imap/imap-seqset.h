/* imap-seqset.h: sequence sets (RFC 9051 section 9: sequence-set, seq-range, seq-number) and
 * their resolution against a mailbox view.
 *
 * A parsed set keeps its ranges as given ("*" as IMAP_SEQ_STAR; ranges normalised so that
 * lo <= hi once "*" is known). Resolution turns it into a sorted, de-duplicated list of
 * sequence numbers or UIDs present in the view. "$" (SEARCHRES) is recognised by the parser
 * and reported, so a later stage can substitute the saved result. */
#ifndef KURA_IMAP_SEQSET_H
#define KURA_IMAP_SEQSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/pool.h"

#define IMAP_SEQ_STAR UINT32_MAX

struct imap_seq_range {
	uint32_t lo, hi; /* as given; either may be IMAP_SEQ_STAR */
};

struct imap_seqset {
	struct imap_seq_range *ranges;
	size_t count;
	bool is_saved; /* "$" */
};

/* Parse text (an atom). 0, or -1 with a reason in *error_r. Ranges come from pool; at most
 * max_ranges ranges (LIMIT protection). */
int imap_seqset_parse(const char *text, size_t len, struct pool *pool, size_t max_ranges,
		      struct imap_seqset *set_r, const char **error_r);

/* Resolve against a sorted array of UIDs (the view; sequence number i+1 is uids[i]).
 * by_uid: the numbers are UIDs ("*" is the highest UID; a UID range matches the UIDs present
 * in it, RFC 9051 6.4.9: "*" with an empty mailbox matches nothing); otherwise sequence
 * numbers ("*" is the count; a number beyond the count is an error, *bad_r set).
 * Result: sorted distinct indexes into uids (0-based), from pool; *count_r entries. */
int imap_seqset_resolve(const struct imap_seqset *set, const uint32_t *uids, size_t n,
			bool by_uid, struct pool *pool, uint32_t **idx_r, size_t *count_r,
			bool *bad_r);

/* A compact uid-set ("1:3,7") of sorted values, as a pool string. */
char *imap_seqset_format(struct pool *pool, const uint32_t *values, size_t count);
/* The same appended to b (VANISHED responses, whose sets can be long). 0, or -1 when b's
 * maximum would be passed (b may then hold part of the set). */
int imap_seqset_append(struct buf *b, const uint32_t *values, size_t count);

/* A set of numbers that need not exist in the mailbox (RFC 7162: the UIDs of VANISHED, the
 * known-uids of QRESYNC): the ranges sorted, with "*" replaced by star, each lo <= hi, and
 * overlapping or adjacent ranges merged. From pool; *count_r ranges. */
void imap_seqset_normalize(const struct imap_seqset *set, uint32_t star, struct pool *pool,
			   struct imap_seq_range **ranges_r, size_t *count_r);
/* Is v in the normalized ranges (binary search)? */
bool imap_seqset_ranges_contain(const struct imap_seq_range *ranges, size_t count, uint32_t v);

#endif
