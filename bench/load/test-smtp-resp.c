/* test-smtp-resp.c: unit tests of the load generator's SMTP/LMTP reply framer, fed whole and
 * in chunks down to single bytes (the framing must not depend on how the bytes arrive). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/test.h"
#include "smtp-resp.h"

#define MAX_REPLIES 8

struct got {
	unsigned code, lines;
	char text[512];
	char last[128];
};

/* Feed s in chunks of `chunk` bytes (0: whole); record each reply. Returns the number of
 * replies, -1 on a framing error (*error_r set), -2 when bytes of a reply were left over. */
static int feed(const char *s, size_t len, size_t chunk, size_t max_text, struct got *out,
		const char **error_r)
{
	struct smtp_resp_reader r;
	size_t pos = 0;
	int count = 0;
	smtp_resp_reader_init(&r, max_text);
	while (pos < len) {
		size_t n = chunk == 0 || len - pos < chunk ? len - pos : chunk;
		size_t off = 0;
		while (off < n) {
			size_t used;
			int ret = smtp_resp_reader_feed(&r, (const unsigned char *)s + pos + off,
							n - off, &used, error_r);
			if (ret < 0) {
				smtp_resp_reader_free(&r);
				return -1;
			}
			off += used;
			if (ret == 0)
				break;
			struct smtp_resp resp;
			smtp_resp_reader_get(&r, &resp);
			if (count < MAX_REPLIES) {
				out[count].code = resp.code;
				out[count].lines = resp.lines;
				snprintf(out[count].text, sizeof(out[count].text), "%s", resp.text);
				snprintf(out[count].last, sizeof(out[count].last), "%s", resp.last);
			}
			count++;
			smtp_resp_reader_next(&r);
		}
		pos += n;
	}
	bool partial = smtp_resp_reader_partial(&r);
	smtp_resp_reader_free(&r);
	return partial ? -2 : count;
}

static const size_t chunks[] = {0, 1, 2, 3, 5, 64};

static void test_lhlo_and_pipelined(void)
{
	static const char s[] = "220 mx.example LMTP ready\r\n"
				"250-mx.example\r\n"
				"250-PIPELINING\r\n"
				"250-ENHANCEDSTATUSCODES\r\n"
				"250 8BITMIME\r\n"
				"250 2.1.0 OK\r\n"
				"250 2.1.5 OK\r\n"
				"550 5.1.1 <x@y> User doesn't exist\r\n"
				"354 OK\r\n"
				"250\r\n";
	for (size_t k = 0; k < sizeof(chunks) / sizeof(chunks[0]); k++) {
		struct got g[MAX_REPLIES];
		const char *err = NULL;
		int n = feed(s, strlen(s), chunks[k], 4096, g, &err);
		CHECK(n == 7);
		if (n != 7) {
			printf("  chunk %zu: %d %s\n", chunks[k], n, err ? err : "");
			continue;
		}
		CHECK(g[0].code == 220 && g[0].lines == 1);
		CHECK_STR(g[0].text, "mx.example LMTP ready");
		CHECK(g[1].code == 250 && g[1].lines == 4);
		CHECK_STR(g[1].text, "mx.example\nPIPELINING\nENHANCEDSTATUSCODES\n8BITMIME");
		CHECK_STR(g[1].last, "8BITMIME");
		CHECK(g[2].code == 250);
		CHECK_STR(g[2].text, "2.1.0 OK");
		CHECK(g[4].code == 550);
		CHECK_STR(g[4].last, "5.1.1 <x@y> User doesn't exist");
		CHECK(g[5].code == 354);
		CHECK(g[6].code == 250 && g[6].lines == 1);
		CHECK_STR(g[6].text, "");
	}
}

static void test_lines(void)
{
	struct smtp_resp_reader r;
	struct smtp_resp resp;
	static const char s[] = "250-a\r\n250-\r\n250 ccc\r\n";
	size_t used;
	const char *err, *line;
	size_t len;
	smtp_resp_reader_init(&r, 100);
	CHECK(smtp_resp_reader_feed(&r, (const unsigned char *)s, strlen(s), &used, &err) == 1);
	CHECK(used == strlen(s));
	smtp_resp_reader_get(&r, &resp);
	CHECK(resp.lines == 3);
	CHECK(smtp_resp_line(&resp, 0, &line, &len) == 1 && len == 1 && line[0] == 'a');
	CHECK(smtp_resp_line(&resp, 1, &line, &len) == 1 && len == 0);
	CHECK(smtp_resp_line(&resp, 2, &line, &len) == 1 && len == 3 && memcmp(line, "ccc", 3) == 0);
	CHECK(smtp_resp_line(&resp, 3, &line, &len) == 0);
	smtp_resp_reader_next(&r);
	CHECK(!smtp_resp_reader_partial(&r));
	smtp_resp_reader_free(&r);
}

static void test_partial(void)
{
	struct got g[MAX_REPLIES];
	const char *err = NULL;
	CHECK(feed("250-a\r\n", 7, 0, 100, g, &err) == -2);
	CHECK(feed("250 a\r", 6, 1, 100, g, &err) == -2);
	CHECK(feed("25", 2, 0, 100, g, &err) == -2);
}

static void test_errors(void)
{
	static const char *const bad[] = {
		"250 ok\n",              /* bare LF */
		"250 o\rk\r\n",          /* CR inside */
		"2x0 ok\r\n",            /* not digits */
		"150 ok\r\n",            /* first digit out of range */
		"650 ok\r\n",
		"25\r\n",                /* short */
		"250_ok\r\n",            /* bad separator */
		"250-a\r\n251 b\r\n",    /* code changes */
		"\r\n",                  /* empty line */
		"250 a\r\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		for (size_t k = 0; k < sizeof(chunks) / sizeof(chunks[0]); k++) {
			struct got g[MAX_REPLIES];
			const char *err = NULL;
			int n = feed(bad[i], strlen(bad[i]), chunks[k], 100, g, &err);
			if (n != -1)
				printf("  accepted (chunk %zu): %s", chunks[k], bad[i]);
			CHECK(n == -1 && err != NULL);
		}
	}
}

static void test_nul(void)
{
	static const char s[] = "250 a\0b\r\n";
	for (size_t k = 0; k < sizeof(chunks) / sizeof(chunks[0]); k++) {
		struct got g[MAX_REPLIES];
		const char *err = NULL;
		CHECK(feed(s, sizeof(s) - 1, chunks[k], 100, g, &err) == -1);
	}
}

static void test_limits(void)
{
	char line[SMTP_RESP_LINE_MAX + 16];
	struct got g[MAX_REPLIES];
	const char *err = NULL;
	/* a line at the limit passes, one byte more does not */
	memset(line, 'x', sizeof(line));
	memcpy(line, "250 ", 4);
	memcpy(line + SMTP_RESP_LINE_MAX, "\r\n", 2);
	CHECK(feed(line, SMTP_RESP_LINE_MAX + 2, 0, 8192, g, &err) == 1);
	memcpy(line + SMTP_RESP_LINE_MAX, "x\r\n", 3);
	CHECK(feed(line, SMTP_RESP_LINE_MAX + 3, 0, 8192, g, &err) == -1);
	CHECK(feed(line, SMTP_RESP_LINE_MAX + 3, 1, 8192, g, &err) == -1);
	/* the text limit of the whole reply */
	CHECK(feed("250-aaaa\r\n250-bbbb\r\n250 cccc\r\n", 30, 0, 8, g, &err) == -1);
	CHECK(feed("250-aaaa\r\n250 bbbb\r\n", 20, 0, 9, g, &err) == 1);
}

int main(void)
{
	TEST_RUN(test_lhlo_and_pipelined);
	TEST_RUN(test_lines);
	TEST_RUN(test_partial);
	TEST_RUN(test_errors);
	TEST_RUN(test_nul);
	TEST_RUN(test_limits);
	return test_finish();
}
