/* store-name.c: what a mailbox name and a keyword may be, and the per-mailbox keyword table.
 * Traps: names are never file names here (they live only in the database), but they are still
 * held to strict rules so that no client can create something another client cannot address
 * (RFC 9051 5.1); "INBOX" as a first level is case-insensitive and always kept in capitals, so
 * "inbox/x" and "INBOX/x" are one mailbox. */
#include "store/store-private.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uninorm.h>

/* Decode one UTF-8 sequence (RFC 3629: no overlongs, no surrogates, at most U+10FFFF). Returns
 * its length, or 0 if invalid. */
static size_t store_utf8_decode(const unsigned char *s, size_t len, uint32_t *cp_r)
{
	uint32_t cp;
	size_t n;
	if (s[0] < 0x80) {
		*cp_r = s[0];
		return 1;
	} else if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*cp_r = cp;
	return n;
}

/* 1 valid, 0 invalid with *code_r and *error_r. */
static int store_name_check(const char *name, enum store_error *code_r, const char **error_r)
{
	const unsigned char *s = (const unsigned char *)name;
	size_t len = strlen(name), levels = 1, level_start = 0;

	*code_r = STORE_ERR_INVALID;
	if (len == 0) {
		*error_r = "mailbox name is empty";
		return 0;
	}
	if (len > STORE_MAILBOX_NAME_MAX) {
		*code_r = STORE_ERR_LIMIT;
		*error_r = "mailbox name is too long";
		return 0;
	}
	for (size_t i = 0; i <= len;) {
		if (i == len || s[i] == '/') {
			size_t n = i - level_start;
			if (n == 0) {
				*error_r = "mailbox name has an empty level";
				return 0;
			}
			if ((n == 1 && s[level_start] == '.') ||
			    (n == 2 && s[level_start] == '.' && s[level_start + 1] == '.')) {
				*error_r = "mailbox name has a \".\" or \"..\" level";
				return 0;
			}
			if (i == len)
				break;
			if (++levels > STORE_MAILBOX_LEVELS_MAX) {
				*code_r = STORE_ERR_LIMIT;
				*error_r = "mailbox name has too many levels";
				return 0;
			}
			level_start = ++i;
			continue;
		}
		uint32_t cp;
		size_t n = store_utf8_decode(s + i, len - i, &cp);
		if (n == 0) {
			*error_r = "mailbox name is not valid UTF-8";
			return 0;
		}
		if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) {
			*error_r = "mailbox name contains a control character";
			return 0;
		}
		/* RFC 9051 5.1: "%" and "*" are LIST wildcards and must not appear in names */
		if (cp == '*' || cp == '%') {
			*error_r = "mailbox name contains '*' or '%'";
			return 0;
		}
		i += n;
	}
	/* RFC 9051 5.1: 8-bit names must be Net-Unicode (RFC 5198), i.e. in NFC. We refuse a
	 * denormalised name rather than convert it: converting would oblige every command and
	 * LIST (OLDNAME) to accept both spellings. The check uses libunistring's tables. */
	bool ascii = true;
	for (size_t i = 0; i < len; i++)
		if (s[i] >= 0x80)
			ascii = false;
	if (!ascii) {
		uint8_t nfc[STORE_MAILBOX_NAME_MAX * 3];
		size_t nfc_len = sizeof(nfc);
		uint8_t *res = u8_normalize(UNINORM_NFC, s, len, nfc, &nfc_len);
		bool same = res != NULL && nfc_len == len && memcmp(res, s, len) == 0;
		if (res != NULL && res != nfc)
			free(res);
		if (!same) {
			*error_r = "mailbox name is not in Unicode normalization form C (RFC 9051 5.1)";
			return 0;
		}
	}
	return 1;
}

int store_mailbox_name_valid(const char *name, const char **error_r)
{
	enum store_error code;
	return store_name_check(name, &code, error_r);
}

int store_name_normalize(struct store *store, const char *name,
			 char out[STORE_MAILBOX_NAME_MAX + 1])
{
	enum store_error code;
	const char *error;
	if (!store_name_check(name, &code, &error))
		return store_fail(store, code, NULL, "%s", error);
	size_t len = strlen(name);
	memcpy(out, name, len + 1);
	/* RFC 9051 5.1: INBOX is case-insensitive; its children share the spelling */
	if (strncasecmp(out, "INBOX", 5) == 0 && (out[5] == '\0' || out[5] == '/'))
		memcpy(out, "INBOX", 5);
	return 0;
}

/* ---- keywords ---- */

bool store_keyword_valid(const char *kw)
{
	size_t len = strlen(kw);
	if (len == 0 || len > STORE_KEYWORD_LEN_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)kw[i];
		/* ATOM-CHAR: CHAR except atom-specials: ( ) { SP CTL % * DQUOTE \ ] */
		if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\]", c) != NULL)
			return false;
	}
	return true;
}

int store_keyword_index(struct store_mailbox *mb, const char *kw, bool create)
{
	for (unsigned i = 0; i < mb->keyword_count; i++) {
		if (strcasecmp(mb->keywords[i], kw) == 0)
			return (int)i;
	}
	if (!create)
		return -1;
	if (mb->keyword_count >= STORE_KEYWORDS_MAX)
		return -2;
	size_t len = strlen(kw);
	memcpy(mb->keywords[mb->keyword_count], kw, len + 1);
	return (int)mb->keyword_count++;
}

void store_keywords_parse(struct store_mailbox *mb, const char *text, size_t len)
{
	mb->keyword_count = 0;
	size_t i = 0;
	while (i < len && mb->keyword_count < STORE_KEYWORDS_MAX) {
		size_t start = i;
		while (i < len && text[i] != ' ')
			i++;
		size_t n = i - start;
		if (n > 0 && n <= STORE_KEYWORD_LEN_MAX) {
			memcpy(mb->keywords[mb->keyword_count], text + start, n);
			mb->keywords[mb->keyword_count][n] = '\0';
			mb->keyword_count++;
		}
		i++;
	}
}

size_t store_keywords_format(const struct store_mailbox *mb, char *out)
{
	size_t len = 0;
	for (unsigned i = 0; i < mb->keyword_count; i++) {
		size_t n = strlen(mb->keywords[i]);
		if (i > 0)
			out[len++] = ' ';
		memcpy(out + len, mb->keywords[i], n);
		len += n;
	}
	out[len] = '\0';
	return len;
}

int store_keywords_mask(struct store *store, struct store_mailbox *mb, const char *const *kws,
			size_t count, bool create, uint64_t *mask_r)
{
	uint64_t mask = 0;
	for (size_t i = 0; i < count; i++) {
		if (kws[i] == NULL || !store_keyword_valid(kws[i]))
			return store_fail(store, STORE_ERR_INVALID, NULL, "invalid keyword");
		int idx = store_keyword_index(mb, kws[i], create);
		if (idx == -2)
			return store_fail(store, STORE_ERR_LIMIT, NULL,
					  "mailbox has %d keywords already", STORE_KEYWORDS_MAX);
		if (idx >= 0)
			mask |= (uint64_t)1 << idx;
	}
	*mask_r = mask;
	return 0;
}
