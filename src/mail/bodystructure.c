/* bodystructure.c: BODY / BODYSTRUCTURE rendering from a mime.h tree.
 * Traps: a multipart's children are written back to back with no space ("1*body"); the
 * body-type-msg "body" is the embedded message's own structure; extension data comes in a
 * fixed order and is always complete here; RFC 2231 values are re-encoded, never emitted as
 * raw 8-bit under a "name*" parameter. */
#include "bodystructure.h"

#include <string.h>

#include "lib/xmalloc.h"
#include "mail/envelope.h"
#include "mail/mail-string.h"

static int bs_value(struct buf *out, const struct mime_value *v)
{
	return mail_string_append_nstring(out, v->data, v->len);
}

static bool bs_attribute_char(unsigned char c)
{
	/* RFC 2231 attribute-char: token characters except "*", "'", "%" */
	return mime_is_token_char(c) && c != '*' && c != '\'' && c != '%';
}

static int bs_extended_value(struct buf *out, struct buf *tmp, const struct mime_param *p)
{
	static const char hex[] = "0123456789ABCDEF";
	buf_reset(tmp);
	if (buf_append_str(tmp, "utf-8'") < 0 || buf_append_str(tmp, p->language) < 0 ||
	    buf_append_byte(tmp, '\'') < 0)
		return -1;
	const unsigned char *v = (const unsigned char *)p->value;
	for (size_t i = 0; i < p->value_len; i++) {
		int r;
		if (bs_attribute_char(v[i])) {
			r = buf_append_byte(tmp, v[i]);
		} else {
			char e[3] = { '%', hex[v[i] >> 4], hex[v[i] & 15] };
			r = buf_append(tmp, e, 3);
		}
		if (r < 0)
			return -1;
	}
	return mail_string_append(out, tmp->data, tmp->len);
}

static int bs_params(struct buf *out, struct buf *tmp, const struct mime_params *params)
{
	if (params->count == 0)
		return buf_append(out, "NIL", 3);
	if (buf_append_byte(out, '(') < 0)
		return -1;
	for (unsigned int i = 0; i < params->count; i++) {
		const struct mime_param *p = &params->items[i];
		if (i > 0 && buf_append_byte(out, ' ') < 0)
			return -1;
		if (p->extended) {
			buf_reset(tmp);
			if (buf_append(tmp, p->name, p->name_len) < 0 ||
			    buf_append_byte(tmp, '*') < 0 ||
			    mail_string_append(out, tmp->data, tmp->len) < 0 ||
			    buf_append_byte(out, ' ') < 0 || bs_extended_value(out, tmp, p) < 0)
				return -1;
		} else if (mail_string_append(out, p->name, p->name_len) < 0 ||
			   buf_append_byte(out, ' ') < 0 ||
			   mail_string_append(out, p->value, p->value_len) < 0) {
			return -1;
		}
	}
	return buf_append_byte(out, ')');
}

static int bs_str(struct buf *out, const char *s)
{
	return mail_string_append(out, s, strlen(s));
}

/* body-fld-dsp SP body-fld-lang SP body-fld-loc */
static int bs_dsp_lang_loc(struct buf *out, struct buf *tmp, const struct mime_part *part)
{
	if (part->disposition == NULL) {
		if (buf_append(out, "NIL", 3) < 0)
			return -1;
	} else if (buf_append_byte(out, '(') < 0 || bs_str(out, part->disposition) < 0 ||
		   buf_append_byte(out, ' ') < 0 ||
		   bs_params(out, tmp, &part->disposition_params) < 0 ||
		   buf_append_byte(out, ')') < 0) {
		return -1;
	}
	if (buf_append_byte(out, ' ') < 0)
		return -1;
	if (part->language_count == 0) {
		if (buf_append(out, "NIL", 3) < 0)
			return -1;
	} else {
		if (buf_append_byte(out, '(') < 0)
			return -1;
		for (unsigned int i = 0; i < part->language_count; i++) {
			if ((i > 0 && buf_append_byte(out, ' ') < 0) ||
			    bs_str(out, part->languages[i]) < 0)
				return -1;
		}
		if (buf_append_byte(out, ')') < 0)
			return -1;
	}
	if (buf_append_byte(out, ' ') < 0)
		return -1;
	return bs_value(out, &part->location);
}

struct bs_ctx {
	struct buf *out;
	struct buf tmp;
	struct pool *pool;
	const unsigned char *msg;
	unsigned int flags;
};

static int bs_body(struct bs_ctx *ctx, const struct mime_part *part)
{
	struct buf *out = ctx->out;
	bool ext = (ctx->flags & BODYSTRUCTURE_EXTENDED) != 0;

	if (buf_append_byte(out, '(') < 0)
		return -1;
	if ((part->flags & MIME_PART_FLAG_MULTIPART) != 0) {
		for (const struct mime_part *c = part->children; c != NULL; c = c->next) {
			if (bs_body(ctx, c) < 0)
				return -1;
		}
		if (buf_append_byte(out, ' ') < 0 || bs_str(out, part->subtype) < 0)
			return -1;
		if (ext && (buf_append_byte(out, ' ') < 0 ||
			    bs_params(out, &ctx->tmp, &part->params) < 0 ||
			    buf_append_byte(out, ' ') < 0 || bs_dsp_lang_loc(out, &ctx->tmp, part) < 0))
			return -1;
		return buf_append_byte(out, ')');
	}

	/* body-type-1part: media SP body-fields */
	const char *enc = part->encoding != NULL ? part->encoding : "7bit";
	if (bs_str(out, part->type) < 0 || buf_append_byte(out, ' ') < 0 ||
	    bs_str(out, part->subtype) < 0 || buf_append_byte(out, ' ') < 0 ||
	    bs_params(out, &ctx->tmp, &part->params) < 0 || buf_append_byte(out, ' ') < 0 ||
	    bs_value(out, &part->id) < 0 || buf_append_byte(out, ' ') < 0 ||
	    bs_value(out, &part->description) < 0 || buf_append_byte(out, ' ') < 0 ||
	    bs_str(out, enc) < 0 || buf_printf(out, " %zu", part->body_size) < 0)
		return -1;

	bool msg = (part->flags & MIME_PART_FLAG_RFC822) != 0 && part->children != NULL &&
		   !((ctx->flags & BODYSTRUCTURE_REV1) != 0 &&
		     (part->flags & MIME_PART_FLAG_GLOBAL) != 0);
	if (msg) {
		/* body-type-msg: ... SP envelope SP body SP body-fld-lines */
		const struct mime_part *m = part->children;
		if (buf_append_byte(out, ' ') < 0 ||
		    envelope_render(out, ctx->pool, ctx->msg + m->header_offset, m->header_size) < 0 ||
		    buf_append_byte(out, ' ') < 0 || bs_body(ctx, m) < 0 ||
		    buf_printf(out, " %llu", (unsigned long long)part->body_lines) < 0)
			return -1;
	} else if ((part->flags & MIME_PART_FLAG_TEXT) != 0) {
		if (buf_printf(out, " %llu", (unsigned long long)part->body_lines) < 0)
			return -1;
	}
	if (ext && (buf_append_byte(out, ' ') < 0 || bs_value(out, &part->md5) < 0 ||
		    buf_append_byte(out, ' ') < 0 || bs_dsp_lang_loc(out, &ctx->tmp, part) < 0))
		return -1;
	return buf_append_byte(out, ')');
}

int bodystructure_render(struct buf *out, struct pool *pool, const void *msg,
			 const struct mime_part *part, unsigned int flags)
{
	struct bs_ctx ctx = { .out = out, .pool = pool, .msg = msg, .flags = flags };
	size_t start = out->len;
	buf_init(&ctx.tmp, (size_t)-1 / 2);
	int r = bs_body(&ctx, part);
	buf_free(&ctx.tmp);
	if (r < 0) {
		mail_string_truncate(out, start);
		return -1;
	}
	return 0;
}

bool bodystructure_needs_rev1_variant(const struct mime_part *root)
{
	if ((root->flags & MIME_PART_FLAG_GLOBAL) != 0)
		return true;
	for (const struct mime_part *c = root->children; c != NULL; c = c->next) {
		if (bodystructure_needs_rev1_variant(c))
			return true;
	}
	return false;
}
