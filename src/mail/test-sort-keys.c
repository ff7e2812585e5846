/* test-sort-keys.c: SORT and THREAD keys (sort-keys.h): RFC 5256 base subjects, the
 * i;unicode-casemap canonical form, addresses and display names (RFC 5957), message ids. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/pool.h"
#include "lib/test.h"
#include "mail/mime.h"
#include "mail/sort-keys.h"

static void check_base(const char *in, const char *want, bool want_reply)
{
	struct buf out;
	bool reply = !want_reply;
	buf_init(&out, 4096);
	CHECK(sort_base_subject(&out, in, strlen(in), &reply) == 0);
	CHECK_MEM(out.data != NULL ? (const char *)out.data : "", out.len, want, strlen(want));
	if (reply != want_reply)
		printf("  %s: reply %d\n", in, reply);
	CHECK(reply == want_reply);
	buf_free(&out);
}

static void test_base_subject(void)
{
	check_base("hello", "hello", false);
	check_base("Re: hello", "hello", true);
	check_base("RE: Re: re: hello", "hello", true);
	check_base("Re:hello", "hello", true);
	check_base("Fwd: hello", "hello", true);
	check_base("FW: hello", "hello", true);
	check_base("fwd : hello", "hello", true);
	check_base("Re [list]: hello", "hello", true);
	check_base("[PATCH] hello", "hello", false);
	check_base("[PATCH]", "[PATCH]", false);
	check_base("[a] [b]", "[b]", false);
	check_base("[a][b] Re: x", "x", true);
	check_base("Re: [list] Re: hello (fwd)", "hello", true);
	check_base("hello (FWD) (fwd) ", "hello", true);
	check_base("[fwd: hello]", "hello", true);
	check_base("Re: [Fwd: Re: hello]", "hello", true);
	check_base("[fwd: [fwd: x] ]", "x", true);
	check_base("  hello  ", "hello", false);
	check_base("Refactor: code", "Refactor: code", false);
	check_base("fwd hello", "fwd hello", false);
	check_base("Re: ", "", true);
	check_base("", "", false);
	check_base("Re: 会議", "会議", true);
}

static void check_casemap(const char *in, const char *want)
{
	struct buf out;
	buf_init(&out, SORT_KEY_MAX);
	sort_casemap(&out, in, strlen(in));
	CHECK_MEM(out.data != NULL ? (const char *)out.data : "", out.len, want, strlen(want));
	buf_free(&out);
}

static void test_casemap(void)
{
	/* RFC 5051: titlecase, then NFKD */
	check_casemap("hello", "HELLO");
	check_casemap("Hello World", "HELLO WORLD");
	check_casemap("é", "E\xcc\x81");
	check_casemap("ǆ", "Dz\xcc\x8c"); /* dž titlecases to ǅ, which NFKD splits */
	check_casemap("①", "1");
	check_casemap("ｶﾞ", "カ\xe3\x82\x99");
	check_casemap("会議", "会議");
	check_casemap("a\xff", "A\xef\xbf\xbd");
}

static void extract(const char *msg, struct sort_keys *k)
{
	struct pool *pool = pool_create(4096);
	struct mime_part *root = mime_parse(pool, msg, strlen(msg), NULL);
	sort_keys_extract(k, pool, msg, root);
	pool_destroy(&pool);
}

static void check_key(const struct sort_keys *k, enum sort_key_field f, const char *want)
{
	const struct buf *b = &k->key[f];
	CHECK_MEM(b->data != NULL ? (const char *)b->data : "", b->len, want, strlen(want));
}

static void test_extract(void)
{
	struct sort_keys k;
	sort_keys_init(&k);
	extract("From: =?UTF-8?B?5bGx55Sw?= <yamada@Example.JP>, b@c\r\n"
		"To: undisclosed-recipients:;\r\n"
		"Cc: \"Carol Q.\" <carol@example.com>\r\n"
		"Subject: Re: =?UTF-8?Q?caf=C3=A9?=\t\r\n  [list]   meeting\r\n"
		"Message-ID: <abc@example.jp> (comment)\r\n"
		"In-Reply-To: <parent@x> <other@x>\r\n"
		"\r\nbody\r\n",
		&k);
	check_key(&k, SORT_KEY_SUBJECT, "CAFE\xcc\x81 [LIST] MEETING");
	CHECK(k.subject_reply);
	check_key(&k, SORT_KEY_FROM, "YAMADA");
	check_key(&k, SORT_KEY_DISPLAY_FROM, "山田");
	check_key(&k, SORT_KEY_TO, "UNDISCLOSED-RECIPIENTS");
	check_key(&k, SORT_KEY_DISPLAY_TO, "");
	check_key(&k, SORT_KEY_CC, "CAROL");
	check_key(&k, SORT_KEY_MESSAGE_ID, "<abc@example.jp>");
	check_key(&k, SORT_KEY_REFERENCES, "<parent@x>");

	extract("From: bob@example.com\r\n"
		"To: <alice@example.com>\r\n"
		"References: <a@x>\r\n <b@x>  <c@x>\r\n"
		"In-Reply-To: <c@x>\r\n"
		"\r\n",
		&k);
	check_key(&k, SORT_KEY_SUBJECT, "");
	CHECK(!k.subject_reply);
	check_key(&k, SORT_KEY_DISPLAY_FROM, "BOB@EXAMPLE.COM");
	check_key(&k, SORT_KEY_DISPLAY_TO, "ALICE@EXAMPLE.COM");
	check_key(&k, SORT_KEY_CC, "");
	check_key(&k, SORT_KEY_MESSAGE_ID, "");
	check_key(&k, SORT_KEY_REFERENCES, "<a@x> <b@x> <c@x>");

	/* Japanese mailers' full-width "Ｒｅ：" / "Re：" / "ＦＷ：" and the ideographic space are the
	 * RFC 5256 tokens in another width; translations stay (RFC 5256 section 7) */
	extract("Subject: =?UTF-8?B?77yy772F77ya44CA5Lya6K2w?=\r\n\r\n", &k); /* Ｒｅ：　会議 */
	check_key(&k, SORT_KEY_SUBJECT, "会議");
	CHECK(k.subject_reply);
	extract("Subject: =?UTF-8?B?UmXvvJpSZe+8muizh+aWmQ==?=\r\n\r\n", &k); /* Re：Re：資料 */
	check_key(&k, SORT_KEY_SUBJECT, "資料");
	CHECK(k.subject_reply);
	extract("Subject: =?UTF-8?B?77ym77y377ya6LOH5paZ?=\r\n\r\n", &k); /* ＦＷ：資料 */
	check_key(&k, SORT_KEY_SUBJECT, "資料");
	CHECK(k.subject_reply);
	extract("Subject: =?UTF-8?B?6L+U5L+hOiDkvJrorbA=?=\r\n\r\n", &k); /* 返信: 会議 */
	check_key(&k, SORT_KEY_SUBJECT, "返信: 会議");
	CHECK(!k.subject_reply);

	/* a References chain longer than the key: the newest ids are kept */
	struct buf m;
	buf_init(&m, (size_t)-2);
	buf_append_str(&m, "References:");
	for (int i = 0; i < 2000; i++)
		buf_printf(&m, " <id%d@example.com>", i);
	buf_append_str(&m, "\r\n\r\n");
	extract((const char *)m.data, &k);
	const struct buf *refs = &k.key[SORT_KEY_REFERENCES];
	CHECK(refs->len > 0 && refs->len <= SORT_REFS_MAX);
	CHECK(refs->data[0] == '<');
	CHECK(refs->len >= 20 && memcmp(refs->data + refs->len - 20, "<id1999@example.com>", 20) == 0);
	buf_free(&m);
	sort_keys_free(&k);
}

int main(void)
{
	TEST_RUN(test_base_subject);
	TEST_RUN(test_casemap);
	TEST_RUN(test_extract);
	return test_finish();
}
