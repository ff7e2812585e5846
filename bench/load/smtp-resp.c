/* smtp-resp.c: framing SMTP/LMTP replies (RFC 5321 4.2). Traps: a reply may end with a bare
 * code ("250" CRLF, no space); the bytes of one reply may arrive split anywhere, including
 * between CR and LF; a pipelined server sends several replies in one segment, so feed stops
 * after each complete reply and reports how much it used. */
#include "smtp-resp.h"

#include <string.h>

void smtp_resp_reader_init(struct smtp_resp_reader *r, size_t max_text)
{
	memset(r, 0, sizeof(*r));
	/* +1: the CR is kept until its LF arrives */
	buf_init(&r->line, SMTP_RESP_LINE_MAX + 1);
	buf_init(&r->text, max_text);
}

void smtp_resp_reader_free(struct smtp_resp_reader *r)
{
	buf_free(&r->line);
	buf_free(&r->text);
	r->code = 0;
	r->lines = 0;
	r->last_off = 0;
	r->complete = false;
}

/* A finished line (CR removed): check the code, keep the text. 1 last line of the reply,
 * 0 more lines follow, -1 error. */
static int smtp_resp_line_done(struct smtp_resp_reader *r, const char **error_r)
{
	const unsigned char *p = r->line.data;
	size_t n = r->line.len;
	if (n < 3 || p[0] < '2' || p[0] > '5' || p[1] < '0' || p[1] > '9' || p[2] < '0' ||
	    p[2] > '9') {
		*error_r = "reply line does not start with a three-digit code 2xx-5xx";
		return -1;
	}
	unsigned code = (unsigned)(p[0] - '0') * 100 + (unsigned)(p[1] - '0') * 10 +
			(unsigned)(p[2] - '0');
	if (n > 3 && p[3] != ' ' && p[3] != '-') {
		*error_r = "reply code not followed by space, hyphen or CRLF";
		return -1;
	}
	if (r->lines > 0 && code != r->code) {
		*error_r = "reply code changes between the lines of one reply";
		return -1;
	}
	bool more = n > 3 && p[3] == '-';
	if (r->lines > 0 && buf_append_byte(&r->text, '\n') < 0) {
		*error_r = "reply text over its limit";
		return -1;
	}
	r->last_off = r->text.len;
	if (n > 4 && buf_append(&r->text, p + 4, n - 4) < 0) {
		*error_r = "reply text over its limit";
		return -1;
	}
	r->code = code;
	r->lines++;
	buf_reset(&r->line);
	return more ? 0 : 1;
}

int smtp_resp_reader_feed(struct smtp_resp_reader *r, const unsigned char *data, size_t len,
			  size_t *used_r, const char **error_r)
{
	size_t off = 0;
	*used_r = 0;
	if (r->complete) {
		*error_r = "smtp_resp_reader_feed before smtp_resp_reader_next";
		return -1;
	}
	while (off < len) {
		const unsigned char *nl = memchr(data + off, '\n', len - off);
		size_t end = nl != NULL ? (size_t)(nl - data) : len;
		const unsigned char *cr = memchr(data + off, '\r', end - off);
		/* a CR is only allowed as the last byte before the LF (or of what we have) */
		if (cr != NULL && (size_t)(cr - data) + 1 != end) {
			*error_r = "CR inside a reply line";
			return -1;
		}
		if (r->line.len > 0 && r->line.data[r->line.len - 1] == '\r' && end > off) {
			*error_r = "CR inside a reply line";
			return -1;
		}
		/* RFC 5321 4.2: reply text is printable US-ASCII and HT; a NUL would also cut
		 * the text short wherever it is printed */
		if (memchr(data + off, '\0', end - off) != NULL) {
			*error_r = "NUL in a reply";
			return -1;
		}
		if (buf_append(&r->line, data + off, end - off) < 0) {
			*error_r = "reply line too long";
			return -1;
		}
		off = end;
		if (nl == NULL)
			break;
		off++; /* the LF */
		if (r->line.len == 0 || r->line.data[r->line.len - 1] != '\r') {
			*error_r = "bare LF in a reply";
			return -1;
		}
		r->line.len--;
		r->line.data[r->line.len] = '\0';
		int ret = smtp_resp_line_done(r, error_r);
		if (ret < 0)
			return -1;
		if (ret == 1) {
			r->complete = true;
			*used_r = off;
			buf_release(&r->line);
			return 1;
		}
	}
	*used_r = off;
	return 0;
}

void smtp_resp_reader_get(const struct smtp_resp_reader *r, struct smtp_resp *resp)
{
	static const char empty[] = "";
	resp->code = r->code;
	resp->lines = r->lines;
	resp->text = r->text.data != NULL ? (const char *)r->text.data : empty;
	resp->text_len = r->text.len;
	resp->last = resp->text + (r->text.data != NULL ? r->last_off : 0);
}

void smtp_resp_reader_next(struct smtp_resp_reader *r)
{
	buf_free(&r->text);
	buf_release(&r->line);
	r->code = 0;
	r->lines = 0;
	r->last_off = 0;
	r->complete = false;
}

bool smtp_resp_reader_partial(const struct smtp_resp_reader *r)
{
	return !r->complete && (r->lines > 0 || r->line.len > 0);
}

int smtp_resp_line(const struct smtp_resp *resp, unsigned i, const char **line_r, size_t *len_r)
{
	const char *p = resp->text, *end = resp->text + resp->text_len;
	for (unsigned k = 0; k < resp->lines; k++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *stop = nl != NULL ? nl : end;
		if (k == i) {
			*line_r = p;
			*len_r = (size_t)(stop - p);
			return 1;
		}
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	return 0;
}
