/* mutf7.h: modified UTF-7 mailbox names (RFC 3501 5.1.3, kept by RFC 9051 for IMAP4rev1
 * clients) to and from UTF-8.
 *
 * Strict in both directions, so one name has exactly one encoding and names cannot be smuggled
 * past checks in a second form:
 *   UTF-8 input must be well-formed (RFC 3629: no overlongs, surrogates or values > U+10FFFF)
 *   and hold no NUL.
 *   Modified UTF-7 input must use only printable US-ASCII (0x20-0x7E); "&-" is "&"; a shifted
 *   run "&...-" uses the modified base64 alphabet (A-Z a-z 0-9 + ,) and must end with "-",
 *   its bits must make whole UTF-16 units with zero padding (fewer than 6 spare bits, all 0),
 *   surrogates must pair, it must not encode a printable US-ASCII character (those represent
 *   themselves) or NUL, and two shifted runs must not follow each other directly ("&AGE-&AGI-"
 *   is "&AGEAYg-" in canonical form).
 *
 * Both functions append to out and return 0, or -1 with *error_r set (a static string) when
 * the input is invalid or out's maximum would be passed; on -1 out is unchanged. */
#ifndef KURA_MAIL_MUTF7_H
#define KURA_MAIL_MUTF7_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"

int mutf7_to_utf8(struct buf *out, const void *s, size_t len, const char **error_r);
int mutf7_from_utf8(struct buf *out, const void *s, size_t len, const char **error_r);
/* s[0..len) is valid modified UTF-7 as above. */
bool mutf7_is_valid(const void *s, size_t len);

#endif
