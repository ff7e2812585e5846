/* imap-fetch.c: the FETCH attribute parser (RFC 9051 section 9 fetch-att, section, partial;
 * RFC 3501 RFC822.*; RFC 3516 BINARY). Traps: the command parser hands over
 * "BODY[HEADER.FIELDS (A "B")]<0.10>" as one atom, brackets verbatim, so everything inside is
 * checked here character by character; MIME only after a part number; BINARY sections are
 * part numbers only; partial octets are nz-number64 (a zero-length partial is a syntax error). */
#include "imap-fetch.h"

#include <string.h>
#include <strings.h>

#include "imap/imap-arg.h"

struct att_parser {
	const char *p, *end;
	struct pool *pool;
	const char *error;
};

static bool att_fail(struct att_parser *ap, const char *msg)
{
	if (ap->error == NULL)
		ap->error = msg;
	return false;
}

/* Case-insensitive keyword at the cursor, followed by a byte in stop (or the end). */
static bool att_keyword(struct att_parser *ap, const char *kw, const char *stop)
{
	size_t n = strlen(kw);
	if ((size_t)(ap->end - ap->p) < n || strncasecmp(ap->p, kw, n) != 0)
		return false;
	if (ap->p + n < ap->end && (ap->p[n] == '\0' || strchr(stop, ap->p[n]) == NULL))
		return false;
	ap->p += n;
	return true;
}

static size_t att_digits(const struct att_parser *ap)
{
	size_t n = 0;
	while (ap->p + n < ap->end && ap->p[n] >= '0' && ap->p[n] <= '9')
		n++;
	return n;
}

/* header-fld-name = astring, here an atom of ASTRING-CHARs (but "]", which the command parser
 * took as the end of the section) or a quoted string. A literal cannot appear inside a
 * bracketed atom. */
static bool att_field_name(struct att_parser *ap, const char **name_r)
{
	if (ap->p < ap->end && *ap->p == '"') {
		ap->p++;
		struct buf b;
		buf_init(&b, (size_t)(ap->end - ap->p));
		while (ap->p < ap->end && *ap->p != '"') {
			if (*ap->p == '\\') {
				ap->p++;
				if (ap->p == ap->end || (*ap->p != '"' && *ap->p != '\\')) {
					buf_free(&b);
					return att_fail(ap, "Invalid escape in header field name");
				}
			}
			buf_append_byte(&b, (unsigned char)*ap->p);
			ap->p++;
		}
		if (ap->p == ap->end) {
			buf_free(&b);
			return att_fail(ap, "Missing closing quote in header field name");
		}
		ap->p++;
		*name_r = pool_memdup(ap->pool, b.data != NULL ? (const char *)b.data : "", b.len);
		buf_free(&b);
		return true;
	}
	const char *s = ap->p;
	while (ap->p < ap->end && *ap->p != ']' && imap_is_astring_char((unsigned char)*ap->p))
		ap->p++;
	if (ap->p == s)
		return att_fail(ap, "Invalid header field name");
	*name_r = pool_memdup(ap->pool, s, (size_t)(ap->p - s));
	return true;
}

/* header-list = "(" header-fld-name *(SP header-fld-name) ")" */
static bool att_header_list(struct att_parser *ap, struct imap_fetch_section *sec)
{
	if (ap->end - ap->p < 2 || ap->p[0] != ' ' || ap->p[1] != '(')
		return att_fail(ap, "HEADER.FIELDS needs a list of field names");
	ap->p += 2;
	size_t cap = 8, n = 0;
	const char **names = pool_alloc_array(ap->pool, cap, sizeof(*names));
	for (;;) {
		const char *name;
		if (!att_field_name(ap, &name))
			return false;
		if (n == IMAP_FETCH_FIELDS_MAX)
			return att_fail(ap, "Too many header field names");
		if (n == cap) {
			const char **more = pool_alloc_array(ap->pool, cap * 2, sizeof(*more));
			memcpy(more, names, n * sizeof(*names));
			names = more;
			cap *= 2;
		}
		names[n++] = name;
		if (ap->p < ap->end && *ap->p == ')')
			break;
		if (ap->p >= ap->end || *ap->p != ' ')
			return att_fail(ap, "Invalid header field list");
		ap->p++;
	}
	ap->p++;
	sec->fields = names;
	sec->field_count = n;
	return true;
}

/* The text after part numbers or alone: section-msgtext, or "MIME" after a part. */
static bool att_section_text(struct att_parser *ap, struct imap_fetch_section *sec, bool after_part)
{
	if (att_keyword(ap, "HEADER.FIELDS.NOT", " ]")) {
		sec->text = IMAP_SECTION_HEADER_FIELDS_NOT;
		return att_header_list(ap, sec);
	}
	if (att_keyword(ap, "HEADER.FIELDS", " ]")) {
		sec->text = IMAP_SECTION_HEADER_FIELDS;
		return att_header_list(ap, sec);
	}
	if (att_keyword(ap, "HEADER", "]")) {
		sec->text = IMAP_SECTION_HEADER;
		return true;
	}
	if (att_keyword(ap, "TEXT", "]")) {
		sec->text = IMAP_SECTION_TEXT;
		return true;
	}
	if (att_keyword(ap, "MIME", "]")) {
		if (!after_part)
			return att_fail(ap, "MIME needs a part number (RFC 9051 6.4.5.1)");
		sec->text = IMAP_SECTION_MIME;
		return true;
	}
	return att_fail(ap, "Invalid section");
}

/* section = "[" [section-spec] "]"; section-binary = "[" [section-part] "]". The cursor is
 * after "[" and ends after "]". */
static bool att_section(struct att_parser *ap, bool binary, struct imap_fetch_section *sec)
{
	memset(sec, 0, sizeof(*sec));
	uint32_t parts[IMAP_FETCH_PARTS_MAX];
	size_t n = 0;
	if (ap->p < ap->end && *ap->p >= '0' && *ap->p <= '9') {
		for (;;) {
			size_t d = att_digits(ap);
			uint32_t num;
			if (!imap_parse_nz_number(ap->p, d, &num))
				return att_fail(ap, "Invalid part number in section");
			if (n == IMAP_FETCH_PARTS_MAX)
				return att_fail(ap, "Too many part numbers in section");
			parts[n++] = num;
			ap->p += d;
			if (ap->p < ap->end && *ap->p == '.') {
				ap->p++;
				if (ap->p < ap->end && *ap->p >= '0' && *ap->p <= '9')
					continue;
				if (binary)
					return att_fail(ap, "BINARY sections are part numbers only");
				if (!att_section_text(ap, sec, true))
					return false;
			}
			break;
		}
	} else if (ap->p < ap->end && *ap->p != ']') {
		if (binary)
			return att_fail(ap, "BINARY sections are part numbers only");
		if (!att_section_text(ap, sec, false))
			return false;
	}
	if (ap->p >= ap->end || *ap->p != ']')
		return att_fail(ap, "Missing ']' after section");
	ap->p++;
	if (n > 0) {
		uint32_t *copy = pool_alloc_array(ap->pool, n, sizeof(*copy));
		memcpy(copy, parts, n * sizeof(*copy));
		sec->parts = copy;
		sec->part_count = n;
	}
	return true;
}

/* partial = "<" number64 "." nz-number64 ">" */
static bool att_partial(struct att_parser *ap, struct imap_fetch_item *item)
{
	if (ap->p == ap->end)
		return true;
	if (*ap->p != '<')
		return att_fail(ap, "Unexpected characters after section");
	ap->p++;
	size_t d = att_digits(ap);
	if (!imap_parse_number64(ap->p, d, &item->origin))
		return att_fail(ap, "Invalid partial origin");
	ap->p += d;
	if (ap->p >= ap->end || *ap->p != '.')
		return att_fail(ap, "Partial needs <origin.octets>");
	ap->p++;
	d = att_digits(ap);
	if (d == 0 || ap->p[0] == '0' || !imap_parse_number64(ap->p, d, &item->octets))
		return att_fail(ap, "Invalid partial length (nz-number64)");
	ap->p += d;
	if (ap->p >= ap->end || *ap->p != '>' || ap->p + 1 != ap->end)
		return att_fail(ap, "Invalid partial");
	ap->p++;
	item->partial = true;
	return true;
}

static const char *const section_text_names[] = {
	[IMAP_SECTION_ALL] = "",
	[IMAP_SECTION_HEADER] = "HEADER",
	[IMAP_SECTION_HEADER_FIELDS] = "HEADER.FIELDS",
	[IMAP_SECTION_HEADER_FIELDS_NOT] = "HEADER.FIELDS.NOT",
	[IMAP_SECTION_TEXT] = "TEXT",
	[IMAP_SECTION_MIME] = "MIME",
};

/* "BODY[1.HEADER.FIELDS (A B)]<5>" from the parsed item. */
static const char *att_name(struct pool *pool, const char *prefix,
			    const struct imap_fetch_item *item)
{
	const struct imap_fetch_section *sec = &item->section;
	struct buf b;
	buf_init(&b, (size_t)-2);
	buf_append_str(&b, prefix);
	buf_append_byte(&b, '[');
	for (size_t i = 0; i < sec->part_count; i++)
		buf_printf(&b, "%s%u", i > 0 ? "." : "", sec->parts[i]);
	if (sec->text != IMAP_SECTION_ALL) {
		if (sec->part_count > 0)
			buf_append_byte(&b, '.');
		buf_append_str(&b, section_text_names[sec->text]);
	}
	if (sec->field_count > 0) {
		buf_append_str(&b, " (");
		for (size_t i = 0; i < sec->field_count; i++) {
			if (i > 0)
				buf_append_byte(&b, ' ');
			imap_append_astring(&b, sec->fields[i], strlen(sec->fields[i]));
		}
		buf_append_byte(&b, ')');
	}
	buf_append_byte(&b, ']');
	if (item->partial)
		buf_printf(&b, "<%llu>", (unsigned long long)item->origin);
	char *name = pool_memdup(pool, b.data, b.len);
	buf_free(&b);
	return name;
}

static const struct {
	const char *name;
	enum imap_fetch_kind kind;
} simple_atts[] = {
	{"ENVELOPE", IMAP_FETCH_ENVELOPE},
	{"FLAGS", IMAP_FETCH_FLAGS},
	{"INTERNALDATE", IMAP_FETCH_INTERNALDATE},
	{"RFC822.SIZE", IMAP_FETCH_RFC822_SIZE},
	{"BODY", IMAP_FETCH_BODY},
	{"BODYSTRUCTURE", IMAP_FETCH_BODYSTRUCTURE},
	{"UID", IMAP_FETCH_UID},
	{"MODSEQ", IMAP_FETCH_MODSEQ},
};

int imap_fetch_parse_att(const char *str, size_t len, bool rev2, struct pool *pool,
			 struct imap_fetch_item *item_r, const char **error_r)
{
	memset(item_r, 0, sizeof(*item_r));
	const char *br = memchr(str, '[', len);
	size_t plen = br != NULL ? (size_t)(br - str) : len;
	if (br == NULL) {
		for (size_t i = 0; i < sizeof(simple_atts) / sizeof(simple_atts[0]); i++) {
			if (strlen(simple_atts[i].name) == len &&
			    strncasecmp(str, simple_atts[i].name, len) == 0) {
				item_r->kind = simple_atts[i].kind;
				item_r->name = simple_atts[i].name;
				return 0;
			}
		}
		/* RFC822, RFC822.HEADER, RFC822.TEXT: IMAP4rev1 only (RFC 9051 appendix E) */
		static const struct {
			const char *name;
			enum imap_section_text text;
			bool seen;
		} rfc822[] = {
			{"RFC822", IMAP_SECTION_ALL, true},
			{"RFC822.HEADER", IMAP_SECTION_HEADER, false},
			{"RFC822.TEXT", IMAP_SECTION_TEXT, true},
		};
		for (size_t i = 0; i < 3; i++) {
			if (strlen(rfc822[i].name) != len || strncasecmp(str, rfc822[i].name, len) != 0)
				continue;
			if (rev2) {
				*error_r = "RFC822, RFC822.HEADER and RFC822.TEXT are not IMAP4rev2";
				return -1;
			}
			item_r->kind = IMAP_FETCH_BODY_SECTION;
			item_r->section.text = rfc822[i].text;
			item_r->sets_seen = rfc822[i].seen;
			item_r->name = rfc822[i].name;
			return 0;
		}
		if (len == 9 && strncasecmp(str, "BODY.PEEK", 9) == 0)
			*error_r = "BODY.PEEK needs a section";
		else if ((len == 6 && strncasecmp(str, "BINARY", 6) == 0) ||
			 (len == 11 && strncasecmp(str, "BINARY.PEEK", 11) == 0) ||
			 (len == 11 && strncasecmp(str, "BINARY.SIZE", 11) == 0))
			*error_r = "BINARY needs a section";
		else
			*error_r = pool_printf(pool, "Unknown FETCH item %.*s", len > 64 ? 64 : (int)len,
					       str);
		return -1;
	}
	const char *prefix;
	if (plen == 4 && strncasecmp(str, "BODY", 4) == 0) {
		item_r->kind = IMAP_FETCH_BODY_SECTION;
		item_r->sets_seen = true;
		prefix = "BODY";
	} else if (plen == 9 && strncasecmp(str, "BODY.PEEK", 9) == 0) {
		item_r->kind = IMAP_FETCH_BODY_SECTION;
		prefix = "BODY";
	} else if (plen == 6 && strncasecmp(str, "BINARY", 6) == 0) {
		item_r->kind = IMAP_FETCH_BINARY;
		item_r->sets_seen = true;
		prefix = "BINARY";
	} else if (plen == 11 && strncasecmp(str, "BINARY.PEEK", 11) == 0) {
		item_r->kind = IMAP_FETCH_BINARY;
		prefix = "BINARY";
	} else if (plen == 11 && strncasecmp(str, "BINARY.SIZE", 11) == 0) {
		item_r->kind = IMAP_FETCH_BINARY_SIZE;
		prefix = "BINARY.SIZE";
	} else {
		*error_r = pool_printf(pool, "Unknown FETCH item %.*s", plen > 64 ? 64 : (int)plen,
				       str);
		return -1;
	}
	struct att_parser ap = {.p = br + 1, .end = str + len, .pool = pool};
	bool binary = item_r->kind != IMAP_FETCH_BODY_SECTION;
	if (!att_section(&ap, binary, &item_r->section)) {
		*error_r = ap.error;
		return -1;
	}
	if (item_r->kind == IMAP_FETCH_BINARY_SIZE) {
		if (ap.p != ap.end) {
			*error_r = "BINARY.SIZE takes no partial";
			return -1;
		}
	} else if (!att_partial(&ap, item_r)) {
		*error_r = ap.error;
		return -1;
	}
	item_r->name = att_name(pool, prefix, item_r);
	return 0;
}

static void request_add(struct imap_fetch_request *req, const struct imap_fetch_item *item)
{
	for (size_t i = 0; i < req->count; i++) {
		if (strcmp(req->items[i].name, item->name) == 0) {
			/* BODY[] and BODY.PEEK[] answer as one BODY[] */
			req->sets_seen |= item->sets_seen;
			return;
		}
	}
	req->items[req->count++] = *item;
	req->sets_seen |= item->sets_seen;
	switch (item->kind) {
	case IMAP_FETCH_FLAGS:
		req->has_flags = true;
		break;
	case IMAP_FETCH_UID:
		req->has_uid = true;
		break;
	case IMAP_FETCH_MODSEQ:
		req->has_modseq = true; /* the view has it */
		break;
	case IMAP_FETCH_BODY_SECTION:
	case IMAP_FETCH_BINARY:
	case IMAP_FETCH_BINARY_SIZE:
		req->needs_body = true;
		req->needs_info = true;
		break;
	default:
		req->needs_info = true;
		break;
	}
}

int imap_fetch_parse(const struct imap_arg *arg, bool rev2, struct pool *pool,
		     struct imap_fetch_request *req_r, const char **error_r)
{
	memset(req_r, 0, sizeof(*req_r));
	if (arg->type == IMAP_ARG_ATOM) {
		/* RFC 9051 6.4.5: a macro stands alone, never inside a list */
		static const char *const macros[][5] = {
			{"ALL", "FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"},
			{"FAST", "FLAGS", "INTERNALDATE", "RFC822.SIZE", NULL},
			{"FULL", "FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"},
		};
		for (size_t m = 0; m < 3; m++) {
			if (!imap_arg_atom_equals(arg, macros[m][0]))
				continue;
			req_r->items = pool_alloc_array(pool, 5, sizeof(*req_r->items));
			for (size_t i = 1; i < 5 && macros[m][i] != NULL; i++) {
				struct imap_fetch_item item;
				imap_fetch_parse_att(macros[m][i], strlen(macros[m][i]), rev2, pool,
						     &item, error_r);
				request_add(req_r, &item);
			}
			if (m == 2) {
				struct imap_fetch_item item;
				imap_fetch_parse_att("BODY", 4, rev2, pool, &item, error_r);
				request_add(req_r, &item);
			}
			return 0;
		}
		struct imap_fetch_item item;
		if (imap_fetch_parse_att(arg->str, arg->len, rev2, pool, &item, error_r) < 0)
			return -1;
		req_r->items = pool_alloc_array(pool, 1, sizeof(*req_r->items));
		request_add(req_r, &item);
		return 0;
	}
	if (arg->type != IMAP_ARG_LIST) {
		*error_r = "FETCH needs data items: an atom or a list";
		return -1;
	}
	if (arg->count == 0) {
		*error_r = "Empty FETCH item list";
		return -1;
	}
	if (arg->count > IMAP_FETCH_ITEMS_MAX) {
		*error_r = "Too many FETCH items";
		return -1;
	}
	req_r->items = pool_alloc_array(pool, arg->count, sizeof(*req_r->items));
	for (size_t i = 0; i < arg->count; i++) {
		const struct imap_arg *a = &arg->list[i];
		if (a->type != IMAP_ARG_ATOM) {
			*error_r = "FETCH items must be atoms";
			return -1;
		}
		struct imap_fetch_item item;
		if (imap_fetch_parse_att(a->str, a->len, rev2, pool, &item, error_r) < 0)
			return -1;
		request_add(req_r, &item);
	}
	return 0;
}
