/* imap-mailbox.c: mailbox name conversion and LIST matching. Traps: INBOX is case-insensitive
 * but only as the first level ("inbox/Foo" is "INBOX/Foo", "Foo/inbox" is not INBOX); pattern
 * matching backtracks, so it is bounded by pattern and name length (both limited). */
#include "imap-mailbox.h"

#include <string.h>
#include <strings.h>

#include "imap/imap-arg.h"
#include "mail/charset.h"
#include "mail/mutf7.h"
#include "store/store.h"

static const char *normalise_inbox(const char *name, struct pool *pool)
{
	if (strncasecmp(name, "INBOX", 5) == 0 && (name[5] == '\0' || name[5] == IMAP_HIERARCHY_SEP) &&
	    strncmp(name, "INBOX", 5) != 0) {
		char *copy = pool_strdup(pool, name);
		memcpy(copy, "INBOX", 5);
		return copy;
	}
	return name;
}

int imap_mailbox_from_client(const char *name, size_t len, bool utf8, bool for_pattern,
			     struct pool *pool, const char **name_r, const char **error_r)
{
	if (memchr(name, '\0', len) != NULL) {
		*error_r = "Mailbox name contains NUL";
		return -1;
	}
	const char *utf;
	if (utf8) {
		if (!charset_utf8_valid(name, len)) {
			*error_r = "Mailbox name is not valid UTF-8";
			return -1;
		}
		utf = pool_memdup(pool, name, len);
	} else {
		struct buf b;
		buf_init(&b, STORE_MAILBOX_NAME_MAX * 4 + 16);
		if (mutf7_to_utf8(&b, name, len, error_r) < 0) {
			buf_free(&b);
			return -1;
		}
		utf = pool_memdup(pool, b.data != NULL ? (const char *)b.data : "", b.len);
		buf_free(&b);
	}
	utf = normalise_inbox(utf, pool);
	if (!for_pattern && store_mailbox_name_valid(utf, error_r) != 1)
		return -1;
	if (for_pattern && strlen(utf) > STORE_MAILBOX_NAME_MAX * 2) {
		*error_r = "Pattern too long";
		return -1;
	}
	*name_r = utf;
	return 0;
}

int imap_mailbox_to_client(struct buf *out, const char *name, bool utf8)
{
	if (utf8)
		return imap_append_quoted_or_literal_utf8(out, name, strlen(name));
	struct buf b;
	const char *err;
	buf_init(&b, STORE_MAILBOX_NAME_MAX * 8 + 16);
	int ret = mutf7_from_utf8(&b, name, strlen(name), &err);
	if (ret == 0)
		ret = imap_append_quoted_or_literal(out, b.data != NULL ? (const char *)b.data : "",
						    b.len);
	buf_free(&b);
	return ret;
}

/* Set-of-positions matching: after each pattern character, cur[i] says whether name[0..i) can
 * be matched by the pattern so far. O(pattern x name), no backtracking, whatever the input. */
static bool match_from(const char *p, const char *n)
{
	size_t nl = strlen(n);
	if (nl > STORE_MAILBOX_NAME_MAX * 4)
		return false;
	unsigned char cur[STORE_MAILBOX_NAME_MAX * 4 + 2], next[STORE_MAILBOX_NAME_MAX * 4 + 2];
	memset(cur, 0, nl + 1);
	cur[0] = 1;
	for (; *p != '\0'; p++) {
		memset(next, 0, nl + 1);
		bool any = false;
		if (*p == '*' || *p == '%') {
			bool on = false;
			for (size_t i = 0; i <= nl; i++) {
				if (cur[i])
					on = true;
				else if (*p == '%' && i > 0 && n[i - 1] == IMAP_HIERARCHY_SEP)
					on = false;
				if (on && *p == '%' && i > 0 && n[i - 1] == IMAP_HIERARCHY_SEP && !cur[i])
					on = false;
				next[i] = on;
				any |= on;
			}
		} else {
			for (size_t i = 0; i < nl; i++) {
				if (cur[i] && n[i] == *p) {
					next[i + 1] = 1;
					any = true;
				}
			}
		}
		if (!any)
			return false;
		memcpy(cur, next, nl + 1);
	}
	return cur[nl] != 0;
}

bool imap_mailbox_match(const char *pattern, const char *name)
{
	/* INBOX is case-insensitive: both sides are normalised by the callers, but a pattern
	 * like "inbo*" must still find INBOX */
	if (strncasecmp(name, "INBOX", 5) == 0 && (name[5] == '\0' || name[5] == '/')) {
		char buf[STORE_MAILBOX_NAME_MAX * 2 + 1];
		size_t pl = strlen(pattern);
		if (pl < sizeof(buf)) {
			memcpy(buf, pattern, pl + 1);
			for (size_t i = 0; i < 5 && i < pl && buf[i] != '*' && buf[i] != '%'; i++)
				buf[i] = (char)(buf[i] >= 'a' && buf[i] <= 'z' ? buf[i] - 32 : buf[i]);
			if (match_from(buf, name))
				return true;
		}
	}
	return match_from(pattern, name);
}
