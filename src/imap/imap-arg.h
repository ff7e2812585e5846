/* imap-arg.h: strict validation of parsed IMAP arguments against RFC 9051 section 9, and the
 * writers that put strings into responses.
 *
 * The parser (imap-parser.h) is lexically lenient where one token must serve several grammar
 * rules (an atom may hold "\", "%", "*", "]" and a bracketed section); commands use these
 * helpers to accept exactly what the ABNF allows for each argument.
 *
 * Getters return true and fill the out-parameters on success; on false the out-parameters are
 * left untouched. Returned pointers point into the argument (the command's pool) and live as
 * long as it does. Strings carry their length: a literal may hold any byte except NUL (the
 * parser refuses NUL in a literal), a literal8 may hold NUL too.
 *
 * Writers append to a struct buf and return 0, or -1 when the buffer's maximum would be passed;
 * on -1 the buffer is unchanged (nothing partial is ever written). */
#ifndef KURA_IMAP_ARG_H
#define KURA_IMAP_ARG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/imap-parser.h"
#include "lib/buf.h"

/* atom = 1*ATOM-CHAR. NIL is not an atom here (it has type IMAP_ARG_NIL and str NULL), nor is
 * anything with "\", "%", "*", "]" or a bracketed section. */
bool imap_arg_is_atom(const struct imap_arg *arg);
/* arg is an atom (as imap_arg_is_atom) equal to name, compared case-insensitively (ASCII). */
bool imap_arg_atom_equals(const struct imap_arg *arg, const char *name);
/* arg is NIL (any case, never a quoted "NIL"). */
bool imap_arg_is_nil(const struct imap_arg *arg);

/* astring = 1*ASTRING-CHAR / string. An atom made of ASTRING-CHARs (the atom NIL included,
 * returned as sent), a quoted string or a literal (not literal8). */
bool imap_arg_get_astring(const struct imap_arg *arg, const char **str_r, size_t *len_r);
/* string = quoted / literal (not literal8). */
bool imap_arg_get_string(const struct imap_arg *arg, const char **str_r, size_t *len_r);
/* nstring = string / nil. NIL gives *str_r NULL and *len_r 0. */
bool imap_arg_get_nstring(const struct imap_arg *arg, const char **str_r, size_t *len_r);
/* list-mailbox = 1*list-char / string: like astring, but "%" and "*" are allowed in the atom. */
bool imap_arg_get_list_mailbox(const struct imap_arg *arg, const char **str_r, size_t *len_r);
/* A literal; literal8 ("~{n}") too when allow_literal8 (APPEND with BINARY, RFC 3516), with
 * *literal8_r telling which (literal8_r may be NULL). */
bool imap_arg_get_literal(const struct imap_arg *arg, bool allow_literal8, const char **str_r,
			  size_t *len_r, bool *literal8_r);
/* flag = "\" atom / atom (system flags, flag-extension, flag-keyword). The result includes
 * the backslash. "\*" (flag-perm) is not a flag. */
bool imap_arg_get_flag(const struct imap_arg *arg, const char **str_r);
/* A parenthesised list: its elements and their number (elements NULL when count is 0). */
bool imap_arg_get_list(const struct imap_arg *arg, const struct imap_arg **list_r,
		       size_t *count_r);

/* Numbers are atoms of digits only (no sign, no spaces; leading zeros allowed as 1*DIGIT says).
 * number = 1*DIGIT, 0 <= n < 2^32 */
bool imap_arg_get_number(const struct imap_arg *arg, uint32_t *num_r);
/* nz-number = digit-nz *DIGIT, 0 < n < 2^32 (no leading zero) */
bool imap_arg_get_nz_number(const struct imap_arg *arg, uint32_t *num_r);
/* number64 = 1*DIGIT, 0 <= n <= 2^63 - 1 */
bool imap_arg_get_number64(const struct imap_arg *arg, uint64_t *num_r);
/* The same checks on raw text (str need not be NUL-terminated). */
bool imap_parse_number(const char *str, size_t len, uint32_t *num_r);
bool imap_parse_nz_number(const char *str, size_t len, uint32_t *num_r);
bool imap_parse_number64(const char *str, size_t len, uint64_t *num_r);

/* A string for a response: quoted when every byte is 7-bit TEXT-CHAR (DQUOTE and "\" escaped),
 * which is valid for IMAP4rev1 and IMAP4rev2 clients alike; otherwise a synchronising-style
 * literal "{len}" CRLF + bytes (8-bit, CR, LF). NUL cannot be sent in any IMAP string: -1. */
int imap_append_quoted_or_literal(struct buf *b, const char *s, size_t len);
/* As above, but well-formed UTF-8 also goes quoted (RFC 9051 QUOTED-CHAR UTF8-2/3/4): only for
 * IMAP4rev2 sessions or after ENABLE UTF8=ACCEPT. */
int imap_append_quoted_or_literal_utf8(struct buf *b, const char *s, size_t len);
/* astring: a bare atom when s is non-empty, all ASTRING-CHARs and not "NIL" in any case (so no
 * client mistakes it for NIL); else as imap_append_quoted_or_literal. */
int imap_append_astring(struct buf *b, const char *s, size_t len);
/* nstring: NIL for s == NULL, else as imap_append_quoted_or_literal. */
int imap_append_nstring(struct buf *b, const char *s, size_t len);

#endif
