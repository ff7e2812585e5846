/* hash.h: a table of string-keyed entries that live in the caller's own structures
 * (intrusive: embed a struct hash_node, the table allocates only its bucket array).
 *
 * Lookups, inserts and removals cost O(1) on average; the table doubles when it holds more
 * entries than buckets and never shrinks below 16 buckets. Keys are hashed with a per-table
 * random seed, so a peer that chooses keys (user names, mailbox names) cannot aim them all at
 * one bucket without knowing it. The key string is the caller's: it must stay unchanged while
 * the node is in the table. */
#ifndef KURA_LIB_HASH_H
#define KURA_LIB_HASH_H

#include <stddef.h>
#include <stdint.h>

struct hash_node {
	struct hash_node *next;
	const char *key;
	uint64_t hash;
};

struct hash_table {
	struct hash_node **buckets;
	size_t bucket_count; /* a power of two */
	size_t count;
	uint64_t seed;
};

void hash_init(struct hash_table *t);
/* Frees the bucket array; the nodes are the caller's. */
void hash_free(struct hash_table *t);

/* The node with this key, or NULL. */
struct hash_node *hash_find(const struct hash_table *t, const char *key);
/* Add a node whose key is not in the table yet (sets node->hash; node->key set by caller). */
void hash_insert(struct hash_table *t, struct hash_node *node);
/* Remove a node that is in the table. */
void hash_remove(struct hash_table *t, struct hash_node *node);

/* Iterate: for (n = hash_first(t, &i); n != NULL; n = hash_next(t, n, &i)). The table must not
 * change meanwhile, except hash_remove of the current node after hash_next was taken. */
struct hash_node *hash_first(const struct hash_table *t, size_t *iter);
struct hash_node *hash_next(const struct hash_table *t, struct hash_node *node, size_t *iter);

#endif
