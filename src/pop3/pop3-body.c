/* pop3-body.c: the resumable RETR/TOP encoder (pop3-body.h). Traps: a line is blank only if
 * it holds nothing but its end (CRLF or a bare LF); the header of a message without a blank
 * line is the whole message, so TOP then sends it all. */
#include "pop3-body.h"

void pop3_body_init(struct pop3_body *b, bool all, uint32_t top_lines)
{
	b->top = !all;
	b->top_lines = top_lines;
	b->in_body = false;
	b->line_start = true;
	b->line_blank = true;
	b->prev_cr = false;
	b->done = false;
}

size_t pop3_body_encode(struct pop3_body *b, const unsigned char *in, size_t len,
			struct buf *out)
{
	size_t i = 0;
	while (i < len && !b->done) {
		/* copy the run of ordinary bytes up to the next LF or line start at once */
		if (!b->line_start) {
			size_t j = i;
			while (j < len && in[j] != '\n' && in[j] != '\r')
				j++;
			if (j > i) {
				buf_append(out, in + i, j - i);
				b->line_blank = false;
				b->prev_cr = false;
				i = j;
				continue;
			}
		}
		unsigned char c = in[i++];
		if (b->line_start && c == '.')
			buf_append_byte(out, '.'); /* RFC 1939 3: byte-stuff the termination octet */
		b->line_start = false;
		if (c == '\n') {
			if (!b->prev_cr)
				buf_append_byte(out, '\r');
			buf_append_byte(out, '\n');
			bool blank = b->line_blank;
			b->line_start = true;
			b->line_blank = true;
			b->prev_cr = false;
			if (b->top) {
				if (b->in_body) {
					if (b->top_lines > 0)
						b->top_lines--;
					if (b->top_lines == 0)
						b->done = true;
				} else if (blank) {
					b->in_body = true;
					if (b->top_lines == 0)
						b->done = true;
				}
			}
			continue;
		}
		buf_append_byte(out, c);
		if (c == '\r') {
			b->prev_cr = true;
		} else {
			b->prev_cr = false;
			b->line_blank = false;
		}
	}
	return i;
}

void pop3_body_finish(struct pop3_body *b, struct buf *out)
{
	if (!b->line_start)
		buf_append(out, "\r\n", 2);
	buf_append(out, ".\r\n", 3);
}
