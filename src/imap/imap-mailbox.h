/* imap-mailbox.h: mailbox names between the client and the store.
 *
 * The store keeps UTF-8 names with '/' as separator. IMAP4rev1 clients send and receive them in
 * modified UTF-7 (RFC 3501 5.1.3); IMAP4rev2 sessions (after ENABLE IMAP4rev2) and UTF8=ACCEPT
 * use UTF-8 (RFC 9051 5.1). "INBOX" in any case, alone or as the first level, is INBOX. */
#ifndef KURA_IMAP_MAILBOX_H
#define KURA_IMAP_MAILBOX_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"
#include "lib/pool.h"

#define IMAP_HIERARCHY_SEP '/'

/* Client form -> store form (from pool). utf8: the session speaks UTF-8 names. for_pattern:
 * LIST patterns ('*' and '%' allowed, no store validation). 0, or -1 with *error_r. */
int imap_mailbox_from_client(const char *name, size_t len, bool utf8, bool for_pattern,
			     struct pool *pool, const char **name_r, const char **error_r);
/* Store form -> client form, appended as an IMAP astring/string to out. */
int imap_mailbox_to_client(struct buf *out, const char *name, bool utf8);

/* LIST pattern matching (RFC 9051 6.3.9): '*' matches anything, '%' anything but the
 * separator. Case-sensitive except for a leading INBOX. */
bool imap_mailbox_match(const char *pattern, const char *name);

#endif
