/* sort-keys.h: what SORT (RFC 5256, RFC 5957) and THREAD compare, computed once at delivery.
 *
 * Strings are kept in their i;unicode-casemap canonical form (RFC 5051, which RFC 5256 section
 * 7 requires for SORT: every character titlecased, then NFKD), so sorting is a plain byte
 * comparison of the stored keys; an absent field is the empty string, which sorts first.
 *
 *   subject   the base subject (RFC 5256 2.1: RFC 2047 decoded, white space normalised,
 *             "Re:", "Fwd:", "[blob]" leaders, "(fwd)" trailers and "[fwd: ...]" wrappers
 *             removed), canonical
 *   from, to, cc   the addr-mailbox (local part, as in ENVELOPE) of the first address of the
 *             field, canonical
 *   display_from, display_to   RFC 5957 3: the first address's display name, RFC 2047 decoded;
 *             else mailbox@host; else mailbox; canonical
 *   message_id, references   for THREAD=REFERENCES (RFC 5256 3): the Message-ID, and the
 *             message ids of References (or, without it, the first of In-Reply-To),
 *             space-separated, oldest first
 *   subject_reply   the subject had a "Re:"/"Fwd:" leader or a "(fwd)"/"[fwd:]" form
 *             (THREAD=REFERENCES step 5)
 */
#ifndef KURA_MAIL_SORT_KEYS_H
#define KURA_MAIL_SORT_KEYS_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"
#include "lib/pool.h"
#include "mail/mime.h"

#define SORT_KEY_MAX 1024    /* bytes of a stored key (a longer one is cut at a character) */
#define SORT_REFS_MAX 16384  /* bytes of References kept (the newest ids when cut) */

enum sort_key_field {
	SORT_KEY_SUBJECT,
	SORT_KEY_FROM,
	SORT_KEY_TO,
	SORT_KEY_CC,
	SORT_KEY_DISPLAY_FROM,
	SORT_KEY_DISPLAY_TO,
	SORT_KEY_MESSAGE_ID,
	SORT_KEY_REFERENCES,
	SORT_KEY_COUNT
};

struct sort_keys {
	struct buf key[SORT_KEY_COUNT];
	bool subject_reply;
};

void sort_keys_init(struct sort_keys *k);
void sort_keys_free(struct sort_keys *k);
/* Fill k (emptied first) from the header of the message parsed as root; pool for scratch. */
void sort_keys_extract(struct sort_keys *k, struct pool *pool, const void *msg,
		       const struct mime_part *root);

/* The base subject (RFC 5256 2.1 steps 2-6) of s[0..len), a decoded subject whose white space
 * is already normalised (step 1), appended to out. *reply_r: a leader or fwd form was
 * removed. 0 or -1 on out's maximum. */
int sort_base_subject(struct buf *out, const char *s, size_t len, bool *reply_r);

/* Append the i;unicode-casemap canonical form of UTF-8 s[0..len) (RFC 5051: titlecase each
 * character, then NFKD; invalid UTF-8 becomes U+FFFD), cut at SORT_KEY_MAX bytes on a
 * character boundary. */
void sort_casemap(struct buf *out, const void *s, size_t len);

#endif
