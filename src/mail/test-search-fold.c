/* test-search-fold.c: folding for search (search-fold.h), HTML to text (html-text.h) and the
 * index text of whole messages (search-text.h), including the Japanese messages of
 * tests/mime-corpus. Run from the repository root (or with KURA_SRCDIR set). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/pool.h"
#include "lib/test.h"
#include "mail/html-text.h"
#include "mail/mime.h"
#include "mail/search-fold.h"
#include "mail/search-text.h"

static void check_fold_n(const char *in, size_t len, const char *want)
{
	struct buf out;
	buf_init(&out, 4096);
	CHECK(search_fold(&out, in, len) == 0);
	CHECK_MEM(out.data != NULL ? (const char *)out.data : "", out.len, want, strlen(want));
	buf_free(&out);
}

static void check_fold(const char *in, const char *want)
{
	check_fold_n(in, strlen(in), want);
}

static void test_fold_ascii(void)
{
	check_fold("Hello WORLD", "hello world");
	check_fold("", "");
	check_fold("  a \t\r\n b  ", " a b ");
	check_fold_n("x\0y", 3, "x y");
	check_fold("MiXeD-Case_123 !?", "mixed-case_123 !?");
}

static void test_fold_width(void)
{
	/* DESIGN.md: ＩＭＡＰ = IMAP, ﾐｰﾃｨﾝｸﾞ = ミーティング */
	check_fold("ＩＭＡＰ", "imap");
	check_fold("ｉｍａｐ４ｒｅｖ２", "imap4rev2");
	check_fold("ﾐｰﾃｨﾝｸﾞ", "ミーティング");
	check_fold("ｶﾞｷﾞｸﾞｹﾞｺﾞ ﾊﾟﾋﾟﾌﾟ", "ガギグゲゴ パピプ");
	check_fold("全角　空白", "全角 空白"); /* U+3000 is a space */
	check_fold("１２３－４５６", "123-456");
	check_fold("￥１００", "¥100");
}

static void test_fold_no_symbols(void)
{
	/* symbols do not fold into digits or letters */
	check_fold("①", "①");
	check_fold("㈱", "㈱");
	check_fold("Ⅻ", "ⅻ"); /* case folding only: Roman numeral twelve has a lowercase */
	check_fold("㍻", "㍻");
	check_fold("髙橋", "髙橋");
	check_fold("〜", "〜"); /* WAVE DASH is no width form ... */
	check_fold("～", "~");  /* ... FULLWIDTH TILDE (CP932's wave dash) is */
}

static void test_fold_case(void)
{
	check_fold("ÄÖÜ straße", "äöü strasse");
	check_fold("ΣΑΣ", "σασ");
	check_fold("A\xcc\x8a", "\xc3\xa5"); /* A + combining ring -> å (NFC) */
	check_fold("\xef\xac\x81", "fi");    /* the ligature casefolds */
	check_fold("Привет", "привет");
}

static void test_fold_invalid(void)
{
	check_fold("a\xff" "b", "a\xef\xbf\xbd" "b");
	check_fold("\xe3\x81", "\xef\xbf\xbd");
	check_fold("\xc2\xa0x\xc2\xa0", " x ");
}

static void test_fold_truncate(void)
{
	struct buf out;
	buf_init(&out, 5);
	/* "あいう" is 9 bytes: only one character fits in 5 bytes... plus a second? no: 3+3 > 5 */
	CHECK(search_fold_truncate(&out, "あいう", 9) == 1);
	CHECK_MEM(out.data, out.len, "あ", 3);
	buf_free(&out);
	buf_init(&out, 100);
	CHECK(search_fold_truncate(&out, "ABC", 3) == 0);
	CHECK_MEM(out.data, out.len, "abc", 3);
	buf_free(&out);
	CHECK(search_fold_chars("会議abc", strlen("会議abc")) == 5);
}

static void check_html(const char *in, const char *want)
{
	struct buf out;
	buf_init(&out, 4096);
	CHECK(html_to_text(&out, in, strlen(in)) == 0);
	CHECK_MEM(out.data != NULL ? (const char *)out.data : "", out.len, want, strlen(want));
	buf_free(&out);
}

static void test_html(void)
{
	check_html("<p>Hello <b>wor</b>ld</p>", " Hello world ");
	check_html("a<br>b<BR/>c", "a b c");
	check_html("<a href=\"x>y\">link</a>", "link");
	check_html("<!-- <p>hidden</p> -->shown", "shown");
	check_html("<script>var x = '<p>';</script>after", "after");
	check_html("<STYLE type=text/css>p { x: y }</style>z", "z");
	check_html("&lt;tag&gt; &amp; &quot;q&quot; &#65;&#x42; &nbsp;x &bogus; & a", "<tag> & \"q\" AB \xc2\xa0x &bogus; & a");
	check_html("1 < 2 and 3 > 2", "1 < 2 and 3 > 2");
	check_html("<!DOCTYPE html><html><head><title>T</title></head><body>B</body></html>",
		   "   T   B  ");
	check_html("&#0; &#xD800; &#x110000;", "\xef\xbf\xbd \xef\xbf\xbd \xef\xbf\xbd");
	check_html("unterminated <p class='a", "unterminated  ");
	check_html("<scriptx>kept</scriptx>", "kept");
}

static char *read_file(const char *name, size_t *len_r)
{
	const char *dir = getenv("KURA_SRCDIR");
	char path[1024];
	snprintf(path, sizeof(path), "%s/tests/mime-corpus/%s", dir != NULL ? dir : ".", name);
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	char *data = malloc(1 << 20);
	*len_r = fread(data, 1, 1 << 20, f);
	fclose(f);
	return data;
}

static void extract(const char *data, size_t len, struct search_text *t)
{
	struct pool *pool = pool_create(4096);
	struct mime_part *root = mime_parse(pool, data, len, NULL);
	search_text_extract(t, data, root);
	pool_destroy(&pool);
}

static void check_col(const struct search_text *t, enum search_text_column c, const char *want)
{
	const struct buf *b = &t->col[c];
	CHECK_MEM(b->data != NULL ? (const char *)b->data : "", b->len, want, strlen(want));
}

static void test_extract_simple(void)
{
	const char *msg = "From: =?UTF-8?B?5bGx55Sw?= <yamada@example.jp>\r\n"
			  "To: a@example.com,\r\n  B@Example.com\r\n"
			  "Subject:  Re: ＩＭＡＰ  会議\r\n"
			  "X-Empty:\r\n"
			  "Content-Type: multipart/mixed; boundary=b\r\n"
			  "\r\n"
			  "preamble\r\n"
			  "--b\r\n"
			  "Content-Type: text/html; charset=utf-8\r\n"
			  "\r\n"
			  "<p>Hello<br>World</p>\r\n"
			  "--b\r\n"
			  "Content-Type: application/pdf; name=\"=?UTF-8?Q?=E8=AD=B0=E4=BA=8B=E9=8C=B2.pdf?=\"\r\n"
			  "Content-Transfer-Encoding: base64\r\n"
			  "\r\n"
			  "AAAA\r\n"
			  "--b\r\n"
			  "Content-Type: message/rfc822\r\n"
			  "\r\n"
			  "Subject: inner\r\n"
			  "\r\n"
			  "inner body\r\n"
			  "--b--\r\n";
	struct search_text t;
	search_text_init(&t);
	extract(msg, strlen(msg), &t);
	check_col(&t, SEARCH_COL_HDR,
		  "\nfrom: 山田 <yamada@example.jp>\nto: a@example.com, b@example.com"
		  "\nsubject: re: imap 会議\nx-empty:\ncontent-type: multipart/mixed; boundary=b\n\n");
	check_col(&t, SEARCH_COL_SUBJECT, "re: imap 会議\n\n");
	check_col(&t, SEARCH_COL_FROM, "山田 <yamada@example.jp>\n\n");
	check_col(&t, SEARCH_COL_TO, "a@example.com, b@example.com\n\n");
	check_col(&t, SEARCH_COL_CC, "");
	check_col(&t, SEARCH_COL_BODY, "hello world\n議事録.pdf\nsubject: inner\ninner body\n\n");
	search_text_free(&t);
}

static void test_extract_raw_jis(void)
{
	/* an unlabelled body in raw ISO-2022-JP, a raw Shift_JIS subject read in the body's
	 * charset */
	const char *msg = "Subject: \x89\xef\x8b\x63\r\n"
			  "Content-Type: text/plain; charset=Shift_JIS\r\n"
			  "\r\n"
			  "\x96\x7b\x95\xb6\r\n";
	struct search_text t;
	search_text_init(&t);
	extract(msg, strlen(msg), &t);
	check_col(&t, SEARCH_COL_SUBJECT, "会議\n\n");
	check_col(&t, SEARCH_COL_BODY, "本文\n\n");
	const char *jis = "Subject: x\r\n\r\n\x1b$B2q5D\x1b(B abc\r\n";
	extract(jis, strlen(jis), &t);
	check_col(&t, SEARCH_COL_BODY, "会議 abc\n\n");
	search_text_free(&t);
}

static void test_extract_limits(void)
{
	/* a body far bigger than the column: cut, still ending in "\n\n" */
	size_t n = SEARCH_TEXT_BODY_MAX + 100000;
	char *msg = malloc(n + 64);
	size_t h = (size_t)snprintf(msg, 64, "Subject: big\r\n\r\n");
	memset(msg + h, 'x', n);
	struct search_text t;
	search_text_init(&t);
	extract(msg, h + n, &t);
	const struct buf *b = &t.col[SEARCH_COL_BODY];
	CHECK(b->len == SEARCH_TEXT_BODY_MAX + 2);
	CHECK(b->len >= 2 && b->data[b->len - 1] == '\n' && b->data[b->len - 2] == '\n');
	search_text_free(&t);
	free(msg);
}

static void test_extract_corpus(void)
{
	static const struct {
		const char *file;
		enum search_text_column col;
		const char *want;
	} cases[] = {
		{"shiftjis-body.eml", SEARCH_COL_SUBJECT, "予定表~①\n\n"},
		{"shiftjis-body.eml", SEARCH_COL_BODY,
		 "予定表を送ります~ ①会議室a ②会議室b カタカナもok\n\n"},
		{"iso2022jp-cp50220.eml", SEARCH_COL_SUBJECT, "①㈱\n\n"},
		{"iso2022jp-cp50220.eml", SEARCH_COL_BODY, "①㈱髙~ アイウ 高橋 abc\n\n"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len;
		char *data = read_file(cases[i].file, &len);
		CHECK(data != NULL);
		if (data == NULL)
			continue;
		struct search_text t;
		search_text_init(&t);
		extract(data, len, &t);
		check_col(&t, cases[i].col, cases[i].want);
		search_text_free(&t);
		free(data);
	}
}

int main(void)
{
	TEST_RUN(test_fold_ascii);
	TEST_RUN(test_fold_width);
	TEST_RUN(test_fold_no_symbols);
	TEST_RUN(test_fold_case);
	TEST_RUN(test_fold_invalid);
	TEST_RUN(test_fold_truncate);
	TEST_RUN(test_html);
	TEST_RUN(test_extract_simple);
	TEST_RUN(test_extract_raw_jis);
	TEST_RUN(test_extract_limits);
	TEST_RUN(test_extract_corpus);
	return test_finish();
}
