/* mime-parts.h: the part table, a compact record of a parsed message's shape: for every part
 * its place in the tree, its kind (multipart, message/rfc822, text), its transfer encoding
 * and its byte ranges. The store keeps it with each message at delivery, so FETCH of a
 * section (BODY[2.1], BINARY[3], BODY[2.HEADER]) finds its bytes without reading, let alone
 * parsing, the rest of the message: a 23-byte part of a 50 MB message costs 23 bytes.
 *
 * Encoding (version 1): the byte 1, then one record per part in pre-order, each six unsigned
 * LEB128 numbers: child count, MIME_PART_FLAG_* bits, enum mime_encoding, header offset,
 * header size, body size (the body follows the header). Types and parameters are not kept:
 * BODYSTRUCTURE is cached whole, and sections need only ranges. */
#ifndef KURA_MAIL_MIME_PARTS_H
#define KURA_MAIL_MIME_PARTS_H

#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "mail/mime.h"

/* Append the table of the tree under root to out. 0, or -1 if out's limit was reached. */
int mime_parts_encode(const struct mime_part *root, struct buf *out);

/* Rebuild the tree from a table (parts with ranges, flags, encoding and links; no types,
 * parameters or header values) for a message of msg_size bytes. NULL if the table is
 * malformed: not version 1, truncated or with bytes left over, more than MIME_DEFAULT_MAX_PARTS
 * parts or MIME_DEFAULT_MAX_DEPTH levels, a range outside the message or a child outside its
 * parent. */
struct mime_part *mime_parts_decode(const void *data, size_t len, uint64_t msg_size,
				    struct pool *pool);

#endif
