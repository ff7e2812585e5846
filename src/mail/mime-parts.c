/* mime-parts.c: encode and decode the part table (mime-parts.h).
 * Traps: the decoder trusts nothing: a table is read from the database, which a damaged disk
 * or a hand edit can corrupt, so every count, nesting level and range is checked before a
 * part is linked in, and recursion depth is bounded by MIME_DEFAULT_MAX_DEPTH. */
#include "mail/mime-parts.h"

#include <string.h>

#include "lib/pool.h"
#include "mail/decode.h"

#define MIME_PARTS_VERSION 1

static int put_uint(struct buf *out, uint64_t v)
{
	unsigned char b[10];
	size_t n = 0;
	do {
		b[n] = (unsigned char)(v & 0x7f);
		v >>= 7;
		if (v != 0)
			b[n] |= 0x80;
		n++;
	} while (v != 0);
	return buf_append(out, b, n);
}

static int encode_part(const struct mime_part *p, struct buf *out)
{
	int ret = put_uint(out, p->child_count);
	ret |= put_uint(out, p->flags);
	ret |= put_uint(out, (uint64_t)p->enc);
	ret |= put_uint(out, p->header_offset);
	ret |= put_uint(out, p->header_size);
	ret |= put_uint(out, p->body_size);
	for (const struct mime_part *c = p->children; c != NULL && ret == 0; c = c->next)
		ret = encode_part(c, out);
	return ret;
}

int mime_parts_encode(const struct mime_part *root, struct buf *out)
{
	int ret = buf_append_byte(out, MIME_PARTS_VERSION);
	if (ret == 0)
		ret = encode_part(root, out);
	return ret < 0 ? -1 : 0;
}

struct parts_reader {
	const unsigned char *p, *end;
	uint64_t msg_size;
	unsigned parts;
	struct pool *pool;
};

static int get_uint(struct parts_reader *r, uint64_t *v_r)
{
	uint64_t v = 0;
	for (unsigned shift = 0; shift < 64; shift += 7) {
		if (r->p == r->end)
			return -1;
		unsigned char b = *r->p++;
		if (shift == 63 && (b & 0x7e) != 0)
			return -1; /* more than 64 bits */
		v |= (uint64_t)(b & 0x7f) << shift;
		if ((b & 0x80) == 0) {
			*v_r = v;
			return 0;
		}
	}
	return -1;
}

/* One part and its subtree, within [lo, hi) of the message. */
static struct mime_part *decode_part(struct parts_reader *r, struct mime_part *parent,
				     unsigned depth, uint64_t lo, uint64_t hi)
{
	uint64_t children, flags, enc, h_off, h_size, b_size;
	if (depth > MIME_DEFAULT_MAX_DEPTH || ++r->parts > MIME_DEFAULT_MAX_PARTS ||
	    get_uint(r, &children) < 0 || get_uint(r, &flags) < 0 || get_uint(r, &enc) < 0 ||
	    get_uint(r, &h_off) < 0 || get_uint(r, &h_size) < 0 || get_uint(r, &b_size) < 0)
		return NULL;
	if (children > MIME_DEFAULT_MAX_PARTS || flags > UINT32_MAX || enc > MIME_ENC_UNKNOWN ||
	    h_off < lo || h_off > hi || h_size > hi - h_off || b_size > hi - h_off - h_size)
		return NULL;
	/* a message/rfc822 part holds exactly its message; a multipart at least one part */
	if ((flags & MIME_PART_FLAG_RFC822) != 0 ? children != 1
	    : (flags & MIME_PART_FLAG_MULTIPART) != 0 ? children == 0 : children != 0)
		return NULL;
	struct mime_part *p = pool_alloc(r->pool, sizeof(*p));
	memset(p, 0, sizeof(*p));
	p->parent = parent;
	p->depth = depth;
	p->flags = (unsigned)flags;
	p->enc = (enum mime_encoding)enc;
	p->header_offset = (size_t)h_off;
	p->header_size = (size_t)h_size;
	p->body_offset = (size_t)(h_off + h_size);
	p->body_size = (size_t)b_size;
	p->child_count = (unsigned)children;
	struct mime_part **tail = &p->children;
	for (uint64_t i = 0; i < children; i++) {
		struct mime_part *c = decode_part(r, p, depth + 1, p->body_offset,
						  p->body_offset + p->body_size);
		if (c == NULL)
			return NULL;
		*tail = c;
		tail = &c->next;
	}
	return p;
}

struct mime_part *mime_parts_decode(const void *data, size_t len, uint64_t msg_size,
				    struct pool *pool)
{
	const unsigned char *d = data;
	if (len < 2 || d[0] != MIME_PARTS_VERSION || msg_size > SIZE_MAX)
		return NULL;
	struct parts_reader r = {.p = d + 1, .end = d + len, .msg_size = msg_size, .pool = pool};
	struct mime_part *root = decode_part(&r, NULL, 0, 0, msg_size);
	if (root == NULL || r.p != r.end)
		return NULL;
	return root;
}
