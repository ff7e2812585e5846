/* search-fold.c: folding text for substring search (search-fold.h).
 * Traps: case folding needs the whole run (NFC composes a kana with a voiced mark that follows
 * it, and a decomposed accent with its base letter), so the width/space pass writes a
 * temporary copy and u8_casefold runs once over it; pure ASCII text (most of it) skips
 * libunistring entirely. */
#include "search-fold.h"

#include <stdlib.h>
#include <string.h>
#include <unicase.h>
#include <uninorm.h>
#include <unistr.h>

#include "lib/xmalloc.h"

bool search_fold_is_space(unsigned int cp)
{
	if (cp <= 0x20 || cp == 0x7f)
		return true;
	if (cp < 0x85)
		return false;
	return cp == 0x85 || cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) ||
	       cp == 0x2028 || cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

/* Step 2: the ordinary form of a <wide> or <narrow> character (always one code point in
 * Unicode 14), else cp itself. */
static ucs4_t search_fold_width(ucs4_t cp)
{
	/* the width forms live in U+3000 (ideographic space), U+FF00-U+FFEF, and U+20A9/U+2190-
	 * U+25CB (targets only): only look up characters that can carry the tags */
	if (cp != 0x3000 && (cp < 0xff00 || cp > 0xffef))
		return cp;
	ucs4_t decomp[UC_DECOMPOSITION_MAX_LENGTH];
	int tag;
	int n = uc_decomposition(cp, &tag, decomp);
	if (n == 1 && (tag == UC_DECOMP_WIDE || tag == UC_DECOMP_NARROW))
		return decomp[0];
	return cp;
}

/* Steps 1-3 into tmp; ASCII letters are lowered here already. *nonascii_r: tmp holds
 * non-ASCII characters (step 4 is needed). */
static int search_fold_pass1(struct buf *tmp, const unsigned char *s, size_t len,
			     bool *nonascii_r)
{
	bool space = false, nonascii = false;
	size_t i = 0;
	if (buf_reserve(tmp, len + 1) < 0)
		return -1;
	while (i < len) {
		ucs4_t cp;
		unsigned char c = s[i];
		if (c < 0x80) {
			cp = c;
			i++;
		} else {
			int n = u8_mbtouc(&cp, s + i, len - i);
			i += n > 0 ? (size_t)n : 1;
			cp = search_fold_width(cp);
		}
		if (search_fold_is_space(cp)) {
			space = true;
			continue;
		}
		if (space) {
			buf_append_byte(tmp, ' ');
			space = false;
		}
		if (cp < 0x80) {
			if (cp >= 'A' && cp <= 'Z')
				cp += 'a' - 'A';
			buf_append_byte(tmp, (unsigned char)cp);
			continue;
		}
		uint8_t enc[6];
		int n = u8_uctomb(enc, cp, sizeof(enc));
		if (n <= 0) {
			/* U+FFFD: cannot fail */
			static const uint8_t fffd[3] = {0xef, 0xbf, 0xbd};
			memcpy(enc, fffd, 3);
			n = 3;
		}
		/* a width-folded character never grows: 3 bytes become at most 3 */
		if (buf_append(tmp, enc, (size_t)n) < 0)
			return -1;
		nonascii = true;
	}
	if (space && buf_append_byte(tmp, ' ') < 0)
		return -1;
	*nonascii_r = nonascii;
	return 0;
}

/* Steps 1-4 into a malloc'd string (*res_r; NULL when the result is tmp itself). */
static int search_fold_run(struct buf *tmp, const void *s, size_t len, uint8_t **res_r,
			   size_t *res_len_r)
{
	bool nonascii;
	*res_r = NULL;
	if (search_fold_pass1(tmp, s, len, &nonascii) < 0)
		return -1;
	*res_len_r = tmp->len;
	if (!nonascii || tmp->len == 0)
		return 0;
	size_t n = 0;
	uint8_t *r = u8_casefold(tmp->data, tmp->len, NULL, UNINORM_NFC, NULL, &n);
	if (r == NULL)
		xabort("u8_casefold failed");
	*res_r = r;
	*res_len_r = n;
	return 0;
}

int search_fold_width_only(struct buf *out, const void *s, size_t len)
{
	const unsigned char *p = s;
	size_t i = 0;
	while (i < len) {
		if (p[i] < 0x80) {
			size_t j = i;
			while (j < len && p[j] < 0x80)
				j++;
			if (buf_append(out, p + i, j - i) < 0)
				return -1;
			i = j;
			continue;
		}
		ucs4_t cp;
		int n = u8_mbtouc(&cp, p + i, len - i); /* U+FFFD for a malformed sequence */
		i += n > 0 ? (size_t)n : 1;
		cp = search_fold_width(cp);
		uint8_t enc[6];
		int m = u8_uctomb(enc, cp, sizeof(enc));
		if (m <= 0 || buf_append(out, enc, (size_t)m) < 0)
			return -1;
	}
	return 0;
}

int search_fold(struct buf *out, const void *s, size_t len)
{
	struct buf tmp;
	uint8_t *res;
	size_t res_len;
	int ret = -1;
	/* the first pass never grows the text by more than 1 byte per input byte (a bad byte
	 * becomes 3) */
	buf_init(&tmp, len > ((size_t)-1 - 16) / 3 ? (size_t)-2 : 3 * len + 16);
	if (search_fold_run(&tmp, s, len, &res, &res_len) == 0)
		ret = buf_append(out, res != NULL ? res : tmp.data, res_len);
	free(res);
	buf_free(&tmp);
	return ret;
}

int search_fold_truncate(struct buf *out, const void *s, size_t len)
{
	struct buf tmp;
	uint8_t *res;
	size_t res_len;
	int ret = 0;
	/* input beyond 3x the room cannot fold into the room (folding shrinks at most that
	 * much: a 3-byte half-width kana with its 3-byte mark becomes one 3-byte kana ... and a
	 * run of white space becomes one byte; so cut generously) */
	size_t room = buf_room(out);
	if (len / 4 > room + 16) {
		len = (room + 16) * 4;
		ret = 1;
	}
	buf_init(&tmp, 3 * len + 16);
	if (search_fold_run(&tmp, s, len, &res, &res_len) < 0)
		xabort("search_fold_truncate: scratch too small");
	const uint8_t *r = res != NULL ? res : tmp.data;
	if (res_len > room) {
		/* back to the start of a character */
		size_t n = room;
		while (n > 0 && (r[n] & 0xc0) == 0x80)
			n--;
		res_len = n;
		ret = 1;
	}
	if (res_len > 0)
		buf_append(out, r, res_len);
	free(res);
	buf_free(&tmp);
	return ret;
}

size_t search_fold_chars(const void *s, size_t len)
{
	const unsigned char *p = s;
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += (p[i] & 0xc0) != 0x80;
	return n;
}
