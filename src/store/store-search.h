/* store-search.h: searching one mailbox (RFC 9051 6.4.4, RFC 3501 6.4.4, RFC 5032 WITHIN).
 *
 * The caller (imap/) parses a search program into a tree of store_search_node and turns
 * everything that depends on its view into UID sets first: sequence sets, "$" (SEARCHRES) and
 * \Recent (RECENT, NEW, OLD) become STORE_SEARCH_UIDS nodes. The store evaluates the rest:
 * flags, keywords, sizes, internal, saved and sent dates from the message rows, and the text
 * keys through the search index (store-index.c). Results are UIDs; the caller maps them to
 * sequence numbers and drops those its view does not show yet.
 *
 * Text keys (HEADER, BODY, TEXT, SUBJECT, FROM, TO, CC, BCC) match when the string is a
 * substring of the decoded text, after both are folded the same way (mail/search-fold.h:
 * case, full-width/half-width forms, white space). What each key looks at is defined by
 * mail/search-text.h: HEADER/SUBJECT/FROM/TO/CC/BCC the header fields of the message itself,
 * BODY the text of its parts (with attachment names and the headers of attached messages),
 * TEXT both. An empty string matches every message for BODY and TEXT, and every message that
 * has the field for the others (RFC 9051: "useful ... to test for a header field presence").
 *
 * Dates: BEFORE/ON/SINCE compare the day of the internal date as seen in its own zone (the
 * zone APPEND gave it), SENT* the day of the Date: header in the zone written there (a
 * message without a readable Date: uses its internal date, as RFC 5256 does for SORT), both
 * "disregarding time and timezone" as RFC 9051 says. OLDER/YOUNGER compare the internal date
 * with the time when the search started (RFC 5032: OLDER n is internal date <= now - n,
 * YOUNGER n is internal date >= now - n).
 *
 * A search runs in slices (store_search_run with a time budget) so that a long one never holds
 * the mail process's loop: each slice runs its queries to the end (no statement stays open
 * between slices), so other sessions' changes between slices are seen by later slices.
 * Memory: the program, and one sorted UID array per text key that the index answers (at most
 * the mailbox's message count), nothing per message of the store. */
#ifndef KURA_STORE_STORE_SEARCH_H
#define KURA_STORE_STORE_SEARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

enum store_search_key {
	STORE_SEARCH_ALL,
	STORE_SEARCH_AND,        /* every child matches (no child: ALL) */
	STORE_SEARCH_OR,         /* some child matches */
	STORE_SEARCH_NOT,        /* the one child does not match */
	STORE_SEARCH_UIDS,       /* UID in ranges[0..range_count) */
	STORE_SEARCH_FLAG,       /* the system flag in flag is set (UN...: NOT of it) */
	STORE_SEARCH_KEYWORD,    /* keyword str is set (ASCII case-insensitive; unknown: none) */
	STORE_SEARCH_LARGER,     /* RFC822.SIZE > number */
	STORE_SEARCH_SMALLER,    /* RFC822.SIZE < number */
	STORE_SEARCH_BEFORE,     /* internal date's day < number (days since 1970-01-01) */
	STORE_SEARCH_ON,         /* ... == number */
	STORE_SEARCH_SINCE,      /* ... >= number */
	STORE_SEARCH_SENTBEFORE, /* the same with the Date: header */
	STORE_SEARCH_SENTON,
	STORE_SEARCH_SENTSINCE,
	STORE_SEARCH_OLDER,      /* RFC 5032: number = seconds */
	STORE_SEARCH_YOUNGER,
	/* CONDSTORE (RFC 7162 3.1.5) hook: MODSEQ >= number. The store evaluates it (the modseq
	 * is in every row); parsing "MODSEQ [entry type] n", and the "(MODSEQ n)" the SEARCH and
	 * ESEARCH responses then carry, belong to the CONDSTORE work in imap/. */
	STORE_SEARCH_MODSEQ,
	/* text keys: str is the UTF-8 string (converted from the SEARCH CHARSET) */
	STORE_SEARCH_HEADER,     /* field is the field name */
	STORE_SEARCH_SUBJECT,
	STORE_SEARCH_FROM,
	STORE_SEARCH_TO,
	STORE_SEARCH_CC,
	STORE_SEARCH_BCC,
	STORE_SEARCH_BODY,
	STORE_SEARCH_TEXT,
};

struct store_uid_range {
	uint32_t lo, hi; /* lo <= hi */
};

struct store_search_node {
	enum store_search_key key;
	struct store_search_node *child; /* AND, OR: the first child; NOT: the child */
	struct store_search_node *next;  /* the next sibling */
	uint64_t number;
	uint8_t flag;                    /* enum store_flag */
	const char *str;                 /* KEYWORD, text keys (may hold no NUL) */
	size_t len;
	const char *field;               /* HEADER */
	const struct store_uid_range *ranges; /* UIDS: ascending, disjoint */
	size_t range_count;
};

/* Day number (days since 1970-01-01, proleptic Gregorian) of a calendar date. */
int64_t store_search_day(int year, unsigned month, unsigned day);

struct store_search;

/* Start searching mailbox_id with the program under root (copied: it may go away after this
 * call). 0, or -1 with error_r (INVALID for a malformed program, NOT_FOUND for a missing
 * mailbox). Nothing is read yet. */
int store_search_begin(struct store *store, uint64_t mailbox_id,
		       const struct store_search_node *root, struct store_search **search_r,
		       const char **error_r);
/* Work for about budget_ms milliseconds: cb gets each matching UID, in ascending order, over
 * all calls. Returns 1 when the search is complete, 0 when there is more to do (call again),
 * -1 on error (error_r). A mailbox deleted meanwhile simply yields no more UIDs. */
int store_search_run(struct store_search *search, unsigned budget_ms, store_uid_cb *cb,
		     void *ctx, const char **error_r);
void store_search_end(struct store_search **search);

/* The whole search at once (tests, small programs). */
int store_search(struct store *store, uint64_t mailbox_id, const struct store_search_node *root,
		 store_uid_cb *cb, void *ctx, const char **error_r);

/* --- SORT (RFC 5256, RFC 5957 DISPLAYFROM/DISPLAYTO) ---
 * Strings compare with i;unicode-casemap (RFC 5256 7), an absent field as the empty string
 * (first); DATE is the sent date in UTC (the internal date when there is no readable Date:),
 * ARRIVAL the internal date; messages equal on every criterion keep their UID order (which is
 * their sequence order). */
enum store_sort_key {
	STORE_SORT_ARRIVAL,
	STORE_SORT_CC,
	STORE_SORT_DATE,
	STORE_SORT_FROM,
	STORE_SORT_SIZE,
	STORE_SORT_SUBJECT,
	STORE_SORT_TO,
	STORE_SORT_DISPLAYFROM,
	STORE_SORT_DISPLAYTO,
};

struct store_sort_criterion {
	enum store_sort_key key;
	bool reverse;
};

#define STORE_SORT_CRITERIA_MAX 32

struct store_sort;

/* Start sorting uids[0..count) (ascending UIDs of mailbox_id; copied) by criteria[0..n)
 * (copied). 0, or -1 with error_r. */
int store_sort_begin(struct store *store, uint64_t mailbox_id,
		     const struct store_sort_criterion *criteria, size_t n, const uint32_t *uids,
		     size_t count, struct store_sort **sort_r, const char **error_r);
/* Work for about budget_ms (reading the keys is sliced; the final sort of the keys in memory
 * is one step). 1 done: *uids_r holds the sorted UIDs (owned by the sort, valid until
 * store_sort_end; UIDs expunged meanwhile are left out) and *count_r their number; 0 call
 * again; -1 error. */
int store_sort_run(struct store_sort *sort, unsigned budget_ms, const uint32_t **uids_r,
		   size_t *count_r, const char **error_r);
void store_sort_end(struct store_sort **sort);

/* --- THREAD (RFC 5256 3): the keys threading needs, for the messages found --- */
struct store_thread_str {
	const unsigned char *p;
	size_t len;
};
struct store_thread_msg {
	uint32_t uid;
	int64_t date;                          /* sent date in UTC (else the internal date) */
	struct store_thread_str subject;       /* base subject, i;unicode-casemap canonical */
	bool reply;                            /* the subject was a reply or forward */
	struct store_thread_str message_id;    /* "<...>" or empty */
	struct store_thread_str references;    /* "<a> <b> ...", oldest first, or empty */
};
/* Read them for uids[0..count) (ascending; copied) in slices, like store_sort_*: run gives
 * the messages in UID order (those expunged meanwhile left out), valid until store_sort_end. */
int store_thread_begin(struct store *store, uint64_t mailbox_id, const uint32_t *uids,
		       size_t count, struct store_sort **reader_r, const char **error_r);
int store_thread_run(struct store_sort *reader, unsigned budget_ms,
		     const struct store_thread_msg **msgs_r, size_t *count_r, const char **error_r);

/* --- the index --- */

/* Rebuild the search index of the whole store (kura check --reindex): drop it, then index every
 * body again, in batches (one transaction each; searches meanwhile see a partial index).
 * report (may be NULL) hears progress; *count_r is the number of bodies indexed. */
int store_search_reindex(struct store *store, store_report_cb *report, void *ctx,
			 unsigned *count_r, const char **error_r);

#endif
