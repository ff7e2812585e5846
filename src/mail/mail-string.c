/* mail-string.c: quoted-or-literal writers for ENVELOPE and BODYSTRUCTURE.
 * Traps: the whole output size is computed before anything is written, so a full buffer never
 * receives half a string; NUL becomes U+FFFD (3 bytes) and that changes the literal's count. */
#include "mail-string.h"

#include <stdio.h>

#include "lib/xmalloc.h"

static const unsigned char mail_string_replacement[3] = { 0xef, 0xbf, 0xbd };

int mail_string_append(struct buf *b, const void *s, size_t len)
{
	const unsigned char *p = s;
	size_t qlen = 2, llen = 0, total;
	int literal = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = p[i];
		if (c == '\0') {
			literal = 1;
			llen += 3;
			continue;
		}
		llen++;
		if (c == '\r' || c == '\n' || c >= 0x80)
			literal = 1;
		else if (c == '"' || c == '\\')
			qlen += 2;
		else
			qlen++;
	}
	if (literal) {
		char head[32];
		int n = snprintf(head, sizeof(head), "{%zu}\r\n", llen);
		if (n < 0 || size_add((size_t)n, llen, &total) < 0 || buf_reserve(b, total) < 0)
			return -1;
		buf_append(b, head, (size_t)n);
		for (size_t i = 0; i < len; i++) {
			if (p[i] == '\0')
				buf_append(b, mail_string_replacement, 3);
			else
				buf_append_byte(b, p[i]);
		}
		return 0;
	}
	if (buf_reserve(b, qlen) < 0)
		return -1;
	unsigned char *t = buf_tail(b);
	size_t j = 0;
	t[j++] = '"';
	for (size_t i = 0; i < len; i++) {
		if (p[i] == '"' || p[i] == '\\')
			t[j++] = '\\';
		t[j++] = p[i];
	}
	t[j++] = '"';
	buf_commit(b, j);
	return 0;
}

int mail_string_append_nstring(struct buf *b, const void *s, size_t len)
{
	if (s == NULL)
		return buf_append(b, "NIL", 3);
	return mail_string_append(b, s, len);
}

void mail_string_truncate(struct buf *b, size_t len)
{
	if (len < b->len) {
		b->len = len;
		b->data[len] = '\0';
	}
}
