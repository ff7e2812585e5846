/* test-imap-thread.c: RFC 5256 threading (imap-thread.c): ORDEREDSUBJECT grouping and order,
 * REFERENCES parent/child links, dummies (pruned, kept at the top with several children),
 * subject merging with replies, duplicate ids, loops, quoted msg-ids, and a chain of 20000
 * messages (nothing recurses). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "imap/imap-thread.h"
#include "lib/buf.h"
#include "lib/pool.h"
#include "lib/test.h"

struct tm_spec {
	const char *subject; /* base subject (canonical form does not matter here) */
	bool reply;
	const char *id;
	const char *refs;
	int64_t date;
};

static const char *render(enum imap_thread_alg alg, const struct tm_spec *spec, size_t n)
{
	static char text[4096];
	struct pool *pool = pool_create(4096);
	struct store_thread_msg *m = pool_alloc_array(pool, n ? n : 1, sizeof(*m));
	uint32_t *num = pool_alloc_array(pool, n ? n : 1, sizeof(uint32_t));
	for (size_t i = 0; i < n; i++) {
		m[i].uid = (uint32_t)(i + 1);
		num[i] = (uint32_t)(i + 1);
		m[i].date = spec[i].date;
		m[i].reply = spec[i].reply;
		m[i].subject = (struct store_thread_str){(const unsigned char *)spec[i].subject,
							 strlen(spec[i].subject)};
		m[i].message_id = (struct store_thread_str){(const unsigned char *)spec[i].id,
							    strlen(spec[i].id)};
		m[i].references = (struct store_thread_str){(const unsigned char *)spec[i].refs,
							    strlen(spec[i].refs)};
	}
	struct buf out, sliced;
	buf_init(&out, (size_t)-2);
	buf_init(&sliced, (size_t)-2);
	imap_thread_render(alg, m, num, n, pool, &out);
	/* in slices of no time at all: the same */
	struct imap_thread *th = imap_thread_begin(alg, m, num, n, pool);
	while (imap_thread_step(th, 0, &sliced) == 0)
		;
	imap_thread_end(&th);
	CHECK_MEM(sliced.data != NULL ? (char *)sliced.data : "", sliced.len,
		  out.data != NULL ? (char *)out.data : "", out.len);
	snprintf(text, sizeof(text), "%.*s", (int)out.len, out.data != NULL ? (char *)out.data : "");
	buf_free(&out);
	buf_free(&sliced);
	pool_destroy(&pool);
	return text;
}

static void test_orderedsubject(void)
{
	static const struct tm_spec s[] = {
		{"A", false, "", "", 3}, {"B", false, "", "", 1}, {"A", true, "", "", 2},
		{"A", false, "", "", 5}, {"C", false, "", "", 4}, {"", false, "", "", 6},
		{"", false, "", "", 0},
	};
	CHECK_STR(render(IMAP_THREAD_ORDEREDSUBJECT, s, 7), " (7 6)(2)(3 (1)(4))(5)");
	CHECK_STR(render(IMAP_THREAD_ORDEREDSUBJECT, s, 2), " (2)(1)");
	CHECK_STR(render(IMAP_THREAD_ORDEREDSUBJECT, s, 0), "");
}

static void test_references(void)
{
	static const struct tm_spec s[] = {
		/* 1 */ {"X", false, "<1@a>", "", 1},
		/* 2 */ {"X", true, "<2@a>", "<1@a>", 2},
		/* 3 */ {"X", true, "<3@a>", "<1@a> <2@a>", 3},
		/* 4 */ {"X", true, "<4@a>", "<1@a>", 4},
		/* 5 */ {"Y", false, "<5@a>", "", 5},
		/* 6: parent missing, as is 7's: a dummy with two children */
		/* 6 */ {"Z", true, "<6@a>", "<missing@a>", 6},
		/* 7 */ {"Z", true, "<7@a>", "<missing@a>", 7},
		/* 8: no references, a reply to Y: under 5 */
		/* 8 */ {"Y", true, "<8@a>", "", 8},
		/* 9, 10: the same id; 11 answers the first */
		/* 9 */ {"D", false, "<dup@a>", "", 9},
		/* 10 */ {"E", false, "<dup@a>", "", 10},
		/* 11 */ {"D", true, "<11@a>", "<\"dup\"@a>", 11},
		/* 12, 13: each names the other as parent: no loop */
		/* 12 */ {"L", false, "<12@a>", "<13@a>", 12},
		/* 13 */ {"M", false, "<13@a>", "<12@a>", 13},
	};
	CHECK_STR(render(IMAP_THREAD_REFERENCES, s, 5), " (1 (2 3)(4))(5)");
	CHECK_STR(render(IMAP_THREAD_REFERENCES, s, 7), " (1 (2 3)(4))(5)((6)(7))");
	CHECK_STR(render(IMAP_THREAD_REFERENCES, s, 8), " (1 (2 3)(4))(5 8)((6)(7))");
	CHECK_STR(render(IMAP_THREAD_REFERENCES, s, 11), " (1 (2 3)(4))(5 8)((6)(7))(9 11)(10)");
	CHECK_STR(render(IMAP_THREAD_REFERENCES, s, 13),
		  " (1 (2 3)(4))(5 8)((6)(7))(9 11)(10)(13 12)");
	/* only a reply missing its parent: the dummy with one child is promoted */
	CHECK_STR(render(IMAP_THREAD_REFERENCES, s + 5, 1), " (1)");
	/* two threads with the same subject, neither a reply: joined under a dummy */
	static const struct tm_spec same[] = {
		{"S", false, "<a@b>", "", 2}, {"S", false, "<c@d>", "", 1}, {"T", false, "", "", 3},
	};
	CHECK_STR(render(IMAP_THREAD_REFERENCES, same, 3), " ((2)(1))(3)");
}

static void test_long_chain(void)
{
	enum { N = 20000 };
	struct pool *pool = pool_create(1 << 20);
	struct store_thread_msg *m = pool_alloc_array(pool, N, sizeof(*m));
	uint32_t *num = pool_alloc_array(pool, N, sizeof(uint32_t));
	for (size_t i = 0; i < N; i++) {
		char *id = pool_printf(pool, "<%zu@x>", i);
		char *ref = i > 0 ? pool_printf(pool, "<%zu@x>", i - 1) : "";
		m[i].uid = num[i] = (uint32_t)(i + 1);
		m[i].date = (int64_t)i;
		m[i].subject = (struct store_thread_str){(const unsigned char *)"s", 1};
		m[i].message_id = (struct store_thread_str){(const unsigned char *)id, strlen(id)};
		m[i].references = (struct store_thread_str){(const unsigned char *)ref, strlen(ref)};
	}
	struct buf out;
	buf_init(&out, (size_t)-2);
	imap_thread_render(IMAP_THREAD_REFERENCES, m, num, N, pool, &out);
	CHECK(out.len > 10 && memcmp(out.data, " (1 2 3 ", 8) == 0);
	CHECK(memcmp(out.data + out.len - 7, " 20000)", 7) == 0);
	buf_free(&out);
	pool_destroy(&pool);
}

int main(void)
{
	TEST_RUN(test_orderedsubject);
	TEST_RUN(test_references);
	TEST_RUN(test_long_chain);
	return test_finish();
}
