/* imap-resp.c: framing and parsing of IMAP server responses for the load generator.
 * Traps: a literal's CRLF belongs to the line that announces it, so a line is only complete
 * when it does not end in "{n}"; literal bytes are counted exactly (the server lying about a
 * size shows up as a garbled next response, which the parser reports); "[" inside an atom
 * (BODY[HEADER.FIELDS (From To)]) extends to the matching "]" across spaces and parentheses. */
#include "imap-resp.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/pool.h"
#include "lib/xmalloc.h"

uint64_t imap_resp_hash(uint64_t hash, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		hash ^= p[i];
		hash *= 0x100000001b3ULL;
	}
	return hash;
}

void imap_resp_reader_init(struct imap_resp_reader *r, size_t max_text, size_t keep_max)
{
	memset(r, 0, sizeof(*r));
	buf_init(&r->text, max_text);
	r->keep_max = keep_max;
}

static void imap_resp_reader_clear(struct imap_resp_reader *r)
{
	for (size_t i = 0; i < r->lit_count; i++)
		free(r->lits[i].data);
	free(r->lits);
	r->lits = NULL;
	r->lit_count = r->lit_alloc = 0;
	buf_free(&r->text);
	r->in_literal = false;
	r->lit_left = 0;
	r->line_start = 0;
	r->complete = false;
}

void imap_resp_reader_free(struct imap_resp_reader *r)
{
	imap_resp_reader_clear(r);
}

void imap_resp_reader_next(struct imap_resp_reader *r)
{
	imap_resp_reader_clear(r);
}

bool imap_resp_reader_partial(const struct imap_resp_reader *r)
{
	return !r->complete && (r->text.len > 0 || r->in_literal);
}

/* The line segment text[line_start..end) just ended with CRLF at end. If it ends in "{n}"
 * (or "~{n}"), start literal n: 1. No marker: 0. Bad size: -1. */
static int imap_resp_reader_literal_start(struct imap_resp_reader *r, size_t end,
					  const char **error_r)
{
	const char *t = (const char *)r->text.data;
	if (end <= r->line_start + 2 || t[end - 1] != '}')
		return 0;
	size_t i = end - 1;
	while (i > r->line_start && isdigit((unsigned char)t[i - 1]))
		i--;
	if (i == end - 1 || i == r->line_start || t[i - 1] != '{')
		return 0;
	size_t digits = end - 1 - i;
	uint64_t n = 0;
	if (digits > 10) {
		*error_r = "literal size has too many digits";
		return -1;
	}
	for (size_t k = i; k < end - 1; k++)
		n = n * 10 + (uint64_t)(t[k] - '0');
	if (n > IMAP_RESP_LITERAL_MAX) {
		*error_r = "literal larger than 1 GiB";
		return -1;
	}
	if (r->lit_count == IMAP_RESP_LITS_MAX) {
		*error_r = "too many literals in one response";
		return -1;
	}
	if (r->lit_count == r->lit_alloc) {
		r->lit_alloc = r->lit_alloc ? r->lit_alloc * 2 : 4;
		r->lits = xrealloc(r->lits, r->lit_alloc * sizeof(*r->lits));
	}
	struct imap_resp_lit *lit = &r->lits[r->lit_count++];
	lit->len = (size_t)n;
	lit->hash = IMAP_RESP_HASH_INIT;
	lit->data = NULL;
	if (lit->len <= r->keep_max) {
		lit->data = xmalloc(lit->len + 1);
		lit->data[lit->len] = '\0';
	}
	r->in_literal = lit->len > 0;
	r->lit_left = lit->len;
	r->line_start = r->text.len;
	return 1;
}

int imap_resp_reader_feed(struct imap_resp_reader *r, const unsigned char *data, size_t len,
			  size_t *used_r, const char **error_r)
{
	size_t pos = 0;

	*used_r = 0;
	if (r->complete) {
		*error_r = "previous response not released";
		return -1;
	}
	while (pos < len) {
		if (r->in_literal) {
			struct imap_resp_lit *lit = &r->lits[r->lit_count - 1];
			size_t n = len - pos < r->lit_left ? len - pos : r->lit_left;
			lit->hash = imap_resp_hash(lit->hash, data + pos, n);
			if (lit->data != NULL)
				memcpy(lit->data + (lit->len - r->lit_left), data + pos, n);
			r->lit_left -= n;
			pos += n;
			if (r->lit_left == 0)
				r->in_literal = false;
			continue;
		}
		const unsigned char *lf = memchr(data + pos, '\n', len - pos);
		size_t n = lf != NULL ? (size_t)(lf - (data + pos)) + 1 : len - pos;
		if (buf_append(&r->text, data + pos, n) < 0) {
			*error_r = "response text longer than the limit";
			return -1;
		}
		pos += n;
		if (lf == NULL)
			break;
		size_t tl = r->text.len;
		if (tl - r->line_start < 2 || r->text.data[tl - 2] != '\r') {
			*error_r = "response line ends in a bare LF";
			return -1;
		}
		int ret = imap_resp_reader_literal_start(r, tl - 2, error_r);
		if (ret < 0)
			return -1;
		if (ret > 0)
			continue;
		r->complete = true;
		*used_r = pos;
		return 1;
	}
	*used_r = pos;
	return 0;
}

/* --- parser --- */

struct imap_resp_cursor {
	const char *p, *end;
	const struct imap_resp_reader *r;
	size_t lit_idx;
	struct pool *pool;
	const char *error;
};

static char *imap_resp_upper(struct pool *pool, const char *s, size_t n)
{
	char *u = pool_memdup(pool, s, n);
	for (size_t i = 0; i < n; i++)
		u[i] = (char)toupper((unsigned char)u[i]);
	return u;
}

static bool imap_resp_at_crlf(const struct imap_resp_cursor *c)
{
	return c->end - c->p >= 2 && c->p[0] == '\r' && c->p[1] == '\n';
}

static bool imap_resp_atom_char(char ch)
{
	return ch != ' ' && ch != '(' && ch != ')' && ch != '"' && ch != '{' && ch != '\r' &&
	       ch != '\n' && (unsigned char)ch >= 0x20 && ch != 0x7f;
}

/* An atom, with "[...]" sections spanning any characters up to the matching "]". */
static bool imap_resp_atom(struct imap_resp_cursor *c, const char **s_r, size_t *n_r)
{
	const char *start = c->p;
	while (c->p < c->end && imap_resp_atom_char(*c->p)) {
		if (*c->p == '[') {
			int depth = 0;
			while (c->p < c->end && *c->p != '\r') {
				if (*c->p == '[')
					depth++;
				else if (*c->p == ']' && --depth == 0)
					break;
				c->p++;
			}
			if (c->p == c->end || *c->p != ']') {
				c->error = "unterminated [ in atom";
				return false;
			}
		}
		c->p++;
	}
	*s_r = start;
	*n_r = (size_t)(c->p - start);
	return *n_r > 0;
}

static struct imap_val *imap_resp_value(struct imap_resp_cursor *c, int depth);

static bool imap_resp_list_items(struct imap_resp_cursor *c, struct imap_val *list, int depth,
				 char close)
{
	struct imap_val **tail = &list->list;
	for (;;) {
		while (c->p < c->end && *c->p == ' ')
			c->p++;
		if (c->p == c->end) {
			c->error = "unterminated list";
			return false;
		}
		if (close != '\0' && *c->p == close) {
			c->p++;
			return true;
		}
		if (close == '\0' && imap_resp_at_crlf(c))
			return true;
		struct imap_val *v = imap_resp_value(c, depth);
		if (v == NULL)
			return false;
		*tail = v;
		tail = &v->next;
		list->len++;
	}
}

static struct imap_val *imap_resp_quoted(struct imap_resp_cursor *c, struct imap_val *v)
{
	const char *start = ++c->p;
	size_t n = 0;
	const char *q = start;
	while (q < c->end && *q != '"') {
		if (*q == '\r' || *q == '\n') {
			c->error = "CR or LF in a quoted string";
			return NULL;
		}
		if (*q == '\\')
			q++;
		q++;
		n++;
	}
	if (q >= c->end) {
		c->error = "unterminated quoted string";
		return NULL;
	}
	char *s = pool_alloc(c->pool, n + 1);
	size_t k = 0;
	for (const char *p = start; p < q; p++) {
		if (*p == '\\')
			p++;
		s[k++] = *p;
	}
	v->type = IMAP_VAL_STRING;
	v->str = s;
	v->len = n;
	c->p = q + 1;
	return v;
}

static struct imap_val *imap_resp_literal(struct imap_resp_cursor *c, struct imap_val *v)
{
	if (*c->p == '~')
		c->p++;
	c->p++; /* '{' */
	const char *digits = c->p;
	while (c->p < c->end && isdigit((unsigned char)*c->p))
		c->p++;
	uint32_t n;
	if (!imap_resp_u32(digits, (size_t)(c->p - digits), &n) || c->end - c->p < 3 ||
	    c->p[0] != '}' || c->p[1] != '\r' || c->p[2] != '\n') {
		c->error = "malformed literal";
		return NULL;
	}
	c->p += 3;
	if (c->lit_idx >= c->r->lit_count || c->r->lits[c->lit_idx].len != n) {
		c->error = "literal marker does not match the framed literal";
		return NULL;
	}
	const struct imap_resp_lit *lit = &c->r->lits[c->lit_idx++];
	v->type = IMAP_VAL_LITERAL;
	v->str = (const char *)lit->data;
	v->len = lit->len;
	v->hash = lit->hash;
	return v;
}

static struct imap_val *imap_resp_value(struct imap_resp_cursor *c, int depth)
{
	if (depth > IMAP_RESP_DEPTH_MAX) {
		c->error = "lists nested too deeply";
		return NULL;
	}
	struct imap_val *v = pool_alloc(c->pool, sizeof(*v));
	char ch = *c->p;
	if (ch == '(') {
		c->p++;
		v->type = IMAP_VAL_LIST;
		return imap_resp_list_items(c, v, depth + 1, ')') ? v : NULL;
	}
	if (ch == '"')
		return imap_resp_quoted(c, v);
	if (ch == '{' || (ch == '~' && c->end - c->p > 1 && c->p[1] == '{'))
		return imap_resp_literal(c, v);
	const char *s;
	size_t n;
	if (!imap_resp_atom(c, &s, &n)) {
		if (c->error == NULL)
			c->error = "unexpected character in response";
		return NULL;
	}
	if (n == 3 && strncasecmp(s, "NIL", 3) == 0) {
		v->type = IMAP_VAL_NIL;
		v->str = "NIL";
		v->len = 3;
		return v;
	}
	v->type = IMAP_VAL_ATOM;
	v->str = pool_memdup(c->pool, s, n);
	v->len = n;
	return v;
}

/* After a status name: [SP "[" code [SP args] "]"] [SP text] CRLF, nothing after. */
static int imap_resp_status_rest(struct imap_resp_cursor *c, struct imap_resp *resp)
{
	resp->is_status = true;
	resp->code_args = "";
	resp->text = "";
	if (c->p < c->end && *c->p == ' ')
		c->p++;
	if (c->p < c->end && *c->p == '[') {
		const char *start = ++c->p;
		while (c->p < c->end && *c->p != ']' && *c->p != '\r')
			c->p++;
		if (c->p == c->end || *c->p != ']') {
			c->error = "unterminated response code";
			return -1;
		}
		const char *sp = memchr(start, ' ', (size_t)(c->p - start));
		const char *name_end = sp != NULL ? sp : c->p;
		resp->code = imap_resp_upper(c->pool, start, (size_t)(name_end - start));
		if (sp != NULL)
			resp->code_args = pool_memdup(c->pool, sp + 1, (size_t)(c->p - sp - 1));
		c->p++;
		if (c->p < c->end && *c->p == ' ')
			c->p++;
	}
	const char *start = c->p;
	while (c->p < c->end && *c->p != '\r')
		c->p++;
	resp->text = pool_memdup(c->pool, start, (size_t)(c->p - start));
	if (!imap_resp_at_crlf(c) || c->p + 2 != c->end) {
		c->error = "status response text is not one line";
		return -1;
	}
	return 1;
}

int imap_resp_parse(const struct imap_resp_reader *r, struct pool *pool, struct imap_resp *resp,
		    const char **error_r)
{
	struct imap_resp_cursor c = {
		.p = (const char *)r->text.data,
		.end = (const char *)r->text.data + r->text.len,
		.r = r,
		.pool = pool,
	};
	memset(resp, 0, sizeof(*resp));
	if (!r->complete || r->text.len < 2) {
		*error_r = "no complete response";
		return -1;
	}
	if (c.p[0] == '+') {
		resp->kind = IMAP_RESP_CONT;
		c.p++;
		if (c.p < c.end && *c.p == ' ')
			c.p++;
		const char *start = c.p;
		while (c.p < c.end && *c.p != '\r')
			c.p++;
		resp->text = pool_memdup(pool, start, (size_t)(c.p - start));
		resp->code_args = "";
		return 1;
	}
	const char *s;
	size_t n;
	if (c.p[0] == '*' && c.end - c.p > 1 && c.p[1] == ' ') {
		resp->kind = IMAP_RESP_UNTAGGED;
		c.p += 2;
	} else {
		resp->kind = IMAP_RESP_TAGGED;
		if (!imap_resp_atom(&c, &s, &n) || c.p == c.end || *c.p != ' ') {
			*error_r = "malformed tag";
			return -1;
		}
		resp->tag = pool_memdup(pool, s, n);
		c.p++;
	}
	if (!imap_resp_atom(&c, &s, &n)) {
		*error_r = "missing response name";
		return -1;
	}
	if (resp->kind == IMAP_RESP_UNTAGGED && isdigit((unsigned char)s[0])) {
		if (!imap_resp_u32(s, n, &resp->num) || c.p == c.end || *c.p != ' ') {
			*error_r = "malformed message number";
			return -1;
		}
		resp->has_num = true;
		c.p++;
		if (!imap_resp_atom(&c, &s, &n)) {
			*error_r = "missing response name after the number";
			return -1;
		}
	}
	resp->name = imap_resp_upper(pool, s, n);
	const char *nm = resp->name;
	bool status = strcmp(nm, "OK") == 0 || strcmp(nm, "NO") == 0 || strcmp(nm, "BAD") == 0 ||
		      (resp->kind == IMAP_RESP_UNTAGGED &&
		       (strcmp(nm, "BYE") == 0 || strcmp(nm, "PREAUTH") == 0));
	if (resp->kind == IMAP_RESP_TAGGED && !status) {
		*error_r = "tagged response is not OK, NO or BAD";
		return -1;
	}
	if (status && !resp->has_num) {
		if (imap_resp_status_rest(&c, resp) < 0) {
			*error_r = c.error;
			return -1;
		}
		return 1;
	}
	struct imap_val top = {.type = IMAP_VAL_LIST};
	if (!imap_resp_list_items(&c, &top, 0, '\0')) {
		*error_r = c.error;
		return -1;
	}
	if (c.p + 2 != c.end) {
		*error_r = "data after the end of the response";
		return -1;
	}
	if (c.lit_idx != r->lit_count) {
		*error_r = "literal outside any value";
		return -1;
	}
	resp->args = top.list;
	return 1;
}

bool imap_resp_u32(const char *s, size_t n, uint32_t *n_r)
{
	uint64_t v = 0;
	if (n == 0 || n > 10)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > UINT32_MAX)
		return false;
	*n_r = (uint32_t)v;
	return true;
}

bool imap_val_is(const struct imap_val *v, const char *atom)
{
	return v != NULL && v->type == IMAP_VAL_ATOM && strcasecmp(v->str, atom) == 0;
}

bool imap_val_u32(const struct imap_val *v, uint32_t *n_r)
{
	return v != NULL && v->type == IMAP_VAL_ATOM && imap_resp_u32(v->str, v->len, n_r);
}

bool imap_val_u64(const struct imap_val *v, uint64_t *n_r)
{
	uint64_t n = 0;
	if (v == NULL || v->type != IMAP_VAL_ATOM || v->len == 0 || v->len > 19)
		return false;
	for (size_t i = 0; i < v->len; i++) {
		if (!isdigit((unsigned char)v->str[i]))
			return false;
		n = n * 10 + (uint64_t)(v->str[i] - '0');
	}
	*n_r = n;
	return true;
}

bool imap_val_nstring(const struct imap_val *v, bool nil_ok, size_t *len_r, uint64_t *hash_r)
{
	if (v == NULL)
		return false;
	switch (v->type) {
	case IMAP_VAL_STRING:
		*len_r = v->len;
		*hash_r = imap_resp_hash(IMAP_RESP_HASH_INIT, (const unsigned char *)v->str, v->len);
		return true;
	case IMAP_VAL_LITERAL:
		*len_r = v->len;
		*hash_r = v->hash;
		return true;
	case IMAP_VAL_NIL:
		*len_r = 0;
		*hash_r = IMAP_RESP_HASH_INIT;
		return nil_ok;
	default:
		return false;
	}
}
