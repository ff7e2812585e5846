/* test-lib.c: unit tests for buf, pool, base64, secure and hash. */
#include <stdio.h>
#include <stdlib.h>

#include "lib/base64.h"
#include "lib/buf.h"
#include "lib/hash.h"
#include "lib/pool.h"
#include "lib/secure.h"
#include "lib/test.h"

static void test_buf_limits(void)
{
	struct buf b;
	buf_init(&b, 8);
	CHECK(b.data == NULL);
	CHECK(buf_append(&b, "abcd", 4) == 0);
	CHECK(buf_append(&b, "efgh", 4) == 0);
	CHECK(buf_append(&b, "i", 1) == -1);
	CHECK_MEM(b.data, b.len, "abcdefgh", 8);
	buf_consume(&b, 3);
	CHECK_MEM(b.data, b.len, "defgh", 5);
	CHECK(buf_printf(&b, "%d", 123) == 0);
	CHECK_STR((char *)b.data, "defgh123");
	CHECK(buf_printf(&b, "%d", 1) == -1);
	CHECK(buf_reserve(&b, (size_t)-1) == -1);
	buf_reset(&b);
	CHECK(buf_append_u64(&b, 0) == 0 && buf_append_u64(&b, 4294967) == 0);
	CHECK_MEM(b.data, b.len, "04294967", 8);
	CHECK(buf_append_u64(&b, 1) == -1 && b.len == 8);
	buf_free(&b);
	buf_init(&b, 64);
	CHECK(buf_append_u64(&b, UINT64_MAX) == 0);
	CHECK_MEM(b.data, b.len, "18446744073709551615", 20);
	buf_reset(&b);
	buf_release(&b);
	CHECK(b.data == NULL);
	buf_free(&b);
}

static void test_buf_nul(void)
{
	struct buf b;
	buf_init(&b, 100);
	CHECK(buf_append(&b, "a\0b", 3) == 0);
	CHECK(b.len == 3);
	CHECK(b.data[1] == 0 && b.data[3] == 0);
	buf_free_secure(&b);
}

static void test_pool(void)
{
	struct pool *p = pool_create(128);
	char *s = pool_strdup(p, "hello");
	CHECK_STR(s, "hello");
	char *big = pool_alloc(p, 10000);
	big[9999] = 1;
	char *f = pool_printf(p, "%s-%d", s, 42);
	CHECK_STR(f, "hello-42");
	for (int i = 0; i < 1000; i++)
		CHECK(pool_alloc(p, 17) != NULL);
	pool_clear(p);
	CHECK(pool_allocated(p) <= 128);
	CHECK_STR(pool_memdup(p, "xy", 2), "xy");
	pool_destroy(&p);
	CHECK(p == NULL);

	/* growing: 256, 512, 1024, 2048, then 4096 each; a request over 2048 has its own block;
	 * a clear keeps the 256-byte first block only */
	p = pool_create_growing(256, 4096);
	CHECK(pool_allocated(p) == 0);
	CHECK(pool_alloc(p, 100) != NULL && pool_allocated(p) == 256);
	CHECK(pool_alloc(p, 200) != NULL && pool_allocated(p) == 256 + 512);
	CHECK(pool_alloc(p, 1000) != NULL && pool_allocated(p) == 256 + 512 + 1024);
	CHECK(pool_alloc(p, 1500) != NULL && pool_allocated(p) == 256 + 512 + 1024 + 2048);
	CHECK(pool_alloc(p, 2000) != NULL && pool_allocated(p) == 256 + 512 + 1024 + 2048 + 4096);
	CHECK(pool_alloc(p, 2100) != NULL && pool_allocated(p) == 7936 + 2112);
	pool_clear(p);
	CHECK(pool_allocated(p) == 256);
	/* after a clear it grows again from the first block, a bigger request skipping sizes */
	CHECK(pool_alloc(p, 200) != NULL && pool_allocated(p) == 256);
	CHECK(pool_alloc(p, 900) != NULL && pool_allocated(p) == 256 + 1024);
	char *t = pool_alloc(p, 2048);
	memset(t, 7, 2048);
	CHECK(pool_allocated(p) == 256 + 1024 + 2048);
	pool_destroy(&p);
}

static void test_base64(void)
{
	struct buf b;
	buf_init(&b, 1024);
	CHECK(base64_encode(&b, "", 0) == 0 && b.len == 0);
	CHECK(base64_encode(&b, "f", 1) == 0);
	CHECK_STR((char *)b.data, "Zg==");
	buf_reset(&b);
	CHECK(base64_encode(&b, "foobar", 6) == 0);
	CHECK_STR((char *)b.data, "Zm9vYmFy");
	buf_reset(&b);
	CHECK(base64_decode(&b, "Zm9vYg==", 8) == 0);
	CHECK_MEM(b.data, b.len, "foob", 4);
	buf_reset(&b);
	CHECK(base64_decode(&b, "AGFsaWNlAHNlY3JldA==", 20) == 0);
	CHECK_MEM(b.data, b.len, "\0alice\0secret", 13);
	buf_reset(&b);
	CHECK(base64_decode(&b, "Zm9", 3) == -1);        /* not a multiple of 4 */
	CHECK(base64_decode(&b, "Zm9v!mFy", 8) == -1);   /* bad char */
	CHECK(base64_decode(&b, "Zg==Zg==", 8) == -1);   /* padding in the middle */
	CHECK(base64_decode(&b, "Zh==", 4) == -1);       /* non-zero pad bits */
	CHECK(base64_decode(&b, "Z===", 4) == -1);
	CHECK(base64_decode(&b, "Zm 9", 4) == -1);
	CHECK(b.len == 0);
	buf_free(&b);
}

static void test_secure(void)
{
	char a[4] = "abc", b[4] = "abd";
	CHECK(secure_memeq(a, "abc", 3));
	CHECK(!secure_memeq(a, b, 3));
	secure_zero(a, sizeof(a));
	CHECK(a[0] == 0 && a[2] == 0);
}

struct test_item {
	struct hash_node node;
	char name[16];
	int value;
};

static void test_hash(void)
{
	enum { N = 5000 };
	struct test_item *items = calloc(N, sizeof(*items));
	struct hash_table t;
	hash_init(&t);
	CHECK(hash_find(&t, "nobody") == NULL);
	for (int i = 0; i < N; i++) {
		snprintf(items[i].name, sizeof(items[i].name), "user%d", i);
		items[i].node.key = items[i].name;
		items[i].value = i;
		hash_insert(&t, &items[i].node);
	}
	CHECK(t.count == N);
	CHECK(t.bucket_count >= N); /* it grew */
	int found = 0;
	for (int i = 0; i < N; i++) {
		char key[16];
		snprintf(key, sizeof(key), "user%d", i);
		struct hash_node *n = hash_find(&t, key);
		found += n != NULL && ((struct test_item *)n)->value == i;
	}
	CHECK(found == N);
	CHECK(hash_find(&t, "user") == NULL && hash_find(&t, "user5000") == NULL &&
	      hash_find(&t, "") == NULL);
	/* remove the even ones while iterating */
	size_t iter, seen = 0;
	struct hash_node *n = hash_first(&t, &iter), *next;
	for (; n != NULL; n = next) {
		next = hash_next(&t, n, &iter);
		seen++;
		if (((struct test_item *)n)->value % 2 == 0)
			hash_remove(&t, n);
	}
	CHECK(seen == N);
	CHECK(t.count == N / 2);
	CHECK(hash_find(&t, "user42") == NULL);
	CHECK(hash_find(&t, "user43") == &items[43].node);
	seen = 0;
	for (n = hash_first(&t, &iter); n != NULL; n = hash_next(&t, n, &iter))
		seen++;
	CHECK(seen == N / 2);
	/* a key added back after its removal */
	hash_insert(&t, &items[42].node);
	CHECK(hash_find(&t, "user42") == &items[42].node);
	hash_free(&t);
	/* two tables hash with different seeds */
	struct hash_table a, b;
	hash_init(&a);
	hash_init(&b);
	CHECK(a.seed != b.seed);
	hash_free(&a);
	hash_free(&b);
	free(items);
}

int main(void)
{
	TEST_RUN(test_buf_limits);
	TEST_RUN(test_buf_nul);
	TEST_RUN(test_pool);
	TEST_RUN(test_base64);
	TEST_RUN(test_secure);
	TEST_RUN(test_hash);
	return test_finish();
}
