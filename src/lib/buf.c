/* buf.c: bounded byte buffers. The maximum is checked before any allocation, with overflow-
 * checked arithmetic, so a hostile length never makes us allocate more than max + 1 bytes. */
#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "secure.h"
#include "xmalloc.h"

void buf_init(struct buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->alloc = 0;
	b->max = max;
}

void buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->alloc = 0;
}

void buf_free_secure(struct buf *b)
{
	if (b->data != NULL)
		secure_zero(b->data, b->alloc);
	buf_free(b);
}

void buf_release(struct buf *b)
{
	if (b->len == 0)
		buf_free(b);
}

int buf_reserve(struct buf *b, size_t extra)
{
	size_t need;
	if (size_add(b->len, extra, &need) < 0 || need > b->max)
		return -1;
	if (need + 1 <= b->alloc)
		return 0;
	size_t alloc = b->alloc ? b->alloc : 256;
	while (alloc < need + 1) {
		if (alloc > ((size_t)-1) / 2) {
			alloc = need + 1;
			break;
		}
		alloc *= 2;
	}
	if (alloc > b->max + 1)
		alloc = b->max + 1;
	b->data = xrealloc(b->data, alloc);
	b->alloc = alloc;
	b->data[b->len] = '\0';
	return 0;
}

void buf_commit(struct buf *b, size_t n)
{
	if (n > b->alloc - 1 - b->len)
		xabort("buf_commit beyond reserved space");
	b->len += n;
	b->data[b->len] = '\0';
}

int buf_append(struct buf *b, const void *p, size_t n)
{
	if (buf_reserve(b, n) < 0)
		return -1;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int buf_append_str(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int buf_append_byte(struct buf *b, unsigned char c)
{
	return buf_append(b, &c, 1);
}

int buf_append_u64(struct buf *b, uint64_t v)
{
	char digits[20];
	size_t n = sizeof(digits);
	do {
		digits[--n] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	return buf_append(b, digits + n, sizeof(digits) - n);
}

int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0 || buf_reserve(b, (size_t)n) < 0)
		return -1;
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int ret = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return ret;
}

void buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
	} else {
		memmove(b->data, b->data + n, b->len - n);
		b->len -= n;
	}
	if (b->data != NULL)
		b->data[b->len] = '\0';
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}
