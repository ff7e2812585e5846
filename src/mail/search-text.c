/* search-text.c: a message's text for the search index (search-text.h).
 * Traps: every column keeps two bytes of its maximum for its "\n\n" end (a full column still
 * ends properly); values are trimmed after folding (folding collapses white space, so there
 * is at most one space at each end); an encoded part is cut before decoding when it could
 * not fit anyway, so a 50 MB text part costs no more than the column it can fill. */
#include "search-text.h"

#include <string.h>
#include <strings.h>

#include "mail/charset.h"
#include "mail/decode.h"
#include "mail/header.h"
#include "mail/html-text.h"
#include "mail/rfc2047.h"
#include "mail/search-fold.h"

void search_text_init(struct search_text *t)
{
	for (unsigned i = 0; i < SEARCH_COL_COUNT; i++)
		buf_init(&t->col[i], (i == SEARCH_COL_BODY ? SEARCH_TEXT_BODY_MAX
							   : SEARCH_TEXT_HDR_MAX) + 2);
}

void search_text_free(struct search_text *t)
{
	for (unsigned i = 0; i < SEARCH_COL_COUNT; i++)
		buf_free(&t->col[i]);
}

/* Drop the space folding may have left at either end of the value that starts at start. */
static void st_trim(struct buf *col, size_t start)
{
	if (col->len > start && col->data[col->len - 1] == ' ')
		col->len--;
	if (col->len > start && col->data[start] == ' ') {
		memmove(col->data + start, col->data + start + 1, col->len - start - 1);
		col->len--;
	}
	if (col->data != NULL)
		col->data[col->len] = '\0';
}

/* Fold s into col as (the rest of) a value, keeping the column's two end bytes free. */
static void st_fold(struct buf *col, const void *s, size_t len)
{
	size_t max = col->max;
	col->max = max - 2;
	if (col->len < col->max)
		search_fold_truncate(col, s, len);
	col->max = max;
}

/* Start a value: its separator. false when the column is full. */
static bool st_begin(struct buf *col)
{
	if (col->len + 3 > col->max)
		return false;
	if (col->len > 0)
		buf_append_byte(col, '\n');
	return true;
}

static void st_finish(struct buf *col)
{
	if (col->len > 0)
		buf_append(col, "\n\n", 2);
}

void search_text_header_value(struct buf *out, const void *value, size_t len,
			      const char *fallback)
{
	struct buf unfolded, decoded;
	buf_init(&unfolded, len + 1);
	buf_init(&decoded, 4 * len + 64);
	mail_header_unfold_buf(&unfolded, value, len);
	if (unfolded.len > 0 &&
	    rfc2047_decode(&decoded, unfolded.data, unfolded.len, fallback) >= 0) {
		size_t start = out->len;
		search_fold_truncate(out, decoded.data, decoded.len);
		st_trim(out, start);
	}
	buf_free(&unfolded);
	buf_free(&decoded);
}

/* "name: value" (with prefix first, "\n" for HDR) for every field of a header. */
static void st_header_lines(struct buf *col, const unsigned char *hdr, size_t len,
			    const char *fallback, bool hdr_form)
{
	struct mail_header_iter it;
	struct mail_header_field f;
	mail_header_iter_init(&it, hdr, len);
	while (mail_header_iter_next(&it, &f) == 1) {
		if (hdr_form) {
			if (col->len + 4 > col->max)
				return;
			buf_append_byte(col, '\n');
		} else if (!st_begin(col)) {
			return;
		}
		size_t start = col->len;
		st_fold(col, f.name, f.name_len);
		st_trim(col, start);
		if (col->len + 4 > col->max)
			return;
		buf_append(col, ": ", 2);
		size_t vstart = col->len;
		size_t max = col->max;
		col->max = max - 2;
		search_text_header_value(col, f.value, f.value_len, fallback);
		col->max = max;
		if (col->len == vstart) /* "name:" with an empty value: no trailing space */
			col->len--;
		col->data[col->len] = '\0';
	}
}

/* The values of the fields called name. */
static void st_field_values(struct buf *col, const unsigned char *hdr, size_t len,
			    const char *name, const char *fallback)
{
	struct mail_header_iter it;
	struct mail_header_field f;
	mail_header_iter_init(&it, hdr, len);
	while (mail_header_iter_next_named(&it, name, &f) == 1) {
		if (!st_begin(col))
			return;
		size_t max = col->max;
		col->max = max - 2;
		search_text_header_value(col, f.value, f.value_len, fallback);
		col->max = max;
	}
}

static bool st_is_ascii_label(const char *cs)
{
	return strcasecmp(cs, "us-ascii") == 0 || strcasecmp(cs, "ascii") == 0 ||
	       strcasecmp(cs, "iso646-us") == 0 || strcasecmp(cs, "us") == 0;
}

/* The charset of the first text leaf when it is not ASCII, else NULL. */
static const char *st_fallback_charset(const struct mime_part *p)
{
	if ((p->flags & (MIME_PART_FLAG_MULTIPART | MIME_PART_FLAG_RFC822)) != 0) {
		for (const struct mime_part *c = p->children; c != NULL; c = c->next) {
			const char *cs = st_fallback_charset(c);
			if (cs != NULL)
				return cs;
		}
		return NULL;
	}
	if ((p->flags & MIME_PART_FLAG_TEXT) == 0 || (p->flags & MIME_PART_FLAG_OPAQUE) != 0)
		return NULL;
	const char *cs = mime_part_charset(p);
	return st_is_ascii_label(cs) ? NULL : cs;
}

/* The text of a text leaf into the body column. */
static void st_leaf_text(struct buf *col, const unsigned char *msg, const struct mime_part *p)
{
	size_t n = p->body_size;
	/* base64 is the densest encoding we undo (4 bytes for 3); more input than that cannot
	 * fit in what is left of the column */
	size_t room = col->max > col->len ? col->max - col->len : 0;
	if (n / 2 > room + 1024)
		n = 2 * (room + 1024);
	struct buf dec, utf, html;
	buf_init(&dec, n + 16);
	buf_init(&utf, 4 * n + 64);
	buf_init(&html, 4 * n + 64);
	if (decode_all(&dec, p->enc, 0, msg + p->body_offset, n) == 0) {
		const char *cs = mime_part_charset(p);
		if (st_is_ascii_label(cs) && dec.len > 0 && memchr(dec.data, 0x1b, dec.len) != NULL)
			cs = "iso-2022-jp"; /* raw JIS from old clients, unlabelled */
		charset_to_utf8(&utf, cs, strlen(cs), dec.data, dec.len);
		buf_free(&dec); /* the peak is what is alive at once: a delivery indexes in place */
		const struct buf *text = &utf;
		if (p->subtype_lc != NULL && strcmp(p->subtype_lc, "html") == 0) {
			html_to_text(&html, utf.data != NULL ? utf.data : (const unsigned char *)"",
				     utf.len);
			text = &html;
		}
		if (text->len > 0 && st_begin(col)) {
			size_t start = col->len;
			st_fold(col, text->data, text->len);
			st_trim(col, start);
		}
	}
	buf_free(&dec);
	buf_free(&utf);
	buf_free(&html);
}

static void st_name(struct buf *col, const struct mime_part *p)
{
	struct buf name;
	buf_init(&name, 64 * 1024);
	if (mime_part_filename(p, &name) == 1 && name.len > 0 && st_begin(col)) {
		size_t start = col->len;
		st_fold(col, name.data, name.len);
		st_trim(col, start);
	}
	buf_free(&name);
}

static void st_entity(struct buf *col, const unsigned char *msg, const struct mime_part *p,
		      const char *fallback)
{
	if ((p->flags & MIME_PART_FLAG_MULTIPART) != 0) {
		for (const struct mime_part *c = p->children; c != NULL; c = c->next)
			st_entity(col, msg, c, fallback);
		return;
	}
	st_name(col, p);
	if ((p->flags & MIME_PART_FLAG_RFC822) != 0) {
		const struct mime_part *m = mime_part_message(p);
		if (m == NULL)
			return;
		st_header_lines(col, msg + m->header_offset, m->header_size, fallback, false);
		st_entity(col, msg, m, fallback);
		return;
	}
	if ((p->flags & MIME_PART_FLAG_TEXT) != 0 && (p->flags & MIME_PART_FLAG_OPAQUE) == 0)
		st_leaf_text(col, msg, p);
}

void search_text_extract(struct search_text *t, const void *msg, const struct mime_part *root)
{
	static const char *const fields[SEARCH_COL_COUNT] = {
		[SEARCH_COL_SUBJECT] = "subject", [SEARCH_COL_FROM] = "from",
		[SEARCH_COL_TO] = "to",           [SEARCH_COL_CC] = "cc",
		[SEARCH_COL_BCC] = "bcc",
	};
	for (unsigned i = 0; i < SEARCH_COL_COUNT; i++)
		buf_reset(&t->col[i]);
	const unsigned char *m = msg;
	const unsigned char *hdr = m + root->header_offset;
	const char *fallback = st_fallback_charset(root);
	st_header_lines(&t->col[SEARCH_COL_HDR], hdr, root->header_size, fallback, true);
	for (unsigned i = SEARCH_COL_SUBJECT; i <= SEARCH_COL_BCC; i++)
		st_field_values(&t->col[i], hdr, root->header_size, fields[i], fallback);
	st_entity(&t->col[SEARCH_COL_BODY], m, root, fallback);
	for (unsigned i = 0; i < SEARCH_COL_COUNT; i++)
		st_finish(&t->col[i]);
}
