/* hash.c: string-keyed intrusive hash table (hash.h). */
#include "hash.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "xmalloc.h"

#define HASH_MIN_BUCKETS 16

/* 64-bit FNV-1a over the key, started from the table's seed and finished with a
 * multiply-xorshift mix so that the low bits (the bucket index) depend on every byte. */
static uint64_t hash_key(uint64_t seed, const char *key)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ seed;
	for (const unsigned char *p = (const unsigned char *)key; *p != '\0'; p++) {
		h ^= *p;
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

void hash_init(struct hash_table *t)
{
	memset(t, 0, sizeof(*t));
	if (getrandom(&t->seed, sizeof(t->seed), GRND_NONBLOCK) != (ssize_t)sizeof(t->seed))
		t->seed = (uint64_t)(uintptr_t)t ^ 0x9e3779b97f4a7c15ULL;
	t->bucket_count = HASH_MIN_BUCKETS;
	t->buckets = xcalloc(t->bucket_count, sizeof(*t->buckets));
}

void hash_free(struct hash_table *t)
{
	free(t->buckets);
	t->buckets = NULL;
	t->bucket_count = t->count = 0;
}

struct hash_node *hash_find(const struct hash_table *t, const char *key)
{
	uint64_t h = hash_key(t->seed, key);
	for (struct hash_node *n = t->buckets[h & (t->bucket_count - 1)]; n != NULL; n = n->next) {
		if (n->hash == h && strcmp(n->key, key) == 0)
			return n;
	}
	return NULL;
}

static void hash_grow(struct hash_table *t)
{
	size_t count = t->bucket_count * 2, bytes;
	if (size_mul(count, sizeof(*t->buckets), &bytes) < 0)
		return; /* stay at this size: only longer chains */
	struct hash_node **b = xcalloc(count, sizeof(*b));
	for (size_t i = 0; i < t->bucket_count; i++) {
		struct hash_node *n = t->buckets[i], *next;
		for (; n != NULL; n = next) {
			next = n->next;
			size_t k = n->hash & (count - 1);
			n->next = b[k];
			b[k] = n;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->bucket_count = count;
}

void hash_insert(struct hash_table *t, struct hash_node *node)
{
	if (t->count >= t->bucket_count)
		hash_grow(t);
	node->hash = hash_key(t->seed, node->key);
	struct hash_node **head = &t->buckets[node->hash & (t->bucket_count - 1)];
	node->next = *head;
	*head = node;
	t->count++;
}

void hash_remove(struct hash_table *t, struct hash_node *node)
{
	for (struct hash_node **p = &t->buckets[node->hash & (t->bucket_count - 1)]; *p != NULL;
	     p = &(*p)->next) {
		if (*p == node) {
			*p = node->next;
			node->next = NULL;
			t->count--;
			return;
		}
	}
}

static struct hash_node *hash_scan(const struct hash_table *t, size_t *iter)
{
	for (; *iter < t->bucket_count; (*iter)++) {
		if (t->buckets[*iter] != NULL)
			return t->buckets[(*iter)++];
	}
	return NULL;
}

struct hash_node *hash_first(const struct hash_table *t, size_t *iter)
{
	*iter = 0;
	return hash_scan(t, iter);
}

struct hash_node *hash_next(const struct hash_table *t, struct hash_node *node, size_t *iter)
{
	return node->next != NULL ? node->next : hash_scan(t, iter);
}
