/* outq.h: a client's pending output, as a queue of segments. Command text is copied (small
 * segments are coalesced); message bodies from the mbox are referenced, not copied, so a
 * MULTIAPPEND of fifty messages costs no memory beyond the command text. A referenced region
 * must stay valid until it has been written (the mbox lives as long as the process).
 *
 * The queue holds no memory while empty. Appends fail (-1, queue unchanged) beyond max bytes. */
#ifndef KURA_LOAD_OUTQ_H
#define KURA_LOAD_OUTQ_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>

struct outq_seg {
	const unsigned char *p;  /* the bytes: into owned or into referenced memory */
	size_t len;              /* bytes left to write from p */
	unsigned char *owned;    /* NULL for a reference */
	size_t used, cap;        /* owned: bytes filled, allocated */
};

struct outq {
	struct outq_seg *segs;
	size_t head, count, alloc;  /* live segments are segs[head .. head+count) */
	size_t bytes, max;
};

void outq_init(struct outq *q, size_t max);
void outq_free(struct outq *q);
static inline bool outq_empty(const struct outq *q) { return q->bytes == 0; }

int outq_append(struct outq *q, const void *p, size_t n);
int outq_printf(struct outq *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int outq_vprintf(struct outq *q, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
int outq_append_ref(struct outq *q, const void *p, size_t n);

/* Fill iov with up to max segments to write; returns how many. */
int outq_iov(const struct outq *q, struct iovec *iov, int max);
/* n bytes were written. */
void outq_consume(struct outq *q, size_t n);

#endif
