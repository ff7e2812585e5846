/* mime-param.c: Content-Type / Content-Disposition values and RFC 2231 parameters.
 * Traps: "name*" alone is an extended value without sections; "name*0*" carries the
 * charset'lang' prefix but "name*1*" does not; plain "name" and "name*0" are different
 * parameters; merging sorts (not nested loops) so 100,000 parameters stay cheap. */
#include "mime-param.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/buf.h"
#include "lib/xmalloc.h"
#include "mail/charset.h"

#define MIME_PARAM_SECTION_MAX 999999UL

bool mime_is_token_char(unsigned char c)
{
	/* tspecials := "(" / ")" / "<" / ">" / "@" / "," / ";" / ":" / "\" / <"> / "/" / "[" /
	 *              "]" / "?" / "=" */
	if (c <= 0x20 || c >= 0x7f)
		return false;
	return strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

struct param_lex {
	const unsigned char *s;
	size_t len, pos;
};

static void param_skip_cfws(struct param_lex *lx)
{
	while (lx->pos < lx->len) {
		unsigned char c = lx->s[lx->pos];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			lx->pos++;
		} else if (c == '(') {
			size_t depth = 0;
			for (; lx->pos < lx->len; lx->pos++) {
				c = lx->s[lx->pos];
				if (c == '\\') {
					lx->pos++;
				} else if (c == '(') {
					depth++;
				} else if (c == ')' && --depth == 0) {
					lx->pos++;
					break;
				}
			}
		} else {
			break;
		}
	}
}

static size_t param_token(struct param_lex *lx)
{
	size_t start = lx->pos;
	while (lx->pos < lx->len && mime_is_token_char(lx->s[lx->pos]))
		lx->pos++;
	return lx->pos - start;
}

/* A parameter value at lx->pos into scratch (quoting removed). */
static void param_value(struct param_lex *lx, struct buf *scratch)
{
	buf_reset(scratch);
	if (lx->pos < lx->len && lx->s[lx->pos] == '"') {
		for (lx->pos++; lx->pos < lx->len; lx->pos++) {
			unsigned char c = lx->s[lx->pos];
			if (c == '"') {
				lx->pos++;
				break;
			}
			if (c == '\\' && lx->pos + 1 < lx->len)
				c = lx->s[++lx->pos];
			else if (c == '\r' || c == '\n')
				continue;
			buf_append_byte(scratch, c);
		}
		/* anything up to the next ";" after the closing quote is junk */
		while (lx->pos < lx->len && lx->s[lx->pos] != ';')
			lx->pos++;
		return;
	}
	/* unquoted: a token by the RFC; in practice anything up to ";", minus comments and the
	 * WSP around them */
	size_t keep = 0; /* scratch length up to the last non-WSP byte */
	while (lx->pos < lx->len && lx->s[lx->pos] != ';') {
		unsigned char c = lx->s[lx->pos];
		if (c == '(') {
			param_skip_cfws(lx);
			continue;
		}
		lx->pos++;
		if (c == '\r' || c == '\n')
			continue;
		buf_append_byte(scratch, c);
		if (c != ' ' && c != '\t')
			keep = scratch->len;
	}
	scratch->len = keep;
}

/* ---- RFC 2231 merging ---- */

struct param_key {
	unsigned int raw_idx;
	const char *base_lc;  /* lowercase base name */
	size_t base_len;
	bool is2231;          /* "name*..." */
	bool ext_seg;         /* this segment is extended (percent-encoded) */
	bool sectioned;       /* "name*N" or "name*N*" */
	unsigned long section;
};

static int param_key_cmp(const void *a, const void *b)
{
	const struct param_key *x = a, *y = b;
	size_t n = x->base_len < y->base_len ? x->base_len : y->base_len;
	int c = memcmp(x->base_lc, y->base_lc, n);
	if (c != 0)
		return c;
	if (x->base_len != y->base_len)
		return x->base_len < y->base_len ? -1 : 1;
	if (x->is2231 != y->is2231)
		return x->is2231 ? 1 : -1;
	if (x->sectioned != y->sectioned) /* "name*" and "name*0..." are different forms */
		return x->sectioned ? 1 : -1;
	if (x->section != y->section)
		return x->section < y->section ? -1 : 1;
	return x->raw_idx < y->raw_idx ? -1 : x->raw_idx > y->raw_idx ? 1 : 0;
}

static void param_split_name(struct pool *pool, const struct mime_param_raw *raw,
			     struct param_key *key)
{
	const char *name = raw->name;
	size_t n = raw->name_len;
	const char *star = memchr(name, '*', n);
	key->is2231 = false;
	key->ext_seg = false;
	key->sectioned = false;
	key->section = 0;
	key->base_len = n;
	if (star != NULL && star > name) {
		size_t b = (size_t)(star - name);
		const char *p = star + 1, *end = name + n;
		if (p == end) {
			key->is2231 = true; /* "name*" */
			key->ext_seg = true;
			key->base_len = b;
		} else if (*p >= '0' && *p <= '9') {
			unsigned long sec = 0;
			while (p < end && *p >= '0' && *p <= '9' && sec <= MIME_PARAM_SECTION_MAX)
				sec = sec * 10 + (unsigned long)(*p++ - '0');
			bool ext = p < end && *p == '*';
			if (ext)
				p++;
			if (p == end && sec <= MIME_PARAM_SECTION_MAX) {
				key->is2231 = true;
				key->sectioned = true;
				key->ext_seg = ext;
				key->section = sec;
				key->base_len = b;
			}
		}
	}
	char *lc = pool_memdup(pool, name, key->base_len);
	for (size_t i = 0; i < key->base_len; i++) {
		if (lc[i] >= 'A' && lc[i] <= 'Z')
			lc[i] = (char)(lc[i] - 'A' + 'a');
	}
	key->base_lc = lc;
}

static int param_hex(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static void param_pct_decode(struct buf *out, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int h1, h2;
		if (s[i] == '%' && i + 2 < n && (h1 = param_hex((unsigned char)s[i + 1])) >= 0 &&
		    (h2 = param_hex((unsigned char)s[i + 2])) >= 0) {
			buf_append_byte(out, (unsigned char)(h1 << 4 | h2));
			i += 2;
		} else {
			buf_append_byte(out, (unsigned char)s[i]);
		}
	}
}

/* Merge keys[a..b) (one 2231 group, sorted by section) into item. */
static void param_merge_2231(struct pool *pool, const struct mime_params *params,
			     const struct param_key *keys, size_t a, size_t b,
			     struct mime_param *item, struct buf *bytes, struct buf *utf8)
{
	bool extended = false;
	for (size_t k = a; k < b; k++)
		extended |= keys[k].ext_seg;
	buf_reset(bytes);
	const char *charset = NULL, *lang = NULL;
	size_t charset_len = 0;
	unsigned long last = (unsigned long)-1;
	for (size_t k = a; k < b; k++) {
		if (k > a && keys[k].section == last)
			continue; /* duplicate section: the first wins */
		last = keys[k].section;
		const struct mime_param_raw *r = &params->raw[keys[k].raw_idx];
		const char *v = r->value;
		size_t vn = r->value_len;
		if (k == a && keys[k].ext_seg) {
			/* charset'lang'value in the first extended section */
			const char *q1 = memchr(v, '\'', vn);
			const char *q2 = q1 == NULL ? NULL : memchr(q1 + 1, '\'', vn - (size_t)(q1 + 1 - v));
			if (q2 != NULL) {
				charset = v;
				charset_len = (size_t)(q1 - v);
				lang = pool_memdup(pool, q1 + 1, (size_t)(q2 - q1 - 1));
				vn -= (size_t)(q2 + 1 - v);
				v = q2 + 1;
			}
		}
		if (keys[k].ext_seg)
			param_pct_decode(bytes, v, vn);
		else
			buf_append(bytes, v, vn);
	}
	item->extended = extended;
	item->continued = false;
	for (size_t k = a; k < b; k++)
		item->continued |= keys[k].sectioned;
	if (!extended) {
		item->value = pool_memdup(pool, bytes->len ? (const char *)bytes->data : "",
					  bytes->len);
		item->value_len = bytes->len;
		return;
	}
	buf_reset(utf8);
	if (charset_to_utf8(utf8, charset, charset_len, bytes->data, bytes->len) < 0)
		xabort("mime-param: conversion buffer");
	item->value = pool_memdup(pool, utf8->len ? (const char *)utf8->data : "", utf8->len);
	item->value_len = utf8->len;
	item->charset = charset == NULL ? "" : pool_memdup(pool, charset, charset_len);
	item->language = lang == NULL ? "" : lang;
}

static void param_merge(struct pool *pool, struct mime_params *params)
{
	unsigned int n = params->raw_count;
	if (n == 0)
		return;
	struct param_key *keys = xcalloc(n, sizeof(*keys));
	for (unsigned int i = 0; i < n; i++) {
		keys[i].raw_idx = i;
		param_split_name(pool, &params->raw[i], &keys[i]);
	}
	qsort(keys, n, sizeof(*keys), param_key_cmp);

	struct mime_param *items = pool_alloc_array(pool, n, sizeof(*items));
	unsigned int *first = xcalloc(n, sizeof(*first)); /* raw index of each item's first */
	unsigned int count = 0;
	struct buf bytes, utf8;
	/* both are bounded by the input in practice (decoding shrinks, UTF-8 output is at most
	 * 4 bytes per input byte); no artificial maximum that could fail half-way */
	buf_init(&bytes, SIZE_MAX / 2);
	buf_init(&utf8, SIZE_MAX / 2);

	for (size_t a = 0; a < n;) {
		size_t b = a + 1;
		if (keys[a].is2231) {
			while (b < n && keys[b].is2231 && keys[b].sectioned == keys[a].sectioned &&
			       keys[b].base_len == keys[a].base_len &&
			       memcmp(keys[b].base_lc, keys[a].base_lc, keys[a].base_len) == 0)
				b++;
		}
		struct mime_param *item = &items[count];
		const struct mime_param_raw *r = &params->raw[keys[a].raw_idx];
		item->name = pool_memdup(pool, r->name, keys[a].base_len);
		item->name_len = keys[a].base_len;
		unsigned int minidx = keys[a].raw_idx;
		for (size_t k = a; k < b; k++) {
			if (keys[k].raw_idx < minidx)
				minidx = keys[k].raw_idx;
		}
		if (keys[a].is2231) {
			param_merge_2231(pool, params, keys, a, b, item, &bytes, &utf8);
		} else {
			item->value = r->value;
			item->value_len = r->value_len;
		}
		first[count++] = minidx;
		a = b;
	}
	/* back into order of first appearance: sort indexes by first[] */
	struct mime_param *ordered = pool_alloc_array(pool, count, sizeof(*ordered));
	unsigned int *pos = xcalloc(n, sizeof(*pos)); /* raw index -> item + 1 */
	for (unsigned int i = 0; i < count; i++)
		pos[first[i]] = i + 1;
	unsigned int j = 0;
	for (unsigned int i = 0; i < n; i++) {
		if (pos[i] != 0)
			ordered[j++] = items[pos[i] - 1];
	}
	params->items = ordered;
	params->count = count;
	free(pos);
	free(first);
	free(keys);
	buf_free(&bytes);
	buf_free(&utf8);
}

bool mime_param_parse_value(struct pool *pool, const void *value, size_t len, bool want_subtype,
			    unsigned int max_params, const char **type_r, const char **subtype_r,
			    struct mime_params *params_r)
{
	struct param_lex lx = { .s = value, .len = len };
	memset(params_r, 0, sizeof(*params_r));

	param_skip_cfws(&lx);
	size_t ts = lx.pos, tn = param_token(&lx);
	if (tn == 0)
		return false;
	const char *subtype = NULL;
	if (want_subtype) {
		param_skip_cfws(&lx);
		if (lx.pos >= lx.len || lx.s[lx.pos] != '/')
			return false;
		lx.pos++;
		param_skip_cfws(&lx);
		size_t ss = lx.pos, sn = param_token(&lx);
		if (sn == 0)
			return false;
		subtype = pool_memdup(pool, lx.s + ss, sn);
	}
	*type_r = pool_memdup(pool, lx.s + ts, tn);
	if (subtype_r != NULL)
		*subtype_r = subtype;

	/* count the "=" for an upper bound of the parameters */
	size_t max = 0;
	for (size_t i = lx.pos; i < len && max < max_params; i++) {
		if (lx.s[i] == '=')
			max++;
	}
	if (max == 0)
		return true;
	struct mime_param_raw *raw = pool_alloc_array(pool, max, sizeof(*raw));
	unsigned int count = 0;
	struct buf scratch;
	buf_init(&scratch, len + 1);
	while (lx.pos < lx.len && count < max) {
		param_skip_cfws(&lx);
		if (lx.pos < lx.len && lx.s[lx.pos] == ';') {
			lx.pos++;
			continue;
		}
		if (lx.pos >= lx.len)
			break;
		size_t ns = lx.pos, nn = param_token(&lx);
		if (nn == 0) {
			lx.pos++; /* junk byte */
			continue;
		}
		param_skip_cfws(&lx);
		if (lx.pos >= lx.len || lx.s[lx.pos] != '=') {
			while (lx.pos < lx.len && lx.s[lx.pos] != ';')
				lx.pos++;
			continue;
		}
		lx.pos++;
		param_skip_cfws(&lx);
		param_value(&lx, &scratch);
		raw[count].name = pool_memdup(pool, lx.s + ns, nn);
		raw[count].name_len = nn;
		raw[count].value = pool_memdup(pool, scratch.len ? (const char *)scratch.data : "",
					       scratch.len);
		raw[count].value_len = scratch.len;
		count++;
	}
	buf_free(&scratch);
	params_r->raw = raw;
	params_r->raw_count = count;
	param_merge(pool, params_r);
	return true;
}

const struct mime_param *mime_params_find(const struct mime_params *params, const char *name)
{
	size_t n = strlen(name);
	const struct mime_param *best = NULL;
	for (unsigned int i = 0; i < params->count; i++) {
		const struct mime_param *p = &params->items[i];
		if (p->name_len != n || strncasecmp(p->name, name, n) != 0)
			continue;
		if (p->extended)
			return p;
		if (best == NULL)
			best = p;
	}
	return best;
}
