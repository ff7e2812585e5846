/* bodystructure.h: the IMAP BODY and BODYSTRUCTURE of a parsed message (RFC 9051 7.5.2 and
 * section 9: body, body-type-1part, body-type-mpart, body-fields, body-ext-1part,
 * body-ext-mpart).
 *
 * Field by field:
 *  - type and subtype as written in Content-Type, or the parser's defaults (mime.h);
 *  - body-fld-param: NIL or the merged parameters of mime-param.h, as RFC 9051 7.5.2 asks
 *    ("SHOULD decode parameter-value continuations and charsets"): "name*0", "name*1" are
 *    joined into "name"; extended values come back as "name*" with value
 *    "utf-8'lang'" + percent-encoded UTF-8 (converted from their charset), so a client that
 *    applies RFC 2231 decoding to "name*" gets the right text and one that does not still sees
 *    an RFC 2231 value. Plain values are raw (not RFC 2047 decoded);
 *  - body-fld-id, -desc, -md5, -loc: the raw unfolded values or NIL;
 *  - body-fld-enc: the Content-Transfer-Encoding token as written, "7bit" when absent;
 *  - body-fld-octets: the body size in bytes as stored (the transfer-encoded size);
 *  - body-fld-lines for text and message/rfc822 parts (see mime.h for how lines count);
 *  - message/rfc822 and message/global: the embedded message's ENVELOPE (envelope.h) and
 *    body structure;
 *  - BODYSTRUCTURE (extended) adds body-ext-1part (md5 dsp lang loc) or body-ext-mpart
 *    (param dsp lang loc), always all four; Content-Language is a parenthesised list of tags.
 *
 * IMAP4rev1 versus IMAP4rev2: the output is identical except for message/global parts, which
 * RFC 3501's media-message cannot express; with BODYSTRUCTURE_REV1 they are written as a
 * basic body ("message" "global" fields, no envelope), as RFC 3501 allows for other message
 * subtypes. bodystructure_needs_rev1_variant() tells whether a message has such a part (only
 * then does a cache need a second form).
 *
 * The whole output is built or nothing: on -1 out is unchanged. */
#ifndef KURA_MAIL_BODYSTRUCTURE_H
#define KURA_MAIL_BODYSTRUCTURE_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"
#include "lib/pool.h"
#include "mail/mime.h"

enum bodystructure_flags {
	BODYSTRUCTURE_EXTENDED = 0x01, /* BODYSTRUCTURE; without it: BODY */
	BODYSTRUCTURE_REV1 = 0x02,     /* message/global as a basic body (IMAP4rev1) */
};

/* Render the body structure of part (normally the root returned by mime_parse()) of msg, the
 * message the tree was parsed from. pool receives scratch allocations. Returns 0, or -1 when
 * out's maximum would be passed. */
int bodystructure_render(struct buf *out, struct pool *pool, const void *msg,
			 const struct mime_part *part, unsigned int flags);

/* The tree holds a message/global part, so the IMAP4rev1 rendering differs. */
bool bodystructure_needs_rev1_variant(const struct mime_part *root);

#endif
