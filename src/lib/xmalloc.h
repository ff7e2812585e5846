/* xmalloc.h: allocation that aborts cleanly on failure, and overflow-checked size arithmetic.
 * Every allocation in kura goes through these (or a pool built on them), so no caller checks NULL. */
#ifndef KURA_LIB_XMALLOC_H
#define KURA_LIB_XMALLOC_H

#include <stddef.h>
#include <stdint.h>

void *xmalloc(size_t size);             /* never returns NULL; aborts with a log line on failure */
void *xcalloc(size_t n, size_t size);   /* zeroed; aborts on overflow of n * size */
void *xrealloc(void *p, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

/* Abort the process with a message: for impossible states and allocation failure only. */
void xabort(const char *what) __attribute__((noreturn));

/* size_add/size_mul: store a+b (a*b) in *r and return 0, or return -1 on overflow. */
static inline int size_add(size_t a, size_t b, size_t *r)
{
	return __builtin_add_overflow(a, b, r) ? -1 : 0;
}
static inline int size_mul(size_t a, size_t b, size_t *r)
{
	return __builtin_mul_overflow(a, b, r) ? -1 : 0;
}

#endif
