/* mail-string.h: IMAP string writers for the renderers of mail/ (ENVELOPE, BODYSTRUCTURE).
 *
 * mail/ sits below imap/ and must not include its headers, so this is the small subset of the
 * RFC 9051 section 9 string rules the renderers need. The output is valid for IMAP4rev1 and
 * IMAP4rev2 alike (so it can be cached once per message): a string goes quoted when every byte
 * is a 7-bit TEXT-CHAR (DQUOTE and "\" escaped), otherwise as a literal "{n}" CRLF bytes.
 *
 * NUL cannot appear in any IMAP string (CHAR8 excludes it); message headers can hold NUL, so each
 * NUL is written as U+FFFD (EF BF BD), which forces the literal form.
 *
 * Writers return 0, or -1 when the buffer's maximum would be passed; on -1 the buffer is
 * unchanged. */
#ifndef KURA_MAIL_MAIL_STRING_H
#define KURA_MAIL_MAIL_STRING_H

#include <stddef.h>

#include "lib/buf.h"

/* string = quoted / literal */
int mail_string_append(struct buf *b, const void *s, size_t len);
/* nstring = string / nil: NIL when s is NULL. */
int mail_string_append_nstring(struct buf *b, const void *s, size_t len);
/* Restore b to an earlier length (after a failed multi-step render). */
void mail_string_truncate(struct buf *b, size_t len);

#endif
