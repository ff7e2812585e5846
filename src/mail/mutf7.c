/* mutf7.c: modified UTF-7 <-> UTF-8.
 * Traps: canonical form is enforced on decode (padding bits zero, no encoded printable ASCII,
 * no empty or adjacent shifted runs) because a lenient decoder lets two spellings name one
 * mailbox; UTF-16 surrogates must pair exactly. */
#include "mutf7.h"

#include <stdint.h>
#include <string.h>

#include "mail/charset.h"

static const char mutf7_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int mutf7_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == ',')
		return 63;
	return -1;
}

static int mutf7_fail(struct buf *out, size_t start, const char **error_r, const char *error)
{
	if (out->data != NULL) {
		out->len = start;
		out->data[start] = '\0';
	}
	*error_r = error;
	return -1;
}

int mutf7_to_utf8(struct buf *out, const void *sv, size_t len, const char **error_r)
{
	const unsigned char *s = sv;
	size_t start = out->len;
	bool prev_shift = false; /* the previous input was a shifted run */

	for (size_t i = 0; i < len;) {
		unsigned char c = s[i];
		if (c < 0x20 || c > 0x7e)
			return mutf7_fail(out, start, error_r, "byte outside printable US-ASCII");
		if (c != '&') {
			if (buf_append_byte(out, c) < 0)
				return mutf7_fail(out, start, error_r, "name too long");
			prev_shift = false;
			i++;
			continue;
		}
		i++;
		if (i < len && s[i] == '-') {
			if (buf_append_byte(out, '&') < 0)
				return mutf7_fail(out, start, error_r, "name too long");
			prev_shift = false;
			i++;
			continue;
		}
		if (prev_shift)
			return mutf7_fail(out, start, error_r, "adjacent shifted runs");
		uint32_t acc = 0;
		unsigned int bits = 0, high = 0, units = 0;
		for (;;) {
			if (i >= len)
				return mutf7_fail(out, start, error_r, "unterminated shifted run");
			c = s[i++];
			if (c == '-')
				break;
			int v = mutf7_value(c);
			if (v < 0)
				return mutf7_fail(out, start, error_r, "bad base64 in shifted run");
			acc = (acc << 6 | (uint32_t)v) & 0xffffff;
			bits += 6;
			if (bits < 16)
				continue;
			bits -= 16;
			unsigned int u = (acc >> bits) & 0xffff;
			units++;
			unsigned int cp;
			if (high != 0) {
				if (u < 0xdc00 || u > 0xdfff)
					return mutf7_fail(out, start, error_r, "unpaired surrogate");
				cp = 0x10000 + ((high - 0xd800) << 10) + (u - 0xdc00);
				high = 0;
			} else if (u >= 0xd800 && u <= 0xdbff) {
				high = u;
				continue;
			} else if (u >= 0xdc00 && u <= 0xdfff) {
				return mutf7_fail(out, start, error_r, "unpaired surrogate");
			} else {
				cp = u;
			}
			if (cp == 0 || (cp >= 0x20 && cp <= 0x7e))
				return mutf7_fail(out, start, error_r,
						  "printable US-ASCII or NUL in a shifted run");
			if (charset_append_utf8(out, cp) < 0)
				return mutf7_fail(out, start, error_r, "name too long");
		}
		if (units == 0)
			return mutf7_fail(out, start, error_r, "empty shifted run");
		if (high != 0)
			return mutf7_fail(out, start, error_r, "unpaired surrogate");
		if (bits >= 6 || (acc & ((1u << bits) - 1)) != 0)
			return mutf7_fail(out, start, error_r, "non-canonical base64 padding");
		prev_shift = true;
	}
	return 0;
}

struct mutf7_enc {
	bool in_run;
	uint32_t acc;
	unsigned int bits;
};

static int mutf7_put_unit(struct buf *out, struct mutf7_enc *e, unsigned int u)
{
	if (!e->in_run) {
		if (buf_append_byte(out, '&') < 0)
			return -1;
		e->in_run = true;
		e->acc = 0;
		e->bits = 0;
	}
	e->acc = (e->acc << 16 | u) & 0xffffff;
	e->bits += 16;
	while (e->bits >= 6) {
		e->bits -= 6;
		if (buf_append_byte(out, (unsigned char)mutf7_alphabet[(e->acc >> e->bits) & 0x3f]) < 0)
			return -1;
	}
	return 0;
}

static int mutf7_end_run(struct buf *out, struct mutf7_enc *e)
{
	if (!e->in_run)
		return 0;
	e->in_run = false;
	if (e->bits > 0 &&
	    buf_append_byte(out, (unsigned char)mutf7_alphabet[(e->acc << (6 - e->bits)) & 0x3f]) < 0)
		return -1;
	return buf_append_byte(out, '-');
}

int mutf7_from_utf8(struct buf *out, const void *sv, size_t len, const char **error_r)
{
	const unsigned char *s = sv;
	size_t start = out->len;
	struct mutf7_enc e = { .in_run = false };

	for (size_t i = 0; i < len;) {
		unsigned char c = s[i];
		if (c >= 0x20 && c <= 0x7e) {
			if (mutf7_end_run(out, &e) < 0 ||
			    (c == '&' ? buf_append(out, "&-", 2) : buf_append_byte(out, c)) < 0)
				return mutf7_fail(out, start, error_r, "name too long");
			i++;
			continue;
		}
		size_t n = charset_utf8_seq_len(s + i, len - i);
		if (n == 0 || c == 0)
			return mutf7_fail(out, start, error_r, "invalid UTF-8");
		unsigned int cp;
		if (n == 1)
			cp = c; /* a control character: encoded, it is not printable */
		else if (n == 2)
			cp = (c & 0x1fu) << 6 | (s[i + 1] & 0x3fu);
		else if (n == 3)
			cp = (c & 0x0fu) << 12 | (s[i + 1] & 0x3fu) << 6 | (s[i + 2] & 0x3fu);
		else
			cp = (c & 0x07u) << 18 | (s[i + 1] & 0x3fu) << 12 | (s[i + 2] & 0x3fu) << 6 |
			     (s[i + 3] & 0x3fu);
		i += n;
		int r;
		if (cp >= 0x10000) {
			cp -= 0x10000;
			r = mutf7_put_unit(out, &e, 0xd800 + (cp >> 10));
			if (r == 0)
				r = mutf7_put_unit(out, &e, 0xdc00 + (cp & 0x3ff));
		} else {
			r = mutf7_put_unit(out, &e, cp);
		}
		if (r < 0)
			return mutf7_fail(out, start, error_r, "name too long");
	}
	if (mutf7_end_run(out, &e) < 0)
		return mutf7_fail(out, start, error_r, "name too long");
	return 0;
}

bool mutf7_is_valid(const void *s, size_t len)
{
	struct buf tmp;
	const char *error;
	buf_init(&tmp, (size_t)-1 / 2);
	int ret = mutf7_to_utf8(&tmp, s, len, &error);
	buf_free(&tmp);
	return ret == 0;
}
