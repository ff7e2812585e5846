/* base64.c: strict base64. Rejects bad characters, missing or misplaced padding and non-zero
 * pad bits, so each value has exactly one accepted encoding. */
#include "base64.h"

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int base64_encode(struct buf *out, const void *data, size_t n)
{
	const unsigned char *p = data;
	size_t groups = (n + 2) / 3;
	if (groups > ((size_t)-1) / 4 || buf_reserve(out, groups * 4) < 0)
		return -1;
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16;
		if (i + 1 < n)
			v |= (unsigned)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		char q[4];
		q[0] = b64_alphabet[(v >> 18) & 63];
		q[1] = b64_alphabet[(v >> 12) & 63];
		q[2] = i + 1 < n ? b64_alphabet[(v >> 6) & 63] : '=';
		q[3] = i + 2 < n ? b64_alphabet[v & 63] : '=';
		buf_append(out, q, 4);
	}
	return 0;
}

static int b64_value(unsigned char c)
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

int base64_decode(struct buf *out, const char *text, size_t n)
{
	const unsigned char *s = (const unsigned char *)text;
	if (n % 4 != 0)
		return -1;
	size_t start_len = out->len;
	for (size_t i = 0; i < n; i += 4) {
		int v[4];
		int pad = 0;
		for (int j = 0; j < 4; j++) {
			if (s[i + j] == '=') {
				/* padding only in the last group, only in the last two places */
				if (i + 4 != n || j < 2)
					goto fail;
				pad++;
				v[j] = 0;
			} else {
				if (pad > 0)
					goto fail;
				v[j] = b64_value(s[i + j]);
				if (v[j] < 0)
					goto fail;
			}
		}
		unsigned bits = ((unsigned)v[0] << 18) | ((unsigned)v[1] << 12) |
				((unsigned)v[2] << 6) | (unsigned)v[3];
		unsigned char q[3] = {(unsigned char)(bits >> 16), (unsigned char)(bits >> 8),
				      (unsigned char)bits};
		if ((pad == 1 && (bits & 0xff) != 0) || (pad == 2 && (bits & 0xffff) != 0))
			goto fail;
		if (buf_append(out, q, (size_t)(3 - pad)) < 0)
			goto fail;
	}
	return 0;
fail:
	out->len = start_len;
	if (out->data != NULL)
		out->data[out->len] = '\0';
	return -1;
}
