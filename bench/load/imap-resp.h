/* imap-resp.h: the load generator's reader of IMAP server responses (RFC 9051 section 7).
 *
 * Two stages, neither of which touches a socket:
 *
 * - The reader frames one response at a time out of the bytes fed to it: a line ending in
 *   CRLF, or several lines joined by literals ("{n}" CRLF and then exactly n bytes, also
 *   "~{n}" for literal8). It keeps the text outside literals (at most `max_text` bytes) with
 *   the "{n}" CRLF markers in place, and for every literal its exact length and an FNV-1a
 *   64-bit hash of its bytes; the bytes themselves are kept only when the literal is at most
 *   `keep_max` long, so a 50 MB BODY[] costs no memory. A bare LF, a text line over the limit
 *   or a literal over IMAP_RESP_LITERAL_MAX is an error: the server broke the protocol.
 * - The parser turns a framed response into a struct imap_resp: tagged, untagged or
 *   continuation, the response name, the response code of status responses and a tree of
 *   values (atoms, quoted strings, literals, NIL, lists). Everything it returns lives in the
 *   pool passed to it and stays valid until that pool is cleared and, for literal data, until
 *   imap_resp_reader_next() is called.
 *
 * Return convention: 1 done, 0 needs more input, -1 error with a static or pool message in
 * *error_r. */
#ifndef KURA_LOAD_IMAP_RESP_H
#define KURA_LOAD_IMAP_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

struct pool;

#define IMAP_RESP_LITERAL_MAX (1024u * 1024 * 1024) /* 1 GiB: far above any APPENDLIMIT */
#define IMAP_RESP_LITS_MAX 4096                      /* literals in one response */
#define IMAP_RESP_DEPTH_MAX 64                       /* nesting of parenthesised lists */

struct imap_resp_lit {
	size_t len;
	uint64_t hash;        /* FNV-1a 64 of the bytes */
	unsigned char *data;  /* the bytes (len, NUL-terminated) when len <= keep_max, else NULL */
};

struct imap_resp_reader {
	struct buf text;                /* text of the response so far, without literal bytes */
	struct imap_resp_lit *lits;
	size_t lit_count, lit_alloc;
	size_t lit_left;                /* bytes of the current literal still to come; */
	bool in_literal;                /* in_literal is true while they come */
	size_t keep_max;
	size_t line_start;              /* offset in text where the current line segment began */
	bool complete;                  /* a whole response is framed and not yet released */
};

void imap_resp_reader_init(struct imap_resp_reader *r, size_t max_text, size_t keep_max);
/* Frees everything the reader holds; it can be initialised again. */
void imap_resp_reader_free(struct imap_resp_reader *r);

/* Feed len bytes. Returns 1 when a complete response is framed (*used_r bytes were consumed,
 * possibly fewer than len: feed the rest after imap_resp_reader_next), 0 when all bytes were
 * consumed and more are needed, -1 on a protocol violation. */
int imap_resp_reader_feed(struct imap_resp_reader *r, const unsigned char *data, size_t len,
			  size_t *used_r, const char **error_r);
/* Release the framed response and start the next one. Storage is freed, so a reader between
 * responses holds no memory. */
void imap_resp_reader_next(struct imap_resp_reader *r);
/* true while part of a response has been fed but it is not complete. */
bool imap_resp_reader_partial(const struct imap_resp_reader *r);

uint64_t imap_resp_hash(uint64_t hash, const unsigned char *p, size_t n);
#define IMAP_RESP_HASH_INIT 0xcbf29ce484222325ULL

enum imap_val_type {
	IMAP_VAL_ATOM,    /* includes numbers, flags (\Seen) and section names (BODY[1]<0>) */
	IMAP_VAL_STRING,  /* quoted string, unescaped */
	IMAP_VAL_LITERAL,
	IMAP_VAL_NIL,
	IMAP_VAL_LIST,
};

struct imap_val {
	enum imap_val_type type;
	const char *str;        /* ATOM/STRING: NUL-terminated text (pool); LITERAL: the kept
				 * bytes (valid until imap_resp_reader_next) or NULL */
	size_t len;             /* ATOM/STRING/LITERAL: length; LIST: element count */
	uint64_t hash;          /* LITERAL: FNV-1a 64 of the bytes */
	struct imap_val *list;            /* LIST: the first element */
	struct imap_val *next;
};

enum imap_resp_kind { IMAP_RESP_TAGGED, IMAP_RESP_UNTAGGED, IMAP_RESP_CONT };

struct imap_resp {
	enum imap_resp_kind kind;
	const char *tag;        /* TAGGED */
	bool has_num;           /* "* 12 FETCH ...": num = 12 */
	uint32_t num;
	const char *name;       /* uppercase: OK NO BAD BYE PREAUTH FETCH EXISTS CAPABILITY ... */
	bool is_status;         /* OK/NO/BAD/BYE/PREAUTH: code and text are set, args is NULL */
	const char *code;       /* the response code's name in uppercase, or NULL */
	const char *code_args;  /* the rest of the code up to "]", "" if none */
	const char *text;       /* status and continuation text ("" if none) */
	struct imap_val *args;  /* other untagged responses: the values after the name */
};

/* Parse the framed response of r. The literals are taken from r in order; the result
 * points into pool and into r's literal data. */
int imap_resp_parse(const struct imap_resp_reader *r, struct pool *pool, struct imap_resp *resp,
		    const char **error_r);

/* Helpers for values. */
bool imap_val_is(const struct imap_val *v, const char *atom);  /* ATOM equal, case-insensitive */
bool imap_val_u32(const struct imap_val *v, uint32_t *n_r);    /* ATOM that is a number < 2^32 */
bool imap_val_u64(const struct imap_val *v, uint64_t *n_r);
/* STRING or LITERAL (and NIL when nil_ok): its length, and its hash. */
bool imap_val_nstring(const struct imap_val *v, bool nil_ok, size_t *len_r, uint64_t *hash_r);
/* A non-negative decimal number of at most 10 digits in s[0..n) that fits in 32 bits. */
bool imap_resp_u32(const char *s, size_t n, uint32_t *n_r);

#endif
