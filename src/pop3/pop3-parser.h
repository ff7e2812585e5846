/* pop3-parser.h: POP3 command lines (RFC 1939 3, RFC 2449 4) into a keyword and arguments,
 * message-number arguments, and the UIDL form of a message's identity. Pure functions: no I/O,
 * no allocation.
 *
 * Framing: a line ends in CRLF; a bare LF is accepted as the end too (clients that send LF
 * exist, and nothing in POP3 input is data that a lenient end could smuggle). A line holding
 * NUL or another control character (TAB excepted) is refused. Keywords are 3 or 4 letters,
 * case-insensitive (RFC 1939 3); arguments are separated by one or more spaces and are at
 * most 40 characters each, except that PASS takes the rest of the line (RFC 1939 7: a
 * password may hold spaces) and AUTH responses are whole lines.
 *
 * Return convention: as in lmtp-parser.h; 0 parsed, -1 refused with a static message. */
#ifndef KURA_POP3_PARSER_H
#define KURA_POP3_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* RFC 2449 4 allows clients 255 octets per command line with its CRLF; kura tolerates this
 * many bytes without the line end before it answers -ERR (the line is then skipped unstored). */
#define POP3_CMD_LINE_MAX 1024
/* A SASL response line (RFC 5034 4: not bound by the 255-octet limit); also the longest line
 * the session buffers at all. */
#define POP3_SASL_LINE_MAX 8192
#define POP3_ARG_MAX 40 /* RFC 1939 3: "each argument may be up to 40 characters long" */
#define POP3_ARGS_MAX 2
/* RFC 2449 6.3 (UIDL): 1 to 70 characters in the range 0x21 to 0x7E. */
#define POP3_UIDL_LEN 16

/* Find the end of the first line in data[0..len). 1: a line of *line_len_r <= max bytes
 * (without CRLF or LF) and *consumed_r bytes with its end; 0: no line end yet and the line may
 * still fit; -1: longer than max (the caller discards up to the next LF). */
int pop3_line_next(const unsigned char *data, size_t len, size_t max, size_t *line_len_r,
		   size_t *consumed_r);

struct pop3_cmd_line {
	char keyword[5];               /* upper-cased, NUL-terminated */
	const char *rest;              /* everything after the keyword and one space ("" if none) */
	size_t rest_len;
	const char *args[POP3_ARGS_MAX]; /* NUL-terminated copies in argbuf */
	unsigned arg_count;            /* how many space-separated arguments there were */
	bool args_bad;                 /* more than POP3_ARGS_MAX, or one over POP3_ARG_MAX */
	char argbuf[POP3_ARGS_MAX * (POP3_ARG_MAX + 1)];
};
/* Split line[0..len) into keyword and arguments. -1 with *error_r: control characters or a
 * keyword that is not 3-4 letters. Too many or too long arguments only set args_bad (PASS
 * uses rest instead; other commands refuse them). */
int pop3_cmd_parse(const char *line, size_t len, struct pop3_cmd_line *cmd_r,
		   const char **error_r);

/* A message number or line count: decimal digits only, no sign, value 1..UINT32_MAX for a
 * message number (zero_ok: 0 allowed, for TOP's line count). 0 or -1. */
int pop3_parse_number(const char *arg, bool zero_ok, uint32_t *n_r);

/* The unique-id listing of a message: "%08x%08x" of UIDVALIDITY and UID, lower-case hex, so
 * it is stable across sessions and restarts and never reused while UIDVALIDITY holds (RFC
 * 9051 2.3.1.1). out must hold POP3_UIDL_LEN + 1 bytes. */
void pop3_uidl(uint32_t uidvalidity, uint32_t uid, char *out);

#endif
