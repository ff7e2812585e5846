/* header.c: header field iteration and unfolding.
 * Traps: bare LF is a line end as much as CRLF; a bare CR is data; a header that never reaches
 * an empty line ends at the end of the input; a continuation line before the first field is
 * skipped as not-a-field. */
#include "header.h"

#include <string.h>
#include <strings.h>

#include "lib/xmalloc.h"

void mail_header_iter_init(struct mail_header_iter *iter, const void *header, size_t len)
{
	iter->data = header;
	iter->len = len;
	iter->pos = 0;
	iter->done = false;
}

/* End of the line starting at pos: the offset of its LF, or len. */
static size_t header_line_end(const unsigned char *d, size_t len, size_t pos)
{
	const unsigned char *nl = memchr(d + pos, '\n', len - pos);
	return nl == NULL ? len : (size_t)(nl - d);
}

static bool header_line_empty(const unsigned char *d, size_t pos, size_t le)
{
	return le == pos || (le == pos + 1 && d[pos] == '\r');
}

int mail_header_iter_next(struct mail_header_iter *iter, struct mail_header_field *field_r)
{
	const unsigned char *d = iter->data;
	size_t len = iter->len;

	while (!iter->done && iter->pos < len) {
		size_t start = iter->pos;
		size_t le = header_line_end(d, len, start);
		if (header_line_empty(d, start, le)) {
			iter->done = true;
			break;
		}
		/* the field's extent: this line plus continuation lines */
		size_t end = le < len ? le + 1 : len;
		size_t vend = le; /* value end: before the final line end */
		while (end < len && (d[end] == ' ' || d[end] == '\t')) {
			le = header_line_end(d, len, end);
			vend = le;
			end = le < len ? le + 1 : len;
		}
		if (vend > start && d[vend - 1] == '\r')
			vend--;
		iter->pos = end;

		if (d[start] == ' ' || d[start] == '\t')
			continue; /* continuation without a field */
		const unsigned char *colon = memchr(d + start, ':', vend - start);
		if (colon == NULL)
			continue;
		size_t name_end = (size_t)(colon - d);
		while (name_end > start && (d[name_end - 1] == ' ' || d[name_end - 1] == '\t'))
			name_end--;
		if (name_end == start)
			continue;
		bool ok = true;
		for (size_t i = start; i < name_end; i++) {
			/* ftext = %d33-57 / %d59-126 */
			if (d[i] < 33 || d[i] > 126) {
				ok = false;
				break;
			}
		}
		if (!ok)
			continue;
		field_r->name = d + start;
		field_r->name_len = name_end - start;
		field_r->value = colon + 1;
		field_r->value_len = vend - (size_t)(colon + 1 - d);
		field_r->offset = start;
		field_r->size = end - start;
		return 1;
	}
	iter->done = true;
	return 0;
}

bool mail_header_name_is(const struct mail_header_field *field, const char *name)
{
	size_t n = strlen(name);
	return field->name_len == n && strncasecmp((const char *)field->name, name, n) == 0;
}

int mail_header_iter_next_named(struct mail_header_iter *iter, const char *name,
				struct mail_header_field *field_r)
{
	while (mail_header_iter_next(iter, field_r) > 0) {
		if (mail_header_name_is(field_r, name))
			return 1;
	}
	return 0;
}

bool mail_header_find(const void *header, size_t len, const char *name,
		      struct mail_header_field *field_r)
{
	struct mail_header_iter iter;
	mail_header_iter_init(&iter, header, len);
	return mail_header_iter_next_named(&iter, name, field_r) > 0;
}

/* Bounds of the unfolded, trimmed value and its length without line ends. */
static size_t header_unfold_bounds(const unsigned char *v, size_t len, size_t *start_r,
				   size_t *end_r)
{
	size_t s = 0, e = len;
	while (s < e && (v[s] == ' ' || v[s] == '\t' || v[s] == '\r' || v[s] == '\n'))
		s++;
	while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t' || v[e - 1] == '\r' || v[e - 1] == '\n'))
		e--;
	size_t n = 0;
	for (size_t i = s; i < e; i++) {
		if (v[i] == '\n' || (v[i] == '\r' && i + 1 < e && v[i + 1] == '\n'))
			continue;
		n++;
	}
	*start_r = s;
	*end_r = e;
	return n;
}

static size_t header_unfold_copy(unsigned char *dst, const unsigned char *v, size_t s, size_t e)
{
	size_t j = 0;
	for (size_t i = s; i < e; i++) {
		if (v[i] == '\n' || (v[i] == '\r' && i + 1 < e && v[i + 1] == '\n'))
			continue;
		dst[j++] = v[i];
	}
	return j;
}

char *mail_header_unfold(struct pool *pool, const void *value, size_t len, size_t *len_r)
{
	size_t s, e;
	size_t n = header_unfold_bounds(value, len, &s, &e);
	char *dst = pool_alloc(pool, n + 1);
	*len_r = header_unfold_copy((unsigned char *)dst, value, s, e);
	dst[*len_r] = '\0';
	return dst;
}

int mail_header_unfold_buf(struct buf *out, const void *value, size_t len)
{
	size_t s, e;
	size_t n = header_unfold_bounds(value, len, &s, &e);
	if (buf_reserve(out, n) < 0)
		return -1;
	buf_commit(out, header_unfold_copy(buf_tail(out), value, s, e));
	return 0;
}

size_t mail_header_block_size(const void *msg, size_t len)
{
	const unsigned char *d = msg;
	size_t pos = 0;
	while (pos < len) {
		size_t le = header_line_end(d, len, pos);
		if (header_line_empty(d, pos, le))
			return le < len ? le + 1 : len;
		pos = le < len ? le + 1 : len;
	}
	return len;
}
