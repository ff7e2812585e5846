/* imap-parser.h: the lexical parser for IMAP commands (RFC 9051 section 9, RFC 3501 section 9,
 * RFC 7888 LITERAL+/LITERAL-, RFC 3516 literal8).
 *
 * The parser consumes bytes from a struct buf (the connection's input buffer) and never touches
 * a socket. It turns one command line (with its literals) into a tag, a command name and a tree
 * of arguments allocated from a caller-supplied pool (the per-command pool). It resumes where it
 * stopped when more bytes arrive, and enforces its limits without ever buffering more than
 * line_max bytes of non-literal input or more than the accepted literal size.
 *
 * Lexical rules (what the parser decides; commands validate meaning with imap-arg.h):
 * - tag: 1*<ASTRING-CHAR except "+">; command name: 1*ATOM-CHAR. One SP between elements.
 * - atom: a run of ATOM-CHARs, also allowing "\" as first char (flags), "%" "*" (list wildcards,
 *   sequence sets) and "]" (resp-specials, astring). An atom containing "[" takes everything up
 *   to the matching "]" verbatim, SP and parentheses included (BODY[HEADER.FIELDS (A B)]<0.10>).
 * - quoted string: DQUOTE *(QUOTED-CHAR / "\" quoted-specials) DQUOTE; the value has the escapes
 *   removed; 8-bit bytes are accepted (UTF-8 for IMAP4rev2/UTF8=ACCEPT; validity is the
 *   command's business); NUL, CR and LF are errors.
 * - literal: "{" number64 ["+"] "}" CRLF then exactly that many octets; NUL inside is an error.
 *   literal8: "~{" number64 ["+"] "}" CRLF, NUL allowed (flag literal8 set on the arg).
 * - NIL (any case) becomes IMAP_ARG_NIL; parenthesised lists nest up to list_depth_max.
 * - A line ends with CRLF; a bare LF is accepted as a line end too (lenient input). A CR not
 *   followed by LF is an error.
 *
 * - Strict spacing: exactly one SP between elements; a double space, a trailing space, a space
 *   after "(" or before ")" is an error.
 *
 * Return convention of imap_parser_next(): 1 a complete command is in *cmd_r (its bytes are
 * consumed); 0 more input is needed (check imap_parser_take_continuation()); -1 error, described
 * in *err_r. After an error the parser skips the rest of the offending command by itself (the
 * rest of the line, and a non-synchronising literal announced on it, discarding the bytes
 * without storing them), so the caller answers err_r and simply calls imap_parser_next() again.
 *
 * Input handling: every byte looked at is consumed from `in` (a partial token is kept inside the
 * parser, bounded by line_max), so `in` never needs to hold more than one read; after 1 the
 * bytes of the following commands stay in `in`.
 *
 * Errors: syntax errors are BAD without a code; line_max, list_depth_max and args_max give
 * BAD [LIMIT]. Literal sizes are number64 (up to 2^63 - 1, overflow-checked) and checked before
 * anything is allocated: a synchronising literal over the command's limit gives NO [TOOBIG]
 * and no continuation (the client sends nothing more of that command); a non-synchronising one
 * (or, with literal_minus, one over 4096 bytes) gives BAD [TOOBIG] and is read and discarded if
 * it is at most nonsync_skip_max bytes, else the error is fatal (RFC 7888 sections 4 and 5). If
 * the skipped rest of a failed command announces a non-synchronising literal too big to skip,
 * the next call returns that fatal error. A fatal error has fatal set (tag may be NULL): answer
 * "* BYE" and close; every later call returns it again until imap_parser_reset().
 *
 * Streamed literals: when the owner sets literal_sink_begin, each accepted literal is offered
 * to it first; one it takes is passed to literal_sink_write piece by piece as the bytes arrive
 * (never held by the parser) and becomes an IMAP_ARG_LITERAL_SINK argument that carries only
 * its size and the owner's reference. Every rule above still applies to it (size limits, NUL
 * outside literal8, the continuation, resuming). The owner keeps what the sink received until
 * the command is over: after imap_parser_next() returns 1 (the arguments refer to it) or -1,
 * and after imap_parser_reset(), nothing the parser streamed before is used again, and the next
 * command's first literal_sink_begin comes only after that. A sink that refuses a literal or
 * fails a write makes the command fail with NO [SERVERBUG] and the sink's message: a refusal
 * is answered like TOOBIG (a synchronising literal gets no continuation; a non-synchronising
 * one is read and discarded if it is at most nonsync_skip_max bytes, else the error is fatal);
 * after a failed write the rest of the literal is read and discarded and the error is
 * answered at its end, then the rest of the command is skipped as after any error.
 *
 * Memory: the arguments live in the pool; a line of one-byte atoms costs about 64 pool bytes
 * per 2 input bytes (imap_arg arrays grow by doubling), so the pool is bounded by about
 * 64 x line_max plus the accepted literals that were not streamed. The parser itself holds no
 * buffer between commands. */
#ifndef KURA_IMAP_PARSER_H
#define KURA_IMAP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/pool.h"

enum imap_arg_type {
	IMAP_ARG_NIL,
	IMAP_ARG_ATOM,
	IMAP_ARG_QUOTED,
	IMAP_ARG_LITERAL,
	IMAP_ARG_LIST,
	/* a literal streamed to the owner's sink (limits.literal_sink_begin): str is NULL, len
	 * its size, sink_ref the owner's reference; literal8 and nonsync as for LITERAL */
	IMAP_ARG_LITERAL_SINK,
};

struct imap_arg {
	enum imap_arg_type type;
	bool literal8;    /* "~{n}" */
	bool nonsync;     /* "{n+}" */
	/* ATOM, QUOTED, LITERAL: the bytes (NUL-terminated copy in the pool; may contain NUL only
	 * for literal8) and their length. NIL: str is NULL. LITERAL_SINK: str NULL, len set. */
	const char *str;
	size_t len;
	/* LIST: the elements (NULL when count is 0). */
	struct imap_arg *list;
	size_t count;
	/* (one of two, by type; a union keeps the node at 48 bytes: the parser's worst-case
	 * memory is counted in nodes) */
	union {
		/* NIL only: the atom as sent ("NIL", "nil", ...), because an astring such as a
		 * mailbox or a user name may legitimately be the atom NIL (imap_arg_get_astring
		 * reads it). */
		const char *nil_text;
		/* LITERAL_SINK only: what literal_sink_begin returned in *ref_r */
		uint64_t sink_ref;
	};
};

struct imap_parsed {
	const char *tag;  /* as sent */
	const char *name; /* as sent; compare case-insensitively */
	struct imap_arg *args; /* NULL when count is 0 */
	size_t count;
};

struct imap_parser_error {
	const char *tag;  /* NULL when the tag could not be read: answer "* BAD" */
	const char *resp; /* "BAD" or "NO" */
	const char *code; /* response code without brackets ("TOOBIG", "PARSE"), or NULL */
	const char *msg;  /* human-readable reason, static or in the pool */
	bool fatal;       /* the connection cannot continue: send "* BYE" and close */
};

struct imap_parser_limits {
	size_t line_max;          /* bytes of one command outside literals, CRLFs included
				     (default 65536); also the limit of imap_parser_read_line */
	unsigned list_depth_max;  /* nesting of parenthesised lists (default 32) */
	size_t args_max;          /* elements in one list or at top level (default 10000) */
	size_t nonsync_skip_max;  /* a too-big {n+} up to this size is read and discarded;
				     bigger ones are fatal (RFC 7888 section 4) */
	/* The largest literal accepted for a command, by its name (e.g. APPEND gets the append
	 * limit, everything else a small one). NULL: literal_max_default for everything. */
	size_t (*literal_max)(void *ctx, const char *command_name);
	void *literal_max_ctx;
	size_t literal_max_default;
	/* true: apply LITERAL- (a non-synchronising literal over 4096 bytes is refused). */
	bool literal_minus;
	/* Optional (NULL: every literal goes to the pool): stream literals to the owner instead
	 * (see "Streamed literals" above). literal_sink_begin is called for each literal of at
	 * least one byte once its size passed every limit, before the continuation is offered:
	 * 1 stream this one (*ref_r is the owner's reference, copied into the argument's
	 * sink_ref), 0 read it into the pool as usual, -1 refuse it (*error_r: why, printable
	 * ASCII; copied). literal_sink_write gets the literal's bytes in order, in pieces of any
	 * size: 0 taken, -1 failed (*error_r as above; no further bytes of this literal come). */
	int (*literal_sink_begin)(void *ctx, const char *command_name, uint64_t size,
				  uint64_t *ref_r, const char **error_r);
	int (*literal_sink_write)(void *ctx, const void *data, size_t size, const char **error_r);
	void *literal_sink_ctx;
};

struct imap_parser;

/* Character classes of RFC 9051 section 9 (also used by imap-arg.c). */
static inline bool imap_is_atom_char(unsigned char c)
{
	/* ATOM-CHAR: any CHAR except atom-specials ("(" ")" "{" SP CTL "%" "*" DQUOTE "\" "]") */
	if (c <= 0x20 || c >= 0x7f)
		return false;
	switch (c) {
	case '(': case ')': case '{': case '%': case '*': case '"': case '\\': case ']':
		return false;
	default:
		return true;
	}
}
static inline bool imap_is_astring_char(unsigned char c)
{
	return c == ']' || imap_is_atom_char(c);
}
static inline bool imap_is_tag_char(unsigned char c)
{
	return c != '+' && imap_is_astring_char(c);
}

/* Defaults: line_max 65536, list_depth_max 32, args_max 10000, nonsync_skip_max 65536,
 * literal_max NULL, literal_max_default 65536, literal_minus false, no literal sink. */
void imap_parser_limits_default(struct imap_parser_limits *limits);
struct imap_parser *imap_parser_create(const struct imap_parser_limits *limits);
void imap_parser_destroy(struct imap_parser **parser);

/* Forget any partly parsed command, a pending skip and a fatal error (used after STARTTLS and
 * on state changes). */
void imap_parser_reset(struct imap_parser *parser);

/* Parse the next command from in, consuming what it uses. Arguments are allocated from pool,
 * which must stay the same (and not be cleared) until 1 or -1 is returned; after that it may
 * be cleared, even while the parser still skips the rest of a failed command (a skip keeps
 * nothing in the pool). */
int imap_parser_next(struct imap_parser *parser, struct buf *in, struct pool *pool,
		     struct imap_parsed *cmd_r, struct imap_parser_error *err_r);

/* True once for each synchronising literal the parser has accepted and is waiting for: the
 * caller sends "+ ..." to the client. Not for "{n+}", nor when bytes after the literal's CRLF
 * were already there (the client did not wait). Call it after each imap_parser_next(). */
bool imap_parser_take_continuation(struct imap_parser *parser);

/* Read one raw line (AUTHENTICATE responses, IDLE's DONE): 1 with the line (without CRLF,
 * NUL-terminated copy in pool) in *line_r and *len_r, 0 need more, -1 too long (err_r set; the
 * rest of the line is skipped). The line may hold any byte (no literals are recognised); with
 * its CRLF it is at most line_max bytes. Call it only between commands (it aborts the process
 * in the middle of one); imap_parser_next() after a half-read raw line discards its rest. */
int imap_parser_read_line(struct imap_parser *parser, struct buf *in, struct pool *pool,
			  const char **line_r, size_t *len_r, struct imap_parser_error *err_r);

/* True while the parser is in the middle of a command (some of it consumed). */
bool imap_parser_busy(const struct imap_parser *parser);

#endif
