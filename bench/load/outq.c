/* outq.c: the segment queue behind a client's output. Trap: p/len of a segment track what is
 * still unwritten, and for an owned segment p + len == owned + used always holds, which is
 * what makes coalescing into a partly written last segment safe. */
#include "outq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xmalloc.h"

#define OUTQ_CHUNK 4096

void outq_init(struct outq *q, size_t max)
{
	memset(q, 0, sizeof(*q));
	q->max = max;
}

void outq_free(struct outq *q)
{
	for (size_t i = 0; i < q->count; i++)
		free(q->segs[q->head + i].owned);
	free(q->segs);
	size_t max = q->max;
	memset(q, 0, sizeof(*q));
	q->max = max;
}

static struct outq_seg *outq_new_seg(struct outq *q)
{
	if (q->head + q->count == q->alloc) {
		if (q->head > 0) {
			memmove(q->segs, q->segs + q->head, q->count * sizeof(*q->segs));
			q->head = 0;
		} else {
			q->alloc = q->alloc ? q->alloc * 2 : 8;
			q->segs = xrealloc(q->segs, q->alloc * sizeof(*q->segs));
		}
	}
	struct outq_seg *s = &q->segs[q->head + q->count++];
	memset(s, 0, sizeof(*s));
	return s;
}

/* Room for n more copied bytes at the end: the last segment if owned and roomy, else a new one. */
static unsigned char *outq_reserve(struct outq *q, size_t n, struct outq_seg **seg_r)
{
	struct outq_seg *s = q->count > 0 ? &q->segs[q->head + q->count - 1] : NULL;
	if (s == NULL || s->owned == NULL || s->cap - s->used < n) {
		s = outq_new_seg(q);
		s->cap = n > OUTQ_CHUNK ? n : OUTQ_CHUNK;
		s->owned = xmalloc(s->cap);
		s->p = s->owned;
	}
	*seg_r = s;
	return s->owned + s->used;
}

int outq_append(struct outq *q, const void *p, size_t n)
{
	struct outq_seg *s;
	if (n == 0)
		return 0;
	if (n > q->max - q->bytes)
		return -1;
	unsigned char *dst = outq_reserve(q, n, &s);
	memcpy(dst, p, n);
	s->used += n;
	s->len += n;
	q->bytes += n;
	return 0;
}

int outq_vprintf(struct outq *q, const char *fmt, va_list ap)
{
	char small[512];
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(small, sizeof(small), fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return -1;
	if ((size_t)n < sizeof(small))
		return outq_append(q, small, (size_t)n);
	char *big = xmalloc((size_t)n + 1);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	int ret = outq_append(q, big, (size_t)n);
	free(big);
	return ret;
}

int outq_printf(struct outq *q, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int ret = outq_vprintf(q, fmt, ap);
	va_end(ap);
	return ret;
}

int outq_append_ref(struct outq *q, const void *p, size_t n)
{
	if (n == 0)
		return 0;
	if (n > q->max - q->bytes)
		return -1;
	struct outq_seg *s = outq_new_seg(q);
	s->p = p;
	s->len = n;
	q->bytes += n;
	return 0;
}

int outq_iov(const struct outq *q, struct iovec *iov, int max)
{
	int n = 0;
	for (size_t i = 0; i < q->count && n < max; i++) {
		const struct outq_seg *s = &q->segs[q->head + i];
		iov[n].iov_base = (void *)s->p;
		iov[n].iov_len = s->len;
		n++;
	}
	return n;
}

void outq_consume(struct outq *q, size_t n)
{
	q->bytes -= n;
	while (n > 0 && q->count > 0) {
		struct outq_seg *s = &q->segs[q->head];
		size_t k = n < s->len ? n : s->len;
		s->p += k;
		s->len -= k;
		n -= k;
		if (s->len == 0) {
			free(s->owned);
			q->head++;
			q->count--;
		}
	}
	if (q->count == 0) {
		free(q->segs);
		q->segs = NULL;
		q->head = q->alloc = 0;
	}
}
