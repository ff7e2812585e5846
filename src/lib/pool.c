/* pool.c: a simple bump allocator over a list of blocks. Large requests get a block of their
 * own so a big literal does not waste a whole standard block. */
#include "pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

struct pool_block {
	struct pool_block *next;
	size_t size, used;
	max_align_t data[];
};

struct pool {
	struct pool_block *blocks; /* newest first; the last one is the first block */
	size_t block_size;         /* the biggest standard block */
	size_t first_size;         /* the first block's (kept by pool_clear) */
	size_t next_size;          /* the next standard block's */
	size_t total;
};

static struct pool_block *block_new(size_t size)
{
	size_t total;
	if (size_add(sizeof(struct pool_block), size, &total) < 0)
		xabort("pool block size overflow");
	struct pool_block *b = xmalloc(total);
	b->next = NULL;
	b->size = size;
	b->used = 0;
	return b;
}

struct pool *pool_create_growing(size_t first_size, size_t block_size)
{
	struct pool *pool = xcalloc(1, sizeof(*pool));
	pool->block_size = block_size < 64 ? 64 : block_size;
	pool->first_size = first_size < 64 ? 64 : first_size > pool->block_size ? pool->block_size
										   : first_size;
	pool->next_size = pool->first_size;
	return pool;
}

struct pool *pool_create(size_t block_size)
{
	return pool_create_growing(block_size, block_size);
}

/* the standard block after one of `size` bytes */
static size_t pool_grow(const struct pool *pool, size_t size)
{
	return size >= pool->block_size / 2 ? pool->block_size : size * 2;
}

void pool_clear(struct pool *pool)
{
	struct pool_block *b = pool->blocks, *first = NULL;
	while (b != NULL) {
		struct pool_block *next = b->next;
		if (next == NULL && b->size == pool->first_size)
			first = b;
		else
			free(b);
		b = next;
	}
	pool->blocks = first;
	pool->total = 0;
	pool->next_size = pool->first_size;
	if (first != NULL) {
		first->used = 0;
		pool->total = first->size;
		pool->next_size = pool_grow(pool, first->size);
	}
}

void pool_destroy(struct pool **poolp)
{
	struct pool *pool = *poolp;
	if (pool == NULL)
		return;
	struct pool_block *b = pool->blocks;
	while (b != NULL) {
		struct pool_block *next = b->next;
		free(b);
		b = next;
	}
	free(pool);
	*poolp = NULL;
}

void *pool_alloc(struct pool *pool, size_t size)
{
	const size_t align = sizeof(max_align_t);
	size_t rounded;
	if (size_add(size ? size : 1, align - 1, &rounded) < 0)
		xabort("pool allocation overflow");
	rounded &= ~(align - 1);

	struct pool_block *b = pool->blocks;
	if (b == NULL || b->size - b->used < rounded) {
		if (rounded > pool->block_size / 2) {
			/* big request: its own block, linked behind the current one */
			struct pool_block *big = block_new(rounded);
			big->used = rounded;
			pool->total += rounded;
			if (b == NULL) {
				pool->blocks = big;
			} else {
				big->next = b->next;
				b->next = big;
			}
			memset(big->data, 0, rounded);
			return big->data;
		}
		/* rounded <= block_size / 2: doubling reaches it within block_size */
		size_t bsize = pool->next_size;
		while (bsize < rounded)
			bsize = pool_grow(pool, bsize);
		b = block_new(bsize);
		pool->next_size = pool_grow(pool, bsize);
		b->next = pool->blocks;
		pool->blocks = b;
		pool->total += b->size;
	}
	void *p = (char *)b->data + b->used;
	b->used += rounded;
	memset(p, 0, rounded);
	return p;
}

void *pool_alloc_array(struct pool *pool, size_t n, size_t size)
{
	size_t total;
	if (size_mul(n, size, &total) < 0)
		xabort("pool array size overflow");
	return pool_alloc(pool, total);
}

char *pool_memdup(struct pool *pool, const void *p, size_t n)
{
	size_t total;
	if (size_add(n, 1, &total) < 0)
		xabort("pool memdup overflow");
	char *s = pool_alloc(pool, total);
	if (n > 0)
		memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

char *pool_strdup(struct pool *pool, const char *s)
{
	return pool_memdup(pool, s, strlen(s));
}

char *pool_printf(struct pool *pool, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		xabort("pool_printf format error");
	char *s = pool_alloc(pool, (size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

size_t pool_allocated(const struct pool *pool)
{
	return pool->total;
}
