/* test-mime.c: unit tests for the MIME parser (offsets, sizes, lines, boundaries, defaults,
 * limits, section numbers) and for Content-Type / RFC 2231 parameter parsing. */
#include <stdlib.h>

#include "lib/buf.h"
#include "lib/pool.h"
#include "lib/test.h"
#include "mail/mime-param.h"
#include "mail/mime.h"

/* The bytes of a part's body / header as a NUL-terminated copy for comparison. */
static const char *body_of(const char *msg, const struct mime_part *p)
{
	static char out[4096];
	size_t n = p->body_size < sizeof(out) - 1 ? p->body_size : sizeof(out) - 1;
	memcpy(out, msg + p->body_offset, n);
	out[n] = '\0';
	return out;
}

static const char *header_of(const char *msg, const struct mime_part *p)
{
	static char out[4096];
	size_t n = p->header_size < sizeof(out) - 1 ? p->header_size : sizeof(out) - 1;
	memcpy(out, msg + p->header_offset, n);
	out[n] = '\0';
	return out;
}

static const struct mime_part *sec(const struct mime_part *root, const char *s)
{
	return mime_part_find_section(root, s, strlen(s));
}

static struct mime_part *parse(struct pool *pool, const char *msg)
{
	return mime_parse(pool, msg, strlen(msg), NULL);
}

static void test_mime_simple(void)
{
	struct pool *pool = pool_create(4096);
	const char *m = "Subject: x\r\n\r\nline one\r\nline two\r\n";
	struct mime_part *r = parse(pool, m);
	CHECK(r->flags == (MIME_PART_FLAG_MESSAGE | MIME_PART_FLAG_TEXT | MIME_PART_FLAG_DEFAULT_TYPE));
	CHECK(r->header_offset == 0 && r->header_size == 14);
	CHECK(r->body_offset == 14 && r->body_size == 20 && r->body_lines == 2);
	CHECK_STR(r->type, "text");
	CHECK_STR(r->subtype, "plain");
	CHECK(r->params.count == 1 && r->params.raw_count == 0);
	CHECK_STR(mime_part_charset(r), "us-ascii");
	CHECK(r->enc == MIME_ENC_7BIT && r->encoding == NULL);
	CHECK(sec(r, "1") == r);
	CHECK(sec(r, "") == r);
	CHECK(sec(r, "2") == NULL);
	CHECK(sec(r, "1.1") == NULL);

	/* no blank line: all header */
	m = "Subject: x\r\nFrom: y";
	r = parse(pool, m);
	CHECK(r->header_size == strlen(m) && r->body_size == 0 && r->body_offset == strlen(m));
	/* starts with a blank line: no header fields */
	m = "\r\nbody";
	r = parse(pool, m);
	CHECK(r->header_size == 2 && r->body_size == 4 && r->body_lines == 1);
	/* empty message */
	r = mime_parse(pool, "", 0, NULL);
	CHECK(r->header_size == 0 && r->body_size == 0 && r->body_lines == 0);
	/* bare LF */
	m = "Subject: x\n\na\nb";
	r = parse(pool, m);
	CHECK(r->header_size == 12 && r->body_size == 3 && r->body_lines == 2);
	pool_destroy(&pool);
}

static void test_mime_multipart(void)
{
	struct pool *pool = pool_create(4096);
	const char *m = "Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
			"\r\n"
			"preamble\r\n"
			"--b1\r\n"
			"Content-Type: text/plain; charset=utf-8\r\n"
			"\r\n"
			"part one\r\n"
			"--b1 \t\r\n"
			"\r\n"
			"part two\r\n\r\n"
			"--b1\r\n"
			"Content-Type: application/octet-stream\r\n"
			"Content-Transfer-Encoding: Base64\r\n"
			"\r\n"
			"AAAA\r\n"
			"--b1--\r\n"
			"epilogue\r\n";
	struct mime_part *r = parse(pool, m);
	CHECK((r->flags & MIME_PART_FLAG_MULTIPART) != 0);
	CHECK(r->child_count == 3);
	CHECK((r->flags & MIME_PART_FLAG_NO_CLOSE) == 0);
	CHECK(r->body_size == strlen(m) - r->body_offset); /* the epilogue is in the body */
	const struct mime_part *p1 = sec(r, "1"), *p2 = sec(r, "2"), *p3 = sec(r, "3");
	CHECK(p1 != NULL && p2 != NULL && p3 != NULL && sec(r, "4") == NULL);
	CHECK_STR(body_of(m, p1), "part one");
	CHECK(p1->body_lines == 1);
	CHECK_STR(header_of(m, p1), "Content-Type: text/plain; charset=utf-8\r\n\r\n");
	CHECK_STR(mime_part_charset(p1), "utf-8");
	CHECK_STR(body_of(m, p2), "part two\r\n");
	CHECK(p2->header_size == 2 && p2->body_lines == 1);
	CHECK((p2->flags & MIME_PART_FLAG_DEFAULT_TYPE) != 0);
	CHECK_STR(body_of(m, p3), "AAAA");
	CHECK(p3->enc == MIME_ENC_BASE64);
	CHECK_STR(p3->encoding, "Base64");
	CHECK(sec(r, "1.1") == NULL);
	CHECK(sec(r, "01") == NULL && sec(r, "1.") == NULL && sec(r, ".1") == NULL);
	CHECK(sec(r, "0") == NULL && sec(r, "x") == NULL && sec(r, "99999999999") == NULL);
	uint32_t nums[] = { 2 };
	CHECK(mime_part_find(r, nums, 1) == p2);
	CHECK(mime_part_find(r, nums, 0) == r);
	pool_destroy(&pool);
}

static void test_mime_boundary_edges(void)
{
	struct pool *pool = pool_create(4096);
	/* missing closing boundary: the last part runs to the end */
	const char *m = "Content-Type: multipart/mixed; boundary=X\r\n\r\n--X\r\n\r\na\r\n--X\r\n\r\nb\r\n";
	struct mime_part *r = parse(pool, m);
	CHECK(r->child_count == 2 && (r->flags & MIME_PART_FLAG_NO_CLOSE) != 0);
	CHECK_STR(body_of(m, sec(r, "2")), "b\r\n");
	/* no boundary line at all: one synthetic empty text/plain child */
	m = "Content-Type: multipart/mixed; boundary=X\r\n\r\njust text\r\n";
	r = parse(pool, m);
	CHECK(r->child_count == 1);
	CHECK((r->children->flags & MIME_PART_FLAG_SYNTHETIC) != 0);
	CHECK(r->children->body_size == 0 && r->children->header_size == 0);
	CHECK_STR(r->children->type, "text");
	/* closing boundary without any opening one */
	m = "Content-Type: multipart/mixed; boundary=X\r\n\r\n--X--\r\n";
	r = parse(pool, m);
	CHECK(r->child_count == 1 && (r->children->flags & MIME_PART_FLAG_SYNTHETIC) != 0);
	/* boundary-like lines that are not boundaries */
	m = "Content-Type: multipart/mixed; boundary=X\r\n\r\n--X\r\n\r\n--Xy\r\n--X-\r\n -X\r\n--X--\r\n";
	r = parse(pool, m);
	CHECK(r->child_count == 1);
	CHECK_STR(body_of(m, sec(r, "1")), "--Xy\r\n--X-\r\n -X");
	/* empty parts, boundary right after boundary, bare LF */
	m = "Content-Type: multipart/mixed; boundary=X\n\n--X\n--X\n\n--X--\n";
	r = parse(pool, m);
	CHECK(r->child_count == 2);
	CHECK(sec(r, "1")->body_size == 0 && sec(r, "1")->header_size == 0);
	CHECK(sec(r, "2")->header_size == 1 && sec(r, "2")->body_size == 0);
	/* a header cut short by a boundary */
	m = "Content-Type: multipart/mixed; boundary=X\r\n\r\n--X\r\nContent-Type: text/html\r\n--X--\r\n";
	r = parse(pool, m);
	CHECK(r->child_count == 1);
	CHECK_STR(header_of(m, sec(r, "1")), "Content-Type: text/html");
	CHECK(sec(r, "1")->body_size == 0);
	CHECK_STR(sec(r, "1")->subtype, "html");
	/* multipart without a boundary parameter: text/plain */
	m = "Content-Type: multipart/mixed\r\n\r\n--X\r\n";
	r = parse(pool, m);
	CHECK(r->child_count == 0 && (r->flags & MIME_PART_FLAG_DEFAULT_TYPE) != 0);
	CHECK_STR(r->type, "text");
	m = "Content-Type: multipart/mixed; boundary=\"\"\r\n\r\n--\r\n";
	r = parse(pool, m);
	CHECK(r->child_count == 0 && strcmp(r->type, "text") == 0);
	/* NUL bytes and 8-bit data in bodies and boundaries */
	static const char nul[] = "Content-Type: multipart/mixed; boundary=\"\xe3\x81\x82\"\r\n\r\n"
				  "--\xe3\x81\x82\r\n\r\na\0b\r\n--\xe3\x81\x82--\r\n";
	r = mime_parse(pool, nul, sizeof(nul) - 1, NULL);
	CHECK(r->child_count == 1 && r->children->body_size == 3);
	pool_destroy(&pool);
}

static void test_mime_nested(void)
{
	struct pool *pool = pool_create(4096);
	/* the inner multipart misses its closing boundary; the outer boundary ends it */
	const char *m = "Content-Type: multipart/mixed; boundary=outer\r\n\r\n"
			"--outer\r\n"
			"Content-Type: multipart/alternative; boundary=inner\r\n\r\n"
			"--inner\r\n\r\nplain\r\n"
			"--inner\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n"
			"--outer\r\n"
			"Content-Type: message/rfc822\r\n\r\n"
			"Subject: inner message\r\n"
			"Content-Type: multipart/mixed; boundary=deep\r\n\r\n"
			"--deep\r\n\r\ndeep one\r\n--deep--\r\n"
			"--outer--\r\n";
	struct mime_part *r = parse(pool, m);
	CHECK(r->child_count == 2);
	const struct mime_part *alt = sec(r, "1");
	CHECK(alt->child_count == 2 && (alt->flags & MIME_PART_FLAG_NO_CLOSE) != 0);
	CHECK_STR(body_of(m, sec(r, "1.1")), "plain");
	CHECK_STR(body_of(m, sec(r, "1.2")), "<p>html</p>");
	const struct mime_part *msg = sec(r, "2");
	CHECK((msg->flags & MIME_PART_FLAG_RFC822) != 0);
	const struct mime_part *inner = mime_part_message(msg);
	CHECK(inner != NULL && (inner->flags & MIME_PART_FLAG_MESSAGE) != 0);
	CHECK(inner->header_offset == msg->body_offset);
	CHECK(inner->header_size + inner->body_size == msg->body_size);
	CHECK(msg->body_lines == 7);
	CHECK(sec(r, "2.1") == sec(r, "2.1") && sec(r, "2.1") == inner->children);
	CHECK_STR(body_of(m, sec(r, "2.1")), "deep one");
	CHECK(sec(r, "2.2") == NULL);
	CHECK(mime_part_message(sec(r, "1")) == NULL);
	pool_destroy(&pool);

	/* message/rfc822 with a non-multipart message: 2.1 is that message's body */
	pool = pool_create(4096);
	m = "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nx\r\n--b\r\n"
	    "Content-Type: message/rfc822\r\n\r\nSubject: s\r\n\r\nbody\r\n--b--\r\n";
	r = parse(pool, m);
	const struct mime_part *p21 = sec(r, "2.1");
	CHECK(p21 != NULL && p21 == mime_part_message(sec(r, "2")));
	CHECK_STR(body_of(m, p21), "body");
	CHECK(sec(r, "2.1.1") == NULL);
	CHECK(sec(r, "2.2") == NULL);
	pool_destroy(&pool);

	/* a top-level message/rfc822 message */
	pool = pool_create(4096);
	m = "Content-Type: message/rfc822\r\n\r\nSubject: s\r\n\r\nbody\r\n";
	r = parse(pool, m);
	CHECK(sec(r, "1") == r);
	CHECK(sec(r, "1.1") == mime_part_message(r));
	CHECK_STR(body_of(m, sec(r, "1.1")), "body\r\n");
	pool_destroy(&pool);
}

static void test_mime_digest(void)
{
	struct pool *pool = pool_create(4096);
	const char *m = "Content-Type: multipart/digest; boundary=d\r\n\r\n"
			"--d\r\n\r\nSubject: one\r\n\r\nfirst\r\n"
			"--d\r\nContent-Type: text/plain\r\n\r\nnot a message\r\n"
			"--d--\r\n";
	struct mime_part *r = parse(pool, m);
	const struct mime_part *p1 = sec(r, "1"), *p2 = sec(r, "2");
	CHECK_STR(p1->type, "message");
	CHECK_STR(p1->subtype, "rfc822");
	CHECK((p1->flags & MIME_PART_FLAG_RFC822) != 0 && p1->params.count == 0);
	CHECK_STR(body_of(m, sec(r, "1.1")), "first");
	CHECK_STR(p2->type, "text");
	pool_destroy(&pool);
}

static void test_mime_limits(void)
{
	/* 300 nested multiparts: the 100th level is an opaque leaf */
	struct buf b;
	buf_init(&b, 1 << 20);
	for (int i = 0; i < 300; i++)
		buf_printf(&b, "Content-Type: multipart/mixed; boundary=\"b%d\"\r\n\r\n--b%d\r\n", i, i);
	buf_append_str(&b, "\r\nleaf\r\n");
	for (int i = 299; i >= 0; i--)
		buf_printf(&b, "--b%d--\r\n", i);
	struct pool *pool = pool_create(4096);
	struct mime_part *r = mime_parse(pool, b.data, b.len, NULL);
	const struct mime_part *p = r;
	unsigned int depth = 0;
	while (p->children != NULL) {
		p = p->children;
		depth++;
	}
	CHECK(depth == MIME_DEFAULT_MAX_DEPTH);
	CHECK((p->flags & MIME_PART_FLAG_OPAQUE) != 0);
	CHECK_STR(p->type, "application");
	CHECK(p->body_offset + p->body_size <= b.len);
	struct mime_parse_settings set = { .max_depth = 5 };
	r = mime_parse(pool, b.data, b.len, &set);
	for (p = r, depth = 0; p->children != NULL; p = p->children)
		depth++;
	CHECK(depth == 5);
	pool_destroy(&pool);

	/* many parts: past max_parts the last child takes the rest */
	buf_reset(&b);
	buf_append_str(&b, "Content-Type: multipart/mixed; boundary=x\r\n\r\n");
	for (int i = 0; i < 50; i++)
		buf_append_str(&b, "--x\r\n\r\np\r\n");
	buf_append_str(&b, "--x--\r\n");
	pool = pool_create(4096);
	struct mime_parse_settings set2 = { .max_parts = 10 };
	r = mime_parse(pool, b.data, b.len, &set2);
	CHECK(r->child_count == 10);
	const struct mime_part *last = sec(r, "10");
	CHECK(last != NULL && last->body_offset + last->body_size == b.len);
	r = mime_parse(pool, b.data, b.len, NULL);
	CHECK(r->child_count == 50);
	pool_destroy(&pool);
	buf_free(&b);

	/* rfc822 nesting counts too */
	buf_init(&b, 1 << 20);
	for (int i = 0; i < 200; i++)
		buf_append_str(&b, "Content-Type: message/rfc822\r\n\r\n");
	buf_append_str(&b, "\r\nend\r\n");
	pool = pool_create(4096);
	r = mime_parse(pool, b.data, b.len, NULL);
	for (p = r, depth = 0; p->children != NULL; p = p->children)
		depth++;
	CHECK(depth == MIME_DEFAULT_MAX_DEPTH);
	pool_destroy(&pool);
	buf_free(&b);
}

static void test_mime_headers(void)
{
	struct pool *pool = pool_create(4096);
	const char *m = "Content-Type: Text/HTML (comment); Charset=\"ISO-2022-JP\"; format=flowed\r\n"
			"Content-ID: <id@x>\r\n"
			"Content-Description: =?utf-8?q?caf=C3=A9?=\r\n"
			"Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\r\n"
			"Content-Language: en, (comment) de-DE\r\n"
			"Content-Location: http://example.com/\r\n a.html\r\n"
			"Content-Disposition: INLINE; filename=\"x.html\"\r\n"
			"Content-Transfer-Encoding: quoted-printable (qp)\r\n"
			"Content-Type: text/plain\r\n"
			"\r\nbody";
	struct mime_part *r = parse(pool, m);
	CHECK_STR(r->type, "Text");
	CHECK_STR(r->subtype, "HTML");
	CHECK_STR(r->type_lc, "text");
	CHECK_STR(r->subtype_lc, "html");
	CHECK(r->params.count == 2);
	CHECK_STR(mime_part_charset(r), "ISO-2022-JP");
	CHECK_STR(r->id.data, "<id@x>");
	CHECK_STR(r->description.data, "=?utf-8?q?caf=C3=A9?=");
	CHECK_STR(r->md5.data, "Q2hlY2sgSW50ZWdyaXR5IQ==");
	CHECK(r->language_count == 2);
	CHECK_STR(r->languages[0], "en");
	CHECK_STR(r->languages[1], "de-DE");
	CHECK_STR(r->location.data, "http://example.com/ a.html");
	CHECK_STR(r->disposition, "INLINE");
	CHECK_STR(r->disposition_lc, "inline");
	CHECK_STR(r->encoding, "quoted-printable");
	CHECK(r->enc == MIME_ENC_QP);
	struct buf b;
	buf_init(&b, 100);
	CHECK(mime_part_filename(r, &b) == 1);
	CHECK_MEM(b.data, b.len, "x.html", 6);
	buf_free(&b);
	/* invalid Content-Type: defaults */
	r = parse(pool, "Content-Type: text\r\n\r\n");
	CHECK((r->flags & MIME_PART_FLAG_DEFAULT_TYPE) != 0 && strcmp(r->subtype, "plain") == 0);
	r = parse(pool, "Content-Type: /plain\r\n\r\n");
	CHECK((r->flags & MIME_PART_FLAG_DEFAULT_TYPE) != 0);
	r = parse(pool, "Content-Type: text/\r\n\r\n");
	CHECK((r->flags & MIME_PART_FLAG_DEFAULT_TYPE) != 0);
	r = parse(pool, "Content-Type: \xe3\x81\x82/plain\r\n\r\n");
	CHECK((r->flags & MIME_PART_FLAG_DEFAULT_TYPE) != 0);
	r = parse(pool, "Content-Transfer-Encoding: x-uuencode\r\n\r\n");
	CHECK(r->enc == MIME_ENC_UNKNOWN);
	r = parse(pool, "Content-Disposition: ;filename=a\r\n\r\n");
	CHECK(r->disposition == NULL);
	pool_destroy(&pool);
}

static void test_mime_filename(void)
{
	struct pool *pool = pool_create(4096);
	struct buf b;
	buf_init(&b, 1000);
	struct mime_part *r = parse(pool, "Content-Type: application/pdf; name=\"=?UTF-8?B?44GC?=.pdf\"\r\n\r\n");
	CHECK(mime_part_filename(r, &b) == 1);
	CHECK_MEM(b.data, b.len, "\xe3\x81\x82.pdf", 7);
	buf_reset(&b);
	r = parse(pool, "Content-Disposition: attachment; filename=\"plain.pdf\";\r\n"
			" filename*=utf-8''%E3%81%82.pdf\r\n\r\n");
	CHECK(mime_part_filename(r, &b) == 1);
	CHECK_MEM(b.data, b.len, "\xe3\x81\x82.pdf", 7);
	buf_reset(&b);
	r = parse(pool, "Content-Type: text/plain\r\n\r\n");
	CHECK(mime_part_filename(r, &b) == 0);
	buf_free(&b);
	pool_destroy(&pool);
}

/* Parameters rendered as name=value|name*=charset'lang'value|... for comparison. */
static const char *params_dump(struct pool *pool, const char *value, bool raw)
{
	static char out[2048];
	const char *type, *subtype;
	struct mime_params params;
	size_t n = 0;
	out[0] = '\0';
	if (!mime_param_parse_value(pool, value, strlen(value), true, 1000, &type, &subtype, &params))
		return "(invalid)";
	unsigned int count = raw ? params.raw_count : params.count;
	for (unsigned int i = 0; i < count; i++) {
		int w;
		if (raw) {
			const struct mime_param_raw *p = &params.raw[i];
			w = snprintf(out + n, sizeof(out) - n, "%s%s=%s", i ? "|" : "", p->name,
				     p->value);
		} else {
			const struct mime_param *p = &params.items[i];
			if (p->extended)
				w = snprintf(out + n, sizeof(out) - n, "%s%s*=%s'%s'%s", i ? "|" : "",
					     p->name, p->charset, p->language, p->value);
			else
				w = snprintf(out + n, sizeof(out) - n, "%s%s=%s", i ? "|" : "", p->name,
					     p->value);
		}
		if (w < 0 || (size_t)w >= sizeof(out) - n)
			break;
		n += (size_t)w;
	}
	return out;
}

static void test_params(void)
{
	struct pool *pool = pool_create(4096);
	CHECK_STR(params_dump(pool, "text/plain", false), "");
	CHECK_STR(params_dump(pool, "text/plain; charset=us-ascii (Plain text)", false),
		  "charset=us-ascii");
	CHECK_STR(params_dump(pool, "text/plain;charset=\"a\\\"b\";format = flowed ;", false),
		  "charset=a\"b|format=flowed");
	CHECK_STR(params_dump(pool, "a/b; name=foo bar.pdf; x=1", false), "name=foo bar.pdf|x=1");
	CHECK_STR(params_dump(pool, "a/b; name=\"unterminated", false), "name=unterminated");
	CHECK_STR(params_dump(pool, "a/b charset=x", false), "charset=x");
	CHECK_STR(params_dump(pool, "a/b; =x; novalue; y=2", false), "y=2");
	CHECK_STR(params_dump(pool, "a/b; n=\"q\" junk; m=1", false), "n=q|m=1");
	CHECK_STR(params_dump(pool, "a", false), "(invalid)");
	CHECK_STR(params_dump(pool, "a / b ; c = d", false), "c=d");
	pool_destroy(&pool);
}

static void test_params_rfc2231(void)
{
	struct pool *pool = pool_create(4096);
	/* RFC 2231 examples */
	CHECK_STR(params_dump(pool, "message/external-body; access-type=URL;\r\n"
				    " URL*0=\"ftp://\";\r\n URL*1=\"cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar\"",
			      false),
		  "access-type=URL|URL=ftp://cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar");
	CHECK_STR(params_dump(pool, "application/x-stuff;\r\n title*=us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A",
			      false),
		  "title*=us-ascii'en-us'This is ***fun***");
	CHECK_STR(params_dump(pool, "application/x-stuff;\r\n title*0*=us-ascii'en'This%20is%20even%20more%20;"
				    "\r\n title*1*=%2A%2A%2Afun%2A%2A%2A%20;\r\n title*2=\"isn't it!\"",
			      false),
		  "title*=us-ascii'en'This is even more ***fun*** isn't it!");
	/* out of order sections, Japanese charset, duplicates, mixed with a plain form */
	CHECK_STR(params_dump(pool, "a/b; name*1*=%1B%28B; name=\"fallback\"; name*0*=iso-2022-jp''%1B%24B2q5D;"
				    " name*1*=dup",
			      false),
		  "name*=iso-2022-jp''\xe4\xbc\x9a\xe8\xad\xb0|name=fallback");
	/* raw list keeps everything as written */
	CHECK_STR(params_dump(pool, "a/b; name*1*=%1B%28B; name=\"fallback\"; name*0*=x''y", true),
		  "name*1*=%1B%28B|name=fallback|name*0*=x''y");
	/* no charset quotes, bad percent escapes, unknown charset */
	CHECK_STR(params_dump(pool, "a/b; f*=%41%zz%4", false), "f*=''A%zz%4");
	CHECK_STR(params_dump(pool, "a/b; f*=x-unknown''%E3%81%82", false),
		  "f*=x-unknown''\xe3\x81\x82");
	CHECK_STR(params_dump(pool, "a/b; f*=utf-8''%FF", false), "f*=utf-8''\xef\xbf\xbd");
	/* odd names stay plain */
	CHECK_STR(params_dump(pool, "a/b; a*b=1; *=2; c*1x=3", false), "a*b=1|*=2|c*1x=3");
	/* a continued plain parameter */
	CHECK_STR(params_dump(pool, "a/b; n*0=a; n*2=c; n*1=b", false), "n=abc");
	const char *type, *subtype;
	struct mime_params params;
	CHECK(mime_param_parse_value(pool, "a/b; x*0=1; x*1=2; y*=utf-8''z", 29, true, 10, &type, &subtype,
				     &params));
	CHECK(params.count == 2 && params.items[0].continued && !params.items[0].extended);
	CHECK(!params.items[1].continued && params.items[1].extended);
	CHECK(mime_params_find(&params, "X") == &params.items[0]);
	CHECK(mime_params_find(&params, "z") == NULL);
	pool_destroy(&pool);
}

static void test_params_many(void)
{
	/* 100,000 parameters stay fast (sorting, not nested loops) */
	struct buf b;
	buf_init(&b, 1 << 24);
	buf_append_str(&b, "a/b");
	for (int i = 0; i < 100000; i++)
		buf_printf(&b, "; p*%d=x", 99999 - i);
	struct pool *pool = pool_create(1 << 16);
	const char *type, *subtype;
	struct mime_params params;
	CHECK(mime_param_parse_value(pool, b.data, b.len, true, 200000, &type, &subtype, &params));
	CHECK(params.raw_count == 100000 && params.count == 1);
	CHECK(params.items[0].value_len == 100000);
	/* the cap */
	CHECK(mime_param_parse_value(pool, b.data, b.len, true, 7, &type, &subtype, &params));
	CHECK(params.raw_count == 7 && params.count == 1);
	CHECK(mime_param_parse_value(pool, b.data, b.len, true, 0, &type, &subtype, &params));
	CHECK(params.raw_count == 0 && params.count == 0 && strcmp(subtype, "b") == 0);
	/* and the message-wide budget of mime_parse() */
	const char *m = "Content-Type: multipart/mixed; boundary=x; a=1; b=2\r\n\r\n"
			"--x\r\nContent-Type: text/plain; c=3; d=4\r\n"
			"Content-Disposition: inline; e=5\r\n\r\n--x--\r\n";
	struct mime_parse_settings set = { .max_params = 4 };
	struct mime_part *r = mime_parse(pool, m, strlen(m), &set);
	CHECK(r->params.raw_count == 3 && r->child_count == 1);
	CHECK(r->children->params.raw_count == 1 && r->children->disposition_params.raw_count == 0);
	CHECK_STR(r->children->disposition, "inline");
	pool_destroy(&pool);
	buf_free(&b);
}

static void check_tree(const struct mime_part *p, size_t len)
{
	CHECK(p->header_offset + p->header_size == p->body_offset);
	CHECK(p->body_offset + p->body_size <= len);
	for (const struct mime_part *c = p->children; c != NULL; c = c->next) {
		CHECK(c->parent == p);
		CHECK(c->body_offset + c->body_size <= p->body_offset + p->body_size);
		check_tree(c, len);
	}
}

static void test_mime_prefixes(void)
{
	/* every prefix of a nested message parses into a consistent tree (a message cut short
	 * anywhere: in a header, a boundary line, an embedded message) */
	const char *m = "Content-Type: multipart/mixed; boundary=\"o\"\r\n\r\npre\r\n"
			"--o\r\nContent-Type: multipart/alternative; boundary=i\r\n\r\n"
			"--i\r\n\r\na\r\n--i\r\nContent-Type: text/html\r\n\r\n<b>\r\n--i--\r\n"
			"--o\r\nContent-Type: message/rfc822\r\n\r\nSubject: s\r\n"
			"Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\nX: y\r\n\r\nz\r\n"
			"--d--\r\n--o--\r\nepi\r\n";
	size_t len = strlen(m);
	struct pool *pool = pool_create(4096);
	for (size_t n = 0; n <= len; n++) {
		struct mime_part *r = mime_parse(pool, m, n, NULL);
		CHECK(r->body_offset + r->body_size == n);
		check_tree(r, n);
		pool_clear(pool);
	}
	struct mime_part *r = mime_parse(pool, m, len, NULL);
	CHECK(r->child_count == 2);
	CHECK(sec(r, "2.1.1.1") == NULL && sec(r, "2.1.1") != NULL);
	CHECK_STR(body_of(m, sec(r, "2.1.1")), "z");
	CHECK_STR(body_of(m, sec(r, "1.2")), "<b>");
	pool_destroy(&pool);
}

int main(void)
{
	TEST_RUN(test_mime_simple);
	TEST_RUN(test_mime_multipart);
	TEST_RUN(test_mime_boundary_edges);
	TEST_RUN(test_mime_nested);
	TEST_RUN(test_mime_digest);
	TEST_RUN(test_mime_limits);
	TEST_RUN(test_mime_prefixes);
	TEST_RUN(test_mime_headers);
	TEST_RUN(test_mime_filename);
	TEST_RUN(test_params);
	TEST_RUN(test_params_rfc2231);
	TEST_RUN(test_params_many);
	return test_finish();
}
