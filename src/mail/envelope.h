/* envelope.h: the IMAP ENVELOPE of a message (RFC 9051 7.5.2 and section 9 "envelope").
 *
 * envelope = "(" date SP subject SP from SP sender SP reply-to SP to SP cc SP bcc SP
 *            in-reply-to SP message-id ")"
 * Values are the raw header text, not RFC 2047 decoded, as IMAP requires: the first occurrence
 * of each field, unfolded (line ends of folds removed) and trimmed; an absent field is NIL, a
 * present but empty one "". Address fields are lists of (name adl mailbox host) parsed by
 * address.h, NIL when absent or without any address; Sender and Reply-To default to From
 * when absent or empty (RFC 9051 7.5.2). Groups are (NIL NIL "name" NIL) ... (NIL NIL NIL NIL).
 * An address without a domain gets the host ".MISSING-HOST-NAME." (the UW IMAP convention),
 * since a NIL host would read as group syntax.
 *
 * Strings are written by mail-string.h: quoted when 7-bit, literals for 8-bit text, CR or LF,
 * NUL as U+FFFD. The same text is valid for IMAP4rev1 and IMAP4rev2: there is no difference
 * between the revisions for ENVELOPE, so the result can be cached once per message. */
#ifndef KURA_MAIL_ENVELOPE_H
#define KURA_MAIL_ENVELOPE_H

#include <stddef.h>

#include "lib/buf.h"
#include "lib/pool.h"

#define ENVELOPE_MISSING_HOST ".MISSING-HOST-NAME."

/* Render the ENVELOPE of the message whose header block is header[0..len) and append it to
 * out. pool receives scratch allocations (the caller clears it). Returns 0, or -1 when out's
 * maximum would be passed (out unchanged). */
int envelope_render(struct buf *out, struct pool *pool, const void *header, size_t len);

#endif
