/* throttle.c: failed-login counters in a small chained hash table with an LRU list. Traps: keys
 * come from attackers, so the hash is SipHash with a random key (no chosen collisions) and the
 * table never holds more than max_entries keys (the least recently failed goes first); the delay
 * arithmetic is done in 64 bits and capped, since failure counts can grow without bound. */
#include "auth/throttle.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "lib/xmalloc.h"

struct throttle_entry {
	struct throttle_entry *hash_next;
	struct throttle_entry *lru_prev, *lru_next; /* oldest last failure first */
	uint64_t hash;
	uint64_t last_fail_ms;
	uint32_t fails;
	size_t key_len;
	char key[]; /* 'i' or 'u', then the IP or folded user name; not NUL-terminated */
};

struct throttle {
	struct throttle_entry **buckets;
	size_t bucket_mask;
	size_t count, max_entries;
	struct throttle_entry *lru_head, *lru_tail;
	unsigned base_ms, max_ms;
	uint64_t k0, k1; /* SipHash key */
};

/* ---- SipHash-2-4 (Aumasson, Bernstein) ---- */

static inline uint64_t throttle_rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

#define THROTTLE_SIPROUND                                                               \
	do {                                                                            \
		v0 += v1;                                                               \
		v1 = throttle_rotl(v1, 13);                                             \
		v1 ^= v0;                                                               \
		v0 = throttle_rotl(v0, 32);                                             \
		v2 += v3;                                                               \
		v3 = throttle_rotl(v3, 16);                                             \
		v3 ^= v2;                                                               \
		v0 += v3;                                                               \
		v3 = throttle_rotl(v3, 21);                                             \
		v3 ^= v0;                                                               \
		v2 += v1;                                                               \
		v1 = throttle_rotl(v1, 17);                                             \
		v1 ^= v2;                                                               \
		v2 = throttle_rotl(v2, 32);                                             \
	} while (0)

static uint64_t throttle_siphash(uint64_t k0, uint64_t k1, const unsigned char *p, size_t len)
{
	uint64_t v0 = 0x736f6d6570736575ULL ^ k0, v1 = 0x646f72616e646f6dULL ^ k1;
	uint64_t v2 = 0x6c7967656e657261ULL ^ k0, v3 = 0x7465646279746573ULL ^ k1;
	uint64_t b = (uint64_t)len << 56, m;
	size_t i, full = len & ~(size_t)7;

	for (i = 0; i < full; i += 8) {
		m = 0;
		for (int j = 0; j < 8; j++)
			m |= (uint64_t)p[i + (size_t)j] << (8 * j);
		v3 ^= m;
		THROTTLE_SIPROUND;
		THROTTLE_SIPROUND;
		v0 ^= m;
	}
	for (int j = 0; i + (size_t)j < len; j++)
		b |= (uint64_t)p[i + (size_t)j] << (8 * j);
	v3 ^= b;
	THROTTLE_SIPROUND;
	THROTTLE_SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	THROTTLE_SIPROUND;
	THROTTLE_SIPROUND;
	THROTTLE_SIPROUND;
	THROTTLE_SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

/* ---- table ---- */

struct throttle *throttle_create(size_t max_entries, unsigned base_ms, unsigned max_ms)
{
	struct throttle *t = xcalloc(1, sizeof(*t));
	size_t nbuckets = 16;
	if (max_entries == 0)
		max_entries = 1;
	while (nbuckets < max_entries && nbuckets < ((size_t)1 << 30))
		nbuckets *= 2;
	t->buckets = xcalloc(nbuckets, sizeof(*t->buckets));
	t->bucket_mask = nbuckets - 1;
	t->max_entries = max_entries;
	t->base_ms = base_ms;
	t->max_ms = max_ms < base_ms ? base_ms : max_ms;
	uint64_t k[2];
	if (getrandom(k, sizeof(k), 0) != (ssize_t)sizeof(k))
		xabort("getrandom failed");
	t->k0 = k[0];
	t->k1 = k[1];
	return t;
}

void throttle_destroy(struct throttle **tp)
{
	struct throttle *t = *tp;
	if (t == NULL)
		return;
	struct throttle_entry *e = t->lru_head;
	while (e != NULL) {
		struct throttle_entry *next = e->lru_next;
		free(e);
		e = next;
	}
	free(t->buckets);
	free(t);
	*tp = NULL;
}

size_t throttle_count(const struct throttle *t)
{
	return t->count;
}

/* Build the key: type byte, then the value (user names ASCII-folded), truncated. */
static size_t throttle_key(char type, const char *value, char key_r[THROTTLE_KEY_MAX + 1])
{
	size_t n = 0;
	key_r[n++] = type;
	for (const char *p = value; *p != '\0' && n <= THROTTLE_KEY_MAX; p++) {
		char c = *p;
		if (type == 'u' && c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		key_r[n++] = c;
	}
	return n;
}

static void throttle_lru_unlink(struct throttle *t, struct throttle_entry *e)
{
	if (e->lru_prev != NULL)
		e->lru_prev->lru_next = e->lru_next;
	else
		t->lru_head = e->lru_next;
	if (e->lru_next != NULL)
		e->lru_next->lru_prev = e->lru_prev;
	else
		t->lru_tail = e->lru_prev;
	e->lru_prev = e->lru_next = NULL;
}

static void throttle_lru_append(struct throttle *t, struct throttle_entry *e)
{
	e->lru_prev = t->lru_tail;
	e->lru_next = NULL;
	if (t->lru_tail != NULL)
		t->lru_tail->lru_next = e;
	else
		t->lru_head = e;
	t->lru_tail = e;
}

static void throttle_remove(struct throttle *t, struct throttle_entry *e)
{
	struct throttle_entry **pp = &t->buckets[e->hash & t->bucket_mask];
	while (*pp != e)
		pp = &(*pp)->hash_next;
	*pp = e->hash_next;
	throttle_lru_unlink(t, e);
	t->count--;
	free(e);
}

static bool throttle_expired(const struct throttle_entry *e, uint64_t now_ms)
{
	return now_ms >= e->last_fail_ms && now_ms - e->last_fail_ms >= THROTTLE_EXPIRE_MS;
}

static struct throttle_entry *throttle_find(struct throttle *t, const char *key, size_t len,
					    uint64_t hash)
{
	for (struct throttle_entry *e = t->buckets[hash & t->bucket_mask]; e != NULL;
	     e = e->hash_next) {
		if (e->hash == hash && e->key_len == len && memcmp(e->key, key, len) == 0)
			return e;
	}
	return NULL;
}

static unsigned throttle_entry_delay(const struct throttle *t, const struct throttle_entry *e)
{
	if (e->fails == 0)
		return 0;
	uint32_t shift = e->fails - 1;
	if (shift >= 32)
		return t->max_ms;
	uint64_t d = (uint64_t)t->base_ms << shift;
	return d > t->max_ms ? t->max_ms : (unsigned)d;
}

static unsigned throttle_key_delay(struct throttle *t, char type, const char *value,
				   uint64_t now_ms)
{
	char key[THROTTLE_KEY_MAX + 1];
	if (value == NULL)
		return 0;
	size_t len = throttle_key(type, value, key);
	uint64_t hash = throttle_siphash(t->k0, t->k1, (const unsigned char *)key, len);
	struct throttle_entry *e = throttle_find(t, key, len, hash);
	if (e == NULL)
		return 0;
	if (throttle_expired(e, now_ms)) {
		throttle_remove(t, e);
		return 0;
	}
	return throttle_entry_delay(t, e);
}

unsigned throttle_delay_ms(struct throttle *t, const char *ip, const char *user, uint64_t now_ms)
{
	unsigned a = throttle_key_delay(t, 'i', ip, now_ms);
	unsigned b = throttle_key_delay(t, 'u', user, now_ms);
	return a > b ? a : b;
}

static void throttle_key_fail(struct throttle *t, char type, const char *value, uint64_t now_ms)
{
	char key[THROTTLE_KEY_MAX + 1];
	if (value == NULL)
		return;
	size_t len = throttle_key(type, value, key);
	uint64_t hash = throttle_siphash(t->k0, t->k1, (const unsigned char *)key, len);
	struct throttle_entry *e = throttle_find(t, key, len, hash);
	if (e != NULL && throttle_expired(e, now_ms)) {
		throttle_remove(t, e);
		e = NULL;
	}
	if (e == NULL) {
		if (t->count >= t->max_entries)
			throttle_remove(t, t->lru_head);
		e = xmalloc(sizeof(*e) + len);
		memset(e, 0, sizeof(*e));
		memcpy(e->key, key, len);
		e->key_len = len;
		e->hash = hash;
		struct throttle_entry **bucket = &t->buckets[hash & t->bucket_mask];
		e->hash_next = *bucket;
		*bucket = e;
		t->count++;
	} else {
		throttle_lru_unlink(t, e);
	}
	if (e->fails < UINT32_MAX)
		e->fails++;
	if (now_ms > e->last_fail_ms)
		e->last_fail_ms = now_ms;
	throttle_lru_append(t, e);
}

void throttle_fail(struct throttle *t, const char *ip, const char *user, uint64_t now_ms)
{
	/* drop what has expired, oldest first, so the table holds only live keys */
	while (t->lru_head != NULL && throttle_expired(t->lru_head, now_ms))
		throttle_remove(t, t->lru_head);
	throttle_key_fail(t, 'i', ip, now_ms);
	throttle_key_fail(t, 'u', user, now_ms);
}

static void throttle_key_forget(struct throttle *t, char type, const char *value)
{
	char key[THROTTLE_KEY_MAX + 1];
	if (value == NULL)
		return;
	size_t len = throttle_key(type, value, key);
	uint64_t hash = throttle_siphash(t->k0, t->k1, (const unsigned char *)key, len);
	struct throttle_entry *e = throttle_find(t, key, len, hash);
	if (e != NULL)
		throttle_remove(t, e);
}

void throttle_success(struct throttle *t, const char *ip, const char *user)
{
	throttle_key_forget(t, 'i', ip);
	throttle_key_forget(t, 'u', user);
}
