/* lmtp-parser.h: LMTP command lines (RFC 2033 on RFC 5321 4.1) into verbs, paths and
 * parameters, and recipient addresses into user-name candidates and a detail. Pure functions:
 * no I/O; strings are allocated from the caller's pool (the per-command pool of the session).
 *
 * Command lines end in CRLF; a bare LF is accepted as the end of a command line (RFC 5321
 * 2.3.8 lets a server be lenient here; it matters only inside DATA, where lmtp-data.h is
 * strict). A line with a NUL byte is a syntax error.
 *
 * Paths (RFC 5321 4.1.2): "<" [source route ":"] mailbox ">", the source route ignored
 * (4.1.1.3 requires accepting it). Local parts are a dot-string (dots are taken as they come:
 * real senders use "a..b" and trailing dots, and refusing them would bounce mail the MTA already
 * accepted) or a quoted string; with RFC 6531 both may hold UTF-8 (the parser records that it
 * saw non-ASCII; whether SMTPUTF8 was declared is the session's business). A path is at most
 * LMTP_PATH_MAX bytes. Errors carry the reply that RFC 5321/RFC 3463 give for them.
 *
 * Return convention: 0 parsed, -1 refused with *err_r filled (reply code, enhanced status
 * code, text; all static). */
#ifndef KURA_LMTP_PARSER_H
#define KURA_LMTP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/pool.h"

/* A command line, without its CRLF. RFC 5321 4.5.3.1.4 asks for at least 512 (+10 with
 * SMTPUTF8, RFC 6531 3.1); long SIZE/BODY/VERP-style paths fit easily in this. */
#define LMTP_LINE_MAX 2048
/* Longest path between the angle brackets (RFC 5321 4.5.3.1.3 says 256; SRS and VERP senders
 * go past it in practice, so a little slack). */
#define LMTP_PATH_MAX 512
/* Longest LHLO argument kept (it goes into the Received header). */
#define LMTP_HELO_MAX 255

enum lmtp_verb {
	LMTP_CMD_UNKNOWN = 0,
	LMTP_CMD_LHLO,
	LMTP_CMD_HELO,
	LMTP_CMD_EHLO,
	LMTP_CMD_MAIL,
	LMTP_CMD_RCPT,
	LMTP_CMD_DATA,
	LMTP_CMD_BDAT,
	LMTP_CMD_RSET,
	LMTP_CMD_NOOP,
	LMTP_CMD_QUIT,
	LMTP_CMD_VRFY,
	LMTP_CMD_EXPN,
	LMTP_CMD_HELP,
	LMTP_CMD_STARTTLS,
	LMTP_CMD_AUTH,
};

/* A refusal: what to answer. */
struct lmtp_error {
	unsigned code;       /* 500, 501, 553, 555 ... */
	const char *enh;     /* "5.5.4" */
	const char *text;
};

/* Find the end of the first line in data[0..len). 1: a line of *line_len_r <= max bytes
 * (without its CRLF or LF), *consumed_r bytes including the line end; 0: no line end yet and
 * the line may still fit; -1: the line is longer than max bytes (the caller skips to the next
 * LF and answers 500). */
int lmtp_line_next(const unsigned char *data, size_t len, size_t max, size_t *line_len_r,
		   size_t *consumed_r);

struct lmtp_cmd {
	enum lmtp_verb verb;
	const char *args; /* after the verb and its separating space(s); "" if none */
};
/* Split a line (NUL-terminated, line_len bytes) into verb and arguments. Verbs are
 * case-insensitive; an unknown verb is LMTP_CMD_UNKNOWN (not an error here). -1 only for a
 * line holding NUL or other control characters (500 5.5.2). */
int lmtp_cmd_parse(const char *line, size_t line_len, struct lmtp_cmd *cmd_r,
		   struct lmtp_error *err_r);

struct lmtp_path {
	const char *addr;   /* the mailbox as sent (local@domain), "" for the null path <> */
	const char *local;  /* the local part, quoting removed */
	const char *domain; /* the domain, NULL for the special recipient <postmaster> */
	bool utf8;          /* non-ASCII bytes in the path (valid UTF-8: checked) */
};

enum lmtp_body { LMTP_BODY_NONE = 0, LMTP_BODY_7BIT, LMTP_BODY_8BITMIME };

struct lmtp_mail_params {
	bool has_size;
	uint64_t size;      /* SIZE= (RFC 1870) */
	enum lmtp_body body; /* BODY= (RFC 6152); BINARYMIME is refused: no CHUNKING */
	bool smtputf8;      /* SMTPUTF8 (RFC 6531 3.4) */
};

/* "FROM:<path> [params]" (the arguments of MAIL). The null path is allowed. */
int lmtp_parse_mail(struct pool *pool, const char *args, struct lmtp_path *path_r,
		    struct lmtp_mail_params *params_r, struct lmtp_error *err_r);
/* "TO:<path> [params]" (the arguments of RCPT). <postmaster> without a domain is allowed
 * (RFC 5321 4.1.1.3); no parameter is supported (no DSN is offered, so no ORCPT/NOTIFY). */
int lmtp_parse_rcpt(struct pool *pool, const char *args, struct lmtp_path *path_r,
		    struct lmtp_error *err_r);

/* The user names a recipient may belong to, in the order to try them: the whole address, the
 * local part, then (when the local part holds one of the delimiter characters) the same two
 * with "+detail" removed. Duplicates are left out. detail is set for the candidates from
 * index detail_from on. delimiters: each byte is a delimiter (Postfix's recipient_delimiter);
 * "" or NULL: no detail. */
#define LMTP_NAMES_MAX 4
struct lmtp_rcpt_names {
	const char *names[LMTP_NAMES_MAX];
	unsigned count;
	unsigned detail_from; /* == count when there is no detail */
	const char *detail;   /* NULL when none */
};
void lmtp_rcpt_names(struct pool *pool, const struct lmtp_path *path, const char *delimiters,
		     struct lmtp_rcpt_names *names_r);

/* An LHLO argument made safe for a header: printable ASCII only (others become '?'), at most
 * LMTP_HELO_MAX bytes; "" stays "". */
const char *lmtp_helo_sanitize(struct pool *pool, const char *arg);

/* 1 if s[0..len) is valid UTF-8 (RFC 3629: no overlongs, no surrogates, <= U+10FFFF). */
bool lmtp_utf8_valid(const unsigned char *s, size_t len);

#endif
