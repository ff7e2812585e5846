/* imap-search.c: SEARCH arguments to a store search program (imap-search.h).
 * Traps: a parenthesised group is its own argument list (the parser nests lists), so the key
 * parser recurses into it with its own position; the depth counts NOT, OR and groups together
 * (each recursion), so "NOT NOT NOT ..." is bounded like "((((...))))"; strings are converted
 * from the CHARSET as they are read, so a string that fails conversion fails the command. */
#include "imap-search.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include "imap/imap-arg.h"
#include "lib/buf.h"
#include "mail/charset.h"
#include "store/store.h"

enum sp_kind {
	SP_ALL,
	SP_FLAG,     /* flag; negate for UN... */
	SP_KEYWORD,
	SP_TEXT,
	SP_HEADER,
	SP_DATE,
	SP_NUM64,
	SP_NZ,
	SP_NOT,
	SP_OR,
	SP_UID,
	SP_RECENT,
	SP_NEW,
	SP_OLD,
	SP_MODSEQ,
};

static const struct sp_keydef {
	const char *name;
	enum sp_kind kind;
	enum store_search_key key;
	uint8_t flag;
	bool negate;
} sp_keydefs[] = {
	{"ALL", SP_ALL, STORE_SEARCH_ALL, 0, false},
	{"ANSWERED", SP_FLAG, STORE_SEARCH_FLAG, STORE_FLAG_ANSWERED, false},
	{"BCC", SP_TEXT, STORE_SEARCH_BCC, 0, false},
	{"BEFORE", SP_DATE, STORE_SEARCH_BEFORE, 0, false},
	{"BODY", SP_TEXT, STORE_SEARCH_BODY, 0, false},
	{"CC", SP_TEXT, STORE_SEARCH_CC, 0, false},
	{"DELETED", SP_FLAG, STORE_SEARCH_FLAG, STORE_FLAG_DELETED, false},
	{"DRAFT", SP_FLAG, STORE_SEARCH_FLAG, STORE_FLAG_DRAFT, false},
	{"FLAGGED", SP_FLAG, STORE_SEARCH_FLAG, STORE_FLAG_FLAGGED, false},
	{"FROM", SP_TEXT, STORE_SEARCH_FROM, 0, false},
	{"HEADER", SP_HEADER, STORE_SEARCH_HEADER, 0, false},
	{"KEYWORD", SP_KEYWORD, STORE_SEARCH_KEYWORD, 0, false},
	{"LARGER", SP_NUM64, STORE_SEARCH_LARGER, 0, false},
	{"MODSEQ", SP_MODSEQ, STORE_SEARCH_MODSEQ, 0, false},
	{"NEW", SP_NEW, STORE_SEARCH_AND, 0, false},
	{"NOT", SP_NOT, STORE_SEARCH_NOT, 0, false},
	{"OLD", SP_OLD, STORE_SEARCH_NOT, 0, false},
	{"OLDER", SP_NZ, STORE_SEARCH_OLDER, 0, false},
	{"ON", SP_DATE, STORE_SEARCH_ON, 0, false},
	{"OR", SP_OR, STORE_SEARCH_OR, 0, false},
	{"RECENT", SP_RECENT, STORE_SEARCH_UIDS, 0, false},
	{"SEEN", SP_FLAG, STORE_SEARCH_FLAG, STORE_FLAG_SEEN, false},
	{"SENTBEFORE", SP_DATE, STORE_SEARCH_SENTBEFORE, 0, false},
	{"SENTON", SP_DATE, STORE_SEARCH_SENTON, 0, false},
	{"SENTSINCE", SP_DATE, STORE_SEARCH_SENTSINCE, 0, false},
	{"SINCE", SP_DATE, STORE_SEARCH_SINCE, 0, false},
	{"SMALLER", SP_NUM64, STORE_SEARCH_SMALLER, 0, false},
	{"SUBJECT", SP_TEXT, STORE_SEARCH_SUBJECT, 0, false},
	{"TEXT", SP_TEXT, STORE_SEARCH_TEXT, 0, false},
	{"TO", SP_TEXT, STORE_SEARCH_TO, 0, false},
	{"UID", SP_UID, STORE_SEARCH_UIDS, 0, false},
	{"UNANSWERED", SP_FLAG, STORE_SEARCH_FLAG, STORE_FLAG_ANSWERED, true},
	{"UNDELETED", SP_FLAG, STORE_SEARCH_FLAG, STORE_FLAG_DELETED, true},
	{"UNDRAFT", SP_FLAG, STORE_SEARCH_FLAG, STORE_FLAG_DRAFT, true},
	{"UNFLAGGED", SP_FLAG, STORE_SEARCH_FLAG, STORE_FLAG_FLAGGED, true},
	{"UNKEYWORD", SP_KEYWORD, STORE_SEARCH_KEYWORD, 0, true},
	{"UNSEEN", SP_FLAG, STORE_SEARCH_FLAG, STORE_FLAG_SEEN, true},
	{"YOUNGER", SP_NZ, STORE_SEARCH_YOUNGER, 0, false},
};

/* Supported CHARSETs: names and IANA aliases, and the label mail/charset.h converts from. */
static const struct sp_charset {
	const char *name;
	const char *label;
} sp_charsets[] = {
	{"UTF-8", "utf-8"},           {"UTF8", "utf-8"},
	{"csUTF8", "utf-8"},          {"US-ASCII", "us-ascii"},
	{"ASCII", "us-ascii"},        {"ANSI_X3.4-1968", "us-ascii"},
	{"csASCII", "us-ascii"},      {"us", "us-ascii"},
	{"ISO-2022-JP", "iso-2022-jp"}, {"csISO2022JP", "iso-2022-jp"},
	{"Shift_JIS", "shift_jis"},   {"MS_Kanji", "shift_jis"},
	{"csShiftJIS", "shift_jis"},  {"Windows-31J", "shift_jis"},
	{"CP932", "shift_jis"},       {"EUC-JP", "euc-jp"},
	{"csEUCPkdFmtJapanese", "euc-jp"},
	{"Extended_UNIX_Code_Packed_Format_for_Japanese", "euc-jp"},
};

struct sp {
	const struct imap_arg *args;
	size_t count, pos;
	struct pool *pool;
	unsigned flags;
	struct imap_search_query *q;
	const char *label; /* charset to convert strings from */
	size_t ref_alloc;
	const char *resp, *code, *error;
};

static struct store_search_node *sp_fail(struct sp *p, const char *resp, const char *code,
					 const char *error)
{
	if (p->error == NULL) {
		p->resp = resp;
		p->code = code;
		p->error = error;
	}
	return NULL;
}

static struct store_search_node *sp_bad(struct sp *p, const char *error)
{
	return sp_fail(p, "BAD", NULL, error);
}

static struct store_search_node *sp_node(struct sp *p, enum store_search_key key)
{
	struct store_search_node *n = pool_alloc(p->pool, sizeof(*n));
	n->key = key;
	return n;
}

static struct store_search_node *sp_ref(struct sp *p, enum imap_search_ref_kind kind,
					const struct imap_seqset *set)
{
	struct imap_search_query *q = p->q;
	if (q->ref_count == p->ref_alloc) {
		size_t a = p->ref_alloc ? p->ref_alloc * 2 : 8;
		struct imap_search_ref *refs = pool_alloc_array(p->pool, a, sizeof(*refs));
		if (q->ref_count > 0)
			memcpy(refs, q->refs, q->ref_count * sizeof(*refs));
		q->refs = refs;
		p->ref_alloc = a;
	}
	struct imap_search_ref *r = &q->refs[q->ref_count++];
	memset(r, 0, sizeof(*r));
	r->kind = kind;
	if (set != NULL)
		r->set = *set;
	r->node = sp_node(p, STORE_SEARCH_UIDS);
	return r->node;
}

static const struct imap_arg *sp_next(struct sp *p)
{
	return p->pos < p->count ? &p->args[p->pos++] : NULL;
}

/* astring, converted from the CHARSET to UTF-8 */
static bool sp_string(struct sp *p, const char **str_r, size_t *len_r)
{
	const struct imap_arg *arg = sp_next(p);
	const char *s;
	size_t len;
	if (arg == NULL || !imap_arg_get_astring(arg, &s, &len)) {
		sp_bad(p, "Search key needs a string");
		return false;
	}
	if (len > IMAP_SEARCH_STRING_MAX) {
		sp_fail(p, "NO", "LIMIT", "Search string too long");
		return false;
	}
	struct buf out;
	buf_init(&out, 4 * len + 16);
	/* invalid input becomes U+FFFD (and simply matches nothing) rather than an error:
	 * IMAP4rev1 clients send UTF-8 under US-ASCII or no CHARSET at all */
	charset_to_utf8(&out, p->label, strlen(p->label), s, len);
	if (out.len > IMAP_SEARCH_STRING_MAX) {
		buf_free(&out);
		sp_fail(p, "NO", "LIMIT", "Search string too long");
		return false;
	}
	*str_r = pool_memdup(p->pool, out.data != NULL ? (const char *)out.data : "", out.len);
	*len_r = out.len;
	buf_free(&out);
	return true;
}

/* date = date-text / DQUOTE date-text DQUOTE; date-text = date-day "-" date-month "-"
 * date-year (RFC 9051 section 9). Day number of it. */
static bool sp_date(struct sp *p, int64_t *day_r)
{
	static const char *const months[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	static const unsigned mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	const struct imap_arg *arg = sp_next(p);
	if (arg == NULL || (arg->type != IMAP_ARG_ATOM && arg->type != IMAP_ARG_QUOTED)) {
		sp_bad(p, "Search key needs a date");
		return false;
	}
	const char *s = arg->str;
	size_t len = arg->len, i = 0;
	unsigned day = 0, year = 0;
	int month = -1;
	while (i < len && i < 2 && s[i] >= '0' && s[i] <= '9')
		day = day * 10 + (unsigned)(s[i++] - '0');
	if (i == 0 || i >= len || s[i] != '-' || len - i != 9 || s[i + 4] != '-') {
		sp_bad(p, "Invalid date (dd-Mon-yyyy)");
		return false;
	}
	for (int m = 0; m < 12; m++) {
		if (strncasecmp(s + i + 1, months[m], 3) == 0)
			month = m;
	}
	for (size_t k = i + 5; k < len; k++) {
		if (s[k] < '0' || s[k] > '9') {
			sp_bad(p, "Invalid date (dd-Mon-yyyy)");
			return false;
		}
		year = year * 10 + (unsigned)(s[k] - '0');
	}
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
	if (month < 0 || day < 1 || day > mdays[month] || (month == 1 && day == 29 && !leap)) {
		sp_bad(p, "Invalid date (dd-Mon-yyyy)");
		return false;
	}
	*day_r = store_search_day((int)year, (unsigned)month + 1, day);
	return true;
}

static struct store_search_node *sp_key(struct sp *p, unsigned depth);

/* The keys of a parenthesised group (its own argument list): an AND of them. */
static struct store_search_node *sp_group(struct sp *p, const struct imap_arg *list,
					  unsigned depth)
{
	if (list->count == 0)
		return sp_bad(p, "Empty parenthesised search keys");
	const struct imap_arg *args = p->args;
	size_t count = p->count, pos = p->pos;
	p->args = list->list;
	p->count = list->count;
	p->pos = 0;
	struct store_search_node *and = sp_node(p, STORE_SEARCH_AND), **tail = &and->child;
	while (p->pos < p->count) {
		struct store_search_node *k = sp_key(p, depth + 1);
		if (k == NULL)
			return NULL;
		*tail = k;
		tail = &k->next;
	}
	p->args = args;
	p->count = count;
	p->pos = pos;
	/* one key in parentheses is that key */
	return and->child->next == NULL ? and->child : and;
}

static struct store_search_node *sp_key(struct sp *p, unsigned depth)
{
	if (depth > IMAP_SEARCH_DEPTH_MAX)
		return sp_fail(p, "NO", "LIMIT", "Search program nested too deeply");
	if (++p->q->key_count > IMAP_SEARCH_KEYS_MAX)
		return sp_fail(p, "NO", "LIMIT", "Too many search keys");
	const struct imap_arg *arg = sp_next(p);
	if (arg == NULL)
		return sp_bad(p, "Missing search key");
	if (arg->type == IMAP_ARG_LIST)
		return sp_group(p, arg, depth);
	if (arg->type != IMAP_ARG_ATOM)
		return sp_bad(p, "Invalid search key");
	const struct sp_keydef *def = NULL;
	for (size_t i = 0; i < sizeof(sp_keydefs) / sizeof(sp_keydefs[0]); i++) {
		if (strcasecmp(sp_keydefs[i].name, arg->str) == 0)
			def = &sp_keydefs[i];
	}
	if (def == NULL || (def->kind == SP_MODSEQ && (p->flags & IMAP_SEARCH_FLAG_CONDSTORE) == 0)) {
		/* a sequence set, "$" included */
		struct imap_seqset set;
		const char *err;
		if (imap_seqset_parse(arg->str, arg->len, p->pool, IMAP_SEARCH_RANGES_MAX, &set,
				      &err) < 0)
			return sp_bad(p, def != NULL ? "MODSEQ needs CONDSTORE"
						     : "Unknown search key");
		return sp_ref(p, set.is_saved ? IMAP_SEARCH_REF_SAVED : IMAP_SEARCH_REF_SEQSET,
			      &set);
	}
	struct store_search_node *n = sp_node(p, def->key);
	switch (def->kind) {
	case SP_ALL:
		return n;
	case SP_FLAG:
		n->flag = def->flag;
		break;
	case SP_KEYWORD: {
		const struct imap_arg *kw = sp_next(p);
		/* flag-keyword = "$MDNSent" / "$Forwarded" / ... / atom */
		if (kw == NULL || !imap_arg_is_atom(kw))
			return sp_bad(p, "KEYWORD needs a keyword");
		n->str = kw->str;
		n->len = kw->len;
		break;
	}
	case SP_TEXT:
		if (!sp_string(p, &n->str, &n->len))
			return NULL;
		break;
	case SP_HEADER: {
		const struct imap_arg *f = sp_next(p);
		const char *name;
		size_t len;
		/* header-fld-name = astring; field names are printable US-ASCII (RFC 5322) */
		if (f == NULL || !imap_arg_get_astring(f, &name, &len) || memchr(name, '\0', len))
			return sp_bad(p, "HEADER needs a field name and a string");
		n->field = name;
		if (!sp_string(p, &n->str, &n->len))
			return NULL;
		break;
	}
	case SP_DATE: {
		int64_t day;
		if (!sp_date(p, &day))
			return NULL;
		n->number = (uint64_t)day;
		break;
	}
	case SP_NUM64: {
		const struct imap_arg *num = sp_next(p);
		if (num == NULL || !imap_arg_get_number64(num, &n->number))
			return sp_bad(p, "Search key needs a number");
		break;
	}
	case SP_NZ: {
		const struct imap_arg *num = sp_next(p);
		uint32_t v;
		if (num == NULL || !imap_arg_get_nz_number(num, &v))
			return sp_bad(p, "Search key needs a non-zero number");
		n->number = v;
		break;
	}
	case SP_MODSEQ: {
		/* RFC 7162 3.1.5: "MODSEQ" [SP entry-name SP entry-type-req] SP mod-sequence-valzer;
		 * kura keeps one MODSEQ per message, so the entry is ignored (RFC 7162 allows) */
		const struct imap_arg *a = sp_next(p);
		if (a != NULL && a->type == IMAP_ARG_QUOTED) {
			const struct imap_arg *type = sp_next(p);
			if (type == NULL || !(imap_arg_atom_equals(type, "priv") ||
					      imap_arg_atom_equals(type, "shared") ||
					      imap_arg_atom_equals(type, "all")))
				return sp_bad(p, "Invalid MODSEQ entry type");
			a = sp_next(p);
		}
		/* mod-sequence-valzer = "0" / mod-sequence-value */
		if (a == NULL || !imap_arg_get_number64(a, &n->number))
			return sp_bad(p, "MODSEQ needs a mod-sequence");
		p->q->has_modseq = true;
		break;
	}
	case SP_NOT:
		if ((n->child = sp_key(p, depth + 1)) == NULL)
			return NULL;
		break;
	case SP_OR: {
		struct store_search_node *a = sp_key(p, depth + 1);
		if (a == NULL)
			return NULL;
		struct store_search_node *b = sp_key(p, depth + 1);
		if (b == NULL)
			return NULL;
		n->child = a;
		a->next = b;
		break;
	}
	case SP_UID: {
		const struct imap_arg *a = sp_next(p);
		struct imap_seqset set;
		const char *err;
		if (a == NULL || a->type != IMAP_ARG_ATOM ||
		    imap_seqset_parse(a->str, a->len, p->pool, IMAP_SEARCH_RANGES_MAX, &set, &err) < 0)
			return sp_bad(p, "UID needs a sequence set");
		return sp_ref(p, set.is_saved ? IMAP_SEARCH_REF_SAVED : IMAP_SEARCH_REF_UIDSET,
			      &set);
	}
	case SP_RECENT:
		return sp_ref(p, IMAP_SEARCH_REF_RECENT, NULL);
	case SP_NEW: {
		/* RFC 3501: NEW = RECENT UNSEEN */
		struct store_search_node *r = sp_ref(p, IMAP_SEARCH_REF_RECENT, NULL);
		struct store_search_node *not = sp_node(p, STORE_SEARCH_NOT);
		not->child = sp_node(p, STORE_SEARCH_FLAG);
		not->child->flag = STORE_FLAG_SEEN;
		n->child = r;
		r->next = not;
		return n;
	}
	case SP_OLD:
		/* RFC 3501: OLD = NOT RECENT */
		n->child = sp_ref(p, IMAP_SEARCH_REF_RECENT, NULL);
		return n;
	}
	if (def->negate) {
		struct store_search_node *not = sp_node(p, STORE_SEARCH_NOT);
		not->child = n;
		return not;
	}
	return n;
}

/* search-return-opts = SP "RETURN" SP "(" [search-return-opt *(SP search-return-opt)] ")" */
static bool sp_return(struct sp *p)
{
	struct imap_search_query *q = p->q;
	if (p->pos >= p->count || !imap_arg_atom_equals(&p->args[p->pos], "RETURN"))
		return true;
	p->pos++;
	const struct imap_arg *opts;
	size_t n;
	if (p->pos >= p->count || !imap_arg_get_list(&p->args[p->pos], &opts, &n)) {
		sp_bad(p, "RETURN needs a list of options");
		return false;
	}
	p->pos++;
	q->has_return = true;
	for (size_t i = 0; i < n; i++) {
		static const struct {
			const char *name;
			unsigned bit;
		} rets[] = {
			{"MIN", IMAP_SEARCH_RET_MIN}, {"MAX", IMAP_SEARCH_RET_MAX},
			{"ALL", IMAP_SEARCH_RET_ALL}, {"COUNT", IMAP_SEARCH_RET_COUNT},
			{"SAVE", IMAP_SEARCH_RET_SAVE},
		};
		unsigned bit = 0;
		for (size_t k = 0; k < sizeof(rets) / sizeof(rets[0]); k++) {
			if (imap_arg_atom_equals(&opts[i], rets[k].name))
				bit = rets[k].bit;
		}
		if (bit == 0) {
			/* RFC 9051 6.4.4: unknown options MUST be rejected with BAD */
			sp_bad(p, "Unknown RETURN option");
			return false;
		}
		q->ret |= bit;
	}
	/* RFC 4731 3.1: an empty list is ALL */
	if (q->ret == 0)
		q->ret = IMAP_SEARCH_RET_ALL;
	return true;
}

/* charset = atom / quoted; one kura converts from, else NO [BADCHARSET] */
static bool sp_charset(struct sp *p)
{
	const struct imap_arg *cs = p->pos < p->count ? &p->args[p->pos++] : NULL;
	if (cs == NULL || (cs->type != IMAP_ARG_ATOM && cs->type != IMAP_ARG_QUOTED)) {
		sp_bad(p, "CHARSET needs a name");
		return false;
	}
	p->q->charset = cs->str;
	const struct sp_charset *found = NULL;
	for (size_t i = 0; i < sizeof(sp_charsets) / sizeof(sp_charsets[0]); i++) {
		if (strcasecmp(sp_charsets[i].name, cs->str) == 0)
			found = &sp_charsets[i];
	}
	if (found == NULL) {
		/* RFC 9051 6.4.4: NO, not BAD, with the supported ones */
		sp_fail(p, "NO", "BADCHARSET (" IMAP_SEARCH_CHARSETS ")", "Charset not supported");
		return false;
	}
	p->label = found->label;
	return true;
}

/* search-key *(SP search-key): ANDed */
static bool sp_keys(struct sp *p)
{
	if (p->pos >= p->count) {
		sp_bad(p, "SEARCH needs at least one search key");
		return false;
	}
	struct store_search_node *and = sp_node(p, STORE_SEARCH_AND), **tail = &and->child;
	while (p->pos < p->count) {
		struct store_search_node *k = sp_key(p, 1);
		if (k == NULL)
			return false;
		*tail = k;
		tail = &k->next;
	}
	p->q->root = and->child->next == NULL ? and->child : and;
	return true;
}

static int sp_result(struct sp *p, const char **resp_r, const char **code_r,
		     const char **error_r)
{
	*resp_r = p->resp != NULL ? p->resp : "BAD";
	*code_r = p->code;
	*error_r = p->error != NULL ? p->error : "Invalid search";
	return -1;
}

int imap_search_parse(const struct imap_arg *args, size_t count, unsigned flags,
		      struct pool *pool, struct imap_search_query *q_r, const char **resp_r,
		      const char **code_r, const char **error_r)
{
	struct sp p = {.args = args, .count = count, .pool = pool, .flags = flags, .q = q_r,
		       .label = "utf-8"};
	memset(q_r, 0, sizeof(*q_r));
	if (!sp_return(&p))
		return sp_result(&p, resp_r, code_r, error_r);
	/* search-program = ["CHARSET" SP charset SP] search-key *(SP search-key) */
	if (p.pos < p.count && imap_arg_atom_equals(&args[p.pos], "CHARSET")) {
		p.pos++;
		if (!sp_charset(&p))
			return sp_result(&p, resp_r, code_r, error_r);
	}
	if (!sp_keys(&p))
		return sp_result(&p, resp_r, code_r, error_r);
	return 0;
}

int imap_sort_parse(const struct imap_arg *args, size_t count, unsigned flags, struct pool *pool,
		    struct imap_sort_query *q_r, const char **resp_r, const char **code_r,
		    const char **error_r)
{
	static const struct {
		const char *name;
		enum store_sort_key key;
	} keys[] = {
		{"ARRIVAL", STORE_SORT_ARRIVAL}, {"CC", STORE_SORT_CC},
		{"DATE", STORE_SORT_DATE},       {"FROM", STORE_SORT_FROM},
		{"SIZE", STORE_SORT_SIZE},       {"SUBJECT", STORE_SORT_SUBJECT},
		{"TO", STORE_SORT_TO},           {"DISPLAYFROM", STORE_SORT_DISPLAYFROM},
		{"DISPLAYTO", STORE_SORT_DISPLAYTO},
	};
	struct sp p = {.args = args, .count = count, .pool = pool, .flags = flags,
		       .q = &q_r->search, .label = "utf-8"};
	memset(q_r, 0, sizeof(*q_r));
	/* RFC 5267 3: sort =/ ["UID" SP] "SORT" [search-return-opts] SP sort-criteria SP
	 * search-criteria */
	if (!sp_return(&p))
		return sp_result(&p, resp_r, code_r, error_r);
	/* sort-criteria = "(" sort-criterion *(SP sort-criterion) ")";
	 * sort-criterion = ["REVERSE" SP] sort-key */
	const struct imap_arg *list;
	size_t n;
	if (p.pos >= p.count || !imap_arg_get_list(&args[p.pos], &list, &n) || n == 0) {
		sp_bad(&p, "SORT needs a list of sort criteria");
		return sp_result(&p, resp_r, code_r, error_r);
	}
	p.pos++;
	q_r->criteria = pool_alloc_array(pool, n, sizeof(*q_r->criteria));
	for (size_t i = 0; i < n; i++) {
		bool reverse = false;
		if (imap_arg_atom_equals(&list[i], "REVERSE")) {
			reverse = true;
			if (++i == n) {
				sp_bad(&p, "REVERSE needs a sort key");
				return sp_result(&p, resp_r, code_r, error_r);
			}
		}
		size_t k = 0;
		while (k < sizeof(keys) / sizeof(keys[0]) && !imap_arg_atom_equals(&list[i], keys[k].name))
			k++;
		if (k == sizeof(keys) / sizeof(keys[0])) {
			sp_bad(&p, "Unknown sort criterion");
			return sp_result(&p, resp_r, code_r, error_r);
		}
		if (q_r->count == STORE_SORT_CRITERIA_MAX) {
			sp_fail(&p, "NO", "LIMIT", "Too many sort criteria");
			return sp_result(&p, resp_r, code_r, error_r);
		}
		q_r->criteria[q_r->count].key = keys[k].key;
		q_r->criteria[q_r->count].reverse = reverse;
		q_r->count++;
	}
	/* search-criteria = charset 1*(SP search-key): the charset is not optional here */
	if (!sp_charset(&p) || !sp_keys(&p))
		return sp_result(&p, resp_r, code_r, error_r);
	return 0;
}

int imap_thread_parse(const struct imap_arg *args, size_t count, unsigned flags,
		      struct pool *pool, struct imap_thread_query *q_r, const char **resp_r,
		      const char **code_r, const char **error_r)
{
	struct sp p = {.args = args, .count = count, .pool = pool, .flags = flags,
		       .q = &q_r->search, .label = "utf-8"};
	memset(q_r, 0, sizeof(*q_r));
	/* thread = ["UID" SP] "THREAD" SP thread-alg SP search-criteria */
	if (p.pos < p.count && imap_arg_atom_equals(&args[p.pos], "ORDEREDSUBJECT")) {
		q_r->alg = IMAP_THREAD_ORDEREDSUBJECT;
	} else if (p.pos < p.count && imap_arg_atom_equals(&args[p.pos], "REFERENCES")) {
		q_r->alg = IMAP_THREAD_REFERENCES;
	} else {
		sp_bad(&p, "Unknown threading algorithm");
		return sp_result(&p, resp_r, code_r, error_r);
	}
	p.pos++;
	if (!sp_charset(&p) || !sp_keys(&p))
		return sp_result(&p, resp_r, code_r, error_r);
	return 0;
}

/* ---- resolving against the view ---- */

struct sp_ranges {
	struct store_uid_range *v;
	size_t count, alloc;
	struct pool *pool;
};

static void sp_ranges_add(struct sp_ranges *r, uint32_t lo, uint32_t hi)
{
	/* consecutive UIDs extend the last range */
	if (r->count > 0 && r->v[r->count - 1].hi != UINT32_MAX && r->v[r->count - 1].hi + 1 >= lo &&
	    r->v[r->count - 1].lo <= lo) {
		if (hi > r->v[r->count - 1].hi)
			r->v[r->count - 1].hi = hi;
		return;
	}
	if (r->count == r->alloc) {
		size_t a = r->alloc ? r->alloc * 2 : 16;
		struct store_uid_range *v = pool_alloc_array(r->pool, a, sizeof(*v));
		if (r->count > 0)
			memcpy(v, r->v, r->count * sizeof(*v));
		r->v = v;
		r->alloc = a;
	}
	r->v[r->count].lo = lo;
	r->v[r->count].hi = hi;
	r->count++;
}

static int sp_range_cmp(const void *a, const void *b)
{
	const struct store_uid_range *x = a, *y = b;
	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Sort and merge into ascending disjoint ranges. */
static void sp_ranges_normalize(struct sp_ranges *r)
{
	if (r->count < 2)
		return;
	qsort(r->v, r->count, sizeof(*r->v), sp_range_cmp);
	size_t w = 0;
	for (size_t i = 1; i < r->count; i++) {
		struct store_uid_range *last = &r->v[w];
		if (r->v[i].lo <= last->hi || (last->hi != UINT32_MAX && r->v[i].lo == last->hi + 1)) {
			if (r->v[i].hi > last->hi)
				last->hi = r->v[i].hi;
		} else {
			r->v[++w] = r->v[i];
		}
	}
	r->count = w + 1;
}

/* Ranges of view indexes (in r, as numbers) into UID ranges: a run of view messages is one
 * UID range (UIDs between two view messages that the view lacks are expunged, so nothing
 * else can match them). */
static void sp_ranges_to_uids(struct sp_ranges *r, const uint32_t *uids)
{
	sp_ranges_normalize(r);
	for (size_t i = 0; i < r->count; i++) {
		r->v[i].lo = uids[r->v[i].lo];
		r->v[i].hi = uids[r->v[i].hi];
	}
}

static void sp_resolve_set(const struct imap_search_ref *ref, const uint32_t *uids, size_t n,
			   struct sp_ranges *r)
{
	bool by_uid = ref->kind == IMAP_SEARCH_REF_UIDSET;
	uint32_t max = by_uid ? (n > 0 ? uids[n - 1] : 0) : (uint32_t)n;
	for (size_t i = 0; i < ref->set.count; i++) {
		uint32_t lo = ref->set.ranges[i].lo, hi = ref->set.ranges[i].hi;
		if (lo == IMAP_SEQ_STAR)
			lo = max;
		if (hi == IMAP_SEQ_STAR)
			hi = max;
		if (lo > hi) {
			uint32_t t = lo;
			lo = hi;
			hi = t;
		}
		if (by_uid) {
			sp_ranges_add(r, lo, hi);
			continue;
		}
		/* sequence numbers beyond the mailbox match nothing */
		if (lo == 0 || lo > n)
			continue;
		if (hi > n)
			hi = (uint32_t)n;
		sp_ranges_add(r, lo - 1, hi - 1);
	}
	if (by_uid)
		sp_ranges_normalize(r);
	else
		sp_ranges_to_uids(r, uids);
}

/* Index of uid in the view, or -1. */
static ssize_t sp_view_find(const uint32_t *uids, size_t n, uint32_t uid)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (uids[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && uids[lo] == uid ? (ssize_t)lo : -1;
}

void imap_search_resolve(struct imap_search_query *q, const uint32_t *view_uids,
			 const uint8_t *view_flags, uint8_t recent_mask, size_t view_count,
			 const uint32_t *saved, size_t saved_count, struct pool *pool)
{
	for (size_t k = 0; k < q->ref_count; k++) {
		struct imap_search_ref *ref = &q->refs[k];
		struct sp_ranges r = {.pool = pool};
		switch (ref->kind) {
		case IMAP_SEARCH_REF_SEQSET:
		case IMAP_SEARCH_REF_UIDSET:
			sp_resolve_set(ref, view_uids, view_count, &r);
			break;
		case IMAP_SEARCH_REF_SAVED:
			/* saved messages no longer in the view (expunged) drop out */
			for (size_t i = 0; i < saved_count; i++) {
				ssize_t x = sp_view_find(view_uids, view_count, saved[i]);
				if (x >= 0)
					sp_ranges_add(&r, (uint32_t)x, (uint32_t)x);
			}
			sp_ranges_to_uids(&r, view_uids);
			break;
		case IMAP_SEARCH_REF_RECENT:
			for (size_t i = 0; view_flags != NULL && i < view_count; i++) {
				if ((view_flags[i] & recent_mask) != 0)
					sp_ranges_add(&r, (uint32_t)i, (uint32_t)i);
			}
			sp_ranges_to_uids(&r, view_uids);
			break;
		}
		ref->node->ranges = r.v;
		ref->node->range_count = r.count;
	}
}

/* ---- description ---- */

static void sp_describe(struct buf *b, const struct store_search_node *n)
{
	static const char *const names[] = {
		[STORE_SEARCH_ALL] = "ALL", [STORE_SEARCH_AND] = "AND", [STORE_SEARCH_OR] = "OR",
		[STORE_SEARCH_NOT] = "NOT", [STORE_SEARCH_UIDS] = "UIDS",
		[STORE_SEARCH_FLAG] = "FLAG", [STORE_SEARCH_KEYWORD] = "KEYWORD",
		[STORE_SEARCH_LARGER] = "LARGER", [STORE_SEARCH_SMALLER] = "SMALLER",
		[STORE_SEARCH_BEFORE] = "BEFORE", [STORE_SEARCH_ON] = "ON",
		[STORE_SEARCH_SINCE] = "SINCE", [STORE_SEARCH_SENTBEFORE] = "SENTBEFORE",
		[STORE_SEARCH_SENTON] = "SENTON", [STORE_SEARCH_SENTSINCE] = "SENTSINCE",
		[STORE_SEARCH_OLDER] = "OLDER", [STORE_SEARCH_YOUNGER] = "YOUNGER",
		[STORE_SEARCH_MODSEQ] = "MODSEQ", [STORE_SEARCH_HEADER] = "HEADER",
		[STORE_SEARCH_SUBJECT] = "SUBJECT", [STORE_SEARCH_FROM] = "FROM",
		[STORE_SEARCH_TO] = "TO", [STORE_SEARCH_CC] = "CC", [STORE_SEARCH_BCC] = "BCC",
		[STORE_SEARCH_BODY] = "BODY", [STORE_SEARCH_TEXT] = "TEXT",
	};
	buf_printf(b, "(%s", names[n->key]);
	switch (n->key) {
	case STORE_SEARCH_AND:
	case STORE_SEARCH_OR:
	case STORE_SEARCH_NOT:
		for (const struct store_search_node *c = n->child; c != NULL; c = c->next) {
			buf_append_byte(b, ' ');
			sp_describe(b, c);
		}
		break;
	case STORE_SEARCH_UIDS:
		for (size_t i = 0; i < n->range_count; i++) {
			if (n->ranges[i].lo == n->ranges[i].hi)
				buf_printf(b, " %u", n->ranges[i].lo);
			else
				buf_printf(b, " %u:%u", n->ranges[i].lo, n->ranges[i].hi);
		}
		break;
	case STORE_SEARCH_FLAG:
		buf_printf(b, " %u", n->flag);
		break;
	case STORE_SEARCH_KEYWORD:
		buf_printf(b, " %.*s", (int)n->len, n->str);
		break;
	case STORE_SEARCH_ALL:
		break;
	case STORE_SEARCH_BEFORE:
	case STORE_SEARCH_ON:
	case STORE_SEARCH_SINCE:
	case STORE_SEARCH_SENTBEFORE:
	case STORE_SEARCH_SENTON:
	case STORE_SEARCH_SENTSINCE:
		buf_printf(b, " %lld", (long long)(int64_t)n->number);
		break;
	case STORE_SEARCH_LARGER:
	case STORE_SEARCH_SMALLER:
	case STORE_SEARCH_OLDER:
	case STORE_SEARCH_YOUNGER:
	case STORE_SEARCH_MODSEQ:
		buf_printf(b, " %llu", (unsigned long long)n->number);
		break;
	default:
		if (n->key == STORE_SEARCH_HEADER)
			buf_printf(b, " %s", n->field);
		buf_printf(b, " \"%.*s\"", (int)n->len, n->str);
		break;
	}
	buf_append_byte(b, ')');
}

bool imap_search_modseq_all(bool esearch, unsigned ret)
{
	if (!esearch)
		return true;
	return (ret & (IMAP_SEARCH_RET_ALL | IMAP_SEARCH_RET_COUNT)) != 0 ||
	       (ret & (IMAP_SEARCH_RET_MIN | IMAP_SEARCH_RET_MAX)) == 0;
}

const char *imap_search_describe(const struct store_search_node *n, struct pool *pool)
{
	struct buf b;
	buf_init(&b, (size_t)-2);
	sp_describe(&b, n);
	char *r = pool_memdup(pool, b.data, b.len);
	buf_free(&b);
	return r;
}
