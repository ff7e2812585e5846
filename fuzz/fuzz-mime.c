/* fuzz-mime.c: libFuzzer target for the mail/ layer: MIME parsing with ENVELOPE / BODY /
 * BODYSTRUCTURE rendering, section lookup and transfer decoding (the default mode, for any
 * input not starting with a byte below 0x08), and, selected by such a first byte, RFC 2047
 * decoding, modified UTF-7 both ways, address/date/parameter parsing, charset conversion and
 * incremental decoding. Invariants are checked with abort(): offsets inside the message, sizes
 * consistent, rendered IMAP balanced with well-formed strings, UTF-8 output well-formed,
 * modified UTF-7 canonical round trips, incremental decoding equal to whole decoding; the
 * part table round trip and hostile part tables (first byte 7). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/pool.h"
#include "mail/address.h"
#include "mail/bodystructure.h"
#include "mail/charset.h"
#include "mail/date.h"
#include "mail/decode.h"
#include "mail/envelope.h"
#include "mail/header.h"
#include "mail/mime-param.h"
#include "mail/mime.h"
#include "mail/mime-parts.h"
#include "mail/mutf7.h"
#include "mail/rfc2047.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(x)            \
	do {                      \
		if (!(x))         \
			abort();  \
	} while (0)

/* The rendered text is a well-formed sequence of IMAP tokens with balanced parentheses:
 * quoted strings closed and escaped properly, literal counts matching, no NUL. */
static void fuzz_check_imap(const unsigned char *s, size_t len)
{
	long depth = 0;
	size_t i = 0;
	FUZZ_ASSERT(len > 0 && s[0] == '(');
	while (i < len) {
		unsigned char c = s[i];
		FUZZ_ASSERT(c != 0);
		if (c == '(') {
			depth++;
			i++;
		} else if (c == ')') {
			depth--;
			FUZZ_ASSERT(depth >= 0);
			i++;
			if (depth == 0)
				FUZZ_ASSERT(i == len);
		} else if (c == '"') {
			for (i++;; i++) {
				FUZZ_ASSERT(i < len);
				FUZZ_ASSERT(s[i] != '\r' && s[i] != '\n' && s[i] < 0x80 && s[i] != 0);
				if (s[i] == '\\') {
					i++;
					FUZZ_ASSERT(i < len && (s[i] == '"' || s[i] == '\\'));
				} else if (s[i] == '"') {
					i++;
					break;
				}
			}
		} else if (c == '{') {
			size_t n = 0;
			for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++)
				n = n * 10 + (size_t)(s[i] - '0');
			FUZZ_ASSERT(i + 3 <= len && s[i] == '}' && s[i + 1] == '\r' && s[i + 2] == '\n');
			i += 3;
			FUZZ_ASSERT(n <= len - i && memchr(s + i, 0, n) == NULL);
			i += n;
		} else if (c == ' ') {
			FUZZ_ASSERT(i + 1 < len && s[i + 1] != ' ' && s[i + 1] != ')');
			i++;
		} else {
			/* NIL or a number */
			size_t st = i;
			while (i < len && ((s[i] >= '0' && s[i] <= '9') || s[i] == 'N' || s[i] == 'I' ||
					   s[i] == 'L'))
				i++;
			FUZZ_ASSERT(i > st);
			FUZZ_ASSERT((i - st == 3 && memcmp(s + st, "NIL", 3) == 0) ||
				    strspn((const char *)s + st, "0123456789") >= i - st);
		}
	}
	FUZZ_ASSERT(depth == 0);
}

static unsigned int fuzz_count_parts(const struct mime_part *p)
{
	unsigned int n = 1;
	for (const struct mime_part *c = p->children; c != NULL; c = c->next)
		n += fuzz_count_parts(c);
	return n;
}

static void fuzz_check_part(const uint8_t *msg, size_t len, struct pool *pool,
			    const struct mime_part *p, unsigned int max_depth)
{
	FUZZ_ASSERT(p->header_offset <= len && p->header_size <= len - p->header_offset);
	FUZZ_ASSERT(p->header_offset + p->header_size == p->body_offset);
	FUZZ_ASSERT(p->body_size <= len - p->body_offset);
	FUZZ_ASSERT(p->body_lines <= p->body_size);
	FUZZ_ASSERT(p->depth <= max_depth + 1);
	FUZZ_ASSERT(p->type != NULL && p->subtype != NULL && p->type_lc != NULL);
	if ((p->flags & (MIME_PART_FLAG_MULTIPART | MIME_PART_FLAG_RFC822)) != 0)
		FUZZ_ASSERT(p->children != NULL);
	if ((p->flags & MIME_PART_FLAG_RFC822) != 0)
		FUZZ_ASSERT(p->child_count == 1 && mime_part_message(p) == p->children);
	unsigned int n = 0;
	size_t prev_end = p->body_offset;
	for (const struct mime_part *c = p->children; c != NULL; c = c->next) {
		n++;
		FUZZ_ASSERT(c->parent == p && c->depth == p->depth + 1);
		FUZZ_ASSERT(c->header_offset >= prev_end);
		FUZZ_ASSERT(c->body_offset + c->body_size <= p->body_offset + p->body_size);
		prev_end = c->body_offset + c->body_size;
		fuzz_check_part(msg, len, pool, c, max_depth);
	}
	FUZZ_ASSERT(n == p->child_count);

	/* transfer decoding: whole, incremental and size-only agree */
	struct buf out;
	buf_init(&out, 1 << 24);
	unsigned int flags = (p->flags & MIME_PART_FLAG_TEXT) != 0 ? DECODE_FLAG_CRLF : 0;
	uint64_t dsize = 0;
	int r = decode_all(&out, p->enc, flags, msg + p->body_offset, p->body_size);
	int rs = decode_size(p->enc, flags, msg + p->body_offset, p->body_size, &dsize);
	FUZZ_ASSERT((r < 0) == (rs < 0));
	if (r == 0)
		FUZZ_ASSERT(dsize == out.len);
	buf_reset(&out);
	if (mime_part_filename(p, &out) > 0)
		FUZZ_ASSERT(charset_utf8_valid(out.data, out.len));
	buf_free(&out);
}

/* Walk every section number of the tree (RFC 9051 6.4.5) and check that
 * mime_part_find_section agrees: below p (NULL: the root level), the children of the
 * multipart in question, or for a message that is not multipart, part 1 = the message. */
static void fuzz_check_sections(const struct mime_part *root, const struct mime_part *p,
				char *sec, size_t len)
{
	const struct mime_part *base;
	if (len > 200)
		return;
	if (p == NULL)
		base = root;
	else if ((p->flags & MIME_PART_FLAG_RFC822) != 0)
		base = p->children;
	else if ((p->flags & MIME_PART_FLAG_MULTIPART) != 0)
		base = p;
	else
		return;
	if ((base->flags & MIME_PART_FLAG_MULTIPART) == 0) {
		int n = snprintf(sec + len, 256 - len, "%s1", len > 0 ? "." : "");
		if (n < 0 || (size_t)n >= 256 - len)
			return;
		FUZZ_ASSERT(mime_part_find_section(root, sec, len + (size_t)n) == base);
		if ((base->flags & MIME_PART_FLAG_RFC822) != 0)
			fuzz_check_sections(root, base, sec, len + (size_t)n);
		return;
	}
	unsigned int i = 1;
	for (const struct mime_part *c = base->children; c != NULL && i <= 20; c = c->next, i++) {
		int n = snprintf(sec + len, 256 - len, "%s%u", len > 0 ? "." : "", i);
		if (n < 0 || (size_t)n >= 256 - len)
			return;
		FUZZ_ASSERT(mime_part_find_section(root, sec, len + (size_t)n) == c);
		fuzz_check_sections(root, c, sec, len + (size_t)n);
	}
}

static bool fuzz_parts_same(const struct mime_part *a, const struct mime_part *b)
{
	if (a->flags != b->flags || a->enc != b->enc || a->header_offset != b->header_offset ||
	    a->header_size != b->header_size || a->body_size != b->body_size ||
	    a->child_count != b->child_count)
		return false;
	const struct mime_part *x = a->children, *y = b->children;
	for (; x != NULL && y != NULL; x = x->next, y = y->next)
		if (!fuzz_parts_same(x, y))
			return false;
	return x == NULL && y == NULL;
}

/* A hostile part table (read from a damaged database): refused or a tree within bounds. */
static void fuzz_parts_table(const uint8_t *data, size_t size)
{
	if (size < 8)
		return;
	uint64_t msg_size = 0;
	memcpy(&msg_size, data, 8);
	msg_size %= 1u << 30;
	struct pool *pool = pool_create(8192);
	const struct mime_part *root = mime_parts_decode(data + 8, size - 8, msg_size, pool);
	if (root != NULL) {
		FUZZ_ASSERT(root->body_offset + root->body_size <= msg_size);
		fuzz_check_sections(root, NULL, (char[256]){0}, 0);
	}
	pool_destroy(&pool);
}

static void fuzz_mime(const uint8_t *data, size_t size)
{
	struct pool *pool = pool_create(8192);
	struct mime_parse_settings set = { 0 };
	/* vary the limits with the size so small limits get exercised too */
	if (size % 3 == 1) {
		set.max_depth = 1 + size % 7;
		set.max_parts = 1 + size % 11;
	}
	unsigned int max_depth = set.max_depth ? set.max_depth : MIME_DEFAULT_MAX_DEPTH;
	struct mime_part *root = mime_parse(pool, data, size, &set);
	FUZZ_ASSERT(root != NULL && root->header_offset == 0);
	FUZZ_ASSERT(root->body_offset + root->body_size == size);
	fuzz_check_part(data, size, pool, root, max_depth);
	unsigned int max_parts = set.max_parts ? set.max_parts : MIME_DEFAULT_MAX_PARTS;
	FUZZ_ASSERT(fuzz_count_parts(root) <= max_parts + max_depth + 2);
	char sec[256];
	sec[0] = '\0';
	fuzz_check_sections(root, NULL, sec, 0);

	/* the part table gives back the same tree (offsets, flags, links) */
	struct buf table;
	buf_init(&table, 1 << 26);
	FUZZ_ASSERT(mime_parts_encode(root, &table) == 0);
	const struct mime_part *back = mime_parts_decode(table.data, table.len, size, pool);
	FUZZ_ASSERT(back != NULL && fuzz_parts_same(root, back));
	buf_free(&table);

	struct buf out;
	buf_init(&out, 1 << 26);
	FUZZ_ASSERT(envelope_render(&out, pool, data + root->header_offset, root->header_size) == 0);
	fuzz_check_imap(out.data, out.len);
	static const unsigned int modes[] = { 0, BODYSTRUCTURE_EXTENDED,
					      BODYSTRUCTURE_EXTENDED | BODYSTRUCTURE_REV1 };
	for (size_t k = 0; k < 3; k++) {
		buf_reset(&out);
		FUZZ_ASSERT(bodystructure_render(&out, pool, data, root, modes[k]) == 0);
		fuzz_check_imap(out.data, out.len);
	}
	/* all or nothing in a small buffer */
	struct buf small;
	buf_init(&small, out.len / 2);
	if (bodystructure_render(&small, pool, data, root, modes[2]) < 0)
		FUZZ_ASSERT(small.len == 0);
	buf_free(&small);

	struct mail_header_field f;
	if (mail_header_find(data + root->header_offset, root->header_size, "subject", &f)) {
		buf_reset(&out);
		FUZZ_ASSERT(rfc2047_decode(&out, f.value, f.value_len, NULL) >= 0);
		FUZZ_ASSERT(charset_utf8_valid(out.data, out.len));
	}
	buf_free(&out);
	pool_destroy(&pool);
}

static void fuzz_mutf7(const uint8_t *data, size_t size)
{
	struct buf a, b;
	const char *error;
	buf_init(&a, 1 << 20);
	buf_init(&b, 1 << 20);
	if (mutf7_to_utf8(&a, data, size, &error) == 0) {
		/* canonical: encoding the result gives back the input exactly */
		FUZZ_ASSERT(charset_utf8_valid(a.data, a.len));
		FUZZ_ASSERT(mutf7_from_utf8(&b, a.data, a.len, &error) == 0);
		FUZZ_ASSERT(b.len == size && (size == 0 || memcmp(b.data, data, size) == 0));
	}
	buf_reset(&a);
	buf_reset(&b);
	if (mutf7_from_utf8(&a, data, size, &error) == 0) {
		FUZZ_ASSERT(mutf7_is_valid(a.data, a.len));
		FUZZ_ASSERT(mutf7_to_utf8(&b, a.data, a.len, &error) == 0);
		FUZZ_ASSERT(b.len == size && (size == 0 || memcmp(b.data, data, size) == 0));
	}
	buf_free(&a);
	buf_free(&b);
}

static void fuzz_misc(const uint8_t *data, size_t size)
{
	struct pool *pool = pool_create(8192);
	for (struct mail_address *a = mail_address_parse(pool, data, size); a != NULL; a = a->next) {
		if (a->type != MAIL_ADDRESS_GROUP_END)
			FUZZ_ASSERT(a->mailbox != NULL);
	}
	time_t t;
	int tz;
	if (mail_date_parse(data, size, &t, &tz)) {
		char s[MAIL_DATE_IMAP_SIZE];
		time_t t2;
		int tz2;
		FUZZ_ASSERT(tz >= -(23 * 60 + 59) && tz <= 23 * 60 + 59);
		mail_date_format_imap(t, tz, s);
		FUZZ_ASSERT(mail_date_parse_imap(s, strlen(s), &t2, &tz2) && t2 == t && tz2 == tz);
	}
	mail_date_parse_imap(data, size, &t, &tz);
	const char *type, *subtype;
	struct mime_params params;
	if (mime_param_parse_value(pool, data, size, true, 1000, &type, &subtype, &params)) {
		for (unsigned int i = 0; i < params.count; i++) {
			if (params.items[i].extended)
				FUZZ_ASSERT(charset_utf8_valid(params.items[i].value,
							       params.items[i].value_len));
		}
	}
	pool_destroy(&pool);
}

static void fuzz_charset(const uint8_t *data, size_t size)
{
	static const char *const labels[] = {
		"iso-2022-jp", "shift_jis", "euc-jp", "utf-8", "iso-8859-1", "iso-2022-jp-2",
		"gb2312", "big5", "utf-7", "x-unknown", "koi8-r", "utf-16",
	};
	if (size == 0)
		return;
	struct buf out;
	buf_init(&out, 1 << 24);
	const char *label = labels[data[0] % (sizeof(labels) / sizeof(labels[0]))];
	FUZZ_ASSERT(charset_to_utf8(&out, label, strlen(label), data + 1, size - 1) >= 0);
	FUZZ_ASSERT(charset_utf8_valid(out.data, out.len));
	buf_free(&out);
}

static void fuzz_decode(const uint8_t *data, size_t size)
{
	if (size < 2)
		return;
	enum mime_encoding enc = (enum mime_encoding)(data[0] % 5);
	unsigned int flags = data[0] & 0x80 ? DECODE_FLAG_CRLF : 0;
	size_t step = 1 + data[1] % 17;
	data += 2;
	size -= 2;
	struct buf whole, pieces;
	struct decode_state st;
	buf_init(&whole, 1 << 24);
	buf_init(&pieces, 1 << 24);
	FUZZ_ASSERT(decode_all(&whole, enc, flags, data, size) == 0);
	decode_init(&st, enc, flags);
	for (size_t off = 0; off < size; off += step) {
		size_t n = size - off < step ? size - off : step;
		FUZZ_ASSERT(decode_feed(&st, &pieces, data + off, n) == 0);
	}
	FUZZ_ASSERT(decode_finish(&st, &pieces) == 0);
	FUZZ_ASSERT(whole.len == pieces.len &&
		    (whole.len == 0 || memcmp(whole.data, pieces.data, whole.len) == 0));
	if (enc == MIME_ENC_BASE64)
		FUZZ_ASSERT(whole.len <= size * 2);
	buf_free(&whole);
	buf_free(&pieces);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0 || data[0] >= 0x08) {
		fuzz_mime(data, size);
		return 0;
	}
	switch (data[0]) {
	case 1: {
		struct buf out;
		buf_init(&out, 1 << 24);
		FUZZ_ASSERT(rfc2047_decode(&out, data + 1, size - 1, size % 2 ? "shift_jis" : NULL) >= 0);
		FUZZ_ASSERT(charset_utf8_valid(out.data, out.len));
		buf_free(&out);
		break;
	}
	case 2:
		fuzz_mutf7(data + 1, size - 1);
		break;
	case 3:
		fuzz_misc(data + 1, size - 1);
		break;
	case 4:
		fuzz_charset(data + 1, size - 1);
		break;
	case 5:
		fuzz_decode(data + 1, size - 1);
		break;
	case 7:
		fuzz_parts_table(data + 1, size - 1);
		break;
	default:
		fuzz_mime(data + 1, size - 1);
		break;
	}
	return 0;
}
