/* rfc2047.c: encoded-word decoding for header values.
 * Traps: the decoded bytes of consecutive same-charset words are gathered in one buffer and
 * converted once (a multibyte character may straddle two words); the whitespace between two
 * encoded words is dropped but whitespace next to plain text is kept; every scan is linear
 * (a candidate that turns out malformed is skipped by its "=?" only). */
#include "rfc2047.h"

#include <string.h>
#include <strings.h>

#include "lib/xmalloc.h"
#include "mail/charset.h"

#define RFC2047_CHARSET_MAX 64

struct rfc2047_word {
	size_t start, end;             /* the whole "=?...?=" in the input */
	const unsigned char *charset;  /* without the "*lang" suffix */
	size_t charset_len;
	unsigned char enc;             /* 'B' or 'Q' */
	const unsigned char *text;
	size_t text_len;
};

static bool rfc2047_is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int rfc2047_hex(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int rfc2047_b64(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Where the encoded text starting at `from` ends: the first whitespace or "?=" at or after it.
 * Candidates come in increasing order, so the last answer is reused while it still holds;
 * without that, "=?a?q?x=?a?q?x..." would be rescanned to its end once per candidate. */
struct rfc2047_term {
	size_t from, at; /* no terminator in [from, at); at == len: none at all */
	bool valid;
};

static size_t rfc2047_text_end(const unsigned char *s, size_t len, size_t from,
			       struct rfc2047_term *memo)
{
	if (memo->valid && from >= memo->from && from <= memo->at)
		return memo->at;
	size_t p = from;
	while (p < len && !rfc2047_is_space(s[p]) && !(s[p] == '?' && p + 1 < len && s[p + 1] == '='))
		p++;
	memo->from = from;
	memo->at = p;
	memo->valid = true;
	return p;
}

/* An encoded word starting at s[i] ("=?"), or false. */
static bool rfc2047_parse_word(const unsigned char *s, size_t len, size_t i,
			       struct rfc2047_term *memo, struct rfc2047_word *w)
{
	size_t p = i + 2, cs = p;
	while (p < len && s[p] != '?' && !rfc2047_is_space(s[p]) && p - cs <= RFC2047_CHARSET_MAX)
		p++;
	if (p >= len || s[p] != '?' || p == cs || p - cs > RFC2047_CHARSET_MAX)
		return false;
	size_t cs_end = p;
	const unsigned char *star = memchr(s + cs, '*', cs_end - cs);
	if (star != NULL)
		cs_end = (size_t)(star - s);
	if (cs_end == cs)
		return false;
	p++;
	if (p + 1 >= len || s[p + 1] != '?')
		return false;
	unsigned char enc = s[p];
	if (enc == 'b' || enc == 'q')
		enc = (unsigned char)(enc - 'a' + 'A');
	if (enc != 'B' && enc != 'Q')
		return false;
	p += 2;
	size_t ts = p;
	p = rfc2047_text_end(s, len, p, memo);
	if (p + 1 >= len || s[p] != '?' || s[p + 1] != '=')
		return false;
	w->start = i;
	w->end = p + 2;
	w->charset = s + cs;
	w->charset_len = cs_end - cs;
	w->enc = enc;
	w->text = s + ts;
	w->text_len = p - ts;
	return true;
}

static void rfc2047_decode_text(struct buf *dst, const struct rfc2047_word *w)
{
	const unsigned char *t = w->text;
	size_t n = w->text_len;
	if (w->enc == 'Q') {
		for (size_t i = 0; i < n; i++) {
			int h1, h2;
			if (t[i] == '_') {
				buf_append_byte(dst, ' ');
			} else if (t[i] == '=' && i + 2 < n && (h1 = rfc2047_hex(t[i + 1])) >= 0 &&
				   (h2 = rfc2047_hex(t[i + 2])) >= 0) {
				buf_append_byte(dst, (unsigned char)(h1 << 4 | h2));
				i += 2;
			} else {
				buf_append_byte(dst, t[i]);
			}
		}
		return;
	}
	unsigned int acc = 0, bits = 0;
	for (size_t i = 0; i < n; i++) {
		if (t[i] == '=')
			break;
		int v = rfc2047_b64(t[i]);
		if (v < 0)
			continue;
		acc = (acc << 6 | (unsigned int)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf_append_byte(dst, (unsigned char)(acc >> bits));
		}
	}
}

/* Plain text between encoded words. */
static int rfc2047_plain(struct buf *out, const unsigned char *s, size_t len, const char *fallback)
{
	bool esc = false, high = false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == 0x1b)
			esc = true;
		else if (s[i] >= 0x80)
			high = true;
	}
	if (esc && !high)
		return charset_to_utf8(out, "iso-2022-jp", 11, s, len);
	if (!high || charset_utf8_valid(s, len))
		return buf_append(out, s, len);
	if (fallback != NULL)
		return charset_to_utf8(out, fallback, strlen(fallback), s, len);
	return charset_utf8_sanitize(out, s, len);
}

struct rfc2047_pending {
	struct buf bytes;
	const unsigned char *charset;
	size_t charset_len;
};

static int rfc2047_flush(struct buf *out, struct rfc2047_pending *pend)
{
	if (pend->charset == NULL)
		return 0;
	int r = charset_to_utf8(out, (const char *)pend->charset, pend->charset_len,
				pend->bytes.data, pend->bytes.len);
	buf_reset(&pend->bytes);
	pend->charset = NULL;
	return r;
}

int rfc2047_decode(struct buf *out, const void *sv, size_t len, const char *fallback)
{
	const unsigned char *s = sv;
	struct rfc2047_pending pend = { .charset = NULL };
	struct rfc2047_term memo = { .valid = false };
	size_t start_len = out->len, plain = 0;
	int replaced = 0, r = 0;

	/* decoded bytes are never longer than the encoded text */
	buf_init(&pend.bytes, len + 1);
	for (size_t i = 0; i + 1 < len && r >= 0;) {
		struct rfc2047_word w;
		if (s[i] != '=' || s[i + 1] != '?' || !rfc2047_parse_word(s, len, i, &memo, &w)) {
			i++;
			continue;
		}
		/* text between the last output point and this word */
		bool only_space = true;
		for (size_t k = plain; k < w.start; k++) {
			if (!rfc2047_is_space(s[k])) {
				only_space = false;
				break;
			}
		}
		if (!(only_space && pend.charset != NULL)) {
			if ((r = rfc2047_flush(out, &pend)) < 0)
				break;
			replaced |= r;
			if ((r = rfc2047_plain(out, s + plain, w.start - plain, fallback)) < 0)
				break;
			replaced |= r;
		}
		if (pend.charset != NULL && (pend.charset_len != w.charset_len ||
					     strncasecmp((const char *)pend.charset,
							 (const char *)w.charset, w.charset_len) != 0)) {
			if ((r = rfc2047_flush(out, &pend)) < 0)
				break;
			replaced |= r;
		}
		pend.charset = w.charset;
		pend.charset_len = w.charset_len;
		rfc2047_decode_text(&pend.bytes, &w);
		i = plain = w.end;
	}
	if (r >= 0 && (r = rfc2047_flush(out, &pend)) >= 0) {
		replaced |= r;
		if ((r = rfc2047_plain(out, s + plain, len - plain, fallback)) >= 0)
			replaced |= r;
	}
	buf_free(&pend.bytes);
	if (r < 0) {
		if (out->data != NULL) {
			out->len = start_len;
			out->data[start_len] = '\0';
		}
		return -1;
	}
	return replaced;
}
