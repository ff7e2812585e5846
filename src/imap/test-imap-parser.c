/* test-imap-parser.c: unit tests for the IMAP command parser. Every input is fed whole and in
 * chunks of 1, 2, 5 and 13 bytes, and each of those with literals read into the pool, streamed
 * to a sink, and streamed only from 3 bytes on (a mix): all must give the same transcript;
 * after every input that does not end mid-command or fatally, "x NOOP" must still parse. */
#include <stdint.h>
#include <stdlib.h>
#include <strings.h>

#include "imap/imap-parser.h"
#include "lib/buf.h"
#include "lib/pool.h"
#include "lib/test.h"

static const size_t chunk_sizes[] = {0, 1, 2, 5, 13};

/* The literal sink of the tests: it keeps what it gets for the current command (the owner's
 * side of the contract in imap-parser.h), forgotten after each 1 or -1. */
struct test_sink {
	size_t min;           /* stream literals of at least this size (0: none) */
	bool refuse;          /* literal_sink_begin refuses */
	size_t cap;           /* a write going past cap bytes in total fails (0: no cap) */
	struct buf data;      /* this command's streamed bytes */
	unsigned begins;      /* literals streamed in this command */
	char last_name[32];   /* the command name literal_sink_begin was given */
	uint64_t last_size;
};
static struct test_sink sink;
/* run() in every chunking: sink.min 0 (none), 1 (every literal), 3 (a mix) */
static const size_t sink_mins[] = {0, 1, 3};

static int test_sink_begin(void *ctx, const char *name, uint64_t size, uint64_t *ref_r,
			   const char **error_r)
{
	CHECK(ctx == &sink);
	CHECK(name != NULL && size > 0);
	snprintf(sink.last_name, sizeof(sink.last_name), "%s", name);
	sink.last_size = size;
	if (sink.refuse) {
		*error_r = "refused by the test";
		return -1;
	}
	if (sink.min == 0 || size < sink.min)
		return 0;
	*ref_r = sink.data.len;
	sink.begins++;
	return 1;
}

static int test_sink_write(void *ctx, const void *data, size_t size, const char **error_r)
{
	CHECK(ctx == &sink);
	CHECK(size > 0);
	if (sink.cap != 0 && sink.data.len + size > sink.cap) {
		*error_r = "sink full";
		return -1;
	}
	CHECK(buf_append(&sink.data, data, size) == 0);
	return 0;
}

/* The owner releases what the sink holds when the command is over. */
static void test_sink_release(void)
{
	buf_reset(&sink.data);
	sink.begins = 0;
}

static void test_sink_set(struct imap_parser_limits *lim, size_t min)
{
	buf_free(&sink.data);
	memset(&sink, 0, sizeof(sink));
	buf_init(&sink.data, 64 * 1024 * 1024);
	sink.min = min;
	lim->literal_sink_begin = test_sink_begin;
	lim->literal_sink_write = test_sink_write;
	lim->literal_sink_ctx = &sink;
}

struct run_result {
	struct buf out;  /* one line per command or error, joined by '\n' */
	unsigned conts;  /* continuation requests */
	bool busy, fatal;
	size_t pool_max; /* the most the command pool held after any call */
};

static void out_bytes(struct buf *o, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c >= 0x7f)
			buf_printf(o, "\\x%02x", c);
		else
			buf_append_byte(o, c);
	}
}

static void out_arg(struct buf *o, const struct imap_arg *a)
{
	switch (a->type) {
	case IMAP_ARG_NIL:
		buf_append_str(o, "NIL");
		break;
	case IMAP_ARG_ATOM:
		out_bytes(o, a->str, a->len);
		break;
	case IMAP_ARG_QUOTED:
		buf_append_byte(o, '"');
		out_bytes(o, a->str, a->len);
		buf_append_byte(o, '"');
		break;
	case IMAP_ARG_LITERAL:
		buf_printf(o, "%s{%zu%s}", a->literal8 ? "~" : "", a->len, a->nonsync ? "+" : "");
		out_bytes(o, a->str, a->len);
		break;
	case IMAP_ARG_LITERAL_SINK:
		/* printed as the same literal would be from the pool */
		CHECK(a->str == NULL && a->len >= sink.min && a->len > 0);
		CHECK(a->sink_ref <= sink.data.len && a->len <= sink.data.len - a->sink_ref);
		buf_printf(o, "%s{%zu%s}", a->literal8 ? "~" : "", a->len, a->nonsync ? "+" : "");
		if (a->sink_ref <= sink.data.len && a->len <= sink.data.len - a->sink_ref)
			out_bytes(o, (const char *)sink.data.data + a->sink_ref, a->len);
		break;
	case IMAP_ARG_LIST:
		buf_append_byte(o, '(');
		for (size_t i = 0; i < a->count; i++) {
			if (i > 0)
				buf_append_byte(o, ' ');
			out_arg(o, &a->list[i]);
		}
		buf_append_byte(o, ')');
		break;
	}
}

/* sink_min: stream literals of at least this size to the test sink (0: none), unless lim
 * brings its own sink. */
static void run_sink(const struct imap_parser_limits *lim, const char *input, size_t len,
		     size_t chunk, size_t sink_min, struct run_result *r)
{
	struct imap_parser_limits def;
	if (lim == NULL)
		imap_parser_limits_default(&def);
	else
		def = *lim;
	if (def.literal_sink_begin == NULL && sink_min > 0)
		test_sink_set(&def, sink_min);
	lim = &def;
	test_sink_release();
	struct imap_parser *p = imap_parser_create(lim);
	struct pool *pool = pool_create(1024);
	struct buf in;
	/* the parser consumes everything it looks at: the input never holds more than a chunk */
	buf_init(&in, (chunk != 0 ? chunk : len) + 1);
	buf_init(&r->out, 64 * 1024 * 1024);
	r->conts = 0;
	r->busy = r->fatal = false;
	r->pool_max = 0;

	size_t off = 0;
	for (;;) {
		size_t n = chunk != 0 && len - off > chunk ? chunk : len - off;
		CHECK(buf_append(&in, input + off, n) == 0);
		off += n;
		for (;;) {
			struct imap_parsed cmd;
			struct imap_parser_error err;
			int ret = imap_parser_next(p, &in, pool, &cmd, &err);
			if (imap_parser_take_continuation(p))
				r->conts++;
			if (pool_allocated(pool) > r->pool_max)
				r->pool_max = pool_allocated(pool);
			if (ret == 0)
				break;
			if (r->out.len > 0)
				buf_append_byte(&r->out, '\n');
			if (ret > 0) {
				CHECK(cmd.tag != NULL && cmd.name != NULL);
				CHECK((cmd.count == 0) == (cmd.args == NULL));
				buf_printf(&r->out, "%s %s", cmd.tag, cmd.name);
				for (size_t i = 0; i < cmd.count; i++) {
					buf_append_byte(&r->out, ' ');
					out_arg(&r->out, &cmd.args[i]);
				}
			} else {
				CHECK(err.msg != NULL && err.resp != NULL);
				buf_printf(&r->out, "%s %s %s%s%s%s", err.fatal ? "FATAL" : "ERR",
					   err.tag != NULL ? err.tag : "*", err.resp,
					   err.code != NULL ? " [" : "", err.code != NULL ? err.code : "",
					   err.code != NULL ? "]" : "");
				buf_printf(&r->out, " %s", err.msg);
			}
			pool_clear(pool);
			test_sink_release();
			if (ret < 0 && err.fatal) {
				r->fatal = true;
				/* it stays fatal */
				CHECK(imap_parser_next(p, &in, pool, &cmd, &err) == -1 && err.fatal);
				goto out;
			}
		}
		CHECK(in.len == 0);
		if (off >= len)
			break;
	}
out:
	r->busy = imap_parser_busy(p);
	buf_free(&in);
	pool_destroy(&pool);
	imap_parser_destroy(&p);
	CHECK(p == NULL);
}

static void run(const struct imap_parser_limits *lim, const char *input, size_t len, size_t chunk,
		struct run_result *r)
{
	run_sink(lim, input, len, chunk, 0, r);
}

static const char *out_str(struct run_result *r)
{
	return r->out.data != NULL ? (const char *)r->out.data : "";
}

#define N_CHUNKS (sizeof(chunk_sizes) / sizeof(chunk_sizes[0]))
#define N_SINKS (sizeof(sink_mins) / sizeof(sink_mins[0]))

/* Run in every chunking and sink mode; all must give `expected`. conts_bytewise >= 0: the
 * number of continuations the byte-by-byte run must request. Then "x NOOP" must parse after
 * it. */
static void check_parse_at(int line, const struct imap_parser_limits *lim, const char *input,
			   size_t len, const char *expected, int conts_bytewise)
{
	bool more = true;
	for (size_t j = 0; j < N_CHUNKS * N_SINKS; j++) {
		size_t i = j % N_CHUNKS, sink_min = sink_mins[j / N_CHUNKS];
		struct run_result r;
		run_sink(lim, input, len, chunk_sizes[i], sink_min, &r);
		if (strcmp(out_str(&r), expected) != 0) {
			printf("  line %d, chunk %zu, sink %zu:\n    got      '%s'\n    expected "
			       "'%s'\n", line, chunk_sizes[i], sink_min, out_str(&r), expected);
			test_cur_failed = 1;
		}
		if (chunk_sizes[i] == 1 && conts_bytewise >= 0 && r.conts != (unsigned)conts_bytewise) {
			printf("  line %d: %u continuations, expected %d\n", line, r.conts,
			       conts_bytewise);
			test_cur_failed = 1;
		}
		if (r.fatal || r.busy)
			more = false;
		buf_free(&r.out);
	}
	if (!more)
		return;
	/* the parser is back at a command boundary: the next command parses */
	size_t len2 = len + 8;
	char *input2 = malloc(len2 + 1);
	memcpy(input2, input, len);
	memcpy(input2 + len, "x NOOP\r\n", 9);
	struct buf exp2;
	buf_init(&exp2, strlen(expected) + 16);
	buf_printf(&exp2, "%s%sx NOOP", expected, expected[0] != '\0' ? "\n" : "");
	for (size_t j = 0; j < N_CHUNKS * N_SINKS; j++) {
		size_t i = j % N_CHUNKS, sink_min = sink_mins[j / N_CHUNKS];
		struct run_result r;
		run_sink(lim, input2, len2, chunk_sizes[i], sink_min, &r);
		if (strcmp(out_str(&r), (const char *)exp2.data) != 0) {
			printf("  line %d, chunk %zu, sink %zu, with x NOOP:\n    got      '%s'\n    "
			       "expected '%s'\n", line, chunk_sizes[i], sink_min, out_str(&r),
			       (const char *)exp2.data);
			test_cur_failed = 1;
		}
		CHECK(!r.busy);
		buf_free(&r.out);
	}
	buf_free(&exp2);
	free(input2);
}

#define CHECK_PARSE(input, expected) \
	check_parse_at(__LINE__, NULL, (input), sizeof(input) - 1, (expected), -1)
#define CHECK_PARSE_LIM(lim, input, expected) \
	check_parse_at(__LINE__, (lim), (input), sizeof(input) - 1, (expected), -1)
#define CHECK_PARSE_CONTS(lim, input, expected, conts) \
	check_parse_at(__LINE__, (lim), (input), sizeof(input) - 1, (expected), (conts))

/* Parse one complete command from a string (whole), for tests that look at fields. */
static int parse_one(struct imap_parser *p, struct pool *pool, const char *s, size_t len,
		     struct imap_parsed *cmd, struct imap_parser_error *err)
{
	struct buf in;
	buf_init(&in, len + 1);
	buf_append(&in, s, len);
	int ret = imap_parser_next(p, &in, pool, cmd, err);
	buf_free(&in);
	return ret;
}

static void test_basic(void)
{
	CHECK_PARSE("a NOOP\r\n", "a NOOP");
	CHECK_PARSE("a001 noop\r\n", "a001 noop");
	CHECK_PARSE("a LOGIN user pass\r\n", "a LOGIN user pass");
	CHECK_PARSE("", "");
	/* several pipelined commands in one buffer */
	CHECK_PARSE("a NOOP\r\nb CAPABILITY\r\nc SELECT INBOX\r\nd X (1 2)\r\n",
		    "a NOOP\nb CAPABILITY\nc SELECT INBOX\nd X (1 2)");
	/* a bare LF ends a line too */
	CHECK_PARSE("a NOOP\nb X y\n", "a NOOP\nb X y");
	CHECK_PARSE("a X \"q\"\n", "a X \"q\"");
}

static void test_tags(void)
{
	/* tag = 1*<any ASTRING-CHAR except "+">: "]" allowed, "*" "%" "(" not */
	CHECK_PARSE("A.b:c]d!#$&'-/;<=>?@[^_`|}~ NOOP\r\n", "A.b:c]d!#$&'-/;<=>?@[^_`|}~ NOOP");
	CHECK_PARSE("a+b NOOP\r\n", "ERR * BAD Invalid character '+' in tag");
	CHECK_PARSE("+ NOOP\r\n", "ERR * BAD Invalid character '+' in tag");
	CHECK_PARSE("* NOOP\r\n", "ERR * BAD Invalid character '*' in tag");
	CHECK_PARSE("a% NOOP\r\n", "ERR * BAD Invalid character '%' in tag");
	CHECK_PARSE("a(b NOOP\r\n", "ERR * BAD Invalid character '(' in tag");
	CHECK_PARSE("\"a\" NOOP\r\n", "ERR * BAD Invalid character '\"' in tag");
	CHECK_PARSE("a\\b NOOP\r\n", "ERR * BAD Invalid character '\\' in tag");
	CHECK_PARSE("t\xc3\xa9 NOOP\r\n",
		    "ERR * BAD Invalid 8-bit character 0xC3 in tag (only allowed in quoted "
		    "strings and literals)");
	CHECK_PARSE("a\tb NOOP\r\n", "ERR * BAD Invalid control character 0x09 in tag");
	CHECK_PARSE(" NOOP\r\n", "ERR * BAD Missing tag");
	CHECK_PARSE("a\r\n", "ERR a BAD Missing command name");
	CHECK_PARSE("a \r\n", "ERR a BAD Missing command name");
	CHECK_PARSE("a  NOOP\r\n", "ERR a BAD Double space after tag");
	CHECK_PARSE("\r\n", "ERR * BAD Empty command");
	CHECK_PARSE("\n", "ERR * BAD Empty command");
	CHECK_PARSE("\r\n\r\n", "ERR * BAD Empty command\nERR * BAD Empty command");
}

static void test_command_name(void)
{
	CHECK_PARSE("a NO(OP\r\n", "ERR a BAD Invalid character '(' in command name");
	CHECK_PARSE("a NO]OP\r\n", "ERR a BAD Invalid character ']' in command name");
	CHECK_PARSE("a NOOP)\r\n", "ERR a BAD Invalid character ')' in command name");
	CHECK_PARSE("a (NOOP)\r\n", "ERR a BAD Invalid character '(' in command name");
	CHECK_PARSE("a \"NOOP\"\r\n", "ERR a BAD Invalid character '\"' in command name");
	/* the literal_max callback needs the name, so neither tag nor name may be a literal */
	CHECK_PARSE("{4}\r\n", "ERR * BAD A literal cannot be a tag");
	CHECK_PARSE("a {4}\r\n", "ERR a BAD A literal cannot be a command name");
	/* a non-synchronising one arrives anyway: its bytes are skipped, not parsed */
	CHECK_PARSE("a {4+}\r\nNOOP\r\n", "ERR a BAD A literal cannot be a command name");
	CHECK_PARSE("{4+}\r\nb NO\r\n", "ERR * BAD A literal cannot be a tag");
	CHECK_PARSE("a ~{4+}\r\nNOOP\r\n", "ERR a BAD Invalid character '{' in command name");
}

static void test_atoms(void)
{
	CHECK_PARSE("a STORE 1:*,5 +FLAGS (\\Seen \\Deleted $Junk)\r\n",
		    "a STORE 1:*,5 +FLAGS (\\Seen \\Deleted $Junk)");
	CHECK_PARSE("a FETCH * (FLAGS)\r\n", "a FETCH * (FLAGS)");
	CHECK_PARSE("a LIST \"\" %/*\r\n", "a LIST \"\" %/*");
	CHECK_PARSE("a LIST \"\" foo]bar\r\n", "a LIST \"\" foo]bar");
	CHECK_PARSE("a X ~abc ~ ~~\r\n", "a X ~abc ~ ~~");
	CHECK_PARSE("a X } {}x\r\n", "ERR a BAD Missing literal size");
	CHECK_PARSE("a X }{\r\n", "ERR a BAD Invalid character '{' in atom");
	CHECK_PARSE("a X ab\"c\"\r\n", "ERR a BAD Invalid character '\"' in atom");
	CHECK_PARSE("a X a\\b\r\n", "ERR a BAD Invalid character '\\' in atom");
	CHECK_PARSE("a X ab(c)\r\n", "ERR a BAD Invalid character '(' in atom");
	CHECK_PARSE("a X ab\x01\r\n", "ERR a BAD Invalid control character 0x01 in atom");
	CHECK_PARSE("a X \x7f\r\n", "ERR a BAD Invalid control character 0x7F in atom");
	CHECK_PARSE("a X caf\xc3\xa9\r\n",
		    "ERR a BAD Invalid 8-bit character 0xC3 in atom (only allowed in quoted "
		    "strings and literals)");
	CHECK_PARSE("a X \\\r\n", "a X \\");
}

static void test_sections(void)
{
	/* a section is part of its atom, spaces and parentheses included */
	CHECK_PARSE("a FETCH 1 (BODY.PEEK[HEADER.FIELDS (A B)]<0.10> BODY[] UID)\r\n",
		    "a FETCH 1 (BODY.PEEK[HEADER.FIELDS (A B)]<0.10> BODY[] UID)");
	CHECK_PARSE("a FETCH 1 BODY[1.2.MIME]\r\n", "a FETCH 1 BODY[1.2.MIME]");
	CHECK_PARSE("a FETCH 1 BINARY[1]<0.5> BINARY.SIZE[2]\r\n",
		    "a FETCH 1 BINARY[1]<0.5> BINARY.SIZE[2]");
	CHECK_PARSE("a FETCH 1 BODY[HEADER.FIELDS (\"X]\" \"a\\\"b\")]\r\n",
		    "a FETCH 1 BODY[HEADER.FIELDS (\"X]\" \"a\\\"b\")]");
	CHECK_PARSE("a X [a[b]c]d\r\n", "a X [a[b]c]d");
	CHECK_PARSE("a FETCH 1 BODY[HEADER\r\n", "ERR a BAD Missing ']'");
	CHECK_PARSE("a FETCH 1 BODY[\"abc\r\n", "ERR a BAD Missing closing quote");
	CHECK_PARSE("a FETCH 1 BODY[\"a\\bc\"]\r\n",
		    "ERR a BAD Invalid escape in quoted string (only \\\\ and \\\" are allowed)");
	CHECK_PARSE("a FETCH 1 BODY[\xff]\r\n",
		    "ERR a BAD Invalid 8-bit character 0xFF in atom (only allowed in quoted "
		    "strings and literals)");
	CHECK_PARSE("a FETCH 1 BODY[\"\xc3\xa9\"]\r\n", "a FETCH 1 BODY[\"\\xc3\\xa9\"]");
	/* a literal inside a section is not supported; a {n+} there is still skipped */
	CHECK_PARSE("a FETCH 1 BODY[HEADER.FIELDS ({3+}\r\nabc)]\r\n", "ERR a BAD Missing ']'");
}

static void test_quoted(void)
{
	CHECK_PARSE("a X \"\"\r\n", "a X \"\"");
	CHECK_PARSE("a X \"a b (c) {3}\"\r\n", "a X \"a b (c) {3}\"");
	CHECK_PARSE("a X \"a\\\\b\\\"c\"\r\n", "a X \"a\\b\"c\"");
	CHECK_PARSE("a X \"caf\xc3\xa9\"\r\n", "a X \"caf\\xc3\\xa9\"");
	CHECK_PARSE("a X \"tab\there\"\r\n", "a X \"tab\\x09here\"");
	CHECK_PARSE("a X \"a\\nb\"\r\n",
		    "ERR a BAD Invalid escape in quoted string (only \\\\ and \\\" are allowed)");
	CHECK_PARSE("a X \"abc\r\n", "ERR a BAD Missing closing quote");
	CHECK_PARSE("a X \"abc\\\r\n", "ERR a BAD Missing closing quote");
	CHECK_PARSE("a X \"abc\n", "ERR a BAD Missing closing quote");
	CHECK_PARSE("a X \"a\0b\"\r\n", "ERR a BAD NUL byte in command line");
	CHECK_PARSE("a X \"a\"\"b\"\r\n", "ERR a BAD Missing space between arguments");
	CHECK_PARSE("a X \"a\"b\r\n", "ERR a BAD Missing space between arguments");
	/* a "{n+}" inside an unterminated quoted string announces nothing */
	CHECK_PARSE("a X \"abc {3+}\r\n", "ERR a BAD Missing closing quote");
}

static void test_nil(void)
{
	CHECK_PARSE("a X NIL nil Nil \"NIL\" NILS (NIL)\r\n",
		    "a X NIL NIL NIL \"NIL\" NILS (NIL)");

	struct imap_parser_limits lim;
	imap_parser_limits_default(&lim);
	struct imap_parser *p = imap_parser_create(&lim);
	struct pool *pool = pool_create(1024);
	struct imap_parsed cmd;
	struct imap_parser_error err;
	static const char in[] = "a CREATE nil\r\n";
	CHECK(parse_one(p, pool, in, sizeof(in) - 1, &cmd, &err) == 1);
	CHECK(cmd.count == 1 && cmd.args[0].type == IMAP_ARG_NIL);
	CHECK(cmd.args[0].str == NULL);
	CHECK_STR(cmd.args[0].nil_text, "nil");
	pool_destroy(&pool);
	imap_parser_destroy(&p);
}

static void test_lists(void)
{
	CHECK_PARSE("a X ()\r\n", "a X ()");
	CHECK_PARSE("a X (a (b (c)) () \"d\")\r\n", "a X (a (b (c)) () \"d\")");
	CHECK_PARSE("a X (a) (b)\r\n", "a X (a) (b)");
	CHECK_PARSE("a X ((()))\r\n", "a X ((()))");
	CHECK_PARSE("a X (a\r\n", "ERR a BAD Missing ')'");
	CHECK_PARSE("a X (\r\n", "ERR a BAD Missing ')'");
	CHECK_PARSE("a X ((a)\r\n", "ERR a BAD Missing ')'");
	CHECK_PARSE("a X a)\r\n", "ERR a BAD Unexpected ')'");
	CHECK_PARSE("a X (a))\r\n", "ERR a BAD Unexpected ')'");
	CHECK_PARSE("a X )\r\n", "ERR a BAD Unexpected ')'");
	CHECK_PARSE("a X ( a)\r\n", "ERR a BAD Unexpected space after '('");
	CHECK_PARSE("a X (a )\r\n", "ERR a BAD Unexpected space before ')'");
	CHECK_PARSE("a X (a)(b)\r\n", "ERR a BAD Missing space between arguments");
	CHECK_PARSE("a X (a)b\r\n", "ERR a BAD Missing space between arguments");
	CHECK_PARSE("a X (a)\"b\"\r\n", "ERR a BAD Missing space between arguments");

	/* the nested structure, checked field by field */
	struct imap_parser_limits lim;
	imap_parser_limits_default(&lim);
	struct imap_parser *p = imap_parser_create(&lim);
	struct pool *pool = pool_create(1024);
	struct imap_parsed cmd;
	struct imap_parser_error err;
	static const char in[] = "t1 X (a (b) ()) c\r\n";
	CHECK(parse_one(p, pool, in, sizeof(in) - 1, &cmd, &err) == 1);
	CHECK_STR(cmd.tag, "t1");
	CHECK_STR(cmd.name, "X");
	CHECK(cmd.count == 2);
	CHECK(cmd.args[0].type == IMAP_ARG_LIST && cmd.args[0].count == 3);
	CHECK(cmd.args[0].list[0].type == IMAP_ARG_ATOM && cmd.args[0].list[0].len == 1);
	CHECK(cmd.args[0].list[1].type == IMAP_ARG_LIST && cmd.args[0].list[1].count == 1);
	CHECK_STR(cmd.args[0].list[1].list[0].str, "b");
	CHECK(cmd.args[0].list[2].type == IMAP_ARG_LIST && cmd.args[0].list[2].count == 0);
	CHECK(cmd.args[0].list[2].list == NULL);
	CHECK(cmd.args[1].type == IMAP_ARG_ATOM && !cmd.args[1].literal8 && !cmd.args[1].nonsync);
	CHECK_STR(cmd.args[1].str, "c");
	pool_destroy(&pool);
	imap_parser_destroy(&p);
}

static void test_limits_depth_args(void)
{
	struct imap_parser_limits lim;
	imap_parser_limits_default(&lim);
	lim.list_depth_max = 3;
	CHECK_PARSE_LIM(&lim, "a X (((a)))\r\n", "a X (((a)))");
	CHECK_PARSE_LIM(&lim, "a X ((((a))))\r\n", "ERR a BAD [LIMIT] Too deeply nested lists");
	CHECK_PARSE_LIM(&lim, "a X ((()) (((a)))) (((((\r\n",
			"ERR a BAD [LIMIT] Too deeply nested lists");

	imap_parser_limits_default(&lim);
	lim.args_max = 3;
	CHECK_PARSE_LIM(&lim, "a X 1 2 3\r\n", "a X 1 2 3");
	CHECK_PARSE_LIM(&lim, "a X 1 2 3 4\r\n", "ERR a BAD [LIMIT] Too many arguments");
	CHECK_PARSE_LIM(&lim, "a X (1 2 3) (4 5 6) (7 8 9)\r\n", "a X (1 2 3) (4 5 6) (7 8 9)");
	CHECK_PARSE_LIM(&lim, "a X (1 2 3 4)\r\n", "ERR a BAD [LIMIT] Too many arguments");
	CHECK_PARSE_LIM(&lim, "a X 1 2 3 (4)\r\n", "ERR a BAD [LIMIT] Too many arguments");
	CHECK_PARSE_LIM(&lim, "a X 1 2 3 {1+}\r\nz\r\n", "ERR a BAD [LIMIT] Too many arguments");
	CHECK_PARSE_LIM(&lim, "a X 1 2 3 \"4\"\r\n", "ERR a BAD [LIMIT] Too many arguments");

	/* the default depth limit holds with a deep attack */
	char deep[200];
	memcpy(deep, "a X ", 4);
	memset(deep + 4, '(', 100);
	memcpy(deep + 104, "\r\n", 2);
	check_parse_at(__LINE__, NULL, deep, 106, "ERR a BAD [LIMIT] Too deeply nested lists", -1);
}

static size_t test_literal_max(void *ctx, const char *name)
{
	CHECK(ctx == (void *)test_literal_max);
	CHECK(name != NULL);
	return strcasecmp(name, "APPEND") == 0 ? 100 : 10;
}

static void test_literal_limits_init(struct imap_parser_limits *lim)
{
	imap_parser_limits_default(lim);
	lim->literal_max = test_literal_max;
	lim->literal_max_ctx = (void *)test_literal_max;
	lim->nonsync_skip_max = 50;
}

static void test_sync_literal(void)
{
	/* continuation requested exactly once per synchronising literal when fed byte by byte */
	CHECK_PARSE_CONTS(NULL, "a LOGIN {4}\r\nuser {4}\r\npass\r\n", "a LOGIN {4}user {4}pass", 2);
	CHECK_PARSE_CONTS(NULL, "a X {0}\r\n\r\n", "a X {0}", 1);
	CHECK_PARSE_CONTS(NULL, "a X ({3}\r\na b)\r\n", "a X ({3}a b)", 1);
	CHECK_PARSE_CONTS(NULL, "a X {3}\r\n\r\n\r\n", "a X {3}\\x0d\\x0a\\x0d", 1);
	CHECK_PARSE_CONTS(NULL, "a X {3}\na\nb\n", "a X {3}a\\x0ab", 1);
	CHECK_PARSE_CONTS(NULL, "a X {0003}\r\nabc\r\n", "a X {3}abc", 1);
	CHECK_PARSE_CONTS(NULL, "a X {3}\r\n\xff\x01\x80\r\n", "a X {3}\\xff\\x01\\x80", 1);
	/* after a literal the line goes on: SP, ")" or the line end only */
	CHECK_PARSE("a X {1}\r\nab\r\n", "ERR a BAD Missing space between arguments");

	/* whole input: the client did not wait, so no continuation is due */
	struct run_result r;
	static const char in[] = "a LOGIN {4}\r\nuser {4}\r\npass\r\n";
	run(NULL, in, sizeof(in) - 1, 0, &r);
	CHECK(r.conts == 0);
	buf_free(&r.out);

	/* "{5}" at the end, then the literal arriving in pieces */
	struct imap_parser_limits lim;
	imap_parser_limits_default(&lim);
	struct imap_parser *p = imap_parser_create(&lim);
	struct pool *pool = pool_create(1024);
	struct buf ib;
	buf_init(&ib, 1024);
	struct imap_parsed cmd;
	struct imap_parser_error err;
	CHECK(!imap_parser_busy(p));
	buf_append_str(&ib, "a APPEND INBOX (\\Seen) {5}\r\n");
	CHECK(imap_parser_next(p, &ib, pool, &cmd, &err) == 0);
	CHECK(imap_parser_busy(p));
	CHECK(ib.len == 0);
	CHECK(imap_parser_take_continuation(p));
	CHECK(!imap_parser_take_continuation(p));
	CHECK(imap_parser_next(p, &ib, pool, &cmd, &err) == 0);
	CHECK(!imap_parser_take_continuation(p));
	buf_append_str(&ib, "he");
	CHECK(imap_parser_next(p, &ib, pool, &cmd, &err) == 0);
	CHECK(!imap_parser_take_continuation(p));
	buf_append_str(&ib, "llo");
	CHECK(imap_parser_next(p, &ib, pool, &cmd, &err) == 0);
	buf_append_str(&ib, "\r");
	CHECK(imap_parser_next(p, &ib, pool, &cmd, &err) == 0);
	buf_append_str(&ib, "\nb NOOP\r\n");
	CHECK(imap_parser_next(p, &ib, pool, &cmd, &err) == 1);
	CHECK(!imap_parser_take_continuation(p));
	CHECK(cmd.count == 3);
	CHECK(cmd.args[2].type == IMAP_ARG_LITERAL && !cmd.args[2].nonsync &&
	      !cmd.args[2].literal8);
	CHECK_MEM(cmd.args[2].str, cmd.args[2].len, "hello", 5);
	CHECK(cmd.args[2].str[5] == '\0');
	CHECK(!imap_parser_busy(p));
	CHECK(ib.len == 8);
	CHECK(imap_parser_next(p, &ib, pool, &cmd, &err) == 1);
	CHECK_STR(cmd.tag, "b");
	buf_free(&ib);
	pool_destroy(&pool);
	imap_parser_destroy(&p);
}

static void test_nonsync_literal(void)
{
	CHECK_PARSE_CONTS(NULL, "a X {5+}\r\nhello\r\n", "a X {5+}hello", 0);
	CHECK_PARSE_CONTS(NULL, "a X {5+}\r\nhello {0+}\r\n\r\n", "a X {5+}hello {0+}", 0);
	CHECK_PARSE_CONTS(NULL, "a X ({1+}\r\n) {1}\r\n()\r\n", "a X ({1+}) {1}()", 1);
	CHECK_PARSE("a X ({1+}\r\n) {1}\r\n(\r\n", "ERR a BAD Missing ')'");
	CHECK_PARSE("a X {5+x}\r\n", "ERR a BAD Expected '}' after '+' in literal size");
	CHECK_PARSE("a X {+}\r\n", "ERR a BAD Missing literal size");
}

static void test_literal8(void)
{
	CHECK_PARSE_CONTS(NULL, "a APPEND box ~{3}\r\na\0b\r\n", "a APPEND box ~{3}a\\x00b", 1);
	CHECK_PARSE_CONTS(NULL, "a APPEND box ~{3+}\r\n\0\0\0\r\n", "a APPEND box ~{3+}\\x00\\x00\\x00",
			  0);
	CHECK_PARSE("a X ~{}\r\n", "ERR a BAD Missing literal size");
	CHECK_PARSE("a X ~{3\r\n", "ERR a BAD Invalid literal size");
}

static void test_literal_nul(void)
{
	/* CHAR8 excludes NUL: the literal is read (the client sends it), then refused */
	CHECK_PARSE("a X {3+}\r\na\0b\r\n",
		    "ERR a BAD NUL byte in literal (use literal8 for binary data)");
	CHECK_PARSE("a X {3}\r\na\0b c d\r\n",
		    "ERR a BAD NUL byte in literal (use literal8 for binary data)");
	CHECK_PARSE("a X {1}\r\n\0 {2+}\r\nzz\r\n",
		    "ERR a BAD NUL byte in literal (use literal8 for binary data)");
	/* NUL in the line itself */
	CHECK_PARSE("a NO\0OP\r\n", "ERR a BAD NUL byte in command line");
	CHECK_PARSE("\0\r\n", "ERR * BAD NUL byte in command line");
	CHECK_PARSE("a X {3\0}\r\n", "ERR a BAD NUL byte in command line");
}

static void test_literal_header_errors(void)
{
	CHECK_PARSE("a X {}\r\n", "ERR a BAD Missing literal size");
	CHECK_PARSE("a X {5x}\r\n", "ERR a BAD Invalid literal size");
	CHECK_PARSE("a X {-5}\r\n", "ERR a BAD Invalid literal size");
	CHECK_PARSE("a X { 5}\r\n", "ERR a BAD Invalid literal size");
	CHECK_PARSE("a X {5}x\r\n", "ERR a BAD Missing CRLF after literal size");
	CHECK_PARSE("a X {5} \r\n", "ERR a BAD Missing CRLF after literal size");
	CHECK_PARSE("a X {5}\rx\r\n", "ERR a BAD CR not followed by LF");
	CHECK_PARSE("a X a{5}\r\n", "ERR a BAD Invalid character '{' in atom");
	CHECK_PARSE("a X a{5+}\r\nhello\r\n", "ERR a BAD Invalid character '{' in atom");
}

static void test_literal_size_limits(void)
{
	struct imap_parser_limits lim;
	test_literal_limits_init(&lim);
	/* the limit depends on the command name */
	CHECK_PARSE_CONTS(&lim, "a LOGIN {10}\r\n0123456789\r\n", "a LOGIN {10}0123456789", 1);
	CHECK_PARSE_CONTS(&lim, "a APPEND box {11}\r\n0123456789a\r\n",
			  "a APPEND box {11}0123456789a", 1);
	/* a synchronising literal over the limit: NO [TOOBIG], no continuation, and the client
	 * sends nothing more of the command */
	CHECK_PARSE_CONTS(&lim, "a LOGIN {11}\r\n",
			  "ERR a NO [TOOBIG] Literal too big (at most 10 bytes for this command)", 0);
	CHECK_PARSE_CONTS(&lim, "a APPEND box {101}\r\n",
			  "ERR a NO [TOOBIG] Literal too big (at most 100 bytes for this command)", 0);
	CHECK_PARSE_CONTS(&lim, "a APPEND box {9223372036854775807}\r\n",
			  "ERR a NO [TOOBIG] Literal too big (at most 100 bytes for this command)", 0);
	CHECK_PARSE_CONTS(&lim, "a LOGIN {1}\r\nx {11}\r\n",
			  "ERR a NO [TOOBIG] Literal too big (at most 10 bytes for this command)", 1);
	/* a non-synchronising one over the limit: read and discarded with the rest of the
	 * command, tagged BAD [TOOBIG] (RFC 7888 section 4) */
	CHECK_PARSE_CONTS(&lim, "a LOGIN {11+}\r\n0123456789a\r\n",
			  "ERR a BAD [TOOBIG] Literal too big (at most 10 bytes for this command)", 0);
	CHECK_PARSE_CONTS(&lim, "a LOGIN {50+}\r\n01234567890123456789012345678901234567890123456789"
			  " rest {3+}\r\nabc (more\r\n",
			  "ERR a BAD [TOOBIG] Literal too big (at most 10 bytes for this command)", 0);
	/* the rest of the line may announce more literals: skipped too, sync ones end it */
	CHECK_PARSE_CONTS(&lim, "a LOGIN {11+}\r\n0123456789a {5}\r\n",
			  "ERR a BAD [TOOBIG] Literal too big (at most 10 bytes for this command)", 0);
	/* too big to skip: fatal */
	CHECK_PARSE_CONTS(&lim, "a LOGIN {51+}\r\n",
			  "FATAL a BAD [TOOBIG] Literal too big (at most 10 bytes for this command)", 0);
	CHECK_PARSE_CONTS(&lim, "a LOGIN {11+}\r\n0123456789a {51+}\r\n",
			  "ERR a BAD [TOOBIG] Literal too big (at most 10 bytes for this command)\n"
			  "FATAL * BAD [TOOBIG] Non-synchronizing literal too large", 0);
	CHECK_PARSE_CONTS(&lim, "a X ) {51+}\r\n",
			  "ERR a BAD Unexpected ')'\n"
			  "FATAL * BAD [TOOBIG] Non-synchronizing literal too large", 0);

	/* without a callback, literal_max_default applies */
	imap_parser_limits_default(&lim);
	lim.literal_max_default = 3;
	CHECK_PARSE_LIM(&lim, "a APPEND {3}\r\nabc\r\n", "a APPEND {3}abc");
	CHECK_PARSE_LIM(&lim, "a APPEND {4}\r\n",
			"ERR a NO [TOOBIG] Literal too big (at most 3 bytes for this command)");
	CHECK_PARSE_LIM(&lim, "a APPEND ~{4+}\r\nabcd\r\n",
			"ERR a BAD [TOOBIG] Literal too big (at most 3 bytes for this command)");
}

static void test_literal_minus(void)
{
	struct imap_parser_limits lim;
	imap_parser_limits_default(&lim);
	lim.literal_minus = true;
	lim.literal_max_default = 100000;
	lim.nonsync_skip_max = 100000;

	size_t n = 4096;
	char *in = malloc(2 * n + 100);
	int hl = snprintf(in, 100, "a APPEND box {%zu+}\r\n", n);
	memset(in + hl, 'x', n);
	memcpy(in + hl + n, "\r\n", 2);
	struct buf exp;
	buf_init(&exp, 3 * n);
	buf_printf(&exp, "a APPEND box {%zu+}", n);
	for (size_t i = 0; i < n; i++)
		buf_append_byte(&exp, 'x');
	check_parse_at(__LINE__, &lim, in, (size_t)hl + n + 2, (const char *)exp.data, 0);

	/* 4097 bytes: too big under LITERAL-, read and discarded, BAD [TOOBIG] */
	n = 4097;
	hl = snprintf(in, 100, "a APPEND box {%zu+}\r\n", n);
	memset(in + hl, 'x', n);
	memcpy(in + hl + n, "\r\n", 2);
	check_parse_at(__LINE__, &lim, in, (size_t)hl + n + 2,
		       "ERR a BAD [TOOBIG] Non-synchronizing literal larger than 4096 bytes "
		       "(LITERAL-): send it as a synchronizing literal", 0);

	/* the same size as a synchronising literal is fine */
	hl = snprintf(in, 100, "a APPEND box {%zu}\r\n", n);
	memset(in + hl, 'x', n);
	memcpy(in + hl + n, "\r\n", 2);
	buf_reset(&exp);
	buf_printf(&exp, "a APPEND box {%zu}", n);
	for (size_t i = 0; i < n; i++)
		buf_append_byte(&exp, 'x');
	check_parse_at(__LINE__, &lim, in, (size_t)hl + n + 2, (const char *)exp.data, 1);

	/* over 4096 and over the skip maximum: fatal */
	lim.nonsync_skip_max = 4096;
	CHECK_PARSE_LIM(&lim, "a APPEND box {4097+}\r\n",
			"FATAL a BAD [TOOBIG] Non-synchronizing literal larger than 4096 bytes "
			"(LITERAL-): send it as a synchronizing literal");
	buf_free(&exp);
	free(in);
}

static void test_literal_overflow(void)
{
	CHECK_PARSE("a X {99999999999999999999}\r\n", "ERR a NO [TOOBIG] Literal size too large");
	CHECK_PARSE("a X {9223372036854775808}\r\n", "ERR a NO [TOOBIG] Literal size too large");
	CHECK_PARSE("a X {18446744073709551615}\r\n", "ERR a NO [TOOBIG] Literal size too large");
	CHECK_PARSE("a X {18446744073709551616}\r\n", "ERR a NO [TOOBIG] Literal size too large");
	CHECK_PARSE("a X {9223372036854775807}\r\n",
		    "ERR a NO [TOOBIG] Literal too big (at most 65536 bytes for this command)");
	CHECK_PARSE("a X {99999999999999999999+}\r\n",
		    "FATAL a BAD [TOOBIG] Literal size too large");
	/* the same numbers in a skipped line */
	CHECK_PARSE("a X ( ) {99999999999999999999+}\r\n",
		    "ERR a BAD Unexpected space after '('\n"
		    "FATAL * BAD [TOOBIG] Non-synchronizing literal too large");
	CHECK_PARSE("a X ) {9223372036854775807+}\r\n",
		    "ERR a BAD Unexpected ')'\n"
		    "FATAL * BAD [TOOBIG] Non-synchronizing literal too large");
	CHECK_PARSE("a X ) {99999999999999999999}\r\n", "ERR a BAD Unexpected ')'");
}

static void test_spaces(void)
{
	CHECK_PARSE("a X  b\r\n", "ERR a BAD Double space");
	CHECK_PARSE("a X b  c\r\n", "ERR a BAD Double space");
	CHECK_PARSE("a X \r\n", "ERR a BAD Trailing space");
	CHECK_PARSE("a NOOP \r\n", "ERR a BAD Trailing space");
	CHECK_PARSE("a X (a) \r\n", "ERR a BAD Trailing space");
	CHECK_PARSE("a X \"b\" \n", "ERR a BAD Trailing space");
}

static void test_line_ends(void)
{
	/* CR without LF */
	CHECK_PARSE("a NOOP\rx\r\n", "ERR a BAD CR not followed by LF");
	CHECK_PARSE("a NOOP\r\r\n", "ERR a BAD CR not followed by LF");
	CHECK_PARSE("a X b\rc\n", "ERR a BAD CR not followed by LF");
	CHECK_PARSE("a X \"b\"\rc\n", "ERR a BAD CR not followed by LF");
	CHECK_PARSE("a\rb NOOP\r\n", "ERR a BAD Missing command name");
	CHECK_PARSE("\r \r\n", "ERR * BAD Empty command");
	/* CR before the end of a line that was already in error: skipped with it */
	CHECK_PARSE("a X ) \r \r\n", "ERR a BAD Unexpected ')'");
}

/* A line far over line_max: one error, the rest discarded without storing it, memory bounded,
 * and the next command parses. */
static void test_long_line(void)
{
	size_t n = 1024 * 1024;
	char *in = malloc(n + 100);
	memcpy(in, "a X ", 4);
	memset(in + 4, 'a', n);
	memcpy(in + 4 + n, "\r\nb NOOP\r\n", 10);
	check_parse_at(__LINE__, NULL, in, n + 14, "ERR a BAD [LIMIT] Line too long\nb NOOP", -1);
	/* the same inside a quoted string, a section and as a tag */
	in[4] = '"';
	check_parse_at(__LINE__, NULL, in, n + 14, "ERR a BAD [LIMIT] Line too long\nb NOOP", -1);
	in[4] = '[';
	check_parse_at(__LINE__, NULL, in, n + 14, "ERR a BAD [LIMIT] Line too long\nb NOOP", -1);
	check_parse_at(__LINE__, NULL, in + 4, n + 10, "ERR * BAD [LIMIT] Line too long\nb NOOP",
		       -1);

	/* many small arguments: the command pool stays a bounded multiple of line_max */
	struct imap_parser_limits lim;
	imap_parser_limits_default(&lim);
	lim.args_max = 1000000;
	for (size_t i = 4; i < 4 + n; i += 2) {
		in[i] = 'a';
		in[i + 1] = ' ';
	}
	in[4 + n - 1] = 'a';
	check_parse_at(__LINE__, &lim, in, n + 14, "ERR a BAD [LIMIT] Line too long\nb NOOP", -1);

	/* fed in reads of 4096 bytes into an input buffer of line_max + 4096 */
	struct imap_parser *p = imap_parser_create(&lim);
	struct pool *pool = pool_create(4096);
	struct buf ib;
	buf_init(&ib, lim.line_max + 4096);
	size_t off = 0, pool_max = 0, errors = 0, cmds = 0;
	while (off < n + 14) {
		size_t k = n + 14 - off > 4096 ? 4096 : n + 14 - off;
		CHECK(buf_append(&ib, in + off, k) == 0);
		off += k;
		for (;;) {
			struct imap_parsed cmd;
			struct imap_parser_error err;
			int ret = imap_parser_next(p, &ib, pool, &cmd, &err);
			if (pool_allocated(pool) > pool_max)
				pool_max = pool_allocated(pool);
			if (ret == 0)
				break;
			if (ret < 0) {
				errors++;
				CHECK(!err.fatal);
			} else {
				cmds++;
				CHECK_STR(cmd.tag, "b");
			}
			pool_clear(pool);
		}
	}
	CHECK(errors == 1 && cmds == 1);
	/* ~32k args of 1 byte: each a 48-byte imap_arg in an array that doubles (the old copies
	 * stay in the pool) and a 16-byte pool string: about 64 bytes per 2 bytes of input, the
	 * worst case the header documents */
	if (pool_max >= 72 * lim.line_max)
		printf("  pool grew to %zu bytes\n", pool_max);
	CHECK(pool_max < 72 * lim.line_max);
	buf_free(&ib);
	pool_destroy(&pool);
	imap_parser_destroy(&p);
	free(in);
}

static void test_line_max_boundary(void)
{
	struct imap_parser_limits lim;
	imap_parser_limits_default(&lim);
	lim.line_max = 16; /* CRLF included */
	CHECK_PARSE_LIM(&lim, "a X 0123456789\r\n", "a X 0123456789");
	CHECK_PARSE_LIM(&lim, "a X 01234567890\r\n", "ERR a BAD [LIMIT] Line too long");
	CHECK_PARSE_LIM(&lim, "a X 0123456789a\n", "a X 0123456789a");
	/* literals do not count, their headers and the line pieces do */
	CHECK_PARSE_LIM(&lim, "a X {20}\r\n01234567890123456789\r\n", "a X {20}01234567890123456789");
	CHECK_PARSE_LIM(&lim, "a X {1}\r\nx 0123\r\n", "a X {1}x 0123");
	CHECK_PARSE_LIM(&lim, "a X {1}\r\nx 01234\r\n", "ERR a BAD [LIMIT] Line too long");
	/* an overlong line ending in "{n+}": the literal is still skipped */
	CHECK_PARSE_LIM(&lim, "a X 0123456789012 {3+}\r\nabc\r\n", "ERR a BAD [LIMIT] Line too long");
}

static void test_errors_skip_literals(void)
{
	/* the rest of a failed command is discarded, including a {n+} announced on it */
	CHECK_PARSE("a X ) {3+}\r\nabc\r\n", "ERR a BAD Unexpected ')'");
	CHECK_PARSE("a X ) ~{3+}\r\n\r\n\r\r\n", "ERR a BAD Unexpected ')'");
	CHECK_PARSE("a X ) {3+}\r\nabc {2+}\r\nde more\r\n", "ERR a BAD Unexpected ')'");
	CHECK_PARSE("a X ) {0+}\r\n\r\n", "ERR a BAD Unexpected ')'");
	CHECK_PARSE("a X ) {3+}\n\n\n\n\n", "ERR a BAD Unexpected ')'");
	/* a synchronising one is never sent: the command ends with its line */
	CHECK_PARSE("a X ) {3}\r\n", "ERR a BAD Unexpected ')'");
	CHECK_PARSE("a X ) {3}\r\nb NOOP\r\n", "ERR a BAD Unexpected ')'\nb NOOP");
	/* not a literal header: "{3+} " or "{3+}x" before the line end */
	CHECK_PARSE("a X ) {3+} \r\nb NOOP\r\n", "ERR a BAD Unexpected ')'\nb NOOP");
	CHECK_PARSE("a X ) {3+}}\r\nb NOOP\r\n", "ERR a BAD Unexpected ')'\nb NOOP");
	CHECK_PARSE("a X ) {{3+}\r\nabc\r\n", "ERR a BAD Unexpected ')'");
	/* an error inside a literal's own header: the literal is skipped */
	CHECK_PARSE("a X {3+}\r\nabc\"\r\n", "ERR a BAD Missing space between arguments");
}

static void test_read_line(void)
{
	struct imap_parser_limits lim;
	imap_parser_limits_default(&lim);
	lim.line_max = 10;
	lim.nonsync_skip_max = 10;
	struct imap_parser *p = imap_parser_create(&lim);
	struct pool *pool = pool_create(1024);
	struct buf ib;
	buf_init(&ib, 1024);
	const char *line;
	size_t len;
	struct imap_parser_error err;

	CHECK(imap_parser_read_line(p, &ib, pool, &line, &len, &err) == 0);
	CHECK(!imap_parser_busy(p));
	buf_append_str(&ib, "dGVzdA==\r\nDONE\nrest");
	CHECK(imap_parser_read_line(p, &ib, pool, &line, &len, &err) == 1);
	CHECK_MEM(line, len, "dGVzdA==", 8);
	CHECK(line[len] == '\0');
	CHECK(imap_parser_read_line(p, &ib, pool, &line, &len, &err) == 1);
	CHECK_STR(line, "DONE");
	CHECK(imap_parser_read_line(p, &ib, pool, &line, &len, &err) == 0);
	CHECK(imap_parser_busy(p));
	CHECK(ib.len == 0);
	/* byte by byte, with CR and NUL inside kept */
	static const char in[] = "a\rb\0\r\n"; /* with "rest": 10 bytes, line_max */
	for (size_t i = 0; i < sizeof(in) - 1; i++) {
		buf_append_byte(&ib, (unsigned char)in[i]);
		int ret = imap_parser_read_line(p, &ib, pool, &line, &len, &err);
		CHECK(ret == (i == sizeof(in) - 2 ? 1 : 0));
	}
	CHECK_MEM(line, len, "resta\rb\0", 8);
	CHECK(!imap_parser_busy(p));
	/* an empty line */
	buf_append_str(&ib, "\r\n");
	CHECK(imap_parser_read_line(p, &ib, pool, &line, &len, &err) == 1);
	CHECK(len == 0 && line[0] == '\0');

	/* too long: -1, the rest of the line skipped, then the next line */
	buf_append_str(&ib, "0123456789abcdef");
	CHECK(imap_parser_read_line(p, &ib, pool, &line, &len, &err) == -1);
	CHECK(!err.fatal && err.tag == NULL);
	CHECK_STR(err.msg, "Line too long");
	CHECK(ib.len == 0);
	CHECK(imap_parser_busy(p));
	/* the end of the long line: a raw line announces no literal */
	buf_append_str(&ib, "{3+}\r\n");
	CHECK(imap_parser_read_line(p, &ib, pool, &line, &len, &err) == 0);
	CHECK(!imap_parser_busy(p));
	buf_append_str(&ib, "abc\r\n");
	CHECK(imap_parser_read_line(p, &ib, pool, &line, &len, &err) == 1);
	CHECK_STR(line, "abc");
	/* exactly line_max with CRLF */
	buf_append_str(&ib, "01234567\r\n012345678\r\n");
	CHECK(imap_parser_read_line(p, &ib, pool, &line, &len, &err) == 1);
	CHECK_STR(line, "01234567");
	CHECK(imap_parser_read_line(p, &ib, pool, &line, &len, &err) == -1);
	/* then commands again */
	buf_append_str(&ib, "x NOOP\r\n");
	struct imap_parsed cmd;
	CHECK(imap_parser_next(p, &ib, pool, &cmd, &err) == 1);
	CHECK_STR(cmd.name, "NOOP");

	/* a failed command still being skipped: read_line finishes the skip first */
	buf_append_str(&ib, "a X ) {5+}\r\nab");
	CHECK(imap_parser_next(p, &ib, pool, &cmd, &err) == -1);
	CHECK(imap_parser_busy(p));
	buf_append_str(&ib, "c");
	CHECK(imap_parser_read_line(p, &ib, pool, &line, &len, &err) == 0);
	buf_append_str(&ib, "de\r\nline\r\n");
	CHECK(imap_parser_read_line(p, &ib, pool, &line, &len, &err) == 1);
	CHECK_STR(line, "line");

	/* the caller gives up on a half-read raw line: the rest of it is no command */
	buf_append_str(&ib, "half");
	CHECK(imap_parser_read_line(p, &ib, pool, &line, &len, &err) == 0);
	CHECK(imap_parser_next(p, &ib, pool, &cmd, &err) == 0);
	buf_append_str(&ib, " line\r\ny NOOP\r\n");
	CHECK(imap_parser_next(p, &ib, pool, &cmd, &err) == 1);
	CHECK_STR(cmd.tag, "y");

	/* fatal stays fatal for read_line too */
	buf_append_str(&ib, "a X ) {99+}\r\n");
	CHECK(imap_parser_next(p, &ib, pool, &cmd, &err) == -1 && !err.fatal);
	CHECK(imap_parser_next(p, &ib, pool, &cmd, &err) == -1 && err.fatal);
	CHECK(imap_parser_read_line(p, &ib, pool, &line, &len, &err) == -1 && err.fatal);
	CHECK(err.tag == NULL && strcmp(err.code, "TOOBIG") == 0);

	buf_free(&ib);
	pool_destroy(&pool);
	imap_parser_destroy(&p);
}

/* Literals streamed to the owner's sink (APPEND's spool file in the server). */
static void test_literal_sink(void)
{
	struct imap_parser_limits lim;
	imap_parser_limits_default(&lim);
	test_sink_set(&lim, 4);
	/* below the sink's threshold in the pool, from it on streamed; printed the same */
	CHECK_PARSE_CONTS(&lim, "a APPEND box {3}\r\nabc {5+}\r\nhello ~{4}\r\na\0bc\r\n",
			  "a APPEND box {3}abc {5+}hello ~{4}a\\x00bc", 2);
	CHECK_PARSE_CONTS(&lim, "a APPEND box ({4}\r\nabcd) {4}\r\n\r\n\r\n\r\n",
			  "a APPEND box ({4}abcd) {4}\\x0d\\x0a\\x0d\\x0a", 2);
	/* the rules hold for streamed literals: NUL only in literal8, the line goes on after */
	CHECK_PARSE_LIM(&lim, "a APPEND box {4+}\r\nab\0c\r\n",
			"ERR a BAD NUL byte in literal (use literal8 for binary data)");
	CHECK_PARSE_LIM(&lim, "a APPEND box {4}\r\nabcdx\r\n",
			"ERR a BAD Missing space between arguments");
	CHECK_PARSE_LIM(&lim, "a APPEND box {4}\r\nabcdx {5+}\r\nb X\r\n\r\n",
			"ERR a BAD Missing space between arguments");

	/* the arguments: type, size, references in order; nothing of them in the pool */
	lim.literal_max_default = 2 * 1024 * 1024;
	struct imap_parser *p = imap_parser_create(&lim);
	struct pool *pool = pool_create(1024);
	struct imap_parsed cmd;
	struct imap_parser_error err;
	size_t big = 1024 * 1024;
	char *in = malloc(big + 100);
	int n = snprintf(in, 100, "t1 append box {0}\r\n ~{%zu+}\r\n", big);
	memset(in + n, 'x', big);
	memcpy(in + n + big, " {6}\r\nabcdef\r\n", 15);
	test_sink_release();
	int ret = parse_one(p, pool, in, (size_t)n + big + 15, &cmd, &err);
	CHECK(ret == 1 && cmd.count == 4);
	if (ret != 1 || cmd.count != 4) {
		free(in);
		return;
	}
	CHECK(cmd.args[1].type == IMAP_ARG_LITERAL && cmd.args[1].len == 0); /* never offered */
	CHECK(cmd.args[2].type == IMAP_ARG_LITERAL_SINK && cmd.args[2].str == NULL);
	CHECK(cmd.args[2].len == big && cmd.args[2].sink_ref == 0);
	CHECK(cmd.args[2].literal8 && cmd.args[2].nonsync);
	CHECK(cmd.args[3].type == IMAP_ARG_LITERAL_SINK && cmd.args[3].len == 6);
	CHECK(cmd.args[3].sink_ref == big && !cmd.args[3].literal8 && !cmd.args[3].nonsync);
	CHECK(sink.begins == 2 && sink.data.len == big + 6);
	CHECK_STR(sink.last_name, "append");
	CHECK(sink.last_size == 6);
	CHECK(sink.data.len == big + 6 && memcmp(sink.data.data + big, "abcdef", 6) == 0);
	CHECK(pool_allocated(pool) < 16384);
	free(in);
	pool_destroy(&pool);
	imap_parser_destroy(&p);
}

/* A sink that refuses a literal: answered as TOOBIG is, with NO [SERVERBUG]. */
static void test_literal_sink_refused(void)
{
	struct imap_parser_limits lim;
	imap_parser_limits_default(&lim);
	test_sink_set(&lim, 1);
	sink.refuse = true;
	/* synchronising: no continuation, the client sends nothing more of it */
	CHECK_PARSE_CONTS(&lim, "a APPEND box {5}\r\n",
			  "ERR a NO [SERVERBUG] Cannot take the literal: refused by the test", 0);
	/* non-synchronising: its bytes and the rest of the command are discarded */
	CHECK_PARSE_LIM(&lim, "a APPEND box {5+}\r\nb X\r\n (x) {5+}\r\nc X\r\n\r\n",
			"ERR a NO [SERVERBUG] Cannot take the literal: refused by the test");
	CHECK_PARSE_LIM(&lim, "a APPEND box {0}\r\n\r\n", "a APPEND box {0}");
	/* ... unless it is too big to skip */
	lim.nonsync_skip_max = 4;
	CHECK_PARSE_LIM(&lim, "a APPEND box {5+}\r\nb X\r\n\r\n",
			"FATAL a BAD [SERVERBUG] Cannot take the literal: refused by the test");
	sink.refuse = false;
}

/* A failed write: the rest of the literal is read and discarded, the error comes at its end,
 * then the rest of the command is skipped (a "{n+}" literal on it included). */
static void test_literal_sink_write_failed(void)
{
	struct imap_parser_limits lim;
	imap_parser_limits_default(&lim);
	test_sink_set(&lim, 1);
	sink.cap = 4;
	CHECK_PARSE_CONTS(&lim, "a APPEND box {10}\r\nb NOOP\r\n89 {5+}\r\nc X\r\n\r\n",
			  "ERR a NO [SERVERBUG] Cannot store the literal: sink full", 1);
	CHECK_PARSE_LIM(&lim, "a APPEND box {2}\r\nab ~{3+}\r\nb\0X\r\n",
			"ERR a NO [SERVERBUG] Cannot store the literal: sink full");
	/* exactly the capacity: fine */
	CHECK_PARSE_LIM(&lim, "a APPEND box {2}\r\nab {2}\r\ncd\r\n", "a APPEND box {2}ab {2}cd");
	/* a NUL in a plain literal is the client's error, reported first */
	CHECK_PARSE_LIM(&lim, "a APPEND box {6+}\r\n\0bcdef\r\n",
			"ERR a BAD NUL byte in literal (use literal8 for binary data)");
	sink.cap = 0;
}

static void test_reset_busy(void)
{
	struct imap_parser_limits lim;
	imap_parser_limits_default(&lim);
	struct imap_parser *p = imap_parser_create(&lim);
	struct pool *pool = pool_create(1024);
	struct buf ib;
	buf_init(&ib, 1024);
	struct imap_parsed cmd;
	struct imap_parser_error err;

	buf_append_str(&ib, "a X (b {3}\r\n");
	CHECK(imap_parser_next(p, &ib, pool, &cmd, &err) == 0);
	CHECK(imap_parser_busy(p));
	imap_parser_reset(p);
	CHECK(!imap_parser_busy(p));
	CHECK(!imap_parser_take_continuation(p));
	pool_clear(pool);
	buf_append_str(&ib, "x NOOP\r\n");
	CHECK(imap_parser_next(p, &ib, pool, &cmd, &err) == 1);
	CHECK_STR(cmd.tag, "x");

	/* a pending skip and a fatal state are forgotten too */
	buf_append_str(&ib, "a X ) {5+}\r\nab");
	CHECK(imap_parser_next(p, &ib, pool, &cmd, &err) == -1);
	CHECK(imap_parser_busy(p));
	imap_parser_reset(p);
	buf_append_str(&ib, "y NOOP\r\n");
	CHECK(imap_parser_next(p, &ib, pool, &cmd, &err) == 1);
	CHECK_STR(cmd.tag, "y");
	buf_append_str(&ib, "a X {99999999999999999999+}\r\n");
	CHECK(imap_parser_next(p, &ib, pool, &cmd, &err) == -1 && err.fatal);
	CHECK(imap_parser_busy(p));
	imap_parser_reset(p);
	buf_reset(&ib);
	buf_append_str(&ib, "z NOOP\r\n");
	CHECK(imap_parser_next(p, &ib, pool, &cmd, &err) == 1);
	CHECK_STR(cmd.tag, "z");

	imap_parser_destroy(&p);
	CHECK(p == NULL);
	imap_parser_destroy(&p);
	buf_free(&ib);
	pool_destroy(&pool);
}

int main(void)
{
	TEST_RUN(test_basic);
	TEST_RUN(test_tags);
	TEST_RUN(test_command_name);
	TEST_RUN(test_atoms);
	TEST_RUN(test_sections);
	TEST_RUN(test_quoted);
	TEST_RUN(test_nil);
	TEST_RUN(test_lists);
	TEST_RUN(test_limits_depth_args);
	TEST_RUN(test_sync_literal);
	TEST_RUN(test_nonsync_literal);
	TEST_RUN(test_literal8);
	TEST_RUN(test_literal_nul);
	TEST_RUN(test_literal_header_errors);
	TEST_RUN(test_literal_size_limits);
	TEST_RUN(test_literal_minus);
	TEST_RUN(test_literal_overflow);
	TEST_RUN(test_spaces);
	TEST_RUN(test_line_ends);
	TEST_RUN(test_long_line);
	TEST_RUN(test_line_max_boundary);
	TEST_RUN(test_errors_skip_literals);
	TEST_RUN(test_read_line);
	TEST_RUN(test_reset_busy);
	TEST_RUN(test_literal_sink);
	TEST_RUN(test_literal_sink_refused);
	TEST_RUN(test_literal_sink_write_failed);
	buf_free(&sink.data);
	return test_finish();
}
