/* smtp-resp.h: the load generator's reader of SMTP/LMTP replies (RFC 5321 section 4.2,
 * RFC 2033 for LMTP, which uses the same reply syntax).
 *
 * A reply is one or more lines "ddd-text" CRLF ... ending with "ddd text" CRLF or "ddd" CRLF;
 * every line carries the same three-digit code, the first digit 2-5. The reader frames one
 * reply at a time out of the bytes fed to it and never touches a socket. It keeps the lines'
 * text (after the code and its separator), joined with "\n", at most `max_text` bytes. A
 * bare LF, a CR or NUL inside a line, a line over SMTP_RESP_LINE_MAX, a malformed code or a
 * code that changes between the lines of one reply is an error: the server broke the
 * protocol.
 *
 * Return convention: 1 done, 0 needs more input, -1 error with a static message in *error_r. */
#ifndef KURA_LOAD_SMTP_RESP_H
#define KURA_LOAD_SMTP_RESP_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"

/* RFC 5321 4.5.3.1.5 allows 512 bytes per reply line; servers send longer text in practice,
 * which is still framed up to this limit. */
#define SMTP_RESP_LINE_MAX 4096

struct smtp_resp {
	unsigned code;      /* 200..599 */
	unsigned lines;     /* 1 or more */
	const char *text;   /* the lines' texts joined with "\n" (NUL-terminated) */
	size_t text_len;
	const char *last;   /* the last line's text (inside text) */
};

struct smtp_resp_reader {
	struct buf line;     /* the current line so far, CRLF not included */
	struct buf text;     /* texts of the reply's finished lines */
	unsigned code;       /* of the reply's first line; 0 before it */
	unsigned lines;
	size_t last_off;     /* offset in text of the last line's text */
	bool complete;       /* a whole reply is framed and not yet released */
};

void smtp_resp_reader_init(struct smtp_resp_reader *r, size_t max_text);
/* Frees everything the reader holds; it can be initialised again. */
void smtp_resp_reader_free(struct smtp_resp_reader *r);

/* Feed len bytes. Returns 1 when a complete reply is framed (*used_r bytes were consumed,
 * possibly fewer than len: read it with smtp_resp_reader_get, then call smtp_resp_reader_next
 * and feed the rest), 0 when all bytes were consumed and more are needed, -1 on a protocol
 * violation (the reader must then be freed or re-initialised). */
int smtp_resp_reader_feed(struct smtp_resp_reader *r, const unsigned char *data, size_t len,
			  size_t *used_r, const char **error_r);
/* The framed reply; its strings stay valid until smtp_resp_reader_next. */
void smtp_resp_reader_get(const struct smtp_resp_reader *r, struct smtp_resp *resp);
/* Release the framed reply and start the next one (storage is freed). */
void smtp_resp_reader_next(struct smtp_resp_reader *r);
/* true while part of a reply has been fed but it is not complete. */
bool smtp_resp_reader_partial(const struct smtp_resp_reader *r);

/* The i-th line (0-based) of resp's text, without "\n": 1 found, 0 no such line. */
int smtp_resp_line(const struct smtp_resp *resp, unsigned i, const char **line_r, size_t *len_r);

#endif
