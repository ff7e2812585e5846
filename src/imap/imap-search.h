/* imap-search.h: the arguments of SEARCH and UID SEARCH (RFC 9051 6.4.4 and section 9
 * search-program / search-return-opts; RFC 3501 6.4.4; RFC 4731 ESEARCH; RFC 5182 SEARCHRES
 * "$"; RFC 5032 WITHIN) parsed into the store's search program (store/store-search.h), and
 * those of SORT (RFC 5256, RFC 5267 ESORT, RFC 5957) and THREAD (RFC 5256).
 *
 * What depends on the session's view is left as references to resolve against it just before
 * the search runs (imap_search_resolve): sequence sets, UID sets (their "*"), "$" and \Recent
 * (RECENT, NEW = RECENT UNSEEN, OLD = NOT RECENT; RFC 3501 keys that RFC 9051 dropped, accepted
 * from both revisions: an IMAP4rev2 view has no recent messages). Each becomes a
 * STORE_SEARCH_UIDS node.
 *
 * Strings are converted from the CHARSET to UTF-8 while parsing. Supported: UTF-8 and
 * US-ASCII (RFC 9051 requires both; no CHARSET means UTF-8), ISO-2022-JP, Shift_JIS and EUC-JP
 * (through mail/charset.h, so with the CP932 / CP50220 supersets), with their IANA aliases.
 * Anything else is NO [BADCHARSET (list)].
 *
 * Limits (an answer, never unbounded work): at most IMAP_SEARCH_KEYS_MAX keys, nesting of NOT,
 * OR and parentheses at most IMAP_SEARCH_DEPTH_MAX, strings at most IMAP_SEARCH_STRING_MAX
 * bytes after conversion: NO [LIMIT]. Sequence sets at most IMAP_SEARCH_RANGES_MAX ranges.
 * Syntax errors are BAD (RFC 9051: an unknown RETURN option too).
 *
 * Leniency, deliberate: keys and month names are case-insensitive (ABNF strings are);
 * a sequence number beyond the mailbox matches nothing (FETCH answers BAD for that; a search
 * only asks). */
#ifndef KURA_IMAP_SEARCH_H
#define KURA_IMAP_SEARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/imap-parser.h"
#include "imap/imap-seqset.h"
#include "imap/imap-thread.h"
#include "lib/pool.h"
#include "store/store-search.h"

#define IMAP_SEARCH_KEYS_MAX 2000
#define IMAP_SEARCH_DEPTH_MAX 100
#define IMAP_SEARCH_STRING_MAX 4096
#define IMAP_SEARCH_RANGES_MAX 10000

/* RETURN options (RFC 4731, RFC 5182) */
#define IMAP_SEARCH_RET_MIN 0x01
#define IMAP_SEARCH_RET_MAX 0x02
#define IMAP_SEARCH_RET_ALL 0x04
#define IMAP_SEARCH_RET_COUNT 0x08
#define IMAP_SEARCH_RET_SAVE 0x10

/* The charsets of BADCHARSET, as they are listed. */
#define IMAP_SEARCH_CHARSETS "UTF-8 US-ASCII ISO-2022-JP Shift_JIS EUC-JP"

enum imap_search_ref_kind {
	IMAP_SEARCH_REF_SEQSET, /* a sequence set of message numbers */
	IMAP_SEARCH_REF_UIDSET, /* UID sequence-set */
	IMAP_SEARCH_REF_SAVED,  /* "$", as a sequence set or after UID */
	IMAP_SEARCH_REF_RECENT, /* \Recent */
};

struct imap_search_ref {
	enum imap_search_ref_kind kind;
	struct store_search_node *node; /* the STORE_SEARCH_UIDS node to fill */
	struct imap_seqset set;
};

struct imap_search_query {
	bool has_return;       /* RETURN was given: ESEARCH even for IMAP4rev1 */
	unsigned ret;          /* IMAP_SEARCH_RET_*; RETURN () means ALL */
	const char *charset;   /* as given, or NULL */
	struct store_search_node *root;
	struct imap_search_ref *refs;
	size_t ref_count;
	size_t key_count;
	bool has_modseq;       /* a MODSEQ key (RFC 7162 3.1.5): the answer carries MODSEQ */
};

#define IMAP_SEARCH_FLAG_CONDSTORE 0x1 /* accept the MODSEQ key (RFC 7162) */

/* Parse the arguments after SEARCH (after UID SEARCH). 0 on success; -1 with *resp_r "BAD"
 * or "NO", *code_r the response code without brackets (or NULL) and *error_r the text. All
 * memory from pool. */
int imap_search_parse(const struct imap_arg *args, size_t count, unsigned flags,
		      struct pool *pool, struct imap_search_query *q_r, const char **resp_r,
		      const char **code_r, const char **error_r);

/* SORT and UID SORT (RFC 5256, with RFC 5267 ESORT's RETURN and RFC 5957 DISPLAYFROM /
 * DISPLAYTO): [RETURN (...)] (criteria) charset search-keys. Same conventions. */
struct imap_sort_query {
	struct imap_search_query search;
	struct store_sort_criterion *criteria;
	size_t count;
};
int imap_sort_parse(const struct imap_arg *args, size_t count, unsigned flags, struct pool *pool,
		    struct imap_sort_query *q_r, const char **resp_r, const char **code_r,
		    const char **error_r);

/* THREAD and UID THREAD (RFC 5256): algorithm charset search-keys. Same conventions. */
struct imap_thread_query {
	struct imap_search_query search;
	enum imap_thread_alg alg;
};
int imap_thread_parse(const struct imap_arg *args, size_t count, unsigned flags,
		      struct pool *pool, struct imap_thread_query *q_r, const char **resp_r,
		      const char **code_r, const char **error_r);

/* Turn every reference into UID ranges: view_uids[0..view_count) is the session's view
 * (ascending; sequence number i+1 is view_uids[i]), message i is \Recent to the session when
 * view_flags[i] & recent_mask (view_flags may be NULL: none is), saved[0..saved_count) is the
 * SEARCHRES result (ascending UIDs). */
void imap_search_resolve(struct imap_search_query *q, const uint32_t *view_uids,
			 const uint8_t *view_flags, uint8_t recent_mask, size_t view_count,
			 const uint32_t *saved, size_t saved_count, struct pool *pool);

/* RFC 4731 3.2 (and RFC 7162 3.1.10): the MODSEQ of an ESEARCH answer covers only the MIN
 * and/or MAX messages when those alone were asked (no ALL, no COUNT); otherwise, and for a
 * plain SEARCH or SORT answer (RFC 7162 3.1.6, 3.1.9), every message returned. */
bool imap_search_modseq_all(bool esearch, unsigned ret);

/* The program in a readable canonical form, for tests and logs: "(AND (FLAG 1) (NOT ...))".
 * From pool. */
const char *imap_search_describe(const struct store_search_node *n, struct pool *pool);

#endif
