/* rfc2047.h: decoding of RFC 2047 encoded words ("=?charset?B?...?=", "=?charset?Q?...?=") in
 * header values to UTF-8, for search and display (never for ENVELOPE, which is raw).
 *
 * Liberal in what it accepts, as mail requires: encoded words are recognised anywhere (also
 * inside words and quoted strings, as common clients do), whitespace between two encoded words
 * is dropped (RFC 2047 section 6.2), and adjacent encoded words with the same charset are joined
 * before conversion, so a character split across two words (a UTF-8 sequence, a Shift_JIS
 * pair) comes out whole. The RFC 2231 language suffix ("=?utf-8*en?Q?...?=") is ignored. B text
 * with bad characters or missing padding is decoded as far as it goes; a malformed encoded
 * word is kept as literal text.
 *
 * Text outside encoded words: 7-bit text holding ESC is read as ISO-2022-JP (old Japanese mail
 * sends raw JIS headers); well-formed UTF-8 is kept (RFC 6532); other 8-bit text is converted
 * from `fallback` (a charset label, e.g. the body's charset) or, without one, each bad byte
 * becomes U+FFFD. Charsets are converted by charset.h. */
#ifndef KURA_MAIL_RFC2047_H
#define KURA_MAIL_RFC2047_H

#include <stddef.h>

#include "lib/buf.h"

/* Decode s[0..len) (an unfolded header value; CRLF+WSP folds are tolerated and read as
 * whitespace) and append the UTF-8 result to out. fallback may be NULL.
 * Returns 0, 1 if anything had to be replaced by U+FFFD, -1 if out's maximum would be exceeded
 * (out unchanged). */
int rfc2047_decode(struct buf *out, const void *s, size_t len, const char *fallback);

#endif
