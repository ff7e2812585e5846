/* header.h: RFC 5322 header fields of a message or MIME part held in memory.
 *
 * The input is the header block as stored: lines end in CRLF or bare LF, values may hold 8-bit
 * bytes and NUL. Iteration stops at the first empty line (the end of the header) or at the end
 * of the input. A field starts at a line that does not begin with WSP; its name runs to the
 * first ":" (obsolete "Name :" with WSP before the colon is accepted, the WSP is not part of the
 * name); continuation lines (starting with SP or HTAB) belong to the field. Lines that are not
 * fields (no colon, or a name with spaces or controls, like an mbox "From " line) are skipped
 * together with their continuation lines.
 *
 * Field names and raw values point into the input and live as long as it does. Nothing here
 * allocates except the unfolding helpers. */
#ifndef KURA_MAIL_HEADER_H
#define KURA_MAIL_HEADER_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"
#include "lib/pool.h"

struct mail_header_field {
	const unsigned char *name;   /* without the colon and any WSP before it */
	size_t name_len;
	const unsigned char *value;  /* raw: from after the colon to the end of the field, folding
				      * line ends kept, the final line end excluded */
	size_t value_len;
	size_t offset;               /* of the field's first byte in the input */
	size_t size;                 /* of the whole field including its final line end */
};

struct mail_header_iter {
	const unsigned char *data;
	size_t len, pos;
	bool done;
};

void mail_header_iter_init(struct mail_header_iter *iter, const void *header, size_t len);
/* 1 with the next field in *field_r, 0 at the end of the header. */
int mail_header_iter_next(struct mail_header_iter *iter, struct mail_header_field *field_r);
/* The next field called name (ASCII case-insensitive): 1 found, 0 none left. Call repeatedly
 * for every occurrence. */
int mail_header_iter_next_named(struct mail_header_iter *iter, const char *name,
				struct mail_header_field *field_r);
/* The first field called name in header[0..len): true and *field_r, or false. */
bool mail_header_find(const void *header, size_t len, const char *name,
		      struct mail_header_field *field_r);

/* Field name equals name, ASCII case-insensitively. */
bool mail_header_name_is(const struct mail_header_field *field, const char *name);

/* Unfold a raw value (RFC 5322 2.2.3): every CRLF or LF is removed (a fold is a line end
 * followed by WSP; the WSP stays), then leading and trailing WSP is trimmed. The result is
 * allocated from pool, NUL-terminated, and may contain NUL (use *len_r). */
char *mail_header_unfold(struct pool *pool, const void *value, size_t len, size_t *len_r);
/* The same, appended to out: 0, or -1 on out's maximum (out unchanged). */
int mail_header_unfold_buf(struct buf *out, const void *value, size_t len);

/* The end of the header block in msg[0..len): the offset just after the empty line that ends
 * it, or len when there is none. The body starts there. */
size_t mail_header_block_size(const void *msg, size_t len);

#endif
