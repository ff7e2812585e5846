/* test-pop3-parser.c: unit tests for pop3-parser.h: line framing fed whole and in chunks of
 * every small size, keywords and arguments, message numbers, the UIDL form. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/test.h"
#include "pop3/pop3-parser.h"

/* Feed input in chunks (0: whole) the way the session does and write "L:line" / "TOOLONG" /
 * "PARTIAL:n" entries joined by '|'. */
static void frame(const char *input, size_t len, size_t chunk, size_t max, char *out,
		  size_t out_size)
{
	unsigned char buf[8192];
	size_t have = 0, fed = 0, o = 0;
	bool skipping = false;
	out[0] = '\0';
	while (fed < len || have > 0) {
		size_t n = chunk == 0 ? len - fed : (len - fed < chunk ? len - fed : chunk);
		memcpy(buf + have, input + fed, n);
		have += n;
		fed += n;
		for (;;) {
			if (skipping) {
				unsigned char *lf = memchr(buf, '\n', have);
				if (lf == NULL) {
					have = 0;
					break;
				}
				size_t used = (size_t)(lf - buf) + 1;
				memmove(buf, buf + used, have - used);
				have -= used;
				skipping = false;
				o += (size_t)snprintf(out + o, out_size - o, "TOOLONG|");
				continue;
			}
			size_t line_len = 0, consumed = 0;
			int r = pop3_line_next(buf, have, max, &line_len, &consumed);
			if (r == 0)
				break;
			if (r < 0) {
				skipping = true;
				continue;
			}
			o += (size_t)snprintf(out + o, out_size - o, "L:%.*s|", (int)line_len,
					      (const char *)buf);
			memmove(buf, buf + consumed, have - consumed);
			have -= consumed;
		}
		if (fed == len) {
			if (have > 0)
				o += (size_t)snprintf(out + o, out_size - o, "PARTIAL:%zu|", have);
			break;
		}
	}
}

static void check_frame(const char *input, size_t max, const char *want)
{
	char got[4096];
	for (size_t chunk = 0; chunk <= 9; chunk++) {
		frame(input, strlen(input), chunk, max, got, sizeof(got));
		CHECK_STR(got, want);
	}
}

static void test_line_framing(void)
{
	check_frame("STAT\r\n", 16, "L:STAT|");
	check_frame("STAT\r\nLIST 1\nQUIT\r\n", 16, "L:STAT|L:LIST 1|L:QUIT|");
	check_frame("STAT\r\nRE", 16, "L:STAT|PARTIAL:2|");
	check_frame("\r\n", 16, "L:|");
	check_frame("0123456789\r\nSTAT\r\n", 10, "L:0123456789|L:STAT|");
	check_frame("0123456789A\r\nSTAT\r\n", 10, "TOOLONG|L:STAT|");
	check_frame("0123456789AB\nSTAT\r\n", 10, "TOOLONG|L:STAT|");
	check_frame("0123456789ABCDEFGHIJKLMNOP\r\nNOOP\r\n", 10, "TOOLONG|L:NOOP|");
}

static void test_cmd_parse(void)
{
	struct pop3_cmd_line c;
	const char *err;
	CHECK(pop3_cmd_parse("stat", 4, &c, &err) == 0);
	CHECK_STR(c.keyword, "STAT");
	CHECK(c.arg_count == 0 && c.rest_len == 0 && !c.args_bad);
	CHECK(pop3_cmd_parse("Top 1 10", 8, &c, &err) == 0);
	CHECK_STR(c.keyword, "TOP");
	CHECK(c.arg_count == 2);
	CHECK_STR(c.args[0], "1");
	CHECK_STR(c.args[1], "10");
	const char *pass = "PASS  a secret with spaces ";
	CHECK(pop3_cmd_parse(pass, strlen(pass), &c, &err) == 0);
	CHECK_MEM(c.rest, c.rest_len, " a secret with spaces ", 22);
	CHECK(c.args_bad); /* 4 words: only PASS may use it, through rest */
	CHECK(pop3_cmd_parse("LIST 1 2 3", 10, &c, &err) == 0 && c.args_bad);
	char longarg[64];
	memset(longarg, 'a', sizeof(longarg));
	memcpy(longarg, "USER ", 5);
	CHECK(pop3_cmd_parse(longarg, 5 + POP3_ARG_MAX, &c, &err) == 0 && !c.args_bad);
	CHECK(pop3_cmd_parse(longarg, 6 + POP3_ARG_MAX, &c, &err) == 0 && c.args_bad);
	/* keywords: 3-4 letters only */
	CHECK(pop3_cmd_parse("ST", 2, &c, &err) < 0);
	CHECK(pop3_cmd_parse("STATS", 5, &c, &err) < 0);
	CHECK(pop3_cmd_parse("ST4T", 4, &c, &err) < 0);
	CHECK(pop3_cmd_parse("", 0, &c, &err) < 0);
	CHECK(pop3_cmd_parse(" STAT", 5, &c, &err) < 0);
	CHECK(pop3_cmd_parse("STAT\0", 5, &c, &err) < 0);
	CHECK(pop3_cmd_parse("PASS a\rb", 8, &c, &err) < 0);
	CHECK(pop3_cmd_parse("PASS a\tb", 8, &c, &err) == 0);
	CHECK(pop3_cmd_parse("PASS \x7f", 6, &c, &err) < 0);
	/* 8-bit bytes in arguments are passed on (UTF-8 user names) */
	CHECK(pop3_cmd_parse("USER j\xc3\xb6rg", 10, &c, &err) == 0);
	CHECK_STR(c.args[0], "j\xc3\xb6rg");
}

static void test_numbers(void)
{
	uint32_t n = 7;
	CHECK(pop3_parse_number("1", false, &n) == 0 && n == 1);
	CHECK(pop3_parse_number("4294967295", false, &n) == 0 && n == 4294967295u);
	CHECK(pop3_parse_number("4294967296", false, &n) < 0);
	CHECK(pop3_parse_number("99999999999999999999999", false, &n) < 0);
	CHECK(pop3_parse_number("0", false, &n) < 0);
	CHECK(pop3_parse_number("0", true, &n) == 0 && n == 0);
	CHECK(pop3_parse_number("007", false, &n) == 0 && n == 7);
	CHECK(pop3_parse_number("-1", true, &n) < 0);
	CHECK(pop3_parse_number("+1", true, &n) < 0);
	CHECK(pop3_parse_number("1a", true, &n) < 0);
	CHECK(pop3_parse_number("", true, &n) < 0);
	CHECK(pop3_parse_number(NULL, true, &n) < 0);
}

static void test_uidl(void)
{
	char u[POP3_UIDL_LEN + 1];
	pop3_uidl(0x6b05bb77, 1, u);
	CHECK_STR(u, "6b05bb7700000001");
	pop3_uidl(0xffffffffu, 0xffffffffu, u);
	CHECK_STR(u, "ffffffffffffffff");
	pop3_uidl(0, 0, u);
	CHECK_STR(u, "0000000000000000");
	CHECK(strlen(u) == POP3_UIDL_LEN);
	/* RFC 2449 6.3: 0x21..0x7E only */
	for (size_t i = 0; u[i] != '\0'; i++)
		CHECK(u[i] >= 0x21 && u[i] <= 0x7e);
}

int main(void)
{
	TEST_RUN(test_line_framing);
	TEST_RUN(test_cmd_parse);
	TEST_RUN(test_numbers);
	TEST_RUN(test_uidl);
	return test_finish();
}
