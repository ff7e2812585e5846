/* test-lmtp-data.c: unit tests for the DATA decoder (lmtp-data.h). Fixed cases for each rule
 * (end marker, dot-unstuffing, bare LF and CR, smuggling attempts, raw mode), then a
 * differential test: many random messages over the alphabet ". CR LF a", decoded whole and in
 * chunks of 1..7 bytes with output buffers of 2..5 bytes, must equal a plain reference
 * implementation that works on the whole input at once. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/test.h"
#include "lmtp/lmtp-data.h"

struct decoded {
	unsigned char out[4096];
	size_t out_len;
	size_t consumed; /* input bytes up to and including the end marker */
	bool ended;
};

/* Run the decoder over input in chunks (0: whole) with an output buffer of out_size bytes. */
static void decode(const unsigned char *in, size_t len, size_t chunk, size_t out_size, bool raw,
		   struct decoded *d)
{
	struct lmtp_data st;
	lmtp_data_init(&st, raw);
	memset(d, 0, sizeof(*d));
	size_t pos = 0;
	while (pos < len && !d->ended) {
		size_t avail = chunk == 0 || len - pos < chunk ? len - pos : chunk;
		size_t cpos = 0;
		while (cpos < avail) {
			unsigned char tmp[64];
			size_t used = 0, n = 0;
			int r = lmtp_data_decode(&st, in + pos + cpos, avail - cpos, &used, tmp,
						 out_size, &n);
			CHECK(n <= out_size);
			CHECK(used <= avail - cpos);
			if (d->out_len + n > sizeof(d->out)) {
				CHECK(!"output overflow");
				return;
			}
			memcpy(d->out + d->out_len, tmp, n);
			d->out_len += n;
			cpos += used;
			if (r == 1) {
				d->ended = true;
				break;
			}
			if (used == 0 && n == 0) {
				CHECK(!"no progress");
				return;
			}
		}
		pos += cpos;
	}
	d->consumed = pos;
	if (raw) {
		unsigned char tail[2];
		size_t n = lmtp_data_finish(&st, tail);
		memcpy(d->out + d->out_len, tail, n);
		d->out_len += n;
	}
}

/* The reference: find CRLF "." CRLF (the message starts as if after a CRLF), unstuff every
 * CRLF-delimited line, then turn each bare LF into CRLF. */
static void reference(const unsigned char *in, size_t len, bool raw, struct decoded *d)
{
	memset(d, 0, sizeof(*d));
	size_t end = len, msg_len = len;
	if (!raw) {
		/* "\r\n" + in, searched for "\r\n.\r\n" */
		static unsigned char tmp[4200];
		tmp[0] = '\r';
		tmp[1] = '\n';
		memcpy(tmp + 2, in, len);
		for (size_t i = 0; i + 5 <= len + 2; i++) {
			if (memcmp(tmp + i, "\r\n.\r\n", 5) == 0) {
				d->ended = true;
				/* the CRLF belongs to the message (none for an empty one) */
				msg_len = i;          /* == i + 2 - 2 in input terms */
				end = i + 3;          /* ".\r\n" after it */
				break;
			}
		}
	}
	d->consumed = d->ended ? end : len;
	size_t o = 0, i = 0;
	bool line_start = true;
	while (i < msg_len) {
		unsigned char c = in[i];
		if (!raw && line_start && c == '.') {
			i++;
			line_start = false;
			continue;
		}
		line_start = false;
		if (c == '\r' && i + 1 < msg_len && in[i + 1] == '\n') {
			d->out[o++] = '\r';
			d->out[o++] = '\n';
			i += 2;
			line_start = true;
			continue;
		}
		if (c == '\n') {
			d->out[o++] = '\r';
			d->out[o++] = '\n';
			i++;
			continue;
		}
		d->out[o++] = c;
		i++;
	}
	d->out_len = o;
}

static void check_case(const char *in, size_t len, bool raw, const char *want, size_t want_len,
		       bool want_end, size_t want_consumed)
{
	size_t out_sizes[] = {2, 3, 4, 5, 64};
	for (size_t chunk = 0; chunk <= 7; chunk++) {
		for (size_t k = 0; k < sizeof(out_sizes) / sizeof(out_sizes[0]); k++) {
			struct decoded d;
			decode((const unsigned char *)in, len, chunk, out_sizes[k], raw, &d);
			CHECK_MEM(d.out, d.out_len, want, want_len);
			CHECK(d.ended == want_end);
			if (want_end)
				CHECK(d.consumed == want_consumed);
		}
	}
}

#define CASE(in, want, end, consumed) \
	check_case(in, sizeof(in) - 1, false, want, sizeof(want) - 1, end, consumed)
#define RAW(in, want) check_case(in, sizeof(in) - 1, true, want, sizeof(want) - 1, false, 0)

static void test_end_marker(void)
{
	CASE(".\r\n", "", true, 3);
	CASE(".\r\nNOOP\r\n", "", true, 3);
	CASE("a\r\n.\r\n", "a\r\n", true, 6);
	CASE("a\r\n.\r\nQUIT\r\n", "a\r\n", true, 6);
	CASE("Subject: x\r\n\r\nbody\r\n.\r\n", "Subject: x\r\n\r\nbody\r\n", true, 23);
	/* not the end: more on the line, or not at a line start */
	CASE("a.\r\n.\r\n", "a.\r\n", true, 7);
	CASE("a\r\n. \r\n.\r\n", "a\r\n \r\n", true, 10);
	/* no end yet */
	CASE("a\r\n.\r", "a\r\n", false, 0);
	CASE("a\r\n.", "a\r\n", false, 0);
	CASE("a\r", "a", false, 0);
}

static void test_dot_stuffing(void)
{
	CASE("..\r\n.\r\n", ".\r\n", true, 7);
	CASE("...\r\n.\r\n", "..\r\n", true, 8);
	CASE(".x\r\n.\r\n", "x\r\n", true, 7);
	CASE("a\r\n..b.\r\n.\r\n", "a\r\n.b.\r\n", true, 12);
	/* "." CR followed by something else: the dot goes, the CR is bare */
	CASE(".\rx\r\n.\r\n", "\rx\r\n", true, 8);
	CASE(".\r\r\n.\r\n", "\r\r\n", true, 7);
}

static void test_bare_lf_cr(void)
{
	/* a bare LF becomes CRLF but starts no line: none of these ends the data */
	CASE("a\n.\nb\r\n.\r\n", "a\r\n.\r\nb\r\n", true, 10);
	CASE("a\n.\r\nb\r\n.\r\n", "a\r\n.\r\nb\r\n", true, 11);
	CASE("a\r\n.\nb\r\n.\r\n", "a\r\n\r\nb\r\n", true, 11);
	/* SMTP smuggling: "\n.\r\n" then a fake MAIL stays message content */
	CASE("x\n.\r\nMAIL FROM:<e@v>\r\n.\r\n", "x\r\n.\r\nMAIL FROM:<e@v>\r\n", true, 25);
	/* a bare CR is kept, also doubled and before CRLF */
	CASE("a\rb\r\n.\r\n", "a\rb\r\n", true, 8);
	CASE("a\r\rb\r\n.\r\n", "a\r\rb\r\n", true, 9);
	CASE("a\r\r\n.\r\n", "a\r\r\n", true, 7);
	/* 8-bit and NUL bytes pass through */
	CASE("\xe4\xbc\x9a\0\xff\r\n.\r\n", "\xe4\xbc\x9a\0\xff\r\n", true, 10);
}

static void test_raw(void)
{
	RAW("", "");
	RAW("a\nb\n", "a\r\nb\r\n");
	RAW("a\r\nb\r\n", "a\r\nb\r\n");
	RAW(".\n..\n", ".\r\n..\r\n");
	RAW("a\r", "a\r");
	RAW("a\rb", "a\rb");
	RAW("a\r\r\n", "a\r\r\n");
	RAW("x\n.\r\nMAIL\n", "x\r\n.\r\nMAIL\r\n");
}

static void test_random_differential(void)
{
	static const unsigned char alphabet[] = {'.', '\r', '\n', 'a'};
	unsigned seed = 12345;
	size_t out_sizes[] = {2, 3, 5, 4096};
	for (int iter = 0; iter < 20000; iter++) {
		unsigned char in[64];
		seed = seed * 1103515245 + 12345;
		size_t len = (seed >> 16) % 40;
		for (size_t i = 0; i < len; i++) {
			seed = seed * 1103515245 + 12345;
			in[i] = alphabet[(seed >> 16) % 4];
		}
		bool raw = iter % 5 == 4;
		struct decoded want;
		reference(in, len, raw, &want);
		for (size_t chunk = 0; chunk <= 7; chunk += (iter % 3 == 0 ? 1 : 3)) {
			for (size_t k = 0; k < sizeof(out_sizes) / sizeof(out_sizes[0]); k++) {
				struct decoded got;
				decode(in, len, chunk, out_sizes[k], raw, &got);
				CHECK(got.ended == want.ended);
				if (got.ended) {
					CHECK(got.consumed == want.consumed);
					CHECK_MEM(got.out, got.out_len, want.out, want.out_len);
				} else if (raw) {
					CHECK_MEM(got.out, got.out_len, want.out, want.out_len);
				} else {
					/* without an end only a held-back CR or "." (and what follows
					 * it: ".\r") may be missing */
					CHECK(got.out_len <= want.out_len);
					CHECK(memcmp(got.out, want.out, got.out_len) == 0);
				}
				if (test_cur_failed) {
					printf("  input (%zu bytes, raw %d, chunk %zu, out %zu):", len,
					       raw, chunk, out_sizes[k]);
					for (size_t i = 0; i < len; i++)
						printf(" %02x", in[i]);
					printf("\n");
					return;
				}
			}
		}
	}
}

int main(void)
{
	TEST_RUN(test_end_marker);
	TEST_RUN(test_dot_stuffing);
	TEST_RUN(test_bare_lf_cr);
	TEST_RUN(test_raw);
	TEST_RUN(test_random_differential);
	return test_finish();
}
