/* test-imap-resp.c: unit tests of the load generator's response reader and parser, fed whole
 * and byte by byte (the framing must not depend on how the bytes arrive). */
#include <stdlib.h>
#include <string.h>

#include "imap-resp.h"
#include "lib/pool.h"
#include "lib/test.h"

/* Feed s in chunks of `chunk` bytes (0: whole); parse each complete response into out[] as
 * one summary line. Returns the number of responses, -1 on a reader or parser error. */
static int feed(const char *s, size_t chunk, struct pool *pool, struct imap_resp *out,
		size_t max, const char **error_r, size_t keep_max)
{
	struct imap_resp_reader r;
	size_t len = strlen(s), pos = 0;
	int count = 0;
	imap_resp_reader_init(&r, 4096, keep_max);
	while (pos < len) {
		size_t n = chunk == 0 || len - pos < chunk ? len - pos : chunk;
		size_t off = 0;
		while (off < n) {
			size_t used;
			int ret = imap_resp_reader_feed(&r, (const unsigned char *)s + pos + off,
							n - off, &used, error_r);
			if (ret < 0) {
				imap_resp_reader_free(&r);
				return -1;
			}
			off += used;
			if (ret == 0)
				break;
			if ((size_t)count == max ||
			    imap_resp_parse(&r, pool, &out[count], error_r) < 0) {
				imap_resp_reader_free(&r);
				return -1;
			}
			/* literal bytes die with next(); the tests look at lengths and hashes */
			count++;
			imap_resp_reader_next(&r);
		}
		pos += n;
	}
	int partial = imap_resp_reader_partial(&r);
	imap_resp_reader_free(&r);
	if (partial) {
		*error_r = "partial response at end";
		return -1;
	}
	return count;
}

static const char *fetch_text =
	"* 12 FETCH (UID 55 FLAGS (\\Seen \\Flagged) RFC822.SIZE 11 "
	"BODY[HEADER.FIELDS (From To)] {7}\r\nFrom: x BODY[]<0> {12}\r\nhello\r\nworld)\r\n"
	"a7 OK [READ-WRITE] done\r\n";

static void test_fetch_literals(void)
{
	static const size_t chunks[] = {0, 1, 2, 3, 7, 64};
	for (size_t k = 0; k < sizeof(chunks) / sizeof(chunks[0]); k++) {
		struct pool *pool = pool_create(4096);
		struct imap_resp resp[4];
		const char *err = NULL;
		int n = feed(fetch_text, chunks[k], pool, resp, 4, &err, 64);
		CHECK(n == 2);
		if (n != 2) {
			printf("  chunk %zu: %s\n", chunks[k], err ? err : "?");
			pool_destroy(&pool);
			continue;
		}
		CHECK(resp[0].kind == IMAP_RESP_UNTAGGED && resp[0].has_num && resp[0].num == 12);
		CHECK_STR(resp[0].name, "FETCH");
		struct imap_val *l = resp[0].args;
		CHECK(l != NULL && l->type == IMAP_VAL_LIST && l->len == 10 && l->next == NULL);
		struct imap_val *v = l->list;
		uint32_t u = 0;
		CHECK(imap_val_is(v, "uid") && imap_val_u32(v->next, &u) && u == 55);
		v = v->next->next->next;
		CHECK(v->type == IMAP_VAL_LIST && v->len == 2 && imap_val_is(v->list, "\\Seen"));
		v = v->next->next->next;
		CHECK_STR(v->str, "BODY[HEADER.FIELDS (From To)]");
		CHECK(v->next->type == IMAP_VAL_LITERAL && v->next->len == 7);
		v = v->next->next;
		CHECK_STR(v->str, "BODY[]<0>");
		size_t len = 0;
		uint64_t hash = 0;
		CHECK(imap_val_nstring(v->next, false, &len, &hash) && len == 12);
		CHECK(hash == imap_resp_hash(IMAP_RESP_HASH_INIT,
					     (const unsigned char *)"hello\r\nworld", 12));
		CHECK(resp[1].kind == IMAP_RESP_TAGGED && resp[1].is_status);
		CHECK_STR(resp[1].tag, "a7");
		CHECK_STR(resp[1].name, "OK");
		CHECK_STR(resp[1].code, "READ-WRITE");
		CHECK_STR(resp[1].text, "done");
		pool_destroy(&pool);
	}
}

static void test_status_codes(void)
{
	struct pool *pool = pool_create(4096);
	struct imap_resp resp[8];
	const char *err = NULL;
	int n = feed("* OK [CAPABILITY IMAP4rev1 IDLE] ready\r\n"
		     "* OK [PERMANENTFLAGS (\\Seen \\*)] Flags\r\n"
		     "+ idling\r\n"
		     "+\r\n"
		     "* BYE\r\n"
		     "b NO [TRYCREATE] no such mailbox\r\n"
		     "c OK\r\n",
		     1, pool, resp, 8, &err, 64);
	CHECK(n == 7);
	if (n == 7) {
		CHECK_STR(resp[0].code, "CAPABILITY");
		CHECK_STR(resp[0].code_args, "IMAP4rev1 IDLE");
		CHECK_STR(resp[0].text, "ready");
		CHECK_STR(resp[1].code_args, "(\\Seen \\*)");
		CHECK(resp[2].kind == IMAP_RESP_CONT);
		CHECK_STR(resp[2].text, "idling");
		CHECK(resp[3].kind == IMAP_RESP_CONT);
		CHECK_STR(resp[4].name, "BYE");
		CHECK(resp[4].code == NULL);
		CHECK_STR(resp[5].code, "TRYCREATE");
		CHECK_STR(resp[6].name, "OK");
		CHECK_STR(resp[6].text, "");
	}
	pool_destroy(&pool);
}

static void test_data_responses(void)
{
	struct pool *pool = pool_create(4096);
	struct imap_resp resp[8];
	const char *err = NULL;
	int n = feed("* LIST (\\HasNoChildren) \"/\" \"a \\\"q\\\" b\"\r\n"
		     "* SEARCH\r\n"
		     "* SEARCH 2 4 9\r\n"
		     "* 3 EXPUNGE\r\n"
		     "* STATUS Archive (MESSAGES 3 UIDNEXT 9)\r\n"
		     "* 1 FETCH (BODYSTRUCTURE ((\"text\" \"plain\" NIL NIL NIL \"7bit\" 3 1)"
		     "(\"text\" \"html\" NIL NIL NIL \"7bit\" 5 1) \"alternative\"))\r\n",
		     0, pool, resp, 8, &err, 64);
	CHECK(n == 6);
	if (n == 6) {
		struct imap_val *v = resp[0].args;
		CHECK(v->type == IMAP_VAL_LIST && v->next->type == IMAP_VAL_STRING);
		CHECK_STR(v->next->next->str, "a \"q\" b");
		CHECK(resp[1].args == NULL);
		CHECK(resp[2].args != NULL && resp[2].args->next->next != NULL);
		CHECK(resp[3].has_num && resp[3].num == 3 && resp[3].args == NULL);
		CHECK_STR(resp[3].name, "EXPUNGE");
		CHECK(resp[4].args->next->type == IMAP_VAL_LIST);
		struct imap_val *bs = resp[5].args->list->next;
		CHECK(bs->type == IMAP_VAL_LIST && bs->len == 3 && bs->list->type == IMAP_VAL_LIST);
	}
	pool_destroy(&pool);
}

static void test_nul_in_literal(void)
{
	static const char msg[] = "* 2 FETCH (BINARY[1] ~{3}\r\na\0c)\r\n";
	struct imap_resp_reader r;
	struct pool *pool = pool_create(4096);
	const char *err = NULL;
	size_t used;
	imap_resp_reader_init(&r, 4096, 64);
	CHECK(imap_resp_reader_feed(&r, (const unsigned char *)msg, sizeof(msg) - 1, &used, &err) ==
	      1);
	CHECK(used == sizeof(msg) - 1);
	struct imap_resp resp;
	CHECK(imap_resp_parse(&r, pool, &resp, &err) == 1);
	struct imap_val *v = resp.args->list->next;
	CHECK(v->type == IMAP_VAL_LITERAL && v->len == 3 && memcmp(v->str, "a\0c", 3) == 0);
	imap_resp_reader_free(&r);
	pool_destroy(&pool);
}

static void test_big_literal_not_kept(void)
{
	struct imap_resp_reader r;
	const char *err = NULL;
	size_t used;
	imap_resp_reader_init(&r, 4096, 4);
	const char *head = "* 1 FETCH (BODY[] {10}\r\n";
	CHECK(imap_resp_reader_feed(&r, (const unsigned char *)head, strlen(head), &used, &err) ==
	      0);
	CHECK(imap_resp_reader_partial(&r));
	CHECK(imap_resp_reader_feed(&r, (const unsigned char *)"0123456789)\r\nx", 14, &used,
				    &err) == 1);
	CHECK(used == 13);
	CHECK(r.lit_count == 1 && r.lits[0].data == NULL && r.lits[0].len == 10);
	CHECK(r.lits[0].hash ==
	      imap_resp_hash(IMAP_RESP_HASH_INIT, (const unsigned char *)"0123456789", 10));
	imap_resp_reader_next(&r);
	CHECK(!imap_resp_reader_partial(&r));
	imap_resp_reader_free(&r);
}

static void test_errors(void)
{
	static const char *bad[] = {
		"* OK bare lf\n",
		"a FETCH (UID 1)\r\n",
		"* 1 FETCH (UID 1\r\n",
		"* 1 FETCH (BODY[1 {3}\r\nabc)\r\n",
		"* LIST () \"unterminated\r\n",
		"* 1 FETCH (X {99999999999}\r\n",
		"* OK [CODE text\r\n",
		"* 1 FETCH (UID 1)) \r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct pool *pool = pool_create(4096);
		struct imap_resp resp[2];
		const char *err = NULL;
		int n = feed(bad[i], 1, pool, resp, 2, &err, 64);
		if (n != -1)
			printf("  accepted: %s", bad[i]);
		CHECK(n == -1 && err != NULL);
		pool_destroy(&pool);
	}
}

static void test_text_limit(void)
{
	struct imap_resp_reader r;
	const char *err = NULL;
	size_t used;
	char line[100];
	memset(line, 'x', sizeof(line));
	imap_resp_reader_init(&r, 50, 64);
	CHECK(imap_resp_reader_feed(&r, (const unsigned char *)line, sizeof(line), &used, &err) ==
	      -1);
	imap_resp_reader_free(&r);
}

int main(void)
{
	TEST_RUN(test_fetch_literals);
	TEST_RUN(test_status_codes);
	TEST_RUN(test_data_responses);
	TEST_RUN(test_nul_in_literal);
	TEST_RUN(test_big_literal_not_kept);
	TEST_RUN(test_errors);
	TEST_RUN(test_text_limit);
	return test_finish();
}
