/* test-decode.c: unit tests for the Content-Transfer-Encoding decoders, whole and fed one byte
 * at a time (the results must agree), with the RFC 2045 6.7 rules spelled out case by case. */
#include "lib/buf.h"
#include "lib/test.h"
#include "mail/decode.h"

/* Decode whole, then byte by byte; both must give want. */
static int dec_is(enum mime_encoding enc, unsigned int flags, const char *in, size_t inlen,
		  const char *want, size_t wantlen)
{
	struct buf a, b;
	struct decode_state st;
	int ok = 1;
	buf_init(&a, 1 << 20);
	buf_init(&b, 1 << 20);
	if (decode_all(&a, enc, flags, in, inlen) != 0)
		ok = 0;
	decode_init(&st, enc, flags);
	for (size_t i = 0; i < inlen; i++) {
		if (decode_feed(&st, &b, in + i, 1) != 0)
			ok = 0;
	}
	decode_finish(&st, &b);
	uint64_t size = 0;
	if (decode_size(enc, flags, in, inlen, &size) != 0 || size != wantlen)
		ok = 0;
	if (a.len != wantlen || b.len != wantlen ||
	    (wantlen > 0 && (memcmp(a.data, want, wantlen) != 0 || memcmp(b.data, want, wantlen) != 0)))
		ok = 0;
	if (!ok)
		printf("  '%.*s': whole '%.*s', bytewise '%.*s', size %llu, want '%.*s'\n",
		       (int)inlen, in, (int)a.len, a.data ? (char *)a.data : "", (int)b.len,
		       b.data ? (char *)b.data : "", (unsigned long long)size, (int)wantlen, want);
	buf_free(&a);
	buf_free(&b);
	return ok;
}
#define DEC(enc, flags, in, want) dec_is(enc, flags, in, sizeof(in) - 1, want, sizeof(want) - 1)

static void test_decode_names(void)
{
	CHECK(decode_encoding_parse(NULL, 0) == MIME_ENC_7BIT);
	CHECK(decode_encoding_parse("", 0) == MIME_ENC_7BIT);
	CHECK(decode_encoding_parse("BASE64", 6) == MIME_ENC_BASE64);
	CHECK(decode_encoding_parse(" Quoted-Printable ", 18) == MIME_ENC_QP);
	CHECK(decode_encoding_parse("8bit", 4) == MIME_ENC_8BIT);
	CHECK(decode_encoding_parse("binary", 6) == MIME_ENC_BINARY);
	CHECK(decode_encoding_parse("7BIT", 4) == MIME_ENC_7BIT);
	CHECK(decode_encoding_parse("x-uuencode", 10) == MIME_ENC_UNKNOWN);
	CHECK(decode_encoding_parse("base6", 5) == MIME_ENC_UNKNOWN);
	struct decode_state st;
	CHECK(decode_init(&st, MIME_ENC_UNKNOWN, 0) == -1);
	uint64_t size;
	CHECK(decode_size(MIME_ENC_UNKNOWN, 0, "x", 1, &size) == -1);
	struct buf b;
	buf_init(&b, 10);
	CHECK(decode_all(&b, MIME_ENC_UNKNOWN, 0, "x", 1) == -1);
	buf_free(&b);
}

static void test_decode_base64(void)
{
	CHECK(DEC(MIME_ENC_BASE64, 0, "", ""));
	CHECK(DEC(MIME_ENC_BASE64, 0, "aGVsbG8gd29ybGQ=", "hello world"));
	CHECK(DEC(MIME_ENC_BASE64, 0, "aGVs\r\nbG8g\r\nd29y\r\nbGQ=\r\n", "hello world"));
	CHECK(DEC(MIME_ENC_BASE64, 0, "aGVsbG8", "hello"));       /* no padding */
	CHECK(DEC(MIME_ENC_BASE64, 0, "aGVsbG8=", "hello"));
	CHECK(DEC(MIME_ENC_BASE64, 0, " a G V s\tbG8*!", "hello")); /* garbage skipped */
	CHECK(DEC(MIME_ENC_BASE64, 0, "aGk=aGk=", "hi"));          /* stops at "=" */
	CHECK(DEC(MIME_ENC_BASE64, 0, "YQ==\r\n-- \r\nsig", "a"));
	CHECK(DEC(MIME_ENC_BASE64, 0, "Y", ""));                   /* 6 bits: nothing */
	CHECK(DEC(MIME_ENC_BASE64, 0, "AP8A/w==", "\0\xff\0\xff"));
	/* text: LF -> CRLF, CRLF kept */
	CHECK(DEC(MIME_ENC_BASE64, DECODE_FLAG_CRLF, "YQpiDQpjCg==", "a\r\nb\r\nc\r\n"));
	CHECK(DEC(MIME_ENC_BASE64, 0, "YQpiDQpjCg==", "a\nb\r\nc\n"));
}

static void test_decode_qp(void)
{
	CHECK(DEC(MIME_ENC_QP, 0, "", ""));
	CHECK(DEC(MIME_ENC_QP, 0, "caf=C3=A9", "caf\xc3\xa9"));
	CHECK(DEC(MIME_ENC_QP, 0, "caf=c3=a9", "caf\xc3\xa9"));      /* lowercase hex */
	CHECK(DEC(MIME_ENC_QP, 0, "soft=\r\nbreak", "softbreak"));
	CHECK(DEC(MIME_ENC_QP, 0, "soft=\nbreak", "softbreak"));
	CHECK(DEC(MIME_ENC_QP, 0, "soft=  \r\nbreak", "softbreak")); /* WSP after "=" */
	CHECK(DEC(MIME_ENC_QP, 0, "trail  \r\nx", "trail\r\nx"));     /* rule 3 */
	CHECK(DEC(MIME_ENC_QP, 0, "trail \t\nx", "trail\nx"));
	CHECK(DEC(MIME_ENC_QP, 0, "end  ", "end"));
	CHECK(DEC(MIME_ENC_QP, 0, "in  side", "in  side"));
	CHECK(DEC(MIME_ENC_QP, 0, "a=20\r\n", "a \r\n"));             /* encoded space stays */
	CHECK(DEC(MIME_ENC_QP, 0, "bad=zz=", "bad=zz"));              /* bad "=": kept */
	CHECK(DEC(MIME_ENC_QP, 0, "bad=4", "bad=4"));
	CHECK(DEC(MIME_ENC_QP, 0, "bad=4x", "bad=4x"));
	CHECK(DEC(MIME_ENC_QP, 0, "bad= x", "bad= x"));
	CHECK(DEC(MIME_ENC_QP, 0, "a=\rb", "a=\rb"));
	CHECK(DEC(MIME_ENC_QP, 0, "a\rb", "a\rb"));
	CHECK(DEC(MIME_ENC_QP, 0, "a \r b", "a \r b"));
	CHECK(DEC(MIME_ENC_QP, 0, "end=", "end"));
	CHECK(DEC(MIME_ENC_QP, 0, "end= \r", "end"));
	CHECK(DEC(MIME_ENC_QP, 0, "a=3D=\r\n=3Db", "a==b"));
	CHECK(DEC(MIME_ENC_QP, DECODE_FLAG_CRLF, "a\nb=0A", "a\r\nb\r\n"));
	CHECK(DEC(MIME_ENC_QP, DECODE_FLAG_CRLF, "a\r\nb=0D=0A", "a\r\nb\r\n"));
}

static void test_decode_identity(void)
{
	CHECK(DEC(MIME_ENC_7BIT, 0, "a\nb\r\n", "a\nb\r\n"));
	CHECK(DEC(MIME_ENC_8BIT, DECODE_FLAG_CRLF, "a\nb\r\n\n", "a\r\nb\r\n\r\n"));
	CHECK(DEC(MIME_ENC_BINARY, 0, "\0\xff\n", "\0\xff\n"));
}

static void test_decode_limits(void)
{
	/* a huge WSP run is not held forever */
	char in[1000];
	memset(in, ' ', sizeof(in));
	in[sizeof(in) - 1] = 'x';
	struct buf b;
	buf_init(&b, 1 << 16);
	CHECK(decode_all(&b, MIME_ENC_QP, 0, in, sizeof(in)) == 0);
	CHECK(b.len == sizeof(in));
	buf_free(&b);

	/* feed refuses when the worst case does not fit, leaving everything unchanged */
	struct decode_state st;
	buf_init(&b, 200);
	decode_init(&st, MIME_ENC_QP, 0);
	CHECK(decode_feed(&st, &b, "abc", 3) == 0);
	CHECK(decode_feed(&st, &b, in, 100) == -1);
	CHECK(b.len == 3);
	buf_free(&b);
	buf_init(&b, 2);
	CHECK(decode_all(&b, MIME_ENC_7BIT, 0, "abc", 3) == -1);
	CHECK(b.len == 0);
	buf_free(&b);
	/* an output buffer of exactly the decoded size is enough */
	uint64_t size;
	static const char qp[] = "caf=C3=A9 =\r\nx  \r\n";
	CHECK(decode_size(MIME_ENC_QP, DECODE_FLAG_CRLF, qp, sizeof(qp) - 1, &size) == 0);
	CHECK(size == 9);
	buf_init(&b, size);
	CHECK(decode_all(&b, MIME_ENC_QP, DECODE_FLAG_CRLF, qp, sizeof(qp) - 1) == 0);
	CHECK_MEM(b.data, b.len, "caf\xc3\xa9 x\r\n", 9);
	buf_free(&b);
	buf_init(&b, size - 1);
	CHECK(decode_all(&b, MIME_ENC_QP, DECODE_FLAG_CRLF, qp, sizeof(qp) - 1) == -1);
	CHECK(b.len == 0);
	buf_free(&b);
}

int main(void)
{
	TEST_RUN(test_decode_names);
	TEST_RUN(test_decode_base64);
	TEST_RUN(test_decode_qp);
	TEST_RUN(test_decode_identity);
	TEST_RUN(test_decode_limits);
	return test_finish();
}
