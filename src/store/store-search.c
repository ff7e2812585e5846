/* store-search.c: evaluating a search program over one mailbox (store-search.h).
 *
 * A search runs in two phases, both in slices of a time budget:
 *  1. prepare: every text key the index can answer becomes a sorted set of the mailbox's UIDs
 *     (FTS5 joined with the message table, so the set never holds another mailbox's
 *     messages; each query runs over windows of body ids sized to take a few milliseconds).
 *     Strings of 3+ characters are one trigram phrase query. Shorter ones (会議, a single
 *     letter) cannot be trigram queries: every character of indexed text is followed by two
 *     more (search-text.h), so a 1-2 character string occurs exactly where one of the
 *     trigrams starting with it does; those trigrams come from the vocabulary (search_vocab,
 *     listed in slices) and are queried in batches of OR. When there are too many of them,
 *     or listing them takes too long (a common letter), the key is instead checked message
 *     by message against the stored text ("scan"), which DESIGN.md allows for short queries.
 *  2. match: messages are visited in UID order, either all of the mailbox (restricted to the
 *     UID range a top-level UID set allows) or, when a top-level text key's set is small,
 *     just the UIDs of that set; each message's row is read and the whole program evaluated,
 *     cheap keys first (children of AND/OR are ordered by cost: row data, then set lookups,
 *     then reads of stored text). Flags, keywords and MODSEQ are not in the rows (schema 6):
 *     the mailbox's packed state (store-state.c) is read into an array of the UID window when
 *     matching starts, and before every later slice the entries changed since (the chunks
 *     whose max_modseq is above the highest MODSEQ in the array) are read again, so each
 *     slice evaluates the flags as committed when it starts, as reading them from the rows
 *     did. A row without an entry (appended after that read, within the slice) is skipped:
 *     the session's view cannot show it yet (cmd-search.c drops such UIDs anyway).
 * HEADER with a value is a set of candidates (the string is in some header field) checked
 * against the stored header lines of each candidate (the field must be the one named).
 * Traps: no statement stays open between slices (each query runs to its end, each page of
 * rows is a fresh query from the last UID seen): an open read statement would pin the WAL
 * snapshot and interleave with other sessions' transactions on the same connection. */
#include "store/store-search.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "lib/buf.h"
#include "lib/pool.h"
#include "lib/xmalloc.h"
#include "mail/search-fold.h"
#include "mail/search-text.h"
#include "store/store-private.h"

#define SS_PAGE 256                /* message rows per query */
#define SS_TERMS_MAX 2000          /* short strings: trigrams beyond this: scan instead */
#define SS_LIST_MAX_MS 200         /* ... or when listing them takes longer than this */
#define SS_TERMS_BATCH 16          /* trigrams OR'ed in one query */
#define SS_DEPTH_MAX 1000
#define SS_CLOCK_EVERY 32          /* rows between looks at the clock */
#define SS_GC_ROWS 32              /* index rows of dropped bodies deleted per search */

enum ss_cost { SS_COST_ROW, SS_COST_SET, SS_COST_TEXT };

enum ss_mode {
	SS_MODE_NONE, /* not a text key */
	SS_MODE_ALL,  /* empty BODY/TEXT string */
	SS_MODE_SET,  /* membership in set (with verify: and a check of the stored header) */
	SS_MODE_SCAN, /* check the stored text of each message */
};

/* bits of the FTS columns, in the order of mail/search-text.h */
static const char *const ss_col_names[SEARCH_COL_COUNT] = {
	"hdr", "subject", "h_from", "h_to", "h_cc", "h_bcc", "body",
};

struct ss_node {
	enum store_search_key key;
	struct ss_node *child, *next;
	enum ss_cost cost;
	uint64_t number;
	uint8_t flag;
	bool kw_known;
	uint64_t kwmask;
	struct store_uid_range *ranges;
	size_t range_count;

	/* text keys */
	enum ss_mode mode;
	unsigned cols;          /* 1 << enum search_text_column */
	char *needle;           /* folded */
	size_t needle_len;
	char *field;            /* HEADER: "\n" folded-name ":" (what a header line starts with) */
	size_t field_len;
	bool verify;            /* HEADER with a value */
	bool presence;          /* the index is asked for the field, not the string */
	bool prepared;
	uint32_t *set;
	size_t set_count, set_alloc;
	char **terms;           /* short strings: the trigrams still to query */
	size_t term_count, term_alloc, term_pos;
	bool terms_listed;
	uint64_t list_us;       /* time spent listing them so far */
	char *expr;             /* the FTS5 query under way (over windows of body ids) */
	int64_t expr_lo;        /* the next window starts here */
	bool expr_final;        /* the key is prepared when this query is done */
};

struct ss_row {
	uint32_t uid;
	int64_t body_id;
	uint8_t flags;
	uint64_t keywords;
	uint64_t modseq;
	uint64_t size;
	int64_t internal_date;
	int internal_tz;
	int64_t saved_date;
	bool have_sent;
	int64_t sent_date;
	int sent_tz;
	/* stored text of the body, read on demand */
	bool loaded[SEARCH_COL_COUNT];
	struct buf text[SEARCH_COL_COUNT];
};

struct store_search {
	struct store *store;
	uint64_t mailbox_id;
	struct pool *pool;
	struct ss_node *root;
	time_t now;
	bool need_sent;
	uint32_t mailbox_messages;
	int64_t max_body;       /* the highest body id when the search began */
	int64_t window;         /* body ids per index query (adapts to the query's cost) */

	/* phase 0: the mailbox's bodies not indexed yet (appended since) are indexed first */
	bool caught_up;

	/* phase 2 */
	bool matching;
	bool done;
	uint32_t lo, hi;        /* UID window */
	struct ss_node *driver; /* iterate this node's set, or NULL: the whole window */
	size_t driver_pos;
	uint32_t next_uid;      /* the next UID to consider (whole-window walk) */

	sqlite3_stmt *rows;     /* message rows [lo, hi], LIMIT */
	sqlite3_stmt *text[SEARCH_COL_COUNT];
	sqlite3_stmt *match;    /* FTS query joined with the mailbox */
	sqlite3_stmt *vocab;
	struct ss_row row;
	struct ss_row *page;    /* SS_PAGE rows copied out of a query */
	struct store_msg *state; /* the packed state of UIDs [lo, hi], ascending (store-state.c) */
	size_t state_count, state_alloc, state_pos;
	bool state_loaded;
	uint64_t state_modseq;  /* the highest MODSEQ in state: later changes are above it */
	struct timespec deadline;
};

/* ---- dates ---- */

int64_t store_search_day(int year, unsigned month, unsigned day)
{
	/* days from civil (H. Hinnant): valid for every proleptic Gregorian date */
	int64_t y = (int64_t)year - (month <= 2);
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t mp = (int64_t)month > 2 ? (int64_t)month - 3 : (int64_t)month + 9;
	int64_t doy = (153 * mp + 2) / 5 + (int64_t)day - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int64_t ss_day(int64_t t, int tz_minutes)
{
	int64_t local = t + (int64_t)tz_minutes * 60;
	int64_t q = local / 86400;
	if (local % 86400 != 0 && local < 0)
		q--;
	return q;
}

/* ---- compiling the program ---- */

static int ss_column_of(enum store_search_key key)
{
	switch (key) {
	case STORE_SEARCH_SUBJECT: return SEARCH_COL_SUBJECT;
	case STORE_SEARCH_FROM: return SEARCH_COL_FROM;
	case STORE_SEARCH_TO: return SEARCH_COL_TO;
	case STORE_SEARCH_CC: return SEARCH_COL_CC;
	case STORE_SEARCH_BCC: return SEARCH_COL_BCC;
	default: return -1;
	}
}

static bool ss_is_text(enum store_search_key key)
{
	return key >= STORE_SEARCH_HEADER && key <= STORE_SEARCH_TEXT;
}

static char *ss_fold(struct pool *pool, const char *s, size_t len, size_t *len_r)
{
	struct buf b;
	buf_init(&b, (size_t)-2);
	search_fold(&b, s, len);
	char *r = pool_memdup(pool, b.data != NULL ? (const char *)b.data : "", b.len);
	*len_r = b.len;
	buf_free(&b);
	return r;
}

/* HEADER's field name as the start of a stored header line: "\nname:" */
static void ss_set_field(struct store_search *s, struct ss_node *n, const char *name,
			 size_t len)
{
	size_t flen;
	char *folded = ss_fold(s->pool, name, len, &flen);
	n->field = pool_alloc(s->pool, flen + 3);
	n->field[0] = '\n';
	memcpy(n->field + 1, folded, flen);
	n->field[flen + 1] = ':';
	n->field_len = flen + 2;
}

static int ss_compile_text(struct store_search *s, struct ss_node *n,
			   const struct store_search_node *src)
{
	if (src->str == NULL && src->len > 0)
		return -1;
	n->needle = ss_fold(s->pool, src->str != NULL ? src->str : "", src->len, &n->needle_len);
	enum store_search_key key = src->key;
	int col = ss_column_of(key);
	if (key == STORE_SEARCH_HEADER) {
		static const struct {
			const char *name;
			enum store_search_key key;
		} known[] = {
			{"subject", STORE_SEARCH_SUBJECT}, {"from", STORE_SEARCH_FROM},
			{"to", STORE_SEARCH_TO},           {"cc", STORE_SEARCH_CC},
			{"bcc", STORE_SEARCH_BCC},
		};
		if (src->field == NULL)
			return -1;
		/* HEADER of a field that has its own column is that column's key */
		for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
			if (strcasecmp(src->field, known[i].name) == 0) {
				key = known[i].key;
				col = ss_column_of(key);
			}
		}
		ss_set_field(s, n, src->field, strlen(src->field));
	} else if (col >= 0) {
		ss_set_field(s, n, ss_col_names[col] + (col == SEARCH_COL_SUBJECT ? 0 : 2),
			     strlen(ss_col_names[col] + (col == SEARCH_COL_SUBJECT ? 0 : 2)));
	}
	n->key = key;
	if (n->needle_len == 0) {
		if (key == STORE_SEARCH_BODY || key == STORE_SEARCH_TEXT) {
			n->mode = SS_MODE_ALL;
			n->prepared = true;
			n->cost = SS_COST_ROW;
			return 0;
		}
		/* RFC 9051: the empty string tests for the field's presence */
		n->cols = 1u << SEARCH_COL_HDR;
		n->needle = n->field;
		n->needle_len = n->field_len;
	} else if (key == STORE_SEARCH_HEADER) {
		n->cols = 1u << SEARCH_COL_HDR;
		n->verify = true;
	} else if (key == STORE_SEARCH_BODY) {
		n->cols = 1u << SEARCH_COL_BODY;
	} else if (key == STORE_SEARCH_TEXT) {
		n->cols = (1u << SEARCH_COL_HDR) | (1u << SEARCH_COL_BODY);
	} else {
		n->cols = 1u << col;
	}
	n->mode = SS_MODE_SET;
	n->cost = n->verify ? SS_COST_TEXT : SS_COST_SET;
	return 0;
}

/* Children ordered by cost (stable), so AND and OR stop at the cheapest decisive child. */
static void ss_order_children(struct ss_node *n)
{
	struct ss_node *sorted = NULL, **tail;
	enum ss_cost max = SS_COST_ROW;
	for (int c = SS_COST_ROW; c <= SS_COST_TEXT; c++) {
		tail = &sorted;
		while (*tail != NULL)
			tail = &(*tail)->next;
		struct ss_node **pp = &n->child;
		while (*pp != NULL) {
			struct ss_node *k = *pp;
			if ((int)k->cost == c) {
				*pp = k->next;
				k->next = NULL;
				*tail = k;
				tail = &k->next;
				if (k->cost > max)
					max = k->cost;
			} else {
				pp = &k->next;
			}
		}
	}
	n->child = sorted;
	n->cost = max;
}

static struct ss_node *ss_compile(struct store_search *s, const struct store_mailbox *mb,
				  const struct store_search_node *src, unsigned depth)
{
	if (src == NULL || depth > SS_DEPTH_MAX)
		return NULL;
	struct ss_node *n = pool_alloc(s->pool, sizeof(*n));
	n->key = src->key;
	n->number = src->number;
	n->flag = src->flag;
	n->cost = SS_COST_ROW;
	n->prepared = true;
	switch (src->key) {
	case STORE_SEARCH_ALL:
	case STORE_SEARCH_LARGER:
	case STORE_SEARCH_SMALLER:
	case STORE_SEARCH_BEFORE:
	case STORE_SEARCH_ON:
	case STORE_SEARCH_SINCE:
	case STORE_SEARCH_OLDER:
	case STORE_SEARCH_YOUNGER:
	case STORE_SEARCH_MODSEQ:
		break;
	case STORE_SEARCH_SENTBEFORE:
	case STORE_SEARCH_SENTON:
	case STORE_SEARCH_SENTSINCE:
		s->need_sent = true;
		break;
	case STORE_SEARCH_FLAG:
		if (src->flag == 0)
			return NULL;
		break;
	case STORE_SEARCH_KEYWORD: {
		if (src->str == NULL)
			return NULL;
		int i = store_keyword_index((struct store_mailbox *)mb, src->str, false);
		n->kw_known = i >= 0;
		n->kwmask = i >= 0 ? (uint64_t)1 << i : 0;
		break;
	}
	case STORE_SEARCH_UIDS:
		if (src->range_count > 0 && src->ranges == NULL)
			return NULL;
		n->range_count = src->range_count;
		n->ranges = pool_alloc_array(s->pool, src->range_count ? src->range_count : 1,
					     sizeof(*n->ranges));
		for (size_t i = 0; i < src->range_count; i++) {
			if (src->ranges[i].lo > src->ranges[i].hi ||
			    (i > 0 && src->ranges[i].lo <= src->ranges[i - 1].hi))
				return NULL;
			n->ranges[i] = src->ranges[i];
		}
		break;
	case STORE_SEARCH_AND:
	case STORE_SEARCH_OR:
	case STORE_SEARCH_NOT: {
		struct ss_node **tail = &n->child;
		unsigned count = 0;
		for (const struct store_search_node *c = src->child; c != NULL; c = c->next) {
			struct ss_node *k = ss_compile(s, mb, c, depth + 1);
			if (k == NULL)
				return NULL;
			*tail = k;
			tail = &k->next;
			count++;
		}
		if ((src->key == STORE_SEARCH_NOT && count != 1) ||
		    (src->key == STORE_SEARCH_OR && count == 0))
			return NULL;
		ss_order_children(n);
		break;
	}
	default:
		if (!ss_is_text(src->key) || ss_compile_text(s, n, src) < 0)
			return NULL;
		n->prepared = n->mode != SS_MODE_SET;
		break;
	}
	return n;
}

/* ---- the clock ---- */

static void ss_deadline_set(struct store_search *s, unsigned budget_ms)
{
	clock_gettime(CLOCK_MONOTONIC, &s->deadline);
	s->deadline.tv_sec += budget_ms / 1000;
	s->deadline.tv_nsec += (long)(budget_ms % 1000) * 1000000L;
	if (s->deadline.tv_nsec >= 1000000000L) {
		s->deadline.tv_sec++;
		s->deadline.tv_nsec -= 1000000000L;
	}
}

static bool ss_expired(const struct store_search *s)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > s->deadline.tv_sec ||
	       (now.tv_sec == s->deadline.tv_sec && now.tv_nsec >= s->deadline.tv_nsec);
}

/* ---- phase 0: catching up with the appends ---- */

/* Index the bodies of this mailbox that were appended unindexed (store-index.c), up to the
 * highest body id when the search began: a message appended later is not in the session's
 * view yet. Each call works until the slice's deadline (at least one body), in its own
 * transactions; 1 done, 2 done with nothing to do, 0 more to do, -1 error (recorded).
 * Then up to SS_GC_ROWS of the index rows of dropped bodies are deleted (store_index_gc),
 * within the slice. The answer does not need it: such a row's rowid is no body's id, and
 * the index is only ever joined through message.body_id (a body that exists) or read by a
 * message's body id, so it matches nothing (store-db.c, version 8). It is done here so that
 * the rows go even in a process that is never idle, a few per search, not all at once. */
static int ss_catch_up(struct store_search *s)
{
	if (s->max_body == 0)
		return 1;
	uint64_t deadline_us = (uint64_t)s->deadline.tv_sec * 1000000u +
			       (uint64_t)s->deadline.tv_nsec / 1000u;
	struct store_index_scope sc = {
		.mailbox_id = s->mailbox_id,
		.max_id = s->max_body,
		.deadline_us = deadline_us,
	};
	unsigned count, deleted;
	int r = store_index_run(s->store, &sc, &count);
	if (r < 0)
		return -1;
	if (r > 0)
		return 0;
	if (store_index_gc(s->store, SS_GC_ROWS, deadline_us, &deleted) < 0)
		return -1;
	/* nothing was waiting (the common case: two index lookups): the slice goes on */
	return count == 0 && deleted == 0 ? 2 : 1;
}

/* ---- phase 1: sets from the index ---- */

static int ss_prepare_stmt(struct store_search *s, sqlite3_stmt **stmt, const char *sql)
{
	if (*stmt != NULL)
		return 0;
	if (sqlite3_prepare_v3(s->store->db, sql, -1, SQLITE_PREPARE_PERSISTENT, stmt, NULL) !=
	    SQLITE_OK) {
		*stmt = NULL;
		return store_fail_sql(s->store, NULL, "preparing a search");
	}
	return 0;
}

static void ss_set_add(struct ss_node *n, uint32_t uid)
{
	if (n->set_count == n->set_alloc) {
		size_t a = n->set_alloc ? n->set_alloc * 2 : 64, bytes;
		if (size_mul(a, sizeof(uint32_t), &bytes) < 0)
			xabort("search set overflow");
		n->set = xrealloc(n->set, bytes);
		n->set_alloc = a;
	}
	n->set[n->set_count++] = uid;
}

static int ss_uid_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static void ss_set_finish(struct ss_node *n)
{
	if (n->set_count == 0)
		return;
	qsort(n->set, n->set_count, sizeof(uint32_t), ss_uid_cmp);
	size_t w = 1;
	for (size_t i = 1; i < n->set_count; i++) {
		if (n->set[i] != n->set[w - 1])
			n->set[w++] = n->set[i];
	}
	n->set_count = w;
}

/* "{col col} : " before an FTS5 expression */
static void ss_expr_columns(struct buf *b, unsigned cols)
{
	buf_append_byte(b, '{');
	bool first = true;
	for (unsigned i = 0; i < SEARCH_COL_COUNT; i++) {
		if ((cols & (1u << i)) == 0)
			continue;
		if (!first)
			buf_append_byte(b, ' ');
		buf_append_str(b, ss_col_names[i]);
		first = false;
	}
	buf_append_str(b, "} : ");
}

/* An FTS5 string: the text in double quotes, quotes doubled. */
static void ss_expr_string(struct buf *b, const char *s, size_t len)
{
	buf_append_byte(b, '"');
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '"')
			buf_append_byte(b, '"');
		buf_append_byte(b, (unsigned char)s[i]);
	}
	buf_append_byte(b, '"');
}

static uint64_t ss_now_us(void);

/* Run n's query over the next window of body ids, adding the mailbox's UIDs it finds to n's
 * set. A query for a common string reads doclists spanning the whole index; cut by rowid,
 * each window reads only its part (FTS5 seeks doclists by rowid), so no single call holds
 * the loop for long. 1 the query is done, 0 more windows, -1 error. */
static int ss_match_window(struct store_search *s, struct ss_node *n)
{
	/* CROSS JOIN keeps the index as the outer loop (each hit, then its messages through
	 * message_body); left to itself the planner walks the mailbox and runs the MATCH once
	 * per message */
	if (ss_prepare_stmt(s, &s->match,
			    "SELECT m.uid FROM search_text f CROSS JOIN message m"
			    " ON m.body_id = f.rowid"
			    " WHERE f.search_text MATCH ?1 AND f.rowid >= ?3 AND f.rowid < ?4"
			    " AND m.mailbox_id = ?2") < 0)
		return -1;
	int64_t lo = n->expr_lo, hi = lo + s->window;
	sqlite3_bind_text(s->match, 1, n->expr, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s->match, 2, (sqlite3_int64)s->mailbox_id);
	sqlite3_bind_int64(s->match, 3, lo);
	sqlite3_bind_int64(s->match, 4, hi);
	uint64_t t0 = ss_now_us();
	int r;
	while ((r = sqlite3_step(s->match)) == SQLITE_ROW)
		ss_set_add(n, (uint32_t)sqlite3_column_int64(s->match, 0));
	sqlite3_reset(s->match);
	sqlite3_clear_bindings(s->match);
	if (r != SQLITE_DONE)
		return store_fail_sql(s->store, NULL, "searching the index");
	uint64_t dt = ss_now_us() - t0;
	/* aim at a few milliseconds per window */
	if (dt > 6000 && s->window > 512)
		s->window /= 2;
	else if (dt < 1500 && s->window < ((int64_t)1 << 24))
		s->window *= 2;
	n->expr_lo = hi;
	return hi > s->max_body ? 1 : 0;
}

/* Start n's next query: expr is taken over. */
static void ss_expr_start(struct ss_node *n, struct buf *expr, bool final)
{
	buf_append_byte(expr, '\0');
	n->expr = (char *)expr->data;
	expr->data = NULL;
	expr->len = expr->alloc = 0;
	n->expr_lo = 0;
	n->expr_final = final;
}

static uint64_t ss_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* The trigrams starting with a 1-2 character string q, listed in slices: reading the
 * vocabulary costs the doclists of the terms read (fts5vocab counts their documents), which
 * for a common letter is most of the index, so the listing stops at the slice's end and
 * resumes after the last term, and gives up (0) past SS_TERMS_MAX terms or SS_LIST_MAX_MS.
 * 1 listed, 2 paused, 0 given up, -1 error. */
static int ss_list_terms(struct store_search *s, struct ss_node *n, const char *q, size_t qlen)
{
	/* no term equals q (terms have 3 characters, q 1 or 2), so ">" works for the start too */
	if (ss_prepare_stmt(s, &s->vocab, "SELECT term FROM search_vocab WHERE term > ?1") < 0)
		return -1;
	const char *from = n->term_count > 0 ? n->terms[n->term_count - 1] : q;
	sqlite3_bind_text(s->vocab, 1, from, n->term_count > 0 ? -1 : (int)qlen, SQLITE_TRANSIENT);
	uint64_t start = ss_now_us();
	int r, ret = 1;
	while ((r = sqlite3_step(s->vocab)) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(s->vocab, 0);
		size_t len = (size_t)sqlite3_column_bytes(s->vocab, 0);
		if (t == NULL || len < qlen || memcmp(t, q, qlen) != 0)
			break; /* past the prefix (terms come in byte order) */
		if (n->term_count == SS_TERMS_MAX) {
			ret = 0;
			break;
		}
		if (n->term_count == n->term_alloc) {
			n->term_alloc = n->term_alloc ? n->term_alloc * 2 : 64;
			n->terms = xrealloc(n->terms, n->term_alloc * sizeof(*n->terms));
		}
		n->terms[n->term_count++] = xstrndup(t, len);
		if (ss_expired(s)) {
			ret = 2;
			break;
		}
	}
	sqlite3_reset(s->vocab);
	sqlite3_clear_bindings(s->vocab);
	if (r != SQLITE_ROW && r != SQLITE_DONE)
		return store_fail_sql(s->store, NULL, "reading the index vocabulary");
	n->list_us += ss_now_us() - start;
	if (ret == 2 && n->list_us > SS_LIST_MAX_MS * 1000u)
		ret = 0;
	if (ret == 1)
		n->terms_listed = true;
	return ret;
}

static void ss_terms_free(struct ss_node *n)
{
	for (size_t i = 0; i < n->term_count; i++)
		free(n->terms[i]);
	free(n->terms);
	n->terms = NULL;
	n->term_count = n->term_alloc = n->term_pos = 0;
	n->list_us = 0;
}

/* One step of preparing a text key: one window of one query, or one slice of listing. 0, or
 * -1 on error. */
static int ss_prepare_step(struct store_search *s, struct ss_node *n)
{
	/* what the index is asked for: the string, or (HEADER with a short string too common
	 * for the vocabulary) the field's presence, every candidate then checked */
	const char *q = n->presence ? n->field : n->needle;
	size_t qlen = n->presence ? n->field_len : n->needle_len;
	struct buf expr;
	buf_init(&expr, (size_t)-2);
	int ret = 0;
	if (n->expr == NULL) {
		if (search_fold_chars(q, qlen) >= 3) {
			ss_expr_columns(&expr, n->cols);
			ss_expr_string(&expr, q, qlen);
			ss_expr_start(n, &expr, true);
		} else if (!n->terms_listed) {
			int r = ss_list_terms(s, n, q, qlen);
			if (r < 0) {
				ret = -1;
			} else if (r == 0) {
				/* too many trigrams (a common letter): cheaper to read the text */
				ss_terms_free(n);
				n->terms_listed = false;
				if (n->verify && !n->presence) {
					n->presence = true;
				} else {
					n->mode = SS_MODE_SCAN;
					n->prepared = true;
				}
			}
		} else if (n->term_pos < n->term_count) {
			ss_expr_columns(&expr, n->cols);
			buf_append_byte(&expr, '(');
			size_t end = n->term_pos + SS_TERMS_BATCH;
			if (end > n->term_count)
				end = n->term_count;
			for (size_t i = n->term_pos; i < end; i++) {
				if (i > n->term_pos)
					buf_append_str(&expr, " OR ");
				ss_expr_string(&expr, n->terms[i], strlen(n->terms[i]));
			}
			buf_append_byte(&expr, ')');
			n->term_pos = end;
			ss_expr_start(n, &expr, end == n->term_count);
		} else {
			n->prepared = true; /* no trigram starts with it: nothing matches */
		}
	}
	if (n->expr != NULL && ret == 0) {
		int r = ss_match_window(s, n);
		if (r < 0) {
			ret = -1;
		} else if (r == 1) {
			free(n->expr);
			n->expr = NULL;
			if (n->expr_final)
				n->prepared = true;
		}
	}
	if (n->prepared) {
		ss_terms_free(n);
		if (n->mode == SS_MODE_SET)
			ss_set_finish(n);
	}
	buf_free(&expr);
	return ret;
}

/* The first text key still to prepare, in tree order. */
static struct ss_node *ss_unprepared(struct ss_node *n)
{
	if (!n->prepared)
		return n;
	for (struct ss_node *k = n->child; k != NULL; k = k->next) {
		struct ss_node *u = ss_unprepared(k);
		if (u != NULL)
			return u;
	}
	return NULL;
}

/* ---- phase 2: visiting messages ---- */

static int ss_load_text(struct store_search *s, struct ss_row *row, unsigned col)
{
	if (row->loaded[col])
		return 0;
	if (s->text[col] == NULL) {
		char sql[96];
		snprintf(sql, sizeof(sql), "SELECT %s FROM search_text WHERE rowid = ?1",
			 ss_col_names[col]);
		if (ss_prepare_stmt(s, &s->text[col], sql) < 0)
			return -1;
	}
	sqlite3_stmt *st = s->text[col];
	sqlite3_bind_int64(st, 1, row->body_id);
	int r = sqlite3_step(st);
	buf_reset(&row->text[col]);
	if (r == SQLITE_ROW) {
		const void *t = sqlite3_column_blob(st, 0);
		size_t len = (size_t)sqlite3_column_bytes(st, 0);
		if (t != NULL && len > 0)
			buf_append(&row->text[col], t, len);
	}
	sqlite3_reset(st);
	if (r != SQLITE_ROW && r != SQLITE_DONE)
		return store_fail_sql(s->store, NULL, "reading indexed text");
	row->loaded[col] = true;
	return 0;
}

static bool ss_contains(const struct buf *b, const char *needle, size_t len)
{
	if (len == 0)
		return true;
	return b->len >= len && memmem(b->data, b->len, needle, len) != NULL;
}

/* HEADER: some line of the field holds the needle in its value. */
static bool ss_header_match(const struct buf *hdr, const struct ss_node *n)
{
	const unsigned char *p = hdr->data, *end = hdr->data + hdr->len;
	if (p == NULL)
		return false;
	while (p < end) {
		const unsigned char *line = memmem(p, (size_t)(end - p), n->field, n->field_len);
		if (line == NULL)
			return false;
		const unsigned char *v = line + n->field_len;
		const unsigned char *eol = memchr(v, '\n', (size_t)(end - v));
		if (eol == NULL)
			eol = end;
		if (v < eol && *v == ' ')
			v++;
		if (n->needle_len == 0 ||
		    ((size_t)(eol - v) >= n->needle_len &&
		     memmem(v, (size_t)(eol - v), n->needle, n->needle_len) != NULL))
			return true;
		p = eol;
	}
	return false;
}

static bool ss_in_set(const struct ss_node *n, uint32_t uid)
{
	size_t lo = 0, hi = n->set_count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (n->set[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n->set_count && n->set[lo] == uid;
}

static bool ss_in_ranges(const struct ss_node *n, uint32_t uid)
{
	size_t lo = 0, hi = n->range_count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (n->ranges[mid].hi < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n->range_count && n->ranges[lo].lo <= uid;
}

/* 1 match, 0 no match, -1 error */
static int ss_eval(struct store_search *s, const struct ss_node *n, struct ss_row *row)
{
	int64_t sent_date = row->have_sent ? row->sent_date : row->internal_date;
	int sent_tz = row->have_sent ? row->sent_tz : row->internal_tz;
	switch (n->key) {
	case STORE_SEARCH_ALL:
		return 1;
	case STORE_SEARCH_AND:
		for (const struct ss_node *k = n->child; k != NULL; k = k->next) {
			int r = ss_eval(s, k, row);
			if (r <= 0)
				return r;
		}
		return 1;
	case STORE_SEARCH_OR:
		for (const struct ss_node *k = n->child; k != NULL; k = k->next) {
			int r = ss_eval(s, k, row);
			if (r != 0)
				return r;
		}
		return 0;
	case STORE_SEARCH_NOT: {
		int r = ss_eval(s, n->child, row);
		return r < 0 ? -1 : !r;
	}
	case STORE_SEARCH_UIDS:
		return ss_in_ranges(n, row->uid);
	case STORE_SEARCH_FLAG:
		return (row->flags & n->flag) == n->flag;
	case STORE_SEARCH_KEYWORD:
		return n->kw_known && (row->keywords & n->kwmask) != 0;
	case STORE_SEARCH_LARGER:
		return row->size > n->number;
	case STORE_SEARCH_SMALLER:
		return row->size < n->number;
	case STORE_SEARCH_BEFORE:
		return ss_day(row->internal_date, row->internal_tz) < (int64_t)n->number;
	case STORE_SEARCH_ON:
		return ss_day(row->internal_date, row->internal_tz) == (int64_t)n->number;
	case STORE_SEARCH_SINCE:
		return ss_day(row->internal_date, row->internal_tz) >= (int64_t)n->number;
	case STORE_SEARCH_SENTBEFORE:
		return ss_day(sent_date, sent_tz) < (int64_t)n->number;
	case STORE_SEARCH_SENTON:
		return ss_day(sent_date, sent_tz) == (int64_t)n->number;
	case STORE_SEARCH_SENTSINCE:
		return ss_day(sent_date, sent_tz) >= (int64_t)n->number;
	case STORE_SEARCH_OLDER:
		return row->internal_date <= (int64_t)s->now - (int64_t)n->number;
	case STORE_SEARCH_YOUNGER:
		return row->internal_date >= (int64_t)s->now - (int64_t)n->number;
	case STORE_SEARCH_MODSEQ:
		return row->modseq >= n->number;
	default:
		break;
	}
	/* text keys */
	switch (n->mode) {
	case SS_MODE_ALL:
		return 1;
	case SS_MODE_SET:
		if (!ss_in_set(n, row->uid))
			return 0;
		if (!n->verify)
			return 1;
		if (ss_load_text(s, row, SEARCH_COL_HDR) < 0)
			return -1;
		return ss_header_match(&row->text[SEARCH_COL_HDR], n);
	case SS_MODE_SCAN:
		for (unsigned c = 0; c < SEARCH_COL_COUNT; c++) {
			if ((n->cols & (1u << c)) == 0)
				continue;
			if (ss_load_text(s, row, c) < 0)
				return -1;
			if (ss_contains(&row->text[c], n->needle, n->needle_len))
				return 1;
		}
		return 0;
	case SS_MODE_NONE:
		break;
	}
	return 0;
}

/* Costs as prepared (a short string may have become a scan), children ordered again. */
static void ss_recost(struct ss_node *n)
{
	if (n->mode == SS_MODE_SCAN)
		n->cost = SS_COST_TEXT;
	if (n->child == NULL)
		return;
	for (struct ss_node *k = n->child; k != NULL; k = k->next)
		ss_recost(k);
	ss_order_children(n);
}

/* The UID window the top level allows, and the smallest set to walk instead of the whole
 * mailbox. */
static void ss_plan(struct store_search *s)
{
	ss_recost(s->root);
	s->lo = 1;
	s->hi = UINT32_MAX;
	struct ss_node *only = s->root;
	struct ss_node *first = only->key == STORE_SEARCH_AND ? only->child : only;
	for (struct ss_node *k = first; k != NULL; k = only->key == STORE_SEARCH_AND ? k->next : NULL) {
		if (k->key == STORE_SEARCH_UIDS) {
			if (k->range_count == 0) {
				s->lo = 1;
				s->hi = 0; /* nothing */
			} else {
				if (k->ranges[0].lo > s->lo)
					s->lo = k->ranges[0].lo;
				if (k->ranges[k->range_count - 1].hi < s->hi)
					s->hi = k->ranges[k->range_count - 1].hi;
			}
		} else if (ss_is_text(k->key) && k->mode == SS_MODE_SET &&
			   (s->driver == NULL || k->set_count < s->driver->set_count)) {
			s->driver = k;
		}
	}
	/* point reads cost more than a range scan per row: walk a set only when it is small */
	if (s->driver != NULL && s->driver->set_count > s->mailbox_messages / 8 + 64)
		s->driver = NULL;
	s->next_uid = s->lo;
	s->matching = true;
}

static void ss_row_clear(struct ss_row *row)
{
	for (unsigned c = 0; c < SEARCH_COL_COUNT; c++)
		row->loaded[c] = false;
}

/* store_state_read callback: put one entry into s->state (replacing the one of its UID). */
static int ss_state_put(void *ctx, const struct store_msg *msg)
{
	struct store_search *s = ctx;
	if (msg->uid < s->lo || msg->uid > s->hi)
		return 0;
	if (msg->modseq > s->state_modseq)
		s->state_modseq = msg->modseq;
	size_t i = s->state_count;
	if (i > 0 && s->state[i - 1].uid >= msg->uid) {
		size_t lo = 0, hi = s->state_count;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (s->state[mid].uid < msg->uid)
				lo = mid + 1;
			else
				hi = mid;
		}
		i = lo;
		if (s->state[i].uid == msg->uid) {
			s->state[i] = *msg;
			return 0;
		}
	}
	if (s->state_count == s->state_alloc) {
		s->state_alloc = s->state_alloc == 0 ? 256 : s->state_alloc * 2;
		s->state = xrealloc(s->state, s->state_alloc * sizeof(*s->state));
	}
	memmove(&s->state[i + 1], &s->state[i], (s->state_count - i) * sizeof(*s->state));
	s->state[i] = *msg;
	s->state_count++;
	return 0;
}

/* At the start of each matching slice: the whole state of the window the first time, then
 * what changed since (see the top). */
static int ss_state_refresh(struct store_search *s)
{
	uint64_t since = s->state_loaded ? s->state_modseq : 0;
	if (store_state_read(s->store, s->mailbox_id, since, ss_state_put, s) < 0)
		return -1;
	s->state_loaded = true;
	s->state_pos = 0;
	return 0;
}

/* The entry of uid in s->state, or NULL. Rows come in ascending UID order within a slice: a
 * cursor that moves forward, a binary search when it has to move back. */
static const struct store_msg *ss_state_find(struct store_search *s, uint32_t uid)
{
	size_t i = s->state_pos;
	if (i >= s->state_count || s->state[i].uid > uid)
		i = 0;
	if (i + 8 < s->state_count && s->state[i + 8].uid <= uid) {
		size_t lo = i + 8, hi = s->state_count;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (s->state[mid].uid < uid)
				lo = mid + 1;
			else
				hi = mid;
		}
		i = lo;
	}
	while (i < s->state_count && s->state[i].uid < uid)
		i++;
	s->state_pos = i;
	return i < s->state_count && s->state[i].uid == uid ? &s->state[i] : NULL;
}

/* Read rows of UIDs in [lo, hi] (at most limit) and evaluate them. *last_r: the last UID read
 * (0 if none). 0, -1 error, or -2 when cb asked to stop. */
static int ss_rows(struct store_search *s, uint32_t lo, uint32_t hi, unsigned limit,
		   uint32_t *last_r, unsigned *count_r, store_uid_cb *cb, void *ctx)
{
	*last_r = 0;
	*count_r = 0;
	sqlite3_stmt *st = s->rows;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)s->mailbox_id);
	sqlite3_bind_int64(st, 2, lo);
	sqlite3_bind_int64(st, 3, hi);
	sqlite3_bind_int(st, 4, (int)limit);
	/* the page is copied out first: evaluating may run other statements (stored text) */
	struct ss_row *rows = s->page;
	unsigned n = 0;
	int r = SQLITE_DONE;
	while (n < limit && n < SS_PAGE) {
		r = sqlite3_step(st);
		if (r != SQLITE_ROW)
			break;
		struct ss_row *w = &rows[n++];
		w->uid = (uint32_t)sqlite3_column_int64(st, 0);
		w->body_id = sqlite3_column_int64(st, 1);
		w->size = (uint64_t)sqlite3_column_int64(st, 2);
		w->internal_date = sqlite3_column_int64(st, 3);
		w->internal_tz = sqlite3_column_int(st, 4);
		w->saved_date = sqlite3_column_int64(st, 5);
		w->have_sent = s->need_sent && sqlite3_column_type(st, 6) != SQLITE_NULL;
		w->sent_date = w->have_sent ? sqlite3_column_int64(st, 6) : 0;
		w->sent_tz = w->have_sent ? sqlite3_column_int(st, 7) : 0;
	}
	if (r == SQLITE_ROW)
		r = SQLITE_DONE; /* the page is full */
	sqlite3_reset(st);
	if (r != SQLITE_DONE)
		return store_fail_sql(s->store, NULL, "reading messages to search");
	for (unsigned i = 0; i < n; i++) {
		struct ss_row *row = &s->row;
		*last_r = rows[i].uid;
		(*count_r)++;
		const struct store_msg *st_msg = ss_state_find(s, rows[i].uid);
		if (st_msg == NULL)
			continue; /* newer than this slice's state (see the top) */
		/* keep the text buffers of s->row, take the rest of this row */
		row->uid = rows[i].uid;
		row->body_id = rows[i].body_id;
		row->flags = st_msg->flags;
		row->keywords = st_msg->keywords;
		row->modseq = st_msg->modseq;
		row->size = rows[i].size;
		row->internal_date = rows[i].internal_date;
		row->internal_tz = rows[i].internal_tz;
		row->saved_date = rows[i].saved_date;
		row->have_sent = rows[i].have_sent;
		row->sent_date = rows[i].sent_date;
		row->sent_tz = rows[i].sent_tz;
		ss_row_clear(row);
		int m = ss_eval(s, s->root, row);
		if (m < 0)
			return -1;
		if (m > 0 && cb(ctx, row->uid) < 0)
			return -2;
	}
	return 0;
}

static int ss_match_step(struct store_search *s, store_uid_cb *cb, void *ctx)
{
	if (s->rows == NULL) {
		const char *sql =
			s->need_sent
				? "SELECT m.uid, m.body_id, m.size,"
				  " m.internal_date, m.internal_tz, m.saved_date, b.sent_date,"
				  " b.sent_tz FROM message m JOIN body b ON b.id = m.body_id"
				  " WHERE m.mailbox_id = ?1 AND m.uid >= ?2 AND m.uid <= ?3"
				  " ORDER BY m.uid LIMIT ?4"
				: "SELECT uid, body_id, size, internal_date,"
				  " internal_tz, saved_date, NULL, 0 FROM message"
				  " WHERE mailbox_id = ?1 AND uid >= ?2 AND uid <= ?3"
				  " ORDER BY uid LIMIT ?4";
		if (ss_prepare_stmt(s, &s->rows, sql) < 0)
			return -1;
	}
	unsigned seen = 0;
	while (!s->done) {
		uint32_t last;
		unsigned count;
		int r;
		if (s->driver != NULL) {
			if (s->driver_pos >= s->driver->set_count) {
				s->done = true;
				break;
			}
			uint32_t uid = s->driver->set[s->driver_pos++];
			if (uid < s->lo || uid > s->hi)
				continue;
			r = ss_rows(s, uid, uid, 1, &last, &count, cb, ctx);
			seen++;
		} else {
			if (s->next_uid > s->hi || s->next_uid == 0) {
				s->done = true;
				break;
			}
			r = ss_rows(s, s->next_uid, s->hi, SS_PAGE, &last, &count, cb, ctx);
			if (r == 0 && count < SS_PAGE)
				s->done = true;
			else if (r == 0)
				s->next_uid = last == UINT32_MAX ? 0 : last + 1;
			seen += SS_CLOCK_EVERY;
		}
		if (r == -2) {
			s->done = true;
			break;
		}
		if (r < 0)
			return -1;
		if (seen >= SS_CLOCK_EVERY) {
			seen = 0;
			if (ss_expired(s))
				return 0;
		}
	}
	return 1;
}

/* ---- the interface ---- */

int store_search_begin(struct store *store, uint64_t mailbox_id,
		       const struct store_search_node *root, struct store_search **search_r,
		       const char **error_r)
{
	store_clear_error(store);
	*search_r = NULL;
	struct store_mailbox *mb = xmalloc(sizeof(*mb));
	int r = store_mailbox_load(store, mailbox_id, mb);
	if (r <= 0) {
		free(mb);
		return r < 0 ? store_failed(store, error_r)
			     : store_fail(store, STORE_ERR_NOT_FOUND, error_r, "no such mailbox");
	}
	struct store_search *s = xcalloc(1, sizeof(*s));
	s->store = store;
	store->handles++; /* no parking while the handle lives (its statements) */
	s->mailbox_id = mailbox_id;
	s->pool = pool_create(4096);
	s->now = time(NULL);
	s->mailbox_messages = mb->messages;
	s->window = 8192;
	s->root = ss_compile(s, mb, root, 0);
	free(mb);
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(store->db, "SELECT COALESCE(MAX(id), 0) FROM body", -1, &st, NULL) !=
	    SQLITE_OK) {
		store_search_end(&s);
		return store_fail_sql(store, error_r, "searching");
	}
	if (sqlite3_step(st) == SQLITE_ROW)
		s->max_body = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (s->root == NULL) {
		store_search_end(&s);
		return store_fail(store, STORE_ERR_INVALID, error_r, "invalid search program");
	}
	for (unsigned c = 0; c < SEARCH_COL_COUNT; c++)
		buf_init(&s->row.text[c], (size_t)-2);
	s->page = xcalloc(SS_PAGE, sizeof(*s->page));
	*search_r = s;
	return 0;
}

int store_search_run(struct store_search *s, unsigned budget_ms, store_uid_cb *cb, void *ctx,
		     const char **error_r)
{
	store_clear_error(s->store);
	ss_deadline_set(s, budget_ms);
	if (!s->caught_up) {
		int r = ss_catch_up(s);
		if (r < 0)
			return store_failed(s->store, error_r);
		if (r == 0)
			return 0;
		s->caught_up = true;
		if (r == 1 && ss_expired(s))
			return 0;
	}
	while (!s->matching) {
		struct ss_node *n = ss_unprepared(s->root);
		if (n == NULL) {
			ss_plan(s);
			break;
		}
		if (ss_prepare_step(s, n) < 0)
			return store_failed(s->store, error_r);
		if (ss_expired(s))
			return 0;
	}
	if (!s->done && ss_state_refresh(s) < 0)
		return store_failed(s->store, error_r);
	int r = ss_match_step(s, cb, ctx);
	if (r < 0)
		return store_failed(s->store, error_r);
	return r;
}

static void ss_free_sets(struct ss_node *n)
{
	for (; n != NULL; n = n->next) {
		free(n->set);
		n->set = NULL;
		free(n->expr);
		n->expr = NULL;
		ss_terms_free(n);
		ss_free_sets(n->child);
	}
}

void store_search_end(struct store_search **sp)
{
	struct store_search *s = *sp;
	if (s == NULL)
		return;
	*sp = NULL;
	s->store->handles--;
	if (s->root != NULL)
		ss_free_sets(s->root);
	sqlite3_finalize(s->rows);
	sqlite3_finalize(s->match);
	sqlite3_finalize(s->vocab);
	for (unsigned c = 0; c < SEARCH_COL_COUNT; c++) {
		sqlite3_finalize(s->text[c]);
		buf_free(&s->row.text[c]);
	}
	pool_destroy(&s->pool);
	free(s->page);
	free(s->state);
	free(s);
}

int store_search(struct store *store, uint64_t mailbox_id, const struct store_search_node *root,
		 store_uid_cb *cb, void *ctx, const char **error_r)
{
	struct store_search *s;
	if (store_search_begin(store, mailbox_id, root, &s, error_r) < 0)
		return -1;
	int r;
	while ((r = store_search_run(s, 1000, cb, ctx, error_r)) == 0)
		;
	store_search_end(&s);
	return r < 0 ? -1 : 0;
}
