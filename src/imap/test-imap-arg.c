/* test-imap-arg.c: unit tests for the argument checks and string writers of imap-arg.c, on
 * arguments produced by the real parser (fed whole and byte by byte) and on hand-made ones. */
#include <stdint.h>
#include <stdlib.h>

#include "imap/imap-arg.h"
#include "imap/imap-parser.h"
#include "lib/buf.h"
#include "lib/pool.h"
#include "lib/test.h"

static struct pool *test_pool;

/* Parse "t X <args>\r\n" whole and byte by byte; the arguments must match; returns the
 * whole-fed result (in test_pool; the struct is one of a ring of 8). */
static const struct imap_parsed *parse_args(const char *args, size_t args_len)
{
	static struct imap_parsed ring[8];
	static unsigned ring_pos;
	struct imap_parsed *cmd = &ring[ring_pos++ % 8];
	struct imap_parser_limits lim;
	imap_parser_limits_default(&lim);
	size_t len = args_len + 6;
	char *line = malloc(len + 1);
	memcpy(line, "t X ", 4);
	memcpy(line + 4, args, args_len);
	memcpy(line + 4 + args_len, "\r\n", 3);

	struct imap_parser *p = imap_parser_create(&lim);
	struct imap_parser_error err;
	struct buf in;
	buf_init(&in, len);
	buf_append(&in, line, len);
	int ret = imap_parser_next(p, &in, test_pool, cmd, &err);
	if (ret != 1)
		printf("  parse of '%s' failed: %s\n", line, ret < 0 ? err.msg : "need more");
	CHECK(ret == 1);
	imap_parser_destroy(&p);

	/* byte by byte: the same arguments */
	struct pool *pool2 = pool_create(1024);
	p = imap_parser_create(&lim);
	struct imap_parsed cmd2;
	int ret2 = 0;
	buf_reset(&in);
	for (size_t i = 0; i < len && ret2 == 0; i++) {
		buf_append_byte(&in, (unsigned char)line[i]);
		ret2 = imap_parser_next(p, &in, pool2, &cmd2, &err);
	}
	CHECK(ret2 == 1);
	if (ret == 1 && ret2 == 1) {
		CHECK(cmd->count == cmd2.count);
		for (size_t i = 0; i < cmd->count && i < cmd2.count; i++) {
			CHECK(cmd->args[i].type == cmd2.args[i].type);
			CHECK(cmd->args[i].len == cmd2.args[i].len);
			if (cmd->args[i].str != NULL && cmd2.args[i].str != NULL)
				CHECK(memcmp(cmd->args[i].str, cmd2.args[i].str, cmd->args[i].len) == 0);
		}
	}
	imap_parser_destroy(&p);
	pool_destroy(&pool2);
	buf_free(&in);
	free(line);
	if (ret != 1)
		cmd->count = 0;
	return cmd;
}

#define PARSE(s) parse_args((s), sizeof(s) - 1)

static struct imap_arg make_arg(enum imap_arg_type type, const char *s, size_t len)
{
	struct imap_arg a;
	memset(&a, 0, sizeof(a));
	a.type = type;
	a.str = s;
	a.len = len;
	return a;
}

static void test_atom(void)
{
	const struct imap_parsed *c =
		PARSE("FOO \\Seen a% a] BODY[] \"FOO\" NIL {3}\r\nFOO (FOO) +FLAGS.SILENT");
	CHECK(c->count == 10);
	if (c->count != 10)
		return;
	CHECK(imap_arg_is_atom(&c->args[0]));
	CHECK(!imap_arg_is_atom(&c->args[1]));
	CHECK(!imap_arg_is_atom(&c->args[2]));
	CHECK(!imap_arg_is_atom(&c->args[3]));
	CHECK(!imap_arg_is_atom(&c->args[4]));
	CHECK(!imap_arg_is_atom(&c->args[5]));
	CHECK(!imap_arg_is_atom(&c->args[6]));
	CHECK(!imap_arg_is_atom(&c->args[7]));
	CHECK(!imap_arg_is_atom(&c->args[8]));
	CHECK(imap_arg_is_atom(&c->args[9]));

	CHECK(imap_arg_atom_equals(&c->args[0], "FOO"));
	CHECK(imap_arg_atom_equals(&c->args[0], "foo"));
	CHECK(imap_arg_atom_equals(&c->args[0], "fOo"));
	CHECK(!imap_arg_atom_equals(&c->args[0], "FO"));
	CHECK(!imap_arg_atom_equals(&c->args[0], "FOOX"));
	CHECK(!imap_arg_atom_equals(&c->args[0], ""));
	CHECK(!imap_arg_atom_equals(&c->args[5], "FOO"));
	CHECK(!imap_arg_atom_equals(&c->args[7], "FOO"));
	CHECK(!imap_arg_atom_equals(&c->args[6], "NIL"));
	CHECK(imap_arg_atom_equals(&c->args[9], "+flags.silent"));
	CHECK(imap_arg_is_nil(&c->args[6]));
	CHECK(!imap_arg_is_nil(&c->args[5]));

	/* hand-made: empty, 8-bit, control characters are no atoms */
	struct imap_arg a = make_arg(IMAP_ARG_ATOM, "", 0);
	CHECK(!imap_arg_is_atom(&a));
	a = make_arg(IMAP_ARG_ATOM, "caf\xc3\xa9", 5);
	CHECK(!imap_arg_is_atom(&a));
	a = make_arg(IMAP_ARG_ATOM, "a\x01", 2);
	CHECK(!imap_arg_is_atom(&a));
	a = make_arg(IMAP_ARG_ATOM, "a{", 2);
	CHECK(!imap_arg_is_atom(&a));
	a = make_arg(IMAP_ARG_ATOM, "a}[~!#", 6);
	CHECK(imap_arg_is_atom(&a));
}

static void test_strings(void)
{
	const struct imap_parsed *c = PARSE("INBOX a]b a% \"q s\" {2}\r\nl\xff ~{2}\r\nx\0 NIL nil "
					    "(x) \\Seen \"\"");
	CHECK(c->count == 11);
	if (c->count != 11)
		return;
	const char *s;
	size_t len;

	/* astring */
	CHECK(imap_arg_get_astring(&c->args[0], &s, &len) && len == 5 && memcmp(s, "INBOX", 5) == 0);
	CHECK(imap_arg_get_astring(&c->args[1], &s, &len) && len == 3 && memcmp(s, "a]b", 3) == 0);
	CHECK(!imap_arg_get_astring(&c->args[2], &s, &len));
	CHECK(imap_arg_get_astring(&c->args[3], &s, &len) && len == 3 && memcmp(s, "q s", 3) == 0);
	CHECK(imap_arg_get_astring(&c->args[4], &s, &len) && len == 2 &&
	      memcmp(s, "l\xff", 2) == 0);
	CHECK(!imap_arg_get_astring(&c->args[5], &s, &len));
	/* the atom NIL is a valid astring, returned as sent */
	CHECK(imap_arg_get_astring(&c->args[6], &s, &len) && len == 3 && strcmp(s, "NIL") == 0);
	CHECK(imap_arg_get_astring(&c->args[7], &s, &len) && len == 3 && strcmp(s, "nil") == 0);
	CHECK(!imap_arg_get_astring(&c->args[8], &s, &len));
	CHECK(!imap_arg_get_astring(&c->args[9], &s, &len));
	CHECK(imap_arg_get_astring(&c->args[10], &s, &len) && len == 0 && s[0] == '\0');

	/* string: quoted or literal only */
	CHECK(!imap_arg_get_string(&c->args[0], &s, &len));
	CHECK(imap_arg_get_string(&c->args[3], &s, &len) && len == 3);
	CHECK(imap_arg_get_string(&c->args[4], &s, &len) && len == 2);
	CHECK(!imap_arg_get_string(&c->args[5], &s, &len));
	CHECK(!imap_arg_get_string(&c->args[6], &s, &len));
	CHECK(!imap_arg_get_string(&c->args[8], &s, &len));
	CHECK(imap_arg_get_string(&c->args[10], &s, &len) && len == 0);

	/* nstring */
	s = "untouched";
	CHECK(!imap_arg_get_nstring(&c->args[0], &s, &len));
	CHECK(strcmp(s, "untouched") == 0);
	CHECK(imap_arg_get_nstring(&c->args[6], &s, &len) && s == NULL && len == 0);
	CHECK(imap_arg_get_nstring(&c->args[7], &s, &len) && s == NULL && len == 0);
	CHECK(imap_arg_get_nstring(&c->args[3], &s, &len) && len == 3);
	CHECK(imap_arg_get_nstring(&c->args[4], &s, &len) && len == 2);
	CHECK(!imap_arg_get_nstring(&c->args[5], &s, &len));

	/* list-mailbox: wildcards allowed in the atom */
	CHECK(imap_arg_get_list_mailbox(&c->args[2], &s, &len) && len == 2);
	CHECK(imap_arg_get_list_mailbox(&c->args[1], &s, &len) && len == 3);
	CHECK(imap_arg_get_list_mailbox(&c->args[3], &s, &len) && len == 3);
	CHECK(!imap_arg_get_list_mailbox(&c->args[9], &s, &len));

	/* literal / literal8 */
	bool l8 = true;
	CHECK(imap_arg_get_literal(&c->args[4], false, &s, &len, &l8) && !l8 && len == 2);
	CHECK(!imap_arg_get_literal(&c->args[5], false, &s, &len, &l8));
	CHECK(imap_arg_get_literal(&c->args[5], true, &s, &len, &l8) && l8 && len == 2 &&
	      memcmp(s, "x\0", 2) == 0);
	CHECK(imap_arg_get_literal(&c->args[5], true, &s, &len, NULL));
	CHECK(!imap_arg_get_literal(&c->args[3], true, &s, &len, &l8));

	/* flags */
	CHECK(imap_arg_get_flag(&c->args[9], &s) && strcmp(s, "\\Seen") == 0);
	CHECK(imap_arg_get_flag(&c->args[0], &s) && strcmp(s, "INBOX") == 0);
	CHECK(!imap_arg_get_flag(&c->args[1], &s));
	CHECK(!imap_arg_get_flag(&c->args[3], &s));
	const struct imap_parsed *f = PARSE("\\* \\ $Junk \\a% \\a]");
	CHECK(f->count == 5);
	if (f->count == 5) {
		CHECK(!imap_arg_get_flag(&f->args[0], &s));
		CHECK(!imap_arg_get_flag(&f->args[1], &s));
		CHECK(imap_arg_get_flag(&f->args[2], &s));
		CHECK(!imap_arg_get_flag(&f->args[3], &s));
		CHECK(!imap_arg_get_flag(&f->args[4], &s));
	}

	/* lists */
	const struct imap_arg *list;
	size_t count;
	CHECK(imap_arg_get_list(&c->args[8], &list, &count) && count == 1 &&
	      imap_arg_atom_equals(&list[0], "x"));
	CHECK(!imap_arg_get_list(&c->args[0], &list, &count));
	const struct imap_parsed *e = PARSE("()");
	CHECK(e->count == 1 && imap_arg_get_list(&e->args[0], &list, &count) && count == 0);
}

static void test_numbers(void)
{
	uint32_t n;
	uint64_t n64;
	CHECK(imap_parse_number("0", 1, &n) && n == 0);
	CHECK(imap_parse_number("00001", 5, &n) && n == 1);
	CHECK(imap_parse_number("4294967295", 10, &n) && n == 4294967295u);
	CHECK(!imap_parse_number("4294967296", 10, &n));
	CHECK(!imap_parse_number("99999999999999999999", 20, &n));
	CHECK(!imap_parse_number("", 0, &n));
	CHECK(!imap_parse_number("-1", 2, &n));
	CHECK(!imap_parse_number("+1", 2, &n));
	CHECK(!imap_parse_number("1a", 2, &n));
	CHECK(!imap_parse_number("1 ", 2, &n));
	CHECK(imap_parse_number("12x", 2, &n) && n == 12);

	CHECK(imap_parse_nz_number("1", 1, &n) && n == 1);
	CHECK(imap_parse_nz_number("4294967295", 10, &n) && n == 4294967295u);
	CHECK(!imap_parse_nz_number("0", 1, &n));
	CHECK(!imap_parse_nz_number("01", 2, &n));
	CHECK(!imap_parse_nz_number("4294967296", 10, &n));
	CHECK(!imap_parse_nz_number("", 0, &n));

	CHECK(imap_parse_number64("0", 1, &n64) && n64 == 0);
	CHECK(imap_parse_number64("9223372036854775807", 19, &n64) && n64 == INT64_MAX);
	CHECK(!imap_parse_number64("9223372036854775808", 19, &n64));
	CHECK(!imap_parse_number64("18446744073709551615", 20, &n64));
	CHECK(!imap_parse_number64("18446744073709551616", 20, &n64));
	CHECK(!imap_parse_number64("99999999999999999999", 20, &n64));
	CHECK(imap_parse_number64("00000000000000000000001", 23, &n64) && n64 == 1);

	const struct imap_parsed *c = PARSE("42 0 \"42\" {2}\r\n42 4294967296 NIL 1:2");
	CHECK(c->count == 7);
	if (c->count != 7)
		return;
	n = 7;
	CHECK(imap_arg_get_number(&c->args[0], &n) && n == 42);
	CHECK(imap_arg_get_number(&c->args[1], &n) && n == 0);
	CHECK(!imap_arg_get_nz_number(&c->args[1], &n));
	CHECK(imap_arg_get_nz_number(&c->args[0], &n) && n == 42);
	n = 7;
	CHECK(!imap_arg_get_number(&c->args[2], &n)); /* numbers are never quoted */
	CHECK(!imap_arg_get_number(&c->args[3], &n));
	CHECK(n == 7);
	CHECK(!imap_arg_get_number(&c->args[4], &n));
	CHECK(imap_arg_get_number64(&c->args[4], &n64) && n64 == 4294967296ull);
	CHECK(!imap_arg_get_number(&c->args[5], &n));
	CHECK(!imap_arg_get_number64(&c->args[5], &n64));
	CHECK(!imap_arg_get_number(&c->args[6], &n));
}

static void check_append(int (*fn)(struct buf *, const char *, size_t), const char *s,
			 size_t len, const char *expected, size_t expected_len, int line)
{
	struct buf b;
	buf_init(&b, 1024);
	buf_append_str(&b, "x ");
	int ret = fn(&b, s, len);
	if (ret != 0 || b.len != expected_len + 2 || memcmp(b.data + 2, expected, expected_len) != 0) {
		printf("  line %d: got %d '%.*s'\n", line, ret, (int)b.len, (const char *)b.data);
		test_cur_failed = 1;
	}
	/* every exact buffer size works; one less fails and leaves the buffer unchanged */
	struct buf small;
	buf_init(&small, expected_len);
	CHECK(fn(&small, s, len) == 0 && small.len == expected_len);
	buf_free(&small);
	if (expected_len > 0) {
		buf_init(&small, expected_len - 1);
		buf_append(&small, "z", 1);
		CHECK(fn(&small, s, len) == -1);
		CHECK(small.len == 1 && small.data[0] == 'z');
		buf_free(&small);
	}
	buf_free(&b);
}

#define CHECK_APPEND(fn, s, expected) \
	check_append(fn, (s), sizeof(s) - 1, (expected), sizeof(expected) - 1, __LINE__)

static int append_nstring_null(struct buf *b, const char *s, size_t len)
{
	(void)s;
	(void)len;
	return imap_append_nstring(b, NULL, 0);
}

static void test_writers(void)
{
	CHECK_APPEND(imap_append_quoted_or_literal, "abc", "\"abc\"");
	CHECK_APPEND(imap_append_quoted_or_literal, "", "\"\"");
	CHECK_APPEND(imap_append_quoted_or_literal, "a\"b\\c", "\"a\\\"b\\\\c\"");
	CHECK_APPEND(imap_append_quoted_or_literal, "a b (c) {3} %*]", "\"a b (c) {3} %*]\"");
	CHECK_APPEND(imap_append_quoted_or_literal, "tab\there\x7f", "\"tab\there\x7f\"");
	CHECK_APPEND(imap_append_quoted_or_literal, "a\r\nb", "{4}\r\na\r\nb");
	CHECK_APPEND(imap_append_quoted_or_literal, "a\rb", "{3}\r\na\rb");
	CHECK_APPEND(imap_append_quoted_or_literal, "caf\xc3\xa9", "{5}\r\ncaf\xc3\xa9");
	CHECK_APPEND(imap_append_quoted_or_literal, "\"\xff", "{2}\r\n\"\xff");

	/* UTF-8 quoted only when well-formed (RFC 3629) */
	CHECK_APPEND(imap_append_quoted_or_literal_utf8, "caf\xc3\xa9", "\"caf\xc3\xa9\"");
	CHECK_APPEND(imap_append_quoted_or_literal_utf8, "\xe4\xbc\x9a\xe8\xad\xb0\"",
		     "\"\xe4\xbc\x9a\xe8\xad\xb0\\\"\"");
	CHECK_APPEND(imap_append_quoted_or_literal_utf8, "\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\"");
	CHECK_APPEND(imap_append_quoted_or_literal_utf8, "\xc3", "{1}\r\n\xc3");
	CHECK_APPEND(imap_append_quoted_or_literal_utf8, "\xc3x", "{2}\r\n\xc3x");
	CHECK_APPEND(imap_append_quoted_or_literal_utf8, "\xc0\x80", "{2}\r\n\xc0\x80");
	CHECK_APPEND(imap_append_quoted_or_literal_utf8, "\xe0\x80\x80", "{3}\r\n\xe0\x80\x80");
	CHECK_APPEND(imap_append_quoted_or_literal_utf8, "\xed\xa0\x80", "{3}\r\n\xed\xa0\x80");
	CHECK_APPEND(imap_append_quoted_or_literal_utf8, "\xf4\x90\x80\x80",
		     "{4}\r\n\xf4\x90\x80\x80");
	CHECK_APPEND(imap_append_quoted_or_literal_utf8, "\xe4\xbc", "{2}\r\n\xe4\xbc");
	CHECK_APPEND(imap_append_quoted_or_literal_utf8, "a\nb", "{3}\r\na\nb");

	CHECK_APPEND(imap_append_astring, "INBOX", "INBOX");
	CHECK_APPEND(imap_append_astring, "a]b", "a]b");
	CHECK_APPEND(imap_append_astring, "NIL", "\"NIL\"");
	CHECK_APPEND(imap_append_astring, "nil", "\"nil\"");
	CHECK_APPEND(imap_append_astring, "NILS", "NILS");
	CHECK_APPEND(imap_append_astring, "", "\"\"");
	CHECK_APPEND(imap_append_astring, "a b", "\"a b\"");
	CHECK_APPEND(imap_append_astring, "a%", "\"a%\"");
	CHECK_APPEND(imap_append_astring, "\\Seen", "\"\\\\Seen\"");
	CHECK_APPEND(imap_append_astring, "\xc3\xa9", "{2}\r\n\xc3\xa9");

	CHECK_APPEND(imap_append_nstring, "x", "\"x\"");
	CHECK_APPEND(imap_append_nstring, "", "\"\"");
	CHECK_APPEND(append_nstring_null, "", "NIL");

	/* NUL has no IMAP string form (literal8 is for BINARY only): refused, buffer unchanged */
	struct buf b;
	buf_init(&b, 100);
	CHECK(imap_append_quoted_or_literal(&b, "a\0b", 3) == -1);
	CHECK(imap_append_quoted_or_literal_utf8(&b, "a\0b", 3) == -1);
	CHECK(imap_append_astring(&b, "a\0b", 3) == -1);
	CHECK(imap_append_nstring(&b, "\0", 1) == -1);
	CHECK(b.len == 0);
	buf_free(&b);
}

/* What the writers produce, the parser reads back as the same string. */
static void test_round_trip(void)
{
	static const struct {
		const char *s;
		size_t len;
	} cases[] = {
		{"INBOX", 5}, {"", 0}, {"NIL", 3}, {"a\"b\\c", 5}, {"a\r\nb", 4}, {"\xc3\xa9", 2},
		{"x]y", 3}, {"a b", 3}, {"{3}", 3}, {"(", 1}, {"\t\x7f", 2}, {"\xff\xfe", 2},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (int w = 0; w < 3; w++) {
			struct buf b;
			buf_init(&b, 256);
			int ret = w == 0   ? imap_append_astring(&b, cases[i].s, cases[i].len)
				  : w == 1 ? imap_append_quoted_or_literal(&b, cases[i].s, cases[i].len)
					   : imap_append_quoted_or_literal_utf8(&b, cases[i].s,
										cases[i].len);
			CHECK(ret == 0);
			const struct imap_parsed *c = parse_args((const char *)b.data, b.len);
			const char *s;
			size_t len;
			CHECK(c->count == 1);
			if (c->count == 1) {
				CHECK(imap_arg_get_astring(&c->args[0], &s, &len));
				CHECK_MEM(s, len, cases[i].s, cases[i].len);
				if (w > 0)
					CHECK(imap_arg_get_nstring(&c->args[0], &s, &len) && s != NULL);
			}
			buf_free(&b);
		}
	}
	struct buf b;
	buf_init(&b, 16);
	CHECK(imap_append_nstring(&b, NULL, 0) == 0);
	const struct imap_parsed *c = parse_args((const char *)b.data, b.len);
	const char *s = "x";
	size_t len;
	CHECK(c->count == 1 && imap_arg_get_nstring(&c->args[0], &s, &len) && s == NULL);
	buf_free(&b);
}

int main(void)
{
	test_pool = pool_create(4096);
	TEST_RUN(test_atom);
	TEST_RUN(test_strings);
	TEST_RUN(test_numbers);
	TEST_RUN(test_writers);
	TEST_RUN(test_round_trip);
	pool_destroy(&test_pool);
	return test_finish();
}
