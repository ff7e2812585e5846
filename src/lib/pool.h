/* pool.h: arena allocation for the three lifetimes of STYLE.md (connection, command, scratch).
 *
 * Memory from a pool is zeroed, lives until pool_clear() or pool_destroy(), and is never freed
 * one piece at a time. Allocation failure aborts (xmalloc). Sizes are overflow-checked. */
#ifndef KURA_LIB_POOL_H
#define KURA_LIB_POOL_H

#include <stdarg.h>
#include <stddef.h>

struct pool;

/* block_size: the size of each arena block (a request bigger than that gets its own block). */
struct pool *pool_create(size_t block_size);
/* The same, but the first block has first_size bytes and each next one twice the one before
 * up to block_size: for a pool that lives long and is often almost empty (a session's command
 * pool: an idle session keeps only the small first block). */
struct pool *pool_create_growing(size_t first_size, size_t block_size);
void pool_destroy(struct pool **pool);
/* Free everything allocated so far; keeps the first block for reuse. */
void pool_clear(struct pool *pool);

void *pool_alloc(struct pool *pool, size_t size);
void *pool_alloc_array(struct pool *pool, size_t n, size_t size);
/* Copy n bytes and add a terminating NUL (the copy may contain NULs). */
char *pool_memdup(struct pool *pool, const void *p, size_t n);
char *pool_strdup(struct pool *pool, const char *s);
char *pool_printf(struct pool *pool, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Total bytes held by the pool (for memory accounting and tests). */
size_t pool_allocated(const struct pool *pool);

#endif
