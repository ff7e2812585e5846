/* decode.c: incremental base64 / quoted-printable / identity decoders.
 * Traps: quoted-printable must hold back WSP (it may be trailing and deleted) and "=" sequences
 * across feed boundaries, in a fixed-size pending area (a WSP run longer than that is written
 * out as data); LF -> CRLF conversion must remember whether the previous piece ended in CR. */
#include "decode.h"

#include <string.h>
#include <strings.h>

#include "lib/xmalloc.h"

enum qp_state { QP_NORMAL, QP_EQ, QP_EQ_HEX1, QP_EQ_WS, QP_EQ_CR };

enum mime_encoding decode_encoding_parse(const char *name, size_t len)
{
	static const struct {
		const char *name;
		enum mime_encoding enc;
	} names[] = {
		{ "7bit", MIME_ENC_7BIT },
		{ "8bit", MIME_ENC_8BIT },
		{ "binary", MIME_ENC_BINARY },
		{ "quoted-printable", MIME_ENC_QP },
		{ "base64", MIME_ENC_BASE64 },
	};
	if (name == NULL)
		return MIME_ENC_7BIT;
	while (len > 0 && (name[0] == ' ' || name[0] == '\t')) {
		name++;
		len--;
	}
	while (len > 0 && (name[len - 1] == ' ' || name[len - 1] == '\t'))
		len--;
	if (len == 0)
		return MIME_ENC_7BIT;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strlen(names[i].name) == len && strncasecmp(name, names[i].name, len) == 0)
			return names[i].enc;
	}
	return MIME_ENC_UNKNOWN;
}

int decode_init(struct decode_state *st, enum mime_encoding enc, unsigned int flags)
{
	memset(st, 0, sizeof(*st));
	st->enc = enc;
	st->flags = flags;
	st->qp_state = QP_NORMAL;
	return enc == MIME_ENC_UNKNOWN ? -1 : 0;
}

/* Room has been reserved by the caller, so appends cannot fail. */
static void decode_emit(struct decode_state *st, struct buf *out, unsigned char c)
{
	if (c == '\n' && (st->flags & DECODE_FLAG_CRLF) != 0 && !st->last_cr)
		buf_append_byte(out, '\r');
	buf_append_byte(out, c);
	st->last_cr = c == '\r';
}

static void decode_emit_n(struct decode_state *st, struct buf *out, const unsigned char *p,
			  size_t n)
{
	for (size_t i = 0; i < n; i++)
		decode_emit(st, out, p[i]);
}

static int decode_b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

static int decode_hex(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static void decode_b64(struct decode_state *st, struct buf *out, const unsigned char *in,
		       size_t len)
{
	for (size_t i = 0; i < len && !st->b64_done; i++) {
		if (in[i] == '=') {
			st->b64_done = true;
			break;
		}
		int v = decode_b64_value(in[i]);
		if (v < 0)
			continue;
		st->acc = (st->acc << 6 | (uint32_t)v) & 0xffffff;
		st->bits += 6;
		if (st->bits >= 8) {
			st->bits -= 8;
			decode_emit(st, out, (unsigned char)(st->acc >> st->bits));
		}
	}
}

static void decode_pend_flush(struct decode_state *st, struct buf *out)
{
	decode_emit_n(st, out, st->pend, st->pend_len);
	st->pend_len = 0;
}

static void decode_pend_add(struct decode_state *st, struct buf *out, unsigned char c)
{
	if (st->pend_len == DECODE_PENDING_MAX) {
		/* an absurd WSP run: it cannot all be trailing space worth deleting */
		if (st->qp_state == QP_NORMAL) {
			decode_pend_flush(st, out);
		} else {
			decode_emit(st, out, '=');
			decode_pend_flush(st, out);
			st->qp_state = QP_NORMAL;
		}
	}
	st->pend[st->pend_len++] = c;
}

/* One byte of quoted-printable. */
static void decode_qp_byte(struct decode_state *st, struct buf *out, unsigned char c)
{
	for (;;) {
		switch (st->qp_state) {
		case QP_NORMAL:
			if (c == ' ' || c == '\t') {
				/* held: it is deleted if the line ends here */
				if (st->pend_len > 0 && st->pend[st->pend_len - 1] == '\r')
					decode_pend_flush(st, out);
				decode_pend_add(st, out, c);
			} else if (c == '\r') {
				if (st->pend_len > 0 && st->pend[st->pend_len - 1] == '\r')
					decode_pend_flush(st, out);
				decode_pend_add(st, out, c);
			} else if (c == '\n') {
				/* line end: trailing WSP goes, a CR before the LF stays */
				bool cr = st->pend_len > 0 && st->pend[st->pend_len - 1] == '\r';
				st->pend_len = 0;
				if (cr)
					decode_emit(st, out, '\r');
				decode_emit(st, out, '\n');
			} else {
				decode_pend_flush(st, out);
				if (c == '=')
					st->qp_state = QP_EQ;
				else
					decode_emit(st, out, c);
			}
			return;
		case QP_EQ:
			if (decode_hex(c) >= 0) {
				st->pend[0] = c;
				st->pend_len = 1;
				st->qp_state = QP_EQ_HEX1;
				return;
			}
			if (c == ' ' || c == '\t') {
				st->qp_state = QP_EQ_WS;
				decode_pend_add(st, out, c);
				return;
			}
			if (c == '\r') {
				st->qp_state = QP_EQ_CR;
				return;
			}
			if (c == '\n') { /* soft line break */
				st->qp_state = QP_NORMAL;
				return;
			}
			decode_emit(st, out, '=');
			st->qp_state = QP_NORMAL;
			continue; /* c again, as data */
		case QP_EQ_HEX1:
			if (decode_hex(c) >= 0) {
				decode_emit(st, out,
					    (unsigned char)(decode_hex(st->pend[0]) << 4 | decode_hex(c)));
				st->pend_len = 0;
				st->qp_state = QP_NORMAL;
				return;
			}
			decode_emit(st, out, '=');
			decode_pend_flush(st, out);
			st->qp_state = QP_NORMAL;
			continue;
		case QP_EQ_WS:
			if (c == ' ' || c == '\t') {
				decode_pend_add(st, out, c);
				return;
			}
			if (c == '\r') {
				st->qp_state = QP_EQ_CR;
				return;
			}
			if (c == '\n') {
				st->pend_len = 0;
				st->qp_state = QP_NORMAL;
				return;
			}
			decode_emit(st, out, '=');
			decode_pend_flush(st, out);
			st->qp_state = QP_NORMAL;
			continue;
		case QP_EQ_CR:
			if (c == '\n') { /* "=" [WSP] CRLF: soft line break */
				st->pend_len = 0;
				st->qp_state = QP_NORMAL;
				return;
			}
			decode_emit(st, out, '=');
			decode_pend_flush(st, out);
			decode_emit(st, out, '\r');
			st->qp_state = QP_NORMAL;
			continue;
		}
	}
}

int decode_feed(struct decode_state *st, struct buf *out, const void *in, size_t len)
{
	const unsigned char *p = in;
	size_t need;
	if (size_mul(len, 2, &need) < 0 || size_add(need, DECODE_PENDING_MAX * 2 + 8, &need) < 0 ||
	    buf_reserve(out, need) < 0)
		return -1;
	switch (st->enc) {
	case MIME_ENC_BASE64:
		decode_b64(st, out, p, len);
		break;
	case MIME_ENC_QP:
		for (size_t i = 0; i < len; i++)
			decode_qp_byte(st, out, p[i]);
		break;
	case MIME_ENC_UNKNOWN:
		return -1;
	default:
		decode_emit_n(st, out, p, len);
		break;
	}
	return 0;
}

int decode_finish(struct decode_state *st, struct buf *out)
{
	if (buf_reserve(out, DECODE_PENDING_MAX * 2 + 4) < 0)
		return -1;
	if (st->enc == MIME_ENC_QP) {
		switch (st->qp_state) {
		case QP_NORMAL:
			/* trailing WSP at the end of the data is deleted; a lone CR stays */
			if (st->pend_len > 0 && st->pend[st->pend_len - 1] == '\r')
				decode_emit(st, out, '\r');
			break;
		case QP_EQ_HEX1:
			decode_emit(st, out, '=');
			decode_pend_flush(st, out);
			break;
		default:
			break; /* "=" [WSP] [CR] at the end: a soft line break */
		}
		st->pend_len = 0;
		st->qp_state = QP_NORMAL;
	}
	return 0;
}

int decode_all(struct buf *out, enum mime_encoding enc, unsigned int flags, const void *in,
	       size_t len)
{
	struct decode_state st;
	struct buf tmp;
	size_t start = out->len;
	int ret = 0;
	if (decode_init(&st, enc, flags) < 0)
		return -1;
	/* decode through a small scratch buffer so out's own maximum is checked exactly (a
	 * caller may size it with decode_size()) */
	buf_init(&tmp, 2 * 4096 + 4 * DECODE_PENDING_MAX);
	const unsigned char *p = in;
	for (size_t off = 0; off <= len && ret == 0;) {
		size_t n = len - off < 4096 ? len - off : 4096;
		if (n > 0)
			decode_feed(&st, &tmp, p + off, n);
		else
			decode_finish(&st, &tmp);
		if (buf_append(out, tmp.data, tmp.len) < 0)
			ret = -1;
		buf_reset(&tmp);
		off += n;
		if (n == 0)
			break;
	}
	buf_free(&tmp);
	if (ret < 0 && out->data != NULL) {
		out->len = start;
		out->data[start] = '\0';
	}
	return ret;
}

int decode_size(enum mime_encoding enc, unsigned int flags, const void *in, size_t len,
		uint64_t *size_r)
{
	struct decode_state st;
	struct buf tmp;
	uint64_t total = 0;
	if (decode_init(&st, enc, flags) < 0)
		return -1;
	buf_init(&tmp, 2 * 4096 + 4 * DECODE_PENDING_MAX);
	const unsigned char *p = in;
	for (size_t off = 0; off < len;) {
		size_t n = len - off < 4096 ? len - off : 4096;
		decode_feed(&st, &tmp, p + off, n);
		total += tmp.len;
		buf_reset(&tmp);
		off += n;
	}
	decode_finish(&st, &tmp);
	total += tmp.len;
	buf_free(&tmp);
	*size_r = total;
	return 0;
}
