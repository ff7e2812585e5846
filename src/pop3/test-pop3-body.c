/* test-pop3-body.c: unit tests for the RETR/TOP encoder (pop3-body.h): byte-stuffing, bare LF,
 * the terminator, TOP's cut, each fed whole and in chunks of every small size so the resume
 * paths run. */
#include <stdlib.h>
#include <string.h>

#include "lib/test.h"
#include "pop3/pop3-body.h"

/* Encode in with the given chunk size (0: whole); returns the output (static). */
static const char *encode(const char *in, bool all, uint32_t lines, size_t chunk,
			  size_t *used_r)
{
	static char result[8192];
	struct pop3_body b;
	struct buf out;
	buf_init(&out, 16384);
	pop3_body_init(&b, all, lines);
	size_t len = strlen(in), off = 0;
	while (off < len && !b.done) {
		size_t n = chunk == 0 || len - off < chunk ? len - off : chunk;
		size_t used = pop3_body_encode(&b, (const unsigned char *)in + off, n, &out);
		off += used;
		if (used < n && !b.done)
			break; /* must not happen */
	}
	pop3_body_finish(&b, &out);
	*used_r = off;
	size_t k = out.len < sizeof(result) - 1 ? out.len : sizeof(result) - 1;
	memcpy(result, out.data, k);
	result[k] = '\0';
	buf_free(&out);
	return result;
}

static void check(const char *in, bool all, uint32_t lines, const char *want)
{
	size_t used0;
	const char *first = encode(in, all, lines, 0, &used0);
	CHECK_STR(first, want);
	for (size_t chunk = 1; chunk <= 7; chunk++) {
		size_t used;
		CHECK_STR(encode(in, all, lines, chunk, &used), want);
		CHECK(used == used0);
	}
}

static void test_retr(void)
{
	check("Subject: x\r\n\r\nbody\r\n", true, 0, "Subject: x\r\n\r\nbody\r\n.\r\n");
	/* RFC 1939 3: a line starting with "." gets one more */
	check("S: x\r\n\r\n.\r\n..two\r\n.x\r\n", true, 0,
	      "S: x\r\n\r\n..\r\n...two\r\n..x\r\n.\r\n");
	check(".first\r\n", true, 0, "..first\r\n.\r\n");
	/* no final line end: one is added before the terminator */
	check("S: x\r\n\r\nlast", true, 0, "S: x\r\n\r\nlast\r\n.\r\n");
	check("", true, 0, ".\r\n");
	/* bare LF goes out as CRLF; a dot after it is stuffed; bare CR stays */
	check("a\nb\n.c\r\n", true, 0, "a\r\nb\r\n..c\r\n.\r\n");
	check("a\rb\r\n", true, 0, "a\rb\r\n.\r\n");
	check("a\r\n.", true, 0, "a\r\n..\r\n.\r\n");
	/* a dot not at a line start is left alone */
	check("a.b\r\n", true, 0, "a.b\r\n.\r\n");
}

static void test_top(void)
{
	const char *msg = "From: a\r\nSubject: s\r\n\r\nl1\r\n.l2\r\nl3\r\n";
	check(msg, false, 0, "From: a\r\nSubject: s\r\n\r\n.\r\n");
	check(msg, false, 1, "From: a\r\nSubject: s\r\n\r\nl1\r\n.\r\n");
	check(msg, false, 2, "From: a\r\nSubject: s\r\n\r\nl1\r\n..l2\r\n.\r\n");
	check(msg, false, 3, "From: a\r\nSubject: s\r\n\r\nl1\r\n..l2\r\nl3\r\n.\r\n");
	check(msg, false, 100, "From: a\r\nSubject: s\r\n\r\nl1\r\n..l2\r\nl3\r\n.\r\n");
	/* no blank line: the header is the whole message */
	check("From: a\r\nSubject: s\r\n", false, 0, "From: a\r\nSubject: s\r\n.\r\n");
	/* bare LF line ends */
	check("From: a\n\nl1\nl2\n", false, 1, "From: a\r\n\r\nl1\r\n.\r\n");
	/* an empty body line is a line */
	check("A: b\r\n\r\n\r\nx\r\n", false, 1, "A: b\r\n\r\n\r\n.\r\n");
	/* empty body lines count as lines */
	check("A: b\r\n\r\n\r\n\r\nx\r\n", false, 2, "A: b\r\n\r\n\r\n\r\n.\r\n");
}

int main(void)
{
	TEST_RUN(test_retr);
	TEST_RUN(test_top);
	return test_finish();
}
