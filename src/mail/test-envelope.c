/* test-envelope.c: unit tests for the IMAP string writer, ENVELOPE and BODY/BODYSTRUCTURE
 * rendering. Expected strings are written from RFC 9051 section 9 by hand. */
#include "lib/buf.h"
#include "lib/pool.h"
#include "lib/test.h"
#include "mail/bodystructure.h"
#include "mail/envelope.h"
#include "mail/mail-string.h"
#include "mail/mime.h"

static void test_mail_string(void)
{
	struct buf b;
	buf_init(&b, 1000);
	CHECK(mail_string_append(&b, "abc", 3) == 0);
	CHECK(mail_string_append(&b, "", 0) == 0);
	CHECK(mail_string_append(&b, "a\"b\\c", 5) == 0);
	CHECK(mail_string_append(&b, "\x1b$B", 3) == 0);
	CHECK(mail_string_append_nstring(&b, NULL, 0) == 0);
	CHECK(mail_string_append_nstring(&b, "NIL", 3) == 0);
	CHECK_STR((char *)b.data, "\"abc\"\"\"\"a\\\"b\\\\c\"\"\x1b$B\"NIL\"NIL\"");
	buf_reset(&b);
	CHECK(mail_string_append(&b, "caf\xc3\xa9", 5) == 0);
	CHECK(mail_string_append(&b, "a\r\nb", 4) == 0);
	CHECK(mail_string_append(&b, "a\0b", 3) == 0);
	CHECK_MEM(b.data, b.len, "{5}\r\ncaf\xc3\xa9{4}\r\na\r\nb{5}\r\na\xef\xbf\xbd" "b", 29);
	buf_free(&b);
	buf_init(&b, 6);
	CHECK(mail_string_append(&b, "abcd", 4) == 0);
	CHECK(mail_string_append(&b, "x", 1) == -1);
	CHECK(b.len == 6);
	buf_free(&b);
	buf_init(&b, 8);
	CHECK(mail_string_append(&b, "\xff\xff", 2) == 0); /* "{2}\r\n" + 2 = 7: fits */
	CHECK(mail_string_append(&b, "\xff", 1) == -1);
	CHECK(b.len == 7);
	buf_free(&b);
}

static const char *env(struct pool *pool, const char *hdr)
{
	static struct buf b;
	buf_free(&b);
	buf_init(&b, 1 << 16);
	if (envelope_render(&b, pool, hdr, strlen(hdr)) < 0)
		return "(failed)";
	return (const char *)b.data;
}

static void test_envelope(void)
{
	struct pool *pool = pool_create(4096);
	/* the RFC 9051 7.5.2 style example */
	CHECK_STR(env(pool, "Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\r\n"
			    "From: Terry Gray <gray@cac.washington.edu>\r\n"
			    "Subject: IMAP4rev2 WG mtg summary and minutes\r\n"
			    "To: imap@cac.washington.edu\r\n"
			    "cc: minutes@CNRI.Reston.VA.US,\r\n John Klensin <KLENSIN@MIT.EDU>\r\n"
			    "Message-Id: <B27397-0100000@cac.washington.edu>\r\n"
			    "\r\n"),
		  "(\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" \"IMAP4rev2 WG mtg summary and minutes\" "
		  "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
		  "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
		  "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
		  "((NIL NIL \"imap\" \"cac.washington.edu\")) "
		  "((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")(\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\")) "
		  "NIL NIL \"<B27397-0100000@cac.washington.edu>\")");
	/* nothing at all */
	CHECK_STR(env(pool, ""), "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
	/* present but empty: "" for strings, NIL for address lists; empty Sender -> From */
	CHECK_STR(env(pool, "Subject:\r\nDate: \r\nFrom: a@b\r\nSender:\r\nReply-To: <>\r\nTo:\r\n"
			    "In-Reply-To:\r\n"),
		  "(\"\" \"\" ((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) "
		  "NIL NIL NIL \"\" NIL)");
	/* first occurrence wins; folding removed; raw encoded words kept; quotes escaped */
	CHECK_STR(env(pool, "Subject: =?utf-8?q?caf=C3=A9?=\r\n \"quoted\"\r\nSubject: second\r\n"
			    "Sender: s@x\r\nReply-To: r@y\r\nBcc: Group: m@z;\r\n"),
		  "(NIL \"=?utf-8?q?caf=C3=A9?= \\\"quoted\\\"\" NIL ((NIL NIL \"s\" \"x\")) "
		  "((NIL NIL \"r\" \"y\")) NIL NIL "
		  "((NIL NIL \"Group\" NIL)(NIL NIL \"m\" \"z\")(NIL NIL NIL NIL)) NIL NIL)");
	/* 8-bit subject: a literal; address without a domain; route */
	CHECK_STR(env(pool, "Subject: caf\xc3\xa9\r\nTo: bob, <@r.x:u@h>\r\n"),
		  "(NIL {5}\r\ncaf\xc3\xa9 NIL NIL NIL "
		  "((NIL NIL \"bob\" \".MISSING-HOST-NAME.\")(NIL \"@r.x\" \"u\" \"h\")) "
		  "NIL NIL NIL NIL)");
	/* field names are case-insensitive, In-Reply-To and Message-ID raw */
	CHECK_STR(env(pool, "MESSAGE-ID:   <a@b>  \r\nin-reply-to: <c@d> (comment)\r\n"),
		  "(NIL NIL NIL NIL NIL NIL NIL NIL \"<c@d> (comment)\" \"<a@b>\")");
	struct buf b;
	buf_init(&b, 20);
	buf_append(&b, "x", 1);
	CHECK(envelope_render(&b, pool, "Subject: a long subject line\r\n", 30) == -1);
	CHECK(b.len == 1);
	buf_free(&b);
	pool_destroy(&pool);
}

static const char *bs(struct pool *pool, const char *msg, unsigned int flags)
{
	static struct buf b;
	buf_free(&b);
	buf_init(&b, 1 << 16);
	struct mime_part *root = mime_parse(pool, msg, strlen(msg), NULL);
	if (bodystructure_render(&b, pool, msg, root, flags) < 0)
		return "(failed)";
	return (const char *)b.data;
}

static void test_bodystructure_simple(void)
{
	struct pool *pool = pool_create(4096);
	const char *m = "Subject: x\r\n\r\nhello\r\nworld\r\n";
	CHECK_STR(bs(pool, m, 0), "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 14 2)");
	CHECK_STR(bs(pool, m, BODYSTRUCTURE_EXTENDED),
		  "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 14 2 NIL NIL NIL NIL)");
	m = "Content-Type: TEXT/HTML; CHARSET=\"UTF-8\"\r\nContent-ID: <x@y>\r\n"
	    "Content-Description: desc\r\nContent-Transfer-Encoding: QUOTED-PRINTABLE\r\n"
	    "Content-MD5: bWQ1\r\nContent-Disposition: inline\r\nContent-Language: ja\r\n"
	    "Content-Location: a.html\r\n\r\n<p>\r\n";
	CHECK_STR(bs(pool, m, BODYSTRUCTURE_EXTENDED),
		  "(\"TEXT\" \"HTML\" (\"CHARSET\" \"UTF-8\") \"<x@y>\" \"desc\" \"QUOTED-PRINTABLE\" 5 1 "
		  "\"bWQ1\" (\"inline\" NIL) (\"ja\") \"a.html\")");
	m = "Content-Type: image/png; name=a.png\r\nContent-Transfer-Encoding: base64\r\n"
	    "Content-Disposition: attachment; filename=a.png; size=3\r\n"
	    "Content-Language: en, fr\r\n\r\nAAAA";
	CHECK_STR(bs(pool, m, 0), "(\"image\" \"png\" (\"name\" \"a.png\") NIL NIL \"base64\" 4)");
	CHECK_STR(bs(pool, m, BODYSTRUCTURE_EXTENDED),
		  "(\"image\" \"png\" (\"name\" \"a.png\") NIL NIL \"base64\" 4 NIL "
		  "(\"attachment\" (\"filename\" \"a.png\" \"size\" \"3\")) (\"en\" \"fr\") NIL)");
	/* no parameters: NIL */
	m = "Content-Type: text/plain\r\n\r\n";
	CHECK_STR(bs(pool, m, 0), "(\"text\" \"plain\" NIL NIL NIL \"7bit\" 0 0)");
	pool_destroy(&pool);
}

static void test_bodystructure_multipart(void)
{
	struct pool *pool = pool_create(4096);
	const char *m = "Content-Type: multipart/alternative; boundary=b\r\n"
			"Content-Disposition: inline\r\n\r\n"
			"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhi\r\n"
			"--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<b>hi</b>\r\n--b--\r\n";
	CHECK_STR(bs(pool, m, 0),
		  "((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 2 1)"
		  "(\"text\" \"html\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 9 1) \"alternative\")");
	CHECK_STR(bs(pool, m, BODYSTRUCTURE_EXTENDED),
		  "((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 2 1 NIL NIL NIL NIL)"
		  "(\"text\" \"html\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 9 1 NIL NIL NIL NIL) "
		  "\"alternative\" (\"boundary\" \"b\") (\"inline\" NIL) NIL NIL)");
	pool_destroy(&pool);
}

static void test_bodystructure_message(void)
{
	struct pool *pool = pool_create(4096);
	const char *m = "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
			"--b\r\n\r\ntext\r\n"
			"--b\r\nContent-Type: message/rfc822\r\n\r\n"
			"From: x@y\r\nSubject: inner\r\n\r\nbody\r\n"
			"--b--\r\n";
	CHECK_STR(bs(pool, m, 0),
		  "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 4 1)"
		  "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 33 "
		  "(NIL \"inner\" ((NIL NIL \"x\" \"y\")) ((NIL NIL \"x\" \"y\")) ((NIL NIL \"x\" \"y\")) "
		  "NIL NIL NIL NIL NIL) "
		  "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 4 1) 4) \"mixed\")");
	/* message/global: rev2 as a message, rev1 as a basic body */
	m = "Content-Type: message/global\r\n\r\nSubject: s\r\n\r\nb";
	CHECK_STR(bs(pool, m, 0),
		  "(\"message\" \"global\" NIL NIL NIL \"7bit\" 15 "
		  "(NIL \"s\" NIL NIL NIL NIL NIL NIL NIL NIL) "
		  "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 1) 3)");
	CHECK_STR(bs(pool, m, BODYSTRUCTURE_REV1),
		  "(\"message\" \"global\" NIL NIL NIL \"7bit\" 15)");
	struct mime_part *root = mime_parse(pool, m, strlen(m), NULL);
	CHECK(bodystructure_needs_rev1_variant(root));
	root = mime_parse(pool, "\r\n", 2, NULL);
	CHECK(!bodystructure_needs_rev1_variant(root));
	/* other message subtypes are basic bodies */
	m = "Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x\r\n";
	CHECK_STR(bs(pool, m, 0),
		  "(\"message\" \"delivery-status\" NIL NIL NIL \"7bit\" 23)");
	pool_destroy(&pool);
}

static void test_bodystructure_params(void)
{
	struct pool *pool = pool_create(4096);
	/* RFC 2231: continuations joined, extended values re-encoded as UTF-8 */
	const char *m = "Content-Type: application/pdf;\r\n"
			" name*0*=iso-2022-jp'ja'%1B%24B2q5D%1B%28B;\r\n name*1=\".pdf\"\r\n"
			"Content-Disposition: attachment;\r\n filename*0=\"long \";\r\n"
			" filename*1=\"name.pdf\"; filename*=UTF-8''%e4%bc%9a%e8%ad%b0%20x.pdf\r\n\r\n";
	CHECK_STR(bs(pool, m, BODYSTRUCTURE_EXTENDED),
		  "(\"application\" \"pdf\" (\"name*\" \"utf-8'ja'%E4%BC%9A%E8%AD%B0.pdf\") NIL NIL "
		  "\"7bit\" 0 NIL (\"attachment\" (\"filename\" \"long name.pdf\" "
		  "\"filename*\" \"utf-8''%E4%BC%9A%E8%AD%B0%20x.pdf\")) NIL NIL)");
	/* raw 8-bit values: literal */
	m = "Content-Type: text/plain; name=\"caf\xc3\xa9.txt\"\r\n\r\n";
	CHECK_STR(bs(pool, m, 0),
		  "(\"text\" \"plain\" (\"name\" {9}\r\ncaf\xc3\xa9.txt) NIL NIL \"7bit\" 0 0)");
	pool_destroy(&pool);
}

static void test_bodystructure_limits(void)
{
	struct pool *pool = pool_create(4096);
	const char *m = "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n";
	struct mime_part *root = mime_parse(pool, m, strlen(m), NULL);
	struct buf b;
	for (size_t max = 0; max < 200; max++) {
		buf_init(&b, max);
		buf_append(&b, "", 0);
		int r = bodystructure_render(&b, pool, m, root, BODYSTRUCTURE_EXTENDED);
		CHECK(r == 0 || b.len == 0);
		buf_free(&b);
	}
	pool_destroy(&pool);
}

int main(void)
{
	TEST_RUN(test_mail_string);
	TEST_RUN(test_envelope);
	TEST_RUN(test_bodystructure_simple);
	TEST_RUN(test_bodystructure_multipart);
	TEST_RUN(test_bodystructure_message);
	TEST_RUN(test_bodystructure_params);
	TEST_RUN(test_bodystructure_limits);
	return test_finish();
}
