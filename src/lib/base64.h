/* base64.h: strict RFC 4648 base64 (standard alphabet, '=' padding required, no whitespace),
 * as SASL in IMAP requires (RFC 9051 6.2.2: a malformed response cancels the exchange). */
#ifndef KURA_LIB_BASE64_H
#define KURA_LIB_BASE64_H

#include <stddef.h>

#include "buf.h"

/* Append the encoding of n bytes to out. 0, or -1 if out's maximum would be exceeded. */
int base64_encode(struct buf *out, const void *data, size_t n);
/* Append the decoding of text[0..n) to out. 0, or -1 if the input is not canonical base64 or
 * out's maximum would be exceeded. */
int base64_decode(struct buf *out, const char *text, size_t n);

#endif
