/* address.c: lenient RFC 5322 address-list parser.
 * The value is cut into tokens first (atoms, quoted strings, comments, domain literals and the
 * specials < > @ , ; : .), then read with a forgiving grammar. Traps: an addr-spec followed by
 * "<" was really a display name, so the parser looks ahead before it commits; unterminated
 * quotes, comments and literals run to the end of the value; nested comments are counted, not
 * recursed into, so a value of 100,000 "(" costs no stack; tokens are kept for one list
 * element at a time (bounded), so a 20 MB To: costs no more than its addresses. */
#include "address.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/xmalloc.h"

enum addr_tok_type { ADDR_ATOM, ADDR_QUOTED, ADDR_COMMENT, ADDR_LITERAL, ADDR_SPECIAL };

/* At most this many tokens are looked at for one list element; an element that long (only
 * garbage is) is read in pieces. Memory stays bounded whatever the header size. */
#define ADDR_ELEMENT_MAX_TOKENS 1024

struct addr_tok {
	size_t start, end;   /* raw bytes, delimiters included */
	unsigned char type;  /* enum addr_tok_type */
	unsigned char ch;    /* ADDR_SPECIAL */
	bool ws_before;      /* whitespace or a comment before it */
};

struct addr_ctx {
	struct pool *pool;
	const unsigned char *s;
	size_t len;
	/* a window of tokens: the current list element and some lookahead */
	struct addr_tok toks[ADDR_ELEMENT_MAX_TOKENS];
	size_t ntoks;
	size_t tpos;  /* tokenizer position in s */
	bool tws;     /* whitespace seen since the last token */
	struct buf scratch;
	struct mail_address *head, **tail;
};

static bool addr_is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool addr_is_special(unsigned char c)
{
	return c == '<' || c == '>' || c == '@' || c == ',' || c == ';' || c == ':' || c == '.';
}

static bool addr_is_atom(unsigned char c)
{
	return !addr_is_ws(c) && !addr_is_special(c) && c != '(' && c != ')' && c != '"' &&
	       c != '[';
}

/* End of a delimited token starting at i (s[i] is the opener). */
static size_t addr_skip_delimited(const unsigned char *s, size_t len, size_t i, unsigned char open,
				  unsigned char close, bool nests)
{
	size_t depth = 1;
	for (i++; i < len; i++) {
		if (s[i] == '\\') {
			i++;
			continue;
		}
		if (nests && s[i] == open) {
			depth++;
		} else if (s[i] == close && --depth == 0) {
			return i + 1;
		}
	}
	return len;
}

/* The next token from ctx->tpos into *t: false at the end of the value. */
static bool addr_next_token(struct addr_ctx *ctx, struct addr_tok *t)
{
	const unsigned char *s = ctx->s;
	size_t len = ctx->len, i = ctx->tpos;
	while (i < len && (addr_is_ws(s[i]) || s[i] == ')')) { /* a stray ")" reads as space */
		ctx->tws = true;
		i++;
	}
	if (i >= len) {
		ctx->tpos = len;
		return false;
	}
	unsigned char c = s[i];
	t->ws_before = ctx->tws;
	t->start = i;
	t->ch = 0;
	if (c == '(') {
		t->type = ADDR_COMMENT;
		i = addr_skip_delimited(s, len, i, '(', ')', true);
	} else if (c == '"') {
		t->type = ADDR_QUOTED;
		i = addr_skip_delimited(s, len, i, '"', '"', false);
	} else if (c == '[') {
		t->type = ADDR_LITERAL;
		i = addr_skip_delimited(s, len, i, '[', ']', false);
	} else if (addr_is_special(c)) {
		t->type = ADDR_SPECIAL;
		t->ch = c;
		i++;
	} else {
		t->type = ADDR_ATOM;
		while (i < len && addr_is_atom(s[i]))
			i++;
	}
	t->end = i > len ? len : i;
	ctx->tpos = t->end;
	ctx->tws = t->type == ADDR_COMMENT;
	return true;
}

/* Make sure token k is in the window, pulling tokens as needed: false if the value ends
 * first, or if k is past the window's capacity (an element of more than
 * ADDR_ELEMENT_MAX_TOKENS tokens, which only garbage has, is then read in pieces). */
static bool addr_have(struct addr_ctx *ctx, size_t k)
{
	if (k >= ADDR_ELEMENT_MAX_TOKENS)
		return false;
	while (ctx->ntoks <= k) {
		if (!addr_next_token(ctx, &ctx->toks[ctx->ntoks]))
			return false;
		ctx->ntoks++;
	}
	return true;
}

/* Drop the first n tokens of the window (they have been parsed). */
static void addr_consume(struct addr_ctx *ctx, size_t n)
{
	if (n >= ctx->ntoks) {
		ctx->ntoks = 0;
		return;
	}
	memmove(ctx->toks, ctx->toks + n, (ctx->ntoks - n) * sizeof(ctx->toks[0]));
	ctx->ntoks -= n;
}

/* Append the content of a quoted string or comment with its delimiters and quoting removed. */
static void addr_append_unquoted(struct addr_ctx *ctx, const struct addr_tok *t)
{
	const unsigned char *s = ctx->s;
	size_t a = t->start + 1, b = t->end;
	/* drop the closing delimiter if the token has one */
	if (b > a && b - 1 >= a && ((t->type == ADDR_QUOTED && s[b - 1] == '"') ||
				    (t->type == ADDR_COMMENT && s[b - 1] == ')'))) {
		/* only if it is not an escaped one */
		size_t bs = 0;
		for (size_t k = b - 1; k > a && s[k - 1] == '\\'; k--)
			bs++;
		if (bs % 2 == 0)
			b--;
	}
	for (size_t i = a; i < b; i++) {
		if (s[i] == '\\' && i + 1 < b)
			i++;
		if (s[i] == '\r' || s[i] == '\n')
			continue; /* folding inside a quoted string */
		buf_append_byte(&ctx->scratch, s[i]);
	}
}

enum addr_text_mode {
	ADDR_TEXT_PHRASE, /* words joined by one space where the input had space */
	ADDR_TEXT_TIGHT,  /* local-part, domain, route: whitespace and comments dropped */
};

/* Text of tokens [k0, k1), comments skipped, into a pool string. NULL for no text. */
static const char *addr_text(struct addr_ctx *ctx, size_t k0, size_t k1, enum addr_text_mode mode,
			     bool keep_empty, size_t *len_r)
{
	buf_reset(&ctx->scratch);
	bool any = false;
	for (size_t k = k0; k < k1; k++) {
		const struct addr_tok *t = &ctx->toks[k];
		if (t->type == ADDR_COMMENT)
			continue;
		if (mode == ADDR_TEXT_PHRASE && any && t->ws_before)
			buf_append_byte(&ctx->scratch, ' ');
		any = true;
		if (t->type == ADDR_QUOTED) {
			addr_append_unquoted(ctx, t);
		} else if (t->type == ADDR_LITERAL) {
			for (size_t i = t->start; i < t->end; i++) {
				if (!addr_is_ws(ctx->s[i]))
					buf_append_byte(&ctx->scratch, ctx->s[i]);
			}
		} else {
			buf_append(&ctx->scratch, ctx->s + t->start, t->end - t->start);
		}
	}
	if (!any && !keep_empty)
		return NULL;
	*len_r = ctx->scratch.len;
	return pool_memdup(ctx->pool, ctx->scratch.len ? (const char *)ctx->scratch.data : "",
			   ctx->scratch.len);
}

/* The first non-empty comment in [k0, k1) as a display name, or NULL. */
static const char *addr_comment_name(struct addr_ctx *ctx, size_t k0, size_t k1, size_t *len_r)
{
	for (size_t k = k0; k < k1; k++) {
		const struct addr_tok *t = &ctx->toks[k];
		if (t->type != ADDR_COMMENT)
			continue;
		buf_reset(&ctx->scratch);
		addr_append_unquoted(ctx, t);
		size_t a = 0, b = ctx->scratch.len;
		while (a < b && addr_is_ws(ctx->scratch.data[a]))
			a++;
		while (b > a && addr_is_ws(ctx->scratch.data[b - 1]))
			b--;
		if (a == b)
			continue;
		*len_r = b - a;
		return pool_memdup(ctx->pool, ctx->scratch.data + a, b - a);
	}
	return NULL;
}

static bool addr_tok_is(struct addr_ctx *ctx, size_t k, unsigned char ch)
{
	return addr_have(ctx, k) && ctx->toks[k].type == ADDR_SPECIAL && ctx->toks[k].ch == ch;
}

static bool addr_tok_in(struct addr_ctx *ctx, size_t k, const char *set)
{
	return addr_have(ctx, k) && ctx->toks[k].type == ADDR_SPECIAL &&
	       strchr(set, ctx->toks[k].ch) != NULL;
}

/* First token at or after k that is a special in set, or the number of tokens left. */
static size_t addr_find(struct addr_ctx *ctx, size_t k, const char *set)
{
	while (addr_have(ctx, k) && !addr_tok_in(ctx, k, set))
		k++;
	return k < ctx->ntoks ? k : ctx->ntoks;
}

static struct mail_address *addr_emit(struct addr_ctx *ctx, enum mail_address_type type)
{
	struct mail_address *a = pool_alloc(ctx->pool, sizeof(*a));
	a->type = type;
	*ctx->tail = a;
	ctx->tail = &a->next;
	return a;
}

/* Parse "<" [route ":"] addr-spec ">" starting after the "<" at k; fills a; returns the
 * index after the angle address. */
static size_t addr_parse_angle(struct addr_ctx *ctx, size_t k, struct mail_address *a)
{
	if (addr_tok_is(ctx, k, '@')) {
		/* obs-route = obs-domain-list ":", and the list holds commas */
		size_t colon = addr_find(ctx, k, ":>;<");
		if (addr_tok_is(ctx, colon, ':')) {
			a->route = addr_text(ctx, k, colon, ADDR_TEXT_TIGHT, false, &a->route_len);
			k = colon + 1;
		}
	}
	size_t close = addr_find(ctx, k, ">,;<");
	size_t at = addr_find(ctx, k, "@>,;<:");
	a->mailbox = addr_text(ctx, k, at < close ? at : close, ADDR_TEXT_TIGHT, true,
			       &a->mailbox_len);
	if (addr_tok_is(ctx, at, '@') && at < close) {
		size_t dend = addr_find(ctx, at + 1, "@>,;<:");
		a->domain = addr_text(ctx, at + 1, dend, ADDR_TEXT_TIGHT, false, &a->domain_len);
		if (a->domain != NULL && a->domain_len == 0)
			a->domain = NULL;
	}
	return addr_tok_is(ctx, close, '>') ? close + 1 : close;
}

static void addr_emit_mailbox(struct addr_ctx *ctx, struct mail_address *tmp)
{
	if (tmp->mailbox_len == 0 && tmp->domain == NULL && tmp->name == NULL && tmp->route == NULL)
		return; /* "<>" and other nothing */
	struct mail_address *a = addr_emit(ctx, MAIL_ADDRESS_MAILBOX);
	struct mail_address *next = a->next;
	*a = *tmp;
	a->type = MAIL_ADDRESS_MAILBOX;
	a->next = next;
	if (a->mailbox == NULL) {
		a->mailbox = "";
		a->mailbox_len = 0;
	}
	if (a->name != NULL && a->name_len == 0)
		a->name = NULL; /* '"" <a@b>': no display name */
	if (a->route != NULL && a->route_len == 0)
		a->route = NULL;
}

/* One mailbox or group start at k; returns the index to continue at. */
static size_t addr_parse_one(struct addr_ctx *ctx, size_t k, bool *in_group)
{
	size_t j = addr_find(ctx, k, "<:@,;>");
	struct mail_address tmp;
	memset(&tmp, 0, sizeof(tmp));

	if (addr_tok_is(ctx, j, ':')) {
		if (*in_group)
			return addr_find(ctx, j + 1, ",;");
		struct mail_address *g = addr_emit(ctx, MAIL_ADDRESS_GROUP_START);
		g->mailbox = addr_text(ctx, k, j, ADDR_TEXT_PHRASE, true, &g->mailbox_len);
		*in_group = true;
		return j + 1;
	}
	if (addr_tok_is(ctx, j, '<')) {
		tmp.name = addr_text(ctx, k, j, ADDR_TEXT_PHRASE, false, &tmp.name_len);
		size_t after = addr_parse_angle(ctx, j + 1, &tmp);
		size_t sep = addr_find(ctx, after, ",;");
		if (tmp.name == NULL)
			tmp.name = addr_comment_name(ctx, after, sep, &tmp.name_len);
		addr_emit_mailbox(ctx, &tmp);
		return sep;
	}
	if (addr_tok_is(ctx, j, '@')) {
		size_t dend = addr_find(ctx, j + 1, "<>@,;:");
		if (addr_tok_is(ctx, dend, '<')) {
			/* "a@b <c@d>": the addr-spec was the display name */
			tmp.name = addr_text(ctx, k, dend, ADDR_TEXT_PHRASE, false, &tmp.name_len);
			size_t after = addr_parse_angle(ctx, dend + 1, &tmp);
			size_t sep = addr_find(ctx, after, ",;");
			addr_emit_mailbox(ctx, &tmp);
			return sep;
		}
		tmp.mailbox = addr_text(ctx, k, j, ADDR_TEXT_TIGHT, true, &tmp.mailbox_len);
		tmp.domain = addr_text(ctx, j + 1, dend, ADDR_TEXT_TIGHT, false, &tmp.domain_len);
		if (tmp.domain != NULL && tmp.domain_len == 0)
			tmp.domain = NULL;
		size_t sep = addr_find(ctx, dend, ",;");
		tmp.name = addr_comment_name(ctx, k, sep, &tmp.name_len);
		addr_emit_mailbox(ctx, &tmp);
		return sep;
	}
	if (addr_tok_is(ctx, j, '>'))
		return j + 1; /* stray ">": drop what came before it */
	/* a bare word list up to "," / ";" / end: a local-part without a domain */
	tmp.mailbox = addr_text(ctx, k, j, ADDR_TEXT_TIGHT, false, &tmp.mailbox_len);
	if (tmp.mailbox == NULL)
		return j; /* only comments */
	tmp.name = addr_comment_name(ctx, k, j, &tmp.name_len);
	addr_emit_mailbox(ctx, &tmp);
	return j;
}

struct mail_address *mail_address_parse(struct pool *pool, const void *value, size_t len)
{
	struct addr_ctx *ctx = xcalloc(1, sizeof(*ctx));
	ctx->pool = pool;
	ctx->s = value;
	ctx->len = len;
	ctx->tail = &ctx->head;
	buf_init(&ctx->scratch, len + 1);

	bool in_group = false;
	while (addr_have(ctx, 0)) {
		size_t next;
		if (ctx->toks[0].type == ADDR_COMMENT && (!addr_have(ctx, 1) || addr_tok_in(ctx, 1, ",;"))) {
			next = 1; /* a lone comment between separators */
		} else if (addr_tok_is(ctx, 0, ',')) {
			next = 1;
		} else if (addr_tok_is(ctx, 0, ';')) {
			if (in_group) {
				addr_emit(ctx, MAIL_ADDRESS_GROUP_END);
				in_group = false;
			}
			next = 1;
		} else {
			next = addr_parse_one(ctx, 0, &in_group);
			if (next == 0)
				next = 1;
		}
		addr_consume(ctx, next);
	}
	if (in_group)
		addr_emit(ctx, MAIL_ADDRESS_GROUP_END);
	struct mail_address *head = ctx->head;
	buf_free(&ctx->scratch);
	free(ctx);
	return head;
}
