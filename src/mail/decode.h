/* decode.h: Content-Transfer-Encoding decoders (RFC 2045 section 6) for BINARY[] and
 * BINARY.SIZE (RFC 3516 / RFC 9051) and for indexing bodies for search.
 *
 * Decoders are incremental: feed the encoded bytes in pieces of any size (a byte at a time
 * works), then finish. They are tolerant as real mail needs: base64 skips line breaks and any
 * byte outside its alphabet and stops at the first "=" (padding or not, the rest is ignored); a
 * last incomplete quantum yields the whole bytes it holds. Quoted-printable accepts lowercase
 * hex, treats "=" followed by WSP and a line end as a soft line break, keeps a malformed "=" as
 * it is, and deletes trailing WSP before a line end (RFC 2045 6.7 rule 3); "=" at the very end
 * of the data is a soft break. 7bit, 8bit and binary are copied.
 *
 * With DECODE_FLAG_CRLF every LF not preceded by CR is written as CRLF, which RFC 9051 6.4.5
 * requires of BINARY[] for textual (type "text") sections.
 *
 * Output goes to a struct buf. decode_feed() reserves room for the worst case of its input
 * first (2 * len + 168 bytes) and returns -1 without touching anything when that does not fit,
 * so a caller streaming a big part feeds pieces no bigger than its free space allows. */
#ifndef KURA_MAIL_DECODE_H
#define KURA_MAIL_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

enum mime_encoding {
	MIME_ENC_7BIT,
	MIME_ENC_8BIT,
	MIME_ENC_BINARY,
	MIME_ENC_QP,
	MIME_ENC_BASE64,
	MIME_ENC_UNKNOWN, /* x-uuencode and the like: BINARY answers UNKNOWN-CTE */
};

#define DECODE_FLAG_CRLF 0x01

#define DECODE_PENDING_MAX 80

struct decode_state {
	enum mime_encoding enc;
	unsigned int flags;
	bool last_cr;          /* the last byte written was CR */
	/* base64 */
	uint32_t acc;
	unsigned int bits;
	bool b64_done;
	/* quoted-printable */
	int qp_state;
	unsigned char pend[DECODE_PENDING_MAX];
	size_t pend_len;
};

/* The encoding named by a Content-Transfer-Encoding token (ASCII case-insensitive, surrounding
 * WSP ignored). NULL or empty: 7bit (RFC 2045 6.1 default). */
enum mime_encoding decode_encoding_parse(const char *name, size_t len);

/* Start decoding. Returns 0, or -1 for MIME_ENC_UNKNOWN. */
int decode_init(struct decode_state *st, enum mime_encoding enc, unsigned int flags);
/* Decode in[0..len), appending to out. 0, or -1 if out cannot take 2 * len + 168 more bytes
 * (nothing consumed, out and st unchanged). */
int decode_feed(struct decode_state *st, struct buf *out, const void *in, size_t len);
/* Flush what is held back at the end of the data. 0, or -1 on out's maximum (out unchanged). */
int decode_finish(struct decode_state *st, struct buf *out);

/* Whole-buffer convenience: init, feed, finish. Unlike decode_feed() it needs no headroom: out's
 * maximum only has to hold the result (decode_size() tells how much). -1 for an unknown
 * encoding or out's maximum (out unchanged). */
int decode_all(struct buf *out, enum mime_encoding enc, unsigned int flags, const void *in,
	       size_t len);
/* The decoded size without keeping the output (BINARY.SIZE). -1 for an unknown encoding. */
int decode_size(enum mime_encoding enc, unsigned int flags, const void *in, size_t len,
		uint64_t *size_r);

#endif
