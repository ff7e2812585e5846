/* lmtp-data.c: the DATA decoder's state machine (see lmtp-data.h for the rules). Traps: a CR
 * is held back until the next byte shows whether it ends a line, and a "." at the start of a
 * line until the next byte shows whether it is the end marker; both may straddle chunks. */
#include "lmtp/lmtp-data.h"

enum {
	DATA_LINE_START, /* after CRLF (or at the start) */
	DATA_MID,        /* inside a line */
	DATA_CR,         /* a CR held back, inside a line */
	DATA_DOT,        /* "." held back at the start of a line */
	DATA_DOT_CR,     /* ".\r" held back at the start of a line */
};

void lmtp_data_init(struct lmtp_data *d, bool raw)
{
	d->state = DATA_LINE_START;
	d->raw = raw;
}

int lmtp_data_decode(struct lmtp_data *d, const unsigned char *in, size_t in_len,
		     size_t *consumed_r, unsigned char *out, size_t out_size, size_t *out_len_r)
{
	size_t i = 0, o = 0;
	int st = d->state;
	while (i < in_len && o + 2 <= out_size) {
		unsigned char c = in[i++];
		switch (st) {
		case DATA_LINE_START:
			if (c == '.' && !d->raw) {
				st = DATA_DOT;
				break;
			}
			/* fall through */
		case DATA_MID:
		mid:
			if (c == '\r') {
				st = DATA_CR;
			} else if (c == '\n') {
				/* bare LF: stored as CRLF, but it starts no line */
				out[o++] = '\r';
				out[o++] = '\n';
				st = DATA_MID;
			} else {
				out[o++] = c;
				st = DATA_MID;
			}
			break;
		case DATA_CR:
			if (c == '\n') {
				out[o++] = '\r';
				out[o++] = '\n';
				st = DATA_LINE_START;
			} else if (c == '\r') {
				out[o++] = '\r'; /* the held CR was bare; hold this one */
			} else {
				out[o++] = '\r';
				goto mid;
			}
			break;
		case DATA_DOT:
			if (c == '\r') {
				st = DATA_DOT_CR;
				break;
			}
			/* RFC 5321 4.5.2: more on the line: the leading "." goes */
			goto mid;
		case DATA_DOT_CR:
			if (c == '\n') {
				d->state = DATA_LINE_START;
				*consumed_r = i;
				*out_len_r = o;
				return 1;
			}
			/* "." CR and more: the dot goes, the CR was bare */
			st = DATA_CR;
			if (c == '\r') {
				out[o++] = '\r';
			} else {
				out[o++] = '\r';
				goto mid;
			}
			break;
		}
	}
	d->state = st;
	*consumed_r = i;
	*out_len_r = o;
	return 0;
}

size_t lmtp_data_finish(struct lmtp_data *d, unsigned char *out)
{
	if (d->state == DATA_CR) {
		out[0] = '\r';
		d->state = DATA_MID;
		return 1;
	}
	return 0;
}
