/* test-imap-fetch.c: unit tests for the FETCH attribute parser (every form of RFC 9051 section 9
 * fetch-att, section, partial, and every way to get them wrong) on arguments produced by the
 * real command parser, and for the body streams (whole and partial windows, HEADER.FIELDS,
 * BINARY decoding) read from a real file in tiny chunks, as a resumed FETCH reads them. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imap/imap-fetch.h"
#include "imap/imap-parser.h"
#include "lib/buf.h"
#include "lib/pool.h"
#include "lib/test.h"

static struct pool *test_pool;

/* Parse "t FETCH 1 <items>\r\n" and then the items. 0 or -1 (*error_r). */
static int parse_items(const char *items, bool rev2, struct imap_fetch_request *req,
		       const char **error_r)
{
	struct imap_parser_limits lim;
	imap_parser_limits_default(&lim);
	struct imap_parser *p = imap_parser_create(&lim);
	struct buf in;
	buf_init(&in, 1 << 20);
	buf_printf(&in, "t FETCH 1 %s\r\n", items);
	struct imap_parsed cmd;
	struct imap_parser_error err;
	int ret = imap_parser_next(p, &in, test_pool, &cmd, &err);
	imap_parser_destroy(&p);
	buf_free(&in);
	if (ret != 1) {
		*error_r = ret < 0 ? err.msg : "command parser needs more";
		return -2;
	}
	if (cmd.count != 2) {
		*error_r = "argument count";
		return -2;
	}
	return imap_fetch_parse(&cmd.args[1], rev2, test_pool, req, error_r);
}

/* The items' response names joined by "|". */
static const char *names(const struct imap_fetch_request *req)
{
	static char out[4096];
	size_t n = 0;
	out[0] = '\0';
	for (size_t i = 0; i < req->count; i++)
		n += (size_t)snprintf(out + n, sizeof(out) - n, "%s%s", i > 0 ? "|" : "",
				      req->items[i].name);
	return out;
}

static void expect_ok(const char *items, bool rev2, const char *want)
{
	struct imap_fetch_request req;
	const char *err = NULL;
	int ret = parse_items(items, rev2, &req, &err);
	if (ret != 0)
		printf("  '%s' refused: %s\n", items, err);
	CHECK(ret == 0);
	if (ret == 0)
		CHECK_STR(names(&req), want);
}

static void expect_bad(const char *items, bool rev2)
{
	struct imap_fetch_request req;
	const char *err = NULL;
	int ret = parse_items(items, rev2, &req, &err);
	if (ret == -2) {
		/* the command parser refused it already; the attribute parser must as well */
		struct imap_fetch_item item;
		ret = imap_fetch_parse_att(items, strlen(items), rev2, test_pool, &item, &err);
	}
	if (ret != -1)
		printf("  '%s' not refused (%d)\n", items, ret);
	CHECK(ret == -1);
	CHECK(ret != -1 || (err != NULL && *err != '\0'));
}

static void test_macros(void)
{
	expect_ok("ALL", true, "FLAGS|INTERNALDATE|RFC822.SIZE|ENVELOPE");
	expect_ok("fast", true, "FLAGS|INTERNALDATE|RFC822.SIZE");
	expect_ok("Full", true, "FLAGS|INTERNALDATE|RFC822.SIZE|ENVELOPE|BODY");
	/* RFC 9051 6.4.5: a macro stands alone */
	expect_bad("(ALL)", true);
	expect_bad("(FLAGS FAST)", true);
	expect_bad("(FULL UID)", true);
}

static void test_simple_items(void)
{
	expect_ok("FLAGS", true, "FLAGS");
	expect_ok("(flags uid internaldate rfc822.size envelope body bodystructure)", true,
		  "FLAGS|UID|INTERNALDATE|RFC822.SIZE|ENVELOPE|BODY|BODYSTRUCTURE");
	/* duplicates answer once */
	expect_ok("(UID FLAGS UID flags)", true, "UID|FLAGS");

	struct imap_fetch_request req;
	const char *err;
	CHECK(parse_items("(FLAGS UID)", true, &req, &err) == 0);
	CHECK(req.has_flags && req.has_uid && !req.needs_info && !req.needs_body);
	CHECK(!req.sets_seen);
	CHECK(parse_items("ENVELOPE", true, &req, &err) == 0);
	CHECK(req.needs_info && !req.needs_body);

	expect_bad("()", true);
	expect_bad("(FLAGS (UID))", true);
	expect_bad("NIL", true);
	expect_bad("\"FLAGS\"", true);
	expect_bad("(FLAGS \"UID\")", true);
	expect_bad("FLAG", true);
	expect_bad("UIDS", true);
	expect_bad("\\Seen", true);
	expect_bad("BODY.PEEK", true);
	expect_bad("BINARY", true);
	expect_bad("BINARY.PEEK", true);
	expect_bad("BINARY.SIZE", true);
	expect_bad("BODYSTRUCTURE[]", true);
	expect_bad("ENVELOPE<0.1>", true);
	/* CONDSTORE (RFC 7162 3.1.4.2): MODSEQ comes from the view, like FLAGS */
	expect_ok("MODSEQ", true, "MODSEQ");
	expect_ok("(FLAGS modseq MODSEQ)", false, "FLAGS|MODSEQ");
	CHECK(parse_items("(UID MODSEQ)", true, &req, &err) == 0);
	CHECK(req.has_modseq && req.has_uid && !req.has_flags && !req.needs_info);
	CHECK(parse_items("FLAGS", true, &req, &err) == 0 && !req.has_modseq);
	expect_bad("MODSEQ[]", true);
	expect_bad("MODSEQS", true);
	expect_bad("X-GM-MSGID", true);
}

static void test_rfc822(void)
{
	/* IMAP4rev1 only (RFC 3501 6.4.5); RFC 9051 removed them */
	expect_ok("(RFC822 RFC822.HEADER RFC822.TEXT RFC822.SIZE)", false,
		  "RFC822|RFC822.HEADER|RFC822.TEXT|RFC822.SIZE");
	expect_bad("RFC822", true);
	expect_bad("RFC822.HEADER", true);
	expect_bad("(RFC822.TEXT)", true);
	expect_ok("RFC822.SIZE", true, "RFC822.SIZE");
	expect_bad("RFC822.BODY", false);
	expect_bad("RFC822[]", false);

	struct imap_fetch_request req;
	const char *err;
	CHECK(parse_items("RFC822.HEADER", false, &req, &err) == 0);
	CHECK(!req.sets_seen && req.needs_body);
	CHECK(req.items[0].kind == IMAP_FETCH_BODY_SECTION);
	CHECK(req.items[0].section.text == IMAP_SECTION_HEADER);
	CHECK(parse_items("RFC822", false, &req, &err) == 0);
	CHECK(req.sets_seen && req.items[0].section.text == IMAP_SECTION_ALL);
	CHECK(parse_items("RFC822.TEXT", false, &req, &err) == 0);
	CHECK(req.sets_seen && req.items[0].section.text == IMAP_SECTION_TEXT);
}

static void test_sections(void)
{
	expect_ok("BODY[]", true, "BODY[]");
	expect_ok("body.peek[]", true, "BODY[]");
	expect_ok("(BODY[] BODY.PEEK[])", true, "BODY[]");
	expect_ok("BODY[HEADER]", true, "BODY[HEADER]");
	expect_ok("BODY[header]", true, "BODY[HEADER]");
	expect_ok("BODY[TEXT]", true, "BODY[TEXT]");
	expect_ok("BODY[1]", true, "BODY[1]");
	expect_ok("BODY[1.2.3]", true, "BODY[1.2.3]");
	expect_ok("BODY[4.2.2.1]", true, "BODY[4.2.2.1]");
	expect_ok("BODY[1.MIME]", true, "BODY[1.MIME]");
	expect_ok("BODY[3.HEADER]", true, "BODY[3.HEADER]");
	expect_ok("BODY[3.text]", true, "BODY[3.TEXT]");
	expect_ok("BODY[4294967295]", true, "BODY[4294967295]");
	expect_ok("BODY[HEADER.FIELDS (From To)]", true, "BODY[HEADER.FIELDS (From To)]");
	expect_ok("BODY.PEEK[header.fields.not (X-Spam)]", true,
		  "BODY[HEADER.FIELDS.NOT (X-Spam)]");
	expect_ok("BODY[2.HEADER.FIELDS (Subject)]", true, "BODY[2.HEADER.FIELDS (Subject)]");
	/* header-fld-name is an astring: quoted names, echoed as atoms when they can be */
	expect_ok("BODY[HEADER.FIELDS (\"From\" \"X Y\" \"a\\\"b\")]", true,
		  "BODY[HEADER.FIELDS (From \"X Y\" \"a\\\"b\")]");
	expect_ok("(UID BODY.PEEK[HEADER.FIELDS (DATE FROM)] FLAGS)", true,
		  "UID|BODY[HEADER.FIELDS (DATE FROM)]|FLAGS");

	struct imap_fetch_request req;
	const char *err;
	CHECK(parse_items("BODY[1.2.HEADER.FIELDS (A B C)]", true, &req, &err) == 0);
	const struct imap_fetch_section *sec = &req.items[0].section;
	CHECK(sec->part_count == 2 && sec->parts[0] == 1 && sec->parts[1] == 2);
	CHECK(sec->text == IMAP_SECTION_HEADER_FIELDS);
	CHECK(sec->field_count == 3 && strcmp(sec->fields[2], "C") == 0);
	CHECK(req.sets_seen && req.needs_body);
	CHECK(parse_items("BODY.PEEK[1]", true, &req, &err) == 0);
	CHECK(!req.sets_seen && !req.items[0].sets_seen);
}

static void test_section_errors(void)
{
	expect_bad("BODY[", true);
	expect_bad("BODY[1", true);
	expect_bad("BODY[]]", true);
	expect_bad("BODY[][]", true);
	expect_bad("BODY[0]", true);
	expect_bad("BODY[1.0]", true);
	expect_bad("BODY[01]", true);
	expect_bad("BODY[1.02]", true);
	expect_bad("BODY[4294967296]", true);
	expect_bad("BODY[1.]", true);
	expect_bad("BODY[.1]", true);
	expect_bad("BODY[1..2]", true);
	expect_bad("BODY[-1]", true);
	/* MIME only after a part number (RFC 9051 6.4.5.1) */
	expect_bad("BODY[MIME]", true);
	expect_bad("BODY[TEXT.MIME]", true);
	expect_bad("BODY[1.MIME.TEXT]", true);
	expect_bad("BODY[1.TEXT.1]", true);
	expect_bad("BODY[HEADER.1]", true);
	expect_bad("BODY[HEADERS]", true);
	expect_bad("BODY[HEADER ]", true);
	expect_bad("BODY[TEXTS]", true);
	expect_bad("BODY[1TEXT]", true);
	expect_bad("BODY[ 1]", true);
	/* header-list needs at least one name, single spaces, a closing parenthesis */
	expect_bad("BODY[HEADER.FIELDS]", true);
	expect_bad("BODY[HEADER.FIELDS ()]", true);
	expect_bad("BODY[HEADER.FIELDS (A )]", true);
	expect_bad("BODY[HEADER.FIELDS ( A)]", true);
	expect_bad("BODY[HEADER.FIELDS  (A)]", true);
	expect_bad("BODY[HEADER.FIELDS (A  B)]", true);
	expect_bad("BODY[HEADER.FIELDS (A) ]", true);
	expect_bad("BODY[HEADER.FIELDS (A]", true);
	expect_bad("BODY[HEADER.FIELDS A]", true);
	expect_bad("BODY[HEADER.FIELDS.NOT]", true);
	expect_bad("BODY[HEADER.FIELDS (A (B))]", true);
	expect_bad("BODY[HEADER.FIELDS (A%)]", true);
	expect_bad("BODY[HEADER.FIELDS (A*)]", true);
	expect_bad("BODY[HEADER.FIELDS (\"A\\x\")]", true);
	expect_bad("BODY[HEADER.FIELDS (\"A)]", true);
	expect_bad("BODY[HEADER.FIELDS.NOTX (A)]", true);
	expect_bad("BODYX[]", true);
	expect_bad("BODY.PEEKS[]", true);
	expect_bad("BODY.PEEK[MIME]", true);
}

static void test_binary(void)
{
	expect_ok("BINARY[1]", true, "BINARY[1]");
	expect_ok("BINARY.PEEK[1.2]", true, "BINARY[1.2]");
	expect_ok("BINARY[]", true, "BINARY[]");
	expect_ok("BINARY.SIZE[3]", true, "BINARY.SIZE[3]");
	expect_ok("BINARY.SIZE[]", true, "BINARY.SIZE[]");
	expect_ok("(BINARY.PEEK[1]<0.100> BINARY.SIZE[1])", true, "BINARY[1]<0>|BINARY.SIZE[1]");
	expect_ok("BINARY[1]", false, "BINARY[1]");

	struct imap_fetch_request req;
	const char *err;
	CHECK(parse_items("BINARY.PEEK[1]", true, &req, &err) == 0);
	CHECK(!req.sets_seen && req.items[0].kind == IMAP_FETCH_BINARY);
	CHECK(parse_items("BINARY[1]", true, &req, &err) == 0);
	CHECK(req.sets_seen);
	CHECK(parse_items("BINARY.SIZE[1]", true, &req, &err) == 0);
	CHECK(!req.sets_seen && req.items[0].kind == IMAP_FETCH_BINARY_SIZE);

	/* section-binary = "[" [section-part] "]" */
	expect_bad("BINARY[HEADER]", true);
	expect_bad("BINARY[TEXT]", true);
	expect_bad("BINARY[1.MIME]", true);
	expect_bad("BINARY[1.HEADER]", true);
	expect_bad("BINARY.PEEK[1.TEXT]", true);
	expect_bad("BINARY.SIZE[HEADER]", true);
	expect_bad("BINARY[0]", true);
	expect_bad("BINARY[1.]", true);
	/* BINARY.SIZE takes no partial */
	expect_bad("BINARY.SIZE[1]<0.10>", true);
	expect_bad("BINARY.SIZES[1]", true);
}

static void test_partial(void)
{
	expect_ok("BODY[]<0.2048>", true, "BODY[]<0>");
	expect_ok("BODY.PEEK[TEXT]<100.1>", true, "BODY[TEXT]<100>");
	expect_ok("BODY[1.MIME]<00.5>", true, "BODY[1.MIME]<0>");
	expect_ok("BINARY[1]<7.9>", true, "BINARY[1]<7>");
	expect_ok("BODY[]<9223372036854775807.9223372036854775807>", true,
		  "BODY[]<9223372036854775807>");
	/* the same section with different partials are different items */
	expect_ok("(BODY[]<0.10> BODY[]<10.10> BODY[])", true, "BODY[]<0>|BODY[]<10>|BODY[]");

	struct imap_fetch_request req;
	const char *err;
	CHECK(parse_items("BODY[HEADER.FIELDS (A B)]<3.17>", true, &req, &err) == 0);
	CHECK(req.items[0].partial && req.items[0].origin == 3 && req.items[0].octets == 17);
	CHECK_STR(req.items[0].name, "BODY[HEADER.FIELDS (A B)]<3>");

	/* partial = "<" number64 "." nz-number64 ">": the length is never 0 */
	expect_bad("BODY[]<5>", true);
	expect_bad("BODY[]<1.0>", true);
	expect_bad("BODY[]<0.0>", true);
	expect_bad("BODY[]<0.01>", true);
	expect_bad("BODY[]<.5>", true);
	expect_bad("BODY[]<5.>", true);
	expect_bad("BODY[]<>", true);
	expect_bad("BODY[]<a.1>", true);
	expect_bad("BODY[]<1.2", true);
	expect_bad("BODY[]<1.2>>", true);
	expect_bad("BODY[]<1.2>x", true);
	expect_bad("BODY[]<-1.2>", true);
	expect_bad("BODY[]<1.2.3>", true);
	expect_bad("BODY[]x", true);
	expect_bad("BODY[]<9223372036854775808.1>", true);
	expect_bad("BODY[]<0.9223372036854775808>", true);
	expect_bad("BODY<0.1>", true);
	/* a space splits the atom: "<0.5>" alone is no item */
	expect_bad("(BODY[] <0.5>)", true);
}

static void test_parse_att_direct(void)
{
	struct imap_fetch_item item;
	const char *err;
	CHECK(imap_fetch_parse_att("BODY[1.HEADER]<2.3>", 19, true, test_pool, &item, &err) == 0);
	CHECK(item.kind == IMAP_FETCH_BODY_SECTION && item.section.part_count == 1);
	CHECK(item.section.text == IMAP_SECTION_HEADER && item.partial);
	CHECK(item.origin == 2 && item.octets == 3);
	/* the length is what counts, not a NUL */
	CHECK(imap_fetch_parse_att("FLAGSX", 5, true, test_pool, &item, &err) == 0);
	CHECK(item.kind == IMAP_FETCH_FLAGS);
	CHECK(imap_fetch_parse_att("BODY[TEXT]", 9, true, test_pool, &item, &err) < 0);
	/* too many part numbers or field names is a BAD, not a crash */
	struct buf b;
	buf_init(&b, 1 << 20);
	buf_append_str(&b, "BODY[1");
	for (int i = 0; i < IMAP_FETCH_PARTS_MAX; i++)
		buf_append_str(&b, ".1");
	buf_append_str(&b, "]");
	CHECK(imap_fetch_parse_att((const char *)b.data, b.len, true, test_pool, &item, &err) < 0);
	buf_reset(&b);
	buf_append_str(&b, "BODY[HEADER.FIELDS (A");
	for (int i = 0; i < IMAP_FETCH_FIELDS_MAX; i++)
		buf_append_str(&b, " B");
	buf_append_str(&b, ")]");
	CHECK(imap_fetch_parse_att((const char *)b.data, b.len, true, test_pool, &item, &err) < 0);
	buf_free(&b);
}

/* --- streams --- */

static const char mixed_msg[] =
	"From: Alice <alice@example.com>\r\n"
	"To: bob@example.com,\r\n"
	" carol@example.com\r\n"
	"Subject: streams\r\n"
	"X-Empty:\r\n"
	"subject: second\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
	"\r\n"
	"preamble\r\n"
	"--b1\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"Content-Transfer-Encoding: quoted-printable\r\n"
	"\r\n"
	"caf=C3=A9 =\r\n"
	"soft line\nbare lf\r\n"
	"--b1\r\n"
	"Content-Type: application/octet-stream\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"\r\n"
	"AAECAwQF\r\n"
	"BgcICQ==\r\n"
	"--b1\r\n"
	"Content-Type: message/rfc822\r\n"
	"\r\n"
	"Subject: inner\r\n"
	"From: c@d\r\n"
	"\r\n"
	"inner body\r\n"
	"--b1\r\n"
	"Content-Type: application/x-thing\r\n"
	"Content-Transfer-Encoding: x-uuencode\r\n"
	"\r\n"
	"begin 644 x\r\n"
	"--b1\r\n"
	"Content-Type: text/plain\r\n"
	"\r\n"
	"nul\0here\r\n"
	"--b1--\r\n"
	"epilogue\r\n";

static int write_tmp(const void *data, size_t len)
{
	char path[] = "/tmp/test-imap-fetch-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		return -1;
	unlink(path);
	if (write(fd, data, len) != (ssize_t)len) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Stream item (given as fetch-att text) from the message in fd; chunk: max bytes per read.
 * Returns the bytes (test_pool) in *out_r, the stream in *st_r; the init result. */
static enum imap_fetch_result stream_item(int fd, size_t size, const char *att, size_t chunk,
					  struct imap_fetch_stream *st_r, const char **out_r,
					  size_t *out_len_r)
{
	struct imap_fetch_item *item = pool_alloc(test_pool, sizeof(*item));
	const char *err;
	if (imap_fetch_parse_att(att, strlen(att), false, test_pool, item, &err) < 0) {
		printf("  cannot parse %s: %s\n", att, err);
		return IMAP_FETCH_ERROR;
	}
	struct pool *pool = pool_create(4096);
	struct imap_fetch_msg msg;
	imap_fetch_msg_init(&msg, fd, size, pool);
	enum imap_fetch_result r = imap_fetch_stream_init(st_r, item, &msg, &err);
	imap_fetch_msg_deinit(&msg);
	pool_destroy(&pool);
	*out_r = NULL;
	*out_len_r = 0;
	if (r != IMAP_FETCH_OK)
		return r;
	struct buf all;
	buf_init(&all, 1 << 26);
	for (unsigned rounds = 0;; rounds++) {
		/* a copy of the state between reads: a resumed command keeps only that */
		struct imap_fetch_stream copy = *st_r;
		struct buf piece;
		buf_init(&piece, chunk + 1024);
		int ret = imap_fetch_stream_read(&copy, fd, &piece, chunk, &err);
		*st_r = copy;
		CHECK(ret >= 0);
		CHECK(piece.len <= (chunk < 1024 ? 1024 : chunk));
		buf_append(&all, piece.data, piece.len);
		buf_free(&piece);
		if (ret != 0 || rounds > 1000000)
			break;
	}
	*out_r = pool_memdup(test_pool, all.data != NULL ? (const char *)all.data : "", all.len);
	*out_len_r = all.len;
	buf_free(&all);
	return IMAP_FETCH_OK;
}

static void check_item(int fd, size_t size, const char *att, const char *want, size_t want_len)
{
	struct imap_fetch_stream st;
	const char *out;
	size_t len;
	size_t chunks[] = {1024, 1500, 65536};
	for (size_t c = 0; c < 3; c++) {
		CHECK(stream_item(fd, size, att, chunks[c], &st, &out, &len) == IMAP_FETCH_OK);
		if (out == NULL)
			return;
		if (len != want_len || memcmp(out, want, len) != 0)
			printf("  %s (chunk %zu):\n", att, chunks[c]);
		CHECK_MEM(out, len, want, want_len);
		CHECK(st.size == want_len);
		CHECK(st.src != IMAP_FETCH_SRC_NIL);
	}
}

#define CHECK_ITEM(fd, size, att, want) check_item(fd, size, att, want, sizeof(want) - 1)

/* The text of msg between two markers (markers excluded); for expected values. */
static const char *between(const char *msg, size_t msg_len, const char *from, const char *to,
			   size_t *len_r)
{
	const char *a = memmem(msg, msg_len, from, strlen(from));
	a = a == NULL ? msg : a + strlen(from);
	const char *b = memmem(a, msg_len - (size_t)(a - msg), to, strlen(to));
	*len_r = (size_t)(b - a);
	return a;
}

static void test_stream_body(void)
{
	size_t size = sizeof(mixed_msg) - 1;
	int fd = write_tmp(mixed_msg, size);
	CHECK(fd >= 0);
	/* the NUL goes as 0x80: a literal cannot hold NUL */
	char *sent = pool_memdup(test_pool, mixed_msg, size);
	*(char *)memchr(sent, '\0', size) = (char)0x80;
	check_item(fd, size, "BODY[]", sent, size);
	struct imap_fetch_stream st;
	const char *out;
	size_t len;
	CHECK(stream_item(fd, size, "BODY[]", 1024, &st, &out, &len) == IMAP_FETCH_OK);
	CHECK(len == size && memchr(out, '\0', len) == NULL);
	CHECK(memmem(out, len, "nul\x80here", 8) != NULL);

	size_t hlen;
	const char *h = between(mixed_msg, size, "", "preamble", &hlen);
	check_item(fd, size, "BODY[HEADER]", h, hlen);
	check_item(fd, size, "RFC822.HEADER", h, hlen);
	check_item(fd, size, "BODY[TEXT]", sent + hlen, size - hlen);
	CHECK_ITEM(fd, size, "BODY[1]", "caf=C3=A9 =\r\nsoft line\nbare lf");
	CHECK_ITEM(fd, size, "BODY[1.MIME]",
		   "Content-Type: text/plain; charset=utf-8\r\n"
		   "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
	CHECK_ITEM(fd, size, "BODY[2]", "AAECAwQF\r\nBgcICQ==");
	CHECK_ITEM(fd, size, "BODY[3]", "Subject: inner\r\nFrom: c@d\r\n\r\ninner body");
	CHECK_ITEM(fd, size, "BODY[3.HEADER]", "Subject: inner\r\nFrom: c@d\r\n\r\n");
	CHECK_ITEM(fd, size, "BODY[3.TEXT]", "inner body");
	CHECK_ITEM(fd, size, "BODY[3.1]", "inner body");
	CHECK_ITEM(fd, size, "BODY[3.MIME]", "Content-Type: message/rfc822\r\n\r\n");
	CHECK_ITEM(fd, size, "BODY[3.HEADER.FIELDS (FROM)]", "From: c@d\r\n\r\n");
	/* HEADER/TEXT of a part that is not a message: an empty string */
	CHECK(stream_item(fd, size, "BODY[1.HEADER]", 1024, &st, &out, &len) == IMAP_FETCH_OK);
	CHECK(st.src != IMAP_FETCH_SRC_NIL && st.size == 0 && len == 0);
	CHECK(stream_item(fd, size, "BODY[2.TEXT]", 1024, &st, &out, &len) == IMAP_FETCH_OK);
	CHECK(st.src != IMAP_FETCH_SRC_NIL && st.size == 0);
	/* no such part: NIL */
	CHECK(stream_item(fd, size, "BODY[9]", 1024, &st, &out, &len) == IMAP_FETCH_OK);
	CHECK(st.src == IMAP_FETCH_SRC_NIL && len == 0);
	CHECK(stream_item(fd, size, "BODY[1.1]", 1024, &st, &out, &len) == IMAP_FETCH_OK);
	CHECK(st.src == IMAP_FETCH_SRC_NIL);
	CHECK(stream_item(fd, size, "BODY[3.2]", 1024, &st, &out, &len) == IMAP_FETCH_OK);
	CHECK(st.src == IMAP_FETCH_SRC_NIL);
	CHECK(stream_item(fd, size, "BODY[9.MIME]", 1024, &st, &out, &len) == IMAP_FETCH_OK);
	CHECK(st.src == IMAP_FETCH_SRC_NIL);
	struct buf head;
	buf_init(&head, 64);
	imap_fetch_stream_head(&st, &head);
	CHECK_MEM(head.data, head.len, "NIL", 3);
	buf_free(&head);
	close(fd);
}

static void test_stream_partial(void)
{
	size_t size = sizeof(mixed_msg) - 1;
	int fd = write_tmp(mixed_msg, size);
	struct imap_fetch_stream st;
	const char *out;
	size_t len;
	CHECK(stream_item(fd, size, "BODY[]<0.10>", 1024, &st, &out, &len) == IMAP_FETCH_OK);
	CHECK_MEM(out, len, mixed_msg, 10);
	CHECK(stream_item(fd, size, "BODY[]<6.5>", 1024, &st, &out, &len) == IMAP_FETCH_OK);
	CHECK_MEM(out, len, "Alice", 5);
	/* RFC 9051 6.4.5: truncated at the end; beyond the end an empty string */
	CHECK(stream_item(fd, size, "BODY[3.TEXT]<6.100>", 1024, &st, &out, &len) == IMAP_FETCH_OK);
	CHECK_MEM(out, len, "body", 4);
	CHECK(stream_item(fd, size, "BODY[3.TEXT]<10.5>", 1024, &st, &out, &len) == IMAP_FETCH_OK);
	CHECK(len == 0 && st.size == 0 && st.src != IMAP_FETCH_SRC_NIL);
	CHECK(stream_item(fd, size, "BODY[3.TEXT]<9999999999.5>", 1024, &st, &out, &len) ==
	      IMAP_FETCH_OK);
	CHECK(len == 0 && st.size == 0);
	struct buf head;
	buf_init(&head, 64);
	imap_fetch_stream_head(&st, &head);
	CHECK_MEM(head.data, head.len, "\"\"", 2);
	buf_reset(&head);
	CHECK(stream_item(fd, size, "BODY[]<1.9223372036854775807>", 1024, &st, &out, &len) ==
	      IMAP_FETCH_OK);
	CHECK(len == size - 1);
	imap_fetch_stream_head(&st, &head);
	char want[32];
	snprintf(want, sizeof(want), "{%zu}\r\n", size - 1);
	CHECK_MEM(head.data, head.len, want, strlen(want));
	buf_free(&head);
	close(fd);
}

static void test_stream_header_fields(void)
{
	size_t size = sizeof(mixed_msg) - 1;
	int fd = write_tmp(mixed_msg, size);
	/* every field of that name, as stored (folding kept), in message order, + blank line */
	CHECK_ITEM(fd, size, "BODY[HEADER.FIELDS (SUBJECT)]",
		   "Subject: streams\r\nsubject: second\r\n\r\n");
	CHECK_ITEM(fd, size, "BODY[HEADER.FIELDS (to x-empty)]",
		   "To: bob@example.com,\r\n carol@example.com\r\nX-Empty:\r\n\r\n");
	CHECK_ITEM(fd, size, "BODY[HEADER.FIELDS (X-None)]", "\r\n");
	CHECK_ITEM(fd, size, "BODY[HEADER.FIELDS (\"From\" From)]",
		   "From: Alice <alice@example.com>\r\n\r\n");
	CHECK_ITEM(fd, size, "BODY[HEADER.FIELDS.NOT (subject to from mime-version content-type)]",
		   "X-Empty:\r\n\r\n");
	/* a name that is a prefix of a field name does not match */
	CHECK_ITEM(fd, size, "BODY[HEADER.FIELDS (Subj Content)]", "\r\n");

	/* every window of the filtered header equals the slice of the whole */
	const char *full = "To: bob@example.com,\r\n carol@example.com\r\n"
			   "Subject: streams\r\nsubject: second\r\n\r\n";
	size_t flen = strlen(full);
	for (size_t o = 0; o <= flen + 1; o++) {
		for (size_t n = 1; n <= flen + 2; n += 3) {
			char att[128];
			snprintf(att, sizeof(att), "BODY[HEADER.FIELDS (Subject To)]<%zu.%zu>", o, n);
			struct imap_fetch_stream st;
			const char *out;
			size_t len;
			CHECK(stream_item(fd, size, att, 1024, &st, &out, &len) == IMAP_FETCH_OK);
			size_t wo = o < flen ? o : flen;
			size_t wn = flen - wo < n ? flen - wo : n;
			CHECK_MEM(out, len, full + wo, wn);
		}
	}
	close(fd);

	/* a header that is the whole message, without a blank line: none is invented */
	const char *hdr_only = "Subject: x\r\nFrom: y";
	fd = write_tmp(hdr_only, strlen(hdr_only));
	check_item(fd, strlen(hdr_only), "BODY[HEADER]", hdr_only, strlen(hdr_only));
	CHECK_ITEM(fd, strlen(hdr_only), "BODY[HEADER.FIELDS (From)]", "From: y");
	CHECK_ITEM(fd, strlen(hdr_only), "BODY[HEADER.FIELDS (Subject)]", "Subject: x\r\n");
	struct imap_fetch_stream st;
	const char *out;
	size_t len;
	CHECK(stream_item(fd, strlen(hdr_only), "BODY[TEXT]", 1024, &st, &out, &len) ==
	      IMAP_FETCH_OK);
	CHECK(len == 0 && st.src != IMAP_FETCH_SRC_NIL);
	close(fd);

	/* headers around and far beyond the size read without a mapping (64 KiB), with the
	 * blank line straddling that edge */
	size_t targets[] = {65530, 65533, 65534, 65535, 65536, 65537, 65538, 200000};
	for (size_t t = 0; t < sizeof(targets) / sizeof(targets[0]); t++) {
		struct buf m;
		buf_init(&m, 1 << 20);
		buf_append_str(&m, "Subject: big header\r\n");
		for (unsigned i = 0; m.len + 60 < targets[t]; i++)
			buf_printf(&m, "X-Filler-%05u: %036u\r\n", i, i);
		while (m.len + 9 < targets[t])
			buf_append_str(&m, "X: y\r\n");
		buf_append_str(&m, "To: z\r\n\r\n");
		size_t header_len = m.len;
		buf_append_str(&m, "the body\r\n");
		int bfd = write_tmp(m.data, m.len);
		check_item(bfd, m.len, "BODY[HEADER]", (const char *)m.data, header_len);
		check_item(bfd, m.len, "BODY[TEXT]", (const char *)m.data + header_len,
			   m.len - header_len);
		CHECK_ITEM(bfd, m.len, "BODY[HEADER.FIELDS (To Subject)]",
			   "Subject: big header\r\nTo: z\r\n\r\n");
		CHECK_ITEM(bfd, m.len, "BODY[HEADER.FIELDS (To)]<4.3>", "z\r\n");
		close(bfd);
		buf_free(&m);
	}

	/* bare LF line ends are kept as stored, the blank line too */
	const char *lf = "A: 1\nB: 2\n\nbody\n";
	fd = write_tmp(lf, strlen(lf));
	CHECK_ITEM(fd, strlen(lf), "BODY[HEADER.FIELDS (B)]", "B: 2\n\n");
	CHECK_ITEM(fd, strlen(lf), "BODY[TEXT]", "body\n");
	close(fd);
}

static void test_stream_binary(void)
{
	size_t size = sizeof(mixed_msg) - 1;
	int fd = write_tmp(mixed_msg, size);
	struct imap_fetch_stream st;
	const char *out;
	size_t len;
	/* quoted-printable, text: soft breaks removed, bare LF made CRLF (RFC 9051 7.5.2) */
	CHECK_ITEM(fd, size, "BINARY[1]", "caf\xc3\xa9 soft line\r\nbare lf");
	CHECK(stream_item(fd, size, "BINARY[1]", 1024, &st, &out, &len) == IMAP_FETCH_OK);
	CHECK(!st.literal8);
	/* base64 with NUL: literal8 */
	CHECK(stream_item(fd, size, "BINARY[2]", 1024, &st, &out, &len) == IMAP_FETCH_OK);
	CHECK_MEM(out, len, "\0\1\2\3\4\5\6\7\10\11", 10);
	CHECK(st.literal8);
	struct buf head;
	buf_init(&head, 64);
	imap_fetch_stream_head(&st, &head);
	CHECK_MEM(head.data, head.len, "~{10}\r\n", 7);
	buf_free(&head);
	/* a window without the NUL goes as a plain literal */
	CHECK(stream_item(fd, size, "BINARY[2]<1.3>", 1024, &st, &out, &len) == IMAP_FETCH_OK);
	CHECK_MEM(out, len, "\1\2\3", 3);
	CHECK(!st.literal8 && st.start == 1 && st.size == 3);
	CHECK(stream_item(fd, size, "BINARY[2]<8.100>", 1024, &st, &out, &len) == IMAP_FETCH_OK);
	CHECK_MEM(out, len, "\10\11", 2);
	CHECK(stream_item(fd, size, "BINARY[2]<10.1>", 1024, &st, &out, &len) == IMAP_FETCH_OK);
	CHECK(len == 0 && st.size == 0);
	/* BINARY.SIZE is the size BINARY sends */
	CHECK(stream_item(fd, size, "BINARY.SIZE[2]", 1024, &st, &out, &len) == IMAP_FETCH_OK);
	CHECK(st.total == 10);
	CHECK(stream_item(fd, size, "BINARY.SIZE[1]", 1024, &st, &out, &len) == IMAP_FETCH_OK);
	CHECK(st.total == strlen("caf\xc3\xa9 soft line\r\nbare lf"));
	/* a NUL in an 8bit text part: literal8 for BINARY, 0x80 for BODY */
	CHECK(stream_item(fd, size, "BINARY[5]", 1024, &st, &out, &len) == IMAP_FETCH_OK);
	CHECK_MEM(out, len, "nul\0here", 8);
	CHECK(st.literal8);
	CHECK(stream_item(fd, size, "BODY[5]", 1024, &st, &out, &len) == IMAP_FETCH_OK);
	CHECK_MEM(out, len, "nul\x80here", 8);
	CHECK(!st.literal8);
	/* unknown transfer encoding (RFC 3516: NO [UNKNOWN-CTE]) */
	CHECK(stream_item(fd, size, "BINARY[4]", 1024, &st, &out, &len) == IMAP_FETCH_UNKNOWN_CTE);
	CHECK(stream_item(fd, size, "BINARY.SIZE[4]", 1024, &st, &out, &len) ==
	      IMAP_FETCH_UNKNOWN_CTE);
	CHECK(stream_item(fd, size, "BODY[4]", 1024, &st, &out, &len) == IMAP_FETCH_OK);
	CHECK_MEM(out, len, "begin 644 x", 11);
	/* containers and the whole message go as they are */
	CHECK(stream_item(fd, size, "BINARY[3]", 1024, &st, &out, &len) == IMAP_FETCH_OK);
	CHECK_MEM(out, len, "Subject: inner\r\nFrom: c@d\r\n\r\ninner body", 39);
	CHECK(stream_item(fd, size, "BINARY[3.1]", 1024, &st, &out, &len) == IMAP_FETCH_OK);
	CHECK_MEM(out, len, "inner body", 10);
	CHECK(stream_item(fd, size, "BINARY[]", 1024, &st, &out, &len) == IMAP_FETCH_OK);
	CHECK_MEM(out, len, mixed_msg, size);
	CHECK(st.literal8);
	CHECK(stream_item(fd, size, "BINARY.SIZE[]", 1024, &st, &out, &len) == IMAP_FETCH_OK);
	CHECK(st.total == size);
	/* no such part */
	CHECK(stream_item(fd, size, "BINARY[7]", 1024, &st, &out, &len) == IMAP_FETCH_OK);
	CHECK(st.src == IMAP_FETCH_SRC_NIL);
	CHECK(stream_item(fd, size, "BINARY.SIZE[7]", 1024, &st, &out, &len) == IMAP_FETCH_OK);
	CHECK(st.total == 0);
	close(fd);
}

/* A single-part message: part 1 is its body (RFC 9051 6.4.5.1). */
static void test_stream_single_part(void)
{
	const char *m = "Subject: one\r\nContent-Transfer-Encoding: base64\r\n"
			"Content-Type: text/plain\r\n\r\naGVsbG8Kd29ybGQ=\r\n";
	size_t size = strlen(m);
	int fd = write_tmp(m, size);
	CHECK_ITEM(fd, size, "BODY[1]", "aGVsbG8Kd29ybGQ=\r\n");
	CHECK_ITEM(fd, size, "BODY[TEXT]", "aGVsbG8Kd29ybGQ=\r\n");
	CHECK_ITEM(fd, size, "BINARY[1]", "hello\r\nworld");
	CHECK_ITEM(fd, size, "BODY[1.MIME]",
		   "Subject: one\r\nContent-Transfer-Encoding: base64\r\n"
		   "Content-Type: text/plain\r\n\r\n");
	struct imap_fetch_stream st;
	const char *out;
	size_t len;
	CHECK(stream_item(fd, size, "BODY[2]", 1024, &st, &out, &len) == IMAP_FETCH_OK);
	CHECK(st.src == IMAP_FETCH_SRC_NIL);
	close(fd);
}

/* A body bigger than any chunk: read in pieces, windows across chunk edges, decoding across
 * base64 lines. */
static void test_stream_big(void)
{
	struct buf m;
	buf_init(&m, 8 << 20);
	buf_append_str(&m, "Subject: big\r\nContent-Type: multipart/mixed; boundary=zz\r\n\r\n"
			   "--zz\r\nContent-Type: application/octet-stream\r\n"
			   "Content-Transfer-Encoding: base64\r\n\r\n");
	size_t raw_len = 600 * 1024;
	unsigned char *raw = malloc(raw_len);
	for (size_t i = 0; i < raw_len; i++)
		raw[i] = (unsigned char)(i * 7 + (i >> 9));
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t col = 0;
	for (size_t i = 0; i < raw_len; i += 3) {
		uint32_t v = (uint32_t)raw[i] << 16;
		size_t k = raw_len - i;
		if (k > 1)
			v |= (uint32_t)raw[i + 1] << 8;
		if (k > 2)
			v |= raw[i + 2];
		char q[4] = {b64[(v >> 18) & 63], b64[(v >> 12) & 63],
			     k > 1 ? b64[(v >> 6) & 63] : '=', k > 2 ? b64[v & 63] : '='};
		buf_append(&m, q, 4);
		col += 4;
		if (col == 76) {
			buf_append_str(&m, "\r\n");
			col = 0;
		}
	}
	buf_append_str(&m, "\r\n--zz--\r\n");
	int fd = write_tmp(m.data, m.len);
	check_item(fd, m.len, "BODY[]", (const char *)m.data, m.len);
	check_item(fd, m.len, "BINARY[1]", (const char *)raw, raw_len);
	struct imap_fetch_stream st;
	const char *out;
	size_t len;
	CHECK(stream_item(fd, m.len, "BINARY[1]<300001.70000>", 1500, &st, &out, &len) ==
	      IMAP_FETCH_OK);
	CHECK_MEM(out, len, raw + 300001, 70000);
	CHECK(stream_item(fd, m.len, "BINARY.SIZE[1]", 1024, &st, &out, &len) == IMAP_FETCH_OK);
	CHECK(st.total == raw_len);
	CHECK(stream_item(fd, m.len, "BODY[1]<100000.5000>", 1024, &st, &out, &len) ==
	      IMAP_FETCH_OK);
	size_t body_off = (size_t)((const unsigned char *)memmem(m.data, m.len, "\r\n\r\n", 4) -
				   m.data);
	body_off = (size_t)((const unsigned char *)memmem(m.data + body_off + 4,
							   m.len - body_off - 4, "\r\n\r\n", 4) -
			    m.data) + 4;
	CHECK_MEM(out, len, m.data + body_off + 100000, 5000);
	close(fd);

	/* a file shorter than the size recorded: an error, never a crash */
	fd = write_tmp(m.data, 1000);
	struct imap_fetch_item item;
	const char *err;
	CHECK(imap_fetch_parse_att("BODY[1]", 7, true, test_pool, &item, &err) == 0);
	struct pool *pool = pool_create(4096);
	struct imap_fetch_msg msg;
	imap_fetch_msg_init(&msg, fd, m.len, pool);
	CHECK(imap_fetch_stream_init(&st, &item, &msg, &err) == IMAP_FETCH_ERROR);
	imap_fetch_msg_deinit(&msg);
	CHECK(imap_fetch_parse_att("BODY[]", 6, true, test_pool, &item, &err) == 0);
	imap_fetch_msg_init(&msg, fd, m.len, pool);
	CHECK(imap_fetch_stream_init(&st, &item, &msg, &err) == IMAP_FETCH_OK);
	imap_fetch_msg_deinit(&msg);
	struct buf piece;
	buf_init(&piece, 1 << 20);
	int r;
	while ((r = imap_fetch_stream_read(&st, fd, &piece, 65536, &err)) == 0)
		;
	CHECK(r == IMAP_FETCH_ERROR);
	buf_free(&piece);
	pool_destroy(&pool);
	close(fd);
	free(raw);
	buf_free(&m);
}

int main(void)
{
	test_pool = pool_create(65536);
	TEST_RUN(test_macros);
	TEST_RUN(test_simple_items);
	TEST_RUN(test_rfc822);
	TEST_RUN(test_sections);
	TEST_RUN(test_section_errors);
	TEST_RUN(test_binary);
	TEST_RUN(test_partial);
	TEST_RUN(test_parse_att_direct);
	TEST_RUN(test_stream_body);
	TEST_RUN(test_stream_partial);
	TEST_RUN(test_stream_header_fields);
	TEST_RUN(test_stream_binary);
	TEST_RUN(test_stream_single_part);
	TEST_RUN(test_stream_big);
	pool_destroy(&test_pool);
	return test_finish();
}
