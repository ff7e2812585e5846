/* test-imap-seqset.c: sequence sets and LIST pattern matching. */
#include "imap/imap-mailbox.h"
#include "imap/imap-seqset.h"
#include "lib/test.h"

static size_t resolve(const char *text, const uint32_t *uids, size_t n, bool by_uid,
		      struct pool *pool, uint32_t **idx, bool *bad)
{
	struct imap_seqset set;
	const char *err;
	size_t count = 0;
	if (imap_seqset_parse(text, strlen(text), pool, 100, &set, &err) < 0) {
		*bad = true;
		return 0;
	}
	imap_seqset_resolve(&set, uids, n, by_uid, pool, idx, &count, bad);
	return count;
}

static void test_parse(void)
{
	struct pool *pool = pool_create(1024);
	struct imap_seqset set;
	const char *err;
	CHECK(imap_seqset_parse("1", 1, pool, 10, &set, &err) == 0 && set.count == 1);
	CHECK(imap_seqset_parse("1:*", 3, pool, 10, &set, &err) == 0 &&
	      set.ranges[0].hi == IMAP_SEQ_STAR);
	CHECK(imap_seqset_parse("5:2,7,9:*", 9, pool, 10, &set, &err) == 0 && set.count == 3);
	CHECK(imap_seqset_parse("$", 1, pool, 10, &set, &err) == 0 && set.is_saved);
	static const char *const bad[] = {"", "0", "1:0", ",1", "1,", "1,,2", "a", "1:", ":1",
					  "4294967296", "1:2:3", "-1", "1 2", "**"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(imap_seqset_parse(bad[i], strlen(bad[i]), pool, 10, &set, &err) == -1);
	CHECK(imap_seqset_parse("1,2,3", 5, pool, 2, &set, &err) == -1); /* too many ranges */
	pool_destroy(&pool);
}

static void test_resolve(void)
{
	struct pool *pool = pool_create(1024);
	const uint32_t uids[] = {3, 5, 9, 10, 20};
	uint32_t *idx;
	bool bad;
	size_t n = resolve("2:4", uids, 5, false, pool, &idx, &bad);
	CHECK(!bad && n == 3 && idx[0] == 1 && idx[2] == 3);
	n = resolve("*", uids, 5, false, pool, &idx, &bad);
	CHECK(!bad && n == 1 && idx[0] == 4);
	n = resolve("4:2,3,1", uids, 5, false, pool, &idx, &bad);
	CHECK(!bad && n == 4 && idx[0] == 0 && idx[3] == 3);
	resolve("6", uids, 5, false, pool, &idx, &bad);
	CHECK(bad); /* beyond the message count */
	n = resolve("4:9", uids, 5, true, pool, &idx, &bad);
	CHECK(!bad && n == 2 && idx[0] == 1 && idx[1] == 2);
	n = resolve("100:*", uids, 5, true, pool, &idx, &bad);
	CHECK(!bad && n == 1 && idx[0] == 4); /* "*" is the highest UID even below the start */
	n = resolve("21:30", uids, 5, true, pool, &idx, &bad);
	CHECK(!bad && n == 0);
	n = resolve("1:*", uids, 0, true, pool, &idx, &bad);
	CHECK(!bad && n == 0);
	resolve("1", uids, 0, false, pool, &idx, &bad);
	CHECK(bad);
	n = resolve("1:4294967295", uids, 5, true, pool, &idx, &bad);
	CHECK(!bad && n == 5);
	const uint32_t vals[] = {1, 2, 3, 7, 9, 10};
	CHECK_STR(imap_seqset_format(pool, vals, 6), "1:3,7,9:10");
	pool_destroy(&pool);
}

static void test_normalize(void)
{
	struct pool *pool = pool_create(1024);
	struct imap_seqset set;
	struct imap_seq_range *r;
	size_t n;
	const char *err;
	const char *text = "20:15,3,1:2,*,7:9,10,16:18";
	CHECK(imap_seqset_parse(text, strlen(text), pool, 100, &set, &err) == 0);
	imap_seqset_normalize(&set, 30, pool, &r, &n);
	/* 1:3 (adjacent merged), 7:10, 15:20 (overlap merged), 30 ("*") */
	CHECK(n == 4);
	CHECK(r[0].lo == 1 && r[0].hi == 3);
	CHECK(r[1].lo == 7 && r[1].hi == 10);
	CHECK(r[2].lo == 15 && r[2].hi == 20);
	CHECK(r[3].lo == 30 && r[3].hi == 30);
	CHECK(imap_seqset_ranges_contain(r, n, 1) && imap_seqset_ranges_contain(r, n, 3));
	CHECK(!imap_seqset_ranges_contain(r, n, 4) && !imap_seqset_ranges_contain(r, n, 6));
	CHECK(imap_seqset_ranges_contain(r, n, 10) && !imap_seqset_ranges_contain(r, n, 11));
	CHECK(imap_seqset_ranges_contain(r, n, 30) && !imap_seqset_ranges_contain(r, n, 31));
	CHECK(!imap_seqset_ranges_contain(r, 0, 1));
	/* "*" as UINT32_MAX (VANISHED (EARLIER)): the top of the range is the largest UID */
	text = "5:*,4294967295,2";
	CHECK(imap_seqset_parse(text, strlen(text), pool, 100, &set, &err) == 0);
	imap_seqset_normalize(&set, UINT32_MAX, pool, &r, &n);
	CHECK(n == 2 && r[0].lo == 2 && r[0].hi == 2 && r[1].lo == 5 && r[1].hi == UINT32_MAX);
	CHECK(imap_seqset_ranges_contain(r, n, UINT32_MAX) && !imap_seqset_ranges_contain(r, n, 4));
	struct buf b;
	buf_init(&b, 64);
	const uint32_t vals[] = {4, 5, 6, 9, 4294967295u};
	CHECK(imap_seqset_append(&b, vals, 5) == 0);
	const char *want = "4:6,9,4294967295";
	CHECK(b.len == strlen(want) && memcmp(b.data, want, b.len) == 0);
	buf_free(&b);
	buf_init(&b, 4);
	CHECK(imap_seqset_append(&b, vals, 5) == -1); /* over the maximum */
	buf_free(&b);
	pool_destroy(&pool);
}

static void test_match(void)
{
	CHECK(imap_mailbox_match("*", "INBOX"));
	CHECK(imap_mailbox_match("*", "a/b/c"));
	CHECK(imap_mailbox_match("%", "abc"));
	CHECK(!imap_mailbox_match("%", "a/b"));
	CHECK(imap_mailbox_match("a/%", "a/b"));
	CHECK(!imap_mailbox_match("a/%", "a/b/c"));
	CHECK(imap_mailbox_match("a/*", "a/b/c"));
	CHECK(imap_mailbox_match("inbox", "INBOX"));
	CHECK(imap_mailbox_match("InBox/%", "INBOX/x"));
	CHECK(!imap_mailbox_match("foo/inbox", "foo/INBOX"));
	CHECK(imap_mailbox_match("%/会議", "受信箱/会議"));
	CHECK(imap_mailbox_match("*b*", "abc"));
	CHECK(!imap_mailbox_match("*x*", "abc"));
	CHECK(imap_mailbox_match("%%", "abc"));
	CHECK(imap_mailbox_match("a%c", "abbbc"));
	CHECK(!imap_mailbox_match("a%c", "ab/c"));
	CHECK(!imap_mailbox_match("", "a"));
	CHECK(imap_mailbox_match("", ""));
	/* many wildcards against a long name: no exponential backtracking */
	char name[1001];
	memset(name, 'a', 1000);
	name[1000] = '\0';
	CHECK(!imap_mailbox_match("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", name));
}

int main(void)
{
	TEST_RUN(test_parse);
	TEST_RUN(test_resolve);
	TEST_RUN(test_normalize);
	TEST_RUN(test_match);
	return test_finish();
}
