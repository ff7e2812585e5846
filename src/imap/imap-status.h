/* imap-status.h: STATUS items (RFC 9051 6.3.11; RFC 7889 APPENDLIMIT; RFC 7162 HIGHESTMODSEQ),
 * shared by STATUS and LIST RETURN (STATUS). */
#ifndef KURA_IMAP_STATUS_H
#define KURA_IMAP_STATUS_H

#include <stdbool.h>

#include "imap/imap-parser.h"
#include "lib/buf.h"
#include "store/store.h"

enum imap_status_item {
	IMAP_STATUS_MESSAGES = 0x01,
	IMAP_STATUS_UIDNEXT = 0x02,
	IMAP_STATUS_UIDVALIDITY = 0x04,
	IMAP_STATUS_UNSEEN = 0x08,
	IMAP_STATUS_DELETED = 0x10,
	IMAP_STATUS_SIZE = 0x20,
	IMAP_STATUS_RECENT = 0x40, /* IMAP4rev1 only */
	IMAP_STATUS_APPENDLIMIT = 0x80, /* RFC 7889 */
	IMAP_STATUS_HIGHESTMODSEQ = 0x100, /* RFC 7162 3.1.7: a CONDSTORE enabling item */
};

/* Parse "(MESSAGES UNSEEN ...)". 0, or -1 (unknown or empty list). */
int imap_status_parse(const struct imap_arg *list, bool rev1, unsigned *items_r);
/* Append "* STATUS name (MESSAGES n ...)\r\n". store is read only for RECENT. */
void imap_status_render(struct buf *out, struct store *store, const struct store_mailbox *mb,
			unsigned items, bool utf8, size_t append_limit);

#endif
