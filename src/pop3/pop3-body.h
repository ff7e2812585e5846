/* pop3-body.h: a message as a POP3 multi-line response (RFC 1939 3): byte-stuffing of lines
 * that start with ".", bare LF sent as CRLF, the terminating CRLF "." CRLF, and TOP's cut
 * (the header, the blank line, then the first n body lines: RFC 1939 7). A resumable
 * encoder: the caller feeds the stored bytes in chunks of any size and appends the output to
 * the connection, so a 50 MB RETR needs one chunk of memory, not 50 MB.
 *
 * Output per input byte is at most 2 bytes, plus the 5-byte end (pop3_body_finish). */
#ifndef KURA_POP3_BODY_H
#define KURA_POP3_BODY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

struct pop3_body {
	bool top;             /* TOP: stop after top_lines body lines */
	uint32_t top_lines;
	bool in_body;         /* the blank line after the header was passed */
	bool line_start;      /* the next byte starts a line */
	bool line_blank;      /* only CRs so far on this line */
	bool prev_cr;
	bool done;            /* TOP's cut reached: the rest of the input is not needed */
};

/* all: RETR; otherwise TOP with top_lines body lines (0: the header and the blank line). */
void pop3_body_init(struct pop3_body *b, bool all, uint32_t top_lines);
/* Encode in[0..len) onto out (which must have room for 2 * len more bytes). Returns how many
 * input bytes were used: len, or fewer when TOP's cut was reached (done is then set). */
size_t pop3_body_encode(struct pop3_body *b, const unsigned char *in, size_t len,
			struct buf *out);
/* The end: CRLF if the message did not end with a line end, then ".\r\n". */
void pop3_body_finish(struct pop3_body *b, struct buf *out);

#endif
