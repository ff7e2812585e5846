/* mime.c: one forward pass over the message, line by line, building the part tree.
 * Each entity (message or body part) is its header, then a body that is a leaf, a multipart
 * or an embedded message; every body ends at the first line matching a boundary on the stack of
 * enclosing multiparts (or at the end of the message), which is how missing closing
 * boundaries are survived. Traps: the line end before a boundary line belongs to the boundary;
 * a boundary line right at the start of a body leaves the body empty; a header may be cut
 * short by a boundary line; recursion depth is bounded by max_depth (capped at
 * MIME_MAX_DEPTH_CAP) so the C stack is safe. */
#include "mime.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/buf.h"
#include "lib/xmalloc.h"
#include "mail/header.h"
#include "mail/rfc2047.h"

#define MIME_MAX_DEPTH_CAP 1000

struct mime_scan {
	bool found;         /* a boundary line ended the scan (else: end of the message) */
	bool closing;       /* "--b--" */
	unsigned int level; /* which boundary on the stack */
	size_t before;      /* where the body before the boundary ends */
	uint64_t before_lfs;
	size_t line_end;    /* where the boundary line's CRLF / LF starts */
};

struct mime_parser {
	struct pool *pool;
	const unsigned char *msg;
	size_t len;
	size_t pos;    /* always at a line start */
	uint64_t lfs;  /* LFs in msg[0..pos) */
	const char **bnd;
	size_t *bnd_len;
	unsigned int max_depth, max_parts, parts;
	unsigned int params_left; /* parameter budget (settings.max_params) */
};

static struct mime_part *mime_new_part(struct mime_parser *p, struct mime_part *parent,
				       unsigned int depth)
{
	struct mime_part *part = pool_alloc(p->pool, sizeof(*part));
	part->parent = parent;
	part->depth = depth;
	p->parts++;
	return part;
}

/* Does the line [ls, le) (le: before CR LF) match a boundary of levels [0, nb)? */
static bool mime_match_boundary(const struct mime_parser *p, size_t ls, size_t le, unsigned int nb,
				unsigned int *level_r, bool *closing_r)
{
	const unsigned char *m = p->msg;
	if (nb == 0 || le - ls < 3 || m[ls] != '-' || m[ls + 1] != '-')
		return false;
	for (unsigned int k = nb; k-- > 0;) {
		size_t bl = p->bnd_len[k];
		if (le - ls - 2 < bl || memcmp(m + ls + 2, p->bnd[k], bl) != 0)
			continue;
		size_t q = ls + 2 + bl;
		bool closing = false;
		if (q + 2 <= le && m[q] == '-' && m[q + 1] == '-') {
			closing = true;
			q += 2;
		}
		while (q < le && (m[q] == ' ' || m[q] == '\t' || m[q] == '\r'))
			q++;
		if (q != le)
			continue;
		*level_r = k;
		*closing_r = closing;
		return true;
	}
	return false;
}

/* Advance over one line: its start, its content end (before CR LF / LF) and whether it had
 * an LF. */
static void mime_line(struct mime_parser *p, size_t *ls_r, size_t *le_r)
{
	size_t ls = p->pos;
	const unsigned char *nl = memchr(p->msg + ls, '\n', p->len - ls);
	size_t le;
	if (nl == NULL) {
		le = p->len;
		p->pos = p->len;
	} else {
		le = (size_t)(nl - p->msg);
		p->pos = le + 1;
		p->lfs++;
	}
	if (le > ls && p->msg[le - 1] == '\r')
		le--;
	*ls_r = ls;
	*le_r = le;
}

/* Fill r for a boundary line starting at ls, in a region that started at start. p->lfs has
 * already counted the boundary line's own LF, if any. */
static void mime_set_before(const struct mime_parser *p, size_t start, size_t ls,
			    uint64_t lfs_at_ls, struct mime_scan *r)
{
	r->found = true;
	if (ls == start) {
		r->before = ls;
		r->before_lfs = lfs_at_ls;
		return;
	}
	/* the previous line's LF (and a CR before it) belongs to the boundary */
	r->before = ls - 1;
	r->before_lfs = lfs_at_ls - 1;
	if (r->before > start && p->msg[r->before - 1] == '\r')
		r->before--;
}

/* Scan lines from p->pos to the first boundary line of levels [0, nb). The region scanned
 * starts at `start` (<= p->pos): p->pos itself, or for an epilogue the line end of the closing
 * delimiter, whose CRLF is optional ("close-delimiter transport-padding [CRLF epilogue]") and
 * so goes to an enclosing boundary that follows at once. */
static void mime_scan_region(struct mime_parser *p, unsigned int nb, size_t start,
			     struct mime_scan *r)
{
	while (p->pos < p->len) {
		uint64_t lfs = p->lfs;
		size_t ls, le;
		if (nb == 0 || p->msg[p->pos] != '-') {
			/* fast path: a line that cannot be a boundary */
			const unsigned char *nl = memchr(p->msg + p->pos, '\n', p->len - p->pos);
			if (nl == NULL) {
				p->pos = p->len;
			} else {
				p->pos = (size_t)(nl - p->msg) + 1;
				p->lfs++;
			}
			continue;
		}
		mime_line(p, &ls, &le);
		if (mime_match_boundary(p, ls, le, nb, &r->level, &r->closing)) {
			mime_set_before(p, start, ls, lfs, r);
			r->line_end = le;
			return;
		}
	}
	r->found = false;
	r->closing = false;
	r->before = p->len;
	r->before_lfs = p->lfs;
	r->line_end = p->len;
}

static void mime_scan_to_boundary(struct mime_parser *p, unsigned int nb, struct mime_scan *r)
{
	mime_scan_region(p, nb, p->pos, r);
}

/* Consume header lines. true: ended by an empty line (consumed). false: cut by a boundary
 * line (r->found) or by the end of the message. */
static bool mime_scan_header(struct mime_parser *p, unsigned int nb, struct mime_scan *r)
{
	size_t start = p->pos;
	while (p->pos < p->len) {
		uint64_t lfs = p->lfs;
		size_t ls, le;
		mime_line(p, &ls, &le);
		if (le == ls && (p->pos > ls)) {
			/* an empty line: CRLF or LF (a lone CR at the very end is not one) */
			if (p->msg[p->pos - 1] == '\n')
				return true;
		}
		if (mime_match_boundary(p, ls, le, nb, &r->level, &r->closing)) {
			mime_set_before(p, start, ls, lfs, r);
			r->line_end = le;
			return false;
		}
	}
	r->found = false;
	r->closing = false;
	r->before = p->len;
	r->before_lfs = p->lfs;
	r->line_end = p->len;
	return false;
}

static char *mime_lower(struct pool *pool, const char *s)
{
	char *lc = pool_strdup(pool, s);
	for (char *c = lc; *c != '\0'; c++) {
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
	}
	return lc;
}

static void mime_value_set(struct mime_parser *p, struct mime_value *v,
			   const struct mail_header_field *f)
{
	if (v->data == NULL)
		v->data = mail_header_unfold(p->pool, f->value, f->value_len, &v->len);
}

/* RFC 3282: Content-Language = 1#Language-tag, with CFWS. */
static void mime_parse_languages(struct mime_parser *p, struct mime_part *part)
{
	const char *s = part->language.data;
	size_t len = part->language.len, n = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == ',')
			n++;
	}
	const char **tags = pool_alloc_array(p->pool, n + 1, sizeof(*tags));
	unsigned int count = 0;
	size_t i = 0;
	while (i < len && count < n + 1) {
		unsigned char c = (unsigned char)s[i];
		if (c == '(') {
			size_t depth = 0;
			for (; i < len; i++) {
				if (s[i] == '\\')
					i++;
				else if (s[i] == '(')
					depth++;
				else if (s[i] == ')' && --depth == 0)
					break;
			}
			i++;
			continue;
		}
		if (c == ',' || c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			i++;
			continue;
		}
		size_t st = i;
		while (i < len && s[i] != ',' && s[i] != '(' && s[i] != ' ' && s[i] != '\t' &&
		       s[i] != '\r' && s[i] != '\n')
			i++;
		tags[count++] = pool_memdup(p->pool, s + st, i - st);
		/* anything after the tag up to the next comma is junk */
		while (i < len && s[i] != ',' && s[i] != '(')
			i++;
	}
	part->languages = count > 0 ? tags : NULL;
	part->language_count = count;
}

static void mime_set_text_plain(struct mime_parser *p, struct mime_part *part)
{
	part->flags |= MIME_PART_FLAG_DEFAULT_TYPE;
	part->type = part->type_lc = "text";
	part->subtype = part->subtype_lc = "plain";
	struct mime_param *cs = pool_alloc(p->pool, sizeof(*cs));
	cs->name = "charset";
	cs->name_len = 7;
	cs->value = "us-ascii";
	cs->value_len = 8;
	memset(&part->params, 0, sizeof(part->params));
	part->params.items = cs;
	part->params.count = 1;
}

/* RFC 2045 5.2 / RFC 2046 5.1.5: no usable Content-Type */
static void mime_default_type(struct mime_parser *p, struct mime_part *part)
{
	const struct mime_part *parent = part->parent;
	if (parent != NULL && (parent->flags & MIME_PART_FLAG_MULTIPART) != 0 &&
	    strcmp(parent->subtype_lc, "digest") == 0) {
		part->flags |= MIME_PART_FLAG_DEFAULT_TYPE;
		memset(&part->params, 0, sizeof(part->params));
		part->type = part->type_lc = "message";
		part->subtype = part->subtype_lc = "rfc822";
		return;
	}
	mime_set_text_plain(p, part);
}

/* Read the Content-* fields of the part's header and settle its type. Returns the multipart
 * boundary (NULL if the part is not a multipart to descend into). */
static const struct mime_param *mime_content_headers(struct mime_parser *p, struct mime_part *part)
{
	struct mail_header_iter iter;
	struct mail_header_field f;
	bool have_type = false, have_enc = false, have_disp = false;

	mail_header_iter_init(&iter, p->msg + part->header_offset, part->header_size);
	while (mail_header_iter_next(&iter, &f) > 0) {
		if (f.name_len < 8 || strncasecmp((const char *)f.name, "content-", 8) != 0)
			continue;
		size_t vlen;
		char *v;
		if (!have_type && mail_header_name_is(&f, "content-type")) {
			have_type = true;
			v = mail_header_unfold(p->pool, f.value, f.value_len, &vlen);
			if (!mime_param_parse_value(p->pool, v, vlen, true, p->params_left,
						    &part->type, &part->subtype, &part->params))
				part->type = NULL;
			p->params_left -= part->params.raw_count;
		} else if (!have_enc && mail_header_name_is(&f, "content-transfer-encoding")) {
			struct mime_params ignored;
			const char *tok;
			have_enc = true;
			v = mail_header_unfold(p->pool, f.value, f.value_len, &vlen);
			if (mime_param_parse_value(p->pool, v, vlen, false, 0, &tok, NULL, &ignored))
				part->encoding = tok;
		} else if (!have_disp && mail_header_name_is(&f, "content-disposition")) {
			have_disp = true;
			v = mail_header_unfold(p->pool, f.value, f.value_len, &vlen);
			if (mime_param_parse_value(p->pool, v, vlen, false, p->params_left,
						   &part->disposition, NULL,
						   &part->disposition_params))
				part->disposition_lc = mime_lower(p->pool, part->disposition);
			else
				part->disposition = NULL;
			p->params_left -= part->disposition_params.raw_count;
		} else if (mail_header_name_is(&f, "content-id")) {
			mime_value_set(p, &part->id, &f);
		} else if (mail_header_name_is(&f, "content-description")) {
			mime_value_set(p, &part->description, &f);
		} else if (mail_header_name_is(&f, "content-md5")) {
			mime_value_set(p, &part->md5, &f);
		} else if (mail_header_name_is(&f, "content-location")) {
			mime_value_set(p, &part->location, &f);
		} else if (mail_header_name_is(&f, "content-language")) {
			if (part->language.data == NULL) {
				mime_value_set(p, &part->language, &f);
				mime_parse_languages(p, part);
			}
		}
	}
	part->enc = decode_encoding_parse(part->encoding,
					  part->encoding == NULL ? 0 : strlen(part->encoding));

	const struct mime_param *boundary = NULL;
	if (part->type != NULL && strcasecmp(part->type, "multipart") == 0) {
		boundary = mime_params_find(&part->params, "boundary");
		if (boundary == NULL || boundary->value_len == 0) {
			part->type = NULL; /* RFC 2046 5.1.1: the boundary is mandatory */
			boundary = NULL;
		}
	}
	if (part->type == NULL)
		mime_default_type(p, part);
	part->type_lc = mime_lower(p->pool, part->type);
	part->subtype_lc = mime_lower(p->pool, part->subtype);

	bool container = boundary != NULL ||
			 (strcmp(part->type_lc, "message") == 0 &&
			  (strcmp(part->subtype_lc, "rfc822") == 0 ||
			   strcmp(part->subtype_lc, "global") == 0));
	if (container && (part->depth >= p->max_depth || p->parts >= p->max_parts)) {
		/* too deep or too many parts: an opaque leaf, in a type every renderer accepts */
		part->flags |= MIME_PART_FLAG_OPAQUE;
		part->type = "application";
		part->subtype = "octet-stream";
		part->type_lc = part->type;
		part->subtype_lc = part->subtype;
		return NULL;
	}
	if (boundary != NULL)
		part->flags |= MIME_PART_FLAG_MULTIPART;
	else if (container)
		part->flags |= MIME_PART_FLAG_RFC822 |
			       (strcmp(part->subtype_lc, "global") == 0 ? MIME_PART_FLAG_GLOBAL : 0);
	if (strcmp(part->type_lc, "text") == 0)
		part->flags |= MIME_PART_FLAG_TEXT;
	return boundary;
}

static void mime_parse_entity(struct mime_parser *p, struct mime_part *part, unsigned int nb,
			      struct mime_scan *r);

static void mime_append_child(struct mime_part *parent, struct mime_part ***tail,
			      struct mime_part *child)
{
	**tail = child;
	*tail = &child->next;
	parent->child_count++;
}

static void mime_synthetic_child(struct mime_parser *p, struct mime_part *part,
				 struct mime_part ***tail, size_t at)
{
	struct mime_part *child = mime_new_part(p, part, part->depth + 1);
	child->flags = MIME_PART_FLAG_SYNTHETIC | MIME_PART_FLAG_TEXT;
	child->header_offset = child->body_offset = at;
	mime_set_text_plain(p, child);
	mime_append_child(part, tail, child);
}

static void mime_parse_multipart(struct mime_parser *p, struct mime_part *part, unsigned int nb,
				 const struct mime_param *boundary, struct mime_scan *r)
{
	struct mime_part **tail = &part->children;
	p->bnd[nb] = boundary->value;
	p->bnd_len[nb] = boundary->value_len;

	mime_scan_to_boundary(p, nb + 1, r); /* the preamble */
	size_t first = r->before;
	while (r->found && r->level == nb && !r->closing) {
		bool last = p->parts >= p->max_parts;
		struct mime_part *child = mime_new_part(p, part, part->depth + 1);
		mime_append_child(part, &tail, child);
		/* past the part limit the child swallows the rest of this multipart */
		mime_parse_entity(p, child, last ? nb : nb + 1, r);
	}
	if (part->children == NULL)
		mime_synthetic_child(p, part, &tail, first);
	if (r->found && r->level == nb && r->closing)
		mime_scan_region(p, nb, r->line_end, r); /* the epilogue */
	else
		part->flags |= MIME_PART_FLAG_NO_CLOSE;
}

/* The body of part, starting at p->pos; ends at r->before. */
static void mime_parse_body(struct mime_parser *p, struct mime_part *part, unsigned int nb,
			    const struct mime_param *boundary, struct mime_scan *r)
{
	size_t start = p->pos;
	uint64_t start_lfs = p->lfs;

	if ((part->flags & MIME_PART_FLAG_MULTIPART) != 0) {
		mime_parse_multipart(p, part, nb, boundary, r);
	} else if ((part->flags & MIME_PART_FLAG_RFC822) != 0) {
		struct mime_part *child = mime_new_part(p, part, part->depth + 1);
		child->flags = MIME_PART_FLAG_MESSAGE;
		part->children = child;
		part->child_count = 1;
		mime_parse_entity(p, child, nb, r);
	} else {
		mime_scan_to_boundary(p, nb, r);
	}
	part->body_size = r->before - start;
	part->body_lines = r->before_lfs - start_lfs;
	if (part->body_size > 0 && p->msg[r->before - 1] != '\n')
		part->body_lines++;
}

/* A container whose header was cut short: give it the empty children the syntax needs. */
static void mime_empty_container(struct mime_parser *p, struct mime_part *part)
{
	if ((part->flags & MIME_PART_FLAG_MULTIPART) != 0) {
		struct mime_part **tail = &part->children;
		mime_synthetic_child(p, part, &tail, part->body_offset);
		part->flags |= MIME_PART_FLAG_NO_CLOSE;
	} else if ((part->flags & MIME_PART_FLAG_RFC822) != 0) {
		struct mime_part *child = mime_new_part(p, part, part->depth + 1);
		child->flags = MIME_PART_FLAG_MESSAGE;
		child->header_offset = child->body_offset = part->body_offset;
		mime_set_text_plain(p, child);
		child->flags |= MIME_PART_FLAG_TEXT;
		part->children = child;
		part->child_count = 1;
	}
}

static void mime_parse_entity(struct mime_parser *p, struct mime_part *part, unsigned int nb,
			      struct mime_scan *r)
{
	part->header_offset = p->pos;
	bool complete = mime_scan_header(p, nb, r);
	part->header_size = (complete ? p->pos : r->before) - part->header_offset;
	part->body_offset = part->header_offset + part->header_size;
	const struct mime_param *boundary = mime_content_headers(p, part);
	if (complete) {
		mime_parse_body(p, part, nb, boundary, r);
	} else {
		part->body_size = 0;
		part->body_lines = 0;
		mime_empty_container(p, part);
	}
}

struct mime_part *mime_parse(struct pool *pool, const void *msg, size_t len,
			     const struct mime_parse_settings *set)
{
	struct mime_parser p = { .pool = pool, .msg = msg, .len = len };
	p.max_depth = set != NULL && set->max_depth != 0 ? set->max_depth : MIME_DEFAULT_MAX_DEPTH;
	if (p.max_depth > MIME_MAX_DEPTH_CAP)
		p.max_depth = MIME_MAX_DEPTH_CAP;
	p.max_parts = set != NULL && set->max_parts != 0 ? set->max_parts : MIME_DEFAULT_MAX_PARTS;
	p.params_left = set != NULL && set->max_params != 0 ? set->max_params :
							       MIME_DEFAULT_MAX_PARAMS;
	/* one boundary per nesting level at most */
	p.bnd = xcalloc(p.max_depth + 1, sizeof(*p.bnd));
	p.bnd_len = xcalloc(p.max_depth + 1, sizeof(*p.bnd_len));

	struct mime_part *root = mime_new_part(&p, NULL, 0);
	root->flags = MIME_PART_FLAG_MESSAGE;
	struct mime_scan r;
	mime_parse_entity(&p, root, 0, &r);
	free(p.bnd);
	free(p.bnd_len);
	return root;
}

const struct mime_part *mime_part_message(const struct mime_part *part)
{
	return (part->flags & MIME_PART_FLAG_RFC822) != 0 ? part->children : NULL;
}

/* One step of section numbering: part number n below cur (cur NULL: the root level). */
static const struct mime_part *mime_part_step(const struct mime_part *root,
					      const struct mime_part *cur, uint32_t n)
{
	const struct mime_part *base;
	bool message;
	if (cur == NULL) {
		base = root;
		message = true;
	} else if ((cur->flags & MIME_PART_FLAG_RFC822) != 0) {
		/* the subparts of a message/rfc822 part number into its message */
		base = cur->children;
		message = true;
	} else {
		base = cur;
		message = false;
	}
	if (base == NULL || n == 0)
		return NULL;
	if ((base->flags & MIME_PART_FLAG_MULTIPART) != 0) {
		const struct mime_part *c = base->children;
		for (uint32_t i = 1; c != NULL && i < n; i++)
			c = c->next;
		return c;
	}
	/* RFC 9051 6.4.5: a message that is not multipart has only part 1, its body */
	if (message && n == 1)
		return base;
	return NULL;
}

const struct mime_part *mime_part_find(const struct mime_part *root, const uint32_t *nums,
				       size_t count)
{
	const struct mime_part *cur = NULL;
	for (size_t i = 0; i < count; i++) {
		cur = mime_part_step(root, cur, nums[i]);
		if (cur == NULL)
			return NULL;
	}
	return cur == NULL ? root : cur;
}

const struct mime_part *mime_part_find_section(const struct mime_part *root, const char *section,
					       size_t len)
{
	const struct mime_part *cur = NULL;
	size_t i = 0;
	if (len == 0)
		return root;
	while (i < len) {
		uint64_t n = 0;
		size_t st = i;
		while (i < len && section[i] >= '0' && section[i] <= '9') {
			n = n * 10 + (uint64_t)(section[i] - '0');
			if (n > UINT32_MAX)
				return NULL;
			i++;
		}
		if (i == st || section[st] == '0')
			return NULL; /* empty number or leading zero (nz-number) */
		if (i < len) {
			if (section[i] != '.' || i + 1 == len)
				return NULL;
			i++;
		}
		cur = mime_part_step(root, cur, (uint32_t)n);
		if (cur == NULL)
			return NULL;
	}
	return cur;
}

int mime_part_filename(const struct mime_part *part, struct buf *out)
{
	const struct mime_param *fn = NULL;
	if (part->disposition != NULL)
		fn = mime_params_find(&part->disposition_params, "filename");
	if (fn == NULL)
		fn = mime_params_find(&part->params, "name");
	if (fn == NULL)
		return 0;
	if (fn->extended)
		return buf_append(out, fn->value, fn->value_len) < 0 ? -1 : 1;
	return rfc2047_decode(out, fn->value, fn->value_len, NULL) < 0 ? -1 : 1;
}

const char *mime_part_charset(const struct mime_part *part)
{
	const struct mime_param *cs = mime_params_find(&part->params, "charset");
	return cs != NULL ? cs->value : "us-ascii";
}
