/* test-lmtp-parser.c: unit tests for the LMTP command-line parser (lmtp-parser.h): line
 * framing fed whole and in chunks of every small size, verbs, MAIL/RCPT paths and parameters
 * with the reply each refusal must carry, recipient name candidates and details, LHLO
 * sanitising and the UTF-8 check. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/pool.h"
#include "lib/test.h"
#include "lmtp/lmtp-parser.h"

/* Feed input in chunks of `chunk` bytes (0: whole) to lmtp_line_next as a session would (the
 * buffer grows, complete lines are taken off the front, an overlong line is skipped to its LF)
 * and write "L:line" / "TOOLONG" / "PARTIAL:n" entries joined by '|'. */
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
			int r = lmtp_line_next(buf, have, max, &line_len, &consumed);
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
	char first[4096];
	frame(input, strlen(input), 0, max, first, sizeof(first));
	CHECK_STR(first, want);
	for (size_t chunk = 1; chunk <= 9; chunk++) {
		char got[4096];
		frame(input, strlen(input), chunk, max, got, sizeof(got));
		CHECK_STR(got, want);
	}
}

static void test_line_framing(void)
{
	check_frame("NOOP\r\n", 16, "L:NOOP|");
	check_frame("NOOP\r\nRSET\nQUIT\r\n", 16, "L:NOOP|L:RSET|L:QUIT|");
	check_frame("NOOP\r\nRS", 16, "L:NOOP|PARTIAL:2|");
	check_frame("\r\n", 16, "L:|");
	/* a bare CR inside the line stays in it (lmtp_cmd_parse refuses it) */
	check_frame("NO\rOP\r\n", 16, "L:NO\rOP|");
	/* exactly max bytes fit, with CRLF or bare LF; one more is too long */
	check_frame("0123456789\r\n", 10, "L:0123456789|");
	check_frame("0123456789\n", 10, "L:0123456789|");
	check_frame("0123456789a\r\nNOOP\r\n", 10, "TOOLONG|L:NOOP|");
	check_frame("0123456789a\nNOOP\r\n", 10, "TOOLONG|L:NOOP|");
	check_frame("0123456789abcdefghijklmnopqrstuvwxyz\r\nNOOP\r\n", 10, "TOOLONG|L:NOOP|");
	/* a too-long line is found before its end arrives */
	check_frame("0123456789abcdef", 10, "");

	size_t len = 0, consumed = 0;
	CHECK(lmtp_line_next((const unsigned char *)"0123456789ab", 12, 10, &len, &consumed) < 0);
	CHECK(lmtp_line_next((const unsigned char *)"0123456789\r", 11, 10, &len, &consumed) == 0);
	CHECK(lmtp_line_next((const unsigned char *)"", 0, 10, &len, &consumed) == 0);
}

static void test_cmd_parse(void)
{
	struct lmtp_cmd cmd;
	struct lmtp_error err;
	static const struct {
		const char *line;
		enum lmtp_verb verb;
		const char *args;
	} cases[] = {
		{"LHLO host.example", LMTP_CMD_LHLO, "host.example"},
		{"lhlo host", LMTP_CMD_LHLO, "host"},
		{"MAIL FROM:<a@b>", LMTP_CMD_MAIL, "FROM:<a@b>"},
		{"mail   FROM:<a@b>", LMTP_CMD_MAIL, "FROM:<a@b>"},
		{"RcPt TO:<a@b>", LMTP_CMD_RCPT, "TO:<a@b>"},
		{"DATA", LMTP_CMD_DATA, ""},
		{"data ", LMTP_CMD_DATA, ""},
		{"RSET", LMTP_CMD_RSET, ""},
		{"NOOP anything", LMTP_CMD_NOOP, "anything"},
		{"QUIT", LMTP_CMD_QUIT, ""},
		{"VRFY bob", LMTP_CMD_VRFY, "bob"},
		{"EXPN list", LMTP_CMD_EXPN, "list"},
		{"HELP", LMTP_CMD_HELP, ""},
		{"HELO x", LMTP_CMD_HELO, "x"},
		{"EHLO x", LMTP_CMD_EHLO, "x"},
		{"BDAT 10 LAST", LMTP_CMD_BDAT, "10 LAST"},
		{"STARTTLS", LMTP_CMD_STARTTLS, ""},
		{"AUTH PLAIN", LMTP_CMD_AUTH, "PLAIN"},
		{"MAILX FROM:<a@b>", LMTP_CMD_UNKNOWN, "FROM:<a@b>"},
		{"MAI", LMTP_CMD_UNKNOWN, ""},
		{"", LMTP_CMD_UNKNOWN, ""},
		{"NOOP\tx", LMTP_CMD_NOOP, "x"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&cmd, 0, sizeof(cmd));
		CHECK(lmtp_cmd_parse(cases[i].line, strlen(cases[i].line), &cmd, &err) == 0);
		CHECK(cmd.verb == cases[i].verb);
		CHECK_STR(cmd.args, cases[i].args);
	}
	/* control characters: 500 5.5.2 */
	static const char nul_line[] = "NOOP\0x";
	CHECK(lmtp_cmd_parse(nul_line, sizeof(nul_line) - 1, &cmd, &err) < 0);
	CHECK(err.code == 500);
	CHECK_STR(err.enh, "5.5.2");
	CHECK(lmtp_cmd_parse("NO\rOP", 5, &cmd, &err) < 0);
	CHECK(lmtp_cmd_parse("NOOP\x7f", 5, &cmd, &err) < 0);
	CHECK(lmtp_cmd_parse("NOOP\x1b", 5, &cmd, &err) < 0);
}

/* Parse MAIL arguments; 0 or the refusal's code. */
static unsigned mail(struct pool *pool, const char *args, struct lmtp_path *path,
		     struct lmtp_mail_params *params, const char **enh_r)
{
	struct lmtp_error err = {0};
	if (lmtp_parse_mail(pool, args, path, params, &err) == 0)
		return 0;
	if (enh_r != NULL)
		*enh_r = err.enh;
	CHECK(err.text != NULL && err.text[0] != '\0');
	return err.code;
}

static void test_mail(void)
{
	struct pool *pool = pool_create(1024);
	struct lmtp_path p;
	struct lmtp_mail_params m;
	const char *enh = NULL;

	CHECK(mail(pool, "FROM:<bob@example.org>", &p, &m, NULL) == 0);
	CHECK_STR(p.addr, "bob@example.org");
	CHECK_STR(p.local, "bob");
	CHECK_STR(p.domain, "example.org");
	CHECK(!p.utf8 && !m.has_size && m.body == LMTP_BODY_NONE && !m.smtputf8);

	/* the null reverse-path */
	CHECK(mail(pool, "FROM:<>", &p, &m, NULL) == 0);
	CHECK_STR(p.addr, "");
	CHECK(p.domain == NULL);
	/* case-insensitive prefix, white space after the colon (a common quirk) */
	CHECK(mail(pool, "from: <a@b.example>", &p, &m, NULL) == 0);
	CHECK_STR(p.addr, "a@b.example");
	/* a source route is accepted and dropped (RFC 5321 4.1.1.3) */
	CHECK(mail(pool, "FROM:<@relay.example,@other.example:joe@example.org>", &p, &m, NULL) == 0);
	CHECK_STR(p.addr, "joe@example.org");
	/* quoted local parts may hold '>', '@', spaces and quoted pairs */
	CHECK(mail(pool, "FROM:<\"a>b@c d\\\"e\"@example.org>", &p, &m, NULL) == 0);
	CHECK_STR(p.addr, "\"a>b@c d\\\"e\"@example.org");
	CHECK_STR(p.local, "a>b@c d\"e");
	CHECK_STR(p.domain, "example.org");
	/* dots as real senders use them */
	CHECK(mail(pool, "FROM:<a..b.@example.org>", &p, &m, NULL) == 0);
	CHECK_STR(p.local, "a..b.");
	/* address literals */
	CHECK(mail(pool, "FROM:<x@[192.0.2.1]>", &p, &m, NULL) == 0);
	CHECK_STR(p.domain, "[192.0.2.1]");
	CHECK(mail(pool, "FROM:<x@[IPv6:2001:db8::1]>", &p, &m, NULL) == 0);
	CHECK_STR(p.domain, "[IPv6:2001:db8::1]");

	/* parameters */
	CHECK(mail(pool, "FROM:<a@b.example> SIZE=1000 BODY=8BITMIME SMTPUTF8", &p, &m, NULL) == 0);
	CHECK(m.has_size && m.size == 1000 && m.body == LMTP_BODY_8BITMIME && m.smtputf8);
	CHECK(mail(pool, "FROM:<a@b.example> body=7bit size=0", &p, &m, NULL) == 0);
	CHECK(m.has_size && m.size == 0 && m.body == LMTP_BODY_7BIT);
	CHECK(mail(pool, "FROM:<a@b.example> SIZE=18446744073709551615", &p, &m, NULL) == 0);
	CHECK(m.size == UINT64_MAX);
	CHECK(mail(pool, "FROM:<a@b.example> SIZE=18446744073709551616", &p, &m, &enh) == 501);
	CHECK(mail(pool, "FROM:<a@b.example> SIZE=1x", &p, &m, &enh) == 501);
	CHECK(mail(pool, "FROM:<a@b.example> SIZE=", &p, &m, &enh) == 501);
	CHECK(mail(pool, "FROM:<a@b.example> SIZE", &p, &m, &enh) == 501);
	CHECK(mail(pool, "FROM:<a@b.example> SIZE=1 SIZE=2", &p, &m, &enh) == 501);
	CHECK(mail(pool, "FROM:<a@b.example> BODY=BINARYMIME", &p, &m, &enh) == 555);
	CHECK(mail(pool, "FROM:<a@b.example> BODY=9BIT", &p, &m, &enh) == 501);
	CHECK(mail(pool, "FROM:<a@b.example> BODY=7BIT BODY=7BIT", &p, &m, &enh) == 501);
	CHECK(mail(pool, "FROM:<a@b.example> SMTPUTF8=yes", &p, &m, &enh) == 501);
	CHECK(mail(pool, "FROM:<a@b.example> SMTPUTF8 SMTPUTF8", &p, &m, &enh) == 501);
	CHECK(mail(pool, "FROM:<a@b.example> RET=HDRS", &p, &m, &enh) == 555);
	CHECK_STR(enh, "5.5.4");
	CHECK(mail(pool, "FROM:<a@b.example> =x", &p, &m, &enh) == 501);
	CHECK(mail(pool, "FROM:<a@b.example>SIZE=1", &p, &m, &enh) == 501);

	/* UTF-8 (RFC 6531): recorded; invalid UTF-8 refused */
	CHECK(mail(pool, "FROM:<送信者@例え.jp> SMTPUTF8", &p, &m, NULL) == 0);
	CHECK(p.utf8);
	CHECK_STR(p.local, "送信者");
	CHECK(mail(pool, "FROM:<\xff@b.example>", &p, &m, &enh) == 501);
	CHECK_STR(enh, "5.1.7");
	CHECK(mail(pool, "FROM:<\xc3\x28@b.example>", &p, &m, &enh) == 501);

	/* syntax */
	CHECK(mail(pool, "FROM:bob@example.org", &p, &m, &enh) == 501);
	CHECK_STR(enh, "5.5.4");
	CHECK(mail(pool, "TO:<a@b.example>", &p, &m, &enh) == 501);
	CHECK(mail(pool, "FROM:<a@b.example", &p, &m, &enh) == 501);
	CHECK(mail(pool, "FROM:<a>", &p, &m, &enh) == 501);
	CHECK_STR(enh, "5.1.7");
	CHECK(mail(pool, "FROM:<postmaster>", &p, &m, &enh) == 501);
	CHECK(mail(pool, "FROM:<@a.example>", &p, &m, &enh) == 501);
	CHECK(mail(pool, "FROM:<a@>", &p, &m, &enh) == 501);
	CHECK(mail(pool, "FROM:<a@.b>", &p, &m, &enh) == 501);
	CHECK(mail(pool, "FROM:<a@b c>", &p, &m, &enh) == 501);
	CHECK(mail(pool, "FROM:<a b@c.example>", &p, &m, &enh) == 501);
	CHECK(mail(pool, "FROM:<\"unterminated@b.example>", &p, &m, &enh) == 501);
	CHECK(mail(pool, "FROM:<\"\"@b.example>", &p, &m, &enh) == 501);
	CHECK(mail(pool, "FROM:<x@[]>", &p, &m, &enh) == 501);
	CHECK(mail(pool, "FROM:<x@[1.2.3.4>", &p, &m, &enh) == 501);
	CHECK(mail(pool, "FROM:", &p, &m, &enh) == 501);
	CHECK(mail(pool, "", &p, &m, &enh) == 501);

	/* path length: LMTP_PATH_MAX fits, one more does not */
	char big[LMTP_PATH_MAX + 64];
	size_t local_len = LMTP_PATH_MAX - strlen("@b.example");
	memcpy(big, "FROM:<", 6);
	memset(big + 6, 'a', local_len);
	snprintf(big + 6 + local_len, sizeof(big) - 6 - local_len, "@b.example>");
	CHECK(mail(pool, big, &p, &m, NULL) == 0);
	CHECK(strlen(p.addr) == LMTP_PATH_MAX);
	memset(big + 6, 'a', local_len + 1);
	snprintf(big + 7 + local_len, sizeof(big) - 7 - local_len, "@b.example>");
	CHECK(mail(pool, big, &p, &m, &enh) == 501);
	pool_destroy(&pool);
}

static void test_rcpt(void)
{
	struct pool *pool = pool_create(1024);
	struct lmtp_path p;
	struct lmtp_error err;
	CHECK(lmtp_parse_rcpt(pool, "TO:<alice@example.com>", &p, &err) == 0);
	CHECK_STR(p.addr, "alice@example.com");
	CHECK(lmtp_parse_rcpt(pool, "to:<Alice+Work@Example.COM>", &p, &err) == 0);
	CHECK_STR(p.local, "Alice+Work");
	/* <postmaster> without a domain (RFC 5321 4.1.1.3), any case */
	CHECK(lmtp_parse_rcpt(pool, "TO:<postmaster>", &p, &err) == 0);
	CHECK(p.domain == NULL);
	CHECK_STR(p.local, "postmaster");
	CHECK(lmtp_parse_rcpt(pool, "TO:<PostMaster>", &p, &err) == 0);
	CHECK(lmtp_parse_rcpt(pool, "TO:<\"postmaster\">", &p, &err) < 0);
	CHECK(lmtp_parse_rcpt(pool, "TO:<alice>", &p, &err) < 0);
	CHECK(err.code == 501);
	CHECK_STR(err.enh, "5.1.3");
	CHECK(lmtp_parse_rcpt(pool, "TO:<>", &p, &err) < 0);
	CHECK(err.code == 501);
	/* no RCPT parameter is supported (no DSN offered) */
	CHECK(lmtp_parse_rcpt(pool, "TO:<a@b.example> NOTIFY=NEVER", &p, &err) < 0);
	CHECK(err.code == 555);
	CHECK(lmtp_parse_rcpt(pool, "TO:<a@b.example> ", &p, &err) == 0);
	CHECK(lmtp_parse_rcpt(pool, "TO:<a@b.example> !", &p, &err) < 0);
	CHECK(err.code == 501);
	CHECK(lmtp_parse_rcpt(pool, "FROM:<a@b.example>", &p, &err) < 0);
	CHECK_STR(err.enh, "5.5.4");
	CHECK(lmtp_parse_rcpt(pool, "TO:<ユーザー@例え.jp>", &p, &err) == 0);
	CHECK(p.utf8);
	pool_destroy(&pool);
}

static void names(struct pool *pool, const char *addr, const char *delims, const char *want,
		  const char *want_detail, unsigned want_from)
{
	struct lmtp_path p;
	struct lmtp_error err;
	char args[600];
	snprintf(args, sizeof(args), "TO:<%s>", addr);
	CHECK(lmtp_parse_rcpt(pool, args, &p, &err) == 0);
	struct lmtp_rcpt_names n;
	lmtp_rcpt_names(pool, &p, delims, &n);
	char got[2048];
	size_t o = 0;
	got[0] = '\0';
	for (unsigned i = 0; i < n.count; i++)
		o += (size_t)snprintf(got + o, sizeof(got) - o, "%s%s", i > 0 ? "|" : "",
				      n.names[i]);
	CHECK_STR(got, want);
	if (want_detail == NULL)
		CHECK(n.detail == NULL);
	else
		CHECK(n.detail != NULL && strcmp(n.detail, want_detail) == 0);
	CHECK(n.detail_from == want_from);
}

static void test_rcpt_names(void)
{
	struct pool *pool = pool_create(1024);
	names(pool, "alice@example.com", "+", "alice@example.com|alice", NULL, 2);
	names(pool, "alice+work@example.com", "+",
	      "alice+work@example.com|alice+work|alice@example.com|alice", "work", 2);
	/* the first delimiter splits; the detail keeps any later one */
	names(pool, "alice+a+b@example.com", "+",
	      "alice+a+b@example.com|alice+a+b|alice@example.com|alice", "a+b", 2);
	/* several delimiter characters (Postfix's recipient_delimiter = +-) */
	names(pool, "bob-lists@example.com", "+-",
	      "bob-lists@example.com|bob-lists|bob@example.com|bob", "lists", 2);
	/* no delimiter configured */
	names(pool, "alice+work@example.com", "", "alice+work@example.com|alice+work", NULL, 2);
	/* a leading delimiter is part of the name */
	names(pool, "+work@example.com", "+", "+work@example.com|+work", NULL, 2);
	/* an empty detail still names the base user */
	names(pool, "alice+@example.com", "+", "alice+@example.com|alice+|alice@example.com|alice",
	      "", 2);
	names(pool, "postmaster", "+", "postmaster", NULL, 1);
	/* a quoted local part is unquoted for the lookup */
	names(pool, "\"carol\"@example.com", "+", "carol@example.com|carol", NULL, 2);
	names(pool, "ユーザー+仕事@例え.jp", "+", "ユーザー+仕事@例え.jp|ユーザー+仕事|ユーザー@例え.jp|ユーザー",
	      "仕事", 2);
	pool_destroy(&pool);
}

static void test_helo_sanitize(void)
{
	struct pool *pool = pool_create(1024);
	CHECK_STR(lmtp_helo_sanitize(pool, "mx.example.org"), "mx.example.org");
	CHECK_STR(lmtp_helo_sanitize(pool, "[192.0.2.1]"), "[192.0.2.1]");
	CHECK_STR(lmtp_helo_sanitize(pool, "a b(c)d\xc3\xa9"), "a?b?c?d??");
	CHECK_STR(lmtp_helo_sanitize(pool, ""), "");
	char big[LMTP_HELO_MAX + 100];
	memset(big, 'h', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CHECK(strlen(lmtp_helo_sanitize(pool, big)) == LMTP_HELO_MAX);
	pool_destroy(&pool);
}

static void test_utf8(void)
{
	static const struct {
		const char *s;
		bool valid;
	} cases[] = {
		{"plain", true},
		{"\xc3\xa9", true},
		{"\xe4\xbc\x9a\xe8\xad\xb0", true},
		{"\xf0\x9f\x98\x80", true},
		{"\xf4\x8f\xbf\xbf", true},          /* U+10FFFF */
		{"\xf4\x90\x80\x80", false},         /* above U+10FFFF */
		{"\xc0\xaf", false},                 /* overlong '/' */
		{"\xe0\x80\xaf", false},             /* overlong */
		{"\xf0\x80\x80\xaf", false},         /* overlong */
		{"\xed\xa0\x80", false},             /* surrogate */
		{"\xc3", false},                     /* truncated */
		{"\xe4\xbc", false},
		{"\x80", false},
		{"\xc3\x28", false},
		{"\xfe", false},
		{"a\xe4\xbc\x9a" "b", true},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool got = lmtp_utf8_valid((const unsigned char *)cases[i].s, strlen(cases[i].s));
		if (got != cases[i].valid)
			printf("  case %zu\n", i);
		CHECK(got == cases[i].valid);
	}
}

int main(void)
{
	TEST_RUN(test_line_framing);
	TEST_RUN(test_cmd_parse);
	TEST_RUN(test_mail);
	TEST_RUN(test_rcpt);
	TEST_RUN(test_rcpt_names);
	TEST_RUN(test_helo_sanitize);
	TEST_RUN(test_utf8);
	return test_finish();
}
