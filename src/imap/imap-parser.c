/* imap-parser.c: a resumable byte-at-a-time state machine for IMAP commands; partial tokens live
 * in p->token, never in the caller's buffer. Traps: a failed command's rest is discarded unstored,
 * yet a "{n+}" ending one of its lines still brings n bytes, so a tracker watches every structural
 * byte for it; a literal's size passes every limit before one byte of it is allocated (or before
 * it is offered to the owner's sink, which then gets the bytes as they pass). */
#include "imap-parser.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/xmalloc.h"

/* RFC 7888 section 5: with LITERAL-, "{n+}" is limited to 4096 bytes */
#define LITERAL_MINUS_MAX 4096
#define NUMBER64_MAX ((uint64_t)INT64_MAX)

enum parser_state {
	PS_IDLE,            /* nothing of a command read yet: the tag starts */
	PS_TAG,
	PS_NAME_START,      /* after "tag SP" */
	PS_NAME,
	PS_ELEM,            /* an element must start (after SP or "(") */
	PS_AFTER,           /* an element ended: SP, ")" or the line end follow */
	PS_ATOM,
	PS_ATOM_BRACKET,    /* inside "[...]" of an atom: taken verbatim */
	PS_ATOM_BRACKET_Q,  /* a quoted string inside the brackets */
	PS_ATOM_BRACKET_QESC,
	PS_TILDE,           /* "~": literal8 if "{" follows, else an atom */
	PS_QUOTED,
	PS_QUOTED_ESC,
	PS_LIT_SIZE,        /* after "{" */
	PS_LIT_CLOSE,       /* after "{n+", expecting "}" */
	PS_LIT_CRLF,        /* after "}" */
	PS_LIT_LF,          /* after "}" CR */
	PS_LIT_DATA,
	PS_LINE_LF,         /* CR at the end of the line, expecting LF */
	PS_RAW,             /* imap_parser_read_line in progress */
	PS_SKIP_LINE,       /* after an error: discard up to LF */
	PS_SKIP_LITERAL,    /* after an error: discard a "{n+}" literal's bytes */
	PS_FATAL,
};

enum elem_after { AFTER_SP, AFTER_OPEN };

/* The "{digits[+]}[CR]" tracker used to find non-synchronising literals in skipped lines. */
enum lit_track { TRK_NONE, TRK_DIGITS, TRK_PLUS, TRK_CLOSE, TRK_CR };

struct parser_level {
	struct parser_level *parent;
	struct imap_arg *items;
	size_t count, alloc;
};

struct imap_parser {
	struct imap_parser_limits limits;
	enum parser_state state;
	enum elem_after elem_after;
	struct pool *pool;       /* the command's pool, valid until 1 or -1 is returned */
	struct buf token;        /* the token being read; bounded by line_max */
	size_t line_len;         /* non-literal bytes of this command so far (CRLFs included) */
	const char *tag, *name;  /* in pool */
	struct parser_level *level; /* innermost open list; the root level is the argument list */
	unsigned depth;

	unsigned bracket_depth;

	uint64_t lit_size;
	bool lit_digits, lit_overflow, lit_nonsync, lit8, lit_nul;
	char *lit_data;          /* in pool, lit_size + 1 bytes; NULL when streamed */
	uint64_t lit_pos;
	bool lit_sink;           /* this literal goes to limits.literal_sink_write */
	uint64_t lit_sink_ref;
	const char *lit_sink_error; /* in pool: a write failed, the rest is discarded */
	bool cont_pending;       /* a synchronising literal was accepted and nothing came yet */

	enum lit_track trk;
	uint64_t trk_num;
	bool trk_digits, trk_overflow;
	bool skip_raw;           /* skipping a raw line: no literal tracking */
	uint64_t skip_left;      /* PS_SKIP_LITERAL */

	struct imap_parser_error err;
};

void imap_parser_limits_default(struct imap_parser_limits *limits)
{
	memset(limits, 0, sizeof(*limits));
	limits->line_max = 65536;
	limits->list_depth_max = 32;
	limits->args_max = 10000;
	limits->nonsync_skip_max = 65536;
	limits->literal_max = NULL;
	limits->literal_max_ctx = NULL;
	limits->literal_max_default = 65536;
	limits->literal_minus = false;
}

struct imap_parser *imap_parser_create(const struct imap_parser_limits *limits)
{
	struct imap_parser *p = xcalloc(1, sizeof(*p));
	p->limits = *limits;
	if (p->limits.line_max < 3)
		p->limits.line_max = 3; /* room for "a B" at least; 0 would refuse everything */
	buf_init(&p->token, p->limits.line_max);
	p->state = PS_IDLE;
	return p;
}

void imap_parser_destroy(struct imap_parser **parserp)
{
	struct imap_parser *p = *parserp;
	if (p == NULL)
		return;
	buf_free(&p->token);
	free(p);
	*parserp = NULL;
}

/* Forget the command in progress (its pool memory belongs to the caller). */
static void parser_command_clear(struct imap_parser *p)
{
	buf_free(&p->token);
	p->line_len = 0;
	p->tag = NULL;
	p->name = NULL;
	p->level = NULL;
	p->depth = 0;
	p->bracket_depth = 0;
	p->lit_data = NULL;
	p->lit_sink = false;
	p->lit_sink_error = NULL;
	p->cont_pending = false;
}

static void parser_track_reset(struct imap_parser *p)
{
	p->trk = TRK_NONE;
	p->trk_num = 0;
	p->trk_digits = false;
	p->trk_overflow = false;
}

void imap_parser_reset(struct imap_parser *p)
{
	parser_command_clear(p);
	parser_track_reset(p);
	p->state = PS_IDLE;
	p->skip_raw = false;
	p->skip_left = 0;
	memset(&p->err, 0, sizeof(p->err));
}

bool imap_parser_take_continuation(struct imap_parser *p)
{
	bool ret = p->cont_pending;
	p->cont_pending = false;
	return ret;
}

bool imap_parser_busy(const struct imap_parser *p)
{
	return p->state != PS_IDLE;
}

/* Feed one structural byte to the literal tracker. */
static void parser_track(struct imap_parser *p, unsigned char c)
{
	switch (p->trk) {
	case TRK_DIGITS:
		if (c >= '0' && c <= '9') {
			if (p->trk_num > (NUMBER64_MAX - (uint64_t)(c - '0')) / 10)
				p->trk_overflow = true;
			else
				p->trk_num = p->trk_num * 10 + (uint64_t)(c - '0');
			p->trk_digits = true;
			return;
		}
		if (c == '+' && p->trk_digits) {
			p->trk = TRK_PLUS;
			return;
		}
		break;
	case TRK_PLUS:
		if (c == '}') {
			p->trk = TRK_CLOSE;
			return;
		}
		break;
	case TRK_CLOSE:
		if (c == '\r') {
			p->trk = TRK_CR;
			return;
		}
		break;
	case TRK_NONE:
	case TRK_CR:
		break;
	}
	parser_track_reset(p);
	if (c == '{')
		p->trk = TRK_DIGITS;
}

/* Record an error; the current byte is not consumed and goes to the skipper. Returns -1. */
static int parser_fail(struct imap_parser *p, const char *resp, const char *code, const char *msg)
{
	p->err.tag = p->tag;
	p->err.resp = resp;
	p->err.code = code;
	p->err.msg = msg;
	p->err.fatal = false;
	parser_command_clear(p);
	p->state = PS_SKIP_LINE;
	p->skip_raw = false;
	return -1;
}

static int parser_fatal(struct imap_parser *p, const char *code, const char *msg)
{
	p->err.tag = p->tag;
	p->err.resp = "BAD";
	p->err.code = code;
	p->err.msg = msg;
	p->err.fatal = true;
	parser_command_clear(p);
	p->state = PS_FATAL;
	return -1;
}

static int parser_fail_bad(struct imap_parser *p, const char *msg)
{
	return parser_fail(p, "BAD", NULL, msg);
}

/* "Invalid character 'x' in atom", with non-printable bytes in hex (never echoed raw). */
static int parser_fail_char(struct imap_parser *p, unsigned char c, const char *what)
{
	const char *msg;
	if (c > 0x20 && c < 0x7f)
		msg = pool_printf(p->pool, "Invalid character '%c' in %s", c, what);
	else if (c >= 0x80)
		msg = pool_printf(p->pool, "Invalid 8-bit character 0x%02X in %s (only allowed in "
				  "quoted strings and literals)", c, what);
	else
		msg = pool_printf(p->pool, "Invalid control character 0x%02X in %s", c, what);
	return parser_fail_bad(p, msg);
}

static int parser_token_add(struct imap_parser *p, unsigned char c)
{
	/* cannot fail while line_len <= line_max, but never trust that silently */
	if (buf_append_byte(&p->token, c) < 0)
		return parser_fail(p, "BAD", "LIMIT", "Line too long");
	return 0;
}

static const char *parser_token_dup(struct imap_parser *p)
{
	const char *s = pool_memdup(p->pool, p->token.data != NULL ? (const char *)p->token.data : "",
				    p->token.len);
	buf_reset(&p->token);
	return s;
}

static void parser_level_add(struct imap_parser *p, const struct imap_arg *arg)
{
	struct parser_level *l = p->level;
	if (l->count == l->alloc) {
		size_t n = l->alloc != 0 ? l->alloc * 2 : 4;
		struct imap_arg *items = pool_alloc_array(p->pool, n, sizeof(*items));
		if (l->count > 0)
			memcpy(items, l->items, l->count * sizeof(*items));
		l->items = items;
		l->alloc = n;
	}
	l->items[l->count++] = *arg;
}

static void parser_level_push(struct imap_parser *p)
{
	struct parser_level *l = pool_alloc(p->pool, sizeof(*l));
	l->parent = p->level;
	p->level = l;
}

static void parser_name_done(struct imap_parser *p)
{
	p->name = parser_token_dup(p);
	parser_level_push(p); /* the root level: the command's arguments */
}

static void parser_atom_done(struct imap_parser *p)
{
	struct imap_arg arg;
	memset(&arg, 0, sizeof(arg));
	if (p->token.len == 3 && strncasecmp((const char *)p->token.data, "NIL", 3) == 0) {
		arg.type = IMAP_ARG_NIL;
		arg.nil_text = parser_token_dup(p);
	} else {
		arg.type = IMAP_ARG_ATOM;
		arg.len = p->token.len;
		arg.str = parser_token_dup(p);
	}
	parser_level_add(p, &arg);
}

static void parser_quoted_done(struct imap_parser *p)
{
	struct imap_arg arg;
	memset(&arg, 0, sizeof(arg));
	arg.type = IMAP_ARG_QUOTED;
	arg.len = p->token.len;
	arg.str = parser_token_dup(p);
	parser_level_add(p, &arg);
}

static void parser_literal_done(struct imap_parser *p)
{
	struct imap_arg arg;
	memset(&arg, 0, sizeof(arg));
	arg.type = p->lit_sink ? IMAP_ARG_LITERAL_SINK : IMAP_ARG_LITERAL;
	arg.literal8 = p->lit8;
	arg.nonsync = p->lit_nonsync;
	arg.str = p->lit_data;
	arg.len = (size_t)p->lit_size;
	arg.sink_ref = p->lit_sink ? p->lit_sink_ref : 0;
	p->lit_data = NULL;
	p->lit_sink = false;
	parser_level_add(p, &arg);
	p->state = PS_AFTER;
}

static int parser_list_open(struct imap_parser *p)
{
	if (p->depth >= p->limits.list_depth_max)
		return parser_fail(p, "BAD", "LIMIT", "Too deeply nested lists");
	parser_level_push(p);
	p->depth++;
	p->state = PS_ELEM;
	p->elem_after = AFTER_OPEN;
	return 0;
}

static void parser_list_close(struct imap_parser *p)
{
	struct parser_level *l = p->level;
	struct imap_arg arg;
	memset(&arg, 0, sizeof(arg));
	arg.type = IMAP_ARG_LIST;
	arg.list = l->count > 0 ? l->items : NULL;
	arg.count = l->count;
	p->level = l->parent;
	p->depth--;
	/* the parent's room was checked when the list opened */
	parser_level_add(p, &arg);
	p->state = PS_AFTER;
}

/* The LF ending the command line was seen (and is being consumed). */
static int parser_line_end(struct imap_parser *p, struct imap_parsed *cmd_r)
{
	if (p->depth > 0)
		return parser_fail_bad(p, "Missing ')'");
	cmd_r->tag = p->tag;
	cmd_r->name = p->name;
	cmd_r->args = NULL;
	cmd_r->count = 0;
	if (p->level != NULL && p->level->count > 0) {
		cmd_r->args = p->level->items;
		cmd_r->count = p->level->count;
	}
	parser_command_clear(p);
	p->state = PS_IDLE;
	return 1;
}

static int parser_literal_begin(struct imap_parser *p, bool literal8)
{
	p->lit8 = literal8;
	p->lit_size = 0;
	p->lit_digits = false;
	p->lit_overflow = false;
	p->lit_nonsync = false;
	p->lit_nul = false;
	p->lit_sink = false;
	p->lit_sink_error = NULL;
	p->state = PS_LIT_SIZE;
	return 0;
}

/* "{n}" CRLF or "{n+}" CRLF was read (the LF is the current byte): check the size against
 * every limit, then allocate exactly the literal and start reading it. */
static int parser_literal_accept(struct imap_parser *p)
{
	const char *why = NULL;
	uint64_t n = p->lit_size;
	size_t limit = p->limits.literal_max != NULL
			       ? p->limits.literal_max(p->limits.literal_max_ctx, p->name)
			       : p->limits.literal_max_default;

	if (p->lit_overflow)
		why = "Literal size too large";
	else if (p->lit_nonsync && p->limits.literal_minus && n > LITERAL_MINUS_MAX)
		why = "Non-synchronizing literal larger than 4096 bytes (LITERAL-): "
		      "send it as a synchronizing literal";
	else if (n > (uint64_t)limit || n >= (uint64_t)SIZE_MAX)
		why = pool_printf(p->pool, "Literal too big (at most %zu bytes for this command)",
				  limit);
	if (why != NULL) {
		if (!p->lit_nonsync) {
			/* the client waits for "+": no continuation, and it sends nothing more */
			return parser_fail(p, "NO", "TOOBIG", why);
		}
		if (p->lit_overflow || n > (uint64_t)p->limits.nonsync_skip_max) {
			/* RFC 7888 section 4: too big to read and throw away */
			return parser_fatal(p, "TOOBIG", why);
		}
		/* RFC 7888 section 5: tagged BAD [TOOBIG]; the tracker saw "{n+}" CRLF, so the
		 * skipper discards the n bytes and the rest of the command */
		return parser_fail(p, "BAD", "TOOBIG", why);
	}

	p->lit_pos = 0;
	if (n > 0 && p->limits.literal_sink_begin != NULL) {
		const char *error = NULL;
		uint64_t ref = 0;
		int ret = p->limits.literal_sink_begin(p->limits.literal_sink_ctx, p->name, n, &ref,
						       &error);
		if (ret < 0) {
			why = pool_printf(p->pool, "Cannot take the literal: %s",
					  error != NULL ? error : "refused");
			/* answered as TOOBIG is: the client sends no more, or we discard it */
			if (!p->lit_nonsync)
				return parser_fail(p, "NO", "SERVERBUG", why);
			if (n > (uint64_t)p->limits.nonsync_skip_max)
				return parser_fatal(p, "SERVERBUG", why);
			return parser_fail(p, "NO", "SERVERBUG", why);
		}
		if (ret > 0) {
			p->lit_sink = true;
			p->lit_sink_ref = ref;
		}
	}
	if (!p->lit_sink)
		p->lit_data = pool_alloc(p->pool, (size_t)n + 1);
	if (!p->lit_nonsync)
		p->cont_pending = true;
	if (n == 0)
		parser_literal_done(p);
	else
		p->state = PS_LIT_DATA;
	return 0;
}

/* Process one byte outside literal data. 0: consumed; 1: consumed, the command is complete;
 * -1: error, the byte is NOT consumed (the skipper takes it). */
static int parser_byte(struct imap_parser *p, unsigned char c, struct imap_parsed *cmd_r)
{
	if (c == '\0')
		return parser_fail_bad(p, "NUL byte in command line");
	if (++p->line_len > p->limits.line_max)
		return parser_fail(p, "BAD", "LIMIT", "Line too long");

again:
	switch (p->state) {
	case PS_IDLE:
		if (c == '\r' || c == '\n')
			return parser_fail_bad(p, "Empty command");
		if (c == ' ')
			return parser_fail_bad(p, "Missing tag");
		if (c == '{')
			return parser_fail_bad(p, "A literal cannot be a tag");
		if (!imap_is_tag_char(c))
			return parser_fail_char(p, c, "tag");
		p->state = PS_TAG;
		return parser_token_add(p, c);
	case PS_TAG:
		if (c == ' ') {
			p->tag = parser_token_dup(p);
			p->state = PS_NAME_START;
			return 0;
		}
		if (c == '\r' || c == '\n') {
			p->tag = parser_token_dup(p);
			return parser_fail_bad(p, "Missing command name");
		}
		if (!imap_is_tag_char(c))
			return parser_fail_char(p, c, "tag");
		return parser_token_add(p, c);
	case PS_NAME_START:
		if (c == ' ')
			return parser_fail_bad(p, "Double space after tag");
		if (c == '\r' || c == '\n')
			return parser_fail_bad(p, "Missing command name");
		if (c == '{')
			return parser_fail_bad(p, "A literal cannot be a command name");
		if (!imap_is_atom_char(c))
			return parser_fail_char(p, c, "command name");
		p->state = PS_NAME;
		return parser_token_add(p, c);
	case PS_NAME:
		if (c == ' ') {
			parser_name_done(p);
			p->state = PS_ELEM;
			p->elem_after = AFTER_SP;
			return 0;
		}
		if (c == '\r') {
			parser_name_done(p);
			p->state = PS_LINE_LF;
			return 0;
		}
		if (c == '\n') {
			parser_name_done(p);
			return parser_line_end(p, cmd_r);
		}
		if (!imap_is_atom_char(c))
			return parser_fail_char(p, c, "command name");
		return parser_token_add(p, c);
	case PS_ELEM:
		if (c == ' ')
			return parser_fail_bad(p, p->elem_after == AFTER_SP ? "Double space"
									 : "Unexpected space after '('");
		if (c == '\r' || c == '\n')
			return parser_fail_bad(p, p->elem_after == AFTER_SP ? "Trailing space"
									 : "Missing ')'");
		if (c == ')') {
			if (p->depth == 0)
				return parser_fail_bad(p, "Unexpected ')'");
			if (p->elem_after == AFTER_SP)
				return parser_fail_bad(p, "Unexpected space before ')'");
			parser_list_close(p);
			return 0;
		}
		if (p->level->count >= p->limits.args_max)
			return parser_fail(p, "BAD", "LIMIT", "Too many arguments");
		switch (c) {
		case '(':
			return parser_list_open(p);
		case '"':
			p->state = PS_QUOTED;
			return 0;
		case '{':
			return parser_literal_begin(p, false);
		case '~':
			p->state = PS_TILDE;
			return parser_token_add(p, c);
		case '\\':
			/* flags: "\Seen"; a backslash is allowed only here */
			p->state = PS_ATOM;
			return parser_token_add(p, c);
		default:
			p->state = PS_ATOM;
			goto again;
		}
	case PS_TILDE:
		if (c == '{') {
			buf_reset(&p->token);
			return parser_literal_begin(p, true);
		}
		p->state = PS_ATOM;
		goto again;
	case PS_ATOM:
		if (c == ' ' || c == ')' || c == '\r' || c == '\n') {
			parser_atom_done(p);
			p->state = PS_AFTER;
			goto again;
		}
		if (c == '[') {
			/* BODY[HEADER.FIELDS (A B)]<0.10> is one atom, brackets taken verbatim */
			p->bracket_depth = 1;
			p->state = PS_ATOM_BRACKET;
			return parser_token_add(p, c);
		}
		if (!imap_is_atom_char(c) && c != '%' && c != '*' && c != ']')
			return parser_fail_char(p, c, "atom");
		return parser_token_add(p, c);
	case PS_ATOM_BRACKET:
		if (c == '\r' || c == '\n')
			return parser_fail_bad(p, "Missing ']'");
		if (c == '"') {
			p->state = PS_ATOM_BRACKET_Q;
		} else if (c == '[') {
			p->bracket_depth++;
		} else if (c == ']') {
			if (--p->bracket_depth == 0)
				p->state = PS_ATOM;
		} else if (c < 0x20 || c >= 0x7f) {
			return parser_fail_char(p, c, "atom");
		}
		return parser_token_add(p, c);
	case PS_ATOM_BRACKET_Q:
		if (c == '\r' || c == '\n')
			return parser_fail_bad(p, "Missing closing quote");
		if (c == '\\')
			p->state = PS_ATOM_BRACKET_QESC;
		else if (c == '"')
			p->state = PS_ATOM_BRACKET;
		return parser_token_add(p, c);
	case PS_ATOM_BRACKET_QESC:
		if (c == '\r' || c == '\n')
			return parser_fail_bad(p, "Missing closing quote");
		if (c != '"' && c != '\\')
			return parser_fail_bad(p, "Invalid escape in quoted string (only \\\\ and \\\" "
						  "are allowed)");
		p->state = PS_ATOM_BRACKET_Q;
		return parser_token_add(p, c);
	case PS_QUOTED:
		if (c == '"') {
			parser_quoted_done(p);
			p->state = PS_AFTER;
			return 0;
		}
		if (c == '\\') {
			p->state = PS_QUOTED_ESC;
			return 0;
		}
		if (c == '\r' || c == '\n')
			return parser_fail_bad(p, "Missing closing quote");
		/* TEXT-CHAR (CTLs other than CR and LF included) and 8-bit (UTF-8 for
		 * IMAP4rev2; its validity is the command's business) */
		return parser_token_add(p, c);
	case PS_QUOTED_ESC:
		if (c == '\r' || c == '\n')
			return parser_fail_bad(p, "Missing closing quote");
		/* RFC 9051 QUOTED-CHAR: "\" escapes only quoted-specials */
		if (c != '"' && c != '\\')
			return parser_fail_bad(p, "Invalid escape in quoted string (only \\\\ and \\\" "
						  "are allowed)");
		p->state = PS_QUOTED;
		return parser_token_add(p, c);
	case PS_LIT_SIZE:
		if (c >= '0' && c <= '9') {
			if (p->lit_size > (NUMBER64_MAX - (uint64_t)(c - '0')) / 10)
				p->lit_overflow = true; /* keep reading: "+" decides what to do */
			else
				p->lit_size = p->lit_size * 10 + (uint64_t)(c - '0');
			p->lit_digits = true;
			return 0;
		}
		if ((c == '+' || c == '}') && !p->lit_digits)
			return parser_fail_bad(p, "Missing literal size");
		if (c == '+') {
			p->lit_nonsync = true;
			p->state = PS_LIT_CLOSE;
			return 0;
		}
		if (c == '}') {
			p->state = PS_LIT_CRLF;
			return 0;
		}
		return parser_fail_bad(p, "Invalid literal size");
	case PS_LIT_CLOSE:
		if (c != '}')
			return parser_fail_bad(p, "Expected '}' after '+' in literal size");
		p->state = PS_LIT_CRLF;
		return 0;
	case PS_LIT_CRLF:
		if (c == '\r') {
			p->state = PS_LIT_LF;
			return 0;
		}
		if (c == '\n')
			return parser_literal_accept(p);
		return parser_fail_bad(p, "Missing CRLF after literal size");
	case PS_LIT_LF:
		if (c != '\n')
			return parser_fail_bad(p, "CR not followed by LF");
		return parser_literal_accept(p);
	case PS_AFTER:
		if (c == ' ') {
			p->state = PS_ELEM;
			p->elem_after = AFTER_SP;
			return 0;
		}
		if (c == ')') {
			if (p->depth == 0)
				return parser_fail_bad(p, "Unexpected ')'");
			parser_list_close(p);
			return 0;
		}
		if (c == '\r') {
			p->state = PS_LINE_LF;
			return 0;
		}
		if (c == '\n')
			return parser_line_end(p, cmd_r);
		return parser_fail_bad(p, "Missing space between arguments");
	case PS_LINE_LF:
		if (c != '\n')
			return parser_fail_bad(p, "CR not followed by LF");
		return parser_line_end(p, cmd_r);
	case PS_LIT_DATA:
	case PS_RAW:
	case PS_SKIP_LINE:
	case PS_SKIP_LITERAL:
	case PS_FATAL:
		break;
	}
	xabort("imap_parser: byte in an unexpected state");
}

/* A piece of a streamed literal to the owner; after a failure the rest is discarded. */
static void parser_sink_write(struct imap_parser *p, const unsigned char *data, size_t n)
{
	const char *error = NULL;
	if (p->limits.literal_sink_write(p->limits.literal_sink_ctx, data, n, &error) < 0)
		p->lit_sink_error = pool_printf(p->pool, "Cannot store the literal: %s",
						error != NULL ? error : "write failed");
}

static bool parser_state_quoted(enum parser_state s)
{
	return s == PS_QUOTED || s == PS_QUOTED_ESC || s == PS_ATOM_BRACKET_Q ||
	       s == PS_ATOM_BRACKET_QESC;
}

/* Parse from data[*pos]: 1 a command is complete, 0 all input used, -1 error (state is then
 * a skip state or PS_FATAL). */
static int parser_parse(struct imap_parser *p, const unsigned char *data, size_t len, size_t *pos,
			struct imap_parsed *cmd_r)
{
	while (*pos < len) {
		/* any byte after an accepted literal header means the client did not wait */
		p->cont_pending = false;
		if (p->state == PS_LIT_DATA) {
			size_t n = len - *pos;
			if ((uint64_t)n > p->lit_size - p->lit_pos)
				n = (size_t)(p->lit_size - p->lit_pos);
			if (!p->lit_sink)
				memcpy(p->lit_data + p->lit_pos, data + *pos, n);
			else if (p->lit_sink_error == NULL)
				parser_sink_write(p, data + *pos, n);
			if (!p->lit8 && !p->lit_nul && memchr(data + *pos, 0, n) != NULL)
				p->lit_nul = true;
			p->lit_pos += n;
			*pos += n;
			if (p->lit_pos < p->lit_size)
				continue;
			if (p->lit_nul) {
				/* RFC 9051 CHAR8 excludes NUL; literal8 exists for that */
				return parser_fail_bad(p, "NUL byte in literal (use literal8 for "
							  "binary data)");
			}
			if (p->lit_sink_error != NULL) {
				/* the whole literal was read (the client had to send it), so the
				 * rest of the command is skipped from here as after any error */
				return parser_fail(p, "NO", "SERVERBUG", p->lit_sink_error);
			}
			parser_literal_done(p);
			continue;
		}
		unsigned char c = data[*pos];
		enum parser_state old = p->state;
		int ret = parser_byte(p, c, cmd_r);
		if (ret < 0)
			return -1;
		(*pos)++;
		if (parser_state_quoted(old) || parser_state_quoted(p->state))
			parser_track_reset(p);
		else
			parser_track(p, c);
		if (ret > 0)
			return 1;
	}
	return 0;
}

/* Discard the rest of a failed command. 1 done (state PS_IDLE), 0 all input used, -1 fatal. */
static int parser_skip(struct imap_parser *p, const unsigned char *data, size_t len, size_t *pos)
{
	while (*pos < len) {
		if (p->state == PS_SKIP_LITERAL) {
			size_t n = len - *pos;
			if ((uint64_t)n > p->skip_left)
				n = (size_t)p->skip_left;
			*pos += n;
			p->skip_left -= n;
			if (p->skip_left == 0)
				p->state = PS_SKIP_LINE; /* then the rest of the command line */
			continue;
		}
		if (p->skip_raw) {
			const unsigned char *lf = memchr(data + *pos, '\n', len - *pos);
			if (lf == NULL) {
				*pos = len;
				return 0;
			}
			*pos = (size_t)(lf - data) + 1;
			p->skip_raw = false;
			p->state = PS_IDLE;
			return 1;
		}
		unsigned char c = data[(*pos)++];
		if (c != '\n') {
			parser_track(p, c);
			continue;
		}
		bool nonsync = p->trk == TRK_CLOSE || p->trk == TRK_CR;
		uint64_t n = p->trk_num;
		bool overflow = p->trk_overflow;
		parser_track_reset(p);
		if (!nonsync) {
			p->state = PS_IDLE;
			return 1;
		}
		/* "{n+}" CRLF: the client sends n bytes whatever we answer (RFC 7888) */
		if (overflow || n > (uint64_t)p->limits.nonsync_skip_max)
			return parser_fatal(p, "TOOBIG", "Non-synchronizing literal too large");
		p->skip_left = n;
		p->state = n > 0 ? PS_SKIP_LITERAL : PS_SKIP_LINE;
	}
	return 0;
}

static bool parser_skipping(const struct imap_parser *p)
{
	return p->state == PS_SKIP_LINE || p->state == PS_SKIP_LITERAL;
}

static void parser_fatal_error(struct imap_parser *p, struct imap_parser_error *err_r)
{
	*err_r = p->err;
	p->err.tag = NULL; /* the pool it lives in may be cleared after this return */
}

int imap_parser_next(struct imap_parser *p, struct buf *in, struct pool *pool,
		     struct imap_parsed *cmd_r, struct imap_parser_error *err_r)
{
	const unsigned char *data = in->data;
	size_t len = in->len, pos = 0;
	int ret = 0;

	if (p->state == PS_FATAL) {
		parser_fatal_error(p, err_r);
		return -1;
	}
	if (p->state == PS_RAW) {
		/* the caller gave up on a raw line half-read: its rest is no command */
		parser_command_clear(p);
		p->state = PS_SKIP_LINE;
		p->skip_raw = true;
	}
	p->pool = pool;
	if (parser_skipping(p)) {
		ret = parser_skip(p, data, len, &pos);
		if (ret < 0) {
			buf_consume(in, pos);
			parser_fatal_error(p, err_r);
			return -1;
		}
	}
	ret = 0;
	if (!parser_skipping(p))
		ret = parser_parse(p, data, len, &pos, cmd_r);
	if (ret < 0) {
		if (p->state == PS_FATAL) {
			parser_fatal_error(p, err_r);
		} else {
			/* discard what is already here of the failed command, so a following
			 * command is parsed on the next call. If the skipped part turns out to be
			 * fatal (a huge "{n+}"), that is reported by the next call: the transcript
			 * must not depend on how the input was split. */
			*err_r = p->err;
			(void)parser_skip(p, data, len, &pos);
		}
	}
	buf_consume(in, pos);
	return ret;
}

int imap_parser_read_line(struct imap_parser *p, struct buf *in, struct pool *pool,
			  const char **line_r, size_t *len_r, struct imap_parser_error *err_r)
{
	const unsigned char *data = in->data;
	size_t len = in->len, pos = 0;

	if (p->state == PS_FATAL) {
		parser_fatal_error(p, err_r);
		return -1;
	}
	p->pool = pool;
	if (parser_skipping(p)) {
		int ret = parser_skip(p, data, len, &pos);
		if (ret <= 0) {
			buf_consume(in, pos);
			if (ret < 0)
				parser_fatal_error(p, err_r);
			return ret;
		}
	}
	if (p->state != PS_IDLE && p->state != PS_RAW)
		xabort("imap_parser_read_line called in the middle of a command");
	if (pos == len) {
		buf_consume(in, pos);
		return 0;
	}

	const unsigned char *lf = memchr(data + pos, '\n', len - pos);
	size_t end = lf != NULL ? (size_t)(lf - data) + 1 : len;
	size_t n = end - pos;
	/* line_max counts the line with its CRLF */
	if (n > p->limits.line_max - p->line_len) {
		parser_fail(p, "BAD", "LIMIT", "Line too long");
		p->skip_raw = true;
		(void)parser_skip(p, data, len, &pos);
		buf_consume(in, pos);
		*err_r = p->err;
		return -1;
	}
	if (buf_append(&p->token, data + pos, n) < 0)
		xabort("imap_parser_read_line: token buffer");
	p->line_len += n;
	p->state = PS_RAW;
	buf_consume(in, end);
	if (lf == NULL)
		return 0;

	size_t l = p->token.len - 1; /* without the LF */
	if (l > 0 && p->token.data[l - 1] == '\r')
		l--;
	*line_r = pool_memdup(pool, p->token.data, l);
	*len_r = l;
	parser_command_clear(p);
	p->state = PS_IDLE;
	return 1;
}
