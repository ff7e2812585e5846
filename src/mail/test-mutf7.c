/* test-mutf7.c: unit tests for modified UTF-7 (RFC 3501 5.1.3). Encodings were computed with
 * Python (base64 of UTF-16BE, "/" -> ","), and the RFC's own example. */
#include <stdlib.h>

#include "lib/buf.h"
#include "lib/test.h"
#include "mail/mutf7.h"

static int pair(const char *utf8, const char *mutf7)
{
	struct buf b;
	const char *error = NULL;
	int ok = 1;
	buf_init(&b, 4096);
	if (mutf7_from_utf8(&b, utf8, strlen(utf8), &error) != 0 || b.len != strlen(mutf7) ||
	    (b.len > 0 && memcmp(b.data, mutf7, b.len) != 0)) {
		printf("  encode '%s': got '%.*s' (%s)\n", utf8, (int)b.len,
		       b.data ? (char *)b.data : "", error ? error : "");
		ok = 0;
	}
	buf_reset(&b);
	if (mutf7_to_utf8(&b, mutf7, strlen(mutf7), &error) != 0 || b.len != strlen(utf8) ||
	    (b.len > 0 && memcmp(b.data, utf8, b.len) != 0)) {
		printf("  decode '%s': got '%.*s' (%s)\n", mutf7, (int)b.len,
		       b.data ? (char *)b.data : "", error ? error : "");
		ok = 0;
	}
	buf_free(&b);
	return ok && mutf7_is_valid(mutf7, strlen(mutf7));
}

static int bad_mutf7(const char *s, size_t len)
{
	struct buf b;
	const char *error = NULL;
	buf_init(&b, 4096);
	buf_append(&b, "keep", 4);
	int r = mutf7_to_utf8(&b, s, len, &error);
	int ok = r == -1 && error != NULL && b.len == 4 && !mutf7_is_valid(s, len);
	buf_free(&b);
	return ok;
}
#define BAD7(lit) bad_mutf7(lit, sizeof(lit) - 1)

static int bad_utf8(const char *s, size_t len)
{
	struct buf b;
	const char *error = NULL;
	buf_init(&b, 4096);
	int r = mutf7_from_utf8(&b, s, len, &error);
	int ok = r == -1 && error != NULL && b.len == 0;
	buf_free(&b);
	return ok;
}
#define BAD8(lit) bad_utf8(lit, sizeof(lit) - 1)

static void test_mutf7_roundtrip(void)
{
	CHECK(pair("", ""));
	CHECK(pair("INBOX", "INBOX"));
	CHECK(pair("&", "&-"));
	CHECK(pair("a&b&&", "a&-b&-&-"));
	/* RFC 3501 5.1.3 example */
	CHECK(pair("~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
		   "~peter/mail/&U,BTFw-/&ZeVnLIqe-"));
	CHECK(pair("Entw\xc3\xbc" "rfe", "Entw&APw-rfe"));
	CHECK(pair("\xf0\x9f\x98\x80", "&2D3eAA-"));
	CHECK(pair("\xe5\x8f\x97\xe4\xbf\xa1\xe7\xae\xb1/\xe4\xbc\x9a\xe8\xad\xb0",
		   "&U9dP4Xux-/&TxqLcA-"));
	CHECK(pair("\xe2\x82\xac&\xe2\x82\xac", "&IKw-&-&IKw-"));
	CHECK(pair("\x01", "&AAE-"));
	CHECK(pair("~ !\x7e", "~ !~"));
}

static void test_mutf7_invalid(void)
{
	CHECK(BAD7("&"));              /* unterminated */
	CHECK(BAD7("&ZeVnLIqe"));      /* no "-" */
	CHECK(BAD7("&Ze-"));           /* not a whole UTF-16 unit */
	CHECK(BAD7("&ZeVnLIqeA-"));    /* a spare 6-bit group */
	CHECK(BAD7("&U,BTFx-"));       /* padding bits not zero */
	CHECK(BAD7("&U/BTFw-"));       /* "/" is not in the modified alphabet */
	CHECK(BAD7("&U,BT=w-"));       /* "=" neither */
	CHECK(BAD7("&AEE-"));          /* "A" must represent itself */
	CHECK(BAD7("&ACY-"));          /* "&" must be "&-" */
	CHECK(BAD7("&AAA-"));          /* NUL */
	CHECK(BAD7("&2D0-"));          /* a lone high surrogate (and bad length) */
	CHECK(BAD7("&2D3YPQ-"));       /* high surrogate followed by high surrogate */
	CHECK(BAD7("&3gA-"));          /* a lone low surrogate */
	CHECK(BAD7("&2D0AQQ-"));       /* high surrogate then "A" */
	CHECK(BAD7("&U,B-&TFw-"));     /* adjacent shifted runs */
	CHECK(BAD7("&IKw-&IKw-"));
	CHECK(BAD7("caf\xc3\xa9"));    /* 8-bit */
	CHECK(BAD7("a\tb"));           /* control */
	CHECK(BAD7("a\x7f"));
	CHECK(BAD7("a\0b"));
	CHECK(BAD8("a\xff"));
	CHECK(BAD8("\xc0\xaf"));
	CHECK(BAD8("\xed\xa0\x80"));
	CHECK(BAD8("\xe6\x97"));
	CHECK(BAD8("a\0b"));
}

static void test_mutf7_limits(void)
{
	struct buf b;
	const char *error;
	buf_init(&b, 5);
	CHECK(mutf7_from_utf8(&b, "\xe6\x97\xa5", 3, &error) == 0); /* "&ZeU-" */
	CHECK_MEM(b.data, b.len, "&ZeU-", 5);
	buf_reset(&b);
	CHECK(mutf7_from_utf8(&b, "\xe6\x97\xa5\xe6\x97\xa5", 6, &error) == -1);
	CHECK(b.len == 0);
	buf_free(&b);

	/* every BMP character except surrogates round-trips, and a long run */
	size_t n = 0;
	char *u = malloc(4 * 0x10000);
	for (unsigned int cp = 1; cp < 0x10000; cp++) {
		if (cp >= 0xd800 && cp <= 0xdfff)
			continue;
		if (cp < 0x80) {
			u[n++] = (char)cp;
		} else if (cp < 0x800) {
			u[n++] = (char)(0xc0 | cp >> 6);
			u[n++] = (char)(0x80 | (cp & 0x3f));
		} else {
			u[n++] = (char)(0xe0 | cp >> 12);
			u[n++] = (char)(0x80 | (cp >> 6 & 0x3f));
			u[n++] = (char)(0x80 | (cp & 0x3f));
		}
	}
	struct buf m, back;
	buf_init(&m, 1 << 22);
	buf_init(&back, 1 << 22);
	CHECK(mutf7_from_utf8(&m, u, n, &error) == 0);
	CHECK(mutf7_to_utf8(&back, m.data, m.len, &error) == 0);
	CHECK(back.len == n && memcmp(back.data, u, n) == 0);
	buf_free(&m);
	buf_free(&back);
	free(u);
}

int main(void)
{
	TEST_RUN(test_mutf7_roundtrip);
	TEST_RUN(test_mutf7_invalid);
	TEST_RUN(test_mutf7_limits);
	return test_finish();
}
