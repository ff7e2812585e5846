/* test-charset.c: unit tests for charset conversion (charset.h) and RFC 2047 decoding
 * (rfc2047.h), the Japanese cases of DESIGN.md first. Expected bytes come from Python's codecs
 * (iso2022_jp, cp932, euc_jp) and the JIS X 0208 tables, not from this code. */
#include <stdlib.h>

#include "lib/buf.h"
#include "lib/test.h"
#include "mail/charset.h"
#include "mail/rfc2047.h"

#define U_KAIGI "\xe4\xbc\x9a\xe8\xad\xb0"           /* 会議 */
#define U_KONNICHIWA "\xe3\x81\x93\xe3\x82\x93\xe3\x81\xab\xe3\x81\xa1\xe3\x81\xaf"
#define U_MARU1 "\xe2\x91\xa0"                       /* ① */
#define U_KABU "\xe3\x88\xb1"                        /* ㈱ */
#define U_TAKA "\xe9\xab\x99"                        /* 髙 */
#define U_WAVE "\xef\xbd\x9e"                        /* ～ (U+FF5E, as Windows decodes) */
#define U_HW_A "\xef\xbd\xb1"                        /* ｱ */
#define U_FFFD "\xef\xbf\xbd"

static int conv_is(const char *charset, const char *in, size_t inlen, const char *want, int ret)
{
	struct buf b;
	buf_init(&b, 1 << 20);
	int r = charset_to_utf8(&b, charset, charset == NULL ? 0 : strlen(charset), in, inlen);
	int ok = r == ret && b.len == strlen(want) && (b.len == 0 || memcmp(b.data, want, b.len) == 0);
	if (!ok)
		printf("  %s: got %d '%.*s', want %d '%s'\n", charset ? charset : "(null)", r,
		       (int)b.len, b.data ? (const char *)b.data : "", ret, want);
	buf_free(&b);
	return ok;
}
#define CONV(cs, lit, want, ret) conv_is(cs, lit, sizeof(lit) - 1, want, ret)

static void test_charset_basic(void)
{
	CHECK(CONV("utf-8", "abc " U_KAIGI, "abc " U_KAIGI, 0));
	CHECK(CONV("UTF-8", "a\xff" "b", "a" U_FFFD "b", 1));
	CHECK(CONV("us-ascii", "plain", "plain", 0));
	CHECK(CONV(NULL, "plain", "plain", 0));
	CHECK(CONV("utf-8", "\xed\xa0\x80", U_FFFD U_FFFD U_FFFD, 1)); /* a surrogate */
	CHECK(CONV("utf-8", "\xc0\xaf", U_FFFD U_FFFD, 1));             /* overlong */
	/* iso-8859-1 is read as windows-1252 */
	CHECK(CONV("ISO-8859-1", "caf\xe9 \x80", "caf\xc3\xa9 \xe2\x82\xac", 0));
	CHECK(CONV("koi8-r", "\xf0\xd2\xc9\xd7\xc5\xd4",
		   "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82", 0));
	/* unknown or unusable labels fall back to UTF-8 with replacements, reported as 1 */
	CHECK(CONV("x-no-such-charset", "ok " U_KAIGI, "ok " U_KAIGI, 1));
	CHECK(CONV("utf-8//TRANSLIT", "ok", "ok", 1));
	CHECK(CONV("\"utf-8\"", "ok", "ok", 0));
	CHECK(CONV(" utf-8 ", "ok", "ok", 0));
	CHECK(CONV("utf-8", "", "", 0));
}

static void test_charset_japanese(void)
{
	/* ISO-2022-JP */
	CHECK(CONV("iso-2022-jp", "\x1b$B2q5D\x1b(B", U_KAIGI, 0));
	CHECK(CONV("ISO-2022-JP", "a\x1b$B$3$s$K$A$O\x1b(Bb", "a" U_KONNICHIWA "b", 0));
	/* CP50220 extensions: NEC row 13, NEC-selected IBM row 92, the wave dash */
	CHECK(CONV("iso-2022-jp", "\x1b$B-!-j|b!A\x1b(B", U_MARU1 U_KABU U_TAKA U_WAVE, 0));
	/* half-width katakana: ESC ( I and SO/SI */
	CHECK(CONV("iso-2022-jp", "\x1b(I123\x1b(B", U_HW_A "\xef\xbd\xb2\xef\xbd\xb3", 0));
	CHECK(CONV("iso-2022-jp", "x\x0e" "1\x0fy", "x" U_HW_A "y", 0));
	/* JIS X 0212 (ISO-2022-JP-1): 0x2237 is U+FF5E in EUC-JP-MS, 0x3021 is 丂 (U+4E02) */
	CHECK(CONV("iso-2022-jp-1", "\x1b$(D0!\x1b(B", "\xe4\xb8\x82", 0));
	/* ESC ( J roman, ESC $ @ old JIS: read as ASCII and JIS X 0208 */
	CHECK(CONV("iso-2022-jp", "\x1b(Jabc\x1b$@2q\x1b(B", "abc\xe4\xbc\x9a", 0));
	/* a bad byte in the middle: replaced, the rest of the line survives */
	CHECK(CONV("iso-2022-jp", "\x1b$B2q\x80" "5D\x1b(B tail",
		   "\xe4\xbc\x9a" U_FFFD "\xe8\xad\xb0 tail", 1));
	/* an odd byte at the end of a kanji run, and an unknown escape */
	CHECK(CONV("iso-2022-jp", "\x1b$B2q5", "\xe4\xbc\x9a" U_FFFD, 1));
	CHECK(CONV("iso-2022-jp", "a\x1bzb", "a" U_FFFD "zb", 1));
	/* missing ESC ( B at the end is fine; raw Shift_JIS in an ISO-2022-JP body is decoded */
	CHECK(CONV("iso-2022-jp", "\x1b$B2q5D", U_KAIGI, 0));
	CHECK(CONV("iso-2022-jp", "\x89\xef\x8b" "c", U_KAIGI, 0));
	/* ISO-2022-JP-2 designations only glibc knows: the input goes to glibc (ESC . A + ESC N) */
	CHECK(CONV("iso-2022-jp-2", "\x1b.A\x1bNi", "\xc3\xa9", 0));

	/* Shift_JIS labels decode as CP932 */
	CHECK(CONV("Shift_JIS", "\x89\xef\x8b" "c", U_KAIGI, 0));
	CHECK(CONV("shift_jis", "\x87@\x87\x8a\xfb\xfc\x81`", U_MARU1 U_KABU U_TAKA U_WAVE, 0));
	CHECK(CONV("sjis", "\xb1", U_HW_A, 0));
	CHECK(CONV("windows-31j", "\x89\xef\x8b" "c", U_KAIGI, 0));
	/* a lead byte followed by ASCII, and 0xFF: replaced, text after survives */
	CHECK(CONV("shift_jis", "a\xff" "b\x89", "a" U_FFFD "b" U_FFFD, 1));
	/* EUC-JP labels decode as EUC-JP-MS (NEC row 13 included) */
	CHECK(CONV("euc-jp", "\xb2\xf1\xb5\xc4\xad\xa1", U_KAIGI U_MARU1, 0));
}

static void test_charset_utf8_helpers(void)
{
	CHECK(charset_utf8_valid("", 0));
	CHECK(charset_utf8_valid(U_KAIGI, 6));
	CHECK(!charset_utf8_valid(U_KAIGI, 5));
	CHECK(!charset_utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
	CHECK(charset_utf8_valid("\xf4\x8f\xbf\xbf", 4));
	CHECK(charset_utf8_seq_len((const unsigned char *)"\xe0\x80\x80", 3) == 0);
	struct buf b;
	buf_init(&b, 4);
	CHECK(charset_utf8_sanitize(&b, "a\xff", 2) == 1); /* needs 4 bytes: fits */
	buf_free(&b);
	buf_init(&b, 3);
	CHECK(charset_utf8_sanitize(&b, "a\xff", 2) == -1);
	CHECK(b.len == 0);
	CHECK(charset_append_utf8(&b, 0x41) == 0);
	CHECK(charset_append_utf8(&b, 0x20ac) == -1);
	buf_free(&b);
	buf_init(&b, 100);
	CHECK(charset_append_utf8(&b, 0x1f600) == 0);
	CHECK_MEM(b.data, b.len, "\xf0\x9f\x98\x80", 4);
	buf_free(&b);
	/* a full buffer leaves out unchanged */
	buf_init(&b, 4);
	buf_append(&b, "xy", 2);
	CHECK(charset_to_utf8(&b, "shift_jis", 9, "\x89\xef\x8b" "c", 4) == -1);
	CHECK_MEM(b.data, b.len, "xy", 2);
	CHECK(charset_to_utf8(&b, "iso-2022-jp", 11, "\x1b$B2q5D\x1b(B", 10) == -1);
	CHECK_MEM(b.data, b.len, "xy", 2);
	buf_free(&b);
}

static int dec_is(const char *in, const char *fallback, const char *want, int ret)
{
	struct buf b;
	buf_init(&b, 1 << 20);
	int r = rfc2047_decode(&b, in, strlen(in), fallback);
	int ok = r == ret && b.len == strlen(want) && (b.len == 0 || memcmp(b.data, want, b.len) == 0);
	if (!ok)
		printf("  '%s': got %d '%.*s', want %d '%s'\n", in, r, (int)b.len,
		       b.data ? (const char *)b.data : "", ret, want);
	buf_free(&b);
	return ok;
}

static void test_rfc2047(void)
{
	CHECK(dec_is("plain text", NULL, "plain text", 0));
	CHECK(dec_is("=?UTF-8?Q?Jos=C3=A9_Mar=c3=ada?=", NULL, "Jos\xc3\xa9 Mar\xc3\xad" "a", 0));
	CHECK(dec_is("=?utf-8?b?44GT44KT44Gr44Gh44Gv?=", NULL, U_KONNICHIWA, 0));
	CHECK(dec_is("=?ISO-2022-JP?B?GyRCMnE1RCROJCpDTiRpJDsbKEI=?=", NULL,
		     U_KAIGI "\xe3\x81\xae\xe3\x81\x8a\xe7\x9f\xa5\xe3\x82\x89\xe3\x81\x9b", 0));
	/* RFC 2047 section 8 examples */
	CHECK(dec_is("(=?ISO-8859-1?Q?a?=)", NULL, "(a)", 0));
	CHECK(dec_is("(=?ISO-8859-1?Q?a?= b)", NULL, "(a b)", 0));
	CHECK(dec_is("(=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)", NULL, "(ab)", 0));
	CHECK(dec_is("(=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?=)", NULL, "(ab)", 0));
	CHECK(dec_is("(=?ISO-8859-1?Q?a?=\r\n    =?ISO-8859-1?Q?b?=)", NULL, "(ab)", 0));
	CHECK(dec_is("(=?ISO-8859-1?Q?a_b?=)", NULL, "(a b)", 0));
	CHECK(dec_is("(=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=)", NULL, "(a b)", 0));
	/* a UTF-8 character split across two words is joined before conversion */
	CHECK(dec_is("=?UTF-8?B?44GT44K=?= =?UTF-8?B?k+OBqw==?=", NULL,
		     "\xe3\x81\x93\xe3\x82\x93\xe3\x81\xab", 0));
	/* a Shift_JIS pair split across two words (different encodings, one charset) */
	CHECK(dec_is("=?Shift_JIS?Q?=89?= =?shift_jis?B?74tj?=", NULL, U_KAIGI, 0));
	/* ISO-2022-JP words each with their escapes, joined */
	CHECK(dec_is("=?ISO-2022-JP?B?GyRCMnEbKEI=?= =?ISO-2022-JP?B?GyRCNUQbKEI=?=", NULL,
		     U_KAIGI, 0));
	/* language suffix (RFC 2231 section 5) */
	CHECK(dec_is("=?US-ASCII*EN?Q?Keith_Moore?=", NULL, "Keith Moore", 0));
	/* adjacent without space, inside a word */
	CHECK(dec_is("=?utf-8?q?a?==?utf-8?q?b?=", NULL, "ab", 0));
	CHECK(dec_is("x=?utf-8?q?a?=y", NULL, "xay", 0));
	/* text between words stays, with its whitespace */
	CHECK(dec_is("=?utf-8?q?a?= and =?utf-8?q?b?=", NULL, "a and b", 0));
}

static void test_rfc2047_broken(void)
{
	/* malformed words stay literal */
	CHECK(dec_is("=?utf-8?x?abc?=", NULL, "=?utf-8?x?abc?=", 0));
	CHECK(dec_is("=?utf-8?q?abc", NULL, "=?utf-8?q?abc", 0));
	CHECK(dec_is("=??q?abc?=", NULL, "=??q?abc?=", 0));
	CHECK(dec_is("=?utf-8?q?a b?=", NULL, "=?utf-8?q?a b?=", 0));
	CHECK(dec_is("=?", NULL, "=?", 0));
	CHECK(dec_is("a=?b", NULL, "a=?b", 0));
	/* bad base64 characters are skipped, missing padding tolerated */
	CHECK(dec_is("=?utf-8?b?44GT44KT4*4Gr?=", NULL, "\xe3\x81\x93\xe3\x82\x93\xe3\x81\xab", 0));
	CHECK(dec_is("=?utf-8?b?YWJj?=", NULL, "abc", 0));
	CHECK(dec_is("=?utf-8?b?YWI?=", NULL, "ab", 0));
	/* a bad Q escape is kept */
	CHECK(dec_is("=?utf-8?q?a=zz?=", NULL, "a=zz", 0));
	/* invalid bytes after decoding */
	CHECK(dec_is("=?utf-8?q?a=FFb?=", NULL, "a" U_FFFD "b", 1));
	/* unknown charset: treated as UTF-8 */
	CHECK(dec_is("=?x-unknown-cs?q?abc?=", NULL, "abc", 1));
	/* raw 8-bit text: UTF-8 kept, other bytes through the fallback or U+FFFD */
	CHECK(dec_is(U_KAIGI " =?utf-8?q?x?=", NULL, U_KAIGI " x", 0));
	CHECK(dec_is("\x89\xef\x8b" "c", "shift_jis", U_KAIGI, 0));
	CHECK(dec_is("\x89\xef", NULL, U_FFFD U_FFFD, 1));
	/* raw ISO-2022-JP in a header */
	CHECK(dec_is("Re: \x1b$B2q5D\x1b(B", NULL, "Re: " U_KAIGI, 0));
}

static void test_rfc2047_limits(void)
{
	struct buf b;
	buf_init(&b, 3);
	CHECK(rfc2047_decode(&b, "=?utf-8?q?abcd?=", 16, NULL) == -1);
	CHECK(b.len == 0);
	CHECK(rfc2047_decode(&b, "=?utf-8?q?abc?=", 15, NULL) == 0);
	CHECK_MEM(b.data, b.len, "abc", 3);
	buf_free(&b);

	/* many "=?" candidates without an end stay linear (this would take minutes if not) */
	size_t n = 1 << 20;
	char *s = malloc(n);
	for (size_t i = 0; i < n; i++)
		s[i] = "=?a?q?x"[i % 7];
	buf_init(&b, 4 * n);
	CHECK(rfc2047_decode(&b, s, n, NULL) == 0);
	CHECK(b.len == n);
	buf_free(&b);
	free(s);
}

int main(void)
{
	TEST_RUN(test_charset_basic);
	TEST_RUN(test_charset_japanese);
	TEST_RUN(test_charset_utf8_helpers);
	TEST_RUN(test_rfc2047);
	TEST_RUN(test_rfc2047_broken);
	TEST_RUN(test_rfc2047_limits);
	return test_finish();
}
