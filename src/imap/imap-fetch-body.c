/* imap-fetch-body.c: body sections as bounded streams read from the message file.
 * Traps: the top-level header is found with one pread of the first 64 KiB; the whole file is
 * mapped only when that is not enough or the MIME tree is needed, and the pages are dropped
 * after parsing; the bytes sent are read with pread in chunks. A mapping past the end of a
 * shortened file would SIGBUS, so the file size is checked first. HEADER.FIELDS output is a
 * filter over the stored header, resumable at any field; BINARY output continues from a saved
 * decoder state, and a window that starts late is reached by decoding and discarding (sizes
 * need a full first pass). */
#include "imap-fetch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/xmalloc.h"
#include "mail/header.h"
#include "mail/mime.h"
#include "mail/mime-parts.h"

#define FETCH_IN_CHUNK (16 * 1024)
#define FETCH_MAP_DROP_MIN (256 * 1024)
#define FETCH_HEAD_MAX (64 * 1024)

void imap_fetch_msg_init(struct imap_fetch_msg *msg, int fd, uint64_t size, struct pool *pool)
{
	memset(msg, 0, sizeof(*msg));
	msg->fd = fd;
	msg->size = size;
	msg->pool = pool;
}

void imap_fetch_msg_deinit(struct imap_fetch_msg *msg)
{
	if (msg->map != NULL && msg->size > 0)
		munmap((void *)msg->map, msg->size);
	msg->map = NULL;
	msg->root = NULL;
}

static int fetch_check_size(int fd, uint64_t need, const char **error_r)
{
	struct stat st;
	if (fstat(fd, &st) < 0) {
		*error_r = "Cannot stat the message file";
		return -1;
	}
	if ((uint64_t)st.st_size < need) {
		*error_r = "The message file is shorter than recorded";
		return -1;
	}
	return 0;
}

static int fetch_pread(int fd, void *buf, size_t n, uint64_t off, const char **error_r)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = pread(fd, (char *)buf + got, n - got, (off_t)(off + got));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			*error_r = "Cannot read the message file";
			return -1;
		}
		if (r == 0) {
			*error_r = "The message file is shorter than recorded";
			return -1;
		}
		got += (size_t)r;
	}
	return 0;
}

static int fetch_msg_map(struct imap_fetch_msg *msg, const char **error_r)
{
	if (msg->map != NULL)
		return 0;
	if (msg->size == 0) {
		msg->map = (const unsigned char *)"";
		return 0;
	}
	if (msg->size > SIZE_MAX || fetch_check_size(msg->fd, msg->size, error_r) < 0) {
		if (msg->size > SIZE_MAX)
			*error_r = "Message too big to map";
		return -1;
	}
	void *p = mmap(NULL, (size_t)msg->size, PROT_READ, MAP_PRIVATE, msg->fd, 0);
	if (p == MAP_FAILED) {
		*error_r = "Cannot map the message file";
		return -1;
	}
	msg->map = p;
	return 0;
}

/* The top-level header's size. Usually the header sits in the first FETCH_HEAD_MAX bytes:
 * one pread, no mapping (FETCH 1:* BODY.PEEK[HEADER.FIELDS (...)] over a big mailbox). */
static int fetch_msg_header(struct imap_fetch_msg *msg, const char **error_r)
{
	if (msg->header_known)
		return 0;
	if (msg->map == NULL && msg->head == NULL) {
		size_t n = msg->size < FETCH_HEAD_MAX ? (size_t)msg->size : FETCH_HEAD_MAX;
		unsigned char *head = pool_alloc(msg->pool, n + 1);
		if (fetch_pread(msg->fd, head, n, 0, error_r) < 0)
			return -1;
		msg->head = head;
		msg->head_len = n;
	}
	if (msg->map == NULL) {
		size_t h = mail_header_block_size(msg->head, msg->head_len);
		/* a blank line found, or the whole message read: the answer is certain */
		if (h < msg->head_len || msg->head_len == msg->size) {
			msg->header_size = h;
			msg->header_known = true;
			return 0;
		}
		if (fetch_msg_map(msg, error_r) < 0)
			return -1;
	}
	msg->header_size = mail_header_block_size(msg->map, (size_t)msg->size);
	msg->header_known = true;
	return 0;
}

/* Bytes [off, off + len) of the message, from the first bytes read or the mapping. */
static const unsigned char *fetch_msg_bytes(struct imap_fetch_msg *msg, uint64_t off,
					    uint64_t len, const char **error_r)
{
	if (msg->map == NULL && msg->head != NULL && off + len <= msg->head_len)
		return msg->head + off;
	if (fetch_msg_map(msg, error_r) < 0)
		return NULL;
	return msg->map + off;
}

static int fetch_msg_tree(struct imap_fetch_msg *msg, const char **error_r)
{
	if (msg->root != NULL)
		return 0;
	/* the part table kept at delivery: no byte of the message is read */
	if (msg->parts != NULL) {
		msg->root = mime_parts_decode(msg->parts, msg->parts_size, msg->size, msg->pool);
		if (msg->root != NULL)
			return 0;
		/* a damaged table: the message itself is the truth */
	}
	if (fetch_msg_map(msg, error_r) < 0)
		return -1;
	msg->root = mime_parse(msg->pool, msg->map, (size_t)msg->size, NULL);
	/* the tree holds offsets, not the text: give the pages back so a big message does not
	 * stay in this process's memory while it streams */
	if (msg->size >= FETCH_MAP_DROP_MIN)
		(void)madvise((void *)msg->map, (size_t)msg->size, MADV_DONTNEED);
	return 0;
}

/* Length of the empty line that ends a header block of len bytes (CRLF or LF), 0 if the
 * header ended at the end of its part without one (RFC 9051 6.4.5.1: the blank line belongs
 * to every header fetch except then). */
static uint64_t header_blank_len(const unsigned char *h, size_t len)
{
	if (len >= 2 && h[len - 2] == '\r' && h[len - 1] == '\n' && (len == 2 || h[len - 3] == '\n'))
		return 2;
	if (len >= 1 && h[len - 1] == '\n' && (len == 1 || h[len - 2] == '\n'))
		return 1;
	return 0;
}

static bool header_field_listed(const struct mail_header_field *f,
				const struct imap_fetch_section *sec)
{
	for (size_t i = 0; i < sec->field_count; i++) {
		/* RFC 9051 6.4.5.1: ASCII-range case-insensitive, otherwise exact */
		if (mail_header_name_is(f, sec->fields[i]))
			return true;
	}
	return false;
}

/* Walk the filtered header from (*in_pos, *out_pos): each kept field is the stored bytes of
 * the field (continuation lines included), then the blank line. The part of the output in
 * [wstart, wend) is appended to out (out NULL: only count). Stops at the first segment that
 * reaches past wend, leaving the cursor at its start; *in_pos = hlen + 1 once all is done. */
static void header_walk(const unsigned char *h, size_t hlen, uint64_t blank_len,
			const struct imap_fetch_section *sec, uint64_t *in_pos, uint64_t *out_pos,
			uint64_t wstart, uint64_t wend, struct buf *out)
{
	bool keep_listed = sec->text != IMAP_SECTION_HEADER_FIELDS_NOT;
	while (*in_pos <= hlen) {
		struct mail_header_iter it;
		struct mail_header_field f;
		uint64_t seg_off, seg_len, next_in;
		mail_header_iter_init(&it, h, hlen);
		it.pos = (size_t)*in_pos;
		if (mail_header_iter_next(&it, &f) > 0) {
			if (header_field_listed(&f, sec) != keep_listed) {
				*in_pos = it.pos;
				continue;
			}
			seg_off = f.offset;
			seg_len = f.size;
			next_in = it.pos;
		} else {
			seg_off = hlen - blank_len;
			seg_len = blank_len;
			next_in = (uint64_t)hlen + 1;
		}
		if (out != NULL) {
			uint64_t a = *out_pos > wstart ? *out_pos : wstart;
			uint64_t b = *out_pos + seg_len < wend ? *out_pos + seg_len : wend;
			if (a < b)
				buf_append(out, h + seg_off + (a - *out_pos), (size_t)(b - a));
		}
		if (*out_pos + seg_len > wend)
			return;
		*out_pos += seg_len;
		*in_pos = next_in;
	}
}

/* Map [off, off + len) of fd: the mapping base and length to unmap, the data pointer. */
static const unsigned char *fetch_map_range(int fd, uint64_t off, uint64_t len, void **base_r,
					    size_t *map_len_r, const char **error_r)
{
	if (len == 0) {
		*base_r = NULL;
		*map_len_r = 0;
		return (const unsigned char *)"";
	}
	long page = sysconf(_SC_PAGESIZE);
	uint64_t poff = off - off % (uint64_t)(page > 0 ? page : 4096);
	if (fetch_check_size(fd, off + len, error_r) < 0)
		return NULL;
	size_t mlen = (size_t)(off + len - poff);
	void *p = mmap(NULL, mlen, PROT_READ, MAP_PRIVATE, fd, (off_t)poff);
	if (p == MAP_FAILED) {
		*error_r = "Cannot map the message file";
		return NULL;
	}
	*base_r = p;
	*map_len_r = mlen;
	return (const unsigned char *)p + (off - poff);
}

/* Decode [off, off + len) once: the decoded size (in *total_r; a pass may stop early once past
 * stop_at) and whether a NUL falls in [wstart, wend). */
static enum imap_fetch_result decode_pass(const struct imap_fetch_stream *st, int fd,
					  uint64_t wstart, uint64_t wend, uint64_t stop_at,
					  uint64_t *total_r, bool *nul_r, const char **error_r)
{
	struct decode_state d;
	if (decode_init(&d, st->enc, st->decode_flags) < 0)
		return IMAP_FETCH_UNKNOWN_CTE;
	unsigned char *in = xmalloc(FETCH_IN_CHUNK);
	struct buf tmp;
	buf_init(&tmp, 2 * FETCH_IN_CHUNK + 512);
	uint64_t pos = 0, total = 0;
	bool nul = false, finished = false;
	enum imap_fetch_result ret = IMAP_FETCH_OK;
	while (!finished) {
		buf_reset(&tmp);
		if (pos < st->len) {
			size_t n = st->len - pos < FETCH_IN_CHUNK ? (size_t)(st->len - pos)
								  : FETCH_IN_CHUNK;
			if (fetch_pread(fd, in, n, st->off + pos, error_r) < 0) {
				ret = IMAP_FETCH_ERROR;
				break;
			}
			pos += n;
			if (decode_feed(&d, &tmp, in, n) < 0)
				xabort("decode_feed: chunk buffer too small");
		} else {
			if (decode_finish(&d, &tmp) < 0)
				xabort("decode_finish: chunk buffer too small");
			finished = true;
		}
		uint64_t a = total > wstart ? total : wstart;
		uint64_t b = total + tmp.len < wend ? total + tmp.len : wend;
		if (!nul && a < b && memchr(tmp.data + (a - total), '\0', (size_t)(b - a)) != NULL)
			nul = true;
		total += tmp.len;
		if (total >= stop_at)
			break;
	}
	buf_free(&tmp);
	free(in);
	*total_r = total;
	*nul_r = nul;
	return ret;
}

/* Is there a NUL in bytes [off, off + len) of fd? */
static int range_has_nul(int fd, uint64_t off, uint64_t len, bool *nul_r, const char **error_r)
{
	unsigned char *in = xmalloc(FETCH_IN_CHUNK);
	*nul_r = false;
	for (uint64_t pos = 0; pos < len && !*nul_r;) {
		size_t n = len - pos < FETCH_IN_CHUNK ? (size_t)(len - pos) : FETCH_IN_CHUNK;
		if (fetch_pread(fd, in, n, off + pos, error_r) < 0) {
			free(in);
			return -1;
		}
		*nul_r = memchr(in, '\0', n) != NULL;
		pos += n;
	}
	free(in);
	return 0;
}

static bool part_is_leaf(const struct mime_part *part)
{
	return (part->flags & (MIME_PART_FLAG_MULTIPART | MIME_PART_FLAG_RFC822)) == 0;
}

enum imap_fetch_result imap_fetch_stream_init(struct imap_fetch_stream *st,
					      const struct imap_fetch_item *item,
					      struct imap_fetch_msg *msg, const char **error_r)
{
	const struct imap_fetch_section *sec = &item->section;
	bool binary = item->kind != IMAP_FETCH_BODY_SECTION;
	const struct mime_part *part = NULL;
	memset(st, 0, sizeof(*st));
	st->src = IMAP_FETCH_SRC_RANGE;
	st->section = sec;
	st->off = 0;
	st->len = msg->size;
	if (sec->part_count > 0) {
		if (fetch_msg_tree(msg, error_r) < 0)
			return IMAP_FETCH_ERROR;
		part = mime_part_find(msg->root, sec->parts, sec->part_count);
		if (part == NULL) {
			/* no such part: NIL (and BINARY.SIZE 0) */
			st->src = IMAP_FETCH_SRC_NIL;
			st->len = 0;
			return IMAP_FETCH_OK;
		}
	}
	uint64_t h_off = 0, h_len = 0, b_off = 0, b_len = 0;
	bool have_msg = true;
	switch (sec->text) {
	case IMAP_SECTION_ALL:
		if (part != NULL) {
			st->off = part->body_offset;
			st->len = part->body_size;
			if (binary && part_is_leaf(part)) {
				if (part->enc == MIME_ENC_UNKNOWN)
					return IMAP_FETCH_UNKNOWN_CTE;
				st->src = IMAP_FETCH_SRC_DECODE;
				st->enc = part->enc;
				/* RFC 9051 7.5.2: textual sections go with CRLF line ends */
				st->decode_flags = (part->flags & MIME_PART_FLAG_TEXT) != 0
							   ? DECODE_FLAG_CRLF : 0;
			}
		}
		break;
	case IMAP_SECTION_MIME:
		st->off = part->header_offset;
		st->len = part->header_size;
		break;
	case IMAP_SECTION_HEADER:
	case IMAP_SECTION_HEADER_FIELDS:
	case IMAP_SECTION_HEADER_FIELDS_NOT:
	case IMAP_SECTION_TEXT:
		if (part != NULL) {
			/* HEADER and TEXT of a part name its message/rfc822 or message/global
			 * message; any other part has none: an empty string */
			const struct mime_part *m = mime_part_message(part);
			if (m == NULL) {
				have_msg = false;
			} else {
				h_off = m->header_offset;
				h_len = m->header_size;
				b_off = m->body_offset;
				b_len = m->body_size;
			}
		} else {
			if (fetch_msg_header(msg, error_r) < 0)
				return IMAP_FETCH_ERROR;
			h_len = msg->header_size;
			b_off = h_len;
			b_len = msg->size - h_len;
		}
		if (!have_msg) {
			st->len = 0;
		} else if (sec->text == IMAP_SECTION_TEXT) {
			st->off = b_off;
			st->len = b_len;
		} else {
			st->off = h_off;
			st->len = h_len;
			if (sec->text != IMAP_SECTION_HEADER)
				st->src = IMAP_FETCH_SRC_HEADER;
		}
		break;
	}

	/* the total size, then the window */
	bool nul = false;
	uint64_t wstart = item->partial ? item->origin : 0;
	uint64_t wend = UINT64_MAX;
	if (item->partial)
		wend = item->octets > UINT64_MAX - wstart ? UINT64_MAX : wstart + item->octets;
	switch (st->src) {
	case IMAP_FETCH_SRC_NIL:
		break;
	case IMAP_FETCH_SRC_RANGE:
		st->total = st->len;
		break;
	case IMAP_FETCH_SRC_HEADER: {
		const unsigned char *h = fetch_msg_bytes(msg, st->off, st->len, error_r);
		if (h == NULL)
			return IMAP_FETCH_ERROR;
		uint64_t in_pos = 0, out_pos = 0;
		st->blank_len = header_blank_len(h, (size_t)st->len);
		header_walk(h, (size_t)st->len, st->blank_len, sec, &in_pos, &out_pos, 0, UINT64_MAX,
			    NULL);
		st->total = out_pos;
		break;
	}
	case IMAP_FETCH_SRC_DECODE: {
		/* BINARY.SIZE needs the whole size; BINARY only enough to fill its window */
		uint64_t stop = item->kind == IMAP_FETCH_BINARY ? wend : UINT64_MAX;
		enum imap_fetch_result r = decode_pass(st, msg->fd, wstart, wend, stop, &st->total,
						       &nul, error_r);
		if (r != IMAP_FETCH_OK)
			return r;
		decode_init(&st->dec, st->enc, st->decode_flags);
		break;
	}
	}
	st->start = wstart < st->total ? wstart : st->total;
	st->size = st->total - st->start;
	if (item->partial && st->size > item->octets)
		st->size = item->octets;
	if (item->kind == IMAP_FETCH_BINARY) {
		if (st->src == IMAP_FETCH_SRC_RANGE &&
		    range_has_nul(msg->fd, st->off + st->start, st->size, &nul, error_r) < 0)
			return IMAP_FETCH_ERROR;
		st->literal8 = nul;
	} else if (item->kind == IMAP_FETCH_BODY_SECTION) {
		st->nul_to_80 = true;
	}
	return IMAP_FETCH_OK;
}

static int stream_read_range(struct imap_fetch_stream *st, int fd, struct buf *out, size_t max,
			     const char **error_r)
{
	uint64_t left = st->size - st->done;
	size_t n = left < max ? (size_t)left : max;
	if (buf_reserve(out, n) < 0) {
		*error_r = "Output chunk too small";
		return IMAP_FETCH_ERROR;
	}
	unsigned char *t = buf_tail(out);
	if (fetch_pread(fd, t, n, st->off + st->start + st->done, error_r) < 0)
		return IMAP_FETCH_ERROR;
	if (st->nul_to_80) {
		for (unsigned char *z = memchr(t, '\0', n); z != NULL;
		     z = memchr(z + 1, '\0', n - (size_t)(z + 1 - t)))
			*z = 0x80;
	}
	buf_commit(out, n);
	st->done += n;
	return 0;
}

static int stream_read_header(struct imap_fetch_stream *st, int fd, struct buf *out, size_t max,
			      const char **error_r)
{
	void *base = NULL, *copy = NULL;
	size_t map_len = 0;
	const unsigned char *h;
	if (buf_reserve(out, max) < 0) {
		*error_r = "Output chunk too small";
		return IMAP_FETCH_ERROR;
	}
	if (st->len <= FETCH_HEAD_MAX) {
		/* a usual header: read it, cheaper than a mapping */
		copy = xmalloc((size_t)st->len + 1);
		if (fetch_pread(fd, copy, (size_t)st->len, st->off, error_r) < 0) {
			free(copy);
			return IMAP_FETCH_ERROR;
		}
		h = copy;
	} else {
		h = fetch_map_range(fd, st->off, st->len, &base, &map_len, error_r);
		if (h == NULL)
			return IMAP_FETCH_ERROR;
	}
	size_t before = out->len;
	uint64_t wstart = st->start + st->done;
	uint64_t wend = st->start + st->size;
	if (wend - wstart > max)
		wend = wstart + max;
	header_walk(h, (size_t)st->len, st->blank_len, st->section, &st->in_pos, &st->out_pos,
		    wstart, wend, out);
	if (base != NULL)
		munmap(base, map_len);
	free(copy);
	st->done += out->len - before;
	if (out->len - before != wend - wstart) {
		*error_r = "The message header changed while it was sent";
		return IMAP_FETCH_ERROR;
	}
	return 0;
}

static int stream_read_decode(struct imap_fetch_stream *st, int fd, struct buf *out, size_t max,
			      const char **error_r)
{
	unsigned char *in = xmalloc(FETCH_IN_CHUNK);
	struct buf tmp;
	buf_init(&tmp, 2 * FETCH_IN_CHUNK + 512);
	size_t room = max;
	int ret = 0;
	/* each round decodes a chunk and keeps the window's share of it; a chunk decodes to
	 * at most twice its size (LF -> CRLF), so it is sized to what room is left */
	while (st->done < st->size && room >= 1024) {
		buf_reset(&tmp);
		if (st->in_pos < st->len) {
			size_t n = (room - 512) / 2;
			if (n > FETCH_IN_CHUNK)
				n = FETCH_IN_CHUNK;
			if (st->len - st->in_pos < n)
				n = (size_t)(st->len - st->in_pos);
			if (fetch_pread(fd, in, n, st->off + st->in_pos, error_r) < 0) {
				ret = IMAP_FETCH_ERROR;
				break;
			}
			st->in_pos += n;
			if (decode_feed(&st->dec, &tmp, in, n) < 0)
				xabort("decode_feed: chunk buffer too small");
		} else if (st->in_pos == st->len) {
			if (decode_finish(&st->dec, &tmp) < 0)
				xabort("decode_finish: chunk buffer too small");
			st->in_pos++;
		} else {
			*error_r = "The message part changed while it was sent";
			ret = IMAP_FETCH_ERROR;
			break;
		}
		uint64_t wstart = st->start + st->done, wend = st->start + st->size;
		uint64_t a = st->out_pos > wstart ? st->out_pos : wstart;
		uint64_t b = st->out_pos + tmp.len < wend ? st->out_pos + tmp.len : wend;
		if (a < b) {
			if (buf_append(out, tmp.data + (a - st->out_pos), (size_t)(b - a)) < 0) {
				*error_r = "Output chunk too small";
				ret = IMAP_FETCH_ERROR;
				break;
			}
			st->done += b - a;
			room -= (size_t)(b - a);
		}
		st->out_pos += tmp.len;
	}
	buf_free(&tmp);
	free(in);
	return ret;
}

int imap_fetch_stream_read(struct imap_fetch_stream *st, int fd, struct buf *out, size_t max,
			   const char **error_r)
{
	if (max < 1024)
		max = 1024;
	if (st->done < st->size) {
		int ret;
		switch (st->src) {
		case IMAP_FETCH_SRC_RANGE:
			ret = stream_read_range(st, fd, out, max, error_r);
			break;
		case IMAP_FETCH_SRC_HEADER:
			ret = stream_read_header(st, fd, out, max, error_r);
			break;
		case IMAP_FETCH_SRC_DECODE:
			ret = stream_read_decode(st, fd, out, max, error_r);
			break;
		default:
			ret = 0;
			break;
		}
		if (ret < 0)
			return ret;
	}
	return st->done >= st->size ? 1 : 0;
}

int imap_fetch_stream_head(const struct imap_fetch_stream *st, struct buf *out)
{
	if (st->src == IMAP_FETCH_SRC_NIL)
		return buf_append_str(out, "NIL");
	if (st->size == 0)
		return buf_append_str(out, "\"\"");
	return buf_printf(out, "%s{%llu}\r\n", st->literal8 ? "~" : "",
			  (unsigned long long)st->size);
}
