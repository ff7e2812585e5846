/* buf.h: growable byte buffers with a hard maximum.
 *
 * A buffer holds bytes (NUL allowed) in data[0..len). Its storage grows on demand up to `max`
 * bytes and never beyond: an append that would pass the maximum fails with -1 and leaves the
 * buffer unchanged. Storage is allocated lazily and can be released while empty (buf_release),
 * which is how idle connections stay small. data is always NUL-terminated when non-NULL (the
 * terminator is not counted in len and not in max), so text can be handed to printf-like code. */
#ifndef KURA_LIB_BUF_H
#define KURA_LIB_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct buf {
	unsigned char *data; /* NULL until the first append */
	size_t len;
	size_t alloc;        /* bytes allocated, including room for the terminator */
	size_t max;          /* hard limit on len */
};

void buf_init(struct buf *b, size_t max);
/* Free the storage; the buffer stays usable (empty, same max). */
void buf_free(struct buf *b);
/* Free the storage only if the buffer is empty: call when a connection goes idle. */
void buf_release(struct buf *b);
/* Free the storage after wiping it: for buffers that held secrets. */
void buf_free_secure(struct buf *b);

/* Make room for `extra` more bytes. 0 on success, -1 if len + extra would exceed max. */
int buf_reserve(struct buf *b, size_t extra);
/* Append. 0 on success, -1 (buffer unchanged) if the maximum would be exceeded. */
int buf_append(struct buf *b, const void *p, size_t n);
int buf_append_str(struct buf *b, const char *s);
int buf_append_byte(struct buf *b, unsigned char c);
/* The decimal digits of v (what "%llu" gives, without printf's cost: hot output paths write
 * one number per message, 100k at a time). */
int buf_append_u64(struct buf *b, uint64_t v);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* Drop n bytes from the front (n <= len). */
void buf_consume(struct buf *b, size_t n);
/* Set len to 0, keep storage. */
void buf_reset(struct buf *b);
/* Free space at the end after buf_reserve: write there, then buf_commit(n). */
static inline unsigned char *buf_tail(struct buf *b) { return b->data + b->len; }
void buf_commit(struct buf *b, size_t n);
static inline size_t buf_room(const struct buf *b) { return b->max - b->len; }

#endif
