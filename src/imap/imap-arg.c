/* imap-arg.c: per-production checks of parsed arguments and string writers for responses.
 * Traps: the parser's atoms are a superset of ATOM (flags, wildcards, sections), so every getter
 * re-checks the characters; numbers are overflow-checked digit by digit; writers compute the whole
 * output size first so a full buffer never receives half a string. */
#include "imap-arg.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "lib/xmalloc.h"

static bool arg_chars_all(const char *s, size_t len, bool (*ok)(unsigned char))
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!ok((unsigned char)s[i]))
			return false;
	}
	return true;
}

static bool arg_is_list_char(unsigned char c)
{
	/* list-char = ATOM-CHAR / list-wildcards / resp-specials */
	return c == '%' || c == '*' || imap_is_astring_char(c);
}

static bool arg_is_atom_char(unsigned char c)
{
	return imap_is_atom_char(c);
}

static bool arg_is_astring_char(unsigned char c)
{
	return imap_is_astring_char(c);
}

bool imap_arg_is_atom(const struct imap_arg *arg)
{
	return arg->type == IMAP_ARG_ATOM && arg_chars_all(arg->str, arg->len, arg_is_atom_char);
}

bool imap_arg_atom_equals(const struct imap_arg *arg, const char *name)
{
	size_t n = strlen(name);
	return imap_arg_is_atom(arg) && arg->len == n && strncasecmp(arg->str, name, n) == 0;
}

bool imap_arg_is_nil(const struct imap_arg *arg)
{
	return arg->type == IMAP_ARG_NIL;
}

bool imap_arg_get_string(const struct imap_arg *arg, const char **str_r, size_t *len_r)
{
	if (arg->type != IMAP_ARG_QUOTED && (arg->type != IMAP_ARG_LITERAL || arg->literal8))
		return false;
	*str_r = arg->str;
	*len_r = arg->len;
	return true;
}

static bool arg_get_word(const struct imap_arg *arg, bool (*ok)(unsigned char), const char **str_r,
			 size_t *len_r)
{
	if (arg->type == IMAP_ARG_NIL && arg->nil_text != NULL) {
		/* the atom NIL is a valid astring: a mailbox or a user may be called "nil" */
		*str_r = arg->nil_text;
		*len_r = strlen(arg->nil_text);
		return true;
	}
	if (arg->type == IMAP_ARG_ATOM) {
		if (!arg_chars_all(arg->str, arg->len, ok))
			return false;
		*str_r = arg->str;
		*len_r = arg->len;
		return true;
	}
	return imap_arg_get_string(arg, str_r, len_r);
}

bool imap_arg_get_astring(const struct imap_arg *arg, const char **str_r, size_t *len_r)
{
	return arg_get_word(arg, arg_is_astring_char, str_r, len_r);
}

bool imap_arg_get_list_mailbox(const struct imap_arg *arg, const char **str_r, size_t *len_r)
{
	return arg_get_word(arg, arg_is_list_char, str_r, len_r);
}

bool imap_arg_get_nstring(const struct imap_arg *arg, const char **str_r, size_t *len_r)
{
	if (arg->type == IMAP_ARG_NIL) {
		*str_r = NULL;
		*len_r = 0;
		return true;
	}
	return imap_arg_get_string(arg, str_r, len_r);
}

bool imap_arg_get_literal(const struct imap_arg *arg, bool allow_literal8, const char **str_r,
			  size_t *len_r, bool *literal8_r)
{
	if (arg->type != IMAP_ARG_LITERAL || (arg->literal8 && !allow_literal8))
		return false;
	*str_r = arg->str;
	*len_r = arg->len;
	if (literal8_r != NULL)
		*literal8_r = arg->literal8;
	return true;
}

bool imap_arg_get_flag(const struct imap_arg *arg, const char **str_r)
{
	if (arg->type != IMAP_ARG_ATOM || arg->len == 0)
		return false;
	/* flag-extension = "\" atom; flag-keyword = atom */
	size_t skip = arg->str[0] == '\\' ? 1 : 0;
	if (!arg_chars_all(arg->str + skip, arg->len - skip, arg_is_atom_char))
		return false;
	*str_r = arg->str;
	return true;
}

bool imap_arg_get_list(const struct imap_arg *arg, const struct imap_arg **list_r,
		       size_t *count_r)
{
	if (arg->type != IMAP_ARG_LIST)
		return false;
	*list_r = arg->list;
	*count_r = arg->count;
	return true;
}

/* 1*DIGIT up to max; leading zeros allowed unless nz. */
static bool arg_parse_digits(const char *s, size_t len, uint64_t max, bool nz, uint64_t *num_r)
{
	uint64_t n = 0;
	if (len == 0 || (nz && s[0] == '0'))
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		uint64_t d = (uint64_t)(s[i] - '0');
		if (n > (max - d) / 10)
			return false;
		n = n * 10 + d;
	}
	*num_r = n;
	return true;
}

bool imap_parse_number(const char *str, size_t len, uint32_t *num_r)
{
	uint64_t n;
	if (!arg_parse_digits(str, len, UINT32_MAX, false, &n))
		return false;
	*num_r = (uint32_t)n;
	return true;
}

bool imap_parse_nz_number(const char *str, size_t len, uint32_t *num_r)
{
	uint64_t n;
	if (!arg_parse_digits(str, len, UINT32_MAX, true, &n))
		return false;
	*num_r = (uint32_t)n;
	return true;
}

bool imap_parse_number64(const char *str, size_t len, uint64_t *num_r)
{
	return arg_parse_digits(str, len, (uint64_t)INT64_MAX, false, num_r);
}

bool imap_arg_get_number(const struct imap_arg *arg, uint32_t *num_r)
{
	return arg->type == IMAP_ARG_ATOM && imap_parse_number(arg->str, arg->len, num_r);
}

bool imap_arg_get_nz_number(const struct imap_arg *arg, uint32_t *num_r)
{
	return arg->type == IMAP_ARG_ATOM && imap_parse_nz_number(arg->str, arg->len, num_r);
}

bool imap_arg_get_number64(const struct imap_arg *arg, uint64_t *num_r)
{
	return arg->type == IMAP_ARG_ATOM && imap_parse_number64(arg->str, arg->len, num_r);
}

/* Length of the well-formed UTF-8 sequence at s (RFC 3629: no overlongs, no surrogates, at
 * most U+10FFFF), or 0. */
static size_t arg_utf8_len(const unsigned char *s, size_t len)
{
	unsigned char c = s[0];
	size_t n;
	unsigned char lo = 0x80, hi = 0xbf;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	if (len < n || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++) {
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	}
	return n;
}

/* Decide the form: 1 quoted (its length with quotes and escapes in *quoted_len_r), 0 a literal
 * is needed, -1 the string holds NUL. */
static int arg_quoted_len(const char *s, size_t len, bool utf8, size_t *quoted_len_r)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t qlen = 2;
	bool quotable = true;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = u[i];
		if (c == '\0')
			return -1;
		if (c == '\r' || c == '\n') {
			quotable = false;
		} else if (c >= 0x80) {
			size_t n = utf8 ? arg_utf8_len(u + i, len - i) : 0;
			if (n == 0) {
				quotable = false;
			} else {
				qlen += n;
				i += n - 1;
			}
			continue;
		} else if (c == '"' || c == '\\') {
			qlen++;
		}
		qlen++;
	}
	*quoted_len_r = quotable ? qlen : 0;
	return quotable ? 1 : 0;
}

static int arg_append_string(struct buf *b, const char *s, size_t len, bool utf8)
{
	size_t qlen;
	int form = arg_quoted_len(s, len, utf8, &qlen);
	if (form < 0)
		return -1;
	if (form == 0) {
		char head[32];
		int n = snprintf(head, sizeof(head), "{%zu}\r\n", len);
		size_t total;
		if (n < 0 || size_add((size_t)n, len, &total) < 0 || buf_reserve(b, total) < 0)
			return -1;
		buf_append(b, head, (size_t)n);
		buf_append(b, s, len);
		return 0;
	}
	if (buf_reserve(b, qlen) < 0)
		return -1;
	unsigned char *t = buf_tail(b);
	size_t j = 0;
	t[j++] = '"';
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '"' || s[i] == '\\')
			t[j++] = '\\';
		t[j++] = (unsigned char)s[i];
	}
	t[j++] = '"';
	buf_commit(b, j);
	return 0;
}

int imap_append_quoted_or_literal(struct buf *b, const char *s, size_t len)
{
	return arg_append_string(b, s, len, false);
}

int imap_append_quoted_or_literal_utf8(struct buf *b, const char *s, size_t len)
{
	return arg_append_string(b, s, len, true);
}

int imap_append_astring(struct buf *b, const char *s, size_t len)
{
	if (arg_chars_all(s, len, arg_is_astring_char) &&
	    !(len == 3 && strncasecmp(s, "NIL", 3) == 0))
		return buf_append(b, s, len);
	return imap_append_quoted_or_literal(b, s, len);
}

int imap_append_nstring(struct buf *b, const char *s, size_t len)
{
	if (s == NULL)
		return buf_append(b, "NIL", 3);
	return imap_append_quoted_or_literal(b, s, len);
}
